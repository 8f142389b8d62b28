"""Durable engines killed for real: every acknowledged record survives, numbers are never reused.

The subprocess side is ``crash_writer.py`` (see its docstring for the protocol).
Segment-level crash tests (a bare SegmentLog under SIGKILL) are in
``tests/storage/test_segments.py``; these exercise the whole engine: group
commit from several threads, ring eviction, segment rolls, resharding, the
restore of streams and the counter skip after an unclean shutdown.

``SHARDSTREAM_CRASH_TRIALS`` sets the number of kills of the main test
(default 15) and ``SHARDSTREAM_CRASH_SEED`` its random seed.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import shardstream
from shardstream import durable
from shardstream.sequence import parse_sequence_number, sequence_counter
from shardstream.storage.datadir import DataDirectoryLocked

from .crash_writer import SHARD_CAPACITY_BYTES, STREAM, identity, partition_key, payload

WRITER = Path(__file__).with_name("crash_writer.py")
TRIALS = int(os.environ.get("SHARDSTREAM_CRASH_TRIALS", "15"))
SEED = int(os.environ.get("SHARDSTREAM_CRASH_SEED", "20250117"))
PROBE_KEY = "probe"


def counter(sequence_number: str) -> int:
    return sequence_counter(sequence_number)


# -- running the writer -----------------------------------------------------------------


class Run:
    """What one writer process printed before it died."""

    def __init__(self, text: str, returncode: int, stderr: str):
        # Only complete lines count: a line cut by the kill was never fully acknowledged.
        lines = text.split("\n")[:-1]
        self.returncode = returncode
        self.stderr = stderr
        self.acked = []  # (writer, n, shard id, sequence number), in print order
        self.evicted = 0
        self.resharded = False
        self.idle = False
        evicted: dict[str, int] = {}
        for line in lines:
            kind, *fields = line.split(" ")
            if kind == "A":
                writer, n, sid, seq = fields
                self.acked.append((writer, int(n), sid, seq))
            elif kind == "S":
                evicted[fields[0]] = int(fields[1])
            elif kind == "R":
                self.resharded = True
            elif kind == "idle":
                self.idle = True
        self.evicted = sum(evicted.values())


def run_writer(
    data_dir, durability: str, run: int, *, kill_after=None, after: str = "ready", wait_idle=False, extra=()
) -> Run:
    """Start the writer; SIGKILL it ``kill_after`` s after it prints ``after`` (and is idle, with ``wait_idle``)."""
    args = [sys.executable, str(WRITER), str(data_dir), durability, str(run), *extra]
    chunks: list[bytes] = []
    marks = {"opening": threading.Event(), "ready": threading.Event()}
    idle = threading.Event()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err)

        def drain():  # keep the pipe empty so that the writer never blocks on it
            head = tail = b""
            while True:
                chunk = proc.stdout.read1(1 << 16)
                if not chunk:
                    return
                chunks.append(chunk)
                if not marks["ready"].is_set():
                    head += chunk
                    for mark, event in marks.items():
                        if f"{mark}\n".encode() in head:
                            event.set()
                tail = (tail + chunk)[-16:]
                if tail.endswith(b"\nidle\n"):
                    idle.set()

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 60
            while not marks[after].wait(0.01):
                assert proc.poll() is None and time.monotonic() < deadline, "the writer did not start"
            if wait_idle:
                while not idle.wait(0.01):
                    assert proc.poll() is None and time.monotonic() < deadline, "the writer did not finish"
            if kill_after:
                time.sleep(kill_after)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            reader.join(timeout=60)
            proc.stdout.close()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    run_ = Run(b"".join(chunks).decode(), proc.returncode, stderr)
    # Killed by us, not dead of an engine error in a writer thread (exit status 3).
    assert run_.returncode == -signal.SIGKILL, f"writer exited with {run_.returncode}:\n{stderr}"
    return run_


# -- reading back -------------------------------------------------------------------------


def read_back(stream, small: bool = False) -> dict[str, list[tuple[str, str, bytes]]]:
    """Every shard's records (sequence number, partition key, data) via read_table, checked for sanity.

    Checks: per shard, sequence numbers strictly increase and name one shard; each record is a
    writer's (right payload and partition key for its identity) or a probe; no record is stored
    twice; one writer's records keep their order within a shard (its puts are sequential).
    """
    table = stream.read_table()
    sids = table.column("shard_id").to_pylist()
    seqs = table.column("sequence_number").to_pylist()
    keys = table.column("partition_key").to_pylist()
    datas = table.column("data").to_pylist()
    parsed = [parse_sequence_number(seq) for seq in seqs]
    counters = np.array([p.counter for p in parsed], dtype=np.int64)
    prefixes = [(p.shard_created_s, p.shard_index) for p in parsed]
    bounds = [0, *(i for i in range(1, len(sids)) if sids[i] != sids[i - 1]), len(sids)]
    by_shard: dict[str, list] = {s.shard_id: [] for s in stream.shards}
    seen: dict[tuple[str, int], str] = {}
    for lo, hi in zip(bounds, bounds[1:]):
        if lo == hi:
            continue
        sid = sids[lo]
        assert not by_shard[sid], f"{sid} read in two pieces"
        assert bool(np.all(np.diff(counters[lo:hi]) > 0)), f"{sid}: sequence numbers not increasing"
        assert all(int(a) < int(b) for a, b in zip(seqs[lo : hi - 1], seqs[lo + 1 : hi])), f"{sid}: not increasing"
        assert len(set(prefixes[lo:hi])) == 1, f"{sid}: mixed sequence-number shard fields"
        last_n: dict[str, int] = {}
        for seq, key, data in zip(seqs[lo:hi], keys[lo:hi], datas[lo:hi]):
            if key == PROBE_KEY:
                who = (data.decode(), -1)
            else:
                writer, n = identity(data)
                who = (writer, n)
                assert data == payload(writer, n, small), f"{sid} {seq}: wrong payload"
                assert key == partition_key(writer, n), f"{sid} {seq}: wrong partition key"
                assert n > last_n.get(writer, -1), f"{sid}: writer {writer} out of order at n={n}"
                last_n[writer] = n
            assert who not in seen, f"{who} stored twice: in {seen[who]} and {sid} {seq}"
            seen[who] = f"{sid} {seq}"
        by_shard[sid] = list(zip(seqs[lo:hi], keys[lo:hi], datas[lo:hi]))
    return by_shard


def page_shard(stream, shard_id: str, limit: int = 700) -> list[tuple[str, str, bytes]]:
    """One shard through get_records from TRIM_HORIZON, to its end (closed) or its newest record (open)."""
    it = stream.get_shard_iterator(shard_id, "TRIM_HORIZON")["ShardIterator"]
    out = []
    for _ in range(100_000):
        resp = stream.get_records(it, limit)
        out += [(r["SequenceNumber"], r["PartitionKey"], r["Data"]) for r in resp["Records"]]
        it = resp.get("NextShardIterator")
        if it is None or (not resp["Records"] and resp["MillisBehindLatest"] == 0):
            return out
    raise AssertionError("get_records never caught up")


def check_acked_present(by_shard, acked, small: bool = False) -> None:
    """Every acknowledged record is where its acknowledgement said, with its payload."""
    index = {sid: {seq: (key, data) for seq, key, data in rows} for sid, rows in by_shard.items()}
    for writer, n, sid, seq in acked:
        assert sid in index, f"acknowledged shard {sid} is gone"
        got = index[sid].get(seq)
        assert got is not None, f"acknowledged record {writer}:{n} ({sid} {seq}) is missing"
        assert got == (partition_key(writer, n), payload(writer, n, small)), f"{sid} {seq} holds another record"


def check_acked_prefix(by_shard, acked) -> None:
    """Per run and shard, the acknowledged records still present are a prefix of those acknowledged.

    Presence is by identity, not by sequence number alone (see
    test_crash_never_reuses_numbers_of_a_shard_with_nothing_on_disk for why that matters).
    """
    present = {
        (sid, seq): (identity(data) if key != PROBE_KEY else None)
        for sid, rows in by_shard.items()
        for seq, key, data in rows
    }
    groups = collections.defaultdict(list)
    for writer, n, sid, seq in acked:
        groups[writer.split(".")[0], sid].append((counter(seq), present.get((sid, seq)) == (writer, n)))
    for (run, sid), items in groups.items():
        flags = [flag for _, flag in sorted(items)]
        if True in flags:
            last = len(flags) - 1 - flags[::-1].index(True)
            assert all(flags[: last + 1]), f"run {run} {sid}: a record is missing before a later one that survived"


def probe_new_writes(stream, by_shard, tag: str) -> dict[str, str]:
    """Put one record into every open shard; each must be numbered above everything the shard holds.

    (Call it after check_acked_present: every acknowledged number is then among those held.)
    """
    highest = {sid: counter(rows[-1][0]) if rows else 0 for sid, rows in by_shard.items()}
    out = {}
    for shard in stream.shards:
        if not shard.is_open:
            continue
        r = stream.put_record(
            f"{tag}:{shard.shard_id}".encode(), PROBE_KEY, explicit_hash_key=str(shard.starting_hash_key)
        )
        assert r["ShardId"] == shard.shard_id
        assert counter(r["SequenceNumber"]) > highest[shard.shard_id], f"{shard.shard_id}: number reused"
        out[shard.shard_id] = r["SequenceNumber"]
    return out


# -- the main crash test ------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_keeps_every_acknowledged_record(tmp_path):
    """The issue's test: kill a syncing writer at random moments; acknowledged records stay, exactly once, in order."""
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    acked: list = []
    numbers: dict[tuple[str, str], tuple] = {}  # (shard, sequence number) -> what it was given to
    evicted = resharded = 0
    for trial in range(TRIALS):
        where = f"(seed {SEED}, trial {trial})"
        # Run 0 writes to a 2-shard stream; from run 1 on, the writer reshards it to 4 while writing,
        # so later runs recover a resharded stream (closed parents with records, children).  Every
        # fourth kill is timed from when the writer starts opening the engine: it may land in
        # recovery (torn tails being cut, counters skipping), which the next open must survive.
        after = "opening" if trial % 4 == 3 else "ready"
        delay = rng.uniform(0.3, 0.5) if trial == 1 else rng.uniform(0.0 if after == "opening" else 0.05, 0.5)
        reshard = ["--reshard"] if trial else []
        run = run_writer(data_dir, "sync", trial, kill_after=delay, after=after, extra=reshard)
        evicted += run.evicted
        resharded += run.resharded
        for writer, n, sid, seq in run.acked:
            assert numbers.setdefault((sid, seq), (writer, n)) == (writer, n), f"{sid} {seq} given twice {where}"
        acked += run.acked

        engine = shardstream.Engine(data_dir=data_dir)
        try:
            stream = engine.stream(STREAM)
            assert (stream.durability, stream.shard_capacity_bytes) == ("sync", SHARD_CAPACITY_BYTES)
            by_shard = read_back(stream)
            check_acked_present(by_shard, acked)
            probes = probe_new_writes(stream, by_shard, f"probe:{trial}")
            for sid, seq in probes.items():
                assert numbers.setdefault((sid, seq), ("probe", trial)) == ("probe", trial), f"{sid} {seq} reused"
            # Paged reads agree with read_table, from the segments on into the ring (the probes).
            ids = sorted(by_shard)
            shards = ids if trial == TRIALS - 1 else [ids[trial % len(ids)]]
            for sid in shards:
                expected = list(by_shard[sid])
                if sid in probes:  # open shards end with this trial's probe
                    expected.append((probes[sid], PROBE_KEY, f"probe:{trial}:{sid}".encode()))
                assert page_shard(stream, sid) == expected, f"get_records of {sid} {where}"
            # An acknowledged record found by its own sequence number.
            for writer, n, sid, seq in rng.sample(run.acked, min(3, len(run.acked))):
                it = stream.get_shard_iterator(sid, "AT_SEQUENCE_NUMBER", seq)["ShardIterator"]
                (record,) = stream.get_records(it, 1)["Records"]
                assert (record["SequenceNumber"], record["Data"]) == (seq, payload(writer, n))
        finally:
            # Alternate a clean close with a simulated crash, so that the next writer
            # recovers both kinds of directory.
            if trial % 2:
                engine._crash()
            else:
                engine.close()

    assert len(acked) > 50 * TRIALS, "the writers acknowledged too little for the test to mean much"
    engine = shardstream.Engine(data_dir=data_dir)
    try:
        stream = engine.stream(STREAM)
        store = stream.store
        rolled = max(len(store.segment_log(s.index).segments()) for s in stream.shards)
        if TRIALS >= 5:
            assert evicted > 0, "no ring ever evicted: raise the load or lower shard_capacity_bytes"
            assert rolled > 3, "segments never rolled"
            assert resharded and len(stream.shards) == 6 and stream.open_shard_count == 4
    finally:
        engine.close()


