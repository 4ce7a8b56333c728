/* verify.c - POST /api/v1/keys/verify and GET /api/v1/auth/check (nginx auth_request). */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "domain/jwt.h"

#define KW_VERIFY_KEY_MAX 512 /* an API key or token; a JWT access token may take KW_JWT_MAX */

static const char *const verify_fields[] = {"key", NULL};

/* The service a keys:verify holder is confined to (its own), or NULL for root and sysadmins. */
static const char *verifier_service(const struct kw_api_ctx *c)
{
    return c->principal.kind == KW_PRINCIPAL_KEY || c->principal.kind == KW_PRINCIPAL_SERVICE_USER
               ? c->principal.service_id
               : NULL;
}

static void verify_key(struct kw_api_ctx *c, struct kw_api_res *res, const char *key, size_t len)
{
    struct kw_verify_result r;
    json_t *o;

    kw_keycache_verify(c->app->keys, key, len, c->req->now_ms, c->req->ip, verifier_service(c), &r);
    /* A caller holding keys:verify sees only its own service's keys. */
    if (r.key_id[0] != '\0' && !kw_auth_allows(&c->principal, r.service_id, KW_PERM_KEYS_VERIFY)) {
        r.code = KW_VERIFY_NOT_FOUND;
        r.key_id[0] = '\0';
    }
    res->verify_code = (int)r.code;
    if (r.key_id[0] != '\0')
        snprintf(res->audit_service_id, sizeof(res->audit_service_id), "%s", r.service_id);
    o = json_pack("{s:b, s:s}", "valid", r.code == KW_VERIFY_VALID, "code", kw_verify_code_str(r.code));
    if (o != NULL && r.key_id[0] != '\0') {
        json_object_set_new(o, "keyId", json_string(r.key_id));
        json_object_set_new(o, "serviceId", json_string(r.service_id));
        json_object_set_new(o, "scope", json_string(kw_api_scope_name(r.scope)));
        json_object_set_new(o, "permissions", kw_api_perms_json(r.perms));
        json_object_set_new(o, "expiresAt", kw_api_time_json(r.expires_at));
        json_object_set_new(o, "kind", json_string(r.kind));
        if (r.service_user_id[0] != '\0')
            json_object_set_new(o, "serviceUserId", json_string(r.service_user_id));
    }
    kw_api_json(res, 200, o);
}

/* A JWT access token: in memory (signature, claims, bans, the verified-token cache). Its facts are shown
 * when its signature, issuer and audience held (valid, or expired / revoked / disabled since), and only
 * to a caller that may see its service. */
static void verify_jwt(struct kw_api_ctx *c, struct kw_api_res *res, const char *tok, size_t len)
{
    struct kw_jwt_claims cl;
    enum kw_verify_code code = KW_VERIFY_VALID;
    const char *denial = NULL;
    int facts;
    json_t *o;

    if (kw_jwt_verify(c->app, tok, len, c->req->now_ms, &cl) != KW_OK)
        kw_auth_jwt_refusal(cl.reason, &code, &denial);
    facts = code == KW_VERIFY_VALID || code == KW_VERIFY_EXPIRED || code == KW_VERIFY_REVOKED ||
            code == KW_VERIFY_DISABLED;
    if (facts && !kw_auth_allows(&c->principal, cl.service_id, KW_PERM_KEYS_VERIFY)) {
        code = KW_VERIFY_NOT_FOUND;
        denial = NULL;
        facts = 0;
    }
    res->verify_code = (int)code;
    if (facts)
        snprintf(res->audit_service_id, sizeof(res->audit_service_id), "%s", cl.service_id);
    o = json_pack("{s:b, s:s, s:s}", "valid", code == KW_VERIFY_VALID, "code",
                  denial != NULL ? denial : kw_verify_code_str(code), "kind", "jwt");
    if (o != NULL && facts) {
        json_object_set_new(o, "jti", json_string(cl.jti));
        json_object_set_new(o, "serviceId", json_string(cl.service_id));
        json_object_set_new(o, "serviceUserId", json_string(cl.sub));
        json_object_set_new(o, "scope", json_string(kw_api_scope_name(KW_SCOPE_METADATA)));
        json_object_set_new(o, "permissions", kw_api_perms_json(cl.perms));
        json_object_set_new(o, "expiresAt", kw_api_time_json(cl.exp * 1000));
    }
    kw_api_json(res, 200, o);
}

void kw_api_verify(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *key = NULL;
    json_t *b;
    size_t len;
    int got;

    if (!kw_api_require_encryption(c, res))
        return;
    b = kw_api_body(c, res, verify_fields, 0);
    if (b == NULL)
        return;
    got = kw_api_str(c, res, b, "key", 1, KW_JWT_MAX, &key);
    if (got < 0)
        goto out;
    len = got > 0 ? strlen(key) : 0;
    if (got == 0 || (len > KW_VERIFY_KEY_MAX && !kw_jwt_looks_like(key, len))) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"key\" is required: an API key or token of 1 to 512 bytes, or a JWT access token "
                    "of up to 4096.",
                    "key");
        goto out;
    }
    if (kw_jwt_looks_like(key, len))
        verify_jwt(c, res, key, len);
    else
        verify_key(c, res, key, len);
