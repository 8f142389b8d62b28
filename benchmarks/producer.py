"""shardstream.Producer against hand-written loops over the same stream; what aggregation and compression save.

    python benchmarks/producer.py [--records N] [--rounds R] [--warmup W]

Two tables, in Markdown:

1. Throughput.  Each round sends the same ``N`` small JSON records (about 90 bytes, keys ``user-0`` ..
   ``user-999``) once through each workload, in a fixed order, so a workload and its baseline see the same
   machine load: over HTTP to ``shardstream serve`` (a subprocess on loopback), a :class:`Producer` on
   ``connect(url).stream(name)`` (one call out at a time, and four) against a hand-written loop of
   ``put_records`` calls of 500 entries; and
   embedded, a Producer on the :class:`Stream` against a hand-written ``put_batch`` loop of 500 records.  A
   Producer's time runs from the first ``send`` to the end of ``flush()`` (creating and closing it is outside
   the interval).  Medians over the rounds; ratio = the median of the per-round ratios (baseline time /
   workload time), the only meaningful number on a shared host.
2. Aggregation and compression over HTTP: per configuration, records/s, PutRecords calls and Kinesis records
   per 1,000 user records, and bytes sent per user record (data plus partition keys, from
   ``Producer.stats()``), against the plain Producer of the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from report import Workload, cpu_model, fmt_rate, fmt_time, versions  # noqa: E402
from server_load import server  # noqa: E402

import shardstream  # noqa: E402

STREAM = "bench-producer"
SHARDS = 4
CHUNK = 500
CONFIGS = [
    ("plain", {}),
    ("aggregate", {"aggregate": True}),
    ("aggregate + zstd", {"aggregate": True, "compression": "zstd"}),
    ("aggregate + lz4", {"aggregate": True, "compression": "lz4"}),
    ("aggregate + gzip", {"aggregate": True, "compression": "gzip"}),
    ("zstd (no aggregation)", {"compression": "zstd"}),
]


def make_records(n: int) -> list[tuple[str, bytes]]:
    """``n`` (key, small JSON payload) pairs: 1,000 users, click events."""
    out = []
    for i in range(n):
        user = f"user-{(i * 7919) % 1000}"
        doc = {"user": user, "event": "click", "ts": 1_700_000_000_000 + i, "page": f"/products/{i % 97}", "n": i}
        out.append((user, json.dumps(doc, separators=(",", ":")).encode()))
    return out


def put_records_loop(stream, records) -> None:
    """The hand-written baseline: PutRecords calls of 500 entries, failed entries sent again."""
    for start in range(0, len(records), CHUNK):
        pending = [{"Data": d, "PartitionKey": k} for k, d in records[start : start + CHUNK]]
        while pending:
            answer = stream.put_records(pending)
            if not answer["FailedRecordCount"]:
                break
            pending = [e for e, r in zip(pending, answer["Records"]) if "ErrorCode" in r]


def put_batch_loop(stream, records) -> None:
    """The embedded baseline: ``put_batch`` of 500 records at a time."""
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        stream.put_batch([k for k, _ in chunk], [d for _, d in chunk])


def producer_workload(name: str, stream, records, stats_out: list | None = None, **options) -> Workload:
    """A Workload that sends ``records`` through a new Producer on ``stream`` and flushes."""

    def setup():
        return shardstream.Producer(stream, **options)

    def run(producer):
        send = producer.send
        for key, data in records:
            send(data, key)
        producer.flush()

    def teardown(producer, _):
        producer.close()
        if stats_out is not None:
            stats_out.append(producer.stats())

    return Workload(name, run, setup, teardown)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=50_000, help="user records per workload")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds (median reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    args = ap.parse_args(argv)
    records = make_records(args.records)
    n = len(records)
    user_bytes = sum(len(k) + len(d) for k, d in records)

    with server("real") as url:
        remote_engine = shardstream.connect(url)
        remote_engine.create_stream(STREAM, SHARDS)
        remote = remote_engine.stream(STREAM)
        remote.wait_active()
        local = shardstream.Engine().create_stream(STREAM, SHARDS, shard_capacity_bytes=1 << 30)
        stats: dict[str, list] = {label: [] for label, _ in CONFIGS}
        loop = Workload("HTTP: put_records loop (500/call)", lambda _: put_records_loop(remote, records))
        pairs = [
            (producer_workload("HTTP: Producer", remote, records), loop),
            (producer_workload("HTTP: Producer, max_in_flight=4", remote, records, max_in_flight=4), loop),
            (
                producer_workload("embedded: Producer", local, records),
                Workload("embedded: put_batch loop (500/call)", lambda _: put_batch_loop(local, records)),
            ),
        ]
        configs = [producer_workload(label, remote, records, stats[label], **opts) for label, opts in CONFIGS]
        order = list({id(w): w for pair in pairs for w in pair}.values()) + configs
        for r in range(args.warmup + args.rounds):
            for w in order:
                w.once(keep=r >= args.warmup)
                if r < args.warmup and w.name in stats:
                    stats[w.name].clear()

    print(f"# Producer benchmark: {n} records ({user_bytes / n:.0f} bytes each, data + key), {args.rounds} rounds")
    print()
    print(f"{cpu_model()}; {versions()}; server: `shardstream serve` on loopback, {SHARDS} shards")
    print()
    print("| Workload | Median | Records/s | Baseline | Baseline median | Baseline records/s | Ratio |")
    print("|---|---|---|---|---|---|---|")
    for wo, wb in pairs:
        ratio = statistics.median(b / o for b, o in zip(wb.times, wo.times))
        print(
            f"| {wo.name} | {fmt_time(wo.median)} | {fmt_rate(n, wo.median, 'rec')} | {wb.name} | "
            f"{fmt_time(wb.median)} | {fmt_rate(n, wb.median, 'rec')} | {ratio:.2f}× |"
        )
    print()
    print("Ratio = median over rounds of (baseline time / Producer time) in the same round; > 1: the Producer")
    print("is faster.")
    print()
    plain = configs[0]
    print(
        "| Producer over HTTP | Median | Records/s | Time vs plain | PutRecords calls / 1k records | "
        "Kinesis records / 1k records | Bytes sent / record |"
    )
    print("|---|---|---|---|---|---|---|")
    for w in configs:
        s = stats[w.name][-1]
        rel = statistics.median(o / p for o, p in zip(w.times, plain.times))
        print(
            f"| {w.name} | {fmt_time(w.median)} | {fmt_rate(n, w.median, 'rec')} | {rel:.2f}× | "
            f"{1000 * s['put_calls'] / n:.2f} | {1000 * s['kinesis_records_sent'] / n:.2f} | "
            f"{s['put_bytes'] / n:.1f} |"
        )
    print()
    print("Bytes sent = data + partition keys of every entry of every call (retries included); the records as")
    print(f"given weigh {user_bytes / n:.1f} bytes each.  Time vs plain: median of per-round ratios (< 1: faster).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
