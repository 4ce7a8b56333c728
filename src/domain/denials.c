/* denials.c - per-minute aggregation of refused requests; see denials.h.
 *
 * 16 shards, each a mutex and an open-addressing table of 512 buckets. A bucket's shard and home slot
 * come from a hash of its key under a per-process random seed, so a client cannot aim its requests at
 * one shard. Up to 448 slots of a shard hold ordinary buckets; the other 64 are left for overflow
 * buckets, so overflow always finds room while minutes are collected. */
#include "domain/denials.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "core/utf8.h"
#include "crypto/crypto.h"
#include "domain/audit.h"

#define NSHARDS 16
#define SLOTS 512
#define SHARD_NORMAL_MAX 448
#define SAMPLE_PATH_MAX 128

struct bucket {
    uint64_t hash; /* 0 = empty slot */
    int64_t minute;
    int64_t first_ms;
    uint64_t count;
    int overflow;
    char ip[KW_IP_MAX];
    char reason[24];
    char action[48];
    char actor_type[16];
    char actor_id[KW_ACTOR_MAX];
    char path[SAMPLE_PATH_MAX];
    size_t path_len;
    char request_id[65];
};

struct shard {
    pthread_mutex_t mu;
    size_t normal; /* ordinary buckets in slots */
    struct bucket slots[SLOTS];
};

struct kw_denials {
    uint64_t seed;
    size_t max;
    atomic_size_t live;           /* ordinary buckets over all shards */
    struct bucket scratch[SLOTS]; /* collect only (one thread) */
    struct shard shards[NSHARDS];
};

