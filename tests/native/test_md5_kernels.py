"""The MD5 kernels (scalar, AVX2, AVX-512) against hashlib and against each other.

Every kernel must give ``hashlib.md5(key).digest()`` read big-endian, byte for byte, for keys of
any length, in batches of any size, whatever the offsets' width or the array's starting offset.
The SIMD kernels' tests skip on CPUs that lack them.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardstream._native import md5_hash_keys
from shardstream.routing import hash_keys, md5_kernel

SIMD = [k for k in ("avx2", "avx512") if md5_kernel(k) == k]
KERNELS = ["scalar", *SIMD]
needs_avx512 = pytest.mark.skipif("avx512" not in SIMD, reason="this CPU has no AVX-512F/BW/VL")
# Every kernel the CPU runs; the AVX-512 one is always listed so that its absence shows as a skip.
ALL = ["scalar", *(k for k in SIMD if k != "avx512"), pytest.param("avx512", marks=needs_avx512)]


def expected(keys: list[bytes]) -> list[int]:
    return [int.from_bytes(hashlib.md5(k).digest(), "big") for k in keys]


def digests(arr: pa.Array, kernel: str) -> list[int]:
    # The native call hashes any bytes; routing.hash_keys checks that keys are UTF-8 first.
    hi, lo = md5_hash_keys(arr, kernel=kernel)
    return [(int(h) << 64) | int(lo_) for h, lo_ in zip(hi, lo)]


def random_key(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


@pytest.mark.parametrize("kernel", ALL)
def test_every_length_0_to_300_in_one_batch(kernel):
    rng = random.Random(1)
    keys = [random_key(rng, n) for n in range(301)]
    rng.shuffle(keys)
    assert digests(pa.array(keys, pa.binary()), kernel) == expected(keys)


@pytest.mark.parametrize("kernel", ALL)
@pytest.mark.parametrize("length", [0, 1, 15, 16, 36, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 300])
def test_runs_of_one_length_around_block_boundaries(kernel, length):
    # 70 keys of one length: full passes (the contiguous fast path) and a partial one.
    rng = random.Random(length)
    keys = [random_key(rng, length) for _ in range(70)]
    assert digests(pa.array(keys, pa.binary()), kernel) == expected(keys)


@pytest.mark.parametrize("kernel", ALL)
def test_batches_of_every_size_0_to_100(kernel):
    # Past one and two full passes (AVX2: 24 keys, AVX-512: 48) with every tail size.
    rng = random.Random(2)
    for n in range(101):
        short = [random_key(rng, rng.randrange(0, 56)) for _ in range(n)]
        mixed = [random_key(rng, rng.choice([rng.randrange(0, 56), rng.randrange(56, 140)])) for _ in range(n)]
        for keys in (short, mixed):
            assert digests(pa.array(keys, pa.binary()), kernel) == expected(keys), (n, keys)


@pytest.mark.parametrize("kernel", ALL)
def test_long_keys_between_short_ones_refill_the_lanes(kernel):
    # Short keys collected around long ones: full passes scattered to their positions, then a tail.
    rng = random.Random(3)
    keys = [random_key(rng, 200 if i % 7 == 3 else rng.randrange(0, 56)) for i in range(500)]
    assert digests(pa.array(keys, pa.binary()), kernel) == expected(keys)


@pytest.mark.parametrize("kernel", ALL)
def test_unicode_keys_hash_as_utf8(kernel):
    words = ["", "a", "é", "日本語のキー", "🦆" * 13, "Ω" * 27, "Ω" * 28, "mixed-ü-🙂-" * 9, "ß" * 150]
    keys = [w + str(i) for i in range(40) for w in words]
    want = expected([k.encode() for k in keys])
    assert digests(pa.array(keys, pa.string()), kernel) == want
    hi, lo = hash_keys(keys, kernel=kernel)  # the public function, from a Python list
    assert [(int(h) << 64) | int(x) for h, x in zip(hi, lo)] == want


@pytest.mark.parametrize("kernel", ALL)
def test_large_offsets_and_a_sliced_array(kernel):
    rng = random.Random(4)
    keys = [random_key(rng, rng.randrange(0, 80)) for _ in range(300)]
    want = expected(keys)
    assert digests(pa.array(keys, pa.large_binary()), kernel) == want
    # A slice starts at a non-zero offset and its neighbours' bytes sit on both sides.
    assert digests(pa.array(keys, pa.binary()).slice(17, 250), kernel) == want[17:267]
    assert digests(pa.array(keys, pa.large_binary()).slice(5, 33), kernel) == want[5:38]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(max_size=130), max_size=90))
def test_all_kernels_agree_with_hashlib_on_random_keys(keys):
    arr = pa.array(keys, pa.binary())
    want = expected(keys)
    for kernel in KERNELS:
        assert digests(arr, kernel) == want, kernel


@needs_avx512
def test_avx512_equals_avx2_and_scalar_on_many_keys():
    rng = np.random.default_rng(5)
    lengths = rng.integers(0, 70, 50_000)
    blob = rng.integers(0, 256, int(lengths.sum()), dtype=np.uint8).tobytes()
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    arr = pa.BinaryArray.from_buffers(pa.binary(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(blob)])
    z_hi, z_lo = md5_hash_keys(arr, kernel="avx512")
    for other in ("avx2", "scalar"):
        hi, lo = md5_hash_keys(arr, kernel=other)
        assert np.array_equal(z_hi, hi) and np.array_equal(z_lo, lo), other


def test_md5_kernel_names_the_default_and_simd_false_is_scalar():
    assert md5_kernel() in ("scalar", "avx2", "avx512")
    best = SIMD[-1] if SIMD else "scalar"
    if not os.environ.get("SHARDSTREAM_MD5"):
        assert md5_kernel() == best
    keys = [b"k%d" % i for i in range(100)]
    arr = pa.array(keys, pa.binary())
    assert digests(arr, "scalar") == expected(keys)
    hi, lo = hash_keys(arr, simd=False)
    assert [(int(h) << 64) | int(x) for h, x in zip(hi, lo)] == expected(keys)


def test_unknown_kernel_is_rejected():
    with pytest.raises(ValueError, match="unknown MD5 kernel"):
        hash_keys(["a"], kernel="avx1024")
    with pytest.raises(ValueError, match="unknown MD5 kernel"):
        md5_kernel("sse")


def test_the_kernels_the_cpu_has_run_and_the_others_are_refused():
    digest = expected([b"a"])
    for kernel in ("scalar", "avx2", "avx512"):
        if kernel in KERNELS:
            hi, lo = hash_keys(["a"], kernel=kernel)
            assert (int(hi[0]) << 64 | int(lo[0])) == digest[0], kernel
        else:
            with pytest.raises(ValueError, match="cannot run"):
                hash_keys(["a"], kernel=kernel)


def _kernel_in_child(value: str | None) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SHARDSTREAM_MD5"}
    if value is not None:
        env["SHARDSTREAM_MD5"] = value
    code = (
        "import warnings; warnings.simplefilter('always')\n"
        "import shardstream, pyarrow as pa\n"
        "from shardstream.routing import md5_kernel\n"
        "s = shardstream.Engine().create_stream('s', 4)\n"
        "s.put_batch(pa.array(['a', 'b'] * 40), pa.array([b'x'] * 80))\n"  # the write path's copy of the kernels
        "print(md5_kernel())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.strip(), out.stderr


def test_environment_variable_caps_the_kernel():
    best = SIMD[-1] if SIMD else "scalar"
    assert _kernel_in_child(None)[0] == best
    assert _kernel_in_child("scalar")[0] == "scalar"
    assert _kernel_in_child("avx2")[0] == ("avx2" if SIMD else "scalar")
    kernel, err = _kernel_in_child("fastest")
    assert kernel == best and "SHARDSTREAM_MD5='fastest'" in err
