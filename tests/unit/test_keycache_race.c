/* test_keycache_race.c - the key cache under contention, with exact answers (meaningful under
 * ThreadSanitizer: every shared access in the cache is exercised by several threads at once).
 *
 * 1. Exact totals: verifier threads, a writer (flips, deletes and re-creates keys with increasing
 *    versions) and a draining thread run together; afterwards, for every key, the drained valid and
 *    denied counts equal the outcomes the verifiers saw, exactly.
 * 2. Order: versions 1..K of every key are put (or, for the last version of odd keys, removed) in a
 *    random order from several threads while readers watch; the cache ends with the state of vK,
 *    and no reader ever sees a key's version go backwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "domain/keycache.h"
#include "domain/keyfmt.h"

#define NVERIFIERS 3
#define NWRITERS 3
#define FAR 4000000000000LL /* an expiry far in the future; FAR + v identifies version v */

static void make_key(struct kw_key *k, char secret[KW_KEYFMT_MAX], int i)
{
    memset(k, 0, sizeof(*k));
    assert_int_equal(kw_keyfmt_generate("kw", secret), KW_OK);
    assert_int_equal(kw_crypto_sha256(secret, strlen(secret), k->hash), KW_OK);
    snprintf(k->id, sizeof(k->id), "key_%d", i);
    snprintf(k->service_id, sizeof(k->service_id), "svc_race");
    k->enabled = 1;
    k->version = 1;
    k->archive_after_extract_s = -1;
}

static int key_index(const char *key_id)
{
    return (int)strtol(key_id + 4, NULL, 10);
}

/* ---- 1. exact totals ---- */

#define T_KEYS 48
#define T_ITER 30000

struct totals {
    struct kw_keycache *kc;
    char secrets[T_KEYS][KW_KEYFMT_MAX];
    struct kw_key keys[T_KEYS];
    atomic_ulong seen_valid[T_KEYS], seen_denied[T_KEYS];
    uint64_t got_valid[T_KEYS], got_denied[T_KEYS]; /* only the draining thread writes */
    atomic_int stop, bad;
};

static void *t_verifier(void *arg)
{
    struct totals *t = arg;
    unsigned long valid[T_KEYS] = {0}, denied[T_KEYS] = {0};
    unsigned seed = (unsigned)(uintptr_t)&valid;
    struct kw_verify_result r;
    int n, k;

    for (n = 0; n < T_ITER; n++) {
        k = rand_r(&seed) % T_KEYS;
        kw_keycache_verify(t->kc, t->secrets[k], strlen(t->secrets[k]), 1, n % 2 ? "10.0.0.1" : "::1", NULL,
                           &r);
        if (r.code == KW_VERIFY_VALID)
            valid[k]++;
        else if (r.code == KW_VERIFY_DISABLED)
            denied[k]++;
        else if (r.code != KW_VERIFY_NOT_FOUND)
            atomic_fetch_add(&t->bad, 1);
        if (r.code != KW_VERIFY_NOT_FOUND && key_index(r.key_id) != k)
            atomic_fetch_add(&t->bad, 1);
    }
    for (k = 0; k < T_KEYS; k++) {
        atomic_fetch_add(&t->seen_valid[k], valid[k]);
        atomic_fetch_add(&t->seen_denied[k], denied[k]);
    }
    return NULL;
}

/* One writer, so its versions only grow: flips enabled, sometimes deletes and re-creates. */
static void *t_writer(void *arg)
{
    struct totals *t = arg;
    unsigned seed = 12345;
    int n;

    for (n = 0; !atomic_load(&t->stop); n++) {
        struct kw_key *k = &t->keys[rand_r(&seed) % T_KEYS];
        k->version++;
        if (n % 7 == 0) {
            kw_keycache_remove(t->kc, k->hash, k->version);
            k->version++;
        }
        k->enabled = (n % 3) != 0;
        if (kw_keycache_put(t->kc, k) != KW_OK)
            atomic_fetch_add(&t->bad, 1);
    }
    return NULL;
}

