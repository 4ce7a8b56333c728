/* test_throttle.c - the login throttle: limits and windows, atomic check-and-count under threads,
 * keyed placement, eviction that never frees a locked key, and the fail-closed rule when full; and
 * the shared mode (counters in the store, two nodes on one database: SQLite, and PostgreSQL when
 * KEYWARD_TEST_PG names a cluster). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "domain/throttle.h"
#include "store/store.h"
#include "store_backend.h"
#include <sqlite3.h>

#define NOW 1000000
#define WINDOW KW_THROTTLE_WINDOW_MS

/* One attempt on one key that fails; returns acquire's result. */
static enum kw_err fail_once(struct kw_throttle *t, const char *key, int limit, int64_t now, int64_t *wait)
{
    struct kw_throttle_key k = {key, limit, 1};
    enum kw_err err = kw_throttle_acquire(t, &k, 1, now, wait);

    if (err == KW_OK)
        kw_throttle_release(t, &k, 1, KW_THROTTLE_FAILURE, now);
    return err;
}

/* The wait a new attempt on key would get (0 = allowed); the probe itself counts nothing. */
static int64_t wait_of(struct kw_throttle *t, const char *key, int limit, int64_t now)
{
    struct kw_throttle_key k = {key, limit, 0};
    int64_t wait;

    if (kw_throttle_acquire(t, &k, 1, now, &wait) == KW_OK)
        kw_throttle_release(t, &k, 1, KW_THROTTLE_ABORTED, now);
    return wait;
}

static void lock_key(struct kw_throttle *t, const char *key, int limit, int64_t now)
{
    int64_t wait;
    int i;

    for (i = 0; i < limit; i++)
        assert_int_equal(fail_once(t, key, limit, now, &wait), KW_OK);
    assert_true(wait_of(t, key, limit, now) > 890);
}

static void test_limit_and_window(void **state)
{
    struct kw_throttle *t = kw_throttle_new();
    int64_t wait;
    int i;

    assert_non_null(t);
    for (i = 0; i < 4; i++)
        assert_int_equal(fail_once(t, "user:a", 5, NOW + i, &wait), KW_OK);
    assert_int_equal(wait_of(t, "user:a", 5, NOW + 10), 0);
    assert_int_equal(fail_once(t, "user:a", 5, NOW + 10, &wait), KW_OK);
    assert_int_equal(fail_once(t, "user:a", 5, NOW + 20, &wait), KW_ERR_CONFLICT);
    assert_true(wait > 890 && wait <= 900);                     /* ~15 minutes left */
    assert_int_equal(wait_of(t, "user:b", 5, NOW + 20), 0);     /* others unaffected */
    assert_int_equal(wait_of(t, "user:a", 5, NOW + WINDOW), 0); /* window over */
    assert_int_equal(fail_once(t, "user:a", 5, NOW + WINDOW, &wait), KW_OK);
    assert_int_equal(wait_of(t, "user:a", 5, NOW + WINDOW), 0); /* a fresh window: 1 of 5 */
    kw_throttle_free(t);
    kw_throttle_free(NULL);
}

/* A success clears the account's failures; an IP only gets its reservation back. */
static void test_success_forgives_account_only(void **state)
{
    struct kw_throttle *t = kw_throttle_new();
    struct kw_throttle_key ok[2] = {{"user:c", 5, 1}, {"ip:192.0.2.1", 3, 0}};
    int64_t wait;
    int i;

    for (i = 0; i < 2; i++)
        assert_int_equal(fail_once(t, "ip:192.0.2.1", 3, NOW, &wait), KW_OK);
    for (i = 0; i < 4; i++)
        assert_int_equal(fail_once(t, "user:c", 5, NOW, &wait), KW_OK);
    assert_int_equal(kw_throttle_acquire(t, ok, 2, NOW, &wait), KW_OK);
    kw_throttle_release(t, ok, 2, KW_THROTTLE_SUCCESS, NOW);
    for (i = 0; i < 5; i++) /* forgiven: five more tries */
        assert_int_equal(fail_once(t, "user:c", 5, NOW, &wait), KW_OK);
    assert_int_equal(fail_once(t, "ip:192.0.2.1", 3, NOW, &wait), KW_OK); /* 3rd failure: 2 + this */
    assert_int_equal(fail_once(t, "ip:192.0.2.1", 3, NOW, &wait), KW_ERR_CONFLICT);
    kw_throttle_free(t);
}

