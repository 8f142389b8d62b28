"""One metric's 1-second aggregates over a sliding window, in bounded memory.

A :class:`SecondSeries` keeps, for each of the last ``window_s`` seconds, the
CloudWatch statistics of what was recorded in that second: Sum, SampleCount,
Minimum and Maximum.  Slots are reused round-robin (slot ``second %
window_s``), so memory is fixed at creation whatever the rate.  A series made
with ``histogram=True`` also keeps a per-second log-scale histogram of the
values (:data:`BUCKETS` log-scale buckets, each 2**(1/4) wide: percentiles within ~19 %)
for the extended statistics (``p50``, ``p99``, ``p99.9``); only the seconds
that had samples hold one.

Recording is a handful of Python list operations: the callers record per call
or per batch, never per record.
"""

from __future__ import annotations

import math
import threading

import numpy as np

__all__ = ["BUCKETS", "SecondSeries", "bucket_of", "bucket_value"]

#: Histogram buckets: bucket b holds values in (2**((b - 1 - _ZERO) / 4), 2**((b - _ZERO) / 4)], from
#: ~1e-6 (bucket 0 holds everything smaller, zero included) to ~1e12 (the last holds everything larger).
BUCKETS = 240
_STEPS = 4
_ZERO = 80  # the bucket whose upper bound is 1


def bucket_of(value: float) -> int:
    """The histogram bucket of ``value``."""
    if value <= 2.0 ** (-_ZERO / _STEPS):
        return 0
    return max(0, min(BUCKETS - 1, math.ceil(math.log2(value) * _STEPS) + _ZERO))


def bucket_value(bucket: int) -> float:
    """The upper bound of ``bucket``: what a percentile falling in it reports."""
    return 2.0 ** ((bucket - _ZERO) / _STEPS)


class SecondSeries:
    """Per-second Sum / SampleCount / Minimum / Maximum of one metric (see the module's documentation).

    Parameters
    ----------
    window_s : int
        How many seconds are kept.
    histogram : bool
        Also keep per-second histograms (percentiles).
    """

    def __init__(self, window_s: int, histogram: bool = False):
        self.window_s = int(window_s)
        self._lock = threading.Lock()
        self._sec = [-1] * self.window_s
        self._sum = [0.0] * self.window_s
        self._count = [0] * self.window_s
        self._min = [0.0] * self.window_s
        self._max = [0.0] * self.window_s
        self._hist: dict[int, list[int]] | None = {} if histogram else None

    @property
    def empty(self) -> bool:
        """Nothing recorded within the window."""
        with self._lock:
            return max(self._sec) < 0

    @property
    def has_histogram(self) -> bool:
        """Whether percentiles can be asked of this series."""
        return self._hist is not None

    def add(self, second: int, total: float, count: int = 1, low: float | None = None, high: float | None = None):
        """Record ``count`` samples summing to ``total`` in ``second`` (ranging ``low`` to ``high``).

        A histogram learns the samples' mean ``count`` times (record one value per
        call, or use :meth:`add_values`, where percentiles matter).

        Parameters
        ----------
        second : int
            Seconds since the epoch.
        total : float
        count : int
        low, high : float, optional
            The samples' extremes (default: their mean).
        """
        if count > 0:
            mean = total / count
            self._record(second, total, count, mean if low is None else low, mean if high is None else high, None)

    def add_values(self, second: int, values) -> None:
        """Record each of ``values`` as a sample of ``second``.

        Parameters
        ----------
        second : int
        values : array-like of float
        """
        values = np.asarray(values, np.float64)
        if not len(values):
            return
        counts = None
        if self._hist is not None:
            tiny = 2.0 ** (-_ZERO / _STEPS)
            logs = np.ceil(np.log2(np.maximum(values, tiny)) * _STEPS) + _ZERO
            counts = np.bincount(np.clip(logs, 0, BUCKETS - 1).astype(np.int64), minlength=BUCKETS)
        self._record(second, float(values.sum()), len(values), float(values.min()), float(values.max()), counts)

    def _record(self, second: int, total: float, count: int, low: float, high: float, counts) -> None:
        i = second % self.window_s
        with self._lock:
            if self._sec[i] != second:
                if self._hist is not None:
                    self._hist.pop(self._sec[i], None)
                self._sec[i] = second
                self._sum[i], self._count[i], self._min[i], self._max[i] = total, count, low, high
            else:
                self._sum[i] += total
                self._count[i] += count
                if low < self._min[i]:
                    self._min[i] = low
                if high > self._max[i]:
                    self._max[i] = high
            if self._hist is not None:
                hist = self._hist.get(second)
                if hist is None:
                    hist = self._hist[second] = [0] * BUCKETS
                if counts is None:
                    hist[bucket_of(total / count)] += count
                else:
                    for b in np.flatnonzero(counts).tolist():
                        hist[b] += int(counts[b])

    def seconds(self, start: int, end: int) -> dict:
        """The recorded seconds in [``start``, ``end``) as numpy arrays, in time order.

        Parameters
        ----------
        start, end : int
            Seconds since the epoch.

        Returns
        -------
        dict
            ``second``, ``sum``, ``count``, ``min``, ``max`` arrays (and ``hist``, a
            2-D array of bucket counts, for a series with histograms).
        """
        with self._lock:
            w = self.window_s
            if end - start < w // 4:  # a few seconds (an alarm's periods): look at their slots only
                keep = [t % w for t in range(max(start, end - w), end) if self._sec[t % w] == t]
                sec = None
            else:
                sec = np.array(self._sec, np.int64)
                keep = np.flatnonzero((sec >= start) & (sec < end))
                keep = keep[np.argsort(sec[keep], kind="stable")]
            if sec is None:  # few rows: pick them one by one rather than copy every slot
                out = {
                    "second": np.array([self._sec[i] for i in keep], np.int64),
                    "sum": np.array([self._sum[i] for i in keep], np.float64),
                    "count": np.array([self._count[i] for i in keep], np.int64),
                    "min": np.array([self._min[i] for i in keep], np.float64),
                    "max": np.array([self._max[i] for i in keep], np.float64),
                }
                if self._hist is not None:
                    rows = [self._hist.get(int(t), [0] * BUCKETS) for t in out["second"].tolist()]
                    out["hist"] = np.array(rows, np.int64).reshape(len(rows), BUCKETS)
                return out
            out = {
                "second": sec[keep],
                "sum": np.array(self._sum, np.float64)[keep],
                "count": np.array(self._count, np.int64)[keep],
                "min": np.array(self._min, np.float64)[keep],
                "max": np.array(self._max, np.float64)[keep],
            }
            if self._hist is not None:
                rows = [self._hist.get(int(s), [0] * BUCKETS) for s in out["second"].tolist()]
                out["hist"] = np.array(rows, np.int64).reshape(len(rows), BUCKETS)
        return out
