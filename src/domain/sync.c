/* sync.c - applies other nodes' changes to the verify cache; see sync.h. */
#include "domain/sync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "domain/app.h"
#include "domain/commit_internal.h"

struct kw_sync {
    struct kw_app *app;
    int interval_ms;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mu; /* one reader at a time: the thread or a test */
    pthread_mutex_t wait_mu;
    pthread_cond_t wake; /* kw_sync_free wakes a thread that polls */
    _Atomic int64_t version;
    _Atomic int64_t last_ok_ms;
    int failing; /* logged once per outage */
};

struct apply_ctx {
    struct kw_app *app;
    int64_t max;
    enum kw_err err;
};

static int apply_change(void *ctx, const struct kw_key *key, int deleted)
{
    struct apply_ctx *c = ctx;

    if (deleted)
        kw_keycache_remove(c->app->keys, key->hash, key->version);
    else if (kw_keycache_put(c->app->keys, key) != KW_OK) {
        c->err = KW_ERR_NOMEM;
        return 1;
    }
    if (key->version > c->max)
        c->max = key->version;
    return 0;
}

enum kw_err kw_sync_once(struct kw_sync *s)
{
    struct apply_ctx c = {s->app, 0, KW_OK};
    enum kw_err err;

    pthread_mutex_lock(&s->mu);
    c.max = atomic_load(&s->version);
    KW_DOMAIN_READ(s->app->store, err, tx, kw_store_key_changes(tx, c.max, apply_change, &c));
    if (err == KW_ERR_INTERNAL && c.err != KW_OK)
        err = c.err;
    /* What was applied stays applied: the next read starts after it even if this one stopped early. */
    atomic_store(&s->version, c.max);
    if (err == KW_OK) {
        atomic_store(&s->last_ok_ms, kw_time_now_ms());
        if (s->failing)
            kw_log_info("store reachable again", "version=%lld", (long long)c.max);
        s->failing = 0;
    } else if (!s->failing) {
        kw_log_warn("cannot read changes from the store", "err=%s version=%lld", kw_err_str(err), (long long)c.max);
        s->failing = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

/* Sleeps one interval unless kw_sync_free wakes it first. */
static void pause_interval(struct kw_sync *s)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += s->interval_ms / 1000;
    ts.tv_nsec += (long)(s->interval_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->wait_mu);
    while (!atomic_load(&s->stop) && pthread_cond_timedwait(&s->wake, &s->wait_mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&s->wait_mu);
}

static void *sync_main(void *arg)
{
    struct kw_sync *s = arg;

    while (!atomic_load(&s->stop)) {
        enum kw_err err = kw_store_wait_change(s->app->store, s->interval_ms);
        /* no notifications (or the listening connection is down): poll at the interval */
        if (err != KW_OK && err != KW_ERR_NOT_FOUND)
            pause_interval(s);
        if (!atomic_load(&s->stop))
            kw_sync_once(s);
    }
    return NULL;
}

enum kw_err kw_sync_start(struct kw_app *app, int64_t since, int interval_ms, struct kw_sync **out)
{
    struct kw_sync *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL)
        return KW_ERR_NOMEM;
    s->app = app;
    s->interval_ms = interval_ms > 0 ? interval_ms : 500;
    atomic_init(&s->version, since);
    atomic_init(&s->last_ok_ms, kw_time_now_ms());
    atomic_init(&s->stop, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->wait_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thread, NULL, sync_main, s) != 0) {
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->wait_mu);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return KW_ERR_INTERNAL;
    }
    *out = s;
    return KW_OK;
}

void kw_sync_free(struct kw_sync *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->wait_mu);
    atomic_store(&s->stop, 1);
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->wait_mu);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->wait_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int64_t kw_sync_version(struct kw_sync *s)
{
    return atomic_load(&s->version);
}

int64_t kw_sync_last_ok_ms(struct kw_sync *s)
{
    return atomic_load(&s->last_ok_ms);
}
