"""Conformance details (issue 10, part 4) through real boto3 against the real server on loopback.

The embedded API's side of the same rules is tests/kinesis/test_conformance_2026.py.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

ACCT = "000000000000"


def error_of(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as ei:
        call()
    err = ei.value.response["Error"]
    return err["Code"], err.get("Message"), ei.value.response["ResponseMetadata"]["HTTPStatusCode"]


def rnf(message: str) -> tuple[str, str, int]:
    return "ResourceNotFoundException", message, 400


# -- shard ids are parsed before the stream is looked up ------------------------------------------


@pytest.mark.parametrize("given", ["2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4", "shardId-", "a-1-2"])
def test_unparsable_shard_ids(kinesis, given):
    expected = rnf(f"Could not find shard {given} in stream ghost under account {ACCT}.")
    assert error_of(lambda: kinesis.get_shard_iterator(StreamName="ghost", ShardId=given, ShardIteratorType="LATEST")) \
        == expected
    assert error_of(
        lambda: kinesis.split_shard(StreamName="ghost", ShardToSplit=given, NewStartingHashKey="12345")
    ) == expected
    assert error_of(
        lambda: kinesis.merge_shards(StreamName="ghost", ShardToMerge="shardId-0", AdjacentShardToMerge=given)
    ) == expected
    kinesis.create_stream(StreamName="here", ShardCount=2)
    assert error_of(lambda: kinesis.get_shard_iterator(StreamName="here", ShardId=given, ShardIteratorType="LATEST")) \
        == rnf(f"Could not find shard {given} in stream here under account {ACCT}.")


@pytest.mark.parametrize("given", ["2147483647", "a-00002147483647", "-00002147483647"])
def test_valid_shard_ids_on_a_missing_stream(kinesis, given):
    assert error_of(
        lambda: kinesis.get_shard_iterator(StreamName="ghost", ShardId=given, ShardIteratorType="LATEST")
    ) == rnf(f"Shard shardId-002147483647 in stream ghost under account {ACCT} does not exist")
    assert error_of(
        lambda: kinesis.split_shard(StreamName="ghost", ShardToSplit=given, NewStartingHashKey="12345")
    ) == rnf(f"Stream ghost under account {ACCT} not found.")


def test_shard_ids_by_stream_arn(kinesis):
    arn = f"arn:aws:kinesis:us-east-1:{ACCT}:stream/gone"
    assert error_of(lambda: kinesis.get_shard_iterator(StreamARN=arn, ShardId="x", ShardIteratorType="LATEST")) == rnf(
        f"Could not find shard x in stream gone under account {ACCT}."
    )
    assert error_of(
        lambda: kinesis.get_shard_iterator(StreamARN=arn, ShardId="shard-4", ShardIteratorType="LATEST")
    ) == rnf(f"Shard shardId-000000000004 in stream gone under account {ACCT} does not exist")
    kinesis.create_stream(StreamName="gone", ShardCount=1)
    assert kinesis.get_shard_iterator(StreamARN=arn, ShardId="x-0", ShardIteratorType="LATEST")["ShardIterator"]
    kinesis.split_shard(StreamARN=arn, ShardToSplit="0", NewStartingHashKey=str(2**127))
    kinesis.merge_shards(StreamARN=arn, ShardToMerge="shard-1", AdjacentShardToMerge="any-2")
    shards = kinesis.list_shards(StreamARN=arn)["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(4)]


# -- tags ------------------------------------------------------------------------------------------

INVALID_CHARACTERS = (
    "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
)
KEY_LENGTHS = (
    "Member must satisfy constraint: [Member must have length less than or equal to 128, "
    "Member must have length greater than or equal to 1]"
)


def _ia(message: str) -> tuple[str, str, int]:
    return "InvalidArgumentException", message, 400


@pytest.fixture
def tagged(kinesis):
    kinesis.create_stream(StreamName="t", ShardCount=1)
    kinesis.add_tags_to_stream(StreamName="t", Tags={"keep": "me"})
    return kinesis.describe_stream_summary(StreamName="t")["StreamDescriptionSummary"]["StreamARN"]


def _tags(kinesis) -> dict:
    return {t["Key"]: t["Value"] for t in kinesis.list_tags_for_stream(StreamName="t")["Tags"]}


@pytest.mark.parametrize("bad", ["tab\there", "new\nline", "semi;colon", "com,ma"])
def test_tag_characters(kinesis, tagged, bad):
    arn = tagged
    for call in (
        lambda: kinesis.add_tags_to_stream(StreamName="t", Tags={bad: "v"}),
        lambda: kinesis.add_tags_to_stream(StreamName="t", Tags={"k": bad}),
        lambda: kinesis.tag_resource(ResourceARN=arn, Tags={bad: "v"}),
        lambda: kinesis.remove_tags_from_stream(StreamName="t", TagKeys=["keep", bad]),
        lambda: kinesis.untag_resource(ResourceARN=arn, TagKeys=[bad]),
        lambda: kinesis.create_stream(StreamName="other", ShardCount=1, Tags={bad: "v"}),
    ):
        assert error_of(call) == _ia(INVALID_CHARACTERS)
    assert _tags(kinesis) == {"keep": "me"}
    assert kinesis.list_streams()["StreamNames"] == ["t"]
    # the stream check comes first
    assert error_of(lambda: kinesis.remove_tags_from_stream(StreamName="ghost", TagKeys=[bad])) == rnf(
        f"Stream ghost under account {ACCT} not found."
    )


def test_spaces_in_tags(kinesis, tagged):
    kinesis.add_tags_to_stream(StreamName="t", Tags={"a b": "c d", "ü0 _.": "/=+-@:%"})
    kinesis.remove_tags_from_stream(StreamName="t", TagKeys=["a b"])
    assert _tags(kinesis) == {"keep": "me", "ü0 _.": "/=+-@:%"}


def test_more_than_50_tags(kinesis, tagged):
    kinesis.add_tags_to_stream(StreamName="t", Tags={f"k{i:02d}": "v" for i in range(49)})
    expected = _ia(
        f"Failed to add tags to stream t under account {ACCT} because a given stream cannot have more than 10 tags "
        "associated with it."
    )
    assert error_of(lambda: kinesis.add_tags_to_stream(StreamName="t", Tags={"x": "y"})) == expected
    assert error_of(lambda: kinesis.tag_resource(ResourceARN=tagged, Tags={"x": "y"})) == expected
    assert len(_tags(kinesis)) == 50


def test_tag_key_length_reported_once_for_the_list(kinesis, tagged):
    long_key = "k" * 129
    expected = (
        "ValidationException",
        f"1 validation error detected: Value '[a, {long_key}, b, {long_key}]' at 'tagKeys' failed to satisfy "
        f"constraint: {KEY_LENGTHS}",
        400,
    )
    keys = ["a", long_key, "b", long_key]
    assert error_of(lambda: kinesis.remove_tags_from_stream(StreamName="t", TagKeys=keys)) == expected
    assert error_of(lambda: kinesis.untag_resource(ResourceARN=tagged, TagKeys=keys)) == expected


def test_tag_map_lengths_reported_once_for_the_map(kinesis, tagged):
    tags = {"a": "1", "k" * 129: "v", "b": "w" * 257}
    shown = "'{" + ", ".join(f"{k}={val}" for k, val in tags.items()) + "}'"
    expected = (
        "ValidationException",
        f"2 validation errors detected: Value {shown} at 'tags' failed to satisfy constraint: Map keys must satisfy "
        "constraint: [Member must have length less than or equal to 128, Member must have length greater than or "
        f"equal to 1]; Value {shown} at 'tags' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must have length less than or equal to 256, Member must have length greater than or equal to 0]",
        400,
    )
    assert error_of(lambda: kinesis.add_tags_to_stream(StreamName="t", Tags=tags)) == expected
    assert error_of(lambda: kinesis.tag_resource(ResourceARN=tagged, Tags=tags)) == expected
    assert _tags(kinesis) == {"keep": "me"}


# -- resource policies -----------------------------------------------------------------------------


def test_delete_resource_policy_without_one(kinesis):
    kinesis.create_stream(StreamName="p", ShardCount=1)
    arn = f"arn:aws:kinesis:us-east-1:{ACCT}:stream/p"
    expected = rnf(f"No resource policy found for resource ARN {arn}.")
    assert error_of(lambda: kinesis.delete_resource_policy(ResourceARN=arn)) == expected
    kinesis.put_resource_policy(ResourceARN=arn, Policy='{"Version":"2012-10-17"}')
    kinesis.delete_resource_policy(ResourceARN=arn)
    assert error_of(lambda: kinesis.delete_resource_policy(ResourceARN=arn)) == expected
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    assert error_of(lambda: kinesis.delete_resource_policy(ResourceARN=consumer)) == rnf(
        f"No resource policy found for resource ARN {consumer}."
    )


# -- lifecycle with transitions on -------------------------------------------------------------------


@pytest.fixture
def slow_kinesis():
    """A client of a server whose engine's transitions take 500 ms on a clock the test moves."""
    import shardstream
    from shardstream.testing import boto3_client, start_server

    now = [1_700_000_000_000]
    engine = shardstream.Engine(transition_ms=500, clock=lambda: now[0])

    def advance(ms: int) -> None:
        now[0] += ms

    with start_server(engine) as srv:
        yield boto3_client(srv.url), advance


