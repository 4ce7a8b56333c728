/* audit.c - GET /api/v1/audit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/audit.h"
#include "domain/audit_query.h"

static json_t *ref_json(const char *type, const char *id)
{
    if (id[0] == '\0')
        return json_null();
    return json_pack("{s:s, s:s}", "type", type[0] ? type : "unknown", "id", id);
}

/* Renders a stored event; its strings are made valid UTF-8 first (the chain keeps the stored bytes),
 * so json_pack cannot fail on them and no stored event drops out of a list. */
json_t *kw_api_audit_event_json(const struct kw_audit_event *stored)
{
    char hash[2 * KW_HASH_LEN + 1], prev[2 * KW_HASH_LEN + 1];
    struct kw_audit_event v;
    const struct kw_audit_event *e = &v;
    json_t *detail;

    kw_audit_event_printable(stored, &v);
    detail = e->detail[0] ? json_loads(e->detail, 0, NULL) : NULL;

    kw_crypto_hex(e->hash, KW_HASH_LEN, hash);
    kw_crypto_hex(e->prev_hash, KW_HASH_LEN, prev);
    return json_pack("{s:s, s:I, s:o, s:o, s:s, s:o, s:o, s:s, s:s, s:s, s:o, s:s, s:s}", "id", e->id, "seq",
                     (json_int_t)e->seq, "time", kw_api_time_json(e->time), "actor",
                     ref_json(e->actor_type, e->actor_id), "action", e->action, "target",
                     ref_json(e->target_type, e->target_id), "serviceId",
                     e->service_id[0] ? json_string(e->service_id) : json_null(), "outcome", e->outcome, "ip",
                     e->ip, "requestId", e->request_id, "detail", detail ? detail : json_null(), "hash", hash,
                     "prevHash", prev);
}

static json_t *render_event(const void *item, int64_t now_ms)
{
    return kw_api_audit_event_json(item);
}

/* Reads an RFC 3339 query parameter; 1 ok (or absent), 0 after answering. */
static int query_time(struct kw_api_ctx *c, struct kw_api_res *res, const char *name, int64_t *out)
{
    char v[64], detail[96];
    int r = kw_api_query(c->req, name, v, sizeof(v));

    if (r == 0)
        return 1;
    if (r > 0 && kw_time_parse(v, out) == KW_OK)
        return 1;
    snprintf(detail, sizeof(detail), "%s must be an RFC 3339 time such as 2026-01-31T12:00:00Z.", name);
    kw_api_fail(c, res, 400, "INVALID_QUERY", detail, name);
    return 0;
}

int kw_api_audit_filter(struct kw_api_ctx *c, struct kw_api_res *res, struct kw_api_audit_query *q)
{
    struct kw_audit_filter *f = &q->f;

    memset(q, 0, sizeof(*q));
    if (!query_time(c, res, "since", &f->since) || !query_time(c, res, "until", &f->until))
        return 0;
    if (kw_api_query(c->req, "actor", q->actor, sizeof(q->actor)) < 0 ||
        kw_api_query(c->req, "action", q->action, sizeof(q->action)) < 0 ||
        kw_api_query(c->req, "target", q->target, sizeof(q->target)) < 0 ||
        kw_api_query(c->req, "serviceId", q->service, sizeof(q->service)) < 0) {
        kw_api_fail(c, res, 400, "INVALID_QUERY", "A filter is malformed or too long (at most 63 bytes).", NULL);
        return 0;
    }
    f->actor_id = q->actor[0] != '\0' ? q->actor : NULL;
    f->action = q->action[0] != '\0' ? q->action : NULL;
    f->target_id = q->target[0] != '\0' ? q->target : NULL;
    f->service_id = q->service[0] != '\0' ? q->service : NULL;
    if (!kw_auth_is_admin(&c->principal)) {
        char role[16] = "";
        if (f->service_id == NULL) {
            kw_api_fail(c, res, 403, "FORBIDDEN", "Only a System Administrator reads the whole audit trail; "
                                                  "add serviceId= for a service you are a member of.", "serviceId");
            return 0;
        }
        if (kw_auth_service_role(c->app, &c->principal, f->service_id, role) != KW_OK || role[0] == '\0') {
            kw_api_fail(c, res, 404, "NOT_FOUND", "No such service (or you are not a member of it).", "serviceId");
            return 0;
        }
    }
    return 1;
}

void kw_api_audit_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_api_audit_query q;
    struct kw_audit_event *items = NULL;
    size_t limit, n = 0;
    int64_t before;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &before) || !kw_api_audit_filter(c, res, &q))
        return;
    q.f.before_seq = before;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "event", NULL, NULL);
        return;
    }
    err = kw_audit_query_list(c->app, &q.f, items, limit + 1, &n);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "event", NULL, NULL);
        goto out;
    }
    kw_api_page_reply(res, items, sizeof(*items), n, limit, render_event, 0);
out:
    free(items);
}
