"""Record distribution strategies (Kinesis's RecordDistributionStrategy): AUTO spreads records evenly."""

from __future__ import annotations

import collections
import threading

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream import (
    InvalidArgumentException,
    ProvisionedThroughputExceededException,
    SerializationException,
    ValidationException,
)
from shardstream.throttle import ThroughputLimits

ACCOUNT = "000000000000"
NULL_KEY = (
    "1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null"
)


def auto_stream(engine=None, name="auto", **kw):
    engine = engine or shardstream.Engine()
    return engine.create_stream(name, stream_mode="ON_DEMAND", record_distribution="AUTO", **kw)


def counts(stream) -> dict[str, int]:
    return {s["ShardId"]: s["Records"] for s in stream.shard_stats() if s["Open"]}


def assert_even(stream):
    per_shard = list(counts(stream).values())
    assert max(per_shard) - min(per_shard) <= 1, per_shard


# -- creating and describing -------------------------------------------------------------


def test_default_is_user_partition_key_and_summary_shows_it_for_on_demand_only():
    engine = shardstream.Engine()
    od = engine.create_stream("od", stream_mode="ON_DEMAND")
    prov = engine.create_stream("prov", 2)
    assert od.record_distribution == prov.record_distribution == "USER_PARTITION_KEY"
    summary = od.describe_summary()["StreamDescriptionSummary"]
    assert summary["RecordDistributionStrategy"] == "USER_PARTITION_KEY"
    assert summary["QueueCount"] == 0 and summary["ChannelCount"] == 0
    # the model: "This field is only present for streams that use the on-demand capacity mode"
    prov_summary = prov.describe_summary()["StreamDescriptionSummary"]
    assert "RecordDistributionStrategy" not in prov_summary
    assert prov_summary["QueueCount"] == 0 and prov_summary["ChannelCount"] == 0
    assert auto_stream(engine).describe_summary()["StreamDescriptionSummary"]["RecordDistributionStrategy"] == "AUTO"


def test_auto_on_a_provisioned_stream_is_refused_and_creates_nothing():
    engine = shardstream.Engine()
    with pytest.raises(InvalidArgumentException) as ei:
        engine.create_stream("p", 2, record_distribution="AUTO")
    assert str(ei.value) == (
        "Record distribution strategy AUTO is only supported for On-Demand streams. "
        f"Stream p under account {ACCOUNT} is in PROVISIONED mode."
    )
    assert "p" not in engine
    # the default strategy may be named explicitly on a provisioned stream
    assert engine.create_stream("p", 2, record_distribution="USER_PARTITION_KEY").record_distribution == (
        "USER_PARTITION_KEY"
    )


def test_unknown_strategy_is_a_validation_error():
    engine = shardstream.Engine()
    with pytest.raises(ValidationException) as ei:
        engine.create_stream("x", stream_mode="ON_DEMAND", record_distribution="RANDOM")
    assert "at 'recordDistributionStrategy' failed to satisfy constraint: Member must satisfy enum value set: " in str(
        ei.value
    )
    assert "x" not in engine
    s = engine.create_stream("od", stream_mode="ON_DEMAND")
    with pytest.raises(ValidationException):
        s.update_record_distribution_strategy("RANDOM")
    with pytest.raises(ValidationException, match="Member must not be null"):
        s.update_record_distribution_strategy(None)
    with pytest.raises(SerializationException):
        s.update_record_distribution_strategy(1)
    assert s.record_distribution == "USER_PARTITION_KEY"


def test_update_is_on_demand_only_and_auto_blocks_switching_to_provisioned():
    engine = shardstream.Engine()
    prov = engine.create_stream("prov", 2)
    with pytest.raises(InvalidArgumentException, match="only supported for On-Demand streams"):
        engine.update_stream_record_distribution_strategy(prov.arn, "AUTO")
    assert prov.record_distribution == "USER_PARTITION_KEY"

    od = engine.create_stream("od", stream_mode="ON_DEMAND")
    assert engine.update_stream_record_distribution_strategy(od.arn, "AUTO") == {}
    assert od.record_distribution == "AUTO"
    with pytest.raises(InvalidArgumentException) as ei:
        engine.update_stream_mode(od.arn, {"StreamMode": "PROVISIONED"})
    assert "uses the AUTO record distribution strategy" in str(ei.value)
    assert od.stream_mode == "ON_DEMAND"
    od.update_record_distribution_strategy("USER_PARTITION_KEY")
    engine.update_stream_mode(od.arn, {"StreamMode": "PROVISIONED"})
    assert od.stream_mode == "PROVISIONED"


# -- AUTO writes -----------------------------------------------------------------------------


