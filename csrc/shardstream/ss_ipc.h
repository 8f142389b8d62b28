/* The bytes of one Arrow IPC record-batch message, written by hand for the
 * segment schema, and the CRC-32 segments keep of each batch.
 *
 * A segment batch message is the 8-byte prefix (continuation marker and
 * metadata length), a flatbuffer `Message` whose header is a `RecordBatch`,
 * then the body: every buffer at an 8-byte-aligned offset.  The flatbuffer's
 * layout is fixed but for the counts and the custom metadata value, so it is
 * laid out front to back here (objects after the offsets that name them, as
 * flatbuffers require; every scalar aligned to its size, as Arrow's
 * verifier checks).  Arrow's reader cannot tell it from what its own writer
 * makes; tests read every such message back through pyarrow.
 *
 * The CRC is zlib's CRC-32 (reflected polynomial 0xEDB88320), slicing by 8.
 */
#ifndef SS_IPC_H
#define SS_IPC_H

#include <stdint.h>
#include <string.h>

/* ---- CRC-32 --------------------------------------------------------------------------------- */

static uint32_t ss_crc_table[8][256];
static int ss_crc_ready = 0;

static void ss_crc32_init(void)
{
    if (ss_crc_ready)
        return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        ss_crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            ss_crc_table[t][i] = (ss_crc_table[t - 1][i] >> 8) ^ ss_crc_table[0][ss_crc_table[t - 1][i] & 0xFF];
    ss_crc_ready = 1;
}

/* zlib's crc32(crc, p, n): extend `crc` (0 to begin) over n bytes. */
static inline uint32_t ss_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        crc = ss_crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = ss_crc_table[7][w & 0xFF] ^ ss_crc_table[6][(w >> 8) & 0xFF] ^ ss_crc_table[5][(w >> 16) & 0xFF] ^
              ss_crc_table[4][(w >> 24) & 0xFF] ^ ss_crc_table[3][(w >> 32) & 0xFF] ^
              ss_crc_table[2][(w >> 40) & 0xFF] ^ ss_crc_table[1][(w >> 48) & 0xFF] ^ ss_crc_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = ss_crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* ---- the record-batch message's metadata ------------------------------------------------------ */

#define SS_IPC_MAX_NODES 8
#define SS_IPC_MAX_BUFFERS 24
#define SS_IPC_MAX_KEY 64
#define SS_IPC_MAX_VALUE 32
/* Room the prefix and flatbuffer of ss_ipc_batch_metadata may take. */
#define SS_IPC_METADATA_MAX (8 + 96 + 16 * SS_IPC_MAX_NODES + 8 + 16 * SS_IPC_MAX_BUFFERS + 40 + SS_IPC_MAX_KEY + \
                             SS_IPC_MAX_VALUE + 16)

static inline void ss_put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void ss_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void ss_put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Write the prefix and flatbuffer metadata of a RecordBatch message into `out`
 * (SS_IPC_METADATA_MAX bytes, 8-aligned) and return its size, a multiple of 8;
 * the body (body_length bytes) follows it.  Every field node has `length` rows
 * and no nulls; `buffers` holds nbufs (offset, length) pairs; the message's
 * custom metadata is the one pair key: value.  Returns 0 if a count is too
 * large for `out`. */
