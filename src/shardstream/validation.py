"""Kinesis's model-constraint checks and their exact ``ValidationException`` texts.

A message lists at most ten violations::

    1 validation error detected: Value 'x' at 'streamName' failed to satisfy constraint: ...
"""

from __future__ import annotations

import re

from .errors import InvalidArgumentException, SerializationException, ValidationException

__all__ = [
    "Violation",
    "blob_repr",
    "check_int_range",
    "check_length",
    "check_pattern",
    "raise_if_any",
    "render",
]

NAME_PATTERN = "[a-zA-Z0-9_.-]+"
HASH_KEY_PATTERN = r"0|([1-9]\d{0,38})"
SEQUENCE_NUMBER_PATTERN = r"0|([1-9]\d{0,128})"

_compiled: dict[str, re.Pattern] = {}


class Violation(tuple):
    """``(value_repr, path, rule)``: one line of a ValidationException."""

    __slots__ = ()

    def __new__(cls, value_repr: str, path: str, rule: str):
        return super().__new__(cls, (value_repr, path, rule))


def value_repr(value) -> str:
    """How Kinesis shows ``value`` in a validation message (``null``, ``'text'``, a blob's buffer)."""
    if value is None:
        return "null"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "'" + blob_repr(len(value)) + "'"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    return f"'{value}'"


def blob_repr(length: int) -> str:
    """How Kinesis shows a blob of ``length`` bytes: a Java ``HeapByteBuffer``."""
    return f"java.nio.HeapByteBuffer[pos=0 lim={length} cap={length}]"


def render(violations: list) -> str:
    """The ValidationException message for ``violations`` (the first ten are listed)."""
    shown = violations[:10]
    count = len(shown)
    head = f"{count} validation error{'s' if count != 1 else ''} detected: "
    return head + "; ".join(f"Value {v} at '{p}' failed to satisfy constraint: {r}" for v, p, r in shown)


def raise_if_any(violations: list) -> None:
    """Raise one ValidationException listing ``violations`` (if there are any)."""
    if violations:
        raise ValidationException(render(violations))


def check_required(out: list, path: str, value) -> bool:
    """``Member must not be null``.

    Parameters
    ----------
    out : list
        Violations found so far; a broken rule appends a :class:`Violation`.
    path : str
        The member's path in the message (``streamName``, ``shardFilter.type``, ...).
    value : object

    Returns
    -------
    bool
        Whether ``value`` is present (so the other checks may look at it).
    """
    if value is None:
        out.append(Violation("null", path, "Member must not be null"))
        return False
    return True


def check_length(out: list, path: str, value, lo: int | None, hi: int | None, *, shown=None) -> None:
    """``Member must have length greater/less than or equal to ...``.

    Parameters
    ----------
    out : list
        Violations found so far; a broken rule appends a :class:`Violation`.
    path : str
        The member's path in the message (``streamName``, ``shardFilter.type``, ...).
    value : sized
    lo, hi : int or None
        Inclusive bounds (None: none).
    shown : str, optional
        How the value appears in the message (default :func:`value_repr`).
    """
    n = len(value)
    rep = value_repr(value) if shown is None else shown
    if lo is not None and n < lo:
        out.append(Violation(rep, path, f"Member must have length greater than or equal to {lo}"))
    if hi is not None and n > hi:
        out.append(Violation(rep, path, f"Member must have length less than or equal to {hi}"))


def check_pattern(out: list, path: str, value: str, pattern: str) -> None:
    """``Member must satisfy regular expression pattern: ...`` (the whole value must match).

    Parameters
    ----------
    out : list
        Violations found so far; a broken rule appends a :class:`Violation`.
    path : str
        The member's path in the message (``streamName``, ``shardFilter.type``, ...).
    value : str
    pattern : str
        A regular expression, compiled once and cached.
    """
    rx = _compiled.get(pattern)
    if rx is None:
        rx = _compiled[pattern] = re.compile(pattern)
    if rx.fullmatch(value) is None:
        out.append(Violation(value_repr(value), path, f"Member must satisfy regular expression pattern: {pattern}"))


