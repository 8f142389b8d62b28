"""Writing a durable stream's rings ahead of the flush interval (``interval`` and ``none``)."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

import shardstream
from shardstream.durable import EAGER_WRITE_BYTES
from shardstream.storage.eager import EagerWriter

NEVER_MS = 10**9  # a flush interval no test reaches: only the eager writer (or close) writes


def records(n: int, first: int = 0) -> tuple[pa.Array, pa.Array]:
    keys = pa.array([f"key-{i}" for i in range(first, first + n)], pa.string())
    data = pa.array([b"%09d" % i * 11 for i in range(first, first + n)], pa.binary())  # 99 bytes each
    return keys, data


def test_writer_runs_once_per_burst_of_kicks_and_stops_on_close():
    started, release = threading.Event(), threading.Event()
    calls = []

    def write():
        calls.append(1)
        started.set()
        release.wait(5)
        return True

    writer = EagerWriter(write)
    writer.kick()
    assert started.wait(5)
    for _ in range(10):  # while it writes: one more write, not ten
        writer.kick()
    release.set()
    assert writer.wait_idle(5)
    assert len(calls) == 2
    assert writer.running  # lingers for more kicks
    writer.close()
    assert not writer.running
    writer.kick()
    assert not writer.running and len(calls) == 2


def test_writer_stops_when_its_write_says_so():
    writer = EagerWriter(lambda: False)
    writer.kick()
    assert writer.wait_idle(5)
    assert writer.writes == 1 and not writer.running


@pytest.mark.parametrize("durability", ["interval", "none"])
def test_a_backlog_is_written_before_the_interval(tmp_path, durability):
    with shardstream.Engine(data_dir=tmp_path, durability=durability, flush_interval_ms=NEVER_MS) as engine:
        stream = engine.create_stream("s", 1)
        n = (EAGER_WRITE_BYTES // 100 // 10_000 + 2) * 10_000
        for first in range(0, n, 10_000):
            stream.put_batch(*records(10_000, first))
        assert stream.eager_writer.wait_idle(30)
        store = stream.store
        written = store.persisted(0) - 1
        assert written >= EAGER_WRITE_BYTES // 100 - 65_536  # all but what is left below the threshold
        # interval: each pass syncs what it wrote; none: written, never synced before the close
        assert store.durable(0, written) == (durability == "interval")
        assert store.segment_log(0).last_counter() == written
    with shardstream.Engine(data_dir=tmp_path) as engine:
        table = engine.stream("s").read_table()
        assert table.num_rows == n
        assert table.column("data").to_pylist()[-1] == b"%09d" % (n - 1) * 11


def test_small_puts_leave_the_writing_to_the_interval(tmp_path):
    with shardstream.Engine(data_dir=tmp_path, durability="interval", flush_interval_ms=NEVER_MS) as engine:
        stream = engine.create_stream("s", 1)
        stream.put_batch(*records(1_000))
        assert stream.eager_writer.writes == 0 and not stream.eager_writer.running
        assert stream.store.persisted(0) == 1


def test_sync_streams_have_no_eager_writer(tmp_path):
    with shardstream.Engine(data_dir=tmp_path, durability="sync") as engine:
        assert engine.create_stream("s", 1).eager_writer is None
