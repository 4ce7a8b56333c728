/* postgres_internal.h - shared by the PostgreSQL backend files (postgres*.c).
 *
 * A struct kw_pg is a small pool of libpq connections on one URI. kw_store_begin takes a free
 * connection (waiting up to a deadline), and the transaction (struct kw_pg_tx, which begins with
 * struct kw_tx) carries it until commit or rollback returns it. A connection is used by one thread at
 * a time: the one that holds its transaction. Row operations run one statement each through
 * kw_pg_exec with their parameters in a struct kw_pg_params. */
#ifndef KW_STORE_POSTGRES_INTERNAL_H
#define KW_STORE_POSTGRES_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "store/store_internal.h"

struct kw_pg_conn;

struct kw_pg_tx {
    struct kw_tx base;
    struct kw_pg_conn *c;
    enum kw_err failed; /* set when a statement failed outside a savepoint: the transaction is aborted */
    int savepoint;      /* nesting depth of kw_pg_atomic_begin */
};

struct kw_pg_conn {
    PGconn *conn; /* NULL until first used, and again after a call ran past its deadline */
    int busy;     /* under kw_pg.mu */
    struct kw_pg_tx tx;
};

struct kw_pg {
    struct kw_store base;
    pthread_mutex_t mu;
    pthread_cond_t freed;
    int n;                    /* pool size */
    struct kw_pg_conn *conns; /* n slots */
    int statement_timeout_ms; /* also the longest begin waits for a free connection */
    int relaxed;              /* synchronous_commit=off (the write-behind handle) */
    struct kw_pg_conn listen; /* LISTEN keyward_changes (kw_store_wait_change), its own connection */
    _Atomic int64_t down_until_ms; /* after a call ran past its deadline: begin fails fast until then */
    pthread_mutex_t listen_mu;
    char uri[1024];
};

#define KW_PG(st) ((struct kw_pg *)(st))
#define KW_PG_CHANNEL "keyward_changes" /* NOTIFY'd with the version of every credential change */
#define KW_PG_TX(t) ((struct kw_pg_tx *)(t))

/* Parameters of one statement. Text and bytea go in binary format with their lengths (so a record
 * field is read only up to its size even if unterminated), integers as decimal text. */
#define KW_PG_MAXP 32
struct kw_pg_params {
    int n;
    const char *v[KW_PG_MAXP];
    int len[KW_PG_MAXP];
    int fmt[KW_PG_MAXP];
    char num[KW_PG_MAXP][24];
};
void kw_pg_text(struct kw_pg_params *p, const char *s);
void kw_pg_field(struct kw_pg_params *p, const char *field, size_t size);
void kw_pg_int(struct kw_pg_params *p, int64_t v);
void kw_pg_blob(struct kw_pg_params *p, const uint8_t *b, size_t len);
#define KW_PG_FIELD(p, field) kw_pg_field(p, field, sizeof(field))

/* The client-side deadline of one call: the server's statement_timeout, plus this margin. A server
 * that stops answering (a hung process, a network path that still acknowledges) cannot end a call
 * by itself; past the deadline the connection is dropped and the call fails like a lost connection
 * (KW_ERR_RETRY), and for KW_PG_DOWN_MS every begin fails fast instead of waiting again. */
#define KW_PG_DEADLINE_MARGIN_MS 1000
#define KW_PG_DOWN_MS 1000
/* PQexec (p NULL: several statements allowed) or PQexecParams with that deadline; timeout_ms <= 0
 * waits as long as it takes. NULL (connection dropped, c->conn NULL) when the deadline passed or the
 * connection broke; otherwise the last result, as PQexec returns it. */
PGresult *kw_pg_call(struct kw_pg *pg, struct kw_pg_conn *c, const char *sql, const struct kw_pg_params *p,
                     int timeout_ms);
/* The next result of a query sent with PQsendQuery*, waiting at most timeout_ms for it (<= 0: as long
 * as it takes); NULL at the end, and NULL with c->conn dropped when the deadline passed. */
PGresult *kw_pg_next_result(struct kw_pg *pg, struct kw_pg_conn *c, int timeout_ms, int *timed_out);
/* Runs sql with p (may be NULL) in tx. Returns the result (PQclear it) with *err = KW_OK, or NULL
 * with *err from kw_pg_fail. */
PGresult *kw_pg_exec(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                     enum kw_err *err);
/* kw_pg_exec for a statement that returns no rows the caller needs; *changed (may be NULL) = rows
 * affected. */
