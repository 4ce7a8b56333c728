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

enum kw_err kw_keyfmt_check(const char *s, size_t len)
{
    const char *body;
    uint64_t crc;
    size_t i;

    if (len < BODY_LEN + 2 || len > BODY_LEN + 1 + KW_KEYFMT_PREFIX_MAX)
        return KW_ERR_MALFORMED;
    body = s + len - BODY_LEN;
    if (body[-1] != '_' || !prefix_ok(s, len - BODY_LEN - 1))
        return KW_ERR_MALFORMED;
    for (i = 0; i < BODY_LEN; i++) {
        if (!kw_base62_is(body[i]))
            return KW_ERR_MALFORMED;
    }
    if (kw_base62_decode_u64(body + KW_KEYFMT_RANDOM_LEN, KW_KEYFMT_CRC_LEN, &crc) != 0 || crc != crc_of(body))
        return KW_ERR_MALFORMED;
    return KW_OK;
}

void kw_keyfmt_start(const char *s, char *out, size_t cap)
{
    const char *u = strrchr(s, '_');
    int n = u ? (int)(u - s) + 1 + KW_KEYFMT_START_LEN : 0;

    snprintf(out, cap, "%.*s", n, s);
}
