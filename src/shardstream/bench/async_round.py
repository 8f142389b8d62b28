"""The embedded asyncio path of ``shardstream bench``: putter and subscribers on one event loop.

Embedded, a reader in another thread can't hear of a write faster than the
operating system wakes a thread (the floor of :mod:`.floor`).  An application
that puts and consumes on one asyncio loop needs no wake-up at all: the put
resolves the subscriber's wait on the spot, and the subscriber runs as soon as
the putter yields.  :class:`AsyncRound` times that path: a putting coroutine
puts the stamped records at the workload's pace while a SubscribeToShard
subscription per shard is iterated with ``async for`` on the same loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from .latency import LatencyRecorder
from .workload import Workload, stamp

__all__ = ["AsyncRound"]

PATH = "subscribe-asyncio"


class AsyncRound:
    """Stamped puts and SubscribeToShard subscribers on one event loop, run once by :meth:`run`.

    Parameters
    ----------
    engine : Engine
        The embedded engine serving the subscriptions.
    stream : Stream
    shard_ids : list of str
    consumer_arn : str
        An ACTIVE consumer of the stream.
    workload : Workload
    """

    def __init__(self, engine, stream, shard_ids: list[str], consumer_arn: str, workload: Workload):
        self._engine = engine
        self._stream = stream
        self._shard_ids = shard_ids
        self._consumer_arn = consumer_arn
        self._workload = workload
        self.recorder = LatencyRecorder([PATH])

    def run(self, timeout: float) -> None:
        """Put every sample and wait (at most ``timeout`` seconds after the last put) for the subscribers to see it.

        Parameters
        ----------
        timeout : float
        """
        asyncio.run(self._run(timeout))

    async def _run(self, timeout: float) -> None:
        subscriptions = [
            self._engine.subscribe_to_shard(self._consumer_arn, shard_id, {"Type": "LATEST"})
            for shard_id in self._shard_ids
        ]
        for subscription in subscriptions:  # the first event (nothing yet) says the feed is live
            await subscription.__anext__()
        readers = [asyncio.ensure_future(self._read(s)) for s in subscriptions]
        try:
            await self._put()
            samples = self._workload.latency_samples
            await asyncio.wait_for(self._all_seen(samples), timeout)
        except asyncio.TimeoutError:
            pass  # the missing samples are reported as lost
        finally:
            for subscription in subscriptions:
                subscription.close()
            for reader in readers:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await reader

    async def _read(self, subscription) -> None:
        recorder, clock = self.recorder, time.perf_counter_ns
        async for event in subscription:
            now = clock()
            if event["Records"]:
                recorder.arrived(PATH, [r["Data"] for r in event["Records"]], now)

    async def _put(self) -> None:
        w, stream, clock = self._workload, self._stream, time.perf_counter_ns
        interval_ns = int(w.latency_interval_s * 1e9)
        began = clock()
        for i in range(w.latency_samples):
            wait = began + i * interval_ns - clock()
            await asyncio.sleep(max(wait, 0) / 1e9)  # (0: still yields, so the subscribers run)
            stream.put_record(stamp(i, clock(), w.record_size), f"lat-{i}")
        await asyncio.sleep(0)

    async def _all_seen(self, samples: int) -> None:
        while len(self.recorder.samples(PATH)[0]) < samples:
            await asyncio.sleep(0.001)
