/* sqlite.c - the SQLite backend: connection, transactions, migrations. WAL + synchronous=FULL, so
 * a commit is durable when it returns. One connection behind a recursive mutex. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "store/migrations.h"
#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))

enum kw_err kw_sq_fail(struct kw_sqlite *s, const char *op, int rc)
{
    if ((rc & 0xff) == SQLITE_CONSTRAINT && (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY))
        return KW_ERR_EXISTS;
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        kw_log_warn("store busy", "op=%s rc=%d", op, rc);
        return KW_ERR_RETRY;
    }
    kw_log_error("store failure", "op=%s rc=%d err=\"%s\"", op, rc, sqlite3_errmsg(s->db));
    return KW_ERR_STORE;
}

sqlite3_stmt *kw_sq_once(struct kw_sqlite *s, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int rc;

    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK || q == NULL) { /* an empty statement prepares to NULL */
        kw_sq_fail(s, "prepare", rc != SQLITE_OK ? rc : SQLITE_MISUSE);
        sqlite3_finalize(q);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    return q;
}

void kw_sq_once_end(struct kw_sqlite *s, sqlite3_stmt *q)
{
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
}

sqlite3_stmt *kw_sq_begin_at(struct kw_sqlite *s, sqlite3_stmt **slot, const char *sql)
{
    int rc;

    pthread_mutex_lock(&s->mu);
    if (*slot == NULL) {
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK || *slot == NULL) { /* an empty statement prepares to NULL */
            kw_sq_fail(s, "prepare", rc != SQLITE_OK ? rc : SQLITE_MISUSE);
            *slot = NULL;
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
    }
    sqlite3_reset(*slot);
    sqlite3_clear_bindings(*slot);
    return *slot;
}

sqlite3_stmt *kw_sq_begin(struct kw_sqlite *s, enum kw_sq_stmt slot, const char *sql)
{
    return kw_sq_begin_at(s, &s->stmts[slot], sql);
}

void kw_sq_end(struct kw_sqlite *s, sqlite3_stmt *st)
{
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->mu);
}

void kw_sq_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;

    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, t, n);
    dst[n] = '\0';
}

enum kw_err kw_sq_collect(struct kw_sqlite *s, sqlite3_stmt *q, kw_sq_row_fn row, void *items, size_t item_size,
                          size_t cap, size_t *n, const char *op)
{
    size_t i = 0;
    int rc = SQLITE_DONE;

    while (i < cap && (rc = sqlite3_step(q)) == SQLITE_ROW)
        row(q, (char *)items + i++ * item_size);
    *n = i;
    return (i < cap && rc != SQLITE_DONE) ? kw_sq_fail(s, op, rc) : KW_OK;
}

enum kw_err kw_sq_scalar(struct kw_sqlite *s, sqlite3_stmt *q, int64_t *out, const char *op)
{
    enum kw_err err = KW_OK;
    int rc = sqlite3_step(q);

    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(q, 0);
        rc = sqlite3_step(q); /* a RETURNING statement finishes its write on the last step */
    } else if (rc == SQLITE_DONE) {
        err = KW_ERR_NOT_FOUND;
    }
    if (err == KW_OK && rc != SQLITE_DONE)
        err = kw_sq_fail(s, op, rc);
    kw_sq_end(s, q);
    return err;
}

enum kw_err kw_sq_done(struct kw_sqlite *s, sqlite3_stmt *st, const char *op)
{
    int rc = sqlite3_step(st);
    return rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, op, rc);
}

static enum kw_err exec(struct kw_sqlite *s, const char *sql, const char *op)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? KW_OK : kw_sq_fail(s, op, rc);
}

/* Runs one cached transaction-control statement (the caller holds mu): sqlite3_exec would parse and
 * prepare it again on every call, which was ~6 % of keyward's CPU on single-record extracts (a read
 * transaction per request) in `make bench`. */
static enum kw_err tx_exec(struct kw_sqlite *s, enum kw_sq_stmt slot, const char *sql, const char *op)
{
    sqlite3_stmt *q = kw_sq_begin(s, slot, sql);
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    err = kw_sq_done(s, q, op);
    kw_sq_end(s, q);
    return err;
}

/* A read connection, locked: the first free one from the hint on, else (all busy) waits for the hint's. */
static struct kw_sqlite *lock_reader(struct kw_sqlite *s)
{
    size_t start = __atomic_fetch_add(&s->next_reader, 1, __ATOMIC_RELAXED) % s->nreaders, i;

