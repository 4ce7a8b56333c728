/* stream.c - responses whose body api/ produces in pieces (struct kw_api_stream in api/api.h).
 *
 * The loop starts the response with an h2o generator and asks a pool thread for one chunk at a time:
 * the chunk is written into the stream's own buffer by stream.next() on the pool (it may read the
 * store), comes back through the loop's multithread queue (w->stream_done) and goes out with h2o_send.
 * The next chunk is produced only when h2o calls the generator's proceed (the previous one has been
 * written to the socket), so a slow reader holds at most one chunk of its response in keyward.
 *
 * Lifetime: the state is malloc'd (a production may still be running on the pool when h2o disposes
 * the request). A small object in req->pool points at it; its destructor (h2o disposing the request:
 * the response ended, or the client went away) clears st->req, and frees the state unless a
 * production is outstanding, in which case the production's return frees it. h2o_req_t is only
 * touched on its loop and never after the destructor ran. stream.free(ctx) runs once: right after the
 * last next() (done or failed), or when the state is freed. The buffer handed to h2o_send stays valid
 * until proceed is called or the request is disposed, as h2o requires (h2o 2.2.5 include/h2o.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "http/internal.h"
#include "http/pool.h"

#define KW_STREAM_CHUNK (64 * 1024) /* bytes per next() call: one such buffer per streamed response */
#define KW_STREAM_RETRY_MS 10       /* pool queue full: ask again after this long */
#define KW_STREAM_RID_MAX 72

struct kw_stream {
    h2o_generator_t super;         /* first: h2o hands it back to proceed/stop */
    struct kw_pool_job job;        /* the production, on a pool thread */
    h2o_multithread_message_t msg; /* its way back to the loop */
    h2o_timeout_entry_t retry;     /* the pool refused: try again shortly */
    struct kw_worker *w;
    h2o_req_t *req;           /* loop thread only; NULL once h2o disposed the request */
    struct kw_stream **link;  /* in req->pool: its destructor clears req */
    struct kw_api_stream s;   /* s.next == NULL once s.free ran */
    int busy;                 /* a production is on the pool (or queued) */
    int done;                 /* set by the production */
    enum kw_err err;          /* set by the production */
    size_t len;               /* bytes the production wrote into buf */
    uint64_t sent;            /* body bytes handed to h2o */
    char rid[KW_STREAM_RID_MAX];
    char buf[KW_STREAM_CHUNK];
};

/* Ends the producer's side: stream.free once. Loop thread (or the pool's last production). */
static void stream_release(struct kw_stream *st)
{
    if (st->s.next != NULL) {
        if (st->s.free != NULL)
            st->s.free(st->s.ctx);
        st->s.next = NULL;
    }
}

static void stream_destroy(struct kw_stream *st)
{
    h2o_timeout_unlink(&st->retry);
    stream_release(st);
    free(st);
}

/* h2o disposes the request (the response ended, or the connection closed): forget it; free the state
 * unless a production still has to come back. Loop thread. */
static void on_req_dispose(void *p)
{
    struct kw_stream **link = p, *st = *link;

    if (st == NULL)
        return;
    st->req = NULL;
    h2o_timeout_unlink(&st->retry);
    if (!st->busy)
        stream_destroy(st);
}

/* On a pool thread: one next() call, then back to the owning loop. st is not touched after the send. */
static void produce_run(struct kw_pool_job *pj)
{
    struct kw_stream *st = H2O_STRUCT_FROM_MEMBER(struct kw_stream, job, pj);

    st->len = 0;
    st->done = 0;
    st->err = st->s.next(st->s.ctx, st->buf, sizeof(st->buf), &st->len, &st->done);
    if (st->err == KW_OK && st->len > sizeof(st->buf))
        st->err = KW_ERR_INTERNAL;
    h2o_multithread_send_message(&st->w->stream_done, &st->msg);
}

