/* handler.c - the one h2o handler: limits, request id, peer address, /metrics, then api/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/api.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/assets.h"
#include "http/internal.h"

struct kw_handler {
    h2o_handler_t super;
    struct kw_server *srv;
};

static const h2o_header_t *find(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i < 0 ? NULL : &req->headers.entries[i];
}

/* A client's X-Request-Id is kept when it is 1..KW_REQUEST_ID_MAX characters of [A-Za-z0-9._-]. */
#define KW_REQUEST_ID_MAX 64 /* a client's X-Request-Id up to this many characters is kept */

static void request_id(struct kw_worker *w, h2o_req_t *req, char out[KW_REQUEST_ID_MAX + 1])
{
    const h2o_header_t *h = find(req, H2O_STRLIT("x-request-id"));
    size_t i;

    if (h != NULL && h->value.len > 0 && h->value.len <= KW_REQUEST_ID_MAX) {
        for (i = 0; i < h->value.len; i++) {
            char ch = h->value.base[i];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' ||
                  ch == '_' || ch == '.'))
                break;
        }
        if (i == h->value.len) {
            memcpy(out, h->value.base, i);
            out[i] = '\0';
            return;
        }
    }
    snprintf(out, KW_REQUEST_ID_MAX + 1, "%s-%d-%llx", w->srv->boot_id, w->index, (unsigned long long)++w->requests);
}

static void peer(h2o_req_t *req, char out[64])
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);

    out[0] = '\0';
    if (len == 0 || h2o_socket_getnumerichost((struct sockaddr *)&ss, len, out) == SIZE_MAX)
        out[0] = '\0';
}

static size_t header_bytes(h2o_req_t *req)
{
    size_t i, total = req->input.path.len + req->input.method.len;

    for (i = 0; i < req->headers.size; i++)
        total += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return total;
}

static void send_res(h2o_req_t *req, const struct kw_api_res *res, const char *rid)
{
    size_t i;

    req->res.status = res->status;
    req->res.reason = kw_api_status_title(res->status);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, rid, strlen(rid));
    for (i = 0; i < res->nheaders; i++) {
        const struct kw_api_header *h = &res->headers[i];
        h2o_add_header_by_str(&req->pool, &req->res.headers, h->name, strlen(h->name), 1, NULL, h->value,
                              strlen(h->value));
    }
    if (res->content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, res->content_type,
                       strlen(res->content_type));
    req->res.content_length = res->body_len;
    h2o_send_inline(req, res->body ? res->body : "", res->body_len);
}

/* Checks the caps that apply before routing; 1 if the request may go on. */
static int within_limits(struct kw_server *srv, h2o_req_t *req, struct kw_api_res *res, const char *rid)
{
    char detail[128];

    if (header_bytes(req) > (size_t)srv->cfg->max_header_bytes) {
        snprintf(detail, sizeof(detail), "Request headers exceed the limit of %lld bytes.",
                 (long long)srv->cfg->max_header_bytes);
        kw_api_problem(res, 431, "HEADERS_TOO_LARGE", detail, NULL, rid);
        return 0;
    }
    if (req->entity.base != NULL && req->entity.len > (size_t)srv->cfg->max_body_bytes) {
        snprintf(detail, sizeof(detail), "The request body exceeds the limit of %lld bytes.",
                 (long long)srv->cfg->max_body_bytes);
        kw_api_problem(res, 413, "BODY_TOO_LARGE", detail, NULL, rid);
        return 0;
    }
    return 1;
}

static void serve_metrics(struct kw_server *srv, struct kw_api_res *res)
{
    res->body = kw_metrics_render(srv->metrics, (size_t)srv->nworkers, kw_keycache_count(srv->app->keys),
                                  &res->body_len);
    res->status = res->body ? 200 : 500;
    res->content_type = "text/plain; version=0.0.4";
    res->route = "/metrics";
}

/* GET / and /console redirect to /console/; /console/<file> comes from the embedded table. Returns 1
 * if it answered. Static files are public; the API behind them checks every call. */
