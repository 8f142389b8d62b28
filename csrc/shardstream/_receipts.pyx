# cython: language_level=3
"""Receipt handles made and checked in C, a whole batch per call, with the GIL released.

A handle is the URL-safe base64 (no padding: 42 bytes, 56 characters) of a
29-byte big-endian body ``queue (u64) | kind (u8) | shard (u32) | counter (u64)
| nonce (u64)`` and a 13-byte tag: the first 13 bytes of the body's
SipHash-2-4-128 under a 16-byte key (``ss_siphash.h``).

:func:`encode_handles` writes a batch of handles straight into the buffers of a
``pyarrow.StringArray`` (every handle 56 characters, so offsets are ``i * 56``).
:func:`decode_handles` reads a list of str, or a pyarrow string array (chunked
or not), and returns which handles are genuine and their bodies; a malformed
handle (not a str, a null, the wrong length, a byte outside the alphabet, the
wrong tag) is simply not genuine: it never raises.  :func:`siphash24` is the
hash alone (for tests against the published vectors).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t, uintptr_t
from libc.string cimport memcpy, memset

import numpy as np
import pyarrow as pa

__all__ = ["BODY_BYTES", "HANDLE_CHARS", "KEY_BYTES", "TAG_BYTES", "decode_handles", "encode_handles", "siphash24"]

cdef extern from "Python.h":
    bint PyUnicode_Check(object)
    bint PyUnicode_IS_ASCII(object)
    void *PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)

cdef extern from "ss_siphash.h" nogil:
    uint64_t ss_load_le64(const uint8_t *p)
    void ss_siphash24(const uint8_t *data, uint64_t length, uint64_t k0, uint64_t k1, uint8_t *out, int outlen)
    void ss_b64url_encode_groups(char *o, const uint8_t *s, int64_t n)
    int ss_b64url_decode_groups(uint8_t *o, const uint8_t *s, int64_t n, const int8_t *values)
    const int8_t *ss_b64url_values()

DEF C_BODY = 29
DEF C_TAG = 13
DEF C_RAW = 42
DEF C_CHARS = 56

#: Bytes of a handle's body (queue, kind, shard, counter, nonce).
BODY_BYTES = C_BODY
#: Bytes of a handle's tag (truncated SipHash-2-4-128).
TAG_BYTES = C_TAG
#: Characters of a handle (URL-safe base64 of body and tag, no padding).
HANDLE_CHARS = C_CHARS
#: Bytes of the key.
KEY_BYTES = 16

cdef const int8_t *_VALUES = ss_b64url_values()  # filled here, under the GIL, before any nogil use
_MAX_HANDLES = (2**31 - 1) // C_CHARS  # int32 offsets


cdef inline void _put_be(uint8_t *o, uint64_t v, int n) noexcept nogil:
    cdef int i
    for i in range(n):
        o[i] = <uint8_t>(v >> (8 * (n - 1 - i)))


cdef inline void _split_key(bytes key, uint64_t *k0, uint64_t *k1) except *:
    if len(key) != 16:
        raise ValueError(f"the key must be 16 bytes, not {len(key)}")
    cdef const uint8_t *k = <const uint8_t *>PyBytes_AS_STRING(key)
    k0[0] = ss_load_le64(k)
    k1[0] = ss_load_le64(k + 8)


cdef inline uintptr_t _address(buf) except? 0:
    return <uintptr_t>buf.address if buf is not None else 0


def siphash24(bytes key, data, int digest_size=16):
    """SipHash-2-4 of ``data`` under ``key``.

    Parameters
    ----------
    key : bytes
        16 bytes.
    data : bytes-like
    digest_size : {16, 8}
        The 128-bit or the 64-bit output form.

    Returns
    -------
    bytes
        ``digest_size`` bytes (the 64-bit form's output is its integer, little-endian).
    """
    cdef uint64_t k0, k1
    _split_key(key, &k0, &k1)
    if digest_size != 8 and digest_size != 16:
        raise ValueError("digest_size must be 8 or 16")
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    out = PyBytes_FromStringAndSize(NULL, digest_size)
    cdef uint8_t *o = <uint8_t *>PyBytes_AS_STRING(out)
    cdef const uint8_t *p = &view[0] if view.shape[0] else <const uint8_t *>b""
    with nogil:
        ss_siphash24(p, view.shape[0], k0, k1, o, digest_size)
    return out


def encode_handles(bytes key, uint64_t queue, int kind, uint32_t shard, counters, nonces):
    """The handles of deliveries ``counters`` of one shard with ``nonces``, as one string array.

    Parameters
    ----------
    key : bytes
        16 bytes.
    queue : int
        The queue's serial (0 to 2**64 - 1).
    kind : int
        0 (normal) or 1 (dead letter); 0 to 255.
    shard : int
        The shard's index (0 to 2**32 - 1).
    counters, nonces : array-like of int64
        One per handle, the same length.

    Returns
    -------
    pyarrow.StringArray
        ``HANDLE_CHARS`` characters each, no nulls.
    """
    cdef uint64_t k0, k1
    _split_key(key, &k0, &k1)
    if not 0 <= kind <= 255:
        raise ValueError(f"kind must be 0 to 255, not {kind}")
    cdef const int64_t[::1] cs = np.ascontiguousarray(counters, np.int64)
    cdef const int64_t[::1] ns = np.ascontiguousarray(nonces, np.int64)
    cdef Py_ssize_t i, n = cs.shape[0]
    if ns.shape[0] != n:
        raise ValueError(f"{n} counters but {ns.shape[0]} nonces")
    if n > _MAX_HANDLES:
        raise ValueError(f"at most {_MAX_HANDLES} handles at once")
    data = pa.allocate_buffer(n * C_CHARS)
    offsets = pa.allocate_buffer((n + 1) * 4)
    cdef char *text = <char *>_address(data)
    cdef int32_t *off = <int32_t *>_address(offsets)
    cdef uint8_t raw[C_RAW]
    cdef uint8_t tag[16]
    cdef uint8_t k8 = <uint8_t>kind
    with nogil:
        _put_be(raw, queue, 8)
        raw[8] = k8
        _put_be(raw + 9, shard, 4)
        for i in range(n):
            _put_be(raw + 13, <uint64_t>cs[i], 8)
            _put_be(raw + 21, <uint64_t>ns[i], 8)
            ss_siphash24(raw, C_BODY, k0, k1, tag, 16)
            memcpy(raw + C_BODY, tag, C_TAG)
            ss_b64url_encode_groups(text + i * C_CHARS, raw, C_RAW)
            off[i] = <int32_t>(i * C_CHARS)
        off[n] = <int32_t>(n * C_CHARS)
    return pa.StringArray.from_buffers(n, offsets, data)


cdef Py_ssize_t _gather_arrow(array, uint8_t *text, uint8_t *candidate, Py_ssize_t at) except -1:
    """Copy the ``HANDLE_CHARS``-byte values of one string array to ``text`` from row ``at``; mark them."""
    cdef Py_ssize_t i, n = len(array), start, length, base = array.offset
    buffers = array.buffers()
    cdef const uint8_t *valid = <const uint8_t *>_address(buffers[0])
    cdef const uint8_t *data = <const uint8_t *>_address(buffers[2])
    cdef const int32_t *off32 = NULL
    cdef const int64_t *off64 = NULL
    if pa.types.is_large_string(array.type):
        off64 = <const int64_t *>_address(buffers[1])
    else:
        off32 = <const int32_t *>_address(buffers[1])
    with nogil:
        for i in range(n):
            if valid != NULL and not (valid[(base + i) >> 3] >> ((base + i) & 7)) & 1:
                continue
            if off64 != NULL:
                start = off64[base + i]
                length = off64[base + i + 1] - start
            else:
                start = off32[base + i]
                length = off32[base + i + 1] - start
            if length == C_CHARS:
                memcpy(text + (at + i) * C_CHARS, data + start, C_CHARS)
                candidate[at + i] = 1
    return at + n


def decode_handles(bytes key, handles):
    """Which of ``handles`` are genuine under ``key``, and their bodies.

    Parameters
    ----------
    key : bytes
        16 bytes.
    handles : list of str, or pyarrow (chunked) array of string or large_string
        Anything else in a list, a null, or a malformed text is simply not genuine.

    Returns
    -------
    (numpy.ndarray of bool, numpy.ndarray of uint8 with shape (n, BODY_BYTES))
        Per handle: genuine or not, and its body (zeros where not genuine).
    """
    cdef uint64_t k0, k1
    _split_key(key, &k0, &k1)
    cdef Py_ssize_t i, n, at
    arrow = isinstance(handles, (pa.Array, pa.ChunkedArray))
    if arrow:
        if not (pa.types.is_string(handles.type) or pa.types.is_large_string(handles.type)):
            raise TypeError(f"handles must be strings, not {handles.type}")
    elif not isinstance(handles, list):
        handles = list(handles)
    n = len(handles)
    ok_array = np.zeros(n, np.bool_)
    bodies_array = np.zeros((n, C_BODY), np.uint8)
    text_bytes = PyBytes_FromStringAndSize(NULL, n * C_CHARS)
    cdef uint8_t *text = <uint8_t *>PyBytes_AS_STRING(text_bytes)
    cdef uint8_t[::1] ok = ok_array.view(np.uint8)
    cdef uint8_t[:, ::1] bodies = bodies_array
    cdef uint8_t *okp = &ok[0] if n else NULL
    if arrow:
        at = 0
        for chunk in (handles.chunks if isinstance(handles, pa.ChunkedArray) else [handles]):
            at = _gather_arrow(chunk, text, okp, at)
    else:
        for i in range(n):
            h = (<list>handles)[i]
            if PyUnicode_Check(h) and PyUnicode_IS_ASCII(h) and PyUnicode_GET_LENGTH(h) == C_CHARS:
                memcpy(text + i * C_CHARS, PyUnicode_DATA(h), C_CHARS)
                okp[i] = 1
    cdef uint8_t raw[C_RAW]
    cdef uint8_t tag[16]
    cdef uint8_t diff
    cdef int j
    with nogil:
        for i in range(n):
            if not okp[i]:
                continue
            if ss_b64url_decode_groups(raw, text + i * C_CHARS, C_CHARS, _VALUES) != 0:
                okp[i] = 0
                continue
            ss_siphash24(raw, C_BODY, k0, k1, tag, 16)
            diff = 0
            for j in range(C_TAG):
                diff |= tag[j] ^ raw[C_BODY + j]
            if diff:
                okp[i] = 0
                continue
            memcpy(&bodies[i, 0], raw, C_BODY)
    return ok_array, bodies_array
