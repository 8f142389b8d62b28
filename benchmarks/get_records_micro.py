"""In-process GetRecords: ``stream.get_records`` on a 1-shard stream of 10,000 x 100-byte records.

    python benchmarks/get_records_micro.py [RUNS]

Times ``get_records(it, 10000)`` and ``get_records(it, 10000, wire=True)`` (the boto3 and the
JSON-wire shapes of the same records) and the 1-record reads, with the garbage collector off,
and prints the median wall (``perf_counter``) and CPU (``process_time``) time per call.  On a
shared host the CPU time is the steadier figure; compare two builds by running this script
under each, alternately.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time

import shardstream

N = 10_000


def main(runs: int) -> None:
    engine = shardstream.Engine()
    engine.create_stream("m", 1)
    stream = engine.stream("m")
    payloads = os.urandom(100 * N)
    for i in range(0, N, 500):
        stream.put_records(
            [{"Data": payloads[j * 100 : (j + 1) * 100], "PartitionKey": f"key-{j:08d}"} for j in range(i, i + 500)]
        )
    shard = stream.list_shards()[0]["ShardId"]
    it = stream.get_shard_iterator(shard, "TRIM_HORIZON")["ShardIterator"]
    for name, limit, wire in (
        ("boto3 10k", N, False),
        ("wire 10k", N, True),
        ("boto3 1", 1, False),
        ("wire 1", 1, True),
    ):
        assert len(stream.get_records(it, limit, wire=wire)["Records"]) == limit
        reps = 1 if limit == N else 200
        wall, cpu = [], []
        for _ in range(runs):
            gc.collect()
            gc.disable()
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(reps):
                result = stream.get_records(it, limit, wire=wire)
            c1, t1 = time.process_time(), time.perf_counter()
            gc.enable()
            del result
            wall.append((t1 - t0) / reps)
            cpu.append((c1 - c0) / reps)
        print(
            f"{name}: wall median {statistics.median(wall) * 1e6:.1f} us, "
            f"cpu median {statistics.median(cpu) * 1e6:.1f} us ({runs} runs)"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
