/* sqlite_rows.c - meta, services, keys and usage rows for the SQLite backend. */
#include <string.h>

#include "core/timeutil.h"
#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)

enum kw_err kw_sq_meta_get(struct kw_tx *tx, const char *name, char *out, size_t cap)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_META_GET, "SELECT value FROM meta WHERE name = ?");
    enum kw_err err;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, name);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        if ((size_t)sqlite3_column_bytes(q, 0) >= cap) {
            err = KW_ERR_TOO_LARGE;
        } else {
            kw_sq_text(q, 0, out, cap);
            err = KW_OK;
        }
    } else {
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(SQ(tx->st), "meta_get", rc);
    }
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_meta_set(struct kw_tx *tx, const char *name, const char *value)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_META_SET,
                                  "INSERT INTO meta(name, value) VALUES (?, ?) "
                                  "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, name);
    TEXT(q, 2, value);
    err = kw_sq_done(SQ(tx->st), q, "meta_set");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

/* ---- services ---- */

#define SVC_COLS "seq, id, name, description, key_prefix, created_at, updated_at"

void kw_sq_service_row(sqlite3_stmt *q, void *item)
{
    struct kw_service *s = item;

    memset(s, 0, sizeof(*s));
    s->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, s->id, sizeof(s->id));
    kw_sq_text(q, 2, s->name, sizeof(s->name));
    kw_sq_text(q, 3, s->description, sizeof(s->description));
    kw_sq_text(q, 4, s->key_prefix, sizeof(s->key_prefix));
    s->created_at = sqlite3_column_int64(q, 5);
    s->updated_at = sqlite3_column_int64(q, 6);
}

enum kw_err kw_sq_service_insert(struct kw_tx *tx, struct kw_service *svc)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SVC_INSERT,
                                  "INSERT INTO services(id, name, description, key_prefix, created_at, updated_at) "
                                  "VALUES (?, ?, ?, ?, ?, ?)");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, svc->id);
    KW_SQ_FIELD(q, 2, svc->name);
    KW_SQ_FIELD(q, 3, svc->description);
    KW_SQ_FIELD(q, 4, svc->key_prefix);
    sqlite3_bind_int64(q, 5, svc->created_at);
    sqlite3_bind_int64(q, 6, svc->updated_at);
    err = kw_sq_done(SQ(tx->st), q, "service_insert");
    if (err == KW_OK)
        svc->seq = sqlite3_last_insert_rowid(SQ(tx->st)->db);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_service_get(struct kw_tx *tx, const char *id, struct kw_service *out)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SVC_GET, "SELECT " SVC_COLS " FROM services WHERE id = ?");
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        kw_sq_service_row(q, out);
    else
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(SQ(tx->st), "service_get", rc);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_service_list(struct kw_tx *tx, int64_t after, struct kw_service *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SVC_LIST,
                                  "SELECT " SVC_COLS " FROM services WHERE seq > ? ORDER BY seq LIMIT ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, after);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(tx->st), q, kw_sq_service_row, items, sizeof(*items), cap, n, "service_list");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_service_update(struct kw_tx *tx, const struct kw_service *svc)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SVC_UPDATE,
                                  "UPDATE services SET name = ?, description = ?, key_prefix = ?, updated_at = ? "
                                  "WHERE id = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, svc->name);
    KW_SQ_FIELD(q, 2, svc->description);
    KW_SQ_FIELD(q, 3, svc->key_prefix);
    sqlite3_bind_int64(q, 4, svc->updated_at);
    KW_SQ_FIELD(q, 5, svc->id);
    err = kw_sq_done(SQ(tx->st), q, "service_update");
    if (err == KW_OK && sqlite3_changes(SQ(tx->st)->db) == 0)
        err = KW_ERR_NOT_FOUND;
    kw_sq_end(SQ(tx->st), q);
    return err;
}

