/* writer.c - group commit of hot-path side effects; see writer.h. */
#include "domain/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "domain/audit.h"

#define CHUNK_EVENTS 64 /* ~64 KiB: below malloc's mmap threshold */
#define SPARE_MAX 16    /* empty chunks kept for reuse */
#define TOUCH_CAP0 256  /* initial touch table slots (power of two) */

struct chunk {
    struct chunk *next;
    size_t n;
    struct kw_audit_event ev[CHUNK_EVENTS];
};

/* Last use and usage counts of one key in one minute, waiting to be written. */
struct touch {
    int used;
    int64_t minute;
    int64_t last_used_at; /* 0 = only denied verifications */
    uint64_t valid, denied;
    char key_id[KW_ID_MAX];
    char service_id[KW_ID_MAX];
    char ip[KW_IP_MAX];
};

struct touches {
    struct touch *t;
    size_t cap, n; /* cap a power of two, n <= KW_WRITER_TOUCH_MAX */
};

struct ratelog {
    int logged_once;
    uint64_t last_ns;
    uint64_t reported; /* counter value at the last line */
};

struct kw_writer {
    struct kw_store *st;
    struct kw_keycache *kc;
    struct kw_denials *denials;
    int interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    int stop;
    int flush_requested;
    int flushing;            /* between leaving the wait and bumping flush_gen */
    unsigned long flush_gen; /* bumped after each flush, for kw_writer_flush */
    enum kw_err last_err;
    /* Under mu: what the hot path appends to. */
    struct chunk *head, *tail, *spare;
    size_t nspare;
    size_t queued; /* events in head..tail and in the pending batch: the KW_WRITER_QUEUE_MAX bound */
    /* Writer thread only: the batch being written (kept across failed flushes). */
    struct chunk *pend_head, *pend_tail;
    size_t npend;
    struct touches touches;
    struct ratelog fail_log, drop_log;
    enum kw_err fail_err;
    unsigned long fails_since_ok;
    _Atomic uint64_t dropped_audit, dropped_usage, dropped_denials, flush_failures;
};

/* ---- touches: (key, minute) -> pending last use and usage counts ---- */

static uint64_t touch_hash(const char *key_id, int64_t minute)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)minute;

    for (; *key_id != '\0'; key_id++)
        h = (h ^ (unsigned char)*key_id) * 0x100000001b3ull;
    return h ^ (h >> 29);
}

static struct touch *touch_slot(struct touches *m, const char *key_id, int64_t minute)
{
    size_t i = (size_t)touch_hash(key_id, minute) & (m->cap - 1);

    while (m->t[i].used && (m->t[i].minute != minute || strcmp(m->t[i].key_id, key_id) != 0))
        i = (i + 1) & (m->cap - 1);
    return &m->t[i];
}

/* Doubles the table (writer thread only: no lock is held). 0 on ENOMEM. */
static int touches_grow(struct touches *m)
{
    struct touches g = {calloc(m->cap ? m->cap * 2 : TOUCH_CAP0, sizeof(struct touch)), 0, 0};
    size_t i;

    if (g.t == NULL)
        return 0;
    g.cap = m->cap ? m->cap * 2 : TOUCH_CAP0;
    for (i = 0; i < m->cap; i++) {
        if (m->t[i].used)
            *touch_slot(&g, m->t[i].key_id, m->t[i].minute) = m->t[i];
    }
    g.n = m->n;
    free(m->t);
    *m = g;
    return 1;
}

static void touches_reset(struct touches *m)
{
    if (m->cap > TOUCH_CAP0 || m->t == NULL) {
        free(m->t);
        m->t = NULL;
        m->cap = m->n = 0;
        touches_grow(m);
        return;
    }
    if (m->n > 0)
        memset(m->t, 0, m->cap * sizeof(*m->t));
    m->n = 0;
}

struct drain_ctx {
    struct kw_writer *w;
    int64_t minute;
};

