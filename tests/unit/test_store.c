/* test_store.c - the store contract (store.h), run against the SQLite backend and, when
 * KEYWARD_TEST_PG names a cluster (scripts/test starts one), the PostgreSQL backend: every behavioural
 * test runs on both, each in a fresh database; tests of SQLite's files stay SQLite-only. The audit
 * chain has its own test (test_audit.c); PostgreSQL's pool and connection handling, test_store_pg.c. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "domain/audit.h"
#include "store/store.h"
#include "store_auto.h"

#include "store_fixture.h"

/* Runs one statement on the database through a separate raw connection. */
static void raw_exec(const struct fixture *f, const char *sql)
{
    char path[128];
    sqlite3 *db;

    if (f->e.backend == TB_PG) {
        assert_int_equal(tb_pg_exec(f->e.db, sql), 0);
        return;
    }
    snprintf(path, sizeof(path), "%s/keyward.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_open_layout(void **state)
{
    struct fixture *f = *state;
    struct kw_store *st = NULL;
    char nested[160], path[200];
    struct stat sb;

    assert_int_equal(kw_store_open("mysql://u:secret@h/db", f->dir, &st), KW_ERR_INVALID);
    assert_null(st);
    assert_int_equal(kw_store_open("mysql", f->dir, &st), KW_ERR_INVALID);
    assert_int_equal(kw_store_open(NULL, f->dir, &st), KW_ERR_INVALID);

    /* mkdir -p: every missing directory created owner-only; the db file 0600. */
    snprintf(nested, sizeof(nested), "%s/a/b/c", f->dir);
    assert_int_equal(kw_store_open("sqlite", nested, &st), KW_OK);
    assert_int_equal(kw_store_migrate(st, NULL, NULL), KW_OK);
    assert_int_equal(stat(nested, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/a", f->dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/keyward.db", nested);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(path, sizeof(path), "%s/keyward.db-wal", nested);
    assert_int_equal(stat(path, &sb), 0); /* WAL mode */
    assert_int_equal(sb.st_mode & 0077, 0);
    kw_store_free(st);
    kw_store_free(NULL);

    /* A data dir that is a file is refused. */
    snprintf(path, sizeof(path), "%s/keyward.db", nested);
    assert_int_equal(kw_store_open("sqlite", path, &st), KW_ERR_IO);
    assert_null(st);
}

static void test_migrate_again_and_meta(void **state)
{
    struct fixture *f = *state;
    int applied = -1, version = 0, v2 = 0;
    char small[4], v[64], big[200];

    assert_int_equal(kw_store_migrate(f->st, &applied, &version), KW_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(kw_store_schema_version(f->st, &v2), KW_OK);
    assert_true(version >= 2);
    assert_int_equal(v2, version);
    /* Reopen: still nothing to apply. */
    kw_store_free(f->st);
    assert_int_equal(tb_open(&f->e, &f->st), KW_OK);
    assert_int_equal(kw_store_migrate(f->st, &applied, &v2), KW_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(v2, version);

    assert_int_equal(AUTO(f->st, kw_store_meta_get(tx_, "x", v, sizeof(v))), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_meta_set(tx_, "x", "hello")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_meta_set(tx_, "x", "world")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_meta_get(tx_, "x", v, sizeof(v))), KW_OK);
    assert_string_equal(v, "world");
    assert_int_equal(AUTO(f->st, kw_store_meta_get(tx_, "x", small, sizeof(small))), KW_ERR_TOO_LARGE);
    assert_int_equal(AUTO(f->st, kw_store_meta_get(tx_, "x", v, 6)), KW_OK); /* exactly fits with its NUL */
    assert_int_equal(AUTO(f->st, kw_store_meta_get(tx_, "x", v, 5)), KW_ERR_TOO_LARGE);
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(AUTO(f->st, kw_store_meta_set(tx_, "big", big)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_meta_get(tx_, "big", v, sizeof(v))), KW_ERR_TOO_LARGE);
}

static void test_fresh_schema_version(void **state)
{
    struct fixture *f = *state;
    struct kw_store *st = NULL;
    struct store_env fresh;
    int version = -1, applied = -1;

    (void)f;
    assert_int_equal(tb_env_init(&fresh, backend), 0);
    assert_int_equal(tb_open(&fresh, &st), KW_OK);
    assert_int_equal(kw_store_schema_version(st, &version), KW_OK);
    assert_int_equal(version, 0);
    assert_int_equal(kw_store_migrate(st, &applied, &version), KW_OK);
    assert_true(applied >= 2);
    assert_true(version >= 2);
    kw_store_free(st);
    assert_int_equal(tb_env_cleanup(&fresh), 0);
}

static void test_services(void **state)
{
    struct fixture *f = *state;
    struct kw_service s[5], got, page[3];
    size_t n = 0;
    int i;

    for (i = 0; i < 5; i++)
        mk_service(f->st, &s[i], "svc");
    assert_int_equal(AUTO(f->st, kw_store_service_insert(tx_, &s[0])), KW_ERR_EXISTS); /* same id */
    assert_int_equal(AUTO(f->st, kw_store_service_list(tx_, 0, page, 3, &n)), KW_OK);
    assert_int_equal(n, 3);
    assert_string_equal(page[0].id, s[0].id);
    assert_int_equal(AUTO(f->st, kw_store_service_list(tx_, page[2].seq, page, 3, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(page[1].id, s[4].id);
    assert_int_equal(AUTO(f->st, kw_store_service_list(tx_, s[4].seq, page, 3, &n)), KW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(AUTO(f->st, kw_store_service_list(tx_, 0, page, 1, &n)), KW_OK); /* cap honoured */
    assert_int_equal(n, 1);

    snprintf(s[1].name, sizeof(s[1].name), "renamed");
    snprintf(s[1].description, sizeof(s[1].description), "d");
    snprintf(s[1].key_prefix, sizeof(s[1].key_prefix), "acme");
    s[1].updated_at = 5000;
    assert_int_equal(AUTO(f->st, kw_store_service_update(tx_, &s[1])), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s[1].id, &got)), KW_OK);
    assert_int_equal(got.seq, s[1].seq);
    assert_string_equal(got.name, "renamed");
    assert_string_equal(got.description, "d");
    assert_string_equal(got.key_prefix, "acme");
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.updated_at, 5000);
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, "svc_nope", &got)), KW_ERR_NOT_FOUND);
    snprintf(got.id, sizeof(got.id), "svc_nope");
    assert_int_equal(AUTO(f->st, kw_store_service_update(tx_, &got)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_service_delete(tx_, "svc_nope", 1)), KW_ERR_NOT_FOUND);
}

/* Text longer than a record field (written by another tool) comes back truncated and terminated. */
static void test_text_truncation(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, got;
    char sql[256];

    mk_service(f->st, &s, "short");
    if (f->e.backend == TB_PG)
        snprintf(sql, sizeof(sql), "UPDATE services SET name = repeat('n', 300), key_prefix = repeat('p', 40) "
                                   "WHERE id = '%s'", s.id);
    else
        snprintf(sql, sizeof(sql),
                 "UPDATE services SET name = printf('%%.300c', 'n'), key_prefix = "
                 "printf('%%.40c', 'p') WHERE id = '%s'",
                 s.id);
    raw_exec(f, sql);
    memset(&got, 0x7f, sizeof(got));
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_OK);
    assert_int_equal(strlen(got.name), KW_NAME_MAX - 1);
    assert_int_equal(strlen(got.key_prefix), KW_PREFIX_MAX - 1);
    assert_int_equal(got.name[0], 'n');
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

static int stop_at_two(void *ctx, const struct kw_key *k)
{
    (void)k;
    return ++*(int *)ctx == 2;
}

static void test_keys_basic(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, t;
    struct kw_key k[4], got, dup, page[4];
    struct count c = {0, 0, 1};
    size_t n;
    int i, calls = 0;

    mk_service(f->st, &s, "a");
    mk_service(f->st, &t, "b");
    for (i = 0; i < 3; i++)
        mk_key(f->st, &k[i], s.id, i + 1);
    mk_key(f->st, &k[3], t.id, 9);
    dup = k[0];
    assert_int_equal(kw_id_new("key", dup.id), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_insert(tx_, &dup)), KW_ERR_EXISTS); /* same hash */
    dup = k[0];
    dup.hash[5] = 0x55;
    assert_int_equal(AUTO(f->st, kw_store_key_insert(tx_, &dup)), KW_ERR_EXISTS); /* same id */
    dup.hash[5] = 0x56;
    assert_int_equal(kw_id_new("key", dup.id), KW_OK);
    snprintf(dup.service_id, sizeof(dup.service_id), "svc_missing");
    assert_int_not_equal(AUTO(f->st, kw_store_key_insert(tx_, &dup)), KW_OK); /* foreign key */

    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k[0].id, &got)), KW_OK);
    assert_memory_equal(&got, &k[0], sizeof(got)); /* every field round-trips */

    assert_int_equal(AUTO(f->st, kw_store_key_list(tx_, s.id, 0, page, 2, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(page[0].id, k[0].id);
    assert_int_equal(AUTO(f->st, kw_store_key_list(tx_, s.id, page[1].seq, page, 2, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, k[2].id);
    assert_int_equal(AUTO(f->st, kw_store_key_list(tx_, t.id, 0, page, 4, &n)), KW_OK); /* per service */
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, k[3].id);
    assert_int_equal(AUTO(f->st, kw_store_key_list(tx_, "svc_none", 0, page, 4, &n)), KW_OK);
    assert_int_equal(n, 0);

    assert_int_equal(AUTO(f->st, kw_store_key_each(tx_, count_key, &c)), KW_OK);
    assert_int_equal(c.n, 4);
    assert_true(c.ordered);
    assert_int_equal(AUTO(f->st, kw_store_key_each(tx_, stop_at_two, &calls)), KW_ERR_INTERNAL);
    assert_int_equal(calls, 2);

    assert_int_equal(AUTO(f->st, kw_store_key_delete(tx_, k[0].id, 1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_delete(tx_, k[0].id, 1)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k[0].id, &got)), KW_ERR_NOT_FOUND);
}

static void test_key_update_touch_live(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_key k[4], got, want;
    int64_t live = -1;

    mk_service(f->st, &s, "a");
    mk_key(f->st, &k[0], s.id, 1);
    mk_key(f->st, &k[1], s.id, 2);
    mk_key(f->st, &k[2], s.id, 3);
    mk_key(f->st, &k[3], s.id, 4);

    /* Every mutable column round-trips; the others are left alone. */
    want = k[1];
    snprintf(want.description, sizeof(want.description), "changed");
    want.scope = 2;
    want.perms = 0x11;
    want.enabled = 0;
    want.updated_at = 7;
    want.expires_at = 8;
    want.revoked_at = 9;
    want.archive_after_extract_s = 3600;
    got = want;
    got.hash[0] ^= 1; /* immutable: must not be written */
    snprintf(got.start, sizeof(got.start), "other");
    got.last_used_at = 99;
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &got)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k[1].id, &got)), KW_OK);
    assert_memory_equal(&got, &want, sizeof(got));
    snprintf(got.id, sizeof(got.id), "key_missing");
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &got)), KW_ERR_NOT_FOUND);

    assert_int_equal(AUTO(f->st, kw_store_key_touch(tx_, k[0].id, 12345, "10.1.2.3")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_touch(tx_, "key_missing", 1, "x")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k[0].id, &got)), KW_OK);
    assert_int_equal(got.last_used_at, 12345);
    assert_string_equal(got.last_used_ip, "10.1.2.3");
    assert_int_equal(AUTO(f->st, kw_store_key_touch(tx_, k[0].id, 12000, "10.9.9.9")), KW_OK); /* older: time kept */
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k[0].id, &got)), KW_OK);
    assert_int_equal(got.last_used_at, 12345);

    /* live = not revoked and not expired at now; disabled keys still count. */
    k[2].expires_at = 1000; /* expired at now = 1000 (expiry is exclusive) */
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &k[2])), KW_OK);
    k[3].enabled = 0;
    k[3].expires_at = 1001;
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &k[3])), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_live_keys(tx_, s.id, 1000, &live)), KW_OK);
    assert_int_equal(live, 2); /* k0, k3; k1 revoked, k2 expired */
    assert_int_equal(AUTO(f->st, kw_store_service_live_keys(tx_, s.id, 2000, &live)), KW_OK);
    assert_int_equal(live, 1);
    assert_int_equal(AUTO(f->st, kw_store_service_live_keys(tx_, "svc_none", 0, &live)), KW_OK);
    assert_int_equal(live, 0);
}

