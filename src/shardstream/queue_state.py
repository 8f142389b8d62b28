"""The delivery state of one queue in one shard: a frontier plus the records still in hand.

A queue (:mod:`shardstream.queue`) keeps one :class:`ShardDelivery` per shard
of its stream.  Its size grows with what is in flight and dead-lettered,
never with the stream:

* ``frontier``: the counter of the first record never delivered; reads of new
  records start there (the stream's read path moves it past records that aged
  out);
* ``inflight``: the records delivered and neither acknowledged nor
  dead-lettered, as parallel numpy columns sorted by counter (``counter``,
  ``deadline`` ms, ``count`` receives, ``first`` first receive ms, ``nonce``
  of the current delivery).  A record whose deadline has passed is visible
  again: it is redelivered before new records.
* ``dead``: the dead letters, with the same columns (``deadline`` is their
  visibility in the dead-letter receive path).

Every counter below the frontier that is in neither table was acknowledged
(or aged out): the watermark -- "everything below it is done" -- is the
smallest in-flight counter, or the frontier.  Acknowledging removes rows; no
acknowledged record is remembered, so the tables shrink as acks arrive.

Every change is made by one of :class:`ShardDelivery`'s methods
(:meth:`~ShardDelivery.deliver_new`, :meth:`~ShardDelivery.redeliver`,
:meth:`~ShardDelivery.expire`, :meth:`~ShardDelivery.remove`,
:meth:`~ShardDelivery.restore`), each of which can note what it did as a
:class:`Change`: a kind, a time, the counters it touched.  A durable queue
writes those changes to its journal (:mod:`shardstream.storage.queue_files`)
and, on opening, hands them back to :meth:`ShardDelivery.apply`, which calls
the same methods: replay cannot drift from the live path.  Visibility changes
are not journaled: after a restart every record in flight is visible again.

:meth:`ShardDelivery.to_doc` / :meth:`ShardDelivery.from_doc` give the state
as JSON-ready data; :func:`pack_state` / :func:`unpack_state` as the bytes of
a queue's snapshot.
"""

from __future__ import annotations

import io
import struct
from typing import NamedTuple

import numpy as np

__all__ = ["COLUMNS", "Change", "DeliveryTable", "ShardDelivery", "pack_state", "replay", "unpack_state"]

#: The columns of a delivery table and their dtypes.
COLUMNS = {"counter": np.int64, "deadline": np.int64, "count": np.int32, "first": np.int64, "nonce": np.int64}


class DeliveryTable:
    """Records in hand (in flight or dead-lettered) as numpy columns sorted by ``counter``.

    Parameters
    ----------
    columns : dict of numpy arrays, optional
        The :data:`COLUMNS`, of equal length and sorted by counter (default: empty).
    """

    def __init__(self, columns: dict | None = None):
        self.cols = {k: np.asarray((columns or {}).get(k, ()), dtype=t) for k, t in COLUMNS.items()}

    def __len__(self) -> int:
        return len(self.cols["counter"])

    def visible(self, now: int) -> np.ndarray:
        """Positions of the rows whose deadline has passed at ``now``."""
        return np.flatnonzero(self.cols["deadline"] <= now)

    def find(self, counters: np.ndarray, nonces: np.ndarray) -> np.ndarray:
        """Row of each (counter, nonce) pair, -1 where the table has no such delivery.

        Parameters
        ----------
        counters, nonces : numpy.ndarray of int64
            The deliveries to look for, pair by pair.
        """
        c = self.cols["counter"]
        pos = np.searchsorted(c, counters)
        ok = pos < len(c)
        pos = np.where(ok, pos, 0)
        if len(c):
            ok &= (c[pos] == counters) & (self.cols["nonce"][pos] == nonces)
        else:
            ok[:] = False
        return np.where(ok, pos, -1)

    def find_counters(self, counters: np.ndarray) -> np.ndarray:
        """Rows holding ``counters`` (those the table has; any nonce).

        Parameters
        ----------
        counters : numpy.ndarray of int64
        """
        c = self.cols["counter"]
        counters = np.asarray(counters, np.int64)
        pos = np.searchsorted(c, counters)
        inside = pos < len(c)
        pos = pos[inside]
        return np.unique(pos[c[pos] == counters[inside]])

    def take(self, rows: np.ndarray) -> dict:
        """The columns of ``rows`` (copies)."""
        return {k: v[rows] for k, v in self.cols.items()}

    def remove(self, rows: np.ndarray) -> None:
        """Drop ``rows``."""
        if len(rows):
            keep = np.ones(len(self), bool)
            keep[rows] = False
            self.cols = {k: v[keep] for k, v in self.cols.items()}

    def add(self, columns: dict) -> None:
        """Add rows (their counters must not be in the table yet); the table stays sorted.

        Parameters
        ----------
        columns : dict of array-like
            The :data:`COLUMNS` of the new rows.
        """
        if not len(columns["counter"]):
            return
        merged = {k: np.concatenate([self.cols[k], np.asarray(columns[k], dtype=t)]) for k, t in COLUMNS.items()}
        order = np.argsort(merged["counter"], kind="stable")
        self.cols = {k: v[order] for k, v in merged.items()}

    def append_sorted(self, columns: dict) -> None:
        """Add rows all above the table's counters (new records from the frontier).

        Parameters
        ----------
        columns : dict of array-like
            The :data:`COLUMNS` of the new rows, sorted by counter.
        """
        self.cols = {k: np.concatenate([self.cols[k], np.asarray(columns[k], dtype=t)]) for k, t in COLUMNS.items()}

    def to_doc(self) -> dict:
        """JSON-ready columns."""
        return {k: v.tolist() for k, v in self.cols.items()}