static void on_touch(void *ctx, const char *key_id, const char *service_id, int64_t last_used_at,
                     const char *ip, uint64_t valid, uint64_t denied)
{
    struct drain_ctx *d = ctx;
    struct touches *m = &d->w->touches;
    struct touch *t = NULL;

    if (m->t != NULL && (m->n + 1) * 2 > m->cap && m->n < KW_WRITER_TOUCH_MAX)
        touches_grow(m);
    if (m->t != NULL)
        t = touch_slot(m, key_id, d->minute);
    if (t != NULL && !t->used && (m->n >= KW_WRITER_TOUCH_MAX || (m->n + 1) * 2 > m->cap))
        t = NULL; /* full: this key's counts for this minute cannot be kept */
    if (t == NULL) {
        atomic_fetch_add(&d->w->dropped_usage, valid + denied);
        return;
    }
    if (!t->used) {
        t->used = 1;
        t->minute = d->minute;
        snprintf(t->key_id, sizeof(t->key_id), "%s", key_id);
        snprintf(t->service_id, sizeof(t->service_id), "%s", service_id);
        m->n++;
    }
    if (last_used_at >= t->last_used_at && last_used_at != 0) {
        t->last_used_at = last_used_at;
        snprintf(t->ip, sizeof(t->ip), "%s", ip ? ip : "");
    }
    t->valid += valid;
    t->denied += denied;
}

static enum kw_err touches_write(struct kw_tx *tx, const struct touches *m)
{
    enum kw_err err = KW_OK;
    size_t i;

    for (i = 0; i < m->cap && err == KW_OK; i++) {
        const struct touch *t = &m->t[i];
        if (!t->used)
            continue;
        if (t->last_used_at != 0)
            err = kw_store_key_touch(tx, t->key_id, t->last_used_at, t->ip);
        if (err == KW_OK)
            err = kw_store_usage_add(tx, t->key_id, t->service_id, t->minute, (int64_t)t->valid,
                                     (int64_t)t->denied);
    }
    return err;
}

/* ---- the event queue ---- */

void kw_writer_audit(struct kw_writer *w, const struct kw_audit_event *ev)
{
    struct chunk *fresh = NULL, *c;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->queued >= KW_WRITER_QUEUE_MAX) {
            atomic_fetch_add(&w->dropped_audit, 1);
            break;
        }
        if (w->tail != NULL && w->tail->n < CHUNK_EVENTS) {
            w->tail->ev[w->tail->n++] = *ev;
            w->queued++;
            break;
        }
        if (fresh == NULL && w->spare == NULL) {
            /* Allocate outside the mutex every request takes, then look again. */
            pthread_mutex_unlock(&w->mu);
            fresh = malloc(sizeof(*fresh));
            pthread_mutex_lock(&w->mu);
            if (fresh == NULL) {
                atomic_fetch_add(&w->dropped_audit, 1);
                break;
            }
            continue;
        }
        if (fresh != NULL) {
            c = fresh;
            fresh = NULL;
        } else {
            c = w->spare;
            w->spare = c->next;
            w->nspare--;
        }
        c->next = NULL;
        c->n = 0;
        if (w->tail != NULL)
            w->tail->next = c;
        else
            w->head = c;
        w->tail = c;
    }
    pthread_mutex_unlock(&w->mu);
    free(fresh); /* allocated but another append made room first */
}

/* Appends the queued chunks to the pending batch (order kept: older batch first). */
static void take_queue(struct kw_writer *w)
{
    struct chunk *c, *h, *t;

    pthread_mutex_lock(&w->mu);
    h = w->head;
    t = w->tail;
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->mu);
    if (h == NULL)
        return;
    if (w->pend_tail != NULL)
        w->pend_tail->next = h;
    else
        w->pend_head = h;
    w->pend_tail = t;
    for (c = h; c != NULL; c = c->next)
        w->npend += c->n;
}

static void free_chunks(struct chunk *c);

/* The pending batch was written (or is given up): recycle its chunks and release its share of the cap.
 * Chunks beyond the spares are freed after the mutex is released. */
