"""A durable stream's flush counters, for the metrics sampler.

The store counts each flush as it finishes (:meth:`FlushStats.flushed`): the
running totals of flushes, ``fsync`` passes and records written, and the
durations of the flushes since the sampler last looked, which it takes with
:meth:`FlushStats.take_durations` (at most :data:`KEEP` are kept between two
looks).
"""

from __future__ import annotations

import threading

__all__ = ["KEEP", "FlushStats"]

KEEP = 10_000


class FlushStats:
    """Running totals of one store's flushes, and the durations not yet taken."""

    def __init__(self):
        self._lock = threading.Lock()
        self.flushes = 0
        self.syncs = 0
        self.records = 0
        self._durations: list[float] = []

    def flushed(self, records: int, synced: bool, seconds: float) -> None:
        """Count one flush that wrote ``records`` records (``synced``: and ``fsync``-ed) in ``seconds``.

        A pass that neither wrote nor synced anything is not a flush.

        Parameters
        ----------
        records : int
        synced : bool
        seconds : float
        """
        if not records and not synced:
            return
        with self._lock:
            self.flushes += 1
            self.syncs += bool(synced)
            self.records += records
            if len(self._durations) < KEEP:
                self._durations.append(seconds * 1000)

    def take_durations(self) -> list[float]:
        """The flush durations (ms) since the last call."""
        with self._lock:
            out, self._durations = self._durations, []
            return out