def _described(kinesis, name: str) -> tuple[str, list[str]]:
    desc = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    listed = [s["ShardId"] for s in kinesis.list_shards(StreamName=name)["Shards"]]
    assert listed == [s["ShardId"] for s in desc["Shards"]]
    return desc["StreamStatus"], listed


def test_creating_and_deleted_while_creating(slow_kinesis):
    kinesis, advance = slow_kinesis
    kinesis.create_stream(StreamName="c", ShardCount=2)
    assert _described(kinesis, "c") == ("CREATING", [])
    assert kinesis.list_shards(StreamName="c")["Shards"] == []
    kinesis.delete_stream(StreamName="c")
    assert _described(kinesis, "c") == ("DELETING", [])
    assert kinesis.list_shards(StreamName="c")["Shards"] == []
    advance(500)
    assert error_of(lambda: kinesis.describe_stream(StreamName="c")) == rnf(f"Stream c under account {ACCT} not found.")


def test_updating_lists_the_old_shards(slow_kinesis):
    kinesis, advance = slow_kinesis
    kinesis.create_stream(StreamName="u", ShardCount=2)
    advance(500)
    kinesis.split_shard(StreamName="u", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126))
    status, shards = _described(kinesis, "u")
    assert (status, shards) == ("UPDATING", ["shardId-000000000000", "shardId-000000000001"])
    first = kinesis.describe_stream(StreamName="u")["StreamDescription"]["Shards"][0]
    assert "EndingSequenceNumber" not in first["SequenceNumberRange"]
    advance(500)
    assert _described(kinesis, "u") == ("ACTIVE", [f"shardId-{i:012d}" for i in range(4)])
    kinesis.merge_shards(
        StreamName="u", ShardToMerge="shardId-000000000002", AdjacentShardToMerge="shardId-000000000003"
    )
    assert _described(kinesis, "u") == ("UPDATING", [f"shardId-{i:012d}" for i in range(4)])
    advance(500)
    assert _described(kinesis, "u") == ("ACTIVE", [f"shardId-{i:012d}" for i in range(5)])


# -- the account shard limit ---------------------------------------------------------------------------


def test_describe_limits_default(kinesis):
    assert kinesis.describe_limits()["ShardLimit"] == 20_000


@pytest.mark.parametrize(
    "args, limit", [((), 20_000), (("--shard-limit", "7"), 7), (("--shard-limit", "0"), 2**31 - 1)]
)
def test_serve_shard_limit_option(args, limit):
    from serve_process import ServeProcess

    from shardstream.testing import boto3_client

    with ServeProcess(*args) as srv:
        kinesis = boto3_client(srv.url())
        assert kinesis.describe_limits()["ShardLimit"] == limit
        if limit == 7:
            kinesis.create_stream(StreamName="s", ShardCount=7)
            code, message, status = error_of(lambda: kinesis.create_stream(StreamName="t", ShardCount=1))
            assert (code, status) == ("LimitExceededException", 400)
            assert "Current shard count for the account: 7. Limit: 7." in message


def test_serve_rejects_a_negative_shard_limit():
    from click.testing import CliRunner

    from shardstream.serve import serve

    result = CliRunner().invoke(serve, ["--shard-limit", "-1"])
    assert result.exit_code == 2
    assert "Invalid value for '--shard-limit'" in result.output
