"""A small pure-Python reference model of routing and the shard ring, for property tests.

Nothing here is used by the engine: it restates, as plainly as possible, what the
Kinesis semantics (and the engine's docs) say the native core does, so that tests can
drive the engine and this model side by side and compare.

* routing: partition key -> MD5 hash key (big-endian) or an explicit hash key
  -> the **open** shard whose inclusive ``[start, end]`` range contains it;
* CreateStream's even split of ``[0, 2**128 - 1]`` into N shards;
* SplitShard / MergeShards (children take the next indexes, parents close);
* a shard ring: per-shard counters from 1, reads from a counter with a record
  limit and a data-byte limit (at least one record if any), retention, and a
  capacity that refuses writes when full;
* sequence numbers in the 56-digit version 2 layout of :mod:`shardstream.sequence`.

Left out: eviction (``evict_oldest``), durable streams' visibility limit, AUTO
record distribution, SequenceNumberForOrdering and UpdateShardCount.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

HASH_KEY_MAX = 2**128 - 1


def hash_key(partition_key: str, explicit_hash_key: int | str | None = None) -> int:
    """The 128-bit hash key a record is routed by.

    Parameters
    ----------
    partition_key : str
        Hashed as ``int.from_bytes(md5(utf8(key)).digest(), "big")``.
    explicit_hash_key : int or str, optional
        Overrides the partition key when given (decimal string or int).
    """
    if explicit_hash_key is not None:
        value = int(explicit_hash_key)
        if not 0 <= value <= HASH_KEY_MAX:
            raise ValueError(f"explicit hash key out of range: {value}")
        return value
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def even_split(shard_count: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` hash-key ranges CreateStream gives ``shard_count`` shards.

    ``step = 2**128 // N``; shard i covers ``[i * step, (i + 1) * step - 1]``
    and the last one ends at ``2**128 - 1``.
    """
    if shard_count < 1:
        raise ValueError("shard_count must be at least 1")
    step = (HASH_KEY_MAX + 1) // shard_count
    return [(i * step, HASH_KEY_MAX if i == shard_count - 1 else (i + 1) * step - 1) for i in range(shard_count)]


def sequence_number(created_s: int, shard_index: int, counter: int, arrival_ms: int) -> str:
    """The 56-digit sequence number of record ``counter`` of a shard.

    ``2 | creation s (9 hex) | index & 0xF | counter (16 hex) | 00 | arrival s (9 hex) | index (8 hex) | 2``.
    """
    hexdigits = f"2{created_s:09x}{shard_index & 0xF:x}{counter:016x}00{arrival_ms // 1000:09x}{shard_index:08x}2"
    return str(int(hexdigits, 16))


SLOT_BYTES = 24  # index bytes per record, counted against a ring's capacity


def footprint(partition_key: str, data: bytes) -> int:
    """What one record costs against a ring's capacity: key (UTF-8) + data + :data:`SLOT_BYTES`."""
    return len(partition_key.encode("utf-8")) + len(data) + SLOT_BYTES


@dataclass
class Record:
    """One record as the model holds it."""

    counter: int
    partition_key: str
    data: bytes
    arrival_ms: int


@dataclass
class ShardRing:
    """The records of one shard, numbered by consecutive counters from 1.

    Parameters
    ----------
    retention_ms : int
        Records that arrived more than this long before "now" are trimmed
        (one exactly ``retention_ms`` old is kept).
    capacity_bytes : int, optional
        Bound on the live key + data bytes plus :data:`SLOT_BYTES` per record
        (writes that do not fit are refused; the model does not evict).
    """

    retention_ms: int
    capacity_bytes: int | None = None
    records: list[Record] = field(default_factory=list)
    tail: int = 1  # counter the next record receives
    last_arrival_ms: int | None = None  # of the newest record ever appended (trimmed or not)

    @property
    def head(self) -> int:
        """Counter of the oldest retained record (``tail`` when empty)."""
        return self.records[0].counter if self.records else self.tail

    def room(self, now_ms: int) -> float:
        """Bytes still free at ``now_ms`` (after trimming)."""
        self.trim(now_ms)
        used = sum(footprint(r.partition_key, r.data) for r in self.records)
        return float("inf") if self.capacity_bytes is None else self.capacity_bytes - used

    def append(self, partition_key: str, data: bytes, arrival_ms: int) -> Record:
        """Append a record; arrival times never go backwards within a shard (a clock stepping back is ignored)."""
        if self.last_arrival_ms is not None:
            arrival_ms = max(arrival_ms, self.last_arrival_ms)
        self.last_arrival_ms = arrival_ms
        record = Record(self.tail, partition_key, bytes(data), arrival_ms)
        self.records.append(record)
        self.tail += 1
        return record

    def trim(self, now_ms: int) -> int:
        """Drop the records older than retention at ``now_ms``; returns how many."""
        keep = [r for r in self.records if r.arrival_ms >= now_ms - self.retention_ms]
        dropped = len(self.records) - len(keep)
        self.records = keep
        return dropped

    def read(self, start: int, limit: int, max_data_bytes: int, now_ms: int) -> tuple[list[Record], int]:
        """Kinesis's GetRecords on this ring: ``(records, next_counter)``.

        Trims first; a ``start`` behind the oldest record starts there.  Stops
        after ``limit`` records, or before the data bytes would exceed
        ``max_data_bytes`` -- but returns at least one record if there is one.
        """
        self.trim(now_ms)
        start = max(start, self.head)
        out: list[Record] = []
        total = 0
        for record in self.records[start - self.head :]:
            if len(out) == limit or (out and total + len(record.data) > max_data_bytes):
                break
            out.append(record)
            total += len(record.data)
        return out, start + len(out)


