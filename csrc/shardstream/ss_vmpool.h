/* ss_vmpool: the process-wide state of ring reservations, and a pool of freed ones.
 *
 * Why a pool
 * ----------
 * A ring filling for the first time pays a page fault per 4 KiB it writes (the
 * kernel, and on our VMs the host, back and zero the page): measured at
 * 1.5-3 us a page, about as much as writing the bytes costs in the first place.
 * Pre-faulting in bulk (MADV_POPULATE_WRITE, MAP_POPULATE) measured no cheaper
 * here: the cost is in backing the pages, not in taking the faults.  What is
 * cheap is memory the process has already touched.  So a freed ring does not
 * hand its reservation back to the kernel at once: up to a budget of resident
 * bytes (SHARDSTREAM_RING_POOL_MB, default SS_VM_POOL_DEFAULT_MB; 0 turns the
 * pool off) its whole reservation, pages and all, is parked here, and the next
 * ring to reserve takes it as is.  A new ring writes from offset 0 of each
 * array upwards, which is exactly where the old ring left its touched pages, so
 * it runs at the pre-grown rate until it outgrows them.  No remapping, no
 * syscall at all on the way in or out (beyond trimming what exceeds the budget).
 *
 * When the pool is full, the oldest parked reservations are unmapped to make room for the
 * newest (the likeliest to be wanted again).  A parked reservation keeps its first `resident`
 * bytes of each array
 * (estimated from the ring's caps and logical tails: an over-estimate where
 * DONTUNMAP left holes); what exceeds the budget is given back with
 * MADV_DONTNEED before the reservation is parked.  Rings that asked for huge
 * pages are not parked (their advice would follow the reservation).
 *
 * Why a shared state
 * ------------------
 * This header is compiled into every extension module that includes ss_ring.h,
 * each with its own copy of the statics below.  Reservations are made in one
 * module (the write path) and freed in another (ShardLog's deallocation), so a
 * ring remembers the state of the module that reserved it (ss_ring.vm_shared)
 * and both the address-space budget and the pool go through that pointer.
 *
 * Threading: the pool has its own mutex; the budget is updated atomically.
 */
#ifndef SS_VMPOOL_H
#define SS_VMPOOL_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#ifndef SS_VM_POOL_DEFAULT_MB
#define SS_VM_POOL_DEFAULT_MB 512 /* resident bytes freed rings may keep for new ones */
#endif
#define SS_VM_POOL_SLOTS 32         /* parked reservations at most */
#define SS_VM_POOL_MIN (256u << 10) /* a ring that touched less is not worth a slot */

typedef struct {
    uint8_t *base;     /* the mmap'd reservation */
    uint64_t len;      /* its length */
    uint64_t bytes;    /* reserved size of its data and key rings */
    uint64_t slots;    /* reserved slots of each slot array */
    uint64_t resident; /* bytes it keeps touched (counted against the budget) */
} ss_vm_parked;

typedef struct ss_vm_shared {
    uint64_t reserved; /* address space reserved by rings, parked ones included (atomic) */
    pthread_mutex_t lock;
    int64_t budget; /* resident bytes the pool may hold (-1: SHARDSTREAM_RING_POOL_MB not read yet) */
    uint64_t pooled;
    int n;
    ss_vm_parked parked[SS_VM_POOL_SLOTS];
} ss_vm_shared;

/* This module's state: rings reserved here point to it. */
static ss_vm_shared ss_vm_here __attribute__((unused)) = {0, PTHREAD_MUTEX_INITIALIZER, -1, 0, 0, {{0}}};

/* The pool's budget in bytes (under the lock). */
static inline uint64_t ss_vm_pool_budget(ss_vm_shared *sh)
{
    if (sh->budget < 0) {
        const char *v = getenv("SHARDSTREAM_RING_POOL_MB");
        long long mb = v && *v ? atoll(v) : SS_VM_POOL_DEFAULT_MB;
        sh->budget = mb > 0 ? (int64_t)mb << 20 : 0;
    }
    return (uint64_t)sh->budget;
}