static void test_usage_and_cascade(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, t, got;
    struct kw_key a, b, other, kg;
    struct kw_usage_point pts[8];
    struct kw_member m;
    struct kw_user u;
    size_t n = 0;

    mk_service(f->st, &s, "a");
    mk_service(f->st, &t, "b");
    mk_key(f->st, &a, s.id, 1);
    mk_key(f->st, &b, s.id, 2);
    mk_key(f->st, &other, t.id, 3);
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, a.id, s.id, 60000, 3, 1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, a.id, s.id, 60000, 2, 0)), KW_OK);   /* same minute: adds */
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, a.id, s.id, 120000, 1, 1)), KW_OK);  /* same hour */
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, b.id, s.id, 3600000, 4, 0)), KW_OK); /* next hour */
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, other.id, t.id, 60000, 9, 9)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_usage_list(tx_, s.id, 0, pts, 8, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(pts[0].key_id, a.id);
    assert_int_equal(pts[0].minute, 0);
    assert_int_equal(pts[0].valid, 6);
    assert_int_equal(pts[0].denied, 2);
    assert_string_equal(pts[1].key_id, b.id);
    assert_int_equal(pts[1].minute, 3600000);
    assert_int_equal(pts[1].valid, 4);
    assert_int_equal(AUTO(f->st, kw_store_usage_list(tx_, s.id, 3600000, pts, 8, &n)), KW_OK);
    assert_int_equal(n, 1);

    /* Deleting a service takes its keys, usage and members along, and nothing else. */
    memset(&m, 0, sizeof(m));
    snprintf(m.service_id, sizeof(m.service_id), "%s", s.id);
    snprintf(m.username, sizeof(m.username), "alice");
    snprintf(m.role, sizeof(m.role), "viewer");
    memset(&u, 0, sizeof(u));
    snprintf(u.username, sizeof(u.username), "alice");
    snprintf(u.password_hash, sizeof(u.password_hash), "$argon2id$x");
    snprintf(u.role, sizeof(u.role), "user");
    assert_int_equal(AUTO(f->st, kw_store_user_insert(tx_, &u)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_member_insert(tx_, &m)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_delete(tx_, s.id, 1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, a.id, &kg)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, b.id, &kg)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_usage_list(tx_, s.id, 0, pts, 8, &n)), KW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(AUTO(f->st, kw_store_member_get(tx_, s.id, "alice", &m)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, other.id, &kg)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_usage_list(tx_, t.id, 0, pts, 8, &n)), KW_OK);
    assert_int_equal(n, 1);
}

