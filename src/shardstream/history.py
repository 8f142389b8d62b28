"""Replay: read a stream's history from a data directory as Arrow, with no engine running.

:func:`replay` streams a stream's stored records as a
``pyarrow.RecordBatchReader`` in :data:`~shardstream.schema.RECORD_SCHEMA`;
:func:`replay_dataset` offers the same records as a ``pyarrow.dataset``
that DuckDB and polars query with projection and filter pushdown::

    reader = replay("/var/lib/shardstream", "events", start=datetime(2024, 5, 1))
    duckdb.sql("select partition_key, count(*) from dset group by 1")  # dset = replay_dataset(...)

Order
-----
Shard by shard in shard-index order (a child shard always has a higher index
than its parents, so parents come first), each shard in sequence order.

Bounds
------
``start`` (inclusive) and ``end`` (exclusive) are each one of

* a time: a ``datetime`` (naive means UTC) or epoch **seconds** as an int or
  float, as in Kinesis's ``AT_TIMESTAMP`` (:func:`shardstream.models.to_epoch_ms`);
  every shard then returns the records with ``start <= arrival < end``;
* a sequence number (the 56-digit string Kinesis returns): it bounds the
  shard it encodes.  Without ``shards`` only that shard is read; with
  ``shards`` it must be among them, and the others are read unbounded on
  that side.  ``start`` and ``end`` sequence numbers must encode one shard.

Reading a live directory
------------------------
Shard logs are opened read-only (:class:`~shardstream.storage.log.SegmentLog`
with ``readonly=True``): nothing in the data directory is created, changed or
removed, so a directory an engine is writing can be replayed.  Each shard is
read as of the moment its log is opened; a torn or still-growing newest
segment is read up to its last complete batch.  Batches are zero-copy slices
of memory-mapped segment files.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from .errors import InvalidArgumentException, ResourceNotFoundException
from .keys import KeyStore
from .models import ms_to_datetime, parse_shard_index, to_epoch_ms
from .schema import RECORD_SCHEMA
from .sequence import (
    LEGACY_END_COUNTER,
    LEGACY_VERSION,
    SequenceNumber,
    parse_legacy_sequence_number,
    parse_sequence_number,
    sequence_number_column,
    shard_created_s,
)
from .storage.jsonfile import read_json
from .storage.layout import engine_file, find_stream
from .storage.log import SegmentLog

if TYPE_CHECKING:
    import pyarrow.dataset as ds

__all__ = ["DEFAULT_ACCOUNT_ID", "ReplayPlan", "replay", "replay_dataset"]

#: The account named in error messages when ``engine.json`` does not name one.
DEFAULT_ACCOUNT_ID = "000000000000"

# Epoch seconds must stay below 10**10 (the year 2286).  A larger number is almost surely epoch
# milliseconds passed by mistake, which would otherwise select nothing, silently.
_MAX_EPOCH_S = 10**10

Bound = int | SequenceNumber | None  # epoch ms (a time), a sequence number, or no bound


def _account_id(data_dir) -> str:
    """The account ``<data_dir>/engine.json`` names, or :data:`DEFAULT_ACCOUNT_ID`."""
    path = engine_file(data_dir)
    doc = read_json(path) if path.is_file() else None
    return str(doc.get("account_id", DEFAULT_ACCOUNT_ID)) if isinstance(doc, dict) else DEFAULT_ACCOUNT_ID


def _parse_bound(value, which: str, legacy: bool = False) -> Bound:
    """``value`` as epoch ms (a time) or a :class:`SequenceNumber`; None stays None.

    With ``legacy`` (a stream from before 2026), old-layout numbers are read too.
    """
    if value is None:
        return None
    if isinstance(value, str):
        parsed = parse_sequence_number(value)
        if legacy and (parsed is None or parsed.version != 2):
            parsed = parse_legacy_sequence_number(value) or parsed
        if parsed is None or parsed.counter is None or (parsed.version == LEGACY_VERSION and not legacy):
            raise InvalidArgumentException(
                f"{which} {value!r} is not a sequence number (56 digits); give a time as a datetime or epoch seconds"
            )
        return parsed
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not -_MAX_EPOCH_S < value < _MAX_EPOCH_S:
        raise InvalidArgumentException(
            f"{which} {value!r} is not a time in epoch seconds (finite, and within 10**10 s of 1970, "
            "i.e. before the year 2286); divide epoch milliseconds by 1000"
        )
    try:
        return to_epoch_ms(value)
    except TypeError:
        raise InvalidArgumentException(
            f"{which} must be a datetime, epoch seconds or a sequence number, not {type(value).__name__}"
        ) from None


def _check_order(start: Bound, end: Bound) -> None:
    """Refuse a start after the end, when both are times or both sequence numbers."""
    if isinstance(start, int) and isinstance(end, int) and start > end:
        raise InvalidArgumentException(
            f"start {ms_to_datetime(start).isoformat()} is after end {ms_to_datetime(end).isoformat()}"
        )
    if isinstance(start, SequenceNumber) and isinstance(end, SequenceNumber) and start.counter > end.counter:
        raise InvalidArgumentException(f"start sequence number {start} is after end sequence number {end}")


def _shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


@dataclasses.dataclass(frozen=True)
class _ShardRange:
    """One shard's opened log and the counters to read from it: ``start <= counter < end``."""

    log: SegmentLog | None  # None: the shard has no segment directory, or nothing is in range
    start: int = 0
    end: int | None = None  # None: to the end of the log


