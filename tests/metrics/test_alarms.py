"""Alarms (engine.alarms): CloudWatch's rules on the engine's clock, history, actions, the boto3 shapes and errors."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import socket
import threading

import pytest
from conftest import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream import throttle
from shardstream.errors import (
    AlarmNotFoundException,
    InvalidFormatException,
    InvalidNextTokenException,
    InvalidParameterCombinationException,
    InvalidParameterValueException,
    MissingRequiredParameterException,
)
from shardstream.metrics.alarm_rules import decide

T0 = 1_700_000_040  # seconds: a whole minute, so periods of 60 s start here
S0 = "shardId-000000000000"
STREAM = [{"Name": "StreamName", "Value": "s"}]


@pytest.fixture
def engine_on_clock():
    clock = FakeClock(T0 * 1000)
    engine = shardstream.Engine(clock=clock)
    engine.catalog.sampler.stop()  # the test samples and evaluates; no thread does it behind its back
    yield clock, engine
    engine.close()


def alarm(engine, name="a", **kw):
    request = {
        "AlarmName": name,
        "Namespace": "test",
        "MetricName": "m",
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 10.0,
        "ComparisonOperator": "GreaterThanThreshold",
        **kw,
    }
    assert engine.alarms.put_metric_alarm(**request) == {}
    return name


def state(engine, name="a") -> str:
    [found] = engine.alarms.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return found["StateValue"]


def transitions(engine, name="a") -> list[tuple[str, str]]:
    items = engine.alarms.describe_alarm_history(
        AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )
    out = []
    for item in items["AlarmHistoryItems"]:
        data = json.loads(item["HistoryData"])
        out.append((data["oldState"]["stateValue"], data["newState"]["stateValue"]))
    return out


# -- the two alarms of the issue: iterator age, throttling ---------------------------------------------------


def test_an_iterator_age_alarm_fires_when_a_consumer_falls_behind_and_clears_once_it_keeps_up(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 1)
    alarm(
        engine,
        "age",
        Namespace="AWS/Kinesis",
        MetricName="GetRecords.IteratorAgeMilliseconds",
        Dimensions=STREAM,
        Threshold=60_000,
    )
    assert state(engine, "age") == "INSUFFICIENT_DATA"  # no reads yet
    stream.put_batch([f"k{i}" for i in range(10)], [b"v"] * 10)
    clock.advance(120_000)  # the consumer comes two minutes late
    iterator = stream.get_shard_iterator(S0, "TRIM_HORIZON")["ShardIterator"]
    first = stream.get_records(iterator, limit=2)
    assert first["MillisBehindLatest"] == 120_000
    engine.catalog.sampler.sample()  # the sampler's look evaluates the alarms
    assert state(engine, "age") == "ALARM"
    [found] = engine.alarms.describe_alarms(AlarmNames=["age"])["MetricAlarms"]
    assert found["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoint [120000.0 (")
    assert json.loads(found["StateReasonData"])["recentDatapoints"] == [120000.0]

    clock.advance(30_000)  # half a minute later, still in the same minute: the minute's maximum breaches
    stream.put_record(b"new", "k")
    assert engine.alarms.evaluate() == [] and state(engine, "age") == "ALARM"

    clock.advance(30_000)  # the next minute it catches up: the alarm clears
    rest = stream.get_records(first["NextShardIterator"])
    assert len(rest["Records"]) == 9 and rest["MillisBehindLatest"] == 0
    [change] = engine.alarms.evaluate()
    assert (change["OldStateValue"], change["NewStateValue"]) == ("ALARM", "OK")
    assert transitions(engine, "age") == [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]


def test_a_throttling_alarm_fires_on_refused_writes_and_clears_when_they_stop(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 1)
    throttle.install(stream, throttle.ThroughputLimits(write_records_per_s=3))
    alarm(
        engine,
        "throttled",
        Namespace="AWS/Kinesis",
        MetricName="WriteProvisionedThroughputExceeded",
        Dimensions=STREAM,
        Statistic="Sum",
        Threshold=0,
        TreatMissingData="notBreaching",
    )
    assert state(engine, "throttled") == "OK"  # no datapoint is not breaching
    answer = stream.put_records([{"Data": b"x", "PartitionKey": "k"}] * 5)
    assert answer["FailedRecordCount"] == 2
    with pytest.raises(shardstream.ProvisionedThroughputExceededException):
        stream.put_record(b"x", "k")
    engine.catalog.sampler.sample()
    assert state(engine, "throttled") == "ALARM"
    [point] = engine.metrics.get_metric_statistics(
        "AWS/Kinesis", "WriteProvisionedThroughputExceeded", STREAM, T0, T0 + 60, 60, ["Sum"]
    )["Datapoints"]
    assert point["Sum"] == 3.0  # two entries of the PutRecords, one PutRecord

    # Writes within budget from here on.  As CloudWatch, the last real datapoint is evaluated while it is
    # in the evaluation range (EvaluationPeriods + 2 periods); after that, missing is not breaching.
    for minute in (1, 2):
        clock.advance(60_000)
        stream.put_record(b"x", "k")
        engine.catalog.sampler.sample()
        assert state(engine, "throttled") == "ALARM", minute
    clock.advance(60_000)
    engine.catalog.sampler.sample()
    assert state(engine, "throttled") == "OK"
    assert transitions(engine, "throttled") == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]


def test_refused_reads_are_counted_per_call_and_dry_runs_not_at_all(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 1)
    throttle.install(stream, throttle.ThroughputLimits(read_calls_per_s=1, write_records_per_s=1))
    stream.put_record(b"x", "k")
    iterator = stream.get_shard_iterator(S0, "TRIM_HORIZON")["ShardIterator"]
    stream.get_records(iterator)
    for _ in range(2):
        with pytest.raises(shardstream.ProvisionedThroughputExceededException):
            stream.get_records(iterator)
    with pytest.raises(shardstream.ProvisionedThroughputExceededException):
        stream.get_record_batch(iterator)
    with pytest.raises(shardstream.ProvisionedThroughputExceededException):
        stream.get_records(iterator, dry_run=True)
    with pytest.raises(shardstream.ProvisionedThroughputExceededException):
        stream.put_batch(["a", "b"], [b"1", b"2"])
    with pytest.raises(shardstream.ProvisionedThroughputExceededException):
        stream.put_record(b"x", "k", dry_run=True)

    def total(name):
        answer = engine.metrics.get_metric_statistics("AWS/Kinesis", name, STREAM, T0, T0 + 60, 60, ["Sum"])
        return answer["Datapoints"][0]["Sum"]

    assert total("ReadProvisionedThroughputExceeded") == 3.0
    assert total("WriteProvisionedThroughputExceeded") == 2.0  # the put_batch's two records


# -- CloudWatch's rules ---------------------------------------------------------------------------------


def parse(row: str) -> list:
    return [None if c == "-" else (20.0 if c == "X" else 0.0) for c in row.split()]


# The two tables of CloudWatch's "How alarm state is evaluated when data is missing": (data points, M,
# then the state for missing, ignore, breaching, notBreaching).  "keep" is the current state.
DOCUMENTED = [
    ("0 - X - X", 3, "OK", "OK", "OK", "OK"),
    ("0 - - - -", 3, "OK", "OK", "OK", "OK"),
    ("- - - - -", 3, "INSUFFICIENT_DATA", "keep", "ALARM", "OK"),
    ("0 X X - X", 3, "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - - - X", 3, "INSUFFICIENT_DATA", "keep", "ALARM", "OK"),
    # ("X - - - -", 3, "ALARM", ...): the table's one cell these rules do not give (see alarm_rules)
    ("X - - - -", 3, "INSUFFICIENT_DATA", "keep", "ALARM", "OK"),
    ("0 - X - X", 2, "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 0 X 0 X", 2, "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 - X - -", 2, "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", 2, "OK", "OK", "ALARM", "OK"),
    ("- - - - X", 2, "INSUFFICIENT_DATA", "keep", "ALARM", "OK"),
]


@pytest.mark.parametrize("row, m, expected", [(r, m, e) for r, m, *e in DOCUMENTED])
@pytest.mark.parametrize("current", ["OK", "ALARM"])
def test_the_rules_give_the_documented_states(row, m, expected, current):
    modes = ("missing", "ignore", "breaching", "notBreaching")
    got = [decide(parse(row), lambda v: v > 10, 3, m, mode, current).state for mode in modes]
    assert got == [current if e == "keep" else e for e in expected]


def model_state(window, n, m, treat, breaching, current):
    """CloudWatch's documented rules, written from its prose: the oracle of the property below."""
    present = [v for v in window if v is not None]
    if len(present) >= n:  # enough real datapoints: the newest N decide; missing data plays no part
        return "ALARM" if sum(map(breaching, present[-n:])) >= m else "OK"
    bad = sum(map(breaching, present))
    if treat in ("breaching", "notBreaching"):  # fill up to N
        bad += (n - len(present)) if treat == "breaching" else 0
        return "ALARM" if bad >= m else "OK"
    if bad >= m:
        return "ALARM"
    if bad < len(present):
        return "OK"
    return "INSUFFICIENT_DATA" if treat == "missing" else current


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.sampled_from([0.0, 5.0, 10.0, 15.0])), min_size=1, max_size=14),
    n=st.integers(1, 4),
    m_less=st.integers(0, 3),
    treat=st.sampled_from(["missing", "notBreaching", "breaching", "ignore"]),
    comparison=st.sampled_from(
        ["GreaterThanThreshold", "GreaterThanOrEqualToThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"]
    ),
    period=st.sampled_from([10, 60]),
)
def test_states_over_time_follow_the_model(values, n, m_less, treat, comparison, period):
    """One datapoint (or none) a period; evaluated at each period's start (before its datapoint) and after it."""
    m = max(1, n - m_less)
    breaching = {
        "GreaterThanThreshold": lambda v: v > 10,
        "GreaterThanOrEqualToThreshold": lambda v: v >= 10,
        "LessThanThreshold": lambda v: v < 10,
        "LessThanOrEqualToThreshold": lambda v: v <= 10,
    }[comparison]
    clock = FakeClock(T0 * 1000)
    engine = shardstream.Engine(clock=clock)
    engine.catalog.sampler.stop()
    current, expected = "INSUFFICIENT_DATA", []

    def step(window):
        nonlocal current
        new = model_state(window, n, m, treat, breaching, current)
        if new != current:
            expected.append((current, new))
            current = new

    step([None] * (n + 2))  # putting the alarm evaluates it
    kw = dict(Period=period, EvaluationPeriods=n, DatapointsToAlarm=m, TreatMissingData=treat)
    alarm(engine, ComparisonOperator=comparison, **kw)
    assert state(engine) == current
    seen: list = [None] * (n + 2)
    for k, value in enumerate(values):
        clock.now = (T0 + k * period) * 1000
        step(seen[-(n + 1) :] + [None])  # the period has begun, without a datapoint yet
        engine.alarms.evaluate()
        assert state(engine) == current, (k, "before")
        clock.advance(1_000)
        if value is not None:
            engine.metrics.record("m", {}, value, unit="None", namespace="test")
        seen.append(value)
        step(seen[-(n + 2) :])
        engine.alarms.evaluate()
        assert state(engine) == current, (k, "after")
    assert transitions(engine) == expected
    engine.close()


