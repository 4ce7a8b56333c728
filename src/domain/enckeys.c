/* enckeys.c - the response-encryption key set and the JWE of a response; see enckeys.h. The refresh
 * and first-key logic follow domain/signing.c. */
#include "domain/enckeys.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "domain/app.h"
#include "domain/commit_internal.h"
#include "domain/secrets.h"

struct entry {
    struct kw_enckey_pub pub;
    struct kw_rsa *priv;
};

struct snap {
    struct entry e[KW_ENCKEYS_MAX]; /* newest first */
    size_t n;
};

struct kw_enckeys {
    struct kw_app *app;
    pthread_rwlock_t lock; /* over cur */
    struct snap *cur;
    pthread_mutex_t refresh_mu;
    int64_t stamp_v, stamp_n; /* of cur, under refresh_mu */
    int poll_ms;
    pthread_t thread;
    int have_thread;
    pthread_mutex_t wait_mu;
    pthread_cond_t wake;
    atomic_int stop;
};

static void snap_free(struct snap *sn)
{
    size_t i;

    if (sn == NULL)
        return;
    for (i = 0; i < sn->n; i++)
        kw_crypto_rsa_free(sn->e[i].priv);
    free(sn);
}

enum kw_err kw_enckeys_thumbprint(const char *n, const char *e, char kid[KW_KID_MAX])
{
    char json[KW_RSA_N_B64_MAX + KW_RSA_E_B64_MAX + 48];
    uint8_t h[KW_SHA256_LEN];
    int len = snprintf(json, sizeof(json), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, n);

    if (len < 0 || (size_t)len >= sizeof(json) || kw_crypto_sha256(json, (size_t)len, h) != KW_OK)
        return KW_ERR_CRYPTO;
    kw_crypto_base64url_encode(h, sizeof(h), kid, KW_KID_MAX);
    return KW_OK;
}

/* One row into a snapshot entry; KW_OK only when the private key opens and matches the public one. */
static enum kw_err load_entry(struct kw_app *app, const struct kw_enc_key *k, struct entry *e)
{
    uint8_t *der = malloc(KW_ENC_SEALED_MAX);
    char pem[KW_ENC_PEM_MAX], kid[KW_KID_MAX];
    size_t n = 0;
    enum kw_err err = der != NULL ? KW_OK : KW_ERR_NOMEM;

    memset(e, 0, sizeof(*e));
    if (err == KW_OK)
        err = kw_secrets_open(app->secrets, k->sealed, k->sealed_len, der, KW_ENC_SEALED_MAX, &n);
    if (err == KW_OK)
        err = kw_crypto_rsa_from_der(der, n, &e->priv);
    if (der != NULL)
        explicit_bzero(der, KW_ENC_SEALED_MAX);
    free(der);
    if (err == KW_OK)
        err = kw_crypto_rsa_public_jwk(e->priv, e->pub.n, e->pub.e);
    if (err == KW_OK)
        err = kw_crypto_rsa_public_pem(e->priv, pem, sizeof(pem));
    if (err == KW_OK)
        err = kw_enckeys_thumbprint(e->pub.n, e->pub.e, kid);
    if (err == KW_OK && (strcmp(pem, k->public_pem) != 0 || strcmp(kid, k->kid) != 0))
        err = KW_ERR_MALFORMED;
    if (err != KW_OK) {
        kw_crypto_rsa_free(e->priv);
        e->priv = NULL;
        kw_log_error("cannot open an encryption key's private key: is this node's master key the deployment's?",
                     "kid=%s err=%s", k->kid, kw_err_str(err));
        return err;
    }
    snprintf(e->pub.kid, sizeof(e->pub.kid), "%s", k->kid);
    memcpy(e->pub.pem, pem, sizeof(pem));
    e->pub.created_at = k->created_at;
    e->pub.active = strcmp(k->status, "active") == 0;
    e->pub.retire_after = e->pub.active ? 0 : k->retire_after;
    return KW_OK;
}

