"""Backups of live data directories (``shardstream.backup``/``restore``), with real files and real processes.

The writer process is ``backup_writer.py`` (see its docstring): under ``durability="sync"``
it prints ``A <n> <shard id> <sequence number>`` for a record only after the put that
stored it returned, i.e. once it is written and ``fsync``-ed; every such line read before
the backup began names a durably acknowledged record.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from serve_process import ServeProcess

import shardstream
from shardstream.storage import CorruptBackupError, CorruptSegmentError, SegmentLog
from shardstream.storage.backup_manifest import MANIFEST_FILE, load_manifest
from shardstream.storage.fileio import SYSTEM_IO
from shardstream.storage.format import EOS_MARKER, SEGMENT_NAME_RE, STORED_SCHEMA
from shardstream.storage.recovery import recover_segments
from shardstream.testing import boto3_client

WRITER = Path(__file__).with_name("backup_writer.py")
STREAM = "live"  # the writer's stream


class WriterProcess:
    """``backup_writer.py`` running; its acknowledged records as read so far."""

    def __init__(self, data_dir: Path, durability: str = "sync"):
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(data_dir), durability],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._lock = threading.Lock()
        self._acked: list[tuple[int, str, str]] = []
        self._durable = 0  # how many of them are known durable (all under "sync"; up to the last F line else)
        self._sync = durability == "sync"
        self._ready = threading.Event()
        self._grew = threading.Condition(self._lock)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        pending = b""
        while chunk := self.proc.stdout.read1(1 << 16):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            with self._lock:
                for line in lines:
                    kind, *fields = line.decode().split(" ")
                    if kind == "A":
                        self._acked.append((int(fields[0]), fields[1], fields[2]))
                        if self._sync:
                            self._durable = len(self._acked)
                    elif kind == "F":
                        self._durable = len(self._acked)
                    elif kind == "ready":
                        self._ready.set()
                self._grew.notify_all()
        with self._lock:
            self._grew.notify_all()

    def acked_once(self, count: int, timeout: float = 60) -> tuple[list, int]:
        """The acknowledged records read so far, once at least ``count`` are durable, and how many are."""
        with self._lock:
            ok = self._grew.wait_for(lambda: self._durable >= count or self.proc.poll() is not None, timeout)
            assert ok and self.proc.poll() is None, f"the writer stopped: {self.proc.stderr.read().decode()}"
            return list(self._acked), self._durable

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        self._reader.join(timeout=60)
        self.proc.stdout.close()
        self.proc.stderr.close()


def stored_records(data_dir: Path) -> dict[str, list[tuple[int, str]]]:
    """Per shard id, ``(n, sequence number)`` of every record, in the shard's order."""
    by_shard = collections.defaultdict(list)
    with shardstream.Engine(data_dir=data_dir) as opened:
        table = opened.stream(STREAM).read_table()
    for sid, seq, data in zip(
        table.column("shard_id").to_pylist(),
        table.column("sequence_number").to_pylist(),
        table.column("data").to_pylist(),
    ):
        by_shard[sid].append((int(data.split(b":", 2)[1]), seq))
    return by_shard


def write_segments(data_dir: Path, records: int = 300, *, close: bool = True):
    """A durable engine with two shards of several 4 KiB segments each (closed unless ``close`` is False)."""
    opened = shardstream.Engine(data_dir=data_dir, max_segment_bytes=4096)
    stream_ = opened.create_stream("s", shard_count=2)
    for i in range(records):
        stream_.put_record(b"r%05d" % i + b"." * 100, f"k{i}")
    if close:
        opened.close()
    return opened


def segment_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.arrows") if SEGMENT_NAME_RE.fullmatch(p.name))


# -- a live writer ----------------------------------------------------------------------


