/* ss_ring: one shard's record log in native memory.
 *
 * Layout
 * ------
 * Records are numbered by a per-shard counter that never repeats: the oldest
 * retained record has counter `head`, the next record written gets `tail`
 * (head == tail means empty).  Counter c lives in slot (c & slot_mask) of
 * three parallel arrays:
 *
 *     doff[slot]  logical offset of the record's data bytes in the data ring
 *     koff[slot]  logical offset of its partition-key bytes in the key ring
 *     ts[slot]    arrival time, ms since the epoch (non-decreasing)
 *
 * Logical offsets grow forever; a byte at logical offset p is stored at
 * p & (cap - 1) of its ring.  Lengths are not stored: record c's data is
 * [doff(c), doff(c+1)), with doff(tail) == data_tail (likewise keys).  Keys and
 * data live in separate rings so that a run of records reads out as one or two
 * memcpy calls per Arrow column.
 *
 * Capacity
 * --------
 * `footprint` counts live key and data bytes plus SS_SLOT_BYTES per record and
 * may never exceed `capacity`.  Rings and slot arrays start empty and grow
 * geometrically (powers of two) on demand, so an idle shard costs nothing.
 *
 * Memory
 * ------
 * On the first append a ring reserves address space (never RAM) for the
 * largest size each of its five arrays can reach under `capacity`: one
 * mmap(MAP_NORESERVE) holding data, keys, doff, koff and ts, each a power of
 * two, 2 MiB-aligned.  With SHARDSTREAM_RING_HUGEPAGES=1 in the environment
 * an array that grows past 2 MiB asks for transparent huge pages beyond that
 * (a small ring keeps 4 KiB pages and one mapping).  Off by default: on our
 * VMs, which hand freed memory back to the host, a huge page the host must
 * back again costs several times what 4 KiB pages do, and ingest into a new
 * stream swung between 0.85x and 0.16x of the pre-grown rate with it.
 * Pages commit on first touch.  A freed ring's reservation, touched pages and all, is parked
 * for the next ring to reserve (up to a budget of resident bytes; see ss_vmpool.h), since a
 * page the process already touched costs nothing to write again and a fresh one ~2 us.
 * Masks stay those of the current (power-of-two) size, so RAM stays near the
 * live bytes as before.  Growing from cap to ncap moves pages, not bytes: a
 * live byte at logical p moves from p & (cap-1) to p & (ncap-1), so each of
 * the (at most two) cap-aligned pieces of the live range shifts up by a
 * multiple of cap, and mremap(MREMAP_DONTUNMAP) moves its whole pages by their
 * page-table entries (the vacated range stays reserved, its pages freed).
 * Copied instead: runs under 256 KiB, and a piece's partial ends, under 2 MiB
 * each (the run is cut at 2 MiB boundaries so that huge pages move whole).
 * No reservation (the ring then uses malloc and copies to grow, as it always
 * did) under strict overcommit (vm.overcommit_memory = 2, where MAP_NORESERVE
 * would still charge the commit limit), if mmap fails (RLIMIT_AS), above
 * SS_VM_MAX_ARRAY of capacity or past the process-wide SS_VM_BUDGET; a failed
 * mremap copies that piece.
 *
 * Threading
 * ---------
 * Nothing here locks.  The owner (ShardLog) serialises every call with its
 * lock; none of these functions touches Python, so they run without the GIL.
 */
#ifndef SS_RING_H
#define SS_RING_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "ss_util.h"

#define SS_SLOT_BYTES 24
#define SS_MIN_RING 4096u
#define SS_MIN_SLOTS 256u

enum {
    SS_OK = 0,
    SS_FULL = -1,       /* back-pressure: no room for records still inside retention */
    SS_NOMEM = -2,      /* malloc failed */
};

