cimport cython
from libc.stdint cimport int32_t, uint32_t, uint64_t


@cython.final
cdef class RoutingTable:
    """Immutable map from 128-bit hash keys to positions among the open shards."""
    cdef uint64_t *start_hi
    cdef uint64_t *start_lo
    cdef uint32_t *bucket        # 65,537 entries, see _routing.pyx
    cdef readonly Py_ssize_t size
    cdef readonly tuple shard_indexes
    cdef readonly tuple shard_ids

    cdef int32_t lookup(self, uint64_t hi, uint64_t lo) noexcept nogil
    cdef void lookup_many(self, const uint64_t *hi, const uint64_t *lo, int32_t *out, Py_ssize_t n) noexcept nogil
