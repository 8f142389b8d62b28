"""Large segment appends written with O_DIRECT (``storage/direct.py``), on real files."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardstream.storage import SegmentLog
from shardstream.storage.direct import BLOCK, STAGE_BYTES, DirectWriter
from shardstream.storage.fileio import SYSTEM_IO, SegmentIO

from .test_segments import make_batch, read_counters
from .test_segments_cache import resident_pages

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="O_DIRECT and mincore are Linux's")


def direct_writer(path: Path) -> DirectWriter:
    writer = DirectWriter.open(path, SYSTEM_IO)
    if writer is None:
        pytest.fail(f"no O_DIRECT on the test's file system ({path})")
    return writer


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    before=st.integers(0, 3 * BLOCK),
    sizes=st.lists(st.integers(0, 3 * BLOCK), min_size=1, max_size=4),
    seed=st.integers(0, 255),
)
def test_a_direct_write_lands_after_the_bytes_before_it_and_pads_its_block_with_zeros(tmp_path, before, sizes, seed):
    path = tmp_path / f"f{seed}-{before}-{len(sizes)}"
    old = bytes((seed + i) % 251 for i in range(before))
    path.write_bytes(old)
    chunks = [bytes((seed * 7 + i) % 253 for i in range(n)) for n in sizes]
    writer = direct_writer(path)
    try:
        end = writer.write(chunks, before)
    finally:
        writer.close()
    new = b"".join(chunks)
    stored = path.read_bytes()
    start = before - before % BLOCK
    assert end == start + -(-(before - start + len(new)) // BLOCK) * BLOCK  # whole blocks from the one `before` is in
    assert stored[:before] == old
    assert stored[before : before + len(new)] == new
    assert stored[before + len(new) :] == bytes(len(stored) - before - len(new))


def test_a_write_longer_than_the_staging_buffer(tmp_path):
    path = tmp_path / "big"
    path.write_bytes(b"head")
    chunk = os.urandom(STAGE_BYTES // 3 + 5)
    writer = direct_writer(path)
    try:
        end = writer.write([chunk] * 7, 4)
    finally:
        writer.close()
    assert end == -(-(4 + 7 * len(chunk)) // BLOCK) * BLOCK
    assert path.read_bytes()[: 4 + 7 * len(chunk)] == b"head" + chunk * 7


def test_large_appends_bypass_the_page_cache_and_read_back(tmp_path, monkeypatch):
    log = SegmentLog(tmp_path / "direct")
    log.append(make_batch(1, 10))  # small: through the page cache, into the zero reserve
    log.append(make_batch(11, 30_000, payload=40))  # ~4 MB: around the page cache
    log.append(make_batch(30_011, 5))
    log.sync()
    path = log.segments()[-1].path
    assert resident_pages(path) < 32  # the big batch's pages never entered the cache
    assert read_counters(log) == list(range(1, 30_016))
    log.abandon()  # as a crash: the newest segment still ends in its reserve's zeros
    reopened = SegmentLog.open(tmp_path / "direct")
    assert reopened.recovery.truncated_bytes == 0
    assert read_counters(reopened) == list(range(1, 30_016))
    reopened.close()

    monkeypatch.setenv("SHARDSTREAM_DIRECT_IO", "0")  # the switch: through the cache
    cached = SegmentLog(tmp_path / "cached")
    cached.append(make_batch(1, 30_000, payload=40))
    cached.sync()
    assert resident_pages(cached.segments()[-1].path) > 500
    cached.close()


def test_where_o_direct_is_refused_appends_go_through_the_cache(tmp_path, monkeypatch):
    assert DirectWriter.open(tmp_path, SYSTEM_IO) is None  # a directory: no O_RDWR open, so no writer
    monkeypatch.setenv("SHARDSTREAM_DIRECT_IO", "0")
    (tmp_path / "f").write_bytes(b"")
    assert DirectWriter.open(tmp_path / "f", SYSTEM_IO) is None


class FailingBigWrites(SegmentIO):
    """Writes of a MiB or more fail with ENOSPC after their first half went to the file (``failing`` set)."""

    failing = False

    def write(self, fd, buffers, offset):
        views = [memoryview(b).cast("B") for b in buffers]
        total = sum(v.nbytes for v in views)
        if self.failing and total >= 1 << 20:
            half = views[0][: (views[0].nbytes // 2) // BLOCK * BLOCK]
            super().write(fd, [half], offset)  # what a disk that filled mid-write leaves behind
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(fd, buffers, offset)


def test_a_failed_direct_write_is_cut_back_and_the_next_one_lands(tmp_path):
    io = FailingBigWrites()
    log = SegmentLog(tmp_path / "shard", io=io)
    log.append(make_batch(1, 10))
    log.append(make_batch(11, 30_000, payload=40))  # direct
    size = log.segments()[-1].size_bytes
    io.failing = True
    with pytest.raises(OSError) as failed:
        log.append(make_batch(30_011, 30_000, payload=40))
    assert failed.value.errno == errno.ENOSPC
    assert log.last_counter() == 30_010 and log.segments()[-1].size_bytes == size
    assert os.path.getsize(log.segments()[-1].path) == size  # the half-written blocks are gone
    io.failing = False
    log.append(make_batch(30_011, 30_000, payload=40))
    log.append(make_batch(60_011, 3))
    log.sync()
    assert read_counters(log) == list(range(1, 60_014))
    log.abandon()
    assert read_counters(SegmentLog.open(tmp_path / "shard")) == list(range(1, 60_014))