@dataclass
class Shard:
    """A shard of the model: index, inclusive hash-key range, lineage, close time (None while open)."""

    index: int
    start: int
    end: int
    created_s: int
    parents: tuple[str, ...] = ()
    closed_ms: int | None = None

    @property
    def shard_id(self) -> str:
        """``shardId-`` and the index in 12 digits."""
        return f"shardId-{self.index:012d}"

    @property
    def open(self) -> bool:
        """Whether the shard still takes writes (not split or merged)."""
        return self.closed_ms is None


class StreamModel:
    """A stream: shards (open and closed) with one :class:`ShardRing` each.

    Parameters
    ----------
    shard_count : int
        Initial shards, laid out by :func:`even_split`.
    created_ms : int
        Creation time (the initial shards' sequence numbers carry its second).
    retention_ms : int
        Per-ring retention.
    capacity_bytes : int, optional
        Per-ring capacity (default: unbounded).
    """

    def __init__(
        self, shard_count: int, created_ms: int, retention_ms: int = 24 * 3_600_000, capacity_bytes: int | None = None
    ):
        self.retention_ms, self.capacity_bytes = retention_ms, capacity_bytes
        self.shards: list[Shard] = []
        self.rings: list[ShardRing] = []
        for start, end in even_split(shard_count):
            self._add(start, end, created_ms // 1000)

    def _add(self, start: int, end: int, created_s: int, parents: tuple[str, ...] = ()) -> Shard:
        shard = Shard(len(self.shards), start, end, created_s, parents)
        self.shards.append(shard)
        self.rings.append(ShardRing(self.retention_ms, self.capacity_bytes))
        return shard

    def shard(self, shard_id: str) -> Shard:
        """The shard named ``shardId-<index:012d>``."""
        return self.shards[int(shard_id.rsplit("-", 1)[1])]

    def listed_shards(self, now_ms: int) -> list[Shard]:
        """Shards still listed (and readable) at ``now_ms``: all but those closed longer than retention ago."""
        return [s for s in self.shards if s.open or s.closed_ms >= now_ms - self.retention_ms]

    def open_shards(self) -> list[Shard]:
        """The open shards in hash-key order (they tile the whole space)."""
        return sorted((s for s in self.shards if s.open), key=lambda s: s.start)

    def route(self, partition_key: str, explicit_hash_key: int | str | None = None) -> Shard:
        """The open shard whose inclusive range contains the record's hash key."""
        h = hash_key(partition_key, explicit_hash_key)
        (shard,) = [s for s in self.shards if s.open and s.start <= h <= s.end]
        return shard

    def put(self, partition_key: str, data: bytes, arrival_ms: int, explicit_hash_key=None) -> tuple[str, str]:
        """Write one record, capacity unchecked (see :meth:`put_many`); returns ``(shard_id, sequence_number)``."""
        shard = self.route(partition_key, explicit_hash_key)
        record = self.rings[shard.index].append(partition_key, data, arrival_ms)
        return shard.shard_id, self.sequence_number(shard, record)

    def put_many(self, entries, arrival_ms: int, partial: bool) -> list[tuple[str, str] | None] | None:
        """Write ``(partition_key, data, explicit_hash_key)`` entries against the shards' capacity.

        ``partial`` (PutRecords): each shard takes the longest prefix of its
        entries that fits; the others fail (None).  Otherwise (put_batch,
        PutRecord) all entries are written or, when any shard lacks room,
        none (returns None).
        """
        shards = [self.route(k, h) for k, _, h in entries]
        room = {s.index: self.rings[s.index].room(arrival_ms) for s in shards}
        fits = []
        for shard, (key, data, _) in zip(shards, entries):
            room[shard.index] -= footprint(key, data)
            fits.append(room[shard.index] >= 0)
            if room[shard.index] < 0:
                room[shard.index] = float("-inf")  # later entries of a full shard fail too
        if not partial and not all(fits):
            return None
        return [self.put(k, d, arrival_ms, h) if ok else None for (k, d, h), ok in zip(entries, fits)]

    def sequence_number(self, shard: Shard, record: Record) -> str:
        """The sequence number of a record of ``shard``."""
        return sequence_number(shard.created_s, shard.index, record.counter, record.arrival_ms)

    def split(self, shard_id: str, new_starting_hash_key: int, now_ms: int) -> tuple[Shard, Shard]:
        """SplitShard: children ``[start, new - 1]`` and ``[new, end]``; the parent closes."""
        parent = self.shard(shard_id)
        if not parent.open or not parent.start + 1 < new_starting_hash_key < parent.end:
            raise ValueError(f"cannot split {shard_id} at {new_starting_hash_key}")
        created_s = max(now_ms // 1000, parent.created_s) + 1
        parent.closed_ms = now_ms
        return (
            self._add(parent.start, new_starting_hash_key - 1, created_s, (shard_id,)),
            self._add(new_starting_hash_key, parent.end, created_s, (shard_id,)),
        )

    def merge(self, shard_id: str, adjacent_shard_id: str, now_ms: int) -> Shard:
        """MergeShards: ``shard_id`` must be the lower neighbour; both parents close."""
        left, right = self.shard(shard_id), self.shard(adjacent_shard_id)
        if not (left.open and right.open and left.end + 1 == right.start):
            raise ValueError(f"cannot merge {shard_id} and {adjacent_shard_id}")
        left.closed_ms = right.closed_ms = now_ms
        created_s = max(now_ms // 1000, left.created_s, right.created_s) + 1
        return self._add(left.start, right.end, created_s, (shard_id, adjacent_shard_id))

    def children(self, shard_id: str) -> list[Shard]:
        """The shards that name ``shard_id`` as a parent, in index order."""
        return [s for s in self.shards if shard_id in s.parents]
