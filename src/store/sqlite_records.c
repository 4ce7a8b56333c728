/* sqlite_records.c - identity records, their pictures and history for the SQLite backend (store.h:
 * identity records). Statements are prepared once per connection and cached (s->records, by enum
 * rq_stmt; preparing was ~40 % of an extract's time in `make bench`); the database runs with secure_delete=ON (sqlite.c), so the pages and cells an archive
 * frees are zeroed rather than left in the file. */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)

#define REC_COLS                                                                                          \
    "seq, id, service_id, ref_id, identity_id, status, is_archived, inreview_date, waiting_date, "       \
    "approved_date, will_archive_at, created_at, updated_at, created_by, version, sealed_dek, "           \
    "attributes_ct, certificates"

enum rq_stmt {
    RQ_INSERT, RQ_GET, RQ_GET_ID, RQ_LIST, RQ_UPDATE, RQ_DUE, RQ_PIC_PUT, RQ_PIC_LIST, RQ_PIC_LIST_DATA,
    RQ_PIC_WIPE, RQ_HIST_APPEND, RQ_HIST_LIST,
    RQ_NSTMT
};
_Static_assert(RQ_NSTMT <= KW_SQ_RECORD_STMTS, "raise KW_SQ_RECORD_STMTS");

/* Locks the connection and returns the cached statement slot of sql (prepared on first use), reset,
 * bindings cleared; NULL (unlocked, logged) on failure. */
static sqlite3_stmt *prep(struct kw_sqlite *s, enum rq_stmt slot, const char *sql)
{
    return kw_sq_begin_at(s, &s->records[slot], sql);
}

/* Resets the statement (and drops its bindings: they point into the caller's buffers) and unlocks. */
static void fin(struct kw_sqlite *s, sqlite3_stmt *q)
{
    sqlite3_clear_bindings(q);
    kw_sq_end(s, q);
}

static enum kw_err step_done(struct kw_sqlite *s, sqlite3_stmt *q, const char *op)
{
    int rc = sqlite3_step(q);
    return rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, op, rc);
}

/* A malloc'd copy of a blob column (NULL and 0 when NULL or empty); -1 when out of memory. */
static int dup_blob(sqlite3_stmt *q, int col, uint8_t **out, size_t *len)
{
    int n = sqlite3_column_bytes(q, col);
    const void *p = sqlite3_column_blob(q, col);

    *out = NULL;
    *len = 0;
    if (n <= 0 || p == NULL)
        return 0;
    *out = malloc((size_t)n);
    if (*out == NULL)
        return -1;
    memcpy(*out, p, (size_t)n);
    *len = (size_t)n;
    return 0;
}

static int rec_row(sqlite3_stmt *q, struct kw_record *r)
{
    const unsigned char *cert;
    int n;

    memset(r, 0, sizeof(*r));
    r->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, r->id, sizeof(r->id));
    kw_sq_text(q, 2, r->service_id, sizeof(r->service_id));
    kw_sq_text(q, 3, r->ref_id, sizeof(r->ref_id));
    kw_sq_text(q, 4, r->identity_id, sizeof(r->identity_id));
    kw_sq_text(q, 5, r->status, sizeof(r->status));
    r->is_archived = sqlite3_column_int(q, 6);
    r->inreview_date = sqlite3_column_int64(q, 7);
    r->waiting_date = sqlite3_column_int64(q, 8);
    r->approved_date = sqlite3_column_int64(q, 9);
    r->will_archive_at = sqlite3_column_int64(q, 10);
    r->created_at = sqlite3_column_int64(q, 11);
    r->updated_at = sqlite3_column_int64(q, 12);
    kw_sq_text(q, 13, r->created_by, sizeof(r->created_by));
    r->version = sqlite3_column_int64(q, 14);
    n = sqlite3_column_bytes(q, 15);
    if (n > 0 && (size_t)n <= sizeof(r->sealed_dek)) {
        memcpy(r->sealed_dek, sqlite3_column_blob(q, 15), (size_t)n);
        r->sealed_dek_len = (size_t)n;
    }
    if (dup_blob(q, 16, &r->attributes_ct, &r->attributes_ct_len) != 0)
        return -1;
    cert = sqlite3_column_text(q, 17);
    r->certificates = strdup(cert != NULL ? (const char *)cert : "[]");
    return r->certificates == NULL ? -1 : 0;
}

