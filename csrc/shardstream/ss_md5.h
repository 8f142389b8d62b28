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

/* Kernel ids: values of ss_md5_batch's `simd` argument and of ss_md5_kernel(). */
#define SS_MD5_SCALAR 0 /* portable C, two keys interleaved */
#define SS_MD5_AUTO 1   /* the best kernel this CPU runs, capped by $SHARDSTREAM_MD5 */
#define SS_MD5_AVX2 2   /* 24 keys at a time, 3 groups of 8 lanes */
#define SS_MD5_AVX512 3 /* 48 keys at a time, 3 groups of 16 lanes (AVX-512F/BW/VL) */

/* 1 if the AVX2 multi-lane kernel can run on this CPU, else 0. */
int ss_md5_have_avx2(void);

/* 1 if the AVX-512 16-lane kernel can run on this CPU (AVX-512F, BW and VL,
 * with the OS saving ZMM state), else 0. */
int ss_md5_have_avx512(void);

/* The kernel (SS_MD5_SCALAR, SS_MD5_AVX2 or SS_MD5_AVX512) that ss_md5_batch
 * runs for a given `simd` argument:
 *   SS_MD5_SCALAR -> scalar;
 *   SS_MD5_AUTO   -> the best the CPU runs, but no better than the environment
 *                    variable SHARDSTREAM_MD5 ("scalar", "avx2" or "avx512"; any
 *                    other value or unset: no cap), read once on first use;
 *   SS_MD5_AVX2 / SS_MD5_AVX512 -> that kernel, or the best below it that the
 *                    CPU runs (the environment variable is not consulted). */
int ss_md5_kernel(int simd);

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
 * simd: a kernel id, see ss_md5_kernel(): 1 (SS_MD5_AUTO) = the best SIMD kernel,
 *       0 = force the scalar path.  All kernels give bit-identical results. */
void ss_md5_batch(const uint8_t *data, const void *offsets, int offsets_are_64, int64_t n,
                  uint64_t *hi, uint64_t *lo, int simd);

#ifdef __cplusplus
}
#endif

#endif /* SS_MD5_H */
