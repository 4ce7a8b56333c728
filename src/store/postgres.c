/* postgres.c - the PostgreSQL backend (libpq): a pool of connections, transactions, migrations.
 *
 * Transactions. A write transaction is BEGIN ISOLATION LEVEL READ COMMITTED, and every row it reads
 * by key (key_get, service_get, user_get, member_get, and the rows count_admins counts) is read
 * FOR UPDATE, so a read-modify-write holds its rows until commit: a second writer on the same row waits
 * and then reads the committed result, exactly as the SQLite backend's BEGIN IMMEDIATE serialises
 * writers. We chose this over REPEATABLE READ with retries because admin writes touch few rows and
 * contend on the same ones (six parallel rolls of one key, a login racing a disable): under REPEATABLE
 * READ each such race aborts with 40001 and reruns, and a burst can exhaust the domain's four tries
 * (a 503 for a write that only had to wait); locking waits instead, and deadlocks (40P01) are still
 * mapped to KW_ERR_RETRY. A read transaction is REPEATABLE READ READ ONLY: one snapshot, never a
 * serialization failure.
 *
 * Version numbers come from one counter row (postgres_rows.c) and the audit head is taken under a
 * transaction-scoped advisory lock (postgres_audit.c): both serialise their writers deployment-wide.
 *
 * Pool. kw_store_begin takes a free connection (connecting it on first use), waiting at most the
 * statement timeout for one; a connection found broken is reset before use, and a transaction that
 * lost its connection answers KW_ERR_RETRY. Each connection sets statement_timeout and
 * application_name=keyward. The passwords come from libpq itself (PGPASSWORD, PGPASSFILE, ~/.pgpass);
 * core/config.c refuses a URI with a password on the command line, and nothing here logs the URI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "store/migrations.h"
#include <poll.h>

#include "store/postgres_internal.h"

/* pg_advisory_lock key held around migrate, so two nodes starting at once apply each migration once. */
#define KW_PG_MIGRATE_LOCK "7016996765293437281"

/* 1 if msg contains a password of uri (user:PASSWORD@ or password=PASSWORD): libpq's message for a
 * malformed URI can quote the offending part back ("invalid percent-encoded token: ..."). */
static int quotes_password(const char *uri, const char *msg)
{
    const char *auth = strstr(uri, "://"), *end, *at = NULL, *colon = NULL, *q;
    size_t n;

    if (auth == NULL)
        return 0;
    auth += 3;
    end = auth + strcspn(auth, "/?");
    for (q = auth; q < end; q++)
        if (*q == '@')
            at = q;
    if (at != NULL)
        colon = memchr(auth, ':', (size_t)(at - auth));
    if (colon != NULL && at > colon + 1 &&
        memmem(msg, strlen(msg), colon + 1, (size_t)(at - colon - 1)) != NULL)
        return 1;
    for (q = strstr(uri, "password="); q != NULL; q = strstr(q + 1, "password=")) {
        n = strcspn(q + 9, "&");
        if (n > 0 && memmem(msg, strlen(msg), q + 9, n) != NULL)
            return 1;
    }
    return 0;
}

/* libpq's message for a failed connection names host and port, never the password, unless it quotes
 * a malformed URI back: then it is withheld. */
static void log_connect_failure(const struct kw_pg *pg, PGconn *conn)
{
    const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
    char quoted[400];

    if (quotes_password(pg->uri, msg))
        msg = "connection failed (message withheld: it quotes the password part of the URI)";
    kw_log_quote(quoted, sizeof(quoted), msg);
    kw_log_error("cannot connect to PostgreSQL", "err=%s", quoted);
}

/* Per-connection settings, after every connect and reset. */
static int setup_conn(const struct kw_pg *pg, PGconn *conn)
{
    char sql[200];
    PGresult *res;
    int ok;

    snprintf(sql, sizeof(sql),
             "SET statement_timeout = %d; SET application_name = 'keyward'; "
             "SET client_min_messages = warning%s",
             pg->statement_timeout_ms, pg->relaxed ? "; SET synchronous_commit = off" : "");
    res = PQexec(conn, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok;
}

/* Connects (or resets) slot c's connection; 0 on success. Called without pg->mu, by the slot's owner. */
static int connect_slot(struct kw_pg *pg, struct kw_pg_conn *c)
{
    /* Earlier keywords are defaults the URI may override (expand_dbname: the URI's own parameters
     * take the place of "dbname"). */
    const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {"5", pg->uri, NULL};

    if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK)
        return 0;
    if (c->conn != NULL) {
        PQreset(c->conn);
    } else {
        c->conn = PQconnectdbParams(keys, vals, 1);
    }
    if (c->conn != NULL && PQstatus(c->conn) == CONNECTION_OK && setup_conn(pg, c->conn))
        return 0;
    log_connect_failure(pg, c->conn);
    return -1;
}

