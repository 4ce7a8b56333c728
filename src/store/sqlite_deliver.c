/* sqlite_deliver.c - webhook delivery leases (store.h) for the SQLite backend. One node writes this
 * database, and a write transaction locks all of it, so "lease the due rows" is a SELECT followed by
 * an UPDATE per row inside the caller's transaction. The sender runs these a few times a second at
 * most, so statements are prepared per call. */
#include <stdio.h>
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(q, i, v) sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC)

/* Steps q to the end (a statement returning no rows); *changed (may be NULL) = rows changed. */
static enum kw_err run(struct kw_sqlite *s, sqlite3_stmt *q, const char *op, int64_t *changed)
{
    int rc = sqlite3_step(q);
    enum kw_err err = rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, op, rc);

    if (err == KW_OK && changed != NULL)
        *changed = sqlite3_changes(s->db);
    kw_sq_once_end(s, q);
    return err;
}

static void blob(sqlite3_stmt *q, int col, uint8_t *dst, size_t cap, size_t *len)
{
    const void *p = sqlite3_column_blob(q, col);
    size_t n = (size_t)sqlite3_column_bytes(q, col);

    *len = 0;
    if (p != NULL && n <= cap) {
        memcpy(dst, p, n);
        *len = n;
    }
}

static void lease_row(sqlite3_stmt *q, struct kw_delivery_lease *d)
{
    const unsigned char *payload;

    memset(d, 0, sizeof(*d));
    kw_sq_text(q, 0, d->id, sizeof(d->id));
    kw_sq_text(q, 1, d->webhook_id, sizeof(d->webhook_id));
    kw_sq_text(q, 2, d->service_id, sizeof(d->service_id));
    kw_sq_text(q, 3, d->event_type, sizeof(d->event_type));
    d->attempts = sqlite3_column_int64(q, 4);
    d->next_attempt_at = sqlite3_column_int64(q, 5);
    kw_sq_text(q, 6, d->url, sizeof(d->url));
    payload = sqlite3_column_text(q, 7);
    d->payload_len = (size_t)sqlite3_column_bytes(q, 7);
    if (payload != NULL && d->payload_len < sizeof(d->payload))
        memcpy(d->payload, payload, d->payload_len + 1);
    blob(q, 8, d->secret_sealed, sizeof(d->secret_sealed), &d->secret_len);
    blob(q, 9, d->prev_sealed, sizeof(d->prev_sealed), &d->prev_len);
    d->prev_until = sqlite3_column_int64(q, 10);
}

/* Sets the lease on each of items[0..n). */
static enum kw_err take(struct kw_sqlite *s, const char *node, int64_t until, struct kw_delivery_lease *items,
                        size_t n)
{
    enum kw_err err = KW_OK;
    size_t i;

    for (i = 0; i < n && err == KW_OK; i++) {
        sqlite3_stmt *q = kw_sq_once(s, "UPDATE webhook_deliveries SET lease_owner = ?1, lease_until = ?2 WHERE id = ?3");
        if (q == NULL)
            return KW_ERR_STORE;
        TEXT(q, 1, node);
        sqlite3_bind_int64(q, 2, until);
        KW_SQ_FIELD(q, 3, items[i].id);
        err = run(s, q, "delivery_lease", NULL);
        snprintf(items[i].node, sizeof(items[i].node), "%s", node);
        items[i].lease_until = until;
    }
    return err;
}

enum kw_err kw_sq_delivery_lease(struct kw_tx *tx, const char *node, int64_t now_ms, int64_t lease_ms,
                                 struct kw_delivery_lease *items, size_t cap, size_t *n)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q;
    enum kw_err err = KW_OK;
    int rc;

    *n = 0;
    q = kw_sq_once(s, "SELECT d.id, d.webhook_id, d.service_id, d.event_type, d.attempts, d.next_attempt_at, w.url, "
                "d.payload, w.secret_sealed, w.prev_secret_sealed, w.prev_secret_until "
                "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                "WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 AND d.lease_until <= ?1 AND w.enabled = 1 "
                "ORDER BY d.next_attempt_at, d.seq LIMIT ?2");
    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, now_ms);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)cap);
    while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW)
        lease_row(q, &items[(*n)++]);
    if (*n < cap && rc != SQLITE_DONE)
        err = kw_sq_fail(s, "delivery_lease", rc);
    kw_sq_once_end(s, q);
    if (err == KW_OK)
        err = take(s, node, now_ms + lease_ms, items, *n);
    if (err != KW_OK)
        *n = 0;
    return err;
}

