"""SplitShard, MergeShards and UpdateShardCount: lineage, messages, routing and reads across reshards."""

from __future__ import annotations

import bisect
import collections
import itertools
import random
import threading

import pytest
from conftest import ACCOUNT, HASH_MAX, FakeClock, md5_hash, shard_id
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.errors import (
    InvalidArgumentException,
    LimitExceededException,
    ResourceNotFoundException,
    ValidationException,
)
from shardstream.models import uniform_ranges

_names = itertools.count()


def _name(prefix="r") -> str:
    return f"{prefix}{next(_names)}"


# -- helpers over the public API -----------------------------------------------------


def all_shards(engine, name) -> list[dict]:
    """Every listed shard (ListShards, following NextToken)."""
    resp = engine.list_shards(name)
    out = list(resp["Shards"])
    while "NextToken" in resp:
        resp = engine.list_shards(next_token=resp["NextToken"])
        out.extend(resp["Shards"])
    return out


def hash_range(shard: dict) -> tuple[int, int]:
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def open_shards(engine, name) -> list[dict]:
    shards = [s for s in all_shards(engine, name) if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    return sorted(shards, key=lambda s: hash_range(s)[0])


def open_ranges(engine, name) -> list[tuple[int, int]]:
    return [hash_range(s) for s in open_shards(engine, name)]


def assert_tiles(ranges: list[tuple[int, int]]) -> None:
    """Sorted ranges cover 0..2^128-1 with no gap or overlap."""
    assert ranges, "no open shards"
    assert ranges[0][0] == 0
    assert ranges[-1][1] == HASH_MAX
    for (s1, e1), (s2, _) in zip(ranges, ranges[1:]):
        assert s1 <= e1
        assert e1 + 1 == s2
    assert ranges[-1][0] <= ranges[-1][1]


def assert_lineage(shards: list[dict]) -> None:
    """Every child has 1 parent containing it, or 2 adjacent parents whose union it is."""
    by_id = {s["ShardId"]: s for s in shards}
    for s in shards:
        parent, adjacent = s.get("ParentShardId"), s.get("AdjacentParentShardId")
        if parent is None:
            assert adjacent is None
            continue
        if parent not in by_id:  # parent expired
            continue
        p = by_id[parent]
        assert "EndingSequenceNumber" in p["SequenceNumberRange"], "a parent must be closed"
        child_seq = int(s["SequenceNumberRange"]["StartingSequenceNumber"])
        assert child_seq > int(p["SequenceNumberRange"]["EndingSequenceNumber"])
        cs, ce = hash_range(s)
        ps, pe = hash_range(p)
        if adjacent is None:
            assert ps <= cs <= ce <= pe
        else:
            a = by_id[adjacent]
            as_, ae = hash_range(a)
            assert pe + 1 == as_, "merge parents must be adjacent, ParentShardId the lower one"
            assert (cs, ce) == (ps, ae)
            assert child_seq > int(a["SequenceNumberRange"]["EndingSequenceNumber"])


def reference_router(engine, name):
    """A bisect router over the current open shards: hash -> shard id."""
    shards = open_shards(engine, name)
    starts = [hash_range(s)[0] for s in shards]
    ids = [s["ShardId"] for s in shards]

    def route(h: int) -> str:
        return ids[bisect.bisect_right(starts, h) - 1]

    return route


def consume_by_lineage(engine, name, limit=None):
    """Read a whole stream like KCL: roots first, a child only after all its parents reached shard end.

    Returns (records, shard order).  Checks the GetRecords shard-end contract on the way.
    """
    shards = all_shards(engine, name)
    ids = {s["ShardId"] for s in shards}
    ready = collections.deque(s["ShardId"] for s in shards if s.get("ParentShardId") not in ids)
    done: list[str] = []
    records: list[dict] = []
    while ready:
        sid = ready.popleft()
        if sid in done:
            continue
        it = engine.get_shard_iterator(name, sid, "TRIM_HORIZON")["ShardIterator"]
        children = []
        while True:
            resp = engine.get_records(it, limit) if limit else engine.get_records(it)
            records.extend(resp["Records"])
            nxt = resp.get("NextShardIterator")
            # KCL: exactly one of {NextShardIterator non-null, ChildShards non-empty}
            assert (nxt is not None) != bool(resp.get("ChildShards")), resp.keys()
            if nxt is None:
                children = resp["ChildShards"]
                break
            if not resp["Records"]:
                assert resp["MillisBehindLatest"] == 0
                break  # an open shard, caught up
            it = nxt
        done.append(sid)
        for c in children:
            assert sid in c["ParentShards"]
            assert 1 <= len(c["ParentShards"]) <= 2
            assert set(c) == {"ShardId", "ParentShards", "HashKeyRange"}
            if all(p in done for p in c["ParentShards"]):
                ready.append(c["ShardId"])
    assert sorted(done) == sorted(ids), "every listed shard is reachable through ChildShards"
    return records, done


def assert_exactly_once_in_order(rows, written):
    """rows: (key, data) in read order; written: (key, data) in write order (data unique)."""
    assert collections.Counter(rows) == collections.Counter(written)
    assert len(set(rows)) == len(rows)
    per_key_read = collections.defaultdict(list)
    for k, d in rows:
        per_key_read[k].append(d)
    per_key_written = collections.defaultdict(list)
    for k, d in written:
        per_key_written[k].append(d)
    assert per_key_read == per_key_written


def table_rows(table) -> list[tuple[str, bytes]]:
    return list(zip(table.column("partition_key").to_pylist(), table.column("data").to_pylist()))


# -- SplitShard --------------------------------------------------------------------------


def test_split_at_two_spec_example(engine):
    s = engine.create_stream("sp", 1)
    assert s.split_shard(shard_id(0), "2") == {}
    shards = engine.describe_stream("sp")["StreamDescription"]["Shards"]
    assert [x["ShardId"] for x in shards] == [shard_id(0), shard_id(1), shard_id(2)]
    parent, c1, c2 = shards
    assert hash_range(parent) == (0, HASH_MAX)
    assert "EndingSequenceNumber" in parent["SequenceNumberRange"]
    assert "ParentShardId" not in parent
    assert hash_range(c1) == (0, 1)
    assert hash_range(c2) == (2, HASH_MAX)
    for c in (c1, c2):
        assert c["ParentShardId"] == shard_id(0)
        assert "AdjacentParentShardId" not in c
        assert "EndingSequenceNumber" not in c["SequenceNumberRange"]
        assert int(c["SequenceNumberRange"]["StartingSequenceNumber"]) > int(
            parent["SequenceNumberRange"]["EndingSequenceNumber"]
        )
        assert int(c["SequenceNumberRange"]["StartingSequenceNumber"]) > int(
            parent["SequenceNumberRange"]["StartingSequenceNumber"]
        )
    assert s.describe_summary()["StreamDescriptionSummary"]["OpenShardCount"] == 2


def test_split_at_half_then_merge_spec_example(engine):
    s = engine.create_stream("half", 1)
    engine.split_shard("half", shard_id(0), str(2**127))
    assert open_ranges(engine, "half") == [(0, 2**127 - 1), (2**127, HASH_MAX)]
    assert engine.merge_shards("half", shard_id(1), shard_id(2)) == {}
    shards = all_shards(engine, "half")
    assert [x["ShardId"] for x in shards] == [shard_id(i) for i in range(4)]
    child = shards[3]
    assert child["ParentShardId"] == shard_id(1)
    assert child["AdjacentParentShardId"] == shard_id(2)
    assert hash_range(child) == (0, HASH_MAX)
    assert "EndingSequenceNumber" not in child["SequenceNumberRange"]
    for closed in shards[:3]:
        assert "EndingSequenceNumber" in closed["SequenceNumberRange"]
    assert_lineage(shards)
    assert s.open_shard_count == 1


def test_split_children_get_next_indexes_never_reused(engine):
    s = engine.create_stream(_name(), 3)
    s.split_shard(shard_id(1), str((2**128 // 3) + 1000))
    s.split_shard(shard_id(4), str((2**128 // 3) * 2 - 1000))
    ids = [x["ShardId"] for x in all_shards(engine, s.name)]
    assert ids == [shard_id(i) for i in range(7)]
    assert_tiles(open_ranges(engine, s.name))
    assert_lineage(all_shards(engine, s.name))


@pytest.mark.parametrize("at", ["0", "1", str(HASH_MAX), "9" * 39])
def test_split_hash_bounds_message(engine, at):
    s = engine.create_stream(_name(), 1)
    with pytest.raises(InvalidArgumentException) as ei:
        s.split_shard(shard_id(0), at)
    assert str(ei.value) == (
        f"NewStartingHashKey {at} used in SplitShard() on shard shardId-000000000000 in stream {s.name} "
        f"under account {ACCOUNT} is not both greater than one plus the shard's StartingHashKey 0 and less "
        f"than the shard's EndingHashKey {HASH_MAX}."
    )
    assert s.open_shard_count == 1 and len(all_shards(engine, s.name)) == 1


def test_split_hash_bounds_on_inner_shard(engine):
    s = engine.create_stream(_name(), 4)
    start, end = uniform_ranges(4)[2]
    for bad in (start, start + 1, end, end + 5, 0):
        with pytest.raises(InvalidArgumentException) as ei:
            s.split_shard(shard_id(2), str(bad))
        assert str(ei.value).endswith(
            f"is not both greater than one plus the shard's StartingHashKey {start} "
            f"and less than the shard's EndingHashKey {end}."
        )
    s.split_shard(shard_id(2), str(start + 2))  # smallest legal point
    s.split_shard(shard_id(1), str(uniform_ranges(4)[1][1] - 1))  # largest legal point
    ranges = open_ranges(engine, s.name)
    assert (start, start + 1) in ranges
    assert (uniform_ranges(4)[1][1] - 1, uniform_ranges(4)[1][1]) in ranges
    assert_tiles(ranges)


def test_split_hash_key_pattern_validation(engine):
    s = engine.create_stream(_name(), 1)
    with pytest.raises(ValidationException) as ei:
        s.split_shard(shard_id(0), "-5")
    assert str(ei.value) == (
        "1 validation error detected: Value '-5' at 'newStartingHashKey' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"
    )


def test_split_closed_shard_message(engine):
    s = engine.create_stream(_name(), 1)
    s.split_shard(shard_id(0), str(2**127))
    with pytest.raises(InvalidArgumentException) as ei:
        s.split_shard(shard_id(0), str(2**126))
    assert str(ei.value) == (
        f"Shard shardId-000000000000 in stream {s.name} under account {ACCOUNT} has already been merged or "
        "split, and thus is not eligible for merging or splitting."
    )
    # merge involving a closed shard: the same message, naming the closed one
    with pytest.raises(InvalidArgumentException) as ei:
        s.merge_shards(shard_id(0), shard_id(1))
    assert "Shard shardId-000000000000 in stream" in str(ei.value)
    assert str(ei.value).endswith(
        "has already been merged or split, and thus is not eligible for merging or splitting."
    )
    with pytest.raises(InvalidArgumentException) as ei:
        s.merge_shards(shard_id(2), shard_id(0))
    assert str(ei.value).startswith("Shard shardId-000000000000 in stream")


def test_unknown_shard_messages(engine):
    s = engine.create_stream(_name(), 2)
    expected = f"Could not find shard shardId-000000000009 in stream {s.name} under account {ACCOUNT}."
    for call in (
        lambda: s.split_shard(shard_id(9), "12345"),
        lambda: s.split_shard("shardId-9", "12345"),  # lenient lookup, canonical id in the message
        lambda: s.merge_shards(shard_id(9), shard_id(0)),
        lambda: s.merge_shards(shard_id(0), "9"),
        lambda: engine.split_shard(s.name, shard_id(9), "12345"),
    ):
        with pytest.raises(ResourceNotFoundException) as ei:
            call()
        assert str(ei.value) == expected


def test_split_unknown_stream(engine):
    with pytest.raises(ResourceNotFoundException) as ei:
        engine.split_shard("nope", shard_id(0), "12345")
    assert str(ei.value) == f"Stream nope under account {ACCOUNT} not found."


def test_lenient_shard_id_for_split_and_merge(engine):
    s = engine.create_stream(_name(), 2)
    s.split_shard("shardId-1", str(2**127 + 2**126))
    s.merge_shards("anything-0", "2")
    shards = all_shards(engine, s.name)
    assert shards[-1]["ParentShardId"] == shard_id(0)
    assert shards[-1]["AdjacentParentShardId"] == shard_id(2)
    assert_tiles(open_ranges(engine, s.name))


# -- MergeShards -------------------------------------------------------------------------


def test_merge_argument_order_matters(engine):
    s = engine.create_stream(_name(), 3)
    with pytest.raises(InvalidArgumentException) as ei:
        s.merge_shards(shard_id(1), shard_id(0))
    assert str(ei.value) == (
        f"Shards shardId-000000000001 and shardId-000000000000 in stream {s.name} under account {ACCOUNT} "
        "are not an adjacent pair of shards eligible for merging"
    )
    with pytest.raises(InvalidArgumentException) as ei:  # not adjacent at all
        s.merge_shards(shard_id(0), shard_id(2))
    assert str(ei.value) == (
        f"Shards shardId-000000000000 and shardId-000000000002 in stream {s.name} under account {ACCOUNT} "
        "are not an adjacent pair of shards eligible for merging"
    )
    with pytest.raises(InvalidArgumentException):  # a shard with itself
        s.merge_shards(shard_id(1), shard_id(1))
    assert s.open_shard_count == 3 and len(all_shards(engine, s.name)) == 3
    s.merge_shards(shard_id(1), shard_id(2))
    child = all_shards(engine, s.name)[3]
    assert (child["ParentShardId"], child["AdjacentParentShardId"]) == (shard_id(1), shard_id(2))
    assert hash_range(child) == (uniform_ranges(3)[1][0], HASH_MAX)
    assert open_ranges(engine, s.name) == [uniform_ranges(3)[0], (uniform_ranges(3)[1][0], HASH_MAX)]


def test_merge_missing_arguments_validation(engine):
    s = engine.create_stream(_name(), 2)
    with pytest.raises(ValidationException) as ei:
        s.merge_shards(None, shard_id(1))
    assert "Value null at 'shardToMerge' failed to satisfy constraint: Member must not be null" in str(ei.value)


# -- UpdateShardCount --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [[4, 8, 4], [1, 2], [3, 5], [5, 3], [2, 1], [3, 6, 12, 7, 4, 2, 3], [7, 13, 9, 5, 10], [6, 6]],
)
def test_update_shard_count_gives_uniform_ranges(path):
    engine = shardstream.Engine(shard_limit=None)
    s = engine.create_stream("u", path[0])
    current = path[0]
    for target in path[1:]:
        before = len(all_shards(engine, "u"))
        resp = engine.update_shard_count("u", target, "UNIFORM_SCALING")
        assert resp == {
            "StreamName": "u",
            "StreamARN": s.arn,
            "CurrentShardCount": current,
            "TargetShardCount": target,
        }
        assert open_ranges(engine, "u") == uniform_ranges(target)
        shards = all_shards(engine, "u")
        assert_lineage(shards)
        assert [x["ShardId"] for x in shards] == [shard_id(i) for i in range(len(shards))]
        if target == current:
            assert len(shards) == before  # no-op
        assert s.describe_summary()["StreamDescriptionSummary"]["OpenShardCount"] == target
        current = target


def test_update_shard_count_limits_messages(engine):
    s = engine.create_stream(_name(), 4)
    with pytest.raises(LimitExceededException) as ei:
        s.update_shard_count(9)
    assert str(ei.value) == (
        "UpdateShardCount cannot scale up over double your current open shard count. "
        "Current open shard count: 4, Target shard count: 9"
    )
    with pytest.raises(LimitExceededException) as ei:
        s.update_shard_count(1)
    assert str(ei.value) == (
        "UpdateShardCount cannot scale down below half your current open shard count. "
        "Current open shard count: 4, Target shard count: 1"
    )
    assert open_ranges(engine, s.name) == uniform_ranges(4)
    s.update_shard_count(2)  # exactly half is fine
    assert open_ranges(engine, s.name) == uniform_ranges(2)
    s.update_shard_count(4)  # exactly double is fine
    assert open_ranges(engine, s.name) == uniform_ranges(4)
    s5 = engine.create_stream(_name(), 5)
    with pytest.raises(LimitExceededException) as ei:
        s5.update_shard_count(2)
    assert str(ei.value).endswith("Current open shard count: 5, Target shard count: 2")


def test_update_shard_count_validation(engine):
    s = engine.create_stream(_name(), 2)
    with pytest.raises(ValidationException) as ei:
        s.update_shard_count(0)
    assert str(ei.value) == (
        "1 validation error detected: Value '0' at 'targetShardCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )
    with pytest.raises(ValidationException) as ei:
        s.update_shard_count(2, "NOT_UNIFORM")
    assert "Member must satisfy enum value set: [UNIFORM_SCALING]" in str(ei.value)


def test_on_demand_stream_refuses_resharding(engine):
    s = engine.create_stream(_name(), stream_mode="ON_DEMAND")
    msg = f"Request is invalid. Stream {s.name} under account {ACCOUNT} is in On-Demand mode."
    for call in (
        lambda: s.split_shard(shard_id(0), str(2**64)),
        lambda: s.merge_shards(shard_id(0), shard_id(1)),
        lambda: s.update_shard_count(8),
        lambda: engine.update_shard_count(s.name, 2),
    ):
        with pytest.raises(ValidationException) as ei:
            call()
        assert str(ei.value) == msg
    assert open_ranges(engine, s.name) == uniform_ranges(4)


def test_shard_limit_exceeded_by_split_and_update():
    engine = shardstream.Engine(shard_limit=3)
    s = engine.create_stream("lim", 2)
    s.split_shard(shard_id(0), str(2**126))
    with pytest.raises(LimitExceededException) as ei:
        s.split_shard(shard_id(1), str(2**127 + 5))
    assert str(ei.value) == (
        f"This request would exceed the shard limit for the account {ACCOUNT} in us-east-1. "
        "Current shard count for the account: 3. Limit: 3. Number of additional shards that would have "
        "resulted from this request: 1. Refer to the AWS Service Limits page "
        "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) "
        "for current limits and how to request higher limits."
    )
    with pytest.raises(LimitExceededException) as ei:
        s.update_shard_count(5)
    assert "Number of additional shards that would have resulted from this request: 2." in str(ei.value)
    assert s.open_shard_count == 3
    # a merge frees a shard, and then a split fits again
    s.merge_shards(shard_id(2), shard_id(3))
    s.split_shard(shard_id(4), str(2**125))
    assert s.open_shard_count == 3
    assert_tiles(open_ranges(engine, "lim"))


# -- routing after reshards -------------------------------------------------------------


def _check_routing(engine, s, rng, n=3000):
    route = reference_router(engine, s.name)
    keys = [f"key-{rng.getrandbits(40)}" for _ in range(n)]
    table = s.put_batch(keys, [b"x"] * n)
    assert table.column("shard_id").to_pylist() == [route(md5_hash(k)) for k in keys]
    hashes = [rng.randrange(0, HASH_MAX + 1) for _ in range(n)] + [0, HASH_MAX]
    hashes += [hash_range(x)[0] for x in open_shards(engine, s.name)]
    hashes += [hash_range(x)[1] for x in open_shards(engine, s.name)]
    table = s.put_batch(["k"] * len(hashes), [b"y"] * len(hashes), [str(h) for h in hashes])
    assert table.column("shard_id").to_pylist() == [route(h) for h in hashes]
    for k in keys[:50]:
        assert s.put_record(b"z", k)["ShardId"] == route(md5_hash(k))
    for h in hashes[-20:]:
        assert s.put_record(b"z", "k", str(h))["ShardId"] == route(h)
    resp = s.put_records([{"Data": b"w", "PartitionKey": k} for k in keys[:100]])
    assert [r["ShardId"] for r in resp["Records"]] == [route(md5_hash(k)) for k in keys[:100]]
    return n + len(hashes) + 50 + 20 + 100


def test_routing_after_scaling_to_hundreds_of_shards():
    engine = shardstream.Engine(shard_limit=None)
    s = engine.create_stream("big", 100)
    rng = random.Random(7)
    total = 0
    for target in (200, 400, 300):
        s.update_shard_count(target)
        assert open_ranges(engine, "big") == uniform_ranges(target)
        before = {x["ShardId"]: x["Records"] for x in s.shard_stats() if not x["Open"]}
        total += _check_routing(engine, s, rng, 2000)
        # closed shards never receive writes
        assert {x["ShardId"]: x["Records"] for x in s.shard_stats() if not x["Open"]} == before
    assert_lineage(all_shards(engine, "big"))
    assert sum(x["Records"] for x in s.shard_stats()) == total


def test_routing_after_manual_splits_and_merges(engine):
    s = engine.create_stream(_name(), 4)
    rng = random.Random(3)
    s.split_shard(shard_id(0), str(12345))
    s.split_shard(shard_id(3), str(2**127 + 2**126 + 2**125 + 17))
    s.merge_shards(shard_id(1), shard_id(2))
    _check_routing(engine, s, rng, 500)


# -- reading across a reshard --------------------------------------------------------------


def test_get_records_on_closed_parent_then_child_shards(engine):
    s = engine.create_stream("rd", 1)
    keys = [f"k{i}" for i in range(20)]
    before = s.put_batch(keys, [f"b{i}".encode() for i in range(20)])
    it_open = s.get_shard_iterator(shard_id(0), "TRIM_HORIZON")["ShardIterator"]
    first = s.get_records(it_open, 5)
    assert [r["Data"] for r in first["Records"]] == [f"b{i}".encode() for i in range(5)]
    assert first["NextShardIterator"]
    s.split_shard(shard_id(0), str(2**127))
    after = s.put_batch(keys, [f"a{i}".encode() for i in range(20)])
    assert set(after.column("shard_id").to_pylist()) <= {shard_id(1), shard_id(2)}
    # continue from the iterator issued before the split: the remaining 15 records, then shard end
    it = first["NextShardIterator"]
    got, last = [], None
    while True:
        resp = s.get_records(it, 4)
        got.extend(r["Data"] for r in resp["Records"])
        if resp.get("NextShardIterator") is None:
            last = resp
            break
        assert "ChildShards" not in resp
        it = resp["NextShardIterator"]
    assert got == [f"b{i}".encode() for i in range(5, 20)]
    assert last["ChildShards"] == [
        {
            "ShardId": shard_id(1),
            "ParentShards": [shard_id(0)],
            "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(2**127 - 1)},
        },
        {
            "ShardId": shard_id(2),
            "ParentShards": [shard_id(0)],
            "HashKeyRange": {"StartingHashKey": str(2**127), "EndingHashKey": str(HASH_MAX)},
        },
    ]
    assert last["MillisBehindLatest"] == 0
    # an iterator positioned after the parent's last record: empty records, no iterator, ChildShards
    last_seq = before.column("sequence_number")[19].as_py()
    for it in (
        s.get_shard_iterator(shard_id(0), "AFTER_SEQUENCE_NUMBER", last_seq)["ShardIterator"],
        s.get_shard_iterator(shard_id(0), "LATEST")["ShardIterator"],
    ):
        resp = engine.get_records(it)
        assert resp["Records"] == []
        assert resp.get("NextShardIterator") is None
        assert resp["ChildShards"] == last["ChildShards"]
    # children are open: ordinary responses with an iterator and no ChildShards
    for sid in (shard_id(1), shard_id(2)):
        resp = s.get_records(s.get_shard_iterator(sid, "TRIM_HORIZON")["ShardIterator"])
        assert resp["NextShardIterator"]
        assert "ChildShards" not in resp


def test_empty_closed_parent_goes_straight_to_children(engine):
    s = engine.create_stream(_name(), 2)
    s.merge_shards(shard_id(0), shard_id(1))
    for parent in (shard_id(0), shard_id(1)):
        resp = s.get_records(s.get_shard_iterator(parent, "TRIM_HORIZON")["ShardIterator"])
        assert resp["Records"] == []
        assert resp.get("NextShardIterator") is None
        assert resp["ChildShards"] == [
            {
                "ShardId": shard_id(2),
                "ParentShards": [shard_id(0), shard_id(1)],
                "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(HASH_MAX)},
            }
        ]


def test_get_record_batch_at_shard_end(engine):
    s = engine.create_stream(_name(), 1)
    s.put_batch(["a", "b"], [b"1", b"2"])
    s.split_shard(shard_id(0), str(2**100))
    resp = s.get_record_batch(s.get_shard_iterator(shard_id(0), "TRIM_HORIZON")["ShardIterator"])
    assert resp["Records"].column("data").to_pylist() == [b"1", b"2"]
    assert "ChildShards" not in resp  # as Kinesis: the last records still come with an iterator
    end = s.get_record_batch(resp["NextShardIterator"])
    assert end["Records"].num_rows == 0 and end.get("NextShardIterator") is None
    assert [c["ShardId"] for c in end["ChildShards"]] == [shard_id(1), shard_id(2)]


def test_read_table_and_lineage_consumer_across_reshards(engine):
    s = engine.create_stream("rt", 2)
    rng = random.Random(11)
    keys = [f"user-{i}" for i in range(40)]
    written = []
    n = 0

    def write(count):
        nonlocal n
        ks = [rng.choice(keys) for _ in range(count)]
        ds = [f"{n + i}".encode() for i in range(count)]
        s.put_batch(ks, ds)
        written.extend(zip(ks, ds))
        n += count
        for _ in range(5):
            k = rng.choice(keys)
            s.put_record(f"{n}".encode(), k)
            written.append((k, f"{n}".encode()))
            n += 1

    write(100)
    s.update_shard_count(4)
    write(100)
    assert open_ranges(engine, "rt") == uniform_ranges(4)
    second = open_shards(engine, "rt")[1]
    s.split_shard(second["ShardId"], str(hash_range(second)[0] + 2**120))
    write(100)
    first, second = open_shards(engine, "rt")[:2]
    s.merge_shards(first["ShardId"], second["ShardId"])
    write(100)
    s.update_shard_count(3)
    write(100)
    table = s.read_table()
    assert_exactly_once_in_order(table_rows(table), written)
    # batches never mix shards and come in ascending shard order (parents before children)
    order = []
    for batch in s.iter_batches(batch_size=7):
        assert batch.num_rows <= 7
        sids = set(batch.column("shard_id").to_pylist())
        assert len(sids) == 1
        sid = sids.pop()
        if not order or order[-1] != sid:
            order.append(sid)
    assert order == sorted(order) and len(order) == len(set(order))
    # the same through GetRecords + ChildShards, KCL-style
    recs, _ = consume_by_lineage(engine, "rt", limit=13)
    assert_exactly_once_in_order([(r["PartitionKey"], r["Data"]) for r in recs], written)


# -- property: random reshards keep the invariants ----------------------------------------


op_st = st.one_of(
    st.tuples(st.just("split"), st.integers(0, 10**6), st.integers(0, 2**64)),
    st.tuples(st.just("merge"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("scale"), st.integers(0, 10**6), st.just(0)),
)


@settings(max_examples=40, deadline=None)
@given(
    initial=st.integers(1, 6),
    ops=st.lists(op_st, min_size=1, max_size=7),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_reshards_keep_tiling_lineage_and_records(initial, ops, seed):
    clock = FakeClock()
    engine = shardstream.Engine(shard_limit=None, clock=clock)
    s = engine.create_stream("p", initial)
    rng = random.Random(seed)
    keys = [f"k{i}" for i in range(12)]
    written: list[tuple[str, bytes]] = []
    counter = itertools.count()

    def write():
        route = reference_router(engine, "p")
        ks = [rng.choice(keys) for _ in range(rng.randint(1, 30))]
        ds = [f"{next(counter)}".encode() for _ in ks]
        table = s.put_batch(ks, ds)
        assert table.column("shard_id").to_pylist() == [route(md5_hash(k)) for k in ks]
        written.extend(zip(ks, ds))
        d = f"{next(counter)}".encode()
        k = f"ehk-{d.decode()}"  # order is per hash key, so an explicit hash gets its own key
        h = rng.randrange(HASH_MAX + 1)
        assert s.put_record(d, k, str(h))["ShardId"] == route(h)
        written.append((k, d))

    write()
    for kind, a, b in ops:
        clock.advance(rng.randint(0, 3))
        shards = open_shards(engine, "p")
        if kind == "split":
            wide = [x for x in shards if hash_range(x)[1] - hash_range(x)[0] >= 3]
            if not wide:
                continue
            x = wide[a % len(wide)]
            lo, hi = hash_range(x)
            at = lo + 2 + b % (hi - lo - 2)  # lo + 1 < at < hi
            s.split_shard(x["ShardId"], str(at))
        elif kind == "merge":
            if len(shards) < 2:
                continue
            i = a % (len(shards) - 1)
            s.merge_shards(shards[i]["ShardId"], shards[i + 1]["ShardId"])
        else:
            n = len(shards)
            lo, hi = (n + 1) // 2, min(2 * n, 24)
            target = lo + a % (hi - lo + 1)
            assert s.update_shard_count(target)["CurrentShardCount"] == n
            assert open_ranges(engine, "p") == uniform_ranges(target)
        assert_tiles(open_ranges(engine, "p"))
        assert_lineage(all_shards(engine, "p"))
        write()
    assert_exactly_once_in_order(table_rows(s.read_table()), written)
    recs, _ = consume_by_lineage(engine, "p", limit=rng.randint(1, 20))
    assert_exactly_once_in_order([(r["PartitionKey"], r["Data"]) for r in recs], written)


# -- concurrency: writers and a reader while the stream reshards -------------------------


def test_concurrent_writes_and_reads_during_reshards():
    engine = shardstream.Engine(shard_limit=None)
    s = engine.create_stream("conc", 4)
    stop = threading.Event()
    errors: list[BaseException] = []
    acked: dict[int, list[tuple[str, bytes]]] = {t: [] for t in range(3)}

    def writer(tid):
        rng = random.Random(tid)
        n = 0
        try:
            while not stop.is_set() or n < 300:
                if n % 2 == 0:
                    ks = [f"w{tid}-k{rng.randrange(8)}" for _ in range(rng.randint(1, 20))]
                    ds = [f"{tid}:{n + i}".encode() for i in range(len(ks))]
                    s.put_batch(ks, ds)
                    acked[tid].extend(zip(ks, ds))
                    n += len(ks)
                else:
                    k = f"w{tid}-k{rng.randrange(8)}"
                    d = f"{tid}:{n}".encode()
                    s.put_record(d, k)
                    acked[tid].append((k, d))
                    n += 1
                if n > 20000:
                    break
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def check_snapshot(rows):
        seen = set()
        last = {}
        for k, d in rows:
            assert (k, d) not in seen, f"duplicate {k} {d}"
            seen.add((k, d))
            idx = int(d.split(b":")[1])
            assert last.get(k, -1) < idx, f"out of order for {k}"
            last[k] = idx

    reads = [0]

    def reader():
        try:
            while not stop.is_set():
                check_snapshot(table_rows(s.read_table()))
                reads[0] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    try:
        import time

        for target in (8, 4, 6):
            time.sleep(0.02)
            s.update_shard_count(target)
        time.sleep(0.02)
        shards = open_shards(engine, "conc")
        s.split_shard(shards[0]["ShardId"], str(hash_range(shards[0])[0] + 2**100))
        time.sleep(0.02)
        shards = open_shards(engine, "conc")
        s.merge_shards(shards[2]["ShardId"], shards[3]["ShardId"])
        time.sleep(0.02)
        s.update_shard_count(8)
        time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    assert reads[0] >= 1
    assert_tiles(open_ranges(engine, "conc"))
    assert_lineage(all_shards(engine, "conc"))
    written = [r for tid in range(3) for r in acked[tid]]
    assert len(written) >= 900
    # the writers really ran across the reshards: records in the first and in the last generation
    stats = {x["ShardId"]: x for x in s.shard_stats()}
    assert sum(stats[shard_id(i)]["Records"] for i in range(4)) > 0
    assert sum(x["Records"] for x in stats.values() if x["Open"]) > 0
    assert sum(1 for x in stats.values() if not x["Open"] and x["Records"]) > 8
    rows = table_rows(s.read_table())
    # per writer thread the acks are in write order; per key the read order must match
    assert_exactly_once_in_order(rows, written)
    recs, _ = consume_by_lineage(engine, "conc")
    assert_exactly_once_in_order([(r["PartitionKey"], r["Data"]) for r in recs], written)
