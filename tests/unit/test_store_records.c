/* test_store_records.c - the store contract for identity records (store.h: identity records), on SQLite
 * and, when KEYWARD_TEST_PG is set, on PostgreSQL: insert (duplicate refId per service, the same refId on
 * another service), get by refId and id with every column and owned buffer as written (a NUL inside a
 * blob survives), list with the status / updatedSince filters and the keyset cursor, update (the data
 * columns back to NULL), due records for auto-archive, pictures (upsert, list with and without data,
 * wipe), history in order, and writes only in write transactions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "store_fixture.h"

static void mk_rec(struct kw_record *r, const char *service_id, const char *ref, const char *status, int64_t t)
{
    size_t i;

    memset(r, 0, sizeof(*r));
    assert_int_equal(kw_id_new("rec", r->id), KW_OK);
    snprintf(r->service_id, sizeof(r->service_id), "%s", service_id);
    snprintf(r->ref_id, sizeof(r->ref_id), "%s", ref);
    snprintf(r->identity_id, sizeof(r->identity_id), "id-%s", ref);
    snprintf(r->status, sizeof(r->status), "%s", status);
    snprintf(r->created_by, sizeof(r->created_by), "root");
    r->created_at = r->updated_at = t;
    r->version = 1;
    r->sealed_dek_len = 129;
    for (i = 0; i < r->sealed_dek_len; i++)
        r->sealed_dek[i] = (uint8_t)(i * 7);
    r->attributes_ct_len = 300;
    r->attributes_ct = malloc(r->attributes_ct_len);
    assert_non_null(r->attributes_ct);
    for (i = 0; i < r->attributes_ct_len; i++)
        r->attributes_ct[i] = (uint8_t)(255 - i);
    r->attributes_ct[3] = 0;
    r->certificates = strdup("[{\"type\":\"kyc\"}]");
}

static void same(const struct kw_record *a, const struct kw_record *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->service_id, b->service_id);
    assert_string_equal(a->ref_id, b->ref_id);
    assert_string_equal(a->identity_id, b->identity_id);
    assert_string_equal(a->status, b->status);
    assert_int_equal(a->is_archived, b->is_archived);
    assert_int_equal(a->inreview_date, b->inreview_date);
    assert_int_equal(a->waiting_date, b->waiting_date);
    assert_int_equal(a->approved_date, b->approved_date);
    assert_int_equal(a->will_archive_at, b->will_archive_at);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->updated_at, b->updated_at);
    assert_string_equal(a->created_by, b->created_by);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->sealed_dek_len, b->sealed_dek_len);
    assert_memory_equal(a->sealed_dek, b->sealed_dek, a->sealed_dek_len);
    assert_int_equal(a->attributes_ct_len, b->attributes_ct_len);
    if (a->attributes_ct_len > 0)
        assert_memory_equal(a->attributes_ct, b->attributes_ct, a->attributes_ct_len);
    else
        assert_null(b->attributes_ct);
    assert_string_equal(a->certificates, b->certificates);
}

static void test_records(void **state)
{
    struct fixture *f = *state;
    struct kw_service s1, s2;
    struct kw_record a, b, c, got, items[4];
    struct kw_record_filter flt;
    struct kw_tx *rtx = NULL;
    size_t n = 9, i;

    mk_service(f->st, &s1, "one");
    mk_service(f->st, &s2, "two");
    mk_rec(&a, s1.id, "ref-a", "incomplete", 1000);
    mk_rec(&b, s1.id, "ref-b", "approved", 2000);
    mk_rec(&c, s2.id, "ref-a", "waiting", 3000);
    assert_int_equal(AUTO(f->st, kw_store_record_insert(tx_, &a)), KW_OK);
    assert_true(a.seq > 0);
    assert_int_equal(AUTO(f->st, kw_store_record_insert(tx_, &b)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_record_insert(tx_, &c)), KW_OK); /* same refId, other service */
    {
        struct kw_record dup;
        mk_rec(&dup, s1.id, "ref-a", "incomplete", 4000);
        assert_int_equal(AUTO(f->st, kw_store_record_insert(tx_, &dup)), KW_ERR_EXISTS);
        kw_record_free(&dup);
    }
    assert_int_equal(AUTO(f->st, kw_store_record_get(tx_, s1.id, "ref-a", &got)), KW_OK);
    same(&a, &got);
    kw_record_free(&got);
    assert_int_equal(AUTO(f->st, kw_store_record_get_id(tx_, c.id, &got)), KW_OK);
    same(&c, &got);
    kw_record_free(&got);
    assert_int_equal(AUTO(f->st, kw_store_record_get(tx_, s2.id, "ref-b", &got)), KW_ERR_NOT_FOUND);

    /* list: the service's records in seq order, the filters, the cursor */
    memset(&flt, 0, sizeof(flt));
    flt.service_id = s1.id;
    assert_int_equal(AUTO(f->st, kw_store_record_list(tx_, &flt, items, 4, &n)), KW_OK);
    assert_int_equal(n, 2);
    same(&a, &items[0]);
    same(&b, &items[1]);
    for (i = 0; i < n; i++)
        kw_record_free(&items[i]);
    flt.status = "approved";
    assert_int_equal(AUTO(f->st, kw_store_record_list(tx_, &flt, items, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].ref_id, "ref-b");
    kw_record_free(&items[0]);
    flt.status = NULL;
    flt.updated_since = 1500;
    assert_int_equal(AUTO(f->st, kw_store_record_list(tx_, &flt, items, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].ref_id, "ref-b");
    kw_record_free(&items[0]);
    flt.updated_since = 0;
    flt.after_seq = a.seq;
    assert_int_equal(AUTO(f->st, kw_store_record_list(tx_, &flt, items, 1, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(items[0].ref_id, "ref-b");
    kw_record_free(&items[0]);

    /* update: archive a (data columns NULL), schedule b */
    kw_crypto_wipe(a.sealed_dek, sizeof(a.sealed_dek));
    a.sealed_dek_len = 0;
    free(a.attributes_ct);
    a.attributes_ct = NULL;
    a.attributes_ct_len = 0;
    a.is_archived = 1;
    a.will_archive_at = 1500;
    a.version = 2;
    a.updated_at = 5000;
    a.inreview_date = 4000;
    snprintf(a.status, sizeof(a.status), "approved");
    assert_int_equal(AUTO(f->st, kw_store_record_update(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_record_get_id(tx_, a.id, &got)), KW_OK);
    same(&a, &got);
    kw_record_free(&got);
    b.will_archive_at = 6000;
    assert_int_equal(AUTO(f->st, kw_store_record_update(tx_, &b)), KW_OK);
    {
        char ids[4][KW_ID_MAX];
        assert_int_equal(AUTO(f->st, kw_store_record_due(tx_, 5999, ids, 4, &n)), KW_OK);
        assert_int_equal(n, 0); /* a is archived, b not due yet */
        assert_int_equal(AUTO(f->st, kw_store_record_due(tx_, 6000, ids, 4, &n)), KW_OK);
        assert_int_equal(n, 1);
        assert_string_equal(ids[0], b.id);
    }
    {
        struct kw_record ghost;
        mk_rec(&ghost, s1.id, "ghost", "waiting", 1);
        assert_int_equal(AUTO(f->st, kw_store_record_update(tx_, &ghost)), KW_ERR_NOT_FOUND);
        kw_record_free(&ghost);
    }

    /* writes need a write transaction */
    assert_int_equal(kw_store_begin(f->st, KW_TX_READ, &rtx), KW_OK);
    assert_int_equal(kw_store_record_update(rtx, &b), KW_ERR_INVALID);
    kw_store_rollback(rtx);
    kw_record_free(&a);
    kw_record_free(&b);
    kw_record_free(&c);
}

static void test_pictures_history(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_record r;
    struct kw_record_picture p, got[4];
    struct kw_record_history h, hs[4];
    size_t n = 9, i;
    uint8_t blob[1000];

    mk_service(f->st, &s, "pics");
    mk_rec(&r, s.id, "ref", "incomplete", 1000);
    assert_int_equal(AUTO(f->st, kw_store_record_insert(tx_, &r)), KW_OK);
    for (i = 0; i < sizeof(blob); i++)
        blob[i] = (uint8_t)(i * 13);
    blob[10] = 0;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "selfie");
    snprintf(p.media_type, sizeof(p.media_type), "image/png");
    p.size = 972;
    p.updated_at = 1100;
    p.ct = blob;
    p.ct_len = sizeof(blob);
    assert_int_equal(AUTO(f->st, kw_store_record_picture_put(tx_, r.id, &p)), KW_OK);
    snprintf(p.media_type, sizeof(p.media_type), "image/jpeg"); /* replaced, not added */
    assert_int_equal(AUTO(f->st, kw_store_record_picture_put(tx_, r.id, &p)), KW_OK);
    snprintf(p.name, sizeof(p.name), "document_front");
    p.ct_len = 100;
    assert_int_equal(AUTO(f->st, kw_store_record_picture_put(tx_, r.id, &p)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_record_picture_list(tx_, r.id, 1, got, 4, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].name, "document_front"); /* by name */
    assert_int_equal(got[0].ct_len, 100);
    assert_string_equal(got[1].name, "selfie");
    assert_string_equal(got[1].media_type, "image/jpeg");
    assert_int_equal(got[1].size, 972);
    assert_int_equal(got[1].updated_at, 1100);
    assert_int_equal(got[1].ct_len, sizeof(blob));
    assert_memory_equal(got[1].ct, blob, sizeof(blob));
    for (i = 0; i < n; i++)
        kw_record_picture_free(&got[i]);
    assert_int_equal(AUTO(f->st, kw_store_record_picture_list(tx_, r.id, 0, got, 4, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_null(got[1].ct);
    assert_int_equal(AUTO(f->st, kw_store_record_picture_wipe(tx_, r.id)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_record_picture_list(tx_, r.id, 1, got, 4, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_null(got[0].ct);
    assert_null(got[1].ct);
    assert_string_equal(got[1].media_type, "image/jpeg"); /* metadata stays */

    memset(&h, 0, sizeof(h));
    snprintf(h.actor_type, sizeof(h.actor_type), "user");
    snprintf(h.actor_id, sizeof(h.actor_id), "alice");
    snprintf(h.to_status, sizeof(h.to_status), "incomplete");
    h.at = 10;
    assert_int_equal(AUTO(f->st, kw_store_record_history_append(tx_, r.id, &h)), KW_OK);
    assert_int_equal(h.seq, 1);
    snprintf(h.from_status, sizeof(h.from_status), "incomplete");
    snprintf(h.to_status, sizeof(h.to_status), "waiting");
    snprintf(h.comment, sizeof(h.comment), "docs in");
    h.at = 20;
    assert_int_equal(AUTO(f->st, kw_store_record_history_append(tx_, r.id, &h)), KW_OK);
    assert_int_equal(h.seq, 2);
    assert_int_equal(AUTO(f->st, kw_store_record_history_list(tx_, r.id, hs, 4, &n)), KW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hs[0].seq, 1);
    assert_string_equal(hs[0].from_status, "");
    assert_string_equal(hs[1].to_status, "waiting");
    assert_string_equal(hs[1].comment, "docs in");
    assert_string_equal(hs[1].actor_id, "alice");
    assert_int_equal(hs[1].at, 20);
    kw_record_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pictures_history, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
