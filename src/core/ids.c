/* ids.c - public object ids from getrandom(2); see ids.h. */
#include "core/ids.h"

#include <string.h>
#include <sys/random.h>

#include "core/base62.h"

enum kw_err kw_id_new(const char *prefix, char out[KW_ID_MAX])
{
    unsigned char r[48];
    size_t n = strnlen(prefix, 8), k = 0, i;

    memcpy(out, prefix, n);
    out[n++] = '_';
    while (k < KW_ID_RANDOM_LEN) {
        if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
            return KW_ERR_IO;
        /* Rejection sampling: 6 bits give 0..63, keep 0..61 so every character is equally likely. */
        for (i = 0; i < sizeof(r) && k < KW_ID_RANDOM_LEN; i++) {
            if ((r[i] & 63) < 62)
                out[n + k++] = kw_base62_alphabet[r[i] & 63];
        }
    }
    out[n + KW_ID_RANDOM_LEN] = '\0';
    return KW_OK;
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
