"""Metrics: 1-second series, CloudWatch's query shapes, the sampler of the core's counters, GetRecords meters."""

from __future__ import annotations

import datetime as dt
import threading
import time

import numpy as np
import pytest
from conftest import FakeClock
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.errors import InvalidParameterValueException, MissingRequiredParameterException
from shardstream.metrics import MetricRegistry, SecondSeries
from shardstream.metrics.series import bucket_of, bucket_value

T0 = 1_700_000_000  # seconds


def stats(metrics, name, dims, period=60, start=T0 - 60, end=T0 + 3600, statistics=("Sum",), **kw):
    response = metrics.get_metric_statistics(
        kw.pop("namespace", "AWS/Kinesis"),
        name,
        [{"Name": k, "Value": v} for k, v in dims.items()],
        start,
        end,
        period,
        list(statistics),
        **kw,
    )
    return response["Datapoints"]


# -- the series -------------------------------------------------------------------------------------


def test_a_second_keeps_sum_count_min_max_and_the_window_wraps():
    series = SecondSeries(window_s=10)
    series.add(T0, 5.0)
    series.add(T0, 7.0, count=2, low=1.0, high=6.0)
    series.add(T0 + 1, 2.0)
    got = series.seconds(T0, T0 + 2)
    assert got["second"].tolist() == [T0, T0 + 1]
    assert got["sum"].tolist() == [12.0, 2.0] and got["count"].tolist() == [3, 1]
    assert got["min"].tolist() == [1.0, 2.0] and got["max"].tolist() == [6.0, 2.0]
    series.add(T0 + 10, 9.0)  # the same slot as T0, ten seconds on: T0 is gone
    assert series.seconds(T0, T0 + 11)["second"].tolist() == [T0 + 1, T0 + 10]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1e-5, 1e9, allow_nan=False), min_size=1, max_size=300), st.sampled_from([50, 90, 99]))
def test_percentiles_are_within_one_bucket_of_the_exact_ones(values, p):
    metrics = MetricRegistry(lambda: T0 * 1000)
    metrics.record_values("L", {"S": "s"}, values, unit="Milliseconds")
    [point] = stats(metrics, "L", {"S": "s"}, period=60, statistics=(), extended_statistics=[f"p{p}"])
    got = point["ExtendedStatistics"][f"p{p}"]
    ordered = sorted(values)
    exact = ordered[max(0, int(np.ceil(len(values) * p / 100)) - 1)]  # nearest-rank
    assert exact / 2**0.25 <= got * (1 + 1e-9) and got <= exact * 2**0.25 * (1 + 1e-9)
    assert min(values) <= got <= max(values)


def test_bucket_bounds_hold_their_values():
    for value in (1e-6, 0.003, 0.5, 1.0, 1.2, 17.0, 12345.0):
        b = bucket_of(value)
        assert bucket_value(b - 1) < value <= bucket_value(b)


# -- CloudWatch's shapes ----------------------------------------------------------------------------


@pytest.fixture
def filled():
    clock = FakeClock(T0 * 1000)
    metrics = MetricRegistry(clock)
    for second, value in enumerate([3, 1, 4, 1, 5, 9, 2, 6]):
        clock.now = (T0 + second * 30) * 1000  # two datapoints a minute
        metrics.record("IncomingRecords", {"StreamName": "s"}, value, unit="Count")
    metrics.record("IncomingRecords", {"StreamName": "other"}, 100, unit="Count")
    return clock, metrics


def test_get_metric_statistics_aggregates_by_period(filled):
    _, metrics = filled
    points = stats(metrics, "IncomingRecords", {"StreamName": "s"}, statistics=STATS)
    assert [p["Timestamp"] for p in points] == [
        dt.datetime.fromtimestamp(T0 - 60 + 60 * i, dt.timezone.utc) for i in range(1, 5)
    ]
    assert [(p["Sum"], p["SampleCount"], p["Minimum"], p["Maximum"], p["Average"]) for p in points] == [
        (4.0, 2.0, 1.0, 3.0, 2.0),
        (5.0, 2.0, 1.0, 4.0, 2.5),
        (14.0, 2.0, 5.0, 9.0, 7.0),
        (8.0, 2.0, 2.0, 6.0, 4.0),
    ]
    assert {p["Unit"] for p in points} == {"Count"}
    assert stats(metrics, "IncomingRecords", {"StreamName": "s"}, unit="Bytes") == []
    assert stats(metrics, "IncomingRecords", {"StreamName": "nope"}) == []
    assert stats(metrics, "IncomingRecords", {}) == []  # dimensions must match exactly, as CloudWatch's


