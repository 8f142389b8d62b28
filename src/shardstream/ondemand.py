"""On-demand capacity: scale a stream out when its writes stay near its capacity.

Kinesis's on-demand mode grows a stream as traffic grows.  shardstream
models it with the provisioned per-shard write capacity (1 MiB/s and 1,000
records/s): once a second at most, the stream's write rate is measured from
its shards' append counters; when it has stayed above ``utilisation`` of the
open shards' capacity for ``scale_after_ms``, the stream doubles its open
shards with the same uniform splits as ``update_shard_count`` (bounded by
10,000 shards and the engine's shard limit).  Writes drive the checks (every
1,024 ``put_record`` calls and after every batch), so an idle stream costs
nothing; ``Stream.check_write_pressure()`` runs one by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["OnDemandScaler", "SHARD_WRITE_BYTES_PER_S", "SHARD_WRITE_RECORDS_PER_S"]

SHARD_WRITE_BYTES_PER_S = 1024 * 1024
SHARD_WRITE_RECORDS_PER_S = 1000


class OnDemandScaler:
    """Watches one stream's write rate and scales it out under sustained pressure.

    Parameters
    ----------
    stream : Stream
        The stream watched (its ``logs``, ``open_shard_count`` and ``now_ms``).
    scale_after_ms : int
        How long the pressure must last before the stream doubles.
    scale_out : callable
        Doubles the stream's open shards within the limits; returns False if it could not.
    utilisation : float
        The fraction of the open shards' write capacity that counts as pressure.
    """

    def __init__(self, stream, scale_after_ms: int, scale_out: Callable[[], bool], utilisation: float = 0.8):
        self.stream = stream
        self._scale_out = scale_out
        self.scale_after_ms = scale_after_ms
        self.utilisation = utilisation
        self.scale_outs = 0
        self._last_ms = stream.now_ms()
        self._last_bytes, self._last_records = self._totals()
        self._hot_since: int | None = None
        self._lock = threading.Lock()

    def _totals(self) -> tuple[int, int]:
        logs = self.stream.logs
        return sum(log.appended_bytes for log in logs), sum(log.tail - 1 for log in logs)

    def observe(self) -> bool:
        """Measure the write rate (at most once a second); scale out if due.  True if it scaled.

        Writers on many threads call this; one measures while the others skip.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return self._observe()
        finally:
            self._lock.release()

    def _observe(self) -> bool:
        stream = self.stream
        now = stream.now_ms()
        elapsed = now - self._last_ms
        if elapsed < 1000:
            return False
        nbytes, nrecords = self._totals()
        byte_rate = (nbytes - self._last_bytes) * 1000 / elapsed
        record_rate = (nrecords - self._last_records) * 1000 / elapsed
        self._last_ms, self._last_bytes, self._last_records = now, nbytes, nrecords
        shards = stream.open_shard_count
        hot = (
            byte_rate > self.utilisation * shards * SHARD_WRITE_BYTES_PER_S
            or record_rate > self.utilisation * shards * SHARD_WRITE_RECORDS_PER_S
        )
        if not hot:
            self._hot_since = None
            return False
        if self._hot_since is None:
            self._hot_since = now - elapsed
        if now - self._hot_since < self.scale_after_ms:
            return False
        self._hot_since = None
        if self._scale_out():
            self.scale_outs += 1
            return True
        return False