static void bind_rec_data(sqlite3_stmt *q, int i, const struct kw_record *r)
{
    if (r->sealed_dek_len > 0)
        sqlite3_bind_blob(q, i, r->sealed_dek, (int)r->sealed_dek_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
    if (r->attributes_ct != NULL && r->attributes_ct_len > 0)
        sqlite3_bind_blob(q, i + 1, r->attributes_ct, (int)r->attributes_ct_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i + 1);
    TEXT(q, i + 2, r->certificates != NULL ? r->certificates : "[]");
}

enum kw_err kw_sq_record_insert(struct kw_tx *tx, struct kw_record *r)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, RQ_INSERT,
                           "INSERT INTO records(id, service_id, ref_id, identity_id, status, is_archived, "
                           "inreview_date, waiting_date, approved_date, will_archive_at, created_at, updated_at, "
                           "created_by, version, sealed_dek, attributes_ct, certificates) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, r->id);
    KW_SQ_FIELD(q, 2, r->service_id);
    KW_SQ_FIELD(q, 3, r->ref_id);
    KW_SQ_FIELD(q, 4, r->identity_id);
    KW_SQ_FIELD(q, 5, r->status);
    sqlite3_bind_int(q, 6, r->is_archived);
    sqlite3_bind_int64(q, 7, r->inreview_date);
    sqlite3_bind_int64(q, 8, r->waiting_date);
    sqlite3_bind_int64(q, 9, r->approved_date);
    sqlite3_bind_int64(q, 10, r->will_archive_at);
    sqlite3_bind_int64(q, 11, r->created_at);
    sqlite3_bind_int64(q, 12, r->updated_at);
    KW_SQ_FIELD(q, 13, r->created_by);
    sqlite3_bind_int64(q, 14, r->version);
    bind_rec_data(q, 15, r);
    err = step_done(s, q, "record_insert");
    if (err == KW_OK)
        r->seq = sqlite3_last_insert_rowid(s->db);
    fin(s, q);
    return err;
}

static enum kw_err get_one(struct kw_tx *tx, enum rq_stmt slot, const char *sql, const char *a, const char *b,
                           struct kw_record *out, const char *op)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, slot, sql);
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, a);
    if (b != NULL)
        TEXT(q, 2, b);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        if (rec_row(q, out) != 0) {
            kw_record_free(out);
            err = KW_ERR_NOMEM;
        }
    } else {
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(s, op, rc);
    }
    fin(s, q);
    return err;
}

enum kw_err kw_sq_record_get(struct kw_tx *tx, const char *service_id, const char *ref_id, struct kw_record *out)
{
    return get_one(tx, RQ_GET, "SELECT " REC_COLS " FROM records WHERE service_id = ? AND ref_id = ?", service_id,
                   ref_id, out, "record_get");
}

enum kw_err kw_sq_record_get_id(struct kw_tx *tx, const char *id, struct kw_record *out)
{
    return get_one(tx, RQ_GET_ID, "SELECT " REC_COLS " FROM records WHERE id = ?", id, NULL, out, "record_get_id");
}

enum kw_err kw_sq_record_list(struct kw_tx *tx, const struct kw_record_filter *f, struct kw_record *items,
                              size_t cap, size_t *n)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, RQ_LIST,
                           "SELECT " REC_COLS " FROM records WHERE service_id = ?1 AND seq > ?2 "
                           "AND (?3 = '' OR status = ?3) AND updated_at >= ?4 ORDER BY seq LIMIT ?5");
    enum kw_err err = KW_OK;
    size_t i;
    int rc;

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, f->service_id);
    sqlite3_bind_int64(q, 2, f->after_seq);
    TEXT(q, 3, f->status != NULL ? f->status : "");
    sqlite3_bind_int64(q, 4, f->updated_since);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)cap);
    while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (rec_row(q, &items[*n]) != 0) {
            kw_record_free(&items[*n]);
            err = KW_ERR_NOMEM;
            break;
        }
        (*n)++;
    }
    if (err == KW_OK && *n < cap && rc != SQLITE_DONE)
        err = kw_sq_fail(s, "record_list", rc);
    fin(s, q);
    if (err != KW_OK) {
        for (i = 0; i < *n; i++)
            kw_record_free(&items[i]);
        *n = 0;
    }
    return err;
}

