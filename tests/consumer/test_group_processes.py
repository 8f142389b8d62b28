"""Three worker processes of one group on an 8-shard stream served by ``shardstream serve``, while
writers run and the stream is resharded; one worker is SIGKILLed and the others take over.

The kill is not left to timing: once told to, the doomed worker SIGKILLs itself inside ``process``,
after logging a batch it received and before checkpointing it, so the test knows exactly which
records were delivered but never checkpointed, and checks that a survivor delivers them again.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from serve_process import ServeProcess

import shardstream
from shardstream.consumer import SQLiteLeaseStore
from shardstream.sequence import parse_sequence_number

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals to child processes")

WORKER = Path(__file__).with_name("group_worker.py")
FAILOVER_MS = 1000


def start_worker(url: str, lease_file: Path, worker_id: str, out: Path, die_file: Path | None = None):
    die = [str(die_file)] if die_file is not None else []
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, "orders", str(lease_file), worker_id, str(out), str(FAILOVER_MS), *die],
        stderr=subprocess.PIPE,
        text=True,
    )


def read_logs(paths) -> list[list[str]]:
    rows = []
    for path in paths:
        if path.exists():
            rows += [[*line.split("\t"), path.stem] for line in path.read_text().splitlines() if line.count("\t") == 4]
    return sorted(rows, key=lambda r: float(r[0]))  # time, kind, session, shard, value, worker (file stem)


def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_group_of_processes_survives_a_sigkill_and_a_reshard(tmp_path):
    lease_file = tmp_path / "leases.db"
    outs = [tmp_path / f"w{i}.log" for i in range(3)]
    die_file = tmp_path / "die-w0"
    with ServeProcess() as server:
        url = server.url()
        engine = shardstream.connect(url)
        engine.create_stream("orders", shard_count=8)
        stream = engine.stream("orders")
        stream.wait_active()
        workers = [start_worker(url, lease_file, f"w{i}", outs[i], die_file if i == 0 else None) for i in range(3)]
        written: list[str] = []
        stop_writing = threading.Event()

        def writer():
            n = 0
            while not stop_writing.is_set():
                table = stream.put_batch([f"k{n + i}" for i in range(200)], [b"x" * 100] * 200)
                written.extend(table.column("sequence_number").to_pylist())
                n += 200
                time.sleep(0.05)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            store = SQLiteLeaseStore(lease_file, "group")

            def owners():
                return collections.Counter(lease.owner for lease in store.list() if not lease.finished)

            until(lambda: set(owners()) == {"w0", "w1", "w2"}, 20, "three workers holding leases")
            until(lambda: sum(1 for r in read_logs(outs) if r[1] == "record") > 1000, 20, "records processed")
            die_file.touch()  # w0 SIGKILLs itself in its next process() call, before checkpointing
            assert workers[0].wait(timeout=30) == -signal.SIGKILL
            stream.split_shard("shardId-000000000003", str(2**125 * 3 + 2**121))
            time.sleep(1.0)
            stop_writing.set()
            thread.join()
            want = set(written)
            until(lambda: want <= {r[4] for r in read_logs(outs) if r[1] == "record"}, 40, "every record processed")
            until(
                lambda: set(owners()) == {"w1", "w2"} and abs(owners()["w1"] - owners()["w2"]) <= 1,
                20,
                "leases balanced between the survivors",
            )
            balanced = owners()
        finally:
            stop_writing.set()
            for w in workers[1:]:
                if w.poll() is None:
                    w.send_signal(signal.SIGINT)
            codes = [w.wait(timeout=30) for w in workers[1:]]
            for w in workers:
                w.stderr.close()
        assert codes == [0, 0]

    rows = read_logs(outs)
    # every record processed at least once, none that was not written
    assert {r[4] for r in rows if r[1] == "record"} == set(written)
    # w0 died holding a batch it had received and logged but not checkpointed: the survivor that took
    # the shard over resumed after w0's last checkpoint and delivered that whole batch again
    (killed,) = [r for r in rows if r[1] == "killed"]
    assert killed[5] == "w0"
    fatal = [r[4] for r in rows if r[1] == "record" and r[2] == killed[2]][-int(killed[4]) :]
    assert len(fatal) == int(killed[4]) > 0
    redelivered = {r[4] for r in rows if r[1] == "record" and r[5] in ("w1", "w2") and r[3] == killed[3]}
    assert set(fatal) <= redelivered, f"{len(set(fatal) - redelivered)} records of w0's unfinished batch were lost"
    # each processor session saw a run of its shard's records: in sequence order, with no gap
    by_shard = collections.defaultdict(list)
    for seq in sorted(written, key=int):
        by_shard[f"shardId-{parse_sequence_number(seq).shard_index:012d}"].append(seq)
    sessions = collections.defaultdict(list)
    for r in rows:
        if r[1] == "record":
            sessions[(r[2], r[3])].append(r[4])
    for (_, shard), seqs in sessions.items():
        start = by_shard[shard].index(seqs[0])
        assert seqs == by_shard[shard][start : start + len(seqs)]
    # the split's parent ended before either child started
    first = {(r[3], r[1]): float(r[0]) for r in reversed(rows)}
    parent_end = first[("shardId-000000000003", "shard_ended")]
    for child in ("shardId-000000000008", "shardId-000000000009"):
        assert parent_end < first[(child, "initialize")]
    assert sum(balanced.values()) == 9  # 8 - 1 split + 2 children
    assert {r[4] for r in rows if r[1] == "exit"} == {"w1", "w2"}
