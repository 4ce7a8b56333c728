/* rekey.c - re-wrapping sealed blobs under a new master key; see rekey.h. */
#include "domain/rekey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "domain/app.h"
#include "domain/commit_internal.h"
#include "domain/secrets.h"

struct pending {
    char (*ids)[KW_ID_MAX];
    size_t n, cap;
    uint8_t want[KW_SECRETS_ID_LEN];
    struct kw_rekey_stats *stats;
};

/* Appends id to p->ids; 1 when out of memory. */
static int push_id(struct pending *p, const char *id)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        void *ids = realloc(p->ids, cap * sizeof(*p->ids));

        if (ids == NULL)
            return 1;
        p->ids = ids;
        p->cap = cap;
    }
    snprintf(p->ids[p->n++], KW_ID_MAX, "%s", id);
    return 0;
}

/* 1 if the blob is under the master key id want. */
static int under(const uint8_t *blob, size_t len, const uint8_t *want)
{
    uint8_t id[KW_SECRETS_ID_LEN];

    return kw_secrets_blob_id(blob, len, id) == KW_OK && memcmp(id, want, sizeof(id)) == 0;
}

static int collect(void *ctx, const struct kw_key *k)
{
    struct pending *p = ctx;

    if (strcmp(k->kind, "access_key") != 0 || k->sealed_len == 0)
        return 0;
    if (under(k->sealed, k->sealed_len, p->want)) {
        p->stats->already++;
        return 0;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        void *ids = realloc(p->ids, cap * sizeof(*p->ids));
        if (ids == NULL)
            return 1;
        p->ids = ids;
        p->cap = cap;
    }
    snprintf(p->ids[p->n++], KW_ID_MAX, "%s", k->id);
    return 0;
}

struct batch {
    struct kw_app *app;
    struct kw_secrets *to;
    char (*ids)[KW_ID_MAX];
    size_t n;
    int64_t done, failed; /* of the last attempt */
};

static enum kw_err rewrap_key(struct kw_tx *tx, struct batch *b, const char *id)
{
    uint8_t out[KW_SEALED_MAX], want[KW_SECRETS_ID_LEN];
    struct kw_key k;
    size_t n = 0;
    enum kw_err err = kw_store_key_get(tx, id, &k);

    if (err == KW_ERR_NOT_FOUND)
        return KW_OK; /* deleted meanwhile */
    kw_secrets_current_id(b->to, want);
    if (err != KW_OK || k.sealed_len == 0 || under(k.sealed, k.sealed_len, want))
        return err;
    err = kw_secrets_rewrap(b->app->secrets, b->to, k.sealed, k.sealed_len, out, sizeof(out), &n);
    if (err == KW_ERR_NOT_FOUND || err == KW_ERR_MALFORMED) {
        kw_log_error("cannot open a sealed secret with the current master key", "access_key=%s err=%s", id,
                     kw_err_str(err));
        b->failed++;
        return KW_OK;
    }
    if (err == KW_OK)
        err = kw_store_version_next(tx, &k.version);
    if (err == KW_OK) {
        memcpy(k.sealed, out, n);
        k.sealed_len = n;
        err = kw_store_key_update(tx, &k);
    }
    b->done += err == KW_OK;
    return err;
}

static enum kw_err keys_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct batch *b = ctx;
    enum kw_err err = KW_OK;
    size_t i;

    b->done = b->failed = 0;
    for (i = 0; i < b->n && err == KW_OK; i++)
        err = rewrap_key(tx, b, b->ids[i]);
    snprintf(w->detail, sizeof(w->detail), "{\"accessKeys\":%lld}", (long long)b->done);
    return err;
}

