"""Writes: PutRecord / PutRecords / put_batch shapes, inputs and exact Kinesis errors."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import ACCOUNT, md5_hash, ref_shard_for_key, shard_id, table_by_shard

from shardstream import (
    InvalidArgumentException,
    ResourceNotFoundException,
    ValidationException,
)
from shardstream.sequence import format_sequence_number, parse_sequence_number

MIB = 1024 * 1024
HASH_KEY_RE = r"0|([1-9]\d{0,38})"


def snapshot(s):
    """Everything observable about a stream's contents."""
    return s.shard_stats(), s.read_table().to_pylist()


# -- PutRecord ---------------------------------------------------------------------


def test_put_record_shape_and_sequence_numbers(stream):
    s = stream(3)
    last: dict[str, str] = {}
    for i in range(60):
        key = f"key-{i % 7}"
        r = s.put_record(f"data-{i}".encode(), key)
        assert set(r) == {"ShardId", "SequenceNumber"}
        assert r["ShardId"] == shard_id(ref_shard_for_key(key, 3))
        seq = r["SequenceNumber"]
        assert isinstance(seq, str) and len(seq) == 56 and seq.isdigit() and seq[0] != "0"
        prev = last.get(r["ShardId"])
        if prev is not None:
            assert int(seq) > int(prev) and seq > prev
        last[r["ShardId"]] = seq


def test_put_record_str_and_buffer_data(stream):
    s = stream(1)
    s.put_record("héllo", "k")
    s.put_record(bytearray(b"ba"), "k")
    s.put_record(memoryview(b"mv"), "k")
    s.put_record(b"", "k")  # empty data is legal
    assert [r["data"] for r in s.read_table().to_pylist()] == ["héllo".encode(), b"ba", b"mv", b""]


def test_put_record_numbers_are_unique_across_shards(stream):
    s = stream(4)
    seqs = [s.put_record(b"x", f"k{i}")["SequenceNumber"] for i in range(100)]
    assert len(set(seqs)) == 100


# -- PutRecords ----------------------------------------------------------------------


def test_put_record_results_a_caller_keeps_never_change(stream):
    s = stream(4)
    kept = [s.put_record(b"%d" % i, f"k{i}") for i in range(200)]
    assert len({id(r) for r in kept}) == 200
    got = s.read_table(deaggregate=False)
    stored = dict(
        zip(
            got.column("data").to_pylist(),
            zip(got.column("shard_id").to_pylist(), got.column("sequence_number").to_pylist()),
        )
    )
    assert [(r["ShardId"], r["SequenceNumber"]) for r in kept] == [stored[b"%d" % i] for i in range(200)]
    kept_number = s.put_record(b"x", "k")["SequenceNumber"]  # the dict dropped, its value kept
    assert s.put_record(b"y", "k")["SequenceNumber"] > kept_number


def test_put_record_results_a_caller_changed_and_dropped_do_not_leak(stream):
    # put_record reuses the previous call's dict once its caller let go of it (as zip reuses its tuple)
    s = stream(2)
    shard_k1 = s.put_record(b"a", "k1")["ShardId"]
    second = s.put_record(b"b", "k2")
    second["extra"] = 1
    del second["ShardId"]
    del second
    third = s.put_record(b"c", "k1")
    assert sorted(third) == ["SequenceNumber", "ShardId"] and third["ShardId"] == shard_k1
    third["ShardId"] = "changed"
    third["SequenceNumber"] = None
    del third
    fourth = s.put_record(b"d", "k1")
    assert fourth["ShardId"] == shard_k1 and fourth["SequenceNumber"].isdigit()
    got = s.read_table(deaggregate=False)
    assert fourth["SequenceNumber"] in got.column("sequence_number").to_pylist()


