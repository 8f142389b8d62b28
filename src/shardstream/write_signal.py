"""A stream's write signal: readers waiting for its next write are woken by the write itself.

:class:`WriteSignal` is a part of :class:`~shardstream.Stream` (``stream.writes``).
While at least one reader watches (:meth:`WriteSignal.watching`), the native
write paths call :meth:`WriteSignal.notify` after every write (the core's
``write_signal`` hook); with no reader watching the hook is None and writes
pay nothing.  A reader takes the :attr:`~WriteSignal.generation`, looks for
records, and if it found none waits for the generation to change: a write
between the look and the wait is not missed.  Threads wait with
:meth:`WriteSignal.wait`, coroutines with :meth:`WriteSignal.wait_async`
(a write from any thread wakes them on their own event loop).  Queue long
polls (:mod:`shardstream.queue`) and enhanced fan-out subscriptions
(:mod:`shardstream.subscription`) wait on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["WriteSignal"]


def _resolve(future: asyncio.Future, fired: bool) -> None:
    """On the future's loop: end a :meth:`WriteSignal.wait_async` (unless it already ended)."""
    if not future.done():
        future.set_result(fired)


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
        # Readers waiting and not yet woken: threads in wait() (each notify that wakes them starts
        # a new round) and coroutines in wait_async(); _blocked counts both, for notify's cheap check.
        self._threads = 0
        self._round = 0
        self._coroutines: dict = {}  # future -> (its loop, the loop's thread id)
        self._blocked = 0

    @property
    def generation(self) -> int:
        """How many times the signal fired (writes, and :meth:`notify` calls by others) while watched."""
        return self._generation

    @property
    def waiting(self) -> int:
        """How many readers (threads and coroutines) wait for the signal and have not been woken yet."""
        return self._blocked

    def notify(self) -> None:
        """Wake every waiting reader (the write paths call it; so may anything that makes records visible).

        Cheap when nobody waits: the generation moves without the lock.  A
        reader counts itself waiting (under the lock) before it checks the
        generation, so a write either shows it the new generation or finds it
        counted and wakes it.  A woken reader no longer counts, so the writes
        that follow stay cheap until it waits again.  Waiting coroutines are
        woken on their own loop (directly when this runs on that loop's
        thread, else with ``call_soon_threadsafe``).
        """
        self._generation += 1
        if self._blocked:
            with self._changed:
                if self._threads:
                    self._threads = 0
                    self._round += 1
                    self._changed.notify_all()
                coroutines = self._coroutines
                if coroutines:
                    self._coroutines = {}
                self._blocked = 0
            if coroutines:
                self._wake(coroutines)

    @staticmethod
    def _wake(coroutines: dict) -> None:
        here = threading.get_ident()
        for future, (loop, thread) in coroutines.items():
            if thread == here:  # a write made on the waiter's own loop
                _resolve(future, True)
                continue
            try:
                loop.call_soon_threadsafe(_resolve, future, True)
            except RuntimeError:  # its loop is closed: nobody awaits it any more
                pass

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
            self._threads += 1
            self._blocked += 1
            round_ = self._round
            try:
                return self._changed.wait_for(lambda: self._generation != generation, timeout)
            finally:
                if self._round == round_:  # not woken by notify (timed out): no longer waiting
                    self._threads -= 1
                    self._blocked -= 1

    async def wait_async(self, generation: int, timeout: float) -> bool:
        """As :meth:`wait`, for a coroutine: the event loop runs on while it waits.

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
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._changed:
            self._blocked += 1
            if self._generation != generation:
                self._blocked -= 1
                return True
            self._coroutines[future] = (loop, threading.get_ident())
        timer = loop.call_later(max(timeout, 0.0), _resolve, future, False)
        try:
            await future
        finally:
            timer.cancel()
            with self._changed:
                if self._coroutines.pop(future, None) is not None:  # not woken by notify (timeout, cancelled)
                    self._blocked -= 1
        return self._generation != generation