enum kw_err kw_pg_run(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                      int64_t *changed);
/* kw_pg_run inside its own savepoint, for a statement that may fail with an answer the caller
 * handles (KW_ERR_EXISTS, a foreign key): the transaction stays usable, as on SQLite. */
enum kw_err kw_pg_run_sp(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                         int64_t *changed);
/* An INSERT ... RETURNING seq in its own savepoint (a duplicate answers KW_ERR_EXISTS and the
 * transaction lives on); *seq set on success. */
enum kw_err kw_pg_insert_seq(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, const char *op,
                             int64_t *seq);
/* Several statements as one unit inside tx: atomic_end releases the savepoint when err is KW_OK,
 * else rolls back to it (so the transaction stays usable) and returns err. */
enum kw_err kw_pg_atomic_begin(struct kw_tx *tx);
enum kw_err kw_pg_atomic_end(struct kw_tx *tx, enum kw_err err);
/* Streams the rows of sql one at a time to row(ctx, res, 0); a non-zero return stops the walk with
 * KW_ERR_INTERNAL. */
typedef int (*kw_pg_each_fn)(void *ctx, const PGresult *res);
enum kw_err kw_pg_each(struct kw_tx *tx, const char *sql, const struct kw_pg_params *p, kw_pg_each_fn row,
                       void *ctx, const char *op);
/* Maps a failed result (or NULL: the connection) to a kw_err and logs the server's message:
 * 23505 -> KW_ERR_EXISTS; serialization failure, deadlock, lock not available, statement timeout and a
 * lost connection -> KW_ERR_RETRY; anything else KW_ERR_STORE. Never logs the URI. */
enum kw_err kw_pg_fail(struct kw_pg_conn *c, const PGresult *res, const char *op);

/* Column readers (text results): NULL reads as 0 / "" / zero bytes. */
int64_t kw_pg_get_int(const PGresult *res, int row, int col);
void kw_pg_get_text(const PGresult *res, int row, int col, char *dst, size_t cap);
void kw_pg_get_blob(const PGresult *res, int row, int col, uint8_t *dst, size_t len);
/* Collects up to cap rows of res into items via row(). */
typedef void (*kw_pg_row_fn)(const PGresult *res, int row, void *item);
void kw_pg_collect(const PGresult *res, kw_pg_row_fn row, void *items, size_t item_size, size_t cap,
                   size_t *n);
/* One row into out via row(); KW_ERR_NOT_FOUND if the result is empty. PQclears res. */
enum kw_err kw_pg_one(PGresult *res, kw_pg_row_fn row, void *out);
/* " FOR UPDATE" in a write transaction (store.h: rows a write transaction reads stay as read), else "". */
const char *kw_pg_lock(const struct kw_tx *tx);

extern const struct kw_store_ops kw_pg_ops;

/* Row operations (postgres_rows.c, postgres_people.c, postgres_audit.c). */
enum kw_err kw_pg_meta_get(struct kw_tx *tx, const char *name, char *out, size_t cap);
enum kw_err kw_pg_meta_set(struct kw_tx *tx, const char *name, const char *value);
enum kw_err kw_pg_version_next(struct kw_tx *tx, int64_t *version);
enum kw_err kw_pg_service_insert(struct kw_tx *tx, struct kw_service *svc);
enum kw_err kw_pg_service_get(struct kw_tx *tx, const char *id, struct kw_service *out);
enum kw_err kw_pg_service_list(struct kw_tx *tx, int64_t after, struct kw_service *items, size_t cap,
                               size_t *n);
enum kw_err kw_pg_service_update(struct kw_tx *tx, const struct kw_service *svc);
enum kw_err kw_pg_service_delete(struct kw_tx *tx, const char *id, int64_t version);
enum kw_err kw_pg_service_live_keys(struct kw_tx *tx, const char *id, int64_t now_ms, int64_t *count);
enum kw_err kw_pg_key_insert(struct kw_tx *tx, struct kw_key *key);
enum kw_err kw_pg_key_get(struct kw_tx *tx, const char *id, struct kw_key *out);
enum kw_err kw_pg_key_list(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_key *items,
                           size_t cap, size_t *n);
