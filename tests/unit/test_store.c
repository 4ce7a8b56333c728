/* test_store.c - the store contract (store.h) against the SQLite backend, plus the audit chain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "domain/audit.h"
#include "store/store.h"

struct fixture {
    char dir[64];
    struct kw_store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int applied = -1, version = -1;

    snprintf(f->dir, sizeof(f->dir), "/tmp/kwstoreXXXXXX");
    if (mkdtemp(f->dir) == NULL || kw_crypto_init() != KW_OK)
        return -1;
    if (kw_store_open("sqlite", f->dir, &f->st) != KW_OK || kw_store_migrate(f->st, &applied, &version) != KW_OK)
        return -1;
    if (applied < 1 || version < 1)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    kw_store_free(f->st);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void mk_service(struct kw_store *st, struct kw_service *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(kw_id_new("svc", s->id), KW_OK);
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->key_prefix, sizeof(s->key_prefix), "kw");
    s->created_at = s->updated_at = 1000;
    assert_int_equal(kw_store_service_insert(st, s), KW_OK);
    assert_true(s->seq > 0);
}

static void mk_key(struct kw_store *st, struct kw_key *k, const char *service_id, int n)
{
    memset(k, 0, sizeof(*k));
    assert_int_equal(kw_id_new("key", k->id), KW_OK);
    snprintf(k->service_id, sizeof(k->service_id), "%s", service_id);
    k->hash[0] = (uint8_t)n;
    k->hash[1] = (uint8_t)(n >> 8);
    k->hash[31] = 0xAB;
    snprintf(k->start, sizeof(k->start), "kw_%04d", n);
    k->enabled = 1;
    k->archive_after_extract_s = -1;
    k->created_at = k->updated_at = 2000 + n;
    assert_int_equal(kw_store_key_insert(st, k), KW_OK);
}

static void test_migrate_again_and_meta(void **state)
{
    struct fixture *f = *state;
    int applied = -1, version = 0;
    char small[4], v[64];

    assert_int_equal(kw_store_migrate(f->st, &applied, &version), KW_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(kw_store_schema_version(f->st, &version), KW_OK);
    assert_true(version >= 1);
    assert_int_equal(kw_store_meta_get(f->st, "x", v, sizeof(v)), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_store_meta_set(f->st, "x", "hello"), KW_OK);
    assert_int_equal(kw_store_meta_set(f->st, "x", "world"), KW_OK);
    assert_int_equal(kw_store_meta_get(f->st, "x", v, sizeof(v)), KW_OK);
    assert_string_equal(v, "world");
    assert_int_equal(kw_store_meta_get(f->st, "x", small, sizeof(small)), KW_ERR_TOO_LARGE);
}

static void test_services(void **state)
{
    struct fixture *f = *state;
    struct kw_service s[5], got, page[3];
    size_t n = 0;
    int i;

    for (i = 0; i < 5; i++)
        mk_service(f->st, &s[i], "svc");
    assert_int_equal(kw_store_service_list(f->st, 0, page, 3, &n), KW_OK);
    assert_int_equal(n, 3);
    assert_string_equal(page[0].id, s[0].id);
    assert_int_equal(kw_store_service_list(f->st, page[2].seq, page, 3, &n), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(page[1].id, s[4].id);
    snprintf(s[1].name, sizeof(s[1].name), "renamed");
    snprintf(s[1].description, sizeof(s[1].description), "d");
    snprintf(s[1].key_prefix, sizeof(s[1].key_prefix), "acme");
    s[1].updated_at = 5000;
    assert_int_equal(kw_store_service_update(f->st, &s[1]), KW_OK);
    assert_int_equal(kw_store_service_get(f->st, s[1].id, &got), KW_OK);
    assert_string_equal(got.name, "renamed");
    assert_string_equal(got.key_prefix, "acme");
    assert_int_equal(got.updated_at, 5000);
    assert_int_equal(kw_store_service_get(f->st, "svc_nope", &got), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_store_service_delete(f->st, "svc_nope"), KW_ERR_NOT_FOUND);
}

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

static void test_keys(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, t;
    struct kw_key k[4], got, dup, page[2];
    struct count c = {0, 0, 1};
    int64_t live = 0;
    size_t n;
    int i;

    mk_service(f->st, &s, "a");
    mk_service(f->st, &t, "b");
    for (i = 0; i < 3; i++)
        mk_key(f->st, &k[i], s.id, i + 1);
    mk_key(f->st, &k[3], t.id, 9);
    dup = k[0];
    assert_int_equal(kw_id_new("key", dup.id), KW_OK);
    assert_int_equal(kw_store_key_insert(f->st, &dup), KW_ERR_EXISTS); /* same hash */

    assert_int_equal(kw_store_key_list(f->st, s.id, 0, page, 2, &n), KW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(kw_store_key_list(f->st, s.id, page[1].seq, page, 2, &n), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, k[2].id);

    /* Every mutable column round-trips. */
    snprintf(k[1].description, sizeof(k[1].description), "changed");
    k[1].scope = 2;
    k[1].perms = 0x11;
    k[1].enabled = 0;
    k[1].updated_at = 7;
    k[1].expires_at = 8;
    k[1].revoked_at = 9;
    k[1].archive_after_extract_s = 3600;
    assert_int_equal(kw_store_key_update(f->st, &k[1]), KW_OK);
    assert_int_equal(kw_store_key_get(f->st, k[1].id, &got), KW_OK);
    assert_string_equal(got.description, "changed");
    assert_int_equal(got.scope, 2);
    assert_int_equal(got.perms, 0x11);
    assert_int_equal(got.enabled, 0);
    assert_int_equal(got.expires_at, 8);
    assert_int_equal(got.revoked_at, 9);
    assert_int_equal(got.archive_after_extract_s, 3600);
    assert_memory_equal(got.hash, k[1].hash, KW_HASH_LEN);

    assert_int_equal(kw_store_key_touch(f->st, k[0].id, 12345, "10.1.2.3"), KW_OK);
    assert_int_equal(kw_store_key_touch(f->st, "key_missing", 1, "x"), KW_OK);
    assert_int_equal(kw_store_key_get(f->st, k[0].id, &got), KW_OK);
    assert_int_equal(got.last_used_at, 12345);
    assert_string_equal(got.last_used_ip, "10.1.2.3");

    k[2].expires_at = 100; /* expired at now = 1000 */
    assert_int_equal(kw_store_key_update(f->st, &k[2]), KW_OK);
    assert_int_equal(kw_store_service_live_keys(f->st, s.id, 1000, &live), KW_OK);
    assert_int_equal(live, 1); /* k0 only: k1 revoked, k2 expired */

    assert_int_equal(kw_store_usage_add(f->st, k[0].id, s.id, 60000, 3, 1), KW_OK);
    assert_int_equal(kw_store_usage_add(f->st, k[0].id, s.id, 60000, 2, 0), KW_OK);

    assert_int_equal(kw_store_key_each(f->st, count_key, &c), KW_OK);
    assert_true(c.n >= 4);
    assert_true(c.ordered);

    assert_int_equal(kw_store_key_delete(f->st, k[0].id), KW_OK);
    assert_int_equal(kw_store_key_delete(f->st, k[0].id), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_store_service_delete(f->st, s.id), KW_OK); /* takes its keys along */
    assert_int_equal(kw_store_key_get(f->st, k[1].id, &got), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_store_key_get(f->st, k[3].id, &got), KW_OK);
}

