"""The only importer of the compiled core; everything else imports from here."""

from ._arrow_encode import read_batch as read_arrow_batch
from ._arrow_encode import records_dicts
from ._ipc_encode import crc32 as native_crc32
from ._ipc_encode import encode_run as encode_ipc_run
from ._kpl import packed_rows, parse_aggregated_record
from ._receipts import decode_handles, encode_handles, siphash24
from ._routing import RoutingTable, md5_hash_key, md5_hash_keys, md5_kernel, parse_hash_keys, simd_available
from ._seqnums import (
    SEQUENCE_VALUE_TYPE,
    format_sequence_values,
    format_shard_sequence_numbers,
    sequence_number_values,
)
from ._shardlog import SLOT_BYTES, ShardLog
from ._stream_core import (
    RecordRejected,
    RingFull,
    StreamCore,
    parse_explicit_hash_key,
    ring_full_error,
    system_now_ms,
)

__all__ = [
    "SEQUENCE_VALUE_TYPE",
    "SLOT_BYTES",
    "RecordRejected",
    "RingFull",
    "RoutingTable",
    "ShardLog",
    "StreamCore",
    "decode_handles",
    "encode_ipc_run",
    "encode_handles",
    "format_sequence_values",
    "format_shard_sequence_numbers",
    "md5_hash_key",
    "md5_hash_keys",
    "md5_kernel",
    "native_crc32",
    "packed_rows",
    "parse_aggregated_record",
    "parse_explicit_hash_key",
    "parse_hash_keys",
    "read_arrow_batch",
    "records_dicts",
    "sequence_number_values",
    "ring_full_error",
    "simd_available",
    "siphash24",
    "system_now_ms",
]
