/* postgres_webhooks.c - webhooks, their deliveries (the outbox) and attempts for the PostgreSQL backend
 * (the statements of sqlite_webhooks.c in PostgreSQL's dialect). */
#include <stdio.h>
#include <string.h>

#include "store/postgres_internal.h"

#define WH_COLS                                                                                              \
    "seq, id, service_id, url, events, description, enabled, disabled_reason, secret_sealed, "            \
    "prev_secret_sealed, prev_secret_until, created_by, created_at, updated_at"
#define DL_COLS                                                                                              \
    "seq, id, webhook_id, service_id, event_type, payload, created_at, state, attempts, next_attempt_at, "  \
    "lease_owner, lease_until, last_status, last_error, updated_at"
#define AT_COLS "delivery_id, n, at, status, error, duration_ms, node"

/* A bytea parameter, SQL NULL when len is 0. */
static void blob_or_null(struct kw_pg_params *p, const uint8_t *b, size_t len)
{
    if (len > 0) {
        kw_pg_blob(p, b, len);
    } else if (p->n < KW_PG_MAXP) {
        p->v[p->n] = NULL;
        p->len[p->n] = 0;
        p->fmt[p->n] = 1;
        p->n++;
    }
}

static void wh_row(const PGresult *res, int r, void *item)
{
    struct kw_webhook *w = item;

    memset(w, 0, sizeof(*w));
    w->seq = kw_pg_get_int(res, r, 0);
    kw_pg_get_text(res, r, 1, w->id, sizeof(w->id));
    kw_pg_get_text(res, r, 2, w->service_id, sizeof(w->service_id));
    kw_pg_get_text(res, r, 3, w->url, sizeof(w->url));
    kw_pg_get_text(res, r, 4, w->events, sizeof(w->events));
    kw_pg_get_text(res, r, 5, w->description, sizeof(w->description));
    w->enabled = (int)kw_pg_get_int(res, r, 6);
    kw_pg_get_text(res, r, 7, w->disabled_reason, sizeof(w->disabled_reason));
    w->secret_sealed_len = kw_pg_get_bytes(res, r, 8, w->secret_sealed, sizeof(w->secret_sealed));
    w->prev_secret_sealed_len = kw_pg_get_bytes(res, r, 9, w->prev_secret_sealed, sizeof(w->prev_secret_sealed));
    w->prev_secret_until = kw_pg_get_int(res, r, 10);
    kw_pg_get_text(res, r, 11, w->created_by, sizeof(w->created_by));
    w->created_at = kw_pg_get_int(res, r, 12);
    w->updated_at = kw_pg_get_int(res, r, 13);
}

enum kw_err kw_pg_webhook_insert(struct kw_tx *tx, struct kw_webhook *w)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, w->id);
    KW_PG_FIELD(&p, w->service_id);
    KW_PG_FIELD(&p, w->url);
    KW_PG_FIELD(&p, w->events);
    KW_PG_FIELD(&p, w->description);
    kw_pg_int(&p, w->enabled);
    KW_PG_FIELD(&p, w->disabled_reason);
    kw_pg_blob(&p, w->secret_sealed, w->secret_sealed_len);
    blob_or_null(&p, w->prev_secret_sealed, w->prev_secret_sealed_len);
    kw_pg_int(&p, w->prev_secret_until);
    KW_PG_FIELD(&p, w->created_by);
    kw_pg_int(&p, w->created_at);
    kw_pg_int(&p, w->updated_at);
    return kw_pg_insert_seq(tx,
                            "INSERT INTO webhooks(id, service_id, url, events, description, enabled, "
                            "disabled_reason, secret_sealed, prev_secret_sealed, prev_secret_until, created_by, "
                            "created_at, updated_at) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, "
                            "$6::bigint, $7::text, $8::bytea, $9::bytea, $10::bigint, $11::text, $12::bigint, "
                            "$13::bigint) RETURNING seq",
                            &p, "webhook_insert", &w->seq);
}

enum kw_err kw_pg_webhook_get(struct kw_tx *tx, const char *id, struct kw_webhook *out)
{
    struct kw_pg_params p = {0};
    char sql[512];
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, id);
    snprintf(sql, sizeof(sql), "SELECT " WH_COLS " FROM webhooks WHERE id = $1::text%s", kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, &p, "webhook_get", &err);
    return res == NULL ? err : kw_pg_one(res, wh_row, out);
}