enum kw_err kw_sq_record_update(struct kw_tx *tx, const struct kw_record *r)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, RQ_UPDATE,
                           "UPDATE records SET identity_id = ?, status = ?, is_archived = ?, inreview_date = ?, "
                           "waiting_date = ?, approved_date = ?, will_archive_at = ?, updated_at = ?, version = ?, "
                           "sealed_dek = ?, attributes_ct = ?, certificates = ? WHERE id = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, r->identity_id);
    KW_SQ_FIELD(q, 2, r->status);
    sqlite3_bind_int(q, 3, r->is_archived);
    sqlite3_bind_int64(q, 4, r->inreview_date);
    sqlite3_bind_int64(q, 5, r->waiting_date);
    sqlite3_bind_int64(q, 6, r->approved_date);
    sqlite3_bind_int64(q, 7, r->will_archive_at);
    sqlite3_bind_int64(q, 8, r->updated_at);
    sqlite3_bind_int64(q, 9, r->version);
    bind_rec_data(q, 10, r);
    KW_SQ_FIELD(q, 13, r->id);
    err = step_done(s, q, "record_update");
    if (err == KW_OK && sqlite3_changes(s->db) == 0)
        err = KW_ERR_NOT_FOUND;
    fin(s, q);
    return err;
}

enum kw_err kw_sq_record_due(struct kw_tx *tx, int64_t now_ms, char (*ids)[KW_ID_MAX], size_t cap, size_t *n)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, RQ_DUE,
                           "SELECT id FROM records WHERE will_archive_at > 0 AND is_archived = 0 "
                           "AND will_archive_at <= ? ORDER BY will_archive_at, seq LIMIT ?");
    enum kw_err err = KW_OK;
    int rc = SQLITE_DONE;

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, now_ms);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)cap);
    while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW)
        kw_sq_text(q, 0, ids[(*n)++], KW_ID_MAX);
    if (*n < cap && rc != SQLITE_DONE)
        err = kw_sq_fail(s, "record_due", rc);
    fin(s, q);
    return err;
}

enum kw_err kw_sq_record_picture_put(struct kw_tx *tx, const char *record_id, const struct kw_record_picture *p)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, RQ_PIC_PUT,
                           "INSERT INTO record_pictures(record_id, name, media_type, size, ct, updated_at) "
                           "VALUES (?,?,?,?,?,?) ON CONFLICT(record_id, name) DO UPDATE SET "
                           "media_type = excluded.media_type, size = excluded.size, ct = excluded.ct, "
                           "updated_at = excluded.updated_at");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, record_id);
    KW_SQ_FIELD(q, 2, p->name);
    KW_SQ_FIELD(q, 3, p->media_type);
    sqlite3_bind_int64(q, 4, p->size);
    if (p->ct != NULL && p->ct_len > 0)
        sqlite3_bind_blob(q, 5, p->ct, (int)p->ct_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 5);
    sqlite3_bind_int64(q, 6, p->updated_at);
    err = step_done(s, q, "record_picture_put");
    fin(s, q);
    return err;
}

enum kw_err kw_sq_record_picture_list(struct kw_tx *tx, const char *record_id, int with_data,
                                      struct kw_record_picture *items, size_t cap, size_t *n)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = with_data ? prep(s, RQ_PIC_LIST_DATA,
                                       "SELECT name, media_type, size, updated_at, ct FROM record_pictures "
                                       "WHERE record_id = ? ORDER BY name")
                                : prep(s, RQ_PIC_LIST,
                                       "SELECT name, media_type, size, updated_at, NULL FROM record_pictures "
                                       "WHERE record_id = ? ORDER BY name");
    enum kw_err err = KW_OK;
    size_t i;
    int rc = SQLITE_DONE;

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, record_id);
    while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct kw_record_picture *p = &items[*n];
        memset(p, 0, sizeof(*p));
        kw_sq_text(q, 0, p->name, sizeof(p->name));
        kw_sq_text(q, 1, p->media_type, sizeof(p->media_type));
        p->size = sqlite3_column_int64(q, 2);
        p->updated_at = sqlite3_column_int64(q, 3);
        (*n)++;
        if (dup_blob(q, 4, &p->ct, &p->ct_len) != 0) {
            err = KW_ERR_NOMEM;
            break;
        }
    }
    if (err == KW_OK && *n < cap && rc != SQLITE_DONE)
        err = kw_sq_fail(s, "record_picture_list", rc);
    fin(s, q);
    if (err != KW_OK) {
        for (i = 0; i < *n; i++)
            kw_record_picture_free(&items[i]);
        *n = 0;
    }
    return err;
}

