"""The shard ring: back-pressure, eviction, retention trimming and wrap-around, against exact models."""

from __future__ import annotations

import collections
import random

import pytest
from conftest import ACCOUNT, FakeClock, read_all_get_records, shard_id
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream import ProvisionedThroughputExceededException

MIB = 1024 * 1024
CAP = 2 * MIB          # the smallest capacity a 1 MiB-record stream allows
SLOT = 24              # index bytes per record, counted against capacity
DAY_MS = 24 * 3_600_000


def fp(key: str, data: bytes) -> int:
    return len(key.encode()) + len(data) + SLOT


def contents(s, sid=shard_id(0)):
    return [(r["partition_key"], r["data"], r["sequence_number"]) for r in s.read_batch(sid).to_pylist()]


def stats(s, i=0):
    return s.shard_stats()[i]


def test_shard_stats_shape(stream):
    s = stream(2, shard_capacity_bytes=CAP)
    s.put_record(b"abc", "k", explicit_hash_key="0")
    st0, st1 = s.shard_stats()
    assert st0["ShardId"] == shard_id(0) and st0["Open"] is True
    assert st0["Records"] == 1 and st0["DataBytes"] == 3 and st0["FootprintBytes"] == 3 + 1 + SLOT
    assert st0["CapacityBytes"] == CAP
    assert st0["EvictedRecords"] == 0 and st0["TrimmedRecords"] == 0
    assert st0["OldestSequenceNumber"] == st0["NewestSequenceNumber"] == contents(s)[0][2]
    assert st1["Records"] == 0 and st1["OldestSequenceNumber"] is None and st1["NewestSequenceNumber"] is None


def test_capacity_back_pressure_changes_nothing(stream):
    s = stream(2, shard_capacity_bytes=CAP)
    data = b"\7" * 10_000
    per = fp("k", data)
    n_fit = CAP // per
    s.put_batch(["k"] * n_fit, [data] * n_fit, explicit_hash_keys=["0"] * n_fit)
    room = CAP - n_fit * per
    assert stats(s)["FootprintBytes"] == n_fit * per
    before = (s.shard_stats(), contents(s))
    prefix = f"Rate exceeded for shard shardId-000000000000 in stream {s.name}"
    attempts = [
        lambda: s.put_record(data, "k", explicit_hash_key="0"),
        lambda: s.put_batch(["k"], [data], explicit_hash_keys=["0"]),
        # a batch touching a shard with room and the full one: nothing is written anywhere
        lambda: s.put_batch(["k", "k"], [b"x", data], explicit_hash_keys=[str(2**128 - 1), "0"]),
        lambda: s.put_record(b"\0" * (room - SLOT), "k", explicit_hash_key="0"),  # one byte too many
    ]
    for attempt in attempts:
        with pytest.raises(ProvisionedThroughputExceededException) as ei:
            attempt()
        assert str(ei.value).startswith(prefix)
        assert (s.shard_stats(), contents(s)) == before
    assert stats(s)["EvictedRecords"] == 0
    assert s.shard_log(shard_id(0)).evicted_records == 0
    # the exact remaining room is usable, after which even an empty record fails
    s.put_record(b"\0" * (room - SLOT - 1), "k", explicit_hash_key="0")
    assert stats(s)["FootprintBytes"] == CAP
    with pytest.raises(ProvisionedThroughputExceededException):
        s.put_record(b"", "k", explicit_hash_key="0")
    assert stats(s)["Records"] == n_fit + 1


def test_batch_larger_than_capacity_is_refused(stream):
    s = stream(1, shard_capacity_bytes=CAP, evict_oldest=True)
    s.put_record(b"keep", "k")
    before = (s.shard_stats(), contents(s))
    with pytest.raises(ProvisionedThroughputExceededException):
        s.put_batch(["k"] * 3, [b"\0" * (MIB - 1)] * 3)
    assert (s.shard_stats(), contents(s)) == before


def test_refused_batch_evicts_nothing_in_other_shards(stream):
    s = stream(2, shard_capacity_bytes=CAP, evict_oldest=True)
    data = b"\1" * 100_000
    n = CAP // fp("k", data)
    s.put_batch(["k"] * n, [data] * n, explicit_hash_keys=["0"] * n)  # shard 0 full
    before = (s.shard_stats(), contents(s))
    keys = ["k"] * 4
    payloads = [data] + [b"\0" * (MIB - 1)] * 3                      # shard 1 part exceeds its capacity
    ehk = ["0"] + [str(2**128 - 1)] * 3
    with pytest.raises(ProvisionedThroughputExceededException):
        s.put_batch(keys, payloads, explicit_hash_keys=ehk)
    assert (s.shard_stats(), contents(s)) == before


