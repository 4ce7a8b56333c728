/* test_store_webhooks.c - the store contract for webhooks (store.h: webhooks), on SQLite and, when
 * KEYWARD_TEST_PG is set, on PostgreSQL: insert / get with every column (a NUL inside a sealed blob
 * survives, no previous secret reads as none), list per service with the keyset cursor, count (total and
 * enabled), update of every mutable column, deliveries (insert, get, newest-first list with its cursor,
 * retry makes a delivery pending and due), attempts in order (a duplicate n refused), delete removing the
 * webhook with its deliveries and attempts, a service's deletion removing its webhooks, and writes only
 * in write transactions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "store_fixture.h"

static void mk_hook(struct kw_webhook *w, const char *service_id, const char *url, int64_t t)
{
    size_t i;

    memset(w, 0, sizeof(*w));
    assert_int_equal(kw_id_new("wh", w->id), KW_OK);
    snprintf(w->service_id, sizeof(w->service_id), "%s", service_id);
    snprintf(w->url, sizeof(w->url), "%s", url);
    snprintf(w->events, sizeof(w->events), "[\"key.created\",\"key.revoked\"]");
    snprintf(w->description, sizeof(w->description), "ops hook");
    w->enabled = 1;
    w->secret_sealed_len = 129;
    for (i = 0; i < w->secret_sealed_len; i++)
        w->secret_sealed[i] = (uint8_t)(i * 3 + 1);
    w->secret_sealed[5] = 0;
    snprintf(w->created_by, sizeof(w->created_by), "alice");
    w->created_at = w->updated_at = t;
}

static void mk_delivery(struct kw_webhook_delivery *d, const struct kw_webhook *w, const char *type, int64_t t)
{
    memset(d, 0, sizeof(*d));
    assert_int_equal(kw_id_new("msg", d->id), KW_OK);
    snprintf(d->webhook_id, sizeof(d->webhook_id), "%s", w->id);
    snprintf(d->service_id, sizeof(d->service_id), "%s", w->service_id);
    snprintf(d->event_type, sizeof(d->event_type), "%s", type);
    snprintf(d->payload, sizeof(d->payload), "{\"type\":\"%s\",\"timestamp\":\"x\",\"data\":{}}", type);
    snprintf(d->state, sizeof(d->state), "pending");
    d->created_at = d->updated_at = d->next_attempt_at = t;
}

static void test_webhooks(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, s2;
    struct kw_webhook a, b, c, got, items[4];
    struct kw_tx *tx = NULL;
    int64_t total = -1, enabled = -1;
    size_t n = 9;

    mk_service(f->st, &s, "hooks");
    mk_service(f->st, &s2, "other");
    mk_hook(&a, s.id, "https://example.com/a", 10);
    assert_int_equal(AUTO(f->st, kw_store_webhook_insert(tx_, &a)), KW_OK);
    assert_true(a.seq > 0);
    mk_hook(&b, s.id, "http://example.com/b", 20);
    b.enabled = 0;
    snprintf(b.disabled_reason, sizeof(b.disabled_reason), "gone");
    assert_int_equal(AUTO(f->st, kw_store_webhook_insert(tx_, &b)), KW_OK);
    mk_hook(&c, s2.id, "https://example.org/c", 30);
    assert_int_equal(AUTO(f->st, kw_store_webhook_insert(tx_, &c)), KW_OK);
    got = a;
    assert_int_equal(AUTO(f->st, kw_store_webhook_insert(tx_, &got)), KW_ERR_EXISTS);

    assert_int_equal(AUTO(f->st, kw_store_webhook_get(tx_, a.id, &got)), KW_OK);
    assert_int_equal(got.seq, a.seq);
    assert_string_equal(got.service_id, s.id);
    assert_string_equal(got.url, a.url);
    assert_string_equal(got.events, a.events);
    assert_string_equal(got.description, "ops hook");
    assert_int_equal(got.enabled, 1);
    assert_string_equal(got.disabled_reason, "");
    assert_int_equal(got.secret_sealed_len, 129);
    assert_memory_equal(got.secret_sealed, a.secret_sealed, 129);
    assert_int_equal(got.prev_secret_sealed_len, 0);
    assert_int_equal(got.prev_secret_until, 0);
    assert_string_equal(got.created_by, "alice");
    assert_int_equal(got.created_at, 10);
    assert_int_equal(got.updated_at, 10);
    assert_int_equal(AUTO(f->st, kw_store_webhook_get(tx_, "wh_missing", &got)), KW_ERR_NOT_FOUND);

    assert_int_equal(AUTO(f->st, kw_store_webhook_list(tx_, s.id, 0, items, 4, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].id, a.id);
    assert_string_equal(items[1].id, b.id);
    assert_string_equal(items[1].disabled_reason, "gone");
    assert_int_equal(items[1].enabled, 0);
    assert_int_equal(AUTO(f->st, kw_store_webhook_list(tx_, s.id, a.seq, items, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, b.id);
    assert_int_equal(AUTO(f->st, kw_store_webhook_list(tx_, s.id, 0, items, 1, &n)), KW_OK);
    assert_int_equal(n, 1);

    assert_int_equal(AUTO(f->st, kw_store_webhook_count(tx_, s.id, &total, &enabled)), KW_OK);
    assert_int_equal(total, 2);
    assert_int_equal(enabled, 1);
    assert_int_equal(AUTO(f->st, kw_store_webhook_count(tx_, "svc_none", &total, NULL)), KW_OK);
    assert_int_equal(total, 0);

    /* update: every mutable column, a previous secret, then back to none */
    got = a;
    snprintf(got.url, sizeof(got.url), "https://example.com/new");
    snprintf(got.events, sizeof(got.events), "[\"token.revoked\"]");
    snprintf(got.description, sizeof(got.description), "changed");
    got.enabled = 0;
    snprintf(got.disabled_reason, sizeof(got.disabled_reason), "operator");
    memcpy(got.prev_secret_sealed, a.secret_sealed, a.secret_sealed_len);
    got.prev_secret_sealed_len = a.secret_sealed_len;
    got.secret_sealed[0] ^= 0xff;
    got.prev_secret_until = 99999;
    got.updated_at = 50;
    assert_int_equal(AUTO(f->st, kw_store_webhook_update(tx_, &got)), KW_OK);
    memset(&items[0], 0, sizeof(items[0]));
    assert_int_equal(AUTO(f->st, kw_store_webhook_get(tx_, a.id, &items[0])), KW_OK);
    assert_string_equal(items[0].url, "https://example.com/new");
    assert_string_equal(items[0].events, "[\"token.revoked\"]");
    assert_string_equal(items[0].description, "changed");
    assert_int_equal(items[0].enabled, 0);
    assert_string_equal(items[0].disabled_reason, "operator");
    assert_int_equal(items[0].secret_sealed[0], got.secret_sealed[0]);
    assert_int_equal(items[0].prev_secret_sealed_len, 129);
    assert_memory_equal(items[0].prev_secret_sealed, a.secret_sealed, 129);
    assert_int_equal(items[0].prev_secret_until, 99999);
    assert_int_equal(items[0].updated_at, 50);
    assert_int_equal(items[0].created_at, 10);
    got.prev_secret_sealed_len = 0;
    got.prev_secret_until = 0;
    assert_int_equal(AUTO(f->st, kw_store_webhook_update(tx_, &got)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_webhook_get(tx_, a.id, &items[0])), KW_OK);
    assert_int_equal(items[0].prev_secret_sealed_len, 0);
    snprintf(got.id, sizeof(got.id), "wh_missing");
    assert_int_equal(AUTO(f->st, kw_store_webhook_update(tx_, &got)), KW_ERR_NOT_FOUND);

    /* writes need a write transaction */
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &tx), KW_OK);
    assert_int_equal(kw_store_webhook_delete(tx, a.id), KW_ERR_INVALID);
    assert_int_equal(kw_store_webhook_count(tx, s.id, &total, NULL), KW_OK);
    kw_store_rollback(tx);

    /* a service's deletion takes its webhooks along */
    assert_int_equal(AUTO(f->st, kw_store_service_delete(tx_, s2.id, 1)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_webhook_get(tx_, c.id, &got)), KW_ERR_NOT_FOUND);

    assert_int_equal(AUTO(f->st, kw_store_webhook_delete(tx_, b.id)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delete(tx_, b.id)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_webhook_count(tx_, s.id, &total, &enabled)), KW_OK);
    assert_int_equal(total, 1);
    assert_int_equal(enabled, 0);
}

