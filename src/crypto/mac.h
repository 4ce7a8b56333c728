/* mac.h - HMAC-SHA256 and SHA-512 (OpenSSL 3, behind the crypto module like crypto.h): the RFC 9421
 * hmac-sha256 signature algorithm, the seed-004 HMAC exchange and RFC 9530 Content-Digest sha-512.
 * Thread-safe; no init beyond kw_crypto_init. */
#ifndef KW_CRYPTO_MAC_H
#define KW_CRYPTO_MAC_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_HMAC_SHA256_LEN 32
#define KW_SHA512_LEN 64

/* HMAC-SHA256 of data under key (any length; an empty key is allowed by RFC 2104). */
enum kw_err kw_crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                                  uint8_t out[KW_HMAC_SHA256_LEN]);
/* SHA-512 of data. */
enum kw_err kw_crypto_sha512(const void *data, size_t len, uint8_t out[KW_SHA512_LEN]);

#endif
