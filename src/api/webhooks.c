/* webhooks.c - /api/v1/services/{serviceId}/webhooks, /api/v1/webhooks/{webhookId} (+ /rotate-secret,
 * /deliveries, /deliveries/{deliveryId}/retry) handlers (domain/webhooks.h). The router lets only root,
 * sysadmins and the service's admins in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "crypto/crypto.h"
#include "domain/services.h"
#include "domain/webhooks.h"

static const char *const create_fields[] = {"url", "events", "description", NULL};
static const char *const update_fields[] = {"url", "events", "description", "enabled", NULL};

json_t *kw_api_webhook_json(const struct kw_webhook *w)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s, s:b, s:o, s:o}", "id", w->id, "serviceId", w->service_id,
                          "url", w->url, "events", json_loads(w->events, 0, NULL), "description", w->description,
                          "enabled", w->enabled, "createdAt", kw_api_time_json(w->created_at), "updatedAt",
                          kw_api_time_json(w->updated_at));

    if (o != NULL && w->disabled_reason[0] != '\0')
        json_object_set_new(o, "disabledReason", json_string(w->disabled_reason));
    return o;
}

static json_t *delivery_json(const struct kw_webhook_delivery *d, const struct kw_webhook_attempt *log, size_t nlog)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "id", d->id, "eventType", d->event_type, "state",
                          d->state, "attempts", (json_int_t)d->attempts, "createdAt",
                          kw_api_time_json(d->created_at), "payload", json_loads(d->payload, 0, NULL));
    json_t *a = json_array();
    size_t i;

    if (o == NULL || a == NULL) {
        json_decref(o);
        json_decref(a);
        return NULL;
    }
    if (strcmp(d->state, "pending") == 0)
        json_object_set_new(o, "nextAttemptAt", kw_api_time_json(d->next_attempt_at));
    if (d->last_status != 0)
        json_object_set_new(o, "lastStatus", json_integer(d->last_status));
    if (d->last_error[0] != '\0')
        json_object_set_new(o, "lastError", json_string(d->last_error));
    for (i = 0; i < nlog; i++) {
        json_t *e = json_pack("{s:I, s:o, s:I}", "n", (json_int_t)log[i].n, "at", kw_api_time_json(log[i].at),
                              "durationMs", (json_int_t)log[i].duration_ms);
        if (e == NULL)
            continue;
        if (log[i].status != 0)
            json_object_set_new(e, "status", json_integer(log[i].status));
        if (log[i].error[0] != '\0')
            json_object_set_new(e, "error", json_string(log[i].error));
        json_array_append_new(a, e);
    }
    if (log != NULL)
        json_object_set_new(o, "attemptLog", a);
    else
        json_decref(a);
    return o;
}

/* "events": a non-empty array of known event types; 1 ok (absent or read), 0 after answering. */
static int read_events(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, int required,
                       struct kw_webhook_params *p)
{
    json_t *a = json_object_get(b, "events"), *v;
    char detail[400];
    size_t i;

    if (a == NULL && !required)
        return 1;
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 32) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"events\" is required: an array of at least one of document.ingested, "
                    "candidate.created, candidate.status_changed, candidate.archived, key.created, key.revoked, "
                    "key.rolled, key.deleted, token.revoked.",
                    "events");
        return 0;
    }
    p->events = 0;
    json_array_foreach(a, i, v)
    {
        uint32_t bit = kw_webhooks_event_bit(json_string_value(v));
        if (bit == 0) {
            const char *s = json_string_value(v);
            int plain = s != NULL && strlen(s) <= 64 && strcspn(s, "\"\\") == strlen(s);
            snprintf(detail, sizeof(detail),
                     "Unknown event type \"%s\" in \"events\"; known: document.ingested, candidate.created, "
                     "candidate.status_changed, candidate.archived, key.created, key.revoked, key.rolled, "
                     "key.deleted, token.revoked.",
                     plain ? s : "?");
            kw_api_fail(c, res, 400, "INVALID_FIELD", detail, "events");
            return 0;
        }
        p->events |= bit;
    }
    p->set_events = 1;
    return 1;
}

static int read_params(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, int creating,
                       struct kw_webhook_params *p)
{
    const char *why;
    int r;

    memset(p, 0, sizeof(*p));
    if ((r = kw_api_str(c, res, b, "url", 1, KW_WEBHOOK_URL_MAX - 1, &p->url)) < 0)
        return 0;
    if (r == 0 && creating) {
        kw_api_fail(c, res, 400, "WEBHOOK_URL_INVALID", "Field \"url\" is required: an absolute http(s) URL.",
                    "url");
        return 0;
    }
    if (r > 0 && (why = kw_webhooks_url_check(p->url, c->app->cfg->webhook_allow_private)) != NULL) {
        kw_api_fail(c, res, 400, why,
                    strcmp(why, "WEBHOOK_URL_FORBIDDEN") == 0
                        ? "Field \"url\" names a loopback, private, link-local or otherwise reserved address "
                          "(start keyward with --webhook-allow-private true to allow it)."
                        : "Field \"url\" must be an absolute http or https URL of at most 2048 bytes, with a "
                          "host and without user:password@.",
                    "url");
        return 0;
    }
    p->set_url = r;
    if (!read_events(c, res, b, creating, p))
        return 0;
    if ((r = kw_api_str(c, res, b, "description", 0, KW_DESC_MAX - 1, &p->description)) < 0)
        return 0;
    if (r > 0 && !kw_services_text_valid(p->description)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", KW_API_NO_CONTROLS("description"), "description");
        return 0;
    }
    p->set_description = r;
    if (!creating) {
        if ((r = kw_api_bool(c, res, b, "enabled", &p->enabled)) < 0)
            return 0;
        p->set_enabled = r;
    }
    return 1;
}