class Change(NamedTuple):
    """One change to a shard's delivery state, as a journal keeps it.

    ``kind`` is one of ``"new"`` (records delivered for the first time, up to
    ``frontier``), ``"again"`` (redelivered, with nonces from ``nonce``),
    ``"expire"`` (in flight past the receive count: now dead letters),
    ``"remove"`` (acknowledged, or aged out of the stream) and ``"restore"``
    (dead letters back in the normal path).  ``dead`` says which table
    ``again`` and ``remove`` touched.
    """

    kind: str
    dead: bool
    now: int
    nonce: int
    frontier: int
    counters: np.ndarray

    _KINDS = ("new", "again", "expire", "remove", "restore")
    _HEAD = struct.Struct("<BBiqqqI")

    def encode(self, shard: int) -> bytes:
        """The change to ``shard`` as bytes (:meth:`decode` reads them back).

        Parameters
        ----------
        shard : int
        """
        counters = np.ascontiguousarray(self.counters, "<i8")
        head = self._HEAD.pack(
            self._KINDS.index(self.kind), self.dead, shard, self.now, self.nonce, self.frontier, len(counters)
        )
        return head + counters.tobytes()

    @classmethod
    def decode(cls, raw: bytes) -> tuple[int, Change]:
        """``(shard, change)`` from :meth:`encode`'s bytes; ValueError if they are not such bytes.

        Parameters
        ----------
        raw : bytes
        """
        size = cls._HEAD.size
        if len(raw) < size:
            raise ValueError("a queue journal entry is too short")
        kind, dead, shard, now, nonce, frontier, n = cls._HEAD.unpack_from(raw)
        if kind >= len(cls._KINDS) or len(raw) != size + 8 * n:
            raise ValueError("not a queue journal entry")
        counters = np.frombuffer(raw, "<i8", n, size).astype(np.int64)
        return shard, cls(cls._KINDS[kind], bool(dead), now, nonce, frontier, counters)


