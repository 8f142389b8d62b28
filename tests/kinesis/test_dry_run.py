"""Dry runs (Kinesis's DryRun) of the data plane, embedded: every check, no change."""

from __future__ import annotations

import pytest
from conftest import ACCOUNT, shard_id

import shardstream
from shardstream import DryRunOperationException
from shardstream.errors import (
    ExpiredIteratorException,
    InvalidArgumentException,
    ProvisionedThroughputExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from shardstream.throttle import ThroughputLimits

MESSAGE = "The request was rejected because the DryRun parameter was specified."
SID = shard_id(0)


def state(stream) -> tuple:
    """Everything a dry run must leave alone: descriptions, counters, records, the AUTO position."""
    summary = stream.describe_summary()
    description = stream.describe()
    stats = stream.shard_stats()
    rows = stream.read_table().to_pylist()
    return summary, description, stats, rows, stream.spread_next


def dry(call):
    with pytest.raises(DryRunOperationException) as ei:
        call()
    assert str(ei.value) == MESSAGE
    assert ei.value.error_type == "DryRunOperationException" and ei.value.http_status == 400
    return ei.value


@pytest.fixture
def stream(clocked_engine):
    s = clocked_engine.create_stream("s", 2)
    s.put_batch(["a", "b", "c"], [b"1", b"2", b"3"])
    return s


def test_writes_change_nothing(clocked_engine, stream):
    before = state(stream)
    dry(lambda: stream.put_record(b"x", "k", dry_run=True))
    dry(lambda: stream.put_record(b"x", "k", explicit_hash_key="5", dry_run=True))
    dry(lambda: stream.put_records([{"Data": b"x", "PartitionKey": "k"}] * 3, dry_run=True))
    dry(lambda: stream.put_batch(["k"] * 100, [b"x"] * 100, dry_run=True))
    dry(lambda: clocked_engine.put_record("s", b"x", "k", dry_run=True))
    dry(lambda: clocked_engine.put_records([{"Data": b"x", "PartitionKey": "k"}], "s", dry_run=True))
    assert state(stream) == before
    # and the real calls still work afterwards, numbering on from where they were
    assert stream.put_record(b"x", "k")["SequenceNumber"] > max(r["sequence_number"] for r in before[3])


def test_auto_writes_do_not_move_the_round_robin(clocked_engine):
    s = clocked_engine.create_stream("auto", stream_mode="ON_DEMAND", record_distribution="AUTO")
    s.put_record(b"x")
    before = state(s)
    dry(lambda: s.put_record(b"x", dry_run=True))
    dry(lambda: s.put_batch(None, [b"x"] * 7, dry_run=True))
    dry(lambda: s.put_records([{"Data": b"x"}], dry_run=True))
    assert state(s) == before
    assert s.put_record(b"y")["ShardId"] == shard_id(1)


def test_reads_change_nothing_and_the_iterator_stays_good(clocked_engine, stream):
    before = state(stream)
    dry(lambda: stream.get_shard_iterator(SID, "TRIM_HORIZON", dry_run=True))
    dry(lambda: clocked_engine.get_shard_iterator("s", SID, "LATEST", dry_run=True))
    it = stream.get_shard_iterator(SID, "TRIM_HORIZON")["ShardIterator"]
    dry(lambda: stream.get_records(it, dry_run=True))
    dry(lambda: stream.get_records(it, 5, dry_run=True))
    dry(lambda: stream.get_record_batch(it, dry_run=True))
    dry(lambda: clocked_engine.get_records(it, dry_run=True))
    assert state(stream) == before
    real = stream.get_records(it)["Records"]
    assert [r["Data"] for r in real] == [r["data"] for r in before[3] if r["shard_id"] == SID]


def test_failing_dry_runs_raise_their_normal_errors(clock, clocked_engine, stream):
    engine = clocked_engine
    with pytest.raises(ResourceNotFoundException, match=f"Stream nope under account {ACCOUNT} not found."):
        engine.put_record("nope", b"x", "k", dry_run=True)
    with pytest.raises(ValidationException, match="Member must not be null"):
        stream.put_record(b"x", dry_run=True)  # USER_PARTITION_KEY needs its key, dry run or not
    with pytest.raises(ValidationException):
        stream.put_records([], dry_run=True)
    with pytest.raises(InvalidArgumentException, match="ExplicitHashKey must be in the range"):
        stream.put_batch(["k"], [b"x"], [str(2**128)], dry_run=True)
    with pytest.raises(ResourceNotFoundException, match="does not exist"):
        stream.get_shard_iterator(shard_id(7), "LATEST", dry_run=True)
    with pytest.raises(InvalidArgumentException):
        stream.get_shard_iterator(SID, "AT_SEQUENCE_NUMBER", dry_run=True)
    with pytest.raises(InvalidArgumentException, match="Invalid ShardIterator."):
        engine.get_records("garbage", dry_run=True)
    with pytest.raises(ValidationException):
        stream.get_records(stream.get_shard_iterator(SID, "LATEST")["ShardIterator"], 0, dry_run=True)
    it = stream.get_shard_iterator(SID, "TRIM_HORIZON")["ShardIterator"]
    clock.advance(300_001)
    with pytest.raises(ExpiredIteratorException):
        stream.get_records(it, dry_run=True)


def test_closed_and_expired_shards(clock, clocked_engine):
    s = clocked_engine.create_stream("r", 1)
    s.put_record(b"x", "k")
    it = s.get_shard_iterator(SID, "TRIM_HORIZON")["ShardIterator"]
    s.split_shard(SID, str(2**127))
    # a closed shard can still be read: the dry runs pass
    dry(lambda: s.get_shard_iterator(SID, "TRIM_HORIZON", dry_run=True))
    dry(lambda: s.get_records(it, dry_run=True))
    # writes go to the open children, as the real put would
    dry(lambda: s.put_record(b"x", "k", explicit_hash_key="0", dry_run=True))
    # once the closed shard is past retention it is gone: the normal error
    clock.advance(25 * 3_600_000)
    with pytest.raises(ResourceNotFoundException, match=f"Shard {SID} in stream r under account"):
        s.get_shard_iterator(SID, "TRIM_HORIZON", dry_run=True)


def test_a_stream_still_creating_is_not_found(clock):
    engine = shardstream.Engine(clock=clock, transition_ms=500)
    s = engine.create_stream("c", 1)
    with pytest.raises(ResourceNotFoundException):
        s.put_record(b"x", "k", dry_run=True)
    clock.advance(500)
    dry(lambda: s.put_record(b"x", "k", dry_run=True))


def test_a_full_shard_log(clocked_engine):
    s = clocked_engine.create_stream("full", 1, shard_capacity_bytes=2 * 1024 * 1024)
    s.put_batch(["k"] * 2, [b"x" * 1_000_000] * 2)
    before = state(s)
    with pytest.raises(ProvisionedThroughputExceededException, match="The shard's log is full"):
        s.put_record(b"x" * 100_000, "k", dry_run=True)
    with pytest.raises(ProvisionedThroughputExceededException):
        s.put_batch(["k"], [b"x" * 100_000], dry_run=True)
    # PutRecords would accept the request and fail the entry: the dry run passes
    dry(lambda: s.put_records([{"Data": b"x" * 100_000, "PartitionKey": "k"}], dry_run=True))
    dry(lambda: s.put_record(b"x", "k", dry_run=True))  # a small one still fits
    assert state(s) == before
    # an evicting stream would make room: no error
    ev = clocked_engine.create_stream("ev", 1, shard_capacity_bytes=2 * 1024 * 1024, evict_oldest=True)
    ev.put_batch(["k"] * 2, [b"x" * 1_000_000] * 2)
    dry(lambda: ev.put_record(b"x" * 100_000, "k", dry_run=True))
    assert ev.shard_stats()[0]["EvictedRecords"] == 0


def test_throughput_limits_are_checked_without_spending_budget(clock):
    engine = shardstream.Engine(clock=clock)
    limits = ThroughputLimits(write_records_per_s=3, read_calls_per_s=2, iterator_calls_per_s=2)
    s = engine.create_stream("t", 1, throughput_limits=limits)
    s.put_record(b"x", "k")  # the shard's throttle exists from here on
    budget = s.throttle.snapshot()
    throttled = dict(s.throttle.throttled)
    for _ in range(10):
        dry(lambda: s.put_record(b"x", "k", dry_run=True))
        dry(lambda: s.put_batch(["k", "k"], [b"x", b"y"], dry_run=True))
        dry(lambda: s.get_shard_iterator(SID, "LATEST", dry_run=True))
    assert s.throttle.snapshot() == budget and s.throttle.throttled == throttled
    # spend the budgets for real; dry runs then get the throttling error
    s.put_batch(["k", "k"], [b"x", b"y"])
    its = [s.get_shard_iterator(SID, "TRIM_HORIZON")["ShardIterator"] for _ in range(2)]
    s.get_records(its[0])
    s.get_records(its[1])
    rate = f"Rate exceeded for shard {SID} in stream t under account {ACCOUNT}."
    for call in (
        lambda: s.put_record(b"x", "k", dry_run=True),
        lambda: s.put_batch(["k"], [b"x"], dry_run=True),
        lambda: s.get_shard_iterator(SID, "LATEST", dry_run=True),
        lambda: s.get_records(its[0], dry_run=True),
    ):
        with pytest.raises(ProvisionedThroughputExceededException) as ei:
            call()
        assert str(ei.value) == rate
    # PutRecords: throttling fails entries, not the request
    dry(lambda: s.put_records([{"Data": b"x", "PartitionKey": "k"}], dry_run=True))
    clock.advance(1000)
    dry(lambda: s.get_records(its[0], dry_run=True))


def test_a_never_used_shard_keeps_no_throttle_state(clock):
    engine = shardstream.Engine(clock=clock)
    s = engine.create_stream("t", 2, throughput_limits=True)
    dry(lambda: s.put_batch(["a", "b", "c"], [b"1", b"2", b"3"], dry_run=True))
    dry(lambda: s.get_shard_iterator(SID, "LATEST", dry_run=True))
    assert s.throttle.snapshot() == {}


def test_subscribe_to_shard_dry_run_starts_nothing(clocked_engine, stream):
    engine = clocked_engine
    arn = engine.register_stream_consumer(stream.arn, "app")["Consumer"]["ConsumerARN"]
    start = {"Type": "TRIM_HORIZON"}
    dry(lambda: engine.subscribe_to_shard(arn, SID, start, dry_run=True))
    assert engine.fanout.subscriptions() == []
    with pytest.raises(ResourceNotFoundException):
        engine.subscribe_to_shard(arn, shard_id(9), start, dry_run=True)
    with pytest.raises(InvalidArgumentException):
        engine.subscribe_to_shard(arn, SID, {"Type": "AT_TIMESTAMP"}, dry_run=True)
    with engine.subscribe_to_shard(arn, SID, start, poll_interval_s=0.01, heartbeat_s=0.05) as sub:
        # the live subscription makes a dry run fail as the real call would
        with pytest.raises(ResourceInUseException, match="Another active subscription exists"):
            engine.subscribe_to_shard(arn, SID, start, dry_run=True)
        assert engine.fanout.subscriptions() == [sub] and sub.live


def test_durable_stream_dry_runs_write_nothing(tmp_path):
    with shardstream.Engine(data_dir=tmp_path, durability="sync") as engine:
        s = engine.create_stream("d", 2, shard_capacity_bytes=2 * 1024 * 1024)
        s.put_batch(["a", "b"], [b"1", b"2"])
        before = state(s)
        dry(lambda: s.put_record(b"x", "k", dry_run=True))
        # bigger than the ring: the real put would go in pieces, so the dry run passes
        dry(lambda: s.put_batch([f"k{i}" for i in range(5)], [b"x" * 1_000_000] * 5, dry_run=True))
        dry(lambda: s.put_records([{"Data": b"x", "PartitionKey": "k"}], dry_run=True))
        it = s.get_shard_iterator(SID, "TRIM_HORIZON")["ShardIterator"]
        dry(lambda: s.get_records(it, dry_run=True))
        assert state(s) == before
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.stream("d").read_table().num_rows == 2
