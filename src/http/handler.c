/* handler.c - the one h2o handler: limits, request id, peer address, /metrics, then api/. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api/api.h"
#include "core/config.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/timeutil.h"
#include "http/assets.h"
#include "http/internal.h"

struct kw_handler {
    h2o_handler_t super;
    struct kw_server *srv;
};

/* The request headers keyward reads, found in one pass (h2o lower-cases names; tokens compare by
 * pointer), and their total size for the max-header-bytes cap. */
#define KW_XFF_HEADERS_MAX 8 /* X-Forwarded-For header lines looked at (the last ones) */

struct kw_req_headers {
    const h2o_iovec_t *content_type, *authorization, *api_key, *cookie, *csrf, *request_id, *encryption_key;
    const h2o_iovec_t *approver_department, *idempotency_key; /* POST /api/v1/ingest */
    int approver_department_count, idempotency_key_count;
    size_t bytes;
    int authorization_count, api_key_count;         /* repeated credentials are refused as ambiguous */
    int encryption_key_count;                       /* a repeated X-Keyward-Encryption-Key is refused */
    int signed_request;                             /* Signature or Signature-Input came (RFC 9421) */
    struct kw_netaddr_span xff[KW_XFF_HEADERS_MAX]; /* the right-most X-Forwarded-For lines, in order */
    size_t nxff;
};

static void add_xff(struct kw_req_headers *out, const h2o_iovec_t *v)
{
    if (out->nxff == KW_XFF_HEADERS_MAX) /* keep the right-most lines */
        memmove(out->xff, out->xff + 1, --out->nxff * sizeof(out->xff[0]));
    out->xff[out->nxff].p = v->base;
    out->xff[out->nxff++].len = v->len;
}

static void scan_headers(h2o_req_t *req, struct kw_req_headers *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    out->bytes = req->input.path.len + req->input.method.len;
    for (i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        const h2o_iovec_t *n = h->name, **slot = NULL;
        out->bytes += n->len + h->value.len + 4;
        if (n == &H2O_TOKEN_AUTHORIZATION->buf) {
            slot = &out->authorization;
            out->authorization_count++;
        } else if (n == &H2O_TOKEN_CONTENT_TYPE->buf)
            slot = &out->content_type;
        else if (n == &H2O_TOKEN_COOKIE->buf)
            slot = &out->cookie;
        else if (h2o_memis(n->base, n->len, H2O_STRLIT("x-api-key"))) {
            slot = &out->api_key;
            out->api_key_count++;
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("x-forwarded-for")))
            add_xff(out, &h->value);
        else if (h2o_memis(n->base, n->len, H2O_STRLIT("x-csrf-token")))
            slot = &out->csrf;
        else if (h2o_memis(n->base, n->len, H2O_STRLIT("x-request-id")))
            slot = &out->request_id;
        else if (h2o_memis(n->base, n->len, H2O_STRLIT("x-keyward-encryption-key"))) {
            slot = &out->encryption_key;
            out->encryption_key_count++;
        }
        else if (h2o_memis(n->base, n->len, H2O_STRLIT("x-approver-department"))) {
            slot = &out->approver_department;
            out->approver_department_count++;
        } else if (h2o_memis(n->base, n->len, H2O_STRLIT("idempotency-key"))) {
            slot = &out->idempotency_key;
            out->idempotency_key_count++;
        }
        else if (h2o_memis(n->base, n->len, H2O_STRLIT("signature")) ||
                 h2o_memis(n->base, n->len, H2O_STRLIT("signature-input")))
            out->signed_request = 1;
        if (slot != NULL && *slot == NULL) /* the first of repeated headers, as h2o_find_header did */
            *slot = &h->value;
    }
}

/* A client's X-Request-Id is kept when it is 1..KW_REQUEST_ID_MAX characters of [A-Za-z0-9._-]. */
#define KW_REQUEST_ID_MAX 64 /* a client's X-Request-Id up to this many characters is kept */

