/* router.c - the route table, the one authentication step and the audit of what handlers refuse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "crypto/crypto.h"
#include "domain/accounts.h"
#include "domain/commit_internal.h"
#include "domain/access_keys.h"
#include "domain/keys.h"
#include "domain/records.h"
#include "domain/service_users.h"
#include "domain/webhooks.h"
#include "domain/writer.h"

enum route_auth {
    AUTH_NONE,      /* public */
    AUTH_SELF,      /* the handler reads the credential itself (auth/check) */
    AUTH_ROOT,      /* root token or a sysadmin */
    AUTH_VERIFY,    /* root, sysadmin, or a credential holding keys:verify */
    AUTH_PERSON,    /* root or any logged-in person (handlers narrow it) */
    AUTH_SVC_READ,  /* any member of the service in param 0 (non-members: 404) */
    AUTH_SVC_ADMIN, /* an admin member of the service in param 0 */
    AUTH_KEY_READ,  /* any member of the service owning the key in param 0 */
    AUTH_SU_READ,   /* any member of the service owning the service user in param 0 */
    AUTH_INTEGRATOR, /* an integrator credential (API key, or a service user's): its own service */
    AUTH_ANY,       /* any authenticated caller; the handler decides (documents) */
    AUTH_WH_ADMIN,  /* an admin member of the service owning the webhook in param 0 */
};

struct route {
    const char *method;
    const char *pattern; /* "/api/v1/keys/{keyId}" - a "{...}" segment is a parameter */
    kw_api_handler_fn handler;
    enum route_auth auth;
    const char *action; /* audit action; writes end in a verb, reads in ".read"/".list" */
    int write;
};

