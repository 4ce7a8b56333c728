/* mac.c - HMAC-SHA256 and SHA-512 through OpenSSL 3's one-shot EVP_Q_mac / EVP_Q_digest; see mac.h.
 * Neither is on the verify hot path (signed requests and exchanges run on the worker pool). */
#include "crypto/mac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

enum kw_err kw_crypto_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                                  uint8_t out[KW_HMAC_SHA256_LEN])
{
    static const uint8_t none[1] = {0};
    size_t outlen = 0;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key_len > 0 ? key : none, key_len, data, len, out,
                  KW_HMAC_SHA256_LEN, &outlen) == NULL ||
        outlen != KW_HMAC_SHA256_LEN)
        return KW_ERR_CRYPTO;
    return KW_OK;
}

enum kw_err kw_crypto_sha512(const void *data, size_t len, uint8_t out[KW_SHA512_LEN])
{
    size_t outlen = 0;

    if (EVP_Q_digest(NULL, "SHA512", NULL, data, len, out, &outlen) != 1 || outlen != KW_SHA512_LEN)
        return KW_ERR_CRYPTO;
    return KW_OK;
}
