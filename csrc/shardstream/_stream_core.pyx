# cython: language_level=3
"""StreamCore: the write paths of a stream (put_record, put_records, put_batch).

A batch flows: validate key and record sizes -> MD5 every key (AVX2, 16 keys
in flight) -> look each hash up in the RoutingTable -> lock the shards it
touches in ascending index order -> check room in all of them -> append every
record in input order -> unlock -> format sequence numbers.  Every loop over
records runs with the GIL released.  A batch is all or nothing: if any shard
lacks room, nothing is appended anywhere.

Threading contract: any number of threads may write at once.  Each shard is
serialised by its ShardLog's lock; batches that touch disjoint shards append
in parallel, and hashing (the expensive part) never holds a lock.  Shard locks
are always acquired in ascending shard index with the GIL released, so two
batches cannot deadlock.  The open-shard snapshot (``routing``, ``open_logs``)
is replaced as a pair under the GIL on a reshard; a writer that finds a shard
closed under it re-routes.

Record distribution: by default (USER_PARTITION_KEY) a record goes to the
open shard whose hash-key range holds the MD5 of its partition key (or its
explicit hash key).  With ``auto_distribution`` set (Kinesis's AUTO strategy)
keys and explicit hash keys are ignored for placement and records are dealt
round-robin over the open shards in hash-key order: a stream-wide counter
``spread_next`` (advanced under the GIL, so concurrent batches get disjoint
ranges) gives row ``i`` of a batch position ``(start + i) % open shards``.
A keyless record is stored with an empty partition key.  A write refused
after it took its turns (a full shard log) leaves them used.

Dry runs (``dry_run=True``) make every check of the real write -- stream
state, record limits, routing, closed shards, room in the shard logs -- and
then stop: nothing is appended and ``spread_next`` does not move.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.stdint cimport INT32_MAX, INT64_MAX, UINT64_MAX, int8_t, int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from shardstream._buffers import default_pool, gather_pool
from shardstream._columns cimport BinaryView, binary_view, bv_offset
from shardstream._routing cimport RoutingTable
from shardstream._shardlog cimport ShardLog
from shardstream.includes.native cimport (
    SS_FULL, SS_OK, SS_SEQ_LEN, SS_SLOT_BYTES, ss_md5_batch, ss_md5_key, ss_now_ms, ss_parse_u128, ss_ring,
    ss_ring_append, ss_ring_can_fit, ss_ring_doff, ss_ring_footprint, ss_ring_koff, ss_ring_reserve,
    ss_ring_trim_expired, ss_seq_cache, ss_seq_format_cached, ss_seq_seconds, ss_utf8_length,
)

import numpy as np
import pyarrow as pa

from shardstream import errors as _errors
from shardstream import validation as _validation

from cpython.dict cimport PyDict_Copy, PyDict_SetItem


cdef extern from "Python.h":
    ctypedef struct PyObject
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    void *PyUnicode_DATA(object)
    const char *PyUnicode_AsUTF8AndSize(object, Py_ssize_t *) except NULL
    const char *PyUnicode_AsUTF8AndSize_raw "PyUnicode_AsUTF8AndSize" (PyObject *, Py_ssize_t *)
    PyObject **PySequence_Fast_ITEMS(object)
    Py_ssize_t PySequence_Fast_GET_SIZE(object)
    Py_ssize_t PyDict_GET_SIZE(object)
    Py_ssize_t _refcount "Py_REFCNT" (PyObject *)
    void *Py_TYPE_raw "(void *)Py_TYPE" (PyObject *)
    char *PyBytes_AS_STRING_raw "PyBytes_AS_STRING" (PyObject *)
    Py_ssize_t PyBytes_GET_SIZE_raw "PyBytes_GET_SIZE" (PyObject *)
    void PyErr_Clear()

DEF MAX_KEY_CHARS = 256
DEF MAX_KEY_BYTES = 1024        # 256 characters of at most 4 UTF-8 bytes
DEF NOGIL_COPY_BYTES = 65536    # single records larger than this are copied without the GIL

# Result codes of the validation pass over a batch.
DEF BAD_NONE = 0
DEF BAD_KEY_SHORT = 1
DEF BAD_KEY_LONG = 2
DEF BAD_DATA_SIZE = 3
DEF BAD_RECORD_SIZE = 4


cdef object _pool_array(int64_t n, object dtype):
    """An uninitialised numpy array from the shared BufferPool (no fresh page faults when reused)."""
    dtype = np.dtype(dtype)
    return default_pool.take(n * dtype.itemsize, dtype)


cdef object _gather_text(object values, bint keys):
    """A list or tuple of str (or, unless ``keys``, of bytes) as an Arrow string (binary) array; None otherwise.

    One pass over the items with the GIL held and no pyarrow conversion:
    each item's UTF-8 (cached by Python: free for ASCII) or bytes go into one
    buffer of ``gather_pool`` (reused: no page faults), sized from the first
    items and grown if they were not typical, and its end into the offsets;
    the array wraps both without a copy.  Anything else -- an empty sequence, an item of another type (None,
    bytearray, a subclass), mixed str and bytes payloads, a str that is not
    valid UTF-8 (lone surrogates), more than 2 GiB -- returns None, and the
    caller converts the values as before, with the errors it raises.
    """
    cdef Py_ssize_t n, i, size
    cdef PyObject **items
    cdef PyObject *item
    cdef void *kind
    cdef const char *p
    cdef int64_t total = 0, cap, sample = 0
    cdef bint text
    cdef int32_t *off
    cdef uint8_t *dst
    cdef uint8_t[::1] b
    cdef int32_t[::1] o
    if type(values) is not list and type(values) is not tuple:
        return None
    n = PySequence_Fast_GET_SIZE(values)
    if n == 0:
        return None
    items = PySequence_Fast_ITEMS(values)
    kind = Py_TYPE_raw(items[0])
    text = kind == <void *>str
    if not text and (keys or kind != <void *>bytes):
        return None
    # Size the buffer from the first items (+1/8 and 2 bytes a row of slack).
    for i in range(min(n, 64)):
        if Py_TYPE_raw(items[i]) != kind:
            return None
        if text:
            if PyUnicode_AsUTF8AndSize_raw(items[i], &size) == NULL:
                PyErr_Clear()
                return None
        else:
            size = PyBytes_GET_SIZE_raw(items[i])
        sample += size
    cap = min((sample * n // min(n, 64)) * 9 // 8 + 2 * n + 64, INT32_MAX)
    offsets = gather_pool.take((n + 1) * sizeof(int32_t), np.int32)
    buf = gather_pool.take(cap)
    o = offsets
    b = buf
    off = &o[0]
    dst = &b[0]
    off[0] = 0
    i = 0
    while i < n:
        if PySequence_Fast_GET_SIZE(values) != n:     # changed by code the pool ran
            return None
        items = PySequence_Fast_ITEMS(values)
        while i < n:
            item = items[i]
            if Py_TYPE_raw(item) != kind:
                return None
            if text:
                p = PyUnicode_AsUTF8AndSize_raw(item, &size)
                if p == NULL:
                    PyErr_Clear()
                    return None
            else:
                p = PyBytes_AS_STRING_raw(item)
                size = PyBytes_GET_SIZE_raw(item)
            if total + size > cap:
                break
            memcpy(dst + total, p, size)
            total += size
            off[i + 1] = <int32_t>total
            i += 1
        else:
            break
        if total + size > INT32_MAX:
            return None
        cap = max(min(cap + cap // 2, INT32_MAX), total + size)      # grow; the pool may run code: take the items again
        grown = gather_pool.take(cap)
        b = grown
        memcpy(&b[0], dst, total)
        dst = &b[0]
        buf = grown
    return pa.Array.from_buffers(pa.string() if text else pa.binary(), n,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(buf[:total])])


class RecordRejected(Exception):
    """A row of a batch breaks a record limit (a status; nothing was written).

    The core reports which row and which limit; the Kinesis wording (paths
    such as ``records.<n>.member.partitionKey``) is made outside it
    (:func:`shardstream.puts.record_rejection`).

    Attributes
    ----------
    reason : {"key_too_short", "key_too_long", "data_too_large", "record_too_large"}
    index : int
        The row, from 0.
    """

    def __init__(self, reason, index):
        super().__init__(reason, index)
        self.reason = reason
        self.index = index


_REJECTIONS = {BAD_KEY_SHORT: "key_too_short", BAD_KEY_LONG: "key_too_long",
               BAD_DATA_SIZE: "data_too_large", BAD_RECORD_SIZE: "record_too_large"}


class RingFull(Exception):
    """A shard's ring had no room for a write of a stream that makes room (``room_on_full``).

    A status, not an error: the write took no effect and no lock is held.  The
    caller makes room (a durable stream writes the ring to disk, after which
    the ring may evict) and runs the write again.

    Attributes
    ----------
    log : ShardLog
        The full shard's log.
    records, nbytes : int
        What did not fit.
    """

    def __init__(self, log, records, nbytes):
        super().__init__(log.shard_id)
        self.log = log
        self.records = records
        self.nbytes = nbytes


def ring_full_error(str stream_name, str account_id, ShardLog log, uint64_t nrec, uint64_t nbytes):
    """The ProvisionedThroughputExceededException of a write that does not fit in a shard's ring."""
    return _errors.ProvisionedThroughputExceededException(
        f"Rate exceeded for shard {log.shard_id} in stream {stream_name} under account {account_id}. "
        f"The shard's log is full: {log.footprint_bytes} of {log.capacity_bytes} bytes hold records "
        f"still inside retention, and {nrec} more records ({nbytes} bytes) do not fit. Retry after "
        f"readers catch up and records expire, raise shard_capacity_bytes, or create the stream with "
        f"evict_oldest=True.")


