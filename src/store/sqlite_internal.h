/* sqlite_internal.h - shared by the SQLite backend files. */
#ifndef KW_STORE_SQLITE_INTERNAL_H
#define KW_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "store/store_internal.h"

/* One slot per cached prepared statement. */
enum kw_sq_stmt {
    SQ_META_GET, SQ_META_SET,
    SQ_SVC_INSERT, SQ_SVC_GET, SQ_SVC_LIST, SQ_SVC_UPDATE, SQ_SVC_DELETE, SQ_SVC_LIVE,
    SQ_KEY_INSERT, SQ_KEY_GET, SQ_KEY_LIST, SQ_KEY_UPDATE, SQ_KEY_DELETE, SQ_KEY_EACH, SQ_KEY_TOUCH,
    SQ_KEY_DELETE_SVC, SQ_USAGE_ADD, SQ_USAGE_DELETE_SVC,
    SQ_USAGE_LIST, SQ_USER_INSERT, SQ_USER_GET, SQ_USER_LIST, SQ_USER_UPDATE, SQ_USER_DELETE,
    SQ_SESS_INSERT, SQ_SESS_GET, SQ_SESS_TOUCH, SQ_SESS_DELETE, SQ_SESS_DELETE_USER,
    SQ_MEM_INSERT, SQ_MEM_GET, SQ_MEM_LIST_SVC, SQ_MEM_LIST_USER, SQ_MEM_UPDATE, SQ_MEM_DELETE, SQ_MEM_DELETE_USER,
    SQ_SVC_LIST_FOR,
    SQ_AUDIT_HEAD, SQ_AUDIT_APPEND, SQ_AUDIT_EACH,
    SQ_VERSION_NEXT, SQ_KEY_TOMB, SQ_KEY_TOMB_SVC, SQ_KEY_TOMB_GET, SQ_USER_LOGIN, SQ_USER_ADMINS,
    SQ_SESS_DELETE_USER_KEEP, SQ_VERSION_CURRENT, SQ_KEY_CHANGES, SQ_TOMB_CHANGES,
    /* machine credentials (sqlite_svcusers.c) */
    SQ_SU_DELETE_SVC, SQ_SU_INSERT, SQ_SU_GET, SQ_SU_LIST, SQ_SU_UPDATE, SQ_SU_DELETE,
    SQ_KEY_LIST_KIND, SQ_KEY_LIST_OWNER, SQ_KEY_GET_HASH, SQ_KEY_OWNER_ENABLED, SQ_KEY_TOMB_OWNER,
    SQ_KEY_DELETE_OWNER,
    /* transaction control (sqlite.c): cached, so a short read is not two sqlite3_exec parses */
    SQ_TX_BEGIN, SQ_TX_BEGIN_IMMEDIATE, SQ_TX_COMMIT, SQ_TX_ROLLBACK,
    SQ_NSTMT
};

/* kw_store_audit_list composes its WHERE clause from fixed fragments, one bit per filter present, so
 * each shape can use its index; one cached statement per shape (sqlite_audit.c). */
#define KW_SQ_AUDIT_SHAPES 256
/* Cached statements of sqlite_records.c (its own numbering, enum rq_stmt there). */
#define KW_SQ_RECORD_STMTS 16

/* Read-only transactions (KW_TX_READ) of the main store run on connections of their own, so a read
 * never queues behind a write transaction that holds the main connection (its BEGIN IMMEDIATE waiting
 * for the write-behind connection's batch, its fsync), and reads on different threads run side by
 * side, as WAL allows. Each reader is a struct kw_sqlite with its own mutex and statement caches. */
#define KW_SQ_READERS 4

