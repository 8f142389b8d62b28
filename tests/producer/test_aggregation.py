"""aggregate=True and compression: fewer, smaller Kinesis records that KPL readers unpack to the user records."""

from __future__ import annotations

import json
import random

import pytest

import shardstream
from shardstream import Producer, ThroughputLimits
from shardstream.compression import is_compressed

from .helpers import RecordingStream, read_back, user_records


def _json_record(i: int) -> bytes:
    return json.dumps({"user": f"u{i % 50}", "event": "click", "n": i, "page": "/products/42"}).encode()


@pytest.fixture
def stream():
    return shardstream.Engine().create_stream("agg", shard_count=4)


def _route(stream, key: str) -> str:
    h = shardstream.hash_key(key)
    for s in stream.list_shards():
        r = s["HashKeyRange"]
        if (
            int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"])
            and "EndingSequenceNumber" not in s["SequenceNumberRange"]
        ):
            return s["ShardId"]
    raise AssertionError(key)


def test_aggregated_records_unpack_to_every_user_record_in_order(stream):
    recording = RecordingStream(stream)
    with Producer(recording, linger_ms=1000, aggregate=True) as producer:
        futures = [producer.send(_json_record(i), f"u{i % 50}") for i in range(2000)]
    results = [f.result() for f in futures]
    found = {(sid, seq, sub): (key, data) for sid, seq, sub, key, data in user_records(stream)}
    assert len(found) == 2000
    for i, res in enumerate(results):
        assert found[(res["ShardId"], res["SequenceNumber"], res["SubSequenceNumber"])] == (
            f"u{i % 50}",
            _json_record(i),
        )
        assert res["ShardId"] == _route(stream, f"u{i % 50}")  # grouped by the shard the key routes to
    kinesis_records = sum(len(rs) for rs in read_back(stream).values())
    assert kinesis_records <= 8  # an aggregate per shard (two if the linger ran out meanwhile), not 2000 records
    assert sum(n for n, _ in recording.calls) == kinesis_records
    stats = producer.stats()
    assert stats["user_records_sent"] == 2000 and stats["kinesis_records_sent"] == kinesis_records
    assert stats["user_bytes"] < stats["aggregated_bytes"] < 1.1 * stats["user_bytes"]  # a few bytes a record
    # per key, send order = (sequence number, sub-sequence number) order
    by_key: dict[str, list] = {}
    for i, res in enumerate(results):
        by_key.setdefault(f"u{i % 50}", []).append((int(res["SequenceNumber"]), res["SubSequenceNumber"]))
    assert all(v == sorted(v) for v in by_key.values())


def test_a_lone_record_is_not_aggregated(stream):
    with Producer(stream, linger_ms=1, aggregate=True) as producer:
        producer.send(b"alone", "k").result(timeout=5)
    (stored,) = [r for rs in read_back(stream).values() for r in rs]
    assert bytes(stored["Data"]) == b"alone" and stored["PartitionKey"] == "k"


def test_aggregates_stay_within_the_record_limit(stream):
    big = b"x" * 300_000
    recording = RecordingStream(stream)
    with Producer(recording, linger_ms=1000, aggregate=True) as producer:
        futures = [producer.send(big, "same-key") for _ in range(10)]
        futures.append(producer.send(b"y" * (1024 * 1024 - 10), "same-key"))  # too big to aggregate: alone
    assert all(f.result()["SequenceNumber"] for f in futures)
    stored = read_back(stream)[futures[0].result()["ShardId"]]
    assert all(len(r["Data"]) + len(r["PartitionKey"]) <= 1024 * 1024 for r in stored)
    assert len(stored) == 5  # 3 + 3 + 3 + 1 aggregated, and the big one alone
    assert sorted(sub for _, _, sub, _, _ in user_records(stream)) == [0] * 5 + [1] * 3 + [2] * 3


@pytest.mark.parametrize("codec", ["zstd", "gzip", "lz4"])
def test_compressed_aggregates(stream, codec):
    with Producer(stream, linger_ms=50, aggregate=True, compression=codec) as producer:
        futures = [producer.send(_json_record(i), f"u{i % 50}") for i in range(500)]
    assert all(f.exception() is None for f in futures)
    stored = [r for rs in read_back(stream).values() for r in rs]
    assert stored and all(is_compressed(bytes(r["Data"])) for r in stored)
    assert sorted(d for *_, d in user_records(stream)) == sorted(_json_record(i) for i in range(500))
    stats = producer.stats()
    assert stats["compressed_bytes"] < stats["aggregated_bytes"] / 2
    assert stats["put_bytes"] == stats["compressed_bytes"]