static int client_id_ok(const h2o_iovec_t *v)
{
    size_t i;

    if (v == NULL || v->len == 0 || v->len > KW_REQUEST_ID_MAX)
        return 0;
    for (i = 0; i < v->len; i++) {
        char ch = v->base[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-' ||
              ch == '_' || ch == '.'))
            return 0;
    }
    return 1;
}

/* The client's id if acceptable, else "<boot>-<worker>-<counter in hex>", formatted by hand (this is
 * on every request: no printf). Returns the length; out is NUL-terminated. */
static size_t request_id(struct kw_worker *w, const h2o_iovec_t *client, char out[KW_REQUEST_ID_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n;
    size_t len, digits = 0;

    if (client_id_ok(client)) {
        memcpy(out, client->base, client->len);
        out[client->len] = '\0';
        return client->len;
    }
    len = w->rid_prefix_len;
    memcpy(out, w->rid_prefix, len);
    n = ++w->requests;
    for (uint64_t v = n; v != 0; v >>= 4)
        digits++;
    for (size_t i = digits; i > 0; i--, n >>= 4)
        out[len + i - 1] = hex[n & 15];
    len += digits;
    out[len] = '\0';
    return len;
}

/* The socket peer as text: dotted-quad by hand for IPv4 (every request needs it), getnameinfo else. */
static void numeric_host(const struct sockaddr_storage *ss, socklen_t len, char out[KW_NETADDR_TEXT_MAX])
{
    char *o = out;

    out[0] = '\0';
    if (len >= sizeof(struct sockaddr_in) && ss->ss_family == AF_INET) {
        const unsigned char *b = (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr;
        for (int i = 0; i < 4; i++) {
            if (b[i] >= 100)
                *o++ = (char)('0' + b[i] / 100);
            if (b[i] >= 10)
                *o++ = (char)('0' + b[i] / 10 % 10);
            *o++ = (char)('0' + b[i] % 10);
            *o++ = i < 3 ? '.' : '\0';
        }
        return;
    }
    if (len == 0 || h2o_socket_getnumerichost((struct sockaddr *)ss, len, out) == SIZE_MAX)
        out[0] = '\0';
}

/* The client's address: the socket peer, or when the peer is a trusted proxy, what its
 * X-Forwarded-For says (core/netaddr.h has the walk). Every header line counts, in order. */
static void peer(h2o_req_t *req, const struct kw_req_headers *hs, char out[KW_NETADDR_TEXT_MAX])
{
    const struct kw_config *cfg = ((struct kw_worker *)req->conn->ctx)->srv->cfg;
    char addr[KW_NETADDR_TEXT_MAX];
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);

    if (cfg->trusted_proxy_set.n == 0) {
        numeric_host(&ss, len, out);
        return;
    }
    numeric_host(&ss, len, addr);
    kw_netaddr_client(&cfg->trusted_proxy_set, addr, hs->xff, hs->nxff, out);
}

/* Adds a response header whose name is a static iovec (no pool copy of the name). */
static void add_header(h2o_req_t *req, h2o_iovec_t *name, const char *value, size_t len)
{
    h2o_header_t *h;

    h2o_vector_reserve(&req->pool, &req->res.headers, req->res.headers.size + 1);
    h = &req->res.headers.entries[req->res.headers.size++];
    h->name = name;
    h->orig_name = NULL;
    h->value = h2o_iovec_init(value, len);
}

static h2o_iovec_t x_request_id = {H2O_STRLIT("x-request-id")};

/* HEAD is served as GET and h2o_send_inline drops the body (the Content-Length stays the GET's). A 405
 * whose Allow lists GET gets HEAD added, as that method is answered too. */
static void send_res(h2o_req_t *req, struct kw_api_res *res, const char *rid, size_t rid_len)
{
    size_t i;

    req->res.status = res->status;
    req->res.reason = kw_api_status_title(res->status);
    add_header(req, &x_request_id, rid, rid_len);
    for (i = 0; i < res->nheaders; i++) {
        const struct kw_api_header *h = &res->headers[i];
        size_t vlen = strlen(h->value);
        const char *v = h->value;
        if (res->status == 405 && strcmp(h->name, "Allow") == 0 && strstr(v, "GET") != NULL &&
            strstr(v, "HEAD") == NULL) {
            v = h2o_concat(&req->pool, h2o_iovec_init(v, vlen), h2o_iovec_init(H2O_STRLIT(", HEAD"))).base;
            vlen += 6;
        }
        h2o_add_header_by_str(&req->pool, &req->res.headers, h->name, strlen(h->name), 1, NULL, v, vlen);
    }
    if (res->content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, res->content_type,
                       strlen(res->content_type));
    if (res->stream.next != NULL) { /* a streamed body (stream.c); HEAD sends the headers only */
        if (kw_http_stream_start(req, res, rid) == 0)
            return;
        kw_api_res_cleanup(res); /* out of memory: nothing went out yet */
        req->res.status = 500;
        req->res.reason = kw_api_status_title(500);
    }
    req->res.content_length = res->body_len;
    h2o_send_inline(req, res->body ? res->body : "", res->body_len);
}

/* 1 for PUT /api/v1/services/{serviceId}/candidates/{refId}/pictures/{name}: its body is a picture,
 * capped by picture-max-bytes instead of max-body-bytes. */
static int is_picture_upload(h2o_req_t *req)
{
    static const char pre[] = "/api/v1/services/";
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    const char *p = req->path.base, *end = p + plen, *q;
    int slashes = 0;

    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PUT")) || plen < sizeof(pre) - 1 ||
        memcmp(p, pre, sizeof(pre) - 1) != 0)
        return 0;
    for (q = p + sizeof(pre) - 1; q < end; q++)
        slashes += *q == '/';
    q = p + sizeof(pre) - 1;
    q = memchr(q, '/', (size_t)(end - q));
    return slashes == 4 && q != NULL && (size_t)(end - q) > sizeof("/candidates/") &&
           memcmp(q, "/candidates/", sizeof("/candidates/") - 1) == 0 &&
           h2o_strstr(q, (size_t)(end - q), H2O_STRLIT("/pictures/")) != SIZE_MAX;
}

