/* signing.c - the JWT signing key set; see signing.h. */
#include "domain/signing.h"

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
    struct kw_signing_pub pub;
    struct kw_ed25519 *priv; /* NULL when the private key could not be opened here */
    struct kw_ed25519 *vk;
};

struct snap {
    struct entry e[KW_SIGNING_MAX]; /* newest first */
    size_t n;
};

struct kw_signing {
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
    for (i = 0; i < sn->n; i++) {
        kw_crypto_ed25519_free(sn->e[i].priv);
        kw_crypto_ed25519_free(sn->e[i].vk);
    }
    free(sn);
}

enum kw_err kw_signing_thumbprint(const uint8_t x[KW_ED25519_KEY_LEN], char kid[KW_KID_MAX])
{
    char b64[48], json[96];
    uint8_t h[KW_SHA256_LEN];
    int n;

    kw_crypto_base64url_encode(x, KW_ED25519_KEY_LEN, b64, sizeof(b64));
    n = snprintf(json, sizeof(json), "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", b64);
    if (kw_crypto_sha256(json, (size_t)n, h) != KW_OK)
        return KW_ERR_CRYPTO;
    kw_crypto_base64url_encode(h, sizeof(h), kid, KW_KID_MAX);
    return KW_OK;
}

/* One row into a snapshot entry: the public key always, the private one when the master key opens it. */
static enum kw_err load_entry(struct kw_app *app, const struct kw_signing_key *k, struct entry *e)
{
    uint8_t priv[64], pub[KW_ED25519_KEY_LEN];
    size_t n = 0;
    enum kw_err err;

    memset(e, 0, sizeof(*e));
    snprintf(e->pub.kid, sizeof(e->pub.kid), "%s", k->kid);
    memcpy(e->pub.x, k->public_key, sizeof(e->pub.x));
    e->pub.created_at = k->created_at;
    e->pub.retire_after = strcmp(k->status, "active") == 0 ? 0 : k->retire_after;
    e->pub.active = strcmp(k->status, "active") == 0;
    if ((err = kw_crypto_ed25519_public(k->public_key, &e->vk)) != KW_OK) {
        kw_log_error("signing key has a bad public key", "kid=%s", k->kid);
        return err;
    }
    err = kw_secrets_open(app->secrets, k->sealed, k->sealed_len, priv, sizeof(priv), &n);
    if (err == KW_OK && n == KW_ED25519_KEY_LEN)
        err = kw_crypto_ed25519_private(priv, pub, &e->priv);
    else if (err == KW_OK)
        err = KW_ERR_MALFORMED;
    explicit_bzero(priv, sizeof(priv));
    if (err == KW_OK && memcmp(pub, k->public_key, sizeof(pub)) != 0)
        err = KW_ERR_MALFORMED;
    if (err != KW_OK) {
        kw_crypto_ed25519_free(e->priv);
        e->priv = NULL;
        kw_log_error("cannot open a signing key's private key: is this node's master key the deployment's?",
                     "kid=%s err=%s", k->kid, kw_err_str(err));
    }
    e->pub.can_sign = e->priv != NULL;
    return KW_OK;
}

static enum kw_err read_rows(struct kw_tx *tx, struct kw_signing_key *rows, size_t *n, int64_t *v, int64_t *c)
{
    enum kw_err err = kw_store_signing_key_stamp(tx, v, c);

    return err == KW_OK ? kw_store_signing_key_list(tx, rows, KW_SIGNING_MAX, n) : err;
}

/* Under refresh_mu: reads the rows and swaps in a new snapshot. */
static enum kw_err reload(struct kw_signing *s)
{
    struct kw_signing_key *rows = calloc(KW_SIGNING_MAX, sizeof(*rows));
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
        explicit_bzero(rows, KW_SIGNING_MAX * sizeof(*rows));
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

enum kw_err kw_signing_refresh(struct kw_signing *s, int force)
{
    int64_t v = 0, c = 0;
    enum kw_err err = KW_OK;

    pthread_mutex_lock(&s->refresh_mu);
    if (!force)
        KW_DOMAIN_READ(s->app->store, err, tx, kw_store_signing_key_stamp(tx, &v, &c));
    if (err == KW_OK && (force || v != s->stamp_v || c != s->stamp_n)) {
        err = reload(s);
        if (err == KW_OK && !force)
            kw_log_info("signing keys reloaded", "keys=%lld version=%lld", (long long)c, (long long)v);
    }
    pthread_mutex_unlock(&s->refresh_mu);
    return err;
}

static void *refresh_main(void *arg)
{
    struct kw_signing *s = arg;
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
        kw_signing_refresh(s, 0); /* a failure keeps the set it has; the next tick tries again */
        pthread_mutex_lock(&s->wait_mu);
    }
    pthread_mutex_unlock(&s->wait_mu);
    return NULL;
}

