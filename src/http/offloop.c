/* offloop.c - requests that may wait on the store run on the worker pool (pool.h), not on the event
 * loop that accepted them, so a slow admin write (an fsync on SQLite, a round trip or a lock wait on
 * PostgreSQL) never holds up the verifications queued on the same loop.
 *
 * The split is by route, in one table below. The loop copies what api/ reads out of h2o's buffers
 * into one job (an ingest's body excepted: see borrows_body), a pool thread calls kw_api_handle, and
 * the job comes back to the owning loop through h2o's multithread queue (the loop's receiver), which
 * sends it. h2o_req_t is only touched on its
 * loop: a small object in req->pool points at the job, and its destructor clears job->req when h2o
 * disposes the request (its connection closed meanwhile), so nothing is written to it after. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "domain/root.h"
#include "http/internal.h"
#include "http/pool.h"

/* Requests answered on the loop: they read only memory (the key cache, counters, flags). /metrics and
 * the console's assets are served by handler.c before this table is looked at. Everything else (every
 * admin call, login, sessions, the audit list, unknown paths) goes to the pool. */
static const struct {
    const char *method, *path;
    int needs_key; /* loop-safe only when the caller presents an API key (see presents_key) */
} loop_safe[] = {
    {"GET", "/healthz", 0},
    {"GET", "/readyz", 0},
    {"GET", "/api/v1/auth/check", 0}, /* the key cache only, whatever the credential */
    {"POST", "/api/v1/keys/verify", 1},
    {"POST", "/oauth/token", 0}, /* client secrets in the key cache, signing keys in memory, audit write-behind */
};

#define KW_ROOT_FORM KW_ROOT_PREFIX "_"

/* An Authorization: Bearer or X-API-Key credential that is not in the root token's kwroot_ form: the
 * key cache authenticates it. The root token re-reads its stored hash and a session cookie reads the
 * session row, so those calls (admin traffic) go to the pool. */
static int presents_key(const struct kw_api_req *a)
{
    const char *cred = a->api_key;
    size_t len = a->api_key_len;

    if (a->authorization != NULL) {
        if (a->authorization_len < 7 || strncasecmp(a->authorization, "Bearer ", 7) != 0)
            return 0;
        cred = a->authorization + 7;
        len = a->authorization_len - 7;
        while (len > 0 && *cred == ' ')
            cred++, len--;
    }
    if (cred == NULL || len == 0)
        return 0;
    return !(len >= sizeof(KW_ROOT_FORM) - 1 && memcmp(cred, KW_ROOT_FORM, sizeof(KW_ROOT_FORM) - 1) == 0);
}

int kw_http_route_loop_safe(const struct kw_api_req *a)
{
    size_t i;

    if (a->fields != NULL)
        return 0; /* a signed request: its replay check writes to the store */
    for (i = 0; i < sizeof(loop_safe) / sizeof(loop_safe[0]); i++) {
        size_t ml = strlen(loop_safe[i].method), pl = strlen(loop_safe[i].path);
        if (a->method_len == ml && memcmp(a->method, loop_safe[i].method, ml) == 0 && a->path_len == pl &&
            memcmp(a->path, loop_safe[i].path, pl) == 0)
            return !loop_safe[i].needs_key || presents_key(a);
    }
    return 0;
}

struct kw_offloop_job {
    struct kw_pool_job super;      /* pool side */
    h2o_multithread_message_t msg; /* the way back to the loop */
    struct kw_worker *w;           /* the owning loop */
    h2o_req_t *req;                /* loop thread only; NULL once h2o disposed the request */
    struct kw_offloop_job **link;  /* in req->pool: its destructor clears req */
    struct kw_app *app;
    struct kw_api_req a; /* pointers into data[] */
    struct kw_api_res res;
    uint64_t t0;
    size_t rid_len;
    char data[]; /* copies of everything a points at */
};

static const char *copy_out(char **at, const char *src, size_t len)
{
    char *d = *at;

    if (src == NULL)
        return NULL;
    memcpy(d, src, len);
    *at += len;
    return d;
}

/* Bytes the header lines of a signed request take (the array, aligned, and every name and value). */
static size_t fields_size(const struct kw_api_req *a)
{
    size_t i, n = _Alignof(struct kw_httpsig_field) + a->nfields * sizeof(struct kw_httpsig_field);

    for (i = 0; i < a->nfields; i++)
        n += a->fields[i].name_len + a->fields[i].value_len;
    return n;
}