/* The cascade is one unit: inside a caller's transaction, a rollback brings all of it back. */
static void test_delete_inside_rollback(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, got;
    struct kw_key k, kg;
    struct kw_usage_point pts[2];
    size_t n = 0;

    mk_service(f->st, &s, "a");
    mk_key(f->st, &k, s.id, 1);
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, k.id, s.id, 0, 1, 0)), KW_OK);
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_delete(tx_, s.id, 1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_ERR_NOT_FOUND); /* seen inside */
    trollback();
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k.id, &kg)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_usage_list(tx_, s.id, 0, pts, 2, &n)), KW_OK);
    assert_int_equal(n, 1);
    /* A failing delete inside a transaction leaves the transaction usable. */
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_delete(tx_, "svc_nope", 1)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_key_delete(tx_, k.id, 1)), KW_OK);
    assert_int_equal(tcommit(), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k.id, &kg)), KW_ERR_NOT_FOUND);
}

static void test_transactions_persist(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, got;
    int applied;

    assert_int_equal(tbegin(f->st), KW_OK);
    mk_service(f->st, &s, "rolled back");
    trollback();
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_ERR_NOT_FOUND);

    assert_int_equal(tbegin(f->st), KW_OK);
    mk_service(f->st, &s, "kept");
    assert_int_equal(tcommit(), KW_OK);
    kw_store_free(f->st);
    assert_int_equal(tb_open(&f->e, &f->st), KW_OK);
    assert_int_equal(kw_store_migrate(f->st, &applied, NULL), KW_OK);
    assert_int_equal(applied, 0);
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_OK);
    assert_string_equal(got.name, "kept");
}

/* 1 if needle occurs in the file's bytes. */
static int file_contains(const char *path, const void *needle, size_t len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long size;
    int found = 0;

    if (fp == NULL)
        return 0;
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    if (buf != NULL && fread(buf, 1, (size_t)size, fp) == (size_t)size)
        found = memmem(buf, (size_t)size, needle, len) != NULL;
    free(buf);
    fclose(fp);
    return found;
}

/* The store only ever sees the SHA-256 of a secret: its text is in neither the db nor the WAL. */
static void test_secret_never_stored(void **state)
{
    struct fixture *f = *state;
    static const char secret[] = "kw_SecretDoNotStore0123456789abcdefghijABCDEFGHIJKL7x9Qz1";
    struct kw_service s;
    struct kw_key k, got;
    struct kw_audit_event ev;
    char db[128], wal[128];

    mk_service(f->st, &s, "a");
    memset(&k, 0, sizeof(k));
    assert_int_equal(kw_id_new("key", k.id), KW_OK);
    snprintf(k.service_id, sizeof(k.service_id), "%s", s.id);
    assert_int_equal(kw_crypto_sha256(secret, strlen(secret), k.hash), KW_OK);
    snprintf(k.start, sizeof(k.start), "kw_Secr");
    assert_int_equal(AUTO(f->st, kw_store_key_insert(tx_, &k)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k.id, &got)), KW_OK);
    assert_memory_equal(got.hash, k.hash, KW_HASH_LEN);
    kw_audit_event_init(&ev, "key", k.id, "key.create", "key", k.id, s.id, "success");
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(kw_audit_chain(open_tx, &ev, 1), KW_OK);
    assert_int_equal(tcommit(), KW_OK);

    snprintf(db, sizeof(db), "%s/keyward.db", f->dir);
    snprintf(wal, sizeof(wal), "%s/keyward.db-wal", f->dir);
    /* The grep works: the hash and the id are found... */
    assert_true(file_contains(db, k.hash, KW_HASH_LEN) || file_contains(wal, k.hash, KW_HASH_LEN));
    assert_true(file_contains(db, k.id, strlen(k.id)) || file_contains(wal, k.id, strlen(k.id)));
    /* ...and the secret, or any tail of it past the displayed start, is not. */
    assert_false(file_contains(db, secret, strlen(secret)));
    assert_false(file_contains(wal, secret, strlen(secret)));
    assert_false(file_contains(db, secret + 7, 20));
    assert_false(file_contains(wal, secret + 7, 20));
    kw_store_free(f->st); /* checkpoint into the main file; look again */
    f->st = NULL;
    assert_false(file_contains(db, secret + 7, 20));
    assert_true(file_contains(db, k.hash, KW_HASH_LEN));
    assert_int_equal(kw_store_open("sqlite", f->dir, &f->st), KW_OK);
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
    assert_int_equal(tbegin(wb), KW_OK);
    mk_service(wb, &s, "written behind");
    assert_int_equal(tcommit(), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_OK);
    /* One chain across both handles: each append reads the head inside its own transaction. */
    kw_audit_event_init(&a, "root", "root", "service.create", "service", s.id, s.id, "success");
    kw_audit_event_init(&b, "key", "key_x", "key.verify", NULL, NULL, NULL, "success");
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(kw_audit_chain(open_tx, &a, 1), KW_OK);
    assert_int_equal(tcommit(), KW_OK);
    assert_int_equal(tbegin(wb), KW_OK);
    assert_int_equal(kw_audit_chain(open_tx, &b, 1), KW_OK);
    assert_int_equal(tcommit(), KW_OK);
    assert_int_equal(b.seq, a.seq + 1);
    assert_int_equal(kw_audit_verify(f->st, &checked, &broken), KW_OK);
    assert_int_equal(broken, 0);
    kw_store_free(wb);
}

