/* MD5 message digest as specified in RFC 1321 (R. Rivest, 1992); scalar, AVX2 and AVX-512 multi-buffer kernels. */
/*
 * ss_md5.c - batch MD5 of short keys for shard routing.
 *
 * Layout of the work:
 *   - ss_md5_one():   plain multi-block MD5 of one message (any length).
 *   - scalar batch:   keys of <= 55 bytes fit in a single padded 64-byte block
 *                     (55 key bytes + 0x80 + 8 length bytes = 64), so they need
 *                     exactly one compression.  Two such keys are compressed
 *                     interleaved to hide the long serial dependency chain of MD5.
 *   - AVX2 batch:     24 single-block keys are hashed at once: three groups of
 *                     8 lanes, one key per 32-bit lane of a __m256i, with the three
 *                     groups' rounds interleaved.  Longer keys take the scalar
 *                     multi-block path in the same loop.
 *   - AVX-512 batch:  48 single-block keys at once, three groups of 16 lanes
 *                     (one ZMM register per key block; vpternlogd for the
 *                     round functions, vprold for the rotates).
 *
 * Only the SIMD functions carry __attribute__((target(...))), so the file
 * builds with plain "gcc -O3 -c"; ss_md5_kernel() picks the kernel at run time.
 * On non-x86 targets (or with -DSS_MD5_NO_SIMD) the SIMD code compiles out.
 */
#include "ss_md5.h"

#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(SS_MD5_NO_SIMD)
#define SS_MD5_X86 1
#include <immintrin.h>
#else
#define SS_MD5_X86 0
#endif

#if defined(__GNUC__)
#define SS_ALIGN32 __attribute__((aligned(32)))
#else
#define SS_ALIGN32
#endif

/* Largest key that fits in one padded block. */
#define SS_MD5_ONE_BLOCK_MAX 55

/*
 * The 64 MD5 steps (RFC 1321, section 3.4), as an X-macro shared by all
 * kernels.  Columns: round function, the four state registers in step order,
 * message word index, left-rotate amount, additive constant
 * floor(abs(sin(i + 1)) * 2^32).
 */
#define SS_MD5_STEPS(X)                              \
    X(F, a, b, c, d,  0,  7, 0xd76aa478u)            \
    X(F, d, a, b, c,  1, 12, 0xe8c7b756u)            \
    X(F, c, d, a, b,  2, 17, 0x242070dbu)            \
    X(F, b, c, d, a,  3, 22, 0xc1bdceeeu)            \
    X(F, a, b, c, d,  4,  7, 0xf57c0fafu)            \
    X(F, d, a, b, c,  5, 12, 0x4787c62au)            \
    X(F, c, d, a, b,  6, 17, 0xa8304613u)            \
    X(F, b, c, d, a,  7, 22, 0xfd469501u)            \
    X(F, a, b, c, d,  8,  7, 0x698098d8u)            \
    X(F, d, a, b, c,  9, 12, 0x8b44f7afu)            \
    X(F, c, d, a, b, 10, 17, 0xffff5bb1u)            \
    X(F, b, c, d, a, 11, 22, 0x895cd7beu)            \
    X(F, a, b, c, d, 12,  7, 0x6b901122u)            \
    X(F, d, a, b, c, 13, 12, 0xfd987193u)            \
    X(F, c, d, a, b, 14, 17, 0xa679438eu)            \
    X(F, b, c, d, a, 15, 22, 0x49b40821u)            \
    X(G, a, b, c, d,  1,  5, 0xf61e2562u)            \
    X(G, d, a, b, c,  6,  9, 0xc040b340u)            \
    X(G, c, d, a, b, 11, 14, 0x265e5a51u)            \
    X(G, b, c, d, a,  0, 20, 0xe9b6c7aau)            \
    X(G, a, b, c, d,  5,  5, 0xd62f105du)            \
    X(G, d, a, b, c, 10,  9, 0x02441453u)            \
    X(G, c, d, a, b, 15, 14, 0xd8a1e681u)            \
    X(G, b, c, d, a,  4, 20, 0xe7d3fbc8u)            \
    X(G, a, b, c, d,  9,  5, 0x21e1cde6u)            \
    X(G, d, a, b, c, 14,  9, 0xc33707d6u)            \
    X(G, c, d, a, b,  3, 14, 0xf4d50d87u)            \
    X(G, b, c, d, a,  8, 20, 0x455a14edu)            \
    X(G, a, b, c, d, 13,  5, 0xa9e3e905u)            \
    X(G, d, a, b, c,  2,  9, 0xfcefa3f8u)            \
    X(G, c, d, a, b,  7, 14, 0x676f02d9u)            \
    X(G, b, c, d, a, 12, 20, 0x8d2a4c8au)            \
    X(H, a, b, c, d,  5,  4, 0xfffa3942u)            \
    X(H, d, a, b, c,  8, 11, 0x8771f681u)            \
    X(H, c, d, a, b, 11, 16, 0x6d9d6122u)            \
    X(H, b, c, d, a, 14, 23, 0xfde5380cu)            \
    X(H, a, b, c, d,  1,  4, 0xa4beea44u)            \
    X(H, d, a, b, c,  4, 11, 0x4bdecfa9u)            \
    X(H, c, d, a, b,  7, 16, 0xf6bb4b60u)            \
    X(H, b, c, d, a, 10, 23, 0xbebfbc70u)            \
    X(H, a, b, c, d, 13,  4, 0x289b7ec6u)            \
    X(H, d, a, b, c,  0, 11, 0xeaa127fau)            \
    X(H, c, d, a, b,  3, 16, 0xd4ef3085u)            \
    X(H, b, c, d, a,  6, 23, 0x04881d05u)            \
    X(H, a, b, c, d,  9,  4, 0xd9d4d039u)            \
    X(H, d, a, b, c, 12, 11, 0xe6db99e5u)            \
    X(H, c, d, a, b, 15, 16, 0x1fa27cf8u)            \
    X(H, b, c, d, a,  2, 23, 0xc4ac5665u)            \
    X(I, a, b, c, d,  0,  6, 0xf4292244u)            \
    X(I, d, a, b, c,  7, 10, 0x432aff97u)            \
    X(I, c, d, a, b, 14, 15, 0xab9423a7u)            \
    X(I, b, c, d, a,  5, 21, 0xfc93a039u)            \
    X(I, a, b, c, d, 12,  6, 0x655b59c3u)            \
    X(I, d, a, b, c,  3, 10, 0x8f0ccc92u)            \
    X(I, c, d, a, b, 10, 15, 0xffeff47du)            \
    X(I, b, c, d, a,  1, 21, 0x85845dd1u)            \
    X(I, a, b, c, d,  8,  6, 0x6fa87e4fu)            \
    X(I, d, a, b, c, 15, 10, 0xfe2ce6e0u)            \
    X(I, c, d, a, b,  6, 15, 0xa3014314u)            \
    X(I, b, c, d, a, 13, 21, 0x4e0811a1u)            \
    X(I, a, b, c, d,  4,  6, 0xf7537e82u)            \
    X(I, d, a, b, c, 11, 10, 0xbd3af235u)            \
    X(I, c, d, a, b,  2, 15, 0x2ad7d2bbu)            \
    X(I, b, c, d, a,  9, 21, 0xeb86d391u)

