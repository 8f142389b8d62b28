"""Durable streams: records and metadata that survive restarts and crashes.

An :class:`~shardstream.Engine` opened with ``data_dir`` makes
:class:`DurableStream` objects.  Each keeps its shards' rings exactly as an
in-memory stream does (so writes and recent reads run at the same speed), and
behind them a :class:`~shardstream.storage.store.StreamStore`: a segment log
per shard and the stream's ``stream.json``.

Durability policies (per stream; the engine's is the default):

``"sync"``
    A put returns only after its records are written and ``fsync``-ed
    (concurrent writers share one ``fsync``: group commit).  Nothing
    acknowledged is lost, even to a power failure.
``"interval"``
    Records are written and ``fsync``-ed by a background thread every
    ``flush_interval_ms``; a crash loses at most the last interval.
``"none"``
    Records are written by the background thread but never ``fsync``-ed;
    they survive the process being killed once written (the OS holds them),
    not a power failure.  Closing the engine writes and syncs everything.

Under ``interval`` and ``none`` a put that leaves a shard with
:data:`EAGER_WRITE_BYTES` not yet written also wakes the stream's
:class:`~shardstream.storage.eager.EagerWriter`, which writes the rings
ahead of the interval (under ``interval`` syncing as it goes) while the
putters carry on (:meth:`DurableStream.write_ahead`): under steady load the
disk then keeps up instead of receiving a whole interval in one burst.

A full disk (or any failed write; see :mod:`shardstream.storage.store`):

``"sync"``
    Records are shown to readers only once ``fsync``-ed (``ShardLog.visible_limit``).
    A put whose records could not be made durable raises
    :class:`~shardstream.errors.StorageFullError` (Kinesis's
    ``ServiceUnavailable``, HTTP 503, retryable); its records are discarded
    from memory and disk, never read, never stored, and their sequence
    numbers are never given to other records.  The next put tries the disk
    again: writes resume by themselves once space is freed.
``"interval"``, ``"none"``
    Puts are acknowledged before the disk sees them, so once a background
    flush fails, puts raise the same error until a flush succeeds again (the
    background thread retries every interval): what a crash can lose stays
    what was accepted during the one interval whose flush failed.  Reads go
    on, from the segments and from memory.

Whatever the policy, the ring only evicts a record once it is on disk, so
reads of older records (``TRIM_HORIZON``, ``AT_SEQUENCE_NUMBER``,
``AT_TIMESTAMP``) are served from the segments: a durable stream never
refuses writes because its memory is full.

Sequence numbers are never reused: a clean close records where each shard
stopped, and after a crash each shard's counter skips past every number its
ring could have handed out before the crash.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref

import numpy as np
import pyarrow as pa

from ._native import SLOT_BYTES, RecordRejected, RingFull, ShardLog, StreamCore, ring_full_error
from .errors import InvalidArgumentException, StorageError
from .puts import parse_hash_keys, put_result_lists, put_result_table, record_rejection
from .schema import RECORD_SCHEMA
from .sequence import LEGACY_VERSION, sequence_counter, sequence_number_column
from .storage.eager import EagerWriter
from .storage.store import StreamStore
from .stream import Stream

__all__ = [
    "DURABILITY_POLICIES",
    "DurableStream",
    "Maintenance",
    "WouldBlock",
    "check_durability",
    "counter_gap",
    "nonblocking_puts",
]

_log = logging.getLogger("shardstream.durable")

DURABILITY_POLICIES = ("sync", "interval", "none")
#: Under ``interval`` and ``none``, a shard holding this many data bytes not yet written (or an
#: eighth of its ring, if less) has the stream's rings written ahead of the interval (:mod:`.storage.eager`).
EAGER_WRITE_BYTES = 4 << 20
#: Most records per shard one pass of :meth:`DurableStream.write_ahead` writes.
EAGER_PASS_RECORDS = 1 << 16
_ARRIVAL = RECORD_SCHEMA.get_field_index("approximate_arrival_timestamp")
_SEQUENCE = RECORD_SCHEMA.get_field_index("sequence_number")


class WouldBlock(Exception):
    """Raised by a put inside :func:`nonblocking_puts` that would have to wait for disk; nothing was written."""


class _Nonblocking(threading.local):
    pending: list | None = None


_nonblocking = _Nonblocking()


@contextlib.contextmanager
def nonblocking_puts():
    """Within the block, :meth:`DurableStream.put_record` on this thread never waits for the disk.

    A put that would (its ring is full of records not yet written, or an
    on-demand stream may scale out) raises :class:`WouldBlock` having written
    nothing; a ``sync`` put that succeeds is not yet durable: an object with
    a ``commit_async(callback)`` method is added to the yielded list, and the
    caller must not acknowledge the put before that has called back with
    None (with an exception, the put failed: answer that instead).  (The
    server's event loop appends records itself and waits for their fsync
    without a thread.)  Only ``put_record``: larger puts may write in pieces.
    """
    pending: list = []
    outer, _nonblocking.pending = _nonblocking.pending, pending
    try:
        yield pending
    finally:
        _nonblocking.pending = outer


def _put_failed(store: StreamStore, lost: int, total: int) -> StorageError:
    """The error a put raises when ``lost`` of its ``total`` records were discarded."""
    cause = store.last_error or StorageError("Writing the data directory failed: the write was not stored")
    if lost == total:
        return cause
    error = type(cause)(f"{cause.message} ({total - lost} of the {total} records had been stored by then)", cause.errno)
    return error


class _SyncPut:
    """A ``put_record`` under the ``sync`` policy, waiting to be known durable (or discarded).

    Handed to callers of :func:`nonblocking_puts`, which must not acknowledge
    the put before :meth:`commit_async` calls back with None.
    """

    __slots__ = ("_stream", "_rollbacks", "_result")

    def __init__(self, stream: DurableStream, rollbacks: int, result: dict):
        self._stream = stream
        self._rollbacks = rollbacks
        self._result = result

    def _where(self) -> tuple[int, int]:
        """(shard index, counter) of the record."""
        return int(self._result["ShardId"].rsplit("-", 1)[1]), sequence_counter(self._result["SequenceNumber"])

    def _error(self) -> StorageError | None:
        """None if the record is durable (its commit returned), else why its put failed."""
        store = self._stream.store
        if store.rollbacks == self._rollbacks:
            return None
        index, counter = self._where()
        if store.lost(index, [counter])[0]:
            return _put_failed(store, 1, 1)
        return None

    def check(self) -> None:
        """Raise the put's error if its record was discarded (call once its commit returned)."""
        error = self._error()
        if error is not None:
            raise error

    def commit_async(self, callback) -> None:
        """``callback(None)`` once the record is durable, ``callback(exc)`` if its put failed."""

        def done(exc):
            if exc is None:
                exc = self._error()
            elif isinstance(exc, StorageError) and self._stream.store.durable(*self._where()):
                exc = None  # an earlier flush had covered it
            callback(exc)

        self._stream.commit_async(done)


