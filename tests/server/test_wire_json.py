"""GetRecords' JSON body written from Arrow (``_wire_json.records_json``) is byte for byte what
orjson writes for the dict form, over HTTP too (encrypted streams keep the dict path)."""

from __future__ import annotations

import orjson
import pytest

import shardstream
from shardstream._wire_json import records_json
from shardstream.errors import SerializationException
from shardstream.server import codec

KEYS = ["plain", 'quo"te', "back\\slash", "new\nline\ttab\r\b\f", "ctl\x01\x1f\x7f", "ünïcødé ✓", "k" * 256]


@pytest.fixture
def filled():
    engine = shardstream.Engine()
    engine.create_stream("w", 1)
    stream = engine.stream("w")
    records = [{"Data": bytes(range(i % 7)) * (i % 5), "PartitionKey": KEYS[i % len(KEYS)]} for i in range(300)]
    stream.put_records(records)
    iterator = stream.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")["ShardIterator"]
    return stream, iterator


def test_records_json_matches_orjson_byte_for_byte(filled):
    stream, iterator = filled
    expected = stream.get_records(iterator, 10_000, wire=True)
    batch = stream.get_record_batch(iterator, 10_000)["Records"]
    assert records_json(batch) == orjson.dumps(expected["Records"])
    for start, length in ((0, 0), (5, 1), (17, 100), (299, 1)):
        assert records_json(batch.slice(start, length)) == orjson.dumps(expected["Records"][start : start + length])
    assert records_json(batch, b"<", b">") == b"<" + orjson.dumps(expected["Records"]) + b">"


def test_get_records_body_matches_encode_json(filled):
    stream, iterator = filled
    body = codec.get_records_json(stream.get_record_batch(iterator, 50))
    expected = stream.get_records(iterator, 50, wire=True)
    got = orjson.loads(body.body)
    assert got["Records"] == expected["Records"] and list(got) == list(expected)
    assert abs(got["MillisBehindLatest"] - expected["MillisBehindLatest"]) < 5_000  # read a moment apart


def test_records_json_refuses_other_shapes():
    import pyarrow as pa

    with pytest.raises((ValueError, KeyError)):
        records_json(pa.record_batch({"x": [1]}))


def test_get_records_over_http_plain_and_encrypted(server, kinesis):
    kinesis.create_stream(StreamName="h", ShardCount=1)
    server.engine.stream("h")  # exists at once (no transition time)
    kinesis.put_records(StreamName="h", Records=[{"Data": k.encode(), "PartitionKey": k} for k in KEYS])
    it = kinesis.get_shard_iterator(StreamName="h", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    out = kinesis.get_records(ShardIterator=it["ShardIterator"])
    assert [r["PartitionKey"] for r in out["Records"]] == KEYS
    assert [r["Data"] for r in out["Records"]] == [k.encode() for k in KEYS]
    assert "EncryptionType" not in out["Records"][0]
    kinesis.start_stream_encryption(StreamName="h", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    out = kinesis.get_records(ShardIterator=it["ShardIterator"])
    assert [r["EncryptionType"] for r in out["Records"]] == ["KMS"] * len(KEYS)


def test_base64_decoders_accept_exactly_what_kinesis_accepts():
    import base64
    import random

    from shardstream._wire_json import decode_base64_texts

    rng = random.Random(5)
    alphabet = "AQgwBaz09+/=-_ \né"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    texts += [base64.b64encode(rng.randbytes(rng.randint(0, 10))).decode() for _ in range(2_000)]
    for text in texts:
        try:
            expected = [codec.decode_blob(text)]
        except SerializationException:
            expected = None
        assert decode_base64_texts([text]) == expected, text
        assert codec._decode_base64_texts_py([text]) == expected, text
    assert decode_base64_texts([]) == [] and decode_base64_texts([b"aGk="]) is None and decode_base64_texts([1]) is None


def test_put_records_decode_mixes_text_and_bytes():
    body = {"StreamName": "s", "Records": [{"Data": "aGk=", "PartitionKey": "a"}, {"Data": b"x", "PartitionKey": "b"}]}
    out = codec.decode_params("PutRecords", body)
    assert [r["Data"] for r in out["Records"]] == [b"hi", b"x"]
    with pytest.raises(SerializationException):
        codec.decode_params("PutRecords", {"Records": [{"Data": "aGk", "PartitionKey": "a"}]})
