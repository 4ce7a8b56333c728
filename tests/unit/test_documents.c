/* test_documents.c - documents through the real app on SQLite (domain/documents.h): an ingest of several
 * chunks reads back byte for byte through the chunked reader (small and large caps), the file under
 * <data-dir>/documents/ holds no plaintext, an empty file round-trips, an idempotency key replays the
 * same request and refuses a different one, the list filters, a flipped byte, a swapped pair of chunks
 * and a truncated file each fail the read, and deletion removes the file and the data key (404 after);
 * the stored SHA-256 is the plaintext's (hashed while encrypting, or the caller's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "crypto/crypto.h"
#include "domain/app.h"
#include "domain/documents.h"
#include "domain/services.h"

struct fixture {
    char dir[64];
    struct kw_config cfg;
    struct kw_app app;
    struct kw_actor actor;
    struct kw_service svc;
    struct kw_principal p;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct kw_service_params sp = {"docs", "", "kw"};

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/kw-docs-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    if (kw_crypto_init() != KW_OK)
        return -1;
    kw_config_defaults(&f->cfg);
    snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s", f->dir);
    snprintf(f->cfg.root_token, sizeof(f->cfg.root_token), "test-root-token-0123456789abcdefghijkl");
    snprintf(f->cfg.log_level, sizeof(f->cfg.log_level), "error");
    if (kw_app_open(&f->app, &f->cfg) != KW_OK)
        return -1;
    f->actor = (struct kw_actor){"root", "root", "127.0.0.1", "test", NULL, NULL};
    if (kw_services_create(&f->app, &f->actor, &sp, &f->svc) != KW_OK)
        return -1;
    f->p.kind = KW_PRINCIPAL_SERVICE_USER;
    f->p.type = "service_user";
    snprintf(f->p.id, sizeof(f->p.id), "su_0123456789abcdef");
    snprintf(f->p.service_id, sizeof(f->p.service_id), "%s", f->svc.id);
    f->p.perms = KW_PERM_DOCUMENTS_WRITE | KW_PERM_DOCUMENTS_READ;
    snprintf(f->p.credential_id, sizeof(f->p.credential_id), "tok_0123456789abcdef");
    snprintf(f->p.credential_type, sizeof(f->p.credential_type), "token");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    kw_app_close(&f->app);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void ingest(struct fixture *f, const uint8_t *data, size_t len, const char *tag, const char *key,
                   uint8_t hash_byte, struct kw_document *out, int *replayed, enum kw_err want)
{
    uint8_t hash[32];
    struct kw_doc_ingest in = {"scan.pdf", "application/pdf", "{\"source_tag\":\"x\"}", tag, "ext-1", "invoice",
                               "finance", "legal", key, hash, data, len, NULL, 0};
    const char *conflict = NULL;

    memset(hash, hash_byte, sizeof(hash));
    assert_int_equal(kw_documents_ingest(&f->app, &f->p, &in, out, replayed, &conflict), want);
    if (want == KW_ERR_CONFLICT)
        assert_string_equal(conflict, "IDEMPOTENCY_KEY_REUSED");
}

/* Reads the whole content with caps of cap bytes into a malloc'd buffer; the reader's error. */
static enum kw_err read_all(struct fixture *f, const char *id, size_t cap, uint8_t **out, size_t *len)
{
    struct kw_doc_reader *r = NULL;
    struct kw_document d;
    enum kw_err err = kw_documents_open(&f->app, id, &d, &r);
    char *buf = malloc(cap);
    int done = 0;

    *out = NULL;
    *len = 0;
    if (err != KW_OK) {
        free(buf);
        return err;
    }
    *out = malloc((size_t)d.size + 1);
    while (err == KW_OK && !done) {
        size_t n = 0;
        err = kw_doc_reader_next(r, buf, cap, &n, &done);
        if (err == KW_OK) {
            assert_true(n <= cap);
            assert_true(*len + n <= (size_t)d.size);
            memcpy(*out + *len, buf, n);
            *len += n;
        }
    }
    kw_doc_reader_free(r);
    free(buf);
    return err;
}

