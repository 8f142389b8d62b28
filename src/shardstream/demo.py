"""``shardstream demo``: write synthetic records into a stream, read them back, report speeds.

The records are a deterministic function of ``(seed, records, record_size,
batch_size)``: partition keys ``user-<hex>`` of 16 to 36 characters and
payloads of ``record_size`` random bytes, generated with NumPy a batch at a
time.  They are ingested with :meth:`Stream.put_batch`, read back with
:meth:`Stream.read_table`, converted with :func:`shardstream.to_pandas`, and
checked: the read-back count, and each shard's count and first/last sequence
number, must agree with what the stream reports.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import click
import numpy as np
import pyarrow as pa

from .engine import DEFAULT_SHARD_CAPACITY_BYTES, Engine
from .errors import KinesisError

__all__ = ["DemoResult", "demo", "make_batch", "make_keys", "run_demo"]

KEY_PREFIX = b"user-"
MIN_KEY_LEN = 16
MAX_KEY_LEN = 36
DEMO_STREAM = "shardstream-demo"
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_MB = 1_000_000
MAX_SHARD_ROWS = 32  # the report lists at most this many shards, then one line for the rest
PANDAS_HINT = "the demo needs pandas: pip install 'shardstream[pandas]'"


def make_keys(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` partition keys ``user-<hex>``, 16 to 36 characters long.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (the keys depend only on its state).
    n : int
        Number of keys.

    Returns
    -------
    pyarrow.StringArray
        The keys, built straight from NumPy buffers (no Python strings).
    """
    lengths = rng.integers(MIN_KEY_LEN, MAX_KEY_LEN + 1, size=n, dtype=np.int32)
    chars = np.empty((n, MAX_KEY_LEN), dtype=np.uint8)
    chars[:, : len(KEY_PREFIX)] = np.frombuffer(KEY_PREFIX, dtype=np.uint8)
    chars[:, len(KEY_PREFIX) :] = _HEX[rng.integers(0, 16, size=(n, MAX_KEY_LEN - len(KEY_PREFIX)), dtype=np.uint8)]
    data = chars[np.arange(MAX_KEY_LEN, dtype=np.int32) < lengths[:, None]]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def make_batch(rng: np.random.Generator, n: int, record_size: int) -> tuple[pa.Array, np.ndarray]:
    """One batch of demo records.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        Number of records.
    record_size : int
        Bytes in each payload.

    Returns
    -------
    keys : pyarrow.StringArray
        See :func:`make_keys`.
    payloads : numpy.ndarray
        ``(n, record_size)`` ``uint8`` matrix, one payload per row.
    """
    keys = make_keys(rng, n)
    payloads = np.frombuffer(rng.bytes(n * record_size), dtype=np.uint8).reshape(n, record_size)
    return keys, payloads


@dataclass
class DemoResult:
    """What :func:`run_demo` measured.

    Attributes
    ----------
    records, shards, record_size, batch_size, seed : int
        The parameters of the run.
    written : int
        Records ingested.
    read : int
        Records read back (rows of the DataFrame).
    ingest_s, generate_s, read_s, pandas_s : float
        Seconds spent in ``put_batch``, generating data, ``read_table`` and
        ``to_pandas``.
    shards_table : list of dict
        Per shard: ``shard_id``, ``records``, ``data_bytes``,
        ``first_sequence_number``, ``last_sequence_number``.
    data_dir : str or None
        The data directory of a durable run.
    durability : str
        Its durability policy.
    close_s, reopen_s, reread_s : float
        Durable runs: seconds to close the engine (flush, sync, seal),
        reopen the directory (recovery) and read every record back from disk.
    problems : list of str
        Every check that failed (empty when all is well).
    """

    records: int
    shards: int
    record_size: int
    batch_size: int
    seed: int
    written: int = 0
    read: int = 0
    ingest_s: float = 0.0
    generate_s: float = 0.0
    read_s: float = 0.0
    pandas_s: float = 0.0
    shards_table: list = field(default_factory=list)
    data_dir: str | None = None
    durability: str = "sync"
    close_s: float = 0.0
    reopen_s: float = 0.0
    reread_s: float = 0.0
    problems: list = field(default_factory=list)

    @property
    def data_bytes(self) -> int:
        """Payload bytes ingested."""
        return self.written * self.record_size

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems


def _import_pandas():
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise click.ClickException(PANDAS_HINT) from None