def check_int_range(out: list, path: str, value: int, lo: int | None, hi: int | None) -> None:
    """``Member must have value greater/less than or equal to ...``.

    Parameters
    ----------
    out : list
        Violations found so far; a broken rule appends a :class:`Violation`.
    path : str
        The member's path in the message (``streamName``, ``shardFilter.type``, ...).
    value : int
    lo, hi : int or None
        Inclusive bounds (None: none).
    """
    if lo is not None and value < lo:
        out.append(Violation(value_repr(value), path, f"Member must have value greater than or equal to {lo}"))
    if hi is not None and value > hi:
        out.append(Violation(value_repr(value), path, f"Member must have value less than or equal to {hi}"))


def check_enum(out: list, path: str, value: str, allowed: list[str]) -> None:
    """``Member must satisfy enum value set: [...]``.

    Parameters
    ----------
    out : list
        Violations found so far; a broken rule appends a :class:`Violation`.
    path : str
        The member's path in the message (``streamName``, ``shardFilter.type``, ...).
    value : str
    allowed : list of str
        In the order the message lists them.
    """
    if value not in allowed:
        out.append(Violation(value_repr(value), path, f"Member must satisfy enum value set: [{', '.join(allowed)}]"))


def check_name(out: list, path: str, value, *, required: bool = True) -> None:
    """Stream, shard and consumer names: 1-128 characters of ``[a-zA-Z0-9_.-]``.

    Parameters
    ----------
    out : list
        Violations found so far; a broken rule appends a :class:`Violation`.
    path : str
        The member's path in the message (``streamName``, ``shardFilter.type``, ...).
    value : str or None
    required : bool
        Whether None is a violation (``Member must not be null``) or passes.
    """
    if value is None:
        if required:
            check_required(out, path, value)
        return
    check_pattern(out, path, value, NAME_PATTERN)
    check_length(out, path, value, 1, 128)


MIN_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 8760


def check_retention(hours) -> None:
    """Raise Kinesis's InvalidArgumentException for a retention outside 24..8760 hours.

    Parameters
    ----------
    hours : int

    Raises
    ------
    SerializationException
        ``hours`` is not an int.
    InvalidArgumentException
        Below 24 or above 8760.
    """
    if not isinstance(hours, int) or isinstance(hours, bool):
        raise SerializationException(f"RetentionPeriodHours must be an int, not {type(hours).__name__}")
    if hours < MIN_RETENTION_HOURS:
        raise InvalidArgumentException(
            f"Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. "
            f"Requested retention period ({hours} hours) is too short."
        )
    if hours > MAX_RETENTION_HOURS:
        raise InvalidArgumentException(
            f"Maximum allowed retention period is {MAX_RETENTION_HOURS} hours. "
            f"Requested retention period ({hours} hours) is too long."
        )


SHARD_FILTER_TYPES = [
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
]


def check_shard_filter(shard_filter) -> None:
    """Validate a ListShards ShardFilter: its Type, and the ShardId or Timestamp that Type needs.

    Parameters
    ----------
    shard_filter : dict or None
        ``{"Type", "ShardId", "Timestamp"}``; None passes.

    Raises
    ------
    SerializationException
        Not a structure.
    ValidationException
        A missing or unknown Type, or a malformed ShardId.
    InvalidArgumentException
        AFTER_SHARD_ID without a ShardId, AT_/FROM_TIMESTAMP without a Timestamp.
    """
    if shard_filter is None:
        return
    if not isinstance(shard_filter, dict):
        raise SerializationException("ShardFilter must be a structure")
    errs: list = []
    kind = shard_filter.get("Type")
    if kind is None:
        errs.append(Violation("null", "shardFilter.type", "Member must not be null"))
    else:
        check_enum(errs, "shardFilter.type", kind, SHARD_FILTER_TYPES)
    if shard_filter.get("ShardId") is not None:
        check_name(errs, "shardFilter.shardId", shard_filter["ShardId"])
    raise_if_any(errs)
    if kind == "AFTER_SHARD_ID" and shard_filter.get("ShardId") is None:
        raise InvalidArgumentException("ShardId must be provided when the ShardFilter type is AFTER_SHARD_ID.")
    if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP") and shard_filter.get("Timestamp") is None:
        raise InvalidArgumentException(f"Timestamp must be provided when the ShardFilter type is {kind}.")
