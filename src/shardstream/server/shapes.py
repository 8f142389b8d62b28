"""Request-shape validation for the Kinesis-compatible HTTP server.

:func:`validate` checks a JSON-decoded request body against the input shape
of a Kinesis operation as the vendored service model (:mod:`.model`,
botocore's ``kinesis/2013-12-02``) describes it, the way Kinesis itself does (spec §2.5 step 10):

1. **Types first.**  Each member's JSON value must fit its model type;
   the first mismatch raises :class:`~shardstream.errors.SerializationException`
   with Kinesis's (Java-flavoured) text, e.g.
   ``class java.lang.String can not be converted to an Integer`` (spec §2.7).
   ``null`` counts as absent.  A member the structure does not have (at the
   top level or in a nested structure) is refused as Jackson, the JSON reader
   under Coral, words it: ``Unrecognized field "Foo" (class
   com.amazonaws.kinesis.v20131202.PutRecordInput), not marked as ignorable``
   -- kinesalite ignores such members (spec §2.2), but an ignored member is one
   the authoriser may read and the action not (a smuggled ``StreamName``).
   Numbers in integer members are floored and clamped to the Java type's range
   (Coral's ``TruncatingBigNumber``, spec §2.6), and the action gets them so.
   Map keys are checked against the key shape (a CBOR map may have integer
   keys).  A list or map longer than its maximum is read only up to one entry
   past it: that is enough to refuse it, and a 7 MB body of tiny entries costs
   no more than a legal one.  Blobs are still base64 text here: their form is
   checked (length multiple of 4, alphabet, canonical last character) but they
   are not decoded.
2. **Then constraints.**  ``required``, ``min``/``max`` (length or value),
   ``pattern`` and ``enum`` of every member, nested structures, list members
   and map keys/values; all violations are collected (in Kinesis's per-operation
   member order, spec §2.6) and the first ten raised as one
   :class:`~shardstream.errors.ValidationException`::

       2 validation errors detected: Value '0' at 'limit' failed to satisfy
       constraint: Member must have value greater than or equal to 1; ...

The model's constraints are used as they are (e.g. ``Data`` up to 10,485,760
bytes, ``ShardCount`` without an upper bound); service rules that the model
does not state (stream record size, retention bounds, ...) are the engine's.
"""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
import math
import re
from functools import lru_cache

from ..errors import SerializationException
from ..validation import Violation, blob_repr, raise_if_any
from . import model as _service_model

__all__ = ["KEYED_SHAPES", "MEMBER_ORDER", "input_shape", "operations", "validate"]

# Kinesis's (kinesalite-observed) member order per operation, spec §2.6.
# Members not listed follow in the model's order.
MEMBER_ORDER: dict[str, list[str]] = {
    "CreateStream": ["ShardCount", "StreamName"],
    "PutRecord": ["SequenceNumberForOrdering", "PartitionKey", "ExplicitHashKey", "Data", "StreamName"],
    "PutRecords": ["Records", "StreamName"],
    "GetShardIterator": ["ShardId", "ShardIteratorType", "StartingSequenceNumber", "StreamName", "Timestamp"],
    "GetRecords": ["Limit", "ShardIterator"],
    "DescribeStream": ["Limit", "ExclusiveStartShardId", "StreamName"],
    "ListShards": ["ExclusiveStartShardId", "MaxResults", "NextToken", "StreamCreationTimestamp", "StreamName"],
    "ListStreams": ["Limit", "ExclusiveStartStreamName"],
    "ListTagsForStream": ["Limit", "ExclusiveStartTagKey", "StreamName"],
    "SplitShard": ["NewStartingHashKey", "StreamName", "ShardToSplit"],
    "MergeShards": ["ShardToMerge", "AdjacentShardToMerge", "StreamName"],
    "IncreaseStreamRetentionPeriod": ["RetentionPeriodHours", "StreamName"],
    "DecreaseStreamRetentionPeriod": ["RetentionPeriodHours", "StreamName"],
    "AddTagsToStream": ["Tags", "StreamName"],
    "RemoveTagsFromStream": ["TagKeys", "StreamName"],
}

