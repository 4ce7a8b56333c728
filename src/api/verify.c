/* verify.c - POST /api/v1/keys/verify and GET /api/v1/auth/check (nginx auth_request). */
#include <stdio.h>
#include <string.h>

#include "api/internal.h"

#define KW_VERIFY_KEY_MAX 512

static const char *const verify_fields[] = {"key", NULL};

void kw_api_verify(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_verify_result r;
    const char *key = NULL;
    json_t *b = kw_api_body(c, res, verify_fields, 0), *o;
    int got;

    if (b == NULL)
        return;
    got = kw_api_str(c, res, b, "key", 1, KW_VERIFY_KEY_MAX, &key);
    if (got <= 0) {
        if (got == 0)
            kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"key\" is required (1 to 512 bytes).", "key");
        goto out;
    }
    kw_keycache_verify(c->app->keys, key, strlen(key), c->req->now_ms, c->req->ip,
                       c->principal.kind == KW_PRINCIPAL_KEY || c->principal.kind == KW_PRINCIPAL_SERVICE_USER
                           ? c->principal.service_id
                           : NULL,
                       &r);
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

void kw_api_auth_check(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const struct kw_api_req *req = c->req;
    struct kw_verify_result r;
    struct kw_credentials cr;
    const char *cred = NULL;
    size_t len = 0;
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
    cred = cr.bearer != NULL ? cr.bearer : cr.api_key;
    len = cr.bearer != NULL ? cr.bearer_len : cr.api_key_len;
    if (cred == NULL || len == 0) {
        deny(c, res, "MISSING");
        return;
    }
    kw_keycache_verify(c->app->keys, cred, len, req->now_ms, req->ip, NULL, &r);
    res->verify_code = (int)r.code;
    if (r.code != KW_VERIFY_VALID) {
        deny(c, res, kw_verify_code_str(r.code));
        return;
    }
    if ((r.perms & want) != want) {
        kw_api_header_str(res, "X-Keyward-Code", "FORBIDDEN");
        kw_api_problem_plain(res, 403, "FORBIDDEN", "The key lacks the permission this route needs.", c->req->request_id);
        return;
    }
    perms_csv(r.perms, csv, sizeof(csv));
    res->status = 204;
    kw_api_header_str(res, "X-Keyward-Key-Id", r.key_id);
    kw_api_header_str(res, "X-Keyward-Service-Id", r.service_id);
    kw_api_header_str(res, "X-Keyward-Scope", kw_api_scope_name(r.scope));
    kw_api_header_str(res, "X-Keyward-Permissions", csv);
    kw_api_header_str(res, "X-Keyward-Kind", r.kind);
    if (r.service_user_id[0] != '\0')
        kw_api_header_str(res, "X-Keyward-Service-User-Id", r.service_user_id);
}