static void set(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strnlen(src, cap - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

static uint64_t mix_str(uint64_t h, const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (h ^ 0xff) * 0x100000001b3ull; /* field separator */
}

static uint64_t key_hash(const struct kw_denials *d, const struct bucket *k)
{
    uint64_t h = d->seed ^ (uint64_t)k->minute ^ ((uint64_t)k->overflow << 63);

    h = mix_str(h * 0x100000001b3ull, k->reason);
    h = mix_str(h, k->action);
    if (!k->overflow) {
        h = mix_str(h, k->ip);
        h = mix_str(h, k->actor_type);
        h = mix_str(h, k->actor_id);
    }
    h ^= h >> 33, h *= 0xff51afd7ed558ccdull, h ^= h >> 33, h *= 0xc4ceb9fe1a85ec53ull, h ^= h >> 33;
    return h != 0 ? h : 1;
}

static int same_key(const struct bucket *a, const struct bucket *b)
{
    return a->hash == b->hash && a->minute == b->minute && a->overflow == b->overflow &&
           strcmp(a->reason, b->reason) == 0 && strcmp(a->action, b->action) == 0 &&
           strcmp(a->ip, b->ip) == 0 && strcmp(a->actor_type, b->actor_type) == 0 &&
           strcmp(a->actor_id, b->actor_id) == 0;
}

static struct shard *shard_of(struct kw_denials *d, uint64_t h)
{
    return &d->shards[h >> 60];
}

/* The slot holding k, or the empty slot where it belongs (NULL if the table is full). */
static struct bucket *probe(struct shard *s, const struct bucket *k, int *found)
{
    size_t i, at = (size_t)(k->hash % SLOTS);

    *found = 0;
    for (i = 0; i < SLOTS; i++, at = (at + 1) % SLOTS) {
        struct bucket *b = &s->slots[at];
        if (b->hash == 0)
            return b;
        if (same_key(b, k)) {
            *found = 1;
            return b;
        }
    }
    return NULL;
}

enum kw_err kw_denials_new(size_t max_buckets, struct kw_denials **out)
{
    struct kw_denials *d = calloc(1, sizeof(*d));
    size_t i;

    *out = NULL;
    if (d == NULL)
        return KW_ERR_NOMEM;
    if (kw_crypto_random(&d->seed, sizeof(d->seed)) != KW_OK) {
        free(d);
        return KW_ERR_INTERNAL;
    }
    d->max = max_buckets ? max_buckets : KW_DENIALS_MAX_BUCKETS;
    for (i = 0; i < NSHARDS; i++)
        pthread_mutex_init(&d->shards[i].mu, NULL);
    *out = d;
    return KW_OK;
}

void kw_denials_free(struct kw_denials *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < NSHARDS; i++)
        pthread_mutex_destroy(&d->shards[i].mu);
    free(d);
}

/* Reserves one ordinary bucket against the global bound; 0 if the bound is reached. */
static int reserve(struct kw_denials *d)
{
    if (atomic_fetch_add(&d->live, 1) < d->max)
        return 1;
    atomic_fetch_sub(&d->live, 1);
    return 0;
}

static void fill(struct bucket *b, const struct bucket *k, const struct kw_denial *in)
{
    *b = *k;
    b->first_ms = in->now_ms;
    b->count = 0;
    b->path_len = in->path ? (in->path_len < SAMPLE_PATH_MAX ? in->path_len : SAMPLE_PATH_MAX) : 0;
    if (b->path_len > 0)
        memcpy(b->path, in->path, b->path_len);
    set(b->request_id, sizeof(b->request_id), in->request_id);
}

/* Counts into the overflow bucket of k's (minute, action, reason). */
static int record_overflow(struct kw_denials *d, struct bucket *k, const struct kw_denial *in)
{
    struct shard *s;
    struct bucket *b;
    int found, ok = 0;

    k->overflow = 1;
    k->ip[0] = '\0';
    set(k->actor_type, sizeof(k->actor_type), "anonymous");
    set(k->actor_id, sizeof(k->actor_id), "*");
    k->hash = key_hash(d, k);
    s = shard_of(d, k->hash);
    pthread_mutex_lock(&s->mu);
    b = probe(s, k, &found);
    if (b != NULL) {
        if (!found)
            fill(b, k, in);
        b->count++;
        ok = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

int kw_denials_record(struct kw_denials *d, const struct kw_denial *in)
{
    struct bucket k;
    struct shard *s;
    struct bucket *b;
    int found;

    k.minute = in->now_ms - in->now_ms % KW_DENIALS_WINDOW_MS;
    k.overflow = 0;
    set(k.ip, sizeof(k.ip), in->ip);
    set(k.reason, sizeof(k.reason), in->reason);
    set(k.action, sizeof(k.action), in->action);
    set(k.actor_type, sizeof(k.actor_type), in->actor_type);
    set(k.actor_id, sizeof(k.actor_id), in->actor_id);
    k.hash = key_hash(d, &k);
    s = shard_of(d, k.hash);
    pthread_mutex_lock(&s->mu);
    b = probe(s, &k, &found);
    if (b != NULL && !found) {
        if (s->normal < SHARD_NORMAL_MAX && reserve(d)) {
            fill(b, &k, in);
            s->normal++;
        } else {
            b = NULL;
        }
    }
    if (b != NULL)
        b->count++;
    pthread_mutex_unlock(&s->mu);
    return b != NULL ? 1 : record_overflow(d, &k, in);
}

/* detail = {"count":N,"code":...,"sample":{"path":...,"requestId":...}[,"overflow":true]}, fitting
 * the event's detail field: the sample path is shortened until it does. */
static void set_detail(struct kw_audit_event *ev, const struct bucket *b)
{
    char path[3 * SAMPLE_PATH_MAX + 1], reason[3 * sizeof(b->reason)], rid[3 * sizeof(b->request_id)];
    char first[KW_TIME_RFC3339_LEN];
    size_t cap = sizeof(path);
    json_t *o;
    char *text;

    kw_utf8_sanitize(b->reason, strlen(b->reason), reason, sizeof(reason));
    kw_utf8_sanitize(b->request_id, strlen(b->request_id), rid, sizeof(rid));
    kw_time_format(b->first_ms, first);
    for (;;) {
        kw_utf8_sanitize(b->path, b->path_len, path, cap);
        o = json_pack("{s:I, s:s, s:{s:s, s:s, s:s}}", "count", (json_int_t)b->count, "code", reason,
                      "sample", "path", path, "requestId", rid, "time", first);
        if (o != NULL && b->overflow)
            json_object_set_new(o, "overflow", json_true());
        text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (text == NULL || strlen(text) < sizeof(ev->detail) || cap <= 1)
            break;
        free(text);
        cap /= 2;
    }
    if (text != NULL && strlen(text) < sizeof(ev->detail))
        memcpy(ev->detail, text, strlen(text) + 1);
    free(text);
}

static void to_event(const struct bucket *b, struct kw_audit_event *ev)
{
    char actor[3 * KW_ACTOR_MAX], ip[3 * KW_IP_MAX];

    kw_utf8_sanitize(b->actor_id, strlen(b->actor_id), actor, sizeof(actor));
    kw_utf8_sanitize(b->ip, strlen(b->ip), ip, sizeof(ip));
    kw_audit_event_init(ev, b->actor_type, actor, b->action, NULL, NULL, NULL, "denied");
    set(ev->ip, sizeof(ev->ip), ip);
    kw_utf8_sanitize(b->request_id, strlen(b->request_id), ev->request_id, sizeof(ev->request_id));
    set_detail(ev, b);
}

/* Moves the shard's closed buckets to d->scratch[0..*nclosed) and rehashes the open ones in place
 * (linear probing has no deletion). Called with the shard locked. */
static size_t take_closed(struct kw_denials *d, struct shard *s, int64_t open_minute, int all)
{
    struct bucket *keep = d->scratch + SLOTS; /* open buckets, filled downwards */
    size_t i, nclosed = 0, nopen = 0, normal_closed = 0;
    int found;

    for (i = 0; i < SLOTS; i++) {
        struct bucket *b = &s->slots[i];
        if (b->hash == 0)
            continue;
        if (all || b->minute < open_minute) {
            normal_closed += !b->overflow;
            d->scratch[nclosed++] = *b;
        } else {
            *--keep = *b;
            nopen++;
        }
    }
    if (nclosed == 0)
        return 0;
    memset(s->slots, 0, sizeof(s->slots));
    for (i = 0; i < nopen; i++)
        *probe(s, &keep[i], &found) = keep[i];
    s->normal -= normal_closed;
    atomic_fetch_sub(&d->live, normal_closed);
    return nclosed;
}

static int by_time(const void *a, const void *b)
{
    const struct bucket *x = a, *y = b;
    return (x->first_ms > y->first_ms) - (x->first_ms < y->first_ms);
}

size_t kw_denials_collect(struct kw_denials *d, int64_t now_ms, int all, kw_denials_emit_fn cb, void *ctx)
{
    struct kw_audit_event ev;
    int64_t open_minute = now_ms - now_ms % KW_DENIALS_WINDOW_MS;
    size_t i, j, n, total = 0;

    for (i = 0; i < NSHARDS; i++) {
        pthread_mutex_lock(&d->shards[i].mu);
        n = take_closed(d, &d->shards[i], open_minute, all);
        pthread_mutex_unlock(&d->shards[i].mu);
        qsort(d->scratch, n, sizeof(d->scratch[0]), by_time);
        for (j = 0; j < n; j++) {
            to_event(&d->scratch[j], &ev);
            cb(ctx, &ev);
        }
        total += n;
    }
    return total;
}
