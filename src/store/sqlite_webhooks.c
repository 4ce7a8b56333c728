/* sqlite_webhooks.c - webhooks, their deliveries (the outbox) and attempts for the SQLite backend
 * (store.h: webhooks). Statements are prepared per call (the delivery thread's hot statements live in
 * sqlite_deliver.c). */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)
#define WH_COLS                                                                                              \
    "seq, id, service_id, url, events, description, enabled, disabled_reason, secret_sealed, "            \
    "prev_secret_sealed, prev_secret_until, created_by, created_at, updated_at"
#define DL_COLS                                                                                              \
    "seq, id, webhook_id, service_id, event_type, payload, created_at, state, attempts, next_attempt_at, "  \
    "lease_owner, lease_until, last_status, last_error, updated_at"
#define AT_COLS "delivery_id, n, at, status, error, duration_ms, node"

/* Locks the connection and prepares sql; NULL (logged, unlocked) on failure. */
static sqlite3_stmt *prep(struct kw_sqlite *s, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int rc;

    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK || q == NULL) {
        kw_sq_fail(s, "prepare", rc != SQLITE_OK ? rc : SQLITE_MISUSE);
        sqlite3_finalize(q);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    return q;
}

/* Steps a statement that returns no rows; finalizes and unlocks. *changed = rows changed, *rowid the
 * last inserted (either may be NULL). */
static enum kw_err run(struct kw_sqlite *s, sqlite3_stmt *q, const char *op, int *changed, int64_t *rowid)
{
    int rc = sqlite3_step(q);
    enum kw_err err = rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, op, rc);

    if (changed != NULL)
        *changed = sqlite3_changes(s->db);
    if (rowid != NULL && err == KW_OK)
        *rowid = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return err;
}

/* Rows of q into items (item_size each) via row(); finalizes and unlocks. */
static enum kw_err collect(struct kw_sqlite *s, sqlite3_stmt *q, void (*row)(sqlite3_stmt *, void *), void *items,
                           size_t item_size, size_t cap, size_t *n, const char *op)
{
    enum kw_err err = KW_OK;
    int rc = SQLITE_DONE;

    *n = 0;
    while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        row(q, (char *)items + *n * item_size);
        (*n)++;
    }
    if (*n < cap && rc != SQLITE_DONE)
        err = kw_sq_fail(s, op, rc);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return err;
}

/* One row of q into out via row(), KW_ERR_NOT_FOUND if none; finalizes and unlocks. */
static enum kw_err one(struct kw_sqlite *s, sqlite3_stmt *q, void (*row)(sqlite3_stmt *, void *), void *out,
                       const char *op)
{
    int rc = sqlite3_step(q);
    enum kw_err err = KW_OK;

    if (rc == SQLITE_ROW)
        row(q, out);
    else
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(s, op, rc);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return err;
}

static void bind_blob(sqlite3_stmt *q, int i, const uint8_t *b, size_t len)
{
    if (len == 0)
        sqlite3_bind_null(q, i);
    else
        sqlite3_bind_blob(q, i, b, (int)len, SQLITE_STATIC);
}

/* A blob column of at most cap bytes; longer reads as none (opening it then fails). */
static size_t get_blob(sqlite3_stmt *q, int col, uint8_t *dst, size_t cap)
{
    const void *b = sqlite3_column_blob(q, col);
    int n = sqlite3_column_bytes(q, col);

    if (b == NULL || n <= 0 || (size_t)n > cap)
        return 0;
    memcpy(dst, b, (size_t)n);
    return (size_t)n;
}

