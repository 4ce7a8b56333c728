/* postgres_rows.c - meta, version counter, services, keys and usage rows for the PostgreSQL backend.
 * The same statements as sqlite_rows.c in PostgreSQL's dialect; reads by key in a write transaction
 * are FOR UPDATE (postgres.c explains why). */
#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "store/postgres_internal.h"

enum kw_err kw_pg_meta_get(struct kw_tx *tx, const char *name, char *out, size_t cap)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, name);
    res = kw_pg_exec(tx, "SELECT value FROM meta WHERE name = $1", &p, "meta_get", &err);
    if (res == NULL)
        return err;
    if (PQntuples(res) == 0)
        err = KW_ERR_NOT_FOUND;
    else if ((size_t)PQgetlength(res, 0, 0) >= cap)
        err = KW_ERR_TOO_LARGE;
    else
        kw_pg_get_text(res, 0, 0, out, cap);
    PQclear(res);
    return err;
}

enum kw_err kw_pg_meta_set(struct kw_tx *tx, const char *name, const char *value)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, name);
    kw_pg_text(&p, value);
    return kw_pg_run(tx,
                     "INSERT INTO meta(name, value) VALUES ($1, $2) "
                     "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                     &p, "meta_set", NULL);
}

/* One counter row, updated in the writer's transaction: its row lock serialises credential writers
 * across every node until commit, so versions commit in number order and "changed since V" never
 * misses a change that commits later with a smaller number (a sequence could). Admin writes only. */
enum kw_err kw_pg_version_next(struct kw_tx *tx, int64_t *version)
{
    enum kw_err err;
    PGresult *res =
        kw_pg_exec(tx, "UPDATE counters SET value = value + 1 WHERE name = 'cred_version' RETURNING value",
                   NULL, "version_next", &err);

    if (res == NULL)
        return err;
    if (PQntuples(res) == 1)
        *version = kw_pg_get_int(res, 0, 0);
    else
        err = KW_ERR_STORE;
    PQclear(res);
    /* Delivered to every listening node when (and only if) this transaction commits. */
    if (err == KW_OK) {
        struct kw_pg_params p = {0};
        kw_pg_int(&p, *version);
        err = kw_pg_run(tx, "SELECT pg_notify('" KW_PG_CHANNEL "', $1::text)", &p, "notify", NULL);
    }
    return err;
}

enum kw_err kw_pg_version_current(struct kw_tx *tx, int64_t *version)
{
    enum kw_err err;
    PGresult *res = kw_pg_exec(tx, "SELECT value FROM counters WHERE name = 'cred_version'", NULL,
                               "version_current", &err);

    if (res == NULL)
        return err;
    if (PQntuples(res) == 1)
        *version = kw_pg_get_int(res, 0, 0);
    else
        err = KW_ERR_INTERNAL;
    PQclear(res);
    return err;
}

/* ---- services ---- */

#define SVC_COLS "seq, id, name, description, key_prefix, created_at, updated_at"

void kw_pg_service_row(const PGresult *res, int r, void *item)
{
    struct kw_service *s = item;

    memset(s, 0, sizeof(*s));
    s->seq = kw_pg_get_int(res, r, 0);
    kw_pg_get_text(res, r, 1, s->id, sizeof(s->id));
    kw_pg_get_text(res, r, 2, s->name, sizeof(s->name));
    kw_pg_get_text(res, r, 3, s->description, sizeof(s->description));
    kw_pg_get_text(res, r, 4, s->key_prefix, sizeof(s->key_prefix));
    s->created_at = kw_pg_get_int(res, r, 5);
    s->updated_at = kw_pg_get_int(res, r, 6);
}

