"""The live dashboard: its data endpoint against known workloads, and the page in a real headless browser.

The browser is Debian's ``chromium`` (``.ci/run`` installs it), driven by Playwright's Python package
with ``executable_path``; the page runs while a producer writes over HTTP and a reader reads.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import FakeClock
from playwright.sync_api import sync_playwright

import shardstream
from shardstream.errors import KinesisError
from shardstream.server.dashboard import snapshot
from shardstream.testing import boto3_client, start_server

T0 = 1_700_000_000  # seconds
CHROMIUM = "/usr/bin/chromium"
STATIC = Path(shardstream.__file__).parent / "server" / "static" / "dashboard"


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


# -- the data, without a browser ---------------------------------------------------------------------------


@pytest.fixture
def workload():
    """An engine on a fake clock with a known history: writes, a read, throttles, a merge, a queue, an alarm."""
    clock = FakeClock(T0 * 1000)
    engine = shardstream.Engine(clock=clock)
    s = engine.create_stream("s", 2)
    t = engine.create_stream("t", 1, throughput_limits=True)
    engine.alarms.put_metric_alarm(
        AlarmName="busy",
        Namespace="AWS/Kinesis",
        MetricName="IncomingRecords",
        Dimensions=[{"Name": "StreamName", "Value": "s"}],
        Statistic="Sum",
        Period=1,
        EvaluationPeriods=1,
        Threshold=50,
        ComparisonOperator="GreaterThanThreshold",
    )
    keys = [f"k{i}" for i in range(100)]
    s.put_batch(keys, [b"x" * 10] * 100)  # second T0: 100 records, 1290 bytes
    engine.catalog.sampler.sample()
    clock.advance(1_000)
    refused = 0
    for _ in range(1_005):  # second T0+1: one shard takes 1000 records a second, the other 5 are throttled
        try:
            t.put_record(b"v", "k")
        except KinesisError:
            refused += 1
    assert refused == 5
    engine.catalog.sampler.sample()
    clock.advance(2_000)
    # second T0+3: a read of shard 0 from its start, three seconds behind the newest record
    iterator = s.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")["ShardIterator"]
    read = s.get_records(iterator, limit=10)
    assert len(read["Records"]) == 10 and read["MillisBehindLatest"] == 3_000
    s.update_shard_count(1)  # a merge: shard 2 with parents 0 and 1
    jobs = engine.create_stream("jobs", stream_mode="ON_DEMAND")
    queue = engine.create_queue("work", [{"StreamARN": jobs.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}])
    jobs.put_batch([f"j{i}" for i in range(10)], [b"v"] * 10)
    engine.queues.queue(queue["QueueDescription"]["QueueARN"]).receive_batch(4)
    engine.catalog.sampler.sample()
    clock.advance(1_000)  # now T0+4: the series end with second T0+3
    yield engine, len(read["Records"]), sum(len(r["Data"]) for r in read["Records"])
    engine.close()


def test_the_data_endpoint_answers_the_workloads_numbers(workload):
    engine, read_records, read_bytes = workload
    with start_server(engine) as server:
        status, content_type, body = get(server.url + "/_shardstream/dashboard/data?seconds=5")
    assert status == 200 and content_type == "application/json"
    data = json.loads(body)
    [region] = data["regions"]
    assert data["seconds"] == 5 and (region["region"], region["start"], region["end"]) == ("us-east-1", T0 - 1, T0 + 4)
    jobs, s, t = region["streams"]
    assert (jobs["name"], s["name"], t["name"]) == ("jobs", "s", "t")
    assert jobs["series"]["records_in"] == [0, 0, 0, 0, 10]
    assert s["series"]["records_in"] == [0, 100, 0, 0, 0]
    assert s["series"]["bytes_in"] == [0, 10 * 2 + 90 * 3 + 100 * 10, 0, 0, 0]
    assert read_records == 10
    assert s["series"]["records_out"] == [0, 0, 0, 0, read_records]
    assert s["series"]["bytes_out"] == [0, 0, 0, 0, read_bytes]
    assert s["series"]["iterator_age_ms"] == [None, None, None, None, 3_000]
    assert s["totals"] == {
        "records_in": 100,
        "bytes_in": 1290,
        "records_out": read_records,
        "bytes_out": read_bytes,
        "iterator_age_ms": 3_000,
        "write_throttles": 0,
        "read_throttles": 0,
    }
    assert t["series"]["records_in"] == [0, 0, 1_000, 0, 0]
    assert t["series"]["write_throttles"] == [0, 0, 5, 0, 0] and t["totals"]["write_throttles"] == 5
    # the shards: a merge of 0 and 1 into 2, hash keys as decimal strings
    shards = {shard["id"]: shard for shard in s["shards"]}
    assert set(shards) == {"shardId-000000000000", "shardId-000000000001", "shardId-000000000002"}
    first, second, merged = (shards[f"shardId-00000000000{i}"] for i in range(3))
    assert (first["open"], second["open"], merged["open"]) == (False, False, True)
    assert first["children"] == second["children"] == ["shardId-000000000002"]
    assert {merged["parent"], merged["adjacent_parent"]} == {"shardId-000000000000", "shardId-000000000001"}
    assert (merged["starting_hash_key"], merged["ending_hash_key"]) == ("0", str(2**128 - 1))
    assert first["ending_hash_key"] == str(2**127 - 1) and second["starting_hash_key"] == str(2**127)
    assert first["records"] + second["records"] == 100 and merged["records"] == 0
    # the queue and the alarm
    [queue] = region["queues"]
    assert (queue["name"], queue["in_flight"], queue["dead_letters"]) == ("work", 4, 0)
    assert queue["series"]["in_flight"][-1] == 4
    [alarm] = region["alarms"]
    assert (alarm["name"], alarm["metric"], alarm["threshold"]) == ("busy", "IncomingRecords", 50)
    assert alarm["state"] == engine.alarms.describe_alarms()["MetricAlarms"][0]["StateValue"]
    assert alarm["state"] in ("OK", "ALARM", "INSUFFICIENT_DATA")


def test_the_series_are_the_metrics_apis(workload):
    engine, _, _ = workload
    [region] = snapshot([("us-east-1", engine)], seconds=10)["regions"]
    table = engine.metrics.table("IncomingRecords", {"StreamName": "t"}, start=region["start"], end=region["end"])
    assert sum(region["streams"][2]["series"]["records_in"]) == sum(table.column("sum").to_pylist()) == 1_000
    assert len(region["streams"][1]["series"]["records_in"]) == 10


def test_a_consumer_groups_lag_is_summed_over_its_shards():
    from shardstream.consumer import Consumer

    clock = FakeClock(T0 * 1000)
    engine = shardstream.Engine(clock=clock)
    stream = engine.create_stream("s", 2)
    stream.put_batch([f"k{i}" for i in range(60)], [b"v"] * 60)
    held = [log.count for log in stream.logs]
    seen = 0
    with Consumer(stream, "billing", max_records=10, idle_ms=10) as consumer:
        for batch in consumer:
            seen += len(batch.records)
            if seen >= 60:
                break
    clock.advance(1_000)  # the second of the reads is complete
    [region] = snapshot([("us-east-1", engine)], seconds=5)["regions"]
    lag = region["streams"][0]["consumer_lag"]["billing"]
    assert lag[:4] == [None] * 4
    per_shard = []
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        dims = {"StreamName": "s", "ConsumerGroup": "billing", "ShardId": shard}
        table = engine.metrics.table("ConsumerLagRecords", dims, namespace="shardstream", start=T0, end=T0 + 1)
        per_shard.append(table.column("maximum").to_pylist()[0])
    assert lag[4] == sum(per_shard)
    assert per_shard == [h - 10 for h in held]  # each shard's lag after its first batch of 10
    engine.close()


def test_the_page_and_its_assets_ship_in_the_package_and_load_nothing_from_elsewhere():
    names = sorted(p.name for p in STATIC.iterdir())
    assert names == ["dashboard.css", "dashboard.js", "index.html"]
    for path in STATIC.iterdir():
        text = path.read_text("utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name  # no external URL
    with start_server(shardstream.Engine()) as server:
        status, content_type, page = get(server.url + "/_shardstream/dashboard")
        assert status == 200 and content_type.startswith("text/html")
        assert b'src="/_shardstream/dashboard/static/dashboard.js"' in page
        status, content_type, script = get(server.url + "/_shardstream/dashboard/static/dashboard.js")
        assert (
            status == 200 and content_type.startswith("text/javascript") and b"/_shardstream/dashboard/data" in script
        )
        assert get(server.url + "/_shardstream/dashboard/static/dashboard.css")[0] == 200
        assert get(server.url + "/_shardstream/dashboard/static/..%2Fapp.py")[0] == 404
        assert get(server.url + "/_shardstream/dashboard/static/missing.js")[0] == 404
        assert get(server.url + "/_shardstream/dashboard/data?seconds=0")[0] == 400
        assert get(server.url + "/_shardstream/dashboard/data?seconds=x")[0] == 400


# -- the page in a real browser ----------------------------------------------------------------------------


class Workload:
    """A producer writing over HTTP and a reader reading, each in a thread, until stopped (60 s at most)."""

    def __init__(self, url: str, stream: str):
        self.url, self.stream = url, stream
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._guard, args=(f,), daemon=True) for f in (self._write, self._read)]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        assert not self.errors, self.errors

    def _guard(self, work):
        try:
            work(boto3_client(self.url), time.monotonic() + 60)
        except BaseException as exc:  # reported by __exit__
            self.errors.append(exc)

    def _write(self, kinesis, deadline):
        i = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            entries = [{"Data": b"payload-%06d" % (i + j), "PartitionKey": f"k{i + j}"} for j in range(20)]
            kinesis.put_records(StreamName=self.stream, Records=entries)
            i += 20
            self.stop.wait(0.05)

    def _read(self, kinesis, deadline):
        iterator = kinesis.get_shard_iterator(
            StreamName=self.stream, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator and not self.stop.is_set() and time.monotonic() < deadline:
            iterator = kinesis.get_records(ShardIterator=iterator, Limit=50).get("NextShardIterator")
            self.stop.wait(0.2)


def shown(page, stream: str) -> dict:
    """The stream card's window and displayed numbers, read in one go."""
    return page.evaluate(
        """(name) => {
            const card = document.querySelector(`[data-stream="${name}"]`);
            const text = (m) => card.querySelector(`[data-metric="${m}"]`).textContent;
            return {start: +card.dataset.start, end: +card.dataset.end,
                    total: text("records_in_total"), rate: text("records_in_rate")};
        }""",
        stream,
    )


