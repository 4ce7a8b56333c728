/* test_domain_race.c - domain writes racing each other, through the real app (SQLite store, verify
 * cache, write-behind). Each test names the interleaving it forces:
 *   - a write that commits and then stalls before it updates the cache, while a newer write (delete,
 *     revoke) commits and updates the cache first: the stale update must not bring the key back;
 *   - six rolls of one key at once: one successor, five refusals;
 *   - a login whose password check (Argon2, outside any transaction) overlaps an admin disabling the
 *     user or resetting the password: the admin's change must stand;
 *   - the last enabled System Administrator cannot be disabled, demoted or deleted. */
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
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/accounts.h"
#include "domain/app.h"
#include "domain/keys.h"
#include "domain/people_read.h"
#include "domain/services.h"
#include "domain/sync.h"

struct fixture {
    char dir[64];
    struct kw_config cfg;
    struct kw_app app;
    struct kw_actor actor;
    /* the stall: the first commit of `hold_action` waits here until released */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *hold_action;
    int held, released;
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void hold_after_commit(void *ctx, const char *action)
{
    struct fixture *f = ctx;

    pthread_mutex_lock(&f->mu);
    if (f->hold_action != NULL && strcmp(action, f->hold_action) == 0 && !f->held) {
        f->held = 1;
        pthread_cond_broadcast(&f->cv);
        while (!f->released)
            pthread_cond_wait(&f->cv, &f->mu);
    }
    pthread_mutex_unlock(&f->mu);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/kw-domain-XXXXXX");
    if (f == NULL || mkdtemp(f->dir) == NULL)
        return -1;
    kw_config_defaults(&f->cfg);
    snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s", f->dir);
    snprintf(f->cfg.root_token, sizeof(f->cfg.root_token), "test-root-token-0123456789abcdefghijkl");
    snprintf(f->cfg.log_level, sizeof(f->cfg.log_level), "error");
    if (kw_app_open(&f->app, &f->cfg) != KW_OK)
        return -1;
    f->actor = (struct kw_actor){"root", "root", "127.0.0.1", "test", NULL, NULL};
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->app.after_commit = hold_after_commit;
    f->app.after_commit_ctx = f;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    kw_app_close(&f->app);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
    return 0;
}

static void new_key(struct fixture *f, struct kw_key *k, char secret[KW_KEYFMT_MAX])
{
    struct kw_service_params sp = {.name = "race"};
    struct kw_key_params kp;
    struct kw_service s;

    memset(&kp, 0, sizeof(kp));
    assert_int_equal(kw_services_create(&f->app, &f->actor, &sp, &s), KW_OK);
    assert_int_equal(kw_keys_create(&f->app, &f->actor, s.id, &kp, k, secret), KW_OK);
}

static enum kw_verify_code check(struct fixture *f, const char *secret)
{
    struct kw_verify_result r;