int kw_http_is_ingest(h2o_req_t *req)
{
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;

    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")) &&
           h2o_memis(req->path.base, plen, H2O_STRLIT(KW_HTTP_INGEST_PATH));
}

/* The body cap of req's route: max-document-bytes for an ingest, picture-max-bytes for a picture,
 * max-body-bytes for everything else. */
static int64_t body_cap(struct kw_server *srv, h2o_req_t *req)
{
    if (kw_http_is_ingest(req))
        return srv->cfg->max_document_bytes;
    return is_picture_upload(req) ? srv->cfg->picture_max_bytes : srv->cfg->max_body_bytes;
}

static void body_too_large(struct kw_server *srv, h2o_req_t *req, struct kw_api_res *res, const char *rid)
{
    char detail[160];

    if (kw_http_is_ingest(req)) {
        snprintf(detail, sizeof(detail),
                 "The document upload exceeds the limit of %lld bytes (max-document-bytes).",
                 (long long)srv->cfg->max_document_bytes);
        kw_api_problem(res, 413, "DOCUMENT_TOO_LARGE", detail, NULL, rid);
        return;
    }
    if (is_picture_upload(req)) {
        snprintf(detail, sizeof(detail), "The picture exceeds the limit of %lld bytes (picture-max-bytes).",
                 (long long)srv->cfg->picture_max_bytes);
        kw_api_problem(res, 413, "PICTURE_TOO_LARGE", detail, NULL, rid);
        return;
    }
    snprintf(detail, sizeof(detail), "The request body exceeds the limit of %lld bytes (max-body-bytes).",
             (long long)srv->cfg->max_body_bytes);
    kw_api_problem(res, 413, "BODY_TOO_LARGE", detail, NULL, rid);
}

