/* ss_md5.h - batch MD5 of short byte strings (Kinesis partition keys).
 *
 * Plain C, no Python dependency; usable from Cython with
 *     cdef extern from "ss_md5.h" nogil: ...
 * All functions are thread-safe and reentrant.
 */
#ifndef SS_MD5_H
#define SS_MD5_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the AVX2 multi-lane kernel can run on this CPU, else 0. */
int ss_md5_have_avx2(void);

/* MD5 of one message of any length; out receives the 16-byte digest
 * (same bytes as hashlib.md5(...).digest()). */
void ss_md5_one(const uint8_t *msg, size_t len, uint8_t out[16]);

/* Hash n keys laid out like an Arrow binary/string array.
 *
 * Key i is data[off(i) .. off(i+1)), where off(i) = ((const int32_t *)offsets)[i]
 * if offsets_are_64 == 0, else ((const int64_t *)offsets)[i].  offsets has n+1
 * entries and must be non-decreasing; offsets[0] need not be 0.  Only bytes in
 * data[off(0) .. off(n)) are ever read.
 *
 * The digest is written as a 128-bit big-endian unsigned integer split in two:
 *   hi[i] = digest bytes 0..7 read big-endian, lo[i] = digest bytes 8..15 read big-endian,
 * so (hi << 64) | lo == int.from_bytes(hashlib.md5(key).digest(), "big").
 *
 * simd: 1 = use the AVX2 kernel when the CPU supports it (scalar otherwise),
 *       0 = force the scalar path.  Both paths give bit-identical results. */
void ss_md5_batch(const uint8_t *data, const void *offsets, int offsets_are_64, int64_t n,
                  uint64_t *hi, uint64_t *lo, int simd);

#ifdef __cplusplus
}
#endif

#endif /* SS_MD5_H */
