/* test_store_pg.c - what only the PostgreSQL backend has: the pool (waiting for a connection, giving up
 * at the deadline), lost connections (KW_ERR_RETRY, then reset), statement_timeout, migrations from two
 * nodes at once, the secret absent from every row, and the URI's password kept out of logs and argv.
 * Tests that need a cluster are skipped unless KEYWARD_TEST_PG names one (scripts/test sets it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "domain/audit.h"
#include "store/migrations.h"
#include "store_fixture.h"

#define NEED_PG()                                                                                            \
    do {                                                                                                     \
        if (tb_pg_admin() == NULL)                                                                           \
            skip();                                                                                          \
    } while (0)

static int setup_pg(void **state)
{
    if (tb_pg_admin() == NULL) {
        *state = NULL;
        return 0;
    }
    return setup(state);
}

static int teardown_pg(void **state)
{
    return *state == NULL ? 0 : teardown(state);
}

/* Opens a second handle on the fixture's database with opts. */
static struct kw_store *open_with(struct fixture *f, int pool, int timeout_ms)
{
    struct kw_store_options o = {pool, timeout_ms};
    struct kw_store *st = NULL;

    assert_int_equal(kw_store_open_opts(f->e.spec, f->dir, &o, &st), KW_OK);
    return st;
}

static void test_lost_connection(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, got;
    struct kw_tx *tx = NULL;
    char sql[256];

    NEED_PG();
    mk_service(f->st, &s, "survives");
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' "
             "AND application_name = 'keyward'",
             f->e.db);
    /* Killed inside a transaction: the statement answers KW_ERR_RETRY, and so does the commit. */
    assert_int_equal(kw_store_begin(f->st, KW_TX_WRITE, &tx), KW_OK);
    assert_int_equal(tb_pg_exec(NULL, sql), 0);
    usleep(100000);
    assert_int_equal(kw_store_service_get(tx, s.id, &got), KW_ERR_RETRY);
    assert_int_equal(kw_store_commit(tx), KW_ERR_RETRY);
    /* The next transaction gets a reset connection. */
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_OK);
    /* Killed while idle in the pool: begin resets it without the caller noticing. */
    assert_int_equal(tb_pg_exec(NULL, sql), 0);
    usleep(100000);
    assert_int_equal(AUTO(f->st, kw_store_service_get(tx_, s.id, &got)), KW_OK);
    assert_string_equal(got.name, "survives");
}

struct waiter {
    struct kw_store *st;
    enum kw_err err;
};

static void *begin_one(void *arg)
{
    struct waiter *w = arg;
    struct kw_tx *tx = NULL;

    w->err = kw_store_begin(w->st, KW_TX_READ, &tx);
    if (w->err == KW_OK)
        kw_store_rollback(tx);
    return NULL;
}

static void test_pool_waits_then_gives_up(void **state)
{
    struct fixture *f = *state;
    struct kw_store *small, *patient;
    struct kw_tx *held = NULL;
    struct waiter w;
    pthread_t t;

    NEED_PG();
    /* Every connection busy past the deadline: KW_ERR_RETRY, not a hang. */
    small = open_with(f, 1, 200);
    assert_int_equal(kw_store_begin(small, KW_TX_WRITE, &held), KW_OK);
    w = (struct waiter){small, KW_OK};
    assert_int_equal(pthread_create(&t, NULL, begin_one, &w), 0);
    pthread_join(t, NULL);
    assert_int_equal(w.err, KW_ERR_RETRY);
    kw_store_rollback(held);
    /* A waiter gets the connection as soon as it is returned. */
    patient = open_with(f, 1, 30000);
    assert_int_equal(kw_store_begin(patient, KW_TX_WRITE, &held), KW_OK);
    w = (struct waiter){patient, KW_ERR_INTERNAL};
    assert_int_equal(pthread_create(&t, NULL, begin_one, &w), 0);
    usleep(50000);
    assert_int_equal(kw_store_commit(held), KW_OK);
    pthread_join(t, NULL);
    assert_int_equal(w.err, KW_OK);
    kw_store_free(small);
    kw_store_free(patient);
}

/* A row another transaction holds longer than statement_timeout: KW_ERR_RETRY at the deadline. */
static void test_statement_timeout(void **state)
{
    struct fixture *f = *state;
    struct kw_store *quick;
    struct kw_service s, got;
    struct kw_tx *a = NULL, *b = NULL;

    NEED_PG();
    mk_service(f->st, &s, "locked");
    quick = open_with(f, 2, 300);
    assert_int_equal(kw_store_begin(quick, KW_TX_WRITE, &a), KW_OK);
    assert_int_equal(kw_store_service_get(a, s.id, &got), KW_OK); /* FOR UPDATE */
    assert_int_equal(kw_store_begin(quick, KW_TX_WRITE, &b), KW_OK);
    assert_int_equal(kw_store_service_get(b, s.id, &got), KW_ERR_RETRY);
    kw_store_rollback(b);
    /* A read transaction does not wait for the lock. */
    assert_int_equal(kw_store_begin(quick, KW_TX_READ, &b), KW_OK);
    assert_int_equal(kw_store_service_get(b, s.id, &got), KW_OK);
    kw_store_rollback(b);
    kw_store_rollback(a);
    kw_store_free(quick);
}

