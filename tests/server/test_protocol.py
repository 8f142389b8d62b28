"""The wire protocol, spoken raw over HTTP (urllib), including malformed requests."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import cbor2
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
    status, _, body = op(server.url, "DescribeStreamSummary", {"StreamName": "raw", "StreamARN": None})
    assert status == 200 and isinstance(body["StreamDescriptionSummary"]["StreamCreationTimestamp"], float)
    status, _, body = op(server.url, "DescribeStreamSummary", {"StreamName": "raw", "Unknown": 1})
    assert (status, body["__type"]) == (400, "SerializationException")
    assert body["Message"] == (
        'Unrecognized field "Unknown" (class com.amazonaws.kinesis.v20131202.DescribeStreamSummaryInput), '
        "not marked as ignorable"
    )


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
    assert status == 404 and body == b"<UnknownOperationException/>\n"
    status, _, body = call(server.url, b"{}", target=None, content_type=content_type)
    assert status == 403 and b"<AccessDeniedException>" in body
    assert_alive(server.url)


# -- raw HTTP (http.client): exact headers, nothing added by the client ------------------------


def raw_post(url, body=b"", headers=None, method="POST", path="/"):
    """One request on a fresh loopback connection; (status, headers as a dict of lists, body)."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={**DUMMY_AUTH, **(headers or {})})
        resp = conn.getresponse()
        out = resp.read()
        names = {}
        for k, v in resp.getheaders():
            names.setdefault(k.lower(), []).append(v)
        return resp.status, names, out
    finally:
        conn.close()


CBOR = "application/x-amz-cbor-1.1"


def _cbor_body(out):
    from shardstream.server.codec import decode_cbor

    return decode_cbor(out)


