/* ss_md5_key: the MD5 of one partition key as the (hi, lo) 64-bit halves of its 128-bit
 * big-endian value, inline, for put_record's single key.
 *
 * A key of at most 55 bytes is one padded block.  Here the block is assembled in registers
 * (8-byte loads of the key, the 0x80 and the bit length or-ed in) rather than by memset +
 * memcpy of a stack buffer, and the result comes out as hi/lo without a digest in memory.  The
 * steps are RFC 1321's, written so that the serial chain through `b` is as short as the
 * algebra allows: round 2's G(b, c, d) = (b & d) | (c & ~d) is a sum of two disjoint masks, so
 * (c & ~d) joins the off-chain part of the sum and only (b & d) is left on the chain; round 3
 * xors b into the earlier c ^ d.  Longer keys go to ss_md5_one (ss_md5.h).  ~87 ns a key
 * against ss_md5_one's ~127 ns (latency, 26-byte key, on the machine this was written on).
 * tests/native/test_put_record_routing.py checks put_record's shard against hashlib's MD5 for
 * keys of every UTF-8 length from 1 to 256 characters.
 */
#ifndef SS_MD5_KEY_H
#define SS_MD5_KEY_H

#include <stdint.h>
#include <string.h>

#include "ss_md5.h"

static inline uint32_t ss_mk_rotl(uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

#define SS_MK_F(a, b, c, d, x, s, k) a = b + ss_mk_rotl(a + ((x) + (k)) + ((d) ^ ((b) & ((c) ^ (d)))), s)
#define SS_MK_G(a, b, c, d, x, s, k) a = b + ss_mk_rotl((a + ((x) + (k)) + ((c) & ~(d))) + ((b) & (d)), s)
#define SS_MK_H(a, b, c, d, x, s, k) a = b + ss_mk_rotl(a + ((x) + (k)) + ((b) ^ ((c) ^ (d))), s)
#define SS_MK_I(a, b, c, d, x, s, k) a = b + ss_mk_rotl(a + ((x) + (k)) + ((c) ^ ((b) | ~(d))), s)

/* Little-endian load of n <= 8 bytes (n may be 0). */
static inline uint64_t ss_mk_load_partial(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4); /* overlaps lo when n < 8 */
        v = (uint64_t)lo | ((uint64_t)hi << (8 * (n - 4)));
    } else {
        for (size_t i = 0; i < n; i++)
            v |= (uint64_t)p[i] << (8 * i);
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "ss_md5_key.h assumes a little-endian target"
#endif
    return v;
}

