/* ops.c - /healthz and /readyz. (/metrics is served by http/, which holds the counters.) */
#include "api/internal.h"

void kw_api_healthz(struct kw_api_ctx *c, struct kw_api_res *res)
{
    kw_api_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

void kw_api_readyz(struct kw_api_ctx *c, struct kw_api_res *res)
{
    if (!atomic_load(&c->app->ready)) {
        kw_api_fail(c, res, 503, "NOT_READY", "The store or the key cache is not ready yet.", NULL);
        return;
    }
    kw_api_json(res, 200, json_pack("{s:s}", "status", "ready"));
}
