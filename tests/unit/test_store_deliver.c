/* test_store_deliver.c - the store contract for webhook delivery leases (store.h: delivery leases), on
 * SQLite and, when KEYWARD_TEST_PG is set, PostgreSQL: only due, pending, unleased deliveries of enabled
 * webhooks are leased (oldest first, at most cap, with the webhook's url and sealed secrets); a lease
 * blocks other nodes until it runs out; an attempt is recorded only while the lease holds (a late node's
 * result is refused and writes nothing); release gives leases back; 410 disables the webhook and fails
 * what is pending; and on PostgreSQL, handles racing to lease share the rows out without overlap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>

#include "store_fixture.h"

static void mk_hook(struct kw_store *st, struct kw_webhook *w, const char *service_id, int enabled)
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(kw_id_new("wh", w->id), KW_OK);
    snprintf(w->service_id, sizeof(w->service_id), "%s", service_id);
    snprintf(w->url, sizeof(w->url), "http://127.0.0.1:9/%s", w->id);
    snprintf(w->events, sizeof(w->events), "[\"key.created\"]");
    w->enabled = enabled;
    w->secret_sealed_len = 129;
    memset(w->secret_sealed, 0x5a, w->secret_sealed_len);
    w->secret_sealed[3] = 0;
    w->prev_secret_sealed_len = 129;
    memset(w->prev_secret_sealed, 0x33, w->prev_secret_sealed_len);
    w->prev_secret_until = 777;
    snprintf(w->created_by, sizeof(w->created_by), "root");
    w->created_at = w->updated_at = 1;
    assert_int_equal(AUTO(st, kw_store_webhook_insert(tx_, w)), KW_OK);
}

static void mk_delivery(struct kw_store *st, struct kw_webhook_delivery *d, const struct kw_webhook *w,
                        int64_t due)
{
    memset(d, 0, sizeof(*d));
    assert_int_equal(kw_id_new("msg", d->id), KW_OK);
    snprintf(d->webhook_id, sizeof(d->webhook_id), "%s", w->id);
    snprintf(d->service_id, sizeof(d->service_id), "%s", w->service_id);
    snprintf(d->event_type, sizeof(d->event_type), "key.created");
    snprintf(d->payload, sizeof(d->payload), "{\"type\":\"key.created\",\"data\":{\"id\":\"%s\"}}", d->id);
    snprintf(d->state, sizeof(d->state), "pending");
    d->created_at = d->updated_at = 1;
    d->next_attempt_at = due;
    assert_int_equal(AUTO(st, kw_store_webhook_delivery_insert(tx_, d)), KW_OK);
}

static struct kw_webhook_delivery get_delivery(struct kw_store *st, const char *id)
{
    struct kw_webhook_delivery d;

    assert_int_equal(AUTO(st, kw_store_webhook_delivery_get(tx_, id, &d)), KW_OK);
    return d;
}

static void test_lease_record(void **state)
{
    struct fixture *f = *state;
    static struct kw_delivery_lease l[8], l2[8];
    struct kw_service s;
    struct kw_webhook w, off;
    struct kw_webhook_delivery d1, d2, d3, dx, got;
    struct kw_webhook_attempt at[4];
    struct kw_delivery_attempt a = {.at = 1100, .duration_ms = 12, .status = 500, .error = "", .state = "pending",
                                    .next_attempt_at = 5000};
    struct kw_tx *rtx = NULL;
    size_t n = 99;

    mk_service(f->st, &s, "hooks");
    mk_hook(f->st, &w, s.id, 1);
    mk_hook(f->st, &off, s.id, 0);
    mk_delivery(f->st, &d2, &w, 200);
    mk_delivery(f->st, &d1, &w, 100);
    mk_delivery(f->st, &d3, &w, 5000); /* not due yet */
    mk_delivery(f->st, &dx, &off, 100); /* its webhook is disabled */

    /* node A leases what is due, oldest first, with the webhook's url and secrets */
    assert_int_equal(AUTO(f->st, kw_store_delivery_lease(tx_, "A", 1000, 60000, l, 8, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].id, d1.id);
    assert_string_equal(l[1].id, d2.id);
    assert_string_equal(l[0].webhook_id, w.id);
    assert_string_equal(l[0].service_id, s.id);
    assert_string_equal(l[0].event_type, "key.created");
    assert_string_equal(l[0].url, w.url);
    assert_string_equal(l[0].payload, d1.payload);
    assert_int_equal(l[0].payload_len, strlen(d1.payload));
    assert_int_equal(l[0].secret_len, 129);
    assert_memory_equal(l[0].secret_sealed, w.secret_sealed, 129);
    assert_int_equal(l[0].prev_len, 129);
    assert_memory_equal(l[0].prev_sealed, w.prev_secret_sealed, 129);
    assert_int_equal(l[0].prev_until, 777);
    assert_string_equal(l[0].node, "A");
    assert_int_equal(l[0].lease_until, 61000);
    assert_int_equal(l[0].attempts, 0);
    assert_int_equal(l[0].next_attempt_at, 100);
    got = get_delivery(f->st, d1.id);
    assert_string_equal(got.lease_owner, "A");
    assert_int_equal(got.lease_until, 61000);

    /* node B sees nothing while A's leases hold */
    assert_int_equal(AUTO(f->st, kw_store_delivery_lease(tx_, "B", 2000, 60000, l2, 8, &n)), KW_OK);
    assert_int_equal(n, 0);

    /* A records attempt 1 of d1: a 500, tried again at 5000 */
    assert_int_equal(AUTO(f->st, kw_store_delivery_record(tx_, &l[0], &a)), KW_OK);
    got = get_delivery(f->st, d1.id);
    assert_string_equal(got.state, "pending");
    assert_int_equal(got.attempts, 1);
    assert_int_equal(got.next_attempt_at, 5000);
    assert_int_equal(got.last_status, 500);
    assert_int_equal(got.lease_until, 0);
    assert_string_equal(got.lease_owner, "");
    assert_int_equal(AUTO(f->st, kw_store_webhook_attempt_list(tx_, d1.id, at, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(at[0].n, 1);
    assert_int_equal(at[0].at, 1100);
    assert_int_equal(at[0].status, 500);
    assert_int_equal(at[0].duration_ms, 12);
    assert_string_equal(at[0].node, "A");
    /* the same lease again: refused, nothing written */
    assert_int_equal(AUTO(f->st, kw_store_delivery_record(tx_, &l[0], &a)), KW_ERR_CONFLICT);
    assert_int_equal(get_delivery(f->st, d1.id).attempts, 1);

    /* A's lease on d2 runs out; B takes it over (the oldest due, cap 1); A's late result is refused */
    assert_int_equal(AUTO(f->st, kw_store_delivery_lease(tx_, "B", 61000, 60000, l2, 1, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(l2[0].id, d2.id);
    a.state = "delivered";
    a.status = 204;
    assert_int_equal(AUTO(f->st, kw_store_delivery_record(tx_, &l[1], &a)), KW_ERR_CONFLICT);
    assert_int_equal(AUTO(f->st, kw_store_delivery_record(tx_, &l2[0], &a)), KW_OK);
    got = get_delivery(f->st, d2.id);
    assert_string_equal(got.state, "delivered");
    assert_int_equal(got.attempts, 1);
    assert_int_equal(got.last_status, 204);
    assert_int_equal(AUTO(f->st, kw_store_webhook_attempt_list(tx_, d2.id, at, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(at[0].node, "B");
    /* delivered is never leased again */
    assert_int_equal(AUTO(f->st, kw_store_delivery_lease(tx_, "B", 999999, 60000, l2, 8, &n)), KW_OK);
    assert_int_equal(n, 2); /* d1 and d3, both due by now */

    /* release: B gives back one, then all; A has none to give */
    assert_int_equal(AUTO(f->st, kw_store_delivery_release(tx_, "B", d1.id, &(int64_t){0})), KW_OK);
    got = get_delivery(f->st, d1.id);
    assert_int_equal(got.lease_until, 0);
    int64_t released = -1;
    assert_int_equal(AUTO(f->st, kw_store_delivery_release(tx_, "A", NULL, &released)), KW_OK);
    assert_int_equal(released, 0);
    assert_int_equal(AUTO(f->st, kw_store_delivery_release(tx_, "B", NULL, &released)), KW_OK);
    assert_int_equal(released, 1);
    assert_int_equal(AUTO(f->st, kw_store_delivery_lease(tx_, "C", 999999, 60000, l, 1, &n)), KW_OK);
    assert_int_equal(n, 1); /* cap */

    /* writes only */
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &rtx), KW_OK);
    assert_int_equal(kw_store_delivery_lease(rtx, "A", 1, 1, l, 8, &n), KW_ERR_INVALID);
    assert_int_equal(kw_store_delivery_record(rtx, &l[0], &a), KW_ERR_INVALID);
    assert_int_equal(kw_store_delivery_release(rtx, "A", NULL, NULL), KW_ERR_INVALID);
    assert_int_equal(kw_store_webhook_gone(rtx, w.id, 1, NULL), KW_ERR_INVALID);
    kw_store_rollback(rtx);
}

static void test_gone(void **state)
{
    struct fixture *f = *state;
    static struct kw_delivery_lease l[4];
    struct kw_service s;
    struct kw_webhook w, other, got;
    struct kw_webhook_delivery d1, d2, d3;
    struct kw_delivery_attempt a = {.at = 2000, .duration_ms = 3, .status = 410, .error = "", .state = "failed"};
    int64_t failed = -1;
    size_t n = 0;

    mk_service(f->st, &s, "gone");
    mk_hook(f->st, &w, s.id, 1);
    mk_hook(f->st, &other, s.id, 1);
    mk_delivery(f->st, &d1, &w, 100);
    mk_delivery(f->st, &d2, &w, 9000);
    mk_delivery(f->st, &d3, &other, 9000);
    assert_int_equal(AUTO(f->st, kw_store_delivery_lease(tx_, "A", 1000, 60000, l, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
    /* the 410 attempt and the disable in one transaction */
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(kw_store_delivery_record(open_tx, &l[0], &a), KW_OK);
    assert_int_equal(kw_store_webhook_gone(open_tx, w.id, 2003, &failed), KW_OK);
    assert_int_equal(tcommit(), KW_OK);
    assert_int_equal(failed, 1);
    assert_int_equal(AUTO(f->st, kw_store_webhook_get(tx_, w.id, &got)), KW_OK);
    assert_int_equal(got.enabled, 0);
    assert_string_equal(got.disabled_reason, "gone");
    assert_int_equal(got.updated_at, 2003);
    assert_string_equal(get_delivery(f->st, d1.id).state, "failed");
    assert_int_equal(get_delivery(f->st, d1.id).last_status, 410);
    assert_string_equal(get_delivery(f->st, d2.id).state, "failed");
    assert_string_equal(get_delivery(f->st, d2.id).last_error, "gone");
    assert_string_equal(get_delivery(f->st, d3.id).state, "pending"); /* another webhook's */
    assert_int_equal(AUTO(f->st, kw_store_webhook_gone(tx_, "wh_nope", 1, NULL)), KW_ERR_NOT_FOUND);
}

/* Several handles (nodes) lease at once from 40 due rows: every row goes to exactly one. */
struct racer {
    struct kw_store *st;
    pthread_barrier_t *go;
    char node[8];
    struct kw_delivery_lease l[40];
    size_t n;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    size_t got = 0;

    pthread_barrier_wait(r->go);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(AUTO(r->st, kw_store_delivery_lease(tx_, r->node, 1000, 60000, r->l + r->n, 3, &got)),
                         KW_OK);
        r->n += got;
        if (r->n + 3 > 40)
            break;
    }
    return NULL;
}

static void test_lease_race(void **state)
{
    struct fixture *f = *state;
    static struct racer r[4];
    pthread_t t[4];
    pthread_barrier_t go;
    struct kw_service s;
    struct kw_webhook w;
    struct kw_webhook_delivery d;
    size_t i, j, k, m, total = 0;

    mk_service(f->st, &s, "race");
    mk_hook(f->st, &w, s.id, 1);
    for (i = 0; i < 40; i++)
        mk_delivery(f->st, &d, &w, 100 + (int64_t)i);
    pthread_barrier_init(&go, NULL, 4);
    for (i = 0; i < 4; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        assert_int_equal(tb_open(&f->e, &r[i].st), KW_OK);
        r[i].go = &go;
        snprintf(r[i].node, sizeof(r[i].node), "n%zu", i);
        pthread_create(&t[i], NULL, race, &r[i]);
    }
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    for (i = 0; i < 4; i++)
        total += r[i].n;
    assert_int_equal(total, 40);
    for (i = 0; i < 4; i++)
        for (j = 0; j < r[i].n; j++)
            for (k = i; k < 4; k++)
                for (m = k == i ? j + 1 : 0; m < r[k].n; m++)
                    assert_string_not_equal(r[i].l[j].id, r[k].l[m].id);
    for (i = 0; i < 4; i++)
        kw_store_free(r[i].st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lease_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_race, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
