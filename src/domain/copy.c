/* copy.c - moving a deployment between stores; see copy.h. */
#include "domain/copy.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "domain/audit.h"
#include "domain/documents.h"

struct put_ctx {
    struct kw_tx *dst;
    int64_t n;
    enum kw_err err;
};

static int put_row(void *ctx, const struct kw_store_row *row)
{
    struct put_ctx *p = ctx;

    p->err = kw_store_row_put(p->dst, row);
    p->n++;
    return p->err != KW_OK;
}

static int count_row(void *ctx, const struct kw_store_row *row)
{
    (void)row;
    ((struct put_ctx *)ctx)->n++;
    return 0;
}

static int stop_at_row(void *ctx, const struct kw_store_row *row)
{
    (void)row;
    ((struct put_ctx *)ctx)->n++;
    return 1;
}

/* KW_OK when dst has no row in any table and its version counter is 0 (what migrations leave). */
static enum kw_err check_empty(struct kw_tx *dst, struct kw_copy_result *res)
{
    struct put_ctx c;
    enum kw_err err;
    int64_t version = 0;
    int t;

    for (t = 0; t < KW_TABLE_COUNT; t++) {
        if (t == KW_TABLE_COUNTERS)
            continue; /* a migration creates its row; the version below says whether it was used */
        memset(&c, 0, sizeof(c));
        err = kw_store_row_each(dst, (enum kw_store_table)t, stop_at_row, &c);
        if (c.n > 0) {
            res->nonempty = t;
            return KW_ERR_CONFLICT;
        }
        if (err != KW_OK)
            return err;
    }
    err = kw_store_version_current(dst, &version);
    if (err == KW_OK && version != 0) {
        res->nonempty = KW_TABLE_COUNTERS;
        err = KW_ERR_CONFLICT;
    }
    return err;
}

/* The documents table's columns (kw_store_tables, store.c) that say whether a row has content. */
enum { DOC_COL_ID = 1, DOC_COL_SEALED_DEK = 15, DOC_COL_CHUNK_SIZE = 16, DOC_COL_NCHUNKS = 17, DOC_COL_DELETED = 21 };

struct doc_ref {
    char id[KW_ID_MAX];
    int64_t nchunks, chunk_size;
};

struct docs_ctx {
    struct put_ctx put;
    struct doc_ref *v;
    size_t n, cap;
};

/* Puts a documents row, and notes a live one (its content follows once the table is done: the source's
 * row walk may hold its connection). */
static int put_doc_row(void *ctx, const struct kw_store_row *row)
{
    struct docs_ctx *d = ctx;
    struct doc_ref *r;

    if (put_row(&d->put, row))
        return 1;
    if (row->v[DOC_COL_DELETED].i != 0 || row->v[DOC_COL_SEALED_DEK].len == 0)
        return 0; /* crypto-shredded: no content, no key */
    if (row->v[DOC_COL_ID].len >= KW_ID_MAX) {
        d->put.err = KW_ERR_INVALID;
        return 1;
    }
    if (d->n == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 64;
        void *nv = realloc(d->v, ncap * sizeof(*d->v));
        if (nv == NULL) {
            d->put.err = KW_ERR_NOMEM;
            return 1;
        }
        d->v = nv;
        d->cap = ncap;
    }
    r = &d->v[d->n++];
    memcpy(r->id, row->v[DOC_COL_ID].p, row->v[DOC_COL_ID].len);
    r->id[row->v[DOC_COL_ID].len] = '\0';
    r->nchunks = row->v[DOC_COL_NCHUNKS].i;
    r->chunk_size = row->v[DOC_COL_CHUNK_SIZE].i;
    return 0;
}

struct chunk_src {
    struct kw_tx *src;
    const struct doc_ref *doc;
    size_t rec;
};

/* content_put's producer: chunk index of the document as the source stores it (ciphertext, as is). */
static enum kw_err read_chunk(void *ctx, int64_t index, uint8_t *buf, size_t cap, size_t *len)
{
    struct chunk_src *c = ctx;

    return kw_store_document_chunk_get(c->src, c->doc->id, index, c->rec, buf, cap, len);
}

