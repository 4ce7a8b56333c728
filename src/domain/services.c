/* services.c - tenant rules; see services.h. */
#include "domain/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "domain/commit_internal.h"
#include "domain/keyfmt.h"
#include "store/store.h"

static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

int kw_services_text_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return 0;
    }
    return 1;
}

static enum kw_err apply(struct kw_service *s, const struct kw_service_params *p)
{
    if (p->key_prefix != NULL && !kw_keyfmt_prefix_valid(p->key_prefix))
        return KW_ERR_INVALID;
    if ((p->name != NULL && !kw_services_text_valid(p->name)) ||
        (p->description != NULL && !kw_services_text_valid(p->description)))
        return KW_ERR_INVALID;
    if (p->name != NULL)
        copy_field(s->name, sizeof(s->name), p->name);
    if (p->description != NULL)
        copy_field(s->description, sizeof(s->description), p->description);
    if (p->key_prefix != NULL)
        copy_field(s->key_prefix, sizeof(s->key_prefix), p->key_prefix);
    return KW_OK;
}

struct service_ctx {
    const char *id;
    const struct kw_service_params *p;
    struct kw_service svc;
};

static enum kw_err create_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct service_ctx *c = ctx;

    return kw_store_service_insert(tx, &c->svc);
}

enum kw_err kw_services_create(struct kw_app *app, const struct kw_actor *actor,
                               const struct kw_service_params *p, struct kw_service *out)
{
    struct service_ctx c = {NULL, p, {0}};
    struct kw_write w;
    enum kw_err err;

    copy_field(c.svc.key_prefix, sizeof(c.svc.key_prefix), "kw");
    if (p->name == NULL)
        return KW_ERR_INVALID;
    err = apply(&c.svc, p);
    if (err == KW_OK)
        err = kw_id_new("svc", c.svc.id);
    if (err != KW_OK)
        return err;
    c.svc.created_at = c.svc.updated_at = kw_time_now_ms();
    kw_write_init(&w, actor, "service.create", "service", c.svc.id, c.svc.id);
    err = kw_domain_write(app, &w, create_body, &c);
    if (err == KW_OK)
        *out = c.svc;
    return err;
}

enum kw_err kw_services_get(struct kw_app *app, const char *id, struct kw_service *out)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, kw_store_service_get(tx, id, out));
    return err;
}

enum kw_err kw_services_list(struct kw_app *app, int64_t after_seq, struct kw_service *items, size_t cap,
                             size_t *n)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, kw_store_service_list(tx, after_seq, items, cap, n));
    return err;
}

enum kw_err kw_services_list_for(struct kw_app *app, const char *username, int64_t after_seq,
                                 struct kw_service *items, size_t cap, size_t *n)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, kw_store_service_list_for(tx, username, after_seq, items, cap, n));
    return err;
}

static enum kw_err update_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct service_ctx *c = ctx;
    enum kw_err err = kw_store_service_get(tx, c->id, &c->svc);

    if (err == KW_OK)
        err = apply(&c->svc, c->p);
    if (err == KW_OK) {
        c->svc.updated_at = kw_time_now_ms();
        err = kw_store_service_update(tx, &c->svc);
    }
    return err;
}

enum kw_err kw_services_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                               const struct kw_service_params *p, struct kw_service *out)
{
    struct service_ctx c = {id, p, {0}};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor, "service.update", "service", id, id);
    err = kw_domain_write(app, &w, update_body, &c);
    if (err == KW_OK)
        *out = c.svc;
    return err;
}

struct delete_ctx {
    const char *id;
    int force;
    uint8_t (*hashes)[KW_HASH_LEN]; /* the service's keys, to take out of the cache after commit */
    size_t n, cap;
    int64_t version;
    char (*docs)[KW_ID_MAX]; /* the service's live documents, whose content goes after commit */
    size_t ndocs, docs_cap;
};

#define DOC_PAGE 64

/* Notes the ids of the service's live documents: their rows go with the service (ON DELETE CASCADE), and
 * after the commit their content (SQLite: the files under <data-dir>/documents) is removed too. */
