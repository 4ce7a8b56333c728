/* jwt.c - JWT access tokens; see jwt.h. */
#include "domain/jwt.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ids.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/app.h"
#include "domain/signing.h"

#define STRIPES 64
#define HEADER_MAX 512 /* decoded header bytes */

struct slot {
    uint8_t hash[KW_SHA256_LEN];
    int64_t exp_ms; /* 0 = empty */
    struct kw_jwt_claims claims;
};

struct kw_jwt_cache {
    size_t mask;
    pthread_mutex_t locks[STRIPES];
    struct slot *slots;
};

enum kw_err kw_jwt_cache_new(size_t entries, struct kw_jwt_cache **out)
{
    struct kw_jwt_cache *c = calloc(1, sizeof(*c));
    size_t n = 64, i;

    *out = NULL;
    if (entries == 0)
        entries = 8192;
    while (n < entries && n < ((size_t)1 << 24))
        n <<= 1;
    if (c == NULL || (c->slots = calloc(n, sizeof(*c->slots))) == NULL) {
        free(c);
        return KW_ERR_NOMEM;
    }
    c->mask = n - 1;
    for (i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    *out = c;
    return KW_OK;
}

void kw_jwt_cache_free(struct kw_jwt_cache *c)
{
    size_t i;

    if (c == NULL)
        return;
    for (i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c->slots);
    free(c);
}

static size_t slot_of(const struct kw_jwt_cache *c, const uint8_t *h)
{
    uint64_t v;

    memcpy(&v, h, sizeof(v));
    return (size_t)v & c->mask;
}

static int cache_get(struct kw_jwt_cache *c, const uint8_t *h, int64_t now_ms, struct kw_jwt_claims *out)
{
    size_t i = slot_of(c, h);
    pthread_mutex_t *mu = &c->locks[i % STRIPES];
    struct slot *s = &c->slots[i];
    int hit = 0;

    pthread_mutex_lock(mu);
    if (s->exp_ms > now_ms && kw_crypto_equal(s->hash, h, KW_SHA256_LEN)) {
        *out = s->claims;
        hit = 1;
    }
    pthread_mutex_unlock(mu);
    return hit;
}

static void cache_put(struct kw_jwt_cache *c, const uint8_t *h, const struct kw_jwt_claims *cl)
{
    size_t i = slot_of(c, h);
    pthread_mutex_t *mu = &c->locks[i % STRIPES];

    pthread_mutex_lock(mu);
    memcpy(c->slots[i].hash, h, KW_SHA256_LEN);
    c->slots[i].exp_ms = cl->exp * 1000;
    c->slots[i].claims = *cl;
    pthread_mutex_unlock(mu);
}

const char *kw_jwt_audience(const struct kw_app *app)
{
    return app->issuer;
}

/* ---- scope ---- */

static const struct {
    const char *name;
    uint32_t bit;
} perm_names[] = {
    {"candidates:read", KW_PERM_CANDIDATES_READ}, {"candidates:archive", KW_PERM_CANDIDATES_ARCHIVE},
    {"documents:write", KW_PERM_DOCUMENTS_WRITE}, {"documents:read", KW_PERM_DOCUMENTS_READ},
    {"keys:verify", KW_PERM_KEYS_VERIFY},
};
#define NPERMS (sizeof(perm_names) / sizeof(perm_names[0]))

enum kw_err kw_jwt_scope_perms(const char *scope, uint32_t *perms, char *bad, size_t badcap)
{
    const char *p = scope;
    size_t i;

