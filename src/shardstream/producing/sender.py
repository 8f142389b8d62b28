"""The producer's background thread: batches into calls, answers into futures, failures into retries.

One thread runs :meth:`Sender.run`.  It takes the queued user records from the
:class:`~shardstream.producing.buffer.RecordBuffer` when a batch is due, turns them into Kinesis records
(:class:`~shardstream.producing.units.UnitBuilder`), and sends them in calls of at most ``max_batch_records``
entries and ``max_batch_bytes`` bytes (data plus keys; never more than PutRecords' 500 and 5 MiB).  A failed
entry is retried when the :class:`~shardstream.producing.retry.RetryPolicy` allows (its backoff passed: the
thread sends other records meanwhile), else its user records' futures fail with its last error.  Up to
``max_in_flight`` calls are out at once (made by a small pool of threads that only wait for the answers);
everything else -- the records, their futures, retries -- stays with the one thread.

With ``ordered=True`` each Kinesis record has a lane (the shard of an aggregate; else the user record's
partition key and explicit hash key), and:

* a call carries at most one Kinesis record per lane, and a lane has at most one call out at a time, so a
  call that fails some of its entries never writes a lane's later record ahead of an earlier one;
* while a lane's record waits to be retried, no later record of that lane is sent; it follows once the
  record is written or has failed for good.
"""

from __future__ import annotations

import bisect
import heapq
import time
from collections import Counter, deque
from concurrent.futures import InvalidStateError, ThreadPoolExecutor

from .buffer import ProducerClosedError
from .retry import is_retryable

__all__ = ["Sender"]

#: How far into the queue an ordered call looks for records of lanes it does not carry yet.
_ORDERED_SCAN = 5000


def _seq_of(unit) -> int:
    return unit.seq


