"""Stream: a handle on one Kinesis-style stream inside an Engine.

The stream owns its shards, their native logs and its lifecycle (CREATING,
ACTIVE, UPDATING, DELETING); the write paths (``put_record``, the core of
``put_batch``/``put_records``) live in the compiled ``StreamCore`` it
extends.  Everything else is a part that owns one job and its state, and
whose calls the stream publishes under its own name (:mod:`shardstream.delegate`):

* :class:`~shardstream.settings.StreamSettings` (``stream.settings``): tags,
  record size, encryption, monitoring, resource policy, retention;
* :class:`~shardstream.numbering.StreamNumbering` (``stream.numbering``):
  its sequence numbers, made and read back;
* :class:`~shardstream.modes.CapacityModes` (``stream.modes``): capacity
  mode, record distribution, warm throughput, on-demand scaling;
* :class:`~shardstream.resharding.Resharding` (``stream.resharding``): splits,
  merges, shard-count changes;
* :class:`~shardstream.reads.StreamReads` (``stream.reads``): iterators,
  GetRecords, Arrow reads;
* :class:`~shardstream.describe.StreamDescriptions` (``stream.descriptions``):
  DescribeStream, ListShards' shards, statistics;
* :class:`~shardstream.write_signal.WriteSignal` (``stream.writes``): wakes
  readers waiting for the next write (queue long polls).

Every method is safe to call from any number of threads.  Control-plane
changes take the engine's lock (``stream.catalog.lock``); writes and reads
take only the shard locks inside the native core.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from ._native import RecordRejected, RoutingTable, ShardLog, StreamCore, md5_hash_keys, read_arrow_batch
from .columns import as_key_array, as_payload_array
from .delegate import delegate
from .describe import StreamDescriptions
from .errors import (
    DryRunOperationException,
    ResourceInUseException,
    ResourceNotFoundException,
    StorageError,
)
from .metrics.meters import StreamMeters
from .models import ShardInfo, parse_shard_index, shard_does_not_exist, shard_index_of
from .modes import CapacityModes
from .numbering import StreamNumbering
from .puts import (
    keyless,
    metered_puts,
    parse_hash_keys,
    parse_put_records,
    partly_stored_records,
    put_records_response,
    put_result_table,
    record_rejection,
)
from .reads import StreamReads
from .resharding import Resharding
from .sequence import (
    shard_created_s,
)
from .settings import StreamSettings
from .throttled import THROTTLED_CALLS, ThrottledCalls
from .write_signal import WriteSignal

__all__ = ["Stream"]


def batch_columns(partition_keys, data) -> tuple[pa.Array | None, pa.Array]:
    """``put_batch``'s keys (None stays None) and payloads as Arrow arrays.

    Lists and tuples of str keys and of str or bytes payloads are gathered natively (no per-item
    pyarrow conversion); anything else, errors included, goes through the general conversion
    (:func:`~shardstream.columns.as_key_array`, :func:`~shardstream.columns.as_payload_array`).

    Parameters
    ----------
    partition_keys, data
        As passed to :meth:`Stream.put_batch`.
    """
    keys = None if partition_keys is None else StreamCore._text_column(partition_keys, True)
    if keys is None and partition_keys is not None:
        keys = as_key_array(partition_keys)
    payloads = StreamCore._text_column(data)
    return keys, as_payload_array(data) if payloads is None else payloads


class Stream(StreamCore):
    """One stream: its shards, their logs, and the Kinesis data plane.

    Obtain one from :meth:`Engine.create_stream` or :meth:`Engine.stream`;
    do not construct it directly.

    Parameters
    ----------
    catalog : Catalog
        The engine's catalog: account, region, clock, lock and token codecs.
    name : str
    shard_count : int
        Shards to create (ignored when ``layout`` restores them).

    Attributes
    ----------
    name : str
    arn : str
        ``arn:aws:kinesis:<region>:<account>:stream/<name>``.
    shards : list of ShardInfo
        Every shard ever created in the stream, by index.
    settings, numbering, modes, resharding, reads, descriptions, writes
        The stream's parts (see the module's documentation).
    """

    def __init__(
        self,
        catalog,
        name: str,
        shard_count: int,
        *,
        retention_hours: int,
        stream_mode: str,
        max_record_size_kib: int,
        shard_capacity_bytes: int,
        evict_oldest: bool,
        tags: dict | None,
        created_ms: int,
        incarnation: int,
        layout: list[ShardInfo] | None = None,
        record_distribution: str = "USER_PARTITION_KEY",
        sequence_layout: int = 2,
    ):
        self._init_core(name, catalog.account_id, max_record_size_kib * 1024, catalog.clock)
        self.catalog = catalog
        self.arn = f"arn:aws:kinesis:{catalog.region}:{catalog.account_id}:stream/{name}"
        self.incarnation = incarnation
        # 2: AWS's layout.  LEGACY_VERSION: a stream created before 2026 also
        # accepts its old numbers (in checkpoints), whose salt was this.
        self.sequence_layout = sequence_layout
        self.salt = incarnation % 100_000
        self.created_ms = created_ms
        delay = catalog.transition_ms
        self._status = "CREATING" if delay else "ACTIVE"
        self._status_until_ms = created_ms + delay
        self._layout_before_update: tuple[int, frozenset[int]] | None = None
        self._deleted_while_creating = False
        self.retention_hours = retention_hours
        self.max_record_size_kib = max_record_size_kib
        self.shard_capacity_bytes = shard_capacity_bytes
        self.evict_oldest = evict_oldest
        self.settings = StreamSettings(self, tags)
        self.numbering = StreamNumbering(self)
        self.resharding = Resharding(self)
        self.modes = CapacityModes(self, stream_mode, record_distribution)
        self.reads = StreamReads(self)
        self.descriptions = StreamDescriptions(self)
        self.writes = WriteSignal(self)
        self.meters = StreamMeters(self)
        self.shards: list[ShardInfo] = []
        if layout is None:
            step = 2**128 // shard_count
            for i in range(shard_count):
                end = (i + 1) * step - 1 if i < shard_count - 1 else 2**128 - 1
                self.add_shard(i * step, end, created_ms)
        else:  # reopened from a data directory
            for shard in layout:
                start, end = shard.starting_hash_key, shard.ending_hash_key
                self.add_shard(start, end, shard.created_ms, shard.parent, shard.adjacent_parent)
                self.shards[-1].closed_ms = shard.closed_ms
                if shard.closed_ms is not None:
                    self.logs[-1].close()
        self.rebuild_routing()
        self._set_accepting(not delay)
        self.modes.configure_write_watch()

    # -- the calls of the stream's parts ------------------------------------------------

    tags = delegate("settings", StreamSettings)
    encrypted = delegate("settings", StreamSettings)
    encryption_type = delegate("settings", StreamSettings)
    key_id = delegate("settings", StreamSettings)
    shard_level_metrics = delegate("settings", StreamSettings)
    resource_policy = delegate("settings", StreamSettings)
    add_tags_to_stream = delegate("settings", StreamSettings)
    remove_tags_from_stream = delegate("settings", StreamSettings)
    list_tags_for_stream = delegate("settings", StreamSettings)
    update_max_record_size = delegate("settings", StreamSettings)
    start_stream_encryption = delegate("settings", StreamSettings)
    stop_stream_encryption = delegate("settings", StreamSettings)
    enable_enhanced_monitoring = delegate("settings", StreamSettings)
    disable_enhanced_monitoring = delegate("settings", StreamSettings)
    put_resource_policy = delegate("settings", StreamSettings)
    get_resource_policy = delegate("settings", StreamSettings)
    delete_resource_policy = delegate("settings", StreamSettings)
    increase_stream_retention_period = delegate("settings", StreamSettings)
    decrease_stream_retention_period = delegate("settings", StreamSettings)

    stream_mode = delegate("modes", CapacityModes)
    record_distribution = delegate("modes", CapacityModes)
    update_stream_mode = delegate("modes", CapacityModes)
    update_stream_warm_throughput = delegate("modes", CapacityModes)
    update_record_distribution_strategy = delegate("modes", CapacityModes)
    check_write_pressure = delegate("modes", CapacityModes)

    sequence_number = delegate("numbering", StreamNumbering)
    parse_sequence = delegate("numbering", StreamNumbering)
    is_own = delegate("numbering", StreamNumbering)
    check_ordering = delegate("numbering", StreamNumbering)

    split_shard = delegate("resharding", Resharding)
    merge_shards = delegate("resharding", Resharding)
    update_shard_count = delegate("resharding", Resharding)

    get_shard_iterator = delegate("reads", StreamReads)
    get_records = delegate("reads", StreamReads)
    get_record_batch = delegate("reads", StreamReads)
    read_batch = delegate("reads", StreamReads)
    iter_batches = delegate("reads", StreamReads)
    read_table = delegate("reads", StreamReads)
    read_pandas = delegate("reads", StreamReads)

    describe = delegate("descriptions", StreamDescriptions)
    describe_summary = delegate("descriptions", StreamDescriptions)
    summary = delegate("descriptions", StreamDescriptions)
    shard_stats = delegate("descriptions", StreamDescriptions)
    list_shards = delegate("descriptions", StreamDescriptions)
    filter_shards = delegate("descriptions", StreamDescriptions)
    visible_shards = delegate("descriptions", StreamDescriptions)
    listed_shards = delegate("descriptions", StreamDescriptions)

    # -- structure -------------------------------------------------------------

    def add_shard(self, start: int, end: int, created_ms: int, parent=None, adjacent_parent=None) -> ShardInfo:
        """New shard + log of keys ``start``..``end`` (``created_ms``, ``parent``, ``adjacent_parent``); not routed."""
        index = len(self.shards)
        info = ShardInfo(index, start, end, created_ms, parent, adjacent_parent)
        parents = [self.logs[parse_shard_index(p)].created_s for p in (parent, adjacent_parent) if p is not None]
        self.logs.append(self._new_log(index, shard_created_s(created_ms, parents)))
        self.shards.append(info)
        return info

    def _new_log(self, index: int, created_s: int) -> ShardLog:
        retention_ms = self.retention_hours * 3_600_000
        return ShardLog(index, created_s, self.shard_capacity_bytes, retention_ms, self.evict_oldest)

    def rebuild_routing(self) -> None:
        """Route writes to the open shards as they are now."""
        open_shards = sorted((s for s in self.shards if s.is_open), key=lambda s: s.starting_hash_key)
        routing = RoutingTable([s.starting_hash_key for s in open_shards], [s.index for s in open_shards])
        self._set_open_shards(routing, tuple(self.logs[s.index] for s in open_shards))

    @property
    def open_shard_count(self) -> int:
        """How many shards are open (take writes)."""
        return sum(1 for s in self.shards if s.is_open)

    def shard_log(self, shard_id: str) -> ShardLog:
        """The native log of shard ``shard_id`` (for inspection: counters, bytes, evictions)."""
        return self.logs[self.resolve_shard(shard_id).index]

    def resolve_shard(self, shard_id, *, message: str = "get") -> ShardInfo:
        """The shard ``shard_id`` names (digits after its first '-'), else ResourceNotFoundException (``message``)."""
        index = shard_index_of(shard_id, self.name, self.account_id)
        missing = index >= len(self.shards) or self.status == "CREATING" or self._deleted_while_creating
        if not missing and self.is_expired(self.shards[index], self.now_ms()):
            missing = True
        if missing:
            if message == "reshard":
                raise ResourceNotFoundException(
                    f"Could not find shard shardId-{index:012d} in stream {self.name} under account {self.account_id}."
                )
            raise shard_does_not_exist(index, self.name, self.account_id)
        return self.shards[index]

    def is_expired(self, shard: ShardInfo, now: int) -> bool:
        """Whether ``shard`` is closed with all its records past retention at ``now`` (Kinesis stops listing it)."""
        return shard.closed_ms is not None and shard.closed_ms < now - self.retention_hours * 3_600_000

    # -- settings the parts change --------------------------------------------------

    def set_auto_distribution(self, auto: bool) -> None:
        """Deal records round-robin (``auto`` True) or route them by key (False) from the next write on."""
        self._set_auto_distribution(auto)

    def apply_max_record_size(self, kib: int) -> None:
        """Take records of up to ``kib`` KiB from the next write on (checks done by the caller)."""
        self._set_max_record_bytes(kib * 1024)
        self.max_record_size_kib = kib

    def apply_retention(self, hours: int) -> None:
        """Keep records ``hours`` hours; what aged out under the old window stays gone."""
        now = self.now_ms()
        for log in self.logs:
            log.trim_expired(now)
            log.retention_ms = hours * 3_600_000
        self.retention_hours = hours

    # -- metadata ------------------------------------------------------------------

    def save_metadata(self) -> None:
        """Keep :meth:`metadata` where it survives a restart (a durable stream's ``stream.json``; no-op here)."""

    def metadata(self) -> dict:
        """Everything about the stream but its records, as JSON-ready data (``stream.json``)."""
        return {
            "format": 1,
            "name": self.name,
            "incarnation": self.incarnation,
            "sequence_layout": self.sequence_layout,
            "created_ms": self.created_ms,
            "status": self._status,
            "status_until_ms": self._status_until_ms,
            "retention_hours": self.retention_hours,
            **self.modes.to_doc(),
            "max_record_size_kib": self.max_record_size_kib,
            "shard_capacity_bytes": self.shard_capacity_bytes,
            "evict_oldest": self.evict_oldest,
            **self.settings.to_doc(),
            "shards": [shard.to_doc() for shard in self.shards],
        }

    def restore_settings(self, doc: dict) -> None:
        """Take the settings of ``doc``, a :meth:`metadata` document (the shards are restored by ``__init__``)."""
        self._status = doc["status"]
        self._status_until_ms = doc["status_until_ms"]
        self.modes.restore(doc)
        self.settings.restore(doc)
        self._set_accepting(self._status in ("ACTIVE", "UPDATING"))

    # -- lifecycle ---------------------------------------------------------------

    @property
    def status(self) -> str:
        """CREATING, ACTIVE, UPDATING or DELETING (transitions settle on the engine's clock)."""
        if self._status in ("CREATING", "UPDATING") and self.now_ms() >= self._status_until_ms:
            self._status = "ACTIVE"
            self._set_accepting(True)
        return self._status

    def _refresh_accepting(self) -> None:
        if self.status in ("ACTIVE", "UPDATING"):
            self._set_accepting(True)
            return
        raise ResourceNotFoundException(f"Stream {self.name} under account {self.account_id} not found.")

    def require_active(self) -> None:
        """ResourceInUseException unless the stream is ACTIVE."""
        status = self.status
        if status != "ACTIVE":
            raise ResourceInUseException(
                f"Stream {self.name} under account {self.account_id} not ACTIVE, instead in state {status}"
            )

    def begin_update(self, before: tuple[int, frozenset[int]] | None = None) -> None:
        """ACTIVE -> UPDATING for the engine's transition time (instant by default).

        Parameters
        ----------
        before : tuple, optional
            For a change of shards, :meth:`layout_snapshot` taken just before it: the stream lists it until the
            change completes (as Kinesis, whose new shards appear once ACTIVE), though writes go to the new shards.
        """
        delay = self.catalog.transition_ms
        if delay:
            self._status = "UPDATING"
            self._status_until_ms = self.now_ms() + delay
            self._layout_before_update = before

    def layout_snapshot(self) -> tuple[int, frozenset[int]]:
        """How many shards the stream has and which are open: what a pending update still lists."""
        return len(self.shards), frozenset(s.index for s in self.shards if s.is_open)

    @property
    def layout_before_update(self) -> tuple[int, frozenset[int]] | None:
        """While UPDATING after a change of shards, the layout it still lists; else None."""
        return self._layout_before_update if self.status == "UPDATING" else None

    @property
    def deleted_while_creating(self) -> bool:
        """Deleted before it became ACTIVE: it lists no shards while DELETING."""
        return self._deleted_while_creating

    def mark_deleted(self) -> None:
        """Go DELETING: writes stop at once and every shard log closes."""
        self._deleted_while_creating = self.status == "CREATING"
        self._status = "DELETING"
        self._status_until_ms = self.now_ms() + self.catalog.transition_ms
        self._set_accepting(False)
        for log in self.logs:
            log.close()

    def stop_accepting(self) -> None:
        """Refuse writes from now on (the engine is closing)."""
        self._set_accepting(False)

    @property
    def gone(self) -> bool:
        """Deleted and past the DELETING transition."""
        return self._status == "DELETING" and self.now_ms() >= self._status_until_ms

    def _check_ordering(self, sequence_number_for_ordering) -> None:
        # The hook the native put_record calls for a SequenceNumberForOrdering.
        self.numbering.check_ordering(sequence_number_for_ordering)

    def _on_writes(self) -> None:
        # The hook the native write paths call while ``watch_writes`` is set (on-demand scaling).
        self.modes.on_writes()

    # -- writes ------------------------------------------------------------------

    def put_records(self, records, *, dry_run: bool = False) -> dict:
        """Write up to 500 records; each succeeds or fails on its own.

        Parameters
        ----------
        records : list of dict
            boto3's PutRecords entries: ``Data`` (bytes), ``PartitionKey``
            (str; optional under AUTO distribution), optional
            ``ExplicitHashKey`` (str; ignored under AUTO).
        dry_run : bool
            Make every check and write nothing: DryRunOperationException
            when the request would be accepted (a full shard only fails
            entries, so it does not fail a dry run).

        Returns
        -------
        dict
            ``{"FailedRecordCount": n, "Records": [...]}`` with, per entry in
            request order, ``{"SequenceNumber", "ShardId"}`` or
            ``{"ErrorCode", "ErrorMessage"}``.

        Raises
        ------
        ValidationException
            An entry breaks a constraint, or there are not 1 to 500 entries
            (the whole request is rejected).
        InvalidArgumentException
            An out-of-range ExplicitHashKey, or more than 5 MiB in total.
        DryRunOperationException
            ``dry_run`` and the request would have been accepted.
        StorageError
            (Durable streams.) The data directory could not be written and no
            entry was stored; when some were, they are answered as stored and
            the others fail with ``ErrorCode`` ``InternalFailure``.
        """
        started = time.perf_counter()
        keys, payloads, hash_keys = parse_put_records(records, self.max_record_bytes, self.auto_distribution)
        try:
            table = self._put(keys, payloads, hash_keys, partial=True, dry_run=dry_run)
        except StorageError as exc:
            if exc.records is None:  # nothing stored: the whole call failed (retryable)
                raise
            return partly_stored_records(exc)
        response = put_records_response(table, self.name, self.account_id)
        self.meters.put_records(self.now_ms(), *metered_puts(response, keys, payloads), started)
        return response

    def put_batch(
        self, partition_keys, data, explicit_hash_keys=None, *, simd: bool = True, dry_run: bool = False
    ) -> pa.Table:
        """Write many records at once: the vectorised native path.

        Parameters
        ----------
        partition_keys : pyarrow array, numpy array, pandas Series or sequence of str, or None
            One key per record (1 to 256 characters).  Under AUTO
            distribution keys only label the records (placement is
            round-robin) and None writes them all with an empty key.
        data : pyarrow array, numpy array, pandas Series or sequence of bytes/str
            One payload per record; a 2-D ``uint8`` numpy array gives one
            fixed-width payload per row without a copy.
        explicit_hash_keys : array-like of str or int, optional
            Per-record hash keys that override the partition key (None entries
            fall back to it).
        simd : bool
            Use the AVX2 MD5 kernel where the CPU has it (results are identical).
        dry_run : bool
            Make every check (room in every target shard included) and write
            nothing: DryRunOperationException if the batch would be written.

        Returns
        -------
        pyarrow.Table
            ``shard_id`` and ``sequence_number`` of each input row, in input order.

        Raises
        ------
        ValidationException, InvalidArgumentException
            A key or record breaks a limit, or keys are None on a
            USER_PARTITION_KEY stream (nothing is written).
        ProvisionedThroughputExceededException
            A target shard's log has no room (nothing is written).
        DryRunOperationException
            ``dry_run`` and the batch would have been written.
        """
        keys, payloads = batch_columns(partition_keys, data)
        if keys is None:
            keys = keyless(len(payloads), self.auto_distribution)
        return self._put(keys, payloads, explicit_hash_keys, simd=simd, dry_run=dry_run)

    def check_rows(self, keys: pa.Array, payloads: pa.Array) -> None:
        """Check Arrow ``keys`` and ``payloads`` against the record limits as ``put_batch`` does, writing nothing."""
        try:
            self._validate_arrays(keys, payloads)
        except RecordRejected as bad:
            raise record_rejection(bad, keys, payloads, self.max_record_bytes) from None

    def route_rows(self, keys: pa.Array, ehk=None, simd: bool = True) -> np.ndarray:
        """Position in ``routing.shard_ids`` of each row (``keys``, ``ehk``, ``simd``) as a write now would route it."""
        if self.auto_distribution:
            return self._spread_positions(len(keys))
        hi, lo = md5_hash_keys(keys, simd=simd)
        if ehk is not None:
            ehi, elo, present = ehk
            np.copyto(hi, ehi, where=present)
            np.copyto(lo, elo, where=present)
        return self.routing.route_hashes(hi, lo)

    def _put(
        self, keys: pa.Array, payloads: pa.Array, explicit_hash_keys, *, simd=True, partial=False, dry_run=False
    ) -> pa.Table:
        ehk = parse_hash_keys(explicit_hash_keys, len(keys))  # validated even when AUTO ignores them
        if self.auto_distribution:
            ehk = None
        try:
            result = self._put_arrays(keys, payloads, ehk, simd, partial, dry_run)
        except RecordRejected as bad:
            raise record_rejection(bad, keys, payloads, self.max_record_bytes) from None
        if dry_run:
            raise DryRunOperationException()
        return put_result_table(*result)

    # -- reads: the storage seam -------------------------------------------------------

    def read_page(self, index: int, start: int, limit: int, max_data_bytes: int, now: int):
        """One page of shard ``index`` as Arrow: ``(batch or None, next_counter, tail, next_arrival_ms)``.

        Parameters
        ----------
        index, start, limit, max_data_bytes, now
            The shard, the first counter (one behind the oldest retained record moves up to it), most records
            and data bytes, the current time.  A durable stream also serves records from its segments.
        """
        return read_arrow_batch(self.logs[index], start, limit, max_data_bytes, now)

    def locate_timestamp(self, index: int, timestamp_ms: int) -> int:
        """Counter of shard ``index``'s first record that arrived at or after ``timestamp_ms``."""
        return self.logs[index].locate_timestamp(timestamp_ms)

    def read_pieces(self, index: int, start: int, limit: int, now: int) -> tuple[list, int]:
        """Up to ``limit`` records of shard ``index`` as a list of batches, and the next counter.

        Parameters
        ----------
        index, start, limit, now
            As for :meth:`read_page`, without its byte limit (stored records come as zero-copy slices).
        """
        batch, nxt, _, _ = self.read_page(index, start, limit, 2**31 - 1, now)
        return ([] if batch is None else [batch]), nxt

    # -- throughput emulation: the stream consults its throttle policy (see throttle.py) ---

    def set_throttle(self, policy) -> None:
        """Consult ``policy`` on every Kinesis data-plane call, or stop consulting one (None).

        The stream binds the calls of a :class:`~shardstream.throttled.ThrottledCalls` in place of its own
        (``THROTTLED_CALLS``: ``put_record``, ``put_records``, ``put_batch``, ``get_shard_iterator``,
        ``get_records``, ``get_record_batch``) once, here, and sets ``stream.throttle``; None removes them,
        so a stream without emulation calls its own methods and pays nothing.

        Parameters
        ----------
        policy : StreamThrottle or None
            What :func:`shardstream.throttle.install` passes; it replaces any previous one.
        """
        attrs = vars(self)
        for name in (*THROTTLED_CALLS, "throttle"):
            attrs.pop(name, None)
        if policy is None:
            return
        calls = ThrottledCalls(self, policy, {name: getattr(self, name) for name in THROTTLED_CALLS})
        attrs["throttle"] = policy
        for name in THROTTLED_CALLS:
            attrs[name] = getattr(calls, name)

    def __repr__(self) -> str:
        return f"<Stream {self.name!r} {self.status} shards={self.open_shard_count}>"
