"""Consumer groups with the Kinesis Client Library's semantics, on one machine.

:class:`Consumer`
    One worker of a group: leases, balancing, checkpoints, failover.
:class:`RecordProcessor`, :class:`Checkpointer`
    The processor contract (:mod:`.processor`).
:class:`SQLiteLeaseStore`, :class:`MemoryLeaseStore`
    Lease tables (:mod:`.leases`).
"""

from .leases import Lease, LeaseStore, MemoryLeaseStore, SQLiteLeaseStore, open_lease_store
from .processor import (
    SHARD_END,
    Checkpointer,
    InvalidCheckpointError,
    LeaseLostError,
    RecordProcessor,
)
from .worker import INITIAL_POSITIONS, Consumer, ConsumerBatch, ShardLag

__all__ = [
    "INITIAL_POSITIONS",
    "SHARD_END",
    "Checkpointer",
    "Consumer",
    "ConsumerBatch",
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
