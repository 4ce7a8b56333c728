/* sqlite_shared.c - login-throttle counters, session purge and job leases for the SQLite backend (one
 * node: a write transaction locks the whole database, which is all a lease needs). These statements
 * run at most a few times a second, so they are prepared per call instead of cached. */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)

/* Steps q once: KW_OK with *row set to whether a row came, or kw_sq_fail. */
static enum kw_err step(struct kw_sqlite *s, sqlite3_stmt *q, int *row, const char *op)
{
    int rc = sqlite3_step(q);

    *row = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, op, rc);
}

static void throttle_row(sqlite3_stmt *q, struct kw_throttle_row *row)
{
    row->window_start = sqlite3_column_int64(q, 0);
    row->count = sqlite3_column_int64(q, 1);
    row->inflight = sqlite3_column_int64(q, 2);
}

#define AT_REST "(throttle.count = 0 OR throttle.window_start <= ?2 - ?3)"

enum kw_err kw_sq_throttle_reserve(struct kw_tx *tx, const char *key, int limit, int64_t now_ms,
                                   int64_t window_ms, int *reserved, struct kw_throttle_row *row)
{
    sqlite3_stmt *q =
        kw_sq_once(SQ(tx->st), "INSERT INTO throttle(key, window_start, count, inflight) VALUES (?1, ?2, 1, 1) "
                         "ON CONFLICT(key) DO UPDATE SET "
                         "window_start = CASE WHEN " AT_REST " THEN ?2 ELSE throttle.window_start END, "
                         "count = CASE WHEN " AT_REST " THEN 1 ELSE throttle.count + 1 END, "
                         "inflight = CASE WHEN " AT_REST " THEN 1 ELSE throttle.inflight + 1 END "
                         "WHERE " AT_REST " OR throttle.count < ?4 "
                         "RETURNING window_start, count, inflight");
    enum kw_err err;
    int got = 0;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, key);
    sqlite3_bind_int64(q, 2, now_ms);
    sqlite3_bind_int64(q, 3, window_ms);
    sqlite3_bind_int(q, 4, limit);
    err = step(SQ(tx->st), q, &got, "throttle_reserve");
    if (err == KW_OK && got)
        throttle_row(q, row);
    kw_sq_once_end(SQ(tx->st), q);
    *reserved = got;
    if (err != KW_OK || got)
        return err;
    /* Refused: the row as it stands, for the caller's wait. */
    if ((q = kw_sq_once(SQ(tx->st), "SELECT window_start, count, inflight FROM throttle WHERE key = ?")) == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, key);
    err = step(SQ(tx->st), q, &got, "throttle_get");
    if (err == KW_OK && got)
        throttle_row(q, row);
    kw_sq_once_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_throttle_settle(struct kw_tx *tx, const char *key, enum kw_store_settle how, int64_t now_ms,
                                  int64_t window_ms)
{
    sqlite3_stmt *q =
        kw_sq_once(SQ(tx->st),
             "UPDATE throttle SET inflight = inflight - 1, "
             "count = CASE ?4 WHEN 0 THEN (CASE WHEN window_start <= ?2 - ?3 THEN inflight ELSE count END) "
             "WHEN 1 THEN count - 1 ELSE inflight - 1 END, "
             "window_start = CASE WHEN ?4 = 0 AND window_start <= ?2 - ?3 THEN ?2 ELSE window_start END "
             "WHERE key = ?1 AND inflight > 0");
    enum kw_err err;
    int got;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, key);
    sqlite3_bind_int64(q, 2, now_ms);
    sqlite3_bind_int64(q, 3, window_ms);
    sqlite3_bind_int(q, 4, (int)how);
    err = step(SQ(tx->st), q, &got, "throttle_settle");
    kw_sq_once_end(SQ(tx->st), q);
    return err;
}

/* Runs a DELETE with two integer parameters; *deleted (may be NULL) = rows deleted. */
static enum kw_err purge(struct kw_tx *tx, const char *sql, int64_t a, int64_t b, int64_t *deleted,
                         const char *op)
{
    sqlite3_stmt *q = kw_sq_once(SQ(tx->st), sql);
    enum kw_err err;
    int got;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, a);
    sqlite3_bind_int64(q, 2, b);
    err = step(SQ(tx->st), q, &got, op);
    if (err == KW_OK && deleted != NULL)
        *deleted = sqlite3_changes(SQ(tx->st)->db);
    kw_sq_once_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_throttle_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted)
{
    return purge(tx, "DELETE FROM throttle WHERE window_start <= ?1 OR count <= ?2", before_ms, 0, deleted,
                 "throttle_purge");
}

