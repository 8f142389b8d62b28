"""``shardstream.Producer``: send records one by one; they travel in batches, aggregated, compressed, retried.

A :class:`Producer` takes user records with :meth:`~Producer.send` (checked at once, queued, answered later
through a :class:`concurrent.futures.Future`) and writes them from one background thread in PutRecords-sized
calls: on ``linger_ms`` or a full batch, within every Kinesis limit (500 records and 5 MiB per call, the
stream's record size per record, 1 to 256 characters of partition key).  An embedded
:class:`~shardstream.Stream` is written through ``put_batch`` (the core's vectorised path, GIL released); a
remote stream (``shardstream.connect(url).stream(name)``) through ``put_records``.

:class:`AsyncProducer` is the same for asyncio code: ``await producer.send(...)``.

The parts (:mod:`shardstream.producing`): the record checks and the queue with its back-pressure, the shard
map and the aggregation, the retry policy, the call target, the background loop and the counters.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import weakref
from concurrent.futures import Future

from .producing.buffer import BufferFullError, ProducerClosedError, RecordBuffer
from .producing.records import make_user_record
from .producing.retry import RetryPolicy
from .producing.sender import Sender
from .producing.shardmap import ShardMap
from .producing.stats import ProducerMetrics, ProducerStats
from .producing.targets import target_for
from .producing.units import UnitBuilder
from .puts import MAX_PUT_RECORDS, PUT_RECORDS_BYTES

__all__ = ["AsyncProducer", "BufferFullError", "Producer", "ProducerClosedError"]

MIB = 1024 * 1024


_producers = itertools.count(1)


def _metrics_source(target, stats, buffer):
    """Record a producer on an embedded stream in its engine's metrics; None for a remote stream."""
    stream = getattr(target, "stream", None)
    metrics = getattr(getattr(stream, "catalog", None), "metrics", None)
    if metrics is None:
        return None
    queued = lambda: buffer.snapshot()["records_queued"]  # noqa: E731
    source = ProducerMetrics(stats, queued, stream.name, f"producer-{next(_producers)}")
    metrics.add_source(source)
    return source


