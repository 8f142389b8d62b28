"""The KPL aggregated-record format: round trips, exact sizes, garbage, and interop with ``aws_kinesis_agg``."""

from __future__ import annotations

import base64
import hashlib
import importlib

import pytest
from aws_kinesis_agg.deaggregator import iter_deaggregate_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardstream._native import parse_aggregated_record
from shardstream.aggregation import DIGEST_SIZE, MAGIC, MAX_BYTES, AggregateBuilder, deaggregate, encode_aggregate

from . import kpl_reference

# the deaggregator (imported above) puts the package's generated protobuf modules on sys.path
RecordAggregator = importlib.import_module("aws_kinesis_agg.aggregator").RecordAggregator

keys = st.text(min_size=1, max_size=256)
hash_keys = st.none() | st.integers(0, 2**128 - 1).map(str)
payloads = st.binary(max_size=300)
user_records = st.lists(st.tuples(keys, hash_keys, payloads), min_size=1, max_size=40)


def _aggregate(records, max_bytes=10 * MAX_BYTES):
    """Builders filled in order: a list of (outer key, outer hash key, data, the records in it)."""
    out, builder, held = [], AggregateBuilder(max_bytes), []
    for key, hkey, data in records:
        if not builder.try_add(key, data, hkey):
            out.append((*builder.build(), held))
            builder.clear()
            held = []
            assert builder.try_add(key, data, hkey)
        held.append((key, hkey, data))
    out.append((*builder.build(), held))
    return out


@settings(max_examples=150, deadline=None)
@given(user_records)
def test_round_trip_keeps_keys_hash_keys_data_and_order(records):
    data = encode_aggregate([k for k, _, _ in records], [d for _, _, d in records], [h for _, h, _ in records])
    assert data[:4] == MAGIC and hashlib.md5(data[4:-DIGEST_SIZE]).digest() == data[-DIGEST_SIZE:]
    assert deaggregate(data) == records
    ((key, hkey, built, _),) = _aggregate(records)
    assert built == data and (key, hkey) == records[0][:2]  # the outer keys are the first record's


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_records, st.integers(60, 3000))
def test_try_add_refuses_exactly_when_the_aggregate_would_exceed_max_bytes(records, max_bytes):
    builder = AggregateBuilder(max_bytes)
    for key, hkey, data in records:
        before = (len(builder), builder.record_size)
        held = deaggregate(builder.build()[2]) if len(builder) else []
        alone = len(encode_aggregate([key], [data], [hkey])) + len(key.encode())
        with_it = held + [(key, hkey, data)]
        outer = with_it[0][0]
        size = len(outer.encode()) + len(
            encode_aggregate([k for k, _, _ in with_it], [d for _, _, d in with_it], [h for _, h, _ in with_it])
        )
        if size <= max_bytes:  # fits here (even when it would not alone: the outer key is the first record's)
            assert builder.try_add(key, data, hkey)
            assert builder.record_size == size
        elif alone > max_bytes:  # could never fit
            with pytest.raises(ValueError, match="alone"):
                builder.try_add(key, data, hkey)
            assert (len(builder), builder.record_size) == before  # nothing changed
        else:
            assert not builder.try_add(key, data, hkey)
            assert (len(builder), builder.record_size) == before
            builder.clear()
            assert builder.try_add(key, data, hkey)
        if len(builder):
            outer_key, _, built = builder.build()
            assert builder.record_size == len(outer_key.encode()) + len(built) <= max_bytes


