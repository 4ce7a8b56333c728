/* service_users.c - service users and their cascades; see service_users.h. */
#include "domain/service_users.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/bans.h"
#include "domain/commit_internal.h"
#include "domain/service_users_internal.h"
#include "store/store.h"

int kw_service_users_source_valid(const char *s)
{
    size_t i, n = strlen(s);

    if (n < 2 || n > 32 || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (i = 1; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return 0;
    }
    return 1;
}

/* ---- the batch of credential rows a write touched ---- */

enum kw_err kw_cred_batch_add(struct kw_cred_batch *b, const struct kw_key *k, int deleted)
{
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 8;
        struct kw_key *ni = realloc(b->items, ncap * sizeof(*ni));
        unsigned char *nd;
        if (ni == NULL)
            return KW_ERR_NOMEM;
        b->items = ni;
        nd = realloc(b->deleted, ncap);
        if (nd == NULL)
            return KW_ERR_NOMEM;
        b->deleted = nd;
        b->cap = ncap;
    }
    b->items[b->n] = *k;
    b->deleted[b->n] = (unsigned char)(deleted != 0);
    b->n++;
    return KW_OK;
}

enum kw_err kw_cred_batch_owner(struct kw_cred_batch *b, struct kw_tx *tx, const char *service_id,
                                const char *service_user_id, int deleted, int64_t version)
{
    static const char *const kinds[] = {"token", "access_key", "client_secret"};
    struct kw_key page[32];
    enum kw_err err = KW_OK;
    size_t i, j, n;
    int64_t after;

    for (i = 0; err == KW_OK && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        after = 0;
        do {
            err = kw_store_key_list_kind(tx, service_id, service_user_id, kinds[i], after, page, 32, &n);
            for (j = 0; err == KW_OK && j < n; j++) {
                if (deleted)
                    page[j].version = version;
                err = kw_cred_batch_add(b, &page[j], deleted);
                after = page[j].seq;
            }
        } while (err == KW_OK && n == 32);
    }
    return err;
}

void kw_cred_batch_apply(struct kw_cred_batch *b, struct kw_app *app)
{
    size_t i;

    for (i = 0; i < b->n; i++) {
        if (b->deleted[i])
            kw_keycache_remove(app->keys, b->items[i].hash, b->items[i].version);
        else
            kw_keycache_put(app->keys, &b->items[i]); /* NOMEM: sync brings it on its next pass */
        memset(b->items[i].sealed, 0, sizeof(b->items[i].sealed));
    }
    b->n = 0;
}

void kw_cred_batch_reset(struct kw_cred_batch *b)
{
    b->n = 0;
}

void kw_cred_batch_free(struct kw_cred_batch *b)
{
    free(b->items);
    free(b->deleted);
    memset(b, 0, sizeof(*b));
}

/* ---- create ---- */

struct create_ctx {
    const char *service_id;
    const struct kw_su_params *p;
    const struct kw_actor *actor;
    struct kw_service_user su;
    char *secret;
    struct kw_cred_batch batch;
};

static enum kw_err new_secret(struct kw_service_user *u, char secret[KW_KEYFMT_MAX])
{
    enum kw_err err = kw_keyfmt_generate(KW_CLIENT_SECRET_PREFIX, secret);

    if (err == KW_OK)
        err = kw_crypto_sha256(secret, strlen(secret), u->client_secret_hash);
    return err;
}

/* The client secret as a keys row of kind client_secret (hash = the secret's SHA-256, owner u, u's perms
 * and enabled flag as owner_enabled), so the key cache, its versions and sync carry it to every node and
 * POST /oauth/token authenticates a client from memory (kw_service_users_authenticate_client). */
static enum kw_err client_secret_row(struct kw_tx *tx, const struct kw_service_user *u, const char *secret,
                                     const struct kw_actor *actor, struct kw_cred_batch *b)
{
    struct kw_key k;
    enum kw_err err;

    memset(&k, 0, sizeof(k));
    err = kw_id_new("cs", k.id);
    if (err != KW_OK)
        return err;
    k.version = u->version;
    memcpy(k.service_id, u->service_id, sizeof(k.service_id));
    memcpy(k.service_user_id, u->id, sizeof(k.service_user_id));
    memcpy(k.hash, u->client_secret_hash, KW_HASH_LEN);
    snprintf(k.kind, sizeof(k.kind), "client_secret");
    kw_keyfmt_start(secret, k.start, sizeof(k.start));
    snprintf(k.description, sizeof(k.description), "OAuth client secret");
    k.scope = KW_SCOPE_METADATA;
    k.perms = u->perms;
    k.enabled = 1;
    k.owner_enabled = u->enabled != 0;
    k.archive_after_extract_s = -1;
    k.created_at = k.updated_at = u->updated_at;
    snprintf(k.created_by, sizeof(k.created_by), "%s", actor->id ? actor->id : "");
    err = kw_store_key_insert(tx, &k);
    return err == KW_OK ? kw_cred_batch_add(b, &k, 0) : err;
}

