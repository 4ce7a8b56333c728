/* access_keys.c - /api/v1/services/{serviceId}/access-keys and /api/v1/access-keys/{accessKeyId}
 * handlers (seed 004). The secret access key is in the create answer only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "domain/access_keys.h"

static const char *const create_fields[] = {"serviceUserId", NULL};
static const char *const update_fields[] = {"enabled", NULL};

json_t *kw_api_access_key_json(const struct kw_key *k)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:s, s:o, s:s, s:o}", "accessKeyId", k->id, "serviceUserId",
                     k->service_user_id, "serviceId", k->service_id, "enabled", k->enabled, "status",
                     kw_access_keys_status(k), "createdAt", kw_api_time_json(k->created_at), "createdBy",
                     k->created_by, "lastUsedAt", kw_api_time_json(k->last_used_at));
}

void kw_api_access_keys_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    char secret[KW_ACCESS_KEY_SECRET_LEN + 1];
    const char *su = NULL, *why = NULL;
    struct kw_key k;
    json_t *b = kw_api_body(c, res, create_fields, 0), *o;
    enum kw_err err;
    int r;

    if (b == NULL)
        return;
    if ((r = kw_api_str(c, res, b, "serviceUserId", 1, KW_ID_MAX - 1, &su)) < 0)
        goto out;
    if (r == 0 || !kw_id_valid(su, "su")) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"serviceUserId\" is required: a service user's id (su_...).",
                    "serviceUserId");
        goto out;
    }
    err = kw_access_keys_create(c->app, &c->actor, c->params[0], su, &k, secret, &why);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service or service user", why, kw_api_conflict_detail(why));
        goto out;
    }
    o = kw_api_access_key_json(&k);
    if (o != NULL)
        json_object_set_new(o, "secretAccessKey", json_string(secret));
    memset(secret, 0, sizeof(secret));
    kw_api_json(res, 201, o);
out:
    json_decref(b);
}

static json_t *render_ak(const void *item, int64_t now_ms)
{
    (void)now_ms;
    return kw_api_access_key_json(item);
}

void kw_api_access_keys_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_key *items;
    size_t limit, n = 0;
    int64_t after;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &after))
        return;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "access key", NULL, NULL);
        return;
    }
    err = kw_access_keys_list(c->app, c->params[0], after, items, limit + 1, &n);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
    else
        kw_api_page_reply(res, items, sizeof(*items), n, limit, render_ak, c->req->now_ms);
    free(items);
}

void kw_api_access_keys_update(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_key k;
    const char *why = NULL;
    json_t *b = kw_api_body(c, res, update_fields, 0);
    enum kw_err err;
    int enabled = 0, r;

    if (b == NULL)
        return;
    if ((r = kw_api_bool(c, res, b, "enabled", &enabled)) < 0)
        goto out;
    if (r == 0) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"enabled\" is required (true or false).", "enabled");
        goto out;
    }
    err = kw_access_keys_set_enabled(c->app, &c->actor, c->params[0], enabled, &k, &why);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "access key", why, kw_api_conflict_detail(why));
        goto out;
    }
    kw_api_json(res, 200, kw_api_access_key_json(&k));
out:
    json_decref(b);
}

void kw_api_access_keys_delete(struct kw_api_ctx *c, struct kw_api_res *res)
{
    enum kw_err err = kw_access_keys_delete(c->app, &c->actor, c->params[0]);

    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "access key", NULL, NULL);
        return;
    }
    kw_api_json(res, 204, NULL);
}
