"""The baselines: what a user would write in pure Python instead of shardstream.

``NaiveStream`` is a Kinesis-style stream as per-shard Python lists:

* routing: ``int.from_bytes(hashlib.md5(key.encode()).digest(), "big")`` then
  ``bisect_right`` over the starting hash keys of ``models.uniform_ranges``
  (exactly the routing Kinesis and shardstream use);
* storage: a dict of per-shard lists of ``(sequence, key, data, timestamp_ms)``
  tuples, with a per-shard integer counter as the sequence number;
* ``put`` is one record (returns a ``{"ShardId", "SequenceNumber"}`` dict like
  ``Stream.put_record``, with an int sequence number);
* ``put_batch`` loops over lists (one timestamp per batch, as shardstream does)
  and returns the shard index and sequence number of every record;
* ``read_table`` turns the store into a ``pyarrow.Table`` in shardstream's
  ``RECORD_SCHEMA`` with ``pa.Table.from_pylist``.

It is written the way a careful Python programmer would (hot names bound to
locals), not deliberately slow.  ``hashlib_loop`` is the floor of any
per-key Python routing: only the MD5 of each key.
"""

from __future__ import annotations

import hashlib
import time
from bisect import bisect_right

import pyarrow as pa

from shardstream.models import uniform_ranges
from shardstream.schema import RECORD_SCHEMA

__all__ = ["NaiveStream", "hashlib_loop"]


class NaiveStream:
    """Per-shard lists of ``(seq, key, data, ts)`` tuples with hashlib routing."""

    def __init__(self, shard_count: int = 4):
        self.starts = [start for start, _ in uniform_ranges(shard_count)]
        self.shard_ids = [f"shardId-{i:012d}" for i in range(shard_count)]
        self.shards: dict[int, list] = {i: [] for i in range(shard_count)}
        self.counters = [0] * shard_count

    def shard_of(self, key: str) -> int:
        return bisect_right(self.starts, int.from_bytes(hashlib.md5(key.encode()).digest(), "big")) - 1

    def put(self, data: bytes, key: str) -> dict:
        """One record, as ``Stream.put_record(data, key)``."""
        s = bisect_right(self.starts, int.from_bytes(hashlib.md5(key.encode()).digest(), "big")) - 1
        seq = self.counters[s]
        self.counters[s] = seq + 1
        self.shards[s].append((seq, key, data, time.time_ns() // 1_000_000))
        return {"ShardId": self.shard_ids[s], "SequenceNumber": seq}

    def put_batch(self, keys: list, data: list) -> tuple[list, list]:
        """Many records from Python lists; returns (shard index, sequence number) per record."""
        md5 = hashlib.md5
        from_bytes = int.from_bytes
        bisect = bisect_right
        starts = self.starts
        counters = self.counters
        appends = [self.shards[i].append for i in range(len(starts))]
        ts = time.time_ns() // 1_000_000
        out_shards: list = []
        out_seqs: list = []
        add_shard = out_shards.append
        add_seq = out_seqs.append
        for key, payload in zip(keys, data):
            s = bisect(starts, from_bytes(md5(key.encode()).digest(), "big")) - 1
            seq = counters[s]
            counters[s] = seq + 1
            appends[s]((seq, key, payload, ts))
            add_shard(s)
            add_seq(seq)
        return out_shards, out_seqs

    def __len__(self) -> int:
        return sum(len(v) for v in self.shards.values())

    def read_table(self) -> pa.Table:
        """Every record, shard by shard, into Arrow via ``pa.Table.from_pylist``."""
        rows = []
        add = rows.append
        for s, records in self.shards.items():
            shard_id = self.shard_ids[s]
            for seq, key, payload, ts in records:
                add({
                    "shard_id": shard_id,
                    "sequence_number": str(seq),
                    "partition_key": key,
                    "data": payload,
                    "approximate_arrival_timestamp": ts,
                })
        return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def hashlib_loop(keys: list) -> None:
    """``hashlib.md5(k.encode()).digest()`` for every key: the floor of per-key Python hashing."""
    md5 = hashlib.md5
    for k in keys:
        md5(k.encode()).digest()