/* Versions only grow, across services and kinds of change; a delete leaves a tombstone carrying the
 * deletion's version and the key's display fields. */
static void test_versions_and_tombstones(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_key k, got, tomb;
    int64_t v1 = 0, v2 = 0, v3 = 0;

    mk_service(f->st, &s, "versions");
    mk_key(f->st, &k, s.id, 7);
    assert_int_equal(AUTO(f->st, kw_store_version_next(tx_, &v1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_version_next(tx_, &v2)), KW_OK);
    assert_true(v2 > v1);
    /* a rolled-back version is not handed out again out of order */
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(kw_store_version_next(open_tx, &v3), KW_OK);
    trollback();
    assert_int_equal(AUTO(f->st, kw_store_version_next(tx_, &v3)), KW_OK);
    assert_true(v3 > v2);
    k.version = v3;
    snprintf(k.rolled_to, sizeof(k.rolled_to), "key_successor");
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &k)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k.id, &got)), KW_OK);
    assert_int_equal(got.version, v3);
    assert_string_equal(got.rolled_to, "key_successor");
    assert_int_equal(AUTO(f->st, kw_store_key_tombstone_get(tx_, k.id, &tomb)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_key_delete(tx_, k.id, v3 + 1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_tombstone_get(tx_, k.id, &tomb)), KW_OK);
    assert_int_equal(tomb.version, v3 + 1);
    assert_string_equal(tomb.start, k.start);
    assert_string_equal(tomb.service_id, s.id);
    assert_memory_equal(tomb.hash, k.hash, KW_HASH_LEN);
    /* a service delete tombstones every key it takes */
    mk_key(f->st, &k, s.id, 8);
    assert_int_equal(AUTO(f->st, kw_store_service_delete(tx_, s.id, v3 + 2)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_tombstone_get(tx_, k.id, &tomb)), KW_OK);
    assert_int_equal(tomb.version, v3 + 2);
}

struct change_log {
    char ids[8][KW_ID_MAX];
    int deleted[8];
    int64_t versions[8];
    int n;
};

static int log_change(void *ctx, const struct kw_key *k, int deleted)
{
    struct change_log *l = ctx;

    if (l->n < 8) {
        snprintf(l->ids[l->n], KW_ID_MAX, "%s", k->id);
        l->deleted[l->n] = deleted;
        l->versions[l->n++] = k->version;
    }
    return 0;
}

/* "Everything changed since V": live rows and tombstones above V, in version order. */
static void test_key_changes(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_key a, b;
    struct change_log l;
    int64_t base = -1, v = 0;

    assert_int_equal(AUTO(f->st, kw_store_version_current(tx_, &base)), KW_OK);
    assert_int_equal(base, 0);
    mk_service(f->st, &s, "changes");
    mk_key(f->st, &a, s.id, 1);
    mk_key(f->st, &b, s.id, 2);
    assert_int_equal(AUTO(f->st, kw_store_version_next(tx_, &v)), KW_OK);
    b.version = v;
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &b)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_version_next(tx_, &v)), KW_OK);
    a.version = v;
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_version_next(tx_, &v)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_delete(tx_, b.id, v)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_version_current(tx_, &base)), KW_OK);
    assert_int_equal(base, v);
    memset(&l, 0, sizeof(l));
    assert_int_equal(AUTO(f->st, kw_store_key_changes(tx_, v - 2, log_change, &l)), KW_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.ids[0], a.id);
    assert_int_equal(l.deleted[0], 0);
    assert_int_equal(l.versions[0], v - 1);
    assert_string_equal(l.ids[1], b.id);
    assert_int_equal(l.deleted[1], 1);
    assert_int_equal(l.versions[1], v);
    memset(&l, 0, sizeof(l));
    assert_int_equal(AUTO(f->st, kw_store_key_changes(tx_, v, log_change, &l)), KW_OK);
    assert_int_equal(l.n, 0);
    if (f->e.backend == TB_PG) /* PostgreSQL notifies: a fresh listener says "read the changes" */
        assert_int_equal(kw_store_wait_change(f->st, 0), KW_OK);
    else /* SQLite: one node, nothing to wait for */
        assert_int_equal(kw_store_wait_change(f->st, 0), KW_ERR_INVALID);
}

/* Touches from several nodes arrive in any order: the latest use wins, its address with it. */
static void test_touch_keeps_latest(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_key k, got;

    mk_service(f->st, &s, "touch");
    mk_key(f->st, &k, s.id, 3);
    assert_int_equal(AUTO(f->st, kw_store_key_touch(tx_, k.id, 2000, "192.0.2.2")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_touch(tx_, k.id, 1000, "192.0.2.1")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k.id, &got)), KW_OK);
    assert_int_equal(got.last_used_at, 2000);
    assert_string_equal(got.last_used_ip, "192.0.2.2");
    assert_int_equal(AUTO(f->st, kw_store_key_touch(tx_, k.id, 3000, "192.0.2.3")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, k.id, &got)), KW_OK);
    assert_int_equal(got.last_used_at, 3000);
    assert_string_equal(got.last_used_ip, "192.0.2.3");
}