enum kw_err kw_sq_session_purge(struct kw_tx *tx, int64_t now_ms, int64_t idle_before_ms, int64_t *deleted)
{
    return purge(tx, "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen <= ?2", now_ms, idle_before_ms,
                 deleted, "session_purge");
}

/* ---- jobs ---- */

#define JOB_COLS "name, next_run_at, lease_until, leased_by, last_run_by, last_ok_at, last_error, runs"

static void job_row(sqlite3_stmt *q, struct kw_job *j)
{
    memset(j, 0, sizeof(*j));
    kw_sq_text(q, 0, j->name, sizeof(j->name));
    j->next_run_at = sqlite3_column_int64(q, 1);
    j->lease_until = sqlite3_column_int64(q, 2);
    kw_sq_text(q, 3, j->leased_by, sizeof(j->leased_by));
    kw_sq_text(q, 4, j->last_run_by, sizeof(j->last_run_by));
    j->last_ok_at = sqlite3_column_int64(q, 5);
    kw_sq_text(q, 6, j->last_error, sizeof(j->last_error));
    j->runs = sqlite3_column_int64(q, 7);
}

enum kw_err kw_sq_job_ensure(struct kw_tx *tx, const char *name, int64_t next_run_at)
{
    sqlite3_stmt *q =
        kw_sq_once(SQ(tx->st), "INSERT INTO jobs(name, next_run_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING");
    enum kw_err err;
    int got;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, name);
    sqlite3_bind_int64(q, 2, next_run_at);
    err = step(SQ(tx->st), q, &got, "job_ensure");
    kw_sq_once_end(SQ(tx->st), q);
    return err;
}

/* Runs a statement returning at most one job row: KW_ERR_NOT_FOUND when none. */
static enum kw_err job_one(struct kw_tx *tx, sqlite3_stmt *q, struct kw_job *out, const char *op)
{
    enum kw_err err;
    int got = 0;

    err = step(SQ(tx->st), q, &got, op);
    if (err == KW_OK && got)
        job_row(q, out);
    kw_sq_once_end(SQ(tx->st), q);
    return err == KW_OK && !got ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_sq_job_lease(struct kw_tx *tx, const char *name, const char *node, int64_t now_ms,
                            int64_t lease_ms, struct kw_job *out)
{
    sqlite3_stmt *q = kw_sq_once(
        SQ(tx->st), "UPDATE jobs SET lease_until = ?1 + ?2, leased_by = ?3 WHERE name = "
                    "(SELECT name FROM jobs WHERE name = ?4 AND next_run_at <= ?1 AND lease_until <= ?1) "
                    "RETURNING " JOB_COLS);

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, now_ms);
    sqlite3_bind_int64(q, 2, lease_ms);
    TEXT(q, 3, node);
    TEXT(q, 4, name);
    return job_one(tx, q, out, "job_lease");
}

enum kw_err kw_sq_job_finish(struct kw_tx *tx, const struct kw_job *lease, int64_t now_ms,
                             int64_t next_run_at, const char *error)
{
    sqlite3_stmt *q =
        kw_sq_once(SQ(tx->st), "UPDATE jobs SET lease_until = 0, next_run_at = ?1, last_run_by = leased_by, "
                         "runs = runs + 1, last_ok_at = CASE WHEN ?2 = '' THEN ?3 ELSE last_ok_at END, "
                         "last_error = ?2 WHERE name = ?4 AND leased_by = ?5 AND lease_until = ?6");
    enum kw_err err;
    int got;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, next_run_at);
    TEXT(q, 2, error != NULL ? error : "");
    sqlite3_bind_int64(q, 3, now_ms);
    KW_SQ_FIELD(q, 4, lease->name);
    KW_SQ_FIELD(q, 5, lease->leased_by);
    sqlite3_bind_int64(q, 6, lease->lease_until);
    err = step(SQ(tx->st), q, &got, "job_finish");
    if (err == KW_OK && sqlite3_changes(SQ(tx->st)->db) == 0)
        err = KW_ERR_CONFLICT;
    kw_sq_once_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_job_get(struct kw_tx *tx, const char *name, struct kw_job *out)
{
    sqlite3_stmt *q = kw_sq_once(SQ(tx->st), "SELECT " JOB_COLS " FROM jobs WHERE name = ?");

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, name);
    return job_one(tx, q, out, "job_get");
}
