"""Stage 1b, one record at a time: ``stream.put_record(data, key)`` calls/s.

200k records (``--put-record-records``) put one call each into a 4-shard
steady-state stream, against ``naive.NaiveStream.put`` (fresh store per round)
over the same records.  Both loops are the same ``for k, d in zip(...)`` with
the bound method in a local.
"""

from __future__ import annotations

import data
import naive
import pytest

pytestmark = pytest.mark.benchmark(group="put_record")


@pytest.fixture(scope="module")
def pr_records(n_put_records) -> data.ListRecords:
    recs = data.list_records(max(n_put_records, 1))
    return recs


def put_each(put, keys, payloads):
    for k, d in zip(keys, payloads):
        put(d, k)


@pytest.fixture(scope="module")
def stream(records, pr_records):
    s = data.steady_stream("bench-put-record", records)  # rings full and wrapping: no fresh pages to fault in
    put_each(s.put_record, pr_records.keys, pr_records.data)  # warm up the allocator
    return s


def test_put_record(benchmark, stream, pr_records):
    benchmark.extra_info.update(records=len(pr_records), unit="records")
    benchmark.pedantic(put_each, args=(stream.put_record, pr_records.keys, pr_records.data), rounds=5,
                       iterations=1, warmup_rounds=1)


def test_put_record_naive(benchmark, pr_records):
    benchmark.extra_info.update(records=len(pr_records), unit="records")

    def setup():
        return (naive.NaiveStream(data.SHARD_COUNT).put, pr_records.keys, pr_records.data), {}

    benchmark.pedantic(put_each, setup=setup, rounds=5, iterations=1)
