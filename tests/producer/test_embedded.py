"""Producer against the embedded engine: results, batching, flush/close, back-pressure, errors, asyncio."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import wait

import pytest

import shardstream
from shardstream import (
    AsyncProducer,
    BufferFullError,
    InvalidArgumentException,
    Producer,
    ProducerClosedError,
    ResourceNotFoundException,
    SerializationException,
    ValidationException,
)

from .helpers import RecordingStream, payloads_by_key, read_back


@pytest.fixture
def engine():
    return shardstream.Engine()


@pytest.fixture
def stream(engine):
    return engine.create_stream("events", shard_count=4)


def test_every_record_arrives_once_with_its_sequence_number(stream):
    with Producer(stream, linger_ms=1000) as producer:  # close() sends without waiting for linger
        futures = [producer.send(f"r{i}".encode(), partition_key=f"k{i % 7}") for i in range(1000)]
    results = [f.result(timeout=5) for f in futures]
    stored = {(sid, r["SequenceNumber"]): bytes(r["Data"]) for sid, rs in read_back(stream).items() for r in rs}
    assert len(stored) == 1000
    for i, res in enumerate(results):
        assert res["SubSequenceNumber"] == 0
        assert stored[(res["ShardId"], res["SequenceNumber"])] == f"r{i}".encode()
    # same key, same shard, send order
    by_key = payloads_by_key(stream)
    for k in range(7):
        assert by_key[f"k{k}"] == [f"r{i}".encode() for i in range(k, 1000, 7)]
    stats = producer.stats()
    assert stats["user_records_sent"] == stats["kinesis_records_sent"] == 1000
    assert stats["put_calls"] <= 4  # batches of up to 500 (a full batch is taken with what queued meanwhile)
    assert stats["user_bytes"] == stats["put_bytes"] == sum(len(f"r{i}") + len(f"k{i % 7}") for i in range(1000))
    assert stats["records_outstanding"] == 0 and stats["bytes_buffered"] == 0


def test_calls_stay_within_the_batch_limits(stream):
    recording = RecordingStream(stream)
    with Producer(recording, linger_ms=1000, max_batch_records=37, max_batch_bytes=4000) as producer:
        for i in range(500):
            producer.send(b"x" * (i % 90), partition_key=f"key-{i}")
    assert sum(n for n, _ in recording.calls) == 500
    assert all(n <= 37 and nbytes <= 4000 for n, nbytes in recording.calls)
    assert max(n for n, _ in recording.calls) == 37  # a full batch is sent without waiting for linger


def test_linger_sends_a_lone_record_and_flush_does_not_wait_for_it(stream):
    with Producer(stream, linger_ms=20) as producer:
        assert producer.send(b"a", "k").result(timeout=5)["ShardId"].startswith("shardId-")
    slow = Producer(stream, linger_ms=60_000)
    future = slow.send(b"b", "k")
    assert not future.done()
    slow.flush(timeout=5)
    assert future.done() and future.result()["SequenceNumber"]
    slow.close()


def test_no_partition_key_draws_a_random_one(stream):
    with Producer(stream, linger_ms=1) as producer:
        futures = [producer.send(b"x") for _ in range(200)]
    wait(futures)
    keys = [r["PartitionKey"] for rs in read_back(stream).values() for r in rs]
    assert len(set(keys)) == 200 and all(len(k) == 32 and int(k, 16) >= 0 for k in keys)
    assert len({f.result()["ShardId"] for f in futures}) == 4  # spread over the shards


def test_explicit_hash_key_routes_the_record(stream):
    last = str(2**128 - 1)
    with Producer(stream, linger_ms=1) as producer:
        a = producer.send(b"a", "k", explicit_hash_key=0)
        b = producer.send(b"b", "k", explicit_hash_key=last)
    assert a.result()["ShardId"] == "shardId-000000000000"
    assert b.result()["ShardId"] == "shardId-000000000003"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"partition_key": ""}, ValidationException, "partitionKey"),
        ({"partition_key": "k" * 257}, ValidationException, "Member must have length less than or equal to 256"),
        ({"partition_key": 5}, SerializationException, "partition_key"),
        ({"explicit_hash_key": "12x"}, ValidationException, "explicitHashKey"),
        ({"explicit_hash_key": str(2**128)}, InvalidArgumentException, "ExplicitHashKey must be in the range"),
        ({"data": b"x" * (1024 * 1024 + 1)}, ValidationException, "Member must have length less than or equal to"),
        ({"data": b"x" * (1024 * 1024 - 1), "partition_key": "kk"}, InvalidArgumentException, "max record size"),
        ({"data": 12}, SerializationException, "bytes-like"),
    ],
)
def test_a_bad_record_is_refused_at_send_and_nothing_is_queued(stream, kwargs, error, text):
    args = {"data": b"ok", "partition_key": "k", **kwargs}
    with Producer(stream, linger_ms=1) as producer:
        with pytest.raises(error, match=text):
            producer.send(args.pop("data"), **args)
        assert producer.stats()["records_outstanding"] == 0
    assert producer.stats()["put_calls"] == 0
    assert all(not rs for rs in read_back(stream).values())


def test_send_after_close_raises_and_close_is_idempotent(stream):
    producer = Producer(stream, linger_ms=60_000)
    future = producer.send(b"queued", "k")
    producer.close()
    assert future.result(timeout=0)["ShardId"]  # close sent it
    producer.close()
    assert producer.closed
    with pytest.raises(ProducerClosedError):
        producer.send(b"late", "k")


def test_back_pressure_blocks_or_refuses(engine):
    # linger holds the first record (and its bytes) until the flush
    stream = engine.create_stream("tight", shard_count=1)
    with Producer(stream, linger_ms=60_000, max_buffered_bytes=100) as producer:
        producer.send(b"x" * 60, "k")
        with pytest.raises(BufferFullError, match="max_buffered_bytes=100"):
            producer.send(b"y" * 60, "k", block=False)
        with pytest.raises(BufferFullError):
            producer.send(b"y" * 60, "k", timeout=0.05)
        unblocked = threading.Event()

        def blocked_send():
            producer.send(b"z" * 60, "k")
            unblocked.set()

        t = threading.Thread(target=blocked_send)
        t.start()
        assert not unblocked.wait(0.1)
        producer.flush(timeout=5)  # the first record is written, its bytes freed
        assert unblocked.wait(5)
        t.join()
    assert [bytes(r["Data"]) for r in read_back(stream)["shardId-000000000000"]] == [b"x" * 60, b"z" * 60]


def test_a_record_bigger_than_the_buffer_still_goes_alone(stream):
    with Producer(stream, linger_ms=1, max_buffered_bytes=10) as producer:
        assert producer.send(b"x" * 1000, "k").result(timeout=5)["SequenceNumber"]


@pytest.mark.parametrize("aggregate", [False, True])
def test_deleting_the_stream_fails_the_futures_without_hanging(engine, stream, aggregate):
    producer = Producer(stream, linger_ms=1, retry_deadline=5, aggregate=aggregate)
    assert producer.send(b"before", "k").result(timeout=5)
    engine.delete_stream("events")
    futures = [producer.send(b"after", f"k{i}") for i in range(50)]
    done, not_done = wait(futures, timeout=5)
    assert not not_done
    for f in futures:
        assert isinstance(f.exception(), ResourceNotFoundException)
    producer.close(timeout=5)
    stats = producer.stats()
    assert stats["user_records_failed"] == 50 and stats["kinesis_records_retried"] == 0


def test_cancelled_futures_are_not_sent(stream):
    with Producer(stream, linger_ms=60_000) as producer:
        keep = producer.send(b"keep", "k")
        drop = producer.send(b"drop", "k")
        assert drop.cancel()
    assert keep.result()["SequenceNumber"]
    assert [bytes(r["Data"]) for rs in read_back(stream).values() for r in rs] == [b"keep"]
    assert producer.stats()["records_outstanding"] == 0


def test_close_with_a_timeout_fails_what_it_could_not_send(engine):
    stream = engine.create_stream(
        "slow", shard_count=1, throughput_limits=shardstream.ThroughputLimits(write_records_per_s=1)
    )
    producer = Producer(stream, linger_ms=0, max_retries=1000, retry_deadline=None, backoff_base=0.01, backoff_cap=0.02)
    futures = [producer.send(b"x", "k") for _ in range(50)]
    with pytest.raises(TimeoutError):
        producer.close(timeout=0.2)
    failed = [f for f in futures if f.exception() is not None]
    assert failed and all(isinstance(f.exception(), ProducerClosedError) for f in failed)
    written = len(read_back(stream)["shardId-000000000000"])
    assert written == 50 - len(failed) and written <= 1  # the shard takes one record a second


@pytest.mark.parametrize("value", [-1, "5"])
def test_bad_options_are_refused(stream, value):
    with pytest.raises(ValueError, match="linger_ms"):
        Producer(stream, linger_ms=value)
    with pytest.raises(ValueError, match="max_batch_records"):
        Producer(stream, max_batch_records=501)
    with pytest.raises(ValueError, match="max_batch_bytes"):
        Producer(stream, max_batch_bytes=5 * 1024 * 1024 + 1)
    with pytest.raises(ValueError, match="compression"):
        Producer(stream, compression="brotli")
    with pytest.raises(TypeError, match="engine="):
        Producer("events")
    with pytest.raises(TypeError, match="not int"):
        Producer(42)


def test_a_stream_name_with_its_engine(engine, stream):
    with Producer("events", engine=engine, linger_ms=1) as producer:
        assert producer.stream_name == "events"
        assert producer.send(b"x", "k").result(timeout=5)["ShardId"]


def test_async_producer(stream):
    async def main():
        async with AsyncProducer(stream, linger_ms=2) as producer:
            first = await producer.send(b"one", "k")
            rest = await asyncio.gather(*(producer.send(b"n%d" % i, "k") for i in range(100)))
            with pytest.raises(ValidationException):
                await producer.send(b"bad", "")
            return first, rest, producer.stats()

    first, rest, stats = asyncio.run(main())
    assert first["SubSequenceNumber"] == 0 and len(rest) == 100
    assert stats["user_records_sent"] == 101 and stats["put_calls"] < 101


def test_a_dropped_producer_still_sends_what_it_holds_and_its_thread_stops(stream):
    import gc

    producer = Producer(stream, linger_ms=60_000)
    future = producer.send(b"orphan", "k")
    (thread,) = [t for t in threading.enumerate() if t.name == "shardstream-producer-events"]
    del producer
    gc.collect()
    assert future.result(timeout=5)["SequenceNumber"]
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_many_threads_send_at_once(stream):
    with Producer(stream, linger_ms=2) as producer:

        def send_some(t):
            return [producer.send(b"%d-%d" % (t, i), f"thread-{t}") for i in range(500)]

        threads, results = [], {}
        for t in range(4):
            threads.append(threading.Thread(target=lambda t=t: results.setdefault(t, send_some(t))))
            threads[-1].start()
        for thread in threads:
            thread.join()
    by_key = payloads_by_key(stream)
    for t in range(4):
        assert all(f.result()["SequenceNumber"] for f in results[t])
        assert by_key[f"thread-{t}"] == [b"%d-%d" % (t, i) for i in range(500)]  # each thread's order kept


def test_cancelling_a_record_already_in_a_batch_does_not_break_the_producer(engine):
    limits = shardstream.ThroughputLimits(write_records_per_s=1)
    stream = engine.create_stream("one-a-second", shard_count=1, throughput_limits=limits)
    producer = Producer(stream, linger_ms=0, max_retries=1000, retry_deadline=None, backoff_base=0.01)
    first, second = producer.send(b"1", "k"), producer.send(b"2", "k")
    assert first.result(timeout=5)["SequenceNumber"]  # the second waits for budget: taken, being retried
    assert second.cancel()
    with pytest.raises(TimeoutError):
        producer.close(timeout=0.1)
    assert second.cancelled() and producer.stats()["records_outstanding"] == 0
    assert [bytes(r["Data"]) for r in read_back(stream)["shardId-000000000000"]] == [b"1"]
