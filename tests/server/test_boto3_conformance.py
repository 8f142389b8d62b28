"""Conformance details (issue 10, part 4) through real boto3 against the real server on loopback.

The embedded API's side of the same rules is tests/test_conformance_2026.py.
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
