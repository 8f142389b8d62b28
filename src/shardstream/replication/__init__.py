"""Replication and failover: mirror streams to another engine or server, and switch to it.

* :class:`Replicator` (:mod:`.replicator`): streams, settings, shard lineage
  and records, checkpointed (:mod:`.checkpoint`), exactly once into a
  shardstream target (:mod:`.copier`), with lag metrics; the target's shape in
  :mod:`.mirror`.
* :mod:`.standby`: ``shardstream serve --standby`` refuses ordinary writes
  until promoted; :func:`promote`.
* :mod:`.failover`: one client over several endpoints (``connect("http://a,http://b")``).
"""

from .checkpoint import CheckpointFile, ShardPosition
from .copier import ReplicationForkError
from .replicator import LAG_MS_METRIC, LAG_RECORDS_METRIC, Replicator
from .standby import PromotedException, Standby, StandbyReplicaException, promote

__all__ = [
    "LAG_MS_METRIC",
    "LAG_RECORDS_METRIC",
    "CheckpointFile",
    "PromotedException",
    "ReplicationForkError",
    "Replicator",
    "ShardPosition",
    "Standby",
    "StandbyReplicaException",
    "promote",
]