# -- interval and none: what survives a kill is a clean prefix --------------------------------


@pytest.mark.parametrize("durability", ["interval", "none"])
def test_sigkill_without_sync_leaves_a_consistent_prefix(tmp_path, durability):
    rng = random.Random(SEED + 1)
    data_dir = tmp_path / "data"
    acked: list = []
    for trial in range(3):
        run = run_writer(data_dir, durability, trial, kill_after=rng.uniform(0.05, 0.5))
        acked += run.acked
        with shardstream.Engine(data_dir=data_dir) as engine:
            stream = engine.stream(STREAM)
            assert stream.durability == durability
            by_shard = read_back(stream)  # only written records, once each, in order
            check_acked_prefix(by_shard, acked)
            for sid, rows in by_shard.items():
                assert page_shard(stream, sid) == rows
            survivors = sum(len(rows) for rows in by_shard.values())
    # The background writer had at least 50 ms per run: something reached the files.
    assert acked and survivors


@pytest.mark.parametrize("durability", ["interval", "none"])
def test_records_flushed_long_before_a_kill_survive(tmp_path, durability):
    # The writer makes a few small puts, goes idle, and is killed 2 s (40 flush intervals) later:
    # "interval" has synced them, and "none" promises they survive a killed process once written.
    run = run_writer(tmp_path, durability, 0, wait_idle=True, kill_after=2.0, extra=["--puts", "5"])
    assert run.idle and len(run.acked) >= 10
    with shardstream.Engine(data_dir=tmp_path) as engine:
        check_acked_present(read_back(engine.stream(STREAM), small=True), run.acked, small=True)


