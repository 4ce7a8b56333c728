/* test_writer.c - the write-behind writer: a failed flush keeps its batch (events in order, last use and
 * usage counts) and the next one writes it exactly once; the queue cap is exact; concurrent appends and
 * verifications add up; refusals are aggregated per (ip, reason, actor, action) and minute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/audit.h"
#include "domain/denials.h"
#include "domain/keycache.h"
#include "domain/keyfmt.h"
#include "domain/writer.h"
#include "store/store.h"
#include "store_auto.h"

struct fixture {
    char dir[64];
    int mounted;
    struct kw_store *st, *wb;
    struct kw_keycache *kc;
    struct kw_key key;
    char secret[KW_KEYFMT_MAX];
};

static void fixture_open(struct fixture *f)
{
    struct kw_service svc;

    assert_int_equal(kw_crypto_init(), KW_OK);
    assert_int_equal(kw_store_open("sqlite", f->dir, &f->st), KW_OK);
    assert_int_equal(kw_store_migrate(f->st, NULL, NULL), KW_OK);
    memset(&svc, 0, sizeof(svc));
    assert_int_equal(kw_id_new("svc", svc.id), KW_OK);
    snprintf(svc.name, sizeof(svc.name), "writer test");
    snprintf(svc.key_prefix, sizeof(svc.key_prefix), "kw");
    svc.created_at = svc.updated_at = kw_time_now_ms();
    assert_int_equal(AUTO(f->st, kw_store_service_insert(tx_, &svc)), KW_OK);

    memset(&f->key, 0, sizeof(f->key));
    assert_int_equal(kw_keyfmt_generate("kw", f->secret), KW_OK);
    assert_int_equal(kw_crypto_sha256(f->secret, strlen(f->secret), f->key.hash), KW_OK);
    assert_int_equal(kw_id_new("key", f->key.id), KW_OK);
    snprintf(f->key.service_id, sizeof(f->key.service_id), "%s", svc.id);
    snprintf(f->key.start, sizeof(f->key.start), "kw_test");
    snprintf(f->key.created_by, sizeof(f->key.created_by), "root");
    f->key.enabled = 1;
    f->key.archive_after_extract_s = -1;
    f->key.created_at = f->key.updated_at = svc.created_at;
    assert_int_equal(AUTO(f->st, kw_store_key_insert(tx_, &f->key)), KW_OK);
    assert_int_equal(kw_keycache_new(&f->kc), KW_OK);
    assert_int_equal(kw_keycache_put(f->kc, &f->key), KW_OK);
    assert_int_equal(kw_store_open_relaxed(f->st, &f->wb), KW_OK);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/kwwriterXXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    kw_store_free(f->wb);
    kw_store_free(f->st);
    kw_keycache_free(f->kc);
    if (f->mounted)
        umount2(f->dir, MNT_DETACH);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void queue_event(struct kw_writer *w, const char *tag, int i, size_t detail_bytes)
{
    struct kw_audit_event ev;
    char target[32];

    snprintf(target, sizeof(target), "%s%06d", tag, i);
    kw_audit_event_init(&ev, "system", "test", "test.event", "thing", target, NULL, "success");
    if (detail_bytes > 0) {
        memset(ev.detail, 'x', detail_bytes < sizeof(ev.detail) ? detail_bytes : sizeof(ev.detail) - 1);
        ev.detail[0] = '"';
        ev.detail[(detail_bytes < sizeof(ev.detail) ? detail_bytes : sizeof(ev.detail) - 1) - 1] = '"';
    }
    kw_writer_audit(w, &ev);
}

/* Stored test.event targets, in seq order. */
struct seen {
    char (*targets)[KW_ACTOR_MAX];
    size_t n, cap;
    int64_t denied_count;
    size_t denied_events;
};

