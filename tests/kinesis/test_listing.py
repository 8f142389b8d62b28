"""ListShards ShardFilter, ListShards/DescribeStream pagination over resharded streams."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import ACCOUNT, T0_MS, FakeClock, shard_id
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream.errors import (
    InvalidArgumentException,
    ResourceNotFoundException,
    ValidationException,
)
from shardstream.models import uniform_ranges

HOUR = 3_600_000


def ids(resp_or_shards) -> list[str]:
    shards = resp_or_shards["Shards"] if isinstance(resp_or_shards, dict) else resp_or_shards
    return [s["ShardId"] for s in shards]


def listed(engine, name, **kw) -> list[str]:
    return ids(engine.list_shards(name, **kw))


def flt(kind, **extra) -> dict:
    return {"Type": kind, **extra}


def secs(ms: int) -> float:
    return ms / 1000


@pytest.fixture
def lineage(clock, clocked_engine):
    """A 2-shard stream resharded at known times on the fake clock.

    t0: shards 0, 1 created
    t1 = t0+10s: split 0 -> 2, 3
    t2 = t0+20s: merge 2, 3 -> 4
    t3 = t0+30s: split 1 -> 5, 6
    now = t0+40s; open: 4, 5, 6
    """
    e = clocked_engine
    s = e.create_stream("lin", 2)
    times = {"t0": clock.now}
    clock.advance(10_000)
    times["t1"] = clock.now
    s.split_shard(shard_id(0), str(2**126))
    clock.advance(10_000)
    times["t2"] = clock.now
    s.merge_shards(shard_id(2), shard_id(3))
    clock.advance(10_000)
    times["t3"] = clock.now
    s.split_shard(shard_id(1), str(2**127 + 2**126))
    clock.advance(10_000)
    return e, s, times


def test_no_filter_and_from_trim_horizon_list_everything(lineage):
    e, s, _ = lineage
    everything = [shard_id(i) for i in range(7)]
    assert listed(e, "lin") == everything
    assert listed(e, "lin", shard_filter=flt("FROM_TRIM_HORIZON")) == everything
    shards = e.list_shards("lin")["Shards"]
    closed = {x["ShardId"] for x in shards if "EndingSequenceNumber" in x["SequenceNumberRange"]}
    assert closed == {shard_id(i) for i in (0, 1, 2, 3)}
    assert "NextToken" not in e.list_shards("lin")


def test_at_latest_lists_open_shards_only(lineage):
    e, s, _ = lineage
    shards = e.list_shards("lin", shard_filter=flt("AT_LATEST"))["Shards"]
    assert ids(shards) == [shard_id(4), shard_id(5), shard_id(6)]
    assert all("EndingSequenceNumber" not in x["SequenceNumberRange"] for x in shards)
    assert shards[0]["ParentShardId"] == shard_id(2)
    assert shards[0]["AdjacentParentShardId"] == shard_id(3)


def test_after_shard_id(lineage):
    e, _, _ = lineage
    assert listed(e, "lin", shard_filter=flt("AFTER_SHARD_ID", ShardId=shard_id(3))) == [
        shard_id(4),
        shard_id(5),
        shard_id(6),
    ]
    assert listed(e, "lin", shard_filter=flt("AFTER_SHARD_ID", ShardId="shardId-6")) == []
    assert listed(e, "lin", shard_filter=flt("AFTER_SHARD_ID", ShardId=shard_id(0))) == [
        shard_id(i) for i in range(1, 7)
    ]
    # same as ExclusiveStartShardId
    assert listed(e, "lin", exclusive_start_shard_id=shard_id(3)) == [shard_id(4), shard_id(5), shard_id(6)]


def test_after_shard_id_requires_shard_id(lineage):
    e, _, _ = lineage
    with pytest.raises(InvalidArgumentException) as ei:
        e.list_shards("lin", shard_filter={"Type": "AFTER_SHARD_ID"})
    assert str(ei.value) == "ShardId must be provided when the ShardFilter type is AFTER_SHARD_ID."


def test_at_trim_horizon_young_stream_lists_initial_shards(lineage):
    e, _, _ = lineage
    assert listed(e, "lin", shard_filter=flt("AT_TRIM_HORIZON")) == [shard_id(0), shard_id(1)]


def test_at_trim_horizon_old_stream(clock, clocked_engine):
    e = clocked_engine
    s = e.create_stream("old", 1)
    clock.advance(10 * HOUR)
    s.split_shard(shard_id(0), str(2**127))  # closed at t0+10h
    clock.advance(10 * HOUR)
    s.split_shard(shard_id(1), str(2**126))  # closed at t0+20h
    clock.advance(10 * HOUR)  # now t0+30h, trim horizon t0+6h
    assert listed(e, "old") == [shard_id(i) for i in range(5)]
    assert listed(e, "old", shard_filter=flt("AT_TRIM_HORIZON")) == [shard_id(0)]
    clock.advance(5 * HOUR)  # now t0+35h, trim horizon t0+11h; shard 0 (closed t0+10h) has expired
    assert listed(e, "old") == [shard_id(i) for i in range(1, 5)]
    assert listed(e, "old", shard_filter=flt("AT_TRIM_HORIZON")) == [shard_id(1), shard_id(2)]
    clock.advance(10 * HOUR)  # t0+45h, horizon t0+21h
    assert listed(e, "old", shard_filter=flt("AT_TRIM_HORIZON")) == [shard_id(2), shard_id(3), shard_id(4)]


def test_at_timestamp_before_between_and_after(lineage, clock):
    e, _, t = lineage

    def at(ms):
        return listed(e, "lin", shard_filter=flt("AT_TIMESTAMP", Timestamp=secs(ms)))

    assert at(t["t0"]) == [shard_id(0), shard_id(1)]
    assert at(t["t0"] - 3_600_000) == [shard_id(0), shard_id(1)]  # before creation
    assert at(t["t1"] - 1) == [shard_id(0), shard_id(1)]
    assert at(t["t1"] + 1) == [shard_id(1), shard_id(2), shard_id(3)]
    assert at(t["t2"] + 1) == [shard_id(1), shard_id(4)]
    assert at(t["t3"] - 1) == [shard_id(1), shard_id(4)]
    assert at(t["t3"] + 1) == [shard_id(4), shard_id(5), shard_id(6)]
    assert at(clock.now) == [shard_id(4), shard_id(5), shard_id(6)]
    # a datetime works the same as epoch seconds
    when = dt.datetime.fromtimestamp((t["t1"] + 1) / 1000, tz=dt.timezone.utc)
    assert listed(e, "lin", shard_filter=flt("AT_TIMESTAMP", Timestamp=when)) == [
        shard_id(1),
        shard_id(2),
        shard_id(3),
    ]


def test_at_timestamp_includes_shard_closed_exactly_at_t(lineage):
    e, _, t = lineage
    assert listed(e, "lin", shard_filter=flt("AT_TIMESTAMP", Timestamp=secs(t["t1"]))) == [
        shard_id(0),
        shard_id(1),
        shard_id(2),
        shard_id(3),
    ]


def test_from_timestamp(lineage, clock):
    e, _, t = lineage

    def frm(ms):
        return listed(e, "lin", shard_filter=flt("FROM_TIMESTAMP", Timestamp=secs(ms)))

    assert frm(t["t1"] + 1) == [shard_id(i) for i in range(1, 7)]  # 0 closed before T
    assert frm(t["t1"]) == [shard_id(i) for i in range(7)]  # closed at T counts (>= T)
    assert frm(t["t2"] + 1) == [shard_id(1), shard_id(4), shard_id(5), shard_id(6)]
    assert frm(t["t3"] + 1) == [shard_id(4), shard_id(5), shard_id(6)]
    assert frm(clock.now) == [shard_id(4), shard_id(5), shard_id(6)]
    # T before the trim horizon (here: creation) is treated as the trim horizon
    assert frm(t["t0"] - 10 * HOUR) == [shard_id(i) for i in range(7)]


def test_from_timestamp_earlier_than_trim_horizon(clock, clocked_engine):
    e = clocked_engine
    s = e.create_stream("fth", 1)
    clock.advance(2 * HOUR)
    s.split_shard(shard_id(0), str(2**127))  # 0 closed at t0+2h
    clock.advance(10 * HOUR)
    s.split_shard(shard_id(1), str(2**126))  # 1 closed at t0+12h
    clock.advance(15 * HOUR)  # now t0+27h, horizon t0+3h; 0 expired (closed 25h ago)
    assert listed(e, "fth", shard_filter=flt("FROM_TIMESTAMP", Timestamp=secs(T0_MS))) == [
        shard_id(i) for i in range(1, 5)
    ]
    # T = t0+5h: 1 (closed t0+12h) still in
    assert listed(e, "fth", shard_filter=flt("FROM_TIMESTAMP", Timestamp=secs(T0_MS + 5 * HOUR))) == [
        shard_id(i) for i in range(1, 5)
    ]
    assert listed(e, "fth", shard_filter=flt("FROM_TIMESTAMP", Timestamp=secs(T0_MS + 13 * HOUR))) == [
        shard_id(2),
        shard_id(3),
        shard_id(4),
    ]


@pytest.mark.parametrize("kind", ["AT_TIMESTAMP", "FROM_TIMESTAMP"])
def test_timestamp_filters_require_timestamp(lineage, kind):
    e, _, _ = lineage
    with pytest.raises(InvalidArgumentException) as ei:
        e.list_shards("lin", shard_filter={"Type": kind})
    assert str(ei.value) == f"Timestamp must be provided when the ShardFilter type is {kind}."


def test_bad_filter_type_is_validation_error(lineage):
    e, _, _ = lineage
    with pytest.raises(ValidationException) as ei:
        e.list_shards("lin", shard_filter={"Type": "AT_HORIZON"})
    assert str(ei.value) == (
        "1 validation error detected: Value 'AT_HORIZON' at 'shardFilter.type' failed to satisfy constraint: "
        "Member must satisfy enum value set: "
        "[AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]"
    )
    with pytest.raises(ValidationException) as ei:
        e.list_shards("lin", shard_filter={"ShardId": shard_id(1)})
    assert "Value null at 'shardFilter.type' failed to satisfy constraint: Member must not be null" in str(ei.value)


# -- pagination ------------------------------------------------------------------------------


def paginate(engine, name, max_results, **kw) -> tuple[list[str], int]:
    resp = engine.list_shards(name, max_results=max_results, **kw)
    out, pages = ids(resp), 1
    while "NextToken" in resp:
        assert len(resp["Shards"]) == max_results
        resp = engine.list_shards(next_token=resp["NextToken"], max_results=max_results)
        out += ids(resp)
        pages += 1
    return out, pages


@pytest.mark.parametrize("page", [1, 2, 3, 5])
def test_pagination_carries_the_filter(lineage, page):
    e, _, t = lineage
    for f in (
        flt("AT_LATEST"),
        flt("FROM_TRIM_HORIZON"),
        flt("AFTER_SHARD_ID", ShardId=shard_id(1)),
        flt("AT_TIMESTAMP", Timestamp=secs(t["t1"] + 1)),
        flt("AT_TIMESTAMP", Timestamp=dt.datetime.fromtimestamp((t["t2"] + 1) / 1000, tz=dt.timezone.utc)),
        flt("FROM_TIMESTAMP", Timestamp=secs(t["t2"] + 1)),
        flt("AT_TRIM_HORIZON"),
        None,
    ):
        whole = listed(e, "lin", shard_filter=f)
        got, pages = paginate(e, "lin", page, shard_filter=f)
        assert got == whole, f
        assert pages == max(1, -(-len(whole) // page))


def test_pagination_with_exclusive_start_and_filter(lineage):
    e, _, _ = lineage
    got, _ = paginate(e, "lin", 1, exclusive_start_shard_id=shard_id(4), shard_filter=flt("AT_LATEST"))
    assert got == [shard_id(5), shard_id(6)]


def test_next_token_with_stream_name_is_rejected(lineage):
    e, _, _ = lineage
    token = e.list_shards("lin", max_results=1)["NextToken"]
    with pytest.raises(InvalidArgumentException) as ei:
        e.list_shards("lin", next_token=token)
    assert str(ei.value) == "NextToken and StreamName cannot be provided together."
    with pytest.raises(InvalidArgumentException) as ei:
        e.list_shards()
    assert str(ei.value) == "Either NextToken or StreamName should be provided."


def test_next_token_of_deleted_and_recreated_stream(clock, clocked_engine):
    e = clocked_engine
    e.create_stream("re", 3)
    token = e.list_shards("re", max_results=1)["NextToken"]
    e.delete_stream("re")
    e.create_stream("re", 3)
    with pytest.raises(ResourceNotFoundException) as ei:
        e.list_shards(next_token=token)
    assert str(ei.value) == f"Stream re under account {ACCOUNT} not found."


def test_stream_creation_timestamp(clock, clocked_engine):
    e = clocked_engine
    s = e.create_stream("ts", 2)
    created = e.describe_stream("ts")["StreamDescription"]["StreamCreationTimestamp"]
    assert listed(e, "ts", stream_creation_timestamp=created) == [shard_id(0), shard_id(1)]
    assert listed(e, "ts", stream_creation_timestamp=secs(s.created_ms)) == [shard_id(0), shard_id(1)]
    for wrong in (created + dt.timedelta(seconds=1), secs(s.created_ms) - 5):
        with pytest.raises(ResourceNotFoundException) as ei:
            e.list_shards("ts", stream_creation_timestamp=wrong)
        assert str(ei.value) == f"Stream ts under account {ACCOUNT} not found."
    # a re-created stream of the same name does not match the old timestamp
    e.delete_stream("ts")
    clock.advance(5_000)
    e.create_stream("ts", 1)
    with pytest.raises(ResourceNotFoundException):
        e.list_shards("ts", stream_creation_timestamp=created)
    new_created = e.describe_stream("ts")["StreamDescription"]["StreamCreationTimestamp"]
    assert listed(e, "ts", stream_creation_timestamp=new_created) == [shard_id(0)]


# -- DescribeStream paging over a large resharded stream ----------------------------------------


@pytest.fixture(scope="module")
def big():
    engine = shardstream.Engine(shard_limit=None, clock=FakeClock())
    s = engine.create_stream("big", 60)
    s.update_shard_count(120)  # 60 closed parents + 120 children
    s.update_shard_count(90)
    return engine, s


def test_big_stream_layout(big):
    engine, s = big
    everything = listed(engine, "big")
    assert everything == [shard_id(i) for i in range(len(everything))]
    assert len(everything) > 200
    open_ = engine.list_shards("big", shard_filter=flt("AT_LATEST"))["Shards"]
    assert [
        (int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"])) for x in open_
    ] == uniform_ranges(90)


def test_describe_stream_default_pages_of_100(big):
    engine, _ = big
    everything = listed(engine, "big")
    got, start = [], None
    pages = []
    while True:
        desc = engine.describe_stream("big", exclusive_start_shard_id=start)["StreamDescription"]
        page = ids(desc["Shards"])
        pages.append(len(page))
        got += page
        if not desc["HasMoreShards"]:
            break
        assert len(page) == 100
        start = page[-1]
    assert got == everything
    assert pages == [100] * (len(everything) // 100) + ([len(everything) % 100] if len(everything) % 100 else [])


@pytest.mark.parametrize("limit", [1, 7, 100, 250, 10_000])
def test_describe_stream_limit_paging(big, limit):
    engine, _ = big
    everything = listed(engine, "big")
    page_size = min(limit, 100)
    got, start, jumped = [], None, False
    while True:
        desc = engine.describe_stream("big", limit=limit, exclusive_start_shard_id=start)["StreamDescription"]
        page = ids(desc["Shards"])
        assert len(page) <= page_size
        got += page
        if not desc["HasMoreShards"]:
            break
        assert len(page) == page_size
        start = page[-1]
        if limit == 1 and len(got) > 30 and not jumped:
            # jump ahead with a lenient id: the rest still comes in order
            jumped = True
            start = "shardId-200"
            got = everything[: everything.index(shard_id(200)) + 1]
    assert got == everything


def test_describe_stream_exclusive_start_at_end_and_validation(big):
    engine, _ = big
    last = listed(engine, "big")[-1]
    desc = engine.describe_stream("big", exclusive_start_shard_id=last)["StreamDescription"]
    assert desc["Shards"] == [] and desc["HasMoreShards"] is False
    with pytest.raises(ValidationException) as ei:
        engine.describe_stream("big", limit=0)
    assert str(ei.value) == (
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1"
    )


def test_list_shards_big_default_and_max_results(big):
    engine, _ = big
    everything = listed(engine, "big")
    assert "NextToken" not in engine.list_shards("big")  # < 1000: one page
    got, pages = paginate(engine, "big", 37)
    assert got == everything
    assert pages == -(-len(everything) // 37)
    got, _ = paginate(engine, "big", 25, shard_filter=flt("AT_LATEST"))
    assert len(got) == 90


@settings(max_examples=25, deadline=None)
@given(
    splits=st.lists(st.integers(0, 10**6), min_size=0, max_size=12),
    page=st.integers(1, 6),
    cut=st.integers(0, 10**6),
)
def test_filters_agree_with_shard_times(splits, page, cut):
    """Property: AT_LATEST / AT_TIMESTAMP / FROM_TIMESTAMP match created/closed times, paged or not."""
    clock = FakeClock()
    e = shardstream.Engine(shard_limit=None, clock=clock)
    s = e.create_stream("p", 2)
    for a in splits:
        clock.advance(1000)
        open_ = [x for x in e.list_shards("p", shard_filter=flt("AT_LATEST"))["Shards"]]
        x = open_[a % len(open_)]
        lo, hi = int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"])
        if hi - lo < 4:
            continue
        s.split_shard(x["ShardId"], str((lo + hi + 1) // 2))
    clock.advance(1000)
    shards = e.list_shards("p")["Shards"]
    created = {sh.shard_id: sh.created_ms for sh in s.shards}
    closed = {sh.shard_id: sh.closed_ms for sh in s.shards}
    span = clock.now - T0_MS
    t = T0_MS + cut % (span + 1) if span else T0_MS
    t_ms = t - t % 1000 + 500  # never exactly on an event (events are whole seconds)
    expect_at = [i for i in ids(shards) if created[i] <= t_ms and (closed[i] is None or closed[i] > t_ms)]
    expect_from = [i for i in ids(shards) if closed[i] is None or closed[i] >= t_ms]
    expect_latest = [i for i in ids(shards) if closed[i] is None]
    assert paginate(e, "p", page, shard_filter=flt("AT_TIMESTAMP", Timestamp=secs(t_ms)))[0] == expect_at
    assert paginate(e, "p", page, shard_filter=flt("FROM_TIMESTAMP", Timestamp=secs(t_ms)))[0] == expect_from
    assert paginate(e, "p", page, shard_filter=flt("AT_LATEST"))[0] == expect_latest
    # the shards open at any instant tile the hash space
    ranges = sorted(
        (int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"]))
        for x in shards
        if x["ShardId"] in expect_at
    )
    assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
    assert all(a[1] + 1 == b[0] for a, b in zip(ranges, ranges[1:]))