/* A fresh key row: key pair, sealed private key, thumbprint kid. */
static enum kw_err new_key(struct kw_app *app, int64_t now, int64_t version, struct kw_signing_key *k)
{
    uint8_t priv[KW_ED25519_KEY_LEN];
    enum kw_err err;

    memset(k, 0, sizeof(*k));
    err = kw_crypto_ed25519_keygen(priv, k->public_key);
    if (err == KW_OK)
        err = kw_secrets_seal(app->secrets, priv, sizeof(priv), k->sealed, sizeof(k->sealed), &k->sealed_len);
    explicit_bzero(priv, sizeof(priv));
    if (err == KW_OK)
        err = kw_signing_thumbprint(k->public_key, k->kid);
    snprintf(k->alg, sizeof(k->alg), "EdDSA");
    snprintf(k->status, sizeof(k->status), "active");
    k->created_at = now;
    k->version = version;
    return err;
}

struct change {
    struct kw_app *app;
    int rotate; /* 0: create the first key only if none is active */
    int64_t retire_in_ms;
    char kid[KW_KID_MAX]; /* out */
};

static enum kw_err change_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct change *c = ctx;
    struct kw_signing_key *rows = calloc(KW_SIGNING_MAX, sizeof(*rows)), k;
    int64_t v, now = kw_time_now_ms(), created = now;
    size_t n = 0, i, retired = 0;
    enum kw_err err = rows ? KW_OK : KW_ERR_NOMEM;

    /* The counter's lock first: a second writer waits here, then sees the first one's key. */
    if (err == KW_OK)
        err = kw_store_version_next(tx, &v);
    if (err == KW_OK)
        err = kw_store_signing_key_list(tx, rows, KW_SIGNING_MAX, &n);
    for (i = 0; err == KW_OK && !c->rotate && i < n; i++)
        if (strcmp(rows[i].status, "active") == 0)
            err = KW_ERR_EXISTS; /* another node made it meanwhile: nothing to write */
    for (i = 0; err == KW_OK && c->rotate && i < n; i++) {
        if (strcmp(rows[i].status, "active") == 0) {
            snprintf(rows[i].status, sizeof(rows[i].status), "retired");
            rows[i].retire_after = now + c->retire_in_ms + KW_SIGNING_ACTIVATE_MS + KW_SIGNING_SKEW_MS;
            rows[i].version = v;
            err = kw_store_signing_key_update(tx, &rows[i]);
            retired++;
        } else if (rows[i].retire_after <= now) {
            err = kw_store_signing_key_delete(tx, rows[i].kid);
        }
    }
    /* The new key must sort first (newest by created_at): a key made in this same millisecond, or by a
     * node whose clock runs ahead, would otherwise tie with it or sort before it and go on signing. */
    for (i = 0; err == KW_OK && i < n; i++)
        if (rows[i].created_at >= created)
            created = rows[i].created_at + 1;
    if (err == KW_OK)
        err = new_key(c->app, created, v, &k);
    if (err == KW_OK)
        err = kw_store_signing_key_insert(tx, &k);
    if (err == KW_OK) {
        snprintf(c->kid, sizeof(c->kid), "%s", k.kid);
        snprintf(w->target_id, sizeof(w->target_id), "%s", k.kid);
        snprintf(w->detail, sizeof(w->detail), "{\"alg\":\"EdDSA\",\"retired\":%zu}", retired);
    }
    explicit_bzero(&k, sizeof(k));
    free(rows);
    return err;
}

static const struct kw_actor system_actor = {"system", "keyward", NULL, NULL, NULL, NULL};

enum kw_err kw_signing_rotate(struct kw_app *app, const struct kw_actor *actor, int64_t retire_in_ms,
                              char kid[KW_KID_MAX])
{
    struct change c = {app, 1, retire_in_ms, ""};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor != NULL ? actor : &system_actor, "signing_key.rotate", "signing_key", NULL, NULL);
    err = kw_domain_write(app, &w, change_body, &c);
    if (err == KW_OK && kid != NULL)
        snprintf(kid, KW_KID_MAX, "%s", c.kid);
    return err;
}

/* 1 if the snapshot holds an active key (whether or not this node can sign with it). */
static int has_active(struct kw_signing *s)
{
    size_t i;
    int found = 0;

    pthread_rwlock_rdlock(&s->lock);
    for (i = 0; s->cur != NULL && i < s->cur->n; i++)
        found |= s->cur->e[i].pub.active;
    pthread_rwlock_unlock(&s->lock);
    return found;
}

static enum kw_err ensure_first(struct kw_signing *s)
{
    struct change c = {s->app, 0, 0, ""};
    struct kw_write w;
    enum kw_err err;

