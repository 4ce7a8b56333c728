/* postgres_svcusers.c - machine credentials for the PostgreSQL backend: service users, and the keys rows
 * of kind token / access_key / ban that belong to them (store.h: machine credentials). The same
 * statements as sqlite_svcusers.c in PostgreSQL's dialect. */
#include <stdio.h>
#include <string.h>

#include "store/postgres_internal.h"

size_t kw_pg_get_bytes(const PGresult *res, int row, int col, uint8_t *dst, size_t cap)
{
    unsigned char *raw;
    size_t len = 0;

    if (PQgetisnull(res, row, col))
        return 0;
    raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &len);
    if (raw == NULL)
        return 0;
    if (len > cap)
        len = 0;
    else
        memcpy(dst, raw, len);
    PQfreemem(raw);
    return len;
}

void kw_pg_sealed(struct kw_pg_params *p, const struct kw_key *k)
{
    if (k->sealed_len > 0 && k->sealed_len <= sizeof(k->sealed)) {
        kw_pg_blob(p, k->sealed, k->sealed_len);
    } else if (p->n < KW_PG_MAXP) {
        p->v[p->n] = NULL; /* SQL NULL */
        p->len[p->n] = 0;
        p->fmt[p->n] = 1;
        p->n++;
    }
}

#define SU_COLS                                                                                              \
    "seq, id, service_id, name, source_system, perms, enabled, client_secret_hash, client_secret_set_at, "   \
    "created_at, created_by, updated_at, version"

static void su_row(const PGresult *res, int r, void *item)
{
    struct kw_service_user *u = item;

    memset(u, 0, sizeof(*u));
    u->seq = kw_pg_get_int(res, r, 0);
    kw_pg_get_text(res, r, 1, u->id, sizeof(u->id));
    kw_pg_get_text(res, r, 2, u->service_id, sizeof(u->service_id));
    kw_pg_get_text(res, r, 3, u->name, sizeof(u->name));
    kw_pg_get_text(res, r, 4, u->source_system, sizeof(u->source_system));
    u->perms = (uint32_t)kw_pg_get_int(res, r, 5);
    u->enabled = (int)kw_pg_get_int(res, r, 6);
    kw_pg_get_blob(res, r, 7, u->client_secret_hash, KW_HASH_LEN);
    u->client_secret_set_at = kw_pg_get_int(res, r, 8);
    u->created_at = kw_pg_get_int(res, r, 9);
    kw_pg_get_text(res, r, 10, u->created_by, sizeof(u->created_by));
    u->updated_at = kw_pg_get_int(res, r, 11);
    u->version = kw_pg_get_int(res, r, 12);
}

enum kw_err kw_pg_service_user_insert(struct kw_tx *tx, struct kw_service_user *u)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, u->id);
    KW_PG_FIELD(&p, u->service_id);
    KW_PG_FIELD(&p, u->name);
    KW_PG_FIELD(&p, u->source_system);
    kw_pg_int(&p, u->perms);
    kw_pg_int(&p, u->enabled);
    kw_pg_blob(&p, u->client_secret_hash, KW_HASH_LEN);
    kw_pg_int(&p, u->client_secret_set_at);
    kw_pg_int(&p, u->created_at);
    KW_PG_FIELD(&p, u->created_by);
    kw_pg_int(&p, u->updated_at);
    kw_pg_int(&p, u->version);
    return kw_pg_insert_seq(tx,
                            "INSERT INTO service_users(id, service_id, name, source_system, perms, enabled, "
                            "client_secret_hash, client_secret_set_at, created_at, created_by, updated_at, "
                            "version) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) RETURNING seq",
                            &p, "service_user_insert", &u->seq);
}

enum kw_err kw_pg_service_user_get(struct kw_tx *tx, const char *id, struct kw_service_user *out)
{
    struct kw_pg_params p = {0};
    char sql[256];
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, id);
    snprintf(sql, sizeof(sql), "SELECT " SU_COLS " FROM service_users WHERE id = $1%s", kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, &p, "service_user_get", &err);
    return res == NULL ? err : kw_pg_one(res, su_row, out);
}

