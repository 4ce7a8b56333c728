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

int kw_root_check(struct kw_store *st, const char *token, size_t len)
{
    char hex[2 * KW_SHA256_LEN + 1];
    uint8_t want[KW_SHA256_LEN], got[KW_SHA256_LEN];
    enum kw_err err;

    if (len < KW_ROOT_MIN_LEN || len > 255)
        return 0;
    KW_DOMAIN_READ(st, err, tx, kw_store_meta_get(tx, META_NAME, hex, sizeof(hex)));
    if (err != KW_OK)
        return 0;
    if (kw_crypto_unhex(hex, want, sizeof(want)) != 0)
        return 0;
    if (kw_crypto_sha256(token, len, got) != KW_OK)
        return 0;
    return kw_crypto_equal(want, got, sizeof(want));
}

static enum kw_err rotate_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    return store_hash(tx, ctx);
}

enum kw_err kw_root_rotate(struct kw_store *st, const char *actor, char out[KW_KEYFMT_MAX])
{
    struct kw_actor a = {"system", actor, NULL, NULL};
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