/* Takes a free slot, preferring one already connected; NULL after statement_timeout_ms. */
static struct kw_pg_conn *acquire(struct kw_pg *pg)
{
    struct kw_pg_conn *got = NULL;
    struct timespec deadline;
    int i, rc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += pg->statement_timeout_ms / 1000;
    deadline.tv_nsec += (long)(pg->statement_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&pg->mu);
    while (got == NULL && rc != ETIMEDOUT) {
        for (i = 0; i < pg->n; i++) {
            struct kw_pg_conn *c = &pg->conns[i];
            if (!c->busy && (got == NULL || (got->conn == NULL && c->conn != NULL)))
                got = c;
        }
        if (got == NULL)
            rc = pthread_cond_timedwait(&pg->freed, &pg->mu, &deadline);
    }
    if (got != NULL)
        got->busy = 1;
    pthread_mutex_unlock(&pg->mu);
    return got;
}

static void release(struct kw_pg *pg, struct kw_pg_conn *c)
{
    pthread_mutex_lock(&pg->mu);
    c->busy = 0;
    pthread_cond_signal(&pg->freed);
    pthread_mutex_unlock(&pg->mu);
}

/* A connected slot, or NULL (logged) with *err = KW_ERR_RETRY: the database is unreachable or every
 * connection stayed busy past the deadline. */
static struct kw_pg_conn *take(struct kw_pg *pg, enum kw_err *err)
{
    struct kw_pg_conn *c = acquire(pg);

    *err = KW_ERR_RETRY;
    if (c == NULL) {
        kw_log_warn("store pool exhausted", "size=%d waited_ms=%d", pg->n, pg->statement_timeout_ms);
        return NULL;
    }
    if (connect_slot(pg, c) != 0) {
        release(pg, c);
        return NULL;
    }
    *err = KW_OK;
    return c;
}

static enum kw_err pg_begin(struct kw_store *st, enum kw_tx_mode mode, struct kw_tx **out)
{
    struct kw_pg *pg = KW_PG(st);
    const char *sql = mode == KW_TX_WRITE ? "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE"
                                          : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    enum kw_err err;
    struct kw_pg_conn *c;
    PGresult *res;
    int tries;

    /* A call just ran past its deadline: answer at once instead of queueing behind a silent server. */
    if ((int64_t)(kw_time_mono_ns() / 1000000) < atomic_load(&pg->down_until_ms))
        return KW_ERR_RETRY;
    if ((c = take(pg, &err)) == NULL)
        return err;
    for (tries = 0; tries < 2; tries++) { /* a connection that broke while idle is reset once */
        res = kw_pg_call(pg, c, sql, NULL, pg->statement_timeout_ms + KW_PG_DEADLINE_MARGIN_MS);
        err = PQresultStatus(res) == PGRES_COMMAND_OK ? KW_OK : kw_pg_fail(c, res, "begin");
        PQclear(res);
        if (err != KW_ERR_RETRY || PQstatus(c->conn) == CONNECTION_OK || c->conn == NULL ||
            connect_slot(pg, c) != 0)
            break;
    }
    if (err != KW_OK) {
        release(pg, c);
        return err;
    }
    memset(&c->tx, 0, sizeof(c->tx));
    c->tx.base.st = st;
    c->tx.base.mode = mode;
    c->tx.c = c;
    *out = &c->tx.base;
    return KW_OK;
}

static void end_tx(struct kw_pg_tx *t, const char *sql)
{
    PGresult *res;

    if (t->c->conn != NULL && PQstatus(t->c->conn) == CONNECTION_OK &&
        PQtransactionStatus(t->c->conn) != PQTRANS_IDLE) {
        struct kw_pg *pg = KW_PG(t->base.st);
        res = kw_pg_call(pg, t->c, sql, NULL, pg->statement_timeout_ms + KW_PG_DEADLINE_MARGIN_MS);
        PQclear(res);
    }
    release(KW_PG(t->base.st), t->c);
}