def run_demo(
    records: int = 1_000_000,
    shards: int = 4,
    record_size: int = 100,
    batch_size: int = 50_000,
    seed: int = 42,
    progress=None,
    data_dir=None,
    durability: str = "sync",
) -> DemoResult:
    """Ingest synthetic records into a fresh stream, read them back and check them.

    Parameters
    ----------
    records : int
        Records to write.
    shards : int
        Shards in the stream.
    record_size : int
        Payload bytes per record.
    batch_size : int
        Records per ``put_batch`` call.
    seed : int
        Seed of the NumPy generator; the same arguments give the same records.
    progress : callable, optional
        Called with the number of records of each batch once it is written.
    data_dir : path-like, optional
        Run on a durable engine in this directory (its ``shardstream-demo``
        stream is replaced), then close it, reopen it and read everything
        back from disk.
    durability : str
        The durable run's policy (``sync``, ``interval`` or ``none``).

    Returns
    -------
    DemoResult
        Timings, the per-shard summary and the failed checks (if any).

    Raises
    ------
    click.ClickException
        pandas is not installed.
    KinesisError
        The engine refused the stream or a batch.
    """
    _import_pandas()
    from .reader import to_pandas

    result = DemoResult(records, shards, record_size, batch_size, seed, data_dir=data_dir, durability=durability)
    # Room for every record in its shard even when routing is uneven (key + data + 24-byte slot).
    per_shard = records * (record_size + MAX_KEY_LEN + 24) // shards
    capacity = max(DEFAULT_SHARD_CAPACITY_BYTES, per_shard * 3 // 2 + (4 << 20))
    engine = Engine(shard_limit=None, shard_capacity_bytes=capacity, data_dir=data_dir, durability=durability)
    if data_dir is not None and DEMO_STREAM in engine:
        engine.delete_stream(DEMO_STREAM)
    stream = engine.create_stream(DEMO_STREAM, shard_count=shards)
    rng = np.random.default_rng(seed)

    remaining = records
    while remaining:
        n = min(batch_size, remaining)
        t0 = time.perf_counter()
        keys, payloads = make_batch(rng, n, record_size)
        t1 = time.perf_counter()
        stream.put_batch(keys, payloads)
        t2 = time.perf_counter()
        result.generate_s += t1 - t0
        result.ingest_s += t2 - t1
        result.written += n
        remaining -= n
        if progress is not None:
            progress(n)

    t0 = time.perf_counter()
    table = stream.read_table()
    t1 = time.perf_counter()
    df = to_pandas(table)
    t2 = time.perf_counter()
    result.read_s, result.pandas_s = t1 - t0, t2 - t1
    result.read = len(df)
    if result.read != result.written:
        result.problems.append(f"read back {result.read:,} records but wrote {result.written:,}")

    groups = df.groupby("shard_id", sort=False, observed=True)["sequence_number"].agg(["size", "min", "max"])
    seen = {str(k): row for k, row in zip(groups.index, groups.itertuples(index=False))}
    for st in stream.shard_stats():
        sid = st["ShardId"]
        row = {
            "shard_id": sid,
            "records": st["Records"],
            "data_bytes": st["DataBytes"],
            "first_sequence_number": st["OldestSequenceNumber"],
            "last_sequence_number": st["NewestSequenceNumber"],
        }
        result.shards_table.append(row)
        got = seen.get(sid)
        got_count = 0 if got is None else int(got[0])
        if got_count != st["Records"]:
            result.problems.append(f"{sid}: DataFrame has {got_count:,} records, shard_stats says {st['Records']:,}")
        elif got is not None and (str(got[1]), str(got[2])) != (
            row["first_sequence_number"],
            row["last_sequence_number"],
        ):
            result.problems.append(f"{sid}: DataFrame sequence range differs from shard_stats")
    stored = sum(r["records"] for r in result.shards_table)
    if stored != result.written:
        result.problems.append(f"shards hold {stored:,} records but {result.written:,} were written")
    if data_dir is not None:
        _check_reopen(engine, table, result, capacity)
    return result


def _check_reopen(engine: Engine, table: pa.Table, result: DemoResult, capacity: int) -> None:
    """Close the durable engine, reopen its directory and compare what comes back from disk."""
    t0 = time.perf_counter()
    engine.close()
    t1 = time.perf_counter()
    with Engine(shard_limit=None, shard_capacity_bytes=capacity, data_dir=result.data_dir) as reopened:
        t2 = time.perf_counter()
        again = reopened.stream(DEMO_STREAM).read_table()
        t3 = time.perf_counter()
    result.close_s, result.reopen_s, result.reread_s = t1 - t0, t2 - t1, t3 - t2
    if not again.equals(table):
        result.problems.append(f"after reopening {result.data_dir}, the records read back differ")


def _rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def format_report(result: DemoResult) -> str:
    """The demo's report: throughput lines, then the per-shard table.

    Parameters
    ----------
    result : DemoResult

    Returns
    -------
    str
        Aligned plain-text lines (no trailing newline).  MB are 10**6 bytes of
        payload.  At most ``MAX_SHARD_ROWS`` shards are listed one by one; the
        rest are summed on one line.
    """
    mb = result.data_bytes / _MB
    n = result.written
    lines = [
        f"shardstream demo: {n:,} records of {result.record_size:,} B "
        f"({mb:,.1f} MB) into {result.shards} shards, batches of {result.batch_size:,}, seed {result.seed}",
        "",
        f"  {'ingest':<10}{result.ingest_s:>8.3f} s  {_rate(n, result.ingest_s):>14,.0f} records/s"
        f"  {_rate(mb, result.ingest_s):>9,.1f} MB/s   (put_batch; data generation {result.generate_s:.3f} s)",
        f"  {'read':<10}{result.read_s:>8.3f} s  {_rate(result.read, result.read_s):>14,.0f} records/s"
        f"  {_rate(result.read * result.record_size / _MB, result.read_s):>9,.1f} MB/s   (read_table)",
        f"  {'to_pandas':<10}{result.pandas_s:>8.3f} s  {'':>14}{'':>11}  {'':>9}        "
        "(pandas DataFrame, Arrow-backed dtypes)",
    ]
    if result.data_dir is not None:
        lines += [
            f"  {'close':<10}{result.close_s:>8.3f} s  {'':>14}{'':>11}  {'':>9}        "
            f"(durability {result.durability}: flush, fsync, seal the segments in {result.data_dir})",
            f"  {'reopen':<10}{result.reopen_s:>8.3f} s  {'':>14}{'':>11}  {'':>9}        "
            "(recovery: every segment checked)",
            f"  {'re-read':<10}{result.reread_s:>8.3f} s  {_rate(result.read, result.reread_s):>14,.0f} records/s"
            f"  {_rate(result.read * result.record_size / _MB, result.reread_s):>9,.1f} MB/s   "
            "(read_table from the segment files)",
        ]
    lines.append("")
    header = ("shard", "records", "MB", "first sequence number", "last sequence number")
    shown, hidden = result.shards_table[:MAX_SHARD_ROWS], result.shards_table[MAX_SHARD_ROWS:]
    rows = [
        (
            r["shard_id"],
            f"{r['records']:,}",
            f"{r['data_bytes'] / _MB:,.2f}",
            r["first_sequence_number"] or "-",
            r["last_sequence_number"] or "-",
        )
        for r in shown
    ]
    if hidden:
        rows.append(
            (
                f"({len(hidden):,} more)",
                f"{sum(r['records'] for r in hidden):,}",
                f"{sum(r['data_bytes'] for r in hidden) / _MB:,.2f}",
                "",
                "",
            )
        )
    total = (
        "total",
        f"{sum(r['records'] for r in result.shards_table):,}",
        f"{sum(r['data_bytes'] for r in result.shards_table) / _MB:,.2f}",
        "",
        "",
    )
    widths = [max(len(row[i]) for row in (header, *rows, total)) for i in range(len(header))]
    align = ["<", ">", ">", "<", "<"]

    def fmt(row):
        return "  " + "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)).rstrip()

    lines.append(fmt(header))
    lines.extend(fmt(row) for row in rows)
    lines.append(fmt(total))
    lines.append("")
    if result.ok:
        lines.append(f"OK: read back {result.read:,} of {result.written:,} records; every shard matches")
    else:
        lines.extend(f"FAILED: {p}" for p in result.problems)
    return "\n".join(lines)


@click.command()
@click.option("--records", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="Records to write.")
@click.option("--shards", type=click.IntRange(min=1), default=4, show_default=True, help="Shards in the stream.")
@click.option(
    "--record-size",
    type=click.IntRange(min=1, max=1_000_000),
    default=100,
    show_default=True,
    help="Payload bytes per record.",
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=50_000, show_default=True, help="Records per put_batch call."
)
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the generated data.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Run on a durable engine in this directory, then reopen it and read everything back from disk.",
)
@click.option(
    "--durability",
    type=click.Choice(["sync", "interval", "none"]),
    default="sync",
    show_default=True,
    help="With --data-dir: the durability policy.",
)
def demo(
    records: int, shards: int, record_size: int, batch_size: int, seed: int, data_dir: str | None, durability: str
) -> None:
    """Ingest synthetic records, read them back into pandas, and report throughput.

    Exits with status 1 if the records read back do not match those written.
    """
    _import_pandas()
    try:
        with click.progressbar(length=records, label="ingesting", file=sys.stderr, show_pos=True, width=30) as bar:
            result = run_demo(
                records,
                shards,
                record_size,
                batch_size,
                seed,
                progress=bar.update,
                data_dir=data_dir,
                durability=durability,
            )
    except KinesisError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    click.echo(format_report(result))
    if not result.ok:
        sys.exit(1)
