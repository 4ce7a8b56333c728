/* test_keycache.c - the verify hot path: codes, versioned puts and tombstones, the service filter,
 * the hash handed back, and exact write-behind totals (single-threaded; test_keycache_race.c does
 * the same under contention). */
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
#include "domain/keycache_internal.h"
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
    k->version = 1;
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

static enum kw_verify_code verify(struct kw_keycache *kc, const char *secret, int64_t now, const char *only)
{
    struct kw_verify_result r;

    kw_keycache_verify(kc, secret, strlen(secret), now, "127.0.0.1", only, &r);
    return r.code;
}

struct drained {
    int calls;
    uint64_t valid, denied;
    int64_t last_used;
    char ip[64];
    char key_id[64];
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
    snprintf(d->key_id, sizeof(d->key_id), "%s", key_id);
}

static struct drained drain(struct kw_keycache *kc)
{
    struct drained d;

    memset(&d, 0, sizeof(d));
    kw_keycache_drain(kc, on_touch, &d);
    return d;
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

    kw_keycache_verify(kc, secret, strlen(secret), now, "127.0.0.1", NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_VALID);
    assert_string_equal(r.key_id, "key_a");
    assert_string_equal(r.service_id, "svc_test");
    assert_int_equal(r.perms, KW_PERM_KEYS_VERIFY | KW_PERM_CANDIDATES_READ);

    /* A well-formed key that is not in the table. */
    assert_int_equal(kw_keyfmt_generate("kw", other), KW_OK);
    kw_keycache_verify(kc, other, strlen(other), now, NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_string_equal(r.key_id, "");

    /* Checksum broken, or not the shape at all: malformed. */
    memcpy(other, secret, sizeof(other));
    other[strlen(other) - 1] = other[strlen(other) - 1] == 'a' ? 'b' : 'a';
    assert_int_equal(verify(kc, other, now, NULL), KW_VERIFY_MALFORMED);
    assert_int_equal(verify(kc, "garbage", now, NULL), KW_VERIFY_MALFORMED);

    /* Newer versions replace in place and are seen at once. */
    k.enabled = 0;
    k.version = 2;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(kw_keycache_count(kc), 1);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_DISABLED);
    k.enabled = 1;
    k.expires_at = now;
    k.version = 3;
    kw_keycache_put(kc, &k);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_EXPIRED);
    k.revoked_at = now - 1;
    k.version = 4;
    kw_keycache_put(kc, &k);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_REVOKED);

    kw_keycache_remove(kc, k.hash, 5);
    assert_int_equal(kw_keycache_count(kc), 0);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_NOT_FOUND);
}

/* Issue 6 item 3: a late put of an older version never undoes a newer change or a delete. */
static void test_versions(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k, stale;
    char secret[KW_KEYFMT_MAX];
    int64_t now = 1000000;

    make_key(&k, secret, "key_v");
    stale = k; /* v1: active */
    k.version = 2;
    k.revoked_at = now - 10;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(kw_keycache_put(kc, &stale), KW_OK); /* ignored, not an error */
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_REVOKED);

    /* The same version again is not newer either. */
    stale.version = 2;
    kw_keycache_put(kc, &stale);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_REVOKED);

    /* remove v3, then the put of v2 arrives late: still gone. */
    kw_keycache_remove(kc, k.hash, 3);
    stale.version = 2;
    kw_keycache_put(kc, &stale);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_NOT_FOUND);
    assert_int_equal(kw_keycache_count(kc), 0);
    assert_int_equal(kw_keycache_tombstones(kc), 1);

    /* An older remove does not touch a newer tombstone's version. */
    kw_keycache_remove(kc, k.hash, 1);
    stale.version = 3;
    kw_keycache_put(kc, &stale);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_NOT_FOUND);

    /* v4 after the delete at v3: present again. */
    stale.version = 4;
    assert_int_equal(kw_keycache_put(kc, &stale), KW_OK);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_VALID);
    assert_int_equal(kw_keycache_count(kc), 1);
    assert_int_equal(kw_keycache_tombstones(kc), 0);

    /* A remove older than the live entry is ignored. */
    kw_keycache_remove(kc, k.hash, 4);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_VALID);
}

