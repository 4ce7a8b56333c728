/* services.c - tenant rules; see services.h. */
#include "domain/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "domain/commit_internal.h"
#include "domain/keyfmt.h"

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

enum kw_err kw_services_create(struct kw_app *app, const struct kw_actor *actor,
                               const struct kw_service_params *p, struct kw_service *out)
{
    struct kw_service s;
    enum kw_err err;

    memset(&s, 0, sizeof(s));
    copy_field(s.key_prefix, sizeof(s.key_prefix), "kw");
    if (p->name == NULL)
        return KW_ERR_INVALID;
    err = apply(&s, p);
    if (err != KW_OK)
        return err;
    err = kw_id_new("svc", s.id);
    if (err != KW_OK)
        return err;
    s.created_at = s.updated_at = kw_time_now_ms();
    err = kw_store_begin(app->store);
    if (err != KW_OK)
        return err;
    err = kw_store_service_insert(app->store, &s);
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        return err;
    }
    err = kw_domain_commit(app, actor, "service.create", "service", s.id, s.id, NULL);
    if (err == KW_OK)
        *out = s;
    return err;
}

enum kw_err kw_services_get(struct kw_app *app, const char *id, struct kw_service *out)
{
    return kw_store_service_get(app->store, id, out);
}

enum kw_err kw_services_list(struct kw_app *app, int64_t after_seq, struct kw_service *items, size_t cap,
                             size_t *n)
{
    return kw_store_service_list(app->store, after_seq, items, cap, n);
}

enum kw_err kw_services_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                               const struct kw_service_params *p, struct kw_service *out)
{
    struct kw_service s;
    enum kw_err err;

    err = kw_store_begin(app->store);
    if (err != KW_OK)
        return err;
    err = kw_store_service_get(app->store, id, &s);
    if (err == KW_OK)
        err = apply(&s, p);
    if (err == KW_OK) {
        s.updated_at = kw_time_now_ms();
        err = kw_store_service_update(app->store, &s);
    }
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        return err;
    }
    err = kw_domain_commit(app, actor, "service.update", "service", s.id, s.id, NULL);
    if (err == KW_OK)
        *out = s;
    return err;
}

struct hash_list {
    uint8_t (*hashes)[KW_HASH_LEN];
    size_t n, cap;
    const char *service_id;
};

static int collect_hash(void *ctx, const struct kw_key *key)
{
    struct hash_list *l = ctx;

    if (strcmp(key->service_id, l->service_id) != 0)
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

enum kw_err kw_services_delete(struct kw_app *app, const struct kw_actor *actor, const char *id, int force)
{
    struct kw_service s;
    struct hash_list l = {NULL, 0, 0, id};
    int64_t live = 0;
    enum kw_err err;
    size_t i;

    err = kw_store_begin(app->store);
    if (err != KW_OK)
        return err;
    err = kw_store_service_get(app->store, id, &s);
    if (err == KW_OK)
        err = kw_store_service_live_keys(app->store, id, kw_time_now_ms(), &live);
    if (err == KW_OK && live > 0 && !force)
        err = KW_ERR_CONFLICT;
    if (err == KW_OK)
        err = kw_store_key_each(app->store, collect_hash, &l);
    if (err == KW_OK)
        err = kw_store_service_delete(app->store, id);
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        goto out;
    }
    err = kw_domain_commit(app, actor, "service.delete", "service", id, id,
                           force && live > 0 ? "{\"force\":true}" : NULL);
    if (err != KW_OK)
        goto out;
    for (i = 0; i < l.n; i++)
        kw_keycache_remove(app->keys, l.hashes[i]);
out:
    free(l.hashes);
    return err;
}
