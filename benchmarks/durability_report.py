"""Durable streams (``Engine(data_dir=...)``) against the disk and Arrow baselines: interleaved, Markdown.

    python benchmarks/durability_report.py [--records N] [--rounds R] [--dir D] [--put-record-records M] [--sustained-passes P]

Three tables, every headline a ratio against a baseline timed in the same round:

1. **Ingest**: ``put_batch`` of ``N`` records (``data.arrow_records``, 4 shards) in
   batches of 10,000 and of 500 (the PutRecords size) into a fresh durable stream
   under each policy, timed up to and including ``engine.close()`` (which writes
   and ``fsync``-s whatever is still only in memory, so every row ends with all
   records on disk), and into an in-memory engine; plus a *sustained* row, the
   records put ``--sustained-passes`` times back to back under ``interval``, long
   enough for the background writer to run during the puts.  Baselines:

   * *pyarrow IPC writer*: the same records, as the very batches a durable stream
     stores (stored schema: the record columns plus ``counter``; 65,536 rows per
     batch, as a flush cuts them; read back once from a reference directory into
     memory), written with ``pa.ipc.new_stream`` to one ``pa.OSFile`` per shard,
     then each file and the directory ``fsync``-ed: what Arrow alone costs.
   * *pyarrow IPC writer, fsync per put*: the batches a ``sync`` stream stores
     (one per shard per put, read back from a ``sync``-written directory), the four
     shard files open at once and each written shard file ``fsync``-ed after every
     put: the like-for-like baseline of the ``sync`` rows.
   * *raw write*: one sequential ``os.write`` (8 MiB pieces) of the same segment
     bytes to one file, then ``fsync``: the disk floor.

2. **put_record**: ``M`` single-record puts into a ``sync`` stream from one thread
   and from four (the records split in four; group commit), against the loop a
   naive durable writer would run (``os.write`` of the payload + ``os.fsync`` per
   record), plus the same calls on ``interval`` and in-memory streams for scale.

3. **Recovery and read-back** of a directory holding ``N`` records: ``Engine(data_dir)``
   after a clean close (page cache hot, and cold: the segment files dropped from
   the page cache with ``posix_fadvise(DONTNEED)`` first), after a crash
   (``engine._crash()`` once the records were written and synced, copied afresh
   every round), and ``stream.read_table()`` of everything right after a reopen;
   for a directory written by one put and a close (so 65,536-row
   batches) and for one written by ``sync`` puts of 10,000 records (one small
   batch per shard per put).  Baselines in the same cache state:
   ``pa.ipc.open_stream(pa.OSFile(f)).read_all()`` of the same segment files (the
   bytes read into memory), the same plus ``zlib.crc32`` over every buffer (what a
   reader that checks the stored CRCs must do), and a raw sequential read of the
   files into a reused buffer.

Each round runs every workload once, the order reversed every other round; one
``time.perf_counter`` interval per run with the garbage collector disabled;
setup (fresh directories, engines, copies) and teardown (closing what a reopen
opened, deleting directories) are outside it.  Reported: medians, and for each
ratio the median of the per-round ratios (rate over baseline rate, so > 1 is
faster than the baseline).  Absolute rates are secondary: the hosts are shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import data  # noqa: E402
import pyarrow as pa  # noqa: E402
from report import Workload, cpu_model, fmt_time, versions  # noqa: E402

import shardstream  # noqa: E402

STREAM = "durability"
BATCH = 10_000  # records per put_batch
PUTRECORDS_BATCH = 500  # the PutRecords size
WRITE_CHUNK = 8 << 20  # raw write piece
NEVER_MS = 10**9  # a flush interval no benchmark reaches: only close() (or a full ring) writes


# -- workloads (shared with bench_durability.py) -----------------------------------------


def put_batches(stream, rec: data.ArrowRecords, batch: int, n: int | None = None) -> None:
    keys, payloads = rec.keys, rec.data
    put = stream.put_batch
    for i in range(0, len(rec) if n is None else n, batch):
        put(keys.slice(i, batch), payloads.slice(i, batch))


def put_each(put, keys, payloads) -> None:
    for k, d in zip(keys, payloads):
        put(d, k)


def put_each_threads(put, keys, payloads, threads: int) -> None:
    """``put_each`` with the records split in ``threads`` contiguous parts, one thread each."""
    step = -(-len(keys) // threads)
    workers = [
        threading.Thread(target=put_each, args=(put, keys[i : i + step], payloads[i : i + step]))
        for i in range(0, len(keys), step)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def open_durable(path, durability: str, **kw):
    """A fresh engine on ``path`` and its 4-shard stream."""
    engine = shardstream.Engine(shard_limit=None, data_dir=path, durability=durability, **kw)
    return engine, engine.create_stream(STREAM, data.SHARD_COUNT)


def durable_put(engine, stream, rec, batch: int, n: int | None = None, passes: int = 1) -> float:
    """Put (``passes`` times over the records) then close (everything on disk and synced); the put-only seconds."""
    t0 = time.perf_counter()
    for _ in range(passes):
        put_batches(stream, rec, batch, n)
    t1 = time.perf_counter()
    engine.close()
    return t1 - t0


def segment_files(data_dir) -> list[list[Path]]:
    """The segment files of every shard directory under ``data_dir``: one list per shard, in order."""
    shards: dict[Path, list[Path]] = {}
    for f in sorted(Path(data_dir).glob("streams/*/shards/*/*.arrows")):
        shards.setdefault(f.parent, []).append(f)
    return [shards[d] for d in sorted(shards)]


def dir_bytes(data_dir) -> int:
    return sum(f.stat().st_size for files in segment_files(data_dir) for f in files)


def make_reference(path, rec, *, durability: str = "none", batch: int | None = None, n: int | None = None,
                   crash: bool = False) -> Path:
    """A directory holding ``rec[:n]``.

    ``batch=None``: one put of everything into a ``none`` stream whose background
    writer never runs, so the close writes 65,536-row batches.  With ``batch``: puts
    of that size under ``durability``.  ``crash``: the records written and synced,
    then ``engine._crash()`` (no end-of-stream markers, directory not marked clean).
    """
    engine, stream = open_durable(path, durability, flush_interval_ms=NEVER_MS)
    n = len(rec) if n is None else n
    if batch is None:
        stream.put_batch(rec.keys.slice(0, n), rec.data.slice(0, n))
    else:
        put_batches(stream, rec, batch, n)
    if crash:
        engine.flush(sync=True)
        engine._crash()
    else:
        engine.close()
    return Path(path)


def load_batches(data_dir) -> list[list[pa.RecordBatch]]:
    """Every stored batch of every shard, read into memory (not memory-mapped)."""
    out = []
    for files in segment_files(data_dir):
        batches = []
        for f in files:
            with pa.ipc.open_stream(pa.py_buffer(f.read_bytes())) as reader:
                batches.extend(reader)
        out.append(batches)
    return out


def load_bytes(data_dir) -> list[bytes]:
    return [f.read_bytes() for files in segment_files(data_dir) for f in files]


def fsync_path(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def arrow_write(out_dir, shards: list[list[pa.RecordBatch]]) -> None:
    """Baseline: pyarrow's IPC stream writer, one file per shard, then fsync (files and directory)."""
    out_dir = Path(out_dir)
    for i, batches in enumerate(shards):
        path = str(out_dir / f"{i}.arrows")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, batches[0].schema) as writer:
            for b in batches:
                writer.write_batch(b)
        fsync_path(path)
    fsync_path(out_dir)


