/* writer.c - group commit of hot-path side effects; see writer.h. */
#include "domain/writer.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "domain/audit.h"

struct kw_writer {
    struct kw_store *st;
    struct kw_keycache *kc;
    int interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int flush_requested;
    unsigned long flush_gen; /* bumped after each flush, for kw_writer_flush */
    struct kw_audit_event *queue;
    size_t qlen, qcap;
    unsigned long dropped;
    pthread_mutex_t flush_mu; /* one flush at a time */
};

struct touch_batch {
    struct kw_tx *tx;
    int64_t minute;
    enum kw_err err;
};

static void on_touch(void *ctx, const char *key_id, const char *service_id, int64_t last_used_at,
                     const char *ip, uint64_t valid, uint64_t denied)
{
    struct touch_batch *b = ctx;
    enum kw_err err = KW_OK;

    if (last_used_at != 0)
        err = kw_store_key_touch(b->tx, key_id, last_used_at, ip);
    if (err == KW_OK)
        err = kw_store_usage_add(b->tx, key_id, service_id, b->minute, (int64_t)valid, (int64_t)denied);
    if (err != KW_OK)
        b->err = err;
}

/* Takes the queued events (swap under the lock) and writes them with the touches in one transaction. */
static void flush_once(struct kw_writer *w)
{
    struct kw_audit_event *events;
    size_t n;
    struct touch_batch b = {NULL, 0, KW_OK};
    enum kw_err err;

    pthread_mutex_lock(&w->flush_mu);
    pthread_mutex_lock(&w->mu);
    events = w->queue;
    n = w->qlen;
    w->queue = NULL;
    w->qlen = w->qcap = 0;
    pthread_mutex_unlock(&w->mu);

    b.minute = time(NULL) / 60 * 60000LL;
    err = kw_store_begin(w->st, KW_TX_WRITE, &b.tx);
    if (err != KW_OK)
        goto out;
    kw_keycache_drain(w->kc, on_touch, &b);
    if (n > 0 && b.err == KW_OK)
        b.err = kw_audit_chain(b.tx, events, n);
    if (b.err != KW_OK) {
        kw_store_rollback(b.tx);
        err = b.err;
        goto out;
    }
    err = kw_store_commit(b.tx);
out:
    if (err != KW_OK)
        kw_log_error("write-behind flush failed", "err=%s events=%zu", kw_err_str(err), n);
    free(events);
    pthread_mutex_unlock(&w->flush_mu);
}

static void *writer_main(void *arg)
{
    struct kw_writer *w = arg;
    struct timespec ts;
    int stop;

    /* Background work: let the event loops win the CPU when both want it (Linux nice is per thread). */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) != 0)
        kw_log_debug("writer priority unchanged", "%s", "");

    for (;;) {
        pthread_mutex_lock(&w->mu);
        if (!w->stop && !w->flush_requested) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)w->interval_ms * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
        stop = w->stop;
        w->flush_requested = 0;
        pthread_mutex_unlock(&w->mu);

        flush_once(w);

        pthread_mutex_lock(&w->mu);
        w->flush_gen++;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
    }
    return NULL;
}

enum kw_err kw_writer_start(struct kw_store *st, struct kw_keycache *kc, int flush_interval_ms,
                            struct kw_writer **out)
{
    struct kw_writer *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL)
        return KW_ERR_NOMEM;
    w->st = st;
    w->kc = kc;
    w->interval_ms = flush_interval_ms > 0 ? flush_interval_ms : 200;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->flush_mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->flush_mu);
        free(w);
        return KW_ERR_INTERNAL;
    }
    *out = w;
    return KW_OK;
}

void kw_writer_free(struct kw_writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    if (w->dropped != 0)
        kw_log_warn("audit events dropped", "count=%lu", w->dropped);
    free(w->queue);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->flush_mu);
    free(w);
}

void kw_writer_audit(struct kw_writer *w, const struct kw_audit_event *ev)
{
    pthread_mutex_lock(&w->mu);
    if (w->qlen == w->qcap) {
        size_t ncap = w->qcap ? w->qcap * 2 : 64;
        struct kw_audit_event *nq;
        if (w->qlen >= KW_WRITER_QUEUE_MAX || (nq = realloc(w->queue, ncap * sizeof(*nq))) == NULL) {
            w->dropped++;
            goto out;
        }
        w->queue = nq;
        w->qcap = ncap;
    }
    w->queue[w->qlen++] = *ev;
out:
    pthread_mutex_unlock(&w->mu);
}

void kw_writer_flush(struct kw_writer *w)
{
    unsigned long gen;

    pthread_mutex_lock(&w->mu);
    gen = w->flush_gen;
    w->flush_requested = 1;
    pthread_cond_broadcast(&w->cv);
    /* Two generations: the one in progress may have started before our request. */
    while (w->flush_gen < gen + 2 && !w->stop)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

unsigned long kw_writer_dropped(struct kw_writer *w)
{
    unsigned long d;
    pthread_mutex_lock(&w->mu);
    d = w->dropped;
    pthread_mutex_unlock(&w->mu);
    return d;
}
