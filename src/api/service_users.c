/* service_users.c - /api/v1/services/{serviceId}/service-users, /api/v1/service-users/{id} (+ /tokens,
 * /client-secret) and /api/v1/tokens/{tokenId}/revoke handlers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "domain/service_users.h"
#include "domain/services.h"

static const char *const create_fields[] = {"name", "sourceSystem", "permissions", "enabled", NULL};
static const char *const update_fields[] = {"name", "permissions", "enabled", NULL};
static const char *const token_fields[] = {"label", "expiresAt", "permissions", NULL};

/* "permissions": an array of permission names; 1 ok (absent or read, *set says which), 0 after answering. */
int kw_api_read_perms(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, int *set, uint32_t *perms)
{
    json_t *a = json_object_get(b, "permissions"), *v;
    uint32_t bit;
    size_t i;

    *set = 0;
    if (a == NULL)
        return 1;
    if (!json_is_array(a) || json_array_size(a) > 8)
        goto bad;
    *perms = 0;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || kw_api_perm_parse(json_string_value(v), &bit) != 0)
            goto bad;
        *perms |= bit;
    }
    *set = 1;
    return 1;
bad:
    kw_api_fail(c, res, 400, "INVALID_FIELD",
                "Field \"permissions\" must be an array of at most 8 of: candidates:read, candidates:archive, "
                "documents:write, documents:read, keys:verify.",
                "permissions");
    return 0;
}

json_t *kw_api_service_user_json(const struct kw_service_user *u)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:s, s:o, s:o, s:s, s:o}", "id", u->id, "serviceId",
                     u->service_id, "name", u->name, "sourceSystem", u->source_system, "permissions",
                     kw_api_perms_json(u->perms | KW_PERM_CANDIDATES_READ), "enabled", u->enabled, "clientId",
                     u->id, "createdAt", kw_api_time_json(u->created_at), "updatedAt",
                     kw_api_time_json(u->updated_at), "createdBy", u->created_by, "clientSecretSetAt",
                     kw_api_time_json(u->client_secret_set_at));
}

json_t *kw_api_token_json(const struct kw_key *k, int64_t now_ms)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:o, s:o, s:o, s:s}", "id", k->id, "serviceUserId",
                     k->service_user_id, "serviceId", k->service_id, "label", k->description, "permissions",
                     kw_api_perms_json(k->perms | KW_PERM_CANDIDATES_READ), "start", k->start, "createdAt",
                     kw_api_time_json(k->created_at), "createdBy", k->created_by, "expiresAt",
                     kw_api_time_json(k->expires_at), "lastUsedAt", kw_api_time_json(k->last_used_at), "revokedAt",
                     kw_api_time_json(k->revoked_at), "status", kw_tokens_status(k, now_ms));
}

static int read_su(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, int creating, struct kw_su_params *p)
{
    int r;

    memset(p, 0, sizeof(*p));
    if ((r = kw_api_str(c, res, b, "name", 1, KW_NAME_MAX - 1, &p->name)) < 0)
        return 0;
    if ((r == 0 && creating) || (r > 0 && !kw_services_text_valid(p->name))) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    r == 0 ? "Field \"name\" is required (1 to 100 bytes)." : KW_API_NO_CONTROLS("name"), "name");
        return 0;
    }
    p->set_name = r;
    if (creating) {
        if ((r = kw_api_str(c, res, b, "sourceSystem", 1, 64, &p->source_system)) < 0)
            return 0;
        if (r == 0 || !kw_service_users_source_valid(p->source_system)) {
            kw_api_fail(c, res, 400, "INVALID_FIELD",
                        "Field \"sourceSystem\" is required: ^[a-z][a-z0-9_]{1,31}$ (e.g. vkyc, doc_service).",
                        "sourceSystem");
            return 0;
        }
    }
    if (!kw_api_read_perms(c, res, b, &p->set_perms, &p->perms))
        return 0;
    if ((r = kw_api_bool(c, res, b, "enabled", &p->enabled)) < 0)
        return 0;
    p->set_enabled = r;
    return 1;
}

void kw_api_service_users_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_su_params p;
    struct kw_service_user u;
    char secret[KW_KEYFMT_MAX];
    const char *why = NULL;
    json_t *b = kw_api_body(c, res, create_fields, 0), *o;
    enum kw_err err;

    if (b == NULL)
        return;
    if (!read_su(c, res, b, 1, &p))
        goto out;
    err = kw_service_users_create(c->app, &c->actor, c->params[0], &p, &u, secret, &why);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", why, kw_api_conflict_detail(why));
        goto out;
    }
    o = kw_api_service_user_json(&u);
    if (o != NULL)
        json_object_set_new(o, "clientSecret", json_string(secret));
    memset(secret, 0, sizeof(secret));
    kw_api_header(res, "Location", "/api/v1/service-users/%s", u.id);
    kw_api_json(res, 201, o);
out:
    json_decref(b);
}

