"""Segment logs on real files: round trips, rolling, retention, recovery, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardstream.schema import RECORD_SCHEMA, SHARD_ID_TYPE
from shardstream.sequence import format_sequence_number
from shardstream.storage import (
    STORED_SCHEMA,
    CorruptSegmentError,
    SegmentLog,
    SegmentWriter,
    segment_file_name,
)
from shardstream.storage.format import EOS_MARKER


def seq(counter: int) -> str:
    """The sequence number of ``counter`` in shard 3 (created at 1_700_000_000 s), as make_batch writes it."""
    return format_sequence_number(1_700_000_000, 3, counter, (1_700_000_000_000 + counter) // 1000)


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def make_batch(first: int, n: int, payload: int = 8) -> pa.RecordBatch:
    """A RECORD_SCHEMA batch of counters first .. first + n - 1."""
    counters = range(first, first + n)
    return pa.RecordBatch.from_arrays(
        [
            pa.DictionaryArray.from_arrays(pa.array([0] * n, pa.int32()), pa.array(["shardId-000000000003"])),
            pa.array([seq(c) for c in counters], pa.string()),
            pa.array([f"key-{c}" for c in counters], pa.string()),
            pa.array([(b"%d-" % c) * payload for c in counters], pa.binary()),
            pa.array([1_700_000_000_000 + c for c in counters], pa.timestamp("ms", tz="UTC")),
        ],
        schema=RECORD_SCHEMA,
    )


def read_counters(log: SegmentLog, start: int = 0, end: int | None = None) -> list[int]:
    table = log.read(start, end).read_all()
    assert table.schema.equals(STORED_SCHEMA)
    return table.column("counter").to_pylist()


def fill(log: SegmentLog, sizes, first: int = 1) -> int:
    c = first
    for n in sizes:
        log.append(make_batch(c, n))
        c += n
    return c - 1


def segment_files(directory) -> list[str]:
    return sorted(p for p in os.listdir(directory) if p.endswith(".arrows"))


# -- round trips ---------------------------------------------------------------


def test_segment_file_name():
    assert segment_file_name(1) == "00000000000000000001.arrows"
    assert segment_file_name(2**64 - 1) == "18446744073709551615.arrows"
    with pytest.raises(ValueError):
        segment_file_name(2**64)


def test_append_read_round_trip_is_exact(tmp_path):
    log = SegmentLog(tmp_path / "s")
    batches = [make_batch(1, 5), make_batch(6, 1), make_batch(7, 40)]
    for b in batches:
        log.append(b)
    assert log.last_counter() == 46
    got = log.read(1).read_all()
    expected = pa.Table.from_batches(batches).combine_chunks()
    assert got.drop_columns(["counter"]).combine_chunks().equals(expected)
    assert got.column("counter").to_pylist() == list(range(1, 47))
    assert got.column("shard_id").type == SHARD_ID_TYPE
    assert segment_files(tmp_path / "s") == [segment_file_name(1)]
    log.close()


def test_counters_parsed_explicit_or_stored(tmp_path):
    log = SegmentLog(tmp_path, first_counter=10)
    with pytest.raises(ValueError, match="below"):
        log.append(make_batch(5, 2))
    log.append(make_batch(10, 3))  # parsed from sequence numbers
    log.append(make_batch(100, 2), counters=[20, 25])  # explicit
    stored = log.read(20).read_next_batch()
    log.append(
        pa.RecordBatch.from_arrays([*stored.columns[:-1], pa.array([30, 31], pa.uint64())], schema=STORED_SCHEMA)
    )
    assert read_counters(log) == [10, 11, 12, 20, 25, 30, 31]
    with pytest.raises(ValueError, match="strictly increasing"):
        log.append(make_batch(40, 3), counters=[40, 40, 41])
    with pytest.raises(ValueError, match="below"):
        log.append(make_batch(31, 1))
    with pytest.raises(ValueError, match="schema"):
        log.append(pa.record_batch({"x": [1]}))
    assert log.append(make_batch(50, 0)) == 31  # empty batches are no-ops
    log.close()


def test_sliced_and_null_bitmap_batches_verify(tmp_path):
    # Slices and all-valid bitmaps are normalised by the IPC writer; the CRC must still match.
    log = SegmentLog(tmp_path)
    big = make_batch(1, 100)
    log.append(big.slice(3, 50), counters=range(1, 51))
    log.close()
    log = SegmentLog.open(tmp_path)
    assert read_counters(log) == list(range(1, 51))
    assert log.read(1).read_all().column("data").to_pylist() == big.slice(3, 50).column("data").to_pylist()
    log.close()


@FAST
@given(
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=12),
    bounds=st.lists(st.tuples(st.integers(0, 400), st.one_of(st.none(), st.integers(0, 400))), min_size=1, max_size=5),
    max_bytes=st.sampled_from([1, 3000, 20_000, 1 << 26]),
)
def test_read_ranges_return_exactly_the_rows_in_range(tmp_path_factory, sizes, bounds, max_bytes):
    directory = tmp_path_factory.mktemp("log")
    log = SegmentLog(directory, max_segment_bytes=max_bytes)
    last = fill(log, sizes)
    for start, end in bounds:
        expected = [c for c in range(1, last + 1) if c >= start and (end is None or c < end)]
        assert read_counters(log, start, end) == expected
        table = log.read(start, end).read_all()
        assert table.column("sequence_number").to_pylist() == [seq(c) for c in expected]
    log.close()
    reopened = SegmentLog.open(directory)
    assert read_counters(reopened) == list(range(1, last + 1))


# -- rolling, retention, reopen ------------------------------------------------------


def test_rolls_at_size_limit_and_names_segments_by_base_counter(tmp_path):
    log = SegmentLog(tmp_path, max_segment_bytes=4000)
    last = fill(log, [10] * 20)
    segs = log.segments()
    assert len(segs) > 3
    assert [s.base_counter for s in segs] == sorted(s.base_counter for s in segs)
    assert all(s.sealed for s in segs[:-1])
    for a, b in zip(segs, segs[1:]):
        assert b.base_counter == a.last_counter + 1
    assert segment_files(tmp_path) == [segment_file_name(s.base_counter) for s in segs]
    assert read_counters(log) == list(range(1, last + 1))
    log.close()


def test_delete_before_removes_whole_segments_only(tmp_path):
    log = SegmentLog(tmp_path, max_segment_bytes=4000)
    last = fill(log, [10] * 20)
    segs = log.segments()
    cut = segs[2].base_counter + 3  # inside the third segment
    deleted = log.delete_before(cut)
    assert [p.name for p in deleted] == [segment_file_name(s.base_counter) for s in segs[:2]]
    assert read_counters(log) == list(range(segs[2].base_counter, last + 1))
    assert read_counters(log, 0, 5) == []
    # The newest segment always survives.
    log.roll()
    log.delete_before(10**9)
    assert len(log.segments()) == 1
    assert read_counters(log) == list(range(log.segments()[0].base_counter, last + 1))
    log.close()
    reopened = SegmentLog.open(tmp_path)
    assert reopened.last_counter() == last
    reopened.append(make_batch(last + 1, 2))
    assert read_counters(reopened)[-3:] == [last, last + 1, last + 2]
    reopened.close()


def test_reopen_continues_counters(tmp_path):
    with SegmentLog(tmp_path) as log:
        fill(log, [5, 5])
    log = SegmentLog.open(tmp_path)
    assert log.last_counter() == 10
    assert log.recovery.truncated_bytes == 0
    with pytest.raises(ValueError):
        log.append(make_batch(10, 1))
    log.append(make_batch(11, 4))
    log.sync()
    assert segment_files(tmp_path) == [segment_file_name(1), segment_file_name(11)]
    # Reopen without a clean close: the active segment lacks its end marker.
    log.abandon()
    log = SegmentLog.open(tmp_path)
    assert read_counters(log) == list(range(1, 15))
    log.append(make_batch(15, 1))
    assert read_counters(log) == list(range(1, 16))
    log.close()


def test_reader_survives_later_appends_and_retention(tmp_path):
    log = SegmentLog(tmp_path, max_segment_bytes=3000)
    fill(log, [10] * 10)
    reader = log.read(1)
    fill(log, [10] * 5, first=101)
    log.delete_before(10**9)
    assert reader.read_all().column("counter").to_pylist() == list(range(1, 101))
    log.close()


def test_writer_refuses_to_overwrite(tmp_path):
    w = SegmentWriter(tmp_path, 7)
    w.close()
    with pytest.raises(FileExistsError):
        SegmentWriter(tmp_path, 7)


# -- torn tails and corruption ---------------------------------------------------------


def _batch_ends(path) -> list[int]:
    mm = pa.memory_map(str(path))
    reader = pa.ipc.open_stream(mm)
    ends = []
    for _ in reader:
        ends.append(mm.tell())
    return ends


@FAST
@given(data=st.data())
def test_torn_tail_is_truncated_to_complete_batches(tmp_path_factory, data):
    directory = tmp_path_factory.mktemp("torn")
    sizes = data.draw(st.lists(st.integers(1, 30), min_size=1, max_size=8))
    log = SegmentLog(directory)
    fill(log, sizes)
    log.sync()
    path = log.segments()[-1].path
    ends = _batch_ends(path)
    full = os.path.getsize(path)
    log.abandon()
    cut = data.draw(st.integers(0, full))
    with open(path, "r+b") as f:
        f.truncate(cut)
    complete = sum(1 for e in ends if e <= cut)
    expected_last = sum(sizes[:complete])
    log = SegmentLog.open(directory)
    assert read_counters(log) == list(range(1, expected_last + 1))
    assert log.last_counter() == (expected_last or None)
    if complete == 0:
        assert segment_files(directory) == []
    # Appends continue right after the surviving records, and survive another reopen.
    log.append(make_batch(expected_last + 1, 3))
    log.close()
    with SegmentLog.open(directory) as log:
        assert read_counters(log) == list(range(1, expected_last + 4))


def test_a_reader_ends_where_the_segment_ended_when_it_began(tmp_path):
    # Small appends overwrite the zeros reserved after the last one, inside what a reader has mapped:
    # the reader must still stop where the segment ended when it began.
    log = SegmentLog(tmp_path)
    fill(log, [4, 4])
    reader = log.read(1)
    size = os.path.getsize(log.segments()[-1].path)
    fill(log, [4, 4], first=9)
    assert os.path.getsize(log.segments()[-1].path) == size  # written into the reserve, in place
    assert reader.read_all().column("counter").to_pylist() == list(range(1, 9))
    assert log.read(1).read_all().column("counter").to_pylist() == list(range(1, 17))
    log.close()


def test_torn_tail_with_garbage_bytes(tmp_path):
    log = SegmentLog(tmp_path)
    fill(log, [4, 4])
    log.sync()
    path, end = log.segments()[-1].path, log.segments()[-1].size_bytes
    log.abandon()
    with open(path, "r+b") as f:  # where the next append would have gone (the zero reserve begins there)
        f.seek(end)
        f.write(b"\xff\xff\xff\xff\x10\x00\x00\x00partial")
    log = SegmentLog.open(tmp_path)
    assert log.recovery.truncated_path == path
    assert log.recovery.truncated_bytes == 15  # the torn message; not the zeros after it
    assert path.stat().st_size == end + len(EOS_MARKER)
    assert read_counters(log) == list(range(1, 9))


def _sealed_log(directory):
    log = SegmentLog(directory, max_segment_bytes=5000)
    last = fill(log, [10] * 15)
    log.close()
    segs = log.segments()
    assert len(segs) >= 3
    return segs, last


@pytest.mark.parametrize("where", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_flipped_byte_in_sealed_segment_raises(tmp_path, where):
    segs, _ = _sealed_log(tmp_path)
    path = segs[0].path
    data = bytearray(path.read_bytes())
    ends = _batch_ends(path)
    pos = int(len(data) * where)
    if pos >= ends[-1]:  # keep the flip inside a batch message, not the end marker
        pos = ends[-1] - 20
    data[pos] ^= 0x5A
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptSegmentError) as info:
        SegmentLog.open(tmp_path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert 0 <= info.value.offset <= pos
    assert f"offset {info.value.offset}" in str(info.value)


def test_no_flipped_byte_gives_wrong_data(tmp_path):
    # Flip bytes throughout one sealed batch message: each flip is either detected
    # or lands in padding / unused metadata and changes nothing that is read.
    segs, last = _sealed_log(tmp_path)
    with SegmentLog.open(tmp_path) as log:
        good = log.read(0).read_all()
    path = segs[0].path
    original = path.read_bytes()
    ends = _batch_ends(path)
    lo, hi = ends[0], ends[1]
    detected = harmless = 0
    for pos in range(lo, hi, 3):
        data = bytearray(original)
        data[pos] ^= 0x01
        path.write_bytes(bytes(data))
        try:
            log = SegmentLog.open(tmp_path)
        except CorruptSegmentError:
            detected += 1
            continue
        with log:
            assert log.read(0).read_all().equals(good)
        harmless += 1
    assert detected > 10 * harmless
    path.write_bytes(original)
    SegmentLog.open(tmp_path).close()


def test_corruption_after_open_is_caught_on_read(tmp_path):
    segs, last = _sealed_log(tmp_path)
    log = SegmentLog.open(tmp_path)
    path = segs[1].path
    ends = _batch_ends(path)
    data = bytearray(path.read_bytes())
    data[ends[0] - 10] ^= 0xFF  # inside the first batch's body
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptSegmentError, match="CRC"):
        log.read(1).read_all()
    # A range that avoids the damaged segment still reads.
    assert read_counters(log, segs[2].base_counter) == list(range(segs[2].base_counter, last + 1))


def test_truncated_sealed_segment_raises(tmp_path):
    segs, _ = _sealed_log(tmp_path)
    path = segs[0].path
    ends = _batch_ends(path)
    with open(path, "r+b") as f:
        f.truncate(ends[1])  # clean message boundary, but the end marker is gone
    with pytest.raises(CorruptSegmentError, match="end-of-stream"):
        SegmentLog.open(tmp_path)


# -- a real crash ---------------------------------------------------------------------

CRASH_SCRIPT = textwrap.dedent(
    """
    import random, sys
    sys.path[:0] = [{tests_dir!r}]
    from storage.test_segments import make_batch
    from shardstream.storage import SegmentLog
    log = SegmentLog.open(sys.argv[1], max_segment_bytes=20_000)
    rng = random.Random(7)
    c = (log.last_counter() or 0) + 1
    print("ready", flush=True)
    while True:
        n = rng.randint(1, 40)
        log.append(make_batch(c, n))
        c += n
        log.sync()
        print(c - 1, flush=True)
    """
)


@pytest.mark.slow
def test_sigkill_keeps_every_acknowledged_record(tmp_path):
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = CRASH_SCRIPT.format(tests_dir=tests_dir)
    acked: list[int] = []
    for _round in range(2):  # the second round appends after a recovery
        proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        lines = out.split("\n")
        # A line is only an acknowledgement if it was printed completely.
        acked += [int(line) for line in lines[:-1] if line.strip()]
        assert acked, "the child acknowledged nothing"
        log = SegmentLog.open(tmp_path)
        counters = read_counters(log)
        assert counters == list(range(1, len(counters) + 1))  # each present once, in order
        assert counters[-1] >= acked[-1]
        assert set(acked) <= set(counters)
        del log
    assert len(segment_files(tmp_path)) > 1
    assert np.all(np.diff(acked) > 0)


# -- the CRC computed before writing equals the one recomputed on read -------------------------


def _oversized(arr: pa.Array, extra: int) -> pa.Array:
    """``arr`` rebuilt on buffers with ``extra`` spare bytes at the end (as pooled buffers have)."""
    bufs = [None if b is None else pa.py_buffer(b.to_pybytes() + b"\xee" * extra) for b in arr.buffers()]
    return pa.Array.from_buffers(arr.type, len(arr), bufs, null_count=0, offset=arr.offset)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.binary(max_size=40), min_size=1, max_size=60),
    cut=st.tuples(st.integers(0, 59), st.integers(1, 60)),
    extra=st.integers(0, 64),
    large=st.booleans(),
)
def test_write_crc_matches_crc_after_a_round_trip(values, cut, extra, large):
    from shardstream.storage.format import _canonicalize, batch_crc32, prepare_for_write

    n = len(values)
    start, length = min(cut[0], n - 1), cut[1]
    binary = pa.array(values, pa.large_binary() if large else pa.binary())
    ints = pa.array(np.arange(n, dtype=np.uint64) * 7)
    strings = pa.array([f"k{i}" for i in range(n)])
    dictionary = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array(["shardId-000000000000"]))
    batch = pa.RecordBatch.from_arrays(
        [_oversized(binary, extra), _oversized(ints, extra), _oversized(strings, extra), dictionary],
        names=["b", "u", "s", "d"],
    ).slice(start, length)
    exact, crc = prepare_for_write(batch)
    assert exact.equals(batch)
    assert crc == batch_crc32(_canonicalize(exact))
    # nothing beyond the rows is written (the writer would write spare capacity of unsliced buffers)
    compact = pa.RecordBatch.from_pylist(batch.to_pylist(), schema=batch.schema)
    assert pa.ipc.get_record_batch_size(exact) <= pa.ipc.get_record_batch_size(compact)


def test_durable_flush_never_needs_the_round_trip(tmp_path, monkeypatch):
    """Batches copied out of a ring are written without a copy, and without the ring's spare capacity."""
    import shardstream
    from shardstream.storage import format as format_module

    def refuse(batch):
        raise AssertionError("prepare_for_write fell back to an IPC round trip")

    monkeypatch.setattr(format_module, "_canonicalize", refuse)
    with shardstream.Engine(data_dir=tmp_path) as engine:
        s = engine.create_stream("s", shard_count=2)
        s.put_batch([f"k{i}" for i in range(1000)], [b"x" * (i % 50) for i in range(1000)])
        s.put_record(b"", "empty data")
    with shardstream.Engine(data_dir=tmp_path) as engine:
        s = engine.stream("s")
        assert s.read_table().num_rows == 1001
        stored = sum(info.size_bytes for i in range(2) for info in s.store.segment_log(i).segments())
        assert stored < 200_000  # records of ~100 bytes, not 64 KiB pool blocks per column


