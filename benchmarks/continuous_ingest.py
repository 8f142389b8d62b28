"""Continuous ingest into a new stream against the same into a pre-grown one, interleaved.

    python benchmarks/continuous_ingest.py [--records N] [--batches B] [--rounds R]

Each round creates a NEW 4-shard stream (256 MiB per shard, the engine's default) and
times ``put_batch`` of ``--batches`` batches of ``--records`` records (100-byte payloads)
back to back, each batch timed alone; then the same batches into a pre-grown stream of
the same configuration (its rings already full and wrapping: the steady state).  Both
run in the same round, so the ratio is taken within one round; the report gives medians
over rounds of:

- ``ratio``: pre-grown median batch time / new-stream median batch time (goal >= 0.8);
- ``spike``: slowest new-stream batch / median new-stream batch (goal <= 1.5);
- ``overhead``: resident bytes per record beyond its key and payload while the batches
  fill a new stream (in a fresh process: RSS growth per record, minus key + payload);
- ``floor``: the ratio a new stream would reach if writing into never-touched memory cost
  only the kernel's page faults: pre-grown median / (pre-grown median + the extra time of
  copying a batch's ring bytes into fresh anonymous pages rather than touched ones).

Round 0 is the first new stream of the process: no ring was freed before it, so it writes
into fresh pages (``cold``, bounded by ``floor``).  From round 1 on, each new stream reserves
the previous one's parked reservation (see csrc/shardstream/ss_vmpool.h) and writes into
pages the process has already touched; ``SHARDSTREAM_RING_POOL_MB=0`` turns that off.

``report.py`` imports :func:`measure` for its continuous-ingest row.
"""

from __future__ import annotations

import argparse
import gc
import mmap
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import data  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

CAPACITY = 256 << 20  # the engine's default per-shard capacity