static void test_deliveries(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_webhook w, w2;
    struct kw_webhook_delivery d[3], got, items[4];
    struct kw_webhook_attempt at, ats[4];
    struct kw_tx *tx = NULL;
    size_t n = 9;
    int i;

    mk_service(f->st, &s, "hooks");
    mk_hook(&w, s.id, "https://example.com/a", 10);
    assert_int_equal(AUTO(f->st, kw_store_webhook_insert(tx_, &w)), KW_OK);
    mk_hook(&w2, s.id, "https://example.com/b", 10);
    assert_int_equal(AUTO(f->st, kw_store_webhook_insert(tx_, &w2)), KW_OK);
    for (i = 0; i < 3; i++) {
        mk_delivery(&d[i], &w, i == 1 ? "key.revoked" : "key.created", 100 + i);
        assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_insert(tx_, &d[i])), KW_OK);
        assert_true(d[i].seq > 0);
    }
    mk_delivery(&got, &w2, "key.created", 200);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_insert(tx_, &got)), KW_OK);

    memset(&got, 0, sizeof(got));
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_get(tx_, d[1].id, &got)), KW_OK);
    assert_int_equal(got.seq, d[1].seq);
    assert_string_equal(got.webhook_id, w.id);
    assert_string_equal(got.service_id, s.id);
    assert_string_equal(got.event_type, "key.revoked");
    assert_string_equal(got.payload, d[1].payload);
    assert_string_equal(got.state, "pending");
    assert_int_equal(got.attempts, 0);
    assert_int_equal(got.next_attempt_at, 101);
    assert_int_equal(got.created_at, 101);
    assert_string_equal(got.lease_owner, "");
    assert_int_equal(got.last_status, 0);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_get(tx_, "msg_missing", &got)), KW_ERR_NOT_FOUND);

    /* newest first, with the cursor */
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_list(tx_, w.id, 0, items, 2, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].id, d[2].id);
    assert_string_equal(items[1].id, d[1].id);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_list(tx_, w.id, items[1].seq, items, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, d[0].id);

    /* attempts in order; a duplicate n refused (the transaction lives on) */
    for (i = 2; i >= 1; i--) {
        memset(&at, 0, sizeof(at));
        snprintf(at.delivery_id, sizeof(at.delivery_id), "%s", d[0].id);
        at.n = i;
        at.at = 1000 + i;
        at.status = i == 1 ? 500 : 0;
        snprintf(at.error, sizeof(at.error), "%s", i == 1 ? "" : "timeout");
        at.duration_ms = 15000;
        snprintf(at.node, sizeof(at.node), "node-a");
        assert_int_equal(AUTO(f->st, kw_store_webhook_attempt_insert(tx_, &at)), KW_OK);
    }
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_webhook_attempt_insert(tx_, &at)), KW_ERR_EXISTS);
    assert_int_equal(AUTO(f->st, kw_store_webhook_attempt_list(tx_, d[0].id, ats, 4, &n)), KW_OK);
    assert_int_equal(tcommit(), KW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ats[0].n, 1);
    assert_int_equal(ats[0].status, 500);
    assert_string_equal(ats[0].error, "");
    assert_int_equal(ats[1].n, 2);
    assert_string_equal(ats[1].error, "timeout");
    assert_int_equal(ats[1].duration_ms, 15000);
    assert_int_equal(ats[1].at, 1002);
    assert_string_equal(ats[1].node, "node-a");
    assert_string_equal(ats[1].delivery_id, d[0].id);
    assert_int_equal(AUTO(f->st, kw_store_webhook_attempt_list(tx_, d[1].id, ats, 4, &n)), KW_OK);
    assert_int_equal(n, 0);

    /* retry: pending and due now, whatever state it was in */
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_retry(tx_, d[0].id, 5000)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_get(tx_, d[0].id, &got)), KW_OK);
    assert_string_equal(got.state, "pending");
    assert_int_equal(got.next_attempt_at, 5000);
    assert_int_equal(got.updated_at, 5000);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_retry(tx_, "msg_missing", 5000)), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &tx), KW_OK);
    assert_int_equal(kw_store_webhook_delivery_retry(tx, d[0].id, 1), KW_ERR_INVALID);
    assert_int_equal(kw_store_webhook_delivery_insert(tx, &got), KW_ERR_INVALID);
    kw_store_rollback(tx);

    /* delete takes the deliveries and their attempts along, not the other webhook's */
    assert_int_equal(AUTO(f->st, kw_store_webhook_delete(tx_, w.id)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_get(tx_, d[0].id, &got)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_webhook_attempt_list(tx_, d[0].id, ats, 4, &n)), KW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_list(tx_, w.id, 0, items, 4, &n)), KW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(AUTO(f->st, kw_store_webhook_delivery_list(tx_, w2.id, 0, items, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_webhooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliveries, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