def test_m_out_of_n_counts_breaching_datapoints_anywhere_in_the_last_n(engine_on_clock):
    clock, engine = engine_on_clock
    alarm(engine, EvaluationPeriods=3, DatapointsToAlarm=2)
    steps = [(20.0, "INSUFFICIENT_DATA"), (0.0, "OK"), (20.0, "ALARM"), (20.0, "ALARM"), (0.0, "ALARM"), (0.0, "OK")]
    for value, expected in steps:
        engine.metrics.record("m", {}, value, unit="None", namespace="test")
        engine.alarms.evaluate()
        assert state(engine) == expected, value
        clock.advance(60_000)


def test_an_extended_statistic_and_a_unit(engine_on_clock):
    clock, engine = engine_on_clock
    alarm(engine, "p90", Statistic=None, ExtendedStatistic="p90", Threshold=100, TreatMissingData="notBreaching")
    alarm(engine, "other-unit", Unit="Seconds", TreatMissingData="notBreaching", Threshold=0)
    engine.metrics.record_values("m", {}, [1.0] * 80 + [1000.0] * 20, unit="Milliseconds", namespace="test")
    engine.alarms.evaluate()
    assert state(engine, "p90") == "ALARM"
    assert state(engine, "other-unit") == "OK"  # a series in Milliseconds is not the alarm's
    [found] = engine.alarms.describe_alarms(AlarmNames=["p90"])["MetricAlarms"]
    assert found["ExtendedStatistic"] == "p90" and "Statistic" not in found