@pytest.mark.parametrize("durability", ["sync", "interval"])
def test_backup_of_a_live_writer_holds_every_acknowledged_record(tmp_path, durability):
    writer = WriterProcess(tmp_path / "live", durability)
    try:
        acked, durable = writer.acked_once(3000)
        acked_before = acked[:durable]  # acknowledged durably before the backup began
        manifest = shardstream.backup(tmp_path / "live", tmp_path / "saved")
        acked_during, _ = writer.acked_once(durable + 1)  # the writer went on meanwhile
    finally:
        writer.stop()
    assert len(acked_during) > len(acked_before)
    assert manifest.linked_files > 0  # segments rolled (128 KiB) and were shared, not copied

    shardstream.restore(tmp_path / "saved", tmp_path / "restored")
    stored = stored_records(tmp_path / "restored")
    where = {n: (sid, seq) for sid, rows in stored.items() for n, seq in rows}
    missing = [a for a in acked_before if where.get(a[0]) != (a[1], a[2])]
    assert not missing, f"{len(missing)} acknowledged records are not in the backup, e.g. {missing[:3]}"
    for sid, rows in stored.items():
        # The writer's one thread puts in order: a shard's records in sequence order have increasing n.
        assert [n for n, _ in rows] == sorted(n for n, _ in rows), sid
        seqs = [int(seq) for _, seq in rows]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), sid
        # Per shard, the backup is a prefix of what the writer stored: nothing after a gap.
        acked_here = [n for n, s, _ in acked_during if s == sid]
        kept = {n for n, _ in rows}
        first_missing = next((i for i, n in enumerate(acked_here) if n not in kept), len(acked_here))
        assert not kept & set(acked_here[first_missing:]), f"{sid} has a hole"

    with shardstream.Engine(data_dir=tmp_path / "restored") as reopened:
        again = reopened.stream(STREAM)
        before = again.read_table().num_rows
        answer = again.put_record(b"rec:-1:", "pk")
        assert int(answer["SequenceNumber"]) > max(int(seq) for _, seq in stored[answer["ShardId"]])
        assert again.read_table().num_rows == before + 1


# -- what a backup is made of -------------------------------------------------------------


def test_sealed_segments_are_hard_links_and_every_tail_is_sealed(tmp_path):
    write_segments(tmp_path / "src")
    manifest = shardstream.backup(tmp_path / "src", tmp_path / "saved")
    source_segments = segment_files(tmp_path / "src")
    assert len(source_segments) > 6
    newest = {max(p for p in source_segments if p.parent == d) for d in {p.parent for p in source_segments}}
    for path in source_segments:
        copy = tmp_path / "saved" / path.relative_to(tmp_path / "src")
        same = os.stat(copy).st_ino == os.stat(path).st_ino
        assert same == (path not in newest), path  # sealed ones shared, each shard's newest copied
    assert manifest.linked_files == len(source_segments) - len(newest)
    assert {f.path for f in manifest.files if f.linked} == {
        str(p.relative_to(tmp_path / "src")) for p in source_segments if p not in newest
    }
    doc = json.loads((tmp_path / "saved" / MANIFEST_FILE).read_text())
    assert doc["format"] == "shardstream-backup" and doc["version"] == 1
    assert not json.loads((tmp_path / "saved" / "engine.json").read_text())["clean"]
    assert not (tmp_path / "saved" / "LOCK").exists()

    shardstream.restore(tmp_path / "saved", tmp_path / "restored")
    for shard in (tmp_path / "restored").rglob("shardId-*"):
        log = SegmentLog(shard, expect_sealed=True)  # a clean close's state: every segment sealed
        assert log.recovery.truncated_bytes == 0 and not log.recovery.removed_paths
        log.close()


