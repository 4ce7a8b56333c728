/* test_jobs.c - the job runner (domain/jobs.h) with two runners ("nodes"), each on its own handle of
 * one store: SQLite, and PostgreSQL when KEYWARD_TEST_PG names a cluster. Times are given to
 * kw_jobs_poll, so nothing here waits on the clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "domain/jobs.h"
#include "store/store.h"
#include "store_backend.h"

#define T0 1000000000LL
#define EVERY 60000
#define LEASE 30000

static enum test_backend backend;

struct counted {
    atomic_int runs;
    sem_t started, go; /* blocking jobs: post started, wait for go */
    int block;
};

static enum kw_err count_run(void *ctx, struct kw_store *st, int64_t now_ms)
{
    struct counted *c = ctx;

    atomic_fetch_add(&c->runs, 1);
    if (c->block) {
        sem_post(&c->started);
        sem_wait(&c->go);
    }
    return KW_OK;
}

struct pair {
    struct store_env e;
    struct kw_store *st[2];
    struct kw_jobs *j[2];
    struct counted c;
};

static void pair_open(struct pair *p)
{
    struct kw_job_def def = {"count", EVERY, count_run, &p->c};
    const char *names[2] = {"node-a", "node-b"};
    int i;

    memset(p, 0, sizeof(*p));
    sem_init(&p->c.started, 0, 0);
    sem_init(&p->c.go, 0, 0);
    assert_int_equal(kw_crypto_init(), KW_OK);
    assert_int_equal(tb_env_init(&p->e, backend), 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(tb_open(&p->e, &p->st[i]), KW_OK);
        assert_int_equal(kw_store_migrate(p->st[i], NULL, NULL), KW_OK);
        assert_int_equal(kw_jobs_new(p->st[i], names[i], LEASE, &def, 1, &p->j[i]), KW_OK);
        assert_string_equal(kw_jobs_node(p->j[i]), names[i]);
    }
}

static void pair_close(struct pair *p)
{
    int i;

    for (i = 0; i < 2; i++) {
        kw_jobs_free(p->j[i]);
        kw_store_free(p->st[i]);
    }
    sem_destroy(&p->c.started);
    sem_destroy(&p->c.go);
    assert_int_equal(tb_env_cleanup(&p->e), 0);
}

static void job_row(struct kw_store *st, struct kw_job *out)
{
    struct kw_tx *tx = NULL;

    assert_int_equal(kw_store_begin(st, KW_TX_READ, &tx), KW_OK);
    assert_int_equal(kw_store_job_get(tx, "count", out), KW_OK);
    kw_store_rollback(tx);
}

/* Moves the job's next due time to at (as a schedule written by another node would). */
static void set_due(struct kw_store *st, int64_t at)
{
    struct kw_job row;
    struct kw_tx *tx = NULL;

    job_row(st, &row);
    assert_int_equal(kw_store_begin(st, KW_TX_WRITE, &tx), KW_OK);
    assert_int_equal(kw_store_job_lease(tx, "count", "setter", row.next_run_at, 1, &row), KW_OK);
    assert_int_equal(kw_store_job_finish(tx, &row, row.next_run_at, at, NULL), KW_OK);
    assert_int_equal(kw_store_commit(tx), KW_OK);
}

struct poller {
    struct kw_jobs *j;
    int64_t now;
    int ran;
    enum kw_err err;
};

static void *poll_thread(void *arg)
{
    struct poller *p = arg;

    p->err = kw_jobs_poll(p->j, p->now, &p->ran);
    return NULL;
}

/* Both runners poll at the same instants, in parallel, 20 times per due time: each due time runs
 * the job exactly once, on one of them, and the schedule moves one interval on. */
static void test_due_job_runs_once(void **state)
{
    struct pair p;
    struct kw_job row;
    int k, r, i, base;

    pair_open(&p);
    set_due(p.st[0], T0);
    base = (int)atomic_load(&p.c.runs);
    for (k = 0; k < 4; k++) {
        int64_t due = T0 + (int64_t)k * EVERY;
        for (r = 0; r < 10; r++) {
            struct poller pl[2] = {{p.j[0], due + r, 0, KW_OK}, {p.j[1], due + r, 0, KW_OK}};
            pthread_t th[2];
            for (i = 0; i < 2; i++)
                assert_int_equal(pthread_create(&th[i], NULL, poll_thread, &pl[i]), 0);
            for (i = 0; i < 2; i++) {
                pthread_join(th[i], NULL);
                assert_int_equal(pl[i].err, KW_OK);
            }
        }
        assert_int_equal(atomic_load(&p.c.runs) - base, k + 1);
        job_row(p.st[1], &row);
        assert_int_equal(row.next_run_at, due + EVERY);
        assert_true(strcmp(row.last_run_by, "node-a") == 0 || strcmp(row.last_run_by, "node-b") == 0);
        assert_int_equal(row.lease_until, 0);
        assert_string_equal(row.last_error, "");
    }
    pair_close(&p);
}