static const struct route routes[] = {
    {"GET", "/healthz", kw_api_healthz, AUTH_NONE, NULL, 0},
    {"GET", "/readyz", kw_api_readyz, AUTH_NONE, NULL, 0},
    {"GET", "/.well-known/jwks.json", kw_api_jwks, AUTH_NONE, NULL, 0},
    {"GET", "/.well-known/oauth-authorization-server", kw_api_oauth_metadata, AUTH_NONE, NULL, 0},
    {"GET", "/api/v1/auth/check", kw_api_auth_check, AUTH_SELF, NULL, 0},
    {"POST", "/api/v1/keys/verify", kw_api_verify, AUTH_VERIFY, "key.verify", 0},
    {"GET", "/api/v1/encryption-key", kw_api_encryption_key, AUTH_NONE, NULL, 0},
    {"POST", "/api/v1/session", kw_api_session_create, AUTH_NONE, NULL, 0},
    {"GET", "/api/v1/session", kw_api_session_get, AUTH_PERSON, NULL, 0},
    {"DELETE", "/api/v1/session", kw_api_session_delete, AUTH_PERSON, NULL, 0},
    {"POST", "/api/v1/users", kw_api_users_create, AUTH_ROOT, "user.create", 1},
    {"GET", "/api/v1/users", kw_api_users_list, AUTH_ROOT, "user.list", 0},
    {"PATCH", "/api/v1/users/{username}", kw_api_users_update, AUTH_PERSON, "user.update", 1},
    {"DELETE", "/api/v1/users/{username}", kw_api_users_delete, AUTH_ROOT, "user.delete", 1},
    {"POST", "/api/v1/services", kw_api_services_create, AUTH_ROOT, "service.create", 1},
    {"GET", "/api/v1/services", kw_api_services_list, AUTH_PERSON, "service.list", 0},
    {"GET", "/api/v1/services/{serviceId}", kw_api_services_get, AUTH_SVC_READ, "service.read", 0},
    {"PATCH", "/api/v1/services/{serviceId}", kw_api_services_update, AUTH_ROOT, "service.update", 1},
    {"DELETE", "/api/v1/services/{serviceId}", kw_api_services_delete, AUTH_ROOT, "service.delete", 1},
    {"POST", "/api/v1/services/{serviceId}/keys", kw_api_keys_create, AUTH_ROOT, "key.create", 1},
    {"GET", "/api/v1/services/{serviceId}/keys", kw_api_keys_list, AUTH_SVC_READ, "key.list", 0},
    {"POST", "/api/v1/services/{serviceId}/members", kw_api_members_add, AUTH_SVC_ADMIN, "member.add", 1},
    {"GET", "/api/v1/services/{serviceId}/members", kw_api_members_list, AUTH_SVC_READ, "member.list", 0},
    {"PATCH", "/api/v1/services/{serviceId}/members/{username}", kw_api_members_update, AUTH_SVC_ADMIN,
     "member.update", 1},
    {"DELETE", "/api/v1/services/{serviceId}/members/{username}", kw_api_members_remove, AUTH_SVC_ADMIN,
     "member.remove", 1},
    {"GET", "/api/v1/services/{serviceId}/usage", kw_api_usage, AUTH_SVC_READ, "usage.read", 0},
    {"GET", "/api/v1/keys/{keyId}", kw_api_keys_get, AUTH_KEY_READ, "key.read", 0},
    {"PATCH", "/api/v1/keys/{keyId}", kw_api_keys_update, AUTH_ROOT, "key.update", 1},
    {"DELETE", "/api/v1/keys/{keyId}", kw_api_keys_delete, AUTH_ROOT, "key.delete", 1},
    {"POST", "/api/v1/keys/{keyId}/revoke", kw_api_keys_revoke, AUTH_ROOT, "key.revoke", 1},
    {"POST", "/api/v1/keys/{keyId}/roll", kw_api_keys_roll, AUTH_ROOT, "key.roll", 1},
    {"GET", "/api/v1/audit", kw_api_audit_list, AUTH_PERSON, "audit.list", 0},
    {"POST", "/api/v1/services/{serviceId}/service-users", kw_api_service_users_create, AUTH_ROOT,
     "service_user.create", 1},
    {"GET", "/api/v1/services/{serviceId}/service-users", kw_api_service_users_list, AUTH_SVC_READ,
     "service_user.list", 0},
    {"GET", "/api/v1/service-users/{serviceUserId}", kw_api_service_users_get, AUTH_SU_READ, "service_user.read", 0},
    {"PATCH", "/api/v1/service-users/{serviceUserId}", kw_api_service_users_update, AUTH_ROOT,
     "service_user.update", 1},
    {"DELETE", "/api/v1/service-users/{serviceUserId}", kw_api_service_users_delete, AUTH_ROOT,
     "service_user.delete", 1},
    {"POST", "/api/v1/service-users/{serviceUserId}/client-secret", kw_api_service_users_reset_secret, AUTH_ROOT,
     "service_user.reset_secret", 1},
    {"POST", "/api/v1/service-users/{serviceUserId}/tokens", kw_api_tokens_create, AUTH_ROOT, "token.create", 1},
    {"GET", "/api/v1/service-users/{serviceUserId}/tokens", kw_api_tokens_list, AUTH_SU_READ, "token.list", 0},
    {"POST", "/api/v1/tokens/{tokenId}/revoke", kw_api_tokens_revoke, AUTH_ROOT, "token.revoke", 1},
    {"POST", "/api/v1/services/{serviceId}/access-keys", kw_api_access_keys_create, AUTH_ROOT, "access_key.create", 1},
    {"GET", "/api/v1/services/{serviceId}/access-keys", kw_api_access_keys_list, AUTH_SVC_READ, "access_key.list", 0},
    {"PATCH", "/api/v1/access-keys/{accessKeyId}", kw_api_access_keys_update, AUTH_ROOT, "access_key.update", 1},
    {"DELETE", "/api/v1/access-keys/{accessKeyId}", kw_api_access_keys_delete, AUTH_ROOT, "access_key.delete", 1},
    /* identity records: the operator API (handlers narrow by role) and the integrator API */
    {"POST", "/api/v1/services/{serviceId}/candidates", kw_api_candidates_create, AUTH_SVC_READ, "candidate.create",
     1},
    {"GET", "/api/v1/services/{serviceId}/candidates", kw_api_candidates_list, AUTH_SVC_READ, "candidate.list", 0},
    {"GET", "/api/v1/services/{serviceId}/candidates/{refId}", kw_api_candidates_get, AUTH_SVC_READ,
     "candidate.read", 0},
    {"PATCH", "/api/v1/services/{serviceId}/candidates/{refId}", kw_api_candidates_update, AUTH_SVC_READ,
     "candidate.update", 1},
    {"PUT", "/api/v1/services/{serviceId}/candidates/{refId}/pictures/{pictureName}", kw_api_candidates_picture,
     AUTH_SVC_READ, "candidate.update", 1},
    {"POST", "/api/v1/services/{serviceId}/candidates/{refId}/status", kw_api_candidates_status, AUTH_SVC_READ,
     "candidate.status", 1},
    {"GET", "/api/v1/services/{serviceId}/candidates/{refId}/pictures/{pictureName}", kw_api_candidates_picture_get,
     AUTH_SVC_READ, "candidate.picture.read", 0},
    {"POST", "/api/v1/services/{serviceId}/candidates/{refId}/archive", kw_api_candidates_archive, AUTH_SVC_READ,
     "candidate.archive", 1},
    {"POST", "/api/v1/candidates/archive", kw_api_extract_archive, AUTH_INTEGRATOR, "candidate.archive", 1},
    {"GET", "/api/v1/candidates", kw_api_extract_list, AUTH_INTEGRATOR, "candidate.extract", 0},
    {"GET", "/api/v1/candidates/{refId}", kw_api_extract_get, AUTH_INTEGRATOR, "candidate.extract", 0},
    {"POST", "/api/v1/ingest", kw_api_documents_ingest, AUTH_INTEGRATOR, "document.ingest", 1},
    /* documents (api/documents.c): integrators by permission, people by role; handlers audit reads */
    {"GET", "/api/v1/documents", kw_api_documents_list, AUTH_ANY, "document.list", 0},
    {"GET", "/api/v1/documents/{documentId}", kw_api_documents_get, AUTH_ANY, "document.read", 0},
    {"GET", "/api/v1/documents/{documentId}/content", kw_api_documents_content, AUTH_ANY,
     "document.content.read", 0},
    {"DELETE", "/api/v1/documents/{documentId}", kw_api_documents_delete, AUTH_ANY, "document.delete", 1},
    /* OAuth 2.0 and seed 004: the handlers authenticate the client (or check the HMAC) themselves */
    /* webhooks (api/webhooks.c) */
    {"POST", "/api/v1/services/{serviceId}/webhooks", kw_api_webhooks_create, AUTH_SVC_ADMIN, "webhook.create", 1},
    {"GET", "/api/v1/services/{serviceId}/webhooks", kw_api_webhooks_list, AUTH_SVC_ADMIN, "webhook.list", 0},
    {"GET", "/api/v1/webhooks/{webhookId}", kw_api_webhooks_get, AUTH_WH_ADMIN, "webhook.read", 0},
    {"PATCH", "/api/v1/webhooks/{webhookId}", kw_api_webhooks_update, AUTH_WH_ADMIN, "webhook.update", 1},
    {"DELETE", "/api/v1/webhooks/{webhookId}", kw_api_webhooks_delete, AUTH_WH_ADMIN, "webhook.delete", 1},
    {"POST", "/api/v1/webhooks/{webhookId}/rotate-secret", kw_api_webhooks_rotate, AUTH_WH_ADMIN,
     "webhook.rotate_secret", 1},
    {"GET", "/api/v1/webhooks/{webhookId}/deliveries", kw_api_webhooks_deliveries, AUTH_WH_ADMIN,
     "webhook.deliveries", 0},
    {"POST", "/api/v1/webhooks/{webhookId}/deliveries/{deliveryId}/retry", kw_api_webhooks_retry, AUTH_WH_ADMIN,
     "webhook.retry", 1},
    {"POST", "/oauth/token", kw_api_oauth_token, AUTH_NONE, "oauth.token", 0},
    {"POST", "/oauth/introspect", kw_api_oauth_introspect, AUTH_NONE, "oauth.introspect", 0},
    {"POST", "/oauth/revoke", kw_api_oauth_revoke, AUTH_NONE, "oauth.revoke", 0},
    {"POST", "/api/v1/access-tokens", kw_api_access_tokens, AUTH_NONE, "access_key.exchange", 0},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* The grammar of each path parameter: ids as kw_id_new makes them, usernames as accounts allows. A
 * segment that does not fit cannot name an object, so it never reaches a lookup or the audit log. */
static int param_valid(const char *name, size_t nlen, const char *v)
{
    if (nlen == sizeof("{serviceId}") - 1 && memcmp(name, "{serviceId}", nlen) == 0)
        return kw_id_valid(v, "svc");
    if (nlen == sizeof("{keyId}") - 1 && memcmp(name, "{keyId}", nlen) == 0)
        return kw_id_valid(v, "key");
    if (nlen == sizeof("{username}") - 1 && memcmp(name, "{username}", nlen) == 0)
        return kw_accounts_username_valid(v);
    if (nlen == sizeof("{serviceUserId}") - 1 && memcmp(name, "{serviceUserId}", nlen) == 0)
        return kw_id_valid(v, "su");
    if (nlen == sizeof("{tokenId}") - 1 && memcmp(name, "{tokenId}", nlen) == 0)
        return kw_id_valid(v, "tok");
    if (nlen == sizeof("{accessKeyId}") - 1 && memcmp(name, "{accessKeyId}", nlen) == 0)
        return kw_access_keys_id_valid(v);
    if (nlen == sizeof("{refId}") - 1 && memcmp(name, "{refId}", nlen) == 0)
        return kw_records_ref_valid(v);
    if (nlen == sizeof("{documentId}") - 1 && memcmp(name, "{documentId}", nlen) == 0)
        return kw_id_valid(v, "doc");
    if (nlen == sizeof("{webhookId}") - 1 && memcmp(name, "{webhookId}", nlen) == 0)
        return kw_id_valid(v, "wh");
    if (nlen == sizeof("{deliveryId}") - 1 && memcmp(name, "{deliveryId}", nlen) == 0)
        return kw_id_valid(v, "msg");
    if (nlen == sizeof("{pictureName}") - 1 && memcmp(name, "{pictureName}", nlen) == 0)
        return strlen(v) < KW_PICTURE_NAME_MAX && strspn(v, "abcdefghijklmnopqrstuvwxyz_") == strlen(v);
    return 0; /* a parameter without a grammar matches nothing */
}

enum match_result { NO_MATCH = 0, MATCHED, BAD_PARAM };

/* Matches path against pattern segment by segment; fills params (valid ones only). BAD_PARAM when
 * the literal segments match but a parameter does not fit its grammar. */
static enum match_result match(const char *pattern, const char *path, size_t len,
                               char params[KW_API_PARAMS][KW_API_PARAM_MAX])
{
    const char *p = pattern, *end = path + len;
    int np = 0, bad = 0;

    while (*p != '\0' && path < end) {
        if (*p != '/' || *path != '/')
            return NO_MATCH;
        p++, path++;
        const char *pseg = p, *seg = path;
        while (*p != '\0' && *p != '/')
            p++;
        while (path < end && *path != '/')
            path++;
        size_t plen = (size_t)(p - pseg), slen = (size_t)(path - seg);
        if (plen > 0 && pseg[0] == '{') {
            if (slen == 0 || np >= KW_API_PARAMS)
                return NO_MATCH;
            if (slen >= KW_API_PARAM_MAX || memchr(seg, '\0', slen) != NULL) {
                bad = 1;
                continue;
            }
            memcpy(params[np], seg, slen);
            params[np][slen] = '\0';
            if (!param_valid(pseg, plen, params[np]))
                bad = 1;
            np++;
        } else if (plen != slen || memcmp(pseg, seg, slen) != 0) {
            return NO_MATCH;
        }
    }
    if (*p != '\0' || path != end)
        return NO_MATCH;
    if (bad) {
        memset(params, 0, KW_API_PARAMS * KW_API_PARAM_MAX);
        return BAD_PARAM;
    }
    return MATCHED;
}

static int method_is(const struct kw_api_req *req, const char *m)
{
    size_t n = strlen(m);
    return req->method_len == n && memcmp(req->method, m, n) == 0;
}

/* Refusals are not audited one by one: they are counted per (ip, reason, actor, action) and minute,
 * and the writer records one event per bucket when its minute closes (domain/denials.h). */
static void audit_refusal(struct kw_api_ctx *c, const char *action, const char *reason)
{
    struct kw_denial d = {c->actor.ip, reason, action, c->actor.type, c->actor.id, c->req->path,
                          c->req->path_len, c->req->request_id, c->req->now_ms};

    kw_writer_deny(c->app->writer, &d);
}

static int refuse(struct kw_api_ctx *c, const struct route *r, struct kw_api_res *res, int status,
                  const char *code, const char *detail)
{
    kw_api_fail(c, res, status, code, detail, NULL);
    audit_refusal(c, r->action ? r->action : "request", code);
    return 0;
}

/* Service-scoped routes: the caller's role on the service in param 0 (or the key's service). */
static int authorise_service(struct kw_api_ctx *c, const struct route *r, struct kw_api_res *res)
{
    char role[16];
    const char *svc = c->params[0];
    struct kw_key k;
    struct kw_service_user u;
    struct kw_webhook *wh;

    if (c->principal.kind == KW_PRINCIPAL_KEY || c->principal.kind == KW_PRINCIPAL_SERVICE_USER)
        return refuse(c, r, res, 403, "FORBIDDEN", "API keys cannot use the admin API.");
    if (r->auth == AUTH_KEY_READ && !kw_auth_is_admin(&c->principal)) {
        if (kw_keys_get(c->app, c->params[0], &k) != KW_OK)
            return refuse(c, r, res, 404, "NOT_FOUND", "No such key.");
        svc = k.service_id;
    }
    if (r->auth == AUTH_SU_READ && !kw_auth_is_admin(&c->principal)) {
        if (kw_service_users_get(c->app, c->params[0], &u) != KW_OK)
            return refuse(c, r, res, 404, "NOT_FOUND", "No such service user.");
        svc = u.service_id;
    }
    if (r->auth == AUTH_WH_ADMIN && !kw_auth_is_admin(&c->principal)) {
        enum kw_err err = (wh = malloc(sizeof(*wh))) != NULL ? kw_webhooks_get(c->app, c->params[0], wh)
                                                             : KW_ERR_NOMEM;
        if (err == KW_OK)
            memcpy(u.service_id, wh->service_id, sizeof(u.service_id));
        free(wh);
        if (err != KW_OK)
            return refuse(c, r, res, 404, "NOT_FOUND", "No such webhook.");
        svc = u.service_id;
    }
    if (kw_auth_service_role(c->app, &c->principal, svc, role) != KW_OK) {
        kw_api_fail_err(c, res, KW_ERR_STORE, "service", NULL, NULL);
        return 0;
    }
    if (role[0] == '\0')
        return refuse(c, r, res, 404, "NOT_FOUND", "No such service (or you are not a member of it).");
    if (r->auth == AUTH_WH_ADMIN || (r->auth == AUTH_SVC_ADMIN && strstr(r->pattern, "/webhooks") != NULL)) {
        if (strcmp(role, "admin") != 0)
            return refuse(c, r, res, 403, "FORBIDDEN", "Only the service's admins (or a sysadmin) manage webhooks.");
        return 1;
    }
    if (r->auth == AUTH_SVC_ADMIN && strcmp(role, "admin") != 0)
        return refuse(c, r, res, 403, "FORBIDDEN", "Only the service's admins (or a sysadmin) manage members.");
    return 1;
}

/* Cookie-authenticated unsafe requests must echo the session's CSRF token. */
static int csrf_ok(struct kw_api_ctx *c)
{
    const struct kw_api_req *req = c->req;
    size_t n = strlen(c->principal.csrf);

    if (!c->principal.via_session || method_is(req, "GET") || method_is(req, "HEAD"))
        return 1;
    return req->csrf != NULL && req->csrf_len == n && kw_crypto_equal(req->csrf, c->principal.csrf, n);
}

/* 1 if the caller may go on; otherwise answers 401/403/404 and audits the refusal. */
static int authorise(struct kw_api_ctx *c, const struct route *r, struct kw_api_res *res)
{
    struct kw_credentials cred;

    if (r->auth == AUTH_NONE || r->auth == AUTH_SELF)
        return 1;
    if (kw_api_credentials(c->req, &cred) != 0) {
        kw_api_fail_ambiguous(c, res);
        return 0;
    }
    kw_auth_authenticate(c->app, &cred, c->req->now_ms, &c->principal);
    c->actor.type = c->principal.type;
    c->actor.id = c->principal.id;
    if (c->principal.credential_id[0] != '\0') { /* a service user: which of its credentials */
        c->actor.credential_id = c->principal.credential_id;
        c->actor.credential_type = c->principal.credential_type;
    }
    if (c->principal.kind == KW_PRINCIPAL_NONE && c->principal.store_unavailable) {
        /* Not a wrong credential: the store that confirms it did not answer (a client must not drop it). */
        kw_api_header(res, "Retry-After", "1");
        kw_api_fail(c, res, 503, "STORE_UNAVAILABLE", "The store is busy; try again in a second.", NULL);
        return 0;
    }
    if (c->principal.kind == KW_PRINCIPAL_NONE && c->principal.denial != NULL) {
        kw_api_header(res, "WWW-Authenticate", "Bearer realm=\"keyward\"");
        kw_api_fail(c, res, 401, c->principal.denial, kw_api_denial_detail(c->principal.denial), NULL);
        audit_refusal(c, "auth.denied", c->principal.denial);
        return 0;
    }
    if (c->principal.kind == KW_PRINCIPAL_NONE) {
        kw_api_header(res, "WWW-Authenticate", "Bearer realm=\"keyward\"");
        kw_api_fail(c, res, 401, "UNAUTHENTICATED",
                    c->principal.presented ? "The credential or session is not valid (or has expired)."
                                           : "No credential was sent: use Authorization: Bearer, or log in.",
                    NULL);
        audit_refusal(c, "auth.denied",
                      c->principal.presented ? kw_verify_code_str(c->principal.code) : "UNAUTHENTICATED");
        return 0;
    }
    if (!csrf_ok(c))
        return refuse(c, r, res, 403, "CSRF_FAILED", "Send the X-CSRF-Token header you received at login.");
    switch (r->auth) {
    case AUTH_ROOT:
        if (!kw_auth_is_admin(&c->principal))
            return refuse(c, r, res, 403, "FORBIDDEN", "Only a System Administrator may do this.");
        return 1;
    case AUTH_VERIFY:
        if (!kw_auth_allows(&c->principal, NULL, KW_PERM_KEYS_VERIFY))
            return refuse(c, r, res, 403, "FORBIDDEN", "This credential lacks the keys:verify permission.");
        return 1;
    case AUTH_INTEGRATOR:
        if (c->principal.kind != KW_PRINCIPAL_KEY && c->principal.kind != KW_PRINCIPAL_SERVICE_USER)
            return refuse(c, r, res, 403, "FORBIDDEN",
                          strcmp(r->pattern, "/api/v1/ingest") == 0
                              ? "Ingest takes an integrator credential with documents:write (a service user's "
                                "token, access token or signed request, or an API key); people mint a service "
                                "user's token (the console's Upload panel) and upload with it."
                              : "The integrator API takes an integrator credential (an API key, or a service "
                                "user's token, access token or signed request); operators use "
                                "/api/v1/services/{serviceId}/candidates.");
        return 1;
    case AUTH_ANY:
        return 1;
    case AUTH_PERSON:
        if (c->principal.kind == KW_PRINCIPAL_KEY || c->principal.kind == KW_PRINCIPAL_SERVICE_USER)
            return refuse(c, r, res, 403, "FORBIDDEN", "API keys cannot use the admin API.");
        return 1;
    default:
        return authorise_service(c, r, res);
    }
}

static void not_routed(struct kw_api_ctx *c, struct kw_api_res *res, const char *allow, int bad_param)
{
    if (allow[0] == '\0' && bad_param) {
        kw_api_fail(c, res, 404, "NOT_FOUND",
                    "No such object: the id in the path is not one this server issues (svc_ or key_ and 16 "
                    "letters or digits; usernames as documented).",
                    NULL);
        return;
    }
    if (allow[0] == '\0') {
        kw_api_fail(c, res, 404, "NOT_FOUND", "No such endpoint. See docs/openapi.yaml.", NULL);
        return;
    }
    kw_api_header(res, "Allow", "%s", allow);
    kw_api_fail(c, res, 405, "METHOD_NOT_ALLOWED", "This endpoint does not take that method.", NULL);
}

/* key.verify: on the verified key's service (when the caller may see it), outcome by the answer. */
static void audit_verification(struct kw_api_ctx *c, const struct route *r, const struct kw_api_res *res)
{
    char detail[48];
    const char *svc = res->audit_service_id[0] != '\0' ? res->audit_service_id : NULL;

    snprintf(detail, sizeof(detail), "{\"code\":\"%s\"}", kw_verify_code_str(res->verify_code));
    kw_domain_audit_async(c->app, &c->actor, r->action, NULL, NULL, svc,
                          res->verify_code == KW_VERIFY_VALID ? "success" : "denied", detail);
}

/* The integrator routes whose responses X-Keyward-Encryption-Key encrypts (api/jwe.c): the verify
 * endpoint with a body, and every /api/v1/candidates route (the records an integrator extracts). */
static int integrator_route(const struct route *r)
{
    static const char cand[] = "/api/v1/candidates";

    return strcmp(r->pattern, "/api/v1/keys/verify") == 0 ||
           (strncmp(r->pattern, cand, sizeof(cand) - 1) == 0 &&
            (r->pattern[sizeof(cand) - 1] == '\0' || r->pattern[sizeof(cand) - 1] == '/'));
}

/* Authorises the route, runs its handler and audits what the handler did not. */
static void run(struct kw_api_ctx *c, const struct route *r, struct kw_api_res *res)
{
    if (!authorise(c, r, res))
        return;
    r->handler(c, res);
    if (r->action == NULL || c->principal.kind == KW_PRINCIPAL_NONE || c->audited)
        return;
    /* Successful writes were audited in their transaction; the rest is written behind. */
    if (r->write && res->status < 400)
        return;
    if (res->verify_code >= 0) {
        audit_verification(c, r, res);
        return;
    }
    kw_domain_audit_async(c->app, &c->actor, r->action, NULL, c->params[0][0] ? c->params[0] : NULL, NULL,
                          res->status < 400 ? "success" : "failure", NULL);
}

void kw_api_handle(struct kw_app *app, const struct kw_api_req *req, struct kw_api_res *res)
{
    struct kw_api_ctx c;
    char allow[64] = "";
    const struct route *r = NULL;
    size_t i, used = 0;
    int bad_param = 0;

    memset(res, 0, sizeof(*res));
    memset(&c, 0, sizeof(c));
    res->verify_code = -1;
    res->route = "unmatched";
    c.app = app;
    c.req = req;
    c.actor.type = "anonymous";
    c.actor.id = "anonymous";
    c.actor.ip = req->ip;
    c.actor.request_id = req->request_id;
    for (i = 0; i < NROUTES; i++) {
        enum match_result m = match(routes[i].pattern, req->path, req->path_len, c.params);
        if (m == BAD_PARAM)
            bad_param = 1;
        if (m != MATCHED)
            continue;
        if (method_is(req, routes[i].method)) {
            r = &routes[i];
            break;
        }
        int w = snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "", routes[i].method);
        if (w > 0 && (size_t)w < sizeof(allow) - used)
            used += (size_t)w;
    }
    if (r == NULL) {
        not_routed(&c, res, allow, bad_param);
        return;
    }
    res->route = r->pattern;
    c.action = r->action;
    if (integrator_route(r) && !kw_api_jwe_begin(&c, res))
        return;
    run(&c, r, res);
    kw_api_jwe_finish(&c, res); /* every answer of an encrypted request, errors included */
}
