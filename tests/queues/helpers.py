"""Helpers of the queue tests: an engine on a clock the test moves, an on-demand stream, a queue."""

from __future__ import annotations

from conftest import FakeClock

from shardstream import Engine


def setup(**engine_kw):
    """A fresh ``(clock, engine, stream)``: an on-demand stream of 4 shards on a clock the test moves."""
    clock = FakeClock()
    engine = Engine(clock=clock, **engine_kw)
    stream = engine.create_stream("jobs", stream_mode="ON_DEMAND")
    return clock, engine, stream


def make_queue(engine, stream, name="work", position="TRIM_HORIZON", **attributes):
    """Create a queue on ``stream`` and return its ARN."""
    config = [{"StreamARN": stream.arn, "StartingPosition": {"Type": position}}]
    response = engine.create_queue(name, config, attributes or None)
    return response["QueueDescription"]["QueueARN"]


def put(stream, n, prefix="r"):
    """Write ``n`` records ``<prefix>0`` ... and return their payloads."""
    data = [f"{prefix}{i}".encode() for i in range(n)]
    stream.put_batch([f"k{i}" for i in range(n)], data)
    return data


def entries(records):
    """Acknowledge entries for ``records``."""
    return [{"ReceiptHandle": r["ReceiptHandle"]} for r in records]
