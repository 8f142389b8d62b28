"""A consumer group across processes as it runs across machines on AWS: the stream on Kinesis and
the leases in a DynamoDB table: ``connect("aws://us-east-1")`` and ``leases="dynamodb://<table>"``,
both reaching moto's server in a child process through ``AWS_ENDPOINT_URL_KINESIS`` /
``AWS_ENDPOINT_URL_DYNAMODB``, as the same code would reach AWS without them.

Two worker processes share a 4-shard stream; one SIGKILLs itself in the middle of a batch (after
logging it, before checkpointing it: ``group_worker.py``); the survivor takes its leases over once
they expire, and every record is processed - again only what came after the dead worker's last
checkpoint.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import botocore.session
import pytest
from moto_process import CREDENTIALS, MotoProcess

import shardstream
from shardstream.consumer import DynamoDBLeaseStore
from shardstream.errors import ResourceNotFoundException

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals to child processes")

WORKER = Path(__file__).with_name("group_worker.py")
FAILOVER_MS = 1000  # renewals every ~300 ms: a loaded host does not make leases look expired
TABLE = "orders-group"


def aws_environment(url: str) -> dict:
    """What a worker on an AWS machine would have, pointed at moto instead."""
    return {
        **os.environ,
        **CREDENTIALS,
        "AWS_ENDPOINT_URL_KINESIS": url,
        "AWS_ENDPOINT_URL_DYNAMODB": url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def start_worker(env: dict, worker_id: str, out: Path, die_file: Path | None = None):
    die = [str(die_file)] if die_file is not None else []
    args = ["aws://us-east-1", "orders", f"dynamodb://{TABLE}", worker_id, str(out), str(FAILOVER_MS), *die]
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env, stderr=subprocess.PIPE, text=True)


def read_log(path: Path, worker: str) -> list[list[str]]:
    if not path.exists():
        return []
    return [[*line.split("\t"), worker] for line in path.read_text().splitlines() if line.count("\t") == 4]


def until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_group_over_aws_endpoints_survives_a_sigkill(tmp_path, monkeypatch):
    outs = {w: tmp_path / f"{w}.log" for w in ("w0", "w1")}
    die_file = tmp_path / "die-w0"

    def rows():
        return sorted(read_log(outs["w0"], "w0") + read_log(outs["w1"], "w1"), key=lambda r: float(r[0]))

    def processed():
        return {(r[3], r[4]) for r in rows() if r[1] == "record"}

    with MotoProcess() as moto:
        env = aws_environment(moto.url)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_KINESIS"):
            monkeypatch.setenv(name, env[name])
        stream = shardstream.connect("aws://us-east-1").create_stream("orders", shard_count=4)
        written: set[tuple[str, str]] = set()

        def put(n: int, base: int) -> None:
            table = stream.put_batch([f"k{base + i}" for i in range(n)], [b"x" * 50] * n)
            written.update(zip(table.column("shard_id").to_pylist(), table.column("sequence_number").to_pylist()))

        client = botocore.session.get_session().create_client(
            "dynamodb", region_name="us-east-1", endpoint_url=moto.url, aws_access_key_id="k", aws_secret_access_key="s"
        )
        store = DynamoDBLeaseStore(TABLE, client=client, create=False)

        def owners():
            try:
                return collections.Counter(lease.owner for lease in store.list())
            except ResourceNotFoundException:  # the workers have not created the table yet
                return collections.Counter()

        put(400, 0)
        workers = {
            "w0": start_worker(env, "w0", outs["w0"], die_file),
            "w1": start_worker(env, "w1", outs["w1"]),
        }
        try:
            until(lambda: owners() == {"w0": 2, "w1": 2}, 20, "two workers holding two leases each")
            until(lambda: written <= processed(), 20, "the first records processed")
            die_file.touch()  # w0 SIGKILLs itself in its next process() call, before checkpointing
            put(400, 400)
            assert workers["w0"].wait(timeout=20) == -signal.SIGKILL
            put(400, 800)
            until(lambda: written <= processed(), 20, "every record processed after the kill")
            until(lambda: owners() == {"w1": 4}, 10, "the survivor holding every lease")
        finally:
            if workers["w1"].poll() is None:
                workers["w1"].send_signal(signal.SIGINT)
            code = workers["w1"].wait(timeout=20)
            workers["w0"].kill()
            workers["w0"].wait()
            for w in workers.values():
                w.stderr.close()
        assert code == 0
        assert all(lease.owner is None for lease in store.list())  # released on the way out
        client.close()

    log = rows()
    assert processed() == written  # every record, at least once; none that was not written
    (killed,) = [r for r in log if r[1] == "killed"]
    assert killed[5] == "w0"
    starts = [(float(r[0]), r[2], r[3], r[5]) for r in log if r[1] == "initialize"]
    taken_over = 0
    for shard in sorted({s for s, _ in written}):
        w0_sessions = [(t, session) for t, session, sh, w in starts if sh == shard and w == "w0"]
        if not w0_sessions:
            continue
        began, last = w0_sessions[-1]  # w0's last session on the shard: the one w1 took over from
        mine = [int(r[4]) for r in log if r[2] == last and r[1] == "record"]
        saved = [int(r[4]) for r in log if r[2] == last and r[1] == "checkpointed"]
        after = {session for t, session, sh, w in starts if sh == shard and w == "w1" and t > began}
        again = {int(r[4]) for r in log if r[2] in after and r[1] == "record"}
        taken_over += bool(after)
        # w1 resumed after w0's last checkpoint: what it delivered again came after that checkpoint
        assert set(mine) & again <= {s for s in mine if s > max(saved, default=0)}
        if shard == killed[3]:  # the batch w0 died holding, never checkpointed, was delivered again
            fatal = mine[-int(killed[4]) :]
            assert fatal and set(fatal) <= again
    assert taken_over >= 2  # every shard w0 held when it died went to w1
