/* keycache.c - sharded in-memory table of key hashes; see keycache.h for the contract. */
#include "domain/keycache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "domain/keyfmt.h"

#define KC_SHARDS 256
#define KC_INITIAL_BUCKETS 64

struct kc_entry {
    uint8_t hash[KW_HASH_LEN];
    char key_id[KW_ID_MAX];
    char service_id[KW_ID_MAX];
    int scope;
    uint32_t perms;
    int enabled;
    int64_t expires_at;
    int64_t revoked_at;
    struct kc_entry *chain; /* next in bucket, guarded by the shard lock */
    /* written on the hot path: */
    _Atomic int64_t last_used_at;
    atomic_flag ip_lock;
    char ip[KW_IP_MAX];
    _Atomic uint64_t valid;
    _Atomic uint64_t denied;
    atomic_int dirty;
    atomic_int refs; /* the table holds one; the dirty list holds one while queued */
    struct kc_entry *next_dirty;
};

struct kc_shard {
    pthread_rwlock_t lock;
    struct kc_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
} __attribute__((aligned(64)));

struct kw_keycache {
    struct kc_shard shards[KC_SHARDS];
    _Atomic(struct kc_entry *) dirty_head;
    atomic_size_t count;
};

static const char *const verify_codes[KW_VERIFY_CODE_COUNT] = {
    "VALID", "NOT_FOUND", "MALFORMED", "DISABLED", "REVOKED", "EXPIRED",
};

const char *kw_verify_code_str(enum kw_verify_code code)
{
    if ((unsigned)code >= KW_VERIFY_CODE_COUNT)
        return "UNKNOWN";
    return verify_codes[code];
}

/* The hash is uniformly random: byte 0 picks the shard, bytes 1..8 the bucket. */
static size_t bucket_of(const struct kc_shard *sh, const uint8_t *hash)
{
    uint64_t v;
    memcpy(&v, hash + 1, sizeof(v));
    return (size_t)(v & (sh->nbuckets - 1));
}

static void entry_unref(struct kc_entry *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1)
        free(e);
}

enum kw_err kw_keycache_new(struct kw_keycache **out)
{
    struct kw_keycache *kc = calloc(1, sizeof(*kc));
    enum kw_err err = KW_ERR_NOMEM;
    size_t i;

    *out = NULL;
    if (kc == NULL)
        goto out;
    for (i = 0; i < KC_SHARDS; i++) {
        struct kc_shard *sh = &kc->shards[i];
        sh->nbuckets = KC_INITIAL_BUCKETS;
        sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
        if (sh->buckets == NULL || pthread_rwlock_init(&sh->lock, NULL) != 0) {
            free(sh->buckets);
            sh->buckets = NULL;
            while (i-- > 0) {
                pthread_rwlock_destroy(&kc->shards[i].lock);
                free(kc->shards[i].buckets);
            }
            free(kc);
            goto out;
        }
    }
    atomic_init(&kc->dirty_head, NULL);
    *out = kc;
    err = KW_OK;
out:
    return err;
}

void kw_keycache_free(struct kw_keycache *kc)
{
    size_t i, b;
    struct kc_entry *e, *next;

    if (kc == NULL)
        return;
    /* Entries still queued as dirty hold a reference: drop it first. */
    for (e = atomic_exchange(&kc->dirty_head, NULL); e != NULL; e = next) {
        next = e->next_dirty;
        entry_unref(e);
    }
    for (i = 0; i < KC_SHARDS; i++) {
        struct kc_shard *sh = &kc->shards[i];
        for (b = 0; b < sh->nbuckets; b++) {
            for (e = sh->buckets[b]; e != NULL; e = next) {
                next = e->chain;
                entry_unref(e);
            }
        }
        free(sh->buckets);
        pthread_rwlock_destroy(&sh->lock);
    }
    free(kc);
}

static struct kc_entry *shard_find(struct kc_shard *sh, const uint8_t *hash)
{
    struct kc_entry *e;

    for (e = sh->buckets[bucket_of(sh, hash)]; e != NULL; e = e->chain) {
        if (kw_crypto_equal(e->hash, hash, KW_HASH_LEN))
            return e;
    }
    return NULL;
}

/* Doubles the bucket array; called with the shard write-locked. Failure just keeps chains longer. */
static void shard_grow(struct kc_shard *sh)
{
    size_t n = sh->nbuckets * 2, b;
    struct kc_entry **nb = calloc(n, sizeof(*nb));
    struct kc_entry *e, *next;

    if (nb == NULL)
        return;
    for (b = 0; b < sh->nbuckets; b++) {
        for (e = sh->buckets[b]; e != NULL; e = next) {
            uint64_t v;
            next = e->chain;
            memcpy(&v, e->hash + 1, sizeof(v));
            e->chain = nb[v & (n - 1)];
            nb[v & (n - 1)] = e;
        }
    }
    free(sh->buckets);
    sh->buckets = nb;
    sh->nbuckets = n;
}

static void entry_set(struct kc_entry *e, const struct kw_key *key)
{
    memcpy(e->key_id, key->id, sizeof(e->key_id));
    memcpy(e->service_id, key->service_id, sizeof(e->service_id));
    e->key_id[KW_ID_MAX - 1] = '\0';
    e->service_id[KW_ID_MAX - 1] = '\0';
    e->scope = key->scope;
    e->perms = key->perms | KW_PERM_CANDIDATES_READ;
    e->enabled = key->enabled;
    e->expires_at = key->expires_at;
    e->revoked_at = key->revoked_at;
}

enum kw_err kw_keycache_put(struct kw_keycache *kc, const struct kw_key *key)
{
    struct kc_shard *sh = &kc->shards[key->hash[0]];
    struct kc_entry *e;
    enum kw_err err = KW_OK;

