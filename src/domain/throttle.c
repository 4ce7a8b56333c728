/* throttle.c - keyed hash table of attempt counters with bounded, lock-aware eviction; see throttle.h.
 *
 * Entries live in one preallocated array. Each entry is in one bucket chain (by SipHash) and on
 * exactly one of three lists: free, open (not locked, least recently used first: the eviction
 * order) or locked (in the order they locked; only expired ones are ever reclaimed). An entry
 * with no failure and nothing in flight goes back to the free list at once. */
#include "domain/throttle.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define NIL UINT32_MAX
#define RECLAIM_SCAN 64 /* locked entries looked at for an expired one per allocation */
#define STORE_TRIES 3   /* shared: runs of one store transaction that the database asked to retry */

enum { L_FREE, L_OPEN, L_LOCKED, NLISTS };

struct entry {
    uint8_t id[KW_SIPHASH_LEN]; /* SipHash of the key string */
    uint32_t chain;             /* next in bucket */
    uint32_t prev, next;        /* list links */
    uint16_t failed, inflight, limit;
    uint8_t list;
    int64_t window_start;
};

struct list {
    uint32_t head, tail;
};

struct kw_throttle {
    pthread_mutex_t mu;
    uint8_t sipkey[KW_SIPHASH_KEY_LEN]; /* random per process */
    struct entry *e;
    uint32_t *buckets;
    uint32_t nentries, bucket_mask, used;
    struct list lists[NLISTS];
    int full_logged;
    struct kw_store *store; /* borrowed; non-NULL: the counters are shared through it */
};

static void list_remove(struct kw_throttle *t, uint32_t i)
{
    struct entry *e = &t->e[i];
    struct list *l = &t->lists[e->list];

    if (e->prev != NIL)
        t->e[e->prev].next = e->next;
    else
        l->head = e->next;
    if (e->next != NIL)
        t->e[e->next].prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NIL;
}

static void list_append(struct kw_throttle *t, uint32_t i, int which)
{
    struct entry *e = &t->e[i];
    struct list *l = &t->lists[which];

    e->list = (uint8_t)which;
    e->prev = l->tail;
    e->next = NIL;
    if (l->tail != NIL)
        t->e[l->tail].next = i;
    else
        l->head = i;
    l->tail = i;
}

struct kw_throttle *kw_throttle_new_capped(size_t max_entries)
{
    struct kw_throttle *t;
    size_t nb = 1;
    uint32_t i;