@pytest.mark.parametrize("hash_key", [None, str(2**128 - 1)])
@pytest.mark.parametrize("key", ["k", "é" * 256])
def test_the_one_mebibyte_edge(key, hash_key):
    """The largest payload that fits a 1 MiB aggregate alone fits; one byte more raises."""
    empty = len(key.encode()) + len(encode_aggregate([key], [b""], [hash_key]))
    fit = MAX_BYTES - empty
    while len(key.encode()) + len(encode_aggregate([key], [b"x" * fit], [hash_key])) > MAX_BYTES:
        fit -= 1  # the data's length varint grew
    builder = AggregateBuilder()
    assert builder.try_add(key, b"x" * fit, hash_key)
    assert builder.record_size == MAX_BYTES
    assert not builder.try_add("other", b"")  # full
    with pytest.raises(ValueError, match="alone"):
        AggregateBuilder().try_add(key, b"x" * (fit + 1), hash_key)
    big = AggregateBuilder(10 * MAX_BYTES)  # a stream's own limit may be larger
    assert big.try_add(key, b"x" * (fit + 1), hash_key) and big.record_size == MAX_BYTES + 1


def test_bad_input_is_refused_and_changes_nothing():
    builder = AggregateBuilder(1000)
    assert builder.try_add("a", b"1")
    state = (len(builder), builder.record_size, builder.build())
    for args, error in [
        (("", b"x"), ValueError),
        (("k" * 257, b"x"), ValueError),
        ((b"k", b"x"), TypeError),
        (("k", "text"), TypeError),
        (("k", b"x", "12a"), ValueError),
        (("k", b"x", str(2**128)), ValueError),
        (("k", b"x", 5), TypeError),
    ]:
        with pytest.raises(error):
            builder.try_add(*args)
        assert (len(builder), builder.record_size, builder.build()) == state
    for bad in (0, 10 * MAX_BYTES + 1, 1.5, True):
        with pytest.raises(ValueError, match="max_bytes"):
            AggregateBuilder(bad)
    with pytest.raises(ValueError, match="at least one"):
        AggregateBuilder().build()
    with pytest.raises(ValueError, match="differ in length"):
        encode_aggregate(["a"], [b"1", b"2"])
    assert deaggregate(encode_aggregate(["k"], [bytearray(b"ba"), memoryview(b"mv")][:1])) == [("k", None, b"ba")]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.booleans())
def test_garbage_is_never_an_aggregate_error(body, with_digest):
    """Random bytes, with or without the magic and a valid digest, never raise; without the digest they pass."""
    data = MAGIC + body + (hashlib.md5(body).digest() if with_digest else b"")
    result = deaggregate(data)
    assert result is None or isinstance(result, list)
    if (
        not with_digest
        and len(body) >= DIGEST_SIZE
        and body[-DIGEST_SIZE:] != hashlib.md5(body[:-DIGEST_SIZE]).digest()
    ):
        assert result is None
    assert deaggregate(body) is None or body.startswith(MAGIC)


@settings(max_examples=100, deadline=None)
@given(user_records, st.data())
def test_truncated_or_corrupted_aggregates_pass_through(records, data):
    blob = encode_aggregate([k for k, _, _ in records], [d for _, _, d in records], [h for _, h, _ in records])
    cut = data.draw(st.integers(0, len(blob) - 1))
    assert deaggregate(blob[:cut]) is None
    flip = data.draw(st.integers(4, len(blob) - 1))
    corrupted = blob[:flip] + bytes([blob[flip] ^ 0x01]) + blob[flip + 1 :]
    assert deaggregate(corrupted) is None  # the MD5 no longer matches (or the digest itself changed)
    assert deaggregate(b"\x00" + blob[1:]) is None


def test_a_valid_digest_over_a_bad_protobuf_passes_through():
    for body in (b"\x1a\x05\x08\x00", b"\x0a\x02\xff\xfe", b"\x1a\x02\x08\x05", b"\x1a\x04\x08\x01\x1a\x00"):
        assert deaggregate(MAGIC + body + hashlib.md5(body).digest()) is None  # truncated, bad UTF-8, no data, index
    # a record whose key index points past the key table
    body = b"\x0a\x01k" + b"\x1a\x04\x08\x01\x1a\x00"
    assert deaggregate(MAGIC + body + hashlib.md5(body).digest()) is None
    # unknown fields and tags are read past, as protobuf parsers do
    body = b"\x0a\x01k" + b"\x1a\x0a\x08\x00\x1a\x01z\x22\x03\x0a\x01t" + b"\x28\x07"
    assert deaggregate(MAGIC + body + hashlib.md5(body).digest()) == [("k", None, b"z")]


