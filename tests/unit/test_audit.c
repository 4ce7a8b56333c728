/* test_audit.c - the audit hash chain (domain/audit.c) and the audit rows of the store: canonical
 * form, chaining inside a transaction, verification against tampering through a raw connection,
 * and kw_store_audit_list filters and paging. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "domain/audit.h"
#include "store/store.h"
#include "store_auto.h"

struct fixture {
    char dir[64];
    struct kw_store *st;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/kwauditXXXXXX");
    if (mkdtemp(f->dir) == NULL || kw_crypto_init() != KW_OK)
        return -1;
    if (kw_store_open("sqlite", f->dir, &f->st) != KW_OK || kw_store_migrate(f->st, NULL, NULL) != KW_OK)
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

static void raw_exec(const char *dir, const char *sql)
{
    char path[128];
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/keyward.db", dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Appends n events (actions[i], actor "root" or "alice" alternating) in one transaction. */
static void chain(struct kw_store *st, struct kw_audit_event *ev, size_t n, const char *const *actions)
{
    size_t i;

    for (i = 0; i < n; i++) {
        kw_audit_event_init(&ev[i], "user", i % 2 ? "alice" : "root", actions[i], "key",
                            i < 2 ? "key_a" : "key_b", i < 3 ? "svc_1" : "svc_2", "success");
        ev[i].time = 1000 + (int64_t)i * 100;
        snprintf(ev[i].ip, sizeof(ev[i].ip), "10.0.0.%zu", i);
        snprintf(ev[i].request_id, sizeof(ev[i].request_id), "req-%zu", i);
        snprintf(ev[i].detail, sizeof(ev[i].detail), "{\"i\":%zu}", i);
    }
    assert_int_equal(tbegin(st), KW_OK);
    assert_int_equal(kw_audit_chain(open_tx, ev, n), KW_OK);
    assert_int_equal(tcommit(), KW_OK);
}

static void verify_is(struct kw_store *st, int64_t want_checked, int64_t want_broken)
{
    int64_t checked = -1, broken = -1;

    assert_int_equal(kw_audit_verify(st, &checked, &broken), KW_OK);
    assert_int_equal(broken, want_broken);
    assert_int_equal(checked, want_checked);
}

static const char *const five[] = {"key.create", "key.update", "service.create", "key.revoke", "auth.denied"};

static void put_len(uint8_t *buf, size_t *off, uint64_t v, int bytes)
{
    int i;
    for (i = bytes - 1; i >= 0; i--)
        buf[(*off)++] = (uint8_t)(v >> (i * 8));
}

static void put_s(uint8_t *buf, size_t *off, const char *s)
{
    put_len(buf, off, strlen(s), 4);
    memcpy(buf + *off, s, strlen(s));
    *off += strlen(s);
}

/* The canonical form as documented in audit.c, rebuilt independently: pins the on-disk format. */
static void test_hash_format(void **state)
{
    struct kw_audit_event e;
    uint8_t buf[2048], want[32], got[32];
    size_t off = 0;

    (void)state;
    kw_audit_event_init(&e, "root", "root", "key.create", "key", "key_x", "svc_y", "success");
    assert_true(strncmp(e.id, "evt_", 4) == 0);
    assert_true(e.time > 1600000000000LL);
    e.seq = 0x0102030405060708LL;
    e.time = -2;
    snprintf(e.ip, sizeof(e.ip), "::1");
    snprintf(e.request_id, sizeof(e.request_id), "r1");
    memset(e.prev_hash, 0xA5, sizeof(e.prev_hash));

    memcpy(buf, e.prev_hash, 32);
    off = 32;
    put_len(buf, &off, (uint64_t)e.seq, 8);
    put_s(buf, &off, e.id);
    put_len(buf, &off, (uint64_t)e.time, 8);
    put_s(buf, &off, "root");
    put_s(buf, &off, "root");
    put_s(buf, &off, "key.create");
    put_s(buf, &off, "key");
    put_s(buf, &off, "key_x");
    put_s(buf, &off, "svc_y");
    put_s(buf, &off, "success");
    put_s(buf, &off, "::1");
    put_s(buf, &off, "r1");
    put_s(buf, &off, "");
    assert_int_equal(kw_crypto_sha256(buf, off, want), KW_OK);
    assert_int_equal(kw_audit_hash(&e, got), KW_OK);
    assert_memory_equal(got, want, 32);
}

