"""KPL aggregation: many user records in one Kinesis record, in the Kinesis Producer Library's format.

An aggregated record's ``Data`` is laid out as (spec section 10)::

    offset 0      4 bytes   magic F3 89 9A C2
    offset 4      n bytes   a protobuf ``AggregatedRecord`` (proto2, package aws.kinesis.protobuf)
    offset 4 + n  16 bytes  MD5 digest of the n protobuf bytes (not of the magic)

    message AggregatedRecord {
      repeated string partition_key_table     = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records                 = 3;
    }
    message Record {
      required uint64 partition_key_index     = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes  data                    = 3;
      repeated Tag    tags                    = 4;   // read past, never written
    }

The protobuf is written here by hand (a few varints and length-delimited
fields) and read by the compiled core (``_kpl.parse_aggregated_record``), so
the core install needs no ``protobuf``.  Measured on 1000 user records of
100 bytes (``benchmarks/aggregation_report.py``): encoding ~1.3 ms (the
``protobuf`` library's upb backend ~0.85 ms, ``aws_kinesis_agg`` ~3.2 ms);
decoding ~0.23 ms, most of it the MD5 check (upb ~0.5 ms, a pure-Python
reader ~1.4 ms, ``aws_kinesis_agg`` ~1.9 ms).  The output reads back with ``aws_kinesis_agg``
and the KCL, and what they make reads back here.

* :class:`AggregateBuilder` collects user records for one aggregate, with
  the exact Kinesis record size it would have (outer partition key + data,
  the quantity Kinesis's 1 MiB record limit counts), so a caller can fill
  aggregates to the limit and no further.
* :func:`encode_aggregate` encodes records in one call.
* :func:`deaggregate` takes an aggregate apart; anything that is not a
  valid aggregate gives None (the record is a plain record: pass it
  through), never an exception.
"""

from __future__ import annotations

import hashlib

from ._native import parse_aggregated_record

__all__ = ["DIGEST_SIZE", "MAGIC", "MAX_BYTES", "AggregateBuilder", "deaggregate", "encode_aggregate", "is_aggregate"]

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_SIZE = 16
#: Kinesis's default record limit (data + partition key); a stream may allow up to 10 MiB.
MAX_BYTES = 1_048_576
_MAX_ALLOWED = 10 * 1_048_576  # the largest record any stream accepts (MaxRecordSizeInKiB 10240)
_HASH_KEY_MAX = 2**128 - 1
_OVERHEAD = len(MAGIC) + DIGEST_SIZE


_SMALL = [bytes((i,)) for i in range(0x80)]


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_size(value: int) -> int:
    return (max(value.bit_length(), 1) + 6) // 7


def _field_size(length: int) -> int:
    """Bytes of a length-delimited field with a one-byte tag and ``length`` bytes of content."""
    return 1 + _varint_size(length) + length


def _check_key(partition_key) -> bytes:
    if not isinstance(partition_key, str):
        raise TypeError(f"partition_key must be a str, not {type(partition_key).__name__}")
    if not 1 <= len(partition_key) <= 256:
        raise ValueError(f"partition_key must be 1 to 256 characters, not {len(partition_key)}")
    return partition_key.encode("utf-8")


def _check_hash_key(explicit_hash_key) -> str | None:
    if explicit_hash_key is None:
        return None
    if not isinstance(explicit_hash_key, str):
        raise TypeError(f"explicit_hash_key must be a str or None, not {type(explicit_hash_key).__name__}")
    if not (explicit_hash_key.isascii() and explicit_hash_key.isdigit()) or int(explicit_hash_key) > _HASH_KEY_MAX:
        raise ValueError(f"explicit_hash_key must be a decimal integer from 0 to 2**128 - 1, not {explicit_hash_key!r}")
    return explicit_hash_key


def _check_data(data) -> bytes:
    if isinstance(data, str) or not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    return bytes(data)


def _alone_size(key_length: int, hash_key_length: int | None, size: int) -> int:
    """The Kinesis record size of an aggregate of one user record."""
    prefix = 2 + 1 + _varint_size(size)  # key index 0, the data field's tag and length
    tables = _field_size(key_length)
    if hash_key_length is not None:
        prefix += 2
        tables += _field_size(hash_key_length)
    return key_length + _OVERHEAD + tables + _field_size(prefix + size)


