"""A stream's descriptions: DescribeStream, its summary, ListShards' shards and shard statistics.

:class:`StreamDescriptions` is a part of :class:`~shardstream.Stream` that
turns the stream's state into Kinesis's shapes (the stream publishes its
calls: ``stream.describe()``, ``stream.list_shards()``, ...).  It keeps no
state of its own.
"""

from __future__ import annotations

import dataclasses

from . import validation as v
from .models import ShardInfo, ms_to_datetime, shard_sort_key, to_epoch_ms
from .sequence import END_COUNTER
from .validation import check_shard_filter

__all__ = ["StreamDescriptions"]


class StreamDescriptions:
    """Which shards a stream lists, and its Kinesis descriptions.

    Parameters
    ----------
    stream : Stream
    """

    def __init__(self, stream):
        self.stream = stream

    def filter_shards(self, shard_filter: dict | None = None) -> list[ShardInfo]:
        """The listed shards that pass ``shard_filter``, a ListShards ShardFilter (see :meth:`Engine.list_shards`)."""
        shards = self.listed_shards()
        if not shard_filter:
            return shards
        kind = shard_filter["Type"]
        now = self.stream.now_ms()
        horizon = max(now - self.stream.retention_hours * 3_600_000, self.stream.created_ms)

        def open_at(t: int) -> list[ShardInfo]:
            return [s for s in shards if s.created_ms <= t and (s.closed_ms is None or s.closed_ms >= t)]

        if kind == "AFTER_SHARD_ID":
            after = shard_sort_key(shard_filter["ShardId"])
            return [s for s in shards if s.index > after]
        if kind == "AT_TRIM_HORIZON":
            return open_at(horizon)
        if kind == "AT_LATEST":
            return [s for s in shards if s.is_open]
        if kind == "AT_TIMESTAMP":
            return open_at(max(to_epoch_ms(shard_filter["Timestamp"]), self.stream.created_ms))
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
        return [self.shard_description(s) for s in self.filter_shards(shard_filter)]

    def visible_shards(self) -> list[ShardInfo]:
        """Shards Kinesis would list: open ones and closed ones not yet expired.

        None while CREATING, nor once a stream deleted while CREATING is DELETING.
        """
        if self.stream.status == "CREATING" or self.stream.deleted_while_creating:
            return []
        now = self.stream.now_ms()
        return [s for s in self.stream.shards if not self.stream.is_expired(s, now)]

    def listed_shards(self) -> list[ShardInfo]:
        """The shards DescribeStream and ListShards show.

        :meth:`visible_shards`, except while UPDATING after a split, merge or
        shard-count change: then the layout from before the change (its new
        shards left out, the shards it closed shown open) until it completes,
        as Kinesis lists them.  Reads and writes use the new shards at once.
        """
        shards = self.visible_shards()
        before = self.stream.layout_before_update
        if before is None or self.stream.status != "UPDATING":
            return shards
        count, was_open = before
        return [
            dataclasses.replace(s, closed_ms=None) if s.index in was_open and not s.is_open else s
            for s in shards
            if s.index < count
        ]

    def shard_description(self, shard: ShardInfo) -> dict:
        """The boto3 ``Shard`` dict of ``shard``: ids, parents, hash-key range and sequence-number range."""
        end = self.stream.sequence_number(shard, END_COUNTER) if not shard.is_open else None
        return shard.describe(self.stream.sequence_number(shard, 0), end)

    def describe(self, limit=None, exclusive_start_shard_id=None) -> dict:
        """boto3's DescribeStream response: ``{"StreamDescription": {...}}``.

        Parameters
        ----------
        limit : int, optional
            Most shards in the page (1 to 10,000; at most 100 are given).
        exclusive_start_shard_id : str, optional
            List the shards after this one.

        Raises
        ------
        ValidationException
            A limit or shard id out of range.
        """
        errs: list = []
        if limit is not None:
            v.check_int_range(errs, "limit", limit, 1, 10_000)
        if exclusive_start_shard_id is not None:
            v.check_name(errs, "exclusiveStartShardId", exclusive_start_shard_id)
        v.raise_if_any(errs)
        shards = self.listed_shards()
        if exclusive_start_shard_id is not None:
            after = shard_sort_key(exclusive_start_shard_id)
            shards = [s for s in shards if s.index > after]
        page = min(limit or 100, 100)
        desc = {
            "StreamName": self.stream.name,
            "StreamARN": self.stream.arn,
            "StreamStatus": self.stream.status,
            "StreamModeDetails": {"StreamMode": self.stream.modes.stream_mode},
            "Shards": [self.shard_description(s) for s in shards[:page]],
            "HasMoreShards": len(shards) > page,
            "RetentionPeriodHours": self.stream.retention_hours,
            "StreamCreationTimestamp": ms_to_datetime(self.stream.created_ms),
            **self.stream.settings.description_fields(),
        }
        return {"StreamDescription": desc}

    def describe_summary(self) -> dict:
        """boto3's DescribeStreamSummary response."""
        stream, modes = self.stream, self.stream.modes
        summary = {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStatus": stream.status,
            "StreamModeDetails": {"StreamMode": modes.stream_mode},
            "RetentionPeriodHours": stream.retention_hours,
            "StreamCreationTimestamp": ms_to_datetime(stream.created_ms),
            **stream.settings.description_fields(),
            "OpenShardCount": stream.open_shard_count,
            "ConsumerCount": stream.catalog.consumer_count(stream),
            "MaxRecordSizeInKiB": stream.max_record_size_kib,
        }
        if modes.warm_throughput:
            summary["WarmThroughput"] = dict(modes.warm_throughput)
        if modes.stream_mode == "ON_DEMAND":  # as the model documents it: on-demand streams only
            summary["RecordDistributionStrategy"] = modes.record_distribution
        summary["QueueCount"] = stream.catalog.queue_count(stream)
        summary["ChannelCount"] = 0  # shardstream has no channels yet
        return {"StreamDescriptionSummary": summary}

    def summary(self) -> dict:
        """The ListStreams ``StreamSummaries`` entry."""
        return {
            "StreamName": self.stream.name,
            "StreamARN": self.stream.arn,
            "StreamStatus": self.stream.status,
            "StreamModeDetails": {"StreamMode": self.stream.modes.stream_mode},
            "StreamCreationTimestamp": ms_to_datetime(self.stream.created_ms),
        }

    def shard_stats(self) -> list[dict]:
        """Per-shard counters: records, bytes, capacity, evictions, trims, sequence bounds."""
        out = []
        now = self.stream.now_ms()
        for shard, log in zip(self.stream.shards, self.stream.logs):
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