/* A commit whose connection breaks is reported as KW_ERR_RETRY like any lost connection, although
 * its outcome is unknown: the domain's bodies are rerunnable and check what they find. */
static enum kw_err pg_commit(struct kw_tx *tx)
{
    struct kw_pg_tx *t = KW_PG_TX(tx);
    enum kw_err err = t->failed;
    PGresult *res;

    if (err != KW_OK) {
        end_tx(t, "ROLLBACK");
        return err;
    }
    res = kw_pg_call(KW_PG(tx->st), t->c, "COMMIT", NULL,
                     KW_PG(tx->st)->statement_timeout_ms + KW_PG_DEADLINE_MARGIN_MS);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        err = kw_pg_fail(t->c, res, "commit");
    else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) /* the server rolled an aborted transaction back */
        err = KW_ERR_STORE;
    PQclear(res);
    end_tx(t, "ROLLBACK");
    return err;
}

static void pg_rollback(struct kw_tx *tx)
{
    end_tx(KW_PG_TX(tx), "ROLLBACK");
}

/* ---- migrations ---- */

/* One statement on a connection outside any transaction struct; KW_OK or the mapped error. */
static enum kw_err conn_exec(struct kw_pg_conn *c, const char *sql, const char *op)
{
    PGresult *res = PQexec(c->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    enum kw_err err = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? KW_OK : kw_pg_fail(c, res, op);

    PQclear(res);
    return err;
}

static enum kw_err read_version(struct kw_pg_conn *c, int *version)
{
    /* Two statements: a query naming a missing table fails at parse time, whatever its CASE says. */
    PGresult *res = PQexec(c->conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    enum kw_err err = KW_OK;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] != 't') {
        *version = 0;
        PQclear(res);
        return KW_OK;
    }
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        PQclear(res);
        res = PQexec(c->conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    }
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        *version = (int)kw_pg_get_int(res, 0, 0);
    else
        err = kw_pg_fail(c, res, "schema_version");
    PQclear(res);
    return err;
}

static enum kw_err apply_one(struct kw_pg_conn *c, const struct kw_migration *m)
{
    char ver[16], at[24];
    const char *vals[3] = {ver, m->name, at};
    enum kw_err err = conn_exec(c, "BEGIN", "migrate");
    PGresult *res;

    if (err == KW_OK)
        err = conn_exec(c, m->sql, m->name);
    if (err == KW_OK) {
        snprintf(ver, sizeof(ver), "%d", m->version);
        snprintf(at, sizeof(at), "%lld", (long long)kw_time_now_ms());
        res = PQexecParams(c->conn,
                           "INSERT INTO schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)", 3,
                           NULL, vals, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            err = kw_pg_fail(c, res, "migrate");
        PQclear(res);
    }
    if (err == KW_OK)
        err = conn_exec(c, "COMMIT", "migrate");
    if (err != KW_OK)
        conn_exec(c, "ROLLBACK", "migrate");
    return err;
}

static enum kw_err migrate_locked(struct kw_pg_conn *c, int *applied, int *version)
{
    int have = 0, n = 0, i,
        last = kw_pg_migrations_count > 0 ? kw_pg_migrations[kw_pg_migrations_count - 1].version : 0;
    enum kw_err err = conn_exec(c,
                                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                                "name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                                "migrate");

    if (err == KW_OK)
        err = read_version(c, &have);
    if (err == KW_OK && have > last)
        kw_log_warn("database schema is newer than this binary", "version=%d known=%d", have, last);
    for (i = 0; err == KW_OK && i < kw_pg_migrations_count; i++) {
        if (kw_pg_migrations[i].version <= have)
            continue;
        err = apply_one(c, &kw_pg_migrations[i]);
        if (err == KW_OK) {
            n++;
            have = kw_pg_migrations[i].version;
        }
    }
    if (applied != NULL)
        *applied = n;
    if (version != NULL)
        *version = have;
    return err;
}

static enum kw_err pg_migrate(struct kw_store *st, int *applied, int *version)
{
    struct kw_pg *pg = KW_PG(st);
    enum kw_err err;
    struct kw_pg_conn *c = take(pg, &err);