    if (max_entries < 1 || max_entries > (1u << 24) || (t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    while (nb < max_entries)
        nb <<= 1;
    t->e = calloc(max_entries, sizeof(*t->e));
    t->buckets = malloc(nb * sizeof(*t->buckets));
    if (t->e == NULL || t->buckets == NULL || kw_crypto_random(t->sipkey, sizeof(t->sipkey)) != KW_OK) {
        free(t->e);
        free(t->buckets);
        free(t);
        return NULL;
    }
    memset(t->buckets, 0xff, nb * sizeof(*t->buckets)); /* every bucket NIL */
    t->nentries = (uint32_t)max_entries;
    t->bucket_mask = (uint32_t)(nb - 1);
    for (i = 0; i < NLISTS; i++)
        t->lists[i].head = t->lists[i].tail = NIL;
    for (i = 0; i < t->nentries; i++)
        list_append(t, i, L_FREE);
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

struct kw_throttle *kw_throttle_new(void)
{
    return kw_throttle_new_capped(KW_THROTTLE_MAX_ENTRIES);
}

void kw_throttle_free(struct kw_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    explicit_bzero(t->sipkey, sizeof(t->sipkey));
    free(t->e);
    free(t->buckets);
    free(t);
}

static uint32_t *bucket_of(struct kw_throttle *t, const uint8_t id[KW_SIPHASH_LEN])
{
    uint32_t h;

    memcpy(&h, id, sizeof(h));
    return &t->buckets[h & t->bucket_mask];
}

static uint32_t lookup(struct kw_throttle *t, const uint8_t id[KW_SIPHASH_LEN])
{
    uint32_t i = *bucket_of(t, id);

    while (i != NIL && memcmp(t->e[i].id, id, KW_SIPHASH_LEN) != 0)
        i = t->e[i].chain;
    return i;
}

/* Unlinks entry i from its bucket and lists and puts it on the free list. */
static void release_entry(struct kw_throttle *t, uint32_t i)
{
    uint32_t *p = bucket_of(t, t->e[i].id);

    while (*p != i)
        p = &t->e[*p].chain;
    *p = t->e[i].chain;
    list_remove(t, i);
    memset(&t->e[i], 0, sizeof(t->e[i]));
    t->e[i].chain = t->e[i].prev = t->e[i].next = NIL;
    list_append(t, i, L_FREE);
    t->used--;
}

static int expired(const struct entry *e, int64_t now_ms)
{
    return now_ms - e->window_start >= KW_THROTTLE_WINDOW_MS;
}

/* A window that has run out forgets its failures; one with nothing counted restarts now. */
static void refresh(struct entry *e, int64_t now_ms)
{
    if ((e->failed > 0 && expired(e, now_ms)) || (e->failed == 0 && e->inflight == 0)) {
        e->failed = 0;
        e->window_start = now_ms;
    }
}

static int locked(const struct entry *e)
{
    return e->failed + e->inflight >= e->limit;
}

/* After a change: free when nothing is counted, else to the tail of the open or locked list. */
static void relist(struct kw_throttle *t, uint32_t i)
{
    struct entry *e = &t->e[i];

    if (e->failed == 0 && e->inflight == 0) {
        release_entry(t, i);
        return;
    }
    list_remove(t, i);
    list_append(t, i, locked(e) ? L_LOCKED : L_OPEN);
}

static int pinned(uint32_t i, const uint32_t *pins, size_t npins)
{
    size_t k;

    for (k = 0; k < npins; k++) {
        if (pins[k] == i)
            return 1;
    }
    return 0;
}

/* An entry for a new key: a free one, else the least recently used open one, else a locked one whose
 * window is over. Entries in pins (reserved by the same acquire) are never taken. NIL when none. */
static uint32_t take_entry(struct kw_throttle *t, int64_t now_ms, const uint32_t *pins, size_t npins)
{
    uint32_t i;
    int scanned = 0;

    for (i = t->lists[L_OPEN].head; t->lists[L_FREE].head == NIL && i != NIL; i = t->e[i].next) {
        if (!pinned(i, pins, npins)) {
            release_entry(t, i); /* evicted: not locked, used longest ago */
            break;
        }
    }
    for (i = t->lists[L_LOCKED].head; t->lists[L_FREE].head == NIL && i != NIL && scanned++ < RECLAIM_SCAN;
         i = t->e[i].next) {
        if (expired(&t->e[i], now_ms) && !pinned(i, pins, npins)) {
            release_entry(t, i);
            break;
        }
    }
    return t->lists[L_FREE].head;
}

static uint32_t insert(struct kw_throttle *t, const uint8_t id[KW_SIPHASH_LEN], int64_t now_ms,
                       const uint32_t *pins, size_t npins)
{
    uint32_t i = take_entry(t, now_ms, pins, npins), *b;

    if (i == NIL)
        return NIL;
    list_remove(t, i);
    b = bucket_of(t, id);
    memcpy(t->e[i].id, id, KW_SIPHASH_LEN);
    t->e[i].chain = *b;
    *b = i;
    t->e[i].window_start = now_ms;
    list_append(t, i, L_OPEN);
    t->used++;
    return i;
}

static int64_t wait_of(const struct entry *e, int64_t now_ms)
{
    int64_t s;

    if (e->failed < e->limit)
        return 1; /* locked by attempts still in flight: they settle within a password check */
    s = (e->window_start + KW_THROTTLE_WINDOW_MS - now_ms + 999) / 1000;
    return s < 1 ? 1 : s;
}

static enum kw_err hash_keys(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                             uint8_t ids[][KW_SIPHASH_LEN])
{
    size_t k;

    if (n < 1 || n > KW_THROTTLE_KEYS_MAX)
        return KW_ERR_INVALID;
    for (k = 0; k < n; k++) {
        if (keys[k].key == NULL || keys[k].limit < 1 || keys[k].limit > KW_THROTTLE_LIMIT_MAX)
            return KW_ERR_INVALID;
        if (kw_crypto_siphash(t->sipkey, keys[k].key, strlen(keys[k].key), ids[k]) != KW_OK)
            return KW_ERR_CRYPTO;
    }
    return KW_OK;
}

/* Under the lock: the longest wait among keys already locked, 0 if none is. */
static int64_t locked_wait(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                           uint8_t ids[][KW_SIPHASH_LEN], int64_t now_ms)
{
    int64_t wait = 0, w;
    size_t k;

    for (k = 0; k < n; k++) {
        uint32_t i = lookup(t, ids[k]);
        if (i == NIL)
            continue;
        refresh(&t->e[i], now_ms);
        t->e[i].limit = (uint16_t)keys[k].limit;
        if (locked(&t->e[i]) && (w = wait_of(&t->e[i], now_ms)) > wait)
            wait = w;
        relist(t, i); /* touched: to the tail, or freed when its window ran out with nothing left */
    }
    return wait;
}

/* Under the lock, no key locked: one attempt in flight on each, or none if the table cannot take them. */
static int reserve(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                   uint8_t ids[][KW_SIPHASH_LEN], int64_t now_ms)
{
    uint32_t got[KW_THROTTLE_KEYS_MAX];
    size_t k;

    for (k = 0; k < n; k++) {
        got[k] = lookup(t, ids[k]);
        if (got[k] == NIL)
            got[k] = insert(t, ids[k], now_ms, got, k);
        if (got[k] == NIL)
            break;
        t->e[got[k]].limit = (uint16_t)keys[k].limit;
        t->e[got[k]].inflight++;
        relist(t, got[k]);
    }
    if (k == n)
        return 1;
    while (k-- > 0) { /* all or none */
        t->e[got[k]].inflight--;
        relist(t, got[k]);
    }
    return 0;
}

/* ---- shared: counters in the store ---- */

void kw_throttle_share(struct kw_throttle *t, struct kw_store *st)
{
    t->store = st;
}

/* Remembers that key id is locked by limit failures in the window that began at window_start. */
static void note_locked(struct kw_throttle *t, const uint8_t id[KW_SIPHASH_LEN], int limit,
                        int64_t window_start, int64_t now_ms)
{
    uint32_t i;

    pthread_mutex_lock(&t->mu);
    i = lookup(t, id);
    if (i == NIL)
        i = insert(t, id, now_ms, NULL, 0);
    if (i != NIL) {
        t->e[i].failed = (uint16_t)limit;
        t->e[i].limit = (uint16_t)limit;
        t->e[i].window_start = window_start;
        relist(t, i);
    }
    pthread_mutex_unlock(&t->mu);
}

/* One transaction reserving every key; *refused = index of a key at its limit (+1), 0 if none. */
static enum kw_err store_reserve_tx(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                                    int64_t now_ms, size_t *refused, struct kw_throttle_row *row)
{
    struct kw_tx *tx = NULL;
    enum kw_err err = kw_store_begin(t->store, KW_TX_WRITE, &tx);
    size_t k;
    int ok = 1;

    *refused = 0;
    for (k = 0; err == KW_OK && ok && k < n; k++) {
        if (strlen(keys[k].key) >= KW_THROTTLE_KEY_MAX)
            err = KW_ERR_INVALID;
        else
            err = kw_store_throttle_reserve(tx, keys[k].key, keys[k].limit, now_ms, KW_THROTTLE_WINDOW_MS,
                                            &ok, row);
        if (err == KW_OK && !ok)
            *refused = k + 1;
    }
    if (err == KW_OK && *refused == 0)
        return kw_store_commit(tx);
    kw_store_rollback(tx); /* all or none */
    return err;
}

static enum kw_err store_acquire(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                                 uint8_t ids[][KW_SIPHASH_LEN], int64_t now_ms, int64_t *wait_s)
{
    struct kw_throttle_row row = {0};
    size_t refused = 0;
    enum kw_err err = KW_ERR_RETRY;
    int tries;

    for (tries = 0; err == KW_ERR_RETRY && tries < STORE_TRIES; tries++)
        err = store_reserve_tx(t, keys, n, now_ms, &refused, &row);
    if (err != KW_OK || refused == 0)
        return err;
    *wait_s = 1; /* locked by attempts still in flight: they settle within a password check */
    if (row.count - row.inflight >= keys[refused - 1].limit) {
        int64_t s = (row.window_start + KW_THROTTLE_WINDOW_MS - now_ms + 999) / 1000;
        *wait_s = s < 1 ? 1 : s;
        note_locked(t, ids[refused - 1], keys[refused - 1].limit, row.window_start, now_ms);
    }
    return KW_ERR_CONFLICT;
}

static enum kw_err store_settle_tx(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                                   enum kw_throttle_outcome outcome, int64_t now_ms)
{
    struct kw_tx *tx = NULL;
    enum kw_err err = kw_store_begin(t->store, KW_TX_WRITE, &tx);
    size_t k;

    for (k = 0; err == KW_OK && k < n; k++) {
        enum kw_store_settle how = outcome == KW_THROTTLE_FAILURE                      ? KW_SETTLE_FAIL
                                   : outcome == KW_THROTTLE_SUCCESS && keys[k].forgive ? KW_SETTLE_FORGIVE
                                                                                       : KW_SETTLE_RETURN;
        err = kw_store_throttle_settle(tx, keys[k].key, how, now_ms, KW_THROTTLE_WINDOW_MS);
    }
    if (err == KW_OK)
        return kw_store_commit(tx);
    kw_store_rollback(tx);
    return err;
}

static void store_release(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                          enum kw_throttle_outcome outcome, int64_t now_ms)
{
    enum kw_err err = KW_ERR_RETRY;
    int tries;

    for (tries = 0; err == KW_ERR_RETRY && tries < STORE_TRIES; tries++)
        err = store_settle_tx(t, keys, n, outcome, now_ms);
    if (err != KW_OK)
        kw_log_warn("login throttle not settled", "err=%s outcome=%d", kw_err_str(err), (int)outcome);
}

/* ---- acquire, release ---- */

enum kw_err kw_throttle_acquire(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                                int64_t now_ms, int64_t *wait_s)
{
    uint8_t ids[KW_THROTTLE_KEYS_MAX][KW_SIPHASH_LEN];
    enum kw_err err = hash_keys(t, keys, n, ids);
    int full = 0;

    *wait_s = 0;
    if (err != KW_OK)
        goto out;
    pthread_mutex_lock(&t->mu);
    *wait_s = locked_wait(t, keys, n, ids, now_ms);
    if (t->store != NULL) { /* known locked here: refused without asking the store */
        pthread_mutex_unlock(&t->mu);
        err = *wait_s > 0 ? KW_ERR_CONFLICT : store_acquire(t, keys, n, ids, now_ms, wait_s);
        goto out;
    }
    if (*wait_s == 0 && !reserve(t, keys, n, ids, now_ms)) {
        *wait_s = KW_THROTTLE_FULL_WAIT_S;
        full = !t->full_logged;
        t->full_logged = 1;
    } else if (*wait_s == 0) {
        t->full_logged = 0;
    }
    pthread_mutex_unlock(&t->mu);
    if (full)
        kw_log_warn("login throttle full", "entries=%u policy=fail_closed_for_new_keys", t->nentries);
    err = *wait_s > 0 ? KW_ERR_CONFLICT : KW_OK;
out:
    return err;
}

void kw_throttle_release(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                         enum kw_throttle_outcome outcome, int64_t now_ms)
{
    uint8_t ids[KW_THROTTLE_KEYS_MAX][KW_SIPHASH_LEN];
    size_t k;

    if (hash_keys(t, keys, n, ids) != KW_OK)
        return;
    if (t->store != NULL) {
        store_release(t, keys, n, outcome, now_ms);
        return;
    }
    pthread_mutex_lock(&t->mu);
    for (k = 0; k < n; k++) {
        uint32_t i = lookup(t, ids[k]);
        struct entry *e;
        if (i == NIL || t->e[i].inflight == 0)
            continue; /* evicted meanwhile: nothing left to settle */
        e = &t->e[i];
        e->inflight--;
        refresh(e, now_ms);
        if (outcome == KW_THROTTLE_FAILURE && e->failed < UINT16_MAX)
            e->failed++;
        else if (outcome == KW_THROTTLE_SUCCESS && keys[k].forgive)
            e->failed = 0;
        relist(t, i);
    }
    pthread_mutex_unlock(&t->mu);
}

size_t kw_throttle_size(struct kw_throttle *t)
{
    size_t n;

    pthread_mutex_lock(&t->mu);
    n = t->used;
    pthread_mutex_unlock(&t->mu);
    return n;
}
