"""Durable on-disk storage: what ``Engine(data_dir=...)`` keeps where, and how.

:mod:`.layout`
    The data directory's tree: ``engine.json``, one directory per stream with
    its ``stream.json`` and one segment directory per shard.
:mod:`.format`
    The on-disk format of segments: file names, the stored schema, per-batch
    CRC-32, the exact buffers a batch is written with.
:mod:`.segment`
    One segment file: :class:`SegmentWriter` appends to it, :class:`SegmentInfo`
    describes it.
:mod:`.recovery`
    Opening a shard's segments after a crash: verification, torn-tail cuts.
:mod:`.log`
    A shard's append-only log of segments (:class:`SegmentLog`): appends,
    rolling, reads, the batch index, retention.
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
:mod:`.backup`, :mod:`.restore`, :mod:`.backup_manifest`
    Backups of a live data directory (sealed segments hard-linked, tails cut
    where recovery says), restoring them, and the manifest that checks them
    (``shardstream.backup`` and ``shardstream.restore`` are the functions).
"""

from .backup_manifest import BackupManifest, CorruptBackupError
from .datadir import DataDirectory, DataDirectoryLocked
from .fileio import SYSTEM_IO, SegmentIO, is_disk_full
from .format import COUNTER_FIELD, STORED_SCHEMA, CorruptSegmentError, segment_file_name
from .jsonfile import read_json, write_json_atomic
from .log import SegmentLog
from .recovery import RecoveryReport
from .segment import SegmentInfo, SegmentWriter
from .store import StreamStore

__all__ = [
    "BackupManifest",
    "CorruptBackupError",
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