#define SS_MD5_A0 0x67452301u
#define SS_MD5_B0 0xefcdab89u
#define SS_MD5_C0 0x98badcfeu
#define SS_MD5_D0 0x10325476u

/* ------------------------------------------------------------------------- */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------- */

static inline uint32_t ss_bswap32(uint32_t x)
{
#if defined(__GNUC__)
    return __builtin_bswap32(x);
#else
    return (x >> 24) | ((x >> 8) & 0xff00u) | ((x << 8) & 0xff0000u) | (x << 24);
#endif
}

static inline uint32_t ss_load32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void ss_store32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void ss_store64le(uint8_t *p, uint64_t v)
{
    ss_store32le(p, (uint32_t)v);
    ss_store32le(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t ss_rotl32(uint32_t x, int s)
{
    return (x << s) | (x >> (32 - s));
}

static inline int64_t ss_key_off(const void *offsets, int is64, int64_t i)
{
    return is64 ? ((const int64_t *)offsets)[i] : (int64_t)((const int32_t *)offsets)[i];
}

/* Digest words a..d are the digest bytes in little-endian order; the
 * big-endian 128-bit value is therefore bswap(a):bswap(b):bswap(c):bswap(d). */
static inline void ss_store_hilo(const uint32_t st[4], uint64_t *hi, uint64_t *lo)
{
    *hi = ((uint64_t)ss_bswap32(st[0]) << 32) | ss_bswap32(st[1]);
    *lo = ((uint64_t)ss_bswap32(st[2]) << 32) | ss_bswap32(st[3]);
}

/* Build the single padded block of a key of len <= 55 bytes. */
static inline void ss_pad_short(uint8_t blk[64], const uint8_t *key, size_t len)
{
    memset(blk, 0, 64);
    if (len)
        memcpy(blk, key, len);
    blk[len] = 0x80;
    ss_store64le(blk + 56, (uint64_t)len << 3);
}

/* ------------------------------------------------------------------------- */
/* Scalar kernels                                                            */
/* ------------------------------------------------------------------------- */

#define SS_F(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define SS_G(b, c, d) (((b) & (d)) | ((c) & ~(d)))
#define SS_H(b, c, d) ((b) ^ (c) ^ (d))
#define SS_I(b, c, d) ((c) ^ ((b) | ~(d)))

/* One compression of one 64-byte block into st. */
static void ss_md5_block1(uint32_t st[4], const uint8_t *blk)
{
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = ss_load32le(blk + 4 * i);
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
#define X(f, a, b, c, d, g, s, k) a = b + ss_rotl32(a + SS_##f(b, c, d) + (w[g] + (k)), s);
    SS_MD5_STEPS(X)
#undef X
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

/* Two independent single-block messages, steps interleaved so the CPU can
 * overlap the two dependency chains. */
static void ss_md5_block2(uint32_t st0[4], const uint8_t *blk0, uint32_t st1[4], const uint8_t *blk1)
{
    uint32_t w0[16], w1[16];
    for (int i = 0; i < 16; i++) {
        w0[i] = ss_load32le(blk0 + 4 * i);
        w1[i] = ss_load32le(blk1 + 4 * i);
    }
    uint32_t a0 = st0[0], b0 = st0[1], c0 = st0[2], d0 = st0[3];
    uint32_t a1 = st1[0], b1 = st1[1], c1 = st1[2], d1 = st1[3];
#define X(f, a, b, c, d, g, s, k)                                                  \
    a##0 = b##0 + ss_rotl32(a##0 + SS_##f(b##0, c##0, d##0) + (w0[g] + (k)), s);   \
    a##1 = b##1 + ss_rotl32(a##1 + SS_##f(b##1, c##1, d##1) + (w1[g] + (k)), s);
    SS_MD5_STEPS(X)
#undef X
    st0[0] += a0;
    st0[1] += b0;
    st0[2] += c0;
    st0[3] += d0;
    st1[0] += a1;
    st1[1] += b1;
    st1[2] += c1;
    st1[3] += d1;
}

static inline void ss_md5_init(uint32_t st[4])
{
    st[0] = SS_MD5_A0;
    st[1] = SS_MD5_B0;
    st[2] = SS_MD5_C0;
    st[3] = SS_MD5_D0;
}

static void ss_md5_state(const uint8_t *msg, size_t len, uint32_t st[4])
{
    uint8_t tail[128];
    size_t full = len & ~(size_t)63;
    size_t rem = len - full;

    ss_md5_init(st);
    for (size_t i = 0; i < full; i += 64)
        ss_md5_block1(st, msg + i);

    /* Padding: 0x80, zeros, then the bit length in the last 8 bytes;
     * one extra block when fewer than 9 bytes are left in this one. */
    size_t tlen = rem <= SS_MD5_ONE_BLOCK_MAX ? 64 : 128;
    memset(tail, 0, tlen);
    if (rem)
        memcpy(tail, msg + full, rem);
    tail[rem] = 0x80;
    ss_store64le(tail + tlen - 8, (uint64_t)len << 3);
    ss_md5_block1(st, tail);
    if (tlen == 128)
        ss_md5_block1(st, tail + 64);
}

void ss_md5_one(const uint8_t *msg, size_t len, uint8_t out[16])
{
    uint32_t st[4];
    ss_md5_state(msg, len, st);
    for (int i = 0; i < 4; i++)
        ss_store32le(out + 4 * i, st[i]);
}

static void ss_long_key(const uint8_t *key, size_t len, uint64_t *hi, uint64_t *lo)
{
    uint32_t st[4];
    ss_md5_state(key, len, st);
    ss_store_hilo(st, hi, lo);
}

/* Finish up to 24 already padded single-block keys with the scalar kernels. */
static void ss_scalar_blocks(uint8_t (*blk)[64], const int64_t *idx, int cnt, uint64_t *hi, uint64_t *lo)
{
    uint32_t s0[4], s1[4];
    int j = 0;
    for (; j + 1 < cnt; j += 2) {
        ss_md5_init(s0);
        ss_md5_init(s1);
        ss_md5_block2(s0, blk[j], s1, blk[j + 1]);
        ss_store_hilo(s0, hi + idx[j], lo + idx[j]);
        ss_store_hilo(s1, hi + idx[j + 1], lo + idx[j + 1]);
    }
    if (j < cnt) {
        ss_md5_init(s0);
        ss_md5_block1(s0, blk[j]);
        ss_store_hilo(s0, hi + idx[j], lo + idx[j]);
    }
}

static void ss_batch_scalar(const uint8_t *data, const void *offsets, int is64, int64_t n,
                            uint64_t *hi, uint64_t *lo)
{
    uint8_t blk[2][64];
    int64_t idx[2];
    int cnt = 0;
    int64_t s = ss_key_off(offsets, is64, 0);

    for (int64_t i = 0; i < n; i++) {
        int64_t e = ss_key_off(offsets, is64, i + 1);
        size_t len = (size_t)(e - s);
        if (len <= SS_MD5_ONE_BLOCK_MAX) {
            ss_pad_short(blk[cnt], data + s, len);
            idx[cnt++] = i;
            if (cnt == 2) {
                ss_scalar_blocks(blk, idx, 2, hi, lo);
                cnt = 0;
            }
        } else {
            ss_long_key(data + s, len, hi + i, lo + i);
        }
        s = e;
    }
    ss_scalar_blocks(blk, idx, cnt, hi, lo);
}

/* ------------------------------------------------------------------------- */
/* AVX2 kernel: 24 single-block keys, three groups of 8 lanes               */
/* ------------------------------------------------------------------------- */
#if SS_MD5_X86

#define SS_AVX2 __attribute__((target("avx2")))

/* Keys per SIMD kernel call: 3 groups of 8 lanes. */
#define SS_LANES 24

/* Sliding windows for building a padded block with two loads: reading 32
 * bytes at offset (64 - len) yields a byte mask that keeps the first len
 * bytes, and a vector whose only non-zero byte is 0x80 at position len. */
static const uint8_t ss_keep_mask[128] SS_ALIGN32 = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    /* 64 zero bytes follow */
};
static const uint8_t ss_pad_byte[128] SS_ALIGN32 = {
    [64] = 0x80, /* all other bytes zero */
};

/* Padded block for a key of len <= 55 starting at data + s.  When 64 bytes
 * starting at the key lie inside data[.. limit), load them whole and mask off
 * the neighbouring keys' bytes; otherwise copy exactly the key bytes. */
SS_AVX2 static inline void ss_pad_short_avx2(uint8_t *blk, const uint8_t *data, int64_t s, size_t len,
                                            int64_t limit)
{
    if (s + 64 <= limit) {
        const uint8_t *p = data + s;
        const __m256i *km = (const __m256i *)(ss_keep_mask + 64 - len);
        const __m256i *pb = (const __m256i *)(ss_pad_byte + 64 - len);
        __m256i lo = _mm256_loadu_si256((const __m256i *)p);
        __m256i hi = _mm256_loadu_si256((const __m256i *)(p + 32));
        lo = _mm256_or_si256(_mm256_and_si256(lo, _mm256_loadu_si256(km)), _mm256_loadu_si256(pb));
        hi = _mm256_or_si256(_mm256_and_si256(hi, _mm256_loadu_si256(km + 1)), _mm256_loadu_si256(pb + 1));
        /* Bit length into word 14 (bytes 56..59; 60..63 stay zero).  Done in
         * the register, not by a separate store, so the transpose's 32-byte
         * reloads of this block can be store-forwarded. */
        hi = _mm256_blend_epi32(hi, _mm256_set1_epi32((int)(len << 3)), 0x40);
        _mm256_store_si256((__m256i *)blk, lo);
        _mm256_store_si256((__m256i *)(blk + 32), hi);
    } else {
        ss_pad_short(blk, data + s, len);
    }
}

/* Transpose 8 rows of 8 uint32 (row r = 32 bytes at base + 64 * r) so that
 * out[j] holds word j of every row: lane r of out[j] = row r, word j. */
SS_AVX2 static inline void ss_transpose8(const uint8_t *base, __m256i out[8])
{
    __m256i r0 = _mm256_load_si256((const __m256i *)(base + 0 * 64));
    __m256i r1 = _mm256_load_si256((const __m256i *)(base + 1 * 64));
    __m256i r2 = _mm256_load_si256((const __m256i *)(base + 2 * 64));
    __m256i r3 = _mm256_load_si256((const __m256i *)(base + 3 * 64));
    __m256i r4 = _mm256_load_si256((const __m256i *)(base + 4 * 64));
    __m256i r5 = _mm256_load_si256((const __m256i *)(base + 5 * 64));
    __m256i r6 = _mm256_load_si256((const __m256i *)(base + 6 * 64));
    __m256i r7 = _mm256_load_si256((const __m256i *)(base + 7 * 64));

    __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpackhi_epi32(r0, r1);
    __m256i t2 = _mm256_unpacklo_epi32(r2, r3), t3 = _mm256_unpackhi_epi32(r2, r3);
    __m256i t4 = _mm256_unpacklo_epi32(r4, r5), t5 = _mm256_unpackhi_epi32(r4, r5);
    __m256i t6 = _mm256_unpacklo_epi32(r6, r7), t7 = _mm256_unpackhi_epi32(r6, r7);

    __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
    __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);

    out[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
    out[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
    out[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
    out[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
    out[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
    out[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
    out[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
    out[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/* Each step is a = b + rotl(a + f(b, c, d) + w[g] + k, s).  Everything that
 * does not depend on b (the newest value) is added first so that only a short
 * chain follows b.  Two identities save instructions:
 *   G: (b & d) and (c & ~d) are disjoint, so they are added instead of OR-ed;
 *   I: c ^ (b | ~d) == ~(c ^ (~b & d)) == -1 - (c ^ (~b & d)), so the -1 is
 *      folded into the constant and the term is subtracted (no NOT needed).
 * Rotate by 16 is a single byte shuffle. */
#define SS_VK_F(k) (k)
#define SS_VK_G(k) (k)
#define SS_VK_H(k) (k)
#define SS_VK_I(k) ((k) - 1u)
#define SS_VPRE_F(a, wk, b, c, d) _mm256_add_epi32(a, wk)
#define SS_VPRE_G(a, wk, b, c, d) _mm256_add_epi32(_mm256_add_epi32(a, wk), _mm256_andnot_si256(d, c))
#define SS_VPRE_H(a, wk, b, c, d) _mm256_add_epi32(a, wk)
#define SS_VPRE_I(a, wk, b, c, d) _mm256_add_epi32(a, wk)
#define SS_VLATE_F(b, c, d) _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)))
#define SS_VLATE_G(b, c, d) _mm256_and_si256(b, d)
#define SS_VLATE_H(b, c, d) _mm256_xor_si256(b, _mm256_xor_si256(c, d))
#define SS_VLATE_I(b, c, d) _mm256_xor_si256(c, _mm256_andnot_si256(b, d))
#define SS_VCOMB_F(x, y) _mm256_add_epi32(x, y)
#define SS_VCOMB_G(x, y) _mm256_add_epi32(x, y)
#define SS_VCOMB_H(x, y) _mm256_add_epi32(x, y)
#define SS_VCOMB_I(x, y) _mm256_sub_epi32(x, y)
#define SS_VROTL(x, s)                                                                   \
    ((s) == 16 ? _mm256_shuffle_epi8(x, rot16)                                           \
               : _mm256_or_si256(_mm256_slli_epi32(x, s), _mm256_srli_epi32(x, 32 - (s))))
#define SS_VSTEP(f, a, b, c, d, w, s, k)                                                      \
    a = _mm256_add_epi32(b, SS_VROTL(SS_VCOMB_##f(                                            \
            SS_VPRE_##f(a, _mm256_add_epi32(w, _mm256_set1_epi32((int)SS_VK_##f(k))), b, c, d), \
            SS_VLATE_##f(b, c, d)), s))

/* Store the 8 lanes' digests as big-endian 64-bit halves: lane l goes to
 * hi_out[l] and lo_out[l]. */
SS_AVX2 static inline void ss_store_group(__m256i a, __m256i b, __m256i c, __m256i d,
                                          uint64_t *hi_out, uint64_t *lo_out)
{
    /* Byte-swap each 32-bit word, then pair (a, b) and (c, d) into 64-bit
     * values a:b and c:d; unpack works per 128-bit half, so restore the lane
     * order with a cross-half permute. */
    const __m256i bswap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
                                           3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
    a = _mm256_shuffle_epi8(a, bswap);
    b = _mm256_shuffle_epi8(b, bswap);
    c = _mm256_shuffle_epi8(c, bswap);
    d = _mm256_shuffle_epi8(d, bswap);
    __m256i h0 = _mm256_unpacklo_epi32(b, a), h1 = _mm256_unpackhi_epi32(b, a); /* lanes 0,1,4,5 / 2,3,6,7 */
    __m256i l0 = _mm256_unpacklo_epi32(d, c), l1 = _mm256_unpackhi_epi32(d, c);
    _mm256_storeu_si256((__m256i *)hi_out, _mm256_permute2x128_si256(h0, h1, 0x20));
    _mm256_storeu_si256((__m256i *)(hi_out + 4), _mm256_permute2x128_si256(h0, h1, 0x31));
    _mm256_storeu_si256((__m256i *)lo_out, _mm256_permute2x128_si256(l0, l1, 0x20));
    _mm256_storeu_si256((__m256i *)(lo_out + 4), _mm256_permute2x128_si256(l0, l1, 0x31));
}

/* Hash SS_LANES (24) padded single-block keys and write the results to
 * hi[0..23] and lo[0..23].  Lane layout: blk[l] is key l; keys 0..7 are the
 * 8 lanes of group 0, keys 8..15 those of group 1, keys 16..23 those of
 * group 2.  After the transpose, wG[j] holds message word j of group G's
 * keys.  Three independent groups are interleaved because one MD5 step is a
 * serial chain of ~5 instructions: with fewer groups in flight the vector
 * units would idle waiting on latency. */
SS_AVX2 static void ss_md5_xN_avx2(uint8_t (*blk)[64], uint64_t *hi, uint64_t *lo)
{
    __m256i w0[16], w1[16], w2[16];
    ss_transpose8(blk[0], w0);
    ss_transpose8(blk[0] + 32, w0 + 8);
    ss_transpose8(blk[8], w1);
    ss_transpose8(blk[8] + 32, w1 + 8);
    ss_transpose8(blk[16], w2);
    ss_transpose8(blk[16] + 32, w2 + 8);

    const __m256i rot16 = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13,
                                           2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    const __m256i ia = _mm256_set1_epi32((int)SS_MD5_A0), ib = _mm256_set1_epi32((int)SS_MD5_B0);
    const __m256i ic = _mm256_set1_epi32((int)SS_MD5_C0), id = _mm256_set1_epi32((int)SS_MD5_D0);
    __m256i a0 = ia, b0 = ib, c0 = ic, d0 = id;
    __m256i a1 = ia, b1 = ib, c1 = ic, d1 = id;
    __m256i a2 = ia, b2 = ib, c2 = ic, d2 = id;

#define X(f, a, b, c, d, g, s, k)                            \
    SS_VSTEP(f, a##0, b##0, c##0, d##0, w0[g], s, k);        \
    SS_VSTEP(f, a##1, b##1, c##1, d##1, w1[g], s, k);        \
    SS_VSTEP(f, a##2, b##2, c##2, d##2, w2[g], s, k);
    SS_MD5_STEPS(X)
#undef X

    ss_store_group(_mm256_add_epi32(a0, ia), _mm256_add_epi32(b0, ib), _mm256_add_epi32(c0, ic),
                   _mm256_add_epi32(d0, id), hi, lo);
    ss_store_group(_mm256_add_epi32(a1, ia), _mm256_add_epi32(b1, ib), _mm256_add_epi32(c1, ic),
                   _mm256_add_epi32(d1, id), hi + 8, lo + 8);
    ss_store_group(_mm256_add_epi32(a2, ia), _mm256_add_epi32(b2, ib), _mm256_add_epi32(c2, ic),
                   _mm256_add_epi32(d2, id), hi + 16, lo + 16);
}

/* Run the kernel on the first cnt (<= SS_LANES) collected blocks, whose keys
 * have batch positions idx[0..cnt); unused lanes hash zero blocks. */
SS_AVX2 static void ss_md5_xN_scatter(uint8_t (*blk)[64], const int64_t *idx, int cnt,
                                       uint64_t *hi, uint64_t *lo)
{
    uint64_t th[SS_LANES], tl[SS_LANES];
    if (cnt < SS_LANES)
        memset(blk[cnt], 0, (size_t)(SS_LANES - cnt) * 64);
    ss_md5_xN_avx2(blk, th, tl);
    for (int l = 0; l < cnt; l++) {
        hi[idx[l]] = th[l];
        lo[idx[l]] = tl[l];
    }
}

/* 1 if keys i .. i+SS_LANES-1 are all <= 55 bytes and each can be read with a whole
 * 64-byte load that stays below limit (offsets are non-decreasing, so
 * checking the last key's start suffices for the latter). */
SS_AVX2 static inline int ss_next_run_short(const void *offsets, int is64, int64_t i, int64_t limit)
{
    if (ss_key_off(offsets, is64, i + SS_LANES - 1) + 64 > limit)
        return 0;
    if (!is64) {
        const int32_t *o = (const int32_t *)offsets + i;
        __m256i m = _mm256_set1_epi32(SS_MD5_ONE_BLOCK_MAX);
        for (int j = 0; j < SS_LANES; j += 8) {
            __m256i l = _mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(o + j + 1)),
                                         _mm256_loadu_si256((const __m256i *)(o + j)));
            m = _mm256_max_epu32(m, l); /* unsigned: a negative length counts as long */
        }
        return _mm256_movemask_epi8(_mm256_cmpeq_epi32(m, _mm256_set1_epi32(SS_MD5_ONE_BLOCK_MAX))) == -1;
    } else {
        const int64_t *o = (const int64_t *)offsets + i;
        const __m256i lim = _mm256_set1_epi64x(SS_MD5_ONE_BLOCK_MAX);
        __m256i bad = _mm256_setzero_si256();
        for (int j = 0; j < SS_LANES; j += 4) {
            __m256i l = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(o + j + 1)),
                                         _mm256_loadu_si256((const __m256i *)(o + j)));
            /* unsigned l > 55: signed l > 55 or l < 0 */
            bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpgt_epi64(l, lim),
                                                       _mm256_cmpgt_epi64(_mm256_setzero_si256(), l)));
        }
        return _mm256_testz_si256(bad, bad);
    }
}

/* Main loop.  Runs of SS_LANES short keys (<= 55 bytes, one block) go straight
 * through the SIMD kernel.  Otherwise keys are taken one at a time: short
 * ones are collected until SS_LANES are pending, longer ones are hashed on the
 * spot by the scalar multi-block path. */
SS_AVX2 static void ss_batch_avx2(const uint8_t *data, const void *offsets, int is64, int64_t n,
                                  uint64_t *hi, uint64_t *lo)
{
    uint8_t blk[SS_LANES][64] SS_ALIGN32;
    int64_t idx[SS_LANES];
    int cnt = 0;
    const int64_t limit = ss_key_off(offsets, is64, n);
    int64_t i = 0;

    while (i < n) {
        if (cnt == 0 && n - i >= SS_LANES && ss_next_run_short(offsets, is64, i, limit)) {
            for (int j = 0; j < SS_LANES; j++) {
                int64_t s = ss_key_off(offsets, is64, i + j);
                size_t len = (size_t)(ss_key_off(offsets, is64, i + j + 1) - s);
                ss_pad_short_avx2(blk[j], data, s, len, limit);
            }
            ss_md5_xN_avx2(blk, hi + i, lo + i);
            i += SS_LANES;
            continue;
        }
        int64_t s = ss_key_off(offsets, is64, i);
        size_t len = (size_t)(ss_key_off(offsets, is64, i + 1) - s);
        if (len <= SS_MD5_ONE_BLOCK_MAX) {
            ss_pad_short_avx2(blk[cnt], data, s, len, limit);
            idx[cnt++] = i;
            if (cnt == SS_LANES) {
                ss_md5_xN_scatter(blk, idx, SS_LANES, hi, lo);
                cnt = 0;
            }
        } else {
            ss_long_key(data + s, len, hi + i, lo + i);
        }
        i++;
    }

    /* Tail: a partial SIMD pass beats scalar pairs from about 6 keys on. */
    if (cnt >= 6)
        ss_md5_xN_scatter(blk, idx, cnt, hi, lo);
    else
        ss_scalar_blocks(blk, idx, cnt, hi, lo);
}

/* ------------------------------------------------------------------------- */
/* AVX-512 kernel: 48 single-block keys, three groups of 16 lanes           */
/* ------------------------------------------------------------------------- */
/*
 * Same structure as the AVX2 kernel: runs of short keys (<= 55 bytes) go
 * through the SIMD kernel, other short keys are collected into lanes until a
 * full pass is pending, longer keys take the scalar multi-block path.  What
 * AVX-512 changes:
 *   - a key's padded block is one ZMM register, built from a byte-masked load
 *     of exactly the key's bytes (masked-off bytes are never read and cannot
 *     fault), so no staging buffer and no "64 bytes readable" check;
 *   - each round function F, G, H, I is one vpternlogd, and each rotate one
 *     vprold, so a step is 6 instructions (AVX2: 8 to 10).
 */

#define SS_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

/* Keys per full pass: 3 groups of 16 lanes (on an AVX-512 AMD EPYC, 3 groups
 * measured ~10% faster than 2). */
#define SS_ZLANES 48

/* vpternlogd truth tables with operands (b, c, d) = (0xf0, 0xcc, 0xaa):
 * F = (b & c) | (~b & d), G = (b & d) | (c & ~d), H = b ^ c ^ d, I = c ^ (b | ~d). */
#define SS_ZTL_F 0xca
#define SS_ZTL_G 0xe4
#define SS_ZTL_H 0x96
#define SS_ZTL_I 0x39

/* a = b + rotl(a + (w + k) + f(b, c, d), s); w + k and a + (w + k) do not
 * depend on b, so only ternlog, add, rotate, add follow the newest value. */
#define SS_ZSTEP(f, a, b, c, d, w, s, kv)                                                     \
    do {                                                                                      \
        __m512i t_ = _mm512_add_epi32(a, _mm512_add_epi32(w, _mm512_set1_epi32((int)(kv))));  \
        __asm__("" : "+v"(t_));                                                               \
        a = _mm512_add_epi32(b, _mm512_rol_epi32(                                             \
                _mm512_add_epi32(t_, _mm512_ternarylogic_epi32(b, c, d, SS_ZTL_##f)), s));    \
    } while (0)

/* The 64 step constants in step order, read through a pointer the compiler
 * cannot see through, so each becomes a broadcast memory operand of vpaddd
 * ({1to16}) instead of an immediate moved to a register and broadcast (one
 * pointer per group, so that no broadcast register is shared and kept). */
static const uint32_t ss_md5_k[64] = {
#define X(f, a, b, c, d, g, s, k) k,
    SS_MD5_STEPS(X)
#undef X
};

/* The padded block of a key of len <= 55 bytes at p, as 16 words: the key's
 * bytes, 0x80 at byte len, zeros, the bit length in word 14. */
SS_AVX512 static inline __m512i ss_zrow(const uint8_t *p, uint32_t len)
{
    __m512i v = _mm512_maskz_loadu_epi8((__mmask64)((1ull << len) - 1), p);
    v = _mm512_or_si512(v, _mm512_loadu_si512((const void *)(ss_pad_byte + 64 - len)));
    return _mm512_mask_set1_epi32(v, (__mmask16)0x4000, (int)(len << 3));
}

/* Transpose 16 rows of 16 words in place: afterwards r[j] holds word j of
 * every row (lane l of r[j] = row l, word j). */
SS_AVX512 static inline void ss_ztranspose(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* u[4i + m], 128-bit lane q: word 4q + m of rows 4i .. 4i + 3 */
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    /* word 4q + m = 128-bit lane q of u[m], u[4 + m], u[8 + m], u[12 + m] */
    for (int m = 0; m < 4; m++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0x88); /* lanes 0, 2 of each */
        __m512i v1 = _mm512_shuffle_i32x4(u[m], u[4 + m], 0xdd); /* lanes 1, 3 */
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0x88);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + m], u[12 + m], 0xdd);
        r[m] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[4 + m] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[8 + m] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
        r[12 + m] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
    }
}

/* Message words of 16 keys (p[l], len[l]) into w[0..15]. */
SS_AVX512 static inline void ss_zload(const uint8_t *const *p, const uint32_t *len, __m512i w[16])
{
    for (int l = 0; l < 16; l++)
        w[l] = ss_zrow(p[l], len[l]);
    ss_ztranspose(w);
}

/* The 16 lanes' final states as big-endian 64-bit halves into hi[0..15], lo[0..15]. */
SS_AVX512 static inline void ss_zstore(__m512i a, __m512i b, __m512i c, __m512i d, uint64_t *hi, uint64_t *lo)
{
    const __m512i bswap = _mm512_broadcast_i32x4(_mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
    /* unpack pairs words per 128-bit lane: h0 holds lanes 0,1,4,5,8,9,12,13, h1 the others */
    const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
    const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    a = _mm512_shuffle_epi8(_mm512_add_epi32(a, _mm512_set1_epi32((int)SS_MD5_A0)), bswap);
    b = _mm512_shuffle_epi8(_mm512_add_epi32(b, _mm512_set1_epi32((int)SS_MD5_B0)), bswap);
    c = _mm512_shuffle_epi8(_mm512_add_epi32(c, _mm512_set1_epi32((int)SS_MD5_C0)), bswap);
    d = _mm512_shuffle_epi8(_mm512_add_epi32(d, _mm512_set1_epi32((int)SS_MD5_D0)), bswap);
    __m512i h0 = _mm512_unpacklo_epi32(b, a), h1 = _mm512_unpackhi_epi32(b, a);
    __m512i l0 = _mm512_unpacklo_epi32(d, c), l1 = _mm512_unpackhi_epi32(d, c);
    _mm512_storeu_si512((void *)hi, _mm512_permutex2var_epi64(h0, first, h1));
    _mm512_storeu_si512((void *)(hi + 8), _mm512_permutex2var_epi64(h0, second, h1));
    _mm512_storeu_si512((void *)lo, _mm512_permutex2var_epi64(l0, first, l1));
    _mm512_storeu_si512((void *)(lo + 8), _mm512_permutex2var_epi64(l0, second, l1));
}

/* Hash 48 short keys (p[l], len[l]) into hi[0..47], lo[0..47]: three groups
 * of 16 lanes with their steps interleaved (one step is a serial chain of four
 * instructions; independent chains keep the vector units busy). */
SS_AVX512 static void ss_md5_x48_avx512(const uint8_t *const *p, const uint32_t *len, uint64_t *hi, uint64_t *lo)
{
    __m512i w0[16], w1[16], w2[16];
    ss_zload(p, len, w0);
    ss_zload(p + 16, len + 16, w1);
    ss_zload(p + 32, len + 32, w2);
    __m512i a0 = _mm512_set1_epi32((int)SS_MD5_A0), b0 = _mm512_set1_epi32((int)SS_MD5_B0);
    __m512i c0 = _mm512_set1_epi32((int)SS_MD5_C0), d0 = _mm512_set1_epi32((int)SS_MD5_D0);
    __m512i a1 = a0, b1 = b0, c1 = c0, d1 = d0, a2 = a0, b2 = b0, c2 = c0, d2 = d0;
    const uint32_t *kp0 = ss_md5_k, *kp1 = ss_md5_k, *kp2 = ss_md5_k;
    __asm__("" : "+r"(kp0), "+r"(kp1), "+r"(kp2));
#define X(f, a, b, c, d, g, s, k)                          \
    SS_ZSTEP(f, a##0, b##0, c##0, d##0, w0[g], s, *kp0++); \
    SS_ZSTEP(f, a##1, b##1, c##1, d##1, w1[g], s, *kp1++); \
    SS_ZSTEP(f, a##2, b##2, c##2, d##2, w2[g], s, *kp2++);
    SS_MD5_STEPS(X)
#undef X
    ss_zstore(a0, b0, c0, d0, hi, lo);
    ss_zstore(a1, b1, c1, d1, hi + 16, lo + 16);
    ss_zstore(a2, b2, c2, d2, hi + 32, lo + 32);
}

/* One group of 16 lanes, for passes of up to 16 keys. */
SS_AVX512 static void ss_md5_x16_avx512(const uint8_t *const *p, const uint32_t *len, uint64_t *hi, uint64_t *lo)
{
    __m512i w[16];
    ss_zload(p, len, w);
    __m512i a = _mm512_set1_epi32((int)SS_MD5_A0), b = _mm512_set1_epi32((int)SS_MD5_B0);
    __m512i c = _mm512_set1_epi32((int)SS_MD5_C0), d = _mm512_set1_epi32((int)SS_MD5_D0);
    const uint32_t *kp = ss_md5_k;
    __asm__("" : "+r"(kp));
#define X(f, a, b, c, d, g, s, k) SS_ZSTEP(f, a, b, c, d, w[g], s, *kp++);
    SS_MD5_STEPS(X)
#undef X
    ss_zstore(a, b, c, d, hi, lo);
}

/* Hash the cnt (1..SS_ZLANES) collected keys, whose batch positions are
 * idx[0..cnt); unused lanes hash empty keys (a zero mask loads nothing). */
SS_AVX512 static void ss_zscatter(const uint8_t **p, uint32_t *len, const int64_t *idx, int cnt,
                                  uint64_t *hi, uint64_t *lo)
{
    uint64_t th[SS_ZLANES], tl[SS_ZLANES];
    int lanes = cnt <= 16 ? 16 : SS_ZLANES;
    for (int l = cnt; l < lanes; l++) {
        p[l] = p[0];
        len[l] = 0;
    }
    if (lanes == 16)
        ss_md5_x16_avx512(p, len, th, tl);
    else
        ss_md5_x48_avx512(p, len, th, tl);
    for (int l = 0; l < cnt; l++) {
        hi[idx[l]] = th[l];
        lo[idx[l]] = tl[l];
    }
}

/* 1 if keys i .. i + SS_ZLANES - 1 are all <= 55 bytes (a negative length,
 * compared unsigned, counts as long). */
SS_AVX512 static inline int ss_zrun_short(const void *offsets, int is64, int64_t i)
{
    __mmask16 bad = 0;
    if (!is64) {
        const int32_t *o = (const int32_t *)offsets + i;
        const __m512i lim = _mm512_set1_epi32(SS_MD5_ONE_BLOCK_MAX);
        for (int j = 0; j < SS_ZLANES; j += 16) {
            __m512i l = _mm512_sub_epi32(_mm512_loadu_si512((const void *)(o + j + 1)),
                                         _mm512_loadu_si512((const void *)(o + j)));
            bad |= _mm512_cmpgt_epu32_mask(l, lim);
        }
    } else {
        const int64_t *o = (const int64_t *)offsets + i;
        const __m512i lim = _mm512_set1_epi64(SS_MD5_ONE_BLOCK_MAX);
        for (int j = 0; j < SS_ZLANES; j += 8) {
            __m512i l = _mm512_sub_epi64(_mm512_loadu_si512((const void *)(o + j + 1)),
                                         _mm512_loadu_si512((const void *)(o + j)));
            bad |= _mm512_cmpgt_epu64_mask(l, lim);
        }
    }
    return bad == 0;
}

/* Main loop, as ss_batch_avx2: runs of SS_ZLANES short keys straight through
 * the kernel, other short keys collected, longer keys scalar. */
SS_AVX512 static void ss_batch_avx512(const uint8_t *data, const void *offsets, int is64, int64_t n,
                                      uint64_t *hi, uint64_t *lo)
{
    const uint8_t *p[SS_ZLANES];
    uint32_t len[SS_ZLANES];
    int64_t idx[SS_ZLANES];
    int cnt = 0;
    int64_t i = 0;

    while (i < n) {
        if (cnt == 0 && n - i >= SS_ZLANES && ss_zrun_short(offsets, is64, i)) {
            for (int j = 0; j < SS_ZLANES; j++) {
                int64_t s = ss_key_off(offsets, is64, i + j);
                p[j] = data + s;
                len[j] = (uint32_t)(ss_key_off(offsets, is64, i + j + 1) - s);
            }
            ss_md5_x48_avx512(p, len, hi + i, lo + i);
            i += SS_ZLANES;
            continue;
        }
        int64_t s = ss_key_off(offsets, is64, i);
        size_t klen = (size_t)(ss_key_off(offsets, is64, i + 1) - s);
        if (klen <= SS_MD5_ONE_BLOCK_MAX) {
            p[cnt] = data + s;
            len[cnt] = (uint32_t)klen;
            idx[cnt++] = i;
            if (cnt == SS_ZLANES) {
                ss_zscatter(p, len, idx, cnt, hi, lo);
                cnt = 0;
            }
        } else {
            ss_long_key(data + s, klen, hi + i, lo + i);
        }
        i++;
    }

    /* Tail: from 3 keys on, one 16-lane pass (about the latency of one scalar
     * pair: 64 steps of a 4-instruction chain) is estimated to win; not tuned. */
    if (cnt >= 3) {
        ss_zscatter(p, len, idx, cnt, hi, lo);
    } else {
        uint8_t blk[2][64];
        for (int l = 0; l < cnt; l++)
            ss_pad_short(blk[l], p[l], len[l]);
        ss_scalar_blocks(blk, idx, cnt, hi, lo);
    }
}

#endif /* SS_MD5_X86 */

/* ------------------------------------------------------------------------- */
/* Public entry points                                                       */
/* ------------------------------------------------------------------------- */

int ss_md5_have_avx2(void)
{
#if SS_MD5_X86
    /* libgcc / compiler-rt initialise the CPU model in a constructor and also
     * check that the OS saves YMM state; this only reads that data. */
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

int ss_md5_have_avx512(void)
{
#if SS_MD5_X86
    /* As above; the AVX-512 features count only when the OS saves the opmask
     * and ZMM state. */
    return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl")) ? 1 : 0;
#else
    return 0;
#endif
}

/* The cap SHARDSTREAM_MD5 puts on SS_MD5_AUTO, read once (-1: not read yet).
 * Racing first readers compute the same value. */
static int ss_md5_env_cap = -1;

#if defined(__GNUC__)
#define SS_LOAD_RELAXED(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#define SS_STORE_RELAXED(p, v) __atomic_store_n(p, v, __ATOMIC_RELAXED)
#else
#define SS_LOAD_RELAXED(p) (*(volatile int *)(p))
#define SS_STORE_RELAXED(p, v) (*(volatile int *)(p) = (v))
#endif

static int ss_md5_cap(void)
{
    int cap = SS_LOAD_RELAXED(&ss_md5_env_cap);
    if (cap < 0) {
        const char *v = getenv("SHARDSTREAM_MD5");
        cap = SS_MD5_AVX512;
        if (v && strcmp(v, "scalar") == 0)
            cap = SS_MD5_SCALAR;
        else if (v && strcmp(v, "avx2") == 0)
            cap = SS_MD5_AVX2;
        SS_STORE_RELAXED(&ss_md5_env_cap, cap);
    }
    return cap;
}

int ss_md5_kernel(int simd)
{
    int want;
    if (simd == SS_MD5_SCALAR)
        return SS_MD5_SCALAR;
    want = simd == SS_MD5_AVX2 ? SS_MD5_AVX2 : simd == SS_MD5_AVX512 ? SS_MD5_AVX512 : ss_md5_cap();
    if (want >= SS_MD5_AVX512 && ss_md5_have_avx512())
        return SS_MD5_AVX512;
    if (want >= SS_MD5_AVX2 && ss_md5_have_avx2())
        return SS_MD5_AVX2;
    return SS_MD5_SCALAR;
}

void ss_md5_batch(const uint8_t *data, const void *offsets, int offsets_are_64, int64_t n,
                  uint64_t *hi, uint64_t *lo, int simd)
{
    if (n <= 0)
        return;
#if SS_MD5_X86
    switch (ss_md5_kernel(simd)) {
    case SS_MD5_AVX512:
        ss_batch_avx512(data, offsets, offsets_are_64, n, hi, lo);
        return;
    case SS_MD5_AVX2:
        ss_batch_avx2(data, offsets, offsets_are_64, n, hi, lo);
        return;
    default:
        break;
    }
#else
    (void)simd;
#endif
    ss_batch_scalar(data, offsets, offsets_are_64, n, hi, lo);
}
