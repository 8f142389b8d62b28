"""Stream settings through the engine API: max record size, encryption, enhanced monitoring,
resource tags and policies, and account settings (spec 1.4, 1.6, 1.7, 6.1)."""

from __future__ import annotations

import pytest

import shardstream
from shardstream import (
    InvalidArgumentException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    ValidationException,
)

ACCOUNT = "000000000000"
ARN = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s"
ALL_METRICS = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
]


class Clock:
    def __init__(self):
        self.now = 1_700_000_000_000

    def __call__(self):
        return self.now


@pytest.fixture
def engine():
    return shardstream.Engine()


@pytest.fixture
def stream(engine):
    return engine.create_stream("s", shard_count=1)


@pytest.fixture
def slow():
    """An engine whose transitions take 500 ms on a fake clock, and an ACTIVE stream in it."""
    clock = Clock()
    engine = shardstream.Engine(transition_ms=500, clock=clock)
    stream = engine.create_stream("s", shard_count=1)
    clock.now += 500
    assert stream.status == "ACTIVE"
    return engine, stream, clock


def not_active(state: str) -> str:
    return f"Stream s under account {ACCOUNT} not ACTIVE, instead in state {state}"


# -- UpdateMaxRecordSize ------------------------------------------------------------------


def test_update_max_record_size_governs_writes_and_summary(engine, stream):
    big = b"x" * (2 * 1024 * 1024)
    with pytest.raises(ValidationException):
        stream.put_record(big, "k")
    assert engine.update_max_record_size(ARN, 4096) == {}
    assert stream.max_record_size_kib == 4096 and stream.max_record_bytes == 4096 * 1024
    assert stream.describe_summary()["StreamDescriptionSummary"]["MaxRecordSizeInKiB"] == 4096
    assert stream.put_record(big, "k")["ShardId"] == "shardId-000000000000"
    stream.update_max_record_size(1024)
    with pytest.raises(ValidationException) as ei:
        stream.put_records([{"Data": big, "PartitionKey": "k"}])
    assert "less than or equal to 1048576" in str(ei.value)


@pytest.mark.parametrize(
    "kib, bound", [(1023, "greater than or equal to 1024"), (10241, "less than or equal to 10240")]
)
def test_update_max_record_size_range(stream, kib, bound):
    with pytest.raises(ValidationException) as ei:
        stream.update_max_record_size(kib)
    assert str(ei.value) == (
        f"1 validation error detected: Value '{kib}' at 'maxRecordSizeInKiB' failed to satisfy constraint: "
        f"Member must have value {bound}"
    )
    with pytest.raises(SerializationException):
        stream.update_max_record_size("2048")
    assert stream.max_record_size_kib == 1024


def test_update_max_record_size_keeps_shard_capacity_at_twice_the_record():
    engine = shardstream.Engine(shard_capacity_bytes=4 * 1024 * 1024)
    stream = engine.create_stream("s", shard_count=1)
    stream.update_max_record_size(2048)
    with pytest.raises(InvalidArgumentException) as ei:
        stream.update_max_record_size(2049)
    assert str(ei.value) == (
        f"shard_capacity_bytes {4 * 1024 * 1024} must be at least twice the max record size ({2 * 2049 * 1024} bytes)"
    )
    assert stream.max_record_size_kib == 2048


def test_update_max_record_size_by_arn_errors(engine):
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.update_max_record_size(ARN, 2048)
    assert str(ei.value) == f"Stream s under account {ACCOUNT} not found."


# -- encryption ----------------------------------------------------------------------------


def test_start_and_stop_encryption_show_in_descriptions(engine, stream):
    desc = stream.describe()["StreamDescription"]
    assert desc["EncryptionType"] == "NONE" and "KeyId" not in desc
    assert engine.start_stream_encryption("s", "KMS", "alias/aws/kinesis") == {}
    assert stream.encrypted
    for d in (stream.describe()["StreamDescription"], stream.describe_summary()["StreamDescriptionSummary"]):
        assert (d["EncryptionType"], d["KeyId"]) == ("KMS", "alias/aws/kinesis")
    stream.start_stream_encryption("KMS", "alias/other")  # re-keying is allowed
    assert stream.key_id == "alias/other"
    assert engine.stop_stream_encryption(None, "KMS", "alias/other", stream_arn=ARN) == {}
    summary = stream.describe_summary()["StreamDescriptionSummary"]
    assert summary["EncryptionType"] == "NONE" and "KeyId" not in summary
    assert not stream.encrypted


