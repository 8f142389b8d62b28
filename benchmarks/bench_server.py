"""The HTTP server (group ``server_*``): PutRecords / GetRecords through the Kinesis API.

    python -m pytest benchmarks/bench_server.py -p no:cacheprovider --benchmark-only

The real server (``shardstream serve``) and the bare aiohttp endpoint (the stack's floor:
reads, parses with orjson, answers a canned body of the same shape and size) each run in a
subprocess on a free loopback port; the load generator (``server_load.py load``) is a third
process sending back to back over one keep-alive connection for ``SERVER_SECONDS`` (env
``SHARDSTREAM_BENCH_SERVER_SECONDS``, default 3) per round.  For those tests the timed value
is just one load run's wall time (fixed length): the figure is ``extra_info["records_per_s"]``
(median over the rounds, each round's in ``records_per_s_rounds``), and the bare test of each
operation adds ``real_over_bare`` when the real one ran earlier in the session.  The paired,
interleaved ratios are in ``python benchmarks/server_load.py report``.

The boto3 tests time one ``put_records`` (500 x 100 B) / ``get_records`` (Limit 10,000) call
in this process against the real server; ``extra_info["records_per_s"]`` is records over the
median call time.
"""

from __future__ import annotations

import os
import statistics

import pytest
import server_load as sl

SECONDS = float(os.environ.get("SHARDSTREAM_BENCH_SERVER_SECONDS", "3"))
ROUNDS = int(os.environ.get("SHARDSTREAM_BENCH_SERVER_ROUNDS", "3"))

_rates: dict[tuple[str, str], float] = {}  # (op, kind) -> median records/s, for the ratios


@pytest.fixture(scope="module")
def real_url():
    with sl.server("real") as url:
        sl.setup_real(url)
        yield url


@pytest.fixture(scope="module")
def bare_url():
    with sl.server("bare") as url:
        yield url


def _load_bench(benchmark, url: str, op: str, kind: str) -> None:
    stream = sl.PUT_STREAM if op == "putrecords" else sl.GET_STREAM
    results: list[dict] = []

    def run():
        results.append(sl.load(url, op, SECONDS, stream))

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    per_round = [sl.rate(r) for r in results]
    med = statistics.median(per_round)
    _rates[(op, kind)] = med
    benchmark.extra_info.update(
        records_per_s=med,
        records_per_s_rounds=per_round,
        requests_per_s=statistics.median(r["requests"] / r["seconds"] for r in results),
        seconds_per_round=SECONDS,
        response_bytes=results[-1]["response_bytes"],
        request_bytes=results[-1]["request_bytes"],
    )
    if kind == "bare" and (op, "real") in _rates:
        benchmark.extra_info["real_over_bare"] = _rates[(op, "real")] / med


@pytest.mark.benchmark(group="server_putrecords")
def test_server_putrecords_real(benchmark, real_url):
    _load_bench(benchmark, real_url, "putrecords", "real")


@pytest.mark.benchmark(group="server_putrecords")
def test_server_putrecords_bare(benchmark, bare_url):
    _load_bench(benchmark, bare_url, "putrecords", "bare")


@pytest.mark.benchmark(group="server_getrecords")
def test_server_getrecords_real(benchmark, real_url):
    _load_bench(benchmark, real_url, "getrecords", "real")


@pytest.mark.benchmark(group="server_getrecords")
def test_server_getrecords_bare(benchmark, bare_url):
    _load_bench(benchmark, bare_url, "getrecords", "bare")


@pytest.fixture(scope="module")
def boto3_kinesis(real_url):
    from shardstream.testing import boto3_client

    return boto3_client(real_url)


@pytest.mark.benchmark(group="server_boto3")
def test_server_boto3_put_records(benchmark, boto3_kinesis):
    entries = [{"Data": d, "PartitionKey": k} for k, d in sl.make_records()]

    def run():
        out = boto3_kinesis.put_records(StreamName=sl.PUT_STREAM, Records=entries)
        assert out["FailedRecordCount"] == 0

    benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=2)
    benchmark.extra_info["records_per_s"] = sl.PUT_BATCH / benchmark.stats.stats.median


@pytest.mark.benchmark(group="server_boto3")
def test_server_boto3_get_records(benchmark, boto3_kinesis):
    it = boto3_kinesis.get_shard_iterator(
        StreamName=sl.GET_STREAM, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]

    def run():
        out = boto3_kinesis.get_records(ShardIterator=it, Limit=sl.GET_LIMIT)
        assert len(out["Records"]) == sl.GET_LIMIT

    benchmark.pedantic(run, rounds=15, iterations=1, warmup_rounds=1)
    benchmark.extra_info["records_per_s"] = sl.GET_LIMIT / benchmark.stats.stats.median
