/* test_store_svcusers.c - the store contract for machine credentials (migration 0005) on both backends:
 * service users (insert, unique source system per service, get, keyset list, update, delete, the
 * service's deletion), and keys rows of kind token / access_key / ban: the new columns round-trip
 * (sealed blob included), api-key listings and usage do not see them, owner cascades (disable,
 * delete with tombstones), lookup by hash, and "changed since" carries kind and owner. PostgreSQL
 * runs when KEYWARD_TEST_PG is set, as in test_store.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ids.h"
#include "store_fixture.h"

static void mk_su(struct kw_store *st, struct kw_service_user *u, const char *service_id, const char *source)
{
    memset(u, 0, sizeof(*u));
    assert_int_equal(kw_id_new("su", u->id), KW_OK);
    snprintf(u->service_id, sizeof(u->service_id), "%s", service_id);
    snprintf(u->name, sizeof(u->name), "user %s", source);
    snprintf(u->source_system, sizeof(u->source_system), "%s", source);
    u->perms = KW_PERM_CANDIDATES_READ | KW_PERM_DOCUMENTS_WRITE;
    u->enabled = 1;
    memset(u->client_secret_hash, 0x5a, KW_HASH_LEN);
    u->client_secret_set_at = 1000;
    u->created_at = u->updated_at = 1000;
    u->version = 3;
    snprintf(u->created_by, sizeof(u->created_by), "root");
    assert_int_equal(AUTO(st, kw_store_service_user_insert(tx_, u)), KW_OK);
}

/* A keys row of kind owned by su (su may be NULL: no owner), with a distinct hash from n. */
static void mk_cred(struct kw_store *st, struct kw_key *k, const char *service_id, const char *su,
                    const char *kind, int n)
{
    memset(k, 0, sizeof(*k));
    assert_int_equal(kw_id_new(strcmp(kind, "token") == 0 ? "tok" : "cr", k->id), KW_OK);
    snprintf(k->service_id, sizeof(k->service_id), "%s", service_id);
    k->hash[0] = (uint8_t)n;
    k->hash[2] = 0xC4;
    k->hash[31] = (uint8_t)(n >> 8);
    snprintf(k->start, sizeof(k->start), "kwt_%04d", n);
    snprintf(k->created_by, sizeof(k->created_by), "root");
    k->enabled = 1;
    k->perms = 1;
    k->archive_after_extract_s = -1;
    k->created_at = k->updated_at = 3000 + n;
    k->version = 100 + n;
    snprintf(k->kind, sizeof(k->kind), "%s", kind);
    snprintf(k->service_user_id, sizeof(k->service_user_id), "%s", su ? su : "");
    k->owner_enabled = 1;
    if (strcmp(kind, "access_key") == 0) {
        for (size_t i = 0; i < 77; i++)
            k->sealed[i] = (uint8_t)(i * 7 + n);
        k->sealed[3] = 0; /* a NUL inside the blob */
        k->sealed_len = 77;
    }
    assert_int_equal(AUTO(st, kw_store_key_insert(tx_, k)), KW_OK);
}

