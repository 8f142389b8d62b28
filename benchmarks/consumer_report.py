"""End-to-end throughput of a consumer group, against one plain reader of the same stream.

    python benchmarks/consumer_report.py [--records 200000] [--rounds 3] [--shards 4]

Starts ``shardstream serve`` (a subprocess on a loopback port), writes ``--records``
records of 100 bytes into a ``--shards``-shard stream, then per round, interleaved:

* **group**: two worker processes of a fresh consumer group (``shardstream.Consumer`` over
  ``shardstream.connect(url)``, an SQLite lease file, Arrow batches, a checkpoint per batch)
  read the whole stream; timed from spawning them until the lease table shows every shard
  checkpointed at its last record;
* **plain**: one process reads every shard from TRIM_HORIZON with ``get_record_batch``
  until it has every record: what a hand-written reader costs, with no leases or checkpoints.

Both include starting a Python process.  Prints medians and the median of per-round
ratios (group records/s ÷ plain records/s).  The same file is the worker (``worker``)
and the reader (``plain``) entry point.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(HERE))

from server_load import free_port, stop  # noqa: E402

STREAM = "consume"


def run_worker(url: str, lease_file: str, group: str, worker_id: str) -> None:
    import shardstream

    class Count(shardstream.RecordProcessor):
        def process(self, records, checkpointer, millis_behind_latest):
            checkpointer.checkpoint()

    stream = shardstream.connect(url).stream(STREAM)
    shardstream.Consumer(
        stream, group, Count, worker_id=worker_id, leases=lease_file, failover_ms=1000, idle_ms=20
    ).run()


def run_plain(url: str, total: int) -> None:
    import shardstream

    stream = shardstream.connect(url).stream(STREAM)
    seen = 0
    iterators = {s["ShardId"]: stream.get_shard_iterator(s["ShardId"], "TRIM_HORIZON")["ShardIterator"]
                 for s in stream.list_shards()}
    while seen < total:
        for shard, it in list(iterators.items()):
            resp = stream.get_record_batch(it, 10_000)
            seen += resp["Records"].num_rows
            iterators[shard] = resp["NextShardIterator"]


def spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, HERE, *args], stdin=subprocess.DEVNULL)


def time_group(url: str, lease_dir: Path, last_by_shard: dict, round_no: int) -> float:
    from shardstream.consumer import SQLiteLeaseStore

    lease_file = lease_dir / f"leases-{round_no}.db"
    group = f"bench-{round_no}"
    t0 = time.perf_counter()
    workers = [spawn("worker", url, str(lease_file), group, f"w{i}") for i in range(2)]
    try:
        store = None
        while True:
            if lease_file.exists():
                store = store or SQLiteLeaseStore(lease_file, group)
                done = {lease.lease_key: lease.checkpoint for lease in store.list()}
                if all(done.get(shard) == seq for shard, seq in last_by_shard.items()):
                    break
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
    finally:
        for w in workers:
            w.send_signal(signal.SIGINT)
        for w in workers:
            w.wait(timeout=30)
    return elapsed


def time_plain(url: str, total: int) -> float:
    t0 = time.perf_counter()
    proc = spawn("plain", url, str(total))
    if proc.wait(timeout=300) != 0:
        raise RuntimeError("the plain reader failed")
    return time.perf_counter() - t0


def report(records: int, rounds: int, shards: int) -> None:
    import shardstream

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "shardstream", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                engine = shardstream.connect(url)
                engine.list_streams()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        engine.create_stream(STREAM, shard_count=shards)
        stream = engine.stream(STREAM)
        stream.wait_active()
        last_by_shard: dict[str, str] = {}
        for start in range(0, records, 50_000):
            n = min(50_000, records - start)
            table = stream.put_batch([f"key-{i}" for i in range(start, start + n)], [b"x" * 100] * n)
            for shard, seq in zip(table.column("shard_id").to_pylist(), table.column("sequence_number").to_pylist()):
                last_by_shard[shard] = seq
        group_times, plain_times, ratios = [], [], []
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(rounds):
                g = time_group(url, Path(tmp), last_by_shard, r)
                p = time_plain(url, records)
                group_times.append(g)
                plain_times.append(p)
                ratios.append(p / g)
                print(f"round {r + 1}/{rounds}: group {g:.2f} s, plain {p:.2f} s", file=sys.stderr)
    finally:
        stop(server)
    gm, pm = statistics.median(group_times), statistics.median(plain_times)
    print(f"# consumer group throughput ({records:,} records of 100 B, {shards} shards, {rounds} rounds)\n")
    print(f"- {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"- load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| Workload | Median | Records/s | × plain reader |")
    print("|---|---:|---:|---:|")
    print(f"| group of 2 worker processes (leases, checkpoint per batch) | {gm:.2f} s | {records / gm:,.0f} | "
          f"{statistics.median(ratios):.2f}× |")
    print(f"| one plain reader process (`get_record_batch` loops) | {pm:.2f} s | {records / pm:,.0f} | 1.00× |")
    print(f"\nRounds: group {', '.join(f'{t:.2f}' for t in group_times)} s; "
          f"plain {', '.join(f'{t:.2f}' for t in plain_times)} s")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="role")
    rep = sub.add_parser("report")
    rep.add_argument("--records", type=int, default=200_000)
    rep.add_argument("--rounds", type=int, default=3)
    rep.add_argument("--shards", type=int, default=4)
    w = sub.add_parser("worker")
    w.add_argument("url")
    w.add_argument("lease_file")
    w.add_argument("group")
    w.add_argument("worker_id")
    p = sub.add_parser("plain")
    p.add_argument("url")
    p.add_argument("total", type=int)
    args = ap.parse_args(argv if argv is not None else (sys.argv[1:] or ["report"]))
    if args.role == "worker":
        run_worker(args.url, args.lease_file, args.group, args.worker_id)
    elif args.role == "plain":
        run_plain(args.url, args.total)
    else:
        report(args.records, args.rounds, args.shards)


if __name__ == "__main__":
    main()