static enum kw_err read_rows(struct kw_tx *tx, struct kw_enc_key *rows, size_t *n, int64_t *v, int64_t *c)
{
    enum kw_err err = kw_store_enc_key_stamp(tx, v, c);

    return err == KW_OK ? kw_store_enc_key_list(tx, rows, KW_ENCKEYS_MAX, n) : err;
}

/* Under refresh_mu: reads the rows and swaps in a new snapshot. */
static enum kw_err reload(struct kw_enckeys *s)
{
    struct kw_enc_key *rows = calloc(KW_ENCKEYS_MAX, sizeof(*rows));
    struct snap *sn = calloc(1, sizeof(*sn)), *old;
    int64_t v = 0, c = 0;
    size_t n = 0, i;
    enum kw_err err = rows && sn ? KW_OK : KW_ERR_NOMEM;

    if (err == KW_OK)
        KW_DOMAIN_READ(s->app->store, err, tx, read_rows(tx, rows, &n, &v, &c));
    for (i = 0; err == KW_OK && i < n; i++)
        if (load_entry(s->app, &rows[i], &sn->e[sn->n]) == KW_OK)
            sn->n++;
    if (rows != NULL)
        explicit_bzero(rows, KW_ENCKEYS_MAX * sizeof(*rows));
    free(rows);
    if (err != KW_OK) {
        snap_free(sn);
        return err;
    }
    pthread_rwlock_wrlock(&s->lock);
    old = s->cur;
    s->cur = sn;
    pthread_rwlock_unlock(&s->lock);
    snap_free(old);
    s->stamp_v = v;
    s->stamp_n = c;
    return KW_OK;
}

enum kw_err kw_enckeys_refresh(struct kw_enckeys *s, int force)
{
    int64_t v = 0, c = 0;
    enum kw_err err = KW_OK;

    pthread_mutex_lock(&s->refresh_mu);
    if (!force)
        KW_DOMAIN_READ(s->app->store, err, tx, kw_store_enc_key_stamp(tx, &v, &c));
    if (err == KW_OK && (force || v != s->stamp_v || c != s->stamp_n)) {
        err = reload(s);
        if (err == KW_OK && !force)
            kw_log_info("encryption keys reloaded", "keys=%lld version=%lld", (long long)c, (long long)v);
    }
    pthread_mutex_unlock(&s->refresh_mu);
    return err;
}

static void *refresh_main(void *arg)
{
    struct kw_enckeys *s = arg;
    struct timespec ts;

    pthread_mutex_lock(&s->wait_mu);
    while (!atomic_load(&s->stop)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)s->poll_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->wake, &s->wait_mu, &ts);
        if (atomic_load(&s->stop))
            break;
        pthread_mutex_unlock(&s->wait_mu);
        kw_enckeys_refresh(s, 0); /* a failure keeps the set it has; the next tick tries again */
        pthread_mutex_lock(&s->wait_mu);
    }
    pthread_mutex_unlock(&s->wait_mu);
    return NULL;
}

/* A fresh key row: RSA-3072 key pair, sealed PKCS#8 private key, PEM, thumbprint kid. */
static enum kw_err new_key(struct kw_app *app, int64_t now, int64_t version, struct kw_enc_key *k)
{
    struct kw_rsa *rsa = NULL;
    uint8_t *der = malloc(KW_RSA_DER_MAX);
    char n[KW_RSA_N_B64_MAX], e[KW_RSA_E_B64_MAX];
    size_t len = 0;
    enum kw_err err = der != NULL ? kw_crypto_rsa_keygen(KW_RSA_BITS, &rsa) : KW_ERR_NOMEM;

    memset(k, 0, sizeof(*k));
    if (err == KW_OK)
        err = kw_crypto_rsa_private_der(rsa, der, KW_RSA_DER_MAX, &len);
    if (err == KW_OK)
        err = kw_secrets_seal(app->secrets, der, len, k->sealed, sizeof(k->sealed), &k->sealed_len);
    if (der != NULL)
        explicit_bzero(der, KW_RSA_DER_MAX);
    free(der);
    if (err == KW_OK)
        err = kw_crypto_rsa_public_pem(rsa, k->public_pem, sizeof(k->public_pem));
    if (err == KW_OK)
        err = kw_crypto_rsa_public_jwk(rsa, n, e);
    if (err == KW_OK)
        err = kw_enckeys_thumbprint(n, e, k->kid);
    kw_crypto_rsa_free(rsa);
    snprintf(k->status, sizeof(k->status), "active");
    k->created_at = now;
    k->version = version;
    return err;
}

