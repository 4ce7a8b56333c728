/* store_fixture.h - the cmocka fixture of the store tests: a fresh, migrated store per test on the
 * backend of the running group (group_sqlite / group_pg), and row makers. Include after cmocka.h. */
#ifndef KW_TESTS_STORE_FIXTURE_H
#define KW_TESTS_STORE_FIXTURE_H

#include "crypto/crypto.h"
#include "store_auto.h"
#include "store_backend.h"

struct fixture {
    struct store_env e;
    const char *dir; /* e.dir */
    struct kw_store *st;
};

static enum test_backend backend; /* of the group running */

static inline int group_sqlite(void **state)
{
    backend = TB_SQLITE;
    return 0;
}

static inline int group_pg(void **state)
{
    backend = TB_PG;
    return 0;
}

static inline int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int applied = -1, version = -1;

    if (f == NULL || kw_crypto_init() != KW_OK || tb_env_init(&f->e, backend) != 0)
        return -1;
    f->dir = f->e.dir;
    if (tb_open(&f->e, &f->st) != KW_OK || kw_store_migrate(f->st, &applied, &version) != KW_OK)
        return -1;
    if (applied < 1 || version < 1)
        return -1;
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fixture *f = *state;
    int rc;

    kw_store_free(f->st);
    rc = tb_env_cleanup(&f->e);
    free(f);
    return rc;
}

static inline void mk_service(struct kw_store *st, struct kw_service *s, const char *name)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(kw_id_new("svc", s->id), KW_OK);
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->key_prefix, sizeof(s->key_prefix), "kw");
    s->created_at = s->updated_at = 1000;
    assert_int_equal(AUTO(st, kw_store_service_insert(tx_, s)), KW_OK);
    assert_true(s->seq > 0);
}

static inline void mk_key(struct kw_store *st, struct kw_key *k, const char *service_id, int n)
{
    memset(k, 0, sizeof(*k));
    assert_int_equal(kw_id_new("key", k->id), KW_OK);
    snprintf(k->service_id, sizeof(k->service_id), "%s", service_id);
    k->hash[0] = (uint8_t)n;
    k->hash[1] = (uint8_t)(n >> 8);
    k->hash[31] = 0xAB;
    snprintf(k->start, sizeof(k->start), "kw_%04d", n);
    snprintf(k->created_by, sizeof(k->created_by), "root");
    k->enabled = 1;
    k->perms = 1;
    k->archive_after_extract_s = -1;
    k->created_at = k->updated_at = 2000 + n;
    snprintf(k->kind, sizeof(k->kind), "api_key");
    k->owner_enabled = 1;
    assert_int_equal(AUTO(st, kw_store_key_insert(tx_, k)), KW_OK);
}

#endif