static size_t ss_ipc_batch_metadata(uint8_t *out, int64_t length, int nnodes, const int64_t *buffers, int nbufs,
                                    int64_t body_length, const char *key, size_t klen, const char *value,
                                    size_t vlen)
{
    if (nnodes > SS_IPC_MAX_NODES || nbufs > SS_IPC_MAX_BUFFERS || klen > SS_IPC_MAX_KEY || vlen > SS_IPC_MAX_VALUE)
        return 0;
    uint8_t *fb = out + 8; /* flatbuffer offsets count from here */
    memset(out, 0, SS_IPC_METADATA_MAX);
    /* root offset, then the Message vtable: 5 fields
       (version, header_type, header, bodyLength, custom_metadata) */
    const uint32_t vt_msg = 4, msg = 24;
    ss_put32(fb, msg);
    const uint16_t msg_vt[7] = {14, 24, 20, 22, 4, 8, 16};
    for (int i = 0; i < 7; i++)
        ss_put16(fb + vt_msg + 2 * i, msg_vt[i]);
    /* RecordBatch vtable: 3 fields (length, nodes, buffers) and its table */
    const uint32_t vt_rb = 48, rb = 64;
    const uint16_t rb_vt[5] = {10, 24, 8, 4, 16};
    for (int i = 0; i < 5; i++)
        ss_put16(fb + vt_rb + 2 * i, rb_vt[i]);
    /* nodes: a vector of 16-byte structs whose elements start 8-aligned */
    const uint32_t nodes = 92, nodes_end = nodes + 4 + 16 * (uint32_t)nnodes;
    const uint32_t bufs = nodes_end + 4, bufs_end = bufs + 4 + 16 * (uint32_t)nbufs;
    /* custom_metadata: a vector of one table offset, that KeyValue's vtable and table, its two strings */
    const uint32_t meta = bufs_end, vt_kv = meta + 8, kv = vt_kv + 8;
    const uint32_t key_at = kv + 12, value_at = (key_at + 4 + (uint32_t)klen + 1 + 3) & ~3u;
    const uint32_t fb_end = value_at + 4 + (uint32_t)vlen + 1;

    /* the Message table */
    ss_put32(fb + msg, msg - vt_msg);                 /* soffset to its vtable (before it) */
    ss_put32(fb + msg + 4, rb - (msg + 4));           /* header -> the RecordBatch */
    ss_put64(fb + msg + 8, (uint64_t)body_length);    /* bodyLength */
    ss_put32(fb + msg + 16, meta - (msg + 16));       /* custom_metadata */
    ss_put16(fb + msg + 20, 4);                       /* version: V5 */
    fb[msg + 22] = 3;                                 /* header_type: RecordBatch */
    /* the RecordBatch table */
    ss_put32(fb + rb, rb - vt_rb);
    ss_put32(fb + rb + 4, nodes - (rb + 4));
    ss_put64(fb + rb + 8, (uint64_t)length);
    ss_put32(fb + rb + 16, bufs - (rb + 16));
    ss_put32(fb + nodes, (uint32_t)nnodes);
    for (int i = 0; i < nnodes; i++) {
        ss_put64(fb + nodes + 4 + 16 * i, (uint64_t)length); /* length; null_count stays 0 */
    }
    ss_put32(fb + bufs, (uint32_t)nbufs);
    for (int i = 0; i < nbufs; i++) {
        ss_put64(fb + bufs + 4 + 16 * i, (uint64_t)buffers[2 * i]);
        ss_put64(fb + bufs + 12 + 16 * i, (uint64_t)buffers[2 * i + 1]);
    }
    /* [KeyValue] */
    ss_put32(fb + meta, 1);
    ss_put32(fb + meta + 4, kv - (meta + 4));
    const uint16_t kv_vt[4] = {8, 12, 4, 8};
    for (int i = 0; i < 4; i++)
        ss_put16(fb + vt_kv + 2 * i, kv_vt[i]);
    ss_put32(fb + kv, kv - vt_kv);
    ss_put32(fb + kv + 4, key_at - (kv + 4));
    ss_put32(fb + kv + 8, value_at - (kv + 8));
    ss_put32(fb + key_at, (uint32_t)klen);
    memcpy(fb + key_at + 4, key, klen);
    ss_put32(fb + value_at, (uint32_t)vlen);
    memcpy(fb + value_at + 4, value, vlen);
    /* prefix: continuation marker, then the metadata's length padded so the body starts 8-aligned */
    const uint32_t padded = (fb_end + 7) & ~7u;
    ss_put32(out, 0xFFFFFFFFu);
    ss_put32(out + 4, padded);
    return 8 + padded;
}

#endif
