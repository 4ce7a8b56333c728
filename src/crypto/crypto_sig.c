/* crypto_sig.c - HMAC-SHA256, AES-256-GCM and Ed25519 behind crypto.h (OpenSSL 3 EVP only). The HMAC
 * EVP_MAC is fetched once per process; Ed25519 keys are EVP_PKEYs built once and shared read-only. */
#include "crypto/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static EVP_MAC *hmac;
static EVP_CIPHER *aes_gcm;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

/* Fetched once, kept for the life of the process (as libcrypto keeps its own providers). */
static void fetch(void)
{
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

enum kw_err kw_crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                                  uint8_t out[KW_HMAC_SHA256_LEN])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    static const uint8_t empty[1];
    EVP_MAC_CTX *ctx;
    size_t outlen = 0;
    enum kw_err err = KW_ERR_CRYPTO;

    pthread_once(&fetch_once, fetch);
    if (hmac == NULL || (ctx = EVP_MAC_CTX_new(hmac)) == NULL)
        return KW_ERR_CRYPTO;
    if (EVP_MAC_init(ctx, klen > 0 ? key : empty, klen, params) == 1 && EVP_MAC_update(ctx, data, len) == 1 &&
        EVP_MAC_final(ctx, out, &outlen, KW_HMAC_SHA256_LEN) == 1 && outlen == KW_HMAC_SHA256_LEN)
        err = KW_OK;
    EVP_MAC_CTX_free(ctx);
    return err;
}

/* One AES-256-GCM operation; enc 1 seals (writes tag), 0 opens (checks tag). */
static enum kw_err gcm(int enc, const uint8_t *key, const uint8_t *iv, const void *aad, size_t aadlen,
                       const void *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx;
    enum kw_err err = KW_ERR_CRYPTO;
    int n = 0, fin = 0;

    pthread_once(&fetch_once, fetch);
    if (aes_gcm == NULL || len > 0x7fffffff || aadlen > 0x7fffffff || (ctx = EVP_CIPHER_CTX_new()) == NULL)
        return KW_ERR_CRYPTO;
    if (EVP_CipherInit_ex2(ctx, aes_gcm, key, iv, enc, NULL) != 1)
        goto out;
    if (aadlen > 0 && EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KW_GCM_TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + (len > 0 ? n : 0), &fin) != 1) {
        err = enc ? KW_ERR_CRYPTO : KW_ERR_MALFORMED; /* open: the tag did not match */
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KW_GCM_TAG_LEN, tag) != 1)
        goto out;
    err = KW_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return err;
}

enum kw_err kw_crypto_aes_gcm_seal(const uint8_t key[KW_AES_KEY_LEN], const uint8_t iv[KW_GCM_IV_LEN],
                                   const void *aad, size_t aadlen, const void *plain, size_t len,
                                   uint8_t *out, uint8_t tag[KW_GCM_TAG_LEN])
{
    return gcm(1, key, iv, aad, aadlen, plain, len, out, tag);
}

enum kw_err kw_crypto_aes_gcm_open(const uint8_t key[KW_AES_KEY_LEN], const uint8_t iv[KW_GCM_IV_LEN],
                                   const void *aad, size_t aadlen, const void *cipher, size_t len,
                                   const uint8_t tag[KW_GCM_TAG_LEN], uint8_t *out)
{
    uint8_t t[KW_GCM_TAG_LEN];

    memcpy(t, tag, sizeof(t)); /* OpenSSL's SET_TAG takes a non-const pointer */
    return gcm(0, key, iv, aad, aadlen, cipher, len, out, t);
}

struct kw_ed25519 {
    EVP_PKEY *pkey;
};

static enum kw_err wrap(EVP_PKEY *pkey, struct kw_ed25519 **out)
{
    *out = NULL;
    if (pkey == NULL)
        return KW_ERR_MALFORMED;
    *out = malloc(sizeof(**out));
    if (*out == NULL) {
        EVP_PKEY_free(pkey);
        return KW_ERR_NOMEM;
    }
    (*out)->pkey = pkey;
    return KW_OK;
}

enum kw_err kw_crypto_ed25519_private(const uint8_t priv[KW_ED25519_KEY_LEN], uint8_t *pub,
                                      struct kw_ed25519 **out)
{
    EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, priv, KW_ED25519_KEY_LEN);
    size_t n = KW_ED25519_KEY_LEN;

    if (pkey != NULL && pub != NULL && (EVP_PKEY_get_raw_public_key(pkey, pub, &n) != 1 || n != 32)) {
        EVP_PKEY_free(pkey);
        *out = NULL;
        return KW_ERR_CRYPTO;
    }
    return wrap(pkey, out);
}

enum kw_err kw_crypto_ed25519_public(const uint8_t pub[KW_ED25519_KEY_LEN], struct kw_ed25519 **out)
{
    return wrap(EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub, KW_ED25519_KEY_LEN), out);
}

void kw_crypto_ed25519_free(struct kw_ed25519 *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

enum kw_err kw_crypto_ed25519_keygen(uint8_t priv[KW_ED25519_KEY_LEN], uint8_t pub[KW_ED25519_KEY_LEN])
{
    struct kw_ed25519 *k = NULL;
    enum kw_err err = kw_crypto_random(priv, KW_ED25519_KEY_LEN);

    if (err == KW_OK)
        err = kw_crypto_ed25519_private(priv, pub, &k);
    if (err == KW_ERR_MALFORMED)
        err = KW_ERR_CRYPTO;
    kw_crypto_ed25519_free(k);
    return err;
}

enum kw_err kw_crypto_ed25519_sign(const struct kw_ed25519 *k, const void *msg, size_t len,
                                   uint8_t sig[KW_ED25519_SIG_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = KW_ED25519_SIG_LEN;
    enum kw_err err = KW_ERR_CRYPTO;

    if (ctx != NULL && EVP_DigestSignInit_ex(ctx, NULL, NULL, NULL, NULL, k->pkey, NULL) == 1 &&
        EVP_DigestSign(ctx, sig, &n, msg, len) == 1 && n == KW_ED25519_SIG_LEN)
        err = KW_OK;
    EVP_MD_CTX_free(ctx);
    return err;
}

int kw_crypto_ed25519_verify(const struct kw_ed25519 *k, const void *msg, size_t len, const uint8_t *sig,
                             size_t siglen)
{
    EVP_MD_CTX *ctx;
    int ok = 0;

    if (k == NULL || siglen != KW_ED25519_SIG_LEN || (ctx = EVP_MD_CTX_new()) == NULL)
        return 0;
    if (EVP_DigestVerifyInit_ex(ctx, NULL, NULL, NULL, NULL, k->pkey, NULL) == 1)
        ok = EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}
