"""Put-to-read latency samples of ``shardstream bench``, per read path, and their percentiles.

A reader that sees a stamped record (:func:`~shardstream.bench.workload.stamp`)
calls :meth:`LatencyRecorder.arrived` with the payload and its own
``time.perf_counter_ns()``; the recorder keeps each sample's first arrival
per path (``poll``: a GetRecords loop; ``subscribe``: SubscribeToShard).
"""

from __future__ import annotations

import threading

import numpy as np

from .workload import read_stamp

__all__ = ["LatencyRecorder", "latency_stats"]


class LatencyRecorder:
    """Each sample's put-to-read time per path, in nanoseconds (thread-safe).

    Parameters
    ----------
    paths : iterable of str
        The read paths measured.
    """

    def __init__(self, paths):
        self._lock = threading.Lock()
        self._latency: dict[str, dict[int, int]] = {p: {} for p in paths}
        self._changed = threading.Condition(self._lock)

    @property
    def paths(self) -> list[str]:
        """The read paths measured."""
        return list(self._latency)

    def arrived(self, path: str, payloads, now_ns: int) -> None:
        """Note the stamped ones among ``payloads``, read on ``path`` at ``now_ns``.

        Parameters
        ----------
        path : str
        payloads : iterable of bytes
        now_ns : int
            ``time.perf_counter_ns()`` when the read returned.
        """
        found = [s for s in map(read_stamp, payloads) if s is not None]
        if not found:
            return
        with self._changed:
            seen = self._latency[path]
            for sample, send_ns in found:
                seen.setdefault(sample, now_ns - send_ns)
            self._changed.notify_all()

    def drop(self, path: str) -> None:
        """Stop measuring ``path`` (its reader could not start).

        Parameters
        ----------
        path : str
        """
        with self._changed:
            self._latency.pop(path, None)
            self._changed.notify_all()

    def wait_for(self, samples: int, timeout: float) -> bool:
        """Wait until every path has ``samples`` samples, at most ``timeout`` seconds; whether they have.

        Parameters
        ----------
        samples : int
        timeout : float
        """
        with self._changed:
            return self._changed.wait_for(lambda: all(len(s) >= samples for s in self._latency.values()), timeout)

    def samples(self, path: str) -> tuple[np.ndarray, np.ndarray]:
        """The samples seen on ``path``: their numbers and latencies in nanoseconds, in sample order.

        Parameters
        ----------
        path : str

        Returns
        -------
        (numpy.ndarray, numpy.ndarray) of int64
        """
        with self._lock:
            seen = self._latency[path]
            ids = sorted(seen)
            return np.array(ids, dtype=np.int64), np.array([seen[k] for k in ids], dtype=np.int64)


def latency_stats(latencies_ns: np.ndarray, expected: int) -> dict:
    """Percentiles of one path's latencies, in microseconds.

    Parameters
    ----------
    latencies_ns : numpy.ndarray
    expected : int
        Samples put (those missing are counted as ``lost``).

    Returns
    -------
    dict
        ``samples``, ``lost``, ``p50_us``, ``p99_us``, ``p999_us``, ``max_us``,
        ``mean_us`` (the latter None without samples).
    """
    n = int(latencies_ns.size)
    stats = {"samples": n, "lost": max(0, expected - n)}
    if n == 0:
        return {**stats, "p50_us": None, "p99_us": None, "p999_us": None, "max_us": None, "mean_us": None}
    us = latencies_ns / 1e3
    p50, p99, p999 = np.percentile(us, [50, 99, 99.9])
    return {
        **stats,
        "p50_us": float(p50),
        "p99_us": float(p99),
        "p999_us": float(p999),
        "max_us": float(us.max()),
        "mean_us": float(us.mean()),
    }
