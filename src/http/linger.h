/* linger.h - lingering close for connections h2o closes while the client may still be sending (a body
 * refused with 413 before it was read), as nginx's lingering_close does.
 *
 * Closing a TCP socket that has unread input makes the kernel answer with RST, and a client that is
 * still writing its body may then lose the 413 it was sent. kw_linger_start keeps a duplicate of the
 * connection's descriptor, so h2o's own close does not end the socket; shortly after (the answer is in
 * the send queue by then) the lingerer shuts down writing, which sends FIN after the answer, and then
 * reads and discards whatever arrives until the client closes or KW_LINGER_MAX_MS pass. Only then is
 * the socket closed, with nothing unread. All of it runs on the worker's event loop (no thread). */
#ifndef KW_HTTP_LINGER_H
#define KW_HTTP_LINGER_H

#include <h2o.h>

#define KW_LINGER_TICK_MS 20   /* how often a lingering socket is drained */
#define KW_LINGER_MAX_MS 2000  /* the longest a refused client is waited for */
#define KW_LINGER_MAX_SOCKETS 256 /* per worker; beyond it a socket is closed as h2o would */

struct kw_lingerer {
    h2o_timeout_t tick;
    h2o_linklist_t socks; /* struct kw_linger_sock */
    size_t count;
};

void kw_linger_init(struct kw_lingerer *l, h2o_loop_t *loop);
/* Closes every lingering socket at once and disposes of the timer (worker shutdown). */
void kw_linger_dispose(struct kw_lingerer *l, h2o_loop_t *loop);
/* Takes over the socket of req's connection for a lingering close (HTTP/1 only; a no-op otherwise). */
void kw_linger_start(struct kw_lingerer *l, h2o_req_t *req);

#endif