/* hi:lo = MD5(key[0:len]) read as a big-endian 128-bit number. */
static inline void ss_md5_key(const uint8_t *key, size_t len, uint64_t *hi, uint64_t *lo)
{
    if (len > 55) {
        uint8_t digest[16];
        uint64_t h, l;
        ss_md5_one(key, len, digest);
        memcpy(&h, digest, 8);
        memcpy(&l, digest + 8, 8);
        *hi = __builtin_bswap64(h);
        *lo = __builtin_bswap64(l);
        return;
    }
    uint64_t q[8];
    size_t full = len / 8;
    for (size_t i = 0; i < 8; i++)
        q[i] = 0;
    for (size_t i = 0; i < full; i++)
        memcpy(&q[i], key + 8 * i, 8);
    size_t rem = len - 8 * full;
    q[full] = ss_mk_load_partial(key + 8 * full, rem) | ((uint64_t)0x80 << (8 * rem));
    q[7] |= (uint64_t)len << 3; /* len <= 55: the bit length sits in the last word, below the 0x80 */
    uint32_t w[16];
    for (int i = 0; i < 8; i++) {
        w[2 * i] = (uint32_t)q[i];
        w[2 * i + 1] = (uint32_t)(q[i] >> 32);
    }
    uint32_t a = 0x67452301u, b = 0xefcdab89u, c = 0x98badcfeu, d = 0x10325476u;
    SS_MK_F(a, b, c, d, w[0], 7, 0xd76aa478u);
    SS_MK_F(d, a, b, c, w[1], 12, 0xe8c7b756u);
    SS_MK_F(c, d, a, b, w[2], 17, 0x242070dbu);
    SS_MK_F(b, c, d, a, w[3], 22, 0xc1bdceeeu);
    SS_MK_F(a, b, c, d, w[4], 7, 0xf57c0fafu);
    SS_MK_F(d, a, b, c, w[5], 12, 0x4787c62au);
    SS_MK_F(c, d, a, b, w[6], 17, 0xa8304613u);
    SS_MK_F(b, c, d, a, w[7], 22, 0xfd469501u);
    SS_MK_F(a, b, c, d, w[8], 7, 0x698098d8u);
    SS_MK_F(d, a, b, c, w[9], 12, 0x8b44f7afu);
    SS_MK_F(c, d, a, b, w[10], 17, 0xffff5bb1u);
    SS_MK_F(b, c, d, a, w[11], 22, 0x895cd7beu);
    SS_MK_F(a, b, c, d, w[12], 7, 0x6b901122u);
    SS_MK_F(d, a, b, c, w[13], 12, 0xfd987193u);
    SS_MK_F(c, d, a, b, w[14], 17, 0xa679438eu);
    SS_MK_F(b, c, d, a, w[15], 22, 0x49b40821u);
    SS_MK_G(a, b, c, d, w[1], 5, 0xf61e2562u);
    SS_MK_G(d, a, b, c, w[6], 9, 0xc040b340u);
    SS_MK_G(c, d, a, b, w[11], 14, 0x265e5a51u);
    SS_MK_G(b, c, d, a, w[0], 20, 0xe9b6c7aau);
    SS_MK_G(a, b, c, d, w[5], 5, 0xd62f105du);
    SS_MK_G(d, a, b, c, w[10], 9, 0x02441453u);
    SS_MK_G(c, d, a, b, w[15], 14, 0xd8a1e681u);
    SS_MK_G(b, c, d, a, w[4], 20, 0xe7d3fbc8u);
    SS_MK_G(a, b, c, d, w[9], 5, 0x21e1cde6u);
    SS_MK_G(d, a, b, c, w[14], 9, 0xc33707d6u);
    SS_MK_G(c, d, a, b, w[3], 14, 0xf4d50d87u);
    SS_MK_G(b, c, d, a, w[8], 20, 0x455a14edu);
    SS_MK_G(a, b, c, d, w[13], 5, 0xa9e3e905u);
    SS_MK_G(d, a, b, c, w[2], 9, 0xfcefa3f8u);
    SS_MK_G(c, d, a, b, w[7], 14, 0x676f02d9u);
    SS_MK_G(b, c, d, a, w[12], 20, 0x8d2a4c8au);
    SS_MK_H(a, b, c, d, w[5], 4, 0xfffa3942u);
    SS_MK_H(d, a, b, c, w[8], 11, 0x8771f681u);
    SS_MK_H(c, d, a, b, w[11], 16, 0x6d9d6122u);
    SS_MK_H(b, c, d, a, w[14], 23, 0xfde5380cu);
    SS_MK_H(a, b, c, d, w[1], 4, 0xa4beea44u);
    SS_MK_H(d, a, b, c, w[4], 11, 0x4bdecfa9u);
    SS_MK_H(c, d, a, b, w[7], 16, 0xf6bb4b60u);
    SS_MK_H(b, c, d, a, w[10], 23, 0xbebfbc70u);
    SS_MK_H(a, b, c, d, w[13], 4, 0x289b7ec6u);
    SS_MK_H(d, a, b, c, w[0], 11, 0xeaa127fau);
    SS_MK_H(c, d, a, b, w[3], 16, 0xd4ef3085u);
    SS_MK_H(b, c, d, a, w[6], 23, 0x04881d05u);
    SS_MK_H(a, b, c, d, w[9], 4, 0xd9d4d039u);
    SS_MK_H(d, a, b, c, w[12], 11, 0xe6db99e5u);
    SS_MK_H(c, d, a, b, w[15], 16, 0x1fa27cf8u);
    SS_MK_H(b, c, d, a, w[2], 23, 0xc4ac5665u);
    SS_MK_I(a, b, c, d, w[0], 6, 0xf4292244u);
    SS_MK_I(d, a, b, c, w[7], 10, 0x432aff97u);
    SS_MK_I(c, d, a, b, w[14], 15, 0xab9423a7u);
    SS_MK_I(b, c, d, a, w[5], 21, 0xfc93a039u);
    SS_MK_I(a, b, c, d, w[12], 6, 0x655b59c3u);
    SS_MK_I(d, a, b, c, w[3], 10, 0x8f0ccc92u);
    SS_MK_I(c, d, a, b, w[10], 15, 0xffeff47du);
    SS_MK_I(b, c, d, a, w[1], 21, 0x85845dd1u);
    SS_MK_I(a, b, c, d, w[8], 6, 0x6fa87e4fu);
    SS_MK_I(d, a, b, c, w[15], 10, 0xfe2ce6e0u);
    SS_MK_I(c, d, a, b, w[6], 15, 0xa3014314u);
    SS_MK_I(b, c, d, a, w[13], 21, 0x4e0811a1u);
    SS_MK_I(a, b, c, d, w[4], 6, 0xf7537e82u);
    SS_MK_I(d, a, b, c, w[11], 10, 0xbd3af235u);
    SS_MK_I(c, d, a, b, w[2], 15, 0x2ad7d2bbu);
    SS_MK_I(b, c, d, a, w[9], 21, 0xeb86d391u);
    a += 0x67452301u;
    b += 0xefcdab89u;
    c += 0x98badcfeu;
    d += 0x10325476u;
    *hi = ((uint64_t)__builtin_bswap32(a) << 32) | __builtin_bswap32(b);
    *lo = ((uint64_t)__builtin_bswap32(c) << 32) | __builtin_bswap32(d);
}

#endif