struct change {
    struct kw_app *app;
    int rotate; /* 0: create the first key only if none is active */
    int64_t grace_ms;
    char kid[KW_KID_MAX]; /* out */
};

/* Retires the active rows and drops those whose grace has passed; *retired counts the first. */
static enum kw_err retire_rows(struct kw_tx *tx, struct kw_enc_key *rows, size_t n, const struct change *c,
                               int64_t v, int64_t now, size_t *retired)
{
    enum kw_err err = KW_OK;
    size_t i;

    for (i = 0; err == KW_OK && i < n; i++) {
        if (strcmp(rows[i].status, "active") == 0) {
            snprintf(rows[i].status, sizeof(rows[i].status), "retired");
            rows[i].retire_after = now + c->grace_ms;
            rows[i].version = v;
            err = kw_store_enc_key_update(tx, &rows[i]);
            (*retired)++;
        } else if (rows[i].retire_after <= now) {
            err = kw_store_enc_key_delete(tx, rows[i].kid);
        }
    }
    return err;
}

static enum kw_err change_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct change *c = ctx;
    struct kw_enc_key *rows = calloc(KW_ENCKEYS_MAX + 1, sizeof(*rows)), *k = rows + KW_ENCKEYS_MAX;
    int64_t v, now = kw_time_now_ms();
    size_t n = 0, i, retired = 0;
    enum kw_err err = rows ? KW_OK : KW_ERR_NOMEM;

    /* The counter's lock first: a second writer waits here, then sees the first one's key. */
    if (err == KW_OK)
        err = kw_store_version_next(tx, &v);
    if (err == KW_OK)
        err = kw_store_enc_key_list(tx, rows, KW_ENCKEYS_MAX, &n);
    for (i = 0; err == KW_OK && !c->rotate && i < n; i++)
        if (strcmp(rows[i].status, "active") == 0)
            err = KW_ERR_EXISTS; /* another node made it meanwhile: nothing to write */
    if (err == KW_OK && c->rotate)
        err = retire_rows(tx, rows, n, c, v, now, &retired);
    if (err == KW_OK)
        err = new_key(c->app, now, v, k);
    if (err == KW_OK)
        err = kw_store_enc_key_insert(tx, k);
    if (err == KW_OK) {
        snprintf(c->kid, sizeof(c->kid), "%s", k->kid);
        snprintf(w->target_id, sizeof(w->target_id), "%s", k->kid);
        snprintf(w->detail, sizeof(w->detail), "{\"alg\":\"RSA-OAEP-256\",\"retired\":%zu}", retired);
    }
    if (rows != NULL)
        explicit_bzero(rows, (KW_ENCKEYS_MAX + 1) * sizeof(*rows));
    free(rows);
    return err;
}

static const struct kw_actor system_actor = {"system", "keyward", NULL, NULL, NULL, NULL};

enum kw_err kw_enckeys_rotate(struct kw_app *app, const struct kw_actor *actor, int64_t grace_ms,
                              char kid[KW_KID_MAX])
{
    struct change c = {app, 1, grace_ms < 0 ? 0 : grace_ms, ""};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor != NULL ? actor : &system_actor, "encryption_key.rotate", "encryption_key", NULL,
                  NULL);
    err = kw_domain_write(app, &w, change_body, &c);
    if (err == KW_OK && kid != NULL)
        snprintf(kid, KW_KID_MAX, "%s", c.kid);
    return err;
}

static int has_active(struct kw_enckeys *s)
{
    size_t i;
    int found = 0;

    pthread_rwlock_rdlock(&s->lock);
    for (i = 0; s->cur != NULL && i < s->cur->n; i++)
        found |= s->cur->e[i].pub.active;
    pthread_rwlock_unlock(&s->lock);
    return found;
}

