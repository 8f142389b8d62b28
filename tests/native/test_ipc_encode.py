"""Segment batch messages encoded straight from a ring (``encode_ipc_run``) against the pyarrow path."""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shardstream
from shardstream._native import encode_ipc_run, native_crc32, read_arrow_batch
from shardstream.storage import SegmentLog
from shardstream.storage.fileio import SYSTEM_IO
from shardstream.storage.format import CRC_METADATA_KEY, STORED_SCHEMA, batch_crc32
from shardstream.storage.recovery import recover_segments

MIB = 1 << 20
NOW = 2**62  # "now" for reads that must not trim (no retention reaches it back)


@given(st.binary(max_size=300), st.integers(0, 2**32 - 1))
def test_crc32_is_zlibs(data, seed):
    assert native_crc32(data) == zlib.crc32(data)
    assert native_crc32(data, seed) == zlib.crc32(data, seed)
    assert native_crc32(memoryview(data)[1:]) == zlib.crc32(data[1:])


def reference_batch(log, start: int, limit: int, max_data_bytes: int) -> pa.RecordBatch | None:
    """What the pyarrow path writes for the same run: the record batch plus its counters."""
    batch, nxt, _, _ = read_arrow_batch(log, start, limit, max_data_bytes, NOW, True)
    if batch is None:
        return None
    counters = pa.array(np.arange(nxt - batch.num_rows, nxt, dtype=np.uint64))
    return pa.RecordBatch.from_arrays([*batch.columns, counters], schema=STORED_SCHEMA)


def read_back(reference: pa.RecordBatch, message: bytes) -> tuple[pa.RecordBatch, dict]:
    """``message`` read by pyarrow after a stream pyarrow began (schema and dictionary), as in a segment."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, STORED_SCHEMA) as writer:
        writer.write_batch(reference.slice(0, 1))
    opening = sink.getvalue().to_pybytes()[: -len(b"\xff\xff\xff\xff\x00\x00\x00\x00")]
    reader = pa.ipc.open_stream(pa.py_buffer(opening + message))
    reader.read_next_batch()
    batch, metadata = reader.read_next_batch_with_custom_metadata()
    with pytest.raises(StopIteration):
        reader.read_next_batch()
    return batch, metadata


records = st.lists(st.tuples(st.text(min_size=1, max_size=12), st.integers(0, 60_000)), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    puts=st.lists(records, min_size=1, max_size=6),
    back=st.integers(0, 80),
    limit=st.integers(1, 100),
    max_data_bytes=st.sampled_from([1, 1000, 100_000, 2**40]),
)
def test_a_message_reads_back_as_the_batch_the_pyarrow_path_writes(stream, puts, back, limit, max_data_bytes):
    # A small ring that evicts: runs wrap around its end.
    s = stream(1, shard_capacity_bytes=2 * MIB, evict_oldest=True)
    for i, put in enumerate(puts):
        s.put_batch([k for k, _ in put], [bytes([i % 256]) * size for _, size in put])
    log = s.logs[0]
    start = max(log.tail - back, 0)
    reference = reference_batch(log, start, limit, max_data_bytes)
    encoded = encode_ipc_run(log, start, limit, max_data_bytes, NOW)
    if reference is None:
        assert encoded is None
        return
    metadata, body, rows, first, first_ms, last_ms, crc = encoded
    # a large body's CRC may come from another CRC-32 function: the same message
    assert encode_ipc_run(log, start, limit, max_data_bytes, NOW, zlib.crc32) == encoded
    assert len(metadata) % 8 == 0 and len(body) % 8 == 0
    assert (rows, first) == (reference.num_rows, reference.column("counter")[0].as_py())
    batch, custom = read_back(reference, metadata + body)
    batch.validate(full=True)
    assert batch.equals(reference)
    assert custom[CRC_METADATA_KEY.encode()] == str(crc).encode() == str(batch_crc32(batch)).encode()
    arrivals = batch.column("approximate_arrival_timestamp").cast(pa.int64())
    assert (first_ms, last_ms) == (arrivals[0].as_py(), arrivals[-1].as_py())


def test_nothing_to_encode_past_the_tail_or_after_retention(stream):
    s = stream(1)  # retention: 24 hours
    s.put_record(b"x", "k")
    log = s.logs[0]
    assert encode_ipc_run(log, log.tail, 10, MIB, NOW) is None
    assert encode_ipc_run(log, log.head, 10, MIB, NOW) is None  # "now" is far past the retention: trimmed
    assert log.count == 0


def _counted(monkeypatch) -> dict:
    """Count the batches SegmentLog.append and SegmentLog.append_message write."""
    counts = {"batches": 0, "messages": 0}
    append, append_message = SegmentLog.append, SegmentLog.append_message

    def count_append(self, *args, **kw):
        counts["batches"] += 1
        return append(self, *args, **kw)

    def count_message(self, *args, **kw):
        appended = append_message(self, *args, **kw)
        counts["messages"] += appended
        return appended

    monkeypatch.setattr(SegmentLog, "append", count_append)
    monkeypatch.setattr(SegmentLog, "append_message", count_message)
    return counts


def test_sync_puts_write_messages_that_recover_and_read_back(tmp_path, monkeypatch):
    counts = _counted(monkeypatch)
    expected = []
    with shardstream.Engine(data_dir=tmp_path, durability="sync", max_segment_bytes=64 * 1024) as engine:
        stream = engine.create_stream("s", 2)
        for i in range(300):
            data = b"r%04d" % i + bytes(i % 7 * 300)
            stream.put_record(data, f"k{i}")
            expected.append(data)
        batch = [b"b%04d" % i for i in range(500)]
        stream.put_batch([f"b{i}" for i in range(500)], batch)
        expected += batch
    # Most went as messages; each segment began with a pyarrow batch (it writes the dictionary).
    assert counts["messages"] > 250 and 0 < counts["batches"] < 60, counts
    for shard in sorted((tmp_path / "us-east-1").rglob("shardId-*")):
        recovered = recover_segments(
            shard, STORED_SCHEMA, readonly=True, verify_sealed=True, expect_sealed=True, io=SYSTEM_IO
        )
        assert len(recovered.segments) > 2  # rolled: new segments start with a batch again
    with shardstream.Engine(data_dir=tmp_path) as engine:
        table = engine.stream("s").read_table()
    assert sorted(table.column("data").to_pylist()) == sorted(expected)


def test_interval_flushes_of_a_few_records_are_messages_too(tmp_path, monkeypatch):
    counts = _counted(monkeypatch)
    with shardstream.Engine(data_dir=tmp_path, durability="interval") as engine:
        stream = engine.create_stream("s", 1)
        for i in range(5):
            stream.put_batch([f"k{i}-{j}" for j in range(10)], [b"%d-%d" % (i, j) for j in range(10)])
            engine.flush()
        read = engine.stream("s").read_table()
    assert counts == {"batches": 1, "messages": 4}
    with shardstream.Engine(data_dir=tmp_path) as engine:
        again = engine.stream("s").read_table()
    assert again.column("data").to_pylist() == read.column("data").to_pylist()
    assert again.column("sequence_number").to_pylist() == read.column("sequence_number").to_pylist()