/* Runs one "DELETE ... WHERE <col> = id" statement from its slot. */
static enum kw_err delete_by(struct kw_tx *tx, enum kw_sq_stmt slot, const char *sql, const char *id, int *changed)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), slot, sql);
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    err = kw_sq_done(SQ(tx->st), q, "delete");
    if (changed != NULL)
        *changed = sqlite3_changes(SQ(tx->st)->db);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

/* Dependents first, all in one SAVEPOINT: atomic whether or not the caller has a transaction open. */
#define TOMB_INSERT KW_SQ_TOMB_INSERT

enum kw_err kw_sq_service_delete(struct kw_tx *tx, const char *id, int64_t version)
{
    enum kw_err err = kw_sq_atomic_begin(SQ(tx->st));
    int changed = 0;

    if (err != KW_OK)
        return err;
    err = kw_sq_key_tombstone(tx, SQ_KEY_TOMB_SVC, TOMB_INSERT "WHERE service_id = ?", id, version);
    if (err == KW_OK)
        err = delete_by(tx, SQ_USAGE_DELETE_SVC, "DELETE FROM usage WHERE service_id = ?", id, NULL);
    if (err == KW_OK)
        err = delete_by(tx, SQ_KEY_DELETE_SVC, "DELETE FROM keys WHERE service_id = ?", id, NULL);
    if (err == KW_OK)
        err = delete_by(tx, SQ_SU_DELETE_SVC, "DELETE FROM service_users WHERE service_id = ?", id, NULL);
    if (err == KW_OK)
        err = delete_by(tx, SQ_SVC_DELETE, "DELETE FROM services WHERE id = ?", id, &changed);
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return kw_sq_atomic_end(SQ(tx->st), err);
}

enum kw_err kw_sq_service_live_keys(struct kw_tx *tx, const char *id, int64_t now_ms, int64_t *count)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SVC_LIVE,
                                  "SELECT count(*) FROM keys WHERE service_id = ? AND revoked_at = 0 AND kind <> 'ban' "
                                  "AND (expires_at = 0 OR expires_at > ?)");

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    sqlite3_bind_int64(q, 2, now_ms);
    return kw_sq_scalar(SQ(tx->st), q, count, "service_live_keys");
}

/* ---- keys ---- */

#define KEY_COLS KW_SQ_KEY_COLS

/* Reads the KEY_COLS columns starting at column c0. */
void kw_sq_key_row_at(sqlite3_stmt *q, int c0, struct kw_key *k)
{
    int n;
#define C(i) ((i) + c0)
    memset(k, 0, sizeof(*k));
    k->seq = sqlite3_column_int64(q, C(0));
    kw_sq_text(q, C(1), k->id, sizeof(k->id));
    kw_sq_text(q, C(2), k->service_id, sizeof(k->service_id));
    if (sqlite3_column_bytes(q, C(3)) == KW_HASH_LEN)
        memcpy(k->hash, sqlite3_column_blob(q, C(3)), KW_HASH_LEN);
    kw_sq_text(q, C(4), k->start, sizeof(k->start));
    kw_sq_text(q, C(5), k->description, sizeof(k->description));
    k->scope = sqlite3_column_int(q, C(6));
    k->perms = (uint32_t)sqlite3_column_int64(q, C(7));
    k->enabled = sqlite3_column_int(q, C(8));
    k->created_at = sqlite3_column_int64(q, C(9));
    kw_sq_text(q, C(10), k->created_by, sizeof(k->created_by));
    k->updated_at = sqlite3_column_int64(q, C(11));
    k->expires_at = sqlite3_column_int64(q, C(12));
    k->revoked_at = sqlite3_column_int64(q, C(13));
    k->archive_after_extract_s = sqlite3_column_int64(q, C(14));
    k->last_used_at = sqlite3_column_int64(q, C(15));
    kw_sq_text(q, C(16), k->last_used_ip, sizeof(k->last_used_ip));
    kw_sq_text(q, C(17), k->rolled_from, sizeof(k->rolled_from));
    k->version = sqlite3_column_int64(q, C(18));
    kw_sq_text(q, C(19), k->rolled_to, sizeof(k->rolled_to));
    kw_sq_text(q, C(20), k->kind, sizeof(k->kind));
    kw_sq_text(q, C(21), k->service_user_id, sizeof(k->service_user_id));
    k->owner_enabled = sqlite3_column_int(q, C(22));
    n = sqlite3_column_bytes(q, C(23));
    if (n > 0 && (size_t)n <= sizeof(k->sealed)) {
        memcpy(k->sealed, sqlite3_column_blob(q, C(23)), (size_t)n);
        k->sealed_len = (size_t)n;
    }
    k->require_encryption = sqlite3_column_int(q, C(24));
#undef C
}

