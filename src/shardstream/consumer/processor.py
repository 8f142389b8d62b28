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

Checkpoints are positions of user records: a sequence number and a
sub-sequence number (the user record's index inside a KPL aggregate, 0 for
a plain record).  A worker that takes a shard over resumes *after* the
checkpointed user record, so everything after it is delivered again
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

    def initialize_at(self, shard_id: str, starting_position: str, sub_sequence_number: int) -> None:
        """Called once before the shard's first batch, with the checkpoint's sub-sequence number too.

        The consumer calls this one; the default calls :meth:`initialize`
        (override this when the sub-sequence number matters, as the KCL
        daemon does).

        Parameters
        ----------
        shard_id : str
        starting_position : str
            As for :meth:`initialize`.
        sub_sequence_number : int
            The checkpointed user record's position in its aggregate (0 otherwise).
        """
        self.initialize(shard_id, starting_position)

    def process(self, records, checkpointer: Checkpointer, millis_behind_latest: int) -> None:
        """Handle one batch of the shard's records, in sequence order.

        Parameters
        ----------
        records : pyarrow.RecordBatch or list of dict
            User records (KPL aggregates taken apart, compression envelopes
            opened), as the consumer's ``record_format`` says (``"arrow"``: a
            batch in :data:`~shardstream.unpack.USER_RECORD_SCHEMA`; ``"dicts"``:
            GetRecords entries with ``SubSequenceNumber``, see
            :func:`shardstream.unpack.unpack_records`).
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
    last_sub_sequence_number : int
        The sub-sequence number of ``last_checkpoint``.
    """

    def __init__(
        self, shard_id: str, save: Callable[[str, int], bool], last_checkpoint: str, last_sub_sequence_number: int = 0
    ):
        self.shard_id = shard_id
        self._save = save
        self.last_checkpoint = last_checkpoint
        self.last_sub_sequence_number = int(last_sub_sequence_number)
        self.largest_delivered: str | None = None  # sequence number of the last user record handed over
        self.largest_delivered_sub = 0  # and its sub-sequence number
        self.at_shard_end = False

    def delivered(self, sequence_number: str, sub_sequence_number: int = 0) -> None:
        """Note the position of the last user record handed to the processor (the consumer calls this).

        Parameters
        ----------
        sequence_number : str
        sub_sequence_number : int
        """
        self.largest_delivered = sequence_number
        self.largest_delivered_sub = int(sub_sequence_number)

    def checkpoint(self, sequence_number: str | None = None, sub_sequence_number: int = 0) -> None:
        """Record progress.

        Parameters
        ----------
        sequence_number : str, optional
            A sequence number handed over; default the position (sequence
            and sub-sequence number) of the last user record handed over
            (at shard end: ``SHARD_END``).
        sub_sequence_number : int
            Position inside a KPL-aggregated record (0 otherwise); ignored
            when ``sequence_number`` is None.

        Raises
        ------
        LeaseLostError
            The worker no longer holds the lease.
        InvalidCheckpointError
            Below the previous checkpoint or beyond the last record handed over.
        """
        if sequence_number is None:
            if self.at_shard_end:
                value, sub = SHARD_END, 0
            elif self.largest_delivered is None:
                return  # nothing delivered yet: nothing to record
            else:
                value, sub = self.largest_delivered, self.largest_delivered_sub
        else:
            value, sub = str(sequence_number), int(sub_sequence_number)
            self._check(value, sub)
        if not self._save(value, sub):
            raise LeaseLostError(f"Can't update checkpoint - instance doesn't hold the lease for shard {self.shard_id}")
        self.last_checkpoint = value
        self.last_sub_sequence_number = sub

    def _check(self, value: str, sub: int) -> None:
        if value == SHARD_END:
            if not self.at_shard_end:
                raise InvalidCheckpointError(f"shard {self.shard_id} has not ended: SHARD_END is not allowed yet")
            return
        if not value.isdigit():
            raise InvalidCheckpointError(f"not a sequence number: {value!r}")
        if sub < 0:
            raise InvalidCheckpointError(f"sub-sequence number {sub} is negative")
        if self.last_checkpoint not in SENTINELS and self.last_checkpoint != SHARD_END:
            if (int(value), sub) < (int(self.last_checkpoint), self.last_sub_sequence_number):
                raise InvalidCheckpointError(
                    f"checkpoint {value}/{sub} is below the previous checkpoint "
                    f"{self.last_checkpoint}/{self.last_sub_sequence_number} of {self.shard_id}"
                )
        if self.largest_delivered is None or (int(value), sub) > (
            int(self.largest_delivered),
            self.largest_delivered_sub,
        ):
            raise InvalidCheckpointError(
                f"checkpoint {value}/{sub} is beyond the last record handed over for {self.shard_id} "
                f"({self.largest_delivered}/{self.largest_delivered_sub})"
            )
