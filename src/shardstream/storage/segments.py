"""Per-shard segment logs: Arrow IPC stream files on disk.

On-disk format
--------------
One directory per shard holds its *segments*, each an Arrow IPC **stream**
(not file) named by the counter of its first record, zero-padded to 20 digits
(``2**64 - 1`` has 20 digits), so that name order is counter order::

    <shard dir>/00000000000000000001.arrows
    <shard dir>/00000000000000052001.arrows     <- the active (newest) segment

Each segment contains, in order:

* the schema message: :data:`STORED_SCHEMA`, i.e. ``RECORD_SCHEMA`` plus a
  final non-nullable ``counter`` uint64 column holding each record's per-shard
  counter (a field of its sequence number, kept as an integer so that
  recovery and range reads need not parse strings; streams from before 2026
  stored sequence numbers in an older layout, which readers re-derive from
  the counter and arrival time);
* for every appended batch: a dictionary message whenever the ``shard_id``
  dictionary changes (normally only before the first batch), then one record
  batch message whose custom metadata holds ``shardstream.crc32``, the CRC-32
  (:func:`zlib.crc32`'s CRC-32, decimal) of all the batch's buffers, dictionary
  buffers included, in column order;
* for a *sealed* segment, the 8-byte end-of-stream marker
  ``ff ff ff ff 00 00 00 00``.

Invariants: counters strictly increase within a batch, across batches and
across segments; a segment's first counter equals the number in its name;
only the newest segment may lack the end-of-stream marker.

Why a stream and a CRC
----------------------
The IPC stream format is a sequence of self-delimiting messages with no
footer, so a crash mid-append leaves a *torn tail*: a prefix of complete
messages followed by a partial one.  Recovery reads messages until the first
failure and truncates the newest segment to the end of the last complete,
CRC-valid record batch.  The IPC reader checks message framing and metadata
but not data bytes, so a flipped byte in a body would go unnoticed without
the per-batch CRC; with it, any damage is detected.  Damage in a sealed
segment is never "repaired": it raises :class:`CorruptSegmentError`, naming
the file and the byte offset of the first bad message.

Durability: an append is durable once :meth:`SegmentLog.sync` returns.  A
segment is closed (end-of-stream marker, flush, ``fsync``) before the next one
is created, and the directory is ``fsync``-ed whenever a segment file is
created, removed or truncated.  Appends after a reopen start a new segment
(an IPC stream cannot be resumed after its schema), so every restart seals
the previous newest segment.

Performance note: each append writes one IPC message (~a few hundred bytes of
framing); IPC appends of 500-row batches run at roughly half the rate of
64k-row batches (``/work/shared/perf/limits.md``), so callers should coalesce
small batches before appending.  Reads memory-map the segments, so they copy
nothing until the caller touches the data.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import errno
import logging
import os
import re
import threading
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

try:  # the same CRC-32 as zlib's, ~7x faster (ISA-L): pip install 'shardstream[fast]'
    from isal.isal_zlib import crc32
except ImportError:  # pragma: no cover - exercised where isal is not installed
    from zlib import crc32

from ..schema import RECORD_SCHEMA
from ..sequence import LEGACY_END_COUNTER, sequence_counter
from .fileio import SYSTEM_IO, SegmentIO, is_disk_full
from .jsonfile import fsync_directory

__all__ = [
    "COUNTER_FIELD",
    "CRC_METADATA_KEY",
    "DEFAULT_MAX_SEGMENT_BYTES",
    "SEGMENT_SUFFIX",
    "STORED_SCHEMA",
    "CorruptSegmentError",
    "RecoveryReport",
    "SegmentInfo",
    "SegmentLog",
    "SegmentWriter",
    "segment_file_name",
    "stored_schema",
]

COUNTER_FIELD = pa.field("counter", pa.uint64(), nullable=False)
STORED_SCHEMA = RECORD_SCHEMA.append(COUNTER_FIELD)
CRC_METADATA_KEY = "shardstream.crc32"
SEGMENT_SUFFIX = ".arrows"
# 64 MiB: large enough that per-file costs (open, mmap, directory entries) are
# negligible next to the data, small enough that retention frees space in
# steps of well under a second of ingest at ~1 GB/s.
DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024
EOS_MARKER = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_log = logging.getLogger("shardstream.storage")
_NAME_RE = re.compile(r"(\d{20})" + re.escape(SEGMENT_SUFFIX))


class CorruptSegmentError(ValueError):
    """A segment file is damaged somewhere recovery may not repair it.

    Attributes
    ----------
    path : str
        The segment file.
    offset : int
        Byte offset of the first message that failed to read or verify.
    reason : str
        What was wrong.
    """

    def __init__(self, path, offset: int, reason: str):
        self.path = os.fspath(path)
        self.offset = int(offset)
        self.reason = reason
        super().__init__(f"corrupt segment {self.path} at byte offset {self.offset}: {reason}")


def segment_file_name(base_counter: int) -> str:
    """The file name of the segment whose first record has ``base_counter``.

    >>> segment_file_name(1)
    '00000000000000000001.arrows'
    """
    if not 0 <= base_counter <= LEGACY_END_COUNTER:
        raise ValueError(f"counter out of range: {base_counter}")
    return f"{base_counter:020d}{SEGMENT_SUFFIX}"


def stored_schema(schema: pa.Schema = RECORD_SCHEMA) -> pa.Schema:
    """``schema`` plus the trailing ``counter`` column, as stored in segments."""
    if schema.get_field_index(COUNTER_FIELD.name) >= 0:
        return schema
    return schema.append(COUNTER_FIELD)


def _array_crc(arr: pa.Array, crc: int) -> int:
    if isinstance(arr, pa.DictionaryArray):
        crc = _array_crc(arr.indices, crc)
        return _array_crc(arr.dictionary, crc)
    for buf in arr.buffers():
        # Absent buffers (e.g. no validity bitmap) hash as a marker byte so that
        # "absent" and "empty" differ.
        crc = crc32(b"\x00" if buf is None else memoryview(buf), crc)
    return crc


def batch_crc32(batch: pa.RecordBatch) -> int:
    """CRC-32 of all buffers of ``batch`` (dictionaries included), column by column."""
    crc = 0
    for column in batch.columns:
        crc = _array_crc(column, crc)
    return crc


class _NotSimple(Exception):
    """An array :func:`_exact` does not handle."""


_NOT_SIMPLE = ("not simple",)
#: Per Arrow type id, how :func:`_exact` handles it: ``(offset dtype, offset width)`` for
#: binary/string, ``(None, byte width)`` for fixed width, ``_NOT_SIMPLE`` otherwise.
#: Only ids that alone fix the layout are cached (not fixed_size_binary, decimals...).
_KINDS: dict = {}
_CACHEABLE = frozenset(
    t.id
    for t in (
        pa.binary(),
        pa.string(),
        pa.large_binary(),
        pa.large_string(),
        pa.bool_(),
        pa.int8(),
        pa.int16(),
        pa.int32(),
        pa.int64(),
        pa.uint8(),
        pa.uint16(),
        pa.uint32(),
        pa.uint64(),
        pa.float16(),
        pa.float32(),
        pa.float64(),
        pa.date32(),
        pa.date64(),
        pa.timestamp("ms"),
    )
)


def _kind(t: pa.DataType):
    if pa.types.is_large_binary(t) or pa.types.is_large_string(t):
        return (np.int64, 8)
    if pa.types.is_binary(t) or pa.types.is_string(t):
        return (np.int32, 4)
    if pa.types.is_boolean(t) or pa.types.is_dictionary(t):
        return _NOT_SIMPLE
    try:
        bits = t.bit_width
    except ValueError:
        return _NOT_SIMPLE
    if bits % 8:
        return _NOT_SIMPLE
    return (None, bits // 8)


def _exact(arr: pa.Array, crc: int) -> tuple[pa.Array, int]:
    """``arr`` unsliced, on buffers cut to exactly what it uses, and ``crc`` extended over them.

    The IPC writer writes an unsliced array's buffers whole, spare capacity
    included, so they must be cut before writing, both to keep segments small
    and so that the CRC-32 taken now covers exactly the bytes a reader will
    get back (the CRC is the one :func:`batch_crc32` computes, folded in the
    same walk).  Zero-copy but for rebased offsets; covers what segments
    hold: fixed-width and binary/string columns without nulls, and
    dictionaries of those; anything else raises :class:`_NotSimple`.
    """
    if isinstance(arr, pa.DictionaryArray):
        indices, dictionary = arr.indices, arr.dictionary
        exact_indices, crc = _exact(indices, crc)
        exact_dictionary, crc = _exact(dictionary, crc)
        if exact_indices is indices and exact_dictionary is dictionary:
            return arr, crc
        return pa.DictionaryArray.from_arrays(exact_indices, exact_dictionary), crc
    if arr.null_count or len(arr) == 0:
        raise _NotSimple
    t = arr.type
    kind = _KINDS.get(t.id)
    if kind is None:
        kind = _kind(t)
        if t.id in _CACHEABLE:
            _KINDS[t.id] = kind
    n, offset, buffers = len(arr), arr.offset, arr.buffers()
    if kind is _NOT_SIMPLE:
        raise _NotSimple
    dtype, width = kind
    if dtype is not None:  # binary / string: offsets + data
        offsets = np.frombuffer(buffers[1], dtype=dtype, count=offset + n + 1)[offset:]
        first, last = int(offsets[0]), int(offsets[n])
        size = (n + 1) * width
        if not offset and not first and buffers[0] is None and buffers[1].size == size and buffers[2].size == last:
            exact, written = arr, buffers  # already exact (batches read out of a ring are)
        else:
            offset_buffer = buffers[1].slice(offset * width, size)
            if first:
                offset_buffer = pa.py_buffer(offsets - offsets.dtype.type(first))
            written = [None, offset_buffer, buffers[2].slice(first, last - first)]
            exact = None
    elif len(buffers) == 2:
        if not offset and buffers[0] is None and buffers[1].size == n * width:
            exact, written = arr, buffers
        else:
            written = [None, buffers[1].slice(offset * width, n * width)]
            exact = None
    else:
        raise _NotSimple
    for buf in written:
        crc = crc32(b"\x00" if buf is None else memoryview(buf), crc)
    if exact is None:
        exact = pa.Array.from_buffers(t, n, written, null_count=0)
    return exact, crc


def prepare_for_write(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
    """``batch`` with exactly the buffers that will be written, and their CRC-32.

    The CRC equals what :func:`batch_crc32` computes on the batch read back.
    """
    try:
        original = batch.columns
        columns, crc = [], 0
        for column in original:
            exact, crc = _exact(column, crc)
            columns.append(exact)
        if all(a is b for a, b in zip(columns, original)):
            return batch, crc
        return pa.RecordBatch.from_arrays(columns, schema=batch.schema), crc
    except _NotSimple:
        exact = _canonicalize(batch)  # nulls or other types: let a round trip normalise it (one copy)
        return exact, batch_crc32(exact)


def _canonicalize(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` as an IPC reader will see it (unsliced, no all-valid bitmaps).

    Slices and redundant validity bitmaps are normalised by the IPC writer, so
    a CRC computed on the caller's batch would not match the one recomputed on
    read.  A round trip through an in-memory stream gives the exact buffers;
    it costs one memcpy of the batch.
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return pa.ipc.open_stream(sink.getvalue()).read_next_batch()


def _counters(batch: pa.RecordBatch) -> np.ndarray:
    return batch.column(batch.num_columns - 1).to_numpy(zero_copy_only=False)


_ARRIVAL_INDEX = RECORD_SCHEMA.get_field_index("approximate_arrival_timestamp")
_DATA_INDEX = RECORD_SCHEMA.get_field_index("data")


def _data_offsets(batch: pa.RecordBatch) -> np.ndarray:
    """Start offsets of each row's data (length ``num_rows + 1``), relative to the first row."""
    data = batch.column(_DATA_INDEX)
    width = np.int64 if pa.types.is_large_binary(data.type) else np.int32
    offsets = np.frombuffer(data.buffers()[1], dtype=width)[data.offset : data.offset + len(data) + 1]
    return offsets.astype(np.int64) - int(offsets[0])