enum kw_err kw_pg_service_insert(struct kw_tx *tx, struct kw_service *svc)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, svc->id);
    KW_PG_FIELD(&p, svc->name);
    KW_PG_FIELD(&p, svc->description);
    KW_PG_FIELD(&p, svc->key_prefix);
    kw_pg_int(&p, svc->created_at);
    kw_pg_int(&p, svc->updated_at);
    return kw_pg_insert_seq(tx,
                            "INSERT INTO services(id, name, description, key_prefix, created_at, updated_at) "
                            "VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
                            &p, "service_insert", &svc->seq);
}

enum kw_err kw_pg_service_get(struct kw_tx *tx, const char *id, struct kw_service *out)
{
    struct kw_pg_params p = {0};
    char sql[128];
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, id);
    snprintf(sql, sizeof(sql), "SELECT " SVC_COLS " FROM services WHERE id = $1%s", kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, &p, "service_get", &err);
    return res == NULL ? err : kw_pg_one(res, kw_pg_service_row, out);
}

enum kw_err kw_pg_service_list(struct kw_tx *tx, int64_t after, struct kw_service *items, size_t cap,
                               size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    kw_pg_int(&p, after);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx, "SELECT " SVC_COLS " FROM services WHERE seq > $1 ORDER BY seq LIMIT $2", &p,
                     "service_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, kw_pg_service_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_service_update(struct kw_tx *tx, const struct kw_service *svc)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    KW_PG_FIELD(&p, svc->name);
    KW_PG_FIELD(&p, svc->description);
    KW_PG_FIELD(&p, svc->key_prefix);
    kw_pg_int(&p, svc->updated_at);
    KW_PG_FIELD(&p, svc->id);
    err = kw_pg_run(
        tx, "UPDATE services SET name = $1, description = $2, key_prefix = $3, updated_at = $4 WHERE id = $5",
        &p, "service_update", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

/* DELETE ... WHERE <col> = $1 */
static enum kw_err delete_by(struct kw_tx *tx, const char *sql, const char *id, int64_t *changed)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, id);
    return kw_pg_run(tx, sql, &p, "delete", changed);
}

#define TOMB_INSERT KW_PG_TOMB_INSERT
#define TOMB_REPLACE KW_PG_TOMB_REPLACE

/* Copies the keys matching `where` ($3) into key_tombstones with version. */
enum kw_err kw_pg_key_tombstone(struct kw_tx *tx, const char *sql, const char *param, int64_t version)
{
    struct kw_pg_params p = {0};

    kw_pg_int(&p, version);
    kw_pg_int(&p, kw_time_now_ms());
    kw_pg_text(&p, param);
    return kw_pg_run(tx, sql, &p, "key_tombstone", NULL);
}

/* Dependents first, all in one savepoint: atomic, and a NOT_FOUND leaves the transaction usable. */
enum kw_err kw_pg_service_delete(struct kw_tx *tx, const char *id, int64_t version)
{
    enum kw_err err = kw_pg_atomic_begin(tx);
    int64_t changed = 0;

    if (err != KW_OK)
        return err;
    err = kw_pg_key_tombstone(tx, TOMB_INSERT "WHERE service_id = $3" TOMB_REPLACE, id, version);
    if (err == KW_OK)
        err = delete_by(tx, "DELETE FROM usage WHERE service_id = $1", id, NULL);
    if (err == KW_OK)
        err = delete_by(tx, "DELETE FROM keys WHERE service_id = $1", id, NULL);
    if (err == KW_OK)
        err = delete_by(tx, "DELETE FROM service_users WHERE service_id = $1", id, NULL);
    if (err == KW_OK)
        err = delete_by(tx, "DELETE FROM services WHERE id = $1", id, &changed);
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return kw_pg_atomic_end(tx, err);
}

/* Reads a single count(*) into *count. */
static enum kw_err count_one(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                             int64_t *count)
{
    enum kw_err err;
    PGresult *res = kw_pg_exec(tx, sql, p, op, &err);

