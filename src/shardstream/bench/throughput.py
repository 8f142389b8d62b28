"""The throughput phase of ``shardstream bench``: producers putting, consumers reading every shard.

Producer threads put pre-built batches (:class:`~shardstream.bench.workload.Payloads`)
with ``put_batch`` (PutRecords remotely), or ``put_record`` for ``batch=1``,
until the workload's records are put or its duration is up.  Consumer threads
share the shards and read them from TRIM_HORIZON with ``get_record_batch``
while the producers write, until every record put has been read.  A
:class:`Tally` counts both sides; a sampler keeps a timeline of the counts for
the plot.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow.compute as pc

from ..errors import ProvisionedThroughputExceededException
from .workload import Payloads, Workload

__all__ = ["Tally", "ThroughputPhase"]

_TIMELINE_EVERY_S = 0.05
_PAGE = 10_000


class Tally:
    """Records and bytes put and read so far, and the timeline of those counts (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.put_records = 0
        self.put_bytes = 0
        self.got_records = 0
        self.got_bytes = 0
        self.timeline: list[tuple[float, int, int]] = []

    def put(self, records: int, nbytes: int) -> None:
        """Count ``records`` records of ``nbytes`` bytes put.

        Parameters
        ----------
        records, nbytes : int
        """
        with self._lock:
            self.put_records += records
            self.put_bytes += nbytes

    def got(self, records: int, nbytes: int) -> None:
        """Count ``records`` records of ``nbytes`` bytes read.

        Parameters
        ----------
        records, nbytes : int
        """
        with self._lock:
            self.got_records += records
            self.got_bytes += nbytes

    def sample(self, t: float) -> None:
        """Add ``(t, records put, records read)`` to the timeline.

        Parameters
        ----------
        t : float
            Seconds since the phase began.
        """
        with self._lock:
            self.timeline.append((t, self.put_records, self.got_records))

    def caught_up(self) -> bool:
        """Whether every record put so far has been read."""
        with self._lock:
            return self.got_records >= self.put_records


class ThroughputPhase:
    """Producers and consumers on one stream, run once by :meth:`run`.

    Parameters
    ----------
    stream : Stream or RemoteStream
        The benchmark stream (empty).
    workload : Workload
    progress : RichProgress or NoProgress
    """

    def __init__(self, stream, workload: Workload, progress):
        self._stream = stream
        self._workload = workload
        self._progress = progress
        self._payloads = Payloads(workload)
        self.tally = Tally()
        self._claim_lock = threading.Lock()
        self._claimed = 0
        self._producers_done = threading.Event()
        self._stop = threading.Event()
        self._errors: list[BaseException] = []
        self._put_call_s: list[list[float]] = []
        self._get_calls = 0
        self._get_throttled = 0
        self._started = 0.0
        self._put_end = 0.0
        self._get_end = 0.0

    # -- producers ----------------------------------------------------------------------

    def _claim(self, deadline: float | None) -> int:
        """How many records the caller may put next (0: none left)."""
        if deadline is not None:
            return self._workload.batch if time.perf_counter() < deadline and not self._stop.is_set() else 0
        with self._claim_lock:
            n = min(self._workload.batch, self._workload.records - self._claimed)
            self._claimed += n
            return 0 if self._stop.is_set() else n

    def _produce(self, index: int, deadline: float | None, bar: int, call_s: list[float]) -> None:
        stream, single = self._stream, self._workload.batch == 1
        n_batch = index
        while True:
            n = self._claim(deadline)
            if n == 0:
                return
            keys, data = self._payloads.get(n_batch)
            n_batch += self._workload.producers
            if n < len(data):
                keys, data = keys.slice(0, n), data.slice(0, n)
            began = time.perf_counter()
            if single:
                stream.put_record(data[0].as_py(), keys[0].as_py())
            else:
                stream.put_batch(keys, data)
            call_s.append(time.perf_counter() - began)
            self.tally.put(n, n * self._payloads.record_size)
            self._progress.advance(bar, n)

    # -- consumers ----------------------------------------------------------------------

    def _consume(self, shard_ids: list[str], bar: int) -> None:
        stream = self._stream
        iterators = {s: stream.get_shard_iterator(s, "TRIM_HORIZON")["ShardIterator"] for s in shard_ids}
        calls = throttled = 0
        while not self._stop.is_set():
            empty = True
            for shard_id, iterator in list(iterators.items()):
                try:
                    page = stream.get_record_batch(iterator, _PAGE, deaggregate=False)
                except ProvisionedThroughputExceededException:  # a real Kinesis: 5 calls/s a shard
                    throttled += 1
                    time.sleep(0.05)
                    continue
                calls += 1
                iterators[shard_id] = page["NextShardIterator"]
                batch = page["Records"]
                if batch.num_rows:
                    empty = False
                    nbytes = pc.sum(pc.binary_length(batch.column("data"))).as_py() or 0
                    self.tally.got(batch.num_rows, nbytes)
                    self._progress.advance(bar, batch.num_rows)
            if empty:
                if self._producers_done.is_set() and self.tally.caught_up():
                    break
                time.sleep(0.001)
        with self._claim_lock:
            self._get_calls += calls
            self._get_throttled += throttled

    # -- the run ------------------------------------------------------------------------

    def _guard(self, target, *args) -> None:
        try:
            target(*args)
        except BaseException as exc:  # noqa: B036 - reported by run()
            self._errors.append(exc)
            self._stop.set()

    def _sampler(self) -> None:
        while not self._stop.wait(_TIMELINE_EVERY_S):
            self.tally.sample(time.perf_counter() - self._started)

    def run(self) -> dict:
        """Put and read the workload; the phase's results.

        Returns
        -------
        dict
            ``put`` and ``get`` (records, bytes, seconds, records/s, MB/s;
            put-call p50/p99 in ms), ``timeline`` (``[t, put, got]`` rows).

        Raises
        ------
        BaseException
            The first error of a producer or consumer.
        """
        w = self._workload
        shard_ids = [s["ShardId"] for s in self._stream.list_shards()]
        total = None if w.duration_s is not None else w.records
        put_bar = self._progress.task("put", total)
        get_bar = self._progress.task("get", total) if w.consumers else None
        self._started = time.perf_counter()
        deadline = None if w.duration_s is None else self._started + w.duration_s
        producers = []
        for i in range(w.producers):
            calls: list[float] = []
            self._put_call_s.append(calls)
            producers.append(threading.Thread(target=self._guard, args=(self._produce, i, deadline, put_bar, calls)))
        consumers = [
            threading.Thread(target=self._guard, args=(self._consume, shard_ids[i :: w.consumers], get_bar))
            for i in range(min(w.consumers, len(shard_ids)))
        ]
        sampler = threading.Thread(target=self._sampler, daemon=True)
        self.tally.sample(0.0)
        for thread in [*producers, *consumers, sampler]:
            thread.start()
        for thread in producers:
            thread.join()
        self._put_end = time.perf_counter()
        self.tally.sample(self._put_end - self._started)
        self._producers_done.set()
        for thread in consumers:
            thread.join()
        self._get_end = time.perf_counter()
        self._stop.set()
        sampler.join()
        self.tally.sample(time.perf_counter() - self._started)
        if self._errors:
            raise self._errors[0]
        return self._results(bool(consumers))

    def _results(self, read: bool) -> dict:
        t = self.tally
        put_s = self._put_end - self._started
        calls = np.array([c for per in self._put_call_s for c in per]) * 1e3
        result = {
            "put": _rates(t.put_records, t.put_bytes, put_s),
            "timeline": [list(row) for row in t.timeline],
        }
        result["put"]["calls"] = int(calls.size)
        result["put"]["call_ms_p50"] = float(np.percentile(calls, 50)) if calls.size else None
        result["put"]["call_ms_p99"] = float(np.percentile(calls, 99)) if calls.size else None
        if read:
            result["get"] = _rates(t.got_records, t.got_bytes, self._get_end - self._started)
            result["get"]["calls"] = self._get_calls
            result["get"]["throttled"] = self._get_throttled
        return result


def _rates(records: int, nbytes: int, seconds: float) -> dict:
    seconds = max(seconds, 1e-9)
    return {
        "records": records,
        "bytes": nbytes,
        "seconds": seconds,
        "records_per_s": records / seconds,
        "mb_per_s": nbytes / seconds / 1e6,
    }
