"""``shardstream top`` against a real server while records are written and read."""

from __future__ import annotations

import json
import threading

from click.testing import CliRunner

import shardstream
from shardstream.cli import main
from shardstream.testing import boto3_client, start_server


def test_top_shows_rates_held_records_and_queues():
    engine = shardstream.Engine()
    with start_server(engine) as server:
        kinesis = boto3_client(server.url)
        kinesis.create_stream(StreamName="clicks", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        arn = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
        config = [{"StreamARN": arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
        queue = kinesis.create_queue(QueueName="jobs", StreamConfigurationList=config)["QueueDescription"]["QueueARN"]
        stream = engine.stream("clicks")
        stop = threading.Event()

        def write():  # 200 records every 20 ms while top watches
            while not stop.is_set():
                stream.put_batch([f"u{i}" for i in range(200)], [b"x" * 50] * 200)
                stop.wait(0.02)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            kinesis.receive_queue_records(QueueARN=queue, Limit=3, WaitTimeSeconds=1)
            result = CliRunner().invoke(main, ["top", "--url", server.url, "--once", "--json", "--interval", "0.5"])
            table = CliRunner().invoke(main, ["top", "--url", server.url, "--once", "--interval", "0.1"])
        finally:
            stop.set()
            writer.join()
    engine.close()
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    [clicks] = view["streams"]
    assert clicks["stream"] == "clicks" and clicks["shards"] == 4
    assert clicks["records_in_per_s"] > 1_000  # ~10,000/s written; a loaded machine gets less
    assert clicks["bytes_in_per_s"] > 50 * clicks["records_in_per_s"]  # data and keys
    assert abs(sum(s["records_in_per_s"] for s in view["shards"]) - clicks["records_in_per_s"]) < 1e-6
    assert clicks["records_held"] >= 200
    assert view["queues"] == [{"region": "us-east-1", "queue": "jobs", "in_flight": 3, "dead_letters": 0}]
    assert table.exit_code == 0 and "clicks" in table.output and "jobs" in table.output


def test_top_says_clearly_when_the_server_is_not_there():
    result = CliRunner().invoke(main, ["top", "--url", "http://127.0.0.1:9", "--once"])
    assert result.exit_code == 1
    assert "cannot read http://127.0.0.1:9/_shardstream/metrics" in result.output
