"""Once a second, the core's cumulative counters become per-second metrics.

The shard rings count every record and byte they append (``ShardLog.tail``,
``ShardLog.appended_bytes``) as part of the append itself, so the write paths
pay nothing for ``IncomingRecords`` and ``IncomingBytes``: a
:class:`MetricSampler` reads the counters once a second and records what
moved since its last look, per stream (dimension ``StreamName``) and, for the
metrics a stream's enhanced monitoring turns on, per shard (``StreamName``,
``ShardId``).  It also records each queue's state (namespace ``shardstream``,
dimension ``QueueName``): records in flight, dead letters; and each durable
stream's flushes (``Flushes``, ``Fsyncs``, ``FlushedRecords``, ``FlushLatency``
with percentiles; dimension ``StreamName``).

:meth:`MetricSampler.sample` is one look; after :meth:`MetricSampler.start`
one daemon thread per process looks at every started sampler each second
(engines start theirs with their first stream or alarm; tests on an injected
clock call :meth:`~MetricSampler.sample` themselves).  After each look it calls
what :meth:`MetricSampler.after_each` was given (the engine's alarm
evaluation).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from .registry import OURS

__all__ = ["MetricSampler"]

_log = logging.getLogger(__name__)


class MetricSampler:
    """Turns cumulative counters into per-second metrics (see the module's documentation).

    Parameters
    ----------
    catalog : Catalog
        The engine's streams (and its ``queues`` registry).
    metrics : MetricRegistry
        Where the values go.
    """

    def __init__(self, catalog, metrics):
        self._catalog = weakref.ref(catalog)
        self.metrics = metrics
        self._lock = threading.Lock()  # one look at a time; guards _last
        self._last: dict[tuple, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._after: list = []  # called after each look (set up before the first)

    def watch(self, stream) -> None:
        """Take ``stream``'s counters as they are now: what it appends from here on is counted.

        Parameters
        ----------
        stream : Stream
        """
        with self._lock:
            for shard, log in zip(stream.shards, stream.logs):
                self._last[(stream.name, stream.incarnation, shard.index)] = (log.tail, log.appended_bytes)

    def after_each(self, callback) -> None:
        """Call ``callback()`` after each look (the engine's alarm evaluation), metrics on or off.

        Parameters
        ----------
        callback : callable
        """
        self._after.append(callback)

    def sample(self) -> None:
        """One look: record what every live stream's shards appended since the last look, and queue states."""
        catalog = self._catalog()
        if catalog is None:
            return
        if self.metrics.enabled:
            self._look(catalog)
        for callback in self._after:
            callback()

    def _look(self, catalog) -> None:
        record = self.metrics.record
        with self._lock:
            seen = set()
            for stream in catalog.live():
                dims = {"StreamName": stream.name}
                per_shard = set(stream.settings.shard_level_metrics)
                records = nbytes = 0
                for shard, log in zip(stream.shards, stream.logs):
                    key = (stream.name, stream.incarnation, shard.index)
                    seen.add(key)
                    tail, appended = log.tail, log.appended_bytes
                    before_tail, before_bytes = self._last.get(key, (log.head, 0))  # a shard made since: all of it
                    self._last[key] = (tail, appended)
                    d_records, d_bytes = max(0, tail - before_tail), max(0, appended - before_bytes)
                    records += d_records
                    nbytes += d_bytes
                    if per_shard and (d_records or d_bytes):
                        shard_dims = {"StreamName": stream.name, "ShardId": shard.shard_id}
                        if "IncomingRecords" in per_shard:
                            record("IncomingRecords", shard_dims, d_records, unit="Count")
                        if "IncomingBytes" in per_shard:
                            record("IncomingBytes", shard_dims, d_bytes, unit="Bytes")
                record("IncomingRecords", dims, records, unit="Count")
                record("IncomingBytes", dims, nbytes, unit="Bytes")
                store = getattr(stream, "store", None)
                if store is not None:
                    self._sample_store(stream, store.flush_stats)
            seen.update(("store", s.name, s.incarnation) for s in catalog.live())
            for key in set(self._last) - seen:  # deleted streams
                del self._last[key]
            self.metrics.sample_sources()
            self.metrics.flush_meters()  # the past second's calls into their series, off the callers' path
            queues = getattr(catalog, "queues", None)
            for queue in queues.all() if queues is not None else ():
                in_flight, dead = queue.counts()
                dims = {"QueueName": queue.name}
                record("QueueRecordsInFlight", dims, in_flight, unit="Count", namespace=OURS)
                record("QueueDeadLetterRecords", dims, dead, unit="Count", namespace=OURS)

    def _sample_store(self, stream, stats) -> None:
        """A durable stream's flushes since the last look (namespace ``shardstream``)."""
        key = ("store", stream.name, stream.incarnation)
        totals = (stats.flushes, stats.syncs, stats.records)
        before = self._last.get(key, (0, 0, 0))
        self._last[key] = totals
        dims = {"StreamName": stream.name}
        record = self.metrics.record
        for name, now, then in zip(("Flushes", "Fsyncs", "FlushedRecords"), totals, before):
            record(name, dims, max(0, now - then), unit="Count", namespace=OURS)
        durations = stats.take_durations()
        if durations:
            self.metrics.record_values("FlushLatency", dims, durations, unit="Milliseconds", namespace=OURS)

    # -- the thread ---------------------------------------------------------------------------

    def start(self) -> None:
        """Be looked at every second by the process's sampling thread (idempotent; never after :meth:`stop`)."""
        if not self._stop.is_set():
            _Ticker.shared().add(self)

    def stop(self) -> None:
        """Stop being sampled (the engine's close)."""
        self._stop.set()
        _Ticker.shared().discard(self)


class _Ticker:
    """One daemon thread per process that samples every started :class:`MetricSampler` each second.

    Samplers are held weakly: an engine dropped without being closed stops
    being sampled once it is collected.  The thread ends when no sampler is
    left, and the next :meth:`add` starts one again.  A sampler whose look
    raises is logged once, and again only after a look that worked.
    """

    _instance: _Ticker | None = None
    _instance_lock = threading.Lock()

    def __init__(self, interval_s: float = 1.0):
        self.interval_s = interval_s
        self._samplers: weakref.WeakSet = weakref.WeakSet()
        self._failing: weakref.WeakSet = weakref.WeakSet()  # samplers whose last look raised (only this thread's)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @classmethod
    def shared(cls) -> _Ticker:
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def add(self, sampler: MetricSampler) -> None:
        with self._lock:
            self._samplers.add(sampler)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="shardstream-metrics", daemon=True)
                self._thread.start()

    def discard(self, sampler: MetricSampler) -> None:
        with self._lock:
            self._samplers.discard(sampler)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_s)
            with self._lock:
                samplers = list(self._samplers)
                if not samplers:  # nobody to sample: end; the next add() starts a thread again
                    self._thread = None
                    return
            for sampler in samplers:
                try:
                    sampler.sample()
                except Exception:  # keep sampling; report once until it works again, not every second
                    if sampler not in self._failing:
                        self._failing.add(sampler)
                        _log.exception("sampling metrics failed (reported once until sampling works again)")
                else:
                    self._failing.discard(sampler)
            del samplers