static enum kw_err signing_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct batch *b = ctx;
    struct kw_signing_key *rows = calloc(16, sizeof(*rows));
    uint8_t want[KW_SECRETS_ID_LEN], out[KW_SIGNING_SEALED_MAX];
    size_t n = 0, i, len;
    int64_t v = 0;
    enum kw_err err = rows ? kw_store_signing_key_list(tx, rows, 16, &n) : KW_ERR_NOMEM;

    b->done = b->failed = 0;
    kw_secrets_current_id(b->to, want);
    for (i = 0; err == KW_OK && i < n; i++) {
        if (under(rows[i].sealed, rows[i].sealed_len, want))
            continue;
        err = kw_secrets_rewrap(b->app->secrets, b->to, rows[i].sealed, rows[i].sealed_len, out, sizeof(out),
                                &len);
        if (err == KW_ERR_NOT_FOUND || err == KW_ERR_MALFORMED) {
            kw_log_error("cannot open a signing key with the current master key", "kid=%s", rows[i].kid);
            b->failed++;
            err = KW_OK;
            continue;
        }
        if (err == KW_OK && v == 0)
            err = kw_store_version_next(tx, &v);
        if (err == KW_OK) {
            memcpy(rows[i].sealed, out, len);
            rows[i].sealed_len = len;
            rows[i].version = v;
            err = kw_store_signing_key_update(tx, &rows[i]);
        }
        b->done += err == KW_OK;
    }
    snprintf(w->detail, sizeof(w->detail), "{\"signingKeys\":%lld}", (long long)b->done);
    if (rows != NULL)
        explicit_bzero(rows, 16 * sizeof(*rows));
    free(rows);
    /* nothing to re-wrap: no write, no audit event */
    return err == KW_OK && b->done == 0 ? KW_ERR_NOT_FOUND : err;
}

/* The response-encryption keys' private keys (domain/enckeys.h), like the signing keys. */
static enum kw_err enckeys_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct batch *b = ctx;
    struct kw_enc_key *rows = calloc(16, sizeof(*rows));
    uint8_t want[KW_SECRETS_ID_LEN], *out = malloc(KW_ENC_SEALED_MAX);
    size_t n = 0, i, len;
    int64_t v = 0;
    enum kw_err err = rows && out ? kw_store_enc_key_list(tx, rows, 16, &n) : KW_ERR_NOMEM;

    b->done = b->failed = 0;
    kw_secrets_current_id(b->to, want);
    for (i = 0; err == KW_OK && i < n; i++) {
        if (under(rows[i].sealed, rows[i].sealed_len, want))
            continue;
        err = kw_secrets_rewrap(b->app->secrets, b->to, rows[i].sealed, rows[i].sealed_len, out,
                                KW_ENC_SEALED_MAX, &len);
        if (err == KW_ERR_NOT_FOUND || err == KW_ERR_MALFORMED) {
            kw_log_error("cannot open an encryption key with the current master key", "kid=%s", rows[i].kid);
            b->failed++;
            err = KW_OK;
            continue;
        }
        if (err == KW_OK && v == 0)
            err = kw_store_version_next(tx, &v);
        if (err == KW_OK) {
            memcpy(rows[i].sealed, out, len);
            rows[i].sealed_len = len;
            rows[i].version = v;
            err = kw_store_enc_key_update(tx, &rows[i]);
        }
        b->done += err == KW_OK;
    }
    snprintf(w->detail, sizeof(w->detail), "{\"encryptionKeys\":%lld}", (long long)b->done);
    if (rows != NULL)
        explicit_bzero(rows, 16 * sizeof(*rows));
    free(rows);
    free(out);
    return err == KW_OK && b->done == 0 ? KW_ERR_NOT_FOUND : err;
}

/* One batch of identity records' data keys: the ids in b, each re-read in the write transaction (locked
 * FOR UPDATE on PostgreSQL) so a concurrent change to the record is never overwritten. */