class ShardDelivery:
    """One shard's delivery state in one queue (see the module's documentation).

    Every method that changes the state takes ``log``: a list to append the
    :class:`Change` to (None: not noted).

    Parameters
    ----------
    frontier : int
        Counter of the first record not yet delivered.
    inflight, dead : DeliveryTable, optional
    """

    def __init__(self, frontier: int, inflight: DeliveryTable | None = None, dead: DeliveryTable | None = None):
        self.frontier = int(frontier)
        self.inflight = inflight or DeliveryTable()
        self.dead = dead or DeliveryTable()

    @property
    def watermark(self) -> int:
        """Every record below this counter is acknowledged, dead-lettered or aged out."""
        c = self.inflight.cols["counter"]
        return int(c[0]) if len(c) else self.frontier

    @property
    def size(self) -> int:
        """Rows kept: in-flight plus dead-letter records."""
        return len(self.inflight) + len(self.dead)

    def table(self, dead: bool) -> DeliveryTable:
        """The dead letters if ``dead``, else the records in flight."""
        return self.dead if dead else self.inflight

    # -- changes ---------------------------------------------------------------------------

    def deliver_new(self, counters: np.ndarray, now: int, until: int, nonce: int, frontier: int, log) -> dict:
        """Records from the frontier delivered for the first time; returns their new rows.

        Parameters
        ----------
        counters : numpy.ndarray of int64
            Their counters, ascending, all at or above the frontier.
        now, until : int
            Delivery time and visibility deadline (ms).
        nonce : int
            The first record's delivery nonce; the others follow it.
        frontier : int
            The counter after the page read (the frontier never moves back).
        log : list or None
        """
        n = len(counters)
        rows = {
            "counter": np.asarray(counters, np.int64),
            "deadline": np.full(n, until, np.int64),
            "count": np.ones(n, np.int32),
            "first": np.full(n, now, np.int64),
            "nonce": np.arange(nonce, nonce + n, dtype=np.int64),
        }
        self.inflight.append_sorted(rows)
        self.frontier = max(self.frontier, int(frontier))
        if log is not None:
            log.append(Change("new", False, now, nonce, self.frontier, rows["counter"]))
        return rows

    def redeliver(self, dead: bool, counters: np.ndarray, now: int, until: int, nonce: int, log) -> dict:
        """Visible records of a table delivered again; returns their rows as they are now.

        A normal delivery counts one more receive; a dead letter's count stays.

        Parameters
        ----------
        dead : bool
        counters : numpy.ndarray of int64
            Counters in the table, ascending.
        now, until, nonce, log
            As for :meth:`deliver_new`.
        """
        table = self.table(dead)
        rows = np.searchsorted(table.cols["counter"], counters)
        cols = table.cols
        cols["deadline"][rows] = until
        cols["nonce"][rows] = np.arange(nonce, nonce + len(rows), dtype=np.int64)
        if not dead:
            cols["count"][rows] += 1
        cols["first"][rows] = np.where(cols["first"][rows] < 0, now, cols["first"][rows])
        if log is not None and len(rows):
            log.append(Change("again", dead, now, nonce, self.frontier, np.asarray(counters, np.int64)))
        return table.take(rows)

    def expire(self, now: int, max_receive_count: int, log) -> None:
        """Move visible in-flight records received ``max_receive_count`` times to the dead letters.

        Parameters
        ----------
        now : int
        max_receive_count : int
        log : list or None
        """
        due = self.inflight.visible(now)
        over = due[self.inflight.cols["count"][due] >= max_receive_count]
        if len(over):
            counters = self._move_to_dead(over, now)
            if log is not None:
                log.append(Change("expire", False, now, -1, self.frontier, counters))

    def _move_to_dead(self, rows: np.ndarray, now: int) -> np.ndarray:
        moved = self.inflight.take(rows)
        moved["deadline"][:] = now
        moved["nonce"][:] = -1
        self.inflight.remove(rows)
        self.dead.add(moved)
        return moved["counter"]

    def remove(self, dead: bool, rows: np.ndarray, now: int, log) -> None:
        """Forget rows of a table (acknowledged, or aged out of the stream).

        Parameters
        ----------
        dead : bool
        rows : numpy.ndarray of int
            Positions in the table.
        now : int
        log : list or None
        """
        if not len(rows):
            return
        table = self.table(dead)
        counters = table.cols["counter"][rows]
        table.remove(rows)
        if log is not None:
            log.append(Change("remove", dead, now, -1, self.frontier, counters))

    def restore(self, rows: np.ndarray, now: int, log) -> None:
        """Dead letters back to the normal path, visible now, with no receives counted.

        Parameters
        ----------
        rows : numpy.ndarray of int
            Positions in the dead-letter table.
        now : int
        log : list or None
        """
        if not len(rows):
            return
        back = self.dead.take(rows)
        back["deadline"][:] = now
        back["count"][:] = 0
        back["nonce"][:] = -1
        self.dead.remove(rows)
        self.inflight.add(back)
        if log is not None:
            log.append(Change("restore", True, now, -1, self.frontier, back["counter"]))

    def apply(self, change: Change) -> None:
        """Make ``change`` again (replaying a journal) through the method that first made it.

        Parameters
        ----------
        change : Change
        """
        c = change
        if c.kind == "new":
            self.deliver_new(c.counters, c.now, c.now, c.nonce, c.frontier, None)
        elif c.kind == "again":
            self.redeliver(c.dead, c.counters, c.now, c.now, c.nonce, None)
        elif c.kind == "expire":
            self._move_to_dead(self.inflight.find_counters(c.counters), c.now)
        elif c.kind == "remove":
            self.remove(c.dead, self.table(c.dead).find_counters(c.counters), c.now, None)
        else:
            self.restore(self.dead.find_counters(c.counters), c.now, None)

    def visible_all(self, now: int) -> None:
        """Make every record in hand visible at ``now`` (after a restart)."""
        for table in (self.inflight, self.dead):
            table.cols["deadline"][:] = np.minimum(table.cols["deadline"], now)

    # -- as data ------------------------------------------------------------------------------

    def to_doc(self) -> dict:
        """The state as JSON-ready data (:meth:`from_doc` reads it back)."""
        return {"frontier": self.frontier, "inflight": self.inflight.to_doc(), "dead": self.dead.to_doc()}

    @classmethod
    def from_doc(cls, doc: dict) -> ShardDelivery:
        """The state :meth:`to_doc` saved.

        Parameters
        ----------
        doc : dict
        """
        return cls(doc["frontier"], DeliveryTable(doc["inflight"]), DeliveryTable(doc["dead"]))