# The shapes whose PartitionKey the model leaves optional (only AUTO-distribution
# streams may omit it) but a USER_PARTITION_KEY stream requires.
KEYED_SHAPES = frozenset({"PutRecordInput", "PutRecordsRequestEntry"})


def _with_partition_key(spec: dict) -> list[str]:
    """``spec``'s required members with PartitionKey, in the model's member order."""
    required = set(spec.get("required", ())) | {"PartitionKey"}
    return [m for m in spec.get("members", {}) if m in required]


# Member order inside nested structures (by shape name), spec §2.6.
_STRUCT_ORDER: dict[str, list[str]] = {
    "PutRecordsRequestEntry": ["PartitionKey", "ExplicitHashKey", "Data"],
}

# The order in which Kinesis lists an enum's values when that differs from the
# model's (observed, spec §2.6 example).
_ENUM_ORDER: dict[str, list[str]] = {
    "ShardIteratorType": ["AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"],
}

_STRUCT_REPR = "com.amazonaws.kinesis.v20131202.{}@c965e310"
_NUMBER = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
_LIST_HERE = "Start of list found where not expected"
_STRUCT_HERE = "Start of structure or map found where not expected."
_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_INT_NAMES = {"integer": "Integer", "long": "Long"}
# A member the model does not have: Jackson's UnrecognizedPropertyException text (the JSON reader under
# Coral), with the class named as the service's own request classes are (_STRUCT_REPR).
_UNRECOGNIZED = 'Unrecognized field "{}" (class com.amazonaws.kinesis.v20131202.{}), not marked as ignorable'
# Java classes named for values JSON cannot carry but CBOR can (a byte string where text belongs, a null map key).
_BYTES_CLASS = "class java.nio.HeapByteBuffer"
_B64_BAD = re.compile(r"[^a-zA-Z0-9+/=]|=[^=]")
_B64_VALUES = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


# --------------------------------------------------------------------------- model


class _Shape:
    """A compiled model shape: type, constraints and (for containers) children."""

    __slots__ = (
        "name",
        "type",
        "min",
        "max",
        "pattern",
        "regex",
        "enum",
        "members",
        "required",
        "member",
        "key",
        "value",
        "names",
    )

    def __init__(self, name: str, spec: dict):
        self.name = name
        self.type = spec["type"]
        self.min = spec.get("min")
        self.max = spec.get("max")
        self.pattern = spec.get("pattern")
        self.regex = re.compile(self.pattern, re.ASCII) if self.pattern is not None else None
        self.enum = _ENUM_ORDER.get(name, spec.get("enum"))
        self.members: list[tuple[str, _Shape]] = []
        self.required: frozenset = frozenset(spec.get("required", ()))
        self.member = self.key = self.value = None
        self.names: frozenset = frozenset()

    def __repr__(self) -> str:
        return f"<{self.type} shape {self.name}>"


def _model() -> dict:
    return _service_model.load()


@lru_cache(maxsize=2)
def _compiled(keyed: bool = True) -> dict[str, _Shape]:
    """Operation name -> compiled input shape (cached; built on first use).

    ``keyed``: PartitionKey is required in the shapes of :data:`KEYED_SHAPES`,
    as it is for every stream whose record distribution is USER_PARTITION_KEY.
    """
    model = _model()
    raw = model["shapes"]
    cache: dict[str, _Shape] = {}

    def build(name: str) -> _Shape:
        if name in cache:
            return cache[name]
        spec = raw[name]
        if keyed and name in KEYED_SHAPES:
            spec = {**spec, "required": _with_partition_key(spec)}
        shape = cache[name] = _Shape(name, spec)
        if shape.type == "structure":
            members = list(spec.get("members", {}))
            first = _STRUCT_ORDER.get(name, [])
            ordered = [m for m in first if m in members] + [m for m in members if m not in first]
            shape.members = [(m, build(spec["members"][m]["shape"])) for m in ordered]
            shape.names = frozenset(members)
        elif shape.type == "list":
            shape.member = build(spec["member"]["shape"])
        elif shape.type == "map":
            shape.key = build(spec["key"]["shape"])
            shape.value = build(spec["value"]["shape"])
        return shape

    out: dict[str, _Shape] = {}
    for op, op_spec in model["operations"].items():
        if "input" not in op_spec:
            continue
        base = build(op_spec["input"]["shape"])
        order = MEMBER_ORDER.get(op)
        if order:
            # A per-operation copy: the same input shape could in principle be shared.
            top = _Shape(base.name, {"type": "structure", "required": list(base.required)})
            names = [m for m, _ in base.members]
            lookup = dict(base.members)
            ordered = [m for m in order if m in lookup] + [m for m in names if m not in order]
            top.members = [(m, lookup[m]) for m in ordered]
            top.names = base.names
            base = top
        out[op] = base
    return out


