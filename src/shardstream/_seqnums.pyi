"""Stubs for the compiled ``shardstream._seqnums`` (csrc/shardstream/_seqnums.pyx)."""

import numpy as np
import pyarrow as pa

from ._shardlog import ShardLog

SEQUENCE_VALUE_TYPE: pa.Decimal256Type

def sequence_number_values(
    positions: np.ndarray, counters: np.ndarray, open_logs: tuple[ShardLog, ...], arrivals: np.ndarray
) -> pa.Array: ...
def format_sequence_values(values: pa.Array) -> pa.Array: ...
def format_shard_sequence_numbers(
    created_s: int, shard_index: int, counters: np.ndarray, arrivals_ms: np.ndarray
) -> pa.Array: ...