/* All or none: a locked IP takes no reservation on the account. */
static void test_all_or_none(void **state)
{
    struct kw_throttle *t = kw_throttle_new();
    struct kw_throttle_key both[2] = {{"user:d", 5, 1}, {"ip:198.51.100.7", 2, 0}};
    int64_t wait;
    int i;

    lock_key(t, "ip:198.51.100.7", 2, NOW);
    for (i = 0; i < 10; i++)
        assert_int_equal(kw_throttle_acquire(t, both, 2, NOW, &wait), KW_ERR_CONFLICT);
    assert_true(wait > 890);
    assert_int_equal(wait_of(t, "user:d", 5, NOW), 0);
    assert_int_equal(kw_throttle_acquire(t, both, 0, NOW, &wait), KW_ERR_INVALID);
    both[0].limit = 0;
    assert_int_equal(kw_throttle_acquire(t, both, 1, NOW, &wait), KW_ERR_INVALID);
    kw_throttle_free(t);
}

struct race {
    struct kw_throttle *t;
    pthread_barrier_t start, checked;
    int passed, refused, inflight_wait;
    pthread_mutex_t mu;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    struct kw_throttle_key k = {"user:victim", 5, 1};
    int64_t wait;
    enum kw_err err;

    pthread_barrier_wait(&r->start);
    err = kw_throttle_acquire(r->t, &k, 1, NOW, &wait);
    pthread_mutex_lock(&r->mu);
    r->passed += err == KW_OK;
    r->refused += err == KW_ERR_CONFLICT;
    r->inflight_wait += err == KW_ERR_CONFLICT && wait == 1;
    pthread_mutex_unlock(&r->mu);
    pthread_barrier_wait(&r->checked); /* every password is "checked" only after all have asked */
    if (err == KW_OK)
        kw_throttle_release(r->t, &k, 1, KW_THROTTLE_FAILURE, NOW);
    return NULL;
}

/* Issue 6 item 7: 10 parallel wrong passwords got 10 (e2e: 6) tries before the lock. */
static void test_parallel_attempts_counted_up_front(void **state)
{
    struct race r;
    pthread_t th[10];
    int i;

    memset(&r, 0, sizeof(r));
    r.t = kw_throttle_new();
    pthread_mutex_init(&r.mu, NULL);
    pthread_barrier_init(&r.start, NULL, 10);
    pthread_barrier_init(&r.checked, NULL, 10);
    for (i = 0; i < 10; i++)
        assert_int_equal(pthread_create(&th[i], NULL, racer, &r), 0);
    for (i = 0; i < 10; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(r.passed, 5);
    assert_int_equal(r.refused, 5);
    assert_int_equal(r.inflight_wait, 5);                   /* refused while the 5 were in flight: told 1 s */
    assert_true(wait_of(r.t, "user:victim", 5, NOW) > 890); /* now 5 real failures */
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.checked);
    pthread_mutex_destroy(&r.mu);
    kw_throttle_free(r.t);
}

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Issue 6 item 7: the old table placed keys by public FNV-1a in 4096 slots with a 16-slot probe and
 * evicted the oldest; 16 failures on usernames in the victim's run reset the victim's lock. */