enum kw_err kw_pg_webhook_list(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_webhook *items,
                               size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    char sql[512];
    enum kw_err err;
    PGresult *res;

    *n = 0;
    kw_pg_text(&p, service_id);
    kw_pg_int(&p, after);
    kw_pg_int(&p, (int64_t)cap);
    snprintf(sql, sizeof(sql),
             "SELECT " WH_COLS " FROM webhooks WHERE service_id = $1::text AND seq > $2::bigint ORDER BY seq "
             "LIMIT $3::bigint%s",
             kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, &p, "webhook_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, wh_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_webhook_update(struct kw_tx *tx, const struct kw_webhook *w)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    KW_PG_FIELD(&p, w->url);
    KW_PG_FIELD(&p, w->events);
    KW_PG_FIELD(&p, w->description);
    kw_pg_int(&p, w->enabled);
    KW_PG_FIELD(&p, w->disabled_reason);
    kw_pg_blob(&p, w->secret_sealed, w->secret_sealed_len);
    blob_or_null(&p, w->prev_secret_sealed, w->prev_secret_sealed_len);
    kw_pg_int(&p, w->prev_secret_until);
    kw_pg_int(&p, w->updated_at);
    KW_PG_FIELD(&p, w->id);
    err = kw_pg_run(tx,
                    "UPDATE webhooks SET url = $1::text, events = $2::text, description = $3::text, enabled = "
                    "$4::bigint, disabled_reason = $5::text, secret_sealed = $6::bytea, prev_secret_sealed = "
                    "$7::bytea, prev_secret_until = $8::bigint, updated_at = $9::bigint WHERE id = $10::text",
                    &p, "webhook_update", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_pg_webhook_delete(struct kw_tx *tx, const char *id)
{
    static const char *const sql[] = {
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id "
        "= $1::text)",
        "DELETE FROM webhook_deliveries WHERE webhook_id = $1::text",
        "DELETE FROM webhooks WHERE id = $1::text",
    };
    enum kw_err err = kw_pg_atomic_begin(tx);
    int64_t changed = 0;
    size_t i;

    if (err != KW_OK)
        return err;
    for (i = 0; err == KW_OK && i < sizeof(sql) / sizeof(sql[0]); i++) {
        struct kw_pg_params p = {0};
        kw_pg_text(&p, id);
        err = kw_pg_run(tx, sql[i], &p, "webhook_delete", &changed);
    }
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return kw_pg_atomic_end(tx, err);
}

enum kw_err kw_pg_webhook_count(struct kw_tx *tx, const char *service_id, int64_t *total, int64_t *enabled)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, service_id);
    res = kw_pg_exec(tx,
                     "SELECT count(*), coalesce(sum(CASE WHEN enabled <> 0 THEN 1 ELSE 0 END), 0) FROM webhooks "
                     "WHERE service_id = $1::text",
                     &p, "webhook_count", &err);
    if (res == NULL)
        return err;
    if (PQntuples(res) == 1) {
        if (total != NULL)
            *total = kw_pg_get_int(res, 0, 0);
        if (enabled != NULL)
            *enabled = kw_pg_get_int(res, 0, 1);
    } else {
        err = KW_ERR_STORE;
    }
    PQclear(res);
    return err;
}

/* ---- deliveries ---- */

static void dl_row(const PGresult *res, int r, void *item)
{
    struct kw_webhook_delivery *d = item;

    memset(d, 0, sizeof(*d));
    d->seq = kw_pg_get_int(res, r, 0);
    kw_pg_get_text(res, r, 1, d->id, sizeof(d->id));
    kw_pg_get_text(res, r, 2, d->webhook_id, sizeof(d->webhook_id));
    kw_pg_get_text(res, r, 3, d->service_id, sizeof(d->service_id));
    kw_pg_get_text(res, r, 4, d->event_type, sizeof(d->event_type));
    kw_pg_get_text(res, r, 5, d->payload, sizeof(d->payload));
    d->created_at = kw_pg_get_int(res, r, 6);
    kw_pg_get_text(res, r, 7, d->state, sizeof(d->state));
    d->attempts = kw_pg_get_int(res, r, 8);
    d->next_attempt_at = kw_pg_get_int(res, r, 9);
    kw_pg_get_text(res, r, 10, d->lease_owner, sizeof(d->lease_owner));
    d->lease_until = kw_pg_get_int(res, r, 11);
    d->last_status = kw_pg_get_int(res, r, 12);
    kw_pg_get_text(res, r, 13, d->last_error, sizeof(d->last_error));
    d->updated_at = kw_pg_get_int(res, r, 14);
}

enum kw_err kw_pg_webhook_delivery_insert(struct kw_tx *tx, struct kw_webhook_delivery *d)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, d->id);
    KW_PG_FIELD(&p, d->webhook_id);
    KW_PG_FIELD(&p, d->service_id);
    KW_PG_FIELD(&p, d->event_type);
    KW_PG_FIELD(&p, d->payload);
    kw_pg_int(&p, d->created_at);
    KW_PG_FIELD(&p, d->state);
    kw_pg_int(&p, d->attempts);
    kw_pg_int(&p, d->next_attempt_at);
    KW_PG_FIELD(&p, d->lease_owner);
    kw_pg_int(&p, d->lease_until);
    kw_pg_int(&p, d->last_status);
    KW_PG_FIELD(&p, d->last_error);
    kw_pg_int(&p, d->updated_at);
    return kw_pg_insert_seq(tx,
                            "INSERT INTO webhook_deliveries(id, webhook_id, service_id, event_type, payload, "
                            "created_at, state, attempts, next_attempt_at, lease_owner, lease_until, last_status, "
                            "last_error, updated_at) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, "
                            "$6::bigint, $7::text, $8::bigint, $9::bigint, $10::text, $11::bigint, $12::bigint, "
                            "$13::text, $14::bigint) RETURNING seq",
                            &p, "webhook_delivery_insert", &d->seq);
}