def arrow_write_fsync_per_put(out_dir, shards: list[list[pa.RecordBatch]]) -> None:
    """Baseline for ``sync``: the per-put batches, every shard file written and fsync-ed at each put."""
    out_dir = Path(out_dir)
    files, writers = [], []
    for i, batches in enumerate(shards):
        f = open(out_dir / f"{i}.arrows", "wb", buffering=0)  # noqa: SIM115 - closed below
        files.append(f)
        writers.append(pa.ipc.new_stream(f, batches[0].schema))
    fsync_path(out_dir)
    fds = [f.fileno() for f in files]
    fsync = os.fsync
    for put in zip(*shards):
        for w, b in zip(writers, put):
            w.write_batch(b)
        for fd in fds:
            fsync(fd)
    for w, f in zip(writers, files):
        w.close()
        fsync(f.fileno())
        f.close()


def raw_write(path, chunks: list) -> None:
    """Baseline: the same bytes, sequentially, to one file; then fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        write = os.write
        for chunk in chunks:
            mv = memoryview(chunk)
            for o in range(0, len(mv), WRITE_CHUNK):
                part = mv[o : o + WRITE_CHUNK]
                while part:
                    part = part[write(fd, part) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_fsync_each(path, payloads) -> None:
    """Baseline: a naive durable writer, ``os.write`` + ``os.fsync`` per record."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        write, fsync = os.write, os.fsync
        for d in payloads:
            write(fd, d)
            fsync(fd)
    finally:
        os.close(fd)