STATS = ("Sum", "SampleCount", "Minimum", "Maximum", "Average")


@pytest.mark.parametrize(
    "kw, error",
    [
        ({"period": 7}, InvalidParameterValueException),
        ({"start": T0, "end": T0}, InvalidParameterValueException),
        ({"statistics": ("Median",)}, InvalidParameterValueException),
        ({"statistics": ()}, MissingRequiredParameterException),
        ({"period": 1, "start": T0, "end": T0 + 1441}, InvalidParameterValueException),
        ({"statistics": (), "extended_statistics": ["p101"]}, InvalidParameterValueException),
    ],
)
def test_bad_statistics_requests_are_refused(filled, kw, error):
    _, metrics = filled
    with pytest.raises(error):
        stats(metrics, "IncomingRecords", {"StreamName": "s"}, **kw)


def test_get_metric_data_and_list_metrics(filled):
    _, metrics = filled
    metric = {"Namespace": "AWS/Kinesis", "MetricName": "IncomingRecords"}
    queries = [
        {
            "Id": "s",
            "MetricStat": {
                "Metric": {**metric, "Dimensions": [{"Name": "StreamName", "Value": "s"}]},
                "Period": 120,
                "Stat": "Maximum",
            },
        },
        {
            "Id": "o",
            "MetricStat": {
                "Metric": {**metric, "Dimensions": [{"Name": "StreamName", "Value": "other"}]},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
    ]
    out = metrics.get_metric_data(queries, T0, T0 + 240, scan_by="TimestampAscending")["MetricDataResults"]
    assert [r["Id"] for r in out] == ["s"]
    assert out[0]["Values"] == [4.0, 9.0] and out[0]["StatusCode"] == "Complete"
    newest_first = metrics.get_metric_data(queries[:1], T0, T0 + 240)["MetricDataResults"][0]
    assert newest_first["Values"] == [9.0, 4.0]
    assert newest_first["Timestamps"][0] > newest_first["Timestamps"][1]
    with pytest.raises(InvalidParameterValueException):
        metrics.get_metric_data([{"Id": "Bad", "MetricStat": queries[0]["MetricStat"]}], T0, T0 + 60)
    with pytest.raises(InvalidParameterValueException):
        metrics.get_metric_data([{"Id": "e", "Expression": "SUM(METRICS())"}], T0, T0 + 60)

    listed = metrics.list_metrics(namespace="AWS/Kinesis", dimensions=[{"Name": "StreamName", "Value": "other"}])
    assert listed["Metrics"] == [
        {
            "Namespace": "AWS/Kinesis",
            "MetricName": "IncomingRecords",
            "Dimensions": [{"Name": "StreamName", "Value": "other"}],
        }
    ]
    assert len(metrics.list_metrics(dimensions=[{"Name": "StreamName"}])["Metrics"]) == 2
    assert metrics.list_metrics(namespace="shardstream")["Metrics"] == []


def test_a_table_per_period_for_pandas(filled):
    clock, metrics = filled
    table = metrics.table("IncomingRecords", {"StreamName": "s"}, period=60, start=T0, end=T0 + 240)
    assert table.column_names == ["timestamp", "sum", "sample_count", "minimum", "maximum", "average"]
    assert table.column("sum").to_pylist() == [4.0, 5.0, 14.0, 8.0]
    frame = table.to_pandas()
    assert frame["sum"].sum() == 31.0


# -- counted where the work happens -------------------------------------------------------------------


@pytest.fixture
def engine_on_clock():
    clock = FakeClock(T0 * 1000)
    engine = shardstream.Engine(clock=clock)
    yield clock, engine
    engine.close()


def test_the_sampler_turns_the_rings_counters_into_incoming_records_and_bytes(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 2)
    keys = [f"key-{i}" for i in range(100)]
    data = [b"x" * (i % 7) for i in range(100)]
    stream.put_batch(keys, data)
    engine.catalog.sampler.sample()
    clock.advance(1_000)
    stream.put_record(b"hello", "k")
    engine.catalog.sampler.sample()
    clock.advance(1_000)
    engine.catalog.sampler.sample()  # nothing new: a zero
    dims = {"StreamName": "s"}
    points = stats(engine.metrics, "IncomingRecords", dims, period=1, start=T0, end=T0 + 3)
    assert [p["Sum"] for p in points] == [100.0, 1.0, 0.0]
    expected_bytes = sum(len(k) + len(d) for k, d in zip(keys, data))
    points = stats(engine.metrics, "IncomingBytes", dims, period=60, start=T0, end=T0 + 60)
    assert points[0]["Sum"] == expected_bytes + len("k") + len(b"hello")
    assert stats(engine.metrics, "IncomingRecords", {"StreamName": "s", "ShardId": "shardId-000000000000"}) == []


def test_enhanced_monitoring_adds_shard_level_series(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 2)
    engine.enable_enhanced_monitoring("s", ["IncomingRecords"])
    stream.put_batch([f"k{i}" for i in range(200)], [b"v"] * 200)
    engine.catalog.sampler.sample()
    per_shard = [
        stats(engine.metrics, "IncomingRecords", {"StreamName": "s", "ShardId": f"shardId-00000000000{i}"})
        for i in range(2)
    ]
    assert sum(p[0]["Sum"] for p in per_shard) == 200 and all(p[0]["Sum"] > 0 for p in per_shard)
    assert stats(engine.metrics, "IncomingBytes", {"StreamName": "s", "ShardId": "shardId-000000000000"}) == []


def test_records_written_after_a_reshard_are_counted_in_the_children(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 1)
    engine.catalog.sampler.sample()
    stream.update_shard_count(2)
    stream.put_batch([f"k{i}" for i in range(50)], [b"v"] * 50)
    engine.catalog.sampler.sample()
    assert stats(engine.metrics, "IncomingRecords", {"StreamName": "s"})[0]["Sum"] == 50


def test_get_records_is_metered_per_call(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 1)
    stream.put_batch(["a", "b", "c"], [b"1", b"22", b"333"])
    clock.advance(5_000)
    iterator = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")["ShardIterator"]
    first = stream.get_records(iterator, limit=2)
    stream.get_record_batch(first["NextShardIterator"])
    dims = {"StreamName": "s"}
    [records] = stats(engine.metrics, "GetRecords.Records", dims, statistics=("Sum", "SampleCount"))
    assert (records["Sum"], records["SampleCount"]) == (3.0, 2.0)
    assert stats(engine.metrics, "GetRecords.Bytes", dims)[0]["Sum"] == 6.0
    assert stats(engine.metrics, "GetRecords.Success", dims)[0]["Sum"] == 2.0
    [age] = stats(engine.metrics, "GetRecords.IteratorAgeMilliseconds", dims, statistics=("Maximum",))
    assert age["Maximum"] == 5_000.0  # five seconds behind the newest record
    [latency] = stats(engine.metrics, "GetRecords.Latency", dims, statistics=("Maximum",), extended_statistics=["p99"])
    assert 0 < latency["ExtendedStatistics"]["p99"] <= latency["Maximum"] < 1_000


def test_queue_state_is_sampled(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("jobs", stream_mode="ON_DEMAND")
    config = [{"StreamARN": stream.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
    arn = engine.create_queue("work", config)["QueueDescription"]["QueueARN"]
    stream.put_batch([f"k{i}" for i in range(10)], [b"v"] * 10)
    engine.queues.queue(arn).receive_batch(4)
    engine.catalog.sampler.sample()
    points = stats(engine.metrics, "QueueRecordsInFlight", {"QueueName": "work"}, namespace="shardstream")
    assert points[0]["Sum"] == 4.0


def test_the_sampling_thread_runs_on_its_own():
    engine = shardstream.Engine()
    stream = engine.create_stream("s", 1)
    stream.put_batch(["a"] * 7, [b"v"] * 7)
    deadline = time.monotonic() + 5
    total = 0.0
    while total < 7 and time.monotonic() < deadline:
        time.sleep(0.05)
        table = engine.metrics.table("IncomingRecords", {"StreamName": "s"})
        total = sum(table.column("sum").to_pylist())
    engine.close()
    assert total == 7


def test_metrics_off_records_nothing(engine_on_clock):
    clock, engine = engine_on_clock
    engine.metrics.enabled = False
    stream = engine.create_stream("s", 1)
    stream.put_batch(["a"], [b"v"])
    iterator = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")["ShardIterator"]
    stream.get_records(iterator)
    engine.catalog.sampler.sample()
    assert engine.metrics.list_metrics()["Metrics"] == []


def test_put_records_and_a_served_put_record_are_metered():
    from shardstream.testing import boto3_client, start_server

    engine = shardstream.Engine()
    with start_server(engine) as server:
        kinesis = boto3_client(server.url)
        kinesis.create_stream(StreamName="s", ShardCount=1)
        entries = [{"Data": b"abc", "PartitionKey": "kk"} for _ in range(5)]
        assert kinesis.put_records(StreamName="s", Records=entries)["FailedRecordCount"] == 0
        kinesis.put_record(StreamName="s", Data=b"hello", PartitionKey="k")
    stream = engine.stream("s")
    stream.put_records([{"Data": b"x", "PartitionKey": "p"}] * 4)
    now = engine.metrics.now_ms() // 1000
    dims = {"StreamName": "s"}

    def total(name):
        return sum(p["Sum"] for p in stats(engine.metrics, name, dims, period=60, start=now - 120, end=now + 60))

    assert total("PutRecords.TotalRecords") == 9
    assert total("PutRecords.SuccessfulRecords") == 9
    assert total("PutRecords.ThrottledRecords") == 0
    assert total("PutRecords.FailedRecords") == 0
    assert total("PutRecords.Bytes") == 5 * 5 + 4 * 2
    assert total("PutRecords.Success") == 2
    assert total("PutRecord.Success") == 1 and total("PutRecord.Bytes") == len(b"hello") + 1
    engine.close()


def test_a_consumer_groups_lag_is_recorded_per_shard():
    from shardstream.consumer import Consumer

    engine = shardstream.Engine()
    stream = engine.create_stream("s", 1)
    stream.put_batch([f"k{i}" for i in range(30)], [b"v"] * 30)
    consumer = Consumer(stream, "billing", max_records=10, idle_ms=10)
    seen = 0
    with consumer:
        for batch in consumer:
            seen += len(batch.records)
            if seen >= 30:
                break
    dims = {"StreamName": "s", "ConsumerGroup": "billing", "ShardId": "shardId-000000000000"}
    table = engine.metrics.table("ConsumerLagRecords", dims, namespace="shardstream")
    assert table.num_rows >= 1
    assert table.column("maximum").to_pylist()[0] >= 20  # behind by the two batches not yet read
    assert table.column("minimum").to_pylist()[-1] == 0  # caught up
    engine.close()


def test_a_durable_streams_flushes_are_sampled(tmp_path):
    clock = FakeClock(T0 * 1000)
    engine = shardstream.Engine(data_dir=tmp_path / "data", clock=clock, durability="sync")
    stream = engine.create_stream("s", 1)
    for i in range(3):
        stream.put_batch([f"k{i}"] * 10, [b"v"] * 10)
    engine.catalog.sampler.sample()
    dims = {"StreamName": "s"}
    assert stats(engine.metrics, "FlushedRecords", dims, namespace="shardstream")[0]["Sum"] == 30
    flushes = stats(engine.metrics, "Flushes", dims, namespace="shardstream")[0]["Sum"]
    assert flushes >= 3 and stats(engine.metrics, "Fsyncs", dims, namespace="shardstream")[0]["Sum"] == flushes
    [latency] = stats(
        engine.metrics,
        "FlushLatency",
        dims,
        namespace="shardstream",
        statistics=("SampleCount",),
        extended_statistics=["p99"],
    )
    assert latency["SampleCount"] == flushes and latency["ExtendedStatistics"]["p99"] > 0
    engine.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.floats(0, 100)), max_size=60), st.integers(0, 40), st.integers(1, 45))
def test_a_short_range_reads_the_same_as_the_whole_window(samples, start, length):
    series = SecondSeries(window_s=30, histogram=True)
    for second, value in samples:
        series.add(T0 + second, value)
    short = series.seconds(T0 + start, T0 + start + min(length, 7))  # under a quarter window: the slot path
    full = series.seconds(T0 - 100, T0 + 100)  # the whole window
    keep = (full["second"] >= T0 + start) & (full["second"] < T0 + start + min(length, 7))
    for name in ("second", "sum", "count", "min", "max", "hist"):
        assert np.array_equal(short[name], full[name][keep])


def test_entries_refused_by_throughput_emulation_count_as_throttled_records(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 1)
    shardstream.throttle.install(stream, shardstream.throttle.ThroughputLimits(write_records_per_s=3))
    answer = stream.put_records([{"Data": b"x", "PartitionKey": "p"}] * 5)
    refused = answer["FailedRecordCount"]
    assert refused == 2
    dims = {"StreamName": "s"}
    assert stats(engine.metrics, "PutRecords.TotalRecords", dims)[0]["Sum"] == 5
    assert stats(engine.metrics, "PutRecords.SuccessfulRecords", dims)[0]["Sum"] == 3
    assert stats(engine.metrics, "PutRecords.ThrottledRecords", dims)[0]["Sum"] == refused
    assert stats(engine.metrics, "WriteProvisionedThroughputExceeded", dims)[0]["Sum"] == refused


def test_subscribe_to_shard_events_are_metered_apart_from_get_records(engine_on_clock):
    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 1)
    arn = engine.register_stream_consumer(stream.arn, "app")["Consumer"]["ConsumerARN"]
    stream.put_batch(["a", "b", "c"], [b"1", b"22", b"333"])
    with engine.subscribe_to_shard(arn, "shardId-000000000000", {"Type": "TRIM_HORIZON"}) as events:
        first = next(iter(events))
    assert len(first["Records"]) == 3
    dims = {"StreamName": "s"}
    assert stats(engine.metrics, "SubscribeToShardEvent.Records", dims)[0]["Sum"] == 3
    assert stats(engine.metrics, "SubscribeToShardEvent.Bytes", dims)[0]["Sum"] == 6
    assert stats(engine.metrics, "SubscribeToShardEvent.MillisBehindLatest", dims, statistics=("Maximum",))
    assert stats(engine.metrics, "GetRecords.Records", dims) == []


def test_a_producer_on_an_embedded_stream_records_its_counters(engine_on_clock):
    from shardstream import Producer

    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 2)
    with Producer(stream, linger_ms=1) as producer:
        futures = [producer.send(b"payload", f"k{i}") for i in range(50)]
        for future in futures:
            future.result(timeout=10)
        engine.catalog.sampler.sample()
    [source_dims] = [dict(d) for ns, name, d in engine.metrics.keys() if name == "ProducerUserRecordsSent"]
    assert source_dims["StreamName"] == "s" and source_dims["Producer"].startswith("producer-")
    sent = stats(engine.metrics, "ProducerUserRecordsSent", source_dims, namespace="shardstream")
    assert sent[0]["Sum"] == 50
    user_bytes = stats(engine.metrics, "ProducerUserBytes", source_dims, namespace="shardstream")
    assert user_bytes[0]["Sum"] == sum(len(b"payload") + len(f"k{i}") for i in range(50))


