"""Stage 2, reads: the 1M records of a 4-shard stream into Arrow and pandas.

* ``read_table()`` with the default 65,536-row batches and with 10,000-row batches,
  and with ``use_threads=False`` (shard by shard on one thread);
* ``shardstream.to_pandas(table)`` (Arrow-backed dtypes) vs ``table.to_pandas()``
  (default dtypes: ``bytes`` objects for ``data``);
* baselines: ``np.copy`` of a buffer of ``table.nbytes`` bytes (a memcpy into
  fresh memory, the floor of any read that materialises the table), ``np.copyto``
  into a reused buffer of that size (the memcpy floor without allocation), and the
  naive pure-Python read, ``pa.Table.from_pylist`` over the naive store's
  tuples (``naive.NaiveStream.read_table``).
"""

from __future__ import annotations

import data
import naive
import numpy as np
import pytest

import shardstream

pytestmark = pytest.mark.benchmark(group="read")


@pytest.fixture(scope="module")
def stream(records):
    return data.filled_stream("bench-read", records, shard_capacity_bytes=max(
        data.SHARD_CAPACITY_BYTES, 2 * len(records) * 200 // data.SHARD_COUNT))


@pytest.fixture(scope="module")
def table(stream):
    return stream.read_table()


@pytest.fixture(scope="module")
def naive_store(py_records):
    store = naive.NaiveStream(data.SHARD_COUNT)
    store.put_batch(py_records.keys, py_records.data)
    return store


def test_read_table(benchmark, stream, records):
    benchmark.extra_info.update(records=len(records), unit="records")
    t = benchmark.pedantic(stream.read_table, rounds=10, iterations=1, warmup_rounds=1)
    benchmark.extra_info["bytes"] = t.nbytes
    assert t.num_rows == len(records)


def test_read_table_batch_10k(benchmark, stream, records):
    benchmark.extra_info.update(records=len(records), unit="records")
    t = benchmark.pedantic(stream.read_table, kwargs={"batch_size": 10_000}, rounds=10, iterations=1,
                           warmup_rounds=1)
    assert t.num_rows == len(records)


def test_read_table_one_thread(benchmark, stream, records):
    benchmark.extra_info.update(records=len(records), unit="records")
    t = benchmark.pedantic(stream.read_table, kwargs={"use_threads": False}, rounds=10, iterations=1,
                           warmup_rounds=1)
    assert t.num_rows == len(records)


def test_read_memcpy_baseline(benchmark, table):
    buf = np.ones(table.nbytes, dtype=np.uint8)
    benchmark.extra_info.update(bytes=table.nbytes, unit="bytes")
    benchmark.pedantic(np.copy, args=(buf,), rounds=10, iterations=1, warmup_rounds=1)


def test_read_memcpy_reused_baseline(benchmark, table):
    src = np.ones(table.nbytes, dtype=np.uint8)
    dst = np.empty_like(src)
    benchmark.extra_info.update(bytes=table.nbytes, unit="bytes")
    benchmark.pedantic(np.copyto, args=(dst, src), rounds=10, iterations=1, warmup_rounds=1)


def test_read_naive_from_pylist(benchmark, naive_store, records):
    benchmark.extra_info.update(records=len(records), unit="records")
    t = benchmark.pedantic(naive_store.read_table, rounds=3, iterations=1)
    assert t.num_rows == len(records)


def test_to_pandas_arrow_dtypes(benchmark, table):
    benchmark.extra_info.update(records=table.num_rows, unit="records")
    df = benchmark.pedantic(shardstream.to_pandas, args=(table,), rounds=10, iterations=1, warmup_rounds=1)
    assert len(df) == table.num_rows


def test_to_pandas_default(benchmark, table):
    benchmark.extra_info.update(records=table.num_rows, unit="records")
    df = benchmark.pedantic(table.to_pandas, rounds=3, iterations=1)
    assert len(df) == table.num_rows
