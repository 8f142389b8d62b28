"""Segment logs on a full disk: a failed append leaves no trace, unsynced appends can be cut off,
and recovery needs no free space (injected through a SegmentIO)."""

from __future__ import annotations

import errno
import os

import pyarrow as pa
import pytest

from shardstream import Engine
from shardstream._native import read_arrow_batch
from shardstream.records import format_records
from shardstream.schema import RECORD_SCHEMA
from shardstream.sequence import sequence_counter
from shardstream.storage import SegmentIO, SegmentLog
from shardstream.storage.format import EOS_MARKER


class Switch(SegmentIO):
    """Fails writes (after writing ``torn`` bytes) and/or fsyncs with ENOSPC on demand."""

    def __init__(self, torn: int = 50):
        self.full = False
        self.fsync_fails = False
        self.torn = torn

    def write(self, fd, buffers, offset):
        if self.full:
            data = b"".join(bytes(memoryview(b).cast("B")) for b in buffers)
            os.pwrite(fd, data[: self.torn], offset)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(fd, buffers, offset)

    def fsync(self, fd):
        if self.fsync_fails:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super().fsync(fd)


def batch(first: int, n: int) -> pa.RecordBatch:
    """``n`` records with counters ``first ..``, each payload naming its counter."""
    counters = list(range(first, first + n))
    return pa.RecordBatch.from_arrays(
        [
            pa.array(["shardId-000000000000"] * n).dictionary_encode(),
            pa.array([f"{c:056d}" for c in counters]),
            pa.array(["k"] * n),
            pa.array([b"record-%d" % c for c in counters], pa.binary()),
            pa.array([1_700_000_000_000 + c for c in counters], pa.timestamp("ms", tz="UTC")),
        ],
        schema=RECORD_SCHEMA,
    )


def counters_in(log: SegmentLog) -> list[int]:
    return [c for b in log.read(0) for c in b.column("counter").to_pylist()]


def append(log: SegmentLog, first: int, n: int) -> None:
    log.append(batch(first, n), list(range(first, first + n)))


def test_a_failed_append_leaves_the_segment_as_it_was_and_the_next_one_works(tmp_path):
    io = Switch()
    log = SegmentLog(tmp_path, io=io)
    append(log, 1, 10)
    size = log.segments()[-1].size_bytes
    io.full = True
    with pytest.raises(OSError) as info:
        append(log, 11, 10)
    assert info.value.errno == errno.ENOSPC
    assert log.segments()[-1].size_bytes == size == os.path.getsize(log.segments()[-1].path)
    assert log.last_counter() == 10 and counters_in(log) == list(range(1, 11))
    io.full = False
    append(log, 11, 10)  # the same records again: nothing of the failed try is in the way
    log.close()
    reopened = SegmentLog(tmp_path, expect_sealed=True)  # clean: any damage would raise
    assert counters_in(reopened) == list(range(1, 21))


def test_a_failed_first_append_removes_its_empty_segment(tmp_path):
    io = Switch()
    log = SegmentLog(tmp_path, io=io)
    io.full = True
    with pytest.raises(OSError):
        append(log, 1, 5)
    assert log.segments() == [] and list(tmp_path.iterdir()) == []
    io.full = False
    append(log, 1, 5)
    assert counters_in(log) == [1, 2, 3, 4, 5]


def test_discard_unsynced_cuts_back_to_the_last_sync(tmp_path):
    io = Switch()
    log = SegmentLog(tmp_path, io=io)
    append(log, 1, 5)
    log.sync()
    append(log, 6, 5)
    io.fsync_fails = True
    with pytest.raises(OSError):
        log.sync()
    assert log.discard_unsynced() == 5
    assert counters_in(log) == [1, 2, 3, 4, 5]
    io.fsync_fails = False
    append(log, 20, 2)
    log.close()
    assert counters_in(SegmentLog(tmp_path, expect_sealed=True)) == [1, 2, 3, 4, 5, 20, 21]


def test_sealing_without_room_keeps_the_segment_open_and_reopening_needs_no_space(tmp_path):
    io = Switch(torn=3)
    log = SegmentLog(tmp_path, io=io)
    append(log, 1, 5)
    log.sync()
    io.full = True
    with pytest.raises(OSError):
        log.close()  # no room for the end-of-stream marker: left as a crash would leave it
    (path,) = tmp_path.iterdir()
    assert not path.read_bytes().endswith(EOS_MARKER)
    # recovery cannot write the marker either: it opens all the same, reads everything ...
    recovered = SegmentLog(tmp_path, io=io)
    assert counters_in(recovered) == [1, 2, 3, 4, 5]
    io.full = False
    append(recovered, 6, 2)  # ... and seals the old segment before starting a new one
    recovered.close()
    assert counters_in(SegmentLog(tmp_path, expect_sealed=True)) == [1, 2, 3, 4, 5, 6, 7]


def test_ring_visible_limit_and_discard_all():
    stream = Engine().create_stream("s", 1)
    log = stream.logs[0]
    for i in range(5):
        stream.put_record(b"r%d" % i, "k")  # counters 1..5
    log.visible_limit = 3
    batch, nxt, tail, _ = read_arrow_batch(log, 1, 100, 1 << 20, stream.now_ms())
    records = format_records(batch, wire=False)
    assert [r["Data"] for r in records] == [b"r0", b"r1"] and (nxt, tail) == (3, 3)
    batch, nxt, tail, _ = read_arrow_batch(log, 1, 100, 1 << 20, stream.now_ms())
    assert batch.num_rows == 2 and (nxt, tail) == (3, 3)
    batch, nxt, tail, _ = read_arrow_batch(log, 1, 100, 1 << 20, stream.now_ms(), True)  # unpublished too
    assert batch.num_rows == 5 and (nxt, tail) == (6, 6)
    assert log.discard_all() == 6
    assert (log.head, log.tail, log.count) == (6, 6, 0)
    log.visible_limit = 2**64 - 1
    out = stream.put_record(b"r5", "k")  # counters are not reused
    assert sequence_counter(out["SequenceNumber"]) == 6
    batch, nxt, _, _ = read_arrow_batch(log, 1, 100, 1 << 20, stream.now_ms())
    records = format_records(batch, wire=False)
    assert [r["Data"] for r in records] == [b"r5"] and nxt == 7