/* node-a leases the job and never finishes (its run hangs); node-b cannot take it during the lease,
 * takes it over once the lease ran out and records the run; node-a's late result is refused. */
static void test_dead_lease_taken_over(void **state)
{
    struct pair p;
    struct poller a;
    pthread_t th;
    struct kw_job row;
    int ran = -1;

    pair_open(&p);
    set_due(p.st[0], T0);
    p.c.block = 1;
    a = (struct poller){p.j[0], T0, 0, KW_OK};
    assert_int_equal(pthread_create(&th, NULL, poll_thread, &a), 0);
    sem_wait(&p.c.started); /* node-a holds the lease and hangs */
    p.c.block = 0;
    job_row(p.st[1], &row);
    assert_string_equal(row.leased_by, "node-a");
    assert_int_equal(row.lease_until, T0 + LEASE);
    assert_int_equal(kw_jobs_poll(p.j[1], T0 + LEASE - 1, &ran), KW_OK);
    assert_int_equal(ran, 0);
    assert_int_equal(kw_jobs_poll(p.j[1], T0 + LEASE, &ran), KW_OK);
    assert_int_equal(ran, 1);
    job_row(p.st[1], &row);
    assert_string_equal(row.last_run_by, "node-b");
    assert_int_equal(row.runs, 2); /* set_due's and node-b's */
    sem_post(&p.c.go);             /* node-a wakes up: its lease is gone */
    pthread_join(th, NULL);
    assert_int_equal(a.err, KW_OK);
    assert_int_equal(a.ran, 1);
    job_row(p.st[0], &row);
    assert_string_equal(row.last_run_by, "node-b");
    assert_int_equal(row.runs, 2);
    assert_int_equal(row.next_run_at, T0 + EVERY);
    assert_int_equal(atomic_load(&p.c.runs), 2);
    pair_close(&p);
}

static enum kw_err failing_run(void *ctx, struct kw_store *st, int64_t now_ms)
{
    return KW_ERR_STORE;
}

/* A failed run is recorded and the schedule still moves on; the row survives a new runner. */
static void test_failure_recorded_and_schedule_kept(void **state)
{
    struct pair p;
    struct kw_job_def def = {"count", EVERY, failing_run, NULL};
    struct kw_jobs *again = NULL;
    struct kw_job row;
    int ran = 0;

    pair_open(&p);
    kw_jobs_free(p.j[0]);
    assert_int_equal(kw_jobs_new(p.st[0], "node-a", LEASE, &def, 1, &p.j[0]), KW_OK);
    set_due(p.st[0], T0);
    assert_int_equal(kw_jobs_poll(p.j[0], T0, &ran), KW_OK);
    assert_int_equal(ran, 1);
    job_row(p.st[0], &row);
    assert_string_equal(row.last_error, kw_err_str(KW_ERR_STORE));
    assert_int_equal(row.next_run_at, T0 + EVERY);
    /* a restarted node registers the same job: the schedule in the store is kept */
    assert_int_equal(kw_jobs_new(p.st[1], "node-c", LEASE, &def, 1, &again), KW_OK);
    job_row(p.st[1], &row);
    assert_int_equal(row.next_run_at, T0 + EVERY);
    kw_jobs_free(again);
    pair_close(&p);
}

/* The thread polls on its own: a job due now runs within a poll or two. */
static void test_thread_runs_due_job(void **state)
{
    struct pair p;
    int i;

    pair_open(&p);
    assert_int_equal(kw_jobs_start(p.j[0], 20), KW_OK);
    for (i = 0; i < 500 && atomic_load(&p.c.runs) == 0; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&p.c.runs), 1); /* registered due now: ran once, next in a minute */
    pair_close(&p);
}

static int on_sqlite(void **state)
{
    backend = TB_SQLITE;
    return 0;
}

static int on_pg(void **state)
{
    backend = TB_PG;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_job_runs_once),
        cmocka_unit_test(test_dead_lease_taken_over),
        cmocka_unit_test(test_failure_recorded_and_schedule_kept),
        cmocka_unit_test(test_thread_runs_due_job),
    };
    int failed = cmocka_run_group_tests_name("jobs on sqlite", tests, on_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("jobs on PostgreSQL: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("jobs on postgresql", tests, on_pg, NULL);
}
