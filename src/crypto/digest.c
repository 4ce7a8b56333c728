/* digest.c - SHA-512 through OpenSSL 3's one-shot EVP_Q_digest; see digest.h. */
#include "crypto/digest.h"

#include <openssl/evp.h>

enum kw_err kw_crypto_sha512(const void *data, size_t len, uint8_t out[KW_SHA512_LEN])
{
    size_t outlen = 0;

    if (EVP_Q_digest(NULL, "SHA512", NULL, data, len, out, &outlen) != 1 || outlen != KW_SHA512_LEN)
        return KW_ERR_CRYPTO;
    return KW_OK;
}
