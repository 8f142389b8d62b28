cimport cython
from libc.stdint cimport uint64_t, int64_t

from shardstream.includes.native cimport ss_mutex, ss_mutex_lock, ss_mutex_trylock, ss_mutex_unlock, ss_ring, ss_seq_cache


@cython.final
cdef class ShardLog:
    """One shard: an ss_ring, the lock that serialises it, and its identity."""
    cdef ss_ring ring
    cdef ss_mutex lock
    cdef bint lock_ready
    cdef readonly uint64_t created_s  # shard creation, epoch s (a field of its sequence numbers)
    cdef ss_seq_cache seq_cache       # the last sequence number formatted (under the lock)
    cdef readonly str shard_id
    cdef readonly long shard_index
    cdef readonly bint closed
    cdef readonly uint64_t end_counter  # counter of the EndingSequenceNumber once closed
    cdef dict put_result                # {"ShardId": shard_id, "SequenceNumber": None}, copied per put

    cdef inline void acquire(self) noexcept:
        # Uncontended, a try-lock costs one compare-and-swap; only a wait
        # gives up the GIL (so a lock holder that needs the GIL gets it).
        if not ss_mutex_trylock(&self.lock):
            with nogil:
                ss_mutex_lock(&self.lock)

    cdef inline void release(self) noexcept nogil:
        ss_mutex_unlock(&self.lock)