def rss_bytes() -> int:
    """Resident set size of this process, in bytes (from /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def overhead_per_record(records: int, batches: int) -> float:
    """Resident bytes per record beyond key + payload while ``batches`` puts fill a new stream.

    The RSS growth from after the first batch to after the last (the first also pays for the
    engine's one-off scratch buffers), over the records of those batches, minus their key and
    payload bytes.  Meaningful in a fresh process only (allocators keep freed memory).
    """
    rec = data.arrow_records(records)
    stream = data.new_stream("ci-rss", shard_capacity_bytes=CAPACITY)
    rss = []
    for _ in range(batches):
        stream.put_batch(rec.keys, rec.data)
        gc.collect()
        pa.default_memory_pool().release_unused()  # put_batch's results, freed but kept by Arrow's pool
        rss.append(rss_bytes())
    return (rss[-1] - rss[0]) / ((batches - 1) * records) - rec.nbytes / records


def overhead_in_subprocess(records: int, batches: int) -> float:
    """:func:`overhead_per_record` run in a fresh Python process."""
    code = f"import continuous_ingest as c; print(c.overhead_per_record({records}, {batches}))"
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def fresh_page_cost(src) -> float:
    """Seconds copying ``src`` into fresh anonymous pages costs beyond copying it into touched ones."""
    mm = mmap.mmap(-1, len(src))
    dst = np.frombuffer(mm, np.uint8)
    t0 = time.perf_counter()
    dst[:] = src  # every page faulted in (backed and zeroed by the kernel) on first touch
    t1 = time.perf_counter()
    dst[:] = src
    t2 = time.perf_counter()
    del dst
    mm.close()
    return max(0.0, (t1 - t0) - (t2 - t1))


def timed_batches(stream, rec, batches: int) -> list:
    """Put ``rec`` into ``stream`` ``batches`` times; return each batch's seconds (GC off)."""
    times = []
    gc.disable()
    try:
        for _ in range(batches):
            t0 = time.perf_counter()
            stream.put_batch(rec.keys, rec.data)
            times.append(time.perf_counter() - t0)
    finally:
        gc.enable()
    return times


def measure(records: int = 300_000, batches: int = 6, rounds: int = 5) -> dict:
    """Run ``rounds`` interleaved rounds; return per-round lists and their medians.

    Parameters
    ----------
    records : int
        Records per batch.
    batches : int
        Batches per stream per round.
    rounds : int
        Rounds (a new stream each round; one pre-grown stream for all).

    Returns
    -------
    dict
        ``new`` and ``grown`` (per-round lists of batch times), ``ratio``, ``spike``,
        ``overhead`` and ``floor`` (per-round lists) and ``median_*`` of each; ``cold``: round 0's
        ratio (no freed ring to recycle).
    """
    rec = data.arrow_records(records)
    per_batch = rec.nbytes + 24 * records
    grown = data.new_stream("ci-grown", shard_capacity_bytes=CAPACITY)
    for _ in range(2 + 2 * data.SHARD_COUNT * CAPACITY // per_batch):  # fill, then wrap every ring
        grown.put_batch(rec.keys, rec.data)
    src = np.ones(per_batch, np.uint8)  # the bytes a batch adds to the rings (keys, payloads, slots)
    out = {"new": [], "grown": [], "ratio": [], "spike": [], "overhead": [], "floor": []}
    for _ in range(rounds):
        stream = data.new_stream("ci-new", shard_capacity_bytes=CAPACITY)
        new = timed_batches(stream, rec, batches)
        del stream
        gc.collect()
        steady = timed_batches(grown, rec, batches)
        out["new"].append(new)
        out["grown"].append(steady)
        out["ratio"].append(statistics.median(steady) / statistics.median(new))
        out["spike"].append(max(new) / statistics.median(new))
        out["overhead"].append(overhead_in_subprocess(records, batches))
        faults = statistics.median(fresh_page_cost(src) for _ in range(3))
        out["floor"].append(statistics.median(steady) / (statistics.median(steady) + faults))
    out["cold"] = out["ratio"][0]
    for k in ("ratio", "spike", "overhead", "floor"):
        out["median_" + k] = statistics.median(out[k])
    out["median_new"] = statistics.median(statistics.median(t) for t in out["new"])
    out["median_grown"] = statistics.median(statistics.median(t) for t in out["grown"])
    return out


def main(argv=None) -> int:
    """Print the measurement as Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=300_000)
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    m = measure(args.records, args.batches, args.rounds)
    print(
        f"# continuous ingest: {args.batches} x put_batch of {args.records:,} records, 4 shards, {args.rounds} rounds\n"
    )
    print(
        "| Round | New stream, batches (ms) | Pre-grown, batches (ms) | Ratio | Fresh-page floor | Max/median | B/record |"
    )
    print("|---:|---|---|---:|---:|---:|---:|")
    for i, (n, g) in enumerate(zip(m["new"], m["grown"])):
        print(
            f"| {i} | {', '.join(f'{t * 1e3:.0f}' for t in n)} | {', '.join(f'{t * 1e3:.0f}' for t in g)} | "
            f"{m['ratio'][i]:.2f}× | {m['floor'][i]:.2f}× | {m['spike'][i]:.2f}× | {m['overhead'][i]:.1f} |"
        )
    print(
        f"\nMedians: new {m['median_new'] * 1e3:.1f} ms/batch, pre-grown {m['median_grown'] * 1e3:.1f} ms/batch, "
        f"ratio {m['median_ratio']:.2f}× (goal ≥ 0.8×), max/median {m['median_spike']:.2f}× (goal ≤ 1.5×), "
        f"{m['median_overhead']:.1f} B of RAM per record beyond key + payload (goal ≤ 24)\n"
        f"Round 0 (first new stream of the process, fresh pages only): ratio {m['cold']:.2f}× against a "
        f"fresh-page floor of {m['median_floor']:.2f}× (median over rounds)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
