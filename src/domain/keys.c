/* keys.c - API key lifecycle; see keys.h. */
#include "domain/keys.h"

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/commit_internal.h"
#include "store/store.h"

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
    if (p->set_require_encryption) {
        k->require_encryption = p->require_encryption ? 1 : 0;
        KW_CHANGED("requireEncryption");
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
    k->rolled_to[0] = '\0';
    snprintf(k->kind, sizeof(k->kind), "api_key");
    k->service_user_id[0] = '\0';
    k->owner_enabled = 1;
    k->sealed_len = 0;
    k->seq = 0;
    return KW_OK;
}

/* A key of kind api_key: the rows of other kinds (tokens, access keys, bans) share the table but are
 * not API keys, so none of these endpoints ever sees them (KW_ERR_NOT_FOUND). */
static enum kw_err api_key_get(struct kw_tx *tx, const char *id, struct kw_key *out)
{
    enum kw_err err = kw_store_key_get(tx, id, out);

    if (err == KW_OK && strcmp(out->kind, "api_key") != 0 && out->kind[0] != '\0')
        err = KW_ERR_NOT_FOUND;
    return err;
}

/* ---- create ---- */

struct create_ctx {
    const char *service_id;
    const struct kw_key *template;
    const struct kw_actor *actor;
    struct kw_key key;
    char *secret;
};

static enum kw_err create_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct create_ctx *c = ctx;
    struct kw_service s;
    enum kw_err err = kw_store_service_get(tx, c->service_id, &s);

    if (err == KW_OK)
        err = mint(&s, c->template, c->actor, &c->key, c->secret);
    if (err == KW_OK)
        err = kw_store_version_next(tx, &c->key.version);
    if (err == KW_OK)
        err = kw_store_key_insert(tx, &c->key);
    snprintf(w->target_id, sizeof(w->target_id), "%s", c->key.id);
    return err;
}

enum kw_err kw_keys_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                           const struct kw_key_params *p, struct kw_key *out, char secret[KW_KEYFMT_MAX])
{
    struct create_ctx c = {service_id, NULL, actor, {0}, secret};
    struct kw_key t;
    struct kw_write w;
    char changed[256];
    enum kw_err err;

    memset(&t, 0, sizeof(t));
    t.enabled = 1;
    t.archive_after_extract_s = -1;
    t.perms = KW_PERM_CANDIDATES_READ;
    apply(&t, p, changed, sizeof(changed));
    c.template = &t;
    kw_write_init(&w, actor, "key.create", "key", NULL, service_id);
    err = kw_domain_write(app, &w, create_body, &c);
    if (err == KW_OK)
        err = kw_keycache_put(app->keys, &c.key);
    if (err == KW_OK)
        *out = c.key;
    else
        memset(secret, 0, KW_KEYFMT_MAX);
    return err;
}

enum kw_err kw_keys_get(struct kw_app *app, const char *id, struct kw_key *out)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, api_key_get(tx, id, out));
    return err;
}

static enum kw_err list_in(struct kw_tx *tx, const char *service_id, int64_t after_seq, struct kw_key *items,
                           size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err = kw_store_service_get(tx, service_id, &s);

    return err == KW_OK ? kw_store_key_list(tx, service_id, after_seq, items, cap, n) : err;
}

enum kw_err kw_keys_list(struct kw_app *app, const char *service_id, int64_t after_seq, struct kw_key *items,
                         size_t cap, size_t *n)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, list_in(tx, service_id, after_seq, items, cap, n));
    return err;
}

/* ---- update, revoke ---- */

struct modify_ctx {
    const char *id;
    const struct kw_key_params *p;
    int revoke;
    struct kw_key key;
};

/* Read under the write lock, check the rules, change, write with a new version. */
static enum kw_err modify_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct modify_ctx *c = ctx;
    struct kw_key *k = &c->key;
    char changed[256];
    enum kw_err err = api_key_get(tx, c->id, k);

    if (err != KW_OK)
        return err;
    if (k->revoked_at != 0 && !c->revoke) {
        w->conflict = "KEY_REVOKED";
        return KW_ERR_CONFLICT;
    }
    /* A rolled-away key is on its way out: its expiry is the roll's and stays so. */
    if (k->rolled_to[0] != '\0' && c->p->set_expires) {
        w->conflict = "KEY_ROLLED";
        return KW_ERR_CONFLICT;
    }
    apply(k, c->p, changed, sizeof(changed));
    k->updated_at = kw_time_now_ms();
    if (c->revoke && k->revoked_at == 0)
        k->revoked_at = k->updated_at;
    err = kw_store_version_next(tx, &k->version);
    if (err == KW_OK)
        err = kw_store_key_update(tx, k);
    snprintf(w->service_id, sizeof(w->service_id), "%s", k->service_id);
    if (!c->revoke)
        snprintf(w->detail, sizeof(w->detail), "{\"changed\":[%s]}", changed);
    return err;
}