/* A delete that overtakes the put of the creation (key create vs forced service delete). */
static void test_remove_before_put(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k;
    char secret[KW_KEYFMT_MAX];

    make_key(&k, secret, "key_early");
    k.version = 7;
    kw_keycache_remove(kc, k.hash, 8);
    assert_int_equal(kw_keycache_count(kc), 0);
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(verify(kc, secret, 1, NULL), KW_VERIFY_NOT_FOUND);
    assert_int_equal(kw_keycache_count(kc), 0);
}

static int64_t fake_now;
static int64_t fake_clock(void)
{
    return fake_now;
}

/* Tombstones are freed after the TTL by later writes to the shard: memory stays bounded. */
static void test_tombstone_expiry(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k[50];
    char secret[50][KW_KEYFMT_MAX];
    char id[32];
    int i;

    fake_now = 5000;
    kw_keycache_set_clock(kc, fake_clock);
    for (i = 0; i < 50; i++) {
        snprintf(id, sizeof(id), "key_t%d", i);
        make_key(&k[i], secret[i], id);
        kw_keycache_put(kc, &k[i]);
        kw_keycache_remove(kc, k[i].hash, 2);
    }
    assert_int_equal(kw_keycache_tombstones(kc), 50);
    /* Just before the TTL the tombstone still wins against a stale put. */
    fake_now += KW_KEYCACHE_TOMBSTONE_TTL_MS - 1;
    kw_keycache_put(kc, &k[0]);
    assert_int_equal(verify(kc, secret[0], 1, NULL), KW_VERIFY_NOT_FOUND);
    assert_int_equal(kw_keycache_tombstones(kc), 50);
    /* After it, a write to a shard frees that shard's expired tombstones (then the put applies:
     * nothing holds a stale put that long). */
    fake_now += 1;
    kw_keycache_put(kc, &k[1]);
    assert_int_equal(verify(kc, secret[1], 1, NULL), KW_VERIFY_VALID);
    assert_true(kw_keycache_tombstones(kc) < 50);
    for (i = 0; i < 50; i++)
        kw_keycache_remove(kc, k[i].hash, 3);
    assert_int_equal(kw_keycache_tombstones(kc), 50);
    fake_now += KW_KEYCACHE_TOMBSTONE_TTL_MS;
    for (i = 0; i < 50; i++) {
        k[i].version = 4;
        kw_keycache_put(kc, &k[i]);
    }
    assert_int_equal(kw_keycache_tombstones(kc), 0);
    assert_int_equal(kw_keycache_count(kc), 50);
    kw_keycache_set_clock(kc, NULL);
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
        kw_keycache_verify(kc, secret, strlen(secret), 5000 + i, "10.0.0.7", NULL, &r);
    /* Counters pending a drain survive a put. */
    k.enabled = 0;
    k.version = 2;
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), 9000, "10.0.0.8", NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_DISABLED);

    d = drain(kc);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.valid, 5);
    assert_int_equal(d.denied, 1);
    assert_int_equal(d.last_used, 5004); /* a denied attempt is not a use */
    assert_string_equal(d.ip, "10.0.0.7");
    assert_string_equal(d.key_id, "key_b");

    d = drain(kc);
    assert_int_equal(d.calls, 0);

    /* A new address is recorded; an IPv6 one of full length too. */
    k.enabled = 1;
    k.version = 3;
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), 9500, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
                       NULL, &r);
    d = drain(kc);
    assert_string_equal(d.ip, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
    kw_keycache_verify(kc, secret, strlen(secret), 9600, "10.0.0.9", NULL, &r);
    d = drain(kc);
    assert_string_equal(d.ip, "10.0.0.9");
    assert_int_equal(d.last_used, 9600);

    /* An entry removed while queued is still drained, then freed (ASan checks the free). */
    kw_keycache_verify(kc, secret, strlen(secret), 10000, NULL, NULL, &r);
    kw_keycache_remove(kc, k.hash, 4);
    d = drain(kc);
    assert_int_equal(d.valid, 1);
    assert_int_equal(d.denied, 0);
}