def _arrivals(batch: pa.RecordBatch) -> np.ndarray:
    """Arrival times (ms since the epoch, int64) of a stored-schema batch, zero-copy."""
    return batch.column(_ARRIVAL_INDEX).view(pa.int64()).to_numpy(zero_copy_only=False)


@dataclasses.dataclass(frozen=True)
class SegmentInfo:
    """A snapshot of one segment.

    Attributes
    ----------
    path : pathlib.Path
    base_counter : int
        First counter in the segment (also its name).
    last_counter : int
        Last counter in the segment.
    size_bytes : int
        Bytes of complete messages (plus the end-of-stream marker if sealed).
    sealed : bool
        False only for the segment currently open for appends.
    last_arrival_ms : int or None
        Arrival time of its last record (what retention compares).
    """

    path: Path
    base_counter: int
    last_counter: int
    size_bytes: int
    sealed: bool
    last_arrival_ms: int | None = None


@dataclasses.dataclass(frozen=True)
class RecoveryReport:
    """What :meth:`SegmentLog.open` found and repaired.

    Attributes
    ----------
    segments : int
        Segments kept.
    truncated_path : pathlib.Path or None
        The newest segment, if its torn tail was cut off.
    truncated_bytes : int
        Bytes removed from it.
    removed_paths : tuple of pathlib.Path
        Newest segments removed because no complete batch survived.
    reason : str or None
        Why the tail was considered torn.
    """

    segments: int = 0
    truncated_path: Path | None = None
    truncated_bytes: int = 0
    removed_paths: tuple = ()
    reason: str | None = None