static void wh_row(sqlite3_stmt *q, void *item)
{
    struct kw_webhook *w = item;

    memset(w, 0, sizeof(*w));
    w->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, w->id, sizeof(w->id));
    kw_sq_text(q, 2, w->service_id, sizeof(w->service_id));
    kw_sq_text(q, 3, w->url, sizeof(w->url));
    kw_sq_text(q, 4, w->events, sizeof(w->events));
    kw_sq_text(q, 5, w->description, sizeof(w->description));
    w->enabled = (int)sqlite3_column_int64(q, 6);
    kw_sq_text(q, 7, w->disabled_reason, sizeof(w->disabled_reason));
    w->secret_sealed_len = get_blob(q, 8, w->secret_sealed, sizeof(w->secret_sealed));
    w->prev_secret_sealed_len = get_blob(q, 9, w->prev_secret_sealed, sizeof(w->prev_secret_sealed));
    w->prev_secret_until = sqlite3_column_int64(q, 10);
    kw_sq_text(q, 11, w->created_by, sizeof(w->created_by));
    w->created_at = sqlite3_column_int64(q, 12);
    w->updated_at = sqlite3_column_int64(q, 13);
}

enum kw_err kw_sq_webhook_insert(struct kw_tx *tx, struct kw_webhook *w)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "INSERT INTO webhooks(id, service_id, url, events, description, enabled, "
                                       "disabled_reason, secret_sealed, prev_secret_sealed, prev_secret_until, "
                                       "created_by, created_at, updated_at) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, w->id);
    KW_SQ_FIELD(q, 2, w->service_id);
    KW_SQ_FIELD(q, 3, w->url);
    KW_SQ_FIELD(q, 4, w->events);
    KW_SQ_FIELD(q, 5, w->description);
    sqlite3_bind_int64(q, 6, w->enabled);
    KW_SQ_FIELD(q, 7, w->disabled_reason);
    sqlite3_bind_blob(q, 8, w->secret_sealed_len > 0 ? (const void *)w->secret_sealed : "",
                      (int)w->secret_sealed_len, SQLITE_STATIC);
    bind_blob(q, 9, w->prev_secret_sealed, w->prev_secret_sealed_len);
    sqlite3_bind_int64(q, 10, w->prev_secret_until);
    KW_SQ_FIELD(q, 11, w->created_by);
    sqlite3_bind_int64(q, 12, w->created_at);
    sqlite3_bind_int64(q, 13, w->updated_at);
    return run(SQ(tx->st), q, "webhook_insert", NULL, &w->seq);
}

enum kw_err kw_sq_webhook_get(struct kw_tx *tx, const char *id, struct kw_webhook *out)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "SELECT " WH_COLS " FROM webhooks WHERE id = ?");

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    return one(SQ(tx->st), q, wh_row, out, "webhook_get");
}

enum kw_err kw_sq_webhook_list(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_webhook *items,
                               size_t cap, size_t *n)
{
    sqlite3_stmt *q =
        prep(SQ(tx->st), "SELECT " WH_COLS " FROM webhooks WHERE service_id = ? AND seq > ? ORDER BY seq LIMIT ?");

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id);
    sqlite3_bind_int64(q, 2, after);
    sqlite3_bind_int64(q, 3, (int64_t)cap);
    return collect(SQ(tx->st), q, wh_row, items, sizeof(*items), cap, n, "webhook_list");
}