/* Asks the pool for the next chunk; if its queue is full, again after KW_STREAM_RETRY_MS. Loop thread. */
static void produce(struct kw_stream *st)
{
    st->busy = 1;
    st->w->inflight++; /* the drain waits for it (server.c) */
    st->job.run = produce_run;
    if (kw_pool_submit(st->w->srv->pool, &st->job) == KW_OK)
        return;
    st->busy = 0;
    st->w->inflight--;
    h2o_timeout_link(st->w->ctx.loop, &st->w->stream_retry, &st->retry);
}

static void on_retry(h2o_timeout_entry_t *entry)
{
    struct kw_stream *st = H2O_STRUCT_FROM_MEMBER(struct kw_stream, retry, entry);

    if (st->req != NULL)
        produce(st);
}

/* h2o wants more: the previous chunk is written. */
static void on_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    struct kw_stream *st = (struct kw_stream *)self;

    (void)req;
    if (!st->busy && !h2o_timeout_is_linked(&st->retry))
        produce(st);
}

/* h2o ends the response early (the client went away); on_req_dispose, which follows, frees. */
static void on_stop(h2o_generator_t *self, h2o_req_t *req)
{
    (void)self;
    (void)req;
}

/* A chunk came back on the loop: send it (or end the response). Nothing touches st after h2o_send. */
static void chunk_back(struct kw_stream *st)
{
    h2o_req_t *req = st->req;
    int64_t cl = st->s.content_length;
    h2o_iovec_t buf = h2o_iovec_init(st->buf, st->len);

    st->busy = 0;
    st->w->inflight--;
    if (req == NULL) { /* the client went away while this chunk was made */
        stream_destroy(st);
        return;
    }
    if (st->err == KW_OK && cl >= 0 &&
        (st->sent + st->len > (uint64_t)cl || (st->done && st->sent + st->len != (uint64_t)cl)))
        st->err = KW_ERR_INTERNAL; /* the producer broke its declared Content-Length */
    if (st->err != KW_OK) {
        kw_log_error("streamed response aborted", "request_id=%s err=%s sent=%llu", st->rid,
                     kw_err_str(st->err), (unsigned long long)st->sent);
        stream_release(st);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR); /* closes the connection: a truncated body */
        return;
    }
    st->sent += st->len;
    if (st->done) {
        stream_release(st);
        h2o_send(req, &buf, st->len != 0, H2O_SEND_STATE_FINAL);
        return;
    }
    if (st->len == 0) { /* nothing yet (the contract asks for data or done): ask again */
        produce(st);
        return;
    }
    h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void on_stream_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        struct kw_stream *st = H2O_STRUCT_FROM_MEMBER(struct kw_stream, msg.link, messages->next);
        h2o_linklist_unlink(&st->msg.link);
        chunk_back(st);
    }
}

int kw_http_stream_start(h2o_req_t *req, struct kw_api_res *res, const char *rid)
{
    struct kw_worker *w = (struct kw_worker *)req->conn->ctx;
    struct kw_stream *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return -1;
    st->super.proceed = on_proceed;
    st->super.stop = on_stop;
    st->retry.cb = on_retry;
    st->w = w;
    st->req = req;
    st->s = res->stream;
    memset(&res->stream, 0, sizeof(res->stream)); /* ours now: kw_api_res_cleanup leaves it alone */
    snprintf(st->rid, sizeof(st->rid), "%s", rid);
    st->link = h2o_mem_alloc_shared(&req->pool, sizeof(*st->link), on_req_dispose);
    *st->link = st;
    req->res.content_length = st->s.content_length >= 0 ? (size_t)st->s.content_length : SIZE_MAX;
    h2o_start_response(req, &st->super);
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"))) {
        stream_release(st); /* no body: next() is never called */
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return 0;
    }
    produce(st); /* the headers go out with the first chunk */
    return 0;
}

void kw_http_stream_init(struct kw_worker *w)
{
    h2o_multithread_register_receiver(w->ctx.queue, &w->stream_done, on_stream_done);
    h2o_timeout_init(w->ctx.loop, &w->stream_retry, KW_STREAM_RETRY_MS);
}

void kw_http_stream_cleanup(struct kw_worker *w)
{
    h2o_timeout_dispose(w->ctx.loop, &w->stream_retry);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->stream_done);
}
