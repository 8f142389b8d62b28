"""Per-call metrics of one Kinesis operation on one stream: :class:`CallMeter`.

A call costs one tuple appended to the current second's list, under the
meter's lock.  Turning a second's calls into series values (Sum, SampleCount,
Minimum, Maximum and the latency histogram) is done by :meth:`CallMeter.flush`,
which the engine's sampler calls once a second and the registry before it
answers: never on a caller's path, so no call pays for the second before it.
"""

from __future__ import annotations

import collections
import itertools
import threading

import numpy as np

__all__ = ["CallMeter"]


class CallMeter:
    """The series of one Kinesis operation on one stream, recorded into once per call.

    ``<Operation>.Success`` (1 a call), ``.Records``, ``.Bytes`` (Count and
    Bytes), ``.Latency`` (Milliseconds, with percentiles) and, for reads,
    ``.IteratorAgeMilliseconds``, all with the dimension ``StreamName``.

    Parameters
    ----------
    metrics : MetricRegistry
    operation : str
        ``GetRecords``, ``PutRecords``, ...
    stream_name : str
    reads : bool or str
        The operation reads: it has an iterator age (``IteratorAgeMilliseconds``,
        or the name given, such as ``MillisBehindLatest``).
    """

    def __init__(self, metrics, operation: str, stream_name: str, reads: str | bool = False):
        dims = {"StreamName": stream_name}
        self.metrics = metrics
        self._series = [
            metrics.series(f"{operation}.Records", dims, unit="Count"),
            metrics.series(f"{operation}.Bytes", dims, unit="Bytes"),
            metrics.series(f"{operation}.Latency", dims, unit="Milliseconds", histogram=True),
        ]
        if reads:
            age = reads if isinstance(reads, str) else "IteratorAgeMilliseconds"
            self._series.append(metrics.series(f"{operation}.{age}", dims, unit="Milliseconds"))
        self._success = metrics.series(f"{operation}.Success", dims, unit="Count")
        self._lock = threading.Lock()  # guards _second, _calls, _ready and _totals
        self._flushing = threading.Lock()  # one flush at a time: seconds reach the series in order
        self._second = -1
        self._calls: list[tuple] = []  # this second's calls: (records, bytes, latency, age)
        self._ready: collections.deque = collections.deque()  # (second, calls) of past seconds, not yet handed over
        self._totals = [0, 0, 0]  # calls, records, bytes handed to the series so far
        metrics.add_meter(self)

    def totals(self) -> tuple[int, int, int]:
        """``(calls, records, bytes)`` since the meter was made: running totals (Prometheus counters).

        Calls not yet handed to the series count too, so the totals never go back.
        """
        with self._lock:
            calls, records, nbytes = self._totals
            for pending in (self._calls, *(c for _, c in self._ready)):
                calls += len(pending)
                records += sum(c[0] for c in pending)
                nbytes += sum(c[1] for c in pending)
        return calls, records, nbytes

    def record(self, now_ms: int, records: int, nbytes: int, latency_ms: float, age_ms: int = 0) -> None:
        """One successful call that moved ``records`` records of ``nbytes`` bytes in ``latency_ms``.

        Parameters
        ----------
        now_ms : int
            The engine's time of the call.
        records, nbytes : int
        latency_ms : float
        age_ms : int
            How far behind the newest record the read was (reads only).
        """
        second = now_ms // 1000
        with self._lock:
            if second != self._second:
                if self._calls:
                    self._ready.append((self._second, self._calls))
                    self._calls = []
                self._second = second
            self._calls.append((records, nbytes, latency_ms, age_ms))

    def flush(self) -> None:
        """Hand every second recorded so far, the current one included, to the series."""
        with self._flushing:
            with self._lock:
                if self._calls:
                    self._ready.append((self._second, self._calls))
                    self._calls = []
                count = len(self._ready)
            for _ in range(count):
                second, calls = self._ready[0]  # only this flush takes from the left
                self._hand_over(second, calls)

    def _hand_over(self, second: int, calls: list[tuple]) -> None:
        n = len(calls)
        flat = np.fromiter(itertools.chain.from_iterable(calls), dtype=np.float64, count=4 * n)
        columns = flat.reshape(n, 4).T  # records, bytes, latency, age
        self._success.add(second, float(n), n, 1.0, 1.0)
        for series, column in zip(self._series, columns):  # (no age series for writes)
            series.add_values(second, column)
        records, nbytes = int(columns[0].sum()), int(columns[1].sum())
        with self._lock:  # the series have the calls now: they leave the pending ones and join the totals
            self._ready.popleft()
            self._totals[0] += n
            self._totals[1] += records
            self._totals[2] += nbytes
