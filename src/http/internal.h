/* internal.h - shared between the http/ files. */
#ifndef KW_HTTP_INTERNAL_H
#define KW_HTTP_INTERNAL_H

#include <h2o.h>
#include <pthread.h>
#include <stdatomic.h>

#include "domain/app.h"
#include "http/linger.h"
#include "http/metrics.h"

struct kw_server;

struct kw_worker {
    h2o_context_t ctx; /* first: a request's conn->ctx is the worker */
    struct kw_server *srv;
    int index;
    int fd;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener; /* NULL once the drain has closed it */
    h2o_timeout_t backoff;  /* accept pause at the descriptor limit */
    h2o_timeout_entry_t backoff_entry;
    unsigned fd_starved;    /* pauses in the current episode; 0 = accepting normally */
    struct kw_lingerer linger; /* sockets closed after a refusal, drained before the last close */
    pthread_t thread;
    uint64_t requests; /* request-id counter */
    char rid_prefix[32]; /* "<boot id>-<index>-", set at start */
    size_t rid_prefix_len;
    struct kw_metrics metrics;
};

struct kw_server {
    struct kw_app *app;
    const struct kw_config *cfg;
    h2o_globalconf_t globalconf;
    struct kw_worker *workers;
    struct kw_metrics **metrics; /* workers[i].metrics, for rendering */
    int nworkers;
    atomic_int stopping;
    char boot_id[8]; /* request-id prefix, random per process */
};

/* Registers the one h2o handler that serves everything on pathconf, and on fallback (where h2o binds
 * the errors it answers before routing) the filter that turns those into problem+json. */
void kw_http_register(struct kw_server *srv, h2o_pathconf_t *pathconf, h2o_pathconf_t *fallback);

#endif
