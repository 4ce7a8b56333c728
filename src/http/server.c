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
#include <sys/socket.h>
#include <unistd.h>

#include "core/base62.h"
#include "core/ids.h"
#include "core/log.h"
#include "http/internal.h"

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

static int open_listener(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1;

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct kw_worker *w = listener->data;
    h2o_socket_t *sock;

    if (err != NULL)
        return;
    /* Accept what is pending, a bounded number per wakeup so one loop cannot starve. */
    for (int i = 0; i < 64 && (sock = h2o_evloop_socket_accept(listener)) != NULL; i++)
        h2o_accept(&w->accept_ctx, sock);
}

static void *worker_main(void *arg)
{
    struct kw_worker *w = arg;

    while (!atomic_load(&w->srv->stopping))
        h2o_evloop_run(w->ctx.loop, 100);
    return NULL;
}

static void worker_start(struct kw_server *srv, struct kw_worker *w, h2o_hostconf_t **hosts)
{
    h2o_context_init(&w->ctx, h2o_evloop_create(), &srv->globalconf);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = hosts;
    w->listener = h2o_evloop_socket_create(w->ctx.loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
}

static void worker_stop(struct kw_worker *w)
{
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    /* Run the loop briefly so in-flight responses and closes complete. */
    for (int i = 0; i < 5; i++)
        h2o_evloop_run(w->ctx.loop, 10);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_destroy(w->ctx.loop);
}

static void setup_globalconf(struct kw_server *srv)
{
    const struct kw_config *cfg = srv->cfg;
    int64_t hard = cfg->max_body_bytes * 4 < (1 << 20) ? (1 << 20) : cfg->max_body_bytes * 4;
    h2o_hostconf_t *host;

    h2o_config_init(&srv->globalconf);
    srv->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("keyward"));
    /* h2o answers a plain 413 past this hard cap; below it keyward answers problem+json at its own cap. */
    srv->globalconf.max_request_entity_size = (size_t)hard;
    srv->globalconf.http1.req_timeout = (uint64_t)cfg->idle_timeout_s * 1000;
    srv->globalconf.http1.upgrade_to_http2 = 0;
    host = h2o_config_register_host(&srv->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    kw_http_register(srv, h2o_config_register_path(host, "/", 0));
}

/* Blocks SIGINT/SIGTERM in every thread; main waits for them with sigwait. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
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
    for (i = 0; i < srv->nworkers; i++) {
        srv->workers[i].fd = open_listener(ai);
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
    srv.app = app;
    srv.cfg = cfg;
    srv.nworkers = thread_count(cfg);
    if (kw_id_new("b", id) == KW_OK)
        memcpy(srv.boot_id, id + 2, sizeof(srv.boot_id) - 1);
    srv.workers = calloc((size_t)srv.nworkers, sizeof(*srv.workers));
    srv.metrics = calloc((size_t)srv.nworkers, sizeof(*srv.metrics));
    if (srv.workers == NULL || srv.metrics == NULL)
        goto out;
    setup_globalconf(&srv);
    err = bind_all(&srv);
    if (err != KW_OK)
        goto dispose;
    block_signals(&set);
    for (i = 0; i < srv.nworkers; i++) {
        srv.workers[i].srv = &srv;
        srv.workers[i].index = i;
        srv.metrics[i] = &srv.workers[i].metrics;
        worker_start(&srv, &srv.workers[i], srv.globalconf.hosts);
    }
    for (i = 0; i < srv.nworkers; i++)
        pthread_create(&srv.workers[i].thread, NULL, worker_main, &srv.workers[i]);
    kw_log_info("listening", "addr=%s threads=%d", cfg->listen, srv.nworkers);
    sigwait(&set, &sig);
    kw_log_info("shutting down", "signal=%d", sig);
    atomic_store(&srv.stopping, 1);
    for (i = 0; i < srv.nworkers; i++)
        pthread_join(srv.workers[i].thread, NULL);
    for (i = 0; i < srv.nworkers; i++)
        worker_stop(&srv.workers[i]);
    err = KW_OK;
dispose:
    h2o_config_dispose(&srv.globalconf);
out:
    free(srv.workers);
    free(srv.metrics);
    return err;
}
