/* jwe.c - encrypted responses (seed 001): GET /api/v1/encryption-key, and the wrapper the router applies
 * to integrator routes. A request with X-Keyward-Encryption-Key (an AES-256 key wrapped to keyward's RSA
 * key with RSA-OAEP-256, domain/enckeys.h) gets its whole response, errors included, as a compact JWE
 * (Content-Type application/jose). A key that cannot be opened is a plain 400 ENCRYPTION_KEY_INVALID:
 * there is no key to encrypt it to, and nothing else is answered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "domain/enckeys.h"

int kw_api_jwe_begin(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const struct kw_api_req *r = c->req;

    c->encrypt = 0;
    if (r->encryption_key == NULL && r->encryption_key_count == 0)
        return 1;
    if (r->encryption_key_count > 1 || r->encryption_key == NULL || c->app->enckeys == NULL ||
        kw_enckeys_unwrap(c->app->enckeys, r->encryption_key, r->encryption_key_len, r->now_ms, c->enc_aes,
                          c->enc_kid) != KW_OK) {
        kw_api_fail(c, res, 400, "ENCRYPTION_KEY_INVALID",
                    "X-Keyward-Encryption-Key must be one base64url RSA-OAEP-256 (SHA-256) encryption of a "
                    "32-byte AES key to a key GET /api/v1/encryption-key publishes, optionally prefixed "
                    "\"<kid>.\"; it could not be opened.",
                    NULL);
        return 0;
    }
    c->encrypt = 1;
    return 1;
}

void kw_api_jwe_finish(struct kw_api_ctx *c, struct kw_api_res *res)
{
    char *jwe = NULL;
    size_t len = 0;
    enum kw_err err;

    if (!c->encrypt)
        return;
    if (res->body != NULL) {
        err = kw_enckeys_jwe(c->enc_aes, c->enc_kid, res->body, res->body_len, &jwe, &len);
        explicit_bzero(res->body, res->body_len); /* the plaintext may hold a record's attributes */
        kw_api_res_cleanup(res);
        if (err == KW_OK) {
            res->body = jwe;
            res->body_len = len;
            res->content_type = "application/jose";
        } else {
            /* never the plaintext: a bare 500 without the data */
            kw_api_fail(c, res, 500, "INTERNAL", "The response could not be encrypted.", NULL);
        }
    }
    explicit_bzero(c->enc_aes, sizeof(c->enc_aes));
    c->encrypt = 0;
}

int kw_api_require_encryption(struct kw_api_ctx *c, struct kw_api_res *res)
{
    if (!c->principal.require_encryption || c->encrypt)
        return 1;
    kw_api_fail(c, res, 400, "ENCRYPTION_REQUIRED",
                "This credential requires encrypted responses: send X-Keyward-Encryption-Key (an AES-256 key "
                "wrapped to GET /api/v1/encryption-key with RSA-OAEP-256).",
                NULL);
    return 0;
}

void kw_api_encryption_key(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_enckey_pub *pubs = calloc(KW_ENCKEYS_MAX, sizeof(*pubs));
    size_t n = pubs != NULL && c->app->enckeys != NULL
                   ? kw_enckeys_published(c->app->enckeys, c->req->now_ms, pubs, KW_ENCKEYS_MAX)
                   : 0;
    json_t *keys = json_array(), *o;
    size_t i;

    if (n == 0 || keys == NULL) {
        free(pubs);
        json_decref(keys);
        kw_api_fail_err(c, res, pubs == NULL ? KW_ERR_NOMEM : KW_ERR_INTERNAL, "encryption key", NULL, NULL);
        return;
    }
    for (i = 0; i < n; i++)
        json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "n", pubs[i].n, "e",
                                              pubs[i].e, "kid", pubs[i].kid, "alg", "RSA-OAEP-256", "use", "enc"));
    o = json_pack("{s:o, s:s, s:s}", "keys", keys, "kid", pubs[0].kid, "pem", pubs[0].pem);
    free(pubs);
    kw_api_header(res, "Cache-Control", "public, max-age=60");
    kw_api_json(res, 200, o);
}
