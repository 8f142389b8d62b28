# cython: language_level=3
"""Sequence numbers of written records: packed as values by a put, formatted as Kinesis strings on demand.

A put's result holds each number as its 188-bit value in an Arrow
``decimal256(56, 0)`` slot (see ``ss_seqwords.h``); :func:`format_sequence_values`
turns such a column into the 56-digit strings.  :func:`format_shard_sequence_numbers`
formats one shard's records directly (reads and describes).
"""

from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport UINT64_MAX, int32_t, int64_t, uint8_t, uint64_t

from shardstream._shardlog cimport ShardLog
from shardstream.includes.native cimport (
    SS_SEQ_LEN, SS_SEQW_SLOTS, ss_seq_cache, ss_seq_cache_reset, ss_seq_format_next, ss_seq_pack,
    ss_seq_seconds, ss_seqw_cache, ss_seqw_format, ss_seqw_in_range, ss_seqw_store,
)

import numpy as np
import pyarrow as pa

from shardstream._buffers import default_pool

#: The Arrow type holding sequence-number values (the storage of a put result's column).
SEQUENCE_VALUE_TYPE = pa.decimal256(56, 0)


cdef object _pool_array(int64_t n, object dtype):
    """An uninitialised numpy array from the shared BufferPool (no fresh page faults when reused)."""
    dtype = np.dtype(dtype)
    return default_pool.take(n * dtype.itemsize, dtype)


def sequence_number_values(positions, counters, tuple open_logs not None, arrivals):
    """Sequence numbers of appended rows as an Arrow ``decimal256(56, 0)`` array of their values.

    Parameters
    ----------
    positions : numpy.ndarray of int32
        Each row's position in ``open_logs``.
    counters : numpy.ndarray of uint64
        Each row's counter in that shard; UINT64_MAX marks a failed row (null).
    open_logs : tuple of ShardLog
    arrivals : numpy.ndarray of int64
        Per position in ``open_logs``, the arrival time (ms) of its rows.

    Returns
    -------
    pyarrow.Decimal256Array
        One value per row (null where not written); :func:`format_sequence_values` gives the strings.
    """
    cdef const int32_t[::1] pos = positions
    cdef const uint64_t[::1] ctr = counters
    cdef const int64_t[::1] arr = arrivals
    cdef Py_ssize_t m = len(open_logs), s
    cdef int64_t n = pos.shape[0], i, failed = 0
    cdef uint64_t c
    cdef uint64_t w[3]
    if arr.shape[0] < m:
        raise ValueError("need an arrival time per open shard")
    if ctr.shape[0] != n:
        raise ValueError("positions and counters differ in length")
    # Per shard: the value of counter 0; a row adds counter << 80.
    cdef uint64_t *base = <uint64_t *>PyMem_Malloc(3 * m * sizeof(uint64_t) + 1)
    if base == NULL:
        raise MemoryError()
    for s in range(m):
        ss_seq_pack(&base[3 * s], (<ShardLog>open_logs[s]).created_s, (<ShardLog>open_logs[s]).shard_index, 0,
                    ss_seq_seconds(arr[s]))
    out = _pool_array(4 * n, np.uint64)
    cdef uint64_t[::1] o = out
    cdef uint64_t *slot = &o[0] if n else NULL
    try:
        with nogil:
            for i in range(n):
                c = ctr[i]
                if c == UINT64_MAX:
                    failed += 1
                    ss_seqw_store(slot + 4 * i, 0, 0, 0)
                    continue
                s = pos[i]
                ss_seqw_store(slot + 4 * i, base[3 * s] | (c >> 48), base[3 * s + 1] | (c << 16), base[3 * s + 2])
    finally:
        PyMem_Free(base)
    validity = None
    if failed:
        validity = pa.py_buffer(np.packbits(counters != UINT64_MAX, bitorder="little"))
    return pa.Array.from_buffers(SEQUENCE_VALUE_TYPE, n, [validity, pa.py_buffer(out)], null_count=failed)