def operations() -> list[str]:
    """The names of the operations :func:`validate` knows (those of the model)."""
    return sorted(_compiled())


def input_shape(operation: str) -> dict:
    """The service model's input shape definition of ``operation`` (a dict), for tools and tests."""
    return _model()["shapes"][_model()["operations"][operation]["input"]["shape"]]


# --------------------------------------------------------------------------- types


class _Blob:
    """A type-checked blob: its decoded length, and the value as it came (base64 text or bytes)."""

    __slots__ = ("length", "raw")

    def __init__(self, length: int, raw=None):
        self.length = length
        self.raw = raw


class _HeadList(list):
    """The first ``max + 1`` entries of a list longer than its shape allows, and its real length."""

    __slots__ = ("total",)

    def __init__(self, head, total: int):
        super().__init__(head)
        self.total = total


class _HeadMap(dict):
    """The first ``max + 1`` entries of a map larger than its shape allows, and its real size."""

    __slots__ = ("total",)

    def __init__(self, head, total: int):
        super().__init__(head)
        self.total = total


def _fail(message: str):
    raise SerializationException(message)


def _container_fail(value, target: str = "an String") -> None:
    """The text for a value of no scalar type ``target`` takes: a list, a map, or a CBOR-only value."""
    if isinstance(value, list):
        _fail(_LIST_HERE)
    if isinstance(value, dict):
        _fail(_STRUCT_HERE)
    if isinstance(value, (bytes, bytearray, memoryview)):
        _fail(f"{_BYTES_CLASS} can not be converted to {target}")
    _fail(f"class java.lang.Object can not be converted to {target}")


def _blob_length(text: str) -> int:
    """Check base64 text the way Kinesis does; return the decoded length."""
    n = len(text)
    if n % 4:
        _fail(
            f"'{text}' can not be converted to a Blob: "
            f"Base64 encoded length is expected a multiple of 4 bytes but found: {n}"
        )
    bad = _B64_BAD.search(text)
    if bad is not None:
        _fail(f"'{text}' can not be converted to a Blob: Invalid Base64 character: '{bad.group(0)[0]}'")
    if not n:
        return 0
    pad = n - len(text.rstrip("="))
    canonical = pad <= 2
    if canonical and pad:
        last = _B64_VALUES[text[n - pad - 1]]
        canonical = not (last & (0b1111 if pad == 2 else 0b11))
    if not canonical:
        _fail(f"'{text}' can not be converted to a Blob: Invalid last non-pad Base64 character dectected")
    return n // 4 * 3 - pad


