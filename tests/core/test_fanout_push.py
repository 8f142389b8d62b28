"""Enhanced fan-out pushed on write: an idle subscription is woken by the next write, not by a poll timer.

Every subscription here polls only every 5 s (``PUSH``) and heartbeats as rarely: an event that
arrives well within a second of the write was pushed, not found by a poll.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from conftest import shard_id

import shardstream
from shardstream.errors import ResourceInUseException
from shardstream.write_signal import WriteSignal

SID = shard_id(0)
PUSH = {"poll_interval_s": 5.0, "heartbeat_s": 5.0}
BOUND_S = 0.5  # far above the push's latency (well under a millisecond), far below the 5 s poll


def register(engine, stream, name="app") -> str:
    return engine.register_stream_consumer(stream.arn, name)["Consumer"]["ConsumerARN"]


def until(condition, timeout=5.0) -> None:
    """Wait until ``condition()`` holds (a state without an event to wait on: a reader being blocked)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.001)


async def until_async(condition, timeout=5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.001)


def idle_subscription(engine, stream, **kw):
    """A subscription at LATEST whose first (empty) event has been taken."""
    subscription = engine.subscribe_to_shard(register(engine, stream), SID, {"Type": "LATEST"}, **PUSH, **kw)
    assert next(subscription)["Records"] == []
    return subscription


class Reader(threading.Thread):
    """Iterates a subscription in a thread; ``arrived`` is set (with the time) at the first event with records."""

    def __init__(self, subscription):
        super().__init__(daemon=True)
        self.subscription = subscription
        self.arrived = threading.Event()
        self.at = None
        self.records = []
        self.error = None

    def run(self) -> None:
        try:
            for event in self.subscription:
                if event["Records"]:
                    self.at = time.monotonic()
                    self.records = event["Records"]
                    self.arrived.set()
                    return
        except Exception as exc:  # handed to the test
            self.error = exc
        self.arrived.set()


def put_to_blocked_reader(stream, subscription, put) -> tuple[float, list]:
    """Put once the reader thread waits on the signal; (seconds from put to event, records)."""
    reader = Reader(subscription)
    reader.start()
    until(lambda: stream.writes.waiting == 1)
    began = time.monotonic()
    put()
    assert reader.arrived.wait(5)
    reader.join(5)
    assert reader.error is None
    return reader.at - began, reader.records


# -- threads ---------------------------------------------------------------------------------


def test_a_blocked_thread_is_woken_by_put_record(engine):
    stream = engine.create_stream("s", 1)
    with idle_subscription(engine, stream) as subscription:
        took, records = put_to_blocked_reader(stream, subscription, lambda: stream.put_record(b"now", "k"))
    assert [r["Data"] for r in records] == [b"now"]
    assert took < BOUND_S
    assert stream.writes.waiting == 0 and stream.write_signal is None  # nobody watches once it ended


def test_a_blocked_thread_is_woken_by_put_records_and_put_batch(engine):
    stream = engine.create_stream("s", 1)
    with idle_subscription(engine, stream) as subscription:
        put = lambda: stream.put_records([{"Data": b"a", "PartitionKey": "k"}, {"Data": b"b", "PartitionKey": "k"}])  # noqa: E731
        took, records = put_to_blocked_reader(stream, subscription, put)
        assert [r["Data"] for r in records] == [b"a", b"b"] and took < BOUND_S
        took, records = put_to_blocked_reader(stream, subscription, lambda: stream.put_batch(["k"], [b"c"]))
        assert [r["Data"] for r in records] == [b"c"] and took < BOUND_S


def test_a_write_between_the_read_and_the_wait_is_not_lost(engine):
    stream = engine.create_stream("s", 1)
    signal = stream.writes
    with signal.watching():
        generation = signal.generation  # a reader looked at the shard here and found nothing ...
        stream.put_record(b"x", "k")  # ... a write lands before it waits ...
        began = time.monotonic()
        assert signal.wait(generation, 5.0)  # ... and its wait returns at once
    assert time.monotonic() - began < BOUND_S