/* Deletes u's client-secret rows (tombstones at version), adding them to b as deleted. */
static enum kw_err client_secret_drop(struct kw_tx *tx, const struct kw_service_user *u, int64_t version,
                                      struct kw_cred_batch *b)
{
    struct kw_key page[4];
    size_t i, n = 0;
    enum kw_err err = kw_store_key_list_kind(tx, u->service_id, u->id, "client_secret", 0, page, 4, &n);

    for (i = 0; err == KW_OK && i < n; i++) {
        page[i].version = version;
        err = kw_store_key_delete(tx, page[i].id, version);
        if (err == KW_OK)
            err = kw_cred_batch_add(b, &page[i], 1);
    }
    return err;
}

static enum kw_err create_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct create_ctx *c = ctx;
    struct kw_service s;
    struct kw_service_user *u = &c->su;
    enum kw_err err = kw_store_service_get(tx, c->service_id, &s);

    kw_cred_batch_reset(&c->batch);
    memset(u, 0, sizeof(*u));
    if (err == KW_OK)
        err = kw_id_new("su", u->id);
    if (err == KW_OK)
        err = new_secret(u, c->secret);
    if (err == KW_OK)
        err = kw_store_version_next(tx, &u->version);
    if (err != KW_OK)
        return err;
    memcpy(u->service_id, s.id, sizeof(u->service_id));
    snprintf(u->name, sizeof(u->name), "%s", c->p->name ? c->p->name : "");
    snprintf(u->source_system, sizeof(u->source_system), "%s", c->p->source_system);
    u->perms = ((c->p->set_perms ? c->p->perms : 0) | KW_PERM_CANDIDATES_READ) & KW_PERM_ALL;
    u->enabled = c->p->set_enabled ? (c->p->enabled != 0) : 1;
    u->created_at = u->updated_at = u->client_secret_set_at = kw_time_now_ms();
    snprintf(u->created_by, sizeof(u->created_by), "%s", c->actor->id ? c->actor->id : "");
    err = kw_store_service_user_insert(tx, u);
    if (err == KW_ERR_EXISTS) {
        w->conflict = "SOURCE_SYSTEM_TAKEN";
        err = KW_ERR_CONFLICT;
    }
    if (err == KW_OK)
        err = client_secret_row(tx, u, c->secret, c->actor, &c->batch);
    snprintf(w->target_id, sizeof(w->target_id), "%s", u->id);
    snprintf(w->detail, sizeof(w->detail), "{\"sourceSystem\":\"%s\"}", u->source_system);
    return err;
}

enum kw_err kw_service_users_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                                    const struct kw_su_params *p, struct kw_service_user *out,
                                    char secret[KW_KEYFMT_MAX], const char **conflict)
{
    struct create_ctx c = {service_id, p, actor, {0}, secret, {0}};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor, "service_user.create", "service_user", NULL, service_id);
    err = kw_domain_write(app, &w, create_body, &c);
    if (conflict != NULL)
        *conflict = w.conflict;
    if (err == KW_OK) {
        kw_cred_batch_apply(&c.batch, app);
        *out = c.su;
    } else {
        memset(secret, 0, KW_KEYFMT_MAX);
    }
    kw_cred_batch_free(&c.batch);
    return err;
}

enum kw_err kw_service_users_get(struct kw_app *app, const char *id, struct kw_service_user *out)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, kw_store_service_user_get(tx, id, out));
    return err;
}

static enum kw_err list_in(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_service_user *items,
                           size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err = kw_store_service_get(tx, service_id, &s);

    return err == KW_OK ? kw_store_service_user_list(tx, service_id, after, items, cap, n) : err;
}

enum kw_err kw_service_users_list(struct kw_app *app, const char *service_id, int64_t after_seq,
                                  struct kw_service_user *items, size_t cap, size_t *n)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, list_in(tx, service_id, after_seq, items, cap, n));
    return err;
}

/* ---- update (enable/disable, permissions, name), reset secret ---- */

