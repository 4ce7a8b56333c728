/* test_store_tx.c - the store contract for concurrent transactions, on SQLite and (when KEYWARD_TEST_PG
 * names a cluster) PostgreSQL: several threads writing through one handle, a chain of audit events
 * from all of them, read-modify-writes of one row that must not lose an update. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "domain/audit.h"
#include "store/store.h"
#include "store_fixture.h"

struct count {
    int n;
    int64_t last_seq;
    int ordered;
};

static int count_key(void *ctx, const struct kw_key *k)
{
    struct count *c = ctx;
    c->ordered &= k->seq > c->last_seq;
    c->last_seq = k->seq;
    c->n++;
    return 0;
}

/* Each thread: transactions holding a service, a key and an audit event, plus plain calls. */
static void *worker(void *arg)
{
    struct kw_store *st = arg;
    struct kw_service s, got;
    struct kw_key k;
    struct kw_audit_event ev;
    int i, bad = 0;

    for (i = 0; i < 40 && !bad; i++) {
        memset(&s, 0, sizeof(s));
        memset(&k, 0, sizeof(k));
        kw_id_new("svc", s.id);
        kw_id_new("key", k.id);
        snprintf(s.key_prefix, sizeof(s.key_prefix), "kw");
        snprintf(k.service_id, sizeof(k.service_id), "%s", s.id);
        kw_crypto_sha256(k.id, strlen(k.id), k.hash);
        kw_audit_event_init(&ev, "root", "root", "service.create", "service", s.id, s.id, "success");
        if (tbegin(st) != KW_OK)
            return (void *)1;
        bad = AUTO(st, kw_store_service_insert(tx_, &s)) != KW_OK ||
              AUTO(st, kw_store_key_insert(tx_, &k)) != KW_OK || kw_audit_chain(open_tx, &ev, 1) != KW_OK;
        if (bad) {
            trollback();
            break;
        }
        bad = tcommit() != KW_OK || AUTO(st, kw_store_service_get(tx_, s.id, &got)) != KW_OK ||
              AUTO(st, kw_store_usage_add(tx_, k.id, s.id, 0, 1, 0)) != KW_OK;
    }
    return bad ? (void *)1 : NULL;
}

static void test_two_threads(void **state)
{
    struct fixture *f = *state;
    struct kw_service *items = calloc(200, sizeof(*items));
    struct count c = {0, 0, 1};
    int64_t checked = 0, broken = -1;
    pthread_t a, b;
    void *ra, *rb;
    size_t n = 0;

    assert_int_equal(pthread_create(&a, NULL, worker, f->st), 0);
    assert_int_equal(pthread_create(&b, NULL, worker, f->st), 0);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    assert_null(ra);
    assert_null(rb);
    assert_int_equal(AUTO(f->st, kw_store_service_list(tx_, 0, items, 200, &n)), KW_OK);
    assert_int_equal(n, 80);
    assert_int_equal(AUTO(f->st, kw_store_key_each(tx_, count_key, &c)), KW_OK);
    assert_int_equal(c.n, 80);
    assert_int_equal(kw_audit_verify(f->st, &checked, &broken), KW_OK);
    assert_int_equal(checked, 80);
    assert_int_equal(broken, 0);
    free(items);
}

/* A write transaction keeps what it read until it ends: concurrent read-modify-writes of one row lose
 * no increment (SQLite: BEGIN IMMEDIATE; PostgreSQL: the read is FOR UPDATE). */
struct bump {
    struct kw_store *st;
    const char *id;
    int n;
};

static void *bumper(void *arg)
{
    struct bump *b = arg;
    struct kw_key k;
    int i, tries;
    enum kw_err err = KW_OK;

    for (i = 0; i < b->n && err == KW_OK; i++) {
        for (tries = 0, err = KW_ERR_RETRY; err == KW_ERR_RETRY && tries < 20; tries++) {
            struct kw_tx *tx = NULL;
            err = kw_store_begin(b->st, KW_TX_WRITE, &tx);
            if (err != KW_OK)
                continue;
            err = kw_store_key_get(tx, b->id, &k);
            if (err == KW_OK) {
                k.archive_after_extract_s++;
                err = kw_store_key_update(tx, &k);
            }
            if (err == KW_OK)
                err = kw_store_commit(tx);
            else
                kw_store_rollback(tx);
        }
    }
    return err == KW_OK ? NULL : (void *)1;
}

static void test_write_locks_what_it_reads(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_key k, got;
    struct bump b;
    pthread_t t[3];
    void *r;
    int i;

    mk_service(f->st, &s, "bumps");
    mk_key(f->st, &k, s.id, 1);
    k.archive_after_extract_s = 0;
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &k)), KW_OK);
    b = (struct bump){f->st, k.id, 25};
    for (i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, bumper, &b), 0);
    for (i = 0; i < 3; i++) {
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k.id, &got)), KW_OK);
    assert_int_equal(got.archive_after_extract_s, 75);
}
/* A read transaction does not wait for a write transaction that another thread holds open (on SQLite
 * the main connection: a write waiting for the write-behind connection's batch, or in its fsync, held
 * every read on that connection behind it, hundreds of ms at p99 in `make bench`), and does not see
 * what that transaction has not committed. */
struct reader {
    struct kw_store *st;
    const char *committed, *pending;
    enum kw_err got_committed, got_pending;
    _Atomic int done;
};

static void *read_both(void *arg)
{
    struct reader *r = arg;
    struct kw_service out;
    struct kw_tx *tx = NULL;

    if (kw_store_begin(r->st, KW_TX_READ, &tx) == KW_OK) {
        r->got_committed = kw_store_service_get(tx, r->committed, &out);
        r->got_pending = kw_store_service_get(tx, r->pending, &out);
        kw_store_rollback(tx);
    }
    r->done = 1;
    return NULL;
}

static void test_read_beside_open_write(void **state)
{
    struct fixture *f = *state;
    struct kw_service old, fresh, out;
    struct reader r;
    struct kw_tx *tx = NULL;
    pthread_t t;
    int i, waited_ms = 0;

    mk_service(f->st, &old, "before");
    memset(&fresh, 0, sizeof(fresh));
    kw_id_new("svc", fresh.id);
    snprintf(fresh.key_prefix, sizeof(fresh.key_prefix), "kw");
    r = (struct reader){f->st, old.id, fresh.id, KW_ERR_INTERNAL, KW_ERR_INTERNAL, 0};
    assert_int_equal(kw_store_begin(f->st, KW_TX_WRITE, &tx), KW_OK);
    assert_int_equal(kw_store_service_insert(tx, &fresh), KW_OK);
    assert_int_equal(pthread_create(&t, NULL, read_both, &r), 0);
    for (i = 0; i < 500 && !r.done; i++, waited_ms += 10)
        nanosleep(&(struct timespec){0, 10000000L}, NULL);
    assert_int_equal(kw_store_commit(tx), KW_OK);
    pthread_join(t, NULL);
    assert_true(waited_ms < 5000); /* the read finished while the write was open */
    assert_int_equal(r.got_committed, KW_OK);
    assert_int_equal(r.got_pending, KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, fresh.id, &out)), KW_OK); /* committed: seen */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_locks_what_it_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_beside_open_write, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