def test_backup_of_an_open_engine_cuts_its_tails_at_the_last_complete_batch(tmp_path):
    opened = write_segments(tmp_path / "src", close=False)
    try:
        tail = max(p for p in segment_files(tmp_path / "src") if p.parent.name.endswith("0"))
        recovered = recover_segments(
            tail.parent, STORED_SCHEMA, readonly=True, verify_sealed=True, expect_sealed=False, io=SYSTEM_IO
        )
        end = recovered.tail_limit[1]
        with open(tail, "r+b") as f:  # a batch being written where the writer writes: half a message
            f.seek(end)
            f.write(b"\xff\xff\xff\xff\x40\x00\x00\x00" + b"\x01" * 20)
        shardstream.backup(tmp_path / "src", tmp_path / "saved")
    finally:
        opened.close()
    copy = tmp_path / "saved" / tail.relative_to(tmp_path / "src")
    assert copy.stat().st_size == end + len(EOS_MARKER)
    assert copy.read_bytes()[-len(EOS_MARKER) :] == EOS_MARKER
    shardstream.restore(tmp_path / "saved", tmp_path / "restored")
    with shardstream.Engine(data_dir=tmp_path / "restored") as reopened:
        data = reopened.stream("s").read_table().column("data").to_pylist()
    assert sorted(d[:6] for d in data) == [b"r%05d" % i for i in range(300)]


def test_copies_where_hard_links_cannot_be_made(tmp_path):
    other = Path("/dev/shm")  # a tmpfs: another file system than the test's temporary directory, usually
    if not other.is_dir() or not os.access(other, os.W_OK) or os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system to back up to")
    write_segments(tmp_path / "src", records=60)
    dest = Path(tempfile.mkdtemp(dir=other, prefix="shardstream-backup-"))
    try:
        manifest = shardstream.backup(tmp_path / "src", dest)
        assert manifest.linked_files == 0 and len(segment_files(dest)) == len(segment_files(tmp_path / "src"))
        shardstream.restore(dest, tmp_path / "restored")
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    with shardstream.Engine(data_dir=tmp_path / "restored") as reopened:
        assert reopened.stream("s").read_table().num_rows == 60


def test_a_servers_data_directory_one_engine_per_region(tmp_path):
    for region in ("us-east-1", "eu-west-1"):
        with shardstream.Engine(data_dir=tmp_path / "served" / region, region=region) as opened:
            opened.create_stream(f"in-{region}", shard_count=1).put_record(b"x", "k")
    shardstream.backup(tmp_path / "served", tmp_path / "saved")
    shardstream.restore(tmp_path / "saved", tmp_path / "restored")
    for region in ("us-east-1", "eu-west-1"):
        with shardstream.Engine(data_dir=tmp_path / "restored" / region, region=region) as reopened:
            assert reopened.stream(f"in-{region}").read_table().column("data").to_pylist() == [b"x"]


# -- refusals ---------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path) -> Path:
    write_segments(tmp_path / "src", records=60)
    shardstream.backup(tmp_path / "src", tmp_path / "saved")
    return tmp_path / "saved"


