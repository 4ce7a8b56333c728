/* ids.c - public object ids from getrandom(2); see ids.h. */
#include "core/ids.h"

#include <string.h>
#include <sys/random.h>

#include "core/base62.h"

#define SORTED_TIME_LEN 8 /* 62^8 ms: about 6,900 years from 1970 */

/* Fills out[0..len) with random base62 characters. */
static enum kw_err random_chars(char *out, size_t len)
{
    unsigned char r[48];
    size_t k = 0, i;

    while (k < len) {
        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            return KW_ERR_IO;
        /* Rejection sampling: 6 bits give 0..63, keep 0..61 so every character is equally likely. */
        for (i = 0; i < sizeof(r) && k < len; i++) {
            if ((r[i] & 63) < 62)
                out[k++] = kw_base62_alphabet[r[i] & 63];
        }
    }
    return KW_OK;
}

enum kw_err kw_id_new(const char *prefix, char out[KW_ID_MAX])
{
    size_t n = strnlen(prefix, 8);
    enum kw_err err;

    memcpy(out, prefix, n);
    out[n++] = '_';
    err = random_chars(out + n, KW_ID_RANDOM_LEN);
    out[n + KW_ID_RANDOM_LEN] = '\0';
    return err;
}

enum kw_err kw_id_new_sorted(const char *prefix, int64_t now_ms, char out[KW_ID_MAX])
{
    size_t n = strnlen(prefix, 8);
    enum kw_err err;

    memcpy(out, prefix, n);
    out[n++] = '_';
    if (kw_base62_encode_u64(now_ms > 0 ? (uint64_t)now_ms : 0, out + n, SORTED_TIME_LEN) != 0)
        return KW_ERR_INVALID;
    err = random_chars(out + n + SORTED_TIME_LEN, KW_ID_RANDOM_LEN - SORTED_TIME_LEN);
    out[n + KW_ID_RANDOM_LEN] = '\0';
    return err;
}

int kw_id_valid(const char *s, const char *prefix)
{
    size_t n = strlen(prefix), i;

    if (strncmp(s, prefix, n) != 0 || s[n] != '_' || strlen(s + n + 1) != KW_ID_RANDOM_LEN)
        return 0;
    for (i = n + 1; s[i] != '\0'; i++) {
        if (!kw_base62_is(s[i]))
            return 0;
    }
    return 1;
}
