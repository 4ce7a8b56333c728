/* base62.h - the alphabet 0-9A-Za-z used by credential strings and ids. */
#ifndef KW_CORE_BASE62_H
#define KW_CORE_BASE62_H

#include <stddef.h>
#include <stdint.h>

extern const char kw_base62_alphabet[63]; /* "0-9A-Za-z" + NUL */

/* 1 if c is in the alphabet. */
int kw_base62_is(char c);
/* Writes v as exactly width base62 digits, most significant first, zero-padded ('0').
 * Returns 0, or -1 if v does not fit in width digits. Does not NUL-terminate. */
int kw_base62_encode_u64(uint64_t v, char *out, size_t width);
/* Parses exactly len base62 digits into *out. Returns 0, or -1 on a bad digit or overflow. */
int kw_base62_decode_u64(const char *s, size_t len, uint64_t *out);

#endif
