"""A shard's segment log: its sequence of segments, appends, rolling, reads, the batch index, retention.

Layout: one directory per shard holds its segments, named by the counter of
their first record (see :mod:`.format`); only the newest may be open for
appends (:class:`~.segment.SegmentWriter`).  Opening runs :mod:`.recovery`.

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

import contextlib
import dataclasses
import logging
import os
import threading
from bisect import bisect_right
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..delegate import delegate
from ..schema import RECORD_SCHEMA
from .crypto import BatchCipher
from .fileio import SYSTEM_IO, SegmentIO
from .format import (
    COUNTER_FIELD,
    EOS_MARKER,
    batch_counters,
    stored_batch,
    stored_schema,
)
from .jsonfile import fsync_directory
from .reads import SegmentReads
from .recovery import recover_segments
from .segment import SegmentInfo, SegmentWriter, release_cache

__all__ = ["DEFAULT_MAX_SEGMENT_BYTES", "SegmentLog"]

# 64 MiB: large enough that per-file costs (open, mmap, directory entries) are
# negligible next to the data, small enough that retention frees space in
# steps of well under a second of ingest at ~1 GB/s.
DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024
_log = logging.getLogger("shardstream.storage")


class SegmentLog:
    """The segment log of one shard: an ordered list of segment files.

    Layout and format: see :mod:`.format`.  In memory the log keeps one
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
    keys : KeyStore, optional
        The keys that seal batches appended with a ``key_id`` and open sealed
        batches when they are read (:mod:`.crypto`); without it, reading a
        sealed batch raises :class:`~shardstream.errors.KMSNotFoundException`.

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
        keys=None,
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
        #: Seals and opens this log's encrypted batches (:class:`~.crypto.BatchCipher`).
        self.cipher = BatchCipher.for_directory(keys, self.directory)
        self._lock = threading.RLock()
        self._writer: SegmentWriter | None = None
        self._closed = False
        #: The log's reads (:class:`~.reads.SegmentReads`): ranges, pages and the batch index.
        self.reads = SegmentReads(self, verify=verify_reads)
        recovered = recover_segments(
            self.directory,
            self.schema,
            readonly=readonly,
            verify_sealed=verify_sealed,
            expect_sealed=expect_sealed,
            io=io,
            cipher=self.cipher,
        )
        self._sealed: list[SegmentInfo] = recovered.segments
        self._unreleased: list[tuple] = []  # sealed since the last release_synced (SegmentWriter.unreleased)
        self._last_counter: int | None = recovered.last_counter
        # read-only: (newest path, end of its last good batch)
        # newest segment recovered without room for its end marker
        self._unsealed: Path | None = recovered.unsealed
        self.recovery = recovered.report

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
        self.reads.forget(info.path)
        self._unsealed = None

    # -- writing ------------------------------------------------------------

    def append(self, batch: pa.RecordBatch, counters=None, key_id: str | None = None) -> int | None:
        """Append a batch of one shard's records; durable after the next :meth:`sync`.

        Parameters
        ----------
        batch : pyarrow.RecordBatch
            Either in the record schema, or in the stored schema (with the
            ``counter`` column last).
        counters : array-like of int, optional
            Per-row counters for a record-schema batch.  By default they are
            parsed from ``sequence_number`` (either layout).
        key_id : str, optional
            Encrypt the batch with this key (its canonical name in ``keys``).

        Returns
        -------
        int or None
            The log's last counter after the append.

        Raises
        ------
        ValueError
            If the schema does not match, or counters are null, not strictly
            increasing, or not above the log's last counter.
        KMSError
            The key cannot be used; nothing was written.
        """
        with self._lock:
            self._check_writable()
            batch = stored_batch(batch, counters, self._record_schema, self.schema)
            if batch.num_rows == 0:
                return self._last_counter
            column = batch.column(batch.num_columns - 1)
            if column.null_count:
                raise ValueError("counters must not be null")
            values = batch_counters(batch)
            minimum = self.first_counter if self._last_counter is None else self._last_counter + 1
            if int(values[0]) < minimum:
                raise ValueError(f"counter {int(values[0])} is below the next allowed counter {minimum}")
            if values.size > 1 and not bool(np.all(values[1:] > values[:-1])):
                raise ValueError("counters must be strictly increasing")
            if self._writer is None:
                self._seal_unsealed()
                self._writer = SegmentWriter(self.directory, int(values[0]), self._record_schema, self._io, self.cipher)
            last = int(values[-1])
            try:
                self._writer.append(batch, last, key_id)
            except BaseException:
                if self._writer.num_batches == 0:  # a segment with nothing in it: remove it again
                    writer, self._writer = self._writer, None
                    with contextlib.suppress(OSError):
                        writer.discard()
                raise
            self._appended(last)
            return self._last_counter

    def append_message(self, parts: list, first: int, last: int, first_arrival_ms: int, last_arrival_ms: int) -> bool:
        """Append a message ``_native.encode_ipc_run`` encoded; ValueError for ``first`` not above the last counter.

        Parameters
        ----------
        parts : list of bytes-like
            The message, as :meth:`SegmentWriter.append_message` takes it.
        first, last, first_arrival_ms, last_arrival_ms : int
            Its first and last records' counters and arrival times.

        Returns
        -------
        bool
            False, nothing written, when no active segment has its dictionary written (append a batch then).
        """
        with self._lock:
            self._check_writable()
            writer = self._writer
            if writer is None or not writer.takes_messages:
                return False
            minimum = self.first_counter if self._last_counter is None else self._last_counter + 1
            if first < minimum or last < first:
                raise ValueError(f"counter {first} is below the next allowed counter {minimum}")
            writer.append_message(parts, last, first_arrival_ms, last_arrival_ms)
            self._appended(last)
            return True

    def _appended(self, last: int) -> None:
        """After an append that ended with counter ``last``: roll the segment once it is big enough."""
        self._last_counter = last
        if self._writer.size >= self.max_segment_bytes:
            try:
                self._roll()
            except OSError as exc:  # the append itself succeeded; rolling is retried by the next one
                _log.warning("could not seal segment %s: %s", self._writer.path, exc)

    def _roll(self) -> None:
        self._writer.close()  # raises (and the writer stays open) if the marker cannot be written
        writer, self._writer = self._writer, None
        self._sealed.append(writer.info())
        self._unreleased.append(writer.unreleased)

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

    def release_synced(self, held_from: int) -> int:
        """Drop synced bytes whose records the shard's ring still holds from the page cache; bytes dropped.

        Parameters
        ----------
        held_from : int
            The oldest counter the ring holds (see :func:`~.segment.release_cache`).
        """
        with self._lock:
            pending, self._unreleased = self._unreleased, []
            return release_cache(pending, self._writer, held_from)

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
            self.reads.forget_all()
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

    def segments_from(self, start: int) -> list[SegmentInfo]:
        """The segments holding records at or after counter ``start`` (ValueError once closed)."""
        with self._lock:
            self._check_open()
            return [i for i in self.segments() if i.last_counter is not None and i.last_counter >= start]

    def map_segments(self, start: int, end: int) -> list[tuple[Path, pa.MemoryMappedFile, int]]:
        """Memory maps of the segments holding counters ``[start, end)``, made under the log's lock.

        Each comes with the length of its complete messages at the time: read
        no further (what follows may be an append in progress, or zeros).
        Later retention may unlink the files and later appends change only
        bytes beyond that length, so the maps stay valid.

        Parameters
        ----------
        start, end : int
            The counters wanted, ``end`` excluded.

        Returns
        -------
        list of tuple
            ``(path, pyarrow.MemoryMappedFile, length)``, oldest first.
        """
        with self._lock:
            self._check_open()
            infos = self.segments()
            bases = [info.base_counter for info in infos]
            first = max(bisect_right(bases, start) - 1, 0)
            chosen = [
                info
                for info in infos[first:]
                if info.last_counter is not None and info.last_counter >= start and info.base_counter < end
            ]
            return [(info.path, pa.memory_map(str(info.path)), info.size_bytes) for info in chosen]

    read = delegate("reads", SegmentReads)
    read_range = delegate("reads", SegmentReads)
    first_counter_at = delegate("reads", SegmentReads)
    oldest_counter = delegate("reads", SegmentReads)

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
                    self.reads.forget(path)
                fsync_directory(self.directory)
            return deleted

    def delete_expired(self, cutoff_ms: int) -> list[Path]:
        """Retention: delete whole segments whose newest record arrived before ``cutoff_ms``.

        As :meth:`delete_before`, the newest segment is kept even if expired.

        Parameters
        ----------
        cutoff_ms : int
            Epoch milliseconds.

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

    def __repr__(self) -> str:
        return f"SegmentLog({str(self.directory)!r}, last_counter={self._last_counter})"
