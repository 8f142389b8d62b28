"""What metrics cost: ``put_batch`` and ``get_records`` with the engine's metrics on and off, in the same run.

Run: ``python benchmarks/metrics_cost.py [--rounds R]``.

IncomingRecords/IncomingBytes cost the write path nothing (the rings count as
they append; a sampler reads the counters once a second), so ``put_batch`` is
timed on fresh streams with metrics on and off.  GetRecords is metered per call
(records, bytes, latency with a histogram, iterator age): timed on one stream
re-reading the same 100 and 10,000 records, toggling ``engine.metrics.enabled``
between timings.  Rounds alternate which side goes first; printed: medians of
the per-round ratio of throughputs on / off (1.0: free) and of µs per call.
"""

from __future__ import annotations

import argparse
import statistics
import time

import shardstream

_N = 200_000


def put_seconds(enabled: bool) -> float:
    engine = shardstream.Engine()
    engine.metrics.enabled = enabled
    stream = engine.create_stream("m", 4)
    keys = [f"user-{i}" for i in range(_N)]
    data = [b"x" * 100] * _N
    began = time.perf_counter()
    for start in range(0, _N, 10_000):
        stream.put_batch(keys[start : start + 10_000], data[start : start + 10_000])
    took = time.perf_counter() - began
    engine.close()
    return took / (_N // 10_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    engine = shardstream.Engine()
    stream = engine.create_stream("g", 1)
    stream.put_batch([f"user-{i}" for i in range(10_000)], [b"x" * 100] * 10_000)
    iterator = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")["ShardIterator"]

    def get_seconds(enabled: bool, limit: int, calls: int) -> float:
        engine.metrics.enabled = enabled
        began = time.perf_counter()
        for _ in range(calls):
            stream.get_records(iterator, limit)
        return (time.perf_counter() - began) / calls

    work = {
        "put_batch (10,000 records a call)": put_seconds,
        "get_records (100 records a call)": lambda on: get_seconds(on, 100, 3_000),
        "get_records (10,000 records a call)": lambda on: get_seconds(on, 10_000, 60),
    }
    times = {(name, on): [] for name in work for on in (True, False)}
    for r in range(args.rounds):
        for name, fn in work.items():
            for on in (True, False) if r % 2 else (False, True):
                times[name, on].append(fn(on))
    engine.close()
    print(f"{args.rounds} rounds, medians; 100-byte records\n")
    print("| workload | µs a call, metrics on | µs a call, off | throughput on / off |")
    print("|---|---:|---:|---:|")
    for name in work:
        on, off = times[name, True], times[name, False]
        ratio = statistics.median(b / a for a, b in zip(on, off))
        print(f"| {name} | {statistics.median(on) * 1e6:,.1f} | {statistics.median(off) * 1e6:,.1f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
