"""LocalDispatcher answers raw requests exactly as the server does over HTTP (status, type, body)."""

from __future__ import annotations

import http.client

import cbor2
import pytest

import shardstream
from shardstream.server.local import LocalDispatcher
from shardstream.testing import start_server

JSON = "application/x-amz-json-1.1"
CBOR = "application/x-amz-cbor-1.1"


def target(operation: str) -> str:
    return f"Kinesis_20131202.{operation}"


REQUESTS = [
    ("POST", {"Content-Type": JSON, "X-Amz-Target": target("ListStreams")}, b"{}"),
    ("POST", {"Content-Type": JSON, "X-Amz-Target": target("CreateStream")}, b'{"StreamName": "s", "ShardCount": 1}'),
    ("POST", {"Content-Type": JSON, "X-Amz-Target": target("CreateStream")}, b'{"StreamName": "s", "ShardCount": 1}'),
    ("POST", {"Content-Type": JSON, "X-Amz-Target": target("CreateStream")}, b'{"StreamName": "t", "ShardCount": -1}'),
    (
        "POST",
        {"Content-Type": JSON, "X-Amz-Target": target("PutRecord")},
        b'{"StreamName": "s", "Data": "!!", "PartitionKey": "k"}',
    ),
    ("POST", {"Content-Type": JSON, "X-Amz-Target": target("DescribeStreamSummary")}, b"{not json"),
    ("POST", {"Content-Type": JSON, "X-Amz-Target": target("NoSuchThing")}, b"{}"),
    ("POST", {"Content-Type": JSON, "X-Amz-Target": target("ListStreams")}, b""),
    ("POST", {"Content-Type": "text/plain", "X-Amz-Target": target("ListStreams")}, b"{}"),
    ("GET", {}, b""),
    (
        "POST",
        {"Content-Type": CBOR, "X-Amz-Target": target("DescribeStreamSummary")},
        cbor2.dumps({"StreamName": "nope"}),
    ),
    (
        "POST",
        {"Content-Type": CBOR, "X-Amz-Target": target("PutRecord")},
        cbor2.dumps({"StreamName": "s", "Data": b"x" * 10, "PartitionKey": ""}),
    ),
    ("POST", {"Content-Type": "application/json", "X-Amz-Target": target("ListStreams")}, b"{}"),
]


def over_http(port: int, method: str, headers: dict, body: bytes):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, "/", body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def test_same_answers_as_the_server():
    with start_server(auth="off") as server:
        expected = [over_http(server.port, *request) for request in REQUESTS]
    with LocalDispatcher(shardstream.Engine()) as dispatcher:
        for request, (status, content_type, body) in zip(REQUESTS, expected):
            reply = dispatcher.handle(request[0], "/", request[1], request[2])
            assert (reply.status, reply.headers.get("Content-Type"), reply.body) == (status, content_type, body), (
                request
            )
    assert {status for status, _, _ in expected} >= {200, 400, 403, 404}


def test_closed_dispatcher_refuses():
    dispatcher = LocalDispatcher(shardstream.Engine())
    dispatcher.close()
    dispatcher.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        dispatcher.handle("POST", "/", {}, b"{}")
