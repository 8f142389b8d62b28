"""The records a producer holds: those waiting for a batch, and those on their way.

:class:`RecordBuffer` owns the one lock (a condition) that ``send()``, ``flush()`` and the background thread
meet at: it queues user records, counts the bytes held until each record's future is settled (the
back-pressure of ``max_buffered_bytes``), wakes the thread when a batch is due (``linger_ms`` passed, a batch
is full, a flush or close asked for it), and lets ``flush()`` wait until nothing is outstanding.
"""

from __future__ import annotations

import threading
import time
from collections import deque

__all__ = ["BufferFullError", "ProducerClosedError", "RecordBuffer"]


class BufferFullError(RuntimeError):
    """``send(..., block=False)`` found ``max_buffered_bytes`` held: the record was not taken."""


class ProducerClosedError(RuntimeError):
    """The producer is closed: it takes no more records."""


class RecordBuffer:
    """Queued user records, held bytes and the wake-ups of the background thread.

    Parameters
    ----------
    max_buffered_bytes : int
        Most bytes (data plus key) of records taken and not yet settled; ``put`` waits (or refuses) beyond.
        A record bigger than the whole budget is taken when nothing else is held.
    linger_s : float
        How long the oldest queued record waits for company before its batch is due.
    batch_records : int or None
        Queued records that make a batch due at once (None: only bytes and time count).
    batch_bytes : int
        Queued bytes that make a batch due at once.
    """

    def __init__(self, max_buffered_bytes: int, linger_s: float, batch_records: int | None, batch_bytes: int):
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque = deque()
        self._queued_bytes = 0
        self._held_bytes = 0
        self._outstanding = 0
        self._urgent = 0
        self._closed = False
        self._abandoned = False
        self._kicked = False
        self._next_seq = 0
        self.max_buffered_bytes = max_buffered_bytes
        self.linger_s = linger_s
        self.batch_records = batch_records if batch_records is not None else float("inf")
        self.batch_bytes = batch_bytes

    # -- the callers' side --------------------------------------------------------------------

    def put(self, record, *, block: bool = True, timeout: float | None = None) -> None:
        """Queue ``record`` (a :class:`~shardstream.producing.records.UserRecord`), numbering it in queue order.

        Parameters
        ----------
        record : UserRecord
        block : bool
            Wait for room when ``max_buffered_bytes`` is held (else raise at once).
        timeout : float, optional
            Longest wait for room, in seconds (None: no limit).

        Raises
        ------
        BufferFullError
            No room (``block=False``, or ``timeout`` passed).
        ProducerClosedError
            The producer is closed (or closed while waiting).
        """
        size = record.size
        with self._cond:
            if self._closed:
                raise ProducerClosedError("send() after close(): the producer takes no more records")
            if self._held_bytes and self._held_bytes + size > self.max_buffered_bytes:
                if not block:
                    raise BufferFullError(self._full_message(size))
                deadline = None if timeout is None else time.monotonic() + timeout
                while self._held_bytes and self._held_bytes + size > self.max_buffered_bytes:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise BufferFullError(self._full_message(size))
                    self._cond.wait(left)
                    if self._closed:
                        raise ProducerClosedError("the producer was closed while send() waited for room")
            record.seq = self._next_seq
            self._next_seq += 1
            queue = self._queue
            queue.append(record)
            before = self._queued_bytes
            self._queued_bytes = before + size
            self._held_bytes += size
            self._outstanding += 1
            # wake the thread only when this record changes what it waits for: the first record (a linger
            # deadline now exists) or the one that makes a batch due; later records add nothing it must see
            n = len(queue)
            if n == 1 or n == self.batch_records or (before < self.batch_bytes <= self._queued_bytes):
                self._cond.notify_all()

    def _full_message(self, size: int) -> str:
        return (
            f"the producer holds {self._held_bytes} bytes of unsent records: {size} more would exceed "
            f"max_buffered_bytes={self.max_buffered_bytes}"
        )

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Send what is queued now (no lingering) and wait until no record is outstanding.

        Parameters
        ----------
        timeout : float, optional
            Longest wait in seconds (None: no limit).

        Returns
        -------
        bool
            Whether nothing was outstanding by the end (every future settled).
        """
        with self._cond:
            self._urgent += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._outstanding == 0, timeout)
            finally:
                self._urgent -= 1

    def close(self) -> None:
        """Take no more records; what is held is still sent (the thread stops once nothing is outstanding)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def abandon(self) -> None:
        """Stop sending: the thread fails what is still held and stops."""
        with self._cond:
            self._closed = self._abandoned = True
            self._cond.notify_all()

    def kick(self) -> None:
        """Wake the thread from :meth:`take` now (a call it made has been answered)."""
        with self._cond:
            self._kicked = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` (or :meth:`abandon`) was called."""
        return self._closed

    @property
    def abandoned(self) -> bool:
        """Whether :meth:`abandon` was called."""
        return self._abandoned

    def snapshot(self) -> dict:
        """Records queued and outstanding, bytes queued and held, now."""
        with self._cond:
            return {
                "records_queued": len(self._queue),
                "records_outstanding": self._outstanding,
                "bytes_queued": self._queued_bytes,
                "bytes_buffered": self._held_bytes,
            }

    # -- the background thread's side ---------------------------------------------------------

    def take(self, wake_at: float | None, *, wait: bool = True, busy: bool = False) -> list | None:
        """The queued records once a batch is due: the thread's wait.

        Parameters
        ----------
        wake_at : float, optional
            A ``time.monotonic`` time to return by even with nothing due (a retry is due then).
        wait : bool
            False: return at once (the records if a batch is due, else an empty list).
        busy : bool
            The thread still has calls out: never answer None, wait for :meth:`kick` instead.

        Returns
        -------
        list of UserRecord or None
            The records taken (empty: woken for ``wake_at`` or by :meth:`kick`, or nothing due with
            ``wait=False``); None when the buffer is closed (or abandoned) and empty and there is nothing to
            wait for.
        """
        with self._cond:
            while True:
                queue = self._queue
                if self._abandoned and not busy:
                    return self._drain() if queue else None
                now = time.monotonic()
                deadline = None
                if queue:
                    if (
                        self._closed
                        or self._urgent
                        or len(queue) >= self.batch_records
                        or self._queued_bytes >= self.batch_bytes
                        or queue[0].sent_at + self.linger_s <= now
                    ):
                        self._kicked = False
                        return self._drain()
                    deadline = queue[0].sent_at + self.linger_s
                elif self._closed and wake_at is None and wait and not busy:
                    return None
                if self._kicked or not wait or (wake_at is not None and wake_at <= now):
                    self._kicked = False
                    return []
                if wake_at is not None:
                    deadline = wake_at if deadline is None else min(deadline, wake_at)
                self._cond.wait(None if deadline is None else deadline - now)

    def _drain(self) -> list:
        records = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return records

    def release(self, records) -> None:
        """``records`` are settled (sent or failed): their bytes and counts are free again.

        Parameters
        ----------
        records : list of UserRecord
        """
        nbytes = sum(r.size for r in records)
        with self._cond:
            self._held_bytes -= nbytes
            self._outstanding -= len(records)
            self._cond.notify_all()