static int collect(void *ctx, const struct kw_audit_event *e)
{
    struct seen *s = ctx;

    if (strcmp(e->action, "auth.denied") == 0) {
        json_t *d = json_loads(e->detail, 0, NULL);
        assert_non_null(d);
        s->denied_count += json_integer_value(json_object_get(d, "count"));
        s->denied_events++;
        json_decref(d);
    }
    if (strcmp(e->action, "test.event") != 0)
        return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->targets = realloc(s->targets, s->cap * sizeof(*s->targets));
        assert_non_null(s->targets);
    }
    snprintf(s->targets[s->n++], KW_ACTOR_MAX, "%s", e->target_id);
    return 0;
}

static void read_back(struct fixture *f, struct seen *s)
{
    int64_t checked = 0, broken = -2;

    memset(s, 0, sizeof(*s));
    assert_int_equal(AUTO(f->st, kw_store_audit_each(tx_, collect, s)), KW_OK);
    assert_int_equal(kw_audit_verify(f->st, &checked, &broken), KW_OK);
    assert_int_equal(broken, 0);
}

/* Every event of tag 0..n, once, in order, starting at *at. */
static void expect_in_order(const struct seen *s, size_t *at, const char *tag, int n)
{
    char want[32];
    int i;

    for (i = 0; i < n; i++, (*at)++) {
        snprintf(want, sizeof(want), "%s%06d", tag, i);
        assert_true(*at < s->n);
        assert_string_equal(s->targets[*at], want);
    }
}

static int64_t usage_valid(struct fixture *f)
{
    struct kw_usage_point pts[16];
    size_t n = 0, i;
    int64_t sum = 0;

    assert_int_equal(AUTO(f->st, kw_store_usage_list(tx_, f->key.service_id, 0, pts, 16, &n)), KW_OK);
    for (i = 0; i < n; i++)
        sum += pts[i].valid;
    return sum;
}

static void use_key(struct fixture *f, int times, int64_t at, const char *ip)
{
    struct kw_verify_result r;
    int i;

    for (i = 0; i < times; i++) {
        kw_keycache_verify(f->kc, f->secret, strlen(f->secret), at, ip, NULL, &r);
        assert_int_equal(r.code, KW_VERIFY_VALID);
    }
}

static void wait_failures(struct kw_writer *w, uint64_t at_least)
{
    struct kw_writer_stats st;
    int i;

    for (i = 0; i < 3000; i++) {
        kw_writer_stats(w, &st);
        if (st.flush_failures >= at_least)
            return;
        usleep(10000);
    }
    fail_msg("the flush never failed");
}

/* Retries until a flush succeeds (the one in progress may still be the failing one). */
static void flush_ok(struct kw_writer *w)
{
    int i;

    for (i = 0; i < 5; i++) {
        if (kw_writer_flush(w) == KW_OK)
            return;
    }
    fail_msg("the flush kept failing after the store recovered");
}

/* Another connection holds the write lock (SQLITE_BUSY after the busy timeout): runs everywhere. */
static void test_busy_flush_keeps_batch(void **state)
{
    struct fixture *f = *state;
    struct kw_store *blocker;
    struct kw_writer *w;
    struct kw_writer_stats st;
    struct kw_key k;
    struct seen s;
    size_t at = 0;
    int64_t t1 = kw_time_now_ms(), t2 = t1 + 1500;

    fixture_open(f);
    assert_int_equal(kw_store_open("sqlite", f->dir, &blocker), KW_OK);
    assert_int_equal(tbegin(blocker), KW_OK);
    assert_int_equal(kw_writer_start(f->wb, f->kc, 20, &w), KW_OK);
    for (int i = 0; i < 300; i++)
        queue_event(w, "a", i, 0);
    use_key(f, 7, t1, "10.0.0.1");
    wait_failures(w, 1);
    /* More while the batch waits: they must land after it. */
    for (int i = 0; i < 200; i++)
        queue_event(w, "b", i, 0);
    use_key(f, 3, t2, "10.0.0.2");
    kw_writer_stats(w, &st);
    assert_int_equal(st.queue_depth, 500);
    trollback();
    kw_store_free(blocker);
    flush_ok(w);
    kw_writer_stats(w, &st);
    assert_int_equal(st.queue_depth, 0);
    assert_int_equal(st.dropped_audit, 0);
    assert_int_equal(st.dropped_usage, 0);
    kw_writer_free(w);

    read_back(f, &s);
    expect_in_order(&s, &at, "a", 300);
    expect_in_order(&s, &at, "b", 200);
    assert_int_equal(at, s.n);
    free(s.targets);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, f->key.id, &k)), KW_OK);
    assert_int_equal(k.last_used_at, t2);
    assert_string_equal(k.last_used_ip, "10.0.0.2");
    assert_int_equal(usage_valid(f), 10);
}

