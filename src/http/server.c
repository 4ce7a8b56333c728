/* server.c - listeners, event-loop threads and signals; see server.h. */
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base62.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "http/internal.h"
#include "http/pool.h"

/* Splits "host:port" / "[v6]:port" and resolves it (numeric or localhost). */
static enum kw_err resolve(const char *listen_addr, struct addrinfo **out)
{
    char host[128];
    const char *colon = strrchr(listen_addr, ':');
    struct addrinfo hints;
    size_t hlen;

    if (colon == NULL || colon == listen_addr)
        return KW_ERR_INVALID;
    hlen = (size_t)(colon - listen_addr);
    if (listen_addr[0] == '[' && hlen >= 2 && listen_addr[hlen - 1] == ']') {
        listen_addr++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host))
        return KW_ERR_INVALID;
    memcpy(host, listen_addr, hlen);
    host[hlen] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    return getaddrinfo(host, colon + 1, &hints, out) == 0 ? KW_OK : KW_ERR_INVALID;
}

static int open_listener(const struct addrinfo *ai, int reuseport, int do_listen)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1;

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || (do_listen && listen(fd, SOMAXCONN) != 0)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* SO_REUSEPORT would let a second keyward bind beside a live one and take half the connections.
 * A socket bound without it fails with EADDRINUSE while anyone listens there, so try that first. */
static enum kw_err probe_free(const struct kw_config *cfg, const struct addrinfo *ai)
{
    int fd = open_listener(ai, 0, 0);

    if (fd >= 0) {
        close(fd);
        return KW_OK;
    }
    if (errno == EADDRINUSE)
        kw_log_error("address already in use: is another keyward (or another program) listening there?",
                     "listen=%s", cfg->listen);
    else
        kw_log_error("cannot listen", "listen=%s err=\"%s\"", cfg->listen, strerror(errno));
    return KW_ERR_IO;
}

#define KW_OFFLOOP_QUEUE_MAX 1024 /* requests waiting for a pool thread; beyond, 503 */
#define KW_ACCEPT_BACKOFF_MS 100  /* pause on EMFILE/ENFILE before accepting again */

/* Out of descriptors: the listener stays readable, so a level-triggered loop would spin. Stop reading
 * it for a while; log the first pause of an episode (ended by the next successful accept). */
static void accept_backoff(struct kw_worker *w, int err)
{
    h2o_socket_read_stop(w->listener);
    h2o_timeout_link(w->ctx.loop, &w->backoff, &w->backoff_entry);
    kw_metrics_accept_backoff(&w->metrics);
    if (!w->fd_starved)
        kw_log_warn("cannot accept, pausing the listener", "worker=%d err=\"%s\" pause_ms=%d", w->index,
                    strerror(err), KW_ACCEPT_BACKOFF_MS);
    w->fd_starved++;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct kw_worker *w = listener->data;
    h2o_socket_t *sock;

    if (err != NULL)
        return;
    /* Accept what is pending, a bounded number per wakeup so one loop cannot starve. */
    for (int i = 0; i < 64; i++) {
        if ((sock = h2o_evloop_socket_accept(listener)) == NULL) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                accept_backoff(w, errno);
            return;
        }
        if (w->fd_starved) {
            kw_log_info("accepting again", "worker=%d pauses=%u", w->index, w->fd_starved);
            w->fd_starved = 0;
        }
        h2o_accept(&w->accept_ctx, sock);
    }
}

static void on_backoff_end(h2o_timeout_entry_t *entry)
{
    struct kw_worker *w = H2O_STRUCT_FROM_MEMBER(struct kw_worker, backoff_entry, entry);

    if (w->listener != NULL)
        h2o_socket_read_start(w->listener, on_accept);
}

/* Closes an HTTP/1 connection with no request under way: none whose headers have arrived (h2o sets
 * req->version once they parse), nothing unread in the kernel. A request counts as under way from its
 * complete headers on; a connection still sending them, or idle between keep-alive requests, is not. */