static enum kw_err records_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct batch *b = ctx;
    uint8_t want[KW_SECRETS_ID_LEN], out[KW_RECORD_DEK_SEALED_MAX];
    enum kw_err err = KW_OK;
    size_t i, len;

    b->done = b->failed = 0;
    kw_secrets_current_id(b->to, want);
    for (i = 0; err == KW_OK && i < b->n; i++) {
        struct kw_record r;

        memset(&r, 0, sizeof(r));
        err = kw_store_record_get_id(tx, b->ids[i], &r);
        if (err == KW_ERR_NOT_FOUND) {
            err = KW_OK;
            continue;
        }
        if (err == KW_OK && r.sealed_dek_len > 0 && !under(r.sealed_dek, r.sealed_dek_len, want)) {
            err = kw_secrets_rewrap(b->app->secrets, b->to, r.sealed_dek, r.sealed_dek_len, out, sizeof(out),
                                    &len);
            if (err == KW_ERR_NOT_FOUND || err == KW_ERR_MALFORMED) {
                kw_log_error("cannot open a record's data key with the current master key", "record=%s", r.id);
                b->failed++;
                err = KW_OK;
            } else if (err == KW_OK) {
                memcpy(r.sealed_dek, out, len);
                r.sealed_dek_len = len;
                r.version++;
                err = kw_store_record_update(tx, &r);
                b->done += err == KW_OK;
            }
        }
        kw_record_free(&r);
    }
    explicit_bzero(out, sizeof(out));
    snprintf(w->detail, sizeof(w->detail), "{\"records\":%lld}", (long long)b->done);
    return err == KW_OK && b->done == 0 ? KW_ERR_NOT_FOUND : err;
}

/* Ids of every record whose data key is not under want (archived ones have none), service by service. */
static enum kw_err collect_records(struct kw_app *app, struct pending *p)
{
    struct kw_service *svcs = calloc(100, sizeof(*svcs));
    struct kw_record *recs = calloc(100, sizeof(*recs));
    int64_t svc_after = 0;
    size_t ns = 0, nr, i, j;
    enum kw_err err = svcs && recs ? KW_OK : KW_ERR_NOMEM;

    while (err == KW_OK) {
        KW_DOMAIN_READ(app->store, err, tx, kw_store_service_list(tx, svc_after, svcs, 100, &ns));
        for (i = 0; err == KW_OK && i < ns; i++) {
            struct kw_record_filter f = {svcs[i].id, NULL, 0, 0};

            for (;;) {
                nr = 0;
                KW_DOMAIN_READ(app->store, err, tx, kw_store_record_list(tx, &f, recs, 100, &nr));
                for (j = 0; err == KW_OK && j < nr; j++) {
                    if (recs[j].sealed_dek_len == 0 || recs[j].is_archived)
                        continue;
                    if (under(recs[j].sealed_dek, recs[j].sealed_dek_len, p->want)) {
                        p->stats->already++;
                        continue;
                    }
                    if (p->n == p->cap) {
                        size_t cap = p->cap ? p->cap * 2 : 64;
                        void *ids = realloc(p->ids, cap * sizeof(*p->ids));

                        if (ids == NULL) {
                            err = KW_ERR_NOMEM;
                            break;
                        }
                        p->ids = ids;
                        p->cap = cap;
                    }
                    snprintf(p->ids[p->n++], KW_ID_MAX, "%s", recs[j].id);
                }
                if (nr > 0)
                    f.after_seq = recs[nr - 1].seq;
                for (j = 0; j < nr; j++)
                    kw_record_free(&recs[j]);
                if (err != KW_OK || nr < 100)
                    break;
            }
        }
        if (err != KW_OK || ns < 100)
            break;
        svc_after = svcs[ns - 1].seq;
    }
    free(svcs);
    free(recs);
    return err;
}

/* One batch of documents' data keys: each document re-read in the write transaction (locked FOR UPDATE
 * on PostgreSQL); one shredded meanwhile is left alone (dek_set matches live documents only). The
 * content is not touched: only the wrapping of its data key changes. */