    for (i = 0; i < s->nreaders; i++) {
        struct kw_sqlite *r = s->readers[(start + i) % s->nreaders];
        if (pthread_mutex_trylock(&r->mu) == 0)
            return r;
    }
    pthread_mutex_lock(&s->readers[start]->mu);
    return s->readers[start];
}

/* One connection, one transaction at a time: the transaction is the connection's own struct kw_tx,
 * owned by whoever holds the mutex. A write transaction takes the database's write lock at once
 * (BEGIN IMMEDIATE), so everything it reads stays as read until it commits. A read transaction of the
 * main store runs on one of its read connections (tx->st is that reader; commit and rollback follow
 * it there). In WAL mode a read transaction sees every transaction committed before it began, on
 * whichever connection. */
static enum kw_err sq_begin(struct kw_store *st, enum kw_tx_mode mode, struct kw_tx **out)
{
    struct kw_sqlite *s = SQ(st);
    enum kw_err err;

    if (mode == KW_TX_READ && s->nreaders > 0) {
        s = lock_reader(s);
        st = &s->base;
    } else {
        pthread_mutex_lock(&s->mu);
    }
    err = mode == KW_TX_WRITE ? tx_exec(s, SQ_TX_BEGIN_IMMEDIATE, "BEGIN IMMEDIATE", "begin")
                              : tx_exec(s, SQ_TX_BEGIN, "BEGIN", "begin");
    if (err != KW_OK) {
        pthread_mutex_unlock(&s->mu);
        return err;
    }
    s->tx.st = st;
    s->tx.mode = mode;
    *out = &s->tx;
    return KW_OK;
}

static enum kw_err sq_commit(struct kw_tx *tx)
{
    struct kw_sqlite *s = SQ(tx->st);
    enum kw_err err = tx_exec(s, SQ_TX_COMMIT, "COMMIT", "commit");

    if (err != KW_OK && !sqlite3_get_autocommit(s->db))
        tx_exec(s, SQ_TX_ROLLBACK, "ROLLBACK", "rollback");
    pthread_mutex_unlock(&s->mu);
    return err;
}

static void sq_rollback(struct kw_tx *tx)
{
    struct kw_sqlite *s = SQ(tx->st);

    tx_exec(s, SQ_TX_ROLLBACK, "ROLLBACK", "rollback");
    pthread_mutex_unlock(&s->mu);
}

enum kw_err kw_sq_atomic_begin(struct kw_sqlite *s)
{
    enum kw_err err;

    pthread_mutex_lock(&s->mu);
    err = exec(s, "SAVEPOINT kw_atomic", "savepoint");
    if (err != KW_OK)
        pthread_mutex_unlock(&s->mu);
    return err;
}

enum kw_err kw_sq_atomic_end(struct kw_sqlite *s, enum kw_err err)
{
    if (err == KW_OK)
        err = exec(s, "RELEASE kw_atomic", "release");
    if (err != KW_OK)
        exec(s, "ROLLBACK TO kw_atomic; RELEASE kw_atomic", "rollback_to");
    pthread_mutex_unlock(&s->mu);
    return err;
}

/* 0 when the bookkeeping table does not exist yet (an empty database). */
static enum kw_err sq_schema_version(struct kw_store *st, int *version)
{
    struct kw_sqlite *s = SQ(st);
    sqlite3_stmt *q = NULL;
    enum kw_err err = KW_OK;
    int rc;

    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(s->db,
                            "SELECT CASE WHEN EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' "
                            "AND name = 'schema_migrations') THEN 1 ELSE 0 END",
                            -1, &q, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0) {
        *version = 0;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        err = kw_sq_fail(s, "schema_version", rc);
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int(q, 0);
    else
        err = kw_sq_fail(s, "schema_version", rc);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return err;
}

static enum kw_err apply_one(struct kw_sqlite *s, const struct kw_migration *m)
{
    sqlite3_stmt *q = NULL;
    struct kw_tx *tx = NULL;
    enum kw_err err = sq_begin(&s->base, KW_TX_WRITE, &tx);
    int rc;

    if (err != KW_OK)
        return err;
    err = exec(s, m->sql, m->name);
    if (err == KW_OK) {
        rc = sqlite3_prepare_v2(s->db, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                                -1, &q, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int(q, 1, m->version);
            sqlite3_bind_text(q, 2, m->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(q, 3, kw_time_now_ms());
            rc = sqlite3_step(q);
        }
        err = rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, "migrate", rc);
        sqlite3_finalize(q);
    }
    if (err != KW_OK) {
        sq_rollback(tx);
        return err;
    }
    return sq_commit(tx);
}

static enum kw_err sq_migrate(struct kw_store *st, int *applied, int *version)
{
    struct kw_sqlite *s = SQ(st);
    int have = 0, n = 0, i;
    enum kw_err err;

