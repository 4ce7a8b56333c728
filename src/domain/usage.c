/* usage.c - usage reads; see usage.h. */
#include "domain/usage.h"

#include "domain/commit_internal.h"

static enum kw_err list_in(struct kw_tx *tx, const char *service_id, int64_t from_ms, struct kw_usage_point *items,
                           size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err = kw_store_service_get(tx, service_id, &s);

    return err == KW_OK ? kw_store_usage_list(tx, service_id, from_ms, items, cap, n) : err;
}

enum kw_err kw_usage_list(struct kw_app *app, const char *service_id, int64_t from_ms,
                          struct kw_usage_point *items, size_t cap, size_t *n)
{
    enum kw_err err;

    *n = 0;
    KW_DOMAIN_READ(app->store, err, tx, list_in(tx, service_id, from_ms, items, cap, n));
    return err;
}