def _check_int(name: str, value, lo: int, hi: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an int in {bound}, not {value!r}")


class Producer:
    """Batches, aggregates, compresses and retries records on their way to a stream.

    Parameters
    ----------
    target : Stream, RemoteStream or str
        An embedded stream, a remote one (``shardstream.connect(url).stream(name)``), or a stream name with
        ``engine``.
    engine : Engine or RemoteEngine, optional
        The engine a stream name is looked up on.
    linger_ms : float
        How long a record waits for others to share its call (0: send as soon as the thread is free).
    max_batch_records : int
        Most Kinesis records in one call (1 to 500).
    max_batch_bytes : int
        Most bytes (data plus partition keys) in one call (up to 5 MiB).
    aggregate : bool
        Pack the user records bound for one shard into KPL aggregates (``F3 89 9A C2``, protobuf
        ``AggregatedRecord``, MD5), as the Kinesis Producer Library and ``aws-kinesis-agg`` do: fewer,
        larger Kinesis records.  Consumers de-aggregate them; each user record's result carries the
        aggregate's ``SequenceNumber`` and its own ``SubSequenceNumber``.
    compression : {"zstd", "gzip", "lz4"}, optional
        Compress each Kinesis record (after aggregation) in shardstream's envelope
        (:mod:`shardstream.compression`); a record that would not shrink is sent as it is.
    max_retries : int
        Retries of a failed record (throttling, internal failures, 5xx, connection errors) before its future
        fails with the last error.  Other errors fail it at once.
    retry_deadline : float or None
        Seconds after ``send()`` beyond which a record is not retried (None: only ``max_retries`` count).
    backoff_base, backoff_cap : float
        Retry n waits a random time in ``[0, min(backoff_cap, backoff_base * 2**n)]`` seconds (full jitter).
    max_buffered_bytes : int
        Most bytes (data plus key) of records sent and not yet settled; beyond it ``send`` blocks (or raises
        :class:`BufferFullError` with ``block=False``).
    ordered : bool
        Keep the order of records with the same partition key (and explicit hash key), retries included (see
        Notes).
    max_in_flight : int
        Calls out at once (1 to 64).  With more than one, a remote stream is written faster (while the
        server works on one call the next is on its way) but calls may land in any order: records keep their
        order only with ``ordered=True`` (a lane has at most one call out).

    Raises
    ------
    TypeError
        ``target`` is not a stream (or a name without ``engine``).
    ValueError
        A limit out of range, or an unknown codec.

    Notes
    -----
    ``partition_key=None`` gives the record a random key (32 hex digits): records spread evenly over the
    shards and have no order between them.  A record may weigh (data plus key) up to the stream's record
    size: an embedded stream's ``max_record_bytes``, 1 MiB for a remote one.

    **Ordering.** Without ``ordered``, records are written in ``send()`` order as long as nothing fails and
    ``max_in_flight`` is 1; a record that is retried may land after records sent later, and with
    ``max_in_flight > 1`` a call may land before an earlier one.  With ``ordered=True`` the records of a
    *lane* are written in ``send()`` order, retries and ``max_in_flight`` notwithstanding.  A lane is the
    partition key with the explicit hash key (with ``aggregate=True``: the shard the record routes to when
    its batch is made).  A call carries at most one Kinesis record per lane, a lane has at most one call out
    at a time, and while a lane's record waits to be retried no later record of the lane is sent; once it is
    written (or has failed for good, its future failing) the lane moves on.  So the records of a lane that
    are written are in the stream in ``send()`` order; one that failed for good is missing, not reordered.
    The cost: a hot key sends one record per call (``aggregate=True`` sends one aggregate per shard per
    call instead).  With aggregation, a reshard while a record waits to be retried may reorder records whose
    shard it changed.

    Examples
    --------
    >>> import shardstream
    >>> stream = shardstream.Engine().create_stream("clicks", shard_count=2)
    >>> with shardstream.Producer(stream, linger_ms=5) as producer:
    ...     futures = [producer.send(b'{"n": %d}' % i, partition_key=f"user-{i % 3}") for i in range(10)]
    >>> sorted(f.result()["ShardId"] for f in futures)[0]
    'shardId-000000000000'
    >>> producer.stats()["user_records_sent"]
    10
    """

    def __init__(
        self,
        target,
        *,
        engine=None,
        linger_ms: float = 50,
        max_batch_records: int = MAX_PUT_RECORDS,
        max_batch_bytes: int = PUT_RECORDS_BYTES,
        aggregate: bool = False,
        compression: str | None = None,
        max_retries: int = 10,
        retry_deadline: float | None = 30.0,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
        max_buffered_bytes: int = 64 * MIB,
        ordered: bool = False,
        max_in_flight: int = 1,
    ):
        if not isinstance(linger_ms, (int, float)) or isinstance(linger_ms, bool) or not linger_ms >= 0:
            raise ValueError(f"linger_ms must be a number >= 0, not {linger_ms!r}")
        _check_int("max_batch_records", max_batch_records, 1, MAX_PUT_RECORDS)
        _check_int("max_batch_bytes", max_batch_bytes, 1, PUT_RECORDS_BYTES)
        _check_int("max_buffered_bytes", max_buffered_bytes, 1)
        _check_int("max_in_flight", max_in_flight, 1, 64)
        policy = RetryPolicy(max_retries, retry_deadline, backoff_base, backoff_cap)
        self._target = target_for(target, engine)
        self._max_record_bytes = self._target.max_record_bytes
        shard_map = ShardMap(self._target.list_shards) if aggregate else None
        builder = UnitBuilder(
            shard_map, self._max_record_bytes, aggregate=bool(aggregate), compression=compression, ordered=ordered
        )
        self._buffer = RecordBuffer(
            max_buffered_bytes, linger_ms / 1000.0, None if aggregate else max_batch_records, max_batch_bytes
        )
        self._stats = ProducerStats()
        self._metrics = _metrics_source(self._target, self._stats, self._buffer)
        self._sender = Sender(
            self._buffer,
            builder,
            self._target,
            policy,
            self._stats,
            shard_map,
            max_batch_records=max_batch_records,
            max_batch_bytes=max_batch_bytes,
            ordered=bool(ordered),
            max_in_flight=max_in_flight,
        )
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._sender.run, name=f"shardstream-producer-{self._target.name}", daemon=True
        )
        self._thread.start()
        # a producer dropped without close(): its thread still sends what it holds, then stops
        weakref.finalize(self, self._buffer.close)
        self.retry_policy = policy

    @property
    def stream_name(self) -> str:
        """The name of the stream written to."""
        return self._target.name

    def send(
        self,
        data,
        partition_key: str | None = None,
        explicit_hash_key=None,
        *,
        block: bool = True,
        timeout: float | None = None,
    ) -> Future:
        """Queue one record; its future settles once it is written (or has failed for good).

        Parameters
        ----------
        data : bytes, bytearray, memoryview or str
            The payload (a str is sent as UTF-8).
        partition_key : str, optional
            1 to 256 characters; None: a random key (32 hex digits).
        explicit_hash_key : str or int, optional
            A decimal hash key (0 to 2**128-1) that routes the record instead of its partition key.
        block : bool
            When ``max_buffered_bytes`` is held: wait for room (True) or raise :class:`BufferFullError`.
        timeout : float, optional
            Longest wait for room, in seconds (then :class:`BufferFullError`).

        Returns
        -------
        concurrent.futures.Future
            Its result is ``{"ShardId", "SequenceNumber", "SubSequenceNumber"}``; its exception the Kinesis
            error the record failed with (e.g. ProvisionedThroughputExceededException after the retries,
            ResourceNotFoundException when the stream is gone).

        Raises
        ------
        ValidationException, InvalidArgumentException, SerializationException
            The record breaks a Kinesis limit (raised here, before anything is queued).
        BufferFullError
            No room (``block=False`` or ``timeout``).
        ProducerClosedError
            After :meth:`close`.

        Notes
        -----
        Callbacks added with ``future.add_done_callback`` run on the producer's thread, between its calls:
        keep them short, and do not wait in them for the producer (``flush``, ``close``, or a ``send`` that
        may block), which would wait for itself.
        """
        record = make_user_record(data, partition_key, explicit_hash_key, self._max_record_bytes)
        self._buffer.put(record, block=block, timeout=timeout)
        return record.future

    def flush(self, timeout: float | None = None) -> None:
        """Send what is queued at once and wait until every record sent so far has settled.

        Records sent by other threads meanwhile are waited for too.

        Parameters
        ----------
        timeout : float, optional
            Longest wait, in seconds (None: until done; retries end by ``max_retries``/``retry_deadline``).

        Raises
        ------
        TimeoutError
            Records were still outstanding after ``timeout`` (they keep going).
        """
        if not self._buffer.wait_idle(timeout):
            raise TimeoutError(f"records still outstanding after {timeout} s: {self._buffer.snapshot()}")

    def close(self, timeout: float | None = None) -> None:
        """Take no more records, send what is held, and stop the background thread.

        Closing again does nothing.

        Parameters
        ----------
        timeout : float, optional
            Longest wait for the held records, in seconds.  When it passes, the records not yet written
            fail with :class:`ProducerClosedError` and TimeoutError is raised.

        Raises
        ------
        TimeoutError
            ``timeout`` passed before every record settled.
        """
        with self._close_lock:
            self._buffer.close()
            done = self._buffer.wait_idle(timeout)
            if not done:
                self._buffer.abandon()
            self._thread.join()
        if not done:
            raise TimeoutError(f"close(): records not sent within {timeout} s failed with ProducerClosedError")

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._buffer.closed

    def stats(self) -> dict:
        """The producer's counters now (:data:`shardstream.producing.stats.COUNTERS`) and what it holds.

        Returns
        -------
        dict
            ``user_records_sent``, ``user_records_failed``, ``kinesis_records_sent``,
            ``kinesis_records_failed``, ``kinesis_records_retried``, ``put_calls``, ``put_calls_failed``,
            ``user_bytes``, ``aggregated_bytes``, ``compressed_bytes``, ``put_bytes``,
            ``shard_map_refreshes``, and ``records_queued``, ``records_outstanding``, ``bytes_queued``,
            ``bytes_buffered``.
        """
        return {**self._stats.snapshot(), **self._buffer.snapshot()}

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Producer {self._target.name!r} {state}>"


