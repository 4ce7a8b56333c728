/* linger.c - lingering close; see linger.h. */
#include "http/linger.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/timeutil.h"

struct kw_linger_sock {
    h2o_linklist_t link;
    h2o_timeout_entry_t entry;
    struct kw_lingerer *owner;
    h2o_loop_t *loop;
    int fd;
    int shut; /* FIN sent */
    uint64_t deadline_ms;
};

static void linger_close(struct kw_linger_sock *s)
{
    h2o_timeout_unlink(&s->entry);
    h2o_linklist_unlink(&s->link);
    s->owner->count--;
    close(s->fd);
    free(s);
}

/* Reads and discards what is there; 1 when the client has closed (or the socket failed). */
static int drain(int fd)
{
    char buf[16384];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        return 1;
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    struct kw_linger_sock *s = H2O_STRUCT_FROM_MEMBER(struct kw_linger_sock, entry, entry);

    if (!s->shut) {
        shutdown(s->fd, SHUT_WR); /* FIN after the answer h2o queued */
        s->shut = 1;
    }
    if (drain(s->fd) || kw_time_mono_ns() / 1000000 >= s->deadline_ms) {
        linger_close(s);
        return;
    }
    h2o_timeout_link(s->loop, &s->owner->tick, &s->entry);
}

void kw_linger_init(struct kw_lingerer *l, h2o_loop_t *loop)
{
    h2o_timeout_init(loop, &l->tick, KW_LINGER_TICK_MS);
    h2o_linklist_init_anchor(&l->socks);
    l->count = 0;
}

void kw_linger_dispose(struct kw_lingerer *l, h2o_loop_t *loop)
{
    while (!h2o_linklist_is_empty(&l->socks))
        linger_close(H2O_STRUCT_FROM_MEMBER(struct kw_linger_sock, link, l->socks.next));
    h2o_timeout_dispose(loop, &l->tick);
}

void kw_linger_start(struct kw_lingerer *l, h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    struct kw_linger_sock *s;
    int fd;

    if (sock == NULL || l->count >= KW_LINGER_MAX_SOCKETS || (fd = h2o_socket_get_fd(sock)) < 0)
        return;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return;
    if ((s->fd = dup(fd)) < 0) {
        free(s);
        return;
    }
    s->owner = l;
    s->loop = req->conn->ctx->loop;
    s->deadline_ms = kw_time_mono_ns() / 1000000 + KW_LINGER_MAX_MS;
    s->entry.cb = on_tick;
    h2o_linklist_insert(&l->socks, &s->link);
    l->count++;
    h2o_timeout_link(s->loop, &l->tick, &s->entry);
}
