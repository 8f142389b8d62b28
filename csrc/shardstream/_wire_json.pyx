# cython: language_level=3
"""Kinesis JSON 1.1 in C: GetRecords' ``Records`` array from Arrow, and PutRecords' base64 blobs.

:func:`records_json` writes ``[{"SequenceNumber": ..., "ApproximateArrivalTimestamp": ...,
"Data": ..., "PartitionKey": ...}, ...]`` straight from a record batch's buffers
(RECORD_SCHEMA): sequence numbers copied, arrival times as epoch seconds with
millisecond precision (the shortest form, as ``repr(ms / 1000)``), data as
standard padded base64, partition keys escaped as orjson escapes them.  The
whole body (a prefix and suffix around the array) is one bytes object, written
with the GIL released; no Python object is made per record.

:func:`decode_base64_texts` decodes many base64 texts at once, accepting
exactly what Kinesis accepts (canonical, padded RFC 4648 base64).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int32_t, int64_t, uint8_t, uintptr_t
from libc.string cimport memcpy

from shardstream.includes.native cimport ss_b64_encode

__all__ = ["decode_base64_texts", "records_json"]

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)

cdef const char *_HEX = b"0123456789abcdef"

cdef const char *_K_SEQ = b'{"SequenceNumber":"'
cdef const char *_K_TS = b'","ApproximateArrivalTimestamp":'
cdef const char *_K_DATA = b',"Data":"'
cdef const char *_K_KEY = b'","PartitionKey":"'
DEF N_SEQ = 19
DEF N_TS = 32
DEF N_DATA = 9
DEF N_KEY = 18


cdef inline char *_put(char *o, const char *s, Py_ssize_t n) noexcept nogil:
    memcpy(o, s, n)
    return o + n


cdef inline char *_escaped(char *o, const uint8_t *s, Py_ssize_t n) noexcept nogil:
    """UTF-8 text as a JSON string body: ``"`` and ``\\`` escaped, control characters as orjson writes them."""
    cdef Py_ssize_t i
    cdef uint8_t c
    for i in range(n):
        c = s[i]
        if c >= 0x20 and c != 34 and c != 92:
            o[0] = <char>c
            o += 1
        elif c == 34 or c == 92:
            o[0] = 92
            o[1] = <char>c
            o += 2
        elif c == 8 or c == 9 or c == 10 or c == 12 or c == 13:
            o[0] = 92
            o[1] = b'b' if c == 8 else b't' if c == 9 else b'n' if c == 10 else b'f' if c == 12 else b'r'
            o += 2
        else:
            o = _put(o, b"\\u00", 4)
            o[0] = _HEX[c >> 4]
            o[1] = _HEX[c & 15]
            o += 2
    return o


