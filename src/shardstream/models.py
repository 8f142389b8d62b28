"""Plain descriptions of streams and shards, and how Kinesis reads a shard id."""

from __future__ import annotations

import dataclasses
import datetime as _dt

from .errors import ResourceNotFoundException

__all__ = [
    "HASH_KEY_MAX",
    "ShardInfo",
    "parse_shard_index",
    "shard_does_not_exist",
    "shard_index_of",
    "shard_sort_key",
    "uniform_ranges",
]

HASH_KEY_MAX = 2**128 - 1


def parse_shard_index(shard_id, *, bounded: bool = True) -> int | None:
    """The index a shard id names, read as Kinesis reads it, or None.

    Kinesis takes the digits after the first ``-`` (the whole text when there
    is none): ``shardId-5``, ``shard-5``, ``5`` and ``shardId-000000000005``
    all name shard 5.  Non-numeric values name none, and so (when ``bounded``)
    do values above 2**31 - 1.

    Parameters
    ----------
    shard_id : object
        Read as ``str(shard_id)``.
    bounded : bool
        Refuse indexes above 2**31 - 1 (a Java int), as Kinesis does.

    Returns
    -------
    int or None
    """
    text = str(shard_id)
    digits = text.split("-", 1)[1] if "-" in text else text
    if not (digits.isascii() and digits.isdigit()):
        return None
    index = int(digits)
    return index if index <= 2147483647 or not bounded else None


def shard_index_of(shard_id, stream_name: str, account_id: str) -> int:
    """The shard index a ShardId argument names, parsed as Kinesis parses it before looking anything up.

    Parameters
    ----------
    shard_id : str
        The id as given: the decimal number after its first ``-`` (the whole
        text when there is none), at most 2147483647.
    stream_name, account_id : str
        For the error message.

    Raises
    ------
    ResourceNotFoundException
        The id names no index: ``Could not find shard <id as given> in stream
        <name> under account <acct>.`` (whether or not the stream exists).
    """
    index = parse_shard_index(shard_id)
    if index is None:
        raise ResourceNotFoundException(
            f"Could not find shard {shard_id} in stream {stream_name} under account {account_id}."
        )
    return index


def shard_does_not_exist(index: int, stream_name: str, account_id: str) -> ResourceNotFoundException:
    """GetShardIterator's error for a shard (or its stream) that does not exist.

    Parameters
    ----------
    index : int
        The shard index asked for.
    stream_name, account_id : str
        For the message.

    Returns
    -------
    ResourceNotFoundException
    """
    return ResourceNotFoundException(
        f"Shard shardId-{index:012d} in stream {stream_name} under account {account_id} does not exist"
    )


def shard_sort_key(shard_id: str) -> int:
    """The index of an ExclusiveStartShardId-style argument; -1 (before every shard) if it names none.

    Parameters
    ----------
    shard_id : str
        As given, parsed as :func:`parse_shard_index` parses it (without the upper bound).
    """
    index = parse_shard_index(shard_id, bounded=False)
    return -1 if index is None else index


def uniform_ranges(shard_count: int) -> list[tuple[int, int]]:
    """The hash-key ranges Kinesis gives ``shard_count`` new shards.

    ``step = 2**128 // N``; shard i covers ``[i * step, (i + 1) * step - 1]``
    and the last shard ends at ``2**128 - 1``, absorbing the remainder.

    Parameters
    ----------
    shard_count : int

    Returns
    -------
    list of (int, int)
        ``(starting_hash_key, ending_hash_key)`` per shard, inclusive.

    Raises
    ------
    ValueError
        ``shard_count`` is below 1.
    """
    if shard_count < 1:
        raise ValueError("shard_count must be at least 1")
    step = 2**128 // shard_count
    ranges = [(i * step, (i + 1) * step - 1) for i in range(shard_count)]
    ranges[-1] = (ranges[-1][0], HASH_KEY_MAX)
    return ranges


@dataclasses.dataclass
class ShardInfo:
    """One shard's place in its stream: index, hash-key range and lineage.

    Attributes
    ----------
    index : int
        The number in the shard id.
    starting_hash_key, ending_hash_key : int
        The inclusive hash-key range.
    created_ms : int
        Epoch milliseconds.
    parent, adjacent_parent : str or None
        The shard ids of the parents (a split has one, a merge two).
    closed_ms : int or None
        When a reshard closed the shard (None while open).
    """

    index: int
    starting_hash_key: int
    ending_hash_key: int
    created_ms: int
    parent: str | None = None
    adjacent_parent: str | None = None
    closed_ms: int | None = None

    @property
    def shard_id(self) -> str:
        """``shardId-`` and the index in 12 digits."""
        return f"shardId-{self.index:012d}"

    @property
    def is_open(self) -> bool:
        """No reshard has closed the shard."""
        return self.closed_ms is None

    def contains(self, hash_key: int) -> bool:
        """Whether ``hash_key`` lies in the shard's range (both ends included)."""
        return self.starting_hash_key <= hash_key <= self.ending_hash_key

    def to_doc(self) -> dict:
        """A JSON-ready dict (hash keys as decimal strings), as stored in ``stream.json``."""
        doc = dataclasses.asdict(self)
        doc["starting_hash_key"] = str(self.starting_hash_key)
        doc["ending_hash_key"] = str(self.ending_hash_key)
        return doc

    @classmethod
    def from_doc(cls, doc: dict) -> ShardInfo:
        """The inverse of :meth:`to_doc`: the ShardInfo a ``doc`` from it describes."""
        fields = {f.name: doc.get(f.name) for f in dataclasses.fields(cls)}
        fields["starting_hash_key"] = int(fields["starting_hash_key"])
        fields["ending_hash_key"] = int(fields["ending_hash_key"])
        return cls(**fields)

    def describe(self, starting_sequence_number: str, ending_sequence_number: str | None) -> dict:
        """The boto3 ``Shard`` shape.

        Parameters
        ----------
        starting_sequence_number : str
        ending_sequence_number : str or None
            None while the shard is open (the range then has no end).

        Returns
        -------
        dict
            ``ShardId``, the parents present, ``HashKeyRange`` and ``SequenceNumberRange``.
        """
        shard = {"ShardId": self.shard_id}
        if self.parent is not None:
            shard["ParentShardId"] = self.parent
        if self.adjacent_parent is not None:
            shard["AdjacentParentShardId"] = self.adjacent_parent
        shard["HashKeyRange"] = {
            "StartingHashKey": str(self.starting_hash_key),
            "EndingHashKey": str(self.ending_hash_key),
        }
        rng = {"StartingSequenceNumber": starting_sequence_number}
        if ending_sequence_number is not None:
            rng["EndingSequenceNumber"] = ending_sequence_number
        shard["SequenceNumberRange"] = rng
        return shard


def ms_to_datetime(ms: int) -> _dt.datetime:
    """Epoch milliseconds ``ms`` as an aware UTC datetime."""
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc)


def to_epoch_ms(value) -> int:
    """A timestamp in epoch milliseconds (rounded).

    Parameters
    ----------
    value : datetime, int or float
        A datetime (naive ones are taken as UTC), or epoch seconds.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        Anything else (bools included).
    """
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(round(value.timestamp() * 1000))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(round(value * 1000))
    raise TypeError(f"expected a datetime or epoch seconds, got {type(value).__name__}")
