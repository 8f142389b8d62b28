"""A SubscribeToShard event stream (enhanced fan-out): a live feed of one shard's records.

Made by :meth:`ConsumerRegistry.subscribe_to_shard
<shardstream.fanout.ConsumerRegistry.subscribe_to_shard>`; see
:mod:`shardstream.fanout` for the rules it follows.

Records are pushed, not polled for: a subscription with nothing to send
waits for its shard's next write (:class:`~shardstream.shard_wait.ShardWait`
on the stream's write signal, ``stream.writes``) -- a thread with ``wait``, a
coroutine with ``wait_async`` -- so the next write wakes it at once.  It
reads the signal's generation before it looks at the shard and waits on that
generation, so a write between the look and the wait is not missed; only the
writes to its own shard (and the signal's other causes) wake it.  Its own
end (``close``, a take-over, its consumer deregistered, the engine closing)
fires the same signal.  Under the ``sync`` durability policy a record is
readable only once ``fsync``-ed, after its write fired the signal:
``ShardWait`` then has the stream fire it again once the record is durable.
``poll_interval_s`` remains the longest wait between two reads, a safety net for changes that fire nothing (a reshard
closing the shard; ``heartbeat_s`` and the lifetime bound the wait too).
"""

from __future__ import annotations

import asyncio
import time

from .errors import ExpiredIteratorException, KinesisError
from .shard_wait import ShardWait

__all__ = ["MAX_EVENT_RECORDS", "Subscription"]

MAX_EVENT_RECORDS = 10_000


