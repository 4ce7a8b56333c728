/* access_keys.c - access keys (seed 004); see access_keys.h. */
#include "domain/access_keys.h"

#include <stdio.h>
#include <string.h>

#include "core/base62.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/bans.h"
#include "domain/commit_internal.h"
#include "domain/secrets.h"
#include "domain/service_users_internal.h"
#include "store/store.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int kw_access_keys_id_valid(const char *s)
{
    size_t i;

    if (strlen(s) != KW_ACCESS_KEY_ID_LEN || memcmp(s, "KWAK", 4) != 0)
        return 0;
    for (i = 4; i < KW_ACCESS_KEY_ID_LEN; i++)
        if (strchr(b32, s[i]) == NULL || s[i] == '\0')
            return 0;
    return 1;
}

const char *kw_access_keys_status(const struct kw_key *k)
{
    return k->enabled && k->owner_enabled && k->revoked_at == 0 ? "active" : "disabled";
}

/* "KWAK" + 16 base32 (80 random bits), and 40 base62 by rejection sampling (~238 bits). */
static enum kw_err generate(char id[KW_ID_MAX], char secret[KW_ACCESS_KEY_SECRET_LEN + 1])
{
    unsigned char r[64];
    size_t i, k = 0;

    if (kw_crypto_random(r, 16) != KW_OK)
        return KW_ERR_CRYPTO;
    memcpy(id, "KWAK", 4);
    for (i = 0; i < 16; i++)
        id[4 + i] = b32[r[i] & 31];
    id[KW_ACCESS_KEY_ID_LEN] = '\0';
    while (k < KW_ACCESS_KEY_SECRET_LEN) {
        if (kw_crypto_random(r, sizeof(r)) != KW_OK)
            return KW_ERR_CRYPTO;
        for (i = 0; i < sizeof(r) && k < KW_ACCESS_KEY_SECRET_LEN; i++)
            if ((r[i] & 63) < 62)
                secret[k++] = kw_base62_alphabet[r[i] & 63];
    }
    secret[KW_ACCESS_KEY_SECRET_LEN] = '\0';
    memset(r, 0, sizeof(r));
    return KW_OK;
}

/* Enabled keys of the owner other than except_id. */
static enum kw_err count_active(struct kw_tx *tx, const char *service_id, const char *su_id, const char *except_id,
                                int *count)
{
    struct kw_key page[8];
    size_t n = 0, i;
    int64_t after = 0;
    enum kw_err err;

    *count = 0;
    do {
        err = kw_store_key_list_kind(tx, service_id, su_id, "access_key", after, page, 8, &n);
        for (i = 0; err == KW_OK && i < n; i++) {
            *count += page[i].enabled && strcmp(page[i].id, except_id) != 0;
            after = page[i].seq;
        }
    } while (err == KW_OK && n == 8);
    memset(page, 0, sizeof(page));
    return err;
}

struct create_ctx {
    struct kw_app *app;
    const char *service_id, *su_id;
    const struct kw_actor *actor;
    struct kw_key key;
    char *secret;
};

static enum kw_err create_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct create_ctx *c = ctx;
    struct kw_service_user u;
    struct kw_key *k = &c->key;
    char what[3 + KW_ID_MAX];
    int active = 0;
    enum kw_err err = kw_store_service_user_get(tx, c->su_id, &u);

    if (err == KW_OK && strcmp(u.service_id, c->service_id) != 0)
        err = KW_ERR_NOT_FOUND;
    if (err == KW_OK)
        err = count_active(tx, u.service_id, u.id, "", &active);
    if (err != KW_OK)
        return err;
    if (!u.enabled || active >= KW_ACCESS_KEYS_MAX) {
        w->conflict = !u.enabled ? "SERVICE_USER_DISABLED" : "ACCESS_KEY_LIMIT";
        return KW_ERR_CONFLICT;
    }
    memset(k, 0, sizeof(*k));
    err = generate(k->id, c->secret);
    snprintf(what, sizeof(what), "ak:%s", k->id);
    if (err == KW_OK)
        err = kw_crypto_sha256(what, strlen(what), k->hash);
    if (err == KW_OK)
        err = kw_secrets_seal(c->app->secrets, (const uint8_t *)c->secret, KW_ACCESS_KEY_SECRET_LEN, k->sealed,
                              sizeof(k->sealed), &k->sealed_len);
    if (err == KW_OK)
        err = kw_store_version_next(tx, &k->version);
    if (err != KW_OK)
        return err;
    memcpy(k->service_id, u.service_id, sizeof(k->service_id));
    memcpy(k->service_user_id, u.id, sizeof(k->service_user_id));
    snprintf(k->kind, sizeof(k->kind), "access_key");
    snprintf(k->start, sizeof(k->start), "%.8s", k->id);
    k->perms = u.perms | KW_PERM_CANDIDATES_READ;
    k->enabled = k->owner_enabled = 1;
    k->archive_after_extract_s = -1;
    k->created_at = k->updated_at = kw_time_now_ms();
    snprintf(k->created_by, sizeof(k->created_by), "%s", c->actor->id ? c->actor->id : "");
    err = kw_store_key_insert(tx, k);
    snprintf(w->target_id, sizeof(w->target_id), "%s", k->id);
    snprintf(w->detail, sizeof(w->detail), "{\"serviceUserId\":\"%s\"}", u.id);
    return err;
}

