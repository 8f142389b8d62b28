# cython: language_level=3
"""Encode a run of a shard's ring as one segment batch: an Arrow IPC message and its CRC-32.

The durable store writes what a ring holds to the shard's segment file
(:mod:`shardstream.storage.format`).  A small flush, such as one ``sync``
put's, spent most of its time building a pyarrow batch, cutting its buffers
and serialising it.  :func:`encode_run` writes the message's bytes straight
from the ring instead: the body is laid out as Arrow's IPC writer lays it
out (each buffer 8-byte aligned), copied under the shard's lock with the GIL
released, its CRC-32 taken as :func:`~shardstream.storage.format.batch_crc32`
takes it, and the flatbuffer metadata written by ``ss_ipc.h``.  The result
reads back through pyarrow as the same batch the pyarrow path writes.

The shard_id dictionary is not in the message: the segment writer has
written it before (a dictionary message precedes the first batch of every
IPC stream).
"""
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize

from shardstream._shardlog cimport ShardLog
from shardstream.includes.native cimport (
    SS_SEQ_LEN, ss_ring_copy_run, ss_ring_doff, ss_ring_koff, ss_ring_span, ss_ring_trim_expired,
    ss_seq_format_run,
)


cdef extern from "ss_ipc.h" nogil:
    enum: SS_IPC_METADATA_MAX
    void ss_crc32_init()
    uint32_t ss_crc32(uint32_t crc, const uint8_t *p, size_t n)
    size_t ss_ipc_batch_metadata(uint8_t *out, int64_t length, int nnodes, const int64_t *buffers, int nbufs,
                                 int64_t body_length, const char *key, size_t klen, const char *value, size_t vlen)

ss_crc32_init()

DEF NODES = 6     # shard_id, sequence_number, partition_key, data, approximate_arrival_timestamp, counter
DEF BUFFERS = 15  # validity (always empty) + values per column; offsets too for the three variable ones
DEF MAX_ROWS = 1 << 24  # keeps every offset inside int32
DEF LARGE_BODY = 32768  # from this size a given crc32_function takes the CRC
#: Which of the BUFFERS are validity bitmaps (absent: no column has nulls).
cdef uint32_t _VALIDITY = (1 << 0) | (1 << 2) | (1 << 5) | (1 << 8) | (1 << 11) | (1 << 13)

cdef bytes _CRC_KEY = b"shardstream.crc32"
cdef const uint8_t *_ABSENT = <const uint8_t *>b"\x00"  # what an absent buffer adds to the CRC


def crc32(data, uint32_t crc=0):
    """zlib's CRC-32 of ``data`` (a bytes-like object), extending ``crc``: what :func:`encode_run` uses.

    Parameters
    ----------
    data : bytes-like
    crc : int
        The CRC of what came before (0 to begin).

    Returns
    -------
    int
    """
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    if view.shape[0] == 0:
        return crc
    return ss_crc32(crc, &view[0], view.shape[0])


cdef inline uint64_t _align8(uint64_t n) noexcept nogil:
    return (n + 7) & ~(<uint64_t>7)


cdef uint32_t _crc(uint8_t **p, const uint64_t *sizes, const uint8_t *sid_p, size_t sid_len,
                   const int32_t *dict_offsets) noexcept nogil:
    cdef int i
    cdef uint32_t crc = ss_crc32(0, _ABSENT, 1)
    crc = ss_crc32(crc, p[1], sizes[1])
    crc = ss_crc32(crc, _ABSENT, 1)
    crc = ss_crc32(crc, <const uint8_t *>dict_offsets, 8)
    crc = ss_crc32(crc, sid_p, sid_len)
    for i in range(2, BUFFERS):
        if _VALIDITY >> i & 1:
            crc = ss_crc32(crc, _ABSENT, 1)
        else:
            crc = ss_crc32(crc, p[i], sizes[i])
    return crc


cdef uint32_t _crc_by(crc32_function, bytes body, const int64_t *spans, bytes sid, const int32_t *dict_offsets):
    """:func:`_crc` with ``crc32_function`` doing the work (the same bytes in the same order)."""
    cdef int i
    view = memoryview(body)
    crc = crc32_function(b"\x00")
    crc = crc32_function(view[spans[2]:spans[2] + spans[3]], crc)
    crc = crc32_function(b"\x00", crc)
    crc = crc32_function((<const char *>dict_offsets)[:8], crc)
    crc = crc32_function(sid, crc)
    for i in range(2, BUFFERS):
        if _VALIDITY >> i & 1:
            crc = crc32_function(b"\x00", crc)
        else:
            crc = crc32_function(view[spans[2 * i]:spans[2 * i] + spans[2 * i + 1]], crc)
    return crc


