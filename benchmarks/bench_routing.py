"""Stage 0, routing alone: partition key -> MD5 hash key (-> shard), keys/s.

``hash_keys(keys, simd=True)`` (the best multi-buffer MD5 the CPU has, see
``md5_kernel()``), the AVX2 and AVX-512 kernels by name (skipped where the CPU
lacks them), against ``simd=False`` (the scalar C kernel) over the same 1M Arrow
keys, and ``route_keys`` (hash + shard lookup for a fresh 4-shard stream).
"""

from __future__ import annotations

import data
import pytest

from shardstream.routing import hash_keys, md5_kernel, route_keys

pytestmark = pytest.mark.benchmark(group="routing")


def test_routing_hash_keys_simd(benchmark, records):
    benchmark.extra_info.update(records=len(records), unit="keys")
    hi, _ = benchmark.pedantic(hash_keys, args=(records.keys,), kwargs={"simd": True}, rounds=20, iterations=1,
                               warmup_rounds=1)
    assert len(hi) == len(records)


@pytest.mark.parametrize("kernel", ["avx2", "avx512"])
def test_routing_hash_keys_kernel(benchmark, records, kernel):
    if md5_kernel(kernel) != kernel:
        pytest.skip(f"this CPU has no {kernel}")
    benchmark.extra_info.update(records=len(records), unit="keys", kernel=kernel)
    hi, _ = benchmark.pedantic(hash_keys, args=(records.keys,), kwargs={"kernel": kernel}, rounds=20, iterations=1,
                               warmup_rounds=1)
    assert len(hi) == len(records)


def test_routing_hash_keys_scalar(benchmark, records):
    benchmark.extra_info.update(records=len(records), unit="keys")
    hi, _ = benchmark.pedantic(hash_keys, args=(records.keys,), kwargs={"simd": False}, rounds=10, iterations=1,
                               warmup_rounds=1)
    assert len(hi) == len(records)


def test_routing_route_keys(benchmark, records):
    benchmark.extra_info.update(records=len(records), unit="keys")
    shards = benchmark.pedantic(route_keys, args=(records.keys, data.SHARD_COUNT), rounds=20, iterations=1,
                                warmup_rounds=1)
    assert len(shards) == len(records)