static void test_transactions_persist(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, got;
    int applied;

    assert_int_equal(kw_store_begin(f->st), KW_OK);
    mk_service(f->st, &s, "rolled back");
    kw_store_rollback(f->st);
    assert_int_equal(kw_store_service_get(f->st, s.id, &got), KW_ERR_NOT_FOUND);

    assert_int_equal(kw_store_begin(f->st), KW_OK);
    mk_service(f->st, &s, "kept");
    assert_int_equal(kw_store_commit(f->st), KW_OK);
    kw_store_free(f->st);
    assert_int_equal(kw_store_open("sqlite", f->dir, &f->st), KW_OK);
    assert_int_equal(kw_store_migrate(f->st, &applied, NULL), KW_OK);
    assert_int_equal(kw_store_service_get(f->st, s.id, &got), KW_OK);
    assert_string_equal(got.name, "kept");
}

static void *writer_thread(void *arg)
{
    struct kw_store *st = arg;
    struct kw_service s;
    int i;

    for (i = 0; i < 50; i++) {
        if (kw_store_begin(st) != KW_OK)
            return (void *)1;
        memset(&s, 0, sizeof(s));
        kw_id_new("svc", s.id);
        snprintf(s.key_prefix, sizeof(s.key_prefix), "kw");
        if (kw_store_service_insert(st, &s) != KW_OK) {
            kw_store_rollback(st);
            return (void *)1;
        }
        if (kw_store_commit(st) != KW_OK)
            return (void *)1;
    }
    return NULL;
}

