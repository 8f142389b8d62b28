"""Control plane: create/describe/list/delete shapes (checked against the vendored service model) and exact errors."""

from __future__ import annotations

import datetime as dt

import botocore.model
import pytest
from conftest import ACCOUNT, ref_uniform_ranges, shard_id
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from shardstream.server import model

_MODEL = botocore.model.ServiceModel(model.load(), "kinesis")
_PY_TYPES = {"string": str, "integer": int, "long": int, "boolean": bool, "timestamp": dt.datetime,
             "blob": bytes, "list": list, "structure": dict}


def assert_shape(value, shape, path="$"):
    """``value`` conforms to a botocore output shape: required members present, no unknown ones, types right."""
    t = shape.type_name
    if t == "timestamp":
        assert isinstance(value, dt.datetime) and value.tzinfo is not None, path
        return
    expected = _PY_TYPES[t]
    assert isinstance(value, expected) and not (expected is int and isinstance(value, bool)), (path, value)
    if t == "structure":
        missing = set(shape.required_members) - set(value)
        assert not missing, (path, missing)
        unknown = set(value) - set(shape.members)
        assert not unknown, (path, unknown)
        for k, v in value.items():
            assert_shape(v, shape.members[k], f"{path}.{k}")
    elif t == "list":
        for i, item in enumerate(value):
            assert_shape(item, shape.member, f"{path}[{i}]")
    elif t == "string" and shape.enum:
        assert value in shape.enum, (path, value)


def check_output(op: str, value):
    assert_shape(value, _MODEL.operation_model(op).output_shape)


