/* oauth.c - JWT access tokens for service users: client credentials, seed 004's exchange, RFC 7662
 * introspection and RFC 7009 revocation; see oauth.h. */
#include "domain/oauth.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "crypto/crypto.h"
#include "domain/bans.h"
#include "domain/commit_internal.h"
#include "domain/httpsig.h"
#include "domain/keycache.h"
#include "domain/secrets.h"
#include "domain/service_users.h"
#include "store/store.h"


/* Signs the claims prepared in out->claims; audits the issuance (write-behind: no state changed). */
static enum kw_err issue(struct kw_app *app, const char *ip, const char *request_id, const char *cred_type,
                         int64_t now_ms, struct kw_issued *out)
{
    struct kw_jwt_claims *c = &out->claims;
    struct kw_actor actor = {"service_user", c->sub, ip, request_id, c->cred, cred_type};
    char d[512];
    enum kw_err err;

    c->iat = now_ms / 1000;
    err = kw_jwt_issue(app, c, out->token, sizeof(out->token));
    if (err != KW_OK) {
        kw_log_error("access token not issued", "sub=%s err=%s", c->sub, kw_err_str(err));
        return err;
    }
    out->expires_in = c->exp - c->iat;
    snprintf(d, sizeof(d), "{\"jti\":\"%s\",\"scope\":\"%s\"}", c->jti, c->scope);
    kw_domain_audit_async(app, &actor, "access_token.issue", "access_token", c->jti, c->service_id, "success", d);
    return KW_OK;
}

enum kw_err kw_oauth_client_credentials(struct kw_app *app, const char *ip, const char *request_id,
                                        const struct kw_service_user *su, const char *scope, int64_t now_ms,
                                        struct kw_issued *out)
{
    uint32_t held = su->perms | KW_PERM_CANDIDATES_READ, want = held;
    char bad[64];

    memset(out, 0, sizeof(*out));
    if (scope != NULL && (kw_jwt_scope_perms(scope, &want, bad, sizeof(bad)) != KW_OK || (want & ~held) != 0))
        return KW_ERR_INVALID;
    snprintf(out->claims.sub, sizeof(out->claims.sub), "%s", su->id);
    snprintf(out->claims.client_id, sizeof(out->claims.client_id), "%s", su->id);
    snprintf(out->claims.service_id, sizeof(out->claims.service_id), "%s", su->service_id);
    snprintf(out->claims.cred, sizeof(out->claims.cred), "%s", su->id);
    kw_jwt_perms_scope(want | KW_PERM_CANDIDATES_READ, out->claims.scope, sizeof(out->claims.scope));
    return issue(app, ip, request_id, "client_secret", now_ms, out);
}

/* ---- seed 004 ---- */

