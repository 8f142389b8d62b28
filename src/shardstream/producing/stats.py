"""A producer's counters, for ``Producer.stats()`` and, on an embedded stream, its engine's metrics."""

from __future__ import annotations

import threading

__all__ = ["COUNTERS", "METRICS", "ProducerMetrics", "ProducerStats"]

#: The counters, each with what it counts.
COUNTERS = {
    "user_records_sent": "user records written (their futures hold a sequence number)",
    "user_records_failed": "user records whose futures failed after send() took them",
    "kinesis_records_sent": "Kinesis records written (an aggregate counts once)",
    "kinesis_records_failed": "Kinesis records given up on (retries or time spent, or a non-retryable error)",
    "kinesis_records_retried": "attempts that failed and were scheduled again",
    "put_calls": "PutRecords (or put_batch) calls made",
    "put_calls_failed": "calls that failed as a whole (an exception rather than per-entry errors)",
    "user_bytes": "data plus partition key of the user records, as given to send()",
    "aggregated_bytes": "data plus partition key of the Kinesis records after aggregation, before compression",
    "compressed_bytes": "data plus partition key of the Kinesis records as sent (after compression), once each",
    "put_bytes": "data plus partition key of every entry of every call, retries included",
    "shard_map_refreshes": "times the shard map was listed again (aggregation)",
}


class ProducerStats:
    """Counters (:data:`COUNTERS`) kept by the producer's background thread, read from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)

    def add(self, **counts: int) -> None:
        """Add ``counts`` (counter name -> increment) at once.

        Parameters
        ----------
        **counts : int
            Increments by counter name (:data:`COUNTERS`).
        """
        with self._lock:
            c = self._counts
            for name, n in counts.items():
                c[name] += n

    def snapshot(self) -> dict:
        """Every counter's value now."""
        with self._lock:
            return dict(self._counts)


#: The counters a producer records as metrics (namespace ``shardstream``), by metric name.
METRICS = {
    "ProducerUserRecordsSent": "user_records_sent",
    "ProducerUserRecordsFailed": "user_records_failed",
    "ProducerKinesisRecordsSent": "kinesis_records_sent",
    "ProducerRetries": "kinesis_records_retried",
    "ProducerPutCalls": "put_calls",
    "ProducerUserBytes": "user_bytes",
    "ProducerPutBytes": "put_bytes",
}


class ProducerMetrics:
    """A producer's counters as per-second metrics of its engine, sampled once a second.

    The engine's :class:`~shardstream.metrics.MetricRegistry` holds it weakly
    (:meth:`~shardstream.metrics.MetricRegistry.add_source`) and calls
    :meth:`sample_metrics` from the sampler: what each counter of
    :data:`METRICS` moved since the last look, with the dimensions
    ``StreamName`` and ``Producer``, plus the records queued now
    (``ProducerRecordsQueued``).

    Parameters
    ----------
    stats : ProducerStats
    queued : callable
        Returns the records the producer holds, not yet sent.
    stream_name, producer : str
    """

    def __init__(self, stats: ProducerStats, queued, stream_name: str, producer: str):
        self._stats = stats
        self._queued = queued
        self.dimensions = {"StreamName": stream_name, "Producer": producer}
        self._last = stats.snapshot()

    def sample_metrics(self, metrics) -> None:
        """Record the counters' moves since the last look in ``metrics``.

        Parameters
        ----------
        metrics : MetricRegistry
        """
        now = self._stats.snapshot()
        for name, counter in METRICS.items():
            unit = "Bytes" if counter.endswith("bytes") else "Count"
            metrics.record(
                name, self.dimensions, now[counter] - self._last[counter], unit=unit, namespace="shardstream"
            )
        metrics.record("ProducerRecordsQueued", self.dimensions, self._queued(), unit="Count", namespace="shardstream")
        self._last = now
