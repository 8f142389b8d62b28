"""Large flushes of several shards run at once (``storage.parallel``), and lose nothing when one fails."""

from __future__ import annotations

import errno
import os
import threading

import pytest

import shardstream
from shardstream.errors import StorageFullError
from shardstream.storage import SegmentIO
from shardstream.storage.parallel import run_each
from shardstream.storage.store import MESSAGE_MAX_ROWS

SHARDS = 3
PER_SHARD = MESSAGE_MAX_ROWS + 1500  # more than a small (natively encoded) run: the parallel path


# -- run_each ---------------------------------------------------------------------------------


def test_run_each_returns_results_in_order_and_runs_at_once():
    barrier = threading.Barrier(3, timeout=10)  # only passes if all three calls are running together

    def job(n):
        barrier.wait()
        return n * n

    assert run_each(job, [1, 2, 3]) == [1, 4, 9]


def test_run_each_finishes_every_call_before_raising_the_first_error():
    finished = []
    gate = threading.Event()

    def job(n):
        if n == 0:
            raise ValueError("first")
        if n == 1:
            gate.wait(10)  # still running when the first call failed
            finished.append(n)
            raise KeyError("second")
        gate.set()
        finished.append(n)
        return n

    with pytest.raises(ValueError, match="first"):
        run_each(job, [0, 1, 2])
    assert sorted(finished) == [1, 2]


def test_run_each_runs_what_a_busy_pool_has_not_started_on_the_caller():
    from shardstream.storage import parallel

    release = threading.Event()
    blockers = [parallel._shared_pool().submit(release.wait, 30) for _ in range(parallel.WORKERS)]
    try:
        done = []
        caller = threading.Thread(target=lambda: done.append(run_each(lambda n: (n, threading.get_ident()), [1, 2])))
        caller.start()
        caller.join(10)  # with every pool thread taken, the second call runs on the caller too
        assert done and [n for n, _ in done[0]] == [1, 2] and {t for _, t in done[0]} == {caller.ident}
    finally:
        release.set()
        for blocker in blockers:
            blocker.result()


def test_run_each_with_one_item_runs_it_here():
    assert run_each(lambda _: threading.current_thread(), ["x"]) == [threading.current_thread()]
    assert run_each(lambda x: x, []) == []


# -- the store ------------------------------------------------------------------------------------


def shard_of(fd: int) -> str:
    """The shard directory a segment file descriptor writes into."""
    return os.path.basename(os.path.dirname(os.readlink(f"/proc/self/fd/{fd}")))


class ShardIO(SegmentIO):
    """Notes which threads write which shard; ``fail`` names a shard whose writes fail with ENOSPC."""

    def __init__(self):
        self.fail: str | None = None
        self.writers: dict[str, set] = {}
        self.meet: threading.Barrier | None = None  # set: every shard's first write waits for the others

    def write(self, fd, buffers, offset):
        shard = shard_of(fd)
        first = shard not in self.writers
        self.writers.setdefault(shard, set()).add(threading.get_ident())
        if first and self.meet is not None:
            self.meet.wait()
        if shard == self.fail:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(fd, buffers, offset)


def fill(stream) -> list[bytes]:
    """Put ``PER_SHARD`` records on every shard (explicit hash keys); their payloads."""
    step = (1 << 128) // SHARDS
    payloads = [b"%08d" % n + b"x" * 200 for n in range(PER_SHARD * SHARDS)]
    hashes = [str(step * (n % SHARDS) + 1) for n in range(len(payloads))]
    stream.put_batch([f"k{n}" for n in range(len(payloads))], payloads, hashes)
    return payloads


def stored(data_dir) -> list[bytes]:
    with shardstream.Engine(data_dir=data_dir) as engine:
        return sorted(engine.stream("s").read_table().column("data").to_pylist())


def test_a_large_flush_writes_the_shards_on_several_threads(tmp_path):
    io = ShardIO()
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, durability="none", flush_interval_ms=600_000)
    stream = engine.create_stream("s", SHARDS)
    expected = fill(stream)
    io.writers.clear()
    io.meet = threading.Barrier(SHARDS, timeout=10)  # a serial flush would never get past the first write
    stream.flush()
    assert len(io.writers) == SHARDS
    assert len(set().union(*io.writers.values())) == SHARDS
    engine.close()
    assert stored(tmp_path) == sorted(expected)


def test_one_shard_failing_in_a_parallel_flush_loses_nothing(tmp_path):
    io = ShardIO()
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, durability="interval", flush_interval_ms=600_000)
    stream = engine.create_stream("s", SHARDS)
    expected = fill(stream)
    io.fail = "shardId-000000000001"
    with pytest.raises(StorageFullError):
        stream.flush()
    # the other shards are on disk, the failing one still in its ring: a read sees every record once
    assert sorted(stream.read_table().column("data").to_pylist()) == sorted(expected)
    assert stream.store.persisted(0) > PER_SHARD and stream.store.persisted(2) > PER_SHARD
    io.fail = None
    stream.flush()
    engine._crash()
    assert stored(tmp_path) == sorted(expected)
