/* oauth.c - POST /oauth/token (client credentials), /oauth/introspect (RFC 7662), /oauth/revoke
 * (RFC 7009), answering RFC 6749 JSON errors, and seed 004's POST /api/v1/access-tokens (problem+json).
 * Client authentication: client_secret_basic (RFC 6749 2.3.1: base64 of the form-urlencoded id ":" the
 * form-urlencoded secret) or client_secret_post, never both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/form.h"
#include "api/internal.h"
#include "domain/oauth.h"
#include "domain/service_users.h"
#include "domain/writer.h"

#define CLIENT_ID_MAX 128
#define CLIENT_SECRET_MAX 256
#define TOKEN_PARAM_MAX KW_JWT_MAX

/* Refusals are counted like the router's (domain/denials.h), not written one by one. */
static void audit_refusal(struct kw_api_ctx *c, const char *action, const char *reason, const char *client_id)
{
    struct kw_denial d = {c->req->ip, reason, action, client_id ? "service_user" : "anonymous",
                          client_id ? client_id : "anonymous", c->req->path, c->req->path_len,
                          c->req->request_id, c->req->now_ms};

    kw_writer_deny(c->app->writer, &d);
}

static void oauth_fail(struct kw_api_ctx *c, struct kw_api_res *res, int status, const char *error,
                       const char *description)
{
    kw_api_oauth_error(res, status, error, description);
    audit_refusal(c, c->action, error, NULL);
}

/* Reads the form body; 0 after answering invalid_request. */
static int read_form(struct kw_api_ctx *c, struct kw_api_res *res, struct kw_form *f)
{
    char d[160];

    if (!kw_form_content_type(c->req)) {
        kw_form_parse("", 0, f);
        oauth_fail(c, res, 400, "invalid_request", "Send the parameters as application/x-www-form-urlencoded.");
        return 0;
    }
    switch (kw_form_parse(c->req->body ? c->req->body : "", c->req->body ? c->req->body_len : 0, f)) {
    case KW_FORM_OK:
        return 1;
    case KW_FORM_DUPLICATE:
        snprintf(d, sizeof(d), "Parameter \"%.64s\" is repeated (RFC 6749 3.2: at most once).", f->dup);
        oauth_fail(c, res, 400, "invalid_request", d);
        return 0;
    case KW_FORM_TOO_LARGE:
        oauth_fail(c, res, 400, "invalid_request", "At most 16 parameters and 16384 bytes.");
        return 0;
    default:
        oauth_fail(c, res, 400, "invalid_request", "The form body is not valid x-www-form-urlencoded.");
        return 0;
    }
}

/* client_secret_basic: "Basic" base64(urlencode(id) ":" urlencode(secret)). 1 read, 0 another scheme, -1
 * malformed. */
static int basic(const struct kw_api_req *req, char *id, char *secret, size_t *secret_len)
{
    uint8_t raw[CLIENT_ID_MAX + CLIENT_SECRET_MAX * 3 + 4];
    const char *v = req->authorization, *colon;
    size_t n = req->authorization_len, i = 6, len = 0, idlen;

    if (n < 6 || strncasecmp(v, "Basic ", 6) != 0)
        return 0;
    while (i < n && v[i] == ' ')
        i++;
    if (kw_httpsig_b64_decode(v + i, n - i, raw, sizeof(raw) - 1, &len) != 0)
        return -1;
    raw[len] = '\0';
    colon = memchr(raw, ':', len);
    if (colon == NULL)
        return -1;
    idlen = (size_t)(colon - (const char *)raw);
    if (kw_form_decode((const char *)raw, idlen, 1, id, CLIENT_ID_MAX, &i) != 0 ||
        kw_form_decode(colon + 1, len - idlen - 1, 1, secret, CLIENT_SECRET_MAX, secret_len) != 0)
        return -1;
    return 1;
}

/* Authenticates the client of this request into su: 1, or 0 after answering. */
static int client_auth(struct kw_api_ctx *c, struct kw_api_res *res, const struct kw_form *f,
                       struct kw_service_user *su)
{
    char id[CLIENT_ID_MAX] = "", secret[CLIENT_SECRET_MAX] = "";
    const char *fid = kw_form_get(f, "client_id", NULL), *fsecret = kw_form_get(f, "client_secret", NULL);
    size_t secret_len = 0;
    enum kw_err err;
    int b = c->req->authorization != NULL ? basic(c->req, id, secret, &secret_len) : 0;

