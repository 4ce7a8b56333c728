/* webhooks.c - webhook endpoints, their secrets and the outbox; see webhooks.h. */
#include "domain/webhooks.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/commit_internal.h"
#include "domain/secrets.h"
#include "store/store.h"

const char *const kw_webhook_event_names[KW_WEBHOOK_EVENT_COUNT] = {
    "document.ingested", "candidate.created", "candidate.status_changed",
    "candidate.archived", "key.created",      "key.revoked",
    "key.rolled",        "key.deleted",       "token.revoked",
};

/* Audit action -> event type. */
static const char *const action_events[][2] = {
    {"document.ingest", "document.ingested"},   {"candidate.create", "candidate.created"},
    {"candidate.status", "candidate.status_changed"}, {"candidate.archive", "candidate.archived"},
    {"key.create", "key.created"},              {"key.revoke", "key.revoked"},
    {"key.roll", "key.rolled"},                 {"key.delete", "key.deleted"},
    {"token.revoke", "token.revoked"},
};

uint32_t kw_webhooks_event_bit(const char *name)
{
    int i;

    for (i = 0; name != NULL && i < KW_WEBHOOK_EVENT_COUNT; i++)
        if (strcmp(name, kw_webhook_event_names[i]) == 0)
            return 1u << i;
    return 0;
}

uint32_t kw_webhooks_events_mask(const char *events_json)
{
    json_t *a = json_loads(events_json, 0, NULL), *v;
    uint32_t mask = 0;
    size_t i;

    json_array_foreach(a, i, v) mask |= kw_webhooks_event_bit(json_string_value(v));
    json_decref(a);
    return mask;
}

const char *kw_webhooks_event_for_action(const char *action)
{
    size_t i;

    for (i = 0; action != NULL && i < sizeof(action_events) / sizeof(action_events[0]); i++)
        if (strcmp(action, action_events[i][0]) == 0)
            return action_events[i][1];
    return NULL;
}

/* The stored form of a mask: a JSON array in kw_webhook_event_names order. */
static void events_text(uint32_t mask, char out[KW_WEBHOOK_EVENTS_MAX])
{
    size_t len = 0;
    int i;

    out[len++] = '[';
    for (i = 0; i < KW_WEBHOOK_EVENT_COUNT; i++)
        if (mask & (1u << i))
            len += (size_t)snprintf(out + len, KW_WEBHOOK_EVENTS_MAX - len, "%s\"%s\"", len > 1 ? "," : "",
                                    kw_webhook_event_names[i]);
    snprintf(out + len, KW_WEBHOOK_EVENTS_MAX - len, "]");
}

const char *kw_webhooks_url_check(const char *url, int allow_private)
{
    static const char invalid[] = "WEBHOOK_URL_INVALID";
    const char *host, *end, *p;
    char lit[KW_NETADDR_TEXT_MAX];
    struct kw_netaddr a;
    size_t len = url != NULL ? strlen(url) : 0, hlen;

    if (len == 0 || len > KW_WEBHOOK_URL_MAX - 1)
        return invalid;
    for (p = url; *p != '\0'; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return invalid;
    if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else
        return invalid;
    end = host + strcspn(host, "/?#");
    if (memchr(host, '@', (size_t)(end - host)) != NULL || end == host)
        return invalid; /* userinfo, or no host */
    /* the host without the port */
    if (host[0] == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (close == NULL || (close + 1 != end && close[1] != ':'))
            return invalid;
        hlen = (size_t)(close - host - 1);
        if (hlen == 0 || hlen >= sizeof(lit))
            return invalid;
        memcpy(lit, host + 1, hlen);
        lit[hlen] = '\0';
        if (kw_netaddr_parse(lit, hlen, &a) != KW_OK)
            return invalid;
        p = close + 1;
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        hlen = (size_t)((colon != NULL ? colon : end) - host);
        if (hlen == 0)
            return invalid;
        if (hlen < sizeof(lit)) {
            memcpy(lit, host, hlen);
            lit[hlen] = '\0';
        } else {
            lit[0] = '\0';
        }
        for (p = host; p < host + hlen; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                  *p == '.' || *p == '_'))
                return invalid;
        p = colon != NULL ? colon : end;
        if (lit[0] == '\0' || kw_netaddr_parse(lit, strlen(lit), &a) != KW_OK)
            lit[0] = '\0'; /* a name: checked at delivery */
    }
    if (*p == ':') { /* a port: 1..65535 */
        long port = 0;
        const char *d = p + 1;
        if (d == end || end - d > 5)
            return invalid;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return invalid;
            port = port * 10 + (*d - '0');
        }
        if (port < 1 || port > 65535)
            return invalid;
    }
    if (lit[0] != '\0' && !allow_private && kw_netaddr_forbidden(&a) != NULL)
        return "WEBHOOK_URL_FORBIDDEN";
    return NULL;
}

