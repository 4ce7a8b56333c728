/* postgres_exec.c - running statements for the PostgreSQL backend: parameters, results, savepoints and
 * the mapping of the server's errors to kw_err. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

#include "core/log.h"
#include "store/postgres_internal.h"

void kw_pg_field(struct kw_pg_params *p, const char *field, size_t size)
{
    if (p->n >= KW_PG_MAXP)
        return; /* a programming error: the statement then fails on its missing parameter */
    p->v[p->n] = field;
    p->len[p->n] = (int)strnlen(field, size);
    p->fmt[p->n] = 1;
    p->n++;
}

void kw_pg_text(struct kw_pg_params *p, const char *s)
{
    kw_pg_field(p, s, strlen(s));
}

void kw_pg_blob(struct kw_pg_params *p, const uint8_t *b, size_t len)
{
    if (p->n >= KW_PG_MAXP)
        return;
    p->v[p->n] = (const char *)b;
    p->len[p->n] = (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

void kw_pg_int(struct kw_pg_params *p, int64_t v)
{
    if (p->n >= KW_PG_MAXP)
        return;
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

/* SQLSTATEs after which the same transaction may succeed if run again. */
static int retryable(const char *state)
{
    static const char *const codes[] = {
        "40001", /* serialization_failure */
        "40P01", /* deadlock_detected */
        "55P03", /* lock_not_available */
        "57014", /* query_canceled: statement_timeout (a lock held too long); bounded by the domain's
                  * retries, then 503, never a hang past the deadline */
        "57P01", /* admin_shutdown: the server is going away; the connection is reset */
        "57P02", /* crash_shutdown */
        "57P03", /* cannot_connect_now: starting up */
    };
    size_t i;

    if (strncmp(state, "08", 2) == 0) /* connection exceptions */
        return 1;
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(state, codes[i]) == 0)
            return 1;
    return 0;
}

enum kw_err kw_pg_fail(struct kw_pg_conn *c, const PGresult *res, const char *op)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char quoted[300];

    if (state != NULL && strcmp(state, "23505") == 0)
        return KW_ERR_EXISTS;
    /* The server's primary message never carries the connection URI; PQerrorMessage for a lost
     * connection names only host and port. The detail (which can quote row values) is not logged. */
    kw_log_quote(quoted, sizeof(quoted),
                 msg ? msg : (c && c->conn ? PQerrorMessage(c->conn) : "no connection"));
    if (c == NULL || c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD) {
        kw_log_warn("store connection lost", "op=%s err=%s", op, quoted);
        return KW_ERR_RETRY;
    }
    if (state != NULL && retryable(state)) {
        kw_log_warn("store busy", "op=%s sqlstate=%s err=%s", op, state, quoted);
        return KW_ERR_RETRY;
    }
    kw_log_error("store failure", "op=%s sqlstate=%s err=%s", op, state ? state : "-", quoted);
    return KW_ERR_STORE;
}

static int64_t mono_ms(void)
{
    return (int64_t)(kw_time_mono_ns() / 1000000);
}

/* Gives up on c's connection: the server may still be working on what was sent, but nobody waits. */
static void drop(struct kw_pg *pg, struct kw_pg_conn *c, const char *why)
{
    kw_log_warn("store call abandoned", "err=\"%s\" deadline_ms=%d", why,
                pg->statement_timeout_ms + KW_PG_DEADLINE_MARGIN_MS);
    PQfinish(c->conn);
    c->conn = NULL;
    atomic_store(&pg->down_until_ms, mono_ms() + KW_PG_DOWN_MS);
}

PGresult *kw_pg_next_result(struct kw_pg *pg, struct kw_pg_conn *c, int timeout_ms, int *timed_out)
{
    int64_t deadline = mono_ms() + timeout_ms;
    struct pollfd pfd;

    *timed_out = 0;
    while (PQisBusy(c->conn)) {
        int64_t left = deadline - mono_ms();
        if (timeout_ms > 0 && left <= 0) {
            *timed_out = 1;
            drop(pg, c, "no answer before the deadline");
            return NULL;
        }
        pfd.fd = PQsocket(c->conn);
        pfd.events = POLLIN;
        if (poll(&pfd, 1, timeout_ms > 0 ? (int)left : -1) < 0 || !PQconsumeInput(c->conn))
            return NULL; /* broken: PQstatus says so, kw_pg_fail maps it */
    }
    return PQgetResult(c->conn);
}

PGresult *kw_pg_call(struct kw_pg *pg, struct kw_pg_conn *c, const char *sql, const struct kw_pg_params *p,
                     int timeout_ms)
{
    PGresult *res, *last = NULL;
    int sent, timed_out = 0;

    if (c->conn == NULL)
        return NULL;
    sent = p == NULL ? PQsendQuery(c->conn, sql)
                     : PQsendQueryParams(c->conn, sql, p->n, NULL, p->v, p->len, p->fmt, 0);
    if (!sent)
        return NULL;
    while ((res = kw_pg_next_result(pg, c, timeout_ms, &timed_out)) != NULL) {
        PQclear(last);
        last = res;
        if (PQstatus(c->conn) == CONNECTION_BAD)
            break;
    }
    if (timed_out) {
        PQclear(last);
        return NULL;
    }
    return last;
}

static int call_timeout(const struct kw_pg_tx *t)
{
    return KW_PG(t->base.st)->statement_timeout_ms + KW_PG_DEADLINE_MARGIN_MS;
}

static PGresult *exec_raw(struct kw_pg_tx *t, const char *sql, const struct kw_pg_params *p)
{
    struct kw_pg_params none = {0};

    return kw_pg_call(KW_PG(t->base.st), t->c, sql, p ? p : &none, call_timeout(t));
}

PGresult *kw_pg_exec(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                     enum kw_err *err)
{
    struct kw_pg_tx *t = KW_PG_TX(tx);
    PGresult *res;
    ExecStatusType s;

    if (t->failed != KW_OK) { /* aborted: every later statement would fail the same way */
        *err = t->failed;
        return NULL;
    }
    res = exec_raw(t, sql, p);
    s = PQresultStatus(res);
    if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
        *err = KW_OK;
        return res;
    }
    *err = kw_pg_fail(t->c, res, op);
    if (t->savepoint == 0)
        t->failed = *err; /* PostgreSQL aborted the transaction; commit will refuse */
    PQclear(res);
    return NULL;
}