/* Issue 6 item 10: a verifier of another service learns nothing and records nothing. */
static void test_only_service(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k;
    struct kw_verify_result r;
    struct drained d;
    char secret[KW_KEYFMT_MAX];

    make_key(&k, secret, "key_b");
    snprintf(k.service_id, sizeof(k.service_id), "svc_b");
    kw_keycache_put(kc, &k);

    kw_keycache_verify(kc, secret, strlen(secret), 7000, "10.9.9.9", "svc_a", &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_string_equal(r.key_id, "");
    assert_string_equal(r.service_id, "");
    assert_int_equal(r.perms, 0);
    d = drain(kc);
    assert_int_equal(d.calls, 0); /* no lastUsedAt, no ip, no usage count */

    /* The same for a denied outcome: a disabled key of another service is not counted either. */
    k.enabled = 0;
    k.version = 2;
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), 7001, "10.9.9.9", "svc_a", &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_int_equal(drain(kc).calls, 0);

    /* Its own service, or any: found and recorded. */
    k.enabled = 1;
    k.version = 3;
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), 7002, "10.1.1.1", "svc_b", &r);
    assert_int_equal(r.code, KW_VERIFY_VALID);
    assert_string_equal(r.key_id, "key_b");
    kw_keycache_verify(kc, secret, strlen(secret), 7003, "10.1.1.2", NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_VALID);
    d = drain(kc);
    assert_int_equal(d.valid, 2);
    assert_int_equal(d.last_used, 7003);
    assert_string_equal(d.ip, "10.1.1.2");
}

/* The SHA-256 comes back with the result, so auth.c does not hash the credential again. */
static void test_hash_handed_back(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k;
    struct kw_verify_result r;
    char secret[KW_KEYFMT_MAX], other[KW_KEYFMT_MAX];
    uint8_t h[KW_HASH_LEN];

    make_key(&k, secret, "key_h");
    kw_keycache_put(kc, &k);
    kw_keycache_verify(kc, secret, strlen(secret), 1, NULL, NULL, &r);
    assert_int_equal(r.hashed, 1);
    assert_memory_equal(r.hash, k.hash, KW_HASH_LEN);

    assert_int_equal(kw_keyfmt_generate("kwroot", other), KW_OK);
    kw_keycache_verify(kc, other, strlen(other), 1, NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_int_equal(r.hashed, 1);
    assert_int_equal(kw_crypto_sha256(other, strlen(other), h), KW_OK);
    assert_memory_equal(r.hash, h, KW_HASH_LEN);

    kw_keycache_verify(kc, "not a key at all", 16, 1, NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_MALFORMED);
    assert_int_equal(r.hashed, 0);
}

#define NKEYS 2000
#define ROUNDS 5
struct race {
    struct kw_keycache *kc;
    char (*secrets)[KW_KEYFMT_MAX];
    atomic_int bad;
    atomic_ulong valid, denied;
};

static void *verifier(void *arg)
{
    struct race *ra = arg;
    struct kw_verify_result r;
    unsigned long valid = 0, denied = 0;
    int round, i;

    for (round = 0; round < ROUNDS; round++) {
        for (i = 0; i < NKEYS; i++) {
            kw_keycache_verify(ra->kc, ra->secrets[i], strlen(ra->secrets[i]), 1, "::1", NULL, &r);
            if (r.code == KW_VERIFY_VALID)
                valid++;
            else if (r.code == KW_VERIFY_DISABLED)
                denied++;
            else
                atomic_fetch_add(&ra->bad, 1);
        }
    }
    atomic_fetch_add(&ra->valid, valid);
    atomic_fetch_add(&ra->denied, denied);
    return NULL;
}

/* Two verifiers while the main thread flips keys and drains: every outcome is VALID or DISABLED
 * (the only states written) and the drained totals equal the outcomes, exactly. */
static void test_concurrent(void **state)
{
    static char secrets[NKEYS][KW_KEYFMT_MAX];
    static struct kw_key keys[NKEYS];
    struct kw_keycache *kc = *state;
    struct race ra = {kc, secrets, 0, 0, 0};
    struct drained d, total;
    pthread_t t[2];
    int i;

    for (i = 0; i < NKEYS; i++) {
        char id[32];
        snprintf(id, sizeof(id), "key_%d", i);
        make_key(&keys[i], secrets[i], id);
        assert_int_equal(kw_keycache_put(kc, &keys[i]), KW_OK);
    }
    assert_int_equal(kw_keycache_count(kc), NKEYS);
    memset(&total, 0, sizeof(total));
    assert_int_equal(pthread_create(&t[0], NULL, verifier, &ra), 0);
    assert_int_equal(pthread_create(&t[1], NULL, verifier, &ra), 0);
    for (i = 0; i < NKEYS; i++) { /* writers flip keys while readers verify */
        keys[i].enabled = i % 2;
        keys[i].version++;
        kw_keycache_put(kc, &keys[i]);
        if (i % 100 == 0) {
            d = drain(kc);
            total.valid += d.valid;
            total.denied += d.denied;
        }
    }
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    d = drain(kc);
    total.valid += d.valid;
    total.denied += d.denied;
    assert_int_equal(atomic_load(&ra.bad), 0);
    assert_int_equal(total.valid + total.denied, 2 * ROUNDS * NKEYS);
    assert_int_equal(total.valid, atomic_load(&ra.valid));
    assert_int_equal(total.denied, atomic_load(&ra.denied));
}

/* Issue 8: a token answers verify with its kind and owner, and DISABLED while its owner is; an access
 * key or a ban entry is never a bearer credential. */
static void test_token_kind(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k;
    struct kw_verify_result r;
    char secret[KW_KEYFMT_MAX];
    int64_t now = 1000000;

    make_key(&k, secret, "tok_a");
    snprintf(k.kind, sizeof(k.kind), "token");
    snprintf(k.service_user_id, sizeof(k.service_user_id), "su_owner");
    k.owner_enabled = 1;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    kw_keycache_verify(kc, secret, strlen(secret), now, "127.0.0.1", NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_VALID);
    assert_string_equal(r.kind, "token");
    assert_string_equal(r.service_user_id, "su_owner");
    assert_string_equal(r.key_id, "tok_a");

    k.owner_enabled = 0;
    k.version = 2;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_DISABLED);
    k.owner_enabled = 1;
    k.version = 3;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(verify(kc, secret, now, NULL), KW_VERIFY_VALID);

    /* an api key (kind "" or "api_key") ignores owner_enabled */
    make_key(&k, secret, "key_plain");
    k.owner_enabled = 0;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    kw_keycache_verify(kc, secret, strlen(secret), now, NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_VALID);
    assert_string_equal(r.kind, "api_key");
    assert_string_equal(r.service_user_id, "");

    /* a row of another kind whose hash a string happens to have is not a bearer credential */
    make_key(&k, secret, "ban_x");
    snprintf(k.kind, sizeof(k.kind), "ban");
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    kw_keycache_verify(kc, secret, strlen(secret), now, NULL, NULL, &r);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_string_equal(r.key_id, "");
    assert_int_equal(drain(kc).calls, 2); /* the token and the api key; the ban recorded nothing */
}