/* ---- secrets ---- */

/* 32 fresh bytes: sealed into sealed/len, shown as "whsec_" + base64 in text. */
static enum kw_err new_secret(struct kw_app *app, uint8_t sealed[KW_WEBHOOK_SEALED_MAX], size_t *len,
                              char text[KW_WEBHOOK_SECRET_TEXT_MAX])
{
    uint8_t raw[KW_WEBHOOK_SECRET_LEN];
    enum kw_err err = kw_crypto_random(raw, sizeof(raw));

    if (err == KW_OK)
        err = kw_secrets_seal(app->secrets, raw, sizeof(raw), sealed, KW_WEBHOOK_SEALED_MAX, len);
    if (err == KW_OK) {
        memcpy(text, "whsec_", 6);
        if (kw_crypto_base64_encode(raw, sizeof(raw), text + 6, KW_WEBHOOK_SECRET_TEXT_MAX - 6) == 0)
            err = KW_ERR_INTERNAL;
    }
    kw_crypto_wipe(raw, sizeof(raw));
    return err;
}

static enum kw_err open_secret(struct kw_app *app, const uint8_t *sealed, size_t len,
                               uint8_t out[KW_WEBHOOK_SECRET_LEN])
{
    uint8_t plain[KW_WEBHOOK_SEALED_MAX];
    size_t n = 0;
    enum kw_err err = kw_secrets_open(app->secrets, sealed, len, plain, sizeof(plain), &n);

    if (err == KW_OK && n != KW_WEBHOOK_SECRET_LEN)
        err = KW_ERR_MALFORMED;
    if (err == KW_OK)
        memcpy(out, plain, KW_WEBHOOK_SECRET_LEN);
    kw_crypto_wipe(plain, sizeof(plain));
    return err;
}

enum kw_err kw_webhooks_signing_secrets(struct kw_app *app, const struct kw_webhook *w, int64_t now_ms,
                                        uint8_t cur[KW_WEBHOOK_SECRET_LEN], uint8_t prev[KW_WEBHOOK_SECRET_LEN],
                                        int *has_prev)
{
    enum kw_err err = open_secret(app, w->secret_sealed, w->secret_sealed_len, cur);

    *has_prev = 0;
    if (err != KW_OK)
        return err;
    if (w->prev_secret_sealed_len > 0 && w->prev_secret_until > now_ms) {
        err = open_secret(app, w->prev_secret_sealed, w->prev_secret_sealed_len, prev);
        if (err != KW_OK) {
            kw_crypto_wipe(cur, KW_WEBHOOK_SECRET_LEN);
            return err;
        }
        *has_prev = 1;
    }
    return KW_OK;
}

/* ---- endpoints ---- */

