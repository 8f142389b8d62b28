"""Durable on-disk storage for shardstream (not yet wired into the engine).

:mod:`.segments`
    Per-shard append-only logs of Arrow IPC stream segment files, with torn-tail
    recovery and per-batch CRC32 checks.
:mod:`.catalog`
    Atomic (temp file, fsync, rename, fsync directory) JSON metadata documents.
"""

from .catalog import Catalog, read_json, write_json_atomic
from .segments import (
    COUNTER_FIELD,
    STORED_SCHEMA,
    CorruptSegmentError,
    RecoveryReport,
    SegmentInfo,
    SegmentLog,
    SegmentWriter,
    segment_file_name,
)

__all__ = [
    "COUNTER_FIELD",
    "Catalog",
    "CorruptSegmentError",
    "RecoveryReport",
    "STORED_SCHEMA",
    "SegmentInfo",
    "SegmentLog",
    "SegmentWriter",
    "read_json",
    "segment_file_name",
    "write_json_atomic",
]
