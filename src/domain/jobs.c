/* jobs.c - the runner of once-per-deployment jobs; see jobs.h. */
#include "domain/jobs.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "domain/app.h"
#include "domain/records.h"
#include "domain/throttle.h"

struct kw_jobs {
    struct kw_store *st;
    char node[KW_JOB_NODE_MAX];
    int64_t lease_ms;
    struct kw_job_def defs[KW_JOBS_MAX];
    size_t n;
    int poll_ms;
    int started, failing;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* kw_jobs_free wakes a sleeping runner */
};

/* One write transaction around one store call, retried while the database asks. */
#define JOB_TX(st, err, tx, expr)                                                                            \
    do {                                                                                                     \
        int tries_ = 0;                                                                                      \
        do {                                                                                                 \
            struct kw_tx *tx = NULL;                                                                         \
            (err) = kw_store_begin((st), KW_TX_WRITE, &tx);                                                  \
            if ((err) == KW_OK && ((err) = (expr)) == KW_OK)                                                 \
                (err) = kw_store_commit(tx);                                                                 \
            else                                                                                             \
                kw_store_rollback(tx);                                                                       \
        } while ((err) == KW_ERR_RETRY && ++tries_ < 3);                                                     \
    } while (0)

static void default_node(char *out, size_t cap)
{
    char host[64] = "";

    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    snprintf(out, cap, "%s:%ld", host, (long)getpid());
}

enum kw_err kw_jobs_new(struct kw_store *st, const char *node, int64_t lease_ms,
                        const struct kw_job_def *defs, size_t n, struct kw_jobs **out)
{
    struct kw_jobs *j;
    int64_t now = kw_time_now_ms();
    enum kw_err err = KW_OK;
    size_t i;

    *out = NULL;
    if (n > KW_JOBS_MAX)
        return KW_ERR_INVALID;
    for (i = 0; i < n; i++)
        if (defs[i].name == NULL || strlen(defs[i].name) >= KW_JOB_NAME_MAX || defs[i].run == NULL ||
            defs[i].interval_ms < 1)
            return KW_ERR_INVALID;
    if ((j = calloc(1, sizeof(*j))) == NULL)
        return KW_ERR_NOMEM;
    j->st = st;
    if (node != NULL && node[0] != '\0')
        snprintf(j->node, sizeof(j->node), "%s", node);
    else
        default_node(j->node, sizeof(j->node));
    j->lease_ms = lease_ms > 0 ? lease_ms : KW_JOBS_LEASE_MS;
    memcpy(j->defs, defs, n * sizeof(*defs));
    j->n = n;
    atomic_init(&j->stop, 0);
    pthread_mutex_init(&j->mu, NULL);
    for (i = 0; i < n && err == KW_OK; i++)
        JOB_TX(st, err, tx, kw_store_job_ensure(tx, defs[i].name, now));
    if (err != KW_OK) {
        kw_log_error("cannot register jobs", "err=%s", kw_err_str(err));
        kw_jobs_free(j);
        return err;
    }
    *out = j;
    return KW_OK;
}

/* The next due time after a run of a job that was due at due: one interval on, or one interval from
 * now when the schedule fell behind (a deployment that was down does not run a backlog). */
static int64_t next_due(int64_t due, int64_t interval, int64_t now)
{
    return due + interval > now ? due + interval : now + interval;
}

/* Leases def if it is due, runs it and records the result. *ran = 1 when it ran here. */
static enum kw_err run_one(struct kw_jobs *j, const struct kw_job_def *def, int64_t now_ms, int *ran)
{
    struct kw_job lease;
    enum kw_err err, result;
    int64_t done;

    *ran = 0;
    JOB_TX(j->st, err, tx, kw_store_job_lease(tx, def->name, j->node, now_ms, j->lease_ms, &lease));
    if (err != KW_OK)
        return err == KW_ERR_NOT_FOUND ? KW_OK : err; /* not due, or another node has it */
    result = def->run(def->ctx, j->st, now_ms);
    *ran = 1;
    done = kw_time_now_ms();
    if (done < now_ms)
        done = now_ms; /* tests poll with a time of their own */
    JOB_TX(j->st, err, tx,
           kw_store_job_finish(tx, &lease, done, next_due(lease.next_run_at, def->interval_ms, now_ms),
                               result == KW_OK ? NULL : kw_err_str(result)));
    if (err == KW_ERR_CONFLICT)
        kw_log_warn("job lease lost", "job=%s node=%s lease_ms=%lld", def->name, j->node,
                    (long long)j->lease_ms);
    else if (result != KW_OK)
        kw_log_warn("job failed", "job=%s node=%s err=%s", def->name, j->node, kw_err_str(result));
    return err == KW_ERR_CONFLICT ? KW_OK : err;
}