def test_encryption_arguments(stream):
    for call in (stream.start_stream_encryption, stream.stop_stream_encryption):
        with pytest.raises(InvalidArgumentException) as ei:
            call("NONE", "alias/aws/kinesis")
        assert str(ei.value) == "KMS is the only valid EncryptionType for this request"
        with pytest.raises(ValidationException) as ei:
            call("AES", "k")
        assert str(ei.value) == (
            "1 validation error detected: Value 'AES' at 'encryptionType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [NONE, KMS]"
        )
        with pytest.raises(ValidationException) as ei:
            call("KMS", None)
        assert str(ei.value) == (
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"
        )
        with pytest.raises(ValidationException):
            call("KMS", "k" * 2049)
    assert stream.encryption_type == "NONE"


def test_encryption_passes_through_updating(slow):
    engine, stream, clock = slow
    stream.start_stream_encryption("KMS", "alias/aws/kinesis")
    assert stream.status == "UPDATING"
    stream.put_record(b"still writable", "k")  # writes keep working while UPDATING
    with pytest.raises(ResourceInUseException) as ei:
        stream.stop_stream_encryption("KMS", "alias/aws/kinesis")
    assert str(ei.value) == not_active("UPDATING")
    clock.now += 500
    assert stream.status == "ACTIVE"
    stream.stop_stream_encryption("KMS", "alias/aws/kinesis")
    assert stream.status == "UPDATING" and stream.encryption_type == "NONE"


def test_update_max_record_size_passes_through_updating(slow):
    engine, stream, clock = slow
    engine.update_max_record_size(ARN, 2048)
    assert stream.status == "UPDATING"
    with pytest.raises(ResourceInUseException) as ei:
        stream.update_max_record_size(4096)
    assert str(ei.value) == not_active("UPDATING")
    assert stream.max_record_size_kib == 2048
    clock.now += 500
    stream.update_max_record_size(4096)
    assert stream.max_record_size_kib == 4096


def test_settings_refused_while_creating():
    engine = shardstream.Engine(transition_ms=500, clock=Clock())
    stream = engine.create_stream("s", shard_count=1)
    calls = [
        lambda: stream.update_max_record_size(2048),
        lambda: stream.start_stream_encryption("KMS", "k"),
        lambda: stream.enable_enhanced_monitoring(["ALL"]),
        lambda: engine.tag_resource(ARN, {"a": "b"}),
    ]
    for call in calls:
        with pytest.raises(ResourceInUseException) as ei:
            call()
        assert str(ei.value) == not_active("CREATING")


# -- enhanced monitoring --------------------------------------------------------------------


def test_enhanced_monitoring_round_trip(engine, stream):
    out = engine.enable_enhanced_monitoring("s", ["IncomingBytes"])
    assert out == {
        "StreamName": "s",
        "CurrentShardLevelMetrics": [],
        "DesiredShardLevelMetrics": ["IncomingBytes"],
        "StreamARN": ARN,
    }
    out = stream.enable_enhanced_monitoring(["ALL"])
    assert out["CurrentShardLevelMetrics"] == ["IncomingBytes"]
    assert out["DesiredShardLevelMetrics"] == ALL_METRICS
    assert stream.describe()["StreamDescription"]["EnhancedMonitoring"] == [{"ShardLevelMetrics": ALL_METRICS}]
    out = engine.disable_enhanced_monitoring(None, ["IncomingBytes", "IteratorAgeMilliseconds"], stream_arn=ARN)
    assert out["DesiredShardLevelMetrics"] == ALL_METRICS[1:-1]
    out = stream.disable_enhanced_monitoring(["ALL"])
    assert out["CurrentShardLevelMetrics"] == ALL_METRICS[1:-1] and out["DesiredShardLevelMetrics"] == []
    summary = stream.describe_summary()["StreamDescriptionSummary"]
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


def test_enhanced_monitoring_validation(stream, slow):
    with pytest.raises(ValidationException) as ei:
        stream.enable_enhanced_monitoring(["Bytes"])
    assert str(ei.value) == (
        "1 validation error detected: Value 'Bytes' at 'shardLevelMetrics.1.member' failed to satisfy constraint: "
        "Member must satisfy enum value set: [" + ", ".join([*ALL_METRICS, "ALL"]) + "]"
    )
    with pytest.raises(ValidationException):
        stream.disable_enhanced_monitoring([])
    with pytest.raises(SerializationException):
        stream.enable_enhanced_monitoring("ALL")
    _, updating, _ = slow
    updating.start_stream_encryption("KMS", "k")
    with pytest.raises(ResourceInUseException):
        updating.enable_enhanced_monitoring(["ALL"])


# -- resource tags and policies --------------------------------------------------------------