# -- interop with aws_kinesis_agg, both ways -------------------------------------------------------------


def _lambda_event(partition_key: str, data: bytes) -> dict:
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
            "approximateArrivalTimestamp": 1_700_000_000.0,
            "partitionKey": partition_key,
            "data": base64.b64encode(data).decode(),
        }
    }


def _theirs(records) -> list[tuple[str, str | None, bytes]]:
    out = []
    for key, _, data, _ in records:
        for r in iter_deaggregate_records([_lambda_event(key, data)]):
            k = r["kinesis"]
            out.append((k["partitionKey"], k.get("explicitHashKey"), base64.b64decode(k["data"])))
    return out


@settings(max_examples=60, deadline=None)
@given(user_records, st.sampled_from(["none", "all"]), st.integers(200, 5000))
def test_aws_kinesis_agg_reads_what_we_aggregate(records, hash_keys_kind, max_bytes):
    # aws_kinesis_agg 1.2.3 gives a record without a hash key the table's first one when the table has any,
    # so the records either all have one or none do
    records = [(k, None if hash_keys_kind == "none" else (h or "7"), d) for k, h, d in records]
    try:
        ours = _aggregate(records, max_bytes)
    except ValueError:
        return  # a record too big for max_bytes alone: nothing to compare
    assert _theirs(ours) == records
    assert all(len(key.encode()) + len(data) <= max_bytes for key, _, data, _ in ours)


@settings(max_examples=60, deadline=None)
@given(user_records)
def test_we_read_what_aws_kinesis_agg_aggregates(records):
    aggregator = RecordAggregator(max_size=4096)
    built = []
    for key, hkey, data in records:
        full = aggregator.add_user_record(key, data, hkey)
        if full is not None:
            built.append(full.get_contents())
    last = aggregator.clear_and_get()
    if last is not None:
        built.append(last.get_contents())
    got = []
    for _, _, data in built:
        inner = deaggregate(data)
        if inner is None:  # aws_kinesis_agg sends an aggregate of one record as is? then it must be plain data
            raise AssertionError("aws_kinesis_agg's output did not read as an aggregate")
        got.extend(inner)
    assert got == records


# -- the compiled reader against the pure-Python model ------------------------------------------------------


def _mutated(body: bytes, edits) -> bytes:
    out = bytearray(body)
    for kind, where, value in edits:
        if not out:
            break
        at = where % len(out)
        if kind == "set":
            out[at] = value
        elif kind == "cut":
            del out[at:]
        else:
            out[at:at] = bytes([value]) * (1 + value % 3)
    return bytes(out)


@settings(max_examples=400, deadline=None)
@given(
    user_records,
    st.lists(
        st.tuples(st.sampled_from(["set", "cut", "insert"]), st.integers(0, 10**6), st.integers(0, 255)), max_size=3
    ),
)
def test_the_compiled_reader_agrees_with_the_model(records, edits):
    """Valid bodies, and bodies with bytes changed, cut or inserted: the same user records or the same None."""
    blob = encode_aggregate([k for k, _, _ in records], [d for _, _, d in records], [h for _, h, _ in records])
    body = _mutated(blob[4:-DIGEST_SIZE], edits)
    expected = kpl_reference.parse(body)
    assert parse_aggregated_record(MAGIC + body + b"\0" * 16, 4, 4 + len(body)) == expected
    if not edits:
        assert expected == records
    # an aggregate is longer than magic + digest: an empty body is plain data
    assert deaggregate(MAGIC + body + hashlib.md5(body).digest()) == (expected if body else None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_the_compiled_reader_agrees_with_the_model_on_noise(body):
    assert parse_aggregated_record(body, 0, len(body)) == kpl_reference.parse(body)
    varint_65_bits = b"\x1a" + b"\xff" * 9 + b"\x02"  # a length over 64 bits, not truncated to a small one
    assert parse_aggregated_record(varint_65_bits, 0, 11) is None is kpl_reference.parse(varint_65_bits)
