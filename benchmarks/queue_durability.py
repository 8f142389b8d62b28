"""What keeping a queue's delivery state on disk costs: receive + ack throughput by durability policy.

Run: ``python benchmarks/queue_durability.py [--records N] [--rounds R]``.

Each round drains ``N`` records of 100 B from a fresh TRIM_HORIZON queue with
``Queue.receive_batch(b)`` + ``Queue.settle(handles, "ack")`` at b = 10 and 100, on
an in-memory engine (the baseline) and on engines with a ``data_dir`` under each
durability policy: ``none`` (journal entries written, never synced), ``interval``
(synced by the maintenance thread) and ``sync`` (every acknowledgement ``fsync``-ed
before it returns).  Printed: medians of records/s and of the per-round ratio to
the in-memory queue.  The data directory is a temporary directory on the disk that
holds ``--dir`` (default: the system's temporary directory).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

from shardstream import Engine

_PAYLOAD = b"x" * 100


def drain(engine, n: int, batch: int, name: str) -> float:
    """Records/s of draining ``n`` fresh records from a new queue on ``engine``."""
    stream = engine.create_stream(name, stream_mode="ON_DEMAND")
    for start in range(0, n, 10_000):
        k = min(10_000, n - start)
        stream.put_batch([f"k{start + i}" for i in range(k)], [_PAYLOAD] * k)
    config = [{"StreamARN": stream.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
    queue = engine.queues.queue(engine.create_queue(name, config)["QueueDescription"]["QueueARN"])
    done = 0
    began = time.perf_counter()
    while done < n:
        table = queue.receive_batch(batch)
        if not table.num_rows:
            break
        done += int(queue.settle(table.column("receipt_handle"), "ack").sum())
    elapsed = time.perf_counter() - began
    assert done == n, (done, n)
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    policies = ["memory", "none", "interval", "sync"]
    rates: dict = {(p, b): [] for p in policies for b in (10, 100)}
    for r in range(args.rounds):
        for batch in (10, 100):
            for policy in policies:
                path = None if policy == "memory" else tempfile.mkdtemp(dir=args.dir)
                engine = Engine() if path is None else Engine(data_dir=path, durability=policy)
                try:
                    rates[policy, batch].append(drain(engine, args.records, batch, f"r{r}b{batch}"))
                finally:
                    engine.close()
                    if path:
                        shutil.rmtree(path, ignore_errors=True)
    print(f"{args.records:,} records of 100 B, {args.rounds} rounds, medians\n")
    print("| batch | policy | records/s | / in memory |")
    print("|---:|---|---:|---:|")
    for batch in (10, 100):
        base = rates["memory", batch]
        for policy in policies:
            ratio = statistics.median(x / b for x, b in zip(rates[policy, batch], base))
            print(f"| {batch} | {policy} | {statistics.median(rates[policy, batch]):,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
