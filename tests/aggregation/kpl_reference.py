"""A pure-Python reader of the KPL ``AggregatedRecord`` protobuf: the model the compiled one is held to.

``parse(body)`` gives the user records of a protobuf body as ``(key, hash key or None, data)``
tuples, or None when it is malformed; ``shardstream._kpl.parse_aggregated_record`` must agree
on every input (tests/aggregation/test_format.py).
"""

from __future__ import annotations


def parse(body: bytes):
    """The user records of ``body`` (an AggregatedRecord), or None if malformed."""
    try:
        return _parse(b"\0\0\0\0" + body, 4 + len(body))
    except (IndexError, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    byte = buf[pos]
    if byte < 0x80:
        return byte, pos + 1
    result = byte & 0x7F
    shift = 7
    while True:
        pos += 1
        byte = buf[pos]  # IndexError past the end: not an aggregate
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if result >= 2**64:
                raise ValueError("varint over 64 bits")
            return result, pos + 1
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _skip(buf: bytes, pos: int, wire_type: int, end: int) -> int:
    if wire_type == 0:
        return _read_varint(buf, pos)[1]
    if wire_type == 2:
        length, pos = _read_varint(buf, pos)
        pos += length
    elif wire_type == 1:
        pos += 8
    elif wire_type == 5:
        pos += 4
    else:
        raise ValueError(f"wire type {wire_type}")
    if pos > end:
        raise ValueError("field past the end")
    return pos


def _parse_record(buf: bytes, pos: int, end: int) -> tuple[int, int | None, bytes]:
    key_index = hash_index = data = None
    while pos < end:
        tag, pos = _read_varint(buf, pos)
        field, wire_type = tag >> 3, tag & 7
        if field == 1 and wire_type == 0:
            key_index, pos = _read_varint(buf, pos)
        elif field == 2 and wire_type == 0:
            hash_index, pos = _read_varint(buf, pos)
        elif field == 3 and wire_type == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > end:
                raise ValueError("data past the end")
            data = buf[pos : pos + length]
            pos += length
        else:
            pos = _skip(buf, pos, wire_type, end)
    if pos != end or key_index is None or data is None:
        raise ValueError("incomplete Record")
    return key_index, hash_index, data


def _parse(buf: bytes, end: int) -> list[tuple[str, str | None, bytes]]:
    keys: list[str] = []
    hash_keys: list[str] = []
    records: list[tuple[int, int | None, bytes]] = []
    pos = 4
    while pos < end:
        tag, pos = _read_varint(buf, pos)
        field, wire_type = tag >> 3, tag & 7
        if wire_type != 2:
            pos = _skip(buf, pos, wire_type, end)
            continue
        length, pos = _read_varint(buf, pos)
        stop = pos + length
        if stop > end:
            raise ValueError("field past the end")
        if field == 3:
            records.append(_parse_record(buf, pos, stop))
        elif field == 1:
            keys.append(buf[pos:stop].decode("utf-8"))
        elif field == 2:
            hash_keys.append(buf[pos:stop].decode("utf-8"))
        pos = stop
    if pos != end:
        raise ValueError("trailing bytes")
    return [(keys[k], None if h is None else hash_keys[h], d) for k, h, d in records]
