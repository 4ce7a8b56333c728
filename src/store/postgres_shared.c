/* postgres_shared.c - login-throttle counters, session purge and job leases for the PostgreSQL backend:
 * the state every node of a deployment must agree on. Each operation is one statement, so it holds
 * its row lock only until its transaction ends. */
#include <string.h>

#include "store/postgres_internal.h"

static void throttle_row(const PGresult *res, struct kw_throttle_row *row)
{
    row->window_start = kw_pg_get_int(res, 0, 0);
    row->count = kw_pg_get_int(res, 0, 1);
    row->inflight = kw_pg_get_int(res, 0, 2);
}

/* Runs sql; *got = whether a row came back (read into row when non-NULL). */
static enum kw_err throttle_exec(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, int *got,
                                 struct kw_throttle_row *row, const char *op)
{
    enum kw_err err;
    PGresult *res = kw_pg_exec(tx, sql, p, op, &err);

    if (res == NULL)
        return err;
    *got = PQntuples(res) > 0;
    if (*got && row != NULL)
        throttle_row(res, row);
    PQclear(res);
    return KW_OK;
}

#define AT_REST "(throttle.count = 0 OR throttle.window_start <= $2::bigint - $3::bigint)"

/* The row lock of the upsert serialises concurrent reservations of one key across nodes: the second
 * sees the first's count (READ COMMITTED re-reads the row it waited for), so at most limit pass. */
enum kw_err kw_pg_throttle_reserve(struct kw_tx *tx, const char *key, int limit, int64_t now_ms,
                                   int64_t window_ms, int *reserved, struct kw_throttle_row *row)
{
    struct kw_pg_params p = {0};
    enum kw_err err;

    kw_pg_text(&p, key);
    kw_pg_int(&p, now_ms);
    kw_pg_int(&p, window_ms);
    kw_pg_int(&p, limit);
    err = throttle_exec(
        tx,
        "INSERT INTO throttle(key, window_start, count, inflight) VALUES ($1::text, $2::bigint, 1, 1) "
        "ON CONFLICT (key) DO UPDATE SET "
        "window_start = CASE WHEN " AT_REST " THEN $2::bigint ELSE throttle.window_start END, "
        "count = CASE WHEN " AT_REST " THEN 1 ELSE throttle.count + 1 END, "
        "inflight = CASE WHEN " AT_REST " THEN 1 ELSE throttle.inflight + 1 END "
        "WHERE " AT_REST " OR throttle.count < $4::bigint "
        "RETURNING window_start, count, inflight",
        &p, reserved, row, "throttle_reserve");
    if (err != KW_OK || *reserved)
        return err;
    p.n = 1; /* refused: the row as it stands, for the caller's wait */
    return throttle_exec(tx, "SELECT window_start, count, inflight FROM throttle WHERE key = $1::text", &p,
                         &(int){0}, row, "throttle_get");
}

enum kw_err kw_pg_throttle_settle(struct kw_tx *tx, const char *key, enum kw_store_settle how, int64_t now_ms,
                                  int64_t window_ms)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, key);
    kw_pg_int(&p, now_ms);
    kw_pg_int(&p, window_ms);
    kw_pg_int(&p, (int64_t)how);
    return kw_pg_run(tx,
                     "UPDATE throttle SET inflight = inflight - 1, "
                     "count = CASE $4::int WHEN 0 THEN (CASE WHEN window_start <= $2::bigint - $3::bigint "
                     "THEN inflight ELSE count END) WHEN 1 THEN count - 1 ELSE inflight - 1 END, "
                     "window_start = CASE WHEN $4::int = 0 AND window_start <= $2::bigint - $3::bigint "
                     "THEN $2::bigint ELSE window_start END "
                     "WHERE key = $1::text AND inflight > 0",
                     &p, "throttle_settle", NULL);
}

enum kw_err kw_pg_throttle_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted)
{
    struct kw_pg_params p = {0};
    int64_t n = 0;
    enum kw_err err;

    kw_pg_int(&p, before_ms);
    err = kw_pg_run(tx, "DELETE FROM throttle WHERE window_start <= $1::bigint OR count <= 0", &p,
                    "throttle_purge", &n);
    if (err == KW_OK && deleted != NULL)
        *deleted = n;
    return err;
}

enum kw_err kw_pg_session_purge(struct kw_tx *tx, int64_t now_ms, int64_t idle_before_ms, int64_t *deleted)
{
    struct kw_pg_params p = {0};
    int64_t n = 0;
    enum kw_err err;