def test_evict_oldest(stream):
    s = stream(1, shard_capacity_bytes=CAP, evict_oldest=True)
    data = [bytes([i % 256]) * 10_000 for i in range(260)]
    n_fit = CAP // fp("k", data[0])
    seqs = [s.put_record(d, "k")["SequenceNumber"] for d in data]
    st0 = stats(s)
    evicted = st0["EvictedRecords"]
    # Eviction drops the oldest records, at least 1/64 of the capacity at a
    # time (so appends do not each pay for touching the cold oldest slots):
    # never fewer than needed, never more than one such chunk beyond that.
    chunk = CAP // 64 // fp("k", data[0]) + 1
    assert len(data) - n_fit <= evicted <= len(data) - n_fit + chunk
    assert evicted == s.shard_log(shard_id(0)).evicted_records
    assert st0["Records"] == len(data) - evicted and st0["TrimmedRecords"] == 0
    assert st0["OldestSequenceNumber"] == seqs[evicted]
    expected = [("k", d, q) for d, q in zip(data[evicted:], seqs[evicted:])]
    assert contents(s) == expected
    got = read_all_get_records(s, shard_id(0), limit=37)
    assert [(r["PartitionKey"], r["Data"], r["SequenceNumber"]) for r in got] == expected
    # an iterator pointing at an evicted record starts at the trim horizon
    at = read_all_get_records(s, shard_id(0), "AT_SEQUENCE_NUMBER", starting_sequence_number=seqs[0])
    assert [r["SequenceNumber"] for r in at] == seqs[evicted:]


def test_retention_trimming(clock, clocked_engine):
    s = clocked_engine.create_stream("ret", 1, shard_capacity_bytes=CAP)
    old = [s.put_record(f"old{i}".encode(), "k")["SequenceNumber"] for i in range(5)]
    clock.advance(DAY_MS)  # exactly 24 h old: still retained
    it = s.get_shard_iterator(shard_id(0), "TRIM_HORIZON")["ShardIterator"]
    assert [r["sequence_number"] for r in s.read_batch(shard_id(0)).to_pylist()] == old
    clock.advance(1)
    new = s.put_record(b"new", "k")["SequenceNumber"]
    assert [r["SequenceNumber"] for r in read_all_get_records(s, shard_id(0))] == [new]
    assert [r["SequenceNumber"] for r in s.get_records(it)["Records"]] == [new]
    assert s.read_table().column("sequence_number").to_pylist() == [new]
    st0 = stats(s)
    assert st0["TrimmedRecords"] == 5 and st0["EvictedRecords"] == 0 and st0["Records"] == 1
    assert s.shard_log(shard_id(0)).trimmed_records == 5


def test_retention_trimming_on_read_only(clock, clocked_engine):
    s = clocked_engine.create_stream("ret2", 2, retention_hours=48)
    s.put_batch([f"k{i}" for i in range(40)], [b"x"] * 40)
    clock.advance(48 * 3_600_000 + 1)
    assert s.read_table().num_rows == 0
    for sid in (shard_id(0), shard_id(1)):
        assert read_all_get_records(s, sid) == []
    assert sum(x["TrimmedRecords"] for x in s.shard_stats()) == 40


def test_put_records_partial_failure(stream):
    s = stream(2, shard_capacity_bytes=CAP)
    data = b"\2" * 10_000
    per = fp("k", data)
    n = CAP // per - 1  # leaves room for exactly one more such record
    s.put_batch(["k"] * n, [data] * n, explicit_hash_keys=["0"] * n)
    high = str(2**128 - 1)
    entries = [
        {"Data": data, "PartitionKey": "k", "ExplicitHashKey": "0"},
        {"Data": b"a", "PartitionKey": "k", "ExplicitHashKey": high},
        {"Data": data, "PartitionKey": "k", "ExplicitHashKey": "0"},
        {"Data": b"b", "PartitionKey": "k", "ExplicitHashKey": high},
    ]
    resp = s.put_records(entries)
    assert resp["FailedRecordCount"] == 1
    r0, r1, r2, r3 = resp["Records"]
    assert set(r0) == {"SequenceNumber", "ShardId"} and r0["ShardId"] == shard_id(0)
    assert r1["ShardId"] == r3["ShardId"] == shard_id(1)
    assert r2 == {
        "ErrorCode": "ProvisionedThroughputExceededException",
        "ErrorMessage": f"Rate exceeded for shard shardId-000000000000 in stream {s.name} under account {ACCOUNT}.",
    }
    assert contents(s)[-1] == ("k", data, r0["SequenceNumber"])
    assert stats(s)["Records"] == n + 1
    assert contents(s, shard_id(1)) == [("k", b"a", r1["SequenceNumber"]), ("k", b"b", r3["SequenceNumber"])]
    # a PutRecords where every entry fails
    resp = s.put_records([{"Data": data, "PartitionKey": "k", "ExplicitHashKey": "0"}] * 3)
    assert resp["FailedRecordCount"] == 3
    assert all(r["ErrorCode"] == "ProvisionedThroughputExceededException" for r in resp["Records"])
    assert stats(s)["Records"] == n + 1