# -- state, history ------------------------------------------------------------------------------------


def test_set_alarm_state_holds_until_the_next_evaluation(engine_on_clock):
    clock, engine = engine_on_clock
    alarm(engine, TreatMissingData="notBreaching")
    got = []
    engine.alarms.on_state_change(got.append)
    engine.alarms.set_alarm_state(AlarmName="a", StateValue="ALARM", StateReason="testing", StateReasonData='{"a": 1}')
    [found] = engine.alarms.describe_alarms()["MetricAlarms"]
    assert (found["StateValue"], found["StateReason"], found["StateReasonData"]) == ("ALARM", "testing", '{"a": 1}')
    engine.alarms.set_alarm_state(AlarmName="a", StateValue="ALARM", StateReason="again")  # no change of state
    [change] = engine.alarms.evaluate()
    assert (change["OldStateValue"], change["NewStateValue"]) == ("ALARM", "OK")
    assert engine.alarms.drain()
    assert [(g["NewStateValue"], g["NewStateReason"]) for g in got] == [
        ("ALARM", "testing"),
        ("OK", change["NewStateReason"]),
    ]
    assert transitions(engine) == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM"), ("ALARM", "OK")]


@pytest.mark.parametrize(
    "kw, error",
    [
        ({"AlarmName": "nope", "StateValue": "OK", "StateReason": "r"}, AlarmNotFoundException),
        ({"AlarmName": "a", "StateValue": "BAD", "StateReason": "r"}, InvalidParameterValueException),
        ({"AlarmName": "a", "StateValue": "OK"}, MissingRequiredParameterException),
        ({"AlarmName": "a", "StateValue": "OK", "StateReason": "r", "StateReasonData": "{"}, InvalidFormatException),
    ],
)
def test_set_alarm_state_errors(engine_on_clock, kw, error):
    clock, engine = engine_on_clock
    alarm(engine)
    with pytest.raises(error):
        engine.alarms.set_alarm_state(**kw)