static char *file_of(struct fixture *f, const char *id, char *path, size_t cap)
{
    snprintf(path, cap, "%s/documents/%s", f->dir, id);
    return path;
}

static int file_contains(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    size_t cap = 4 << 20, n, nl = strlen(needle), i;
    char *b = malloc(cap);
    int found = 0;

    assert_non_null(fp);
    n = fread(b, 1, cap, fp);
    fclose(fp);
    for (i = 0; i + nl <= n && !found; i++)
        found = memcmp(b + i, needle, nl) == 0;
    free(b);
    return found;
}

static void test_roundtrip_and_disk(void **state)
{
    struct fixture *f = *state;
    size_t len = 2 * KW_DOC_CHUNK_SIZE + 12345, got = 0, i;
    uint8_t *data = malloc(len), *back = NULL;
    struct kw_document d, e;
    char path[160], marker[] = "KEYWARD-PLAINTEXT-MARKER-7f3a";
    struct stat sb;
    int replayed = 1;

    assert_int_equal(kw_crypto_random(data, len), KW_OK);
    for (i = 0; i < len; i += 100000)
        memcpy(data + i, marker, sizeof(marker) - 1);
    ingest(f, data, len, "scanner", "", 1, &d, &replayed, KW_OK);
    assert_int_equal(replayed, 0);
    assert_true(kw_documents_id_valid(d.id));
    assert_int_equal(d.size, (int64_t)len);
    assert_int_equal(d.nchunks, 3);
    assert_string_equal(d.service_user_id, "su_0123456789abcdef");
    assert_string_equal(d.credential_id, "tok_0123456789abcdef");
    assert_int_equal(strlen(d.sha256), 64);

    assert_int_equal(read_all(f, d.id, 65536, &back, &got), KW_OK);
    assert_int_equal(got, len);
    assert_memory_equal(back, data, len);
    free(back);
    assert_int_equal(read_all(f, d.id, 7, &back, &got), KW_OK);
    assert_int_equal(got, len);
    assert_memory_equal(back, data, len);
    free(back);

    assert_int_equal(stat(file_of(f, d.id, path, sizeof(path)), &sb), 0);
    assert_int_equal(sb.st_size, (off_t)(len + 3 * KW_DOC_CHUNK_OVERHEAD));
    assert_int_equal(sb.st_mode & 0077, 0);
    assert_false(file_contains(path, marker));

    assert_int_equal(kw_documents_get(&f->app, d.id, &e), KW_OK);
    assert_string_equal(e.metadata, "{\"source_tag\":\"x\"}");
    assert_string_equal(e.approver_department, "legal");
    free(data);
}

static void test_empty_and_idempotency(void **state)
{
    struct fixture *f = *state;
    struct kw_document a, b, c;
    uint8_t *back = NULL;
    size_t got = 9;
    int replayed = 0;

    ingest(f, NULL, 0, "t", "", 1, &a, &replayed, KW_OK);
    assert_int_equal(a.nchunks, 1);
    assert_int_equal(read_all(f, a.id, 100, &back, &got), KW_OK);
    assert_int_equal(got, 0);
    free(back);

    ingest(f, (const uint8_t *)"hello", 5, "t", "key-1", 2, &b, &replayed, KW_OK);
    assert_int_equal(replayed, 0);
    ingest(f, (const uint8_t *)"hello", 5, "t", "key-1", 2, &c, &replayed, KW_OK);
    assert_int_equal(replayed, 1);
    assert_string_equal(c.id, b.id);
    ingest(f, (const uint8_t *)"other", 5, "t", "key-1", 3, &c, &replayed, KW_ERR_CONFLICT);
}

