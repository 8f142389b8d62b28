"""shardstream.connect: the same API embedded and over HTTP, and processes sharing a stream."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import shardstream
from shardstream import ResourceInUseException, ResourceNotFoundException, ValidationException
from shardstream.client import RemoteEngine
from shardstream.testing import start_server
from shardstream.unpack import USER_RECORD_SCHEMA


def test_memory_url_gives_an_embedded_engine():
    assert isinstance(shardstream.connect("memory://"), shardstream.Engine)
    with pytest.raises(ValueError):
        shardstream.connect("ftp://x")


def test_remote_engine_round_trip(server):
    remote = shardstream.connect(server.url)
    assert isinstance(remote, RemoteEngine)
    s = remote.create_stream("remote", 3, retention_hours=48)
    assert server.engine.stream("remote").retention_hours == 48
    first = s.put_record(b"hello", "user-1")
    local = server.engine.stream("remote")
    it = local.get_shard_iterator(first["ShardId"], "AT_SEQUENCE_NUMBER", first["SequenceNumber"])["ShardIterator"]
    assert local.get_records(it)["Records"][0]["Data"] == b"hello"
    keys = [f"k{i}" for i in range(1_234)]  # three PutRecords requests
    result = s.put_batch(keys, [f"v{i}".encode() for i in range(1_234)])
    assert result.num_rows == 1_234 and result.column("sequence_number").null_count == 0
    remote_table = s.read_table()
    local_table = server.engine.stream("remote").read_table()
    assert remote_table.num_rows == local_table.num_rows == 1_235
    assert sorted(remote_table.column("sequence_number").to_pylist()) == sorted(
        local_table.column("sequence_number").to_pylist()
    )
    assert remote_table.schema.equals(USER_RECORD_SCHEMA)  # user records by default
    assert s.read_table(deaggregate=False).schema.equals(shardstream.RECORD_SCHEMA)  # as stored
    by_seq = dict(zip(local_table.column("sequence_number").to_pylist(), local_table.column("data").to_pylist()))
    assert all(by_seq[q] == d for q, d in zip(remote_table.column("sequence_number").to_pylist(),
                                              remote_table.column("data").to_pylist()))


def test_remote_errors_are_the_engine_errors(server):
    remote = shardstream.connect(server.url)
    with pytest.raises(ResourceNotFoundException) as ei:
        remote.stream("missing")
    assert str(ei.value) == "Stream missing under account 000000000000 not found."
    remote.create_stream("dup", 1)
    with pytest.raises(ResourceInUseException) as ei:
        remote.create_stream("dup", 1)
    assert str(ei.value) == "Stream dup under account 000000000000 already exists."
    with pytest.raises(ValidationException) as ei:
        remote.stream("dup").put_record(b"x", "")
    assert "Member must have length greater than or equal to 1" in str(ei.value)


def test_remote_resharding_and_reads_follow_lineage(server):
    remote = shardstream.connect(server.url)
    s = remote.create_stream("lin", 2)
    s.put_batch([f"k{i}" for i in range(300)], [b"a"] * 300)
    s.update_shard_count(4)
    s.put_batch([f"k{i}" for i in range(300)], [b"b"] * 300)
    table = s.read_table()
    assert table.num_rows == 600
    per_key: dict = {}
    for k, d in zip(table.column("partition_key").to_pylist(), table.column("data").to_pylist()):
        per_key.setdefault(k, []).append(d)
    assert all(v == [b"a", b"b"] for v in per_key.values())


def test_two_processes_share_one_stream(server):
    remote = shardstream.connect(server.url)
    s = remote.create_stream("shared", 2)
    writer = textwrap.dedent(f"""
        import shardstream
        s = shardstream.connect({server.url!r}).stream("shared")
        s.put_batch([f"p{{i}}" for i in range(500)], [b"from-child"] * 500)
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", writer], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    s.put_record(b"from-parent", "parent")
    data = s.read_table().column("data").to_pylist()
    assert data.count(b"from-child") == 500 and data.count(b"from-parent") == 1


def test_connect_signs_requests_the_server_can_verify():
    auth = {"keys": {"AKIDCLIENT": {"secret": "s3cret", "actions": "*", "streams": "*"}}}
    with start_server(auth=auth) as server:
        good = shardstream.connect(server.url, access_key_id="AKIDCLIENT", secret_access_key="s3cret")
        good.create_stream("signed", 1).put_record(b"x", "k")
        assert good.stream("signed").read_table().num_rows == 1
        bad = shardstream.connect(server.url, access_key_id="AKIDCLIENT", secret_access_key="wrong")
        with pytest.raises(shardstream.KinesisError) as ei:
            bad.list_streams()
        assert ei.value.error_type == "InvalidSignatureException"
