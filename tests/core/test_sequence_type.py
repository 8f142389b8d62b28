"""A put's ``sequence_number`` column: values packed by the put, formatted as Kinesis strings on demand."""

from __future__ import annotations

import decimal
import pickle

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream._native import format_sequence_values
from shardstream.sequence import END_COUNTER, format_sequence_number
from shardstream.sequence_type import SEQUENCE_NUMBER_TYPE, SequenceNumberArray, sequence_strings

VALUES = pa.decimal256(56, 0)


def as_values(texts) -> pa.Array:
    """Sequence-number strings as the decimal256 values a put stores (None stays null)."""
    return pa.array([None if t is None else decimal.Decimal(t) for t in texts], VALUES)


@pytest.fixture
def stream():
    return shardstream.Engine().create_stream("seqtype", 4)


def test_put_batch_numbers_are_the_stored_records_numbers(stream):
    keys = [f"k{i % 37}" for i in range(2000)]
    result = stream.put_batch(keys, [str(i).encode() for i in range(2000)])
    column = result.column("sequence_number")
    assert column.type == SEQUENCE_NUMBER_TYPE
    seqs = column.to_pylist()
    assert all(isinstance(s, str) and len(s) == 56 for s in seqs)
    stored = {r["sequence_number"]: r["data"] for r in stream.read_table().to_pylist()}
    assert {s: str(i).encode() for i, s in enumerate(seqs)} == stored
    # the values order as the strings do, and scalars and row dicts read as strings too
    order = np.argsort(np.array(seqs))
    assert pa.compute.sort_indices(column.chunk(0).storage).to_pylist() == order.tolist()
    assert column[7].as_py() == seqs[7] and result.to_pylist()[7]["sequence_number"] == seqs[7]


def test_put_records_and_put_record_agree_with_put_batch(stream):
    one = stream.put_record(b"x", "same-key")["SequenceNumber"]
    batch = stream.put_batch(["same-key"], [b"y"]).column("sequence_number").to_pylist()[0]
    many = stream.put_records([{"Data": b"z", "PartitionKey": "same-key"}])["Records"][0]["SequenceNumber"]
    assert int(one) < int(batch) < int(many)
    parsed = [shardstream.sequence.parse_sequence_number(s) for s in (one, batch, many)]
    assert [p.counter for p in parsed] == [parsed[0].counter + i for i in range(3)]


def test_conversions_for_pandas_polars_duckdb_and_ipc(stream):
    result = stream.put_batch(["a", "b", "c"], [b"1", b"2", b"3"])
    seqs = result.column("sequence_number").to_pylist()
    assert result.to_pandas()["sequence_number"].tolist() == seqs
    plain = sequence_strings(result)
    assert plain.schema.field("sequence_number").type == pa.string()
    assert plain.column("shard_id").equals(result.column("shard_id"))
    assert pl.from_arrow(plain)["sequence_number"].to_list() == seqs
    assert sequence_strings(result.to_batches()[0]).column(1).to_pylist() == seqs
    assert sequence_strings(result.column(1).chunk(0)).to_pylist() == seqs
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, result.schema) as writer:
        writer.write_table(result)
    back = pa.ipc.open_stream(sink.getvalue()).read_all()
    assert back.schema == result.schema and back.column(1).to_pylist() == seqs
    assert pickle.loads(pickle.dumps(result)).equals(result)
    with pytest.raises(pa.ArrowInvalid, match="zero_copy_only=False"):
        result.column(1).chunk(0).to_numpy()
    assert result.column(1).chunk(0).to_numpy(zero_copy_only=False).tolist() == seqs


def test_failed_rows_are_null():
    engine = shardstream.Engine()
    small = engine.create_stream("tiny", 1, shard_capacity_bytes=4 << 20)
    entries = [{"Data": b"x" * 600_000, "PartitionKey": f"k{i}"} for i in range(8)]
    answer = small.put_records(entries)
    assert 0 < answer["FailedRecordCount"] < 8
    got = [r.get("SequenceNumber") for r in answer["Records"]]
    stored = [r["sequence_number"] for r in small.read_table().to_pylist()]
    assert [s for s in got if s is not None] == stored


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**36 - 1),
            st.integers(-(2**31), 2**31 - 1),
            st.integers(0, END_COUNTER),
            st.integers(0, 2**36 - 1),
            st.integers(1, 5),
            st.booleans(),
        ),
        max_size=30,
    ),
    st.randoms(use_true_random=False),
)
@settings(max_examples=200, deadline=None)
def test_formatting_values_matches_the_reference(runs, rnd):
    # runs of consecutive counters (the step path) from several shards, interleaved, with nulls
    rows = []
    for created, index, counter, arrival, length, null in runs:
        run = [format_sequence_number(created, index, min(counter + i, END_COUNTER), arrival) for i in range(length)]
        rows.append([None] * length if null else run)
    merged = []
    while any(rows):
        rnd.shuffle(rows)
        for run in rows:
            if run:
                merged.append(run.pop(0))
    values = as_values(merged)
    assert format_sequence_values(values).to_pylist() == merged
    if len(merged) > 2:  # a slice starts mid-buffer (and mid-bitmap)
        assert format_sequence_values(values.slice(1, len(merged) - 2)).to_pylist() == merged[1:-1]


def test_values_that_are_not_sequence_numbers_are_refused():
    with pytest.raises(ValueError, match="row 1 holds -5, which is not a sequence number"):
        format_sequence_values(as_values(["1", "-5"]))
    with pytest.raises(ValueError, match="not a sequence number"):
        format_sequence_values(as_values(["9" * 56]))
    with pytest.raises(TypeError, match="decimal256"):
        format_sequence_values(pa.array(["1"]))
    array = pa.ExtensionArray.from_storage(SEQUENCE_NUMBER_TYPE, as_values([format_sequence_number(1, 2, 3, 4)]))
    assert isinstance(array, SequenceNumberArray) and array.to_pylist() == [format_sequence_number(1, 2, 3, 4)]


def test_pandas_nulls_and_empty():
    array = pa.ExtensionArray.from_storage(SEQUENCE_NUMBER_TYPE, as_values([None, format_sequence_number(1, 2, 3, 4)]))
    series = pa.table({"s": array}).to_pandas()["s"]
    assert series.isna().tolist() == [True, False] and series[1] == format_sequence_number(1, 2, 3, 4)
    empty = pa.ExtensionArray.from_storage(SEQUENCE_NUMBER_TYPE, as_values([]))
    assert empty.to_pylist() == [] and sequence_strings(pa.chunked_array([], SEQUENCE_NUMBER_TYPE)).to_pylist() == []
    assert isinstance(pd.Series(array.to_pylist()).iloc[1], str)
