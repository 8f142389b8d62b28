"""A stream's write signal: readers waiting for its next write are woken by the write itself.

:class:`WriteSignal` is a part of :class:`~shardstream.Stream` (``stream.writes``).
While at least one reader watches (:meth:`WriteSignal.watching`), the native
write paths call :meth:`WriteSignal.notify` after every write (the core's
``write_signal`` hook), naming the shard a single-record write went to; with no
reader watching the hook is None and writes pay nothing.  A reader takes the
generation (of every write, or of the writes that concern one shard: a write to
that shard or to an unnamed one), looks for records, and if it found none waits
for that generation to change: a write between the look and the wait is not
missed.  A reader of one shard is woken only by the writes that concern it, so
a subscriber per shard does not wake every other shard's subscriber on each
write.  Threads wait with :meth:`WriteSignal.wait`, coroutines with
:meth:`WriteSignal.wait_async` (a write from any thread wakes them on their own
event loop).  Queue long polls (:mod:`shardstream.queue`) and enhanced fan-out
subscriptions (:mod:`shardstream.subscription`) wait on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading

__all__ = ["WriteSignal"]


def _resolve(future: asyncio.Future, fired: bool) -> None:
    """On the future's loop: end a :meth:`WriteSignal.wait_async` (unless it already ended)."""
    if not future.done():
        future.set_result(fired)


class _Channel:
    """The threads waiting for the writes of one shard (or for every write)."""

    __slots__ = ("condition", "round", "threads")

    def __init__(self, lock: threading.Lock):
        self.condition = threading.Condition(lock)
        self.threads = 0  # waiting and not yet woken; each notify that wakes them starts a new round
        self.round = 0


class WriteSignal:
    """Wakes the readers of one stream that wait for its next write (of any shard, or of theirs).

    Parameters
    ----------
    stream : Stream
        Its ``write_signal`` hook is set while readers watch.
    """

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()
        self._generation = 0
        self._broadcasts = 0  # fires that name no shard: they concern every shard
        self._fires: collections.defaultdict = collections.defaultdict(int)  # shard -> fires naming it
        self._watchers = 0
        self._channels: dict = {}  # shard (None: every write) -> _Channel
        self._coroutines: dict = {}  # future -> (its loop, the loop's thread id, its shard)
        self._blocked = 0  # threads and coroutines waiting and not yet woken (notify's cheap check)

    @property
    def generation(self) -> int:
        """How many times the signal fired (writes, and :meth:`notify` calls by others) while watched."""
        return self._generation

    def generation_of(self, shard=None) -> int:
        """How many times the signal fired for ``shard`` (its writes and the fires naming no shard).

        Parameters
        ----------
        shard : ShardLog, optional
            None: every fire (:attr:`generation`).

        Returns
        -------
        int
        """
        if shard is None:
            return self._generation
        return self._broadcasts + self._fires.get(shard, 0)

    @property
    def waiting(self) -> int:
        """How many readers (threads and coroutines) wait for the signal and have not been woken yet."""
        return self._blocked

    def notify(self, shard=None) -> None:
        """Wake the waiting readers a write concerns (the write paths call it, as may anything making records visible).

        Cheap when nobody waits: the generations move without the lock.  A
        reader counts itself waiting (under the lock) before it checks its
        generation, so a write either shows it the new generation or finds it
        counted and wakes it.  A woken reader no longer counts, so the writes
        that follow stay cheap until it waits again.  Waiting coroutines are
        woken on their own loop (directly when this runs on that loop's
        thread, else with ``call_soon_threadsafe``).

        Parameters
        ----------
        shard : ShardLog, optional
            The one shard written to: readers of other shards sleep on.  None
            (a batch, a reshard, a subscription's end, ...) wakes every reader.
        """
        self._generation += 1
        if shard is None:
            self._broadcasts += 1
        else:
            self._fires[shard] += 1
        if self._blocked:
            woken = self._release(shard)
            if woken:
                self._wake(woken)

    def _release(self, shard) -> dict:
        """Under the lock: wake the threads ``shard``'s write concerns; the coroutines to wake."""
        with self._lock:
            if shard is None:
                channels = list(self._channels.values())
            else:
                channels = [c for c in (self._channels.get(None), self._channels.get(shard)) if c is not None]
            for channel in channels:
                if channel.threads:
                    self._blocked -= channel.threads
                    channel.threads = 0
                    channel.round += 1
                    channel.condition.notify_all()
            coroutines = self._coroutines
            if not coroutines:
                return {}
            if shard is None:
                self._coroutines = {}
                woken = coroutines
            else:
                woken = {f: w for f, w in coroutines.items() if w[2] is None or w[2] is shard}
                for future in woken:
                    del coroutines[future]
            self._blocked -= len(woken)
            return woken

    @staticmethod
    def _wake(coroutines: dict) -> None:
        here = threading.get_ident()
        for future, (loop, thread, _shard) in coroutines.items():
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
        with self._lock:
            self._watchers += 1
            self._stream.write_signal = self.notify
        try:
            yield self
        finally:
            with self._lock:
                self._watchers -= 1
                if not self._watchers:
                    self._stream.write_signal = None

    def wait(self, generation: int, timeout: float, shard=None) -> bool:
        """Wait until the signal fires after ``generation`` was read, or ``timeout`` seconds pass.

        Parameters
        ----------
        generation : int
            :meth:`generation_of` ``shard`` as read before looking for records.
        timeout : float
        shard : ShardLog, optional
            Wait only for the writes that concern this shard; None: for any write.

        Returns
        -------
        bool
            Whether it fired.
        """
        with self._lock:
            channel = self._channels.get(shard)
            if channel is None:
                channel = self._channels[shard] = _Channel(self._lock)
            channel.threads += 1
            self._blocked += 1
            round_ = channel.round
            try:
                return channel.condition.wait_for(lambda: self.generation_of(shard) != generation, timeout)
            finally:
                if channel.round == round_:  # not woken by notify (timed out): no longer waiting
                    channel.threads -= 1
                    self._blocked -= 1

    async def wait_async(self, generation: int, timeout: float, shard=None) -> bool:
        """As :meth:`wait`, for a coroutine: the event loop runs on while it waits.

        Parameters
        ----------
        generation : int
            :meth:`generation_of` ``shard`` as read before looking for records.
        timeout : float
        shard : ShardLog, optional
            Wait only for the writes that concern this shard; None: for any write.

        Returns
        -------
        bool
            Whether it fired.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._blocked += 1  # counted before the check: a write after it finds it counted
            if self.generation_of(shard) != generation:
                self._blocked -= 1
                return True
            self._coroutines[future] = (loop, threading.get_ident(), shard)
        timer = loop.call_later(max(timeout, 0.0), _resolve, future, False)
        try:
            await future
        finally:
            timer.cancel()
            with self._lock:
                if self._coroutines.pop(future, None) is not None:  # not woken by notify (timeout, cancelled)
                    self._blocked -= 1
        return self.generation_of(shard) != generation
