/* sqlite_audit.c - the append-only audit table for the SQLite backend. */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)
#define EV_COLS                                                                                              \
    "seq, id, time, actor_type, actor_id, action, target_type, target_id, service_id, outcome, ip, "         \
    "request_id, detail, prev_hash, hash"

static void blob32(sqlite3_stmt *q, int col, uint8_t out[KW_HASH_LEN])
{
    if (sqlite3_column_bytes(q, col) == KW_HASH_LEN)
        memcpy(out, sqlite3_column_blob(q, col), KW_HASH_LEN);
    else
        memset(out, 0, KW_HASH_LEN);
}

static void ev_row(sqlite3_stmt *q, void *item)
{
    struct kw_audit_event *e = item;

    memset(e, 0, sizeof(*e));
    e->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, e->id, sizeof(e->id));
    e->time = sqlite3_column_int64(q, 2);
    kw_sq_text(q, 3, e->actor_type, sizeof(e->actor_type));
    kw_sq_text(q, 4, e->actor_id, sizeof(e->actor_id));
    kw_sq_text(q, 5, e->action, sizeof(e->action));
    kw_sq_text(q, 6, e->target_type, sizeof(e->target_type));
    kw_sq_text(q, 7, e->target_id, sizeof(e->target_id));
    kw_sq_text(q, 8, e->service_id, sizeof(e->service_id));
    kw_sq_text(q, 9, e->outcome, sizeof(e->outcome));
    kw_sq_text(q, 10, e->ip, sizeof(e->ip));
    kw_sq_text(q, 11, e->request_id, sizeof(e->request_id));
    kw_sq_text(q, 12, e->detail, sizeof(e->detail));
    blob32(q, 13, e->prev_hash);
    blob32(q, 14, e->hash);
}

enum kw_err kw_sq_audit_head(struct kw_tx *tx, int64_t *seq, uint8_t hash[KW_HASH_LEN])
{
    sqlite3_stmt *q =
        kw_sq_begin(SQ(tx->st), SQ_AUDIT_HEAD, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(q, 0);
        blob32(q, 1, hash);
    } else if (rc == SQLITE_DONE) {
        *seq = 0;
        memset(hash, 0, KW_HASH_LEN);
    } else {
        err = kw_sq_fail(SQ(tx->st), "audit_head", rc);
    }
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_audit_append(struct kw_tx *tx, const struct kw_audit_event *e)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_AUDIT_APPEND,
                                  "INSERT INTO audit(" EV_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, e->seq);
    KW_SQ_FIELD(q, 2, e->id);
    sqlite3_bind_int64(q, 3, e->time);
    KW_SQ_FIELD(q, 4, e->actor_type);
    KW_SQ_FIELD(q, 5, e->actor_id);
    KW_SQ_FIELD(q, 6, e->action);
    KW_SQ_FIELD(q, 7, e->target_type);
    KW_SQ_FIELD(q, 8, e->target_id);
    KW_SQ_FIELD(q, 9, e->service_id);
    KW_SQ_FIELD(q, 10, e->outcome);
    KW_SQ_FIELD(q, 11, e->ip);
    KW_SQ_FIELD(q, 12, e->request_id);
    KW_SQ_FIELD(q, 13, e->detail);
    sqlite3_bind_blob(q, 14, e->prev_hash, KW_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 15, e->hash, KW_HASH_LEN, SQLITE_STATIC);
    err = kw_sq_done(SQ(tx->st), q, "audit_append");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

/* One WHERE fragment per filter, in bit order; the parameter numbers are fixed, so every shape binds
 * the same way (a parameter a shape does not use is simply never read). Only these constant strings
 * ever become SQL. */
static const char *const where_frag[] = {
    " AND seq < ?1",
    " AND actor_id = ?2",
    " AND action = ?3",
    " AND substr(action, 1, length(?4)) = ?4", /* prefix: no LIKE, so '%' and '_' are literal */
    " AND target_id = ?5",
    " AND service_id = ?6",
    " AND time >= ?7",
    " AND time < ?8",
};
#define F_BEFORE (1u << 0)
#define F_ACTOR (1u << 1)
#define F_ACTION (1u << 2)
#define F_PREFIX (1u << 3)
#define F_TARGET (1u << 4)
#define F_SERVICE (1u << 5)
#define F_SINCE (1u << 6)
#define F_UNTIL (1u << 7)
_Static_assert(sizeof(where_frag) / sizeof(where_frag[0]) == 8 && KW_SQ_AUDIT_SHAPES == 1 << 8,
               "one bit each");