/* Checks the caps that apply before routing; 1 if the request may go on. */
static int within_limits(struct kw_server *srv, h2o_req_t *req, size_t header_bytes, struct kw_api_res *res,
                         const char *rid)
{
    char detail[128];

    if (header_bytes > (size_t)srv->cfg->max_header_bytes) {
        snprintf(detail, sizeof(detail), "Request headers exceed the limit of %lld bytes.",
                 (long long)srv->cfg->max_header_bytes);
        kw_api_problem(res, 431, "HEADERS_TOO_LARGE", detail, NULL, rid);
        return 0;
    }
    if (req->entity.base != NULL && req->entity.len > (size_t)body_cap(srv, req)) {
        body_too_large(srv, req, res, rid);
        return 0;
    }
    return 1;
}

/* /metrics (any query): GET and HEAD, else 405. */
static void serve_metrics(struct kw_server *srv, int get, struct kw_api_res *res, const char *rid)
{
    res->route = "/metrics";
    if (!get) {
        kw_api_problem(res, 405, "METHOD_NOT_ALLOWED", "This endpoint does not take that method.", NULL, rid);
        res->headers[0].name = "Allow";
        memcpy(res->headers[0].value, "GET, HEAD", sizeof("GET, HEAD"));
        res->nheaders = 1;
        return;
    }
    res->body = kw_metrics_render(srv->metrics, (size_t)srv->nworkers, kw_keycache_count(srv->app->keys),
                                  &res->body_len);
    if (res->body != NULL) {
        struct kw_writer_stats ws;
        kw_writer_stats(srv->app->writer, &ws);
        res->body = kw_metrics_append_writer(res->body, &res->body_len, &ws);
    }
    res->status = res->body ? 200 : 500;
    res->content_type = "text/plain; version=0.0.4";
}

