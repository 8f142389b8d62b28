"""The C CBOR reader (``_wire_cbor.decode_request``) and writer (``encode_plain``) agree with the Python reference."""

from __future__ import annotations

import math
import random

import cbor2
import pytest

from shardstream.errors import SerializationException
from shardstream.server import codec

VALUES = [
    0, 1, 23, 24, 255, 256, 65_536, 2**32, 2**64 - 1, -1, -24, -25, -(2**63), -(2**64),
    1.5, float("inf"), True, False, None, "", "é✓", b"", b"\x00\xff", [], {},
    {"Data": b"x"}, {"k": [1, {"Data": b"y", "z": b"q"}]}, {1: 2},
]  # fmt: skip


def same(x, y) -> bool:
    if type(x) is not type(y):
        return False
    if isinstance(x, float):
        return (math.isnan(x) and math.isnan(y)) or x == y
    if isinstance(x, list):
        return len(x) == len(y) and all(same(p, q) for p, q in zip(x, y))
    if isinstance(x, dict):
        return list(x) == list(y) and all(same(x[k], y[k]) for k in x)
    return x == y


def test_stray_bytes_and_the_json_form():
    # raw blobs for the data plane; base64 text (the JSON form) elsewhere
    assert codec.parse_cbor_request(cbor2.dumps({"Data": b"hi"}), "PutRecord") == {"Data": b"hi"}
    assert codec.parse_cbor_request(cbor2.dumps({"Data": b"hi", "PartitionKey": b"k"}), "PutRecord") == {
        "Data": b"hi",
        "PartitionKey": "aw==",
    }
    assert codec.parse_cbor_request(cbor2.dumps({"Tags": {"Data": b"hi"}}), "AddTagsToStream") == {
        "Tags": {"Data": "aGk="}
    }
    ms = cbor2.dumps({"Timestamp": cbor2.CBORTag(1, 1_700_000_000_123)})
    assert codec.parse_cbor_request(ms, "GetShardIterator") == {"Timestamp": 1_700_000_000.123}


def test_plain_encoder_writes_what_cbor2_writes():
    from shardstream._wire_cbor import encode_plain

    response = {"FailedRecordCount": 0, "Records": [{"SequenceNumber": "4" * 56, "ShardId": "shardId-000000000001"}]}
    for value in [*VALUES, response, (1, 2), "x" * 70_000, -0.0, 1e300]:
        if isinstance(value, float) and not math.isfinite(value):
            assert encode_plain(value) is None  # cbor2 writes these as half floats
        else:
            assert encode_plain(value) == cbor2.dumps(value), value
    assert encode_plain(2**64) is None and encode_plain({"a": object()}) is None
    import datetime as dt

    when = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    assert encode_plain({"t": when}) is None
    assert codec.decode_cbor(codec.encode_cbor({"t": when}))["t"].ms == 1_704_067_200_000


def _chunked(major: int, parts: list[bytes]) -> bytes:
    """An indefinite-length byte (2) or text (3) string made of ``parts``."""
    return bytes([major << 5 | 31]) + b"".join(cbor2.dumps(p if major == 2 else p.decode()) for p in parts) + b"\xff"


EXACT_BODIES = [
    cbor2.dumps(cbor2.CBORTag(1, 1_700_000_000_123)),
    cbor2.dumps({"Timestamp": cbor2.CBORTag(1, 1.5), "x": cbor2.CBORTag(5, [1, 2])}),
    cbor2.dumps(cbor2.CBORTag(1, cbor2.CBORTag(1, 5))),
    cbor2.dumps(cbor2.CBORTag(1, cbor2.CBORTag(7, 5))),
    cbor2.dumps({"Data": b"x", "k": b"y", b"key": 1}),
    b"\x9f\x01\x02\xff",  # indefinite list
    b"\xbf\x61a\x01\xff",  # indefinite map
    b"\x9f\xbf\x61a\x9f\xff\xff\xff",
    _chunked(2, [b"ab", b"c"]),
    _chunked(3, [b"ab", b"c"]),
    b"\xa1\x64Data" + _chunked(2, [b"ab", b""]),
    b"\xf9\x3c\x00",  # half float 1.0
    b"\xf9\x7c\x00",  # half float infinity
    b"\xf9\x00\x01",  # the smallest half subnormal
    b"\xf9\x7e\x00",  # NaN
    b"\xf0",  # simple value 16
    b"\xf7",  # undefined
]


@pytest.mark.parametrize("raw_data", [False, True])
def test_the_c_reader_agrees_with_the_python_reference(raw_data):
    """decode_request == cbor_to_json_form(decode_cbor(...)), and refuses all the reference refuses."""
    from shardstream._wire_cbor import Malformed, decode_request

    def json_form(value, under_data=False):  # cbor_to_json_form, keeping "Data" blobs when raw_data
        if isinstance(value, bytes) and under_data and raw_data:
            return value
        if isinstance(value, dict):
            return {k: json_form(v, k == "Data") for k, v in value.items()}
        if isinstance(value, list):
            return [json_form(v) for v in value]
        return codec.cbor_to_json_form(value)

    def reference(body):
        return json_form(codec.decode_cbor(body))

    rng = random.Random(5)
    bodies = list(EXACT_BODIES)
    for _ in range(20_000):
        body = rng.choice(EXACT_BODIES) if rng.random() < 0.5 else cbor2.dumps(rng.choice(VALUES))
        damaged = bytearray(body)
        damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        bodies.append(bytes(damaged)[: rng.randrange(len(damaged) + 1)] if rng.random() < 0.3 else bytes(damaged))
    for body in bodies:
        try:
            want = reference(body)
        except (SerializationException, TypeError):  # TypeError: an unhashable key (a CBOR map key)
            with pytest.raises(Malformed):
                decode_request(body, raw_data)
            continue
        assert same(decode_request(body, raw_data), want), body


def test_the_c_reader_refuses_malformed_bodies():
    from shardstream._wire_cbor import Malformed, decode_request

    for body in [
        b"",
        b"\xa0\x00",
        b"\xff",
        b"\x81\xff",
        b"\xa1\x01\xff",
        b"\x62\xff\xfe",
        b"\x81" * 100 + b"\x00",
        b"\xa1\x80\x01",
        b"\x5f\x61a\xff",
        b"\xf8\x20",
        b"\x1c",
        b"\xc1",
    ]:
        with pytest.raises(Malformed):
            decode_request(body)
        with pytest.raises(SerializationException, match="Malformed CBOR body"):
            codec.parse_cbor_request(body, "PutRecords")
