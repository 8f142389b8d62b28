"""Enhanced fan-out through real boto3: the consumer operations and SubscribeToShard event streams."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import urllib.request
import zlib

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

import shardstream
from shardstream.server import codec, eventstream
from shardstream.testing import boto3_client, start_server

ACCT = "000000000000"
ARN = f"arn:aws:kinesis:us-east-1:{ACCT}:stream/s"
SID = "shardId-000000000000"
# well formed, never verified (the server's default auth mode checks presence only)
DUMMY_AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20240101T000000Z",
}


def error_of(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message")


@pytest.fixture
def fast(engine):
    """Short subscriptions: 1.2 s lifetime, 0.25 s heartbeat."""
    engine.fanout.lifetime_s = 1.2
    engine.fanout.heartbeat_s = 0.25
    engine.fanout.poll_interval_s = 0.02
    return engine


# -- the event-stream encoder against botocore's decoder ------------------------------------


def decode_all(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_encoder_round_trips_through_botocore():
    payload = json.dumps({"Records": [], "ContinuationSequenceNumber": "1", "MillisBehindLatest": 0}).encode()
    data = (
        eventstream.event_message("initial-response", b"{}")
        + eventstream.event_message("SubscribeToShardEvent", payload)
        + eventstream.exception_message("ResourceInUseException", b'{"message":"taken"}')
        + eventstream.encode_message({":message-type": "event", ":event-type": "empty"})
    )
    first, second, error, empty = decode_all(data)
    assert first.headers == {
        ":message-type": "event",
        ":event-type": "initial-response",
        ":content-type": "application/json",
    }
    assert first.payload == b"{}"
    assert second.headers[":event-type"] == "SubscribeToShardEvent" and second.payload == payload
    assert error.headers[":exception-type"] == "ResourceInUseException"
    assert error.to_response_dict()["status_code"] == 400
    assert empty.payload == b"" and empty.prelude.total_length == 16 + empty.prelude.headers_length


def _prelude_check(message: bytes) -> None:
    total, headers = int.from_bytes(message[:4], "big"), int.from_bytes(message[4:8], "big")
    assert total == len(message)
    assert int.from_bytes(message[8:12], "big") == zlib.crc32(message[:8])
    assert int.from_bytes(message[-4:], "big") == zlib.crc32(message[:-4])
    assert headers > 0


def test_encoder_crcs_are_checked():
    message = eventstream.event_message("SubscribeToShardEvent", b'{"a":1}')
    _prelude_check(message)
    corrupt = message[:-6] + bytes([message[-6] ^ 1]) + message[-5:]  # one payload bit
    with pytest.raises(ChecksumMismatch):
        decode_all(corrupt)
    with pytest.raises(ValueError):
        eventstream.encode_message({"x": "y" * 70_000})


# -- the consumer registry -------------------------------------------------------------


def test_register_describe_list_deregister(kinesis, engine):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    consumer = kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app", Tags={"team": "data"})["Consumer"]
    arn = consumer["ConsumerARN"]
    created = consumer["ConsumerCreationTimestamp"]
    assert arn == f"{ARN}/consumer/app:{int(created.timestamp())}"  # the consumer's own creation second
    assert consumer["ConsumerStatus"] == "ACTIVE" and isinstance(consumer["ConsumerCreationTimestamp"], dt.datetime)

    by_arn = kinesis.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
    by_name = kinesis.describe_stream_consumer(StreamARN=ARN, ConsumerName="app")["ConsumerDescription"]
    assert by_arn == by_name and by_arn["StreamARN"] == ARN and by_arn["ConsumerName"] == "app"
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "data"}]

    for name in ("b", "c", "d"):
        kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName=name)
    page = kinesis.list_stream_consumers(StreamARN=ARN, MaxResults=3)
    assert [c["ConsumerName"] for c in page["Consumers"]] == ["app", "b", "c"]
    rest = kinesis.list_stream_consumers(StreamARN=ARN, NextToken=page["NextToken"])
    assert [c["ConsumerName"] for c in rest["Consumers"]] == ["d"] and "NextToken" not in rest
    paginated = kinesis.get_paginator("list_stream_consumers").paginate(StreamARN=ARN, PaginationConfig={"PageSize": 2})
    assert [c["ConsumerName"] for p in paginated for c in p["Consumers"]] == ["app", "b", "c", "d"]
    summary = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 4

    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app")
    assert error_of(e) == ("ResourceInUseException", "Consumer app under stream s already exists.")
    with pytest.raises(ClientError) as e:
        kinesis.delete_stream(StreamName="s")
    assert error_of(e) == ("ResourceInUseException", f"Stream s under account {ACCT} has registered consumers.")

    kinesis.deregister_stream_consumer(ConsumerARN=arn)
    kinesis.deregister_stream_consumer(StreamARN=ARN, ConsumerName="b")
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_consumer(ConsumerARN=arn)
    assert error_of(e) == ("ResourceNotFoundException", f"Consumer {arn}, account {ACCT} not found.")
    assert [c["ConsumerName"] for c in kinesis.list_stream_consumers(StreamARN=ARN)["Consumers"]] == ["c", "d"]
    kinesis.delete_stream(StreamName="s", EnforceConsumerDeletion=True)
    assert "s" not in engine


def test_consumer_status_over_the_wire():
    clock = {"now": 1_700_000_000_000}
    engine = shardstream.Engine(clock=lambda: clock["now"], transition_ms=500)
    with start_server(engine) as srv:
        kinesis = boto3_client(srv.url)
        kinesis.create_stream(StreamName="s", ShardCount=1)
        clock["now"] += 500
        arn = kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app")["Consumer"]["ConsumerARN"]
        assert kinesis.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"] == "CREATING"
        with pytest.raises(ClientError) as e:
            kinesis.subscribe_to_shard(ConsumerARN=arn, ShardId=SID, StartingPosition={"Type": "LATEST"})
        assert error_of(e) == (
            "ResourceInUseException",
            f"Consumer {arn} under account {ACCT} not ACTIVE, instead in state CREATING",
        )
        clock["now"] += 500
        assert kinesis.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE"


# -- SubscribeToShard --------------------------------------------------------------------


def subscribe(kinesis, arn, position=None, shard=SID):
    resp = kinesis.subscribe_to_shard(
        ConsumerARN=arn, ShardId=shard, StartingPosition=position or {"Type": "TRIM_HORIZON"}
    )
    assert resp["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    return resp["EventStream"]


def test_subscribe_records_before_and_during(kinesis, fast):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    arn = kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app")["Consumer"]["ConsumerARN"]
    before = [kinesis.put_record(StreamName="s", Data=f"b{i}".encode(), PartitionKey="k") for i in range(3)]
    events = subscribe(kinesis, arn)
    threading.Timer(0.3, lambda: kinesis.put_record(StreamName="s", Data=b"during", PartitionKey="k")).start()
    got, continuations = [], []
    began = time.monotonic()
    for event in events:
        body = event["SubscribeToShardEvent"]
        got += body["Records"]
        continuations.append(body["ContinuationSequenceNumber"])
        assert body["MillisBehindLatest"] >= 0
    assert 1.0 <= time.monotonic() - began < 3  # ended by the server after its lifetime
    assert [r["Data"] for r in got] == [b"b0", b"b1", b"b2", b"during"]
    assert [r["SequenceNumber"] for r in got[:3]] == [p["SequenceNumber"] for p in before]
    assert all(isinstance(r["ApproximateArrivalTimestamp"], dt.datetime) for r in got)
    assert continuations[0] == before[-1]["SequenceNumber"] and continuations[-1] == got[-1]["SequenceNumber"]
    assert len(continuations) >= 4  # idle events keep coming

    # resume where the last event said: nothing repeated
    events = subscribe(kinesis, arn, {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": continuations[-1]})
    kinesis.put_record(StreamName="s", Data=b"after", PartitionKey="k")
    for event in events:
        records = event["SubscribeToShardEvent"]["Records"]
        if records:
            assert [r["Data"] for r in records] == [b"after"]
            break
    events.close()


def test_shard_end_child_shards(kinesis, fast):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    arn = kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app")["Consumer"]["ConsumerARN"]
    kinesis.put_record(StreamName="s", Data=b"parent", PartitionKey="k")
    kinesis.split_shard(StreamName="s", ShardToSplit=SID, NewStartingHashKey=str(2**127))
    events = [e["SubscribeToShardEvent"] for e in subscribe(kinesis, arn)]
    assert [r["Data"] for r in events[0]["Records"]] == [b"parent"]
    last = events[-1]
    assert "ContinuationSequenceNumber" not in last and last["Records"] == []
    assert [c["ShardId"] for c in last["ChildShards"]] == ["shardId-000000000001", "shardId-000000000002"]
    assert all(c["ParentShards"] == [SID] for c in last["ChildShards"])


def test_subscribe_errors(kinesis, engine):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    ghost = f"{ARN}/consumer/ghost:1700000000"
    with pytest.raises(ClientError) as e:
        kinesis.subscribe_to_shard(ConsumerARN=ghost, ShardId=SID, StartingPosition={"Type": "LATEST"})
    assert error_of(e) == ("ResourceNotFoundException", f"Consumer {ghost}, account {ACCT} not found.")
    arn = kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app")["Consumer"]["ConsumerARN"]
    with pytest.raises(ClientError) as e:
        kinesis.subscribe_to_shard(ConsumerARN=arn, ShardId="shardId-000000000009", StartingPosition={"Type": "LATEST"})
    assert error_of(e) == (
        "ResourceNotFoundException",
        f"Shard shardId-000000000009 in stream s under account {ACCT} does not exist",
    )
    events = subscribe(kinesis, arn, {"Type": "LATEST"})
    with pytest.raises(ClientError) as e:
        kinesis.subscribe_to_shard(ConsumerARN=arn, ShardId=SID, StartingPosition={"Type": "LATEST"})
    assert error_of(e) == (
        "ResourceInUseException",
        f"Another active subscription exists for consumer {arn} on shard {SID}",
    )
    events.close()


def test_errors_after_the_start_arrive_in_the_stream():
    clock = {"now": 1_700_000_000_000}
    engine = shardstream.Engine(clock=lambda: clock["now"])
    engine.fanout.heartbeat_s = 0.2
    with start_server(engine) as srv:
        kinesis = boto3_client(srv.url)
        kinesis.create_stream(StreamName="s", ShardCount=1)
        arn = kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app")["Consumer"]["ConsumerARN"]
        first = subscribe(kinesis, arn, {"Type": "LATEST"})
        old = iter(first)
        next(old)
        clock["now"] += 5_000
        new = subscribe(kinesis, arn, {"Type": "LATEST"})  # takes over
        try:
            with pytest.raises(EventStreamError) as e:
                for _ in old:
                    pass
            assert error_of(e) == (
                "ResourceInUseException",
                f"Another active subscription exists for consumer {arn} on shard {SID}",
            )
            kinesis.deregister_stream_consumer(ConsumerARN=arn)
            with pytest.raises(EventStreamError) as e:
                for _ in new:
                    pass
            assert error_of(e)[0] == "ResourceInUseException"
            assert engine.fanout.subscriptions() == []
        finally:
            first.close()
            new.close()


def test_server_stop_ends_open_streams(engine):
    engine.fanout.heartbeat_s = 0.2
    srv = start_server(engine)
    kinesis = boto3_client(srv.url)
    kinesis.create_stream(StreamName="s", ShardCount=1)
    arn = kinesis.register_stream_consumer(StreamARN=ARN, ConsumerName="app")["Consumer"]["ConsumerARN"]
    stream = subscribe(kinesis, arn, {"Type": "LATEST"})
    events = iter(stream)
    next(events)
    began = time.monotonic()
    srv.stop()
    assert time.monotonic() - began < 1.5
    assert engine.fanout.subscriptions() == []
    assert list(events) == []  # the body ended cleanly
    stream.close()


def test_cbor_subscription(server, engine, fast):
    import cbor2

    stream = engine.create_stream("s", 1)
    arn = engine.register_stream_consumer(stream.arn, "app")["Consumer"]["ConsumerARN"]
    stream.put_record(b"\x00raw", "k")
    body = cbor2.dumps({"ConsumerARN": arn, "ShardId": SID, "StartingPosition": {"Type": "TRIM_HORIZON"}})
    req = urllib.request.Request(server.url + "/", data=body, method="POST")
    req.add_header("Content-Type", "application/x-amz-cbor-1.1")
    req.add_header("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
    for k, val in DUMMY_AUTH.items():
        req.add_header(k, val)
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/vnd.amazon.eventstream"
        messages = decode_all(resp.read())
    assert messages[0].headers[":event-type"] == "initial-response"
    assert messages[1].headers[":content-type"] == "application/x-amz-cbor-1.1"
    event = codec.decode_cbor(messages[1].payload)  # reads tag 1 as epoch milliseconds, as AWS means it
    record = event["Records"][0]
    assert record["Data"] == b"\x00raw" and record["PartitionKey"] == "k"
    assert abs(record["ApproximateArrivalTimestamp"].ms - engine.now_ms()) < 60_000


def test_json_wire_payload_is_getrecords_shape(server, engine, fast):
    stream = engine.create_stream("s", 1)
    arn = engine.register_stream_consumer(stream.arn, "app")["Consumer"]["ConsumerARN"]
    stream.put_record(b"hi", "k")
    body = json.dumps({"ConsumerARN": arn, "ShardId": SID, "StartingPosition": {"Type": "TRIM_HORIZON"}}).encode()
    req = urllib.request.Request(server.url + "/", data=body, method="POST")
    req.add_header("Content-Type", "application/x-amz-json-1.1")
    req.add_header("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
    for k, val in DUMMY_AUTH.items():
        req.add_header(k, val)
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Transfer-Encoding"] == "chunked"
        messages = decode_all(resp.read())
    assert [m.headers[":event-type"] for m in messages[:2]] == ["initial-response", "SubscribeToShardEvent"]
    assert messages[0].payload == b"{}"
    record = json.loads(messages[1].payload)["Records"][0]
    assert base64.b64decode(record["Data"]) == b"hi" and isinstance(record["ApproximateArrivalTimestamp"], float)


def test_remote_engine_consumer_operations(server, engine):
    remote = shardstream.connect(server.url)
    stream = engine.create_stream("s", 1)
    consumer = remote.register_stream_consumer(stream.arn, "app", tags={"team": "data"})["Consumer"]
    assert consumer["ConsumerStatus"] == "ACTIVE" and consumer["ConsumerName"] == "app"
    assert engine.list_tags_for_resource(consumer["ConsumerARN"])["Tags"] == [{"Key": "team", "Value": "data"}]
    embedded = engine.describe_stream_consumer(consumer_arn=consumer["ConsumerARN"])["ConsumerDescription"]
    remote_view = remote.describe_stream_consumer(consumer_arn=consumer["ConsumerARN"])["ConsumerDescription"]
    assert remote_view["ConsumerARN"] == embedded["ConsumerARN"] and remote_view["StreamARN"] == stream.arn
    assert abs(remote_view["ConsumerCreationTimestamp"] - embedded["ConsumerCreationTimestamp"]) < dt.timedelta(
        milliseconds=2
    )
    remote.register_stream_consumer(stream.arn, "other")
    page = remote.list_stream_consumers(stream.arn, max_results=1)
    assert [c["ConsumerName"] for c in page["Consumers"]] == ["app"]
    assert [c["ConsumerName"] for c in remote.list_stream_consumers(stream.arn, page["NextToken"])["Consumers"]] == [
        "other"
    ]
    assert remote.deregister_stream_consumer(stream.arn, "other") == {}
    with pytest.raises(shardstream.errors.ResourceNotFoundException) as ei:
        remote.describe_stream_consumer(stream.arn, "other")
    assert str(ei.value) == f"Consumer other, account {ACCT} not found."
    assert remote.describe_stream_summary("s")["StreamDescriptionSummary"]["ConsumerCount"] == 1
