/* test_http_pool.c - the off-loop worker pool (src/http/pool.h): jobs run in parallel on its threads,
 * in FIFO order on one, the queue cap is exact and refuses with KW_ERR_RETRY, and kw_pool_free runs
 * every job already queued before it returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/pool.h"

/* A gate the test opens; jobs wait on it (bounded, so a broken pool fails instead of hanging). */
struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int arrived; /* jobs that have started */
    int done;
    int order[64];
    int norder;
};

struct job {
    struct kw_pool_job super;
    struct shared *s;
    int id;
    int want_arrived; /* wait until this many jobs run at once (0 = do not wait) */
    int saw_all;      /* 1 if want_arrived was reached within the bound */
    int wait_gate;
};

static void job_run(struct kw_pool_job *pj)
{
    struct job *j = (struct job *)pj;
    struct shared *s = j->s;
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&s->mu);
    s->arrived++;
    if (s->norder < 64)
        s->order[s->norder++] = j->id;
    pthread_cond_broadcast(&s->cv);
    while (j->want_arrived > 0 && s->arrived < j->want_arrived &&
           pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
        ;
    j->saw_all = s->arrived >= j->want_arrived;
    while (j->wait_gate && !s->open)
        pthread_cond_wait(&s->cv, &s->mu);
    s->done++;
    pthread_mutex_unlock(&s->mu);
}

static void shared_init(struct shared *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void shared_cleanup(struct shared *s)
{
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static void gate_open(struct shared *s)
{
    pthread_mutex_lock(&s->mu);
    s->open = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits (bounded) until n jobs have started. */
static int wait_arrived(struct shared *s, int n)
{
    struct timespec until;
    int ok;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&s->mu);
    while (s->arrived < n && pthread_cond_timedwait(&s->cv, &s->mu, &until) == 0)
        ;
    ok = s->arrived >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void test_bad_bounds(void **state)
{
    struct kw_pool *p = (struct kw_pool *)1;

    assert_int_equal(kw_pool_new(0, 8, &p), KW_ERR_INVALID);
    assert_null(p);
    assert_int_equal(kw_pool_new(4, 0, &p), KW_ERR_INVALID);
    assert_int_equal(kw_pool_new(257, 8, &p), KW_ERR_INVALID);
    kw_pool_free(NULL);
}

/* Four jobs that each wait for all four to be running at once: only four threads can do that. */
static void test_jobs_run_in_parallel(void **state)
{
    struct shared s;
    struct job jobs[4];
    struct kw_pool *p;

    shared_init(&s);
    assert_int_equal(kw_pool_new(4, 16, &p), KW_OK);
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){.super.run = job_run, .s = &s, .id = i, .want_arrived = 4};
        assert_int_equal(kw_pool_submit(p, &jobs[i].super), KW_OK);
    }
    kw_pool_free(p);
    for (int i = 0; i < 4; i++)
        assert_int_equal(jobs[i].saw_all, 1);
    assert_int_equal(s.done, 4);
    shared_cleanup(&s);
}

/* One thread, the first job held at the gate while the rest queue: they run in submission order. */
static void test_fifo_on_one_thread(void **state)
{
    struct shared s;
    struct job jobs[10];
    struct kw_pool *p;

    shared_init(&s);
    assert_int_equal(kw_pool_new(1, 16, &p), KW_OK);
    for (int i = 0; i < 10; i++) {
        jobs[i] = (struct job){.super.run = job_run, .s = &s, .id = i, .wait_gate = i == 0};
        assert_int_equal(kw_pool_submit(p, &jobs[i].super), KW_OK);
    }
    assert_true(wait_arrived(&s, 1));
    assert_int_equal(kw_pool_pending(p), 10);
    gate_open(&s);
    kw_pool_free(p);
    assert_int_equal(s.norder, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(s.order[i], i);
    shared_cleanup(&s);
}

/* max_queued counts waiting jobs only: one running plus two waiting fit, the fourth is refused and
 * stays the caller's (never run). */
static void test_queue_cap_exact(void **state)
{
    struct shared s;
    struct job jobs[4];
    struct kw_pool *p;

    shared_init(&s);
    assert_int_equal(kw_pool_new(1, 2, &p), KW_OK);
    jobs[0] = (struct job){.super.run = job_run, .s = &s, .id = 0, .wait_gate = 1};
    assert_int_equal(kw_pool_submit(p, &jobs[0].super), KW_OK);
    assert_true(wait_arrived(&s, 1));
    for (int i = 1; i < 4; i++)
        jobs[i] = (struct job){.super.run = job_run, .s = &s, .id = i};
    assert_int_equal(kw_pool_submit(p, &jobs[1].super), KW_OK);
    assert_int_equal(kw_pool_submit(p, &jobs[2].super), KW_OK);
    assert_int_equal(kw_pool_submit(p, &jobs[3].super), KW_ERR_RETRY);
    gate_open(&s);
    kw_pool_free(p);
    assert_int_equal(s.done, 3);
    for (int i = 0; i < s.norder; i++)
        assert_int_not_equal(s.order[i], 3);
    shared_cleanup(&s);
}

/* kw_pool_free right after a burst: every queued job has run when it returns. */
static void test_free_runs_queued(void **state)
{
    struct shared s;
    struct job *jobs = calloc(200, sizeof(*jobs));
    struct kw_pool *p;

    assert_non_null(jobs);
    shared_init(&s);
    s.open = 1;
    assert_int_equal(kw_pool_new(2, 200, &p), KW_OK);
    for (int i = 0; i < 200; i++) {
        jobs[i] = (struct job){.super.run = job_run, .s = &s, .id = i};
        assert_int_equal(kw_pool_submit(p, &jobs[i].super), KW_OK);
    }
    kw_pool_free(p);
    assert_int_equal(s.done, 200);
    shared_cleanup(&s);
    free(jobs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_bounds),         cmocka_unit_test(test_jobs_run_in_parallel),
        cmocka_unit_test(test_fifo_on_one_thread), cmocka_unit_test(test_queue_cap_exact),
        cmocka_unit_test(test_free_runs_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