static void console_redirect(h2o_req_t *req, const char *rid, size_t rid_len)
{
    static const char body[] = "<!DOCTYPE html><title>Moved</title><p><a href=\"/console/\">/console/</a>";

    req->res.status = 302;
    req->res.reason = "Found";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, H2O_STRLIT("/console/"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/html; charset=utf-8"));
    add_header(req, &x_request_id, rid, rid_len);
    req->res.content_length = sizeof(body) - 1;
    h2o_send_inline(req, body, sizeof(body) - 1);
}

/* GET / and /console redirect to /console/; /console/<file> comes from the embedded table. Returns 1
 * if it answered. Static files are public; the API behind them checks every call. */
static int serve_console(h2o_req_t *req, size_t plen, int get, const char *rid, size_t rid_len)
{
    const struct kw_asset *a;

    if (!get)
        return 0;
    if ((plen == 1 && req->path.base[0] == '/') || h2o_memis(req->path.base, plen, H2O_STRLIT("/console"))) {
        console_redirect(req, rid, rid_len);
        return 1;
    }
    if (plen < 9 || memcmp(req->path.base, "/console/", 9) != 0 ||
        (a = kw_asset_find(req->path.base, plen)) == NULL)
        return 0;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, a->type, strlen(a->type));
    add_header(req, &x_request_id, rid, rid_len);
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

#define SET(dst, h)                                                                                          \
    do {                                                                                                     \
        if ((h) != NULL) {                                                                                   \
            a->dst = (h)->base;                                                                              \
            a->dst##_len = (h)->len;                                                                         \
        }                                                                                                    \
    } while (0)

/* A signed request's every header line (RFC 9421 may cover any), in req's pool. */
static void fill_fields(h2o_req_t *req, struct kw_api_req *a)
{
    struct kw_httpsig_field *f = h2o_mem_alloc_pool(&req->pool, sizeof(*f) * (req->headers.size + 1));
    size_t i;

    for (i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        f[i] = (struct kw_httpsig_field){h->name->base, h->name->len, h->value.base, h->value.len};
    }
    a->fields = f;
    a->nfields = req->headers.size;
}

static void fill_api_req(h2o_req_t *req, const struct kw_req_headers *hs, int head, struct kw_api_req *a,
                         const char *ip, const char *rid)
{
    size_t plen = req->path.len;

    memset(a, 0, sizeof(*a));
    a->method = head ? "GET" : req->method.base;
    a->method_len = head ? 3 : req->method.len;
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
    SET(content_type, hs->content_type);
    SET(authorization, hs->authorization);
    SET(api_key, hs->api_key);
    SET(cookie, hs->cookie);
    SET(csrf, hs->csrf);
    SET(encryption_key, hs->encryption_key);
    a->encryption_key_count = (unsigned)hs->encryption_key_count;
    SET(approver_department, hs->approver_department);
    SET(idempotency_key, hs->idempotency_key);
    a->approver_department_count = (unsigned)hs->approver_department_count;
    a->idempotency_key_count = (unsigned)hs->idempotency_key_count;
    a->authority = req->input.authority.base;
    a->authority_len = req->input.authority.len;
    a->scheme = req->input.scheme == &H2O_URL_SCHEME_HTTPS ? "https" : "http";
    if (hs->signed_request)
        fill_fields(req, a);
    a->authorization_count = hs->authorization_count;
    a->api_key_count = hs->api_key_count;
    a->ip = ip;
    a->request_id = rid;
    /* h2o's per-loop-iteration wall clock, taken when the request began: no clock call of our own. */
    if (req->timestamps.request_begin_at.tv_sec != 0)
        a->now_ms = (int64_t)req->timestamps.request_begin_at.tv_sec * 1000 +
                    req->timestamps.request_begin_at.tv_usec / 1000;
    else
        a->now_ms = kw_time_now_ms();
}

#undef SET

static void log_request(const char *rid, const struct kw_api_res *res)
{
    if (res->status >= 500)
        kw_log_error("request failed", "request_id=%s route=\"%s\" status=%d", rid, res->route, res->status);
    else /* kw_log returns before any formatting when debug is off */
        kw_log_debug("request", "request_id=%s route=\"%s\" status=%d", rid, res->route, res->status);
}

void kw_http_respond(h2o_req_t *req, struct kw_api_res *res, const char *rid, size_t rid_len)
{
    send_res(req, res, rid, rid_len);
    log_request(rid, res);
}

/* Store-bound routes go to the pool (offloop.c) and are answered later; 1 if this one was. */
static int handle_api(struct kw_worker *w, h2o_req_t *req, const struct kw_api_req *a, uint64_t t0,
                      struct kw_api_res *res)
{
    if (kw_http_route_loop_safe(a)) {
        kw_api_handle(w->srv->app, a, res);
        return 0;
    }
    if (kw_http_offloop_submit(w, req, a, t0) == KW_OK)
        return 1;
    kw_http_offloop_busy(res, a->request_id); /* queue full: logged as a 503 by kw_http_respond */
    return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct kw_server *srv = ((struct kw_handler *)self)->srv;
    struct kw_worker *w = (struct kw_worker *)req->conn->ctx;
    uint64_t t0 = kw_time_mono_ns();
    size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len, rid_len;
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    int get = head || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    struct kw_req_headers hs;
    struct kw_api_req a;
    struct kw_api_res res;
    char rid[KW_REQUEST_ID_MAX + 1], ip[KW_NETADDR_TEXT_MAX];

    if (w->ctx.shutdown_requested)
        req->http1_is_persistent = 0; /* draining: a request parsed before the stop gets Connection: close */
    scan_headers(req, &hs);
    rid_len = request_id(w, hs.request_id, rid);
    if (serve_console(req, plen, get, rid, rid_len))
        return 0;
    memset(&res, 0, sizeof(res));
    res.verify_code = -1;
    res.route = "unmatched";
    if (within_limits(srv, req, hs.bytes, &res, rid)) {
        if (h2o_memis(req->path.base, plen, H2O_STRLIT("/metrics"))) {
            serve_metrics(srv, get, &res, rid);
        } else {
            peer(req, &hs, ip);
            fill_api_req(req, &hs, head, &a, ip, rid);
            if (handle_api(w, req, &a, t0, &res))
                return 0;
        }
    }
    kw_http_respond(req, &res, rid, rid_len);
    kw_metrics_record(&w->metrics, res.route, res.status, res.verify_code, kw_time_mono_ns() - t0);
    kw_api_res_cleanup(&res);
    return 0;
}

/* Errors h2o answers by itself through h2o_send_error_generic before any handler runs (a declared or
 * chunked body over max_request_entity_size, a broken Content-Length or chunked body, an unknown
 * Transfer-Encoding) are bound to the host's fallback path; this filter there rewrites them
 * as keyward problems with an X-Request-Id. (Requests h2o cannot parse at all get a raw plain-text 400
 * written straight to the socket, past any filter: docs/openapi.yaml documents that one.) */
struct kw_problem_filter {
    h2o_filter_t super;
    struct kw_server *srv;
};

struct kw_problem_ostream {
    h2o_ostream_t super;
    h2o_iovec_t body;
};

static void problem_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                         h2o_send_state_t st)
{
    struct kw_problem_ostream *o = (struct kw_problem_ostream *)self;

    (void)bufs;
    /* h2o_send_inline sends once, no buffer for HEAD: replace what it sends with the problem. */
    h2o_ostream_send_next(&o->super, req, n != 0 ? &o->body : NULL, n != 0 ? 1 : 0, st);
}

