"""How one stream makes and reads its sequence numbers.

:class:`StreamNumbering` is a part of :class:`~shardstream.Stream`: the
number of a shard's counter (with its arrival second, as AWS lays them out),
whether a number given back to the stream is one of its own (including a
pre-2026 stream's legacy numbers), and the checks of PutRecord's
SequenceNumberForOrdering.  The layouts themselves are :mod:`shardstream.sequence`'s.
"""

from __future__ import annotations

from . import validation as v
from .errors import InvalidArgumentException, SerializationException
from .models import ShardInfo
from .sequence import (
    END_COUNTER,
    LEGACY_VERSION,
    SequenceNumber,
    format_sequence_number,
    parse_legacy_sequence_number,
    parse_sequence_number,
)

__all__ = ["StreamNumbering"]


class StreamNumbering:
    """The sequence numbers of one stream.

    Parameters
    ----------
    stream : Stream
    """

    def __init__(self, stream):
        self.stream = stream

    def sequence_number(self, shard: ShardInfo, counter: int, arrival_ms: int | None = None) -> str:
        """The sequence number of ``counter`` in ``shard``.

        Without ``arrival_ms``: counter 0 (StartingSequenceNumber) carries the
        shard's creation time, the EndingSequenceNumber its close time, and
        any other counter its record's arrival if the ring holds it, else the
        creation time (the counter alone fixes the order within the shard).

        Parameters
        ----------
        shard : ShardInfo
        counter : int
            The record's position in the shard (``END_COUNTER``: the EndingSequenceNumber).
        arrival_ms : int, optional
            The arrival time to encode (its second is kept).
        """
        if arrival_ms is None:
            if counter == 0:
                arrival_ms = shard.created_ms
            elif counter == END_COUNTER and shard.closed_ms is not None:
                arrival_ms = shard.closed_ms
            else:
                return self.stream.logs[shard.index].sequence_number(counter)
        created_s = self.stream.logs[shard.index].created_s
        return format_sequence_number(created_s, shard.index, counter, max(arrival_ms, 0) // 1000)

    def parse_sequence(self, text: str) -> SequenceNumber | None:
        """``text`` parsed as this stream reads it: a stream from before 2026 also takes its legacy numbers."""
        parsed = parse_sequence_number(text)
        if self.stream.sequence_layout == LEGACY_VERSION and not self.is_own(parsed):
            legacy = parse_legacy_sequence_number(text)
            if self.is_own(legacy):
                return legacy
        return parsed

    def is_own(self, parsed: SequenceNumber | None) -> bool:
        """Whether ``parsed`` names a shard of this stream (index, creation second, layout, salt)."""
        if parsed is None or parsed.counter is None or not 0 <= parsed.shard_index < len(self.stream.shards):
            return False
        if parsed.version == LEGACY_VERSION:  # the old layout carried the shard's own creation second
            return (
                self.stream.sequence_layout == LEGACY_VERSION
                and parsed.salt == self.stream.salt
                and parsed.shard_created_s == self.stream.shards[parsed.shard_index].created_ms // 1000
            )
        return parsed.version == 2 and parsed.shard_created_s == self.stream.logs[parsed.shard_index].created_s

    # -- writes ------------------------------------------------------------------

    def check_ordering(self, sequence_number_for_ordering) -> None:
        """InvalidArgumentException unless ``sequence_number_for_ordering`` is one Kinesis would take here.

        Parameters
        ----------
        sequence_number_for_ordering : str

        Raises
        ------
        SerializationException, ValidationException
            Not a str, or not a sequence number's digits.
        InvalidArgumentException
            A number Kinesis would refuse (version 0, or one of this stream's not yet assigned, ...).
        """
        value = sequence_number_for_ordering
        if not isinstance(value, str):
            raise SerializationException(f"SequenceNumberForOrdering must be a str, not {type(value).__name__}")
        errs: list = []
        v.check_pattern(errs, "sequenceNumberForOrdering", value, v.SEQUENCE_NUMBER_PATTERN)
        v.raise_if_any(errs)
        parsed = self.parse_sequence(value)
        invalid = InvalidArgumentException(
            f"ExclusiveMinimumSequenceNumber {value} used in PutRecord on stream {self.stream.name} "
            f"under account {self.stream.account_id} is invalid."
        )
        # As in Kinesis: any well-formed version 1 or 2 number not from the
        # future (zero fields included); a number of this stream's own must
        # have been assigned already.
        if parsed is None or parsed.version == 0:
            raise invalid
        if self.is_own(parsed):
            if parsed.counter >= self.stream.logs[parsed.shard_index].tail:
                raise invalid  # a number from the future
        elif parsed.version == LEGACY_VERSION:
            raise invalid
        elif parsed.arrival_s is not None and parsed.arrival_s * 1000 > self.stream.now_ms():
            raise invalid  # written in the future
