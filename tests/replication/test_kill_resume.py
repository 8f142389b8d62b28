"""A replicator process SIGKILLed again and again resumes each time without loss or duplicates."""

from __future__ import annotations

import json
import random
import threading

import shardstream
from shardstream.replication import Standby
from shardstream.testing import start_server

from .helpers import shard_records
from .procs import replicator


def test_sigkill_at_random_moments_then_resume(tmp_path):
    rng = random.Random(7)
    primary, standby = shardstream.Engine(), shardstream.Engine()
    stream = primary.create_stream("s", 2)
    done = threading.Event()

    def write():  # a steady flow while the replicator dies and comes back
        i = 0
        while not done.is_set():
            stream.put_batch([f"k{j}" for j in range(i, i + 20)], [b"%d" % j for j in range(i, i + 20)])
            i += 20
            if i == 1000:
                stream.split_shard("shardId-000000000001", str(3 * 2**126))
            done.wait(0.005)

    with start_server(primary) as a, start_server(standby, standby=Standby()) as b:
        writer = threading.Thread(target=write)
        writer.start()
        try:
            for _ in range(3):
                child = replicator(a.url, b.url, tmp_path / "ck.json")
                # killed at a random moment once it has applied something (mid-batch, mid-checkpoint...)
                assert child.wait_for(lambda lines: any(json.loads(x)["applied"] for x in lines), 20), child.stderr
                threading.Event().wait(rng.uniform(0, 0.3))
                child.kill()
        finally:
            done.set()
            writer.join()
        last = replicator(a.url, b.url, tmp_path / "ck.json", "--once")
        assert last.wait(30) == 0, last.stderr
    source, replica = shard_records(primary, "s"), shard_records(standby, "s")
    assert replica == source
    assert len(replica) == 4 and sum(map(len, replica.values())) > 1000
