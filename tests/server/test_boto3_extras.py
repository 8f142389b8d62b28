"""The settings operations through a real boto3 client: UpdateMaxRecordSize, stream encryption,
enhanced monitoring, resource tags and policies, account settings."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

ACCT = "000000000000"
ARN = f"arn:aws:kinesis:us-east-1:{ACCT}:stream/s"
ALL_METRICS = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
]


def error_of(excinfo) -> tuple[str, str]:
    err = excinfo.value.response["Error"]
    return err["Code"], err.get("Message")


@pytest.fixture
def stream(kinesis):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    return "s"


def read_all(kinesis):
    it = kinesis.get_shard_iterator(StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
    return kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]


def test_update_max_record_size(kinesis, stream):
    big = b"x" * (2 * 1024 * 1024)
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="s", Data=big, PartitionKey="k")
    assert error_of(e)[0] == "ValidationException"
    resp = kinesis.update_max_record_size(StreamARN=ARN, MaxRecordSizeInKiB=4096)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    summary = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]
    assert summary["MaxRecordSizeInKiB"] == 4096
    kinesis.put_record(StreamName="s", Data=big, PartitionKey="k")
    assert read_all(kinesis)[0]["Data"] == big

    with pytest.raises(ClientError) as e:
        kinesis.update_max_record_size(StreamARN=ARN, MaxRecordSizeInKiB=10241)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kinesis.update_max_record_size(
            StreamARN=f"arn:aws:kinesis:us-east-1:{ACCT}:stream/nope", MaxRecordSizeInKiB=2048
        )
    assert error_of(e) == ("ResourceNotFoundException", f"Stream nope under account {ACCT} not found.")


def test_stream_encryption_marks_descriptions_puts_and_reads(kinesis, stream):
    assert "EncryptionType" not in kinesis.put_record(StreamName="s", Data=b"plain", PartitionKey="k")
    assert kinesis.start_stream_encryption(StreamName="s", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    desc = kinesis.describe_stream(StreamName="s")["StreamDescription"]
    assert (desc["EncryptionType"], desc["KeyId"]) == ("KMS", "alias/aws/kinesis")
    summary = kinesis.describe_stream_summary(StreamARN=ARN)["StreamDescriptionSummary"]
    assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", "alias/aws/kinesis")

    assert kinesis.put_record(StreamName="s", Data=b"secret", PartitionKey="k")["EncryptionType"] == "KMS"
    out = kinesis.put_records(StreamName="s", Records=[{"Data": b"more", "PartitionKey": "k"}])
    assert out["EncryptionType"] == "KMS" and out["FailedRecordCount"] == 0
    records = read_all(kinesis)
    assert [r["Data"] for r in records] == [b"plain", b"secret", b"more"]
    assert all(r["EncryptionType"] == "KMS" for r in records)

    kinesis.stop_stream_encryption(StreamARN=ARN, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    desc = kinesis.describe_stream(StreamName="s")["StreamDescription"]
    assert desc["EncryptionType"] == "NONE" and "KeyId" not in desc
    assert "EncryptionType" not in kinesis.put_record(StreamName="s", Data=b"x", PartitionKey="k")
    assert all("EncryptionType" not in r for r in read_all(kinesis))


def test_stream_encryption_errors(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.start_stream_encryption(StreamName="s", EncryptionType="NONE", KeyId="alias/aws/kinesis")
    assert error_of(e) == ("InvalidArgumentException", "KMS is the only valid EncryptionType for this request")
    with pytest.raises(ClientError) as e:
        kinesis.stop_stream_encryption(StreamName="nope", EncryptionType="KMS", KeyId="k")
    assert error_of(e) == ("ResourceNotFoundException", f"Stream nope under account {ACCT} not found.")


def test_stream_encryption_refused_while_updating():
    import shardstream
    from shardstream.testing import boto3_client, start_server

    now = [1_700_000_000_000]
    engine = shardstream.Engine(transition_ms=500, clock=lambda: now[0])
    with start_server(engine) as srv:
        kinesis = boto3_client(srv.url)
        kinesis.create_stream(StreamName="s", ShardCount=1)
        now[0] += 500  # CREATING -> ACTIVE
        kinesis.start_stream_encryption(StreamName="s", EncryptionType="KMS", KeyId="k")
        assert kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]["StreamStatus"] == (
            "UPDATING"
        )
        with pytest.raises(ClientError) as e:
            kinesis.stop_stream_encryption(StreamName="s", EncryptionType="KMS", KeyId="k")
        assert error_of(e) == (
            "ResourceInUseException",
            f"Stream s under account {ACCT} not ACTIVE, instead in state UPDATING",
        )


def test_enhanced_monitoring(kinesis, stream):
    out = kinesis.enable_enhanced_monitoring(StreamName="s", ShardLevelMetrics=["IncomingBytes"])
    assert (out["StreamName"], out["StreamARN"]) == ("s", ARN)
    assert (out["CurrentShardLevelMetrics"], out["DesiredShardLevelMetrics"]) == ([], ["IncomingBytes"])
    out = kinesis.enable_enhanced_monitoring(StreamARN=ARN, ShardLevelMetrics=["ALL"])
    assert out["DesiredShardLevelMetrics"] == ALL_METRICS
    desc = kinesis.describe_stream(StreamName="s")["StreamDescription"]
    assert desc["EnhancedMonitoring"] == [{"ShardLevelMetrics": ALL_METRICS}]
    out = kinesis.disable_enhanced_monitoring(StreamName="s", ShardLevelMetrics=["ALL"])
    assert (out["CurrentShardLevelMetrics"], out["DesiredShardLevelMetrics"]) == (ALL_METRICS, [])
    summary = kinesis.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"]
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]

    with pytest.raises(ClientError) as e:
        kinesis.enable_enhanced_monitoring(StreamName="s", ShardLevelMetrics=["Bytes"])
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kinesis.disable_enhanced_monitoring(StreamName="nope", ShardLevelMetrics=["ALL"])
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_resource_tags(kinesis, stream):
    kinesis.tag_resource(ResourceARN=ARN, Tags={"team": "data", "env": "test"})
    kinesis.add_tags_to_stream(StreamName="s", Tags={"owner": "me"})
    tags = kinesis.list_tags_for_resource(ResourceARN=ARN)
    assert tags["Tags"] == [
        {"Key": "env", "Value": "test"},
        {"Key": "owner", "Value": "me"},
        {"Key": "team", "Value": "data"},
    ]
    assert "HasMoreTags" not in tags and "NextToken" not in tags
    kinesis.untag_resource(ResourceARN=ARN, TagKeys=["env", "owner"])
    assert kinesis.list_tags_for_stream(StreamName="s")["Tags"] == [{"Key": "team", "Value": "data"}]

    with pytest.raises(ClientError) as e:
        kinesis.tag_resource(ResourceARN=ARN, Tags={"aws:x": "y"})
    assert error_of(e) == ("InvalidArgumentException", "Cannot start tags with 'aws:'. Invalid keys: aws:x")
    consumer = f"{ARN}/consumer/c:1700000000"
    with pytest.raises(ClientError) as e:
        kinesis.list_tags_for_resource(ResourceARN=consumer)
    assert error_of(e) == ("ResourceNotFoundException", f"Consumer {consumer}, account {ACCT} not found.")
    with pytest.raises(ClientError) as e:
        kinesis.untag_resource(ResourceARN=f"arn:aws:kinesis:us-east-1:{ACCT}:stream/nope", TagKeys=["a"])
    assert error_of(e) == ("ResourceNotFoundException", f"Stream nope under account {ACCT} not found.")


def test_resource_policies(kinesis, stream):
    assert kinesis.get_resource_policy(ResourceARN=ARN)["Policy"] == "{}"
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kinesis:GetRecords"}]}'
    kinesis.put_resource_policy(ResourceARN=ARN, Policy=policy)
    assert kinesis.get_resource_policy(ResourceARN=ARN)["Policy"] == policy
    kinesis.delete_resource_policy(ResourceARN=ARN)
    assert kinesis.get_resource_policy(ResourceARN=ARN)["Policy"] == "{}"

    with pytest.raises(ClientError) as e:
        kinesis.get_resource_policy(ResourceARN=f"arn:aws:kinesis:us-east-1:{ACCT}:stream/nope")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        kinesis.put_resource_policy(ResourceARN="arn:aws:s3:::bucket", Policy=policy)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kinesis.delete_resource_policy(ResourceARN=f"{ARN}/consumer/c:1")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_account_settings(kinesis):
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"] == {"Status": "DISABLED"}
    out = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    on = out["MinimumThroughputBillingCommitment"]
    assert on["Status"] == "ENABLED"
    assert on["EarliestAllowedEndAt"] - on["StartedAt"] == dt.timedelta(hours=24)
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"] == on
    off = kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})
    assert off["MinimumThroughputBillingCommitment"]["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"

    with pytest.raises(ClientError) as e:
        kinesis.update_account_settings(MinimumThroughputBillingCommitment={"Status": "MAYBE"})
    assert error_of(e)[0] == "ValidationException"
