# cython: language_level=3
"""Copy a run of a shard's records into Arrow record batches.

A batch's columns are built straight from the ring: the key and data columns
are one or two memcpy calls each (keys and data live in separate rings), their
offsets are the ring's logical offsets rebased to zero, arrival times are a
copy of the slot array, and sequence numbers are written by adding one
counter step (2**80) to the previous one's decimal limbs, with a full
conversion where the arrival second changes.  Large buffers come from the shared BufferPool, which reuses
blocks nothing references any more, so steady reading does not fault in fresh
pages.  The
copy runs under the shard's lock with the GIL released; the batch owns its
memory, so nothing a writer does later can change it.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t, uintptr_t
from libc.string cimport memcpy

from shardstream._buffers import default_pool
from shardstream._shardlog cimport ShardLog
from shardstream.includes.native cimport (
    SS_SEQ_LEN, ss_ring_doff, ss_ring_koff, ss_ring_read, ss_ring_span, ss_ring_trim_expired, ss_ring_ts,
    ss_ring_visible_end,
    ss_seq_format_run,
)

import numpy as np
import pyarrow as pa

from shardstream.schema import RECORD_SCHEMA, SHARD_ID_TYPE

DEF MAX_BATCH_ROWS = 1 << 24              # keeps sequence-number offsets inside int32
DEF MAX_BATCH_DATA_BYTES = (1 << 31) - 1  # keeps binary offsets inside int32

cdef object _seq_offsets = None   # shared buffer: 0, 56, 112, ... (every batch uses a prefix)
cdef object _zero_indices = None  # shared buffer of int32 zeros (dictionary indices)
cdef dict _dictionaries = {}      # shard id -> one-value dictionary array


cdef object _shared_seq_offsets(int64_t n):
    global _seq_offsets
    if _seq_offsets is None or len(_seq_offsets) < (n + 1) * 4:
        size = max(n + 1, 2 * (len(_seq_offsets) // 4) if _seq_offsets is not None else 65537)
        _seq_offsets = pa.py_buffer(np.arange(0, size * SS_SEQ_LEN, SS_SEQ_LEN, dtype=np.int32))
    # Exactly the batch's part: an IPC writer writes an unsliced buffer whole.
    return _seq_offsets.slice(0, (n + 1) * 4)


cdef object _shared_zeros(int64_t n):
    global _zero_indices
    if _zero_indices is None or len(_zero_indices) < n * 4:
        size = max(n, 2 * (len(_zero_indices) // 4) if _zero_indices is not None else 65536)
        _zero_indices = pa.py_buffer(np.zeros(size, dtype=np.int32))
    return _zero_indices.slice(0, n * 4)


cdef object _dictionary(str shard_id):
    d = _dictionaries.get(shard_id)
    if d is None:
        d = _dictionaries[shard_id] = pa.array([shard_id], pa.string())
    return d


cdef object _buffer(uint64_t nbytes):
    """An Arrow buffer over pooled memory (see _buffers.pyx)."""
    return pa.py_buffer(default_pool.take(nbytes))


cdef inline uint8_t *_addr(object buf):
    return <uint8_t *><uintptr_t>buf.address


def read_batch(ShardLog log not None, uint64_t start, uint64_t limit, uint64_t max_data_bytes, int64_t now_ms,
               bint unpublished=False):
    """Copy up to ``limit`` records of ``log`` from counter ``start`` into a RecordBatch.

    Expired records are trimmed first and a ``start`` behind the trim horizon
    moves up to it.

    Parameters
    ----------
    log : ShardLog
    start : int
        Counter of the first record wanted.
    limit : int
        Most records to return (capped at 16,777,216).
    max_data_bytes : int
        Stop before the data column would exceed this many bytes (at least one
        record is returned if any is available).
    now_ms : int
        Current time, for retention.
    unpublished : bool
        Also read records beyond the shard's ``visible_limit`` (its durable
        store writing them to disk); readers never do.

    Returns
    -------
    (batch, next_counter, tail, next_arrival_ms)
        ``batch`` is a pyarrow.RecordBatch in RECORD_SCHEMA (None when no
        record is available), ``next_counter`` the counter after the last
        record returned, ``tail`` the shard's next visible counter at the time of
        the read (the next counter with ``unpublished``), and ``next_arrival_ms`` the arrival time of the first record not
        returned (None when the read reached the tail).
    """
    cdef uint64_t n, end, j, d0, k0, dbytes, kbytes, slot_mask, a, first, stop
    cdef int32_t *doffs
    cdef int32_t *koffs
    cdef int64_t *ts_out
    cdef uint8_t *data_out
    cdef uint8_t *key_out
    cdef char *seq_out
    if limit > MAX_BATCH_ROWS:
        limit = MAX_BATCH_ROWS
    if max_data_bytes > MAX_BATCH_DATA_BYTES:
        max_data_bytes = MAX_BATCH_DATA_BYTES
    log.acquire()
    try:
        ss_ring_trim_expired(&log.ring, now_ms)
        if start < log.ring.head:
            start = log.ring.head
        stop = log.ring.tail if unpublished else ss_ring_visible_end(&log.ring)
        n = ss_ring_span(&log.ring, start, limit, max_data_bytes, stop)
        end = start + n
        tail = stop
        next_ts = ss_ring_ts(&log.ring, end) if end < stop else None
        if n == 0:
            return None, end, tail, next_ts
        d0 = ss_ring_doff(&log.ring, start)
        k0 = ss_ring_koff(&log.ring, start)
        dbytes = ss_ring_doff(&log.ring, end) - d0
        kbytes = ss_ring_koff(&log.ring, end) - k0
        data_buf = _buffer(dbytes)
        doff_buf = _buffer((n + 1) * 4)
        key_buf = _buffer(kbytes)
        koff_buf = _buffer((n + 1) * 4)
        seq_buf = _buffer(n * SS_SEQ_LEN)
        ts_buf = _buffer(n * 8)
        doffs = <int32_t *>_addr(doff_buf)
        koffs = <int32_t *>_addr(koff_buf)
        ts_out = <int64_t *>_addr(ts_buf)
        data_out = _addr(data_buf)
        key_out = _addr(key_buf)
        seq_out = <char *>_addr(seq_buf)
        slot_mask = log.ring.slot_cap - 1
        with nogil:
            if dbytes:
                ss_ring_read(data_out, log.ring.data, log.ring.data_cap, d0, dbytes)
            ss_ring_read(key_out, log.ring.keys, log.ring.key_cap, k0, kbytes)
            # The slot arrays are rings too: walk them in at most two straight runs.
            a = start & slot_mask
            first = log.ring.slot_cap - a
            if first > n:
                first = n
            _rebase(doffs, log.ring.doff + a, first, d0)
            _rebase(doffs + first, log.ring.doff, n - first, d0)
            _rebase(koffs, log.ring.koff + a, first, k0)
            _rebase(koffs + first, log.ring.koff, n - first, k0)
            doffs[n] = <int32_t>dbytes
            koffs[n] = <int32_t>kbytes
            memcpy(ts_out, log.ring.ts + a, first * 8)
            memcpy(ts_out + first, log.ring.ts, (n - first) * 8)
            ss_seq_format_run(seq_out, log.created_s, log.shard_index, start, ts_out, n)
        shard_id = log.shard_id
    finally:
        log.release()

    columns = [
        pa.DictionaryArray.from_buffers(SHARD_ID_TYPE, n, [None, _shared_zeros(n)], _dictionary(shard_id)),
        pa.Array.from_buffers(pa.string(), n, [None, _shared_seq_offsets(n), seq_buf]),
        pa.Array.from_buffers(pa.string(), n, [None, koff_buf, key_buf]),
        pa.Array.from_buffers(pa.binary(), n, [None, doff_buf, data_buf]),
        pa.Array.from_buffers(RECORD_SCHEMA.field(4).type, n, [None, ts_buf]),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=RECORD_SCHEMA), end, tail, next_ts


cdef inline void _rebase(int32_t *out, const uint64_t *offsets, uint64_t n, uint64_t base) noexcept nogil:
    cdef uint64_t j
    for j in range(n):
        out[j] = <int32_t>(offsets[j] - base)