static int nonce_valid(const char *n)
{
    size_t len = strlen(n), i;

    if (len < KW_EXCHANGE_NONCE_MIN || len > KW_EXCHANGE_NONCE_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        char ch = n[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return 0;
    }
    return 1;
}

#define REFUSE(st, code)                                                                                    \
    do {                                                                                                    \
        *status = (st);                                                                                     \
        *refusal = (code);                                                                                  \
        return KW_OK;                                                                                       \
    } while (0)

/* HMAC-SHA256 of "<id>.<ts>.<nonce>" under the key's secret, compared with sig in constant time: 1 if it
 * matches; -1 when the secret cannot be opened. */
static int exchange_mac(struct kw_app *app, const struct kw_exchange *x, const uint8_t *sealed, size_t sealed_len,
                        const uint8_t *sig, size_t sig_len)
{
    uint8_t secret[KW_SEALED_MAX], mac[KW_HMAC_SHA256_LEN];
    char msg[160];
    size_t len = 0;
    int n, ok;

    if (app->secrets == NULL || sealed_len == 0 ||
        kw_secrets_open(app->secrets, sealed, sealed_len, secret, sizeof(secret), &len) != KW_OK) {
        kw_log_error("access key secret cannot be opened", "access_key_id=%s", x->access_key_id);
        return -1;
    }
    n = snprintf(msg, sizeof(msg), "%s.%lld.%s", x->access_key_id, (long long)x->timestamp, x->nonce);
    ok = n > 0 && (size_t)n < sizeof(msg) && kw_crypto_hmac_sha256(secret, len, msg, (size_t)n, mac) == KW_OK &&
         sig_len == sizeof(mac) && kw_crypto_equal(sig, mac, sizeof(mac));
    explicit_bzero(secret, sizeof(secret));
    return ok;
}

struct spend {
    const char *scope, *value;
    int64_t now_ms;
};

static enum kw_err spend_nonce(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    const struct spend *s = ctx;
    enum kw_err err = kw_store_nonce_insert(tx, s->scope, s->value, s->now_ms);

    if (err == KW_ERR_CONFLICT)
        w->conflict = "NONCE_REPLAYED";
    return err;
}

enum kw_err kw_oauth_exchange(struct kw_app *app, const struct kw_exchange *x, int64_t now_ms,
                              struct kw_issued *out, const char **refusal, int *status)
{
    struct kw_verify_result vr;
    uint8_t sealed[KW_SEALED_MAX], sig[64];
    size_t sealed_len = 0, sig_len = 0;
    struct kw_actor actor;
    struct kw_write w;
    struct spend sp = {x->access_key_id, x->nonce, now_ms};
    enum kw_err err;
    int ok;

    memset(out, 0, sizeof(*out));
    *refusal = NULL;
    *status = 0;
    if (!nonce_valid(x->nonce))
        REFUSE(400, "INVALID_NONCE");
    if (kw_httpsig_b64_decode(x->signature, strlen(x->signature), sig, sizeof(sig), &sig_len) != 0)
        REFUSE(400, "INVALID_FIELD");
    if (x->timestamp > now_ms / 1000 + KW_EXCHANGE_SKEW_S || x->timestamp < now_ms / 1000 - KW_EXCHANGE_SKEW_S)
        REFUSE(401, "TIMESTAMP_SKEW");
    kw_keycache_access_key(app->keys, x->access_key_id, strlen(x->access_key_id), now_ms, x->ip, &vr, sealed,
                           &sealed_len);
    if (vr.code == KW_VERIFY_DISABLED)
        REFUSE(401, "ACCESS_KEY_DISABLED");
    if (vr.code != KW_VERIFY_VALID)
        REFUSE(401, "ACCESS_KEY_NOT_FOUND");
    ok = exchange_mac(app, x, sealed, sealed_len, sig, sig_len);
    if (ok < 0)
        return KW_ERR_CRYPTO;
    if (!ok)
        REFUSE(401, "SIGNATURE_MISMATCH");
    /* The nonce is spent only by a signature that verified, so nobody can burn someone else's nonces. */
    actor = (struct kw_actor){"service_user", vr.service_user_id, x->ip, x->request_id, x->access_key_id,
                              "access_key"};
    kw_write_init(&w, &actor, "access_key.exchange", "access_key", x->access_key_id, vr.service_id);
    err = kw_domain_write(app, &w, spend_nonce, &sp);
    if (err == KW_ERR_CONFLICT)
        REFUSE(401, "NONCE_REPLAYED");
    if (err != KW_OK)
        return err;
    snprintf(out->claims.sub, sizeof(out->claims.sub), "%s", vr.service_user_id);
    snprintf(out->claims.client_id, sizeof(out->claims.client_id), "%s", vr.service_user_id);
    snprintf(out->claims.service_id, sizeof(out->claims.service_id), "%s", vr.service_id);
    snprintf(out->claims.cred, sizeof(out->claims.cred), "%s", x->access_key_id);
    kw_jwt_perms_scope(vr.perms | KW_PERM_CANDIDATES_READ, out->claims.scope, sizeof(out->claims.scope));
    return issue(app, x->ip, x->request_id, "access_key", now_ms, out);
}

/* ---- introspection and revocation ---- */

/* A kwt_ token of client's service, as the key cache knows it: 1 and vr when valid. */
static int minted_token(struct kw_app *app, const struct kw_service_user *client, const char *tok, size_t len,
                        int64_t now_ms, struct kw_verify_result *vr)
{
    kw_keycache_verify(app->keys, tok, len, now_ms, NULL, client->service_id, vr);
    return vr->code == KW_VERIFY_VALID && strcmp(vr->kind, "token") == 0;
}

void kw_oauth_introspect(struct kw_app *app, const struct kw_service_user *client, const char *tok, size_t len,
                         int64_t now_ms, struct kw_introspection *out)
{
    struct kw_verify_result vr;

    memset(out, 0, sizeof(*out));
    out->token_type = "Bearer";
    if (kw_jwt_looks_like(tok, len)) {
        if (kw_jwt_verify(app, tok, len, now_ms, &out->c) == KW_OK && strcmp(out->c.service_id, client->service_id) == 0)
            out->active = 1;
        if (!out->active)
            memset(&out->c, 0, sizeof(out->c));
        return;
    }
    if (!minted_token(app, client, tok, len, now_ms, &vr))
        return;
    out->active = 1;
    snprintf(out->c.sub, sizeof(out->c.sub), "%s", vr.service_user_id);
    snprintf(out->c.client_id, sizeof(out->c.client_id), "%s", vr.service_user_id);
    snprintf(out->c.service_id, sizeof(out->c.service_id), "%s", vr.service_id);
    snprintf(out->c.jti, sizeof(out->c.jti), "%s", vr.key_id);
    out->c.exp = vr.expires_at > 0 ? vr.expires_at / 1000 : 0;
    kw_jwt_perms_scope(vr.perms | KW_PERM_CANDIDATES_READ, out->c.scope, sizeof(out->c.scope));
}

struct ban_jti {
    const struct kw_jwt_claims *c;
    const char *actor_id;
    struct kw_key row;
};

static enum kw_err put_ban(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct ban_jti *b = ctx;
    char what[8 + KW_ID_MAX];
    int64_t version;
    enum kw_err err = kw_store_version_next(tx, &version);

    (void)w;
    snprintf(what, sizeof(what), "jti:%s", b->c->jti);
    if (err == KW_OK)
        err = kw_ban_put(tx, b->c->service_id, what, b->c->exp * 1000, version, b->actor_id, &b->row);
    return err;
}

enum kw_err kw_oauth_revoke(struct kw_app *app, const char *ip, const char *request_id,
                            const struct kw_service_user *client, const char *tok, size_t len, int64_t now_ms,
                            int *revoked)
{
    struct kw_actor actor = {"service_user", client->id, ip, request_id, client->id, "client_secret"};
    struct kw_jwt_claims c;
    struct kw_verify_result vr;
    struct kw_write w;
    struct ban_jti b;
    struct kw_key row;
    enum kw_err err;

    *revoked = 0;
    if (kw_jwt_looks_like(tok, len)) {
        if (kw_jwt_verify(app, tok, len, now_ms, &c) != KW_OK)
            return KW_OK; /* unknown, expired, already revoked: nothing to do (RFC 7009 2.2) */
        if (strcmp(c.sub, client->id) != 0)
            return KW_ERR_CONFLICT;
        b = (struct ban_jti){&c, client->id, {0}};
        kw_write_init(&w, &actor, "access_token.revoke", "access_token", c.jti, c.service_id);
        snprintf(w.detail, sizeof(w.detail), "{\"jti\":\"%s\"}", c.jti);
        if ((err = kw_domain_write(app, &w, put_ban, &b)) != KW_OK)
            return err;
        if ((err = kw_keycache_put(app->keys, &b.row)) != KW_OK)
            return err;
        *revoked = 1;
        return KW_OK;
    }
    if (!minted_token(app, client, tok, len, now_ms, &vr))
        return KW_OK;
    if (strcmp(vr.service_user_id, client->id) != 0)
        return KW_ERR_CONFLICT;
    err = kw_tokens_revoke(app, &actor, vr.key_id, &row);
    *revoked = err == KW_OK;
    return err;
}
