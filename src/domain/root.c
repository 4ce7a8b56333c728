/* root.c - the root credential; see root.h. */
#include "domain/root.h"

#include <string.h>

#include "core/log.h"
#include "crypto/crypto.h"
#include "domain/audit.h"
#include "domain/commit_internal.h"

#define META_NAME "root_token_sha256"

static enum kw_err store_hash(struct kw_tx *tx, const char *token)
{
    uint8_t h[KW_SHA256_LEN];
    char hex[2 * KW_SHA256_LEN + 1];
    enum kw_err err = kw_crypto_sha256(token, strlen(token), h);

    if (err != KW_OK)
        return err;
    kw_crypto_hex(h, sizeof(h), hex);
    return kw_store_meta_set(tx, META_NAME, hex);
}

/* The body of kw_root_ensure, in one write transaction. */
struct ensure_ctx {
    const char *configured;
    char *generated;
    int *created;
};

static enum kw_err ensure_in(struct kw_tx *tx, struct ensure_ctx *c)
{
    char hex[2 * KW_SHA256_LEN + 1];
    size_t n = c->configured ? strlen(c->configured) : 0;
    enum kw_err err = kw_store_meta_get(tx, META_NAME, hex, sizeof(hex));

    if (err != KW_ERR_NOT_FOUND)
        return err;
    if (n > 0 && (n < KW_ROOT_MIN_LEN || n > 255))
        return KW_ERR_INVALID;
    if (n == 0) {
        err = kw_keyfmt_generate(KW_ROOT_PREFIX, c->generated);
        if (err != KW_OK)
            return err;
    }
    err = store_hash(tx, n > 0 ? c->configured : c->generated);
    if (err == KW_OK)
        *c->created = 1;
    return err;
}

enum kw_err kw_root_ensure(struct kw_store *st, const char *configured, char generated[KW_KEYFMT_MAX],
                           int *created)
{
    struct ensure_ctx c = {configured, generated, created};
    struct kw_tx *tx = NULL;
    enum kw_err err;

    *created = 0;
    generated[0] = '\0';
    err = kw_store_begin(st, KW_TX_WRITE, &tx);
    if (err != KW_OK)
        return err;
    err = ensure_in(tx, &c);
    if (err != KW_OK) {
        kw_store_rollback(tx);
        *created = 0;
        return err;
    }
    return kw_store_commit(tx);
}

static void words_set(struct kw_root *r, const uint8_t h[KW_SHA256_LEN])
{
    uint64_t w[4];
    unsigned s;
    int i;

    memcpy(w, h, sizeof(w));
    pthread_mutex_lock(&r->mu);
    s = atomic_load_explicit(&r->seq, memory_order_relaxed);
    /* Seqlock without fences (which TSan does not model): the words are release-stored and
     * acquire-loaded, so a reader that sees any new word also sees seq moved past s. */
    atomic_store_explicit(&r->seq, s + 1, memory_order_relaxed);
    for (i = 0; i < 4; i++)
        atomic_store_explicit(&r->words[i], w[i], memory_order_release);
    atomic_store_explicit(&r->seq, s + 2, memory_order_release);
    pthread_mutex_unlock(&r->mu);
}

static void words_get(struct kw_root *r, uint8_t h[KW_SHA256_LEN])
{
    uint64_t w[4];
    unsigned s1, s2;
    int i;

    do {
        s1 = atomic_load_explicit(&r->seq, memory_order_acquire);
        for (i = 0; i < 4; i++)
            w[i] = atomic_load_explicit(&r->words[i], memory_order_acquire);
        s2 = atomic_load_explicit(&r->seq, memory_order_relaxed);
    } while ((s1 & 1) != 0 || s1 != s2);
    memcpy(h, w, sizeof(w));
}

/* Reads the stored hash into h (all zero when none) and into memory. */
static enum kw_err reload(struct kw_root *r, struct kw_store *st, uint8_t h[KW_SHA256_LEN])
{
    char hex[2 * KW_SHA256_LEN + 1];
    enum kw_err err;