static json_t *render_su(const void *item, int64_t now_ms)
{
    (void)now_ms;
    return kw_api_service_user_json(item);
}

void kw_api_service_users_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_service_user *items;
    size_t limit, n = 0;
    int64_t after;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &after))
        return;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "service user", NULL, NULL);
        return;
    }
    err = kw_service_users_list(c->app, c->params[0], after, items, limit + 1, &n);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
    else
        kw_api_page_reply(res, items, sizeof(*items), n, limit, render_su, c->req->now_ms);
    free(items);
}

void kw_api_service_users_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_service_user u;
    enum kw_err err = kw_service_users_get(c->app, c->params[0], &u);

    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service user", NULL, NULL);
        return;
    }
    kw_api_json(res, 200, kw_api_service_user_json(&u));
}

void kw_api_service_users_update(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_su_params p;
    struct kw_service_user u;
    json_t *b = kw_api_body(c, res, update_fields, 0);
    enum kw_err err;

    if (b == NULL)
        return;
    if (!read_su(c, res, b, 0, &p))
        goto out;
    err = kw_service_users_update(c->app, &c->actor, c->params[0], &p, &u);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service user", NULL, NULL);
        goto out;
    }
    kw_api_json(res, 200, kw_api_service_user_json(&u));
out:
    json_decref(b);
}

void kw_api_service_users_delete(struct kw_api_ctx *c, struct kw_api_res *res)
{
    enum kw_err err = kw_service_users_delete(c->app, &c->actor, c->params[0]);

    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service user", NULL, NULL);
        return;
    }
    kw_api_json(res, 204, NULL);
}

void kw_api_service_users_reset_secret(struct kw_api_ctx *c, struct kw_api_res *res)
{
    static const char *const none[] = {NULL};
    struct kw_service_user u;
    char secret[KW_KEYFMT_MAX];
    json_t *b = kw_api_body(c, res, none, 1);
    enum kw_err err;

    if (b == NULL)
        return;
    json_decref(b);
    err = kw_service_users_reset_secret(c->app, &c->actor, c->params[0], &u, secret);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service user", NULL, NULL);
        return;
    }
    kw_api_json(res, 200, json_pack("{s:s, s:s}", "clientId", u.id, "clientSecret", secret));
    memset(secret, 0, sizeof(secret));
}

/* ---- tokens ---- */

void kw_api_tokens_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_token_params p;
    struct kw_key k;
    char secret[KW_KEYFMT_MAX];
    const char *why = NULL;
    json_t *b = kw_api_body(c, res, token_fields, 0), *o;
    enum kw_err err;
    int r;

    if (b == NULL)
        return;
    memset(&p, 0, sizeof(p));
    if ((r = kw_api_str(c, res, b, "label", 1, KW_TOKEN_LABEL_MAX, &p.label)) < 0)
        goto out;
    if (r == 0 || !kw_services_text_valid(p.label)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    r == 0 ? "Field \"label\" is required (1 to 100 bytes)." : KW_API_NO_CONTROLS("label"), "label");
        goto out;
    }
    if ((r = kw_api_time(c, res, b, "expiresAt", &p.expires_at)) < 0)
        goto out;
    if (r > 0 && p.expires_at != 0 && p.expires_at <= c->req->now_ms) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"expiresAt\" must be in the future.", "expiresAt");
        goto out;
    }
    if (!kw_api_read_perms(c, res, b, &p.set_perms, &p.perms))
        goto out;
    err = kw_tokens_mint(c->app, &c->actor, c->params[0], &p, &k, secret, &why);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service user", why, kw_api_conflict_detail(why));
        goto out;
    }
    o = kw_api_token_json(&k, c->req->now_ms);
    if (o != NULL)
        json_object_set_new(o, "token", json_string(secret));
    memset(secret, 0, sizeof(secret));
    kw_api_json(res, 201, o);
out:
    json_decref(b);
}

static json_t *render_token(const void *item, int64_t now_ms)
{
    return kw_api_token_json(item, now_ms);
}

void kw_api_tokens_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_key *items;
    size_t limit, n = 0;
    int64_t after;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &after))
        return;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "token", NULL, NULL);
        return;
    }
    err = kw_tokens_list(c->app, c->params[0], after, items, limit + 1, &n);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "service user", NULL, NULL);
    else
        kw_api_page_reply(res, items, sizeof(*items), n, limit, render_token, c->req->now_ms);
    free(items);
}

void kw_api_tokens_revoke(struct kw_api_ctx *c, struct kw_api_res *res)
{
    static const char *const none[] = {NULL};
    struct kw_key k;
    json_t *b = kw_api_body(c, res, none, 1);
    enum kw_err err;

    if (b == NULL)
        return;
    json_decref(b);
    err = kw_tokens_revoke(c->app, &c->actor, c->params[0], &k);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "token", NULL, NULL);
        return;
    }
    kw_api_json(res, 200, kw_api_token_json(&k, c->req->now_ms));
}
