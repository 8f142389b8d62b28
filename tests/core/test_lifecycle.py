"""Stream lifecycle (CREATING/ACTIVE/UPDATING/DELETING) and retention changes."""

from __future__ import annotations

import pytest
from conftest import ACCOUNT, FakeClock, shard_id

import shardstream
from shardstream.errors import (
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
)

HOUR = 3_600_000
T = 500


@pytest.fixture
def slow(clock):
    """An engine whose transitions take 500 ms on the fake clock."""
    return shardstream.Engine(transition_ms=T, clock=clock)


def not_found(name):
    return f"Stream {name} under account {ACCOUNT} not found."


def not_active(name, state):
    return f"Stream {name} under account {ACCOUNT} not ACTIVE, instead in state {state}"


def drain(stream, sid):
    it = stream.get_shard_iterator(sid, "TRIM_HORIZON")["ShardIterator"]
    out = []
    while it:
        resp = stream.get_records(it)
        out.extend(r["Data"] for r in resp["Records"])
        if not resp["Records"]:
            break
        it = resp.get("NextShardIterator")
    return out


# -- CREATING -> ACTIVE ------------------------------------------------------------------


def test_creating_stream_refuses_data_and_resharding(slow, clock):
    s = slow.create_stream("c", 2)
    assert s.status == "CREATING"
    desc = slow.describe_stream("c")["StreamDescription"]
    assert desc["StreamStatus"] == "CREATING"
    assert desc["Shards"] == []
    assert desc["HasMoreShards"] is False
    assert slow.describe_stream_summary("c")["StreamDescriptionSummary"]["StreamStatus"] == "CREATING"
    listed = slow.list_streams()
    assert listed["StreamNames"] == ["c"]
    assert listed["StreamSummaries"][0]["StreamStatus"] == "CREATING"
    for put in (
        lambda: s.put_record(b"x", "k"),
        lambda: slow.put_record("c", b"x", "k"),
        lambda: s.put_batch(["k"], [b"x"]),
        lambda: s.put_records([{"Data": b"x", "PartitionKey": "k"}]),
    ):
        with pytest.raises(ResourceNotFoundException) as ei:
            put()
        assert str(ei.value) == not_found("c")
    with pytest.raises(ResourceNotFoundException) as ei:
        s.get_shard_iterator(shard_id(0), "TRIM_HORIZON")
    assert str(ei.value) == f"Shard shardId-000000000000 in stream c under account {ACCOUNT} does not exist"
    with pytest.raises(ResourceNotFoundException):
        slow.get_shard_iterator("c", shard_id(1), "LATEST")
    for reshard in (
        lambda: s.split_shard(shard_id(0), str(2**64)),
        lambda: slow.split_shard("c", shard_id(0), str(2**64)),
        lambda: s.merge_shards(shard_id(0), shard_id(1)),
        lambda: s.update_shard_count(4),
        lambda: s.increase_stream_retention_period(48),
    ):
        with pytest.raises(ResourceInUseException) as ei:
            reshard()
        assert str(ei.value) == not_active("c", "CREATING")
    # one ms short of the transition: still CREATING
    clock.advance(T - 1)
    assert s.status == "CREATING"
    with pytest.raises(ResourceNotFoundException):
        s.put_record(b"x", "k")
    clock.advance(1)
    assert s.status == "ACTIVE"
    desc = slow.describe_stream("c")["StreamDescription"]
    assert desc["StreamStatus"] == "ACTIVE"
    assert [x["ShardId"] for x in desc["Shards"]] == [shard_id(0), shard_id(1)]
    put = s.put_record(b"x", "k")
    s.put_batch(["a", "b"], [b"1", b"2"])
    assert s.put_records([{"Data": b"3", "PartitionKey": "c"}])["FailedRecordCount"] == 0
    assert put["SequenceNumber"]
    assert sorted(drain(s, shard_id(0)) + drain(s, shard_id(1))) == [b"1", b"2", b"3", b"x"]
    s.split_shard(shard_id(0), str(2**64))


def test_creating_without_polling_status_first(slow, clock):
    """The transition settles on the clock even if nobody looks at the status in between."""
    s = slow.create_stream("quiet", 1)
    clock.advance(10 * T)
    assert s.put_record(b"x", "k")["ShardId"] == shard_id(0)
    assert slow.put_record("quiet", b"y", "k")["ShardId"] == shard_id(0)
    assert drain(s, shard_id(0)) == [b"x", b"y"]


def test_create_existing_name_in_any_state(slow, clock):
    slow.create_stream("dup", 1)
    with pytest.raises(ResourceInUseException) as ei:
        slow.create_stream("dup", 1)
    assert str(ei.value) == f"Stream dup under account {ACCOUNT} already exists."
    clock.advance(T)
    slow.delete_stream("dup")
    with pytest.raises(ResourceInUseException):
        slow.create_stream("dup", 1)  # still DELETING