enum kw_err kw_pg_key_update(struct kw_tx *tx, const struct kw_key *key);
enum kw_err kw_pg_key_delete(struct kw_tx *tx, const char *id, int64_t version);
enum kw_err kw_pg_key_tombstone_get(struct kw_tx *tx, const char *id, struct kw_key *out);
enum kw_err kw_pg_key_each(struct kw_tx *tx, kw_store_key_cb cb, void *ctx);
enum kw_err kw_pg_version_current(struct kw_tx *tx, int64_t *version);
enum kw_err kw_pg_key_changes(struct kw_tx *tx, int64_t since, kw_store_change_cb cb, void *ctx);
enum kw_err kw_pg_key_touch(struct kw_tx *tx, const char *id, int64_t at, const char *ip);
enum kw_err kw_pg_usage_add(struct kw_tx *tx, const char *key_id, const char *service_id, int64_t minute_ms,
                            int64_t valid, int64_t denied);
enum kw_err kw_pg_usage_list(struct kw_tx *tx, const char *service_id, int64_t from_ms,
                             struct kw_usage_point *items, size_t cap, size_t *n);
enum kw_err kw_pg_user_insert(struct kw_tx *tx, struct kw_user *u);
enum kw_err kw_pg_user_get(struct kw_tx *tx, const char *username, struct kw_user *out);
enum kw_err kw_pg_user_list(struct kw_tx *tx, int64_t after, struct kw_user *items, size_t cap, size_t *n);
enum kw_err kw_pg_user_update(struct kw_tx *tx, const struct kw_user *u);
enum kw_err kw_pg_user_delete(struct kw_tx *tx, const char *username);
enum kw_err kw_pg_user_login(struct kw_tx *tx, const struct kw_user *u, int64_t at);
enum kw_err kw_pg_user_count_admins(struct kw_tx *tx, int64_t *count);
enum kw_err kw_pg_session_insert(struct kw_tx *tx, const struct kw_session *s);
enum kw_err kw_pg_session_get(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out);
enum kw_err kw_pg_session_touch(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen);
enum kw_err kw_pg_session_delete(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN]);
enum kw_err kw_pg_session_delete_user(struct kw_tx *tx, const char *username, const uint8_t *keep);
enum kw_err kw_pg_member_insert(struct kw_tx *tx, struct kw_member *m);
enum kw_err kw_pg_member_get(struct kw_tx *tx, const char *service_id, const char *username,
                             struct kw_member *out);
enum kw_err kw_pg_member_list(struct kw_tx *tx, const char *service_id, const char *username, int64_t after,
                              struct kw_member *items, size_t cap, size_t *n);
enum kw_err kw_pg_member_update(struct kw_tx *tx, const struct kw_member *m);
enum kw_err kw_pg_member_delete(struct kw_tx *tx, const char *service_id, const char *username);
enum kw_err kw_pg_service_list_for(struct kw_tx *tx, const char *username, int64_t after,
                                   struct kw_service *items, size_t cap, size_t *n);
/* Row reader for the services columns "seq, id, name, description, key_prefix, created_at, updated_at". */
void kw_pg_service_row(const PGresult *res, int row, void *item);
enum kw_err kw_pg_audit_head(struct kw_tx *tx, int64_t *seq, uint8_t hash[KW_HASH_LEN]);
enum kw_err kw_pg_audit_append(struct kw_tx *tx, const struct kw_audit_event *ev);
enum kw_err kw_pg_audit_list(struct kw_tx *tx, const struct kw_audit_filter *f, struct kw_audit_event *items,
                             size_t cap, size_t *n);
enum kw_err kw_pg_audit_each(struct kw_tx *tx, kw_store_audit_cb cb, void *ctx);
enum kw_err kw_pg_row_each(struct kw_tx *tx, enum kw_store_table t, kw_store_row_cb cb, void *ctx);
enum kw_err kw_pg_row_put(struct kw_tx *tx, const struct kw_store_row *row);

/* The keys columns and their reader (postgres_rows.c); tombstones of the keys a WHERE clause ($3)
 * appended to KW_PG_TOMB_INSERT selects, KW_PG_TOMB_REPLACE after it ($1 version, $2 now). */
#define KW_PG_KEY_COLS                                                                                       \
    "seq, id, service_id, hash, start, description, scope, perms, enabled, created_at, created_by, "         \
    "updated_at, expires_at, revoked_at, archive_after_extract_s, last_used_at, last_used_ip, rolled_from, " \
    "version, rolled_to, kind, service_user_id, owner_enabled, sealed, require_encryption"
#define KW_PG_TOMB_INSERT                                                                                    \
    "INSERT INTO key_tombstones(id, service_id, hash, start, description, created_at, version, "             \
    "deleted_at, kind, service_user_id) SELECT id, service_id, hash, start, description, created_at, "       \
    "$1::bigint, $2::bigint, kind, service_user_id FROM keys "
