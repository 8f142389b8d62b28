"""One queue on a stream: its settings, status, delivery state and the batch calls on it.

A :class:`Queue` belongs to its engine's :class:`~shardstream.queues.QueueRegistry`,
which creates, lists and deletes queues and checks requests; the queue owns
its delivery state (one :class:`~shardstream.queue_state.ShardDelivery` per
shard) and its lock, and serves the batch calls: :meth:`Queue.receive_batch`
and :meth:`Queue.settle` (acknowledge, change visibility, restore).  Records
are read through the stream's read path (``Stream.read_page``, Arrow);
visibility deadlines follow the engine's clock.

Long polls wait on the stream's write signal (``stream.writes``,
:mod:`shardstream.write_signal`), which the native write paths fire while
someone waits and which the queue's own calls fire when they make a record
visible (a visibility change, a restore, a deletion); and, for in-flight
records, until the soonest visibility deadline (engine clock, waited in real
time).  Nothing polls.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow as pa

from .errors import InvalidArgumentException, ResourceNotFoundException
from .lifecycle import Lifecycle
from .models import ms_to_datetime
from .queue_state import ShardDelivery, pack_state
from .schema import empty_batch
from .sequence import sequence_counter
from .tags import TagSet, check_tag_keys, check_tags

__all__ = ["Queue"]

MIN_PAUSE_S = 0.001
_READ_BYTES = 2**31 - 1
_RUN_GAP = 256  # redeliveries closer than this are read in one range


class Queue:
    """A queue of one stream (see :mod:`shardstream.queue`).

    Parameters
    ----------
    registry : QueueRegistry
    name, arn : str
    serial : int
        The queue's number in the engine (its receipt handles carry it).
    stream : Stream
    starting_position : dict
        ``{"Type", "Timestamp"}`` as created.
    visibility_s : int
    dead_letter : dict
        ``{"TargetType": "BUILT_IN", "MaxReceiveCount": n}`` or ``{"TargetType": "NONE"}``.
    created_ms : int
    tags : dict, optional
    restored : dict, optional
        For a queue found on disk: ``{"life": Lifecycle.to_doc(), "shards": {index:
        ShardDelivery}, "next_nonce": int}``; every record in hand is visible again.
    """

    def __init__(
        self,
        registry,
        *,
        name: str,
        arn: str,
        serial: int,
        stream,
        starting_position: dict,
        visibility_s: int,
        dead_letter: dict,
        created_ms: int,
        tags: dict | None = None,
        restored: dict | None = None,
    ):
        self._registry = registry
        self.name = name
        self.arn = arn
        self.serial = serial
        self.stream = stream
        self.stream_arn = stream.arn
        self.incarnation = stream.incarnation
        self.created_ms = created_ms
        self.starting_position = dict(starting_position)
        self.visibility_s = visibility_s
        self.dead_letter = dict(dead_letter)
        if restored is None:
            self._life = Lifecycle.created(registry.now_ms, created_ms, registry.catalog.transition_ms)
        else:
            life = restored["life"]
            self._life = Lifecycle(registry.now_ms, life["status"], life["status_until_ms"])
        self._tags = TagSet(name, registry.account_id)
        if tags:
            self._tags.add(tags)
        self._lock = threading.Lock()
        self._files = None  # in memory until keep_in
        self._sync_acks = False
        self._next_nonce = 0
        self._next_shard = 0
        self._shards: dict[int, ShardDelivery] = {}
        if restored is not None:
            now = registry.now_ms()
            self._shards = restored["shards"]
            self._next_nonce = restored["next_nonce"]
            for sd in self._shards.values():
                sd.visible_all(now)
            return
        kind = starting_position["Type"]
        for shard in stream.shards:
            if kind == "LATEST":
                start = stream.logs[shard.index].tail
            elif kind == "AT_TIMESTAMP":
                start = stream.locate_timestamp(shard.index, starting_position["Timestamp"])
            else:
                start = 0
            self._shards[shard.index] = ShardDelivery(start)

    # -- status ---------------------------------------------------------------------

    @property
    def status(self) -> str:
        """CREATING, ACTIVE, UPDATING or DELETING (transitions settle on the engine's clock)."""
        return self._life.status

    @property
    def gone(self) -> bool:
        """Deleted and past the DELETING transition."""
        return self._life.gone

    def mark_deleting(self, until_ms: int) -> None:
        """Enter DELETING (handles stop working at once), gone at ``until_ms`` on the engine's clock.

        Parameters
        ----------
        until_ms : int
        """
        with self._lock:
            if self._life.mark_deleting(until_ms):
                self._shards.clear()
                if self._files is not None:
                    self._files.remove(self._registry.trash)
        self.stream.writes.notify()

    def update(self, visibility_s: int | None, dead_letter: dict | None, until_ms: int) -> None:
        """Take new attributes (None: unchanged); UPDATING until ``until_ms`` (at once when it is now).

        Parameters
        ----------
        visibility_s : int or None
        dead_letter : dict or None
        until_ms : int
        """
        with self._lock:
            if visibility_s is not None:
                self.visibility_s = visibility_s
            if dead_letter is not None:
                self.dead_letter = dict(dead_letter)
            self._life.mark_updating(until_ms)
            self._save()
        self.stream.writes.notify()

    def require_receiving(self) -> None:
        """InvalidArgumentException unless the queue is ACTIVE or UPDATING; ResourceNotFoundException if deleted."""
        status = self.status
        if status == "DELETING":
            raise ResourceNotFoundException(f"Queue {self.arn} under account {self._registry.account_id} not found.")
        if status == "CREATING":
            raise InvalidArgumentException(
                f"Queue {self.arn} under account {self._registry.account_id} not ACTIVE, instead in state {status}"
            )

    # -- descriptions --------------------------------------------------------------------

    @property
    def max_receive_count(self) -> int | None:
        """Receives after which a record is dead-lettered (None: dead-lettering is off)."""
        if self.dead_letter["TargetType"] == "NONE":
            return None
        return self.dead_letter["MaxReceiveCount"]

    def describe(self) -> dict:
        """The boto3 ``QueueDescription`` shape."""
        position = {"Type": self.starting_position["Type"]}
        if self.starting_position.get("Timestamp") is not None:
            position["Timestamp"] = ms_to_datetime(self.starting_position["Timestamp"])
        return {
            "QueueName": self.name,
            "QueueARN": self.arn,
            "QueueStatus": self.status,
            "QueueCreationTimestamp": ms_to_datetime(self.created_ms),
            "StreamConfigurationList": [{"StreamARN": self.stream_arn, "StartingPosition": position}],
            "QueueAttributes": {
                "VisibilityTimeoutSeconds": self.visibility_s,
                "DeadLetterConfiguration": dict(self.dead_letter),
            },
        }

    def summary(self) -> dict:
        """The boto3 ``QueueSummary`` shape."""
        return {
            "QueueName": self.name,
            "QueueARN": self.arn,
            "QueueStatus": self.status,
            "QueueCreationTimestamp": ms_to_datetime(self.created_ms),
            "Streams": [
                {"StreamARN": self.stream_arn, "StreamCreationTimestamp": ms_to_datetime(self.stream.created_ms)}
            ],
        }

    @property
    def tags(self) -> dict[str, str]:
        """The queue's tags, by key."""
        return self._tags.as_dict()

    def add_tags_to_stream(self, tags: dict) -> dict:
        """Add or overwrite ``tags`` (TagResource on the queue's ARN); ``{}``.

        Parameters
        ----------
        tags : dict
        """
        check_tags(tags)
        with self._lock:
            added = self._tags.try_add(tags)
            self._save()
        if not added:
            raise self._tags.too_many()
        return {}

    def remove_tags_from_stream(self, tag_keys) -> dict:
        """Remove the tags of ``tag_keys`` (UntagResource on the queue's ARN); ``{}``.

        Parameters
        ----------
        tag_keys : list of str
        """
        check_tag_keys(tag_keys)
        with self._lock:
            self._tags.remove(tag_keys)
            self._save()
        return {}

    def put_resource_policy(self, policy) -> dict:
        """Resource policies on queues are not supported yet: InvalidArgumentException.

        Parameters
        ----------
        policy : str
        """
        raise InvalidArgumentException("Resource policies on queues are not supported by shardstream yet")

    def get_resource_policy(self) -> dict:
        """``{"Policy": "{}"}``: a queue has no resource policy."""
        return {"Policy": "{}"}

    def delete_resource_policy(self) -> dict:
        """ResourceNotFoundException: a queue has no resource policy."""
        raise ResourceNotFoundException(f"No resource policy found for resource ARN {self.arn}.")

    # -- persistence ---------------------------------------------------------------------

    def to_doc(self) -> dict:
        """The queue's settings as JSON-ready data (its ``queue.json``)."""
        return {
            "format": 1,
            "name": self.name,
            "arn": self.arn,
            "serial": self.serial,
            "stream_name": self.stream.name,
            "incarnation": self.incarnation,
            "starting_position": self.starting_position,
            "visibility_s": self.visibility_s,
            "dead_letter": self.dead_letter,
            "created_ms": self.created_ms,
            "tags": self._tags.as_dict(),
            "life": self._life.to_doc(),
        }

    def keep_in(self, files) -> None:
        """Keep the queue in ``files`` from now on: a snapshot of its state, then a journal of every change.

        Acknowledgements are synced before they are answered when the
        stream's durability policy is ``"sync"``.

        Parameters
        ----------
        files : QueueFiles
            Its directory (:mod:`shardstream.storage.queue_files`), holding its ``queue.json``.
        """
        with self._lock:
            files.start(pack_state(self._shards, self._next_nonce))
            self._files = files
            self._sync_acks = getattr(self.stream, "durability", None) == "sync"

    def _save(self) -> None:
        if self._files is not None:
            self._files.save_doc(self.to_doc())

    def _journal(self, log: list) -> int | None:
        """Append ``log``'s ``(shard, Change)`` pairs to the journal (holding the lock); the position after."""
        files = self._files
        if files is None or not log:
            return None
        written = files.append([change.encode(index) for index, change in log])
        if files.snapshot_due:
            files.snapshot(pack_state(self._shards, self._next_nonce))
        return written

    def flush(self) -> None:
        """``fsync`` the journal unless the stream's policy is ``"none"`` (the maintenance thread calls it).

        A journal's entries are with the OS from the moment they are made; this
        makes them survive a power failure too.
        """
        if self._files is not None and getattr(self.stream, "durability", None) != "none":
            self._files.sync()

    def close(self) -> None:
        """Sync and close the queue's files (a durable engine's close)."""
        if self._files is not None:
            self._files.close()

    def counts(self) -> tuple[int, int]:
        """``(in flight, dead letters)``: records delivered and not acknowledged, and dead-lettered ones."""
        with self._lock:
            return sum(len(s.inflight) for s in self._shards.values()), sum(len(s.dead) for s in self._shards.values())

    def state_size(self) -> int:
        """Rows of delivery state kept, over all shards (in-flight plus dead letters)."""
        with self._lock:
            return sum(s.size for s in self._shards.values())

    def state_doc(self) -> dict:
        """The delivery state as JSON-ready data, by shard index."""
        with self._lock:
            return {str(i): s.to_doc() for i, s in self._shards.items()}

    # -- receiving ------------------------------------------------------------------------

    def _delivery(self, index: int) -> ShardDelivery:
        sd = self._shards.get(index)
        if sd is None:  # a shard made after the queue (resharding): all of it is new
            sd = self._shards[index] = ShardDelivery(0)
        return sd

    def _nonces(self, n: int) -> np.ndarray:
        start = self._next_nonce
        self._next_nonce += n
        return np.arange(start, start + n, dtype=np.int64)

    def _receive_shard(self, index: int, need: int, now: int, until: int, dead: bool, log: list) -> list:
        sd = self._delivery(index)
        out = []
        changes: list = []
        if self.max_receive_count is not None:  # expired past the count: dead letters now
            sd.expire(now, self.max_receive_count, changes)
        table = sd.table(dead)
        rows = table.visible(now)[:need]
        if len(rows):
            counters = table.cols["counter"][rows]
            pieces, found = _read_counters(self.stream, index, counters, now)
            sd.remove(dead, rows[~found], now, changes)  # aged out of the stream: nothing left to deliver
            counters = counters[found]
            nonces = self._nonces(len(counters))
            cols = sd.redeliver(dead, counters, now, until, int(nonces[0]) if len(nonces) else 0, changes)
            if pieces:
                out.append((index, pa.Table.from_batches(pieces), counters, nonces, cols))
        need -= len(rows)
        if not dead and need > 0:
            batch, nxt, _, _ = self.stream.read_page(index, sd.frontier, need, _READ_BYTES, now)
            n = 0 if batch is None else batch.num_rows
            if n or nxt > sd.frontier:  # records, or only a frontier moved past records that aged out
                counters = _counters_of(batch) if n else np.empty(0, np.int64)
                nonce = self._next_nonce
                self._next_nonce += n
                new = sd.deliver_new(counters, now, until, nonce, nxt, changes)
                if n:
                    out.append((index, pa.Table.from_batches([batch]), counters, new["nonce"], new))
        log.extend((index, change) for change in changes)
        return out

    def _receive_now(self, limit: int, visibility_s: int, dead: bool) -> list:
        log: list = []
        try:
            return self._receive_into(limit, visibility_s, dead, log)
        finally:
            self._journal(log)

    def _receive_into(self, limit: int, visibility_s: int, dead: bool, log: list) -> list:
        now = self._registry.now_ms()
        until = now + visibility_s * 1000
        shards = [s.index for s in self.stream.shards]
        out: list = []
        need = limit
        start = self._next_shard % len(shards)
        self._next_shard += 1
        for index in shards[start:] + shards[:start]:
            if need <= 0:
                break
            got = self._receive_shard(index, need, now, until, dead, log)
            need -= sum(len(piece[2]) for piece in got)
            out.extend(got)
        return out

    def _next_visible_ms(self, dead: bool) -> int | None:
        deadlines = [(s.dead if dead else s.inflight).cols["deadline"] for s in self._shards.values()]
        soonest = [int(d.min()) for d in deadlines if len(d)]
        return min(soonest) if soonest else None

    def receive_batch(self, limit: int, visibility_s: int | None = None, wait_s: float = 0, *, dead: bool = False):
        """Receive up to ``limit`` records as one Arrow table (the batch API under ReceiveQueueRecords).

        Parameters
        ----------
        limit : int
            Most records (any positive number: the Kinesis call allows 10).
        visibility_s : int, optional
            How long they stay in flight (default: the queue's timeout).
        wait_s : float
            Longest wait (real seconds) for a record to become visible when none is.
        dead : bool
            Receive dead letters instead.

        Returns
        -------
        pyarrow.Table
            ``receipt_handle``, ``record_id`` (the record's sequence number),
            ``partition_key``, ``data``, ``approximate_arrival_timestamp``,
            ``first_receive_timestamp``, ``receive_count``; possibly no rows.

        Raises
        ------
        InvalidArgumentException, ResourceNotFoundException
            The queue is CREATING, or deleted.
        """
        self.require_receiving()
        visibility = self.visibility_s if visibility_s is None else visibility_s
        end = time.monotonic() + wait_s
        signal = self.stream.writes
        with signal.watching():
            while True:
                generation = signal.generation
                with self._lock:
                    deleted = self._life.deleting
                    got = [] if deleted else self._receive_now(limit, visibility, dead)
                    soonest = self._next_visible_ms(dead)
                if deleted:
                    self.require_receiving()
                left = end - time.monotonic()
                if got or left <= 0:
                    break
                if soonest is not None:  # an in-flight record becomes visible (on the engine's clock)
                    left = min(left, max(MIN_PAUSE_S, (soonest - self._registry.now_ms()) / 1000))
                signal.wait(generation, left)
        return self._as_table(got, dead)

    def _as_table(self, got: list, dead: bool) -> pa.Table:
        if not got:
            return _EMPTY
        codec = self._registry.handles
        out = []
        for index, table, counters, nonces, cols in got:
            handles = codec.encode_many(self.serial, int(dead), index, counters, nonces)
            first = _timestamps(cols["first"])
            count = pa.array(cols["count"], pa.int32())
            at = 0
            for batch in table.to_batches():
                n = batch.num_rows
                columns = [handles.slice(at, n), *batch.select(_STORED).columns, first.slice(at, n), count.slice(at, n)]
                out.append(pa.RecordBatch.from_arrays(columns, schema=_SCHEMA))
                at += n
        return pa.Table.from_batches(out, schema=_SCHEMA)

    # -- acknowledging, visibility, restoring ------------------------------------------------

    def settle(self, handles: list, action: str, *, dead: bool = False, visibility_s=None) -> np.ndarray:
        """Acknowledge, change the visibility of, or restore the deliveries ``handles`` name.

        Parameters
        ----------
        handles : list of str
        action : {"ack", "visibility", "restore"}
        dead : bool
            The handles are of dead-letter deliveries.
        visibility_s : int or sequence of int, optional
            For ``visibility``: the new timeout(s), from now.

        Returns
        -------
        numpy.ndarray of bool
            Per handle: it named a current delivery of this queue and was applied.
        """
        codec = self._registry.handles
        n = len(handles)
        ok = np.zeros(n, bool)
        genuine, fields = codec.decode_many(handles)
        mine = genuine & (fields["queue"] == self.serial) & (fields["kind"] == int(dead)) & (fields["nonce"] < 2**63)
        shard = np.where(mine, fields["shard"].astype(np.int64), -1)
        counter = fields["counter"].astype(np.int64)
        nonce = fields["nonce"].astype(np.int64)
        if action == "visibility":
            timeouts = np.broadcast_to(np.asarray(0 if visibility_s is None else visibility_s, np.int64), (n,))
        log: list = []
        with self._lock:
            now = self._registry.now_ms()
            for index in np.unique(shard[shard >= 0]).tolist():
                sd = self._shards.get(index)
                if sd is None:
                    continue
                table = sd.table(dead)
                mine = np.flatnonzero(shard == index)
                rows = table.find(counter[mine], nonce[mine])
                hit = rows >= 0
                mine, rows = mine[hit], rows[hit]
                rows, first = np.unique(rows, return_index=True)  # the same handle twice counts once
                ok[mine] = True
                changes: list = []
                if action == "visibility":
                    table.cols["deadline"][rows] = now + timeouts[mine[first]] * 1000
                elif action == "restore":
                    sd.restore(rows, now, changes)
                else:
                    sd.remove(dead, rows, now, changes)
                log.extend((index, change) for change in changes)
            written = self._journal(log)
        if action == "ack" and written is not None and self._sync_acks:
            self._files.sync(written)  # outside the lock: concurrent acks share one fsync
        if action != "ack":  # records may be visible now: wake the long polls
            self.stream.writes.notify()
        return ok

    def __repr__(self) -> str:
        return f"<Queue {self.name!r} of {self.stream.name!r} {self.status}>"


def _read_counters(stream, index: int, counters: np.ndarray, now: int) -> tuple[list, np.ndarray]:
    """The stream's batches holding ``counters`` (sorted) of shard ``index``; mask of those still there."""
    found = np.zeros(len(counters), bool)
    pieces = []
    breaks = np.flatnonzero(np.diff(counters) > _RUN_GAP) + 1
    for lo_pos, hi_pos in zip(np.r_[0, breaks], np.r_[breaks, len(counters)]):
        lo, hi = int(counters[lo_pos]), int(counters[hi_pos - 1])
        batch, _, _, _ = stream.read_page(index, lo, hi - lo + 1, _READ_BYTES, now)
        if batch is None or not batch.num_rows:
            continue
        have = _counters_of(batch)
        run = counters[lo_pos:hi_pos]
        at = np.minimum(np.searchsorted(have, run), len(have) - 1)
        there = have[at] == run
        found[lo_pos:hi_pos] = there
        pieces.append(batch.take(pa.array(at[there])))
    return pieces, found


def _timestamps(ms: np.ndarray) -> pa.Array:
    """ms since the epoch as Arrow UTC timestamps, sharing the numbers' memory (``pa.array`` looks the zone up)."""
    ms = np.ascontiguousarray(ms, np.int64)
    return pa.Array.from_buffers(_TIMESTAMP, len(ms), [None, pa.py_buffer(ms)])


def _counters_of(batch: pa.RecordBatch) -> np.ndarray:
    """The shard counters of a page's records (consecutive but for a durable shard's gap after a crash)."""
    numbers = batch.column("sequence_number")
    n = len(numbers)
    first, last = sequence_counter(numbers[0].as_py()), sequence_counter(numbers[n - 1].as_py())
    if last - first + 1 == n:
        return np.arange(first, last + 1, dtype=np.int64)
    return np.array([sequence_counter(x) for x in numbers.to_pylist()], np.int64)


_TIMESTAMP = pa.timestamp("ms", tz="UTC")
_SCHEMA = pa.schema(
    [
        ("receipt_handle", pa.string()),
        ("record_id", pa.string()),
        ("partition_key", pa.string()),
        ("data", pa.binary()),
        ("approximate_arrival_timestamp", _TIMESTAMP),
        ("first_receive_timestamp", _TIMESTAMP),
        ("receive_count", pa.int32()),
    ]
)
_EMPTY = pa.Table.from_batches([empty_batch(_SCHEMA)])
_STORED = ["sequence_number", "partition_key", "data", "approximate_arrival_timestamp"]