static void mk_user(struct kw_store *st, struct kw_user *u, const char *name, const char *role)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->username, sizeof(u->username), "%s", name);
    snprintf(u->password_hash, sizeof(u->password_hash), "$argon2id$fake$%s", name);
    snprintf(u->role, sizeof(u->role), "%s", role);
    u->created_at = 1;
    assert_int_equal(AUTO(st, kw_store_user_insert(tx_, u)), KW_OK);
}

/* user_login writes last_login_at only while the row is the one that was verified. */
static void test_user_login_conditional(void **state)
{
    struct fixture *f = *state;
    struct kw_user u, changed, got;
    int64_t admins = -1;

    mk_user(f->st, &u, "dana", "sysadmin");
    mk_user(f->st, &got, "eve", "user");
    assert_int_equal(AUTO(f->st, kw_store_user_count_admins(tx_, &admins)), KW_OK);
    assert_int_equal(admins, 1);
    assert_int_equal(AUTO(f->st, kw_store_user_login(tx_, &u, 5000)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_user_get(tx_, "dana", &got)), KW_OK);
    assert_int_equal(got.last_login_at, 5000);
    /* update never writes last_login_at (it belongs to the login) */
    changed = got;
    changed.last_login_at = 1;
    assert_int_equal(AUTO(f->st, kw_store_user_update(tx_, &changed)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_user_get(tx_, "dana", &got)), KW_OK);
    assert_int_equal(got.last_login_at, 5000);
    /* disabled meanwhile: the login's write is refused and changes nothing */
    changed.disabled = 1;
    assert_int_equal(AUTO(f->st, kw_store_user_update(tx_, &changed)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_user_count_admins(tx_, &admins)), KW_OK);
    assert_int_equal(admins, 0);
    assert_int_equal(AUTO(f->st, kw_store_user_login(tx_, &u, 6000)), KW_ERR_CONFLICT);
    /* enabled again but with another password: still refused */
    changed.disabled = 0;
    snprintf(changed.password_hash, sizeof(changed.password_hash), "$argon2id$other");
    assert_int_equal(AUTO(f->st, kw_store_user_update(tx_, &changed)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_user_login(tx_, &u, 6000)), KW_ERR_CONFLICT);
    assert_int_equal(AUTO(f->st, kw_store_user_get(tx_, "dana", &got)), KW_OK);
    assert_int_equal(got.last_login_at, 5000);
}

