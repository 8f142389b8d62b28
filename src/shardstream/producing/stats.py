"""A producer's counters, for ``Producer.stats()`` (and the metrics to come)."""

from __future__ import annotations

import threading

__all__ = ["COUNTERS", "ProducerStats"]

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
