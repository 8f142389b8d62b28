"""A producer's records: a user record as ``send()`` checks it, and a Kinesis record made of user records.

A user record that breaks a Kinesis limit is refused at ``send()`` with the error Kinesis would answer for
it (the rules of :mod:`shardstream.validation`, the paths of a PutRecord request); nothing is queued.
"""

from __future__ import annotations

import random
import time
from concurrent.futures import Future

from .. import validation as v
from ..errors import InvalidArgumentException, SerializationException

__all__ = ["KinesisRecord", "RecordFuture", "UserRecord", "make_user_record", "random_partition_key"]

HASH_KEY_MAX = 2**128 - 1
_random = random.Random()


def random_partition_key() -> str:
    """A random partition key (32 hex digits): what ``send(data)`` without a key uses."""
    return f"{_random.getrandbits(128):032x}"


class RecordFuture(Future):
    """The :class:`concurrent.futures.Future` of one sent record.

    ``cancel()`` succeeds while the record waits in the producer's queue, and the record is then dropped if
    its batch has not been taken yet; a record already in a batch is still written (its future stays
    cancelled).  The producer never marks these futures running: checking a flag instead of taking each
    future's lock keeps a quarter of the per-record cost off the producer's thread.
    """

    dropped = False  # set by cancel(): the producer skips the record if it has not taken it yet

    def cancel(self) -> bool:
        """Cancel the future (and drop its record unless a batch has taken it); False once it has settled."""
        cancelled = super().cancel()
        if cancelled:
            self.dropped = True
        return cancelled


class UserRecord:
    """One record given to ``send()``: its key, hash key, data and future.

    Parameters
    ----------
    data : bytes
    partition_key : str
    explicit_hash_key : str or None
    size : int
        Data plus partition key (UTF-8) bytes: what Kinesis counts.
    seq : int
        The producer's running number of the record (send order; set again when the buffer takes it).
    """

    __slots__ = ("data", "explicit_hash_key", "future", "partition_key", "sent_at", "seq", "size")

    def __init__(self, data: bytes, partition_key: str, explicit_hash_key: str | None, size: int, seq: int):
        self.data = data
        self.partition_key = partition_key
        self.explicit_hash_key = explicit_hash_key
        self.size = size
        self.seq = seq
        self.future = RecordFuture()
        self.sent_at = time.monotonic()


def make_user_record(data, partition_key, explicit_hash_key, max_record_bytes: int, seq: int = 0) -> UserRecord:
    """Check one record as Kinesis checks a PutRecord; the :class:`UserRecord` if it passes.

    Parameters
    ----------
    data : bytes, bytearray, memoryview or str
        The payload (a str is sent as UTF-8).
    partition_key : str or None
        1 to 256 characters; None draws a :func:`random_partition_key`.
    explicit_hash_key : str or int or None
        A decimal hash key in 0..2**128-1 that routes the record instead of the key.
    max_record_bytes : int
        The stream's largest record (data plus key).
    seq : int
        The record's running number (the buffer numbers the records it takes).

    Returns
    -------
    UserRecord

    Raises
    ------
    SerializationException
        ``data`` is not bytes-like or a str, a key is not a str.
    ValidationException
        A key of the wrong length, data over the limit, a malformed hash key.
    InvalidArgumentException
        Data plus key over the limit, a hash key out of range.
    """
    if type(data) is bytes and type(partition_key) is str and explicit_hash_key is None:  # the common record
        n = len(partition_key)
        if 0 < n <= 256 and partition_key.isascii() and len(data) + n <= max_record_bytes:
            return UserRecord(data, partition_key, None, len(data) + n, seq)
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif type(data) is not bytes:
        try:
            data = memoryview(data).tobytes()  # any buffer (not bytes(n), which makes n zero bytes)
        except TypeError:
            raise SerializationException(f"data must be bytes-like or str, not {type(data).__name__}") from None
    if partition_key is None:
        partition_key = random_partition_key()
    elif type(partition_key) is not str:
        raise SerializationException(f"partition_key must be a str, not {type(partition_key).__name__}")
    errs: list = []
    if not 0 < len(partition_key) <= 256:
        v.check_length(errs, "partitionKey", partition_key, 1, 256)
    if explicit_hash_key is not None:
        if isinstance(explicit_hash_key, int) and not isinstance(explicit_hash_key, bool):
            explicit_hash_key = str(explicit_hash_key)
        if not isinstance(explicit_hash_key, str):
            raise SerializationException(
                f"explicit_hash_key must be a str or int, not {type(explicit_hash_key).__name__}"
            )
        v.check_pattern(errs, "explicitHashKey", explicit_hash_key, v.HASH_KEY_PATTERN)
    if len(data) > max_record_bytes:
        v.check_length(errs, "data", data, None, max_record_bytes)
    v.raise_if_any(errs)
    if explicit_hash_key is not None and int(explicit_hash_key) > HASH_KEY_MAX:
        raise InvalidArgumentException(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            f"Specified value was {explicit_hash_key}"
        )
    size = len(data) + (len(partition_key) if partition_key.isascii() else len(partition_key.encode("utf-8")))
    if size > max_record_bytes:
        raise InvalidArgumentException(
            f"Record size {size} (data + partition key) exceeds the stream's max record size of "
            f"{max_record_bytes} bytes"
        )
    return UserRecord(data, partition_key, explicit_hash_key, size, seq)


class KinesisRecord:
    """One entry of a PutRecords call: a user record, or an aggregate of user records for one shard.

    Parameters
    ----------
    partition_key : str
    explicit_hash_key : str or None
    data : bytes
        What is sent (aggregated and compressed as configured).
    members : list of UserRecord
        The user records it carries, in order (sub-sequence numbers are their positions).
    lane : hashable
        What ``ordered=True`` keeps in order: the shard of an aggregate, else the user record's keys.
    """

    __slots__ = (
        "attempts",
        "data",
        "explicit_hash_key",
        "lane",
        "last_error",
        "members",
        "not_before",
        "partition_key",
        "seq",
        "shard_id",
        "size",
    )

    def __init__(self, partition_key: str, explicit_hash_key: str | None, data: bytes, members: list, lane):
        self.partition_key = partition_key
        self.explicit_hash_key = explicit_hash_key
        self.data = data
        self.members = members
        self.lane = lane
        self.seq = members[0].seq
        self.size = len(data) + (len(partition_key) if partition_key.isascii() else len(partition_key.encode()))
        self.attempts = 0
        self.not_before = 0.0
        self.last_error: BaseException | None = None
        self.shard_id: str | None = None  # the shard it is expected to land in (aggregates)

    @property
    def first_sent_at(self) -> float:
        """When (``time.monotonic``) its oldest user record was given to ``send()``."""
        return self.members[0].sent_at