def number(text: str) -> float:
    value = re.match(r"[\d,.]+", text).group(0).replace(",", "")
    return float(value) * (1000 if text[len(value) :].startswith("k") else 1)


def test_the_dashboard_moves_with_a_producer_and_agrees_with_the_metrics_api(tmp_path):
    engine = shardstream.Engine()
    with start_server(engine) as server:
        kinesis = boto3_client(server.url)
        kinesis.create_stream(StreamName="orders", ShardCount=1)
        engine.alarms.put_metric_alarm(
            AlarmName="orders-incoming",
            Namespace="AWS/Kinesis",
            MetricName="IncomingRecords",
            Dimensions=[{"Name": "StreamName", "Value": "orders"}],
            Statistic="Sum",
            Period=10,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
        )
        with Workload(server.url, "orders"), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                requested, errors = [], []
                page.on("request", lambda request: requested.append(request.url))
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(server.url + "/_shardstream/dashboard")
                total = '[data-stream="orders"] [data-metric="records_in_total"]'
                page.wait_for_function(f"() => +document.querySelector('{total}')?.dataset.value > 0", timeout=15_000)
                first = page.get_attribute(total, "data-value")
                # it moves: a later snapshot shows another total, without a reload
                page.wait_for_function(
                    f"(v) => document.querySelector('{total}').dataset.value !== v", arg=first, timeout=10_000
                )
                assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
                # what it shows is what the metrics API answers for the same seconds
                view = shown(page, "orders")
                table = engine.metrics.table(
                    "IncomingRecords", {"StreamName": "orders"}, start=view["start"], end=view["end"]
                )
                sums = table.column("sum").to_pylist()
                one_second = max(sums)
                assert view["end"] - view["start"] == 120 and one_second > 0
                assert abs(number(view["total"]) - sum(sums)) <= one_second
                last = engine.metrics.table(
                    "IncomingRecords", {"StreamName": "orders"}, start=view["end"] - 1, end=view["end"]
                )
                assert abs(number(view["rate"]) - sum(last.column("sum").to_pylist())) <= one_second
                # a reshard shows in the shards and their lineage
                kinesis.update_shard_count(StreamName="orders", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
                parent = '[data-stream="orders"] [data-shard="shardId-000000000000"]'
                page.wait_for_function(
                    f"() => document.querySelector('{parent} [data-field=state]')?.textContent === 'CLOSED'",
                    timeout=10_000,
                )
                assert page.text_content(f"{parent} [data-field=children]") == (
                    "shardId-000000000001, shardId-000000000002"
                )
                for child in ("shardId-000000000001", "shardId-000000000002"):
                    row = f'[data-stream="orders"] [data-shard="{child}"]'
                    assert page.text_content(f"{row} [data-field=parents]") == "shardId-000000000000"
                    assert page.text_content(f"{row} [data-field=state]") == "OPEN"
                # the alarm's state
                state = '[data-alarm="orders-incoming"] [data-field=alarm-state]'
                page.wait_for_function(
                    f"() => document.querySelector('{state}')?.textContent === 'ALARM'", timeout=15_000
                )
                [alarm] = engine.alarms.describe_alarms(AlarmNames=["orders-incoming"])["MetricAlarms"]
                assert alarm["StateValue"] == "ALARM"
                assert page.get_attribute("#status", "data-state") == "live"
                # everything the page loaded came from the server; no script error
                assert requested and all(url.startswith(server.url + "/_shardstream/dashboard") for url in requested)
                assert any(url.endswith("/dashboard.css") for url in requested)
                assert not errors, errors
                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                if os.environ.get("SHARDSTREAM_DASHBOARD_SCREENSHOT"):  # docs/dashboard.png is made this way
                    page.screenshot(path=os.environ["SHARDSTREAM_DASHBOARD_SCREENSHOT"], full_page=False)
            finally:
                browser.close()
