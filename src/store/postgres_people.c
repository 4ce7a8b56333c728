/* postgres_people.c - users, sessions, memberships and usage reads for the PostgreSQL backend (the
 * statements of sqlite_people.c). */
#include <stdio.h>
#include <string.h>

#include "store/postgres_internal.h"

/* Runs a write; KW_ERR_NOT_FOUND when it changed no row and must_change. */
static enum kw_err write_row(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, int must_change,
                             const char *op)
{
    int64_t changed = 0;
    enum kw_err err = kw_pg_run(tx, sql, p, op, &changed);

    return err == KW_OK && must_change && changed == 0 ? KW_ERR_NOT_FOUND : err;
}

/* Runs a SELECT expected to return at most one row into out. */
static enum kw_err one_row(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, kw_pg_row_fn row,
                           void *out, const char *op)
{
    enum kw_err err;
    PGresult *res = kw_pg_exec(tx, sql, p, op, &err);

    return res == NULL ? err : kw_pg_one(res, row, out);
}

/* Runs a SELECT into up to cap items. */
static enum kw_err many_rows(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p,
                             kw_pg_row_fn row, void *items, size_t item_size, size_t cap, size_t *n,
                             const char *op)
{
    enum kw_err err;
    PGresult *res = kw_pg_exec(tx, sql, p, op, &err);

    if (res == NULL)
        return err;
    kw_pg_collect(res, row, items, item_size, cap, n);
    PQclear(res);
    return KW_OK;
}

/* ---- usage ---- */

static void usage_row(const PGresult *res, int r, void *item)
{
    struct kw_usage_point *pt = item;

    kw_pg_get_text(res, r, 0, pt->key_id, sizeof(pt->key_id));
    pt->minute = kw_pg_get_int(res, r, 1);
    pt->valid = kw_pg_get_int(res, r, 2);
    pt->denied = kw_pg_get_int(res, r, 3);
    kw_pg_get_text(res, r, 4, pt->start, sizeof(pt->start));
    kw_pg_get_text(res, r, 5, pt->description, sizeof(pt->description));
}

enum kw_err kw_pg_usage_list(struct kw_tx *tx, const char *service_id, int64_t from_ms,
                             struct kw_usage_point *items, size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, service_id);
    kw_pg_int(&p, from_ms);
    kw_pg_int(&p, (int64_t)cap);
    return many_rows(
        tx,
        "SELECT u.key_id, u.minute / 3600000 * 3600000 AS hour, sum(u.valid), sum(u.denied), "
        "coalesce(min(k.start), min(d.start), ''), coalesce(min(k.description), min(d.description), '') "
        "FROM usage u LEFT JOIN keys k ON k.id = u.key_id LEFT JOIN key_tombstones d ON d.id = u.key_id "
        "WHERE u.service_id = $1 AND u.minute >= $2 AND coalesce(k.kind, d.kind, 'api_key') = 'api_key' GROUP BY u.key_id, hour ORDER BY hour, u.key_id LIMIT $3",
        &p, usage_row, items, sizeof(*items), cap, n, "usage_list");
}

/* ---- users ---- */

#define USER_COLS "seq, username, password_hash, role, disabled, created_at, last_login_at"

static void user_row(const PGresult *res, int r, void *item)
{
    struct kw_user *u = item;

    memset(u, 0, sizeof(*u));
    u->seq = kw_pg_get_int(res, r, 0);
    kw_pg_get_text(res, r, 1, u->username, sizeof(u->username));
    kw_pg_get_text(res, r, 2, u->password_hash, sizeof(u->password_hash));
    kw_pg_get_text(res, r, 3, u->role, sizeof(u->role));
    u->disabled = (int)kw_pg_get_int(res, r, 4);
    u->created_at = kw_pg_get_int(res, r, 5);
    u->last_login_at = kw_pg_get_int(res, r, 6);
}

enum kw_err kw_pg_user_insert(struct kw_tx *tx, struct kw_user *u)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, u->username);
    KW_PG_FIELD(&p, u->password_hash);
    KW_PG_FIELD(&p, u->role);
    kw_pg_int(&p, u->disabled);
    kw_pg_int(&p, u->created_at);
    kw_pg_int(&p, u->last_login_at);
    return kw_pg_insert_seq(
        tx,
        "INSERT INTO users(username, password_hash, role, disabled, created_at, last_login_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
        &p, "user_insert", &u->seq);
}

enum kw_err kw_pg_user_get(struct kw_tx *tx, const char *username, struct kw_user *out)
{
    struct kw_pg_params p = {0};
    char sql[160];

    kw_pg_text(&p, username);
    snprintf(sql, sizeof(sql), "SELECT " USER_COLS " FROM users WHERE username = $1%s", kw_pg_lock(tx));
    return one_row(tx, sql, &p, user_row, out, "user_get");
}

