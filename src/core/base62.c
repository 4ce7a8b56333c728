/* base62.c - see base62.h. */
#include "core/base62.h"

const char kw_base62_alphabet[63] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int value_of(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 36;
    return -1;
}

int kw_base62_is(char c)
{
    return value_of(c) >= 0;
}

int kw_base62_encode_u64(uint64_t v, char *out, size_t width)
{
    size_t i = width;

    while (i-- > 0) {
        out[i] = kw_base62_alphabet[v % 62];
        v /= 62;
    }
    return v == 0 ? 0 : -1;
}

int kw_base62_decode_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        int d = value_of(s[i]);
        if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / 62)
            return -1;
        v = v * 62 + (uint64_t)d;
    }
    *out = v;
    return 0;
}