static int fill_fs(const char *dir)
{
    char path[128], buf[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/filler", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    memset(buf, 0xAA, sizeof(buf));
    while (write(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
    return 0;
}

/* The real-world repro: the data directory's file system is full. Needs mount(2) (root); skipped
 * otherwise. A failure here happens mid-transaction, after the cache's touches were drained. */
static void test_disk_full_flush_keeps_batch(void **state)
{
    struct fixture *f = *state;
    struct kw_writer *w;
    struct kw_writer_stats st;
    struct kw_key k;
    struct seen s;
    char path[128];
    size_t at = 0;
    int64_t t1 = kw_time_now_ms();

    if (mount("tmpfs", f->dir, "tmpfs", 0, "size=16m") != 0) {
        fprintf(stderr, "# mount tmpfs: %s: skipped\n", strerror(errno));
        skip();
    }
    f->mounted = 1;
    fixture_open(f);
    assert_int_equal(kw_writer_start(f->wb, f->kc, 3600000, &w), KW_OK);
    assert_int_equal(fill_fs(f->dir), 0);
    for (int i = 0; i < 3000; i++)
        queue_event(w, "d", i, 400);
    use_key(f, 5, t1, "10.0.0.5");
    assert_int_not_equal(kw_writer_flush(w), KW_OK);
    assert_int_not_equal(kw_writer_flush(w), KW_OK); /* still full: retried, still kept */
    kw_writer_stats(w, &st);
    assert_true(st.flush_failures >= 2);
    assert_int_equal(st.queue_depth, 3000);
    snprintf(path, sizeof(path), "%s/filler", f->dir);
    assert_int_equal(unlink(path), 0);
    flush_ok(w);
    kw_writer_free(w);

    read_back(f, &s);
    expect_in_order(&s, &at, "d", 3000);
    assert_int_equal(at, s.n);
    free(s.targets);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, f->key.id, &k)), KW_OK);
    assert_int_equal(k.last_used_at, t1);
    assert_string_equal(k.last_used_ip, "10.0.0.5");
    assert_int_equal(usage_valid(f), 5);
}

/* KW_WRITER_QUEUE_MAX is exact: checked on every append, not only when the queue grows. */
static void test_queue_cap_is_exact(void **state)
{
    struct fixture *f = *state;
    struct kw_writer *w;
    struct kw_writer_stats st;
    uint8_t head[KW_HASH_LEN];
    int64_t seq = 0;

    fixture_open(f);
    assert_int_equal(kw_writer_start(f->wb, f->kc, 3600000, &w), KW_OK); /* no flush until free */
    for (int i = 0; i < KW_WRITER_QUEUE_MAX + 10; i++)
        queue_event(w, "c", i, 0);
    kw_writer_stats(w, &st);
    assert_int_equal(st.queue_depth, KW_WRITER_QUEUE_MAX);
    assert_int_equal(st.dropped_audit, 10);
    assert_int_equal(kw_writer_dropped(w), 10);
    kw_writer_free(w);
    assert_int_equal(AUTO(f->st, kw_store_audit_head(tx_, &seq, head)), KW_OK);
    assert_int_equal(seq, KW_WRITER_QUEUE_MAX);
}

