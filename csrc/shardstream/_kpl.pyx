# cython: language_level=3
"""The KPL ``AggregatedRecord`` protobuf read in C: one aggregate's user records in one call.

:func:`parse_aggregated_record` reads the protobuf body of an aggregated record (the bytes
between the magic and the MD5 digest; :mod:`shardstream.aggregation` checks those) and
returns its user records as ``(partition_key, explicit_hash_key or None, data)`` tuples,
in order, or None when the body is not a well-formed ``AggregatedRecord``: a truncated
or over-long field, a varint over 64 bits, a group or unknown wire type, a record
without a partition key index or data, a table index past its table, or a key that is
not UTF-8.  Unknown fields are read past as protobuf parsers do.  It never raises on
malformed input.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy

__all__ = ["packed_rows", "parse_aggregated_record"]

import numpy as np


cdef inline bint _varint(const uint8_t *buf, Py_ssize_t *pos, Py_ssize_t end, uint64_t *out) noexcept:
    cdef uint64_t result = 0
    cdef int shift = 0
    cdef uint8_t byte
    while True:
        if pos[0] >= end or shift > 63:
            return False
        byte = buf[pos[0]]
        pos[0] += 1
        if shift == 63 and byte > 1:
            return False  # over 64 bits
        result |= (<uint64_t>(byte & 0x7F)) << shift
        if byte < 0x80:
            out[0] = result
            return True
        shift += 7


cdef inline bint _skip(const uint8_t *buf, Py_ssize_t *pos, Py_ssize_t end, int wire_type) noexcept:
    cdef uint64_t value
    if wire_type == 0:
        return _varint(buf, pos, end, &value)
    if wire_type == 2:
        if not _varint(buf, pos, end, &value) or value > <uint64_t>(end - pos[0]):
            return False
        pos[0] += <Py_ssize_t>value
        return True
    if wire_type == 1:
        value = 8
    elif wire_type == 5:
        value = 4
    else:
        return False  # groups (3, 4) and wire types 6, 7
    if value > <uint64_t>(end - pos[0]):
        return False
    pos[0] += <Py_ssize_t>value
    return True


cdef inline bint _field(const uint8_t *buf, Py_ssize_t *pos, Py_ssize_t end, uint64_t *field, int *wire_type,
                        Py_ssize_t *start, Py_ssize_t *stop) noexcept:
    """Read a tag; for a length-delimited field also its bounds (``start``, ``stop``), skipping nothing."""
    cdef uint64_t tag, length
    if not _varint(buf, pos, end, &tag):
        return False
    field[0] = tag >> 3
    wire_type[0] = <int>(tag & 7)
    if wire_type[0] == 2:
        if not _varint(buf, pos, end, &length) or length > <uint64_t>(end - pos[0]):
            return False
        start[0] = pos[0]
        stop[0] = pos[0] + <Py_ssize_t>length
    return True


def parse_aggregated_record(bytes data, Py_ssize_t start, Py_ssize_t end):
    """The user records of the ``AggregatedRecord`` in ``data[start:end]``, or None if it is malformed.

    Parameters
    ----------
    data : bytes
    start, end : int
        The protobuf body's bounds in ``data``.

    Returns
    -------
    list of (str, str or None, bytes), or None
    """
    cdef const uint8_t *buf = <const uint8_t *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t pos, field_start = 0, field_stop = 0, inner, inner_start = 0, inner_stop = 0
    cdef uint64_t field = 0, inner_field = 0, key_index = 0, hash_index = 0
    cdef int wire_type = 0, inner_wire = 0
    cdef bint has_key, has_hash, has_data
    cdef Py_ssize_t data_start = 0, data_stop = 0
    cdef list keys = [], hash_keys = [], out = []
    if start < 0 or start > end or end > PyBytes_GET_SIZE(data):
        return None
    # pass 1: the key tables (they may come anywhere in the message)
    pos = start
    try:
        while pos < end:
            if not _field(buf, &pos, end, &field, &wire_type, &field_start, &field_stop):
                return None
            if wire_type != 2:
                if not _skip(buf, &pos, end, wire_type):
                    return None
                continue
            if field == 1:
                keys.append(PyUnicode_DecodeUTF8(<const char *>buf + field_start, field_stop - field_start, NULL))
            elif field == 2:
                hash_keys.append(PyUnicode_DecodeUTF8(<const char *>buf + field_start, field_stop - field_start, NULL))
            pos = field_stop
    except UnicodeDecodeError:
        return None
    # pass 2: the records
    pos = start
    while pos < end:
        _field(buf, &pos, end, &field, &wire_type, &field_start, &field_stop)  # read well in pass 1
        if wire_type != 2:
            _skip(buf, &pos, end, wire_type)
            continue
        pos = field_stop
        if field != 3:
            continue
        has_key = has_hash = has_data = False
        inner = field_start
        while inner < field_stop:
            if not _field(buf, &inner, field_stop, &inner_field, &inner_wire, &inner_start, &inner_stop):
                return None
            if inner_field == 1 and inner_wire == 0:
                if not _varint(buf, &inner, field_stop, &key_index):
                    return None
                has_key = True
            elif inner_field == 2 and inner_wire == 0:
                if not _varint(buf, &inner, field_stop, &hash_index):
                    return None
                has_hash = True
            elif inner_field == 3 and inner_wire == 2:
                data_start, data_stop = inner_start, inner_stop
                inner = inner_stop
                has_data = True
            elif inner_wire == 2:
                inner = inner_stop
            elif not _skip(buf, &inner, field_stop, inner_wire):
                return None
        if not has_key or not has_data or key_index >= <uint64_t>len(keys):
            return None
        if has_hash and hash_index >= <uint64_t>len(hash_keys):
            return None
        out.append(
            (
                keys[key_index],
                hash_keys[hash_index] if has_hash else None,
                PyBytes_FromStringAndSize(<const char *>buf + data_start, data_stop - data_start),
            )
        )
    return out


cdef inline bint _packed(const uint8_t *values, int32_t start, int32_t stop, uint32_t kpl, uint32_t envelope,
                         int32_t min_length) noexcept nogil:
    cdef uint32_t word
    if stop - start < min_length:
        return False
    memcpy(&word, values + start, 4)
    return word == kpl or word == envelope


def packed_rows(const int32_t[::1] offsets, const uint8_t[::1] values, uint32_t kpl, uint32_t envelope,
                int32_t min_length):
    """Rows whose data starts with one of two 4-byte words (in the machine's byte order) and has ``min_length`` bytes.

    ``offsets`` are a binary array's ``length + 1`` offsets (already sliced to the array's rows) into
    ``values``; a word that is 0 matches nothing (pass 0 to look for one magic only).  The scan runs
    without the GIL and allocates only the answer.
    """
    cdef Py_ssize_t n = offsets.shape[0] - 1, i, found = 0
    cdef const uint8_t *data = &values[0] if values.shape[0] else NULL
    if n <= 0 or data == NULL or (kpl == 0 and envelope == 0):
        return np.empty(0, np.intp)
    if kpl == 0:
        kpl = envelope
    if envelope == 0:
        envelope = kpl
    with nogil:
        for i in range(n):
            if _packed(data, offsets[i], offsets[i + 1], kpl, envelope, min_length):
                found += 1
    rows = np.empty(found, np.intp)
    if not found:
        return rows
    cdef Py_ssize_t[::1] out = rows
    found = 0
    with nogil:
        for i in range(n):
            if _packed(data, offsets[i], offsets[i + 1], kpl, envelope, min_length):
                out[found] = i
                found += 1
    return rows