    err = exec(s,
               "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
               "applied_at INTEGER NOT NULL)",
               "migrate");
    if (err == KW_OK)
        err = sq_schema_version(st, &have);
    if (err == KW_OK && kw_migrations_count > 0 && have > kw_migrations[kw_migrations_count - 1].version)
        kw_log_warn("database schema is newer than this binary", "version=%d known=%d", have,
                    kw_migrations[kw_migrations_count - 1].version);
    for (i = 0; err == KW_OK && i < kw_migrations_count; i++) {
        if (kw_migrations[i].version <= have)
            continue;
        err = apply_one(s, &kw_migrations[i]);
        if (err == KW_OK) {
            n++;
            have = kw_migrations[i].version;
        }
    }
    if (applied != NULL)
        *applied = n;
    if (version != NULL)
        *version = have;
    return err;
}

static void sq_free(struct kw_store *st)
{
    struct kw_sqlite *s = SQ(st);
    int i;

    for (i = 0; i < SQ_NSTMT; i++)
        sqlite3_finalize(s->stmts[i]);
    for (i = 0; i < KW_SQ_AUDIT_SHAPES; i++)
        sqlite3_finalize(s->audit_list[i]);
    for (i = 0; i < KW_TABLE_COUNT; i++) {
        sqlite3_finalize(s->rows[0][i]);
        sqlite3_finalize(s->rows[1][i]);
    }
    for (i = 0; i < KW_SQ_RECORD_STMTS; i++)
        sqlite3_finalize(s->records[i]);
    for (i = 0; i < (int)s->nreaders; i++)
        sq_free(&s->readers[i]->base);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static enum kw_err sq_open_relaxed(struct kw_store *st, struct kw_store **out);

const struct kw_store_ops kw_sqlite_ops = {
    .free = sq_free,
    .open_relaxed = sq_open_relaxed,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .version_next = kw_sq_version_next,
    .meta_get = kw_sq_meta_get,
    .meta_set = kw_sq_meta_set,
    .service_insert = kw_sq_service_insert,
    .service_get = kw_sq_service_get,
    .service_list = kw_sq_service_list,
    .service_update = kw_sq_service_update,
    .service_delete = kw_sq_service_delete,
    .service_live_keys = kw_sq_service_live_keys,
    .key_insert = kw_sq_key_insert,
    .key_get = kw_sq_key_get,
    .key_list = kw_sq_key_list,
    .key_update = kw_sq_key_update,
    .key_delete = kw_sq_key_delete,
    .key_tombstone_get = kw_sq_key_tombstone_get,
    .key_each = kw_sq_key_each,
    .version_current = kw_sq_version_current,
    .key_changes = kw_sq_key_changes,
    .wait_change = NULL, /* one node: every change is made in this process */
    .key_list_kind = kw_sq_key_list_kind,
    .key_get_hash = kw_sq_key_get_hash,
    .key_set_owner_enabled = kw_sq_key_set_owner_enabled,
    .key_delete_owner = kw_sq_key_delete_owner,
    .service_user_insert = kw_sq_service_user_insert,
    .service_user_get = kw_sq_service_user_get,
    .service_user_list = kw_sq_service_user_list,
    .service_user_update = kw_sq_service_user_update,
    .service_user_delete = kw_sq_service_user_delete,
    .key_touch = kw_sq_key_touch,
    .usage_add = kw_sq_usage_add,
    .usage_list = kw_sq_usage_list,
    .user_insert = kw_sq_user_insert,
    .user_get = kw_sq_user_get,
    .user_list = kw_sq_user_list,
    .user_update = kw_sq_user_update,
    .user_delete = kw_sq_user_delete,
    .user_login = kw_sq_user_login,
    .user_count_admins = kw_sq_user_count_admins,
    .session_insert = kw_sq_session_insert,
    .session_get = kw_sq_session_get,
    .session_touch = kw_sq_session_touch,
    .session_delete = kw_sq_session_delete,
    .session_delete_user = kw_sq_session_delete_user,
    .member_insert = kw_sq_member_insert,
    .member_get = kw_sq_member_get,
    .member_list = kw_sq_member_list,
    .member_update = kw_sq_member_update,
    .member_delete = kw_sq_member_delete,
    .service_list_for = kw_sq_service_list_for,
    .audit_head = kw_sq_audit_head,
    .audit_append = kw_sq_audit_append,
    .audit_list = kw_sq_audit_list,
    .audit_each = kw_sq_audit_each,
    .row_each = kw_sq_row_each,
    .row_put = kw_sq_row_put,
    .signing_key_insert = kw_sq_signing_key_insert,
    .signing_key_list = kw_sq_signing_key_list,
    .signing_key_update = kw_sq_signing_key_update,
    .signing_key_delete = kw_sq_signing_key_delete,
    .signing_key_stamp = kw_sq_signing_key_stamp,
    .enc_key_insert = kw_sq_enc_key_insert,
    .enc_key_list = kw_sq_enc_key_list,
    .enc_key_update = kw_sq_enc_key_update,
    .enc_key_delete = kw_sq_enc_key_delete,
    .enc_key_stamp = kw_sq_enc_key_stamp,
    .shared = 0,
    .throttle_reserve = kw_sq_throttle_reserve,
    .throttle_settle = kw_sq_throttle_settle,
    .throttle_purge = kw_sq_throttle_purge,
    .session_purge = kw_sq_session_purge,
    .job_ensure = kw_sq_job_ensure,
    .job_lease = kw_sq_job_lease,
    .job_finish = kw_sq_job_finish,
    .job_get = kw_sq_job_get,
    .nonce_insert = kw_sq_nonce_insert,
    .nonce_purge = kw_sq_nonce_purge,
    .record_insert = kw_sq_record_insert,
    .record_get = kw_sq_record_get,
    .record_get_id = kw_sq_record_get_id,
    .record_list = kw_sq_record_list,
    .record_update = kw_sq_record_update,
    .record_due = kw_sq_record_due,
    .record_picture_put = kw_sq_record_picture_put,
    .record_picture_list = kw_sq_record_picture_list,
    .record_picture_wipe = kw_sq_record_picture_wipe,
    .document_insert = kw_sq_document_insert,
    .document_get = kw_sq_document_get,
    .document_get_idem = kw_sq_document_get_idem,
    .document_list = kw_sq_document_list,
    .document_content_put = kw_sq_document_content_put,
    .document_chunk_get = kw_sq_document_chunk_get,
    .document_shred = kw_sq_document_shred,
    .document_content_drop = kw_sq_document_content_drop,
    .document_dek_set = kw_sq_document_dek_set,
    .document_content_stage = kw_sq_document_content_stage,
    .document_content_done = kw_sq_document_content_done,
    .document_content_recover = kw_sq_document_content_recover,
    .record_history_append = kw_sq_record_history_append,
    .record_history_list = kw_sq_record_history_list,
    .delivery_lease = kw_sq_delivery_lease,
    .delivery_record = kw_sq_delivery_record,
    .delivery_release = kw_sq_delivery_release,
    .webhook_gone = kw_sq_webhook_gone,
    .scrub = kw_sq_scrub,
    /* webhooks */
    .webhook_insert = kw_sq_webhook_insert,
    .webhook_get = kw_sq_webhook_get,
    .webhook_list = kw_sq_webhook_list,
    .webhook_update = kw_sq_webhook_update,
    .webhook_delete = kw_sq_webhook_delete,
    .webhook_count = kw_sq_webhook_count,
    .webhook_delivery_insert = kw_sq_webhook_delivery_insert,
    .webhook_delivery_get = kw_sq_webhook_delivery_get,
    .webhook_delivery_list = kw_sq_webhook_delivery_list,
    .webhook_delivery_retry = kw_sq_webhook_delivery_retry,
    .webhook_attempt_insert = kw_sq_webhook_attempt_insert,
    .webhook_attempt_list = kw_sq_webhook_attempt_list,
};

/* 1 if the connection really runs in WAL mode (a file system without shared memory refuses it). */
static int is_wal(struct kw_sqlite *s)
{
    sqlite3_stmt *q = NULL;
    int wal = 0;

    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        wal = sqlite3_stricmp((const char *)sqlite3_column_text(q, 0), "wal") == 0;
    sqlite3_finalize(q);
    return wal;
}

/* Both: a checkpoint every 10,000 WAL pages (~40 MB) rather than SQLite's 1,000. The write-behind
 * batches dirty pages all over the audit indexes (audit_target takes each extract at its record's place),
 * and a page written by several batches between two checkpoints is copied back to the database once.
 * The write-behind connection also keeps 16 MiB of pages (SQLite's default is 2 MiB), so a batch's
 * index pages stay cached instead of being spilled and read back. Together: ~18 -> ~11 us of CPU per
 * audit row in batches of 2,000 over 400k rows. */
static enum kw_err open_db(struct kw_sqlite *s, const char *path, int relaxed)
{
    const char *pragmas = relaxed ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                                    "PRAGMA busy_timeout=5000; PRAGMA secure_delete=ON; "
                                    "PRAGMA wal_autocheckpoint=10000; PRAGMA cache_size=-16384;"
                                  : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
                                    "PRAGMA busy_timeout=5000; PRAGMA secure_delete=ON; "
                                    "PRAGMA wal_autocheckpoint=10000;";
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    enum kw_err err;

    if (rc != SQLITE_OK) {
        kw_log_error("cannot open database", "path=\"%s\" err=\"%s\"", path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        return KW_ERR_STORE;
    }
    sqlite3_extended_result_codes(s->db, 1);
    err = exec(s, pragmas, "pragmas");
    if (err == KW_OK && !is_wal(s)) {
        kw_log_error("store failure", "op=pragmas err=\"journal_mode=WAL refused\" path=\"%s\"", path);
        err = KW_ERR_STORE;
    }
    return err;
}

static struct kw_sqlite *sq_new(void)
{
    struct kw_sqlite *s = calloc(1, sizeof(*s));
    pthread_mutexattr_t attr;

    if (s == NULL)
        return NULL;
    s->base.ops = &kw_sqlite_ops;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->mu, &attr);
    pthread_mutexattr_destroy(&attr);
    return s;
}

static enum kw_err sq_open_relaxed(struct kw_store *st, struct kw_store **out)
{
    struct kw_sqlite *s = sq_new();
    enum kw_err err;

    if (s == NULL)
        return KW_ERR_NOMEM;
    memcpy(s->path, SQ(st)->path, sizeof(s->path));
    err = open_db(s, s->path, 1);
    if (err != KW_OK) {
        sq_free(&s->base);
        return err;
    }
    *out = &s->base;
    return KW_OK;
}

/* mkdir -p with mode 0700 for every directory it creates. */
static enum kw_err mkdir_p(const char *dir)
{
    char buf[sizeof(((struct kw_sqlite *)0)->path)];
    size_t len = strnlen(dir, sizeof(buf)), i;
    struct stat sb;

    if (len == 0 || len >= sizeof(buf))
        return KW_ERR_INVALID;
    memcpy(buf, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return KW_ERR_IO;
        buf[i] = i < len ? '/' : '\0';
    }
    if (stat(dir, &sb) != 0)
        return KW_ERR_IO;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return KW_ERR_IO;
    }
    return KW_OK;
}

/* Creates the database file owner-only before SQLite opens it; SQLite gives -wal and -shm the same
 * mode. An existing file is tightened to 0600 too. */
static enum kw_err create_private(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return KW_ERR_IO;
    if (fchmod(fd, 0600) != 0)
        kw_log_warn("cannot restrict database file mode", "path=\"%s\" err=\"%s\"", path, strerror(errno));
    close(fd);
    return KW_OK;
}

enum kw_err kw_store_sqlite_open(const char *data_dir, struct kw_store **out)
{
    struct kw_sqlite *s = sq_new();
    enum kw_err err = KW_ERR_NOMEM;