static void on_total(void *ctx, const char *key_id, const char *service_id, int64_t last_used_at,
                     const char *ip, uint64_t valid, uint64_t denied)
{
    struct totals *t = ctx;
    int k = key_index(key_id);

    if (k < 0 || k >= T_KEYS || strcmp(service_id, "svc_race") != 0 ||
        (strcmp(ip, "::1") != 0 && strcmp(ip, "10.0.0.1") != 0 && ip[0] != '\0') || (valid > 0 && last_used_at != 1)) {
        atomic_fetch_add(&t->bad, 1);
        return;
    }
    t->got_valid[k] += valid;
    t->got_denied[k] += denied;
}

static void *t_drainer(void *arg)
{
    struct totals *t = arg;

    while (!atomic_load(&t->stop))
        kw_keycache_drain(t->kc, on_total, t);
    return NULL;
}

static void test_exact_totals(void **state)
{
    static struct totals t;
    pthread_t v[NVERIFIERS], w, d;
    unsigned long sum = 0;
    int i;

    memset(&t, 0, sizeof(t));
    assert_int_equal(kw_keycache_new(&t.kc), KW_OK);
    for (i = 0; i < T_KEYS; i++) {
        make_key(&t.keys[i], t.secrets[i], i);
        assert_int_equal(kw_keycache_put(t.kc, &t.keys[i]), KW_OK);
    }
    assert_int_equal(pthread_create(&w, NULL, t_writer, &t), 0);
    assert_int_equal(pthread_create(&d, NULL, t_drainer, &t), 0);
    for (i = 0; i < NVERIFIERS; i++)
        assert_int_equal(pthread_create(&v[i], NULL, t_verifier, &t), 0);
    for (i = 0; i < NVERIFIERS; i++)
        pthread_join(v[i], NULL);
    atomic_store(&t.stop, 1);
    pthread_join(w, NULL);
    pthread_join(d, NULL);
    kw_keycache_drain(t.kc, on_total, &t); /* what the last concurrent drain did not take */

    assert_int_equal(atomic_load(&t.bad), 0);
    for (i = 0; i < T_KEYS; i++) {
        assert_int_equal(t.got_valid[i], atomic_load(&t.seen_valid[i]));
        assert_int_equal(t.got_denied[i], atomic_load(&t.seen_denied[i]));
        sum += t.got_valid[i] + t.got_denied[i];
    }
    assert_true(sum > 0);
    assert_true(sum <= (unsigned long)NVERIFIERS * T_ITER);
    kw_keycache_free(t.kc);
}

/* ---- 2. versions applied in random order ---- */

#define O_KEYS 32
#define O_VERSIONS 64
#define O_ROUNDS 4

struct op {
    int key;
    int version;
};

struct order {
    struct kw_keycache *kc;
    char secrets[O_KEYS][KW_KEYFMT_MAX];
    struct kw_key keys[O_KEYS];
    struct op ops[O_KEYS * O_VERSIONS];
    atomic_int next_op, stop, bad, backwards;
};

/* State of key k at version v: VALID on even versions, DISABLED on odd; the last version of an odd
 * key is its delete. */
static void state_at(const struct order *o, int k, int v, struct kw_key *out)
{
    *out = o->keys[k];
    out->version = v;
    out->enabled = v % 2 == 0;
    out->expires_at = FAR + v;
}

static void *o_writer(void *arg)
{
    struct order *o = arg;
    struct kw_key k;
    int i;

    while ((i = atomic_fetch_add(&o->next_op, 1)) < O_KEYS * O_VERSIONS) {
        const struct op *op = &o->ops[i];
        if (op->key % 2 == 1 && op->version == O_VERSIONS) {
            kw_keycache_remove(o->kc, o->keys[op->key].hash, op->version);
            continue;
        }
        state_at(o, op->key, op->version, &k);
        if (kw_keycache_put(o->kc, &k) != KW_OK)
            atomic_fetch_add(&o->bad, 1);
    }
    return NULL;
}

