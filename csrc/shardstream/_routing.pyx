# cython: language_level=3
"""Hash-key routing: batch MD5 of partition keys and the open-shard lookup.

The lookup is a table on the top 16 bits of the hash key.  ``bucket[b]`` is
the position of the shard holding the smallest key of bucket ``b``; when
``bucket[b + 1] == bucket[b]`` one shard covers the whole bucket and the
answer costs a single load (~2 ns).  Otherwise a shard boundary cuts the
bucket and a short forward scan with full 128-bit compares settles it.  A
binary search over 1,024 shards costs ~40 ns a key by comparison; the table
is 256 KiB and fits in L2.
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t

from shardstream._columns cimport BinaryView, binary_view, bv_offset
from shardstream.includes.native cimport ss_md5_batch, ss_md5_have_avx2, ss_md5_one, ss_parse_u128

import os
import warnings

import numpy as np


cdef extern from "ss_md5.h" nogil:
    int ss_md5_kernel(int simd)

DEF BUCKET_BITS = 16
DEF BUCKETS = 65536

HASH_KEY_MAX = (1 << 128) - 1


# Kernel ids of ss_md5.h (SS_MD5_SCALAR, SS_MD5_AUTO, SS_MD5_AVX2, SS_MD5_AVX512).
MD5_KERNELS = ("scalar", "avx2", "avx512")
cdef dict _KERNEL_IDS = {"scalar": 0, "avx2": 2, "avx512": 3}
cdef tuple _KERNEL_NAMES = ("scalar", "avx2", "avx2", "avx512")

_env_kernel = os.environ.get("SHARDSTREAM_MD5", "")
if _env_kernel not in ("", "auto", *MD5_KERNELS):
    warnings.warn(f"SHARDSTREAM_MD5={_env_kernel!r} is not one of auto, {', '.join(MD5_KERNELS)}: ignored",
                  RuntimeWarning, stacklevel=2)
ss_md5_kernel(1)  # read SHARDSTREAM_MD5 now, at import


cdef int _kernel_id(kernel) except -1:
    if kernel not in _KERNEL_IDS:
        raise ValueError(f"unknown MD5 kernel {kernel!r}; expected one of {', '.join(MD5_KERNELS)}")
    cdef int k = _KERNEL_IDS[kernel]
    if ss_md5_kernel(k) != k:
        raise ValueError(f"this CPU cannot run the {kernel} MD5 kernel")
    return k


def simd_available():
    """True when this CPU runs a SIMD MD5 kernel (8-lane AVX2, or 16-lane AVX-512)."""
    return bool(ss_md5_have_avx2())


def md5_kernel(kernel=None):
    """Name of the MD5 kernel that batch hashing runs.

    Parameters
    ----------
    kernel : {None, "scalar", "avx2", "avx512"}
        None: the kernel ``simd=True`` runs, the best this CPU has, capped by
        the ``SHARDSTREAM_MD5`` environment variable ("scalar", "avx2" or
        "avx512"; read once, at import).  A name: that kernel if this CPU runs
        it, else the best one below it.

    Returns
    -------
    str
        ``"avx512"``, ``"avx2"`` or ``"scalar"``.
    """
    return _KERNEL_NAMES[ss_md5_kernel(1 if kernel is None else _kernel_id(kernel))]


cdef class RoutingTable:
    """The open shards of a stream as sorted starting hash keys.

    Parameters
    ----------
    starting_hash_keys : sequence of int
        Starting hash key of each open shard, ascending; the first must be 0
        (open shards tile the whole hash space).
    shard_indexes : sequence of int
        The stream-wide index of each of those shards.
    """

    def __cinit__(self, starting_hash_keys, shard_indexes):
        cdef Py_ssize_t i, m = len(starting_hash_keys)
        cdef uint32_t pos
        cdef uint64_t b
        if m < 1 or m != len(shard_indexes):
            raise ValueError("need one shard index per starting hash key, and at least one shard")
        keys = [int(k) for k in starting_hash_keys]
        if keys[0] != 0 or any(not (keys[j] < keys[j + 1]) for j in range(m - 1)) or keys[m - 1] > HASH_KEY_MAX:
            raise ValueError("starting hash keys must start at 0 and increase strictly within 0..2**128-1")
        self.start_hi = <uint64_t *>PyMem_Malloc(m * sizeof(uint64_t))
        self.start_lo = <uint64_t *>PyMem_Malloc(m * sizeof(uint64_t))
        self.bucket = <uint32_t *>PyMem_Malloc((BUCKETS + 1) * sizeof(uint32_t))
        if not self.start_hi or not self.start_lo or not self.bucket:
            raise MemoryError()
        for i in range(m):
            self.start_hi[i] = keys[i] >> 64
            self.start_lo[i] = keys[i] & 0xFFFFFFFFFFFFFFFF
        self.size = m
        self.shard_indexes = tuple(int(s) for s in shard_indexes)
        self.shard_ids = tuple(f"shardId-{s:012d}" for s in self.shard_indexes)
        # bucket[b] = the last shard starting at or below the bucket's first key.
        pos = 0
        for b in range(BUCKETS):
            while pos + 1 < m and u128_le(self.start_hi[pos + 1], self.start_lo[pos + 1], b << 48, 0):
                pos += 1
            self.bucket[b] = pos
        self.bucket[BUCKETS] = m - 1

    def __dealloc__(self):
        PyMem_Free(self.start_hi)
        PyMem_Free(self.start_lo)
        PyMem_Free(self.bucket)

    cdef void lookup_many(self, const uint64_t *hi, const uint64_t *lo, int32_t *out, Py_ssize_t n) noexcept nogil:
        cdef Py_ssize_t i
        if self.size == 1:
            for i in range(n):
                out[i] = 0
            return
        for i in range(n):
            out[i] = self.lookup_table(hi[i], lo[i])

    def route(self, hash_keys):
        """Positions (into ``shard_ids``) of the open shard holding each hash key.

        Parameters
        ----------
        hash_keys : iterable of int
            Hash keys in 0..2**128-1.

        Returns
        -------
        numpy.ndarray of int32
        """
        keys = [int(k) for k in hash_keys]
        hi = np.array([k >> 64 for k in keys], dtype=np.uint64)
        lo = np.array([k & 0xFFFFFFFFFFFFFFFF for k in keys], dtype=np.uint64)
        return self.route_hashes(hi, lo)

    def route_hashes(self, const uint64_t[::1] hi not None, const uint64_t[::1] lo not None):
        """Vectorised ``route`` over hash keys split into high and low 64-bit halves."""
        cdef Py_ssize_t n = hi.shape[0]
        if lo.shape[0] != n:
            raise ValueError("hi and lo must have the same length")
        out = np.empty(n, dtype=np.int32)
        cdef int32_t[::1] o = out
        if n:
            with nogil:
                self.lookup_many(&hi[0], &lo[0], &o[0], n)
        return out

    def __reduce__(self):
        starts = [(<object>self.start_hi[i] << 64) | <object>self.start_lo[i] for i in range(self.size)]
        return RoutingTable, (starts, self.shard_indexes)


def md5_hash_keys(keys, *, bint simd=True, kernel=None):
    """MD5 hash keys of partition keys, as Kinesis computes them.

    Parameters
    ----------
    keys : pyarrow.Array
        A string or binary array (32- or 64-bit offsets) without nulls; string
        keys are hashed as their UTF-8 bytes.
    simd : bool
        Use the best SIMD kernel the CPU has (``md5_kernel()``: AVX-512 or
        AVX2); False forces the scalar kernel.  The results are identical.
    kernel : {None, "scalar", "avx2", "avx512"}
        Run this kernel instead (overrides ``simd``); ValueError if this CPU
        cannot run it.  For tests and benchmarks.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        High and low 64-bit halves of each 128-bit big-endian digest.
    """
    cdef int which = (1 if simd else 0) if kernel is None else _kernel_id(kernel)
    cdef BinaryView v
    binary_view(keys, &v)
    cdef int64_t n = v.length
    hi = np.empty(n, dtype=np.uint64)
    lo = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] h = hi
    cdef uint64_t[::1] l = lo
    if n:
        with nogil:
            ss_md5_batch(v.data, v.offsets, v.wide, n, &h[0], &l[0], which)
    return hi, lo


def md5_hash_key(key):
    """The hash key of one partition key (str or bytes) as an int."""
    cdef bytes b = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    cdef uint8_t digest[16]
    ss_md5_one(<const uint8_t *>b, len(b), digest)
    return int.from_bytes(digest[:16], "big")


def parse_hash_keys(keys):
    """Parse decimal explicit hash keys into high and low halves.

    Parameters
    ----------
    keys : pyarrow.Array
        String array; null entries are allowed and marked in the mask.

    Returns
    -------
    (hi, lo, present, status) : numpy arrays
        ``status`` is 0 for a parsed or null key, -1 for text that is not a
        decimal hash key and -2 for a value above 2**128-1.
    """
    cdef BinaryView v
    cdef int64_t i, a
    binary_view(keys, &v, True)
    cdef int64_t n = v.length
    present = np.asarray(keys.is_valid(), dtype=np.bool_) if keys.null_count else np.ones(n, dtype=np.bool_)
    hi = np.zeros(n, dtype=np.uint64)
    lo = np.zeros(n, dtype=np.uint64)
    status = np.zeros(n, dtype=np.int8)
    cdef uint64_t[::1] h = hi
    cdef uint64_t[::1] l = lo
    cdef const uint8_t[::1] p = present.view(np.uint8)
    cdef int8_t[::1] st = status
    with nogil:
        for i in range(n):
            if not p[i]:
                continue
            a = bv_offset(&v, i)
            st[i] = ss_parse_u128(<const char *>v.data + a, bv_offset(&v, i + 1) - a, &h[i], &l[i])
    return hi, lo, present, status
