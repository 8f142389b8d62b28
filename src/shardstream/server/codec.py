"""Wire encodings: Kinesis JSON 1.1 (and CBOR 1.1) bodies to and from Python values.

Requests: blobs arrive as base64 strings (JSON) and timestamps as epoch seconds
(JSON numbers) -- :func:`decode_params` turns them into ``bytes`` and aware
``datetime`` objects, raising SerializationException with Kinesis's texts for
bad base64 (spec 2.7).  Responses: :func:`encode_json` writes ``datetime`` as
epoch seconds (float, ms precision) and ``bytes`` as base64.

CBOR bodies (``application/x-amz-cbor-1.1``) carry raw byte strings and tag-1
epoch *milliseconds*; :func:`parse_cbor_request` reads them in C straight into
the JSON form (keeping the data plane's blobs as bytes) so validation and
decoding share one path.  :func:`decode_cbor` and :func:`cbor_to_json_form` are
the same reading in Python: the reference the C reader is tested against.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import re
import struct

import orjson

from .._wire_cbor import decode_request
from ..errors import SerializationException

__all__ = [
    "BLOB_PATHS",
    "EncodedJSON",
    "RAW_BLOB_OPERATIONS",
    "TIMESTAMP_PATHS",
    "cbor_to_json_form",
    "decode_blob",
    "decode_cbor",
    "decode_params",
    "decode_timestamp",
    "encode_cbor",
    "encode_json",
    "get_records_json",
    "parse_cbor_request",
]

_UTC = _dt.timezone.utc
_NUMBER_CLASS = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
_B64_CHARS = re.compile(r"[A-Za-z0-9+/]")
_B64_INDEX = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}

#: Where blobs sit in each operation's input ("[]" walks a list).
BLOB_PATHS: dict[str, list[tuple[str, ...]]] = {
    "PutRecord": [("Data",)],
    "PutRecords": [("Records", "[]", "Data")],
}
#: Where timestamps sit in each operation's input.
TIMESTAMP_PATHS: dict[str, list[tuple[str, ...]]] = {
    "GetShardIterator": [("Timestamp",)],
    "ListShards": [("StreamCreationTimestamp",), ("ShardFilter", "Timestamp")],
    "ListStreamConsumers": [("StreamCreationTimestamp",)],
    "SubscribeToShard": [("StartingPosition", "Timestamp")],
}


def _type_error(value, target: str) -> SerializationException:
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    if isinstance(value, bool):
        return SerializationException(f"class java.lang.Boolean can not be converted to {target}")
    if isinstance(value, (int, float)):
        return SerializationException(f"{_NUMBER_CLASS} can not be converted to {target}")
    return SerializationException(f"class java.lang.{type(value).__name__} can not be converted to {target}")


def decode_blob(value) -> bytes:
    """Strict RFC 4648 base64 (with padding) -> bytes, with Kinesis's SerializationException texts.

    Parameters
    ----------
    value : str or bytes-like
        Base64 text; bytes (from CBOR) are returned as they are.

    Returns
    -------
    bytes

    Raises
    ------
    SerializationException
        Not a string, a length not a multiple of 4, a character outside the
        alphabet, misplaced padding or non-zero bits under it.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if not isinstance(value, str):
        raise _type_error(value, "a Blob")
    # Fast path, in C: strict decoding, then canonical form (re-encoding gives the text back).
    try:
        decoded = base64.b64decode(value, validate=True)
        if base64.b64encode(decoded).decode("ascii") == value:
            return decoded
    except (binascii.Error, ValueError):
        pass
    # Slow path: find the first fault and word it as Kinesis does.
    n = len(value)
    if n % 4:
        raise SerializationException(
            f"'{value}' can not be converted to a Blob: "
            f"Base64 encoded length is expected a multiple of 4 bytes but found: {n}"
        )
    pads = 0
    for i, c in enumerate(value):
        if c == "=":
            # padding may only fill the last one or two places, and must run to the end
            if i >= n - 2 and all(ch == "=" for ch in value[i:]):
                pads = n - i
                break
        elif _B64_CHARS.fullmatch(c):
            continue
        raise SerializationException(f"'{value}' can not be converted to a Blob: Invalid Base64 character: '{c}'")
    if pads:
        last = _B64_INDEX[value[n - pads - 1]]
        if last & (0b1111 if pads == 2 else 0b11):
            raise SerializationException(
                f"'{value}' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"
            )
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the checks above catch these
        raise SerializationException(f"'{value}' can not be converted to a Blob: {exc}") from None