    if (has_active(s))
        return KW_OK;
    kw_write_init(&w, &system_actor, "signing_key.create", "signing_key", NULL, NULL);
    err = kw_domain_write(s->app, &w, change_body, &c);
    if (err == KW_OK)
        kw_log_info("signing key created", "kid=%s alg=EdDSA", c.kid);
    if (err == KW_ERR_EXISTS)
        err = KW_OK;
    return err == KW_OK ? kw_signing_refresh(s, 1) : err;
}

enum kw_err kw_signing_open(struct kw_app *app, int poll_ms, struct kw_signing **out)
{
    struct kw_signing *s = calloc(1, sizeof(*s));
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
    err = kw_signing_refresh(s, 1);
    if (err == KW_OK)
        err = ensure_first(s);
    if (err == KW_OK && poll_ms > 0) {
        if (pthread_create(&s->thread, NULL, refresh_main, s) != 0)
            err = KW_ERR_INTERNAL;
        else
            s->have_thread = 1;
    }
    if (err != KW_OK) {
        kw_signing_free(s);
        return err;
    }
    *out = s;
    return KW_OK;
}

void kw_signing_free(struct kw_signing *s)
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

/* A key this node may sign with at now_ms: its private key opened, and active, or retired so recently
 * that a token signed now expires before the key stops being published (signing goes on with it
 * until the new key is KW_SIGNING_ACTIVATE_MS old). */
static int signer(const struct kw_signing *s, const struct entry *e, int64_t now_ms)
{
    int64_t ttl_ms = (int64_t)(s->app->cfg != NULL ? s->app->cfg->access_token_ttl_s : 3600) * 1000;

    return e->priv != NULL && (e->pub.active || e->pub.retire_after > now_ms + ttl_ms);
}

enum kw_err kw_signing_current(struct kw_signing *s, int64_t now_ms, char kid[KW_KID_MAX])
{
    const struct entry *pick = NULL;
    size_t i;

    pthread_rwlock_rdlock(&s->lock);
    for (i = 0; s->cur != NULL && i < s->cur->n; i++) { /* newest first */
        const struct entry *e = &s->cur->e[i];
        if (!signer(s, e, now_ms))
            continue;
        pick = e; /* when none is old enough: the oldest (the one every node has had longest) */
        if (e->pub.created_at <= now_ms - KW_SIGNING_ACTIVATE_MS)
            break; /* the newest one every node has had time to load */
    }
    if (pick != NULL)
        snprintf(kid, KW_KID_MAX, "%s", pick->pub.kid);
    pthread_rwlock_unlock(&s->lock);
    return pick != NULL ? KW_OK : KW_ERR_NOT_FOUND;
}

/* Under the read lock: the entry named kid[0..len), or NULL. */
static const struct entry *find(struct kw_signing *s, const char *kid, size_t len)
{
    size_t i;

    for (i = 0; s->cur != NULL && i < s->cur->n; i++)
        if (strlen(s->cur->e[i].pub.kid) == len && memcmp(s->cur->e[i].pub.kid, kid, len) == 0)
            return &s->cur->e[i];
    return NULL;
}

enum kw_err kw_signing_sign(struct kw_signing *s, const char *kid, const void *msg, size_t len,
                            uint8_t sig[KW_ED25519_SIG_LEN])
{
    const struct entry *e;
    enum kw_err err = KW_ERR_NOT_FOUND;

    pthread_rwlock_rdlock(&s->lock);
    e = find(s, kid, strlen(kid));
    if (e != NULL && signer(s, e, kw_time_now_ms()))
        err = kw_crypto_ed25519_sign(e->priv, msg, len, sig);
    pthread_rwlock_unlock(&s->lock);
    return err;
}

enum kw_err kw_signing_verify(struct kw_signing *s, const char *kid, size_t kid_len, const void *msg,
                              size_t len, const uint8_t *sig, size_t siglen, int64_t now_ms)
{
    const struct entry *e;
    enum kw_err err = KW_ERR_NOT_FOUND;

    pthread_rwlock_rdlock(&s->lock);
    e = find(s, kid, kid_len);
    if (e != NULL && published(e, now_ms))
        err = kw_crypto_ed25519_verify(e->vk, msg, len, sig, siglen) ? KW_OK : KW_ERR_MALFORMED;
    pthread_rwlock_unlock(&s->lock);
    return err;
}

size_t kw_signing_published(struct kw_signing *s, int64_t now_ms, struct kw_signing_pub *out, size_t cap)
{
    size_t i, n = 0;

    pthread_rwlock_rdlock(&s->lock);
    for (i = 0; s->cur != NULL && i < s->cur->n && n < cap; i++)
        if (published(&s->cur->e[i], now_ms))
            out[n++] = s->cur->e[i].pub;
    pthread_rwlock_unlock(&s->lock);
    return n;
}
