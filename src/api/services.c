/* services.c - /api/v1/services handlers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "domain/keyfmt.h"
#include "domain/people_read.h"
#include "domain/services.h"

static const char *const service_fields[] = {"name", "description", "keyPrefix", NULL};

/* Reads the body into p; 1 ok, 0 after answering. name_required for create. */
static int read_params(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, int name_required,
                       struct kw_service_params *p)
{
    int r;

    if ((r = kw_api_str(c, res, b, "name", 1, KW_NAME_MAX - 1, &p->name)) < 0)
        return 0;
    if (r == 0 && name_required) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"name\" is required (1 to 100 bytes).", "name");
        return 0;
    }
    if (r > 0 && !kw_services_text_valid(p->name)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", KW_API_NO_CONTROLS("name"), "name");
        return 0;
    }
    if ((r = kw_api_str(c, res, b, "description", 0, KW_DESC_MAX - 1, &p->description)) < 0)
        return 0;
    if (r > 0 && !kw_services_text_valid(p->description)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", KW_API_NO_CONTROLS("description"), "description");
        return 0;
    }
    if ((r = kw_api_str(c, res, b, "keyPrefix", 1, KW_KEYFMT_PREFIX_MAX, &p->key_prefix)) < 0)
        return 0;
    if (r > 0 && !kw_keyfmt_prefix_valid(p->key_prefix)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"keyPrefix\" must match ^[a-z][a-z0-9]{0,15}$ (a letter, then up to 15 "
                    "lowercase letters or digits).",
                    "keyPrefix");
        return 0;
    }
    return 1;
}

void kw_api_services_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_service_params p = {NULL, NULL, NULL};
    struct kw_service s;
    json_t *b = kw_api_body(c, res, service_fields, 0);
    enum kw_err err;

    if (b == NULL)
        return;
    if (!read_params(c, res, b, 1, &p))
        goto out;
    err = kw_services_create(c->app, &c->actor, &p, &s);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        goto out;
    }
    kw_api_header(res, "Location", "/api/v1/services/%s", s.id);
    kw_api_json(res, 201, kw_api_service_json(&s));
out:
    json_decref(b);
}

static json_t *render_service(const void *item, int64_t now_ms)
{
    return kw_api_service_json(item);
}

void kw_api_services_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    size_t limit, n = 0;
    int64_t after;
    struct kw_service *items;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &after))
        return;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "service", NULL, NULL);
        return;
    }
    /* A person who is not a sysadmin sees the services they are a member of. */
    err = kw_auth_is_admin(&c->principal) ? kw_services_list(c->app, after, items, limit + 1, &n)
                                           : kw_services_list_for(c->app, c->principal.id, after, items, limit + 1, &n);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        goto out;
    }
    kw_api_page_reply(res, items, sizeof(*items), n, limit, render_service, 0);
out:
    free(items);
}

void kw_api_services_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_service s;
    enum kw_err err = kw_services_get(c->app, c->params[0], &s);

    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        return;
    }
    kw_api_json(res, 200, kw_api_service_json(&s));
}

void kw_api_services_update(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_service_params p = {NULL, NULL, NULL};
    struct kw_service s;
    json_t *b = kw_api_body(c, res, service_fields, 0);
    enum kw_err err;

    if (b == NULL)
        return;
    if (!read_params(c, res, b, 0, &p))
        goto out;
    err = kw_services_update(c->app, &c->actor, c->params[0], &p, &s);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        goto out;
    }
    kw_api_json(res, 200, kw_api_service_json(&s));
out:
    json_decref(b);
}

void kw_api_services_delete(struct kw_api_ctx *c, struct kw_api_res *res)
{
    char force[8] = "";
    int r = kw_api_query(c->req, "force", force, sizeof(force));
    enum kw_err err;

    if (r < 0 || (r > 0 && strcmp(force, "true") != 0 && strcmp(force, "false") != 0)) {
        kw_api_fail(c, res, 400, "INVALID_QUERY", "force must be true or false.", "force");
        return;
    }
    err = kw_services_delete(c->app, &c->actor, c->params[0], r > 0 && strcmp(force, "true") == 0);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", "SERVICE_HAS_LIVE_KEYS",
                        kw_api_conflict_detail("SERVICE_HAS_LIVE_KEYS"));
        return;
    }
    kw_api_json(res, 204, NULL);
}