def _check_type(value, shape: _Shape):
    """Return ``value`` normalised for the constraint pass, or raise SerializationException."""
    kind = shape.type
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            _fail("class java.lang.Boolean can not be converted to an String")
        if isinstance(value, (int, float)):
            _fail(f"{_NUMBER} can not be converted to an String")
        if value is None:  # only as a map key: members and list entries that are null never get here
            _fail("Null key found where not expected")
        _container_fail(value)
    if kind in _INT_BOUNDS:
        name = _INT_NAMES[kind]
        if isinstance(value, bool):
            _fail(f"class java.lang.Boolean can not be converted to an {name}")
        if isinstance(value, int):
            lo, hi = _INT_BOUNDS[kind]
            return min(max(value, lo), hi)
        if isinstance(value, float):
            lo, hi = _INT_BOUNDS[kind]
            if math.isnan(value):
                return 0
            if math.isinf(value):
                return hi if value > 0 else lo
            return min(max(math.floor(value), lo), hi)
        if isinstance(value, str):
            _fail(f"class java.lang.String can not be converted to an {name}")
        _container_fail(value, f"an {name}")
    if kind == "blob":
        if isinstance(value, str):
            return _Blob(_blob_length(value), value)
        if isinstance(value, (bytes, bytearray, memoryview)):  # already raw (a CBOR byte string)
            return _Blob(len(value), value)
        if isinstance(value, bool):
            _fail("class java.lang.Boolean can not be converted to a Blob")
        if isinstance(value, (int, float)):
            _fail(f"{_NUMBER} can not be converted to a Blob")
        _container_fail(value, "a Blob")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            _fail(f"{_NUMBER} can not be converted to an Boolean")
        if isinstance(value, str):
            _fail(f"'{value.upper()}' can not be converted to an Boolean")
        _container_fail(value, "an Boolean")
    if kind == "timestamp":
        if isinstance(value, bool):
            _fail("class java.lang.Boolean can not be converted to milliseconds since epoch")
        if isinstance(value, (int, float, _dt.datetime)):  # a datetime: already decoded (CBOR tag 1)
            return value
        if isinstance(value, str):
            _fail("class java.lang.String can not be converted to milliseconds since epoch")
        _container_fail(value, "milliseconds since epoch")
    if kind == "list":
        if isinstance(value, list):
            head = value if shape.max is None or len(value) <= shape.max + 1 else value[: shape.max + 1]
            out = [None if item is None else _check_type(item, shape.member) for item in head]
            return out if head is value else _HeadList(out, len(value))
        if isinstance(value, dict):
            _fail(_STRUCT_HERE)
        _fail("Expected list or null")
    if kind == "map":
        if isinstance(value, dict):
            items = value.items()
            if shape.max is not None and len(value) > shape.max + 1:
                items = itertools.islice(items, shape.max + 1)
            out = {_check_type(k, shape.key): None if v is None else _check_type(v, shape.value) for k, v in items}
            return out if len(out) == len(value) else _HeadMap(out, len(value))
        if isinstance(value, list):
            _fail(_LIST_HERE)
        _fail("Expected map or null")
    if kind == "structure":
        if isinstance(value, dict):
            return _check_struct(value, shape)
        if isinstance(value, list):
            _fail(_LIST_HERE)
        _fail("Expected null")
    raise TypeError(f"unsupported model type {kind!r} ({shape.name})")  # pragma: no cover


def _check_struct(value: dict, shape: _Shape) -> dict:
    names = shape.names
    for name in value:
        if name not in names:
            _fail(_UNRECOGNIZED.format(name, shape.name))
    out = {}
    for name, member in shape.members:
        item = value.get(name)
        if item is not None:
            out[name] = _check_type(item, member)
    return out


# --------------------------------------------------------------------------- constraints


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _plain(value, shape: _Shape | None) -> str:
    """A value as Kinesis prints it (without the surrounding quotes)."""
    if isinstance(value, _Blob):
        return blob_repr(value.length)
    if isinstance(value, bool):
        return "true" if value else "false"
    # a list or map cut after max + 1 entries (_HeadList, _HeadMap) shows those, then "..."
    more = ", ..." if isinstance(value, (_HeadList, _HeadMap)) else ""
    if isinstance(value, list):
        inner = shape.member if shape is not None else None
        return "[" + ", ".join(_plain(v, inner) for v in value) + more + "]"
    if isinstance(value, dict):
        if shape is not None and shape.type == "structure":
            return _STRUCT_REPR.format(shape.name)
        inner = shape.value if shape is not None else None
        return "{" + ", ".join(f"{k}={_plain(v, inner)}" for k, v in value.items()) + more + "}"
    if value is None:
        return "null"
    return str(value)


def _shown(value, shape: _Shape) -> str:
    return "null" if value is None else "'" + _plain(value, shape) + "'"


def _length(value) -> int:
    if isinstance(value, _Blob):
        return value.length
    if isinstance(value, (_HeadList, _HeadMap)):
        return value.total
    return len(value)


def _length_rules(shape: _Shape) -> list[str]:
    """A key/value shape's length constraints, as listed in a map-entry message."""
    rules = []
    if shape.max is not None:
        rules.append(f"Member must have length less than or equal to {shape.max}")
    if shape.min is not None:
        rules.append(f"Member must have length greater than or equal to {shape.min}")
    return rules


