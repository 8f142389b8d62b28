"""The one deterministic record set every benchmark and ``report.py`` use.

``arrow_records(n)`` gives ``n`` records (default 1,000,000) as two pyarrow
arrays: partition keys of 16 to 36 ASCII characters (``string``) and 100-byte
payloads (``binary``).  ``list_records(n)`` gives the very same records as two
Python lists (``str`` keys, ``bytes`` payloads).  Both are seeded and cached,
so every benchmark in a process shares one copy.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import pyarrow as pa

__all__ = [
    "KEY_MAX_CHARS",
    "KEY_MIN_CHARS",
    "N_RECORDS",
    "PAYLOAD_BYTES",
    "SEED",
    "ArrowRecords",
    "ListRecords",
    "arrow_records",
    "list_records",
]

N_RECORDS = 1_000_000
PAYLOAD_BYTES = 100
KEY_MIN_CHARS = 16
KEY_MAX_CHARS = 36
SEED = 0x5EED_2024

_ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8)


class ArrowRecords(NamedTuple):
    keys: pa.StringArray
    data: pa.BinaryArray

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        """Key bytes plus payload bytes (the user data written)."""
        return len(self.keys.buffers()[2]) + len(self) * PAYLOAD_BYTES


class ListRecords(NamedTuple):
    keys: list
    data: list

    def __len__(self) -> int:
        return len(self.keys)


@functools.lru_cache(maxsize=4)
def arrow_records(n: int = N_RECORDS) -> ArrowRecords:
    """``n`` seeded records as (keys: pa.string(), data: pa.binary()), built without Python objects."""
    rng = np.random.default_rng(SEED)
    lengths = rng.integers(KEY_MIN_CHARS, KEY_MAX_CHARS + 1, size=n, dtype=np.int32)
    key_offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=key_offsets[1:])
    chars = _ALPHABET[rng.integers(0, len(_ALPHABET), size=int(key_offsets[-1]), dtype=np.uint8)]
    keys = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(key_offsets), pa.py_buffer(chars)])

    payload = rng.integers(0, 256, size=n * PAYLOAD_BYTES, dtype=np.uint8)
    data_offsets = np.arange(0, (n + 1) * PAYLOAD_BYTES, PAYLOAD_BYTES, dtype=np.int32)
    data = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(data_offsets), pa.py_buffer(payload)])
    keys.validate(full=True)
    data.validate(full=True)
    return ArrowRecords(keys, data)


@functools.lru_cache(maxsize=4)
def list_records(n: int = N_RECORDS) -> ListRecords:
    """The same records as :func:`arrow_records` as Python lists of ``str`` and ``bytes``."""
    rec = arrow_records(n)
    return ListRecords(rec.keys.to_pylist(), rec.data.to_pylist())


# -- streams the benchmarks write into --------------------------------------------

SHARD_COUNT = 4
SHARD_CAPACITY_BYTES = 64 * 1024 * 1024


def new_stream(name: str, *, shard_count: int = SHARD_COUNT, shard_capacity_bytes: int = SHARD_CAPACITY_BYTES,
               evict_oldest: bool = True):
    """A fresh stream in its own Engine: ``shard_count`` shards whose rings are reused (evict_oldest)."""
    import shardstream

    engine = shardstream.Engine(shard_limit=None)
    return engine.create_stream(name, shard_count=shard_count, shard_capacity_bytes=shard_capacity_bytes,
                                evict_oldest=evict_oldest)


def steady_stream(name: str, records: ArrowRecords, *, warmup_puts: int = 3, **kwargs):
    """A stream already written ``warmup_puts`` times with ``records``: its rings are full and wrap."""
    stream = new_stream(name, **kwargs)
    for _ in range(warmup_puts):
        stream.put_batch(records.keys, records.data)
    return stream


def filled_stream(name: str, records: ArrowRecords, **kwargs):
    """A stream holding exactly ``records`` once (nothing evicted), for reads."""
    kwargs.setdefault("evict_oldest", False)
    stream = new_stream(name, **kwargs)
    stream.put_batch(records.keys, records.data)
    total = sum(s["Records"] for s in stream.shard_stats())
    if total != len(records):
        raise RuntimeError(f"stream holds {total} records, expected {len(records)}: raise shard_capacity_bytes")
    return stream
