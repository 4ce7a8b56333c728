/* keycache.c - sharded in-memory table of key hashes; see keycache.h for the contract.
 *
 * Memory order. A verification adds to valid/denied (seq_cst read-modify-write) and then reads
 * `dirty` (seq_cst); the drain clears `dirty` (seq_cst) and then swaps the counters out (seq_cst).
 * In the single total order either the verifier's read of dirty comes before the drain's clear (so
 * its increment precedes the swap and this drain takes it), or after (it sees 0 and queues the entry
 * for the next drain). Either way every increment is drained exactly once. */
#include "domain/keycache.h"

#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/keycache_internal.h"
#include "domain/keyfmt.h"

#define KC_SHARDS 256
#define KC_INITIAL_BUCKETS 64
#define KC_IP_WORDS 6 /* 48 bytes >= KW_IP_MAX */
#define KC_LINE 64
#define KC_ROUND(n) (((n) + KC_LINE - 1) & ~(size_t)(KC_LINE - 1)) /* aligned_alloc wants a multiple */

/* Laid out by cache line: a hit touches the bucket slot and lines A-D, nothing else. */
struct kc_entry {
    /* A: lookup and decision; written only under the shard write lock. */
    uint8_t hash[KW_HASH_LEN];
    struct kc_entry *chain; /* next in bucket */
    int64_t version;
    int64_t expires_at;
    int64_t revoked_at;
    /* B: the rest of the decision, then what a verification writes. */
    uint32_t perms;
    uint8_t scope;
    uint8_t enabled;
    uint8_t dead; /* a tombstone */
    uint8_t in_fifo;
    _Atomic uint64_t valid;
    _Atomic uint64_t denied;
    _Atomic int64_t last_used_at;
    atomic_int dirty;
    atomic_int refs; /* the table holds one; the dirty list holds one while queued */
    struct kc_entry *next_dirty;
    atomic_flag ip_lock; /* guards writes of ip[] and the drain's read of it */
    uint8_t kind;        /* enum kc_kind */
    uint8_t owner_enabled;
    uint8_t require_encryption; /* record extracts only as encrypted responses (enckeys.h) */
    uint8_t archives;           /* archiveAfterExtractSeconds is set (>= 0) */
    int64_t dead_at;     /* monotonic ms of the remove */
    /* C, D: copied into the result; the last-use address. */
    char key_id[KW_ID_MAX];
    char service_id[KW_ID_MAX];
    _Atomic uint64_t ip[KC_IP_WORDS];
    /* cold */
    struct kc_entry *tomb_next; /* in the shard's tombstone FIFO */
    char service_user_id[KW_ID_MAX];
    uint8_t *sealed; /* access keys only: the sealed secret (malloc'd, replaced under the write lock) */
    size_t sealed_len;
};

/* The kinds of keys rows (records.h), as one byte in the entry. */
enum kc_kind { KC_API_KEY = 0, KC_TOKEN, KC_ACCESS_KEY, KC_BAN, KC_CLIENT_SECRET, KC_OTHER };
static const char *const kind_names[] = {"api_key", "token", "access_key", "ban", "client_secret", "other"};

static uint8_t kind_of(const char *kind)
{
    uint8_t i;

    if (kind[0] == '\0')
        return KC_API_KEY; /* rows written before migration 0005's callers set it */
    for (i = 0; i < KC_OTHER; i++)
        if (strncmp(kind, kind_names[i], KW_KIND_MAX) == 0)
            return i;
    return KC_OTHER;
}

struct kc_shard {
    pthread_rwlock_t lock;
    struct kc_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;    /* entries in the chains, tombstones included */
    struct kc_entry *tomb_head, *tomb_tail;
    size_t tombstones;
} __attribute__((aligned(64)));