def test_lazy_verification_catches_a_flipped_body_byte_on_first_read(tmp_path):
    """verify_sealed=False (what the engine uses): opening skips CRCs of sealed segments, reading checks them."""
    segs, last = _sealed_log(tmp_path)
    path = segs[0].path
    ends = _batch_ends(path)
    original = path.read_bytes()
    # A flip in a payload byte: framing, offsets and counters stay valid, only the CRC can tell.
    for pos in range(ends[0] - 1, ends[0] // 2, -1):
        data = bytearray(original)
        data[pos] ^= 0x01
        path.write_bytes(bytes(data))
        try:
            SegmentLog(tmp_path, verify_sealed=False).close()
        except CorruptSegmentError:
            continue
        break
    with pytest.raises(CorruptSegmentError, match="CRC"):
        SegmentLog.open(tmp_path)
    log = SegmentLog.open(tmp_path, verify_sealed=False)
    assert log.last_counter() == last
    with pytest.raises(CorruptSegmentError, match="CRC") as info:
        log.read_range(1, 10)
    assert info.value.path == str(path)
    with pytest.raises(CorruptSegmentError, match="CRC"):
        log.read(1).read_all()
    assert read_counters(log, segs[1].base_counter) == list(range(segs[1].base_counter, last + 1))


def test_crc_function_is_zlibs_crc32():
    """Whichever implementation is installed (ISA-L or zlib), the stored CRC is zlib's CRC-32."""
    import zlib

    from shardstream.storage import format as format_module

    data = bytes(range(256)) * 999
    assert format_module.crc32(data) == zlib.crc32(data)
    assert format_module.crc32(data[:77], 12345) == zlib.crc32(data[:77], 12345)