static enum kw_err documents_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct batch *b = ctx;
    struct kw_document *d = malloc(sizeof(*d));
    uint8_t want[KW_SECRETS_ID_LEN], out[KW_DOC_DEK_SEALED_MAX];
    enum kw_err err = d != NULL ? KW_OK : KW_ERR_NOMEM;
    size_t i, len;

    b->done = b->failed = 0;
    kw_secrets_current_id(b->to, want);
    for (i = 0; err == KW_OK && i < b->n; i++) {
        err = kw_store_document_get(tx, b->ids[i], d);
        if (err == KW_ERR_NOT_FOUND) {
            err = KW_OK;
            continue;
        }
        if (err != KW_OK || d->deleted_at != 0 || d->sealed_dek_len == 0 ||
            under(d->sealed_dek, d->sealed_dek_len, want))
            continue;
        err = kw_secrets_rewrap(b->app->secrets, b->to, d->sealed_dek, d->sealed_dek_len, out, sizeof(out),
                                &len);
        if (err == KW_ERR_NOT_FOUND || err == KW_ERR_MALFORMED) {
            kw_log_error("cannot open a document's data key with the current master key", "document=%s",
                         d->id);
            b->failed++;
            err = KW_OK;
            continue;
        }
        if (err == KW_OK)
            err = kw_store_document_dek_set(tx, d->id, out, len);
        if (err == KW_ERR_NOT_FOUND) {
            err = KW_OK; /* shredded meanwhile */
            continue;
        }
        b->done += err == KW_OK;
    }
    explicit_bzero(out, sizeof(out));
    if (d != NULL)
        explicit_bzero(d->sealed_dek, sizeof(d->sealed_dek));
    free(d);
    snprintf(w->detail, sizeof(w->detail), "{\"documents\":%lld}", (long long)b->done);
    return err == KW_OK && b->done == 0 ? KW_ERR_NOT_FOUND : err;
}

/* Re-wraps one sealed webhook secret in place (*len updated); 1 when done, 0 when already under want or
 * unreadable (then b->failed counts it, logged by webhook id), -1 with *err on an error. */
static int rewrap_blob(struct batch *b, const uint8_t *want, uint8_t *blob, size_t *len, size_t cap,
                       const char *what, const char *id, enum kw_err *err)
{
    uint8_t out[KW_WEBHOOK_SEALED_MAX];
    size_t n = 0;

    if (*len == 0 || under(blob, *len, want))
        return 0;
    *err = kw_secrets_rewrap(b->app->secrets, b->to, blob, *len, out, sizeof(out), &n);
    if (*err == KW_ERR_NOT_FOUND || *err == KW_ERR_MALFORMED) {
        kw_log_error("cannot open a webhook secret with the current master key", "webhook=%s secret=%s", id,
                     what);
        b->failed++;
        *err = KW_OK;
        return 0;
    }
    if (*err == KW_OK && n > cap)
        *err = KW_ERR_INVALID;
    if (*err != KW_OK)
        return -1;
    memcpy(blob, out, n);
    *len = n;
    explicit_bzero(out, sizeof(out));
    return 1;
}

/* One batch of webhooks: the current and the previous secret of each, re-read in the write transaction
 * (locked FOR UPDATE on PostgreSQL) so a rotation made meanwhile is never overwritten. The sender opens
 * the sealed secrets it leases with each delivery, so nothing is cached to refresh. */
