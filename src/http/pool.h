/* pool.h - a fixed set of threads that run jobs handed over by the event loops: requests that may wait
 * on the store (an fsync on SQLite, a round trip or a lock wait on PostgreSQL) run here, so the
 * verifications sharing their loop are not held up behind them. FIFO, bounded, no h2o inside. The
 * threads run at nice 5, so the event loops win the CPU when both want it. */
#ifndef KW_HTTP_POOL_H
#define KW_HTTP_POOL_H

#include <stddef.h>

#include "core/err.h"

/* Embed in the caller's job struct. From kw_pool_submit on, the pool holds the job until it calls run
 * on one of its threads; run owns the job from then on (hands it back, frees it). */
struct kw_pool_job {
    struct kw_pool_job *next; /* private to the pool */
    void (*run)(struct kw_pool_job *job);
};

struct kw_pool;

/* Starts nthreads (1..256) threads; at most max_queued jobs (>= 1) wait beyond those running. Threads
 * inherit the caller's signal mask. KW_ERR_INVALID on bad bounds, KW_ERR_NOMEM/KW_ERR_INTERNAL if a
 * thread cannot be made; *out is NULL on failure. */
enum kw_err kw_pool_new(int nthreads, size_t max_queued, struct kw_pool **out);

/* Queues job (job->run set). KW_ERR_RETRY when max_queued jobs wait already or the pool is stopping:
 * the job was not taken and stays the caller's. Any thread. */
enum kw_err kw_pool_submit(struct kw_pool *p, struct kw_pool_job *job);

/* Jobs waiting (not yet started) plus jobs running, for tests and metrics. */
size_t kw_pool_pending(struct kw_pool *p);

/* Refuses new jobs, runs every job already queued, joins the threads, frees p. When it returns no job
 * run is still executing. kw_pool_free(NULL) is a no-op. */
void kw_pool_free(struct kw_pool *p);

#endif