/* Every field, seq and prev_hash included, changes the hash; moving bytes between fields does too. */
static void test_hash_covers_every_field(void **state)
{
    struct kw_audit_event base, e;
    uint8_t h0[32], h[32];
    char *fields[11];
    size_t i;

    (void)state;
    kw_audit_event_init(&base, "root", "root", "key.create", "key", "key_x", "svc_y", "success");
    assert_int_equal(kw_audit_hash(&base, h0), KW_OK);
    e = base;
    e.seq++;
    assert_int_equal(kw_audit_hash(&e, h), KW_OK);
    assert_memory_not_equal(h, h0, 32);
    e = base;
    e.time++;
    assert_int_equal(kw_audit_hash(&e, h), KW_OK);
    assert_memory_not_equal(h, h0, 32);
    e = base;
    e.prev_hash[31] = 1;
    assert_int_equal(kw_audit_hash(&e, h), KW_OK);
    assert_memory_not_equal(h, h0, 32);
    e = base;
    e.hash[0] ^= 0xff; /* the stored hash is not an input */
    assert_int_equal(kw_audit_hash(&e, h), KW_OK);
    assert_memory_equal(h, h0, 32);
    for (i = 0; i < 11; i++) {
        e = base;
        fields[0] = e.id, fields[1] = e.actor_type, fields[2] = e.actor_id, fields[3] = e.action;
        fields[4] = e.target_type, fields[5] = e.target_id, fields[6] = e.service_id, fields[7] = e.outcome;
        fields[8] = e.ip, fields[9] = e.request_id, fields[10] = e.detail;
        fields[i][0] = fields[i][0] ? '\0' : 'x';
        assert_int_equal(kw_audit_hash(&e, h), KW_OK);
        assert_memory_not_equal(h, h0, 32);
    }
    /* "key" + ".create" vs "key." + "create" in adjacent fields: length prefixes keep them apart. */
    e = base;
    snprintf(e.target_type, sizeof(e.target_type), "ab");
    snprintf(e.target_id, sizeof(e.target_id), "c");
    assert_int_equal(kw_audit_hash(&e, h0), KW_OK);
    snprintf(e.target_type, sizeof(e.target_type), "a");
    snprintf(e.target_id, sizeof(e.target_id), "bc");
    assert_int_equal(kw_audit_hash(&e, h), KW_OK);
    assert_memory_not_equal(h, h0, 32);
    /* An unterminated field is read to its end only (no overread; ASan would see one). */
    e = base;
    memset(e.detail, 'd', sizeof(e.detail));
    memset(e.request_id, 'r', sizeof(e.request_id));
    assert_int_equal(kw_audit_hash(&e, h), KW_OK);
}

static void test_init_truncates_and_nulls(void **state)
{
    struct kw_audit_event e;
    char long_action[200];

    (void)state;
    memset(long_action, 'a', sizeof(long_action) - 1);
    long_action[sizeof(long_action) - 1] = '\0';
    kw_audit_event_init(&e, NULL, NULL, long_action, NULL, NULL, NULL, "denied");
    assert_string_equal(e.actor_type, "");
    assert_string_equal(e.target_id, "");
    assert_int_equal(strlen(e.action), sizeof(e.action) - 1);
    assert_string_equal(e.outcome, "denied");
    assert_int_equal(e.seq, 0);
}