void kw_sq_key_row(sqlite3_stmt *q, void *item)
{
    kw_sq_key_row_at(q, 0, item);
}

/* NULL for every kind but an access key (migration 0005). */
static void bind_sealed(sqlite3_stmt *q, int i, const struct kw_key *k)
{
    if (k->sealed_len > 0 && k->sealed_len <= sizeof(k->sealed))
        sqlite3_bind_blob(q, i, k->sealed, (int)k->sealed_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

enum kw_err kw_sq_key_insert(struct kw_tx *tx, struct kw_key *k)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_INSERT,
                                  "INSERT INTO keys(id, service_id, hash, start, description, scope, perms, enabled, "
                                  "created_at, created_by, updated_at, expires_at, revoked_at, "
                                  "archive_after_extract_s, last_used_at, last_used_ip, rolled_from, version, "
                                  "rolled_to, kind, service_user_id, owner_enabled, sealed, require_encryption) "
                                  "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, k->id);
    KW_SQ_FIELD(q, 2, k->service_id);
    sqlite3_bind_blob(q, 3, k->hash, KW_HASH_LEN, SQLITE_STATIC);
    KW_SQ_FIELD(q, 4, k->start);
    KW_SQ_FIELD(q, 5, k->description);
    sqlite3_bind_int(q, 6, k->scope);
    sqlite3_bind_int64(q, 7, k->perms);
    sqlite3_bind_int(q, 8, k->enabled);
    sqlite3_bind_int64(q, 9, k->created_at);
    KW_SQ_FIELD(q, 10, k->created_by);
    sqlite3_bind_int64(q, 11, k->updated_at);
    sqlite3_bind_int64(q, 12, k->expires_at);
    sqlite3_bind_int64(q, 13, k->revoked_at);
    sqlite3_bind_int64(q, 14, k->archive_after_extract_s);
    sqlite3_bind_int64(q, 15, k->last_used_at);
    KW_SQ_FIELD(q, 16, k->last_used_ip);
    KW_SQ_FIELD(q, 17, k->rolled_from);
    sqlite3_bind_int64(q, 18, k->version);
    KW_SQ_FIELD(q, 19, k->rolled_to);
    sqlite3_bind_text(q, 20, k->kind[0] ? k->kind : "api_key", (int)strnlen(k->kind[0] ? k->kind : "api_key",
                      sizeof(k->kind)), SQLITE_STATIC);
    KW_SQ_FIELD(q, 21, k->service_user_id);
    sqlite3_bind_int(q, 22, k->owner_enabled);
    bind_sealed(q, 23, k);
    sqlite3_bind_int(q, 24, k->require_encryption);
    err = kw_sq_done(SQ(tx->st), q, "key_insert");
    if (err == KW_OK)
        k->seq = sqlite3_last_insert_rowid(SQ(tx->st)->db);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_key_get(struct kw_tx *tx, const char *id, struct kw_key *out)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_GET, "SELECT " KEY_COLS " FROM keys WHERE id = ?");
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        kw_sq_key_row(q, out);
    else
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(SQ(tx->st), "key_get", rc);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_key_list(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_key *items,
                           size_t cap, size_t *n)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_LIST,
                                  "SELECT " KEY_COLS " FROM keys WHERE service_id = ? AND seq > ? "
                                  "AND kind = 'api_key' ORDER BY seq LIMIT ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id);
    sqlite3_bind_int64(q, 2, after);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(tx->st), q, kw_sq_key_row, items, sizeof(*items), cap, n, "key_list");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_key_update(struct kw_tx *tx, const struct kw_key *k)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_UPDATE,
                                  "UPDATE keys SET description = ?, scope = ?, perms = ?, enabled = ?, updated_at = ?, "
                                  "expires_at = ?, revoked_at = ?, archive_after_extract_s = ?, version = ?, "
                                  "rolled_to = ?, owner_enabled = ?, sealed = ?, require_encryption = ? WHERE id = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, k->description);
    sqlite3_bind_int(q, 2, k->scope);
    sqlite3_bind_int64(q, 3, k->perms);
    sqlite3_bind_int(q, 4, k->enabled);
    sqlite3_bind_int64(q, 5, k->updated_at);
    sqlite3_bind_int64(q, 6, k->expires_at);
    sqlite3_bind_int64(q, 7, k->revoked_at);
    sqlite3_bind_int64(q, 8, k->archive_after_extract_s);
    sqlite3_bind_int64(q, 9, k->version);
    KW_SQ_FIELD(q, 10, k->rolled_to);
    sqlite3_bind_int(q, 11, k->owner_enabled);
    bind_sealed(q, 12, k);
    sqlite3_bind_int(q, 13, k->require_encryption);
    KW_SQ_FIELD(q, 14, k->id);
    err = kw_sq_done(SQ(tx->st), q, "key_update");
    if (err == KW_OK && sqlite3_changes(SQ(tx->st)->db) == 0)
        err = KW_ERR_NOT_FOUND;
    kw_sq_end(SQ(tx->st), q);
    return err;
}