def _length_fits(value, shape: _Shape) -> bool:
    """Whether a string's length is within its shape's bounds."""
    n = len(value)
    return (shape.min is None or n >= shape.min) and (shape.max is None or n <= shape.max)


def _scalar_ok(value, shape: _Shape) -> bool:
    """Whether a map key or value satisfies its shape's constraints."""
    if value is None:
        return False
    if shape.type in ("string", "blob", "list", "map"):
        n = _length(value)
        if (shape.min is not None and n < shape.min) or (shape.max is not None and n > shape.max):
            return False
    if shape.type in _INT_BOUNDS:
        if (shape.min is not None and value < shape.min) or (shape.max is not None and value > shape.max):
            return False
    if shape.regex is not None and shape.regex.fullmatch(value) is None:
        return False
    if shape.enum is not None and value not in shape.enum:
        return False
    return True


def _check_value(out: list, path: str, value, shape: _Shape, required: bool, lengths: bool = True) -> None:
    if value is None:
        if required:
            out.append(Violation("null", path, "Member must not be null"))
        return
    kind = shape.type
    if kind == "string":
        if shape.regex is not None and shape.regex.fullmatch(value) is None:
            out.append(
                Violation(
                    _shown(value, shape), path, f"Member must satisfy regular expression pattern: {shape.pattern}"
                )
            )
        if shape.enum is not None and value not in shape.enum:
            out.append(
                Violation(_shown(value, shape), path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            )
    if kind in ("string", "blob", "list", "map") and lengths:
        n = _length(value)
        if shape.min is not None and n < shape.min:
            out.append(
                Violation(_shown(value, shape), path, f"Member must have length greater than or equal to {shape.min}")
            )
        if shape.max is not None and n > shape.max:
            out.append(
                Violation(_shown(value, shape), path, f"Member must have length less than or equal to {shape.max}")
            )
    elif kind in _INT_BOUNDS:
        if shape.min is not None and value < shape.min:
            out.append(
                Violation(_shown(value, shape), path, f"Member must have value greater than or equal to {shape.min}")
            )
        if shape.max is not None and value > shape.max:
            out.append(
                Violation(_shown(value, shape), path, f"Member must have value less than or equal to {shape.max}")
            )
    if kind == "structure":
        _check_members(out, path + ".", value, shape)
    elif kind == "list":
        # Strings of the wrong length are reported once for the whole list, as Kinesis does.
        rules = _length_rules(shape.member) if shape.member.type == "string" else []
        if rules and not all(item is None or _length_fits(item, shape.member) for item in value):
            out.append(Violation(_shown(value, shape), path, f"Member must satisfy constraint: [{', '.join(rules)}]"))
        for i, item in enumerate(value, 1):
            if len(out) >= 10:
                return
            _check_value(out, f"{path}.{i}.member", item, shape.member, True, lengths=not rules)
    elif kind == "map":
        rules = _length_rules(shape.key)
        if rules and not all(_scalar_ok(k, shape.key) for k in value):
            out.append(Violation(_shown(value, shape), path, f"Map keys must satisfy constraint: [{', '.join(rules)}]"))
        rules = _length_rules(shape.value)
        if rules and not all(_scalar_ok(v, shape.value) for v in value.values()):
            out.append(
                Violation(_shown(value, shape), path, f"Map value must satisfy constraint: [{', '.join(rules)}]")
            )


def _check_members(out: list, prefix: str, value: dict, shape: _Shape) -> None:
    for name, member in shape.members:
        if len(out) >= 10:
            return
        _check_value(out, prefix + _lower_first(name), value.get(name), member, name in shape.required)


# --------------------------------------------------------------------------- API


def validate(operation: str, params: dict, *, partition_key_required: bool = True) -> dict:
    """Check a JSON-decoded request body against ``operation``'s model input shape; return it as read.

    Parameters
    ----------
    operation : str
        The Kinesis operation name (``"PutRecords"``); operations the model does
        not know are not checked (the server answers UnknownOperationException
        before this).
    params : dict
        The decoded JSON body: strings, numbers, bools, lists, dicts; blobs as
        base64 text (raw ``bytes`` are accepted too, as are ``datetime``
        timestamps, for bodies that came as CBOR).  It is not modified.
    partition_key_required : bool
        PutRecord and PutRecords entries must carry a PartitionKey (True, the
        USER_PARTITION_KEY streams); False for streams with AUTO record
        distribution, where the model's optional key is taken as it is.

    Returns
    -------
    dict
        The body as the service reads it, for the action: ``null`` members
        dropped, numbers in integer members floored and clamped to the Java
        type's range (``{"Limit": 1.5}`` -> ``{"Limit": 1}``), everything else
        as it came (``params`` itself when nothing needs changing).

    Raises
    ------
    SerializationException
        A member the input shape (or a nested structure) does not have; a
        member of the wrong JSON type; a blob that is not valid base64 (first
        problem found, in Kinesis's member order).
    ValidationException
        One or more model constraints are broken (at most ten listed).
    """
    if operation == "PutRecords" and _put_records_certainly_valid(params):
        return params  # the hot path: a well-formed batch needs no walk of the model
    return _validate_model(operation, params, partition_key_required)


def _validate_model(operation: str, params, partition_key_required: bool = True) -> dict:
    """:func:`validate` by a full walk of the model's input shape."""
    shape = _compiled(partition_key_required).get(operation)
    if shape is None:
        return params
    if params is None:
        params = {}
    if not isinstance(params, dict):
        _check_type(params, shape)  # raises the structure-mismatch text
    data = _check_struct(params, shape)
    violations: list = []
    _check_members(violations, "", data, shape)
    raise_if_any(violations)
    return _wire_form(data)


def _wire_form(value):
    """A type-checked value (:func:`_check_type`) as the action takes it: blobs as they came."""
    if isinstance(value, _Blob):
        return value.raw
    if isinstance(value, dict):
        return {k: _wire_form(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire_form(v) for v in value]
    return value


_STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_HASH_KEY = re.compile(r"0|[1-9][0-9]{0,38}")


@functools.lru_cache(maxsize=1)
def _max_data_b64() -> int:
    """Longest base64 text whose decoded length is certainly within the model's Data maximum."""
    return 4 * (_model()["shapes"]["Data"]["max"] // 3)


@functools.lru_cache(maxsize=1)
def _max_data_bytes() -> int:
    """The model's Data maximum, for blobs that arrive as bytes (CBOR)."""
    return _model()["shapes"]["Data"]["max"]


def _put_records_certainly_valid(params) -> bool:
    """True when a PutRecords body passes every check :func:`validate` makes, tested in one tight loop.

    Anything unusual (an ARN, a member the model lacks, a wrong type, a limit touched) returns False and
    gets the full walk, which words the error; base64 characters are left to
    the codec, which raises the same SerializationException texts.  ``Data``
    may be base64 text (JSON) or raw bytes (CBOR).
    """
    if type(params) is not dict or params.get("StreamARN") is not None or params.get("StreamId") is not None:
        return False
    name = params.get("StreamName")
    if name is not None and (type(name) is not str or _STREAM_NAME.fullmatch(name) is None):
        return False
    records = params.get("Records")
    if type(records) is not list or not 1 <= len(records) <= 500:
        return False
    if len(params) != 1 + (name is not None):  # another member (or a null one): the full walk words it
        return False
    max_data = _max_data_b64()
    max_bytes = _max_data_bytes()
    for entry in records:
        if type(entry) is not dict:
            return False
        key, data, hash_key = entry.get("PartitionKey"), entry.get("Data"), entry.get("ExplicitHashKey")
        if type(key) is not str or not 1 <= len(key) <= 256:
            return False
        if len(entry) != 2 and (hash_key is None or len(entry) != 3):  # another member, or a null one
            return False
        if type(data) is bytes:
            if len(data) > max_bytes:
                return False
        elif type(data) is not str or len(data) % 4 or len(data) > max_data:
            return False
        if hash_key is not None and (type(hash_key) is not str or _HASH_KEY.fullmatch(hash_key) is None):
            return False
    return True
