"""Dropping synced segment bytes from the page cache while a ring still holds their records."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys

import pytest

from shardstream.storage import SegmentLog

from .test_segments import make_batch, read_counters

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="mincore and posix_fadvise are Linux calls")


def resident_pages(path) -> int:
    """Pages of ``path`` in the page cache (``mincore`` over a private map of the whole file, never touched)."""
    libc = ctypes.CDLL(None, use_errno=True)
    size = os.path.getsize(path)
    page = mmap.PAGESIZE
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as m:  # never written
        buf = (ctypes.c_char * 1).from_buffer(m)
        address = ctypes.addressof(buf)
        vec = (ctypes.c_ubyte * ((size + page - 1) // page))()
        if libc.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        del buf
        return sum(v & 1 for v in vec)


@pytest.fixture(autouse=True)
def _through_the_page_cache(monkeypatch):
    """These batches are large enough to go around the page cache (O_DIRECT): here they must not."""
    monkeypatch.setenv("SHARDSTREAM_DIRECT_IO", "0")


def big_log(tmp_path, **kw) -> SegmentLog:
    return SegmentLog(tmp_path / "shard", **kw)


def test_synced_bytes_are_dropped_only_while_the_ring_holds_them(tmp_path):
    log = big_log(tmp_path)
    log.append(make_batch(1, 20_000, payload=20))
    path = log.segments()[-1].path
    assert log.release_synced(1) == 0  # not synced yet: nothing may be dropped (dirty pages)
    log.sync()
    assert resident_pages(path) > 100
    assert log.release_synced(2) == 0  # the ring no longer holds record 1: the cache is the only copy
    assert resident_pages(path) > 100
    dropped = log.release_synced(1)
    assert dropped > 1 << 20
    assert resident_pages(path) < 4
    assert read_counters(log) == list(range(1, 20_001))  # the data is all there, read back from the disk
    log.close()


def test_small_ranges_wait_until_a_megabyte_accumulated(tmp_path):
    log = big_log(tmp_path)
    log.append(make_batch(1, 100))
    log.sync()
    assert log.release_synced(1) == 0
    log.append(make_batch(101, 20_000, payload=20))
    log.sync()
    assert log.release_synced(1) > 1 << 20  # from the first unreleased byte: both batches
    log.close()


def test_sealed_segments_are_dropped_too(tmp_path):
    log = big_log(tmp_path, max_segment_bytes=1 << 20)  # each big append rolls
    log.append(make_batch(1, 20_000, payload=20))
    log.append(make_batch(20_001, 20_000, payload=20))
    sealed = [info.path for info in log.segments() if info.sealed]
    assert len(sealed) == 2
    assert all(resident_pages(p) > 100 for p in sealed)
    assert log.release_synced(1) > 2 << 20
    assert all(resident_pages(p) < 4 for p in sealed)
    assert log.release_synced(1) == 0  # each segment once
    assert read_counters(log) == list(range(1, 40_001))
    log.close()