static void release_pending(struct kw_writer *w)
{
    struct chunk *c = w->pend_head, *next;

    pthread_mutex_lock(&w->mu);
    w->queued -= w->npend;
    for (; c != NULL && w->nspare < SPARE_MAX; c = next) {
        next = c->next;
        c->next = w->spare;
        w->spare = c;
        w->nspare++;
    }
    pthread_mutex_unlock(&w->mu);
    free_chunks(c);
    w->pend_head = w->pend_tail = NULL;
    w->npend = 0;
}

static void free_chunks(struct chunk *c)
{
    struct chunk *next;

    for (; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
}

/* ---- flushing ---- */

static void emit_denial(void *ctx, const struct kw_audit_event *ev)
{
    kw_writer_audit(ctx, ev);
}

/* One transaction: pending touches, then the pending events in order. Nothing is released here. */
static enum kw_err write_batch(struct kw_writer *w)
{
    struct chunk *c;
    struct kw_tx *tx = NULL;
    enum kw_err err = kw_store_begin(w->st, KW_TX_WRITE, &tx);

    if (err != KW_OK)
        goto out;
    err = touches_write(tx, &w->touches);
    for (c = w->pend_head; c != NULL && err == KW_OK; c = c->next)
        err = kw_audit_chain(tx, c->ev, c->n);
    if (err != KW_OK) {
        kw_store_rollback(tx);
        goto out;
    }
    err = kw_store_commit(tx);
out:
    return err;
}

/* Takes what is due (closed minutes of refusals, queued events, the cache's touches) into the pending
 * batch and writes it. On success the batch is released; on failure it stays for the next try. */
static enum kw_err flush_once(struct kw_writer *w, int final)
{
    int64_t now = kw_time_now_ms();
    struct drain_ctx d = {w, now - now % 60000};
    enum kw_err err;

    kw_denials_collect(w->denials, now, final, emit_denial, w);
    take_queue(w);
    kw_keycache_drain(w->kc, on_touch, &d);
    if (w->npend == 0 && w->touches.n == 0)
        return KW_OK;
    err = write_batch(w);
    if (err != KW_OK) {
        atomic_fetch_add(&w->flush_failures, 1);
        w->fail_err = err;
        w->fails_since_ok++;
        return err;
    }
    if (w->fails_since_ok != 0) {
        kw_log_info("write-behind flush recovered", "events=%zu keys=%zu failed_attempts=%lu", w->npend,
                    w->touches.n, w->fails_since_ok);
        w->fails_since_ok = 0;
    }
    release_pending(w);
    touches_reset(&w->touches);
    return KW_OK;
}

/* 1 when a rate-limited line may be written now (always for the last one at shutdown). */
static int log_due(struct ratelog *r, uint64_t now_ns, int final)
{
    if (!final && r->logged_once && now_ns - r->last_ns < (uint64_t)KW_WRITER_LOG_EVERY_MS * 1000000ull)
        return 0;
    r->logged_once = 1;
    r->last_ns = now_ns;
    return 1;
}

/* Failures and drops are logged when they happen, at most once per KW_WRITER_LOG_EVERY_MS each. */
static void report(struct kw_writer *w, int final)
{
    uint64_t now = kw_time_mono_ns(), fails = atomic_load(&w->flush_failures);
    uint64_t audit = atomic_load(&w->dropped_audit), usage = atomic_load(&w->dropped_usage);
    uint64_t denials = atomic_load(&w->dropped_denials), dropped = audit + usage + denials;

    if (fails > w->fail_log.reported && log_due(&w->fail_log, now, final)) {
        kw_log_error("write-behind flush failed, will retry",
                     "err=%s failures=%llu events_waiting=%zu keys_waiting=%zu", kw_err_str(w->fail_err),
                     (unsigned long long)(fails - w->fail_log.reported), w->npend, w->touches.n);
        w->fail_log.reported = fails;
    }
    if (dropped > w->drop_log.reported && log_due(&w->drop_log, now, final)) {
        kw_log_warn("write-behind data dropped",
                    "since_last=%llu audit_total=%llu usage_total=%llu denials_total=%llu",
                    (unsigned long long)(dropped - w->drop_log.reported), (unsigned long long)audit,
                    (unsigned long long)usage, (unsigned long long)denials);
        w->drop_log.reported = dropped;
    }
}

/* ---- the thread ---- */

static void wait_interval(struct kw_writer *w)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)(w->interval_ms % 1000) * 1000000L;
    ts.tv_sec += w->interval_ms / 1000 + ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    while (!w->stop && !w->flush_requested) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) != 0)
            break; /* ETIMEDOUT */
    }
}

