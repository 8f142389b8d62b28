"""Queues through real boto3 against ``shardstream.testing.start_server`` (the Kinesis wire protocol)."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError
from conftest import FakeClock

import shardstream
from shardstream.testing import boto3_client, start_server


@pytest.fixture
def env():
    clock = FakeClock()
    engine = shardstream.Engine(clock=clock)
    with start_server(engine) as server:
        kinesis = boto3_client(server.url)
        kinesis.create_stream(StreamName="jobs", StreamModeDetails={"StreamMode": "ON_DEMAND"})
        arn = kinesis.describe_stream_summary(StreamName="jobs")["StreamDescriptionSummary"]["StreamARN"]
        yield clock, engine, kinesis, arn
    engine.close()


def code_of(call) -> str:
    with pytest.raises(ClientError) as ei:
        call()
    return ei.value.response["Error"]["Code"]


def create(kinesis, arn, name="work", **attributes):
    config = [{"StreamARN": arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
    kw = {"QueueAttributes": attributes} if attributes else {}
    return kinesis.create_queue(QueueName=name, StreamConfigurationList=config, **kw)["QueueDescription"]["QueueARN"]


def test_every_operation_over_the_wire(env):
    clock, engine, kinesis, arn = env
    q = create(
        kinesis,
        arn,
        VisibilityTimeoutSeconds=5,
        DeadLetterConfiguration={"TargetType": "BUILT_IN", "MaxReceiveCount": 2},
    )
    desc = kinesis.describe_queue(QueueARN=q)["QueueDescription"]
    assert desc["QueueStatus"] == "ACTIVE" and desc["QueueAttributes"]["VisibilityTimeoutSeconds"] == 5
    assert [s["QueueName"] for s in kinesis.list_queues()["QueueSummaries"]] == ["work"]
    assert kinesis.describe_stream_summary(StreamName="jobs")["StreamDescriptionSummary"]["QueueCount"] == 1
    kinesis.put_records(
        StreamName="jobs", Records=[{"Data": f"d{i}".encode(), "PartitionKey": f"k{i}"} for i in range(3)]
    )
    records = kinesis.receive_queue_records(QueueARN=q, Limit=10, WaitTimeSeconds=1)["QueueRecords"]
    assert sorted(r["Data"] for r in records) == [b"d0", b"d1", b"d2"]
    assert {r["ReceiveCount"] for r in records} == {1}
    ack = kinesis.acknowledge_queue_records(QueueARN=q, Entries=[{"ReceiptHandle": records[0]["ReceiptHandle"]}])
    assert ack["Failed"] == [] and len(ack["Successful"]) == 1
    again = kinesis.acknowledge_queue_records(QueueARN=q, Entries=[{"ReceiptHandle": records[0]["ReceiptHandle"]}])
    assert again["Successful"] == [] and again["Failed"][0]["ErrorCode"] == "InvalidArgumentException"
    vis = [{"ReceiptHandle": r["ReceiptHandle"], "VisibilityTimeoutSeconds": 0} for r in records[1:]]
    assert kinesis.update_queue_records_visibility(QueueARN=q, Entries=vis)["Failed"] == []
    second = kinesis.receive_queue_records(QueueARN=q, WaitTimeSeconds=1)["QueueRecords"]
    assert sorted(r["ReceiveCount"] for r in second) == [2, 2]
    clock.advance(5_000)
    dead = kinesis.receive_dead_letter_queue_records(QueueARN=q, WaitTimeSeconds=1)["QueueRecords"]
    assert sorted(r["Data"] for r in dead) == sorted(r["Data"] for r in second)
    restore = kinesis.restore_dead_letter_queue_records(
        QueueARN=q, Entries=[{"ReceiptHandle": dead[0]["ReceiptHandle"]}]
    )
    assert restore["Failed"] == []
    dvis = [{"ReceiptHandle": dead[1]["ReceiptHandle"], "VisibilityTimeoutSeconds": 0}]
    assert kinesis.update_dead_letter_queue_records_visibility(QueueARN=q, Entries=dvis)["Failed"] == []
    [dead1] = kinesis.receive_dead_letter_queue_records(QueueARN=q, WaitTimeSeconds=1)["QueueRecords"]
    discard = kinesis.acknowledge_dead_letter_queue_records(
        QueueARN=q, Entries=[{"ReceiptHandle": dead1["ReceiptHandle"]}]
    )
    assert discard["Failed"] == []
    [back] = kinesis.receive_queue_records(QueueARN=q, WaitTimeSeconds=1)["QueueRecords"]
    assert back["ReceiveCount"] == 1 and back["RecordId"] == dead[0]["RecordId"]
    kinesis.tag_resource(ResourceARN=q, Tags={"team": "a"})
    assert kinesis.list_tags_for_resource(ResourceARN=q)["Tags"] == [{"Key": "team", "Value": "a"}]
    updated = kinesis.update_queue(QueueARN=q, QueueAttributes={"VisibilityTimeoutSeconds": 7})["QueueDescription"]
    assert updated["QueueAttributes"]["VisibilityTimeoutSeconds"] == 7
    assert code_of(lambda: kinesis.delete_stream(StreamName="jobs")) == "ResourceInUseException"
    kinesis.delete_queue(QueueARN=q)
    assert code_of(lambda: kinesis.describe_queue(QueueARN=q)) == "ResourceNotFoundException"


def test_errors_over_the_wire(env):
    clock, engine, kinesis, arn = env
    q = create(kinesis, arn)
    assert code_of(lambda: kinesis.receive_queue_records(QueueARN=q, Limit=11)) == "ValidationException"
    assert code_of(lambda: kinesis.receive_queue_records(QueueARN=q, WaitTimeSeconds=21)) == "ValidationException"
    assert code_of(lambda: create(kinesis, arn)) == "ResourceInUseException"
    assert code_of(lambda: create(kinesis, arn, "x", VisibilityTimeoutSeconds=43_201)) == "ValidationException"
    kinesis.create_stream(StreamName="prov", ShardCount=1)
    assert code_of(lambda: create(kinesis, arn.replace("jobs", "prov"), "p")) == "InvalidArgumentException"
    assert code_of(lambda: kinesis.describe_queue(QueueARN=q + "0")) == "ResourceNotFoundException"


def test_a_long_poll_does_not_hold_up_the_server(env):
    clock, engine, kinesis, arn = env
    q = create(kinesis, arn)
    out = []
    poller = threading.Thread(
        target=lambda: out.extend(kinesis.receive_queue_records(QueueARN=q, WaitTimeSeconds=10)["QueueRecords"])
    )
    began = time.monotonic()
    poller.start()
    time.sleep(0.2)
    writer = boto3_client(kinesis.meta.endpoint_url)
    writer.put_record(StreamName="jobs", Data=b"late", PartitionKey="k")  # served while the poll waits
    poller.join()
    assert [r["Data"] for r in out] == [b"late"] and time.monotonic() - began < 3
