/* signing.h - the JWT signing keys (Ed25519) every node holds in memory, from the store's signing_keys
 * table (private keys sealed under the master key, domain/secrets.h).
 *
 * The set: every active key and every retired key until its retire_after (when the last token it
 * signed has expired) is published (JWKS) and accepted by verify. The signer is the newest key that
 * has been published for KW_SIGNING_ACTIVATE_MS (so every node knows a new key before a token signed
 * with it arrives): the active one, or, in the seconds after a rotation, the key it retired; when
 * none is that old (first start), the oldest one that may sign.
 *
 * The first start creates a key when none is active, in a write transaction that takes the version
 * counter's lock first and re-checks, so nodes starting at once end with one. `keyward signing-key
 * rotate` adds a key and retires the others. Each change takes a new version; a thread re-reads the set
 * when the store's stamp (highest version, row count) moves, every KW_SIGNING_POLL_MS, so every node
 * has a change within a second.
 *
 * Thread-safe: sign, verify and published read an immutable snapshot under a read lock. */
#ifndef KW_DOMAIN_SIGNING_H
#define KW_DOMAIN_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"
#include "crypto/crypto.h"

struct kw_app;
struct kw_actor;
struct kw_signing;

#define KW_SIGNING_ACTIVATE_MS 2000
#define KW_SIGNING_POLL_MS 500
#define KW_SIGNING_MAX 16        /* keys held (active + published retired) */
#define KW_SIGNING_SKEW_MS 60000 /* added to retire_after for clocks that disagree */

/* A published key, for JWKS. */
struct kw_signing_pub {
    char kid[KW_KID_MAX];
    uint8_t x[KW_ED25519_KEY_LEN];
    int64_t created_at;
    int64_t retire_after; /* 0 while active */
    int active;
    int can_sign; /* this node could open its private key */
};

/* Makes sure an active key exists (creating one, audited as actor "system"/"keyward", when none
 * does), loads the set and starts the refresh thread (poll_ms <= 0: no thread; tests). app->store and
 * app->secrets must be open. */
enum kw_err kw_signing_open(struct kw_app *app, int poll_ms, struct kw_signing **out);
void kw_signing_free(struct kw_signing *s); /* NULL is a no-op */

/* Re-reads the set now if the store's stamp moved (force: re-read anyway). */
enum kw_err kw_signing_refresh(struct kw_signing *s, int force);

/* Adds a new active key and retires every other active one (retire_after = now + retire_in_ms +
 * KW_SIGNING_ACTIVATE_MS + KW_SIGNING_SKEW_MS); deletes retired keys whose retire_after has passed.
 * One audited write ("signing_key.rotate", target the new kid). app needs only store and secrets
 * (the CLI passes an app with just those). kid (may be NULL) receives the new kid. */
enum kw_err kw_signing_rotate(struct kw_app *app, const struct kw_actor *actor, int64_t retire_in_ms,
                              char kid[KW_KID_MAX]);

/* The kid to sign with now; KW_ERR_NOT_FOUND if this node holds no key it can sign with. */
enum kw_err kw_signing_current(struct kw_signing *s, int64_t now_ms, char kid[KW_KID_MAX]);
/* Signs msg with the key kid (as kw_signing_current named it): KW_ERR_NOT_FOUND if that key is gone
 * or cannot sign here (the caller asks kw_signing_current again). */
enum kw_err kw_signing_sign(struct kw_signing *s, const char *kid, const void *msg, size_t len,
                            uint8_t sig[KW_ED25519_SIG_LEN]);
/* KW_OK when sig is a valid signature of msg by the published key kid (kid_len bytes); KW_ERR_NOT_FOUND
 * for a kid that is not published at now_ms, KW_ERR_MALFORMED for a bad signature. */
enum kw_err kw_signing_verify(struct kw_signing *s, const char *kid, size_t kid_len, const void *msg,
                              size_t len, const uint8_t *sig, size_t siglen, int64_t now_ms);
/* Up to cap published keys at now_ms, newest first; returns how many. */
size_t kw_signing_published(struct kw_signing *s, int64_t now_ms, struct kw_signing_pub *out, size_t cap);

/* The RFC 7638 thumbprint of an Ed25519 public key: base64url(SHA-256 of {"crv":"Ed25519","kty":"OKP",
 * "x":"<x>"}), 43 characters. */
enum kw_err kw_signing_thumbprint(const uint8_t x[KW_ED25519_KEY_LEN], char kid[KW_KID_MAX]);

#endif