enum kw_err kw_sq_webhook_update(struct kw_tx *tx, const struct kw_webhook *w)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "UPDATE webhooks SET url = ?, events = ?, description = ?, enabled = ?, "
                                       "disabled_reason = ?, secret_sealed = ?, prev_secret_sealed = ?, "
                                       "prev_secret_until = ?, updated_at = ? WHERE id = ?");
    enum kw_err err;
    int changed = 0;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, w->url);
    KW_SQ_FIELD(q, 2, w->events);
    KW_SQ_FIELD(q, 3, w->description);
    sqlite3_bind_int64(q, 4, w->enabled);
    KW_SQ_FIELD(q, 5, w->disabled_reason);
    sqlite3_bind_blob(q, 6, w->secret_sealed_len > 0 ? (const void *)w->secret_sealed : "",
                      (int)w->secret_sealed_len, SQLITE_STATIC);
    bind_blob(q, 7, w->prev_secret_sealed, w->prev_secret_sealed_len);
    sqlite3_bind_int64(q, 8, w->prev_secret_until);
    sqlite3_bind_int64(q, 9, w->updated_at);
    KW_SQ_FIELD(q, 10, w->id);
    err = run(SQ(tx->st), q, "webhook_update", &changed, NULL);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_sq_webhook_delete(struct kw_tx *tx, const char *id)
{
    static const char *const sql[] = {
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = ?)",
        "DELETE FROM webhook_deliveries WHERE webhook_id = ?",
        "DELETE FROM webhooks WHERE id = ?",
    };
    enum kw_err err = kw_sq_atomic_begin(SQ(tx->st));
    int changed = 0;
    size_t i;

    if (err != KW_OK)
        return err;
    for (i = 0; err == KW_OK && i < sizeof(sql) / sizeof(sql[0]); i++) {
        sqlite3_stmt *q = prep(SQ(tx->st), sql[i]);
        if (q == NULL) {
            err = KW_ERR_STORE;
            break;
        }
        TEXT(q, 1, id);
        err = run(SQ(tx->st), q, "webhook_delete", &changed, NULL);
    }
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return kw_sq_atomic_end(SQ(tx->st), err);
}

enum kw_err kw_sq_webhook_count(struct kw_tx *tx, const char *service_id, int64_t *total, int64_t *enabled)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "SELECT count(*), coalesce(sum(enabled <> 0), 0) FROM webhooks "
                                       "WHERE service_id = ?");
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        if (total != NULL)
            *total = sqlite3_column_int64(q, 0);
        if (enabled != NULL)
            *enabled = sqlite3_column_int64(q, 1);
    } else {
        err = kw_sq_fail(SQ(tx->st), "webhook_count", rc == SQLITE_DONE ? SQLITE_MISUSE : rc);
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&SQ(tx->st)->mu);
    return err;
}

/* ---- deliveries ---- */

static void dl_row(sqlite3_stmt *q, void *item)
{
    struct kw_webhook_delivery *d = item;

    memset(d, 0, sizeof(*d));
    d->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, d->id, sizeof(d->id));
    kw_sq_text(q, 2, d->webhook_id, sizeof(d->webhook_id));
    kw_sq_text(q, 3, d->service_id, sizeof(d->service_id));
    kw_sq_text(q, 4, d->event_type, sizeof(d->event_type));
    kw_sq_text(q, 5, d->payload, sizeof(d->payload));
    d->created_at = sqlite3_column_int64(q, 6);
    kw_sq_text(q, 7, d->state, sizeof(d->state));
    d->attempts = sqlite3_column_int64(q, 8);
    d->next_attempt_at = sqlite3_column_int64(q, 9);
    kw_sq_text(q, 10, d->lease_owner, sizeof(d->lease_owner));
    d->lease_until = sqlite3_column_int64(q, 11);
    d->last_status = sqlite3_column_int64(q, 12);
    kw_sq_text(q, 13, d->last_error, sizeof(d->last_error));
    d->updated_at = sqlite3_column_int64(q, 14);
}

enum kw_err kw_sq_webhook_delivery_insert(struct kw_tx *tx, struct kw_webhook_delivery *d)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "INSERT INTO webhook_deliveries(id, webhook_id, service_id, event_type, "
                                       "payload, created_at, state, attempts, next_attempt_at, lease_owner, "
                                       "lease_until, last_status, last_error, updated_at) "
                                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, d->id);
    KW_SQ_FIELD(q, 2, d->webhook_id);
    KW_SQ_FIELD(q, 3, d->service_id);
    KW_SQ_FIELD(q, 4, d->event_type);
    KW_SQ_FIELD(q, 5, d->payload);
    sqlite3_bind_int64(q, 6, d->created_at);
    KW_SQ_FIELD(q, 7, d->state);
    sqlite3_bind_int64(q, 8, d->attempts);
    sqlite3_bind_int64(q, 9, d->next_attempt_at);
    KW_SQ_FIELD(q, 10, d->lease_owner);
    sqlite3_bind_int64(q, 11, d->lease_until);
    sqlite3_bind_int64(q, 12, d->last_status);
    KW_SQ_FIELD(q, 13, d->last_error);
    sqlite3_bind_int64(q, 14, d->updated_at);
    return run(SQ(tx->st), q, "webhook_delivery_insert", NULL, &d->seq);
}

