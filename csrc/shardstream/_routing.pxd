cimport cython
from libc.stdint cimport int32_t, uint32_t, uint64_t


cdef inline bint u128_le(uint64_t ahi, uint64_t alo, uint64_t bhi, uint64_t blo) noexcept nogil:
    return ahi < bhi or (ahi == bhi and alo <= blo)


@cython.final
cdef class RoutingTable:
    """Immutable map from 128-bit hash keys to positions among the open shards."""
    cdef uint64_t *start_hi
    cdef uint64_t *start_lo
    cdef uint32_t *bucket        # 65,537 entries, see _routing.pyx
    cdef readonly Py_ssize_t size
    cdef readonly tuple shard_indexes
    cdef readonly tuple shard_ids

    cdef inline int32_t lookup(self, uint64_t hi, uint64_t lo) noexcept nogil:
        # One key at a time (put_record): with few shards, scan the starting
        # keys, which stay in L1, instead of touching a random entry of the
        # 256 KiB bucket table (a likely cache miss between calls).
        # The count of starting keys at or below the hash, without a branch
        # on the (random) hash: no mispredictions.
        cdef uint32_t pos = 0, k
        if self.size <= 8:
            for k in range(1, <uint32_t>self.size):
                pos += (self.start_hi[k] < hi) | ((self.start_hi[k] == hi) & (self.start_lo[k] <= lo))
            return pos
        return self.lookup_table(hi, lo)

    cdef inline int32_t lookup_table(self, uint64_t hi, uint64_t lo) noexcept nogil:
        # Batches: the table stays cached across the loop and its answer is
        # a single load except where a shard boundary cuts the bucket.
        cdef uint32_t pos = self.bucket[hi >> 48]
        cdef uint32_t last = self.bucket[(hi >> 48) + 1]
        while pos < last and u128_le(self.start_hi[pos + 1], self.start_lo[pos + 1], hi, lo):
            pos += 1
        return pos

    cdef void lookup_many(self, const uint64_t *hi, const uint64_t *lo, int32_t *out, Py_ssize_t n) noexcept nogil
