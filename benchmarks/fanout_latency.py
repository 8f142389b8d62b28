"""Put -> subscriber latency of enhanced fan-out (SubscribeToShard), pushed on write vs polled, and what a subscriber costs puts.

Run: ``python benchmarks/fanout_latency.py [--samples N] [--poll-samples M] [--rounds R]``.

Latency: one record at a time is put on a 1-shard stream while a subscription
(``LATEST``) waits idle; the time from just before the put call to the
subscriber holding the event is one sample.  Printed: p50 and p99 (µs) per path,
and the ratio of the polled path's median to the pushed one's.

* ``push``: the subscription as shipped: it waits on the stream's write signal
  (``Subscription.__next__`` in a thread, ``__anext__`` on an event loop), and
  the put is made once it is blocked (``stream.writes.waiting``), so every
  sample measures a wake-up by the write.
* ``poll``: the same subscription read the way it was before the push: read
  once (``Subscription.poll``), and when there is nothing new sleep
  ``--poll-interval`` (0.1 s, the former and current default
  ``poll_interval_s``) -- ``time.sleep`` in the thread, ``asyncio.sleep`` on
  the loop.  Through the server the old ``__anext__`` is put back on the
  class for that run.  Puts come at a random phase of the sleep.
* paths: ``thread`` (subscriber iterating in a thread, puts from the main
  thread), ``asyncio`` (subscriber coroutine and putting coroutine on one
  loop), ``thread sync`` (an ``Engine(data_dir, durability="sync")`` stream:
  a record is readable only once ``fsync``-ed; its put returns after the
  fsync), and ``server``: ``shardstream.testing.start_server`` in this process
  (its own thread and loop) with boto3 clients: ``put_record`` on one, the
  ``subscribe_to_shard`` event stream read in a thread on another.  The sync
  and server rows are followed by the ``put_record`` call's own duration (the
  fsync; boto3's round trip), which the push latency includes.

Put cost: per-record time of ``put_record`` (``--put-records`` calls) and of
``put_batch`` (batches of 100) with no subscriber, with the write signal
watched by a reader that never blocks (the hook's own cost), with a live
thread subscriber consuming every record (woken by the writes; it shares the
GIL with the writer, which is part of what it costs), and with one consuming
them as before the push (polled every ``--poll-interval``: the same reading
work, done in bigger batches).  Configurations are
interleaved in each of ``--rounds`` rounds; medians and ratios to "none".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time

import shardstream
from shardstream.subscription import Subscription
from shardstream.testing import boto3_client, start_server

SID = "shardId-000000000000"
IDLE = {"poll_interval_s": 30.0, "heartbeat_s": 30.0}  # push: nothing but a write wakes it


def pct(values: list, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def new_subscription(engine, name: str, **timings):
    stream = engine.create_stream(name, 1)
    arn = engine.register_stream_consumer(stream.arn, "bench")["Consumer"]["ConsumerARN"]
    subscription = engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, **timings)
    return stream, subscription


def until_blocked(stream) -> None:
    while not stream.writes.waiting:
        time.sleep(0.0002)


def polled(subscription, interval: float):
    """The subscription read as before the push: poll, else sleep the poll interval."""
    while True:
        try:
            event = subscription.poll()
        except StopIteration:
            return
        if event is not None:
            yield event
        else:
            time.sleep(interval)


# -- embedded, a subscriber thread ----------------------------------------------------------------


def thread_latency(engine, name: str, n: int, interval: float | None) -> tuple[list, list]:
    """(put -> event samples, put call durations) in seconds with a subscriber thread.

    Pushed (``interval`` None) or polled every ``interval``.
    """
    stream, subscription = new_subscription(engine, name, **IDLE)
    next(subscription)
    got = threading.Event()
    arrivals: list = []

    def reader() -> None:
        events = subscription if interval is None else polled(subscription, interval)
        for event in events:
            if event["Records"]:
                arrivals.append(time.perf_counter())
                got.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    samples, trips = [], []
    for i in range(n):
        if interval is None:
            until_blocked(stream)
        else:
            time.sleep(random.uniform(0, interval))
        got.clear()
        began = time.perf_counter()
        stream.put_record(b"x" * 100, "k")
        trips.append(time.perf_counter() - began)
        if not got.wait(10):
            raise RuntimeError("no event")
        samples.append(arrivals[-1] - began)
    subscription.close()
    thread.join(10)
    return samples, trips


# -- embedded, asyncio ----------------------------------------------------------------------------


def asyncio_latency(engine, name: str, n: int, interval: float | None) -> tuple[list, None]:
    """(put -> event samples in seconds, None) with the subscriber and the writer as coroutines of one loop."""
    stream, subscription = new_subscription(engine, name, **IDLE)
    next(subscription)

    async def polled_async():
        while True:
            try:
                event = subscription.poll()
            except StopIteration:
                return
            if event is not None:
                yield event
            else:
                await asyncio.sleep(interval)

    async def scenario() -> list:
        got = asyncio.Event()
        arrivals: list = []

        async def reader() -> None:
            events = subscription if interval is None else polled_async()
            async for event in events:
                if event["Records"]:
                    arrivals.append(time.perf_counter())
                    got.set()

        task = asyncio.ensure_future(reader())
        samples = []
        for i in range(n):
            if interval is None:
                while not stream.writes.waiting:
                    await asyncio.sleep(0)
            else:
                await asyncio.sleep(random.uniform(0, interval))
            got.clear()
            began = time.perf_counter()
            stream.put_record(b"x" * 100, "k")
            await asyncio.wait_for(got.wait(), 10)
            samples.append(arrivals[-1] - began)
        subscription.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return samples

    return asyncio.run(scenario()), None


# -- through the server ---------------------------------------------------------------------------


async def _polled_anext(self):
    """``Subscription.__anext__`` before the push (its body as it was): poll, else sleep the poll interval."""
    while True:
        try:
            event = self.poll()
        except StopIteration:
            raise StopAsyncIteration from None
        if event is not None:
            await asyncio.sleep(0)
            return event
        await asyncio.sleep(_polled_anext.interval)


@contextlib.contextmanager
def polling_server_subscriptions(interval: float):
    pushed = Subscription.__anext__
    _polled_anext.interval = interval
    Subscription.__anext__ = _polled_anext
    try:
        yield
    finally:
        Subscription.__anext__ = pushed


def server_latency(n: int, interval: float | None) -> tuple[list, list]:
    """(put -> event samples, put_record round trips) in seconds, through a loopback server and boto3."""
    engine = shardstream.Engine()
    engine.fanout.poll_interval_s = IDLE["poll_interval_s"]
    engine.fanout.heartbeat_s = IDLE["heartbeat_s"]
    with start_server(engine) as server:
        writer, subscriber = boto3_client(server.url), boto3_client(server.url)
        writer.create_stream(StreamName="s", ShardCount=1)
        stream = engine.stream("s")
        arn = writer.register_stream_consumer(StreamARN=stream.arn, ConsumerName="bench")["Consumer"]["ConsumerARN"]
        for _ in range(20):  # warm the connections and the put path
            writer.put_record(StreamName="s", Data=b"w", PartitionKey="k")
        events = subscriber.subscribe_to_shard(ConsumerARN=arn, ShardId=SID, StartingPosition={"Type": "LATEST"})
        got, first = threading.Event(), threading.Event()
        arrivals: list = []

        def reader() -> None:
            with contextlib.suppress(Exception):  # the stream is closed under it at the end
                for event in events["EventStream"]:
                    first.set()
                    if event["SubscribeToShardEvent"]["Records"]:
                        arrivals.append(time.perf_counter())
                        got.set()

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        first.wait(10)
        samples, trips = [], []
        for i in range(n):
            if interval is None:
                until_blocked(stream)
            else:
                time.sleep(random.uniform(0, interval))
            got.clear()
            began = time.perf_counter()
            writer.put_record(StreamName="s", Data=b"x" * 100, PartitionKey="k")
            trips.append(time.perf_counter() - began)
            if not got.wait(10):
                raise RuntimeError("no event")
            samples.append(arrivals[-1] - began)
        events["EventStream"].close()
        thread.join(10)
    engine.close()
    return samples, trips


# -- what a subscriber costs puts -----------------------------------------------------------------


def put_cost(mode: str, kind: str, n: int, interval: float = 0.1) -> tuple[float, float]:
    """(writer wall seconds, process CPU seconds) per record of ``n`` records put with ``put_record`` or ``put_batch``.

    ``put_batch`` puts 100 records a call.  ``mode``: "none" (no reader), "watched" (the write hook
    on, nobody waiting), "pushed" (a subscriber thread woken by the writes) or "polled" (one reading
    as before the push, every ``interval`` seconds).  The CPU time (every thread of the process) runs
    until the subscriber has read every record, so it counts the reading work, whenever it is done.
    """
    engine = shardstream.Engine()
    stream = engine.create_stream("s", 1, shard_capacity_bytes=256 * 1024 * 1024)
    keys, payload = [f"k{i}" for i in range(100)], [b"x" * 100] * 100
    stack = contextlib.ExitStack()
    thread = None
    seen = [0]
    drained = threading.Event()
    if mode == "watched":
        stack.enter_context(stream.writes.watching())
    elif mode in ("pushed", "polled"):
        arn = engine.register_stream_consumer(stream.arn, "bench")["Consumer"]["ConsumerARN"]
        subscription = engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, **IDLE)
        next(subscription)

        def reader() -> None:
            for event in subscription if mode == "pushed" else polled(subscription, interval):
                seen[0] += len(event["Records"])
                if seen[0] >= n:
                    drained.set()

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        if mode == "pushed":
            until_blocked(stream)
    with stack:
        cpu = time.process_time()
        began = time.perf_counter()
        if kind == "put_record":
            put = stream.put_record
            for i in range(n):
                put(b"x" * 100, "k")
        else:
            for _ in range(n // 100):
                stream.put_batch(keys, payload)
        elapsed = time.perf_counter() - began
    if thread is not None:
        drained.wait(30)
        cpu = time.process_time() - cpu
        subscription.close()
        thread.join(10)
    else:
        cpu = time.process_time() - cpu
    engine.close()
    return elapsed / n, cpu / n


# -- the report -----------------------------------------------------------------------------------


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f}" if seconds >= 1e-4 else f"{seconds * 1e6:.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400, help="pushed samples per path")
    parser.add_argument("--poll-samples", type=int, default=40, help="polled samples per path (each ~interval/2)")
    parser.add_argument("--poll-interval", type=float, default=0.1)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the put-cost comparison")
    parser.add_argument("--put-records", type=int, default=20_000)
    args = parser.parse_args(argv)
    random.seed(7)
    rows = []
    with tempfile.TemporaryDirectory() as path:
        durable = shardstream.Engine(data_dir=path, durability="sync")
        memory = shardstream.Engine()
        paths = {
            "thread": lambda name, n, iv: thread_latency(memory, name, n, iv),
            "asyncio": lambda name, n, iv: asyncio_latency(memory, name, n, iv),
            "thread, sync durable": lambda name, n, iv: thread_latency(durable, name, n, iv),
        }
        for i, (label, run) in enumerate(paths.items()):
            push, trips = run(f"push{i}", args.samples, None)
            poll, _ = run(f"poll{i}", args.poll_samples, args.poll_interval)
            rows.append((label, push, poll, trips if "durable" in label else None))
        durable.close()
        memory.close()
    push, trips = server_latency(args.samples, None)
    with polling_server_subscriptions(args.poll_interval):
        poll, _ = server_latency(args.poll_samples, args.poll_interval)
    rows.append(("server + boto3", push, poll, trips))

    print(f"## Put -> subscriber latency (µs), poll interval {args.poll_interval * 1000:g} ms\n")
    print("| path | push p50 | push p99 | poll p50 | poll p99 | poll p50 / push p50 |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, push, poll, trips in rows:
        p50, q50 = statistics.median(push), statistics.median(poll)
        print(
            f"| {label} | {us(p50)} | {us(pct(push, 0.99))} | {us(q50)} | {us(pct(poll, 0.99))} | {q50 / p50:,.0f}x |"
        )
        if trips:
            print(
                f"| ({label}: the put_record call alone) | {us(statistics.median(trips))} | {us(pct(trips, 0.99))} | | | |"
            )
    print(f"\npush: {args.samples} samples per path; poll: {args.poll_samples}")

    modes = ["none", "watched", "pushed", "polled"]
    costs: dict = {(m, k): [] for m in modes for k in ("put_record", "put_batch")}
    put_cost("none", "put_record", 2000)  # warm-up
    for _ in range(args.rounds):
        for kind in ("put_record", "put_batch"):
            for mode in modes:
                n = args.put_records if kind == "put_record" else args.put_records * 10
                costs[(mode, kind)].append(put_cost(mode, kind, n, args.poll_interval))
    print(f"\n## Put cost per record (ns), medians of {args.rounds} interleaved rounds (ratio to none)\n")
    print("writer: the putting thread's wall time; CPU: every thread's, until the subscriber read everything.\n")
    print(
        "| put | measure | none | watched (hook only) | pushed subscriber thread | polled subscriber thread (before) |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for kind in ("put_record", "put_batch"):
        for which, label in ((0, "writer wall"), (1, "process CPU")):
            base = statistics.median(c[which] for c in costs[("none", kind)])
            cells = [f"{base * 1e9:.0f}"]
            for mode in modes[1:]:
                cost = statistics.median(c[which] for c in costs[(mode, kind)])
                cells.append(f"{cost * 1e9:.0f} ({cost / base:.2f})")
            print(f"| {kind} | {label} | {' | '.join(cells)} |")
    print(
        f"\n- Python {sys.version.split()[0]}, shardstream {shardstream.__version__}, "
        f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
