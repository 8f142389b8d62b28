"""The latency readers of ``shardstream bench``: a GetRecords polling loop and SubscribeToShard subscribers.

Each reader runs in its own thread(s), passes what it reads to a
:class:`~shardstream.bench.latency.LatencyRecorder` with the time the read
returned, sets ``ready`` once it is reading, and ends on :meth:`stop`.

* :class:`PollingReader`: one thread looping GetRecords over every shard,
  pausing ``poll_interval_s`` only after a round in which no shard had
  anything new, and 50 ms after a throttled call (AWS allows 5 GetRecords a
  second per shard).  With 0, an embedded stream's loop sleeps on the
  stream's write signal (``stream.writes``: the next write wakes it), as an
  embedded reader should rather than spin against the writer for the GIL; a
  remote one only yields the GIL (``os.sched_yield``) between rounds.
* :class:`EmbeddedSubscriber`: one thread per shard iterating the embedded
  engine's :meth:`~shardstream.Engine.subscribe_to_shard` feed.
* :class:`RemoteSubscriber`: one thread per shard reading botocore's
  SubscribeToShard event stream (a RemoteEngine has no ``subscribe_to_shard``).
"""

from __future__ import annotations

import abc
import os
import threading
import time

from ..errors import ProvisionedThroughputExceededException

__all__ = ["EmbeddedSubscriber", "PollingReader", "RemoteSubscriber"]

#: Seconds the polling reader waits after a throttled GetRecords.
_THROTTLED_PAUSE_S = 0.05
#: Longest sleep of an embedded polling loop on its stream's write signal (a write ends it at once).
_SIGNAL_WAIT_S = 0.1


