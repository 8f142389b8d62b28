from collections.abc import Callable

import numpy as np
import pyarrow as pa

from ._routing import RoutingTable
from ._shardlog import ShardLog

class RecordRejected(Exception):
    reason: str
    index: int
    def __init__(self, reason: str, index: int) -> None: ...

class RingFull(Exception):
    log: ShardLog
    records: int
    nbytes: int
    def __init__(self, log: ShardLog, records: int, nbytes: int) -> None: ...

class StreamCore:
    name: str
    account_id: str
    max_record_bytes: int
    clock: Callable[[], int] | None
    logs: list[ShardLog]
    routing: RoutingTable
    open_logs: tuple[ShardLog, ...]
    accepting: bool
    watch_writes: bool
    write_signal: Callable[[ShardLog | None], None] | None
    room_on_full: bool
    auto_distribution: bool
    spread_next: int
    def now_ms(self) -> int: ...
    @staticmethod
    def _text_column(values: object, keys: bool = ...) -> pa.Array | None: ...
    def _set_auto_distribution(self, auto: bool) -> None: ...
    def _spread_positions(self, n: int) -> np.ndarray: ...
    def _validate_arrays(self, keys: pa.Array, data: pa.Array) -> None: ...
    def put_record(
        self,
        data: bytes | bytearray | memoryview | str,
        partition_key: str | None = ...,
        explicit_hash_key: str | int | None = ...,
        sequence_number_for_ordering: str | None = ...,
        *,
        dry_run: bool = ...,
    ) -> dict[str, str]: ...

def parse_explicit_hash_key(value: str | int) -> int: ...
def ring_full_error(stream_name: str, account_id: str, log: ShardLog, nrec: int, nbytes: int) -> Exception: ...
def system_now_ms() -> int: ...
