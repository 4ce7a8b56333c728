/* wellknown.c - GET /.well-known/jwks.json (the published JWT signing keys, RFC 7517/8037) and
 * GET /.well-known/oauth-authorization-server (RFC 8414). Both are public and answered from memory. */
#include "api/internal.h"

#include <stdio.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/app.h"
#include "domain/jwt.h"
#include "domain/signing.h"

#define JWKS_MAX_AGE "public, max-age=60"

void kw_api_jwks(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_signing_pub pubs[KW_SIGNING_MAX];
    json_t *keys = json_array();
    char x[48];
    size_t n = c->app->signing != NULL
                   ? kw_signing_published(c->app->signing, kw_time_now_ms(), pubs, KW_SIGNING_MAX)
                   : 0,
           i;

    for (i = 0; i < n; i++) {
        kw_crypto_base64url_encode(pubs[i].x, sizeof(pubs[i].x), x, sizeof(x));
        json_array_append_new(keys,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "OKP", "crv", "Ed25519", "x",
                                        x, "kid", pubs[i].kid, "use", "sig", "alg", "EdDSA"));
    }
    kw_api_header_str(res, "Cache-Control", JWKS_MAX_AGE);
    kw_api_json(res, 200, json_pack("{s:o}", "keys", keys));
}

static json_t *url(const char *issuer, const char *path)
{
    char buf[KW_JWT_URL_MAX + 64];

    snprintf(buf, sizeof(buf), "%s%s", issuer, path);
    return json_string(buf);
}

void kw_api_oauth_metadata(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *iss = c->app->issuer;
    json_t *methods = json_pack("[s, s]", "client_secret_basic", "client_secret_post");
    json_t *body = json_pack(
        "{s:s, s:o, s:o, s:o, s:o, s:[s], s:O, s:O, s:O, s:[], s:[s, s, s, s, s]}", "issuer", iss,
        "token_endpoint", url(iss, "/oauth/token"), "jwks_uri", url(iss, "/.well-known/jwks.json"),
        "introspection_endpoint", url(iss, "/oauth/introspect"), "revocation_endpoint",
        url(iss, "/oauth/revoke"), "grant_types_supported", "client_credentials",
        "token_endpoint_auth_methods_supported", methods, "introspection_endpoint_auth_methods_supported",
        methods, "revocation_endpoint_auth_methods_supported", methods, "response_types_supported",
        "scopes_supported", "candidates:read", "candidates:archive", "documents:write", "documents:read",
        "keys:verify");

    json_decref(methods);
    kw_api_header_str(res, "Cache-Control", JWKS_MAX_AGE);
    kw_api_json(res, 200, body);
}
