/* records_bench.c - in-process extracts per second (issue 9: `make bench` compares GET
 * /api/v1/candidates[/{refId}] over HTTP with this loop; goal HTTP >= 0.5 x in-process).
 *
 * `records_bench STORE DATA_DIR SERVICE_ID REFS_FILE SECONDS` opens the store keyward served (STORE is
 * keyward's --store: "sqlite" or a PostgreSQL URI; the master key as keyward finds it: KEYWARD_MASTER_KEY
 * or DATA_DIR/master.key) and does what an extract with an `attributes`-scope key does below the API:
 * the same domain functions (records.h), so the same store reads and the same decryption (the record's
 * data key unsealed under the master key, then the attributes opened with AES-256-GCM), for the same
 * records: single (kw_records_get of each refId of REFS_FILE in turn) and pages of 100 (kw_records_list
 * walking the service's records by seq, 101 asked for as the API does, 100 counted). No JSON, no HTTP,
 * no authentication: what is left over HTTP is what the API costs.
 *
 * SECONDS per figure, in rounds of 1 s interleaved (single, pages, single, ...), on one thread and then
 * on one thread per online core; each figure is records / elapsed over all its rounds. Prints one line
 * per figure, "inproc-MODE-tTHREADS RECORDS_PER_S" (MODE single | page). A benchmark, not a test: exits
 * 0; 1 only if it could not run or a record did not come back with its attributes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/app.h"
#include "domain/records.h"
#include "domain/secrets.h"

#define MAX_REFS 1000000
#define MAX_THREADS 64
#define PAGE 100
#define ROUND_NS 1000000000ull

enum mode { MODE_SINGLE, MODE_PAGE };

struct shared {
    struct kw_app *app;
    const char *service_id;
    char (*refs)[KW_REF_ID_MAX];
    size_t nrefs;
};

struct run {
    const struct shared *sh;
    enum mode mode;
    size_t next;      /* single: index into refs; page: the seq to continue after */
    int64_t after;
    unsigned long records;
    unsigned long bad;
};

/* One record's attributes must have come back (the bench seeds none archived). */
static int ok_view(const struct kw_record_view *v)
{
    return !v->rec.is_archived && v->attributes != NULL && v->attributes_len > 0;
}

static void single_round(struct run *r, uint64_t end)
{
    struct kw_record_view v;
    unsigned long i = 0;

    while ((i & 63) != 0 || kw_time_mono_ns() < end) {
        const char *ref = r->sh->refs[r->next];
        r->next = (r->next + 1) % r->sh->nrefs;
        if (kw_records_get(r->sh->app, r->sh->service_id, ref, KW_RECORD_LOAD_ATTRIBUTES, &v) != KW_OK) {
            r->bad++;
        } else {
            r->bad += !ok_view(&v);
            r->records++;
            kw_record_view_free(&v);
        }
        i++;
    }
}

static void page_round(struct run *r, uint64_t end)
{
    struct kw_record_view items[PAGE + 1];
    struct kw_record_filter f = {.service_id = r->sh->service_id, .status = ""};
    size_t n, k;

    while (kw_time_mono_ns() < end) {
        f.after_seq = r->after;
        if (kw_records_list(r->sh->app, &f, KW_RECORD_LOAD_ATTRIBUTES, items, PAGE + 1, &n) != KW_OK || n == 0) {
            r->bad++;
            return;
        }
        for (k = 0; k < n && k < PAGE; k++)
            r->bad += !ok_view(&items[k]);
        r->records += k;
        r->after = n > PAGE ? items[PAGE - 1].rec.seq : 0; /* the last page: start over */
        for (k = 0; k < n; k++)
            kw_record_view_free(&items[k]);
    }
}

static void *worker(void *arg)
{
    struct run *r = arg;
    uint64_t end = kw_time_mono_ns() + ROUND_NS;

    if (r->mode == MODE_SINGLE)
        single_round(r, end);
    else
        page_round(r, end);
    return NULL;
}

