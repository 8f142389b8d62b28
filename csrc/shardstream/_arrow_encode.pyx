# cython: language_level=3
"""Copy a run of a shard's records into Arrow record batches.

A batch's columns are built straight from the ring: the key and data columns
are one or two memcpy calls each (keys and data live in separate rings), their
offsets are the ring's logical offsets rebased to zero, arrival times are a
copy of the slot array, and sequence numbers are written by adding one
counter step (2**80) to the previous one's decimal limbs, with a full
conversion where the arrival second changes.  A large batch's buffers come
from the shared BufferPool, which reuses blocks nothing references any more,
so steady reading does not fault in fresh pages; a small batch (under 64 KiB)
is one malloc block holding its buffers and the Arrow C data interface
structs, imported in one call (building it from Python objects would cost
more than the copy).  The
copy runs under the shard's lock with the GIL released, and no Python object
is made while the lock is held (the buffers are taken between two short
holds); the batch owns its memory, so nothing a writer does later can change
it.
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t, uintptr_t
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
cimport cython
from cpython.datetime cimport import_datetime, timedelta_new

from shardstream._buffers import default_pool
from shardstream._shardlog cimport ShardLog
from shardstream.includes.native cimport (
    SS_SEQ_LEN, ss_b64_encode, ss_ring_copy_run, ss_ring_doff, ss_ring_koff, ss_ring_span, ss_ring_trim_expired, ss_ring_ts,
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
cdef object _TS_TYPE = RECORD_SCHEMA.field("approximate_arrival_timestamp").type
cdef object _STRING = pa.string()
cdef object _BINARY = pa.binary()


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


cdef inline uint64_t _align(uint64_t nbytes) noexcept nogil:
    return (nbytes + 63) & ~(<uint64_t>63)


cdef inline uint8_t *_addr(object buf):
    return <uint8_t *><uintptr_t>buf.address


cdef extern from *:
    """
    #include <stdlib.h>
    struct ss_ArrowArray {  /* the Arrow C data interface's ArrowArray */
        int64_t length;
        int64_t null_count;
        int64_t offset;
        int64_t n_buffers;
        int64_t n_children;
        const void **buffers;
        struct ss_ArrowArray **children;
        struct ss_ArrowArray *dictionary;
        void (*release)(struct ss_ArrowArray *);
        void *private_data;
    };
    /* A small RECORD_SCHEMA batch in one malloc block: the structs, then the buffers. */
    typedef struct {
        struct ss_ArrowArray parent, dict, cols[5];
        struct ss_ArrowArray *children[5];
        const void *parent_bufs[1];
        const void *bufs[5][3];
        const void *dict_bufs[3];
        int32_t dict_offsets[2];
        char dict_data[32];
    } ss_small_batch;
    static void ss_small_child_release(struct ss_ArrowArray *a) { a->release = NULL; }
    static void ss_small_release(struct ss_ArrowArray *a) {
        /* Arrow releases only the top-level array; the children live in the same block. */
        void *block = a->private_data;
        a->release = NULL;
        free(block);
    }
    static void ss_small_init(struct ss_ArrowArray *a, int64_t length, int64_t n_buffers, const void **buffers,
                              void *private_data, int top) {
        a->length = length;
        a->null_count = 0;
        a->offset = 0;
        a->n_buffers = n_buffers;
        a->n_children = 0;
        a->buffers = buffers;
        a->children = NULL;
        a->dictionary = NULL;
        a->release = top ? ss_small_release : ss_small_child_release;
        a->private_data = private_data;
    }
    """
    struct ss_ArrowArray:
        int64_t length
        int64_t null_count
        int64_t offset
        int64_t n_buffers
        int64_t n_children
        const void **buffers
        ss_ArrowArray **children
        ss_ArrowArray *dictionary
        void (*release)(ss_ArrowArray *) noexcept nogil
        void *private_data
    ctypedef struct ss_small_batch:
        ss_ArrowArray parent
        ss_ArrowArray dict
        ss_ArrowArray cols[5]
        ss_ArrowArray *children[5]
        const void *parent_bufs[1]
        const void *bufs[5][3]
        const void *dict_bufs[3]
        int32_t dict_offsets[2]
        char dict_data[32]
    void ss_small_init(ss_ArrowArray *a, int64_t length, int64_t n_buffers, const void **buffers,
                       void *private_data, int top) noexcept nogil
    void *malloc(size_t n) noexcept nogil
    void free(void *p) noexcept nogil

DEF SMALL_BATCH_BYTES = 1 << 16  # below this a batch is one malloc block, imported through the C data interface


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
    cdef uint64_t n, end, dbytes, kbytes, stop
    cdef uint64_t o_doff, o_key, o_koff, o_seq, o_ts, o_end
    cdef ss_small_batch *small = NULL
    cdef uint8_t *base
    cdef int64_t next_ms = 0
    cdef bint more = False
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
    shard_id = log.shard_id
    # Two passes under the lock: the first sizes the run, the block is allocated
    # with the lock released (it may be a Python object), and the second copies
    # the run if it is still there.  Records never change once appended, so
    # the run is still there unless the ring dropped some of it meanwhile
    # (eviction, retention, discard_all); then size it again.
    while True:
        log.acquire()
        ss_ring_trim_expired(&log.ring, now_ms)
        if start < log.ring.head:
            start = log.ring.head
        stop = log.ring.tail if unpublished else ss_ring_visible_end(&log.ring)
        n = ss_ring_span(&log.ring, start, limit, max_data_bytes, stop)
        end = start + n
        more = end < stop
        if more:
            next_ms = ss_ring_ts(&log.ring, end)
        if n:
            dbytes = ss_ring_doff(&log.ring, end) - ss_ring_doff(&log.ring, start)
            kbytes = ss_ring_koff(&log.ring, end) - ss_ring_koff(&log.ring, start)
        log.release()
        if n == 0:
            return None, end, stop, (next_ms if more else None)
        # A small batch is one block: its six buffers at 64-byte boundaries, then its shared columns.
        o_doff = _align(dbytes)
        o_key = o_doff + _align((n + 1) * 4)
        o_koff = o_key + _align(kbytes)
        o_seq = o_koff + _align((n + 1) * 4)
        o_ts = o_seq + _align(n * SS_SEQ_LEN)
        o_end = o_ts + _align(n * 8)
        if o_end + 2 * _align((n + 1) * 4) < SMALL_BATCH_BYTES:
            # Small: the batch, its structs and its shared columns in one malloc block.
            small = <ss_small_batch *>malloc(_align(sizeof(ss_small_batch)) + o_end + 2 * _align((n + 1) * 4))
            if small == NULL:
                raise MemoryError()
            base = <uint8_t *>small + _align(sizeof(ss_small_batch))
            data_out = base
            doffs = <int32_t *>(base + o_doff)
            key_out = base + o_key
            koffs = <int32_t *>(base + o_koff)
            seq_out = <char *>(base + o_seq)
            ts_out = <int64_t *>(base + o_ts)
        else:
            # Large: a pooled buffer each (pool blocks are reused by size class).
            small = NULL
            data_buf = _buffer(dbytes)
            doff_buf = _buffer((n + 1) * 4)
            key_buf = _buffer(kbytes)
            koff_buf = _buffer((n + 1) * 4)
            seq_buf = _buffer(n * SS_SEQ_LEN)
            ts_buf = _buffer(n * 8)
            data_out = _addr(data_buf)
            doffs = <int32_t *>_addr(doff_buf)
            key_out = _addr(key_buf)
            koffs = <int32_t *>_addr(koff_buf)
            seq_out = <char *>_addr(seq_buf)
            ts_out = <int64_t *>_addr(ts_buf)
        log.acquire()
        if log.ring.head > start or (log.ring.tail if unpublished else ss_ring_visible_end(&log.ring)) < end:
            log.release()  # some of the run is gone: size it again
            free(small)
            continue
        # What was read as the tail may have grown: report it as now.
        stop = log.ring.tail if unpublished else ss_ring_visible_end(&log.ring)
        more = end < stop
        if more:
            next_ms = ss_ring_ts(&log.ring, end)
        with nogil:
            ss_ring_copy_run(&log.ring, start, n, data_out, doffs, key_out, koffs, ts_out)
            ss_seq_format_run(seq_out, log.created_s, log.shard_index, start, ts_out, n)
        log.release()
        break
    tail = stop
    next_ts = next_ms if more else None
    if small != NULL:
        return _import_small(small, n, shard_id, o_doff, o_key, o_koff, o_seq, o_ts, o_end), end, tail, next_ts
    columns = [
        pa.DictionaryArray.from_buffers(SHARD_ID_TYPE, n, [None, _shared_zeros(n)], _dictionary(shard_id)),
        pa.Array.from_buffers(_STRING, n, [None, _shared_seq_offsets(n), seq_buf]),
        pa.Array.from_buffers(_STRING, n, [None, koff_buf, key_buf]),
        pa.Array.from_buffers(_BINARY, n, [None, doff_buf, data_buf]),
        pa.Array.from_buffers(_TS_TYPE, n, [None, ts_buf]),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=RECORD_SCHEMA), end, tail, next_ts


cdef object _import_small(ss_small_batch *b, uint64_t n, str shard_id, uint64_t o_doff, uint64_t o_key,
                          uint64_t o_koff, uint64_t o_seq, uint64_t o_ts, uint64_t o_end):
    """The RecordBatch of a filled small block (see read_batch), which Arrow then owns and frees.

    The block holds the structs, then (from ``base``) the data at 0 and the other buffers at
    the ``o_*`` offsets, then room for the shard_id indices (zeros) and the sequence-number
    offsets from ``o_end``.
    """
    cdef bytes sid = shard_id.encode("ascii")
    cdef uint64_t j
    cdef uint8_t *base = <uint8_t *>b + _align(sizeof(ss_small_batch))
    cdef int32_t *zeros = <int32_t *>(base + o_end)
    cdef int32_t *seq_offsets = <int32_t *>(base + o_end + _align((n + 1) * 4))
    if len(sid) > 32:
        free(b)
        raise ValueError(f"shard id too long: {shard_id}")
    for j in range(n):
        zeros[j] = 0
        seq_offsets[j] = <int32_t>(j * SS_SEQ_LEN)
    seq_offsets[n] = <int32_t>(n * SS_SEQ_LEN)
    memcpy(b.dict_data, <const char *>sid, len(sid))
    b.dict_offsets[0] = 0
    b.dict_offsets[1] = <int32_t>len(sid)
    b.dict_bufs[0] = NULL
    b.dict_bufs[1] = b.dict_offsets
    b.dict_bufs[2] = b.dict_data
    ss_small_init(&b.dict, 1, 3, b.dict_bufs, b, 0)
    b.parent_bufs[0] = NULL
    ss_small_init(&b.parent, n, 1, b.parent_bufs, b, 1)
    b.parent.n_children = 5
    b.parent.children = b.children
    for j in range(5):
        b.children[j] = &b.cols[j]
        b.bufs[j][0] = NULL
    b.bufs[0][1] = zeros
    b.bufs[1][1] = seq_offsets
    b.bufs[1][2] = base + o_seq
    b.bufs[2][1] = base + o_koff
    b.bufs[2][2] = base + o_key
    b.bufs[3][1] = base + o_doff
    b.bufs[3][2] = base
    b.bufs[4][1] = base + o_ts
    ss_small_init(&b.cols[0], n, 2, b.bufs[0], b, 0)
    b.cols[0].dictionary = &b.dict
    ss_small_init(&b.cols[1], n, 3, b.bufs[1], b, 0)
    ss_small_init(&b.cols[2], n, 3, b.bufs[2], b, 0)
    ss_small_init(&b.cols[3], n, 3, b.bufs[3], b, 0)
    ss_small_init(&b.cols[4], n, 2, b.bufs[4], b, 0)
    # On success Arrow owns the block (ss_small_release frees it); on failure it releases it too.
    return pa.RecordBatch._import_from_c(<uintptr_t>&b.parent, RECORD_SCHEMA)


# -- GetRecords entries from a batch (shardstream.records) -----------------------------------------

cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void *PyUnicode_DATA(object)
    object PyUnicode_DecodeASCII(const char *s, Py_ssize_t size, const char *errors)
    dict _PyDict_NewPresized(Py_ssize_t minused)
    int PyDict_SetItem(object d, object k, object v) except -1


import datetime as _dt

import_datetime()
cdef object _EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
cdef str _K_SEQ = "SequenceNumber"
cdef str _K_TS = "ApproximateArrivalTimestamp"
cdef str _K_DATA = "Data"
cdef str _K_KEY = "PartitionKey"


cdef inline object _arrival(int64_t ms):
    """``_EPOCH + timedelta(milliseconds=ms)``, without the keyword call."""
    cdef int64_t days = ms // 86_400_000
    cdef int64_t rem = ms % 86_400_000
    return _EPOCH + timedelta_new(days, rem // 1000, (rem % 1000) * 1000)


cdef inline bint _ascii(const char *s, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint8_t acc = 0
    for i in range(n):
        acc |= <uint8_t>s[i]
    return acc < 0x80


cdef inline object _ascii_str(const char *s, Py_ssize_t n):
    """A str of ``n`` ASCII bytes (checked beforehand)."""
    out = PyUnicode_New(n, 127)
    if n:
        memcpy(PyUnicode_DATA(out), s, n)
    return out


cdef list _FORMAT_COLUMNS = ["sequence_number", "partition_key", "data", "approximate_arrival_timestamp"]
cdef object _FORMAT_TYPES = [RECORD_SCHEMA.field(name).type for name in _FORMAT_COLUMNS]


cdef object _format_columns(batch):
    """``batch`` itself when it has RECORD_SCHEMA, else its four formatted columns in order (checked)."""
    if batch.schema.equals(RECORD_SCHEMA):
        return batch
    try:
        selected = batch.select(_FORMAT_COLUMNS)
    except (KeyError, ValueError) as exc:
        raise ValueError("records_dicts needs RECORD_SCHEMA columns") from exc
    if selected.schema.types != _FORMAT_TYPES:
        raise ValueError("records_dicts needs RECORD_SCHEMA columns")
    return selected


@cython.boundscheck(False)
@cython.wraparound(False)
def records_dicts(batch, bint wire):
    """GetRecords entries (dicts) of a RECORD_SCHEMA batch, read from its Arrow buffers.

    Parameters
    ----------
    batch : pyarrow.RecordBatch
        Columns ``sequence_number`` (string), ``partition_key`` (string),
        ``data`` (binary) and ``approximate_arrival_timestamp`` (timestamp[ms]),
        without nulls; slices are fine, other columns are ignored.
    wire : bool
        Kinesis's JSON form (``Data`` as padded base64 text,
        ``ApproximateArrivalTimestamp`` as epoch seconds, a float) instead of
        boto3's (bytes and a UTC datetime).

    Returns
    -------
    list of dict
        ``{"SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey"}``
        per record, in order; records with the same arrival time share one
        timestamp object.

    Raises
    ------
    ValueError
        A column is missing, has nulls or the wrong type.
    """
    cdef Py_ssize_t n = batch.num_rows
    cdef list out = PyList_New(n)
    if n == 0:
        return out
    columns = _format_columns(batch)
    cdef int base = 1 if columns is batch else 0  # RECORD_SCHEMA's shard_id comes first
    # The buffers' addresses through the C data interface: one call instead of a
    # Python object per column and buffer.  The batch keeps the memory alive.
    cdef ss_ArrowArray exported
    exported.release = NULL
    columns._export_to_c(<uintptr_t>&exported)
    cdef ss_ArrowArray *c_seq = exported.children[base]
    cdef ss_ArrowArray *c_key = exported.children[base + 1]
    cdef ss_ArrowArray *c_data = exported.children[base + 2]
    cdef ss_ArrowArray *c_ts = exported.children[base + 3]
    cdef bint nulls = (c_seq.null_count != 0 and c_seq.buffers[0] != NULL) or (
        c_key.null_count != 0 and c_key.buffers[0] != NULL) or (
        c_data.null_count != 0 and c_data.buffers[0] != NULL) or (
        c_ts.null_count != 0 and c_ts.buffers[0] != NULL)
    cdef Py_ssize_t so = exported.offset + c_seq.offset, ko = exported.offset + c_key.offset
    cdef Py_ssize_t do = exported.offset + c_data.offset, to = exported.offset + c_ts.offset
    cdef const int32_t *seq_off = <const int32_t *>c_seq.buffers[1]
    cdef const char *seq_data = <const char *>c_seq.buffers[2]
    cdef const int32_t *key_off = <const int32_t *>c_key.buffers[1]
    cdef const char *key_data = <const char *>c_key.buffers[2]
    cdef const int32_t *data_off = <const int32_t *>c_data.buffers[1]
    cdef const uint8_t *data_data = <const uint8_t *>c_data.buffers[2]
    cdef const int64_t *ts = <const int64_t *>c_ts.buffers[1]
    exported.release(&exported)
    if nulls and any(columns.column(base + k).null_count for k in range(4)):
        raise ValueError("records_dicts: null values")
    cdef Py_ssize_t i, d0, dn
    cdef int64_t t, last_t = 0
    cdef object when = None
    cdef object data
    cdef dict entry
    cdef const char *empty = b""
    cdef bint seq_ascii, key_ascii
    if data_data == NULL:
        data_data = <const uint8_t *>empty
    if key_data == NULL:
        key_data = empty
    if seq_data == NULL:
        seq_data = empty
    # Sequence numbers are digits and keys mostly ASCII: check each column once, then
    # make its strings by copying.
    with nogil:
        seq_ascii = _ascii(seq_data + seq_off[so], seq_off[so + n] - seq_off[so])
        key_ascii = _ascii(key_data + key_off[ko], key_off[ko + n] - key_off[ko])
    for i in range(n):
        t = ts[to + i]
        if when is None or t != last_t:
            when = (<double>t) / 1000.0 if wire else _arrival(t)
            last_t = t
        d0 = data_off[do + i]
        dn = data_off[do + i + 1] - d0
        if wire:
            data = PyUnicode_New(4 * ((dn + 2) // 3), 127)
            if dn:
                ss_b64_encode(<char *>PyUnicode_DATA(data), data_data + d0, dn)
        else:
            data = PyBytes_FromStringAndSize(<const char *>data_data + d0 if dn else NULL, dn)
        entry = _PyDict_NewPresized(4)
        if seq_ascii:
            PyDict_SetItem(entry, _K_SEQ, _ascii_str(seq_data + seq_off[so + i], seq_off[so + i + 1] - seq_off[so + i]))
        else:
            PyDict_SetItem(entry, _K_SEQ, PyUnicode_DecodeASCII(seq_data + seq_off[so + i],
                                                                seq_off[so + i + 1] - seq_off[so + i], NULL))
        PyDict_SetItem(entry, _K_TS, when)
        PyDict_SetItem(entry, _K_DATA, data)
        if key_ascii:
            PyDict_SetItem(entry, _K_KEY, _ascii_str(key_data + key_off[ko + i], key_off[ko + i + 1] - key_off[ko + i]))
        else:
            PyDict_SetItem(entry, _K_KEY, PyUnicode_DecodeUTF8(key_data + key_off[ko + i],
                                                               key_off[ko + i + 1] - key_off[ko + i], NULL))
        Py_INCREF(entry)  # PyList_SET_ITEM steals a reference
        PyList_SET_ITEM(out, i, entry)
    return out