struct kw_keycache {
    struct kc_shard shards[KC_SHARDS];
    _Atomic(struct kc_entry *) dirty_head;
    atomic_size_t count;      /* live entries */
    atomic_size_t tombstones; /* for tests and metrics */
    kw_keycache_clock_fn clock;
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

static int64_t mono_ms(void)
{
    return (int64_t)(kw_time_mono_ns() / 1000000u);
}

/* The hash is uniformly random: byte 0 picks the shard, bytes 1..8 the bucket, 16..23 the tag. */
static size_t bucket_index(const uint8_t *hash, size_t nbuckets)
{
    uint64_t v;
    memcpy(&v, hash + 1, sizeof(v));
    return (size_t)(v & (nbuckets - 1));
}

static uint64_t tag_of(const uint8_t *hash)
{
    uint64_t v;
    memcpy(&v, hash + 16, sizeof(v));
    return v;
}

_Static_assert(offsetof(struct kc_entry, perms) == 64, "line A is the lookup");
_Static_assert(offsetof(struct kc_entry, key_id) == 128, "line B is the decision and the counters");

static void sealed_free(uint8_t *p, size_t len)
{
    if (p != NULL)
        memset(p, 0, len);
    free(p);
}

static void entry_unref(struct kc_entry *e)
{
    if (atomic_fetch_sub(&e->refs, 1) == 1) {
        sealed_free(e->sealed, e->sealed_len);
        free(e);
    }
}

static void shard_cleanup(struct kc_shard *sh)
{
    struct kc_entry *e, *next;
    size_t b;

    for (b = 0; b < sh->nbuckets; b++) {
        for (e = sh->buckets[b]; e != NULL; e = next) {
            next = e->chain;
            entry_unref(e);
        }
    }
    free(sh->buckets);
    pthread_rwlock_destroy(&sh->lock);
}

enum kw_err kw_keycache_new(struct kw_keycache **out)
{
    struct kw_keycache *kc = aligned_alloc(KC_LINE, KC_ROUND(sizeof(*kc)));
    enum kw_err err = KW_ERR_NOMEM;
    size_t i;

    *out = NULL;
    if (kc == NULL)
        goto out;
    memset(kc, 0, sizeof(*kc));
    for (i = 0; i < KC_SHARDS; i++) {
        struct kc_shard *sh = &kc->shards[i];
        sh->nbuckets = KC_INITIAL_BUCKETS;
        sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets));
        if (sh->buckets == NULL || pthread_rwlock_init(&sh->lock, NULL) != 0) {
            free(sh->buckets);
            while (i-- > 0)
                shard_cleanup(&kc->shards[i]);
            free(kc);
            goto out;
        }
    }
    atomic_init(&kc->dirty_head, NULL);
    kc->clock = mono_ms;
    *out = kc;
    err = KW_OK;
out:
    return err;
}

void kw_keycache_free(struct kw_keycache *kc)
{
    struct kc_entry *e, *next;
    size_t i;

    if (kc == NULL)
        return;
    /* Entries still queued as dirty hold a reference: drop it first. */
    for (e = atomic_exchange(&kc->dirty_head, NULL); e != NULL; e = next) {
        next = e->next_dirty;
        entry_unref(e);
    }
    for (i = 0; i < KC_SHARDS; i++)
        shard_cleanup(&kc->shards[i]);
    free(kc);
}

void kw_keycache_set_clock(struct kw_keycache *kc, kw_keycache_clock_fn clock)
{
    kc->clock = clock != NULL ? clock : mono_ms;
}

size_t kw_keycache_tombstones(struct kw_keycache *kc)
{
    return atomic_load(&kc->tombstones);
}

/* Plain compare of the tag first (the hash is public-random, its position in a chain reveals
 * nothing), then the full hash in constant time. */
static struct kc_entry *shard_find(struct kc_shard *sh, const uint8_t *hash)
{
    uint64_t tag = tag_of(hash);
    struct kc_entry *e;

    for (e = sh->buckets[bucket_index(hash, sh->nbuckets)]; e != NULL; e = e->chain) {
        if (tag_of(e->hash) == tag && kw_crypto_equal(e->hash, hash, KW_HASH_LEN))
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
            size_t i = bucket_index(e->hash, n);
            next = e->chain;
            e->chain = nb[i];
            nb[i] = e;
        }
    }
    free(sh->buckets);
    sh->buckets = nb;
    sh->nbuckets = n;
}

/* A new, dead entry for hash in sh (write-locked), or NULL when out of memory. */
static struct kc_entry *shard_insert(struct kc_shard *sh, const uint8_t *hash)
{
    struct kc_entry *e = aligned_alloc(KC_LINE, KC_ROUND(sizeof(*e)));
    size_t b;

    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof(*e));
    memcpy(e->hash, hash, KW_HASH_LEN);
    e->dead = 1;
    atomic_flag_clear(&e->ip_lock);
    atomic_init(&e->refs, 1);
    if (sh->count >= sh->nbuckets)
        shard_grow(sh);
    b = bucket_index(hash, sh->nbuckets);
    e->chain = sh->buckets[b];
    sh->buckets[b] = e;
    sh->count++;
    return e;
}