    KW_DOMAIN_READ(st, err, tx, kw_store_meta_get(tx, META_NAME, hex, sizeof(hex)));

    memset(h, 0, KW_SHA256_LEN);
    if (err == KW_OK && kw_crypto_unhex(hex, h, KW_SHA256_LEN) != 0)
        err = KW_ERR_INTERNAL;
    if (err == KW_ERR_NOT_FOUND)
        err = KW_OK;
    if (err != KW_OK) {
        kw_log_error("cannot read the root token hash", "err=%s", kw_err_str(err));
        return err;
    }
    words_set(r, h);
    return KW_OK;
}

enum kw_err kw_root_load(struct kw_root *r, struct kw_store *st)
{
    uint8_t h[KW_SHA256_LEN];

    memset(r, 0, sizeof(*r));
    if (pthread_mutex_init(&r->mu, NULL) != 0)
        return KW_ERR_INTERNAL;
    r->ready = 1;
    return reload(r, st, h);
}

void kw_root_cleanup(struct kw_root *r)
{
    if (r->ready)
        pthread_mutex_destroy(&r->mu);
    r->ready = 0;
}

static int is_zero(const uint8_t *h)
{
    uint8_t acc = 0;
    size_t i;

    for (i = 0; i < KW_SHA256_LEN; i++)
        acc |= h[i];
    return acc == 0;
}

/* 1 if a kwroot_ miss may reload now (at most one per KW_ROOT_RELOAD_MS, whoever wins the CAS). */
static int may_reload(struct kw_root *r, const char *token, size_t len, const uint8_t *hash, int64_t now_ms)
{
    int64_t next = atomic_load_explicit(&r->next_reload_ms, memory_order_relaxed);
    size_t n = sizeof(KW_ROOT_PREFIX) - 1;

    if (hash == NULL || len <= n || memcmp(token, KW_ROOT_PREFIX "_", n + 1) != 0 || now_ms < next)
        return 0;
    return atomic_compare_exchange_strong(&r->next_reload_ms, &next, now_ms + KW_ROOT_RELOAD_MS);
}

int kw_root_check(struct kw_root *r, struct kw_store *st, const char *token, size_t len,
                  const uint8_t hash[KW_SHA256_LEN], int64_t now_ms)
{
    uint8_t want[KW_SHA256_LEN], got[KW_SHA256_LEN];
    int match;

    if (len < KW_ROOT_MIN_LEN || len > 255 || !r->ready)
        return 0;
    if (hash == NULL && kw_crypto_sha256(token, len, got) != KW_OK)
        return 0;
    if (hash != NULL)
        memcpy(got, hash, sizeof(got));
    words_get(r, want);
    match = kw_crypto_equal(want, got, sizeof(want)) && !is_zero(want);
    if (!match && !may_reload(r, token, len, hash, now_ms))
        return 0;
    /* The real root token (or a possible new one): confirm against the store, which a running
     * `keyward root-token rotate` may have changed. */
    if (reload(r, st, want) != KW_OK)
        return -1;
    return kw_crypto_equal(want, got, sizeof(want)) && !is_zero(want);
}

static enum kw_err rotate_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    return store_hash(tx, ctx);
}

enum kw_err kw_root_rotate(struct kw_store *st, const char *actor, char out[KW_KEYFMT_MAX])
{
    struct kw_actor a = {"system", actor, NULL, NULL, NULL, NULL};
    struct kw_app app;
    struct kw_write w;
    enum kw_err err;

    memset(&app, 0, sizeof(app));
    app.store = st;
    err = kw_keyfmt_generate(KW_ROOT_PREFIX, out);
    if (err != KW_OK)
        goto out;
    kw_write_init(&w, &a, "root_token.rotate", "root_token", "root", NULL);
    err = kw_domain_write(&app, &w, rotate_body, out);
out:
    if (err != KW_OK) {
        memset(out, 0, KW_KEYFMT_MAX);
        kw_log_error("root token rotation failed", "err=%s", kw_err_str(err));
    }
    return err;
}