static void test_session_delete_keep(void **state)
{
    struct fixture *f = *state;
    struct kw_session a, b, got;
    struct kw_user u;

    mk_user(f->st, &u, "finn", "user");
    memset(&a, 0, sizeof(a));
    snprintf(a.username, sizeof(a.username), "finn");
    a.expires_at = 99999;
    b = a;
    a.id_hash[0] = 1;
    b.id_hash[0] = 2;
    assert_int_equal(AUTO(f->st, kw_store_session_insert(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_insert(tx_, &b)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_delete_user(tx_, "finn", a.id_hash)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_get(tx_, a.id_hash, &got)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_get(tx_, b.id_hash, &got)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_session_delete_user(tx_, "finn", NULL)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_get(tx_, a.id_hash, &got)), KW_ERR_NOT_FOUND);
}

/* ---- kw_store_row_each / kw_store_row_put (moving a deployment) ---- */

struct rows_dump {
    uint8_t b[65536];
    size_t len;
};

/* Appends each value's integer, length and bytes: two equal dumps are the same rows, byte for byte. */
static int dump_row(void *ctx, const struct kw_store_row *r)
{
    struct rows_dump *d = ctx;

    for (int i = 0; i < r->n; i++) {
        assert_true(d->len + 16 + r->v[i].len <= sizeof(d->b));
        memcpy(d->b + d->len, &r->v[i].i, 8);
        memcpy(d->b + d->len + 8, &r->v[i].len, 8);
        if (r->v[i].len > 0)
            memcpy(d->b + d->len + 16, r->v[i].p, r->v[i].len);
        d->len += 16 + r->v[i].len;
    }
    return 0;
}

static int put_row(void *ctx, const struct kw_store_row *r)
{
    return kw_store_row_put(ctx, r) != KW_OK;
}

static int put_row_twice(void *ctx, const struct kw_store_row *r)
{
    return kw_store_row_put(ctx, r) != KW_ERR_EXISTS;
}

static void dump_table(struct kw_store *st, enum kw_store_table t, struct rows_dump *d)
{
    struct kw_tx *tx = NULL;

    d->len = 0;
    assert_int_equal(kw_store_begin(st, KW_TX_READ, &tx), KW_OK);
    assert_int_equal(kw_store_row_each(tx, t, dump_row, d), KW_OK);
    kw_store_rollback(tx);
}

/* One of each row (a deleted key's tombstone, a 2999-byte meta value no record field holds), copied
 * table by table into a fresh store of the same backend: every table dumps the same bytes; the
 * version counter and seqs come along and a later insert continues above them; a duplicate put
 * answers KW_ERR_EXISTS and a row of the wrong width KW_ERR_INVALID. */
static void test_rows_copy(void **state)
{
    struct fixture *f = *state;
    struct store_env e2;
    struct kw_store *dst = NULL;
    struct kw_service s, s2;
    struct kw_key k, k2;
    struct kw_user u = {.username = "alice", .password_hash = "$argon2id$x", .role = "sysadmin", .created_at = 5};
    struct kw_session ss = {.id_hash = {9, 8, 7}, .username = "alice", .created_at = 6, .expires_at = 9};
    struct kw_member m = {.username = "alice", .role = "viewer", .created_at = 7};
    struct kw_store_row bad = {.table = KW_TABLE_META, .n = 1};
    struct kw_audit_event ev;
    struct rows_dump *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    struct kw_tx *rtx = NULL, *wtx = NULL;
    char big[3000];
    int64_t v1 = 0, v2 = 0;

    mk_service(f->st, &s, "copy");
    mk_key(f->st, &k, s.id, 1);
    mk_key(f->st, &k2, s.id, 2);
    assert_int_equal(AUTO(f->st, kw_store_key_delete(tx_, k2.id, 41)), KW_OK);
    /* a service user and an access key with its sealed secret (migration 0005) */
    struct kw_service_user su = {.name = "vkyc", .source_system = "vkyc", .perms = 5, .enabled = 1,
                                 .client_secret_hash = {1, 2, 3}, .created_at = 8, .created_by = "root"};
    struct kw_key ak;
    snprintf(su.service_id, sizeof(su.service_id), "%s", s.id);
    assert_int_equal(kw_id_new("su", su.id), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_user_insert(tx_, &su)), KW_OK);
    mk_key(f->st, &ak, s.id, 3);
    snprintf(ak.kind, sizeof(ak.kind), "access_key");
    snprintf(ak.service_user_id, sizeof(ak.service_user_id), "%s", su.id);
    ak.sealed_len = 60;
    memset(ak.sealed, 0xEE, ak.sealed_len);
    ak.version = 42;
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &ak)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, k.id, s.id, 60000, 3, 1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_user_insert(tx_, &u)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_insert(tx_, &ss)), KW_OK);
    snprintf(m.service_id, sizeof(m.service_id), "%s", s.id);
    assert_int_equal(AUTO(f->st, kw_store_member_insert(tx_, &m)), KW_OK);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(AUTO(f->st, kw_store_meta_set(tx_, "big", big)), KW_OK);
    struct kw_signing_key sk = {.kid = "kid-copy", .alg = "EdDSA", .public_key = {1, 2, 3}, .sealed = {4, 5},
                                .sealed_len = 129, .created_at = 8, .status = "active", .version = 40};
    assert_int_equal(AUTO(f->st, kw_store_signing_key_insert(tx_, &sk)), KW_OK);
    static struct kw_enc_key xk = {.kid = "kid-enc", .public_pem = "-----BEGIN PUBLIC KEY-----", .sealed = {6, 7},
                                   .sealed_len = 1900, .created_at = 9, .status = "active", .version = 39};
    assert_int_equal(AUTO(f->st, kw_store_enc_key_insert(tx_, &xk)), KW_OK);
    /* an identity record with a sealed data key, its ciphertexts, a picture and a history entry (0008) */
    static uint8_t ct[700], pic[900];
    struct kw_record rec = {.ref_id = "ref-copy", .status = "waiting", .waiting_date = 11, .created_at = 10,
                            .updated_at = 11, .created_by = "root", .version = 1, .sealed_dek_len = 129,
                            .attributes_ct = ct, .attributes_ct_len = sizeof(ct)};
    struct kw_record_picture rp = {.name = "selfie", .media_type = "image/png", .size = 800, .updated_at = 12,
                                   .ct = pic, .ct_len = sizeof(pic)};
    struct kw_record_history rh = {.at = 11, .actor_type = "root", .actor_id = "root", .from_status = "incomplete",
                                   .to_status = "waiting", .comment = "copied"};
    memset(ct, 0xC7, sizeof(ct));
    memset(pic, 0x9A, sizeof(pic));
    memset(rec.sealed_dek, 0x5D, rec.sealed_dek_len);
    snprintf(rec.service_id, sizeof(rec.service_id), "%s", s.id);
    assert_int_equal(kw_id_new("rec", rec.id), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_record_insert(tx_, &rec)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_record_picture_put(tx_, rec.id, &rp)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_record_history_append(tx_, rec.id, &rh)), KW_OK);
    /* a document row (its content is domain/copy.c's), a webhook, a delivery and an attempt (0011, 0012) */
    static struct kw_document doc = {.service_user_id = "su_x", .credential_id = "tok_x", .filename = "a.pdf",
                                     .media_type = "application/pdf", .size = 10, .sha256 = "ab",
                                     .source_tag = "t", .metadata = "{}", .sealed_dek_len = 129,
                                     .chunk_size = 262144, .nchunks = 1, .idempotency_key = "idem",
                                     .created_at = 13};
    static struct kw_webhook wh = {.url = "https://example.com/h", .events = "[\"key.created\"]", .enabled = 1,
                                   .secret_sealed_len = 80, .created_by = "root", .created_at = 14,
                                   .updated_at = 14};
    static struct kw_webhook_delivery dl = {.event_type = "key.created", .payload = "{}", .created_at = 15,
                                            .state = "pending", .next_attempt_at = 15, .updated_at = 15};
    struct kw_webhook_attempt at = {.n = 1, .at = 16, .status = 500, .duration_ms = 3, .node = "n1"};
    snprintf(doc.service_id, sizeof(doc.service_id), "%s", s.id);
    assert_int_equal(kw_id_new("doc", doc.id), KW_OK);
    memset(doc.sealed_dek, 0x3C, doc.sealed_dek_len);
    memset(doc.idempotency_hash, 0x4D, sizeof(doc.idempotency_hash));
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &doc)), KW_OK);
    snprintf(wh.service_id, sizeof(wh.service_id), "%s", s.id);
    assert_int_equal(kw_id_new("wh", wh.id), KW_OK);
    memset(wh.secret_sealed, 0x6E, wh.secret_sealed_len);
    assert_int_equal(AUTO(f->st, kw_store_webhook_insert(tx_, &wh)), KW_OK);
    snprintf(dl.webhook_id, sizeof(dl.webhook_id), "%s", wh.id);
    snprintf(dl.service_id, sizeof(dl.service_id), "%s", s.id);
    assert_int_equal(kw_id_new("msg", dl.id), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_insert(tx_, &dl)), KW_OK);
    snprintf(at.delivery_id, sizeof(at.delivery_id), "%s", dl.id);
    assert_int_equal(AUTO(f->st, kw_store_webhook_attempt_insert(tx_, &at)), KW_OK);
    kw_audit_event_init(&ev, "root", "root", "key.create", "key", k.id, s.id, "success");
    assert_int_equal(AUTO(f->st, kw_audit_chain(tx_, &ev, 1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_version_next(tx_, &v1)), KW_OK);

    assert_int_equal(tb_env_init(&e2, f->e.backend), 0);
    assert_int_equal(tb_open(&e2, &dst), KW_OK);
    assert_int_equal(kw_store_migrate(dst, NULL, NULL), KW_OK);
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &rtx), KW_OK);
    assert_int_equal(kw_store_begin(dst, KW_TX_WRITE, &wtx), KW_OK);
    for (int t = 0; t < KW_TABLE_COUNT; t++)
        assert_int_equal(kw_store_row_each(rtx, (enum kw_store_table)t, put_row, wtx), KW_OK);
    assert_int_equal(kw_store_row_put(wtx, &bad), KW_ERR_INVALID);
    assert_int_equal(kw_store_commit(wtx), KW_OK);
    kw_store_rollback(rtx);
    for (int t = 0; t < KW_TABLE_COUNT; t++) {
        dump_table(f->st, (enum kw_store_table)t, a);
        dump_table(dst, (enum kw_store_table)t, b);
        assert_true(a->len > 0);
        assert_int_equal(a->len, b->len);
        assert_memory_equal(a->b, b->b, a->len);
    }
    /* the source's rows once more into the target: every one a duplicate (a walk's callback uses
     * another transaction, never the walk's own: its connection is busy with the walk) */
    struct kw_tx *stx = NULL, *dtx = NULL; /* source first, then target: the order the copy takes them */
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &stx), KW_OK);
    assert_int_equal(kw_store_begin(dst, KW_TX_WRITE, &dtx), KW_OK);
    assert_int_equal(kw_store_row_each(stx, KW_TABLE_SERVICES, put_row_twice, dtx), KW_OK);
    kw_store_rollback(dtx);
    kw_store_rollback(stx);
    assert_int_equal(AUTO(dst, kw_store_version_next(tx_, &v2)), KW_OK);
    assert_int_equal(v2, v1 + 1);
    mk_service(dst, &s2, "after");
    assert_true(s2.seq > s.seq);
    kw_store_free(dst);
    assert_int_equal(tb_env_cleanup(&e2), 0);
    free(a);
    free(b);
}