def decode_timestamp(value) -> _dt.datetime:
    """Epoch seconds -> an aware UTC datetime (rounded to the millisecond).

    Parameters
    ----------
    value : int, float or datetime
        A datetime passes through (a naive one gets UTC).

    Returns
    -------
    datetime.datetime

    Raises
    ------
    SerializationException
        A string, a bool or another type, or a value out of datetime's range.
    """
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=_UTC)
    if isinstance(value, str):
        raise SerializationException("class java.lang.String can not be converted to milliseconds since epoch")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, bool):
            raise SerializationException("class java.lang.Boolean can not be converted to milliseconds since epoch")
        raise _type_error(value, "milliseconds since epoch")
    try:
        ms = round(value * 1000)
        return _dt.datetime(1970, 1, 1, tzinfo=_UTC) + _dt.timedelta(milliseconds=ms)
    except (OverflowError, ValueError):
        raise SerializationException(f"Timestamp {value} is out of range") from None


def _strip_nulls(value):
    """JSON ``null`` means absent (spec 2.2): drop None members of objects, recursively."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _convert(container, path: tuple[str, ...], fn) -> None:
    if not path or not isinstance(container, dict):
        return
    head, rest = path[0], path[1:]
    if head not in container:
        return
    if not rest:
        container[head] = fn(container[head])
        return
    child = container[head]
    if rest[0] == "[]":
        if isinstance(child, list):
            for item in child:
                _convert(item, rest[1:], fn)
    else:
        _convert(child, rest, fn)


_CANONICAL_BEFORE_PAD = frozenset("AEIMQUYcgkosw048")  # 6-bit values whose low 2 bits are 0
_CANONICAL_BEFORE_PADS = frozenset("AQgw")  # ... whose low 4 bits are 0


def _decode_put_records(params) -> dict | None:
    """:func:`decode_params` of an ordinary PutRecords body; None for anything unusual.

    Entries are dicts whose PartitionKey and Data are present (Data as
    canonical base64 text, all decoded in one C call, or raw bytes); anything
    else returns None and takes the general path, which words the errors.  The
    decoded blobs replace the text in the entries themselves (only once all of
    them decoded): the body belongs to the request being served.
    """
    if type(params) is not dict or type(params.get("Records")) is not list:
        return None
    entries = params["Records"]
    texts = []
    for entry in entries:
        if type(entry) is not dict or entry.get("PartitionKey") is None:
            return None
        data = entry.get("Data")
        if type(data) is str:
            texts.append(data)
        elif type(data) is not bytes:
            return None
    if texts:
        blobs = _decode_base64_texts(texts)
        if blobs is None:
            return None
        if len(texts) == len(entries):
            for entry, blob in zip(entries, blobs):
                entry["Data"] = blob
        else:  # text and bytes mixed (not from any one wire format, but allowed)
            it = iter(blobs)
            for entry in entries:
                if type(entry["Data"]) is str:
                    entry["Data"] = next(it)
    return {k: v for k, v in params.items() if v is not None}


def _decode_base64_texts_py(texts: list) -> list | None:
    """:func:`_wire_json.decode_base64_texts` in Python (strict C base64 per text + the padding check)."""
    out = []
    a2b = binascii.a2b_base64
    for text in texts:
        if len(text) % 4:
            return None
        try:
            blob = a2b(text, strict_mode=True)
        except (binascii.Error, ValueError):
            return None
        if text[-1:] == "=" and (
            text[-3] not in _CANONICAL_BEFORE_PADS if text[-2] == "=" else text[-2] not in _CANONICAL_BEFORE_PAD
        ):
            return None  # the bits under the padding must be zero
        out.append(blob)
    return out


try:
    from .._wire_json import decode_base64_texts as _decode_base64_texts
except ImportError:  # pragma: no cover - an extension built before the module existed
    _decode_base64_texts = _decode_base64_texts_py


def decode_params(operation: str, params: dict) -> dict:
    """A JSON-form request body as engine arguments: nulls dropped, blobs -> bytes, timestamps -> datetime.

    Parameters
    ----------
    operation : str
        Picks the members decoded (:data:`BLOB_PATHS`, :data:`TIMESTAMP_PATHS`).
    params : dict
        The validated body (:func:`.shapes.validate`).

    Returns
    -------
    dict

    Raises
    ------
    SerializationException
        A blob or timestamp that does not decode (:func:`decode_blob`, :func:`decode_timestamp`).
    """
    if operation == "PutRecords":
        fast = _decode_put_records(params)
        if fast is not None:
            return fast
    params = _strip_nulls(params)
    for path in BLOB_PATHS.get(operation, ()):
        _convert(params, path, decode_blob)
    for path in TIMESTAMP_PATHS.get(operation, ()):
        _convert(params, path, decode_timestamp)
    return params


# -- responses -------------------------------------------------------------------


def _default(value):
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        return round(value.timestamp(), 3)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


class EncodedJSON:
    """A response body already encoded as Kinesis JSON 1.1 (``body``, sent as it is)."""

    __slots__ = ("body",)

    def __init__(self, body: bytes):
        self.body = body


def get_records_json(response: dict) -> EncodedJSON | None:
    """A GetRecords ``response`` whose ``Records`` is an Arrow batch, as its JSON body; None if it cannot be.

    The records are written from the batch's buffers in one pass (no dict per
    record); the other members (``NextShardIterator`` or ``ChildShards``,
    ``MillisBehindLatest``) follow in their order, as :func:`encode_json`
    would write the same response.

    Parameters
    ----------
    response : dict
        From ``Stream.get_record_batch``.

    Returns
    -------
    EncodedJSON or None
        None when the C writer is missing or refuses the batch (nulls, another
        schema, a pre-1970 arrival time): the caller takes the general path.
    """
    try:
        from .._wire_json import records_json
    except ImportError:  # pragma: no cover - an extension built before the module existed
        return None
    rest = encode_json({k: v for k, v in response.items() if k != "Records"})
    suffix = b"," + rest[1:] if len(rest) > 2 else b"}"
    try:
        return EncodedJSON(records_json(response["Records"], b'{"Records":', suffix))
    except ValueError:  # nulls, another schema, a pre-1970 arrival time: the general path
        return None


def encode_json(value) -> bytes:
    """A response dict ``value`` as Kinesis JSON 1.1 bytes (datetimes as epoch seconds, bytes as base64)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS)


