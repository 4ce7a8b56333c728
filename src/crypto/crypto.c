/* crypto.c - OpenSSL 3 behind crypto.h. The SHA-256 EVP_MD is fetched once; each thread keeps one
 * EVP_MD_CTX (freed at thread exit by a pthread key destructor), so hashing allocates nothing. */
#include "crypto/crypto.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>

static EVP_MD *sha256_md;
static pthread_key_t ctx_key;

static void ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

enum kw_err kw_crypto_init(void)
{
    if (sha256_md != NULL)
        return KW_OK;
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256_md == NULL)
        return KW_ERR_CRYPTO;
    if (pthread_key_create(&ctx_key, ctx_free) != 0) {
        EVP_MD_free(sha256_md);
        sha256_md = NULL;
        return KW_ERR_CRYPTO;
    }
    return KW_OK;
}

void kw_crypto_cleanup(void)
{
    if (sha256_md == NULL)
        return;
    ctx_free(pthread_getspecific(ctx_key));
    pthread_setspecific(ctx_key, NULL);
    pthread_key_delete(ctx_key);
    EVP_MD_free(sha256_md);
    sha256_md = NULL;
}

static EVP_MD_CTX *thread_ctx(void)
{
    EVP_MD_CTX *ctx = pthread_getspecific(ctx_key);

    if (ctx == NULL) {
        ctx = EVP_MD_CTX_new();
        if (ctx != NULL && pthread_setspecific(ctx_key, ctx) != 0) {
            EVP_MD_CTX_free(ctx);
            ctx = NULL;
        }
    }
    return ctx;
}

enum kw_err kw_crypto_sha256_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[KW_SHA256_LEN])
{
    EVP_MD_CTX *ctx = thread_ctx();

    if (ctx == NULL || EVP_DigestInit_ex2(ctx, sha256_md, NULL) != 1 || EVP_DigestUpdate(ctx, a, alen) != 1 ||
        (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) || EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        return KW_ERR_CRYPTO;
    return KW_OK;
}

enum kw_err kw_crypto_sha256(const void *data, size_t len, uint8_t out[KW_SHA256_LEN])
{
    return kw_crypto_sha256_2(data, len, NULL, 0, out);
}

struct kw_sha256 {
    EVP_MD_CTX *ctx;
};

enum kw_err kw_crypto_sha256_new(struct kw_sha256 **out)
{
    struct kw_sha256 *s = malloc(sizeof(*s));

    *out = NULL;
    if (s == NULL)
        return KW_ERR_NOMEM;
    s->ctx = EVP_MD_CTX_new();
    if (s->ctx == NULL || EVP_DigestInit_ex2(s->ctx, sha256_md, NULL) != 1) {
        kw_crypto_sha256_free(s);
        return KW_ERR_CRYPTO;
    }
    *out = s;
    return KW_OK;
}

enum kw_err kw_crypto_sha256_update(struct kw_sha256 *s, const void *data, size_t len)
{
    return len == 0 || EVP_DigestUpdate(s->ctx, data, len) == 1 ? KW_OK : KW_ERR_CRYPTO;
}

enum kw_err kw_crypto_sha256_final(struct kw_sha256 *s, uint8_t out[KW_SHA256_LEN])
{
    return EVP_DigestFinal_ex(s->ctx, out, NULL) == 1 ? KW_OK : KW_ERR_CRYPTO;
}

void kw_crypto_sha256_free(struct kw_sha256 *s)
{
    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->ctx);
    free(s);
}

enum kw_err kw_crypto_random(void *out, size_t n)
{
    if (n > 0x7fffffff || RAND_bytes(out, (int)n) != 1)
        return KW_ERR_CRYPTO;
    return KW_OK;
}

int kw_crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void kw_crypto_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void kw_crypto_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int kw_crypto_unhex(const char *hex, uint8_t *out, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        int hi = nibble(hex[2 * i]), lo = hi < 0 ? -1 : nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

enum kw_err kw_crypto_siphash(const uint8_t key[KW_SIPHASH_KEY_LEN], const void *data, size_t len,
                              uint8_t out[KW_SIPHASH_LEN])
{
    size_t size = KW_SIPHASH_LEN, outlen = 0;
    OSSL_PARAM params[] = {OSSL_PARAM_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_END};

    if (EVP_Q_mac(NULL, "SIPHASH", NULL, NULL, params, key, KW_SIPHASH_KEY_LEN, data, len, out, KW_SIPHASH_LEN,
                  &outlen) == NULL ||
        outlen != KW_SIPHASH_LEN)
        return KW_ERR_CRYPTO;
    return KW_OK;
}

enum kw_err kw_crypto_password_hash(const char *pw, size_t len, uint32_t memory_kib, uint32_t iterations,
                                    char out[KW_PASSWORD_HASH_MAX])
{
    uint8_t salt[16];

    if (kw_crypto_random(salt, sizeof(salt)) != KW_OK)
        return KW_ERR_CRYPTO;
    if (argon2id_hash_encoded(iterations, memory_kib, 1, pw, len, salt, sizeof(salt), 32, out,
                              KW_PASSWORD_HASH_MAX) != ARGON2_OK)
        return KW_ERR_CRYPTO;
    return KW_OK;
}

int kw_crypto_password_verify(const char *encoded, const char *pw, size_t len)
{
    return argon2id_verify(encoded, pw, len) == ARGON2_OK;
}