static void *writer_main(void *arg)
{
    struct kw_writer *w = arg;
    enum kw_err err;
    int stop;

    /* Background work: let the event loops win the CPU when both want it (Linux nice is per thread). */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) != 0)
        kw_log_debug("writer priority unchanged", "%s", "");
    for (;;) {
        pthread_mutex_lock(&w->mu);
        wait_interval(w);
        stop = w->stop;
        w->flush_requested = 0;
        w->flushing = 1;
        pthread_mutex_unlock(&w->mu);

        err = flush_once(w, stop);
        if (err != KW_OK && stop)
            err = flush_once(w, 1); /* one more try before giving up at shutdown */
        report(w, stop);

        pthread_mutex_lock(&w->mu);
        w->last_err = err;
        w->flushing = 0;
        w->flush_gen++;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
    }
    return NULL;
}

static void writer_destroy(struct kw_writer *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    kw_denials_free(w->denials);
    free(w->touches.t);
    free(w);
}

enum kw_err kw_writer_start(struct kw_store *st, struct kw_keycache *kc, int flush_interval_ms,
                            struct kw_writer **out)
{
    struct kw_writer *w = calloc(1, sizeof(*w));
    pthread_condattr_t ca;
    enum kw_err err = KW_ERR_NOMEM;

    *out = NULL;
    if (w == NULL)
        return KW_ERR_NOMEM;
    w->st = st;
    w->kc = kc;
    w->interval_ms = flush_interval_ms > 0 ? flush_interval_ms : 200;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!touches_grow(&w->touches))
        goto out;
    err = kw_denials_new(0, &w->denials);
    if (err != KW_OK)
        goto out;
    err = pthread_create(&w->thread, NULL, writer_main, w) == 0 ? KW_OK : KW_ERR_INTERNAL;
out:
    if (err != KW_OK)
        writer_destroy(w);
    else
        *out = w;
    return err;
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
    /* After the last flush: its batch if it failed, and anything appended after it (nothing once the
     * event loops have stopped, as kw_app_close ensures). */
    if (w->queued != 0 || w->touches.n != 0)
        kw_log_error("write-behind data lost at shutdown", "err=%s events=%zu keys=%zu",
                     kw_err_str(w->last_err), w->queued, w->touches.n);
    free_chunks(w->pend_head);
    free_chunks(w->head);
    free_chunks(w->spare);
    writer_destroy(w);
}

void kw_writer_deny(struct kw_writer *w, const struct kw_denial *d)
{
    if (!kw_denials_record(w->denials, d))
        atomic_fetch_add(&w->dropped_denials, 1);
}

enum kw_err kw_writer_flush(struct kw_writer *w)
{
    unsigned long gen;
    enum kw_err err;

    pthread_mutex_lock(&w->mu);
    /* A flush in progress may have taken the queue before our request: then wait for the next one too. */
    gen = w->flush_gen + (w->flushing ? 2 : 1);
    w->flush_requested = 1;
    pthread_cond_broadcast(&w->cv);
    while (w->flush_gen < gen && !w->stop)
        pthread_cond_wait(&w->cv, &w->mu);
    err = w->last_err;
    pthread_mutex_unlock(&w->mu);
    return err;
}

void kw_writer_stats(struct kw_writer *w, struct kw_writer_stats *out)
{
    out->dropped_audit = atomic_load(&w->dropped_audit);
    out->dropped_usage = atomic_load(&w->dropped_usage);
    out->dropped_denials = atomic_load(&w->dropped_denials);
    out->flush_failures = atomic_load(&w->flush_failures);
    pthread_mutex_lock(&w->mu);
    out->queue_depth = w->queued;
    pthread_mutex_unlock(&w->mu);
}

unsigned long kw_writer_dropped(struct kw_writer *w)
{
    return (unsigned long)atomic_load(&w->dropped_audit);
}
