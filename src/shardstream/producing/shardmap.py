"""Which shard a hash key routes to, from the stream's ListShards: what aggregation groups records by."""

from __future__ import annotations

import bisect
import threading

from ..routing import hash_key

__all__ = ["ShardMap"]


class ShardMap:
    """The open shards of a stream by hash-key range, refreshed on demand.

    Parameters
    ----------
    list_shards : callable
        The stream's ``list_shards()``: boto3 ``Shard`` dicts (an open shard has no ``EndingSequenceNumber``).
    """

    def __init__(self, list_shards):
        self._list_shards = list_shards
        self._lock = threading.Lock()
        self._starts: list[int] = []
        self._ids: list[str] = []
        self._stale = True
        self.refreshes = 0

    def invalidate(self) -> None:
        """The stream was resharded (or a put landed where the map did not expect): list again before the next use."""
        with self._lock:
            self._stale = True

    def _refresh(self) -> None:
        shards = [s for s in self._list_shards() if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})]
        shards.sort(key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
        self._starts = [int(s["HashKeyRange"]["StartingHashKey"]) for s in shards]
        self._ids = [s["ShardId"] for s in shards]
        self._stale = False
        self.refreshes += 1

    def shard_of(self, partition_key: str, explicit_hash_key: str | None = None) -> str:
        """The shard a record routes to now.

        Parameters
        ----------
        partition_key : str
            Routes the record by its MD5 ...
        explicit_hash_key : str, optional
            ... unless this hash key is given.

        Returns
        -------
        str
            The shard id.

        Raises
        ------
        KinesisError
            What ListShards raised (e.g. ResourceNotFoundException) when the map had to be listed.
        """
        h = int(explicit_hash_key) if explicit_hash_key is not None else hash_key(partition_key)
        with self._lock:
            if self._stale or not self._ids:
                self._refresh()
            return self._ids[max(0, bisect.bisect_right(self._starts, h) - 1)]
