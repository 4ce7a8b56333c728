/* sqlite_audit.c - the append-only audit table for the SQLite backend. */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)
#define EV_COLS                                                                                        \
    "seq, id, time, actor_type, actor_id, action, target_type, target_id, service_id, outcome, ip, "   \
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

enum kw_err kw_sq_audit_head(struct kw_store *st, int64_t *seq, uint8_t hash[KW_HASH_LEN])
{
    sqlite3_stmt *q = kw_sq_begin(SQ(st), SQ_AUDIT_HEAD, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
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
        err = kw_sq_fail(SQ(st), "audit_head", rc);
    }
    kw_sq_end(SQ(st), q);
    return err;
}

enum kw_err kw_sq_audit_append(struct kw_store *st, const struct kw_audit_event *e)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(st), SQ_AUDIT_APPEND,
                                  "INSERT INTO audit(" EV_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, e->seq);
    TEXT(q, 2, e->id);
    sqlite3_bind_int64(q, 3, e->time);
    TEXT(q, 4, e->actor_type);
    TEXT(q, 5, e->actor_id);
    TEXT(q, 6, e->action);
    TEXT(q, 7, e->target_type);
    TEXT(q, 8, e->target_id);
    TEXT(q, 9, e->service_id);
    TEXT(q, 10, e->outcome);
    TEXT(q, 11, e->ip);
    TEXT(q, 12, e->request_id);
    TEXT(q, 13, e->detail);
    sqlite3_bind_blob(q, 14, e->prev_hash, KW_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(q, 15, e->hash, KW_HASH_LEN, SQLITE_STATIC);
    err = kw_sq_done(SQ(st), q, "audit_append");
    kw_sq_end(SQ(st), q);
    return err;
}

/* action "key.*" or "key." filters by prefix "key."; anything else is exact. */
static void bind_action(sqlite3_stmt *q, const char *action, char *prefix, size_t cap)
{
    size_t n = action ? strlen(action) : 0;

    if (n == 0)
        return;
    if (action[n - 1] == '*' || action[n - 1] == '.') {
        if (action[n - 1] == '*')
            n--;
        if (n >= cap)
            n = cap - 1;
        memcpy(prefix, action, n);
        prefix[n] = '\0';
        sqlite3_bind_text(q, 4, prefix, (int)n, SQLITE_STATIC);
    } else {
        TEXT(q, 3, action);
    }
}

enum kw_err kw_sq_audit_list(struct kw_store *st, const struct kw_audit_filter *f, struct kw_audit_event *items,
                             size_t cap, size_t *n)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(st), SQ_AUDIT_LIST,
                                  "SELECT " EV_COLS " FROM audit WHERE (?1 = 0 OR seq < ?1) "
                                  "AND (?2 IS NULL OR actor_id = ?2) AND (?3 IS NULL OR action = ?3) "
                                  "AND (?4 IS NULL OR substr(action, 1, length(?4)) = ?4) "
                                  "AND (?5 IS NULL OR target_id = ?5) AND (?6 IS NULL OR service_id = ?6) "
                                  "AND (?7 = 0 OR time >= ?7) AND (?8 = 0 OR time < ?8) "
                                  "ORDER BY seq DESC LIMIT ?9");
    char prefix[64];
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, f->before_seq);
    if (f->actor_id)
        TEXT(q, 2, f->actor_id);
    bind_action(q, f->action, prefix, sizeof(prefix));
    if (f->target_id)
        TEXT(q, 5, f->target_id);
    if (f->service_id)
        TEXT(q, 6, f->service_id);
    sqlite3_bind_int64(q, 7, f->since);
    sqlite3_bind_int64(q, 8, f->until);
    sqlite3_bind_int64(q, 9, (sqlite3_int64)cap);
    err = kw_sq_collect(SQ(st), q, ev_row, items, sizeof(*items), cap, n, "audit_list");
    kw_sq_end(SQ(st), q);
    return err;
}

enum kw_err kw_sq_audit_each(struct kw_store *st, kw_store_audit_cb cb, void *ctx)
{
    sqlite3_stmt *q = kw_sq_begin(SQ(st), SQ_AUDIT_EACH, "SELECT " EV_COLS " FROM audit ORDER BY seq");
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
        err = kw_sq_fail(SQ(st), "audit_each", rc);
    kw_sq_end(SQ(st), q);
    return err;
}
