/* members.c - /api/v1/services/{serviceId}/members and .../usage handlers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/timeutil.h"
#include "domain/accounts.h"
#include "domain/people_read.h"
#include "domain/services.h"
#include "domain/usage.h"

static json_t *member_json(const struct kw_member *m)
{
    return json_pack("{s:s, s:s, s:o}", "username", m->username, "role", m->role, "createdAt",
                     kw_api_time_json(m->created_at));
}

static int read_member_role(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, const char **role)
{
    int r = kw_api_str(c, res, b, "role", 1, 15, role);

    if (r < 0)
        return 0;
    if (r == 0 || !kw_accounts_member_role_valid(*role)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"role\" must be admin, operator or viewer.", "role");
        return 0;
    }
    return 1;
}

static const char *const add_fields[] = {"username", "role", NULL};
static const char *const update_fields[] = {"role", NULL};

void kw_api_members_add(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *username = NULL, *role = NULL;
    struct kw_member m;
    struct kw_service s;
    json_t *b = kw_api_body(c, res, add_fields, 0);
    enum kw_err err;
    int r;

    if (b == NULL)
        return;
    if ((r = kw_api_str(c, res, b, "username", 1, KW_USERNAME_MAX - 1, &username)) <= 0) {
        if (r == 0)
            kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"username\" is required.", "username");
        goto out;
    }
    if (!read_member_role(c, res, b, &role))
        goto out;
    /* The service first: a missing one is 404 like .../keys, not the store's foreign-key failure. */
    if ((err = kw_services_get(c->app, c->params[0], &s)) != KW_OK) {
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        goto out;
    }
    err = kw_accounts_member_add(c->app, &c->actor, c->params[0], username, role, &m);
    if (err == KW_ERR_NOT_FOUND)
        kw_api_fail(c, res, 404, "NOT_FOUND", "No such user: create the user first (POST /api/v1/users).",
                    "username");
    else if (err == KW_ERR_EXISTS)
        kw_api_fail(c, res, 409, "MEMBER_EXISTS", "That user is already a member; change their role instead.",
                    "username");
    else if (err != KW_OK)
        kw_api_fail_err(c, res, err, "user", NULL, NULL);
    else
        kw_api_json(res, 201, member_json(&m));
out:
    json_decref(b);
}

static json_t *render_member(const void *item, int64_t now_ms)
{
    return member_json(item);
}

void kw_api_members_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    size_t limit, n = 0;
    int64_t after;
    struct kw_member *items;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &after))
        return;
    items = calloc(limit + 1, sizeof(*items));
    err = items == NULL ? KW_ERR_NOMEM : kw_people_member_list(c->app, c->params[0], after, items, limit + 1, &n);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        free(items);
        return;
    }
    kw_api_page_reply(res, items, sizeof(*items), n, limit, render_member, 0);
    free(items);
}

void kw_api_members_update(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *role = NULL;
    struct kw_member m;
    json_t *b = kw_api_body(c, res, update_fields, 0);
    enum kw_err err;

    if (b == NULL)
        return;
    if (!read_member_role(c, res, b, &role))
        goto out;
    err = kw_accounts_member_update(c->app, &c->actor, c->params[0], c->params[1], role, &m);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "member", NULL, NULL);
    else
        kw_api_json(res, 200, member_json(&m));
out:
    json_decref(b);
}

void kw_api_members_remove(struct kw_api_ctx *c, struct kw_api_res *res)
{
    enum kw_err err = kw_accounts_member_remove(c->app, &c->actor, c->params[0], c->params[1]);

    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "member", NULL, NULL);
    else
        kw_api_json(res, 204, NULL);
}

#define USAGE_MAX_HOURS 168
#define USAGE_MAX_POINTS 20000 /* keys x hours; more keys than that are cut from the chart */

/* Adds a point into the per-key hourly series (creating the key's entry on first sight). */
static void add_point(json_t *keys, const struct kw_usage_point *p, int64_t from, int hours, int64_t *tv, int64_t *td)
{
    json_t *k = json_object_get(keys, p->key_id), *pts;
    int64_t bucket = (p->minute - from) / 3600000;

    if (bucket < 0 || bucket >= hours)
        return;
    if (k == NULL) {
        int h;
        pts = json_array();
        for (h = 0; h < hours; h++)
            json_array_append_new(pts, json_pack("{s:o, s:I, s:I}", "t", kw_api_time_json(from + h * 3600000LL),
                                                 "valid", (json_int_t)0, "denied", (json_int_t)0));
        k = json_pack("{s:s, s:o, s:o, s:I, s:I, s:o}", "keyId", p->key_id, "start",
                      p->start[0] ? json_string(p->start) : json_null(), "description",
                      p->start[0] ? json_string(p->description) : json_null(), "valid", (json_int_t)0, "denied",
                      (json_int_t)0, "points", pts);
        json_object_set_new(keys, p->key_id, k);
    }
    pts = json_array_get(json_object_get(k, "points"), (size_t)bucket);
    json_object_set_new(pts, "valid", json_integer(json_integer_value(json_object_get(pts, "valid")) + p->valid));
    json_object_set_new(pts, "denied", json_integer(json_integer_value(json_object_get(pts, "denied")) + p->denied));
    json_object_set_new(k, "valid", json_integer(json_integer_value(json_object_get(k, "valid")) + p->valid));
    json_object_set_new(k, "denied", json_integer(json_integer_value(json_object_get(k, "denied")) + p->denied));
    *tv += p->valid;
    *td += p->denied;
}

void kw_api_usage(struct kw_api_ctx *c, struct kw_api_res *res)
{
    char v[16], *end;
    long hours = 24;
    int r = kw_api_query(c->req, "hours", v, sizeof(v));
    int64_t to = (c->req->now_ms / 3600000 + 1) * 3600000, from, tv = 0, td = 0;
    struct kw_usage_point *pts;
    size_t n = 0, i;
    json_t *keys, *arr, *val;
    const char *kid;
    enum kw_err err;

    if (r != 0 && (r < 0 || (hours = strtol(v, &end, 10)) < 1 || hours > USAGE_MAX_HOURS || *end != '\0')) {
        kw_api_fail(c, res, 400, "INVALID_QUERY", "hours must be an integer in 1..168.", "hours");
        return;
    }
    from = to - hours * 3600000LL;
    pts = calloc(USAGE_MAX_POINTS, sizeof(*pts));
    err = pts == NULL ? KW_ERR_NOMEM : kw_usage_list(c->app, c->params[0], from, pts, USAGE_MAX_POINTS, &n);
    if (err != KW_OK) {
        free(pts);
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
        return;
    }
    keys = json_object();
    for (i = 0; i < n; i++)
        add_point(keys, &pts[i], from, (int)hours, &tv, &td);
    free(pts);
    arr = json_array();
    json_object_foreach(keys, kid, val)
        json_array_append(arr, val);
    json_decref(keys);
    kw_api_json(res, 200,
                json_pack("{s:s, s:o, s:o, s:i, s:{s:I, s:I}, s:o}", "serviceId", c->params[0], "from",
                          kw_api_time_json(from), "to", kw_api_time_json(to), "bucketSeconds", 3600, "totals", "valid",
                          (json_int_t)tv, "denied", (json_int_t)td, "keys", arr));
}