typedef struct {
    uint8_t *data;
    uint64_t data_cap, data_head, data_tail;
    uint8_t *keys;
    uint64_t key_cap, key_head, key_tail;
    uint64_t *doff, *koff;
    int64_t *ts;
    uint64_t slot_cap;
    uint64_t head, tail;
    int64_t last_ts;
    int64_t head_ts;    /* arrival time of record `head` (INT64_MAX when empty): kept so the
                           retention check on every append does not touch the cold, oldest slot */
    uint64_t capacity;
    int64_t retention_ms;
    int evict_oldest;
    uint64_t evict_limit; /* eviction may drop only records below this counter (those already
                             persisted elsewhere); UINT64_MAX when nothing else holds them */
    uint64_t visible_limit; /* readers see only records below this counter (a durable `sync` stream
                               publishes a record once it is fsync-ed); UINT64_MAX: all of them */
    uint64_t packed_end; /* records from this counter on are plain: none of them starts with a byte that
                            could open a KPL aggregate (F3) or a compression envelope (F5); those below
                            may (records appended before this ring existed are not known) */
    uint64_t evicted;   /* records dropped by eviction (never silently: counted) */
    uint64_t trimmed;   /* records dropped because they aged past retention */
    uint8_t *vm_base;   /* the address-space reservation holding all five arrays (NULL: malloc) */
    uint64_t vm_len;
    uint64_t vm_bytes, vm_slots; /* reserved size of the data and key rings (bytes), of each slot array */
    int vm_tried;       /* the reservation was attempted (it is made once, on the first grow) */
    int vm_huge;        /* ask for huge pages past each array's first 2 MiB */
    struct ss_vm_shared *vm_shared; /* budget and pool of the module that reserved (ss_vmpool.h) */
} ss_ring;

static inline uint64_t ss_ring_count(const ss_ring *r) { return r->tail - r->head; }

static inline uint64_t ss_ring_footprint(const ss_ring *r)
{
    return (r->data_tail - r->data_head) + (r->key_tail - r->key_head) + SS_SLOT_BYTES * (r->tail - r->head);
}

static inline uint64_t ss_ring_doff(const ss_ring *r, uint64_t c)
{
    return c == r->tail ? r->data_tail : r->doff[c & (r->slot_cap - 1)];
}

static inline uint64_t ss_ring_koff(const ss_ring *r, uint64_t c)
{
    return c == r->tail ? r->key_tail : r->koff[c & (r->slot_cap - 1)];
}

static inline int64_t ss_ring_ts(const ss_ring *r, uint64_t c) { return r->ts[c & (r->slot_cap - 1)]; }

static inline void ss_ring_init(ss_ring *r, uint64_t first_counter, uint64_t capacity, int64_t retention_ms,
                                int evict_oldest)
{
    memset(r, 0, sizeof(*r));
    r->head = r->tail = first_counter;
    r->packed_end = first_counter;
    r->capacity = capacity;
    r->retention_ms = retention_ms;
    r->evict_oldest = evict_oldest;
    r->evict_limit = UINT64_MAX;
    r->visible_limit = UINT64_MAX;
    r->last_ts = INT64_MIN;
    r->head_ts = INT64_MAX;
}

static inline void ss_vm_release(ss_ring *r);

static inline void ss_ring_free(ss_ring *r)
{
    if (r->vm_base) {
        ss_vm_release(r);
    } else {
        free(r->data);
        free(r->keys);
        free(r->doff);
        free(r->koff);
        free(r->ts);
    }
    r->data = r->keys = NULL;
    r->doff = r->koff = NULL;
    r->ts = NULL;
    r->data_cap = r->key_cap = r->slot_cap = 0;
}

/* The counter after the last record readers may see: tail, or the visible limit if lower
 * (never below head). */
static inline uint64_t ss_ring_visible_end(const ss_ring *r)
{
    uint64_t end = r->tail < r->visible_limit ? r->tail : r->visible_limit;
    return end > r->head ? end : r->head;
}

/* Drop the `n` oldest records. */
static inline void ss_ring_drop(ss_ring *r, uint64_t n)
{
    if (n == 0)
        return;
    uint64_t c = r->head + n;
    r->data_head = ss_ring_doff(r, c);
    r->key_head = ss_ring_koff(r, c);
    r->head = c;
    r->head_ts = c < r->tail ? ss_ring_ts(r, c) : INT64_MAX;
}

