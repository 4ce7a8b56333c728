/* internal.h - shared between the http/ files. */
#ifndef KW_HTTP_INTERNAL_H
#define KW_HTTP_INTERNAL_H

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>

#include "api/api.h"
#include "domain/app.h"
#include "http/linger.h"
#include "http/metrics.h"

struct kw_server;
struct kw_pool;

struct kw_worker {
    h2o_context_t ctx; /* first: a request's conn->ctx is the worker */
    struct kw_server *srv;
    int index;
    int fd;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener; /* NULL once the drain has closed it */
    h2o_timeout_t backoff;  /* accept pause at the descriptor limit */
    h2o_timeout_entry_t backoff_entry;
    unsigned fd_starved; /* pauses in the current episode; 0 = accepting normally */
    struct kw_lingerer linger; /* sockets closed after a refusal, drained before the last close */
    pthread_t thread;
    uint64_t requests;   /* request-id counter */
    char rid_prefix[32]; /* "<boot id>-<index>-", set at start */
    size_t rid_prefix_len;
    struct kw_metrics metrics;
    h2o_multithread_receiver_t done; /* off-loop jobs come back here (offloop.c) */
    int inflight;                    /* jobs of this loop not back yet; loop thread only */
    h2o_multithread_receiver_t stream_done; /* streamed responses' chunks come back here (stream.c) */
    h2o_timeout_t stream_retry;             /* a chunk the pool refused is asked for again (stream.c) */
    uint64_t bodypages_next_ns;             /* bodypages.c: the next walk, monotonic */
    int bodypages_mapped;                   /* the last walk found a file-mapped input buffer */
};

struct kw_server {
    struct kw_app *app;
    const struct kw_config *cfg;
    h2o_globalconf_t globalconf;
    struct kw_worker *workers;
    struct kw_metrics **metrics; /* workers[i].metrics, for rendering */
    struct kw_pool *pool;        /* runs the requests that may wait on the store (offloop.c) */
    pthread_mutex_t mu;          /* guards ndrained and pool_stopped (the shutdown handshake) */
    pthread_cond_t cv;
    int ndrained;     /* loops that have drained after SIGTERM */
    int pool_stopped; /* the pool is freed: loops may dispose their contexts */
    int nworkers;
    atomic_int stopping;
    char boot_id[8]; /* request-id prefix, random per process */
};

/* Takes the pages of file-mapped request bodies that are already written out of this loop's resident set
 * (bodypages.c); call it after each h2o_evloop_run. It walks every 5 ms until it finds such a body, then
 * after every turn while one exists, and returns 1 then (the loop should wake within 1 ms, so the walk
 * goes on while the pool reads the body). */
int kw_http_bodypages_tick(struct kw_worker *w);
/* 1 when [body, body + len) lies in req's connection input buffer and that buffer is a file mapping
 * (bodypages.c), so its pages may be released once read (core/pages.h). */
int kw_http_body_file_mapped(h2o_req_t *req, const char *body, size_t len);

/* Registers the one h2o handler that serves everything on pathconf, and on fallback (where h2o binds
 * the errors it answers before routing) the filter that turns those into problem+json. */
void kw_http_register(struct kw_server *srv, h2o_pathconf_t *pathconf, h2o_pathconf_t *fallback);

#define KW_HTTP_INGEST_PATH "/api/v1/ingest"

/* 1 for POST /api/v1/ingest (any query): its body is capped by max-document-bytes, refused as
 * DOCUMENT_TOO_LARGE, and handed to the pool without a copy (offloop.c). */
int kw_http_is_ingest(h2o_req_t *req);

/* Sends res on req (status, X-Request-Id, api's headers, body) and logs it. Loop thread of req. A
 * streamed res (res->stream.next set) is taken over (res->stream cleared) and sent by stream.c. */
void kw_http_respond(h2o_req_t *req, struct kw_api_res *res, const char *rid, size_t rid_len);

/* stream.c. Starts the response on req (status and headers already in req->res) with res's stream,
 * which it takes over (res->stream is cleared; stream.free runs exactly once from here on). 0 on
 * success; -1 (out of memory) leaves res untouched and nothing sent. Loop thread of req. */
int kw_http_stream_start(h2o_req_t *req, struct kw_api_res *res, const char *rid);
/* Registers / unregisters w's stream receiver and retry timeout (with the off-loop ones). */
void kw_http_stream_init(struct kw_worker *w);
void kw_http_stream_cleanup(struct kw_worker *w);

/* offloop.c. 1 if the request (as http/ filled it for api/) is answered on the loop: its route reads
 * only memory. One table decides, by method and path (and for verify, the kind of credential). */
int kw_http_route_loop_safe(const struct kw_api_req *a);
/* Hands the request to the pool; its response is sent later on w's loop (or dropped if the connection
 * closed first). Copies everything a points at, but an HTTP/1 ingest's body (see offloop.c). KW_ERR_RETRY
 * when the pool's queue is full, KW_ERR_NOMEM: the request stays the caller's to answer. Loop thread. */
enum kw_err kw_http_offloop_submit(struct kw_worker *w, h2o_req_t *req, const struct kw_api_req *a,
                                   uint64_t t0);
/* The answer when the pool refuses: 503 STORE_UNAVAILABLE with Retry-After. */
void kw_http_offloop_busy(struct kw_api_res *res, const char *rid);
/* Registers / unregisters w's receiver on its context's queue (after h2o_context_init, before dispose). */
void kw_http_offloop_init(struct kw_worker *w);
void kw_http_offloop_cleanup(struct kw_worker *w);

#endif
