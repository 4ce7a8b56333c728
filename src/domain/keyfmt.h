/* keyfmt.h - the credential string format (DESIGN.md, "Credential wire formats").
 *
 *   <prefix>_<43 base62 random><6 base62 CRC32(random part)>
 *
 * 43 base62 characters drawn uniformly carry 256 bits; the CRC32 (zlib) of those 43 characters,
 * written as 6 base62 digits, lets kw_keyfmt_check() reject a mistyped or made-up string without
 * touching any table, as GitHub's token scanners do. Prefix: 1-16 chars of [a-z0-9], starting with
 * a letter ("kw", "kwt", "kwroot", a service's own prefix). */
#ifndef KW_DOMAIN_KEYFMT_H
#define KW_DOMAIN_KEYFMT_H

#include <stddef.h>

#include "core/err.h"

#define KW_KEYFMT_RANDOM_LEN 43
#define KW_KEYFMT_CRC_LEN 6
#define KW_KEYFMT_PREFIX_MAX 16
#define KW_KEYFMT_MAX (KW_KEYFMT_PREFIX_MAX + 1 + KW_KEYFMT_RANDOM_LEN + KW_KEYFMT_CRC_LEN + 1)
#define KW_KEYFMT_START_LEN 4 /* display "start" = prefix + "_" + first 4 random chars */

/* 1 if prefix is a valid credential prefix. */
int kw_keyfmt_prefix_valid(const char *prefix);
/* Generates a new credential string into out (KW_KEYFMT_MAX bytes, NUL-terminated). */
enum kw_err kw_keyfmt_generate(const char *prefix, char out[KW_KEYFMT_MAX]);
/* Checks shape and checksum of s[0..len). KW_OK or KW_ERR_MALFORMED. Reads only s. */
enum kw_err kw_keyfmt_check(const char *s, size_t len);
/* The two halves of kw_keyfmt_check, for the verify path (which needs the CRC only on a miss):
 * the shape (prefix, '_', 49 base62 characters), then the checksum of a string whose shape passed
 * (undefined on any other). */
enum kw_err kw_keyfmt_check_shape(const char *s, size_t len);
enum kw_err kw_keyfmt_check_crc(const char *s, size_t len);
/* Writes the display start (e.g. "kw_3kTM") of a valid credential into out (cap bytes). */
void kw_keyfmt_start(const char *s, char *out, size_t cap);

#endif
