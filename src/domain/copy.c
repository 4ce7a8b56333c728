/* copy.c - moving a deployment between stores; see copy.h. */
#include "domain/copy.h"

#include <string.h>

#include "core/log.h"
#include "domain/audit.h"

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

/* Every table from src into dst, then dst's rows counted again in the same transaction. */
static enum kw_err copy_tables(struct kw_tx *src, struct kw_tx *dst, struct kw_copy_result *res)
{
    struct put_ctx c;
    enum kw_err err = KW_OK;
    int t;

    for (t = 0; t < KW_TABLE_COUNT && err == KW_OK; t++) {
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