class AsyncProducer:
    """A :class:`Producer` for asyncio code: ``await producer.send(...)`` returns the record's result.

    ``send`` never blocks the event loop: when ``max_buffered_bytes`` is held it waits for room in a worker
    thread.  Awaiting each send in turn waits for each record's batch; to send many, gather them
    (``await asyncio.gather(*(producer.send(x) for x in items))``).

    Parameters
    ----------
    target : Stream, RemoteStream, str or Producer
        As for :class:`Producer`, or a producer to wrap.
    **options
        :class:`Producer`'s keyword arguments.

    Examples
    --------
    >>> import asyncio, shardstream
    >>> stream = shardstream.Engine().create_stream("events", shard_count=1)
    >>> async def main():
    ...     async with shardstream.AsyncProducer(stream, linger_ms=1) as producer:
    ...         return await producer.send(b"hello", "k")
    >>> asyncio.run(main())["SubSequenceNumber"]
    0
    """

    def __init__(self, target, **options):
        self.producer = target if isinstance(target, Producer) else Producer(target, **options)

    async def send(self, data, partition_key: str | None = None, explicit_hash_key=None) -> dict:
        """Send one record and wait until it is written.

        Parameters
        ----------
        data, partition_key, explicit_hash_key
            As for :meth:`Producer.send`.

        Returns
        -------
        dict
            ``{"ShardId", "SequenceNumber", "SubSequenceNumber"}``.

        Raises
        ------
        KinesisError
            The record was refused (at once) or failed for good.
        """
        try:
            future = self.producer.send(data, partition_key, explicit_hash_key, block=False)
        except BufferFullError:
            future = await asyncio.to_thread(self.producer.send, data, partition_key, explicit_hash_key)
        return await asyncio.wrap_future(future)

    async def flush(self, timeout: float | None = None) -> None:
        """:meth:`Producer.flush` (``timeout``) without blocking the event loop."""
        await asyncio.to_thread(self.producer.flush, timeout)

    async def close(self, timeout: float | None = None) -> None:
        """:meth:`Producer.close` (``timeout``) without blocking the event loop."""
        await asyncio.to_thread(self.producer.close, timeout)

    def stats(self) -> dict:
        """:meth:`Producer.stats`."""
        return self.producer.stats()

    async def __aenter__(self) -> AsyncProducer:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()
