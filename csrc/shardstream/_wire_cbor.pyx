# cython: language_level=3
"""Kinesis CBOR 1.1 bodies in C.

:func:`decode_request` reads any well-formed request body (tags such as AWS's
tag-1 timestamps, indefinite lengths, half floats, simple values) straight
into the JSON form validation takes, agreeing with the Python reference
(:func:`shardstream.server.codec.decode_cbor` then ``cbor_to_json_form``);
malformed input raises :class:`Malformed`.  :func:`encode_plain` writes
responses.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.math cimport INFINITY, NAN, ldexp
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

from base64 import b64encode

__all__ = ["Malformed", "decode_request", "encode_plain"]

DEF MAX_DEPTH = 64


class _NotPlain(Exception):
    """A value the C encoder leaves to the general one (datetimes, non-finite floats, ...)."""


# -- the exact decoder -----------------------------------------------------------------------------

from cpython.long cimport PyLong_CheckExact
from cpython.float cimport PyFloat_CheckExact

DEF YIELD_EVERY = 16384  # items between two chances for other threads (the event loop) to take the GIL


class Malformed(ValueError):
    """The body is not well-formed CBOR (or nests deeper than 64 levels)."""


cdef struct _Exact:
    const uint8_t *buf
    Py_ssize_t n
    Py_ssize_t pos
    bint raw_data  # byte strings under "Data" keys stay bytes
    Py_ssize_t items
    bint epoch  # the item just read is a tag-1 number already made seconds


cdef object _BREAK_ITEM = object()


cdef double _half(uint16_t h):
    """An IEEE 754 half-precision float as a double (RFC 8949 appendix D)."""
    cdef int exp = (h >> 10) & 0x1F
    cdef int mant = h & 0x3FF
    cdef double val
    if exp == 0:
        val = ldexp(mant, -24)
    elif exp != 31:
        val = ldexp(mant + 1024, exp - 25)
    elif mant == 0:
        val = INFINITY
    else:
        val = NAN
    return -val if h & 0x8000 else val


cdef uint64_t _exact_arg(_Exact *st, uint8_t info) except? 0xFFFFFFFFFFFFFFFF:
    cdef uint64_t v = 0
    cdef int size, i
    if info < 24:
        return info
    if info > 27:
        raise Malformed()
    size = 1 << (info - 24)
    if st.pos + size > st.n:
        raise Malformed()
    for i in range(size):
        v = (v << 8) | st.buf[st.pos + i]
    st.pos += size
    return v


cdef object _exact_string(_Exact *st, uint8_t major, uint8_t info):
    """A definite or indefinite (chunked) byte or text string, as bytes."""
    cdef uint64_t arg
    cdef uint8_t head
    cdef Py_ssize_t start
    if info != 31:
        arg = _exact_arg(st, info)
        if arg > <uint64_t>(st.n - st.pos):
            raise Malformed()
        start = st.pos
        st.pos += <Py_ssize_t>arg
        return PyBytes_FromStringAndSize(<const char *>st.buf + start, <Py_ssize_t>arg)
    chunks = []
    while True:
        if st.pos >= st.n:
            raise Malformed()
        head = st.buf[st.pos]
        st.pos += 1
        if head == 0xFF:
            return b"".join(chunks)
        if head >> 5 != major or (head & 31) == 31:  # chunks are definite strings of the same type
            raise Malformed()
        chunks.append(_exact_string(st, major, head & 31))


cdef object _exact_item(_Exact *st, int depth, bint under_data, bint is_key):
    cdef uint8_t head, major, info
    cdef uint64_t arg, bits
    cdef uint32_t bits32
    cdef uint16_t bits16
    cdef double d
    cdef float f
    cdef Py_ssize_t i, count
    cdef bint indefinite
    if depth > MAX_DEPTH or st.pos >= st.n:
        raise Malformed()
    st.epoch = False
    st.items += 1
    if st.items % YIELD_EVERY == 0:
        with nogil:
            pass  # lets a thread waiting for the GIL (the event loop) run
    head = st.buf[st.pos]
    st.pos += 1
    major = head >> 5
    info = head & 31
    if major == 7:
        if info == 20:
            return False
        if info == 21:
            return True
        if info < 24:  # null, undefined and the unassigned simple values
            return None
        if info == 25:
            if st.pos + 2 > st.n:
                raise Malformed()
            bits16 = (st.buf[st.pos] << 8) | st.buf[st.pos + 1]
            st.pos += 2
            return _half(bits16)
        if info == 26:
            if st.pos + 4 > st.n:
                raise Malformed()
            bits32 = 0
            for i in range(4):
                bits32 = (bits32 << 8) | st.buf[st.pos + i]
            st.pos += 4
            memcpy(&f, &bits32, 4)
            return <double>f
        if info == 27:
            if st.pos + 8 > st.n:
                raise Malformed()
            bits = 0
            for i in range(8):
                bits = (bits << 8) | st.buf[st.pos + i]
            st.pos += 8
            memcpy(&d, &bits, 8)
            return d
        if info == 31:
            return _BREAK_ITEM
        raise Malformed()  # a one-byte simple value, or reserved
    if major == 3 and info != 31:  # a definite text string: decoded in place (most of a body)
        arg = _exact_arg(st, info)
        if arg > <uint64_t>(st.n - st.pos):
            raise Malformed()
        st.pos += <Py_ssize_t>arg
        return PyUnicode_DecodeUTF8(<const char *>st.buf + st.pos - <Py_ssize_t>arg, <Py_ssize_t>arg, "strict")
    if major == 2:
        value = _exact_string(st, 2, info)
        if is_key or (under_data and st.raw_data):
            return value
        return b64encode(value).decode("ascii")  # the JSON form of a blob
    if major == 3:
        return _exact_string(st, 3, info).decode("utf-8")
    indefinite = info == 31 and (major == 4 or major == 5)
    arg = 0 if indefinite else _exact_arg(st, info)
    if major == 0:
        return PyLong_FromUnsignedLongLong(arg)
    if major == 1:
        if arg < (<uint64_t>1 << 63):
            return PyLong_FromLongLong(-1 - <int64_t>arg)
        return -1 - PyLong_FromUnsignedLongLong(arg)
    if major == 6:  # a tag: 1 is AWS's epoch milliseconds, read as seconds; others are their content
        value = _exact_item(st, depth + 1, under_data, is_key)
        if value is _BREAK_ITEM:
            raise Malformed()
        if arg == 1 and not st.epoch and (PyLong_CheckExact(value) or PyFloat_CheckExact(value)):
            st.epoch = True  # made seconds once, however many tags 1 wrap it
            return value / 1000
        return value
    if not indefinite and arg > <uint64_t>(st.n - st.pos):  # every item takes at least one byte
        raise Malformed()
    count = <Py_ssize_t>arg
    if major == 4:
        if not indefinite:
            out = [None] * count
            for i in range(count):
                item = _exact_item(st, depth + 1, False, False)
                if item is _BREAK_ITEM:
                    raise Malformed()
                out[i] = item
            return out
        out = []
        while True:
            item = _exact_item(st, depth + 1, False, False)
            if item is _BREAK_ITEM:
                return out
            out.append(item)
    # major 5: a map
    result = {}
    i = 0
    while indefinite or i < count:
        key = _exact_item(st, depth + 1, False, True)
        if key is _BREAK_ITEM:
            if indefinite:
                return result
            raise Malformed()
        if type(key) is list or type(key) is dict:
            raise Malformed()
        value = _exact_item(st, depth + 1, type(key) is str and key == "Data", False)
        if value is _BREAK_ITEM:
            raise Malformed()
        result[key] = value
        i += 1
    return result


def decode_request(const uint8_t[::1] body, bint raw_data=False):
    """A CBOR request body in the JSON form validation takes (spec 2.2), in C.

    Reads all of RFC 8949's basic items, definite and indefinite lengths,
    half, single and double floats, and tags: tag 1 (AWS's epoch
    *milliseconds*) becomes epoch seconds, as a JSON body carries them; any
    other tag is its content.  Byte strings become base64 text (as in a JSON
    body), except map keys and, with ``raw_data``, the values of ``"Data"``
    keys (Kinesis's blobs), which stay bytes.  Every few thousand items the
    GIL is let go for a moment, so a thread decoding a 7 MB body does not
    starve the event loop.

    Parameters
    ----------
    body : bytes-like
    raw_data : bool
        Keep ``"Data"`` byte strings as bytes.

    Returns
    -------
    object
        The decoded value.

    Raises
    ------
    Malformed
        (a ValueError) Not one well-formed CBOR item, or nested deeper than 64.
    """
    cdef _Exact st
    st.n = body.shape[0]
    if st.n == 0:
        raise Malformed()
    st.buf = &body[0]
    st.pos = 0
    st.raw_data = raw_data
    st.items = 0
    try:
        value = _exact_item(&st, 0, False, False)
    except (UnicodeDecodeError, RecursionError, TypeError):  # TypeError: an unhashable key
        raise Malformed() from None
    if value is _BREAK_ITEM or st.pos != st.n:
        raise Malformed()
    return value


# -- encoding ------------------------------------------------------------------------------

from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef struct _Out:
    uint8_t *buf
    Py_ssize_t size
    Py_ssize_t cap


cdef int _reserve(_Out *o, Py_ssize_t more) except -1:
    cdef Py_ssize_t cap
    cdef uint8_t *grown
    if o.size + more <= o.cap:
        return 0
    cap = max(o.cap * 2, o.size + more + 256)
    grown = <uint8_t *>PyMem_Realloc(o.buf, cap)
    if grown == NULL:
        raise MemoryError()
    o.buf = grown
    o.cap = cap
    return 0


cdef int _head(_Out *o, uint8_t major, uint64_t arg) except -1:
    cdef int size, i
    _reserve(o, 9)
    if arg < 24:
        o.buf[o.size] = (major << 5) | <uint8_t>arg
        o.size += 1
        return 0
    if arg < 0x100:
        size, o.buf[o.size] = 1, (major << 5) | 24
    elif arg < 0x10000:
        size, o.buf[o.size] = 2, (major << 5) | 25
    elif arg < 0x100000000:
        size, o.buf[o.size] = 4, (major << 5) | 26
    else:
        size, o.buf[o.size] = 8, (major << 5) | 27
    o.size += 1
    for i in range(size):
        o.buf[o.size + i] = <uint8_t>(arg >> (8 * (size - 1 - i)))
    o.size += size
    return 0


cdef int _raw(_Out *o, uint8_t major, const char *p, Py_ssize_t n) except -1:
    _head(o, major, <uint64_t>n)
    _reserve(o, n)
    memcpy(o.buf + o.size, p, n)
    o.size += n
    return 0


cdef int _encode(_Out *o, object value, int depth) except -1:
    cdef Py_ssize_t n
    cdef const char *p
    cdef double d
    cdef uint64_t bits
    cdef int i
    if depth > MAX_DEPTH:
        raise _NotPlain()
    t = type(value)
    if t is str:
        p = PyUnicode_AsUTF8AndSize(value, &n)
        return _raw(o, 3, p, n)
    if t is dict:
        _head(o, 5, <uint64_t>len(<dict>value))
        for k, v in (<dict>value).items():
            _encode(o, k, depth + 1)
            _encode(o, v, depth + 1)
        return 0
    if t is list or t is tuple:
        _head(o, 4, <uint64_t>len(value))
        for v in value:
            _encode(o, v, depth + 1)
        return 0
    if t is bool:
        _reserve(o, 1)
        o.buf[o.size] = 0xF5 if value else 0xF4
        o.size += 1
        return 0
    if value is None:
        _reserve(o, 1)
        o.buf[o.size] = 0xF6
        o.size += 1
        return 0
    if t is int:
        if 0 <= value <= 0xFFFFFFFFFFFFFFFF:
            return _head(o, 0, <uint64_t>value)
        if -0x10000000000000000 <= value < 0:
            return _head(o, 1, <uint64_t>(-1 - value))
        raise _NotPlain()
    if t is bytes:
        return _raw(o, 2, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
    if t is float:
        d = value
        if d != d or d == float("inf") or d == -float("inf"):
            raise _NotPlain()  # cbor2 writes these as half floats
        memcpy(&bits, &d, 8)
        _reserve(o, 9)
        o.buf[o.size] = 0xFB
        for i in range(8):
            o.buf[o.size + 1 + i] = <uint8_t>(bits >> (8 * (7 - i)))
        o.size += 9
        return 0
    raise _NotPlain()  # datetimes and anything else: the general encoder


def encode_plain(value):
    """``value`` as CBOR if it holds only dicts, lists, str, bytes, int, float, bool and None; else None.

    Floats are written as doubles and integers in their shortest form, as
    cbor2 writes them by default.
    """
    cdef _Out o
    o.buf = NULL
    o.size = 0
    o.cap = 0
    try:
        _encode(&o, value, 0)
        return PyBytes_FromStringAndSize(<const char *>o.buf, o.size)
    except _NotPlain:
        return None
    finally:
        PyMem_Free(o.buf)
