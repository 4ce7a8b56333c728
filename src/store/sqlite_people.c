/* sqlite_people.c - users, sessions, memberships and usage reads for the SQLite backend. */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)

/* Runs q (already bound) for a single row; KW_ERR_NOT_FOUND when there is none. */
static enum kw_err one_row(struct kw_sqlite *s, sqlite3_stmt *q, kw_sq_row_fn row, void *out, const char *op)
{
    int rc = sqlite3_step(q);

    if (rc == SQLITE_ROW) {
        row(q, out);
        return KW_OK;
    }
    return rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(s, op, rc);
}

/* Runs a write; KW_ERR_NOT_FOUND when it changed no row and must_change. */
static enum kw_err write_row(struct kw_sqlite *s, sqlite3_stmt *q, int must_change, const char *op)
{
    enum kw_err err = kw_sq_done(s, q, op);

    if (err == KW_OK && must_change && sqlite3_changes(s->db) == 0)
        err = KW_ERR_NOT_FOUND;
    kw_sq_end(s, q);
    return err;
}

/* ---- usage ---- */

static void usage_row(sqlite3_stmt *q, void *item)
{
    struct kw_usage_point *p = item;
    kw_sq_text(q, 0, p->key_id, sizeof(p->key_id));
    p->minute = sqlite3_column_int64(q, 1);
    p->valid = sqlite3_column_int64(q, 2);
    p->denied = sqlite3_column_int64(q, 3);
    kw_sq_text(q, 4, p->start, sizeof(p->start));
    kw_sq_text(q, 5, p->description, sizeof(p->description));
}

enum kw_err kw_sq_usage_list(struct kw_tx *tx, const char *service_id, int64_t from_ms,
                             struct kw_usage_point *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_USAGE_LIST,
                                  "SELECT u.key_id, u.minute / 3600000 * 3600000 AS hour, sum(u.valid), sum(u.denied), "
                                  "coalesce(k.start, d.start, ''), coalesce(k.description, d.description, '') "
                                  "FROM usage u LEFT JOIN keys k ON k.id = u.key_id "
                                  "LEFT JOIN key_tombstones d ON d.id = u.key_id "
                                  "WHERE u.service_id = ? AND u.minute >= ? "
                                  "AND coalesce(k.kind, d.kind, 'api_key') = 'api_key' GROUP BY u.key_id, hour "
                                  "ORDER BY hour, u.key_id LIMIT ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id);
    sqlite3_bind_int64(q, 2, from_ms);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(tx->st), q, usage_row, items, sizeof(*items), cap, n, "usage_list");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

/* ---- users ---- */

#define USER_COLS "seq, username, password_hash, role, disabled, created_at, last_login_at"

static void user_row(sqlite3_stmt *q, void *item)
{
    struct kw_user *u = item;
    memset(u, 0, sizeof(*u));
    u->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, u->username, sizeof(u->username));
    kw_sq_text(q, 2, u->password_hash, sizeof(u->password_hash));
    kw_sq_text(q, 3, u->role, sizeof(u->role));
    u->disabled = sqlite3_column_int(q, 4);
    u->created_at = sqlite3_column_int64(q, 5);
    u->last_login_at = sqlite3_column_int64(q, 6);
}

enum kw_err kw_sq_user_insert(struct kw_tx *tx, struct kw_user *u)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_USER_INSERT,
                                  "INSERT INTO users(username, password_hash, role, disabled, created_at, last_login_at) "
                                  "VALUES (?,?,?,?,?,?)");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, u->username);
    KW_SQ_FIELD(q, 2, u->password_hash);
    KW_SQ_FIELD(q, 3, u->role);
    sqlite3_bind_int(q, 4, u->disabled);
    sqlite3_bind_int64(q, 5, u->created_at);
    sqlite3_bind_int64(q, 6, u->last_login_at);
    err = kw_sq_done(SQ(tx->st), q, "user_insert");
    if (err == KW_OK)
        u->seq = sqlite3_last_insert_rowid(SQ(tx->st)->db);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_user_get(struct kw_tx *tx, const char *username, struct kw_user *out)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_USER_GET, "SELECT " USER_COLS " FROM users WHERE username = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, username);
    err = one_row(SQ(tx->st), q, user_row, out, "user_get");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_user_list(struct kw_tx *tx, int64_t after, struct kw_user *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_USER_LIST, "SELECT " USER_COLS " FROM users WHERE seq > ? ORDER BY seq LIMIT ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, after);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(tx->st), q, user_row, items, sizeof(*items), cap, n, "user_list");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_user_update(struct kw_tx *tx, const struct kw_user *u)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_USER_UPDATE,
                                  "UPDATE users SET password_hash = ?, role = ?, disabled = ? WHERE username = ?");

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, u->password_hash);
    KW_SQ_FIELD(q, 2, u->role);
    sqlite3_bind_int(q, 3, u->disabled);
    KW_SQ_FIELD(q, 4, u->username);
    return write_row(SQ(tx->st), q, 1, "user_update");
}