def test_set_alarm_state_on_a_missing_alarm_is_cloudwatchs_resource_not_found(engine_on_clock):
    clock, engine = engine_on_clock
    with pytest.raises(AlarmNotFoundException) as caught:
        engine.alarms.set_alarm_state(AlarmName="nope", StateValue="OK", StateReason="r")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
    assert isinstance(caught.value, LookupError)


def test_history_records_configuration_state_and_actions_with_filters_and_pages(engine_on_clock):
    clock, engine = engine_on_clock
    alarm(engine, TreatMissingData="notBreaching", AlarmActions=["arn:aws:sns:us-east-1:000000000000:ops"])
    clock.advance(1_000)
    alarm(engine, TreatMissingData="notBreaching", AlarmActions=["arn:aws:sns:us-east-1:000000000000:ops"], Threshold=5)
    clock.advance(1_000)
    engine.metrics.record("m", {}, 20.0, unit="None", namespace="test")
    engine.alarms.evaluate()
    clock.advance(1_000)
    engine.alarms.delete_alarms(AlarmNames=["a"])
    everything = engine.alarms.describe_alarm_history(AlarmName="a")["AlarmHistoryItems"]
    assert [(i["HistoryItemType"], i["HistorySummary"]) for i in everything] == [
        ("ConfigurationUpdate", 'Alarm "a" deleted'),
        (
            "Action",
            "Successfully executed action arn:aws:sns:us-east-1:000000000000:ops (logged (shardstream delivers only webhooks))",
        ),
        ("StateUpdate", "Alarm updated from OK to ALARM"),
        ("ConfigurationUpdate", 'Alarm "a" updated'),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to OK"),
        ("ConfigurationUpdate", 'Alarm "a" created'),
    ]
    assert all(i["AlarmType"] == "MetricAlarm" and i["Timestamp"].tzinfo for i in everything)
    update = json.loads(everything[2]["HistoryData"])
    assert update["newState"]["stateReasonData"]["recentDatapoints"] == [20.0]
    assert update["oldState"]["stateValue"] == "OK"

    pages, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        answer = engine.alarms.describe_alarm_history(AlarmName="a", MaxRecords=4, ScanBy="TimestampAscending", **kw)
        pages.append(answer["AlarmHistoryItems"])
        token = answer.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [4, 2]
    assert [i for p in pages for i in p] == everything[::-1]
    window = engine.alarms.describe_alarm_history(
        StartDate=dt.datetime.fromtimestamp(T0 + 1, dt.timezone.utc), EndDate=T0 + 2
    )["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in window][-1] == 'Alarm "a" updated'
    assert all(T0 + 1 <= i["Timestamp"].timestamp() <= T0 + 2 for i in window)
    with pytest.raises(InvalidParameterValueException):
        engine.alarms.describe_alarm_history(HistoryItemType="Bogus")
    with pytest.raises(InvalidNextTokenException):
        engine.alarms.describe_alarm_history(NextToken="garbage!")


# -- describing, deleting --------------------------------------------------------------------------------


def test_describe_alarms_filters_and_pages(engine_on_clock):
    clock, engine = engine_on_clock
    for i in range(7):
        alarm(engine, f"a{i}", TreatMissingData="notBreaching" if i % 2 else "missing")
    alarm(engine, "b", AlarmActions=["http://127.0.0.1:9/hook"], Dimensions=[{"Name": "X", "Value": "1"}])
    names = lambda answer: [a["AlarmName"] for a in answer["MetricAlarms"]]  # noqa: E731
    assert names(engine.alarms.describe_alarms()) == [f"a{i}" for i in range(7)] + ["b"]
    assert names(engine.alarms.describe_alarms(AlarmNamePrefix="a", StateValue="OK")) == ["a1", "a3", "a5"]
    assert names(engine.alarms.describe_alarms(AlarmNames=["b", "a2", "zzz"])) == ["a2", "b"]
    assert names(engine.alarms.describe_alarms(ActionPrefix="http://127.0.0.1")) == ["b"]
    assert names(engine.alarms.describe_alarms(AlarmTypes=["CompositeAlarm"])) == []
    seen, token = [], None
    while True:
        answer = engine.alarms.describe_alarms(MaxRecords=3, **({"NextToken": token} if token else {}))
        assert answer["CompositeAlarms"] == []
        seen.append(names(answer))
        token = answer.get("NextToken")
        if token is None:
            break
    assert seen == [["a0", "a1", "a2"], ["a3", "a4", "a5"], ["a6", "b"]]
    [b] = engine.alarms.describe_alarms(AlarmNames=["b"])["MetricAlarms"]
    assert b["AlarmArn"] == "arn:aws:cloudwatch:us-east-1:000000000000:alarm:b"
    assert b["ActionsEnabled"] is True and b["DatapointsToAlarm"] == 1 and b["TreatMissingData"] == "missing"
    assert isinstance(b["StateUpdatedTimestamp"], dt.datetime)
    for_metric = engine.alarms.describe_alarms_for_metric(MetricName="m", Namespace="test", Dimensions=[])
    assert names(for_metric) == [f"a{i}" for i in range(7)]
    with pytest.raises(InvalidParameterCombinationException):
        engine.alarms.describe_alarms(AlarmNames=["a0"], AlarmNamePrefix="a")
    for bad in ({"StateValue": "RED"}, {"MaxRecords": 0}, {"MaxRecords": 101}):
        with pytest.raises(InvalidParameterValueException):
            engine.alarms.describe_alarms(**bad)


def test_delete_alarms_deletes_all_or_none(engine_on_clock):
    clock, engine = engine_on_clock
    alarm(engine, "a")
    alarm(engine, "b")
    with pytest.raises(AlarmNotFoundException):
        engine.alarms.delete_alarms(AlarmNames=["a", "nope"])
    assert len(engine.alarms.describe_alarms()["MetricAlarms"]) == 2
    engine.alarms.delete_alarms(AlarmNames=["a", "b"])
    assert engine.alarms.describe_alarms()["MetricAlarms"] == []
    assert engine.alarms.evaluate() == []


def test_an_update_keeps_the_state(engine_on_clock):
    clock, engine = engine_on_clock
    alarm(engine, TreatMissingData="breaching")
    assert state(engine) == "ALARM"
    alarm(engine, TreatMissingData="ignore", AlarmDescription="now ignoring")
    [found] = engine.alarms.describe_alarms()["MetricAlarms"]
    assert (found["StateValue"], found["AlarmDescription"], found["TreatMissingData"]) == (
        "ALARM",
        "now ignoring",
        "ignore",
    )


BASE = dict(
    AlarmName="a", Namespace="test", MetricName="m", Statistic="Maximum", Period=60, EvaluationPeriods=1,
    Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
)  # fmt: skip


@pytest.mark.parametrize(
    "change, error",
    [
        ({"AlarmName": None}, MissingRequiredParameterException),
        ({"Namespace": None}, MissingRequiredParameterException),
        ({"Threshold": None}, MissingRequiredParameterException),
        ({"Period": 7}, InvalidParameterValueException),
        ({"Period": 60, "EvaluationPeriods": 1441}, InvalidParameterValueException),
        ({"EvaluationPeriods": 0}, InvalidParameterValueException),
        ({"DatapointsToAlarm": 2}, InvalidParameterValueException),
        ({"ExtendedStatistic": "p99"}, InvalidParameterCombinationException),
        ({"Statistic": None}, InvalidParameterCombinationException),
        ({"Statistic": "Median"}, InvalidParameterValueException),
        ({"Statistic": None, "ExtendedStatistic": "p101"}, InvalidParameterValueException),
        ({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}, InvalidParameterValueException),
        ({"TreatMissingData": "sometimes"}, InvalidParameterValueException),
        ({"Unit": "Furlongs"}, InvalidParameterValueException),
        ({"Threshold": float("nan")}, InvalidParameterValueException),
        ({"Metrics": [{"Id": "m1", "Expression": "m*2"}]}, InvalidParameterValueException),
        ({"AlarmActions": ["arn:aws:sns:us-east-1:000000000000:t"] * 6}, InvalidParameterValueException),
        ({"AlarmActions": ["http://example.com/hook"]}, InvalidParameterValueException),
        ({"OKActions": ["https://10.0.0.1/hook"]}, InvalidParameterValueException),
        ({"InsufficientDataActions": ["http://127.0.0.1.example.com/hook"]}, InvalidParameterValueException),
        ({"Dimensions": [{"Name": "X"}]}, MissingRequiredParameterException),
    ],
)
def test_put_metric_alarm_refuses_what_cloudwatch_refuses(engine_on_clock, change, error):
    clock, engine = engine_on_clock
    with pytest.raises(error) as caught:
        engine.alarms.put_metric_alarm(**{**BASE, **change})
    assert caught.value.response["Error"]["Code"] in (
        "MissingParameter",
        "InvalidParameterValue",
        "InvalidParameterCombination",
    )
    assert engine.alarms.describe_alarms()["MetricAlarms"] == []


def test_loopback_webhooks_and_other_actions_are_accepted(engine_on_clock):
    clock, engine = engine_on_clock
    hooks = ["http://127.0.0.1:1/a", "http://localhost:1/b", "http://[::1]:1/c", "https://127.0.0.2/d"]
    alarm(engine, AlarmActions=hooks, OKActions=["arn:aws:sns:us-east-1:000000000000:topic", "anything"])
    engine.alarms.disable_alarm_actions(AlarmNames=["a"])  # nothing listens there
    [found] = engine.alarms.describe_alarms()["MetricAlarms"]
    assert found["AlarmActions"] == hooks and found["ActionsEnabled"] is False
    with pytest.raises(TypeError):
        engine.alarms.put_metric_alarm(**BASE, Bogus=1)


# -- actions -----------------------------------------------------------------------------------------------


class Hook:
    """A webhook receiver on 127.0.0.1 in a thread: the POSTs' bodies, and an event per POST."""

    def __init__(self, status: int = 200):
        received, arrived = self.received, self.arrived = [], threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                arrived.set()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alarm"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = Hook()
    yield h
    h.close()


def test_a_webhook_receives_the_notification(engine_on_clock, hook):
    clock, engine = engine_on_clock
    alarm(engine, AlarmActions=[hook.url], OKActions=[hook.url], TreatMissingData="notBreaching", AlarmDescription="d")
    engine.alarms.drain()
    hook.arrived.clear()
    del hook.received[:]  # the creation's INSUFFICIENT_DATA -> OK
    engine.metrics.record("m", {}, 20.0, unit="None", namespace="test")
    engine.alarms.evaluate()
    assert hook.arrived.wait(10)
    assert engine.alarms.drain()
    [(path, content_type, body)] = hook.received
    assert (path, content_type) == ("/alarm", "application/json")
    assert (body["AlarmName"], body["OldStateValue"], body["NewStateValue"]) == ("a", "OK", "ALARM")
    assert body["AlarmDescription"] == "d" and body["AlarmArn"].endswith(":alarm:a")
    assert body["StateChangeTime"] == dt.datetime.fromtimestamp(T0, dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.000+0000"
    )
    assert body["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoint [20.0")
    trigger = body["Trigger"]
    assert (trigger["MetricName"], trigger["Namespace"], trigger["Statistic"], trigger["Threshold"]) == (
        "m",
        "test",
        "MAXIMUM",
        10.0,
    )
    [action] = engine.alarms.describe_alarm_history(HistoryItemType="Action", MaxRecords=1)["AlarmHistoryItems"]
    assert action["HistorySummary"] == f"Successfully executed action {hook.url}"


def test_a_failed_webhook_is_logged_and_recorded_never_raised(engine_on_clock, caplog):
    clock, engine = engine_on_clock
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/x"
    failing = Hook(status=500)
    try:
        with caplog.at_level(logging.INFO, logger="shardstream.alarms"):
            alarm(engine, InsufficientDataActions=[dead, failing.url])  # creation evaluates: no data, no change
            engine.alarms.set_alarm_state(AlarmName="a", StateValue="OK", StateReason="r")
            engine.alarms.set_alarm_state(AlarmName="a", StateValue="INSUFFICIENT_DATA", StateReason="r2")
            assert engine.alarms.drain()
    finally:
        failing.close()
    actions = engine.alarms.describe_alarm_history(HistoryItemType="Action", ScanBy="TimestampAscending")
    summaries = [i["HistorySummary"] for i in actions["AlarmHistoryItems"]]
    assert len(summaries) == 2 and all(s.startswith("Failed to execute action ") for s in summaries)
    assert "HTTP Error 500" in summaries[1]
    failures = [r for r in caplog.records if "webhook" in r.getMessage()]
    assert len(failures) == 2 and all(r.levelno == logging.WARNING for r in failures)


def test_state_changes_are_logged_and_other_actions_are_log_lines(engine_on_clock, caplog):
    clock, engine = engine_on_clock
    topic = "arn:aws:sns:us-east-1:000000000000:ops"
    with caplog.at_level(logging.INFO, logger="shardstream.alarms"):
        alarm(engine, AlarmActions=[topic], TreatMissingData="notBreaching")
        engine.metrics.record("m", {}, 20.0, unit="None", namespace="test")
        engine.alarms.evaluate()
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "shardstream.alarms"]
    assert lines[0] == (logging.INFO, "alarm a: INSUFFICIENT_DATA -> OK: " + lines[0][1].split(": ", 2)[2])
    assert lines[1][0] == logging.WARNING and lines[1][1].startswith("alarm a: OK -> ALARM: Threshold Crossed")
    assert lines[2][0] == logging.WARNING and lines[2][1].startswith(f"alarm a is ALARM: action {topic}: ")
    assert len(lines) == 3


