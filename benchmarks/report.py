"""Run every workload and its baseline interleaved in one process; print a Markdown table.

    python benchmarks/report.py [--records N] [--rounds R] [--put-record-records M] [--warmup W]

Each round runs every workload once, in a fixed order, so a workload and its
baseline see the same machine load; a round's time is one
``time.perf_counter`` interval with the garbage collector disabled (setup,
such as building a fresh naive store, and freeing the result are outside the
interval).  The table shows medians over the rounds, and for each pair the
median of the per-round ratios (a workload and its baseline timed in the same
round see the same machine state, so pairing cancels most of the host's
drift): on a shared 2-core host only the ratios are meaningful.

It uses ``benchmarks/data.py`` and ``benchmarks/naive.py``, like the
pytest-benchmark suite, so both measure the same code on the same records.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import data  # noqa: E402
import naive  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

import shardstream  # noqa: E402
from shardstream.routing import hash_keys, md5_kernel, route_keys  # noqa: E402


@dataclass
class Workload:
    """One timed workload: ``setup()`` -> arg, ``run(arg)`` timed, ``teardown(arg, result)``.

    A ``run`` that returns a dict of name -> seconds reports sub-intervals,
    collected in ``extra`` for kept rounds.
    """

    name: str
    run: Callable[[Any], Any]
    setup: Callable[[], Any] | None = None
    teardown: Callable[[Any, Any], None] | None = None
    times: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # sub-interval name -> per-round seconds

    def once(self, keep: bool = False) -> float:
        """Run once (GC off while timing); with ``keep`` record the time (and sub-intervals)."""
        arg = self.setup() if self.setup is not None else None
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            result = self.run(arg)
            t1 = time.perf_counter()
        finally:
            gc.enable()
        if self.teardown is not None:
            self.teardown(arg, result)
        if keep:
            self.times.append(t1 - t0)
            if isinstance(result, dict):
                for k, v in result.items():
                    self.extra.setdefault(k, []).append(v)
        del result, arg
        return t1 - t0

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def put_each(put, keys, payloads):
    for k, d in zip(keys, payloads):
        put(d, k)


# -- environment ------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def versions() -> str:
    parts = [f"Python {platform.python_version()}", f"shardstream {shardstream.__version__}",
             f"numpy {np.__version__}", f"pyarrow {pa.__version__}"]
    try:
        import pandas as pd

        parts.append(f"pandas {pd.__version__}")
    except ImportError:
        parts.append("pandas (not installed)")
    return ", ".join(parts)


# -- formatting -------------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(count: float, seconds: float, unit: str) -> str:
    if unit == "GB":
        return f"{count / seconds / 1e9:.2f} GB/s"
    rate = count / seconds
    if rate >= 1e6:
        return f"{rate / 1e6:.2f} M {unit}/s"
    return f"{rate / 1e3:.0f} k {unit}/s"


def spread(w: Workload) -> str:
    return f"{min(w.times) / w.median:.2f}–{max(w.times) / w.median:.2f}"


# -- main -------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=data.N_RECORDS, help="records in the batch workloads")
    ap.add_argument("--rounds", type=int, default=7, help="timed rounds per workload (median reported)")
    ap.add_argument("--put-record-records", type=int, default=200_000, help="records in the per-record workloads")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    args = ap.parse_args(argv)
    n, npr = args.records, args.put_record_records

    t_setup = time.perf_counter()
    rec = data.arrow_records(n)
    py = data.list_records(n)
    pr = data.list_records(npr)

    put_stream = data.steady_stream("report-put-batch", rec)
    # steady state, as put_batch's: rings full and wrapping (a filling ring's first touch of each page
    # is a page fault, which on these VMs costs as much as the put itself; see continuous ingest)
    record_stream = data.steady_stream("report-put-record", rec)
    put_each(record_stream.put_record, pr.keys, pr.data)
    read_stream = data.filled_stream("report-read", rec, shard_capacity_bytes=max(
        data.SHARD_CAPACITY_BYTES, 2 * n * 200 // data.SHARD_COUNT))
    table = read_stream.read_table()
    nbytes = table.nbytes
    memcpy_src = np.ones(nbytes, dtype=np.uint8)
    memcpy_dst = np.empty_like(memcpy_src)
    naive_store = naive.NaiveStream(data.SHARD_COUNT)
    naive_store.put_batch(py.keys, py.data)
    # the floor of a put_batch: hashing its keys, and copying its keys and payloads once (into reused memory)
    floor_src = [np.frombuffer(a.buffers()[2], dtype=np.uint8) for a in (rec.keys, rec.data)]
    floor_dst = [np.empty_like(a) for a in floor_src]
    t_setup = time.perf_counter() - t_setup

    def put_floor(_):
        hash_keys(rec.keys)
        for src, dst in zip(floor_src, floor_dst):
            np.copyto(dst, src)

    def fresh_naive():
        return naive.NaiveStream(data.SHARD_COUNT)

    def filled_for_reshard():
        stream = shardstream.Engine(shard_limit=None).create_stream(
            "report-reshard", data.SHARD_COUNT, shard_capacity_bytes=512 << 20)
        stream.put_batch(rec.keys, rec.data)
        return stream

    def reshard_4_8_4(stream):
        stream.update_shard_count(2 * data.SHARD_COUNT)
        stream.update_shard_count(data.SHARD_COUNT)
        return stream

    W = {w.name: w for w in [
        Workload("put_batch_arrow", lambda _: put_stream.put_batch(rec.keys, rec.data)),
        Workload("put_batch_pylists", lambda _: put_stream.put_batch(py.keys, py.data)),
        Workload("put_floor", put_floor),
        Workload("naive_put_batch", lambda s: s.put_batch(py.keys, py.data), fresh_naive),
        Workload("hashlib_loop", lambda _: naive.hashlib_loop(py.keys)),
        Workload("hash_keys_simd", lambda _: hash_keys(rec.keys, simd=True)),
        Workload("hash_keys_scalar", lambda _: hash_keys(rec.keys, simd=False)),
        Workload("hash_keys_avx2", lambda _: hash_keys(rec.keys, kernel=md5_kernel("avx2"))),
        Workload("hash_keys_avx512", lambda _: hash_keys(rec.keys, kernel=md5_kernel("avx512"))),
        Workload("route_keys", lambda _: route_keys(rec.keys, data.SHARD_COUNT)),
        Workload("put_record", lambda _: put_each(record_stream.put_record, pr.keys, pr.data)),
        Workload("naive_put", lambda s: put_each(s.put, pr.keys, pr.data), fresh_naive),
        Workload("read_table_64k", lambda _: read_stream.read_table()),
        Workload("read_table_10k", lambda _: read_stream.read_table(batch_size=10_000)),
        Workload("read_table_stored", lambda _: read_stream.read_table(deaggregate=False)),
        Workload("read_table_64k_1t", lambda _: read_stream.read_table(use_threads=False)),
        Workload("memcpy_np_copy", lambda _: np.copy(memcpy_src)),
        Workload("memcpy_reused_dst", lambda _: np.copyto(memcpy_dst, memcpy_src)),
        Workload("naive_read_from_pylist", lambda _: naive_store.read_table()),
        Workload("to_pandas_arrow", lambda _: shardstream.to_pandas(table)),
        Workload("to_pandas_default", lambda _: table.to_pandas()),
        Workload("reshard_4_8_4", reshard_4_8_4, filled_for_reshard),
    ]}

    t_run = time.perf_counter()
    for r in range(args.warmup + args.rounds):
        for w in W.values():
            t = w.once()
            if r >= args.warmup:
                w.times.append(t)
    t_run = time.perf_counter() - t_run

    # (label, ours, count, unit, baseline label, baseline, target[, baseline count]):
    # ratio = our rate / the baseline's rate, per round (with equal counts, the
    # baseline's time over ours).
    rows = [
        (f"put_batch, Arrow arrays ({n:,} rec, 4 shards, steady state)", "put_batch_arrow", n, "rec",
         f"naive pure-Python put, one call per record ({npr:,} rec; rates compared)", "naive_put", 30, npr),
        ("put_batch, Arrow arrays", "put_batch_arrow", n, "rec",
         "naive pure-Python put_batch (a tight loop: hoisted locals, one timestamp per batch)",
         "naive_put_batch", None),
        ("put_batch, Arrow arrays", "put_batch_arrow", n, "rec",
         "`hashlib.md5(k.encode()).digest()` loop", "hashlib_loop", 7),
        ("put_batch, Arrow arrays", "put_batch_arrow", n, "rec",
         f"floor: hash_keys ({md5_kernel()}) + memcpy of the keys and payloads into reused memory",
         "put_floor", 0.6),
        ("put_batch, Python lists (str keys, bytes payloads: native gather)", "put_batch_pylists", n, "rec",
         "put_batch, Arrow arrays", "put_batch_arrow", 0.6),
        ("put_batch, Python lists", "put_batch_pylists", n, "rec",
         "naive pure-Python put_batch", "naive_put_batch", None),
        (f"hash_keys, AVX2 MD5 (ran: {md5_kernel('avx2')})", "hash_keys_avx2",
         n, "keys", "hash_keys simd=False (scalar C)", "hash_keys_scalar", 5),
        (f"hash_keys, AVX-512 MD5 (ran: {md5_kernel('avx512')})", "hash_keys_avx512",
         n, "keys", "hash_keys simd=False (scalar C)", "hash_keys_scalar", 8),
        ("hash_keys simd=True", "hash_keys_simd", n, "keys",
         "`hashlib.md5` loop", "hashlib_loop", None),
        ("route_keys (hash + 4-shard lookup)", "route_keys", n, "keys",
         "hash_keys simd=True", "hash_keys_simd", None),
        (f"put_record ({npr:,} calls, steady state)", "put_record", npr, "calls",
         "naive pure-Python put", "naive_put", 4),
        (f"read_table, 65,536-row batches ({nbytes / 1e6:.0f} MB)", "read_table_64k", nbytes, "GB",
         "np.copy of table.nbytes (fresh dst)", "memcpy_np_copy", 0.5),
        ("read_table, 10,000-row batches", "read_table_10k", nbytes, "GB",
         "np.copy of table.nbytes (fresh dst)", "memcpy_np_copy", 0.5),
        ("read_table, 65,536-row batches", "read_table_64k", nbytes, "GB",
         "np.copyto into a reused buffer", "memcpy_reused_dst", 0.75),
        ("read_table, 10,000-row batches", "read_table_10k", nbytes, "GB",
         "np.copyto into a reused buffer", "memcpy_reused_dst", 0.5),
        ("read_table(use_threads=False): shard by shard, one thread", "read_table_64k_1t", nbytes, "GB",
         "np.copyto into a reused buffer", "memcpy_reused_dst", None),
        ("read_table(deaggregate=False): records as stored", "read_table_stored", nbytes, "GB",
         "np.copyto into a reused buffer", "memcpy_reused_dst", 0.5),
        ("read_table, 65,536-row batches (user records: unpacking on)", "read_table_64k", n, "rec",
         "read_table(deaggregate=False)", "read_table_stored", None),
        ("read_table, 65,536-row batches", "read_table_64k", n, "rec",
         "naive read: `pa.Table.from_pylist`", "naive_read_from_pylist", None),
        ("shardstream.to_pandas (Arrow-backed dtypes)", "to_pandas_arrow", n, "rec",
         "`table.to_pandas()` (default dtypes)", "to_pandas_default", None),
        (f"update_shard_count 4→8→4 on a stream holding {n:,} records", "reshard_4_8_4", n, "rec",
         "put_batch of those records (records never move in a reshard)", "put_batch_arrow", None),
    ]

    flags = cpu_flags()
    print("# shardstream benchmark report\n")
    print(f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs; "
          f"avx2={'avx2' in flags}, avx512f={'avx512f' in flags}, sha_ni={'sha_ni' in flags})")
    print(f"- AVX2 MD5 kernel active: {shardstream.simd_available()}; simd=True runs: {md5_kernel()}")
    print(f"- Versions: {versions()}")
    print(f"- Load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"- Records: {n:,} (keys {data.KEY_MIN_CHARS}-{data.KEY_MAX_CHARS} chars, {data.PAYLOAD_BYTES}-byte "
          f"payloads, seed {data.SEED:#x}); per-record workloads: {npr:,}")
    print(f"- Rounds: {args.rounds} timed (+{args.warmup} warm-up), all workloads interleaved per round, "
          f"gc disabled while timing; setup {t_setup:.1f} s, timing {t_run:.1f} s")
    print()
    print("| Workload | Median | Rate | Baseline | Baseline median | Baseline rate | Ratio | Target | Met |")
    print("|---|---:|---:|---|---:|---:|---:|---:|:---:|")
    for label, ours, count, unit, blabel, base, target, *rest in rows:
        wo, wb = W[ours], W[base]
        bcount = rest[0] if rest else count  # a baseline run over another number of records: compare rates
        ratio = statistics.median((b / bcount) / (o / count) for b, o in zip(wb.times, wo.times))
        met = "" if target is None else ("yes" if ratio >= target else "**NO**")
        tgt = "" if target is None else f"≥ {target:g}×"
        print(f"| {label} | {fmt_time(wo.median)} | {fmt_rate(count, wo.median, unit)} | {blabel} | "
              f"{fmt_time(wb.median)} | {fmt_rate(bcount, wb.median, unit)} | {ratio:.2f}× | {tgt} | {met} |")
    print()
    print("Ratio = median over rounds of (baseline time / workload time) within the same round (for the "
          "GB/s rows that equals our GB/s divided by the baseline's, the bytes being the same).")
    print()
    print("`np.copy` allocates its destination: numpy asks for transparent huge pages on large arrays and, "
          "with THP defrag set to `madvise`, the kernel may compact memory synchronously first, so that "
          "baseline swings with the process's memory state (from ~10 GB/s down to under 1 GB/s). "
          "`np.copyto` into a reused buffer is the stable memcpy floor.")
    print()
    print("Spread of each workload's rounds (min/median – max/median):")
    print()
    print("| Workload | Rounds (s) | Spread |")
    print("|---|---|---:|")
    for w in W.values():
        print(f"| {w.name} | {', '.join(f'{t:.4f}' for t in w.times)} | {spread(w)} |")
    # Continuous ingest (issue 17): its own interleaving, new stream vs pre-grown, per round.
    import continuous_ingest

    ci = continuous_ingest.measure(300_000, 6, args.rounds)
    print(f"\nContinuous ingest (6 × put_batch of 300,000 records into a NEW 4-shard stream vs a pre-grown one, "
          f"{args.rounds} rounds): new {ci['median_new'] * 1e3:.1f} ms/batch, pre-grown "
          f"{ci['median_grown'] * 1e3:.1f} ms/batch, ratio {ci['median_ratio']:.2f}× (target ≥ 0.8×), slowest/median "
          f"batch {ci['median_spike']:.2f}× (target ≤ 1.5×), {ci['median_overhead']:.1f} B of RAM per record beyond "
          f"key + payload (target ≤ 24)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