cdef class StreamCore:
    """Write paths shared by every Stream; see the module docstring for threading.

    Parameters
    ----------
    name : str
        Stream name (used in error messages).
    account_id : str
        The 12-digit account the stream belongs to (used in error messages).
    max_record_bytes : int
        Largest data + partition key size of one record.
    clock : callable or None
        Returns the current time in ms since the epoch; None uses the system
        realtime clock.
    """
    cdef readonly str name
    cdef readonly str account_id
    cdef readonly int64_t max_record_bytes
    cdef readonly object clock
    cdef readonly list logs              # every ShardLog, by shard index
    cdef readonly RoutingTable routing   # the open shards ...
    cdef readonly tuple open_logs        # ... and their logs, in hash-key order
    cdef readonly bint accepting       # writes allowed (False while CREATING and once deleted)
    cdef public bint watch_writes      # call _on_writes() now and then (on-demand scaling)
    cdef public object write_signal    # None, or called after every write with its ShardLog (None: a batch)
    cdef public bint room_on_full      # a full ring is a status (RingFull) for the caller to make room, not an error
    cdef int write_countdown           # put_record calls until the next _on_writes()
    cdef readonly bint auto_distribution  # AUTO: deal records round-robin, ignoring keys
    cdef readonly uint64_t spread_next    # AUTO: the round-robin position of the next record
    cdef dict last_result                 # put_record's previous result, reused once its caller let go of it

    def __cinit__(self, *args, **kwargs):
        self.logs = []
        self.open_logs = ()

    def _init_core(self, str name, str account_id, int64_t max_record_bytes, clock=None):
        self.name = name
        self.account_id = account_id
        self.max_record_bytes = max_record_bytes
        self.clock = clock

    @staticmethod
    def _text_column(values, bint keys=False):
        """A list or tuple of str (or, unless ``keys``, of bytes) as an Arrow array, gathered natively.

        Parameters
        ----------
        values : object
            Partition keys (``keys``) or payloads as the user passed them.
        keys : bool
            Only str items qualify (partition keys).

        Returns
        -------
        pyarrow.Array or None
            ``string`` (str items) or ``binary`` (bytes items), equal to
            ``pa.array(values)``; None when ``values`` is not such a sequence
            (the caller converts it as before).
        """
        return _gather_text(values, keys)

    def _set_accepting(self, bint accepting):
        """Open or shut the write paths; while shut, writers call ``_refresh_accepting``."""
        self.accepting = accepting

    def _refresh_accepting(self):
        """Hook for Stream: settle the stream's state, then return if writes are accepted or raise."""
        if not self.accepting:
            raise _errors.ResourceNotFoundException(f"Stream {self.name} under account {self.account_id} not found.")

    def _set_max_record_bytes(self, int64_t value):
        self.max_record_bytes = value

    def _set_auto_distribution(self, bint auto):
        """Switch between key routing (False) and round-robin AUTO distribution (True)."""
        self.auto_distribution = auto

    def _spread_positions(self, int64_t n):
        """Positions (into ``routing``) the next ``n`` AUTO records would take; moves nothing."""
        cdef int64_t i
        cdef uint64_t start = self.spread_next
        cdef uint64_t m = self.routing.size
        out = np.empty(n, dtype=np.int32)
        cdef int32_t[::1] o = out
        if n:
            with nogil:
                _fill_spread(&o[0], n, start, m)
        return out

    def _set_open_shards(self, RoutingTable routing not None, tuple open_logs not None):
        """Install a new open-shard snapshot (both halves at once, under the GIL)."""
        if routing.size != len(open_logs):
            raise ValueError("one ShardLog per routing position is required")
        self.routing = routing
        self.open_logs = open_logs

    cdef inline int64_t _now(self) except? -1:
        if self.clock is None:
            return ss_now_ms()
        return self.clock()

    def now_ms(self):
        """The stream's current time in ms since the epoch."""
        return self._now()

    # -- put_record ----------------------------------------------------------

    def put_record(self, data, partition_key=None, explicit_hash_key=None, sequence_number_for_ordering=None, *,
                   bint dry_run=False):
        """Write one record.

        Parameters
        ----------
        data : bytes-like or str
            The record payload (a str is stored as its UTF-8 bytes).
        partition_key : str, optional
            1 to 256 Unicode characters; its MD5 picks the shard.  Required
            unless the stream distributes records itself (AUTO), where it is
            optional, stored as given (an empty string when missing) and
            ignored for placement.
        explicit_hash_key : str or int, optional
            A hash key in 0..2**128-1 that picks the shard instead (validated
            and ignored under AUTO).
        sequence_number_for_ordering : str, optional
            A sequence number from an earlier put on this stream.  As in
            Kinesis, it orders puts of one partition key: the new record's
            number is greater than it whenever both land in the same shard,
            or the new one lands in a child of that shard.  Numbers from
            unrelated shards are validated but imply no order.
        dry_run : bool
            Make every check (including room in the shard's log) and write
            nothing: DryRunOperationException if the put would succeed.

        Returns
        -------
        dict
            ``{"ShardId": ..., "SequenceNumber": ...}`` as boto3's PutRecord.

        Raises
        ------
        DryRunOperationException
            ``dry_run`` and the put would have succeeded.
        ValidationException, SerializationException
            Malformed key, data or hash key.
        InvalidArgumentException
            Record too large, hash key out of range, bad ordering number.
        ProvisionedThroughputExceededException
            The shard's log is full of records still inside retention.
        """
        cdef Py_ssize_t klen_bytes
        cdef const char *key
        cdef const uint8_t *dptr
        cdef Py_ssize_t dlen
        cdef Py_buffer view
        cdef bint have_view = False
        cdef uint64_t hi, lo, counter
        cdef int rc
        cdef ShardLog log
        cdef str seq
        cdef int64_t now
        cdef bint auto = self.auto_distribution
        cdef uint64_t spread = 0
        hi = lo = 0

        if not self.accepting:
            self._refresh_accepting()
        if partition_key is None and auto:
            partition_key = ""                  # keyless AUTO record: stored with an empty key
        else:
            if type(partition_key) is not str:
                _check_partition_key_type(partition_key)
            if PyUnicode_GET_LENGTH(partition_key) < 1 or PyUnicode_GET_LENGTH(partition_key) > MAX_KEY_CHARS:
                _raise_key_length("partitionKey", partition_key)
        key = PyUnicode_AsUTF8AndSize(partition_key, &klen_bytes)
        # The order below is for speed only.  The clock is read before the MD5: reading it fences
        # the pipeline (lfence before rdtsc), which after the hash would wait for all of its serial
        # ~200-cycle chain.  The hash (inline) comes next, and the work that does not need it
        # follows -- checking the data, allocating the sequence number's text -- so that the CPU
        # runs that alongside the chain rather than after it.
        now = self._now()
        if explicit_hash_key is None and not auto:
            ss_md5_key(<const uint8_t *>key, klen_bytes, &hi, &lo)
        seq = PyUnicode_New(SS_SEQ_LEN, 127)   # ASCII, filled in place below
        if type(data) is str:
            data = (<str>data).encode("utf-8")
        if type(data) is bytes:
            dptr = <const uint8_t *>PyBytes_AS_STRING(data)
            dlen = PyBytes_GET_SIZE(data)
        else:
            if data is None:
                raise _errors.ValidationException(_validation.render(
                    [_validation.Violation("null", "data", "Member must not be null")]))
            try:
                PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
            except TypeError:
                raise _errors.SerializationException(
                    f"Data must be bytes-like or str, not {type(data).__name__}") from None
            have_view = True
            dptr = <const uint8_t *>view.buf
            dlen = view.len
        try:
            if dlen + klen_bytes > self.max_record_bytes:
                self._raise_record_size(dlen, klen_bytes)
            if explicit_hash_key is not None:
                hi, lo = _parse_explicit_hash_key(explicit_hash_key)    # validated even when ignored
            if sequence_number_for_ordering is not None:
                self._check_ordering(sequence_number_for_ordering)
            if auto:
                spread = self.spread_next
                if not dry_run:
                    self.spread_next = spread + 1
            while True:
                if auto:
                    log = <ShardLog>self.open_logs[spread % <uint64_t>self.routing.size]
                else:
                    log = <ShardLog>self.open_logs[self.routing.lookup(hi, lo)]
                log.acquire()
                if log.closed:                  # resharded or deleted under us
                    log.release()
                    if not self.accepting:
                        self._refresh_accepting()
                    continue
                if dry_run:
                    rc = _dry_fits(&log.ring, 1, klen_bytes + dlen, now)
                    log.release()
                    if rc != SS_OK and not self.room_on_full:
                        self._reserve_failed(rc, log, 1, klen_bytes + dlen)
                    raise _errors.DryRunOperationException()
                rc = ss_ring_reserve(&log.ring, 1, klen_bytes, dlen, now)
                if rc != SS_OK:
                    log.release()
                    self._reserve_failed(rc, log, 1, klen_bytes + dlen)
                if dlen > NOGIL_COPY_BYTES:
                    with nogil:
                        counter = ss_ring_append(&log.ring, <const uint8_t *>key, klen_bytes, dptr, dlen, now)
                else:
                    counter = ss_ring_append(&log.ring, <const uint8_t *>key, klen_bytes, dptr, dlen, now)
                # The ring may have raised `now` to the shard's newest arrival time.
                ss_seq_format_cached(<char *>PyUnicode_DATA(seq), &log.seq_cache, log.created_s, log.shard_index,
                                     counter, ss_seq_seconds(log.ring.last_ts))
                log.release()
                result = self._put_result(log, seq)
                if self.write_signal is not None:
                    self.write_signal(log)
                if self.watch_writes:
                    self.write_countdown -= 1
                    if self.write_countdown <= 0:
                        self.write_countdown = 1024
                        self._on_writes()
                return result
        finally:
            if have_view:
                PyBuffer_Release(&view)

    cdef inline dict _put_result(self, ShardLog log, str seq):
        """put_record's ``{"ShardId", "SequenceNumber"}``.

        The previous call's dict again when nothing but this core refers to
        it any more (the caller dropped it, as a put loop does), with both
        values set anew: the way ``zip`` reuses its result tuple.  Otherwise
        a copy of the shard's two-entry template (about a third of building
        the dict key by key), which is kept for the next call.
        """
        cdef PyObject *last = <PyObject *>self.last_result  # borrowed: counts only the attribute's reference
        cdef dict result
        if self.last_result is not None and _refcount(last) == 1 and PyDict_GET_SIZE(self.last_result) == 2:
            # A caller may have changed the dict before dropping it: both values are set, and a
            # dict that no longer holds exactly the two keys is not reused.
            result = self.last_result
            PyDict_SetItem(result, "ShardId", log.shard_id)
            PyDict_SetItem(result, "SequenceNumber", seq)
            if PyDict_GET_SIZE(result) == 2:
                return result
        result = PyDict_Copy(log.put_result)
        PyDict_SetItem(result, "SequenceNumber", seq)
        self.last_result = result
        return result

    # -- put_batch core ------------------------------------------------------

    def _put_arrays(self, keys not None, data not None, ehk=None, bint simd=True, bint partial=False,
                    bint dry_run=False):
        """Append Arrow arrays of keys and payloads; the engine of put_batch and put_records.

        Parameters
        ----------
        keys : pyarrow.Array
            string or large_string, no nulls (empty strings only under AUTO:
            keyless records).
        data : pyarrow.Array
            binary/string (32- or 64-bit offsets), no nulls, same length.
        ehk : tuple of numpy arrays, optional
            ``(hi, lo, present)`` explicit hash keys; where ``present`` the
            hash key replaces the partition key's MD5.
        simd : bool
            Use the AVX2 MD5 kernel where available.
        partial : bool
            False: all or nothing (back-pressure raises and nothing is written).
            True: per shard, the records that fit are written and the rest fail
            (their counter is UINT64_MAX), as PutRecords reports them.
        dry_run : bool
            Make every check (with ``partial`` False: room in every target
            shard) and append nothing.

        Returns
        -------
        (positions, counters, routing, open_logs, arrivals) or None
            Per input row, its position in the routing snapshot used and its
            counter in that shard; the snapshot itself; per position in the
            snapshot, the arrival time (ms) of the records appended there (a
            batch's records of one shard share it).  None for a dry run that
            found nothing wrong.
        """
        cdef BinaryView kv, dv
        if not self.accepting:
            self._refresh_accepting()
        binary_view(keys, &kv)
        binary_view(data, &dv)
        cdef int64_t n = kv.length
        if dv.length != n:
            raise ValueError(f"got {n} partition keys but {dv.length} data values")
        cdef bint auto = self.auto_distribution
        # 1. Validate every record (lengths only: Arrow strings are valid UTF-8).
        self._validate_views(&kv, &dv, keys, data, auto)

        # 2. Hash keys (explicit hash keys override where present); AUTO
        # takes the next n round-robin positions instead.
        cdef uint64_t[::1] h
        cdef uint64_t[::1] l
        cdef uint64_t spread = 0
        if auto:
            spread = self.spread_next
            if not dry_run:
                self.spread_next = spread + <uint64_t>n
        else:
            hi = _pool_array(n, np.uint64)
            lo = _pool_array(n, np.uint64)
            h = hi
            l = lo
            if n:
                with nogil:
                    ss_md5_batch(kv.data, kv.offsets, kv.wide, n, &h[0], &l[0], simd)
            if ehk is not None:
                ehi, elo, present = ehk
                np.copyto(hi, ehi, where=present)
                np.copyto(lo, elo, where=present)

        positions = _pool_array(n, np.int32)
        counters = _pool_array(n, np.uint64)
        cdef int32_t[::1] pos = positions
        cdef uint64_t[::1] ctr = counters
        cdef RoutingTable routing
        cdef tuple open_logs
        cdef int64_t[::1] arr
        while True:
            routing = self.routing
            open_logs = self.open_logs
            arrivals = np.zeros(len(open_logs) + 1, np.int64)
            arr = arrivals
            if n:
                with nogil:
                    if auto:
                        _fill_spread(&pos[0], n, spread, <uint64_t>routing.size)
                    else:
                        routing.lookup_many(&h[0], &l[0], &pos[0], n)
            if dry_run:
                if self._dry_run_routed(routing, open_logs, &kv, &dv, &pos[0] if n else NULL, n, partial):
                    return None
            elif self._append_routed(routing, open_logs, &kv, &dv, &pos[0] if n else NULL,
                                     &ctr[0] if n else NULL, n, partial, &arr[0]):
                if self.write_signal is not None:
                    self.write_signal(None)
                if self.watch_writes:
                    self._on_writes()
                return positions, counters, routing, open_logs, arrivals[:len(open_logs)]
            if not self.accepting:
                self._refresh_accepting()

    cdef bint _append_routed(self, RoutingTable routing, tuple open_logs, BinaryView *kv, BinaryView *dv,
                             const int32_t *pos, uint64_t *ctr, int64_t n, bint partial,
                             int64_t *arrivals) except -1:
        """Lock, reserve and append; False if a shard closed under us (caller re-routes).

        ``arrivals[s]`` receives the arrival time stored with shard s's records.
        """
        cdef Py_ssize_t m = routing.size, s, j
        cdef int64_t i, kb, db, now
        cdef ss_ring **rings = <ss_ring **>PyMem_Malloc(m * sizeof(ss_ring *))
        cdef uint64_t *cnt = <uint64_t *>PyMem_Malloc(m * sizeof(uint64_t) * 4)
        cdef Py_ssize_t *lock_order = <Py_ssize_t *>PyMem_Malloc(m * sizeof(Py_ssize_t))
        cdef list logs_by_index
        cdef ShardLog log
        cdef bint closed = False
        cdef int rc = SS_OK
        cdef Py_ssize_t failed_shard = -1
        cdef uint64_t failed_records = 0, failed_bytes = 0
        if rings == NULL or cnt == NULL or lock_order == NULL:
            PyMem_Free(rings); PyMem_Free(cnt); PyMem_Free(lock_order)
            raise MemoryError()
        # cnt[s] records, cnt[m + s] key bytes, cnt[2m + s] data bytes, cnt[3m + s] records accepted
        cdef uint64_t *kbytes = cnt + m
        cdef uint64_t *dbytes = cnt + 2 * m
        cdef uint64_t *accept = cnt + 3 * m
        cdef Py_ssize_t nlocked = 0
        try:
            for s in range(m):
                log = <ShardLog>open_logs[s]
                rings[s] = &log.ring
            with nogil:
                for s in range(4 * m):
                    cnt[s] = 0
                for i in range(n):
                    s = pos[i]
                    cnt[s] += 1
                    kbytes[s] += bv_offset(kv, i + 1) - bv_offset(kv, i)
                    dbytes[s] += bv_offset(dv, i + 1) - bv_offset(dv, i)
            # Lock order: ascending shard index (open_logs is in hash-key order).
            order = sorted((s for s in range(m) if cnt[s]), key=lambda s: (<ShardLog>open_logs[s]).shard_index)
            for j, s in enumerate(order):
                lock_order[j] = s
            nlocked = len(order)
            now = self._now()
            # acquire() waits with the GIL released, so this cannot deadlock.
            for j in range(nlocked):
                (<ShardLog>open_logs[lock_order[j]]).acquire()
            for j in range(nlocked):
                if (<ShardLog>open_logs[lock_order[j]]).closed:
                    closed = True
            if closed:
                return False
            with nogil:
                if partial:
                    for j in range(nlocked):
                        s = lock_order[j]
                        accept[s] = _fit_prefix(rings[s], kv, dv, pos, n, s, now)
                else:
                    # Check every shard before changing any (eviction included),
                    # then reserve: after the check only malloc can fail.
                    for j in range(nlocked):
                        s = lock_order[j]
                        if not ss_ring_can_fit(rings[s], cnt[s], kbytes[s] + dbytes[s]):
                            rc = SS_FULL
                            failed_shard = s
                            break
                    for j in range(nlocked if failed_shard < 0 else 0):
                        s = lock_order[j]
                        rc = ss_ring_reserve(rings[s], cnt[s], kbytes[s], dbytes[s], now)
                        if rc != SS_OK:
                            failed_shard = s
                            break
                        accept[s] = cnt[s]
                if failed_shard < 0:
                    for i in range(n):
                        s = pos[i]
                        if accept[s]:
                            accept[s] -= 1
                            kb = bv_offset(kv, i)
                            db = bv_offset(dv, i)
                            ctr[i] = ss_ring_append(rings[s], kv.data + kb, bv_offset(kv, i + 1) - kb,
                                                    dv.data + db, bv_offset(dv, i + 1) - db, now)
                        else:
                            ctr[i] = UINT64_MAX
                    for j in range(nlocked):
                        s = lock_order[j]
                        arrivals[s] = rings[s].last_ts
            if failed_shard >= 0:
                failed_records = cnt[failed_shard]
                failed_bytes = kbytes[failed_shard] + dbytes[failed_shard]
        finally:
            for j in range(nlocked):
                (<ShardLog>open_logs[lock_order[j]]).release()
            PyMem_Free(rings)
            PyMem_Free(cnt)
            PyMem_Free(lock_order)
        if failed_shard < 0:
            return True
        # Outside the shard locks: a caller that makes room (RingFull) can flush the ring.
        self._reserve_failed(rc, <ShardLog>open_logs[failed_shard], failed_records, failed_bytes)

    cdef bint _dry_run_routed(self, RoutingTable routing, tuple open_logs, BinaryView *kv, BinaryView *dv,
                              const int32_t *pos, int64_t n, bint partial) except -1:
        """The checks of _append_routed without appending; False if a shard closed under us.

        With ``partial`` (PutRecords) a full shard fails entries, not the
        call, so only closed shards matter; otherwise every target shard must
        have room, unless the stream makes room (``room_on_full``).
        """
        cdef Py_ssize_t m = routing.size, s, j
        cdef int64_t i, now
        cdef uint64_t *cnt = <uint64_t *>PyMem_Malloc(m * sizeof(uint64_t) * 2 + 1)
        cdef uint64_t *nbytes
        cdef Py_ssize_t failed_shard = -1
        cdef list order
        cdef ShardLog log
        cdef bint closed = False
        if cnt == NULL:
            raise MemoryError()
        nbytes = cnt + m
        try:
            with nogil:
                for s in range(2 * m):
                    cnt[s] = 0
                for i in range(n):
                    s = pos[i]
                    cnt[s] += 1
                    nbytes[s] += (bv_offset(kv, i + 1) - bv_offset(kv, i)) + (bv_offset(dv, i + 1) - bv_offset(dv, i))
            order = sorted((s for s in range(m) if cnt[s]), key=lambda s: (<ShardLog>open_logs[s]).shard_index)
            now = self._now()
            for s in order:
                (<ShardLog>open_logs[s]).acquire()
            try:
                for s in order:
                    log = <ShardLog>open_logs[s]
                    if log.closed:
                        closed = True
                    elif not partial and failed_shard < 0:
                        if _dry_fits(&log.ring, cnt[s], nbytes[s], now) != SS_OK:
                            failed_shard = s
            finally:
                for s in order:
                    (<ShardLog>open_logs[s]).release()
            if closed:
                return False
            if failed_shard >= 0 and not self.room_on_full:
                self._reserve_failed(SS_FULL, <ShardLog>open_logs[failed_shard], cnt[failed_shard], nbytes[failed_shard])
            return True
        finally:
            PyMem_Free(cnt)

    def _validate_arrays(self, keys not None, data not None):
        """Check record limits of Arrow key and payload arrays as put_batch does, writing nothing."""
        cdef BinaryView kv, dv
        binary_view(keys, &kv)
        binary_view(data, &dv)
        if dv.length != kv.length:
            raise ValueError(f"got {kv.length} partition keys but {dv.length} data values")
        self._validate_views(&kv, &dv, keys, data, self.auto_distribution)

    cdef int _validate_views(self, BinaryView *kv, BinaryView *dv, object keys, object data,
                             bint allow_empty_keys=False) except -1:
        """Key lengths (1-256 characters; 0 too with ``allow_empty_keys``, keyless AUTO records) and record
        sizes, in one nogil pass; raises at the first bad row."""
        cdef int64_t i, bad_at = -1, klen, dlen
        cdef int64_t n = kv.length
        cdef int bad_kind = BAD_NONE
        cdef int64_t max_record = self.max_record_bytes
        with nogil:
            for i in range(n):
                klen = bv_offset(kv, i + 1) - bv_offset(kv, i)
                dlen = bv_offset(dv, i + 1) - bv_offset(dv, i)
                if klen < 1 and not allow_empty_keys:
                    bad_kind = BAD_KEY_SHORT
                elif klen > MAX_KEY_CHARS and (
                        klen > MAX_KEY_BYTES
                        or ss_utf8_length(kv.data + bv_offset(kv, i), klen) > MAX_KEY_CHARS):
                    bad_kind = BAD_KEY_LONG
                elif dlen > max_record:
                    bad_kind = BAD_DATA_SIZE
                elif klen + dlen > max_record:
                    bad_kind = BAD_RECORD_SIZE
                if bad_kind != BAD_NONE:
                    bad_at = i
                    break
        if bad_at >= 0:
            raise RecordRejected(_REJECTIONS[bad_kind], bad_at)
        return 0

    # -- errors ----------------------------------------------------------------

    def _raise_record_size(self, Py_ssize_t dlen, Py_ssize_t klen):
        if dlen > self.max_record_bytes:
            raise _errors.ValidationException(_validation.render([_validation.Violation(
                "'" + _validation.blob_repr(dlen) + "'", "data",
                f"Member must have length less than or equal to {self.max_record_bytes}")]))
        raise _errors.InvalidArgumentException(
            f"Record size {dlen + klen} (data {dlen} + partition key {klen} bytes) exceeds the stream's "
            f"max record size of {self.max_record_bytes} bytes")

    cdef int _reserve_failed(self, int rc, ShardLog log, uint64_t nrec, uint64_t nbytes) except -1:
        """The one translation of a failed reservation: RingFull (a status) when the stream makes room,
        else ProvisionedThroughputExceededException (or MemoryError).  Always raises."""
        if rc == SS_FULL and self.room_on_full:
            raise RingFull(log, nrec, nbytes)
        if rc == SS_FULL:
            raise ring_full_error(self.name, self.account_id, log, nrec, nbytes)
        raise MemoryError(f"could not grow the log of {log.shard_id}")


    def _on_writes(self):
        """Hook for Stream, called after writes while ``watch_writes`` is set."""

    def _check_ordering(self, sequence_number_for_ordering):
        """Hook for Stream: validate SequenceNumberForOrdering (see stream.py)."""


