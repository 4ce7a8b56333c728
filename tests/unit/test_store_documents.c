/* test_store_documents.c - the store contract for documents (store.h: documents), on SQLite and, when
 * KEYWARD_TEST_PG is set, on PostgreSQL: insert (every column back as written; a duplicate idempotency key
 * per service refused, the same key on another service and any number of "" keys accepted), get by id and
 * by idempotency key, list with each filter and the keyset cursor, content written chunk by chunk and read
 * back by index (a missing index is not found), a content_put whose producer fails leaves nothing, shred
 * (sealed_dek gone, deleted_at set, the content gone, the row left out of the list, a second shred not
 * found), and writes only in write transactions. Staging (content_stage before the transaction, then
 * content_put with fn NULL, content_done / content_drop after it, content_recover at start): on SQLite
 * the staged content reads back once linked, a staged document whose row never committed leaves nothing,
 * and recover settles both crash cases; PostgreSQL stages nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "store_fixture.h"

static void mk_doc(struct kw_document *d, const char *service_id, const char *tag, const char *key, int64_t t)
{
    size_t i;

    memset(d, 0, sizeof(*d));
    assert_int_equal(kw_id_new("doc", d->id), KW_OK);
    snprintf(d->service_id, sizeof(d->service_id), "%s", service_id);
    snprintf(d->service_user_id, sizeof(d->service_user_id), "su_0123456789abcdef");
    snprintf(d->credential_id, sizeof(d->credential_id), "tok_0123456789abcdef");
    snprintf(d->filename, sizeof(d->filename), "r\xc3\xa9sum\xc3\xa9 \"1\".pdf");
    snprintf(d->media_type, sizeof(d->media_type), "application/pdf");
    d->size = 1234567;
    memset(d->sha256, 'a', 64);
    snprintf(d->source_tag, sizeof(d->source_tag), "%s", tag);
    snprintf(d->external_id, sizeof(d->external_id), "ext-%s", tag);
    snprintf(d->document_category, sizeof(d->document_category), "invoice");
    snprintf(d->department, sizeof(d->department), "finance");
    snprintf(d->approver_department, sizeof(d->approver_department), "legal");
    snprintf(d->metadata, sizeof(d->metadata), "{\"source_tag\":\"%s\"}", tag);
    d->sealed_dek_len = 129;
    for (i = 0; i < d->sealed_dek_len; i++)
        d->sealed_dek[i] = (uint8_t)(i * 5);
    d->sealed_dek[2] = 0;
    d->chunk_size = 262144;
    d->nchunks = 3;
    snprintf(d->idempotency_key, sizeof(d->idempotency_key), "%s", key);
    for (i = 0; i < KW_HASH_LEN; i++)
        d->idempotency_hash[i] = (uint8_t)(200 - i);
    d->created_at = t;
}

static void same(const struct kw_document *a, const struct kw_document *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->service_id, b->service_id);
    assert_string_equal(a->service_user_id, b->service_user_id);
    assert_string_equal(a->credential_id, b->credential_id);
    assert_string_equal(a->filename, b->filename);
    assert_string_equal(a->media_type, b->media_type);
    assert_int_equal(a->size, b->size);
    assert_string_equal(a->sha256, b->sha256);
    assert_string_equal(a->source_tag, b->source_tag);
    assert_string_equal(a->external_id, b->external_id);
    assert_string_equal(a->document_category, b->document_category);
    assert_string_equal(a->department, b->department);
    assert_string_equal(a->approver_department, b->approver_department);
    assert_string_equal(a->metadata, b->metadata);
    assert_int_equal(a->sealed_dek_len, b->sealed_dek_len);
    assert_memory_equal(a->sealed_dek, b->sealed_dek, a->sealed_dek_len);
    assert_int_equal(a->chunk_size, b->chunk_size);
    assert_int_equal(a->nchunks, b->nchunks);
    assert_string_equal(a->idempotency_key, b->idempotency_key);
    assert_memory_equal(a->idempotency_hash, b->idempotency_hash, KW_HASH_LEN);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->deleted_at, b->deleted_at);
}

static void test_rows(void **state)
{
    struct fixture *f = *state;
    struct kw_service s1, s2;
    struct kw_document a, b, c, d, e, x, items[8];
    struct kw_document_filter flt = {0};
    size_t n = 0;

    mk_service(f->st, &s1, "one");
    mk_service(f->st, &s2, "two");
    mk_doc(&a, s1.id, "alpha", "k1", 1000);
    mk_doc(&b, s1.id, "beta", "", 2000);
    mk_doc(&c, s1.id, "alpha", "", 3000);
    mk_doc(&d, s2.id, "alpha", "k1", 4000); /* the same key on another service */
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &b)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &c)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &d)), KW_OK);
    assert_true(a.seq > 0 && b.seq > a.seq && c.seq > b.seq);
    mk_doc(&e, s1.id, "gamma", "k1", 5000);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &e)), KW_ERR_EXISTS);

    assert_int_equal(AUTO(f->st, kw_store_document_get(tx_, a.id, &x)), KW_OK);
    same(&a, &x);
    assert_int_equal(AUTO(f->st, kw_store_document_get_idem(tx_, s2.id, "k1", &x)), KW_OK);
    same(&d, &x);
    assert_int_equal(AUTO(f->st, kw_store_document_get_idem(tx_, s1.id, "", &x)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_document_get(tx_, "doc_0000000000000000", &x)), KW_ERR_NOT_FOUND);

    flt.service_id = s1.id;
    assert_int_equal(AUTO(f->st, kw_store_document_list(tx_, &flt, items, 8, &n)), KW_OK);
    assert_int_equal(n, 3);
    same(&items[0], &a);
    flt.source_tag = "alpha";
    assert_int_equal(AUTO(f->st, kw_store_document_list(tx_, &flt, items, 8, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(items[1].id, c.id);
    flt.after_seq = a.seq;
    assert_int_equal(AUTO(f->st, kw_store_document_list(tx_, &flt, items, 1, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, c.id);
    flt = (struct kw_document_filter){.service_id = s1.id, .external_id = "ext-beta"};
    assert_int_equal(AUTO(f->st, kw_store_document_list(tx_, &flt, items, 8, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, b.id);
    flt = (struct kw_document_filter){.service_id = s1.id, .document_category = "other"};
    assert_int_equal(AUTO(f->st, kw_store_document_list(tx_, &flt, items, 8, &n)), KW_OK);
    assert_int_equal(n, 0);
    flt = (struct kw_document_filter){.service_id = s1.id, .department = "finance",
                                      .service_user_id = "su_0123456789abcdef", .since = 2000, .until = 3000};
    assert_int_equal(AUTO(f->st, kw_store_document_list(tx_, &flt, items, 8, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].id, b.id);

    /* writes need a write transaction */
    {
        struct kw_tx *tx = NULL;
        assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &tx), KW_OK);
        assert_int_equal(kw_store_document_insert(tx, &e), KW_ERR_INVALID);
        assert_int_equal(kw_store_document_shred(tx, a.id, 1), KW_ERR_INVALID);
        kw_store_rollback(tx);
    }
}

struct producer {
    int fail_at; /* -1: never */
};

static enum kw_err produce(void *ctx, int64_t index, uint8_t *buf, size_t cap, size_t *len)
{
    struct producer *p = ctx;
    size_t n = index == 2 ? 17 : cap, i;

    if (p->fail_at == (int)index)
        return KW_ERR_CRYPTO;
    for (i = 0; i < n; i++)
        buf[i] = (uint8_t)(index * 31 + i);
    *len = n;
    return KW_OK;
}

static void test_content(void **state)
{
    struct fixture *f = *state;
    const size_t rec = 1000;
    struct kw_service s1;
    struct kw_document a, b, x, items[4];
    struct kw_document_filter flt = {0};
    struct producer ok = {-1}, bad = {1};
    uint8_t buf[1000];
    size_t len = 0, n = 0, i;

    mk_service(f->st, &s1, "one");
    mk_doc(&a, s1.id, "alpha", "", 1000);
    mk_doc(&b, s1.id, "beta", "", 1000);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &a) == KW_OK
                                     ? kw_store_document_content_put(tx_, a.id, 3, rec, produce, &ok)
                                     : KW_ERR_INTERNAL),
                     KW_OK);
    for (i = 0; i < 3; i++) {
        assert_int_equal(AUTO(f->st, kw_store_document_chunk_get(tx_, a.id, (int64_t)i, rec, buf, sizeof(buf), &len)),
                         KW_OK);
        assert_int_equal(len, i == 2 ? 17 : rec);
        assert_int_equal(buf[0], (uint8_t)(i * 31));
        assert_int_equal(buf[len - 1], (uint8_t)(i * 31 + len - 1));
    }
    assert_int_equal(AUTO(f->st, kw_store_document_chunk_get(tx_, a.id, 3, rec, buf, sizeof(buf), &len)),
                     KW_ERR_NOT_FOUND);

    /* a producer that fails: the transaction rolls back with nothing of b */
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &b) == KW_OK
                                     ? kw_store_document_content_put(tx_, b.id, 3, rec, produce, &bad)
                                     : KW_ERR_INTERNAL),
                     KW_ERR_CRYPTO);
    assert_int_equal(AUTO(f->st, kw_store_document_get(tx_, b.id, &x)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_document_chunk_get(tx_, b.id, 0, rec, buf, sizeof(buf), &len)),
                     KW_ERR_NOT_FOUND);
    assert_int_equal(kw_store_document_content_drop(f->st, b.id), KW_OK);

    /* shred */
    assert_int_equal(AUTO(f->st, kw_store_document_shred(tx_, a.id, 5000)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_shred(tx_, a.id, 6000)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_document_get(tx_, a.id, &x)), KW_OK);
    assert_int_equal(x.sealed_dek_len, 0);
    assert_int_equal(x.deleted_at, 5000);
    assert_string_equal(x.filename, a.filename); /* the metadata stays */
    assert_int_equal(AUTO(f->st, kw_store_document_chunk_get(tx_, a.id, 0, rec, buf, sizeof(buf), &len)),
                     KW_ERR_NOT_FOUND);
    flt.service_id = s1.id;
    assert_int_equal(AUTO(f->st, kw_store_document_list(tx_, &flt, items, 4, &n)), KW_OK);
    assert_int_equal(n, 0);
}

