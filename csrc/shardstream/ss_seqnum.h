/* Sequence numbers in AWS's (version 2) layout: the decimal form of 47 hex digits.
 *
 * Hex digit positions, most significant first (188 bits in all):
 *
 *     0        "2"                             bits 184..187
 *     1..9     shard creation, epoch s         bits 148..183 (36 bits)
 *     10       low hex digit of the shard index bits 144..147
 *     11..26   per-shard record counter        bits  80..143 (64 bits, top bit 0)
 *     27..28   "00"                            bits  72..79
 *     29..37   record arrival, epoch s         bits  36..71  (36 bits)
 *     38..45   shard index (32 bits)           bits   4..35
 *     46       "2" (layout version)            bits   0..3
 *
 * Such a value lies in [2**185, 1.5 * 2**185), so it always has 56 decimal
 * digits: string order and integer order agree, and within a shard both
 * follow the counter (arrival time is below it).
 *
 * Formatting keeps the value as base-10**8 limbs.  A full conversion divides
 * the 188-bit number by 10**8 seven times (32-bit divisor, so the compiler
 * turns each step into multiplications); the next counter of the same shard
 * and arrival second is the previous value plus 2**80 = 1 20892581 96146291
 * 74706176: four limb additions (with carries), each changed limb rendered
 * with a few multiplications in one 64-bit word (SWAR) and stored whole.
 */
#ifndef SS_SEQNUM_H
#define SS_SEQNUM_H

#include <stdint.h>
#include <string.h>

#define SS_SEQ_LEN 56
#define SS_SEQ_LIMBS 7
#define SS_SEQ_LIMB_BASE 100000000u
#define SS_SEQ_MAX_SECONDS ((uint64_t)0xFFFFFFFFFull)   /* 36 bits */

static const char ss_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* 2**80 in base-10**8 limbs, least significant first: 1 20892581 96146291 74706176. */
static const uint32_t ss_seq_step[4] = {74706176u, 96146291u, 20892581u, 1u};

/* The formatting state of one shard: the last number formatted. */
typedef struct {
    uint32_t limb[SS_SEQ_LIMBS];  /* limb[0] is the least significant */
    uint64_t counter;             /* UINT64_MAX: empty */
    uint64_t arrival_s;
    char text[SS_SEQ_LEN];
    int low_stale;                /* text of limbs 0..3 is out of date: the last step wrote it to `out` only */
} ss_seq_cache;

static inline void ss_seq_cache_reset(ss_seq_cache *c)
{
    c->counter = UINT64_MAX;
    c->arrival_s = UINT64_MAX;
    c->low_stale = 0;
}

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

/* Eight digits of v < 10**8 as the 8 bytes of a word (in memory order): the four radix-100 and
 * then the eight radix-10 digits are split in parallel lanes of one 64-bit word (multiplying by
 * 10486 / 2**20 divides a lane below 10**4 by 100, by 103 / 2**10 a lane below 100 by 10). */
static inline uint64_t ss_render8_word(uint32_t v)
{
    uint64_t merged = (uint64_t)(v / 10000u) | ((uint64_t)(v % 10000u) << 32);
    uint64_t top = ((merged * 10486u) >> 20) & ((0x7Full << 32) | 0x7Full);
    uint64_t hundreds = ((merged - 100u * top) << 16) + top;
    uint64_t tens = ((hundreds * 103u) >> 10) & ((0xFull << 48) | (0xFull << 32) | (0xFull << 16) | 0xFull);
    tens += (hundreds - 10u * tens) << 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    tens = __builtin_bswap64(tens);
#endif
    return tens + 0x3030303030303030ull;
}

/* Eight digits of v < 10**8 at out[0:8]. */
static inline void ss_render8(char *out, uint32_t v)
{
    uint64_t w = ss_render8_word(v);
    memcpy(out, &w, 8);
}

/* Add one to the decimal text at out[pos] (carrying into the digits before it). */
static inline void ss_text_increment(char *out, int pos)
{
    char *p = out + pos;
    while (*p == '9')
        *p-- = '0';
    *p += 1;
}

static inline uint64_t ss_seq_seconds(int64_t ms)
{
    if (ms < 0)
        return 0;
    uint64_t s = (uint64_t)ms / 1000u;
    return s > SS_SEQ_MAX_SECONDS ? SS_SEQ_MAX_SECONDS : s;
}