struct migrator {
    struct kw_store *st;
    enum kw_err err;
    int applied, version;
};

static void *migrate_one(void *arg)
{
    struct migrator *m = arg;

    m->err = kw_store_migrate(m->st, &m->applied, &m->version);
    return NULL;
}

/* Two nodes starting at once on an empty database: each migration runs once. */
static void test_concurrent_migrate(void **state)
{
    struct store_env fresh;
    struct migrator m[3];
    pthread_t t[3];
    int i, total = 0;

    NEED_PG();
    (void)state;
    assert_int_equal(tb_env_init(&fresh, TB_PG), 0);
    for (i = 0; i < 3; i++) {
        m[i] = (struct migrator){NULL, KW_ERR_INTERNAL, -1, -1};
        assert_int_equal(tb_open(&fresh, &m[i].st), KW_OK);
    }
    for (i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, migrate_one, &m[i]), 0);
    for (i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(m[i].err, KW_OK);
        assert_int_equal(m[i].version, m[0].version);
        total += m[i].applied;
        kw_store_free(m[i].st);
    }
    assert_true(m[0].version >= 3);
    assert_int_equal(total, kw_pg_migrations_count); /* each once */
    assert_int_equal(tb_env_cleanup(&fresh), 0);
}

static void *hold_migrate_lock(void *arg)
{
    /* The backend's migrate lock key (postgres.c), held by "another node" for 0.6 s. */
    tb_pg_exec(arg, "SELECT pg_advisory_lock(7016996765293437281), pg_sleep(0.6)");
    return NULL;
}

/* Waiting for another node's migration is not cut short by statement_timeout. */
static void test_migrate_waits_for_other_node(void **state)
{
    struct store_env fresh;
    struct kw_store_options o = {1, 100};
    struct kw_store *st = NULL;
    int applied = -1, version = -1;
    pthread_t t;

    NEED_PG();
    (void)state;
    assert_int_equal(tb_env_init(&fresh, TB_PG), 0);
    assert_int_equal(pthread_create(&t, NULL, hold_migrate_lock, fresh.db), 0);
    usleep(200000);
    assert_int_equal(kw_store_open_opts(fresh.spec, fresh.dir, &o, &st), KW_OK);
    assert_int_equal(kw_store_migrate(st, &applied, &version), KW_OK);
    assert_true(applied >= 3);
    pthread_join(t, NULL);
    kw_store_free(st);
    assert_int_equal(tb_env_cleanup(&fresh), 0);
}

/* The store only ever sees the SHA-256 of a secret: no row of any table holds its text. */
static void test_secret_not_in_rows(void **state)
{
    static const char secret[] = "kw_SecretDoNotStore0123456789abcdefghijABCDEFGHIJKL7x9Qz1";
    static const char *const tables[] = {"meta",
                                         "services",
                                         "keys",
                                         "usage",
                                         "audit",
                                         "users",
                                         "sessions",
                                         "members",
                                         "counters",
                                         "key_tombstones",
                                         "signing_keys",
                                         "schema_migrations"};
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_key k;
    struct kw_audit_event ev;
    char sql[256], found_id[256];
    size_t i;

    NEED_PG();
    mk_service(f->st, &s, "a");
    memset(&k, 0, sizeof(k));
    assert_int_equal(kw_id_new("key", k.id), KW_OK);
    snprintf(k.service_id, sizeof(k.service_id), "%s", s.id);
    assert_int_equal(kw_crypto_sha256(secret, strlen(secret), k.hash), KW_OK);
    snprintf(k.start, sizeof(k.start), "kw_Secr");
    assert_int_equal(AUTO(f->st, kw_store_key_insert(tx_, &k)), KW_OK);
    kw_audit_event_init(&ev, "key", k.id, "key.create", "key", k.id, s.id, "success");
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(kw_audit_chain(open_tx, &ev, 1), KW_OK);
    assert_int_equal(tcommit(), KW_OK);
    /* The search works: the key's id is found in its row... */
    snprintf(found_id, sizeof(found_id),
             "SELECT 1 FROM keys t WHERE strpos(t::text, '%s') > 0 "
             "HAVING count(*) = 1",
             k.id);
    assert_int_equal(tb_pg_exec(f->e.db, found_id), 0);
    /* ...and no row of any table holds the secret or a tail of it past the displayed start. */
    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql, sizeof(sql),
                 "SELECT 1 FROM %s t WHERE strpos(t::text, '%.20s') > 0 HAVING count(*) = 0", tables[i],
                 secret + 7);
        assert_int_equal(tb_pg_exec(f->e.db, sql), 0);
    }
}

