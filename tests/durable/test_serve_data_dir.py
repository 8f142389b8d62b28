"""``shardstream serve --data-dir``: streams and records survive a restart and a SIGKILL,
seen through real boto3 against real server processes on loopback."""

from __future__ import annotations

import sys

import pytest
from serve_process import ServeProcess

from shardstream.sequence import sequence_counter
from shardstream.testing import boto3_client

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals to a child process")


def read_shard(kinesis, stream: str, shard_id: str, iterator: str | None = None) -> list[dict]:
    if iterator is None:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")[
            "ShardIterator"
        ]
    out = []
    while True:
        resp = kinesis.get_records(ShardIterator=iterator, Limit=1000)
        out.extend(resp["Records"])
        if not resp["Records"]:
            return out
        iterator = resp["NextShardIterator"]


def put_some(kinesis, stream: str, n: int, tag: str) -> dict[str, list[tuple[str, bytes]]]:
    """Put ``n`` records; the acknowledged ones by shard, as (sequence number, data)."""
    acked: dict[str, list[tuple[str, bytes]]] = {}
    for start in range(0, n, 100):
        entries = [{"Data": f"{tag}-{i}".encode(), "PartitionKey": f"key-{i}"} for i in range(start, min(n, start + 100))]
        resp = kinesis.put_records(StreamName=stream, Records=entries)
        assert resp["FailedRecordCount"] == 0
        for entry, result in zip(entries, resp["Records"]):
            acked.setdefault(result["ShardId"], []).append((result["SequenceNumber"], entry["Data"]))
    return acked


def test_restart_keeps_streams_records_and_iterators(tmp_path):
    with ServeProcess("--data-dir", str(tmp_path)) as server:
        kinesis = boto3_client(server.url())
        kinesis.create_stream(StreamName="kept", ShardCount=2)
        kinesis.add_tags_to_stream(StreamName="kept", Tags={"owner": "me"})
        acked = put_some(kinesis, "kept", 300, "before")
        iterator = kinesis.get_shard_iterator(
            StreamName="kept", ShardId="shardId-000000000001", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        described = kinesis.describe_stream(StreamName="kept")["StreamDescription"]
        out, err = server.interrupt()
    assert server.proc.returncode == 0, err
    assert f"data in {tmp_path}" in out
    assert (tmp_path / "us-east-1" / "engine.json").is_file()

    with ServeProcess("--data-dir", str(tmp_path)) as server:
        kinesis = boto3_client(server.url())
        assert kinesis.list_streams()["StreamNames"] == ["kept"]
        assert kinesis.describe_stream(StreamName="kept")["StreamDescription"] == described
        assert kinesis.list_tags_for_stream(StreamName="kept")["Tags"] == [{"Key": "owner", "Value": "me"}]
        for shard_id, rows in acked.items():
            got = read_shard(kinesis, "kept", shard_id)
            assert [(r["SequenceNumber"], r["Data"]) for r in got] == rows
        # an iterator handed out before the restart still reads
        got = read_shard(kinesis, "kept", "shardId-000000000001", iterator)
        assert [r["SequenceNumber"] for r in got] == [seq for seq, _ in acked["shardId-000000000001"]]
        new = kinesis.put_record(StreamName="kept", Data=b"after", PartitionKey="key-0")
        last = acked[new["ShardId"]][-1][0]
        assert sequence_counter(new["SequenceNumber"]) == sequence_counter(last) + 1
        assert int(new["SequenceNumber"]) > int(last)
        server.interrupt()


def test_sigkill_loses_no_acknowledged_record(tmp_path):
    with ServeProcess("--data-dir", str(tmp_path)) as server:
        kinesis = boto3_client(server.url())
        kinesis.create_stream(StreamName="crash", ShardCount=2)
        acked = put_some(kinesis, "crash", 500, "x")
        single = kinesis.put_record(StreamName="crash", Data=b"single", PartitionKey="p")
        acked.setdefault(single["ShardId"], []).append((single["SequenceNumber"], b"single"))
        server.kill()

    with ServeProcess("--data-dir", str(tmp_path)) as server:
        kinesis = boto3_client(server.url())
        for shard_id, rows in acked.items():
            got = read_shard(kinesis, "crash", shard_id)
            assert [(r["SequenceNumber"], r["Data"]) for r in got] == rows
        # after a crash numbering skips ahead: no number is ever handed out twice
        new = kinesis.put_record(StreamName="crash", Data=b"after", PartitionKey="p")
        assert int(new["SequenceNumber"]) > int(acked[new["ShardId"]][-1][0]) + 1
        server.interrupt()


def test_sigkill_under_concurrent_put_record_loses_no_acknowledged_record(tmp_path):
    """Concurrent PutRecord (appended on the event loop, answered from the group commit) with the
    server SIGKILLed mid-load: every record acknowledged before the kill is there after a restart."""
    import base64
    import http.client
    import threading

    import orjson

    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Kinesis_20131202.PutRecord",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        "X-Amz-Date": "20240101T000000Z",
    }
    acked: dict[str, list[tuple[str, bytes]]] = {}
    lock = threading.Lock()
    enough = threading.Semaphore(0)
    refused: list = []

    def client(server, c: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            for i in range(100_000):
                data = f"c{c}-{i}".encode()
                body = {"StreamName": "load", "Data": base64.b64encode(data).decode(), "PartitionKey": f"k{c}-{i}"}
                conn.request("POST", "/", body=orjson.dumps(body), headers=headers)
                resp = conn.getresponse()
                out = orjson.loads(resp.read())
                if resp.status != 200:
                    refused.append(out)
                    return
                with lock:
                    acked.setdefault(out["ShardId"], []).append((out["SequenceNumber"], data))
                if i == 20:
                    enough.release()
        except (OSError, http.client.HTTPException):  # the kill: this put was never acknowledged
            pass
        finally:
            conn.close()

    with ServeProcess("--data-dir", str(tmp_path), "--durability", "sync") as server:
        kinesis = boto3_client(server.url())
        kinesis.create_stream(StreamName="load", ShardCount=3)
        threads = [threading.Thread(target=client, args=(server, c)) for c in range(8)]
        for t in threads:
            t.start()
        for _ in threads:  # every client has had puts acknowledged, and keeps putting
            assert enough.acquire(timeout=60)
        server.kill()
        for t in threads:
            t.join(30)
    assert not refused
    assert sum(len(rows) for rows in acked.values()) >= 8 * 21

    with ServeProcess("--data-dir", str(tmp_path)) as server:
        kinesis = boto3_client(server.url())
        for shard_id, rows in acked.items():
            got = {(r["SequenceNumber"], r["Data"]) for r in read_shard(kinesis, "load", shard_id)}
            assert set(rows) <= got  # unacknowledged puts may have made it too
        server.interrupt()


def test_second_server_on_the_same_directory_is_refused(tmp_path):
    with ServeProcess("--data-dir", str(tmp_path)) as server:
        other = ServeProcess("--data-dir", str(tmp_path))
        _, err = other.proc.communicate(timeout=other.timeout)
        assert other.proc.returncode == 1
        assert "is in use by another engine" in err
        server.interrupt()