    if (c == NULL)
        return err;
    /* Neither waiting for another node's migration nor a long migration is cut by statement_timeout. */
    err = conn_exec(c, "SET statement_timeout = 0", "migrate");
    if (err == KW_OK)
        err = conn_exec(c, "SELECT pg_advisory_lock(" KW_PG_MIGRATE_LOCK ")", "migrate_lock");
    if (err == KW_OK) {
        err = migrate_locked(c, applied, version);
        conn_exec(c, "SELECT pg_advisory_unlock(" KW_PG_MIGRATE_LOCK ")", "migrate_unlock");
    }
    if (PQstatus(c->conn) == CONNECTION_OK && !setup_conn(pg, c->conn)) { /* the pool's timeout again */
        PQfinish(c->conn);
        c->conn = NULL;
    }
    release(pg, c);
    return err;
}

static enum kw_err pg_schema_version(struct kw_store *st, int *version)
{
    struct kw_pg *pg = KW_PG(st);
    enum kw_err err;
    struct kw_pg_conn *c = take(pg, &err);

    if (c == NULL)
        return err;
    err = read_version(c, version);
    release(pg, c);
    return err;
}

/* ---- open, free ---- */

static void pg_free(struct kw_store *st)
{
    struct kw_pg *pg = KW_PG(st);
    int i;

    for (i = 0; pg->conns != NULL && i < pg->n; i++)
        if (pg->conns[i].conn != NULL)
            PQfinish(pg->conns[i].conn);
    if (pg->listen.conn != NULL)
        PQfinish(pg->listen.conn);
    pthread_mutex_destroy(&pg->listen_mu);
    free(pg->conns);
    pthread_cond_destroy(&pg->freed);
    pthread_mutex_destroy(&pg->mu);
    free(pg);
}

static enum kw_err pg_new(const char *uri, int pool, int timeout_ms, int relaxed, struct kw_store **out);

/* The write-behind handle: two more connections on the same URI with synchronous_commit=off. A
 * keyward crash loses nothing it committed (the server has it); a crash of the PostgreSQL server
 * itself can lose the last few hundred ms of last-use times, usage counts and integrator audit events
 * (never an admin write, and the audit chain stays intact: WAL is replayed in order). */
static enum kw_err pg_open_relaxed(struct kw_store *st, struct kw_store **out)
{
    struct kw_pg *pg = KW_PG(st);

    return pg_new(pg->uri, 2, pg->statement_timeout_ms, 1, out);
}

/* Connects the listening connection and subscribes; 0 on success. Under listen_mu. */
static int listen_connect(struct kw_pg *pg)
{
    PGresult *res;
    int ok;

    if (pg->listen.conn != NULL && PQstatus(pg->listen.conn) == CONNECTION_OK)
        return 0;
    if (connect_slot(pg, &pg->listen) != 0)
        return -1;
    res = PQexec(pg->listen.conn, "LISTEN " KW_PG_CHANNEL);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok)
        kw_log_error("cannot LISTEN", "channel=%s", KW_PG_CHANNEL);
    return ok ? 0 : -1;
}

/* 1 if notifications were waiting (all are taken: one read of the changes covers them). */
static int take_notifies(PGconn *conn)
{
    PGnotify *n;
    int got = 0;

    while ((n = PQnotifies(conn)) != NULL) {
        got = 1;
        PQfreemem(n);
    }
    return got;
}

/* LISTEN on a connection of its own; waits with poll() on its socket. A lost connection answers
 * KW_ERR_RETRY (the caller polls the changes meanwhile) and is reconnected at the next call; a
 * reconnect also answers KW_OK, since notifications may have been missed while it was down. */
static enum kw_err pg_wait_change(struct kw_store *st, int timeout_ms)
{
    struct kw_pg *pg = KW_PG(st);
    enum kw_err err = KW_ERR_NOT_FOUND;
    struct pollfd pfd;
    int fresh;