static void hex_sha256(const uint8_t *data, size_t len, char hex[2 * KW_SHA256_LEN + 1])
{
    uint8_t sum[KW_SHA256_LEN];

    assert_int_equal(kw_crypto_sha256(len > 0 ? (const void *)data : "", len, sum), KW_OK);
    kw_crypto_hex(sum, sizeof(sum), hex);
}

/* documents.sha256 is the plaintext's SHA-256 whether the domain hashes the file itself (chunk by chunk
 * as it encrypts, here on SQLite) or takes the caller's digest; without an idempotency key the request
 * hash may be NULL, with one it may not. */
static void test_digest(void **state)
{
    struct fixture *f = *state;
    size_t sizes[] = {0, 1, KW_DOC_CHUNK_SIZE, KW_DOC_CHUNK_SIZE + 1, 3 * KW_DOC_CHUNK_SIZE - 5}, i;
    uint8_t *data = malloc(3 * KW_DOC_CHUNK_SIZE), given[KW_SHA256_LEN];
    char want[2 * KW_SHA256_LEN + 1];
    struct kw_doc_ingest in = {"scan.pdf", "application/pdf", "{}", "t", "e", "c", "d", "legal", "", NULL,
                               data, 0, NULL, 0};
    struct kw_document d;
    const char *conflict = NULL;
    int replayed = 0;

    assert_int_equal(kw_crypto_random(data, 3 * KW_DOC_CHUNK_SIZE), KW_OK);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        in.len = sizes[i];
        assert_int_equal(kw_documents_ingest(&f->app, &f->p, &in, &d, &replayed, &conflict), KW_OK);
        hex_sha256(data, sizes[i], want);
        assert_string_equal(d.sha256, want);
        assert_int_equal(kw_documents_get(&f->app, d.id, &d), KW_OK);
        assert_string_equal(d.sha256, want);
    }
    memset(given, 0xab, sizeof(given)); /* the caller's digest is taken as it is */
    in.data_sha256 = given;
    assert_int_equal(kw_documents_ingest(&f->app, &f->p, &in, &d, &replayed, &conflict), KW_OK);
    assert_string_equal(d.sha256, "abababababababababababababababababababababababababababababababab");
    in.idempotency_key = "key-without-hash";
    assert_int_equal(kw_documents_ingest(&f->app, &f->p, &in, &d, &replayed, &conflict), KW_ERR_INVALID);
    free(data);
}

static void test_list_filters(void **state)
{
    struct fixture *f = *state;
    struct kw_document d[3], items[10];
    struct kw_document_filter flt = {0};
    size_t n = 0;
    int replayed;

    ingest(f, (const uint8_t *)"a", 1, "alpha", "", 1, &d[0], &replayed, KW_OK);
    ingest(f, (const uint8_t *)"b", 1, "beta", "", 1, &d[1], &replayed, KW_OK);
    ingest(f, (const uint8_t *)"c", 1, "alpha", "", 1, &d[2], &replayed, KW_OK);
    flt.service_id = f->svc.id;
    assert_int_equal(kw_documents_list(&f->app, &flt, items, 10, &n), KW_OK);
    assert_int_equal(n, 3);
    flt.source_tag = "alpha";
    assert_int_equal(kw_documents_list(&f->app, &flt, items, 10, &n), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[0].id, d[0].id);
    assert_string_equal(items[1].id, d[2].id);
    flt.after_seq = items[0].seq;
    assert_int_equal(kw_documents_list(&f->app, &flt, items, 10, &n), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, d[2].id);
    flt.after_seq = 0;
    flt.source_tag = NULL;
    flt.department = "nope";
    assert_int_equal(kw_documents_list(&f->app, &flt, items, 10, &n), KW_OK);
    assert_int_equal(n, 0);
    flt.department = "finance";
    flt.service_user_id = "su_0123456789abcdef";
    flt.until = d[0].created_at; /* strictly before the first: none */
    assert_int_equal(kw_documents_list(&f->app, &flt, items, 10, &n), KW_OK);
    assert_int_equal(n, 0);
    flt.until = 0;
    flt.since = d[0].created_at;
    assert_int_equal(kw_documents_list(&f->app, &flt, items, 10, &n), KW_OK);
    assert_int_equal(n, 3);

    /* deleted documents leave the list, the get and the disk */
    assert_int_equal(kw_documents_delete(&f->app, &f->actor, d[1].id), KW_OK);
    assert_int_equal(kw_documents_delete(&f->app, &f->actor, d[1].id), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_documents_get(&f->app, d[1].id, &d[1]), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_documents_list(&f->app, &flt, items, 10, &n), KW_OK);
    assert_int_equal(n, 2);
    {
        char path[160];
        struct stat sb;
        struct kw_doc_reader *r = NULL;
        struct kw_document x;
        assert_int_equal(stat(file_of(f, d[1].id, path, sizeof(path)), &sb), -1);
        assert_int_equal(kw_documents_open(&f->app, d[1].id, &x, &r), KW_ERR_NOT_FOUND);
        assert_null(r);
    }
}