/* Copies the keys matching `where` (one text parameter) into key_tombstones with version. */
enum kw_err kw_sq_key_tombstone(struct kw_tx *tx, enum kw_sq_stmt slot, const char *sql, const char *param,
                                int64_t version)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), slot, sql);
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, version);
    sqlite3_bind_int64(q, 2, kw_time_now_ms());
    TEXT(q, 3, param);
    err = kw_sq_done(SQ(tx->st), q, "key_tombstone");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_key_delete(struct kw_tx *tx, const char *id, int64_t version)
{
    int changed = 0;
    enum kw_err err = kw_sq_atomic_begin(SQ(tx->st));

    if (err != KW_OK)
        return err;
    err = kw_sq_key_tombstone(tx, SQ_KEY_TOMB, TOMB_INSERT "WHERE id = ?", id, version);
    if (err == KW_OK)
        err = delete_by(tx, SQ_KEY_DELETE, "DELETE FROM keys WHERE id = ?", id, &changed);
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return kw_sq_atomic_end(SQ(tx->st), err);
}

enum kw_err kw_sq_key_tombstone_get(struct kw_tx *tx, const char *id, struct kw_key *out)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_TOMB_GET,
                                  "SELECT id, service_id, hash, start, description, created_at, version, kind, "
                                  "service_user_id FROM key_tombstones WHERE id = ?");
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        kw_sq_text(q, 0, out->id, sizeof(out->id));
        kw_sq_text(q, 1, out->service_id, sizeof(out->service_id));
        if (sqlite3_column_bytes(q, 2) == KW_HASH_LEN)
            memcpy(out->hash, sqlite3_column_blob(q, 2), KW_HASH_LEN);
        kw_sq_text(q, 3, out->start, sizeof(out->start));
        kw_sq_text(q, 4, out->description, sizeof(out->description));
        out->created_at = sqlite3_column_int64(q, 5);
        out->version = sqlite3_column_int64(q, 6);
        kw_sq_text(q, 7, out->kind, sizeof(out->kind));
        kw_sq_text(q, 8, out->service_user_id, sizeof(out->service_user_id));
    } else {
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(SQ(tx->st), "key_tombstone_get", rc);
    }
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_version_current(struct kw_tx *tx, int64_t *version)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_VERSION_CURRENT,
                                  "SELECT value FROM counters WHERE name = 'cred_version'");
    enum kw_err err = q == NULL ? KW_ERR_STORE : kw_sq_scalar(SQ(tx->st), q, version, "version_current");

    return err == KW_ERR_NOT_FOUND ? KW_ERR_INTERNAL : err;
}

