/* keys.c - API key lifecycle; see keys.h. */
#include "domain/keys.h"

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/commit_internal.h"

const char *kw_keys_status(const struct kw_key *key, int64_t now_ms)
{
    if (key->revoked_at != 0)
        return "revoked";
    if (key->expires_at != 0 && now_ms >= key->expires_at)
        return "expired";
    if (!key->enabled)
        return "disabled";
    return "active";
}

/* Applies p to k; *changed lists the JSON names touched, for the audit detail. */
static void apply(struct kw_key *k, const struct kw_key_params *p, char *changed, size_t cap)
{
    size_t used = 0;
#define KW_CHANGED(name)                                                                               \
    do {                                                                                               \
        int w_ = snprintf(changed + used, cap - used, "%s\"%s\"", used ? "," : "", name);              \
        if (w_ > 0 && (size_t)w_ < cap - used)                                                         \
            used += (size_t)w_;                                                                        \
    } while (0)
    changed[0] = '\0';
    if (p->set_description) {
        snprintf(k->description, sizeof(k->description), "%s", p->description ? p->description : "");
        KW_CHANGED("description");
    }
    if (p->set_scope) {
        k->scope = p->scope;
        KW_CHANGED("scope");
    }
    if (p->set_perms) {
        k->perms = (p->perms | KW_PERM_CANDIDATES_READ) & KW_PERM_ALL;
        KW_CHANGED("permissions");
    }
    if (p->set_archive) {
        k->archive_after_extract_s = p->archive_after_extract_s;
        KW_CHANGED("archiveAfterExtractSeconds");
    }
    if (p->set_enabled) {
        k->enabled = p->enabled ? 1 : 0;
        KW_CHANGED("enabled");
    }
    if (p->set_expires) {
        k->expires_at = p->expires_at;
        KW_CHANGED("expiresAt");
    }
#undef KW_CHANGED
}

/* Fills a new key row for service s from template t (settings only), with a fresh secret. */
static enum kw_err mint(const struct kw_service *s, const struct kw_key *t, const struct kw_actor *actor,
                        struct kw_key *k, char secret[KW_KEYFMT_MAX])
{
    enum kw_err err;

    *k = *t;
    err = kw_id_new("key", k->id);
    if (err == KW_OK)
        err = kw_keyfmt_generate(s->key_prefix, secret);
    if (err == KW_OK)
        err = kw_crypto_sha256(secret, strlen(secret), k->hash);
    if (err != KW_OK)
        return err;
    memcpy(k->service_id, s->id, sizeof(k->service_id));
    kw_keyfmt_start(secret, k->start, sizeof(k->start));
    k->created_at = k->updated_at = kw_time_now_ms();
    snprintf(k->created_by, sizeof(k->created_by), "%s", actor->id ? actor->id : "");
    k->revoked_at = 0;
    k->last_used_at = 0;
    k->last_used_ip[0] = '\0';
    k->rolled_from[0] = '\0';
    k->seq = 0;
    return KW_OK;
}

enum kw_err kw_keys_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                           const struct kw_key_params *p, struct kw_key *out, char secret[KW_KEYFMT_MAX])
{
    struct kw_service s;
    struct kw_key t, k;
    char changed[256];
    enum kw_err err;

    memset(&t, 0, sizeof(t));
    t.enabled = 1;
    t.archive_after_extract_s = -1;
    t.perms = KW_PERM_CANDIDATES_READ;
    apply(&t, p, changed, sizeof(changed));
    err = kw_store_begin(app->store);
    if (err != KW_OK)
        return err;
    err = kw_store_service_get(app->store, service_id, &s);
    if (err == KW_OK)
        err = mint(&s, &t, actor, &k, secret);
    if (err == KW_OK)
        err = kw_store_key_insert(app->store, &k);
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        goto out;
    }
    err = kw_domain_commit(app, actor, "key.create", "key", k.id, k.service_id, NULL);
    if (err == KW_OK) {
        k.version = atomic_fetch_add(&app->interim_version, 1) + 1; /* interim: the store assigns it (lead) */
        err = kw_keycache_put(app->keys, &k);
    }
    if (err == KW_OK)
        *out = k;
out:
    if (err != KW_OK)
        memset(secret, 0, KW_KEYFMT_MAX);
    return err;
}

enum kw_err kw_keys_get(struct kw_app *app, const char *id, struct kw_key *out)
{
    return kw_store_key_get(app->store, id, out);
}

enum kw_err kw_keys_list(struct kw_app *app, const char *service_id, int64_t after_seq, struct kw_key *items,
                         size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err = kw_store_service_get(app->store, service_id, &s);

    if (err != KW_OK)
        return err;
    return kw_store_key_list(app->store, service_id, after_seq, items, cap, n);
}

