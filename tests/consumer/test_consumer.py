"""Consumer groups on one embedded engine, workers on threads: balancing, checkpoints, failover,
shard ends and resharding, fan-out to several groups, lag, iteration."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import shardstream
from shardstream.consumer import (
    Consumer,
    InvalidCheckpointError,
    LeaseLostError,
    MemoryLeaseStore,
    RecordProcessor,
    SQLiteLeaseStore,
)

FAST = {"failover_ms": 300, "idle_ms": 20}


class Log:
    """What processors saw, thread-safe: (worker, shard, sequence number, data) per record, and events."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records: list[tuple[str, str, str, bytes]] = []
        self.events: list[tuple[str, str, str]] = []
        self.sessions: dict[int, list[str]] = {}  # processor instance -> sequence numbers it saw, in order

    def processor(self, worker: str, checkpoint_every: int = 1):
        log = self

        class Processor(RecordProcessor):
            def initialize(self, shard_id, starting_position):
                self.shard_id, self.batches = shard_id, 0
                with log.lock:
                    log.events.append((worker, shard_id, "initialize:" + starting_position))

            def process(self, records, checkpointer, millis_behind_latest):
                rows = zip(records.column("sequence_number").to_pylist(), records.column("data").to_pylist())
                with log.lock:
                    for seq, data in rows:
                        log.records.append((worker, self.shard_id, seq, data))
                        log.sessions.setdefault(id(self), []).append(seq)
                self.batches += 1
                if self.batches % checkpoint_every == 0:
                    checkpointer.checkpoint()

            def lease_lost(self):
                with log.lock:
                    log.events.append((worker, self.shard_id, "lease_lost"))

            def shard_ended(self, checkpointer):
                with log.lock:
                    log.events.append((worker, self.shard_id, "shard_ended"))
                checkpointer.checkpoint()

            def shutdown_requested(self, checkpointer):
                with log.lock:
                    log.events.append((worker, self.shard_id, "shutdown_requested"))
                checkpointer.checkpoint()

        return Processor

    def data(self) -> list[bytes]:
        with self.lock:
            return [r[3] for r in self.records]

    def by_shard(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        with self.lock:
            for _, shard, seq, _ in self.records:
                out.setdefault(shard, []).append(seq)
        return out


def put(stream, n: int, start: int = 0) -> list[bytes]:
    data = [b"r%06d" % i for i in range(start, start + n)]
    stream.put_batch([f"key-{i}" for i in range(start, start + n)], data)
    return data


def test_three_workers_share_eight_shards_evenly_and_see_everything(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=8)
    store = MemoryLeaseStore()
    log = Log()
    written = put(stream, 2000)
    workers = [
        Consumer(stream, "g", log.processor(f"w{i}"), worker_id=f"w{i}", leases=store, **FAST).start() for i in range(3)
    ]
    try:
        writer_done = threading.Event()

        def writer():
            for k in range(10):
                written.extend(put(stream, 100, start=2000 + 100 * k))
                time.sleep(0.02)
            writer_done.set()

        threading.Thread(target=writer).start()
        assert workers[0].wait_until(lambda: writer_done.is_set() and set(log.data()) >= set(written), timeout=30)
        assert workers[0].wait_until(lambda: sorted(len(w.held_shards) for w in workers) == [2, 3, 3], timeout=20)
    finally:
        for w in workers:
            w.stop()
    # each processor saw its shard's records in sequence order, without gaps
    by_shard = {}
    for row in stream.read_table().to_pylist():
        by_shard.setdefault(row["shard_id"], []).append(row["sequence_number"])
    for seqs in log.sessions.values():
        shard = next(s for s, all_seqs in by_shard.items() if seqs[0] in all_seqs)
        start = by_shard[shard].index(seqs[0])
        assert seqs == by_shard[shard][start : start + len(seqs)]
    # every lease released and checkpointed on a graceful stop
    assert all(lease.owner is None for lease in store.list())


def test_checkpoints_resume_after_the_last_one(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=2)
    leases = tmp_path / "leases.db"
    first = Log()
    written = put(stream, 500)
    with Consumer(stream, "g", first.processor("a"), leases=leases, **FAST) as c:
        assert c.wait_until(lambda: sorted(first.data()) == written)
    more = put(stream, 300, start=500)
    second = Log()
    with Consumer(stream, "g", second.processor("b"), leases=leases, **FAST) as c:
        assert c.wait_until(lambda: sorted(second.data()) == more)
        time.sleep(0.2)
    assert sorted(second.data()) == more  # nothing before the checkpoint came again
    assert all(event.startswith("initialize:49") for _, _, event in second.events if event.startswith("init"))


def test_failover_after_a_worker_stops_renewing(tmp_path):
    """A worker that dies (stops renewing without releasing) loses its shards to the others after failover."""
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=4)
    store = MemoryLeaseStore()
    log = Log()
    put(stream, 400)
    dying = Consumer(
        stream, "g", log.processor("dying", checkpoint_every=10**9), worker_id="dying", leases=store, **FAST
    )
    dying._renew = lambda: None  # a hung process: holds its leases, never renews them
    survivor = Consumer(stream, "g", log.processor("survivor"), worker_id="survivor", leases=store, **FAST)
    dying._sync_shards()
    for lease in store.list()[:2]:
        dying._start_shard(store.take(lease.lease_key, lease.counter, "dying"))
    survivor.start()
    try:
        assert survivor.wait_until(lambda: len(survivor.held_shards) == 4, timeout=10)
        assert survivor.wait_until(lambda: len({r[2] for r in log.records if r[0] == "survivor"}) == 400)
        assert {lease.owner for lease in store.list()} == {"survivor"}
        # the dying worker's lost leases: its checkpoints are refused from now on
        dying._renew = Consumer._renew.__get__(dying)
        dying._renew()
        assert dying.wait_until(lambda: all(w.done.is_set() for w in dying._shards.values()), timeout=5)
        assert sum(1 for w, _, e in log.events if w == "dying" and e == "lease_lost") == 2
    finally:
        survivor.stop()
        dying._stopping.set()