def drop_cache(data_dir) -> None:
    """Evict the (clean, synced) segment files from the page cache."""
    for files in segment_files(data_dir):
        for f in files:
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def copy_dir(src, dst) -> Path:
    """Copy a data directory and fsync its files (no dirty pages left to disturb the next timing)."""
    shutil.copytree(src, dst)
    for f in Path(dst).rglob("*"):
        if f.is_file():
            fsync_path(f)
    return Path(dst)


def reopen(data_dir):
    return shardstream.Engine(shard_limit=None, data_dir=data_dir)


def ipc_read(data_dir, crc: bool = False) -> int:
    """Baseline: ``pa.ipc.open_stream(pa.OSFile(f)).read_all()`` of every segment (optionally CRC every buffer)."""
    rows = 0
    for files in segment_files(data_dir):
        for f in files:
            with pa.OSFile(str(f)) as source:
                table = pa.ipc.open_stream(source).read_all()
            rows += table.num_rows
            if crc:
                c = 0
                for column in table.columns:
                    for chunk in column.chunks:
                        for buf in chunk.buffers():
                            if buf is not None:
                                c = zlib.crc32(buf, c)
                        if isinstance(chunk, pa.DictionaryArray):
                            for buf in chunk.dictionary.buffers():
                                if buf is not None:
                                    c = zlib.crc32(buf, c)
    return rows


def raw_read(data_dir, buf: bytearray) -> int:
    """Baseline: read every segment file sequentially into a reused buffer."""
    total = 0
    mv = memoryview(buf)
    for files in segment_files(data_dir):
        for f in files:
            with open(f, "rb", buffering=0) as src:
                while True:
                    got = src.readinto(mv[: WRITE_CHUNK])
                    if not got:
                        break
                    total += got
    return total


def read_all_shards(engine) -> pa.Table:
    return engine.stream(STREAM).read_table()


def stored_records(engine) -> int:
    """Records the reopened stream's segment logs hold (counters start at 1 in every shard)."""
    store = engine.stream(STREAM).store
    return sum(store.segment_log(i).last_counter() or 0 for i in range(data.SHARD_COUNT))


def check(what: str, got: int, expected: int) -> None:
    if got != expected:
        raise RuntimeError(f"{what}: {got:,}, expected {expected:,}: the workload did not do what it claims")


def git_state() -> str:
    """The commit, and a digest of any uncommitted change in src/ (read-only git calls, no index refresh)."""
    import hashlib
    import subprocess

    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    root = os.path.dirname(HERE)
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, env=env, capture_output=True,
                              text=True, check=True).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD", "--", "src"], cwd=root, env=env, capture_output=True,
                              check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + uncommitted src/ changes {hashlib.sha1(diff).hexdigest()[:8]}" if diff else head