    *perms = 0;
    while (*p != '\0') {
        size_t len = strcspn(p, " ");
        for (i = 0; len > 0 && i < NPERMS; i++)
            if (strlen(perm_names[i].name) == len && memcmp(perm_names[i].name, p, len) == 0)
                break;
        if (len > 0 && i == NPERMS) {
            if (bad != NULL && badcap > 0)
                snprintf(bad, badcap, "%.*s", (int)(len < 63 ? len : 63), p);
            return KW_ERR_INVALID;
        }
        if (len > 0)
            *perms |= perm_names[i].bit;
        p += len + (p[len] == ' ');
    }
    return KW_OK;
}

void kw_jwt_perms_scope(uint32_t perms, char *out, size_t cap)
{
    size_t i, len = 0;

    out[0] = '\0';
    for (i = 0; i < NPERMS; i++) {
        if (!(perms & perm_names[i].bit))
            continue;
        int w = snprintf(out + len, cap - len, "%s%s", len ? " " : "", perm_names[i].name);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}

/* ---- issue ---- */

/* base64url of data into out at *len; 0 when it does not fit. */
static int put_b64(const void *data, size_t n, char *out, size_t cap, size_t *len)
{
    size_t w;

    if (*len >= cap)
        return 0;
    w = kw_crypto_base64url_encode(data, n, out + *len, cap - *len);
    if (w == 0 && n > 0)
        return 0;
    *len += w;
    return 1;
}

static char *payload_json(const struct kw_jwt_claims *c)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "iss", c->iss, "sub", c->sub, "aud",
                  c->aud, "exp", (json_int_t)c->exp, "iat", (json_int_t)c->iat, "jti", c->jti, "client_id",
                  c->client_id, "scope", c->scope, "kw_svc", c->service_id, "kw_cred", c->cred);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return s;
}

static enum kw_err sign_with(struct kw_app *app, const char *kid, const char *payload, char *out, size_t cap)
{
    char header[128];
    uint8_t sig[KW_ED25519_SIG_LEN];
    size_t len = 0, signed_len;
    int hn = snprintf(header, sizeof(header), "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    enum kw_err err;

    if (!put_b64(header, (size_t)hn, out, cap, &len) || len + 1 >= cap)
        return KW_ERR_TOO_LARGE;
    out[len++] = '.';
    if (!put_b64(payload, strlen(payload), out, cap, &len))
        return KW_ERR_TOO_LARGE;
    signed_len = len;
    err = kw_signing_sign(app->signing, kid, out, signed_len, sig);
    if (err != KW_OK)
        return err;
    if (len + 1 >= cap)
        return KW_ERR_TOO_LARGE;
    out[len++] = '.';
    if (!put_b64(sig, sizeof(sig), out, cap, &len))
        return KW_ERR_TOO_LARGE;
    return KW_OK;
}

enum kw_err kw_jwt_issue(struct kw_app *app, struct kw_jwt_claims *c, char *out, size_t cap)
{
    char kid[KW_KID_MAX], *payload;
    int64_t now = kw_time_now_ms();
    enum kw_err err;
    int tries;

    if (cap > 0)
        out[0] = '\0';
    if (app->signing == NULL)
        return KW_ERR_NOT_FOUND;
    if (c->iss[0] == '\0')
        snprintf(c->iss, sizeof(c->iss), "%s", app->issuer);
    if (c->aud[0] == '\0')
        snprintf(c->aud, sizeof(c->aud), "%s", kw_jwt_audience(app));
    if (c->iat == 0)
        c->iat = now / 1000;
    if (c->exp == 0)
        c->exp = c->iat + (app->cfg != NULL ? app->cfg->access_token_ttl_s : 300);
    if (c->jti[0] == '\0' && kw_id_new("at", c->jti) != KW_OK)
        return KW_ERR_CRYPTO;
    if ((payload = payload_json(c)) == NULL)
        return KW_ERR_NOMEM;
    err = KW_ERR_NOT_FOUND;
    for (tries = 0; tries < 2 && err == KW_ERR_NOT_FOUND; tries++) /* a rotation between the two calls */
        if ((err = kw_signing_current(app->signing, now, kid)) == KW_OK)
            err = sign_with(app, kid, payload, out, cap);
    free(payload);
    if (err != KW_OK && cap > 0)
        out[0] = '\0';
    return err;
}

/* ---- verify ---- */

int kw_jwt_looks_like(const char *s, size_t len)
{
    const char *d1, *d2;

    if (len < 10 || memcmp(s, "eyJ", 3) != 0 || (d1 = memchr(s, '.', len)) == NULL)
        return 0;
    d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - s));
    return d2 != NULL && memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - s)) == NULL;
}