static void shard_unlink(struct kc_shard *sh, struct kc_entry *e)
{
    struct kc_entry **pp;

    for (pp = &sh->buckets[bucket_index(e->hash, sh->nbuckets)]; *pp != NULL; pp = &(*pp)->chain) {
        if (*pp == e) {
            *pp = e->chain;
            sh->count--;
            return;
        }
    }
}

/* Frees the tombstones of sh (write-locked) older than the TTL. The FIFO is in order of removal; an
 * entry revived by a newer put is dropped from it when it reaches the head, and one killed again
 * while still queued keeps its place with its newer time, which can only delay the entries behind
 * it, never hasten an expiry. */
static void shard_expire(struct kw_keycache *kc, struct kc_shard *sh, int64_t now)
{
    struct kc_entry *e;

    while ((e = sh->tomb_head) != NULL && (!e->dead || now - e->dead_at >= KW_KEYCACHE_TOMBSTONE_TTL_MS)) {
        sh->tomb_head = e->tomb_next;
        if (sh->tomb_head == NULL)
            sh->tomb_tail = NULL;
        e->tomb_next = NULL;
        e->in_fifo = 0;
        if (!e->dead)
            continue;
        shard_unlink(sh, e);
        sh->tombstones--;
        atomic_fetch_sub(&kc->tombstones, 1);
        entry_unref(e);
    }
}

static void fifo_push(struct kc_shard *sh, struct kc_entry *e)
{
    if (e->in_fifo)
        return;
    e->in_fifo = 1;
    e->tomb_next = NULL;
    if (sh->tomb_tail != NULL)
        sh->tomb_tail->tomb_next = e;
    else
        sh->tomb_head = e;
    sh->tomb_tail = e;
}

/* Sets e from key; *sealed (a copy of key's sealed blob, or NULL) moves into e, and what e held
 * before moves out through *sealed / *sealed_len for the caller to free after unlocking. */
static void entry_set(struct kc_entry *e, const struct kw_key *key, uint8_t **sealed, size_t *sealed_len)
{
    uint8_t *old = e->sealed;
    size_t old_len = e->sealed_len;

    e->sealed = *sealed;
    e->sealed_len = *sealed != NULL ? key->sealed_len : 0;
    *sealed = old;
    *sealed_len = old_len;
    e->kind = kind_of(key->kind);
    e->owner_enabled = key->owner_enabled != 0;
    e->require_encryption = key->require_encryption != 0;
    e->archives = key->archive_after_extract_s >= 0;
    memcpy(e->service_user_id, key->service_user_id, sizeof(e->service_user_id));
    e->service_user_id[KW_ID_MAX - 1] = '\0';
    memcpy(e->key_id, key->id, sizeof(e->key_id));
    memcpy(e->service_id, key->service_id, sizeof(e->service_id));
    e->key_id[KW_ID_MAX - 1] = '\0';
    e->service_id[KW_ID_MAX - 1] = '\0';
    e->scope = key->scope;
    e->perms = key->perms | KW_PERM_CANDIDATES_READ;
    e->enabled = key->enabled;
    e->expires_at = key->expires_at;
    e->revoked_at = key->revoked_at;
    e->version = key->version;
}

enum kw_err kw_keycache_put(struct kw_keycache *kc, const struct kw_key *key)
{
    struct kc_shard *sh = &kc->shards[key->hash[0]];
    int64_t now = kc->clock();
    struct kc_entry *e;
    enum kw_err err = KW_OK;
    uint8_t *sealed = NULL;
    size_t sealed_len = key->sealed_len;

    /* Only access keys carry a blob; allocated outside the lock. */
    if (kind_of(key->kind) == KC_ACCESS_KEY && key->sealed_len > 0 && key->sealed_len <= KW_SEALED_MAX) {
        sealed = malloc(key->sealed_len);
        if (sealed == NULL)
            return KW_ERR_NOMEM;
        memcpy(sealed, key->sealed, key->sealed_len);
    }
    pthread_rwlock_wrlock(&sh->lock);
    shard_expire(kc, sh, now);
    e = shard_find(sh, key->hash);
    if (e == NULL) {
        e = shard_insert(sh, key->hash);
        if (e == NULL) {
            err = KW_ERR_NOMEM;
            goto out;
        }
        sh->tombstones++; /* born dead, revived just below */
        atomic_fetch_add(&kc->tombstones, 1);
    } else if (key->version <= e->version) {
        goto out; /* stale: this change or a newer one is already applied */
    }
    if (e->dead) {
        e->dead = 0;
        sh->tombstones--;
        atomic_fetch_sub(&kc->tombstones, 1);
        atomic_fetch_add(&kc->count, 1);
    }
    entry_set(e, key, &sealed, &sealed_len);
out:
    pthread_rwlock_unlock(&sh->lock);
    sealed_free(sealed, sealed_len); /* the replaced blob, or the unused copy of a stale put */
    return err;
}