struct kw_sqlite {
    struct kw_store base;
    sqlite3 *db;
    pthread_mutex_t mu; /* recursive: a transaction holds it from begin to commit/rollback */
    struct kw_tx tx;    /* the one transaction this connection can have open (under mu) */
    sqlite3_stmt *stmts[SQ_NSTMT];
    sqlite3_stmt *audit_list[KW_SQ_AUDIT_SHAPES];
    sqlite3_stmt *rows[2][KW_TABLE_COUNT]; /* kw_store_row_each [0] and row_put [1] per table */
    sqlite3_stmt *records[KW_SQ_RECORD_STMTS]; /* sqlite_records.c */
    struct kw_sqlite *readers[KW_SQ_READERS];  /* the main store's read connections (none on a reader) */
    size_t nreaders;
    unsigned next_reader; /* where the next read starts looking for a free reader (a hint: races are harmless) */
    char path[1024];
};

/* Locks the connection and returns the cached statement for slot (prepared on first use), reset and
 * with bindings cleared; NULL (logged, unlocked) if it cannot be prepared. */
sqlite3_stmt *kw_sq_begin(struct kw_sqlite *s, enum kw_sq_stmt slot, const char *sql);
/* The same for a statement cached in *slot (sql is only read when *slot is still NULL). */
sqlite3_stmt *kw_sq_begin_at(struct kw_sqlite *s, sqlite3_stmt **slot, const char *sql);
/* Resets the statement and unlocks. */
void kw_sq_end(struct kw_sqlite *s, sqlite3_stmt *st);
/* Locks the connection and prepares sql for one use (not cached); NULL (logged, unlocked) on failure.
 * kw_sq_once_end finalizes it and unlocks. */
sqlite3_stmt *kw_sq_once(struct kw_sqlite *s, const char *sql);
void kw_sq_once_end(struct kw_sqlite *s, sqlite3_stmt *q);
/* Logs the database's message for op and returns KW_ERR_STORE (KW_ERR_EXISTS on a unique violation,
 * KW_ERR_RETRY when SQLite is busy or locked). */
enum kw_err kw_sq_fail(struct kw_sqlite *s, const char *op, int rc);
/* Copies a text column into dst (cap bytes, NUL-terminated, truncated). */
void kw_sq_text(sqlite3_stmt *st, int col, char *dst, size_t cap);
/* Runs a statement that returns one integer (a count, a RETURNING value) into *out; KW_ERR_NOT_FOUND
 * when it returns no row. Then kw_sq_end. */
enum kw_err kw_sq_scalar(struct kw_sqlite *s, sqlite3_stmt *q, int64_t *out, const char *op);
/* Runs a statement that returns no rows: KW_OK, or kw_sq_fail. */
enum kw_err kw_sq_done(struct kw_sqlite *s, sqlite3_stmt *st, const char *op);
/* Several statements as one unit, whether or not the caller has a transaction open: locks the
 * connection and opens a SAVEPOINT; atomic_end releases it when err is KW_OK, else rolls it back,
 * unlocks and returns the final error. */
enum kw_err kw_sq_atomic_begin(struct kw_sqlite *s);
enum kw_err kw_sq_atomic_end(struct kw_sqlite *s, enum kw_err err);
/* Binds a fixed-size text field, reading at most its size even if a caller left it unterminated. */
#define KW_SQ_FIELD(q, i, field) \
    sqlite3_bind_text(q, i, field, (int)strnlen(field, sizeof(field)), SQLITE_STATIC)

extern const struct kw_store_ops kw_sqlite_ops;

/* Row operations (sqlite_rows.c, sqlite_people.c, sqlite_audit.c). */
enum kw_err kw_sq_meta_get(struct kw_tx *tx, const char *name, char *out, size_t cap);
enum kw_err kw_sq_meta_set(struct kw_tx *tx, const char *name, const char *value);
enum kw_err kw_sq_service_insert(struct kw_tx *tx, struct kw_service *svc);
enum kw_err kw_sq_service_get(struct kw_tx *tx, const char *id, struct kw_service *out);
enum kw_err kw_sq_service_list(struct kw_tx *tx, int64_t after, struct kw_service *items, size_t cap, size_t *n);
enum kw_err kw_sq_service_update(struct kw_tx *tx, const struct kw_service *svc);
enum kw_err kw_sq_service_delete(struct kw_tx *tx, const char *id, int64_t version);
enum kw_err kw_sq_service_live_keys(struct kw_tx *tx, const char *id, int64_t now_ms, int64_t *count);
enum kw_err kw_sq_key_insert(struct kw_tx *tx, struct kw_key *key);
enum kw_err kw_sq_key_get(struct kw_tx *tx, const char *id, struct kw_key *out);
enum kw_err kw_sq_key_list(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_key *items,
                           size_t cap, size_t *n);
