"""A standby replica: a server that refuses ordinary writes until it is promoted.

``shardstream serve --standby`` answers every write (puts, stream creation
and deletion, resharding, retention and tag changes) and every record read
(GetShardIterator, GetRecords, SubscribeToShard) with
:class:`StandbyReplicaException` unless the request carries the
:data:`REPLICA_HEADER` a :class:`~shardstream.Replicator` adds to its own
requests.  So the standby's shards hold exactly the source's records, in the
source's order, which is what lets the replicator resume without duplicates.

``POST /_shardstream/promote`` (``shardstream replicate --promote URL``,
:func:`promote`) turns it into a primary, once and for good (the decision is
kept in ``<data-dir>/replica.json``): from then on it takes ordinary writes
and refuses the replicator's (:class:`PromotedException`), so a replicator
still running against a promoted standby stops instead of interleaving the
old primary's records with new ones: acknowledged records cannot fork.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from ..errors import KinesisError

__all__ = [
    "PROMOTE_PATH",
    "READ_OPERATIONS",
    "REPLICA_HEADER",
    "WRITE_OPERATIONS",
    "PromotedException",
    "Standby",
    "StandbyReplicaException",
    "mark_replica_writes",
    "promote",
]

log = logging.getLogger("shardstream.replication")

#: The header a replicator's requests carry (value ``1``).
REPLICA_HEADER = "X-Shardstream-Replica"
#: Where a standby server is promoted (POST).
PROMOTE_PATH = "/_shardstream/promote"
#: The Kinesis operations a standby refuses unless they come from a replicator.
WRITE_OPERATIONS = frozenset(
    {
        "PutRecord",
        "PutRecords",
        "CreateStream",
        "DeleteStream",
        "SplitShard",
        "MergeShards",
        "UpdateShardCount",
        "UpdateStreamMode",
        "AddTagsToStream",
        "RemoveTagsFromStream",
        "TagResource",
        "UntagResource",
        "IncreaseStreamRetentionPeriod",
        "DecreaseStreamRetentionPeriod",
    }
)
#: Reads a standby also refuses before promotion: a consumer waits for the promotion (and for its
#: checkpoints to be carried over) instead of reading the replica with the old primary's positions.
READ_OPERATIONS = frozenset({"GetShardIterator", "GetRecords", "SubscribeToShard"})


class StandbyReplicaException(KinesisError):
    """A write reached a standby replica that has not been promoted.

    Parameters
    ----------
    message : str
    """

    http_status = 400


class PromotedException(KinesisError):
    """A replicator's write reached a standby that was promoted: replication into it has ended.

    Parameters
    ----------
    message : str
    """

    http_status = 400


class Standby:
    """The standby state of a server: replica (refusing ordinary writes) until promoted.

    Parameters
    ----------
    data_dir : path-like, optional
        Where the promotion is remembered (``replica.json``); None: in memory only.

    Attributes
    ----------
    promoted : bool
    """

    def __init__(self, data_dir=None):
        self._lock = threading.Lock()
        self._path = None if data_dir is None else Path(data_dir) / "replica.json"
        self.promoted = False
        if self._path is not None and self._path.exists():
            self.promoted = bool(json.loads(self._path.read_bytes()).get("promoted"))

    def check(self, operation: str | None, headers) -> None:
        """Refuse ``operation`` if this standby may not take it from a request with ``headers``.

        Parameters
        ----------
        operation : str or None
            The Kinesis operation.
        headers : Mapping
            The request's headers (:data:`REPLICA_HEADER` marks a replicator's).

        Raises
        ------
        StandbyReplicaException
            An ordinary write before promotion.
        PromotedException
            A replicator's write after promotion.
        """
        replica = headers.get(REPLICA_HEADER) == "1"
        if self.promoted:
            if replica and operation in WRITE_OPERATIONS:
                raise PromotedException("This standby was promoted: it takes no more replicated writes.")
        elif not replica and (operation in WRITE_OPERATIONS or operation in READ_OPERATIONS):
            raise StandbyReplicaException(
                f"{operation} refused: this server is a standby replica; until it is promoted "
                "(shardstream replicate --promote URL) only its replicator writes and reads records."
            )

    def promote(self) -> bool:
        """Become a primary (kept on disk first when there is a data directory); False if it already was."""
        with self._lock:
            if self.promoted:
                return False
            if self._path is not None:
                tmp = self._path.with_name("replica.json.tmp")
                with open(tmp, "wb") as f:
                    f.write(json.dumps({"promoted": True}).encode())
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self._path)
            self.promoted = True
            log.warning("standby promoted: ordinary writes accepted, replicated writes refused from now on")
            return True

    def status(self) -> dict:
        """``{"role": "standby"|"primary", "promoted": bool}``."""
        return {"role": "primary" if self.promoted else "standby", "promoted": self.promoted}


def mark_replica_writes(client) -> None:
    """Have every request of a botocore ``client`` carry :data:`REPLICA_HEADER` (a replicator's writes).

    Parameters
    ----------
    client : botocore.client.BaseClient
    """

    def add_header(request, **_kwargs):
        request.headers[REPLICA_HEADER] = "1"

    client.meta.events.register("before-sign.kinesis", add_header)


def promote(url: str, timeout: float = 10.0) -> dict:
    """Promote the standby server at ``url`` (``http(s)://host:port``); its answer.

    Parameters
    ----------
    url : str
    timeout : float
        Seconds to wait for the answer.

    Returns
    -------
    dict
        ``{"role": "primary", "promoted": true, "changed": bool}``.
    """
    import urllib.request

    request = urllib.request.Request(url.rstrip("/") + PROMOTE_PATH, data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())
