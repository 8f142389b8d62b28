/* Sequence numbers: fixed-width 56-digit decimal strings.
 *
 * Layout (digit positions, most significant first):
 *
 *     [0, 2)    "49"                      layout marker; every number has 56 digits
 *     [2, 12)   shard creation, epoch s   10 digits
 *     [12, 22)  shard index               10 digits
 *     [22, 27)  stream incarnation salt   5 digits, random per CreateStream
 *     [27, 56)  per-shard record counter  29 digits, zero padded (a uint64)
 *
 * The first 27 digits are constant for a shard (its "prefix"), so formatting a
 * record's number is a copy of the prefix plus the counter.  Because every
 * number has the same width, string order, integer order and counter order
 * agree within a shard, and a child shard (created no earlier than its parent
 * closed, with a larger index) always numbers above its parents.
 */
#ifndef SS_SEQNUM_H
#define SS_SEQNUM_H

#include <stdint.h>
#include <string.h>

#define SS_SEQ_LEN 56
#define SS_SEQ_PREFIX_LEN 27
#define SS_SEQ_COUNTER_LEN 29

static const char ss_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Write `value` as exactly `width` zero-padded decimal digits ending at out+width. */
static inline void ss_format_padded(char *out, int width, uint64_t value)
{
    char *p = out + width;
    while (value >= 100 && p - out >= 2) {
        unsigned r = (unsigned)(value % 100);
        value /= 100;
        p -= 2;
        memcpy(p, ss_digit_pairs + 2 * r, 2);
    }
    while (p > out) {
        *--p = (char)('0' + value % 10);
        value /= 10;
    }
}

/* out[0:56] = prefix + 29-digit counter. */
static inline void ss_seq_format(char *out, const char *prefix, uint64_t counter)
{
    memcpy(out, prefix, SS_SEQ_PREFIX_LEN);
    ss_format_padded(out + SS_SEQ_PREFIX_LEN, SS_SEQ_COUNTER_LEN, counter);
}

/* Add one to the counter field of a formatted number in place (no overflow:
 * the 29-digit field holds any uint64 plus one). */
static inline void ss_seq_increment(char *s)
{
    char *p = s + SS_SEQ_LEN - 1;
    while (*p == '9') {
        *p-- = '0';
    }
    *p += 1;
}

/* Format `counter` into out using a cache of the last number formatted for
 * the same shard: the next counter is an in-place increment instead of a
 * 29-digit conversion.  `cached` starts as UINT64_MAX (empty). */
static inline void ss_seq_format_cached(char *out, char *cache, uint64_t *cached, const char *prefix, uint64_t counter)
{
    if (*cached != UINT64_MAX && counter == *cached + 1)
        ss_seq_increment(cache);
    else if (counter != *cached)
        ss_seq_format(cache, prefix, counter);
    *cached = counter;
    memcpy(out, cache, SS_SEQ_LEN);
}

/* Format `n` consecutive numbers counter, counter+1, ... into out (56 bytes each). */
static inline void ss_seq_format_run(char *out, const char *prefix, uint64_t counter, int64_t n)
{
    if (n <= 0)
        return;
    ss_seq_format(out, prefix, counter);
    for (int64_t i = 1; i < n; i++) {
        char *cur = out + i * SS_SEQ_LEN;
        memcpy(cur, cur - SS_SEQ_LEN, SS_SEQ_LEN);
        ss_seq_increment(cur);
    }
}

#endif
