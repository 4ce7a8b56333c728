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
/* A SHA-256 computed piece by piece, for data hashed while another pass goes over it (a document's
 * chunks as they are encrypted). _free(NULL) is a no-op; _final may be called once. */
struct kw_sha256;
enum kw_err kw_crypto_sha256_new(struct kw_sha256 **out);
enum kw_err kw_crypto_sha256_update(struct kw_sha256 *s, const void *data, size_t len);
enum kw_err kw_crypto_sha256_final(struct kw_sha256 *s, uint8_t out[KW_SHA256_LEN]);
void kw_crypto_sha256_free(struct kw_sha256 *s);
/* n bytes from the CSPRNG (RAND_bytes). */
enum kw_err kw_crypto_random(void *out, size_t n);
/* Constant-time equality of two equal-length buffers: 1 if equal. */
int kw_crypto_equal(const void *a, const void *b, size_t len);
/* Overwrites n bytes with zeros in a way the compiler keeps (OPENSSL_cleanse); NULL is a no-op. */
void kw_crypto_wipe(void *p, size_t n);
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

/* HMAC-SHA256 of data under key (any length). */
#define KW_HMAC_SHA256_LEN 32
enum kw_err kw_crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                                  uint8_t out[KW_HMAC_SHA256_LEN]);

/* AES-256-GCM with a 12-byte IV and a 16-byte tag. seal writes len bytes of ciphertext to out (which may
 * equal plain) and the tag; open checks the tag in constant time and answers KW_ERR_MALFORMED when the
 * ciphertext, IV, AAD or tag were changed (or the key is wrong), KW_ERR_CRYPTO if OpenSSL fails. */
#define KW_AES_KEY_LEN 32
#define KW_GCM_IV_LEN 12
#define KW_GCM_TAG_LEN 16
enum kw_err kw_crypto_aes_gcm_seal(const uint8_t key[KW_AES_KEY_LEN], const uint8_t iv[KW_GCM_IV_LEN],
                                   const void *aad, size_t aadlen, const void *plain, size_t len, uint8_t *out,
                                   uint8_t tag[KW_GCM_TAG_LEN]);
enum kw_err kw_crypto_aes_gcm_open(const uint8_t key[KW_AES_KEY_LEN], const uint8_t iv[KW_GCM_IV_LEN],
                                   const void *aad, size_t aadlen, const void *cipher, size_t len,
                                   const uint8_t tag[KW_GCM_TAG_LEN], uint8_t *out);

/* Ed25519 (RFC 8032) keys as opaque, immutable OpenSSL objects: build one once (making a private key
 * derives its public half, which costs about a signature) and sign or verify with it from any thread.
 * _free(NULL) is a no-op. */
#define KW_ED25519_KEY_LEN 32
#define KW_ED25519_SIG_LEN 64
struct kw_ed25519;
/* A fresh key pair from the CSPRNG: the raw 32-byte seed (private) and public key. */
enum kw_err kw_crypto_ed25519_keygen(uint8_t priv[KW_ED25519_KEY_LEN], uint8_t pub[KW_ED25519_KEY_LEN]);
/* A signing key from its raw 32-byte seed; pub (may be NULL) receives its public key. */
enum kw_err kw_crypto_ed25519_private(const uint8_t priv[KW_ED25519_KEY_LEN], uint8_t *pub,
                                      struct kw_ed25519 **out);
/* A verifying key from its raw 32-byte public key; KW_ERR_MALFORMED if it is not a valid point. */
enum kw_err kw_crypto_ed25519_public(const uint8_t pub[KW_ED25519_KEY_LEN], struct kw_ed25519 **out);
void kw_crypto_ed25519_free(struct kw_ed25519 *k);
/* Signs msg with a private key (deterministic, RFC 8032). */
enum kw_err kw_crypto_ed25519_sign(const struct kw_ed25519 *k, const void *msg, size_t len,
                                   uint8_t sig[KW_ED25519_SIG_LEN]);
/* 1 if sig is a valid signature of msg under k (public or private key), else 0. */
int kw_crypto_ed25519_verify(const struct kw_ed25519 *k, const void *msg, size_t len, const uint8_t *sig,
                             size_t siglen);

/* Base64 (RFC 4648 section 4, padded) and base64url (section 5, unpadded, as JOSE uses it).
 * encode writes a NUL-terminated string and returns its length, or 0 if cap (which must hold
 * 4*ceil(len/3)+1 bytes) is too small. decode is strict: only the alphabet, correct padding (none for
 * base64url), no whitespace; KW_ERR_MALFORMED otherwise, KW_ERR_TOO_LARGE if the output would pass cap. */
#define KW_BASE64_LEN(n) (4 * (((n) + 2) / 3) + 1)
size_t kw_crypto_base64_encode(const void *in, size_t len, char *out, size_t cap);
size_t kw_crypto_base64url_encode(const void *in, size_t len, char *out, size_t cap);
enum kw_err kw_crypto_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);
enum kw_err kw_crypto_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* RSA (RSA-3072 for keyward's response-encryption key, api/jwe) as opaque, immutable OpenSSL objects,
 * usable from any thread. The private key travels as PKCS#8 DER (to be sealed under the master key);
 * the public key as SubjectPublicKeyInfo PEM and as a JWK's n and e (base64url, RFC 7518 6.3.1).
 * _free(NULL) is a no-op. */
#define KW_RSA_BITS 3072
#define KW_RSA_DER_MAX 2400  /* PKCS#8 DER of an RSA-3072 private key (about 1.8 kB) */
#define KW_RSA_PEM_MAX 1024  /* SubjectPublicKeyInfo PEM of an RSA-3072 public key (about 625 bytes) */
#define KW_RSA_N_B64_MAX 700 /* base64url of a modulus up to 4096 bits, NUL included */
#define KW_RSA_E_B64_MAX 16
struct kw_rsa;
/* A fresh key pair of bits (2048..4096) with e = 65537. */
enum kw_err kw_crypto_rsa_keygen(unsigned bits, struct kw_rsa **out);
/* The private key from PKCS#8 DER: KW_ERR_MALFORMED if it is not an RSA private key. */
enum kw_err kw_crypto_rsa_from_der(const uint8_t *der, size_t len, struct kw_rsa **out);
void kw_crypto_rsa_free(struct kw_rsa *k);
/* The private key as PKCS#8 DER into out (cap bytes); *len set. The caller wipes out. */
enum kw_err kw_crypto_rsa_private_der(const struct kw_rsa *k, uint8_t *out, size_t cap, size_t *len);
/* The public key as a NUL-terminated PEM ("-----BEGIN PUBLIC KEY-----..."). */
enum kw_err kw_crypto_rsa_public_pem(const struct kw_rsa *k, char *out, size_t cap);
/* The public key's modulus and exponent, base64url without padding, NUL-terminated. */
enum kw_err kw_crypto_rsa_public_jwk(const struct kw_rsa *k, char n[KW_RSA_N_B64_MAX], char e[KW_RSA_E_B64_MAX]);
/* RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label (JOSE "RSA-OAEP-256"). decrypt answers
 * KW_ERR_MALFORMED for a ciphertext this key cannot open (wrong length, wrong key, bad padding). */
enum kw_err kw_crypto_rsa_oaep256_encrypt(const struct kw_rsa *k, const void *in, size_t len, uint8_t *out,
                                          size_t cap, size_t *out_len);
enum kw_err kw_crypto_rsa_oaep256_decrypt(const struct kw_rsa *k, const void *in, size_t len, uint8_t *out,
                                          size_t cap, size_t *out_len);

#endif
