/* libFuzzer driver: the api/ request parsers (query string, cookie header, JSON body with strict field
 * checks) over arbitrary bytes, through kw_api_handle on routes that need no store. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/healthz", "/api/v1/auth/check", "/api/v1/nope", "/api/v1/services/x/y"};
    struct kw_app app;
    struct kw_api_req req;
    struct kw_api_res res;
    char *buf;
    size_t third = size / 3;

    if (size < 3)
        return 0;
    buf = malloc(size);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    memset(&app, 0, sizeof(app)); /* no store, no cache: only routes that never reach them */
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.method_len = 3;
    req.path = paths[data[0] & 3];
    req.path_len = strlen(req.path);
    req.query = buf;
    req.query_len = third;
    req.cookie = buf + third;
    req.cookie_len = third;
    req.content_type = "application/json";
    req.content_type_len = 16;
    req.body = buf + 2 * third;
    req.body_len = size - 2 * third;
    req.ip = "127.0.0.1";
    req.request_id = "fuzz";
    /* auth/check with no credential answers MISSING before touching the cache. */
    kw_api_handle(&app, &req, &res);
    kw_api_res_cleanup(&res);
    free(buf);
    return 0;
}
