/* audit_query.c - audit reads; see audit_query.h. */
#include "domain/audit_query.h"

enum kw_err kw_audit_query_list(struct kw_app *app, const struct kw_audit_filter *f,
                                struct kw_audit_event *items, size_t cap, size_t *n)
{
    *n = 0;
    return kw_store_audit_list(app->store, f, items, cap, n);
}
