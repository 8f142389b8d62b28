"""Consumer checkpoints carried from the primary's sequence numbers to the standby's."""

from __future__ import annotations

import time

import shardstream
from shardstream.consumer import SQLiteLeaseStore
from shardstream.replication.handover import carry_checkpoints, read_position_map


class Collect(shardstream.RecordProcessor):
    seen: list = []

    def process(self, records, checkpointer, millis_behind_latest):
        Collect.seen.extend(records.column("data").to_pylist())
        checkpointer.checkpoint()


def test_a_group_resumes_on_the_standby_where_it_was_without_skipping(tmp_path):
    primary = shardstream.Engine()
    standby = shardstream.Engine(clock=lambda: int(time.time() * 1000) + 10_000)  # its own sequence numbers
    stream = primary.create_stream("s", 2)
    stream.put_batch([f"k{i}" for i in range(100)], [b"a%d" % i for i in range(100)])
    replicator = shardstream.Replicator(primary, standby, checkpoint=tmp_path / "ck.json", page_limit=7)
    replicator.sync()
    leases = tmp_path / "leases.db"
    Collect.seen = []
    consumer = shardstream.Consumer(stream, "g", Collect, leases=leases, idle_ms=10).start()
    assert consumer.wait_until(lambda: len(Collect.seen) == 100, timeout=10)
    consumer.stop()
    stream.put_batch([f"k{i}" for i in range(50)], [b"b%d" % i for i in range(50)])
    replicator.sync()
    before = {lease.lease_key: lease.checkpoint for lease in SQLiteLeaseStore(leases, "g").list()}
    moved = replicator.promote(leases=leases, group="g") and carry_checkpoints(
        replicator.checkpoint.map_path, leases, "g", "s"
    )
    assert moved == {}  # promote carried them already: they are the standby's now, not moved twice
    after = {lease.lease_key: lease.checkpoint for lease in SQLiteLeaseStore(leases, "g").list()}
    assert after.keys() == before.keys() and all(after[k] != before[k] for k in after)
    pairs = read_position_map(replicator.checkpoint.map_path)
    for shard, checkpoint in after.items():  # at or before the old position, on the standby's numbering
        assert checkpoint in {t for _, t in pairs[f"s/{shard}"]} | {"TRIM_HORIZON"}
    Collect.seen = []
    consumer = shardstream.Consumer(standby.stream("s"), "g", Collect, leases=leases, idle_ms=10).start()
    assert consumer.wait_until(lambda: {b"b%d" % i for i in range(50)} <= set(Collect.seen), timeout=10)
    consumer.stop()
    assert all(d.startswith(b"b") for d in Collect.seen[-50:])
