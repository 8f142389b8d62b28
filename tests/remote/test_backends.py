"""``shardstream.connect(url)``: the same calls on every backend (memory, file, a server, aws:// at moto
and at a shardstream server), ``file://`` durability, and the URLs ``connect`` refuses."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import pytest

import shardstream
from shardstream import RECORD_SCHEMA, ResourceNotFoundException
from shardstream.client import RemoteEngine
from shardstream.consumer import Consumer, RecordProcessor
from shardstream.unpack import USER_RECORD_SCHEMA

BACKENDS = ["memory", "file", "http", "aws-moto", "aws-shardstream"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, aws):
    """An engine from ``connect(url, retries=2)`` for each kind of URL."""
    name = request.param
    if name == "memory":
        engine = shardstream.connect("memory://", retries=2)
    elif name == "file":
        engine = shardstream.connect(f"file://{tmp_path}/data", retries=2)
    elif name == "http":
        engine = shardstream.connect(request.getfixturevalue("server").url, retries=2)
    else:  # real-AWS code: region from the URL, endpoint and keys from the standard settings
        target = request.getfixturevalue("moto_url" if name == "aws-moto" else "eu_server")
        aws.setenv("AWS_ENDPOINT_URL_KINESIS", target if isinstance(target, str) else target.url)
        aws.profile("default", "AKIDPROFILE", "profile-secret")
        engine = shardstream.connect("aws://eu-west-1", retries=2)
        assert isinstance(engine, RemoteEngine) and engine.region == "eu-west-1"
    yield engine
    engine.close()


def _wait_gone(engine, name: str, timeout: float = 10.0) -> ResourceNotFoundException:
    deadline = time.monotonic() + timeout
    while True:
        try:
            engine.stream(name)
        except ResourceNotFoundException as exc:
            return exc
        assert time.monotonic() < deadline, f"{name} still there after {timeout} s"
        time.sleep(0.02)


def test_the_same_calls_on_every_backend(backend):
    name = f"orders-{uuid.uuid4().hex[:8]}"  # moto's state lives as long as the test session
    stream = backend.create_stream(name, 2)
    assert name in backend.list_streams()["StreamNames"]

    first = stream.put_record(b"first", "user-1")
    assert first["ShardId"].startswith("shardId-") and first["SequenceNumber"].isdigit()
    keys = [f"user-{i}" for i in range(1_200)]  # three PutRecords calls remotely
    written = stream.put_batch(keys, [b"%d" % i for i in range(1_200)])
    assert written.num_rows == 1_200 and written.column("sequence_number").null_count == 0

    it = stream.get_shard_iterator(first["ShardId"], "AT_SEQUENCE_NUMBER", first["SequenceNumber"])["ShardIterator"]
    record = stream.get_records(it, 1)["Records"][0]
    assert (record["Data"], record["PartitionKey"], record["SequenceNumber"]) == (
        b"first",
        "user-1",
        first["SequenceNumber"],
    )
    assert record["ApproximateArrivalTimestamp"].utcoffset() == dt.timedelta(0)  # aware, UTC, as embedded
    it = stream.get_shard_iterator(first["ShardId"], "TRIM_HORIZON")["ShardIterator"]
    batch = stream.get_record_batch(it, 50)["Records"]
    assert batch.schema.equals(USER_RECORD_SCHEMA) and batch.num_rows > 0  # user records, as embedded
    assert set(batch.column("shard_id").to_pylist()) == {first["ShardId"]}  # whatever the endpoint's numbering

    table = stream.read_table()
    assert table.schema.equals(USER_RECORD_SCHEMA)
    assert stream.read_table(deaggregate=False).schema.equals(RECORD_SCHEMA)
    assert sorted(table.column("data").to_pylist()) == sorted([b"first"] + [b"%d" % i for i in range(1_200)])

    description = backend.describe_stream(name)["StreamDescription"]
    assert description["StreamName"] == name and description["StreamStatus"] == "ACTIVE"
    assert len(description["Shards"]) == 2
    assert stream.describe_summary()["StreamDescriptionSummary"]["OpenShardCount"] == 2

    backend.delete_stream(name)
    gone = _wait_gone(backend, name)
    assert gone.response["Error"]["Code"] == "ResourceNotFoundException"
    assert gone.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_file_url_is_durable_across_engines(tmp_path):
    url = f"file://{tmp_path}/data"
    engine = shardstream.connect(url)
    assert engine.data_dir is not None
    engine.create_stream("kept", 1).put_batch(["k"] * 3, [b"a", b"b", b"c"])
    engine.close()
    again = shardstream.connect(url)
    try:
        assert again.stream("kept").read_table().column("data").to_pylist() == [b"a", b"b", b"c"]
    finally:
        again.close()


def test_file_url_may_be_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = shardstream.connect("file://rel/dir")
    try:
        engine.create_stream("s", 1).put_record(b"x", "k")
    finally:
        engine.close()
    assert (tmp_path / "rel" / "dir").is_dir() and any((tmp_path / "rel" / "dir").iterdir())


@pytest.mark.parametrize(
    "url",
    ["ftp://x", "file://", "aws://eu-west-1/streams", "aws://eu-west-1?x=1", "kinesis://x"],
)
def test_unsupported_urls_are_refused(url):
    with pytest.raises(ValueError):
        shardstream.connect(url)


def test_aws_url_resolves_the_region_and_endpoint_without_a_request(aws):
    aws.profile("default", "AKIDPROFILE", "profile-secret", region="ap-south-1")
    engine = shardstream.connect("aws://eu-west-1")
    assert (engine.region, engine.url) == ("eu-west-1", "https://kinesis.eu-west-1.amazonaws.com")
    engine = shardstream.connect("aws://")  # the profile's region
    assert (engine.region, engine.url) == ("ap-south-1", "https://kinesis.ap-south-1.amazonaws.com")
    aws.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert shardstream.connect("aws://").region == "us-west-2"
    with pytest.raises(ValueError, match="region is given twice"):
        shardstream.connect("aws://eu-west-1", region="us-west-2")


def test_aws_url_without_a_region_is_a_clear_error(aws):
    aws.profile("default", "AKIDPROFILE", "profile-secret")
    with pytest.raises(ValueError, match="no AWS region"):
        shardstream.connect("aws://")


class _Collect(RecordProcessor):
    """Keeps every record's data (shared list, a lock) and checkpoints each batch."""

    def __init__(self, seen: list, lock: threading.Lock):
        self.seen, self.lock = seen, lock

    def initialize(self, shard_id, starting_position):
        self.shard_id = shard_id

    def process(self, records, checkpointer, millis_behind_latest):
        with self.lock:
            self.seen.extend((self.shard_id, d) for d in records.column("data").to_pylist())
        checkpointer.checkpoint()


def test_a_consumer_reads_real_aws_code_at_moto(aws, moto_url):
    aws.setenv("AWS_ENDPOINT_URL_KINESIS", moto_url)
    aws.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    aws.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    name = f"consumed-{uuid.uuid4().hex[:8]}"
    with shardstream.connect("aws://eu-west-1") as engine:
        stream = engine.create_stream(name, 2)
        written = stream.put_batch([f"k{i}" for i in range(300)], [b"%d" % i for i in range(300)])
        shard_of = dict(zip([b"%d" % i for i in range(300)], written.column("shard_id").to_pylist()))
        seen: list = []
        lock = threading.Lock()
        with Consumer(stream, "g", lambda: _Collect(seen, lock), failover_ms=300, idle_ms=20) as consumer:
            assert consumer.wait_until(lambda: len(seen) >= 300)
        assert sorted(d for _, d in seen) == sorted(shard_of)
        assert all(shard_of[d] == shard for shard, d in seen)  # each record read from the shard it went to
