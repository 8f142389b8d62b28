"""Kinesis's model-constraint checks and their exact ``ValidationException`` texts.

A message lists at most ten violations::

    1 validation error detected: Value 'x' at 'streamName' failed to satisfy constraint: ...
"""

from __future__ import annotations

import re

from .errors import ValidationException

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
    """How Kinesis shows a value in a validation message."""
    if value is None:
        return "null"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "'" + blob_repr(len(value)) + "'"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    return f"'{value}'"


def blob_repr(length: int) -> str:
    return f"java.nio.HeapByteBuffer[pos=0 lim={length} cap={length}]"


def render(violations: list) -> str:
    shown = violations[:10]
    count = len(shown)
    head = f"{count} validation error{'s' if count != 1 else ''} detected: "
    return head + "; ".join(f"Value {v} at '{p}' failed to satisfy constraint: {r}" for v, p, r in shown)


def raise_if_any(violations: list) -> None:
    """Raise one ValidationException listing ``violations`` (if there are any)."""
    if violations:
        raise ValidationException(render(violations))


def check_required(out: list, path: str, value) -> bool:
    if value is None:
        out.append(Violation("null", path, "Member must not be null"))
        return False
    return True


def check_length(out: list, path: str, value, lo: int | None, hi: int | None, *, shown=None) -> None:
    n = len(value)
    rep = value_repr(value) if shown is None else shown
    if lo is not None and n < lo:
        out.append(Violation(rep, path, f"Member must have length greater than or equal to {lo}"))
    if hi is not None and n > hi:
        out.append(Violation(rep, path, f"Member must have length less than or equal to {hi}"))


def check_pattern(out: list, path: str, value: str, pattern: str) -> None:
    rx = _compiled.get(pattern)
    if rx is None:
        rx = _compiled[pattern] = re.compile(pattern)
    if rx.fullmatch(value) is None:
        out.append(Violation(value_repr(value), path, f"Member must satisfy regular expression pattern: {pattern}"))


def check_int_range(out: list, path: str, value: int, lo: int | None, hi: int | None) -> None:
    if lo is not None and value < lo:
        out.append(Violation(value_repr(value), path, f"Member must have value greater than or equal to {lo}"))
    if hi is not None and value > hi:
        out.append(Violation(value_repr(value), path, f"Member must have value less than or equal to {hi}"))


def check_enum(out: list, path: str, value: str, allowed: list[str]) -> None:
    if value not in allowed:
        out.append(Violation(value_repr(value), path, f"Member must satisfy enum value set: [{', '.join(allowed)}]"))


def check_name(out: list, path: str, value, *, required: bool = True) -> None:
    """Stream, shard and consumer names: 1-128 characters of ``[a-zA-Z0-9_.-]``."""
    if value is None:
        if required:
            check_required(out, path, value)
        return
    check_pattern(out, path, value, NAME_PATTERN)
    check_length(out, path, value, 1, 128)
