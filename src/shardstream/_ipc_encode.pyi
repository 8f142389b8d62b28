from collections.abc import Buffer

from ._shardlog import ShardLog

def crc32(data: Buffer, crc: int = ...) -> int: ...
def encode_run(
    log: ShardLog, start: int, limit: int, max_data_bytes: int, now_ms: int
) -> tuple[bytes, bytes, int, int, int, int, int] | None: ...