/* Watches every key: the version it sees (expires_at - FAR) never goes down, and its code matches it. */
static void *o_reader(void *arg)
{
    struct order *o = arg;
    int64_t last[O_KEYS] = {0};
    struct kw_verify_result r;
    int k;

    while (!atomic_load(&o->stop)) {
        for (k = 0; k < O_KEYS; k++) {
            int64_t v;
            kw_keycache_verify(o->kc, o->secrets[k], strlen(o->secrets[k]), 1, NULL, NULL, &r);
            if (r.code == KW_VERIFY_NOT_FOUND) {
                if (last[k] != 0 && k % 2 == 0)
                    atomic_fetch_add(&o->bad, 1); /* an even key, once seen, never disappears */
                if (last[k] != 0)
                    last[k] = O_VERSIONS; /* an odd key deleted: it never comes back */
                continue;
            }
            v = r.expires_at - FAR;
            if (v < 1 || v > O_VERSIONS || r.code != (v % 2 == 0 ? KW_VERIFY_VALID : KW_VERIFY_DISABLED))
                atomic_fetch_add(&o->bad, 1);
            if (v < last[k])
                atomic_fetch_add(&o->backwards, 1);
            last[k] = v;
        }
    }
    return NULL;
}

static void shuffle(struct op *ops, int n, unsigned *seed)
{
    int i;

    for (i = n - 1; i > 0; i--) {
        int j = rand_r(seed) % (i + 1);
        struct op t = ops[i];
        ops[i] = ops[j];
        ops[j] = t;
    }
}

static void check_final(struct order *o)
{
    struct kw_verify_result r;
    struct kw_key late;
    int k;

    for (k = 0; k < O_KEYS; k++) {
        /* A late put of an older version changes nothing. */
        state_at(o, k, O_VERSIONS - 1, &late);
        kw_keycache_put(o->kc, &late);
        kw_keycache_verify(o->kc, o->secrets[k], strlen(o->secrets[k]), 1, NULL, NULL, &r);
        if (k % 2 == 1) {
            assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
            continue;
        }
        assert_int_equal(r.code, KW_VERIFY_VALID); /* O_VERSIONS is even */
        assert_int_equal(r.expires_at, FAR + O_VERSIONS);
    }
    assert_int_equal(kw_keycache_count(o->kc), O_KEYS / 2);
}

static void test_random_order(void **state)
{
    static struct order o;
    pthread_t w[NWRITERS], rd[2];
    unsigned seed = 20261123;
    int round, i, v;

    for (round = 0; round < O_ROUNDS; round++) {
        memset(&o, 0, sizeof(o));
        assert_int_equal(kw_keycache_new(&o.kc), KW_OK);
        for (i = 0; i < O_KEYS; i++) {
            make_key(&o.keys[i], o.secrets[i], i);
            for (v = 1; v <= O_VERSIONS; v++)
                o.ops[i * O_VERSIONS + v - 1] = (struct op){i, v};
        }
        shuffle(o.ops, O_KEYS * O_VERSIONS, &seed);
        for (i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&rd[i], NULL, o_reader, &o), 0);
        for (i = 0; i < NWRITERS; i++)
            assert_int_equal(pthread_create(&w[i], NULL, o_writer, &o), 0);
        for (i = 0; i < NWRITERS; i++)
            pthread_join(w[i], NULL);
        atomic_store(&o.stop, 1);
        for (i = 0; i < 2; i++)
            pthread_join(rd[i], NULL);
        assert_int_equal(atomic_load(&o.bad), 0);
        assert_int_equal(atomic_load(&o.backwards), 0);
        check_final(&o);
        kw_keycache_free(o.kc);
    }
}

static int setup(void **state)
{
    return kw_crypto_init() == KW_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_totals),
        cmocka_unit_test(test_random_order),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
