"""Kinesis routing as functions: partition key -> 128-bit hash key -> shard.

``hash_key`` is ``int.from_bytes(md5(key.encode("utf-8")).digest(), "big")``;
the batch functions compute the same with the native multi-lane MD5.
"""

from __future__ import annotations

import numpy as np

from ._native import RoutingTable, md5_hash_key, md5_hash_keys, md5_kernel
from .columns import as_key_array
from .models import HASH_KEY_MAX, uniform_ranges

__all__ = ["HASH_KEY_MAX", "hash_key", "hash_keys", "md5_kernel", "route_keys", "uniform_ranges"]


def hash_key(partition_key: str | bytes) -> int:
    """The hash key Kinesis derives from ``partition_key``: its MD5 read as a big-endian 128-bit int."""
    return md5_hash_key(partition_key)


def hash_keys(partition_keys, *, simd: bool = True, kernel: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hash keys of many partition keys as high and low uint64 halves.

    Parameters
    ----------
    partition_keys : array-like of str
    simd : bool
        Use the best SIMD kernel available, ``md5_kernel()`` (identical results);
        False forces the scalar kernel.
    kernel : {None, "scalar", "avx2", "avx512"}
        Run this MD5 kernel instead (overrides ``simd``; ValueError if the CPU
        lacks it). For tests and benchmarks.
    """
    return md5_hash_keys(as_key_array(partition_keys), simd=simd, kernel=kernel)


def route_keys(partition_keys, shard_count: int, *, simd: bool = True) -> np.ndarray:
    """Shard index of each key in a freshly created stream of ``shard_count`` shards.

    Parameters
    ----------
    partition_keys : array-like of str
    shard_count : int
    simd : bool
        Use the best SIMD MD5 kernel available (identical results).

    Returns
    -------
    numpy.ndarray
        One shard index per key.
    """
    table = RoutingTable([start for start, _ in uniform_ranges(shard_count)], range(shard_count))
    hi, lo = hash_keys(partition_keys, simd=simd)
    return table.route_hashes(hi, lo)
