"""One durable stream's files: its metadata document and a segment log per shard.

A :class:`StreamStore` moves records from the shards' in-memory rings (the
write buffer and hot read cache) into segment files, and serves reads of
records the rings no longer hold.  It knows nothing of Kinesis semantics; the
stream (:mod:`shardstream.durable`) decides when to flush and what to read.

Flushing
--------
For each shard the store remembers ``persisted[i]``, the first counter not yet
written to its segment log.  :meth:`StreamStore.flush` copies each ring's
records ``[persisted[i], tail)`` into the log (one IPC batch per shard per
flush, so concurrent small puts coalesce) and then raises the ring's
``evict_limit`` to the new ``persisted[i]``: the ring may evict a record only
once a copy is on disk.  One lock serialises flushes.  Once a flush has
synced, the bytes whose records the rings still hold are dropped from the
page cache (``posix_fadvise(DONTNEED)``, :meth:`SegmentLog.release_synced`):
the rings are the cache of recent records, so the page cache holds only
what they evicted, and writing reuses recently freed memory instead of
growing the cache by everything written (on VMs that hand free memory back
to the host, fresh pages cost several times more to write into).

:meth:`StreamStore.commit` is the ``sync`` policy's *group commit*: a writer
whose records are in the ring calls it and returns once a flush that started
after its append has been written and fsync-ed.  While one flush runs, every
writer that arrives waits for the next one, which a single leader then runs
for all of them, so N concurrent writers share one ``fsync``.

:meth:`StreamStore.commit_async` is the same promise without a blocked
thread: the caller (the HTTP server's event loop) registers a callback, and
whichever leader's flush covers its records calls it -- an in-process writer
or the store's committer thread, started when a callback arrives with no
committer running and lingering briefly for more.  One flush then answers
any number of requests with one hand-off, rather than a thread each.

A full disk
-----------
A write that fails (``ENOSPC``, or any ``OSError``) leaves the segment files
as they were before it (:class:`~.segments.SegmentWriter` cuts a failed
append back to its last complete batch) and raises a retryable
:class:`~shardstream.errors.StorageError`
(:class:`~shardstream.errors.StorageFullError` for a full disk); what was
not written stays in the rings, and :attr:`StreamStore.failure` holds the
error until a flush succeeds.  Nothing needs fixing up by hand: the next
flush simply tries again.

Under the ``sync`` policy a failed group commit then *discards* what it was
to make durable (:meth:`StreamStore.commit`): every record not yet
``fsync``-ed is cut from the segments and dropped from its ring (which
never showed it to readers: see ``ShardLog.visible_limit``), and its
counters are remembered as lost, so every writer whose records they were
learns that its put failed (:meth:`StreamStore.lost`) and no such record is
ever stored or read.  Counters are not reused.

Encryption at rest
------------------
While the stream encrypts, every batch a flush writes is sealed with the
stream's key (:class:`~.sealing.StreamSealing`, the store's ``sealing``, switched by
:meth:`StreamStore.set_encryption`;
:mod:`.crypto`); reads open sealed batches with the store's key store.  A key
that cannot be used makes the flush fail (a
:class:`~shardstream.errors.StorageError` naming the KMS error): records are
never written in plaintext instead.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..delegate import delegate
from ..errors import StorageError, storage_error
from .commit import GroupCommit
from .discards import Discards
from .fileio import SYSTEM_IO, SegmentIO, is_disk_full
from .flushstats import FlushStats
from .format import crc32
from .jsonfile import fsync_directory
from .layout import shard_dir, trash_dir
from .log import DEFAULT_MAX_SEGMENT_BYTES, SegmentLog
from .metadata import StreamMetadataFile
from .parallel import run_each
from .sealing import StreamSealing

__all__ = ["DEFAULT_MAX_SEGMENT_AGE_MS", "StreamStore"]

_log = logging.getLogger("shardstream.storage")

#: Segments are also rolled once their first record is this old, so that
#: retention (which deletes whole segments) frees space on slow streams too.
DEFAULT_MAX_SEGMENT_AGE_MS = 3_600_000
#: Most records copied out of a ring into one segment batch.
FLUSH_BATCH_ROWS = 1 << 16
#: A flush of at most this many records of a shard encodes its messages natively (``encode_ipc_run``).
MESSAGE_MAX_ROWS = 4096
#: Most data bytes in one natively encoded message.
MESSAGE_MAX_DATA_BYTES = 1 << 20


def _sync_all(logs: list[SegmentLog]) -> None:
    """``fsync`` several segment logs at once (concurrent syncs share journal commits)."""
    run_each(lambda log: log.sync(), logs)


def _append_message(log, segments: SegmentLog, start: int, stop: int, now_ms: int, *, retry_full: bool) -> int | None:
    """Append ``log``'s records from ``start`` (up to ``stop``) as one encoded message; the next counter.

    Returns None, having written nothing, when the segment does not take
    messages now, or the disk is full and ``retry_full`` (the caller's general
    path then writes smaller batches while they fit); ``start`` itself when
    the ring no longer holds those records.
    """
    from .._native import encode_ipc_run

    encoded = encode_ipc_run(log, start, stop - start, MESSAGE_MAX_DATA_BYTES, now_ms, crc32)
    if encoded is None:
        return start
    metadata, body, rows, first, first_ms, last_ms, _ = encoded
    try:
        if not segments.append_message([metadata, body], first, first + rows - 1, first_ms, last_ms):
            return None
    except OSError as exc:
        if not retry_full or not is_disk_full(exc):
            raise
        return None
    return first + rows


def _move_to_trash(path: Path, data_dir: Path) -> None:
    """Delete the directory ``path``: one atomic rename into ``data_dir``'s ``trash/``, then removal."""
    trash = trash_dir(data_dir)
    trash.mkdir(exist_ok=True)
    target = trash / path.name
    path.rename(target)
    fsync_directory(path.parent)
    shutil.rmtree(target, ignore_errors=True)


