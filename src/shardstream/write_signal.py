"""A stream's write signal: readers waiting for its next write are woken by the write itself.

:class:`WriteSignal` is a part of :class:`~shardstream.Stream` (``stream.writes``).
While at least one reader watches (:meth:`WriteSignal.watching`), the native
write paths call :meth:`WriteSignal.notify` after every write (the core's
``write_signal`` hook); with no reader watching the hook is None and writes
pay nothing.  A reader takes the :attr:`~WriteSignal.generation`, looks for
records, and if it found none waits for the generation to change
(:meth:`WriteSignal.wait`): a write between the look and the wait is not
missed.  Queue long polls (:mod:`shardstream.queue`) wait on it.
"""

from __future__ import annotations

import contextlib
import threading

__all__ = ["WriteSignal"]


class WriteSignal:
    """Wakes the readers of one stream that wait for its next write.

    Parameters
    ----------
    stream : Stream
        Its ``write_signal`` hook is set while readers watch.
    """

    def __init__(self, stream):
        self._stream = stream
        self._changed = threading.Condition()
        self._generation = 0
        self._watchers = 0
        self._blocked = 0

    @property
    def generation(self) -> int:
        """How many times the signal fired (writes, and :meth:`notify` calls by others) while watched."""
        return self._generation

    @property
    def waiting(self) -> int:
        """How many readers are blocked in :meth:`wait` right now."""
        return self._blocked

    def notify(self) -> None:
        """Wake every waiting reader (the write paths call it; so may anything that makes records visible).

        Cheap when nobody is blocked: the generation moves without the lock.
        A reader counts itself blocked (under the lock) before it checks the
        generation, so a write either shows it the new generation or finds it
        counted and wakes it.
        """
        self._generation += 1
        if self._blocked:
            with self._changed:
                self._changed.notify_all()

    @contextlib.contextmanager
    def watching(self):
        """Within the block, every write of the stream fires the signal."""
        with self._changed:
            self._watchers += 1
            self._stream.write_signal = self.notify
        try:
            yield self
        finally:
            with self._changed:
                self._watchers -= 1
                if not self._watchers:
                    self._stream.write_signal = None

    def wait(self, generation: int, timeout: float) -> bool:
        """Wait until the signal fires after ``generation`` was read, or ``timeout`` seconds pass.

        Parameters
        ----------
        generation : int
            :attr:`generation` as read before looking for records.
        timeout : float

        Returns
        -------
        bool
            Whether it fired.
        """
        with self._changed:
            self._blocked += 1
            try:
                return self._changed.wait_for(lambda: self._generation != generation, timeout)
            finally:
                self._blocked -= 1