/* Rows above since from keys and from key_tombstones, merged by version. */
enum kw_err kw_sq_key_changes(struct kw_tx *tx, int64_t since, kw_store_change_cb cb, void *ctx)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_CHANGES,
                                  "SELECT 0, " KEY_COLS " FROM keys WHERE version > ?1 UNION ALL "
                                  "SELECT 1, 0, id, service_id, hash, start, description, 0, 0, 0, created_at, '', "
                                  "0, 0, 0, -1, 0, '', '', version, '', kind, service_user_id, 0, NULL, 0 FROM key_tombstones "
                                  "WHERE version > ?1 "
                                  "ORDER BY 20");
    struct kw_key k;
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, since);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        kw_sq_key_row_at(q, 1, &k);
        if (cb(ctx, &k, sqlite3_column_int(q, 0)) != 0) {
            err = KW_ERR_INTERNAL;
            break;
        }
    }
    if (err == KW_OK && rc != SQLITE_DONE)
        err = kw_sq_fail(SQ(tx->st), "key_changes", rc);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_version_next(struct kw_tx *tx, int64_t *version)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_VERSION_NEXT,
                                  "UPDATE counters SET value = value + 1 WHERE name = 'cred_version' RETURNING value");
    enum kw_err err = q == NULL ? KW_ERR_STORE : kw_sq_scalar(SQ(tx->st), q, version, "version_next");

    return err == KW_ERR_NOT_FOUND ? KW_ERR_INTERNAL : err;
}

enum kw_err kw_sq_key_each(struct kw_tx *tx, kw_store_key_cb cb, void *ctx)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_EACH, "SELECT " KEY_COLS " FROM keys ORDER BY seq");
    struct kw_key k;
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        kw_sq_key_row(q, &k);
        if (cb(ctx, &k) != 0) {
            err = KW_ERR_INTERNAL;
            break;
        }
    }
    if (err == KW_OK && rc != SQLITE_DONE)
        err = kw_sq_fail(SQ(tx->st), "key_each", rc);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_key_touch(struct kw_tx *tx, const char *id, int64_t at, const char *ip)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_KEY_TOUCH,
                                  "UPDATE keys SET last_used_ip = CASE WHEN ?1 >= last_used_at THEN ?2 ELSE last_used_ip END, "
                                  "last_used_at = max(last_used_at, ?1) WHERE id = ?3");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, at);
    TEXT(q, 2, ip ? ip : "");
    TEXT(q, 3, id);
    err = kw_sq_done(SQ(tx->st), q, "key_touch");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_usage_add(struct kw_tx *tx, const char *key_id, const char *service_id, int64_t minute_ms,
                            int64_t valid, int64_t denied)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_USAGE_ADD,
                                  "INSERT INTO usage(key_id, service_id, minute, valid, denied) VALUES (?,?,?,?,?) "
                                  "ON CONFLICT(key_id, minute) DO UPDATE SET valid = valid + excluded.valid, "
                                  "denied = denied + excluded.denied");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, key_id);
    TEXT(q, 2, service_id);
    sqlite3_bind_int64(q, 3, minute_ms);
    sqlite3_bind_int64(q, 4, valid);
    sqlite3_bind_int64(q, 5, denied);
    err = kw_sq_done(SQ(tx->st), q, "usage_add");
    kw_sq_end(SQ(tx->st), q);
    return err;
}
