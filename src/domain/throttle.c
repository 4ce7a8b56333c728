/* throttle.c - fixed-size open-addressed table of failure counters; see throttle.h. */
#include "domain/throttle.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define PROBE 16

struct slot {
    char key[96];
    int count;
    int64_t window_start;
};

struct kw_throttle {
    pthread_mutex_t mu;
    struct slot slots[SLOTS];
};

struct kw_throttle *kw_throttle_new(void)
{
    struct kw_throttle *t = calloc(1, sizeof(*t));

    if (t != NULL)
        pthread_mutex_init(&t->mu, NULL);
    return t;
}

void kw_throttle_free(struct kw_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a: table placement only */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot holding key, or (create) the first free/expired/oldest slot in its probe run. */
static struct slot *find(struct kw_throttle *t, const char *key, int create, int64_t now_ms)
{
    uint32_t h = hash(key);
    struct slot *victim = NULL;
    int i;

    for (i = 0; i < PROBE; i++) {
        struct slot *s = &t->slots[(h + (uint32_t)i) % SLOTS];
        if (strcmp(s->key, key) == 0 && s->key[0] != '\0')
            return s;
        if (victim == NULL || s->key[0] == '\0' || s->window_start < victim->window_start)
            victim = s;
    }
    if (!create)
        return NULL;
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    victim->count = 0;
    victim->window_start = now_ms;
    return victim;
}

int64_t kw_throttle_wait(struct kw_throttle *t, const char *key, int limit, int64_t now_ms)
{
    struct slot *s;
    int64_t wait = 0;

    pthread_mutex_lock(&t->mu);
    s = find(t, key, 0, now_ms);
    if (s != NULL && now_ms - s->window_start < KW_THROTTLE_WINDOW_MS && s->count >= limit)
        wait = (s->window_start + KW_THROTTLE_WINDOW_MS - now_ms + 999) / 1000;
    pthread_mutex_unlock(&t->mu);
    return wait;
}

void kw_throttle_fail(struct kw_throttle *t, const char *key, int64_t now_ms)
{
    struct slot *s;

    pthread_mutex_lock(&t->mu);
    s = find(t, key, 1, now_ms);
    if (now_ms - s->window_start >= KW_THROTTLE_WINDOW_MS) {
        s->count = 0;
        s->window_start = now_ms;
    }
    s->count++;
    pthread_mutex_unlock(&t->mu);
}

void kw_throttle_clear(struct kw_throttle *t, const char *key)
{
    struct slot *s;

    pthread_mutex_lock(&t->mu);
    s = find(t, key, 0, 0);
    if (s != NULL)
        s->key[0] = '\0';
    pthread_mutex_unlock(&t->mu);
}