/* First counter in [head, tail] whose arrival time is >= t (tail if none). */
static inline uint64_t ss_ring_lower_bound_ts(const ss_ring *r, int64_t t)
{
    uint64_t lo = r->head, hi = r->tail;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ss_ring_ts(r, mid) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Drop records that arrived before now - retention; returns how many. */
static inline uint64_t ss_ring_trim_expired(ss_ring *r, int64_t now_ms)
{
    if (r->head_ts >= now_ms - r->retention_ms)
        return 0;
    uint64_t n = ss_ring_lower_bound_ts(r, now_ms - r->retention_ms) - r->head;
    ss_ring_drop(r, n);
    r->trimmed += n;
    return n;
}

static inline uint64_t ss_next_pow2(uint64_t v, uint64_t floor)
{
    uint64_t p = floor;
    while (p < v)
        p <<= 1;
    return p;
}


/* -- address-space reservation (see "Memory" above) ------------------------------------ */

#define SS_VM_PAGE 4096u
#define SS_VM_HUGE (2u << 20)
#ifndef SS_VM_HUGEPAGES_DEFAULT
#define SS_VM_HUGEPAGES_DEFAULT 0 /* 4 KiB pages unless SHARDSTREAM_RING_HUGEPAGES=1 (see "Memory") */
#endif
#define SS_VM_REMAP_MIN (256u << 10) /* shorter runs are copied: remapping splits the mapping */
#define SS_VM_MAX_ARRAY (1ull << 38) /* no reservation for a capacity above 256 GiB */
#define SS_VM_BUDGET (1ull << 45)    /* address space all rings of a process may reserve: 32 TiB */

#include "ss_vmpool.h" /* the budget's counter and the pool of freed reservations */

static int ss_vm_strict = -1; /* vm.overcommit_memory == 2 (read once; -1: not yet) */

static inline int ss_vm_overcommit_strict(void)
{
    int v = __atomic_load_n(&ss_vm_strict, __ATOMIC_RELAXED);
    if (v < 0) {
        char c = '0';
        FILE *f = fopen("/proc/sys/vm/overcommit_memory", "r");
        if (f) {
            if (fread(&c, 1, 1, f) != 1)
                c = '0';
            fclose(f);
        }
        v = c == '2';
        __atomic_store_n(&ss_vm_strict, v, __ATOMIC_RELAXED);
    }
    return v;
}

/* Where ss_vm_reserve put the arrays in a reservation at `base`: its first 2 MiB boundary. */
static inline uint8_t *ss_vm_arrays(uint8_t *base)
{
    return (uint8_t *)(((uintptr_t)base + SS_VM_HUGE - 1) & ~(uintptr_t)(SS_VM_HUGE - 1));
}

/* Give the reservation back: parked in the pool with its touched pages (for the next ring to
 * reserve, see ss_vmpool.h) or unmapped.  Each array touched [0, min(cap, logical tail)) at most. */
static inline void ss_vm_release(ss_ring *r)
{
    ss_vm_shared *sh = r->vm_shared;
    uint64_t data = r->data_tail < r->data_cap ? r->data_tail : r->data_cap;
    uint64_t keys = r->key_tail < r->key_cap ? r->key_tail : r->key_cap;
    uint64_t slots = (r->tail < r->slot_cap ? r->tail : r->slot_cap) * 8;
    if (r->vm_huge || !ss_vm_pool_park(sh, r->vm_base, r->vm_len, r->data, r->vm_bytes, r->vm_slots, data, keys,
                                       slots)) {
        munmap(r->vm_base, r->vm_len);
        __atomic_fetch_sub(&sh->reserved, r->vm_len, __ATOMIC_RELAXED);
    }
    r->vm_base = NULL;
    r->vm_len = 0;
}

/* Whether rings ask for huge pages: SHARDSTREAM_RING_HUGEPAGES=1 / 0 (read at each reservation). */
static inline int ss_vm_want_huge(void)
{
    const char *v = getenv("SHARDSTREAM_RING_HUGEPAGES");
    return v ? v[0] == '1' : SS_VM_HUGEPAGES_DEFAULT;
}

/* Ask for huge pages on [at + 2 MiB, at + len): a ring that stays under 2 MiB keeps 4 KiB pages. */
static inline void ss_vm_advise(uint8_t *at, uint64_t len)
{
#ifdef MADV_HUGEPAGE
    if (len > SS_VM_HUGE)
        madvise(at + SS_VM_HUGE, len - SS_VM_HUGE, MADV_HUGEPAGE); /* a hint: failure is harmless */
#else
    (void)at;
    (void)len;
#endif
}

/* An array of `reserved` bytes grew from cap to ncap bytes: the first time it passes 2 MiB, ask for
 * huge pages beyond that (not before: each madvise splits the mapping, and a small ring keeps one). */
static inline void ss_vm_grown(int huge, uint8_t *base, uint64_t reserved, uint64_t cap, uint64_t ncap)
{
    if (huge && cap <= SS_VM_HUGE && ncap > SS_VM_HUGE)
        ss_vm_advise(base, reserved);
}

/* Reserve the five arrays of an empty ring (no storage yet): a parked reservation if the pool
 * has one that fits, else a new mapping; on failure leave it to malloc. */
static inline void ss_vm_reserve(ss_ring *r)
{
    r->vm_tried = 1;
    if (r->capacity > SS_VM_MAX_ARRAY || sizeof(void *) < 8 || ss_vm_overcommit_strict())
        return;
    ss_vm_shared *sh = &ss_vm_here;
    uint64_t nbytes = ss_next_pow2(r->capacity, SS_MIN_RING);
    uint64_t slots = ss_next_pow2(r->capacity / SS_SLOT_BYTES, SS_MIN_SLOTS);
    ss_vm_parked p;
    if (ss_vm_pool_take(sh, nbytes, slots, &p)) {
        nbytes = p.bytes;
        slots = p.slots;
    } else {
        p.len = 2 * nbytes + 3 * slots * 8 + SS_VM_HUGE; /* + slack to align the arrays to 2 MiB */
        if (__atomic_add_fetch(&sh->reserved, p.len, __ATOMIC_RELAXED) > SS_VM_BUDGET) {
            __atomic_fetch_sub(&sh->reserved, p.len, __ATOMIC_RELAXED);
            return;
        }
        void *m = mmap(NULL, p.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            __atomic_fetch_sub(&sh->reserved, p.len, __ATOMIC_RELAXED);
            return;
        }
        p.base = (uint8_t *)m;
    }
    r->vm_shared = sh;
    r->vm_base = p.base;
    r->vm_len = p.len;
    r->vm_bytes = nbytes;
    r->vm_slots = slots;
    uint8_t *at = ss_vm_arrays(p.base);
    /* Largest arrays first: each stays aligned to min(its size, 2 MiB). */
    r->data = at;
    r->keys = at + nbytes;
    uint8_t *s = at + 2 * nbytes;
    r->doff = (uint64_t *)s;
    r->koff = (uint64_t *)(s + slots * 8);
    r->ts = (int64_t *)(s + 2 * slots * 8);
    r->vm_huge = ss_vm_want_huge(); /* advised when an array first grows past 2 MiB (see ss_vm_grown) */
}

/* Move bytes [at, at + len) of a reserved array up by `delta` (a multiple of 4096, the destination
 * unused): whole pages by remapping them, the partial pages at the ends by copying.  When delta is a
 * multiple of 2 MiB the remapped run is cut at 2 MiB boundaries, so that huge pages move whole
 * (a run cut inside one would split it): then the ends copied are under 2 MiB each. */
static inline void ss_vm_shift(uint8_t *base, uint64_t at, uint64_t len, uint64_t delta)
{
    uint64_t unit = delta % SS_VM_HUGE == 0 ? SS_VM_HUGE : SS_VM_PAGE;
    uint64_t lo = (at + unit - 1) & ~(unit - 1), hi = (at + len) & ~(unit - 1);
#if defined(MREMAP_MAYMOVE) && defined(MREMAP_FIXED) && defined(MREMAP_DONTUNMAP)
    if (hi >= lo + SS_VM_REMAP_MIN && delta % SS_VM_PAGE == 0 &&
        mremap(base + lo, hi - lo, hi - lo, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, base + lo + delta) !=
            MAP_FAILED) {
        if (lo > at)
            memcpy(base + at + delta, base + at, lo - at);
        if (at + len > hi)
            memcpy(base + hi + delta, base + hi, at + len - hi);
        return;
    }
#endif
    memcpy(base + at + delta, base + at, len);
}

/* Grow a reserved byte array from cap to ncap (powers of two, ncap > cap) holding the logical
 * range [head, tail) (tail - head <= cap): p moves from p & (cap-1) to p & (ncap-1). */
static inline void ss_vm_regrow(uint8_t *base, uint64_t cap, uint64_t ncap, uint64_t head, uint64_t tail)
{
    while (head < tail) {
        uint64_t end = (head | (cap - 1)) + 1; /* the next multiple of cap */
        if (end > tail)
            end = tail;
        uint64_t from = head & (cap - 1), to = head & (ncap - 1);
        if (to != from)
            ss_vm_shift(base, from, end - head, to - from);
        head = end;
    }
}

/* Grow a byte ring so that it can hold `need` live bytes: in place within a reservation of
 * `reserved` bytes, else (reserved == 0) by malloc and copy. */
static inline int ss_ring_grow_bytes(uint8_t **ring, uint64_t *cap, uint64_t head, uint64_t tail, uint64_t need,
                                     uint64_t reserved, int huge)
{
    if (need <= *cap)
        return SS_OK;
    uint64_t ncap = ss_next_pow2(need, *cap ? *cap * 2 : SS_MIN_RING);
    if (reserved) {
        if (ncap > reserved)
            return SS_NOMEM; /* cannot happen: footprint <= capacity bounds every array */
        ss_vm_grown(huge, *ring, reserved, *cap, ncap);
        if (*cap && tail > head)
            ss_vm_regrow(*ring, *cap, ncap, head, tail);
        *cap = ncap;
        return SS_OK;
    }
    uint8_t *n = (uint8_t *)malloc(ncap);
    if (!n)
        return SS_NOMEM;
    if (tail > head)
        ss_ring_transfer(n, ncap, *ring, *cap, head, tail - head);
    free(*ring);
    *ring = n;
    *cap = ncap;
    return SS_OK;
}

static inline int ss_ring_grow_slots(ss_ring *r, uint64_t need)
{
    if (need <= r->slot_cap)
        return SS_OK;
    uint64_t ncap = ss_next_pow2(need, r->slot_cap ? r->slot_cap * 2 : SS_MIN_SLOTS);
    if (r->vm_base) {
        if (ncap > r->vm_slots)
            return SS_NOMEM; /* cannot happen: footprint <= capacity bounds every array */
        ss_vm_grown(r->vm_huge, (uint8_t *)r->doff, r->vm_slots * 8, r->slot_cap * 8, ncap * 8);
        ss_vm_grown(r->vm_huge, (uint8_t *)r->koff, r->vm_slots * 8, r->slot_cap * 8, ncap * 8);
        ss_vm_grown(r->vm_huge, (uint8_t *)r->ts, r->vm_slots * 8, r->slot_cap * 8, ncap * 8);
        if (r->slot_cap && r->tail > r->head) {
            ss_vm_regrow((uint8_t *)r->doff, r->slot_cap * 8, ncap * 8, r->head * 8, r->tail * 8);
            ss_vm_regrow((uint8_t *)r->koff, r->slot_cap * 8, ncap * 8, r->head * 8, r->tail * 8);
            ss_vm_regrow((uint8_t *)r->ts, r->slot_cap * 8, ncap * 8, r->head * 8, r->tail * 8);
        }
        r->slot_cap = ncap;
        return SS_OK;
    }
    uint64_t *nd = (uint64_t *)malloc(ncap * sizeof(uint64_t));
    uint64_t *nk = (uint64_t *)malloc(ncap * sizeof(uint64_t));
    int64_t *nt = (int64_t *)malloc(ncap * sizeof(int64_t));
    if (!nd || !nk || !nt) {
        free(nd);
        free(nk);
        free(nt);
        return SS_NOMEM;
    }
    uint64_t om = r->slot_cap - 1, nm = ncap - 1;
    for (uint64_t c = r->head; c < r->tail; c++) {
        nd[c & nm] = r->doff[c & om];
        nk[c & nm] = r->koff[c & om];
        nt[c & nm] = r->ts[c & om];
    }
    free(r->doff);
    free(r->koff);
    free(r->ts);
    r->doff = nd;
    r->koff = nk;
    r->ts = nt;
    r->slot_cap = ncap;
    return SS_OK;
}

/* Whether `nrec` records holding `nbytes` key+data bytes could ever fit. */
static inline int ss_ring_can_fit(const ss_ring *r, uint64_t nrec, uint64_t nbytes)
{
    return nbytes + SS_SLOT_BYTES * nrec <= r->capacity;
}

/* The slow half of ss_ring_reserve: trim, evict, grow. */
static int ss_ring_reserve_slow(ss_ring *r, uint64_t nrec, uint64_t key_bytes, uint64_t data_bytes, int64_t now_ms);

/* Make room for nrec records with the given key and data byte totals: trim
 * expired records, then (if the ring evicts) drop the oldest, then grow the
 * storage.  On SS_FULL nothing but expired records has been dropped.  The
 * common case (nothing expired, room in every array) is a few compares. */
static inline int ss_ring_reserve(ss_ring *r, uint64_t nrec, uint64_t key_bytes, uint64_t data_bytes, int64_t now_ms)
{
    if (r->head_ts >= now_ms - r->retention_ms &&
        ss_ring_footprint(r) + key_bytes + data_bytes + SS_SLOT_BYTES * nrec <= r->capacity &&
        r->data_tail - r->data_head + data_bytes <= r->data_cap &&
        r->key_tail - r->key_head + key_bytes <= r->key_cap &&
        r->tail - r->head + nrec <= r->slot_cap)
        return SS_OK;
    return ss_ring_reserve_slow(r, nrec, key_bytes, data_bytes, now_ms);
}

static int ss_ring_reserve_slow(ss_ring *r, uint64_t nrec, uint64_t key_bytes, uint64_t data_bytes, int64_t now_ms)
{
    uint64_t need = key_bytes + data_bytes + SS_SLOT_BYTES * nrec;
    ss_ring_trim_expired(r, now_ms);
    if (ss_ring_footprint(r) + need > r->capacity) {
        if (!r->evict_oldest || need > r->capacity)
            return SS_FULL;
        /* Evict the oldest records: the fewest from the head that free `over` bytes (all of them
         * below `stop` if those are too few).  Evict at least 1/64 of the capacity at a time, so
         * that the search stays off most appends.  What records [head, c) hold is a difference
         * of offsets, growing with c, so c is found by bisection: ~20 cold slots read, not one
         * per record evicted. */
        uint64_t must = ss_ring_footprint(r) + need - r->capacity, over = must;
        uint64_t stop = r->tail < r->evict_limit ? r->tail : r->evict_limit;
        if (over < r->capacity / 64)
            over = r->capacity / 64;
        uint64_t h = r->head, c = stop, d0 = ss_ring_doff(r, h), k0 = ss_ring_koff(r, h);
#define SS_HELD(x) ((ss_ring_doff(r, x) - d0) + (ss_ring_koff(r, x) - k0) + SS_SLOT_BYTES * ((x) - h))
        if (stop > h && SS_HELD(stop) > over) {
            uint64_t lo = h; /* SS_HELD(lo) < over <= SS_HELD(c) */
            while (c - lo > 1) {
                uint64_t mid = lo + (c - lo) / 2;
                if (SS_HELD(mid) >= over)
                    c = mid;
                else
                    lo = mid;
            }
        }
        uint64_t freed = stop > h ? SS_HELD(c) : 0;
#undef SS_HELD
        if (stop <= h)
            c = h;
        r->evicted += c - r->head;
        ss_ring_drop(r, c - r->head);
        if (freed < must)
            return SS_FULL; /* the rest is not yet persisted: the owner must flush first */
    }
    if (!r->vm_tried && !r->data && !r->keys && !r->slot_cap)
        ss_vm_reserve(r);
    uint64_t reserved = r->vm_base ? r->vm_bytes : 0;
    int rc = ss_ring_grow_bytes(&r->data, &r->data_cap, r->data_head, r->data_tail,
                                r->data_tail - r->data_head + data_bytes, reserved, r->vm_huge);
    if (rc == SS_OK)
        rc = ss_ring_grow_bytes(&r->keys, &r->key_cap, r->key_head, r->key_tail, r->key_tail - r->key_head + key_bytes,
                                reserved, r->vm_huge);
    if (rc == SS_OK)
        rc = ss_ring_grow_slots(r, r->tail - r->head + nrec);
    return rc;
}

/* What readers look for to take records apart (shardstream.unpack): a KPL aggregate begins
 * with F3 89 9A C2, a compression envelope with F5 "SSC", and neither is shorter than 6 bytes. */
#define SS_PACKED_MIN_BYTES 6
static inline int ss_packed_magic(const uint8_t *data)
{
    if (data[0] == 0xF3)
        return data[1] == 0x89 && data[2] == 0x9A && data[3] == 0xC2;
    return data[0] == 0xF5 && data[1] == 'S' && data[2] == 'S' && data[3] == 'C';
}

/* Append one record into space made by ss_ring_reserve; returns its counter. */
static inline uint64_t ss_ring_append(ss_ring *r, const uint8_t *key, uint64_t klen, const uint8_t *data, uint64_t dlen,
                                      int64_t ts)
{
    uint64_t c = r->tail, slot = c & (r->slot_cap - 1);
    if (ts < r->last_ts)
        ts = r->last_ts; /* arrival times never go backwards within a shard */
    r->last_ts = ts;
    if (r->head == c)
        r->head_ts = ts; /* the ring was empty: this record is the oldest */
    r->doff[slot] = r->data_tail;
    r->koff[slot] = r->key_tail;
    r->ts[slot] = ts;
    if (dlen) {
        if (dlen >= SS_PACKED_MIN_BYTES && ss_packed_magic(data))
            r->packed_end = c + 1;
        ss_ring_write(r->data, r->data_cap, r->data_tail, data, dlen);
    }
    ss_ring_write(r->keys, r->key_cap, r->key_tail, key, klen);
    r->data_tail += dlen;
    r->key_tail += klen;
    r->tail = c + 1;
    return c;
}

/* Copy records [start, start+n) out of the ring (all present): their data and keys, their
 * offsets rebased to 0 (n + 1 each, the last the total), their arrival times.  What both
 * readers of a run do, the Arrow batch (_arrow_encode) and the segment message (_ipc_encode). */
static inline void ss_ring_copy_run(const ss_ring *r, uint64_t start, uint64_t n, uint8_t *data_out,
                                    int32_t *data_offsets, uint8_t *key_out, int32_t *key_offsets, int64_t *ts_out)
{
    uint64_t d0 = ss_ring_doff(r, start), k0 = ss_ring_koff(r, start);
    uint64_t dbytes = ss_ring_doff(r, start + n) - d0, kbytes = ss_ring_koff(r, start + n) - k0;
    if (dbytes)
        ss_ring_read(data_out, r->data, r->data_cap, d0, dbytes);
    ss_ring_read(key_out, r->keys, r->key_cap, k0, kbytes);
    /* The slot arrays are rings too: walk them in at most two straight runs. */
    uint64_t a = start & (r->slot_cap - 1), first = r->slot_cap - a;
    if (first > n)
        first = n;
    for (uint64_t j = 0; j < first; j++) {
        data_offsets[j] = (int32_t)(r->doff[a + j] - d0);
        key_offsets[j] = (int32_t)(r->koff[a + j] - k0);
    }
    for (uint64_t j = first; j < n; j++) {
        data_offsets[j] = (int32_t)(r->doff[j - first] - d0);
        key_offsets[j] = (int32_t)(r->koff[j - first] - k0);
    }
    data_offsets[n] = (int32_t)dbytes;
    key_offsets[n] = (int32_t)kbytes;
    memcpy(ts_out, r->ts + a, first * 8);
    memcpy(ts_out + first, r->ts, (n - first) * 8);
}

/* The largest n <= limit such that records [start, start+n), all below `stop` (at most
 * tail), hold at most max_data_bytes of data (at least one record is always allowed). */
static inline uint64_t ss_ring_span(const ss_ring *r, uint64_t start, uint64_t limit, uint64_t max_data_bytes,
                                    uint64_t stop)
{
    if (stop > r->tail)
        stop = r->tail;
    if (start >= stop || start < r->head)
        return 0; /* nothing written (or published) there yet, or already trimmed */
    uint64_t end = stop - start < limit ? stop : start + limit;
    uint64_t base = ss_ring_doff(r, start);
    if (ss_ring_doff(r, end) - base <= max_data_bytes)
        return end - start;
    uint64_t lo = start + 1, hi = end; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ss_ring_doff(r, mid) - base <= max_data_bytes)
            lo = mid;
        else
            hi = mid;
    }
    return lo - start;
}

#endif