/* The 188-bit value of the fields as three 64-bit words, most significant first. */
static inline void ss_seq_pack(uint64_t w[3], uint64_t created_s, int64_t shard_index, uint64_t counter,
                               uint64_t arrival_s)
{
    uint32_t index = (uint32_t)shard_index;
    w[0] = ((uint64_t)2 << 56) | ((created_s & SS_SEQ_MAX_SECONDS) << 20) | ((uint64_t)(index & 0xF) << 16)
           | (counter >> 48);
    w[1] = (counter << 16) | ((arrival_s & SS_SEQ_MAX_SECONDS) >> 28);
    w[2] = ((arrival_s & 0xFFFFFFFull) << 36) | ((uint64_t)index << 4) | 2u;
}

/* Full conversion of the value hi:mid:lo (below 10**56) into c's limbs and text. */
static inline void ss_seq_convert_words(ss_seq_cache *c, uint64_t hi, uint64_t mid, uint64_t lo)
{
    uint32_t w[6]; /* 192 bits, w[0] most significant */
    w[0] = (uint32_t)(hi >> 32); w[1] = (uint32_t)hi;
    w[2] = (uint32_t)(mid >> 32); w[3] = (uint32_t)mid;
    w[4] = (uint32_t)(lo >> 32); w[5] = (uint32_t)lo;
    for (int k = 0; k < SS_SEQ_LIMBS; k++) {
        uint64_t rem = 0;
        for (int i = 0; i < 6; i++) {
            uint64_t cur = (rem << 32) | w[i];
            w[i] = (uint32_t)(cur / SS_SEQ_LIMB_BASE);
            rem = cur % SS_SEQ_LIMB_BASE;
        }
        c->limb[k] = (uint32_t)rem;
        ss_render8(c->text + (SS_SEQ_LIMBS - 1 - k) * 8, (uint32_t)rem);
    }
    c->low_stale = 0;
}

/* Full conversion of the fields into c (limbs and text). */
static inline void ss_seq_convert(ss_seq_cache *c, uint64_t created_s, int64_t shard_index, uint64_t counter,
                                  uint64_t arrival_s)
{
    uint64_t w[3];
    ss_seq_pack(w, created_s, shard_index, counter, arrival_s);
    ss_seq_convert_words(c, w[0], w[1], w[2]);
    c->counter = counter;
    c->arrival_s = arrival_s;
}

/* limb += add + *carry, in base 10**8; *carry becomes the carry out.  Returns the new limb. */
static inline uint32_t ss_seq_add_limb(uint32_t *limb, uint32_t add, uint32_t *carry)
{
    uint32_t v = *limb + add + *carry;
    *carry = v >= SS_SEQ_LIMB_BASE;
    if (*carry)
        v -= SS_SEQ_LIMB_BASE;
    *limb = v;
    return v;
}

/* Add 2**80 (counter + 1) to the value in c, limb by limb (the top limb of 2**80 is 1), and
 * render the limbs that change: limbs 0..3 always, into `out` (then c->text keeps stale digits
 * there until ss_seq_refresh_low) or, when NULL, into c->text, each as one 8-byte store; a carry
 * out of limb 3 (once in 10**8 steps) re-renders the limbs above it in c->text.  Whole-word
 * stores matter: the text is copied out right after, and a load that spans a narrower, still-pending store (a digit incremented in place) cannot be forwarded
 * from the store buffer and stalls until the store retires (~10% of a put_record once). */
static inline void ss_seq_step_to(ss_seq_cache *c, char *out)
{
    uint32_t carry = 0;
    for (int k = 0; k < 4; k++) {
        uint64_t w = ss_render8_word(ss_seq_add_limb(&c->limb[k], ss_seq_step[k], &carry));
        memcpy((out ? out : c->text) + (SS_SEQ_LIMBS - 1 - k) * 8, &w, 8);
    }
    c->low_stale = out != NULL;
    for (int k = 4; carry && k < SS_SEQ_LIMBS; k++)
        ss_render8(c->text + (SS_SEQ_LIMBS - 1 - k) * 8, ss_seq_add_limb(&c->limb[k], 0, &carry));
    c->counter += 1;
}

