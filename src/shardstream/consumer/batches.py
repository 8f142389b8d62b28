"""What a Consumer hands out besides processor calls: batches for iteration and per-shard lag.

:class:`ConsumerBatch` is what ``for batch in consumer`` yields (a consumer made without a
processor, whose shards are driven by a :class:`QueueProcessor`); :class:`ShardLag` is a shard's
lag as of its last read; :func:`last_position` finds a batch's last user record.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

from .processor import Checkpointer, RecordProcessor

__all__ = ["ConsumerBatch", "QueueProcessor", "ShardLag", "last_position", "record_lag"]


@dataclass
class ShardLag:
    """How far a group is behind on one shard, as of its last read.

    Attributes
    ----------
    millis_behind_latest : int or None
        From the last GetRecords response.
    records_behind : int or None
        Records after the last one delivered (embedded streams only).
    """

    millis_behind_latest: int | None = None
    records_behind: int | None = None


def record_lag(metrics, stream_name: str, group: str, shard_id: str, lag: ShardLag) -> None:
    """Record a group's lag on a shard in ``metrics`` (namespace ``shardstream``).

    ``ConsumerLagRecords`` and ``ConsumerLagMilliseconds``, dimensions
    ``StreamName``, ``ConsumerGroup`` and ``ShardId``; what is unknown is not recorded.

    Parameters
    ----------
    metrics : MetricRegistry
    stream_name, group, shard_id : str
    lag : ShardLag
    """
    dims = {"StreamName": stream_name, "ConsumerGroup": group, "ShardId": shard_id}
    if lag.records_behind is not None:
        metrics.record("ConsumerLagRecords", dims, lag.records_behind, unit="Count", namespace="shardstream")
    if lag.millis_behind_latest is not None:
        metrics.record(
            "ConsumerLagMilliseconds", dims, lag.millis_behind_latest, unit="Milliseconds", namespace="shardstream"
        )


@dataclass
class ConsumerBatch:
    """A batch handed out by ``for batch in consumer`` / ``async for`` (a consumer without a processor).

    Attributes
    ----------
    shard_id : str
    records : pyarrow.RecordBatch or list of dict
    millis_behind_latest : int
    checkpointer : Checkpointer
    """

    shard_id: str
    records: object
    millis_behind_latest: int
    checkpointer: Checkpointer

    def checkpoint(self) -> None:
        """Checkpoint at this batch's last user record."""
        position = last_position(self.records)
        if position is not None:
            self.checkpointer.checkpoint(*position)


class QueueProcessor(RecordProcessor):
    """Hands batches to the consumer's iterator (consumers made without a processor).

    Parameters
    ----------
    batches : queue.Queue
        Where the batches go (the consumer's iterator reads it).
    stopping : threading.Event
        Set when the consumer stops: a full queue is then given up on.
    """

    def __init__(self, batches: queue.Queue, stopping: threading.Event):
        self._batches = batches
        self._stopping = stopping
        self.shard_id = ""

    def initialize(self, shard_id, starting_position):
        """Remember the shard (its batches carry its id).

        Parameters
        ----------
        shard_id : str
        starting_position : str
        """
        self.shard_id = shard_id

    def process(self, records, checkpointer, millis_behind_latest):
        """Put the batch on the queue (waiting while it is full, until the consumer stops).

        Parameters
        ----------
        records : pyarrow.RecordBatch or list of dict
        checkpointer : Checkpointer
        millis_behind_latest : int
        """
        batch = ConsumerBatch(self.shard_id, records, millis_behind_latest, checkpointer)
        while not self._stopping.is_set():
            try:
                self._batches.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue


def last_position(records) -> tuple[str, int] | None:
    """(sequence number, sub-sequence number) of the last user record, or None when there are none.

    Parameters
    ----------
    records : pyarrow.RecordBatch or list of dict
        User records (Arrow or GetRecords dicts).

    Returns
    -------
    tuple of (str, int) or None
    """
    if isinstance(records, list):
        return (records[-1]["SequenceNumber"], records[-1].get("SubSequenceNumber", 0)) if records else None
    if not records.num_rows:
        return None
    sub = records.column("sub_sequence_number")[-1].as_py() if "sub_sequence_number" in records.schema.names else 0
    return records.column("sequence_number")[-1].as_py(), sub