/* Bytes of [0, touched) an array keeps within `*left` of budget (whole pages); the rest is given back. */
static inline uint64_t ss_vm_pool_trim(uint8_t *array, uint64_t touched, uint64_t *left)
{
    touched = (touched + 4095u) & ~(uint64_t)4095u;
    uint64_t keep = touched < *left ? touched : *left & ~(uint64_t)4095u;
    if (keep < touched)
        madvise(array + keep, touched - keep, MADV_DONTNEED);
    *left -= keep;
    return keep;
}

/* Remove parked[i] from the pool, keeping the rest oldest first (under the lock). */
static inline ss_vm_parked ss_vm_pool_remove(ss_vm_shared *sh, int i)
{
    ss_vm_parked p = sh->parked[i];
    memmove(&sh->parked[i], &sh->parked[i + 1], (size_t)(sh->n - i - 1) * sizeof(ss_vm_parked));
    sh->n--;
    sh->pooled -= p.resident;
    return p;
}

/* Park a freed reservation whose arrays have touched the first data/keys/slots bytes given
 * (the slot arrays each `slot_touched`), laid out at `at` as ss_vm_reserve lays them out.
 * The newest is the likeliest to be wanted again (the same workload makes the same rings), so
 * when less than half of what it touched fits in the budget, the oldest parked reservations are
 * unmapped to make room; what still does not fit is trimmed.  Returns 1 if parked (the pool owns
 * it now), 0 if the caller must unmap it. */
static inline int ss_vm_pool_park(ss_vm_shared *sh, uint8_t *base, uint64_t len, uint8_t *at, uint64_t bytes,
                                  uint64_t slots, uint64_t data_touched, uint64_t key_touched, uint64_t slot_touched)
{
    uint64_t touched = data_touched + key_touched + 3 * slot_touched;
    if (touched < SS_VM_POOL_MIN)
        return 0;
    pthread_mutex_lock(&sh->lock);
    uint64_t budget = ss_vm_pool_budget(sh);
    if (budget < SS_VM_POOL_MIN) {
        pthread_mutex_unlock(&sh->lock);
        return 0;
    }
    uint64_t want = (touched < budget ? touched : budget) / 2; /* room wanted: at least half of it */
    while (sh->n > 0 && (sh->n == SS_VM_POOL_SLOTS || budget - sh->pooled < want)) {
        ss_vm_parked old = ss_vm_pool_remove(sh, 0);
        munmap(old.base, old.len);
        __atomic_fetch_sub(&sh->reserved, old.len, __ATOMIC_RELAXED);
    }
    /* Under the lock: nothing else can see the reservation until it is parked. */
    uint64_t left = budget - sh->pooled, kept = 0;
    uint8_t *s = at + 2 * bytes;
    for (int i = 0; i < 3; i++)
        kept += ss_vm_pool_trim(s + i * slots * 8, slot_touched, &left);
    kept += ss_vm_pool_trim(at + bytes, key_touched, &left);
    kept += ss_vm_pool_trim(at, data_touched, &left);
    ss_vm_parked *p = &sh->parked[sh->n++];
    p->base = base;
    p->len = len;
    p->bytes = bytes;
    p->slots = slots;
    p->resident = kept;
    sh->pooled += kept;
    pthread_mutex_unlock(&sh->lock);
    return 1;
}

/* Take a parked reservation with room for `bytes` and `slots`, at most 4 times either (a small ring
 * does not take a large one's pages): the smallest such, the one keeping most pages among equals;
 * 0 if none. */
static inline int ss_vm_pool_take(ss_vm_shared *sh, uint64_t bytes, uint64_t slots, ss_vm_parked *out)
{
    if (!__atomic_load_n(&sh->n, __ATOMIC_RELAXED))
        return 0;
    pthread_mutex_lock(&sh->lock);
    int best = -1;
    for (int i = 0; i < sh->n; i++)
        if (sh->parked[i].bytes >= bytes && sh->parked[i].slots >= slots && sh->parked[i].bytes <= 4 * bytes &&
            sh->parked[i].slots <= 4 * slots &&
            (best < 0 || sh->parked[i].len < sh->parked[best].len ||
             (sh->parked[i].len == sh->parked[best].len && sh->parked[i].resident > sh->parked[best].resident)))
            best = i;
    if (best >= 0)
        *out = ss_vm_pool_remove(sh, best);
    pthread_mutex_unlock(&sh->lock);
    return best >= 0;
}

#endif
