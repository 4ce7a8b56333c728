/* keys.c - /api/v1/services/{serviceId}/keys and /api/v1/keys/{keyId} handlers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "domain/keys.h"
#include "domain/services.h"

#define KW_MAX_PERMS_IN_REQUEST 8

static const char *const create_fields[] = {"description", "scope", "permissions",
                                            "archiveAfterExtractSeconds", "expiresAt", "requireEncryption", NULL};
static const char *const update_fields[] = {"description", "scope", "permissions", "archiveAfterExtractSeconds",
                                            "expiresAt", "enabled", "requireEncryption", NULL};
static const char *const roll_fields[] = {"expireOldAfterSeconds", NULL};

static int read_perms(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, struct kw_key_params *p)
{
    json_t *a = json_object_get(b, "permissions"), *v;
    size_t i;
    uint32_t bit;

    if (a == NULL)
        return 1;
    if (!json_is_array(a) || json_array_size(a) > KW_MAX_PERMS_IN_REQUEST)
        goto bad;
    p->set_perms = 1;
    p->perms = 0;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || kw_api_perm_parse(json_string_value(v), &bit) != 0)
            goto bad;
        p->perms |= bit;
    }
    return 1;
bad:
    kw_api_fail(c, res, 400, "INVALID_FIELD",
                "Field \"permissions\" must be an array of at most 8 of: candidates:read, candidates:archive, "
                "documents:write, documents:read, keys:verify.",
                "permissions");
    return 0;
}

/* Reads every key setting from b into p; 1 ok, 0 after answering. */
static int read_params(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, int creating,
                       struct kw_key_params *p)
{
    const char *scope = NULL;
    int r, is_null = 0;

    memset(p, 0, sizeof(*p));
    if ((r = kw_api_str(c, res, b, "description", 0, KW_KEY_DESC_MAX - 1, &p->description)) < 0)
        return 0;
    p->set_description = r;
    if (r > 0 && !kw_services_text_valid(p->description)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", KW_API_NO_CONTROLS("description"), "description");
        return 0;
    }
    if ((r = kw_api_str(c, res, b, "scope", 1, 32, &scope)) < 0)
        return 0;
    if ((r == 0 && creating) || (r > 0 && (p->scope = kw_api_scope_parse(scope)) < 0)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"scope\" must be one of metadata, attributes, attributes_pictures.", "scope");
        return 0;
    }
    p->set_scope = r;
    if (!read_perms(c, res, b, p))
        return 0;
    r = kw_api_int(c, res, b, "archiveAfterExtractSeconds", 0, KW_ARCHIVE_MAX_S, 1, &p->archive_after_extract_s,
                   &is_null);
    if (r < 0)
        return 0;
    p->set_archive = r;
    if (is_null)
        p->archive_after_extract_s = -1;
    if ((r = kw_api_time(c, res, b, "expiresAt", &p->expires_at)) < 0)
        return 0;
    if (r > 0 && p->expires_at != 0 && p->expires_at <= c->req->now_ms) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"expiresAt\" must be in the future.", "expiresAt");
        return 0;
    }
    p->set_expires = r;
    if ((r = kw_api_bool(c, res, b, "enabled", &p->enabled)) < 0)
        return 0;
    p->set_enabled = r;
    if ((r = kw_api_bool(c, res, b, "requireEncryption", &p->require_encryption)) < 0)
        return 0;
    p->set_require_encryption = r;
    return 1;
}

/* 201 with the key and its secret, which no later response carries. */
static void created(struct kw_api_ctx *c, struct kw_api_res *res, const struct kw_key *k, char *secret)
{
    json_t *o = kw_api_key_json(k, c->req->now_ms);

    if (o != NULL)
        json_object_set_new(o, "key", json_string(secret));
    memset(secret, 0, KW_KEYFMT_MAX);
    kw_api_header(res, "Location", "/api/v1/keys/%s", k->id);
    kw_api_json(res, 201, o);
}

void kw_api_keys_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_key_params p;
    struct kw_key k;
    char secret[KW_KEYFMT_MAX];
    json_t *b = kw_api_body(c, res, create_fields, 0);
    enum kw_err err;

    if (b == NULL)
        return;
    if (!read_params(c, res, b, 1, &p))
        goto out;
    err = kw_keys_create(c->app, &c->actor, c->params[0], &p, &k, secret);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        goto out;
    }
    created(c, res, &k, secret);
out:
    json_decref(b);
}

static json_t *render_key(const void *item, int64_t now_ms)
{
    return kw_api_key_json(item, now_ms);
}

void kw_api_keys_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    size_t limit, n = 0;
    int64_t after;
    struct kw_key *items;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &after))
        return;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "key", NULL, NULL);
        return;
    }
    err = kw_keys_list(c->app, c->params[0], after, items, limit + 1, &n);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        goto out;
    }
    kw_api_page_reply(res, items, sizeof(*items), n, limit, render_key, c->req->now_ms);
out:
    free(items);
}

void kw_api_keys_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_key k;
    enum kw_err err = kw_keys_get(c->app, c->params[0], &k);

    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "key", NULL, NULL);
        return;
    }
    kw_api_json(res, 200, kw_api_key_json(&k, c->req->now_ms));
}

void kw_api_keys_update(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_key_params p;
    struct kw_key k;
    const char *why = NULL;
    json_t *b = kw_api_body(c, res, update_fields, 0);
    enum kw_err err;

    if (b == NULL)
        return;
    if (!read_params(c, res, b, 0, &p))
        goto out;
    err = kw_keys_update(c->app, &c->actor, c->params[0], &p, &k, &why);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "key", why, kw_api_conflict_detail(why));
        goto out;
    }
    kw_api_json(res, 200, kw_api_key_json(&k, c->req->now_ms));
out:
    json_decref(b);
}

void kw_api_keys_revoke(struct kw_api_ctx *c, struct kw_api_res *res)
{
    static const char *const none[] = {NULL};
    struct kw_key k;
    json_t *b = kw_api_body(c, res, none, 1);
    enum kw_err err;

    if (b == NULL)
        return;
    json_decref(b);
    err = kw_keys_revoke(c->app, &c->actor, c->params[0], &k);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "key", NULL, NULL);
        return;
    }
    kw_api_json(res, 200, kw_api_key_json(&k, c->req->now_ms));
}

void kw_api_keys_roll(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_key k;
    char secret[KW_KEYFMT_MAX];
    const char *why = NULL;
    int64_t grace = 0;
    json_t *b = kw_api_body(c, res, roll_fields, 1);
    enum kw_err err;

    if (b == NULL)
        return;
    if (kw_api_int(c, res, b, "expireOldAfterSeconds", 0, KW_ROLL_GRACE_MAX_S, 0, &grace, NULL) < 0)
        goto out;
    err = kw_keys_roll(c->app, &c->actor, c->params[0], grace, &k, secret, &why);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "key", why, kw_api_conflict_detail(why));
        goto out;
    }
    created(c, res, &k, secret);
out:
    json_decref(b);
}

void kw_api_keys_delete(struct kw_api_ctx *c, struct kw_api_res *res)
{
    enum kw_err err = kw_keys_delete(c->app, &c->actor, c->params[0]);

    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "key", NULL, NULL);
        return;
    }
    kw_api_json(res, 204, NULL);
}
