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

The state is a small JSON-ready object (:meth:`ShardDelivery.to_doc` /
:meth:`ShardDelivery.from_doc`): the seam for keeping a queue across
restarts (not done yet).
"""

from __future__ import annotations

import numpy as np

__all__ = ["COLUMNS", "DeliveryTable", "ShardDelivery"]

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


class ShardDelivery:
    """One shard's delivery state in one queue (see the module's documentation).

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