enum kw_err kw_sq_key_update(struct kw_tx *tx, const struct kw_key *key);
enum kw_err kw_sq_key_delete(struct kw_tx *tx, const char *id, int64_t version);
enum kw_err kw_sq_key_tombstone_get(struct kw_tx *tx, const char *id, struct kw_key *out);
enum kw_err kw_sq_version_next(struct kw_tx *tx, int64_t *version);
enum kw_err kw_sq_key_each(struct kw_tx *tx, kw_store_key_cb cb, void *ctx);
enum kw_err kw_sq_version_current(struct kw_tx *tx, int64_t *version);
enum kw_err kw_sq_key_changes(struct kw_tx *tx, int64_t since, kw_store_change_cb cb, void *ctx);
enum kw_err kw_sq_key_touch(struct kw_tx *tx, const char *id, int64_t at, const char *ip);
enum kw_err kw_sq_usage_add(struct kw_tx *tx, const char *key_id, const char *service_id, int64_t minute_ms,
                            int64_t valid, int64_t denied);
enum kw_err kw_sq_usage_list(struct kw_tx *tx, const char *service_id, int64_t from_ms,
                             struct kw_usage_point *items, size_t cap, size_t *n);
enum kw_err kw_sq_user_insert(struct kw_tx *tx, struct kw_user *u);
enum kw_err kw_sq_user_get(struct kw_tx *tx, const char *username, struct kw_user *out);
enum kw_err kw_sq_user_list(struct kw_tx *tx, int64_t after, struct kw_user *items, size_t cap, size_t *n);
enum kw_err kw_sq_user_update(struct kw_tx *tx, const struct kw_user *u);
enum kw_err kw_sq_user_delete(struct kw_tx *tx, const char *username);
enum kw_err kw_sq_user_login(struct kw_tx *tx, const struct kw_user *u, int64_t at);
enum kw_err kw_sq_user_count_admins(struct kw_tx *tx, int64_t *count);
enum kw_err kw_sq_session_insert(struct kw_tx *tx, const struct kw_session *s);
enum kw_err kw_sq_session_get(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out);
enum kw_err kw_sq_session_touch(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen);
enum kw_err kw_sq_session_delete(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN]);
enum kw_err kw_sq_session_delete_user(struct kw_tx *tx, const char *username, const uint8_t *keep);
enum kw_err kw_sq_member_insert(struct kw_tx *tx, struct kw_member *m);
enum kw_err kw_sq_member_get(struct kw_tx *tx, const char *service_id, const char *username,
                             struct kw_member *out);
enum kw_err kw_sq_member_list(struct kw_tx *tx, const char *service_id, const char *username, int64_t after,
                              struct kw_member *items, size_t cap, size_t *n);
enum kw_err kw_sq_member_update(struct kw_tx *tx, const struct kw_member *m);
enum kw_err kw_sq_member_delete(struct kw_tx *tx, const char *service_id, const char *username);
enum kw_err kw_sq_service_list_for(struct kw_tx *tx, const char *username, int64_t after,
                                   struct kw_service *items, size_t cap, size_t *n);
/* Shared by row files: run a one-row-per-step SELECT into items via row(). */
typedef void (*kw_sq_row_fn)(sqlite3_stmt *q, void *item);
enum kw_err kw_sq_collect(struct kw_sqlite *s, sqlite3_stmt *q, kw_sq_row_fn row, void *items, size_t item_size,
                          size_t cap, size_t *n, const char *op);
