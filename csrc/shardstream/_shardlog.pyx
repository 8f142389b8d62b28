# cython: language_level=3
"""ShardLog: a shard's records in a native ring, behind one lock.

Threading contract: every method takes the shard's lock for its whole body, so
a ShardLog may be shared by any number of threads.  The lock is only ever
*waited for* with the GIL released (see ``acquire``), so holding a shard lock
while taking the GIL cannot deadlock.  Readers receive copies: nothing handed
out references ring memory, so later writes, trims and wraps never change a
batch a reader holds.  Reads copy a run of records into Arrow
(``_arrow_encode.read_batch``); the core makes no GetRecords dicts, base64 or
datetimes: that is :mod:`shardstream.records`, outside any lock.
"""
from libc.stdint cimport INT64_MIN, UINT64_MAX, int64_t, uint64_t

from shardstream.includes.native cimport (
    ss_mutex_destroy, ss_mutex_init,
    SS_SEQ_LEN, SS_SLOT_BYTES, ss_ring_count, ss_ring_doff, ss_ring_drop, ss_ring_footprint, ss_ring_free,
    ss_ring_init,
    ss_ring_lower_bound_ts, ss_ring_trim_expired, ss_ring_ts, ss_seq_cache_reset, ss_seq_format, ss_seq_seconds,
)

#: Bytes of index each record costs in a ring, on top of its key and data.
SLOT_BYTES = SS_SLOT_BYTES