/* Chunk 0 of id reads back as produce() wrote it (want 1), or is not found (want 0). */
static void chunk0(struct fixture *f, const char *id, int want)
{
    uint8_t buf[1000];
    size_t len = 0;

    assert_int_equal(AUTO(f->st, kw_store_document_chunk_get(tx_, id, 0, sizeof(buf), buf, sizeof(buf), &len)),
                     want ? KW_OK : KW_ERR_NOT_FOUND);
    if (want) {
        assert_int_equal(len, sizeof(buf));
        assert_int_equal(buf[999], (uint8_t)999);
    }
}

static void test_staged(void **state)
{
    struct fixture *f = *state;
    const size_t rec = 1000;
    struct kw_service s1;
    struct kw_document a, b, c, d, x;
    struct producer ok = {-1}, bad = {1};
    int staged = -1, settled = -1;

    mk_service(f->st, &s1, "staged");
    mk_doc(&a, s1.id, "a", "", 1000);
    mk_doc(&b, s1.id, "b", "", 1000);
    mk_doc(&c, s1.id, "c", "", 1000);
    mk_doc(&d, s1.id, "d", "", 1000);

    /* the ingest path: stage, then the row and the link in the transaction, then done */
    assert_int_equal(kw_store_document_content_stage(f->st, a.id, 3, rec, produce, &ok, &staged), KW_OK);
    if (!staged) { /* PostgreSQL: nothing staged, nothing to link or settle */
        assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &a) == KW_OK
                                         ? kw_store_document_content_put(tx_, a.id, 3, rec, NULL, NULL)
                                         : KW_ERR_INTERNAL),
                         KW_ERR_NOT_FOUND);
        assert_int_equal(kw_store_document_content_recover(f->st, &settled), KW_OK);
        assert_int_equal(settled, 0);
        return;
    }
    chunk0(f, a.id, 0); /* staged content is not content yet */
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &a) == KW_OK
                                     ? kw_store_document_content_put(tx_, a.id, 3, rec, NULL, NULL)
                                     : KW_ERR_INTERNAL),
                     KW_OK);
    assert_int_equal(kw_store_document_content_done(f->st, a.id), KW_OK);
    chunk0(f, a.id, 1);

    /* a producer that fails: nothing staged */
    assert_int_equal(kw_store_document_content_stage(f->st, b.id, 3, rec, produce, &bad, &staged), KW_ERR_CRYPTO);
    assert_int_equal(staged, 0);

    /* staged and linked, but the transaction rolled back: drop leaves nothing */
    assert_int_equal(kw_store_document_content_stage(f->st, b.id, 3, rec, produce, &ok, &staged), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &b) == KW_OK
                                     ? (kw_store_document_content_put(tx_, b.id, 3, rec, NULL, NULL) == KW_OK
                                            ? KW_ERR_CONFLICT
                                            : KW_ERR_INTERNAL)
                                     : KW_ERR_INTERNAL),
                     KW_ERR_CONFLICT);
    assert_int_equal(kw_store_document_content_drop(f->st, b.id), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_get(tx_, b.id, &x)), KW_ERR_NOT_FOUND);
    chunk0(f, b.id, 0);
    /* nothing staged any more: a put that links finds nothing */
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &b) == KW_OK
                                     ? kw_store_document_content_put(tx_, b.id, 3, rec, NULL, NULL)
                                     : KW_ERR_INTERNAL),
                     KW_ERR_NOT_FOUND);

    /* crash cases for recover: c committed (linked, no done), d staged and linked without a row */
    assert_int_equal(kw_store_document_content_stage(f->st, c.id, 3, rec, produce, &ok, &staged), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &c) == KW_OK
                                     ? kw_store_document_content_put(tx_, c.id, 3, rec, NULL, NULL)
                                     : KW_ERR_INTERNAL),
                     KW_OK);
    assert_int_equal(kw_store_document_content_stage(f->st, d.id, 3, rec, produce, &ok, &staged), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &d) == KW_OK
                                     ? (kw_store_document_content_put(tx_, d.id, 3, rec, NULL, NULL) == KW_OK
                                            ? KW_ERR_CONFLICT
                                            : KW_ERR_INTERNAL)
                                     : KW_ERR_INTERNAL),
                     KW_ERR_CONFLICT);
    chunk0(f, d.id, 1); /* the linked file is there (not reachable through any row) */
    assert_int_equal(kw_store_document_content_recover(f->st, &settled), KW_OK);
    assert_int_equal(settled, 2);
    chunk0(f, c.id, 1);
    chunk0(f, d.id, 0);
    assert_int_equal(kw_store_document_content_recover(f->st, &settled), KW_OK);
    assert_int_equal(settled, 0);

    /* a deleted service takes its rows (ON DELETE CASCADE); a crash before the files were removed leaves
     * them with no row: recover removes them, and only them */
    assert_int_equal(AUTO(f->st, kw_store_service_delete(tx_, s1.id, 99)), KW_OK);
    chunk0(f, c.id, 1); /* the file is still there */
    assert_int_equal(kw_store_document_content_recover(f->st, &settled), KW_OK);
    assert_int_equal(settled, 2); /* a and c */
    chunk0(f, a.id, 0);
    chunk0(f, c.id, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staged, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
