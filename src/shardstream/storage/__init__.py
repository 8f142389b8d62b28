"""Durable on-disk storage: what ``Engine(data_dir=...)`` keeps where, and how.

:mod:`.layout`
    The data directory's tree: ``engine.json``, one directory per stream with
    its ``stream.json`` and one segment directory per shard.
:mod:`.segments`
    Per-shard append-only logs of Arrow IPC stream segment files, with torn-tail
    recovery and per-batch CRC-32 checks.
:mod:`.store`
    One stream's files: flushing rings into segments (group commit), reads of
    what the rings no longer hold, retention.
:mod:`.datadir`
    Opening a data directory: the lock, ``engine.json``, crash leftovers.
:mod:`.fileio`
    The system calls segment files are written with (:class:`SegmentIO`), a
    seam tests use to make writes fail as on a full disk.
:mod:`.jsonfile`
    Atomic (temp file, fsync, rename, fsync directory) JSON metadata documents.
"""

from .datadir import DataDirectory, DataDirectoryLocked
from .fileio import SYSTEM_IO, SegmentIO, is_disk_full
from .jsonfile import read_json, write_json_atomic
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
from .store import StreamStore

__all__ = [
    "COUNTER_FIELD",
    "STORED_SCHEMA",
    "SYSTEM_IO",
    "CorruptSegmentError",
    "DataDirectory",
    "DataDirectoryLocked",
    "RecoveryReport",
    "SegmentIO",
    "SegmentInfo",
    "SegmentLog",
    "SegmentWriter",
    "StreamStore",
    "read_json",
    "is_disk_full",
    "segment_file_name",
    "write_json_atomic",
]