struct modify_ctx {
    const char *id;
    const struct kw_su_params *p;
    const struct kw_actor *actor;
    int reset_secret;
    char *secret;
    struct kw_service_user su;
    struct kw_cred_batch batch;
};

/* The user's tokens narrowed to perms, its access keys set to them, at version. */
static enum kw_err narrow_credentials(struct kw_tx *tx, const struct kw_service_user *u, int64_t version)
{
    struct kw_cred_batch b = {0};
    enum kw_err err = kw_cred_batch_owner(&b, tx, u->service_id, u->id, 0, version);
    size_t i;

    for (i = 0; err == KW_OK && i < b.n; i++) {
        struct kw_key *k = &b.items[i];
        uint32_t want = strcmp(k->kind, "token") == 0 ? (k->perms & u->perms) : u->perms;
        want = (want | KW_PERM_CANDIDATES_READ) & KW_PERM_ALL;
        if (want == k->perms)
            continue;
        k->perms = want;
        k->version = version;
        err = kw_store_key_update(tx, k);
    }
    kw_cred_batch_free(&b);
    return err;
}

/* Disable: owner_enabled = 0 on every credential and the "su:" ban; enable: the reverse. */
static enum kw_err cascade_enabled(struct kw_tx *tx, struct modify_ctx *c, int64_t version)
{
    const struct kw_service_user *u = &c->su;
    char what[8 + KW_ID_MAX];
    struct kw_key ban;
    int lifted = 0;
    enum kw_err err = kw_store_key_set_owner_enabled(tx, u->id, u->enabled, version, u->updated_at, NULL);

    snprintf(what, sizeof(what), "su:%s", u->id);
    if (err == KW_OK && !u->enabled) {
        err = kw_ban_put(tx, u->service_id, what, u->updated_at + KW_BAN_TTL_MS, version, c->actor->id, &ban);
        if (err == KW_OK)
            err = kw_cred_batch_add(&c->batch, &ban, 0);
    } else if (err == KW_OK) {
        err = kw_ban_lift(tx, what, version, &ban, &lifted);
        if (err == KW_OK && lifted)
            err = kw_cred_batch_add(&c->batch, &ban, 1);
    }
    return err;
}

static enum kw_err modify_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct modify_ctx *c = ctx;
    struct kw_service_user *u = &c->su;
    const struct kw_su_params *p = c->p;
    int was_enabled, narrowed = 0;
    enum kw_err err = kw_store_service_user_get(tx, c->id, u);

    kw_cred_batch_reset(&c->batch);
    if (err != KW_OK)
        return err;
    snprintf(w->service_id, sizeof(w->service_id), "%s", u->service_id);
    was_enabled = u->enabled;
    if (p != NULL && p->set_name)
        snprintf(u->name, sizeof(u->name), "%s", p->name);
    if (p != NULL && p->set_perms) {
        uint32_t np = (p->perms | KW_PERM_CANDIDATES_READ) & KW_PERM_ALL;
        narrowed = (np & u->perms) != u->perms;
        u->perms = np;
    }
    if (p != NULL && p->set_enabled)
        u->enabled = p->enabled != 0;
    u->updated_at = kw_time_now_ms();
    if (c->reset_secret) {
        err = new_secret(u, c->secret);
        u->client_secret_set_at = u->updated_at;
    }
    if (err == KW_OK)
        err = kw_store_version_next(tx, &u->version);
    if (err == KW_OK)
        err = kw_store_service_user_update(tx, u);
    if (err == KW_OK && c->reset_secret)
        err = client_secret_drop(tx, u, u->version, &c->batch);
    if (err == KW_OK && c->reset_secret)
        err = client_secret_row(tx, u, c->secret, c->actor, &c->batch);
    if (err == KW_OK && (narrowed || (p != NULL && p->set_perms)))
        err = narrow_credentials(tx, u, u->version);
    if (err == KW_OK && was_enabled != u->enabled)
        err = cascade_enabled(tx, c, u->version);
    if (err == KW_OK && (was_enabled != u->enabled || (p != NULL && p->set_perms)))
        err = kw_cred_batch_owner(&c->batch, tx, u->service_id, u->id, 0, u->version);
    if (was_enabled != u->enabled)
        snprintf(w->detail, sizeof(w->detail), "{\"enabled\":%s}", u->enabled ? "true" : "false");
    return err;
}