#define NTHREADS 4
#define PER_THREAD 5000
#define VERIFIES 20000

struct worker {
    struct kw_writer *w;
    struct fixture *f;
    int id;
};

static void *append_main(void *arg)
{
    struct worker *wk = arg;
    char tag[8];

    snprintf(tag, sizeof(tag), "t%d-", wk->id);
    for (int i = 0; i < PER_THREAD; i++)
        queue_event(wk->w, tag, i, 0);
    return NULL;
}

static void *verify_main(void *arg)
{
    struct worker *wk = arg;
    struct kw_verify_result r;

    for (int i = 0; i < VERIFIES; i++)
        kw_keycache_verify(wk->f->kc, wk->f->secret, strlen(wk->f->secret), kw_time_now_ms(), "10.1.1.1", NULL, &r);
    return NULL;
}

/* Appends from several threads and verifications while the writer flushes every 2 ms: every event
 * once, each thread's in its order, usage exactly the number of verifications. */
static void test_concurrent_totals(void **state)
{
    struct fixture *f = *state;
    struct kw_writer *w;
    pthread_t th[NTHREADS + 1];
    struct worker wk[NTHREADS + 1];
    struct seen s;
    size_t next[NTHREADS] = {0}, i;

    fixture_open(f);
    assert_int_equal(kw_writer_start(f->wb, f->kc, 2, &w), KW_OK);
    for (i = 0; i <= NTHREADS; i++) {
        wk[i] = (struct worker){w, f, (int)i};
        assert_int_equal(pthread_create(&th[i], NULL, i < NTHREADS ? append_main : verify_main, &wk[i]), 0);
    }
    for (i = 0; i <= NTHREADS; i++)
        pthread_join(th[i], NULL);
    kw_writer_free(w);

    read_back(f, &s);
    assert_int_equal(s.n, NTHREADS * PER_THREAD);
    for (i = 0; i < s.n; i++) {
        char want[32];
        int t = s.targets[i][1] - '0';
        assert_true(t >= 0 && t < NTHREADS);
        snprintf(want, sizeof(want), "t%d-%06zu", t, next[t]++);
        assert_string_equal(s.targets[i], want);
    }
    free(s.targets);
    assert_int_equal(usage_valid(f), VERIFIES);
}

static void deny(struct kw_denials *d, const char *ip, const char *reason, const char *path, const char *rid,
                 int64_t now)
{
    struct kw_denial in = {
        ip, reason, "auth.denied", "anonymous", "anonymous", path, path ? strlen(path) : 0, rid, now};
    assert_int_equal(kw_denials_record(d, &in), 1);
}

struct emitted {
    struct kw_audit_event ev[256];
    size_t n;
};

static void on_emit(void *ctx, const struct kw_audit_event *ev)
{
    struct emitted *e = ctx;
    assert_true(e->n < 256);
    e->ev[e->n++] = *ev;
}

static const struct kw_audit_event *find(const struct emitted *e, const char *ip, const char *code)
{
    for (size_t i = 0; i < e->n; i++) {
        json_t *d = json_loads(e->ev[i].detail, 0, NULL);
        int hit = d != NULL && strcmp(e->ev[i].ip, ip) == 0 &&
                  strcmp(json_string_value(json_object_get(d, "code")), code) == 0;
        json_decref(d);
        if (hit)
            return &e->ev[i];
    }
    return NULL;
}

static json_int_t count_of(const struct kw_audit_event *ev)
{
    json_t *d = json_loads(ev->detail, 0, NULL);
    json_int_t n;

    assert_non_null(d);
    n = json_integer_value(json_object_get(d, "count"));
    json_decref(d);
    return n;
}