static enum kw_err fail(struct kw_jwt_claims *out, const char *reason, enum kw_err err)
{
    out->reason = reason;
    return err;
}

static int get_str(json_t *o, const char *name, char *dst, size_t cap, int required)
{
    json_t *v = json_object_get(o, name);

    dst[0] = '\0';
    if (v == NULL)
        return !required;
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return 0;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 1;
}

/* The header: alg EdDSA, typ at+jwt (RFC 9068 section 4; "application/at+jwt" too), a kid, no crit. */
static enum kw_err check_header(const char *b64, size_t len, struct kw_jwt_claims *out)
{
    uint8_t raw[HEADER_MAX];
    char alg[16], typ[32];
    size_t n;
    json_t *h;
    enum kw_err err = KW_OK;

    if (kw_crypto_base64url_decode(b64, len, raw, sizeof(raw), &n) != KW_OK ||
        (h = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return fail(out, "malformed", KW_ERR_MALFORMED);
    if (!json_is_object(h) || !get_str(h, "alg", alg, sizeof(alg), 1) ||
        !get_str(h, "kid", out->kid, sizeof(out->kid), 1) || json_object_get(h, "crit") != NULL)
        err = fail(out, "malformed", KW_ERR_MALFORMED);
    else if (strcmp(alg, "EdDSA") != 0 || !get_str(h, "typ", typ, sizeof(typ), 1) ||
             (strcasecmp(typ, "at+jwt") != 0 && strcasecmp(typ, "application/at+jwt") != 0))
        err = fail(out, "type", KW_ERR_MALFORMED);
    json_decref(h);
    return err;
}

/* aud is the audience or an array holding it. */
static int aud_ok(json_t *aud, const char *want, char *dst, size_t cap)
{
    size_t i;
    json_t *v;

    if (json_is_string(aud)) {
        snprintf(dst, cap, "%s", json_string_value(aud));
        return strcmp(json_string_value(aud), want) == 0;
    }
    if (!json_is_array(aud))
        return 0;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) {
            snprintf(dst, cap, "%s", want);
            return 1;
        }
    }
    return 0;
}

static enum kw_err read_claims(struct kw_app *app, const char *b64, size_t len, int64_t now_ms,
                               struct kw_jwt_claims *out)
{
    uint8_t raw[KW_JWT_MAX];
    json_t *p, *exp, *iat;
    size_t n;
    enum kw_err err = KW_OK;