#define KW_PG_TOMB_REPLACE                                                                                   \
    " ON CONFLICT (id) DO UPDATE SET service_id = excluded.service_id, hash = excluded.hash, "               \
    "start = excluded.start, description = excluded.description, created_at = excluded.created_at, "         \
    "version = excluded.version, deleted_at = excluded.deleted_at, kind = excluded.kind, "                   \
    "service_user_id = excluded.service_user_id"
void kw_pg_key_row(const PGresult *res, int row, void *item);
enum kw_err kw_pg_key_tombstone(struct kw_tx *tx, const char *sql, const char *param, int64_t version);
/* A bytea column of variable length into dst (cap bytes): its length, 0 when NULL, empty or too long. */
size_t kw_pg_get_bytes(const PGresult *res, int row, int col, uint8_t *dst, size_t cap);
/* Binds key->sealed, or NULL when the key has none. */
struct kw_key;
void kw_pg_sealed(struct kw_pg_params *p, const struct kw_key *key);

/* Machine credentials (postgres_svcusers.c). */
enum kw_err kw_pg_key_list_kind(struct kw_tx *tx, const char *service_id, const char *service_user_id,
                                const char *kind, int64_t after, struct kw_key *items, size_t cap, size_t *n);
enum kw_err kw_pg_key_get_hash(struct kw_tx *tx, const uint8_t hash[KW_HASH_LEN], struct kw_key *out);
enum kw_err kw_pg_key_set_owner_enabled(struct kw_tx *tx, const char *service_user_id, int enabled,
                                        int64_t version, int64_t now_ms, int64_t *changed);
enum kw_err kw_pg_key_delete_owner(struct kw_tx *tx, const char *service_user_id, int64_t version);
enum kw_err kw_pg_service_user_insert(struct kw_tx *tx, struct kw_service_user *su);
enum kw_err kw_pg_service_user_get(struct kw_tx *tx, const char *id, struct kw_service_user *out);
enum kw_err kw_pg_service_user_list(struct kw_tx *tx, const char *service_id, int64_t after,
                                    struct kw_service_user *items, size_t cap, size_t *n);
enum kw_err kw_pg_service_user_update(struct kw_tx *tx, const struct kw_service_user *su);
enum kw_err kw_pg_service_user_delete(struct kw_tx *tx, const char *id);

/* Shared state (postgres_shared.c). */
enum kw_err kw_pg_throttle_reserve(struct kw_tx *tx, const char *key, int limit, int64_t now_ms,
                                   int64_t window_ms, int *reserved, struct kw_throttle_row *row);
enum kw_err kw_pg_throttle_settle(struct kw_tx *tx, const char *key, enum kw_store_settle how, int64_t now_ms,
                                  int64_t window_ms);
enum kw_err kw_pg_throttle_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted);
enum kw_err kw_pg_session_purge(struct kw_tx *tx, int64_t now_ms, int64_t idle_before_ms, int64_t *deleted);
enum kw_err kw_pg_job_ensure(struct kw_tx *tx, const char *name, int64_t next_run_at);
enum kw_err kw_pg_job_lease(struct kw_tx *tx, const char *name, const char *node, int64_t now_ms,
                            int64_t lease_ms, struct kw_job *out);
enum kw_err kw_pg_job_finish(struct kw_tx *tx, const struct kw_job *lease, int64_t now_ms,
                             int64_t next_run_at, const char *error);
enum kw_err kw_pg_job_get(struct kw_tx *tx, const char *name, struct kw_job *out);
/* postgres_nonces.c */
enum kw_err kw_pg_nonce_insert(struct kw_tx *tx, const char *scope, const char *value, int64_t created_at);
enum kw_err kw_pg_nonce_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted);

/* Signing keys (postgres_signing.c). */
enum kw_err kw_pg_signing_key_insert(struct kw_tx *tx, const struct kw_signing_key *k);
enum kw_err kw_pg_signing_key_list(struct kw_tx *tx, struct kw_signing_key *items, size_t cap, size_t *n);
enum kw_err kw_pg_signing_key_update(struct kw_tx *tx, const struct kw_signing_key *k);
enum kw_err kw_pg_signing_key_delete(struct kw_tx *tx, const char *kid);
enum kw_err kw_pg_signing_key_stamp(struct kw_tx *tx, int64_t *max_version, int64_t *count);
/* Response-encryption keys (postgres_enckeys.c). */
enum kw_err kw_pg_enc_key_insert(struct kw_tx *tx, const struct kw_enc_key *k);
enum kw_err kw_pg_enc_key_list(struct kw_tx *tx, struct kw_enc_key *items, size_t cap, size_t *n);
enum kw_err kw_pg_enc_key_update(struct kw_tx *tx, const struct kw_enc_key *k);
enum kw_err kw_pg_enc_key_delete(struct kw_tx *tx, const char *kid);
enum kw_err kw_pg_enc_key_stamp(struct kw_tx *tx, int64_t *max_version, int64_t *count);