static int serve_console(h2o_req_t *req, const char *rid)
{
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const struct kw_asset *a;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        return 0;
    if ((plen == 1 && req->path.base[0] == '/') || h2o_memis(req->path.base, plen, H2O_STRLIT("/console"))) {
        h2o_send_redirect(req, 302, "Found", H2O_STRLIT("/console/"));
        return 1;
    }
    if (plen < 9 || memcmp(req->path.base, "/console/", 9) != 0 || (a = kw_asset_find(req->path.base, plen)) == NULL)
        return 0;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, a->type, strlen(a->type));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, rid, strlen(rid));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL,
                          H2O_STRLIT("default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                                     "base-uri 'none'; form-action 'self'"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("no-referrer"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    req->res.content_length = a->len;
    h2o_send_inline(req, (const char *)a->data, a->len);
    return 1;
}

static void fill_api_req(h2o_req_t *req, struct kw_api_req *a, const char *ip, const char *rid)
{
    const h2o_header_t *h;
    size_t plen = req->path.len;

    memset(a, 0, sizeof(*a));
    a->method = req->method.base;
    a->method_len = req->method.len;
    a->path = req->path.base;
    if (req->query_at != SIZE_MAX) {
        plen = req->query_at;
        a->query = req->path.base + req->query_at + 1;
        a->query_len = req->path.len - req->query_at - 1;
    }
    a->path_len = plen;
    if (req->entity.base != NULL) {
        a->body = req->entity.base;
        a->body_len = req->entity.len;
    }
    if ((h = find(req, H2O_STRLIT("content-type"))) != NULL) {
        a->content_type = h->value.base;
        a->content_type_len = h->value.len;
    }
    if ((h = find(req, H2O_STRLIT("authorization"))) != NULL) {
        a->authorization = h->value.base;
        a->authorization_len = h->value.len;
    }
    if ((h = find(req, H2O_STRLIT("x-api-key"))) != NULL) {
        a->api_key = h->value.base;
        a->api_key_len = h->value.len;
    }
    if ((h = find(req, H2O_STRLIT("cookie"))) != NULL) {
        a->cookie = h->value.base;
        a->cookie_len = h->value.len;
    }
    if ((h = find(req, H2O_STRLIT("x-csrf-token"))) != NULL) {
        a->csrf = h->value.base;
        a->csrf_len = h->value.len;
    }
    a->ip = ip;
    a->request_id = rid;
    a->now_ms = kw_time_now_ms();
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct kw_server *srv = ((struct kw_handler *)self)->srv;
    struct kw_worker *w = (struct kw_worker *)req->conn->ctx;
    uint64_t t0 = kw_time_mono_ns();
    struct kw_api_req a;
    struct kw_api_res res;
    char rid[KW_REQUEST_ID_MAX + 1], ip[64];

    if (w->ctx.shutdown_requested)
        req->http1_is_persistent = 0; /* draining: a request parsed before the stop gets Connection: close */
    request_id(w, req, rid);
    if (serve_console(req, rid))
        return 0;
    memset(&res, 0, sizeof(res));
    res.verify_code = -1;
    res.route = "unmatched";
    if (within_limits(srv, req, &res, rid)) {
        if (h2o_memis(req->path.base, req->path.len, H2O_STRLIT("/metrics")) &&
            h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
            serve_metrics(srv, &res);
        } else {
            peer(req, ip);
            fill_api_req(req, &a, ip, rid);
            kw_api_handle(srv->app, &a, &res);
        }
    }
    send_res(req, &res, rid);
    if (res.status >= 500)
        kw_log_error("request failed", "request_id=%s route=\"%s\" status=%d", rid, res.route, res.status);
    else
        kw_log_debug("request", "request_id=%s route=\"%s\" status=%d", rid, res.route, res.status);
    kw_metrics_record(&w->metrics, res.route, res.status, res.verify_code, kw_time_mono_ns() - t0);
    kw_api_res_cleanup(&res);
    return 0;
}

void kw_http_register(struct kw_server *srv, h2o_pathconf_t *pathconf)
{
    struct kw_handler *h = (struct kw_handler *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->srv = srv;
}
