/* Self-test and microbenchmark for csrc/shardstream/ss_md5.c.
 *
 * Build and run (from csrc/):
 *   gcc -O3 -Wall -Wextra -Ishardstream tests/md5_selftest.c shardstream/ss_md5.c -o /tmp/md5_selftest && /tmp/md5_selftest
 * Pass --no-bench to skip the benchmark (e.g. under sanitizers).
 */
#include "ss_md5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures = 0;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            failures++;                                    \
            if (failures <= 20) {                          \
                fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                fprintf(stderr, __VA_ARGS__);              \
                fputc('\n', stderr);                       \
            }                                              \
        }                                                  \
    } while (0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void digest_to_hilo(const uint8_t d[16], uint64_t *hi, uint64_t *lo)
{
    uint64_t h = 0, l = 0;
    for (int i = 0; i < 8; i++) {
        h = (h << 8) | d[i];
        l = (l << 8) | d[8 + i];
    }
    *hi = h;
    *lo = l;
}

static void hex(const uint8_t d[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* RFC 1321, appendix A.5. */
static void test_rfc_vectors(void)
{
    static const char *const vec[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    const int nv = (int)(sizeof vec / sizeof vec[0]);
    int32_t offs[8];
    char buf[512];
    size_t pos = 0;

    offs[0] = 0;
    for (int i = 0; i < nv; i++) {
        uint8_t d[16];
        char h[33];
        size_t len = strlen(vec[i][0]);
        ss_md5_one((const uint8_t *)vec[i][0], len, d);
        hex(d, h);
        CHECK(strcmp(h, vec[i][1]) == 0, "md5(\"%s\") = %s, want %s", vec[i][0], h, vec[i][1]);
        memcpy(buf + pos, vec[i][0], len);
        pos += len;
        offs[i + 1] = (int32_t)pos;
    }

    /* The same vectors through the batch API on both paths. */
    for (int simd = 0; simd <= 1; simd++) {
        uint64_t hi[8], lo[8];
        ss_md5_batch((const uint8_t *)buf, offs, 0, nv, hi, lo, simd);
        for (int i = 0; i < nv; i++) {
            uint8_t d[16];
            uint64_t h, l;
            ss_md5_one((const uint8_t *)vec[i][0], strlen(vec[i][0]), d);
            digest_to_hilo(d, &h, &l);
            CHECK(hi[i] == h && lo[i] == l, "batch simd=%d vector %d mismatch", simd, i);
        }
    }
}

/* Keys laid out Arrow-style in a buffer allocated to exactly the bytes the
 * offsets cover (so ASan catches any over-read), with offsets[0] != 0. */
struct keyset {
    uint8_t *alloc;   /* malloc'ed block: [prefix][keys] */
    uint8_t *data;    /* = alloc, offsets are relative to this */
    int64_t *off64;
    int32_t *off32;
    int64_t n;
};

static size_t pick_len(int mode)
{
    switch (mode) {
    case 0: /* benchmark-style partition keys */
        return 16 + (size_t)(rng() % 21);
    case 1: /* 0..300, biased toward short keys so SIMD groups mix with long keys */
        return (rng() % 4) ? (size_t)(rng() % 64) : (size_t)(rng() % 301);
    default: /* short keys only, 0..55 */
        return (size_t)(rng() % 56);
    }
}

static void keyset_make(struct keyset *ks, int64_t n, int mode, size_t prefix)
{
    size_t *lens = malloc((size_t)n * sizeof *lens);
    size_t total = prefix;
    for (int64_t i = 0; i < n; i++) {
        lens[i] = pick_len(mode);
        total += lens[i];
    }
    ks->alloc = malloc(total ? total : 1);
    ks->data = ks->alloc;
    ks->off64 = malloc((size_t)(n + 1) * sizeof *ks->off64);
    ks->off32 = malloc((size_t)(n + 1) * sizeof *ks->off32);
    ks->n = n;
    for (size_t i = 0; i < total; i++)
        ks->alloc[i] = (uint8_t)rng();
    int64_t p = (int64_t)prefix;
    for (int64_t i = 0; i < n; i++) {
        ks->off64[i] = p;
        ks->off32[i] = (int32_t)p;
        p += (int64_t)lens[i];
    }
    ks->off64[n] = p;
    ks->off32[n] = (int32_t)p;
    free(lens);
}

static void keyset_free(struct keyset *ks)
{
    free(ks->alloc);
    free(ks->off64);
    free(ks->off32);
}

/* Compare simd=1, simd=0 (int32 and int64 offsets) and ss_md5_one for keys
 * [first, first + n) of ks (sub-ranges exercise non-zero offsets[0] and tails). */
static void check_range(const struct keyset *ks, int64_t first, int64_t n, const char *what)
{
    uint64_t *h[4], *l[4];
    for (int k = 0; k < 4; k++) {
        h[k] = malloc((size_t)(n ? n : 1) * 8);
        l[k] = malloc((size_t)(n ? n : 1) * 8);
    }
    ss_md5_batch(ks->data, ks->off32 + first, 0, n, h[0], l[0], 0);
    ss_md5_batch(ks->data, ks->off32 + first, 0, n, h[1], l[1], 1);
    ss_md5_batch(ks->data, ks->off64 + first, 1, n, h[2], l[2], 0);
    ss_md5_batch(ks->data, ks->off64 + first, 1, n, h[3], l[3], 1);
    for (int64_t i = 0; i < n; i++) {
        uint8_t d[16];
        uint64_t eh, el;
        int64_t s = ks->off64[first + i], e = ks->off64[first + i + 1];
        ss_md5_one(ks->data + s, (size_t)(e - s), d);
        digest_to_hilo(d, &eh, &el);
        for (int k = 0; k < 4; k++)
            CHECK(h[k][i] == eh && l[k][i] == el, "%s: key %lld (len %lld) variant %d (simd=%d, off64=%d)",
                  what, (long long)i, (long long)(e - s), k, k & 1, k >> 1);
    }
    for (int k = 0; k < 4; k++) {
        free(h[k]);
        free(l[k]);
    }
}

static void test_random(void)
{
    struct keyset ks;

    /* Mixed lengths 0..300. */
    keyset_make(&ks, 20000, 1, 7);
    check_range(&ks, 0, ks.n, "mixed");
    for (int64_t n = 0; n <= 60; n++)   /* every tail size, several starting points */
        for (int64_t first = 1; first < 200; first += 37)
            check_range(&ks, first, n, "mixed-small");
    keyset_free(&ks);

    /* Short keys only: full 16-lane groups with consecutive indices. */
    keyset_make(&ks, 5003, 2, 3);
    check_range(&ks, 0, ks.n, "short");
    check_range(&ks, 5, ks.n - 5, "short-offset");
    keyset_free(&ks);

    /* Every length 0..4200 once each, all in one batch and in 17-key windows. */
    {
        int64_t n = 4201;
        size_t total = 5;
        for (int64_t i = 0; i < n; i++)
            total += (size_t)i;
        ks.alloc = malloc(total);
        ks.data = ks.alloc;
        ks.off64 = malloc((size_t)(n + 1) * 8);
        ks.off32 = malloc((size_t)(n + 1) * 4);
        ks.n = n;
        for (size_t i = 0; i < total; i++)
            ks.alloc[i] = (uint8_t)rng();
        int64_t p = 5;
        for (int64_t i = 0; i <= n; i++) {
            ks.off64[i] = p;
            ks.off32[i] = (int32_t)p;
            p += i;
        }
        check_range(&ks, 0, n, "all-lengths");
        for (int64_t first = 0; first + 17 <= 200; first += 17)
            check_range(&ks, first, 17, "all-lengths-window");
        keyset_free(&ks);
    }
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double bench(const struct keyset *ks, int simd, uint64_t *hi, uint64_t *lo)
{
    double t[5];
    ss_md5_batch(ks->data, ks->off32, 0, ks->n, hi, lo, simd); /* warm-up */
    for (int r = 0; r < 5; r++) {
        double t0 = now_sec();
        ss_md5_batch(ks->data, ks->off32, 0, ks->n, hi, lo, simd);
        t[r] = now_sec() - t0;
    }
    qsort(t, 5, sizeof t[0], cmp_double);
    return (double)ks->n / t[2];
}

int main(int argc, char **argv)
{
    int do_bench = !(argc > 1 && strcmp(argv[1], "--no-bench") == 0);

    printf("ss_md5_have_avx2() = %d\n", ss_md5_have_avx2());
    test_rfc_vectors();
    test_random();
    if (failures) {
        printf("FAILED: %d check(s)\n", failures);
        return 1;
    }
    printf("correctness: all checks passed\n");

    if (do_bench) {
        struct keyset ks;
        keyset_make(&ks, 1000000, 0, 0);
        uint64_t *hi = malloc((size_t)ks.n * 8), *lo = malloc((size_t)ks.n * 8);
        double scalar = bench(&ks, 0, hi, lo);
        double simd = bench(&ks, 1, hi, lo);
        printf("bench 1e6 keys of 16..36 bytes, median of 5:\n");
        printf("  scalar: %7.2f M keys/s\n", scalar / 1e6);
        printf("  simd:   %7.2f M keys/s%s\n", simd / 1e6, ss_md5_have_avx2() ? "" : " (no AVX2: scalar)");
        printf("  ratio simd/scalar: %.2fx\n", simd / scalar);
        free(hi);
        free(lo);
        keyset_free(&ks);
    }
    return 0;
}