def test_a_damaged_backup_is_refused_and_nothing_is_restored(saved, tmp_path):
    copied = next(f for f in load_manifest(saved).files if not f.linked and f.path.endswith(".arrows"))
    with open(saved / copied.path, "r+b") as f:  # a copy, not a link: the source stays intact
        f.seek(copied.size // 2)
        byte = f.read(1)
        f.seek(copied.size // 2)
        f.write(bytes([byte[0] ^ 0x01]))
    with pytest.raises(CorruptBackupError, match="fails its SHA-256 check"):
        shardstream.restore(saved, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".restored")]


def test_an_incomplete_backup_is_refused(saved, tmp_path):
    (saved / "engine.json").unlink()
    with pytest.raises(CorruptBackupError, match="engine.json is missing"):
        shardstream.restore(saved, tmp_path / "restored")
    (saved / MANIFEST_FILE).unlink()  # a backup cut short never wrote its manifest
    with pytest.raises(CorruptBackupError, match="not a complete backup"):
        shardstream.restore(saved, tmp_path / "restored")
    assert not (tmp_path / "restored").exists()


def test_a_non_empty_target_is_refused_and_left_alone(saved, tmp_path):
    target = tmp_path / "restored"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty directory"):
        shardstream.restore(saved, target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    shardstream.restore(saved, empty)  # an empty directory is fine (filled from inside: it may be a mount point)
    assert sorted(p.name for p in empty.iterdir()) == ["engine.json", "streams"]
    with shardstream.Engine(data_dir=empty) as reopened:
        assert reopened.stream("s").read_table().num_rows == 60


def test_backup_refuses_a_non_empty_destination_or_one_inside_the_source(saved, tmp_path):
    with pytest.raises(FileExistsError):
        shardstream.backup(tmp_path / "src", saved)
    with pytest.raises(ValueError, match="inside the data directory"):
        shardstream.backup(tmp_path / "src", tmp_path / "src" / "backup")
    with pytest.raises(ValueError, match="not a shardstream data directory"):
        shardstream.backup(tmp_path / "saved" / "streams", tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


# -- the command line -------------------------------------------------------------------------


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shardstream", *map(str, args)], capture_output=True, text=True)


def test_cli_backup_and_restore(tmp_path):
    write_segments(tmp_path / "src", records=60)
    done = run_cli("backup", tmp_path / "src", tmp_path / "saved")
    assert done.returncode == 0, done.stderr
    assert "hard-linked" in done.stdout and (tmp_path / "saved" / MANIFEST_FILE).is_file()
    done = run_cli("restore", tmp_path / "saved", tmp_path / "restored")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Restored ")
    with shardstream.Engine(data_dir=tmp_path / "restored") as reopened:
        assert reopened.stream("s").read_table().num_rows == 60
    refused = run_cli("restore", tmp_path / "saved", tmp_path / "restored")
    assert refused.returncode == 1 and refused.stderr.startswith("Error: ") and "not an empty" in refused.stderr
    (tmp_path / "saved" / MANIFEST_FILE).unlink()
    refused = run_cli("restore", tmp_path / "saved", tmp_path / "again")
    assert refused.returncode == 1 and "not a complete backup" in refused.stderr
    assert not (tmp_path / "again").exists()


# -- a running server, with a queue -------------------------------------------------------------


def test_backup_of_a_running_server_keeps_its_records_and_its_queue_state(tmp_path):
    data_dir = tmp_path / "served"
    lock = threading.Lock()
    put_acked: list[bytes] = []  # records whose PutRecords answered success
    queue_acked: list[bytes] = []  # records whose acknowledgement answered success
    stop = threading.Event()
    with ServeProcess("--data-dir", str(data_dir), "--durability", "sync") as server:
        kinesis = boto3_client(server.url())
        kinesis.create_stream(StreamName="jobs", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        stream_arn = kinesis.describe_stream_summary(StreamName="jobs")["StreamDescriptionSummary"]["StreamARN"]
        config = [{"StreamARN": stream_arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
        queue_arn = kinesis.create_queue(QueueName="work", StreamConfigurationList=config)["QueueDescription"][
            "QueueARN"
        ]

        def produce():
            client, start = boto3_client(server.url()), 0
            while not stop.is_set():
                entries = [{"Data": b"r%06d" % i, "PartitionKey": f"k{i}"} for i in range(start, start + 50)]
                assert client.put_records(StreamName="jobs", Records=entries)["FailedRecordCount"] == 0
                with lock:
                    put_acked.extend(e["Data"] for e in entries)
                start += 50

        def consume():
            client = boto3_client(server.url())
            while not stop.is_set():
                got = client.receive_queue_records(QueueARN=queue_arn, Limit=10, WaitTimeSeconds=1)["QueueRecords"]
                if got:
                    handles = [{"ReceiptHandle": r["ReceiptHandle"]} for r in got]
                    answer = client.acknowledge_queue_records(QueueARN=queue_arn, Entries=handles)
                    ok = {e["ReceiptHandle"] for e in answer["Successful"]}
                    with lock:
                        queue_acked.extend(r["Data"] for r in got if r["ReceiptHandle"] in ok)

        threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
        for t in threads:
            t.start()
        try:
            while True:
                with lock:
                    if len(put_acked) >= 1000 and len(queue_acked) >= 100:
                        puts_before, acks_before = list(put_acked), set(queue_acked)
                        break
                assert all(t.is_alive() for t in threads)
                stop.wait(0.01)
            shardstream.backup(data_dir, tmp_path / "saved")
        finally:
            stop.set()
            for t in threads:
                t.join()

    shardstream.restore(tmp_path / "saved", tmp_path / "restored")
    with shardstream.Engine(data_dir=tmp_path / "restored" / "us-east-1") as reopened:
        jobs = reopened.stream("jobs")
        stored = jobs.read_table().column("data").to_pylist()
        assert set(puts_before) <= set(stored)
        delivered = []
        while got := reopened.receive_queue_records(queue_arn, limit=10, wait_time_seconds=1)["QueueRecords"]:
            delivered.extend(r["Data"] for r in got)
        assert delivered and not acks_before & set(delivered)  # nothing acknowledged before the backup comes back
        assert set(stored) - set(queue_acked) <= set(delivered)  # nor is anything never acknowledged lost
        jobs.put_record(b"after-restore", "k")
        assert jobs.read_table().num_rows == len(stored) + 1


def test_an_sqlite_lease_table_beside_the_streams_is_copied_consistently(tmp_path):
    write_segments(tmp_path / "src", records=10)
    live = sqlite3.connect(tmp_path / "src" / "leases.db")
    try:
        live.execute("pragma journal_mode=wal")
        live.execute("create table leases (shard text, checkpoint text)")
        with live:
            live.executemany("insert into leases values (?, ?)", [(f"s{i}", str(i)) for i in range(100)])
        assert (tmp_path / "src" / "leases.db-wal").stat().st_size > 0  # the rows are in the WAL only
        manifest = shardstream.backup(tmp_path / "src", tmp_path / "saved")
    finally:
        live.close()
    assert not [f for f in manifest.files if f.path.endswith("-wal")]
    shardstream.restore(tmp_path / "saved", tmp_path / "restored")
    copy = sqlite3.connect(tmp_path / "restored" / "leases.db")
    try:
        assert copy.execute("select count(*) from leases").fetchone()[0] == 100
    finally:
        copy.close()


def test_a_damaged_sealed_segment_fails_the_backup_and_leaves_no_backup(tmp_path):
    write_segments(tmp_path / "src", records=60)
    sealed = segment_files(tmp_path / "src")[0]  # the oldest of a shard: sealed
    size = sealed.stat().st_size
    with open(sealed, "r+b") as f:  # one bit of a record's data: framing intact, CRC-32 wrong
        f.seek(size - 40)
        byte = f.read(1)
        f.seek(size - 40)
        f.write(bytes([byte[0] ^ 0x01]))
    shardstream.backup(tmp_path / "src", tmp_path / "framing-only")  # by default only the framing is checked
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorruptSegmentError, match="CRC-32 mismatch") as raised:
        shardstream.backup(tmp_path / "src", tmp_path / "empty", verify=True)
    assert raised.value.path == str(sealed)  # the data directory's file, not the removed backup's
    with pytest.raises(CorruptSegmentError):
        shardstream.backup(tmp_path / "src", tmp_path / "new", verify=True)
    assert list((tmp_path / "empty").iterdir()) == [] and not (tmp_path / "new").exists()


def test_backups_while_streams_are_deleted_recreated_and_resharded(tmp_path):
    churn = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("churn_writer.py")), str(tmp_path / "live")],
        stdout=subprocess.PIPE,
    )
    restored_streams = 0
    try:
        assert churn.stdout.readline() == b"ready\n"
        for k in range(6):
            shardstream.backup(tmp_path / "live", tmp_path / f"saved{k}")
            shardstream.restore(tmp_path / f"saved{k}", tmp_path / f"restored{k}")
            with shardstream.Engine(data_dir=tmp_path / f"restored{k}") as reopened:
                for name in reopened.list_streams()["StreamNames"]:
                    restored_streams += 1
                    restored_stream = reopened.stream(name)
                    data = restored_stream.read_table().column("data").to_pylist()
                    assert set(data) <= {b"x" * 300}
                    restored_stream.put_record(b"y", "k")
    finally:
        churn.kill()
        churn.wait(timeout=60)
        churn.stdout.close()
    assert restored_streams > 0
