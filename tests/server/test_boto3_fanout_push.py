"""SubscribeToShard through a real server and boto3's event stream: records pushed on write, not polled for.

The engine's subscriptions poll only every 5 s and heartbeat as rarely, so an event that arrives
well within a second of the put was pushed by the write.
"""

from __future__ import annotations

import threading
import time

import pytest

import shardstream
from shardstream.testing import boto3_client, start_server

ACCT = "000000000000"
ARN = f"arn:aws:kinesis:us-east-1:{ACCT}:stream/s"
SID = "shardId-000000000000"
BOUND_S = 0.5  # far above the push's latency (about a millisecond), far below the 5 s poll


def until(condition, timeout=5.0) -> None:
    """Wait until ``condition()`` holds (the subscription being blocked has no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.001)


class EventReader(threading.Thread):
    """Iterates a boto3 event stream; ``got`` is set (with the time) at the first event with records."""

    def __init__(self, events):
        super().__init__(daemon=True)
        self.events = events
        self.first = threading.Event()
        self.got = threading.Event()
        self.at = None
        self.records = []

    def run(self) -> None:
        for event in self.events:
            self.first.set()
            body = event["SubscribeToShardEvent"]
            if body["Records"]:
                self.at, self.records = time.monotonic(), body["Records"]
                self.got.set()
                return


@pytest.mark.parametrize("durability", [None, "sync"])
def test_boto3_subscriber_gets_a_put_at_once(tmp_path, durability):
    engine = (
        shardstream.Engine() if durability is None else shardstream.Engine(data_dir=tmp_path, durability=durability)
    )
    engine.fanout.poll_interval_s = 5.0
    engine.fanout.heartbeat_s = 5.0
    try:
        with start_server(engine) as server:
            kinesis = boto3_client(server.url)
            kinesis.create_stream(StreamName="s", ShardCount=1)
            stream = engine.stream("s")
            arn = kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app")["Consumer"]["ConsumerARN"]
            events = kinesis.subscribe_to_shard(ConsumerARN=arn, ShardId=SID, StartingPosition={"Type": "LATEST"})
            reader = EventReader(events["EventStream"])
            reader.start()
            try:
                assert reader.first.wait(5)  # the subscription's first (empty) event
                until(lambda: stream.writes.waiting == 1)  # the server's subscription waits for a write
                began = time.monotonic()
                kinesis.put_record(StreamName="s", Data=b"pushed", PartitionKey="k")
                assert reader.got.wait(5)
                assert [r["Data"] for r in reader.records] == [b"pushed"]
                assert reader.at - began < BOUND_S
            finally:
                events["EventStream"].close()
                reader.join(5)
    finally:
        engine.close()
