/* oauth.h - what a service user's credentials buy as an OAuth 2.0 client and with an access key:
 * JWT access tokens (domain/jwt.h) by the client credentials grant (RFC 6749 4.4) and by seed 004's
 * HMAC exchange, their introspection (RFC 7662) and revocation (RFC 7009: a JWT is banned by its jti
 * until its exp, a minted kwt_ token is revoked). Issuance changes no state, so it is audited write-
 * behind; a revocation is audited in its transaction. Everything here may read the store (client
 * rows, nonces, bans): call it off the event loop. */
#ifndef KW_DOMAIN_OAUTH_H
#define KW_DOMAIN_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"
#include "domain/app.h"
#include "domain/jwt.h"

#define KW_EXCHANGE_SKEW_S 300   /* the exchange's timestamp may be this far from now */
#define KW_EXCHANGE_NONCE_MIN 16
#define KW_EXCHANGE_NONCE_MAX 64

struct kw_issued {
    char token[KW_JWT_MAX];
    int64_t expires_in; /* seconds */
    struct kw_jwt_claims claims;
};

/* Client credentials for su (already authenticated). scope NULL: every permission su holds; else
 * space-separated names that must all be su's (candidates:read is always held): KW_ERR_INVALID
 * otherwise (invalid_scope). KW_ERR_NOT_FOUND when this node has no signing key yet. */
enum kw_err kw_oauth_client_credentials(struct kw_app *app, const char *ip, const char *request_id,
                                        const struct kw_service_user *su, const char *scope, int64_t now_ms,
                                        struct kw_issued *out);

/* Seed 004: POST /api/v1/access-tokens. */
struct kw_exchange {
    const char *access_key_id;
    int64_t timestamp; /* unix seconds */
    const char *nonce;
    const char *signature; /* base64 (standard; padding optional) of HMAC-SHA256(secret, "<id>.<ts>.<nonce>") */
    const char *ip, *request_id;
};
/* KW_OK with *refusal NULL and out filled when the exchange succeeds. A refusal is KW_OK with *refusal
 * the stable code and *status 400 or 401: INVALID_NONCE (400), INVALID_FIELD (signature not base64,
 * 400), TIMESTAMP_SKEW, ACCESS_KEY_NOT_FOUND, ACCESS_KEY_DISABLED, SIGNATURE_MISMATCH, NONCE_REPLAYED
 * (401). Other errors: the store or no signing key. */
enum kw_err kw_oauth_exchange(struct kw_app *app, const struct kw_exchange *x, int64_t now_ms,
                              struct kw_issued *out, const char **refusal, int *status);

/* RFC 7662 for client: active only for a valid JWT (or kwt_ token) of client's service. */
struct kw_introspection {
    int active;
    const char *token_type; /* "Bearer" */
    struct kw_jwt_claims c; /* scope, client_id, sub, exp, iat, iss, aud, jti (kwt_: no iat, iss, aud; jti
                             * = the token id) */
};
void kw_oauth_introspect(struct kw_app *app, const struct kw_service_user *client, const char *tok, size_t len,
                         int64_t now_ms, struct kw_introspection *out);

/* RFC 7009 for client: a valid JWT whose sub is client is banned ("jti:<jti>" until its exp); a kwt_
 * token of client is revoked. Unknown, expired and already revoked tokens: KW_OK, nothing done
 * (*revoked 0). A token of another client: KW_ERR_CONFLICT (it is not client's to revoke). */
enum kw_err kw_oauth_revoke(struct kw_app *app, const char *ip, const char *request_id,
                            const struct kw_service_user *client, const char *tok, size_t len, int64_t now_ms,
                            int *revoked);

#endif