/* ---- shared state: the login-throttle counter and job leases ---- */

#define W 900000 /* the throttle window in these tests */

static enum kw_err reserve1(struct kw_store *st, const char *key, int limit, int64_t now, int *ok,
                            struct kw_throttle_row *row)
{
    return AUTO(st, kw_store_throttle_reserve(tx_, key, limit, now, W, ok, row));
}

/* One statement reserves, refuses at the limit without counting the refusal, and follows the window. */
static void test_throttle_counter(void **state)
{
    struct fixture *f = *state;
    struct kw_throttle_row row;
    int ok = -1, i;
    int64_t n = -1;

    assert_int_equal(kw_store_shared(f->st), f->e.backend == TB_PG);
    for (i = 0; i < 3; i++) {
        assert_int_equal(reserve1(f->st, "user:ann", 3, 1000 + i, &ok, &row), KW_OK);
        assert_int_equal(ok, 1);
        assert_int_equal(row.count, i + 1);
        assert_int_equal(row.inflight, i + 1);
        assert_int_equal(row.window_start, 1000);
    }
    assert_int_equal(reserve1(f->st, "user:ann", 3, 2000, &ok, &row), KW_OK);
    assert_int_equal(ok, 0); /* at the limit: refused, and the refusal is not counted */
    assert_int_equal(row.count, 3);
    /* one fails and one is given back: 1 failure + 1 in flight, then one more in flight */
    assert_int_equal(AUTO(f->st, kw_store_throttle_settle(tx_, "user:ann", KW_SETTLE_FAIL, 3000, W)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_throttle_settle(tx_, "user:ann", KW_SETTLE_RETURN, 3000, W)),
                     KW_OK);
    assert_int_equal(reserve1(f->st, "user:ann", 3, 3000, &ok, &row), KW_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(row.count, 3); /* the failure + the two in flight */
    assert_int_equal(row.inflight, 2);
    /* both succeed and forgive: no failure, nothing in flight */
    assert_int_equal(AUTO(f->st, kw_store_throttle_settle(tx_, "user:ann", KW_SETTLE_FORGIVE, 3000, W)),
                     KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_throttle_settle(tx_, "user:ann", KW_SETTLE_FORGIVE, 3000, W)),
                     KW_OK);
    assert_int_equal(reserve1(f->st, "user:ann", 3, 4000, &ok, &row), KW_OK);
    assert_int_equal(row.count, 1);
    assert_int_equal(row.window_start, 4000); /* counted nothing: the window restarted */
    /* three failures lock the key for the window; the next window starts afresh */
    assert_int_equal(AUTO(f->st, kw_store_throttle_settle(tx_, "user:ann", KW_SETTLE_FAIL, 4000, W)), KW_OK);
    for (i = 0; i < 2; i++) {
        assert_int_equal(reserve1(f->st, "user:ann", 3, 4000, &ok, &row), KW_OK);
        assert_int_equal(AUTO(f->st, kw_store_throttle_settle(tx_, "user:ann", KW_SETTLE_FAIL, 4000, W)),
                         KW_OK);
    }
    assert_int_equal(reserve1(f->st, "user:ann", 3, 4000 + W - 1, &ok, &row), KW_OK);
    assert_int_equal(ok, 0);
    assert_int_equal(row.count - row.inflight, 3);
    assert_int_equal(reserve1(f->st, "user:ann", 3, 4000 + W, &ok, &row), KW_OK);
    assert_int_equal(ok, 1);
    assert_int_equal(row.count, 1);
    assert_int_equal(row.window_start, 4000 + W);
    /* a settle for a key with nothing in flight changes nothing */
    assert_int_equal(AUTO(f->st, kw_store_throttle_settle(tx_, "ip:192.0.2.9", KW_SETTLE_FAIL, 1, W)), KW_OK);
    assert_int_equal(reserve1(f->st, "ip:192.0.2.9", 1, 10, &ok, &row), KW_OK);
    assert_int_equal(row.count, 1);
    /* purge: windows started at or before the cut go */
    assert_int_equal(AUTO(f->st, kw_store_throttle_purge(tx_, 4000 + W - 1, &n)), KW_OK);
    assert_int_equal(n, 1); /* ip:192.0.2.9; user:ann's window began at 4000 + W */
    assert_int_equal(reserve1(f->st, "ip:192.0.2.9", 1, 20, &ok, &row), KW_OK);
    assert_int_equal(row.window_start, 20);
    assert_int_equal(AUTO(f->st, kw_store_throttle_reserve(tx_, "ip:x", 0, 1, W, &ok, &row)), KW_OK);
    assert_int_equal(ok, 1); /* a new key always starts its window (callers check limit >= 1) */
}

