"""Optional emulation of Kinesis's per-shard throughput limits.

Off by default: an embedded engine writes and reads as fast as memory allows.
:func:`install` turns emulation on for one :class:`~shardstream.Stream` by
giving it a :class:`StreamThrottle` to consult (:meth:`Stream.set_throttle`):
the stream then plans each ``put_record``, ``put_records``, ``put_batch``,
``get_shard_iterator``, ``get_records`` and ``get_record_batch`` call itself
(validation and routing are its own) and asks the throttle to admit it
(``StreamThrottle.admit_*``), which makes the call only if the shard has
budget; :func:`uninstall` stops that.  A stream without emulation pays
nothing: its methods are the class's own.

The model
---------
Each shard has its own :class:`ShardThrottle` (created lazily the first time
the shard is used) holding five **token buckets**, one per limit of
:class:`ThroughputLimits`:

========================  ==============================  ==================
bucket                    Kinesis limit (default)          charged by
========================  ==============================  ==================
write bytes               1 MiB/s (data + partition key)   PutRecord(s), put_batch
write records             1,000 records/s                  PutRecord(s), put_batch
read calls                5 GetRecords calls/s             GetRecords
read bytes                2 MiB/s returned (data + key)    GetRecords
iterator calls            5 GetShardIterator calls/s       GetShardIterator
========================  ==============================  ==================

A bucket holds at most one second of its rate and refills continuously at
that rate (kept in integer "unit-milliseconds", so results are exact for a
millisecond clock).  Time is the stream's own clock, :meth:`Stream.now_ms`,
so an ``Engine(clock=...)`` makes throttling deterministic.

Burst behaviour: a shard that has been idle for a second can take a whole
second's budget at once (1,000 records, or 1 MiB, in one instant); after that
it is admitted at the steady rate (a record every millisecond, a read call
every 200 ms...).  Over any window of length *T* seconds a shard therefore
admits at most ``rate * (1 + T)`` -- up to twice the rate within one sliding
second, never more than the rate in the long run.

* **Writes** are admitted record by record: a record fits when both write
  buckets hold enough for it.  A record larger than a whole bucket (possible
  with ``max_record_size_kib`` above 1024) is admitted only against a full
  bucket and leaves it in debt, so the shard is throttled until its rate has
  paid the record off (only a single record may exceed a bucket: a
  ``put_batch`` sending more than one second's budget to one shard -- over
  1,000 records or 1 MiB -- can never pass and must be split).  PutRecord raises; PutRecords fails just the entries
  that do not fit (in request order; later, smaller entries may still fit)
  and writes the others; ``put_batch`` is all-or-nothing: it sums records and
  bytes per shard and raises without writing anything if any shard lacks
  budget.
* **GetRecords** needs a read-call token, a read-byte bucket that is not
  exhausted (level above zero) and no active penalty.  The call is charged
  for the bytes it actually returned, which may drive the byte bucket into
  debt (a GetRecords may return up to 10 MiB).  A call that returned more than
  one second's read budget (``read_bytes_per_s``) also starts a penalty of
  ``read_penalty_ms`` (5 s) during which every GetRecords on the shard is
  throttled -- Kinesis's "after a call that returns 10 MiB, calls within the
  next 5 seconds throw" rule.
* **GetShardIterator** needs an iterator-call token.

A throttled call writes and returns nothing and consumes no budget; so does a
call that fails for another reason (validation, a full shard log: its budget
is refunded).  A dry run (``dry_run=True``) checks the budget without taking
any: a PutRecord, put_batch, GetRecords or GetShardIterator that would be
throttled raises ProvisionedThroughputExceededException, else the stream's
DryRunOperationException; a PutRecords dry run is never throttled (throttling
fails its entries, not the request).  Under AUTO distribution a write is
charged to the shards the round-robin would give it when it is planned; a
concurrent writer may move the actual placement on.  Validation comes first: a malformed request gets the same
exception it gets without emulation, never a throttling error.

Throttling raises :class:`~shardstream.errors.ProvisionedThroughputExceededException`
(PutRecords: a per-entry ``ErrorCode``) with Kinesis's message
``Rate exceeded for shard <shardId> in stream <name> under account <acct>.``

Deviations from AWS
-------------------
* AWS does not publish its algorithm; real shards tolerate short bursts
  somewhat beyond the nominal rate and throttle somewhat unpredictably.  This
  model is exact and deterministic: one second of burst, then the rate.
* The "after insufficient throughput, calls in the next 1 s throw" read rule
  is approximated by the byte bucket's debt (it blocks reads until repaid).
* Read bytes count data + partition key, like write bytes.
* Limits are per shard in both capacity modes (AWS scales ON_DEMAND streams
  per stream), shared by every reader of the shard, and independent of the
  caller (AWS also has per-account API rate limits; not emulated).
* A reshard gives the child shards fresh buckets; the parents keep theirs.
* The target shard of a write is routed just before the write; a reshard
  racing the write may charge the parent instead of the child.
* ``read_batch``, ``iter_batches``, ``read_table`` and ``read_pandas`` (bulk
  Arrow reads, no Kinesis counterpart) are never throttled.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import ProvisionedThroughputExceededException
from .models import parse_shard_index

__all__ = ["MIB", "ShardThrottle", "StreamThrottle", "ThroughputLimits", "install", "uninstall"]

MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ThroughputLimits:
    """Per-shard throughput limits (the defaults are Kinesis's provisioned limits).

    Parameters
    ----------
    write_bytes_per_s : int
        Bytes (data + partition key) written per shard per second: 1 MiB.
    write_records_per_s : int
        Records written per shard per second: 1,000.
    read_bytes_per_s : int
        Bytes (data + partition key) returned by GetRecords per shard per
        second: 2 MiB.
    read_calls_per_s : int
        GetRecords calls per shard per second: 5.
    iterator_calls_per_s : int
        GetShardIterator calls per shard per second: 5.
    read_penalty_ms : int
        How long GetRecords on a shard is refused after a call that returned
        more than ``read_bytes_per_s``: 5,000 ms.

    Raises
    ------
    ValueError
        A rate is not a positive int, or the penalty is negative.
    """

    write_bytes_per_s: int = MIB
    write_records_per_s: int = 1000
    read_bytes_per_s: int = 2 * MIB
    read_calls_per_s: int = 5
    iterator_calls_per_s: int = 5
    read_penalty_ms: int = 5000

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{field.name} must be an int, not {type(value).__name__}")
            if value < (0 if field.name == "read_penalty_ms" else 1):
                raise ValueError(f"{field.name} must be {'>= 0' if field.name == 'read_penalty_ms' else '>= 1'}")


class _Bucket:
    """A token bucket holding one second of ``rate``, in unit-milliseconds.

    ``level`` is ``units * 1000``; it refills by ``rate`` per millisecond up
    to ``capacity = rate * 1000`` and may go negative (debt).
    """

    __slots__ = ("capacity", "level", "rate", "stamp")

    def __init__(self, rate: int, now: int):
        self.rate = rate
        self.capacity = rate * 1000
        self.level = self.capacity
        self.stamp = now

    def refill(self, now: int) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def fits(self, units: int, *, oversize: bool = False) -> bool:
        """Room for ``units`` now.

        With ``oversize``, more than a whole bucket fits a full bucket (and
        leaves a debt): how one record larger than a second's budget passes.
        """
        need = units * 1000
        return self.level >= need or (oversize and self.level >= self.capacity)

    def take(self, units: int) -> None:
        self.level -= units * 1000

    def give(self, units: int) -> None:
        self.level = min(self.capacity, self.level + units * 1000)

    def available(self) -> int:
        return max(0, self.level) // 1000


class ShardThrottle:
    """The throughput budget of one shard: five token buckets and a read penalty.

    Not thread-safe by itself; :class:`StreamThrottle` serialises access.
    Every method takes the current time in ms and refills first.

    Parameters
    ----------
    limits : ThroughputLimits
    now_ms : int
        Creation time; the buckets start full.
    """

    def __init__(self, limits: ThroughputLimits, now_ms: int):
        self.limits = limits
        self.write_bytes = _Bucket(limits.write_bytes_per_s, now_ms)
        self.write_records = _Bucket(limits.write_records_per_s, now_ms)
        self.read_bytes = _Bucket(limits.read_bytes_per_s, now_ms)
        self.read_calls = _Bucket(limits.read_calls_per_s, now_ms)
        self.iterator_calls = _Bucket(limits.iterator_calls_per_s, now_ms)
        self.penalty_until_ms = now_ms

    def _refill(self, now: int) -> None:
        for b in (self.write_bytes, self.write_records, self.read_bytes, self.read_calls, self.iterator_calls):
            b.refill(now)

    def can_write(self, records: int, nbytes: int, now_ms: int) -> bool:
        """Whether ``records`` records of ``nbytes`` total fit at ``now_ms`` (consumes nothing)."""
        self._refill(now_ms)
        return self.write_records.fits(records) and self.write_bytes.fits(nbytes, oversize=records == 1)

    def try_write(self, records: int, nbytes: int, now_ms: int) -> bool:
        """Consume write budget for ``records`` records of ``nbytes`` if both fit.

        Parameters
        ----------
        records : int
        nbytes : int
            Data + partition key bytes.
        now_ms : int
            The current time.

        Returns
        -------
        bool
            True if admitted (budget consumed), False if throttled (nothing consumed).
        """
        if not self.can_write(records, nbytes, now_ms):
            return False
        self.write_records.take(records)
        self.write_bytes.take(nbytes)
        return True

    def refund_write(self, records: int, nbytes: int, now_ms: int) -> None:
        """Give back the budget of ``records`` records of ``nbytes`` admitted but not written (at ``now_ms``)."""
        self._refill(now_ms)
        self.write_records.give(records)
        self.write_bytes.give(nbytes)

    def try_read(self, now_ms: int) -> bool:
        """Consume one GetRecords call if the shard may be read at ``now_ms`` (token, bytes, no penalty)."""
        self._refill(now_ms)
        if now_ms < self.penalty_until_ms or not self.read_calls.fits(1) or self.read_bytes.level <= 0:
            return False
        self.read_calls.take(1)
        return True

    def can_read(self, now_ms: int) -> bool:
        """Whether a GetRecords call may read the shard at ``now_ms`` (consumes nothing)."""
        self._refill(now_ms)
        return now_ms >= self.penalty_until_ms and self.read_calls.fits(1) and self.read_bytes.level > 0

    def can_iterator(self, now_ms: int) -> bool:
        """Whether a GetShardIterator call would get a token at ``now_ms`` (consumes nothing)."""
        self._refill(now_ms)
        return self.iterator_calls.fits(1)

    def refund_read(self, now_ms: int) -> None:
        """Give back a GetRecords call that failed for another reason (at ``now_ms``)."""
        self._refill(now_ms)
        self.read_calls.give(1)

    def charge_read(self, nbytes: int, now_ms: int) -> None:
        """Charge the ``nbytes`` an admitted GetRecords returned at ``now_ms`` (may leave a debt).

        More than ``read_bytes_per_s`` in one call also starts the
        ``read_penalty_ms`` penalty.

        Parameters
        ----------
        nbytes : int
            Data + partition key bytes returned.
        now_ms : int
            The current time.
        """
        self._refill(now_ms)
        self.read_bytes.take(nbytes)
        if nbytes > self.limits.read_bytes_per_s:
            self.penalty_until_ms = max(self.penalty_until_ms, now_ms + self.limits.read_penalty_ms)

    def try_iterator(self, now_ms: int) -> bool:
        """Consume one GetShardIterator call if a token is left at ``now_ms``; True if one was."""
        self._refill(now_ms)
        if not self.iterator_calls.fits(1):
            return False
        self.iterator_calls.take(1)
        return True

    def snapshot(self, now_ms: int) -> dict:
        """Remaining budget at ``now_ms``: whole units left in each bucket, and the penalty end."""
        self._refill(now_ms)
        return {
            "WriteBytes": self.write_bytes.available(),
            "WriteRecords": self.write_records.available(),
            "ReadBytes": self.read_bytes.available(),
            "ReadCalls": self.read_calls.available(),
            "IteratorCalls": self.iterator_calls.available(),
            "ReadPenaltyUntilMs": self.penalty_until_ms if self.penalty_until_ms > now_ms else None,
        }


def _shard_key(shard_id) -> str:
    """``shardId-000000000001`` for 1, "1", "shardId-1" or "shardId-000000000001"."""
    if isinstance(shard_id, (int, np.integer)) and not isinstance(shard_id, bool):
        return f"shardId-{int(shard_id):012d}"
    index = parse_shard_index(shard_id)
    return f"shardId-{index:012d}" if index is not None else str(shard_id)


class StreamThrottle:
    """Throughput budgets of every shard of one stream.

    Per-shard state is created lazily, keyed by shard id; every check is
    atomic under one lock and reads time from ``stream.now_ms()``.

    Parameters
    ----------
    stream : Stream
    limits : ThroughputLimits, optional
        Default: Kinesis's limits.

    Attributes
    ----------
    limits : ThroughputLimits
    throttled : dict
        Count of throttled requests by kind (``"write"``, ``"read"``, ``"iterator"``);
        a PutRecords counts each throttled entry.
    """

    def __init__(self, stream, limits: ThroughputLimits | None = None):
        self.stream = stream
        self.limits = ThroughputLimits() if limits is None else limits
        self._shards: dict[str, ShardThrottle] = {}
        self._lock = threading.Lock()
        self.throttled = {"write": 0, "read": 0, "iterator": 0}

    def _shard(self, key: str, now: int) -> ShardThrottle:
        st = self._shards.get(key)
        if st is None:
            st = self._shards[key] = ShardThrottle(self.limits, now)
        return st

    def shard(self, shard_id) -> ShardThrottle:
        """The :class:`ShardThrottle` of ``shard_id`` (an id or index; created if new)."""
        with self._lock:
            return self._shard(_shard_key(shard_id), self.stream.now_ms())

    def message(self, shard_id) -> str:
        """Kinesis's throttling message for ``shard_id`` of this stream."""
        return (
            f"Rate exceeded for shard {_shard_key(shard_id)} in stream {self.stream.name} "
            f"under account {self.stream.account_id}."
        )

    def error(self, shard_id) -> ProvisionedThroughputExceededException:
        """The exception a throttled call on ``shard_id`` raises."""
        return ProvisionedThroughputExceededException(self.message(shard_id))

    def check_write(self, shard_id, records: int, nbytes: int) -> bool:
        """Consume write budget for ``records`` records totalling ``nbytes`` if they fit.

        Parameters
        ----------
        shard_id : str or int
            ``shardId-...`` or a shard index.
        records : int
        nbytes : int
            Data + partition key bytes.

        Returns
        -------
        bool
            True if admitted (budget consumed); False if throttled (nothing consumed).
        """
        with self._lock:
            now = self.stream.now_ms()
            ok = self._shard(_shard_key(shard_id), now).try_write(records, nbytes, now)
            if not ok:
                self.throttled["write"] += 1
            return ok

    def check_write_all(self, usage: Mapping) -> str | None:
        """All-or-nothing admission of writes to several shards.

        Parameters
        ----------
        usage : mapping of shard id -> (records, nbytes)

        Returns
        -------
        str or None
            None if every shard had room (all budgets consumed); else the id of
            the first shard without room (nothing consumed).
        """
        with self._lock:
            now = self.stream.now_ms()
            shards = [(self._shard(_shard_key(sid), now), sid, r, b) for sid, (r, b) in usage.items()]
            for st, sid, records, nbytes in shards:
                if not st.can_write(records, nbytes, now):
                    self.throttled["write"] += 1
                    return _shard_key(sid)
            for st, _, records, nbytes in shards:
                st.try_write(records, nbytes, now)
            return None

    def _peek(self, shard_id, now: int) -> ShardThrottle:
        """A shard's throttle for a dry run: a fresh one, not kept, if the shard was never used."""
        return self._shards.get(_shard_key(shard_id)) or ShardThrottle(self.limits, now)

    def would_write_all(self, usage: Mapping) -> str | None:
        """:meth:`check_write_all` of ``usage`` for a dry run: the first shard without room, or None; no charge."""
        with self._lock:
            now = self.stream.now_ms()
            for sid, (records, nbytes) in usage.items():
                if not self._peek(sid, now).can_write(records, nbytes, now):
                    return _shard_key(sid)
            return None

    def would_read(self, shard_id) -> bool:
        """:meth:`check_read` of ``shard_id`` for a dry run: consumes and counts nothing."""
        with self._lock:
            now = self.stream.now_ms()
            return self._peek(shard_id, now).can_read(now)

    def would_iterator(self, shard_id) -> bool:
        """:meth:`check_iterator` of ``shard_id`` for a dry run: consumes and counts nothing."""
        with self._lock:
            now = self.stream.now_ms()
            return self._peek(shard_id, now).can_iterator(now)

    def refund_write(self, shard_id, records: int, nbytes: int) -> None:
        """Give ``shard_id`` back the budget of ``records`` admitted records (``nbytes``) not written."""
        with self._lock:
            now = self.stream.now_ms()
            self._shard(_shard_key(shard_id), now).refund_write(records, nbytes, now)

    def check_read(self, shard_id) -> bool:
        """Consume one GetRecords call on the shard if it may be read now.

        Parameters
        ----------
        shard_id : str or int
            ``shardId-...`` or a shard index.

        Returns
        -------
        bool
            False while the shard's call or byte budget is exhausted or a
            penalty is running (nothing consumed).
        """
        with self._lock:
            now = self.stream.now_ms()
            ok = self._shard(_shard_key(shard_id), now).try_read(now)
            if not ok:
                self.throttled["read"] += 1
            return ok

    def charge_read(self, shard_id, nbytes: int) -> None:
        """Charge ``shard_id`` the ``nbytes`` an admitted GetRecords returned (:meth:`ShardThrottle.charge_read`)."""
        with self._lock:
            now = self.stream.now_ms()
            self._shard(_shard_key(shard_id), now).charge_read(int(nbytes), now)

    def refund_read(self, shard_id) -> None:
        """Give ``shard_id`` back the call of an admitted GetRecords that then failed."""
        with self._lock:
            now = self.stream.now_ms()
            self._shard(_shard_key(shard_id), now).refund_read(now)

    def check_iterator(self, shard_id) -> bool:
        """Consume one GetShardIterator call on ``shard_id`` if a token is left; True if one was."""
        with self._lock:
            now = self.stream.now_ms()
            ok = self._shard(_shard_key(shard_id), now).try_iterator(now)
            if not ok:
                self.throttled["iterator"] += 1
            return ok

    def snapshot(self) -> dict:
        """Remaining budget of every shard used so far, by shard id."""
        with self._lock:
            now = self.stream.now_ms()
            return {sid: st.snapshot(now) for sid, st in sorted(self._shards.items())}

    def reset(self) -> None:
        """Forget all state: every shard starts again with full buckets."""
        with self._lock:
            self._shards.clear()

    # -- what the stream consults: admission around its own data-plane calls ------------------
    #
    # The stream plans each call (validation and routing are its own) and hands over the
    # shard(s) and sizes with the call itself, as a callable; a throttled call is never made.

    def admit_record(self, shard_id, nbytes: int, write, *, dry_run: bool = False):
        """A PutRecord of ``nbytes`` routed to ``shard_id``: ``write()`` it if admitted.

        Parameters
        ----------
        shard_id : str
        nbytes : int
            Data + partition key bytes.
        write : callable
            Makes the put; ``write(dry_run=True)`` is called for a dry run that had room.
        dry_run : bool
            Check the budget without taking any.

        Returns
        -------
        object
            What ``write`` returns (a write that raises gets its budget back).

        Raises
        ------
        ProvisionedThroughputExceededException
            No budget (nothing written).
        """
        if dry_run:
            if self.would_write_all({shard_id: (1, nbytes)}) is not None:
                raise self.error(shard_id)
            return write(dry_run=True)
        if not self.check_write(shard_id, 1, nbytes):
            raise self.error(shard_id)
        try:
            return write()
        except BaseException:
            self.refund_write(shard_id, 1, nbytes)
            raise

    def admit_entries(self, records, plan, write) -> dict:
        """A PutRecords request: ``write(subset)`` the entries admitted, fail the others.

        Parameters
        ----------
        records : list of dict
            The request's entries.
        plan : list of (shard id, nbytes)
            Where each entry goes and what it weighs.
        write : callable
            The stream's PutRecords on a list of entries.

        Returns
        -------
        dict
            The PutRecords answer for every entry, in request order: a throttled
            entry has ``ErrorCode`` ProvisionedThroughputExceededException; an
            entry the write failed gets its budget back.
        """
        admitted = [self.check_write(sid, 1, size) for sid, size in plan]
        subset = [r for r, ok in zip(records, admitted) if ok]
        try:
            result = write(subset) if subset else {"FailedRecordCount": 0, "Records": []}
        except BaseException:
            for (sid, size), ok in zip(plan, admitted):
                if ok:
                    self.refund_write(sid, 1, size)
            raise
        written = iter(result["Records"])
        out, failed = [], 0
        for (sid, size), ok in zip(plan, admitted):
            if ok:
                entry = next(written)
                if "ErrorCode" in entry:
                    self.refund_write(sid, 1, size)
            else:
                entry = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": self.message(sid)}
            failed += "ErrorCode" in entry
            out.append(entry)
        return {**result, "FailedRecordCount": failed, "Records": out}

    def admit_batch(self, usage: Mapping, write, *, dry_run: bool = False):
        """A put_batch: ``write()`` it if every shard has room, else nothing.

        Parameters
        ----------
        usage : mapping of shard id -> (records, nbytes)
        write : callable
            Makes the put; ``write(dry_run=True)`` is called for a dry run that had room.
        dry_run : bool
            Check the budgets without taking any.

        Raises
        ------
        ProvisionedThroughputExceededException
            A shard lacks budget (nothing written); a ``write`` that raises gets the budgets back.
        """
        if dry_run:
            refused = self.would_write_all(usage)
            if refused is not None:
                raise self.error(refused)
            return write(dry_run=True)
        refused = self.check_write_all(usage)
        if refused is not None:
            raise self.error(refused)
        try:
            return write()
        except BaseException:
            for sid, (records, nbytes) in usage.items():
                self.refund_write(sid, records, nbytes)
            raise

    def admit_iterator(self, shard_id, result, make, *, dry_run: bool = False):
        """A GetShardIterator on ``shard_id`` that made ``result``: it, if a token is left.

        Parameters
        ----------
        shard_id : str
        result : dict
            The iterator the stream made (dropped when throttled).
        make : callable
            ``make(dry_run=True)`` is what a dry run with a token left returns.
        dry_run : bool
            Check for a token without taking it.

        Raises
        ------
        ProvisionedThroughputExceededException
            No token left.
        """
        if dry_run:
            if not self.would_iterator(shard_id):
                raise self.error(shard_id)
            return make(dry_run=True)
        if not self.check_iterator(shard_id):
            raise self.error(shard_id)
        return result

    def admit_records_read(self, shard_id, read, *, dry_run: bool = False) -> dict:
        """A GetRecords on ``shard_id``: ``read()`` if admitted, charged the bytes it returned.

        Parameters
        ----------
        shard_id : str
        read : callable
            Makes the read (for a dry run too: the stream's dry-run read).
        dry_run : bool
            Check the budget without taking any, then ``read()``.

        Raises
        ------
        ProvisionedThroughputExceededException
            The shard may not be read now (a ``read`` that raises gets its call back).
        """
        return self._admit_read(shard_id, read, _returned_bytes, dry_run)

    def admit_batch_read(self, shard_id, read, *, dry_run: bool = False) -> dict:
        """:meth:`admit_records_read` (``shard_id``, ``read``, ``dry_run``) for ``get_record_batch``."""
        return self._admit_read(shard_id, read, _batch_bytes, dry_run)

    def _admit_read(self, shard_id, read, count_bytes, dry_run: bool) -> dict:
        if dry_run:
            if not self.would_read(shard_id):
                raise self.error(shard_id)
            return read()
        if not self.check_read(shard_id):
            raise self.error(shard_id)
        try:
            result = read()
        except BaseException:
            self.refund_read(shard_id)
            raise
        self.charge_read(shard_id, count_bytes(result["Records"]))
        return result

    def __repr__(self) -> str:
        return f"<StreamThrottle {self.stream.name!r} {self.limits}>"


# -- counting what a read returned ----------------------------------------------------------


def _returned_bytes(records) -> int:
    return sum(len(r["Data"]) + len(r["PartitionKey"].encode("utf-8")) for r in records)


def _batch_bytes(batch: pa.RecordBatch) -> int:
    if batch.num_rows == 0:
        return 0
    total = 0
    for name in ("data", "partition_key"):
        total += pc.sum(pc.binary_length(batch.column(name))).as_py() or 0
    return int(total)


def install(stream, limits: ThroughputLimits | None = None) -> StreamThrottle:
    """Turn throughput-limit emulation on for one stream.

    Gives the stream a new :class:`StreamThrottle` to consult
    (:meth:`Stream.set_throttle`): its ``put_record``, ``put_records``,
    ``put_batch``, ``get_shard_iterator``, ``get_records`` and
    ``get_record_batch`` become the throttled ones, and ``stream.throttle`` is
    the new policy.  Installing again replaces the previous emulation (and its
    state).

    Parameters
    ----------
    stream : Stream
    limits : ThroughputLimits, optional
        Default: Kinesis's provisioned per-shard limits.

    Returns
    -------
    StreamThrottle
        The stream's throttle (also ``stream.throttle``).

    Examples
    --------
    >>> import shardstream
    >>> from shardstream import throttle
    >>> t = [1_700_000_000_000]
    >>> s = shardstream.Engine(clock=lambda: t[0]).create_stream("s", shard_count=1)
    >>> _ = throttle.install(s)
    >>> entries = [{"Data": b"x", "PartitionKey": "k"}] * 500
    >>> s.put_records(entries)["FailedRecordCount"], s.put_records(entries)["FailedRecordCount"]
    (0, 0)
    >>> r = s.put_records(entries[:1])
    >>> r["FailedRecordCount"], r["Records"][0]["ErrorMessage"]
    (1, 'Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000.')
    >>> t[0] += 1000
    >>> s.put_records(entries)["FailedRecordCount"]
    0
    """
    if limits is not None and not isinstance(limits, ThroughputLimits):
        raise TypeError(f"limits must be a ThroughputLimits, not {type(limits).__name__}")
    stream.set_throttle(None)
    throttle = StreamThrottle(stream, limits)
    stream.set_throttle(throttle)
    return throttle


def uninstall(stream) -> None:
    """Turn emulation off for ``stream`` (no throttle consulted, no ``stream.throttle``); a no-op if not on."""
    stream.set_throttle(None)