static enum kw_err webhooks_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct batch *b = ctx;
    struct kw_webhook *h = malloc(sizeof(*h));
    uint8_t want[KW_SECRETS_ID_LEN];
    enum kw_err err = h != NULL ? KW_OK : KW_ERR_NOMEM;
    size_t i;

    b->done = b->failed = 0;
    kw_secrets_current_id(b->to, want);
    for (i = 0; err == KW_OK && i < b->n; i++) {
        int cur, prev = 0;

        err = kw_store_webhook_get(tx, b->ids[i], h);
        if (err == KW_ERR_NOT_FOUND) {
            err = KW_OK;
            continue;
        }
        if (err != KW_OK)
            break;
        cur = rewrap_blob(b, want, h->secret_sealed, &h->secret_sealed_len, sizeof(h->secret_sealed),
                          "current", h->id, &err);
        if (cur >= 0)
            prev = rewrap_blob(b, want, h->prev_secret_sealed, &h->prev_secret_sealed_len,
                               sizeof(h->prev_secret_sealed), "previous", h->id, &err);
        if (cur < 0 || prev < 0 || cur + prev == 0)
            continue;
        err = kw_store_webhook_update(tx, h); /* updated_at as it was: the webhook did not change */
        if (err == KW_OK)
            b->done += cur + prev;
    }
    if (h != NULL)
        explicit_bzero(h, sizeof(*h));
    free(h);
    snprintf(w->detail, sizeof(w->detail), "{\"webhookSecrets\":%lld}", (long long)b->done);
    return err == KW_OK && b->done == 0 ? KW_ERR_NOT_FOUND : err;
}

/* Ids of every live document whose data key is not under want and of every webhook with a secret not
 * under want, service by service, one read transaction per page. */
static enum kw_err collect_docs_hooks(struct kw_app *app, struct pending *docs, struct pending *hooks)
{
    enum { PAGE = 32 };
    struct kw_service *svcs = calloc(100, sizeof(*svcs));
    struct kw_document *ds = calloc(PAGE, sizeof(*ds));
    struct kw_webhook *hs = calloc(PAGE, sizeof(*hs));
    int64_t svc_after = 0;
    size_t ns = 0, n, i, j;
    enum kw_err err = svcs && ds && hs ? KW_OK : KW_ERR_NOMEM;

    while (err == KW_OK) {
        KW_DOMAIN_READ(app->store, err, tx, kw_store_service_list(tx, svc_after, svcs, 100, &ns));
        for (i = 0; err == KW_OK && i < ns; i++) {
            struct kw_document_filter f;

            memset(&f, 0, sizeof(f));
            f.service_id = svcs[i].id;
            do {
                n = 0;
                KW_DOMAIN_READ(app->store, err, tx, kw_store_document_list(tx, &f, ds, PAGE, &n));
                for (j = 0; err == KW_OK && j < n; j++) {
                    if (ds[j].sealed_dek_len == 0)
                        continue;
                    if (under(ds[j].sealed_dek, ds[j].sealed_dek_len, docs->want))
                        docs->stats->already++;
                    else if (push_id(docs, ds[j].id))
                        err = KW_ERR_NOMEM;
                }
                if (n > 0)
                    f.after_seq = ds[n - 1].seq;
            } while (err == KW_OK && n == PAGE);
            int64_t after = 0;
            do {
                n = 0;
                KW_DOMAIN_READ(app->store, err, tx,
                               kw_store_webhook_list(tx, svcs[i].id, after, hs, PAGE, &n));
                for (j = 0; err == KW_OK && j < n; j++) {
                    int c = hs[j].secret_sealed_len > 0 &&
                            !under(hs[j].secret_sealed, hs[j].secret_sealed_len, hooks->want);
                    int p = hs[j].prev_secret_sealed_len > 0 &&
                            !under(hs[j].prev_secret_sealed, hs[j].prev_secret_sealed_len, hooks->want);

                    hooks->stats->already +=
                        (hs[j].secret_sealed_len > 0 && !c) + (hs[j].prev_secret_sealed_len > 0 && !p);
                    if ((c || p) && push_id(hooks, hs[j].id))
                        err = KW_ERR_NOMEM;
                }
                if (n > 0)
                    after = hs[n - 1].seq;
            } while (err == KW_OK && n == PAGE);
        }
        if (err != KW_OK || ns < 100)
            break;
        svc_after = svcs[ns - 1].seq;
    }
    if (ds != NULL)
        explicit_bzero(ds, PAGE * sizeof(*ds));
    if (hs != NULL)
        explicit_bzero(hs, PAGE * sizeof(*hs));
    free(svcs);
    free(ds);
    free(hs);
    return err;
}