static void test_colliding_usernames_cannot_unlock(void **state)
{
    struct kw_throttle *t = kw_throttle_new();
    uint32_t home = fnv1a("user:victim") % 4096;
    char k[32];
    int64_t wait;
    int i, n;

    lock_key(t, "user:victim", 5, NOW);
    for (i = 0, n = 0; n < 64; i++) {
        snprintf(k, sizeof(k), "user:x%d", i);
        if ((fnv1a(k) - home) % 4096 < 16) { /* lands in the victim's old probe run */
            assert_int_equal(fail_once(t, k, 5, NOW + 1, &wait), KW_OK);
            n++;
        }
    }
    assert_true(wait_of(t, "user:victim", 5, NOW + 2) > 890);
    /* And a flood of unseen keys, far past the old table's size. */
    for (i = 0; i < 20000; i++) {
        snprintf(k, sizeof(k), "ip:10.%d.%d.%d", i / 65536, (i / 256) % 256, i % 256);
        assert_int_equal(fail_once(t, k, 20, NOW + 3, &wait), KW_OK);
    }
    assert_true(wait_of(t, "user:victim", 5, NOW + 4) > 890);
    kw_throttle_free(t);
}

/* A small table under a flood: open entries are evicted (oldest first), locked ones never. */
static void test_eviction_spares_locked(void **state)
{
    struct kw_throttle *t = kw_throttle_new_capped(8);
    char k[32];
    int64_t wait;
    int i;

    assert_non_null(t);
    lock_key(t, "user:victim", 5, NOW);
    for (i = 0; i < 3; i++)
        assert_int_equal(fail_once(t, "user:half", 5, NOW, &wait), KW_OK);
    for (i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "user:flood%d", i);
        assert_int_equal(fail_once(t, k, 5, NOW + 1 + i, &wait), KW_OK);
        assert_true(kw_throttle_size(t) <= 8);
    }
    assert_true(wait_of(t, "user:victim", 5, NOW + 2000) > 890);
    assert_int_equal(kw_throttle_size(t), 8);
    /* user:half (3 of 5, open) was the oldest open entry: evicted. The latest flood key was not. */
    for (i = 0; i < 4; i++)
        assert_int_equal(fail_once(t, "user:flood999", 5, NOW + 2000, &wait), KW_OK);
    assert_int_equal(fail_once(t, "user:flood999", 5, NOW + 2000, &wait), KW_ERR_CONFLICT);
    kw_throttle_free(t);
}

/* Every entry locked: an unseen key is refused (fail closed), known keys keep their own state,
 * and once the windows end the table takes new keys again. */
static void test_full_of_locked_fails_closed(void **state)
{
    struct kw_throttle *t = kw_throttle_new_capped(4);
    struct kw_throttle_key two[2] = {{"user:new", 5, 1}, {"ip:new", 20, 0}};
    int64_t wait;

    lock_key(t, "user:l1", 2, NOW);
    lock_key(t, "user:l2", 2, NOW);
    lock_key(t, "user:l3", 2, NOW);
    assert_int_equal(fail_once(t, "user:open", 5, NOW, &wait), KW_OK); /* the last entry, open */
    /* A two-key attempt evicts user:open for its first key but may not evict that for its second:
     * refused, and nothing of it is kept (user:open stays evicted, as any new key would have done). */
    assert_int_equal(kw_throttle_acquire(t, two, 2, NOW + 1, &wait), KW_ERR_CONFLICT);
    assert_int_equal(wait, KW_THROTTLE_FULL_WAIT_S);
    assert_int_equal(kw_throttle_size(t), 3);
    lock_key(t, "user:l4", 2, NOW + 1); /* takes the entry user:open held */
    assert_int_equal(fail_once(t, "user:unseen", 5, NOW + 2, &wait), KW_ERR_CONFLICT);
    assert_int_equal(wait, KW_THROTTLE_FULL_WAIT_S);
    assert_true(wait_of(t, "user:l1", 2, NOW + 2) > 890);
    assert_int_equal(fail_once(t, "user:unseen", 5, NOW + WINDOW, &wait), KW_OK); /* l1..l3 expired */
    assert_true(wait_of(t, "user:l4", 2, NOW + WINDOW) > 0);                      /* l4 not yet */
    kw_throttle_free(t);
}

