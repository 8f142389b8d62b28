"""``resources.resolve`` names the stream the engine acts on, whenever the engine acts on one.

Authorization checks the stream :func:`shardstream.server.resources.resolve`
reads from a request; the action then finds its stream through the engine.
These properties pin the two together on a real engine: for any mix of
``StreamName``, ``StreamARN``, ``ConsumerARN``, ``ResourceARN`` and tokens
(own, other regions and accounts, malformed, of the wrong type), when the
engine's lookup succeeds the resolver named the same stream.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.server import resources

OWN = "arn:aws:kinesis:us-east-1:000000000000:stream/"
PREFIXES = [
    OWN,
    "arn:aws:kinesis:eu-west-1:000000000000:stream/",
    "arn:aws:kinesis:us-east-1:111111111111:stream/",
    "arn:aws-cn:kinesis:us-east-1:000000000000:stream/",
    "arn:aws:kinesis:us-east-1:000000000000:",
    "arn:aws:s3:::",
    "",
]
NAMES = ["A", "B", "C", "", "A/B", "B/consumer/cb:1", "A\n", "a"]


@pytest.fixture(scope="module")
def world():
    engine = shardstream.Engine()
    for name in ("A", "B"):
        engine.create_stream(name, 2)
    arns = [
        engine.register_stream_consumer(OWN + name, "c" + name.lower())["Consumer"]["ConsumerARN"]
        for name in ("A", "B")
    ]
    iterators = [
        engine.get_shard_iterator(name, "shardId-000000000000", "TRIM_HORIZON")["ShardIterator"] for name in ("A", "B")
    ]
    pages = [engine.list_shards(name, max_results=1)["NextToken"] for name in ("A", "B")]
    yield SimpleNamespace(engine=engine, consumers=arns, iterators=iterators, pages=pages)
    engine.close()


def stream_arns(world):
    consumers = world.consumers
    edited = [c.replace("stream/A/", "stream/B/") for c in consumers] + [c[:-1] for c in consumers]
    return st.one_of(
        st.none(),
        st.builds(str.__add__, st.sampled_from(PREFIXES), st.sampled_from(NAMES)),
        st.sampled_from(consumers + edited),
        st.integers(0, 3),
    )


names = st.one_of(st.none(), st.sampled_from(NAMES), st.integers(0, 3))


def _acts_on(fn):
    """The stream name the engine's lookup returns, or None when it refuses."""
    try:
        return fn()
    except Exception:  # any refusal: the action touches no stream
        return None


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_stream_name_and_arn(world, data):
    engine = world.engine
    name = data.draw(names)
    arn = data.draw(stream_arns(world))
    params = {"StreamName": name, "StreamARN": arn}
    acted = _acts_on(lambda: engine.stream(name, stream_arn=arn).name)
    if acted is not None:
        for op in ("PutRecord", "DescribeStream", "ListShards", "UpdateStreamWarmThroughput", "DeleteStream"):
            assert resources.resolve(engine, op, params).stream == acted, (op, params)
    acted = _acts_on(lambda: engine.stream(stream_arn=arn).name)  # the StreamARN-only operations
    if acted is not None:
        for op in ("UpdateStreamMode", "UpdateMaxRecordSize", "RegisterStreamConsumer", "ListStreamConsumers"):
            assert resources.resolve(engine, op, params).stream == acted, (op, params)


def _stream_name_of(resource):
    return resource.stream_name if isinstance(resource, shardstream.fanout.StreamConsumer) else resource.name


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_resource_arn(world, data):
    engine = world.engine
    arn = data.draw(stream_arns(world))
    params = {"ResourceARN": arn, "StreamName": data.draw(names)}
    acted = _acts_on(lambda: _stream_name_of(engine.resource(arn)))
    if acted is not None:
        for op in ("TagResource", "ListTagsForResource", "PutResourcePolicy"):
            assert resources.resolve(engine, op, params).stream == acted, (op, params)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_consumer_arn(world, data):
    engine = world.engine
    consumer_arn = data.draw(stream_arns(world))
    stream_arn = data.draw(stream_arns(world))
    consumer_name = data.draw(st.sampled_from([None, "ca", "cb", "x"]))
    params = {"ConsumerARN": consumer_arn, "StreamARN": stream_arn, "ConsumerName": consumer_name}
    described = _acts_on(
        lambda: engine.describe_stream_consumer(stream_arn, consumer_name, consumer_arn)["ConsumerDescription"]
    )
    if described is not None:
        acted = described["StreamARN"][len(OWN) :]
        for op in ("DescribeStreamConsumer", "DeregisterStreamConsumer"):
            assert resources.resolve(engine, op, params).stream == acted, (op, params)
    acted = _acts_on(lambda: engine.fanout.by_arn(consumer_arn).stream_name)  # SubscribeToShard's lookup
    if acted is not None:
        assert resources.resolve(engine, "SubscribeToShard", params).stream == acted, params


def test_tokens(world):
    engine = world.engine
    for token in world.iterators:
        params = {"ShardIterator": token, "StreamARN": OWN + "A"}
        assert resources.resolve(engine, "GetRecords", params).stream == engine.iterator_stream(token).name
    for token, name in zip(world.pages, ("A", "B")):
        assert engine.list_shards(next_token=token)["Shards"][0]["ShardId"] == "shardId-000000000001"
        assert resources.resolve(engine, "ListShards", {"NextToken": token, "StreamName": "A"}).stream == name
    other = shardstream.Engine()  # another engine's tokens name nothing here (and are refused by the action)
    other.create_stream("B", 2)
    foreign = other.get_shard_iterator("B", "shardId-000000000000", "TRIM_HORIZON")["ShardIterator"]
    assert resources.resolve(engine, "GetRecords", {"ShardIterator": foreign}).stream is None
    assert _acts_on(lambda: engine.iterator_stream(foreign)) is None
    other.close()
