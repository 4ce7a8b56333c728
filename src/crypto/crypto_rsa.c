/* crypto_rsa.c - RSA key pairs and RSAES-OAEP (SHA-256, MGF1-SHA-256) behind crypto.h, for the
 * response-encryption key (domain/enckeys.h). OpenSSL 3 EVP_PKEY only; a key is built once and shared
 * read-only between threads (each operation takes its own EVP_PKEY_CTX). */
#include "crypto/crypto.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct kw_rsa {
    EVP_PKEY *pk;
};

static enum kw_err wrap(EVP_PKEY *pk, struct kw_rsa **out)
{
    struct kw_rsa *k = calloc(1, sizeof(*k));

    if (k == NULL) {
        EVP_PKEY_free(pk);
        return KW_ERR_NOMEM;
    }
    k->pk = pk;
    *out = k;
    return KW_OK;
}

enum kw_err kw_crypto_rsa_keygen(unsigned bits, struct kw_rsa **out)
{
    EVP_PKEY_CTX *ctx;
    EVP_PKEY *pk = NULL;
    int ok;

    *out = NULL;
    if (bits < 2048 || bits > 4096)
        return KW_ERR_INVALID;
    if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL)
        return KW_ERR_CRYPTO;
    ok = EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) == 1 &&
         EVP_PKEY_generate(ctx, &pk) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pk);
        ERR_clear_error();
        return KW_ERR_CRYPTO;
    }
    return wrap(pk, out);
}

enum kw_err kw_crypto_rsa_from_der(const uint8_t *der, size_t len, struct kw_rsa **out)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8;
    EVP_PKEY *pk = NULL;

    *out = NULL;
    if (len == 0 || len > 0x7fffffff)
        return KW_ERR_MALFORMED;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 != NULL && p == der + len)
        pk = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (pk == NULL || !EVP_PKEY_is_a(pk, "RSA")) {
        EVP_PKEY_free(pk);
        ERR_clear_error();
        return KW_ERR_MALFORMED;
    }
    return wrap(pk, out);
}

void kw_crypto_rsa_free(struct kw_rsa *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pk);
    free(k);
}

enum kw_err kw_crypto_rsa_private_der(const struct kw_rsa *k, uint8_t *out, size_t cap, size_t *len)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k->pk);
    unsigned char *buf = NULL;
    enum kw_err err = KW_ERR_CRYPTO;
    int n = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, &buf) : -1;

    *len = 0;
    if (n > 0 && (size_t)n <= cap) {
        memcpy(out, buf, (size_t)n);
        *len = (size_t)n;
        err = KW_OK;
    } else if (n > 0) {
        err = KW_ERR_TOO_LARGE;
    }
    if (buf != NULL)
        OPENSSL_clear_free(buf, n > 0 ? (size_t)n : 0);
    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    return err;
}

enum kw_err kw_crypto_rsa_public_pem(const struct kw_rsa *k, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;
    enum kw_err err = KW_ERR_CRYPTO;

    if (b == NULL)
        return KW_ERR_CRYPTO;
    if (PEM_write_bio_PUBKEY(b, k->pk) == 1 && (n = BIO_get_mem_data(b, &data)) > 0) {
        if ((size_t)n < cap) {
            memcpy(out, data, (size_t)n);
            out[n] = '\0';
            err = KW_OK;
        } else {
            err = KW_ERR_TOO_LARGE;
        }
    }
    BIO_free(b);
    ERR_clear_error();
    return err;
}

/* base64url of a big number's big-endian bytes (no leading zeros), into out. */
static enum kw_err bn_b64(const EVP_PKEY *pk, const char *name, char *out, size_t cap)
{
    BIGNUM *bn = NULL;
    uint8_t bytes[600];
    int n;
    enum kw_err err = KW_ERR_CRYPTO;

    if (EVP_PKEY_get_bn_param(pk, name, &bn) == 1 && (n = BN_num_bytes(bn)) > 0 && (size_t)n <= sizeof(bytes) &&
        BN_bn2bin(bn, bytes) == n)
        err = kw_crypto_base64url_encode(bytes, (size_t)n, out, cap) > 0 ? KW_OK : KW_ERR_TOO_LARGE;
    BN_free(bn);
    ERR_clear_error();
    return err;
}

enum kw_err kw_crypto_rsa_public_jwk(const struct kw_rsa *k, char n[KW_RSA_N_B64_MAX], char e[KW_RSA_E_B64_MAX])
{
    enum kw_err err = bn_b64(k->pk, OSSL_PKEY_PARAM_RSA_N, n, KW_RSA_N_B64_MAX);

    return err == KW_OK ? bn_b64(k->pk, OSSL_PKEY_PARAM_RSA_E, e, KW_RSA_E_B64_MAX) : err;
}

/* One OAEP-256 operation: enc 1 encrypts, 0 decrypts. */
static enum kw_err oaep(int enc, const struct kw_rsa *k, const void *in, size_t len, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
    size_t n = cap;
    int ok;
    enum kw_err err = KW_ERR_CRYPTO;

    *out_len = 0;
    if (ctx == NULL)
        return KW_ERR_CRYPTO;
    ok = (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx)) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) == 1;
    if (ok && enc) {
        err = EVP_PKEY_encrypt(ctx, out, &n, in, len) == 1 ? KW_OK : KW_ERR_CRYPTO;
    } else if (ok) {
        /* The modulus size is the only valid ciphertext length; anything else cannot open. */
        if (len != (size_t)EVP_PKEY_get_size(k->pk))
            err = KW_ERR_MALFORMED;
        else
            err = EVP_PKEY_decrypt(ctx, out, &n, in, len) == 1 ? KW_OK : KW_ERR_MALFORMED;
    }
    if (err == KW_OK)
        *out_len = n;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return err;
}

enum kw_err kw_crypto_rsa_oaep256_encrypt(const struct kw_rsa *k, const void *in, size_t len, uint8_t *out,
                                          size_t cap, size_t *out_len)
{
    return oaep(1, k, in, len, out, cap, out_len);
}

enum kw_err kw_crypto_rsa_oaep256_decrypt(const struct kw_rsa *k, const void *in, size_t len, uint8_t *out,
                                          size_t cap, size_t *out_len)
{
    return oaep(0, k, in, len, out, cap, out_len);
}
