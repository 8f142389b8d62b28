"""Consumers over KPL aggregates and compressed records: user records, sub-sequence checkpoints, resume, hash ranges."""

from __future__ import annotations

import threading

import pytest

import shardstream
from shardstream.aggregation import AggregateBuilder
from shardstream.compression import compress
from shardstream.consumer import Consumer, MemoryLeaseStore, RecordProcessor, SQLiteLeaseStore
from shardstream.consumer.leases import Lease

FAST = {"failover_ms": 300, "idle_ms": 20}
SHARD0, SHARD1 = "shardId-000000000000", "shardId-000000000001"


def _put_aggregate(stream, records, codec=None) -> str:
    """Aggregate ``records`` ((key, data, hash key)) with AggregateBuilder, put it, return its sequence number."""
    builder = AggregateBuilder()
    for key, data, hash_key in records:
        assert builder.try_add(key, data, hash_key)
    key, hash_key, data = builder.build()
    data = compress(data, codec) if codec else data
    return stream.put_record(data, key, explicit_hash_key=hash_key)["SequenceNumber"]


def _user_rows(records) -> list[tuple[str, int, str, bytes]]:
    """(sequence number, sub-sequence number, key, data) of a batch (arrow) or a list of dicts."""
    if isinstance(records, list):
        return [(r["SequenceNumber"], r["SubSequenceNumber"], r["PartitionKey"], r["Data"]) for r in records]
    return list(
        zip(
            records.column("sequence_number").to_pylist(),
            records.column("sub_sequence_number").to_pylist(),
            records.column("partition_key").to_pylist(),
            records.column("data").to_pylist(),
        )
    )


class Seen:
    """What the processors of one consumer saw, and how they started."""

    def __init__(self, checkpoint_at=None):
        self.lock = threading.Lock()
        self.rows: list[tuple[str, str, int, str, bytes]] = []  # shard, seq, sub, key, data
        self.starts: list[tuple[str, str, int]] = []
        self.checkpoint_at = checkpoint_at  # (seq, sub): checkpoint exactly there; None: checkpoint() per batch

    def processor(self):
        seen = self

        class Processor(RecordProcessor):
            def initialize_at(self, shard_id, starting_position, sub_sequence_number):
                self.shard_id = shard_id
                with seen.lock:
                    seen.starts.append((shard_id, starting_position, sub_sequence_number))

            def process(self, records, checkpointer, millis_behind_latest):
                rows = _user_rows(records)
                with seen.lock:
                    seen.rows += [(self.shard_id, *row) for row in rows]
                if seen.checkpoint_at is None:
                    checkpointer.checkpoint()
                elif seen.checkpoint_at in [row[:2] for row in rows]:
                    checkpointer.checkpoint(*seen.checkpoint_at)

        return Processor

    def count(self) -> int:
        with self.lock:
            return len(self.rows)