# -- wrap-around property against an exact model ----------------------------------------------------


class RingModel:
    def __init__(self, capacity, evict, retention_ms):
        self.capacity, self.evict, self.retention_ms = capacity, evict, retention_ms
        self.records = collections.deque()  # (key, data, ts)
        self.footprint = 0
        self.evicted = self.trimmed = 0

    def _drop_oldest(self):
        k, d, _ = self.records.popleft()
        self.footprint -= fp(k, d)

    def trim(self, now):
        while self.records and self.records[0][2] < now - self.retention_ms:
            self._drop_oldest()
            self.trimmed += 1

    def put(self, pairs, now) -> bool:
        self.trim(now)
        need = sum(fp(k, d) for k, d in pairs)
        if self.footprint + need > self.capacity:
            if not self.evict or need > self.capacity:
                return False
            # the ring frees at least 1/64 of its capacity per eviction
            over = max(self.footprint + need - self.capacity, self.capacity // 64)
            freed = 0
            while freed < over and self.records:
                freed += fp(*self.records[0][:2])
                self._drop_oldest()
                self.evicted += 1
        for k, d in pairs:
            self.records.append((k, d, now))
            self.footprint += fp(k, d)
        return True


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), evict=st.booleans(), max_size=st.sampled_from([0, 64, 3000, 40_000]),
       ops=st.integers(150, 400))
def test_ring_wraparound_matches_model(seed, evict, max_size, ops):
    rng = random.Random(seed)
    clock = FakeClock()
    e = shardstream.Engine(clock=clock)
    s = e.create_stream("w", 1, shard_capacity_bytes=CAP, evict_oldest=evict)
    model = RingModel(CAP, evict, 24 * 3_600_000)
    seqs = collections.deque()
    written = 0
    for _ in range(ops):
        if not evict and rng.random() < 0.1:
            clock.advance(rng.choice([1000, DAY_MS // 2, DAY_MS + 1]))
        n = 1 if rng.random() < 0.3 else rng.randint(1, 60)
        pairs = [(f"k{rng.randint(0, 999)}", rng.randbytes(rng.randint(0, max_size))) for _ in range(n)]
        ok = model.put(pairs, clock.now)
        try:
            if n == 1 and rng.random() < 0.5:
                got = [s.put_record(pairs[0][1], pairs[0][0])["SequenceNumber"]]
            else:
                got = s.put_batch([k for k, _ in pairs], [d for _, d in pairs]).column("sequence_number").to_pylist()
        except ProvisionedThroughputExceededException:
            assert not ok
            continue
        assert ok
        written += sum(len(d) + len(k) for k, d in pairs)
        seqs.extend(got)
    # reads trim too: bring the model to the same instant
    model.trim(clock.now)
    retained = list(seqs)[len(seqs) - len(model.records):] if model.records else []
    expected = [(k, d, q) for (k, d, _), q in zip(model.records, retained)]
    assert contents(s) == expected
    st0 = stats(s)
    assert st0["Records"] == len(model.records)
    assert st0["EvictedRecords"] == model.evicted
    assert st0["TrimmedRecords"] == model.trimmed
    assert st0["FootprintBytes"] == model.footprint <= CAP
    got = read_all_get_records(s, shard_id(0), limit=rng.randint(1, 500))
    assert [(r["PartitionKey"], r["Data"], r["SequenceNumber"]) for r in got] == expected
    if max_size >= 3000 and (evict or written > 3 * CAP):
        assert model.evicted + model.trimmed > 0
