"""``shardstream create | list | describe | delete | tail`` with click's CliRunner against a real server."""

from __future__ import annotations

import base64
import json
import socket

import pytest
from click.testing import CliRunner

from shardstream.cli import main
from shardstream.testing import start_server


@pytest.fixture(scope="module")
def server():
    with start_server() as handle:
        yield handle


@pytest.fixture
def engine(server):
    yield server.engine
    for name in server.engine.list_streams()["StreamNames"]:
        server.engine.delete_stream(name)


def cli(server, *args, input=None, env=None):
    runner = CliRunner()
    return runner.invoke(main, [*args, "--url", server.url], input=input, env=env)


def lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_create_list_describe_delete(server, engine):
    created = cli(server, "create", "orders", "--shards", "3", "--wait")
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == "created stream orders: 3 shards, ACTIVE"
    assert cli(server, "create", "events", "--on-demand").exit_code == 0
    assert engine.stream("events").describe_summary()["StreamDescriptionSummary"]["StreamModeDetails"] == {
        "StreamMode": "ON_DEMAND"
    }

    listed = cli(server, "list")
    assert listed.exit_code == 0 and listed.stdout.split() == ["events", "orders"]
    long = cli(server, "list", "-l")
    assert long.stdout.splitlines()[1].split("\t")[:3] == ["orders", "ACTIVE", "PROVISIONED"]

    described = cli(server, "describe", "orders")
    assert described.exit_code == 0, described.output
    doc = json.loads(described.stdout)
    assert doc["StreamName"] == "orders" and doc["OpenShardCount"] == 3
    assert [s["ShardId"] for s in doc["Shards"]] == [f"shardId-00000000000{i}" for i in range(3)]

    refused = cli(server, "delete", "orders", input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.stderr
    assert "orders" in engine.list_streams()["StreamNames"]
    confirmed = cli(server, "delete", "orders", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert cli(server, "delete", "events", "--yes").exit_code == 0
    assert engine.list_streams()["StreamNames"] == []


@pytest.mark.parametrize(
    "args",
    [("describe", "missing"), ("delete", "missing", "--yes"), ("tail", "missing"), ("put", "missing", "-")],
)
def test_a_missing_stream_is_one_line_on_stderr(server, engine, args):
    result = cli(server, *args, input="")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: Stream missing under account 000000000000 not found. (ResourceNotFoundException)"
    ]


def test_create_errors(server, engine):
    assert cli(server, "create", "dup").exit_code == 0
    again = cli(server, "create", "dup")
    assert again.exit_code == 1
    assert again.stderr.startswith("Error: ") and "ResourceInUseException" in again.stderr
    bad = cli(server, "create", "bad name!")
    assert bad.exit_code == 1 and "ValidationException" in bad.stderr
    usage = cli(server, "create", "x", "--shards", "0")
    assert usage.exit_code == 2 and "--shards" in usage.stderr


def test_unreachable_and_unsupported_urls():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    runner = CliRunner()
    down = runner.invoke(main, ["list", "--url", f"http://127.0.0.1:{port}"])
    assert down.exit_code == 1
    assert len(down.stderr.splitlines()) == 1 and down.stderr.startswith("Error: ")
    assert "Traceback" not in down.output
    odd = runner.invoke(main, ["list", "--url", "gopher://x"])
    assert odd.exit_code == 2 and "--url" in odd.stderr


def test_url_from_the_environment(server, engine):
    engine.create_stream("from-env", 1)
    result = CliRunner().invoke(main, ["list"], env={"SHARDSTREAM_URL": server.url})
    assert result.exit_code == 0 and result.stdout.split() == ["from-env"]


def test_tail_prints_json_lines(server, engine):
    stream = engine.create_stream("t", 2)
    stream.put_record(b"hello", "a")
    stream.put_record(b"\xff\x00binary", "b")
    stream.put_record('{"x": "caf\u00e9"}'.encode(), "c")
    result = cli(server, "tail", "t")
    assert result.exit_code == 0, result.output
    records = lines(result)
    assert len(records) == 3
    by_key = {r["partition_key"]: r for r in records}
    assert by_key["a"]["data"] == "hello"
    assert base64.b64decode(by_key["b"]["data_base64"]) == b"\xff\x00binary" and "data" not in by_key["b"]
    assert json.loads(by_key["c"]["data"]) == {"x": "caf\u00e9"}
    first = by_key["a"]
    assert set(first) == {"shard_id", "sequence_number", "partition_key", "arrival", "data"}
    assert first["shard_id"].startswith("shardId-") and first["arrival"].endswith("+00:00")

    assert len(lines(cli(server, "tail", "t", "-n", "2"))) == 2
    assert cli(server, "tail", "t", "--from", "latest").stdout == ""
    later = cli(server, "tail", "t", "--from", "2999-01-01T00:00:00Z")  # Kinesis refuses a future timestamp
    assert later.exit_code == 1 and "cannot be greater than the currentTimestampInMillis" in later.stderr
    earlier = cli(server, "tail", "t", "--from", "2000-01-01T00:00:00")
    assert len(lines(earlier)) == 3
    bad = cli(server, "tail", "t", "--from", "yesterday")
    assert bad.exit_code == 2 and "--from" in bad.stderr


def test_tail_reads_children_after_their_parents(server, engine):
    stream = engine.create_stream("r", 1)
    for i in range(5):
        stream.put_record(f"p{i}".encode(), "same-key")
    stream.split_shard("shardId-000000000000", str(2**127))
    for i in range(5):
        stream.put_record(f"c{i}".encode(), "same-key")
    stream.merge_shards("shardId-000000000001", "shardId-000000000002")
    for i in range(5):
        stream.put_record(f"m{i}".encode(), "same-key")
    result = cli(server, "tail", "r")
    assert result.exit_code == 0, result.output
    records = lines(result)
    assert [r["data"] for r in records] == [f"{p}{i}" for p in "pcm" for i in range(5)]
    assert [r["shard_id"] for r in records][::5] == [
        "shardId-000000000000",
        records[5]["shard_id"],
        "shardId-000000000003",
    ]
    # from LATEST the closed parents are skipped: nothing until something new arrives
    assert cli(server, "tail", "r", "--from", "latest").stdout == ""


def test_put_keys_and_its_errors(server, engine):
    stream = engine.create_stream("p", 2)
    keyed = cli(server, "put", "p", "--partition-key", "fixed", input="a\nb\r\n\nc")
    assert keyed.exit_code == 0, keyed.output
    assert keyed.stdout == "" and keyed.stderr == "sent 4 records to p\n"
    rows = stream.read_table().to_pylist()
    assert sorted(r["data"] for r in rows) == [b"", b"a", b"b", b"c"]  # line endings dropped, empty lines kept
    assert {r["partition_key"] for r in rows} == {"fixed"}

    bad = cli(server, "put", "p", "--key-field", "user", input='{"user": "u1"}\nnot json\n{"user": "u3"}\n')
    assert bad.exit_code == 1
    assert bad.stderr.splitlines()[-1] == "Error: line 2: not a JSON object with a 'user' field"
    assert stream.read_table().num_rows == 5  # the line before the bad one was sent, nothing after it

    both = cli(server, "put", "p", "-k", "x", "--key-field", "user", input="")
    assert both.exit_code == 2 and "not both" in both.stderr
