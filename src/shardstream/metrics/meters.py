"""One stream's per-call metrics: the Kinesis operations' CloudWatch series, found once per stream.

``stream.meters`` is a :class:`StreamMeters`.  The paths that serve a Kinesis
call record into it once per call (never per record): GetRecords (the reads
part; SubscribeToShard events as ``SubscribeToShardEvent.*``), PutRecords
(the stream), PutRecord (the server; embedded
``put_record`` is the native single-record path and is counted only in
``IncomingRecords``/``IncomingBytes``).
"""

from __future__ import annotations

import time

from .call_meter import CallMeter

__all__ = ["StreamMeters"]


class StreamMeters:
    """The call meters of one stream, each made on its first use.

    Parameters
    ----------
    stream : Stream
        Its ``catalog.metrics`` is where values go.
    """

    def __init__(self, stream):
        self._metrics = stream.catalog.metrics
        self._name = stream.name
        self._get_records: CallMeter | None = None
        self._put_records: CallMeter | None = None
        self._put_record: CallMeter | None = None
        self._events: CallMeter | None = None

    @property
    def enabled(self) -> bool:
        """Whether the engine's metrics are on (callers skip measuring when not)."""
        return self._metrics.enabled

    def totals(self, operation: str) -> tuple[int, int, int]:
        """``(calls, records, bytes)`` of ``operation`` so far (``GetRecords``, ``PutRecords``, ``PutRecord``,
        ``SubscribeToShardEvent``).

        Parameters
        ----------
        operation : str
        """
        meters = {
            "GetRecords": self._get_records,
            "PutRecords": self._put_records,
            "PutRecord": self._put_record,
            "SubscribeToShardEvent": self._events,
        }
        meter = meters[operation]
        return (0, 0, 0) if meter is None else meter.totals()

    def read_meter(self, event: bool = False) -> CallMeter | None:
        """The meter of GetRecords calls (with ``event``, of SubscribeToShard events); None while metrics are off.

        The read path calls the meter's :meth:`CallMeter.record` itself, once
        per call, with the page's records and bytes, its latency and its
        MillisBehindLatest (``GetRecords.IteratorAgeMilliseconds``,
        ``SubscribeToShardEvent.MillisBehindLatest``).

        Parameters
        ----------
        event : bool
            The meter of ``SubscribeToShardEvent.*`` (enhanced fan-out), not ``GetRecords.*``.

        Returns
        -------
        CallMeter or None
        """
        if not self._metrics.enabled:
            return None
        if event:
            meter = self._events
            if meter is None:
                meter = self._events = CallMeter(
                    self._metrics, "SubscribeToShardEvent", self._name, reads="MillisBehindLatest"
                )
            return meter
        meter = self._get_records
        if meter is None:
            meter = self._get_records = CallMeter(self._metrics, "GetRecords", self._name, reads=True)
        return meter

    def put_records(self, now_ms: int, total: int, failed: int, throttled: int, nbytes: int, started: float):
        """A PutRecords call of ``total`` entries, ``failed`` of them failed (``throttled`` by throughput).

        Parameters
        ----------
        now_ms : int
        total, failed, throttled, nbytes : int
        started : float
        """
        if not self._metrics.enabled:
            return
        meter = self._put_records
        if meter is None:
            meter = self._put_records = CallMeter(self._metrics, "PutRecords", self._name)
        meter.record(now_ms, total - failed, nbytes, (time.perf_counter() - started) * 1000)
        dims = {"StreamName": self._name}
        record = self._metrics.record
        record("PutRecords.TotalRecords", dims, total, unit="Count")
        record("PutRecords.SuccessfulRecords", dims, total - failed, unit="Count")
        record("PutRecords.FailedRecords", dims, failed - throttled, unit="Count")
        record("PutRecords.ThrottledRecords", dims, throttled, unit="Count")

    def throttled_entries(self, now_ms: int, refused: int) -> None:
        """PutRecords entries the throughput emulation refused before the stream saw them.

        Parameters
        ----------
        now_ms : int
        refused : int
        """
        if refused and self._metrics.enabled:
            dims = {"StreamName": self._name}
            self._metrics.record("PutRecords.TotalRecords", dims, refused, unit="Count")
            self._metrics.record("PutRecords.ThrottledRecords", dims, refused, unit="Count")

    def put_record(self, now_ms: int, nbytes: int, started: float) -> None:
        """A successful PutRecord call of ``nbytes`` bytes.

        Parameters
        ----------
        now_ms : int
        nbytes : int
        started : float
        """
        if not self._metrics.enabled:
            return
        meter = self._put_record
        if meter is None:
            meter = self._put_record = CallMeter(self._metrics, "PutRecord", self._name)
        meter.record(now_ms, 1, nbytes, (time.perf_counter() - started) * 1000)
