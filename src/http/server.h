/* server.h - the HTTP server: libh2o-evloop, HTTP/1.1, one event loop per thread, each with its own
 * SO_REUSEPORT listening socket so the kernel spreads connections and no lock is shared. */
#ifndef KW_HTTP_SERVER_H
#define KW_HTTP_SERVER_H

#include "core/err.h"
#include "domain/app.h"

/* Binds cfg->listen on every thread, serves until SIGINT or SIGTERM, then stops accepting, lets the
 * loops finish their current work and returns (the caller closes the app, which flushes the writer).
 * KW_ERR_IO if the address cannot be bound (logged). */
enum kw_err kw_http_serve(struct kw_app *app, const struct kw_config *cfg);

#endif
