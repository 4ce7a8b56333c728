/* sqlite_enckeys.c - response-encryption keys for the SQLite backend (store.h). A handful of rows
 * read when the set changes, so statements are prepared per call. */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)
#define COLS "kid, public_pem, private_sealed, created_at, retire_after, status, version"

/* Steps a statement that returns no rows; finalizes and unlocks. *changed = rows changed. */
static enum kw_err run(struct kw_sqlite *s, sqlite3_stmt *q, const char *op, int *changed)
{
    int rc = sqlite3_step(q);
    enum kw_err err = rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, op, rc);

    if (changed != NULL)
        *changed = sqlite3_changes(s->db);
    kw_sq_once_end(s, q);
    return err;
}

static void bind_blob(sqlite3_stmt *q, int i, const uint8_t *b, size_t len)
{
    sqlite3_bind_blob(q, i, len > 0 ? (const void *)b : "", (int)len, SQLITE_STATIC);
}

enum kw_err kw_sq_enc_key_insert(struct kw_tx *tx, const struct kw_enc_key *k)
{
    sqlite3_stmt *q = kw_sq_once(SQ(tx->st), "INSERT INTO encryption_keys(" COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)");

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, k->kid);
    TEXT(q, 2, k->public_pem);
    bind_blob(q, 3, k->sealed, k->sealed_len);
    sqlite3_bind_int64(q, 4, k->created_at);
    sqlite3_bind_int64(q, 5, k->retire_after);
    TEXT(q, 6, k->status);
    sqlite3_bind_int64(q, 7, k->version);
    return run(SQ(tx->st), q, "enc_key_insert", NULL);
}

static void read_row(sqlite3_stmt *q, struct kw_enc_key *k)
{
    const void *b;
    int n;

    memset(k, 0, sizeof(*k));
    kw_sq_text(q, 0, k->kid, sizeof(k->kid));
    kw_sq_text(q, 1, k->public_pem, sizeof(k->public_pem));
    b = sqlite3_column_blob(q, 2);
    n = sqlite3_column_bytes(q, 2);
    if (b != NULL && n > 0 && (size_t)n <= sizeof(k->sealed)) { /* a longer blob reads as none: open fails */
        memcpy(k->sealed, b, (size_t)n);
        k->sealed_len = (size_t)n;
    }
    k->created_at = sqlite3_column_int64(q, 3);
    k->retire_after = sqlite3_column_int64(q, 4);
    kw_sq_text(q, 5, k->status, sizeof(k->status));
    k->version = sqlite3_column_int64(q, 6);
}

enum kw_err kw_sq_enc_key_list(struct kw_tx *tx, struct kw_enc_key *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q =
        kw_sq_once(SQ(tx->st), "SELECT " COLS " FROM encryption_keys ORDER BY created_at DESC, kid DESC");
    enum kw_err err = KW_OK;
    int rc;

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW)
        read_row(q, &items[(*n)++]);
    if (*n < cap && rc != SQLITE_DONE)
        err = kw_sq_fail(SQ(tx->st), "enc_key_list", rc);
    kw_sq_once_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_enc_key_update(struct kw_tx *tx, const struct kw_enc_key *k)
{
    sqlite3_stmt *q =
        kw_sq_once(SQ(tx->st), "UPDATE encryption_keys SET private_sealed = ?, status = ?, retire_after = ?, "
                         "version = ? WHERE kid = ?");
    enum kw_err err;
    int changed = 0;

    if (q == NULL)
        return KW_ERR_STORE;
    bind_blob(q, 1, k->sealed, k->sealed_len);
    TEXT(q, 2, k->status);
    sqlite3_bind_int64(q, 3, k->retire_after);
    sqlite3_bind_int64(q, 4, k->version);
    TEXT(q, 5, k->kid);
    err = run(SQ(tx->st), q, "enc_key_update", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_sq_enc_key_delete(struct kw_tx *tx, const char *kid)
{
    sqlite3_stmt *q = kw_sq_once(SQ(tx->st), "DELETE FROM encryption_keys WHERE kid = ?");
    enum kw_err err;
    int changed = 0;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, kid);
    err = run(SQ(tx->st), q, "enc_key_delete", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_sq_enc_key_stamp(struct kw_tx *tx, int64_t *max_version, int64_t *count)
{
    sqlite3_stmt *q = kw_sq_once(SQ(tx->st), "SELECT coalesce(max(version), 0), count(*) FROM encryption_keys");
    enum kw_err err;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *max_version = sqlite3_column_int64(q, 0);
        *count = sqlite3_column_int64(q, 1);
        err = KW_OK;
    } else {
        err = kw_sq_fail(SQ(tx->st), "enc_key_stamp", rc == SQLITE_DONE ? SQLITE_MISUSE : rc);
    }
    kw_sq_once_end(SQ(tx->st), q);
    return err;
}