    if (res == NULL)
        return err;
    *count = PQntuples(res) == 1 ? kw_pg_get_int(res, 0, 0) : 0;
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_service_live_keys(struct kw_tx *tx, const char *id, int64_t now_ms, int64_t *count)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, id);
    kw_pg_int(&p, now_ms);
    return count_one(tx,
                     "SELECT count(*) FROM keys WHERE service_id = $1 AND revoked_at = 0 "
                     "AND kind <> 'ban' AND (expires_at = 0 OR expires_at > $2)",
                     &p, "service_live_keys", count);
}

/* ---- keys ---- */

#define KEY_COLS KW_PG_KEY_COLS

void kw_pg_key_row(const PGresult *res, int r, void *item)
{
    struct kw_key *k = item;

    memset(k, 0, sizeof(*k));
    k->seq = kw_pg_get_int(res, r, 0);
    kw_pg_get_text(res, r, 1, k->id, sizeof(k->id));
    kw_pg_get_text(res, r, 2, k->service_id, sizeof(k->service_id));
    kw_pg_get_blob(res, r, 3, k->hash, KW_HASH_LEN);
    kw_pg_get_text(res, r, 4, k->start, sizeof(k->start));
    kw_pg_get_text(res, r, 5, k->description, sizeof(k->description));
    k->scope = (int)kw_pg_get_int(res, r, 6);
    k->perms = (uint32_t)kw_pg_get_int(res, r, 7);
    k->enabled = (int)kw_pg_get_int(res, r, 8);
    k->created_at = kw_pg_get_int(res, r, 9);
    kw_pg_get_text(res, r, 10, k->created_by, sizeof(k->created_by));
    k->updated_at = kw_pg_get_int(res, r, 11);
    k->expires_at = kw_pg_get_int(res, r, 12);
    k->revoked_at = kw_pg_get_int(res, r, 13);
    k->archive_after_extract_s = kw_pg_get_int(res, r, 14);
    k->last_used_at = kw_pg_get_int(res, r, 15);
    kw_pg_get_text(res, r, 16, k->last_used_ip, sizeof(k->last_used_ip));
    kw_pg_get_text(res, r, 17, k->rolled_from, sizeof(k->rolled_from));
    k->version = kw_pg_get_int(res, r, 18);
    kw_pg_get_text(res, r, 19, k->rolled_to, sizeof(k->rolled_to));
    kw_pg_get_text(res, r, 20, k->kind, sizeof(k->kind));
    kw_pg_get_text(res, r, 21, k->service_user_id, sizeof(k->service_user_id));
    k->owner_enabled = (int)kw_pg_get_int(res, r, 22);
    k->sealed_len = kw_pg_get_bytes(res, r, 23, k->sealed, sizeof(k->sealed));
    k->require_encryption = (int)kw_pg_get_int(res, r, 24);
}

enum kw_err kw_pg_key_insert(struct kw_tx *tx, struct kw_key *k)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, k->id);
    KW_PG_FIELD(&p, k->service_id);
    kw_pg_blob(&p, k->hash, KW_HASH_LEN);
    KW_PG_FIELD(&p, k->start);
    KW_PG_FIELD(&p, k->description);
    kw_pg_int(&p, k->scope);
    kw_pg_int(&p, k->perms);
    kw_pg_int(&p, k->enabled);
    kw_pg_int(&p, k->created_at);
    KW_PG_FIELD(&p, k->created_by);
    kw_pg_int(&p, k->updated_at);
    kw_pg_int(&p, k->expires_at);
    kw_pg_int(&p, k->revoked_at);
    kw_pg_int(&p, k->archive_after_extract_s);
    kw_pg_int(&p, k->last_used_at);
    KW_PG_FIELD(&p, k->last_used_ip);
    KW_PG_FIELD(&p, k->rolled_from);
    kw_pg_int(&p, k->version);
    KW_PG_FIELD(&p, k->rolled_to);
    kw_pg_text(&p, k->kind[0] ? k->kind : "api_key");
    KW_PG_FIELD(&p, k->service_user_id);
    kw_pg_int(&p, k->owner_enabled);
    kw_pg_sealed(&p, k);
    kw_pg_int(&p, k->require_encryption);
    return kw_pg_insert_seq(
        tx,
        "INSERT INTO keys(id, service_id, hash, start, description, scope, perms, enabled, created_at, "
        "created_by, updated_at, expires_at, revoked_at, archive_after_extract_s, last_used_at, "
        "last_used_ip, rolled_from, version, rolled_to, kind, service_user_id, owner_enabled, sealed, "
        "require_encryption) VALUES "
        "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24) RETURNING seq",
        &p, "key_insert", &k->seq);
}

