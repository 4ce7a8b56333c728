/* jobs.h - work that must run once per deployment however many nodes serve it (expired sessions and
 * login-throttle windows today; auto-archive and webhook deliveries later).
 *
 * Every node runs one runner thread. Each poll (every poll_ms, 1 s by default) it tries to lease each
 * job it knows from the store's jobs table (kw_store_job_lease: a job that is due and not leased, or
 * whose lease ran out); a lease is one short write transaction, committed before the job runs, so the
 * job itself runs outside it and may take its own transactions. After the run the result is recorded
 * (kw_store_job_finish: next due time, which node ran it, last success or last error) only if the
 * lease is still this node's. A node killed while holding a lease blocks the job for at most lease_ms,
 * after which any node takes it over (the dead node's late result, if it comes back, is refused).
 * The schedule lives in the store: a restart, or a node joining, loses and repeats nothing.
 *
 * A job must finish well within lease_ms (30 s by default) and be safe to run again after a crash
 * (what it does is idempotent: delete what has expired). */
#ifndef KW_DOMAIN_JOBS_H
#define KW_DOMAIN_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define KW_JOBS_MAX 8                /* jobs one runner knows */
#define KW_JOBS_POLL_MS 1000         /* default poll interval */
#define KW_JOBS_LEASE_MS (30 * 1000) /* default lease: a dead node's job is taken over after this */
#define KW_JOBS_PURGE_MS (60 * 1000) /* how often the built-in purges run */
/* Auto-archive runs this often, and the server's runner polls this often, so a due record is archived
 * within about this long of its time (the 1 s target of issue 9). */
#define KW_JOBS_ARCHIVE_MS 250
/* Single-use values (nonces, signatures seen) are kept this long: the exchange's timestamp and a
 * signature's created may each be 300 s off either way, so one value can come back up to 600 s after it
 * was first seen; a minute more for clocks between nodes. */
#define KW_JOBS_NONCE_KEEP_MS ((2 * 300 + 60) * 1000)

/* Runs one job at now_ms; st is the runner's store. A non-KW_OK result is recorded as last_error. */
typedef enum kw_err (*kw_job_fn)(void *ctx, struct kw_store *st, int64_t now_ms);

struct kw_job_def {
    const char *name; /* the row in the jobs table; at most KW_JOB_NAME_MAX - 1 bytes; static */
    int64_t interval_ms;
    kw_job_fn run;
    void *ctx; /* borrowed */
};

struct kw_jobs;

/* A runner for defs[0..n) on st (borrowed) as node (copied; "" = "<hostname>:<pid>"), leasing for
 * lease_ms (0 = KW_JOBS_LEASE_MS). Adds each job's row, first due now, where it is missing. No
 * thread yet: kw_jobs_start, or call kw_jobs_poll yourself (tests). */
enum kw_err kw_jobs_new(struct kw_store *st, const char *node, int64_t lease_ms,
                        const struct kw_job_def *defs, size_t n, struct kw_jobs **out);
/* Starts the thread that calls kw_jobs_poll every poll_ms (0 = KW_JOBS_POLL_MS). */
enum kw_err kw_jobs_start(struct kw_jobs *j, int poll_ms);
/* Stops the thread (after the run in progress, if any) and frees; NULL is a no-op. */
void kw_jobs_free(struct kw_jobs *j);

/* Leases, runs and records every job due at now_ms, one after another, on the calling thread. *ran (may
 * be NULL) = how many ran here. Store errors are logged (once per outage) and returned. */
enum kw_err kw_jobs_poll(struct kw_jobs *j, int64_t now_ms, int *ran);
/* This runner's node name, as written to leased_by / last_run_by. */
const char *kw_jobs_node(const struct kw_jobs *j);

/* The deployment's own jobs: "sessions.purge" (sessions past their absolute or idle expiry),
 * "throttle.purge" (login-throttle windows that are over) and "nonces.purge" (single-use values older
 * than KW_JOBS_NONCE_KEEP_MS) and "records.archive" (auto-archive of due identity records, every
 * KW_JOBS_ARCHIVE_MS). defs must hold 4; returns the count. */
struct kw_app;
size_t kw_jobs_builtin(struct kw_app *app, struct kw_job_def *defs);

#endif