def test_subscribe_to_shard_counts_successes_and_rate_exceeded(engine_on_clock):
    from shardstream.errors import ResourceInUseException

    clock, engine = engine_on_clock
    stream = engine.create_stream("s", 1)
    arn = engine.register_stream_consumer(stream.arn, "app")["Consumer"]["ConsumerARN"]
    first = engine.subscribe_to_shard(arn, "shardId-000000000000", {"Type": "LATEST"})
    with pytest.raises(ResourceInUseException):  # again within 5 s
        engine.subscribe_to_shard(arn, "shardId-000000000000", {"Type": "LATEST"})
    first.close()
    dims = {"StreamName": "s", "ConsumerName": "app"}
    assert stats(engine.metrics, "SubscribeToShard.Success", dims)[0]["Sum"] == 1
    assert stats(engine.metrics, "SubscribeToShard.RateExceeded", dims)[0]["Sum"] == 1


def test_a_series_plots_with_matplotlib(filled):
    import matplotlib

    matplotlib.use("Agg")
    _, metrics = filled
    ax = metrics.plot("IncomingRecords", {"StreamName": "s"}, statistic="maximum")
    [line] = ax.get_lines()
    assert list(line.get_ydata()) == [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    assert "IncomingRecords" in ax.get_title()
    with pytest.raises(KeyError):
        metrics.plot("IncomingRecords", {"StreamName": "s"}, statistic="p99")  # no histogram for counts


def test_a_sampler_that_keeps_failing_is_reported_once_until_it_works_again(caplog):
    from shardstream.metrics.sampler import _Ticker

    class Flaky:
        def __init__(self):
            self.fail = True
            self.looks = 0
            self.worked = threading.Event()

        def sample(self):
            self.looks += 1
            if self.fail:
                raise RuntimeError("a broken clock")
            self.worked.set()

    ticker, flaky = _Ticker(interval_s=0.005), Flaky()
    with caplog.at_level("ERROR", logger="shardstream.metrics.sampler"):
        ticker.add(flaky)
        deadline = time.monotonic() + 5
        while flaky.looks < 20 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert flaky.looks >= 20
        assert len([r for r in caplog.records if "sampling metrics failed" in r.message]) == 1
        flaky.fail = False  # it works again: a later failure is news
        assert flaky.worked.wait(5)
        flaky.fail = True
        while len(caplog.records) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        ticker.discard(flaky)
    assert len([r for r in caplog.records if "sampling metrics failed" in r.message]) == 2
    thread = ticker._thread
    assert thread is None or thread.join(5) is None and not thread.is_alive()  # nothing left: the thread ends
