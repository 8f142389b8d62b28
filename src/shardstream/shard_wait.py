"""How an idle reader of one shard of an embedded stream waits for its next record.

:class:`ShardWait` puts together what that takes: the stream's write signal
(:mod:`shardstream.write_signal`), narrowed to the shard, so that only a write
to this shard (or one naming no shard) wakes the reader; and, on a durable
stream under the ``sync`` policy, where a record is readable only once
``fsync``-ed (after its write fired the signal), a request to the stream to
fire the signal again once the records appended so far are durable.

Enhanced fan-out subscriptions (:mod:`shardstream.subscription`) and idle
consumer-group workers (:mod:`shardstream.consumer.worker`) wait with it.
"""

from __future__ import annotations

__all__ = ["ShardWait"]


class ShardWait:
    """Waits for the next write to one shard of ``stream`` (and, under ``sync``, for it to be readable).

    Use: within :meth:`watching`, read :attr:`generation`, look for records,
    and if there were none :meth:`wait` (or :meth:`wait_async`) on that
    generation: a write between the look and the wait is not missed.

    Parameters
    ----------
    stream : Stream
        An embedded stream (it has ``writes``).
    shard_id : str
    """

    def __init__(self, stream, shard_id: str):
        self._stream = stream
        self._signal = stream.writes
        self._log = stream.shard_log(shard_id)
        self._publishing = False  # a commit_async callback is due

    def watching(self):
        """A context manager: within it the stream's writes fire the signal."""
        return self._signal.watching()

    @property
    def generation(self) -> int:
        """The signal's generation for the shard, to be read before looking for records."""
        return self._signal.generation_of(self._log)

    def wait(self, generation: int, timeout: float) -> bool:
        """Block until the shard is written to (or has become readable) after ``generation``, or ``timeout`` seconds.

        Parameters
        ----------
        generation : int
            :attr:`generation` as read before the look.
        timeout : float

        Returns
        -------
        bool
            Whether the signal fired.
        """
        self._when_readable()
        return self._signal.wait(generation, timeout, self._log)

    async def wait_async(self, generation: int, timeout: float) -> bool:
        """As :meth:`wait`, for a coroutine: the event loop runs on while it waits.

        Parameters
        ----------
        generation : int
        timeout : float

        Returns
        -------
        bool
        """
        self._when_readable()
        return await self._signal.wait_async(generation, timeout, self._log)

    def _when_readable(self) -> None:
        """If the shard holds records not yet readable (``sync``: not yet ``fsync``-ed), fire the signal when they are.

        Their write fired the signal before they could be read; the stream's
        group commit calls back once they are durable (or discarded).
        """
        log = self._log
        if self._publishing or log.tail <= log.visible_limit:
            return
        self._publishing = True
        self._stream.commit_async(self._published)

    def _published(self, _exc) -> None:
        """The commit covering the unreadable records ended (any thread): look again."""
        self._publishing = False
        self._signal.notify(self._log)
