"""The Replicator between embedded engines: records, order, lineage, settings, lag, resume."""

from __future__ import annotations

import json
import random

import pytest

import shardstream
from shardstream.replication import LAG_MS_METRIC, LAG_RECORDS_METRIC, ReplicationForkError

from .helpers import shard_map, shard_records


def _put(stream, n: int, tag: str = "r") -> None:
    for i in range(n):
        stream.put_record(f"{tag}{i}".encode(), f"k{i % 13}")


def test_records_land_in_the_same_shards_in_order():
    primary, standby = shardstream.Engine(), shardstream.Engine()
    _put(primary.create_stream("orders", 3), 300)
    assert shardstream.Replicator(primary, standby).sync() == 300
    assert shard_records(standby, "orders") == shard_records(primary, "orders")
    assert sum(len(v) for v in shard_records(standby, "orders").values()) == 300


def test_resharding_is_mirrored_parents_before_children():
    primary, standby = shardstream.Engine(), shardstream.Engine()
    stream = primary.create_stream("s", 2)
    replicator = shardstream.Replicator(primary, standby)
    _put(stream, 50, "a")
    replicator.sync()
    stream.split_shard("shardId-000000000000", str(2**126))
    _put(stream, 50, "b")
    stream.merge_shards("shardId-000000000002", "shardId-000000000003")
    _put(stream, 50, "c")
    stream.update_shard_count(4)
    _put(stream, 50, "d")
    replicator.sync()
    assert shard_map(standby, "s") == shard_map(primary, "s")
    assert shard_records(standby, "s") == shard_records(primary, "s")


def test_tags_retention_and_mode_are_mirrored():
    primary, standby = shardstream.Engine(), shardstream.Engine()
    stream = primary.create_stream("t", 2, retention_hours=48, tags={"team": "a"})
    replicator = shardstream.Replicator(primary, standby, settings_interval=0)
    replicator.sync()
    summary = standby.stream("t").describe_summary()["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 48
    assert standby.stream("t").list_tags_for_stream()["Tags"] == [{"Key": "team", "Value": "a"}]
    stream.increase_stream_retention_period(72)
    stream.add_tags_to_stream({"team": "b", "env": "prod"})
    replicator.sync()
    summary = standby.stream("t").describe_summary()["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 72
    tags = {t["Key"]: t["Value"] for t in standby.stream("t").list_tags_for_stream()["Tags"]}
    assert tags == {"team": "b", "env": "prod"}
    on_demand = primary.create_stream("od", stream_mode="ON_DEMAND")
    _put(on_demand, 10)
    replicator.sync()
    assert standby.stream("od").stream_mode == "ON_DEMAND"
    assert shard_records(standby, "od") == shard_records(primary, "od")


def test_only_the_named_streams():
    primary, standby = shardstream.Engine(), shardstream.Engine()
    _put(primary.create_stream("a", 1), 5)
    _put(primary.create_stream("b", 1), 5)
    shardstream.Replicator(primary, standby, streams=["b"]).sync()
    assert "b" in standby and "a" not in standby


def test_lag_against_a_known_backlog():
    primary, standby = shardstream.Engine(), shardstream.Engine()
    stream = primary.create_stream("lag", 2)
    replicator = shardstream.Replicator(primary, standby)
    replicator.sync()
    before = primary.now_ms()
    stream.put_batch([f"k{i}" for i in range(120)], [b"x"] * 120)
    per_shard = {s: len(r) for s, r in shard_records(primary, "lag").items()}
    lag = replicator.lag()["lag"]
    assert {s: v["records"] for s, v in lag.items()} == per_shard
    age = primary.now_ms() - before
    assert all(0 <= v["ms"] <= age + 5 for v in lag.values())
    for shard, count in per_shard.items():
        dims = {"StreamName": "lag", "ShardId": shard}
        series = replicator.metrics.table(LAG_RECORDS_METRIC, dims, namespace="shardstream")
        assert series.column("maximum").to_pylist()[-1] == count
    assert replicator.metrics.list_metrics(metric_name=LAG_MS_METRIC)["Metrics"]
    replicator.sync()
    assert all(v["records"] == 0 and v["ms"] == 0 for v in replicator.lag()["lag"].values())
    standby.metrics.sample_sources()  # the target engine's registry gets the last values too
    assert standby.metrics.list_metrics(metric_name=LAG_RECORDS_METRIC, namespace="shardstream")["Metrics"]


@pytest.mark.parametrize("seed", range(6))
def test_resume_from_any_older_checkpoint_without_loss_or_duplicates(tmp_path, seed):
    """A killed replicator leaves a checkpoint older than the target: resuming counts what is there."""
    rng = random.Random(seed)
    primary, standby = shardstream.Engine(), shardstream.Engine()
    stream = primary.create_stream("s", 2)
    path = tmp_path / "ck.json"
    saved = []
    replicator = shardstream.Replicator(primary, standby, checkpoint=path, page_limit=rng.randint(3, 40))
    for round_ in range(6):
        _put(stream, rng.randint(1, 60), f"{round_}-")
        if round_ == 3:
            stream.split_shard("shardId-000000000001", str(3 * 2**126))
        for _ in range(rng.randint(0, 4)):
            replicator.run_once()
        replicator.checkpoint.save()
        saved.append(path.read_bytes())
    old = rng.choice(saved)  # the checkpoint as a kill at that moment left it
    path.write_bytes(old)
    shardstream.Replicator(primary, standby, checkpoint=path).sync()
    assert shard_records(standby, "s") == shard_records(primary, "s")


def test_a_target_written_by_someone_else_is_a_fork(tmp_path):
    primary, standby = shardstream.Engine(), shardstream.Engine()
    _put(primary.create_stream("s", 1), 5)
    shardstream.Replicator(primary, standby, checkpoint=tmp_path / "ck.json").sync()
    standby.stream("s").put_record(b"intruder", "k0")
    _put(primary.stream("s"), 5, "more")
    with pytest.raises(ReplicationForkError):
        shardstream.Replicator(primary, standby, checkpoint=tmp_path / "ck.json").sync()


def test_checkpoint_file_and_position_map(tmp_path):
    primary, standby = shardstream.Engine(), shardstream.Engine()
    _put(primary.create_stream("s", 1), 20)
    replicator = shardstream.Replicator(primary, standby, checkpoint=tmp_path / "ck.json")
    replicator.sync()
    doc = json.loads((tmp_path / "ck.json").read_text())
    position = doc["shards"]["s/shardId-000000000000"]
    assert position["source"] == replicator.replicated()["s/shardId-000000000000"]
    pairs = [json.loads(line) for line in (tmp_path / "ck.json.map").read_text().splitlines()]
    assert pairs[-1] == {"k": "s/shardId-000000000000", "s": position["source"], "t": position["target"]}
