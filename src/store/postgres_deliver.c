/* postgres_deliver.c - webhook delivery leases (store.h) for the PostgreSQL backend, where every node
 * of a deployment runs a sender: the lease is one UPDATE whose subquery locks the due rows FOR UPDATE
 * SKIP LOCKED, so two nodes polling at once take disjoint rows and neither waits for the other. */
#include <stdio.h>
#include <string.h>

#include "store/postgres_internal.h"

/* A bytea of at most cap bytes (text result "\x.."); longer or empty reads as none. */
static size_t var_blob(const PGresult *res, int row, int col, uint8_t *dst, size_t cap)
{
    int len = PQgetlength(res, row, col);
    size_t n = len > 2 ? (size_t)(len - 2) / 2 : 0;

    if (PQgetisnull(res, row, col) || n == 0 || n > cap)
        return 0;
    kw_pg_get_blob(res, row, col, dst, n);
    return n;
}

static void lease_row(const PGresult *res, int r, void *item)
{
    struct kw_delivery_lease *d = item;

    memset(d, 0, sizeof(*d));
    kw_pg_get_text(res, r, 0, d->id, sizeof(d->id));
    kw_pg_get_text(res, r, 1, d->webhook_id, sizeof(d->webhook_id));
    kw_pg_get_text(res, r, 2, d->service_id, sizeof(d->service_id));
    kw_pg_get_text(res, r, 3, d->event_type, sizeof(d->event_type));
    d->attempts = kw_pg_get_int(res, r, 4);
    d->next_attempt_at = kw_pg_get_int(res, r, 5);
    kw_pg_get_text(res, r, 6, d->url, sizeof(d->url));
    d->payload_len = (size_t)PQgetlength(res, r, 7);
    if (d->payload_len < sizeof(d->payload))
        memcpy(d->payload, PQgetvalue(res, r, 7), d->payload_len + 1);
    d->secret_len = var_blob(res, r, 8, d->secret_sealed, sizeof(d->secret_sealed));
    d->prev_len = var_blob(res, r, 9, d->prev_sealed, sizeof(d->prev_sealed));
    d->prev_until = kw_pg_get_int(res, r, 10);
    kw_pg_get_text(res, r, 11, d->node, sizeof(d->node));
    d->lease_until = kw_pg_get_int(res, r, 12);
}


/* The due rows are picked once, in a MATERIALIZED CTE: as a plain "id IN (subquery ... LIMIT n)" the
 * planner may rescan the subquery once per outer row (a semi join), and each rescan locks n more rows,
 * so a lease of n would take every due row. The outer WHERE repeats the due test, so a row another
 * node leased and committed after this statement's snapshot is re-checked (READ COMMITTED) and not
 * taken twice. */
