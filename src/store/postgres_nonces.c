/* postgres_nonces.c - single-use values (store.h: nonces) for the PostgreSQL backend. Two nodes
 * inserting one value: the primary key makes the second wait for the first's transaction, then find
 * the row (a replay) or, if the first rolled back, insert it. */
#include "store/postgres_internal.h"

enum kw_err kw_pg_nonce_insert(struct kw_tx *tx, const char *scope, const char *value, int64_t created_at)
{
    struct kw_pg_params p = {0};
    int64_t n = 0;
    enum kw_err err;

    kw_pg_text(&p, scope);
    kw_pg_text(&p, value);
    kw_pg_int(&p, created_at);
    err = kw_pg_run(tx,
                    "INSERT INTO nonces(scope, value, created_at) VALUES ($1::text, $2::text, $3::bigint) "
                    "ON CONFLICT (scope, value) DO NOTHING",
                    &p, "nonce_insert", &n);
    if (err != KW_OK)
        return err;
    return n == 1 ? KW_OK : KW_ERR_CONFLICT;
}

enum kw_err kw_pg_nonce_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted)
{
    struct kw_pg_params p = {0};
    int64_t n = 0;
    enum kw_err err;

    kw_pg_int(&p, before_ms);
    err = kw_pg_run(tx, "DELETE FROM nonces WHERE created_at < $1::bigint", &p, "nonce_purge", &n);
    if (err == KW_OK && deleted != NULL)
        *deleted = n;
    return err;
}
