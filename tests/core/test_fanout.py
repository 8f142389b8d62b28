"""Enhanced fan-out, embedded: the consumer registry and SubscribeToShard subscriptions."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

import pytest
from conftest import ACCOUNT, T0_MS, shard_id

import shardstream
from shardstream.errors import (
    ExpiredNextTokenException,
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    ValidationException,
)
from shardstream.fanout import Subscription

SID = shard_id(0)
FAST = {"poll_interval_s": 0.02, "heartbeat_s": 0.2}


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"


@pytest.fixture
def slow(clock):
    """An engine whose streams and consumers take 500 ms (fake clock) to change state."""
    return shardstream.Engine(clock=clock, transition_ms=500)


def register(engine, stream, name="app", **kw) -> str:
    return engine.register_stream_consumer(stream.arn, name, **kw)["Consumer"]["ConsumerARN"]


def first_with_records(subscription, timeout=5.0) -> dict:
    deadline = time.monotonic() + timeout
    for event in subscription:
        if event["Records"] or time.monotonic() > deadline:
            return event
    raise AssertionError("the subscription ended without records")


# -- the registry -----------------------------------------------------------------------


def test_register_describe_list_deregister(clocked_engine, clock):
    engine = clocked_engine
    stream = engine.create_stream("s", 2)
    out = engine.register_stream_consumer(stream.arn, "app")
    consumer = out["Consumer"]
    arn = f"{stream.arn}/consumer/app:{T0_MS // 1000}"
    assert consumer == {
        "ConsumerName": "app",
        "ConsumerARN": arn,
        "ConsumerStatus": "ACTIVE",
        "ConsumerCreationTimestamp": dt.datetime.fromtimestamp(T0_MS / 1000, tz=dt.timezone.utc),
    }
    description = {**consumer, "StreamARN": stream.arn}
    assert engine.describe_stream_consumer(consumer_arn=arn) == {"ConsumerDescription": description}
    assert engine.describe_stream_consumer(stream.arn, "app") == {"ConsumerDescription": description}
    assert engine.describe_stream_consumer(stream.arn, "app", arn)["ConsumerDescription"] == description
    assert engine.list_stream_consumers(stream.arn) == {"Consumers": [consumer]}
    assert engine.describe_stream_summary("s")["StreamDescriptionSummary"]["ConsumerCount"] == 1
    assert engine.consumer_count("s") == 1

    assert engine.deregister_stream_consumer(consumer_arn=arn) == {}
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.describe_stream_consumer(consumer_arn=arn)
    assert str(ei.value) == f"Consumer {arn}, account {ACCOUNT} not found."
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.deregister_stream_consumer(stream.arn, "app")
    assert str(ei.value) == f"Consumer app, account {ACCOUNT} not found."
    assert engine.list_stream_consumers(stream.arn) == {"Consumers": []}
    assert engine.describe_stream_summary("s")["StreamDescriptionSummary"]["ConsumerCount"] == 0

    # re-registering the name later gives a new ARN; the old one names nothing
    clock.advance(2_000)
    new_arn = register(engine, stream)
    assert new_arn == f"{stream.arn}/consumer/app:{T0_MS // 1000 + 2}" != arn
    with pytest.raises(ResourceNotFoundException):
        engine.describe_stream_consumer(consumer_arn=arn)


def test_register_rules_and_messages(engine):
    stream = engine.create_stream("s", 1)
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.register_stream_consumer(stream_arn("nope"), "app")
    assert str(ei.value) == f"Stream nope under account {ACCOUNT} not found."
    register(engine, stream)
    with pytest.raises(ResourceInUseException) as ei:
        engine.register_stream_consumer(stream.arn, "app")
    assert str(ei.value) == "Consumer app under stream s already exists."
    with pytest.raises(ValidationException) as ei:
        engine.register_stream_consumer(stream.arn, "bad name")
    assert str(ei.value) == (
        "1 validation error detected: Value 'bad name' at 'consumerName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )
    with pytest.raises(ValidationException) as ei:
        engine.register_stream_consumer(None, None)
    assert str(ei.value).startswith("2 validation errors detected: Value null at 'streamARN'")
    with pytest.raises(SerializationException):
        engine.register_stream_consumer(stream.arn, 7)
    with pytest.raises(InvalidArgumentException):
        engine.register_stream_consumer("arn:aws:kinesis:eu-west-1:000000000000:stream/s", "x")
    with pytest.raises(InvalidArgumentException):  # tags are checked before anything changes
        engine.register_stream_consumer(stream.arn, "tagged", tags={"aws:x": "y"})
    assert engine.consumer_count("s") == 1

    for i in range(19):
        register(engine, stream, f"c{i:02d}")
    with pytest.raises(LimitExceededException) as ei:
        register(engine, stream, "one-too-many")
    assert str(ei.value) == "Only 20 consumers can be registered to a stream at once"
    assert engine.consumer_count("s") == 20
    # the limit is per stream
    other = engine.create_stream("other", 1)
    register(engine, other, "app")


def test_status_transitions_and_creating_limit(slow, clock):
    engine = slow
    stream = engine.create_stream("s", 1)
    with pytest.raises(ResourceInUseException) as ei:
        register(engine, stream)
    assert str(ei.value) == f"Stream s under account {ACCOUNT} not ACTIVE, instead in state CREATING"
    clock.advance(500)
    arns = [register(engine, stream, f"c{i}") for i in range(5)]
    assert {c["ConsumerStatus"] for c in engine.list_stream_consumers(stream.arn)["Consumers"]} == {"CREATING"}
    with pytest.raises(LimitExceededException) as ei:
        register(engine, stream, "sixth")
    assert str(ei.value) == "Only 5 consumers can be created at the same time"
    with pytest.raises(ResourceInUseException) as ei:
        engine.subscribe_to_shard(arns[0], SID, {"Type": "LATEST"})
    assert str(ei.value) == f"Consumer {arns[0]} under account {ACCOUNT} not ACTIVE, instead in state CREATING"
    clock.advance(499)
    assert engine.describe_stream_consumer(consumer_arn=arns[0])["ConsumerDescription"]["ConsumerStatus"] == "CREATING"
    clock.advance(1)
    assert engine.describe_stream_consumer(consumer_arn=arns[0])["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE"
    register(engine, stream, "sixth")  # none CREATING any more

    engine.deregister_stream_consumer(consumer_arn=arns[0])
    desc = engine.describe_stream_consumer(consumer_arn=arns[0])["ConsumerDescription"]
    assert desc["ConsumerStatus"] == "DELETING"
    assert engine.consumer_count("s") == 6
    engine.deregister_stream_consumer(consumer_arn=arns[0])  # again while DELETING: no-op
    with pytest.raises(ResourceInUseException) as ei:
        engine.subscribe_to_shard(arns[0], SID, {"Type": "LATEST"})
    assert "instead in state DELETING" in str(ei.value)
    with pytest.raises(ResourceInUseException):  # the name is still taken while DELETING
        register(engine, stream, "c0")
    clock.advance(500)
    with pytest.raises(ResourceNotFoundException):
        engine.describe_stream_consumer(consumer_arn=arns[0])
    assert engine.consumer_count("s") == 5
    register(engine, stream, "c0")


def test_naming_a_consumer(engine):
    stream = engine.create_stream("s", 1)
    other = engine.create_stream("other", 1)
    arn = register(engine, stream)
    register(engine, other, "twin")
    with pytest.raises(InvalidArgumentException) as ei:
        engine.describe_stream_consumer(stream.arn)
    assert str(ei.value) == "ConsumerARN or both ConsumerName and StreamARN are required for this request."
    with pytest.raises(InvalidArgumentException):
        engine.describe_stream_consumer(other.arn, consumer_arn=arn)
    with pytest.raises(InvalidArgumentException):
        engine.describe_stream_consumer(consumer_name="twin", consumer_arn=arn)
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.describe_stream_consumer(stream.arn, "ghost")
    assert str(ei.value) == f"Consumer ghost, account {ACCOUNT} not found."
    with pytest.raises(ResourceNotFoundException):
        engine.describe_stream_consumer(other.arn, "app")
    with pytest.raises(ResourceNotFoundException):  # another region's ARN
        engine.describe_stream_consumer(consumer_arn=arn.replace("us-east-1", "eu-west-1"))
    with pytest.raises(ValidationException) as ei:
        engine.describe_stream_consumer(consumer_arn="arn:aws:kinesis:us-east-1:000000000000:stream/s")
    assert "at 'consumerARN' failed to satisfy constraint: Member must satisfy regular expression pattern" in str(
        ei.value
    )
    with pytest.raises(InvalidArgumentException):
        engine.deregister_stream_consumer()
    assert engine.consumer_count("s") == 1


def test_list_pagination(clocked_engine, clock):
    engine = clocked_engine
    stream = engine.create_stream("s", 1)
    other = engine.create_stream("other", 1)
    names = ["e", "a", "g", "c", "b", "f", "d"]
    for name in names:
        register(engine, stream, name)
    register(engine, other, "z")
    seen, token, pages = [], None, 0
    while True:
        page = engine.list_stream_consumers(stream.arn, token, 3)
        seen += [c["ConsumerName"] for c in page["Consumers"]]
        pages += 1
        token = page.get("NextToken")
        if token is None:
            break
    assert seen == sorted(names) and pages == 3
    assert len(engine.list_stream_consumers(stream.arn)["Consumers"]) == 7  # default page 100

    token = engine.list_stream_consumers(stream.arn, max_results=2)["NextToken"]
    with pytest.raises(InvalidArgumentException) as ei:
        engine.list_stream_consumers(other.arn, token)
    assert str(ei.value) == "Invalid NextToken."
    with pytest.raises(InvalidArgumentException):
        engine.list_stream_consumers(stream.arn, "bm90IGEgdG9rZW4=")
    with pytest.raises(ValidationException) as ei:
        engine.list_stream_consumers(stream.arn, max_results=0)
    assert str(ei.value) == (
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )

    created = dt.datetime.fromtimestamp(T0_MS / 1000, tz=dt.timezone.utc)
    assert len(engine.list_stream_consumers(stream.arn, stream_creation_timestamp=created)["Consumers"]) == 7
    assert len(engine.list_stream_consumers(stream.arn, stream_creation_timestamp=T0_MS // 1000)["Consumers"]) == 7
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.list_stream_consumers(stream.arn, stream_creation_timestamp=T0_MS / 1000 - 60)
    assert str(ei.value) == f"Stream s under account {ACCOUNT} not found."

    clock.advance(300_001)
    with pytest.raises(ExpiredNextTokenException) as ei:
        engine.list_stream_consumers(stream.arn, token)
    assert str(ei.value) == "The timestamp data in the pagination token has expired."


def test_delete_stream_with_consumers(engine):
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream)
    subscription = engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, **FAST)
    next(subscription)
    with pytest.raises(ResourceInUseException) as ei:
        engine.delete_stream("s")
    assert str(ei.value) == f"Stream s under account {ACCOUNT} has registered consumers."
    assert "s" in engine and engine.stream("s").status == "ACTIVE"
    assert engine.delete_stream("s", enforce_consumer_deletion=True) == {}
    assert "s" not in engine
    with pytest.raises(ResourceInUseException):
        next(subscription)
    with pytest.raises(StopIteration):
        next(subscription)

    again = engine.create_stream("s", 1)  # a new incarnation has none of the old consumers
    assert engine.list_stream_consumers(again.arn) == {"Consumers": []}
    assert engine.describe_stream_summary("s")["StreamDescriptionSummary"]["ConsumerCount"] == 0
    with pytest.raises(ResourceNotFoundException):
        engine.describe_stream_consumer(consumer_arn=arn)
    engine.delete_stream("s")  # no consumers: no need to enforce


def test_consumer_tags_and_policy_by_arn(engine):
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream, tags={"team": "data"})
    assert engine.list_tags_for_resource(arn) == {"Tags": [{"Key": "team", "Value": "data"}]}
    engine.tag_resource(arn, {"env": "test"})
    engine.untag_resource(arn, ["team"])
    assert engine.list_tags_for_resource(arn) == {"Tags": [{"Key": "env", "Value": "test"}]}
    assert engine.list_tags_for_stream("s")["Tags"] == []  # the stream's tags are its own
    assert engine.get_resource_policy(arn) == {"Policy": "{}"}
    engine.put_resource_policy(arn, '{"Version":"2012-10-17"}')
    assert engine.get_resource_policy(arn) == {"Policy": '{"Version":"2012-10-17"}'}
    engine.delete_resource_policy(arn)
    assert engine.get_resource_policy(arn) == {"Policy": "{}"}


# -- subscriptions ------------------------------------------------------------------------


def test_starting_positions(clocked_engine, clock):
    engine = clocked_engine
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream)
    seqs = []
    for i in range(5):
        clock.advance(1_000)
        seqs.append(stream.put_record(f"r{i}".encode(), "k")["SequenceNumber"])
    start = stream.describe()["StreamDescription"]["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]

    def first_event(position: dict) -> dict:
        with engine.subscribe_to_shard(arn, SID, position, **FAST) as subscription:
            assert isinstance(subscription, Subscription)
            return next(subscription)

    event = first_event({"Type": "TRIM_HORIZON"})
    assert [r["Data"] for r in event["Records"]] == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert [r["SequenceNumber"] for r in event["Records"]] == seqs
    assert event["ContinuationSequenceNumber"] == seqs[-1] and event["MillisBehindLatest"] == 0
    assert isinstance(event["Records"][0]["ApproximateArrivalTimestamp"], dt.datetime)
    assert "ChildShards" not in event

    at = first_event({"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": seqs[2]})
    assert [r["Data"] for r in at["Records"]] == [b"r2", b"r3", b"r4"]
    after = first_event({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seqs[2]})
    assert [r["Data"] for r in after["Records"]] == [b"r3", b"r4"]
    stamp = dt.datetime.fromtimestamp((T0_MS + 4_000) / 1000, tz=dt.timezone.utc)
    by_time = first_event({"Type": "AT_TIMESTAMP", "Timestamp": stamp})
    assert [r["Data"] for r in by_time["Records"]] == [b"r3", b"r4"]

    latest = first_event({"Type": "LATEST"})
    assert latest["Records"] == [] and latest["ContinuationSequenceNumber"] == seqs[-1]
    # resuming after a continuation number neither skips nor repeats
    resumed = first_event({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": latest["ContinuationSequenceNumber"]})
    assert resumed["Records"] == []

    empty = engine.create_stream("empty", 1)
    empty_arn = register(engine, empty)
    with engine.subscribe_to_shard(empty_arn, SID, {"Type": "TRIM_HORIZON"}, **FAST) as subscription:
        idle = next(subscription)
    empty_start = empty.describe()["StreamDescription"]["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
    assert idle == {"Records": [], "ContinuationSequenceNumber": empty_start, "MillisBehindLatest": 0}
    first = empty.put_record(b"first", "k")["SequenceNumber"]
    with engine.subscribe_to_shard(
        empty_arn, SID, {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": empty_start}
    ) as s:
        assert [r["SequenceNumber"] for r in next(s)["Records"]] == [first]
    assert start != empty_start


def test_subscribe_errors_change_nothing(engine):
    stream = engine.create_stream("s", 2)
    arn = register(engine, stream)
    unknown = f"{stream.arn}/consumer/ghost:1700000000"
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.subscribe_to_shard(unknown, SID, {"Type": "LATEST"})
    assert str(ei.value) == f"Consumer {unknown}, account {ACCOUNT} not found."
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.subscribe_to_shard(arn, shard_id(9), {"Type": "LATEST"})
    assert str(ei.value) == f"Shard {shard_id(9)} in stream s under account {ACCOUNT} does not exist"
    with pytest.raises(ValidationException) as ei:
        engine.subscribe_to_shard(arn, SID, {})
    assert str(ei.value) == (
        "1 validation error detected: Value null at 'startingPosition.type' failed to satisfy constraint: "
        "Member must not be null"
    )
    with pytest.raises(ValidationException):
        engine.subscribe_to_shard(arn, SID, {"Type": "SOMEWHERE"})
    with pytest.raises(SerializationException):
        engine.subscribe_to_shard(arn, SID, "LATEST")
    with pytest.raises(InvalidArgumentException) as ei:
        engine.subscribe_to_shard(arn, SID, {"Type": "AT_SEQUENCE_NUMBER"})
    assert "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber." in str(ei.value)
    with pytest.raises(InvalidArgumentException):
        engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, lifetime_s=0)
    assert engine.fanout.subscriptions() == []
    with engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}) as subscription:  # nothing was held
        assert engine.fanout.subscriptions() == [subscription]
    assert engine.fanout.subscriptions() == []


def test_live_records_and_idle_events(engine):
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream)
    start = stream.describe()["StreamDescription"]["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
    subscription = engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, poll_interval_s=0.02, heartbeat_s=0.15)
    began = time.monotonic()
    first = next(subscription)
    assert first == {"Records": [], "ContinuationSequenceNumber": start, "MillisBehindLatest": 0}
    second = next(subscription)  # nothing written: an empty event a heartbeat later
    assert second["Records"] == [] and second["ContinuationSequenceNumber"] == start
    assert 0.1 <= time.monotonic() - began < 1.0

    def writer():
        for i in range(6):
            stream.put_record(f"live{i}".encode(), "k")
            time.sleep(0.03)

    thread = threading.Thread(target=writer)
    thread.start()
    got, last = [], None
    for event in subscription:
        got += event["Records"]
        last = event
        if len(got) == 6:
            break
    thread.join()
    assert [r["Data"] for r in got] == [f"live{i}".encode() for i in range(6)]
    seqs = [r["SequenceNumber"] for r in got]
    assert seqs == sorted(seqs) and last["ContinuationSequenceNumber"] == seqs[-1]
    idle = next(subscription)
    assert idle["Records"] == [] and idle["ContinuationSequenceNumber"] == seqs[-1]
    subscription.close()
    with pytest.raises(StopIteration):
        next(subscription)


def test_events_hold_at_most_10000_records(engine):
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream)
    stream.put_batch([f"k{i}" for i in range(12_345)], [b"x"] * 12_345)
    with engine.subscribe_to_shard(arn, SID, {"Type": "TRIM_HORIZON"}, **FAST) as subscription:
        first, second = next(subscription), next(subscription)
    assert len(first["Records"]) == 10_000 and len(second["Records"]) == 2_345
    assert first["MillisBehindLatest"] >= 0 and second["MillisBehindLatest"] == 0
    assert first["ContinuationSequenceNumber"] == first["Records"][-1]["SequenceNumber"]


def test_shard_end_gives_child_shards_and_stops(engine):
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream)
    for i in range(3):
        stream.put_record(f"p{i}".encode(), "k")
    live = engine.subscribe_to_shard(arn, SID, {"Type": "TRIM_HORIZON"}, **FAST)
    assert len(next(live)["Records"]) == 3
    stream.split_shard(SID, str(2**127))
    stream.put_record(b"child", "k")  # goes to a child, not to the subscription
    events = list(live)
    assert events[-1]["ContinuationSequenceNumber"] is None and events[-1]["Records"] == []
    children = events[-1]["ChildShards"]
    assert [c["ShardId"] for c in children] == [shard_id(1), shard_id(2)]
    assert all(c["ParentShards"] == [SID] for c in children)
    assert children[1]["HashKeyRange"] == {"StartingHashKey": str(2**127), "EndingHashKey": str(2**128 - 1)}
    assert all(e["Records"] == [] for e in events)
    assert live.continuation_sequence_number is None and not live.live

    # a late subscriber drains the closed shard, then gets the children
    other = register(engine, stream, "late")
    events = list(engine.subscribe_to_shard(other, SID, {"Type": "TRIM_HORIZON"}, **FAST))
    assert [r["Data"] for r in events[0]["Records"]] == [b"p0", b"p1", b"p2"]
    assert events[0]["ContinuationSequenceNumber"] == events[0]["Records"][-1]["SequenceNumber"]
    assert events[-1]["ContinuationSequenceNumber"] is None and len(events[-1]["ChildShards"]) == 2


def test_resubscribe_rule(clocked_engine, clock):
    engine = clocked_engine
    stream = engine.create_stream("s", 2)
    arn = register(engine, stream)
    old = engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, **FAST)
    next(old)
    message = f"Another active subscription exists for consumer {arn} on shard {SID}"
    with pytest.raises(ResourceInUseException) as ei:
        engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"})
    assert str(ei.value) == message
    with pytest.raises(ResourceInUseException):  # the same shard, named differently
        engine.subscribe_to_shard(arn, "shardId-0", {"Type": "LATEST"})
    other_shard = engine.subscribe_to_shard(arn, shard_id(1), {"Type": "LATEST"})  # another shard is fine
    clock.advance(4_999)
    with pytest.raises(ResourceInUseException):
        engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"})
    assert old.live
    clock.advance(1)
    new = engine.subscribe_to_shard(arn, SID, {"Type": "TRIM_HORIZON"}, **FAST)
    with pytest.raises(ResourceInUseException) as ei:
        next(old)
    assert str(ei.value) == message
    with pytest.raises(StopIteration):
        next(old)
    assert not old.live and new.live
    assert next(new)["Records"] == []
    # a subscription that has ended does not block a new one
    new.close()
    engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}).close()
    other_shard.close()


def test_deregistration_ends_subscriptions(engine):
    stream = engine.create_stream("s", 2)
    arn = register(engine, stream)
    subs = [engine.subscribe_to_shard(arn, shard_id(i), {"Type": "LATEST"}, **FAST) for i in range(2)]
    engine.deregister_stream_consumer(consumer_arn=arn)
    for subscription in subs:
        with pytest.raises(ResourceInUseException) as ei:
            next(subscription)
        assert str(ei.value) == f"Consumer {arn} under account {ACCOUNT} not ACTIVE, instead in state DELETING"
    assert engine.fanout.subscriptions() == []


def test_blocked_iteration_wakes_on_deregistration(engine):
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream)
    subscription = engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, poll_interval_s=5, heartbeat_s=5)
    next(subscription)
    threading.Timer(0.1, engine.deregister_stream_consumer, kwargs={"consumer_arn": arn}).start()
    began = time.monotonic()
    with pytest.raises(ResourceInUseException):
        next(subscription)
    assert time.monotonic() - began < 2


def test_lifetime_ends_the_subscription(engine):
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream)
    began = time.monotonic()
    events = list(engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, lifetime_s=0.35, **FAST))
    assert 0.3 <= time.monotonic() - began < 1.5
    assert 2 <= len(events) <= 3  # the first at once, then one per heartbeat
    engine.fanout.lifetime_s = 0.1  # the engine-wide default
    assert len(list(engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, **FAST))) == 1


def test_async_iteration(engine):
    stream = engine.create_stream("s", 1)
    arn = register(engine, stream)

    async def consume() -> list:
        got = []
        subscription = engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, **FAST)
        async for event in subscription:
            if not got and not event["Records"]:
                stream.put_records([{"Data": b"a", "PartitionKey": "k"}, {"Data": b"b", "PartitionKey": "k"}])
            got += [r["Data"] for r in event["Records"]]
            if len(got) == 2:
                subscription.close()
        return got

    assert asyncio.run(asyncio.wait_for(consume(), 5)) == [b"a", b"b"]


def test_wire_shape_and_encryption(engine):
    stream = engine.create_stream("s", 1)
    stream.start_stream_encryption("KMS", "alias/aws/kinesis")
    arn = register(engine, stream)
    stream.put_record(b"hi", "k")
    with engine.subscribe_to_shard(arn, SID, {"Type": "TRIM_HORIZON"}, wire=True, **FAST) as subscription:
        record = next(subscription)["Records"][0]
    assert record["Data"] == "aGk=" and isinstance(record["ApproximateArrivalTimestamp"], float)
    assert record["EncryptionType"] == "KMS"


def test_throttled_stream_does_not_throttle_fan_out(engine):
    stream = engine.create_stream("s", 1, throughput_limits=True)
    arn = register(engine, stream)
    stream.put_record(b"x", "k")
    with engine.subscribe_to_shard(arn, SID, {"Type": "TRIM_HORIZON"}, poll_interval_s=0.01, heartbeat_s=0.01) as s:
        events = [next(s) for _ in range(12)]  # more reads than 5 GetRecords/s would allow
    assert [r["Data"] for r in events[0]["Records"]] == [b"x"]


def test_survives_an_iterator_expiring_on_a_jumping_clock(clocked_engine, clock):
    engine = clocked_engine
    stream = engine.create_stream("s", 1, retention_hours=48)
    arn = register(engine, stream)
    subscription = engine.subscribe_to_shard(arn, SID, {"Type": "LATEST"}, **FAST)
    next(subscription)
    clock.advance(600_000)  # the subscription's iterator is now 10 minutes old
    stream.put_record(b"later", "k")
    assert [r["Data"] for r in first_with_records(subscription)["Records"]] == [b"later"]
    subscription.close()


def test_closing_the_engine_ends_subscriptions():
    engine = shardstream.Engine()
    stream = engine.create_stream("s", 1)
    subscription = engine.subscribe_to_shard(register(engine, stream), SID, {"Type": "LATEST"}, **FAST)
    next(subscription)
    engine.close()
    with pytest.raises(StopIteration):
        next(subscription)


def test_durable_stream(tmp_path):
    with shardstream.Engine(data_dir=tmp_path) as engine:
        stream = engine.create_stream("s", 1)
        arn = register(engine, stream, tags={"team": "data"})
        seqs = [stream.put_record(f"d{i}".encode(), "k")["SequenceNumber"] for i in range(3)]
        engine.flush()
        with engine.subscribe_to_shard(arn, SID, {"Type": "TRIM_HORIZON"}, **FAST) as subscription:
            event = next(subscription)
            assert [r["Data"] for r in event["Records"]] == [b"d0", b"d1", b"d2"]
            stream.put_record(b"d3", "k")
            assert [r["Data"] for r in first_with_records(subscription)["Records"]] == [b"d3"]
    with shardstream.Engine(data_dir=tmp_path) as engine:  # consumers are kept with the data
        assert engine.describe_stream_consumer(consumer_arn=arn)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE"
        assert engine.list_tags_for_resource(arn) == {"Tags": [{"Key": "team", "Value": "data"}]}
        position = {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seqs[1]}
        with engine.subscribe_to_shard(arn, SID, position, **FAST) as subscription:
            assert [r["Data"] for r in next(subscription)["Records"]] == [b"d2", b"d3"]
        engine.deregister_stream_consumer(consumer_arn=arn)
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.list_stream_consumers(stream_arn("s")) == {"Consumers": []}