cdef uint64_t _fit_prefix(ss_ring *r, BinaryView *kv, BinaryView *dv, const int32_t *pos, int64_t n,
                          Py_ssize_t s, int64_t now) noexcept nogil:
    """How many of shard s's records (in input order) fit; reserves room for them."""
    cdef uint64_t nrec = 0, kb = 0, db = 0, k, d
    cdef int64_t i
    cdef uint64_t room
    # Space is counted once: trim and evict via reserve of zero, then take the prefix that fits.
    ss_ring_reserve(r, 0, 0, 0, now)
    room = r.capacity - ss_ring_footprint(r) if ss_ring_footprint(r) < r.capacity else 0
    for i in range(n):
        if pos[i] != s:
            continue
        k = bv_offset(kv, i + 1) - bv_offset(kv, i)
        d = bv_offset(dv, i + 1) - bv_offset(dv, i)
        if kb + db + k + d + 24 * (nrec + 1) > room and not r.evict_oldest:
            break
        nrec += 1
        kb += k
        db += d
    while nrec and ss_ring_reserve(r, nrec, kb, db, now) != SS_OK:
        nrec = 0
    return nrec


cdef inline int _dry_fits(ss_ring *r, uint64_t nrec, uint64_t nbytes, int64_t now) noexcept nogil:
    """SS_OK if ss_ring_reserve would find room for ``nrec`` records of ``nbytes`` (keys + data), else SS_FULL.

    Changes nothing visible: it only trims records past retention, which no
    read returns any more (reads trim them too).
    """
    cdef uint64_t need = nbytes + SS_SLOT_BYTES * nrec
    cdef uint64_t stop, evictable
    if need > r.capacity:
        return SS_FULL
    ss_ring_trim_expired(r, now)
    if ss_ring_footprint(r) + need <= r.capacity:
        return SS_OK
    if not r.evict_oldest:
        return SS_FULL
    stop = r.tail if r.tail < r.evict_limit else r.evict_limit
    if stop <= r.head:
        return SS_FULL
    evictable = (ss_ring_doff(r, stop) - ss_ring_doff(r, r.head)) + (ss_ring_koff(r, stop) - ss_ring_koff(r, r.head)) \
        + SS_SLOT_BYTES * (stop - r.head)
    return SS_OK if ss_ring_footprint(r) + need <= r.capacity + evictable else SS_FULL


