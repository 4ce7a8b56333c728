/* sqlite_copy.c - every table's rows as they are, for moving a deployment (store.h: kw_store_row_each,
 * kw_store_row_put). Columns are read and bound by the types in kw_store_tables; text and blobs as
 * their bytes (sqlite3_column_bytes), never cut to a record's field size. */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))

/* The cached walk (put = 0) or insert (put = 1) of table t, locked as kw_sq_begin leaves it. */
static sqlite3_stmt *row_stmt(struct kw_sqlite *s, enum kw_store_table t, int put)
{
    sqlite3_stmt *q;
    char sql[1024];

    pthread_mutex_lock(&s->mu); /* held while the slot is read; kw_sq_begin_at nests (recursive) */
    sql[0] = '\0';
    if (s->rows[put][t] == NULL && kw_store_row_sql(t, put, 0, sql, sizeof(sql)) != 0)
        sql[0] = '\0'; /* cannot happen with these tables; prepare then fails and is logged */
    q = kw_sq_begin_at(s, &s->rows[put][t], sql);
    pthread_mutex_unlock(&s->mu);
    return q;
}

static void read_row(sqlite3_stmt *q, enum kw_store_table t, struct kw_store_row *row)
{
    const char *types = kw_store_tables[t].types;
    int i;

    memset(row, 0, sizeof(*row));
    row->table = t;
    row->n = (int)strlen(types);
    for (i = 0; i < row->n; i++) {
        if (types[i] == 'i') {
            row->v[i].i = sqlite3_column_int64(q, i);
            continue;
        }
        row->v[i].p = types[i] == 'b' ? sqlite3_column_blob(q, i) : sqlite3_column_text(q, i);
        row->v[i].len = row->v[i].p != NULL ? (size_t)sqlite3_column_bytes(q, i) : 0;
    }
}

enum kw_err kw_sq_row_each(struct kw_tx *tx, enum kw_store_table t, kw_store_row_cb cb, void *ctx)
{
    sqlite3_stmt *q = row_stmt(SQ(tx->st), t, 0);
    struct kw_store_row row;
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        read_row(q, t, &row);
        if (cb(ctx, &row) != 0) {
            err = KW_ERR_INTERNAL;
            break;
        }
    }
    if (err == KW_OK && rc != SQLITE_DONE)
        err = kw_sq_fail(SQ(tx->st), "row_each", rc);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

/* AUTOINCREMENT keeps sqlite_sequence at the largest seq inserted, explicit ones included, so a
 * later insert never reuses a seq (store.h: kw_store_row_put). */
enum kw_err kw_sq_row_put(struct kw_tx *tx, const struct kw_store_row *row)
{
    const char *types = kw_store_tables[row->table].types;
    sqlite3_stmt *q = row_stmt(SQ(tx->st), row->table, 1);
    const struct kw_store_value *v;
    enum kw_err err;
    int i;

    if (q == NULL)
        return KW_ERR_STORE;
    for (i = 0; i < row->n; i++) {
        v = &row->v[i];
        if (types[i] == 'i')
            sqlite3_bind_int64(q, i + 1, v->i);
        else if (types[i] == 'b')
            sqlite3_bind_blob(q, i + 1, v->p != NULL ? (const void *)v->p : "", (int)v->len, SQLITE_STATIC);
        else
            sqlite3_bind_text(q, i + 1, v->p != NULL ? (const char *)v->p : "", (int)v->len, SQLITE_STATIC);
    }
    err = kw_sq_done(SQ(tx->st), q, "row_put");
    kw_sq_end(SQ(tx->st), q);
    return err;
}