/* Identity records (postgres_records.c). */
enum kw_err kw_pg_record_insert(struct kw_tx *tx, struct kw_record *r);
enum kw_err kw_pg_record_get(struct kw_tx *tx, const char *service_id, const char *ref_id, struct kw_record *out);
enum kw_err kw_pg_record_get_id(struct kw_tx *tx, const char *id, struct kw_record *out);
enum kw_err kw_pg_record_list(struct kw_tx *tx, const struct kw_record_filter *f, struct kw_record *items,
                              size_t cap, size_t *n);
enum kw_err kw_pg_record_update(struct kw_tx *tx, const struct kw_record *r);
enum kw_err kw_pg_record_due(struct kw_tx *tx, int64_t now_ms, char (*ids)[KW_ID_MAX], size_t cap, size_t *n);
enum kw_err kw_pg_record_picture_put(struct kw_tx *tx, const char *record_id, const struct kw_record_picture *p);
enum kw_err kw_pg_record_picture_list(struct kw_tx *tx, const char *record_id, int with_data,
                                      struct kw_record_picture *items, size_t cap, size_t *n);
enum kw_err kw_pg_record_picture_wipe(struct kw_tx *tx, const char *record_id);
enum kw_err kw_pg_record_history_append(struct kw_tx *tx, const char *record_id, struct kw_record_history *h);
enum kw_err kw_pg_record_history_list(struct kw_tx *tx, const char *record_id, struct kw_record_history *items,
                                      size_t cap, size_t *n);

/* Documents (postgres_documents.c). */
enum kw_err kw_pg_document_insert(struct kw_tx *tx, struct kw_document *d);
enum kw_err kw_pg_document_get(struct kw_tx *tx, const char *id, struct kw_document *out);
enum kw_err kw_pg_document_get_idem(struct kw_tx *tx, const char *service_id, const char *key,
                                    struct kw_document *out);
enum kw_err kw_pg_document_list(struct kw_tx *tx, const struct kw_document_filter *f, struct kw_document *items,
                                size_t cap, size_t *n);
enum kw_err kw_pg_document_content_put(struct kw_tx *tx, const char *id, int64_t nchunks, size_t rec_size,
                                       kw_store_chunk_fn fn, void *ctx);
enum kw_err kw_pg_document_chunk_get(struct kw_tx *tx, const char *id, int64_t index, size_t rec_size,
                                     uint8_t *buf, size_t cap, size_t *len);
enum kw_err kw_pg_document_shred(struct kw_tx *tx, const char *id, int64_t deleted_at);

/* Webhooks (postgres_webhooks.c). */
enum kw_err kw_pg_webhook_insert(struct kw_tx *tx, struct kw_webhook *w);
enum kw_err kw_pg_webhook_get(struct kw_tx *tx, const char *id, struct kw_webhook *out);
enum kw_err kw_pg_webhook_list(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_webhook *items,
                               size_t cap, size_t *n);
enum kw_err kw_pg_webhook_update(struct kw_tx *tx, const struct kw_webhook *w);
enum kw_err kw_pg_webhook_delete(struct kw_tx *tx, const char *id);
enum kw_err kw_pg_webhook_count(struct kw_tx *tx, const char *service_id, int64_t *total, int64_t *enabled);
enum kw_err kw_pg_webhook_delivery_insert(struct kw_tx *tx, struct kw_webhook_delivery *d);
enum kw_err kw_pg_webhook_delivery_get(struct kw_tx *tx, const char *id, struct kw_webhook_delivery *out);
enum kw_err kw_pg_webhook_delivery_list(struct kw_tx *tx, const char *webhook_id, int64_t before,
                                        struct kw_webhook_delivery *items, size_t cap, size_t *n);
enum kw_err kw_pg_webhook_delivery_retry(struct kw_tx *tx, const char *id, int64_t now_ms);
enum kw_err kw_pg_webhook_attempt_insert(struct kw_tx *tx, const struct kw_webhook_attempt *a);
enum kw_err kw_pg_webhook_attempt_list(struct kw_tx *tx, const char *delivery_id,
                                       struct kw_webhook_attempt *items, size_t cap, size_t *n);

#endif
