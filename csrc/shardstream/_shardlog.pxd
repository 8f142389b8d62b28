cimport cython
from cpython.pythread cimport PyThread_type_lock
from libc.stdint cimport uint64_t, int64_t

from shardstream.includes.native cimport ss_ring


@cython.final
cdef class ShardLog:
    """One shard: an ss_ring, the lock that serialises it, and its identity."""
    cdef ss_ring ring
    cdef PyThread_type_lock lock
    cdef char prefix[28]              # the 27 constant digits of its sequence numbers
    cdef char seq_cache[56]           # the last sequence number formatted (under the lock)
    cdef uint64_t seq_cached          # its counter, UINT64_MAX when empty
    cdef readonly str shard_id
    cdef readonly long shard_index
    cdef readonly bint closed
    cdef readonly uint64_t end_counter  # counter of the EndingSequenceNumber once closed

    cdef void acquire(self) noexcept
    cdef void acquire_nogil(self) noexcept nogil
    cdef void release(self) noexcept nogil
