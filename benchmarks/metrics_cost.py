"""What metrics cost: ``put_batch`` and ``get_records`` with the engine's metrics on and off, in the same run.

Run: ``python benchmarks/metrics_cost.py [--rounds R]``.

IncomingRecords/IncomingBytes cost the write path nothing (the rings count as
they append; a sampler reads the counters once a second), so ``put_batch`` is
timed with the sampler running.  GetRecords is metered per call (five series
and a latency histogram): timed as 2,000 calls of 100 records and 200 calls of
10,000.  Each round alternates on and off; printed: medians of records/s and
of the per-round ratio on / off (1.0: free).
"""

from __future__ import annotations

import argparse
import statistics
import time

import shardstream

_N = 200_000


def _engine(enabled: bool):
    engine = shardstream.Engine()
    engine.metrics.enabled = enabled
    stream = engine.create_stream("m", 4)
    return engine, stream


def put_rate(enabled: bool) -> float:
    engine, stream = _engine(enabled)
    keys = [f"user-{i}" for i in range(_N)]
    data = [b"x" * 100] * _N
    began = time.perf_counter()
    for start in range(0, _N, 10_000):
        stream.put_batch(keys[start : start + 10_000], data[start : start + 10_000])
    rate = _N / (time.perf_counter() - began)
    engine.close()
    return rate


def get_rate(enabled: bool, limit: int) -> float:
    engine, stream = _engine(enabled)
    stream.put_batch([f"user-{i}" for i in range(_N)], [b"x" * 100] * _N)
    iterators = [stream.get_shard_iterator(s["ShardId"], "TRIM_HORIZON")["ShardIterator"] for s in stream.list_shards()]
    done = 0
    began = time.perf_counter()
    while iterators:
        out = []
        for iterator in iterators:
            response = stream.get_records(iterator, limit)
            done += len(response["Records"])
            if response["Records"]:
                out.append(response["NextShardIterator"])
        iterators = out
    rate = done / (time.perf_counter() - began)
    engine.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    work = {
        "put_batch (10,000 a call)": put_rate,
        "get_records (limit 100)": lambda on: get_rate(on, 100),
        "get_records (limit 10,000)": lambda on: get_rate(on, 10_000),
    }
    rates = {(name, on): [] for name in work for on in (True, False)}
    for r in range(args.rounds):
        for name, fn in work.items():
            for on in (True, False) if r % 2 else (False, True):
                rates[name, on].append(fn(on))
    print(f"{_N:,} records of 100 B, 4 shards, {args.rounds} rounds, medians\n")
    print("| workload | metrics on | metrics off | on / off |")
    print("|---|---:|---:|---:|")
    for name in work:
        on, off = rates[name, True], rates[name, False]
        ratio = statistics.median(a / b for a, b in zip(on, off))
        print(f"| {name} | {statistics.median(on):,.0f}/s | {statistics.median(off):,.0f}/s | {ratio:.3f} |")


if __name__ == "__main__":
    main()