# -- ACTIVE -> UPDATING -> ACTIVE ------------------------------------------------------------


def test_reshard_puts_stream_in_updating(slow, clock):
    s = slow.create_stream("u", 1)
    clock.advance(T)
    s.put_record(b"before", "k")
    assert s.split_shard(shard_id(0), str(2**127)) == {}
    assert s.status == "UPDATING"
    assert slow.describe_stream("u")["StreamDescription"]["StreamStatus"] == "UPDATING"
    # reads and writes keep working, and the new layout is already in effect
    resp = s.put_record(b"during", "k")
    assert resp["ShardId"] in (shard_id(1), shard_id(2))
    s.put_batch(["a", "b"], [b"1", b"2"])
    assert drain(s, shard_id(0)) == [b"before"]
    assert b"during" in drain(s, resp["ShardId"])
    # ... but the stream lists the old layout until the change completes (as Kinesis)
    listed = slow.list_shards("u")["Shards"]
    assert [x["ShardId"] for x in listed] == [shard_id(0)]
    assert "EndingSequenceNumber" not in listed[0]["SequenceNumberRange"]
    for again in (
        lambda: s.split_shard(shard_id(1), str(2**126)),
        lambda: s.merge_shards(shard_id(1), shard_id(2)),
        lambda: s.update_shard_count(1),
        lambda: s.decrease_stream_retention_period(24),
    ):
        with pytest.raises(ResourceInUseException) as ei:
            again()
        assert str(ei.value) == not_active("u", "UPDATING")
    clock.advance(T - 1)
    assert s.status == "UPDATING"
    clock.advance(1)
    assert s.status == "ACTIVE"
    assert len(slow.list_shards("u")["Shards"]) == 3
    s.merge_shards(shard_id(1), shard_id(2))
    assert s.status == "UPDATING"
    clock.advance(T)
    resp = s.update_shard_count(2)
    assert resp["CurrentShardCount"] == 1 and resp["TargetShardCount"] == 2
    assert s.status == "UPDATING"
    clock.advance(T)
    assert s.status == "ACTIVE"


def test_default_engine_transitions_are_instant(engine):
    s = engine.create_stream("i", 1)
    assert s.status == "ACTIVE"
    s.put_record(b"x", "k")
    s.split_shard(shard_id(0), str(2**127))
    assert s.status == "ACTIVE"
    s.merge_shards(shard_id(1), shard_id(2))  # no ResourceInUseException
    s.update_shard_count(2)
    assert s.status == "ACTIVE"
    s.increase_stream_retention_period(48)
    engine.delete_stream("i")
    assert "i" not in engine
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.describe_stream("i")
    assert str(ei.value) == not_found("i")
    assert engine.list_streams()["StreamNames"] == []
    again = engine.create_stream("i", 3)
    assert again.status == "ACTIVE" and again.open_shard_count == 3


# -- DELETING -> gone -> re-created ------------------------------------------------------------


def test_delete_lifecycle_and_new_incarnation(slow, clock):
    s = slow.create_stream("d", 2)
    clock.advance(T)
    seq = s.put_record(b"old", "k")
    old_it = s.get_shard_iterator(seq["ShardId"], "TRIM_HORIZON")["ShardIterator"]
    assert slow.delete_stream("d") == {}
    assert s.status == "DELETING"
    assert slow.describe_stream("d")["StreamDescription"]["StreamStatus"] == "DELETING"
    assert slow.describe_stream_summary("d")["StreamDescriptionSummary"]["StreamStatus"] == "DELETING"
    listed = slow.list_streams()
    assert listed["StreamNames"] == ["d"]
    assert listed["StreamSummaries"][0]["StreamStatus"] == "DELETING"
    assert slow.delete_stream("d") == {}  # idempotent while DELETING
    for put in (
        lambda: s.put_record(b"x", "k"),
        lambda: slow.put_record("d", b"x", "k"),
        lambda: s.put_batch(["k"], [b"x"]),
    ):
        with pytest.raises(ResourceNotFoundException) as ei:
            put()
        assert str(ei.value) == not_found("d")
    with pytest.raises(ResourceNotFoundException):
        slow.get_records(old_it)
    with pytest.raises(ResourceInUseException) as ei:
        s.split_shard(shard_id(0), str(2**64))
    assert str(ei.value) == not_active("d", "DELETING")
    clock.advance(T)
    assert "d" not in slow
    for call in (
        lambda: slow.describe_stream("d"),
        lambda: slow.describe_stream_summary("d"),
        lambda: slow.put_record("d", b"x", "k"),
        lambda: slow.delete_stream("d"),
        lambda: slow.list_shards("d"),
    ):
        with pytest.raises(ResourceNotFoundException) as ei:
            call()
        assert str(ei.value) == not_found("d")
    assert slow.list_streams()["StreamNames"] == []
    # re-create: a new incarnation that old iterators cannot reach
    new = slow.create_stream("d", 2)
    assert new is not s
    assert new.status == "CREATING"
    clock.advance(T)
    new.put_record(b"new", "k")
    with pytest.raises(ResourceNotFoundException) as ei:
        slow.get_records(old_it)
    assert str(ei.value) == f"Shard {seq['ShardId']} in stream d under account {ACCOUNT} does not exist"
    with pytest.raises(ResourceNotFoundException):
        new.get_records(old_it)
    assert drain(new, seq["ShardId"]) == [b"new"]
    # the old incarnation's sequence numbers are not valid starting points either
    with pytest.raises(InvalidArgumentException):
        new.get_shard_iterator(seq["ShardId"], "AT_SEQUENCE_NUMBER", seq["SequenceNumber"])