static void copy_fields(char **at, const struct kw_api_req *a, struct kw_api_req *to)
{
    uintptr_t p = (uintptr_t)*at, align = _Alignof(struct kw_httpsig_field);
    struct kw_httpsig_field *f = (struct kw_httpsig_field *)((p + align - 1) / align * align);
    size_t i;

    *at = (char *)(f + a->nfields);
    for (i = 0; i < a->nfields; i++) {
        f[i].name_len = a->fields[i].name_len;
        f[i].name = copy_out(at, a->fields[i].name, a->fields[i].name_len);
        f[i].value_len = a->fields[i].value_len;
        f[i].value = copy_out(at, a->fields[i].value, a->fields[i].value_len);
    }
    to->fields = f;
}

/* An ingest's body (up to max-document-bytes) is not copied into the job: the pool thread reads it where
 * h2o put it, the connection's socket input buffer (an unlinked temporary file mapped MAP_SHARED once it
 * passes 1 MiB, server.c). Why that buffer stays put and valid until the response is sent, from h2o 2.2.5's
 * lib/http1.c (tag v2.2.5):
 *  - on_entity_read_complete (both the Content-Length and the chunked reader end there) clears the entity
 *    reader and the request timeout and calls h2o_socket_read_stop before process_request. Nothing else
 *    reads into sock->input until reqread_start, and h2o_buffer_reserve (the only call that moves or grows
 *    the buffer) is made by the socket's read path only. With reading stopped the evloop drops the fd
 *    from epoll (evloop/epoll.c.h update_status), so even a peer's FIN or RST raises no callback.
 *  - The buffer is consumed (h2o_buffer_consume) in on_send_complete, after the response went out, and
 *    freed in close_connection. close_connection runs from the read callback (stopped), the request
 *    timeout (cleared), write completions (keyward writes nothing until the job is back) and upgrades
 *    (none). keyward's own shutdown(fd) in server.c's drain does not dispose the connection either, and
 *    the drain waits for every in-flight job before h2o_context_dispose.
 * So req (and req->entity) outlives the job: on_req_dispose below cannot run while it is on the pool.
 * HTTP/2 differs: a stream's body lives in the stream, which a client's RST_STREAM closes (and disposes)
 * at any time, so over HTTP/2 the body is copied as for every other route. keyward does not enable HTTP/2
 * (no TLS/ALPN, upgrade_to_http2 = 0, so h2o 2.2.5 refuses prior knowledge too); the copy keeps a future
 * HTTP/2 listener safe, at the price of the bounded-memory guarantee (docs/documents.md). */
static int borrows_body(h2o_req_t *req)
{
    return req->version < 0x200 && kw_http_is_ingest(req);
}

/* One allocation: the job and a copy of every byte api/ may read (h2o's buffers belong to the loop), but
 * for a borrowed body (see borrows_body). */
static struct kw_offloop_job *job_new(const struct kw_api_req *a, int borrow_body)
{
    size_t iplen = strlen(a->ip) + 1, ridlen = strlen(a->request_id) + 1;
    size_t n = a->method_len + a->path_len + a->query_len + (borrow_body ? 0 : a->body_len) +
               a->content_type_len +
               a->authorization_len + a->api_key_len + a->cookie_len + a->csrf_len + iplen + ridlen +
               a->encryption_key_len + a->approver_department_len + a->idempotency_key_len +
               a->authority_len + (a->fields != NULL ? fields_size(a) : 0);
    struct kw_offloop_job *job = calloc(1, sizeof(*job) + n);
    char *at;

