"""shardstream: a fast, embedded, Kinesis-compatible data-stream engine.

>>> import shardstream
>>> engine = shardstream.Engine()
>>> stream = engine.create_stream("events", shard_count=2)
>>> stream.put_record(b"hello", "user-1")["ShardId"]
'shardId-000000000001'
"""

from . import errors
from ._native import simd_available
from .client import connect
from .consumer import CheckpointEvery, Consumer, RecordProcessor
from .engine import Engine
from .errors import (
    DryRunOperationException,
    ExpiredIteratorException,
    InvalidArgumentException,
    KinesisError,
    LimitExceededException,
    ProvisionedThroughputExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    ServiceUnavailable,
    StorageError,
    StorageFullError,
    ValidationException,
)
from .history import replay, replay_dataset
from .producer import AsyncProducer, BufferFullError, Producer, ProducerClosedError
from .reader import RecordBatchStream, to_pandas
from .replication import Replicator
from .routing import hash_key, route_keys
from .schema import RECORD_SCHEMA
from .storage.backup import backup
from .storage.restore import restore
from .stream import Stream
from .throttle import ThroughputLimits
from .unpack import USER_RECORD_SCHEMA, unpack_records

__version__ = "0.1.0"

__all__ = [
    "RECORD_SCHEMA",
    "USER_RECORD_SCHEMA",
    "AsyncProducer",
    "BufferFullError",
    "CheckpointEvery",
    "Consumer",
    "DryRunOperationException",
    "Engine",
    "ExpiredIteratorException",
    "InvalidArgumentException",
    "KinesisError",
    "LimitExceededException",
    "Producer",
    "ProducerClosedError",
    "ProvisionedThroughputExceededException",
    "RecordBatchStream",
    "RecordProcessor",
    "Replicator",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "SerializationException",
    "ServiceUnavailable",
    "StorageError",
    "StorageFullError",
    "Stream",
    "ThroughputLimits",
    "ValidationException",
    "backup",
    "connect",
    "errors",
    "hash_key",
    "replay",
    "replay_dataset",
    "restore",
    "route_keys",
    "simd_available",
    "to_pandas",
    "unpack_records",
]
