"""A throttled stream (Kinesis's per-shard limits emulated): every record arrives once, in order per key."""

from __future__ import annotations

from concurrent.futures import wait

import pytest

import shardstream
from shardstream import Producer, ThroughputLimits

from .helpers import payloads_by_key, read_back

FAST_RETRIES = {"max_retries": 10_000, "retry_deadline": None, "backoff_base": 0.005, "backoff_cap": 0.05}


def _check_exactly_once_in_order(stream, sent: dict[str, list[bytes]]) -> None:
    stored = payloads_by_key(stream)
    assert stored == sent  # every record once, each key's records in send order


@pytest.mark.parametrize("max_in_flight", [1, 4])
def test_ordered_producer_keeps_each_key_in_order_through_throttling(max_in_flight):
    limits = ThroughputLimits(write_records_per_s=400, write_bytes_per_s=64 * 1024)
    stream = shardstream.Engine().create_stream("throttled", shard_count=2, throughput_limits=limits)
    sent: dict[str, list[bytes]] = {}
    with Producer(stream, linger_ms=2, ordered=True, max_in_flight=max_in_flight, **FAST_RETRIES) as producer:
        futures = []
        for i in range(1200):
            key = f"key-{i % 12}"
            data = b"%s:%06d" % (key.encode(), i) + b"." * (i % 50)
            sent.setdefault(key, []).append(data)
            futures.append(producer.send(data, key))
    assert all(f.exception() is None for f in futures)
    _check_exactly_once_in_order(stream, sent)
    stats = producer.stats()
    assert stats["kinesis_records_retried"] > 0  # the limits did bite
    assert stats["user_records_sent"] == 1200 and stats["user_records_failed"] == 0
    # sequence numbers of one key increase in send order
    for key in sent:
        seqs = [int(f.result()["SequenceNumber"]) for f, i in zip(futures, range(1200)) if f"key-{i % 12}" == key]
        assert seqs == sorted(seqs)


def test_unordered_producer_still_delivers_everything_once():
    limits = ThroughputLimits(write_records_per_s=500)
    stream = shardstream.Engine().create_stream("throttled", shard_count=1, throughput_limits=limits)
    with Producer(stream, linger_ms=1, **FAST_RETRIES) as producer:
        futures = [producer.send(b"%d" % i, f"k{i % 5}") for i in range(1000)]
    done, _ = wait(futures, timeout=0)
    assert len(done) == 1000 and all(f.exception() is None for f in futures)
    stored = sorted(bytes(r["Data"]) for rs in read_back(stream).values() for r in rs)
    assert stored == sorted(b"%d" % i for i in range(1000))
    assert producer.stats()["kinesis_records_retried"] > 0


def test_retries_end_with_the_last_error():
    limits = ThroughputLimits(write_records_per_s=1)
    stream = shardstream.Engine().create_stream("throttled", shard_count=1, throughput_limits=limits)
    with Producer(stream, linger_ms=0, max_retries=2, backoff_base=0.001, backoff_cap=0.002) as producer:
        futures = [producer.send(b"x", "k") for _ in range(5)]
    errors = [f.exception() for f in futures if f.exception() is not None]
    assert errors and all(isinstance(e, shardstream.ProvisionedThroughputExceededException) for e in errors)
    assert "Rate exceeded for shard shardId-000000000000" in str(errors[0])
    stats = producer.stats()
    assert stats["kinesis_records_failed"] == len(errors)
    assert stats["kinesis_records_retried"] == 2 * len(errors)