    if (job == NULL)
        return NULL;
    at = job->data;
    job->a = *a;
    job->a.authority = copy_out(&at, a->authority, a->authority_len);
    if (a->fields != NULL)
        copy_fields(&at, a, &job->a);
    job->a.method = copy_out(&at, a->method, a->method_len);
    job->a.path = copy_out(&at, a->path, a->path_len);
    job->a.query = copy_out(&at, a->query, a->query_len);
    job->a.body = borrow_body ? a->body : copy_out(&at, a->body, a->body_len);
    job->a.content_type = copy_out(&at, a->content_type, a->content_type_len);
    job->a.authorization = copy_out(&at, a->authorization, a->authorization_len);
    job->a.api_key = copy_out(&at, a->api_key, a->api_key_len);
    job->a.cookie = copy_out(&at, a->cookie, a->cookie_len);
    job->a.csrf = copy_out(&at, a->csrf, a->csrf_len);
    job->a.encryption_key = copy_out(&at, a->encryption_key, a->encryption_key_len);
    job->a.approver_department = copy_out(&at, a->approver_department, a->approver_department_len);
    job->a.idempotency_key = copy_out(&at, a->idempotency_key, a->idempotency_key_len);
    job->a.ip = copy_out(&at, a->ip, iplen);
    job->a.request_id = copy_out(&at, a->request_id, ridlen);
    job->rid_len = ridlen - 1;
    job->res.verify_code = -1;
    job->res.route = "unmatched";
    return job;
}

/* On a pool thread: the job is not touched after it is handed back. */
static void job_run(struct kw_pool_job *pj)
{
    struct kw_offloop_job *job = (struct kw_offloop_job *)pj;

    kw_api_handle(job->app, &job->a, &job->res);
    h2o_multithread_send_message(&job->w->done, &job->msg);
}

/* h2o disposes the request (the connection closed, or after its response): forget it. Loop thread. */
static void on_req_dispose(void *p)
{
    struct kw_offloop_job **link = p;

    if (*link != NULL)
        (*link)->req = NULL;
}

/* Back on the owning loop: send, unless the client went away meanwhile. */
static void job_finish(struct kw_worker *w, struct kw_offloop_job *job)
{
    w->inflight--;
    if (job->req != NULL) {
        *job->link = NULL;
        if (w->ctx.shutdown_requested)
            job->req->http1_is_persistent = 0; /* draining: Connection: close */
        kw_http_respond(job->req, &job->res, job->a.request_id, job->rid_len);
    } else {
        kw_log_debug("response dropped: the connection closed first", "request_id=%s route=\"%s\" status=%d",
                     job->a.request_id, job->res.route, job->res.status);
    }
    kw_metrics_record(&w->metrics, job->res.route, job->res.status, job->res.verify_code,
                      kw_time_mono_ns() - job->t0);
    kw_api_res_cleanup(&job->res);
    free(job);
}

static void on_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    struct kw_worker *w = H2O_STRUCT_FROM_MEMBER(struct kw_worker, done, receiver);

    while (!h2o_linklist_is_empty(messages)) {
        struct kw_offloop_job *job = H2O_STRUCT_FROM_MEMBER(struct kw_offloop_job, msg.link, messages->next);
        h2o_linklist_unlink(&job->msg.link);
        job_finish(w, job);
    }
}

enum kw_err kw_http_offloop_submit(struct kw_worker *w, h2o_req_t *req, const struct kw_api_req *a,
                                   uint64_t t0)
{
    int borrow = borrows_body(req);
    struct kw_offloop_job *job = job_new(a, borrow);
    enum kw_err err = KW_ERR_NOMEM;

    if (job == NULL)
        goto out;
    job->a.body_file_mapped = borrow && kw_http_body_file_mapped(req, a->body, a->body_len);
    job->super.run = job_run;
    job->w = w;
    job->app = w->srv->app;
    job->req = req;
    job->t0 = t0;
    job->link = h2o_mem_alloc_shared(&req->pool, sizeof(*job->link), on_req_dispose);
    *job->link = job;
    w->inflight++;
    err = kw_pool_submit(w->srv->pool, &job->super);
    if (err != KW_OK) {
        w->inflight--;
        *job->link = NULL;
        free(job);
    }
out:
    return err;
}

void kw_http_offloop_busy(struct kw_api_res *res, const char *rid)
{
    kw_api_problem(res, 503, "STORE_UNAVAILABLE", "The server has too many requests waiting for the store.",
                   NULL, rid);
    res->headers[0].name = "Retry-After";
    memcpy(res->headers[0].value, "1", sizeof("1"));
    res->nheaders = 1;
}

void kw_http_offloop_init(struct kw_worker *w)
{
    h2o_multithread_register_receiver(w->ctx.queue, &w->done, on_done);
    kw_http_stream_init(w);
}

void kw_http_offloop_cleanup(struct kw_worker *w)
{
    kw_http_stream_cleanup(w);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->done);
}
