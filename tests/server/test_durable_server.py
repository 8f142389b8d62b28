"""A durable (``durability="sync"``) engine behind the HTTP server: engine calls run off the event loop,
so concurrent puts are all acknowledged, all readable, and share fsyncs (group commit)."""

from __future__ import annotations

import base64
import http.client
import threading

import orjson
import pytest

import shardstream
from shardstream.server.app import _Offload
from shardstream.testing import start_server

TARGET = "Kinesis_20131202."
HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/kinesis/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
    "X-Amz-Date": "20240101T000000Z",
}
CLIENTS = 16
PUTS = 15


def post(conn: http.client.HTTPConnection, operation: str, params: dict) -> tuple[int, dict]:
    conn.request("POST", "/", body=orjson.dumps(params), headers={**HEADERS, "X-Amz-Target": TARGET + operation})
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, (orjson.loads(body) if body else {})


@pytest.fixture
def durable(tmp_path):
    engine = shardstream.Engine(data_dir=tmp_path / "data", durability="sync")
    with start_server(engine) as server:
        yield server
    engine.close()


def test_offload_only_for_durable_engines(tmp_path):
    assert not _Offload.blocking(shardstream.Engine())
    engine = shardstream.Engine(data_dir=tmp_path, durability="sync")
    try:
        assert _Offload.blocking(engine)
    finally:
        engine.close()


def test_concurrent_sync_puts_are_acknowledged_readable_and_share_fsyncs(durable):
    conn = http.client.HTTPConnection("127.0.0.1", durable.port, timeout=30)
    assert post(conn, "CreateStream", {"StreamName": "d", "ShardCount": 2})[0] == 200
    stream = durable.engine.stream("d")
    flushes = []
    real_flush = stream.store.flush

    def counting_flush(*args, **kwargs):
        if kwargs.get("sync"):
            flushes.append(1)
        return real_flush(*args, **kwargs)

    stream.store.flush = counting_flush  # observe the group commits of this stream
    acked: dict[bytes, str] = {}
    errors: list = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(c: int) -> None:
        mine = http.client.HTTPConnection("127.0.0.1", durable.port, timeout=30)
        try:
            start.wait()
            for i in range(PUTS):
                data = f"c{c}-r{i}".encode()
                params = {"StreamName": "d", "Data": base64.b64encode(data).decode(), "PartitionKey": f"k{c}-{i}"}
                status, out = post(mine, "PutRecord", params)
                with lock:
                    if status == 200:
                        acked[data] = out["SequenceNumber"]
                    else:
                        errors.append((status, out))
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            mine.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(acked) == CLIENTS * PUTS
    # every acknowledged record is readable, with the sequence number it was acknowledged with
    table = stream.read_table()
    got = dict(zip(table.column("data").to_pylist(), table.column("sequence_number").to_pylist()))
    assert got == acked
    # a put returns after its fsync, and concurrent puts waited for shared ones
    assert 1 <= len(flushes) < CLIENTS * PUTS
    # the event loop kept serving throughout
    assert post(conn, "ListStreams", {})[1]["StreamNames"] == ["d"]
    conn.close()


def test_durable_reads_and_errors_through_the_pool(durable):
    conn = http.client.HTTPConnection("127.0.0.1", durable.port, timeout=30)
    assert post(conn, "CreateStream", {"StreamName": "r", "ShardCount": 1})[0] == 200
    records = [{"Data": base64.b64encode(bytes([i])).decode(), "PartitionKey": "k"} for i in range(50)]
    status, out = post(conn, "PutRecords", {"StreamName": "r", "Records": records})
    assert status == 200 and out["FailedRecordCount"] == 0
    status, out = post(
        conn,
        "GetShardIterator",
        {"StreamName": "r", "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"},
    )
    status, out = post(conn, "GetRecords", {"ShardIterator": out["ShardIterator"]})
    assert status == 200 and [r["Data"] for r in out["Records"]] == [r["Data"] for r in records]
    # a KinesisError raised in a pool thread is answered as usual
    status, out = post(conn, "DescribeStreamSummary", {"StreamName": "nope"})
    assert status == 400 and out["__type"] == "ResourceNotFoundException"
    conn.close()


def test_unexpected_error_in_the_pool_is_a_500_and_not_fatal(durable, monkeypatch, caplog):
    from shardstream.server import actions

    def boom(engine, params):
        raise RuntimeError("kaboom in a pool thread")

    monkeypatch.setitem(actions.ACTIONS, "DescribeLimits", boom)
    conn = http.client.HTTPConnection("127.0.0.1", durable.port, timeout=30)
    with caplog.at_level("ERROR", logger="shardstream.server"):
        assert post(conn, "DescribeLimits", {}) == (500, {"__type": "InternalFailure"})
    assert "kaboom in a pool thread" in caplog.text
    assert post(conn, "ListStreams", {})[0] == 200
    conn.close()


def test_put_record_that_would_block_the_loop_runs_on_the_pool(durable, monkeypatch):
    """PutRecord appends on the event loop only when that cannot block; an on-demand stream (it may
    scale out, writing files) goes to the pool instead, and both are answered the same way."""
    pooled = []
    real_call = _Offload.call

    async def spy(self, engine, fn, *args, **kwargs):
        pooled.append(args[1])  # the operation
        return await real_call(self, engine, fn, *args, **kwargs)

    monkeypatch.setattr(_Offload, "call", spy)
    conn = http.client.HTTPConnection("127.0.0.1", durable.port, timeout=30)
    assert post(conn, "CreateStream", {"StreamName": "p", "ShardCount": 1})[0] == 200
    assert post(conn, "CreateStream", {"StreamName": "od", "StreamModeDetails": {"StreamMode": "ON_DEMAND"}})[0] == 200
    pooled.clear()
    sent = {"p": [], "od": []}
    for i in range(5):
        for name in sent:
            status, out = post(conn, "PutRecord", {"StreamName": name, "Data": "eA==", "PartitionKey": f"k{i}"})
            assert status == 200, out
            sent[name].append(out["SequenceNumber"])
    conn.close()
    assert pooled == ["PutRecord"] * 5  # the on-demand stream's, not the provisioned one's
    for name, seqs in sent.items():
        assert sorted(durable.engine.stream(name).read_table().column("sequence_number").to_pylist()) == sorted(seqs)
