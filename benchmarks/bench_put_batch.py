"""Stage 1, batch ingest: ``stream.put_batch(keys, data)`` of 1M records into 4 shards.

The stream is created once with ``evict_oldest=True`` and 64 MiB per shard and
warmed up with three full batches, so every timed put runs in steady state:
its rings are full, reused, and evict their oldest records.

Baselines over the same records: the naive pure-Python stream
(``naive.NaiveStream.put_batch``, a fresh store per round, so its lists start
empty) and a bare ``hashlib.md5(k.encode()).digest()`` loop over the keys.
``test_put_batch_pylists`` is put_batch fed Python lists (str keys, bytes
payloads), which it gathers natively into Arrow buffers: what taking lists costs.
"""

from __future__ import annotations

import data
import naive
import numpy as np
import pyarrow as pa
import pytest

import shardstream
from shardstream.routing import hash_keys
from shardstream.sequence_type import sequence_strings

pytestmark = pytest.mark.benchmark(group="put_batch")


@pytest.fixture(scope="module")
def stream(records):
    return data.steady_stream("bench-put-batch", records)


def test_put_batch_arrow(benchmark, stream, records):
    benchmark.extra_info.update(records=len(records), unit="records")
    table = benchmark.pedantic(stream.put_batch, args=(records.keys, records.data), rounds=10, iterations=1,
                               warmup_rounds=1)
    assert table.num_rows == len(records)


def test_put_batch_pylists(benchmark, stream, py_records):
    benchmark.extra_info.update(records=len(py_records), unit="records")
    table = benchmark.pedantic(stream.put_batch, args=(py_records.keys, py_records.data), rounds=5, iterations=1,
                               warmup_rounds=1)
    assert table.num_rows == len(py_records)


def test_put_batch_naive(benchmark, py_records):
    benchmark.extra_info.update(records=len(py_records), unit="records")

    def setup():
        return (naive.NaiveStream(data.SHARD_COUNT), py_records.keys, py_records.data), {}

    def put(store, keys, payloads):
        return store.put_batch(keys, payloads)

    shards, _ = benchmark.pedantic(put, setup=setup, rounds=3, iterations=1)
    assert len(shards) == len(py_records)


def test_put_batch_hashlib_loop(benchmark, py_records):
    benchmark.extra_info.update(records=len(py_records), unit="keys")
    benchmark.pedantic(naive.hashlib_loop, args=(py_records.keys,), rounds=3, iterations=1)


def test_put_batch_floor(benchmark, records):
    """The floor row of report.py: hash_keys plus a memcpy of the keys and payloads into reused memory."""
    src = [np.frombuffer(a.buffers()[2], dtype=np.uint8) for a in (records.keys, records.data)]
    dst = [np.empty_like(a) for a in src]

    def floor():
        hash_keys(records.keys)
        for s, d in zip(src, dst):
            np.copyto(d, s)

    benchmark.extra_info.update(records=len(records), unit="records")
    benchmark.pedantic(floor, rounds=10, iterations=1, warmup_rounds=1)


def test_put_batch_into_new_stream(benchmark, records):
    """Continuous ingest: one put_batch into a stream created just before (its rings grow as it goes)."""
    engine = shardstream.Engine(shard_limit=None)
    names = iter(range(1_000_000))

    def setup():
        stream = engine.create_stream(f"bench-new-{next(names)}", data.SHARD_COUNT,
                                      shard_capacity_bytes=256 << 20)
        return (stream,), {}

    def put(stream):
        table = stream.put_batch(records.keys, records.data)
        engine.delete_stream(stream.name)
        return table

    benchmark.extra_info.update(records=len(records), unit="records")
    table = benchmark.pedantic(put, setup=setup, rounds=5, iterations=1, warmup_rounds=1)
    assert table.num_rows == len(records)


def test_put_result_sequence_strings(benchmark, stream, records):
    """Formatting a put result's sequence numbers as the Kinesis strings (done on demand, not by the put)."""
    result = stream.put_batch(records.keys, records.data)
    benchmark.extra_info.update(records=len(records), unit="records")
    plain = benchmark.pedantic(sequence_strings, args=(result,), rounds=10, iterations=1, warmup_rounds=1)
    assert plain.column("sequence_number").type == pa.string()