def test_the_lock_dies_with_the_process(tmp_path):
    args = [sys.executable, str(WRITER), str(tmp_path), "sync", "0", "--puts", "1", "--threads", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout.readline() == b"opening\n"
        assert proc.stdout.readline() == b"ready\n"
        with pytest.raises(DataDirectoryLocked, match=f"process {proc.pid}"):
            shardstream.Engine(data_dir=tmp_path)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.stream(STREAM).open_shard_count == 2


# -- sequence counters across clean closes and crashes (in-process) ---------------------------


CAPACITY = SHARD_CAPACITY_BYTES  # 2 MiB, the minimum


def _put_each_shard(stream, tag: str) -> dict[int, int]:
    """One record into every open shard; its counter by shard index."""
    out = {}
    for shard in stream.shards:
        if shard.is_open:
            r = stream.put_record(tag.encode(), "k", explicit_hash_key=str(shard.starting_hash_key))
            assert r["ShardId"] == shard.shard_id
            out[shard.index] = counter(r["SequenceNumber"])
    return out


def _last_counters(stream) -> dict[int, int]:
    out = {}
    for row in stream.read_table().select(["shard_id", "sequence_number"]).to_pylist():
        out[int(row["shard_id"][-12:])] = counter(row["sequence_number"])
    return out


def test_clean_close_continues_numbering_exactly(tmp_path):
    with shardstream.Engine(data_dir=tmp_path, shard_capacity_bytes=CAPACITY) as engine:
        stream = engine.create_stream("s", 3)
        stream.put_batch([f"k{i}" for i in range(500)], [b"x" * i for i in range(500)])
        stream.update_shard_count(4)
        empty = [s.index for s in stream.shards if s.is_open][-1]  # a child that has no record yet
        stream.put_batch([f"k{i}" for i in range(40)], [b"y"] * 40, explicit_hash_keys=[0] * 40)
        last = _last_counters(stream)
    assert empty not in last
    for round_ in range(2):
        with shardstream.Engine(data_dir=tmp_path) as engine:
            stream = engine.stream("s")
            assert _last_counters(stream) == last
            got = _put_each_shard(stream, f"after close {round_}")
            for index, c in got.items():
                assert c == last.get(index, 0) + 1, f"shard {index}"
            last.update(got)


def test_crash_skips_counters_past_everything_the_ring_could_hold(tmp_path):
    gap = durable.counter_gap(CAPACITY)
    engine = shardstream.Engine(data_dir=tmp_path, shard_capacity_bytes=CAPACITY)
    stream = engine.create_stream("s", 2)
    stream.put_batch([f"k{i}" for i in range(300)], [b"z" * 50] * 300)
    last = _last_counters(stream)
    engine._crash()
    for round_ in range(2):
        engine = shardstream.Engine(data_dir=tmp_path)
        stream = engine.stream("s")
        assert _last_counters(stream) == last  # every synced record is back
        got = _put_each_shard(stream, f"after crash {round_}")
        assert got == {i: last[i] + 1 + gap for i in last}
        last = got
        engine._crash()
    # A clean close after a crash-recovery continues exactly again.
    with shardstream.Engine(data_dir=tmp_path) as engine:
        _put_each_shard(engine.stream("s"), "settle")
        last = _last_counters(engine.stream("s"))
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert _put_each_shard(engine.stream("s"), "clean") == {i: c + 1 for i, c in last.items()}


def test_crash_never_reuses_numbers_of_a_shard_with_nothing_on_disk(tmp_path):
    engine = shardstream.Engine(data_dir=tmp_path, durability="interval", flush_interval_ms=600_000)
    stream = engine.create_stream("s", 1, shard_capacity_bytes=CAPACITY)
    before = stream.put_record(b"lost in the crash", "k")["SequenceNumber"]
    engine._crash()
    with shardstream.Engine(data_dir=tmp_path) as engine:
        stream = engine.stream("s")
        assert stream.read_table().num_rows == 0
        after = stream.put_record(b"new", "k")["SequenceNumber"]
        assert counter(after) > counter(before), f"{after} reuses {before}"


class _SyncTracker:
    """Wraps a SegmentLog: ``dirty`` while something appended has not been fsync-ed since."""

    def __init__(self, monkeypatch, log):
        self.dirty = False
        append, append_message, sync = log.append, log.append_message, log.sync

        def tracked_append(*args, **kw):
            self.dirty = True
            return append(*args, **kw)

        def tracked_append_message(*args, **kw):
            appended = append_message(*args, **kw)
            self.dirty = self.dirty or appended
            return appended

        def tracked_sync():
            sync()
            self.dirty = False

        monkeypatch.setattr(log, "append", tracked_append)
        monkeypatch.setattr(log, "append_message", tracked_append_message)
        monkeypatch.setattr(log, "sync", tracked_sync)


def test_sync_put_is_fsynced_when_it_returns(tmp_path, monkeypatch):
    with shardstream.Engine(data_dir=tmp_path) as engine:
        stream = engine.create_stream("s", 2)
        trackers = [_SyncTracker(monkeypatch, stream.store.segment_log(i)) for i in range(2)]
        for i in range(20):
            stream.put_record(b"r%d" % i, f"k{i}")
            stream.put_batch([f"k{i}-{j}" for j in range(30)], [b"b"] * 30)
            assert not any(t.dirty for t in trackers)


def test_sync_put_is_fsynced_even_if_an_unsynced_flush_wrote_it_first(tmp_path, monkeypatch):
    with shardstream.Engine(data_dir=tmp_path) as engine:
        stream = engine.create_stream("s", 1)
        stream.put_record(b"first", "k")
        tracker = _SyncTracker(monkeypatch, stream.store.segment_log(0))
        commit = stream.store.commit

        def commit_after_a_concurrent_flush(logs, clock):
            # Exactly what another thread may do between this put's append and its group commit:
            # Engine.flush(sync=False), or a writer that found the ring full (DurableStream._raise_reserve).
            engine.flush(sync=False)
            assert tracker.dirty  # the put's record is written, not yet synced
            commit(logs, clock)

        monkeypatch.setattr(stream.store, "commit", commit_after_a_concurrent_flush)
        stream.put_record(b"acknowledged", "k")
        assert not tracker.dirty, "a sync put returned before its record was fsync-ed"