/* Bring the text of limbs 0..3 up to date after steps that wrote them elsewhere. */
static inline void ss_seq_refresh_low(ss_seq_cache *c)
{
    if (!c->low_stale)
        return;
    for (int k = 0; k < 4; k++)
        ss_render8(c->text + (SS_SEQ_LIMBS - 1 - k) * 8, c->limb[k]);
    c->low_stale = 0;
}

/* Add 2**80 to the value in c, in c->text: limbs 0..2 rendered, limb 3 (the top limb of 2**80
 * is 1, plus the carry) incremented as text; a limb 3 about to carry takes ss_seq_step_to.
 * Cheaper than ss_seq_step_to when the whole text is copied out after (batch formatting). */
static inline void ss_seq_step_counter(ss_seq_cache *c)
{
    if (c->limb[3] >= SS_SEQ_LIMB_BASE - 2) {
        ss_seq_step_to(c, NULL);
        return;
    }
    ss_seq_refresh_low(c);
    uint32_t carry = 0;
    for (int k = 0; k < 3; k++)
        ss_render8(c->text + (SS_SEQ_LIMBS - 1 - k) * 8, ss_seq_add_limb(&c->limb[k], ss_seq_step[k], &carry));
    c->limb[3] += 1 + carry;
    ss_text_increment(c->text, (SS_SEQ_LIMBS - 3) * 8 - 1);
    if (carry)
        ss_text_increment(c->text, (SS_SEQ_LIMBS - 3) * 8 - 1);
    c->counter += 1;
}

/* ss_seq_format_cached for rows formatted one after another into a column: the same numbers. */
static inline void ss_seq_format_next(char *out, ss_seq_cache *c, uint64_t created_s, int64_t shard_index,
                                      uint64_t counter, uint64_t arrival_s)
{
    if (c->counter != UINT64_MAX && arrival_s == c->arrival_s && counter == c->counter + 1)
        ss_seq_step_counter(c);
    else if (counter != c->counter || arrival_s != c->arrival_s)
        ss_seq_convert(c, created_s, shard_index, counter, arrival_s);
    else
        ss_seq_refresh_low(c);
    memcpy(out, c->text, SS_SEQ_LEN);
}

/* out[0:56] = the number of (counter, arrival) in a shard, using and updating c.  The next counter
 * of the cached arrival second is a step: limbs 0..3 are rendered straight into out, limbs 4..6
 * (unchanged, their text stored long before) copied from the cache. */
static inline void ss_seq_format_cached(char *out, ss_seq_cache *c, uint64_t created_s, int64_t shard_index,
                                        uint64_t counter, uint64_t arrival_s)
{
    if (c->counter != UINT64_MAX && arrival_s == c->arrival_s && counter == c->counter + 1) {
        ss_seq_step_to(c, out);
        memcpy(out, c->text, (SS_SEQ_LIMBS - 4) * 8);
        return;
    }
    if (counter != c->counter || arrival_s != c->arrival_s)
        ss_seq_convert(c, created_s, shard_index, counter, arrival_s);
    else
        ss_seq_refresh_low(c);
    memcpy(out, c->text, SS_SEQ_LEN);
}

/* out[0:56] = the number of (counter, arrival), without a cache. */
static inline void ss_seq_format(char *out, uint64_t created_s, int64_t shard_index, uint64_t counter,
                                 uint64_t arrival_s)
{
    ss_seq_cache c;
    ss_seq_convert(&c, created_s, shard_index, counter, arrival_s);
    memcpy(out, c.text, SS_SEQ_LEN);
}

/* Format `n` consecutive counters counter, counter+1, ... (56 bytes each) whose
 * arrival times, in ms, are ts[0], ts[1], ... */
static inline void ss_seq_format_run(char *out, uint64_t created_s, int64_t shard_index, uint64_t counter,
                                     const int64_t *ts, int64_t n)
{
    ss_seq_cache c;
    ss_seq_cache_reset(&c);
    for (int64_t i = 0; i < n; i++)
        ss_seq_format_next(out + i * SS_SEQ_LEN, &c, created_s, shard_index, counter + (uint64_t)i,
                             ss_seq_seconds(ts[i]));
}

#endif