enum kw_err kw_pg_webhook_delivery_get(struct kw_tx *tx, const char *id, struct kw_webhook_delivery *out)
{
    struct kw_pg_params p = {0};
    char sql[512];
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, id);
    snprintf(sql, sizeof(sql), "SELECT " DL_COLS " FROM webhook_deliveries WHERE id = $1::text%s", kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, &p, "webhook_delivery_get", &err);
    return res == NULL ? err : kw_pg_one(res, dl_row, out);
}

enum kw_err kw_pg_webhook_delivery_list(struct kw_tx *tx, const char *webhook_id, int64_t before,
                                        struct kw_webhook_delivery *items, size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    *n = 0;
    kw_pg_text(&p, webhook_id);
    kw_pg_int(&p, before > 0 ? before : INT64_MAX);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx,
                     "SELECT " DL_COLS " FROM webhook_deliveries WHERE webhook_id = $1::text AND seq < $2::bigint "
                     "ORDER BY seq DESC LIMIT $3::bigint",
                     &p, "webhook_delivery_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, dl_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_webhook_delivery_retry(struct kw_tx *tx, const char *id, int64_t now_ms)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    kw_pg_int(&p, now_ms);
    kw_pg_text(&p, id);
    err = kw_pg_run(tx,
                    "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1::bigint, lease_owner = "
                    "'', lease_until = 0, updated_at = $1::bigint WHERE id = $2::text",
                    &p, "webhook_delivery_retry", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

/* ---- attempts ---- */

static void at_row(const PGresult *res, int r, void *item)
{
    struct kw_webhook_attempt *a = item;

    memset(a, 0, sizeof(*a));
    kw_pg_get_text(res, r, 0, a->delivery_id, sizeof(a->delivery_id));
    a->n = kw_pg_get_int(res, r, 1);
    a->at = kw_pg_get_int(res, r, 2);
    a->status = kw_pg_get_int(res, r, 3);
    kw_pg_get_text(res, r, 4, a->error, sizeof(a->error));
    a->duration_ms = kw_pg_get_int(res, r, 5);
    kw_pg_get_text(res, r, 6, a->node, sizeof(a->node));
}

enum kw_err kw_pg_webhook_attempt_insert(struct kw_tx *tx, const struct kw_webhook_attempt *a)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, a->delivery_id);
    kw_pg_int(&p, a->n);
    kw_pg_int(&p, a->at);
    kw_pg_int(&p, a->status);
    KW_PG_FIELD(&p, a->error);
    kw_pg_int(&p, a->duration_ms);
    KW_PG_FIELD(&p, a->node);
    return kw_pg_run_sp(tx,
                        "INSERT INTO webhook_attempts(" AT_COLS ") VALUES ($1::text, $2::bigint, $3::bigint, "
                        "$4::bigint, $5::text, $6::bigint, $7::text)",
                        &p, "webhook_attempt_insert", NULL);
}

enum kw_err kw_pg_webhook_attempt_list(struct kw_tx *tx, const char *delivery_id, struct kw_webhook_attempt *items,
                                       size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    *n = 0;
    kw_pg_text(&p, delivery_id);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx,
                     "SELECT " AT_COLS " FROM webhook_attempts WHERE delivery_id = $1::text ORDER BY n "
                     "LIMIT $2::bigint",
                     &p, "webhook_attempt_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, at_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}