static void make_ban(struct kw_key *k, const char *what, const char *id, int64_t expires_at, int64_t version)
{
    memset(k, 0, sizeof(*k));
    assert_int_equal(kw_crypto_sha256(what, strlen(what), k->hash), KW_OK);
    snprintf(k->id, sizeof(k->id), "%s", id);
    snprintf(k->service_id, sizeof(k->service_id), "svc_test");
    snprintf(k->kind, sizeof(k->kind), "ban");
    k->enabled = 1;
    k->expires_at = expires_at;
    k->version = version;
}

static void test_banned(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k;
    char secret[KW_KEYFMT_MAX];

    assert_int_equal(kw_keycache_banned(kc, "su:su_x", 1000), 0);
    make_ban(&k, "su:su_x", "ban_1", 5000, 1);
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(kw_keycache_banned(kc, "su:su_x", 1000), 1);
    assert_int_equal(kw_keycache_banned(kc, "su:su_x", 4999), 1);
    assert_int_equal(kw_keycache_banned(kc, "su:su_x", 5000), 0); /* expired */
    assert_int_equal(kw_keycache_banned(kc, "su:su_y", 1000), 0);
    assert_int_equal(kw_keycache_banned(kc, "jti:su_x", 1000), 0);
    make_ban(&k, "jti:abc", "ban_2", 0, 2);
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(kw_keycache_banned(kc, "jti:abc", 1 << 30), 1); /* no expiry */
    /* lifted: the row's deletion */
    kw_keycache_remove(kc, k.hash, 3);
    assert_int_equal(kw_keycache_banned(kc, "jti:abc", 1000), 0);
    /* a live credential with that hash is not a ban */
    make_key(&k, secret, "key_z");
    assert_int_equal(kw_crypto_sha256("cred:key_z", 10, k.hash), KW_OK);
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    assert_int_equal(kw_keycache_banned(kc, "cred:key_z", 1000), 0);
    assert_int_equal(drain(kc).calls, 0); /* lookups record nothing */
}