static enum kw_err modify(struct kw_app *app, const struct kw_actor *actor, const char *id,
                          const struct kw_key_params *p, int revoke, struct kw_key *out, const char **conflict)
{
    struct modify_ctx c = {id, p, revoke, {0}};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor, revoke ? "key.revoke" : "key.update", "key", id, NULL);
    err = kw_domain_write(app, &w, modify_body, &c);
    if (conflict != NULL)
        *conflict = w.conflict;
    if (err == KW_OK)
        err = kw_keycache_put(app->keys, &c.key);
    if (err == KW_OK)
        *out = c.key;
    return err;
}

enum kw_err kw_keys_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                           const struct kw_key_params *p, struct kw_key *out, const char **conflict)
{
    return modify(app, actor, id, p, 0, out, conflict);
}

enum kw_err kw_keys_revoke(struct kw_app *app, const struct kw_actor *actor, const char *id, struct kw_key *out)
{
    struct kw_key_params none;

    memset(&none, 0, sizeof(none));
    return modify(app, actor, id, &none, 1, out, NULL);
}

/* ---- roll ---- */

struct roll_ctx {
    const char *id;
    int64_t grace_s;
    const struct kw_actor *actor;
    struct kw_key old, key;
    char *secret;
};

/* The old key must still be live and never rolled: one successor per key. */
static const char *roll_refusal(const struct kw_key *old, int64_t now)
{
    if (old->revoked_at != 0)
        return "KEY_REVOKED";
    if (old->rolled_to[0] != '\0')
        return "KEY_ALREADY_ROLLED";
    if (old->expires_at != 0 && now >= old->expires_at)
        return "KEY_EXPIRED";
    return NULL;
}

static enum kw_err roll_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct roll_ctx *c = ctx;
    struct kw_service s;
    int64_t until;
    enum kw_err err = api_key_get(tx, c->id, &c->old);

    if (err == KW_OK && (w->conflict = roll_refusal(&c->old, kw_time_now_ms())) != NULL)
        err = KW_ERR_CONFLICT;
    if (err == KW_OK)
        err = kw_store_service_get(tx, c->old.service_id, &s);
    if (err == KW_OK)
        err = mint(&s, &c->old, c->actor, &c->key, c->secret);
    if (err == KW_OK)
        err = kw_store_version_next(tx, &c->key.version);
    if (err != KW_OK)
        return err;
    memcpy(c->key.rolled_from, c->old.id, sizeof(c->key.rolled_from));
    memcpy(c->old.rolled_to, c->key.id, sizeof(c->old.rolled_to));
    c->old.version = c->key.version;
    until = c->key.created_at + c->grace_s * 1000;
    if (c->old.expires_at == 0 || c->old.expires_at > until)
        c->old.expires_at = until;
    c->old.updated_at = c->key.created_at;
    err = kw_store_key_update(tx, &c->old);
    if (err == KW_OK)
        err = kw_store_key_insert(tx, &c->key);
    snprintf(w->service_id, sizeof(w->service_id), "%s", c->old.service_id);
    snprintf(w->detail, sizeof(w->detail), "{\"newKeyId\":\"%s\",\"expireOldAfterSeconds\":%lld}", c->key.id,
             (long long)c->grace_s);
    return err;
}

enum kw_err kw_keys_roll(struct kw_app *app, const struct kw_actor *actor, const char *id, int64_t grace_s,
                         struct kw_key *out, char secret[KW_KEYFMT_MAX], const char **conflict)
{
    struct roll_ctx c;
    struct kw_write w;
    enum kw_err err;

    memset(&c, 0, sizeof(c));
    c.id = id;
    c.grace_s = grace_s;
    c.actor = actor;
    c.secret = secret;
    kw_write_init(&w, actor, "key.roll", "key", id, NULL);
    err = kw_domain_write(app, &w, roll_body, &c);
    if (conflict != NULL)
        *conflict = w.conflict;
    if (err == KW_OK)
        err = kw_keycache_put(app->keys, &c.old);
    if (err == KW_OK)
        err = kw_keycache_put(app->keys, &c.key);
    if (err == KW_OK)
        *out = c.key;
    else
        memset(secret, 0, KW_KEYFMT_MAX);
    return err;
}

/* ---- delete ---- */

static enum kw_err delete_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct kw_key *k = ctx;
    char id[KW_ID_MAX];
    int64_t v = 0;
    enum kw_err err;

    memcpy(id, w->target_id, sizeof(id));
    err = api_key_get(tx, id, k);
    if (err == KW_OK)
        err = kw_store_version_next(tx, &v);
    if (err == KW_OK)
        err = kw_store_key_delete(tx, id, v);
    k->version = v;
    snprintf(w->service_id, sizeof(w->service_id), "%s", k->service_id);
    return err;
}

enum kw_err kw_keys_delete(struct kw_app *app, const struct kw_actor *actor, const char *id)
{
    struct kw_key k;
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor, "key.delete", "key", id, NULL);
    err = kw_domain_write(app, &w, delete_body, &k);
    if (err == KW_OK)
        kw_keycache_remove(app->keys, k.hash, k.version);
    return err;
}
