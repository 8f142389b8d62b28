"""Resharding a stream that holds 1M records: ``update_shard_count`` 4 -> 8 -> 4.

Records never move in a reshard (parents close, children open), so its cost
is metadata and routing-table rebuilds, independent of the data held.  The
baseline, timed in the same run, is ingesting those records once with
``put_batch``.  After every round the read-back check reads the whole stream
and asserts every record is there exactly once, each key's records in order.
"""

from __future__ import annotations

import collections

import pytest

import shardstream

pytestmark = pytest.mark.benchmark(group="resharding")


def filled_stream(records):
    engine = shardstream.Engine(shard_limit=None)
    stream = engine.create_stream("bench-reshard", 4, shard_capacity_bytes=512 << 20)
    stream.put_batch(records.keys, records.data)
    return stream


def reshard_4_8_4(stream):
    stream.update_shard_count(8)
    stream.update_shard_count(4)


def check_read_back(stream, records):
    table = stream.read_table()
    assert table.num_rows == len(records)
    seen = collections.Counter(table.column("sequence_number").to_pylist())
    assert max(seen.values()) == 1
    per_key = collections.defaultdict(list)
    for key, seq in zip(table.column("partition_key").to_pylist(), table.column("sequence_number").to_pylist()):
        per_key[key].append(seq)
    assert all(v == sorted(v) for v in per_key.values())


def test_update_shard_count_4_8_4(benchmark, records):
    holder = {}

    def setup():
        holder["stream"] = filled_stream(records)
        return (holder["stream"],), {}

    benchmark.extra_info.update(records_held=len(records))
    benchmark.pedantic(reshard_4_8_4, setup=setup, rounds=5, iterations=1)
    stream = holder["stream"]
    assert stream.open_shard_count == 4 and len(stream.shards) == 4 + 8 + 4  # initial, split children, merge children
    check_read_back(stream, records)


def test_update_shard_count_baseline_put_batch(benchmark, records):
    def setup():
        engine = shardstream.Engine(shard_limit=None)
        return (engine.create_stream("bench-reshard-base", 4, shard_capacity_bytes=512 << 20),), {}

    benchmark.pedantic(lambda s: s.put_batch(records.keys, records.data), setup=setup, rounds=5, iterations=1)