enum kw_err kw_sq_user_login(struct kw_tx *tx, const struct kw_user *u, int64_t at)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_USER_LOGIN,
                                  "UPDATE users SET last_login_at = ? WHERE username = ? AND password_hash = ? "
                                  "AND disabled = 0");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, at);
    KW_SQ_FIELD(q, 2, u->username);
    KW_SQ_FIELD(q, 3, u->password_hash);
    err = write_row(SQ(tx->st), q, 1, "user_login");
    return err == KW_ERR_NOT_FOUND ? KW_ERR_CONFLICT : err;
}

enum kw_err kw_sq_user_count_admins(struct kw_tx *tx, int64_t *count)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_USER_ADMINS,
                                  "SELECT count(*) FROM users WHERE role = 'sysadmin' AND disabled = 0");

    return q == NULL ? KW_ERR_STORE : kw_sq_scalar(SQ(tx->st), q, count, "user_count_admins");
}

static enum kw_err delete_by_name(struct kw_tx *tx, enum kw_sq_stmt slot, const char *sql, const char *name,
                                  int must_change)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), slot, sql);

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, name);
    return write_row(SQ(tx->st), q, must_change, "delete");
}

enum kw_err kw_sq_user_delete(struct kw_tx *tx, const char *username)
{
    enum kw_err err = kw_sq_atomic_begin(SQ(tx->st));

    if (err != KW_OK)
        return err;
    err = delete_by_name(tx, SQ_SESS_DELETE_USER, "DELETE FROM sessions WHERE username = ?", username, 0);
    if (err == KW_OK)
        err = delete_by_name(tx, SQ_MEM_DELETE_USER, "DELETE FROM members WHERE username = ?", username, 0);
    if (err == KW_OK)
        err = delete_by_name(tx, SQ_USER_DELETE, "DELETE FROM users WHERE username = ?", username, 1);
    return kw_sq_atomic_end(SQ(tx->st), err);
}

/* ---- sessions ---- */

static void session_row(sqlite3_stmt *q, void *item)
{
    struct kw_session *s = item;
    memset(s, 0, sizeof(*s));
    if (sqlite3_column_bytes(q, 0) == KW_HASH_LEN)
        memcpy(s->id_hash, sqlite3_column_blob(q, 0), KW_HASH_LEN);
    kw_sq_text(q, 1, s->username, sizeof(s->username));
    kw_sq_text(q, 2, s->csrf, sizeof(s->csrf));
    s->created_at = sqlite3_column_int64(q, 3);
    s->last_seen = sqlite3_column_int64(q, 4);
    s->expires_at = sqlite3_column_int64(q, 5);
}

enum kw_err kw_sq_session_insert(struct kw_tx *tx, const struct kw_session *s)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SESS_INSERT,
                                  "INSERT INTO sessions(id_hash, username, csrf, created_at, last_seen, expires_at) "
                                  "VALUES (?,?,?,?,?,?)");

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_blob(q, 1, s->id_hash, KW_HASH_LEN, SQLITE_STATIC);
    KW_SQ_FIELD(q, 2, s->username);
    KW_SQ_FIELD(q, 3, s->csrf);
    sqlite3_bind_int64(q, 4, s->created_at);
    sqlite3_bind_int64(q, 5, s->last_seen);
    sqlite3_bind_int64(q, 6, s->expires_at);
    return write_row(SQ(tx->st), q, 0, "session_insert");
}

enum kw_err kw_sq_session_get(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SESS_GET,
                                  "SELECT id_hash, username, csrf, created_at, last_seen, expires_at FROM sessions "
                                  "WHERE id_hash = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_blob(q, 1, id_hash, KW_HASH_LEN, SQLITE_STATIC);
    err = one_row(SQ(tx->st), q, session_row, out, "session_get");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_session_touch(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SESS_TOUCH, "UPDATE sessions SET last_seen = ? WHERE id_hash = ?");

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, last_seen);
    sqlite3_bind_blob(q, 2, id_hash, KW_HASH_LEN, SQLITE_STATIC);
    return write_row(SQ(tx->st), q, 0, "session_touch");
}

