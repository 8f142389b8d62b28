"""Failover with real processes: primary and standby servers, a replicator, a producer, a consumer group.

The primary is SIGKILLed mid-stream; the standby is promoted (the group's checkpoints carried over);
the producer goes on against the standby, the group finishes there.  Every record the primary
acknowledged before the replicator reported it replicated is on the standby exactly once, records
are in order per key, and the group skips nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

from serve_process import ServeProcess

import shardstream

from .procs import Child, replicator, script

TOTAL, KEYS = 3000, 10


def _standby_records(url: str) -> list[str]:
    engine = shardstream.connect(url)
    stream = engine.stream("events")
    out = []
    for shard in stream.list_shards():
        it = stream.get_shard_iterator(shard["ShardId"], "TRIM_HORIZON")["ShardIterator"]
        while it is not None:
            page = stream.get_records(it, 10_000)
            out += [r["Data"].decode() for r in page["Records"]]
            it = page.get("NextShardIterator")
            if not page["Records"]:
                break
    return out


def _replicated(report_lines: list[str]) -> dict[str, int]:
    """The last report's ``shard -> last source sequence number applied``."""
    shards = json.loads(report_lines[-1])["shards"]
    return {k.split("/", 1)[1]: int(v["source_sequence"] or 0) for k, v in shards.items()}


def test_primary_killed_standby_promoted_producer_and_group_go_on(tmp_path):
    primary = ServeProcess("--data-dir", str(tmp_path / "a"))
    standby = ServeProcess("--data-dir", str(tmp_path / "b"), "--standby")
    with primary, standby:
        a, b = primary.url(), standby.url()
        shardstream.connect(a).create_stream("events", 2)
        repl = replicator(a, b, tmp_path / "ck.json")
        leases = str(tmp_path / "leases.db")
        group = Child(script("failover_consumer.py"), f"{a},{b}", "events", leases, "g")
        producer = Child(script("failover_producer.py"), f"{a},{b}", "events", str(TOTAL), str(KEYS))
        try:
            assert producer.wait_for(lambda lines: len(lines) >= TOTAL // 3), producer.stderr
            assert group.wait_for(lambda lines: len(lines) >= 100), group.stderr
            primary.kill()  # mid-stream
            acked_by_primary = [line.split() for line in producer.lines if line.startswith("ACK") and a in line]
            replicated = _replicated(repl.lines)  # what the replicator had reported before it lost the primary
            repl.kill()
            promote = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "shardstream",
                    "replicate",
                    "--promote",
                    b,
                    "--leases",
                    leases,
                    "--group",
                    "g",
                    "--streams",
                    "events",
                    "--checkpoint",
                    str(tmp_path / "ck.json"),
                ],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert promote.returncode == 0, promote.stderr
            assert producer.wait_for(lambda lines: lines[-1:] == ["DONE"], 60), producer.stderr
            assert producer.wait() == 0
            on_standby = _standby_records(b)
            assert group.wait_for(lambda lines: {f"GOT {d}" for d in on_standby} <= set(lines), 30), group.stderr
        finally:
            group.terminate()
            for child in (producer, repl):
                if child.proc.poll() is None:
                    child.kill()
    counts = Counter(on_standby)
    safe = [(key, i) for _, key, i, shard, seq, _ in acked_by_primary if int(seq) <= replicated.get(shard, 0)]
    assert len(safe) > TOTAL // 10  # the replicator had reported a good part of them
    assert all(counts[f"{key}:{i}"] == 1 for key, i in safe)  # exactly once
    after = [line.split() for line in producer.lines if line.startswith("ACK") and b in line]
    assert after and all(counts[f"{key}:{i}"] >= 1 for _, key, i, *_ in after)  # the producer went on
    for k in range(KEYS):  # in order per key (first appearances: a retried send may repeat one)
        order = [int(d.split(":")[1]) for d in dict.fromkeys(d for d in on_standby if d.startswith(f"k{k}:"))]
        assert order == sorted(order)
