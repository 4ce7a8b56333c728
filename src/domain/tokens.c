/* tokens.c - a service user's minted bearer tokens (kwt_..., rows of keys with kind "token"); see
 * service_users.h. */
#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/commit_internal.h"
#include "domain/service_users.h"
#include "store/store.h"

const char *kw_tokens_status(const struct kw_key *t, int64_t now_ms)
{
    if (t->revoked_at != 0)
        return "revoked";
    if (t->expires_at != 0 && now_ms >= t->expires_at)
        return "expired";
    if (!t->enabled || !t->owner_enabled)
        return "disabled";
    return "active";
}

static enum kw_err token_get(struct kw_tx *tx, const char *id, struct kw_key *out)
{
    enum kw_err err = kw_store_key_get(tx, id, out);

    return err == KW_OK && strcmp(out->kind, "token") != 0 ? KW_ERR_NOT_FOUND : err;
}

struct mint_ctx {
    const char *su_id;
    const struct kw_token_params *p;
    const struct kw_actor *actor;
    struct kw_key key;
    char *secret;
};

static enum kw_err mint_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct mint_ctx *c = ctx;
    struct kw_service_user u;
    struct kw_key *k = &c->key;
    uint32_t perms;
    enum kw_err err = kw_store_service_user_get(tx, c->su_id, &u);

    if (err != KW_OK)
        return err;
    snprintf(w->service_id, sizeof(w->service_id), "%s", u.service_id);
    perms = ((c->p->set_perms ? c->p->perms : u.perms) | KW_PERM_CANDIDATES_READ) & KW_PERM_ALL;
    if ((perms & ~u.perms) != 0) {
        w->conflict = "PERMISSION_NOT_HELD";
        return KW_ERR_CONFLICT;
    }
    if (!u.enabled) {
        w->conflict = "SERVICE_USER_DISABLED";
        return KW_ERR_CONFLICT;
    }
    memset(k, 0, sizeof(*k));
    err = kw_id_new("tok", k->id);
    if (err == KW_OK)
        err = kw_keyfmt_generate(KW_TOKEN_PREFIX, c->secret);
    if (err == KW_OK)
        err = kw_crypto_sha256(c->secret, strlen(c->secret), k->hash);
    if (err == KW_OK)
        err = kw_store_version_next(tx, &k->version);
    if (err != KW_OK)
        return err;
    memcpy(k->service_id, u.service_id, sizeof(k->service_id));
    memcpy(k->service_user_id, u.id, sizeof(k->service_user_id));
    snprintf(k->kind, sizeof(k->kind), "token");
    kw_keyfmt_start(c->secret, k->start, sizeof(k->start));
    snprintf(k->description, sizeof(k->description), "%s", c->p->label);
    k->scope = KW_SCOPE_METADATA;
    k->perms = perms;
    k->enabled = 1;
    k->owner_enabled = 1;
    k->archive_after_extract_s = -1;
    k->expires_at = c->p->expires_at;
    k->created_at = k->updated_at = kw_time_now_ms();
    snprintf(k->created_by, sizeof(k->created_by), "%s", c->actor->id ? c->actor->id : "");
    err = kw_store_key_insert(tx, k);
    snprintf(w->target_id, sizeof(w->target_id), "%s", k->id);
    snprintf(w->detail, sizeof(w->detail), "{\"serviceUserId\":\"%s\"}", u.id);
    return err;
}

enum kw_err kw_tokens_mint(struct kw_app *app, const struct kw_actor *actor, const char *service_user_id,
                           const struct kw_token_params *p, struct kw_key *out, char secret[KW_KEYFMT_MAX],
                           const char **conflict)
{
    struct mint_ctx c = {service_user_id, p, actor, {0}, secret};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor, "token.create", "token", NULL, NULL);
    err = kw_domain_write(app, &w, mint_body, &c);
    if (conflict != NULL)
        *conflict = w.conflict;
    if (err == KW_OK)
        err = kw_keycache_put(app->keys, &c.key);
    if (err == KW_OK)
        *out = c.key;
    else
        memset(secret, 0, KW_KEYFMT_MAX);
    return err;
}

static enum kw_err list_in(struct kw_tx *tx, const char *su_id, int64_t after, struct kw_key *items, size_t cap,
                           size_t *n)
{
    struct kw_service_user u;
    enum kw_err err = kw_store_service_user_get(tx, su_id, &u);

    return err == KW_OK ? kw_store_key_list_kind(tx, u.service_id, u.id, "token", after, items, cap, n) : err;
}

enum kw_err kw_tokens_list(struct kw_app *app, const char *service_user_id, int64_t after_seq, struct kw_key *items,
                           size_t cap, size_t *n)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, list_in(tx, service_user_id, after_seq, items, cap, n));
    return err;
}

enum kw_err kw_tokens_get(struct kw_app *app, const char *token_id, struct kw_key *out)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, token_get(tx, token_id, out));
    return err;
}

static enum kw_err revoke_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct kw_key *k = ctx;
    char id[KW_ID_MAX];
    enum kw_err err;

    memcpy(id, w->target_id, sizeof(id));
    err = token_get(tx, id, k);
    if (err != KW_OK)
        return err;
    snprintf(w->service_id, sizeof(w->service_id), "%s", k->service_id);
    snprintf(w->detail, sizeof(w->detail), "{\"serviceUserId\":\"%s\"}", k->service_user_id);
    k->updated_at = kw_time_now_ms();
    if (k->revoked_at == 0)
        k->revoked_at = k->updated_at;
    err = kw_store_version_next(tx, &k->version);
    return err == KW_OK ? kw_store_key_update(tx, k) : err;
}

enum kw_err kw_tokens_revoke(struct kw_app *app, const struct kw_actor *actor, const char *token_id,
                             struct kw_key *out)
{
    struct kw_key k;
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor, "token.revoke", "token", token_id, NULL);
    err = kw_domain_write(app, &w, revoke_body, &k);
    if (err == KW_OK)
        err = kw_keycache_put(app->keys, &k);
    if (err == KW_OK)
        *out = k;
    return err;
}