cdef inline char *_epoch_seconds(char *o, int64_t ms) noexcept nogil:
    """``ms`` (>= 0) as epoch seconds: ``1700000000.123``, ``1700000000.5``, ``1700000000.0``."""
    cdef char digits[24]
    cdef int k = 0
    cdef int64_t secs = ms // 1000
    cdef int frac = <int>(ms % 1000)
    if secs == 0:
        digits[0] = 48
        k = 1
    while secs > 0:
        digits[k] = <char>(48 + secs % 10)
        secs //= 10
        k += 1
    while k > 0:
        k -= 1
        o[0] = digits[k]
        o += 1
    o[0] = 46  # '.'
    o[1] = <char>(48 + frac // 100)
    o[2] = <char>(48 + (frac // 10) % 10)
    o[3] = <char>(48 + frac % 10)
    if frac % 100 == 0:
        return o + 2
    if frac % 10 == 0:
        return o + 3
    return o + 4


cdef inline Py_ssize_t _escaped_len(const uint8_t *s, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, m = n
    cdef uint8_t c
    for i in range(n):
        c = s[i]
        if c >= 0x20 and c != 34 and c != 92:
            continue
        if c == 34 or c == 92 or c == 8 or c == 9 or c == 10 or c == 12 or c == 13:
            m += 1
        else:
            m += 5
    return m


cdef inline Py_ssize_t _epoch_seconds_len(int64_t ms) noexcept nogil:
    cdef int64_t secs = ms // 1000
    cdef int frac = <int>(ms % 1000)
    cdef Py_ssize_t m = 1
    while secs >= 10:
        secs //= 10
        m += 1
    return m + (2 if frac % 100 == 0 else 3 if frac % 10 == 0 else 4)


cdef inline uintptr_t _address(buf) except? 0:
    return <uintptr_t>buf.address if buf is not None else 0


def records_json(batch, bytes prefix=b"", bytes suffix=b""):
    """``prefix + <the batch's records as a Kinesis JSON array> + suffix``, as bytes.

    Parameters
    ----------
    batch : pyarrow.RecordBatch
        Columns ``sequence_number`` (string), ``partition_key`` (string),
        ``data`` (binary) and ``approximate_arrival_timestamp`` (timestamp[ms]),
        without nulls (RECORD_SCHEMA).
    prefix, suffix : bytes
        Written before and after the array.

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        A column has nulls, the wrong type, or a timestamp before 1970.
    """
    import pyarrow as pa

    seq_col = batch.column(batch.schema.get_field_index("sequence_number"))
    key_col = batch.column(batch.schema.get_field_index("partition_key"))
    data_col = batch.column(batch.schema.get_field_index("data"))
    ts_col = batch.column(batch.schema.get_field_index("approximate_arrival_timestamp"))
    if not (pa.types.is_string(seq_col.type) and pa.types.is_string(key_col.type)
            and pa.types.is_binary(data_col.type) and pa.types.is_timestamp(ts_col.type)
            and ts_col.type.unit == "ms"):
        raise ValueError("records_json needs RECORD_SCHEMA columns")
    if seq_col.null_count or key_col.null_count or data_col.null_count or ts_col.null_count:
        raise ValueError("records_json: null values")
    cdef Py_ssize_t n = batch.num_rows
    cdef const int32_t *seq_off = <const int32_t *>_address(seq_col.buffers()[1])
    cdef const uint8_t *seq_data = <const uint8_t *>_address(seq_col.buffers()[2])
    cdef const int32_t *key_off = <const int32_t *>_address(key_col.buffers()[1])
    cdef const uint8_t *key_data = <const uint8_t *>_address(key_col.buffers()[2])
    cdef const int32_t *data_off = <const int32_t *>_address(data_col.buffers()[1])
    cdef const uint8_t *data_data = <const uint8_t *>_address(data_col.buffers()[2])
    cdef const int64_t *ts = <const int64_t *>_address(ts_col.buffers()[1])
    cdef Py_ssize_t so = seq_col.offset, ko = key_col.offset, do = data_col.offset, to = ts_col.offset
    cdef Py_ssize_t i, size = 2, d0, d1
    cdef bint negative = False
    with nogil:  # the exact size first, so the body is written once into its final bytes object
        for i in range(n):
            if ts[to + i] < 0:
                negative = True
                break
            d1 = data_off[do + i + 1] - data_off[do + i]
            size += (
                N_SEQ + N_TS + N_DATA + N_KEY + 3
                + (seq_off[so + i + 1] - seq_off[so + i])
                + _epoch_seconds_len(ts[to + i])
                + 4 * ((d1 + 2) // 3)
                + _escaped_len(key_data + key_off[ko + i], key_off[ko + i + 1] - key_off[ko + i])
            )
    if negative:
        raise ValueError("records_json: arrival time before 1970")
    if n:
        size -= 1  # no comma after the last record
    cdef Py_ssize_t np_ = len(prefix), ns = len(suffix)
    out = PyBytes_FromStringAndSize(NULL, np_ + size + ns)
    cdef char *start = PyBytes_AS_STRING(out)
    cdef char *o = _put(start, prefix, np_)
    cdef const char *suffix_p = suffix
    with nogil:
        o[0] = 91  # '['
        o += 1
        for i in range(n):
            if i:
                o[0] = 44  # ','
                o += 1
            o = _put(o, _K_SEQ, N_SEQ)
            o = _put(o, <const char *>seq_data + seq_off[so + i], seq_off[so + i + 1] - seq_off[so + i])
            o = _put(o, _K_TS, N_TS)
            o = _epoch_seconds(o, ts[to + i])
            o = _put(o, _K_DATA, N_DATA)
            d0 = data_off[do + i]
            d1 = data_off[do + i + 1]
            o = ss_b64_encode(o, data_data + d0, d1 - d0)
            o = _put(o, _K_KEY, N_KEY)
            o = _escaped(o, key_data + key_off[ko + i], key_off[ko + i + 1] - key_off[ko + i])
            o[0] = 34  # '"'
            o[1] = 125  # '}'
            o += 2
        o[0] = 93  # ']'
        o += 1
        o = _put(o, suffix_p, ns)
    if o - start != np_ + size + ns:  # pragma: no cover - the sizing pass and the writer disagree
        raise SystemError(f"records_json wrote {o - start} bytes, sized {np_ + size + ns}")
    return out


cdef const char *_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
cdef signed char _B64_VALUE[256]


cdef void _init_table() noexcept:
    cdef int i
    for i in range(256):
        _B64_VALUE[i] = -1
    for i in range(64):
        _B64_VALUE[<uint8_t>_B64[i]] = <signed char>i


_init_table()


cdef object _decode_one(const uint8_t *s, Py_ssize_t n):
    """Canonical padded base64 -> bytes; None if Kinesis would refuse it."""
    cdef Py_ssize_t pads = 0, q, full
    cdef int a, b, c, d
    cdef unsigned int v
    if n % 4:
        return None
    if n and s[n - 1] == 61:
        pads = 2 if s[n - 2] == 61 else 1
    out = PyBytes_FromStringAndSize(NULL, n // 4 * 3 - pads)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    full = n // 4 - (1 if pads else 0)
    for q in range(full):
        a = _B64_VALUE[s[0]]
        b = _B64_VALUE[s[1]]
        c = _B64_VALUE[s[2]]
        d = _B64_VALUE[s[3]]
        if (a | b | c | d) < 0:
            return None
        v = (<unsigned int>a << 18) | (<unsigned int>b << 12) | (<unsigned int>c << 6) | <unsigned int>d
        o[0] = <uint8_t>(v >> 16)
        o[1] = <uint8_t>(v >> 8)
        o[2] = <uint8_t>v
        o += 3
        s += 4
    if pads == 1:
        a = _B64_VALUE[s[0]]
        b = _B64_VALUE[s[1]]
        c = _B64_VALUE[s[2]]
        if (a | b | c) < 0 or c & 3:
            return None
        o[0] = <uint8_t>((a << 2) | (b >> 4))
        o[1] = <uint8_t>(((b & 15) << 4) | (c >> 2))
    elif pads == 2:
        a = _B64_VALUE[s[0]]
        b = _B64_VALUE[s[1]]
        if (a | b) < 0 or b & 15:
            return None
        o[0] = <uint8_t>((a << 2) | (b >> 4))
    return out


def decode_base64_texts(list texts):
    """Decode a list of base64 texts; None if any is not canonical padded base64 (or not a str).

    Parameters
    ----------
    texts : list of str

    Returns
    -------
    list of bytes or None
        None leaves the wording of the error to the caller's exact path.
    """
    cdef Py_ssize_t i, n = len(texts)
    cdef list out = [None] * n
    for i in range(n):
        text = texts[i]
        if type(text) is not str or not PyUnicode_IS_ASCII(text):
            return None
        blob = _decode_one(<const uint8_t *>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text))
        if blob is None:
            return None
        out[i] = blob
    return out
