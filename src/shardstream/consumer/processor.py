"""The record-processor contract (the KCL's ``ShardRecordProcessor``) and the checkpointer.

A :class:`~shardstream.consumer.Consumer` makes one processor per shard it
holds a lease on and calls, in order:

1. :meth:`RecordProcessor.initialize` once, before any records;
2. :meth:`RecordProcessor.process` for every non-empty batch of records;
3. exactly one of :meth:`RecordProcessor.shard_ended` (the shard is closed
   and fully read: the processor **must** checkpoint, which records
   ``SHARD_END`` so the shard's children may start),
   :meth:`RecordProcessor.lease_lost` (another worker took the shard: no
   checkpointing any more), or :meth:`RecordProcessor.shutdown_requested`
   (the consumer is stopping gracefully: a last checkpoint is welcome).

Checkpoints are sequence numbers; a worker that takes a shard over resumes
*after* the checkpoint, so everything after it is delivered again
(at-least-once delivery).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "SHARD_END",
    "SENTINELS",
    "Checkpointer",
    "InvalidCheckpointError",
    "LeaseLostError",
    "RecordProcessor",
]

SHARD_END = "SHARD_END"
#: Checkpoint values that are positions, not sequence numbers (they sort before any sequence number).
SENTINELS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")


class LeaseLostError(RuntimeError):
    """The worker no longer holds the shard's lease, so it may not checkpoint it."""


class InvalidCheckpointError(ValueError):
    """A checkpoint outside what was delivered (below the last checkpoint or beyond the last record)."""


class RecordProcessor:
    """Base class for record processors: override what you need.

    Examples
    --------
    >>> class Printer(RecordProcessor):
    ...     def process(self, records, checkpointer, millis_behind_latest):
    ...         print(records.num_rows)
    ...         checkpointer.checkpoint()
    """

    def initialize(self, shard_id: str, starting_position: str) -> None:
        """Called once before the shard's first batch.

        Parameters
        ----------
        shard_id : str
        starting_position : str
            The checkpoint the shard resumes after: a sequence number, or
            ``TRIM_HORIZON``, ``LATEST`` or ``AT_TIMESTAMP`` for a shard
            never checkpointed.
        """

    def process(self, records, checkpointer: Checkpointer, millis_behind_latest: int) -> None:
        """Handle one batch of the shard's records, in sequence order.

        Parameters
        ----------
        records : pyarrow.RecordBatch or list of dict
            As the consumer's ``record_format`` says (``"arrow"``: a batch in
            :data:`~shardstream.RECORD_SCHEMA`; ``"dicts"``: GetRecords entries).
        checkpointer : Checkpointer
        millis_behind_latest : int
            How far the batch's end is behind the shard's newest record.
        """

    def lease_lost(self) -> None:
        """The lease went to another worker: stop; checkpointing would fail."""

    def shard_ended(self, checkpointer: Checkpointer) -> None:
        """The shard is closed and fully delivered: call ``checkpointer.checkpoint()``.

        The default does exactly that.

        Parameters
        ----------
        checkpointer : Checkpointer
            Its ``checkpoint()`` records ``SHARD_END``.
        """
        checkpointer.checkpoint()

    def shutdown_requested(self, checkpointer: Checkpointer) -> None:
        """The consumer is stopping: checkpoint what is done with ``checkpointer`` (optional)."""


class Checkpointer:
    """Records how far a shard has been processed, in the lease table.

    Parameters
    ----------
    shard_id : str
    save : callable
        ``save(checkpoint, sub_sequence_number) -> bool``: a conditional write
        that fails (False) when the worker no longer holds the lease.
    last_checkpoint : str
        Where the shard resumed (a sequence number or a sentinel).
    """

    def __init__(self, shard_id: str, save: Callable[[str, int], bool], last_checkpoint: str):
        self.shard_id = shard_id
        self._save = save
        self.last_checkpoint = last_checkpoint
        self.largest_delivered: str | None = None  # sequence number of the last record handed over
        self.at_shard_end = False

    def _delivered(self, sequence_number: str) -> None:
        self.largest_delivered = sequence_number

    def checkpoint(self, sequence_number: str | None = None, sub_sequence_number: int = 0) -> None:
        """Record progress.

        Parameters
        ----------
        sequence_number : str, optional
            A sequence number handed over; default the last one handed over
            (at shard end: ``SHARD_END``).
        sub_sequence_number : int
            Position inside a KPL-aggregated record (0 otherwise).

        Raises
        ------
        LeaseLostError
            The worker no longer holds the lease.
        InvalidCheckpointError
            Below the previous checkpoint or beyond the last record handed over.
        """
        if sequence_number is None:
            if self.at_shard_end:
                value = SHARD_END
            elif self.largest_delivered is None:
                return  # nothing delivered yet: nothing to record
            else:
                value = self.largest_delivered
        else:
            value = str(sequence_number)
            self._check(value)
        if not self._save(value, int(sub_sequence_number)):
            raise LeaseLostError(f"Can't update checkpoint - instance doesn't hold the lease for shard {self.shard_id}")
        self.last_checkpoint = value

    def _check(self, value: str) -> None:
        if value == SHARD_END:
            if not self.at_shard_end:
                raise InvalidCheckpointError(f"shard {self.shard_id} has not ended: SHARD_END is not allowed yet")
            return
        if not value.isdigit():
            raise InvalidCheckpointError(f"not a sequence number: {value!r}")
        if self.last_checkpoint not in SENTINELS and self.last_checkpoint != SHARD_END:
            if int(value) < int(self.last_checkpoint):
                raise InvalidCheckpointError(
                    f"checkpoint {value} is below the previous checkpoint {self.last_checkpoint} of {self.shard_id}"
                )
        if self.largest_delivered is None or int(value) > int(self.largest_delivered):
            raise InvalidCheckpointError(
                f"checkpoint {value} is beyond the last record handed over for {self.shard_id} "
                f"({self.largest_delivered})"
            )