class DurableStream(Stream):
    """A stream whose records and metadata live in an engine's data directory.

    Created by :meth:`Engine.create_stream` on an engine with a ``data_dir``
    (and restored by the engine when it reopens the directory); the API is
    :class:`~shardstream.Stream`'s.

    Parameters
    ----------
    catalog, name, shard_count, **kw
        As for :class:`~shardstream.Stream`.
    store : StreamStore
        The stream's files.
    durability : str
        ``"sync"``, ``"interval"`` or ``"none"``.
    counter_gap : int
        How far the shards' counters skip on reopening after a crash (:func:`counter_gap`; 0 after a clean close).
    restored : dict, optional
        The stream's saved metadata, when the engine reopens it (its settings are taken from it).

    Attributes
    ----------
    durability : str
        ``"sync"``, ``"interval"`` or ``"none"`` (see the module docstring).
    store : StreamStore
        The stream's files.
    """

    def __init__(
        self,
        catalog,
        name,
        shard_count,
        *,
        store: StreamStore,
        durability: str,
        counter_gap: int = 0,
        restored: dict | None = None,
        **kw,
    ):
        self.store = store
        self.durability = durability
        self.room_on_full = True  # a full ring is flushed, not refused (see _with_room)
        self._sync = durability == "sync"
        if self._sync:
            store.hide_unsynced()
        self._counter_gap = counter_gap
        self._ready = False
        super().__init__(catalog, name, shard_count, **kw)
        #: Writes the rings ahead of the flush interval once enough piled up (None under ``sync``).
        self.eager_writer = None if self._sync else EagerWriter(_eager_write(weakref.ref(self)))
        self._eager_bytes = min(EAGER_WRITE_BYTES, self.shard_capacity_bytes // 8)
        if restored is not None:
            self.restore_settings(restored)
        self._counter_gap = 0  # shards created from now on start at 1
        self._ready = True
        try:
            self.save_metadata()  # writes nothing if stream.json already says the same
        except StorageError as exc:
            if restored is None:
                raise
            # Reopening must not need free space: the document on disk stays valid.
            _log.warning("could not rewrite the metadata of stream %s: %s", name, exc)

    def _refresh_accepting(self) -> None:
        if self.catalog.closed:
            raise ValueError("the engine is closed")
        super()._refresh_accepting()

    # -- structure and metadata ----------------------------------------------------

    def _new_log(self, index: int, created_s: int) -> ShardLog:
        first = self.store.open_shard(index)
        if self._counter_gap:  # every shard, even one whose records were all still in memory
            first += self._counter_gap
            self.store.skip_to(index, first)
        # The ring is a cache of the segments: it evicts (only what is on
        # disk) instead of refusing writes.
        log = ShardLog(index, created_s, self.shard_capacity_bytes, self.retention_hours * 3_600_000, True, first)
        log.evict_limit = first
        if self._sync:
            log.visible_limit = first  # published once fsync-ed
        return log

    def rebuild_routing(self) -> None:
        """As :meth:`Stream.rebuild_routing`, after saving ``stream.json`` with the new shards."""
        # Save new shards before any record can be routed to them, so a crash
        # never leaves records in shards that stream.json does not list.
        if self._ready:
            self.save_metadata()
        super().rebuild_routing()

    def metadata(self) -> dict:
        """As :meth:`Stream.metadata`, with the stream's durability policy."""
        doc = super().metadata()
        doc["durability"] = self.durability
        return doc

    def save_metadata(self) -> None:
        """Write ``stream.json`` (atomically; nothing when it already says the same)."""
        if self._ready:
            self.store.save(self.metadata)

    # -- writes --------------------------------------------------------------------

    def put_record(
        self, data, partition_key=None, explicit_hash_key=None, sequence_number_for_ordering=None, *, dry_run=False
    ):
        """As :meth:`Stream.put_record`; under the sync policy it returns once the record is on disk.

        Parameters
        ----------
        data, partition_key, explicit_hash_key, sequence_number_for_ordering, dry_run
            As for :meth:`Stream.put_record`.
        """
        pending = _nonblocking.pending
        if pending is not None and self.watch_writes:
            raise WouldBlock("an on-demand stream may scale out (file writes)")
        store = self.store
        if not store.accepting_writes and not dry_run:
            store.admit(refuse_on_failure=not self._sync)
        rollbacks = store.rollbacks
        if dry_run:  # raises DryRunOperationException (a durable ring always makes room): nothing to commit
            StreamCore.put_record(
                self, data, partition_key, explicit_hash_key, sequence_number_for_ordering, dry_run=True
            )
        result = self._with_room(
            StreamCore.put_record, self, data, partition_key, explicit_hash_key, sequence_number_for_ordering
        )
        if self._sync:
            put = _SyncPut(self, rollbacks, result)
            if pending is None:
                store.commit(self.logs, self.now_ms)
                put.check()
            else:
                pending.append(put)
        return result

    def _put(self, keys, payloads, explicit_hash_keys, *, simd=True, partial=False, dry_run=False) -> pa.Table:
        # A full ring is flushed rather than refused (see _with_room), so
        # every put is all-or-nothing; one bigger than a ring goes in pieces,
        # after the whole of it has been validated.
        if dry_run:  # the checks of the whole put at once (a durable ring always makes room)
            return super()._put(keys, payloads, explicit_hash_keys, simd=simd, partial=partial, dry_run=True)
        if _nonblocking.pending is not None:  # it may write in pieces: not undone by a retry
            raise WouldBlock("only put_record runs without blocking")
        store = self.store
        if not store.accepting_writes:
            store.admit(refuse_on_failure=not self._sync)
        rollbacks = store.rollbacks
        ehk = parse_hash_keys(explicit_hash_keys, len(keys))
        if self.auto_distribution:
            ehk = None
        bounds = _chunk_bounds(keys, payloads, self.shard_capacity_bytes // 4)
        if len(bounds) > 2:
            self.check_rows(keys, payloads)  # the whole put, before any piece of it is written
        results = []
        try:
            for a, b in zip(bounds, bounds[1:]):
                part = ehk if ehk is None or len(bounds) == 2 else tuple(column[a:b] for column in ehk)
                piece_keys = keys if len(bounds) == 2 else keys.slice(a, b - a)
                piece_data = payloads if len(bounds) == 2 else payloads.slice(a, b - a)
                results.append(self._with_room(self._put_arrays, piece_keys, piece_data, part, simd, False))
        except RecordRejected as bad:  # a one-piece put: the core checked it (nothing was written)
            raise record_rejection(bad, keys, payloads, self.max_record_bytes) from None
        except StorageError as exc:
            if not results:
                raise
            if self._sync:  # pieces already in the rings must not be stored by a later commit
                store.discard_unsynced(self.logs)
                raise self._partly_stored(exc, results, len(keys), "stored by then") from exc
            # interval/none: the pieces before the failure were accepted (and will be written)
            raise self._partly_stored(exc, results, len(keys), "accepted") from exc
        if self._sync:
            store.commit(self.logs, self.now_ms)
            if store.rollbacks != rollbacks:
                self._check_stored(results)
        elif self._write_ahead_due():
            self.eager_writer.kick()
        tables = [put_result_table(*result) for result in results]
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def write_ahead(self) -> int:
        """Write (under ``interval`` also sync) the rings' backlog now, in passes, while it is large.

        Run by the stream's :class:`~shardstream.storage.eager.EagerWriter`
        when puts leave a shard with :data:`EAGER_WRITE_BYTES` not yet written.
        Each pass writes up to :data:`EAGER_PASS_RECORDS` records of every
        shard and lets go of the store's lock, so the interval flush and
        putters in need of room get their turn.  Under ``interval`` each pass
        also syncs what it wrote (sooner than the interval requires), which lets
        the page cache drop what the rings still hold, so writing reuses the
        same memory instead of growing the cache with everything written.

        Returns
        -------
        int
            Records written.
        """
        sync = self.durability == "interval"
        total = 0
        while True:
            written = self.store.flush(self.logs, self.now_ms(), sync=sync, limit=EAGER_PASS_RECORDS)
            total += written
            if not written or not self._write_ahead_due():
                return total

    def _write_ahead_due(self) -> bool:
        """Whether some shard holds enough records not yet written to start an eager write."""
        store, threshold = self.store, self._eager_bytes
        for log in self.logs:
            tail = log.tail
            if tail - store.persisted(log.shard_index) < 64:
                continue
            start = max(store.persisted(log.shard_index), log.head)
            if log.bytes_between(start, tail) >= threshold:
                return True
        return False

    def _count_lost(self, results) -> int:
        """How many records of this put (its pieces' ``_put_arrays`` results) a failed commit discarded."""
        lost = 0
        for positions, counters, _, open_logs, _ in results:
            shard = np.array([log.shard_index for log in open_logs], dtype=np.int64)[positions]
            for index in np.unique(shard).tolist():
                lost += int(self.store.lost(index, counters[shard == index]).sum())
        return lost

    def _check_stored(self, results) -> None:
        """Raise if a failed commit discarded any record of this put (its pieces' ``_put_arrays`` results)."""
        lost = self._count_lost(results)
        if lost:
            total = sum(len(result[1]) for result in results)
            cause = _put_failed(self.store, total, total)
            raise cause if lost == total else self._partly_stored(cause, results, total, "stored by then")

    def _partly_stored(self, exc: StorageError, results, total: int, what: str) -> StorageError:
        """``exc`` for a put of ``total`` records of which the pieces ``results`` went in (less what
        a failed commit discarded); it names each record that was kept (``StorageError.records``).

        ``exc`` itself when none was kept.  Rare, so plain Python lists.
        """
        records: list = [None] * total
        offset = kept = 0
        for result in results:
            positions, counters, _, open_logs, _ = result
            shard = np.array([log.shard_index for log in open_logs], dtype=np.int64)[positions]
            lost = np.zeros(len(counters), dtype=bool)
            for index in np.unique(shard).tolist():
                where = shard == index
                lost[where] = self.store.lost(index, counters[where])
            shard_ids, seqs = put_result_lists(put_result_table(*result))
            for j, gone in enumerate(lost.tolist()):
                if not gone:
                    records[offset + j] = (shard_ids[j], seqs[j])
                    kept += 1
            offset += len(counters)
        if not kept:
            return exc
        message = f"{exc.message} ({kept} of the {total} records had been {what})"
        return type(exc)(message, exc.errno, records)

    def _with_room(self, write, *args):
        """Run a native write; while a shard's ring is full (the status :class:`RingFull`), write that
        ring to disk to make room (the ring may then evict what is on disk) and run it again."""
        while True:
            try:
                return write(*args)
            except RingFull as full:
                self._make_room(full)

    def _make_room(self, full: RingFull) -> None:
        log = full.log
        limit = log.evict_limit
        if log.tail > limit:
            if _nonblocking.pending is not None:
                raise WouldBlock("the shard's ring is full of records not yet on disk")
            # (under sync the ring may drop only fsync-ed records: sync them)
            self.store.flush(self.logs, self.now_ms(), sync=self._sync, only=log.shard_index)
            if log.evict_limit > limit:
                return
            self._refresh_accepting()  # nothing written: the engine was closed under us
        raise ring_full_error(self.name, self.account_id, log, full.records, full.nbytes)

    def commit_async(self, callback) -> None:
        """Call ``callback(None)`` once every record put so far is on disk (``callback(exc)`` if that failed).

        Parameters
        ----------
        callback : callable
            Called with None or the exception, from the thread whose flush covered the records
            (see :meth:`StreamStore.commit_async`).
        """
        self.store.commit_async(self._current_logs, self.now_ms, callback)

    def _current_logs(self):
        return self.logs

    def flush(self, *, sync: bool = True) -> int:
        """Write everything still only in memory to disk now.

        Parameters
        ----------
        sync : bool
            Also ``fsync`` what was written.

        Returns
        -------
        int
            Records written.

        Raises
        ------
        StorageError
            A write failed (:class:`~shardstream.errors.StorageFullError` for
            a full disk); what was not written stays in memory.
        """
        return self.store.flush(self.logs, self.now_ms(), sync=sync)

    # -- reads ---------------------------------------------------------------------

    def locate_timestamp(self, index: int, timestamp_ms: int) -> int:
        """As :meth:`Stream.locate_timestamp` (``index``, ``timestamp_ms``), looking in the segments too."""
        log = self.logs[index]
        counter = log.locate_timestamp(timestamp_ms)
        if counter == log.head:  # the answer may be older than the ring holds
            stored = self.store.segment_log(index).first_counter_at(timestamp_ms)
            if stored is not None and stored < counter:
                return stored
        return counter

    def _read_stored(self, index: int, start: int, limit: int, max_data_bytes: int | None, now: int):
        """Records of shard ``index`` from ``start`` that only the segments hold, as record-schema
        slices, and the next counter; None when the ring holds ``start`` (or nothing does)."""
        log = self.logs[index]
        if start >= log.head or max(start, self.store.segment_log(index).oldest_counter() or start) >= log.head:
            return None
        cutoff = now - self.retention_hours * 3_600_000
        stored = self.store.read(index, start, limit, max_data_bytes, cutoff)
        if not stored:
            return None
        last = stored[-1]
        pieces = [self._record_batch(index, b) for b in stored]
        return pieces, last.column(last.num_columns - 1)[-1].as_py() + 1

    def _record_batch(self, index: int, stored: pa.RecordBatch) -> pa.RecordBatch:
        """A stored batch in RECORD_SCHEMA.  A stream from before 2026 stored old-layout
        numbers: its records get theirs from counter and arrival time instead."""
        columns = stored.columns[:-1]
        if self.sequence_layout == LEGACY_VERSION:
            columns[_SEQUENCE] = sequence_number_column(
                self.logs[index].created_s,
                index,
                stored.column(stored.num_columns - 1).to_numpy(),
                columns[_ARRIVAL].view(pa.int64()).to_numpy(),
            )
        return pa.RecordBatch.from_arrays(columns, schema=RECORD_SCHEMA)

    def read_page(self, index: int, start: int, limit: int, max_data_bytes: int, now: int):
        """As :meth:`Stream.read_page`, served from the segments where the ring no longer holds ``start``.

        Parameters
        ----------
        index, start, limit, max_data_bytes, now
            As for :meth:`Stream.read_page`.
        """
        log = self.logs[index]
        for _ in range(3):
            stored = self._read_stored(index, start, limit, max_data_bytes, now)
            if stored is not None:
                pieces, nxt = stored
                batch = pieces[0] if len(pieces) == 1 else pa.concat_batches(pieces)
                return batch, nxt, log.tail, batch.column(_ARRIVAL)[-1].value
            page = super().read_page(index, start, limit, max_data_bytes, now)
            batch, nxt = page[0], page[1]
            if batch is None or nxt - batch.num_rows <= start:
                return page
            # The ring moved past `start` while we looked: those records are on disk now.
        return page

    def read_pieces(self, index: int, start: int, limit: int, now: int) -> tuple[list, int]:
        """As :meth:`Stream.read_pieces` (``index``, ``start``, ``limit``, ``now``); stored records: segment slices."""
        stored = self._read_stored(index, start, limit, None, now)
        if stored is not None:
            return stored
        batch, nxt, _, _ = self.read_page(index, start, limit, 2**31 - 1, now)
        return ([] if batch is None else [batch]), nxt

    def __repr__(self) -> str:
        return f"<DurableStream {self.name!r} {self.status} shards={self.open_shard_count} {self.durability}>"


def _chunk_bounds(keys: pa.Array, payloads: pa.Array, max_bytes: int) -> list[int]:
    """Row offsets cutting a put into pieces of at most ``max_bytes`` of ring space each."""
    n = len(keys)
    if keys.nbytes + payloads.nbytes + SLOT_BYTES * n <= max_bytes:  # an upper bound, and cheap
        return [0, n]
    key_bytes = _binary_bytes(keys)
    data_bytes = _binary_bytes(payloads)
    if int(key_bytes[-1] + data_bytes[-1]) + SLOT_BYTES * n <= max_bytes:
        return [0, n]
    cost = key_bytes + data_bytes + SLOT_BYTES * np.arange(n + 1, dtype=np.int64)
    bounds = [0]
    while bounds[-1] < n:
        a = bounds[-1]
        b = int(np.searchsorted(cost, cost[a] + max_bytes, "right")) - 1
        bounds.append(min(max(b, a + 1), n))
    return bounds


def _binary_bytes(array: pa.Array) -> np.ndarray:
    """Cumulative byte lengths (``len(array) + 1`` entries, from 0) of a string or binary array."""
    wide = pa.types.is_large_binary(array.type) or pa.types.is_large_string(array.type)
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64 if wide else np.int32)
    offsets = offsets[array.offset : array.offset + len(array) + 1].astype(np.int64)
    return offsets - offsets[0]


def _eager_write(ref):
    """The write an :class:`EagerWriter` runs for the stream ``ref`` (a weak reference) refers to."""

    def write() -> bool:
        stream = ref()
        if stream is None or stream.catalog.closed:
            return False
        stream.write_ahead()
        return True

    return write


def check_durability(value) -> str:
    """``value`` if it is a durability policy; InvalidArgumentException otherwise."""
    if value not in DURABILITY_POLICIES:
        raise InvalidArgumentException(f"durability must be one of {', '.join(DURABILITY_POLICIES)}, not {value!r}")
    return value


def counter_gap(shard_capacity_bytes: int) -> int:
    """How far a shard's counter skips after a crash: more records than its ring can hold.

    Records not yet on disk all sit in the ring, and each costs at least
    ``SLOT_BYTES`` of its capacity, so no more than this many numbers can have
    been handed out beyond the last one on disk.

    Parameters
    ----------
    shard_capacity_bytes : int
        The capacity of each shard's ring.
    """
    return shard_capacity_bytes // SLOT_BYTES + 1


class Maintenance:
    """The background thread of a durable engine, started once the engine has a stream.

    Every ``flush_interval_ms`` it writes the records of ``interval`` and
    ``none`` streams to disk (syncing the ``interval`` ones); every
    ``MAINTAIN_EVERY_MS`` it rolls old segments and deletes segments past
    retention.  Errors are kept in ``last_error`` and logged (a stream's
    failing flushes once, until one succeeds again); the thread goes on, so a
    flush that failed for want of space is retried every interval and puts
    resume once it succeeds.

    An engine without streams has nothing to flush: the thread starts on the
    first :meth:`start` (the engine calls it when it restores or creates a
    stream), so engines made for regions nobody writes to cost no thread.

    Parameters
    ----------
    engine : Engine
        The durable engine (held weakly); its ``flush_interval_ms`` sets the interval.
    """

    MAINTAIN_EVERY_MS = 10_000

    def __init__(self, engine):
        self._engine = weakref.ref(engine)
        self._interval_s = engine.flush_interval_ms / 1000
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.last_error: BaseException | None = None
        self._failing = weakref.WeakSet()  # streams whose last background flush failed (logged once)
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread has been started (and not stopped)."""
        with self._lock:
            return self._thread is not None and not self._stop.is_set()

    def start(self) -> None:
        """Start the thread, unless it runs already or the engine was closed (idempotent)."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="shardstream-maintenance", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        last_maintain = time.monotonic()
        while not self._stop.wait(self._interval_s):
            engine = self._engine()
            if engine is None:
                return
            due = time.monotonic() - last_maintain >= self.MAINTAIN_EVERY_MS / 1000
            for stream in engine.durable_streams():
                try:
                    if stream.durability != "sync":
                        stream.flush(sync=stream.durability == "interval")
                        if stream in self._failing:
                            self._failing.discard(stream)
                            _log.warning("background flush of stream %s succeeded again", stream.name)
                    if due:
                        stream.store.maintain(stream.now_ms(), stream.retention_hours * 3_600_000)
                except StorageError as exc:  # puts are refused meanwhile (see DurableStream)
                    self.last_error = exc
                    if stream not in self._failing:
                        self._failing.add(stream)
                        _log.error(
                            "background flush of stream %s failed (retried every interval): %s", stream.name, exc
                        )
                except Exception as exc:  # keep serving; report
                    self.last_error = exc
                    _log.exception("background flush of stream %s failed", stream.name)
            try:
                engine.queues.flush()
            except Exception as exc:  # keep serving; report
                self.last_error = exc
                _log.exception("background sync of queue journals failed")
            if due:
                last_maintain = time.monotonic()
            del engine

    def stop(self) -> None:
        """Stop the thread and wait for it (it finishes its current pass); it never starts afterwards."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