def test_create_and_describe_shapes(engine):
    s = engine.create_stream("shape", 3, retention_hours=48)
    assert isinstance(s, shardstream.Stream)
    d = engine.describe_stream("shape")
    check_output("DescribeStream", d)
    desc = d["StreamDescription"]
    assert desc["StreamName"] == "shape"
    assert desc["StreamARN"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/shape"
    assert desc["StreamStatus"] == "ACTIVE"
    assert desc["HasMoreShards"] is False
    assert desc["RetentionPeriodHours"] == 48
    assert desc["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert desc["EncryptionType"] == "NONE"
    assert desc["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    ts = desc["StreamCreationTimestamp"]
    assert isinstance(ts, dt.datetime) and ts.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - ts).total_seconds()) < 60
    assert [x["ShardId"] for x in desc["Shards"]] == [shard_id(i) for i in range(3)]
    for x, (lo, hi) in zip(desc["Shards"], ref_uniform_ranges(3)):
        assert x["HashKeyRange"] == {"StartingHashKey": str(lo), "EndingHashKey": str(hi)}
        start = x["SequenceNumberRange"]["StartingSequenceNumber"]
        assert "EndingSequenceNumber" not in x["SequenceNumberRange"]
        assert len(start) == 56 and start.isdigit()
    # records number above their shard's StartingSequenceNumber
    r = s.put_record(b"x", "a")
    start = {x["ShardId"]: x["SequenceNumberRange"]["StartingSequenceNumber"] for x in desc["Shards"]}
    assert int(r["SequenceNumber"]) > int(start[r["ShardId"]])

    summ = engine.describe_stream_summary("shape")
    check_output("DescribeStreamSummary", summ)
    sd = summ["StreamDescriptionSummary"]
    assert sd["OpenShardCount"] == 3 and sd["ConsumerCount"] == 0 and sd["MaxRecordSizeInKiB"] == 1024
    assert sd["StreamCreationTimestamp"] == ts


def test_default_shard_count_and_on_demand(engine):
    assert engine.create_stream("dflt").open_shard_count == 4
    od = engine.create_stream("od", stream_mode="ON_DEMAND")
    assert od.open_shard_count == 4
    assert engine.describe_stream_summary("od")["StreamDescriptionSummary"]["StreamModeDetails"] == {
        "StreamMode": "ON_DEMAND"}
    with pytest.raises(InvalidArgumentException) as ei:
        engine.create_stream("od2", 2, stream_mode="ON_DEMAND")
    assert str(ei.value) == "ShardCount is not expected when StreamMode=ON_DEMAND"


def test_create_validation_messages(engine):
    with pytest.raises(ValidationException) as ei:
        engine.create_stream("", 0)
    assert str(ei.value) == (
        "3 validation errors detected: "
        "Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9_.-]+; "
        "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
    )
    with pytest.raises(ValidationException) as ei:
        engine.create_stream("", 1)
    assert str(ei.value) == (
        "2 validation errors detected: "
        "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: "
        "[a-zA-Z0-9_.-]+; "
        "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
    )
    name = "n" * 129
    with pytest.raises(ValidationException) as ei:
        engine.create_stream(name, 1)
    assert str(ei.value) == (f"1 validation error detected: Value '{name}' at 'streamName' failed to satisfy "
                             "constraint: Member must have length less than or equal to 128")
    with pytest.raises(ValidationException) as ei:
        engine.create_stream("bad name!", 1)
    assert str(ei.value) == ("1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy "
                             "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    engine.create_stream("n" * 128, 1)
    engine.create_stream("A-z_0.9", 1)
    assert engine.list_streams()["StreamNames"] == ["A-z_0.9", "n" * 128]


@pytest.mark.parametrize("hours,msg", [
    (23, "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short."),
    (8761, "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long."),
])
def test_retention_bounds(engine, hours, msg):
    with pytest.raises(InvalidArgumentException) as ei:
        engine.create_stream("ret", 1, retention_hours=hours)
    assert str(ei.value) == msg
    assert "ret" not in engine
    engine.create_stream("ret", 1, retention_hours=24 if hours < 24 else 8760)


def test_max_record_size_bounds(engine):
    for bad in (1023, 10241):
        with pytest.raises(ValidationException):
            engine.create_stream("mrs", 1, max_record_size_kib=bad)
    engine.create_stream("mrs", 1, max_record_size_kib=10240)


def test_duplicate_name(engine):
    engine.create_stream("x", 1)
    with pytest.raises(ResourceInUseException) as ei:
        engine.create_stream("x", 2)
    assert str(ei.value) == f"Stream x under account {ACCOUNT} already exists."
    assert engine.describe_stream_summary("x")["StreamDescriptionSummary"]["OpenShardCount"] == 1


def test_shard_limit():
    e = shardstream.Engine(shard_limit=10)
    e.create_stream("a", 4)
    e.create_stream("b", 6)
    with pytest.raises(LimitExceededException) as ei:
        e.create_stream("c", 1)
    assert str(ei.value) == (
        f"This request would exceed the shard limit for the account {ACCOUNT} in us-east-1. Current shard count "
        "for the account: 10. Limit: 10. Number of additional shards that would have resulted from this request: 1. "
        "Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) "
        "for current limits and how to request higher limits."
    )
    assert "c" not in e
    e.delete_stream("a")
    e.create_stream("c", 4)
    assert e.describe_limits()["OpenShardCount"] == 10
    unlimited = shardstream.Engine(shard_limit=None)
    unlimited.create_stream("big", 600)


def test_delete_and_not_found(engine):
    engine.create_stream("d", 1)
    assert engine.delete_stream("d") == {}
    msg = f"Stream d under account {ACCOUNT} not found."
    for call in (lambda: engine.delete_stream("d"), lambda: engine.describe_stream("d"),
                 lambda: engine.describe_stream_summary("d"), lambda: engine.stream("d"),
                 lambda: engine.list_shards("d")):
        with pytest.raises(ResourceNotFoundException) as ei:
            call()
        assert str(ei.value) == msg
    assert engine.list_streams()["StreamNames"] == []
    engine.create_stream("d", 2)  # the name is free again
    assert engine.describe_stream_summary("d")["StreamDescriptionSummary"]["OpenShardCount"] == 2


def test_stream_arn_addressing(engine):
    s = engine.create_stream("byarn", 2)
    arn = s.arn
    assert arn == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/byarn"
    assert engine.stream(stream_arn=arn) is s
    assert engine.describe_stream(stream_arn=arn) == engine.describe_stream("byarn")
    assert engine.describe_stream_summary(stream_arn=arn) == engine.describe_stream_summary("byarn")
    assert engine.list_shards(stream_arn=arn) == engine.list_shards("byarn")
    assert engine.stream("byarn", stream_arn=arn) is s
    with pytest.raises(InvalidArgumentException):
        engine.stream("other", stream_arn=arn)
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.stream(stream_arn=arn + "x")
    assert str(ei.value) == f"Stream byarnx under account {ACCOUNT} not found."
    engine.delete_stream(stream_arn=arn)
    assert "byarn" not in engine


def test_list_streams_pagination(engine):
    names = sorted(f"ls{i:02d}" for i in range(23))
    for n in reversed(names):
        engine.create_stream(n, 1)
    first = engine.list_streams()
    check_output("ListStreams", first)
    assert first["StreamNames"] == names and first["HasMoreStreams"] is False and "NextToken" not in first
    assert [x["StreamName"] for x in first["StreamSummaries"]] == names
    got, token, pages = [], None, 0
    while True:
        page = engine.list_streams(limit=5, next_token=token)
        check_output("ListStreams", page)
        pages += 1
        got += page["StreamNames"]
        assert len(page["StreamNames"]) <= 5
        if not page["HasMoreStreams"]:
            assert "NextToken" not in page
            break
        token = page["NextToken"]
    assert got == names and pages == 5
    assert engine.list_streams(exclusive_start_stream_name="ls19")["StreamNames"] == names[20:]
    with pytest.raises(ValidationException) as ei:
        engine.list_streams(limit=0)
    assert str(ei.value) == ("1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                             "Member must have value greater than or equal to 1")


def test_list_shards_pagination_and_errors(engine):
    engine.create_stream("many", 25)
    full = engine.list_shards("many")
    check_output("ListShards", full)
    assert [x["ShardId"] for x in full["Shards"]] == [shard_id(i) for i in range(25)]
    assert "NextToken" not in full
    got, resp = [], engine.list_shards("many", max_results=7)
    while True:
        check_output("ListShards", resp)
        assert len(resp["Shards"]) <= 7
        got += resp["Shards"]
        if "NextToken" not in resp:
            break
        resp = engine.list_shards(next_token=resp["NextToken"], max_results=7)
    assert got == full["Shards"]
    assert [x["ShardId"] for x in engine.list_shards("many", exclusive_start_shard_id=shard_id(20))["Shards"]] == [
        shard_id(i) for i in range(21, 25)]
    with pytest.raises(InvalidArgumentException) as ei:
        engine.list_shards()
    assert str(ei.value) == "Either NextToken or StreamName should be provided."
    token = engine.list_shards("many", max_results=3)["NextToken"]
    with pytest.raises(InvalidArgumentException) as ei:
        engine.list_shards("many", next_token=token)
    assert str(ei.value) == "NextToken and StreamName cannot be provided together."
    for bad in (0, 10_001):
        with pytest.raises(ValidationException):
            engine.list_shards("many", max_results=bad)


def test_list_shards_token_expires(clock, clocked_engine):
    from shardstream.errors import ExpiredNextTokenException

    clocked_engine.create_stream("tok", 5)
    token = clocked_engine.list_shards("tok", max_results=2)["NextToken"]
    clock.advance(300_001)
    with pytest.raises(ExpiredNextTokenException):
        clocked_engine.list_shards(next_token=token)


def test_describe_stream_paging(engine):
    engine.create_stream("dp", 130)
    d = engine.describe_stream("dp")["StreamDescription"]
    assert len(d["Shards"]) == 100 and d["HasMoreShards"] is True  # at most 100 a page
    d = engine.describe_stream("dp", limit=10)["StreamDescription"]
    assert [x["ShardId"] for x in d["Shards"]] == [shard_id(i) for i in range(10)] and d["HasMoreShards"] is True
    seen, last = [], None
    while True:
        d = engine.describe_stream("dp", limit=40, exclusive_start_shard_id=last)["StreamDescription"]
        check_output("DescribeStream", {"StreamDescription": d})
        seen += [x["ShardId"] for x in d["Shards"]]
        if not d["HasMoreShards"]:
            break
        last = d["Shards"][-1]["ShardId"]
    assert seen == [shard_id(i) for i in range(130)]
    d = engine.describe_stream("dp", exclusive_start_shard_id=shard_id(129))["StreamDescription"]
    assert d["Shards"] == [] and d["HasMoreShards"] is False
    with pytest.raises(ValidationException):
        engine.describe_stream("dp", limit=0)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 60), page=st.integers(1, 70))
def test_list_shards_pages_cover_stream(n, page):
    e = shardstream.Engine()
    e.create_stream("p", n)
    got, resp = [], e.list_shards("p", max_results=page)
    while True:
        got += [x["ShardId"] for x in resp["Shards"]]
        if "NextToken" not in resp:
            break
        resp = e.list_shards(next_token=resp["NextToken"], max_results=page)
    assert got == [shard_id(i) for i in range(n)]
    ranges = [(int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"]))
              for x in e.list_shards("p", max_results=10_000)["Shards"]]
    assert ranges == ref_uniform_ranges(n)


def test_engine_data_plane_by_name(engine):
    engine.create_stream("dp2", 2)
    r = engine.put_record("dp2", b"x", "a")
    resp = engine.put_records([{"Data": b"y", "PartitionKey": "a"}], "dp2")
    it = engine.get_shard_iterator("dp2", r["ShardId"], "AT_SEQUENCE_NUMBER", r["SequenceNumber"])["ShardIterator"]
    got = engine.get_records(it)["Records"]
    assert [x["Data"] for x in got] == [b"x", b"y"]
    assert got[1]["SequenceNumber"] == resp["Records"][0]["SequenceNumber"]
