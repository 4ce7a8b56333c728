/* test_keycache.c - the verify hot path: codes, replacement, removal, write-behind drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "domain/keycache.h"
#include "domain/keyfmt.h"

static void make_key(struct kw_key *k, char secret[KW_KEYFMT_MAX], const char *id)
{
    memset(k, 0, sizeof(*k));
    assert_int_equal(kw_keyfmt_generate("kw", secret), KW_OK);
    assert_int_equal(kw_crypto_sha256(secret, strlen(secret), k->hash), KW_OK);
    snprintf(k->id, sizeof(k->id), "%s", id);
    snprintf(k->service_id, sizeof(k->service_id), "svc_test");
    k->enabled = 1;
    k->scope = KW_SCOPE_ATTRIBUTES;
    k->perms = KW_PERM_KEYS_VERIFY;
    k->archive_after_extract_s = -1;
}

static int setup(void **state)
{
    struct kw_keycache *kc;
    assert_int_equal(kw_crypto_init(), KW_OK);
    assert_int_equal(kw_keycache_new(&kc), KW_OK);
    *state = kc;
    return 0;
}

static int teardown(void **state)
{
    kw_keycache_free(*state);
    return 0;
}

static void test_codes(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k;
    struct kw_verify_result r;
    char secret[KW_KEYFMT_MAX], other[KW_KEYFMT_MAX];
    int64_t now = 1000000;

    make_key(&k, secret, "key_a");
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(kw_keycache_count(kc), 1);

    kw_keycache_verify(kc, secret, strlen(secret), now, "127.0.0.1", &r);
    assert_int_equal(r.code, KW_VERIFY_VALID);
    assert_string_equal(r.key_id, "key_a");
    assert_string_equal(r.service_id, "svc_test");
    assert_int_equal(r.perms, KW_PERM_KEYS_VERIFY | KW_PERM_CANDIDATES_READ);

    /* A well-formed key that is not in the table. */
    assert_int_equal(kw_keyfmt_generate("kw", other), KW_OK);
    kw_keycache_verify(kc, other, strlen(other), now, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_string_equal(r.key_id, "");

    /* Checksum broken: malformed without a lookup. */
    memcpy(other, secret, sizeof(other));
    other[strlen(other) - 1] = other[strlen(other) - 1] == 'a' ? 'b' : 'a';
    kw_keycache_verify(kc, other, strlen(other), now, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_MALFORMED);
    kw_keycache_verify(kc, "garbage", 7, now, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_MALFORMED);

    /* Updates replace in place and are seen at once. */
    k.enabled = 0;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(kw_keycache_count(kc), 1);
    kw_keycache_verify(kc, secret, strlen(secret), now, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_DISABLED);
    k.enabled = 1;
    k.expires_at = now;
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), now, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_EXPIRED);
    k.revoked_at = now - 1;
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), now, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_REVOKED);

    kw_keycache_remove(kc, k.hash, 0);
    assert_int_equal(kw_keycache_count(kc), 0);
    kw_keycache_verify(kc, secret, strlen(secret), now, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
}

struct drained {
    int calls;
    uint64_t valid, denied;
    int64_t last_used;
    char ip[64];
};

static void on_touch(void *ctx, const char *key_id, const char *service_id, int64_t last_used_at,
                     const char *ip, uint64_t valid, uint64_t denied)
{
    struct drained *d = ctx;
    d->calls++;
    d->valid += valid;
    d->denied += denied;
    if (last_used_at)
        d->last_used = last_used_at;
    snprintf(d->ip, sizeof(d->ip), "%s", ip);
}

static void test_drain(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k;
    struct kw_verify_result r;
    struct drained d;
    char secret[KW_KEYFMT_MAX];
    int i;

    make_key(&k, secret, "key_b");
    kw_keycache_put(kc, &k);
    for (i = 0; i < 5; i++)
        kw_keycache_verify(kc, secret, strlen(secret), 5000 + i, "10.0.0.7", &r);
    k.enabled = 0;
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), 9000, "10.0.0.8", &r);

    memset(&d, 0, sizeof(d));
    kw_keycache_drain(kc, on_touch, &d);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.valid, 5);
    assert_int_equal(d.denied, 1);
    assert_int_equal(d.last_used, 5004); /* a denied attempt is not a use */
    assert_string_equal(d.ip, "10.0.0.7");

    memset(&d, 0, sizeof(d));
    kw_keycache_drain(kc, on_touch, &d);
    assert_int_equal(d.calls, 0);

    /* An entry removed while queued is still drained, then freed (ASan checks the free). */
    k.enabled = 1;
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), 10000, NULL, &r);
    kw_keycache_remove(kc, k.hash, 0);
    memset(&d, 0, sizeof(d));
    kw_keycache_drain(kc, on_touch, &d);
    assert_int_equal(d.valid, 1);
}

#define NKEYS 2000
struct race {
    struct kw_keycache *kc;
    char (*secrets)[KW_KEYFMT_MAX];
    atomic_int bad;
};

static void *verifier(void *arg)
{
    struct race *ra = arg;
    struct kw_verify_result r;
    int round, i;

    for (round = 0; round < 5; round++) {
        for (i = 0; i < NKEYS; i++) {
            kw_keycache_verify(ra->kc, ra->secrets[i], strlen(ra->secrets[i]), 1, "::1", &r);
            if (r.code != KW_VERIFY_VALID && r.code != KW_VERIFY_DISABLED)
                atomic_fetch_add(&ra->bad, 1);
        }
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    static char secrets[NKEYS][KW_KEYFMT_MAX];
    static struct kw_key keys[NKEYS];
    struct kw_keycache *kc = *state;
    struct race ra = {kc, secrets, 0};
    struct drained d;
    pthread_t t[2];
    int i;

    for (i = 0; i < NKEYS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "key_%d", i);
        make_key(&keys[i], secrets[i], id);
        assert_int_equal(kw_keycache_put(kc, &keys[i]), KW_OK);
    }
    assert_int_equal(kw_keycache_count(kc), NKEYS);
    pthread_create(&t[0], NULL, verifier, &ra);
    pthread_create(&t[1], NULL, verifier, &ra);
    for (i = 0; i < NKEYS; i++) { /* writers flip keys while readers verify */
        keys[i].enabled = i % 2;
        kw_keycache_put(kc, &keys[i]);
        if (i % 100 == 0) {
            memset(&d, 0, sizeof(d));
            kw_keycache_drain(kc, on_touch, &d);
        }
    }
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    assert_int_equal(atomic_load(&ra.bad), 0);
    memset(&d, 0, sizeof(d));
    kw_keycache_drain(kc, on_touch, &d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