    *out = NULL;
    if (s == NULL)
        return err;
    err = mkdir_p(data_dir);
    if (err != KW_OK) {
        kw_log_error("cannot create data directory", "path=\"%.256s\" err=\"%s\"", data_dir,
                     err == KW_ERR_INVALID ? "path too long" : strerror(errno));
        goto fail;
    }
    if (snprintf(s->path, sizeof(s->path), "%s/keyward.db", data_dir) >= (int)sizeof(s->path)) {
        kw_log_error("cannot open database", "path=\"%.256s\" err=\"path too long\"", data_dir);
        err = KW_ERR_INVALID;
        goto fail;
    }
    err = create_private(s->path);
    if (err != KW_OK) {
        kw_log_error("cannot open database", "path=\"%s\" err=\"%s\"", s->path, strerror(errno));
        goto fail;
    }
    err = open_db(s, s->path, 0);
    while (err == KW_OK && s->nreaders < KW_SQ_READERS) {
        struct kw_sqlite *r = sq_new();
        if (r == NULL) {
            err = KW_ERR_NOMEM;
            break;
        }
        memcpy(r->path, s->path, sizeof(r->path));
        s->readers[s->nreaders++] = r; /* freed with s from here on */
        err = open_db(r, r->path, 0);
    }
    if (err != KW_OK)
        goto fail;
    *out = &s->base;
    return KW_OK;
fail:
    sq_free(&s->base);
    return err;
}