    if (c->req->authorization_count > 1 || (c->req->authorization != NULL && b == 0) || b < 0) {
        oauth_fail(c, res, 401, "invalid_client", "Authorization must be Basic base64(client_id:client_secret).");
        return 0;
    }
    if (b > 0 && (fsecret != NULL || (fid != NULL && strcmp(fid, id) != 0))) {
        oauth_fail(c, res, 400, "invalid_request", "Use one client authentication method, not two.");
        return 0;
    }
    if (b == 0) {
        if (fid == NULL || fsecret == NULL || strlen(fid) >= sizeof(id) || strlen(fsecret) >= sizeof(secret)) {
            oauth_fail(c, res, 401, "invalid_client",
                       "Authenticate the client: client_secret_basic or client_id and client_secret.");
            return 0;
        }
        snprintf(id, sizeof(id), "%s", fid);
        secret_len = strlen(fsecret);
        memcpy(secret, fsecret, secret_len + 1);
    }
    err = kw_service_users_authenticate_client(c->app, id, secret, secret_len, su);
    explicit_bzero(secret, sizeof(secret));
    if (err == KW_ERR_RETRY || err == KW_ERR_STORE) {
        kw_api_oauth_error(res, 503, "temporarily_unavailable", "The store is busy; try again in a second.");
        kw_api_header(res, "Retry-After", "1");
        return 0;
    }
    if (err != KW_OK) {
        kw_api_oauth_error(res, 401, "invalid_client", "Client authentication failed.");
        audit_refusal(c, c->action, "invalid_client", NULL);
        return 0;
    }
    return 1;
}

static void no_store(struct kw_api_res *res)
{
    kw_api_header_str(res, "Cache-Control", "no-store");
    kw_api_header_str(res, "Pragma", "no-cache");
}

static void issue_failed(struct kw_api_res *res, enum kw_err err)
{
    kw_api_oauth_error(res, 503, "temporarily_unavailable",
                       err == KW_ERR_NOT_FOUND ? "No signing key is published yet; try again in a second."
                                               : "The token could not be issued; try again in a second.");
    kw_api_header(res, "Retry-After", "1");
}

void kw_api_oauth_token(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_form f;
    struct kw_service_user su;
    struct kw_issued *iss = NULL;
    const char *grant, *scope;
    enum kw_err err;

    if (!read_form(c, res, &f))
        goto out;
    grant = kw_form_get(&f, "grant_type", NULL);
    if (grant == NULL) {
        oauth_fail(c, res, 400, "invalid_request", "grant_type is required.");
        goto out;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        oauth_fail(c, res, 400, "unsupported_grant_type", "Only grant_type=client_credentials is supported.");
        goto out;
    }
    if (!client_auth(c, res, &f, &su))
        goto out;
    scope = kw_form_get(&f, "scope", NULL);
    if ((iss = malloc(sizeof(*iss))) == NULL) {
        issue_failed(res, KW_ERR_NOMEM);
        goto out;
    }
    err = kw_oauth_client_credentials(c->app, c->req->ip, c->req->request_id, &su,
                                      scope != NULL && scope[0] != '\0' ? scope : NULL, c->req->now_ms, iss);
    if (err == KW_ERR_INVALID) {
        kw_api_oauth_error(res, 400, "invalid_scope",
                           "scope must name permissions this client holds (space-separated).");
        audit_refusal(c, c->action, "invalid_scope", su.id);
        goto out;
    }
    if (err != KW_OK) {
        issue_failed(res, err);
        goto out;
    }
    kw_api_json(res, 200,
                json_pack("{s:s, s:s, s:I, s:s}", "access_token", iss->token, "token_type", "Bearer", "expires_in",
                          (json_int_t)iss->expires_in, "scope", iss->claims.scope));
    no_store(res);
out:
    free(iss);
    kw_form_cleanup(&f);
}

static json_t *introspection_json(const struct kw_introspection *in)
{
    json_t *o = json_pack("{s:b}", "active", 1);
    const struct kw_jwt_claims *cl = &in->c;

    json_object_set_new(o, "scope", json_string(cl->scope));
    json_object_set_new(o, "client_id", json_string(cl->client_id));
    json_object_set_new(o, "sub", json_string(cl->sub));
    json_object_set_new(o, "token_type", json_string(in->token_type));
    json_object_set_new(o, "jti", json_string(cl->jti));
    if (cl->exp > 0)
        json_object_set_new(o, "exp", json_integer(cl->exp));
    if (cl->iat > 0)
        json_object_set_new(o, "iat", json_integer(cl->iat));
    if (cl->iss[0] != '\0')
        json_object_set_new(o, "iss", json_string(cl->iss));
    if (cl->aud[0] != '\0')
        json_object_set_new(o, "aud", json_string(cl->aud));
    return o;
}

/* The token parameter of introspect/revoke; NULL after answering. */
static const char *token_param(struct kw_api_ctx *c, struct kw_api_res *res, const struct kw_form *f, size_t *len)
{
    const char *tok = kw_form_get(f, "token", len);

    if (tok == NULL || *len == 0)
        oauth_fail(c, res, 400, "invalid_request", "token is required.");
    return tok != NULL && *len > 0 ? tok : NULL;
}

