/* postgres_copy.c - every table's rows as they are, for moving a deployment (store.h:
 * kw_store_row_each, kw_store_row_put). Walks stream one row at a time (kw_pg_each, no statement
 * timeout); text and bytea go in and come out as their bytes with their lengths. A put with an
 * explicit seq into a table whose seq is an identity column moves that column's sequence to the
 * table's largest seq, so the next insert on any node continues above it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"

struct row_walk {
    enum kw_store_table t;
    kw_store_row_cb cb;
    void *ctx;
};

/* One streamed row (text results) into a kw_store_row; bytea is "\x" hex, unescaped into memory
 * freed after the callback. */
static int walk_row(void *ctx, const PGresult *res)
{
    struct row_walk *w = ctx;
    const char *types = kw_store_tables[w->t].types;
    unsigned char *blobs[KW_STORE_ROW_MAX] = {0};
    struct kw_store_row row;
    int i, rc = 0;

    memset(&row, 0, sizeof(row));
    row.table = w->t;
    row.n = (int)strlen(types);
    for (i = 0; i < row.n && rc == 0; i++) {
        if (types[i] == 'i') {
            row.v[i].i = kw_pg_get_int(res, 0, i);
        } else if (types[i] == 't') {
            row.v[i].p = (const uint8_t *)PQgetvalue(res, 0, i);
            row.v[i].len = (size_t)PQgetlength(res, 0, i);
        } else {
            blobs[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, i), &row.v[i].len);
            row.v[i].p = blobs[i];
            rc = blobs[i] == NULL ? -1 : 0; /* out of memory */
        }
    }
    if (rc == 0)
        rc = w->cb(w->ctx, &row);
    for (i = 0; i < row.n; i++)
        PQfreemem(blobs[i]);
    return rc;
}

enum kw_err kw_pg_row_each(struct kw_tx *tx, enum kw_store_table t, kw_store_row_cb cb, void *ctx)
{
    struct row_walk w = {t, cb, ctx};
    char sql[1024];

    if (kw_store_row_sql(t, 0, 1, sql, sizeof(sql)) != 0)
        return KW_ERR_INTERNAL;
    return kw_pg_each(tx, sql, NULL, walk_row, &w, "row_each");
}

/* Moves table's identity sequence to its largest seq (setval's is_called = true: nextval answers
 * the one after). */
static enum kw_err follow_seq(struct kw_tx *tx, const char *table)
{
    char sql[256];

    snprintf(sql, sizeof(sql),
             "SELECT setval(pg_get_serial_sequence('%s', 'seq'), (SELECT max(seq) FROM %s))", table, table);
    return kw_pg_run(tx, sql, NULL, "row_put_seq", NULL);
}

enum kw_err kw_pg_row_put(struct kw_tx *tx, const struct kw_store_row *row)
{
    const struct kw_store_table_def *d = &kw_store_tables[row->table];
    struct kw_pg_params p = {0};
    char sql[1024];
    enum kw_err err;
    int i;

    if (kw_store_row_sql(row->table, 1, 1, sql, sizeof(sql)) != 0)
        return KW_ERR_INTERNAL;
    for (i = 0; i < row->n; i++) {
        if (d->types[i] == 'i') {
            kw_pg_int(&p, row->v[i].i);
            continue;
        }
        p.v[p.n] = row->v[i].p != NULL ? (const char *)row->v[i].p : "";
        p.len[p.n] = (int)row->v[i].len; /* text in binary format is its bytes: no NUL needed */
        p.fmt[p.n] = 1;
        p.n++;
    }
    err = kw_pg_atomic_begin(tx);
    if (err != KW_OK)
        return err;
    err = kw_pg_run(tx, sql, &p, "row_put", NULL);
    if (err == KW_OK && d->identity)
        err = follow_seq(tx, d->name);
    return kw_pg_atomic_end(tx, err);
}
