"""The read side: stored records to user records, in Arrow (reads, ``unpack_batch``) and dicts (``unpack_records``)."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream import throttle
from shardstream.aggregation import MAGIC, encode_aggregate
from shardstream.compression import compress
from shardstream.schema import RECORD_SCHEMA
from shardstream.testing import start_server
from shardstream.unpack import USER_RECORD_SCHEMA, effective_hash_key, unpack_batch, unpack_records

SHARD0 = "shardId-000000000000"
BAD_DIGEST = MAGIC + b"\x0a\x01k" + b"\x00" * 16
AGGREGATE = encode_aggregate(["a", "b", "c"], [b"1", b"2", b"3"], [None, "99", None])


STORED = [
    ("p1", b"plain"),
    ("agg", AGGREGATE),
    ("p2", b""),
    ("bad", BAD_DIGEST),  # the magic, but not an aggregate: stays as stored
    ("f3", b"\xf3\x00\x00\x00 not the magic"),
    ("z", compress(encode_aggregate(["x"] * 40, [b"hello world"] * 40), "zstd")),
    ("g", compress(b"hello " * 100, "gzip")),
    ("l", compress(encode_aggregate(["y", "y"], [b"v" * 200, b"w" * 200]), "lz4")),
]


def _user(stored):
    out = []
    for key, data in stored:
        if data == AGGREGATE:
            out += [("a", b"1", 0), ("b", b"2", 1), ("c", b"3", 2)]
        elif key == "z":
            out += [("x", b"hello world", i) for i in range(40)]
        elif key == "g":
            out.append(("g", b"hello " * 100, 0))
        elif key == "l":
            out += [("y", b"v" * 200, 0), ("y", b"w" * 200, 1)]
        else:
            out.append((key, data, 0))
    return out


@pytest.fixture
def stream():
    s = shardstream.Engine().create_stream("s", shard_count=1)
    for key, data in STORED:
        s.put_record(data, key)
    return s


def _rows(batch):
    return list(
        zip(
            batch.column("partition_key").to_pylist(),
            batch.column("data").to_pylist(),
            batch.column("sub_sequence_number").to_pylist(),
        )
    )


def test_reads_give_user_records_and_deaggregate_false_keeps_them_as_stored(stream):
    table = stream.read_table()
    assert table.schema.equals(USER_RECORD_SCHEMA, check_metadata=True)
    assert _rows(table) == _user(STORED)
    stored = stream.read_table(deaggregate=False)
    assert stored.schema.equals(RECORD_SCHEMA, check_metadata=True)
    assert list(zip(stored.column("partition_key").to_pylist(), stored.column("data").to_pylist())) == STORED
    # the user records of a stored record share its sequence number, shard and arrival time
    by_seq = {r["sequence_number"]: r for r in stored.to_pylist()}
    for row in table.to_pylist():
        parent = by_seq[row["sequence_number"]]
        assert row["shard_id"] == parent["shard_id"]
        assert row["approximate_arrival_timestamp"] == parent["approximate_arrival_timestamp"]
    assert len(by_seq) == len(STORED)
    # every other read path gives the same user records
    it = stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")["ShardIterator"]
    assert _rows(stream.get_record_batch(it)["Records"]) == _user(STORED)
    assert stream.get_record_batch(it, deaggregate=False)["Records"].num_rows == len(STORED)
    assert _rows(stream.read_batch(SHARD0)) == _user(STORED)
    assert _rows(pa.Table.from_batches(list(stream.iter_batches(batch_size=3)))) == _user(STORED)
    assert len(stream.read_pandas()) == len(_user(STORED))
    assert len(stream.read_pandas(deaggregate=False)) == len(STORED)
    # GetRecords is the Kinesis API: records as stored (Kinesis never de-aggregates)
    assert [(r["PartitionKey"], r["Data"]) for r in stream.get_records(it)["Records"]] == STORED


def test_unpack_records_for_get_records_dicts(stream):
    it = stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")["ShardIterator"]
    page = stream.get_records(it)["Records"]
    before = [dict(r) for r in page]
    users = unpack_records(page)
    assert page == before  # not changed
    assert [(u["PartitionKey"], u["Data"], u["SubSequenceNumber"]) for u in users] == _user(STORED)
    aggregated = [u for u in users if u.get("Aggregated")]
    assert len(aggregated) == 3 + 40 + 2
    assert [u.get("ExplicitHashKey") for u in users[1:4]] == [None, "99", None]
    assert all("Aggregated" not in u and "ExplicitHashKey" not in u for u in users if u["PartitionKey"] in ("p1", "g"))
    assert {u["SequenceNumber"] for u in users[1:4]} == {page[1]["SequenceNumber"]}
    raw = unpack_records(page, deaggregate=False, decompress=False)
    assert [(u["PartitionKey"], u["Data"], u["SubSequenceNumber"]) for u in raw] == [(k, d, 0) for k, d in STORED]


def test_flags_slices_and_hash_ranges(stream):
    batch = stream.read_table(deaggregate=False).to_batches()[0]
    only_compression = unpack_batch(batch, deaggregate=False)
    assert only_compression.num_rows == len(STORED)
    assert only_compression.column("data")[5].as_py()[:4] == MAGIC  # opened, not taken apart
    only_kpl = unpack_batch(batch, decompress=False)
    assert only_kpl.num_rows == len(STORED) + 2  # the plain aggregate only
    assert unpack_batch(batch, deaggregate=False, decompress=False).column("data").to_pylist() == [d for _, d in STORED]
    for start in range(len(STORED)):
        part = batch.slice(start, 3)
        assert _rows(unpack_batch(part)) == _user(STORED[start : start + 3])
    # hash_range drops user records of aggregates routed elsewhere; plain records always stay
    b_hash = 99
    a_hash, c_hash = effective_hash_key("a"), effective_hash_key("c")
    assert a_hash == int.from_bytes(hashlib.md5(b"a").digest(), "big")
    kept = unpack_batch(batch.slice(0, 3), hash_range=(0, 1000))
    assert _rows(kept) == [("p1", b"plain", 0), ("b", b"2", 1), ("p2", b"", 0)]
    low, high = min(a_hash, c_hash), max(a_hash, c_hash)
    assert [r[0] for r in _rows(unpack_batch(batch.slice(1, 1), hash_range=(low, high)))] == ["a", "c"]
    assert b_hash < low
    users = unpack_records(
        stream.get_records(stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")["ShardIterator"])["Records"][:3],
        hash_range=(0, 1000),
    )
    assert [(u["PartitionKey"], u["SubSequenceNumber"]) for u in users] == [("p1", 0), ("b", 1), ("p2", 0)]


stored_records = st.lists(
    st.one_of(
        st.tuples(st.just("p"), st.binary(max_size=30)),
        st.tuples(st.just("a"), st.lists(st.binary(max_size=20), min_size=1, max_size=5)),
        st.tuples(st.just("z"), st.lists(st.binary(max_size=20), min_size=1, max_size=5)),
        st.tuples(st.just("g"), st.binary(max_size=300)),
    ),
    max_size=20,
)


@settings(max_examples=80, deadline=None)
@given(stored_records)
def test_arrow_and_dicts_agree_with_a_model(records):
    keys, payloads, model = [], [], []
    for i, (kind, value) in enumerate(records):
        if kind == "p":
            data, users = value, [(f"k{i}", value, 0)]
        elif kind == "g":
            data, users = compress(value * 3, "gzip"), [(f"k{i}", value * 3, 0)]
        else:
            inner = [f"u{i}.{j}" for j in range(len(value))]
            data = encode_aggregate(inner, value)
            data = compress(data, "zstd") if kind == "z" else data
            users = [(inner[j], value[j], j) for j in range(len(value))]
        keys.append(f"k{i}")
        payloads.append(data)
        model += users
    s = shardstream.Engine().create_stream("m", shard_count=1)
    if keys:
        s.put_batch(keys, payloads)
    assert _rows(s.read_table()) == model
    page = s.get_records(s.get_shard_iterator(SHARD0, "TRIM_HORIZON")["ShardIterator"])["Records"]
    assert [(u["PartitionKey"], u["Data"], u["SubSequenceNumber"]) for u in unpack_records(page)] == model


def test_remote_streams_unpack_too_and_the_server_never_does():
    with start_server() as server:
        remote = shardstream.connect(server.url).create_stream("r", shard_count=1)
        for key, data in STORED:
            remote.put_record(data, key)
        assert _rows(remote.read_table()) == _user(STORED)
        assert remote.read_table(deaggregate=False).column("data").to_pylist() == [d for _, d in STORED]
        it = remote.get_shard_iterator(SHARD0, "TRIM_HORIZON")["ShardIterator"]
        assert [r["Data"] for r in remote.get_records(it)["Records"]] == [d for _, d in STORED]  # GetRecords: raw
        assert _rows(remote.get_record_batch(it)["Records"]) == _user(STORED)
        assert remote.get_record_batch(it, deaggregate=False)["Records"].num_rows == len(STORED)


def test_a_throttled_stream_counts_records_as_stored_and_unpacks_them(stream):
    policy = throttle.install(stream)
    it = stream.get_shard_iterator(SHARD0, "TRIM_HORIZON")["ShardIterator"]
    assert stream.throttle is policy
    assert _rows(stream.get_record_batch(it)["Records"]) == _user(STORED)
    assert stream.get_record_batch(it, deaggregate=False)["Records"].num_rows == len(STORED)


_HEADS = [b"", b"\xf3", b"\xf3\x89\x9a\xc2", b"\xf5SSC", b"\xf5SSC\x01", b"\xf1\x89\x9a\xc2", b"\x00\x00\x00\x00"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_HEADS), st.binary(max_size=30)), max_size=60),
    st.integers(0, 10),
    st.booleans(),
    st.booleans(),
)
def test_the_native_scan_finds_exactly_the_rows_a_plain_check_finds(rows, cut, kpl, envelope):
    import sys

    import numpy as np

    from shardstream._native import packed_rows

    values = [head + tail for head, tail in rows]
    array = pa.array(values, pa.binary()).slice(min(cut, len(values)))
    kept = values[min(cut, len(values)) :]
    words = [w for w, on in ((b"\xf3\x89\x9a\xc2", kpl), (b"\xf5SSC", envelope)) if on]
    want = [i for i, v in enumerate(kept) if len(v) >= 6 and v[:4] in words]
    _, offsets, data = array.buffers()
    n = len(array)
    got = packed_rows(
        np.frombuffer(offsets, np.int32, count=array.offset + n + 1)[array.offset :],
        np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8),
        int.from_bytes(b"\xf3\x89\x9a\xc2", sys.byteorder) if kpl else 0,
        int.from_bytes(b"\xf5SSC", sys.byteorder) if envelope else 0,
        6,
    )
    assert got.tolist() == want
