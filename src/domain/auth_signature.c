/* auth_signature.c - the door's RFC 9421 authenticator: a request signed with hmac-sha256 by an access
 * key (keyid = accessKeyId). Order: parse the two fields, find the key in the cache (disabled keys and
 * keys of disabled service users stop here), keyward's policy (fresh created, coverage), open the
 * sealed secret, rebuild the base and compare the HMAC, and only then spend the signature (so nobody
 * can burn a signature they could not make): a second use of one signature is a replay on every node. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "domain/auth_internal.h"
#include "domain/nonces.h"
#include "domain/secrets.h"

static int deny(struct kw_principal *out, enum kw_verify_code code, const char *why)
{
    out->code = code;
    out->denial = why;
    return 0;
}

/* Opens the key's sealed secret and checks the HMAC; *code the outcome. */
static enum kw_httpsig_code check_mac(struct kw_app *app, const struct kw_httpsig *s, const struct kw_credentials *c,
                                      const uint8_t *sealed, size_t sealed_len, int *unreadable)
{
    uint8_t secret[KW_SEALED_MAX];
    size_t len = 0;
    enum kw_httpsig_code code;
    enum kw_err err;

    *unreadable = 0;
    err = app->secrets != NULL && sealed_len > 0
              ? kw_secrets_open(app->secrets, sealed, sealed_len, secret, sizeof(secret), &len)
              : KW_ERR_NOT_FOUND;
    if (err != KW_OK) {
        kw_log_error("access key secret cannot be opened", "keyid=%s err=%s", s->keyid, kw_err_str(err));
        *unreadable = 1;
        return KW_HTTPSIG_INTERNAL;
    }
    code = kw_httpsig_verify(s, &c->request, secret, len);
    explicit_bzero(secret, sizeof(secret));
    return code;
}

int kw_auth_signature(struct kw_app *app, const struct kw_credentials *c, int64_t now_ms, struct kw_principal *out)
{
    struct kw_httpsig s;
    struct kw_verify_result vr;
    uint8_t sealed[KW_SEALED_MAX];
    size_t sealed_len = 0;
    char scope[KW_NONCE_SCOPE_MAX];
    enum kw_httpsig_code code;
    enum kw_err err;
    int unreadable;

    code = kw_httpsig_parse(c->signature_input, c->signature_input_len, c->signature, c->signature_len, &s);
    if (code != KW_HTTPSIG_OK)
        return deny(out, KW_VERIFY_MALFORMED, kw_httpsig_code_str(code));
    kw_keycache_access_key(app->keys, s.keyid, strlen(s.keyid), now_ms, c->ip, &vr, sealed, &sealed_len);
    if (vr.code == KW_VERIFY_DISABLED)
        return deny(out, vr.code, "ACCESS_KEY_DISABLED");
    if (vr.code != KW_VERIFY_VALID)
        return deny(out, vr.code == KW_VERIFY_MALFORMED ? KW_VERIFY_MALFORMED : KW_VERIFY_NOT_FOUND,
                    "ACCESS_KEY_NOT_FOUND");
    if ((code = kw_httpsig_check(&s, &c->request, now_ms / 1000)) != KW_HTTPSIG_OK)
        return deny(out, KW_VERIFY_NOT_FOUND, kw_httpsig_code_str(code));
    code = check_mac(app, &s, c, sealed, sealed_len, &unreadable);
    if (code != KW_HTTPSIG_OK)
        return deny(out, KW_VERIFY_NOT_FOUND, unreadable ? "ACCESS_KEY_UNREADABLE" : kw_httpsig_code_str(code));
    snprintf(scope, sizeof(scope), "sig:%s", s.keyid);
    err = kw_nonce_use(app, scope, s.sig_b64, now_ms);
    if (err == KW_ERR_CONFLICT)
        return deny(out, KW_VERIFY_NOT_FOUND, "SIGNATURE_REPLAYED");
    if (err != KW_OK) {
        out->store_unavailable = 1;
        return deny(out, KW_VERIFY_NOT_FOUND, "STORE_UNAVAILABLE");
    }
    out->kind = KW_PRINCIPAL_SERVICE_USER;
    out->type = "service_user";
    out->code = KW_VERIFY_VALID;
    snprintf(out->id, sizeof(out->id), "%s", vr.service_user_id);
    memcpy(out->service_id, vr.service_id, sizeof(out->service_id));
    out->perms = vr.perms;
    out->scope = vr.scope;
    out->expires_at = vr.expires_at;
    snprintf(out->credential_id, sizeof(out->credential_id), "%s", s.keyid);
    snprintf(out->credential_type, sizeof(out->credential_type), "signature");
    return 1;
}