    pthread_mutex_lock(&pg->listen_mu);
    fresh = pg->listen.conn == NULL || PQstatus(pg->listen.conn) != CONNECTION_OK;
    if (listen_connect(pg) != 0) {
        err = KW_ERR_RETRY;
        goto out;
    }
    if (fresh || take_notifies(pg->listen.conn)) {
        err = KW_OK;
        goto out;
    }
    pfd.fd = PQsocket(pg->listen.conn);
    pfd.events = POLLIN;
    if (timeout_ms > 0 && poll(&pfd, 1, timeout_ms) > 0) {
        if (!PQconsumeInput(pg->listen.conn)) {
            kw_log_warn("lost the PostgreSQL notification connection", "channel=%s", KW_PG_CHANNEL);
            PQfinish(pg->listen.conn);
            pg->listen.conn = NULL;
            err = KW_ERR_RETRY;
            goto out;
        }
        if (take_notifies(pg->listen.conn))
            err = KW_OK;
    }
out:
    pthread_mutex_unlock(&pg->listen_mu);
    return err;
}

const struct kw_store_ops kw_pg_ops = {
    .free = pg_free,
    .open_relaxed = pg_open_relaxed,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .version_next = kw_pg_version_next,
    .meta_get = kw_pg_meta_get,
    .meta_set = kw_pg_meta_set,
    .service_insert = kw_pg_service_insert,
    .service_get = kw_pg_service_get,
    .service_list = kw_pg_service_list,
    .service_update = kw_pg_service_update,
    .service_delete = kw_pg_service_delete,
    .service_live_keys = kw_pg_service_live_keys,
    .key_insert = kw_pg_key_insert,
    .key_get = kw_pg_key_get,
    .key_list = kw_pg_key_list,
    .key_update = kw_pg_key_update,
    .key_delete = kw_pg_key_delete,
    .key_tombstone_get = kw_pg_key_tombstone_get,
    .key_each = kw_pg_key_each,
    .version_current = kw_pg_version_current,
    .key_changes = kw_pg_key_changes,
    .wait_change = pg_wait_change,
    .key_list_kind = kw_pg_key_list_kind,
    .key_get_hash = kw_pg_key_get_hash,
    .key_set_owner_enabled = kw_pg_key_set_owner_enabled,
    .key_delete_owner = kw_pg_key_delete_owner,
    .service_user_insert = kw_pg_service_user_insert,
    .service_user_get = kw_pg_service_user_get,
    .service_user_list = kw_pg_service_user_list,
    .service_user_update = kw_pg_service_user_update,
    .service_user_delete = kw_pg_service_user_delete,
    .key_touch = kw_pg_key_touch,
    .usage_add = kw_pg_usage_add,
    .usage_list = kw_pg_usage_list,
    .user_insert = kw_pg_user_insert,
    .user_get = kw_pg_user_get,
    .user_list = kw_pg_user_list,
    .user_update = kw_pg_user_update,
    .user_delete = kw_pg_user_delete,
    .user_login = kw_pg_user_login,
    .user_count_admins = kw_pg_user_count_admins,
    .session_insert = kw_pg_session_insert,
    .session_get = kw_pg_session_get,
    .session_touch = kw_pg_session_touch,
    .session_delete = kw_pg_session_delete,
    .session_delete_user = kw_pg_session_delete_user,
    .member_insert = kw_pg_member_insert,
    .member_get = kw_pg_member_get,
    .member_list = kw_pg_member_list,
    .member_update = kw_pg_member_update,
    .member_delete = kw_pg_member_delete,
    .service_list_for = kw_pg_service_list_for,
    .audit_head = kw_pg_audit_head,
    .audit_append = kw_pg_audit_append,
    .audit_list = kw_pg_audit_list,
    .audit_each = kw_pg_audit_each,
    .row_each = kw_pg_row_each,
    .row_put = kw_pg_row_put,
    .signing_key_insert = kw_pg_signing_key_insert,
    .signing_key_list = kw_pg_signing_key_list,
    .signing_key_update = kw_pg_signing_key_update,
    .signing_key_delete = kw_pg_signing_key_delete,
    .signing_key_stamp = kw_pg_signing_key_stamp,
    .enc_key_insert = kw_pg_enc_key_insert,
    .enc_key_list = kw_pg_enc_key_list,
    .enc_key_update = kw_pg_enc_key_update,
    .enc_key_delete = kw_pg_enc_key_delete,
    .enc_key_stamp = kw_pg_enc_key_stamp,
    .shared = 1,
    .throttle_reserve = kw_pg_throttle_reserve,
    .throttle_settle = kw_pg_throttle_settle,
    .throttle_purge = kw_pg_throttle_purge,
    .session_purge = kw_pg_session_purge,
    .job_ensure = kw_pg_job_ensure,
    .job_lease = kw_pg_job_lease,
    .job_finish = kw_pg_job_finish,
    .job_get = kw_pg_job_get,
    .nonce_insert = kw_pg_nonce_insert,
    .nonce_purge = kw_pg_nonce_purge,
    .record_insert = kw_pg_record_insert,
    .record_get = kw_pg_record_get,
    .record_get_id = kw_pg_record_get_id,
    .record_list = kw_pg_record_list,
    .record_update = kw_pg_record_update,
    .record_due = kw_pg_record_due,
    .record_picture_put = kw_pg_record_picture_put,
    .record_picture_list = kw_pg_record_picture_list,
    .record_picture_wipe = kw_pg_record_picture_wipe,
    .document_insert = kw_pg_document_insert,
    .document_get = kw_pg_document_get,
    .document_get_idem = kw_pg_document_get_idem,
    .document_list = kw_pg_document_list,
    .document_content_put = kw_pg_document_content_put,
    .document_chunk_get = kw_pg_document_chunk_get,
    .document_shred = kw_pg_document_shred,
    .record_history_append = kw_pg_record_history_append,
    .record_history_list = kw_pg_record_history_list,
    /* webhooks */
    .webhook_insert = kw_pg_webhook_insert,
    .webhook_get = kw_pg_webhook_get,
    .webhook_list = kw_pg_webhook_list,
    .webhook_update = kw_pg_webhook_update,
    .webhook_delete = kw_pg_webhook_delete,
    .webhook_count = kw_pg_webhook_count,
    .webhook_delivery_insert = kw_pg_webhook_delivery_insert,
    .webhook_delivery_get = kw_pg_webhook_delivery_get,
    .webhook_delivery_list = kw_pg_webhook_delivery_list,
    .webhook_delivery_retry = kw_pg_webhook_delivery_retry,
    .webhook_attempt_insert = kw_pg_webhook_attempt_insert,
    .webhook_attempt_list = kw_pg_webhook_attempt_list,
};

static enum kw_err pg_new(const char *uri, int pool, int timeout_ms, int relaxed, struct kw_store **out)
{
    struct kw_pg *pg = calloc(1, sizeof(*pg));
    enum kw_err err = KW_ERR_NOMEM;