out:
    json_decref(b);
}

/* "candidates:read,keys:verify" */
static void perms_csv(uint32_t perms, char *out, size_t cap)
{
    static const char *const names[] = {"candidates:read", "candidates:archive", "documents:write",
                                        "documents:read", "keys:verify"};
    size_t i, used = 0;

    out[0] = '\0';
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]) + (used ? 1 : 0);
        if (!(perms & (1u << i)))
            continue;
        if (used + n >= cap)
            return;
        if (used)
            out[used] = ',';
        memcpy(out + used + (used ? 1 : 0), names[i], n - (used ? 1 : 0));
        used += n;
        out[used] = '\0';
    }
}

static void deny(struct kw_api_ctx *c, struct kw_api_res *res, const char *code)
{
    static const char pre[] = "The credential was not accepted (";
    char detail[96];
    size_t n = strnlen(code, sizeof(detail) - sizeof(pre) - 2);

    memcpy(detail, pre, sizeof(pre) - 1);
    memcpy(detail + sizeof(pre) - 1, code, n);
    memcpy(detail + sizeof(pre) - 1 + n, ").", 3);
    kw_api_header_str(res, "X-Keyward-Code", code);
    kw_api_header_str(res, "WWW-Authenticate", "Bearer realm=\"keyward\"");
    kw_api_problem_plain(res, 401, "UNAUTHENTICATED", detail, c->req->request_id);
}

/* X-Keyward-Kind of a principal the door accepted. */
static const char *principal_kind(const struct kw_principal *p)
{
    return p->kind == KW_PRINCIPAL_SERVICE_USER ? p->credential_type : "api_key";
}

void kw_api_auth_check(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const struct kw_api_req *req = c->req;
    struct kw_principal *p = &c->principal;
    struct kw_credentials cr;
    uint32_t want = 0;
    char perm[40], csv[128];
    int q = kw_api_query(req, "permission", perm, sizeof(perm));

    if (q < 0 || (q > 0 && kw_api_perm_parse(perm, &want) != 0)) {
        kw_api_fail(c, res, 400, "INVALID_QUERY", "permission must be one of the five permission names.",
                    "permission");
        return;
    }
    if (kw_api_credentials(req, &cr) != 0) {
        kw_api_header(res, "X-Keyward-Code", "AMBIGUOUS_CREDENTIALS");
        kw_api_fail_ambiguous(c, res);
        return;
    }
    if (!cr.signed_request && ((cr.bearer == NULL || cr.bearer_len == 0) &&
                               (cr.api_key == NULL || cr.api_key_len == 0))) {
        deny(c, res, "MISSING");
        return;
    }
    kw_auth_service_credential(c->app, &cr, req->now_ms, p);
    res->verify_code = (int)p->code;
    if (p->kind == KW_PRINCIPAL_NONE && p->store_unavailable) {
        kw_api_header(res, "Retry-After", "1");
        kw_api_header_str(res, "X-Keyward-Code", "STORE_UNAVAILABLE");
        kw_api_problem_plain(res, 503, "STORE_UNAVAILABLE", "The store is busy; try again in a second.",
                             req->request_id);
        return;
    }
    if (p->kind == KW_PRINCIPAL_NONE) {
        deny(c, res, p->denial != NULL ? p->denial : kw_verify_code_str(p->code));
        return;
    }
    if ((p->perms & want) != want) {
        kw_api_header_str(res, "X-Keyward-Code", "FORBIDDEN");
        kw_api_problem_plain(res, 403, "FORBIDDEN", "The credential lacks the permission this route needs.",
                             req->request_id);
        return;
    }
    perms_csv(p->perms, csv, sizeof(csv));
    res->status = 204;
    if (p->kind == KW_PRINCIPAL_KEY)
        kw_api_header_str(res, "X-Keyward-Key-Id", p->id);
    else if (strcmp(p->credential_type, "jwt") != 0)
        kw_api_header_str(res, "X-Keyward-Key-Id", p->credential_id);
    kw_api_header_str(res, "X-Keyward-Credential-Id", p->kind == KW_PRINCIPAL_KEY ? p->id : p->credential_id);
    kw_api_header_str(res, "X-Keyward-Service-Id", p->service_id);
    kw_api_header_str(res, "X-Keyward-Scope", kw_api_scope_name(p->scope));
    kw_api_header_str(res, "X-Keyward-Permissions", csv);
    kw_api_header_str(res, "X-Keyward-Kind", principal_kind(p));
    if (p->kind == KW_PRINCIPAL_SERVICE_USER)
        kw_api_header_str(res, "X-Keyward-Service-User-Id", p->id);
}