/* Row reader for the services columns "seq, id, name, description, key_prefix, created_at, updated_at". */
void kw_sq_service_row(sqlite3_stmt *q, void *item);
enum kw_err kw_sq_audit_head(struct kw_tx *tx, int64_t *seq, uint8_t hash[KW_HASH_LEN]);
enum kw_err kw_sq_audit_append(struct kw_tx *tx, const struct kw_audit_event *ev);
enum kw_err kw_sq_audit_list(struct kw_tx *tx, const struct kw_audit_filter *f, struct kw_audit_event *items,
                             size_t cap, size_t *n);
enum kw_err kw_sq_audit_each(struct kw_tx *tx, kw_store_audit_cb cb, void *ctx);
enum kw_err kw_sq_row_each(struct kw_tx *tx, enum kw_store_table t, kw_store_row_cb cb, void *ctx);
enum kw_err kw_sq_row_put(struct kw_tx *tx, const struct kw_store_row *row);

/* Machine credentials (sqlite_svcusers.c). */
enum kw_err kw_sq_key_list_kind(struct kw_tx *tx, const char *service_id, const char *service_user_id,
                                const char *kind, int64_t after, struct kw_key *items, size_t cap, size_t *n);
enum kw_err kw_sq_key_get_hash(struct kw_tx *tx, const uint8_t hash[KW_HASH_LEN], struct kw_key *out);
enum kw_err kw_sq_key_set_owner_enabled(struct kw_tx *tx, const char *service_user_id, int enabled,
                                        int64_t version, int64_t now_ms, int64_t *changed);
enum kw_err kw_sq_key_delete_owner(struct kw_tx *tx, const char *service_user_id, int64_t version);
enum kw_err kw_sq_service_user_insert(struct kw_tx *tx, struct kw_service_user *su);
enum kw_err kw_sq_service_user_get(struct kw_tx *tx, const char *id, struct kw_service_user *out);
enum kw_err kw_sq_service_user_list(struct kw_tx *tx, const char *service_id, int64_t after,
                                    struct kw_service_user *items, size_t cap, size_t *n);
enum kw_err kw_sq_service_user_update(struct kw_tx *tx, const struct kw_service_user *su);
enum kw_err kw_sq_service_user_delete(struct kw_tx *tx, const char *id);
/* The keys columns (sqlite_rows.c): KW_SQ_KEY_COLS, read from column c0 on by kw_sq_key_row_at. */
#define KW_SQ_KEY_COLS                                                                                       \
    "seq, id, service_id, hash, start, description, scope, perms, enabled, created_at, created_by, "   \
    "updated_at, expires_at, revoked_at, archive_after_extract_s, last_used_at, last_used_ip, rolled_from, "  \
    "version, rolled_to, kind, service_user_id, owner_enabled, sealed, require_encryption"
/* Tombstones of the keys a WHERE clause appended to this selects (parameters: version, now, the WHERE's). */
#define KW_SQ_TOMB_INSERT                                                                                    \
    "INSERT OR REPLACE INTO key_tombstones(id, service_id, hash, start, description, created_at, "     \
    "version, deleted_at, kind, service_user_id) SELECT id, service_id, hash, start, description, "     \
    "created_at, ?, ?, kind, service_user_id FROM keys "
void kw_sq_key_row_at(sqlite3_stmt *q, int c0, struct kw_key *k);
void kw_sq_key_row(sqlite3_stmt *q, void *item);
/* Copies the keys matching sql's WHERE (third parameter, text) into key_tombstones with version. */
enum kw_err kw_sq_key_tombstone(struct kw_tx *tx, enum kw_sq_stmt slot, const char *sql, const char *param,
                                int64_t version);

/* Shared state (sqlite_shared.c). */
enum kw_err kw_sq_throttle_reserve(struct kw_tx *tx, const char *key, int limit, int64_t now_ms,
                                   int64_t window_ms, int *reserved, struct kw_throttle_row *row);
