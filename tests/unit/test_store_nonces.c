/* test_store_nonces.c - the store contract for single-use values (store.h: nonces) on SQLite and, when
 * KEYWARD_TEST_PG names a cluster, PostgreSQL: a second insert of one (scope, value) is a replay on any
 * connection or node, scopes are separate, the purge deletes only what is older than its cutoff, and
 * two handles racing on one value let exactly one through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "store/store.h"

#include "store_fixture.h"

static void test_nonce_once(void **state)
{
    struct fixture *f = *state;
    struct kw_tx *rtx = NULL;
    struct kw_store *other = NULL;
    char big[KW_NONCE_VALUE_MAX + 1];
    int64_t n = -1;

    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "KWAKAAAAAAAAAAAAAAAA", "n0nce-0000000001", 1000)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "KWAKAAAAAAAAAAAAAAAA", "n0nce-0000000001", 2000)),
                     KW_ERR_CONFLICT);
    /* another scope, another value */
    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "KWAKBBBBBBBBBBBBBBBB", "n0nce-0000000001", 1000)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "KWAKAAAAAAAAAAAAAAAA", "n0nce-0000000002", 3000)), KW_OK);
    /* a second handle on the same database sees the first's rows */
    assert_int_equal(tb_open(&f->e, &other), KW_OK);
    assert_int_equal(AUTO(other, kw_store_nonce_insert(tx_, "KWAKAAAAAAAAAAAAAAAA", "n0nce-0000000002", 9000)),
                     KW_ERR_CONFLICT);
    kw_store_free(other);
    /* a replay inside a transaction the caller rolls back leaves nothing behind */
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(kw_store_nonce_insert(open_tx, "sig:KWAKAAAAAAAAAAAAAAAA", "AAAA", 4000), KW_OK);
    trollback();
    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "sig:KWAKAAAAAAAAAAAAAAAA", "AAAA", 4000)), KW_OK);
    /* purge: rows created before the cutoff only */
    assert_int_equal(AUTO(f->st, kw_store_nonce_purge(tx_, 3000, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "KWAKAAAAAAAAAAAAAAAA", "n0nce-0000000001", 5000)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "KWAKAAAAAAAAAAAAAAAA", "n0nce-0000000002", 5000)),
                     KW_ERR_CONFLICT);
    assert_int_equal(AUTO(f->st, kw_store_nonce_purge(tx_, 3000, NULL)), KW_OK);
    /* bounds and modes */
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "s", big, 1)), KW_ERR_TOO_LARGE);
    big[sizeof(big) - 2] = '\0';
    assert_int_equal(AUTO(f->st, kw_store_nonce_insert(tx_, "s", big, 1)), KW_OK);
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &rtx), KW_OK);
    assert_int_equal(kw_store_nonce_insert(rtx, "s", "x", 1), KW_ERR_INVALID);
    assert_int_equal(kw_store_nonce_purge(rtx, 1, NULL), KW_ERR_INVALID);
    kw_store_rollback(rtx);
}

struct racer {
    struct kw_store *st;
    pthread_barrier_t *go;
    enum kw_err got;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    enum kw_err err;

    pthread_barrier_wait(r->go);
    do {
        err = AUTO(r->st, kw_store_nonce_insert(tx_, "KWAKRACERACERACERACE", "the-same-nonce-value", 1000));
    } while (err == KW_ERR_RETRY);
    r->got = err;
    return NULL;
}

/* Eight handles (SQLite: eight connections to one file; PostgreSQL: eight pools, as eight nodes) insert
 * one value at once: exactly one succeeds, the rest are replays. */
static void test_nonce_race(void **state)
{
    struct fixture *f = *state;
    struct racer r[8];
    pthread_t t[8];
    pthread_barrier_t go;
    int i, ok = 0, conflict = 0;

    pthread_barrier_init(&go, NULL, 8);
    for (i = 0; i < 8; i++) {
        r[i].go = &go;
        r[i].got = KW_ERR_INTERNAL;
        assert_int_equal(tb_open(&f->e, &r[i].st), KW_OK);
    }
    for (i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        ok += r[i].got == KW_OK;
        conflict += r[i].got == KW_ERR_CONFLICT;
        kw_store_free(r[i].st);
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 1);
    assert_int_equal(conflict, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nonce_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_race, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