static void test_chain_and_verify(void **state)
{
    struct fixture *f = *state;
    struct kw_audit_event ev[5], more[2], got[8];
    struct kw_audit_filter flt;
    uint8_t zero[32], head_hash[32];
    int64_t head = -1;
    size_t n = 0, i;

    memset(zero, 0, sizeof(zero));
    verify_is(f->st, 0, 0); /* empty log is intact */
    assert_int_equal(AUTO(f->st, kw_store_audit_head(tx_, &head, head_hash)), KW_OK);
    assert_int_equal(head, 0);
    assert_memory_equal(head_hash, zero, 32);

    chain(f->st, ev, 5, five);
    for (i = 0; i < 5; i++)
        assert_int_equal(ev[i].seq, (int64_t)i + 1);
    assert_memory_equal(ev[0].prev_hash, zero, 32);
    for (i = 1; i < 5; i++)
        assert_memory_equal(ev[i].prev_hash, ev[i - 1].hash, 32);
    assert_int_equal(AUTO(f->st, kw_store_audit_head(tx_, &head, head_hash)), KW_OK);
    assert_int_equal(head, 5);
    assert_memory_equal(head_hash, ev[4].hash, 32);
    verify_is(f->st, 5, 0);

    /* Rows round-trip exactly. */
    memset(&flt, 0, sizeof(flt));
    assert_int_equal(AUTO(f->st, kw_store_audit_list(tx_, &flt, got, 8, &n)), KW_OK);
    assert_int_equal(n, 5);
    for (i = 0; i < 5; i++)
        assert_memory_equal(&got[i], &ev[4 - i], sizeof(got[i]));

    /* A rolled-back chain leaves the head where it was; the next one continues from it. */
    kw_audit_event_init(&more[0], "root", "root", "x.y", NULL, NULL, NULL, "success");
    assert_int_equal(tbegin(f->st), KW_OK);
    assert_int_equal(kw_audit_chain(open_tx, more, 1), KW_OK);
    trollback();
    chain(f->st, more, 2, five);
    assert_int_equal(more[0].seq, 6);
    assert_memory_equal(more[0].prev_hash, ev[4].hash, 32);
    verify_is(f->st, 7, 0);
    /* Appending the same event twice is refused (unique id and seq). */
    assert_int_equal(AUTO(f->st, kw_store_audit_append(tx_, &more[1])), KW_ERR_EXISTS);
}

static void test_tamper_detail(void **state)
{
    struct fixture *f = *state;
    struct kw_audit_event ev[5];

    chain(f->st, ev, 5, five);
    raw_exec(f->dir, "UPDATE audit SET detail = '{\"i\":9}' WHERE seq = 3");
    verify_is(f->st, 3, 3);
}

static void test_tamper_rehash_one_row(void **state)
{
    struct fixture *f = *state;
    struct kw_audit_event ev[5];
    char sql[256], hex[65];

    /* A forger who rewrites a row and recomputes its hash still breaks the next link. */
    chain(f->st, ev, 5, five);
    snprintf(ev[1].outcome, sizeof(ev[1].outcome), "failure");
    assert_int_equal(kw_audit_hash(&ev[1], ev[1].hash), KW_OK);
    kw_crypto_hex(ev[1].hash, 32, hex);
    snprintf(sql, sizeof(sql), "UPDATE audit SET outcome = 'failure', hash = x'%s' WHERE seq = 2", hex);
    raw_exec(f->dir, sql);
    verify_is(f->st, 3, 3);
}

static void test_tamper_gap_and_reorder(void **state)
{
    struct fixture *f = *state;
    struct kw_audit_event ev[5];

    chain(f->st, ev, 5, five);
    raw_exec(f->dir, "DELETE FROM audit WHERE seq = 2");
    verify_is(f->st, 2, 3);                                     /* seq 3 follows seq 1 */
    raw_exec(f->dir, "UPDATE audit SET seq = 2 WHERE seq = 3"); /* close the gap: the link is still wrong */
    verify_is(f->st, 2, 2);
}

static void test_tamper_swap(void **state)
{
    struct fixture *f = *state;
    struct kw_audit_event ev[5];

    chain(f->st, ev, 5, five);
    raw_exec(f->dir, "UPDATE audit SET seq = -4 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 5; "
                     "UPDATE audit SET seq = 5 WHERE seq = -4;");
    verify_is(f->st, 4, 4);
    raw_exec(f->dir, "UPDATE audit SET seq = 0 WHERE seq = 1");
    verify_is(f->st, 1, -1); /* a forged seq 0 is reported, never as "intact" */
}

static size_t list(struct kw_store *st, const struct kw_audit_filter *flt, struct kw_audit_event *got,
                   size_t cap)
{
    size_t n = 999;

    assert_int_equal(AUTO(st, kw_store_audit_list(tx_, flt, got, cap, &n)), KW_OK);
    assert_true(n <= cap);
    return n;
}

