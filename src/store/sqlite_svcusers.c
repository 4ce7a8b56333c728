/* sqlite_svcusers.c - machine credentials for the SQLite backend: service users, and the keys rows of
 * kind token / access_key / ban that belong to them (store.h: machine credentials). */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)

#define SU_COLS                                                                                        \
    "seq, id, service_id, name, source_system, perms, enabled, client_secret_hash, client_secret_set_at, " \
    "created_at, created_by, updated_at, version"

static void su_row(sqlite3_stmt *q, void *item)
{
    struct kw_service_user *u = item;

    memset(u, 0, sizeof(*u));
    u->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, u->id, sizeof(u->id));
    kw_sq_text(q, 2, u->service_id, sizeof(u->service_id));
    kw_sq_text(q, 3, u->name, sizeof(u->name));
    kw_sq_text(q, 4, u->source_system, sizeof(u->source_system));
    u->perms = (uint32_t)sqlite3_column_int64(q, 5);
    u->enabled = sqlite3_column_int(q, 6);
    if (sqlite3_column_bytes(q, 7) == KW_HASH_LEN)
        memcpy(u->client_secret_hash, sqlite3_column_blob(q, 7), KW_HASH_LEN);
    u->client_secret_set_at = sqlite3_column_int64(q, 8);
    u->created_at = sqlite3_column_int64(q, 9);
    kw_sq_text(q, 10, u->created_by, sizeof(u->created_by));
    u->updated_at = sqlite3_column_int64(q, 11);
    u->version = sqlite3_column_int64(q, 12);
}

enum kw_err kw_sq_service_user_insert(struct kw_tx *tx, struct kw_service_user *u)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SU_INSERT,
                                  "INSERT INTO service_users(id, service_id, name, source_system, perms, enabled, "
                                  "client_secret_hash, client_secret_set_at, created_at, created_by, updated_at, "
                                  "version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, u->id);
    KW_SQ_FIELD(q, 2, u->service_id);
    KW_SQ_FIELD(q, 3, u->name);
    KW_SQ_FIELD(q, 4, u->source_system);
    sqlite3_bind_int64(q, 5, u->perms);
    sqlite3_bind_int(q, 6, u->enabled);
    sqlite3_bind_blob(q, 7, u->client_secret_hash, KW_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, u->client_secret_set_at);
    sqlite3_bind_int64(q, 9, u->created_at);
    KW_SQ_FIELD(q, 10, u->created_by);
    sqlite3_bind_int64(q, 11, u->updated_at);
    sqlite3_bind_int64(q, 12, u->version);
    err = kw_sq_done(SQ(tx->st), q, "service_user_insert");
    if (err == KW_OK)
        u->seq = sqlite3_last_insert_rowid(SQ(tx->st)->db);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_service_user_get(struct kw_tx *tx, const char *id, struct kw_service_user *out)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SU_GET, "SELECT " SU_COLS " FROM service_users WHERE id = ?");
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        su_row(q, out);
    else
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(SQ(tx->st), "service_user_get", rc);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_service_user_list(struct kw_tx *tx, const char *service_id, int64_t after,
                                    struct kw_service_user *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SU_LIST,
                                  "SELECT " SU_COLS " FROM service_users WHERE service_id = ? AND seq > ? "
                                  "ORDER BY seq LIMIT ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id);
    sqlite3_bind_int64(q, 2, after);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(tx->st), q, su_row, items, sizeof(*items), cap, n, "service_user_list");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_service_user_update(struct kw_tx *tx, const struct kw_service_user *u)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SU_UPDATE,
                                  "UPDATE service_users SET name = ?, perms = ?, enabled = ?, client_secret_hash = ?, "
                                  "client_secret_set_at = ?, updated_at = ?, version = ? WHERE id = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, u->name);
    sqlite3_bind_int64(q, 2, u->perms);
    sqlite3_bind_int(q, 3, u->enabled);
    sqlite3_bind_blob(q, 4, u->client_secret_hash, KW_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, u->client_secret_set_at);
    sqlite3_bind_int64(q, 6, u->updated_at);
    sqlite3_bind_int64(q, 7, u->version);
    KW_SQ_FIELD(q, 8, u->id);
    err = kw_sq_done(SQ(tx->st), q, "service_user_update");
    if (err == KW_OK && sqlite3_changes(SQ(tx->st)->db) == 0)
        err = KW_ERR_NOT_FOUND;
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_service_user_delete(struct kw_tx *tx, const char *id)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SU_DELETE, "DELETE FROM service_users WHERE id = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    err = kw_sq_done(SQ(tx->st), q, "service_user_delete");
    if (err == KW_OK && sqlite3_changes(SQ(tx->st)->db) == 0)
        err = KW_ERR_NOT_FOUND;
    kw_sq_end(SQ(tx->st), q);
    return err;
}