enum kw_err kw_pg_run(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                      int64_t *changed)
{
    enum kw_err err;
    PGresult *res = kw_pg_exec(tx, sql, p, op, &err);

    if (res != NULL && changed != NULL)
        *changed = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return err;
}

/* One fixed statement outside the caller's parameters (SAVEPOINT and friends). */
static enum kw_err simple(struct kw_pg_tx *t, const char *sql)
{
    PGresult *res = kw_pg_call(KW_PG(t->base.st), t->c, sql, NULL, call_timeout(t));
    enum kw_err err = PQresultStatus(res) == PGRES_COMMAND_OK ? KW_OK : kw_pg_fail(t->c, res, "savepoint");

    PQclear(res);
    return err;
}

enum kw_err kw_pg_atomic_begin(struct kw_tx *tx)
{
    struct kw_pg_tx *t = KW_PG_TX(tx);
    enum kw_err err;

    if (t->failed != KW_OK)
        return t->failed;
    err = simple(t, "SAVEPOINT kw_atomic");
    if (err != KW_OK)
        t->failed = err;
    else
        t->savepoint++;
    return err;
}

enum kw_err kw_pg_atomic_end(struct kw_tx *tx, enum kw_err err)
{
    struct kw_pg_tx *t = KW_PG_TX(tx);
    enum kw_err e2;

    t->savepoint--;
    if (err == KW_OK)
        e2 = simple(t, "RELEASE SAVEPOINT kw_atomic");
    else
        e2 = simple(t, "ROLLBACK TO SAVEPOINT kw_atomic; RELEASE SAVEPOINT kw_atomic");
    if (e2 != KW_OK && t->savepoint == 0)
        t->failed = e2;
    if (err == KW_ERR_RETRY && t->savepoint == 0)
        t->failed = err; /* a retryable failure means the whole transaction must run again */
    return err != KW_OK ? err : e2;
}