def test_put_record_without_key_spreads_round_robin():
    s = auto_stream()
    ids = [s.put_record(b"x")["ShardId"] for _ in range(12)]
    open_ids = [f"shardId-{i:012d}" for i in range(4)]
    assert ids == open_ids * 3
    assert_even(s)


def test_keys_and_explicit_hash_keys_are_ignored_but_stored_and_validated():
    s = auto_stream()
    ids = [s.put_record(b"x", "same-key", explicit_hash_key="0")["ShardId"] for _ in range(8)]
    assert collections.Counter(ids) == {f"shardId-{i:012d}": 2 for i in range(4)}
    records = s.read_table().to_pylist()
    assert {r["partition_key"] for r in records} == {"same-key"}
    # still validated: bad input gets the usual error and moves nothing
    before = s.spread_next
    with pytest.raises(ValidationException):
        s.put_record(b"x", "k" * 257)
    with pytest.raises(InvalidArgumentException, match="ExplicitHashKey must be in the range"):
        s.put_record(b"x", explicit_hash_key=str(2**128))
    assert s.spread_next == before


def test_keyless_records_are_stored_with_an_empty_partition_key():
    s = auto_stream()
    s.put_record(b"one")
    s.put_records([{"Data": b"two"}, {"Data": b"three", "PartitionKey": "k"}])
    s.put_batch(None, [b"four", b"five"])
    rows = s.read_table().to_pylist()
    keys = {r["data"]: r["partition_key"] for r in rows}
    assert keys == {b"one": "", b"two": "", b"three": "k", b"four": "", b"five": ""}
    sid = s.put_record(b"six")["ShardId"]
    it = s.get_shard_iterator(sid, "TRIM_HORIZON")["ShardIterator"]
    got = s.get_records(it)["Records"]
    assert got[-1]["Data"] == b"six" and got[-1]["PartitionKey"] == ""


def test_put_batch_without_keys_is_vectorised_and_even():
    s = auto_stream()
    n = 100_003
    payloads = np.zeros((n, 8), dtype=np.uint8)  # fixed-width payloads, no Python objects
    table = s.put_batch(None, payloads)
    assert table.num_rows == n
    assert_even(s)
    positions = table.column("shard_id").combine_chunks().indices.to_numpy()
    assert (positions == np.arange(n) % 4).all()  # dealt in hash-key order, continuing across calls
    table = s.put_batch(None, payloads[:3])
    assert table.column("shard_id").to_pylist() == [f"shardId-{(n + i) % 4:012d}" for i in range(3)]


def test_put_records_under_auto_spreads_and_reports_each_entry():
    s = auto_stream()
    out = s.put_records([{"Data": b"%d" % i} for i in range(10)])
    assert out["FailedRecordCount"] == 0
    assert [r["ShardId"] for r in out["Records"]] == [f"shardId-{i % 4:012d}" for i in range(10)]


def test_user_partition_key_still_requires_the_key_with_the_same_errors():
    engine = shardstream.Engine()
    for s in (engine.create_stream("prov", 2), engine.create_stream("od", stream_mode="ON_DEMAND")):
        with pytest.raises(ValidationException) as ei:
            s.put_record(b"x")
        assert str(ei.value) == NULL_KEY
        with pytest.raises(ValidationException) as ei:
            s.put_records([{"Data": b"x", "PartitionKey": "k"}, {"Data": b"y"}])
        assert str(ei.value) == (
            "1 validation error detected: Value null at 'records.2.member.partitionKey' failed to satisfy "
            "constraint: Member must not be null"
        )
        with pytest.raises(ValidationException, match="Value '' at 'records.1.member.partitionKey'"):
            s.put_batch([""], [b"x"])
        with pytest.raises(ValidationException, match="Member must not be null"):
            s.put_batch(None, [b"x"])
        assert sum(counts(s).values()) == 0


def test_switching_strategy_keeps_old_records_where_they_are():
    engine = shardstream.Engine()
    s = engine.create_stream("od", stream_mode="ON_DEMAND")
    keyed = s.put_batch(["k"] * 5, [b"before"] * 5)
    (home,) = set(keyed.column("shard_id").to_pylist())
    s.update_record_distribution_strategy("AUTO")
    s.put_batch(["k"] * 8, [b"auto"] * 8)
    s.update_record_distribution_strategy("USER_PARTITION_KEY")
    assert s.put_record(b"after", "k")["ShardId"] == home
    by_data = collections.defaultdict(collections.Counter)
    for row in s.read_table().to_pylist():
        by_data[row["data"]][row["shard_id"]] += 1
    assert by_data[b"before"] == {home: 5}
    assert by_data[b"after"] == {home: 1}
    assert sorted(by_data[b"auto"].values()) == [2, 2, 2, 2]