/* ---- keys rows of the machine kinds ---- */

enum kw_err kw_sq_key_list_kind(struct kw_tx *tx, const char *service_id, const char *service_user_id,
                                const char *kind, int64_t after, struct kw_key *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q = service_user_id == NULL
                          ? kw_sq_begin(SQ(tx->st), SQ_KEY_LIST_KIND,
                                        "SELECT " KW_SQ_KEY_COLS " FROM keys WHERE service_id = ?1 AND kind = ?2 "
                                        "AND seq > ?3 ORDER BY seq LIMIT ?4")
                          : kw_sq_begin(SQ(tx->st), SQ_KEY_LIST_OWNER,
                                        "SELECT " KW_SQ_KEY_COLS " FROM keys WHERE service_id = ?1 AND kind = ?2 "
                                        "AND seq > ?3 AND service_user_id = ?5 ORDER BY seq LIMIT ?4");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id);
    TEXT(q, 2, kind);
    sqlite3_bind_int64(q, 3, after);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)cap);
    if (service_user_id != NULL)
        TEXT(q, 5, service_user_id);
    err = kw_sq_collect(SQ(tx->st), q, kw_sq_key_row, items, sizeof(*items), cap, n, "key_list_kind");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_key_get_hash(struct kw_tx *tx, const uint8_t hash[KW_HASH_LEN], struct kw_key *out)
{
    sqlite3_stmt *q =
        kw_sq_begin(SQ(tx->st), SQ_KEY_GET_HASH, "SELECT " KW_SQ_KEY_COLS " FROM keys WHERE hash = ?");
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_blob(q, 1, hash, KW_HASH_LEN, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        kw_sq_key_row(q, out);
    else
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(SQ(tx->st), "key_get_hash", rc);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

#define OWNED "service_user_id = ? AND service_user_id <> '' AND kind IN ('token', 'access_key', 'client_secret')"

enum kw_err kw_sq_key_set_owner_enabled(struct kw_tx *tx, const char *service_user_id, int enabled,
                                        int64_t version, int64_t now_ms, int64_t *changed)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_OWNER_ENABLED,
                                  "UPDATE keys SET owner_enabled = ?, version = ?, updated_at = ? WHERE " OWNED);
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int(q, 1, enabled ? 1 : 0);
    sqlite3_bind_int64(q, 2, version);
    sqlite3_bind_int64(q, 3, now_ms);
    TEXT(q, 4, service_user_id);
    err = kw_sq_done(SQ(tx->st), q, "key_set_owner_enabled");
    if (err == KW_OK && changed != NULL)
        *changed = sqlite3_changes(SQ(tx->st)->db);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_key_delete_owner(struct kw_tx *tx, const char *service_user_id, int64_t version)
{
    enum kw_err err = kw_sq_atomic_begin(SQ(tx->st));
    sqlite3_stmt *q;

    if (err != KW_OK)
        return err;
    err = kw_sq_key_tombstone(tx, SQ_KEY_TOMB_OWNER, KW_SQ_TOMB_INSERT "WHERE " OWNED, service_user_id, version);
    if (err == KW_OK) {
        q = kw_sq_begin(SQ(tx->st), SQ_KEY_DELETE_OWNER, "DELETE FROM keys WHERE " OWNED);
        if (q == NULL) {
            err = KW_ERR_STORE;
        } else {
            TEXT(q, 1, service_user_id);
            err = kw_sq_done(SQ(tx->st), q, "key_delete_owner");
            kw_sq_end(SQ(tx->st), q);
        }
    }
    return kw_sq_atomic_end(SQ(tx->st), err);
}