/* One round of mode on threads threads, continuing runs[]; adds to *records and *ns. -1 on failure. */
static int round_of(struct run *runs, int threads, unsigned long *records, uint64_t *ns)
{
    pthread_t t[MAX_THREADS];
    uint64_t t0 = kw_time_mono_ns();
    int i, started = 0;

    for (i = 0; i < threads; i++) {
        runs[i].records = 0;
        if (pthread_create(&t[i], NULL, worker, &runs[i]) != 0)
            break;
        started++;
    }
    for (i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
        *records += runs[i].records;
        if (runs[i].bad != 0) {
            fprintf(stderr, "records_bench: %lu reads did not return a record with its attributes\n", runs[i].bad);
            return -1;
        }
    }
    *ns += kw_time_mono_ns() - t0;
    if (started != threads) {
        fprintf(stderr, "records_bench: could not start %d threads\n", threads);
        return -1;
    }
    return 0;
}

/* rates[0] single, rates[1] pages, records per second over seconds rounds of each. */
static int measure(const struct shared *sh, int threads, int seconds, double rates[2])
{
    struct run runs[2][MAX_THREADS];
    unsigned long records[2] = {0, 0};
    uint64_t ns[2] = {0, 0};
    int m, i, round;

    for (m = 0; m < 2; m++)
        for (i = 0; i < threads; i++)
            runs[m][i] = (struct run){sh, (enum mode)m, (sh->nrefs / (size_t)threads) * (size_t)i, 0, 0, 0};
    for (round = 0; round < seconds; round++)
        for (m = 0; m < 2; m++)
            if (round_of(runs[m], threads, &records[m], &ns[m]) != 0)
                return -1;
    for (m = 0; m < 2; m++)
        rates[m] = (double)records[m] / ((double)ns[m] / 1e9);
    return 0;
}

static size_t read_refs(const char *path, char (**out)[KW_REF_ID_MAX])
{
    char line[KW_REF_ID_MAX + 2];
    char (*refs)[KW_REF_ID_MAX] = calloc(MAX_REFS, KW_REF_ID_MAX);
    FILE *f = fopen(path, "r");
    size_t n = 0, len;

    if (refs == NULL || f == NULL) {
        free(refs);
        if (f != NULL)
            fclose(f);
        return 0;
    }
    while (n < MAX_REFS && fgets(line, sizeof(line), f) != NULL) {
        len = strcspn(line, "\r\n");
        line[len] = '\0';
        if (len == 0 || !kw_records_ref_valid(line))
            continue;
        memcpy(refs[n++], line, len + 1);
    }
    fclose(f);
    *out = refs;
    return n;
}

int main(int argc, char **argv)
{
    struct kw_app app;
    struct shared sh;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double one[2], all[2];
    int seconds, rc = 1;

    if (argc != 6 || (seconds = atoi(argv[5])) < 1) {
        fprintf(stderr, "usage: records_bench STORE DATA_DIR SERVICE_ID REFS_FILE SECONDS\n");
        return 1;
    }
    if (cores < 1 || cores > MAX_THREADS)
        cores = cores < 1 ? 1 : MAX_THREADS;
    memset(&app, 0, sizeof(app));
    memset(&sh, 0, sizeof(sh));
    sh.app = &app;
    sh.service_id = argv[3];
    if (kw_crypto_init() != KW_OK || kw_secrets_open_master(&app.secrets, argv[2]) != KW_OK ||
        kw_store_open(argv[1], argv[2], &app.store) != KW_OK) {
        fprintf(stderr, "records_bench: cannot open the master key or the store of %s\n", argv[2]);
        goto out;
    }
    sh.nrefs = read_refs(argv[4], &sh.refs);
    if (sh.nrefs < PAGE + 1) {
        fprintf(stderr, "records_bench: %s: fewer than %d refIds\n", argv[4], PAGE + 1);
        goto out;
    }
    if (measure(&sh, 1, seconds, one) != 0 || measure(&sh, (int)cores, seconds, all) != 0)
        goto out;
    printf("inproc-single-t1 %.0f\ninproc-page-t1 %.0f\n", one[0], one[1]);
    printf("inproc-single-t%ld %.0f\ninproc-page-t%ld %.0f\n", cores, all[0], cores, all[1]);
    rc = 0;
out:
    free(sh.refs);
    kw_store_free(app.store);
    kw_secrets_free(app.secrets);
    kw_crypto_cleanup();
    return rc;
}