void kw_api_oauth_introspect(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_form f;
    struct kw_service_user su;
    struct kw_introspection *in = NULL;
    const char *tok;
    size_t len = 0;

    if (!read_form(c, res, &f) || (tok = token_param(c, res, &f, &len)) == NULL || !client_auth(c, res, &f, &su))
        goto out;
    if ((in = malloc(sizeof(*in))) == NULL) {
        issue_failed(res, KW_ERR_NOMEM);
        goto out;
    }
    kw_oauth_introspect(c->app, &su, tok, len, c->req->now_ms, in);
    kw_api_json(res, 200, in->active ? introspection_json(in) : json_pack("{s:b}", "active", 0));
    no_store(res);
out:
    free(in);
    kw_form_cleanup(&f);
}

void kw_api_oauth_revoke(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_form f;
    struct kw_service_user su;
    const char *tok;
    size_t len = 0;
    int revoked = 0;
    enum kw_err err;

    if (!read_form(c, res, &f) || (tok = token_param(c, res, &f, &len)) == NULL || !client_auth(c, res, &f, &su))
        goto out;
    err = kw_oauth_revoke(c->app, c->req->ip, c->req->request_id, &su, tok, len, c->req->now_ms, &revoked);
    if (err == KW_ERR_CONFLICT) {
        kw_api_oauth_error(res, 400, "invalid_request", "This token was not issued to this client.");
        audit_refusal(c, c->action, "invalid_request", su.id);
        goto out;
    }
    if (err != KW_OK) {
        kw_api_oauth_error(res, 503, "temporarily_unavailable", "The store is busy; try again in a second.");
        kw_api_header(res, "Retry-After", "1");
        goto out;
    }
    res->status = 200;
    no_store(res);
out:
    kw_form_cleanup(&f);
}

/* ---- seed 004 ---- */

static const char *exchange_detail(const char *code)
{
    if (strcmp(code, "INVALID_NONCE") == 0)
        return "nonce must be 16 to 64 characters of A-Z, a-z, 0-9, '_' and '-'.";
    if (strcmp(code, "INVALID_FIELD") == 0)
        return "signature must be base64 of the HMAC-SHA256.";
    if (strcmp(code, "TIMESTAMP_SKEW") == 0)
        return "timestamp must be within 300 seconds of the server's clock (unix seconds).";
    if (strcmp(code, "ACCESS_KEY_NOT_FOUND") == 0)
        return "No such access key.";
    if (strcmp(code, "ACCESS_KEY_DISABLED") == 0)
        return "The access key, or its service user, is disabled.";
    if (strcmp(code, "NONCE_REPLAYED") == 0)
        return "This nonce was already used with this access key: make a new one for every exchange.";
    return "signature must be base64 of HMAC-SHA256 keyed with the secret access key over "
           "\"<accessKeyId>.<timestamp>.<nonce>\".";
}

void kw_api_access_tokens(struct kw_api_ctx *c, struct kw_api_res *res)
{
    static const char *const allowed[] = {"accessKeyId", "timestamp", "nonce", "signature", NULL};
    struct kw_exchange x = {NULL, 0, NULL, NULL, c->req->ip, c->req->request_id};
    struct kw_issued *iss = NULL;
    const char *refusal = NULL;
    json_t *body = kw_api_body(c, res, allowed, 0);
    enum kw_err err;
    int status = 0;

    if (body == NULL)
        return;
    if (kw_api_str(c, res, body, "accessKeyId", 1, 64, &x.access_key_id) != 1 ||
        kw_api_int(c, res, body, "timestamp", 0, (int64_t)1 << 40, 0, &x.timestamp, NULL) != 1 ||
        kw_api_str(c, res, body, "nonce", 1, 128, &x.nonce) != 1 ||
        kw_api_str(c, res, body, "signature", 1, 200, &x.signature) != 1) {
        if (res->status == 0)
            kw_api_fail(c, res, 400, "INVALID_FIELD", "accessKeyId, timestamp, nonce and signature are required.",
                        NULL);
        goto out;
    }
    if ((iss = malloc(sizeof(*iss))) == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "access key", NULL, NULL);
        goto out;
    }
    err = kw_oauth_exchange(c->app, &x, c->req->now_ms, iss, &refusal, &status);
    if (err == KW_OK && refusal != NULL) {
        kw_api_fail(c, res, status, refusal, exchange_detail(refusal),
                    status == 400 ? (strcmp(refusal, "INVALID_NONCE") == 0 ? "nonce" : "signature") : NULL);
        audit_refusal(c, c->action, refusal, NULL);
        goto out;
    }
    if (err != KW_OK) {
        kw_api_header(res, "Retry-After", "1");
        kw_api_fail(c, res, 503, err == KW_ERR_NOT_FOUND ? "SIGNING_KEY_UNAVAILABLE" : "STORE_UNAVAILABLE",
                    "The access token could not be issued; try again in a second.", NULL);
        goto out;
    }
    kw_api_json(res, 201,
                json_pack("{s:s, s:s, s:I}", "accessToken", iss->token, "tokenType", "Bearer", "expiresIn",
                          (json_int_t)iss->expires_in));
    no_store(res);
out:
    free(iss);
    json_decref(body);
}
