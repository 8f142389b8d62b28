"""A stream's reads: shard iterators, GetRecords, and Arrow batches and tables.

:class:`StreamReads` is a part of :class:`~shardstream.Stream`: the stream
publishes its calls (``stream.get_records``, ``stream.read_table``, ...).
Records come out of the core as Arrow (``Stream.read_page``, which a
durable stream serves from its segments too); GetRecords' dicts are made
from that batch once, outside any shard lock.
"""

from __future__ import annotations

import time

import pyarrow as pa

from . import validation as v
from .errors import (
    DryRunOperationException,
    InvalidArgumentException,
    ResourceNotFoundException,
    SerializationException,
)
from .models import ShardInfo, to_epoch_ms
from .puts import value_bytes
from .reader import RecordBatchStream, to_pandas
from .records import format_records
from .schema import RECORD_SCHEMA, empty_batch
from .sequence import END_COUNTER
from .storage.parallel import run_each
from .unpack import USER_RECORD_SCHEMA, unpack_batch

__all__ = ["ITERATOR_TYPES", "MAX_GET_RECORDS", "MAX_GET_RECORDS_BYTES", "StreamReads", "check_iterator_request"]

ITERATOR_TYPES = ["AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"]
MAX_GET_RECORDS = 10_000
MAX_GET_RECORDS_BYTES = 10 * 1024 * 1024
DEFAULT_BATCH_ROWS = 65_536
EMPTY_BATCH = empty_batch()


_DATA = RECORD_SCHEMA.get_field_index("data")  # a page's data column (pages are RECORD_SCHEMA)