# -- CBOR ----------------------------------------------------------------------------


class _EpochMillis:
    """A tag-1 value read from CBOR: AWS puts epoch *milliseconds* there."""

    __slots__ = ("ms",)

    def __init__(self, ms):
        self.ms = ms


def decode_cbor(body: bytes):
    """Decode a CBOR request ``body``; tag 1 (AWS: epoch *milliseconds*) becomes an :class:`_EpochMillis`.

    A small decoder of our own: cbor2 reads tag 1 as epoch *seconds* (and fails
    on millisecond values), and AWS needs nothing beyond RFC 8949's basic items.

    Parameters
    ----------
    body : bytes

    Returns
    -------
    object
        The one data item the body holds.

    Raises
    ------
    SerializationException
        Malformed input, or bytes after the item.
    """
    try:
        value, end = _cbor_item(memoryview(body), 0, 0)
    except (IndexError, ValueError, UnicodeDecodeError, struct.error, RecursionError):
        raise SerializationException("Malformed CBOR body") from None
    if end != len(body) or value is _BREAK:
        raise SerializationException("Malformed CBOR body")
    return value


_BREAK = object()


def _cbor_item(buf: memoryview, at: int, depth: int):
    if depth > 64:
        raise ValueError("too deep")
    head = buf[at]
    at += 1
    major, info = head >> 5, head & 0x1F
    if major == 7:
        if info == 20:
            return False, at
        if info == 21:
            return True, at
        if info in (22, 23):
            return None, at
        if info == 25:
            return struct.unpack(">e", buf[at : at + 2])[0], at + 2
        if info == 26:
            return struct.unpack(">f", buf[at : at + 4])[0], at + 4
        if info == 27:
            return struct.unpack(">d", buf[at : at + 8])[0], at + 8
        if info == 31:
            return _BREAK, at
        if info < 24:
            return None, at
        raise ValueError("bad simple value")
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        if at + size > len(buf):
            raise ValueError("truncated")
        arg = int.from_bytes(buf[at : at + size], "big")
        at += size
    elif info == 31 and major in (2, 3, 4, 5):
        arg = None
    else:
        raise ValueError("bad argument")
    if major == 0:
        return arg, at
    if major == 1:
        return -1 - arg, at
    if major in (2, 3):
        if arg is None:
            parts = []
            while True:
                if buf[at] != 0xFF and (buf[at] >> 5 != major or buf[at] & 0x1F == 31):
                    raise ValueError("a chunk is not a definite string of its string's type")
                part, at = _cbor_item(buf, at, depth + 1)
                if part is _BREAK:
                    break
                parts.append(part if major == 2 else part.encode("utf-8"))
            joined = b"".join(parts)
        else:
            if at + arg > len(buf):
                raise ValueError("truncated")
            joined = bytes(buf[at : at + arg])
            at += arg
        return (joined if major == 2 else joined.decode("utf-8")), at
    if major == 4:
        items = []
        while arg is None or len(items) < arg:
            item, at = _cbor_item(buf, at, depth + 1)
            if item is _BREAK:
                if arg is None:
                    break
                raise ValueError("unexpected break")
            items.append(item)
        return items, at
    if major == 5:
        out = {}
        count = 0
        while arg is None or count < arg:
            key, at = _cbor_item(buf, at, depth + 1)
            if key is _BREAK:
                if arg is None:
                    break
                raise ValueError("unexpected break")
            value, at = _cbor_item(buf, at, depth + 1)
            if value is _BREAK or isinstance(key, (list, dict)):
                raise ValueError("bad map")
            out[key] = value
            count += 1
        return out, at
    # major 6: a tag
    value, at = _cbor_item(buf, at, depth + 1)
    if value is _BREAK:
        raise ValueError("a tag on a break")
    if arg == 1 and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _EpochMillis(value), at
    return value, at


