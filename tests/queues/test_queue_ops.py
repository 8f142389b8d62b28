"""Queues embedded: every operation's happy path and errors (boto3 shapes, Kinesis's errors)."""

from __future__ import annotations

import datetime as dt

import pytest

from shardstream.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    ValidationException,
)

from .helpers import entries, make_queue, put, setup


@pytest.fixture
def env():
    clock, engine, stream = setup()
    yield clock, engine, stream
    engine.close()


def test_create_describe_list_update_delete(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream, VisibilityTimeoutSeconds=5)
    assert arn.startswith("arn:aws:kinesis:us-east-1:000000000000:queue/") and "work" not in arn
    desc = engine.describe_queue(arn)["QueueDescription"]
    assert desc["QueueName"] == "work" and desc["QueueStatus"] == "ACTIVE"
    assert desc["StreamConfigurationList"] == [{"StreamARN": stream.arn, "StartingPosition": {"Type": "TRIM_HORIZON"}}]
    assert desc["QueueAttributes"] == {
        "VisibilityTimeoutSeconds": 5,
        "DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 6},
    }
    assert engine.describe_stream_summary(stream.name)["StreamDescriptionSummary"]["QueueCount"] == 1
    other = make_queue(engine, stream, "other", "LATEST")
    listed = engine.list_queues()["QueueSummaries"]
    assert [q["QueueName"] for q in listed] == ["other", "work"]
    assert listed[0]["Streams"][0]["StreamARN"] == stream.arn
    page = engine.list_queues(max_results=1)
    assert [q["QueueName"] for q in page["QueueSummaries"]] == ["other"]
    rest = engine.list_queues(max_results=1, next_token=page["NextToken"])
    assert [q["QueueName"] for q in rest["QueueSummaries"]] == ["work"] and "NextToken" not in rest
    updated = engine.update_queue(arn, {"DeadLetterConfiguration": {"TargetType": "NONE"}})["QueueDescription"]
    assert updated["QueueAttributes"] == {
        "VisibilityTimeoutSeconds": 5,
        "DeadLetterConfiguration": {"TargetType": "NONE"},
    }
    assert engine.delete_queue(other) == {}
    with pytest.raises(ResourceNotFoundException):
        engine.describe_queue(other)
    assert [q["QueueName"] for q in engine.list_queues()["QueueSummaries"]] == ["work"]


def test_defaults_and_stream_filter(env):
    clock, engine, stream = env
    arn = engine.create_queue("q", [{"StreamARN": stream.arn}])["QueueDescription"]["QueueARN"]
    desc = engine.describe_queue(arn)["QueueDescription"]
    assert desc["StreamConfigurationList"][0]["StartingPosition"] == {"Type": "LATEST"}
    assert desc["QueueAttributes"]["VisibilityTimeoutSeconds"] == 30
    s2 = engine.create_stream("other", stream_mode="ON_DEMAND")
    make_queue(engine, s2, "q2")
    only = engine.list_queues(stream_filter=[{"StreamARN": s2.arn}])["QueueSummaries"]
    assert [q["QueueName"] for q in only] == ["q2"]


def test_transitions_follow_the_engine_clock():
    clock, engine, stream = setup(transition_ms=500)
    clock.advance(500)
    arn = make_queue(engine, stream)
    assert engine.describe_queue(arn)["QueueDescription"]["QueueStatus"] == "CREATING"
    with pytest.raises(InvalidArgumentException, match="instead in state CREATING"):
        engine.receive_queue_records(arn, wait_time_seconds=1)
    clock.advance(500)
    assert engine.describe_queue(arn)["QueueDescription"]["QueueStatus"] == "ACTIVE"
    engine.update_queue(arn, {"VisibilityTimeoutSeconds": 1})
    assert engine.describe_queue(arn)["QueueDescription"]["QueueStatus"] == "UPDATING"
    with pytest.raises(ResourceInUseException):
        engine.update_queue(arn, {"VisibilityTimeoutSeconds": 2})
    clock.advance(500)
    engine.delete_queue(arn)
    assert engine.describe_queue(arn)["QueueDescription"]["QueueStatus"] == "DELETING"
    with pytest.raises(ResourceNotFoundException):
        engine.receive_queue_records(arn, wait_time_seconds=1)
    clock.advance(500)
    with pytest.raises(ResourceNotFoundException):
        engine.describe_queue(arn)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"queue_name": "bad name"}, ValidationException),
        ({"queue_name": 5}, SerializationException),
        ({"stream_configuration_list": []}, ValidationException),
        ({"attributes": {"VisibilityTimeoutSeconds": 43_201}}, ValidationException),
        ({"attributes": {"VisibilityTimeoutSeconds": -1}}, ValidationException),
        ({"attributes": {"DeadLetterConfiguration": {"TargetType": "BUILT_IN"}}}, ValidationException),
        (
            {"attributes": {"DeadLetterConfiguration": {"TargetType": "NONE", "MaxReceiveCount": 3}}},
            ValidationException,
        ),
        (
            {"attributes": {"DeadLetterConfiguration": {"TargetType": "BUILT_IN", "MaxReceiveCount": 1001}}},
            ValidationException,
        ),
        ({"attributes": {"DeadLetterConfiguration": {"TargetType": "SQS"}}}, ValidationException),
        ({"position": {"Type": "AT_SEQUENCE_NUMBER"}}, ValidationException),
        ({"position": {"Type": "AT_TIMESTAMP"}}, ValidationException),
        ({"position": {"Type": "LATEST", "Timestamp": 1.0}}, ValidationException),
        ({"two_streams": True}, InvalidArgumentException),
    ],
)
def test_create_errors_change_nothing(env, kwargs, error):
    clock, engine, stream = env
    position = kwargs.get("position", {"Type": "LATEST"})
    configs = kwargs.get("stream_configuration_list", [{"StreamARN": stream.arn, "StartingPosition": position}])
    if kwargs.get("two_streams"):
        configs = configs * 2
    with pytest.raises(error):
        engine.create_queue(kwargs.get("queue_name", "q"), configs, kwargs.get("attributes"))
    assert engine.list_queues()["QueueSummaries"] == []