void kw_keycache_remove(struct kw_keycache *kc, const uint8_t hash[KW_HASH_LEN], int64_t version)
{
    (void)version; /* placeholder until the versioned cache lands */
    struct kc_shard *sh = &kc->shards[hash[0]];
    int64_t now = kc->clock();
    struct kc_entry *e;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;

    pthread_rwlock_wrlock(&sh->lock);
    shard_expire(kc, sh, now);
    e = shard_find(sh, hash);
    if (e == NULL) {
        /* The delete overtook the put of the creation: remember it. Out of memory: nothing cached
         * to delete, and a late put of a deleted key would be the only risk, accepted here. */
        e = shard_insert(sh, hash);
        if (e == NULL)
            goto out;
        sh->tombstones++;
        atomic_fetch_add(&kc->tombstones, 1);
    } else if (version <= e->version) {
        goto out;
    } else if (!e->dead) {
        e->dead = 1;
        sh->tombstones++;
        atomic_fetch_add(&kc->tombstones, 1);
        atomic_fetch_sub(&kc->count, 1);
    }
    e->version = version;
    e->dead_at = now;
    sealed = e->sealed; /* a dead entry keeps no secret material */
    sealed_len = e->sealed_len;
    e->sealed = NULL;
    e->sealed_len = 0;
    fifo_push(sh, e);
out:
    pthread_rwlock_unlock(&sh->lock);
    sealed_free(sealed, sealed_len);
}

size_t kw_keycache_count(struct kw_keycache *kc)
{
    return atomic_load(&kc->count);
}

/* Queues e for the write-behind thread unless it is queued already. Called under the shard lock,
 * after the counters were updated (see the memory-order note at the top). */
static void mark_dirty(struct kw_keycache *kc, struct kc_entry *e)
{
    struct kc_entry *head;

    if (atomic_load(&e->dirty) != 0 || atomic_exchange(&e->dirty, 1) != 0)
        return;
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    head = atomic_load_explicit(&kc->dirty_head, memory_order_relaxed);
    do {
        e->next_dirty = head;
    } while (!atomic_compare_exchange_weak_explicit(&kc->dirty_head, &head, e, memory_order_release,
                                                    memory_order_relaxed));
}

static enum kw_verify_code decide(const struct kc_entry *e, int64_t now_ms)
{
    if (e->revoked_at != 0)
        return KW_VERIFY_REVOKED;
    if (e->expires_at != 0 && now_ms >= e->expires_at)
        return KW_VERIFY_EXPIRED;
    if (!e->enabled)
        return KW_VERIFY_DISABLED;
    if ((e->kind == KC_TOKEN || e->kind == KC_ACCESS_KEY || e->kind == KC_CLIENT_SECRET) && !e->owner_enabled)
        return KW_VERIFY_DISABLED; /* the owning service user is disabled */
    return KW_VERIFY_VALID;
}

/* The ip as KC_IP_WORDS words, zero-padded. */
static void ip_words(const char *ip, uint64_t w[KC_IP_WORDS])
{
    size_t n = strnlen(ip, KW_IP_MAX - 1);

    memset(w, 0, KC_IP_WORDS * sizeof(*w));
    memcpy(w, ip, n);
}

/* Writes ip as the entry's last-use address unless it is already that (the common case: no store
 * at all). A writer that finds the lock taken leaves it to the one holding it. */
static void record_ip(struct kc_entry *e, const char *ip)
{
    uint64_t w[KC_IP_WORDS];
    int i, same = 1;

    ip_words(ip, w);
    for (i = 0; i < KC_IP_WORDS; i++)
        same &= atomic_load_explicit(&e->ip[i], memory_order_relaxed) == w[i];
    if (same || atomic_flag_test_and_set_explicit(&e->ip_lock, memory_order_acquire))
        return;
    for (i = 0; i < KC_IP_WORDS; i++)
        atomic_store_explicit(&e->ip[i], w[i], memory_order_relaxed);
    atomic_flag_clear_explicit(&e->ip_lock, memory_order_release);
}