enum kw_err kw_pg_user_list(struct kw_tx *tx, int64_t after, struct kw_user *items, size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};

    kw_pg_int(&p, after);
    kw_pg_int(&p, (int64_t)cap);
    return many_rows(tx, "SELECT " USER_COLS " FROM users WHERE seq > $1 ORDER BY seq LIMIT $2", &p, user_row,
                     items, sizeof(*items), cap, n, "user_list");
}

enum kw_err kw_pg_user_update(struct kw_tx *tx, const struct kw_user *u)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, u->password_hash);
    KW_PG_FIELD(&p, u->role);
    kw_pg_int(&p, u->disabled);
    KW_PG_FIELD(&p, u->username);
    return write_row(tx, "UPDATE users SET password_hash = $1, role = $2, disabled = $3 WHERE username = $4",
                     &p, 1, "user_update");
}

enum kw_err kw_pg_user_login(struct kw_tx *tx, const struct kw_user *u, int64_t at)
{
    struct kw_pg_params p = {0};
    enum kw_err err;

    kw_pg_int(&p, at);
    KW_PG_FIELD(&p, u->username);
    KW_PG_FIELD(&p, u->password_hash);
    err = write_row(
        tx, "UPDATE users SET last_login_at = $1 WHERE username = $2 AND password_hash = $3 AND disabled = 0",
        &p, 1, "user_login");
    return err == KW_ERR_NOT_FOUND ? KW_ERR_CONFLICT : err;
}

/* In a write transaction the counted rows are locked, so two writers that each disable another admin
 * cannot both see "one left besides me": the second waits, and READ COMMITTED re-checks the row it
 * waited for, which no longer matches. */
enum kw_err kw_pg_user_count_admins(struct kw_tx *tx, int64_t *count)
{
    char sql[200];
    enum kw_err err;
    PGresult *res;

    snprintf(sql, sizeof(sql), "SELECT seq FROM users WHERE role = 'sysadmin' AND disabled = 0%s",
             kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, NULL, "user_count_admins", &err);
    if (res == NULL)
        return err;
    *count = PQntuples(res);
    PQclear(res);
    return KW_OK;
}

static enum kw_err delete_by_name(struct kw_tx *tx, const char *sql, const char *name, int must_change)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, name);
    return write_row(tx, sql, &p, must_change, "delete");
}

enum kw_err kw_pg_user_delete(struct kw_tx *tx, const char *username)
{
    enum kw_err err = kw_pg_atomic_begin(tx);

    if (err != KW_OK)
        return err;
    err = delete_by_name(tx, "DELETE FROM sessions WHERE username = $1", username, 0);
    if (err == KW_OK)
        err = delete_by_name(tx, "DELETE FROM members WHERE username = $1", username, 0);
    if (err == KW_OK)
        err = delete_by_name(tx, "DELETE FROM users WHERE username = $1", username, 1);
    return kw_pg_atomic_end(tx, err);
}

/* ---- sessions ---- */

static void session_row(const PGresult *res, int r, void *item)
{
    struct kw_session *s = item;

    memset(s, 0, sizeof(*s));
    kw_pg_get_blob(res, r, 0, s->id_hash, KW_HASH_LEN);
    kw_pg_get_text(res, r, 1, s->username, sizeof(s->username));
    kw_pg_get_text(res, r, 2, s->csrf, sizeof(s->csrf));
    s->created_at = kw_pg_get_int(res, r, 3);
    s->last_seen = kw_pg_get_int(res, r, 4);
    s->expires_at = kw_pg_get_int(res, r, 5);
}

enum kw_err kw_pg_session_insert(struct kw_tx *tx, const struct kw_session *s)
{
    struct kw_pg_params p = {0};

    kw_pg_blob(&p, s->id_hash, KW_HASH_LEN);
    KW_PG_FIELD(&p, s->username);
    KW_PG_FIELD(&p, s->csrf);
    kw_pg_int(&p, s->created_at);
    kw_pg_int(&p, s->last_seen);
    kw_pg_int(&p, s->expires_at);
    return kw_pg_run_sp(tx,
                        "INSERT INTO sessions(id_hash, username, csrf, created_at, last_seen, expires_at) "
                        "VALUES ($1, $2, $3, $4, $5, $6)",
                        &p, "session_insert", NULL);
}

enum kw_err kw_pg_session_get(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out)
{
    struct kw_pg_params p = {0};

    kw_pg_blob(&p, id_hash, KW_HASH_LEN);
    return one_row(
        tx,
        "SELECT id_hash, username, csrf, created_at, last_seen, expires_at FROM sessions WHERE id_hash = $1",
        &p, session_row, out, "session_get");
}

enum kw_err kw_pg_session_touch(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen)
{
    struct kw_pg_params p = {0};

