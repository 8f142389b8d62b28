"""Engine: an in-process Kinesis, made of a catalog of streams and the parts that serve its calls.

The engine owns the lifecycle: it opens (or restores) a data directory,
creates and deletes streams (in memory or durable), and closes.  Its other
Kinesis calls are served by parts it composes and publishes under its own
name (:mod:`shardstream.delegate`):

* :class:`~shardstream.catalog.Catalog` (``engine.catalog``): the streams by
  name, the engine's settings, clock, control-plane lock and token codecs;
* :class:`~shardstream.listing.StreamListings` (``engine.listings``):
  DescribeStream(Summary), ListStreams, ListShards, DescribeLimits;
* :class:`~shardstream.operations.StreamOperations` (``engine.operations``):
  the calls on one stream by name or ARN (resharding, retention, tags,
  settings, resources, puts and reads);
* :class:`~shardstream.fanout.ConsumerRegistry` (``engine.fanout``):
  enhanced fan-out consumers and SubscribeToShard;
* :class:`~shardstream.account.AccountSettings` (``engine.account``): the
  billing commitment.

Threading contract: control-plane calls (create, delete, reshard,
re-configure) serialise on the catalog's lock; data-plane calls go straight
to a Stream and never take it, so writers and readers on many threads run in
parallel.
"""

from __future__ import annotations

import atexit
import copy
import os
import secrets
import weakref
from pathlib import Path

from . import throttle
from . import validation as v
from .account import AccountSettings
from .catalog import Catalog
from .delegate import delegate
from .durable import DurableStream, Maintenance, check_durability, counter_gap
from .errors import InvalidArgumentException, ResourceInUseException, SerializationException, StorageError
from .fanout import ConsumerRegistry
from .keys import KeyStore
from .listing import StreamListings
from .models import ShardInfo
from .modes import RECORD_DISTRIBUTIONS, STREAM_MODES, CapacityModes
from .operations import StreamOperations
from .queues import QueueRegistry
from .sequence import LEGACY_VERSION
from .storage import layout
from .storage.datadir import DataDirectory
from .storage.fileio import SYSTEM_IO, SegmentIO
from .storage.log import DEFAULT_MAX_SEGMENT_BYTES
from .storage.store import StreamStore
from .stream import Stream
from .tags import TagSet
from .validation import check_retention

__all__ = ["DEFAULT_SHARD_CAPACITY_BYTES", "DEFAULT_SHARD_LIMIT", "Engine"]

DEFAULT_SHARD_CAPACITY_BYTES = 256 * 1024 * 1024
#: Kinesis's documented default shard quota per account in us-east-1 (also us-west-2 and eu-west-1).
DEFAULT_SHARD_LIMIT = 20_000
# Durable engines still open, closed (flushed, synced, sealed) at interpreter exit.
_open_engines: weakref.WeakSet = weakref.WeakSet()
ON_DEMAND_SHARDS = 4


