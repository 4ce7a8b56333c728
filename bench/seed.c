/* seed.c - bench fixture: N keys for one service straight into a data directory, in one
 * transaction, and a sample of their secrets into a file for wrk. Not a product path: the only place
 * secrets are written to disk, a throwaway file under bench/out/. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/keyfmt.h"
#include "store/store.h"

static int seed(struct kw_store *st, long count, FILE *out, long sample)
{
    struct kw_service svc;
    struct kw_key k;
    char secret[KW_KEYFMT_MAX];
    long i;

    memset(&svc, 0, sizeof(svc));
    kw_id_new("svc", svc.id);
    snprintf(svc.name, sizeof(svc.name), "bench");
    snprintf(svc.key_prefix, sizeof(svc.key_prefix), "kw");
    svc.created_at = svc.updated_at = kw_time_now_ms();
    if (kw_store_begin(st) != KW_OK || kw_store_service_insert(st, &svc) != KW_OK)
        return -1;
    for (i = 0; i < count; i++) {
        memset(&k, 0, sizeof(k));
        if (kw_id_new("key", k.id) != KW_OK || kw_keyfmt_generate("kw", secret) != KW_OK ||
            kw_crypto_sha256(secret, strlen(secret), k.hash) != KW_OK)
            goto fail;
        memcpy(k.service_id, svc.id, sizeof(k.service_id));
        kw_keyfmt_start(secret, k.start, sizeof(k.start));
        k.scope = KW_SCOPE_METADATA;
        k.enabled = 1;
        k.archive_after_extract_s = -1;
        k.created_at = k.updated_at = svc.created_at;
        snprintf(k.created_by, sizeof(k.created_by), "bench");
        if (kw_store_key_insert(st, &k) != KW_OK)
            goto fail;
        if (i < sample)
            fprintf(out, "%s\n", secret);
    }
    return kw_store_commit(st) == KW_OK ? 0 : -1;
fail:
    kw_store_rollback(st);
    return -1;
}

int main(int argc, char **argv)
{
    struct kw_store *st = NULL;
    FILE *out;
    char *end;
    long count, sample;
    int rc = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: seed DATA_DIR COUNT KEYS_OUT SAMPLE\n");
        return 2;
    }
    errno = 0;
    count = strtol(argv[2], &end, 10);
    sample = errno == 0 && *end == '\0' ? strtol(argv[4], &end, 10) : -1;
    if (errno != 0 || *end != '\0' || count < 1 || sample < 0) {
        fprintf(stderr, "seed: COUNT and SAMPLE must be positive integers\n");
        return 2;
    }
    out = fopen(argv[3], "w");
    if (out == NULL || kw_crypto_init() != KW_OK || kw_store_open("sqlite", argv[1], &st) != KW_OK ||
        kw_store_migrate(st, NULL, NULL) != KW_OK) {
        fprintf(stderr, "seed: cannot prepare %s\n", argv[1]);
        goto out;
    }
    rc = seed(st, count, out, sample) == 0 ? 0 : 1;
out:
    if (out != NULL)
        fclose(out);
    kw_store_free(st);
    kw_crypto_cleanup();
    return rc;
}
