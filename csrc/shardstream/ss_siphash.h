/* SipHash-2-4 (Aumasson & Bernstein): a keyed PRF for short inputs, in its
 * 64-bit and 128-bit output forms, and URL-safe base64 without padding for
 * whole 3-byte groups.  Written for receipt handles (_receipts.pyx): a
 * 29-byte body tagged with the first 13 bytes of its SipHash-2-4-128. */
#ifndef SS_SIPHASH_H
#define SS_SIPHASH_H

#include <stdint.h>
#include <string.h>

#define SS_ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SS_SIPROUND(v0, v1, v2, v3)                                                                      \
    do {                                                                                                 \
        v0 += v1;                                                                                        \
        v1 = SS_ROTL64(v1, 13);                                                                          \
        v1 ^= v0;                                                                                        \
        v0 = SS_ROTL64(v0, 32);                                                                          \
        v2 += v3;                                                                                        \
        v3 = SS_ROTL64(v3, 16);                                                                          \
        v3 ^= v2;                                                                                        \
        v0 += v3;                                                                                        \
        v3 = SS_ROTL64(v3, 21);                                                                          \
        v3 ^= v0;                                                                                        \
        v2 += v1;                                                                                        \
        v1 = SS_ROTL64(v1, 17);                                                                          \
        v1 ^= v2;                                                                                        \
        v2 = SS_ROTL64(v2, 32);                                                                          \
    } while (0)

/* Little-endian 64-bit load, whatever the host's order. */
static inline uint64_t ss_load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24) |
           ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

static inline void ss_store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* SipHash-2-4 of in[0:len] under the key (k0, k1) (the key's two little-endian
 * halves); writes outlen (8 or 16) bytes to out. */
static inline void ss_siphash24(const uint8_t *in, uint64_t len, uint64_t k0, uint64_t k1, uint8_t *out, int outlen)
{
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    uint64_t m, b = len << 56;
    uint64_t whole = len & ~(uint64_t)7;
    uint64_t i;
    if (outlen == 16)
        v1 ^= 0xee;
    for (i = 0; i < whole; i += 8) {
        m = ss_load_le64(in + i);
        v3 ^= m;
        SS_SIPROUND(v0, v1, v2, v3);
        SS_SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    for (i = whole; i < len; i++)
        b |= (uint64_t)in[i] << (8 * (i - whole));
    v3 ^= b;
    SS_SIPROUND(v0, v1, v2, v3);
    SS_SIPROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= outlen == 16 ? 0xee : 0xff;
    SS_SIPROUND(v0, v1, v2, v3);
    SS_SIPROUND(v0, v1, v2, v3);
    SS_SIPROUND(v0, v1, v2, v3);
    SS_SIPROUND(v0, v1, v2, v3);
    ss_store_le64(out, v0 ^ v1 ^ v2 ^ v3);
    if (outlen != 16)
        return;
    v1 ^= 0xdd;
    SS_SIPROUND(v0, v1, v2, v3);
    SS_SIPROUND(v0, v1, v2, v3);
    SS_SIPROUND(v0, v1, v2, v3);
    SS_SIPROUND(v0, v1, v2, v3);
    ss_store_le64(out + 8, v0 ^ v1 ^ v2 ^ v3);
}

static const char ss_b64url_alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* URL-safe base64 of s[0:n], n a multiple of 3 (so no padding): 4n/3 characters at o. */
static inline void ss_b64url_encode_groups(char *o, const uint8_t *s, int64_t n)
{
    for (int64_t i = 0; i < n; i += 3) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | (uint32_t)s[i + 2];
        o[0] = ss_b64url_alphabet[v >> 18];
        o[1] = ss_b64url_alphabet[(v >> 12) & 63];
        o[2] = ss_b64url_alphabet[(v >> 6) & 63];
        o[3] = ss_b64url_alphabet[v & 63];
        o += 4;
    }
}

/* The value of each URL-safe base64 character, -1 for every other byte; filled once. */
static inline const int8_t *ss_b64url_values(void)
{
    static int8_t table[256];
    static int ready = 0;
    if (!ready) {
        memset(table, -1, sizeof table);
        for (int i = 0; i < 64; i++)
            table[(uint8_t)ss_b64url_alphabet[i]] = (int8_t)i;
        ready = 1;
    }
    return table;
}

/* Decode n characters (a multiple of 4, no padding) of URL-safe base64 into 3n/4
 * bytes at o.  Returns 0, or -1 at the first byte outside the alphabet. */
static inline int ss_b64url_decode_groups(uint8_t *o, const uint8_t *s, int64_t n, const int8_t *values)
{
    for (int64_t i = 0; i < n; i += 4) {
        int32_t a = values[s[i]], b = values[s[i + 1]], c = values[s[i + 2]], d = values[s[i + 3]];
        if ((a | b | c | d) < 0)
            return -1;
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | (uint32_t)d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    }
    return 0;
}

#endif