static void apply_params(struct kw_webhook *w, const struct kw_webhook_params *p)
{
    if (p->set_url)
        snprintf(w->url, sizeof(w->url), "%s", p->url);
    if (p->set_events)
        events_text(p->events, w->events);
    if (p->set_description)
        snprintf(w->description, sizeof(w->description), "%s", p->description);
    if (p->set_enabled) {
        if (p->enabled && !w->enabled)
            w->disabled_reason[0] = '\0';
        else if (!p->enabled && w->enabled)
            snprintf(w->disabled_reason, sizeof(w->disabled_reason), "operator");
        w->enabled = p->enabled != 0;
        if (w->enabled)
            w->disabled_reason[0] = '\0';
    }
}

struct create_ctx {
    struct kw_webhook hook; /* prepared outside: id, secret, params */
    struct kw_webhook *out;
};

static enum kw_err create_body(struct kw_tx *tx, void *vctx, struct kw_write *w)
{
    struct create_ctx *c = vctx;
    struct kw_service s;
    int64_t total = 0;
    enum kw_err err = kw_store_service_get(tx, c->hook.service_id, &s);

    if (err == KW_OK)
        err = kw_store_webhook_count(tx, c->hook.service_id, &total, NULL);
    if (err != KW_OK)
        return err;
    if (total >= KW_WEBHOOKS_PER_SERVICE) {
        w->conflict = "WEBHOOK_LIMIT";
        return KW_ERR_CONFLICT;
    }
    *c->out = c->hook;
    err = kw_store_webhook_insert(tx, c->out);
    snprintf(w->detail, sizeof(w->detail), "{\"events\":%.400s}", c->hook.events);
    return err;
}

enum kw_err kw_webhooks_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                               const struct kw_webhook_params *p, struct kw_webhook *out,
                               char secret[KW_WEBHOOK_SECRET_TEXT_MAX], const char **conflict)
{
    struct create_ctx *c = calloc(1, sizeof(*c));
    struct kw_write w;
    enum kw_err err;

    *conflict = NULL;
    secret[0] = '\0';
    if (c == NULL)
        return KW_ERR_NOMEM;
    c->out = out;
    err = kw_id_new("wh", c->hook.id);
    if (err == KW_OK)
        err = new_secret(app, c->hook.secret_sealed, &c->hook.secret_sealed_len, secret);
    if (err == KW_OK) {
        snprintf(c->hook.service_id, sizeof(c->hook.service_id), "%s", service_id);
        snprintf(c->hook.created_by, sizeof(c->hook.created_by), "%s", actor->id);
        c->hook.enabled = 1;
        apply_params(&c->hook, p);
        c->hook.created_at = c->hook.updated_at = kw_time_now_ms();
        kw_write_init(&w, actor, "webhook.create", "webhook", c->hook.id, service_id);
        err = kw_domain_write(app, &w, create_body, c);
        *conflict = w.conflict;
    }
    if (err != KW_OK)
        kw_crypto_wipe(secret, KW_WEBHOOK_SECRET_TEXT_MAX);
    kw_crypto_wipe(c, sizeof(*c));
    free(c);
    return err;
}

enum kw_err kw_webhooks_get(struct kw_app *app, const char *id, struct kw_webhook *out)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, kw_store_webhook_get(tx, id, out));
    return err;
}

static enum kw_err list_in(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_webhook *items,
                           size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err = kw_store_service_get(tx, service_id, &s);

    return err == KW_OK ? kw_store_webhook_list(tx, service_id, after, items, cap, n) : err;
}

enum kw_err kw_webhooks_list(struct kw_app *app, const char *service_id, int64_t after_seq, struct kw_webhook *items,
                             size_t cap, size_t *n)
{
    enum kw_err err;

    *n = 0;
    KW_DOMAIN_READ(app->store, err, tx, list_in(tx, service_id, after_seq, items, cap, n));
    return err;
}

/* The shape of every write to one existing webhook. */
struct one_ctx {
    struct kw_app *app;
    const char *id;
    const struct kw_webhook_params *p;  /* update */
    uint8_t sealed[KW_WEBHOOK_SEALED_MAX]; /* rotate: the new secret */
    size_t sealed_len;
    int64_t now;
    int deleting;
    struct kw_webhook *out;
};