static int close_if_idle(h2o_req_t *req, void *force)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    int fd, pending = 0;

    if (sock == NULL || (fd = h2o_socket_get_fd(sock)) < 0)
        return 0;
    if (*(int *)force || (req->version == 0 && ioctl(fd, FIONREAD, &pending) == 0 && pending == 0))
        shutdown(fd, SHUT_RDWR); /* the loop sees EOF and h2o closes the connection its own way */
    return 0;
}

static int conns_open(struct kw_worker *w)
{
    return !h2o_linklist_is_empty(&w->ctx.http1._conns) || !h2o_linklist_is_empty(&w->ctx.http2._conns);
}

/* Runs the loop until no connection is left or deadline (monotonic ns) passes; idle ones are closed
 * as they appear (in-flight responses end with Connection: close once shutdown is requested). */
static void drain_until(struct kw_worker *w, uint64_t deadline, int force)
{
    while ((conns_open(w) || w->inflight > 0) && kw_time_mono_ns() < deadline) {
        w->srv->globalconf.http1.callbacks.foreach_request(&w->ctx, close_if_idle, &force);
        h2o_evloop_run(w->ctx.loop, 10);
    }
}

/* Graceful stop: no more accepts, open requests finish, idle connections close; at the deadline the
 * rest are shut down. Off-loop requests are waited for in any case (the store's own deadlines bound
 * them): their job comes back to this loop's receiver. Returns 0 if nothing is left, so
 * h2o_context_dispose is safe. */
static int worker_drain(struct kw_worker *w)
{
    uint64_t deadline = kw_time_mono_ns() + (uint64_t)w->srv->cfg->shutdown_timeout_s * 1000000000ull;
    size_t left = 0;
    h2o_linklist_t *n;

    h2o_timeout_unlink(&w->backoff_entry);
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    w->listener = NULL;
    h2o_context_request_shutdown(&w->ctx);
    drain_until(w, deadline, 0);
    for (n = w->ctx.http1._conns.next; n != &w->ctx.http1._conns; n = n->next)
        left++;
    if (left != 0)
        kw_log_warn("shutdown timeout: closing open connections", "worker=%d connections=%zu inflight=%d",
                    w->index, left, w->inflight);
    drain_until(w, kw_time_mono_ns() + 1000000000ull, 1);
    while (w->inflight > 0)
        h2o_evloop_run(w->ctx.loop, 10);
    for (int i = 0; i < 3; i++)
        h2o_evloop_run(w->ctx.loop, 1); /* let deferred socket disposals run */
    return conns_open(w);
}