def format_sequence_values(values):
    """The 56-digit strings of a ``decimal256(56, 0)`` array of sequence-number values.

    Parameters
    ----------
    values : pyarrow.Decimal256Array
        Values as :func:`sequence_number_values` makes them (nulls stay null).

    Returns
    -------
    pyarrow.StringArray
        ``large_string`` past 2 GiB of text.

    Raises
    ------
    TypeError
        ``values`` is not a ``decimal256(56, 0)`` array.
    ValueError
        A value is negative or has more than 56 digits' worth of bits (not a sequence number).
    """
    if not isinstance(values, pa.Array) or values.type != SEQUENCE_VALUE_TYPE:
        raise TypeError(f"expected a decimal256(56, 0) array, got {getattr(values, 'type', type(values).__name__)}")
    cdef int64_t n = len(values), i, start = values.offset, nulls = values.null_count, bad = -1
    cdef ss_seqw_cache caches[SS_SEQW_SLOTS]
    cdef const uint64_t *src = NULL
    cdef char *dst = NULL
    cdef const uint8_t[::1] valid_bits
    cdef const uint8_t *vb = NULL
    cdef int64_t written = 0
    for i in range(SS_SEQW_SLOTS):
        caches[i].valid = 0
    buffers = values.buffers()
    data = np.frombuffer(buffers[1], dtype=np.uint64) if n else None
    cdef const uint64_t[::1] words = data
    if n:
        src = &words[4 * start]
    if nulls and buffers[0] is not None:
        valid_bits = np.frombuffer(buffers[0], dtype=np.uint8)
        vb = &valid_bits[0]
    text_len = (n - nulls) * SS_SEQ_LEN
    out = _pool_array(text_len, np.uint8)
    offsets = _pool_array(n + 1, np.int64 if text_len > 2**31 - 1 else np.int32)
    cdef uint8_t[::1] o = out
    if text_len:
        dst = <char *>&o[0]
    with nogil:
        for i in range(n):
            if vb != NULL and not (vb[(start + i) >> 3] >> ((start + i) & 7)) & 1:
                continue
            if not ss_seqw_in_range(src + 4 * i):
                bad = i
                break
            ss_seqw_format(dst + written * SS_SEQ_LEN, caches, src + 4 * i)
            written += 1
    if bad >= 0:
        raise ValueError(f"row {bad} holds {values[bad].as_py()}, which is not a sequence number")
    if nulls:
        ok = values.is_valid().to_numpy(zero_copy_only=False)
        offsets[0] = 0
        np.cumsum(ok.astype(offsets.dtype) * SS_SEQ_LEN, out=offsets[1:])
        validity = pa.py_buffer(np.packbits(ok, bitorder="little"))
    else:
        _fill_offsets(offsets, n + 1)
        validity = None
    kind = pa.large_string() if offsets.dtype == np.int64 else pa.string()
    return pa.Array.from_buffers(kind, n, [validity, pa.py_buffer(offsets), pa.py_buffer(out)], null_count=nulls)


def format_shard_sequence_numbers(uint64_t created_s, int64_t shard_index, counters, arrivals_ms):
    """Sequence numbers of one shard's records as an Arrow string array.

    Parameters
    ----------
    created_s : int
        The shard's creation time, epoch seconds.
    shard_index : int
    counters : numpy.ndarray of uint64
        The records' counters.
    arrivals_ms : numpy.ndarray of int64
        Their arrival times, ms since the epoch (same length).
    """
    cdef const uint64_t[::1] ctr = np.ascontiguousarray(counters, dtype=np.uint64)
    cdef const int64_t[::1] arr = np.ascontiguousarray(arrivals_ms, dtype=np.int64)
    cdef int64_t n = ctr.shape[0], i
    cdef ss_seq_cache cache
    if arr.shape[0] != n:
        raise ValueError("counters and arrival times differ in length")
    out = _pool_array(n * SS_SEQ_LEN, np.uint8)
    offsets = _pool_array(n + 1, np.int64 if n * SS_SEQ_LEN > 2**31 - 1 else np.int32)
    cdef uint8_t[::1] o = out
    cdef char *dst = <char *>&o[0] if n else NULL
    ss_seq_cache_reset(&cache)
    with nogil:
        for i in range(n):
            ss_seq_format_next(dst + i * SS_SEQ_LEN, &cache, created_s, shard_index, ctr[i], ss_seq_seconds(arr[i]))
    _fill_offsets(offsets, n + 1)
    kind = pa.large_string() if offsets.dtype == np.int64 else pa.string()
    return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(offsets), pa.py_buffer(out)])


cdef _fill_offsets(object offsets, int64_t n):
    """offsets[i] = 56 * i: the offsets of n - 1 fixed-width sequence numbers."""
    cdef int32_t[::1] o32
    cdef int64_t[::1] o64
    cdef int64_t i
    if offsets.dtype == np.int32:
        o32 = offsets
        with nogil:
            for i in range(n):
                o32[i] = <int32_t>(i * SS_SEQ_LEN)
    else:
        o64 = offsets
        with nogil:
            for i in range(n):
                o64[i] = i * SS_SEQ_LEN
