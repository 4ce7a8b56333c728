/* utf8.c - UTF-8 validation and replacement; see utf8.h. */
#include "core/utf8.h"

#include <stdint.h>
#include <string.h>

/* Length of the well-formed sequence at s (1..4), or 0 if the bytes there are ill-formed; *bad is then
 * the length of the maximal ill-formed prefix to replace by one U+FFFD (at least 1). */
static size_t seq_len(const unsigned char *s, size_t len, size_t *bad)
{
    unsigned char c = s[0];
    size_t n, i;
    unsigned char lo = 0x80, hi = 0xBF;

    *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F; /* no surrogates */
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F; /* <= U+10FFFF */
    for (i = 1; i < n; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *bad = i;
            return 0;
        }
        lo = 0x80, hi = 0xBF;
    }
    return n;
}

int kw_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n, bad;

    while (i < len) {
        n = seq_len(p + i, len - i, &bad);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

size_t kw_utf8_sanitize(const char *s, size_t len, char *out, size_t cap)
{
    static const char fffd[3] = {'\xEF', '\xBF', '\xBD'};
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0, n, bad;

    if (cap == 0)
        return 0;
    while (i < len && p[i] != '\0') {
        n = seq_len(p + i, len - i, &bad);
        const char *src = n ? (const char *)p + i : fffd;
        size_t w = n ? n : sizeof(fffd);
        if (o + w >= cap)
            break;
        memcpy(out + o, src, w);
        o += w;
        i += n ? n : bad;
    }
    out[o] = '\0';
    return o;
}