/* Shared shape of update/revoke: read under the transaction, change, write, audit, re-cache. */
static enum kw_err modify(struct kw_app *app, const struct kw_actor *actor, const char *id,
                          const struct kw_key_params *p, int revoke, struct kw_key *out)
{
    struct kw_key k;
    char changed[256], detail[300];
    enum kw_err err;

    err = kw_store_begin(app->store);
    if (err != KW_OK)
        return err;
    err = kw_store_key_get(app->store, id, &k);
    if (err == KW_OK && k.revoked_at != 0 && !revoke)
        err = KW_ERR_CONFLICT;
    if (err == KW_OK) {
        apply(&k, p, changed, sizeof(changed));
        k.updated_at = kw_time_now_ms();
        if (revoke && k.revoked_at == 0)
            k.revoked_at = k.updated_at;
        err = kw_store_key_update(app->store, &k);
    }
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        return err;
    }
    snprintf(detail, sizeof(detail), "{\"changed\":[%s]}", changed);
    err = kw_domain_commit(app, actor, revoke ? "key.revoke" : "key.update", "key", k.id, k.service_id,
                           revoke ? NULL : detail);
    if (err == KW_OK) {
        k.version = atomic_fetch_add(&app->interim_version, 1) + 1; /* interim: the store assigns it (lead) */
        err = kw_keycache_put(app->keys, &k);
    }
    if (err == KW_OK)
        *out = k;
    return err;
}

enum kw_err kw_keys_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                           const struct kw_key_params *p, struct kw_key *out)
{
    return modify(app, actor, id, p, 0, out);
}

enum kw_err kw_keys_revoke(struct kw_app *app, const struct kw_actor *actor, const char *id, struct kw_key *out)
{
    struct kw_key_params none;

    memset(&none, 0, sizeof(none));
    return modify(app, actor, id, &none, 1, out);
}

enum kw_err kw_keys_roll(struct kw_app *app, const struct kw_actor *actor, const char *id, int64_t grace_s,
                         struct kw_key *out, char secret[KW_KEYFMT_MAX])
{
    struct kw_service s;
    struct kw_key old, k;
    char detail[128];
    int64_t until;
    enum kw_err err;

    err = kw_store_begin(app->store);
    if (err != KW_OK)
        return err;
    err = kw_store_key_get(app->store, id, &old);
    if (err == KW_OK && old.revoked_at != 0)
        err = KW_ERR_CONFLICT;
    if (err == KW_OK)
        err = kw_store_service_get(app->store, old.service_id, &s);
    if (err == KW_OK)
        err = mint(&s, &old, actor, &k, secret);
    if (err == KW_OK) {
        memcpy(k.rolled_from, old.id, sizeof(k.rolled_from));
        until = k.created_at + grace_s * 1000;
        if (old.expires_at == 0 || old.expires_at > until)
            old.expires_at = until;
        old.updated_at = k.created_at;
        err = kw_store_key_update(app->store, &old);
    }
    if (err == KW_OK)
        err = kw_store_key_insert(app->store, &k);
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        goto out;
    }
    snprintf(detail, sizeof(detail), "{\"newKeyId\":\"%s\",\"expireOldAfterSeconds\":%lld}", k.id,
             (long long)grace_s);
    err = kw_domain_commit(app, actor, "key.roll", "key", old.id, old.service_id, detail);
    if (err == KW_OK) {
        old.version = k.version = atomic_fetch_add(&app->interim_version, 1) + 1; /* interim: the store assigns it (lead) */
        err = kw_keycache_put(app->keys, &old);
    }
    if (err == KW_OK)
        err = kw_keycache_put(app->keys, &k);
    if (err == KW_OK)
        *out = k;
out:
    if (err != KW_OK)
        memset(secret, 0, KW_KEYFMT_MAX);
    return err;
}

enum kw_err kw_keys_delete(struct kw_app *app, const struct kw_actor *actor, const char *id)
{
    struct kw_key k;
    enum kw_err err;

    err = kw_store_begin(app->store);
    if (err != KW_OK)
        return err;
    err = kw_store_key_get(app->store, id, &k);
    if (err == KW_OK)
        err = kw_store_key_delete(app->store, id);
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        return err;
    }
    err = kw_domain_commit(app, actor, "key.delete", "key", k.id, k.service_id, NULL);
    if (err == KW_OK)
        kw_keycache_remove(app->keys, k.hash, atomic_fetch_add(&app->interim_version, 1) + 1); /* interim: the store assigns it */
    return err;
}