def test_parents_before_children_through_a_split_and_a_merge(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=2)
    log = Log()
    written = put(stream, 300)
    with Consumer(stream, "g", log.processor("w"), leases=MemoryLeaseStore(), **FAST) as c:
        assert c.wait_until(lambda: len(set(log.data())) >= 300)
        stream.split_shard("shardId-000000000000", str(2**126))
        written += put(stream, 300, start=300)
        stream.merge_shards("shardId-000000000003", "shardId-000000000001")
        written += put(stream, 300, start=600)
        assert c.wait_until(lambda: set(log.data()) == set(written), timeout=20)
        leases = {lease.lease_key: lease for lease in c.store.list()}
    order = [(shard, event) for _, shard, event in log.events]
    ended = {shard for shard, event in order if event == "shard_ended"}
    assert ended == {"shardId-000000000000", "shardId-000000000001", "shardId-000000000003"}
    for shard, lease in leases.items():
        for parent in lease.parent_shard_ids:
            # a child starts only after its parent ended
            assert order.index((parent, "shard_ended")) < order.index((shard, "initialize:TRIM_HORIZON"))
    assert leases["shardId-000000000004"].parent_shard_ids == ("shardId-000000000003", "shardId-000000000001")
    assert leases["shardId-000000000000"].child_shard_ids == ("shardId-000000000002", "shardId-000000000003")
    assert all(leases[s].finished for s in ended)


def test_groups_read_independently(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=3)
    written = put(stream, 200)
    store_file = tmp_path / "leases.db"
    logs = {g: Log() for g in ("billing", "audit")}
    consumers = [Consumer(stream, g, logs[g].processor(g), leases=store_file, **FAST).start() for g in logs]
    try:
        for c, g in zip(consumers, logs):
            assert c.wait_until(lambda g=g: sorted(logs[g].data()) == written)
    finally:
        for c in consumers:
            c.stop()
    assert len(SQLiteLeaseStore(store_file, "billing").list()) == len(SQLiteLeaseStore(store_file, "audit").list()) == 3


def test_initial_position_latest_skips_what_came_before(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=2)
    put(stream, 100)
    log = Log()
    with Consumer(stream, "g", log.processor("w"), initial_position="LATEST", **FAST) as c:
        assert c.wait_until(lambda: len(c.held_shards) == 2)
        time.sleep(0.2)
        later = put(stream, 50, start=100)
        assert c.wait_until(lambda: sorted(log.data()) == later)


def test_checkpointer_refuses_bad_checkpoints_and_after_lease_loss(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=1)
    seqs = stream.put_batch(["k"] * 3, [b"a", b"b", b"c"]).column("sequence_number").to_pylist()
    errors = {}
    store = MemoryLeaseStore()

    class Picky(RecordProcessor):
        def process(self, records, checkpointer, millis_behind_latest):
            checkpointer.checkpoint(seqs[1])
            with pytest.raises(InvalidCheckpointError, match="below the previous checkpoint"):
                checkpointer.checkpoint(seqs[0])
            with pytest.raises(InvalidCheckpointError, match="beyond the last record handed over"):
                checkpointer.checkpoint(str(int(seqs[2]) + 1))
            store.take("shardId-000000000000", store.get("shardId-000000000000").counter, "thief")
            try:
                checkpointer.checkpoint()
            except LeaseLostError as exc:
                errors["lost"] = str(exc)

    with Consumer(stream, "g", Picky, leases=store, **FAST) as c:
        assert c.wait_until(lambda: "lost" in errors)
    assert errors["lost"] == (
        "Can't update checkpoint - instance doesn't hold the lease for shard shardId-000000000000"
    )
    assert store.get("shardId-000000000000").checkpoint == seqs[1]


