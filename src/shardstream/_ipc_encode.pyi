from collections.abc import Buffer, Callable

from ._shardlog import ShardLog

def crc32(data: Buffer, crc: int = ...) -> int: ...
def encode_run(
    log: ShardLog,
    start: int,
    limit: int,
    max_data_bytes: int,
    now_ms: int,
    crc32_function: Callable[..., int] | None = ...,
) -> tuple[bytes, bytes, int, int, int, int, int] | None: ...
