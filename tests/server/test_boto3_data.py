"""Data plane through boto3 against a live shardstream server."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from botocore.exceptions import ClientError

import shardstream
from shardstream.testing import boto3_client, start_server

ACCT = "000000000000"
HASH_MAX = 2**128 - 1


def shard_of(key: str, shards: int) -> str:
    h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    step = 2**128 // shards
    return f"shardId-{min(h // step, shards - 1):012d}"


def read_all(kinesis, stream, shard_id, kind="TRIM_HORIZON", **kw):
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, ShardIteratorType=kind, **kw)["ShardIterator"]
    out = []
    while True:
        page = kinesis.get_records(ShardIterator=it, Limit=1000)
        out.extend(page["Records"])
        if not page["Records"] or page.get("NextShardIterator") is None:
            return out, page
        it = page["NextShardIterator"]


def test_put_record_and_get_records_round_trip_bytes(kinesis):
    kinesis.create_stream(StreamName="d", ShardCount=4)
    payloads = [bytes(range(256)), b"", b"\x00\xff" * 1000, "héllo".encode()]
    written = []
    for i, data in enumerate(payloads):
        r = kinesis.put_record(StreamName="d", Data=data, PartitionKey=f"key-{i}")
        assert r["ShardId"] == shard_of(f"key-{i}", 4)
        assert len(r["SequenceNumber"]) == 56
        written.append((r["ShardId"], r["SequenceNumber"], data, f"key-{i}"))
    got = {}
    for shard in range(4):
        records, page = read_all(kinesis, "d", f"shardId-{shard:012d}")
        assert page["MillisBehindLatest"] == 0
        for rec in records:
            assert isinstance(rec["ApproximateArrivalTimestamp"], dt.datetime)
            got[rec["SequenceNumber"]] = (rec["Data"], rec["PartitionKey"])
    assert got == {seq: (data, key) for _, seq, data, key in written}


def test_explicit_hash_key_and_put_records(kinesis):
    kinesis.create_stream(StreamName="p", ShardCount=2)
    r = kinesis.put_record(StreamName="p", Data=b"x", PartitionKey="anything", ExplicitHashKey=str(HASH_MAX))
    assert r["ShardId"] == "shardId-000000000001"
    out = kinesis.put_records(
        StreamName="p",
        Records=[
            {"Data": b"a", "PartitionKey": "k", "ExplicitHashKey": "0"},
            {"Data": b"b", "PartitionKey": "k", "ExplicitHashKey": str(HASH_MAX)},
            {"Data": b"c" * 10_000, "PartitionKey": "user-7"},
        ],
    )
    assert out["FailedRecordCount"] == 0
    assert [e["ShardId"] for e in out["Records"]] == [
        "shardId-000000000000",
        "shardId-000000000001",
        shard_of("user-7", 2),
    ]
    records, _ = read_all(kinesis, "p", "shardId-000000000000")
    assert records[0]["Data"] == b"a"

    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="p", Data=b"x", PartitionKey="k", ExplicitHashKey=str(HASH_MAX + 1))
    assert e.value.response["Error"]["Code"] == "InvalidArgumentException"


def test_iterator_types_and_at_timestamp():
    clock = [1_700_000_000_000]
    engine = shardstream.Engine(clock=lambda: clock[0])
    with start_server(engine) as srv:
        _check_iterator_types(boto3_client(srv.url), clock)


def _check_iterator_types(kinesis, clock):
    t0 = dt.datetime.fromtimestamp(clock[0] / 1000, dt.timezone.utc)
    kinesis.create_stream(StreamName="ts", ShardCount=1)
    shard = "shardId-000000000000"
    first = kinesis.put_record(StreamName="ts", Data=b"first", PartitionKey="k")["SequenceNumber"]
    clock[0] += 5_000
    kinesis.put_record(StreamName="ts", Data=b"second", PartitionKey="k")
    clock[0] += 5_000

    at_ts, _ = read_all(kinesis, "ts", shard, "AT_TIMESTAMP", Timestamp=t0 + dt.timedelta(seconds=2))
    assert [r["Data"] for r in at_ts] == [b"second"]
    assert at_ts[0]["ApproximateArrivalTimestamp"] == t0 + dt.timedelta(seconds=5)
    at_ts, _ = read_all(kinesis, "ts", shard, "AT_TIMESTAMP", Timestamp=t0 - dt.timedelta(seconds=3))
    assert [r["Data"] for r in at_ts] == [b"first", b"second"]
    at_ts, _ = read_all(kinesis, "ts", shard, "AT_TIMESTAMP", Timestamp=t0 + dt.timedelta(seconds=8))
    assert at_ts == []

    after, _ = read_all(kinesis, "ts", shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=first)
    assert [r["Data"] for r in after] == [b"second"]
    at, _ = read_all(kinesis, "ts", shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=first)
    assert [r["Data"] for r in at] == [b"first", b"second"]

    latest = kinesis.get_shard_iterator(StreamName="ts", ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    page = kinesis.get_records(ShardIterator=latest)
    assert page["Records"] == [] and page["NextShardIterator"]
    kinesis.put_record(StreamName="ts", Data=b"third", PartitionKey="k")
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=page["NextShardIterator"])["Records"]] == [b"third"]


def test_read_errors(kinesis):
    kinesis.create_stream(StreamName="e", ShardCount=1)
    with pytest.raises(ClientError) as e:
        kinesis.get_shard_iterator(StreamName="e", ShardId="shardId-000000000007", ShardIteratorType="LATEST")
    assert e.value.response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": f"Shard shardId-000000000007 in stream e under account {ACCT} does not exist",
    }
    with pytest.raises(ClientError) as e:
        kinesis.get_records(ShardIterator="bm90IGFuIGl0ZXJhdG9y")
    assert e.value.response["Error"]["Code"] == "InvalidArgumentException"
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.put_record(StreamName="missing", Data=b"x", PartitionKey="k")


def test_read_across_a_split_with_child_shards(kinesis):
    kinesis.create_stream(StreamName="s", ShardCount=1)
    before = [f"k{i}" for i in range(20)]
    kinesis.put_records(StreamName="s", Records=[{"Data": k.encode(), "PartitionKey": k} for k in before])
    kinesis.split_shard(StreamName="s", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    kinesis.put_record(StreamName="s", Data=b"after", PartitionKey="k0")

    records, page = read_all(kinesis, "s", "shardId-000000000000")
    assert [r["PartitionKey"] for r in records] == before
    assert "NextShardIterator" not in page or page["NextShardIterator"] is None
    children = page["ChildShards"]
    assert sorted(c["ShardId"] for c in children) == ["shardId-000000000001", "shardId-000000000002"]
    assert all(c["ParentShards"] == ["shardId-000000000000"] for c in children)
    assert children[0]["HashKeyRange"]["StartingHashKey"] in ("0", str(2**127))

    child = (
        "shardId-000000000001"
        if int.from_bytes(hashlib.md5(b"k0").digest(), "big") < 2**127
        else "shardId-000000000002"
    )
    after, _ = read_all(kinesis, "s", child)
    assert [r["Data"] for r in after] == [b"after"]


def test_list_shards_paginator_and_filters(kinesis):
    kinesis.create_stream(StreamName="l", ShardCount=5)
    kinesis.split_shard(StreamName="l", ShardToSplit="shardId-000000000000", NewStartingHashKey="1000")

    # page by NextToken alone, as Kinesis requires; the filter travels in the token
    page = kinesis.list_shards(StreamName="l", MaxResults=2, ShardFilter={"Type": "AT_LATEST"})
    pages = [page]
    while "NextToken" in page:
        page = kinesis.list_shards(NextToken=page["NextToken"], MaxResults=2)
        pages.append(page)
    assert [len(p["Shards"]) for p in pages] == [2, 2, 2]
    assert [s["ShardId"] for p in pages for s in p["Shards"]] == [f"shardId-{i:012d}" for i in range(1, 7)]

    # boto3's paginator resends StreamName with the NextToken, which Kinesis refuses: same here
    paginator = kinesis.get_paginator("list_shards")
    first = next(iter(paginator.paginate(StreamName="l", PaginationConfig={"PageSize": 10})))
    assert [s["ShardId"] for s in first["Shards"]] == [f"shardId-{i:012d}" for i in range(7)]
    with pytest.raises(ClientError) as e:
        list(paginator.paginate(StreamName="l", ShardFilter={"Type": "AT_LATEST"}, PaginationConfig={"PageSize": 2}))
    assert e.value.response["Error"] == {
        "Code": "InvalidArgumentException",
        "Message": "NextToken and StreamName cannot be provided together.",
    }

    latest = kinesis.list_shards(StreamName="l", ShardFilter={"Type": "AT_LATEST"})["Shards"]
    assert [s["ShardId"] for s in latest] == [f"shardId-{i:012d}" for i in range(1, 7)]
    after = kinesis.list_shards(
        StreamName="l", ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000004"}
    )
    assert [s["ShardId"] for s in after["Shards"]] == ["shardId-000000000005", "shardId-000000000006"]
    in_future = kinesis.list_shards(
        StreamName="l",
        ShardFilter={"Type": "AT_TIMESTAMP", "Timestamp": dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)},
    )
    assert [s["ShardId"] for s in in_future["Shards"]] == [f"shardId-{i:012d}" for i in range(1, 7)]

    created = kinesis.describe_stream_summary(StreamName="l")["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    assert len(kinesis.list_shards(StreamName="l", StreamCreationTimestamp=created)["Shards"]) == 7
    with pytest.raises(ClientError) as e:
        kinesis.list_shards(StreamName="l", StreamCreationTimestamp=created - dt.timedelta(days=1))
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_stream_arn_addressing(kinesis):
    kinesis.create_stream(StreamName="arn", ShardCount=1)
    arn = f"arn:aws:kinesis:us-east-1:{ACCT}:stream/arn"
    r = kinesis.put_record(StreamARN=arn, Data=b"via-arn", PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamARN=arn, ShardId=r["ShardId"], ShardIteratorType="TRIM_HORIZON")
    page = kinesis.get_records(ShardIterator=it["ShardIterator"], StreamARN=arn)
    assert page["Records"][0]["Data"] == b"via-arn"
    assert [s["ShardId"] for s in kinesis.list_shards(StreamARN=arn)["Shards"]] == ["shardId-000000000000"]