static void test_service_users_crud(void **state)
{
    struct fixture *f = *state;
    struct kw_service s, t;
    struct kw_service_user a, b, c, dup, got, page[4];
    size_t n;

    mk_service(f->st, &s, "su");
    mk_service(f->st, &t, "other");
    mk_su(f->st, &a, s.id, "vkyc");
    mk_su(f->st, &b, s.id, "doc_service");
    mk_su(f->st, &c, t.id, "vkyc"); /* the same source system in another service is fine */
    assert_true(b.seq > a.seq);

    dup = a;
    assert_int_equal(kw_id_new("su", dup.id), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_user_insert(tx_, &dup)), KW_ERR_EXISTS); /* source */
    dup = a;
    snprintf(dup.source_system, sizeof(dup.source_system), "branch_scan");
    assert_int_equal(AUTO(f->st, kw_store_service_user_insert(tx_, &dup)), KW_ERR_EXISTS); /* id */
    assert_int_equal(kw_id_new("su", dup.id), KW_OK);
    snprintf(dup.service_id, sizeof(dup.service_id), "svc_missing");
    assert_int_not_equal(AUTO(f->st, kw_store_service_user_insert(tx_, &dup)), KW_OK); /* foreign key */

    assert_int_equal(AUTO(f->st, kw_store_service_user_get(tx_, a.id, &got)), KW_OK);
    assert_memory_equal(&got, &a, sizeof(got)); /* every field round-trips */
    assert_int_equal(AUTO(f->st, kw_store_service_user_get(tx_, "su_nope", &got)), KW_ERR_NOT_FOUND);

    assert_int_equal(AUTO(f->st, kw_store_service_user_list(tx_, s.id, 0, page, 1, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, a.id);
    assert_int_equal(AUTO(f->st, kw_store_service_user_list(tx_, s.id, page[0].seq, page, 4, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, b.id);
    assert_int_equal(AUTO(f->st, kw_store_service_user_list(tx_, t.id, 0, page, 4, &n)), KW_OK);
    assert_int_equal(n, 1);

    a.enabled = 0;
    a.perms = KW_PERM_DOCUMENTS_READ;
    memset(a.name, 0, sizeof(a.name));
    snprintf(a.name, sizeof(a.name), "renamed");
    memset(a.client_secret_hash, 0x77, KW_HASH_LEN);
    a.client_secret_set_at = a.updated_at = 5000;
    a.version = 9;
    assert_int_equal(AUTO(f->st, kw_store_service_user_update(tx_, &a)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_user_get(tx_, a.id, &got)), KW_OK);
    assert_memory_equal(&got, &a, sizeof(got));
    dup = a;
    snprintf(dup.id, sizeof(dup.id), "su_nope");
    assert_int_equal(AUTO(f->st, kw_store_service_user_update(tx_, &dup)), KW_ERR_NOT_FOUND);

    assert_int_equal(AUTO(f->st, kw_store_service_user_delete(tx_, a.id)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_user_delete(tx_, a.id)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_service_user_get(tx_, a.id, &got)), KW_ERR_NOT_FOUND);

    /* a service's deletion takes its service users along */
    assert_int_equal(AUTO(f->st, kw_store_service_delete(tx_, s.id, 50)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_service_user_get(tx_, b.id, &got)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_service_user_get(tx_, c.id, &got)), KW_OK);
}

struct changes {
    int n, deleted;
    char kinds[8][KW_KIND_MAX];
    char owners[8][KW_ID_MAX];
};

static int on_change(void *ctx, const struct kw_key *k, int deleted)
{
    struct changes *c = ctx;

    if (c->n < 8) {
        snprintf(c->kinds[c->n], KW_KIND_MAX, "%s", k->kind);
        snprintf(c->owners[c->n], KW_ID_MAX, "%s", k->service_user_id);
    }
    c->n++;
    c->deleted += deleted;
    return 0;
}

static void test_machine_kinds(void **state)
{
    struct fixture *f = *state;
    struct kw_service s;
    struct kw_service_user u, v;
    struct kw_key api, tok, tok2, ak, ban, other, got, page[8];
    struct kw_usage_point usage[8];
    struct changes ch = {0};
    int64_t live = 0, changed = 0, since = 0;
    size_t n;

    mk_service(f->st, &s, "kinds");
    mk_su(f->st, &u, s.id, "vkyc");
    mk_su(f->st, &v, s.id, "doc_service");
    mk_key(f->st, &api, s.id, 1);
    mk_cred(f->st, &tok, s.id, u.id, "token", 2);
    mk_cred(f->st, &tok2, s.id, u.id, "token", 3);
    mk_cred(f->st, &ak, s.id, u.id, "access_key", 4);
    mk_cred(f->st, &ban, s.id, NULL, "ban", 5);
    mk_cred(f->st, &other, s.id, v.id, "token", 6);

    /* every column round-trips, the sealed blob with its length */
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, ak.id, &got)), KW_OK);
    assert_memory_equal(&got, &ak, sizeof(got));
    assert_int_equal(got.sealed_len, 77);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, tok.id, &got)), KW_OK);
    assert_memory_equal(&got, &tok, sizeof(got));
    assert_int_equal(AUTO(f->st, kw_store_key_get_hash(tx_, ban.hash, &got)), KW_OK);
    assert_string_equal(got.id, ban.id);
    assert_string_equal(got.kind, "ban");
    got.hash[9] ^= 1;
    assert_int_equal(AUTO(f->st, kw_store_key_get_hash(tx_, got.hash, &got)), KW_ERR_NOT_FOUND);

    /* API-key listings and usage see api keys only; live keys count no ban */
    assert_int_equal(AUTO(f->st, kw_store_key_list(tx_, s.id, 0, page, 8, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, api.id);
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, tok.id, s.id, 60000, 2, 0)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_usage_add(tx_, api.id, s.id, 60000, 1, 0)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_usage_list(tx_, s.id, 0, usage, 8, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(usage[0].key_id, api.id);
    assert_int_equal(AUTO(f->st, kw_store_service_live_keys(tx_, s.id, 0, &live)), KW_OK);
    assert_int_equal(live, 5); /* api, three tokens, the access key */

    /* by kind, by owner, keyset paged */
    assert_int_equal(AUTO(f->st, kw_store_key_list_kind(tx_, s.id, NULL, "token", 0, page, 8, &n)), KW_OK);
    assert_int_equal(n, 3);
    assert_int_equal(AUTO(f->st, kw_store_key_list_kind(tx_, s.id, u.id, "token", 0, page, 1, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, tok.id);
    assert_int_equal(AUTO(f->st, kw_store_key_list_kind(tx_, s.id, u.id, "token", page[0].seq, page, 8, &n)),
                     KW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(page[0].id, tok2.id);
    assert_int_equal(AUTO(f->st, kw_store_key_list_kind(tx_, s.id, u.id, "access_key", 0, page, 8, &n)), KW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(page[0].sealed_len, 77);

    /* update writes owner_enabled and sealed */
    ak.owner_enabled = 0;
    ak.sealed_len = 5;
    ak.version = 200;
    assert_int_equal(AUTO(f->st, kw_store_key_update(tx_, &ak)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, ak.id, &got)), KW_OK);
    assert_int_equal(got.owner_enabled, 0);
    assert_int_equal(got.sealed_len, 5);
    assert_memory_equal(got.sealed, ak.sealed, 5);

    /* the owner's cascade: disable marks its tokens and access keys with one version; the ban and the
     * other user's token stay */
    assert_int_equal(AUTO(f->st, kw_store_version_current(tx_, &since)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_set_owner_enabled(tx_, u.id, 0, 300, 7000, &changed)), KW_OK);
    assert_int_equal(changed, 3);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, tok2.id, &got)), KW_OK);
    assert_int_equal(got.owner_enabled, 0);
    assert_int_equal(got.version, 300);
    assert_int_equal(got.updated_at, 7000);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, other.id, &got)), KW_OK);
    assert_int_equal(got.owner_enabled, 1);
    assert_int_equal(AUTO(f->st, kw_store_key_set_owner_enabled(tx_, u.id, 1, 301, 7001, NULL)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, tok.id, &got)), KW_OK);
    assert_int_equal(got.owner_enabled, 1);
    assert_int_equal(AUTO(f->st, kw_store_key_set_owner_enabled(tx_, "", 0, 302, 7002, &changed)), KW_OK);
    assert_int_equal(changed, 0); /* "" owns nothing */

    /* delete: every token and access key of u leaves a tombstone with kind and owner */
    assert_int_equal(AUTO(f->st, kw_store_key_delete_owner(tx_, u.id, 400)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, tok.id, &got)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, ak.id, &got)), KW_ERR_NOT_FOUND);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, ban.id, &got)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_get(tx_, other.id, &got)), KW_OK);
    assert_int_equal(AUTO(f->st, kw_store_key_tombstone_get(tx_, ak.id, &got)), KW_OK);
    assert_int_equal(got.version, 400);
    assert_string_equal(got.kind, "access_key");
    assert_string_equal(got.service_user_id, u.id);
    assert_int_equal(AUTO(f->st, kw_store_key_changes(tx_, 399, on_change, &ch)), KW_OK);
    assert_int_equal(ch.n, 3);
    assert_int_equal(ch.deleted, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(strcmp(ch.kinds[i], "token") == 0 || strcmp(ch.kinds[i], "access_key") == 0);
        assert_string_equal(ch.owners[i], u.id);
    }
    memset(&ch, 0, sizeof(ch));
    assert_int_equal(AUTO(f->st, kw_store_key_changes(tx_, 0, on_change, &ch)), KW_OK);
    assert_int_equal(ch.n, 5); /* the ban, the other token (api's version is 0), three tombstones */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_service_users_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_machine_kinds, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", tests, group_sqlite, NULL);

    if (tb_pg_admin() == NULL) {
        printf("PostgreSQL contract: skipped (KEYWARD_TEST_PG not set)\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("postgresql", tests, group_pg, NULL);
}
