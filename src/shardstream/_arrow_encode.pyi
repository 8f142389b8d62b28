import pyarrow as pa

from ._shardlog import ShardLog

def read_batch(
    log: ShardLog, start: int, limit: int, max_data_bytes: int, now_ms: int, unpublished: bool = ...
) -> tuple[pa.RecordBatch | None, int, int, int | None]: ...