def test_delete_while_creating(slow, clock):
    s = slow.create_stream("dc", 1)
    slow.delete_stream("dc")
    assert s.status == "DELETING"
    clock.advance(T)
    assert "dc" not in slow
    assert s.status == "DELETING"  # the orphaned handle never becomes ACTIVE
    with pytest.raises(ResourceNotFoundException):
        s.put_record(b"x", "k")


def test_delete_unknown_stream(engine):
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.delete_stream("ghost")
    assert str(ei.value) == not_found("ghost")


# -- retention -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hours, msg",
    [
        (23, "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short."),
        (0, "Minimum allowed retention period is 24 hours. Requested retention period (0 hours) is too short."),
        (
            8761,
            "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long.",
        ),
    ],
)
def test_retention_bounds_messages(engine, hours, msg):
    s = engine.create_stream("ret", 1, retention_hours=48)
    for call in (
        s.increase_stream_retention_period,
        s.decrease_stream_retention_period,
        lambda h: engine.increase_stream_retention_period("ret", h),
        lambda h: engine.decrease_stream_retention_period("ret", h),
    ):
        with pytest.raises(InvalidArgumentException) as ei:
            call(hours)
        assert str(ei.value) == msg
    assert s.retention_hours == 48


def test_retention_direction_messages(engine):
    s = engine.create_stream("dir", 1, retention_hours=48)
    with pytest.raises(InvalidArgumentException) as ei:
        s.increase_stream_retention_period(24)
    assert str(ei.value) == (
        "Requested retention period (24 hours) for stream dir can not be shorter than existing retention "
        "period (48 hours). Use DecreaseRetentionPeriod API."
    )
    with pytest.raises(InvalidArgumentException) as ei:
        s.decrease_stream_retention_period(72)
    assert str(ei.value) == (
        "Requested retention period (72 hours) for stream dir can not be longer than existing retention "
        "period (48 hours). Use IncreaseRetentionPeriod API."
    )
    assert s.retention_hours == 48
    # equal values are accepted no-ops in both directions
    assert s.increase_stream_retention_period(48) == {}
    assert s.decrease_stream_retention_period(48) == {}
    assert engine.describe_stream("dir")["StreamDescription"]["RetentionPeriodHours"] == 48
    assert engine.increase_stream_retention_period("dir", 8760) == {}
    assert engine.describe_stream_summary("dir")["StreamDescriptionSummary"]["RetentionPeriodHours"] == 8760
    assert engine.decrease_stream_retention_period("dir", 24) == {}
    assert engine.describe_stream("dir")["StreamDescription"]["RetentionPeriodHours"] == 24


def test_retention_unknown_stream(engine):
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.increase_stream_retention_period("nope", 48)
    assert str(ei.value) == not_found("nope")


def test_decrease_hides_old_records_at_once(clock, clocked_engine):
    s = clocked_engine.create_stream("dec", 1, retention_hours=72)
    s.put_record(b"50h-old", "k")
    clock.advance(20 * HOUR)
    s.put_record(b"30h-old", "k")
    clock.advance(10 * HOUR)
    s.put_record(b"20h-old", "k")
    clock.advance(20 * HOUR)
    s.put_record(b"fresh", "k")
    assert drain(s, shard_id(0)) == [b"50h-old", b"30h-old", b"20h-old", b"fresh"]
    s.decrease_stream_retention_period(48)
    assert drain(s, shard_id(0)) == [b"30h-old", b"20h-old", b"fresh"]
    s.decrease_stream_retention_period(24)
    assert drain(s, shard_id(0)) == [b"20h-old", b"fresh"]
    assert s.read_table().column("data").to_pylist() == [b"20h-old", b"fresh"]
    # increase never revives what already aged out
    s.increase_stream_retention_period(8760)
    assert drain(s, shard_id(0)) == [b"20h-old", b"fresh"]
    assert s.read_table().column("data").to_pylist() == [b"20h-old", b"fresh"]
    # but from now on records are kept for the longer window
    clock.advance(100 * HOUR)
    assert drain(s, shard_id(0)) == [b"20h-old", b"fresh"]