enum kw_err kw_pg_service_user_list(struct kw_tx *tx, const char *service_id, int64_t after,
                                    struct kw_service_user *items, size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, service_id);
    kw_pg_int(&p, after);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx,
                     "SELECT " SU_COLS " FROM service_users WHERE service_id = $1 AND seq > $2 ORDER BY seq "
                     "LIMIT $3",
                     &p, "service_user_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, su_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_service_user_update(struct kw_tx *tx, const struct kw_service_user *u)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    KW_PG_FIELD(&p, u->name);
    kw_pg_int(&p, u->perms);
    kw_pg_int(&p, u->enabled);
    kw_pg_blob(&p, u->client_secret_hash, KW_HASH_LEN);
    kw_pg_int(&p, u->client_secret_set_at);
    kw_pg_int(&p, u->updated_at);
    kw_pg_int(&p, u->version);
    KW_PG_FIELD(&p, u->id);
    err = kw_pg_run_sp(tx,
                       "UPDATE service_users SET name = $1, perms = $2, enabled = $3, client_secret_hash = $4, "
                       "client_secret_set_at = $5, updated_at = $6, version = $7 WHERE id = $8",
                       &p, "service_user_update", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_pg_service_user_delete(struct kw_tx *tx, const char *id)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    kw_pg_text(&p, id);
    err = kw_pg_run(tx, "DELETE FROM service_users WHERE id = $1", &p, "service_user_delete", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

/* ---- keys rows of the machine kinds ---- */

enum kw_err kw_pg_key_list_kind(struct kw_tx *tx, const char *service_id, const char *service_user_id,
                                const char *kind, int64_t after, struct kw_key *items, size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, service_id);
    kw_pg_text(&p, kind);
    kw_pg_int(&p, after);
    kw_pg_int(&p, (int64_t)cap);
    if (service_user_id != NULL)
        kw_pg_text(&p, service_user_id);
    res = kw_pg_exec(tx,
                     service_user_id == NULL
                         ? "SELECT " KW_PG_KEY_COLS " FROM keys WHERE service_id = $1 AND kind = $2 AND seq > $3 "
                           "ORDER BY seq LIMIT $4"
                         : "SELECT " KW_PG_KEY_COLS " FROM keys WHERE service_id = $1 AND kind = $2 AND seq > $3 "
                           "AND service_user_id = $5 ORDER BY seq LIMIT $4",
                     &p, "key_list_kind", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, kw_pg_key_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_key_get_hash(struct kw_tx *tx, const uint8_t hash[KW_HASH_LEN], struct kw_key *out)
{
    struct kw_pg_params p = {0};
    char sql[512];
    enum kw_err err;
    PGresult *res;

    kw_pg_blob(&p, hash, KW_HASH_LEN);
    snprintf(sql, sizeof(sql), "SELECT " KW_PG_KEY_COLS " FROM keys WHERE hash = $1%s", kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, &p, "key_get_hash", &err);
    return res == NULL ? err : kw_pg_one(res, kw_pg_key_row, out);
}

enum kw_err kw_pg_key_set_owner_enabled(struct kw_tx *tx, const char *service_user_id, int enabled,
                                        int64_t version, int64_t now_ms, int64_t *changed)
{
    struct kw_pg_params p = {0};

    kw_pg_int(&p, enabled ? 1 : 0);
    kw_pg_int(&p, version);
    kw_pg_int(&p, now_ms);
    kw_pg_text(&p, service_user_id);
    return kw_pg_run(tx,
                     "UPDATE keys SET owner_enabled = $1, version = $2, updated_at = $3 WHERE service_user_id = $4 "
                     "AND service_user_id <> '' AND kind IN ('token', 'access_key', 'client_secret')",
                     &p, "key_set_owner_enabled", changed);
}

enum kw_err kw_pg_key_delete_owner(struct kw_tx *tx, const char *service_user_id, int64_t version)
{
    enum kw_err err = kw_pg_atomic_begin(tx);
    struct kw_pg_params p = {0};

    if (err != KW_OK)
        return err;
    err = kw_pg_key_tombstone(tx,
                              KW_PG_TOMB_INSERT "WHERE service_user_id = $3 AND service_user_id <> '' AND kind IN "
                                                "('token', 'access_key', 'client_secret')" KW_PG_TOMB_REPLACE,
                              service_user_id, version);
    if (err == KW_OK) {
        kw_pg_text(&p, service_user_id);
        err = kw_pg_run(tx,
                        "DELETE FROM keys WHERE service_user_id = $1 AND service_user_id <> '' AND kind IN "
                        "('token', 'access_key', 'client_secret')",
                        &p, "key_delete_owner", NULL);
    }
    return kw_pg_atomic_end(tx, err);
}