/* One event per (ip, reason) per minute, emitted once the minute has closed, with the first sample. */
static void test_denials_aggregate_per_minute(void **state)
{
    struct kw_denials *d;
    struct emitted *e = calloc(1, sizeof(*e));
    const struct kw_audit_event *ev;
    int64_t m = 1700000040000LL; /* a minute start */
    json_t *detail;
    (void)state;

    assert_int_equal(kw_crypto_init(), KW_OK);
    assert_int_equal(kw_denials_new(0, &d), KW_OK);
    deny(d, "10.0.0.1", "UNAUTHENTICATED", "/api/v1/services", "rid-first", m + 10);
    for (int i = 0; i < 999; i++)
        deny(d, "10.0.0.1", "UNAUTHENTICATED", "/api/v1/other", "rid-later", m + 20 + i);
    for (int i = 0; i < 500; i++)
        deny(d, "10.0.0.1", "NOT_FOUND", "/api/v1/services", "rid-nf", m + 100);
    for (int i = 0; i < 300; i++)
        deny(d, "10.0.0.2", "UNAUTHENTICATED", "/x", "rid-b", m + 200);
    deny(d, "10.0.0.1", "UNAUTHENTICATED", "/next", "rid-next", m + 60000); /* the next minute */
    assert_int_equal(kw_denials_collect(d, m + 59999, 0, on_emit, e), 0);   /* still open */
    assert_int_equal(kw_denials_collect(d, m + 60000, 0, on_emit, e), 3);
    ev = find(e, "10.0.0.1", "UNAUTHENTICATED");
    assert_non_null(ev);
    assert_int_equal(count_of(ev), 1000);
    assert_string_equal(ev->action, "auth.denied");
    assert_string_equal(ev->outcome, "denied");
    assert_string_equal(ev->actor_type, "anonymous");
    assert_string_equal(ev->request_id, "rid-first");
    assert_true(ev->time >= kw_time_now_ms() - 60000); /* recorded now, after the minute */
    detail = json_loads(ev->detail, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(detail, "sample"), "path")),
                        "/api/v1/services");
    assert_string_equal(json_string_value(json_object_get(json_object_get(detail, "sample"), "requestId")),
                        "rid-first");
    assert_string_equal(json_string_value(json_object_get(json_object_get(detail, "sample"), "time")),
                        "2023-11-14T22:14:00.010Z");
    json_decref(detail);
    assert_int_equal(count_of(find(e, "10.0.0.1", "NOT_FOUND")), 500);
    assert_int_equal(count_of(find(e, "10.0.0.2", "UNAUTHENTICATED")), 300);
    e->n = 0;
    assert_int_equal(kw_denials_collect(d, m + 60001, 0, on_emit, e), 0); /* nothing twice */
    assert_int_equal(kw_denials_collect(d, m + 60001, 1, on_emit, e), 1); /* shutdown: the open minute */
    assert_int_equal(count_of(&e->ev[0]), 1);
    assert_string_equal(e->ev[0].request_id, "rid-next");
    kw_denials_free(d);
    free(e);
}

/* Beyond the bucket bound, refusals fold into one overflow bucket per reason: the counts add up. */
static void test_denials_bounded_with_overflow(void **state)
{
    struct kw_denials *d;
    struct emitted *e = calloc(1, sizeof(*e));
    int64_t m = 1700000040000LL, total = 0;
    size_t overflow = 0, i;
    char ip[32];
    (void)state;

    assert_int_equal(kw_crypto_init(), KW_OK);
    assert_int_equal(kw_denials_new(100, &d), KW_OK);
    for (i = 0; i < 250; i++) {
        snprintf(ip, sizeof(ip), "10.9.%zu.%zu", i / 200, i % 200);
        deny(d, ip, "FORBIDDEN", "/p", "r", m + 1);
        deny(d, ip, "FORBIDDEN", "/p", "r", m + 2);
    }
    assert_int_equal(kw_denials_collect(d, m + 60000, 0, on_emit, e), 101);
    for (i = 0; i < e->n; i++) {
        json_t *dt = json_loads(e->ev[i].detail, 0, NULL);
        assert_non_null(dt);
        total += json_integer_value(json_object_get(dt, "count"));
        if (json_is_true(json_object_get(dt, "overflow"))) {
            overflow++;
            assert_string_equal(e->ev[i].ip, "");
            assert_int_equal(json_integer_value(json_object_get(dt, "count")), 300);
        }
        json_decref(dt);
    }
    assert_int_equal(overflow, 1);
    assert_int_equal(total, 500);
    /* The bound is per live minute: the next minute has room again. */
    e->n = 0;
    deny(d, "10.8.0.1", "FORBIDDEN", "/p", "r", m + 60001);
    assert_int_equal(kw_denials_collect(d, m + 120000, 0, on_emit, e), 1);
    assert_int_equal(count_of(&e->ev[0]), 1);
    assert_string_equal(e->ev[0].ip, "10.8.0.1");
    kw_denials_free(d);
    free(e);
}