class Sender:
    """The loop of a producer's background thread, and the records it holds between calls.

    Parameters
    ----------
    buffer : RecordBuffer
        Where user records wait for a batch.
    builder : UnitBuilder
        Makes Kinesis records of them.
    target : BatchTarget or PutRecordsTarget
        Makes the calls.
    policy : RetryPolicy
    stats : ProducerStats
    shard_map : ShardMap or None
        Invalidated when an aggregate lands in a shard it did not expect.
    max_batch_records, max_batch_bytes : int
        The limits of one call.
    ordered : bool
        Keep each lane in order (see the module's documentation).
    max_in_flight : int
        Calls out at once (1: the thread makes each call itself).
    """

    def __init__(
        self,
        buffer,
        builder,
        target,
        policy,
        stats,
        shard_map,
        *,
        max_batch_records: int,
        max_batch_bytes: int,
        ordered: bool,
        max_in_flight: int = 1,
    ):
        self.buffer = buffer
        self.builder = builder
        self.target = target
        self.policy = policy
        self.stats = stats
        self.shard_map = shard_map
        self.max_batch_records = max_batch_records
        self.max_batch_bytes = max_batch_bytes
        self.ordered = ordered
        self._queue: list = []  # Kinesis records ready to go, by seq
        self._waiting: list = []  # heap of (not_before, seq, record) waiting to be retried
        self._blocked: dict = {}  # lane -> records of it waiting (ordered)
        self._done: list = []  # user records settled during the current call, released together
        self.max_in_flight = max_in_flight
        self._pool = None
        self._in_flight = 0
        self._lanes_out: Counter = Counter()  # lane -> records of it in calls out (ordered)
        self._answers: deque = deque()  # (call, concurrent Future of target.put) answered, to settle

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Send until the buffer is closed and nothing is held; on any crash fail what is held and stop."""
        if self.max_in_flight > 1:
            self._pool = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="shardstream-producer-call")
        try:
            self._loop()
        except BaseException as exc:  # a bug must not leave futures hanging forever
            self.buffer.abandon()
            self._fail_everything(exc)
            raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        if self.buffer.abandoned:
            self._fail_everything(ProducerClosedError("the producer was closed before the record was sent"))

    def _loop(self) -> None:
        buffer = self.buffer
        while True:
            wake_at = self._waiting[0][0] if self._waiting else None
            records = buffer.take(wake_at, wait=not self._answers, busy=self._in_flight > 0)
            if records is None or (buffer.abandoned and not self._in_flight and not self._answers):
                return
            self._ingest(records)
            self._settle_answers()
            while self._in_flight < self.max_in_flight and not buffer.abandoned:
                self._promote_due()
                call = self._next_call()
                if not call:
                    break
                self._start(call)
                self._settle_answers()
                self._ingest(buffer.take(None, wait=False, busy=True) or [])

    def _ingest(self, records: list) -> None:
        if not records:
            return
        live = [r for r in records if not r.future.dropped]
        if len(live) < len(records):
            self.buffer.release([r for r in records if r.future.dropped])
        if not live:
            return
        try:
            units, before = self.builder.build(live)
        except Exception as exc:  # listing the shards failed (aggregation)
            self._settle_failed(live, exc)
            self.buffer.release(live)
            return
        user_bytes = sum(r.size for r in live)
        after = sum(u.size for u in units)
        self.stats.add(user_bytes=user_bytes, aggregated_bytes=before, compressed_bytes=after)
        queue = self._queue
        queue.extend(units)
        if len(queue) > len(units) and queue[-len(units) - 1].seq > units[0].seq:
            queue.sort(key=_seq_of)  # cannot happen with one thread taking records in order; kept safe

    def _promote_due(self) -> None:
        waiting = self._waiting
        if not waiting:
            return
        now = time.monotonic()
        while waiting and waiting[0][0] <= now:
            _, seq, unit = heapq.heappop(waiting)
            if self.ordered:
                left = self._blocked[unit.lane] - 1
                if left:
                    self._blocked[unit.lane] = left
                else:
                    del self._blocked[unit.lane]
            queue = self._queue
            queue.insert(bisect.bisect_left(queue, seq, key=_seq_of), unit)

    def _next_call(self) -> list:
        queue = self._queue
        if not queue:
            return []
        max_records, max_bytes = self.max_batch_records, self.max_batch_bytes
        if not self.ordered:
            n, nbytes = 0, 0
            for unit in queue:
                if n == max_records or (n and nbytes + unit.size > max_bytes):
                    break
                n += 1
                nbytes += unit.size
            call = queue[:n]
            del queue[:n]
            return call
        call, keep, nbytes, used = [], [], 0, set(self._blocked)
        used.update(self._lanes_out)
        for i, unit in enumerate(queue):
            if len(call) == max_records or i >= _ORDERED_SCAN:
                keep.extend(queue[i:])
                break
            lane = unit.lane
            if lane in used or (call and nbytes + unit.size > max_bytes):
                used.add(lane)  # a later record of this lane must not pass this one
                keep.append(unit)
                continue
            used.add(lane)
            call.append(unit)
            nbytes += unit.size
        self._queue = keep
        return call

    # -- one call ----------------------------------------------------------------------------

    def _start(self, call: list) -> None:
        if self.ordered:
            self._lanes_out.update(unit.lane for unit in call)
        self._in_flight += 1
        if self._pool is None:
            try:
                answers = self.target.put(call)
            except Exception as exc:
                self._answered(call, None, exc)
            else:
                self._answered(call, answers, None)
            return
        future = self._pool.submit(self.target.put, call)
        future.add_done_callback(lambda f: self._on_answer(call, f))

    def _on_answer(self, call: list, future) -> None:
        # runs on the pool's thread: hand the answer to the sender's thread and wake it
        self._answers.append((call, future))
        self.buffer.kick()

    def _settle_answers(self) -> None:
        answers = self._answers
        while answers:
            call, future = answers.popleft()
            exc = future.exception()
            self._answered(call, None if exc is not None else future.result(), exc)

    def _answered(self, call: list, answers, exc) -> None:
        self._in_flight -= 1
        if self.ordered:
            self._lanes_out.subtract(unit.lane for unit in call)
            self._lanes_out += Counter()  # drop the lanes at zero
        put_bytes = sum(u.size for u in call)
        if exc is not None:
            self.stats.add(put_calls=1, put_calls_failed=1, put_bytes=put_bytes)
            retryable = is_retryable(exc)
            for unit in call:
                self._failed(unit, exc, retryable)
        else:
            self.stats.add(put_calls=1, put_bytes=put_bytes)
            # counted before any future is settled: whoever sees a result also sees it counted
            good = [not isinstance(answer, BaseException) for answer in answers]
            users = sum(len(unit.members) for unit, ok in zip(call, good) if ok)
            self.stats.add(kinesis_records_sent=sum(good), user_records_sent=users)
            for unit, answer, ok in zip(call, answers, good):
                if ok:
                    self._succeeded(unit, answer[0], answer[1])
                else:
                    self._failed(unit, answer, is_retryable(answer))
        if self._done:
            self.buffer.release(self._done)
            self._done = []

    def _succeeded(self, unit, shard_id: str, sequence_number: str) -> None:
        if unit.shard_id is not None and unit.shard_id != shard_id and self.shard_map is not None:
            self.shard_map.invalidate()  # resharded: list the shards again before aggregating more
            self.stats.add(shard_map_refreshes=1)
        for i, r in enumerate(unit.members):
            try:
                r.future.set_result({"ShardId": shard_id, "SequenceNumber": sequence_number, "SubSequenceNumber": i})
            except InvalidStateError:  # cancelled after its batch was taken: written all the same
                pass
        self._done.extend(unit.members)

    def _failed(self, unit, exc: BaseException, retryable: bool) -> None:
        unit.attempts += 1
        unit.last_error = exc
        if retryable and not self.buffer.abandoned:
            at = self.policy.next_attempt(unit.attempts, unit.first_sent_at, time.monotonic())
            if at is not None:
                unit.not_before = at
                heapq.heappush(self._waiting, (at, unit.seq, unit))
                if self.ordered:
                    self._blocked[unit.lane] = self._blocked.get(unit.lane, 0) + 1
                self.stats.add(kinesis_records_retried=1)
                return
        if retryable and self.buffer.abandoned:  # it would have been retried
            closed = ProducerClosedError("the producer was closed before the record could be sent again")
            closed.__cause__ = exc
            exc = closed
        self.stats.add(kinesis_records_failed=1)
        self._settle_failed(unit.members, exc)
        self._done.extend(unit.members)

    def _settle_failed(self, members: list, exc: BaseException) -> None:
        for r in members:
            try:
                r.future.set_exception(exc)
            except InvalidStateError:  # cancelled meanwhile
                pass
        self.stats.add(user_records_failed=len(members))

    def _fail_everything(self, exc: BaseException) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)  # calls out are answered as they were
        self._settle_answers()
        held = [u for u in self._queue] + [entry[2] for entry in self._waiting]
        self._queue, self._waiting, self._blocked = [], [], {}
        members = [r for u in held for r in u.members]
        members += self.buffer.take(None, wait=False) or []
        self._settle_failed(members, exc)
        self.buffer.release(members + self._done)
        self._done = []
