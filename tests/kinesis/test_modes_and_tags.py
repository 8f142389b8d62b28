"""Capacity modes (with on-demand scale-out) and stream tags."""

import pytest

import shardstream
from shardstream import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ValidationException,
)
from shardstream.models import uniform_ranges

ACCOUNT = "000000000000"


class Clock:
    def __init__(self):
        self.now = 1_700_000_000_000

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


def write_second(stream, records, clock, size=100):
    stream.put_batch([f"k{i}" for i in range(records)], [b"x" * size] * records)
    clock.now += 1000


def open_ranges(stream):
    return sorted((s.starting_hash_key, s.ending_hash_key) for s in stream.shards if s.is_open)


def test_on_demand_stream_starts_with_four_shards_and_refuses_manual_resharding():
    s = shardstream.Engine().create_stream("od", stream_mode="ON_DEMAND")
    assert s.open_shard_count == 4
    assert s.describe_summary()["StreamDescriptionSummary"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    msg = f"Request is invalid. Stream od under account {ACCOUNT} is in On-Demand mode."
    for call in (lambda: s.split_shard("shardId-000000000000", str(2**120)),
                 lambda: s.merge_shards("shardId-000000000000", "shardId-000000000001"),
                 lambda: s.update_shard_count(8)):
        with pytest.raises(ValidationException) as ei:
            call()
        assert str(ei.value) == msg


def test_on_demand_scales_out_only_under_sustained_pressure(clock):
    e = shardstream.Engine(clock=clock, on_demand_scale_after_ms=3000)
    s = e.create_stream("od", stream_mode="ON_DEMAND")
    # 3,000 records/s is below 80 % of 4 shards x 1,000 records/s: no scaling, however long
    for _ in range(6):
        write_second(s, 3000, clock)
        assert not s.check_write_pressure()
    assert s.open_shard_count == 4
    # 5,000 records/s is pressure; after 3 s of it the stream doubles, to uniform ranges
    scaled_at = None
    for second in range(6):
        write_second(s, 5000, clock)
        if s.check_write_pressure():
            scaled_at = second
    assert scaled_at is not None and scaled_at >= 2
    assert s.open_shard_count == 8
    assert open_ranges(s) == uniform_ranges(8)
    # every record written is still there exactly once
    assert s.read_table().num_rows == 6 * 3000 + 6 * 5000


def test_on_demand_scaling_respects_the_shard_limit(clock):
    e = shardstream.Engine(clock=clock, on_demand_scale_after_ms=1000, shard_limit=6)
    s = e.create_stream("od", stream_mode="ON_DEMAND")
    for _ in range(5):
        write_second(s, 10_000, clock)
        s.check_write_pressure()
    assert s.open_shard_count == 6


def test_put_record_drives_the_scaling_check(clock):
    e = shardstream.Engine(clock=clock, on_demand_scale_after_ms=1000)
    s = e.create_stream("od", stream_mode="ON_DEMAND")
    for _ in range(4):
        for i in range(4096):
            s.put_record(b"x", f"k{i}")
        clock.now += 1000
    assert s.open_shard_count == 8


def test_update_stream_mode_switches_and_limits(clock):
    e = shardstream.Engine(clock=clock)
    s = e.create_stream("m", 3)
    arn = s.arn
    assert e.update_stream_mode(arn, {"StreamMode": "ON_DEMAND"}) == {}
    assert s.stream_mode == "ON_DEMAND" and s.open_shard_count == 3  # shards stay as they are
    e.update_stream_mode(arn, {"StreamMode": "PROVISIONED"})
    assert s.split_shard("shardId-000000000000", "1000") == {}
    with pytest.raises(LimitExceededException):
        e.update_stream_mode(arn, {"StreamMode": "ON_DEMAND"})  # a third switch within 24 h
    clock.now += 24 * 3_600_000 + 1
    e.update_stream_mode(arn, {"StreamMode": "ON_DEMAND"})
    with pytest.raises(ValidationException) as ei:
        e.update_stream_mode(arn, {"StreamMode": "FAST"})
    assert "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]" in str(ei.value)


def test_update_stream_mode_needs_an_active_stream(clock):
    e = shardstream.Engine(clock=clock, transition_ms=500)
    s = e.create_stream("m", 2)
    with pytest.raises(ResourceInUseException) as ei:
        s.update_stream_mode("ON_DEMAND")
    assert str(ei.value) == f"Stream m under account {ACCOUNT} not ACTIVE, instead in state CREATING"
    clock.now += 500
    s.update_stream_mode("ON_DEMAND")
    assert s.status == "UPDATING"
    clock.now += 500
    assert s.status == "ACTIVE"


def test_tags_add_list_remove():
    e = shardstream.Engine()
    s = e.create_stream("t", 1, tags={"b": "2"})
    e.add_tags_to_stream("t", {"a": "1", "c": "3"})
    e.add_tags_to_stream("t", {"a": "one"})  # overwrite
    assert e.list_tags_for_stream("t") == {
        "Tags": [{"Key": "a", "Value": "one"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}],
        "HasMoreTags": False,
    }
    page = e.list_tags_for_stream("t", exclusive_start_tag_key="a", limit=1)
    assert page == {"Tags": [{"Key": "b", "Value": "2"}], "HasMoreTags": True}
    e.remove_tags_from_stream("t", ["a", "missing"])
    assert s.tags == {"b": "2", "c": "3"}


def test_tag_limits_and_messages():
    e = shardstream.Engine()
    s = e.create_stream("t", 1)
    s.add_tags_to_stream({f"k{i}": "v" for i in range(50)})
    with pytest.raises(InvalidArgumentException) as ei:
        s.add_tags_to_stream({"one-more": "v"})
    assert str(ei.value) == (
        f"Failed to add tags to stream t under account {ACCOUNT} because a given stream cannot have more than 10 tags "
        "associated with it."
    )
    s.add_tags_to_stream({"k0": "replaced"})  # overwriting stays within the limit
    with pytest.raises(InvalidArgumentException) as ei:
        s.add_tags_to_stream({"bad#key": "v"})
    assert str(ei.value).startswith("Some tags contain invalid characters.")
    with pytest.raises(InvalidArgumentException) as ei:
        s.add_tags_to_stream({"aws:owner": "me"})
    assert str(ei.value) == "Cannot start tags with 'aws:'. Invalid keys: aws:owner"
    with pytest.raises(ValidationException) as ei:
        s.add_tags_to_stream({"k" * 129: "v"})
    assert "Map keys must satisfy constraint" in str(ei.value)
    with pytest.raises(ValidationException) as ei:
        s.add_tags_to_stream({})
    assert "Member must have length greater than or equal to 1" in str(ei.value)
    with pytest.raises(ValidationException):
        s.list_tags_for_stream(limit=51)
    assert len(s.tags) == 50 and s.tags["k0"] == "replaced"


def test_bad_tags_at_creation_create_nothing():
    e = shardstream.Engine()
    with pytest.raises(InvalidArgumentException):
        e.create_stream("t", 1, tags={"aws:x": "1"})
    assert "t" not in e