enum kw_err kw_sq_throttle_settle(struct kw_tx *tx, const char *key, enum kw_store_settle how, int64_t now_ms,
                                  int64_t window_ms);
enum kw_err kw_sq_throttle_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted);
enum kw_err kw_sq_session_purge(struct kw_tx *tx, int64_t now_ms, int64_t idle_before_ms, int64_t *deleted);
enum kw_err kw_sq_job_ensure(struct kw_tx *tx, const char *name, int64_t next_run_at);
enum kw_err kw_sq_job_lease(struct kw_tx *tx, const char *name, const char *node, int64_t now_ms,
                            int64_t lease_ms, struct kw_job *out);
enum kw_err kw_sq_job_finish(struct kw_tx *tx, const struct kw_job *lease, int64_t now_ms,
                             int64_t next_run_at, const char *error);
enum kw_err kw_sq_job_get(struct kw_tx *tx, const char *name, struct kw_job *out);
/* sqlite_nonces.c */
enum kw_err kw_sq_nonce_insert(struct kw_tx *tx, const char *scope, const char *value, int64_t created_at);
enum kw_err kw_sq_nonce_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted);

/* Signing keys (sqlite_signing.c). */
enum kw_err kw_sq_signing_key_insert(struct kw_tx *tx, const struct kw_signing_key *k);
enum kw_err kw_sq_signing_key_list(struct kw_tx *tx, struct kw_signing_key *items, size_t cap, size_t *n);
enum kw_err kw_sq_signing_key_update(struct kw_tx *tx, const struct kw_signing_key *k);
enum kw_err kw_sq_signing_key_delete(struct kw_tx *tx, const char *kid);
enum kw_err kw_sq_signing_key_stamp(struct kw_tx *tx, int64_t *max_version, int64_t *count);
/* Response-encryption keys (sqlite_enckeys.c). */
enum kw_err kw_sq_enc_key_insert(struct kw_tx *tx, const struct kw_enc_key *k);
enum kw_err kw_sq_enc_key_list(struct kw_tx *tx, struct kw_enc_key *items, size_t cap, size_t *n);
enum kw_err kw_sq_enc_key_update(struct kw_tx *tx, const struct kw_enc_key *k);
enum kw_err kw_sq_enc_key_delete(struct kw_tx *tx, const char *kid);
enum kw_err kw_sq_enc_key_stamp(struct kw_tx *tx, int64_t *max_version, int64_t *count);

/* Identity records (sqlite_records.c). */
enum kw_err kw_sq_scrub(struct kw_store *st);
enum kw_err kw_sq_record_insert(struct kw_tx *tx, struct kw_record *r);
enum kw_err kw_sq_record_get(struct kw_tx *tx, const char *service_id, const char *ref_id, struct kw_record *out);
enum kw_err kw_sq_record_get_id(struct kw_tx *tx, const char *id, struct kw_record *out);
enum kw_err kw_sq_record_list(struct kw_tx *tx, const struct kw_record_filter *f, struct kw_record *items,
                              size_t cap, size_t *n);
enum kw_err kw_sq_record_update(struct kw_tx *tx, const struct kw_record *r);
enum kw_err kw_sq_record_due(struct kw_tx *tx, int64_t now_ms, char (*ids)[KW_ID_MAX], size_t cap, size_t *n);
enum kw_err kw_sq_record_picture_put(struct kw_tx *tx, const char *record_id, const struct kw_record_picture *p);
enum kw_err kw_sq_record_picture_list(struct kw_tx *tx, const char *record_id, int with_data,
                                      struct kw_record_picture *items, size_t cap, size_t *n);
enum kw_err kw_sq_record_picture_wipe(struct kw_tx *tx, const char *record_id);
enum kw_err kw_sq_record_history_append(struct kw_tx *tx, const char *record_id, struct kw_record_history *h);
enum kw_err kw_sq_record_history_list(struct kw_tx *tx, const char *record_id, struct kw_record_history *items,
                                      size_t cap, size_t *n);