def encode_run(ShardLog log not None, uint64_t start, uint64_t limit, uint64_t max_data_bytes, int64_t now_ms,
               crc32_function=None):
    """One IPC record-batch message holding up to ``limit`` records of ``log`` from counter ``start``.

    Reads as :func:`~shardstream._native.read_arrow_batch` does with
    ``unpublished=True`` (expired records trimmed first, a ``start`` behind
    the trim horizon moved up), in the stored schema: the record columns,
    then ``counter``.

    Parameters
    ----------
    log, start, limit, max_data_bytes, now_ms
        As for ``read_arrow_batch``: the shard, the first counter, most
        records, most data bytes (one record at least), the current time.
    crc32_function : callable, optional
        ``zlib.crc32``'s signature: takes the CRC of a body of 32 KiB or more
        (a faster one than this module's, such as ISA-L's, pays off there).

    Returns
    -------
    tuple or None
        None when no record is there; else ``(metadata, body, rows, first,
        first_arrival_ms, last_arrival_ms, crc)``: the message is
        ``metadata + body`` (both ``bytes``, each a multiple of 8 long), its
        records have counters ``first`` to ``first + rows - 1``, and ``crc``
        is the CRC-32 its custom metadata holds.
    """
    cdef uint64_t n, end, dbytes, kbytes, j
    cdef uint64_t sizes[BUFFERS]
    cdef int64_t spans[2 * BUFFERS]
    cdef uint64_t body_len, off
    cdef int i
    cdef uint8_t *body_p
    cdef uint8_t *p[BUFFERS]
    cdef int32_t *offs
    cdef int64_t *ts
    cdef uint64_t *counters
    cdef uint32_t crc
    cdef int32_t dict_offsets[2]
    cdef bytes sid = log.shard_id.encode("ascii")
    cdef const uint8_t *sid_p = <const uint8_t *>PyBytes_AS_STRING(sid)
    cdef size_t sid_len = len(sid)
    cdef size_t meta_len
    if limit > MAX_ROWS:
        limit = MAX_ROWS
    if max_data_bytes > (1 << 31) - 1:
        max_data_bytes = (1 << 31) - 1
    while True:
        # Size the run under the lock, allocate without it, copy under it if the run is still there.
        log.acquire()
        ss_ring_trim_expired(&log.ring, now_ms)
        if start < log.ring.head:
            start = log.ring.head
        n = ss_ring_span(&log.ring, start, limit, max_data_bytes, log.ring.tail)
        end = start + n
        if n:
            dbytes = ss_ring_doff(&log.ring, end) - ss_ring_doff(&log.ring, start)
            kbytes = ss_ring_koff(&log.ring, end) - ss_ring_koff(&log.ring, start)
        log.release()
        if n == 0:
            return None
        sizes[0] = 0; sizes[1] = n * 4                                   # shard_id: validity, indices
        sizes[2] = 0; sizes[3] = (n + 1) * 4; sizes[4] = n * SS_SEQ_LEN  # sequence_number
        sizes[5] = 0; sizes[6] = (n + 1) * 4; sizes[7] = kbytes          # partition_key
        sizes[8] = 0; sizes[9] = (n + 1) * 4; sizes[10] = dbytes         # data
        sizes[11] = 0; sizes[12] = n * 8                                  # approximate_arrival_timestamp
        sizes[13] = 0; sizes[14] = n * 8                                  # counter
        off = 0
        for i in range(BUFFERS):
            spans[2 * i] = <int64_t>off
            spans[2 * i + 1] = <int64_t>sizes[i]
            off += _align8(sizes[i])
        body_len = off
        body = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>body_len)
        body_p = <uint8_t *>PyBytes_AS_STRING(body)
        for i in range(BUFFERS):
            p[i] = body_p + spans[2 * i]
        log.acquire()
        if log.ring.head > start or log.ring.tail < end:
            log.release()  # some of the run is gone: size it again
            continue
        with nogil:
            ts = <int64_t *>p[12]
            ss_ring_copy_run(&log.ring, start, n, p[10], <int32_t *>p[9], p[7], <int32_t *>p[6], ts)
        log.release()
        break
    with nogil:
        ss_seq_format_run(<char *>p[4], log.created_s, log.shard_index, start, ts, n)
        memset(p[1], 0, n * 4)
        offs = <int32_t *>p[3]
        for j in range(n + 1):
            offs[j] = <int32_t>(j * SS_SEQ_LEN)
        counters = <uint64_t *>p[14]
        for j in range(n):
            counters[j] = start + j
        for i in range(BUFFERS):  # the padding after each buffer
            memset(p[i] + sizes[i], 0, _align8(sizes[i]) - sizes[i])
    # The CRC of batch_crc32: column by column, an absent buffer as one zero byte, the dictionary after the indices.
    dict_offsets[0] = 0
    dict_offsets[1] = <int32_t>sid_len
    if crc32_function is not None and body_len >= LARGE_BODY:
        crc = _crc_by(crc32_function, body, spans, sid, dict_offsets)
    else:
        with nogil:
            crc = _crc(p, sizes, sid_p, sid_len, dict_offsets)
    value = str(crc).encode("ascii")
    metadata = PyBytes_FromStringAndSize(NULL, SS_IPC_METADATA_MAX)
    meta_len = ss_ipc_batch_metadata(
        <uint8_t *>PyBytes_AS_STRING(metadata), <int64_t>n, NODES, spans, BUFFERS, <int64_t>body_len,
        PyBytes_AS_STRING(_CRC_KEY), len(_CRC_KEY), PyBytes_AS_STRING(value), len(value),
    )
    return metadata[:meta_len], body, n, start, ts[0], ts[n - 1], crc