class StreamReads:
    """The read calls of one stream: iterators, GetRecords and Arrow reads.

    Parameters
    ----------
    stream : Stream
    """

    def __init__(self, stream):
        self.stream = stream

    def get_shard_iterator(
        self, shard_id, shard_iterator_type, starting_sequence_number=None, timestamp=None, *, dry_run: bool = False
    ) -> dict:
        """Make a shard iterator (valid five minutes).

        Parameters
        ----------
        shard_id : str
        shard_iterator_type : str
            ``TRIM_HORIZON``, ``LATEST``, ``AT_SEQUENCE_NUMBER``,
            ``AFTER_SEQUENCE_NUMBER`` or ``AT_TIMESTAMP``.
        starting_sequence_number : str, optional
            Required by the two sequence-number types, refused by the others.
        timestamp : datetime or float, optional
            Required by ``AT_TIMESTAMP`` (a datetime or epoch seconds).
        dry_run : bool
            Make every check and no iterator: DryRunOperationException if
            the call would succeed.

        Returns
        -------
        dict
            ``{"ShardIterator": token}``.
        """
        shard, position = self.start_position(shard_id, shard_iterator_type, starting_sequence_number, timestamp)
        if dry_run:
            raise DryRunOperationException()
        token = self.stream.catalog.iterators.encode(
            self.stream.name, self.stream.incarnation, shard.index, position, self.stream.now_ms()
        )
        return {"ShardIterator": token}

    def start_position(self, shard_id, kind, starting_sequence_number, timestamp) -> tuple[ShardInfo, int]:
        """The shard and the counter an iterator of ``kind`` starts at (GetShardIterator's checks and errors).

        Parameters
        ----------
        shard_id, kind, starting_sequence_number, timestamp
            As ``shard_id``, ``shard_iterator_type``, ... of :meth:`get_shard_iterator`.

        Returns
        -------
        tuple of (ShardInfo, int)
            The shard and the log counter of the first record the iterator reads.

        Raises
        ------
        ValidationException, InvalidArgumentException, SerializationException
            A malformed request, a sequence number not of this shard, or a future timestamp.
        ResourceNotFoundException
            No such shard.
        """
        check_iterator_request(shard_id, kind, starting_sequence_number)
        shard = self.stream.resolve_shard(shard_id)
        log = self.stream.logs[shard.index]
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if starting_sequence_number is None:
                raise InvalidArgumentException(self._iterator_args_message(kind, "no"))
            counter = self._counter_for(shard, str(starting_sequence_number))
            return shard, counter + (kind == "AFTER_SEQUENCE_NUMBER")
        if starting_sequence_number is not None:
            raise InvalidArgumentException(self._iterator_args_message(kind, "also a"))
        if kind == "TRIM_HORIZON":
            return shard, 0
        if kind == "LATEST":
            return shard, log.tail
        if timestamp is None:
            raise InvalidArgumentException(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                "Current request has no timestamp parameter."
            )
        try:
            ts = to_epoch_ms(timestamp)
        except TypeError as exc:
            raise SerializationException(str(exc)) from None
        now = self.stream.now_ms()
        if ts > now:
            raise InvalidArgumentException(
                "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                f"timestampInMillis: {ts}, currentTimestampInMillis: {now}"
            )
        return shard, self.stream.locate_timestamp(shard.index, ts)

    @staticmethod
    def _iterator_args_message(kind: str, how: str) -> str:
        return (
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
            "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
            f"Request specified {kind} and {how} StartingSequenceNumber."
        )

    def _counter_for(self, shard: ShardInfo, text: str) -> int:
        parsed = self.stream.parse_sequence(text)
        invalid = (
            f"StartingSequenceNumber {text} used in GetShardIterator on shard {shard.shard_id} "
            f"in stream {self.stream.name} under account {self.stream.account_id} is invalid"
        )
        if parsed is None:
            raise InvalidArgumentException(invalid + ".")
        if parsed.shard_index != shard.index:
            raise InvalidArgumentException(
                f"Invalid StartingSequenceNumber. It encodes {parsed.shard_id}, while it was used in a call "
                f"to a shard with {shard.shard_id}"
            )
        if not self.stream.is_own(parsed):
            if parsed.version == 0:  # Kinesis shows a version 0 number as it decoded it
                value = int(text)
                invalid = invalid.replace(f" {text} ", f" {value + 2**124 if value < 2**124 else value} ", 1)
            raise InvalidArgumentException(invalid + " because it did not come from this stream.")
        if parsed.counter > self.stream.logs[shard.index].tail and parsed.counter != END_COUNTER:
            raise InvalidArgumentException(invalid + ".")  # never assigned: from the future
        return parsed.counter

    def decode_iterator(self, shard_iterator, now: int):
        """The position ``shard_iterator`` of this stream names at time ``now`` (Kinesis's errors for any other)."""
        pos = self.stream.catalog.iterators.decode(shard_iterator, now)
        if (
            pos.stream_name != self.stream.name
            or pos.incarnation != self.stream.incarnation
            or self.stream.status == "DELETING"
        ):
            raise ResourceNotFoundException(
                f"Shard shardId-{pos.shard_index:012d} in stream {pos.stream_name} under account "
                f"{self.stream.account_id} does not exist"
            )
        return pos

    # -- reads -----------------------------------------------------------------------

    @staticmethod
    def check_limit(limit) -> int:
        """GetRecords' Limit ``limit`` checked (10,000 when None): SerializationException or ValidationException."""
        if limit is None:
            return MAX_GET_RECORDS
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise SerializationException(f"Limit must be an int, not {type(limit).__name__}")
        errs: list = []
        v.check_int_range(errs, "limit", limit, 1, MAX_GET_RECORDS)
        v.raise_if_any(errs)
        return limit

    def _read_response(self, pos, now: int, returned: int, next_counter: int, tail: int, next_ts) -> dict:
        # As Kinesis: a closed shard's last records come with a NextShardIterator;
        # the next call, past the end, returns no records and the ChildShards.
        log = self.stream.logs[pos.shard_index]
        resp: dict = {}
        if log.closed and not returned and next_counter >= tail and self.stream.status != "DELETING":
            resp["ChildShards"] = self._child_shards(pos.shard_index)
        else:
            resp["NextShardIterator"] = self.stream.catalog.iterators.encode(
                self.stream.name, self.stream.incarnation, pos.shard_index, next_counter, now
            )
        resp["MillisBehindLatest"] = 0 if next_ts is None else max(0, now - next_ts)
        return resp

    def _metered(self, now: int, batch, index: int, nxt: int, started: float, behind_ms: int, event=False) -> None:
        """Record a GetRecords call (a SubscribeToShard event's read, with ``event``) in the stream's meters.

        A page is the records ``[nxt - n, nxt)`` of shard ``index``: their bytes come from the ring's
        offsets in O(1); from the batch itself when they are no longer (or never were) in the ring.
        """
        meter = self.stream.meters.read_meter(event)
        if meter is not None:
            n = 0 if batch is None else batch.num_rows
            nbytes = self.stream.logs[index].bytes_between(nxt - n, nxt) if n else 0
            if nbytes < 0:
                nbytes = value_bytes(batch.column(_DATA))
            meter.record(now, n, nbytes, (time.perf_counter() - started) * 1000, behind_ms)

    def _child_shards(self, index: int) -> list[dict]:
        sid = f"shardId-{index:012d}"
        children = []
        for s in self.stream.shards:
            if s.parent == sid or s.adjacent_parent == sid:
                parents = [p for p in (s.parent, s.adjacent_parent) if p is not None]
                children.append(
                    {
                        "ShardId": s.shard_id,
                        "ParentShards": parents,
                        "HashKeyRange": {
                            "StartingHashKey": str(s.starting_hash_key),
                            "EndingHashKey": str(s.ending_hash_key),
                        },
                    }
                )
        return children

    def get_records(
        self, shard_iterator, limit=None, *, wire: bool = False, dry_run: bool = False, event: bool = False
    ) -> dict:
        """Read records at a shard iterator, as boto3's GetRecords.

        Parameters
        ----------
        shard_iterator : str
        limit : int, optional
            1 to 10,000 (default 10,000); a response also stops before 10 MiB.
        wire : bool
            Give ``Data`` and timestamps as Kinesis's JSON protocol carries them (see Returns).
        dry_run : bool
            Check the limit and the iterator (well formed, not expired, its
            stream and shard still there) and read nothing:
            DryRunOperationException if the call would succeed.
        event : bool
            The read serves a SubscribeToShard event: metered as
            ``SubscribeToShardEvent.*``, not ``GetRecords.*``.

        Returns
        -------
        dict
            ``Records`` (each with ``SequenceNumber``, ``ApproximateArrivalTimestamp``,
            ``Data``, ``PartitionKey``), ``NextShardIterator`` and
            ``MillisBehindLatest`` (``ChildShards`` instead of the iterator at
            the end of a closed shard).  With ``wire=True`` each record's
            ``Data`` is base64 text and its ``ApproximateArrivalTimestamp``
            epoch seconds, as Kinesis's JSON protocol carries them.
        """
        started = time.perf_counter()
        limit = self.check_limit(limit)
        now = self.stream.now_ms()
        pos = self.decode_iterator(shard_iterator, now)
        if dry_run:
            raise DryRunOperationException()
        # The shard is read into Arrow under its lock (a durable stream's from its segments too);
        # the dicts are made after, with no lock held.
        batch, nxt, tail, next_ts = self.stream.read_page(
            pos.shard_index, pos.position, limit, MAX_GET_RECORDS_BYTES, now
        )
        records = format_records(batch, wire=wire)
        response = self._read_response(pos, now, len(records), nxt, tail, next_ts)
        self._metered(now, batch, pos.shard_index, nxt, started, response["MillisBehindLatest"], event)
        return {"Records": records, **response}

    def get_record_batch(self, shard_iterator, limit=None, *, dry_run: bool = False, deaggregate: bool = True) -> dict:
        """``get_records`` with the records as one ``pyarrow.RecordBatch``, as user records by default.

        Parameters
        ----------
        shard_iterator, limit, dry_run
            As for :meth:`get_records` (``limit`` counts stored Kinesis records).
        deaggregate : bool
            True: user records (:func:`shardstream.unpack.unpack_batch`:
            compression envelopes opened, KPL aggregates taken apart, a
            ``sub_sequence_number`` column); False: the records as stored.

        Returns
        -------
        dict
            ``Records`` (a RecordBatch in USER_RECORD_SCHEMA, or RECORD_SCHEMA
            with ``deaggregate=False``, possibly empty) plus the same
            ``NextShardIterator``/``ChildShards`` and ``MillisBehindLatest`` as ``get_records``.
        """
        started = time.perf_counter()
        limit = self.check_limit(limit)
        now = self.stream.now_ms()
        pos = self.decode_iterator(shard_iterator, now)
        if dry_run:
            raise DryRunOperationException()
        batch, nxt, tail, next_ts = self.stream.read_page(
            pos.shard_index, pos.position, limit, MAX_GET_RECORDS_BYTES, now
        )
        if batch is None:
            batch = EMPTY_BATCH
        response = self._read_response(pos, now, batch.num_rows, nxt, tail, next_ts)
        self._metered(now, batch, pos.shard_index, nxt, started, response["MillisBehindLatest"])
        return {"Records": self._user_batch(batch, pos.shard_index, pos.position) if deaggregate else batch, **response}

    def read_batch(
        self,
        shard_id,
        iterator_type="TRIM_HORIZON",
        starting_sequence_number=None,
        timestamp=None,
        limit=10_000,
        *,
        deaggregate: bool = True,
    ) -> pa.RecordBatch:
        """Read one batch of a shard into Arrow, starting where an iterator of that type would.

        Parameters
        ----------
        shard_id : str
        iterator_type, starting_sequence_number, timestamp
            As for :meth:`get_shard_iterator`.
        limit : int
            Most (stored) records in the batch.
        deaggregate : bool
            As for :meth:`get_record_batch`.

        Returns
        -------
        pyarrow.RecordBatch
            Columns ``shard_id``, ``sequence_number``, ``partition_key``,
            ``data``, ``approximate_arrival_timestamp`` and (unless
            ``deaggregate=False``) ``sub_sequence_number``; possibly no rows.
        """
        shard, position = self.start_position(shard_id, iterator_type, starting_sequence_number, timestamp)
        batch, *_ = self.stream.read_page(shard.index, position, int(limit), 2**31 - 1, self.stream.now_ms())
        batch = batch if batch is not None else EMPTY_BATCH
        return self._user_batch(batch, shard.index, position) if deaggregate else batch

    def _user_batch(self, batch: pa.RecordBatch, index: int, first: int) -> pa.RecordBatch:
        """``batch``, records of shard ``index`` from counter ``first`` on, as user records (read it first)."""
        return unpack_batch(batch, plain=first >= self.stream.logs[index].packed_end)

    def iter_batches(
        self,
        shard_ids=None,
        iterator_type="TRIM_HORIZON",
        timestamp=None,
        batch_size: int = DEFAULT_BATCH_ROWS,
        *,
        deaggregate: bool = True,
    ) -> RecordBatchStream:
        """Stream every shard's records as Arrow batches, shard by shard.

        Each shard is read from where an iterator of ``iterator_type`` starts
        up to its newest record at the time of this call; shards go in index
        order, so parents come before their children.

        Parameters
        ----------
        shard_ids : list of str, optional
            Only these shards (default: all).
        iterator_type : {"TRIM_HORIZON", "AT_TIMESTAMP", "LATEST"}
        timestamp : datetime or float, optional
            For ``AT_TIMESTAMP``.
        batch_size : int
            Most stored records per batch.
        deaggregate : bool
            True: user records in USER_RECORD_SCHEMA (compression envelopes
            opened, KPL aggregates taken apart, a ``sub_sequence_number``
            column); False: the records as stored, in RECORD_SCHEMA.

        Returns
        -------
        RecordBatchStream
            Iterable of ``pyarrow.RecordBatch``; implements ``__arrow_c_stream__``.
        """
        plan = self._plan(shard_ids, iterator_type, timestamp, batch_size)

        def batches():
            for run in plan:
                yield from self._shard_batches(run, batch_size, deaggregate)

        return RecordBatchStream(batches, USER_RECORD_SCHEMA if deaggregate else RECORD_SCHEMA)

    def _plan(self, shard_ids, iterator_type, timestamp, batch_size: int) -> list[tuple[int, int, int]]:
        """What :meth:`iter_batches` reads: ``(shard index, first counter, end)`` per shard, in order."""
        if iterator_type not in ("TRIM_HORIZON", "AT_TIMESTAMP", "LATEST"):
            raise InvalidArgumentException(
                f"iter_batches takes TRIM_HORIZON, AT_TIMESTAMP or LATEST, not {iterator_type!r}"
            )
        if batch_size < 1:
            raise InvalidArgumentException("batch_size must be at least 1")
        shards = (
            [self.stream.resolve_shard(s) for s in shard_ids] if shard_ids is not None else self.stream.visible_shards()
        )
        plan = []
        for shard in shards:
            _, start = self.start_position(shard.shard_id, iterator_type, None, timestamp)
            plan.append((shard.index, start, self.stream.logs[shard.index].tail))
        return plan

    def _shard_batches(self, run: tuple[int, int, int], batch_size: int, deaggregate: bool):
        """The batches of one ``run`` of a shard's records, ``(shard index, first counter, end)``."""
        index, start, stop = run
        while start < stop:
            first = start
            pieces, start = self.stream.read_pieces(index, start, min(batch_size, stop - start), self.stream.now_ms())
            if not pieces:
                break
            if deaggregate:
                yield from (self._user_batch(piece, index, first) for piece in pieces)
            else:
                yield from pieces

    def read_table(
        self,
        shard_ids=None,
        iterator_type="TRIM_HORIZON",
        timestamp=None,
        batch_size: int = DEFAULT_BATCH_ROWS,
        *,
        deaggregate: bool = True,
        use_threads: bool = True,
    ) -> pa.Table:
        """Everything :meth:`iter_batches` yields, as one ``pyarrow.Table``.

        Parameters
        ----------
        shard_ids, iterator_type, timestamp, batch_size, deaggregate
            As for :meth:`iter_batches`.
        use_threads : bool
            Read several shards at once, a thread each (as pyarrow's readers
            do by default): copying records out of the rings and formatting
            their sequence numbers run without the GIL.  The table is the
            same either way, shards in index order.
        """
        schema = USER_RECORD_SCHEMA if deaggregate else RECORD_SCHEMA
        plan = self._plan(shard_ids, iterator_type, timestamp, batch_size)

        def shard(run):
            return list(self._shard_batches(run, batch_size, deaggregate))

        parts = run_each(shard, plan) if use_threads else [shard(run) for run in plan]
        return pa.Table.from_batches([b for part in parts for b in part], schema=schema)

    def read_pandas(self, shard_ids=None, iterator_type="TRIM_HORIZON", timestamp=None, *, deaggregate: bool = True):
        """:meth:`read_table` as a pandas DataFrame with Arrow-backed dtypes.

        Parameters
        ----------
        shard_ids, iterator_type, timestamp, deaggregate
            As for :meth:`iter_batches`.
        """
        return to_pandas(self.read_table(shard_ids, iterator_type, timestamp, deaggregate=deaggregate))


def check_iterator_request(shard_id, kind, starting_sequence_number, stream_name=None) -> None:
    """Check a GetShardIterator request's model constraints (ValidationException), in Kinesis's order.

    Parameters
    ----------
    shard_id : str
    kind : str
        The ShardIteratorType.
    starting_sequence_number : str or None
    stream_name : str, optional
        Checked too when given (the engine checks it here, before the shard
        id is parsed and the stream looked up).
    """
    errs: list = []
    if shard_id is None:
        errs.append(v.Violation("null", "shardId", "Member must not be null"))
    else:
        v.check_name(errs, "shardId", str(shard_id))
    if kind is None:
        errs.append(v.Violation("null", "shardIteratorType", "Member must not be null"))
    else:
        v.check_enum(errs, "shardIteratorType", kind, ITERATOR_TYPES)
    if starting_sequence_number is not None:
        v.check_pattern(errs, "startingSequenceNumber", str(starting_sequence_number), v.SEQUENCE_NUMBER_PATTERN)
    if stream_name is not None:
        v.check_name(errs, "streamName", stream_name)
    v.raise_if_any(errs)
