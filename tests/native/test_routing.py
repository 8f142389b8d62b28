"""Partition key -> MD5 hash key -> shard, against pure-Python references."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from conftest import HASH_MAX, md5_hash, ref_shard_for_hash, ref_uniform_ranges, shard_id
from hypothesis import given, settings
from hypothesis import strategies as st

import shardstream
from shardstream import models
from shardstream._native import RoutingTable
from shardstream.routing import hash_keys, route_keys

keys_st = st.text(min_size=1, max_size=256)
FAST = settings(max_examples=60, deadline=None)


def combine(hi, lo) -> list[int]:
    return [(int(h) << 64) | int(l) for h, l in zip(hi, lo)]


# -- hash_key ---------------------------------------------------------------------


@FAST
@given(keys_st)
def test_hash_key_is_big_endian_md5(key):
    assert shardstream.hash_key(key) == md5_hash(key)


def test_spec_vectors():
    assert shardstream.hash_key("a") == 16955237001963240173058271559858726497
    assert shardstream.hash_key("b") == 195289424170611159128911017612795795343
    e = shardstream.Engine()
    s = e.create_stream("vectors", 3)
    assert s.put_record(b"x", "a")["ShardId"] == "shardId-000000000000"
    assert s.put_record(b"x", "b")["ShardId"] == "shardId-000000000001"


@pytest.mark.parametrize("simd", [True, False])
@FAST
@given(keys=st.lists(keys_st, min_size=1, max_size=40))
def test_hash_keys_batch_matches_md5(simd, keys):
    hi, lo = hash_keys(keys, simd=simd)
    assert hi.dtype == np.uint64 and lo.dtype == np.uint64
    assert combine(hi, lo) == [md5_hash(k) for k in keys]


def _mixed_keys(rng: random.Random, n: int) -> list[str]:
    alphabet = "abcXYZ019-_é日本語🙂"
    out = []
    for _ in range(n):
        # lengths around the MD5 block boundaries (55/56/64 bytes) and long multi-block keys
        n_chars = rng.choice([1, 2, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200, 256])
        out.append("".join(rng.choice(alphabet) for _ in range(n_chars)))
    return out


@pytest.mark.parametrize("simd", [True, False])
@pytest.mark.parametrize("kind", ["list", "string", "large_string", "sliced", "sliced_large", "chunked"])
def test_hash_keys_long_and_mixed_batches(simd, kind):
    rng = random.Random(1234)
    keys = _mixed_keys(rng, 203)
    assert any(len(k.encode()) > 55 for k in keys) and any(len(k.encode()) > 128 for k in keys)
    if kind == "list":
        arg, expected_keys = keys, keys
    elif kind == "string":
        arg, expected_keys = pa.array(keys, pa.string()), keys
    elif kind == "large_string":
        arg, expected_keys = pa.array(keys, pa.large_string()), keys
    elif kind == "sliced":
        arg, expected_keys = pa.array(keys, pa.string()).slice(7, 150), keys[7:157]
    elif kind == "sliced_large":
        arg, expected_keys = pa.array(keys, pa.large_string()).slice(13), keys[13:]
    else:
        arg, expected_keys = pa.chunked_array([keys[:50], keys[50:]], pa.string()), keys
    hi, lo = hash_keys(arg, simd=simd)
    assert combine(hi, lo) == [md5_hash(k) for k in expected_keys]


@FAST
@given(keys=st.lists(keys_st, min_size=1, max_size=30), start=st.integers(0, 29))
def test_hash_keys_sliced_arrays_property(keys, start):
    start = min(start, len(keys) - 1)
    for typ in (pa.string(), pa.large_string()):
        arr = pa.array(keys, typ).slice(start)
        for simd in (True, False):
            hi, lo = hash_keys(arr, simd=simd)
            assert combine(hi, lo) == [md5_hash(k) for k in keys[start:]]


def test_simd_and_scalar_agree_on_many_keys():
    rng = random.Random(7)
    keys = [f"key-{rng.getrandbits(64)}" * rng.randint(1, 12) for _ in range(1000)]
    a = hash_keys(keys, simd=True)
    b = hash_keys(keys, simd=False)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert combine(*a) == [md5_hash(k) for k in keys]


# -- uniform ranges ---------------------------------------------------------------------

SPEC_TABLE = {
    1: [(0, 340282366920938463463374607431768211455)],
    2: [(0, 170141183460469231731687303715884105727),
        (170141183460469231731687303715884105728, 340282366920938463463374607431768211455)],
    3: [(0, 113427455640312821154458202477256070484),
        (113427455640312821154458202477256070485, 226854911280625642308916404954512140969),
        (226854911280625642308916404954512140970, 340282366920938463463374607431768211455)],
}


def test_uniform_ranges_match_spec_table():
    for n, ranges in SPEC_TABLE.items():
        assert models.uniform_ranges(n) == ranges
    four = models.uniform_ranges(4)
    assert four[0] == (0, 85070591730234615865843651857942052863)
    assert four[1] == (85070591730234615865843651857942052864, 170141183460469231731687303715884105727)
    assert four[3] == (255211775190703847597530955573826158592, 340282366920938463463374607431768211455)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 2000))
def test_uniform_ranges_tile_hash_space(n):
    ranges = models.uniform_ranges(n)
    assert len(ranges) == n
    assert ranges[0][0] == 0 and ranges[-1][1] == HASH_MAX
    for (s0, e0), (s1, e1) in zip(ranges, ranges[1:]):
        assert s0 <= e0 and s1 == e0 + 1
    assert ranges == ref_uniform_ranges(n)


def test_uniform_ranges_rejects_zero():
    with pytest.raises(ValueError):
        models.uniform_ranges(0)


def test_stream_hash_ranges_match_uniform_layout(engine):
    for n in (1, 2, 3, 4, 7):
        s = engine.create_stream(f"layout{n}", n)
        shards = s.describe()["StreamDescription"]["Shards"]
        got = [(int(x["HashKeyRange"]["StartingHashKey"]), int(x["HashKeyRange"]["EndingHashKey"])) for x in shards]
        assert got == ref_uniform_ranges(n)


# -- routing ---------------------------------------------------------------------------


def _boundary_hashes(starts: list[int]) -> list[int]:
    ends = [s - 1 for s in starts[1:]] + [HASH_MAX]
    out = {0, HASH_MAX}
    for s, e in zip(starts, ends):
        out.update({s, e, s + 1 if s < HASH_MAX else s, e - 1 if e > 0 else e})
    return sorted(out)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_routing_table_uniform_matches_bisect(n, seed):
    rng = random.Random(seed)
    starts = [s for s, _ in ref_uniform_ranges(n)]
    table = RoutingTable(starts, list(range(n)))
    hashes = _boundary_hashes(starts) + [rng.getrandbits(128) for _ in range(300)]
    got = table.route(hashes)
    assert got.tolist() == [ref_shard_for_hash(h, starts) for h in hashes]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 2**32 - 1), clustered=st.booleans())
def test_routing_table_random_boundaries_matches_bisect(n, seed, clustered):
    rng = random.Random(seed)
    if clustered:
        # boundaries packed into one top-16-bit bucket, and adjacent values
        base = rng.getrandbits(16) << 112
        cand = {base + rng.getrandbits(rng.choice([1, 8, 64, 112])) for _ in range(n * 2)}
    else:
        cand = {rng.getrandbits(128) for _ in range(n * 2)}
    cand.discard(0)
    starts = [0] + sorted(cand)[: n - 1]
    indexes = rng.sample(range(10_000), len(starts))
    table = RoutingTable(starts, indexes)
    assert table.shard_ids == tuple(shard_id(i) for i in indexes)
    hashes = _boundary_hashes(starts) + [rng.getrandbits(128) for _ in range(200)]
    got = table.route(hashes)
    assert got.tolist() == [ref_shard_for_hash(h, starts) for h in hashes]
    hi = np.array([h >> 64 for h in hashes], dtype=np.uint64)
    lo = np.array([h & (2**64 - 1) for h in hashes], dtype=np.uint64)
    assert table.route_hashes(hi, lo).tolist() == got.tolist()


def test_routing_table_rejects_bad_boundaries():
    with pytest.raises(ValueError):
        RoutingTable([1, 5], [0, 1])  # does not start at 0
    with pytest.raises(ValueError):
        RoutingTable([0, 5, 5], [0, 1, 2])  # not strictly increasing
    with pytest.raises(ValueError):
        RoutingTable([0, 2**128], [0, 1])  # beyond the hash space
    with pytest.raises(ValueError):
        RoutingTable([], [])


@settings(max_examples=15, deadline=None)
@given(n=st.sampled_from([1, 2, 3, 4, 5, 16, 37, 100, 255, 300]), seed=st.integers(0, 2**32 - 1))
def test_stream_routing_matches_reference(n, seed):
    rng = random.Random(seed)
    e = shardstream.Engine()
    s = e.create_stream("r", n)
    starts = [a for a, _ in ref_uniform_ranges(n)]
    keys = [f"k{rng.getrandbits(40)}" * rng.randint(1, 9) for _ in range(200)]
    table = s.put_batch(keys, [b""] * len(keys))
    assert table.column("shard_id").to_pylist() == [shard_id(ref_shard_for_hash(md5_hash(k), starts)) for k in keys]
    # explicit hash keys: every boundary plus random values
    hashes = _boundary_hashes(starts) + [rng.getrandbits(128) for _ in range(50)]
    table = s.put_batch(["x"] * len(hashes), [b"d"] * len(hashes), explicit_hash_keys=[str(h) for h in hashes])
    expected = [shard_id(ref_shard_for_hash(h, starts)) for h in hashes]
    assert table.column("shard_id").to_pylist() == expected
    # the single-record path agrees
    for h, sid in list(zip(hashes, expected))[:40]:
        assert s.put_record(b"", "x", explicit_hash_key=str(h))["ShardId"] == sid
    assert route_keys(keys, n).tolist() == [ref_shard_for_hash(md5_hash(k), starts) for k in keys]