def pack_state(shards: dict, next_nonce: int) -> bytes:
    """A queue's delivery state as the bytes of a snapshot (numpy's ``.npz``, no pickles).

    Parameters
    ----------
    shards : dict of int to ShardDelivery
    next_nonce : int
        The nonce the queue's next delivery takes.
    """
    arrays = {"next_nonce": np.array([next_nonce], np.int64)}
    for index, sd in shards.items():
        arrays[f"{index}.frontier"] = np.array([sd.frontier], np.int64)
        for part in ("inflight", "dead"):
            for name, col in sd.table(part == "dead").cols.items():
                arrays[f"{index}.{part}.{name}"] = col
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def unpack_state(raw: bytes) -> tuple[dict, int]:
    """``(shards, next_nonce)`` from :func:`pack_state`'s bytes.

    Parameters
    ----------
    raw : bytes
    """
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        arrays = {name: z[name] for name in z.files}
    shards = {}
    for name in arrays:
        if name.endswith(".frontier"):
            index = int(name.split(".")[0])
            tables = [
                DeliveryTable({col: arrays[f"{index}.{part}.{col}"] for col in COLUMNS})
                for part in ("inflight", "dead")
            ]
            shards[index] = ShardDelivery(int(arrays[name][0]), *tables)
    return shards, int(arrays["next_nonce"][0])


def replay(snapshot: bytes, payloads) -> tuple[dict, int]:
    """``(shards, next_nonce)``: a snapshot (:func:`pack_state`) with journal entries made again in order.

    Parameters
    ----------
    snapshot : bytes
    payloads : iterable of bytes
        :meth:`Change.encode` outputs, in the order the changes were made.
    """
    shards, next_nonce = unpack_state(snapshot)
    for raw in payloads:
        index, change = Change.decode(raw)
        sd = shards.get(index)
        if sd is None:
            sd = shards[index] = ShardDelivery(0)
        sd.apply(change)
        if change.kind in ("new", "again"):
            next_nonce = max(next_nonce, change.nonce + len(change.counters))
    return shards, next_nonce
