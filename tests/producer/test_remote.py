"""Producer over HTTP: a shardstream server on loopback, and moto's Kinesis in server mode."""

from __future__ import annotations

import time

import pytest
from moto.server import ThreadedMotoServer

import shardstream
from shardstream import Producer, ResourceNotFoundException
from shardstream.testing import start_server

from .helpers import RecordingStream, payloads_by_key, read_back


@pytest.fixture(scope="module")
def server():
    with start_server() as handle:
        yield handle


@pytest.fixture(scope="module")
def moto_url():
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        moto.stop()


def _sent(n: int, keys: int) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for i in range(n):
        out.setdefault(f"key-{i % keys}", []).append(b'{"i": %d}' % i)
    return out


def _send_all(producer, n: int, keys: int) -> list:
    return [producer.send(b'{"i": %d}' % i, f"key-{i % keys}") for i in range(n)]


def test_a_shardstream_server(server):
    server.engine.create_stream("remote", shard_count=3)
    stream = shardstream.connect(server.url).stream("remote")
    recording = RecordingStream(stream)
    with Producer(recording, linger_ms=1000, max_batch_records=100) as producer:
        futures = _send_all(producer, 700, 9)
    assert all(f.result()["SequenceNumber"] for f in futures)
    assert payloads_by_key(stream) == _sent(700, 9)
    calls = [n for n, _ in recording.calls]
    assert sum(calls) == 700 and max(calls) == 100 and len(calls) <= 15
    assert producer.stats()["put_calls"] == len(recording.calls)


@pytest.mark.parametrize("ordered", [False, True])
def test_several_calls_in_flight(server, ordered):
    name = f"in-flight-{ordered}"
    server.engine.create_stream(name, shard_count=4)
    stream = shardstream.connect(server.url).stream(name)
    with Producer(stream, linger_ms=2, max_in_flight=4, max_batch_records=50, ordered=ordered) as producer:
        futures = _send_all(producer, 2000, 40 if ordered else 7)
    assert all(f.result()["SequenceNumber"] for f in futures)
    stored = payloads_by_key(stream)
    expected = _sent(2000, 40 if ordered else 7)
    if ordered:
        assert stored == expected
    else:
        assert {k: sorted(v) for k, v in stored.items()} == {k: sorted(v) for k, v in expected.items()}


def test_a_stream_name_on_a_remote_engine(server):
    server.engine.create_stream("named", shard_count=1)
    with Producer("named", engine=shardstream.connect(server.url), linger_ms=1) as producer:
        assert producer.send(b"x", "k").result(timeout=10)["ShardId"] == "shardId-000000000000"


def test_a_deleted_remote_stream_fails_the_futures(server):
    server.engine.create_stream("doomed", shard_count=1)
    stream = shardstream.connect(server.url).stream("doomed")
    with Producer(stream, linger_ms=1, retry_deadline=5) as producer:
        assert producer.send(b"x", "k").result(timeout=10)
        server.engine.delete_stream("doomed")
        futures = _send_all(producer, 20, 3)
        for f in futures:
            assert isinstance(f.exception(timeout=10), ResourceNotFoundException)


def test_an_unreachable_server_is_retried_then_fails(server):
    # a port nothing listens on: connection refused, retried until the deadline
    with start_server() as gone:
        gone.engine.create_stream("s", shard_count=1)
        stream = shardstream.connect(gone.url).stream("s")
    producer = Producer(stream, linger_ms=0, max_retries=3, backoff_base=0.001, backoff_cap=0.005)
    future = producer.send(b"x", "k")
    error = future.exception(timeout=30)
    assert error is not None  # the transport's error, after the retries
    producer.close()
    assert producer.stats()["kinesis_records_retried"] == 3


def test_moto_kinesis(moto_url):
    engine = shardstream.connect(moto_url)
    engine.create_stream("moto-stream", 2)
    stream = engine.stream("moto-stream")
    deadline = time.monotonic() + 10
    while stream.describe_summary()["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with Producer(stream, linger_ms=5) as producer:
        futures = _send_all(producer, 300, 5)
    shard_ids = {s["ShardId"] for s in stream.list_shards()}
    assert all(f.result()["ShardId"] in shard_ids for f in futures)
    assert payloads_by_key(stream) == _sent(300, 5)
    assert sum(len(rs) for rs in read_back(stream).values()) == 300