@dataclasses.dataclass
class _SegmentIndex:
    """A segment's batches, zero-copy over its memory map (kept alive by the batches)."""

    size: int
    batches: list
    first: np.ndarray  # first counter of each batch


_INDEX_CACHE_SEGMENTS = 16


@dataclasses.dataclass
class _Scan:
    """What verifying one segment found."""

    last: int | None = None  # last counter of the last good batch
    last_arrival_ms: int | None = None
    good_end: int = 0  # byte offset just past the last good batch
    eos: bool = False  # ends with a well-placed end-of-stream marker
    problem: str | None = None
    bad_offset: int = 0


class _Messages:
    """The file-like sink an IPC stream writer writes into: it collects one batch's messages.

    The schema message, which an IPC writer emits before its first batch, is
    dropped (the segment file starts with it already), so a fresh writer can
    continue a segment: it re-emits the dictionary, which IPC streams allow.
    """

    def __init__(self, skip: int):
        self._skip = skip
        self.chunks: list = []
        self.closed = False

    def write(self, data) -> int:
        n = memoryview(data).nbytes
        if self._skip:
            if n <= self._skip:
                self._skip -= n
                return n
            data, self._skip = memoryview(data).cast("B")[self._skip :], 0
        self.chunks.append(data)
        return n

    def take(self) -> list:
        chunks, self.chunks = self.chunks, []
        return chunks

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class SegmentWriter:
    """Appends record batches to one new segment file.

    Format: an Arrow IPC stream of :func:`stored_schema` batches, each with a
    CRC-32 in its custom metadata (see the module docstring).  The file is
    created exclusively (never overwritten) and the directory fsync-ed.

    Each append serialises its batch in memory and writes it with one
    positioned write (through ``io``): the bytes are then with the OS, so
    readers see them and they survive the process.  A write that fails (a
    full disk) is rolled back: the file is cut back to the end of the last
    complete batch and the writer carries on from there, so a failed append
    leaves no trace and the next one may simply try again.

    Thread safety: none; the owning :class:`SegmentLog` serialises calls.
    Batches must already be in the stored schema with increasing counters; the
    writer does not check (the log does).

    Parameters
    ----------
    directory : path-like
        The shard's segment directory (must exist).
    base_counter : int
        Counter of the first record that will be appended; names the file.
    schema : pyarrow.Schema, optional
        The record schema; the ``counter`` column is added if missing.
    io : SegmentIO, optional
        What performs the writes, syncs and truncations (default: the system calls).
    """

    def __init__(self, directory, base_counter: int, schema: pa.Schema = RECORD_SCHEMA, io: SegmentIO = SYSTEM_IO):
        self.directory = Path(directory)
        self.base_counter = int(base_counter)
        self.schema = stored_schema(schema)
        self.path = self.directory / segment_file_name(self.base_counter)
        self.last_counter: int | None = None
        self.first_arrival_ms: int | None = None
        self.last_arrival_ms: int | None = None
        self.num_batches = 0
        self._io = io
        header = self.schema.serialize()
        self._header_bytes = header.size
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            io.write(fd, [header], 0)
            fsync_directory(self.directory)
        except BaseException:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise
        self._fd = fd
        self._size = header.size  # end of the last complete message
        self._new_ipc_writer()
        self._closed = False
        self._broken = False
        self._synced = self._mark()

    def _new_ipc_writer(self) -> None:
        self._sink = _Messages(self._header_bytes)
        self._writer = pa.ipc.new_stream(self._sink, self.schema)

    def _mark(self) -> tuple:
        return (self._size, self.last_counter, self.first_arrival_ms, self.last_arrival_ms, self.num_batches)

    def _restore(self, mark: tuple) -> None:
        self._size, self.last_counter, self.first_arrival_ms, self.last_arrival_ms, self.num_batches = mark

    @property
    def size(self) -> int:
        """Bytes of complete messages written (plus the end-of-stream marker once sealed)."""
        return self._size

    def append(self, batch: pa.RecordBatch, last_counter: int | None = None) -> None:
        """Append one batch (stored schema, counters already checked by the caller).

        Parameters
        ----------
        batch : pyarrow.RecordBatch
        last_counter : int, optional
            The batch's last counter, if the caller already has it.

        Raises
        ------
        OSError
            The write failed (a full disk: ``errno.ENOSPC``); the file is as
            it was before the call.
        """
        if self._closed:
            raise ValueError("segment writer is closed")
        self._check_usable()
        batch, crc = prepare_for_write(batch)
        try:
            self._writer.write_batch(batch, custom_metadata={CRC_METADATA_KEY: str(crc)})
            written = self._io.write(self._fd, self._sink.take(), self._size)
        except BaseException:
            self._cut(self._size)
            raise
        self._size += written
        arrivals = _arrivals(batch)
        if self.first_arrival_ms is None:
            self.first_arrival_ms = int(arrivals[0])
        self.last_counter = int(_counters(batch)[-1]) if last_counter is None else last_counter
        self.last_arrival_ms = int(arrivals[-1])
        self.num_batches += 1

    def _cut(self, size: int) -> None:
        """Truncate the file to ``size`` (a batch boundary) and start a fresh IPC writer there.

        If even that fails, the writer is unusable (:meth:`_check_usable`):
        what follows ``size`` in the file is unknown, and only a recovery
        (reopening) may cut it.
        """
        try:
            self._io.truncate(self._fd, size)
        except BaseException:
            self._broken = True
            raise
        self._new_ipc_writer()

    def _check_usable(self) -> None:
        if self._broken:
            raise OSError(errno.EIO, f"{self.path} could not be cut back after a failed write; reopen to recover")

    def flush(self) -> None:
        """Nothing to do: every append is handed to the OS before it returns (kept for callers)."""

    def sync(self) -> None:
        """``fsync``: everything appended so far survives a crash."""
        mark = self._mark()
        self._io.fsync(self._fd)
        self._synced = mark

    @property
    def synced_batches(self) -> int:
        """Batches known to be ``fsync``-ed."""
        return self._synced[4]

    def discard_unsynced(self) -> None:
        """Cut off every batch appended since the last :meth:`sync` (their fsync failed or never ran)."""
        if self._closed:
            raise ValueError("segment writer is closed")
        self._check_usable()
        self._cut(self._synced[0])
        self._restore(self._synced)

    def close(self) -> None:
        """Write the end-of-stream marker, sync and close; the segment is then sealed.

        Raises
        ------
        OSError
            The marker could not be written or synced (a full disk): the file
            is cut back and the writer stays open (unsealed); try again later.
        """
        if self._closed:
            return
        if self._broken:  # leave the file for recovery to cut, as after a crash
            self.abandon()
            self._check_usable()
        try:
            self._io.write(self._fd, [EOS_MARKER], self._size)
            self._io.fsync(self._fd)
        except BaseException:
            self._io.truncate(self._fd, self._size)
            raise
        self._size += len(EOS_MARKER)
        self._closed = True
        os.close(self._fd)

    def discard(self) -> None:
        """Close and delete the file (it holds no batch worth keeping)."""
        self.abandon()
        self.path.unlink(missing_ok=True)
        fsync_directory(self.directory)

    def abandon(self) -> None:
        """Close the file descriptor without the end-of-stream marker (a simulated crash)."""
        if not self._closed:
            self._closed = True
            os.close(self._fd)

    def info(self) -> SegmentInfo:
        """A :class:`SegmentInfo` snapshot of this segment."""
        return SegmentInfo(
            self.path, self.base_counter, self.last_counter, self.size, self._closed, self.last_arrival_ms
        )