/* The documents table, then each live document's content: the sealed chunks move as they are (SQLite
 * files <-> PostgreSQL document_chunks rows), so the same data key (in the copied row) opens them. */
static enum kw_err copy_documents(struct kw_tx *src, struct kw_tx *dst, struct kw_copy_result *res)
{
    struct docs_ctx d;
    enum kw_err err;
    size_t i;

    memset(&d, 0, sizeof(d));
    d.put.dst = dst;
    err = kw_store_row_each(src, KW_TABLE_DOCUMENTS, put_doc_row, &d);
    if (d.put.err != KW_OK)
        err = d.put.err;
    res->rows[KW_TABLE_DOCUMENTS] = d.put.n;
    for (i = 0; err == KW_OK && i < d.n; i++) {
        struct chunk_src c = {src, &d.v[i], 0};
        if (d.v[i].chunk_size < 1 || d.v[i].chunk_size > KW_DOC_CHUNK_SIZE || d.v[i].nchunks < 1) {
            err = KW_ERR_INVALID;
            break;
        }
        c.rec = (size_t)d.v[i].chunk_size + KW_DOC_CHUNK_OVERHEAD;
        err = kw_store_document_content_put(dst, d.v[i].id, d.v[i].nchunks, c.rec, read_chunk, &c);
        if (err != KW_OK)
            kw_log_error("store copy: document content failed", "id=%s err=%s", d.v[i].id, kw_err_str(err));
        else
            res->contents++;
    }
    free(d.v);
    return err;
}

/* Every table from src into dst, then dst's rows counted again in the same transaction. */
static enum kw_err copy_tables(struct kw_tx *src, struct kw_tx *dst, struct kw_copy_result *res)
{
    struct put_ctx c;
    enum kw_err err = KW_OK;
    int t;

    for (t = 0; t < KW_TABLE_COUNT && err == KW_OK; t++) {
        if (t == KW_TABLE_DOCUMENTS) {
            err = copy_documents(src, dst, res);
            continue;
        }
        memset(&c, 0, sizeof(c));
        c.dst = dst;
        err = kw_store_row_each(src, (enum kw_store_table)t, put_row, &c);
        if (c.err != KW_OK)
            err = c.err;
        res->rows[t] = c.n;
        if (err != KW_OK)
            kw_log_error("store copy failed", "table=%s row=%lld err=%s",
                         kw_store_table_name((enum kw_store_table)t), (long long)c.n, kw_err_str(err));
    }
    for (t = 0; t < KW_TABLE_COUNT && err == KW_OK; t++) {
        memset(&c, 0, sizeof(c));
        err = kw_store_row_each(dst, (enum kw_store_table)t, count_row, &c);
        if (err == KW_OK && c.n != res->rows[t]) {
            kw_log_error("store copy count mismatch", "table=%s copied=%lld target=%lld",
                         kw_store_table_name((enum kw_store_table)t), (long long)res->rows[t],
                         (long long)c.n);
            err = KW_ERR_INTERNAL;
        }
    }
    return err;
}

enum kw_err kw_copy_run(struct kw_store *src, struct kw_store *dst, struct kw_copy_result *res)
{
    struct kw_tx *rtx = NULL, *wtx = NULL;
    enum kw_err err;

    memset(res, 0, sizeof(*res));
    res->nonempty = -1;
    err = kw_store_migrate(dst, NULL, &res->dst_version);
    if (err == KW_OK)
        err = kw_store_schema_version(src, &res->src_version);
    if (err == KW_OK && res->src_version != res->dst_version)
        err = KW_ERR_INVALID;
    if (err == KW_OK)
        err = kw_store_begin(src, KW_TX_READ, &rtx);
    if (err == KW_OK)
        err = kw_store_begin(dst, KW_TX_WRITE, &wtx);
    if (err == KW_OK)
        err = check_empty(wtx, res);
    if (err == KW_OK)
        err = copy_tables(rtx, wtx, res);
    if (err == KW_OK) {
        err = kw_store_commit(wtx);
        res->committed = err == KW_OK;
        wtx = NULL;
    }
    kw_store_rollback(wtx);
    kw_store_rollback(rtx);
    if (err == KW_OK)
        err = kw_audit_verify(dst, &res->audit_checked, &res->audit_broken);
    return err;
}
