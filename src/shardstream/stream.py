"""Stream: a handle on one Kinesis-style stream inside an Engine.

The write paths (``put_record``, the core of ``put_batch``/``put_records``)
live in the compiled ``StreamCore`` this class extends; this module adds
validation, iterators, reads and descriptions.  Every method is safe to call
from any number of threads.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import resharding
from . import validation as v
from ._native import (
    RoutingTable,
    ShardLog,
    StreamCore,
    format_sequence_numbers,
    md5_hash_keys,
    parse_hash_keys,
    read_arrow_batch,
)
from .columns import as_hash_key_array, as_key_array, as_payload_array
from .errors import (
    DryRunOperationException,
    InvalidArgumentException,
    KinesisError,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    StorageError,
    ValidationException,
)
from .models import ShardInfo, ms_to_datetime, parse_shard_index, to_epoch_ms
from .ondemand import OnDemandScaler
from .reader import RecordBatchStream, to_pandas
from .records import format_records
from .schema import RECORD_SCHEMA
from .sequence import (
    END_COUNTER,
    LEGACY_VERSION,
    SequenceNumber,
    format_sequence_number,
    parse_legacy_sequence_number,
    parse_sequence_number,
    shard_created_s,
)
from .tags import TagSet, check_tag_keys, check_tags
from .validation import check_retention, check_shard_filter

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["ITERATOR_TYPES", "Stream"]

STREAM_MODES = ["PROVISIONED", "ON_DEMAND"]
#: Kinesis's RecordDistributionStrategy values (the model's order); USER_PARTITION_KEY is the default.
RECORD_DISTRIBUTIONS = ["AUTO", "USER_PARTITION_KEY"]
ENCRYPTION_TYPES = ["NONE", "KMS"]
#: The shard-level metrics of enhanced monitoring, in Kinesis's order (``ALL`` expands to these).
SHARD_LEVEL_METRICS = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
]
METRICS_NAMES = [*SHARD_LEVEL_METRICS, "ALL"]
ITERATOR_TYPES = ["AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER", "TRIM_HORIZON"]
MAX_GET_RECORDS = 10_000
MAX_GET_RECORDS_BYTES = 10 * 1024 * 1024
MAX_PUT_RECORDS = 500
PUT_RECORDS_BYTES = 5 * 1024 * 1024
DEFAULT_BATCH_ROWS = 65_536
#: The data-plane methods a throttle policy is consulted on (see :meth:`Stream.set_throttle`).
_THROTTLED = ("put_record", "put_records", "put_batch", "get_shard_iterator", "get_records", "get_record_batch")
_ENTRY_REPR = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"  # as Kinesis shows an entry
_EMPTY_BATCH = pa.RecordBatch.from_pylist([], schema=RECORD_SCHEMA)


def _saves_metadata(method):
    """Mark a control-plane method that changes what ``stream.json`` holds: save it after a change."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        self._save_metadata()
        return result

    return wrapper


def put_result_lists(table: pa.Table) -> tuple[list, list]:
    """The shard ids and sequence numbers (None where not written) of a put's result table, as lists.

    The shard ids go through the dictionary's indices: ``to_pylist`` of a
    dictionary array costs ~2 us a row, this ~20 ns.
    """
    shard_col = table.column(0).combine_chunks()
    names = shard_col.dictionary.to_pylist()
    shard_ids = [names[i] for i in shard_col.indices.to_numpy(zero_copy_only=False).tolist()]
    return shard_ids, table.column(1).to_pylist()


def _partly_stored_records(exc: StorageError) -> dict:
    """PutRecords' answer when a failed write kept only some records: the others fail as
    Kinesis fails an entry it could not store (``InternalFailure``), with the storage error's message."""
    out = []
    for entry in exc.records:
        if entry is None:
            out.append({"ErrorCode": "InternalFailure", "ErrorMessage": exc.message})
        else:
            out.append({"SequenceNumber": entry[1], "ShardId": entry[0]})
    return {"FailedRecordCount": sum(entry is None for entry in exc.records), "Records": out}