static void test_list_filters(void **state)
{
    struct fixture *f = *state;
    static const char *const acts[] = {"key.create", "key.update", "service.create", "key%x.y",
                                       "key_x.z",    "keyAx.z",    "auth.denied",    "key.revoke"};
    struct kw_audit_event ev[8], got[10];
    struct kw_audit_filter flt;

    chain(f->st, ev, 8, acts);
    memset(&flt, 0, sizeof(flt));
    assert_int_equal(list(f->st, &flt, got, 10), 8);
    assert_int_equal(got[0].seq, 8); /* newest first */
    assert_int_equal(got[7].seq, 1);

    flt.action = "key.create"; /* exact */
    assert_int_equal(list(f->st, &flt, got, 10), 1);
    flt.action = "key"; /* exact: no implicit prefix */
    assert_int_equal(list(f->st, &flt, got, 10), 0);
    flt.action = "key.*";
    assert_int_equal(list(f->st, &flt, got, 10), 3);
    assert_int_equal(got[0].seq, 8);
    assert_int_equal(got[2].seq, 1);
    flt.action = "key."; /* exact too: only a trailing '*' asks for a prefix */
    assert_int_equal(list(f->st, &flt, got, 10), 0);
    flt.action = "key%*"; /* '%' is literal */
    assert_int_equal(list(f->st, &flt, got, 10), 1);
    assert_int_equal(got[0].seq, 4);
    flt.action = "key_*"; /* '_' is literal */
    assert_int_equal(list(f->st, &flt, got, 10), 1);
    assert_int_equal(got[0].seq, 5);
    flt.action = "*";
    assert_int_equal(list(f->st, &flt, got, 10), 8);
    flt.action = NULL;

    flt.actor_id = "alice";
    assert_int_equal(list(f->st, &flt, got, 10), 4);
    flt.actor_id = NULL;
    flt.target_id = "key_a";
    assert_int_equal(list(f->st, &flt, got, 10), 2);
    flt.target_id = NULL;
    flt.service_id = "svc_1";
    assert_int_equal(list(f->st, &flt, got, 10), 3);
    flt.action = "key.*"; /* combined */
    assert_int_equal(list(f->st, &flt, got, 10), 2);
    flt.actor_id = "root";
    assert_int_equal(list(f->st, &flt, got, 10), 1);
    assert_int_equal(got[0].seq, 1);
    memset(&flt, 0, sizeof(flt));

    flt.since = 1200; /* times are 1000, 1100, ... 1700; since inclusive, until exclusive */
    flt.until = 1500;
    assert_int_equal(list(f->st, &flt, got, 10), 3);
    assert_int_equal(got[0].seq, 5);
    assert_int_equal(got[2].seq, 3);
    flt.until = 0;
    assert_int_equal(list(f->st, &flt, got, 10), 6);
    flt.since = 0;
    flt.until = 1000;
    assert_int_equal(list(f->st, &flt, got, 10), 0);
}

static void test_list_paging(void **state)
{
    struct fixture *f = *state;
    static const char *const acts[] = {"a.1", "b.1", "a.2", "b.2", "a.3", "b.3", "a.4", "b.4", "a.5"};
    struct kw_audit_event ev[9], got[4];
    struct kw_audit_filter flt;
    int64_t seen[9];
    size_t n, total = 0, i, pages = 0;

    chain(f->st, ev, 9, acts);
    memset(&flt, 0, sizeof(flt));
    do { /* pages of 3, asking for 4 to learn whether there is a next page */
        n = list(f->st, &flt, got, 4);
        for (i = 0; i < n && i < 3; i++)
            seen[total++] = got[i].seq;
        if (n > 3)
            flt.before_seq = got[2].seq;
        pages++;
    } while (n > 3);
    assert_int_equal(pages, 3);
    assert_int_equal(total, 9);
    for (i = 0; i < 9; i++)
        assert_int_equal(seen[i], 9 - (int64_t)i);

    flt.action = "a.*"; /* paging with a filter: before_seq is a seq, not an offset */
    flt.before_seq = 0;
    assert_int_equal(list(f->st, &flt, got, 2), 2);
    assert_int_equal(got[1].seq, 7);
    flt.before_seq = got[1].seq;
    assert_int_equal(list(f->st, &flt, got, 4), 3);
    assert_int_equal(got[0].seq, 5);
    assert_int_equal(got[2].seq, 1);
    assert_int_equal(list(f->st, &flt, got, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_covers_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_init_truncates_and_nulls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_rehash_one_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_gap_and_reorder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