enum kw_err kw_sq_record_picture_wipe(struct kw_tx *tx, const char *record_id)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, RQ_PIC_WIPE, "UPDATE record_pictures SET ct = NULL WHERE record_id = ?");
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, record_id);
    err = step_done(s, q, "record_picture_wipe");
    fin(s, q);
    return err;
}

enum kw_err kw_sq_record_history_append(struct kw_tx *tx, const char *record_id, struct kw_record_history *h)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, RQ_HIST_APPEND,
                           "INSERT INTO record_history(record_id, seq, at, actor_type, actor_id, from_status, "
                           "to_status, comment) SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7 "
                           "FROM record_history WHERE record_id = ?1 RETURNING seq");
    int64_t seq = 0;
    enum kw_err err;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, record_id);
    sqlite3_bind_int64(q, 2, h->at);
    KW_SQ_FIELD(q, 3, h->actor_type);
    KW_SQ_FIELD(q, 4, h->actor_id);
    KW_SQ_FIELD(q, 5, h->from_status);
    KW_SQ_FIELD(q, 6, h->to_status);
    KW_SQ_FIELD(q, 7, h->comment);
    if (sqlite3_step(q) == SQLITE_ROW) {
        seq = sqlite3_column_int64(q, 0);
        err = step_done(s, q, "record_history_append");
    } else {
        err = kw_sq_fail(s, "record_history_append", sqlite3_errcode(s->db));
    }
    if (err == KW_OK)
        h->seq = seq;
    fin(s, q);
    return err;
}

enum kw_err kw_sq_record_history_list(struct kw_tx *tx, const char *record_id, struct kw_record_history *items,
                                      size_t cap, size_t *n)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, RQ_HIST_LIST,
                           "SELECT seq, at, actor_type, actor_id, from_status, to_status, comment "
                           "FROM record_history WHERE record_id = ? ORDER BY seq LIMIT ?");
    enum kw_err err = KW_OK;
    int rc = SQLITE_DONE;

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, record_id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)cap);
    while (*n < cap && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct kw_record_history *h = &items[(*n)++];
        memset(h, 0, sizeof(*h));
        h->seq = sqlite3_column_int64(q, 0);
        h->at = sqlite3_column_int64(q, 1);
        kw_sq_text(q, 2, h->actor_type, sizeof(h->actor_type));
        kw_sq_text(q, 3, h->actor_id, sizeof(h->actor_id));
        kw_sq_text(q, 4, h->from_status, sizeof(h->from_status));
        kw_sq_text(q, 5, h->to_status, sizeof(h->to_status));
        kw_sq_text(q, 6, h->comment, sizeof(h->comment));
    }
    if (*n < cap && rc != SQLITE_DONE)
        err = kw_sq_fail(s, "record_history_list", rc);
    fin(s, q);
    return err;
}

/* A TRUNCATE checkpoint: every frame goes into the database file and the log is cut to zero bytes, so
 * the pages an archive rewrote have no older copy left in keyward.db-wal. Waits for readers through the
 * busy handler; busy after that is KW_ERR_RETRY (the next archive's checkpoint catches up). */
enum kw_err kw_sq_scrub(struct kw_store *st)
{
    struct kw_sqlite *s = SQ(st);
    enum kw_err err = KW_OK;
    int rc;

    pthread_mutex_lock(&s->mu);
    rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (rc != SQLITE_OK)
        err = kw_sq_fail(s, "scrub", rc);
    pthread_mutex_unlock(&s->mu);
    return err;
}
