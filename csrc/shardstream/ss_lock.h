/* The shard lock: a plain pthread mutex.
 *
 * CPython's PyThread lock reads the monotonic clock even for a non-blocking
 * try (~150 instructions per acquire); an uncontended pthread mutex costs a
 * compare-and-swap.  Waiting always happens with the GIL released (see
 * ShardLog.acquire), so holding one of these while taking the GIL is safe. */
#ifndef SS_LOCK_H
#define SS_LOCK_H

#include <pthread.h>

typedef pthread_mutex_t ss_mutex;

static inline int ss_mutex_init(ss_mutex *m) { return pthread_mutex_init(m, NULL); }
static inline void ss_mutex_destroy(ss_mutex *m) { pthread_mutex_destroy(m); }
static inline int ss_mutex_trylock(ss_mutex *m) { return pthread_mutex_trylock(m) == 0; }
static inline void ss_mutex_lock(ss_mutex *m) { pthread_mutex_lock(m); }
static inline void ss_mutex_unlock(ss_mutex *m) { pthread_mutex_unlock(m); }

#endif