static enum kw_err ensure_first(struct kw_enckeys *s)
{
    struct change c = {s->app, 0, 0, ""};
    struct kw_write w;
    enum kw_err err;

    if (has_active(s))
        return KW_OK;
    kw_write_init(&w, &system_actor, "encryption_key.create", "encryption_key", NULL, NULL);
    err = kw_domain_write(s->app, &w, change_body, &c);
    if (err == KW_OK)
        kw_log_info("encryption key created", "kid=%s alg=RSA-OAEP-256", c.kid);
    if (err == KW_ERR_EXISTS)
        err = KW_OK;
    return err == KW_OK ? kw_enckeys_refresh(s, 1) : err;
}

enum kw_err kw_enckeys_open(struct kw_app *app, int poll_ms, struct kw_enckeys **out)
{
    struct kw_enckeys *s = calloc(1, sizeof(*s));
    pthread_condattr_t ca;
    enum kw_err err;

    *out = NULL;
    if (s == NULL)
        return KW_ERR_NOMEM;
    s->app = app;
    s->poll_ms = poll_ms;
    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->refresh_mu, NULL);
    pthread_mutex_init(&s->wait_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&s->stop, 0);
    err = kw_enckeys_refresh(s, 1);
    if (err == KW_OK)
        err = ensure_first(s);
    if (err == KW_OK && poll_ms > 0) {
        if (pthread_create(&s->thread, NULL, refresh_main, s) != 0)
            err = KW_ERR_INTERNAL;
        else
            s->have_thread = 1;
    }
    if (err != KW_OK) {
        kw_enckeys_free(s);
        return err;
    }
    *out = s;
    return KW_OK;
}

void kw_enckeys_free(struct kw_enckeys *s)
{
    if (s == NULL)
        return;
    if (s->have_thread) {
        pthread_mutex_lock(&s->wait_mu);
        atomic_store(&s->stop, 1);
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->wait_mu);
        pthread_join(s->thread, NULL);
    }
    snap_free(s->cur);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->wait_mu);
    pthread_mutex_destroy(&s->refresh_mu);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

static int published(const struct entry *e, int64_t now_ms)
{
    return e->pub.active || e->pub.retire_after > now_ms;
}