@pytest.mark.parametrize("record_format", ["arrow", "dicts"])
def test_user_records_and_a_restart_after_a_mid_aggregate_checkpoint(tmp_path, record_format):
    stream = shardstream.Engine().create_stream("orders", shard_count=1)
    expected = []  # (seq, sub, key, data) of every user record, in order
    seq = stream.put_record(b"plain-0", "p0")["SequenceNumber"]
    expected.append((seq, 0, "p0", b"plain-0"))
    inner = [(f"a{i}", f"agg-{i}".encode(), None) for i in range(5)]
    aggregate = _put_aggregate(stream, inner)
    expected += [(aggregate, i, key, data) for i, (key, data, _) in enumerate(inner)]
    squeezed = [(f"z{i}", b"zipped " * 20, str(i)) for i in range(4)]
    zipped = _put_aggregate(stream, squeezed, "zstd")
    expected += [(zipped, i, key, data) for i, (key, data, _) in enumerate(squeezed)]
    seq = stream.put_record(compress(b"gz " * 100, "gzip"), "p1")["SequenceNumber"]
    expected.append((seq, 0, "p1", b"gz " * 100))
    leases = tmp_path / "leases.db"
    kw = {"record_format": record_format, "leases": leases, "max_records": 2, **FAST}

    # the first worker sees every user record and checkpoints in the middle of the first aggregate
    first = Seen(checkpoint_at=(aggregate, 2))
    with Consumer(stream, "g", first.processor(), **kw) as consumer:
        assert consumer.wait_until(lambda: first.count() == len(expected), timeout=20)
    assert [row[1:] for row in first.rows] == expected
    assert first.starts == [(SHARD0, "TRIM_HORIZON", 0)]
    store = SQLiteLeaseStore(leases, "g")
    lease = store.get(SHARD0)
    assert (lease.checkpoint, lease.checkpoint_sub_sequence_number) == (aggregate, 2)

    # a second worker on the same lease file resumes right after (aggregate, 2): no loss, no duplicates
    after = stream.put_record(b"after", "p2")["SequenceNumber"]
    expected.append((after, 0, "p2", b"after"))
    resume = expected.index((aggregate, 3, "a3", b"agg-3"))
    second = Seen()  # checkpoint() after each batch: the last user record's (seq, sub)
    with Consumer(stream, "g", second.processor(), **kw) as consumer:
        assert consumer.wait_until(lambda: second.count() >= len(expected) - resume, timeout=20)
        assert consumer.wait_until(lambda: store.get(SHARD0).checkpoint == after, timeout=20)
    assert [row[1:] for row in second.rows] == expected[resume:]
    assert second.starts == [(SHARD0, aggregate, 2)]

    # a checkpoint at the last user record of an aggregate: the next worker starts after the whole aggregate
    last = _put_aggregate(stream, [("t0", b"t0", None), ("t1", b"t1", None), ("t2", b"t2", None)])
    third = Seen()
    with Consumer(stream, "g", third.processor(), **kw) as consumer:
        assert consumer.wait_until(lambda: third.count() == 3, timeout=20)
        assert consumer.wait_until(lambda: store.get(SHARD0).checkpoint_sub_sequence_number == 2, timeout=20)
    assert store.get(SHARD0).checkpoint == last
    fourth = Seen()
    tail = stream.put_record(b"tail", "p3")["SequenceNumber"]
    with Consumer(stream, "g", fourth.processor(), **kw) as consumer:
        assert consumer.wait_until(lambda: fourth.count() == 1, timeout=20)
    assert [row[1:] for row in fourth.rows] == [(tail, 0, "p3", b"tail")]
    assert fourth.starts == [(SHARD0, last, 2)]
    store.close()


@pytest.mark.parametrize("record_format", ["arrow", "dicts"])
@pytest.mark.parametrize("lease_has_hash_range", [True, False])
def test_user_records_outside_the_leased_shard_are_dropped(record_format, lease_has_hash_range):
    """KCL 2.x: an aggregate that holds keys of another shard (a stale aggregate after a reshard) only
    delivers the user records in the range of the shard it is in."""
    stream = shardstream.Engine().create_stream("orders", shard_count=2)
    half = 2**127  # shard 0 holds hash keys below, shard 1 the rest
    mixed = [("in-0", b"a", "1"), ("in-1", b"b", str(half + 5)), ("in-0b", b"c", "7"), ("in-1b", b"d", str(half))]
    seq = _put_aggregate(stream, mixed)  # routed by its first record: shard 0
    other = stream.put_record(b"plain", "k", explicit_hash_key=str(half + 1))["SequenceNumber"]
    store = MemoryLeaseStore()
    if not lease_has_hash_range:  # a lease table written without hash ranges: the worker asks ListShards
        for shard in (SHARD0, SHARD1):
            store.create_if_absent(Lease(shard))
    seen = Seen()
    with Consumer(stream, "g", seen.processor(), leases=store, record_format=record_format, **FAST) as consumer:
        assert consumer.wait_until(lambda: seen.count() == 3, timeout=20)
        assert consumer.wait_until(lambda: store.get(SHARD1).checkpoint == other, timeout=20)
    assert sorted(seen.rows) == [
        (SHARD0, seq, 0, "in-0", b"a"),
        (SHARD0, seq, 2, "in-0b", b"c"),
        (SHARD1, other, 0, "k", b"plain"),
    ]


def test_iterating_a_consumer_gives_user_records_and_checkpoints_them():
    stream = shardstream.Engine().create_stream("orders", shard_count=1)
    seq = _put_aggregate(stream, [("a", b"1", None), ("b", b"2", None)])
    store = MemoryLeaseStore()
    with Consumer(stream, "g", leases=store, **FAST) as consumer:
        batch = next(iter(consumer))
        assert _user_rows(batch.records) == [(seq, 0, "a", b"1"), (seq, 1, "b", b"2")]
        batch.checkpoint()
    lease = store.get(SHARD0)
    assert (lease.checkpoint, lease.checkpoint_sub_sequence_number) == (seq, 1)