_NOTHING = _ShardRange(None)


class ReplayPlan:
    """What a replay reads: a stream, its shards in order, and the range of each.

    Construction checks the arguments (stream, shard ids, bounds) and raises
    at once; the records are read only when iterated.  Each shard's log is
    opened read-only on first use (opening verifies every stored batch) and
    kept, so :meth:`estimate_records` followed by :meth:`reader` opens each
    shard once, and every reader of one plan returns the same records:
    whatever was stored when the shard was opened.

    Thread safety: none; use one plan from one thread at a time.

    Parameters
    ----------
    data_dir, stream, shards, start, end, keys
        As for :func:`replay`.

    Attributes
    ----------
    stream : shardstream.storage.layout.StoredStream
        The stream's directory and ``stream.json``.
    account_id : str
        The account named in errors (from ``engine.json``).
    shard_indexes : list of int
        The shards read, in the order read.

    Raises
    ------
    ResourceNotFoundException
        If the stream or a shard does not exist.
    InvalidArgumentException
        If a bound is malformed, comes from another stream, or contradicts
        the other bound or ``shards``.
    """

    def __init__(self, data_dir: str | os.PathLike, stream: str, shards=None, start=None, end=None, *, keys=None):
        self._keys = None if keys is None else KeyStore.load(keys)
        self.account_id = _account_id(data_dir)
        found = find_stream(data_dir, stream)
        if found is None:
            raise ResourceNotFoundException(f"Stream {stream} under account {self.account_id} not found.")
        self.stream = found
        self._shard_docs = {int(doc["index"]): doc for doc in found.doc["shards"]}
        # Streams written before sequence numbers took AWS's layout stored old-layout strings.
        self._legacy = found.doc.get("sequence_layout", LEGACY_VERSION) == LEGACY_VERSION
        self._created_s: dict[int, int] = {}  # the creation second each shard's sequence numbers carry
        for index in sorted(self._shard_docs):
            doc = self._shard_docs[index]
            parents = [doc[key] for key in ("parent", "adjacent_parent") if doc.get(key) is not None]
            self._created_s[index] = shard_created_s(
                int(doc["created_ms"]), [self._created_s[parse_shard_index(p)] for p in parents]
            )
        self._start = _parse_bound(start, "start", self._legacy)
        self._end = _parse_bound(end, "end", self._legacy)
        _check_order(self._start, self._end)
        self.shard_indexes = self._select_shards(shards, self._sequence_shard())
        self._ranges: dict[int, _ShardRange] = {}

    @property
    def shard_ids(self) -> list[str]:
        """The shards read, as ``shardId-...`` strings, in the order read."""
        return [_shard_id(index) for index in self.shard_indexes]

    # -- resolving the arguments ---------------------------------------------

    def _where(self) -> str:
        return f"stream {self.stream.name} under account {self.account_id}"

    def _sequence_shard(self) -> int | None:
        """The shard the sequence-number bounds encode (None if there are none)."""
        named = []
        for which, bound in (("start", self._start), ("end", self._end)):
            if isinstance(bound, SequenceNumber):
                self._check_sequence_number(bound, which)
                named.append(bound.shard_index)
        if len(set(named)) > 1:
            raise InvalidArgumentException(
                f"start and end sequence numbers encode different shards ({_shard_id(named[0])} and "
                f"{_shard_id(named[1])}); a sequence-number range lies within one shard"
            )
        return named[0] if named else None

    def _check_sequence_number(self, bound: SequenceNumber, which: str) -> None:
        doc = self._shard_docs.get(bound.shard_index)
        if bound.version == LEGACY_VERSION:  # the old layout carried the shard's own creation second
            expected = None if doc is None else int(doc["created_ms"]) // 1000
        else:
            expected = self._created_s.get(bound.shard_index)
        if expected != bound.shard_created_s:
            raise InvalidArgumentException(
                f"{which} sequence number {bound} did not come from {self._where()} "
                f"(it encodes {bound.shard_id}, created at epoch second {bound.shard_created_s})"
            )

    def _resolve_shard(self, shard_id) -> int:
        """The index ``shard_id`` names (read leniently, as Kinesis does), if the stream has it."""
        index = parse_shard_index(shard_id)
        if index is None or index not in self._shard_docs:
            shown = _shard_id(index) if index is not None else str(shard_id)
            raise ResourceNotFoundException(f"Shard {shown} in {self._where()} does not exist")
        return index

    def _select_shards(self, shards: Iterable[str] | str | None, sequence_shard: int | None) -> list[int]:
        if shards is None:
            return [sequence_shard] if sequence_shard is not None else sorted(self._shard_docs)
        if isinstance(shards, str):
            shards = [shards]
        indexes = sorted({self._resolve_shard(shard_id) for shard_id in shards})
        if sequence_shard is not None and sequence_shard not in indexes:
            raise InvalidArgumentException(
                f"the sequence-number bound encodes {_shard_id(sequence_shard)}, "
                f"which is not among the shards requested ({', '.join(map(_shard_id, indexes)) or 'none'})"
            )
        return indexes

    # -- opening shards --------------------------------------------------------

    def _range(self, index: int) -> _ShardRange:
        """Shard ``index``'s log and counter range, opened on first use."""
        found = self._ranges.get(index)
        if found is None:
            found = self._ranges[index] = self._open_range(index)
        return found

    def _open_range(self, index: int) -> _ShardRange:
        directory = self.stream.shard_dir(index)
        if not directory.is_dir():
            return _NOTHING
        log = SegmentLog(directory, readonly=True, keys=self._keys)
        start = self._counter(log, index, self._start, default=0)
        if start is None:  # nothing arrived at or after the start time
            return _NOTHING
        return _ShardRange(log, start, self._counter(log, index, self._end, default=None))

    @staticmethod
    def _counter(log: SegmentLog, index: int, bound: Bound, default: int | None) -> int | None:
        """The first counter at or after ``bound`` in shard ``index`` (None: no record is)."""
        if bound is None:
            return default
        if isinstance(bound, SequenceNumber):
            return bound.counter if bound.shard_index == index else default
        return log.first_counter_at(bound)

    # -- reading ---------------------------------------------------------------

    def estimate_records(self) -> int:
        """How many records the replay returns, from the segment list alone (no data read).

        Exact when counters are consecutive, as the engine assigns them; an
        upper bound otherwise.  Opens every shard not yet opened.

        Returns
        -------
        int
        """
        return sum(self._estimate_shard(index) for index in self.shard_indexes)

    def _estimate_shard(self, index: int) -> int:
        shard = self._range(index)
        if shard.log is None:
            return 0
        end = LEGACY_END_COUNTER + 1 if shard.end is None else shard.end
        total = 0
        for info in shard.log.segments():
            if info.last_counter is not None:
                total += max(0, min(info.last_counter + 1, end) - max(info.base_counter, shard.start))
        return total

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The records, batch by batch, lazily (shards are opened as they are reached).

        Parameters
        ----------
        columns : list of str, optional
            As for :func:`replay`.

        Yields
        ------
        pyarrow.RecordBatch
            Zero-copy slices of memory-mapped segments, one shard per batch.

        Raises
        ------
        shardstream.storage.format.CorruptSegmentError
            While iterating, if a stored batch is damaged.
        """
        names = _column_names(columns)
        for index in self.shard_indexes:
            shard = self._range(index)
            if shard.log is not None:
                for batch in shard.log.read(shard.start, shard.end):
                    if self._legacy and "sequence_number" in names:
                        batch = self._restamp(index, batch)
                    yield batch.select(names)

    def _restamp(self, index: int, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with AWS-layout sequence numbers derived from its counters and arrival times."""
        created_s = self._created_s[index]
        arrivals = batch.column("approximate_arrival_timestamp").view(pa.int64()).to_numpy()
        column = sequence_number_column(created_s, index, batch.column("counter").to_numpy(), arrivals)
        i = batch.schema.get_field_index("sequence_number")
        return batch.set_column(i, batch.schema.field(i), column)

    def reader(self, columns: list[str] | None = None) -> pa.RecordBatchReader:
        """The records as a ``pyarrow.RecordBatchReader`` of ``columns`` (see :func:`replay`)."""
        schema = _schema(columns)
        return pa.RecordBatchReader.from_batches(schema, self.batches(schema.names))

    def dataset(self) -> ds.Dataset:
        """The records as an in-memory ``pyarrow.dataset`` (see :func:`replay_dataset`)."""
        import pyarrow.dataset as ds  # imported on use: it costs more than the rest of shardstream

        return ds.InMemoryDataset(list(self.batches()), schema=RECORD_SCHEMA)

    def __repr__(self) -> str:
        return f"ReplayPlan({self.stream.name!r}, shards={self.shard_ids})"