class SegmentLog:
    """The segment log of one shard: an ordered list of segment files.

    Layout and format: see the module docstring.  In memory the log keeps one
    :class:`SegmentInfo` per sealed segment (sorted by base counter) and at
    most one :class:`SegmentWriter` for the active segment, which is created
    lazily by the first append after opening or rolling.  A segment is rolled
    (sealed) once its size reaches ``max_segment_bytes``, so a segment may
    exceed the limit by at most one batch.

    Thread safety: all methods may be called from any thread; one lock
    serialises them.  Readers returned by :meth:`read` are independent of the
    lock: they memory-map the files as they were when :meth:`read` was called
    and keep working during later appends and retention deletes.  Only one
    process may open a directory at a time (not enforced).

    Parameters
    ----------
    directory : path-like
        The shard's directory; created if missing.  Existing segments are
        recovered as by :meth:`open`.
    max_segment_bytes : int, optional
        Roll threshold (default 64 MiB).
    first_counter : int, optional
        Smallest counter the first append of an empty log may use (default 1,
        a shard's first record).
    schema : pyarrow.Schema, optional
        Record schema (default ``RECORD_SCHEMA``).
    verify_reads : bool, optional
        Check each batch's CRC-32 when reading it (default True).
    verify_sealed : bool, optional
        Check the CRC-32 of every batch of every sealed segment when opening
        (default True).  False makes opening cost a walk over message headers
        only, however much is stored; the CRCs are then checked when a
        segment is first read (with ``verify_reads``), so damage still raises
        :class:`CorruptSegmentError` and is never returned as data.  The
        newest segment is always checked in full: its tail may be torn.
    expect_sealed : bool, optional
        The log was closed cleanly, so its newest segment must be sealed too:
        damage there raises :class:`CorruptSegmentError` instead of being cut
        off as a torn tail (default False: after a crash, a torn tail is normal).
    readonly : bool, optional
        Open for reading only: nothing is created, truncated or removed, so a
        directory a live engine is writing can be read (replay).  A torn or
        still-growing newest segment is read up to its last complete batch as
        of opening; appends raise.
    io : SegmentIO, optional
        What writes, syncs and truncates the segment files (default: the
        system calls; tests pass one that fails on demand).

    Notes
    -----
    A full disk: an append whose write fails leaves the files as they were
    (see :class:`SegmentWriter`) and raises the ``OSError``; the next append
    simply tries again.  Opening needs no free space: if the end-of-stream
    marker of a recovered newest segment cannot be written, the segment is
    left cut at its last complete batch and sealed before the next segment is
    started (or at :meth:`close`).
    """

    def __init__(
        self,
        directory,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        *,
        first_counter: int = 1,
        schema: pa.Schema = RECORD_SCHEMA,
        verify_reads: bool = True,
        readonly: bool = False,
        verify_sealed: bool = True,
        expect_sealed: bool = False,
        io: SegmentIO = SYSTEM_IO,
    ):
        if max_segment_bytes <= 0:
            raise ValueError("max_segment_bytes must be positive")
        self.directory = Path(directory)
        self.readonly = readonly
        if readonly:
            if not self.directory.is_dir():
                raise FileNotFoundError(f"no segment directory {self.directory}")
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.max_segment_bytes = int(max_segment_bytes)
        self.first_counter = int(first_counter)
        self.schema = stored_schema(schema)
        self._record_schema = pa.schema(
            [f for f in self.schema if f.name != COUNTER_FIELD.name], metadata=self.schema.metadata
        )
        self.verify_reads = verify_reads
        self.verify_sealed = verify_sealed
        self.expect_sealed = expect_sealed
        self._io = io
        self._unsealed: Path | None = None  # newest segment recovered without room for its end marker
        self._lock = threading.RLock()
        self._sealed: list[SegmentInfo] = []
        self._writer: SegmentWriter | None = None
        self._last_counter: int | None = None
        self._closed = False
        self._tail_limit: tuple[Path, int] | None = None  # read-only: (newest path, end of its last good batch)
        self._index_cache: collections.OrderedDict[Path, _SegmentIndex] = collections.OrderedDict()
        self.recovery = self._recover()

    @classmethod
    def open(cls, directory, **kwargs) -> SegmentLog:
        """Open (or create) the log in ``directory``, recovering it after a crash.

        Sealed segments are verified (framing, counter order, end-of-stream
        marker, and the CRC-32 of every batch unless ``verify_sealed`` is
        False); any damage raises
        :class:`CorruptSegmentError`.  The newest segment is read until the
        first failure and truncated to its last complete batch (a torn tail);
        if nothing complete remains it is removed.  ``self.recovery`` reports
        what was done.

        Parameters
        ----------
        directory : path-like
        **kwargs
            As for the constructor.
        """
        return cls(directory, **kwargs)

    # -- recovery -----------------------------------------------------------

    def _segment_paths(self) -> list[tuple[int, Path]]:
        found = []
        for entry in self.directory.iterdir():
            m = _NAME_RE.fullmatch(entry.name)
            if m:
                found.append((int(m.group(1)), entry))
        found.sort()
        return found

    def _scan(self, path: Path, base: int, tail: bool) -> _Scan:
        """Verify one segment (every batch: framing, counter order, and CRC-32 unless skipped)."""
        check_crc = tail or self.verify_sealed
        out = self._scan_once(path, base, check_crc)
        if out.problem is not None and not check_crc:
            # Without CRCs a damaged counter shows up one batch late: look again,
            # with them, to name the message that is actually bad.
            out = self._scan_once(path, base, True)
        if out.problem is None and not tail and not out.eos:
            out.problem, out.bad_offset = "missing end-of-stream marker in a sealed segment", out.good_end
        if out.problem is not None and not tail:
            raise CorruptSegmentError(path, out.bad_offset, out.problem)
        if out.last is None and out.problem is None and not tail:
            raise CorruptSegmentError(path, out.good_end, "sealed segment holds no batches")
        return out

    def _scan_once(self, path: Path, base: int, check_crc: bool) -> _Scan:
        size = path.stat().st_size
        out = _Scan()
        mm = pa.memory_map(str(path))
        try:
            try:
                reader = pa.ipc.open_stream(mm)
            except (pa.ArrowException, OSError, ValueError) as e:
                out.problem = f"unreadable schema message: {e}"
            else:
                if not reader.schema.equals(self.schema):
                    raise CorruptSegmentError(path, 0, f"unexpected schema {reader.schema}")
                self._scan_batches(reader, mm, size, base, out, check_crc)
        finally:
            mm.close()
        return out

    def _scan_batches(self, reader, mm, size: int, base: int, out: _Scan, check_crc: bool = True) -> None:
        out.good_end = mm.tell()
        while True:
            start = out.good_end
            try:
                batch, metadata = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                out.eos = mm.tell() == size and size - out.good_end == len(EOS_MARKER)
                if mm.tell() != size or size - out.good_end not in (0, len(EOS_MARKER)):
                    out.problem, out.bad_offset = "unexpected bytes after end of stream", out.good_end
                return
            except (pa.ArrowException, OSError, ValueError) as e:
                out.problem, out.bad_offset = f"unreadable message: {e}", start
                return
            out.problem = self._check_batch(batch, metadata, base if out.last is None else out.last + 1, check_crc)
            if out.problem is not None:
                out.bad_offset = start
                return
            out.last = int(_counters(batch)[-1])
            out.last_arrival_ms = int(_arrivals(batch)[-1])
            out.good_end = mm.tell()

    def _check_batch(self, batch, metadata, min_counter: int, check_crc: bool = True) -> str | None:
        if batch.num_rows == 0:
            return "empty record batch"
        try:
            batch.validate()
        except pa.ArrowException as e:
            return f"invalid record batch: {e}"
        expected = None if metadata is None else metadata.get(CRC_METADATA_KEY.encode())
        if expected is None:
            return "record batch without CRC-32"
        if check_crc:
            actual = batch_crc32(batch)
            if expected != str(actual).encode():
                return f"CRC-32 mismatch (stored {expected.decode(errors='replace')}, computed {actual})"
        counters = _counters(batch)
        if int(counters[0]) < min_counter:
            return f"counter {int(counters[0])} not above the previous one (expected >= {min_counter})"
        if counters.size > 1 and not bool(np.all(counters[1:] > counters[:-1])):
            return "counters not strictly increasing"
        return None

    def _recover(self) -> RecoveryReport:
        paths = self._segment_paths()
        removed: list[Path] = []
        truncated_path, truncated_bytes, reason = None, 0, None
        # Newest segments without a single complete batch are removed (a crash
        # between creating the file and the first append, or a torn first batch);
        # read-only, they are skipped.
        tail_scan = None
        while paths:
            base, path = paths[-1]
            tail_scan = self._scan(path, base, tail=True)
            if not self.readonly and (tail_scan.problem is not None or not tail_scan.eos):
                self._refuse_if_sealed(path, tail_scan)
            if tail_scan.last is not None:
                size = path.stat().st_size
                if self.readonly:
                    # Leave the file alone (a live writer may be appending) and
                    # read only up to its last complete batch.
                    self._tail_limit = (path, tail_scan.good_end)
                elif tail_scan.problem is not None or not tail_scan.eos:
                    # Cut the torn tail and seal the segment with an end-of-stream marker.
                    self._cut_tail(path, tail_scan.good_end)
                    if size != tail_scan.good_end:
                        truncated_path, truncated_bytes = path, size - tail_scan.good_end
                        reason = tail_scan.problem
                    fsync_directory(self.directory)
                break
            if not self.readonly:
                path.unlink()
                fsync_directory(self.directory)
                removed.append(path)
            reason = tail_scan.problem
            paths.pop()
        prev_last = None
        for i, (base, path) in enumerate(paths):
            if prev_last is not None and base <= prev_last:
                raise CorruptSegmentError(
                    path, 0, f"segment base {base} overlaps the previous segment (last {prev_last})"
                )
            scan = tail_scan if i == len(paths) - 1 else self._scan(path, base, tail=False)
            size = scan.good_end if self.readonly and i == len(paths) - 1 else path.stat().st_size
            sealed = path != self._unsealed
            self._sealed.append(SegmentInfo(path, base, scan.last, size, sealed, scan.last_arrival_ms))
            prev_last = scan.last
        self._last_counter = prev_last
        return RecoveryReport(len(paths), truncated_path, truncated_bytes, tuple(removed), reason)

    def _cut_tail(self, path: Path, good_end: int) -> None:
        """Cut the newest segment at ``good_end`` and seal it; without room for the marker, seal it later."""
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            self._io.truncate(fd, good_end)
            try:
                self._io.write(fd, [EOS_MARKER], good_end)
                self._io.fsync(fd)
            except OSError as exc:
                if not is_disk_full(exc):
                    raise
                self._io.truncate(fd, good_end)
                self._io.fsync(fd)
                self._unsealed = path
        finally:
            os.close(fd)

    def _seal_unsealed(self) -> None:
        """Write the end-of-stream marker a recovery had no room for (before a newer segment exists)."""
        if self._unsealed is None:
            return
        info = self._sealed[-1]
        fd = os.open(info.path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            try:
                self._io.write(fd, [EOS_MARKER], info.size_bytes)
                self._io.fsync(fd)
            except BaseException:
                self._io.truncate(fd, info.size_bytes)
                raise
        finally:
            os.close(fd)
        self._sealed[-1] = dataclasses.replace(info, size_bytes=info.size_bytes + len(EOS_MARKER), sealed=True)
        self._index_cache.pop(info.path, None)
        self._unsealed = None

    def _refuse_if_sealed(self, path: Path, scan: _Scan) -> None:
        """Raise if the damaged newest segment had been sealed: then it is corruption, not a torn tail.

        It was sealed if the log was closed cleanly (``expect_sealed``), or if
        its last bytes are the end-of-stream marker and lie beyond the bad
        message (a crash cuts a file short; it does not write a marker after
        the cut).  Cutting it would silently drop records that were synced.
        """
        size = path.stat().st_size
        if not self.expect_sealed:
            if scan.problem is None or size < scan.bad_offset + 2 * len(EOS_MARKER):
                return
            with open(path, "rb") as f:
                f.seek(size - len(EOS_MARKER))
                if f.read() != EOS_MARKER:
                    return
        problem = scan.problem or "missing end-of-stream marker"
        raise CorruptSegmentError(path, scan.bad_offset if scan.problem else scan.good_end, problem)

    # -- writing ------------------------------------------------------------

    def _prepare(self, batch: pa.RecordBatch, counters) -> pa.RecordBatch:
        if isinstance(batch, pa.Table):
            raise TypeError("append a pyarrow.RecordBatch, not a Table (use Table.to_batches())")
        if batch.schema.equals(self.schema):
            if counters is not None:
                raise ValueError("batch already has a counter column")
            return batch
        if not batch.schema.equals(self._record_schema):
            raise ValueError(f"batch schema does not match the record schema:\n{batch.schema}")
        if counters is None:
            numbers = batch.column("sequence_number").to_pylist()
            counter_array = pa.array([sequence_counter(text) for text in numbers], type=pa.uint64())
        else:
            counter_array = pa.array(counters, type=pa.uint64())
            if len(counter_array) != batch.num_rows:
                raise ValueError("counters and batch differ in length")
        return pa.RecordBatch.from_arrays([*batch.columns, counter_array], schema=self.schema)

    def append(self, batch: pa.RecordBatch, counters=None) -> int | None:
        """Append a batch of one shard's records; durable after the next :meth:`sync`.

        Parameters
        ----------
        batch : pyarrow.RecordBatch
            Either in the record schema, or in the stored schema (with the
            ``counter`` column last).
        counters : array-like of int, optional
            Per-row counters for a record-schema batch.  By default they are
            parsed from ``sequence_number`` (either layout).

        Returns
        -------
        int or None
            The log's last counter after the append.

        Raises
        ------
        ValueError
            If the schema does not match, or counters are null, not strictly
            increasing, or not above the log's last counter.
        """
        with self._lock:
            self._check_writable()
            batch = self._prepare(batch, counters)
            if batch.num_rows == 0:
                return self._last_counter
            column = batch.column(batch.num_columns - 1)
            if column.null_count:
                raise ValueError("counters must not be null")
            values = _counters(batch)
            minimum = self.first_counter if self._last_counter is None else self._last_counter + 1
            if int(values[0]) < minimum:
                raise ValueError(f"counter {int(values[0])} is below the next allowed counter {minimum}")
            if values.size > 1 and not bool(np.all(values[1:] > values[:-1])):
                raise ValueError("counters must be strictly increasing")
            if self._writer is None:
                self._seal_unsealed()
                self._writer = SegmentWriter(self.directory, int(values[0]), self._record_schema, self._io)
            last = int(values[-1])
            try:
                self._writer.append(batch, last)
            except BaseException:
                if self._writer.num_batches == 0:  # a segment with nothing in it: remove it again
                    writer, self._writer = self._writer, None
                    with contextlib.suppress(OSError):
                        writer.discard()
                raise
            self._last_counter = last
            if self._writer.size >= self.max_segment_bytes:
                try:
                    self._roll()
                except OSError as exc:  # the append itself succeeded; rolling is retried by the next one
                    _log.warning("could not seal segment %s: %s", self._writer.path, exc)
            return self._last_counter

    def _roll(self) -> None:
        self._writer.close()  # raises (and the writer stays open) if the marker cannot be written
        writer, self._writer = self._writer, None
        self._sealed.append(writer.info())

    def discard_unsynced(self) -> int | None:
        """Cut off every record appended since the last successful :meth:`sync`; returns :meth:`last_counter`.

        For a failed ``fsync`` (or a failed write that must not stay): what
        was appended since is not known to be durable, so it is removed.
        Rolling a segment syncs it, so only the active segment can hold such
        records.
        """
        with self._lock:
            self._check_writable()
            writer = self._writer
            if writer is not None:
                if writer.synced_batches == 0:
                    self._writer = None
                    writer.discard()
                else:
                    writer.discard_unsynced()
            if self._writer is not None:
                self._last_counter = self._writer.last_counter
            else:
                self._last_counter = self._sealed[-1].last_counter if self._sealed else None
            return self._last_counter

    def roll(self) -> None:
        """Seal the active segment now (if any); the next append starts a new one."""
        with self._lock:
            self._check_writable()
            if self._writer is not None:
                self._roll()

    def roll_if_older(self, cutoff_ms: int) -> bool:
        """Seal the active segment if its first record arrived before ``cutoff_ms``; True if it did."""
        with self._lock:
            self._check_writable()
            writer = self._writer
            if writer is None or writer.first_arrival_ms is None or writer.first_arrival_ms >= cutoff_ms:
                return False
            self._roll()
            return True

    def flush(self) -> None:
        """Hand every append so far to the OS: visible to other readers, safe if the process dies."""
        with self._lock:
            if self._writer is not None:
                self._writer.flush()

    def sync(self) -> None:
        """Make every append so far durable (flush and ``fsync`` the active segment)."""
        with self._lock:
            if self._writer is not None:
                self._writer.sync()

    def close(self) -> None:
        """Seal the active segment and close the log.  Idempotent.

        Raises
        ------
        OSError
            The end-of-stream marker could not be written (a full disk): the
            log is closed all the same, its newest segment left unsealed but
            cut at its last complete batch, as after a crash.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._index_cache.clear()
            if self.readonly:
                return
            try:
                if self._writer is not None:
                    self._roll()
                else:
                    self._seal_unsealed()
            except BaseException:
                if self._writer is not None:
                    self._writer.abandon()
                    self._writer = None
                raise

    def abandon(self) -> None:
        """Release file handles *without* sealing the active segment, as a crash would.

        Appends already synced stay durable; the next :meth:`open` treats the
        active segment as the newest, possibly torn, one.  Meant for tests and
        for fatal-error paths where writing more could do harm.
        """
        with self._lock:
            if self._writer is not None:
                self._writer.abandon()
                self._writer = None
            self._closed = True

    def __enter__(self) -> SegmentLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("segment log is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self.readonly:
            raise ValueError("segment log is open read-only")

    # -- reading and retention ----------------------------------------------

    def last_counter(self) -> int | None:
        """The counter of the last appended record, or None if the log never held one."""
        with self._lock:
            return self._last_counter

    def segments(self) -> list[SegmentInfo]:
        """Snapshots of all segments, oldest first (the active one last, unsealed)."""
        with self._lock:
            out = list(self._sealed)
            if self._writer is not None:
                out.append(self._writer.info())
            return out

    def read(self, start_counter: int, end_counter: int | None = None) -> pa.RecordBatchReader:
        """The records with ``start_counter <= counter < end_counter``, in counter order.

        Parameters
        ----------
        start_counter : int
            First counter wanted (inclusive).
        end_counter : int, optional
            Stop before this counter (exclusive); default: read to the end as
            of this call.

        Returns
        -------
        pyarrow.RecordBatchReader
            Batches in the stored schema (record columns plus ``counter``),
            zero-copy slices of memory-mapped segments.  Records appended
            after this call are not included.

        Raises
        ------
        CorruptSegmentError
            While iterating, if a batch fails its CRC-32 check (with
            ``verify_reads``).
        """
        end = LEGACY_END_COUNTER + 1 if end_counter is None else int(end_counter)
        start = int(start_counter)
        with self._lock:
            self._check_open()
            infos = self.segments()
            if self._writer is not None:
                self._writer.flush()
            bases = [info.base_counter for info in infos]
            first = max(bisect_right(bases, start) - 1, 0)
            chosen = [
                info
                for info in infos[first:]
                if info.last_counter is not None and info.last_counter >= start and info.base_counter < end
            ]
            # Map now, under the lock: later retention may unlink the files and
            # later appends only add bytes beyond the mapped length.
            maps = [(info.path, pa.memory_map(str(info.path))) for info in chosen]
        return pa.RecordBatchReader.from_batches(self.schema, self._iter_batches(maps, start, end))

    def _iter_batches(self, maps, start: int, end: int) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._iter_maps(maps, start, end)
        finally:
            for _, mm in maps:
                mm.close()

    def _iter_maps(self, maps, start: int, end: int) -> Iterator[pa.RecordBatch]:
        verify = self.verify_reads
        for path, mm in maps:
            reader = pa.ipc.open_stream(mm)
            limit = self._tail_limit[1] if self._tail_limit and self._tail_limit[0] == path else None
            while True:
                offset = mm.tell()
                if limit is not None and offset >= limit:
                    break
                try:
                    batch, metadata = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    break
                except pa.ArrowException as e:
                    raise CorruptSegmentError(path, offset, f"unreadable message: {e}") from e
                counters = _counters(batch)
                if counters[-1] < start:
                    continue
                if counters[0] >= end:
                    return
                if verify:
                    expected = None if metadata is None else metadata.get(CRC_METADATA_KEY.encode())
                    if expected != str(batch_crc32(batch)).encode():
                        raise CorruptSegmentError(path, offset, "CRC-32 mismatch")
                lo = int(np.searchsorted(counters, start, "left"))
                hi = int(np.searchsorted(counters, end, "left"))
                if hi > lo:
                    yield batch if (lo == 0 and hi == batch.num_rows) else batch.slice(lo, hi - lo)
                if hi < batch.num_rows:
                    return

    def _deletable(self) -> list[SegmentInfo]:
        """Sealed segments retention may delete: all but the newest segment (active or sealed)."""
        return self._sealed if self._writer is not None else self._sealed[:-1]

    def delete_before(self, counter: int) -> list[Path]:
        """Retention: delete whole segments whose records all have counters below ``counter``.

        The newest segment is always kept (it anchors the next counter after a
        reopen), so a log keeps at least one segment once it has held records.

        Parameters
        ----------
        counter : int
            Records with this counter or above are kept.

        Returns
        -------
        list of pathlib.Path
            The deleted segment files, oldest first.
        """
        with self._lock:
            self._check_writable()
            deleted: list[Path] = []
            for info in self._deletable():
                if info.last_counter >= counter:
                    break
                info.path.unlink(missing_ok=True)
                deleted.append(info.path)
            if deleted:
                del self._sealed[: len(deleted)]
                for path in deleted:
                    self._index_cache.pop(path, None)
                fsync_directory(self.directory)
            return deleted

    def delete_expired(self, cutoff_ms: int) -> list[Path]:
        """Retention: delete whole segments whose newest record arrived before ``cutoff_ms``.

        As :meth:`delete_before`, the newest segment is kept even if expired.

        Returns
        -------
        list of pathlib.Path
            The deleted segment files, oldest first.
        """
        with self._lock:
            self._check_writable()
            stop = 0
            for info in self._deletable():
                if info.last_arrival_ms is None or info.last_arrival_ms >= cutoff_ms:
                    break
                stop += 1
            if not stop:
                return []
            return self.delete_before(self._sealed[stop - 1].last_counter + 1)

    def first_counter_at(self, arrival_ms: int) -> int | None:
        """The first counter whose record arrived at or after ``arrival_ms`` (None if none did)."""
        with self._lock:
            infos = [i for i in self.segments() if i.last_counter is not None]
        for info in infos:
            if info.last_arrival_ms is not None and info.last_arrival_ms >= arrival_ms:
                batches = self.read_range(info.base_counter, 1, min_arrival_ms=arrival_ms)
                return int(_counters(batches[0])[0]) if batches else None
        return None

    def oldest_counter(self) -> int | None:
        """Counter of the oldest stored record, or None if the log is empty."""
        with self._lock:
            for info in self.segments():
                if info.last_counter is not None:
                    return info.base_counter
        return None

    def read_range(
        self,
        start: int,
        max_rows: int,
        max_data_bytes: int | None = None,
        *,
        min_arrival_ms: int | None = None,
    ) -> list[pa.RecordBatch]:
        """Up to ``max_rows`` records from counter ``start`` on, for paged reads.

        Unlike :meth:`read`, which streams a whole range, this serves one page
        (a GetRecords call) quickly: each sealed segment's batches are indexed
        once (and CRC-checked then) and kept in a small cache, so a page costs
        a binary search and a few zero-copy slices.

        Parameters
        ----------
        start : int
            First counter wanted.
        max_rows : int
            Most records returned.
        max_data_bytes : int, optional
            Stop before the data bytes would pass this (at least one record is
            always returned).
        min_arrival_ms : int, optional
            Skip records that arrived before this (retention).

        Returns
        -------
        list of pyarrow.RecordBatch
            Stored-schema slices in counter order (empty when nothing is stored
            at or after ``start``).
        """
        out: list[pa.RecordBatch] = []
        rows, data_bytes = 0, 0
        with self._lock:
            self._check_open()
            infos = [i for i in self.segments() if i.last_counter is not None and i.last_counter >= start]
        for info in infos:
            index = self._index(info)
            k = max(int(np.searchsorted(index.first, start, "right")) - 1, 0)
            for batch in index.batches[k:]:
                counters = _counters(batch)
                lo = int(np.searchsorted(counters, start, "left"))
                if min_arrival_ms is not None:
                    arrivals = _arrivals(batch)
                    lo = max(lo, int(np.searchsorted(arrivals, min_arrival_ms, "left")))
                if lo >= batch.num_rows:
                    continue
                hi = min(batch.num_rows, lo + max_rows - rows)
                if max_data_bytes is not None:
                    sizes = _data_offsets(batch)
                    budget = max_data_bytes - data_bytes + sizes[lo]
                    fit = int(np.searchsorted(sizes[lo + 1 : hi + 1], budget, "right"))
                    if fit < hi - lo:
                        hi = lo + max(fit, 0 if out else 1)
                        if hi > lo:
                            out.append(batch.slice(lo, hi - lo))
                        return out
                    data_bytes += int(sizes[hi] - sizes[lo])
                out.append(batch if lo == 0 and hi == batch.num_rows else batch.slice(lo, hi - lo))
                rows += hi - lo
                if rows >= max_rows:
                    return out
        return out

    def _index(self, info: SegmentInfo) -> _SegmentIndex:
        """The batches of one segment (cached while sealed)."""
        with self._lock:
            cached = self._index_cache.get(info.path)
            if cached is not None and cached.size == info.size_bytes:
                self._index_cache.move_to_end(info.path)
                return cached
            if self._writer is not None and self._writer.path == info.path:
                self._writer.flush()
        mm = pa.memory_map(str(info.path))
        batches = []
        try:
            reader = pa.ipc.open_stream(mm)
            limit = info.size_bytes
            while mm.tell() < limit:
                offset = mm.tell()
                try:
                    batch, metadata = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    break
                except pa.ArrowException as e:
                    raise CorruptSegmentError(info.path, offset, f"unreadable message: {e}") from e
                if self.verify_reads:
                    expected = None if metadata is None else metadata.get(CRC_METADATA_KEY.encode())
                    if expected != str(batch_crc32(batch)).encode():
                        raise CorruptSegmentError(info.path, offset, "CRC-32 mismatch")
                batches.append(batch)
        except BaseException:
            mm.close()
            raise
        index = _SegmentIndex(
            info.size_bytes, batches, np.array([int(_counters(b)[0]) for b in batches], dtype=np.uint64)
        )
        if info.sealed:
            with self._lock:
                self._index_cache[info.path] = index
                while len(self._index_cache) > _INDEX_CACHE_SEGMENTS:
                    self._index_cache.popitem(last=False)
        return index

    def __repr__(self) -> str:
        return f"SegmentLog({str(self.directory)!r}, last_counter={self._last_counter})"