/* Documents (sqlite_documents.c). */
enum kw_err kw_sq_document_insert(struct kw_tx *tx, struct kw_document *d);
enum kw_err kw_sq_document_get(struct kw_tx *tx, const char *id, struct kw_document *out);
enum kw_err kw_sq_document_get_idem(struct kw_tx *tx, const char *service_id, const char *key,
                                    struct kw_document *out);
enum kw_err kw_sq_document_list(struct kw_tx *tx, const struct kw_document_filter *f, struct kw_document *items,
                                size_t cap, size_t *n);
enum kw_err kw_sq_document_content_put(struct kw_tx *tx, const char *id, int64_t nchunks, size_t rec_size,
                                       kw_store_chunk_fn fn, void *ctx);
enum kw_err kw_sq_document_chunk_get(struct kw_tx *tx, const char *id, int64_t index, size_t rec_size,
                                     uint8_t *buf, size_t cap, size_t *len);
enum kw_err kw_sq_document_shred(struct kw_tx *tx, const char *id, int64_t deleted_at);
enum kw_err kw_sq_document_content_drop(struct kw_store *st, const char *id);
/* Re-keying (sqlite_rekey.c). */
enum kw_err kw_sq_document_dek_set(struct kw_tx *tx, const char *id, const uint8_t *sealed, size_t len);
enum kw_err kw_sq_document_content_stage(struct kw_store *st, const char *id, int64_t nchunks, size_t rec_size,
                                         kw_store_chunk_fn fn, void *ctx, int *staged);
enum kw_err kw_sq_document_content_done(struct kw_store *st, const char *id);
enum kw_err kw_sq_document_content_recover(struct kw_store *st, int *settled);
/* Webhook delivery leases (sqlite_deliver.c / postgres_deliver.c). */
enum kw_err kw_sq_delivery_lease(struct kw_tx *tx, const char *node, int64_t now_ms, int64_t lease_ms,
                                 struct kw_delivery_lease *items, size_t cap, size_t *n);
enum kw_err kw_sq_delivery_record(struct kw_tx *tx, const struct kw_delivery_lease *lease,
                                  const struct kw_delivery_attempt *a);
enum kw_err kw_sq_delivery_release(struct kw_tx *tx, const char *node, const char *id, int64_t *released);
enum kw_err kw_sq_webhook_gone(struct kw_tx *tx, const char *webhook_id, int64_t now_ms, int64_t *failed);
/* Webhooks (sqlite_webhooks.c). */
enum kw_err kw_sq_webhook_insert(struct kw_tx *tx, struct kw_webhook *w);
enum kw_err kw_sq_webhook_get(struct kw_tx *tx, const char *id, struct kw_webhook *out);
enum kw_err kw_sq_webhook_list(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_webhook *items,
                               size_t cap, size_t *n);
enum kw_err kw_sq_webhook_update(struct kw_tx *tx, const struct kw_webhook *w);
enum kw_err kw_sq_webhook_delete(struct kw_tx *tx, const char *id);
enum kw_err kw_sq_webhook_count(struct kw_tx *tx, const char *service_id, int64_t *total, int64_t *enabled);
enum kw_err kw_sq_webhook_delivery_insert(struct kw_tx *tx, struct kw_webhook_delivery *d);
enum kw_err kw_sq_webhook_delivery_get(struct kw_tx *tx, const char *id, struct kw_webhook_delivery *out);
enum kw_err kw_sq_webhook_delivery_list(struct kw_tx *tx, const char *webhook_id, int64_t before,
                                        struct kw_webhook_delivery *items, size_t cap, size_t *n);
enum kw_err kw_sq_webhook_delivery_retry(struct kw_tx *tx, const char *id, int64_t now_ms);
enum kw_err kw_sq_webhook_attempt_insert(struct kw_tx *tx, const struct kw_webhook_attempt *a);
enum kw_err kw_sq_webhook_attempt_list(struct kw_tx *tx, const char *delivery_id,
                                       struct kw_webhook_attempt *items, size_t cap, size_t *n);

#endif
