/* jwt.h - JWT access tokens (RFC 9068): EdDSA (Ed25519) over the signing keys of domain/signing.h,
 * header {"alg":"EdDSA","typ":"at+jwt","kid":...}, claims iss, sub (service user id), aud, exp, iat, jti,
 * client_id, scope (space-separated permission names), kw_svc (the service id) and kw_cred (the
 * credential that minted it: the service user id for client credentials, the access key id for the
 * seed 004 exchange).
 *
 * Verify checks, in this order: size, shape, header (alg EdDSA, typ at+jwt, a kid in the published
 * set), the signature, iss (app->issuer), aud (kw_jwt_audience), exp, then the bans ("jti:<jti>",
 * "su:<sub>", "cred:<kw_cred>", kw_keycache_banned). A token that verified is kept in a bounded cache
 * keyed by its SHA-256 until exp, so a repeated token costs a hash, a lookup and the ban checks (bans
 * are checked on every use, so a revocation takes effect on the next request). Nothing here reads the
 * store: safe on an event loop. Thread-safe. */
#ifndef KW_DOMAIN_JWT_H
#define KW_DOMAIN_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"

struct kw_app;

#define KW_JWT_MAX 4096    /* longest token accepted or issued (bytes) */
#define KW_JWT_URL_MAX 300 /* iss, aud */
#define KW_JWT_SCOPE_MAX 256

struct kw_jwt_claims {
    char iss[KW_JWT_URL_MAX];
    char sub[KW_ID_MAX];
    char aud[KW_JWT_URL_MAX];
    int64_t exp; /* seconds since the epoch */
    int64_t iat;
    char jti[KW_ID_MAX];
    char client_id[KW_ID_MAX];
    char scope[KW_JWT_SCOPE_MAX];
    char service_id[KW_ID_MAX]; /* claim kw_svc */
    char cred[KW_ACTOR_MAX];    /* claim kw_cred */
    /* verify only: */
    uint32_t perms; /* the scope's permission bits, candidates:read always included */
    char kid[KW_KID_MAX];
    const char *reason; /* on failure: malformed | type | unknown_key | signature | issuer | audience
                         * | expired | revoked | disabled */
};

/* The verified-token cache (app->jwt_cache). entries is rounded up to a power of two (0: default 8192). */
struct kw_jwt_cache;
enum kw_err kw_jwt_cache_new(size_t entries, struct kw_jwt_cache **out);
void kw_jwt_cache_free(struct kw_jwt_cache *c); /* NULL is a no-op */

/* The audience of keyward's access tokens: app->issuer (the API is served at the issuer's origin). */
const char *kw_jwt_audience(const struct kw_app *app);

/* Signs c as a JWT into out (cap bytes, NUL-terminated). Empty iss/aud take app->issuer and
 * kw_jwt_audience; iat 0 takes now; exp 0 takes iat + access-token-ttl; an empty jti gets a fresh
 * "at_..." id (written back into c). KW_ERR_NOT_FOUND when this node holds no key it can sign with,
 * KW_ERR_TOO_LARGE when out is too small. */
enum kw_err kw_jwt_issue(struct kw_app *app, struct kw_jwt_claims *c, char *out, size_t cap);

/* KW_OK and the claims when tok[0..len) is a valid, unexpired, unrevoked access token at now_ms.
 * Otherwise out->reason says why (claims read before the failure stay in out): KW_ERR_MALFORMED
 * (malformed, type, signature), KW_ERR_NOT_FOUND (unknown_key), KW_ERR_INVALID (issuer, audience),
 * KW_ERR_CONFLICT (expired, revoked, disabled). */
enum kw_err kw_jwt_verify(struct kw_app *app, const char *tok, size_t len, int64_t now_ms,
                          struct kw_jwt_claims *out);

/* 1 if s[0..len) has the shape of a JWS compact serialisation with a JSON header ("eyJ", two dots). */
int kw_jwt_looks_like(const char *s, size_t len);

/* Permission names <-> bits: "candidates:read documents:write" -> bits (KW_ERR_INVALID naming an unknown
 * name in bad, cap 64, when one is not a permission); bits -> names in canonical order. */
enum kw_err kw_jwt_scope_perms(const char *scope, uint32_t *perms, char *bad, size_t badcap);
void kw_jwt_perms_scope(uint32_t perms, char *out, size_t cap);

#endif
