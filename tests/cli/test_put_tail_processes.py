"""``shardstream put`` and ``tail`` as real processes (``python -m shardstream``), piped into each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from shardstream.testing import start_server


@pytest.fixture(scope="module")
def server():
    with start_server() as handle:
        yield handle


def shardstream(*args, url, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "SHARDSTREAM_URL": url}
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.Popen([sys.executable, "-m", "shardstream", *args], env=env, **pipes)


def test_put_from_stdin_then_tail_piped_into_put(server):
    source, copy = server.engine.create_stream("source", 2), server.engine.create_stream("copy", 3)
    lines = [json.dumps({"user": f"u{i % 7}", "n": i}) for i in range(300)]
    put = shardstream("put", "source", "--key-field", "user", url=server.url, stdin=subprocess.PIPE)
    out, err = put.communicate("\n".join(lines).encode() + b"\n", timeout=60)
    assert put.returncode == 0, err.decode()
    assert out == b"" and err.decode().strip() == "sent 300 records to source"
    assert source.read_table().num_rows == 300

    # tail | put, a real shell pipeline: each tail line (JSON) becomes a record of the copy, keyed as before
    pipeline = subprocess.run(
        [
            "bash",
            "-c",
            "set -o pipefail; python -m shardstream tail source | python -m shardstream put copy --key-field partition_key",
        ],
        env={
            **os.environ,
            "SHARDSTREAM_URL": server.url,
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        },
        capture_output=True,
        timeout=60,
    )
    assert pipeline.returncode == 0, pipeline.stderr.decode()
    assert pipeline.stderr.decode().strip() == "sent 300 records to copy"
    copied = [{**row, "line": json.loads(row["data"])} for row in copy.read_table().to_pylist()]
    assert sorted(json.loads(r["line"]["data"])["n"] for r in copied) == list(range(300))
    # per user, the order of the source survives (the key routes a user to one shard, read in order)
    by_user: dict[str, list[int]] = {}
    for row in sorted(copied, key=lambda r: (r["shard_id"], int(r["sequence_number"]))):
        doc = json.loads(row["line"]["data"])
        assert row["partition_key"] == row["line"]["partition_key"] == doc["user"]
        by_user.setdefault(doc["user"], []).append(doc["n"])
    assert all(ns == sorted(ns) for ns in by_user.values())


def test_tail_follow_stops_after_n(server):
    stream = server.engine.create_stream("live", 2)
    stream.put_record(b"one", "a")
    stream.put_record(b"two", "b")
    tail = shardstream("tail", "live", "-f", "-n", "4", "--poll-interval", "0.02", url=server.url)
    seen = [json.loads(tail.stdout.readline()) for _ in range(2)]  # caught up with what was there
    assert sorted(r["data"] for r in seen) == ["one", "two"]
    stream.split_shard("shardId-000000000000", str(2**126))  # a reshard while following
    stream.put_records([{"Data": b"three", "PartitionKey": "c"}, {"Data": b"four", "PartitionKey": "d"}])
    out, err = tail.communicate(timeout=30)
    assert tail.returncode == 0, err.decode()
    assert sorted(json.loads(line)["data"] for line in out.decode().splitlines()) == ["four", "three"]


def test_put_a_file_with_aggregation_and_compression(server, tmp_path):
    stream = server.engine.create_stream("packed", 1)
    path = tmp_path / "lines.txt"
    path.write_text("".join(f"line {i}\n" for i in range(1000)))
    put = shardstream("put", "packed", str(path), "-k", "k", "--aggregate", "--compression", "zstd", url=server.url)
    _, err = put.communicate(timeout=60)
    assert put.returncode == 0, err.decode()
    assert 0 < stream.read_table(deaggregate=False).num_rows < 1000  # aggregated into fewer Kinesis records
    tail = shardstream("tail", "packed", url=server.url)
    out, err = tail.communicate(timeout=60)
    assert tail.returncode == 0, err.decode()
    records = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["data"] for r in records] == [f"line {i}" for i in range(1000)]
    assert [r["sub_sequence_number"] for r in records[:3]] == [0, 1, 2]


def test_put_shows_a_progress_bar_only_on_a_terminal(server, tmp_path):
    import pty

    stream = server.engine.create_stream("bar", 1)
    path = tmp_path / "in.txt"
    path.write_text("".join(f"{i}\n" for i in range(200)))
    leader, follower = pty.openpty()
    try:
        put = shardstream("put", "bar", str(path), url=server.url, stderr=follower)
        os.close(follower)
        put.stdout.close()
        assert put.wait(timeout=60) == 0
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed, all read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert b"put bar" in shown and b"100%" in shown and b"sent 200 records to bar" in shown
    assert stream.read_table().num_rows == 200