enum kw_err kw_access_keys_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                                  const char *service_user_id, struct kw_key *out,
                                  char secret[KW_ACCESS_KEY_SECRET_LEN + 1], const char **conflict)
{
    struct create_ctx c = {app, service_id, service_user_id, actor, {0}, secret};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor, "access_key.create", "access_key", NULL, service_id);
    err = app->secrets == NULL ? KW_ERR_INTERNAL : kw_domain_write(app, &w, create_body, &c);
    if (conflict != NULL)
        *conflict = w.conflict;
    if (err == KW_OK)
        err = kw_keycache_put(app->keys, &c.key);
    if (err == KW_OK) {
        *out = c.key;
        memset(out->sealed, 0, sizeof(out->sealed));
        out->sealed_len = 0;
    } else {
        memset(secret, 0, KW_ACCESS_KEY_SECRET_LEN + 1);
    }
    memset(&c.key, 0, sizeof(c.key));
    return err;
}

static enum kw_err list_in(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_key *items,
                           size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err = kw_store_service_get(tx, service_id, &s);
    size_t i;

    if (err == KW_OK)
        err = kw_store_key_list_kind(tx, service_id, NULL, "access_key", after, items, cap, n);
    for (i = 0; err == KW_OK && i < *n; i++) { /* the sealed secret never leaves the domain */
        memset(items[i].sealed, 0, sizeof(items[i].sealed));
        items[i].sealed_len = 0;
    }
    return err;
}

enum kw_err kw_access_keys_list(struct kw_app *app, const char *service_id, int64_t after_seq, struct kw_key *items,
                                size_t cap, size_t *n)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, list_in(tx, service_id, after_seq, items, cap, n));
    return err;
}

static enum kw_err access_key_get(struct kw_tx *tx, const char *id, struct kw_key *out)
{
    enum kw_err err = kw_store_key_get(tx, id, out);

    return err == KW_OK && strcmp(out->kind, "access_key") != 0 ? KW_ERR_NOT_FOUND : err;
}

struct modify_ctx {
    int enabled, deleting;
    const struct kw_actor *actor;
    struct kw_key key;
    struct kw_cred_batch batch;
};

static enum kw_err modify_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct modify_ctx *c = ctx;
    struct kw_key *k = &c->key, ban;
    char what[8 + KW_ID_MAX];
    int active = 0, lifted = 0;
    enum kw_err err = access_key_get(tx, w->target_id, k);

    kw_cred_batch_reset(&c->batch);
    if (err != KW_OK)
        return err;
    snprintf(w->service_id, sizeof(w->service_id), "%s", k->service_id);
    snprintf(w->detail, sizeof(w->detail), "{\"serviceUserId\":\"%s\"}", k->service_user_id);
    snprintf(what, sizeof(what), "cred:%s", k->id);
    if (!c->deleting && c->enabled && !k->enabled) {
        err = count_active(tx, k->service_id, k->service_user_id, k->id, &active);
        if (err == KW_OK && active >= KW_ACCESS_KEYS_MAX) {
            w->conflict = "ACCESS_KEY_LIMIT";
            err = KW_ERR_CONFLICT;
        }
    }
    if (err == KW_OK)
        err = kw_store_version_next(tx, &k->version);
    if (err != KW_OK)
        return err;
    k->updated_at = kw_time_now_ms();
    if (c->deleting) {
        err = kw_store_key_delete(tx, k->id, k->version);
    } else {
        k->enabled = c->enabled != 0;
        err = kw_store_key_update(tx, k);
    }
    if (err == KW_OK)
        err = kw_cred_batch_add(&c->batch, k, c->deleting);
    if (err == KW_OK && (c->deleting || !k->enabled)) {
        err = kw_ban_put(tx, k->service_id, what, k->updated_at + KW_BAN_TTL_MS, k->version, c->actor->id, &ban);
        if (err == KW_OK)
            err = kw_cred_batch_add(&c->batch, &ban, 0);
    } else if (err == KW_OK) {
        err = kw_ban_lift(tx, what, k->version, &ban, &lifted);
        if (err == KW_OK && lifted)
            err = kw_cred_batch_add(&c->batch, &ban, 1);
    }
    return err;
}

static enum kw_err modify(struct kw_app *app, const struct kw_actor *actor, const char *id, int enabled,
                          int deleting, struct kw_key *out, const char **conflict)
{
    struct modify_ctx c;
    struct kw_write w;
    enum kw_err err;

    memset(&c, 0, sizeof(c));
    c.enabled = enabled;
    c.deleting = deleting;
    c.actor = actor;
    kw_write_init(&w, actor, deleting ? "access_key.delete" : "access_key.update", "access_key", id, NULL);
    err = kw_domain_write(app, &w, modify_body, &c);
    if (conflict != NULL)
        *conflict = w.conflict;
    if (err == KW_OK) {
        kw_cred_batch_apply(&c.batch, app);
        if (out != NULL) {
            *out = c.key;
            memset(out->sealed, 0, sizeof(out->sealed));
            out->sealed_len = 0;
        }
    }
    memset(&c.key, 0, sizeof(c.key));
    kw_cred_batch_free(&c.batch);
    return err;
}

enum kw_err kw_access_keys_set_enabled(struct kw_app *app, const struct kw_actor *actor, const char *id,
                                       int enabled, struct kw_key *out, const char **conflict)
{
    return modify(app, actor, id, enabled, 0, out, conflict);
}

enum kw_err kw_access_keys_delete(struct kw_app *app, const struct kw_actor *actor, const char *id)
{
    return modify(app, actor, id, 0, 1, NULL, NULL);
}
