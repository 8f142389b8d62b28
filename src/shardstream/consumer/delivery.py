"""Delivery modes and scheduled checkpoints: when a shard's batches are checkpointed for the processor.

A :class:`~shardstream.consumer.Consumer` reads each leased shard in
batches; what happens to the checkpoint around ``process(batch)`` is this
module's job, one :class:`ShardDelivery` per shard thread.

``"at_least_once"`` (the default; the KCL's behaviour)
    Nothing is checkpointed before the processor has the batch.  The
    processor checkpoints when it is done (or :class:`CheckpointEvery` does
    it after successful batches).  A crash repeats what was handed over
    since the last checkpoint; nothing is lost.
``"at_most_once"``
    The batch's last user record (sequence number, sub-sequence number) is
    checkpointed *before* the processor sees the batch.  A crash loses the
    batch in hand (and any checkpoint the processor would have made is
    already made); nothing is repeated.  If that checkpoint cannot be
    written (the lease was taken), the batch is not handed over.

:class:`CheckpointEvery` (``at_least_once`` only) is Kafka's auto-commit:
after a batch whose ``process`` returned, a checkpoint at its last user
record is written once ``records`` user records or ``seconds`` seconds
(whichever comes first) passed since the last one this schedule wrote.
A batch whose ``process`` raised is never checkpointed: the pending
checkpoint (the end of the last good batch) is written at once, and the
schedule stops for that shard until it is leased again, so the failed
batch is delivered again after a restart or failover.  Manual checkpoints
keep working beside the schedule (the schedule never writes below them).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from .processor import SENTINELS, SHARD_END, Checkpointer

__all__ = ["DELIVERY_MODES", "CheckpointEvery", "ShardDelivery", "check_delivery"]

DELIVERY_MODES = ("at_least_once", "at_most_once")
_log = logging.getLogger("shardstream.consumer")


@dataclass(frozen=True)
class CheckpointEvery:
    """A checkpoint schedule: every ``records`` user records, every ``seconds`` seconds, or both.

    A class rather than a bare number, so ``1000`` (records?) and ``5.0``
    (seconds?) cannot be mistaken for each other: name what you mean.

    Parameters
    ----------
    records : int, optional
        Checkpoint once this many user records succeeded since the last scheduled checkpoint.
    seconds : float, optional
        Checkpoint once this long passed since the last scheduled checkpoint (checked after
        every read, empty ones too, so a quiet shard is checkpointed as well).

    Raises
    ------
    ValueError
        Neither given, or one not positive.

    Examples
    --------
    >>> CheckpointEvery(records=1000)
    CheckpointEvery(records=1000, seconds=None)
    >>> CheckpointEvery(records=1000, seconds=5.0)
    CheckpointEvery(records=1000, seconds=5.0)
    """

    records: int | None = None
    seconds: float | None = None

    def __post_init__(self):
        if self.records is None and self.seconds is None:
            raise ValueError("CheckpointEvery needs records=, seconds= or both")
        if self.records is not None and (isinstance(self.records, bool) or int(self.records) != self.records):
            raise ValueError(f"CheckpointEvery records must be a whole number, not {self.records!r}")
        if self.records is not None and self.records < 1:
            raise ValueError(f"CheckpointEvery records must be at least 1, not {self.records!r}")
        if self.seconds is not None and not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"CheckpointEvery seconds must be positive, not {self.seconds!r}")


def check_delivery(delivery: str, checkpoint_every) -> None:
    """Check a Consumer's ``delivery`` and ``checkpoint_every`` arguments.

    Parameters
    ----------
    delivery : str
        ``"at_least_once"`` or ``"at_most_once"``.
    checkpoint_every : CheckpointEvery or None

    Raises
    ------
    ValueError
        An unknown mode, a schedule with ``at_most_once`` (it checkpoints every batch already),
        or a bare number as the schedule.
    """
    if delivery not in DELIVERY_MODES:
        raise ValueError(f"delivery must be 'at_least_once' or 'at_most_once', not {delivery!r}")
    if checkpoint_every is None:
        return
    if not isinstance(checkpoint_every, CheckpointEvery):
        raise ValueError(
            f"checkpoint_every must be a CheckpointEvery(records=..., seconds=...), not {checkpoint_every!r}"
        )
    if delivery == "at_most_once":
        raise ValueError("checkpoint_every is for at_least_once delivery: at_most_once checkpoints every batch")


def _ahead(checkpointer: Checkpointer, position: tuple[str, int]) -> bool:
    """Whether ``position`` is beyond the shard's last checkpoint."""
    last = checkpointer.last_checkpoint
    if last == SHARD_END:
        return False
    if last in SENTINELS:
        return True
    return (int(position[0]), position[1]) > (int(last), checkpointer.last_sub_sequence_number)