def test_resource_tags_share_the_stream_tags(engine, stream):
    assert engine.tag_resource(ARN, {"b": "2", "a": "1"}) == {}
    stream.add_tags_to_stream({"c": "3"})
    assert engine.list_tags_for_resource(ARN) == {
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]
    }
    assert engine.untag_resource(ARN, ["a", "missing"]) == {}
    assert stream.tags == {"b": "2", "c": "3"}
    engine.tag_resource(ARN, {f"k{i:02d}": "v" for i in range(48)})
    assert len(engine.list_tags_for_resource(ARN)["Tags"]) == 50  # all of them, no paging
    with pytest.raises(InvalidArgumentException) as ei:
        engine.tag_resource(ARN, {"one-too-many": "v"})
    assert str(ei.value) == (
        f"Failed to add tags to stream s under account {ACCOUNT} because a given stream cannot have more than 10 tags "
        "associated with it."
    )


def test_resource_arn_errors(engine, stream):
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.list_tags_for_resource(f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/nope")
    assert str(ei.value) == f"Stream nope under account {ACCOUNT} not found."
    consumer = f"{ARN}/consumer/c:1700000000"
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.tag_resource(consumer, {"a": "b"})
    assert str(ei.value) == f"Consumer {consumer}, account {ACCOUNT} not found."
    with pytest.raises(ValidationException) as ei:
        engine.get_resource_policy("not-an-arn")
    assert "at 'resourceARN' failed to satisfy constraint: Member must satisfy regular expression pattern" in str(
        ei.value
    )
    with pytest.raises(ValidationException):
        engine.untag_resource(None, ["a"])


def test_resource_policy_round_trip(engine, stream):
    assert engine.get_resource_policy(ARN) == {"Policy": "{}"}
    policy = '{"Version": "2012-10-17",  "Statement": []}'
    assert engine.put_resource_policy(ARN, policy) == {}
    assert engine.get_resource_policy(ARN) == {"Policy": policy}  # verbatim, spacing included
    assert engine.delete_resource_policy(ARN) == {}
    assert engine.get_resource_policy(ARN) == {"Policy": "{}"}
    with pytest.raises(ResourceNotFoundException) as ei:  # nothing left to delete
        engine.delete_resource_policy(ARN)
    assert str(ei.value) == f"No resource policy found for resource ARN {ARN}."
    with pytest.raises(ValidationException) as ei:
        engine.put_resource_policy(ARN, None)
    assert str(ei.value) == (
        "1 validation error detected: Value null at 'policy' failed to satisfy constraint: Member must not be null"
    )


def test_policy_does_not_survive_recreation(engine, stream):
    engine.put_resource_policy(ARN, '{"a": 1}')
    engine.delete_stream("s")
    engine.create_stream("s", shard_count=1)
    assert engine.get_resource_policy(ARN) == {"Policy": "{}"}


# -- account settings ---------------------------------------------------------------------------


def test_account_settings_store_and_echo():
    clock = Clock()
    engine = shardstream.Engine(clock=clock)
    assert engine.describe_account_settings() == {"MinimumThroughputBillingCommitment": {"Status": "DISABLED"}}
    t0 = clock.now
    on = engine.update_account_settings({"Status": "ENABLED"})["MinimumThroughputBillingCommitment"]
    assert on["Status"] == "ENABLED"
    assert on["StartedAt"].timestamp() * 1000 == t0
    assert on["EarliestAllowedEndAt"].timestamp() * 1000 == t0 + 24 * 3_600_000
    assert engine.describe_account_settings()["MinimumThroughputBillingCommitment"] == on
    clock.now += 3_600_000
    early = engine.update_account_settings({"Status": "DISABLED"})["MinimumThroughputBillingCommitment"]
    assert early["Status"] == "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
    assert early["EndedAt"] == on["EarliestAllowedEndAt"]
    clock.now = t0 + 24 * 3_600_000
    done = engine.describe_account_settings()["MinimumThroughputBillingCommitment"]
    assert done["Status"] == "DISABLED" and done["EndedAt"] == on["EarliestAllowedEndAt"]
    again = engine.update_account_settings({"Status": "ENABLED"})["MinimumThroughputBillingCommitment"]
    assert again["Status"] == "ENABLED" and again["StartedAt"].timestamp() * 1000 == clock.now


def test_account_settings_resume_and_validation():
    engine = shardstream.Engine(clock=Clock())
    on = engine.update_account_settings({"Status": "ENABLED"})["MinimumThroughputBillingCommitment"]
    engine.update_account_settings({"Status": "DISABLED"})
    resumed = engine.update_account_settings({"Status": "ENABLED"})["MinimumThroughputBillingCommitment"]
    assert resumed == on
    with pytest.raises(ValidationException) as ei:
        engine.update_account_settings({"Status": "MAYBE"})
    assert str(ei.value) == (
        "1 validation error detected: Value 'MAYBE' at 'minimumThroughputBillingCommitment.status' failed to "
        "satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"
    )
    with pytest.raises(ValidationException):
        engine.update_account_settings(None)
    with pytest.raises(SerializationException):
        engine.update_account_settings("ENABLED")