def _restored_stream(catalog, doc: dict, store: StreamStore, unclean: bool) -> DurableStream:
    """The durable stream ``doc`` (its ``stream.json``) describes, on ``store``."""
    capacity = doc["shard_capacity_bytes"]
    return DurableStream(
        catalog,
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
        Keep streams (records, metadata) and their queues (delivery state) in
        this directory (created if missing) so that they survive restarts and
        crashes; reopening it restores them.  Without it the engine is purely
        in memory.  See :mod:`shardstream.durable` and :mod:`shardstream.queues`.
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
        calls); tests pass one that fails on demand (``ENOSPC``: a full disk).
    keys : KeyStore, mapping, path-like or list of str, optional
        The local key store standing in for KMS (:mod:`shardstream.keys`): a
        mapping of key ids, aliases and ARNs to 32-byte keys, a JSON file of
        one, or a command printing one.  Durable streams that encrypt
        (StartStreamEncryption) need it; without it they refuse to.

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
        keys=None,
    ):
        check_durability(durability)
        #: The key store (:class:`~shardstream.keys.KeyStore`) or None; StartStreamEncryption resolves keys in it.
        self.keys = None if keys is None else KeyStore.load(keys)
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
        self.durability = durability
        self.flush_interval_ms = int(flush_interval_ms)
        self.max_segment_bytes = int(max_segment_bytes)
        self._segment_io = segment_io
        self._data: DataDirectory | None = None
        self._maintenance: Maintenance | None = None
        if data_dir is not None:
            self._data = DataDirectory.open(data_dir, region=region, account_id=account_id)
        self.catalog = Catalog(
            region=region,
            account_id=account_id,
            shard_limit=shard_limit,
            clock=clock,
            transition_ms=transition_ms,
            on_demand_scale_after_ms=on_demand_scale_after_ms,
            secret=secrets.token_bytes(32) if self._data is None else self._data.iterator_secret,
        )
        self.catalog.keys = self.keys
        self.account = AccountSettings(self.catalog.now_ms, self.catalog.lock, self._data)
        self.catalog.commitment_status = self.account.commitment_status
        self.listings = StreamListings(self.catalog)
        self.operations = StreamOperations(self.catalog)
        #: The enhanced fan-out consumers and their subscriptions (:mod:`shardstream.fanout`).
        self.fanout = ConsumerRegistry(self.catalog, self._data)
        self.catalog.consumers = self.fanout
        self.queues = QueueRegistry(self.catalog, self.data_dir)
        #: The metrics (:mod:`shardstream.metrics`): CloudWatch's operations, Arrow tables.
        self.metrics = self.catalog.metrics
        #: CloudWatch's alarms on those metrics (:mod:`shardstream.metrics.alarms`), evaluated once a second.
        self.alarms = self.catalog.alarms
        if self._data is not None:
            try:
                self._restore_streams()
                self.fanout.restore(self._data.doc.get("consumers"))
                self.queues.restore()
            except BaseException:
                self._data.release()
                raise
            self._maintenance = Maintenance(self)
            if len(self.catalog):
                self._maintenance.start()
            _open_engines.add(self)

    # -- the calls of the engine's parts --------------------------------------------------

    describe_stream = delegate("listings", StreamListings)
    describe_stream_summary = delegate("listings", StreamListings)
    list_streams = delegate("listings", StreamListings)
    list_shards = delegate("listings", StreamListings)
    shard_page_stream_name = delegate("listings", StreamListings)
    describe_limits = delegate("listings", StreamListings)

    split_shard = delegate("operations", StreamOperations)
    merge_shards = delegate("operations", StreamOperations)
    update_shard_count = delegate("operations", StreamOperations)
    increase_stream_retention_period = delegate("operations", StreamOperations)
    decrease_stream_retention_period = delegate("operations", StreamOperations)
    update_stream_record_distribution_strategy = delegate("operations", StreamOperations)
    update_stream_mode = delegate("operations", StreamOperations)
    add_tags_to_stream = delegate("operations", StreamOperations)
    remove_tags_from_stream = delegate("operations", StreamOperations)
    list_tags_for_stream = delegate("operations", StreamOperations)
    update_max_record_size = delegate("operations", StreamOperations)
    start_stream_encryption = delegate("operations", StreamOperations)
    stop_stream_encryption = delegate("operations", StreamOperations)
    enable_enhanced_monitoring = delegate("operations", StreamOperations)
    disable_enhanced_monitoring = delegate("operations", StreamOperations)
    resource = delegate("operations", StreamOperations)
    tag_resource = delegate("operations", StreamOperations)
    untag_resource = delegate("operations", StreamOperations)
    list_tags_for_resource = delegate("operations", StreamOperations)
    put_resource_policy = delegate("operations", StreamOperations)
    get_resource_policy = delegate("operations", StreamOperations)
    delete_resource_policy = delegate("operations", StreamOperations)
    put_record = delegate("operations", StreamOperations)
    put_records = delegate("operations", StreamOperations)
    get_shard_iterator = delegate("operations", StreamOperations)
    get_records = delegate("operations", StreamOperations)
    iterator_stream_name = delegate("operations", StreamOperations)
    iterator_stream = delegate("operations", StreamOperations)

    register_stream_consumer = delegate("fanout", ConsumerRegistry)
    describe_stream_consumer = delegate("fanout", ConsumerRegistry)
    list_stream_consumers = delegate("fanout", ConsumerRegistry)
    deregister_stream_consumer = delegate("fanout", ConsumerRegistry)
    subscribe_to_shard = delegate("fanout", ConsumerRegistry)
    create_queue = delegate("queues", QueueRegistry)
    describe_queue = delegate("queues", QueueRegistry)
    list_queues = delegate("queues", QueueRegistry)
    update_queue = delegate("queues", QueueRegistry)
    delete_queue = delegate("queues", QueueRegistry)
    receive_queue_records = delegate("queues", QueueRegistry)
    acknowledge_queue_records = delegate("queues", QueueRegistry)
    update_queue_records_visibility = delegate("queues", QueueRegistry)
    receive_dead_letter_queue_records = delegate("queues", QueueRegistry)
    acknowledge_dead_letter_queue_records = delegate("queues", QueueRegistry)
    update_dead_letter_queue_records_visibility = delegate("queues", QueueRegistry)
    restore_dead_letter_queue_records = delegate("queues", QueueRegistry)
    describe_account_settings = delegate("account", AccountSettings)
    update_account_settings = delegate("account", AccountSettings)

    # -- lifecycle -------------------------------------------------------------------

    @property
    def data_dir(self) -> Path | None:
        """The directory holding the engine's streams, or None for an in-memory engine."""
        return None if self._data is None else self._data.path

    @property
    def closed(self) -> bool:
        """The engine was closed: its streams take no writes and nothing new can be made."""
        return self.catalog.closed

    def _store(self, path, **kwargs) -> StreamStore:
        io, before = self._segment_io, self._data.mark_in_use
        return StreamStore(
            path, max_segment_bytes=self.max_segment_bytes, io=io, before_write=before, keys=self.keys, **kwargs
        )

    def _store_for(self, name: str, incarnation: int) -> StreamStore:
        return self._store(layout.streams_dir(self._data.path) / layout.stream_dir_name(name, incarnation))

    def _restore_streams(self) -> None:
        unclean = not self._data.was_clean
        for stored in layout.list_streams(self._data.path):
            store = self._store(stored.path, clean=not unclean, saved_doc=copy.deepcopy(stored.doc))
            self.catalog.add(_restored_stream(self.catalog, stored.doc, store, unclean))

    def durable_streams(self) -> list[DurableStream]:
        """The engine's streams that keep their records in its data directory."""
        return [s for s in self.catalog.all() if isinstance(s, DurableStream)]

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
        return sum(stream.flush(sync=sync) for stream in self.durable_streams())

    def close(self) -> None:
        """Write and sync everything, seal the files and release the data directory.

        An in-memory engine just stops accepting writes.  Idempotent; nothing
        of the engine can be used afterwards.  ``with Engine(...)`` closes on exit.
        """
        with self.catalog.lock:
            if self.closed:
                return
            self.catalog.closed = True
            self.catalog.sampler.stop()
            self.fanout.end_all()
            if self._maintenance is not None:
                self._maintenance.stop()
            for stream in self.catalog.all():
                stream.stop_accepting()
            if self._data is not None:
                self.queues.close()
                error = None
                for stream in self.durable_streams():
                    try:
                        stream.store.close(stream.logs, stream.now_ms())
                    except StorageError as exc:  # records only in memory could not be written
                        error = error or exc
                clean = error is None and all(s.store.closed_cleanly for s in self.durable_streams())
                self._data.close(clean=clean)
                _open_engines.discard(self)
                if error is not None:
                    raise error

    def _crash(self) -> None:
        """Drop the data directory as a killed process would: nothing flushed, nothing sealed (tests)."""
        with self.catalog.lock:
            self.catalog.closed = True
            if self._maintenance is not None:
                self._maintenance.stop()
            for stream in self.durable_streams():
                stream.stop_accepting()
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

        Parameters
        ----------
        region : str
            A durable engine's region lives in a sibling directory named after
            it (``shardstream serve --data-dir D`` keeps ``D/<region>``).
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
        return self.catalog.now_ms()

    # -- streams -----------------------------------------------------------------------

    def stream(self, name: str | None = None, *, stream_arn: str | None = None) -> Stream:
        """The Stream called ``name`` (or identified by ``stream_arn``); ResourceNotFoundException if none."""
        return self.catalog.stream(name, stream_arn=stream_arn)

    def __contains__(self, name: str) -> bool:
        return self.catalog.lookup(name) is not None

    def open_shard_total(self) -> int:
        """Open shards across all live streams (what the account shard limit counts)."""
        return self.catalog.open_shard_total()

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
        check_create_request(
            name, shard_count, retention_hours, stream_mode, max_record_size_kib, record_distribution, self.account_id
        )
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
        with self.catalog.lock:
            self.catalog.check_open()
            if self.catalog.lookup(name) is not None:
                raise ResourceInUseException(f"Stream {name} under account {self.account_id} already exists.")
            self.catalog.check_shard_limit(count)
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
                stream = Stream(self.catalog, name, count, **settings)
            else:
                store = self._store_for(name, settings["incarnation"])
                stream = DurableStream(
                    self.catalog, name, count, store=store, durability=durability or self.durability, **settings
                )
                self._maintenance.start()
            if throughput_limits:
                throttle.install(stream, None if throughput_limits is True else throughput_limits)
            self.catalog.add(stream)
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
            The stream has registered consumers and ``enforce_consumer_deletion`` is false, or it has queues.
        """
        name = self.catalog.name_from(name, stream_arn)
        with self.catalog.lock:
            stream = self.catalog.lookup(name)
            if stream is None:
                raise self.catalog.not_found(name)
            if stream.status != "DELETING":
                self.queues.check_deletable(stream)
                if self.fanout.count(stream):
                    if not enforce_consumer_deletion:
                        raise ResourceInUseException(
                            f"Stream {name} under account {self.account_id} has registered consumers."
                        )
                    self.fanout.drop_stream(stream)
                stream.mark_deleted()
                if isinstance(stream, DurableStream):
                    stream.store.destroy(self._data.path)
            if not self.transition_ms:
                self.catalog.remove(name)
        return {}

    def consumer_count(self, stream_name: str) -> int:
        """How many enhanced fan-out consumers the stream ``stream_name`` has (any status)."""
        return self.fanout.count(self.stream(stream_name))

    def __repr__(self) -> str:
        where = "" if self._data is None else f" data_dir={str(self._data.path)!r}"
        return f"<Engine {self.region}/{self.account_id} streams={len(self.catalog)}{where}>"


def check_create_request(
    name, shard_count, retention_hours, stream_mode, max_record_size_kib, record_distribution, account_id: str
) -> None:
    """Check a CreateStream request's arguments as Kinesis does, in its order (nothing is created).

    Parameters
    ----------
    name, shard_count, retention_hours, stream_mode, max_record_size_kib, record_distribution
        As for :meth:`Engine.create_stream`.
    account_id : str
        Named in the error for AUTO distribution on a provisioned stream.

    Raises
    ------
    SerializationException, ValidationException, InvalidArgumentException
        As :meth:`Engine.create_stream` lists them.
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
        CapacityModes.check_record_distribution(record_distribution)
    v.raise_if_any(errs)
    if stream_mode == "ON_DEMAND" and shard_count is not None:
        raise InvalidArgumentException("ShardCount is not expected when StreamMode=ON_DEMAND")
    if record_distribution == "AUTO" and stream_mode != "ON_DEMAND":
        raise CapacityModes.on_demand_only_error(name, account_id, record_distribution)
    check_retention(retention_hours)


@atexit.register
def _close_open_engines() -> None:
    for engine in list(_open_engines):
        engine.close()
