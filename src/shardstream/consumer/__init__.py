"""Consumer groups with the Kinesis Client Library's semantics, on one machine or many.

:class:`Consumer`
    One worker of a group: leases, balancing, checkpoints, failover.
Delivery modes and :class:`CheckpointEvery`
    At-least-once or at-most-once, and checkpoints on a schedule (:mod:`.delivery`).
:class:`RecordProcessor`, :class:`Checkpointer`
    The processor contract (:mod:`.processor`).
:class:`SQLiteLeaseStore`, :class:`MemoryLeaseStore`, :class:`DynamoDBLeaseStore`
    Lease tables (:mod:`.leases`, :mod:`.dynamodb`); :func:`open_lease_store` (:mod:`.stores`)
    picks one from a Consumer's ``leases`` argument.
"""

from .delivery import DELIVERY_MODES, CheckpointEvery
from .dynamodb import DynamoDBLeaseStore
from .leases import Lease, LeaseStore, MemoryLeaseStore, SQLiteLeaseStore
from .processor import (
    SHARD_END,
    Checkpointer,
    InvalidCheckpointError,
    LeaseLostError,
    RecordProcessor,
)
from .stores import open_lease_store
from .worker import INITIAL_POSITIONS, Consumer, ConsumerBatch, ShardLag

__all__ = [
    "DELIVERY_MODES",
    "INITIAL_POSITIONS",
    "SHARD_END",
    "CheckpointEvery",
    "Checkpointer",
    "Consumer",
    "ConsumerBatch",
    "DynamoDBLeaseStore",
    "InvalidCheckpointError",
    "Lease",
    "LeaseLostError",
    "LeaseStore",
    "MemoryLeaseStore",
    "RecordProcessor",
    "SQLiteLeaseStore",
    "ShardLag",
    "open_lease_store",
]