static enum kw_err modify(struct kw_app *app, const struct kw_actor *actor, const char *id,
                          const struct kw_su_params *p, char *secret, struct kw_service_user *out)
{
    struct modify_ctx c;
    struct kw_write w;
    enum kw_err err;

    memset(&c, 0, sizeof(c));
    c.id = id;
    c.p = p;
    c.actor = actor;
    c.reset_secret = secret != NULL;
    c.secret = secret;
    kw_write_init(&w, actor, secret != NULL ? "service_user.reset_secret" : "service_user.update", "service_user",
                  id, NULL);
    err = kw_domain_write(app, &w, modify_body, &c);
    if (err == KW_OK) {
        kw_cred_batch_apply(&c.batch, app);
        *out = c.su;
    } else if (secret != NULL) {
        memset(secret, 0, KW_KEYFMT_MAX);
    }
    kw_cred_batch_free(&c.batch);
    return err;
}

enum kw_err kw_service_users_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                                    const struct kw_su_params *p, struct kw_service_user *out)
{
    return modify(app, actor, id, p, NULL, out);
}

enum kw_err kw_service_users_reset_secret(struct kw_app *app, const struct kw_actor *actor, const char *id,
                                          struct kw_service_user *out, char secret[KW_KEYFMT_MAX])
{
    return modify(app, actor, id, NULL, secret, out);
}

/* ---- delete ---- */

struct delete_ctx {
    const struct kw_actor *actor;
    struct kw_cred_batch batch;
};

static enum kw_err delete_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct delete_ctx *c = ctx;
    struct kw_service_user u;
    struct kw_key ban;
    char what[8 + KW_ID_MAX];
    int64_t v = 0;
    enum kw_err err = kw_store_service_user_get(tx, w->target_id, &u);

    kw_cred_batch_reset(&c->batch);
    if (err == KW_OK)
        err = kw_store_version_next(tx, &v);
    if (err != KW_OK)
        return err;
    snprintf(w->service_id, sizeof(w->service_id), "%s", u.service_id);
    snprintf(what, sizeof(what), "su:%s", u.id);
    err = kw_cred_batch_owner(&c->batch, tx, u.service_id, u.id, 1, v);
    if (err == KW_OK)
        err = kw_store_key_delete_owner(tx, u.id, v);
    if (err == KW_OK)
        err = kw_ban_put(tx, u.service_id, what, kw_time_now_ms() + KW_BAN_TTL_MS, v, c->actor->id, &ban);
    if (err == KW_OK)
        err = kw_cred_batch_add(&c->batch, &ban, 0);
    if (err == KW_OK)
        err = kw_store_service_user_delete(tx, u.id);
    return err;
}

enum kw_err kw_service_users_delete(struct kw_app *app, const struct kw_actor *actor, const char *id)
{
    struct delete_ctx c;
    struct kw_write w;
    enum kw_err err;

    memset(&c, 0, sizeof(c));
    c.actor = actor;
    kw_write_init(&w, actor, "service_user.delete", "service_user", id, NULL);
    err = kw_domain_write(app, &w, delete_body, &c);
    if (err == KW_OK)
        kw_cred_batch_apply(&c.batch, app);
    kw_cred_batch_free(&c.batch);
    return err;
}

/* ---- OAuth client authentication ---- */

enum kw_err kw_service_users_authenticate_client(struct kw_app *app, const char *client_id, const char *secret,
                                                 size_t secret_len, struct kw_service_user *out)
{
    struct kw_verify_result vr;
    uint8_t hash[KW_HASH_LEN];

    memset(out, 0, sizeof(*out));
    if (client_id == NULL || !kw_id_valid(client_id, "su") || secret == NULL ||
        kw_keyfmt_check(secret, secret_len) != KW_OK ||
        strncmp(secret, KW_CLIENT_SECRET_PREFIX "_", sizeof(KW_CLIENT_SECRET_PREFIX)) != 0)
        return KW_ERR_UNAUTHORIZED;
    if (kw_crypto_sha256(secret, secret_len, hash) != KW_OK)
        return KW_ERR_INTERNAL;
    /* The key cache, never the store: looked up by the secret's hash (as API keys are), so a wrong
     * secret is simply not found; the row must also belong to this client and be live. */
    kw_keycache_client_secret(app->keys, hash, kw_time_now_ms(), &vr);
    if (vr.code != KW_VERIFY_VALID || strcmp(vr.service_user_id, client_id) != 0)
        return KW_ERR_UNAUTHORIZED;
    snprintf(out->id, sizeof(out->id), "%s", vr.service_user_id);
    snprintf(out->service_id, sizeof(out->service_id), "%s", vr.service_id);
    memcpy(out->client_secret_hash, hash, KW_HASH_LEN);
    out->perms = vr.perms;
    out->enabled = 1;
    return KW_OK;
}
