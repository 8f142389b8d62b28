"""The BufferPool reuses large blocks only once nothing references them."""

import gc

import numpy as np
import pyarrow as pa

import shardstream
from shardstream._buffers import BufferPool, default_pool

MIB = 1 << 20


def test_small_requests_are_not_pooled():
    pool = BufferPool()
    a = pool.take(1000)
    assert a.nbytes == 1000
    assert pool.pooled_bytes == 0 and pool.misses == 0


def test_size_classes_bound_the_slack():
    pool = BufferPool()
    for n in (65_536, 100_000, 1_000_001, 3 * MIB + 5, 10**8 + 7):
        a = pool.take(n)
        assert a.nbytes == n
    assert pool.pooled_bytes <= 1.25 * (65_536 + 100_000 + 1_000_001 + 3 * MIB + 5 + 10**8 + 7)


def test_block_is_reused_only_after_every_reference_is_gone():
    pool = BufferPool()
    a = pool.take(2 * MIB)
    a[:] = 7
    buf = pa.py_buffer(a)  # an Arrow buffer over the block keeps it busy
    del a
    b = pool.take(2 * MIB)
    assert pool.misses == 2 and pool.hits == 0
    b[:] = 9
    assert np.frombuffer(buf, np.uint8).min() == 7  # untouched by the second user
    del buf, b
    gc.collect()
    c = pool.take(2 * MIB - 100)  # a free block of the same size class
    assert pool.hits == 1 and c.nbytes == 2 * MIB - 100


def test_pool_stays_within_its_bounds():
    pool = BufferPool(max_bytes=5 * MIB, max_blocks=3)
    held = [pool.take(2 * MIB) for _ in range(4)]
    assert pool.pooled_bytes <= 5 * MIB
    del held
    for _ in range(10):
        pool.take(MIB)
    assert pool.pooled_bytes <= 5 * MIB


def test_read_batches_are_never_recycled_while_held():
    engine = shardstream.Engine()
    s = engine.create_stream("pool", 1)
    n = 40_000
    s.put_batch([f"k{i}" for i in range(n)], [bytes([i % 251]) * 64 for i in range(n)])
    held = s.read_table()
    expected = held.to_pylist()
    hits = default_pool.hits
    for _ in range(5):
        other = s.read_table()  # needs blocks of the same sizes; must not take held's
        assert other.equals(held)
        del other
    assert default_pool.hits > hits  # the released blocks were reused
    s.put_batch([f"z{i}" for i in range(n)], [b"\xff" * 64] * n)
    assert held.to_pylist() == expected
