/* base64.h - RFC 4648 base64 with the standard alphabet (section 4), for the byte sequences of
 * RFC 8941 structured fields (Signature, Content-Digest) and the seed-004 HMAC. Not a credential
 * format: credentials use base62 (base62.h). */
#ifndef KW_CORE_BASE64_H
#define KW_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Characters kw_base64_encode writes for len bytes (with padding, without a NUL). */
#define KW_BASE64_LEN(len) ((((len) + 2) / 3) * 4)

/* Encodes len bytes with '=' padding into out and NUL-terminates it. Returns the length written
 * (without the NUL), or 0 when out (cap bytes) is too small for KW_BASE64_LEN(len) + 1. */
size_t kw_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap);
/* Decodes exactly len characters of the standard alphabet into out (cap bytes), *out_len the bytes
 * written. Padding is optional, but when present it must be right (1 or 2 '=' completing the last
 * quantum); no whitespace, no other alphabet, and the unused bits of the last character must be 0
 * (so one byte string has one encoding). Returns 0, or -1 (out's content then undefined). */
int kw_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif
