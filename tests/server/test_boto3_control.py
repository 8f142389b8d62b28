"""Control plane through boto3 against a live shardstream server."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

import shardstream
from shardstream.testing import boto3_client, start_server

from .conftest import FAST_WAITER

ACCT = "000000000000"


def error_of(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message")


def test_create_describe_list_delete(kinesis, engine):
    assert kinesis.create_stream(StreamName="orders", ShardCount=3)["ResponseMetadata"]["HTTPStatusCode"] == 200
    desc = kinesis.describe_stream(StreamName="orders")["StreamDescription"]
    assert desc["StreamName"] == "orders"
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["StreamARN"] == f"arn:aws:kinesis:us-east-1:{ACCT}:stream/orders"
    assert [s["ShardId"] for s in desc["Shards"]] == [f"shardId-{i:012d}" for i in range(3)]
    assert desc["Shards"][-1]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
    assert isinstance(desc["StreamCreationTimestamp"], dt.datetime)
    assert desc["StreamCreationTimestamp"].timestamp() * 1000 == pytest.approx(engine.stream("orders").created_ms)

    summary = kinesis.describe_stream_summary(StreamARN=desc["StreamARN"])["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3 and summary["RetentionPeriodHours"] == 24

    kinesis.create_stream(StreamName="clicks", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    listed = kinesis.list_streams()
    assert listed["StreamNames"] == ["clicks", "orders"]
    assert listed["HasMoreStreams"] is False
    assert {s["StreamName"]: s["StreamModeDetails"]["StreamMode"] for s in listed["StreamSummaries"]} == {
        "clicks": "ON_DEMAND",
        "orders": "PROVISIONED",
    }
    page = kinesis.list_streams(Limit=1)
    assert page["StreamNames"] == ["clicks"] and page["HasMoreStreams"] is True
    assert kinesis.list_streams(NextToken=page["NextToken"])["StreamNames"] == ["orders"]

    resp = kinesis.delete_stream(StreamName="orders")
    assert resp["ResponseMetadata"]["HTTPHeaders"]["content-length"] == "0"
    assert kinesis.list_streams()["StreamNames"] == ["clicks"]
    assert "orders" not in engine


def test_waiters_follow_transitions():
    engine = shardstream.Engine(transition_ms=200)
    with start_server(engine) as srv:
        kinesis = boto3_client(srv.url)
        kinesis.create_stream(StreamName="slow", ShardCount=1)
        assert kinesis.describe_stream_summary(StreamName="slow")["StreamDescriptionSummary"]["StreamStatus"] == (
            "CREATING"
        )
        kinesis.get_waiter("stream_exists").wait(StreamName="slow", WaiterConfig=FAST_WAITER)
        assert kinesis.describe_stream(StreamName="slow")["StreamDescription"]["StreamStatus"] == "ACTIVE"
        kinesis.delete_stream(StreamName="slow")
        kinesis.get_waiter("stream_not_exists").wait(StreamName="slow", WaiterConfig=FAST_WAITER)
        assert kinesis.list_streams()["StreamNames"] == []


def test_not_found_and_in_use_messages(kinesis):
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream(StreamName="ghost")
    assert error_of(e) == ("ResourceNotFoundException", f"Stream ghost under account {ACCT} not found.")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    with pytest.raises(ClientError) as e:
        kinesis.delete_stream(StreamARN=f"arn:aws:kinesis:us-east-1:{ACCT}:stream/ghost")
    assert error_of(e) == ("ResourceNotFoundException", f"Stream ghost under account {ACCT} not found.")

    kinesis.create_stream(StreamName="dup", ShardCount=1)
    with pytest.raises(ClientError) as e:
        kinesis.create_stream(StreamName="dup", ShardCount=1)
    assert error_of(e) == ("ResourceInUseException", f"Stream dup under account {ACCT} already exists.")

    with pytest.raises(kinesis.exceptions.ResourceInUseException):
        kinesis.create_stream(StreamName="dup", ShardCount=2)


def test_in_use_while_creating():
    with start_server(shardstream.Engine(transition_ms=5_000)) as srv:
        kinesis = boto3_client(srv.url)
        kinesis.create_stream(StreamName="busy", ShardCount=1)
        with pytest.raises(ClientError) as e:
            kinesis.split_shard(StreamName="busy", ShardToSplit="shardId-000000000000", NewStartingHashKey="100")
        assert error_of(e) == (
            "ResourceInUseException",
            f"Stream busy under account {ACCT} not ACTIVE, instead in state CREATING",
        )


def test_retention_tags_mode_limits(kinesis):
    kinesis.create_stream(StreamName="t", ShardCount=2)
    kinesis.increase_stream_retention_period(StreamName="t", RetentionPeriodHours=48)
    assert kinesis.describe_stream_summary(StreamName="t")["StreamDescriptionSummary"]["RetentionPeriodHours"] == 48
    kinesis.decrease_stream_retention_period(StreamName="t", RetentionPeriodHours=24)
    assert kinesis.describe_stream(StreamName="t")["StreamDescription"]["RetentionPeriodHours"] == 24

    kinesis.add_tags_to_stream(StreamName="t", Tags={"env": "test", "team": "data"})
    kinesis.remove_tags_from_stream(StreamName="t", TagKeys=["team"])
    tags = kinesis.list_tags_for_stream(StreamName="t")
    assert tags["Tags"] == [{"Key": "env", "Value": "test"}] and tags["HasMoreTags"] is False

    arn = kinesis.describe_stream_summary(StreamName="t")["StreamDescriptionSummary"]["StreamARN"]
    kinesis.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kinesis.describe_stream_summary(StreamName="t")["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}

    limits = kinesis.describe_limits()
    assert limits["ShardLimit"] == 20_000 and limits["OnDemandStreamCount"] == 1  # the engine's default
    assert limits["OpenShardCount"] == summary["OpenShardCount"]


def test_resharding_control(kinesis):
    kinesis.create_stream(StreamName="r", ShardCount=2)
    kinesis.split_shard(StreamName="r", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**125))
    kinesis.merge_shards(
        StreamName="r", ShardToMerge="shardId-000000000002", AdjacentShardToMerge="shardId-000000000003"
    )
    out = kinesis.update_shard_count(StreamName="r", TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert (out["StreamName"], out["CurrentShardCount"], out["TargetShardCount"]) == ("r", 2, 4)
    assert kinesis.describe_stream_summary(StreamName="r")["StreamDescriptionSummary"]["OpenShardCount"] == 4
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName="r", ShardToSplit="shardId-000000000099", NewStartingHashKey="5")
    assert error_of(e) == (
        "ResourceNotFoundException",
        f"Could not find shard shardId-000000000099 in stream r under account {ACCT}.",
    )


@pytest.mark.parametrize(
    "call, kwargs",
    [
        ("list_stream_consumers", {"StreamARN": f"arn:aws:kinesis:us-east-1:{ACCT}:stream/x"}),
        ("register_stream_consumer", {"StreamARN": f"arn:aws:kinesis:us-east-1:{ACCT}:stream/x", "ConsumerName": "c"}),
        ("describe_stream_consumer", {"StreamARN": f"arn:aws:kinesis:us-east-1:{ACCT}:stream/x", "ConsumerName": "c"}),
    ],
)
def test_consumer_operations_on_a_missing_stream(kinesis, call, kwargs):
    with pytest.raises(ClientError) as e:
        getattr(kinesis, call)(**kwargs)
    assert error_of(e) == ("ResourceNotFoundException", f"Stream x under account {ACCT} not found.")


def test_update_stream_warm_throughput(kinesis):
    kinesis.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kinesis.create_stream(StreamName="prov", ShardCount=1)
    with pytest.raises(ClientError) as e:
        kinesis.update_stream_warm_throughput(StreamName="od", WarmThroughputMiBps=100)
    assert error_of(e)[0] == "InvalidArgumentException"  # needs the billing commitment
    kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    with pytest.raises(ClientError) as e:
        kinesis.update_stream_warm_throughput(StreamName="prov", WarmThroughputMiBps=100)
    assert error_of(e) == (
        "ValidationException",
        f"Request is invalid. Stream prov under account {ACCT} is not in On-Demand mode.",
    )
    out = kinesis.update_stream_warm_throughput(StreamName="od", WarmThroughputMiBps=100)
    assert out["WarmThroughput"] == {"TargetMiBps": 100, "CurrentMiBps": 100}
    summary = kinesis.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert summary["WarmThroughput"] == {"TargetMiBps": 100, "CurrentMiBps": 100}