def test_a_callback_gets_every_change_on_the_delivery_thread(engine_on_clock):
    clock, engine = engine_on_clock
    got, threads = [], set()

    @engine.alarms.on_state_change
    def seen(notification):
        got.append((notification["AlarmName"], notification["NewStateValue"]))
        threads.add(threading.current_thread().name)
        raise RuntimeError("a failing callback stops nothing")

    alarm(engine, TreatMissingData="notBreaching")
    engine.metrics.record("m", {}, 20.0, unit="None", namespace="test")
    engine.alarms.evaluate()
    assert engine.alarms.drain()
    assert got == [("a", "OK"), ("a", "ALARM")]
    assert threads == {"shardstream-alarm-actions"}
    engine.alarms.remove_state_change_callback(seen)
    engine.alarms.set_alarm_state(AlarmName="a", StateValue="OK", StateReason="r")
    assert engine.alarms.drain() and len(got) == 2


def test_disabled_actions_run_nothing_until_enabled(engine_on_clock, hook):
    clock, engine = engine_on_clock
    got = []
    engine.alarms.on_state_change(got.append)
    topic = "arn:aws:sns:us-east-1:000000000000:ops"
    alarm(
        engine,
        AlarmActions=[hook.url, topic],
        OKActions=[hook.url],
        ActionsEnabled=False,
        TreatMissingData="notBreaching",
    )
    engine.metrics.record("m", {}, 20.0, unit="None", namespace="test")
    assert [c["NewStateValue"] for c in engine.alarms.evaluate()] == ["ALARM"]
    assert engine.alarms.drain()
    assert hook.received == [] and got == []
    assert engine.alarms.describe_alarm_history(HistoryItemType="Action")["AlarmHistoryItems"] == []
    assert transitions(engine) == [("INSUFFICIENT_DATA", "OK"), ("OK", "ALARM")]

    engine.alarms.enable_alarm_actions(AlarmNames=["a", "not-an-alarm"])
    clock.advance(180_000)
    engine.alarms.evaluate()  # the breaching datapoint left the range: OK, and the OK action runs
    assert hook.arrived.wait(10) and engine.alarms.drain()
    assert [body["NewStateValue"] for _, _, body in hook.received] == ["OK"]
    assert [g["NewStateValue"] for g in got] == ["OK"]