/* The sample path is raw request bytes: it is stored as valid UTF-8 JSON that fits the detail field. */
static void test_denial_detail_is_valid_json(void **state)
{
    struct kw_denials *d;
    struct emitted *e = calloc(1, sizeof(*e));
    char quotes[5000];
    int64_t m = 1700000040000LL;
    json_t *dt;
    (void)state;

    assert_int_equal(kw_crypto_init(), KW_OK);
    assert_int_equal(kw_denials_new(0, &d), KW_OK);
    deny(d, "10.0.0.1", "NOT_FOUND", "/api/v1/keys/key_\xff\xfe", "r1", m);
    memset(quotes, '\x01', sizeof(quotes) - 1);
    quotes[sizeof(quotes) - 1] = '\0';
    deny(d, "10.0.0.2", "NOT_FOUND", quotes, "r2", m);
    assert_int_equal(kw_denials_collect(d, m + 60000, 0, on_emit, e), 2);
    dt = json_loads(find(e, "10.0.0.1", "NOT_FOUND")->detail, 0, NULL);
    assert_non_null(dt);
    assert_string_equal(json_string_value(json_object_get(json_object_get(dt, "sample"), "path")),
                        "/api/v1/keys/key_\xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(dt);
    dt = json_loads(find(e, "10.0.0.2", "NOT_FOUND")->detail, 0, NULL);
    assert_non_null(dt); /* 128 control bytes escape to 768: shortened until it fits */
    assert_true(strlen(json_string_value(json_object_get(json_object_get(dt, "sample"), "path"))) > 0);
    json_decref(dt);
    kw_denials_free(d);
    free(e);
}

/* Through the writer: a flood of one (ip, reason) is one stored event at shutdown, counts exact. */
static void test_writer_writes_denials_at_shutdown(void **state)
{
    struct fixture *f = *state;
    struct kw_writer *w;
    struct kw_writer_stats st;
    struct seen s;
    struct kw_denial in = {"127.0.0.1",
                           "UNAUTHENTICATED",
                           "auth.denied",
                           "anonymous",
                           "anonymous",
                           "/api/v1/services",
                           16,
                           "rid",
                           0};

    fixture_open(f);
    assert_int_equal(kw_writer_start(f->wb, f->kc, 20, &w), KW_OK);
    for (int i = 0; i < 5000; i++) {
        in.now_ms = kw_time_now_ms();
        kw_writer_deny(w, &in);
    }
    kw_writer_stats(w, &st);
    assert_int_equal(st.dropped_denials, 0);
    kw_writer_free(w);
    read_back(f, &s);
    free(s.targets);
    assert_int_equal(s.denied_count, 5000);
    assert_true(s.denied_events >= 1 && s.denied_events <= 2); /* 2 if a minute ended meanwhile */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_busy_flush_keeps_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_flush_keeps_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_cap_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_totals, setup, teardown),
        cmocka_unit_test(test_denials_aggregate_per_minute),
        cmocka_unit_test(test_denials_bounded_with_overflow),
        cmocka_unit_test(test_denial_detail_is_valid_json),
        cmocka_unit_test_setup_teardown(test_writer_writes_denials_at_shutdown, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
