/* seed.c - bench fixture: `seed DATA_DIR COUNT KEYS_OUT SAMPLE` writes one service (prefix "kw") and
 * COUNT active metadata-scope keys straight into the store of DATA_DIR, in one transaction, and the
 * first SAMPLE of their secrets (one per line) into KEYS_OUT for wrk and the nginx map.
 *
 * Not a product path. It is the only place a secret is written to disk, and only into the bench's own
 * throwaway file under bench/out/ (git-ignored, mode 0600, deleted by bench/run on exit). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/keyfmt.h"
#include "store/store.h"

#define SEED_MAX_COUNT 10000000L

static enum kw_err insert_service(struct kw_tx *tx, struct kw_service *svc)
{
    enum kw_err err;

    memset(svc, 0, sizeof(*svc));
    err = kw_id_new("svc", svc->id);
    if (err != KW_OK)
        return err;
    snprintf(svc->name, sizeof(svc->name), "bench");
    snprintf(svc->description, sizeof(svc->description), "make bench fixture");
    snprintf(svc->key_prefix, sizeof(svc->key_prefix), "kw");
    svc->created_at = svc->updated_at = kw_time_now_ms();
    return kw_store_service_insert(tx, svc);
}

/* One key for svc; its secret into secret. */
static enum kw_err insert_key(struct kw_tx *tx, const struct kw_service *svc, char secret[KW_KEYFMT_MAX])
{
    struct kw_key k;
    enum kw_err err;

    memset(&k, 0, sizeof(k));
    if ((err = kw_id_new("key", k.id)) != KW_OK ||
        (err = kw_keyfmt_generate(svc->key_prefix, secret)) != KW_OK ||
        (err = kw_crypto_sha256(secret, strlen(secret), k.hash)) != KW_OK)
        return err;
    memcpy(k.service_id, svc->id, sizeof(k.service_id));
    kw_keyfmt_start(secret, k.start, sizeof(k.start));
    k.scope = KW_SCOPE_METADATA;
    k.enabled = 1;
    k.archive_after_extract_s = -1;
    k.created_at = k.updated_at = svc->created_at;
    snprintf(k.created_by, sizeof(k.created_by), "bench");
    err = kw_store_version_next(tx, &k.version);
    return err == KW_OK ? kw_store_key_insert(tx, &k) : err;
}

static int seed(struct kw_store *st, long count, FILE *out, long sample)
{
    struct kw_service svc;
    char secret[KW_KEYFMT_MAX];
    struct kw_tx *tx = NULL;
    long i;

    if (kw_store_begin(st, KW_TX_WRITE, &tx) != KW_OK) {
        fprintf(stderr, "seed: cannot begin a transaction\n");
        return -1;
    }
    if (insert_service(tx, &svc) != KW_OK) {
        fprintf(stderr, "seed: cannot insert the service\n");
        goto fail;
    }
    for (i = 0; i < count; i++) {
        if (insert_key(tx, &svc, secret) != KW_OK) {
            fprintf(stderr, "seed: cannot insert key %ld\n", i);
            goto fail;
        }
        if (i < sample && fprintf(out, "%s\n", secret) < 0) {
            fprintf(stderr, "seed: cannot write the sample file\n");
            goto fail;
        }
    }
    explicit_bzero(secret, sizeof(secret));
    if (kw_store_commit(tx) != KW_OK) {
        fprintf(stderr, "seed: commit failed\n");
        return -1;
    }
    return 0;
fail:
    explicit_bzero(secret, sizeof(secret));
    kw_store_rollback(tx);
    return -1;
}

static int parse_count(const char *s, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    struct kw_store *st = NULL;
    FILE *out = NULL;
    long count, sample;
    int fd, rc = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: seed DATA_DIR COUNT KEYS_OUT SAMPLE\n");
        return 2;
    }
    if (parse_count(argv[2], SEED_MAX_COUNT, &count) != 0 || count < 1 ||
        parse_count(argv[4], count, &sample) != 0) {
        fprintf(stderr, "seed: COUNT must be 1..%ld and SAMPLE 0..COUNT\n", SEED_MAX_COUNT);
        return 2;
    }
    fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (out = fdopen(fd, "w")) == NULL) {
        fprintf(stderr, "seed: cannot create %s: %s\n", argv[3], strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if (kw_crypto_init() != KW_OK || kw_store_open("sqlite", argv[1], &st) != KW_OK ||
        kw_store_migrate(st, NULL, NULL) != KW_OK) {
        fprintf(stderr, "seed: cannot open or migrate the store in %s\n", argv[1]);
        goto out;
    }
    rc = seed(st, count, out, sample) == 0 ? 0 : 1;
out:
    if (fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "seed: cannot write %s\n", argv[3]);
        rc = 1;
    }
    kw_store_free(st);
    kw_crypto_cleanup();
    return rc;
}
