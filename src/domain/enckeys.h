/* enckeys.h - the response-encryption keys (seed 001) every node holds in memory, from the store's
 * encryption_keys table (RSA-3072; private keys sealed under the master key, domain/secrets.h).
 *
 * A client that wants an encrypted response makes an AES-256 key, wraps it to a published public key
 * with RSA-OAEP-256 and sends it (base64url, optionally prefixed "<kid>.") in X-Keyward-Encryption-Key;
 * keyward answers with a compact JWE (alg dir, enc A256GCM, kid, cty application/json) under that key.
 *
 * The set: the active key and every retired key until its retire_after (the rotation's grace period)
 * is published (GET /api/v1/encryption-key, active first) and opens clients' keys. The first start
 * creates a key when none is active, in a write transaction that takes the version counter's lock first
 * and re-checks, so nodes starting at once end with one (as domain/signing.c does). `keyward
 * encryption-key rotate` adds a key and retires the others. A thread re-reads the set when the store's
 * stamp (highest version, row count) moves, every KW_ENCKEYS_POLL_MS; a key named by kid that this node
 * does not hold yet makes it look at once.
 *
 * Thread-safe: unwrap and published read an immutable snapshot under a read lock. */
#ifndef KW_DOMAIN_ENCKEYS_H
#define KW_DOMAIN_ENCKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"
#include "crypto/crypto.h"

struct kw_app;
struct kw_actor;
struct kw_enckeys;

#define KW_ENCKEYS_POLL_MS 500
#define KW_ENCKEYS_MAX 16               /* keys held (active + retired in their grace period) */
#define KW_ENCKEYS_GRACE_DEFAULT_MS (24LL * 3600 * 1000)
#define KW_ENCKEYS_HEADER_MAX 1024      /* X-Keyward-Encryption-Key: "<kid>." + base64url(512 bytes) */

/* A published key (GET /api/v1/encryption-key). */
struct kw_enckey_pub {
    char kid[KW_KID_MAX];
    char n[KW_RSA_N_B64_MAX];
    char e[KW_RSA_E_B64_MAX];
    char pem[KW_ENC_PEM_MAX];
    int64_t created_at;
    int64_t retire_after; /* 0 while active */
    int active;
};

/* Makes sure an active key exists (creating one, audited as "encryption_key.create" by system/keyward,
 * when none does), loads the set and starts the refresh thread (poll_ms <= 0: no thread; tests).
 * app->store and app->secrets must be open. */
enum kw_err kw_enckeys_open(struct kw_app *app, int poll_ms, struct kw_enckeys **out);
void kw_enckeys_free(struct kw_enckeys *s); /* NULL is a no-op */

/* Re-reads the set now if the store's stamp moved (force: re-read anyway). */
enum kw_err kw_enckeys_refresh(struct kw_enckeys *s, int force);

/* Adds a new active key and retires every other active one (retire_after = now + grace_ms); deletes
 * retired keys whose grace has passed. One audited write ("encryption_key.rotate", target the new kid).
 * app needs only store and secrets (the CLI). kid (may be NULL) receives the new kid. */
enum kw_err kw_enckeys_rotate(struct kw_app *app, const struct kw_actor *actor, int64_t grace_ms,
                              char kid[KW_KID_MAX]);

/* Up to cap published keys at now_ms, the active one first; returns how many. */
size_t kw_enckeys_published(struct kw_enckeys *s, int64_t now_ms, struct kw_enckey_pub *out, size_t cap);

/* Opens an X-Keyward-Encryption-Key value (len bytes): [kid "."] base64url(RSA-OAEP-256 of 32 bytes).
 * With a kid, only that published key is tried; without, each published key (active first). aes
 * receives the client's key, kid the key that opened it. KW_ERR_MALFORMED when the value is not of that
 * form, names no published key, or no key opens it to exactly 32 bytes. */
enum kw_err kw_enckeys_unwrap(struct kw_enckeys *s, const char *value, size_t len, int64_t now_ms,
                              uint8_t aes[KW_AES_KEY_LEN], char kid[KW_KID_MAX]);

/* The compact JWE (RFC 7516) of plain under aes: protected header {"alg":"dir","enc":"A256GCM","kid":kid,
 * "cty":"application/json"}, no encrypted key, a random 96-bit IV, AAD = the encoded header. *out is
 * malloc'd (NUL-terminated, *out_len bytes); the caller frees it. */
enum kw_err kw_enckeys_jwe(const uint8_t aes[KW_AES_KEY_LEN], const char *kid, const void *plain, size_t len,
                           char **out, size_t *out_len);

/* The RFC 7638 thumbprint of an RSA public key given as its JWK n and e: 43 base64url characters. */
enum kw_err kw_enckeys_thumbprint(const char *n, const char *e, char kid[KW_KID_MAX]);

#endif
