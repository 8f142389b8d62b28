"""What metrics cost: ``put_batch`` and ``get_records`` with the engine's metrics on and off, in the same run.

Run: ``python benchmarks/metrics_cost.py [--rounds R]``.

IncomingRecords/IncomingBytes cost the write path nothing (the rings count as
they append; a sampler reads the counters once a second), so ``put_batch`` is
timed on fresh streams with metrics on and off.  GetRecords is metered per call
(records, bytes, latency with a histogram, iterator age): timed on one stream
re-reading the same 100 and 10,000 records, toggling ``engine.metrics.enabled``
between ten short blocks a round (so the machine's drift hits both sides alike).  Rounds alternate which side goes first; printed: medians of
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
        # many short blocks, alternating with the other side's (see get_pair): drift hits both alike
        engine.metrics.enabled = enabled
        began = time.perf_counter()
        for _ in range(calls):
            stream.get_records(iterator, limit)
        return (time.perf_counter() - began) / calls

    def get_pair(limit: int, calls: int, blocks: int = 10) -> tuple[float, float]:
        on = off = 0.0
        for b in range(blocks):
            for enabled in (True, False) if b % 2 else (False, True):
                took = get_seconds(enabled, limit, calls // blocks)
                if enabled:
                    on += took
                else:
                    off += took
        return on / blocks, off / blocks

    work = {
        "put_batch (10,000 records a call)": None,
        "get_records (100 records a call)": (100, 10_000),
        "get_records (10,000 records a call)": (10_000, 100),
    }
    times = {(name, on): [] for name in work for on in (True, False)}
    for r in range(args.rounds):
        for name, reads in work.items():
            if reads is None:  # fresh streams each time: one timing per side
                for on in (True, False) if r % 2 else (False, True):
                    times[name, on].append(put_seconds(on))
                continue
            on_s, off_s = get_pair(*reads)
            times[name, True].append(on_s)
            times[name, False].append(off_s)
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