enum kw_err kw_pg_key_get(struct kw_tx *tx, const char *id, struct kw_key *out)
{
    struct kw_pg_params p = {0};
    char sql[512];
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, id);
    snprintf(sql, sizeof(sql), "SELECT " KEY_COLS " FROM keys WHERE id = $1%s", kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, &p, "key_get", &err);
    return res == NULL ? err : kw_pg_one(res, kw_pg_key_row, out);
}

enum kw_err kw_pg_key_list(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_key *items,
                           size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, service_id);
    kw_pg_int(&p, after);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx,
                     "SELECT " KEY_COLS " FROM keys WHERE service_id = $1 AND seq > $2 AND kind = 'api_key' "
                     "ORDER BY seq LIMIT $3",
                     &p, "key_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, kw_pg_key_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_key_update(struct kw_tx *tx, const struct kw_key *k)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    KW_PG_FIELD(&p, k->description);
    kw_pg_int(&p, k->scope);
    kw_pg_int(&p, k->perms);
    kw_pg_int(&p, k->enabled);
    kw_pg_int(&p, k->updated_at);
    kw_pg_int(&p, k->expires_at);
    kw_pg_int(&p, k->revoked_at);
    kw_pg_int(&p, k->archive_after_extract_s);
    kw_pg_int(&p, k->version);
    KW_PG_FIELD(&p, k->rolled_to);
    kw_pg_int(&p, k->owner_enabled);
    kw_pg_sealed(&p, k);
    kw_pg_int(&p, k->require_encryption);
    KW_PG_FIELD(&p, k->id);
    err = kw_pg_run_sp(
        tx,
        "UPDATE keys SET description = $1, scope = $2, perms = $3, enabled = $4, updated_at = $5, "
        "expires_at = $6, revoked_at = $7, archive_after_extract_s = $8, version = $9, rolled_to = $10, "
        "owner_enabled = $11, sealed = $12, require_encryption = $13 WHERE id = $14",
        &p, "key_update", &changed);
    return err == KW_OK && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

enum kw_err kw_pg_key_delete(struct kw_tx *tx, const char *id, int64_t version)
{
    enum kw_err err = kw_pg_atomic_begin(tx);
    int64_t changed = 0;

    if (err != KW_OK)
        return err;
    err = kw_pg_key_tombstone(tx, TOMB_INSERT "WHERE id = $3" TOMB_REPLACE, id, version);
    if (err == KW_OK)
        err = delete_by(tx, "DELETE FROM keys WHERE id = $1", id, &changed);
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return kw_pg_atomic_end(tx, err);
}

static void tomb_row(const PGresult *res, int r, void *item)
{
    struct kw_key *out = item;

    memset(out, 0, sizeof(*out));
    kw_pg_get_text(res, r, 0, out->id, sizeof(out->id));
    kw_pg_get_text(res, r, 1, out->service_id, sizeof(out->service_id));
    kw_pg_get_blob(res, r, 2, out->hash, KW_HASH_LEN);
    kw_pg_get_text(res, r, 3, out->start, sizeof(out->start));
    kw_pg_get_text(res, r, 4, out->description, sizeof(out->description));
    out->created_at = kw_pg_get_int(res, r, 5);
    out->version = kw_pg_get_int(res, r, 6);
    kw_pg_get_text(res, r, 7, out->kind, sizeof(out->kind));
    kw_pg_get_text(res, r, 8, out->service_user_id, sizeof(out->service_user_id));
}