    kw_pg_int(&p, last_seen);
    kw_pg_blob(&p, id_hash, KW_HASH_LEN);
    return write_row(tx, "UPDATE sessions SET last_seen = $1 WHERE id_hash = $2", &p, 0, "session_touch");
}

enum kw_err kw_pg_session_delete(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN])
{
    struct kw_pg_params p = {0};

    kw_pg_blob(&p, id_hash, KW_HASH_LEN);
    return write_row(tx, "DELETE FROM sessions WHERE id_hash = $1", &p, 0, "session_delete");
}

enum kw_err kw_pg_session_delete_user(struct kw_tx *tx, const char *username, const uint8_t *keep)
{
    struct kw_pg_params p = {0};

    if (keep == NULL)
        return delete_by_name(tx, "DELETE FROM sessions WHERE username = $1", username, 0);
    kw_pg_text(&p, username);
    kw_pg_blob(&p, keep, KW_HASH_LEN);
    return write_row(tx, "DELETE FROM sessions WHERE username = $1 AND id_hash <> $2", &p, 0,
                     "session_delete_user");
}

/* ---- members ---- */

#define MEM_COLS "seq, service_id, username, role, created_at"

static void member_row(const PGresult *res, int r, void *item)
{
    struct kw_member *m = item;

    memset(m, 0, sizeof(*m));
    m->seq = kw_pg_get_int(res, r, 0);
    kw_pg_get_text(res, r, 1, m->service_id, sizeof(m->service_id));
    kw_pg_get_text(res, r, 2, m->username, sizeof(m->username));
    kw_pg_get_text(res, r, 3, m->role, sizeof(m->role));
    m->created_at = kw_pg_get_int(res, r, 4);
}

enum kw_err kw_pg_member_insert(struct kw_tx *tx, struct kw_member *m)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, m->service_id);
    KW_PG_FIELD(&p, m->username);
    KW_PG_FIELD(&p, m->role);
    kw_pg_int(&p, m->created_at);
    return kw_pg_insert_seq(
        tx,
        "INSERT INTO members(service_id, username, role, created_at) VALUES ($1, $2, $3, $4) "
        "RETURNING seq",
        &p, "member_insert", &m->seq);
}

enum kw_err kw_pg_member_get(struct kw_tx *tx, const char *service_id, const char *username,
                             struct kw_member *out)
{
    struct kw_pg_params p = {0};
    char sql[160];

    kw_pg_text(&p, service_id);
    kw_pg_text(&p, username);
    snprintf(sql, sizeof(sql), "SELECT " MEM_COLS " FROM members WHERE service_id = $1 AND username = $2%s",
             kw_pg_lock(tx));
    return one_row(tx, sql, &p, member_row, out, "member_get");
}

enum kw_err kw_pg_member_list(struct kw_tx *tx, const char *service_id, const char *username, int64_t after,
                              struct kw_member *items, size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, service_id ? service_id : username);
    kw_pg_int(&p, after);
    kw_pg_int(&p, (int64_t)cap);
    return many_rows(tx,
                     service_id ? "SELECT " MEM_COLS " FROM members WHERE service_id = $1 AND seq > $2 "
                                  "ORDER BY seq LIMIT $3"
                                : "SELECT " MEM_COLS " FROM members WHERE username = $1 AND seq > $2 "
                                  "ORDER BY seq LIMIT $3",
                     &p, member_row, items, sizeof(*items), cap, n, "member_list");
}

enum kw_err kw_pg_member_update(struct kw_tx *tx, const struct kw_member *m)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, m->role);
    KW_PG_FIELD(&p, m->service_id);
    KW_PG_FIELD(&p, m->username);
    return write_row(tx, "UPDATE members SET role = $1 WHERE service_id = $2 AND username = $3", &p, 1,
                     "member_update");
}

enum kw_err kw_pg_member_delete(struct kw_tx *tx, const char *service_id, const char *username)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, service_id);
    kw_pg_text(&p, username);
    return write_row(tx, "DELETE FROM members WHERE service_id = $1 AND username = $2", &p, 1,
                     "member_delete");
}

enum kw_err kw_pg_service_list_for(struct kw_tx *tx, const char *username, int64_t after,
                                   struct kw_service *items, size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, username);
    kw_pg_int(&p, after);
    kw_pg_int(&p, (int64_t)cap);
    return many_rows(tx,
                     "SELECT s.seq, s.id, s.name, s.description, s.key_prefix, s.created_at, s.updated_at "
                     "FROM services s JOIN members m ON m.service_id = s.id "
                     "WHERE m.username = $1 AND s.seq > $2 ORDER BY s.seq LIMIT $3",
                     &p, kw_pg_service_row, items, sizeof(*items), cap, n, "service_list_for");
}