def test_compression_without_aggregation_leaves_records_that_would_grow(stream):
    with Producer(stream, linger_ms=5, compression="zstd") as producer:
        small = producer.send(b"tiny", "k")
        large = producer.send(b"abc" * 1000, "k")
    data = {r["SequenceNumber"]: bytes(r["Data"]) for rs in read_back(stream).values() for r in rs}
    assert data[small.result()["SequenceNumber"]] == b"tiny"
    assert is_compressed(data[large.result()["SequenceNumber"]])
    assert len(data[large.result()["SequenceNumber"]]) < 100


def test_a_reshard_refreshes_the_shard_map():
    engine = shardstream.Engine()
    stream = engine.create_stream("resharded", shard_count=1)
    with Producer(stream, linger_ms=1, aggregate=True) as producer:
        for i in range(100):
            producer.send(b"before", f"k{i}")
        producer.flush()
        stream.split_shard("shardId-000000000000", str(2**127))
        for i in range(100):
            producer.send(b"during", f"k{i}")
        producer.flush()
        after = [producer.send(b"after", f"k{i}") for i in range(100)]
    assert producer.stats()["shard_map_refreshes"] >= 1
    for i, f in enumerate(after):
        assert f.result()["ShardId"] == _route(stream, f"k{i}")
    records = user_records(stream)
    assert sorted(d for *_, d in records) == sorted([b"before"] * 100 + [b"during"] * 100 + [b"after"] * 100)


def test_ordered_aggregation_on_a_throttled_stream():
    # ~135 KB into 2 x 25 KB/s in 600 sends: throttled unless they took longer than ~1.7 s (they take ~0.05 s)
    limits = ThroughputLimits(write_records_per_s=20, write_bytes_per_s=25_000)
    stream = shardstream.Engine().create_stream("tight", shard_count=2, throughput_limits=limits)
    sent: dict[str, list[bytes]] = {}
    options = {"max_retries": 10_000, "retry_deadline": None, "backoff_base": 0.005, "backoff_cap": 0.05}
    with Producer(stream, linger_ms=5, aggregate=True, ordered=True, **options) as producer:
        for i in range(600):
            key = f"key-{i % 20}"
            data = b"%s:%06d" % (key.encode(), i) + random.Random(i).randbytes(210)  # not compressible
            sent.setdefault(key, []).append(data)
            producer.send(data, key)
    assert producer.stats()["kinesis_records_retried"] > 0
    got: dict[str, list[bytes]] = {}
    for _, _, _, key, data in user_records(stream):  # in stream order per shard, sub-sequence order within
        got.setdefault(key, []).append(data)
    assert got == sent


def test_read_table_unpacks_what_the_producer_packed(stream):
    with Producer(stream, linger_ms=20, aggregate=True, compression="zstd") as producer:
        futures = [producer.send(_json_record(i), f"u{i % 50}") for i in range(600)]
    table = stream.read_table()
    assert table.num_rows == 600
    rows = {
        (sid, seq, sub): (key, data)
        for sid, seq, sub, key, data in zip(
            table.column("shard_id").to_pylist(),
            table.column("sequence_number").to_pylist(),
            table.column("sub_sequence_number").to_pylist(),
            table.column("partition_key").to_pylist(),
            table.column("data").to_pylist(),
        )
    }
    for i, f in enumerate(futures):
        r = f.result()
        assert rows[(r["ShardId"], r["SequenceNumber"], r["SubSequenceNumber"])] == (f"u{i % 50}", _json_record(i))


class ThrottledListing:
    """A real stream whose first ListShards call is refused as Kinesis refuses one (LimitExceededException)."""

    def __init__(self, stream):
        self.stream = stream
        self.name = stream.name
        self.refused = 0

    def put_records(self, records):
        return self.stream.put_records(records)

    def list_shards(self, shard_filter=None):
        if not self.refused:
            self.refused += 1
            raise shardstream.LimitExceededException("Rate exceeded for ListShards")
        return self.stream.list_shards(shard_filter)


def test_a_batch_goes_unaggregated_when_the_shards_cannot_be_listed(stream):
    target = ThrottledListing(stream)
    with Producer(target, linger_ms=1000, aggregate=True) as producer:
        first = [producer.send(b"first", f"k{i}") for i in range(20)]
        producer.flush()
        second = [producer.send(b"second", f"k{i}") for i in range(20)]
    assert target.refused == 1
    assert all(f.result()["SubSequenceNumber"] == 0 for f in first)  # sent one by one
    assert len({f.result()["SequenceNumber"] for f in first}) == 20
    assert len({(f.result()["ShardId"], f.result()["SequenceNumber"]) for f in second}) <= 4  # aggregated again
    assert sorted(d for *_, d in user_records(stream)) == [b"first"] * 20 + [b"second"] * 20
