/* server.h - the HTTP server: libh2o-evloop, HTTP/1.1, one event loop per thread, each with its own
 * SO_REUSEPORT listening socket so the kernel spreads connections and no lock is shared. */
#ifndef KW_HTTP_SERVER_H
#define KW_HTTP_SERVER_H

#include "core/err.h"
#include "domain/app.h"

/* Blocks SIGINT and SIGTERM in the calling thread (so in every thread it starts later) and ignores
 * SIGPIPE. Call before any thread exists: kw_http_serve then takes the signals with sigwait, and a
 * second SIGTERM during the drain or the writer's final flush stays pending instead of killing. */
void kw_http_signals_block(void);

/* Binds cfg->listen on every thread, serves until SIGINT or SIGTERM, then drains: closes the listeners,
 * lets requests under way finish (their responses say Connection: close), closes idle connections,
 * and after cfg->shutdown_timeout_s shuts down whatever is still open. Then returns (the caller closes
 * the app, which flushes the writer). KW_ERR_IO if the address cannot be bound or another process
 * listens there already (logged). */
enum kw_err kw_http_serve(struct kw_app *app, const struct kw_config *cfg);

#endif