static void test_two_threads(void **state)
{
    struct fixture *f = *state;
    struct kw_service *items = calloc(200, sizeof(*items));
    pthread_t a, b;
    void *ra, *rb;
    size_t n = 0;

    pthread_create(&a, NULL, writer_thread, f->st);
    pthread_create(&b, NULL, writer_thread, f->st);
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    assert_null(ra);
    assert_null(rb);
    assert_int_equal(kw_store_service_list(f->st, 0, items, 200, &n), KW_OK);
    assert_int_equal(n, 100);
    free(items);
}

static void test_audit_chain_and_tamper(void **state)
{
    struct fixture *f = *state;
    struct kw_audit_event ev[5], got[10];
    struct kw_audit_filter filter;
    int64_t checked = 0, broken = -1;
    char path[128];
    sqlite3 *db;
    size_t n = 0;
    int i;

    for (i = 0; i < 5; i++)
        kw_audit_event_init(&ev[i], "root", i == 4 ? "other" : "root", i < 3 ? "key.create" : "service.delete",
                            "key", "key_x", "svc_y", "success");
    assert_int_equal(kw_store_begin(f->st), KW_OK);
    assert_int_equal(kw_audit_chain(f->st, ev, 5), KW_OK);
    assert_int_equal(kw_store_commit(f->st), KW_OK);
    assert_int_equal(ev[4].seq, 5);
    assert_memory_equal(ev[1].prev_hash, ev[0].hash, KW_HASH_LEN);
    assert_int_equal(kw_audit_verify(f->st, &checked, &broken), KW_OK);
    assert_int_equal(checked, 5);
    assert_int_equal(broken, 0);

    memset(&filter, 0, sizeof(filter));
    filter.action = "key.*";
    assert_int_equal(kw_store_audit_list(f->st, &filter, got, 10, &n), KW_OK);
    assert_int_equal(n, 3);
    assert_int_equal(got[0].seq, 3); /* newest first */
    filter.action = NULL;
    filter.actor_id = "other";
    assert_int_equal(kw_store_audit_list(f->st, &filter, got, 10, &n), KW_OK);
    assert_int_equal(n, 1);
    filter.actor_id = NULL;
    filter.before_seq = 3;
    assert_int_equal(kw_store_audit_list(f->st, &filter, got, 10, &n), KW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].seq, 2);

    snprintf(path, sizeof(path), "%s/keyward.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE audit SET detail = '{\"x\":1}' WHERE seq = 2", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(kw_audit_verify(f->st, &checked, &broken), KW_OK);
    assert_int_equal(broken, 2);
}

static void test_relaxed_handle(void **state)
{
    struct fixture *f = *state;
    struct kw_store *wb = NULL;
    struct kw_service s, got;
    struct kw_audit_event a, b;
    int64_t checked = 0, broken = -1;

    assert_int_equal(kw_store_open_relaxed(f->st, &wb), KW_OK);
    assert_non_null(wb);
    assert_int_equal(kw_store_begin(wb), KW_OK);
    mk_service(wb, &s, "written behind");
    assert_int_equal(kw_store_commit(wb), KW_OK);
    assert_int_equal(kw_store_service_get(f->st, s.id, &got), KW_OK);
    /* One chain across both handles: each append reads the head inside its own transaction. */
    kw_audit_event_init(&a, "root", "root", "service.create", "service", s.id, s.id, "success");
    kw_audit_event_init(&b, "key", "key_x", "key.verify", NULL, NULL, NULL, "success");
    assert_int_equal(kw_store_begin(f->st), KW_OK);
    assert_int_equal(kw_audit_chain(f->st, &a, 1), KW_OK);
    assert_int_equal(kw_store_commit(f->st), KW_OK);
    assert_int_equal(kw_store_begin(wb), KW_OK);
    assert_int_equal(kw_audit_chain(wb, &b, 1), KW_OK);
    assert_int_equal(kw_store_commit(wb), KW_OK);
    assert_int_equal(b.seq, a.seq + 1);
    assert_int_equal(kw_audit_verify(f->st, &checked, &broken), KW_OK);
    assert_int_equal(broken, 0);
    kw_store_free(wb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_again_and_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_chain_and_tamper, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relaxed_handle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