    if (kw_crypto_base64url_decode(b64, len, raw, sizeof(raw), &n) != KW_OK ||
        (p = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return fail(out, "malformed", KW_ERR_MALFORMED);
    exp = json_object_get(p, "exp");
    iat = json_object_get(p, "iat");
    if (!json_is_object(p) || !json_is_integer(exp) || !get_str(p, "sub", out->sub, sizeof(out->sub), 1) ||
        !get_str(p, "jti", out->jti, sizeof(out->jti), 1) ||
        !get_str(p, "iss", out->iss, sizeof(out->iss), 1) ||
        !get_str(p, "client_id", out->client_id, sizeof(out->client_id), 0) ||
        !get_str(p, "scope", out->scope, sizeof(out->scope), 0) ||
        !get_str(p, "kw_svc", out->service_id, sizeof(out->service_id), 1) ||
        !get_str(p, "kw_cred", out->cred, sizeof(out->cred), 0) || (iat != NULL && !json_is_integer(iat))) {
        err = fail(out, "malformed", KW_ERR_MALFORMED);
        goto out;
    }
    out->exp = json_integer_value(exp);
    out->iat = iat != NULL ? json_integer_value(iat) : 0;
    if (strcmp(out->iss, app->issuer) != 0)
        err = fail(out, "issuer", KW_ERR_INVALID);
    else if (!aud_ok(json_object_get(p, "aud"), kw_jwt_audience(app), out->aud, sizeof(out->aud)))
        err = fail(out, "audience", KW_ERR_INVALID);
    else if (kw_jwt_scope_perms(out->scope, &out->perms, NULL, 0) != KW_OK)
        err = fail(out, "malformed", KW_ERR_MALFORMED);
    else if (out->exp <= now_ms / 1000)
        err = fail(out, "expired", KW_ERR_CONFLICT);
    out->perms |= KW_PERM_CANDIDATES_READ;
out:
    json_decref(p);
    return err;
}

/* A verified token still stands: not revoked (jti), its service user not disabled, its minting
 * credential not disabled or reset. */
static enum kw_err check_bans(struct kw_app *app, int64_t now_ms, struct kw_jwt_claims *out)
{
    char what[KW_ACTOR_MAX + 8];

    if (app->keys == NULL)
        return KW_OK;
    snprintf(what, sizeof(what), "jti:%s", out->jti);
    if (kw_keycache_banned(app->keys, what, now_ms))
        return fail(out, "revoked", KW_ERR_CONFLICT);
    snprintf(what, sizeof(what), "su:%s", out->sub);
    if (kw_keycache_banned(app->keys, what, now_ms))
        return fail(out, "disabled", KW_ERR_CONFLICT);
    snprintf(what, sizeof(what), "cred:%s", out->cred);
    if (out->cred[0] != '\0' && kw_keycache_banned(app->keys, what, now_ms))
        return fail(out, "revoked", KW_ERR_CONFLICT);
    return KW_OK;
}

enum kw_err kw_jwt_verify(struct kw_app *app, const char *tok, size_t len, int64_t now_ms,
                          struct kw_jwt_claims *out)
{
    uint8_t hash[KW_SHA256_LEN], sig[KW_ED25519_SIG_LEN + 2];
    const char *d1, *d2;
    size_t siglen;
    enum kw_err err;

    memset(out, 0, sizeof(*out));
    if (len > KW_JWT_MAX || !kw_jwt_looks_like(tok, len))
        return fail(out, "malformed", KW_ERR_MALFORMED);
    if (kw_crypto_sha256(tok, len, hash) != KW_OK)
        return fail(out, "malformed", KW_ERR_CRYPTO);
    if (app->jwt_cache != NULL && cache_get(app->jwt_cache, hash, now_ms, out))
        return check_bans(app, now_ms, out);
    d1 = memchr(tok, '.', len);
    d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
    if ((err = check_header(tok, (size_t)(d1 - tok), out)) != KW_OK)
        return err;
    if (kw_crypto_base64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig, sizeof(sig), &siglen) != KW_OK)
        return fail(out, "malformed", KW_ERR_MALFORMED);
    err = app->signing != NULL ? kw_signing_verify(app->signing, out->kid, strlen(out->kid), tok,
                                                   (size_t)(d2 - tok), sig, siglen, now_ms)
                               : KW_ERR_NOT_FOUND;
    if (err == KW_ERR_NOT_FOUND)
        return fail(out, "unknown_key", KW_ERR_NOT_FOUND);
    if (err != KW_OK)
        return fail(out, "signature", KW_ERR_MALFORMED);
    if ((err = read_claims(app, d1 + 1, (size_t)(d2 - d1 - 1), now_ms, out)) != KW_OK)
        return err;
    if (app->jwt_cache != NULL)
        cache_put(app->jwt_cache, hash, out);
    return check_bans(app, now_ms, out);
}