    kw_pg_int(&p, now_ms);
    kw_pg_int(&p, idle_before_ms);
    err = kw_pg_run(tx, "DELETE FROM sessions WHERE expires_at <= $1::bigint OR last_seen <= $2::bigint", &p,
                    "session_purge", &n);
    if (err == KW_OK && deleted != NULL)
        *deleted = n;
    return err;
}

/* ---- jobs ---- */

#define JOB_COLS "name, next_run_at, lease_until, leased_by, last_run_by, last_ok_at, last_error, runs"

static void job_row(const PGresult *res, int r, void *item)
{
    struct kw_job *j = item;

    memset(j, 0, sizeof(*j));
    kw_pg_get_text(res, r, 0, j->name, sizeof(j->name));
    j->next_run_at = kw_pg_get_int(res, r, 1);
    j->lease_until = kw_pg_get_int(res, r, 2);
    kw_pg_get_text(res, r, 3, j->leased_by, sizeof(j->leased_by));
    kw_pg_get_text(res, r, 4, j->last_run_by, sizeof(j->last_run_by));
    j->last_ok_at = kw_pg_get_int(res, r, 5);
    kw_pg_get_text(res, r, 6, j->last_error, sizeof(j->last_error));
    j->runs = kw_pg_get_int(res, r, 7);
}

static enum kw_err job_one(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p,
                           struct kw_job *out, const char *op)
{
    enum kw_err err;
    PGresult *res = kw_pg_exec(tx, sql, p, op, &err);

    return res == NULL ? err : kw_pg_one(res, job_row, out);
}

enum kw_err kw_pg_job_ensure(struct kw_tx *tx, const char *name, int64_t next_run_at)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, name);
    kw_pg_int(&p, next_run_at);
    return kw_pg_run(
        tx, "INSERT INTO jobs(name, next_run_at) VALUES ($1::text, $2::bigint) ON CONFLICT (name) DO NOTHING",
        &p, "job_ensure", NULL);
}

/* The classic queue: the due row is locked by the subquery, and a row another node is leasing right now
 * is skipped rather than waited for. The outer WHERE repeats the due test, so a row whose lease another
 * node committed since this statement's snapshot is re-checked (READ COMMITTED) and not taken twice. */
enum kw_err kw_pg_job_lease(struct kw_tx *tx, const char *name, const char *node, int64_t now_ms,
                            int64_t lease_ms, struct kw_job *out)
{
    struct kw_pg_params p = {0};

    kw_pg_int(&p, now_ms);
    kw_pg_int(&p, lease_ms);
    kw_pg_text(&p, node);
    kw_pg_text(&p, name);
    return job_one(tx,
                   "UPDATE jobs SET lease_until = $1::bigint + $2::bigint, leased_by = $3::text "
                   "WHERE next_run_at <= $1::bigint AND lease_until <= $1::bigint AND name = "
                   "(SELECT name FROM jobs WHERE name = $4::text AND next_run_at <= $1::bigint "
                   "AND lease_until <= $1::bigint FOR UPDATE SKIP LOCKED) RETURNING " JOB_COLS,
                   &p, out, "job_lease");
}

enum kw_err kw_pg_job_finish(struct kw_tx *tx, const struct kw_job *lease, int64_t now_ms,
                             int64_t next_run_at, const char *error)
{
    struct kw_pg_params p = {0};
    int64_t n = 0;
    enum kw_err err;

    kw_pg_int(&p, next_run_at);
    kw_pg_text(&p, error != NULL ? error : "");
    kw_pg_int(&p, now_ms);
    KW_PG_FIELD(&p, lease->name);
    KW_PG_FIELD(&p, lease->leased_by);
    kw_pg_int(&p, lease->lease_until);
    err = kw_pg_run(
        tx,
        "UPDATE jobs SET lease_until = 0, next_run_at = $1::bigint, last_run_by = leased_by, "
        "runs = runs + 1, last_ok_at = CASE WHEN $2::text = '' THEN $3::bigint ELSE last_ok_at END, "
        "last_error = $2::text WHERE name = $4::text AND leased_by = $5::text AND lease_until = $6::bigint",
        &p, "job_finish", &n);
    return err == KW_OK && n == 0 ? KW_ERR_CONFLICT : err;
}

enum kw_err kw_pg_job_get(struct kw_tx *tx, const char *name, struct kw_job *out)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, name);
    return job_one(tx, "SELECT " JOB_COLS " FROM jobs WHERE name = $1::text", &p, out, "job_get");
}
