/* Small helpers that C says better than Cython: the wall clock, 128-bit
 * decimal parsing, UTF-8 character counting and ring-buffer copies. */
#ifndef SS_UTIL_H
#define SS_UTIL_H

#include <stdint.h>
#include <string.h>
#include <time.h>

/* Milliseconds since the Unix epoch from the realtime clock. */
static inline int64_t ss_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parse a decimal hash key "0" or "[1-9][0-9]{0,38}" into hi:lo.  Returns 0
 * on success, -1 if the text is not of that form, -2 if it is >= 2^128. */
static inline int ss_parse_u128(const char *s, int64_t len, uint64_t *hi, uint64_t *lo)
{
    if (len < 1 || len > 39)
        return -1;
    if (len > 1 && s[0] == '0')
        return -1;
    unsigned __int128 v = 0;
    const unsigned __int128 max = ~(unsigned __int128)0;
    for (int64_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return -1;
        if (v > (max - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *hi = (uint64_t)(v >> 64);
    *lo = (uint64_t)v;
    return 0;
}

/* Number of code points in valid UTF-8 text: bytes that are not continuation bytes. */
static inline int64_t ss_utf8_length(const uint8_t *s, int64_t len)
{
    int64_t n = 0;
    for (int64_t i = 0; i < len; i++)
        n += (s[i] & 0xC0) != 0x80;
    return n;
}

/* memcpy for the short copies of single records: fixed-size moves the
 * compiler inlines (overlapping at the tail) instead of a call into libc,
 * which costs more than the copy itself for keys and ~100-byte payloads. */
static inline void ss_copy(uint8_t *d, const uint8_t *s, uint64_t n)
{
    if (n <= 16) {
        if (n >= 8) {
            uint64_t a, b;
            memcpy(&a, s, 8);
            memcpy(&b, s + n - 8, 8);
            memcpy(d, &a, 8);
            memcpy(d + n - 8, &b, 8);
        } else if (n >= 4) {
            uint32_t a, b;
            memcpy(&a, s, 4);
            memcpy(&b, s + n - 4, 4);
            memcpy(d, &a, 4);
            memcpy(d + n - 4, &b, 4);
        } else if (n) {
            uint8_t a = s[0], b = s[n / 2], c = s[n - 1];
            d[0] = a;
            d[n / 2] = b;
            d[n - 1] = c;
        }
    } else if (n <= 256) {
        uint8_t tail[16];
        memcpy(tail, s + n - 16, 16);
        for (uint64_t i = 0; i + 16 < n; i += 16)
            memcpy(d + i, s + i, 16);
        memcpy(d + n - 16, tail, 16);
    } else {
        memcpy(d, s, n);
    }
}

/* Copy `len` bytes starting at logical position `pos` of a ring of `cap`
 * bytes (a power of two) to linear memory. */
static inline void ss_ring_read(uint8_t *dst, const uint8_t *ring, uint64_t cap, uint64_t pos, uint64_t len)
{
    uint64_t at = pos & (cap - 1);
    uint64_t first = cap - at < len ? cap - at : len;
    memcpy(dst, ring + at, first);
    if (len > first)
        memcpy(dst + first, ring, len - first);
}

/* Copy linear memory into a ring at logical position `pos`. */
static inline void ss_ring_write(uint8_t *ring, uint64_t cap, uint64_t pos, const uint8_t *src, uint64_t len)
{
    uint64_t at = pos & (cap - 1);
    if (cap - at >= len) {
        ss_copy(ring + at, src, len);
        return;
    }
    uint64_t first = cap - at;
    memcpy(ring + at, src, first);
    memcpy(ring, src + first, len - first);
}

/* Copy logical range [pos, pos+len) from one ring into another of a different size. */
static inline void ss_ring_transfer(uint8_t *dst, uint64_t dcap, const uint8_t *src, uint64_t scap,
                                    uint64_t pos, uint64_t len)
{
    while (len) {
        uint64_t sa = pos & (scap - 1), da = pos & (dcap - 1);
        uint64_t n = len;
        if (scap - sa < n) n = scap - sa;
        if (dcap - da < n) n = dcap - da;
        memcpy(dst + da, src + sa, n);
        pos += n;
        len -= n;
    }
}

/* Standard padded base64 of s[0:n] into o (4 * ((n + 2) / 3) bytes); returns
 * the end of what was written.  The JSON wire's blobs (GetRecords' Data). */
static inline char *ss_b64_encode(char *o, const uint8_t *s, int64_t n)
{
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int64_t i = 0;
    for (; i + 3 <= n; i += 3, o += 4) {
        unsigned v = ((unsigned)s[i] << 16) | ((unsigned)s[i + 1] << 8) | s[i + 2];
        o[0] = table[(v >> 18) & 63];
        o[1] = table[(v >> 12) & 63];
        o[2] = table[(v >> 6) & 63];
        o[3] = table[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)s[i] << 16;
        o[0] = table[(v >> 18) & 63];
        o[1] = table[(v >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (n - i == 2) {
        unsigned v = ((unsigned)s[i] << 16) | ((unsigned)s[i + 1] << 8);
        o[0] = table[(v >> 18) & 63];
        o[1] = table[(v >> 12) & 63];
        o[2] = table[(v >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return o;
}

#endif