enum kw_err kw_sq_session_delete(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN])
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SESS_DELETE, "DELETE FROM sessions WHERE id_hash = ?");

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_blob(q, 1, id_hash, KW_HASH_LEN, SQLITE_STATIC);
    return write_row(SQ(tx->st), q, 0, "session_delete");
}

enum kw_err kw_sq_session_delete_user(struct kw_tx *tx, const char *username, const uint8_t *keep)
{
    sqlite3_stmt *q;

    if (keep == NULL)
        return delete_by_name(tx, SQ_SESS_DELETE_USER, "DELETE FROM sessions WHERE username = ?", username, 0);
    q = kw_sq_begin(SQ(tx->st), SQ_SESS_DELETE_USER_KEEP, "DELETE FROM sessions WHERE username = ? AND id_hash <> ?");
    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, username);
    sqlite3_bind_blob(q, 2, keep, KW_HASH_LEN, SQLITE_STATIC);
    return write_row(SQ(tx->st), q, 0, "session_delete_user");
}

/* ---- members ---- */

#define MEM_COLS "seq, service_id, username, role, created_at"

static void member_row(sqlite3_stmt *q, void *item)
{
    struct kw_member *m = item;
    memset(m, 0, sizeof(*m));
    m->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, m->service_id, sizeof(m->service_id));
    kw_sq_text(q, 2, m->username, sizeof(m->username));
    kw_sq_text(q, 3, m->role, sizeof(m->role));
    m->created_at = sqlite3_column_int64(q, 4);
}

enum kw_err kw_sq_member_insert(struct kw_tx *tx, struct kw_member *m)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_MEM_INSERT,
                                  "INSERT INTO members(service_id, username, role, created_at) VALUES (?,?,?,?)");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, m->service_id);
    KW_SQ_FIELD(q, 2, m->username);
    KW_SQ_FIELD(q, 3, m->role);
    sqlite3_bind_int64(q, 4, m->created_at);
    err = kw_sq_done(SQ(tx->st), q, "member_insert");
    if (err == KW_OK)
        m->seq = sqlite3_last_insert_rowid(SQ(tx->st)->db);
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_member_get(struct kw_tx *tx, const char *service_id, const char *username,
                             struct kw_member *out)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_MEM_GET,
                                  "SELECT " MEM_COLS " FROM members WHERE service_id = ? AND username = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id);
    TEXT(q, 2, username);
    err = one_row(SQ(tx->st), q, member_row, out, "member_get");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_member_list(struct kw_tx *tx, const char *service_id, const char *username, int64_t after,
                              struct kw_member *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q = service_id
                          ? kw_sq_begin(SQ(tx->st), SQ_MEM_LIST_SVC,
                                        "SELECT " MEM_COLS " FROM members WHERE service_id = ? AND seq > ? "
                                        "ORDER BY seq LIMIT ?")
                          : kw_sq_begin(SQ(tx->st), SQ_MEM_LIST_USER,
                                        "SELECT " MEM_COLS " FROM members WHERE username = ? AND seq > ? "
                                        "ORDER BY seq LIMIT ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id ? service_id : username);
    sqlite3_bind_int64(q, 2, after);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(tx->st), q, member_row, items, sizeof(*items), cap, n, "member_list");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_member_update(struct kw_tx *tx, const struct kw_member *m)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_MEM_UPDATE,
                                  "UPDATE members SET role = ? WHERE service_id = ? AND username = ?");

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, m->role);
    KW_SQ_FIELD(q, 2, m->service_id);
    KW_SQ_FIELD(q, 3, m->username);
    return write_row(SQ(tx->st), q, 1, "member_update");
}

enum kw_err kw_sq_member_delete(struct kw_tx *tx, const char *service_id, const char *username)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_MEM_DELETE, "DELETE FROM members WHERE service_id = ? AND username = ?");

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, service_id);
    TEXT(q, 2, username);
    return write_row(SQ(tx->st), q, 1, "member_delete");
}

enum kw_err kw_sq_service_list_for(struct kw_tx *tx, const char *username, int64_t after,
                                   struct kw_service *items, size_t cap, size_t *n)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_SVC_LIST_FOR,
                                  "SELECT s.seq, s.id, s.name, s.description, s.key_prefix, s.created_at, s.updated_at "
                                  "FROM services s JOIN members m ON m.service_id = s.id "
                                  "WHERE m.username = ? AND s.seq > ? ORDER BY s.seq LIMIT ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, username);
    sqlite3_bind_int64(q, 2, after);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(tx->st), q, kw_sq_service_row, items, sizeof(*items), cap, n, "service_list_for");
    kw_sq_end(SQ(tx->st), q);
    return err;
}
