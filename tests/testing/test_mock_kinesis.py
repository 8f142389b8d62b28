"""mock_kinesis(): real boto3 clients answered in process by an embedded engine, through the server's pipeline."""

from __future__ import annotations

import asyncio
import os
import socket
import threading

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

import shardstream
from shardstream.testing import boto3_client, mock_kinesis, start_server

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=5)


def client(region: str = "us-east-1", endpoint_url: str | None = None, validate: bool = True):
    return boto3.session.Session().client(
        "kinesis",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="x",
        config=NO_RETRIES.merge(Config(parameter_validation=validate)),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_create_put_get_list_through_boto3():
    with mock_kinesis() as engine:
        kinesis = client()
        kinesis.create_stream(StreamName="orders", ShardCount=2)
        kinesis.get_waiter("stream_exists").wait(StreamName="orders", WaiterConfig={"Delay": 0.01})
        put = kinesis.put_record(StreamName="orders", Data=b"hello", PartitionKey="k1")
        puts = kinesis.put_records(
            StreamName="orders", Records=[{"Data": bytes([i]) * 3, "PartitionKey": f"k{i}"} for i in range(10)]
        )
        assert puts["FailedRecordCount"] == 0
        shard = put["ShardId"]
        iterator = kinesis.get_shard_iterator(StreamName="orders", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        assert records[0]["Data"] == b"hello" and records[0]["SequenceNumber"] == put["SequenceNumber"]
        assert kinesis.list_streams()["StreamNames"] == ["orders"]
        # the engine behind the mock is the one given to the test
        assert engine.list_streams()["StreamNames"] == ["orders"]
        stored = engine.stream("orders").read_table()
        assert stored.num_rows == 11


def _error(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def _bad_calls(kinesis):
    long_key = "k" * 257
    return [
        lambda: kinesis.describe_stream_summary(StreamName="missing"),
        lambda: kinesis.create_stream(StreamName="bad name!", ShardCount=1),
        lambda: kinesis.create_stream(StreamName="dup", ShardCount=1),  # exists already
        lambda: kinesis.put_record(StreamName="dup", Data=b"x", PartitionKey=long_key),
        lambda: kinesis.put_record(StreamName="dup", Data=b"x" * (1024 * 1024 + 1), PartitionKey="k"),
        lambda: kinesis.put_records(StreamName="dup", Records=[{"Data": b"x", "PartitionKey": ""}]),
        lambda: kinesis.get_records(ShardIterator="not-an-iterator"),
        lambda: kinesis.get_shard_iterator(
            StreamName="dup", ShardId="shardId-000000000009", ShardIteratorType="TRIM_HORIZON"
        ),
        lambda: kinesis.delete_stream(StreamName="missing"),
        lambda: kinesis.split_shard(StreamName="dup", ShardToSplit="shardId-000000000000", NewStartingHashKey="0"),
    ]


def test_errors_are_the_servers_codes_and_messages():
    with start_server() as server:
        remote = client(endpoint_url=server.url, validate=False)  # the server validates, not botocore
        remote.create_stream(StreamName="dup", ShardCount=1)
        over_http = [_error(call) for call in _bad_calls(remote)]
    with mock_kinesis() as engine:
        engine.create_stream("dup", 1)
        in_process = [_error(call) for call in _bad_calls(client(validate=False))]
    assert in_process == over_http
    codes = {code for _, code, _ in in_process}
    assert {"ResourceNotFoundException", "ValidationException", "ResourceInUseException"} <= codes
    assert "InvalidArgumentException" in codes


@mock_kinesis()
def test_decorated_function_gets_a_fresh_engine():
    kinesis = client()
    assert kinesis.list_streams()["StreamNames"] == []  # each call of a decorated function starts empty
    kinesis.create_stream(StreamName="decorated", ShardCount=1)
    assert kinesis.list_streams()["StreamNames"] == ["decorated"]


def test_decorated_function_runs_twice_independently():
    test_decorated_function_gets_a_fresh_engine()
    test_decorated_function_gets_a_fresh_engine()


def test_decorated_coroutine_function():
    engine = shardstream.Engine()

    @mock_kinesis(engine)
    async def work():
        kinesis = client()
        await asyncio.sleep(0)  # inside a running event loop: the requests need none of it
        kinesis.create_stream(StreamName="async", ShardCount=1)
        return kinesis.put_record(StreamName="async", Data=b"a", PartitionKey="k")["ShardId"]

    assert asyncio.run(work()) == "shardId-000000000000"
    assert engine.list_streams()["StreamNames"] == ["async"]


def test_a_client_made_before_entering_is_answered_and_restored_after(monkeypatch):
    with start_server() as server:
        before = boto3_client(server.url)  # points at a real server
        with mock_kinesis() as engine:
            before.create_stream(StreamName="mocked", ShardCount=1)
            assert engine.list_streams()["StreamNames"] == ["mocked"]
        assert server.engine.list_streams()["StreamNames"] == []
        # leaving the mock: the same client talks to its server again
        before.create_stream(StreamName="real", ShardCount=1)
        assert server.engine.list_streams()["StreamNames"] == ["real"]


def test_default_session_clients_and_environment(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    with mock_kinesis(region="eu-west-1") as engine:
        kinesis = boto3.client("kinesis")  # boto3's default session: no keys, no region configured
        kinesis.create_stream(StreamName="default", ShardCount=1)
        assert engine.region == "eu-west-1"
        assert engine.list_streams()["StreamNames"] == ["default"]
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        assert key not in os.environ


def test_other_services_are_untouched():
    port = free_port()  # nothing listens there
    with mock_kinesis():
        sqs = boto3.session.Session().client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            config=NO_RETRIES,
        )
        with pytest.raises(EndpointConnectionError):  # it really tried to connect
            sqs.list_queues()


def test_after_leaving_requests_go_out_again():
    port = free_port()
    with mock_kinesis():
        kinesis = boto3.session.Session().client(
            "kinesis",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            config=NO_RETRIES,
        )
        assert kinesis.list_streams()["StreamNames"] == []
    with pytest.raises(EndpointConnectionError):
        kinesis.list_streams()


def test_nested_mocks_innermost_answers():
    outer_engine, inner_engine = shardstream.Engine(), shardstream.Engine()
    kinesis = client()
    with mock_kinesis(outer_engine):
        kinesis.create_stream(StreamName="outer", ShardCount=1)
        with mock_kinesis(inner_engine) as inner:
            assert inner is inner_engine
            kinesis.create_stream(StreamName="inner", ShardCount=1)
        kinesis.create_stream(StreamName="outer-again", ShardCount=1)
    assert outer_engine.list_streams()["StreamNames"] == ["outer", "outer-again"]
    assert inner_engine.list_streams()["StreamNames"] == ["inner"]


def test_a_mock_object_activates_once_at_a_time():
    mock = mock_kinesis()
    with mock:
        with pytest.raises(RuntimeError, match="already active"):
            mock.start()
    assert mock.engine is None


def test_clients_in_other_threads_are_answered_too():
    with mock_kinesis() as engine:
        engine.create_stream("threads", 1)
        errors = []

        def work(n):
            try:
                kinesis = client()
                for i in range(20):
                    kinesis.put_record(StreamName="threads", Data=b"x", PartitionKey=f"{n}-{i}")
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert engine.stream("threads").read_table().num_rows == 80


def test_subscribe_to_shard_event_stream_in_process():
    with mock_kinesis() as engine:
        kinesis = client()
        kinesis.create_stream(StreamName="fan", ShardCount=1)
        arn = kinesis.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"]["StreamARN"]
        consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]
        engine.stream("fan").put_record(b"before", "k")
        response = kinesis.subscribe_to_shard(
            ConsumerARN=consumer["ConsumerARN"],
            ShardId="shardId-000000000000",
            StartingPosition={"Type": "TRIM_HORIZON"},
        )
        events = response["EventStream"]
        seen = []
        for event in events:
            records = event["SubscribeToShardEvent"]["Records"]
            seen += [r["Data"] for r in records]
            if seen:
                break
        events.close()
        assert seen == [b"before"]


def test_durable_engine_requests_run_on_the_dispatchers_loop(tmp_path):
    engine = shardstream.Engine(data_dir=tmp_path / "data", durability="none")
    try:
        with mock_kinesis(engine):
            kinesis = client()
            kinesis.create_stream(StreamName="durable", ShardCount=1)
            kinesis.put_record(StreamName="durable", Data=b"kept", PartitionKey="k")
            kinesis.put_records(StreamName="durable", Records=[{"Data": b"y" * 300_000, "PartitionKey": "big"}])
        assert engine.stream("durable").read_table().num_rows == 2
    finally:
        engine.close()


def test_connect_aws_and_the_producer_run_against_the_mock(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL_KINESIS", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_kinesis(region="eu-west-1") as engine:
        remote = shardstream.connect("aws://eu-west-1")  # a botocore client for real Kinesis: answered in process
        stream = remote.create_stream("orders", 2)
        with shardstream.Producer(stream, linger_ms=1, aggregate=True) as producer:
            futures = [producer.send(f"order {i}".encode(), partition_key=f"c{i % 5}") for i in range(100)]
        assert all(f.result()["SequenceNumber"] for f in futures)
        assert engine.stream("orders").read_table().num_rows == 100  # user records, de-aggregated
        assert engine.stream("orders").read_table(deaggregate=False).num_rows < 100
