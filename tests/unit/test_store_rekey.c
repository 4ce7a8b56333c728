/* test_store_rekey.c - the store contract for keyward rekey's own statements (store.h:
 * kw_store_document_dek_set), on SQLite and, when KEYWARD_TEST_PG is set, on PostgreSQL: a live
 * document's sealed data key is replaced and read back (the rest of the row unchanged), another document
 * is left alone, an unknown or shredded document is not found (a shredded one keeps no key), an empty or
 * oversized blob is refused, and the call is refused in a read transaction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "store_fixture.h"

static void mk_doc(struct kw_document *d, const char *service_id, uint8_t fill)
{
    memset(d, 0, sizeof(*d));
    assert_int_equal(kw_id_new("doc", d->id), KW_OK);
    snprintf(d->service_id, sizeof(d->service_id), "%s", service_id);
    snprintf(d->service_user_id, sizeof(d->service_user_id), "su_0123456789abcdef");
    snprintf(d->credential_id, sizeof(d->credential_id), "tok_0123456789abcdef");
    snprintf(d->filename, sizeof(d->filename), "a.pdf");
    snprintf(d->media_type, sizeof(d->media_type), "application/pdf");
    d->size = 10;
    memset(d->sha256, 'b', 64);
    snprintf(d->metadata, sizeof(d->metadata), "{}");
    d->sealed_dek_len = 129;
    memset(d->sealed_dek, fill, d->sealed_dek_len);
    d->chunk_size = 1048576;
    d->nchunks = 1;
    d->created_at = 1000;
}

static void test_dek_set(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_document a, b, x;
    uint8_t blob[KW_DOC_DEK_SEALED_MAX + 1];
    struct kw_tx *tx = NULL;
    size_t i;

    mk_service(f->st, &s, "one");
    mk_doc(&a, s.id, 0x11);
    mk_doc(&b, s.id, 0x22);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_insert(tx_, &b)), KW_OK);
    for (i = 0; i < sizeof(blob); i++)
        blob[i] = (uint8_t)(i * 7 + 1);
    blob[3] = 0;

    assert_int_equal(AUTO(f->st, kw_store_document_dek_set(tx_, a.id, blob, 131)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_get(tx_, a.id, &x)), KW_OK);
    assert_int_equal(x.sealed_dek_len, 131);
    assert_memory_equal(x.sealed_dek, blob, 131);
    assert_int_equal(x.seq, a.seq);
    assert_string_equal(x.filename, a.filename);
    assert_int_equal(x.size, a.size);
    assert_int_equal(x.deleted_at, 0);
    assert_int_equal(AUTO(f->st, kw_store_document_get(tx_, b.id, &x)), KW_OK);
    assert_int_equal(x.sealed_dek_len, 129);
    assert_memory_equal(x.sealed_dek, b.sealed_dek, 129);

    assert_int_equal(AUTO(f->st, kw_store_document_dek_set(tx_, "doc_nope", blob, 131)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_document_dek_set(tx_, a.id, blob, 0)), KW_ERR_INVALID);
    assert_int_equal(AUTO(f->st, kw_store_document_dek_set(tx_, a.id, blob, KW_DOC_DEK_SEALED_MAX + 1)),
                     KW_ERR_INVALID);

    /* shredded: not found, and it keeps no key (SQLite's shred fsyncs the documents directory, which
     * content_put would have made) */
    if (backend == TB_SQLITE) {
        char dir[1100];
        snprintf(dir, sizeof(dir), "%s/documents", f->dir);
        assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
    }
    assert_int_equal(AUTO(f->st, kw_store_document_shred(tx_, b.id, 2000)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_document_dek_set(tx_, b.id, blob, 131)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_document_get(tx_, b.id, &x)), KW_OK);
    assert_int_equal(x.sealed_dek_len, 0);
    assert_int_equal(x.deleted_at, 2000);

    /* write transactions only */
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &tx), KW_OK);
    assert_int_equal(kw_store_document_dek_set(tx, a.id, blob, 131), KW_ERR_INVALID);
    kw_store_rollback(tx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dek_set, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
