"""Ring growth keeps every record in place: growing while the live range wraps, in a reserved ring
(pages moved by remapping) and in a malloc ring (capacity too large to reserve), against a model;
and a freed ring's reservation is recycled by the next ring (its pages kept, its bytes never seen)."""

from __future__ import annotations

import collections
import gc
import os
import random
import subprocess
import sys

import pytest
from conftest import FakeClock, shard_id

import shardstream

MIB = 1024 * 1024
DAY_MS = 24 * 3_600_000


def contents(s):
    return [(r["partition_key"], r["data"]) for r in s.read_batch(shard_id(0), limit=10**7).to_pylist()]


def put(s, model, rng, nbytes, now):
    pairs = []
    while nbytes > 0:
        d = rng.randbytes(rng.randint(1, 20_000))
        pairs.append((f"k{rng.randint(0, 10**6)}", d))
        nbytes -= len(d)
    s.put_batch([k for k, _ in pairs], [d for _, d in pairs])
    model.extend((k, d, now) for k, d in pairs)


@pytest.mark.parametrize(
    ("capacity", "huge"), [(64 * MIB, "0"), (64 * MIB, "1"), (2**40, "0")], ids=["reserved", "reserved-huge", "malloc"]
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_growth_while_wrapped_keeps_records(capacity, huge, seed, monkeypatch):
    monkeypatch.setenv("SHARDSTREAM_RING_HUGEPAGES", huge)  # read by the ring when it reserves
    rng = random.Random(seed)
    clock = FakeClock()
    s = shardstream.Engine(clock=clock).create_stream("g", 1, shard_capacity_bytes=capacity)
    model = collections.deque()  # (key, data, arrival ms)

    def advance(ms):
        clock.advance(ms)
        while model and model[0][2] < clock.now - DAY_MS:
            model.popleft()

    for k in range(6):
        # The data ring holds c bytes now: leave its head at a random place (write, then let
        # retention trim everything), then write 3/4 c (the live range may wrap the ring) and,
        # half a day later, 1/2 c more: the ring grows to 2c with its live range wrapped.
        c = MIB << k
        put(s, model, rng, rng.randint(1, c), clock.now)
        advance(DAY_MS + 1)
        assert contents(s) == []
        put(s, model, rng, c * 3 // 4, clock.now)
        advance(DAY_MS // 2)
        put(s, model, rng, c // 2, clock.now)
        assert contents(s) == [(k, d) for k, d, _ in model]
    st0 = s.shard_stats()[0]
    assert st0["TrimmedRecords"] > 0 and st0["EvictedRecords"] == 0
    assert st0["DataBytes"] == sum(len(d) for _, d, _ in model)


def test_many_rings_created_and_freed():
    rng = random.Random(7)
    payload = rng.randbytes(600_000)
    for i in range(40):
        e = shardstream.Engine()
        s = e.create_stream(f"f{i}", 2, shard_capacity_bytes=256 * MIB)
        s.put_batch([f"k{j}" for j in range(64)], [payload] * 64)
        got = s.read_table()
        assert got.num_rows == 64 and set(got.column("data").to_pylist()) == {payload}
        e.delete_stream(f"f{i}")


def test_recycled_reservation_holds_only_new_records():
    # A freed ring's reservation (touched pages and all) is parked for the next ring of the same
    # capacity: the new stream must read back exactly its own records, never the old bytes.
    rng = random.Random(11)
    old = shardstream.Engine()
    s = old.create_stream("old", 1, shard_capacity_bytes=64 * MIB)
    s.put_batch([f"old{j}" for j in range(600)], [bytes([0xAA]) * 20_000] * 600)
    old.delete_stream("old")
    del s, old
    gc.collect()
    s = shardstream.Engine().create_stream("new", 1, shard_capacity_bytes=64 * MIB)
    model = collections.deque()
    for _ in range(5):
        put(s, model, rng, 3 * MIB, 0)
    assert contents(s) == [(k, d) for k, d, _ in model]


RSS_SCRIPT = """
import gc, os, sys
import shardstream

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def fill(name):
    e = shardstream.Engine()
    s = e.create_stream(name, 1, shard_capacity_bytes=256 << 20)
    payload = b"x" * 50_000
    for _ in range(20):
        s.put_batch([f"k{j}" for j in range(80)], [payload] * 80)  # 4 MB a batch, 80 MB in all
    return e, s

e, s = fill("a")
full = rss()
e.delete_stream("a")
del e, s
gc.collect()
freed = rss()
e, s = fill("b")
print(full, freed, rss())
"""


@pytest.mark.parametrize("pool_mb", ["0", "256"])
def test_freed_ring_pages_are_kept_for_the_next_ring_within_budget(pool_mb):
    env = dict(os.environ, SHARDSTREAM_RING_POOL_MB=pool_mb)
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT], env=env, capture_output=True, text=True, check=True)
    full, freed, refilled = (int(x) for x in out.stdout.split())
    if pool_mb == "0":  # no pool: deleting the stream gives its 80 MB back to the kernel
        assert freed < full - 64 * MIB
    else:  # parked: the memory stays, and the next stream writes into it without growing the process
        assert freed > full - 16 * MIB
        assert refilled < freed + 16 * MIB
