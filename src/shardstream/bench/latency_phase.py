"""The latency phase of ``shardstream bench``: records put one at a time at a moderate rate, timed to their readers.

One read path at a time (so that one reader does not slow the other down),
first a :class:`~shardstream.bench.readers.PollingReader`, then (unless
turned off) a SubscribeToShard subscriber per shard start reading the stream
from LATEST (:class:`~shardstream.bench.reader_set.ReaderSet`; for an engine
behind a URL in a process of their own,
:class:`~shardstream.bench.reader_process.ReaderProcess`); once they are live,
``latency_samples`` stamped records are put with ``put_record``, one every
``latency_interval_s`` (not under saturation: the time measured is the
engine's, not a queue's), and each record's put-to-read time is kept.
"""

from __future__ import annotations

import time

import numpy as np

from .async_round import PATH as ASYNC_PATH
from .async_round import AsyncRound
from .floor import round_trip_ns, thread_wake_ns
from .latency import latency_stats
from .reader_process import ReaderProcess
from .reader_set import READY_TIMEOUT_S, ReaderSet
from .workload import Workload, stamp

__all__ = ["LatencyPhase"]

#: Seconds the readers get to deliver the last samples after the last put.
_DRAIN_TIMEOUT_S = 10.0


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
        self._latencies_ns: dict[str, list[int]] = {}

    def _consumer(self) -> str:
        """Register the benchmark's enhanced fan-out consumer and wait until it is ACTIVE; its ARN."""
        engine = self._target.engine
        stream_arn = self._stream.describe_summary()["StreamDescriptionSummary"]["StreamARN"]
        arn = engine.register_stream_consumer(stream_arn, "shardstream-bench")["Consumer"]["ConsumerARN"]
        deadline = time.monotonic() + READY_TIMEOUT_S
        while engine.describe_stream_consumer(consumer_arn=arn)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer {arn} not ACTIVE after {READY_TIMEOUT_S} s")
            time.sleep(0.1)
        return arn

    def run(self) -> dict:
        """Put the samples and time them; the phase's results.

        Returns
        -------
        dict
            ``samples``, ``interval_ms``, ``put_rate_per_s`` (achieved),
            ``saturated`` (whether the putter fell below 90 % of the pace asked for),
            ``put_call_us`` (p50/p99 of the put_record calls), ``readers``
            (``in-process`` or ``child process``), ``poll`` (latency stats plus
            the reader's ``getrecords_per_s``, ``throttled`` calls and
            ``poll_interval_ms``) and ``subscribe`` (latency stats; no samples
            and an ``error`` when the endpoint refused SubscribeToShard).

        Raises
        ------
        TimeoutError
            A reader did not start.
        BaseException
            A reader's error.
        """
        w = self._workload
        shard_ids = [s["ShardId"] for s in self._stream.list_shards()]
        consumer_arn = self._consumer() if w.subscribe else None
        result = {
            "samples": w.latency_samples,
            "interval_ms": w.latency_interval_s * 1e3,
            "readers": "in-process" if self._target.embedded else "child process",
        }
        rates, calls = [], []
        for path in ["poll", "subscribe"] if w.subscribe else ["poll"]:
            outcome, put_s, calls_ns, presend_ns = self._round(path, shard_ids, consumer_arn)
            if outcome.unavailable:
                result[path] = {
                    **latency_stats(np.zeros(0, np.int64), w.latency_samples),
                    "error": outcome.unavailable[path],
                }
                continue
            self._latencies_ns[path] = outcome.latencies_ns[path]
            latencies = np.asarray(outcome.latencies_ns[path], dtype=np.int64)
            result[path] = latency_stats(latencies, w.latency_samples)
            if presend_ns is not None:  # from the moment the request left the client
                ids = np.asarray(outcome.sample_ids[path], dtype=np.int64)
                result[path]["from_request_sent"] = latency_stats(latencies - presend_ns[ids], w.latency_samples)
            rates.append(w.latency_samples / max(put_s, 1e-9))
            calls.append(calls_ns)
            if path == "poll":
                result[path]["getrecords_per_s"] = outcome.getrecords_per_s
                result[path]["throttled"] = outcome.throttled
                result[path]["poll_interval_ms"] = w.poll_interval_s * 1e3
        if w.subscribe and self._target.embedded:
            result[ASYNC_PATH] = self._async_round(shard_ids, consumer_arn)
        result["floor"] = self._floor()
        calls_us = np.concatenate(calls) / 1e3
        result["put_rate_per_s"] = min(rates)
        # the putter could not keep the pace: the samples were taken at its saturation rate
        result["saturated"] = w.latency_interval_s > 0 and min(rates) < 0.9 / w.latency_interval_s
        result["put_call_us"] = {"p50": float(np.percentile(calls_us, 50)), "p99": float(np.percentile(calls_us, 99))}
        return result

    def _async_round(self, shard_ids: list[str], consumer_arn: str) -> dict:
        """The embedded asyncio path (:mod:`.async_round`): putter and subscribers on one event loop; its stats."""
        w = self._workload
        bar = self._progress.task(f"latency: {ASYNC_PATH}", 1)
        rounds = AsyncRound(self._target.engine, self._stream, shard_ids, consumer_arn, w)
        rounds.run(_DRAIN_TIMEOUT_S)
        self._progress.advance(bar)
        _, latencies = rounds.recorder.samples(ASYNC_PATH)
        self._latencies_ns[ASYNC_PATH] = latencies.tolist()
        return latency_stats(latencies, w.latency_samples)

    def _floor(self) -> dict | None:
        """The hand-over every read path rests on, timed alone at the same pace (:mod:`.floor`); None if unknown."""
        w = self._workload
        if self._target.embedded:
            what, ns = "thread wake-up", thread_wake_ns(w.latency_samples, w.latency_interval_s)
        elif self._target.kind == "server":
            what, ns = "HTTP round trip", round_trip_ns(self._target.url, w.latency_samples, w.latency_interval_s)
        else:  # a foreign endpoint: no cheap request known to be free of its own work
            return None
        return {"what": what, **latency_stats(ns, w.latency_samples)}

    def _round(self, path: str, shard_ids: list[str], consumer_arn: str | None):
        """The samples put and read on one path: (ReadOutcome, seconds putting, each put call's ns, presend ns)."""
        w = self._workload
        if self._target.embedded:
            readers = ReaderSet(self._target.engine, self._stream, shard_ids, path, consumer_arn, w.poll_interval_s)
        else:
            readers = ReaderProcess(
                self._target.url, self._stream.name, shard_ids, path, consumer_arn, w.poll_interval_s
            )
        readers.start()
        try:
            if readers.available:
                put_s, calls_ns, presend_ns = self._put_samples(path)
            else:
                put_s, calls_ns, presend_ns = 0.0, np.zeros(0, np.int64), None
        except BaseException:
            readers.stop()
            raise
        return readers.finish(w.latency_samples, _DRAIN_TIMEOUT_S), put_s, calls_ns, presend_ns

    def latencies_us(self) -> dict[str, list[float]]:
        """Every sample's latency per path, in microseconds (for the plot).

        Returns
        -------
        dict of str to list of float
        """
        return {path: [ns / 1e3 for ns in values] for path, values in self._latencies_ns.items()}

    def _put_samples(self, path: str) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Put the stamped records at the workload's pace for ``path``'s readers.

        Returns (seconds taken, each call's ns, and for an engine behind a URL each call's ns from its
        start until its request left the client: botocore's ``before-send`` event; else None).
        """
        w, stream, clock = self._workload, self._stream, time.perf_counter_ns
        bar = self._progress.task(f"latency: {path}", w.latency_samples)
        calls = np.zeros(w.latency_samples, dtype=np.int64)
        leaving = np.zeros(w.latency_samples, dtype=np.int64)
        current = [0]

        def request_leaves(**_kwargs) -> None:
            leaving[current[0]] = clock()  # (a retry's send overwrites: the last one counts)

        events = None if self._target.embedded else self._target.engine.client.meta.events
        if events is not None:
            events.register("before-send.kinesis.PutRecord", request_leaves)
        interval_ns = int(w.latency_interval_s * 1e9)
        began = clock()
        sent_at = np.zeros(w.latency_samples, dtype=np.int64)
        try:
            for i in range(w.latency_samples):
                due = began + i * interval_ns
                wait = due - clock()
                if wait > 0:
                    time.sleep(wait / 1e9)
                current[0] = i
                sent = sent_at[i] = clock()
                stream.put_record(stamp(i, sent, w.record_size), f"lat-{i}")
                calls[i] = clock() - sent
                self._progress.advance(bar)
        finally:
            if events is not None:
                events.unregister("before-send.kinesis.PutRecord", request_leaves)
        return (clock() - began) / 1e9, calls, None if events is None else leaving - sent_at