    if (pg == NULL)
        return err;
    pg->base.ops = &kw_pg_ops;
    pthread_mutex_init(&pg->mu, NULL);
    pthread_mutex_init(&pg->listen_mu, NULL);
    pthread_cond_init(&pg->freed, NULL);
    pg->n = pool;
    pg->statement_timeout_ms = timeout_ms;
    pg->relaxed = relaxed;
    pg->conns = calloc((size_t)pool, sizeof(*pg->conns));
    if (pg->conns == NULL)
        goto out;
    err = KW_ERR_INVALID;
    if (snprintf(pg->uri, sizeof(pg->uri), "%s", uri) >= (int)sizeof(pg->uri)) {
        kw_log_error("cannot open store", "err=\"connection URI too long\" max=%zu", sizeof(pg->uri) - 1);
        goto out;
    }
    /* Connect one now, so a wrong URI or an unreachable server fails at start; the rest on demand. */
    err = connect_slot(pg, &pg->conns[0]) == 0 ? KW_OK : KW_ERR_STORE;
out:
    if (err != KW_OK) {
        pg_free(&pg->base);
        return err;
    }
    *out = &pg->base;
    return KW_OK;
}

enum kw_err kw_store_pg_open(const char *uri, const struct kw_store_options *opt, struct kw_store **out)
{
    int pool = opt != NULL && opt->pool_size > 0 ? opt->pool_size : 4;
    int timeout = opt != NULL && opt->statement_timeout_ms > 0 ? opt->statement_timeout_ms : 5000;

    *out = NULL;
    if (!PQisthreadsafe()) {
        kw_log_error("cannot open store", "err=\"libpq was built without thread safety\"");
        return KW_ERR_STORE;
    }
    return pg_new(uri, pool, timeout, 0, out);
}