def test_create_refusals(env):
    clock, engine, stream = env
    provisioned = engine.create_stream("prov", 1)
    with pytest.raises(InvalidArgumentException, match="On-Demand"):
        make_queue(engine, provisioned)
    missing = stream.arn.replace("jobs", "nope")
    with pytest.raises(ResourceNotFoundException):
        engine.create_queue("q", [{"StreamARN": missing}])
    make_queue(engine, stream)
    with pytest.raises(ResourceInUseException, match="already exists"):
        make_queue(engine, stream)
    for i in range(10):
        engine.register_stream_consumer(stream.arn, f"c{i}")
    for i in range(9):
        make_queue(engine, stream, f"q{i}")
    with pytest.raises(LimitExceededException):
        make_queue(engine, stream, "one-too-many")
    with pytest.raises(LimitExceededException):
        engine.register_stream_consumer(stream.arn, "one-too-many")


def test_stream_with_queues_cannot_be_deleted_or_provisioned(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    with pytest.raises(ResourceInUseException, match="has queues"):
        engine.delete_stream(stream.name, enforce_consumer_deletion=True)
    with pytest.raises(ResourceInUseException, match="has queues"):
        engine.update_stream_mode(stream.arn, {"StreamMode": "PROVISIONED"})
    engine.delete_queue(arn)
    engine.update_stream_mode(stream.arn, {"StreamMode": "PROVISIONED"})
    engine.delete_stream(stream.name)


def test_receive_and_acknowledge(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    sent = put(stream, 25)
    got = []
    while True:
        records = engine.receive_queue_records(arn, limit=10, wait_time_seconds=1)["QueueRecords"]
        if not records:
            break
        assert len(records) <= 10
        got.extend(records)
        answer = engine.acknowledge_queue_records(arn, entries(records))
        assert answer == {"Successful": entries(records), "Failed": []}
    assert sorted(r["Data"] for r in got) == sorted(sent)
    r = got[0]
    assert set(r) == {
        "ReceiptHandle",
        "RecordId",
        "PartitionKey",
        "Data",
        "ApproximateArrivalTimestamp",
        "FirstReceiveTimestamp",
        "ReceiveCount",
    }
    assert r["ReceiveCount"] == 1 and isinstance(r["FirstReceiveTimestamp"], dt.datetime)
    assert r["RecordId"].isdigit() and len(r["RecordId"]) <= 64
    assert len({g["RecordId"] for g in got}) == 25
    # a handle works once
    again = engine.acknowledge_queue_records(arn, entries(got[:1]))
    assert again["Successful"] == [] and again["Failed"][0]["ErrorCode"] == "InvalidArgumentException"


def test_record_ids_are_the_same_in_every_queue(env):
    clock, engine, stream = env
    a, b = make_queue(engine, stream, "a"), make_queue(engine, stream, "b")
    put(stream, 5)
    ids_a = {r["RecordId"]: r["Data"] for r in engine.receive_queue_records(a, wait_time_seconds=1)["QueueRecords"]}
    ids_b = {r["RecordId"]: r["Data"] for r in engine.receive_queue_records(b, wait_time_seconds=1)["QueueRecords"]}
    assert ids_a == ids_b and len(ids_a) == 5


def test_starting_positions(env):
    clock, engine, stream = env
    put(stream, 3, "old")
    clock.advance(10_000)
    when = dt.datetime.fromtimestamp(clock() / 1000, tz=dt.timezone.utc)
    latest = make_queue(engine, stream, "latest", "LATEST")
    config = [{"StreamARN": stream.arn, "StartingPosition": {"Type": "AT_TIMESTAMP", "Timestamp": when}}]
    at = engine.create_queue("at", config)["QueueDescription"]["QueueARN"]
    horizon = make_queue(engine, stream, "horizon")
    put(stream, 2, "new")

    def data(arn):
        return sorted(r["Data"] for r in engine.receive_queue_records(arn, wait_time_seconds=1)["QueueRecords"])

    assert data(latest) == [b"new0", b"new1"]
    assert data(at) == [b"new0", b"new1"]
    assert data(horizon) == [b"new0", b"new1", b"old0", b"old1", b"old2"]


def test_receive_and_settle_errors(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    for kw in ({"limit": 0}, {"limit": 11}, {"wait_time_seconds": 0}, {"wait_time_seconds": 21}):
        with pytest.raises(ValidationException):
            engine.receive_queue_records(arn, **kw)
    with pytest.raises(ValidationException):
        engine.receive_queue_records(arn, visibility_timeout_seconds=43_201)
    with pytest.raises(ValidationException):
        engine.receive_queue_records("arn:aws:kinesis:us-east-1:000000000000:stream/jobs")
    with pytest.raises(ResourceNotFoundException):
        engine.receive_queue_records(arn + "x")
    with pytest.raises(ValidationException):
        engine.acknowledge_queue_records(arn, [])
    with pytest.raises(ValidationException):
        engine.acknowledge_queue_records(arn, [{"ReceiptHandle": "x"}] * 11)
    with pytest.raises(ValidationException):
        engine.update_queue_records_visibility(arn, [{"ReceiptHandle": "x"}])
    with pytest.raises(ValidationException):
        engine.update_queue_records_visibility(arn, [{"ReceiptHandle": "x", "VisibilityTimeoutSeconds": 50_000}])
    answer = engine.acknowledge_queue_records(arn, [{"ReceiptHandle": "forged"}])
    assert answer["Successful"] == [] and answer["Failed"][0]["ReceiptHandle"] == "forged"


def test_handles_of_one_queue_do_not_work_on_another_nor_after_delete(env):
    clock, engine, stream = env
    a, b = make_queue(engine, stream, "a"), make_queue(engine, stream, "b")
    put(stream, 2)
    records = engine.receive_queue_records(a, wait_time_seconds=1)["QueueRecords"]
    assert engine.acknowledge_queue_records(b, entries(records))["Successful"] == []
    handle = records[0]["ReceiptHandle"]
    tampered = handle[:-2] + ("AA" if handle[-2:] != "AA" else "BB")
    assert engine.acknowledge_queue_records(a, [{"ReceiptHandle": tampered}])["Successful"] == []
    engine.delete_queue(a)
    with pytest.raises(ResourceNotFoundException):
        engine.acknowledge_queue_records(a, entries(records))


def test_a_batch_of_good_and_bad_handles_is_answered_entry_by_entry(env):
    clock, engine, stream = env
    arn = make_queue(engine, stream)
    put(stream, 3)
    records = engine.receive_queue_records(arn, wait_time_seconds=1)["QueueRecords"]
    good = [r["ReceiptHandle"] for r in records]
    bad = ["!" * len(good[0]), good[0][:-1] + ("A" if good[0][-1] != "A" else "B"), "short"]
    answer = engine.acknowledge_queue_records(
        arn, [{"ReceiptHandle": h} for h in [bad[0], good[0], bad[1], good[1], bad[2]]]
    )
    assert [e["ReceiptHandle"] for e in answer["Successful"]] == good[:2]
    assert [e["ReceiptHandle"] for e in answer["Failed"]] == bad
    assert engine.queues.queue(arn).state_size() == 1


def test_tags_by_queue_arn(env):
    clock, engine, stream = env
    arn = engine.create_queue("q", [{"StreamARN": stream.arn}], tags={"team": "a"})["QueueDescription"]["QueueARN"]
    assert engine.list_tags_for_resource(arn) == {"Tags": [{"Key": "team", "Value": "a"}]}
    engine.tag_resource(arn, {"env": "test"})
    engine.untag_resource(arn, ["team"])
    assert engine.list_tags_for_resource(arn) == {"Tags": [{"Key": "env", "Value": "test"}]}
    assert engine.list_tags_for_stream(stream.name)["Tags"] == []  # the stream's own tags are apart
    with pytest.raises(ValidationException):
        engine.tag_resource(arn, {"": "x"})
    with pytest.raises(ResourceNotFoundException):
        engine.list_tags_for_resource(arn + "0")


def test_list_queues_errors(env):
    clock, engine, stream = env
    with pytest.raises(ValidationException):
        engine.list_queues(max_results=0)
    with pytest.raises(SerializationException):
        engine.list_queues(stream_filter="x")
    with pytest.raises(InvalidArgumentException):
        engine.list_queues(next_token="not-a-token")