static enum kw_err one_body(struct kw_tx *tx, void *vctx, struct kw_write *w)
{
    struct one_ctx *c = vctx;
    enum kw_err err = kw_store_webhook_get(tx, c->id, c->out);

    if (err != KW_OK)
        return err;
    snprintf(w->service_id, sizeof(w->service_id), "%s", c->out->service_id);
    if (c->deleting)
        return kw_store_webhook_delete(tx, c->id);
    if (c->p != NULL) {
        apply_params(c->out, c->p);
        snprintf(w->detail, sizeof(w->detail), "{\"enabled\":%s,\"events\":%.400s}", c->out->enabled ? "true" : "false",
                 c->out->events);
    } else {
        memcpy(c->out->prev_secret_sealed, c->out->secret_sealed, c->out->secret_sealed_len);
        c->out->prev_secret_sealed_len = c->out->secret_sealed_len;
        c->out->prev_secret_until = c->now + KW_WEBHOOK_PREV_SECRET_MS;
        memcpy(c->out->secret_sealed, c->sealed, c->sealed_len);
        c->out->secret_sealed_len = c->sealed_len;
    }
    c->out->updated_at = c->now;
    return kw_store_webhook_update(tx, c->out);
}

static enum kw_err run_one(struct kw_app *app, const struct kw_actor *actor, const char *action, struct one_ctx *c)
{
    struct kw_write w;

    c->app = app;
    c->now = kw_time_now_ms();
    kw_write_init(&w, actor, action, "webhook", c->id, NULL);
    return kw_domain_write(app, &w, one_body, c);
}

enum kw_err kw_webhooks_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                               const struct kw_webhook_params *p, struct kw_webhook *out)
{
    struct one_ctx c = {.id = id, .p = p, .out = out};

    return run_one(app, actor, "webhook.update", &c);
}

enum kw_err kw_webhooks_delete(struct kw_app *app, const struct kw_actor *actor, const char *id)
{
    struct kw_webhook *tmp = malloc(sizeof(*tmp));
    struct one_ctx c = {.id = id, .deleting = 1, .out = tmp};
    enum kw_err err;

    if (tmp == NULL)
        return KW_ERR_NOMEM;
    err = run_one(app, actor, "webhook.delete", &c);
    free(tmp);
    return err;
}

enum kw_err kw_webhooks_rotate(struct kw_app *app, const struct kw_actor *actor, const char *id,
                               struct kw_webhook *out, char secret[KW_WEBHOOK_SECRET_TEXT_MAX])
{
    struct one_ctx c = {.id = id, .out = out};
    enum kw_err err = new_secret(app, c.sealed, &c.sealed_len, secret);

    if (err == KW_OK)
        err = run_one(app, actor, "webhook.rotate_secret", &c);
    if (err != KW_OK)
        kw_crypto_wipe(secret, KW_WEBHOOK_SECRET_TEXT_MAX);
    return err;
}

/* ---- deliveries ---- */

static enum kw_err deliveries_in(struct kw_tx *tx, const char *webhook_id, int64_t before,
                                 struct kw_webhook_delivery_view *items, size_t cap, size_t *n)
{
    struct kw_webhook_delivery *ds = NULL;
    struct kw_webhook *hook = malloc(sizeof(*hook));
    enum kw_err err = hook != NULL ? kw_store_webhook_get(tx, webhook_id, hook) : KW_ERR_NOMEM;
    size_t i, m = 0;

    free(hook);
    if (err == KW_OK && cap > 0 && (ds = calloc(cap, sizeof(*ds))) == NULL)
        err = KW_ERR_NOMEM;
    if (err == KW_OK)
        err = kw_store_webhook_delivery_list(tx, webhook_id, before, ds, cap, &m);
    for (i = 0; err == KW_OK && i < m; i++) {
        items[i].d = ds[i];
        err = kw_store_webhook_attempt_list(tx, ds[i].id, items[i].log, KW_WEBHOOK_LOG_MAX, &items[i].nlog);
    }
    *n = err == KW_OK ? m : 0;
    free(ds);
    return err;
}