def test_auto_follows_resharding_to_the_open_shards():
    s = auto_stream(shard_capacity_bytes=64 * 1024 * 1024)
    s.resharding.reshape(8)  # on-demand scale-out: 8 open shards
    s.put_batch(None, [b"x"] * 80)
    open_counts = counts(s)
    assert len(open_counts) == 8 and set(open_counts.values()) == {10}
    closed = [st["Records"] for st in s.shard_stats() if not st["Open"]]
    assert closed == [0] * 4


def test_concurrent_writers_take_disjoint_turns():
    s = auto_stream(shard_capacity_bytes=64 * 1024 * 1024)

    def writer(i):
        for j in range(20):
            if j % 2:
                s.put_batch(None, [b"x"] * (97 + i))
            else:
                s.put_record(b"x", f"w{i}")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts(s).values()) == s.spread_next == sum(10 * (97 + i) + 10 for i in range(4))
    assert_even(s)  # every write took a contiguous run of turns: the whole is still dealt evenly


def test_throttled_auto_stream_charges_the_shards_it_writes():
    t = [1_700_000_000_000]
    engine = shardstream.Engine(clock=lambda: t[0])
    s = auto_stream(engine, throughput_limits=ThroughputLimits(write_records_per_s=5))
    s.put_batch(None, [b"x"] * 20)  # 5 per shard: exactly the budget
    with pytest.raises(ProvisionedThroughputExceededException):
        s.put_record(b"x")
    t[0] += 1000
    assert s.put_record(b"x")["ShardId"] == "shardId-000000000000"


def test_durable_stream_keeps_the_strategy_across_a_reopen(tmp_path):
    with shardstream.Engine(data_dir=tmp_path) as engine:
        s = auto_stream(engine)
        s.put_batch(None, [b"a"] * 4)
        od = engine.create_stream("od", stream_mode="ON_DEMAND")
    with shardstream.Engine(data_dir=tmp_path) as engine:
        s = engine.stream("auto")
        assert s.record_distribution == "AUTO"
        assert engine.stream("od").record_distribution == "USER_PARTITION_KEY"
        s.put_batch(None, [b"b"] * 4)
        stored = collections.Counter(s.read_table().column("shard_id").to_pylist())  # from disk and memory
        assert set(stored.values()) == {2} and len(stored) == 4
        od = engine.stream("od")
        od.update_record_distribution_strategy("AUTO")
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.stream("od").record_distribution == "AUTO"
        assert engine.stream("od").put_record(b"x")["ShardId"] == "shardId-000000000000"


def test_a_stream_json_without_the_field_reopens_as_user_partition_key(tmp_path):
    from shardstream.storage import layout
    from shardstream.storage.jsonfile import read_json, write_json_atomic

    with shardstream.Engine(data_dir=tmp_path) as engine:
        auto_stream(engine)
    (stored,) = layout.list_streams(tmp_path)
    doc = read_json(stored.path / layout.STREAM_FILE)
    assert doc["record_distribution"] == "AUTO"
    del doc["record_distribution"]  # as written before the strategy existed
    write_json_atomic(stored.path / layout.STREAM_FILE, doc)
    with shardstream.Engine(data_dir=tmp_path) as engine:
        assert engine.stream("auto").record_distribution == "USER_PARTITION_KEY"


# -- the property ---------------------------------------------------------------------------

write = st.one_of(
    st.tuples(st.just("record"), st.just(1)),
    st.tuples(st.just("records"), st.integers(1, 40)),
    st.tuples(st.just("batch"), st.integers(0, 300)),
)


@settings(max_examples=40, deadline=None)
@given(shards=st.integers(1, 9), writes=st.lists(write, max_size=25))
def test_any_sequence_of_auto_writes_keeps_shards_within_one_record(shards, writes):
    engine = shardstream.Engine()
    s = engine.create_stream("s", stream_mode="ON_DEMAND", record_distribution="AUTO")
    s.resharding.reshape(shards) if shards != 4 else None
    total = 0
    for kind, n in writes:
        if kind == "record":
            s.put_record(b"r", "key" if total % 2 else None)
        elif kind == "records":
            s.put_records([{"Data": b"r"} for _ in range(n)])
        else:
            s.put_batch(pa.array([b"r"] * n, pa.binary()) if n % 2 else None, [b"r"] * n)
        total += n
    per_shard = counts(s)
    assert len(per_shard) == shards
    assert sum(per_shard.values()) == total
    assert max(per_shard.values()) - min(per_shard.values()) <= 1