def test_every_subscription_of_the_stream_is_woken(engine):
    stream = engine.create_stream("s", 2)
    arn = register(engine, stream)
    subscriptions = [engine.subscribe_to_shard(arn, shard_id(i), {"Type": "LATEST"}, **PUSH) for i in range(2)]
    readers = []
    for subscription in subscriptions:
        next(subscription)
        readers.append(Reader(subscription))
        readers[-1].start()
    until(lambda: stream.writes.waiting == 2)
    began = time.monotonic()
    stream.put_records(
        [
            {"Data": b"0", "PartitionKey": "k", "ExplicitHashKey": "0"},
            {"Data": b"1", "PartitionKey": "k", "ExplicitHashKey": str(2**127)},
        ]
    )
    for reader, data in zip(readers, [b"0", b"1"]):
        assert reader.arrived.wait(5) and reader.error is None
        assert [r["Data"] for r in reader.records] == [data] and reader.at - began < BOUND_S
    for subscription in subscriptions:
        subscription.close()


def test_a_blocked_thread_is_woken_by_deregistration(engine):
    stream = engine.create_stream("s", 1)
    subscription = idle_subscription(engine, stream)
    reader = Reader(subscription)
    reader.start()
    until(lambda: stream.writes.waiting == 1)
    began = time.monotonic()
    engine.deregister_stream_consumer(consumer_arn=subscription.consumer_arn)
    assert reader.arrived.wait(5) and time.monotonic() - began < BOUND_S
    assert isinstance(reader.error, ResourceInUseException)


def test_a_blocked_thread_is_woken_by_the_stream_being_deleted(engine):
    stream = engine.create_stream("s", 1)
    subscription = idle_subscription(engine, stream)
    reader = Reader(subscription)
    reader.start()
    until(lambda: stream.writes.waiting == 1)
    began = time.monotonic()
    engine.delete_stream("s", enforce_consumer_deletion=True)
    assert reader.arrived.wait(5) and time.monotonic() - began < BOUND_S
    assert isinstance(reader.error, ResourceInUseException)
    assert not subscription.live


def test_a_blocked_thread_ends_when_the_engine_closes():
    engine = shardstream.Engine()
    stream = engine.create_stream("s", 1)
    subscription = idle_subscription(engine, stream)
    reader = Reader(subscription)
    reader.start()
    until(lambda: stream.writes.waiting == 1)
    began = time.monotonic()
    engine.close()
    assert reader.arrived.wait(5) and time.monotonic() - began < BOUND_S
    assert reader.error is None and reader.records == []


def test_sync_durable_records_are_pushed_once_on_disk(tmp_path):
    # under "sync" a record is readable only after its fsync, which comes after the write fired the signal
    engine = shardstream.Engine(data_dir=tmp_path, durability="sync")
    try:
        stream = engine.create_stream("s", 1)
        with idle_subscription(engine, stream) as subscription:
            took, records = put_to_blocked_reader(stream, subscription, lambda: stream.put_record(b"durable", "k"))
        assert [r["Data"] for r in records] == [b"durable"] and took < BOUND_S
    finally:
        engine.close()


def test_a_records_put_from_another_thread_under_sync_reaches_a_blocked_reader(tmp_path):
    # the put's own commit and the subscription's commit callback race: whichever flush covers it wakes it
    engine = shardstream.Engine(data_dir=tmp_path, durability="sync")
    try:
        stream = engine.create_stream("s", 1)
        with idle_subscription(engine, stream) as subscription:
            for i in range(5):
                took, records = put_to_blocked_reader(
                    stream, subscription, lambda i=i: stream.put_batch(["k"], [b"%d" % i])
                )
                assert [r["Data"] for r in records] == [b"%d" % i] and took < BOUND_S
    finally:
        engine.close()


# -- asyncio ---------------------------------------------------------------------------------


async def first_records(subscription) -> tuple[float, list]:
    async for event in subscription:
        if event["Records"]:
            return time.monotonic(), event["Records"]
    raise AssertionError("ended without records")


