/* audit_query.c - audit reads; see audit_query.h. */
#include "domain/audit_query.h"

#include "domain/commit_internal.h"

enum kw_err kw_audit_query_list(struct kw_app *app, const struct kw_audit_filter *f,
                                struct kw_audit_event *items, size_t cap, size_t *n)
{
    enum kw_err err;

    *n = 0;
    KW_DOMAIN_READ(app->store, err, tx, kw_store_audit_list(tx, f, items, cap, n));
    return err;
}