class _Reader(abc.ABC):
    """Threads that read until stopped; the first error any of them met."""

    def __init__(self, recorder, path: str, shard_ids: list[str]):
        self._recorder = recorder
        self._path = path
        self._shard_ids = shard_ids
        self._stop = threading.Event()
        self._ready_count = 0
        self._lock = threading.Lock()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._threads: list[threading.Thread] = []

    def _mark_ready(self) -> None:
        with self._lock:
            self._ready_count += 1
            if self._ready_count >= self._parts():
                self.ready.set()

    def _parts(self) -> int:
        return len(self._shard_ids)

    def _guard(self, target, *args) -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: B036 - the run reports it
            if not self._stop.is_set():
                with self._lock:
                    self.error = self.error or exc
                self.ready.set()  # nothing to wait for any more

    def start(self) -> None:
        """Start the reading thread(s)."""
        for args in self._work():
            thread = threading.Thread(target=self._guard, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)

    @abc.abstractmethod
    def _work(self) -> list[tuple]:
        """``(target, *args)`` of each reading thread to start."""

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading and wait (at most ``timeout`` seconds per thread) for the threads to end.

        Parameters
        ----------
        timeout : float
        """
        self._stop.set()
        self._interrupt()
        for thread in self._threads:
            thread.join(timeout)

    def _interrupt(self) -> None:  # noqa: B027 - a hook: most readers have nothing to wake
        """Wake threads blocked in a read (nothing by default)."""


class PollingReader(_Reader):
    """A GetRecords loop over every shard of ``stream``, from LATEST (records put once it is ready).

    Parameters
    ----------
    stream : Stream or RemoteStream
    shard_ids : list of str
    recorder : LatencyRecorder
    poll_interval_s : float
        Pause after a round with nothing new on any shard.
    """

    def __init__(self, stream, shard_ids: list[str], recorder, poll_interval_s: float):
        super().__init__(recorder, "poll", shard_ids)
        self._stream = stream
        self._poll_interval = poll_interval_s
        self.calls = 0
        self.throttled = 0
        self.seconds = 0.0

    def _parts(self) -> int:
        return 1

    def _work(self) -> list[tuple]:
        return [(self._poll,)]

    def _poll(self) -> None:
        signal = getattr(self._stream, "writes", None)  # an embedded stream's write signal
        if signal is None or self._poll_interval > 0:
            pause = _pause(self._poll_interval)
            self._loop(lambda: None, lambda _generation: pause())
            return
        with signal.watching():  # an empty round waits for the next write after the round began
            self._loop(lambda: signal.generation, lambda generation: signal.wait(generation, _SIGNAL_WAIT_S))

    def _interrupt(self) -> None:
        signal = getattr(self._stream, "writes", None)
        if signal is not None:
            signal.notify()  # wake a loop asleep on the signal so that it sees the stop

    def _loop(self, before_round, pause) -> None:
        """Read every shard round after round; after a round with nothing new, ``pause(before_round())``."""
        stream, recorder, clock = self._stream, self._recorder, time.perf_counter_ns
        iterators = [stream.get_shard_iterator(s, "LATEST")["ShardIterator"] for s in self._shard_ids]
        self._mark_ready()
        began, calls = time.perf_counter(), 0
        while not self._stop.is_set():
            mark = before_round()
            empty = True
            for i, iterator in enumerate(iterators):
                try:
                    page = stream.get_records(iterator, 1000)
                except ProvisionedThroughputExceededException:  # a real Kinesis: 5 GetRecords/s a shard
                    self.throttled += 1
                    time.sleep(_THROTTLED_PAUSE_S)
                    continue
                now = clock()
                calls += 1
                iterators[i] = page["NextShardIterator"]
                if page["Records"]:
                    empty = False
                    recorder.arrived("poll", [r["Data"] for r in page["Records"]], now)
            if empty:
                pause(mark)
        self.calls, self.seconds = calls, time.perf_counter() - began


def _pause(seconds: float):
    """What the polling loop calls after an empty round: sleep ``seconds``, or for 0 just let other threads run.

    ``time.sleep(0)`` costs the kernel's timer slack (about 50-80 us on Linux), more than an
    embedded GetRecords; ``os.sched_yield`` releases the GIL (and the CPU) for about a microsecond.
    """
    if seconds > 0 or not hasattr(os, "sched_yield"):
        return lambda: time.sleep(seconds)
    return os.sched_yield


class EmbeddedSubscriber(_Reader):
    """SubscribeToShard on the embedded ``engine``: one thread per shard.

    Parameters
    ----------
    engine : Engine
    consumer_arn : str
        An ACTIVE consumer of the stream.
    shard_ids : list of str
    recorder : LatencyRecorder
    """

    def __init__(self, engine, consumer_arn: str, shard_ids: list[str], recorder):
        super().__init__(recorder, "subscribe", shard_ids)
        self._engine = engine
        self._consumer_arn = consumer_arn
        self._subscriptions: list = []

    def _work(self) -> list[tuple]:
        return [(self._read, shard_id) for shard_id in self._shard_ids]

    def _read(self, shard_id: str) -> None:
        # the engine's own defaults (its poll cadence included): the bench measures what it does
        subscription = self._engine.subscribe_to_shard(self._consumer_arn, shard_id, {"Type": "LATEST"})
        with self._lock:
            self._subscriptions.append(subscription)
        if self._stop.is_set():
            subscription.close()
        self._mark_ready()
        recorder, clock = self._recorder, time.perf_counter_ns
        with subscription:
            for event in subscription:
                now = clock()
                if event["Records"]:
                    recorder.arrived("subscribe", [r["Data"] for r in event["Records"]], now)

    def _interrupt(self) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()


class RemoteSubscriber(_Reader):
    """SubscribeToShard through a botocore ``kinesis`` client: one thread (and connection) per shard.

    Parameters
    ----------
    client : botocore.client.BaseClient
        A ``kinesis`` client (``RemoteEngine.client``).
    consumer_arn : str
    shard_ids : list of str
    recorder : LatencyRecorder
    """

    def __init__(self, client, consumer_arn: str, shard_ids: list[str], recorder):
        super().__init__(recorder, "subscribe", shard_ids)
        self._client = client
        self._consumer_arn = consumer_arn
        self._streams: list = []

    def _work(self) -> list[tuple]:
        return [(self._read, shard_id) for shard_id in self._shard_ids]

    def _read(self, shard_id: str) -> None:
        answer = self._client.subscribe_to_shard(
            ConsumerARN=self._consumer_arn, ShardId=shard_id, StartingPosition={"Type": "LATEST"}
        )
        events = answer["EventStream"]
        with self._lock:
            self._streams.append(events)
        recorder, clock, marked = self._recorder, time.perf_counter_ns, False
        try:
            for event in events:
                now = clock()
                if not marked:  # the first event (a heartbeat at the latest) says the feed is live
                    self._mark_ready()
                    marked = True
                body = event.get("SubscribeToShardEvent")
                if body and body["Records"]:
                    recorder.arrived("subscribe", [r["Data"] for r in body["Records"]], now)
                if self._stop.is_set():
                    break
        finally:
            events.close()

    def _interrupt(self) -> None:
        with self._lock:
            streams = list(self._streams)
        for events in streams:
            try:
                events.close()  # the reading thread's next read fails, which stop() expects
            except Exception:  # noqa: BLE001 - already closed or broken: either way it ends
                pass
