"""Random JSON and CBOR bodies for every operation of the model never get a 5xx, nor stop the server.

The bodies follow the vendored model's shapes (:mod:`shardstream.server.model`):
each member of an operation's input (and of its nested structures, lists and
maps) gets either a value of its model type or a wild one -- nested dicts and
lists, floats, huge and negative integers, bools, None, strings, and for CBOR
also byte strings, non-string map keys and tagged items -- and now and then a
member the operation does not have.  They are sent raw over HTTP to a real
server on loopback; whatever the body, the answer is 2xx or 4xx.
"""

from __future__ import annotations

import http.client
import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from shardstream.server import model

from .model_samples import sample

cbor2 = pytest.importorskip("cbor2")

TARGET = "Kinesis_20131202."
DUMMY_AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20240101T000000Z",
}
# SubscribeToShard answers a held-open event stream when it succeeds: random bodies never name a
# registered consumer, but keep the connection's timeout short all the same.
OPERATIONS = sorted(op for op, spec in model.load()["operations"].items() if "input" in spec)
SHAPES = model.load()["shapes"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", "s", "0", "TRIM_HORIZON", "shardId-000000000000", "arn:aws:kinesis:us-east-1:0:stream/s"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
cbor_scalars = st.one_of(
    json_scalars,
    st.floats(),  # NaN and infinities too
    st.integers(-(2**64), 2**64 - 1),
    st.binary(max_size=16),
    st.just(cbor2.undefined),
)
cbor_keys = st.one_of(st.text(max_size=8), st.integers(-5, 5), st.binary(max_size=4), st.booleans(), st.none())
cbor_values = st.recursive(
    cbor_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(cbor_keys, inner, max_size=4),
        st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 3, 4, 5, 24, 32, 55799, 12345]), inner),
    ),
    max_leaves=12,
)


def _typed(shape_name: str, wild, depth: int = 0):
    """Values of model shape ``shape_name``: mostly of its type, sometimes ``wild`` (never at the top)."""
    spec = SHAPES[shape_name]
    kind = spec["type"]
    if depth > 4:
        return wild
    if kind == "structure":
        members = spec.get("members", {})
        typed = st.fixed_dictionaries(
            {}, optional={m: _typed(ms["shape"], wild, depth + 1) for m, ms in members.items()}
        )
    elif kind == "list":
        typed = st.lists(_typed(spec["member"]["shape"], wild, depth + 1), max_size=4)
    elif kind == "map":
        typed = st.dictionaries(st.text(max_size=6), _typed(spec["value"]["shape"], wild, depth + 1), max_size=3)
    elif kind == "string":
        # a value the model accepts (naming the streams the server has) as often as random text
        typed = (
            st.sampled_from(spec["enum"])
            if "enum" in spec
            else st.one_of(st.just(sample(shape_name, True)), st.just(sample(shape_name, True)), st.text(max_size=12))
        )
    elif kind in ("integer", "long"):
        typed = st.integers(-3, 20) | st.floats(-3, 20)
    elif kind == "boolean":
        typed = st.booleans()
    elif kind == "blob":
        typed = st.sampled_from(["", "eA==", "eHg=", "e", "eA=", "====", "e A=", "eA==", "eHg="])
    else:  # timestamp
        typed = st.integers(0, 2_000_000_000) | st.floats(0, 2e9)
    return typed if depth == 0 else st.one_of(typed, typed, typed, typed, wild)


def _bodies(wild):
    """(operation, body): half with wild values and stray members, half of the model's types only."""

    def for_operation(operation):
        shape = model.load()["operations"][operation]["input"]["shape"]
        strays = st.dictionaries(st.sampled_from(["Unknown", "streamName", "Records2"]), wild, min_size=1, max_size=1)
        extra = st.just({}) | st.just({}) | st.just({}) | strays
        messy = st.tuples(_typed(shape, wild), extra).map(lambda pair: {**pair[0], **pair[1]})
        return st.tuples(st.just(operation), messy | _typed(shape, st.nothing()))

    return st.sampled_from(OPERATIONS).flatmap(for_operation)


class _Client:
    """One keep-alive connection to the server, reopened after a connection-closing answer."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def post(self, operation: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        headers = {**DUMMY_AUTH, "X-Amz-Target": TARGET + operation, "Content-Type": content_type}
        try:
            self.conn.request("POST", "/", body, headers)
            answer = self.conn.getresponse()
            return answer.status, answer.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            raise


@pytest.fixture(scope="module")
def fuzz_server():
    from shardstream.testing import start_server

    with start_server() as handle:
        for name in ("a", "s"):  # the stream names (and ARNs) model_samples gives
            handle.engine.create_stream(name, shard_count=2)
        yield handle


@pytest.fixture(scope="module")
def client(fuzz_server):
    client = _Client(fuzz_server.port)
    yield client
    client.conn.close()


def _assert_alive(client):
    status, body = client.post("ListStreams", b"{}", "application/x-amz-json-1.1")
    assert status == 200 and "StreamNames" in json.loads(body)


@settings(max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck))
@given(_bodies(json_values))
def test_random_json_bodies_never_get_a_5xx(client, case):
    operation, body = case
    status, answer = client.post(operation, json.dumps(body).encode(), "application/x-amz-json-1.1")
    assert status < 500, (operation, body, answer)
    event(f"HTTP {status}")


@settings(max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck))
@given(_bodies(cbor_values))
def test_random_cbor_bodies_never_get_a_5xx(client, case):
    operation, body = case
    status, answer = client.post(operation, cbor2.dumps(body), "application/x-amz-cbor-1.1")
    assert status < 500, (operation, body, answer)
    event(f"HTTP {status}")


def test_the_server_is_still_up_after_the_fuzzing(client):
    _assert_alive(client)