static void worker_start(struct kw_server *srv, struct kw_worker *w, h2o_hostconf_t **hosts)
{
    h2o_context_init(&w->ctx, h2o_evloop_create(), &srv->globalconf);
    kw_http_offloop_init(w);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = hosts;
    h2o_timeout_init(w->ctx.loop, &w->backoff, KW_ACCEPT_BACKOFF_MS);
    kw_linger_init(&w->linger, w->ctx.loop);
    w->backoff_entry.cb = on_backoff_end;
    w->listener = h2o_evloop_socket_create(w->ctx.loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
}

static void worker_dispose(struct kw_worker *w)
{
    kw_http_offloop_cleanup(w);
    h2o_timeout_dispose(w->ctx.loop, &w->backoff);
    kw_linger_dispose(&w->linger, w->ctx.loop);
    /* h2o_context_request_shutdown armed HTTP/2's GOAWAY resend on one_sec_timeout even with no HTTP/2
     * connection; a linked entry would fail h2o_context_dispose's h2o_timeout_dispose assertion. */
    h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_destroy(w->ctx.loop);
}

/* Tells the main thread this loop has drained, and waits until the pool has stopped: a pool thread can
 * be inside h2o_multithread_send_message to this loop's queue (its pipe) until then. */
static void worker_wait_pool(struct kw_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->ndrained++;
    pthread_cond_broadcast(&srv->cv);
    while (!srv->pool_stopped)
        pthread_cond_wait(&srv->cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
}

/* Everything h2o of a loop is made, run and disposed on its own thread: h2o's socket buffers recycle
 * through the creating thread's thread-local allocator, so a queue made on another thread would race. */
static void *worker_main(void *arg)
{
    struct kw_worker *w = arg;
    int drained;

    worker_start(w->srv, w, w->srv->globalconf.hosts);
    while (!atomic_load(&w->srv->stopping))
        h2o_evloop_run(w->ctx.loop, kw_http_bodypages_tick(w) ? 1 : 100);
    drained = worker_drain(w) == 0;
    worker_wait_pool(w->srv);
    if (!drained) {
        kw_log_error("connections still open after shutdown; leaving the event loop undisposed", "worker=%d",
                     w->index);
        return NULL;
    }
    worker_dispose(w);
    return NULL;
}

/* After SIGTERM: once every loop has drained (no job of theirs left), stop the pool, then let the loops
 * dispose their contexts. */
static void stop_pool(struct kw_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    while (srv->ndrained < srv->nworkers)
        pthread_cond_wait(&srv->cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    kw_pool_free(srv->pool);
    srv->pool = NULL;
    pthread_mutex_lock(&srv->mu);
    srv->pool_stopped = 1;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
}

static int64_t body_cap(const struct kw_config *cfg)
{
    int64_t cap = cfg->max_body_bytes;

    if (cfg->picture_max_bytes > cap)
        cap = cfg->picture_max_bytes;
    if (cfg->max_document_bytes > cap)
        cap = cfg->max_document_bytes;
    return cap;
}

#define KW_BODY_MMAP_THRESHOLD (4u << 20) /* socket buffers this large move to a file mapping */

/* h2o 2.2.5 reads a request body into the socket's input buffer; once that buffer would grow to
 * h2o_socket_buffer_mmap_settings.threshold (32 MiB by default) it moves to a MAP_SHARED mapping of a
 * temporary file made from fn_template (mkstemp, unlinked at once). keyward lowers the threshold so a
 * large upload's bytes sit in page cache the kernel can write back and drop, not in the heap, and keeps
 * the files under the data directory (docs/documents.md). 4 MiB, not 1: a body of 1 or 2 MiB costs
 * more CPU in a file mapping (a block reservation per page faulted in, the truncation at close) than it
 * saves, and stays in the heap (at most 2 MiB per connection); not more, because every large body
 * passes through the heap up to half the threshold before it moves, and ingest_memory's VmRSS bound
 * counts that. A global of h2o's: set before the loops start. */
static enum kw_err setup_body_buffers(const struct kw_config *cfg)
{
    char dir[sizeof(cfg->data_dir) + 16], *tmpl = h2o_socket_buffer_mmap_settings.fn_template;
    size_t cap = sizeof(h2o_socket_buffer_mmap_settings.fn_template);
    int n = snprintf(dir, sizeof(dir), "%s/tmp", cfg->data_dir);

    if (n < 0 || (size_t)n >= sizeof(dir))
        return KW_ERR_INVALID;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        kw_log_error("cannot create the upload buffer directory", "dir=%s err=\"%s\"", dir, strerror(errno));
        return KW_ERR_IO;
    }
    n = snprintf(tmpl, cap, "%s/h2o.b.XXXXXX", dir);
    if (n < 0 || (size_t)n >= cap)
        return KW_ERR_INVALID;
    h2o_socket_buffer_mmap_settings.threshold = KW_BODY_MMAP_THRESHOLD;
    return KW_OK;
}

static void setup_globalconf(struct kw_server *srv)
{
    const struct kw_config *cfg = srv->cfg;
    h2o_hostconf_t *host;

    h2o_config_init(&srv->globalconf);
    /* No Server header: it is one sprintf per response in h2o's flatten_headers, and a fingerprint. */
    srv->globalconf.server_name = h2o_iovec_init(NULL, 0);
    /* h2o refuses a declared Content-Length over this before reading the body, and a chunked body as soon
     * as it grows past it; the filter on the fallback path turns its 413 into keyward's problem. The largest
     * of the caps: handler.c applies max-body-bytes to every body but a picture's and an ingest's. */
    srv->globalconf.max_request_entity_size = (size_t)body_cap(cfg);
    srv->globalconf.http1.req_timeout = (uint64_t)cfg->idle_timeout_s * 1000;
    srv->globalconf.http1.upgrade_to_http2 = 0;
    host = h2o_config_register_host(&srv->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    kw_http_register(srv, h2o_config_register_path(host, "/", 0), &host->fallback_path);
}

static void signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void kw_http_signals_block(void)
{
    sigset_t set;

    signal_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int thread_count(const struct kw_config *cfg)
{
    long n = cfg->threads > 0 ? cfg->threads : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static enum kw_err bind_all(struct kw_server *srv)
{
    struct addrinfo *ai = NULL;
    int i;

    if (resolve(srv->cfg->listen, &ai) != KW_OK) {
        kw_log_error("cannot resolve listen address", "listen=%s", srv->cfg->listen);
        return KW_ERR_INVALID;
    }
    if (probe_free(srv->cfg, ai) != KW_OK) {
        freeaddrinfo(ai);
        return KW_ERR_IO;
    }
    for (i = 0; i < srv->nworkers; i++) {
        srv->workers[i].fd = open_listener(ai, 1, 1);
        if (srv->workers[i].fd < 0) {
            kw_log_error("cannot listen", "listen=%s err=\"%s\"", srv->cfg->listen, strerror(errno));
            while (i-- > 0)
                close(srv->workers[i].fd);
            freeaddrinfo(ai);
            return KW_ERR_IO;
        }
    }
    freeaddrinfo(ai);
    return KW_OK;
}

enum kw_err kw_http_serve(struct kw_app *app, const struct kw_config *cfg)
{
    struct kw_server srv;
    sigset_t set;
    int i, sig = 0;
    enum kw_err err = KW_ERR_NOMEM;
    char id[KW_ID_MAX];

    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.mu, NULL);
    pthread_cond_init(&srv.cv, NULL);
    srv.app = app;
    srv.cfg = cfg;
    srv.nworkers = thread_count(cfg);
    if (kw_id_new("b", id) == KW_OK)
        memcpy(srv.boot_id, id + 2, sizeof(srv.boot_id) - 1);
    srv.workers = calloc((size_t)srv.nworkers, sizeof(*srv.workers));
    srv.metrics = calloc((size_t)srv.nworkers, sizeof(*srv.metrics));
    if (srv.workers == NULL || srv.metrics == NULL)
        goto out;
    err = setup_body_buffers(cfg);
    if (err != KW_OK)
        goto out;
    setup_globalconf(&srv);
    err = bind_all(&srv);
    if (err != KW_OK)
        goto dispose;
    kw_http_signals_block(); /* main blocked them before any thread started; this is for other callers */
    err = kw_pool_new(cfg->workers, KW_OFFLOOP_QUEUE_MAX, &srv.pool);
    if (err != KW_OK) {
        kw_log_error("cannot start the worker pool", "workers=%d err=%s", cfg->workers, kw_err_str(err));
        for (i = 0; i < srv.nworkers; i++)
            close(srv.workers[i].fd);
        goto dispose;
    }
    signal_set(&set);
    for (i = 0; i < srv.nworkers; i++) {
        srv.workers[i].srv = &srv;
        srv.workers[i].index = i;
        srv.metrics[i] = &srv.workers[i].metrics;
        snprintf(srv.workers[i].rid_prefix, sizeof(srv.workers[i].rid_prefix), "%s-%d-", srv.boot_id, i);
        srv.workers[i].rid_prefix_len = strlen(srv.workers[i].rid_prefix);
    }
    for (i = 0; i < srv.nworkers; i++)
        pthread_create(&srv.workers[i].thread, NULL, worker_main, &srv.workers[i]);
    kw_log_info("listening", "addr=%s threads=%d workers=%d", cfg->listen, srv.nworkers, cfg->workers);
    sigwait(&set, &sig);
    kw_log_info("shutting down", "signal=%d shutdown_timeout_s=%d", sig, cfg->shutdown_timeout_s);
    atomic_store(&srv.stopping, 1);
    stop_pool(&srv);
    for (i = 0; i < srv.nworkers; i++)
        pthread_join(srv.workers[i].thread, NULL);
    err = KW_OK;
dispose:
    h2o_config_dispose(&srv.globalconf);
out:
    kw_pool_free(srv.pool);
    pthread_cond_destroy(&srv.cv);
    pthread_mutex_destroy(&srv.mu);
    free(srv.workers);
    free(srv.metrics);
    return err;
}