class Stream(StreamCore):
    """One stream: its shards, their logs, and the Kinesis data plane.

    Obtain one from :meth:`Engine.create_stream` or :meth:`Engine.stream`;
    do not construct it directly.

    Attributes
    ----------
    name : str
    arn : str
        ``arn:aws:kinesis:<region>:<account>:stream/<name>``.
    shards : list of ShardInfo
        Every shard ever created in the stream, by index.
    """

    def __init__(
        self,
        engine: Engine,
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
        self._init_core(name, engine.account_id, max_record_size_kib * 1024, engine.clock)
        self._engine = engine
        self.arn = f"arn:aws:kinesis:{engine.region}:{engine.account_id}:stream/{name}"
        self.incarnation = incarnation
        # 2: AWS's layout.  LEGACY_VERSION: a stream created before 2026 also
        # accepts its old numbers (in checkpoints), whose salt was this.
        self.sequence_layout = sequence_layout
        self.salt = incarnation % 100_000
        self.created_ms = created_ms
        delay = engine.transition_ms
        self._status = "CREATING" if delay else "ACTIVE"
        self._status_until_ms = created_ms + delay
        self._layout_before_update: tuple[int, frozenset[int]] | None = None
        self._deleted_while_creating = False
        self.retention_hours = retention_hours
        self.stream_mode = stream_mode
        self._set_auto_distribution(record_distribution == "AUTO")
        self.max_record_size_kib = max_record_size_kib
        self.shard_capacity_bytes = shard_capacity_bytes
        self.evict_oldest = evict_oldest
        self._tags = TagSet(name, engine.account_id)
        if tags:
            self._tags.add(tags)
        self._mode_switches: list[int] = []
        self._warm_throughput: dict | None = None
        self.encryption_type = "NONE"
        self.key_id: str | None = None
        self.shard_level_metrics: list[str] = []
        self.resource_policy: str | None = None
        self._scaler: OnDemandScaler | None = None
        self.shards: list[ShardInfo] = []
        if layout is None:
            step = 2**128 // shard_count
            for i in range(shard_count):
                end = (i + 1) * step - 1 if i < shard_count - 1 else 2**128 - 1
                self._add_shard(i * step, end, created_ms)
        else:  # reopened from a data directory
            for shard in layout:
                start, end = shard.starting_hash_key, shard.ending_hash_key
                self._add_shard(start, end, shard.created_ms, shard.parent, shard.adjacent_parent)
                self.shards[-1].closed_ms = shard.closed_ms
                if shard.closed_ms is not None:
                    self.logs[-1].close()
        self._rebuild_routing()
        self._set_accepting(not delay)
        self._configure_write_watch()

    # -- structure -------------------------------------------------------------

    def _add_shard(self, start: int, end: int, created_ms: int, parent=None, adjacent_parent=None) -> ShardInfo:
        index = len(self.shards)
        info = ShardInfo(index, start, end, created_ms, parent, adjacent_parent)
        parents = [self.logs[parse_shard_index(p)].created_s for p in (parent, adjacent_parent) if p is not None]
        self.logs.append(self._new_log(index, shard_created_s(created_ms, parents)))
        self.shards.append(info)
        return info

    def _new_log(self, index: int, created_s: int) -> ShardLog:
        retention_ms = self.retention_hours * 3_600_000
        return ShardLog(index, created_s, self.shard_capacity_bytes, retention_ms, self.evict_oldest)

    # -- metadata ------------------------------------------------------------------

    def _save_metadata(self) -> None:
        """Hook: a durable stream writes its ``stream.json`` (see :mod:`shardstream.durable`)."""

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
            "stream_mode": self.stream_mode,
            "record_distribution": self.record_distribution,
            "mode_switches": list(self._mode_switches),
            "warm_throughput": self._warm_throughput,
            "max_record_size_kib": self.max_record_size_kib,
            "shard_capacity_bytes": self.shard_capacity_bytes,
            "evict_oldest": self.evict_oldest,
            "tags": self._tags.as_dict(),
            "encryption_type": self.encryption_type,
            "key_id": self.key_id,
            "shard_level_metrics": list(self.shard_level_metrics),
            "resource_policy": self.resource_policy,
            "shards": [shard.to_doc() for shard in self.shards],
        }

    def _restore_settings(self, doc: dict) -> None:
        """Take the settings of a ``metadata()`` document (the shards are restored by ``__init__``)."""
        self._status = doc["status"]
        self._status_until_ms = doc["status_until_ms"]
        self._mode_switches = list(doc["mode_switches"])
        self._warm_throughput = doc["warm_throughput"]
        self.encryption_type = doc["encryption_type"]
        self.key_id = doc["key_id"]
        self.shard_level_metrics = list(doc["shard_level_metrics"])
        self.resource_policy = doc["resource_policy"]
        self._set_auto_distribution(doc.get("record_distribution", "USER_PARTITION_KEY") == "AUTO")
        self._set_accepting(self._status in ("ACTIVE", "UPDATING"))

    def _rebuild_routing(self) -> None:
        open_shards = sorted((s for s in self.shards if s.is_open), key=lambda s: s.starting_hash_key)
        routing = RoutingTable([s.starting_hash_key for s in open_shards], [s.index for s in open_shards])
        self._set_open_shards(routing, tuple(self.logs[s.index] for s in open_shards))

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

    def _require_active(self) -> None:
        status = self.status
        if status != "ACTIVE":
            raise ResourceInUseException(
                f"Stream {self.name} under account {self.account_id} not ACTIVE, instead in state {status}"
            )

    def _begin_update(self, before: tuple[int, frozenset[int]] | None = None) -> None:
        """ACTIVE -> UPDATING for the engine's transition time (instant by default).

        ``before``: for a change of shards, :meth:`_layout_snapshot` taken just
        before it; until the change completes the stream lists that layout
        (as Kinesis, whose new shards appear once the stream is ACTIVE again),
        although writes already go to the new shards.
        """
        delay = self._engine.transition_ms
        if delay:
            self._status = "UPDATING"
            self._status_until_ms = self.now_ms() + delay
            self._layout_before_update = before

    def _layout_snapshot(self) -> tuple[int, frozenset[int]]:
        """How many shards the stream has and which are open: what a pending update still lists."""
        return len(self.shards), frozenset(s.index for s in self.shards if s.is_open)

    def _mark_deleted(self) -> None:
        self._deleted_while_creating = self.status == "CREATING"
        self._status = "DELETING"
        self._status_until_ms = self.now_ms() + self._engine.transition_ms
        self._set_accepting(False)
        for log in self.logs:
            log.close()

    @property
    def _gone(self) -> bool:
        """Deleted and past the DELETING transition."""
        return self._status == "DELETING" and self.now_ms() >= self._status_until_ms

    # -- resharding --------------------------------------------------------------

    def _apply_split(self, parent: ShardInfo, at: int, now: int) -> None:
        created = max(now, parent.created_ms)
        self._add_shard(parent.starting_hash_key, at - 1, created, parent=parent.shard_id)
        self._add_shard(at, parent.ending_hash_key, created, parent=parent.shard_id)
        self._close_parents([parent], now)

    def _apply_merge(self, left: ShardInfo, right: ShardInfo, now: int) -> None:
        created = max(now, left.created_ms, right.created_ms)
        self._add_shard(
            left.starting_hash_key,
            right.ending_hash_key,
            created,
            parent=left.shard_id,
            adjacent_parent=right.shard_id,
        )
        self._close_parents([left, right], now)

    def _close_parents(self, parents: list[ShardInfo], now: int) -> None:
        # Route to the children first, then close the parents: a writer that
        # finds a parent closed re-reads the routing and already sees them.
        for parent in parents:
            parent.closed_ms = now
        self._rebuild_routing()
        for parent in parents:
            self.logs[parent.index].close()

    @_saves_metadata
    def split_shard(self, shard_to_split, new_starting_hash_key) -> dict:
        """Split an open shard in two at a hash key (Kinesis's SplitShard).

        The parent closes (keeping its records) and two children take
        ``[start, new - 1]`` and ``[new, end]``.

        Returns
        -------
        dict
            ``{}`` as boto3.
        """
        resharding.check_split_request(shard_to_split, new_starting_hash_key)
        shard_index_of(shard_to_split, self.name, self.account_id)
        with self._engine._lock:
            parent, at = resharding.check_split(self, shard_to_split, new_starting_hash_key)
            before = self._layout_snapshot()
            self._apply_split(parent, at, self.now_ms())
            self._begin_update(before)
        return {}

    @_saves_metadata
    def merge_shards(self, shard_to_merge, adjacent_shard_to_merge) -> dict:
        """Merge two adjacent open shards (Kinesis's MergeShards; ``shard_to_merge`` is the lower range).

        Returns
        -------
        dict
            ``{}`` as boto3.
        """
        resharding.check_merge_request(shard_to_merge, adjacent_shard_to_merge)
        for shard_id in (shard_to_merge, adjacent_shard_to_merge):
            shard_index_of(shard_id, self.name, self.account_id)
        with self._engine._lock:
            left, right = resharding.check_merge(self, shard_to_merge, adjacent_shard_to_merge)
            before = self._layout_snapshot()
            self._apply_merge(left, right, self.now_ms())
            self._begin_update(before)
        return {}

    @_saves_metadata
    def update_shard_count(self, target_shard_count, scaling_type="UNIFORM_SCALING") -> dict:
        """Reshape the stream to ``target_shard_count`` uniform shards through splits and merges.

        Every child records at most two adjacent parents, so readers that
        drain parents before children keep each partition key in order.
        Targets must lie within half and double the open shard count.

        Returns
        -------
        dict
            ``{"StreamName", "StreamARN", "CurrentShardCount", "TargetShardCount"}``.
        """
        with self._engine._lock:
            current = resharding.check_update_shard_count(self, target_shard_count, scaling_type)
            before = self._layout_snapshot()
            self._reshape(target_shard_count)
            self._begin_update(before)
        return {
            "StreamName": self.name,
            "CurrentShardCount": current,
            "TargetShardCount": target_shard_count,
            "StreamARN": self.arn,
        }

    def _reshape(self, target: int) -> None:
        """Apply the uniform splits and merges that leave ``target`` open shards (checks done)."""
        now = self.now_ms()
        open_shards = [s for s in self.shards if s.is_open]
        for step in resharding.uniform_plan(open_shards, target, len(self.shards)):
            if step.kind == "split":
                self._apply_split(self.shards[step.first], step.second, now)
            else:
                self._apply_merge(self.shards[step.first], self.shards[step.second], now)

    # -- capacity modes ------------------------------------------------------------

    @_saves_metadata
    def update_stream_warm_throughput(self, warm_throughput_mibps) -> dict:
        """Set an on-demand stream's warm throughput (MiB/s it can take at once without scaling).

        Needs an ON_DEMAND stream and the account's minimum throughput
        billing commitment (``Engine.update_account_settings``), as in Kinesis.
        shardstream records the target and reports it as reached.

        Returns
        -------
        dict
            ``{"StreamARN", "StreamName", "WarmThroughput": {"TargetMiBps", "CurrentMiBps"}}``.
        """
        errs: list = []
        if warm_throughput_mibps is None:
            errs.append(v.Violation("null", "warmThroughputMiBps", "Member must not be null"))
        elif not isinstance(warm_throughput_mibps, int) or isinstance(warm_throughput_mibps, bool):
            raise SerializationException(
                f"WarmThroughputMiBps must be an int, not {type(warm_throughput_mibps).__name__}"
            )
        else:
            v.check_int_range(errs, "warmThroughputMiBps", warm_throughput_mibps, 0, None)
        v.raise_if_any(errs)
        with self._engine._lock:
            self._require_active()
            if self.stream_mode != "ON_DEMAND":
                raise ValidationException(
                    f"Request is invalid. Stream {self.name} under account {self.account_id} is not in "
                    "On-Demand mode."
                )
            status = self._engine.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"]
            if status == "DISABLED":
                raise InvalidArgumentException(
                    "Warm throughput requires the account's minimum throughput billing commitment to be enabled."
                )
            self._warm_throughput = {"TargetMiBps": warm_throughput_mibps, "CurrentMiBps": warm_throughput_mibps}
            self._begin_update()
        return {"StreamARN": self.arn, "StreamName": self.name, "WarmThroughput": dict(self._warm_throughput)}

    @_saves_metadata
    def update_stream_mode(self, stream_mode: str) -> dict:
        """Switch between PROVISIONED and ON_DEMAND (shards stay as they are).

        On-demand streams scale out on sustained write pressure (see
        :mod:`shardstream.ondemand`) and refuse manual resharding.  At most
        two switches per rolling 24 hours, as in Kinesis.
        """
        errs: list = []
        v.check_enum(errs, "streamModeDetails.streamMode", stream_mode, STREAM_MODES)
        v.raise_if_any(errs)
        with self._engine._lock:
            self._require_active()
            if stream_mode == self.stream_mode:
                return {}
            if stream_mode == "PROVISIONED" and self.auto_distribution:
                raise InvalidArgumentException(
                    f"Stream {self.name} under account {self.account_id} uses the AUTO record distribution "
                    "strategy, which only On-Demand streams support. Switch it to USER_PARTITION_KEY before "
                    "changing its capacity mode to PROVISIONED."
                )
            now = self.now_ms()
            self._mode_switches = [t for t in self._mode_switches if t > now - 24 * 3_600_000]
            if len(self._mode_switches) >= 2:
                raise LimitExceededException(
                    f"Stream {self.name} under account {self.account_id} has already switched capacity mode "
                    "2 times in the last 24 hours."
                )
            self._mode_switches.append(now)
            self.stream_mode = stream_mode
            self._configure_write_watch()
            self._begin_update()
        return {}

    @property
    def record_distribution(self) -> str:
        """``"USER_PARTITION_KEY"`` (records go where their key hashes) or ``"AUTO"`` (spread evenly)."""
        return "AUTO" if self.auto_distribution else "USER_PARTITION_KEY"

    @staticmethod
    def _check_record_distribution(strategy) -> None:
        if strategy is not None and not isinstance(strategy, str):
            raise SerializationException(f"RecordDistributionStrategy must be a str, not {type(strategy).__name__}")
        errs: list = []
        if v.check_required(errs, "recordDistributionStrategy", strategy):
            v.check_enum(errs, "recordDistributionStrategy", strategy, RECORD_DISTRIBUTIONS)
        v.raise_if_any(errs)

    @staticmethod
    def _on_demand_only_error(name: str, account_id: str, strategy: str) -> InvalidArgumentException:
        return InvalidArgumentException(
            f"Record distribution strategy {strategy} is only supported for On-Demand streams. "
            f"Stream {name} under account {account_id} is in PROVISIONED mode."
        )

    @_saves_metadata
    def update_record_distribution_strategy(self, record_distribution_strategy) -> dict:
        """Choose how new records are placed (Kinesis's UpdateStreamRecordDistributionStrategy).

        ``"AUTO"`` deals records round-robin over the open shards, ignoring
        partition keys and explicit hash keys (which become optional; a
        keyless record is stored with an empty partition key).
        ``"USER_PARTITION_KEY"`` (the default) routes by key again.  The
        change applies to the next write; records already written stay in
        their shards.  On-demand streams only.

        Parameters
        ----------
        record_distribution_strategy : {"AUTO", "USER_PARTITION_KEY"}

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        ValidationException, SerializationException
            A missing or unknown strategy.
        InvalidArgumentException
            The stream is PROVISIONED.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        self._check_record_distribution(record_distribution_strategy)
        with self._engine._lock:
            self._require_active()
            if self.stream_mode != "ON_DEMAND":
                raise self._on_demand_only_error(self.name, self.account_id, record_distribution_strategy)
            self._set_auto_distribution(record_distribution_strategy == "AUTO")
        return {}

    def _configure_write_watch(self) -> None:
        if self.stream_mode == "ON_DEMAND":
            self._scaler = OnDemandScaler(self, self._engine.on_demand_scale_after_ms)
        else:
            self._scaler = None
        self.watch_writes = self._scaler is not None

    def _on_writes(self) -> None:
        if self._scaler is not None:
            self._scaler.observe()

    def check_write_pressure(self) -> bool:
        """Run the on-demand scaling check now; True if the stream scaled out."""
        return self._scaler.observe() if self._scaler is not None else False

    @_saves_metadata
    def _scale_out(self) -> bool:
        """Double the open shards of an on-demand stream, within the limits; False if capped."""
        with self._engine._lock:
            if self.status != "ACTIVE":
                return False
            current = self.open_shard_count
            target = min(2 * current, resharding.MAX_SHARDS_PER_STREAM)
            limit = self._engine.shard_limit
            if limit is not None:
                open_now = self._engine.open_shard_total()
                target = min(target, current + max(0, limit - open_now))
            if target <= current:
                return False
            before = self._layout_snapshot()
            self._reshape(target)
            self._begin_update(before)
            return True

    # -- tags -------------------------------------------------------------------------

    @property
    def tags(self) -> dict[str, str]:
        """The stream's tags, by key."""
        return self._tags.as_dict()

    @_saves_metadata
    def add_tags_to_stream(self, tags: dict) -> dict:
        """Add or overwrite tags (at most 50 per stream); ``{}`` as boto3.

        Raises
        ------
        SerializationException, ValidationException, InvalidArgumentException
            Bad tags (see :func:`shardstream.tags.check_tags`), or more than 50
            in all; nothing changes.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        check_tags(tags)
        with self._engine._lock:
            self._require_active()
            added = self._tags.try_add(tags)
        if not added:
            raise self._tags.too_many()
        return {}

    @_saves_metadata
    def remove_tags_from_stream(self, tag_keys) -> dict:
        """Remove tags by key (unknown keys are ignored); ``{}`` as boto3.

        The keys are checked as tags are (:func:`shardstream.tags.check_tag_keys`):
        1 to 50 keys of 1-128 characters, and no characters a tag may not have.
        """
        check_tag_keys(tag_keys)
        with self._engine._lock:
            self._require_active()
            self._tags.remove(tag_keys)
        return {}

    def list_tags_for_stream(self, exclusive_start_tag_key: str | None = None, limit: int | None = None) -> dict:
        """boto3's ListTagsForStream: ``{"Tags": [...], "HasMoreTags": bool}`` in key order."""
        return self._tags.list(exclusive_start_tag_key, limit)

    # -- record size, encryption, monitoring, policy ----------------------------------------

    @_saves_metadata
    def update_max_record_size(self, max_record_size_kib) -> dict:
        """Change the largest record the stream accepts (Kinesis's UpdateMaxRecordSize).

        The stream goes UPDATING for the engine's transition time; the new
        limit applies to writes at once.

        Parameters
        ----------
        max_record_size_kib : int
            1024 to 10240 KiB (data + partition key).

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        SerializationException
            Not an int.
        ValidationException
            Outside 1024..10240.
        InvalidArgumentException
            The stream's shard capacity is under twice the new record size.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        kib = max_record_size_kib
        if not isinstance(kib, int) or isinstance(kib, bool):
            raise SerializationException(f"MaxRecordSizeInKiB must be an int, not {type(kib).__name__}")
        errs: list = []
        v.check_int_range(errs, "maxRecordSizeInKiB", kib, 1024, 10240)
        v.raise_if_any(errs)
        with self._engine._lock:
            self._require_active()
            if self.shard_capacity_bytes < 2 * kib * 1024:
                raise InvalidArgumentException(
                    f"shard_capacity_bytes {self.shard_capacity_bytes} must be at least twice the max record size "
                    f"({2 * kib * 1024} bytes)"
                )
            self._set_max_record_bytes(kib * 1024)
            self.max_record_size_kib = kib
            self._begin_update()
        return {}

    @staticmethod
    def _check_encryption_args(encryption_type, key_id) -> None:
        for field, value in (("EncryptionType", encryption_type), ("KeyId", key_id)):
            if value is not None and not isinstance(value, str):
                raise SerializationException(f"{field} must be a str, not {type(value).__name__}")
        errs: list = []
        if v.check_required(errs, "encryptionType", encryption_type):
            v.check_enum(errs, "encryptionType", encryption_type, ENCRYPTION_TYPES)
        if v.check_required(errs, "keyId", key_id):
            v.check_length(errs, "keyId", key_id, 1, 2048)
        v.raise_if_any(errs)
        if encryption_type != "KMS":
            raise InvalidArgumentException("KMS is the only valid EncryptionType for this request")

    @_saves_metadata
    def start_stream_encryption(self, encryption_type, key_id) -> dict:
        """Encrypt new records with a KMS key (Kinesis's StartStreamEncryption; no real KMS is involved).

        The stream goes UPDATING; afterwards its descriptions show
        ``EncryptionType: "KMS"`` and the ``KeyId``, and PutRecord(s) and
        GetRecords over the server carry ``EncryptionType: "KMS"``.

        Parameters
        ----------
        encryption_type : {"KMS"}
        key_id : str
            Key UUID, key or alias ARN, ``alias/<name>`` or ``alias/aws/kinesis`` (1-2048 characters).

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        ValidationException
            A missing argument, an EncryptionType outside NONE/KMS, a KeyId too long.
        InvalidArgumentException
            EncryptionType is not KMS.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        self._check_encryption_args(encryption_type, key_id)
        with self._engine._lock:
            self._require_active()
            self.encryption_type, self.key_id = "KMS", key_id
            self._begin_update()
        return {}

    @_saves_metadata
    def stop_stream_encryption(self, encryption_type, key_id) -> dict:
        """Stop encrypting new records (Kinesis's StopStreamEncryption).

        Takes the same two arguments as :meth:`start_stream_encryption`;
        the stream goes UPDATING and then shows ``EncryptionType: "NONE"``.

        Returns
        -------
        dict
            ``{}`` as boto3.

        Raises
        ------
        ValidationException, InvalidArgumentException, ResourceInUseException
            As :meth:`start_stream_encryption`.
        """
        self._check_encryption_args(encryption_type, key_id)
        with self._engine._lock:
            self._require_active()
            self.encryption_type, self.key_id = "NONE", None
            self._begin_update()
        return {}

    @property
    def encrypted(self) -> bool:
        """True while the stream encrypts records with KMS."""
        return self.encryption_type == "KMS"

    @staticmethod
    def _check_metrics(metrics) -> set[str]:
        if not isinstance(metrics, (list, tuple)) or any(not isinstance(m, str) for m in metrics):
            raise SerializationException("ShardLevelMetrics must be a list of strings")
        errs: list = []
        if not 1 <= len(metrics) <= 7:
            v.check_length(errs, "shardLevelMetrics", metrics, 1, 7, shown="'[" + ", ".join(metrics) + "]'")
        for i, name in enumerate(metrics, 1):
            v.check_enum(errs, f"shardLevelMetrics.{i}.member", name, METRICS_NAMES)
        v.raise_if_any(errs)
        return set(SHARD_LEVEL_METRICS) if "ALL" in metrics else set(metrics)

    def _set_monitoring(self, metrics, *, enable: bool) -> dict:
        chosen = self._check_metrics(metrics)
        with self._engine._lock:
            self._require_active()
            current = list(self.shard_level_metrics)
            now_on = set(current) | chosen if enable else set(current) - chosen
            self.shard_level_metrics = [m for m in SHARD_LEVEL_METRICS if m in now_on]
            return {
                "StreamName": self.name,
                "CurrentShardLevelMetrics": current,
                "DesiredShardLevelMetrics": list(self.shard_level_metrics),
                "StreamARN": self.arn,
            }

    @_saves_metadata
    def enable_enhanced_monitoring(self, shard_level_metrics) -> dict:
        """Turn on shard-level metrics (Kinesis's EnableEnhancedMonitoring; recorded, not emitted).

        Parameters
        ----------
        shard_level_metrics : list of str
            1-7 of IncomingBytes, IncomingRecords, OutgoingBytes,
            OutgoingRecords, WriteProvisionedThroughputExceeded,
            ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, or ALL.

        Returns
        -------
        dict
            ``{"StreamName", "CurrentShardLevelMetrics", "DesiredShardLevelMetrics", "StreamARN"}``:
            the metrics before and after the call.

        Raises
        ------
        ValidationException
            An empty or too long list, or an unknown metric.
        ResourceInUseException
            The stream is not ACTIVE.
        """
        return self._set_monitoring(shard_level_metrics, enable=True)

    @_saves_metadata
    def disable_enhanced_monitoring(self, shard_level_metrics) -> dict:
        """Turn off shard-level metrics (Kinesis's DisableEnhancedMonitoring).

        Takes and returns the same as :meth:`enable_enhanced_monitoring`.
        """
        return self._set_monitoring(shard_level_metrics, enable=False)

    @staticmethod
    def _check_policy(policy) -> None:
        if policy is not None and not isinstance(policy, str):
            raise SerializationException(f"Policy must be a str, not {type(policy).__name__}")
        errs: list = []
        v.check_required(errs, "policy", policy)
        v.raise_if_any(errs)

    @_saves_metadata
    def put_resource_policy(self, policy) -> dict:
        """Attach a resource policy (a JSON document, stored verbatim and never enforced).

        Returns
        -------
        dict
            ``{}`` as boto3.
        """
        self._check_policy(policy)
        with self._engine._lock:
            self.resource_policy = policy
        return {}

    def get_resource_policy(self) -> dict:
        """``{"Policy": <document>}``; ``"{}"`` when none is attached."""
        policy = self.resource_policy
        return {"Policy": "{}" if policy is None else policy}

    @_saves_metadata
    def delete_resource_policy(self) -> dict:
        """Remove the resource policy; ``{}`` as boto3.

        Raises
        ------
        ResourceNotFoundException
            The stream has no policy: ``No resource policy found for resource ARN <arn>.``
        """
        with self._engine._lock:
            had_policy = self.resource_policy is not None
            self.resource_policy = None
        if not had_policy:
            raise ResourceNotFoundException(f"No resource policy found for resource ARN {self.arn}.")
        return {}

    # -- retention -----------------------------------------------------------------

    @_saves_metadata
    def _set_retention(self, hours, *, increase: bool) -> dict:
        check_retention(hours)
        with self._engine._lock:
            self._require_active()
            current = self.retention_hours
            if increase and hours < current:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {self.name} can not be shorter than "
                    f"existing retention period ({current} hours). Use DecreaseRetentionPeriod API."
                )
            if not increase and hours > current:
                raise InvalidArgumentException(
                    f"Requested retention period ({hours} hours) for stream {self.name} can not be longer than "
                    f"existing retention period ({current} hours). Use IncreaseRetentionPeriod API."
                )
            now = self.now_ms()
            for log in self.logs:
                log.trim_expired(now)  # what aged out under the old window stays gone
                log.retention_ms = hours * 3_600_000
            self.retention_hours = hours
        return {}

    def increase_stream_retention_period(self, retention_period_hours) -> dict:
        """Keep records longer (up to 8760 hours); records already aged out stay gone."""
        return self._set_retention(retention_period_hours, increase=True)

    def decrease_stream_retention_period(self, retention_period_hours) -> dict:
        """Keep records for less time (down to 24 hours); older records disappear at once."""
        return self._set_retention(retention_period_hours, increase=False)

    def _is_expired(self, shard: ShardInfo, now: int) -> bool:
        """A closed shard all of whose records are past retention: Kinesis stops listing it."""
        return shard.closed_ms is not None and shard.closed_ms < now - self.retention_hours * 3_600_000

    def filter_shards(self, shard_filter: dict | None = None) -> list[ShardInfo]:
        """The listed shards that pass a ListShards ShardFilter (see :meth:`Engine.list_shards`)."""
        shards = self.listed_shards()
        if not shard_filter:
            return shards
        kind = shard_filter["Type"]
        now = self.now_ms()
        horizon = max(now - self.retention_hours * 3_600_000, self.created_ms)

        def open_at(t: int) -> list[ShardInfo]:
            return [s for s in shards if s.created_ms <= t and (s.closed_ms is None or s.closed_ms >= t)]

        if kind == "AFTER_SHARD_ID":
            after = _shard_sort_key(shard_filter["ShardId"])
            return [s for s in shards if s.index > after]
        if kind == "AT_TRIM_HORIZON":
            return open_at(horizon)
        if kind == "AT_LATEST":
            return [s for s in shards if s.is_open]
        if kind == "AT_TIMESTAMP":
            return open_at(max(to_epoch_ms(shard_filter["Timestamp"]), self.created_ms))
        if kind == "FROM_TIMESTAMP":
            t = max(to_epoch_ms(shard_filter["Timestamp"]), horizon)
            return [s for s in shards if s.closed_ms is None or s.closed_ms >= t]
        return shards  # FROM_TRIM_HORIZON

    def list_shards(self, shard_filter: dict | None = None) -> list[dict]:
        """Every listed shard passing ``shard_filter``, as boto3 ``Shard`` dicts (ListShards, all pages).

        Parameters
        ----------
        shard_filter : dict, optional
            As for :meth:`Engine.list_shards`.
        """
        check_shard_filter(shard_filter)
        return [self._shard_description(s) for s in self.filter_shards(shard_filter)]

    def visible_shards(self) -> list[ShardInfo]:
        """Shards Kinesis would list: open ones and closed ones not yet expired.

        None while CREATING, nor once a stream deleted while CREATING is DELETING.
        """
        if self.status == "CREATING" or self._deleted_while_creating:
            return []
        now = self.now_ms()
        return [s for s in self.shards if not self._is_expired(s, now)]

    def listed_shards(self) -> list[ShardInfo]:
        """The shards DescribeStream and ListShards show.

        :meth:`visible_shards`, except while UPDATING after a split, merge or
        shard-count change: then the layout from before the change (its new
        shards left out, the shards it closed shown open) until it completes,
        as Kinesis lists them.  Reads and writes use the new shards at once.
        """
        shards = self.visible_shards()
        before = self._layout_before_update
        if before is None or self.status != "UPDATING":
            return shards
        count, was_open = before
        return [
            dataclasses.replace(s, closed_ms=None) if s.index in was_open and not s.is_open else s
            for s in shards
            if s.index < count
        ]

    @property
    def open_shard_count(self) -> int:
        return sum(1 for s in self.shards if s.is_open)

    def shard_log(self, shard_id: str) -> ShardLog:
        """The native log of a shard (for inspection: counters, bytes, evictions)."""
        return self.logs[self._resolve_shard(shard_id).index]

    def _resolve_shard(self, shard_id, *, message: str = "get") -> ShardInfo:
        """Find a shard the way Kinesis does: by the digits after the first '-'."""
        index = shard_index_of(shard_id, self.name, self.account_id)
        missing = index >= len(self.shards) or self.status == "CREATING" or self._deleted_while_creating
        if not missing and self._is_expired(self.shards[index], self.now_ms()):
            missing = True
        if missing:
            if message == "reshard":
                raise ResourceNotFoundException(
                    f"Could not find shard shardId-{index:012d} in stream {self.name} under account {self.account_id}."
                )
            raise shard_does_not_exist(index, self.name, self.account_id)
        return self.shards[index]

    def _sequence_number(self, shard: ShardInfo, counter: int, arrival_ms: int | None = None) -> str:
        """The sequence number of ``counter`` in ``shard``.

        Without ``arrival_ms``: counter 0 (StartingSequenceNumber) carries the
        shard's creation time, the EndingSequenceNumber its close time, and
        any other counter its record's arrival if the ring holds it, else the
        creation time (the counter alone fixes the order within the shard).
        """
        if arrival_ms is None:
            if counter == 0:
                arrival_ms = shard.created_ms
            elif counter == END_COUNTER and shard.closed_ms is not None:
                arrival_ms = shard.closed_ms
            else:
                return self.logs[shard.index].sequence_number(counter)
        created_s = self.logs[shard.index].created_s
        return format_sequence_number(created_s, shard.index, counter, max(arrival_ms, 0) // 1000)

    def _parse_sequence(self, text: str) -> SequenceNumber | None:
        """``text`` parsed as this stream reads it: a stream from before 2026 also takes its legacy numbers."""
        parsed = parse_sequence_number(text)
        if self.sequence_layout == LEGACY_VERSION and not self._is_own(parsed):
            legacy = parse_legacy_sequence_number(text)
            if self._is_own(legacy):
                return legacy
        return parsed

    def _is_own(self, parsed: SequenceNumber | None) -> bool:
        """Whether ``parsed`` names a shard of this stream (index, creation second, layout, salt)."""
        if parsed is None or parsed.counter is None or not 0 <= parsed.shard_index < len(self.shards):
            return False
        if parsed.version == LEGACY_VERSION:  # the old layout carried the shard's own creation second
            return (
                self.sequence_layout == LEGACY_VERSION
                and parsed.salt == self.salt
                and parsed.shard_created_s == self.shards[parsed.shard_index].created_ms // 1000
            )
        return parsed.version == 2 and parsed.shard_created_s == self.logs[parsed.shard_index].created_s

    # -- writes ------------------------------------------------------------------

    def _check_ordering(self, sequence_number_for_ordering) -> None:
        value = sequence_number_for_ordering
        if not isinstance(value, str):
            raise SerializationException(f"SequenceNumberForOrdering must be a str, not {type(value).__name__}")
        errs: list = []
        v.check_pattern(errs, "sequenceNumberForOrdering", value, v.SEQUENCE_NUMBER_PATTERN)
        v.raise_if_any(errs)
        parsed = self._parse_sequence(value)
        invalid = InvalidArgumentException(
            f"ExclusiveMinimumSequenceNumber {value} used in PutRecord on stream {self.name} "
            f"under account {self.account_id} is invalid."
        )
        # As in Kinesis: any well-formed version 1 or 2 number not from the
        # future (zero fields included); a number of this stream's own must
        # have been assigned already.
        if parsed is None or parsed.version == 0:
            raise invalid
        if self._is_own(parsed):
            if parsed.counter >= self.logs[parsed.shard_index].tail:
                raise invalid  # a number from the future
        elif parsed.version == LEGACY_VERSION:
            raise invalid
        elif parsed.arrival_s is not None and parsed.arrival_s * 1000 > self.now_ms():
            raise invalid  # written in the future

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
        keys, payloads, hash_keys = self._parse_put_records(records)
        try:
            table = self._put(keys, payloads, hash_keys, partial=True, dry_run=dry_run)
        except StorageError as exc:
            if exc.records is None:  # nothing stored: the whole call failed (retryable)
                raise
            return _partly_stored_records(exc)
        shard_ids, seqs = put_result_lists(table)
        if table.column(1).null_count == 0:  # the common case: every record written
            return {
                "FailedRecordCount": 0,
                "Records": [{"SequenceNumber": seq, "ShardId": sid} for seq, sid in zip(seqs, shard_ids)],
            }
        out, failed = [], 0
        for shard_id, seq in zip(shard_ids, seqs):
            if seq is None:
                failed += 1
                out.append(
                    {
                        "ErrorCode": "ProvisionedThroughputExceededException",
                        "ErrorMessage": f"Rate exceeded for shard {shard_id} in stream {self.name} "
                        f"under account {self.account_id}.",
                    }
                )
            else:
                out.append({"SequenceNumber": seq, "ShardId": shard_id})
        return {"FailedRecordCount": failed, "Records": out}

    def _parse_put_records(self, records) -> tuple[pa.Array, pa.Array, list | None]:
        """Validate a PutRecords request as Kinesis does; return its keys, payloads and hash keys."""
        plain = self._parse_plain_put_records(records)
        if plain is not None:
            return plain
        if records is None or not isinstance(records, (list, tuple)):
            raise (
                SerializationException("Records must be a list of dicts")
                if records is not None
                else (ValidationException(v.render([v.Violation("null", "records", "Member must not be null")])))
            )
        errs: list = []
        n = len(records)
        if n < 1 or n > MAX_PUT_RECORDS:
            rep = "'[" + ", ".join(_ENTRY_REPR for _ in records) + "]'"
            v.check_length(errs, "records", records, 1, MAX_PUT_RECORDS, shown=rep)
        keys, payloads, hash_keys, total = [], [], [], 0
        auto = self.auto_distribution
        for i, entry in enumerate(records, 1):
            if not isinstance(entry, dict):
                raise SerializationException(f"Records entry {i} must be a dict, not {type(entry).__name__}")
            path = f"records.{i}.member"
            key, data, ehk = entry.get("PartitionKey"), entry.get("Data"), entry.get("ExplicitHashKey")
            if isinstance(data, str):
                data = data.encode("utf-8")
            if key is None and auto:
                key = ""  # a keyless AUTO record
            elif key is None:
                errs.append(v.Violation("null", path + ".partitionKey", "Member must not be null"))
            elif not isinstance(key, str):
                raise SerializationException(f"PartitionKey of entry {i} must be a str")
            else:
                v.check_length(errs, path + ".partitionKey", key, 1, 256)
            if ehk is not None:
                if isinstance(ehk, int) and not isinstance(ehk, bool):
                    ehk = str(ehk)
                if not isinstance(ehk, str):
                    raise SerializationException(f"ExplicitHashKey of entry {i} must be a str")
                v.check_pattern(errs, path + ".explicitHashKey", ehk, v.HASH_KEY_PATTERN)
            if data is None:
                errs.append(v.Violation("null", path + ".data", "Member must not be null"))
            else:
                try:
                    data = bytes(data)
                except TypeError:
                    raise SerializationException(f"Data of entry {i} must be bytes-like") from None
                if len(data) > self.max_record_bytes:
                    errs.append(
                        v.Violation(
                            "'" + v.blob_repr(len(data)) + "'",
                            path + ".data",
                            f"Member must have length less than or equal to {self.max_record_bytes}",
                        )
                    )
            keys.append(key)
            payloads.append(data)
            hash_keys.append(ehk)
            if isinstance(key, str) and data is not None:
                total += len(data) + len(key.encode("utf-8"))
        v.raise_if_any(errs)
        if total > max(PUT_RECORDS_BYTES, self.max_record_bytes):
            raise InvalidArgumentException("Records size exceeds 5 MB limit")
        return (
            pa.array(keys, pa.string()),
            pa.array(payloads, pa.binary()),
            hash_keys if any(h is not None for h in hash_keys) else None,
        )

    def _parse_plain_put_records(self, records) -> tuple[pa.Array, pa.Array, None] | None:
        """:meth:`_parse_put_records` for the common batch, in one tight loop; None for anything else.

        1 to 500 dicts with a ``str`` key of 1 to 256 characters, ``bytes`` data
        within the record size and no ExplicitHashKey, 5 MiB in all: nothing to
        report.  Anything else returns None and gets the full check, which words
        the errors.
        """
        if type(records) is not list or not 1 <= len(records) <= MAX_PUT_RECORDS:
            return None
        keys, payloads = [], []
        max_bytes = self.max_record_bytes
        for entry in records:
            if type(entry) is not dict or entry.get("ExplicitHashKey") is not None:
                return None
            key, data = entry.get("PartitionKey"), entry.get("Data")
            if type(key) is not str or type(data) is not bytes or not 0 < len(key) <= 256 or len(data) > max_bytes:
                return None
            keys.append(key)
            payloads.append(data)
        key_array, payload_array = pa.array(keys, pa.string()), pa.array(payloads, pa.binary())
        # both arrays are fresh (offset 0): their last offsets are their UTF-8 / byte totals
        n = len(keys)
        total = int(np.frombuffer(key_array.buffers()[1], np.int32)[n]) + int(
            np.frombuffer(payload_array.buffers()[1], np.int32)[n]
        )
        if total > max(PUT_RECORDS_BYTES, max_bytes):
            return None
        return key_array, payload_array, None

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
        keys = None if partition_keys is None else as_key_array(partition_keys)
        payloads = as_payload_array(data)
        if keys is None:
            keys = self._keyless(len(payloads))
        return self._put(keys, payloads, explicit_hash_keys, simd=simd, dry_run=dry_run)

    def _keyless(self, n: int) -> pa.Array:
        """``n`` empty partition keys (keyless AUTO records), built without a loop; AUTO streams only."""
        if not self.auto_distribution:
            raise ValidationException(v.render([v.Violation("null", "partitionKeys", "Member must not be null")]))
        offsets = pa.py_buffer(np.zeros(n + 1, dtype=np.int32))
        return pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(b"")])

    def _parse_hash_keys(self, explicit_hash_keys, n: int):
        """``(hi, lo, present)`` of explicit hash keys (None entries fall back to the key), or None."""
        if explicit_hash_keys is None:
            return None
        arr = as_hash_key_array(explicit_hash_keys, n)
        hi, lo, present, status = parse_hash_keys(arr)
        bad = np.flatnonzero(status)
        if len(bad):
            i = int(bad[0])
            text = arr[i].as_py()
            if status[i] == -1:
                raise ValidationException(
                    v.render(
                        [
                            v.Violation(
                                f"'{text}'",
                                f"records.{i + 1}.member.explicitHashKey",
                                f"Member must satisfy regular expression pattern: {v.HASH_KEY_PATTERN}",
                            )
                        ]
                    )
                )
            raise InvalidArgumentException(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                f"Specified value was {text}"
            )
        return hi, lo, present

    def _route_rows(self, keys: pa.Array, ehk=None, simd: bool = True) -> np.ndarray:
        """Position in ``routing.shard_ids`` of each row, as the write path routes it (writes nothing).

        Under AUTO: the round-robin positions the next write would take now.
        """
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
        ehk = self._parse_hash_keys(explicit_hash_keys, len(keys))  # validated even when AUTO ignores them
        if self.auto_distribution:
            ehk = None
        result = self._put_arrays(keys, payloads, ehk, simd, partial, dry_run)
        if dry_run:
            raise DryRunOperationException()
        return self._put_result(*result)

    @staticmethod
    def _put_result(positions, counters, routing, open_logs, arrivals) -> pa.Table:
        """The ``shard_id``/``sequence_number`` table of a put, from ``_put_arrays``'s result."""
        shard_ids = pa.DictionaryArray.from_arrays(pa.array(positions, pa.int32()), pa.array(routing.shard_ids))
        seqs = format_sequence_numbers(positions, counters, open_logs, arrivals)
        return pa.table([shard_ids, seqs], names=["shard_id", "sequence_number"])

    # -- iterators -----------------------------------------------------------------

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
        shard, position = self._start_position(shard_id, shard_iterator_type, starting_sequence_number, timestamp)
        if dry_run:
            raise DryRunOperationException()
        token = self._engine._iterators.encode(self.name, self.incarnation, shard.index, position, self.now_ms())
        return {"ShardIterator": token}

    def _start_position(self, shard_id, kind, starting_sequence_number, timestamp) -> tuple[ShardInfo, int]:
        check_iterator_request(shard_id, kind, starting_sequence_number)
        shard = self._resolve_shard(shard_id)
        log = self.logs[shard.index]
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
        now = self.now_ms()
        if ts > now:
            raise InvalidArgumentException(
                "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
                f"timestampInMillis: {ts}, currentTimestampInMillis: {now}"
            )
        return shard, self._locate_timestamp(shard.index, ts)

    def _locate_timestamp(self, index: int, timestamp_ms: int) -> int:
        """Counter of shard ``index``'s first record that arrived at or after ``timestamp_ms``."""
        return self.logs[index].locate_timestamp(timestamp_ms)

    def _read_pieces(self, index: int, start: int, limit: int, now: int) -> tuple[list, int]:
        """Up to ``limit`` records of shard ``index`` as a list of batches, and the next counter.

        Like :meth:`_read_page` without the byte limit, for bulk reads that
        need not be one batch (stored records come as zero-copy slices).
        """
        batch, nxt, _, _ = self._read_page(index, start, limit, 2**31 - 1, now)
        return ([] if batch is None else [batch]), nxt

    def _read_page(self, index: int, start: int, limit: int, max_data_bytes: int, now: int):
        """One page of shard ``index`` as Arrow: ``(batch or None, next_counter, tail, next_arrival_ms)``.

        A ``start`` behind the oldest retained record moves up to it.
        """
        return read_arrow_batch(self.logs[index], start, limit, max_data_bytes, now)

    @staticmethod
    def _iterator_args_message(kind: str, how: str) -> str:
        return (
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
            "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
            f"Request specified {kind} and {how} StartingSequenceNumber."
        )

    def _counter_for(self, shard: ShardInfo, text: str) -> int:
        parsed = self._parse_sequence(text)
        invalid = (
            f"StartingSequenceNumber {text} used in GetShardIterator on shard {shard.shard_id} "
            f"in stream {self.name} under account {self.account_id} is invalid"
        )
        if parsed is None:
            raise InvalidArgumentException(invalid + ".")
        if parsed.shard_index != shard.index:
            raise InvalidArgumentException(
                f"Invalid StartingSequenceNumber. It encodes {parsed.shard_id}, while it was used in a call "
                f"to a shard with {shard.shard_id}"
            )
        if not self._is_own(parsed):
            if parsed.version == 0:  # Kinesis shows a version 0 number as it decoded it
                value = int(text)
                invalid = invalid.replace(f" {text} ", f" {value + 2**124 if value < 2**124 else value} ", 1)
            raise InvalidArgumentException(invalid + " because it did not come from this stream.")
        if parsed.counter > self.logs[shard.index].tail and parsed.counter != END_COUNTER:
            raise InvalidArgumentException(invalid + ".")  # never assigned: from the future
        return parsed.counter

    def _decode_iterator(self, shard_iterator, now: int):
        pos = self._engine._iterators.decode(shard_iterator, now)
        if pos.stream_name != self.name or pos.incarnation != self.incarnation or self._status == "DELETING":
            raise ResourceNotFoundException(
                f"Shard shardId-{pos.shard_index:012d} in stream {pos.stream_name} under account "
                f"{self.account_id} does not exist"
            )
        return pos

    # -- reads -----------------------------------------------------------------------

    @staticmethod
    def _check_limit(limit) -> int:
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
        log = self.logs[pos.shard_index]
        resp: dict = {}
        if log.closed and not returned and next_counter >= tail and self._status != "DELETING":
            resp["ChildShards"] = self._child_shards(pos.shard_index)
        else:
            resp["NextShardIterator"] = self._engine._iterators.encode(
                self.name, self.incarnation, pos.shard_index, next_counter, now
            )
        resp["MillisBehindLatest"] = 0 if next_ts is None else max(0, now - next_ts)
        return resp

    def _child_shards(self, index: int) -> list[dict]:
        sid = f"shardId-{index:012d}"
        children = []
        for s in self.shards:
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

    def get_records(self, shard_iterator, limit=None, *, wire: bool = False, dry_run: bool = False) -> dict:
        """Read records at a shard iterator, as boto3's GetRecords.

        Parameters
        ----------
        shard_iterator : str
        limit : int, optional
            1 to 10,000 (default 10,000); a response also stops before 10 MiB.
        dry_run : bool
            Check the limit and the iterator (well formed, not expired, its
            stream and shard still there) and read nothing:
            DryRunOperationException if the call would succeed.

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
        limit = self._check_limit(limit)
        now = self.now_ms()
        pos = self._decode_iterator(shard_iterator, now)
        if dry_run:
            raise DryRunOperationException()
        # The shard is read into Arrow under its lock; the dicts are made after, with no lock held.
        batch, nxt, tail, next_ts = self._read_page(pos.shard_index, pos.position, limit, MAX_GET_RECORDS_BYTES, now)
        records = format_records(batch, wire=wire)
        return {"Records": records, **self._read_response(pos, now, len(records), nxt, tail, next_ts)}

    def get_record_batch(self, shard_iterator, limit=None, *, dry_run: bool = False) -> dict:
        """``get_records`` with the records as one ``pyarrow.RecordBatch`` (``dry_run`` as there).

        Returns
        -------
        dict
            ``Records`` (a RecordBatch in RECORD_SCHEMA, possibly empty) plus
            the same ``NextShardIterator``/``ChildShards`` and
            ``MillisBehindLatest`` as ``get_records``.
        """
        limit = self._check_limit(limit)
        now = self.now_ms()
        pos = self._decode_iterator(shard_iterator, now)
        if dry_run:
            raise DryRunOperationException()
        batch, nxt, tail, next_ts = self._read_page(pos.shard_index, pos.position, limit, MAX_GET_RECORDS_BYTES, now)
        if batch is None:
            batch = _EMPTY_BATCH
        return {"Records": batch, **self._read_response(pos, now, batch.num_rows, nxt, tail, next_ts)}

    def read_batch(
        self, shard_id, iterator_type="TRIM_HORIZON", starting_sequence_number=None, timestamp=None, limit=10_000
    ) -> pa.RecordBatch:
        """Read one batch of a shard into Arrow, starting where an iterator of that type would.

        Parameters
        ----------
        shard_id : str
        iterator_type, starting_sequence_number, timestamp
            As for :meth:`get_shard_iterator`.
        limit : int
            Most records in the batch.

        Returns
        -------
        pyarrow.RecordBatch
            Columns ``shard_id``, ``sequence_number``, ``partition_key``,
            ``data``, ``approximate_arrival_timestamp`` (possibly no rows).
        """
        shard, position = self._start_position(shard_id, iterator_type, starting_sequence_number, timestamp)
        batch, *_ = self._read_page(shard.index, position, int(limit), 2**31 - 1, self.now_ms())
        return batch if batch is not None else _EMPTY_BATCH

    def iter_batches(
        self, shard_ids=None, iterator_type="TRIM_HORIZON", timestamp=None, batch_size: int = DEFAULT_BATCH_ROWS
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
            Most rows per batch.

        Returns
        -------
        RecordBatchStream
            Iterable of ``pyarrow.RecordBatch``; implements ``__arrow_c_stream__``.
        """
        if iterator_type not in ("TRIM_HORIZON", "AT_TIMESTAMP", "LATEST"):
            raise InvalidArgumentException(
                f"iter_batches takes TRIM_HORIZON, AT_TIMESTAMP or LATEST, not {iterator_type!r}"
            )
        if batch_size < 1:
            raise InvalidArgumentException("batch_size must be at least 1")
        shards = [self._resolve_shard(s) for s in shard_ids] if shard_ids is not None else self.visible_shards()
        plan = []
        for shard in shards:
            _, start = self._start_position(shard.shard_id, iterator_type, None, timestamp)
            plan.append((shard.index, start, self.logs[shard.index].tail))

        def batches():
            for index, start, stop in plan:
                while start < stop:
                    pieces, start = self._read_pieces(index, start, min(batch_size, stop - start), self.now_ms())
                    if not pieces:
                        break
                    yield from pieces

        return RecordBatchStream(batches)

    def read_table(
        self, shard_ids=None, iterator_type="TRIM_HORIZON", timestamp=None, batch_size: int = DEFAULT_BATCH_ROWS
    ) -> pa.Table:
        """Everything :meth:`iter_batches` yields, as one ``pyarrow.Table``."""
        return self.iter_batches(shard_ids, iterator_type, timestamp, batch_size).read_all()

    def read_pandas(self, shard_ids=None, iterator_type="TRIM_HORIZON", timestamp=None):
        """:meth:`read_table` as a pandas DataFrame with Arrow-backed dtypes."""
        return to_pandas(self.read_table(shard_ids, iterator_type, timestamp))

    # -- descriptions ----------------------------------------------------------------

    def _shard_description(self, shard: ShardInfo) -> dict:
        end = self._sequence_number(shard, END_COUNTER) if not shard.is_open else None
        return shard.describe(self._sequence_number(shard, 0), end)

    def _settings_fields(self) -> dict:
        """The EnhancedMonitoring / EncryptionType / KeyId members of the descriptions."""
        out = {
            "EnhancedMonitoring": [{"ShardLevelMetrics": list(self.shard_level_metrics)}],
            "EncryptionType": self.encryption_type,
        }
        if self.key_id is not None:
            out["KeyId"] = self.key_id
        return out

    def describe(self, limit=None, exclusive_start_shard_id=None) -> dict:
        """boto3's DescribeStream response: ``{"StreamDescription": {...}}``."""
        errs: list = []
        if limit is not None:
            v.check_int_range(errs, "limit", limit, 1, 10_000)
        if exclusive_start_shard_id is not None:
            v.check_name(errs, "exclusiveStartShardId", exclusive_start_shard_id)
        v.raise_if_any(errs)
        shards = self.listed_shards()
        if exclusive_start_shard_id is not None:
            after = _shard_sort_key(exclusive_start_shard_id)
            shards = [s for s in shards if s.index > after]
        page = min(limit or 100, 100)
        desc = {
            "StreamName": self.name,
            "StreamARN": self.arn,
            "StreamStatus": self.status,
            "StreamModeDetails": {"StreamMode": self.stream_mode},
            "Shards": [self._shard_description(s) for s in shards[:page]],
            "HasMoreShards": len(shards) > page,
            "RetentionPeriodHours": self.retention_hours,
            "StreamCreationTimestamp": ms_to_datetime(self.created_ms),
            **self._settings_fields(),
        }
        return {"StreamDescription": desc}

    def describe_summary(self) -> dict:
        """boto3's DescribeStreamSummary response."""
        return {
            "StreamDescriptionSummary": {
                "StreamName": self.name,
                "StreamARN": self.arn,
                "StreamStatus": self.status,
                "StreamModeDetails": {"StreamMode": self.stream_mode},
                "RetentionPeriodHours": self.retention_hours,
                "StreamCreationTimestamp": ms_to_datetime(self.created_ms),
                **self._settings_fields(),
                "OpenShardCount": self.open_shard_count,
                "ConsumerCount": self._engine.fanout.count(self),
                "MaxRecordSizeInKiB": self.max_record_size_kib,
                **({"WarmThroughput": dict(self._warm_throughput)} if self._warm_throughput else {}),
                # As the model documents it: present for on-demand streams only.
                **({"RecordDistributionStrategy": self.record_distribution} if self.stream_mode == "ON_DEMAND" else {}),
                "QueueCount": 0,  # shardstream has no queues or channels yet
                "ChannelCount": 0,
            }
        }

    def summary(self) -> dict:
        """The ListStreams ``StreamSummaries`` entry."""
        return {
            "StreamName": self.name,
            "StreamARN": self.arn,
            "StreamStatus": self.status,
            "StreamModeDetails": {"StreamMode": self.stream_mode},
            "StreamCreationTimestamp": ms_to_datetime(self.created_ms),
        }

    def shard_stats(self) -> list[dict]:
        """Per-shard counters: records, bytes, capacity, evictions, trims, sequence bounds."""
        out = []
        now = self.now_ms()
        for shard, log in zip(self.shards, self.logs):
            log.trim_expired(now)
            head, tail = log.bounds()
            out.append(
                {
                    "ShardId": shard.shard_id,
                    "Open": shard.is_open,
                    "Records": tail - head,
                    "DataBytes": log.data_bytes,
                    "FootprintBytes": log.footprint_bytes,
                    "CapacityBytes": log.capacity_bytes,
                    "EvictedRecords": log.evicted_records,
                    "TrimmedRecords": log.trimmed_records,
                    "OldestSequenceNumber": log.sequence_number(head) if tail > head else None,
                    "NewestSequenceNumber": log.sequence_number(tail - 1) if tail > head else None,
                }
            )
        return out

    # -- throughput emulation: the stream consults its throttle policy (see throttle.py) ---

    def set_throttle(self, policy) -> None:
        """Consult ``policy`` on every Kinesis data-plane call, or stop consulting one (None).

        ``policy`` is a :class:`~shardstream.throttle.StreamThrottle` (what
        :func:`shardstream.throttle.install` passes).  The stream binds its
        throttled ``put_record``, ``put_records``, ``put_batch``,
        ``get_shard_iterator``, ``get_records`` and ``get_record_batch`` once,
        here, and sets ``stream.throttle`` to the policy; None removes them, so
        a stream without emulation calls its class's own methods and pays
        nothing.  Setting a policy replaces the previous one.
        """
        attrs = vars(self)
        for name in (*_THROTTLED, "throttle"):
            attrs.pop(name, None)
        if policy is None:
            return
        attrs["throttle"] = policy
        for name in _THROTTLED:
            attrs[name] = getattr(self, "_throttled_" + name)

    def _throttled_put_record(
        self, data, partition_key=None, explicit_hash_key=None, sequence_number_for_ordering=None, *, dry_run=False
    ):
        args = (data, partition_key, explicit_hash_key, sequence_number_for_ordering)
        real = type(self).put_record
        plan = self._plan_record(data, partition_key, explicit_hash_key)
        if plan is None:  # refused by the stream: the same error as unthrottled
            return real(self, *args, dry_run=dry_run)
        if sequence_number_for_ordering is not None:
            self._check_ordering(sequence_number_for_ordering)  # an invalid one is IA, not a throttle
        shard_id, nbytes = plan
        return self.throttle.admit_record(shard_id, nbytes, functools.partial(real, self, *args), dry_run=dry_run)

    def _throttled_put_records(self, records, *, dry_run=False):
        real = type(self).put_records
        if dry_run:  # throttling fails entries, not the request: nothing to check here
            return real(self, records, dry_run=True)
        plan = self._plan_entries(records)
        if plan is None:
            return real(self, records)
        return self.throttle.admit_entries(records, plan, functools.partial(real, self))

    def _throttled_put_batch(self, partition_keys, data, explicit_hash_keys=None, *, simd=True, dry_run=False):
        real = type(self).put_batch
        keys = None if partition_keys is None else as_key_array(partition_keys)
        payloads = as_payload_array(data)
        if keys is None:
            keys = self._keyless(len(payloads))
        usage = self._plan_batch(keys, payloads, explicit_hash_keys, simd)
        if usage is None:
            return real(self, keys, payloads, explicit_hash_keys, simd=simd, dry_run=dry_run)
        write = functools.partial(real, self, keys, payloads, explicit_hash_keys, simd=simd)
        return self.throttle.admit_batch(usage, write, dry_run=dry_run)

    def _throttled_get_shard_iterator(
        self, shard_id, shard_iterator_type, starting_sequence_number=None, timestamp=None, *, dry_run=False
    ):
        # Making an iterator has no side effect: validate by making it, then drop it if throttled.
        make = functools.partial(
            type(self).get_shard_iterator, self, shard_id, shard_iterator_type, starting_sequence_number, timestamp
        )
        result = make()
        key = self._resolve_shard(shard_id).shard_id
        return self.throttle.admit_iterator(key, result, make, dry_run=dry_run)

    def _throttled_get_records(self, shard_iterator, limit=None, *, wire=False, dry_run=False):
        read = functools.partial(type(self).get_records, self, shard_iterator, limit, wire=wire, dry_run=dry_run)
        index = self._iterator_shard(shard_iterator, limit)
        if index is None:
            return read()  # raises the stream's own error
        return self.throttle.admit_records_read(index, read, dry_run=dry_run)

    def _throttled_get_record_batch(self, shard_iterator, limit=None, *, dry_run=False):
        read = functools.partial(type(self).get_record_batch, self, shard_iterator, limit, dry_run=dry_run)
        index = self._iterator_shard(shard_iterator, limit)
        if index is None:
            return read()  # raises the stream's own error
        return self.throttle.admit_batch_read(index, read, dry_run=dry_run)

    def _iterator_shard(self, shard_iterator, limit) -> int | None:
        """The shard index a GetRecords call reads, or None if the stream would refuse the call."""
        try:
            if limit is not None:
                self._check_limit(limit)
            return self._decode_iterator(shard_iterator, self.now_ms()).shard_index
        except Exception:
            return None

    # Planning a write before it happens: the stream's own checks and routing, so a
    # plan never disagrees with the write it precedes; a refused request (None) goes
    # to the unthrottled method, which raises its own error.

    def _plan_rows(self, keys: pa.Array, payloads: pa.Array, explicit_hash_keys, simd: bool = True):
        """(shard ids, positions, sizes) of rows the stream would accept, or None if it would refuse them."""
        if self.status not in ("ACTIVE", "UPDATING"):
            return None
        try:
            self._validate_arrays(keys, payloads)
            ehk = self._parse_hash_keys(explicit_hash_keys, len(keys))
        except KinesisError:
            return None
        positions = np.asarray(self._route_rows(keys, ehk, simd))
        return self.routing.shard_ids, positions, _record_sizes(keys, payloads)

    def _plan_record(self, data, partition_key, explicit_hash_key):
        """(shard id, nbytes) of a PutRecord, or None if the stream would reject it."""
        if partition_key is None and self.auto_distribution:
            partition_key = ""  # a keyless AUTO record
        if not isinstance(partition_key, str) or data is None:
            return None
        try:
            payloads = pa.array([data.encode("utf-8") if isinstance(data, str) else bytes(data)], pa.binary())
        except TypeError:
            return None
        ehk = None if explicit_hash_key is None else [explicit_hash_key]
        plan = self._plan_rows(pa.array([partition_key], pa.string()), payloads, ehk)
        if plan is None:
            return None
        ids, positions, sizes = plan
        return ids[int(positions[0])], int(sizes[0])

    def _plan_entries(self, records):
        """Per entry (shard id, nbytes) of a PutRecords request, or None if it would be rejected."""
        try:
            keys, payloads, hash_keys = self._parse_put_records(records)
        except KinesisError:
            return None
        plan = self._plan_rows(keys, payloads, hash_keys)
        if plan is None:
            return None
        ids, positions, sizes = plan
        return [(ids[int(p)], int(n)) for p, n in zip(positions, sizes)]

    def _plan_batch(self, keys: pa.Array, payloads: pa.Array, explicit_hash_keys, simd: bool):
        """Records and bytes per shard id of a put_batch, or None if it would be rejected."""
        if len(keys) == 0 or len(payloads) != len(keys):
            return None
        plan = self._plan_rows(keys, payloads, explicit_hash_keys, simd)
        if plan is None:
            return None
        ids, positions, sizes = plan
        counts = np.bincount(positions, minlength=len(ids))
        nbytes = np.bincount(positions, weights=sizes, minlength=len(ids))
        return {ids[i]: (int(counts[i]), int(nbytes[i])) for i in np.flatnonzero(counts)}

    def __repr__(self) -> str:
        return f"<Stream {self.name!r} {self.status} shards={self.open_shard_count}>"


def check_iterator_request(shard_id, kind, starting_sequence_number, stream_name=None) -> None:
    """Check a GetShardIterator request's model constraints (ValidationException), in Kinesis's order.

    ``stream_name`` is checked too when given (the engine checks it here, before
    the shard id is parsed and the stream looked up).
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
    """GetShardIterator's error for a shard (or its stream) that does not exist."""
    return ResourceNotFoundException(
        f"Shard shardId-{index:012d} in stream {stream_name} under account {account_id} does not exist"
    )


def _record_sizes(keys: pa.Array, payloads: pa.Array) -> np.ndarray:
    """Bytes each record counts against a throughput budget: data plus partition key."""
    key_len = pc.binary_length(keys).to_numpy(zero_copy_only=False)
    data_len = pc.binary_length(payloads).to_numpy(zero_copy_only=False)
    return key_len.astype(np.int64) + data_len.astype(np.int64)


def _shard_sort_key(shard_id: str) -> int:
    """The index of an ExclusiveStartShardId-style argument; -1 (before every shard) if it names none."""
    index = parse_shard_index(shard_id, bounded=False)
    return -1 if index is None else index