class AggregateBuilder:
    """User records for ONE aggregated Kinesis record (the caller groups records by shard).

    Parameters
    ----------
    max_bytes : int
        The largest Kinesis record (outer partition key + data) the aggregate
        may make: 1 MiB by default (Kinesis's record limit), up to the
        stream's own limit (at most 10 MiB).

    Raises
    ------
    ValueError
        ``max_bytes`` outside 1 .. 10 MiB.

    Examples
    --------
    >>> builder = AggregateBuilder()
    >>> builder.try_add("user-1", b"hello")
    True
    >>> builder.try_add("user-2", b"world", explicit_hash_key="42")
    True
    >>> key, hash_key, data = builder.build()
    >>> key, hash_key, len(builder), builder.record_size == len(key) + len(data)
    ('user-1', None, 2, True)
    >>> deaggregate(data)
    [('user-1', None, b'hello'), ('user-2', '42', b'world')]
    """

    def __init__(self, max_bytes: int = MAX_BYTES):
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or not 1 <= max_bytes <= _MAX_ALLOWED:
            raise ValueError(f"max_bytes must be an int from 1 to {_MAX_ALLOWED}, not {max_bytes!r}")
        self.max_bytes = max_bytes
        self.clear()

    def clear(self) -> None:
        """Forget every user record (the builder starts a new aggregate)."""
        self._keys: dict[str, int] = {}
        self._key_fields: list[bytes] = []
        self._hash_keys: dict[str, int] = {}
        self._hash_key_fields: list[bytes] = []
        self._records: list[bytes] = []  # per user record: its Record field's head, then its data
        self._count = 0
        self._proto_size = 0
        self._outer_key_size = 0
        self._first: tuple[str, str | None] | None = None

    def __len__(self) -> int:
        return self._count

    @property
    def record_size(self) -> int:
        """The size Kinesis would count for the aggregate: outer partition key UTF-8 bytes + data bytes (0 if empty)."""
        if not self._records:
            return 0
        return self._outer_key_size + _OVERHEAD + self._proto_size

    def try_add(self, partition_key: str, data: bytes, explicit_hash_key: str | None = None) -> bool:
        """Add a user record if the aggregate stays within ``max_bytes``.

        Parameters
        ----------
        partition_key : str
            1 to 256 characters.
        data : bytes
        explicit_hash_key : str, optional
            A decimal integer below 2**128.

        Returns
        -------
        bool
            True if added; False if the aggregate would outgrow ``max_bytes``
            (nothing changed: build this aggregate and start the next with the record).

        Raises
        ------
        TypeError, ValueError
            A malformed record, or one that would not fit even alone in an aggregate (nothing changed).
        """
        key_bytes = _check_key(partition_key)
        if explicit_hash_key is not None:
            _check_hash_key(explicit_hash_key)
        if type(data) is not bytes:
            data = _check_data(data)
        size = len(data)
        growth = 0
        key_index = self._keys.get(partition_key)
        key_field = hash_field = None
        if key_index is None:
            key_index = len(self._keys)
            key_field = b"\x0a" + _varint(len(key_bytes)) + key_bytes
            growth += len(key_field)
        if explicit_hash_key is None:
            prefix = b"\x08" + _varint(key_index) + b"\x1a" + _varint(size)
        else:
            hash_index = self._hash_keys.get(explicit_hash_key)
            if hash_index is None:
                hash_index = len(self._hash_keys)
                hash_field = b"\x12" + _varint(len(explicit_hash_key)) + explicit_hash_key.encode("ascii")
                growth += len(hash_field)
            prefix = b"\x08" + _varint(key_index) + b"\x10" + _varint(hash_index) + b"\x1a" + _varint(size)
        head = b"\x1a" + _varint(len(prefix) + size) + prefix
        growth += len(head) + size
        outer = self._outer_key_size if self._records else len(key_bytes)
        if outer + _OVERHEAD + self._proto_size + growth > self.max_bytes:
            self._refuse(key_bytes, explicit_hash_key, size)
            return False
        if not self._records:
            self._first = (partition_key, explicit_hash_key)
            self._outer_key_size = len(key_bytes)
        if key_field is not None:
            self._keys[partition_key] = key_index
            self._key_fields.append(key_field)
        if hash_field is not None:
            self._hash_keys[explicit_hash_key] = hash_index
            self._hash_key_fields.append(hash_field)
        self._records.append(head)
        self._records.append(data)
        self._proto_size += growth
        self._count += 1
        return True

    def _refuse(self, key_bytes: bytes, hash_key: str | None, size: int) -> None:
        """Raise ValueError if a record that does not fit here would not fit in an empty aggregate either."""
        need = _alone_size(len(key_bytes), None if hash_key is None else len(hash_key), size)
        if need > self.max_bytes:
            raise ValueError(
                f"a user record of {size} data bytes and a {len(key_bytes)}-byte partition key makes an "
                f"aggregate of {need} bytes alone, over max_bytes {self.max_bytes}"
            )

    def build(self) -> tuple[str, str | None, bytes]:
        """The aggregated Kinesis record (the builder keeps its records; :meth:`clear` starts over).

        Returns
        -------
        tuple of (str, str or None, bytes)
            Outer partition key and explicit hash key (the first user
            record's, so the aggregate lands where its records route) and the data.

        Raises
        ------
        ValueError
            No user records.
        """
        if self._first is None:
            raise ValueError("an aggregate needs at least one user record")
        proto = b"".join([*self._key_fields, *self._hash_key_fields, *self._records])
        return self._first[0], self._first[1], MAGIC + proto + hashlib.md5(proto).digest()

    def __repr__(self) -> str:
        return f"<AggregateBuilder records={len(self)} record_size={self.record_size} max_bytes={self.max_bytes}>"