static void problem_rewrite(struct kw_server *srv, h2o_req_t *req, struct kw_api_res *res, const char *rid)
{
    switch (req->res.status) {
    case 413:
        body_too_large(srv, req, res, rid);
        break;
    default:
        kw_api_problem(res, 400, "MALFORMED_REQUEST",
                       "The request framing is invalid (Content-Length, Transfer-Encoding or chunked body).",
                       NULL, rid);
        break;
    }
}

static void on_setup_problem(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    struct kw_server *srv = ((struct kw_problem_filter *)self)->srv;
    struct kw_worker *w = (struct kw_worker *)req->conn->ctx;
    struct kw_problem_ostream *o;
    struct kw_req_headers hs;
    struct kw_api_res res;
    char rid[KW_REQUEST_ID_MAX + 1];
    size_t rid_len;

    if (req->res.status != 400 && req->res.status != 413) /* 417 (unknown Expect) stays h2o's */
        goto out;
    scan_headers(req, &hs);
    rid_len = request_id(w, hs.request_id, rid);
    memset(&res, 0, sizeof(res));
    problem_rewrite(srv, req, &res, rid);
    if (res.body == NULL)
        goto out; /* out of memory: h2o's own answer goes out */
    o = (struct kw_problem_ostream *)h2o_add_ostream(req, sizeof(*o), slot);
    o->super.do_send = problem_send;
    o->body = h2o_strdup(&req->pool, res.body, res.body_len);
    memset(&req->res.headers, 0, sizeof(req->res.headers));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, res.content_type,
                   strlen(res.content_type));
    add_header(req, &x_request_id, h2o_strdup(&req->pool, rid, rid_len).base, rid_len);
    req->res.reason = kw_api_status_title(req->res.status);
    req->res.content_length = res.body_len;
    kw_api_res_cleanup(&res);
    kw_metrics_record(&w->metrics, "unmatched", req->res.status, -1, 0);
    /* h2o closes the connection after this answer, possibly with the body still arriving */
    kw_linger_start(&w->linger, req);
    slot = &o->super.next;
out:
    h2o_setup_next_ostream(req, slot);
}

void kw_http_register(struct kw_server *srv, h2o_pathconf_t *pathconf, h2o_pathconf_t *fallback)
{
    struct kw_handler *h = (struct kw_handler *)h2o_create_handler(pathconf, sizeof(*h));
    struct kw_problem_filter *f = (struct kw_problem_filter *)h2o_create_filter(fallback, sizeof(*f));

    h->super.on_req = on_req;
    h->srv = srv;
    f->super.on_setup_ostream = on_setup_problem;
    f->srv = srv;
}
