/* Sequence numbers held as values: the storage of a put result's sequence_number column.
 *
 * A put result keeps each number as its 188-bit value in an Arrow decimal256(56, 0)
 * slot (four little-endian 64-bit words, the top one zero): packing the fields
 * there is a few shifts per row, where the 56 decimal digits cost a carry through
 * several limbs and twice the bytes.  The text is made when someone asks for it.
 *
 * Formatting the values of a column keeps one ss_seq_cache per slot of a small
 * table indexed by the shard index's low bits (the low word holds the index and
 * the arrival second): the rows of one shard in one put are the previous value
 * plus 2**80 (counter + 1), which ss_seq_step_counter turns into text without a
 * division, however the shards interleave.
 */
#ifndef SS_SEQWORDS_H
#define SS_SEQWORDS_H

#include "ss_seqnum.h"

#define SS_SEQW_SLOTS 16
#define SS_SEQW_HI_LIMIT ((uint64_t)1 << 58) /* hi < 2**58: the value is below 2**186 < 10**56 */

typedef struct {
    ss_seq_cache c;
    uint64_t hi, mid, lo;
    int valid;
} ss_seqw_cache;

/* Store value hi:mid:lo as one decimal256 slot (little-endian words, top word zero). */
static inline void ss_seqw_store(uint64_t *slot, uint64_t hi, uint64_t mid, uint64_t lo)
{
    slot[0] = lo;
    slot[1] = mid;
    slot[2] = hi;
    slot[3] = 0;
}

/* Whether a decimal256 slot holds a value this module formats (0 <= value < 2**186). */
static inline int ss_seqw_in_range(const uint64_t *slot)
{
    return slot[3] == 0 && slot[2] < SS_SEQW_HI_LIMIT;
}

/* out[0:56] = the 56 decimal digits of the value in `slot` (in range), via the caches. */
static inline void ss_seqw_format(char *out, ss_seqw_cache *caches, const uint64_t *slot)
{
    uint64_t lo = slot[0], mid = slot[1], hi = slot[2];
    ss_seqw_cache *c = &caches[(lo >> 4) & (SS_SEQW_SLOTS - 1)];
    if (!c->valid || c->lo != lo || c->hi != hi || c->mid != mid) {
        uint64_t next_mid = c->mid + ((uint64_t)1 << 16), next_hi = c->hi + (next_mid < c->mid);
        if (c->valid && c->lo == lo && next_mid == mid && next_hi == hi)
            ss_seq_step_counter(&c->c);
        else
            ss_seq_convert_words(&c->c, hi, mid, lo);
        c->hi = hi;
        c->mid = mid;
        c->lo = lo;
        c->valid = 1;
    }
    memcpy(out, c->c.text, SS_SEQ_LEN);
}

#endif