enum kw_err kw_sq_webhook_delivery_get(struct kw_tx *tx, const char *id, struct kw_webhook_delivery *out)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "SELECT " DL_COLS " FROM webhook_deliveries WHERE id = ?");

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    return one(SQ(tx->st), q, dl_row, out, "webhook_delivery_get");
}

enum kw_err kw_sq_webhook_delivery_list(struct kw_tx *tx, const char *webhook_id, int64_t before,
                                        struct kw_webhook_delivery *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "SELECT " DL_COLS " FROM webhook_deliveries WHERE webhook_id = ? "
                                       "AND seq < ? ORDER BY seq DESC LIMIT ?");

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, webhook_id);
    sqlite3_bind_int64(q, 2, before > 0 ? before : INT64_MAX);
    sqlite3_bind_int64(q, 3, (int64_t)cap);
    return collect(SQ(tx->st), q, dl_row, items, sizeof(*items), cap, n, "webhook_delivery_list");
}

enum kw_err kw_sq_webhook_delivery_retry(struct kw_tx *tx, const char *id, int64_t now_ms)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = ?, "
                                       "lease_owner = '', lease_until = 0, updated_at = ? WHERE id = ?");
    enum kw_err err;
    int changed = 0;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, now_ms);
    sqlite3_bind_int64(q, 2, now_ms);
    TEXT(q, 3, id);
    err = run(SQ(tx->st), q, "webhook_delivery_retry", &changed, NULL);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

/* ---- attempts ---- */

static void at_row(sqlite3_stmt *q, void *item)
{
    struct kw_webhook_attempt *a = item;

    memset(a, 0, sizeof(*a));
    kw_sq_text(q, 0, a->delivery_id, sizeof(a->delivery_id));
    a->n = sqlite3_column_int64(q, 1);
    a->at = sqlite3_column_int64(q, 2);
    a->status = sqlite3_column_int64(q, 3);
    kw_sq_text(q, 4, a->error, sizeof(a->error));
    a->duration_ms = sqlite3_column_int64(q, 5);
    kw_sq_text(q, 6, a->node, sizeof(a->node));
}

enum kw_err kw_sq_webhook_attempt_insert(struct kw_tx *tx, const struct kw_webhook_attempt *a)
{
    sqlite3_stmt *q = prep(SQ(tx->st), "INSERT INTO webhook_attempts(" AT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)");

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, a->delivery_id);
    sqlite3_bind_int64(q, 2, a->n);
    sqlite3_bind_int64(q, 3, a->at);
    sqlite3_bind_int64(q, 4, a->status);
    KW_SQ_FIELD(q, 5, a->error);
    sqlite3_bind_int64(q, 6, a->duration_ms);
    KW_SQ_FIELD(q, 7, a->node);
    return run(SQ(tx->st), q, "webhook_attempt_insert", NULL, NULL);
}

enum kw_err kw_sq_webhook_attempt_list(struct kw_tx *tx, const char *delivery_id, struct kw_webhook_attempt *items,
                                       size_t cap, size_t *n)
{
    sqlite3_stmt *q =
        prep(SQ(tx->st), "SELECT " AT_COLS " FROM webhook_attempts WHERE delivery_id = ? ORDER BY n LIMIT ?");

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, delivery_id);
    sqlite3_bind_int64(q, 2, (int64_t)cap);
    return collect(SQ(tx->st), q, at_row, items, sizeof(*items), cap, n, "webhook_attempt_list");
}