def encode_aggregate(partition_keys, payloads, explicit_hash_keys=None) -> bytes:
    """Encode user records as one aggregated record's data (no size limit applied).

    Parameters
    ----------
    partition_keys : sequence of str
    payloads : sequence of bytes
    explicit_hash_keys : sequence of (str or None), optional

    Returns
    -------
    bytes
        Magic, protobuf, MD5 digest.

    Raises
    ------
    TypeError, ValueError
        Malformed records, sequences of different lengths, or no records.

    Examples
    --------
    >>> deaggregate(encode_aggregate(["a", "b"], [b"1", b"2"], [None, "7"]))
    [('a', None, b'1'), ('b', '7', b'2')]
    """
    keys, datas = list(partition_keys), list(payloads)
    hashes = [None] * len(keys) if explicit_hash_keys is None else list(explicit_hash_keys)
    if not len(keys) == len(datas) == len(hashes):
        raise ValueError(
            f"partition_keys, payloads and explicit_hash_keys differ in length ({len(keys)}, {len(datas)}, "
            f"{len(hashes)})"
        )
    builder = AggregateBuilder(_MAX_ALLOWED)
    builder.max_bytes = 2**63  # encode_aggregate applies no limit
    for key, data, hash_key in zip(keys, datas, hashes):
        builder.try_add(key, data, hash_key)
    return builder.build()[2]


def is_aggregate(data) -> bool:
    """Whether ``data`` starts like an aggregate (the magic, and longer than magic + digest); no full check.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    bool
    """
    return len(data) > _OVERHEAD and data[:4] == MAGIC


def deaggregate(data) -> list[tuple[str, str | None, bytes]] | None:
    """The user records of an aggregated record, or None if ``data`` is not a valid aggregate.

    Valid means (spec 10.3): longer than magic + digest, the magic first,
    the last 16 bytes the MD5 of the protobuf between, and the protobuf an
    ``AggregatedRecord`` whose records have a partition key and data and
    whose table indexes exist.  Never raises on malformed data.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    list of (str, str or None, bytes), or None
        ``(partition_key, explicit_hash_key, data)`` per user record, in
        order (index = sub-sequence number; a valid aggregate of no records
        gives an empty list, as the KCL and ``aws_kinesis_agg`` read it);
        None: a plain record, pass it through unchanged.

    Examples
    --------
    >>> deaggregate(b"plain data") is None
    True
    """
    if not isinstance(data, bytes):
        if not isinstance(data, (bytearray, memoryview)):
            return None
        data = bytes(data)
    if len(data) <= _OVERHEAD or not data.startswith(MAGIC):
        return None
    end = len(data) - DIGEST_SIZE
    if hashlib.md5(memoryview(data)[len(MAGIC) : end]).digest() != data[end:]:
        return None
    return parse_aggregated_record(data, len(MAGIC), end)