/* Length of the action prefix when action asks for one (a trailing '*': "key.*" is the prefix "key."),
 * else -1: without the star the filter is exact, so "key." and "key" match no action. */
static long action_prefix(const char *action)
{
    size_t n = strlen(action);

    return n > 0 && action[n - 1] == '*' ? (long)(n - 1) : -1;
}

static unsigned filter_shape(const struct kw_audit_filter *f)
{
    unsigned m = 0;

    m |= f->before_seq != 0 ? F_BEFORE : 0;
    m |= f->actor_id != NULL ? F_ACTOR : 0;
    if (f->action != NULL)
        m |= action_prefix(f->action) >= 0 ? F_PREFIX : F_ACTION;
    m |= f->target_id != NULL ? F_TARGET : 0;
    m |= f->service_id != NULL ? F_SERVICE : 0;
    m |= f->since != 0 ? F_SINCE : 0;
    m |= f->until != 0 ? F_UNTIL : 0;
    return m;
}

/* Appends src to dst (cap bytes, NUL-terminated); 0 if it did not fit. */
static int append(char *dst, size_t cap, size_t *len, const char *src)
{
    size_t n = strlen(src);

    if (*len + n >= cap)
        return 0;
    memcpy(dst + *len, src, n + 1);
    *len += n;
    return 1;
}

static void shape_sql(unsigned m, char *sql, size_t cap)
{
    size_t len = 0, i;
    int ok = append(sql, cap, &len, "SELECT " EV_COLS " FROM audit WHERE 1");

    for (i = 0; i < 8; i++)
        if (m & (1u << i))
            ok = ok && append(sql, cap, &len, where_frag[i]);
    ok = ok && append(sql, cap, &len, " ORDER BY seq DESC LIMIT ?9");
    if (!ok)
        sql[0] = '\0'; /* cannot happen with these fragments; prepare then fails and is logged */
}

/* The cached statement for shape m, locked as kw_sq_begin leaves it. */
static sqlite3_stmt *list_stmt(struct kw_sqlite *s, unsigned m)
{
    sqlite3_stmt *q;
    char sql[1024];

    pthread_mutex_lock(&s->mu); /* held while the slot is read; kw_sq_begin_at nests (recursive) */
    sql[0] = '\0';
    if (s->audit_list[m] == NULL)
        shape_sql(m, sql, sizeof(sql));
    q = kw_sq_begin_at(s, &s->audit_list[m], sql);
    pthread_mutex_unlock(&s->mu);
    return q;
}

enum kw_err kw_sq_audit_list(struct kw_tx *tx, const struct kw_audit_filter *f,
                             struct kw_audit_event *items, size_t cap, size_t *n)
{
    unsigned m = filter_shape(f);
    sqlite3_stmt *q = list_stmt(SQ(tx->st), m);
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, f->before_seq);
    if (m & F_ACTOR)
        TEXT(q, 2, f->actor_id);
    if (m & F_ACTION)
        TEXT(q, 3, f->action);
    if (m & F_PREFIX)
        sqlite3_bind_text(q, 4, f->action, (int)action_prefix(f->action), SQLITE_STATIC);
    if (m & F_TARGET)
        TEXT(q, 5, f->target_id);
    if (m & F_SERVICE)
        TEXT(q, 6, f->service_id);
    sqlite3_bind_int64(q, 7, f->since);
    sqlite3_bind_int64(q, 8, f->until);
    sqlite3_bind_int64(q, 9, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(tx->st), q, ev_row, items, sizeof(*items), cap, n, "audit_list");
    kw_sq_end(SQ(tx->st), q);
    return err;
}

enum kw_err kw_sq_audit_each(struct kw_tx *tx, kw_store_audit_cb cb, void *ctx)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(tx->st), SQ_AUDIT_EACH, "SELECT " EV_COLS " FROM audit ORDER BY seq");
    struct kw_audit_event e;
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        ev_row(q, &e);
        if (cb(ctx, &e) != 0) {
            err = KW_ERR_INTERNAL;
            break;
        }
    }
    if (err == KW_OK && rc != SQLITE_DONE)
        err = kw_sq_fail(SQ(tx->st), "audit_each", rc);
    kw_sq_end(SQ(tx->st), q);
    return err;
}