# -- the engine's own evaluation ------------------------------------------------------------------------------


def test_a_live_engine_evaluates_once_a_second_by_itself():
    engine = shardstream.Engine()  # no stream: putting an alarm starts the evaluation
    changed = threading.Event()
    engine.alarms.on_state_change(lambda n: changed.set() if n["NewStateValue"] == "ALARM" else None)
    alarm(engine, Period=10, TreatMissingData="notBreaching")
    assert state(engine) == "OK"
    engine.metrics.record("m", {}, 20.0, unit="None", namespace="test")
    try:
        assert changed.wait(10)  # the process's sampling thread evaluated the alarm
        assert state(engine) == "ALARM"
    finally:
        engine.close()


def test_a_live_engines_sampler_feeds_its_alarms():
    engine = shardstream.Engine()
    changed = threading.Event()
    engine.alarms.on_state_change(lambda n: changed.set() if n["NewStateValue"] == "ALARM" else None)
    alarm(
        engine, Namespace="AWS/Kinesis", MetricName="IncomingRecords", Dimensions=STREAM, Statistic="Sum", Threshold=0
    )
    stream = engine.create_stream("s", 1)
    stream.put_batch(["a"] * 5, [b"v"] * 5)
    try:
        assert changed.wait(10)  # the sampler counted the records, then evaluated
    finally:
        engine.close()