def test_a_waiting_coroutine_is_woken_by_a_put_on_its_loop(engine):
    stream = engine.create_stream("s", 1)

    async def scenario():
        with idle_subscription(engine, stream) as subscription:
            task = asyncio.ensure_future(first_records(subscription))
            await until_async(lambda: stream.writes.waiting == 1)
            began = time.monotonic()
            stream.put_record(b"on the loop", "k")
            at, records = await asyncio.wait_for(task, 5)
        return at - began, records

    took, records = asyncio.run(scenario())
    assert [r["Data"] for r in records] == [b"on the loop"] and took < BOUND_S


def test_a_waiting_coroutine_is_woken_by_a_put_from_another_thread(engine):
    stream = engine.create_stream("s", 1)

    async def scenario():
        with idle_subscription(engine, stream) as subscription:
            task = asyncio.ensure_future(first_records(subscription))
            await until_async(lambda: stream.writes.waiting == 1)
            began = time.monotonic()
            writer = threading.Thread(target=stream.put_record, args=(b"from a thread", "k"))
            writer.start()
            at, records = await asyncio.wait_for(task, 5)
            writer.join()
        return at - began, records

    took, records = asyncio.run(scenario())
    assert [r["Data"] for r in records] == [b"from a thread"] and took < BOUND_S


def test_a_waiting_coroutine_ends_at_once_when_closed_from_another_thread(engine):
    stream = engine.create_stream("s", 1)

    async def scenario():
        subscription = idle_subscription(engine, stream)
        task = asyncio.ensure_future(first_records(subscription))
        await until_async(lambda: stream.writes.waiting == 1)
        began = time.monotonic()
        threading.Thread(target=subscription.close).start()
        with pytest.raises(AssertionError, match="ended without records"):
            await asyncio.wait_for(task, 5)
        return time.monotonic() - began

    assert asyncio.run(scenario()) < BOUND_S


def test_a_waiting_coroutine_raises_at_once_on_deregistration(engine):
    stream = engine.create_stream("s", 1)

    async def scenario():
        subscription = idle_subscription(engine, stream)
        task = asyncio.ensure_future(first_records(subscription))
        await until_async(lambda: stream.writes.waiting == 1)
        began = time.monotonic()
        engine.deregister_stream_consumer(consumer_arn=subscription.consumer_arn)
        with pytest.raises(ResourceInUseException):
            await asyncio.wait_for(task, 5)
        return time.monotonic() - began

    assert asyncio.run(scenario()) < BOUND_S


def test_a_cancelled_coroutine_stops_waiting_and_watching(engine):
    stream = engine.create_stream("s", 1)

    async def scenario():
        with idle_subscription(engine, stream) as subscription:
            task = asyncio.ensure_future(first_records(subscription))
            await until_async(lambda: stream.writes.waiting == 1)
            assert stream.write_signal is not None
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert stream.writes.waiting == 0 and stream.write_signal is None
            stream.put_record(b"after", "k")  # nobody to wake: nothing happens
            assert [r["Data"] for r in next(subscription)["Records"]] == [b"after"]

    asyncio.run(scenario())


# -- the signal's asyncio waits ----------------------------------------------------------------


class _Holder:
    write_signal = None


def test_wait_async_returns_at_once_when_the_generation_already_moved():
    signal = WriteSignal(_Holder())
    generation = signal.generation
    signal.notify()
    assert asyncio.run(signal.wait_async(generation, 5.0)) is True
    assert signal.waiting == 0


def test_wait_async_times_out_when_nothing_fires():
    signal = WriteSignal(_Holder())

    async def scenario():
        began = time.monotonic()
        fired = await signal.wait_async(signal.generation, 0.05)
        return fired, time.monotonic() - began

    fired, took = asyncio.run(scenario())
    assert fired is False and 0.04 <= took < 2
    assert signal.waiting == 0