    pthread_rwlock_wrlock(&sh->lock);
    e = shard_find(sh, key->hash);
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL) {
            err = KW_ERR_NOMEM;
            goto out;
        }
        memcpy(e->hash, key->hash, KW_HASH_LEN);
        atomic_flag_clear(&e->ip_lock);
        atomic_init(&e->refs, 1);
        if (sh->count >= sh->nbuckets)
            shard_grow(sh);
        size_t b = bucket_of(sh, e->hash);
        e->chain = sh->buckets[b];
        sh->buckets[b] = e;
        sh->count++;
        atomic_fetch_add(&kc->count, 1);
    }
    entry_set(e, key);
out:
    pthread_rwlock_unlock(&sh->lock);
    return err;
}

void kw_keycache_remove(struct kw_keycache *kc, const uint8_t hash[KW_HASH_LEN], int64_t version)
{
    (void)version; /* placeholder until the versioned cache lands */
    struct kc_shard *sh = &kc->shards[hash[0]];
    struct kc_entry **pp, *e = NULL;

    pthread_rwlock_wrlock(&sh->lock);
    for (pp = &sh->buckets[bucket_of(sh, hash)]; *pp != NULL; pp = &(*pp)->chain) {
        if (kw_crypto_equal((*pp)->hash, hash, KW_HASH_LEN)) {
            e = *pp;
            *pp = e->chain;
            sh->count--;
            atomic_fetch_sub(&kc->count, 1);
            break;
        }
    }
    pthread_rwlock_unlock(&sh->lock);
    if (e != NULL)
        entry_unref(e);
}

size_t kw_keycache_count(struct kw_keycache *kc)
{
    return atomic_load(&kc->count);
}

/* Queues e for the write-behind thread unless it is queued already. Called under the shard lock. */
static void mark_dirty(struct kw_keycache *kc, struct kc_entry *e)
{
    struct kc_entry *head;

    if (atomic_exchange(&e->dirty, 1) != 0)
        return;
    atomic_fetch_add(&e->refs, 1);
    head = atomic_load(&kc->dirty_head);
    do {
        e->next_dirty = head;
    } while (!atomic_compare_exchange_weak(&kc->dirty_head, &head, e));
}

static enum kw_verify_code decide(const struct kc_entry *e, int64_t now_ms)
{
    if (e->revoked_at != 0)
        return KW_VERIFY_REVOKED;
    if (e->expires_at != 0 && now_ms >= e->expires_at)
        return KW_VERIFY_EXPIRED;
    if (!e->enabled)
        return KW_VERIFY_DISABLED;
    return KW_VERIFY_VALID;
}

static void record_use(struct kc_entry *e, enum kw_verify_code code, int64_t now_ms, const char *ip)
{
    if (code != KW_VERIFY_VALID) {
        atomic_fetch_add_explicit(&e->denied, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&e->valid, 1, memory_order_relaxed);
    atomic_store_explicit(&e->last_used_at, now_ms, memory_order_relaxed);
    if (ip != NULL && !atomic_flag_test_and_set_explicit(&e->ip_lock, memory_order_acquire)) {
        /* Contended: another thread is writing the same key's ip right now; its value will do. */
        size_t n = strnlen(ip, KW_IP_MAX - 1);
        memcpy(e->ip, ip, n);
        e->ip[n] = '\0';
        atomic_flag_clear_explicit(&e->ip_lock, memory_order_release);
    }
}

void kw_keycache_verify(struct kw_keycache *kc, const char *secret, size_t len, int64_t now_ms,
                        const char *ip, struct kw_verify_result *out)
{
    uint8_t hash[KW_HASH_LEN];
    struct kc_shard *sh;
    struct kc_entry *e;

    out->code = KW_VERIFY_MALFORMED;
    out->key_id[0] = out->service_id[0] = '\0';
    out->scope = 0;
    out->perms = 0;
    out->expires_at = 0;
    if (kw_keyfmt_check(secret, len) != KW_OK)
        return;
    if (kw_crypto_sha256(secret, len, hash) != KW_OK) {
        out->code = KW_VERIFY_NOT_FOUND;
        return;
    }
    sh = &kc->shards[hash[0]];
    pthread_rwlock_rdlock(&sh->lock);
    e = shard_find(sh, hash);
    if (e == NULL) {
        out->code = KW_VERIFY_NOT_FOUND;
        goto out;
    }
    out->code = decide(e, now_ms);
    memcpy(out->key_id, e->key_id, KW_ID_MAX);
    memcpy(out->service_id, e->service_id, KW_ID_MAX);
    out->scope = e->scope;
    out->perms = e->perms;
    out->expires_at = e->expires_at;
    record_use(e, out->code, now_ms, ip);
    mark_dirty(kc, e);
out:
    pthread_rwlock_unlock(&sh->lock);
}

void kw_keycache_drain(struct kw_keycache *kc, kw_keycache_touch_cb cb, void *ctx)
{
    struct kc_entry *e = atomic_exchange(&kc->dirty_head, NULL), *next;
    char ip[KW_IP_MAX];

    for (; e != NULL; e = next) {
        uint64_t valid, denied;
        next = e->next_dirty;
        atomic_store(&e->dirty, 0);
        valid = atomic_exchange(&e->valid, 0);
        denied = atomic_exchange(&e->denied, 0);
        while (atomic_flag_test_and_set_explicit(&e->ip_lock, memory_order_acquire))
            ;
        memcpy(ip, e->ip, sizeof(ip));
        atomic_flag_clear_explicit(&e->ip_lock, memory_order_release);
        if (valid != 0 || denied != 0)
            cb(ctx, e->key_id, e->service_id, valid ? atomic_load(&e->last_used_at) : 0, ip, valid, denied);
        entry_unref(e);
    }
}
