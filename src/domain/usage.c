/* usage.c - usage reads; see usage.h. */
#include "domain/usage.h"

enum kw_err kw_usage_list(struct kw_app *app, const char *service_id, int64_t from_ms,
                          struct kw_usage_point *items, size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err;

    *n = 0;
    err = kw_store_service_get(app->store, service_id, &s);
    if (err == KW_OK)
        err = kw_store_usage_list(app->store, service_id, from_ms, items, cap, n);
    return err;
}