def test_one_notify_wakes_every_waiter_of_every_loop():
    signal = WriteSignal(_Holder())
    generation = signal.generation
    results = []

    def other_loop():
        results.append(asyncio.run(signal.wait_async(generation, 5.0)))

    async def scenario():
        others = [threading.Thread(target=other_loop) for _ in range(2)]
        for t in others:
            t.start()
        here = [asyncio.ensure_future(signal.wait_async(generation, 5.0)) for _ in range(2)]
        blocked_thread = threading.Thread(target=lambda: results.append(signal.wait(generation, 5.0)))
        blocked_thread.start()
        await until_async(lambda: signal.waiting == 5)
        threading.Thread(target=signal.notify).start()
        results.extend(await asyncio.gather(*here))
        for t in [*others, blocked_thread]:
            t.join(5)

    began = time.monotonic()
    asyncio.run(scenario())
    assert results == [True] * 5 and time.monotonic() - began < 2
    assert signal.waiting == 0


def test_a_reshard_wakes_an_idle_subscription_with_its_child_shards():
    engine = shardstream.Engine()
    stream = engine.create_stream("s", 1)
    subscription = idle_subscription(engine, stream)
    out: dict = {}

    def read():
        for event in subscription:
            if event.get("ChildShards"):
                out["at"], out["children"] = time.monotonic(), event["ChildShards"]
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    until(lambda: stream.writes.waiting > 0)
    began = time.monotonic()
    stream.update_shard_count(2)
    reader.join(BOUND_S * 4)
    assert "at" in out and out["at"] - began < BOUND_S  # woken by the reshard, not by the 5 s poll
    assert len(out["children"]) == 2
    engine.close()


# -- a reader of one shard wakes only for that shard ---------------------------------------------------


def test_a_thread_waiting_on_one_shard_sleeps_through_writes_to_another(engine):
    stream = engine.create_stream("s", 2)
    signal = stream.writes
    first, second = stream.shard_log(shard_id(0)), stream.shard_log(shard_id(1))
    woken = []
    with signal.watching():
        generation = signal.generation_of(first)
        waiter = threading.Thread(target=lambda: woken.append(signal.wait(generation, 5.0, first)))
        waiter.start()
        until(lambda: signal.waiting == 1)
        stream.put_record(b"elsewhere", "k", explicit_hash_key=str(2**127))  # the second shard
        assert signal.generation_of(second) == signal.generation_of(first) + 1
        assert signal.generation_of(first) == generation
        waiter.join(0.05)
        assert waiter.is_alive() and signal.waiting == 1  # not woken
        stream.put_record(b"here", "k", explicit_hash_key="0")
        waiter.join(BOUND_S)
    assert woken == [True] and signal.waiting == 0


def test_a_batch_or_a_notify_naming_no_shard_wakes_every_shards_readers(engine):
    stream = engine.create_stream("s", 2)
    signal = stream.writes
    logs = [stream.shard_log(shard_id(i)) for i in range(2)]
    with signal.watching():
        for wake in [lambda: stream.put_batch(["k"], [b"x"]), signal.notify]:
            generations = [signal.generation_of(log) for log in logs]
            woken = []
            waiters = [
                threading.Thread(target=lambda g=g, log=log: woken.append(signal.wait(g, 5.0, log)))
                for g, log in zip(generations, logs)
            ]
            for waiter in waiters:
                waiter.start()
            until(lambda: signal.waiting == 2)
            wake()
            for waiter in waiters:
                waiter.join(BOUND_S)
            assert woken == [True, True] and signal.waiting == 0


def test_a_coroutine_waiting_on_one_shard_sleeps_through_writes_to_another(engine):
    stream = engine.create_stream("s", 2)
    signal = stream.writes
    first = stream.shard_log(shard_id(0))

    async def scenario():
        with signal.watching():
            generation = signal.generation_of(first)
            waiting = asyncio.ensure_future(signal.wait_async(generation, 5.0, first))
            await until_async(lambda: signal.waiting == 1)
            stream.put_record(b"elsewhere", "k", explicit_hash_key=str(2**127))
            await asyncio.sleep(0.05)
            assert not waiting.done() and signal.waiting == 1
            stream.put_record(b"here", "k", explicit_hash_key="0")
            return await asyncio.wait_for(waiting, BOUND_S)

    assert asyncio.run(scenario()) is True and signal.waiting == 0
