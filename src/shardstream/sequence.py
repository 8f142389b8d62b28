"""Sequence numbers: 56-digit decimal strings in AWS's (version 2) layout.

A sequence number is the decimal form of 47 hex digits (188 bits; see
``csrc/shardstream/ss_seqnum.h``, which formats them in the core)::

    2 | shard creation, epoch s (9 hex) | shard index & 0xF (1) | counter (16)
      | 00 | record arrival, epoch s (9) | shard index, 32-bit signed (8) | 2

Such a value lies in [2**185, 1.5 * 2**185), so it always has 56 digits and
string order equals integer order; within a shard both follow the counter.
A shard's StartingSequenceNumber has counter 0 (arrival = shard creation), its
first record counter 1, and a closed shard's EndingSequenceNumber the largest
counter, 2**63 - 1 (the counter's top bit stays 0, as AWS's decoders expect).

Parsing also accepts AWS's older layouts (version 0: below 2**129, numbers
below 2**124 being offset by 2**124 first, with the shard index in the low 16
bits; version 1: trailing hex digit ``1``) and shardstream's own layout from
before 2026 (``49 | creation s (10) | shard index (10) | salt (5) | counter
(29)``, version :data:`LEGACY_VERSION`), which streams created before the
change keep accepting.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "END_COUNTER",
    "LEGACY_END_COUNTER",
    "LEGACY_VERSION",
    "SEQUENCE_NUMBER_LENGTH",
    "SequenceNumber",
    "format_sequence_number",
    "parse_legacy_sequence_number",
    "parse_sequence_number",
    "sequence_counter",
    "sequence_number_column",
    "shard_created_s",
]

SEQUENCE_NUMBER_LENGTH = 56
#: Counter of a closed shard's EndingSequenceNumber (the largest counter).
END_COUNTER = 2**63 - 1
#: Version of shardstream's pre-2026 layout (its leading digits).
LEGACY_VERSION = 49
#: The EndingSequenceNumber counter of the legacy layout.
LEGACY_END_COUNTER = 2**64 - 1
MAX_SECONDS = 2**36 - 1

_POW_2_124 = 2**124
_POW_2_129 = 2**129
_POW_2_185 = 2**185
_V2_END = 3 * 2**184  # 1.5 * 2**185
_LEGACY_PREFIX_LENGTH = 27


class SequenceNumber(NamedTuple):
    """The fields of a sequence number.

    Attributes
    ----------
    shard_created_s : int
        The shard's creation time, epoch seconds.
    shard_index : int
        The shard's index (signed 32-bit in AWS's layouts).
    counter : int or None
        Position within the shard (None in AWS's version 0 and 1 layouts,
        which shardstream never issued).
    arrival_s : int or None
        The record's arrival time, epoch seconds (None where the layout has none).
    version : int
        2 (current), 1 or 0 (AWS's older layouts) or :data:`LEGACY_VERSION`.
    salt : int or None
        The stream incarnation salt of the legacy layout.
    """

    shard_created_s: int
    shard_index: int
    counter: int | None
    arrival_s: int | None
    version: int = 2
    salt: int | None = None

    @property
    def shard_id(self) -> str:
        """``shardId-<index:012d>`` (``shardId--02147483648`` for a negative index, as Kinesis prints it)."""
        return f"shardId-{self.shard_index:012d}"

    def __str__(self) -> str:
        if self.version == LEGACY_VERSION:
            return _format_legacy(self.shard_created_s, self.shard_index, self.salt, self.counter)
        if self.version != 2:
            raise ValueError(f"cannot format a version {self.version} sequence number")
        return format_sequence_number(self.shard_created_s, self.shard_index, self.counter, self.arrival_s)


def shard_created_s(created_ms: int, parents_created_s=()) -> int:
    """The creation second a shard's sequence numbers carry.

    A shard's own creation second; a child's is one second later than both
    its creation (its parents' close) and its parents' field, as in Kinesis,
    so that its numbers exceed its parents' EndingSequenceNumbers.

    Parameters
    ----------
    created_ms : int
        The shard's creation time.
    parents_created_s : iterable of int
        This value for each parent (none for an initial shard).
    """
    parents = list(parents_created_s)
    own = max(created_ms, 0) // 1000
    return max(own, *parents) + 1 if parents else own


def format_sequence_number(shard_created_s: int, shard_index: int, counter: int, arrival_s: int) -> str:
    """The 56-digit sequence number of a record (the core formats the same digits in C).

    Parameters
    ----------
    shard_created_s : int
        Shard creation, epoch seconds (36 bits).
    shard_index : int
        0 to 2**31 - 1 (or a negative 32-bit index).
    counter : int
        0 to :data:`END_COUNTER`.
    arrival_s : int
        The record's arrival, epoch seconds (36 bits).
    """
    if not (
        0 <= shard_created_s <= MAX_SECONDS
        and -(2**31) <= shard_index < 2**31
        and 0 <= counter <= END_COUNTER
        and 0 <= arrival_s <= MAX_SECONDS
    ):
        raise ValueError("sequence-number fields out of range")
    index = shard_index & 0xFFFFFFFF
    value = (
        (2 << 184)
        | (shard_created_s << 148)
        | ((index & 0xF) << 144)
        | (counter << 80)
        | (arrival_s << 36)
        | (index << 4)
        | 2
    )
    return str(value)


def _signed32(value: int) -> int:
    return value - 2**32 if value >= 2**31 else value


def _format_legacy(shard_created_s: int, shard_index: int, salt: int, counter: int) -> str:
    return f"49{shard_created_s:010d}{shard_index:010d}{salt:05d}{counter:029d}"


def _is_digits(text) -> bool:
    return isinstance(text, str) and 0 < len(text) <= 129 and text.isascii() and text.isdigit()


def parse_sequence_number(text) -> SequenceNumber | None:
    """The fields of a sequence number in one of AWS's layouts, or None.

    Version 2 numbers must be well formed (leading and trailing ``2``, the
    ``00`` byte, matching shard-index digits, counter top bit 0).  A
    56-digit number that is not, but fits shardstream's pre-2026 layout,
    parses as that (:data:`LEGACY_VERSION`).

    Parameters
    ----------
    text : str
        A candidate sequence number.
    """
    if not _is_digits(text):
        return None
    value = int(text)
    if value < _POW_2_124:
        value += _POW_2_124
    if value < _POW_2_129:  # version 0: 1 | creation s (9 hex) | byte | 16 hex | shard index (4 hex)
        created = (value >> 88) & MAX_SECONDS
        if created >= 16025175000:
            return None
        return SequenceNumber(created, value & 0xFFFF, None, None, 0)
    if _POW_2_185 < value < _V2_END:
        version = value & 0xF
        if version == 2:
            parsed = _parse_v2(value)
            if parsed is not None:
                return parsed
        elif version == 1:  # 2 | creation (9) | nibble | byte | seq time (9) | 14 hex | seq ix (2) | index (8) | 1
            created, index, written = (
                (value >> 148) & MAX_SECONDS,
                (value >> 4) & 0xFFFFFFFF,
                (value >> 100) & MAX_SECONDS,
            )
            return SequenceNumber(created, _signed32(index), None, written, 1)
    return parse_legacy_sequence_number(text)


def _parse_v2(value: int) -> SequenceNumber | None:
    counter = (value >> 80) & 0xFFFFFFFFFFFFFFFF
    index = (value >> 4) & 0xFFFFFFFF
    if counter > END_COUNTER or (value >> 72) & 0xFF or (value >> 144) & 0xF != index & 0xF:
        return None
    return SequenceNumber((value >> 148) & MAX_SECONDS, _signed32(index), counter, (value >> 36) & MAX_SECONDS)


def parse_legacy_sequence_number(text) -> SequenceNumber | None:
    """The fields of a number in shardstream's pre-2026 layout, or None.

    ``49 | creation s (10) | shard index (10) | salt (5) | counter (29)``; the
    legacy EndingSequenceNumber (counter 2**64 - 1) parses with counter
    :data:`END_COUNTER`.

    Parameters
    ----------
    text : object
        Anything; only a 56-digit string starting ``49`` can parse.

    Returns
    -------
    SequenceNumber or None
        None when ``text`` is not a number in that layout.
    """
    if not (_is_digits(text) and len(text) == SEQUENCE_NUMBER_LENGTH and text.startswith("49")):
        return None
    counter = int(text[_LEGACY_PREFIX_LENGTH:])
    if counter > LEGACY_END_COUNTER:
        return None
    if counter == LEGACY_END_COUNTER:
        counter = END_COUNTER
    elif counter >= END_COUNTER:
        return None
    return SequenceNumber(int(text[2:12]), int(text[12:22]), counter, None, LEGACY_VERSION, int(text[22:27]))


def sequence_number_column(shard_created_s: int, shard_index: int, counters, arrivals_ms):
    """The sequence numbers of one shard's records as an Arrow string array (formatted in C).

    Parameters
    ----------
    shard_created_s : int
    shard_index : int
    counters : array-like of uint64
    arrivals_ms : array-like of int64
        Arrival times, ms since the epoch.
    """
    from ._native import format_shard_sequence_numbers

    return format_shard_sequence_numbers(shard_created_s, shard_index, counters, arrivals_ms)


def sequence_counter(text) -> int:
    """The counter a shardstream sequence number (either layout) encodes.

    Parameters
    ----------
    text : str

    Returns
    -------
    int

    Raises
    ------
    ValueError
        ``text`` is not one.
    """
    parsed = parse_sequence_number(text)
    if parsed is None or parsed.counter is None:  # an old-layout number may also read as AWS's version 1
        parsed = parse_legacy_sequence_number(text)
    if parsed is None:
        raise ValueError(f"not a shardstream sequence number: {text!r}")
    return parsed.counter
