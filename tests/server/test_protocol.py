"""The wire protocol, spoken raw over HTTP (urllib), including malformed requests."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest

JSON = "application/x-amz-json-1.1"
TARGET = "Kinesis_20131202."


# well formed but never verified: the server's default auth mode checks presence only (tests/server/test_auth.py)
DUMMY_AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20240101T000000Z",
}


def call(url, body=b"", *, target=None, content_type=JSON, method="POST", headers=None):
    req = urllib.request.Request(url + "/", data=body if method == "POST" else None, method=method)
    if content_type is not None:
        req.add_header("Content-Type", content_type)
    if target is not None:
        req.add_header("X-Amz-Target", target)
    for k, v in {**DUMMY_AUTH, **(headers or {})}.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def op(url, operation, params, **kw):
    status, headers, body = call(url, json.dumps(params).encode(), target=TARGET + operation, **kw)
    return status, headers, (json.loads(body) if body else None)


def assert_alive(url):
    status, headers, body = op(url, "ListStreams", {})
    assert status == 200 and "StreamNames" in body and headers["x-amzn-RequestId"]


def test_round_trip_raw_json(server):
    status, headers, body = op(server.url, "CreateStream", {"StreamName": "raw", "ShardCount": 1})
    assert (status, body) == (200, None)
    assert headers["Content-Length"] == "0"
    status, headers, body = op(server.url, "PutRecord", {"StreamName": "raw", "Data": "aGk=", "PartitionKey": "k"})
    assert status == 200 and headers["Content-Type"] == JSON and body["ShardId"] == "shardId-000000000000"
    status, _, body = op(
        server.url,
        "GetShardIterator",
        {"StreamName": "raw", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"},
    )
    status, _, body = op(server.url, "GetRecords", {"ShardIterator": body["ShardIterator"]})
    rec = body["Records"][0]
    assert rec["Data"] == "aGk=" and isinstance(rec["ApproximateArrivalTimestamp"], float)
    status, _, body = op(server.url, "DescribeStreamSummary", {"StreamName": "raw", "Unknown": 1, "StreamARN": None})
    assert status == 200 and isinstance(body["StreamDescriptionSummary"]["StreamCreationTimestamp"], float)


def test_every_response_has_a_request_id(server):
    ids = {call(server.url, b"{}", target=TARGET + "ListStreams")[1]["x-amzn-RequestId"] for _ in range(3)}
    ids.add(call(server.url, b"{", target=TARGET + "ListStreams")[1]["x-amzn-RequestId"])
    ids.add(call(server.url, method="GET")[1]["x-amzn-RequestId"])
    assert len(ids) == 5


@pytest.mark.parametrize("target", [None, "", "Kinesis_20131202.Nope", "DynamoDB_20120810.ListTables", "ListStreams"])
def test_unknown_or_missing_target(server, target):
    status, _, body = call(server.url, b"{}", target=target)
    assert status == 400
    assert json.loads(body) == {"__type": "UnknownOperationException"}
    assert_alive(server.url)


@pytest.mark.parametrize("body", [b"{", b"[]", b"42", b'"x"', b"null", b"\xff\xfe", b"{}}"])
def test_bad_json_is_a_serialization_exception(server, body):
    status, _, out = call(server.url, body, target=TARGET + "ListStreams")
    assert status == 400 and json.loads(out)["__type"] == "SerializationException"
    assert_alive(server.url)


def test_empty_body(server):
    status, _, out = call(server.url, b"", target=TARGET + "ListStreams")
    assert status == 400 and json.loads(out) == {"__type": "SerializationException"}
    status, _, out = call(server.url, b"", target=TARGET + "Nope")
    assert status == 400 and json.loads(out) == {"__type": "UnknownOperationException"}


def test_bad_base64_data(server):
    op(server.url, "CreateStream", {"StreamName": "b64", "ShardCount": 1})
    cases = {
        "23456": "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5",
        "=+/=": "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='",
        "+/+=": "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
    }
    for data, message in cases.items():
        status, _, body = op(server.url, "PutRecord", {"StreamName": "b64", "Data": data, "PartitionKey": "k"})
        assert (status, body) == (400, {"__type": "SerializationException", "Message": message})
    status, _, body = op(
        server.url, "PutRecords", {"StreamName": "b64", "Records": [{"Data": "abc", "PartitionKey": "k"}]}
    )
    assert status == 400 and body["__type"] == "SerializationException"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/xml"])
def test_wrong_content_type(server, content_type):
    status, headers, body = call(server.url, b"{}", target=TARGET + "ListStreams", content_type=content_type)
    assert status == 404 and body == b"<UnknownOperationException></UnknownOperationException>\n"
    status, _, body = call(server.url, b"{}", target=None, content_type=content_type)
    assert status == 403 and b"<AccessDeniedException>" in body
    assert_alive(server.url)


def test_content_type_parameters_are_ignored(server):
    status, _, _ = call(server.url, b"{}", target=TARGET + "ListStreams", content_type=JSON + "; charset=utf-8")
    assert status == 200


def test_legacy_application_json(server):
    status, _, body = call(server.url, b"{}", target=TARGET + "ListStreams", content_type="application/json")
    assert status == 404
    assert json.loads(body)["Output"]["__type"] == "com.amazon.coral.service#UnknownOperationException"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_non_post_is_access_denied(server, method):
    status, _, body = call(server.url, b"{}", target=TARGET + "ListStreams", method=method)
    assert status == 403
    assert body == (
        b"<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized"
        b"</Message>\n</AccessDeniedException>\n"
    )
    assert_alive(server.url)


def test_cors_preflight(server):
    status, headers, body = call(
        server.url,
        method="OPTIONS",
        content_type=None,
        headers={"Origin": "http://x", "Access-Control-Request-Method": "POST"},
    )
    assert status == 200 and body == b""
    assert headers["Access-Control-Allow-Origin"] == "*" and headers["Access-Control-Allow-Methods"] == "POST"


def test_huge_body_is_413_and_server_keeps_serving(server):
    big = b'{"StreamName":"x","Data":"' + b"A" * (7 * 1024 * 1024) + b'","PartitionKey":"k"}'
    status, _, body = call(server.url, big, target=TARGET + "PutRecord")
    assert status == 413 and body == b""
    assert_alive(server.url)


def test_subscribe_to_unknown_consumer_is_a_plain_json_error(server):
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/x/consumer/c:1"
    params = {"ConsumerARN": arn, "ShardId": "shardId-000000000000", "StartingPosition": {"Type": "LATEST"}}
    status, headers, body = op(server.url, "SubscribeToShard", params)
    assert (status, body) == (
        400,
        {"__type": "ResourceNotFoundException", "message": f"Consumer {arn}, account 000000000000 not found."},
    )
    assert headers["Content-Type"] == JSON


def test_internal_failure_is_500_and_not_fatal(server, monkeypatch, caplog):
    from shardstream.server import actions

    def boom(engine, params):
        raise RuntimeError("kaboom")

    monkeypatch.setitem(actions.ACTIONS, "DescribeLimits", boom)
    with caplog.at_level("ERROR", logger="shardstream.server"):
        status, _, body = op(server.url, "DescribeLimits", {})
    assert (status, body) == (500, {"__type": "InternalFailure"})
    assert "kaboom" in caplog.text
    assert_alive(server.url)


def test_cbor(server):
    cbor2 = pytest.importorskip("cbor2")
    import datetime as dt

    from shardstream.server.codec import decode_cbor

    def cop(operation, params):
        status, headers, body = call(
            server.url, cbor2.dumps(params), target=TARGET + operation, content_type="application/x-amz-cbor-1.1"
        )
        if status == 200 and body:
            assert headers["Content-Type"] == "application/x-amz-cbor-1.1"
        return status, (decode_cbor(body) if body else None)  # cbor2 reads tag 1 as seconds

    assert cop("CreateStream", {"StreamName": "cb", "ShardCount": 1}) == (200, None)
    status, out = cop("PutRecord", {"StreamName": "cb", "Data": b"\x00bin", "PartitionKey": "k"})
    assert status == 200
    ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000) - 60_000
    status, out = cop(
        "GetShardIterator",
        {
            "StreamName": "cb",
            "ShardId": "shardId-000000000000",
            "ShardIteratorType": "AT_TIMESTAMP",
            "Timestamp": cbor2.CBORTag(1, ms),
        },
    )
    assert status == 200
    status, out = cop("GetRecords", {"ShardIterator": out["ShardIterator"]})
    rec = out["Records"][0]
    assert rec["Data"] == b"\x00bin"
    ts = rec["ApproximateArrivalTimestamp"]
    assert type(ts).__name__ == "_EpochMillis" and abs(ts.ms - ms - 60_000) < 30_000
    status, out = cop("DescribeStream", {"StreamName": "nope"})
    assert status == 400 and out["__type"] == "ResourceNotFoundException"
    status, out = call(
        server.url, b"\xff\x00garbage", target=TARGET + "ListStreams", content_type="application/x-amz-cbor-1.1"
    )[::2]
    assert status == 400 and decode_cbor(out)["__type"] == "SerializationException"
    assert_alive(server.url)


def test_base64_roundtrip_helper():
    from shardstream.server.codec import decode_blob

    for raw in [b"", b"a", b"ab", b"abc", bytes(range(256))]:
        assert decode_blob(base64.b64encode(raw).decode()) == raw
