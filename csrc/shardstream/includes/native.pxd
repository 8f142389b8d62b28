# extern declarations of the project's C headers; nothing else lives here.
from libc.stdint cimport int32_t, uint8_t, uint64_t, int64_t


cdef extern from "ss_util.h" nogil:
    int64_t ss_now_ms()
    int ss_parse_u128(const char *s, int64_t length, uint64_t *hi, uint64_t *lo)
    int64_t ss_utf8_length(const uint8_t *s, int64_t length)
    void ss_ring_read(uint8_t *dst, const uint8_t *ring, uint64_t cap, uint64_t pos, uint64_t length)
    char *ss_b64_encode(char *o, const uint8_t *s, int64_t n)


cdef extern from "ss_seqnum.h" nogil:
    enum:
        SS_SEQ_LEN
    ctypedef struct ss_seq_cache:
        uint64_t counter
        uint64_t arrival_s
    void ss_seq_cache_reset(ss_seq_cache *c)
    uint64_t ss_seq_seconds(int64_t ms)
    void ss_seq_format(char *out, uint64_t created_s, int64_t shard_index, uint64_t counter, uint64_t arrival_s)
    void ss_seq_format_cached(char *out, ss_seq_cache *c, uint64_t created_s, int64_t shard_index,
                              uint64_t counter, uint64_t arrival_s)
    void ss_seq_format_next(char *out, ss_seq_cache *c, uint64_t created_s, int64_t shard_index,
                            uint64_t counter, uint64_t arrival_s)
    void ss_seq_format_run(char *out, uint64_t created_s, int64_t shard_index, uint64_t counter,
                           const int64_t *ts, int64_t n)


cdef extern from "ss_seqnum.h" nogil:
    void ss_seq_pack(uint64_t *w, uint64_t created_s, int64_t shard_index, uint64_t counter, uint64_t arrival_s)


cdef extern from "ss_seqwords.h" nogil:
    ctypedef struct ss_seqw_cache:
        int valid
    enum:
        SS_SEQW_SLOTS
    void ss_seqw_store(uint64_t *slot, uint64_t hi, uint64_t mid, uint64_t lo)
    int ss_seqw_in_range(const uint64_t *slot)
    void ss_seqw_format(char *out, ss_seqw_cache *caches, const uint64_t *slot)


cdef extern from "ss_md5_key.h" nogil:
    void ss_md5_key(const uint8_t *key, size_t length, uint64_t *hi, uint64_t *lo)


cdef extern from "ss_md5.h" nogil:
    int ss_md5_have_avx2()
    void ss_md5_one(const uint8_t *msg, size_t length, uint8_t *out)
    void ss_md5_batch(const uint8_t *data, const void *offsets, int offsets_are_64, int64_t n,
                      uint64_t *hi, uint64_t *lo, int simd)


cdef extern from "ss_ring.h" nogil:
    enum:
        SS_OK
        SS_FULL
        SS_NOMEM
        SS_SLOT_BYTES

    ctypedef struct ss_ring:
        uint8_t *data
        uint64_t data_cap, data_head, data_tail
        uint8_t *keys
        uint64_t key_cap, key_head, key_tail
        uint64_t *doff
        uint64_t *koff
        int64_t *ts
        uint64_t slot_cap
        uint64_t head, tail
        int64_t last_ts
        int64_t head_ts
        uint64_t packed_end
        uint64_t capacity
        int64_t retention_ms
        int evict_oldest
        uint64_t evict_limit
        uint64_t visible_limit
        uint64_t evicted
        uint64_t trimmed

    uint64_t ss_ring_count(const ss_ring *r)
    uint64_t ss_ring_footprint(const ss_ring *r)
    uint64_t ss_ring_doff(const ss_ring *r, uint64_t c)
    uint64_t ss_ring_koff(const ss_ring *r, uint64_t c)
    int64_t ss_ring_ts(const ss_ring *r, uint64_t c)
    void ss_ring_init(ss_ring *r, uint64_t first_counter, uint64_t capacity, int64_t retention_ms, int evict_oldest)
    void ss_ring_free(ss_ring *r)
    void ss_ring_drop(ss_ring *r, uint64_t n)
    uint64_t ss_ring_lower_bound_ts(const ss_ring *r, int64_t t)
    uint64_t ss_ring_trim_expired(ss_ring *r, int64_t now_ms)
    int ss_ring_can_fit(const ss_ring *r, uint64_t nrec, uint64_t nbytes)
    int ss_ring_reserve(ss_ring *r, uint64_t nrec, uint64_t key_bytes, uint64_t data_bytes, int64_t now_ms)
    uint64_t ss_ring_append(ss_ring *r, const uint8_t *key, uint64_t klen, const uint8_t *data, uint64_t dlen,
                            int64_t ts)
    uint64_t ss_ring_span(const ss_ring *r, uint64_t start, uint64_t limit, uint64_t max_data_bytes, uint64_t stop)
    void ss_ring_copy_run(const ss_ring *r, uint64_t start, uint64_t n, uint8_t *data_out, int32_t *data_offsets,
                          uint8_t *key_out, int32_t *key_offsets, int64_t *ts_out)
    uint64_t ss_ring_visible_end(const ss_ring *r)


cdef extern from "ss_lock.h" nogil:
    ctypedef struct ss_mutex:
        pass
    int ss_mutex_init(ss_mutex *m)
    void ss_mutex_destroy(ss_mutex *m)
    int ss_mutex_trylock(ss_mutex *m)
    void ss_mutex_lock(ss_mutex *m)
    void ss_mutex_unlock(ss_mutex *m)