/* Runs body over p's ids, KW_REKEY_BATCH per audited write; adds the counts to *done and stats->failed. */
static enum kw_err run_batches(struct kw_app *app, const struct kw_actor *actor, struct batch *b,
                               struct pending *p, const char *target_type, kw_write_body_fn body,
                               int64_t *done)
{
    struct kw_write w;
    enum kw_err err = KW_OK;
    size_t i;

    for (i = 0; err == KW_OK && i < p->n; i += KW_REKEY_BATCH) {
        b->ids = p->ids + i;
        b->n = p->n - i < KW_REKEY_BATCH ? p->n - i : KW_REKEY_BATCH;
        kw_write_init(&w, actor, "secrets.rekey", target_type, NULL, NULL);
        err = kw_domain_write(app, &w, body, b);
        if (err == KW_OK || err == KW_ERR_NOT_FOUND) {
            *done += b->done;
            p->stats->failed += b->failed;
            err = KW_OK;
        }
    }
    return err;
}

enum kw_err kw_rekey_run(struct kw_app *app, struct kw_secrets *to, const struct kw_actor *actor,
                         struct kw_rekey_stats *stats)
{
    struct pending p = {NULL, 0, 0, {0}, stats}, hooks = {NULL, 0, 0, {0}, stats};
    struct batch b = {app, to, NULL, 0, 0, 0};
    struct kw_write w;
    enum kw_err err;
    size_t i;

    kw_secrets_current_id(to, p.want);
    kw_write_init(&w, actor, "secrets.rekey", "signing_key", NULL, NULL);
    err = kw_domain_write(app, &w, signing_body, &b);
    if (err == KW_OK || err == KW_ERR_NOT_FOUND) {
        stats->signing_keys += b.done;
        stats->failed += b.failed;
        err = KW_OK;
    }
    if (err == KW_OK) {
        kw_write_init(&w, actor, "secrets.rekey", "encryption_key", NULL, NULL);
        err = kw_domain_write(app, &w, enckeys_body, &b);
        if (err == KW_OK || err == KW_ERR_NOT_FOUND) {
            stats->encryption_keys += b.done;
            stats->failed += b.failed;
            err = KW_OK;
        }
    }
    if (err == KW_OK)
        err = collect_records(app, &p);
    for (i = 0; err == KW_OK && i < p.n; i += KW_REKEY_BATCH) {
        b.ids = p.ids + i;
        b.n = p.n - i < KW_REKEY_BATCH ? p.n - i : KW_REKEY_BATCH;
        kw_write_init(&w, actor, "secrets.rekey", "record", NULL, NULL);
        err = kw_domain_write(app, &w, records_body, &b);
        if (err == KW_OK || err == KW_ERR_NOT_FOUND) {
            stats->records += b.done;
            stats->failed += b.failed;
            err = KW_OK;
        }
    }
    p.n = 0;
    memcpy(hooks.want, p.want, sizeof(p.want));
    if (err == KW_OK)
        err = collect_docs_hooks(app, &p, &hooks);
    if (err == KW_OK)
        err = run_batches(app, actor, &b, &p, "document", documents_body, &stats->documents);
    if (err == KW_OK)
        err = run_batches(app, actor, &b, &hooks, "webhook", webhooks_body, &stats->webhook_secrets);
    free(hooks.ids);
    p.n = 0;
    if (err == KW_OK)
        KW_DOMAIN_READ(app->store, err, tx, kw_store_key_each(tx, collect, &p));
    for (i = 0; err == KW_OK && i < p.n; i += KW_REKEY_BATCH) {
        b.ids = p.ids + i;
        b.n = p.n - i < KW_REKEY_BATCH ? p.n - i : KW_REKEY_BATCH;
        kw_write_init(&w, actor, "secrets.rekey", "access_key", NULL, NULL);
        err = kw_domain_write(app, &w, keys_body, &b);
        if (err == KW_OK) {
            stats->access_keys += b.done;
            stats->failed += b.failed;
        }
    }
    free(p.ids);
    return err;
}
