/* crypto.h - the only door to OpenSSL 3 for keyward. Nothing else includes <openssl/...>.
 * kw_crypto_init() fetches the EVP_MD once (per-call EVP_sha256() lookups cost 2.5x) and must run
 * before any thread uses this module. All functions are thread-safe after init. */
#ifndef KW_CRYPTO_CRYPTO_H
#define KW_CRYPTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_SHA256_LEN 32

enum kw_err kw_crypto_init(void);
void kw_crypto_cleanup(void);

/* SHA-256 of data into out. Returns KW_ERR_CRYPTO only if OpenSSL fails. */
enum kw_err kw_crypto_sha256(const void *data, size_t len, uint8_t out[KW_SHA256_LEN]);
/* SHA-256 over two buffers (prev || data), for the audit hash chain. */
enum kw_err kw_crypto_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
                               uint8_t out[KW_SHA256_LEN]);
/* n bytes from the CSPRNG (RAND_bytes). */
enum kw_err kw_crypto_random(void *out, size_t n);
/* Constant-time equality of two equal-length buffers: 1 if equal. */
int kw_crypto_equal(const void *a, const void *b, size_t len);
/* Lowercase hex of len bytes into out (2*len+1 bytes, NUL-terminated). */
void kw_crypto_hex(const uint8_t *in, size_t len, char *out);
/* Parses 2*len hex chars into out. Returns 0 or -1. */
int kw_crypto_unhex(const char *hex, uint8_t *out, size_t len);

/* SipHash-2-4 with a 128-bit output (OpenSSL's EVP_MAC "SIPHASH") of data under a 16-byte key: a keyed
 * PRF for hash-table placement that input chosen by an attacker cannot aim (not for authentication). */
#define KW_SIPHASH_KEY_LEN 16
#define KW_SIPHASH_LEN 16
enum kw_err kw_crypto_siphash(const uint8_t key[KW_SIPHASH_KEY_LEN], const void *data, size_t len,
                              uint8_t out[KW_SIPHASH_LEN]);

/* Argon2id (libargon2) of a password into out as the PHC encoded string ($argon2id$v=19$m=..).
 * memory_kib and iterations come from config; parallelism 1; 16-byte random salt. */
#define KW_PASSWORD_HASH_MAX 192
enum kw_err kw_crypto_password_hash(const char *pw, size_t len, uint32_t memory_kib, uint32_t iterations,
                                    char out[KW_PASSWORD_HASH_MAX]);
/* 1 if pw matches the encoded hash (libargon2 compares in constant time), else 0. */
int kw_crypto_password_verify(const char *encoded, const char *pw, size_t len);

#endif
