"""Request bodies that used to get a 500, let a member through unchecked, or stall the event loop."""

from __future__ import annotations

import http.client
import json
import struct
import threading
import time

import pytest

from shardstream.testing import boto3_client

cbor2 = pytest.importorskip("cbor2")

JSON = "application/x-amz-json-1.1"
CBOR = "application/x-amz-cbor-1.1"
DUMMY_AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20240101T000000Z",
}


def post(port: int, operation: str, body: bytes, content_type: str = JSON) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {**DUMMY_AUTH, "X-Amz-Target": "Kinesis_20131202." + operation, "Content-Type": content_type}
        conn.request("POST", "/", body, headers)
        answer = conn.getresponse()
        data = answer.read()
    finally:
        conn.close()
    if not data:
        return answer.status, {}
    return answer.status, (cbor2.loads(data) if content_type == CBOR else json.loads(data))


@pytest.mark.parametrize("content_type", [JSON, CBOR])
def test_unknown_members_of_put_records_are_refused_on_every_path(server, content_type):
    """The batch fast paths (shapes, codec, the C readers) never let an unknown member through."""
    server.engine.create_stream("s", shard_count=1)
    dump = json.dumps if content_type == JSON else cbor2.dumps
    data = "eA==" if content_type == JSON else b"x"
    entry = {"Data": data, "PartitionKey": "k"}
    for body, field, shape in [
        (
            {"StreamName": "s", "Records": [entry, {**entry, "StreamName": "other"}]},
            "StreamName",
            "PutRecordsRequestEntry",
        ),
        ({"StreamName": "s", "Records": [entry], "StreamNames": ["other"]}, "StreamNames", "PutRecordsInput"),
        ({"StreamName": "s", "Records": [entry], "Limit": None}, "Limit", "PutRecordsInput"),
    ]:
        raw = dump(body)
        status, answer = post(server.port, "PutRecords", raw.encode() if isinstance(raw, str) else raw, content_type)
        assert (status, answer["__type"]) == (400, "SerializationException")
        assert answer["Message"] == (
            f'Unrecognized field "{field}" (class com.amazonaws.kinesis.v20131202.{shape}), not marked as ignorable'
        )
    assert server.engine.stream("s").read_table().num_rows == 0


@pytest.mark.parametrize(
    "operation, body",
    [
        ("ListStreams", {"Limit": 1.5}),
        ("ListStreams", {"Limit": 2.0}),
        ("DescribeStream", {"StreamName": "s", "Limit": 1.5}),
        ("ListTagsForStream", {"StreamName": "s", "Limit": 2.0}),
        ("ListShards", {"StreamName": "s", "MaxResults": 1.5}),
    ],
)
def test_a_float_in_an_integer_member_is_read_floored(server, operation, body):
    """Coral reads JSON numbers as TruncatingBigNumber (spec 2.6): 1.5 is 1, and the action gets 1."""
    server.engine.create_stream("s", shard_count=2)
    server.engine.add_tags_to_stream("s", {"a": "1", "b": "2"})
    status, answer = post(server.port, operation, json.dumps(body).encode())
    assert status == 200, answer
    if operation == "DescribeStream":
        assert len(answer["StreamDescription"]["Shards"]) == 1
    elif operation == "ListShards":
        assert len(answer["Shards"]) == 1
    elif operation == "ListTagsForStream":
        assert len(answer["Tags"]) == 2


@pytest.mark.parametrize(
    "operation, body",
    [
        ("CreateStream", {"StreamName": "s", "Tags": {1: "a"}}),
        ("AddTagsToStream", {"StreamName": "s", "Tags": {1: "a"}}),
        ("TagResource", {"ResourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s", "Tags": {1: "a"}}),
        ("RegisterStreamConsumer", {"StreamARN": "arn:aws:kinesis:us-east-1:0:stream/s", "ConsumerName": "c",
                                    "Tags": {1: "a"}}),
    ],
)  # fmt: skip
def test_a_cbor_map_with_integer_keys_is_a_serialization_exception(server, operation, body):
    status, answer = post(server.port, operation, cbor2.dumps(body), CBOR)
    assert (status, answer["__type"]) == (400, "SerializationException")
    assert (
        answer["Message"]
        == "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"
    )


def _cbor_head(major: int, n: int) -> bytes:
    return bytes([major << 5 | 26]) + struct.pack(">I", n)


BIG_BODIES = {
    # 2.4 M empty entries in 7.2 MB: the validation of every entry once took 4.6 s on the loop
    "json": (JSON, b'{"StreamName":"s","Records":[' + b",".join([b"{}"] * 2_400_000) + b"]}"),
    # 3.5 M tagged empty maps: the pure-Python CBOR decoder once took 11 s on the loop
    "cbor-tagged": (CBOR, b"\xa2\x6aStreamName\x61s\x67Records" + _cbor_head(4, 3_500_000) + b"\xc0\xa0" * 3_500_000),
    # 7 M empty maps in an indefinite-length array
    "cbor-indefinite": (CBOR, b"\xa2\x6aStreamName\x61s\x67Records\x9f" + b"\xa0" * 7_000_000 + b"\xff"),
}


@pytest.mark.parametrize("name", sorted(BIG_BODIES))
def test_a_big_body_neither_stalls_the_server_nor_gets_a_huge_answer(server, name):
    content_type, body = BIG_BODIES[name]
    latencies: list[float] = []
    done = threading.Event()

    def small_requests() -> None:
        kinesis = boto3_client(server.url)
        kinesis.list_streams()  # connection and client set up before the big body goes
        ready.set()
        while not done.is_set():
            start = time.perf_counter()
            kinesis.list_streams()
            latencies.append(time.perf_counter() - start)
            time.sleep(0.01)

    ready = threading.Event()
    thread = threading.Thread(target=small_requests)
    thread.start()
    ready.wait(10)
    start = time.perf_counter()
    status, answer = post(server.port, "PutRecords", body, content_type)
    elapsed = time.perf_counter() - start
    time.sleep(0.05)
    done.set()
    thread.join()
    assert (status, answer["__type"]) == (400, "ValidationException")
    assert "Member must have length less than or equal to 500" in answer["message"]
    assert len(answer["message"]) < 60_000  # 501 entries listed, then "...": not 2.4 M of them
    assert elapsed < 4.0
    assert max(latencies) < 1.5, (name, max(latencies), elapsed)  # was the whole decode (4-17 s)