static void record_use(struct kc_entry *e, enum kw_verify_code code, int64_t now_ms, const char *ip)
{
    if (code != KW_VERIFY_VALID) {
        atomic_fetch_add(&e->denied, 1);
        return;
    }
    /* Time and ip before the count: a drain that takes this count also sees them. */
    if (atomic_load_explicit(&e->last_used_at, memory_order_relaxed) < now_ms)
        atomic_store_explicit(&e->last_used_at, now_ms, memory_order_relaxed);
    if (ip != NULL)
        record_ip(e, ip);
    atomic_fetch_add(&e->valid, 1);
}

static void result_clear(struct kw_verify_result *out)
{
    out->code = KW_VERIFY_MALFORMED;
    out->key_id[0] = out->service_id[0] = '\0';
    out->scope = 0;
    out->perms = 0;
    out->expires_at = 0;
    out->hashed = 0;
    out->kind[0] = out->service_user_id[0] = '\0';
    out->require_encryption = 0;
    out->archives_after_extract = 0;
}

/* Copies what the caller may see of e; 0 if only_service filters it out. */
static int result_fill(const struct kc_entry *e, const char *only_service, int64_t now_ms,
                       struct kw_verify_result *out)
{
    if (only_service != NULL && strcmp(e->service_id, only_service) != 0)
        return 0;
    out->code = decide(e, now_ms);
    memcpy(out->key_id, e->key_id, KW_ID_MAX);
    memcpy(out->service_id, e->service_id, KW_ID_MAX);
    out->scope = e->scope;
    out->perms = e->perms;
    out->expires_at = e->expires_at;
    memcpy(out->kind, kind_names[e->kind], strlen(kind_names[e->kind]) + 1);
    memcpy(out->service_user_id, e->service_user_id, KW_ID_MAX);
    out->require_encryption = e->require_encryption;
    out->archives_after_extract = e->archives;
    return 1;
}

void kw_keycache_verify(struct kw_keycache *kc, const char *secret, size_t len, int64_t now_ms, const char *ip,
                        const char *only_service, struct kw_verify_result *out)
{
    struct kc_shard *sh;
    struct kc_entry *e;
    int found = 0;

    result_clear(out);
    if (kw_keyfmt_check_shape(secret, len) != KW_OK)
        return;
    if (kw_crypto_sha256(secret, len, out->hash) != KW_OK) {
        out->code = KW_VERIFY_NOT_FOUND;
        return;
    }
    out->hashed = 1;
    out->code = KW_VERIFY_NOT_FOUND;
    sh = &kc->shards[out->hash[0]];
    pthread_rwlock_rdlock(&sh->lock);
    e = shard_find(sh, out->hash);
    /* Only bearer credentials answer here: an access key or a ban row is not one. */
    if (e != NULL && !e->dead && (e->kind == KC_API_KEY || e->kind == KC_TOKEN) &&
        result_fill(e, only_service, now_ms, out)) {
        record_use(e, out->code, now_ms, ip);
        mark_dirty(kc, e);
        found = 1;
    }
    pthread_rwlock_unlock(&sh->lock);
    if (!found && kw_keyfmt_check_crc(secret, len) != KW_OK)
        out->code = KW_VERIFY_MALFORMED;
}

/* Copies e's ids under its shard's read lock (a put may be rewriting them). */
static void copy_ids(struct kw_keycache *kc, struct kc_entry *e, char key_id[KW_ID_MAX],
                     char service_id[KW_ID_MAX])
{
    struct kc_shard *sh = &kc->shards[e->hash[0]];

    pthread_rwlock_rdlock(&sh->lock);
    memcpy(key_id, e->key_id, KW_ID_MAX);
    memcpy(service_id, e->service_id, KW_ID_MAX);
    pthread_rwlock_unlock(&sh->lock);
}

static void copy_ip(struct kc_entry *e, char ip[KW_IP_MAX])
{
    uint64_t w[KC_IP_WORDS];
    int i;

    while (atomic_flag_test_and_set_explicit(&e->ip_lock, memory_order_acquire))
        ;
    for (i = 0; i < KC_IP_WORDS; i++)
        w[i] = atomic_load_explicit(&e->ip[i], memory_order_relaxed);
    atomic_flag_clear_explicit(&e->ip_lock, memory_order_release);
    memcpy(ip, w, KW_IP_MAX - 1);
    ip[KW_IP_MAX - 1] = '\0';
}

