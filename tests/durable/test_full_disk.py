"""A full disk: failed writes are rolled back, never acknowledged, never seen, never stored.

Two ways to fill a disk:

* :class:`FullDiskIO`, a :class:`~shardstream.storage.SegmentIO` handed to the
  engine (``segment_io=``), fails segment writes with ``ENOSPC`` on demand,
  after writing part of the batch (as a real full disk leaves a torn write).
  Runs everywhere.
* a real, small tmpfs mounted for the test (needs root; skipped otherwise),
  filled with a ballast file, with the engine in a child process
  (``full_disk_writer.py``) that is killed with SIGKILL, or a real server.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import shardstream
from shardstream._native import read_arrow_batch
from shardstream.errors import StorageError, StorageFullError
from shardstream.records import format_records
from shardstream.storage import SegmentIO
from shardstream.storage.segment import RESERVE_BYTES

from .full_disk_writer import identity, payload

WRITER = Path(__file__).with_name("full_disk_writer.py")


class FullDiskIO(SegmentIO):
    """Segment writes fail with ENOSPC while ``full`` is set, having written ``torn`` bytes first."""

    def __init__(self, torn: int = 100):
        self.full = False
        self.torn = torn
        self.failures = 0

    def write(self, fd, buffers, offset):
        if self.full:
            self.failures += 1
            data = b"".join(bytes(memoryview(b).cast("B")) for b in buffers)
            os.pwrite(fd, data[: self.torn], offset)  # a partial batch, as a real full disk leaves
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(fd, buffers, offset)


def stored_ids(stream) -> list[int]:
    """Every record id a read from disk and memory returns (sorted, duplicates kept)."""
    return sorted(identity(d) for d in stream.read_table().column("data").to_pylist())


def trim_horizon_ids(stream) -> list[int]:
    """Every record id GetRecords returns from TRIM_HORIZON, shard by shard."""
    ids = []
    for shard in stream.shards:
        it = stream.get_shard_iterator(shard.shard_id, "TRIM_HORIZON")["ShardIterator"]
        while it:
            got = stream.get_records(it, 10_000)
            ids += [identity(r["Data"]) for r in got["Records"]]
            if not got["Records"]:
                break
            it = got.get("NextShardIterator")
    return sorted(ids)


def test_storage_full_error_is_a_retryable_kinesis_error():
    from shardstream.errors import storage_error

    err = storage_error(OSError(errno.ENOSPC, "No space left on device"))
    assert isinstance(err, StorageFullError) and isinstance(err, OSError) and err.errno == errno.ENOSPC
    assert (err.error_type, err.http_status) == ("ServiceUnavailable", 503)
    assert err.to_dict() == {"__type": "ServiceUnavailable", "message": str(err)}
    assert "disk holding the data directory is full" in str(err) and "retry" in str(err)
    other = storage_error(OSError(errno.EIO, "Input/output error"))
    assert type(other) is StorageError and "Input/output error" in str(other)


def test_sync_failed_put_is_not_acknowledged_seen_or_stored_and_writes_resume(tmp_path):
    io = FullDiskIO()
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, max_segment_bytes=8192)
    stream = engine.create_stream("s", 2)
    acked = []
    for n in range(100):
        stream.put_record(payload(n), f"k{n}")
        acked.append(n)

    io.full = True
    with pytest.raises(StorageFullError, match="disk holding the data directory is full") as info:
        stream.put_record(payload(100), "k100")
    assert info.value.http_status == 503
    with pytest.raises(StorageFullError):
        stream.put_batch([f"k{n}" for n in range(101, 111)], [payload(n) for n in range(101, 111)])
    with pytest.raises(StorageFullError):
        stream.put_records([{"Data": payload(n), "PartitionKey": f"k{n}"} for n in range(111, 121)])
    assert io.failures >= 3
    # readers never see them, from memory or disk
    assert trim_horizon_ids(stream) == acked
    assert stored_ids(stream) == acked

    io.full = False  # space is back: the next put simply works
    for n in range(200, 250):
        stream.put_record(payload(n), f"k{n}")
        acked.append(n)
    stream.put_batch([f"k{n}" for n in range(250, 300)], [payload(n) for n in range(250, 300)])
    acked += range(250, 300)
    assert trim_horizon_ids(stream) == acked
    # sequence numbers stay unique and increasing per shard
    table = stream.read_table()
    for shard in set(table.column("shard_id").to_pylist()):
        seqs = [
            int(s)
            for s, sh in zip(table.column("sequence_number").to_pylist(), table.column("shard_id").to_pylist())
            if sh == shard
        ]
        assert seqs == sorted(set(seqs))
    engine.close()

    with shardstream.Engine(data_dir=tmp_path) as reopened:  # no CorruptSegmentError
        assert stored_ids(reopened.stream("s")) == acked
        assert trim_horizon_ids(reopened.stream("s")) == acked


def test_a_put_bigger_than_the_ring_that_fails_part_way_stores_nothing_under_sync(tmp_path):
    io = FullDiskIO()
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, shard_capacity_bytes=2 * 1024 * 1024)
    stream = engine.create_stream("s", 1)
    ids = range(3000)  # 3 MB: written in pieces of a quarter ring, the ring flushed between them
    io.full = True
    with pytest.raises(StorageFullError):
        stream.put_batch([f"k{n}" for n in ids], [payload(n) for n in ids])
    assert trim_horizon_ids(stream) == [] and stored_ids(stream) == []
    io.full = False
    stream.put_batch([f"k{n}" for n in ids], [payload(n) for n in ids])
    engine.close()
    with shardstream.Engine(data_dir=tmp_path) as reopened:
        assert stored_ids(reopened.stream("s")) == list(ids)


class HeldSyncIO(SegmentIO):
    """Each fsync waits for ``release``, then fails with ENOSPC if ``fail`` is set."""

    def __init__(self):
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail = False

    def fsync(self, fd):
        self.entered.set()
        assert self.release.wait(10)
        if self.fail:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super().fsync(fd)


def test_sync_records_are_never_visible_before_their_fsync_nor_after_it_failed(tmp_path):
    io = HeldSyncIO()
    io.release.set()
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io)
    stream = engine.create_stream("s", 1)
    stream.put_record(payload(0), "k")
    io.release.clear()
    io.entered.clear()
    outcome = []

    def put():
        try:
            stream.put_record(payload(1), "k")
        except StorageFullError as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    writer = threading.Thread(target=put)
    writer.start()
    assert io.entered.wait(10)  # record 1 is written to its segment; its fsync has not returned
    # the ring holds it but shows it to no reader (segment reads wait for the fsync meanwhile)
    batch, _, tail, _ = read_arrow_batch(stream.logs[0], 1, 100, 1 << 20, stream.now_ms())
    records = format_records(batch, wire=False)
    assert [identity(r["Data"]) for r in records] == [0] and stream.logs[0].tail == tail + 1
    io.fail = True
    io.release.set()
    writer.join(10)
    assert isinstance(outcome[0], StorageFullError)  # not acknowledged ...
    assert trim_horizon_ids(stream) == [0] and stored_ids(stream) == [0]  # ... never seen ...
    assert [identity(d) for b in stream.store.read(0, 1, 100, None, 0) for d in b.column("data").to_pylist()] == [0]
    io.fail = False
    stream.put_record(payload(2), "k")
    engine.close()
    with shardstream.Engine(data_dir=tmp_path) as reopened:
        assert stored_ids(reopened.stream("s")) == [0, 2]  # ... never stored


class BrokenDiskIO(FullDiskIO):
    """A disk that, once full, cannot even truncate: the store must stop acknowledging anything."""

    def truncate(self, fd, size):
        if self.full:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        super().truncate(fd, size)


def test_a_store_that_cannot_cut_back_a_failed_write_refuses_every_later_put(tmp_path):
    io = BrokenDiskIO()
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io)
    stream = engine.create_stream("s", 1)
    stream.put_record(payload(0), "k")
    io.full = True
    for n in range(1, 4):
        with pytest.raises(StorageError):
            stream.put_record(payload(n), "k")
    io.full = False  # even with space back: the files are in an unknown state until reopened
    with pytest.raises(StorageError):
        stream.put_record(payload(9), "k")
    assert trim_horizon_ids(stream) == [0]
    engine._crash()
    with shardstream.Engine(data_dir=tmp_path) as reopened:  # recovery cuts the torn tail
        stream = reopened.stream("s")
        assert stored_ids(stream) == [0]
        stream.put_record(payload(10), "k")
        assert stored_ids(stream) == [0, 10]


def test_the_servers_async_commit_answers_a_failed_put_with_its_error(tmp_path):
    """The path the HTTP server takes for PutRecord (nonblocking_puts + commit_async), full and broken disks."""
    from shardstream.durable import nonblocking_puts

    def put_async(stream, n):
        with nonblocking_puts() as pending:
            stream.put_record(payload(n), "k")
        answered = []
        done = threading.Event()
        pending[0].commit_async(lambda exc: (answered.append(exc), done.set()))
        assert done.wait(10)
        return answered[0]

    for io in (FullDiskIO(), BrokenDiskIO()):
        path = tmp_path / type(io).__name__
        with shardstream.Engine(data_dir=path, segment_io=io) as engine:
            stream = engine.create_stream("s", 1)
            assert put_async(stream, 0) is None
            io.full = True
            assert isinstance(put_async(stream, 1), StorageError)
            assert isinstance(put_async(stream, 2), StorageError)
            io.full = False
            outcome = put_async(stream, 3)
            if type(io) is FullDiskIO:  # writes resume
                assert outcome is None
            else:  # files in an unknown state: nothing is acknowledged until a reopen recovers them
                assert isinstance(outcome, StorageError)
            assert trim_horizon_ids(stream) == ([0, 3] if outcome is None else [0])


def test_sync_crash_after_a_full_disk_keeps_exactly_the_acknowledged(tmp_path):
    io = FullDiskIO(torn=5000)
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, max_segment_bytes=8192)
    stream = engine.create_stream("s", 1)
    acked, failed = [], []
    for n in range(300):
        io.full = 100 <= n < 150
        try:
            stream.put_record(payload(n), "k")
        except StorageFullError:
            failed.append(n)
        else:
            acked.append(n)
    assert failed == list(range(100, 150))
    engine._crash()  # as SIGKILL: nothing flushed, nothing sealed
    with shardstream.Engine(data_dir=tmp_path) as reopened:
        assert stored_ids(reopened.stream("s")) == acked


def test_concurrent_sync_writers_on_a_flapping_disk(tmp_path):
    """Whatever the interleaving: every acknowledged record stored once, no failed one stored."""
    io = FullDiskIO()
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, max_segment_bytes=16384)
    stream = engine.create_stream("s", 3)
    acked, failed = [], []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        for i in range(150):
            n = w * 10_000 + i * 10
            ids = [n] if i % 3 else [n + j for j in range(6)]  # PutRecords over the three shards
            try:
                if i % 3:
                    stream.put_record(payload(n), f"k{n}")
                    answers = [{"SequenceNumber": "acked"}]
                else:
                    entries = [{"Data": payload(m), "PartitionKey": f"k{m}"} for m in ids]
                    answers = stream.put_records(entries)["Records"]
            except StorageFullError:
                answers = [{"ErrorCode": "InternalFailure"}] * len(ids)
            with lock:
                # a PutRecords a failed commit cut in two answers entry by entry (often, not always: timing;
                # test_a_put_cut_in_two_by_a_full_disk_answers_entry_by_entry makes it happen every time)
                for m, answer in zip(ids, answers):
                    if "SequenceNumber" in answer:
                        acked.append(m)
                    else:
                        assert answer["ErrorCode"] == "InternalFailure"
                        failed.append(m)

    def flapper():
        while not stop.is_set():
            io.full = not io.full
            time.sleep(0.002)
        io.full = False

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    flap = threading.Thread(target=flapper)
    flap.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    flap.join()
    assert acked and failed, "the disk should have been full for some puts and not for others"
    assert stored_ids(stream) == sorted(acked)
    engine._crash()
    with shardstream.Engine(data_dir=tmp_path) as reopened:
        assert stored_ids(reopened.stream("s")) == sorted(acked)


class QuotaIO(SegmentIO):
    """A disk with ``budget`` bytes left: a write that would pass it fails with ENOSPC (writing nothing)."""

    def __init__(self, budget: int):
        self.budget = budget

    def write(self, fd, buffers, offset):
        size = sum(memoryview(b).nbytes for b in buffers)
        if size > self.budget:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.budget -= size
        return super().write(fd, buffers, offset)


def test_interval_flush_on_a_nearly_full_disk_writes_what_still_fits(tmp_path):
    io = QuotaIO(budget=1 << 30)
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, durability="interval", flush_interval_ms=60_000)
    stream = engine.create_stream("s", 1)
    stream.put_batch([f"k{n}" for n in range(1000)], [payload(n) for n in range(1000)])  # ~1 MB, one batch
    io.budget = 300_000
    with pytest.raises(StorageFullError):
        stream.flush()
    engine._crash()
    with shardstream.Engine(data_dir=tmp_path) as reopened:
        stored = stored_ids(reopened.stream("s"))
    assert 200 < len(stored) < 300 and stored == list(range(len(stored)))  # what fitted, in order


def test_interval_puts_push_back_while_flushes_fail_and_reads_go_on(tmp_path):
    io = FullDiskIO()
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, durability="interval", flush_interval_ms=20)
    stream = engine.create_stream("s", 2)
    stream.put_batch([f"k{n}" for n in range(100)], [payload(n) for n in range(100)])
    acked = list(range(100))
    stream.flush()
    io.full = True
    stream.put_batch([f"k{n}" for n in range(100, 200)], [payload(n) for n in range(100, 200)])
    acked += range(100, 200)  # acknowledged before the failing flush: the one interval at risk
    deadline = time.monotonic() + 10
    refused = None
    n = 200
    while refused is None and time.monotonic() < deadline:
        try:
            stream.put_record(payload(n), f"k{n}")
        except StorageFullError as exc:
            refused = exc
        else:
            acked.append(n)
            n += 1
            time.sleep(0.002)
    assert refused is not None and "disk holding the data directory is full" in str(refused)
    for _ in range(5):  # and it stays refused while the disk is full
        time.sleep(0.03)
        with pytest.raises(StorageFullError):
            stream.put_record(b"refused", "k")
    assert trim_horizon_ids(stream) == acked  # reads go on (disk, then memory)
    io.full = False  # the background thread retries each interval: puts resume by themselves
    deadline = time.monotonic() + 10
    while True:
        try:
            stream.put_record(payload(5000), "k")
            acked.append(5000)
            break
        except StorageFullError:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    engine.close()
    with shardstream.Engine(data_dir=tmp_path) as reopened:
        assert stored_ids(reopened.stream("s")) == sorted(acked)


# -- a real full disk: a small tmpfs ------------------------------------------------


def _mount_tmpfs(directory: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` on ``directory``; the reason if that is impossible."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root (the injected-ENOSPC tests above cover the logic)"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], capture_output=True, text=True
    )
    if done.returncode:
        return f"cannot mount a tmpfs: {done.stderr.strip()}"
    return None


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (unmounted afterwards)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    reason = _mount_tmpfs(mnt, "4m")
    if reason:
        pytest.skip(reason)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` with a ballast file to the last byte, then give back ``leave`` bytes."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        chunk = 1 << 16
        while chunk:
            try:
                os.write(fd, b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                chunk //= 2
        if leave:
            os.ftruncate(fd, max(os.fstat(fd).st_size - leave, 0))
    finally:
        os.close(fd)
    return ballast


class Writer:
    """``full_disk_writer.py`` in a child process, driven line by line."""

    def __init__(self, data_dir: Path, durability: str = "sync", interval_ms: int = 200):
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(data_dir), durability, str(interval_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(WRITER.parents[2] / "src")},
        )
        self.acked: dict[int, float] = {}
        self.failed: dict[int, str] = {}
        self.failed_at: list[float] = []
        self.lines: list[str] = []
        assert self._read_until("ready")

    def _read_until(self, word: str) -> bool:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line == word:
                return True
            kind, _, rest = line.partition(" ")
            if kind == "A":
                n, when = rest.split()
                self.acked[int(n)] = float(when)
            elif kind == "F":
                n, when, message = rest.split(" ", 2)
                self.failed[int(n)] = message
                self.failed_at.append(float(when))
            else:
                self.lines.append(line)
        raise AssertionError(f"writer exited ({self.proc.wait()}): {self.proc.stderr.read()}")

    def run(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        self._read_until("closed" if command == "close" else "done")

    def kill(self) -> None:
        """SIGKILL (if still running); the pipes closed."""
        self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except OSError:  # stdin to a killed process: a broken pipe
                pass


def test_tmpfs_sync_fill_free_then_sigkill_keeps_every_acknowledged_record(small_disk):
    data = small_disk / "data"
    writer = Writer(data)
    try:
        ballast = fill(small_disk, leave=600_000)
        writer.run("put 0 1500")  # ~1 MB of records into ~0.6 MB: the disk fills up
        assert writer.failed and writer.acked, "some puts should have fitted and some not"
        first_failure = min(writer.failed)
        assert "ServiceUnavailable The disk holding the data directory is full" in writer.failed[first_failure]
        writer.run("records 1500 100")  # refused whole: nothing of it stored
        assert all(n in writer.failed for n in range(1500, 1600))
        ballast.unlink()  # space is back
        writer.run("put 2000 400")
        writer.run("records 2400 100")
        assert all(n in writer.acked for n in range(2000, 2500)), "500 acknowledged records after freeing space"
    finally:
        writer.kill()  # SIGKILL
    with shardstream.Engine(data_dir=data) as engine:
        ids = stored_ids(engine.stream("full"))
    assert ids == sorted(writer.acked)  # each acknowledged record exactly once, no failed one


def test_tmpfs_sync_fill_free_then_clean_close_reopens(small_disk):
    data = small_disk / "data"
    writer = Writer(data)
    try:
        ballast = fill(small_disk, leave=300_000)
        writer.run("put 0 800")
        assert writer.failed
        ballast.unlink()
        writer.run("put 1000 500")
        assert all(n in writer.acked for n in range(1000, 1500))
        writer.run("close")
    finally:
        writer.kill()
    with shardstream.Engine(data_dir=data) as engine:  # no CorruptSegmentError
        assert stored_ids(engine.stream("full")) == sorted(writer.acked)


def test_tmpfs_reopen_on_a_completely_full_disk(small_disk):
    data = small_disk / "data"
    with shardstream.Engine(data_dir=data, max_segment_bytes=64 * 1024) as engine:
        stream = engine.create_stream("full", 2)
        stream.put_batch([f"k{n}" for n in range(1000)], [payload(n) for n in range(1000)])
    fill(small_disk)
    for _ in range(2):  # reopen and close twice, the disk 100 % full
        with shardstream.Engine(data_dir=data) as engine:
            assert stored_ids(engine.stream("full")) == list(range(1000))
            with pytest.raises(StorageFullError):
                engine.stream("full").put_record(b"no room", "k")
    # and after a crash with the disk full: recovery needs no space either
    writer = Writer(data)
    writer.kill()
    with shardstream.Engine(data_dir=data) as engine:
        assert stored_ids(engine.stream("full")) == list(range(1000))


def test_tmpfs_interval_pushes_back_keeps_reading_and_loses_at_most_an_interval(small_disk):
    data = small_disk / "data"
    interval_ms = 50
    writer = Writer(data, "interval", interval_ms)
    try:
        fill(small_disk, leave=400_000)
        writer.run("flood 0 100 2.5")  # 100 records (100 KB) every 10 ms: 25 MB offered to 0.4 MB of disk
        refusals = [m for m in writer.failed.values() if "disk holding the data directory is full" in m]
        assert refusals, "puts should have been refused once the background flush failed"
        acked = sorted(writer.acked)
        assert 0 < len(acked) < 3000, len(acked)  # not the whole flood: pushed back
        rss_kib = int(next(line for line in writer.lines if line.startswith("M ")).split()[1])
        # memory stays bounded: the refused 25 MB never entered (importing pyarrow alone takes ~120 MB)
        assert rss_kib < 250 * 1024, rss_kib
        read = int(next(line for line in writer.lines if line.startswith("G ")).split()[1])
        assert read == len(acked)  # GetRecords from TRIM_HORIZON works, from disk and memory
    finally:
        writer.kill()  # SIGKILL, the disk still full
    with shardstream.Engine(data_dir=data) as engine:  # reopens on the full disk
        stored = stored_ids(engine.stream("full"))
    assert len(stored) == len(set(stored)) and set(stored) <= set(acked)
    lost = sorted(set(acked) - set(stored))
    # what is lost was acknowledged during the last interval(s) before the pushback began
    first_refusal = min(writer.failed_at)
    assert all(writer.acked[n] >= first_refusal - 4 * interval_ms / 1000 for n in lost), (len(lost), len(acked))


def test_server_on_a_full_tmpfs_answers_503_then_keeps_every_acknowledged_record(small_disk):
    from botocore.exceptions import ClientError
    from serve_process import ServeProcess

    from shardstream.testing import boto3_client

    acked: dict[str, bytes] = {}
    with ServeProcess("--data-dir", str(small_disk / "data"), "--durability", "sync") as server:
        kinesis = boto3_client(server.url())  # retries off
        kinesis.create_stream(StreamName="s", ShardCount=2)
        for i in range(20):
            kinesis.put_record(StreamName="s", Data=b"before-%d" % i, PartitionKey=f"k{i}")
            acked[f"before-{i}"] = b""
        # (a small record might still fit in a segment's last page or its zero reserve: a big one)
        ballast = fill(small_disk)
        with pytest.raises(ClientError) as info:
            kinesis.put_record(StreamName="s", Data=b"refused-0" + b"x" * (RESERVE_BYTES + 100_000), PartitionKey="k")
        error = info.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert error["Error"]["Code"] == "ServiceUnavailable"
        assert "disk holding the data directory is full" in error["Error"]["Message"]
        with pytest.raises(ClientError) as info:
            kinesis.put_records(
                StreamName="s",
                Records=[{"Data": b"refused-%d" % i + b"x" * 20_000, "PartitionKey": f"k{i}"} for i in range(1, 50)],
            )
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "disk holding the data directory is full" in info.value.response["Error"]["Message"]
        ballast.unlink()
        for i in range(500):
            kinesis.put_record(StreamName="s", Data=b"after-%d" % i, PartitionKey=f"k{i}")
            acked[f"after-{i}"] = b""
        entries = [{"Data": b"batch-%d" % i, "PartitionKey": f"k{i}"} for i in range(100)]
        assert kinesis.put_records(StreamName="s", Records=entries)["FailedRecordCount"] == 0
        acked.update({f"batch-{i}": b"" for i in range(100)})
        server.kill()  # SIGKILL
    with shardstream.Engine(data_dir=small_disk / "data" / "us-east-1") as engine:
        stored = [d.decode() for d in engine.stream("s").read_table().column("data").to_pylist()]
    assert sorted(stored) == sorted(acked)  # 620 acknowledged, each once; no refused record


def test_a_put_cut_in_two_by_a_full_disk_answers_entry_by_entry(tmp_path):
    """A put bigger than the ring goes in pieces, the full ring synced between them: when the disk fills
    after some pieces are durable, PutRecords answers each entry (InternalFailure for the rest), and
    put_batch's error names the records that were kept; a retry of the failed ones stores each once."""
    big = b"x" * 9_000

    def entries(ids):
        return [{"Data": b"%d:" % n + big, "PartitionKey": "k"} for n in ids]  # one shard: pieces in order

    io = QuotaIO(budget=3 * 1024 * 1024)
    engine = shardstream.Engine(data_dir=tmp_path, segment_io=io, shard_capacity_bytes=2 * 1024 * 1024)
    stream = engine.create_stream("s", 1)
    answer = stream.put_records(entries(range(500)))  # 4.5 MB: the first pieces fit, the last do not
    stored = [n for n, e in zip(range(500), answer["Records"]) if "SequenceNumber" in e]
    failed = [n for n, e in zip(range(500), answer["Records"]) if "ErrorCode" in e]
    assert stored and failed and answer["FailedRecordCount"] == len(failed)
    assert stored == list(range(len(stored)))  # the pieces before the failure, in order
    assert {e["ErrorCode"] for e in answer["Records"] if "ErrorCode" in e} == {"InternalFailure"}
    assert all("disk holding the data directory is full" in e["ErrorMessage"] for e in answer["Records"][-3:])
    assert stored_ids(stream) == stored == trim_horizon_ids(stream)

    io.budget = 3 * 1024 * 1024  # some space again: put_batch is cut in two the same way
    batch = range(1000, 1500)
    with pytest.raises(StorageFullError) as caught:
        stream.put_batch(["k"] * 500, [b"%d:" % n + big for n in batch])
    kept = caught.value.records  # (shard_id, sequence_number) of each record kept, None for the others
    assert len(kept) == 500 and kept[0] is not None and kept[-1] is None
    kept_ids = [n for n, k in zip(batch, kept) if k is not None]
    assert f"({len(kept_ids)} of the 500 records had been stored by then)" in caught.value.message
    assert stored_ids(stream) == sorted(stored + kept_ids)
    seqs = stream.read_table().column("sequence_number").to_pylist()
    assert [k[1] for k in kept if k is not None] == seqs[len(stored) :]

    io.budget = 1 << 40  # space is back: retry only what failed
    assert stream.put_records(entries(failed))["FailedRecordCount"] == 0
    retry = [n for n, k in zip(batch, kept) if k is None]
    stream.put_batch(["k"] * len(retry), [b"%d:" % n + big for n in retry])
    engine.close()
    with shardstream.Engine(data_dir=tmp_path) as reopened:
        assert stored_ids(reopened.stream("s")) == [*range(500), *batch]  # each record once