struct racer {
    struct kw_store *st;
    int reserved;
    enum kw_err err;
};

static void *race_reserve(void *arg)
{
    struct racer *r = arg;
    struct kw_throttle_row row;
    int ok = 0, tries;

    for (tries = 0; tries < 50; tries++) {
        r->err = AUTO(r->st, kw_store_throttle_reserve(tx_, "user:race", 5, 5000, W, &ok, &row));
        if (r->err != KW_ERR_RETRY)
            break;
        usleep(1000);
    }
    r->reserved = r->err == KW_OK && ok;
    return NULL;
}

/* 16 reservations at once on one key (PostgreSQL: several connections, so really in parallel): 5 pass. */
static void test_throttle_parallel(void **state)
{
    struct fixture *f = *state;
    struct racer r[16];
    pthread_t t[16];
    struct kw_store *other = NULL;
    int i, total = 0;

    assert_int_equal(tb_open(&f->e, &other), KW_OK); /* a second node's handle */
    for (i = 0; i < 16; i++) {
        r[i] = (struct racer){i % 2 ? other : f->st, 0, KW_OK};
        assert_int_equal(pthread_create(&t[i], NULL, race_reserve, &r[i]), 0);
    }
    for (i = 0; i < 16; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].err, KW_OK);
        total += r[i].reserved;
    }
    assert_int_equal(total, 5);
    kw_store_free(other);
}

static void test_session_purge(void **state)
{
    struct fixture *f = *state;
    struct kw_session a, b, c, got;
    struct kw_user u;
    int64_t n = -1;

    mk_user(f->st, &u, "gail", "user");
    memset(&a, 0, sizeof(a));
    snprintf(a.username, sizeof(a.username), "gail");
    a.last_seen = 5000;
    a.expires_at = 10000;
    b = c = a;
    a.id_hash[0] = 1; /* live */
    b.id_hash[0] = 2;
    b.expires_at = 6000; /* expired */
    c.id_hash[0] = 3;
    c.last_seen = 1000; /* idle */
    assert_int_equal(AUTO(f->st, kw_store_session_insert(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_insert(tx_, &b)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_insert(tx_, &c)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_purge(tx_, 6000, 2000, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(AUTO(f->st, kw_store_session_get(tx_, a.id_hash, &got)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_session_get(tx_, b.id_hash, &got)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_session_get(tx_, c.id_hash, &got)), KW_ERR_NOT_FOUND);
}

/* Leases: one holder at a time, a finished run moves the schedule, a lease that ran out is taken over
 * and its old holder's result is refused. */
static void test_job_lease(void **state)
{
    struct fixture *f = *state;
    struct kw_job a, b, got;
    struct kw_tx *rtx = NULL;

    assert_int_equal(AUTO(f->st, kw_store_job_ensure(tx_, "sweep", 1000)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_job_ensure(tx_, "sweep", 99)), KW_OK); /* kept as it was */
    assert_int_equal(AUTO(f->st, kw_store_job_ensure(tx_, "other", 0)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_job_lease(tx_, "missing", "node-a", 5000, 500, &a)),
                     KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_job_get(tx_, "sweep", &got)), KW_OK);
    assert_int_equal(got.next_run_at, 1000);
    assert_int_equal(AUTO(f->st, kw_store_job_lease(tx_, "sweep", "node-a", 999, 500, &a)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_job_lease(tx_, "sweep", "node-a", 1000, 500, &a)), KW_OK);
    assert_string_equal(a.name, "sweep");
    assert_string_equal(a.leased_by, "node-a");
    assert_int_equal(a.lease_until, 1500);
    assert_int_equal(AUTO(f->st, kw_store_job_lease(tx_, "sweep", "node-b", 1499, 500, &b)),
                     KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_job_lease(tx_, "sweep", "node-b", 1500, 500, &b)),
                     KW_OK); /* ran out */
    assert_string_equal(b.leased_by, "node-b");
    assert_int_equal(AUTO(f->st, kw_store_job_finish(tx_, &a, 1600, 9000, NULL)), KW_ERR_CONFLICT);
    assert_int_equal(AUTO(f->st, kw_store_job_finish(tx_, &b, 1700, 9000, "store")), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_job_get(tx_, "sweep", &got)), KW_OK);
    assert_int_equal(got.next_run_at, 9000);
    assert_int_equal(got.lease_until, 0);
    assert_string_equal(got.last_run_by, "node-b");
    assert_string_equal(got.last_error, "store");
    assert_int_equal(got.last_ok_at, 0);
    assert_int_equal(got.runs, 1);
    assert_int_equal(AUTO(f->st, kw_store_job_lease(tx_, "sweep", "node-a", 8999, 500, &a)),
                     KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_job_lease(tx_, "sweep", "node-a", 9000, 500, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_job_finish(tx_, &a, 9100, 20000, NULL)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_job_get(tx_, "sweep", &got)), KW_OK);
    assert_int_equal(got.last_ok_at, 9100);
    assert_string_equal(got.last_error, "");
    assert_string_equal(got.last_run_by, "node-a");
    assert_int_equal(got.runs, 2);
    /* writes only */
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &rtx), KW_OK);
    assert_int_equal(kw_store_job_lease(rtx, "sweep", "node-a", 30000, 500, &a), KW_ERR_INVALID);
    kw_store_rollback(rtx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_again_and_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_schema_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_update_touch_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_and_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_inside_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions_persist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_never_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relaxed_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions_and_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_touch_keeps_latest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_login_conditional, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_delete_keep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throttle_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_lease, setup, teardown),
    };
    /* SQLite's file layout and file contents are SQLite's alone (test_store_pg.c checks PostgreSQL's
     * rows for the secret); every other test runs on both. */
    const CMUnitTestFunction sqlite_only[] = {test_open_layout, test_secret_never_stored};
    struct CMUnitTest pg[sizeof(tests) / sizeof(tests[0])];
    size_t i, j, npg = 0;
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        int skip = 0;
        for (j = 0; j < sizeof(sqlite_only) / sizeof(sqlite_only[0]); j++)
            skip |= sqlite_only[j] == tests[i].test_func;
        if (!skip)
            pg[npg++] = tests[i];
    }
    return failed + _cmocka_run_group_tests("postgresql", pg, npg, group_pg, NULL);
}