enum kw_err kw_pg_key_tombstone_get(struct kw_tx *tx, const char *id, struct kw_key *out)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    kw_pg_text(&p, id);
    res =
        kw_pg_exec(tx,
                   "SELECT id, service_id, hash, start, description, created_at, version, kind, service_user_id "
                   "FROM key_tombstones WHERE id = $1",
                   &p, "key_tombstone_get", &err);
    return res == NULL ? err : kw_pg_one(res, tomb_row, out);
}

struct key_walk {
    kw_store_key_cb cb;
    void *ctx;
};

static int key_each_row(void *ctx, const PGresult *res)
{
    struct key_walk *w = ctx;
    struct kw_key k;

    kw_pg_key_row(res, 0, &k);
    return w->cb(w->ctx, &k);
}

enum kw_err kw_pg_key_each(struct kw_tx *tx, kw_store_key_cb cb, void *ctx)
{
    struct key_walk w = {cb, ctx};

    return kw_pg_each(tx, "SELECT " KEY_COLS " FROM keys ORDER BY seq", NULL, key_each_row, &w, "key_each");
}

struct change_walk {
    kw_store_change_cb cb;
    void *ctx;
};

static int change_row(void *ctx, const PGresult *res)
{
    struct change_walk *w = ctx;
    struct kw_key k;

    kw_pg_key_row(res, 0, &k);
    return w->cb(w->ctx, &k, (int)kw_pg_get_int(res, 0, 25));
}

/* Live rows and tombstones above since, merged by version (column 19); the deleted flag last. */
enum kw_err kw_pg_key_changes(struct kw_tx *tx, int64_t since, kw_store_change_cb cb, void *ctx)
{
    struct change_walk w = {cb, ctx};
    struct kw_pg_params p = {0};

    kw_pg_int(&p, since);
    return kw_pg_each(tx,
                      "SELECT " KEY_COLS ", 0 FROM keys WHERE version > $1 UNION ALL "
                      "SELECT 0, id, service_id, hash, start, description, 0, 0, 0, created_at, '', 0, 0, 0, -1, 0, "
                      "'', '', version, '', kind, service_user_id, 0, NULL::bytea, 0, 1 FROM key_tombstones "
                      "WHERE version > $1 ORDER BY 19",
                      &p, change_row, &w, "key_changes");
}

enum kw_err kw_pg_key_touch(struct kw_tx *tx, const char *id, int64_t at, const char *ip)
{
    struct kw_pg_params p = {0};

    kw_pg_int(&p, at);
    kw_pg_text(&p, ip ? ip : "");
    kw_pg_text(&p, id);
    return kw_pg_run(
        tx,
        "UPDATE keys SET last_used_ip = CASE WHEN $1::bigint >= last_used_at THEN $2 ELSE last_used_ip END, "
        "last_used_at = GREATEST(last_used_at, $1::bigint) WHERE id = $3",
        &p, "key_touch", NULL);
}

/* Adds on conflict, so usage written behind by several nodes sums up. */
enum kw_err kw_pg_usage_add(struct kw_tx *tx, const char *key_id, const char *service_id, int64_t minute_ms,
                            int64_t valid, int64_t denied)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, key_id);
    kw_pg_text(&p, service_id);
    kw_pg_int(&p, minute_ms);
    kw_pg_int(&p, valid);
    kw_pg_int(&p, denied);
    return kw_pg_run(
        tx,
        "INSERT INTO usage(key_id, service_id, minute, valid, denied) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (key_id, minute) DO UPDATE SET valid = usage.valid + excluded.valid, "
        "denied = usage.denied + excluded.denied",
        &p, "usage_add", NULL);
}