size_t kw_enckeys_published(struct kw_enckeys *s, int64_t now_ms, struct kw_enckey_pub *out, size_t cap)
{
    size_t i, n = 0;
    int pass;

    pthread_rwlock_rdlock(&s->lock);
    for (pass = 0; pass < 2; pass++) /* the active key first, then the retired ones, newest first */
        for (i = 0; s->cur != NULL && i < s->cur->n && n < cap; i++)
            if (published(&s->cur->e[i], now_ms) && s->cur->e[i].pub.active == (pass == 0))
                out[n++] = s->cur->e[i].pub;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

/* Under the read lock: tries the published keys (only kid's when kid_len > 0), active first. */
static enum kw_err try_keys(struct kw_enckeys *s, const char *kid, size_t kid_len, const uint8_t *ct, size_t ctlen,
                            int64_t now_ms, uint8_t aes[KW_AES_KEY_LEN], char out_kid[KW_KID_MAX], int *kid_known)
{
    uint8_t pt[512];
    size_t i, n;
    int pass;
    enum kw_err err = KW_ERR_MALFORMED;

    for (pass = 0; pass < 2 && err != KW_OK; pass++)
        for (i = 0; s->cur != NULL && i < s->cur->n && err != KW_OK; i++) {
            const struct entry *e = &s->cur->e[i];
            if (!published(e, now_ms) || e->pub.active != (pass == 0))
                continue;
            if (kid_len > 0 && (strlen(e->pub.kid) != kid_len || memcmp(e->pub.kid, kid, kid_len) != 0))
                continue;
            *kid_known = 1;
            if (kw_crypto_rsa_oaep256_decrypt(e->priv, ct, ctlen, pt, sizeof(pt), &n) == KW_OK &&
                n == KW_AES_KEY_LEN) {
                memcpy(aes, pt, KW_AES_KEY_LEN);
                snprintf(out_kid, KW_KID_MAX, "%s", e->pub.kid);
                err = KW_OK;
            }
        }
    explicit_bzero(pt, sizeof(pt));
    return err;
}

enum kw_err kw_enckeys_unwrap(struct kw_enckeys *s, const char *value, size_t len, int64_t now_ms,
                              uint8_t aes[KW_AES_KEY_LEN], char kid[KW_KID_MAX])
{
    const char *dot = len > 0 ? memchr(value, '.', len) : NULL;
    size_t kid_len = dot != NULL ? (size_t)(dot - value) : 0, ctlen = 0;
    const char *b64 = dot != NULL ? dot + 1 : value;
    uint8_t ct[600];
    int known = 0;
    enum kw_err err;

    if (len == 0 || len > KW_ENCKEYS_HEADER_MAX || (dot != NULL && (kid_len == 0 || kid_len >= KW_KID_MAX)))
        return KW_ERR_MALFORMED;
    if (kw_crypto_base64url_decode(b64, len - (size_t)(b64 - value), ct, sizeof(ct), &ctlen) != KW_OK)
        return KW_ERR_MALFORMED;
    pthread_rwlock_rdlock(&s->lock);
    err = try_keys(s, value, kid_len, ct, ctlen, now_ms, aes, kid, &known);
    pthread_rwlock_unlock(&s->lock);
    if (err != KW_OK && kid_len > 0 && !known && kw_enckeys_refresh(s, 0) == KW_OK) {
        /* a key another node made a moment ago: look again once the set is re-read */
        pthread_rwlock_rdlock(&s->lock);
        err = try_keys(s, value, kid_len, ct, ctlen, now_ms, aes, kid, &known);
        pthread_rwlock_unlock(&s->lock);
    }
    return err;
}

enum kw_err kw_enckeys_jwe(const uint8_t aes[KW_AES_KEY_LEN], const char *kid, const void *plain, size_t len,
                           char **out, size_t *out_len)
{
    char hdr[160], hdr64[KW_BASE64_LEN(160)];
    uint8_t iv[KW_GCM_IV_LEN], tag[KW_GCM_TAG_LEN], *ct = malloc(len > 0 ? len : 1);
    size_t h64len, cap = KW_BASE64_LEN(len) + sizeof(hdr64) + 64, at;
    char *o = malloc(cap);
    int hn = snprintf(hdr, sizeof(hdr), "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"kid\":\"%s\",\"cty\":\"application/json\"}",
                      kid);
    enum kw_err err = ct != NULL && o != NULL ? KW_OK : KW_ERR_NOMEM;

    *out = NULL;
    *out_len = 0;
    if (err == KW_OK && (hn < 0 || (size_t)hn >= sizeof(hdr)))
        err = KW_ERR_INTERNAL;
    if (err == KW_OK)
        err = kw_crypto_random(iv, sizeof(iv));
    h64len = err == KW_OK ? kw_crypto_base64url_encode(hdr, (size_t)hn, hdr64, sizeof(hdr64)) : 0;
    if (err == KW_OK)
        err = kw_crypto_aes_gcm_seal(aes, iv, hdr64, h64len, plain, len, ct, tag);
    if (err == KW_OK) {
        memcpy(o, hdr64, h64len);
        at = h64len;
        o[at++] = '.';
        o[at++] = '.'; /* alg dir: no encrypted key */
        at += kw_crypto_base64url_encode(iv, sizeof(iv), o + at, cap - at);
        o[at++] = '.';
        at += len > 0 ? kw_crypto_base64url_encode(ct, len, o + at, cap - at) : 0;
        o[at++] = '.';
        at += kw_crypto_base64url_encode(tag, sizeof(tag), o + at, cap - at);
        o[at] = '\0';
        *out = o;
        *out_len = at;
        o = NULL;
    }
    free(ct);
    free(o);
    return err;
}