static int file_has(const char *path, const char *needle)
{
    char buf[8192];
    FILE *fp = fopen(path, "r");
    size_t n;

    if (fp == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return strstr(buf, needle) != NULL;
}

/* Neither a failed open nor the describe helper lets the password through. Needs no cluster. */
static void test_password_never_logged(void **state)
{
    char log[] = "/tmp/kwpglogXXXXXX", out[256];
    struct kw_store *st = NULL;
    int fd = mkstemp(log), saved = dup(2);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    assert_int_not_equal(
        kw_store_open("postgresql://kwuser:S3cretPw@127.0.0.1:1/db?connect_timeout=2", "/tmp", &st), KW_OK);
    assert_int_not_equal(
        kw_store_open("postgres://kwuser@127.0.0.1:1/db?password=S3cretPw&connect_timeout=2", "/tmp", &st),
        KW_OK);
    assert_int_not_equal(kw_store_open("postgresql://kwuser:S3cretPw@%zz/db", "/tmp", &st), KW_OK);
    assert_int_not_equal(kw_store_open("postgresql://kwuser:S3cretPw%zz@127.0.0.1:1/db", "/tmp", &st), KW_OK);
    assert_int_not_equal(
        kw_store_open("postgresql://kwuser@127.0.0.1:1/db?password=S3cretPw%zz", "/tmp", &st), KW_OK);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    assert_null(st);
    assert_true(file_has(log, "PostgreSQL")); /* something was logged... */
    assert_false(file_has(log, "S3cretPw"));  /* ...without the password */
    unlink(log);

    kw_store_describe("postgresql://kwuser:S3cretPw@h1:5432,h2/db?password=Other1&x=1", out, sizeof(out));
    assert_string_equal(out, "postgresql://kwuser:***@h1:5432,h2/db?password=***&x=1");
    kw_store_describe("postgres://kwuser@h/db?target_session_attrs=read-write", out, sizeof(out));
    assert_string_equal(out, "postgres://kwuser@h/db?target_session_attrs=read-write");
    kw_store_describe("sqlite", out, sizeof(out));
    assert_string_equal(out, "sqlite");
}

/* --store on the command line: a URI with a password is refused naming where passwords go; the
 * environment may carry one (it is not visible in ps). */
static void test_store_option(void **state)
{
    static struct kw_config c;
    char err[256];
    char *with_pw[] = {"--store", "postgresql://u:pw@db.example/keyward"};
    char *with_param[] = {"--store=postgres://u@db.example/keyward?password=pw"};
    char *plain[] = {"--store",
                     "postgresql://u@db1:5432,db2:5432/keyward?target_session_attrs=read-write",
                     "--store-pool",
                     "8",
                     "--store-statement-timeout-ms",
                     "2000"};
    char *bad[] = {"--store", "mysql://x"};

    (void)state;
    kw_config_defaults(&c);
    assert_string_equal(c.store, "sqlite");
    assert_int_equal(c.store_pool, 4);
    assert_int_equal(c.store_statement_timeout_ms, 5000);
    assert_int_equal(kw_config_load(&c, NULL, 2, with_pw, err, sizeof(err)), KW_ERR_INVALID);
    assert_non_null(strstr(err, "PGPASSFILE"));
    assert_non_null(strstr(err, ".pgpass"));
    assert_non_null(strstr(err, "PGPASSWORD"));
    assert_null(strstr(err, "pw@"));
    assert_int_equal(kw_config_load(&c, NULL, 1, with_param, err, sizeof(err)), KW_ERR_INVALID);
    assert_int_equal(kw_config_load(&c, NULL, 2, bad, err, sizeof(err)), KW_ERR_INVALID);
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, NULL, 6, plain, err, sizeof(err)), KW_OK);
    assert_int_equal(c.store_pool, 8);
    assert_int_equal(c.store_statement_timeout_ms, 2000);
    setenv("KEYWARD_STORE", "postgresql://u:pw@db.example/keyward", 1);
    kw_config_defaults(&c);
    assert_int_equal(kw_config_load(&c, NULL, 0, NULL, err, sizeof(err)), KW_OK);
    assert_string_equal(c.store, "postgresql://u:pw@db.example/keyward");
    unsetenv("KEYWARD_STORE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_never_logged),
        cmocka_unit_test(test_store_option),
        cmocka_unit_test_setup_teardown(test_lost_connection, setup_pg, teardown_pg),
        cmocka_unit_test_setup_teardown(test_pool_waits_then_gives_up, setup_pg, teardown_pg),
        cmocka_unit_test_setup_teardown(test_statement_timeout, setup_pg, teardown_pg),
        cmocka_unit_test_setup_teardown(test_concurrent_migrate, setup_pg, teardown_pg),
        cmocka_unit_test_setup_teardown(test_migrate_waits_for_other_node, setup_pg, teardown_pg),
        cmocka_unit_test_setup_teardown(test_secret_not_in_rows, setup_pg, teardown_pg),
    };

    return cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