static void make_access_key(struct kw_key *k, const char *id, int64_t version)
{
    char what[64];

    memset(k, 0, sizeof(*k));
    snprintf(what, sizeof(what), "ak:%s", id);
    assert_int_equal(kw_crypto_sha256(what, strlen(what), k->hash), KW_OK);
    snprintf(k->id, sizeof(k->id), "%s", id);
    snprintf(k->service_id, sizeof(k->service_id), "svc_test");
    snprintf(k->kind, sizeof(k->kind), "access_key");
    snprintf(k->service_user_id, sizeof(k->service_user_id), "su_owner");
    k->enabled = 1;
    k->owner_enabled = 1;
    k->perms = KW_PERM_DOCUMENTS_WRITE;
    k->version = version;
    k->sealed_len = 70;
    for (size_t i = 0; i < k->sealed_len; i++)
        k->sealed[i] = (uint8_t)(version + i);
}

static void test_access_key(void **state)
{
    struct kw_keycache *kc = *state;
    struct kw_key k;
    struct kw_verify_result r;
    uint8_t sealed[KW_SEALED_MAX];
    size_t sealed_len = 99;
    const char *id = "KWAKABCDEFGH234567QR";
    struct drained d;

    kw_keycache_access_key(kc, id, strlen(id), 1000, "10.0.0.1", &r, sealed, &sealed_len);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_int_equal(sealed_len, 0);
    kw_keycache_access_key(kc, "KWAKabcdefgh234567QR", 20, 1000, NULL, &r, NULL, NULL);
    assert_int_equal(r.code, KW_VERIFY_MALFORMED);
    kw_keycache_access_key(kc, "KWAK1BCDEFGH234567QR", 20, 1000, NULL, &r, NULL, NULL); /* 1: not base32 */
    assert_int_equal(r.code, KW_VERIFY_MALFORMED);
    kw_keycache_access_key(kc, id, 19, 1000, NULL, &r, NULL, NULL);
    assert_int_equal(r.code, KW_VERIFY_MALFORMED);

    make_access_key(&k, id, 1);
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    kw_keycache_access_key(kc, id, strlen(id), 1000, "10.0.0.1", &r, sealed, &sealed_len);
    assert_int_equal(r.code, KW_VERIFY_VALID);
    assert_string_equal(r.kind, "access_key");
    assert_string_equal(r.key_id, id);
    assert_string_equal(r.service_user_id, "su_owner");
    assert_int_equal(sealed_len, 70);
    assert_memory_equal(sealed, k.sealed, 70);
    d = drain(kc);
    assert_int_equal(d.valid, 1);
    assert_int_equal(d.last_used, 1000);
    assert_string_equal(d.ip, "10.0.0.1");
    assert_string_equal(d.key_id, id);

    /* never a bearer credential; the id string is not one anyway, and neither is "ak:"+id */
    assert_int_equal(verify(kc, id, 1000, NULL), KW_VERIFY_MALFORMED);

    /* rewrapped blob (rekey) replaces the old one; disabled key, disabled owner */
    make_access_key(&k, id, 2);
    k.sealed_len = 60;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    kw_keycache_access_key(kc, id, strlen(id), 1000, NULL, &r, sealed, &sealed_len);
    assert_int_equal(sealed_len, 60);
    assert_memory_equal(sealed, k.sealed, 60);
    k.enabled = 0;
    k.version = 3;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    kw_keycache_access_key(kc, id, strlen(id), 1000, NULL, &r, NULL, NULL);
    assert_int_equal(r.code, KW_VERIFY_DISABLED);
    k.enabled = 1;
    k.owner_enabled = 0;
    k.version = 4;
    assert_int_equal(kw_keycache_put(kc, &k), KW_OK);
    kw_keycache_access_key(kc, id, strlen(id), 1000, NULL, &r, NULL, NULL);
    assert_int_equal(r.code, KW_VERIFY_DISABLED);
    d = drain(kc);
    assert_int_equal(d.denied, 2);

    /* deleted: gone, with its blob */
    kw_keycache_remove(kc, k.hash, 5);
    kw_keycache_access_key(kc, id, strlen(id), 1000, NULL, &r, sealed, &sealed_len);
    assert_int_equal(r.code, KW_VERIFY_NOT_FOUND);
    assert_int_equal(sealed_len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_before_put, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstone_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash_handed_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_kind, setup, teardown),
        cmocka_unit_test_setup_teardown(test_banned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_key, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