def _column_names(columns: list[str] | None) -> list[str]:
    if columns is None:
        return RECORD_SCHEMA.names
    if isinstance(columns, str):
        columns = [columns]
    unknown = [name for name in columns if RECORD_SCHEMA.get_field_index(name) < 0]
    if unknown:
        raise InvalidArgumentException(
            f"unknown column {unknown[0]!r}: the record columns are {', '.join(RECORD_SCHEMA.names)}"
        )
    return list(columns)


def _schema(columns: list[str] | None) -> pa.Schema:
    """``RECORD_SCHEMA``, or its ``columns`` in the order given."""
    if columns is None:
        return RECORD_SCHEMA
    return pa.schema([RECORD_SCHEMA.field(name) for name in _column_names(columns)], metadata=RECORD_SCHEMA.metadata)


def replay(
    data_dir: str | os.PathLike,
    stream: str,
    shards: Iterable[str] | None = None,
    start=None,
    end=None,
    *,
    columns: list[str] | None = None,
    keys=None,
) -> pa.RecordBatchReader:
    """Read a stream's stored records from its data directory, lazily, as Arrow.

    No engine needs to run; a live engine may keep writing (see the module
    docstring).  Records come shard by shard in shard-index order (parents
    before children), each shard in sequence order.

    Parameters
    ----------
    data_dir : path-like
        The engine's data directory.
    stream : str
        The stream's name.
    shards : list of str, optional
        Shard ids to read (``"shardId-000000000001"``, or the lenient forms
        Kinesis accepts: ``"1"``, ``"shard-1"``).  Default: every shard of the
        stream, or the one shard a sequence-number bound encodes.
    start, end : datetime, int, float or str, optional
        Inclusive start and exclusive end: a time (``datetime``, naive meaning
        UTC, or epoch seconds), which bounds every shard by arrival time, or a
        56-digit sequence number, which bounds the shard it encodes.
    columns : list of str, optional
        Return only these ``RECORD_SCHEMA`` columns, in this order.
    keys : KeyStore, mapping, path-like or list of str, optional
        The key store that opens batches stored encrypted (as ``Engine(keys=...)``).

    Returns
    -------
    pyarrow.RecordBatchReader
        Batches in ``RECORD_SCHEMA`` (or its ``columns``), zero-copy slices of
        memory-mapped segment files, each batch from one shard.

    Raises
    ------
    ResourceNotFoundException
        ``Stream <name> under account <account> not found.`` (also when
        ``data_dir`` does not exist), or ``Shard <shardId> in stream <name>
        under account <account> does not exist``.
    InvalidArgumentException
        If a bound is malformed, from another stream, after the other bound,
        or encodes a shard other than the other bound's or outside ``shards``;
        or if a column is unknown.
    shardstream.storage.format.CorruptSegmentError
        While reading, if a stored segment is damaged.
    KMSNotFoundException, KMSDisabledException, KMSAccessDeniedException
        While reading, if an encrypted batch's key is not in ``keys``, disabled, or another key.

    Examples
    --------
    ::

        table = replay("data", "events", start=datetime(2024, 5, 1), end=datetime(2024, 5, 2)).read_all()
        polars.from_arrow(replay("data", "events", shards=["shardId-000000000003"]))
    """
    return ReplayPlan(data_dir, stream, shards, start, end, keys=keys).reader(columns)


