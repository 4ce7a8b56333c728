/* utf8.h - making stored text safe to render: invalid UTF-8 becomes U+FFFD instead of making a JSON
 * encoder refuse the whole value (jansson's json_pack returns NULL on invalid UTF-8, which used to
 * drop an audit event from the list). */
#ifndef KW_CORE_UTF8_H
#define KW_CORE_UTF8_H

#include <stddef.h>

/* 1 if s[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
int kw_utf8_valid(const char *s, size_t len);

/* Copies s[0..len) into out (cap bytes), replacing each maximal ill-formed subsequence with U+FFFD
 * (EF BF BD), as the Unicode standard recommends (W3C/WHATWG "replacement" decoding). Stops at an
 * embedded NUL. Truncates only at a character boundary and always NUL-terminates when cap > 0.
 * Returns the bytes written (without the NUL). An output of 3 * len + 1 bytes never truncates. */
size_t kw_utf8_sanitize(const char *s, size_t len, char *out, size_t cap);

#endif
