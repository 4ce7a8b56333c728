/* verify_bench.c - in-process verifications per second: the key cache with 100,000 keys, hit from
 * one thread and then from one thread per core. Also times the pieces: the format check and SHA-256. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/keycache.h"
#include "domain/keyfmt.h"

#define NKEYS 100000
#define NSAMPLE 4096
#define SECONDS 2.0
#define TARGET_PER_CORE 2000000.0

static char samples[NSAMPLE][KW_KEYFMT_MAX];
static size_t sample_len[NSAMPLE];

struct run {
    struct kw_keycache *kc;
    int mode; /* 0 verify, 1 format check, 2 sha256 */
    unsigned long n;
    unsigned long bad;
};

static void *worker(void *arg)
{
    struct run *r = arg;
    struct kw_verify_result res;
    uint8_t h[KW_SHA256_LEN];
    uint64_t end = kw_time_mono_ns() + (uint64_t)(SECONDS * 1e9);
    unsigned long i = 0;

    while ((i & 1023) != 0 || kw_time_mono_ns() < end) {
        size_t j = i % NSAMPLE;
        if (r->mode == 0) {
            kw_keycache_verify(r->kc, samples[j], sample_len[j], 1, "127.0.0.1", &res);
            r->bad += res.code != KW_VERIFY_VALID;
        } else if (r->mode == 1) {
            r->bad += kw_keyfmt_check(samples[j], sample_len[j]) != KW_OK;
        } else {
            kw_crypto_sha256(samples[j], sample_len[j], h);
        }
        i++;
    }
    r->n = i;
    return NULL;
}

static double measure(struct kw_keycache *kc, int mode, int threads)
{
    pthread_t t[64];
    struct run r[64];
    unsigned long total = 0, bad = 0;
    int i;

    for (i = 0; i < threads; i++) {
        r[i] = (struct run){kc, mode, 0, 0};
        pthread_create(&t[i], NULL, worker, &r[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        total += r[i].n;
        bad += r[i].bad;
    }
    if (bad != 0)
        fprintf(stderr, "verify_bench: %lu unexpected results\n", bad);
    return (double)total / SECONDS;
}

static void drain_cb(void *ctx, const char *a, const char *b, int64_t c, const char *d, uint64_t e, uint64_t f)
{
}

int main(void)
{
    struct kw_keycache *kc;
    struct kw_key k;
    char secret[KW_KEYFMT_MAX];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double one, all, fmt, sha;
    int i;

    if (kw_crypto_init() != KW_OK || kw_keycache_new(&kc) != KW_OK)
        return 1;
    for (i = 0; i < NKEYS; i++) {
        memset(&k, 0, sizeof(k));
        kw_keyfmt_generate("kw", secret);
        kw_crypto_sha256(secret, strlen(secret), k.hash);
        snprintf(k.id, sizeof(k.id), "key_%d", i);
        snprintf(k.service_id, sizeof(k.service_id), "svc_bench");
        k.enabled = 1;
        kw_keycache_put(kc, &k);
        if (i < NSAMPLE) {
            memcpy(samples[i], secret, sizeof(secret));
            sample_len[i] = strlen(secret);
        }
    }
    if (cores < 1 || cores > 64)
        cores = 1;
    fmt = measure(kc, 1, 1);
    sha = measure(kc, 2, 1);
    one = measure(kc, 0, 1);
    kw_keycache_drain(kc, drain_cb, NULL);
    all = measure(kc, 0, (int)cores);
    kw_keycache_drain(kc, drain_cb, NULL);
    printf("in-process (100,000 keys cached):\n");
    printf("  format+CRC check      %12.0f /s  (1 thread)\n", fmt);
    printf("  SHA-256               %12.0f /s  (1 thread)\n", sha);
    printf("  verify                %12.0f /s  (1 thread)\n", one);
    printf("  verify                %12.0f /s  (%ld threads, %.0f per core)\n", all, cores, all / (double)cores);
    printf("  target >= %.0f per core: %s\n", TARGET_PER_CORE, one >= TARGET_PER_CORE ? "met" : "NOT met");
    kw_keycache_free(kc);
    kw_crypto_cleanup();
    return 0;
}