static void rewrite(const char *path, long off, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "r+b");

    assert_non_null(fp);
    assert_int_equal(fseek(fp, off, SEEK_SET), 0);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    fclose(fp);
}

static void test_tamper(void **state)
{
    struct fixture *f = *state;
    size_t len = 2 * KW_DOC_CHUNK_SIZE + 10, got;
    uint8_t *data = calloc(1, len), *back = NULL, *rec0 = malloc(KW_DOC_REC_SIZE), *rec1 = malloc(KW_DOC_REC_SIZE);
    struct kw_document d;
    char path[160];
    int replayed;
    FILE *fp;

    /* a flipped byte in chunk 1 */
    ingest(f, data, len, "t", "", 1, &d, &replayed, KW_OK);
    file_of(f, d.id, path, sizeof(path));
    rewrite(path, KW_DOC_REC_SIZE + 40, "\x01", 1);
    assert_int_equal(read_all(f, d.id, 65536, &back, &got), KW_ERR_MALFORMED);
    assert_int_equal(got, KW_DOC_CHUNK_SIZE); /* only chunk 0 was handed out */
    free(back);

    /* chunks 0 and 1 swapped */
    ingest(f, data, len, "t", "", 1, &d, &replayed, KW_OK);
    file_of(f, d.id, path, sizeof(path));
    fp = fopen(path, "rb");
    assert_int_equal(fread(rec0, 1, KW_DOC_REC_SIZE, fp), KW_DOC_REC_SIZE);
    assert_int_equal(fread(rec1, 1, KW_DOC_REC_SIZE, fp), KW_DOC_REC_SIZE);
    fclose(fp);
    rewrite(path, 0, rec1, KW_DOC_REC_SIZE);
    rewrite(path, KW_DOC_REC_SIZE, rec0, KW_DOC_REC_SIZE);
    assert_int_equal(read_all(f, d.id, 65536, &back, &got), KW_ERR_MALFORMED);
    assert_int_equal(got, 0);
    free(back);

    /* truncated after chunk 1 (the final chunk gone) */
    ingest(f, data, len, "t", "", 1, &d, &replayed, KW_OK);
    file_of(f, d.id, path, sizeof(path));
    assert_int_equal(truncate(path, 2 * KW_DOC_REC_SIZE), 0);
    assert_int_equal(read_all(f, d.id, 65536, &back, &got), KW_ERR_MALFORMED);
    free(back);
    /* and cut inside the final chunk */
    ingest(f, data, len, "t", "", 1, &d, &replayed, KW_OK);
    file_of(f, d.id, path, sizeof(path));
    assert_int_equal(truncate(path, 2 * KW_DOC_REC_SIZE + 20), 0);
    assert_int_equal(read_all(f, d.id, 65536, &back, &got), KW_ERR_MALFORMED);
    free(back);
    free(data);
    free(rec0);
    free(rec1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip_and_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