static enum kw_err collect_docs(struct kw_tx *tx, struct delete_ctx *c)
{
    struct kw_document *page = calloc(DOC_PAGE, sizeof(*page));
    struct kw_document_filter f;
    enum kw_err err = page != NULL ? KW_OK : KW_ERR_NOMEM;
    size_t n = DOC_PAGE, i;

    memset(&f, 0, sizeof(f));
    f.service_id = c->id;
    while (err == KW_OK && n == DOC_PAGE) {
        err = kw_store_document_list(tx, &f, page, DOC_PAGE, &n);
        if (err == KW_OK && c->ndocs + n > c->docs_cap) {
            size_t ncap = c->docs_cap ? c->docs_cap * 2 : DOC_PAGE;
            void *nd;
            while (ncap < c->ndocs + n)
                ncap *= 2;
            nd = realloc(c->docs, ncap * sizeof(*c->docs));
            if (nd == NULL)
                err = KW_ERR_NOMEM;
            else {
                c->docs = nd;
                c->docs_cap = ncap;
            }
        }
        for (i = 0; err == KW_OK && i < n; i++)
            snprintf(c->docs[c->ndocs++], KW_ID_MAX, "%s", page[i].id);
        if (n > 0)
            f.after_seq = page[n - 1].seq;
    }
    free(page);
    return err;
}

static int collect_hash(void *ctx, const struct kw_key *key)
{
    struct delete_ctx *l = ctx;

    if (strcmp(key->service_id, l->id) != 0)
        return 0;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        void *nh = realloc(l->hashes, ncap * KW_HASH_LEN);
        if (nh == NULL)
            return 1;
        l->hashes = nh;
        l->cap = ncap;
    }
    memcpy(l->hashes[l->n++], key->hash, KW_HASH_LEN);
    return 0;
}

static enum kw_err delete_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct delete_ctx *c = ctx;
    struct kw_service s;
    int64_t live = 0;
    enum kw_err err = kw_store_service_get(tx, c->id, &s);

    c->n = 0;
    c->ndocs = 0; /* the body may run again (a retried transaction) */
    if (err == KW_OK)
        err = kw_store_service_live_keys(tx, c->id, kw_time_now_ms(), &live);
    if (err == KW_OK && live > 0 && !c->force) {
        w->conflict = "SERVICE_HAS_LIVE_KEYS";
        err = KW_ERR_CONFLICT;
    }
    if (err == KW_OK)
        err = kw_store_key_each(tx, collect_hash, c);
    if (err == KW_OK)
        err = collect_docs(tx, c);
    if (err == KW_OK)
        err = kw_store_version_next(tx, &c->version);
    if (err == KW_OK)
        err = kw_store_service_delete(tx, c->id, c->version);
    if (err == KW_OK && c->force && live > 0)
        snprintf(w->detail, sizeof(w->detail), "{\"force\":true}");
    return err;
}

enum kw_err kw_services_delete(struct kw_app *app, const struct kw_actor *actor, const char *id, int force)
{
    struct delete_ctx c = {id, force, NULL, 0, 0, 0, NULL, 0, 0};
    struct kw_write w;
    enum kw_err err;
    size_t i;

    kw_write_init(&w, actor, "service.delete", "service", id, id);
    err = kw_domain_write(app, &w, delete_body, &c);
    for (i = 0; err == KW_OK && i < c.n; i++)
        kw_keycache_remove(app->keys, c.hashes[i], c.version);
    /* The rows are gone: content_drop removes what a row no longer names. A crash before this leaves
     * files no row names, which no read can reach and no key can open (the sealed keys went with the
     * rows); content_recover sweeps them at the next start. */
    for (i = 0; err == KW_OK && i < c.ndocs; i++)
        if (kw_store_document_content_drop(app->store, c.docs[i]) != KW_OK)
            kw_log_warn("document content not removed", "id=%s", c.docs[i]);
    free(c.hashes);
    free(c.docs);
    return err;
}