def test_increase_keeps_records_still_within_window(clock, clocked_engine):
    s = clocked_engine.create_stream("inc", 1)
    s.put_record(b"a", "k")
    clock.advance(23 * HOUR)
    s.increase_stream_retention_period(48)
    clock.advance(2 * HOUR)  # 25 h old: past the old window, inside the new one
    assert drain(s, shard_id(0)) == [b"a"]
    clock.advance(23 * HOUR + 1)
    assert drain(s, shard_id(0)) == []


def test_records_age_out_without_retention_change(clock, clocked_engine):
    s = clocked_engine.create_stream("age", 1)
    s.put_record(b"a", "k")
    clock.advance(HOUR)
    s.put_record(b"b", "k")
    clock.advance(23 * HOUR + 1)
    assert drain(s, shard_id(0)) == [b"b"]


def _expired_parent_stream(clock, engine):
    s = engine.create_stream("exp", 1)
    s.put_record(b"in-parent", "k")
    s.split_shard(shard_id(0), str(2**127))
    s.put_record(b"in-child", "k")
    return s


def test_expired_closed_shards_disappear(clock, clocked_engine):
    s = _expired_parent_stream(clock, clocked_engine)
    clock.advance(24 * HOUR)  # closed exactly retention ago: still listed
    ids = [x["ShardId"] for x in clocked_engine.describe_stream("exp")["StreamDescription"]["Shards"]]
    assert ids == [shard_id(0), shard_id(1), shard_id(2)]
    clock.advance(1)
    desc = clocked_engine.describe_stream("exp")["StreamDescription"]
    assert [x["ShardId"] for x in desc["Shards"]] == [shard_id(1), shard_id(2)]
    assert [x["ShardId"] for x in clocked_engine.list_shards("exp")["Shards"]] == [shard_id(1), shard_id(2)]
    for kind in ("FROM_TRIM_HORIZON", "AT_TRIM_HORIZON", "AT_LATEST"):
        listed = clocked_engine.list_shards("exp", shard_filter={"Type": kind})["Shards"]
        assert shard_id(0) not in [x["ShardId"] for x in listed]
    # the children still name their (expired) parent
    assert desc["Shards"][0]["ParentShardId"] == shard_id(0)
    for call in (
        lambda: s.get_shard_iterator(shard_id(0), "TRIM_HORIZON"),
        lambda: clocked_engine.get_shard_iterator("exp", shard_id(0), "LATEST"),
    ):
        with pytest.raises(ResourceNotFoundException) as ei:
            call()
        assert str(ei.value) == f"Shard shardId-000000000000 in stream exp under account {ACCOUNT} does not exist"
    with pytest.raises(ResourceNotFoundException) as ei:
        s.split_shard(shard_id(0), str(2**64))
    assert str(ei.value) == f"Could not find shard shardId-000000000000 in stream exp under account {ACCOUNT}."
    # the open children are unaffected, and the next new shard index is not reused
    s.split_shard(shard_id(1), str(2**126))
    assert [x["ShardId"] for x in clocked_engine.list_shards("exp")["Shards"]] == [
        shard_id(i) for i in (1, 2, 3, 4)
    ]


def test_decreasing_retention_expires_closed_shards(clock, clocked_engine):
    s = clocked_engine.create_stream("exp2", 1, retention_hours=72)
    s.split_shard(shard_id(0), str(2**127))
    clock.advance(30 * HOUR)
    assert len(clocked_engine.list_shards("exp2")["Shards"]) == 3
    s.decrease_stream_retention_period(24)
    assert [x["ShardId"] for x in clocked_engine.list_shards("exp2")["Shards"]] == [shard_id(1), shard_id(2)]
    with pytest.raises(ResourceNotFoundException):
        s.get_shard_iterator(shard_id(0), "TRIM_HORIZON")


def test_read_table_skips_expired_closed_shards(clock, clocked_engine):
    s = _expired_parent_stream(clock, clocked_engine)
    clock.advance(24 * HOUR + 1)  # the parent (and every record so far) is past retention
    s.put_record(b"fresh", "k")
    assert s.read_table().column("data").to_pylist() == [b"fresh"]


def test_read_table_includes_unexpired_closed_shards(clock, clocked_engine):
    s = _expired_parent_stream(clock, clocked_engine)
    clock.advance(HOUR)
    assert s.read_table().column("data").to_pylist() == [b"in-parent", b"in-child"]


def test_fake_clock_fixture_is_used(clock, clocked_engine):
    assert isinstance(clock, FakeClock)
    assert clocked_engine.now_ms() == clock.now