/* The answer of create and rotate-secret: the webhook with its secret, shown this once. */
static void reply_with_secret(struct kw_api_res *res, int status, const struct kw_webhook *w,
                              char secret[KW_WEBHOOK_SECRET_TEXT_MAX])
{
    json_t *o = kw_api_webhook_json(w);

    if (o != NULL)
        json_object_set_new(o, "secret", json_string(secret));
    kw_crypto_wipe(secret, KW_WEBHOOK_SECRET_TEXT_MAX);
    kw_api_json(res, status, o);
}

void kw_api_webhooks_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_webhook_params p;
    struct kw_webhook *w = malloc(sizeof(*w));
    char secret[KW_WEBHOOK_SECRET_TEXT_MAX];
    const char *why = NULL;
    json_t *b = w != NULL ? kw_api_body(c, res, create_fields, 0) : NULL;
    enum kw_err err;

    if (w == NULL)
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "webhook", NULL, NULL);
    if (b == NULL)
        goto out;
    if (!read_params(c, res, b, 1, &p))
        goto out;
    err = kw_webhooks_create(c->app, &c->actor, c->params[0], &p, w, secret, &why);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", why, kw_api_conflict_detail(why));
        goto out;
    }
    kw_api_header(res, "Location", "/api/v1/webhooks/%s", w->id);
    reply_with_secret(res, 201, w, secret);
out:
    json_decref(b);
    free(w);
}

static json_t *render_webhook(const void *item, int64_t now_ms)
{
    (void)now_ms;
    return kw_api_webhook_json(item);
}

void kw_api_webhooks_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_webhook *items;
    size_t limit, n = 0;
    int64_t after;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &after))
        return;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "webhook", NULL, NULL);
        return;
    }
    err = kw_webhooks_list(c->app, c->params[0], after, items, limit + 1, &n);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "service", NULL, NULL);
    else
        kw_api_page_reply(res, items, sizeof(*items), n, limit, render_webhook, c->req->now_ms);
    free(items);
}

void kw_api_webhooks_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_webhook *w = malloc(sizeof(*w));
    enum kw_err err = w != NULL ? kw_webhooks_get(c->app, c->params[0], w) : KW_ERR_NOMEM;

    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "webhook", NULL, NULL);
    else
        kw_api_json(res, 200, kw_api_webhook_json(w));
    free(w);
}

void kw_api_webhooks_update(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_webhook_params p;
    struct kw_webhook *w = malloc(sizeof(*w));
    json_t *b = w != NULL ? kw_api_body(c, res, update_fields, 0) : NULL;
    enum kw_err err;

    if (w == NULL)
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "webhook", NULL, NULL);
    if (b == NULL)
        goto out;
    if (!read_params(c, res, b, 0, &p))
        goto out;
    err = kw_webhooks_update(c->app, &c->actor, c->params[0], &p, w);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "webhook", NULL, NULL);
    else
        kw_api_json(res, 200, kw_api_webhook_json(w));
out:
    json_decref(b);
    free(w);
}

void kw_api_webhooks_delete(struct kw_api_ctx *c, struct kw_api_res *res)
{
    enum kw_err err = kw_webhooks_delete(c->app, &c->actor, c->params[0]);

    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "webhook", NULL, NULL);
    else
        kw_api_json(res, 204, NULL);
}

void kw_api_webhooks_rotate(struct kw_api_ctx *c, struct kw_api_res *res)
{
    static const char *const none[] = {NULL};
    struct kw_webhook *w = malloc(sizeof(*w));
    char secret[KW_WEBHOOK_SECRET_TEXT_MAX];
    json_t *b = w != NULL ? kw_api_body(c, res, none, 1) : NULL;
    enum kw_err err;

    if (w == NULL)
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "webhook", NULL, NULL);
    if (b == NULL)
        goto out;
    err = kw_webhooks_rotate(c->app, &c->actor, c->params[0], w, secret);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "webhook", NULL, NULL);
    else
        reply_with_secret(res, 200, w, secret);
out:
    json_decref(b);
    free(w);
}

static json_t *render_delivery(const void *item, int64_t now_ms)
{
    const struct kw_webhook_delivery_view *v = item;

    (void)now_ms;
    return delivery_json(&v->d, v->log, v->nlog);
}

void kw_api_webhooks_deliveries(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_webhook_delivery_view *items;
    size_t limit, n = 0;
    int64_t before;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &before))
        return;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "delivery", NULL, NULL);
        return;
    }
    err = kw_webhooks_deliveries(c->app, c->params[0], before, items, limit + 1, &n);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "webhook", NULL, NULL);
    else
        kw_api_page_reply(res, items, sizeof(*items), n, limit, render_delivery, c->req->now_ms);
    free(items);
}

void kw_api_webhooks_retry(struct kw_api_ctx *c, struct kw_api_res *res)
{
    static const char *const none[] = {NULL};
    struct kw_webhook_delivery *d = malloc(sizeof(*d));
    json_t *b = d != NULL ? kw_api_body(c, res, none, 1) : NULL;
    enum kw_err err;

    if (d == NULL)
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "delivery", NULL, NULL);
    if (b == NULL)
        goto out;
    err = kw_webhooks_retry(c->app, &c->actor, c->params[0], c->params[1], d);
    if (err != KW_OK)
        kw_api_fail_err(c, res, err, "delivery", NULL, NULL);
    else
        kw_api_json(res, 202, delivery_json(d, NULL, 0));
out:
    json_decref(b);
    free(d);
}