enum kw_err kw_webhooks_deliveries(struct kw_app *app, const char *webhook_id, int64_t before_seq,
                                   struct kw_webhook_delivery_view *items, size_t cap, size_t *n)
{
    enum kw_err err;

    *n = 0;
    KW_DOMAIN_READ(app->store, err, tx, deliveries_in(tx, webhook_id, before_seq, items, cap, n));
    return err;
}

struct retry_ctx {
    const char *webhook_id, *delivery_id;
    int64_t now;
    struct kw_webhook_delivery *out;
};

static enum kw_err retry_body(struct kw_tx *tx, void *vctx, struct kw_write *w)
{
    struct retry_ctx *c = vctx;
    enum kw_err err = kw_store_webhook_delivery_get(tx, c->delivery_id, c->out);

    if (err == KW_OK && strcmp(c->out->webhook_id, c->webhook_id) != 0)
        err = KW_ERR_NOT_FOUND;
    if (err == KW_OK)
        err = kw_store_webhook_delivery_retry(tx, c->delivery_id, c->now);
    if (err == KW_OK)
        err = kw_store_webhook_delivery_get(tx, c->delivery_id, c->out);
    if (err != KW_OK)
        return err;
    snprintf(w->service_id, sizeof(w->service_id), "%s", c->out->service_id);
    snprintf(w->detail, sizeof(w->detail), "{\"deliveryId\":\"%s\",\"eventType\":\"%s\"}", c->out->id,
             c->out->event_type);
    w->webhooks_enqueued = 1;
    return KW_OK;
}

enum kw_err kw_webhooks_retry(struct kw_app *app, const struct kw_actor *actor, const char *webhook_id,
                              const char *delivery_id, struct kw_webhook_delivery *out)
{
    struct retry_ctx c = {webhook_id, delivery_id, kw_time_now_ms(), out};
    struct kw_write w;

    kw_write_init(&w, actor, "webhook.retry", "webhook", webhook_id, NULL);
    return kw_domain_write(app, &w, retry_body, &c);
}

/* ---- the outbox ---- */

/* Copies the string members named in keys from the audit detail into data. */
static void data_from_detail(json_t *data, const char *detail, const char *const *keys)
{
    json_t *d = detail != NULL && detail[0] == '{' ? json_loads(detail, 0, NULL) : NULL;

    for (; d != NULL && *keys != NULL; keys++) {
        json_t *v = json_object_get(d, *keys);
        if (json_is_string(v))
            json_object_set(data, *keys, v);
    }
    json_decref(d);
}

/* The data of the one event a write announces from its target and detail. */
static json_t *default_data(const struct kw_write *w, const char *type)
{
    static const char *const cand[] = {"refId", NULL};
    static const char *const moved[] = {"refId", "from", "to", NULL};
    static const char *const rolled[] = {"newKeyId", NULL};
    json_t *data = json_object();

    if (data == NULL)
        return NULL;
    json_object_set_new(data, "serviceId", json_string(w->service_id));
    if (strncmp(type, "key.", 4) == 0) {
        json_object_set_new(data, "keyId", json_string(w->target_id));
        if (strcmp(type, "key.rolled") == 0)
            data_from_detail(data, w->detail, rolled);
    } else if (strcmp(type, "token.revoked") == 0) {
        json_object_set_new(data, "tokenId", json_string(w->target_id));
    } else if (strcmp(type, "document.ingested") == 0) {
        json_object_set_new(data, "documentId", json_string(w->target_id));
    } else {
        data_from_detail(data, w->detail, strcmp(type, "candidate.status_changed") == 0 ? moved : cand);
        if (strncmp(w->target_id, "rec_", 4) == 0)
            json_object_set_new(data, "recordId", json_string(w->target_id));
    }
    return data;
}