def _before(batches: list[pa.RecordBatch], counter: int) -> list[pa.RecordBatch]:
    """The records of ``batches`` (stored schema, counter order) below ``counter``."""
    out = []
    for batch in batches:
        counters = batch.column(batch.num_columns - 1).to_numpy()
        keep = int(np.searchsorted(counters, counter, "left"))
        if keep:
            out.append(batch if keep == batch.num_rows else batch.slice(0, keep))
        if keep < batch.num_rows:
            break
    return out


class StreamStore:
    """The files of one durable stream.

    Parameters
    ----------
    path : pathlib.Path
        The stream's directory (``<data_dir>/streams/<name>.<incarnation>``).
    max_segment_bytes : int
        Roll a shard's segment at this size.
    max_segment_age_ms : int
        Roll a shard's segment once its first record is this old.
    clean : bool
        The stream's files were closed cleanly: every segment is sealed, so
        damage anywhere is refused rather than cut off as a torn tail.
    io : SegmentIO, optional
        What writes the segment files (default: the system calls).
    before_write : callable, optional
        Called (until it first returns) before the first write the store
        admits (:meth:`admit`): the engine marks its directory "in use" there,
        which needs free space, so that opening a directory does not.
    saved_doc : dict, optional
        The ``stream.json`` already on disk: :meth:`save` skips writing an
        identical document (reopening writes nothing).
    keys : KeyStore, optional
        The keys that seal and open encrypted batches (:mod:`shardstream.keys`).
    """

    def __init__(
        self,
        path: Path,
        *,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        max_segment_age_ms: int = DEFAULT_MAX_SEGMENT_AGE_MS,
        clean: bool = False,
        io: SegmentIO = SYSTEM_IO,
        before_write=None,
        saved_doc: dict | None = None,
        keys=None,
    ):
        self.path = Path(path)
        self._flush_lock = threading.RLock()  # reentrant: set_encryption flushes under it
        self.sealing = StreamSealing(keys, self._flush_lock, self.flush)
        self._io = io
        self._before_write = before_write
        #: The stream's ``stream.json`` (:class:`~.metadata.StreamMetadataFile`).
        self.metadata = StreamMetadataFile(self.path, saved_doc)
        self._hide_unsynced = False  # sync policy: rings show records only once fsync-ed
        self.failure: StorageError | None = None  # the last flush's error, until one succeeds
        self.last_error: StorageError | None = None  # the newest write error (kept)
        #: What failed ``sync`` commits discarded (:class:`~.discards.Discards`).
        self.discards = Discards(self._flush_lock)
        self.flush_stats = FlushStats()  # read by the metrics sampler
        self._broken: StorageError | None = None  # records could not be cut back: refuse every write
        #: False once :meth:`close` could not write or seal everything (the directory is then not clean).
        self.closed_cleanly = True
        #: False while a write would be refused or needs preparing (see :meth:`admit`); a cheap check for puts.
        self.accepting_writes = before_write is None
        self.clean = clean
        self.max_segment_bytes = int(max_segment_bytes)
        self.max_segment_age_ms = int(max_segment_age_ms)
        self._segments: list[SegmentLog] = []
        self._persisted: list[int] = []
        self._synced: list[int] = []  # first counter per shard not yet known to be fsync-ed
        #: Group commit of the stream's writers (:class:`~.commit.GroupCommit`): one flush covers many puts.
        self.committer = GroupCommit(self._flush_or_discard)
        self._closed = False

    # -- creation, metadata, removal -----------------------------------------

    def hide_unsynced(self) -> None:
        """Show readers only what is ``fsync``-ed (the ``sync`` policy); call before any record is put.

        Rings then show (``visible_limit``) and may evict (``evict_limit``)
        only records already ``fsync``-ed, and :meth:`read` leaves out what
        the segments hold beyond that, so no reader sees a record that a
        failed commit could still discard.
        """
        self._hide_unsynced = True

    def admit(self, *, refuse_on_failure: bool) -> None:
        """Check that a put may go ahead (call it when :attr:`accepting_writes` is False).

        Parameters
        ----------
        refuse_on_failure : bool
            Raise :attr:`failure` while the last flush failed (the policies
            whose puts are acknowledged before they are on disk: accepting
            more would lose more than one interval).

        Raises
        ------
        StorageError
            The directory could not be marked in use, or (with
            ``refuse_on_failure``) the last flush failed.
        """
        if self._before_write is not None:
            try:
                self._before_write()
            except OSError as exc:
                raise storage_error(exc) from exc
            self._before_write = None
        self.accepting_writes = self.failure is None
        if refuse_on_failure and self.failure is not None:
            raise self.failure

    def _failed(self, exc: BaseException) -> StorageError:
        error = storage_error(exc) if isinstance(exc, OSError) else StorageError(str(exc))
        self.failure = self.last_error = error
        self.accepting_writes = False
        return error

    def _succeeded(self) -> None:
        if self.failure is not None:
            self.failure = None
            self.accepting_writes = self._before_write is None

    @property
    def rollbacks(self) -> int:
        """How many failed ``sync`` commits have discarded records (see :meth:`lost`)."""
        return self.discards.count

    lost = delegate("discards", Discards)

    def durable(self, index: int, counter: int) -> bool:
        """Whether shard ``index``'s record ``counter`` is known to be ``fsync``-ed (and was not discarded)."""
        with self._flush_lock:
            if counter >= self._synced[index]:
                return False
        return not self.lost(index, [counter])[0]

    create = delegate("metadata", StreamMetadataFile)
    save = delegate("metadata", StreamMetadataFile)

    def destroy(self, data_dir: Path) -> None:
        """Delete the stream's files: one atomic rename into ``trash/``, then removal.

        Parameters
        ----------
        data_dir : pathlib.Path
            The data directory whose ``trash/`` receives the stream's directory.
        """
        self.close(flush=None)
        _move_to_trash(self.path, data_dir)

    # -- shards -----------------------------------------------------------------

    def open_shard(self, index: int) -> int:
        """Open (recovering) shard ``index``'s segment log.

        Shards must be opened in index order, once each.

        Parameters
        ----------
        index : int

        Returns
        -------
        int
            The counter the shard's next record gets (1 for an empty shard).

        Raises
        ------
        ValueError
            ``index`` is not the next shard in order.
        StorageError
            The segment directory could not be opened or recovered.
        """
        if index != len(self._segments):
            raise ValueError(f"shard {index} opened out of order (expected {len(self._segments)})")
        # Sealed segments' CRCs are checked when first read, not here: opening
        # costs a walk over message headers however much is stored.
        try:
            log = SegmentLog(
                shard_dir(self.path, index),
                self.max_segment_bytes,
                verify_sealed=False,
                expect_sealed=self.clean,
                io=self._io,
                keys=self.sealing.keys,
            )
        except OSError as exc:
            raise storage_error(exc) from exc
        last = log.last_counter()
        self._segments.append(log)
        self.discards.add_shard()
        self._persisted.append(1 if last is None else last + 1)
        self._synced.append(self._persisted[-1])
        return self._persisted[-1]

    def segment_log(self, index: int) -> SegmentLog:
        """The segment log of shard ``index`` (opened by :meth:`open_shard`)."""
        return self._segments[index]

    def persisted(self, index: int) -> int:
        """First counter of shard ``index`` not yet written to disk."""
        return self._persisted[index]

    def skip_to(self, index: int, counter: int) -> None:
        """Start shard ``index``'s numbering at ``counter`` (after an unclean shutdown)."""
        self._persisted[index] = max(self._persisted[index], counter)
        self._synced[index] = max(self._synced[index], counter)

    # -- flushing -----------------------------------------------------------------

    def flush(self, logs, now_ms: int, *, sync: bool, only: int | None = None, release=True, limit=0) -> int:
        """Write every ring's unwritten records to its segments.

        Parameters
        ----------
        logs : list of ShardLog
            The stream's rings, by shard index.
        now_ms : int
            Current time (the ring trims expired records as it is read).
        sync : bool
            ``fsync`` what was written before returning; without it the
            bytes are only handed to the OS (they survive the process, not
            a power loss).
        only : int, optional
            Flush only this shard.
        release : bool
            Once synced, drop what the rings still hold from the page cache (no second copy).
        limit : int
            Write at most this many records per shard (0: all), letting others at the lock between passes.

        Returns
        -------
        int
            Records written.

        Raises
        ------
        StorageError
            A write or ``fsync`` failed (:class:`~shardstream.errors.StorageFullError`
            for a full disk).  What was written before the failure stays
            written; the failed batch left no trace; the rest is still in the
            rings and the next flush tries again.
        """
        written, started = 0, time.perf_counter()
        touched: list[SegmentLog] = []
        with self._flush_lock:
            if self._closed:
                return 0
            if self._broken is not None:
                raise self._broken
            indexes = range(len(logs)) if only is None else (only,)
            try:
                runs = []  # (shard, first counter, end) of every ring with records to write
                for i in indexes:
                    log = logs[i]
                    if sync and self._synced[i] < self._persisted[i]:
                        # written by an earlier flush that did not sync: sync it now
                        touched.append(self._segments[i])
                    start = max(self._persisted[i], log.head)
                    if start >= log.tail:
                        continue
                    # Up to the tail as of now: never chase appending writers (that would postpone the fsync)
                    runs.append((i, start, log.tail if not limit else min(log.tail, start + limit)))
                    if not touched or touched[-1] is not self._segments[i]:
                        touched.append(self._segments[i])
                # Large runs of several shards are written at once, small ones here (see .parallel).
                large = [run for run in runs if run[2] - run[1] > MESSAGE_MAX_ROWS]
                large = large if len(large) > 1 else []
                written += sum(run_each(lambda run: self._write_run(logs, run, now_ms), large))
                written += sum(self._write_run(logs, run, now_ms) for run in runs if run not in large)
                if sync:
                    _sync_all(touched)
                    for i in indexes:
                        self._synced[i] = self._persisted[i]
                        if self._hide_unsynced:  # only now may readers see them and the ring drop them
                            logs[i].visible_limit = self._synced[i]
                            logs[i].evict_limit = self._synced[i]
                    for i in indexes if release else ():
                        if self._segments[i] in touched:
                            self._segments[i].release_synced(logs[i].head)
            except OSError as exc:
                raise self._failed(exc) from exc
            self._succeeded()
            self.flush_stats.flushed(written, sync and bool(touched), time.perf_counter() - started)
        return written

    set_encryption = delegate("sealing", StreamSealing)

    commit = delegate("committer", GroupCommit)
    commit_async = delegate("committer", GroupCommit)

    def _write_run(self, logs, run: tuple, now_ms: int) -> int:
        """Write a ``run`` of records, ``(shard, start, stop)``, from the shard's ring; the records written.

        Advances the shard's persisted counter (and the ring's eviction
        limit) batch by batch, so that what was written before a failure
        counts as written.
        """
        from .._native import read_arrow_batch

        (i, start, stop), written, rows = run, 0, FLUSH_BATCH_ROWS
        log, segments = logs[i], self._segments[i]
        encode = stop - start <= MESSAGE_MAX_ROWS and self.sealing.sealing_key() is None
        while start < stop:
            if encode:  # a small run: its message straight from the ring, no pyarrow batch in between
                done = _append_message(log, segments, start, stop, now_ms, retry_full=not self._hide_unsynced)
                if done is None:
                    encode = False  # not now (a new segment, or a full disk): the general path
                    continue
                if done == start:
                    break
                written += done - start
                start = self._advance(log, i, done)
                continue
            batch, nxt, _, _ = read_arrow_batch(log, start, min(rows, stop - start), 2**31 - 1, now_ms, True)
            if batch is None:
                break
            first = nxt - batch.num_rows
            try:
                segments.append(batch, np.arange(first, nxt, dtype=np.uint64), self.sealing.sealing_key())
            except OSError as exc:
                # Records acknowledged before they are on disk (not sync): write
                # as many as still fit, in smaller batches, before giving up.
                if self._hide_unsynced or batch.num_rows == 1 or not is_disk_full(exc):
                    raise
                self._failed(exc)  # refuse puts from now on, not once this pass ends
                rows = batch.num_rows // 2
                continue
            written += batch.num_rows
            start = self._advance(log, i, nxt)
        self._advance(log, i, start)  # past records retention trimmed meanwhile, too
        return written

    def _advance(self, log, i: int, counter: int) -> int:
        """Shard ``i``'s records before ``counter`` are written: the ring may evict them (unless sync)."""
        self._persisted[i] = counter
        if not self._hide_unsynced:
            log.evict_limit = counter
        return counter

    def _flush_or_discard(self, logs, now_ms: int) -> StorageError | None:
        """One group commit's work: flush and sync, or on failure discard what was not synced."""
        try:
            self.flush(logs, now_ms, sync=True)
        except StorageError as exc:
            self.discard_unsynced(logs)
            return exc
        return None

    def discard_unsynced(self, logs) -> None:
        """After a failed commit: drop every record not ``fsync``-ed, from the segments and the rings.

        Their puts are failing (:meth:`lost` names their counters); none was
        ever visible to readers.  A shard whose segments cannot even be cut
        back leaves the store broken: this and every later flush raise.

        Parameters
        ----------
        logs : list of ShardLog
            The stream's rings, by shard index.
        """
        with self._flush_lock:
            if self._closed:
                return
            if self._broken is not None:
                raise self._broken
            try:
                self._discard_unsynced(logs)
            finally:
                # counted once the records are gone, never before: a put that read the count before
                # appending checks whether it lost its records (see DurableStream.put_record); one
                # that reads the new count appended after the discard, so nothing of it was dropped
                self.discards.counted()

    def _discard_unsynced(self, logs) -> None:
        """:meth:`discard_unsynced`'s work, under the flush lock."""
        for i in range(min(len(logs), len(self._segments))):
            log, segments = logs[i], self._segments[i]
            durable = self._synced[i]
            if self._persisted[i] > durable:
                try:
                    last = segments.discard_unsynced()
                except OSError as exc:  # pragma: no cover - a disk that cannot even truncate
                    _log.critical("cannot cut back unsynced records of %s: %s", segments.directory, exc)
                    self._broken = self._failed(exc)
                    raise self._broken from exc
                if last is not None and last + 1 > durable:
                    durable = last + 1  # its fsync did succeed after all
            tail = log.discard_all()
            if tail > durable:
                self.discards.record(i, durable, tail)
            durable = max(durable, tail)
            self._persisted[i] = self._synced[i] = durable
            log.evict_limit = durable
            if self._hide_unsynced:
                log.visible_limit = durable

    def maintain(self, now_ms: int, retention_ms: int) -> int:
        """Roll segments past their age and delete whole segments past retention.

        A segment that cannot be sealed (no room for its end marker) is logged
        and tried again next time.

        Parameters
        ----------
        now_ms : int
            The engine's clock, epoch milliseconds.
        retention_ms : int
            Segments whose newest record arrived before ``now_ms - retention_ms``
            are deleted (each shard's newest segment stays).

        Returns
        -------
        int
            Segment files deleted.
        """
        deleted = 0
        with self._flush_lock:
            if self._closed:
                return 0
            for log in self._segments:
                try:
                    log.roll_if_older(now_ms - self.max_segment_age_ms)
                except OSError as exc:  # no room for the end marker: it stays active, retried next time
                    _log.warning("could not seal an old segment of %s: %s", log.directory, exc)
                deleted += len(log.delete_expired(now_ms - retention_ms))
        return deleted

    # -- reading ------------------------------------------------------------------

    def read(
        self, index: int, start: int, limit: int, max_data_bytes: int | None, min_arrival_ms: int
    ) -> list[pa.RecordBatch]:
        """Up to ``limit`` stored records of shard ``index`` from counter ``start``.

        Parameters
        ----------
        index : int
        start : int
            First counter wanted.
        limit : int
            Most records returned.
        max_data_bytes : int or None
            Stop before the data bytes would pass this (at least one record is
            always returned).
        min_arrival_ms : int
            Skip records that arrived before this (retention).

        Returns
        -------
        list of pyarrow.RecordBatch
            Zero-copy slices of the memory-mapped segments, in the stored
            schema (the record columns, then ``counter``); empty if nothing
            at or after ``start`` is stored.  Under :meth:`hide_unsynced`,
            records written but not yet ``fsync``-ed are left out, as the
            rings leave them out.
        """
        batches = self._segments[index].read_range(start, limit, max_data_bytes, min_arrival_ms=min_arrival_ms)
        return _before(batches, self._synced[index]) if self._hide_unsynced and batches else batches

    # -- shutdown -----------------------------------------------------------------

    def close(self, logs=None, now_ms: int = 0, *, flush: bool | None = True) -> None:
        """Flush (and sync) what the rings still hold, seal the active segments, close.

        Parameters
        ----------
        logs : list of ShardLog, optional
            Needed to flush.
        flush : bool or None
            False or None: close without writing what is still only in memory.

        Raises
        ------
        StorageError
            Records still only in memory could not be written (a full disk):
            they are lost.  The files are closed all the same.  A segment that
            cannot be sealed is only logged (nothing is lost: the next open
            treats it as after a crash); :attr:`closed_cleanly` tells.
        """
        error = None
        if flush and logs is not None:
            try:
                self.flush(logs, now_ms, sync=True, release=False)
            except StorageError as exc:
                error = exc
                self.closed_cleanly = False
        with self._flush_lock:
            if self._closed:
                return
            self._closed = True
            for log in self._segments:
                try:
                    log.close()
                except OSError as exc:
                    self.closed_cleanly = False
                    _log.warning("could not seal the segments of %s: %s", log.directory, exc)
        if error is not None:
            raise error

    def abandon(self) -> None:
        """Drop file handles without flushing or sealing anything, as a crash would (tests)."""
        with self._flush_lock:
            self._closed = True
            for log in self._segments:
                log.abandon()
