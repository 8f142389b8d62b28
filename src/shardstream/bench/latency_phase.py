"""The latency phase of ``shardstream bench``: records put one at a time at a moderate rate, timed to their readers.

On a fresh stream, a :class:`~shardstream.bench.readers.PollingReader` and
(unless turned off) a SubscribeToShard subscriber per shard start reading;
once all are live, ``latency_samples`` stamped records are put with
``put_record``, one every ``latency_interval_s`` (not under saturation: the
time measured is the engine's, not a queue's), and each record's put-to-read
time is kept per path.
"""

from __future__ import annotations

import time

import numpy as np

from .latency import LatencyRecorder, latency_stats
from .readers import EmbeddedSubscriber, PollingReader, RemoteSubscriber
from .workload import Workload, stamp

__all__ = ["LatencyPhase"]

#: Seconds the readers get to start, and to deliver the last samples after the last put.
_READY_TIMEOUT_S = 30.0
_DRAIN_TIMEOUT_S = 10.0


def _first_line(error: BaseException) -> str:
    """``error`` as one short line (an endpoint's HTML error page cut down)."""
    text = f"{type(error).__name__}: {error}".strip().splitlines()[0]
    return text if len(text) <= 200 else text[:197] + "..."


class LatencyPhase:
    """Paced puts on ``stream`` and the readers timing them; run once by :meth:`run`.

    Parameters
    ----------
    target : Target
        Its engine registers the consumer and (embedded) serves the subscriptions.
    stream : Stream or RemoteStream
        A fresh, empty stream.
    workload : Workload
    progress : RichProgress or NoProgress
    """

    def __init__(self, target, stream, workload: Workload, progress):
        self._target = target
        self._stream = stream
        self._workload = workload
        self._progress = progress
        paths = ["poll", "subscribe"] if workload.subscribe else ["poll"]
        self.recorder = LatencyRecorder(paths)

    def _subscriber(self, shard_ids: list[str]):
        engine = self._target.engine
        stream_arn = self._stream.describe_summary()["StreamDescriptionSummary"]["StreamARN"]
        consumer = engine.register_stream_consumer(stream_arn, "shardstream-bench")["Consumer"]
        arn = consumer["ConsumerARN"]
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while engine.describe_stream_consumer(consumer_arn=arn)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer {arn} not ACTIVE after {_READY_TIMEOUT_S} s")
            time.sleep(0.1)
        if self._target.embedded:
            return EmbeddedSubscriber(engine, arn, shard_ids, self.recorder)
        return RemoteSubscriber(engine.client, arn, shard_ids, self.recorder)

    def run(self) -> dict:
        """Put the samples and time them; the phase's results.

        Returns
        -------
        dict
            ``samples``, ``interval_ms``, ``put_rate_per_s`` (achieved),
            ``saturated`` (whether the putter fell below 90 % of the pace asked for),
            ``put_call_us`` (p50/p99 of the put_record calls), ``poll``
            (latency stats plus the reader's ``getrecords_per_s``, ``throttled``
            calls and ``poll_interval_ms``) and ``subscribe`` (latency stats).

        Raises
        ------
        TimeoutError
            A reader did not start.
        BaseException
            A reader's error.
        """
        w = self._workload
        shard_ids = [s["ShardId"] for s in self._stream.list_shards()]
        poller = PollingReader(self._stream, shard_ids, self.recorder, w.poll_interval_s)
        readers = [poller]
        if w.subscribe:
            readers.append(self._subscriber(shard_ids))
        for reader in readers:
            reader.start()
        unavailable = {}
        try:
            for reader in list(readers):
                if not reader.ready.wait(_READY_TIMEOUT_S):
                    raise TimeoutError(f"a {type(reader).__name__} did not start within {_READY_TIMEOUT_S} s")
                if reader.error is not None:
                    if reader is poller:
                        raise reader.error
                    # an endpoint without SubscribeToShard (moto, ...): time the polling reader alone
                    unavailable["subscribe"] = _first_line(reader.error)
                    reader.stop()
                    readers.remove(reader)
                    self.recorder.drop("subscribe")
            put_s, calls_ns = self._put_samples()
            self.recorder.wait_for(w.latency_samples, _DRAIN_TIMEOUT_S)
        finally:
            for reader in readers:
                reader.stop()
        for reader in readers:
            if reader.error is not None:
                raise reader.error
        calls_us = calls_ns / 1e3
        rate = w.latency_samples / max(put_s, 1e-9)
        result = {
            "samples": w.latency_samples,
            "interval_ms": w.latency_interval_s * 1e3,
            "put_rate_per_s": rate,
            # the putter could not keep the pace: the samples were taken at its saturation rate
            "saturated": w.latency_interval_s > 0 and rate < 0.9 / w.latency_interval_s,
            "put_call_us": {
                "p50": float(np.percentile(calls_us, 50)),
                "p99": float(np.percentile(calls_us, 99)),
            },
        }
        for path in self.recorder.paths:
            result[path] = latency_stats(self.recorder.latencies_ns(path), w.latency_samples)
        for path, error in unavailable.items():
            result[path] = {**latency_stats(np.zeros(0, np.int64), w.latency_samples), "error": error}
        result["poll"]["getrecords_per_s"] = poller.calls / max(poller.seconds, 1e-9)
        result["poll"]["throttled"] = poller.throttled
        result["poll"]["poll_interval_ms"] = w.poll_interval_s * 1e3
        return result

    def latencies_us(self) -> dict[str, list[float]]:
        """Every sample's latency per path, in microseconds (for the plot).

        Returns
        -------
        dict of str to list of float
        """
        return {path: (self.recorder.latencies_ns(path) / 1e3).tolist() for path in self.recorder.paths}

    def _put_samples(self) -> tuple[float, np.ndarray]:
        """Put the stamped records at the workload's pace; (seconds taken, each put call's ns)."""
        w, stream, clock = self._workload, self._stream, time.perf_counter_ns
        bar = self._progress.task("latency samples", w.latency_samples)
        calls = np.zeros(w.latency_samples, dtype=np.int64)
        interval_ns = int(w.latency_interval_s * 1e9)
        began = clock()
        for i in range(w.latency_samples):
            due = began + i * interval_ns
            wait = due - clock()
            if wait > 0:
                time.sleep(wait / 1e9)
            sent = clock()
            stream.put_record(stamp(i, sent, w.record_size), f"lat-{i}")
            calls[i] = clock() - sent
            self._progress.advance(bar)
        return (clock() - began) / 1e9, calls