/* Inserts one delivery of data (type) per webhook in hooks[0..n) subscribed to bit. */
static enum kw_err enqueue_one(struct kw_tx *tx, const struct kw_webhook *hooks, size_t n, uint32_t bit,
                               const char *type, json_t *data, int64_t now, struct kw_webhook_delivery *d,
                               int *count)
{
    char ts[KW_TIME_RFC3339_LEN];
    json_t *body;
    char *text;
    enum kw_err err = KW_OK;
    size_t i;

    if (!json_is_object(data))
        return KW_OK;
    if (json_object_get(data, "serviceId") == NULL)
        json_object_set_new(data, "serviceId", json_string(hooks[0].service_id));
    kw_time_format(now, ts);
    body = json_pack("{s:s, s:s, s:O}", "type", type, "timestamp", ts, "data", data);
    text = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (text == NULL)
        return KW_ERR_NOMEM;
    if (strlen(text) >= sizeof(d->payload)) {
        kw_log_error("webhook payload too large", "type=%s len=%zu", type, strlen(text));
        free(text);
        return KW_OK; /* never block the change itself */
    }
    for (i = 0; err == KW_OK && i < n; i++) {
        if (!hooks[i].enabled || (kw_webhooks_events_mask(hooks[i].events) & bit) == 0)
            continue;
        memset(d, 0, sizeof(*d));
        err = kw_id_new("msg", d->id);
        if (err != KW_OK)
            break;
        memcpy(d->webhook_id, hooks[i].id, sizeof(d->webhook_id));
        memcpy(d->service_id, hooks[i].service_id, sizeof(d->service_id));
        snprintf(d->event_type, sizeof(d->event_type), "%s", type);
        memcpy(d->payload, text, strlen(text) + 1);
        snprintf(d->state, sizeof(d->state), "pending");
        d->created_at = d->updated_at = d->next_attempt_at = now;
        err = kw_store_webhook_delivery_insert(tx, d);
        if (err == KW_OK)
            (*count)++;
    }
    free(text);
    return err;
}

enum kw_err kw_webhooks_enqueue(struct kw_tx *tx, struct kw_app *app, struct kw_write *w)
{
    const char *type = kw_webhooks_event_for_action(w->action);
    struct kw_webhook *hooks = NULL;
    struct kw_webhook_delivery *d = NULL;
    json_t *data = NULL, *v;
    int64_t enabled = 0, now;
    size_t n = 0, i;
    uint32_t bit;
    enum kw_err err;

    (void)app;
    w->webhooks_enqueued = 0;
    if (type == NULL || w->service_id[0] == '\0')
        return KW_OK;
    err = kw_store_webhook_count(tx, w->service_id, NULL, &enabled);
    if (err != KW_OK || enabled == 0)
        return err;
    bit = kw_webhooks_event_bit(type);
    hooks = calloc(KW_WEBHOOKS_PER_SERVICE * 2, sizeof(*hooks));
    d = malloc(sizeof(*d));
    if (hooks == NULL || d == NULL) {
        err = KW_ERR_NOMEM;
        goto out;
    }
    err = kw_store_webhook_list(tx, w->service_id, 0, hooks, KW_WEBHOOKS_PER_SERVICE * 2, &n);
    if (err != KW_OK || n == 0)
        goto out;
    data = w->webhook_data != NULL ? json_loads(w->webhook_data, 0, NULL) : default_data(w, type);
    now = kw_time_now_ms();
    if (json_is_array(data)) {
        json_array_foreach(data, i, v)
        {
            err = enqueue_one(tx, hooks, n, bit, type, v, now, d, &w->webhooks_enqueued);
            if (err != KW_OK)
                break;
        }
    } else {
        err = enqueue_one(tx, hooks, n, bit, type, data, now, d, &w->webhooks_enqueued);
    }
out:
    json_decref(data);
    free(hooks);
    free(d);
    return err;
}