/* kw_crypto_siphash, the placement PRF: the reference 128-bit vectors (SipHash paper, key 00..0f). */
static void test_siphash_vectors(void **state)
{
    static const uint8_t v0[16] = {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                   0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
    static const uint8_t v15[16] = {0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11,
                                    0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3, 0xd9};
    uint8_t key[16], msg[15], out[16];
    int i;

    for (i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    assert_int_equal(kw_crypto_siphash(key, msg, 0, out), KW_OK);
    assert_memory_equal(out, v0, 16);
    assert_int_equal(kw_crypto_siphash(key, msg, 15, out), KW_OK);
    assert_memory_equal(out, v15, 16);
}

/* ---- shared: two nodes, each with its own table and store handle, on one database ---- */

static enum test_backend shared_backend;

struct two_nodes {
    struct store_env e;
    struct kw_store *st[2];
    struct kw_throttle *t[2];
};

static void nodes_open(struct two_nodes *n)
{
    int i;

    assert_int_equal(kw_crypto_init(), KW_OK);
    assert_int_equal(tb_env_init(&n->e, shared_backend), 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(tb_open(&n->e, &n->st[i]), KW_OK);
        assert_int_equal(kw_store_migrate(n->st[i], NULL, NULL), KW_OK);
        assert_non_null(n->t[i] = kw_throttle_new());
        kw_throttle_share(n->t[i], n->st[i]);
    }
}

static void nodes_close(struct two_nodes *n)
{
    int i;

    for (i = 0; i < 2; i++) {
        kw_throttle_free(n->t[i]);
        kw_store_free(n->st[i]);
    }
    assert_int_equal(tb_env_cleanup(&n->e), 0);
}

/* Drops the counters table under the nodes, so any store round trip fails from then on. */
static void drop_counters(struct two_nodes *n)
{
    char path[128];
    sqlite3 *db;

    if (n->e.backend == TB_PG) {
        assert_int_equal(tb_pg_exec(n->e.db, "DROP TABLE throttle"), 0);
        return;
    }
    snprintf(path, sizeof(path), "%s/keyward.db", n->e.dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE throttle", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Five failures on node A lock the account on node B too, for the rest of A's window; B then knows it
 * and refuses without a store round trip (the table is gone and B still answers). */
static void test_shared_lockout_holds_on_other_node(void **state)
{
    struct two_nodes n;
    struct kw_throttle_key k = {"user:dora", KW_THROTTLE_ACCOUNT_LIMIT, 1};
    int64_t wait = 0;
    int i;

    nodes_open(&n);
    for (i = 0; i < KW_THROTTLE_ACCOUNT_LIMIT; i++)
        assert_int_equal(fail_once(n.t[0], "user:dora", KW_THROTTLE_ACCOUNT_LIMIT, NOW + i, &wait), KW_OK);
    assert_int_equal(kw_throttle_size(n.t[1]), 0); /* B has counted nothing itself */
    assert_int_equal(kw_throttle_acquire(n.t[1], &k, 1, NOW + 10, &wait), KW_ERR_CONFLICT);
    assert_in_range(wait, WINDOW / 1000 - 1, WINDOW / 1000);
    /* Another account is not affected, on either node. */
    assert_int_equal(wait_of(n.t[1], "user:eric", KW_THROTTLE_ACCOUNT_LIMIT, NOW + 10), 0);
    /* B learnt the lock: with the store gone it still refuses dora, and fails (does not allow) others. */
    drop_counters(&n);
    assert_int_equal(kw_throttle_acquire(n.t[1], &k, 1, NOW + 20, &wait), KW_ERR_CONFLICT);
    assert_in_range(wait, WINDOW / 1000 - 1, WINDOW / 1000);
    k.key = "user:fred";
    assert_int_equal(kw_throttle_acquire(n.t[1], &k, 1, NOW + 20, &wait), KW_ERR_STORE);
    nodes_close(&n);
}

/* A success on B forgives A's failures on the account, as on one node. */
static void test_shared_success_forgives(void **state)
{
    struct two_nodes n;
    struct kw_throttle_key k = {"user:gus", 3, 1};
    int64_t wait = 0;

    nodes_open(&n);
    assert_int_equal(fail_once(n.t[0], "user:gus", 3, NOW, &wait), KW_OK);
    assert_int_equal(fail_once(n.t[0], "user:gus", 3, NOW, &wait), KW_OK);
    assert_int_equal(kw_throttle_acquire(n.t[1], &k, 1, NOW, &wait), KW_OK);
    kw_throttle_release(n.t[1], &k, 1, KW_THROTTLE_SUCCESS, NOW);
    assert_int_equal(fail_once(n.t[0], "user:gus", 3, NOW, &wait), KW_OK);
    assert_int_equal(fail_once(n.t[1], "user:gus", 3, NOW, &wait), KW_OK);
    assert_int_equal(wait_of(n.t[0], "user:gus", 3, NOW), 0); /* 2 failures since the success */
    nodes_close(&n);
}

struct shared_racer {
    struct kw_throttle *t;
    enum kw_err err;
};

static void *shared_race(void *arg)
{
    struct shared_racer *r = arg;
    struct kw_throttle_key k = {"user:hal", KW_THROTTLE_ACCOUNT_LIMIT, 1};
    int64_t wait;

    r->err = kw_throttle_acquire(r->t, &k, 1, NOW, &wait);
    return NULL;
}

/* 12 attempts in parallel over both nodes, none settled yet: exactly the limit are let through. */
static void test_shared_parallel_counted_up_front(void **state)
{
    struct two_nodes n;
    struct shared_racer r[12];
    pthread_t th[12];
    struct kw_throttle_key k = {"user:hal", KW_THROTTLE_ACCOUNT_LIMIT, 1};
    int i, ok = 0, locked = 0;
    int64_t wait = 0;

    nodes_open(&n);
    for (i = 0; i < 12; i++) {
        r[i] = (struct shared_racer){n.t[i % 2], KW_OK};
        assert_int_equal(pthread_create(&th[i], NULL, shared_race, &r[i]), 0);
    }
    for (i = 0; i < 12; i++) {
        pthread_join(th[i], NULL);
        ok += r[i].err == KW_OK;
        locked += r[i].err == KW_ERR_CONFLICT;
    }
    assert_int_equal(ok, KW_THROTTLE_ACCOUNT_LIMIT);
    assert_int_equal(locked, 12 - KW_THROTTLE_ACCOUNT_LIMIT);
    for (i = 0; i < 12; i++)
        if (r[i].err == KW_OK)
            kw_throttle_release(r[i].t, &k, 1, KW_THROTTLE_FAILURE, NOW);
    assert_int_equal(kw_throttle_acquire(n.t[0], &k, 1, NOW + 1, &wait), KW_ERR_CONFLICT);
    assert_true(wait > 800);
    nodes_close(&n);
}

static int shared_sqlite(void **state)
{
    shared_backend = TB_SQLITE;
    return 0;
}

static int shared_pg(void **state)
{
    shared_backend = TB_PG;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_window),
        cmocka_unit_test(test_success_forgives_account_only),
        cmocka_unit_test(test_all_or_none),
        cmocka_unit_test(test_parallel_attempts_counted_up_front),
        cmocka_unit_test(test_colliding_usernames_cannot_unlock),
        cmocka_unit_test(test_eviction_spares_locked),
        cmocka_unit_test(test_full_of_locked_fails_closed),
        cmocka_unit_test(test_siphash_vectors),
    };
    const struct CMUnitTest shared[] = {
        cmocka_unit_test(test_shared_lockout_holds_on_other_node),
        cmocka_unit_test(test_shared_success_forgives),
        cmocka_unit_test(test_shared_parallel_counted_up_front),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);

    failed += cmocka_run_group_tests_name("shared on sqlite", shared, shared_sqlite, NULL);
    if (tb_pg_admin() == NULL) {
        printf("shared on PostgreSQL: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("shared on postgresql", shared, shared_pg, NULL);
}
