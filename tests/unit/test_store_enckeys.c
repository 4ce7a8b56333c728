/* test_store_enckeys.c - the store contract for response-encryption keys (store.h: encryption keys), on SQLite and,
 * when KEYWARD_TEST_PG is set, on PostgreSQL: insert (duplicate kid), list newest first with every
 * column as written, update, delete, the stamp that tells a node the set changed, writes only in write
 * transactions, and one active key when two writers race to create the first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "store_fixture.h"

static void mk(struct kw_enc_key *k, const char *kid, int64_t created, int64_t version)
{
    size_t i;

    memset(k, 0, sizeof(*k));
    snprintf(k->kid, sizeof(k->kid), "%s", kid);
    snprintf(k->public_pem, sizeof(k->public_pem), "-----BEGIN PUBLIC KEY-----\n%0700lld\n-----END PUBLIC KEY-----\n",
             (long long)created);
    snprintf(k->status, sizeof(k->status), "active");
    k->sealed_len = 1900; /* as long as a sealed RSA-3072 private key */
    for (i = 0; i < k->sealed_len; i++)
        k->sealed[i] = (uint8_t)(255 - i);
    k->sealed[5] = 0; /* a NUL inside the blob survives */
    k->created_at = created;
    k->version = version;
}

static void test_enc_keys(void **state)
{
    struct fixture *f = *state;
    struct kw_enc_key a, b, got[4];
    struct kw_tx *rtx = NULL;
    int64_t v = -1, n = -1;
    size_t cnt = 9;

    assert_int_equal(AUTO(f->st, kw_store_enc_key_stamp(tx_, &v, &n)), KW_OK);
    assert_int_equal(v, 0);
    assert_int_equal(n, 0);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_list(tx_, got, 4, &cnt)), KW_OK);
    assert_int_equal(cnt, 0);
    mk(&a, "kid-a", 1000, 5);
    mk(&b, "kid-b", 2000, 6);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_insert(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_insert(tx_, &a)), KW_ERR_EXISTS);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_insert(tx_, &b)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_list(tx_, got, 4, &cnt)), KW_OK);
    assert_int_equal(cnt, 2);
    assert_memory_equal(&got[0], &b, sizeof(b)); /* newest first, every byte as written */
    assert_memory_equal(&got[1], &a, sizeof(a));
    assert_int_equal(AUTO(f->st, kw_store_enc_key_list(tx_, got, 1, &cnt)), KW_OK);
    assert_int_equal(cnt, 1);
    assert_string_equal(got[0].kid, "kid-b");
    assert_int_equal(AUTO(f->st, kw_store_enc_key_stamp(tx_, &v, &n)), KW_OK);
    assert_int_equal(v, 6);
    assert_int_equal(n, 2);
    /* retire a: status, retire_after, version and a re-wrapped blob */
    snprintf(a.status, sizeof(a.status), "retired");
    a.retire_after = 99000;
    a.version = 7;
    a.sealed_len = 1901;
    a.sealed[1900] = 0x42;
    assert_int_equal(AUTO(f->st, kw_store_enc_key_update(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_list(tx_, got, 4, &cnt)), KW_OK);
    assert_memory_equal(&got[1], &a, sizeof(a));
    assert_int_equal(AUTO(f->st, kw_store_enc_key_stamp(tx_, &v, &n)), KW_OK);
    assert_int_equal(v, 7);
    mk(&b, "kid-none", 1, 1);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_update(tx_, &b)), KW_ERR_NOT_FOUND);
    /* writes need a write transaction */
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &rtx), KW_OK);
    assert_int_equal(kw_store_enc_key_insert(rtx, &b), KW_ERR_INVALID);
    assert_int_equal(kw_store_enc_key_delete(rtx, "kid-a"), KW_ERR_INVALID);
    assert_int_equal(kw_store_enc_key_list(rtx, got, 4, &cnt), KW_OK);
    kw_store_rollback(rtx);
    /* delete */
    assert_int_equal(AUTO(f->st, kw_store_enc_key_delete(tx_, "kid-a")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_delete(tx_, "kid-a")), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_stamp(tx_, &v, &n)), KW_OK);
    assert_int_equal(n, 1);
}

/* Two writers that each create a key only when none is active: the version counter's lock serialises
 * them (taken first), so exactly one key results. */
struct racer {
    struct kw_store *st;
    const char *kid;
    int created;
};

static enum kw_err create_if_none(struct kw_tx *tx, struct racer *r)
{
    struct kw_enc_key got[4], k;
    int64_t v;
    size_t n, i;
    enum kw_err err = kw_store_version_next(tx, &v);

    if (err == KW_OK)
        err = kw_store_enc_key_list(tx, got, 4, &n);
    if (err != KW_OK)
        return err;
    for (i = 0; i < n; i++)
        if (strcmp(got[i].status, "active") == 0)
            return KW_OK;
    usleep(20000); /* widen the window */
    mk(&k, r->kid, 5, v);
    err = kw_store_enc_key_insert(tx, &k);
    r->created = err == KW_OK;
    return err;
}

static void *race(void *arg)
{
    struct racer *r = arg;
    enum kw_err err = KW_ERR_RETRY;
    int tries;

    for (tries = 0; tries < 20 && err == KW_ERR_RETRY; tries++) {
        struct kw_tx *tx = NULL;
        r->created = 0;
        err = kw_store_begin(r->st, KW_TX_WRITE, &tx);
        if (err == KW_OK) {
            err = create_if_none(tx, r);
            if (err == KW_OK)
                err = kw_store_commit(tx);
            else
                kw_store_rollback(tx);
        }
        if (err == KW_ERR_RETRY)
            usleep(10000);
    }
    return err == KW_OK ? NULL : (void *)1;
}

static void test_first_key_race(void **state)
{
    struct fixture *f = *state;
    struct racer r1 = {f->st, "kid-1", 0}, r2 = {f->st, "kid-2", 0};
    struct kw_store *other = NULL;
    pthread_t t1, t2;
    void *rc1, *rc2;
    int64_t v, n;

    assert_int_equal(tb_open(&f->e, &other), KW_OK); /* a second handle, as a second node has */
    r2.st = other;
    pthread_create(&t1, NULL, race, &r1);
    pthread_create(&t2, NULL, race, &r2);
    pthread_join(t1, &rc1);
    pthread_join(t2, &rc2);
    assert_null(rc1);
    assert_null(rc2);
    assert_int_equal(r1.created + r2.created, 1);
    assert_int_equal(AUTO(f->st, kw_store_enc_key_stamp(tx_, &v, &n)), KW_OK);
    assert_int_equal(n, 1);
    kw_store_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_enc_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_key_race, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