void kw_keycache_drain(struct kw_keycache *kc, kw_keycache_touch_cb cb, void *ctx)
{
    struct kc_entry *e = atomic_exchange(&kc->dirty_head, NULL), *next;
    char ip[KW_IP_MAX], key_id[KW_ID_MAX], service_id[KW_ID_MAX];

    for (; e != NULL; e = next) {
        uint64_t valid, denied;
        int64_t last;
        next = e->next_dirty;
        atomic_store(&e->dirty, 0);
        valid = atomic_exchange(&e->valid, 0);
        denied = atomic_exchange(&e->denied, 0);
        last = atomic_load(&e->last_used_at);
        if (valid != 0 || denied != 0) {
            copy_ids(kc, e, key_id, service_id);
            copy_ip(e, ip);
            cb(ctx, key_id, service_id, valid ? last : 0, ip, valid, denied);
        }
        entry_unref(e);
    }
}

int kw_keycache_banned(struct kw_keycache *kc, const char *what, int64_t now_ms)
{
    uint8_t hash[KW_HASH_LEN];
    struct kc_shard *sh;
    struct kc_entry *e;
    int banned = 0;

    if (kw_crypto_sha256(what, strlen(what), hash) != KW_OK)
        return 1; /* cannot tell: refuse */
    sh = &kc->shards[hash[0]];
    pthread_rwlock_rdlock(&sh->lock);
    e = shard_find(sh, hash);
    if (e != NULL && !e->dead && e->kind == KC_BAN && e->revoked_at == 0 &&
        (e->expires_at == 0 || now_ms < e->expires_at))
        banned = 1;
    pthread_rwlock_unlock(&sh->lock);
    return banned;
}

/* "KWAK" + 16 characters of RFC 4648 base32 (A-Z, 2-7). */
static int access_key_id_valid(const char *id, size_t len)
{
    size_t i;

    if (len != 20 || memcmp(id, "KWAK", 4) != 0)
        return 0;
    for (i = 4; i < len; i++)
        if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '2' && id[i] <= '7')))
            return 0;
    return 1;
}

void kw_keycache_access_key(struct kw_keycache *kc, const char *access_key_id, size_t len, int64_t now_ms,
                            const char *ip, struct kw_verify_result *out, uint8_t *sealed, size_t *sealed_len)
{
    char what[3 + 20];
    struct kc_shard *sh;
    struct kc_entry *e;

    result_clear(out);
    if (sealed_len != NULL)
        *sealed_len = 0;
    if (!access_key_id_valid(access_key_id, len))
        return;
    memcpy(what, "ak:", 3);
    memcpy(what + 3, access_key_id, len);
    out->code = KW_VERIFY_NOT_FOUND;
    if (kw_crypto_sha256(what, 3 + len, out->hash) != KW_OK)
        return;
    out->hashed = 1;
    sh = &kc->shards[out->hash[0]];
    pthread_rwlock_rdlock(&sh->lock);
    e = shard_find(sh, out->hash);
    if (e != NULL && !e->dead && e->kind == KC_ACCESS_KEY && result_fill(e, NULL, now_ms, out)) {
        if (sealed != NULL && sealed_len != NULL && e->sealed != NULL && e->sealed_len <= KW_SEALED_MAX) {
            memcpy(sealed, e->sealed, e->sealed_len);
            *sealed_len = e->sealed_len;
        }
        record_use(e, out->code, now_ms, ip);
        mark_dirty(kc, e);
    }
    pthread_rwlock_unlock(&sh->lock);
}

void kw_keycache_client_secret(struct kw_keycache *kc, const uint8_t hash[KW_HASH_LEN], int64_t now_ms,
                               struct kw_verify_result *out)
{
    struct kc_shard *sh = &kc->shards[hash[0]];
    struct kc_entry *e;

    result_clear(out);
    memcpy(out->hash, hash, KW_HASH_LEN);
    out->hashed = 1;
    out->code = KW_VERIFY_NOT_FOUND;
    pthread_rwlock_rdlock(&sh->lock);
    e = shard_find(sh, hash);
    /* No last use for a client secret: the issuance audit (write-behind) already records each use. */
    if (e != NULL && !e->dead && e->kind == KC_CLIENT_SECRET)
        result_fill(e, NULL, now_ms, out);
    pthread_rwlock_unlock(&sh->lock);
}