enum kw_err kw_pg_delivery_lease(struct kw_tx *tx, const char *node, int64_t now_ms, int64_t lease_ms,
                                 struct kw_delivery_lease *items, size_t cap, size_t *n)
{
    static const char sql[] =
        "WITH due AS MATERIALIZED (SELECT q.id FROM webhook_deliveries q JOIN webhooks qw ON qw.id = q.webhook_id "
        "WHERE q.state = 'pending' AND q.next_attempt_at <= $1::bigint AND q.lease_until <= $1::bigint "
        "AND qw.enabled = 1 ORDER BY q.next_attempt_at, q.seq LIMIT $4::bigint FOR UPDATE OF q SKIP LOCKED) "
        "UPDATE webhook_deliveries d SET lease_owner = $3::text, lease_until = $1::bigint + $2::bigint "
        "FROM due, webhooks w WHERE d.id = due.id AND w.id = d.webhook_id AND d.state = 'pending' "
        "AND d.next_attempt_at <= $1::bigint AND d.lease_until <= $1::bigint "
        "RETURNING d.id, d.webhook_id, d.service_id, d.event_type, d.attempts, d.next_attempt_at, w.url, "
        "d.payload, w.secret_sealed, w.prev_secret_sealed, w.prev_secret_until, d.lease_owner, d.lease_until";
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    *n = 0;
    kw_pg_int(&p, now_ms);
    kw_pg_int(&p, lease_ms);
    kw_pg_text(&p, node);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx, sql, &p, "delivery_lease", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, lease_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_delivery_record(struct kw_tx *tx, const struct kw_delivery_lease *lease,
                                  const struct kw_delivery_attempt *a)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    kw_pg_text(&p, a->state);
    kw_pg_int(&p, a->next_attempt_at);
    kw_pg_int(&p, a->status);
    kw_pg_text(&p, a->error != NULL ? a->error : "");
    kw_pg_int(&p, a->at + a->duration_ms);
    KW_PG_FIELD(&p, lease->id);
    KW_PG_FIELD(&p, lease->node);
    kw_pg_int(&p, lease->lease_until);
    kw_pg_int(&p, lease->attempts);
    err = kw_pg_run(tx,
                    "UPDATE webhook_deliveries SET attempts = attempts + 1, state = $1::text, "
                    "next_attempt_at = CASE WHEN $1::text = 'pending' THEN $2::bigint ELSE next_attempt_at END, "
                    "last_status = $3::bigint, last_error = $4::text, lease_owner = '', lease_until = 0, "
                    "updated_at = $5::bigint WHERE id = $6::text AND lease_owner = $7::text "
                    "AND lease_until = $8::bigint AND state = 'pending' AND attempts = $9::bigint",
                    &p, "delivery_record", &changed);
    if (err != KW_OK)
        return err;
    if (changed == 0)
        return KW_ERR_CONFLICT;
    memset(&p, 0, sizeof(p));
    KW_PG_FIELD(&p, lease->id);
    kw_pg_int(&p, lease->attempts + 1);
    kw_pg_int(&p, a->at);
    kw_pg_int(&p, a->status);
    kw_pg_text(&p, a->error != NULL ? a->error : "");
    kw_pg_int(&p, a->duration_ms);
    KW_PG_FIELD(&p, lease->node);
    return kw_pg_run(tx,
                     "INSERT INTO webhook_attempts(delivery_id, n, at, status, error, duration_ms, node) VALUES "
                     "($1::text, $2::bigint, $3::bigint, $4::bigint, $5::text, $6::bigint, $7::text)",
                     &p, "delivery_attempt", NULL);
}

enum kw_err kw_pg_delivery_release(struct kw_tx *tx, const char *node, const char *id, int64_t *released)
{
    struct kw_pg_params p = {0};
    int64_t n = 0;
    enum kw_err err;

    kw_pg_text(&p, node);
    kw_pg_text(&p, id != NULL ? id : "");
    err = kw_pg_run(tx,
                    "UPDATE webhook_deliveries SET lease_owner = '', lease_until = 0 WHERE lease_owner = $1::text "
                    "AND lease_until > 0 AND state = 'pending' AND ($2::text = '' OR id = $2::text)",
                    &p, "delivery_release", &n);
    if (released != NULL)
        *released = err == KW_OK ? n : 0;
    return err;
}

enum kw_err kw_pg_webhook_gone(struct kw_tx *tx, const char *webhook_id, int64_t now_ms, int64_t *failed)
{
    struct kw_pg_params p = {0};
    int64_t n = 0;
    enum kw_err err;

    if (failed != NULL)
        *failed = 0;
    kw_pg_int(&p, now_ms);
    kw_pg_text(&p, webhook_id);
    err = kw_pg_run(tx,
                    "UPDATE webhooks SET enabled = 0, disabled_reason = 'gone', updated_at = $1::bigint "
                    "WHERE id = $2::text",
                    &p, "webhook_gone", &n);
    if (err == KW_OK && n == 0)
        err = KW_ERR_NOT_FOUND;
    if (err == KW_OK)
        err = kw_pg_run(tx,
                        "UPDATE webhook_deliveries SET state = 'failed', last_error = 'gone', lease_owner = '', "
                        "lease_until = 0, updated_at = $1::bigint WHERE webhook_id = $2::text AND state = 'pending'",
                        &p, "webhook_gone_fail", &n);
    if (err == KW_OK && failed != NULL)
        *failed = n;
    return err;
}