@pytest.mark.parametrize(
    "content_type", [None, "", "text/plain", JSON, JSON + "; charset=utf-8", CBOR, "application/json"]
)
def test_empty_body_is_decided_before_the_content_type(server, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    as_json = content_type is not None and content_type.split(";")[0] == JSON
    for target, error in (
        (TARGET + "ListStreams", "SerializationException"),
        (TARGET + "Nope", "UnknownOperationException"),
        (None, "UnknownOperationException"),
    ):
        sent = headers if target is None else {**headers, "X-Amz-Target": target}
        status, got, out = raw_post(server.url, b"", sent)
        assert status == 400
        if as_json:
            assert got["content-type"] == [JSON] and json.loads(out) == {"__type": error}
        else:
            assert got["content-type"] == [CBOR] and _cbor_body(out) == {"__type": error}


@pytest.mark.parametrize("content_type", [None, "application/json", "application/x-amz-json-1.0", "text/plain"])
def test_errors_are_cbor_unless_the_request_is_json_1_1(server, content_type):
    headers = {"X-Amz-Target": TARGET + "ListStreams", "Origin": "http://x"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    status, got, out = raw_post(server.url, b"", headers)
    assert status == 400 and got["content-type"] == [CBOR]
    assert _cbor_body(out) == {"__type": "SerializationException"}
    assert got["access-control-allow-origin"] == ["*"] and "x-amzn-RequestId" in got["access-control-expose-headers"][0]


def test_internal_failure_follows_the_error_encoding_rule(server, monkeypatch):
    from shardstream.server import actions

    def boom(engine, params):
        raise RuntimeError("kaboom")

    monkeypatch.setitem(actions.ACTIONS, "DescribeLimits", boom)
    status, got, out = raw_post(server.url, b"\xa0", {"Content-Type": CBOR, "X-Amz-Target": TARGET + "DescribeLimits"})
    assert status == 500 and got["content-type"] == [CBOR] and _cbor_body(out) == {"__type": "InternalFailure"}


@pytest.mark.parametrize(
    "target, status, body",
    [
        (TARGET + "ListStreams", 404, b"<UnknownOperationException/>\n"),
        ("Kinesis_20131202.Nope", 404, b"<UnknownOperationException/>\n"),
        ("a.b.c", 404, b"<UnknownOperationException/>\n"),
        ("Kinesis_20131202.", 403, None),
        (".ListStreams", 403, None),
        ("ListStreams", 403, None),
        (None, 403, None),
    ],
)
def test_xml_answers_have_no_content_type(server, target, status, body):
    headers = {"Content-Type": "text/plain"}
    if target is not None:
        headers["X-Amz-Target"] = target
    got_status, got, out = raw_post(server.url, b"{}", headers)
    assert got_status == status and "content-type" not in got
    assert got["x-amzn-requestid"]
    if body is None:
        assert out == (
            b"<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized"
            b"</Message>\n</AccessDeniedException>\n"
        )
    else:
        assert out == body


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_access_denied_has_no_content_type(server, method):
    status, got, out = raw_post(server.url, b"", {"X-Amz-Target": TARGET + "ListStreams"}, method=method)
    assert status == 403 and "content-type" not in got and out.startswith(b"<AccessDeniedException>")


def test_health(server):
    import shardstream

    op(server.url, "CreateStream", {"StreamName": "h1", "ShardCount": 1})
    status, got, out = raw_post(server.url, method="GET", path="/_shardstream/health")
    assert status == 200 and got["content-type"] == ["application/json"]
    health = json.loads(out)
    assert health["status"] == "ok" and health["version"] == shardstream.__version__
    assert "model_version" in health
    assert health["regions"] == ["us-east-1"] and health["streams"] == 1
    # everything else under the prefix (and the health path with other methods) stays Kinesis's
    status, got, out = raw_post(server.url, method="GET", path="/_shardstream/other")
    assert status == 403 and out.startswith(b"<AccessDeniedException>") and "content-type" not in got
    status, _, out = raw_post(
        server.url, b"{}", {"Content-Type": JSON, "X-Amz-Target": TARGET + "ListStreams"}, path="/_shardstream/health"
    )
    assert status == 200 and json.loads(out)["StreamNames"] == ["h1"]


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


def test_cbor_put_records_fast_path_and_fallbacks(server):

    def cpost(operation, payload):
        status, got, out = raw_post(server.url, payload, {"Content-Type": CBOR, "X-Amz-Target": TARGET + operation})
        return status, (_cbor_body(out) if out else None)

    assert cpost("CreateStream", cbor2.dumps({"StreamName": "cf", "ShardCount": 2}))[0] == 200
    records = [{"Data": bytes([i]) * i, "PartitionKey": f"k{i}"} for i in range(1, 101)]
    status, out = cpost("PutRecords", cbor2.dumps({"StreamName": "cf", "Records": records}))
    assert status == 200 and out["FailedRecordCount"] == 0 and len(out["Records"]) == 100
    # a tag-1 timestamp in an unknown member: read (cbor2 would refuse it), then refused as a member
    tagged = cbor2.dumps({"StreamName": "cf", "Records": records[:1], "When": cbor2.CBORTag(1, 1_700_000_000_000)})
    status, out = cpost("PutRecords", tagged)
    assert status == 400 and out["Message"].startswith('Unrecognized field "When"')
    # a tag-1 timestamp where one belongs
    tagged = cbor2.dumps(
        {
            "StreamName": "cf",
            "Timestamp": cbor2.CBORTag(1, 1_700_000_000_000),
            "ShardId": "shardId-000000000000",
            "ShardIteratorType": "AT_TIMESTAMP",
        }
    )
    status, out = cpost("GetShardIterator", tagged)
    assert status == 200 and out["ShardIterator"]
    # a timestamp where a blob belongs: worded as the JSON form would be (epoch seconds are a number)
    bad = cbor2.dumps({"StreamName": "cf", "Records": [{"Data": cbor2.CBORTag(1, 5), "PartitionKey": "k"}]})
    status, out = cpost("PutRecords", bad)
    assert status == 400 and out["__type"] == "SerializationException"
    assert out["Message"].endswith("can not be converted to a Blob")
    # trailing bytes after the map, and garbage: SerializationException, server alive
    for payload in (cbor2.dumps({"StreamName": "cf", "Records": records[:1]}) + b"\x00", b"\xbf\x61", b"\xc1"):
        status, out = cpost("PutRecords", payload)
        assert status == 400 and out["__type"] == "SerializationException"
    status, out = cpost("PutRecord", cbor2.dumps({"StreamName": "cf", "Data": b"\x00\xff", "PartitionKey": "p"}))
    assert status == 200 and out["ShardId"].startswith("shardId-")
    stream = server.engine.stream("cf")
    table = stream.read_table()
    assert sorted(table.column("data").to_pylist()) == sorted([r["Data"] for r in records] + [b"\x00\xff"])
    assert_alive(server.url)
