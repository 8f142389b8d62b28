"""Sequence numbers: 56-digit decimal strings that name a shard and a position.

Layout (see ``csrc/shardstream/ss_seqnum.h``, which formats them in the core)::

    49 | shard creation, epoch s (10) | shard index (10) | stream salt (5) | counter (29)

Within a shard, string order, integer order and counter order agree.  A
shard's StartingSequenceNumber has counter 0, its first record counter 1, and
a closed shard's EndingSequenceNumber the largest counter, 2**64 - 1.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "END_COUNTER",
    "SEQUENCE_NUMBER_LENGTH",
    "SequenceNumber",
    "format_sequence_number",
    "parse_sequence_number",
    "shard_prefix",
]

SEQUENCE_NUMBER_LENGTH = 56
PREFIX_LENGTH = 27
LAYOUT_MARKER = "49"
END_COUNTER = 2**64 - 1


class SequenceNumber(NamedTuple):
    """The fields of a sequence number."""

    shard_created_s: int
    shard_index: int
    salt: int
    counter: int

    @property
    def shard_id(self) -> str:
        return f"shardId-{self.shard_index:012d}"

    def __str__(self) -> str:
        return format_sequence_number(shard_prefix(self.shard_created_s, self.shard_index, self.salt), self.counter)


def shard_prefix(shard_created_s: int, shard_index: int, salt: int) -> str:
    """The 27 digits every sequence number of one shard starts with."""
    if not (0 <= shard_created_s < 10**10 and 0 <= shard_index < 10**10 and 0 <= salt < 10**5):
        raise ValueError("sequence-number fields out of range")
    return f"{LAYOUT_MARKER}{shard_created_s:010d}{shard_index:010d}{salt:05d}"


def format_sequence_number(prefix: str, counter: int) -> str:
    """``prefix`` followed by ``counter`` as 29 zero-padded digits."""
    return f"{prefix}{counter:029d}"


def parse_sequence_number(text) -> SequenceNumber | None:
    """The fields of a shardstream sequence number, or None if ``text`` is not one.

    Parameters
    ----------
    text : str
        A candidate sequence number.
    """
    if (
        not isinstance(text, str)
        or len(text) != SEQUENCE_NUMBER_LENGTH
        or not text.isascii()
        or not text.isdigit()
        or not text.startswith(LAYOUT_MARKER)
    ):
        return None
    counter = int(text[PREFIX_LENGTH:])
    if counter > END_COUNTER:
        return None
    return SequenceNumber(int(text[2:12]), int(text[12:22]), int(text[22:27]), counter)
