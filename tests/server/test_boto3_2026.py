"""Today's Kinesis API through real boto3 against ``shardstream serve``: DryRun, StreamId,
RecordDistributionStrategy, the new summary counts, and the not-yet-supported channel operations."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import shardstream
from shardstream.client import RemoteEngine
from shardstream.server import model

ACCT = "000000000000"
DRY = "The request was rejected because the DryRun parameter was specified."
STREAM_ID = "abcdefghij0123456789-abc"  # the model's pattern: [a-z0-9]{20}-[a-z0-9]{3}


def arn(name: str) -> str:
    return f"arn:aws:kinesis:us-east-1:{ACCT}:stream/{name}"


def error_of(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as ei:
        call()
    err = ei.value.response["Error"]
    return err["Code"], err["Message"], ei.value.response["ResponseMetadata"]["HTTPStatusCode"]


def records_in(engine, name: str) -> int:
    return sum(s["Records"] for s in engine.stream(name).shard_stats())


# -- DryRun ---------------------------------------------------------------------------------


def test_put_record_dry_run_raises_and_writes_nothing(kinesis, engine):
    kinesis.create_stream(StreamName="d", ShardCount=2)
    kinesis.put_record(StreamName="d", Data=b"real", PartitionKey="k")
    with pytest.raises(kinesis.exceptions.DryRunOperationException):
        kinesis.put_record(StreamName="d", Data=b"x", PartitionKey="k", DryRun=True)
    assert error_of(lambda: kinesis.put_record(StreamName="d", Data=b"x", PartitionKey="k", DryRun=True)) == (
        "DryRunOperationException",
        DRY,
        400,
    )
    entries = [{"Data": b"x", "PartitionKey": f"k{i}"} for i in range(10)]
    assert error_of(lambda: kinesis.put_records(StreamName="d", Records=entries, DryRun=True))[0] == (
        "DryRunOperationException"
    )
    assert records_in(engine, "d") == 1
    # DryRun=False is an ordinary put
    assert kinesis.put_record(StreamName="d", Data=b"x", PartitionKey="k", DryRun=False)["ShardId"]
    assert records_in(engine, "d") == 2


def test_read_dry_runs_and_normal_errors(kinesis, engine):
    kinesis.create_stream(StreamName="r", ShardCount=1)
    kinesis.put_record(StreamName="r", Data=b"x", PartitionKey="k")
    sid = "shardId-000000000000"
    code = error_of(
        lambda: kinesis.get_shard_iterator(StreamName="r", ShardId=sid, ShardIteratorType="TRIM_HORIZON", DryRun=True)
    )[0]
    assert code == "DryRunOperationException"
    it = kinesis.get_shard_iterator(StreamName="r", ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert error_of(lambda: kinesis.get_records(ShardIterator=it, DryRun=True))[0] == "DryRunOperationException"
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"x"]
    # a dry run that would fail gets the usual error
    assert error_of(lambda: kinesis.put_record(StreamName="nope", Data=b"x", PartitionKey="k", DryRun=True)) == (
        "ResourceNotFoundException",
        f"Stream nope under account {ACCT} not found.",
        400,
    )
    code, message, _ = error_of(lambda: kinesis.get_records(ShardIterator="not-an-iterator", DryRun=True))
    assert (code, message) == ("InvalidArgumentException", "Invalid ShardIterator.")
    code, _, _ = error_of(
        lambda: kinesis.get_shard_iterator(
            StreamName="r", ShardId="shardId-000000000005", ShardIteratorType="LATEST", DryRun=True
        )
    )
    assert code == "ResourceNotFoundException"


def test_subscribe_to_shard_dry_run(kinesis, engine):
    kinesis.create_stream(StreamName="f", ShardCount=1)
    consumer = kinesis.register_stream_consumer(StreamARN=arn("f"), ConsumerName="app")["Consumer"]["ConsumerARN"]
    code, message, status = error_of(
        lambda: kinesis.subscribe_to_shard(
            ConsumerARN=consumer, ShardId="shardId-000000000000", StartingPosition={"Type": "LATEST"}, DryRun=True
        )
    )
    assert (code, message, status) == ("DryRunOperationException", DRY, 400)
    assert engine.fanout.subscriptions() == []


# -- StreamId -------------------------------------------------------------------------------


def test_stream_id_is_accepted_and_ignored(kinesis, engine):
    kinesis.create_stream(StreamName="i", ShardCount=1)
    put = kinesis.put_record(StreamName="i", Data=b"x", PartitionKey="k", StreamId=STREAM_ID)
    assert put["ShardId"] == "shardId-000000000000"
    summary = kinesis.describe_stream_summary(StreamName="i", StreamId=STREAM_ID)["StreamDescriptionSummary"]
    assert summary["StreamName"] == "i"
    kinesis.add_tags_to_stream(StreamName="i", Tags={"a": "b"}, StreamId=STREAM_ID)
    assert kinesis.list_tags_for_stream(StreamName="i", StreamId=STREAM_ID)["Tags"] == [{"Key": "a", "Value": "b"}]


def test_malformed_stream_id_is_a_validation_error(server, engine):
    engine.create_stream("i", 1)
    remote = RemoteEngine(server.url)
    with pytest.raises(shardstream.ValidationException) as ei:
        remote.call("PutRecord", {"StreamName": "i", "Data": b"x", "PartitionKey": "k", "StreamId": "NOT-AN-ID"})
    assert "at 'streamId' failed to satisfy constraint: Member must satisfy regular expression pattern" in str(ei.value)
    assert records_in(engine, "i") == 0


# -- RecordDistributionStrategy -------------------------------------------------------------


def test_auto_distribution_end_to_end(kinesis, engine):
    kinesis.create_stream(
        StreamName="auto", StreamModeDetails={"StreamMode": "ON_DEMAND"}, RecordDistributionStrategy="AUTO"
    )
    summary = kinesis.describe_stream_summary(StreamName="auto")["StreamDescriptionSummary"]
    assert summary["RecordDistributionStrategy"] == "AUTO"
    assert summary["QueueCount"] == 0 and summary["ChannelCount"] == 0 and summary["ConsumerCount"] == 0
    out = kinesis.put_records(StreamName="auto", Records=[{"Data": b"%d" % i} for i in range(8)])
    assert out["FailedRecordCount"] == 0
    assert [r["ShardId"] for r in out["Records"]] == [f"shardId-{i % 4:012d}" for i in range(8)]
    one = kinesis.put_record(StreamName="auto", Data=b"keyless")
    assert one["ShardId"] == "shardId-000000000000"
    it = kinesis.get_shard_iterator(StreamName="auto", ShardId=one["ShardId"], ShardIteratorType="TRIM_HORIZON")
    got = kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert [(r["Data"], r["PartitionKey"]) for r in got] == [(b"0", ""), (b"4", ""), (b"keyless", "")]

    kinesis.update_stream_record_distribution_strategy(
        StreamARN=arn("auto"), RecordDistributionStrategy="USER_PARTITION_KEY"
    )
    summary = kinesis.describe_stream_summary(StreamName="auto")["StreamDescriptionSummary"]
    assert summary["RecordDistributionStrategy"] == "USER_PARTITION_KEY"
    code, message, _ = error_of(lambda: kinesis.put_record(StreamName="auto", Data=b"x"))
    assert (code, message) == (
        "ValidationException",
        "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: "
        "Member must not be null",
    )
    assert records_in(engine, "auto") == 9  # the earlier records stayed where they were written


def test_missing_partition_keys_are_validated_as_before_unless_auto(kinesis, engine):
    kinesis.create_stream(StreamName="keyed", ShardCount=1)
    mixed = [{"Data": b"a"}, {"PartitionKey": "k", "Data": b"b", "ExplicitHashKey": "-1"}]
    expected = (
        "2 validation errors detected: Value null at 'records.1.member.partitionKey' failed to satisfy "
        "constraint: Member must not be null; Value '-1' at 'records.2.member.explicitHashKey' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: " + model.load()["shapes"]["HashKey"]["pattern"]
    )
    # every violation in one message, as before the model made the key optional; a missing stream too
    for name in ("keyed", "missing"):
        assert error_of(lambda n=name: kinesis.put_records(StreamName=n, Records=mixed)) == (
            "ValidationException",
            expected,
            400,
        )
    kinesis.create_stream(
        StreamName="auto", StreamModeDetails={"StreamMode": "ON_DEMAND"}, RecordDistributionStrategy="AUTO"
    )
    assert kinesis.put_records(StreamARN=arn("auto"), Records=[{"Data": b"a"}])["FailedRecordCount"] == 0
    assert records_in(engine, "keyed") == 0 and records_in(engine, "auto") == 1


def test_auto_needs_an_on_demand_stream(kinesis, engine):
    code, message, status = error_of(
        lambda: kinesis.create_stream(StreamName="p", ShardCount=1, RecordDistributionStrategy="AUTO")
    )
    assert (code, status) == ("InvalidArgumentException", 400)
    assert "only supported for On-Demand streams" in message
    kinesis.create_stream(StreamName="p", ShardCount=1)
    assert (
        "RecordDistributionStrategy" not in kinesis.describe_stream_summary(StreamName="p")["StreamDescriptionSummary"]
    )
    code, _, _ = error_of(
        lambda: kinesis.update_stream_record_distribution_strategy(
            StreamARN=arn("p"), RecordDistributionStrategy="AUTO"
        )
    )
    assert code == "InvalidArgumentException"
    code, _, _ = error_of(
        lambda: kinesis.update_stream_record_distribution_strategy(
            StreamARN=arn("ghost"), RecordDistributionStrategy="AUTO"
        )
    )
    assert code == "ResourceNotFoundException"


def test_remote_client_passes_dry_run_and_keyless_batches(server, engine):
    remote = shardstream.connect(server.url)
    s = remote.create_stream("c", stream_mode="ON_DEMAND", record_distribution="AUTO")
    with pytest.raises(shardstream.DryRunOperationException):
        s.put_record(b"x", dry_run=True)
    with pytest.raises(shardstream.DryRunOperationException):
        s.put_batch(None, [b"x"] * 10, dry_run=True)
    assert records_in(engine, "c") == 0
    table = s.put_batch(None, [b"x"] * 8)
    assert sorted(table.column("shard_id").to_pylist()) == sorted([f"shardId-{i:012d}" for i in range(4)] * 2)
    s.update_record_distribution_strategy("USER_PARTITION_KEY")
    assert engine.stream("c").record_distribution == "USER_PARTITION_KEY"
    it = s.get_shard_iterator("shardId-000000000000", "TRIM_HORIZON")["ShardIterator"]
    with pytest.raises(shardstream.DryRunOperationException):
        s.get_records(it, dry_run=True)


# -- channels: known operations, not supported yet (queues: tests/queues) ------------------------


@pytest.mark.parametrize(
    "operation, params",
    [
        ("list_channels", {}),
        ("describe_channel", {"ChannelARN": f"arn:aws:kinesis:us-east-1:{ACCT}:channel/c"}),
    ],
)
def test_channel_operations_answer_not_supported(kinesis, operation, params):
    code, message, status = error_of(lambda: getattr(kinesis, operation)(**params))
    name = "".join(part.title() for part in operation.split("_"))
    assert (code, message, status) == ("InvalidArgumentException", f"{name} is not supported by shardstream yet", 400)
