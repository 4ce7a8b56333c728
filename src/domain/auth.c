/* auth.c - credential -> principal; see auth.h. */
#include "domain/auth.h"

#include <stdio.h>
#include <string.h>

#include "domain/accounts.h"
#include "domain/auth_internal.h"
#include "domain/commit_internal.h"
#include "domain/jwt.h"
#include "domain/keyfmt.h"
#include "domain/root.h"

/* What the authenticators share about one presented credential. The key authenticator runs first
 * and leaves its verify result (with the SHA-256 of the credential when it had the credential
 * shape) for the next, so no credential is hashed twice. */
struct auth_input {
    const char *cred;
    size_t len;
    const char *ip;
    int64_t now_ms;
    struct kw_verify_result vr;
};

/* One authenticator per credential kind: returns 1 if it recognised and accepted the credential,
 * 0 to let the next one try. It may set out->code to say why a credential of its kind failed. */
typedef int (*kw_authenticator_fn)(struct kw_app *app, struct auth_input *in, struct kw_principal *out);

static int auth_key(struct kw_app *app, struct auth_input *in, struct kw_principal *out)
{
    struct kw_verify_result *r = &in->vr;

    kw_keycache_verify(app->keys, in->cred, in->len, in->now_ms, in->ip, NULL, r);
    out->code = r->code;
    if (r->code != KW_VERIFY_VALID)
        return 0;
    if (strcmp(r->kind, "token") == 0)
        return 0; /* auth_token's */
    out->kind = KW_PRINCIPAL_KEY;
    out->type = "key";
    memcpy(out->id, r->key_id, sizeof(r->key_id));
    memcpy(out->service_id, r->service_id, sizeof(out->service_id));
    out->perms = r->perms;
    out->scope = r->scope;
    out->expires_at = r->expires_at;
    out->require_encryption = r->require_encryption;
    out->archives_after_extract = r->archives_after_extract;
    return 1;
}

/* A service user's minted token (kwt_...): the verify result auth_key left (one lookup answers both
 * kinds). The token's permissions were narrowed to the user's at mint and are narrowed again in the
 * same transaction whenever the user's are (domain/service_users.c), so the row holds the effective set. */
static int auth_token(struct kw_app *app, struct auth_input *in, struct kw_principal *out)
{
    struct kw_verify_result *r = &in->vr;

    (void)app;
    if (strcmp(r->kind, "token") != 0)
        return 0;
    if (r->code != KW_VERIFY_VALID)
        return 1; /* a token, refused: out->code says why; no other kind will take it */
    out->kind = KW_PRINCIPAL_SERVICE_USER;
    out->type = "service_user";
    snprintf(out->id, sizeof(out->id), "%s", r->service_user_id);
    memcpy(out->service_id, r->service_id, sizeof(out->service_id));
    out->perms = r->perms;
    out->scope = r->scope;
    out->expires_at = r->expires_at;
    snprintf(out->credential_id, sizeof(out->credential_id), "%s", r->key_id);
    snprintf(out->credential_type, sizeof(out->credential_type), "token");
    out->require_encryption = r->require_encryption;
    return 1;
}

/* A JWT access token (domain/jwt.h): anything with the JWS shape is this authenticator's, valid or
 * not (no other kind has that shape). In memory only: signature, claims, bans, the verified-token cache.
 * The scope was narrowed to the service user's permissions when the token was issued; a user disabled
 * or deleted since is banned ("su:"), so the JWT stops with it. */
static int auth_jwt(struct kw_app *app, struct auth_input *in, struct kw_principal *out)
{
    struct kw_jwt_claims c;
    enum kw_err err;

    if (!kw_jwt_looks_like(in->cred, in->len))
        return 0;
    err = kw_jwt_verify(app, in->cred, in->len, in->now_ms, &c);
    if (err != KW_OK) {
        kw_auth_jwt_refusal(c.reason, &out->code, &out->denial);
        return 1;
    }
    out->kind = KW_PRINCIPAL_SERVICE_USER;
    out->type = "service_user";
    out->code = KW_VERIFY_VALID;
    snprintf(out->id, sizeof(out->id), "%s", c.sub);
    snprintf(out->service_id, sizeof(out->service_id), "%s", c.service_id);
    out->perms = c.perms;
    out->expires_at = c.exp * 1000;
    snprintf(out->credential_id, sizeof(out->credential_id), "%s", c.jti);
    snprintf(out->credential_type, sizeof(out->credential_type), "jwt");
    return 1;
}

/* In memory (see root.h): reuses the hash auth_key computed when the credential had key shape. */
static int auth_root(struct kw_app *app, struct auth_input *in, struct kw_principal *out)
{
    int ok = kw_root_check(&app->root, app->store, in->cred, in->len, in->vr.hashed ? in->vr.hash : NULL,
                           in->now_ms);

    if (ok <= 0) {
        out->store_unavailable = ok < 0;
        return 0;
    }
    out->kind = KW_PRINCIPAL_ROOT;
    out->type = "root";
    memcpy(out->id, "root", sizeof("root"));
    out->service_id[0] = '\0';
    out->perms = KW_PERM_ALL;
    out->code = KW_VERIFY_VALID;
    return 1;
}

static int auth_session(struct kw_app *app, const char *cred, size_t len, const char *ip, int64_t now_ms,
                        struct kw_principal *out)
{
    struct kw_session s;
    struct kw_user u;

    enum kw_err err = kw_accounts_session(app, cred, len, now_ms, &s, &u);

