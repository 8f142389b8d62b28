"""The stream commands on a data directory (``--url file:///dir``): each command opens it, works, closes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from shardstream.cli import main


def test_commands_on_a_data_directory(tmp_path):
    url = (tmp_path / "data").as_uri()
    runner = CliRunner()

    def cli(*args, input=None):
        result = runner.invoke(main, [*args, "--url", url], input=input)
        assert result.exit_code == 0, result.output
        return result

    assert cli("create", "events", "--shards", "2", "--wait").stdout.startswith("created stream events: 2 shards")
    assert cli("list").stdout.split() == ["events"]
    cli(
        "put", "events", "--key-field", "id", input="".join(json.dumps({"id": i % 5, "n": i}) + "\n" for i in range(50))
    )
    assert json.loads(cli("describe", "events").stdout)["OpenShardCount"] == 2

    # a new process reads what the others wrote: the records are on disk
    proc = subprocess.run(
        [sys.executable, "-m", "shardstream", "tail", "events", "-n", "50", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(json.loads(r["data"])["n"] for r in records) == list(range(50))
    assert all(r["partition_key"] == str(json.loads(r["data"])["id"]) for r in records)

    cli("delete", "events", "--yes")
    assert cli("list").stdout == ""
    missing = runner.invoke(main, ["describe", "events", "--url", url])
    assert missing.exit_code == 1 and "not found" in missing.stderr