class ShardDelivery:
    """The delivery mode and checkpoint schedule of one shard (one per shard thread, used only by it).

    Parameters
    ----------
    delivery : str
        ``"at_least_once"`` or ``"at_most_once"``.
    every : CheckpointEvery or None
        The schedule (``at_least_once`` only).
    checkpointer : Checkpointer
        The shard's checkpointer; its writes raise ``LeaseLostError`` once the lease is gone.
    clock : callable
        Monotonic seconds.
    """

    def __init__(self, delivery: str, every: CheckpointEvery | None, checkpointer: Checkpointer, clock=time.monotonic):
        self.delivery = delivery
        self.every = every
        self.checkpointer = checkpointer
        self._clock = clock
        self._since = clock()  # when the schedule last wrote (or started)
        self._records = 0  # user records succeeded since then
        self._good: tuple[str, int] | None = None  # end of the last batch that succeeded
        self.stopped = False  # a batch failed: no more scheduled checkpoints for this lease

    def before(self, position: tuple[str, int]) -> None:
        """Before ``process``: at most once, checkpoint the batch ending at ``position``.

        Parameters
        ----------
        position : tuple of (str, int)
            The batch's last user record.

        Raises
        ------
        LeaseLostError
            The lease is gone: do not hand the batch over.
        """
        if self.delivery == "at_most_once" and _ahead(self.checkpointer, position):
            self.checkpointer.checkpoint(*position)

    def after(self, position: tuple[str, int], count: int, succeeded: bool) -> None:
        """After ``process``: count the batch, checkpoint when the schedule says so.

        Parameters
        ----------
        position : tuple of (str, int)
            The batch's last user record.
        count : int
            User records in the batch.
        succeeded : bool
            Whether ``process`` returned (False: it raised).

        Raises
        ------
        LeaseLostError
            The lease is gone.
        """
        if self.every is None or self.stopped:
            return
        if not succeeded:
            self.stopped = True
            _log.warning(
                "processor of %s raised: its batch is not checkpointed, scheduled checkpoints stop for this lease",
                self.checkpointer.shard_id,
            )
            self.flush()
            return
        self._good = position
        self._records += count
        self.tick()

    def tick(self) -> None:
        """After any read: write the pending checkpoint if the schedule is due.

        Raises
        ------
        LeaseLostError
            The lease is gone.
        """
        if self.every is None or self.stopped or self._good is None:
            return
        due = (self.every.records is not None and self._records >= self.every.records) or (
            self.every.seconds is not None and self._clock() - self._since >= self.every.seconds
        )
        if due:
            self.flush()

    def flush(self) -> None:
        """Write the pending scheduled checkpoint (end of the last good batch) now, if any.

        Raises
        ------
        LeaseLostError
            The lease is gone.
        """
        if self.every is None or self._good is None:
            return
        position, self._good = self._good, None
        self._records = 0
        self._since = self._clock()
        if _ahead(self.checkpointer, position):
            self.checkpointer.checkpoint(*position)