def test_lag_and_dict_records(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=1)
    put(stream, 30)
    got = []

    class Slow(RecordProcessor):
        def process(self, records, checkpointer, millis_behind_latest):
            got.extend(r["Data"] for r in records)
            checkpointer.checkpoint()

    with Consumer(stream, "g", Slow, record_format="dicts", max_records=10, **FAST) as c:
        assert c.wait_until(lambda: len(got) == 30)
        assert c.wait_until(lambda: c.lag().get("shardId-000000000000") is not None)
        lag = c.lag()["shardId-000000000000"]
        assert lag.records_behind == 0 and lag.millis_behind_latest == 0
    assert got == [b"r%06d" % i for i in range(30)]


def test_iterating_a_consumer_without_a_processor(tmp_path):
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=2)
    written = put(stream, 100)
    seen = []
    consumer = Consumer(stream, "g", **FAST)
    for batch in consumer:
        seen.extend(batch.records.column("data").to_pylist())
        batch.checkpoint()
        if len(seen) == 100:
            consumer.stop()
    assert sorted(seen) == written

    async def main():
        more = put(stream, 20, start=100)
        got = []
        async with Consumer(stream, "g", leases=consumer.store, **FAST) as c:
            async for batch in c:
                got.extend(batch.records.column("data").to_pylist())
                if len(got) >= 20:
                    break
        return got, more

    got, more = asyncio.run(main())
    assert sorted(got) == more  # resumed after the checkpoints of the first consumer


def test_bad_arguments():
    stream = shardstream.Engine().create_stream("s", shard_count=1)
    with pytest.raises(ValueError, match="initial_position must be one of"):
        Consumer(stream, "g", initial_position="EARLIEST")
    with pytest.raises(ValueError, match="needs a timestamp"):
        Consumer(stream, "g", initial_position="AT_TIMESTAMP")
    with pytest.raises(ValueError, match="record_format"):
        Consumer(stream, "g", record_format="pandas")


def test_graceful_stop_hands_shards_over_at_once(tmp_path):
    """shutdown_requested checkpoints and the lease is released: the other worker needs no failover wait."""
    engine = shardstream.Engine()
    stream = engine.create_stream("s", shard_count=4)
    store = MemoryLeaseStore()
    log = Log()
    written = put(stream, 400)
    slow = {"failover_ms": 60_000, "idle_ms": 20}  # failover would take a minute
    first = Consumer(stream, "g", log.processor("first"), worker_id="first", leases=store, **slow).start()
    assert first.wait_until(lambda: len(first.held_shards) == 4 and sorted(set(log.data())) == written)
    second = Consumer(stream, "g", log.processor("second"), worker_id="second", leases=store, **slow)
    first.stop()
    assert [e for w, _, e in log.events if w == "first"].count("shutdown_requested") == 4
    assert all(lease.owner is None for lease in store.list())
    second.start()
    try:
        assert second.wait_until(lambda: len(second.held_shards) == 4, timeout=5)
        more = put(stream, 100, start=400)
        assert second.wait_until(lambda: set(more) <= {r[3] for r in log.records if r[0] == "second"})
        assert not {r[3] for r in log.records if r[0] == "second"} & set(written)  # resumed after checkpoints
    finally:
        second.stop()


def test_checkpoints_survive_a_durable_engine_restart(tmp_path):
    leases = tmp_path / "leases.db"
    with shardstream.Engine(data_dir=tmp_path / "data") as engine:
        stream = engine.create_stream("s", shard_count=2)
        written = put(stream, 300)
        log = Log()
        with Consumer(stream, "g", log.processor("a"), leases=leases, **FAST) as c:
            assert c.wait_until(lambda: sorted(log.data()) == written)
    with shardstream.Engine(data_dir=tmp_path / "data") as engine:
        stream = engine.stream("s")
        more = put(stream, 50, start=300)
        log = Log()
        with Consumer(stream, "g", log.processor("b"), leases=leases, **FAST) as c:
            assert c.wait_until(lambda: sorted(log.data()) == more)
            time.sleep(0.2)
        assert sorted(log.data()) == more


def test_initial_position_at_timestamp(tmp_path):
    clock = [1_700_000_000_000]
    engine = shardstream.Engine(clock=lambda: clock[0])
    stream = engine.create_stream("s", shard_count=1)
    put(stream, 10)
    clock[0] += 60_000
    later = put(stream, 10, start=10)
    log = Log()
    start = (clock[0] - 1000) / 1000  # epoch seconds, between the two batches
    with Consumer(stream, "g", log.processor("w"), initial_position="AT_TIMESTAMP", timestamp=start, **FAST) as c:
        assert c.wait_until(lambda: sorted(log.data()) == later)
    assert ("w", "shardId-000000000000", "initialize:AT_TIMESTAMP") in log.events
