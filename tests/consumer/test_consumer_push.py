"""An idle consumer-group worker on an embedded stream is woken by the shard's next write, not by its idle timer.

Every worker here pauses ``idle_ms=5000`` after an empty read: a record handed to ``process``
well within a second of its put was pushed by the write.  A stop still ends an idle worker promptly.
"""

from __future__ import annotations

import threading
import time

import pytest

import shardstream
from shardstream.consumer import Consumer, RecordProcessor

IDLE = {"failover_ms": 300, "idle_ms": 5000}
BOUND_S = 1.0  # far above a pushed record's latency, far below the 5 s idle pause


class Arrivals(RecordProcessor):
    """Notes when each record reached ``process``."""

    def __init__(self, seen: dict, got: threading.Event):
        self.seen, self.got = seen, got

    def process(self, records, checkpointer, millis_behind_latest):
        now = time.monotonic()
        for data in records.column("data").to_pylist():
            self.seen[data] = now
        self.got.set()


def idle_group(stream, seen, got, **kw):
    consumer = Consumer(stream, "g", lambda: Arrivals(seen, got), **IDLE, **kw).start()
    shards = len(stream.list_shards())
    # every shard's worker made its first (empty) read and sleeps on the write signal: idle
    assert consumer.wait_until(lambda: stream.writes.waiting == shards, timeout=10, interval=0.002)
    return consumer


@pytest.mark.parametrize("durability", [None, "sync"])
def test_an_idle_worker_gets_the_next_record_at_once(tmp_path, durability):
    engine = (
        shardstream.Engine() if durability is None else shardstream.Engine(data_dir=tmp_path, durability=durability)
    )
    stream = engine.create_stream("s", 2)
    seen, got = {}, threading.Event()
    consumer = idle_group(stream, seen, got)
    try:
        for i in range(3):
            got.clear()
            put_at = time.monotonic()
            stream.put_record(f"r{i}".encode(), f"key-{i}")
            assert got.wait(BOUND_S), "the write did not wake the idle worker"
            assert seen[f"r{i}".encode()] - put_at < BOUND_S
    finally:
        began = time.monotonic()
        consumer.stop()
        assert time.monotonic() - began < BOUND_S  # an idle worker hears the stop, not only the 5 s timer
        engine.close()


def test_a_write_to_another_shard_leaves_an_idle_worker_asleep():
    engine = shardstream.Engine()
    stream = engine.create_stream("s", 2)
    seen, got = {}, threading.Event()
    consumer = idle_group(stream, seen, got)
    try:
        first, second = (stream.shard_log(s["ShardId"]) for s in stream.list_shards())
        before = stream.writes.generation_of(second)
        stream.put_record(b"one", "k", explicit_hash_key="0")  # the first shard
        assert got.wait(BOUND_S) and list(seen) == [b"one"]
        assert stream.writes.generation_of(second) == before  # nothing the second shard's worker waits for moved
    finally:
        consumer.stop()
        engine.close()
