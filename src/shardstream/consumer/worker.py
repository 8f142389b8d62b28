"""Consumer: a worker of a consumer group, with the Kinesis Client Library's semantics.

Each :class:`Consumer` is one *worker* of a *group*.  The workers of a group
share a lease table (:mod:`.leases`) and, between them, read every shard of
the stream once: a worker holds a lease per shard it reads, renews its
leases, takes unowned or expired ones and balances towards an even share
(the KCL's lease-count taker), and checkpoints how far it got.

Threads: the worker's coordinator (in :meth:`Consumer.run`) syncs shards
into the lease table, renews, takes and steals leases every
``failover_ms / 3``; each held lease gets a shard thread that waits for the
shard's parents to finish, then reads the shard through the stream's public
API (``get_shard_iterator`` / ``get_records`` or ``get_record_batch``) and
drives the processor (:mod:`.processor`).  ``stream`` may be an embedded
:class:`~shardstream.Stream` or a :func:`shardstream.connect` stream, so
workers in several processes share a stream through a server and an SQLite
lease file, and workers on several machines share a Kinesis stream
(``connect("aws://<region>")``) and a DynamoDB lease table
(``leases="dynamodb://<table>"``).

Records reach processors as user records: KPL aggregates are taken apart
and compression envelopes opened (:mod:`shardstream.unpack`), and, as in
KCL 2.x, user records of an aggregate whose effective hash key falls outside
the leased shard's hash range are dropped.  A checkpoint is the position
(sequence number, sub-sequence number) of a user record.

A shard resumes after its last checkpointed user record (the read starts
AT_SEQUENCE_NUMBER of the checkpoint and drops the user records up to it),
wherever it is taken over.  Whether that means at-least-once or at-most-once
delivery, and checkpoints on a schedule, is :mod:`.delivery`'s job.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import os
import queue
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable

from ..errors import ExpiredIteratorException
from ..sequence import parse_sequence_number
from ..shard_wait import ShardWait
from ..stream import Stream
from ..unpack import unpack_batch, unpack_records
from .batches import ConsumerBatch, QueueProcessor, ShardLag, last_position, record_lag
from .delivery import CheckpointEvery, ShardDelivery, check_delivery
from .leases import Lease, LeaseStore
from .processor import SENTINELS, Checkpointer, LeaseLostError, RecordProcessor
from .stores import open_lease_store

__all__ = ["INITIAL_POSITIONS", "CheckpointEvery", "Consumer", "ConsumerBatch", "ShardLag"]

INITIAL_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
_log = logging.getLogger("shardstream.consumer")
#: Longest an idle worker of an embedded stream sleeps on the write signal before it looks at a stop.
_STOP_CHECK_S = 0.05


class Consumer:
    """One worker of a consumer group.

    Parameters
    ----------
    stream : Stream or RemoteStream
        The stream to read (embedded, or ``shardstream.connect(url).stream(name)``).
    group : str
        The consumer group (the KCL's application name): workers of one group
        share the shards; groups read independently.
    processor : callable, optional
        Makes a :class:`RecordProcessor` per shard (a subclass works).  Without
        one, iterate the consumer (``for batch in consumer`` or ``async for``)
        to get :class:`ConsumerBatch` objects.
    worker_id : str, optional
        Unique per worker (default: host, pid and a random suffix).
    leases : None, path-like, str or LeaseStore
        The lease table: None for one in this process's memory (workers on
        threads of one process must then share one store object), a path for
        an SQLite file that processes on one machine share,
        ``"dynamodb://<table>"`` for a DynamoDB table in the KCL's schema that
        workers on any machine share (``"dynamodb://"``: the table named after
        the group; created on first use; region, endpoint and credentials from
        botocore's usual configuration, e.g. ``AWS_REGION`` and
        ``AWS_ENDPOINT_URL_DYNAMODB``; needs the ``aws`` extra), or a
        :class:`LeaseStore` (e.g. a :class:`DynamoDBLeaseStore` with its own
        client).
    initial_position : {"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"}
        Where shards never checkpointed start (children of read shards always
        start at their beginning).
    timestamp : datetime or float, optional
        For ``AT_TIMESTAMP``.
    record_format : {"arrow", "dicts"}
        User records as one ``pyarrow.RecordBatch`` per call (in
        ``USER_RECORD_SCHEMA``), or GetRecords dicts with ``SubSequenceNumber``.
    failover_ms : int
        Lease duration: a lease whose counter has not changed for this long
        may be taken by another worker (KCL default 10 s).
    idle_ms : int
        Pause after a read that returned nothing.  On an embedded stream the
        shard's next write ends it at once (the worker sleeps on the stream's
        write signal), so records reach ``process`` within microseconds;
        through a RemoteEngine it is a plain pause.
    max_records : int
        Most records per read (and per ``process`` call).
    delivery : {"at_least_once", "at_most_once"}
        When a batch is checkpointed for the processor (see below).
    checkpoint_every : CheckpointEvery, optional
        Checkpoint automatically after successful batches, every so many user records
        and/or seconds (Kafka's auto-commit); ``at_least_once`` only.

    Raises
    ------
    ValueError
        An unknown ``initial_position``, ``record_format`` or ``delivery``, AT_TIMESTAMP without
        a timestamp, ``failover_ms`` below 100, or a ``checkpoint_every`` that is not a
        :class:`CheckpointEvery` or comes with ``at_most_once``.

    Notes
    -----
    The two delivery modes side by side:

    ============================  ====================================  ======================================
    what                          ``delivery="at_least_once"``          ``delivery="at_most_once"``
    ============================  ====================================  ======================================
    checkpoint written            by the processor (or                  by the consumer, at the batch's last
                                  ``checkpoint_every``), after it       user record, *before* ``process``
                                  handled the batch
    a worker crashes mid-batch    the batch (and all since the last     the batch in hand is lost; nothing
                                  checkpoint) is delivered again        is delivered twice
    ``process`` raises            not checkpointed by the schedule      already checkpointed: lost
    manual ``checkpoint()``       as always                             allowed but redundant; only forward
                                                                        (a position inside the batch is below
                                                                        the checkpoint: InvalidCheckpointError)
    shard end                     the processor checkpoints             the same: ``shard_ended`` must
                                  ``SHARD_END`` (the default does)      checkpoint ``SHARD_END``
    ============================  ====================================  ======================================

    ``checkpoint_every`` is a :class:`CheckpointEvery` rather than a number so that
    ``records`` and ``seconds`` cannot be confused; with both, whichever comes first.  A batch
    whose ``process`` raised is not checkpointed: the end of the last good batch is written
    and the schedule stops for that lease, so the failed batch comes again after a restart.
    On a graceful stop the pending scheduled checkpoint is written after
    ``shutdown_requested``.  When the consumer is iterated (no processor), a batch counts as
    processed once it is handed to the iterator: use at-least-once with
    ``batch.checkpoint()`` for work that must not be lost.  The KCL daemon
    (``shardstream kcl``) is not affected: its processors checkpoint themselves.

    Examples
    --------
    >>> import shardstream
    >>> engine = shardstream.Engine()
    >>> stream = engine.create_stream("orders", shard_count=2)
    >>> _ = stream.put_batch(["a", "b", "c"], [b"1", b"2", b"3"])
    >>> seen = []
    >>> class Collect(shardstream.RecordProcessor):
    ...     def process(self, records, checkpointer, millis_behind_latest):
    ...         seen.extend(records.column("data").to_pylist())
    ...         checkpointer.checkpoint()
    >>> consumer = shardstream.Consumer(stream, "billing", Collect).start()
    >>> consumer.wait_until(lambda: len(seen) == 3, timeout=10)
    True
    >>> consumer.stop()
    >>> sorted(seen)
    [b'1', b'2', b'3']
    """

    def __init__(
        self,
        stream,
        group: str,
        processor: Callable[[], RecordProcessor] | None = None,
        *,
        worker_id: str | None = None,
        leases=None,
        initial_position: str = "TRIM_HORIZON",
        timestamp=None,
        record_format: str = "arrow",
        failover_ms: int = 10_000,
        idle_ms: int = 200,
        max_records: int = 10_000,
        delivery: str = "at_least_once",
        checkpoint_every: CheckpointEvery | None = None,
    ):
        if initial_position not in INITIAL_POSITIONS:
            raise ValueError(
                f"initial_position must be one of {', '.join(INITIAL_POSITIONS)}, not {initial_position!r}"
            )
        if initial_position == "AT_TIMESTAMP" and timestamp is None:
            raise ValueError("initial_position AT_TIMESTAMP needs a timestamp")
        if record_format not in ("arrow", "dicts"):
            raise ValueError(f"record_format must be 'arrow' or 'dicts', not {record_format!r}")
        if failover_ms < 100:
            raise ValueError("failover_ms must be at least 100")
        check_delivery(delivery, checkpoint_every)
        self.delivery = delivery
        self.checkpoint_every = checkpoint_every
        self.stream = stream
        self.group = group
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.store: LeaseStore = open_lease_store(leases, group)
        self.initial_position = initial_position
        self.timestamp = timestamp
        self.record_format = record_format
        self.failover_ms = int(failover_ms)
        self.idle_ms = int(idle_ms)
        self.max_records = int(max_records)
        self._batches: queue.Queue = queue.Queue(maxsize=16)
        self._stopping = threading.Event()
        self._processor_factory = (
            processor if processor is not None else (lambda: QueueProcessor(self._batches, self._stopping))
        )
        self._stopped = threading.Event()
        self._started = False
        self._thread: threading.Thread | None = None
        self._shards: dict[str, _ShardWorker] = {}
        self._seen: dict[str, tuple[int, float]] = {}  # lease key -> (counter, monotonic time it last changed)
        self._lag: dict[str, ShardLag] = {}
        self.error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------

    def run(self) -> None:
        """Work until :meth:`stop` (or SIGINT/SIGTERM when called from the main thread).

        Raises
        ------
        RuntimeError
            The consumer ran before (a Consumer runs once).
        """
        if self._started:
            raise RuntimeError("a Consumer runs once")
        self._started = True
        restore = self._install_signals()
        try:
            self._coordinate()
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self._shutdown()
            for sig, handler in restore:
                signal.signal(sig, handler)
            self._stopped.set()

    def start(self) -> Consumer:
        """Run in a background thread; returns the consumer."""
        self._thread = threading.Thread(target=self._run_quietly, name=f"consumer-{self.worker_id}", daemon=True)
        self._thread.start()
        return self

    def _run_quietly(self) -> None:
        try:
            self.run()
        except Exception:
            _log.exception("consumer %s failed", self.worker_id)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop gracefully: processors get ``shutdown_requested``, leases are released; waits.

        Parameters
        ----------
        timeout : float or None
            Longest wait, in seconds, for the worker to finish (None: no limit).
            Nothing is waited for when the consumer never started.
        """
        self._stopping.set()
        if self._started:
            self._stopped.wait(timeout)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> bool:
        """Poll ``condition`` until true or ``timeout`` seconds passed.

        Parameters
        ----------
        condition : callable
            Called without arguments; truthy ends the wait.
        timeout : float
            Seconds.
        interval : float
            Seconds between polls.

        Returns
        -------
        bool
            Whether ``condition`` became true.

        Raises
        ------
        RuntimeError
            The consumer stopped with an error (chained to it).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            if self._stopped.is_set() and self.error is not None:
                raise RuntimeError("the consumer stopped with an error") from self.error
            time.sleep(interval)
        return condition()

    def _install_signals(self):
        if threading.current_thread() is not threading.main_thread():
            return []
        restore = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            restore.append((sig, signal.getsignal(sig)))
            signal.signal(sig, lambda *_: self._stopping.set())
        return restore

    def __enter__(self) -> Consumer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def __aenter__(self) -> Consumer:
        return self.start()

    async def __aexit__(self, *exc) -> None:
        await asyncio.to_thread(self.stop)

    def __iter__(self):
        """Batches of every held shard as :class:`ConsumerBatch` (a consumer made without a processor)."""
        if not self._started:
            self.start()
        while not (self._stopped.is_set() and self._batches.empty()):
            try:
                yield self._batches.get(timeout=0.1)
            except queue.Empty:
                continue

    async def __aiter__(self):
        if not self._started:
            self.start()
        while not (self._stopped.is_set() and self._batches.empty()):
            try:
                yield await asyncio.to_thread(self._batches.get, True, 0.1)
            except queue.Empty:
                continue

    # -- reporting ----------------------------------------------------------------------

    @property
    def held_shards(self) -> list[str]:
        """Shards this worker holds a lease on now."""
        return sorted(k for k, w in list(self._shards.items()) if not w.done.is_set())

    def lag(self) -> dict[str, ShardLag]:
        """Per shard this worker has read: how far behind the newest record it is."""
        return dict(self._lag)

    # -- the coordinator ------------------------------------------------------------------

    def _coordinate(self) -> None:
        tick = max(self.failover_ms / 3 - 25, 10) / 1000
        take_every = 2 * (self.failover_ms + 25) / 1000
        next_sync = next_take = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if now >= next_sync:
                self._sync_shards()
                next_sync = now + min(60.0, 2 * tick)
            self._renew()
            if now >= next_take or not self._shards:
                self._take()
                next_take = now + take_every
            self._reap()
            self._stopping.wait(tick)

    def _sync_shards(self) -> None:
        """Create leases for shards that have none (the KCL's shard sync)."""
        shards = self.stream.list_shards()
        listed = {s["ShardId"] for s in shards}
        existing = {lease.lease_key for lease in self.store.list()}
        for shard in shards:
            if shard["ShardId"] in existing:
                continue
            parents = tuple(p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p)
            is_child = any(p in listed or p in existing for p in parents)
            closed = "EndingSequenceNumber" in shard["SequenceNumberRange"]
            if not is_child and self.initial_position == "LATEST" and closed:
                continue  # LATEST starts at the open shards
            self.store.create_if_absent(
                Lease(
                    shard["ShardId"],
                    checkpoint="TRIM_HORIZON" if is_child else self.initial_position,
                    parent_shard_ids=parents,
                    starting_hash_key=shard["HashKeyRange"]["StartingHashKey"],
                    ending_hash_key=shard["HashKeyRange"]["EndingHashKey"],
                )
            )

    def _renew(self) -> None:
        for key, worker in list(self._shards.items()):
            if worker.done.is_set():
                continue
            if self.store.renew(key, self.worker_id) is None:
                worker.lost.set()

    def _observe(self, leases: list[Lease]) -> set[str]:
        """Remember when each lease's counter last changed; the keys of expired leases."""
        now = time.monotonic()
        expired = set()
        for lease in leases:
            seen = self._seen.get(lease.lease_key)
            if seen is None:
                # New to us: an unowned lease counts as never renewed, an owned one as renewed now.
                seen = (lease.counter, -math.inf if lease.owner is None else now)
            elif seen[0] != lease.counter:
                seen = (lease.counter, now)
            self._seen[lease.lease_key] = seen
            if lease.owner is not None and lease.owner != self.worker_id and now - seen[1] > self.failover_ms / 1000:
                expired.add(lease.lease_key)
        return expired

    def _take(self) -> None:
        """Take available leases towards an even share, or steal one (the KCL's lease taker)."""
        leases = [lease for lease in self.store.list() if not lease.finished]
        expired = self._observe(leases)
        available = [lease for lease in leases if lease.owner is None or lease.lease_key in expired]
        counts = collections.Counter(
            lease.owner for lease in leases if lease.owner is not None and lease.lease_key not in expired
        )
        counts.setdefault(self.worker_id, 0)
        target = 1 if len(counts) >= len(leases) else math.ceil(len(leases) / len(counts))
        mine = sum(1 for w in self._shards.values() if not w.done.is_set())
        needed = target - mine
        if needed <= 0:
            return
        random.shuffle(available)
        taking = available[:needed]
        if not taking:
            taking = self._to_steal(leases, counts, target, needed)
        for lease in taking:
            taken = self.store.take(lease.lease_key, lease.counter, self.worker_id)
            if taken is not None:
                self._start_shard(taken)

    def _to_steal(self, leases, counts, target: int, needed: int) -> list[Lease]:
        busiest, count = max(
            ((o, c) for o, c in counts.items() if o != self.worker_id), key=lambda x: x[1], default=(None, 0)
        )
        if busiest is None or not (count > target or (count == target and needed > 1)):
            return []
        theirs = [lease for lease in leases if lease.owner == busiest]
        return [random.choice(theirs)] if theirs else []

    def _start_shard(self, lease: Lease) -> None:
        old = self._shards.get(lease.lease_key)
        if old is not None and not old.done.is_set():
            return
        worker = _ShardWorker(self, lease, self._processor_factory, self._stopping, self._report_lag)
        self._shards[lease.lease_key] = worker
        worker.thread.start()

    def _report_lag(self, shard_id: str, lag: ShardLag) -> None:
        """Called by a shard thread after each read; recorded in an embedded stream's engine metrics."""
        self._lag[shard_id] = lag
        metrics = getattr(getattr(self.stream, "catalog", None), "metrics", None)
        if metrics is not None:
            record_lag(metrics, self.stream.name, self.group, shard_id, lag)

    def _reap(self) -> None:
        for key, worker in list(self._shards.items()):
            if worker.done.is_set():
                del self._shards[key]

    def _shutdown(self) -> None:
        self._stopping.set()
        for worker in list(self._shards.values()):
            worker.thread.join()
        self._shards.clear()

    def __repr__(self) -> str:
        return f"<Consumer group={self.group!r} worker={self.worker_id!r} shards={self.held_shards}>"


class _ShardWorker:
    """Reads one leased shard and drives its processor (the KCL's ShardConsumer).

    Reads the consumer's public settings (``stream``, ``store``, ``worker_id``, ...); what is the
    consumer's own comes in as arguments: ``make_processor``, the ``stopping`` event (only read) and
    ``report_lag(shard_id, ShardLag)``, called after every read.
    """

    def __init__(
        self,
        consumer: Consumer,
        lease: Lease,
        make_processor: Callable[[], RecordProcessor],
        stopping: threading.Event,
        report_lag: Callable[[str, ShardLag], None],
    ):
        self.consumer = consumer
        self.lease = lease
        self._make_processor = make_processor
        self._stopping = stopping
        self._report_lag = report_lag
        self.shard_id = lease.lease_key
        self._hash_range: tuple[int, int] | None = None
        self._resume: tuple[str, int] | None = None  # drop user records up to this (seq, sub) position
        self.lost = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"shard-{self.shard_id}", daemon=True)

    def _save(self, checkpoint: str, sub: int) -> bool:
        c = self.consumer
        return not self.lost.is_set() and c.store.checkpoint(self.shard_id, c.worker_id, checkpoint, sub)

    def _run(self) -> None:
        c = self.consumer
        try:
            if not self.lease.finished and self._wait_for_parents():
                self._consume()
        except Exception:
            _log.exception("shard %s of group %s failed", self.shard_id, c.group)
        finally:
            if not self.lost.is_set():
                c.store.release(self.shard_id, c.worker_id)
            self.done.set()

    def _wait_for_parents(self) -> bool:
        c = self.consumer
        while not (self._stopping.is_set() or self.lost.is_set()):
            parents = [c.store.get(p) for p in self.lease.parent_shard_ids]
            if all(p is None or p.finished for p in parents):
                return True
            time.sleep(min(c.failover_ms / 1000, 1.0))
        return False

    def _iterator(self, checkpoint: str, sub_sequence_number: int = 0) -> str:
        """An iterator at the user record after (``checkpoint``, ``sub_sequence_number``)."""
        c = self.consumer
        if checkpoint in SENTINELS:
            kind = checkpoint
            if kind == "AT_TIMESTAMP":
                return c.stream.get_shard_iterator(self.shard_id, kind, timestamp=c.timestamp)["ShardIterator"]
            return c.stream.get_shard_iterator(self.shard_id, kind)["ShardIterator"]
        # At the checkpointed record: the user records of its aggregate after the checkpoint come next.
        self._resume = (checkpoint, int(sub_sequence_number))
        return c.stream.get_shard_iterator(self.shard_id, "AT_SEQUENCE_NUMBER", checkpoint)["ShardIterator"]

    def _shard_hash_range(self) -> tuple[int, int] | None:
        """The leased shard's hash range (from the lease, else ListShards once)."""
        if self._hash_range is None:
            start, end = self.lease.starting_hash_key, self.lease.ending_hash_key
            if not (start and end):
                for shard in self.consumer.stream.list_shards():
                    if shard["ShardId"] == self.shard_id:
                        start, end = shard["HashKeyRange"]["StartingHashKey"], shard["HashKeyRange"]["EndingHashKey"]
            if start and end:
                self._hash_range = (int(start), int(end))
        return self._hash_range

    def _read(self, iterator: str) -> dict:
        """One GetRecords page, as user records of this shard after the resume position."""
        c = self.consumer
        if c.record_format == "arrow":
            page = c.stream.get_record_batch(iterator, c.max_records, deaggregate=False)
            stored = page["Records"].num_rows
            records = unpack_batch(page["Records"], hash_range=self._shard_hash_range())
        else:
            page = c.stream.get_records(iterator, c.max_records)
            stored = len(page["Records"])
            records = unpack_records(page["Records"], hash_range=self._shard_hash_range())
        if self._resume is not None and stored:
            records = self._after_resume(records)
        return {**page, "Records": records}

    def _after_resume(self, records):
        """``records`` without the user records at or before the resume position (they lead the first page)."""
        seq, sub = self._resume
        self._resume = None
        if isinstance(records, list):
            skip = 0
            while skip < len(records) and records[skip]["SequenceNumber"] == seq:
                if records[skip]["SubSequenceNumber"] > sub:
                    break
                skip += 1
            return records[skip:]
        seqs, subs = records.column("sequence_number"), records.column("sub_sequence_number")
        skip = 0
        while skip < records.num_rows and seqs[skip].as_py() == seq and subs[skip].as_py() <= sub:
            skip += 1
        return records.slice(skip)

    def _consume(self) -> None:
        c = self.consumer
        checkpoint, sub = self.lease.checkpoint, self.lease.checkpoint_sub_sequence_number
        checkpointer = Checkpointer(self.shard_id, self._save, checkpoint, sub)
        delivery = ShardDelivery(c.delivery, c.checkpoint_every, checkpointer)
        processor = self._make_processor()
        processor.initialize_at(self.shard_id, checkpoint, sub)
        iterator = self._iterator(checkpoint, sub)
        waits = ShardWait(c.stream, self.shard_id) if isinstance(c.stream, Stream) else None
        with waits.watching() if waits is not None else contextlib.nullcontext():
            self._consume_from(iterator, checkpoint, sub, checkpointer, delivery, processor, waits)

    def _consume_from(self, iterator, checkpoint, sub, checkpointer, delivery, processor, waits) -> None:
        c = self.consumer
        while True:
            generation = waits.generation if waits is not None else 0  # before the read (see ShardWait)
            if self.lost.is_set():
                processor.lease_lost()
                return
            if self._stopping.is_set():
                processor.shutdown_requested(checkpointer)
                self._guarded(delivery.flush)
                return
            try:
                response = self._read(iterator)
            except ExpiredIteratorException:
                if checkpointer.largest_delivered is None:
                    iterator = self._iterator(checkpoint, sub)
                else:
                    iterator = self._iterator(checkpointer.largest_delivered, checkpointer.largest_delivered_sub)
                continue
            records = response["Records"]
            count = records.num_rows if c.record_format == "arrow" else len(records)
            behind = response.get("MillisBehindLatest")
            if count:
                position = last_position(records)
                checkpointer.delivered(*position)
                if not self._guarded(delivery.before, position):
                    continue  # at most once, and the lease is gone: the batch is not handed over
                self._guarded(delivery.after, position, count, self._process(processor, records, checkpointer, behind))
            else:
                self._guarded(delivery.tick)
            self._report_lag(self.shard_id, ShardLag(behind, self._records_behind(checkpointer.largest_delivered)))
            if "ChildShards" in response and response.get("NextShardIterator") is None:
                self._end(processor, checkpointer, response["ChildShards"])
                return
            iterator = response["NextShardIterator"]
            if not count:
                self._idle(waits, generation, c.idle_ms / 1000)

    def _idle(self, waits: ShardWait | None, generation: int, seconds: float) -> None:
        """After an empty read: wait ``seconds``, or (embedded) until the shard's next write; a stop ends it."""
        if waits is None:
            self._stopping.wait(seconds)
            return
        deadline = time.monotonic() + seconds
        while not (self._stopping.is_set() or self.lost.is_set()):
            left = deadline - time.monotonic()
            if left <= 0 or waits.wait(generation, min(left, _STOP_CHECK_S)):
                return

    def _process(self, processor: RecordProcessor, records, checkpointer: Checkpointer, behind) -> bool:
        """Hand one batch to the processor; whether ``process`` returned."""
        try:
            processor.process(records, checkpointer, behind)
            return True
        except LeaseLostError:
            self.lost.set()  # taken by another worker while processing: lease_lost() next
        except Exception:
            _log.exception("processor of shard %s failed on a batch; going on", self.shard_id)
        return False

    def _guarded(self, write, *args) -> bool:
        """Run a checkpoint ``write``; False (and the lease marked lost) when the lease is gone."""
        try:
            write(*args)
            return True
        except LeaseLostError:
            self.lost.set()
            return False

    def _end(self, processor: RecordProcessor, checkpointer: Checkpointer, children: list[dict]) -> None:
        """Shard end: lease the children, let the processor checkpoint SHARD_END (the KCL requires it)."""
        c = self.consumer
        c.store.set_children(self.shard_id, [child["ShardId"] for child in children])
        for child in children:
            c.store.create_if_absent(
                Lease(
                    child["ShardId"],
                    checkpoint="TRIM_HORIZON",
                    parent_shard_ids=tuple(child["ParentShards"]),
                    starting_hash_key=child["HashKeyRange"]["StartingHashKey"],
                    ending_hash_key=child["HashKeyRange"]["EndingHashKey"],
                )
            )
        checkpointer.at_shard_end = True
        processor.shard_ended(checkpointer)
        lease = c.store.get(self.shard_id)
        if lease is not None and not lease.finished and not self.lost.is_set():
            _log.error(
                "the processor of %s did not checkpoint at shard end; the shard will be read again", self.shard_id
            )

    def _records_behind(self, last: str | None) -> int | None:
        logs = getattr(self.consumer.stream, "logs", None)
        if logs is None:
            return None
        index = int(self.shard_id.rsplit("-", 1)[1])
        tail = logs[index].tail
        parse = getattr(self.consumer.stream, "parse_sequence", parse_sequence_number)  # a Stream knows old layouts
        parsed = parse(last) if last else None
        start = parsed.counter + 1 if parsed is not None and parsed.counter is not None else logs[index].head
        return max(0, tail - start)
