"""``shardstream replicate``: text and JSON reports, --once, usage errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

import shardstream
from shardstream.replicate_cli import replicate

from .helpers import shard_records


def test_once_between_data_directories_then_again_without_duplicates(tmp_path):
    source, target = tmp_path / "src", tmp_path / "dst"
    with shardstream.connect(f"file://{source}") as engine_a:
        engine_a.create_stream("s", 2).put_batch([f"k{i}" for i in range(40)], [b"x"] * 40)
    args = [f"file://{source}", f"file://{target}", "--once", "--checkpoint", str(tmp_path / "ck.json")]
    first = CliRunner().invoke(replicate, args)
    assert first.exit_code == 0, first.output
    assert "s/shardId-000000000000 -> shardId-000000000000:" in first.output and "lag 0 records, 0 ms" in first.output
    again = CliRunner().invoke(replicate, [*args, "--json"])
    report = json.loads(again.output)
    assert report["applied"] == 0 and set(report["shards"]) == {"s/shardId-000000000000", "s/shardId-000000000001"}
    with shardstream.connect(f"file://{source}") as a, shardstream.connect(f"file://{target}") as b:
        assert shard_records(a, "s") == shard_records(b, "s")


def test_usage_errors():
    assert CliRunner().invoke(replicate, ["memory://"]).exit_code == 2
    assert CliRunner().invoke(replicate, ["--promote", "http://x", "memory://", "memory://"]).exit_code == 2
    assert CliRunner().invoke(replicate, ["--promote", "http://x", "--leases", "l.db"]).exit_code == 2