enum kw_err kw_jobs_poll(struct kw_jobs *j, int64_t now_ms, int *ran)
{
    enum kw_err err = KW_OK, e;
    int count = 0, one;
    size_t i;

    for (i = 0; i < j->n && !atomic_load(&j->stop); i++) {
        e = run_one(j, &j->defs[i], now_ms, &one);
        count += one;
        if (e != KW_OK && err == KW_OK)
            err = e;
    }
    if (err != KW_OK && !j->failing)
        kw_log_warn("jobs cannot reach the store", "node=%s err=%s", j->node, kw_err_str(err));
    else if (err == KW_OK && j->failing)
        kw_log_info("jobs reach the store again", "node=%s", j->node);
    j->failing = err != KW_OK;
    if (ran != NULL)
        *ran = count;
    return err;
}

static void *jobs_main(void *arg)
{
    struct kw_jobs *j = arg;
    struct timespec ts;

    while (!atomic_load(&j->stop)) {
        kw_jobs_poll(j, kw_time_now_ms(), NULL);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += j->poll_ms / 1000;
        ts.tv_nsec += (long)(j->poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&j->mu);
        while (!atomic_load(&j->stop) && pthread_cond_timedwait(&j->wake, &j->mu, &ts) == 0)
            ;
        pthread_mutex_unlock(&j->mu);
    }
    return NULL;
}

enum kw_err kw_jobs_start(struct kw_jobs *j, int poll_ms)
{
    pthread_condattr_t ca;

    if (j->started)
        return KW_ERR_INVALID;
    j->poll_ms = poll_ms > 0 ? poll_ms : KW_JOBS_POLL_MS;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&j->thread, NULL, jobs_main, j) != 0) {
        pthread_cond_destroy(&j->wake);
        return KW_ERR_INTERNAL;
    }
    j->started = 1;
    kw_log_info("jobs started", "node=%s jobs=%zu poll_ms=%d lease_ms=%lld", j->node, j->n, j->poll_ms,
                (long long)j->lease_ms);
    return KW_OK;
}

void kw_jobs_free(struct kw_jobs *j)
{
    if (j == NULL)
        return;
    pthread_mutex_lock(&j->mu);
    atomic_store(&j->stop, 1);
    if (j->started)
        pthread_cond_broadcast(&j->wake);
    pthread_mutex_unlock(&j->mu);
    if (j->started) {
        pthread_join(j->thread, NULL);
        pthread_cond_destroy(&j->wake);
    }
    pthread_mutex_destroy(&j->mu);
    free(j);
}

const char *kw_jobs_node(const struct kw_jobs *j)
{
    return j->node;
}

/* ---- the built-in jobs ---- */

static enum kw_err purge_sessions(void *ctx, struct kw_store *st, int64_t now_ms)
{
    const struct kw_app *app = ctx;
    int64_t idle_before = now_ms - (int64_t)app->cfg->session_idle_s * 1000, n = 0;
    enum kw_err err;

    JOB_TX(st, err, tx, kw_store_session_purge(tx, now_ms, idle_before, &n));
    if (err == KW_OK && n > 0)
        kw_log_info("expired sessions deleted", "count=%lld", (long long)n);
    return err;
}

static enum kw_err purge_throttle(void *ctx, struct kw_store *st, int64_t now_ms)
{
    int64_t n = 0;
    enum kw_err err;

    JOB_TX(st, err, tx, kw_store_throttle_purge(tx, now_ms - KW_THROTTLE_WINDOW_MS, &n));
    return err;
}

static enum kw_err purge_nonces(void *ctx, struct kw_store *st, int64_t now_ms)
{
    int64_t n = 0;
    enum kw_err err;

    JOB_TX(st, err, tx, kw_store_nonce_purge(tx, now_ms - KW_JOBS_NONCE_KEEP_MS, &n));
    return err;
}

/* Auto-archive (domain/records.h): each due record in its own transaction that re-checks it. */
static enum kw_err archive_records(void *ctx, struct kw_store *st, int64_t now_ms)
{
    (void)st;
    return kw_records_archive_due(ctx, now_ms, NULL);
}

size_t kw_jobs_builtin(struct kw_app *app, struct kw_job_def *defs)
{
    defs[0] = (struct kw_job_def){"sessions.purge", KW_JOBS_PURGE_MS, purge_sessions, app};
    defs[1] = (struct kw_job_def){"throttle.purge", KW_JOBS_PURGE_MS, purge_throttle, app};
    defs[2] = (struct kw_job_def){"nonces.purge", KW_JOBS_PURGE_MS, purge_nonces, app};
    defs[3] = (struct kw_job_def){"records.archive", KW_JOBS_ARCHIVE_MS, archive_records, app};
    return 4;
}