def test_put_records_boto3_shape(stream):
    s = stream(3)
    entries = [{"Data": f"d{i}".encode(), "PartitionKey": f"pk{i}"} for i in range(20)]
    entries.append({"Data": b"e", "PartitionKey": "x", "ExplicitHashKey": "0"})
    resp = s.put_records(entries)
    assert resp["FailedRecordCount"] == 0
    assert len(resp["Records"]) == len(entries)
    for e, r in zip(entries, resp["Records"]):
        assert set(r) == {"SequenceNumber", "ShardId"}
        assert r["ShardId"] == shard_id(ref_shard_for_key(e["PartitionKey"], 3, e.get("ExplicitHashKey")))
        assert len(r["SequenceNumber"]) == 56
    got = {row["sequence_number"]: row for row in s.read_table().to_pylist()}
    for e, r in zip(entries, resp["Records"]):
        row = got[r["SequenceNumber"]]
        assert (row["partition_key"], row["data"], row["shard_id"]) == (e["PartitionKey"], e["Data"], r["ShardId"])


def test_put_records_request_order_within_shard(stream):
    s = stream(1)
    resp = s.put_records([{"Data": bytes([i]), "PartitionKey": "k"} for i in range(50)])
    seqs = [int(r["SequenceNumber"]) for r in resp["Records"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 50


def test_put_records_entry_counts(stream):
    s = stream(2)
    before = snapshot(s)
    with pytest.raises(ValidationException) as ei:
        s.put_records([])
    assert str(ei.value) == (
        "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    with pytest.raises(ValidationException) as ei:
        s.put_records([{"Data": b"x", "PartitionKey": "k"}] * 501)
    msg = str(ei.value)
    assert msg.startswith(
        "1 validation error detected: Value '[com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@"
    )
    assert msg.endswith(
        "]' at 'records' failed to satisfy constraint: Member must have length less than or equal to 500"
    )
    assert snapshot(s) == before
    assert s.put_records([{"Data": b"x", "PartitionKey": "k"}] * 500)["FailedRecordCount"] == 0


def test_put_records_total_size_limit(stream):
    s = stream(2)
    before = snapshot(s)
    big = b"z" * (MIB - 10)
    entries = [{"Data": big, "PartitionKey": f"k{i}"} for i in range(6)]  # > 5 MiB in total
    with pytest.raises(InvalidArgumentException) as ei:
        s.put_records(entries)
    assert str(ei.value) == "Records size exceeds 5 MB limit"
    assert snapshot(s) == before
    # exactly at the limit is fine
    entries = [{"Data": b"y" * (MIB - 1), "PartitionKey": "a"} for _ in range(5)]
    assert s.put_records(entries)["FailedRecordCount"] == 0


def test_put_records_one_bad_entry_rejects_request(stream):
    s = stream(2)
    s.put_record(b"seed", "seed")
    before = snapshot(s)
    entries = [{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(10)]
    entries[4] = {"Data": b"x", "PartitionKey": ""}
    with pytest.raises(ValidationException) as ei:
        s.put_records(entries)
    assert str(ei.value) == (
        "1 validation error detected: Value '' at 'records.5.member.partitionKey' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    entries[4] = {"Data": b"x", "PartitionKey": "k", "ExplicitHashKey": str(2**128)}
    with pytest.raises(InvalidArgumentException) as ei:
        s.put_records(entries)
    assert str(ei.value) == (
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
        "Specified value was 340282366920938463463374607431768211456"
    )
    assert snapshot(s) == before


# -- put_batch input kinds ---------------------------------------------------------------


def _rows(n, rng):
    keys = [f"user-{rng.randint(0, 40)}-{'é' * rng.randint(0, 3)}" for _ in range(n)]
    data = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40))) for _ in range(n)]
    return keys, data


def _check_batch_result(s, table, keys, data, shard_count, ehk=None):
    assert isinstance(table, pa.Table)
    assert table.column_names == ["shard_id", "sequence_number"]
    assert table.num_rows == len(keys)
    ids = table.column("shard_id").to_pylist()
    seqs = table.column("sequence_number").to_pylist()
    exp_ids = [shard_id(ref_shard_for_key(k, shard_count, None if ehk is None else ehk[i])) for i, k in enumerate(keys)]
    assert ids == exp_ids
    read = {r["sequence_number"]: r for r in s.read_table().to_pylist()}
    assert len(read) == len(keys)
    for k, d, sid, seq in zip(keys, data, ids, seqs):
        row = read[seq]
        assert (row["partition_key"], row["data"], row["shard_id"]) == (k, d, sid)
    # within each shard, input order == sequence order
    per_shard: dict[str, list[int]] = {}
    for sid, seq in zip(ids, seqs):
        per_shard.setdefault(sid, []).append(int(seq))
    for nums in per_shard.values():
        assert nums == sorted(nums) and len(set(nums)) == len(nums)


@pytest.mark.parametrize(
    "kind", ["list", "pyarrow", "large", "chunked", "numpy_object", "pandas", "str_data", "sliced"]
)
def test_put_batch_input_kinds(stream, kind):
    rng = random.Random(kind)
    keys, data = _rows(300, rng)
    s = stream(4)
    if kind == "list":
        args = (keys, data)
    elif kind == "pyarrow":
        args = (pa.array(keys), pa.array(data, pa.binary()))
    elif kind == "large":
        args = (pa.array(keys, pa.large_string()), pa.array(data, pa.large_binary()))
    elif kind == "chunked":
        args = (pa.chunked_array([keys[:100], keys[100:]]), pa.chunked_array([data[:7], data[7:]], pa.binary()))
    elif kind == "numpy_object":
        args = (np.array(keys, dtype=object), np.array(data, dtype=object))
    elif kind == "pandas":
        args = (pd.Series(keys), pd.Series(data))
    elif kind == "str_data":
        text = [f"t{i}é" for i in range(len(keys))]
        data = [t.encode() for t in text]
        args = (keys, text)
    else:
        ka, da = pa.array(["pad"] * 5 + keys), pa.array([b"pad"] * 9 + data, pa.binary())
        args = (ka.slice(5), da.slice(9))
    table = s.put_batch(*args)
    _check_batch_result(s, table, keys, data, 4)


def test_put_batch_fixed_width_numpy(stream):
    s = stream(3)
    rng = np.random.default_rng(5)
    matrix = rng.integers(0, 256, size=(257, 33), dtype=np.uint8)
    keys = [f"row{i}" for i in range(len(matrix))]
    table = s.put_batch(keys, matrix)
    _check_batch_result(s, table, keys, [row.tobytes() for row in matrix], 3)
    # a non-contiguous view gives the same rows
    s2 = stream(3)
    view = matrix[::2, 1:20]
    table = s2.put_batch(keys[: len(view)], view)
    _check_batch_result(s2, table, keys[: len(view)], [row.tobytes() for row in view], 3)


def test_put_batch_explicit_hash_keys_with_none(stream):
    s = stream(5)
    rng = random.Random(9)
    keys, data = _rows(120, rng)
    ehk = [None if i % 3 else str(rng.getrandbits(128)) for i in range(len(keys))]
    ehk[1] = "0"
    ehk[2] = str(2**128 - 1)
    table = s.put_batch(keys, data, explicit_hash_keys=ehk)
    _check_batch_result(s, table, keys, data, 5, ehk)
    # ints are accepted as hash keys too
    s2 = stream(5)
    ints = [None if e is None else int(e) for e in ehk]
    table = s2.put_batch(keys, data, explicit_hash_keys=ints)
    _check_batch_result(s2, table, keys, data, 5, ehk)


def test_put_batch_matches_reads_order(stream):
    s = stream(2)
    keys = [f"k{i % 5}" for i in range(200)]
    data = [str(i).encode() for i in range(200)]
    table = s.put_batch(keys, data)
    by_shard = table_by_shard(s.read_table())
    for sid, rows in by_shard.items():
        expected = [(k, d) for k, d, i in zip(keys, data, table.column("shard_id").to_pylist()) if i == sid]
        assert [(k, d) for k, d, _ in rows] == expected


@pytest.mark.parametrize("shards", [1, 5, 64, 130])
def test_put_batch_lands_every_record_in_its_shard_in_order(stream, shards):
    s = stream(shards)
    rng = random.Random(shards)
    keys = [f"key-{rng.randrange(10**9)}" for _ in range(3000)]
    data = [rng.randbytes(rng.choice([0, 1, 5, 6, 40, 300])) for _ in keys]
    data[7] = b"\xf3\x89\x9a\xc2" + data[7]  # one record that could open a KPL aggregate
    table = s.put_batch(keys, data)
    assert table.column("shard_id").to_pylist() == [shard_id(ref_shard_for_key(k, shards)) for k in keys]
    stored = table_by_shard(s.read_table(deaggregate=False))
    assert sum(len(rows) for rows in stored.values()) == len(keys)
    seqs = table.column("sequence_number").to_pylist()
    for sid, rows in stored.items():
        want = [(k, d, q) for k, d, q, i in zip(keys, data, seqs, table.column("shard_id").to_pylist()) if i == sid]
        assert rows == want
    s.put_record(b"after", keys[0])  # the rings take single records after a batch
    assert s.read_table(deaggregate=False).num_rows == len(keys) + 1


def test_put_batch_empty(stream):
    s = stream(2)
    table = s.put_batch(pa.array([], pa.string()), pa.array([], pa.binary()))
    assert table.num_rows == 0
    assert table.column_names == ["shard_id", "sequence_number"]
    assert s.read_table().num_rows == 0


# -- bad input: exact errors, nothing changes ---------------------------------------------

KEY_SHORT = (
    "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: "
    "Member must have length greater than or equal to 1"
)


def _long_key_msg(key, path="partitionKey"):
    return (
        f"1 validation error detected: Value '{key}' at '{path}' failed to satisfy constraint: "
        "Member must have length less than or equal to 256"
    )


def test_put_record_partition_key_length(stream):
    s = stream(2)
    s.put_record(b"seed", "seed")
    before = snapshot(s)
    with pytest.raises(ValidationException) as ei:
        s.put_record(b"x", "")
    assert str(ei.value) == KEY_SHORT
    key = "k" * 257
    with pytest.raises(ValidationException) as ei:
        s.put_record(b"x", key)
    assert str(ei.value) == _long_key_msg(key)
    key = "日" * 257  # characters, not bytes, count
    with pytest.raises(ValidationException) as ei:
        s.put_record(b"x", key)
    assert str(ei.value) == _long_key_msg(key)
    assert snapshot(s) == before
    s.put_record(b"x", "日" * 256)
    s.put_record(b"x", "🙂" * 256)


def test_put_record_data_too_large(stream):
    s = stream(1)
    before = snapshot(s)
    with pytest.raises(ValidationException) as ei:
        s.put_record(b"\0" * (MIB + 1), "k")
    assert str(ei.value) == (
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' "
        "failed to satisfy constraint: Member must have length less than or equal to 1048576"
    )
    with pytest.raises(InvalidArgumentException):
        s.put_record(b"\0" * MIB, "k")  # data fits, data + key does not
    with pytest.raises(InvalidArgumentException):
        s.put_record(b"\0" * (MIB - 1), "ab")
    assert snapshot(s) == before
    s.put_record(b"\0" * (MIB - 1), "a")  # exactly 1 MiB in total
    assert s.shard_stats()[0]["Records"] == 1


@pytest.mark.parametrize("value", ["", "abc", "01", "-1", "1.5", " 1", "1" * 40])
def test_put_record_explicit_hash_key_pattern(stream, value):
    s = stream(2)
    before = snapshot(s)
    with pytest.raises(ValidationException) as ei:
        s.put_record(b"x", "k", explicit_hash_key=value)
    assert str(ei.value) == (
        f"1 validation error detected: Value '{value}' at 'explicitHashKey' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {HASH_KEY_RE}"
    )
    assert snapshot(s) == before


@pytest.mark.parametrize("value", [2**128, 2**128 + 12345, 10**39 - 1])
def test_put_record_explicit_hash_key_range(stream, value):
    s = stream(2)
    before = snapshot(s)
    for v in (str(value), value):
        with pytest.raises(InvalidArgumentException) as ei:
            s.put_record(b"x", "k", explicit_hash_key=v)
        assert str(ei.value) == (
            f"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {value}"
        )
    assert snapshot(s) == before


def test_put_record_explicit_hash_key_bounds_accepted(stream):
    s = stream(4)
    assert s.put_record(b"x", "k", explicit_hash_key="0")["ShardId"] == shard_id(0)
    assert s.put_record(b"x", "k", explicit_hash_key=str(2**128 - 1))["ShardId"] == shard_id(3)
    assert s.put_record(b"x", "k", explicit_hash_key=2**127)["ShardId"] == shard_id(2)


@pytest.mark.parametrize("where", [0, 137, 299])
@pytest.mark.parametrize("bad", ["empty_key", "long_key", "big_data", "big_record", "ehk_pattern", "ehk_range"])
def test_put_batch_one_bad_entry_rejects_all(stream, bad, where):
    s = stream(3)
    s.put_batch(["a", "b", "c"], [b"1", b"2", b"3"])
    before = snapshot(s)
    keys = [f"k{i}" for i in range(300)]
    data = [b"d"] * 300
    ehk = None
    exc = ValidationException
    if bad == "empty_key":
        keys[where] = ""
    elif bad == "long_key":
        keys[where] = "x" * 257
    elif bad == "big_data":
        data[where] = b"\0" * (MIB + 1)
    elif bad == "big_record":
        data[where] = b"\0" * MIB
        exc = InvalidArgumentException
    elif bad == "ehk_pattern":
        ehk = [None] * 300
        ehk[where] = "007"
    else:
        ehk = [None] * 300
        ehk[where] = str(2**128)
        exc = InvalidArgumentException
    with pytest.raises(exc) as ei:
        s.put_batch(keys, data, explicit_hash_keys=ehk)
    assert type(ei.value) is exc
    path = f"records.{where + 1}.member"
    if bad == "empty_key":
        assert str(ei.value) == (
            f"1 validation error detected: Value '' at '{path}.partitionKey' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1"
        )
    elif bad == "long_key":
        assert str(ei.value) == _long_key_msg(keys[where], f"{path}.partitionKey")
    elif bad == "big_data":
        assert str(ei.value) == (
            "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at "
            f"'{path}.data' failed to satisfy constraint: Member must have length less than or equal to 1048576"
        )
    elif bad == "ehk_pattern":
        assert str(ei.value) == (
            f"1 validation error detected: Value '007' at '{path}.explicitHashKey' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {HASH_KEY_RE}"
        )
    elif bad == "ehk_range":
        assert str(ei.value).endswith("Specified value was 340282366920938463463374607431768211456")
    assert snapshot(s) == before


def test_large_max_record_size_stream(stream):
    s = stream(1, max_record_size_kib=2048)
    big = bytes(range(256)) * (3 * 1024 * 2)  # 1.5 MiB
    assert len(big) == 3 * MIB // 2
    r = s.put_record(big, "k")
    s.put_records([{"Data": big, "PartitionKey": "k2"}])
    s.put_batch(["k3"], [big])
    rows = s.read_table().to_pylist()
    assert [row["data"] for row in rows] == [big, big, big]
    assert rows[0]["sequence_number"] == r["SequenceNumber"]
    with pytest.raises(ValidationException) as ei:
        s.put_record(b"\0" * (2 * MIB + 1), "k")
    assert "Member must have length less than or equal to 2097152" in str(ei.value)


def test_put_on_deleted_stream(engine, stream):
    s = stream(2, name="gone")
    s.put_record(b"x", "k")
    engine.delete_stream("gone")
    msg = f"Stream gone under account {ACCOUNT} not found."
    for call in (
        lambda: s.put_record(b"x", "k"),
        lambda: s.put_records([{"Data": b"x", "PartitionKey": "k"}]),
        lambda: s.put_batch(["k", "j"], [b"x", b"y"]),
        lambda: engine.put_record("gone", b"x", "k"),
        lambda: engine.put_records([{"Data": b"x", "PartitionKey": "k"}], "gone"),
    ):
        with pytest.raises(ResourceNotFoundException) as ei:
            call()
        assert str(ei.value) == msg


# -- SequenceNumberForOrdering ---------------------------------------------------------------


def test_sequence_number_for_ordering_accepted(stream):
    s = stream(1)
    prev = s.put_record(b"a", "k")["SequenceNumber"]
    for i in range(20):
        r = s.put_record(b"b", "k", sequence_number_for_ordering=prev)
        assert int(r["SequenceNumber"]) > int(prev)
        prev = r["SequenceNumber"]
    # an older (not the latest) number is accepted too
    first = s.read_table().column("sequence_number")[0].as_py()
    r = s.put_record(b"c", "k", sequence_number_for_ordering=first)
    assert int(r["SequenceNumber"]) > int(prev)


def test_sequence_number_for_ordering_orders_puts_within_a_shard(stream):
    # Kinesis's guarantee is per partition key, whose records share a shard:
    # the new number exceeds the ordering number.  Numbers from an unrelated
    # shard are accepted (they are valid) but imply no order.
    s = stream(3)
    first = s.put_record(b"a", "k")
    s.put_batch(["k"] * 5, [b"x"] * 5)
    r = s.put_record(b"b", "k", sequence_number_for_ordering=first["SequenceNumber"])
    assert r["ShardId"] == first["ShardId"]
    assert int(r["SequenceNumber"]) > int(first["SequenceNumber"])
    high = s.put_record(b"a", "k2", explicit_hash_key=str(2**128 - 1))
    low = s.put_record(b"b", "k2", explicit_hash_key="0", sequence_number_for_ordering=high["SequenceNumber"])
    assert low["ShardId"] == shard_id(0)


def _ordering_msg(value, name):
    return (
        f"ExclusiveMinimumSequenceNumber {value} used in PutRecord on stream {name} under account {ACCOUNT} is invalid."
    )


def test_sequence_number_for_ordering_invalid(stream):
    s = stream(2)
    seq = s.put_record(b"a", "k")["SequenceNumber"]
    before = snapshot(s)
    p = parse_sequence_number(seq)
    future = format_sequence_number(p.shard_created_s, p.shard_index, p.counter + 1000, p.arrival_s)
    later = format_sequence_number(0, 0, 0, p.arrival_s + 3600)  # written an hour from now
    malformed = str(int(seq) + 16)  # shard-index digits disagree
    for value in ("12345", "1" * 56, "9" * 56, future, later, malformed):
        with pytest.raises(InvalidArgumentException) as ei:
            s.put_record(b"b", "k", sequence_number_for_ordering=value)
        assert str(ei.value) == _ordering_msg(value, s.name)
    assert snapshot(s) == before


def test_sequence_number_for_ordering_accepts_aws_layouts_with_zero_fields(stream):
    # As Kinesis: any well-formed version 1 or 2 number not from the future.
    s = stream(2)
    v2 = str((2 << 184) | 2)  # every field zero
    v1 = str((2 << 184) | 1)
    assert parse_sequence_number(v2).version == 2 and parse_sequence_number(v1).version == 1
    for value in (v2, v1):
        r = s.put_record(b"b", "k", sequence_number_for_ordering=value)
        assert int(r["SequenceNumber"]) > int(value)


def test_hash_routing_of_put_record_matches_md5(stream):
    s = stream(7)
    rng = random.Random(3)
    for _ in range(100):
        key = "".join(rng.choice("abcé日🙂") for _ in range(rng.randint(1, 80)))
        starts = [i * (2**128 // 7) for i in range(7)]
        h = md5_hash(key)
        expected = max(i for i, st in enumerate(starts) if st <= h)
        assert s.put_record(b"", key)["ShardId"] == shard_id(expected)