enum kw_err kw_pg_run_sp(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                         int64_t *changed)
{
    enum kw_err err = kw_pg_atomic_begin(tx);

    if (err != KW_OK)
        return err;
    return kw_pg_atomic_end(tx, kw_pg_run(tx, sql, p, op, changed));
}

enum kw_err kw_pg_insert_seq(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                             int64_t *seq)
{
    enum kw_err err = kw_pg_atomic_begin(tx);
    PGresult *res;

    if (err != KW_OK)
        return err;
    res = kw_pg_exec(tx, sql, p, op, &err);
    if (res != NULL && PQntuples(res) == 1)
        *seq = kw_pg_get_int(res, 0, 0);
    PQclear(res);
    return kw_pg_atomic_end(tx, err);
}

enum kw_err kw_pg_each(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, kw_pg_each_fn row,
                       void *ctx, const char *op)
{
    struct kw_pg_tx *t = KW_PG_TX(tx);
    enum kw_err err = KW_OK;
    PGresult *res;
    int stopped = 0, timed_out = 0;

    if (t->failed != KW_OK)
        return t->failed;
    /* A walk (the cache load at start, audit verify) may outlast statement_timeout on a big table:
     * it is one statement the caller chose to run whole. */
    err = kw_pg_run(tx, "SET LOCAL statement_timeout = 0", NULL, op, NULL);
    if (err != KW_OK)
        return err;
    if (!PQsendQueryParams(t->c->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, p ? p->len : NULL,
                           p ? p->fmt : NULL, 0))
        return (t->failed = kw_pg_fail(t->c, NULL, op));
    PQsetSingleRowMode(t->c->conn);
    /* Every result is read to the end (after a stop too), so the connection is ready again; each one
     * within the call deadline (the walk as a whole may take longer). */
    while ((res = kw_pg_next_result(KW_PG(tx->st), t->c, call_timeout(t), &timed_out)) != NULL) {
        ExecStatusType s = PQresultStatus(res);
        if (s == PGRES_SINGLE_TUPLE && !stopped && err == KW_OK && row(ctx, res) != 0) {
            stopped = 1;
            err = KW_ERR_INTERNAL;
        } else if (s != PGRES_SINGLE_TUPLE && s != PGRES_TUPLES_OK && err == KW_OK) {
            err = kw_pg_fail(t->c, res, op);
            t->failed = err;
        }
        PQclear(res);
    }
    if (timed_out && err == KW_OK)
        err = t->failed = KW_ERR_RETRY;
    return err;
}

int64_t kw_pg_get_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void kw_pg_get_text(const PGresult *res, int row, int col, char *dst, size_t cap)
{
    size_t n = (size_t)PQgetlength(res, row, col);

    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, PQgetvalue(res, row, col), n);
    dst[n] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* bytea in text results is "\x" and two hex digits per byte; anything of another length reads as zeros. */
void kw_pg_get_blob(const PGresult *res, int row, int col, uint8_t *dst, size_t len)
{
    const char *v = PQgetvalue(res, row, col);
    size_t i;

    memset(dst, 0, len);
    if ((size_t)PQgetlength(res, row, col) != 2 + 2 * len || v[0] != '\\' || v[1] != 'x')
        return;
    for (i = 0; i < len; i++) {
        int hi = hexval(v[2 + 2 * i]), lo = hexval(v[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            memset(dst, 0, len);
            return;
        }
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
}

void kw_pg_collect(const PGresult *res, kw_pg_row_fn row, void *items, size_t item_size, size_t cap,
                   size_t *n)
{
    size_t i, rows = (size_t)PQntuples(res);

    for (i = 0; i < rows && i < cap; i++)
        row(res, (int)i, (char *)items + i * item_size);
    *n = i;
}

enum kw_err kw_pg_one(PGresult *res, kw_pg_row_fn row, void *out)
{
    enum kw_err err = KW_ERR_NOT_FOUND;

    if (PQntuples(res) > 0) {
        row(res, 0, out);
        err = KW_OK;
    }
    PQclear(res);
    return err;
}

const char *kw_pg_lock(const struct kw_tx *tx)
{
    return tx->mode == KW_TX_WRITE ? " FOR UPDATE" : "";
}