cdef inline void _fill_spread(int32_t *pos, int64_t n, uint64_t start, uint64_t m) noexcept nogil:
    """pos[i] = (start + i) % m: round-robin positions without a division per row."""
    cdef int64_t i
    cdef uint64_t p = start % m
    for i in range(n):
        pos[i] = <int32_t>p
        p += 1
        if p == m:
            p = 0


cdef tuple _parse_explicit_hash_key(object value):
    cdef uint64_t hi = 0, lo = 0
    cdef bytes b
    cdef int rc
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise _errors.SerializationException(
            f"ExplicitHashKey must be a decimal string, not {type(value).__name__}")
    b = (<str>value).encode("ascii", "replace")
    rc = ss_parse_u128(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), &hi, &lo)
    if rc == -1 or len(value) > 39:
        raise _errors.ValidationException(_validation.render([_validation.Violation(
            f"'{value}'", "explicitHashKey",
            f"Member must satisfy regular expression pattern: {_validation.HASH_KEY_PATTERN}")]))
    if rc == -2:
        raise _errors.InvalidArgumentException(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            f"Specified value was {value}")
    return hi, lo


def _check_partition_key_type(key):
    if key is None:
        raise _errors.ValidationException(_validation.render(
            [_validation.Violation("null", "partitionKey", "Member must not be null")]))
    raise _errors.SerializationException(f"PartitionKey must be a str, not {type(key).__name__}")


def _raise_key_length(path, key):
    n = len(key)
    rule = ("Member must have length greater than or equal to 1" if n < 1
            else f"Member must have length less than or equal to {MAX_KEY_CHARS}")
    raise _errors.ValidationException(_validation.render([_validation.Violation(f"'{key}'", path, rule)]))


def parse_explicit_hash_key(value):
    """Validate an ExplicitHashKey (str or int) and return it as an int.

    Raises ValidationException for text that is not a decimal hash key and
    InvalidArgumentException for values above 2**128-1, with Kinesis's texts.
    """
    hi, lo = _parse_explicit_hash_key(value)
    return (hi << 64) | lo


def system_now_ms():
    """The realtime clock in ms since the epoch (what streams use without an injected clock)."""
    return ss_now_ms()
