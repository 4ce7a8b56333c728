/* pool.c - worker threads for off-loop requests; see pool.h. */
#include "http/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define KW_POOL_THREADS_MAX 256
#define KW_POOL_NICE 5 /* below the event loops (0), above the write-behind thread (10) */

struct kw_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a job was queued, or stop */
    struct kw_pool_job *head, *tail;
    size_t queued, running, max_queued;
    int stopping;
    int nthreads;
    pthread_t *threads;
};

/* Takes the next job, or NULL once stopping with nothing left. Called with mu held. */
static struct kw_pool_job *take(struct kw_pool *p)
{
    struct kw_pool_job *job;

    while (p->head == NULL && !p->stopping)
        pthread_cond_wait(&p->cv, &p->mu);
    if ((job = p->head) == NULL)
        return NULL;
    p->head = job->next;
    if (p->head == NULL)
        p->tail = NULL;
    job->next = NULL;
    p->queued--;
    p->running++;
    return job;
}

static void *pool_main(void *arg)
{
    struct kw_pool *p = arg;
    struct kw_pool_job *job;

    /* The event loops (every connection's I/O, the verify hot path) win the CPU when both want it
     * (Linux nice is per thread). At the same priority each job handed over woke a pool thread that
     * preempted its loop: 0.25 involuntary switches of the loop per single-record extract in `make
     * bench` on 2 cores; at nice 5, ~12 % more extracts per second and ~10 % less CPU per extract. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), KW_POOL_NICE);
    pthread_mutex_lock(&p->mu);
    while ((job = take(p)) != NULL) {
        pthread_mutex_unlock(&p->mu);
        job->run(job); /* job belongs to run now: not touched after */
        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void pool_stop(struct kw_pool *p, int started)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

enum kw_err kw_pool_new(int nthreads, size_t max_queued, struct kw_pool **out)
{
    struct kw_pool *p = NULL;
    enum kw_err err = KW_ERR_INVALID;
    int i = 0;

    *out = NULL;
    if (nthreads < 1 || nthreads > KW_POOL_THREADS_MAX || max_queued < 1)
        goto out;
    err = KW_ERR_NOMEM;
    if ((p = calloc(1, sizeof(*p))) == NULL ||
        (p->threads = calloc((size_t)nthreads, sizeof(pthread_t))) == NULL) {
        free(p);
        goto out;
    }
    p->max_queued = max_queued;
    p->nthreads = nthreads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
            pool_stop(p, i);
            err = KW_ERR_INTERNAL;
            goto out;
        }
    }
    *out = p;
    err = KW_OK;
out:
    return err;
}

enum kw_err kw_pool_submit(struct kw_pool *p, struct kw_pool_job *job)
{
    enum kw_err err = KW_ERR_RETRY;

    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->queued >= p->max_queued)
        goto out;
    job->next = NULL;
    if (p->tail != NULL)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->queued++;
    pthread_cond_signal(&p->cv);
    err = KW_OK;
out:
    pthread_mutex_unlock(&p->mu);
    return err;
}

size_t kw_pool_pending(struct kw_pool *p)
{
    size_t n;

    pthread_mutex_lock(&p->mu);
    n = p->queued + p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void kw_pool_free(struct kw_pool *p)
{
    if (p != NULL)
        pool_stop(p, p->nthreads);
}