enum kw_err kw_sq_delivery_record(struct kw_tx *tx, const struct kw_delivery_lease *lease,
                                  const struct kw_delivery_attempt *a)
{
    struct kw_sqlite *s = SQ(tx->st);
    enum kw_err err = kw_sq_atomic_begin(s);
    sqlite3_stmt *q;
    int64_t changed = 0;

    if (err != KW_OK)
        return err;
    q = kw_sq_once(s, "UPDATE webhook_deliveries SET attempts = attempts + 1, state = ?1, "
                "next_attempt_at = CASE WHEN ?1 = 'pending' THEN ?2 ELSE next_attempt_at END, last_status = ?3, "
                "last_error = ?4, lease_owner = '', lease_until = 0, updated_at = ?5 "
                "WHERE id = ?6 AND lease_owner = ?7 AND lease_until = ?8 AND state = 'pending' AND attempts = ?9");
    if (q == NULL)
        return kw_sq_atomic_end(s, KW_ERR_STORE);
    TEXT(q, 1, a->state);
    sqlite3_bind_int64(q, 2, a->next_attempt_at);
    sqlite3_bind_int64(q, 3, a->status);
    TEXT(q, 4, a->error != NULL ? a->error : "");
    sqlite3_bind_int64(q, 5, a->at + a->duration_ms);
    KW_SQ_FIELD(q, 6, lease->id);
    KW_SQ_FIELD(q, 7, lease->node);
    sqlite3_bind_int64(q, 8, lease->lease_until);
    sqlite3_bind_int64(q, 9, lease->attempts);
    err = run(s, q, "delivery_record", &changed);
    if (err == KW_OK && changed == 0)
        err = KW_ERR_CONFLICT;
    if (err == KW_OK && (q = kw_sq_once(s, "INSERT INTO webhook_attempts(delivery_id, n, at, status, error, duration_ms, "
                                     "node) VALUES (?, ?, ?, ?, ?, ?, ?)")) == NULL)
        err = KW_ERR_STORE;
    if (err == KW_OK) {
        KW_SQ_FIELD(q, 1, lease->id);
        sqlite3_bind_int64(q, 2, lease->attempts + 1);
        sqlite3_bind_int64(q, 3, a->at);
        sqlite3_bind_int64(q, 4, a->status);
        TEXT(q, 5, a->error != NULL ? a->error : "");
        sqlite3_bind_int64(q, 6, a->duration_ms);
        KW_SQ_FIELD(q, 7, lease->node);
        err = run(s, q, "delivery_attempt", NULL);
    }
    return kw_sq_atomic_end(s, err);
}

enum kw_err kw_sq_delivery_release(struct kw_tx *tx, const char *node, const char *id, int64_t *released)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = kw_sq_once(s, "UPDATE webhook_deliveries SET lease_owner = '', lease_until = 0 "
                              "WHERE lease_owner = ?1 AND lease_until > 0 AND state = 'pending' "
                              "AND (?2 IS NULL OR id = ?2)");
    int64_t n = 0;
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, node);
    if (id != NULL)
        TEXT(q, 2, id);
    else
        sqlite3_bind_null(q, 2);
    err = run(s, q, "delivery_release", &n);
    if (released != NULL)
        *released = err == KW_OK ? n : 0;
    return err;
}

enum kw_err kw_sq_webhook_gone(struct kw_tx *tx, const char *webhook_id, int64_t now_ms, int64_t *failed)
{
    struct kw_sqlite *s = SQ(tx->st);
    enum kw_err err = kw_sq_atomic_begin(s);
    sqlite3_stmt *q;
    int64_t n = 0;

    if (failed != NULL)
        *failed = 0;
    if (err != KW_OK)
        return err;
    q = kw_sq_once(s, "UPDATE webhooks SET enabled = 0, disabled_reason = 'gone', updated_at = ?1 WHERE id = ?2");
    if (q == NULL)
        return kw_sq_atomic_end(s, KW_ERR_STORE);
    sqlite3_bind_int64(q, 1, now_ms);
    TEXT(q, 2, webhook_id);
    err = run(s, q, "webhook_gone", &n);
    if (err == KW_OK && n == 0)
        err = KW_ERR_NOT_FOUND;
    /* The caller records its own 410 attempt first (in the same transaction), so every delivery still
     * pending fails here, leased or not: an attempt in flight elsewhere then finds its lease gone. */
    if (err == KW_OK &&
        (q = kw_sq_once(s, "UPDATE webhook_deliveries SET state = 'failed', last_error = 'gone', lease_owner = '', "
                     "lease_until = 0, updated_at = ?1 WHERE webhook_id = ?2 AND state = 'pending'")) == NULL)
        err = KW_ERR_STORE;
    if (err == KW_OK) {
        sqlite3_bind_int64(q, 1, now_ms);
        TEXT(q, 2, webhook_id);
        err = run(s, q, "webhook_gone_fail", &n);
        if (err == KW_OK && failed != NULL)
            *failed = n;
    }
    return kw_sq_atomic_end(s, err);
}