#: Operations whose CBOR bodies keep their blobs under "Data" keys as bytes (validation and decoding
#: take them as they are).
RAW_BLOB_OPERATIONS = frozenset({"PutRecords", "PutRecord", "GetRecords"})


def parse_cbor_request(body: bytes, operation: str | None):
    """A CBOR request ``body`` of ``operation`` in the form validation takes (spec 2.2), read in C.

    :func:`shardstream._wire_cbor.decode_request` reads every body
    :func:`decode_cbor` reads (tags, indefinite lengths, half floats), ~20x
    faster, straight into the JSON form (:func:`cbor_to_json_form`); for the
    operations in :data:`RAW_BLOB_OPERATIONS` the blobs under ``Data`` keys
    stay bytes, so they are not base64-encoded only to be decoded again.

    Parameters
    ----------
    body : bytes
    operation : str or None
        The X-Amz-Target's operation (None when unknown).

    Returns
    -------
    object
        The body in JSON form (a dict for any well-formed request).

    Raises
    ------
    SerializationException
        Malformed input.
    """
    try:
        return decode_request(body, operation in RAW_BLOB_OPERATIONS)
    except ValueError:
        raise SerializationException("Malformed CBOR body") from None


def cbor_to_json_form(value):
    """A decoded CBOR body ``value`` in JSON form: byte strings -> base64, epoch-ms tags -> epoch seconds."""
    if isinstance(value, _EpochMillis):
        return value.ms / 1000
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: cbor_to_json_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cbor_to_json_form(v) for v in value]
    return value


def _cbor_ready(value):
    if isinstance(value, _dt.datetime):
        import cbor2

        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        return cbor2.CBORTag(1, int(round(value.timestamp() * 1000)))
    if isinstance(value, dict):
        return {k: _cbor_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cbor_ready(v) for v in value]
    return value


def encode_cbor(value) -> bytes:
    """A response dict ``value`` as Kinesis CBOR 1.1 (datetimes as tag 1 + epoch ms, bytes as byte strings).

    A value without datetimes is written in C (:func:`shardstream._wire_cbor.encode_plain`,
    the bytes cbor2 would write, ~3x faster); others go through cbor2.

    Parameters
    ----------
    value : dict

    Returns
    -------
    bytes
    """
    out = _encode_plain(value)
    if out is not None:
        return out
    import cbor2

    return cbor2.dumps(_cbor_ready(value))


def _no_plain_encoder(value):  # pragma: no cover - an extension built before the function existed
    return None


try:
    from .._wire_cbor import encode_plain as _encode_plain
except ImportError:  # pragma: no cover
    _encode_plain = _no_plain_encoder
