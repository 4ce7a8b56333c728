/* digest.h - SHA-512 (OpenSSL 3, behind the crypto module like crypto.h), for RFC 9530 Content-Digest
 * sha-512. Thread-safe; not on the verify hot path. */
#ifndef KW_CRYPTO_DIGEST_H
#define KW_CRYPTO_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_SHA512_LEN 64

enum kw_err kw_crypto_sha512(const void *data, size_t len, uint8_t out[KW_SHA512_LEN]);

#endif