    kw_keycache_verify(f->app.keys, secret, strlen(secret), kw_time_now_ms(), NULL, NULL, &r);
    return r.code;
}

struct update_arg {
    struct fixture *f;
    const char *id;
    enum kw_err err;
};

static void *update_thread(void *p)
{
    struct update_arg *a = p;
    struct kw_key_params kp;
    struct kw_key out;

    memset(&kp, 0, sizeof(kp));
    kp.set_description = 1;
    kp.description = "changed while racing";
    a->err = kw_keys_update(&a->f->app, &a->f->actor, a->id, &kp, &out, NULL);
    return NULL;
}

/* Starts an update of id that stalls right after its commit; returns once it is stalled. */
static void start_stalled_update(struct fixture *f, struct update_arg *a, pthread_t *t, const char *id)
{
    a->f = f;
    a->id = id;
    f->hold_action = "key.update";
    f->held = f->released = 0;
    assert_int_equal(pthread_create(t, NULL, update_thread, a), 0);
    pthread_mutex_lock(&f->mu);
    while (!f->held)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static void release(struct fixture *f, pthread_t t)
{
    pthread_mutex_lock(&f->mu);
    f->released = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    assert_int_equal(pthread_join(t, NULL), 0);
    f->hold_action = NULL;
}

/* Update commits, stalls; delete commits and leaves the cache; the update goes on: still gone. */
static void test_late_update_cannot_undelete(void **state)
{
    struct fixture *f = *state;
    char secret[KW_KEYFMT_MAX];
    struct update_arg a;
    struct kw_key k;
    pthread_t t;

    new_key(f, &k, secret);
    assert_int_equal(check(f, secret), KW_VERIFY_VALID);
    start_stalled_update(f, &a, &t, k.id);
    assert_int_equal(kw_keys_delete(&f->app, &f->actor, k.id), KW_OK);
    assert_int_equal(check(f, secret), KW_VERIFY_NOT_FOUND);
    release(f, t);
    assert_int_equal(a.err, KW_OK);
    assert_int_equal(check(f, secret), KW_VERIFY_NOT_FOUND);
}

/* The same window against a revoke: the key stays revoked. */
static void test_late_update_cannot_unrevoke(void **state)
{
    struct fixture *f = *state;
    char secret[KW_KEYFMT_MAX];
    struct update_arg a;
    struct kw_key k, out;
    pthread_t t;

    new_key(f, &k, secret);
    start_stalled_update(f, &a, &t, k.id);
    assert_int_equal(kw_keys_revoke(&f->app, &f->actor, k.id, &out), KW_OK);
    assert_int_equal(check(f, secret), KW_VERIFY_REVOKED);
    release(f, t);
    assert_int_equal(check(f, secret), KW_VERIFY_REVOKED);
}

/* A key created while its service is force-deleted: whichever order, the key is not in the cache. */
static void test_late_create_after_service_delete(void **state)
{
    struct fixture *f = *state;
    struct kw_service_params sp = {.name = "doomed"};
    struct kw_key_params kp;
    struct kw_service s;
    struct kw_key k;
    char secret[KW_KEYFMT_MAX];

    memset(&kp, 0, sizeof(kp));
    assert_int_equal(kw_services_create(&f->app, &f->actor, &sp, &s), KW_OK);
    assert_int_equal(kw_keys_create(&f->app, &f->actor, s.id, &kp, &k, secret), KW_OK);
    assert_int_equal(kw_services_delete(&f->app, &f->actor, s.id, 1), KW_OK);
    assert_int_equal(check(f, secret), KW_VERIFY_NOT_FOUND);
    /* the key's own (older) version arriving late changes nothing */
    assert_int_equal(kw_keycache_put(f->app.keys, &k), KW_OK);
    assert_int_equal(check(f, secret), KW_VERIFY_NOT_FOUND);
    assert_int_equal(kw_keys_create(&f->app, &f->actor, s.id, &kp, &k, secret), KW_ERR_NOT_FOUND);
}

#define ROLLERS 6

struct roll_arg {
    struct fixture *f;
    const char *id;
    pthread_barrier_t *go;
    enum kw_err err;
    const char *why;
    struct kw_key out;
};

static void *roll_thread(void *p)
{
    struct roll_arg *a = p;
    char secret[KW_KEYFMT_MAX];

    pthread_barrier_wait(a->go);
    a->err = kw_keys_roll(&a->f->app, &a->f->actor, a->id, 60, &a->out, secret, &a->why);
    return NULL;
}

static void test_parallel_rolls_one_successor(void **state)
{
    struct fixture *f = *state;
    struct roll_arg a[ROLLERS];
    pthread_t t[ROLLERS];
    pthread_barrier_t go;
    char secret[KW_KEYFMT_MAX], again[KW_KEYFMT_MAX];
    struct kw_key k, items[16], out;
    size_t n = 0, i, ok = 0, successors = 0;
    const char *why = NULL;

    new_key(f, &k, secret);
    f->app.after_commit = NULL;
    pthread_barrier_init(&go, NULL, ROLLERS);
    for (i = 0; i < ROLLERS; i++) {
        a[i] = (struct roll_arg){f, k.id, &go, KW_OK, NULL, {0}};
        assert_int_equal(pthread_create(&t[i], NULL, roll_thread, &a[i]), 0);
    }
    for (i = 0; i < ROLLERS; i++) {
        pthread_join(t[i], NULL);
        if (a[i].err == KW_OK)
            ok++;
        else {
            assert_int_equal(a[i].err, KW_ERR_CONFLICT);
            assert_string_equal(a[i].why, "KEY_ALREADY_ROLLED");
        }
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(ok, 1);
    assert_int_equal(kw_keys_list(&f->app, k.service_id, 0, items, 16, &n), KW_OK);
    for (i = 0; i < n; i++)
        successors += strcmp(items[i].rolled_from, k.id) == 0;
    assert_int_equal(successors, 1);
    /* a rolled-away key keeps the roll's expiry: it cannot be brought back */
    struct kw_key_params kp;
    memset(&kp, 0, sizeof(kp));
    kp.set_expires = 1;
    kp.expires_at = 0;
    assert_int_equal(kw_keys_update(&f->app, &f->actor, k.id, &kp, &out, &why), KW_ERR_CONFLICT);
    assert_string_equal(why, "KEY_ROLLED");
    assert_int_equal(kw_keys_roll(&f->app, &f->actor, k.id, 0, &out, again, &why), KW_ERR_CONFLICT);
    assert_string_equal(why, "KEY_ALREADY_ROLLED");
}

static void test_roll_of_expired_key_refused(void **state)
{
    struct fixture *f = *state;
    char secret[KW_KEYFMT_MAX];
    struct kw_key_params kp;
    struct kw_key k, out;
    const char *why = NULL;

    new_key(f, &k, secret);
    memset(&kp, 0, sizeof(kp));
    kp.set_expires = 1;
    kp.expires_at = kw_time_now_ms() + 50;
    assert_int_equal(kw_keys_update(&f->app, &f->actor, k.id, &kp, &out, NULL), KW_OK);
    sleep_ms(80);
    assert_int_equal(kw_keys_roll(&f->app, &f->actor, k.id, 0, &out, secret, &why), KW_ERR_CONFLICT);
    assert_string_equal(why, "KEY_EXPIRED");
}

struct login_arg {
    struct fixture *f;
    const char *password;
    enum kw_err err;
};

static void *login_thread(void *p)
{
    struct login_arg *a = p;
    char sid[KW_SESSION_ID_MAX];
    struct kw_session s;
    struct kw_user u;
    int64_t retry = 0;

    a->err = kw_accounts_login(&a->f->app, "carol", a->password, "127.0.0.1", "t", sid, &s, &u, &retry);
    return NULL;
}

/* The admin's change lands while the login is checking the password (Argon2 takes tens of ms). */
static void race_login(struct fixture *f, const struct kw_user_change *ch, const char *password)
{
    struct login_arg a = {f, password, KW_OK};
    struct kw_user u;
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, login_thread, &a), 0);
    sleep_ms(5);
    assert_int_equal(kw_accounts_user_update(&f->app, &f->actor, "carol", ch, &u, NULL), KW_OK);
    pthread_join(t, NULL);
}

static void test_login_cannot_undo_admin_change(void **state)
{
    struct fixture *f = *state;
    const char *pw = "correct horse battery", *pw2 = "another long password";
    struct kw_user_change disable, reset;
    int yes = 1, no = 0, i;
    struct kw_user u;

    f->app.after_commit = NULL;
    assert_int_equal(kw_accounts_user_create(&f->app, &f->actor, "carol", pw, "user", &u), KW_OK);
    memset(&disable, 0, sizeof(disable));
    memset(&reset, 0, sizeof(reset));
    for (i = 0; i < 4; i++) {
        disable.disabled = &yes;
        race_login(f, &disable, pw);
        assert_int_equal(kw_people_user_get(&f->app, "carol", &u), KW_OK);
        assert_int_equal(u.disabled, 1);
        disable.disabled = &no;
        assert_int_equal(kw_accounts_user_update(&f->app, &f->actor, "carol", &disable, &u, NULL), KW_OK);

        reset.password = (i % 2) ? pw : pw2;
        race_login(f, &reset, (i % 2) ? pw2 : pw);
        assert_int_equal(kw_people_user_get(&f->app, "carol", &u), KW_OK);
        assert_true(kw_crypto_password_verify(u.password_hash, reset.password, strlen(reset.password)));
    }
}

static void test_last_sysadmin_stays(void **state)
{
    struct fixture *f = *state;
    struct kw_user_change ch;
    struct kw_user u;
    const char *why = NULL;
    int yes = 1;

    f->app.after_commit = NULL;
    assert_int_equal(kw_accounts_user_create(&f->app, &f->actor, "alice", "alice password 1", "sysadmin", &u), KW_OK);
    memset(&ch, 0, sizeof(ch));
    ch.disabled = &yes;
    assert_int_equal(kw_accounts_user_update(&f->app, &f->actor, "alice", &ch, &u, &why), KW_ERR_CONFLICT);
    assert_string_equal(why, "LAST_SYSADMIN");
    memset(&ch, 0, sizeof(ch));
    ch.role = "user";
    why = NULL;
    assert_int_equal(kw_accounts_user_update(&f->app, &f->actor, "alice", &ch, &u, &why), KW_ERR_CONFLICT);
    assert_string_equal(why, "LAST_SYSADMIN");
    why = NULL;
    assert_int_equal(kw_accounts_user_delete(&f->app, &f->actor, "alice", &why), KW_ERR_CONFLICT);
    assert_string_equal(why, "LAST_SYSADMIN");
    assert_int_equal(kw_accounts_user_create(&f->app, &f->actor, "bob", "bob password 12", "sysadmin", &u), KW_OK);
    assert_int_equal(kw_accounts_user_update(&f->app, &f->actor, "alice", &ch, &u, NULL), KW_OK);
    assert_int_equal(kw_accounts_user_delete(&f->app, &f->actor, "bob", &why), KW_ERR_CONFLICT);
    assert_int_equal(kw_accounts_user_delete(&f->app, &f->actor, "alice", NULL), KW_OK);
}

/* A second node on the same store follows the first one's changes by version, whatever it reads twice. */
static void test_second_node_follows(void **state)
{
    struct fixture *f = *state;
    struct kw_app b;
    struct kw_sync *sync = NULL;
    char secret[KW_KEYFMT_MAX];
    struct kw_key k, out;
    struct kw_key_params kp;
    struct kw_verify_result r;

    f->app.after_commit = NULL;
    assert_int_equal(kw_app_open(&b, &f->cfg), KW_OK);
    assert_int_equal(kw_sync_start(&b, 0, 60000, &sync), KW_OK);
    new_key(f, &k, secret);
    kw_keycache_verify(b.keys, secret, strlen(secret), kw_time_now_ms(), NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_int_equal(kw_sync_once(sync), KW_OK);
    kw_keycache_verify(b.keys, secret, strlen(secret), kw_time_now_ms(), NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_VALID);
    memset(&kp, 0, sizeof(kp));
    kp.set_enabled = 1;
    kp.enabled = 0;
    assert_int_equal(kw_keys_update(&f->app, &f->actor, k.id, &kp, &out, NULL), KW_OK);
    assert_int_equal(kw_sync_once(sync), KW_OK);
    kw_keycache_verify(b.keys, secret, strlen(secret), kw_time_now_ms(), NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_DISABLED);
    assert_int_equal(kw_keys_delete(&f->app, &f->actor, k.id), KW_OK);
    assert_int_equal(kw_sync_once(sync), KW_OK);
    assert_int_equal(kw_sync_once(sync), KW_OK);
    kw_keycache_verify(b.keys, secret, strlen(secret), kw_time_now_ms(), NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    /* the first node's stale copy arriving now changes nothing on the second */
    assert_int_equal(kw_keycache_put(b.keys, &out), KW_OK);
    kw_keycache_verify(b.keys, secret, strlen(secret), kw_time_now_ms(), NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    kw_sync_free(sync);
    kw_app_close(&b);
}

int main(void)
{
    if (kw_crypto_init() != KW_OK)
        return 1;
    kw_log_set_level(KW_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_late_update_cannot_undelete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_update_cannot_unrevoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_create_after_service_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parallel_rolls_one_successor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roll_of_expired_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_cannot_undo_admin_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_last_sysadmin_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_node_follows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
