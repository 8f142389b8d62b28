"""Delivery modes and scheduled checkpoints: at-most-once checkpoints before ``process`` (a SIGKILLed
worker process loses the batch in hand and repeats nothing), at-least-once after (it repeats and loses
nothing), and ``CheckpointEvery`` writes checkpoints after good batches only, by records and by time."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serve_process import ServeProcess

import shardstream
from shardstream.consumer import (
    CheckpointEvery,
    Consumer,
    InvalidCheckpointError,
    MemoryLeaseStore,
    RecordProcessor,
    SQLiteLeaseStore,
)
from shardstream.sequence import parse_sequence_number

WORKER = Path(__file__).with_name("group_worker.py")
SHARD = "shardId-000000000000"


class RecordingStore(MemoryLeaseStore):
    """A memory lease table that remembers every checkpoint written."""

    def __init__(self):
        super().__init__()
        self.written: list[tuple[str, int]] = []

    def checkpoint(self, lease_key, owner, checkpoint, sub_sequence_number=0):
        ok = super().checkpoint(lease_key, owner, checkpoint, sub_sequence_number)
        if ok:
            self.written.append((checkpoint, sub_sequence_number))
        return ok


def one_shard(n: int):
    stream = shardstream.Engine().create_stream("s", shard_count=1)
    seqs = stream.put_batch([f"k{i}" for i in range(n)], [b"%d" % i for i in range(n)])
    return stream, seqs.column("sequence_number").to_pylist()


def checkpoint_of(store) -> str:
    return store.get(SHARD).checkpoint


# -- arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"delivery": "exactly_once"}, "delivery must be 'at_least_once' or 'at_most_once'"),
        ({"checkpoint_every": 1000}, "checkpoint_every must be a CheckpointEvery"),
        ({"checkpoint_every": 5.0}, "checkpoint_every must be a CheckpointEvery"),
        (
            {"delivery": "at_most_once", "checkpoint_every": CheckpointEvery(records=1)},
            "checkpoint_every is for at_least_once",
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    stream, _ = one_shard(0)
    with pytest.raises(ValueError, match=message):
        Consumer(stream, "g", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({}, "needs records=, seconds= or both"), ({"records": 0}, "at least 1"), ({"seconds": -1.0}, "positive")],
)
def test_checkpoint_every_is_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CheckpointEvery(**kwargs)


# -- at most once, in process --------------------------------------------------------------------


def test_at_most_once_checkpoints_before_process_and_manual_checkpoints_only_go_forward():
    stream, seqs = one_shard(6)
    store = RecordingStore()
    seen = []

    class Check(RecordProcessor):
        def process(self, records, checkpointer, millis_behind_latest):
            batch = records.column("sequence_number").to_pylist()
            seen.append((batch, store.get(SHARD).checkpoint))  # what the table held when the batch arrived
            checkpointer.checkpoint()  # allowed: the same position again
            with pytest.raises(InvalidCheckpointError, match="below the previous checkpoint"):
                checkpointer.checkpoint(batch[0])
            if batch[-1] == seqs[3]:
                raise RuntimeError("boom")  # already checkpointed: this batch is lost, not repeated

    with Consumer(stream, "g", Check, leases=store, delivery="at_most_once", max_records=2) as consumer:
        assert consumer.wait_until(lambda: checkpoint_of(store) == seqs[5], timeout=10)
    assert [batch for batch, _ in seen] == [seqs[0:2], seqs[2:4], seqs[4:6]]
    assert all(held == batch[-1] for batch, held in seen)
    # a new worker resumes after the last batch handed over: the failed batch is not repeated
    again = []

    class Collect(RecordProcessor):
        def process(self, records, checkpointer, millis_behind_latest):
            again.extend(records.column("sequence_number").to_pylist())

    more = stream.put_batch(["k"], [b"new"]).column("sequence_number").to_pylist()
    with Consumer(stream, "g", Collect, leases=store, delivery="at_most_once") as consumer:
        assert consumer.wait_until(lambda: checkpoint_of(store) == more[0], timeout=10)
    assert again == more


def test_at_most_once_when_iterating():
    stream, seqs = one_shard(4)
    store = MemoryLeaseStore()
    consumer = Consumer(stream, "g", leases=store, delivery="at_most_once", max_records=2)
    got = []
    for batch in consumer:
        got.append((batch.records.column("sequence_number").to_pylist(), checkpoint_of(store)))
        if len(got) == 2:
            consumer.stop()
    assert [b for b, _ in got] == [seqs[0:2], seqs[2:4]]
    assert got[0][1] in (seqs[1], seqs[3]) and got[1][1] == seqs[3]  # checkpointed before handed over


# -- checkpoint_every ----------------------------------------------------------------------------


class Idle(RecordProcessor):
    """Processes without ever checkpointing (shutdown included)."""

    def __init__(self, seen: list):
        self.seen = seen

    def process(self, records, checkpointer, millis_behind_latest):
        self.seen.extend(records.column("sequence_number").to_pylist())


def test_checkpoint_every_records():
    stream, seqs = one_shard(10)
    store = RecordingStore()
    seen = []
    every = CheckpointEvery(records=5)
    with Consumer(stream, "g", lambda: Idle(seen), leases=store, max_records=3, checkpoint_every=every) as consumer:
        assert consumer.wait_until(lambda: len(seen) == 10, timeout=10)
        assert consumer.wait_until(lambda: store.written == [(seqs[5], 0)], timeout=5)
    # batches of 3: the schedule wrote after 6 records, the graceful stop wrote the pending rest
    assert store.written == [(seqs[5], 0), (seqs[9], 0)]


def test_checkpoint_every_seconds_checkpoints_a_quiet_shard_too():
    stream, seqs = one_shard(3)
    store = RecordingStore()
    seen = []
    every = CheckpointEvery(seconds=0.3)
    with Consumer(stream, "g", lambda: Idle(seen), leases=store, checkpoint_every=every, idle_ms=20) as consumer:
        # nothing more arrives: the empty reads that follow write the checkpoint once 0.3 s passed
        assert consumer.wait_until(lambda: store.written == [(seqs[2], 0)], timeout=10)
        more = stream.put_batch(["a", "b"], [b"a", b"b"]).column("sequence_number").to_pylist()
        assert consumer.wait_until(lambda: store.written[-1:] == [(more[1], 0)], timeout=10)
    assert store.written == [(seqs[2], 0), (more[1], 0)]


def test_a_batch_whose_process_raised_is_not_checkpointed_and_comes_again():
    stream, seqs = one_shard(6)
    store = RecordingStore()
    seen = []

    class FailOnce(Idle):
        def process(self, records, checkpointer, millis_behind_latest):
            super().process(records, checkpointer, millis_behind_latest)
            if seqs[2] in records.column("sequence_number").to_pylist():
                raise RuntimeError("boom")

    every = CheckpointEvery(records=1)
    with Consumer(stream, "g", lambda: FailOnce(seen), leases=store, max_records=2, checkpoint_every=every) as c:
        assert c.wait_until(lambda: len(seen) == 6, timeout=10)
    assert store.written == [(seqs[1], 0)]  # the good batch before; nothing from the failed one on
    again = []
    with Consumer(stream, "g", lambda: Idle(again), leases=store, checkpoint_every=every) as c:
        assert c.wait_until(lambda: checkpoint_of(store) == seqs[5], timeout=10)
    assert again == seqs[2:]


def test_manual_checkpoints_work_beside_the_schedule():
    stream, seqs = one_shard(4)
    store = RecordingStore()

    class Manual(RecordProcessor):
        def process(self, records, checkpointer, millis_behind_latest):
            checkpointer.checkpoint()  # ahead of the schedule: it never writes below this

    every = CheckpointEvery(records=3)
    with Consumer(stream, "g", Manual, leases=store, max_records=2, checkpoint_every=every) as consumer:
        assert consumer.wait_until(lambda: checkpoint_of(store) == seqs[3], timeout=10)
    assert store.written == [(seqs[1], 0), (seqs[3], 0)]


# -- SIGKILLed worker processes ------------------------------------------------------------------


def run_group(tmp_path: Path, delivery: str) -> tuple[list[str], list[list[str]], list[str]]:
    """Two workers on a 2-shard served stream; w0 SIGKILLs itself in its 3rd batch; then w1 finishes.

    Returns the written sequence numbers, the log rows (time, kind, session, shard, value, worker)
    and the records of the fatal batch."""
    tmp_path.mkdir()
    lease_file = tmp_path / "leases.db"
    outs = [tmp_path / f"w{i}.log" for i in range(2)]
    with ServeProcess() as server:
        url = server.url()
        engine = shardstream.connect(url)
        engine.create_stream("orders", shard_count=2)
        stream = engine.stream("orders")
        stream.wait_active()
        written = stream.put_batch([f"k{i}" for i in range(400)], [b"x"] * 400).column("sequence_number").to_pylist()
        last = {}
        for seq in sorted(written, key=int):
            last[f"shardId-{parse_sequence_number(seq).shard_index:012d}"] = seq
        options = [f"--delivery={delivery}", "--max-records=20"]

        def worker(i: int, *extra: str):
            return subprocess.Popen(
                [sys.executable, str(WORKER), url, "orders", str(lease_file), f"w{i}", str(outs[i]), "1000", *extra],
                stderr=subprocess.PIPE,
                text=True,
            )

        # w0 alone first (it holds both shards, so it surely reaches its 3rd batch), then w1 takes over
        workers = [worker(0, *options, "--die-at-batch=3")]
        store = SQLiteLeaseStore(lease_file, "group")
        try:
            assert workers[0].wait(timeout=30) == -signal.SIGKILL
            workers.append(worker(1, *options))
            deadline = time.monotonic() + 40
            while {lease.lease_key: lease.checkpoint for lease in store.list()} != last:
                assert time.monotonic() < deadline, f"w1 did not finish: {store.list()}"
                time.sleep(0.1)
        finally:
            for w in workers:
                if w.poll() is None:
                    w.send_signal(signal.SIGINT)
            codes = [w.wait(timeout=30) for w in workers]
            for w in workers:
                w.stderr.close()
            store.close()
        assert codes == [-signal.SIGKILL, 0]
    rows = []
    for path in outs:
        rows += [[*line.split("\t"), path.stem] for line in path.read_text().splitlines() if line.count("\t") == 4]
    rows.sort(key=lambda r: float(r[0]))
    (killed,) = [r for r in rows if r[1] == "killed"]
    fatal = [r[4] for r in rows if r[1] == "record" and r[2] == killed[2]][-int(killed[4]) :]
    return written, rows, fatal


@pytest.mark.skipif(sys.platform == "win32", reason="signals to child processes")
def test_sigkilled_worker_at_most_once_loses_the_batch_in_hand_at_least_once_repeats_it(tmp_path):
    # side by side: the same group, the same kill, the two modes
    for delivery in ("at_most_once", "at_least_once"):
        written, rows, fatal = run_group(tmp_path / delivery, delivery)
        delivered = collections.Counter(r[4] for r in rows if r[1] == "record")
        after_kill = {r[4] for r in rows if r[1] == "record" and r[5] == "w1"}
        assert len(fatal) == 20
        if delivery == "at_most_once":
            assert max(delivered.values()) == 1, "at most once repeated a record"
            assert not set(fatal) & after_kill, "the fatal batch was delivered again"
            lost = set(written) - set(delivered)
            # what w0 had in hand on its other shard, if any (checkpointed, never logged): one batch at most
            assert len(lost) <= 20
        else:
            assert set(delivered) == set(written), "at least once lost records"
            assert set(fatal) <= after_kill, "the fatal batch was not delivered again"
            assert max(delivered.values()) == 2


@pytest.mark.parametrize("kwargs", [{"delivery": "at_most_once"}, {"checkpoint_every": CheckpointEvery(records=1)}])
def test_shard_end_still_checkpoints_shard_end_and_children_follow(kwargs):
    stream, before = one_shard(5)
    stream.split_shard(SHARD, str(2**127))
    after = stream.put_batch([f"n{i}" for i in range(20)], [b"x"] * 20).column("sequence_number").to_pylist()
    store = MemoryLeaseStore()
    seen = []
    with Consumer(stream, "g", lambda: Idle(seen), leases=store, **kwargs) as consumer:
        assert consumer.wait_until(lambda: set(before + after) <= set(seen), timeout=10)
        assert consumer.wait_until(lambda: store.get(SHARD).finished, timeout=10)
    assert sorted(seen, key=int) == sorted(before + after, key=int)  # each once: no repeats across the split
