"""What failed ``sync`` commits discarded: per shard, the counters whose puts failed.

:class:`Discards` is a part of :class:`~.store.StreamStore` (``store.discards``;
the store publishes :meth:`Discards.lost` and the count as ``rollbacks``).  A
put that saw the count change since it appended asks :meth:`Discards.lost`
whether its own records were among those discarded.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["Discards"]


class Discards:
    """Ranges of counters that failed commits discarded, per shard, and how many commits failed.

    Parameters
    ----------
    lock : threading.RLock
        The store's flush lock: discards are recorded under it, and read under it.
    """

    def __init__(self, lock: threading.RLock):
        self._lock = lock
        self._ranges: list[list[tuple[int, int]]] = []  # per shard: [lo, hi) counters, ascending
        self._count = 0

    @property
    def count(self) -> int:
        """How many failed commits have discarded records."""
        return self._count

    def add_shard(self) -> None:
        """Start the record of one more shard (shards are numbered as they are added)."""
        with self._lock:
            self._ranges.append([])

    def record(self, index: int, lo: int, hi: int) -> None:
        """Note that shard ``index``'s counters ``lo`` to ``hi - 1`` were discarded (caller holds the lock).

        Parameters
        ----------
        index : int
        lo, hi : int
            The counters, ``hi`` excluded; above every range recorded before.
        """
        ranges = self._ranges[index]
        if ranges and ranges[-1][1] == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))

    def counted(self) -> None:
        """One more failed commit (count it once its records are gone, never before)."""
        self._count += 1

    def lost(self, index: int, counters) -> np.ndarray:
        """Which of shard ``index``'s ``counters`` a failed commit discarded (their put failed).

        Parameters
        ----------
        index : int
        counters : array-like of int

        Returns
        -------
        numpy.ndarray of bool
        """
        values = np.asarray(counters, dtype=np.uint64)
        out = np.zeros(values.shape, dtype=bool)
        with self._lock:
            ranges = list(self._ranges[index]) if index < len(self._ranges) else []
        for lo, hi in ranges:
            out |= (values >= lo) & (values < hi)
        return out
