/* ops.c - /healthz and /readyz. (/metrics is served by http/, which holds the counters.) */
#include "api/internal.h"

#include "core/timeutil.h"
#include "domain/app.h"

void kw_api_healthz(struct kw_api_ctx *c, struct kw_api_res *res)
{
    kw_api_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

void kw_api_readyz(struct kw_api_ctx *c, struct kw_api_res *res)
{
    char reason[200];

    if (kw_app_check_ready(c->app, kw_time_now_ms(), reason, sizeof(reason)) != KW_OK) {
        kw_api_fail(c, res, 503, "NOT_READY", reason, NULL);
        return;
    }
    kw_api_json(res, 200, json_pack("{s:s}", "status", "ready"));
}