class Subscription:
    """A SubscribeToShard event stream: both an iterator and an async iterator of events.

    Each event is a dict ``{"Records": [...], "ContinuationSequenceNumber": str,
    "MillisBehindLatest": int}`` (records in boto3's GetRecords shape, or the
    JSON wire shape when subscribed with ``wire=True``); the last event of a
    closed shard has ``ContinuationSequenceNumber`` None and ``ChildShards``.
    Iteration ends at the shard's end, after the subscription's lifetime, or
    on :meth:`close`; it raises ResourceInUseException when another
    subscription takes over or the consumer is deregistered, and
    ResourceNotFoundException when the stream is deleted.  Use it as a
    context manager (or call :meth:`close`) to end it early.

    Obtain one from :meth:`Engine.subscribe_to_shard`.

    Parameters
    ----------
    registry : ConsumerRegistry
    consumer : StreamConsumer
    stream : Stream
    shard : ShardInfo
        The subscribed shard.
    iterator : str
        A shard iterator at the starting position.
    position : int
        The starting counter in the shard.
    wire : bool
        Give records in the JSON wire shape.
    started_ms : int
        When the subscription started, ms since the epoch.
    lifetime_s, poll_interval_s, heartbeat_s : float
        See :meth:`Engine.subscribe_to_shard`.
    """

    def __init__(
        self,
        registry,
        consumer,
        stream,
        shard,
        iterator: str,
        position: int,
        *,
        wire: bool,
        started_ms: int,
        lifetime_s: float,
        poll_interval_s: float,
        heartbeat_s: float,
    ):
        self._registry = registry
        self._stream = stream
        self.consumer_arn = consumer.arn
        self.shard_id = shard.shard_id
        self.started_ms = started_ms
        self._shard = shard
        self._iterator = iterator
        self._wire = wire
        self._poll_interval = poll_interval_s
        self._heartbeat = heartbeat_s
        self._deadline = time.monotonic() + lifetime_s
        self._continuation: str | None = self._sequence_number(max(position - 1, 0))
        self._last_event: float | None = None
        self._more = True
        self._error: KinesisError | None = None
        self._done = False
        self._waits = ShardWait(stream, shard.shard_id)

    # -- state -----------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """Neither ended nor taken over, and within its lifetime."""
        return not self._done and self._error is None and time.monotonic() < self._deadline

    @property
    def continuation_sequence_number(self) -> str | None:
        """Where to resume (with AFTER_SEQUENCE_NUMBER); None once the shard's end was delivered."""
        return self._continuation

    def close(self) -> None:
        """End the subscription; iteration stops, without raising a pending error (idempotent)."""
        self._error = None
        self._finish()

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._registry.release(self)
        self._stream.writes.notify()  # wake the iteration if it waits

    def terminate(self, error: KinesisError) -> None:
        """End with ``error``: the iteration raises it next (may be called from another thread).

        Parameters
        ----------
        error : KinesisError
            What the subscriber's iteration raises.
        """
        if not self._done:
            self._error = error
            self._registry.release(self)
        self._stream.writes.notify()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------

    def _sequence_number(self, counter: int) -> str:
        return self._stream.sequence_number(self._shard, counter)

    def _read(self) -> dict:
        reads = self._stream.reads  # the stream's own reads: enhanced fan-out is not throttled
        try:
            return reads.get_records(self._iterator, MAX_EVENT_RECORDS, wire=self._wire, event=True)
        except ExpiredIteratorException:  # only when the engine's clock jumps: start again where we were
            self._iterator = reads.get_shard_iterator(self.shard_id, "AFTER_SEQUENCE_NUMBER", self._continuation)[
                "ShardIterator"
            ]
            return reads.get_records(self._iterator, MAX_EVENT_RECORDS, wire=self._wire, event=True)

    def _event(self, records: list, millis_behind: int) -> dict:
        if self._stream.encrypted:
            for record in records:
                record["EncryptionType"] = self._stream.encryption_type
        self._last_event = time.monotonic()
        return {
            "Records": records,
            "ContinuationSequenceNumber": self._continuation,
            "MillisBehindLatest": millis_behind,
        }

    def poll(self) -> dict | None:
        """Read the shard once: an event if one is due, else None (never waits).

        Raises
        ------
        StopIteration
            The subscription has ended.
        ResourceInUseException, ResourceNotFoundException
            It was taken over, its consumer deregistered, or its stream deleted.
        """
        if self._error is not None:
            error, self._error = self._error, None
            self._finish()
            raise error
        if self._done:
            raise StopIteration
        now = time.monotonic()
        if now >= self._deadline:
            self._finish()
            raise StopIteration
        try:
            resp = self._read()
        except KinesisError:
            self._finish()
            raise
        records = resp["Records"]
        if records:
            self._continuation = records[-1]["SequenceNumber"]
            self._iterator = resp["NextShardIterator"]
            self._more = True
            return self._event(records, resp["MillisBehindLatest"])
        self._more = False
        if resp.get("NextShardIterator") is None:  # past the end of a closed shard
            self._finish()
            self._continuation = None
            self._last_event = now
            return {
                "Records": [],
                "ContinuationSequenceNumber": None,
                "MillisBehindLatest": 0,
                "ChildShards": resp.get("ChildShards", []),
            }
        self._iterator = resp["NextShardIterator"]
        position = self._registry.catalog.iterators.decode(self._iterator, self._registry.now_ms()).position
        self._continuation = max(self._continuation, self._sequence_number(max(position - 1, 0)))
        if self._last_event is None or now - self._last_event >= self._heartbeat:
            return self._event([], resp["MillisBehindLatest"])
        return None

    def _delay(self) -> float:
        """Longest wait before the next read (a write, or the subscription's end, cuts it short)."""
        if self._more or self._done or self._error is not None:
            return 0.0
        now = time.monotonic()
        until_heartbeat = (self._last_event or now) + self._heartbeat - now
        return max(0.0, min(self._poll_interval, until_heartbeat, self._deadline - now))

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> dict:
        waits = self._waits
        with waits.watching():
            while True:
                generation = waits.generation  # before the read: a write after it moves the generation
                event = self.poll()
                if event is not None:
                    return event
                waits.wait(generation, self._delay())

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict:
        waits = self._waits
        waited = False
        with waits.watching():
            while True:
                generation = waits.generation
                try:
                    event = self.poll()
                except StopIteration:
                    raise StopAsyncIteration from None
                if event is not None:
                    if not waited:
                        await asyncio.sleep(0)  # let others run between back-to-back events
                    return event
                await waits.wait_async(generation, self._delay())
                waited = True

    def __repr__(self) -> str:
        state = "live" if self.live else "ended"
        return f"<Subscription {self.consumer_arn} {self.shard_id} {state}>"