def replay_dataset(
    data_dir: str | os.PathLike,
    stream: str,
    shards: Iterable[str] | None = None,
    start=None,
    end=None,
    *,
    keys=None,
) -> ds.Dataset:
    """A stream's stored records as a ``pyarrow.dataset.Dataset``, for DuckDB and polars.

    The dataset is an ``InMemoryDataset`` over the batches of the segment
    files, which are memory-mapped, not copied: building it reads each batch's
    message header and verifies its CRC-32, and the data stays in the
    (page-cached) files.  The files remain mapped while the dataset lives; an
    engine deleting them meanwhile (retention) does not disturb it.  Unlike the
    reader of :func:`replay`, the dataset can be scanned any number of times.

    Parameters
    ----------
    data_dir, stream, shards, start, end, keys
        As for :func:`replay`; so are the order of the records and the errors raised.

    Returns
    -------
    pyarrow.dataset.Dataset
        In ``RECORD_SCHEMA``.

    Examples
    --------
    ::

        events = replay_dataset("data", "events")
        duckdb.sql("select shard_id, count(*) from events group by shard_id")
        polars.scan_pyarrow_dataset(events).filter(polars.col("partition_key") == "user-1").collect()
    """
    return ReplayPlan(data_dir, stream, shards, start, end, keys=keys).dataset()
