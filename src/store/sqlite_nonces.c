/* sqlite_nonces.c - single-use values (store.h: nonces) for the SQLite backend. One node: the write
 * transaction's lock on the database orders two inserts of one value. */
#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))

enum kw_err kw_sq_nonce_insert(struct kw_tx *tx, const char *scope, const char *value, int64_t created_at)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = NULL;
    enum kw_err err;
    int rc;

    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(s->db,
                            "INSERT INTO nonces(scope, value, created_at) VALUES (?, ?, ?) "
                            "ON CONFLICT(scope, value) DO NOTHING",
                            -1, &q, NULL);
    if (rc != SQLITE_OK) {
        err = kw_sq_fail(s, "nonce_insert", rc);
        goto out;
    }
    sqlite3_bind_text(q, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, created_at);
    rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        err = kw_sq_fail(s, "nonce_insert", rc);
    else
        err = sqlite3_changes(s->db) == 1 ? KW_OK : KW_ERR_CONFLICT;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return err;
}

enum kw_err kw_sq_nonce_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = NULL;
    enum kw_err err = KW_OK;
    int rc;

    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(s->db, "DELETE FROM nonces WHERE created_at < ?", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(q, 1, before_ms);
        rc = sqlite3_step(q);
    }
    if (rc != SQLITE_DONE)
        err = kw_sq_fail(s, "nonce_purge", rc);
    else if (deleted != NULL)
        *deleted = sqlite3_changes(s->db);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    return err;
}