# -- the report -------------------------------------------------------------------------


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k"
    return f"{x:.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=data.N_RECORDS, help="records in the batch and recovery workloads")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds (median reported)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    ap.add_argument("--put-record-records", type=int, default=5_000,
                    help="records in the put_record workloads (one fsync each under sync: keep it small)")
    ap.add_argument("--sustained-passes", type=int, default=4,
                    help="the sustained row puts the records this many times back to back (default 4)")
    ap.add_argument("--dir", default=tempfile.gettempdir(),
                    help="where to make the scratch directory (default: the temp dir); it is deleted at the end")
    args = ap.parse_args(argv)
    n, npr = args.records, args.put_record_records
    ns = n * args.sustained_passes
    n500 = max(n // 10, PUTRECORDS_BATCH)  # sync with 500-record puts: one fsync per shard per put, fewer records

    scratch = Path(tempfile.mkdtemp(prefix="shardstream-durability-", dir=args.dir))
    try:
        return run_report(args, n, npr, n500, ns, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_report(args, n: int, npr: int, n500: int, ns: int, scratch: Path) -> int:
    source = git_state()
    t_setup = time.perf_counter()
    rec = data.arrow_records(n)
    pr = data.list_records(npr)
    ref64 = make_reference(scratch / "ref-64k", rec)
    ref_sync = make_reference(scratch / "ref-sync-10k", rec, durability="sync", batch=BATCH)
    ref_sync500 = make_reference(scratch / "ref-sync-500", rec, durability="sync", batch=PUTRECORDS_BATCH, n=n500)
    crashed = make_reference(scratch / "ref-crashed", rec, crash=True)
    nbytes = dir_bytes(ref64)
    sync_nbytes = dir_bytes(ref_sync)
    batches64 = load_batches(ref64)
    batches_put = load_batches(ref_sync)
    batches_put500 = load_batches(ref_sync500)
    raw_chunks = load_bytes(ref64)
    read_buf = bytearray(WRITE_CHUNK)
    for shards, puts in ((batches_put, -(-n // BATCH)), (batches_put500, -(-n500 // PUTRECORDS_BATCH))):
        if {len(b) for b in shards} != {puts}:
            raise RuntimeError(f"expected {puts} batches per shard (one per put), found {[len(b) for b in shards]}")
    counter = iter(range(10**9))
    t_setup = time.perf_counter() - t_setup

    def fresh(prefix: str) -> Path:
        return scratch / f"{prefix}-{next(counter)}"

    def rm(path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    # -- setups and teardowns
    def durable_setup(durability: str):
        def setup():
            path = fresh(durability)
            engine, stream = open_durable(path, durability)
            return path, engine, stream
        return setup

    def durable_teardown(arg, _result) -> None:
        path, engine, stream = arg
        engine.close()
        # every record written: the segments' last counters add up to the records put
        got = sum(stream.store.segment_log(i).last_counter() or 0 for i in range(data.SHARD_COUNT))
        check(f"records on disk after {stream.durability}", got, stream_records.pop(id(stream), got))
        rm(path)

    def memory_setup():
        engine = shardstream.Engine(shard_limit=None)
        return None, engine, engine.create_stream(STREAM, data.SHARD_COUNT)

    def memory_teardown(arg, _result) -> None:
        arg[1].close()

    def out_dir_setup():
        path = fresh("out")
        path.mkdir()
        return path

    def rm_teardown(path, _result) -> None:
        rm(path)

    def close_teardown(_arg, engine) -> None:
        check("records found by the reopen", stored_records(engine), n)
        engine.close()

    def crashed_setup():
        return copy_dir(crashed, fresh("crashed"))

    def crashed_teardown(path, engine) -> None:
        check("records found by the crash recovery", stored_records(engine), n)
        engine.close()
        rm(path)

    def reopened(path):
        def setup():
            return reopen(path)
        return setup

    def close_arg(engine, table) -> None:
        check("rows read back", table.num_rows, n)
        engine.close()

    def cold(path):
        def setup():
            drop_cache(path)
            return path
        return setup

    def put_mem(batch: int):
        return lambda a: put_batches(a[2], rec, batch)

    stream_records: dict[int, int] = {}  # id(stream) -> records its workload puts (checked in the teardown)

    def put_durable(batch: int, count: int | None = None, passes: int = 1):
        def run(a):
            stream_records[id(a[2])] = (n if count is None else count) * passes
            return {"put": durable_put(a[1], a[2], rec, batch, count, passes)}
        return run

    def put_record_each(threads: int = 1):
        def run(a):
            stream_records[id(a[2])] = npr
            if threads == 1:
                put_each(a[2].put_record, pr.keys, pr.data)
            else:
                put_each_threads(a[2].put_record, pr.keys, pr.data, threads)
        return run

    def naive_setup():
        path = fresh("naive")
        path.mkdir()
        return path

    W = {w.name: w for w in [
        # ingest
        Workload("memory_put_10k", put_mem(BATCH), memory_setup, memory_teardown),
        Workload("sync_put_10k", put_durable(BATCH), durable_setup("sync"), durable_teardown),
        Workload("interval_put_10k", put_durable(BATCH), durable_setup("interval"), durable_teardown),
        Workload("none_put_10k", put_durable(BATCH), durable_setup("none"), durable_teardown),
        Workload("interval_put_10k_sustained", put_durable(BATCH, passes=args.sustained_passes),
                 durable_setup("interval"), durable_teardown),
        Workload("arrow_ipc_write_64k", lambda p: arrow_write(p, batches64), out_dir_setup, rm_teardown),
        Workload("arrow_ipc_fsync_per_put_10k", lambda p: arrow_write_fsync_per_put(p, batches_put),
                 out_dir_setup, rm_teardown),
        Workload("raw_write", lambda p: raw_write(p / "raw", raw_chunks), out_dir_setup, rm_teardown),
        Workload("memory_put_500", put_mem(PUTRECORDS_BATCH), memory_setup, memory_teardown),
        Workload("interval_put_500", put_durable(PUTRECORDS_BATCH), durable_setup("interval"), durable_teardown),
        Workload("none_put_500", put_durable(PUTRECORDS_BATCH), durable_setup("none"), durable_teardown),
        Workload("sync_put_500", put_durable(PUTRECORDS_BATCH, n500), durable_setup("sync"), durable_teardown),
        Workload("arrow_ipc_fsync_per_put_500", lambda p: arrow_write_fsync_per_put(p, batches_put500),
                 out_dir_setup, rm_teardown),
        # put_record
        Workload("sync_put_record_1t", put_record_each(1), durable_setup("sync"), durable_teardown),
        Workload("sync_put_record_4t", put_record_each(4), durable_setup("sync"), durable_teardown),
        Workload("write_fsync_per_record", lambda p: write_fsync_each(p / "log", pr.data), naive_setup, rm_teardown),
        Workload("interval_put_record_1t", put_record_each(1), durable_setup("interval"), durable_teardown),
        Workload("memory_put_record_1t", put_record_each(1), memory_setup, memory_teardown),
        # recovery and read-back
        Workload("reopen_clean", lambda _: reopen(ref64), None, close_teardown),
        Workload("reopen_clean_cold", lambda p: reopen(p), cold(ref64), close_teardown),
        Workload("reopen_after_crash", lambda p: reopen(p), crashed_setup, crashed_teardown),
        Workload("read_table_after_reopen", read_all_shards, reopened(ref64), close_arg),
        Workload("reopen_clean_sync_dir", lambda _: reopen(ref_sync), None, close_teardown),
        Workload("read_table_after_reopen_sync_dir", read_all_shards, reopened(ref_sync), close_arg),
        Workload("ipc_read", lambda _: ipc_read(ref64)),
        Workload("ipc_read_crc", lambda _: ipc_read(ref64, crc=True)),
        Workload("raw_read", lambda _: raw_read(ref64, read_buf)),
        Workload("ipc_read_cold", lambda p: ipc_read(p), cold(ref64)),
        Workload("raw_read_cold", lambda p: raw_read(p, read_buf), cold(ref64)),
    ]}

    order = list(W.values())
    t_run = time.perf_counter()
    for r in range(args.warmup + args.rounds):
        for w in order if r % 2 == 0 else reversed(order):
            w.once(keep=r >= args.warmup)
        print(f"round {r + 1}/{args.warmup + args.rounds} done ({time.perf_counter() - t_run:.0f} s)",
              file=sys.stderr, flush=True)
    t_run = time.perf_counter() - t_run

    def ratio(ours: str, base: str, count: int, bcount: int, sub: str | None = None) -> float:
        mine = W[ours].extra[sub] if sub else W[ours].times
        return statistics.median((b / bcount) / (o / count) for o, b in zip(mine, W[base].times))

    mb = nbytes / 1e6
    print("# shardstream durability report\n")
    print(f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs); load average at end: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    end_source = git_state()
    changed = "" if end_source == source else f" (**changed during the run**: now {end_source})"
    print(f"- Versions: {versions()}; source: {source}{changed}")
    print(f"- Scratch directory: {scratch} (filesystem of `--dir`; {shutil.disk_usage(scratch).free / 1e9:.0f} GB free)")
    print(f"- Records: {n:,} (keys {data.KEY_MIN_CHARS}-{data.KEY_MAX_CHARS} chars, {data.PAYLOAD_BYTES}-byte payloads: "
          f"{rec.nbytes / 1e6:.0f} MB of user data), 4 shards; stored as {mb:.1f} MB of Arrow IPC segments "
          f"(65,536-row batches; {sync_nbytes / 1e6:.1f} MB when written by sync puts of {BATCH:,}). "
          f"MB/s below are of those {mb:.0f} MB.")
    print(f"- put_record workloads: {npr:,} records; sync with {PUTRECORDS_BATCH}-record puts: {n500:,} records")
    print(f"- Rounds: {args.rounds} timed (+{args.warmup} warm-up), all workloads interleaved per round (order "
          f"reversed every other round), gc disabled while timing; setup {t_setup:.1f} s, timing {t_run:.1f} s")
    print()

    # -- table 1: ingest
    print(f"## Ingest: put_batch of {n:,} records, timed to the end of `engine.close()` (all on disk, synced)\n")
    print("| Workload | Median | Records/s | MB/s | × pyarrow IPC writer | × raw write | × pyarrow IPC, fsync per put |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ingest = [
        ("in-memory engine, puts of 10,000 (no data_dir)", "memory_put_10k", n, None),
        ("durable **sync**, puts of 10,000", "sync_put_10k", n, "arrow_ipc_fsync_per_put_10k"),
        ("durable **interval** (200 ms), puts of 10,000", "interval_put_10k", n, None),
        ("durable **none**, puts of 10,000", "none_put_10k", n, None),
        (f"durable **interval**, puts of 10,000, sustained: the records {ns // n}× back to back ({ns:,} records)",
         "interval_put_10k_sustained", ns, None),
        ("in-memory engine, puts of 500", "memory_put_500", n, None),
        ("durable **interval**, puts of 500", "interval_put_500", n, None),
        ("durable **none**, puts of 500", "none_put_500", n, None),
        (f"durable **sync**, puts of 500 ({n500:,} records)", "sync_put_500", n500, "arrow_ipc_fsync_per_put_500"),
        ("baseline: pyarrow IPC writer, 65,536-row batches, + fsync", "arrow_ipc_write_64k", n, None),
        ("baseline: pyarrow IPC writer, the sync batches, fsync per put of 10,000", "arrow_ipc_fsync_per_put_10k",
         n, None),
        (f"baseline: pyarrow IPC writer, the sync batches, fsync per put of 500 ({n500:,} records)",
         "arrow_ipc_fsync_per_put_500", n500, None),
        ("baseline: raw sequential write of the same bytes + fsync", "raw_write", n, None),
    ]
    for label, name, count, per_put in ingest:
        w = W[name]
        byts = nbytes * count / n
        like = f"{ratio(name, per_put, count, n if per_put.endswith('10k') else n500):.2f}×" if per_put else ""
        print(f"| {label} | {fmt_time(w.median)} | {fmt_rate(count / w.median)} | {byts / w.median / 1e6:,.0f} | "
              f"{ratio(name, 'arrow_ipc_write_64k', count, n):.2f}× | {ratio(name, 'raw_write', count, n):.2f}× | "
              f"{like} |")
    print()
    print("× = median over rounds of (this row's records/s ÷ the baseline's records/s) within the same round; "
          "< 1 is slower than the baseline.  The last column pairs each sync row with the Arrow writer that "
          "writes the same per-put batches and fsyncs each shard file after every put.")
    print()
    print("Put-only time (`put_batch` calls returned, before `close()`) and the close, for the background-writer "
          "policies:\n")
    print("| Workload | put-only median | close median | put-only records/s | put-only × in-memory put |")
    print("|---|---:|---:|---:|---:|")
    for name, mem, count in (("interval_put_10k", "memory_put_10k", n), ("none_put_10k", "memory_put_10k", n),
                             ("interval_put_10k_sustained", "memory_put_10k", ns),
                             ("interval_put_500", "memory_put_500", n), ("none_put_500", "memory_put_500", n),
                             ("sync_put_10k", "memory_put_10k", n)):
        w = W[name]
        put = statistics.median(w.extra["put"])
        close = statistics.median(t - p for t, p in zip(w.times, w.extra["put"]))
        print(f"| {name} | {fmt_time(put)} | {fmt_time(close)} | {fmt_rate(count / put)} | "
              f"{ratio(name, mem, count, n, sub='put'):.2f}× |")
    print()

    # -- table 2: put_record
    print(f"## put_record: {npr:,} single-record calls\n")
    print("| Workload | Median | Records/s | × naive write+fsync per record | × sync, 1 thread |")
    print("|---|---:|---:|---:|---:|")
    for label, name in (
        ("durable **sync**, 1 thread", "sync_put_record_1t"),
        ("durable **sync**, 4 threads (group commit)", "sync_put_record_4t"),
        ("baseline: `os.write` + `os.fsync` per record, 1 thread", "write_fsync_per_record"),
        ("durable **interval**, 1 thread (no fsync in the call)", "interval_put_record_1t"),
        ("in-memory engine, 1 thread", "memory_put_record_1t"),
    ):
        w = W[name]
        print(f"| {label} | {fmt_time(w.median)} | {fmt_rate(npr / w.median)} | "
              f"{ratio(name, 'write_fsync_per_record', npr, npr):.2f}× | "
              f"{ratio(name, 'sync_put_record_1t', npr, npr):.2f}× |")
    print()

    # -- table 3: recovery
    print(f"## Recovery and read-back of {n:,} records ({mb:.0f} MB of segments, 4 shards)\n")
    print("| Workload | Median | Records/s | MB/s | × pyarrow IPC read | × IPC read + CRC-32 | × raw read |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    hot = ("ipc_read", "ipc_read_crc", "raw_read")
    recovery = [
        ("`Engine(data_dir)` after a clean close", "reopen_clean", nbytes, hot),
        ("`Engine(data_dir)` after a clean close, page cache cold", "reopen_clean_cold", nbytes,
         ("ipc_read_cold", None, "raw_read_cold")),
        ("`Engine(data_dir)` after `engine._crash()`", "reopen_after_crash", nbytes, hot),
        ("`read_table()` of all shards right after a reopen", "read_table_after_reopen", nbytes, hot),
        (f"`Engine(data_dir)`, directory written by sync puts of {BATCH:,}", "reopen_clean_sync_dir", sync_nbytes, hot),
        ("`read_table()` after a reopen of that directory", "read_table_after_reopen_sync_dir", sync_nbytes, hot),
        ("baseline: `pa.ipc.open_stream(OSFile).read_all()` of the segments", "ipc_read", nbytes, hot),
        ("baseline: the same + `zlib.crc32` of every buffer", "ipc_read_crc", nbytes, hot),
        ("baseline: raw sequential read of the segment files", "raw_read", nbytes, hot),
        ("baseline: pyarrow IPC read, page cache cold", "ipc_read_cold", nbytes,
         ("ipc_read_cold", None, "raw_read_cold")),
        ("baseline: raw sequential read, page cache cold", "raw_read_cold", nbytes,
         ("ipc_read_cold", None, "raw_read_cold")),
    ]
    for label, name, byts, bases in recovery:
        w = W[name]
        cells = ["" if b is None else f"{ratio(name, b, n, n):.2f}×" for b in bases]
        print(f"| {label} | {fmt_time(w.median)} | {fmt_rate(n / w.median)} | {byts / w.median / 1e6:,.0f} | "
              f"{' | '.join(cells)} |")
    print()
    print("Cold: the segment files are evicted from the page cache (`posix_fadvise(POSIX_FADV_DONTNEED)`) in "
          "the setup, so the read comes from the disk, as after a reboot; the other rows read hot files, as "
          "after a process restart.")
    print()
    print("Spread of each workload's rounds (min/median – max/median):")
    print()
    print("| Workload | Rounds (s) | Spread |")
    print("|---|---|---:|")
    for w in W.values():
        print(f"| {w.name} | {', '.join(f'{t:.4f}' for t in w.times)} | "
              f"{min(w.times) / w.median:.2f}–{max(w.times) / w.median:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
