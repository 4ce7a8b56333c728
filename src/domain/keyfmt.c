/* keyfmt.c - credential strings: generation and the checksum gate; see keyfmt.h. */
#include "domain/keyfmt.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/base62.h"
#include "crypto/crypto.h"

#define BODY_LEN (KW_KEYFMT_RANDOM_LEN + KW_KEYFMT_CRC_LEN)

static int prefix_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

static int prefix_ok(const char *p, size_t n)
{
    size_t i;

    if (n < 1 || n > KW_KEYFMT_PREFIX_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        if (!prefix_char(p[i], i == 0))
            return 0;
    }
    return 1;
}

int kw_keyfmt_prefix_valid(const char *prefix)
{
    return prefix_ok(prefix, strnlen(prefix, KW_KEYFMT_PREFIX_MAX + 1));
}

static uint64_t crc_of(const char *random_part)
{
    return (uint64_t)crc32(0L, (const Bytef *)random_part, KW_KEYFMT_RANDOM_LEN);
}

enum kw_err kw_keyfmt_generate(const char *prefix, char out[KW_KEYFMT_MAX])
{
    unsigned char r[64];
    size_t n = strnlen(prefix, KW_KEYFMT_PREFIX_MAX + 1), k = 0, i;
    char *body;

    if (!prefix_ok(prefix, n))
        return KW_ERR_INVALID;
    memcpy(out, prefix, n);
    out[n] = '_';
    body = out + n + 1;
    while (k < KW_KEYFMT_RANDOM_LEN) {
        if (kw_crypto_random(r, sizeof(r)) != KW_OK)
            return KW_ERR_CRYPTO;
        /* Rejection sampling keeps the 62 characters equally likely: 43 of them carry 256 bits. */
        for (i = 0; i < sizeof(r) && k < KW_KEYFMT_RANDOM_LEN; i++) {
            if ((r[i] & 63) < 62)
                body[k++] = kw_base62_alphabet[r[i] & 63];
        }
    }
    kw_base62_encode_u64(crc_of(body), body + KW_KEYFMT_RANDOM_LEN, KW_KEYFMT_CRC_LEN);
    body[BODY_LEN] = '\0';
    return KW_OK;
}

/* Digit value of each byte in base62, 0xff for bytes outside the alphabet (the hot path avoids calls). */
static const uint8_t b62[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
    51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

enum kw_err kw_keyfmt_check_shape(const char *s, size_t len)
{
    const unsigned char *body;
    unsigned bad = 0;
    size_t i;

    if (len < BODY_LEN + 2 || len > BODY_LEN + 1 + KW_KEYFMT_PREFIX_MAX)
        return KW_ERR_MALFORMED;
    body = (const unsigned char *)s + len - BODY_LEN;
    if (body[-1] != '_' || !prefix_ok(s, len - BODY_LEN - 1))
        return KW_ERR_MALFORMED;
    for (i = 0; i < BODY_LEN; i++)
        bad |= b62[body[i]];
    /* Any 0xff sets bit 7, which no digit (< 62) has. */
    return (bad & 0x80) != 0 ? KW_ERR_MALFORMED : KW_OK;
}

enum kw_err kw_keyfmt_check_crc(const char *s, size_t len)
{
    const unsigned char *body = (const unsigned char *)s + len - BODY_LEN;
    uint64_t crc = 0;
    size_t i;

    for (i = KW_KEYFMT_RANDOM_LEN; i < BODY_LEN; i++)
        crc = crc * 62 + (b62[body[i]] & 63);
    return crc != crc_of((const char *)body) ? KW_ERR_MALFORMED : KW_OK;
}

enum kw_err kw_keyfmt_check(const char *s, size_t len)
{
    if (kw_keyfmt_check_shape(s, len) != KW_OK)
        return KW_ERR_MALFORMED;
    return kw_keyfmt_check_crc(s, len);
}

void kw_keyfmt_start(const char *s, char *out, size_t cap)
{
    const char *u = strrchr(s, '_');
    int n = u ? (int)(u - s) + 1 + KW_KEYFMT_START_LEN : 0;

    snprintf(out, cap, "%.*s", n, s);
}
