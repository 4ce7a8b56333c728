/* postgres_enckeys.c - response-encryption keys for the PostgreSQL backend (the statements of
 * sqlite_enckeys.c). */
#include <stdio.h>
#include <string.h>

#include "store/postgres_internal.h"

#define COLS "kid, public_pem, private_sealed, created_at, retire_after, status, version"

enum kw_err kw_pg_enc_key_insert(struct kw_tx *tx, const struct kw_enc_key *k)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, k->kid);
    kw_pg_text(&p, k->public_pem);
    kw_pg_blob(&p, k->sealed, k->sealed_len);
    kw_pg_int(&p, k->created_at);
    kw_pg_int(&p, k->retire_after);
    kw_pg_text(&p, k->status);
    kw_pg_int(&p, k->version);
    return kw_pg_run_sp(tx,
                        "INSERT INTO encryption_keys(" COLS
                        ") VALUES ($1::text, $2::text, $3::bytea, "
                        "$4::bigint, $5::bigint, $6::text, $7::bigint)",
                        &p, "enc_key_insert", NULL);
}

/* A bytea of at most cap bytes (text result "\x.."); longer reads as none. */
static size_t get_var_blob(const PGresult *res, int row, int col, uint8_t *dst, size_t cap)
{
    int len = PQgetlength(res, row, col);
    size_t n = len > 2 ? (size_t)(len - 2) / 2 : 0;

    if (n == 0 || n > cap)
        return 0;
    kw_pg_get_blob(res, row, col, dst, n);
    return n;
}

static void read_row(const PGresult *res, int row, void *item)
{
    struct kw_enc_key *k = item;

    memset(k, 0, sizeof(*k));
    kw_pg_get_text(res, row, 0, k->kid, sizeof(k->kid));
    kw_pg_get_text(res, row, 1, k->public_pem, sizeof(k->public_pem));
    k->sealed_len = get_var_blob(res, row, 2, k->sealed, sizeof(k->sealed));
    k->created_at = kw_pg_get_int(res, row, 3);
    k->retire_after = kw_pg_get_int(res, row, 4);
    kw_pg_get_text(res, row, 5, k->status, sizeof(k->status));
    k->version = kw_pg_get_int(res, row, 6);
}

enum kw_err kw_pg_enc_key_list(struct kw_tx *tx, struct kw_enc_key *items, size_t cap, size_t *n)
{
    char sql[256];
    enum kw_err err;
    PGresult *res;

    *n = 0;
    snprintf(sql, sizeof(sql), "SELECT " COLS " FROM encryption_keys ORDER BY created_at DESC, kid DESC%s",
             kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, NULL, "enc_key_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, read_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_enc_key_update(struct kw_tx *tx, const struct kw_enc_key *k)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    kw_pg_blob(&p, k->sealed, k->sealed_len);
    kw_pg_text(&p, k->status);
    kw_pg_int(&p, k->retire_after);
    kw_pg_int(&p, k->version);
    kw_pg_text(&p, k->kid);
    err = kw_pg_run(tx,
                    "UPDATE encryption_keys SET private_sealed = $1::bytea, status = $2::text, retire_after = "
                    "$3::bigint, version = $4::bigint WHERE kid = $5::text",
                    &p, "enc_key_update", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_pg_enc_key_delete(struct kw_tx *tx, const char *kid)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    kw_pg_text(&p, kid);
    err = kw_pg_run(tx, "DELETE FROM encryption_keys WHERE kid = $1::text", &p, "enc_key_delete", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_pg_enc_key_stamp(struct kw_tx *tx, int64_t *max_version, int64_t *count)
{
    enum kw_err err;
    PGresult *res = kw_pg_exec(tx, "SELECT coalesce(max(version), 0), count(*) FROM encryption_keys", NULL,
                               "enc_key_stamp", &err);

    if (res == NULL)
        return err;
    if (PQntuples(res) == 1) {
        *max_version = kw_pg_get_int(res, 0, 0);
        *count = kw_pg_get_int(res, 0, 1);
    } else {
        err = KW_ERR_STORE;
    }
    PQclear(res);
    return err;
}