cdef class ShardLog:
    """Records of one shard, in arrival order, numbered by a per-shard counter.

    Parameters
    ----------
    shard_index : int
        The shard's index within its stream (``shardId-<index:012d>``).
    created_s : int
        The shard's creation time in epoch seconds, a field of its sequence
        numbers (see :mod:`shardstream.sequence`).
    capacity_bytes : int
        Upper bound on live key + data bytes plus 24 bytes of index per record.
    retention_ms : int
        Records that arrived more than this long ago are trimmed.
    evict_oldest : bool
        When full, drop the oldest records (counted in ``evicted_records``)
        instead of refusing writes with back-pressure.
    first_counter : int
        Counter of the first record; the shard's StartingSequenceNumber uses
        ``first_counter - 1``.
    """

    def __cinit__(self, long shard_index, uint64_t created_s, uint64_t capacity_bytes, int64_t retention_ms,
                  bint evict_oldest=False, uint64_t first_counter=1):
        if not 0 <= shard_index < 2**31:
            raise ValueError("shard_index must be in [0, 2**31)")
        if created_s >= 2**36:
            raise ValueError("created_s must be below 2**36")
        if first_counter < 1:
            raise ValueError("first_counter must be at least 1")
        if ss_mutex_init(&self.lock) != 0:
            raise MemoryError("could not create the shard lock")
        self.lock_ready = True
        ss_ring_init(&self.ring, first_counter, capacity_bytes, retention_ms, evict_oldest)
        self.created_s = created_s
        self.shard_index = shard_index
        self.shard_id = f"shardId-{shard_index:012d}"
        self.closed = False
        self.end_counter = UINT64_MAX
        ss_seq_cache_reset(&self.seq_cache)
        self.put_result = {"ShardId": self.shard_id, "SequenceNumber": None}

    def __dealloc__(self):
        ss_ring_free(&self.ring)
        if self.lock_ready:
            ss_mutex_destroy(&self.lock)

    def __repr__(self):
        return f"<ShardLog {self.shard_id} records={self.count} closed={self.closed}>"

    # -- state ---------------------------------------------------------------

    @property
    def head(self):
        """Counter of the oldest retained record (the trim horizon)."""
        return self.ring.head

    @property
    def tail(self):
        """Counter the next appended record will receive."""
        return self.ring.tail

    @property
    def count(self):
        """Number of retained records."""
        return ss_ring_count(&self.ring)

    @property
    def footprint_bytes(self):
        """Bytes counted against ``capacity_bytes``."""
        return ss_ring_footprint(&self.ring)

    @property
    def data_bytes(self):
        """Live record data bytes (partition keys excluded)."""
        return self.ring.data_tail - self.ring.data_head

    @property
    def appended_bytes(self):
        """Key and data bytes ever appended (grows monotonically; a write-rate gauge)."""
        return self.ring.data_tail + self.ring.key_tail

    @property
    def capacity_bytes(self):
        return self.ring.capacity

    @property
    def evicted_records(self):
        """Records dropped to make room (only with ``evict_oldest``)."""
        return self.ring.evicted

    @property
    def trimmed_records(self):
        """Records dropped because they aged past retention."""
        return self.ring.trimmed

    @property
    def packed_end(self):
        """Records from this counter on are plain: none can be a KPL aggregate or a compression envelope.

        Their data does not start with the byte either begins with, so
        readers may skip looking for them; records below it may be either
        (including every record appended before this ring existed, such as
        a durable stream's records from an earlier run).  It only grows.
        """
        return self.ring.packed_end

    @property
    def evict_limit(self):
        """Eviction may drop only records with counters below this (default: no bound).

        A durable stream sets it to the first counter not yet written to disk,
        so that the ring, a cache of the segments, never drops the only copy.
        """
        return self.ring.evict_limit

    @evict_limit.setter
    def evict_limit(self, uint64_t value):
        self.acquire()
        self.ring.evict_limit = value
        self.release()

    @property
    def visible_limit(self):
        """Readers see only records with counters below this (default: no bound).

        A durable ``sync`` stream sets it to the first counter not yet
        ``fsync``-ed, so that no reader sees a record before it is durable
        (nor one whose write then failed).  Reads (``read_batch``)
        stop there; appends do not.
        """
        return self.ring.visible_limit

    @visible_limit.setter
    def visible_limit(self, uint64_t value):
        self.acquire()
        self.ring.visible_limit = value
        self.release()

    def discard_all(self):
        """Drop every record now held, without reusing their counters; returns ``tail``.

        The next record appended gets the counter it would have got anyway,
        so counters of dropped records never name other records.  A durable
        stream calls it when a write to disk failed: the records not on disk
        were never acknowledged nor seen (see ``visible_limit``), and those on
        disk are read from there.  Not counted as evicted or trimmed.
        """
        cdef uint64_t tail
        self.acquire()
        ss_ring_drop(&self.ring, ss_ring_count(&self.ring))
        tail = self.ring.tail
        self.release()
        return tail

    @property
    def evict_oldest(self):
        """Whether a full ring drops its oldest records instead of refusing writes."""
        return bool(self.ring.evict_oldest)

    @property
    def retention_ms(self):
        return self.ring.retention_ms

    @retention_ms.setter
    def retention_ms(self, int64_t value):
        self.acquire()
        self.ring.retention_ms = value
        self.release()

    @property
    def last_arrival_ms(self):
        """Arrival time of the newest record ever appended, or None."""
        return None if self.ring.last_ts == INT64_MIN else self.ring.last_ts

    def close(self):
        """Refuse further appends; the shard's EndingSequenceNumber is fixed."""
        self.acquire()
        self.closed = True
        self.release()

    # -- sequence numbers ----------------------------------------------------

    def sequence_number(self, uint64_t counter, arrival_ms=None):
        """The 56-digit sequence number of ``counter`` in this shard.

        Parameters
        ----------
        counter : int
        arrival_ms : int, optional
            The record's arrival time; by default that of the retained record
            with this counter, or the shard's creation time if there is none.
        """
        cdef char buf[SS_SEQ_LEN]
        cdef int64_t ms
        if arrival_ms is None:
            found = self.arrival_ms(counter)
            ms = self.created_s * 1000 if found is None else found
        else:
            ms = arrival_ms
        ss_seq_format(buf, self.created_s, self.shard_index, counter, ss_seq_seconds(ms))
        return buf[:SS_SEQ_LEN].decode("ascii")

    # -- maintenance and lookup ----------------------------------------------

    def trim_expired(self, int64_t now_ms):
        """Drop records older than retention at ``now_ms``; returns how many."""
        cdef uint64_t n
        self.acquire()
        n = ss_ring_trim_expired(&self.ring, now_ms)
        self.release()
        return n

    def locate_timestamp(self, int64_t timestamp_ms):
        """Counter of the first retained record that arrived at or after ``timestamp_ms``."""
        cdef uint64_t c
        self.acquire()
        c = ss_ring_lower_bound_ts(&self.ring, timestamp_ms)
        self.release()
        return c

    def bounds(self):
        """``(head, tail)`` read atomically."""
        self.acquire()
        try:
            return self.ring.head, self.ring.tail
        finally:
            self.release()

    def bytes_between(self, uint64_t lo, uint64_t hi):
        """Data bytes of the records ``[lo, hi)``, or -1 unless all of them are in the ring now."""
        self.acquire()
        try:
            if self.ring.head <= lo <= hi <= self.ring.tail:
                return ss_ring_doff(&self.ring, hi) - ss_ring_doff(&self.ring, lo)
            return -1
        finally:
            self.release()

    def arrival_ms(self, uint64_t counter):
        """Arrival time of a retained record, or None if it is not retained."""
        self.acquire()
        try:
            if self.ring.head <= counter < self.ring.tail:
                return ss_ring_ts(&self.ring, counter)
            return None
        finally:
            self.release()