    if (err != KW_OK) {
        out->store_unavailable = err == KW_ERR_RETRY || err == KW_ERR_STORE;
        return 0;
    }
    out->kind = KW_PRINCIPAL_USER;
    out->type = "user";
    snprintf(out->id, sizeof(out->id), "%s", u.username);
    out->sysadmin = strcmp(u.role, "sysadmin") == 0;
    out->perms = out->sysadmin ? KW_PERM_ALL : 0;
    out->via_session = 1;
    out->code = KW_VERIFY_VALID;
    memcpy(out->csrf, s.csrf, sizeof(out->csrf));
    memcpy(out->session_hash, s.id_hash, sizeof(out->session_hash));
    return 1;
}

void kw_auth_jwt_refusal(const char *reason, enum kw_verify_code *code, const char **denial)
{
    static const struct {
        const char *reason;
        enum kw_verify_code code;
        const char *denial;
    } map[] = {
        {"expired", KW_VERIFY_EXPIRED, NULL},
        {"revoked", KW_VERIFY_REVOKED, NULL},
        {"disabled", KW_VERIFY_DISABLED, NULL},
        {"malformed", KW_VERIFY_MALFORMED, NULL},
        {"type", KW_VERIFY_MALFORMED, "TOKEN_TYPE_INVALID"},
        {"unknown_key", KW_VERIFY_NOT_FOUND, "SIGNING_KEY_UNKNOWN"},
        {"signature", KW_VERIFY_MALFORMED, "TOKEN_SIGNATURE_INVALID"},
        {"issuer", KW_VERIFY_MALFORMED, "ISSUER_MISMATCH"},
        {"audience", KW_VERIFY_MALFORMED, "AUDIENCE_MISMATCH"},
    };
    size_t i;

    *code = KW_VERIFY_MALFORMED;
    *denial = NULL;
    for (i = 0; reason != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].reason, reason) == 0) {
            *code = map[i].code;
            *denial = map[i].denial;
            return;
        }
    }
}

static const kw_authenticator_fn authenticators[] = {auth_jwt, auth_key, auth_token, auth_root};
/* The verify endpoints' door: what a service presents, never the root token (nor a session). */
static const kw_authenticator_fn service_authenticators[] = {auth_jwt, auth_key, auth_token};

static void authenticate(struct kw_app *app, const struct kw_credentials *c, int64_t now_ms, int people,
                         struct kw_principal *out)
{
    const kw_authenticator_fn *table = people ? authenticators : service_authenticators;
    size_t n = people ? sizeof(authenticators) / sizeof(authenticators[0])
                      : sizeof(service_authenticators) / sizeof(service_authenticators[0]);
    struct auth_input in;
    size_t i;

    in.cred = c->bearer ? c->bearer : c->api_key;
    in.len = c->bearer ? c->bearer_len : c->api_key_len;
    in.ip = c->ip;
    in.now_ms = now_ms;
    in.vr.hashed = 0;

    memset(out, 0, sizeof(*out));
    out->type = "anonymous";
    memcpy(out->id, "anonymous", sizeof("anonymous"));
    out->code = KW_VERIFY_NOT_FOUND;
    if (c->signed_request) {
        out->presented = 1;
        kw_auth_signature(app, c, now_ms, out);
        return;
    }
    if (people && (in.cred == NULL || in.len == 0) && c->session != NULL && c->session_len > 0) {
        out->presented = 1;
        auth_session(app, c->session, c->session_len, c->ip, now_ms, out);
        return;
    }
    if (in.cred == NULL || in.len == 0)
        return;
    out->presented = 1;
    for (i = 0; i < n; i++) {
        if (table[i](app, &in, out))
            return;
    }
}

void kw_auth_authenticate(struct kw_app *app, const struct kw_credentials *c, int64_t now_ms,
                          struct kw_principal *out)
{
    authenticate(app, c, now_ms, 1, out);
}

void kw_auth_service_credential(struct kw_app *app, const struct kw_credentials *c, int64_t now_ms,
                                struct kw_principal *out)
{
    authenticate(app, c, now_ms, 0, out);
}

int kw_auth_is_admin(const struct kw_principal *p)
{
    return p->kind == KW_PRINCIPAL_ROOT || (p->kind == KW_PRINCIPAL_USER && p->sysadmin);
}

enum kw_err kw_auth_service_role(struct kw_app *app, const struct kw_principal *p, const char *service_id,
                                 char role[16])
{
    struct kw_member m;
    enum kw_err err;

    role[0] = '\0';
    if (kw_auth_is_admin(p)) {
        memcpy(role, "admin", sizeof("admin"));
        return KW_OK;
    }
    if (p->kind != KW_PRINCIPAL_USER)
        return KW_OK;
    KW_DOMAIN_READ(app->store, err, tx, kw_store_member_get(tx, service_id, p->id, &m));
    if (err == KW_OK)
        snprintf(role, 16, "%s", m.role);
    return err == KW_ERR_NOT_FOUND ? KW_OK : err;
}

int kw_auth_allows(const struct kw_principal *p, const char *service_id, uint32_t perm)
{
    if (kw_auth_is_admin(p))
        return 1;
    if (p->kind != KW_PRINCIPAL_KEY && p->kind != KW_PRINCIPAL_SERVICE_USER)
        return 0;
    if (service_id != NULL && strcmp(service_id, p->service_id) != 0)
        return 0;
    return (p->perms & perm) == perm;
}
