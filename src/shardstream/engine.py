"""Engine: the catalogue of streams, and the Kinesis control plane over it.

Threading contract: control-plane calls (create, delete, describe, list)
serialise on one engine lock; data-plane calls go straight to a Stream and
never take it, so writers and readers on many threads run in parallel.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import re
import secrets
import threading
import weakref
from pathlib import Path

from . import resharding, throttle
from . import validation as v
from ._native import system_now_ms
from .durable import DurableStream, Maintenance, check_durability, counter_gap
from .errors import (
    InvalidArgumentException,
    KinesisError,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    StorageError,
    storage_error,
)
from .fanout import ConsumerRegistry, StreamConsumer, Subscription
from .iterators import IteratorCodec, PageTokenCodec
from .models import ShardInfo, ms_to_datetime, to_epoch_ms
from .sequence import LEGACY_VERSION
from .storage import layout
from .storage.datadir import DataDirectory
from .storage.fileio import SYSTEM_IO, SegmentIO
from .storage.log import DEFAULT_MAX_SEGMENT_BYTES
from .storage.store import StreamStore
from .stream import (
    RECORD_DISTRIBUTIONS,
    STREAM_MODES,
    Stream,
    _shard_sort_key,
    check_iterator_request,
    shard_does_not_exist,
    shard_index_of,
)
from .tags import TagSet
from .validation import check_retention, check_shard_filter

__all__ = ["DEFAULT_SHARD_CAPACITY_BYTES", "DEFAULT_SHARD_LIMIT", "Engine"]

DEFAULT_SHARD_CAPACITY_BYTES = 256 * 1024 * 1024
#: Kinesis's documented default shard quota per account in us-east-1 (also us-west-2 and eu-west-1).
DEFAULT_SHARD_LIMIT = 20_000
# Durable engines still open, closed (flushed, synced, sealed) at interpreter exit.
_open_engines: weakref.WeakSet = weakref.WeakSet()
ON_DEMAND_SHARDS = 4
RESOURCE_ARN_PATTERN = r"arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+"
_CONSUMER_ARN = re.compile(r"arn:aws.*:kinesis:.*:\d{12}:.*stream/[a-zA-Z0-9_.-]+/consumer/.*")
BILLING_COMMITMENT_STATUSES = ["ENABLED", "DISABLED"]
MIN_BILLING_COMMITMENT_MS = 24 * 3_600_000


class Engine:
    """An in-process Kinesis: streams of shards held in native memory.

    Parameters
    ----------
    region : str
        Region named in stream ARNs.
    account_id : str
        The 12-digit account named in ARNs and error messages.
    shard_limit : int or None
        Most open shards across all streams, as Kinesis's account quota
        (LimitExceededException beyond it; DescribeLimits reports it).  The
        default, 20,000, is today's documented quota in us-east-1; None for
        no limit.
    shard_capacity_bytes : int
        Default bound on each shard's in-memory log (records + 24 bytes each).
    clock : callable, optional
        Returns the time in ms since the epoch; inject one to test retention
        and iterator expiry without waiting.
    transition_ms : int
        How long streams stay CREATING, UPDATING (after a reshard or mode
        change) and DELETING.  0 (the default) makes transitions instant;
        Kinesis takes seconds, and kinesalite-style emulators use 500 ms,
        which suits testing applications that wait for ACTIVE.
    on_demand_scale_after_ms : int
        How long an ON_DEMAND stream's writes must stay above 80 % of its
        shards' capacity before it doubles its shards (see
        :mod:`shardstream.ondemand`).
    data_dir : path-like, optional
        Keep every stream's records and metadata in this directory (created
        if missing) so that they survive restarts and crashes; reopening it
        restores all streams.  Without it the engine is purely in memory.
        See :mod:`shardstream.durable`.
    durability : {"sync", "interval", "none"}
        The default durability policy of streams in ``data_dir``: a put
        returns once on disk (``sync``), or a background thread writes and
        syncs every ``flush_interval_ms`` (``interval``) or writes without
        syncing (``none``).
    flush_interval_ms : int
        Period of the background writer (and of ``interval`` syncs).
    max_segment_bytes : int
        Size at which a shard's segment file is closed and a new one begun.
    segment_io : shardstream.storage.SegmentIO, optional
        What writes, syncs and truncates segment files (default: the system
        calls).  Tests pass a subclass that fails on demand, e.g. with
        ``OSError(errno.ENOSPC)``, to see what a full disk does.

    Examples
    --------
    >>> engine = Engine()
    >>> stream = engine.create_stream("clicks", shard_count=4)
    >>> stream.put_record(b"hello", partition_key="user-1")["ShardId"]
    'shardId-000000000003'
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        shard_limit: int | None = DEFAULT_SHARD_LIMIT,
        shard_capacity_bytes: int = DEFAULT_SHARD_CAPACITY_BYTES,
        clock=None,
        transition_ms: int = 0,
        on_demand_scale_after_ms: int = 60_000,
        data_dir=None,
        durability: str = "sync",
        flush_interval_ms: int = 200,
        max_segment_bytes: int = DEFAULT_MAX_SEGMENT_BYTES,
        segment_io: SegmentIO = SYSTEM_IO,
    ):
        check_durability(durability)
        if shard_limit is not None and (
            not isinstance(shard_limit, int) or isinstance(shard_limit, bool) or shard_limit < 0
        ):
            raise InvalidArgumentException(f"shard_limit must be None or an int >= 0, not {shard_limit!r}")
        if flush_interval_ms < 1:
            raise InvalidArgumentException("flush_interval_ms must be at least 1")
        self.region = region
        self.transition_ms = int(transition_ms)
        self.on_demand_scale_after_ms = int(on_demand_scale_after_ms)
        self.account_id = account_id
        self.shard_limit = shard_limit
        self.shard_capacity_bytes = int(shard_capacity_bytes)
        self.clock = clock
        self._streams: dict[str, Stream] = {}
        self._billing_commitment: dict = {"Status": "DISABLED"}
        self._lock = threading.RLock()
        self.durability = durability
        self.flush_interval_ms = int(flush_interval_ms)
        self.max_segment_bytes = int(max_segment_bytes)
        self._segment_io = segment_io
        self.closed = False
        self._data: DataDirectory | None = None
        self._maintenance: Maintenance | None = None
        if data_dir is None:
            secret = secrets.token_bytes(32)
        else:
            self._data = DataDirectory.open(data_dir, region=region, account_id=account_id)
            secret = self._data.iterator_secret
            self._billing_commitment = dict(self._data.doc["billing_commitment"])
        self._iterators = IteratorCodec(secret)
        self._pages = PageTokenCodec(secret)
        #: The enhanced fan-out consumers and their subscriptions (:mod:`shardstream.fanout`).
        self.fanout = ConsumerRegistry(self)
        if self._data is not None:
            try:
                self._restore_streams()
                self.fanout.restore(self._data.doc.get("consumers"))
            except BaseException:
                self._data.release()
                raise
            self._maintenance = Maintenance(self)
            if self._streams:
                self._maintenance.start()
            _open_engines.add(self)

    @property
    def data_dir(self) -> Path | None:
        """The directory holding the engine's streams, or None for an in-memory engine."""
        return None if self._data is None else self._data.path

    def _store_for(self, name: str, incarnation: int) -> StreamStore:
        return StreamStore(
            layout.streams_dir(self._data.path) / layout.stream_dir_name(name, incarnation),
            max_segment_bytes=self.max_segment_bytes,
            io=self._segment_io,
            before_write=self._data.mark_in_use,
        )

    def _restore_streams(self) -> None:
        unclean = not self._data.was_clean
        for stored in layout.list_streams(self._data.path):
            doc = stored.doc
            store = StreamStore(
                stored.path,
                max_segment_bytes=self.max_segment_bytes,
                clean=not unclean,
                io=self._segment_io,
                before_write=self._data.mark_in_use,
                saved_doc=copy.deepcopy(doc),
            )
            capacity = doc["shard_capacity_bytes"]
            stream = DurableStream(
                self,
                doc["name"],
                0,
                store=store,
                durability=doc["durability"],
                counter_gap=counter_gap(capacity) if unclean else 0,
                restored=doc,
                retention_hours=doc["retention_hours"],
                stream_mode=doc["stream_mode"],
                max_record_size_kib=doc["max_record_size_kib"],
                shard_capacity_bytes=capacity,
                evict_oldest=doc["evict_oldest"],
                tags=doc["tags"],
                created_ms=doc["created_ms"],
                incarnation=doc["incarnation"],
                layout=[ShardInfo.from_doc(shard) for shard in doc["shards"]],
                # streams written before sequence numbers took AWS's layout lack the key
                sequence_layout=doc.get("sequence_layout", LEGACY_VERSION),
            )
            self._streams[stream.name] = stream

    def _durable_streams(self) -> list[DurableStream]:
        return [s for s in list(self._streams.values()) if isinstance(s, DurableStream)]

    def flush(self, *, sync: bool = True) -> int:
        """Write every durable stream's records still only in memory to disk now.

        Parameters
        ----------
        sync : bool
            Also ``fsync`` them.

        Returns
        -------
        int
            Records written.
        """
        return sum(stream.flush(sync=sync) for stream in self._durable_streams())

    def close(self) -> None:
        """Write and sync everything, seal the segment files and release the data directory.

        An in-memory engine just stops accepting writes.  Idempotent; the
        engine and its streams cannot be used afterwards.  ``with Engine(...)``
        closes on exit.
        """
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.fanout.end_all()
            if self._maintenance is not None:
                self._maintenance.stop()
            for stream in list(self._streams.values()):
                stream._set_accepting(False)
            if self._data is not None:
                error = None
                for stream in self._durable_streams():
                    try:
                        stream.store.close(stream.logs, stream.now_ms())
                    except StorageError as exc:  # records only in memory could not be written
                        error = error or exc
                clean = error is None and all(s.store.closed_cleanly for s in self._durable_streams())
                self._data.close(clean=clean)
                _open_engines.discard(self)
                if error is not None:
                    raise error

    def _crash(self) -> None:
        """Drop the data directory as a killed process would: nothing flushed, nothing sealed (tests)."""
        with self._lock:
            self.closed = True
            if self._maintenance is not None:
                self._maintenance.stop()
            for stream in self._durable_streams():
                stream._set_accepting(False)
                stream.store.abandon()
            if self._data is not None:
                self._data.release()
                _open_engines.discard(self)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def for_region(self, region: str) -> Engine:
        """An engine for another region, with this one's account and settings.

        A durable engine's region lives in a sibling directory named after
        the region (``shardstream serve --data-dir D`` keeps ``D/<region>``).
        """
        return Engine(
            data_dir=None if self._data is None else self._data.path.with_name(region),
            durability=self.durability,
            flush_interval_ms=self.flush_interval_ms,
            max_segment_bytes=self.max_segment_bytes,
            region=region,
            account_id=self.account_id,
            shard_limit=self.shard_limit,
            shard_capacity_bytes=self.shard_capacity_bytes,
            clock=self.clock,
            transition_ms=self.transition_ms,
            on_demand_scale_after_ms=self.on_demand_scale_after_ms,
        )

    def now_ms(self) -> int:
        """The engine's current time, ms since the epoch."""
        return system_now_ms() if self.clock is None else int(self.clock())

    # -- lookup ------------------------------------------------------------------

    def _not_found(self, name: str) -> ResourceNotFoundException:
        return ResourceNotFoundException(f"Stream {name} under account {self.account_id} not found.")

    def _name_from(self, stream_name, stream_arn) -> str:
        if stream_arn is not None:
            prefix = f"arn:aws:kinesis:{self.region}:{self.account_id}:stream/"
            if not isinstance(stream_arn, str) or not stream_arn.startswith(prefix):
                raise InvalidArgumentException(f"Invalid StreamARN {stream_arn}")
            name = stream_arn[len(prefix) :]
            if stream_name is not None and stream_name != name:
                raise InvalidArgumentException(
                    f"StreamARN {stream_arn} and StreamName {stream_name} do not name the same stream"
                )
            return name
        if stream_name is None:
            raise InvalidArgumentException("Neither streamArn or streamName was provided")
        errs: list = []
        v.check_name(errs, "streamName", stream_name)
        v.raise_if_any(errs)
        return stream_name

    def stream(self, name: str | None = None, *, stream_arn: str | None = None) -> Stream:
        """The Stream called ``name`` (or identified by ``stream_arn``).

        Raises
        ------
        ResourceNotFoundException
            No such stream.
        """
        name = self._name_from(name, stream_arn)
        s = self._lookup(name)
        if s is None:
            raise self._not_found(name)
        return s

    def _lookup(self, name: str) -> Stream | None:
        """The stream called ``name`` unless it is missing or its deletion has completed."""
        s = self._streams.get(name)
        if s is not None and s._gone:
            with self._lock:
                if self._streams.get(name) is s:
                    del self._streams[name]
            return None
        return s

    def _live_streams(self) -> list[Stream]:
        return [s for s in list(self._streams.values()) if self._lookup(s.name) is s]

    def open_shard_total(self) -> int:
        """Open shards across all live streams (what the account shard limit counts)."""
        return sum(s.open_shard_count for s in self._live_streams())

    def _check_shard_limit(self, additional: int) -> None:
        """LimitExceededException if ``additional`` more open shards would pass the account's shard limit."""
        if self.shard_limit is None:
            return
        open_now = self.open_shard_total()
        if open_now + additional > self.shard_limit:
            raise LimitExceededException(
                f"This request would exceed the shard limit for the account {self.account_id} in "
                f"{self.region}. Current shard count for the account: {open_now}. Limit: {self.shard_limit}. "
                f"Number of additional shards that would have resulted from this request: {additional}. "
                "Refer to the AWS Service Limits page "
                "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) "
                "for current limits and how to request higher limits."
            )

    def __contains__(self, name: str) -> bool:
        return self._lookup(name) is not None

    # -- control plane ---------------------------------------------------------------

    def create_stream(
        self,
        name: str,
        shard_count: int | None = None,
        retention_hours: int = 24,
        *,
        stream_mode: str = "PROVISIONED",
        max_record_size_kib: int = 1024,
        shard_capacity_bytes: int | None = None,
        evict_oldest: bool = False,
        tags: dict | None = None,
        throughput_limits=False,
        durability: str | None = None,
        record_distribution: str = "USER_PARTITION_KEY",
    ) -> Stream:
        """Create a stream whose shards split the hash-key space evenly.

        Parameters
        ----------
        name : str
            1-128 characters of ``[a-zA-Z0-9_.-]``, unique in the engine.
        shard_count : int, optional
            Number of shards (default 4, as an on-demand stream starts).
        retention_hours : int
            24 to 8760.
        stream_mode : {"PROVISIONED", "ON_DEMAND"}
        max_record_size_kib : int
            Largest record (data + key), 1024 to 10240 KiB.
        shard_capacity_bytes : int, optional
            Bound on each shard's log (default: the engine's).
        evict_oldest : bool
            When a shard is full, drop its oldest records (counted) instead of
            refusing writes with ProvisionedThroughputExceededException.
        tags : dict, optional
        throughput_limits : bool or ThroughputLimits
            Emulate Kinesis's per-shard write and read limits (True: the
            provisioned defaults); off by default.  See :mod:`shardstream.throttle`.
            (Not kept in ``data_dir``: install it again after reopening.)
        durability : {"sync", "interval", "none"}, optional
            This stream's durability policy (default: the engine's); needs a
            ``data_dir``.
        record_distribution : {"USER_PARTITION_KEY", "AUTO"}
            Kinesis's RecordDistributionStrategy: route records by partition
            key (the default) or spread them evenly over the open shards
            (``AUTO``, on-demand streams only; keys become optional).  See
            :meth:`Stream.update_record_distribution_strategy`.

        Returns
        -------
        Stream
            The new stream (ACTIVE at once).

        Raises
        ------
        ValidationException, InvalidArgumentException
            Bad name, count, retention, record size or distribution
            strategy; AUTO on a PROVISIONED stream.
        ResourceInUseException
            A stream of that name exists.
        LimitExceededException
            The engine's shard limit would be exceeded.
        """
        errs: list = []
        if shard_count is not None:
            if not isinstance(shard_count, int) or isinstance(shard_count, bool):
                raise SerializationException(f"ShardCount must be an int, not {type(shard_count).__name__}")
            v.check_int_range(errs, "shardCount", shard_count, 1, None)
        v.check_name(errs, "streamName", name)
        if stream_mode not in STREAM_MODES:
            v.check_enum(errs, "streamModeDetails.streamMode", stream_mode, STREAM_MODES)
        if not isinstance(max_record_size_kib, int) or not 1024 <= max_record_size_kib <= 10240:
            v.check_int_range(errs, "maxRecordSizeInKiB", max_record_size_kib, 1024, 10240)
        if record_distribution not in RECORD_DISTRIBUTIONS:
            Stream._check_record_distribution(record_distribution)
        v.raise_if_any(errs)
        if stream_mode == "ON_DEMAND" and shard_count is not None:
            raise InvalidArgumentException("ShardCount is not expected when StreamMode=ON_DEMAND")
        if record_distribution == "AUTO" and stream_mode != "ON_DEMAND":
            raise Stream._on_demand_only_error(name, self.account_id, record_distribution)
        check_retention(retention_hours)
        count = ON_DEMAND_SHARDS if shard_count is None else shard_count
        capacity = self.shard_capacity_bytes if shard_capacity_bytes is None else int(shard_capacity_bytes)
        if capacity < 2 * max_record_size_kib * 1024:
            raise InvalidArgumentException(
                f"shard_capacity_bytes {capacity} must be at least twice the max record size "
                f"({2 * max_record_size_kib * 1024} bytes)"
            )
        if durability is not None:
            if self._data is None:
                raise InvalidArgumentException("durability needs an engine with a data_dir")
            check_durability(durability)
        if tags:
            TagSet(name, self.account_id).add(tags)  # every tag rule, before anything is created
        with self._lock:
            self._check_open()
            if self._lookup(name) is not None:
                raise ResourceInUseException(f"Stream {name} under account {self.account_id} already exists.")
            self._check_shard_limit(count)
            settings = {
                "retention_hours": retention_hours,
                "stream_mode": stream_mode,
                "max_record_size_kib": max_record_size_kib,
                "shard_capacity_bytes": capacity,
                "evict_oldest": evict_oldest,
                "tags": tags,
                "created_ms": self.now_ms(),
                "incarnation": int.from_bytes(os.urandom(8), "big") >> 1,
                "record_distribution": record_distribution,
            }
            if self._data is None:
                stream = Stream(self, name, count, **settings)
            else:
                store = self._store_for(name, settings["incarnation"])
                stream = DurableStream(
                    self, name, count, store=store, durability=durability or self.durability, **settings
                )
                self._maintenance.start()
            if throughput_limits:
                throttle.install(stream, None if throughput_limits is True else throughput_limits)
            self._streams[name] = stream
            return stream

    def delete_stream(
        self, name: str | None = None, *, stream_arn: str | None = None, enforce_consumer_deletion: bool = False
    ) -> dict:
        """Delete a stream and free its memory; its iterators stop working.

        Parameters
        ----------
        enforce_consumer_deletion : bool
            Also deregister the stream's enhanced fan-out consumers (ending
            their subscriptions); without it a stream that has consumers is
            not deleted.

        Returns
        -------
        dict
            ``{}`` as boto3's DeleteStream.

        Raises
        ------
        ResourceNotFoundException
            No such stream.
        ResourceInUseException
            The stream has registered consumers and ``enforce_consumer_deletion`` is false.
        """
        name = self._name_from(name, stream_arn)
        with self._lock:
            stream = self._lookup(name)
            if stream is None:
                raise self._not_found(name)
            if stream._status != "DELETING":
                if self.fanout.count(stream):
                    if not enforce_consumer_deletion:
                        raise ResourceInUseException(
                            f"Stream {name} under account {self.account_id} has registered consumers."
                        )
                    self.fanout.drop_stream(stream)
                stream._mark_deleted()
                if isinstance(stream, DurableStream):
                    stream.store.destroy(self._data.path)
            if not self.transition_ms:
                del self._streams[name]
        return {}

    def describe_stream(
        self,
        name: str | None = None,
        limit: int | None = None,
        exclusive_start_shard_id: str | None = None,
        *,
        stream_arn: str | None = None,
    ) -> dict:
        """boto3's DescribeStream: ``{"StreamDescription": {...}}`` (100 shards a page)."""
        return self.stream(name, stream_arn=stream_arn).describe(limit, exclusive_start_shard_id)

    def describe_stream_summary(self, name: str | None = None, *, stream_arn: str | None = None) -> dict:
        """boto3's DescribeStreamSummary: ``{"StreamDescriptionSummary": {...}}``."""
        return self.stream(name, stream_arn=stream_arn).describe_summary()

    def list_streams(
        self, limit: int | None = None, exclusive_start_stream_name: str | None = None, next_token: str | None = None
    ) -> dict:
        """boto3's ListStreams: names in order, with StreamSummaries and a NextToken while more remain."""
        errs: list = []
        if limit is not None:
            v.check_int_range(errs, "limit", limit, 1, 10_000)
        if exclusive_start_stream_name is not None:
            v.check_name(errs, "exclusiveStartStreamName", exclusive_start_stream_name)
        v.raise_if_any(errs)
        if next_token is not None:
            exclusive_start_stream_name = self._pages.decode(next_token, self.now_ms())
        with self._lock:
            live = {st.name: st for st in self._live_streams()}
            names = sorted(live)
            if exclusive_start_stream_name is not None:
                names = [n for n in names if n > exclusive_start_stream_name]
            page = limit or 100
            shown, more = names[:page], len(names) > page
            out = {
                "StreamNames": shown,
                "HasMoreStreams": more,
                "StreamSummaries": [live[n].summary() for n in shown],
            }
        if more:
            out["NextToken"] = self._pages.encode(shown[-1], self.now_ms())
        return out

    def list_shards(
        self,
        stream_name: str | None = None,
        next_token: str | None = None,
        exclusive_start_shard_id: str | None = None,
        max_results: int | None = None,
        *,
        stream_arn: str | None = None,
        stream_creation_timestamp=None,
        shard_filter: dict | None = None,
    ) -> dict:
        """boto3's ListShards: ``{"Shards": [...], "NextToken": ...}`` (1000 a page by default).

        Parameters
        ----------
        shard_filter : dict, optional
            ``{"Type": ..., "ShardId": ..., "Timestamp": ...}`` with Type one of
            AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON (the default),
            AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP.
        stream_creation_timestamp : datetime or float, optional
            Must match the stream's creation time (tells re-created streams apart).
        """
        has_stream = stream_name is not None or stream_arn is not None
        if next_token is None and not has_stream:
            raise InvalidArgumentException("Either NextToken or StreamName should be provided.")
        if next_token is not None and has_stream:
            raise InvalidArgumentException("NextToken and StreamName cannot be provided together.")
        errs: list = []
        if max_results is not None:
            v.check_int_range(errs, "maxResults", max_results, 1, 10_000)
        if exclusive_start_shard_id is not None:
            v.check_name(errs, "exclusiveStartShardId", exclusive_start_shard_id)
        v.raise_if_any(errs)
        check_shard_filter(shard_filter)
        after = -1
        if next_token is not None:
            page_state = self._shard_page(self._pages.decode(next_token, self.now_ms()))
            stream = self.stream(page_state["stream"])
            if stream.incarnation != page_state["incarnation"]:
                raise self._not_found(page_state["stream"])
            after, shard_filter = page_state["after"], page_state["filter"]
        else:
            stream = self.stream(stream_name, stream_arn=stream_arn)
            if stream_creation_timestamp is not None and not _same_instant(
                to_epoch_ms(stream_creation_timestamp), stream.created_ms
            ):
                raise self._not_found(stream.name)
            if exclusive_start_shard_id is not None:
                after = _shard_sort_key(exclusive_start_shard_id)
        shards = [s for s in stream.filter_shards(shard_filter) if s.index > after]
        page = min(max_results or 1000, 10_000)
        out = {"Shards": [stream._shard_description(s) for s in shards[:page]]}
        if len(shards) > page:
            state = {
                "stream": stream.name,
                "incarnation": stream.incarnation,
                "after": shards[page - 1].index,
                "filter": _jsonable_filter(shard_filter),
            }
            out["NextToken"] = self._pages.encode(json.dumps(state), self.now_ms())
        return out

    @staticmethod
    def _shard_page(payload: str) -> dict:
        """The state a ListShards NextToken carries (InvalidArgumentException for another listing's token)."""
        try:
            state = json.loads(payload)
        except ValueError:
            state = None
        if not (
            isinstance(state, dict)
            and "kind" not in state  # ListStreamConsumers' tokens have one
            and isinstance(state.get("stream"), str)
            and isinstance(state.get("incarnation"), int)
            and isinstance(state.get("after"), int)
        ):
            raise InvalidArgumentException("Invalid NextToken.")
        return state

    def shard_page_stream_name(self, next_token) -> str | None:
        """The stream a ListShards NextToken made by this engine pages through, whatever its age.

        None for anything else (a malformed or altered token, another
        listing's token): ListShards itself then says what is wrong.  For
        authorization, which must know the stream before the call.
        """
        try:
            payload, _issued = self._pages.verify(next_token)
            return self._shard_page(payload)["stream"]
        except KinesisError:
            return None

    def describe_limits(self) -> dict:
        """boto3's DescribeLimits."""
        with self._lock:
            live = self._live_streams()
            open_shards = sum(s.open_shard_count for s in live)
            on_demand = sum(1 for s in live if s.stream_mode == "ON_DEMAND")
        return {
            "ShardLimit": self.shard_limit if self.shard_limit is not None else 2**31 - 1,
            "OpenShardCount": open_shards,
            "OnDemandStreamCount": on_demand,
            "OnDemandStreamCountLimit": 50,
        }

    # -- resharding and retention by stream name (boto3-style) ---------------------------

    def split_shard(
        self, stream_name: str | None, shard_to_split: str, new_starting_hash_key: str, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.split_shard` on the named stream.

        As Kinesis, the shard id is parsed before the stream is looked up: one
        that names no shard index is ResourceNotFoundException ``Could not
        find shard <id> ...`` even when the stream does not exist.
        """
        resharding.check_split_request(shard_to_split, new_starting_hash_key, stream_name)
        name = self._name_from(stream_name, stream_arn)
        shard_index_of(shard_to_split, name, self.account_id)
        return self.stream(name).split_shard(shard_to_split, new_starting_hash_key)

    def merge_shards(
        self,
        stream_name: str | None,
        shard_to_merge: str,
        adjacent_shard_to_merge: str,
        *,
        stream_arn: str | None = None,
    ) -> dict:
        """:meth:`Stream.merge_shards` on the named stream (shard ids parsed first, as for :meth:`split_shard`)."""
        resharding.check_merge_request(shard_to_merge, adjacent_shard_to_merge, stream_name)
        name = self._name_from(stream_name, stream_arn)
        for shard_id in (shard_to_merge, adjacent_shard_to_merge):
            shard_index_of(shard_id, name, self.account_id)
        return self.stream(name).merge_shards(shard_to_merge, adjacent_shard_to_merge)

    def update_shard_count(
        self,
        stream_name: str | None,
        target_shard_count: int,
        scaling_type: str = "UNIFORM_SCALING",
        *,
        stream_arn: str | None = None,
    ) -> dict:
        """:meth:`Stream.update_shard_count` on the named stream."""
        return self.stream(stream_name, stream_arn=stream_arn).update_shard_count(target_shard_count, scaling_type)

    def increase_stream_retention_period(
        self, stream_name: str | None, retention_period_hours: int, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.increase_stream_retention_period` on the named stream."""
        stream = self.stream(stream_name, stream_arn=stream_arn)
        return stream.increase_stream_retention_period(retention_period_hours)

    def decrease_stream_retention_period(
        self, stream_name: str | None, retention_period_hours: int, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.decrease_stream_retention_period` on the named stream."""
        stream = self.stream(stream_name, stream_arn=stream_arn)
        return stream.decrease_stream_retention_period(retention_period_hours)

    def update_stream_record_distribution_strategy(self, stream_arn: str, record_distribution_strategy: str) -> dict:
        """boto3's UpdateStreamRecordDistributionStrategy (the stream named by ARN).

        See :meth:`Stream.update_record_distribution_strategy`; ``{}``.
        """
        return self.stream(stream_arn=stream_arn).update_record_distribution_strategy(record_distribution_strategy)

    def update_stream_mode(self, stream_arn: str, stream_mode_details: dict) -> dict:
        """boto3's UpdateStreamMode: ``stream_mode_details={"StreamMode": "ON_DEMAND" | "PROVISIONED"}``."""
        if not isinstance(stream_mode_details, dict):
            raise SerializationException("StreamModeDetails must be a structure")
        return self.stream(stream_arn=stream_arn).update_stream_mode(stream_mode_details.get("StreamMode"))

    def add_tags_to_stream(self, stream_name: str | None, tags: dict, *, stream_arn: str | None = None) -> dict:
        """:meth:`Stream.add_tags_to_stream` on the named stream."""
        return self.stream(stream_name, stream_arn=stream_arn).add_tags_to_stream(tags)

    def remove_tags_from_stream(self, stream_name: str | None, tag_keys, *, stream_arn: str | None = None) -> dict:
        """:meth:`Stream.remove_tags_from_stream` on the named stream."""
        return self.stream(stream_name, stream_arn=stream_arn).remove_tags_from_stream(tag_keys)

    def list_tags_for_stream(
        self,
        stream_name: str | None = None,
        exclusive_start_tag_key: str | None = None,
        limit: int | None = None,
        *,
        stream_arn: str | None = None,
    ) -> dict:
        """:meth:`Stream.list_tags_for_stream` on the named stream."""
        return self.stream(stream_name, stream_arn=stream_arn).list_tags_for_stream(exclusive_start_tag_key, limit)

    # -- record size, encryption, monitoring (boto3-style) ---------------------------

    def update_max_record_size(self, stream_arn: str, max_record_size_kib: int) -> dict:
        """:meth:`Stream.update_max_record_size` on the stream named by ARN (as boto3's UpdateMaxRecordSize)."""
        return self.stream(stream_arn=stream_arn).update_max_record_size(max_record_size_kib)

    def start_stream_encryption(
        self, stream_name: str | None, encryption_type: str, key_id: str, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.start_stream_encryption` on the named stream."""
        return self.stream(stream_name, stream_arn=stream_arn).start_stream_encryption(encryption_type, key_id)

    def stop_stream_encryption(
        self, stream_name: str | None, encryption_type: str, key_id: str, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.stop_stream_encryption` on the named stream."""
        return self.stream(stream_name, stream_arn=stream_arn).stop_stream_encryption(encryption_type, key_id)

    def enable_enhanced_monitoring(
        self, stream_name: str | None, shard_level_metrics, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.enable_enhanced_monitoring` on the named stream."""
        return self.stream(stream_name, stream_arn=stream_arn).enable_enhanced_monitoring(shard_level_metrics)

    def disable_enhanced_monitoring(
        self, stream_name: str | None, shard_level_metrics, *, stream_arn: str | None = None
    ) -> dict:
        """:meth:`Stream.disable_enhanced_monitoring` on the named stream."""
        return self.stream(stream_name, stream_arn=stream_arn).disable_enhanced_monitoring(shard_level_metrics)

    # -- resources by ARN: tags and policies ----------------------------------------------

    def resource(self, resource_arn: str) -> Stream | StreamConsumer:
        """The stream or consumer a ResourceARN names (TagResource, the resource policies, ...).

        Raises
        ------
        SerializationException
            Not a string.
        ValidationException
            Missing, or not a Kinesis stream or consumer ARN.
        ResourceNotFoundException
            No such stream or consumer.
        InvalidArgumentException
            A stream ARN of another region or account.
        """
        if resource_arn is not None and not isinstance(resource_arn, str):
            raise SerializationException(f"ResourceARN must be a str, not {type(resource_arn).__name__}")
        errs: list = []
        if v.check_required(errs, "resourceARN", resource_arn):
            v.check_length(errs, "resourceARN", resource_arn, 1, 2048)
            v.check_pattern(errs, "resourceARN", resource_arn, RESOURCE_ARN_PATTERN)
        v.raise_if_any(errs)
        if _CONSUMER_ARN.fullmatch(resource_arn):
            return self.fanout.by_arn(resource_arn)
        return self.stream(stream_arn=resource_arn)

    def tag_resource(self, resource_arn: str, tags: dict) -> dict:
        """boto3's TagResource: :meth:`Stream.add_tags_to_stream` by ResourceARN; ``{}``."""
        return self.resource(resource_arn).add_tags_to_stream(tags)

    def untag_resource(self, resource_arn: str, tag_keys) -> dict:
        """boto3's UntagResource: :meth:`Stream.remove_tags_from_stream` by ResourceARN; ``{}``."""
        return self.resource(resource_arn).remove_tags_from_stream(tag_keys)

    def list_tags_for_resource(self, resource_arn: str) -> dict:
        """boto3's ListTagsForResource: ``{"Tags": [{"Key", "Value"}, ...]}``, every tag in key order."""
        tags = self.resource(resource_arn).tags
        return {"Tags": [{"Key": k, "Value": val} for k, val in tags.items()]}

    def put_resource_policy(self, resource_arn: str, policy: str) -> dict:
        """boto3's PutResourcePolicy: :meth:`Stream.put_resource_policy` by ResourceARN; ``{}``."""
        return self.resource(resource_arn).put_resource_policy(policy)

    def get_resource_policy(self, resource_arn: str) -> dict:
        """boto3's GetResourcePolicy: ``{"Policy": ...}`` (``"{}"`` when none is attached)."""
        return self.resource(resource_arn).get_resource_policy()

    def delete_resource_policy(self, resource_arn: str) -> dict:
        """boto3's DeleteResourcePolicy; ``{}`` (ResourceNotFoundException if the resource has no policy)."""
        return self.resource(resource_arn).delete_resource_policy()

    # -- enhanced fan-out (boto3-style) -------------------------------------------------

    def register_stream_consumer(self, stream_arn: str, consumer_name: str, tags: dict | None = None) -> dict:
        """boto3's RegisterStreamConsumer: register an enhanced fan-out consumer of a stream.

        Parameters
        ----------
        stream_arn : str
        consumer_name : str
            1-128 characters of ``[a-zA-Z0-9_.-]``, unique among the stream's consumers.
        tags : dict, optional
            The consumer's tags (as for streams; see :meth:`tag_resource`).

        Returns
        -------
        dict
            ``{"Consumer": {"ConsumerName", "ConsumerARN", "ConsumerStatus",
            "ConsumerCreationTimestamp"}}``; the ARN is
            ``<StreamARN>/consumer/<ConsumerName>:<creation epoch seconds>``.
            The consumer is CREATING for the engine's ``transition_ms``, then
            ACTIVE (at once when it is 0).

        Raises
        ------
        ValidationException, SerializationException, InvalidArgumentException
            A malformed name, ARN or tags.
        ResourceNotFoundException
            No such stream.
        ResourceInUseException
            The name is taken, or the stream is not ACTIVE (or UPDATING).
        LimitExceededException
            The stream has 20 consumers, or 5 CREATING.
        """
        return self.fanout.register(stream_arn, consumer_name, tags)

    def describe_stream_consumer(
        self, stream_arn: str | None = None, consumer_name: str | None = None, consumer_arn: str | None = None
    ) -> dict:
        """boto3's DescribeStreamConsumer: ``{"ConsumerDescription": {..., "StreamARN"}}``.

        Name the consumer by ``consumer_arn``, or by ``stream_arn`` and
        ``consumer_name``; when more are given they must agree
        (InvalidArgumentException otherwise).  ResourceNotFoundException if
        there is no such consumer.
        """
        return self.fanout.describe(stream_arn, consumer_name, consumer_arn)

    def list_stream_consumers(
        self,
        stream_arn: str,
        next_token: str | None = None,
        max_results: int | None = None,
        *,
        stream_creation_timestamp=None,
    ) -> dict:
        """boto3's ListStreamConsumers: ``{"Consumers": [...], "NextToken": ...}`` in name order.

        Parameters
        ----------
        stream_arn : str
        next_token : str, optional
            From the previous page (valid five minutes); the same ``stream_arn``
            must be given with it.
        max_results : int, optional
            1 to 10,000 per page (default 100).
        stream_creation_timestamp : datetime or float, optional
            Must match the stream's creation time (ResourceNotFoundException otherwise).
        """
        return self.fanout.list_consumers(stream_arn, next_token, max_results, stream_creation_timestamp)

    def deregister_stream_consumer(
        self, stream_arn: str | None = None, consumer_name: str | None = None, consumer_arn: str | None = None
    ) -> dict:
        """boto3's DeregisterStreamConsumer; ``{}``.

        The consumer (named as for :meth:`describe_stream_consumer`) is
        DELETING for the engine's ``transition_ms``, then gone; its
        subscriptions end at once with ResourceInUseException.
        """
        return self.fanout.deregister(stream_arn, consumer_name, consumer_arn)

    def subscribe_to_shard(
        self,
        consumer_arn: str,
        shard_id: str,
        starting_position: dict,
        *,
        wire: bool = False,
        lifetime_s: float | None = None,
        poll_interval_s: float | None = None,
        heartbeat_s: float | None = None,
        dry_run: bool = False,
    ) -> Subscription:
        """boto3's SubscribeToShard, embedded: a live feed of a shard's records.

        Parameters
        ----------
        consumer_arn : str
            An ACTIVE consumer of the stream.
        shard_id : str
        starting_position : dict
            ``{"Type": ..., "SequenceNumber": ..., "Timestamp": ...}`` with the
            iterator types of :meth:`Stream.get_shard_iterator`.
        wire : bool
            Records in the JSON wire shape (``Data`` base64 text,
            ``ApproximateArrivalTimestamp`` epoch seconds), as the server sends them.
        lifetime_s : float, optional
            When the subscription ends (default ``engine.fanout.lifetime_s``, 300 s).
        poll_interval_s : float, optional
            Pause between reads while the shard has nothing new (default 0.1 s).
        heartbeat_s : float, optional
            Longest time between events (default 1 s).
        dry_run : bool
            Make every check (consumer ACTIVE, shard and starting position
            valid, no recent subscription of the consumer to the shard) and
            start nothing: DryRunOperationException if the call would succeed.

        Returns
        -------
        Subscription
            An iterator and async iterator of events ``{"Records": [...],
            "ContinuationSequenceNumber": ..., "MillisBehindLatest": ...}``
            (plus ``ChildShards``, with a None continuation, as the last event of
            a closed shard).  Close it (or use it in ``with``) to end it early.
            See :mod:`shardstream.fanout`.

        Raises
        ------
        ResourceNotFoundException
            No such consumer or shard.
        ResourceInUseException
            The consumer is not ACTIVE, or the same consumer subscribed to the
            same shard less than 5 seconds ago and that subscription is live.
        InvalidArgumentException, ValidationException
            A bad starting position (as for GetShardIterator).
        DryRunOperationException
            ``dry_run`` and the subscription would have started.
        """
        return self.fanout.subscribe(
            consumer_arn,
            shard_id,
            starting_position,
            wire=wire,
            lifetime_s=lifetime_s,
            poll_interval_s=poll_interval_s,
            heartbeat_s=heartbeat_s,
            dry_run=dry_run,
        )

    def consumer_count(self, stream_name: str) -> int:
        """How many enhanced fan-out consumers the named stream has (any status)."""
        return self.fanout.count(self.stream(stream_name))

    # -- account settings ---------------------------------------------------------------

    def describe_account_settings(self) -> dict:
        """boto3's DescribeAccountSettings: ``{"MinimumThroughputBillingCommitment": {"Status", ...}}``.

        The commitment is stored and echoed only; it changes no behaviour.
        """
        with self._lock:
            commitment = dict(self._billing_commitment)
            end = commitment.get("EarliestAllowedEndAt")
            if commitment["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END" and self.now_ms() >= end:
                commitment = {"Status": "DISABLED", "StartedAt": commitment["StartedAt"], "EndedAt": end}
                self._billing_commitment = dict(commitment)
        return {"MinimumThroughputBillingCommitment": _commitment_view(commitment)}

    def update_account_settings(self, minimum_throughput_billing_commitment: dict) -> dict:
        """boto3's UpdateAccountSettings: enable or disable the minimum throughput billing commitment.

        Parameters
        ----------
        minimum_throughput_billing_commitment : dict
            ``{"Status": "ENABLED" | "DISABLED"}``.

        Returns
        -------
        dict
            ``{"MinimumThroughputBillingCommitment": {"Status", "StartedAt", "EndedAt",
            "EarliestAllowedEndAt"}}`` (the times that apply).  A commitment lasts at
            least 24 hours: disabling it earlier gives ``ENABLED_UNTIL_EARLIEST_ALLOWED_END``.

        Raises
        ------
        SerializationException
            Not a structure.
        ValidationException
            A missing or unknown Status.
        """
        given = minimum_throughput_billing_commitment
        if given is not None and not isinstance(given, dict):
            raise SerializationException("MinimumThroughputBillingCommitment must be a structure")
        errs: list = []
        if v.check_required(errs, "minimumThroughputBillingCommitment", given):
            status = given.get("Status")
            if v.check_required(errs, "minimumThroughputBillingCommitment.status", status):
                v.check_enum(errs, "minimumThroughputBillingCommitment.status", status, BILLING_COMMITMENT_STATUSES)
        v.raise_if_any(errs)
        self.describe_account_settings()  # settle an expired early-disable first
        now = self.now_ms()
        with self._lock:
            current = self._billing_commitment
            enabled = current["Status"] != "DISABLED"
            if status == "ENABLED":
                if current["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END":  # resume the running commitment
                    current = {k: val for k, val in current.items() if k != "EndedAt"}
                    current["Status"] = "ENABLED"
                elif current["Status"] == "DISABLED":
                    current = {
                        "Status": "ENABLED",
                        "StartedAt": now,
                        "EarliestAllowedEndAt": now + MIN_BILLING_COMMITMENT_MS,
                    }
            elif enabled:
                earliest = current["EarliestAllowedEndAt"]
                if now < earliest:
                    current = {**current, "Status": "ENABLED_UNTIL_EARLIEST_ALLOWED_END", "EndedAt": earliest}
                else:
                    current = {"Status": "DISABLED", "StartedAt": current["StartedAt"], "EndedAt": now}
            self._billing_commitment = dict(current)
            if self._data is not None:
                try:
                    self._data.save(billing_commitment=self._billing_commitment)
                except OSError as exc:
                    raise storage_error(exc) from exc
        return {"MinimumThroughputBillingCommitment": _commitment_view(current)}

    # -- data plane by stream name (boto3-style) ---------------------------------------

    def put_record(
        self,
        stream_name: str,
        data,
        partition_key: str | None = None,
        explicit_hash_key=None,
        sequence_number_for_ordering=None,
        *,
        dry_run: bool = False,
    ) -> dict:
        """:meth:`Stream.put_record` on the named stream."""
        return self.stream(stream_name).put_record(
            data, partition_key, explicit_hash_key, sequence_number_for_ordering, dry_run=dry_run
        )

    def put_records(self, records, stream_name: str, *, dry_run: bool = False) -> dict:
        """:meth:`Stream.put_records` on the named stream."""
        return self.stream(stream_name).put_records(records, dry_run=dry_run)

    def get_shard_iterator(
        self,
        stream_name: str | None,
        shard_id: str,
        shard_iterator_type: str,
        starting_sequence_number=None,
        timestamp=None,
        *,
        stream_arn: str | None = None,
        dry_run: bool = False,
    ) -> dict:
        """:meth:`Stream.get_shard_iterator` on the named stream.

        As Kinesis, the shard id is parsed before the stream is looked up: one
        that names no shard index is ResourceNotFoundException ``Could not find
        shard <id> in stream <name> under account <acct>.``; a valid one on a
        missing stream is ``Shard shardId-<index> in stream <name> under
        account <acct> does not exist``.
        """
        check_iterator_request(shard_id, shard_iterator_type, starting_sequence_number, stream_name)
        name = self._name_from(stream_name, stream_arn)
        index = shard_index_of(shard_id, name, self.account_id)
        stream = self._lookup(name)
        if stream is None:
            raise shard_does_not_exist(index, name, self.account_id)
        return stream.get_shard_iterator(
            shard_id, shard_iterator_type, starting_sequence_number, timestamp, dry_run=dry_run
        )

    def get_records(self, shard_iterator: str, limit: int | None = None, *, dry_run: bool = False) -> dict:
        """GetRecords by iterator alone (the iterator names its stream)."""
        return self.iterator_stream(shard_iterator).get_records(shard_iterator, limit, dry_run=dry_run)

    def iterator_stream_name(self, shard_iterator) -> str | None:
        """The stream a shard iterator made by this engine reads, whatever its age.

        None for anything that is not such an iterator: GetRecords itself then
        says what is wrong.  For authorization, which must know the stream
        before the call.
        """
        try:
            return self._iterators.verify(shard_iterator).stream_name
        except KinesisError:
            return None

    def iterator_stream(self, shard_iterator: str) -> Stream:
        """The stream a shard iterator reads.

        Raises
        ------
        InvalidArgumentException, ExpiredIteratorException
            A malformed or expired iterator.
        ResourceNotFoundException
            Its stream is gone (or was re-created since).
        """
        pos = self._iterators.decode(shard_iterator, self.now_ms())
        stream = self._lookup(pos.stream_name)
        if stream is None or stream.incarnation != pos.incarnation:
            raise ResourceNotFoundException(
                f"Shard shardId-{pos.shard_index:012d} in stream {pos.stream_name} under account "
                f"{self.account_id} does not exist"
            )
        return stream

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("the engine is closed")

    def __repr__(self) -> str:
        where = "" if self._data is None else f" data_dir={str(self._data.path)!r}"
        return f"<Engine {self.region}/{self.account_id} streams={len(self._streams)}{where}>"


def _commitment_view(commitment: dict) -> dict:
    """A stored billing commitment with its times as datetimes."""
    return {k: (val if k == "Status" else ms_to_datetime(val)) for k, val in commitment.items()}


def _jsonable_filter(shard_filter: dict | None) -> dict | None:
    """A ShardFilter with its timestamp as epoch ms, to carry in a NextToken."""
    if shard_filter is None:
        return None
    out = dict(shard_filter)
    if out.get("Timestamp") is not None:
        out["Timestamp"] = to_epoch_ms(out["Timestamp"]) / 1000
    return out


def _same_instant(given_ms: int, created_ms: int) -> bool:
    """A StreamCreationTimestamp names the stream's creation: to the ms, or to the second when
    the caller sent whole seconds (as botocore does)."""
    return given_ms == created_ms or (given_ms % 1000 == 0 and given_ms // 1000 == created_ms // 1000)


@atexit.register
def _close_open_engines() -> None:
    for engine in list(_open_engines):
        engine.close()
