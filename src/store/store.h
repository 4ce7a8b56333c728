/* store.h - the one storage interface. Domain code calls only these functions; a backend
 * (store/sqlite.c today, store/postgres.c next) fills struct kw_store_ops in store_internal.h.
 *
 * Transactions are explicit: kw_store_begin hands out a struct kw_tx, every row operation takes it,
 * and kw_store_commit/kw_store_rollback end it (and free it). A transaction belongs to the thread
 * that opened it; never open a second one on the same thread while one is open. KW_TX_READ sees one
 * consistent snapshot; KW_TX_WRITE additionally locks what it reads until it ends (SQLite: BEGIN
 * IMMEDIATE locks the database; PostgreSQL: rows read in a write transaction are read FOR UPDATE), so
 * a read-modify-write inside one write transaction cannot lose a concurrent change.
 *
 * Durability: kw_store_commit returns only once the transaction is durable (SQLite: WAL with
 * synchronous=FULL), so an acknowledged write survives kill -9.
 *
 * Errors: KW_ERR_NOT_FOUND for a missing row, KW_ERR_EXISTS for a unique violation, KW_ERR_RETRY when
 * the database says the same transaction may succeed if run again (busy, serialization failure,
 * deadlock, lost connection: roll back and rerun the whole transaction), KW_ERR_STORE for anything
 * else the database reports (the backend logs the database's message; callers do not put it in a
 * response). Out-parameters are untouched on failure unless noted.
 *
 * Versions: every change to a credential row takes a number from kw_store_version_next inside its
 * write transaction and stores it in the row (kw_key.version); numbers only grow, deployment-wide,
 * so a cache (or another node) applies a change only when its version is newer than what it holds.
 * A deleted key leaves a tombstone row with the version of its deletion.
 *
 * Walks (the *_each functions, kw_store_key_changes) stream rows to a callback; the callback must not
 * use the walk's own transaction (on PostgreSQL its connection is busy streaming): collect, then act,
 * or act through another transaction.
 *
 * Lists: keyset pagination. `after_seq` = 0 starts at the beginning; items come in ascending seq
 * (audit: descending, `before_seq` = 0 starts at the newest). The caller owns the items array
 * (cap entries); *n is set to the count written. To know whether there is a next page, ask for
 * cap = limit + 1. */
#ifndef KW_STORE_STORE_H
#define KW_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"

struct kw_store;
struct kw_tx;

enum kw_tx_mode {
    KW_TX_READ = 0,
    KW_TX_WRITE = 1,
};

/* Opens the store named by spec: "sqlite" -> <data_dir>/keyward.db (created if missing, directory
 * too); "postgresql://..." or "postgres://..." -> a libpq connection URI (multi-host and parameters
 * such as target_session_attrs pass through to libpq; the password comes from PGPASSWORD,
 * PGPASSFILE or ~/.pgpass). Does not migrate. *out is NULL on failure; nothing logged names the URI
 * beyond its scheme. */
enum kw_err kw_store_open(const char *spec, const char *data_dir, struct kw_store **out);

/* Tuning for a networked store (ignored by SQLite). 0 = the default. */
struct kw_store_options {
    int pool_size;            /* connections; default 4. begin waits for a free one */
    int statement_timeout_ms; /* per statement, and the longest begin waits; default 5000 */
};
/* kw_store_open with options (NULL = defaults). */
enum kw_err kw_store_open_opts(const char *spec, const char *data_dir, const struct kw_store_options *opt,
                               struct kw_store **out);
/* Writes spec into out (cap bytes) fit for a log line: a URI's password (user:PASSWORD@, password=)
 * is replaced by "***". */
void kw_store_describe(const char *spec, char *out, size_t cap);
void kw_store_free(struct kw_store *st); /* NULL is a no-op */

/* A second handle on the same database for write-behind data (last use, usage, integrator audit
 * events): its commits reach the OS at once but are made durable against power loss at the next
 * checkpoint instead of at every commit (SQLite WAL: synchronous=NORMAL; PostgreSQL: two more
 * connections with synchronous_commit=off). A process crash loses nothing it committed.
 * Transactions on both handles are serialised by the database. */
enum kw_err kw_store_open_relaxed(struct kw_store *st, struct kw_store **out);

/* Applies pending numbered migrations (store/migrations/NNNN_*.sql), each in its own transaction.
 * *applied (may be NULL) = how many ran. *version (may be NULL) = schema version afterwards. */
enum kw_err kw_store_migrate(struct kw_store *st, int *applied, int *version);
/* Current schema version (0 = empty database). */
enum kw_err kw_store_schema_version(struct kw_store *st, int *version);

/* *out is the open transaction, NULL on failure. */
enum kw_err kw_store_begin(struct kw_store *st, enum kw_tx_mode mode, struct kw_tx **out);
/* Ends tx either way (on failure it is rolled back); tx is gone afterwards. */
enum kw_err kw_store_commit(struct kw_tx *tx);
/* Ends tx without its changes (a read transaction ends this way too). NULL is a no-op. */
void kw_store_rollback(struct kw_tx *tx);
/* 1 if tx was opened with KW_TX_WRITE. */
int kw_store_tx_writes(const struct kw_tx *tx);

/* The next change number (see Versions above). Write transactions only. */
enum kw_err kw_store_version_next(struct kw_tx *tx, int64_t *version);

/* Small named values (root token hash, ...). get: KW_ERR_NOT_FOUND if unset; KW_ERR_TOO_LARGE if
 * the value does not fit in cap bytes with its NUL. */
enum kw_err kw_store_meta_get(struct kw_tx *tx, const char *name, char *out, size_t cap);
enum kw_err kw_store_meta_set(struct kw_tx *tx, const char *name, const char *value);

/* Services. insert assigns svc->seq. update writes name, description, key_prefix, updated_at. */
enum kw_err kw_store_service_insert(struct kw_tx *tx, struct kw_service *svc);
enum kw_err kw_store_service_get(struct kw_tx *tx, const char *id, struct kw_service *out);
enum kw_err kw_store_service_list(struct kw_tx *tx, int64_t after_seq, struct kw_service *items,
                                  size_t cap, size_t *n);
enum kw_err kw_store_service_update(struct kw_tx *tx, const struct kw_service *svc);
/* Deletes the service and every key, and usage row, that belongs to it; each deleted key leaves a
 * tombstone with version. */
enum kw_err kw_store_service_delete(struct kw_tx *tx, const char *id, int64_t version);
/* Keys of the service that are not revoked and not expired at now_ms. */
enum kw_err kw_store_service_live_keys(struct kw_tx *tx, const char *id, int64_t now_ms, int64_t *count);

/* API keys. insert assigns key->seq; KW_ERR_EXISTS if the hash is already present. update writes
 * every mutable column (version, description, scope, perms, enabled, updated_at, expires_at,
 * revoked_at, archive_after_extract_s, rolled_to); KW_ERR_EXISTS if rolled_to is already set on
 * another key to the same successor. */
enum kw_err kw_store_key_insert(struct kw_tx *tx, struct kw_key *key);
enum kw_err kw_store_key_get(struct kw_tx *tx, const char *id, struct kw_key *out);
enum kw_err kw_store_key_list(struct kw_tx *tx, const char *service_id, int64_t after_seq,
                              struct kw_key *items, size_t cap, size_t *n);
enum kw_err kw_store_key_update(struct kw_tx *tx, const struct kw_key *key);
/* Deletes the key and leaves its tombstone (id, service, hash, start, description) with version. */
enum kw_err kw_store_key_delete(struct kw_tx *tx, const char *id, int64_t version);
/* A deleted key's tombstone: id, service_id, hash, start, description, created_at and version (the
 * deletion's). KW_ERR_NOT_FOUND if there is none. */
enum kw_err kw_store_key_tombstone_get(struct kw_tx *tx, const char *id, struct kw_key *out);
/* Calls cb once per key (all services), in seq order, for loading the verify cache. A non-zero
 * return from cb stops the walk and is returned as KW_ERR_INTERNAL. */
typedef int (*kw_store_key_cb)(void *ctx, const struct kw_key *key);
enum kw_err kw_store_key_each(struct kw_tx *tx, kw_store_key_cb cb, void *ctx);
/* The highest change number handed out so far (0 for a new database). Read it in the same
 * transaction as kw_store_key_each to know where a later kw_store_key_changes starts. */
enum kw_err kw_store_version_current(struct kw_tx *tx, int64_t *version);
/* Every change to keys with a version above since, in version order: a live key as its row is now
 * (deleted = 0), a deleted one as its tombstone (deleted = 1: id, service_id, hash, start,
 * description, version). Same stop contract as kw_store_key_each. */
typedef int (*kw_store_change_cb)(void *ctx, const struct kw_key *key, int deleted);
enum kw_err kw_store_key_changes(struct kw_tx *tx, int64_t since, kw_store_change_cb cb, void *ctx);
/* Waits up to timeout_ms for another node's change notification: KW_OK when one arrived (or may
 * have: callers then read kw_store_key_changes), KW_ERR_NOT_FOUND on timeout, KW_ERR_INVALID when the
 * backend has no notifications (SQLite: one node, nothing to wait for). Thread-safe; one waiter. */
enum kw_err kw_store_wait_change(struct kw_store *st, int timeout_ms);
/* ---- machine credentials: rows of keys with kind token | access_key | ban (records.h), and service
 * users (store/sqlite_svcusers.c, store/postgres_svcusers.c) ----
 * kw_store_key_insert/get/update/delete/each/changes carry every kind with its kind, service_user_id,
 * owner_enabled and sealed columns (update writes owner_enabled and sealed too; kind and
 * service_user_id are fixed at insert). kw_store_key_list, kw_store_usage_list and
 * kw_store_service_live_keys see kind 'api_key' only (live keys: not bans either). */

/* Rows of one kind, ascending seq: of service_id, and when service_user_id is non-NULL only that
 * owner's. */
enum kw_err kw_store_key_list_kind(struct kw_tx *tx, const char *service_id, const char *service_user_id,
                                   const char *kind, int64_t after_seq, struct kw_key *items, size_t cap,
                                   size_t *n);
/* Rows of kind with the given hash (a ban: SHA-256 of what it bans). KW_ERR_NOT_FOUND if none. */
enum kw_err kw_store_key_get_hash(struct kw_tx *tx, const uint8_t hash[KW_HASH_LEN], struct kw_key *out);
/* Sets owner_enabled (and version, updated_at) on every token and access key of service_user_id;
 * *changed (may be NULL) = rows changed. */
enum kw_err kw_store_key_set_owner_enabled(struct kw_tx *tx, const char *service_user_id, int enabled,
                                           int64_t version, int64_t now_ms, int64_t *changed);
/* Deletes every token and access key of service_user_id, each leaving its tombstone with version. */
enum kw_err kw_store_key_delete_owner(struct kw_tx *tx, const char *service_user_id, int64_t version);

/* Service users. insert assigns seq; KW_ERR_EXISTS when the id or (service_id, source_system) is taken.
 * update writes name, perms, enabled, client_secret_hash, client_secret_set_at, updated_at, version.
 * delete removes only the row (delete its credentials first: kw_store_key_delete_owner). A service's
 * deletion (kw_store_service_delete) deletes its service users too. */
enum kw_err kw_store_service_user_insert(struct kw_tx *tx, struct kw_service_user *su);
enum kw_err kw_store_service_user_get(struct kw_tx *tx, const char *id, struct kw_service_user *out);
enum kw_err kw_store_service_user_list(struct kw_tx *tx, const char *service_id, int64_t after_seq,
                                       struct kw_service_user *items, size_t cap, size_t *n);
enum kw_err kw_store_service_user_update(struct kw_tx *tx, const struct kw_service_user *su);
enum kw_err kw_store_service_user_delete(struct kw_tx *tx, const char *id);

/* Records last use (write-behind). Missing ids are ignored. */
enum kw_err kw_store_key_touch(struct kw_tx *tx, const char *id, int64_t last_used_at, const char *ip);

/* Usage: adds to the per-key counters of the minute that starts at minute_ms. */
enum kw_err kw_store_usage_add(struct kw_tx *tx, const char *key_id, const char *service_id,
                               int64_t minute_ms, int64_t valid, int64_t denied);

/* Usage of a service's keys since from_ms, summed per key per hour (minute = the hour's start),
 * ordered by hour then key, each with its key's start and description (a deleted key's too). */
enum kw_err kw_store_usage_list(struct kw_tx *tx, const char *service_id, int64_t from_ms,
                                struct kw_usage_point *items, size_t cap, size_t *n);

/* Users. insert: KW_ERR_EXISTS on a duplicate username. update writes password_hash, role,
 * disabled (not last_login_at: see user_login). delete also removes the user's sessions and
 * memberships. */
enum kw_err kw_store_user_insert(struct kw_tx *tx, struct kw_user *u);
enum kw_err kw_store_user_get(struct kw_tx *tx, const char *username, struct kw_user *out);
enum kw_err kw_store_user_list(struct kw_tx *tx, int64_t after_seq, struct kw_user *items, size_t cap,
                               size_t *n);
enum kw_err kw_store_user_update(struct kw_tx *tx, const struct kw_user *u);
enum kw_err kw_store_user_delete(struct kw_tx *tx, const char *username);
/* Records a login at `at` only if the row is still the one the login verified: same password_hash,
 * still enabled. KW_ERR_CONFLICT if it changed meanwhile (or is gone). Writes nothing else. */
enum kw_err kw_store_user_login(struct kw_tx *tx, const struct kw_user *u, int64_t at);
/* Enabled users with role sysadmin. */
enum kw_err kw_store_user_count_admins(struct kw_tx *tx, int64_t *count);

/* Sessions, keyed by the SHA-256 of the cookie value. */
enum kw_err kw_store_session_insert(struct kw_tx *tx, const struct kw_session *s);
enum kw_err kw_store_session_get(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out);
enum kw_err kw_store_session_touch(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen);
enum kw_err kw_store_session_delete(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN]);
/* Ends every session of a user but the one whose hash is keep (NULL: every one). */
enum kw_err kw_store_session_delete_user(struct kw_tx *tx, const char *username, const uint8_t *keep);

/* Memberships. insert: KW_ERR_EXISTS if already a member. */
enum kw_err kw_store_member_insert(struct kw_tx *tx, struct kw_member *m);
enum kw_err kw_store_member_get(struct kw_tx *tx, const char *service_id, const char *username,
                                struct kw_member *out);
/* service_id non-NULL: that service's members; else username's memberships. Ascending seq. */
enum kw_err kw_store_member_list(struct kw_tx *tx, const char *service_id, const char *username,
                                 int64_t after_seq, struct kw_member *items, size_t cap, size_t *n);
enum kw_err kw_store_member_update(struct kw_tx *tx, const struct kw_member *m);
enum kw_err kw_store_member_delete(struct kw_tx *tx, const char *service_id, const char *username);
/* Services username is a member of (ascending seq). */
enum kw_err kw_store_service_list_for(struct kw_tx *tx, const char *username, int64_t after_seq,
                                      struct kw_service *items, size_t cap, size_t *n);

/* Audit log, append-only. head: the last event's seq and hash (seq 0 and 32 zero bytes when empty).
 * append writes ev as given (seq and hashes computed by domain/audit.c). */
enum kw_err kw_store_audit_head(struct kw_tx *tx, int64_t *seq, uint8_t hash[KW_HASH_LEN]);
enum kw_err kw_store_audit_append(struct kw_tx *tx, const struct kw_audit_event *ev);

struct kw_audit_filter {
    const char *actor_id;   /* NULL = any; exact match */
    const char *action;     /* NULL = any; exact match, or a prefix when it ends in '*' ("key.*") */
    const char *target_id;  /* NULL = any */
    const char *service_id; /* NULL = any */
    int64_t since;          /* 0 = unbounded; inclusive */
    int64_t until;          /* 0 = unbounded; exclusive */
    int64_t before_seq;     /* 0 = start at the newest */
};
/* Newest first. */
enum kw_err kw_store_audit_list(struct kw_tx *tx, const struct kw_audit_filter *f,
                                struct kw_audit_event *items, size_t cap, size_t *n);
/* Every event in ascending seq, for chain verification. Same cb contract as kw_store_key_each. */
typedef int (*kw_store_audit_cb)(void *ctx, const struct kw_audit_event *ev);
enum kw_err kw_store_audit_each(struct kw_tx *tx, kw_store_audit_cb cb, void *ctx);

/* JWT signing keys (domain/signing.h). insert: KW_ERR_EXISTS on a duplicate kid. list: every row,
 * newest first (created_at, then kid, descending), at most cap (*n = rows written). update writes
 * private_sealed (sealed_len bytes), status, retire_after and version of the row kid (KW_ERR_NOT_FOUND
 * if none). delete: KW_ERR_NOT_FOUND if none. stamp: the highest version among the rows and their
 * count (0 and 0 when there are none), so a node can tell cheaply that the set changed. */
enum kw_err kw_store_signing_key_insert(struct kw_tx *tx, const struct kw_signing_key *k);
enum kw_err kw_store_signing_key_list(struct kw_tx *tx, struct kw_signing_key *items, size_t cap, size_t *n);
enum kw_err kw_store_signing_key_update(struct kw_tx *tx, const struct kw_signing_key *k);
enum kw_err kw_store_signing_key_delete(struct kw_tx *tx, const char *kid);
enum kw_err kw_store_signing_key_stamp(struct kw_tx *tx, int64_t *max_version, int64_t *count);

/* Response-encryption keys (domain/enckeys.h), with the signing keys' contract: insert KW_ERR_EXISTS on
 * a duplicate kid; list newest first, at most cap; update writes private_sealed, status, retire_after
 * and version of the row kid (KW_ERR_NOT_FOUND if none); delete KW_ERR_NOT_FOUND if none; stamp is the
 * highest version and the row count. */
enum kw_err kw_store_enc_key_insert(struct kw_tx *tx, const struct kw_enc_key *k);
enum kw_err kw_store_enc_key_list(struct kw_tx *tx, struct kw_enc_key *items, size_t cap, size_t *n);
enum kw_err kw_store_enc_key_update(struct kw_tx *tx, const struct kw_enc_key *k);
enum kw_err kw_store_enc_key_delete(struct kw_tx *tx, const char *kid);
enum kw_err kw_store_enc_key_stamp(struct kw_tx *tx, int64_t *max_version, int64_t *count);

/* Moving a deployment between stores (domain/copy.c): every table's rows exactly as stored, ids,
 * seqs, versions, hashes and times included; text and blobs travel as their bytes with their length,
 * never truncated to a record's field size. The tables come in an order where a row's parents (a
 * key's service, a session's user) come first. schema_migrations is not a table here: each store
 * has its own migrations. */
enum kw_store_table {
    KW_TABLE_META,
    KW_TABLE_COUNTERS,
    KW_TABLE_SERVICES,
    KW_TABLE_SERVICE_USERS,
    KW_TABLE_KEYS,
    KW_TABLE_KEY_TOMBSTONES,
    KW_TABLE_USAGE,
    KW_TABLE_USERS,
    KW_TABLE_SESSIONS,
    KW_TABLE_MEMBERS,
    KW_TABLE_AUDIT,
    KW_TABLE_SIGNING_KEYS,
    KW_TABLE_ENCRYPTION_KEYS,
    KW_TABLE_RECORDS,
    KW_TABLE_RECORD_PICTURES,
    KW_TABLE_RECORD_HISTORY,
    KW_TABLE_DOCUMENTS, /* the rows; their content (files or document_chunks) is copied by domain/copy.c */
    KW_TABLE_WEBHOOKS,
    KW_TABLE_WEBHOOK_DELIVERIES,
    KW_TABLE_WEBHOOK_ATTEMPTS,
    KW_TABLE_COUNT
};
#define KW_STORE_ROW_MAX 25 /* columns of the widest table (keys) */
/* One column's value: integer columns use i; text and blob columns p and len. */
struct kw_store_value {
    int64_t i;
    const uint8_t *p;
    size_t len;
};
/* A row of table: n values in the table's column order (as its CREATE TABLE, version columns last). */
struct kw_store_row {
    enum kw_store_table table;
    int n;
    struct kw_store_value v[KW_STORE_ROW_MAX];
};
/* The table's SQL name ("keys"); "?" for a value outside the enum. */
const char *kw_store_table_name(enum kw_store_table t);
/* Calls cb once per row of table t, in primary-key order. row and the bytes it points to live only
 * during the call. Same stop contract as kw_store_key_each. */
typedef int (*kw_store_row_cb)(void *ctx, const struct kw_store_row *row);
enum kw_err kw_store_row_each(struct kw_tx *tx, enum kw_store_table t, kw_store_row_cb cb, void *ctx);
/* Inserts row as it is (write transactions): KW_ERR_EXISTS on a duplicate key, KW_ERR_INVALID when
 * row->n is not the table's column count. A counters row replaces the one a migration made. A seq
 * given explicitly moves the table's own seq past it, so later inserts never reuse one. */
enum kw_err kw_store_row_put(struct kw_tx *tx, const struct kw_store_row *row);
/* ---- state shared by every node of a deployment (login throttle, jobs) ---- */

/* 1 when other nodes may use the same database (PostgreSQL), 0 when this process is its only user
 * (SQLite). */
int kw_store_shared(struct kw_store *st);

/* Login-throttle counters, one row per key ("user:alice", "ip:192.0.2.1"): count = failed attempts +
 * attempts in flight in the window that started at window_start; inflight = the attempts in flight. */
struct kw_throttle_row {
    int64_t window_start, count, inflight;
};
#define KW_THROTTLE_KEY_MAX 160 /* longest key the table takes, bytes */
/* Reserves one attempt on key in one statement (upsert with the window rule): a key at rest (no row,
 * count 0, or window_start <= now_ms - window_ms) starts a window at now_ms with count = inflight = 1;
 * a key with count < limit gets count + 1, inflight + 1; a key at its limit is left as it is. *reserved
 * = 1 when reserved; *row = the row afterwards (as it is when refused). */
enum kw_err kw_store_throttle_reserve(struct kw_tx *tx, const char *key, int limit, int64_t now_ms,
                                      int64_t window_ms, int *reserved, struct kw_throttle_row *row);
enum kw_store_settle {
    KW_SETTLE_FAIL,    /* the reservation stays counted, as a failure (in a window that ran out meanwhile:
                        * a new window at now_ms holding just this failure) */
    KW_SETTLE_RETURN,  /* the reservation is given back */
    KW_SETTLE_FORGIVE, /* given back, and the key's failures are cleared (count = what is in flight) */
};
/* Settles one reservation on key. A key with nothing in flight (its row purged, or reset) is left alone. */
enum kw_err kw_store_throttle_settle(struct kw_tx *tx, const char *key, enum kw_store_settle how,
                                     int64_t now_ms, int64_t window_ms);
/* Deletes rows whose window started at or before before_ms, or that count nothing. *deleted (may be NULL). */
enum kw_err kw_store_throttle_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted);

/* Sessions past expires_at <= now_ms, or last seen at or before idle_before_ms. *deleted (may be NULL). */
enum kw_err kw_store_session_purge(struct kw_tx *tx, int64_t now_ms, int64_t idle_before_ms,
                                   int64_t *deleted);

/* Jobs that run once per deployment (domain/jobs.h): one row per job name with its schedule and lease. */
#define KW_JOB_NAME_MAX 64
#define KW_JOB_NODE_MAX 128
#define KW_JOB_ERROR_MAX 128
struct kw_job {
    char name[KW_JOB_NAME_MAX];
    int64_t next_run_at;               /* due at or after this (ms) */
    int64_t lease_until;               /* leased until this (ms; 0 = never leased) */
    char leased_by[KW_JOB_NODE_MAX];   /* the node holding (or last holding) the lease */
    char last_run_by[KW_JOB_NODE_MAX]; /* the node that finished the last run ("" = none yet) */
    int64_t last_ok_at;                /* 0 = never succeeded */
    char last_error[KW_JOB_ERROR_MAX]; /* "" after a success */
    int64_t runs;                      /* finished runs, either outcome */
};
/* Adds job name, first due at next_run_at, unless it exists (its schedule is kept). */
enum kw_err kw_store_job_ensure(struct kw_tx *tx, const char *name, int64_t next_run_at);
/* Leases job name if it is due (next_run_at <= now_ms, and no lease or an expired one: lease_until <=
 * now_ms) for lease_ms to node, in one statement; a row another transaction is leasing right now is
 * skipped, not waited for (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite's write transaction locks the
 * database). *out = the leased row. KW_ERR_NOT_FOUND when it is not due (or leased). Write
 * transactions only; commit before running the job. */
enum kw_err kw_store_job_lease(struct kw_tx *tx, const char *name, const char *node, int64_t now_ms,
                               int64_t lease_ms, struct kw_job *out);
/* Records a run of the lease (name, node, lease_until) as leased: clears the lease, sets next_run_at,
 * last_run_by, runs + 1, and last_ok_at = now_ms (error NULL) or last_error = error. KW_ERR_CONFLICT
 * when the lease is no longer that one (it ran out and another node took the job). */
enum kw_err kw_store_job_finish(struct kw_tx *tx, const struct kw_job *lease, int64_t now_ms,
                                int64_t next_run_at, const char *error);
enum kw_err kw_store_job_get(struct kw_tx *tx, const char *name, struct kw_job *out);

/* Single-use values, one row per (scope, value): seed-004 exchange nonces (scope = the access key id)
 * and RFC 9421 signatures seen (scope "sig:" + keyid). insert (write transactions): KW_ERR_CONFLICT
 * when (scope, value) is already there, i.e. a replay, on every node of a deployment. purge deletes
 * the rows created before before_ms; *deleted (may be NULL). */
#define KW_NONCE_SCOPE_MAX 160
#define KW_NONCE_VALUE_MAX 160
enum kw_err kw_store_nonce_insert(struct kw_tx *tx, const char *scope, const char *value, int64_t created_at);
enum kw_err kw_store_nonce_purge(struct kw_tx *tx, int64_t before_ms, int64_t *deleted);

/* ---- identity records (store/sqlite_records.c, store/postgres_records.c; domain/records.h) ----
 * Records carry owned buffers (attributes_ct, certificates; pictures' ct): a get or list fills them
 * with malloc'd copies, and the caller releases each item with kw_record_free / kw_record_picture_free
 * (also after a failure: items are cleared first). In a write transaction the rows read are locked
 * (PostgreSQL: FOR UPDATE) until it ends, so a read-check-update of one record is exactly once across
 * nodes. */
struct kw_record_filter {
    const char *service_id;
    const char *status;     /* NULL or "": any */
    int64_t updated_since;  /* 0: any; else updated_at >= this */
    int64_t after_seq;      /* keyset cursor */
};
/* insert assigns r->seq; KW_ERR_EXISTS when (service_id, ref_id) or id is taken. */
enum kw_err kw_store_record_insert(struct kw_tx *tx, struct kw_record *r);
enum kw_err kw_store_record_get(struct kw_tx *tx, const char *service_id, const char *ref_id,
                                struct kw_record *out);
enum kw_err kw_store_record_get_id(struct kw_tx *tx, const char *id, struct kw_record *out);
/* Ascending seq, at most cap. */
enum kw_err kw_store_record_list(struct kw_tx *tx, const struct kw_record_filter *f, struct kw_record *items,
                                 size_t cap, size_t *n);
/* Writes identity_id, status, is_archived, the dates, will_archive_at, updated_at, version, sealed_dek
 * (NULL when sealed_dek_len is 0), attributes_ct (NULL when none) and certificates of the row id.
 * KW_ERR_NOT_FOUND if none. */
enum kw_err kw_store_record_update(struct kw_tx *tx, const struct kw_record *r);
/* Ids of records not archived whose will_archive_at is set and <= now_ms, earliest first, at most cap. */
enum kw_err kw_store_record_due(struct kw_tx *tx, int64_t now_ms, char (*ids)[KW_ID_MAX], size_t cap, size_t *n);
/* Pictures: put inserts or replaces (record_id, p->name); list fills up to cap, by name, with ct only
 * when with_data; wipe sets every picture's ct of the record to NULL (the metadata stays). */
enum kw_err kw_store_record_picture_put(struct kw_tx *tx, const char *record_id, const struct kw_record_picture *p);
enum kw_err kw_store_record_picture_list(struct kw_tx *tx, const char *record_id, int with_data,
                                         struct kw_record_picture *items, size_t cap, size_t *n);
enum kw_err kw_store_record_picture_wipe(struct kw_tx *tx, const char *record_id);
/* History: append assigns h->seq (the record's next); list in seq order, at most cap. */
enum kw_err kw_store_record_history_append(struct kw_tx *tx, const char *record_id, struct kw_record_history *h);
enum kw_err kw_store_record_history_list(struct kw_tx *tx, const char *record_id, struct kw_record_history *items,
                                         size_t cap, size_t *n);
/* ---- webhook delivery leases (domain/webhook_sender.c; sqlite_deliver.c, postgres_deliver.c) ----
 * The sender's side of the outbox (webhook_deliveries, migration 0012): lease due rows, record each
 * attempt only while the lease is still this node's, give leases back at shutdown, disable a webhook
 * whose endpoint answered 410. The rows themselves are written by h-hooks' functions (domain/webhooks.h). */
#define KW_DELIVERY_URL_MAX KW_WEBHOOK_URL_MAX /* a webhook URL (<= 2048 bytes) with its NUL */
#define KW_DELIVERY_PAYLOAD_MAX 16384   /* the largest payload sent; a longer one is failed, never cut */
#define KW_DELIVERY_SEALED_MAX KW_WEBHOOK_SEALED_MAX /* a sealed webhook secret */
#define KW_DELIVERY_ERROR_MAX 64
#define KW_DELIVERY_EVENT_MAX 64
struct kw_delivery_lease {
    char id[KW_ID_MAX];         /* msg_...: the webhook-id header */
    char webhook_id[KW_ID_MAX];
    char service_id[KW_ID_MAX];
    char event_type[KW_DELIVERY_EVENT_MAX];
    int64_t attempts;           /* made before this lease */
    int64_t next_attempt_at;    /* when it was due */
    char node[KW_JOB_NODE_MAX]; /* the lease: (id, node, lease_until) */
    int64_t lease_until;
    char url[KW_DELIVERY_URL_MAX];
    char payload[KW_DELIVERY_PAYLOAD_MAX]; /* NUL-terminated when it fits */
    size_t payload_len;                    /* > KW_DELIVERY_PAYLOAD_MAX - 1: too long, payload is "" */
    uint8_t secret_sealed[KW_DELIVERY_SEALED_MAX];
    size_t secret_len;                     /* 0: too long to hold (cannot be signed) */
    uint8_t prev_sealed[KW_DELIVERY_SEALED_MAX];
    size_t prev_len;                       /* 0: no previous secret */
    int64_t prev_until;                    /* the previous secret signs while now < prev_until */
};
/* Leases up to cap due deliveries to node for lease_ms: state pending, next_attempt_at <= now_ms, no
 * lease or an expired one (lease_until <= now_ms), of an enabled webhook; the oldest due first. A row
 * another transaction is leasing is skipped (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite has one
 * writer). items[0..*n) get the leased rows with their webhook's url and sealed secrets. Write
 * transactions only; commit before sending. */
enum kw_err kw_store_delivery_lease(struct kw_tx *tx, const char *node, int64_t now_ms, int64_t lease_ms,
                                    struct kw_delivery_lease *items, size_t cap, size_t *n);
/* One attempt's outcome. state: "delivered", "pending" (tried again at next_attempt_at) or "failed". */
struct kw_delivery_attempt {
    int64_t at;          /* ms, when it started */
    int64_t duration_ms;
    int status;          /* HTTP status, 0 when none came */
    const char *error;   /* "" or "timeout", "connect", "refused_address", "tls", "gone", ... */
    const char *state;
    int64_t next_attempt_at; /* pending: when; otherwise ignored */
};
/* Records attempt number lease->attempts + 1 (a webhook_attempts row with node = lease->node) and moves
 * the delivery on (attempts, state, next_attempt_at, last_status, last_error, lease cleared), only if the
 * lease is still lease's (same node and lease_until, still pending): KW_ERR_CONFLICT otherwise, and
 * nothing is written. */
enum kw_err kw_store_delivery_record(struct kw_tx *tx, const struct kw_delivery_lease *lease,
                                     const struct kw_delivery_attempt *a);
/* Gives back node's leases (all of them when id is NULL, else that delivery's), so another node or a
 * restart takes them at once. *released (may be NULL). */
enum kw_err kw_store_delivery_release(struct kw_tx *tx, const char *node, const char *id, int64_t *released);
/* The endpoint answered 410 Gone: the webhook is disabled (enabled 0, disabled_reason "gone",
 * updated_at now_ms) and every delivery of it still pending is failed (last_error "gone", leases
 * cleared; record the 410 attempt first, in the same transaction). *failed (may be NULL) = deliveries
 * failed here. KW_ERR_NOT_FOUND when no such webhook. */
enum kw_err kw_store_webhook_gone(struct kw_tx *tx, const char *webhook_id, int64_t now_ms, int64_t *failed);

/* After an archive has committed (outside any transaction): makes the old row versions unreadable from
 * the database files. SQLite: a TRUNCATE checkpoint, so the write-ahead log's copies of the pages are
 * gone from keyward.db-wal (secure_delete=ON zeroes what the pages freed). PostgreSQL: nothing to do here
 * (the dead row versions go at the next autovacuum; no dump or query sees them). */
enum kw_err kw_store_scrub(struct kw_store *st);

/* ---- documents (store/sqlite_documents.c, store/postgres_documents.c; domain/documents.h) ----
 * A document's row (metadata, sealed data key) and its content: nchunks chunks, each one record of
 * at most rec_size bytes (IV | ciphertext | tag; every chunk but the last exactly rec_size). Where the
 * bytes live is the backend's: SQLite writes them to <data-dir>/documents/<id> (the chunks back to
 * back), PostgreSQL to document_chunks rows in the transaction. An ingest on SQLite stages the content
 * BEFORE its write transaction (content_stage: "<id>.tmp" written and fsynced with its directory, off the
 * single writer), links it into place inside the transaction (content_put with fn NULL: one link(2)),
 * and removes the staging name after (content_done on commit, content_drop otherwise); a crash at any
 * point leaves at most a staging file, which content_recover settles at the next start. */
struct kw_document_filter {
    const char *service_id;        /* required */
    const char *source_tag;        /* NULL or "": any (the same for the next four) */
    const char *external_id;
    const char *document_category;
    const char *department;
    const char *service_user_id;
    int64_t since;                 /* 0: any; else created_at >= since */
    int64_t until;                 /* 0: any; else created_at < until */
    int64_t after_seq;             /* keyset cursor */
};
/* insert assigns d->seq; KW_ERR_EXISTS when the id, or (service_id, idempotency_key) with a key, is taken. */
enum kw_err kw_store_document_insert(struct kw_tx *tx, struct kw_document *d);
/* Any document by id, deleted ones too (deleted_at set, sealed_dek_len 0). */
enum kw_err kw_store_document_get(struct kw_tx *tx, const char *id, struct kw_document *out);
/* The document of service_id that was ingested with idempotency key (not ""). */
enum kw_err kw_store_document_get_idem(struct kw_tx *tx, const char *service_id, const char *key,
                                       struct kw_document *out);
/* Live (not deleted) documents matching f, ascending seq, at most cap. */
enum kw_err kw_store_document_list(struct kw_tx *tx, const struct kw_document_filter *f,
                                   struct kw_document *items, size_t cap, size_t *n);
/* Produces chunk index (0..nchunks-1) into buf (cap = rec_size bytes), *len set. */
typedef enum kw_err (*kw_store_chunk_fn)(void *ctx, int64_t index, uint8_t *buf, size_t cap, size_t *len);
/* Writes the content of document id before its row's write transaction: calls fn for each chunk in
 * order. SQLite: into "<id>.tmp", fsynced with its directory; *staged = 1. PostgreSQL: nothing is
 * written (*staged = 0): the chunks are rows of the transaction (content_put with fn). On any outcome
 * of the transaction the caller calls content_done (committed) or content_drop (not). */
enum kw_err kw_store_document_content_stage(struct kw_store *st, const char *id, int64_t nchunks,
                                            size_t rec_size, kw_store_chunk_fn fn, void *ctx, int *staged);
/* Writes the content of document id (its row inserted in this transaction): calls fn for each chunk in
 * order and stores what it produced. fn NULL: the content staged by content_stage is put into place
 * (SQLite: linked to its final name; a rerun of the transaction finds it there); KW_ERR_NOT_FOUND when
 * nothing was staged. Write transactions only. */
enum kw_err kw_store_document_content_put(struct kw_tx *tx, const char *id, int64_t nchunks, size_t rec_size,
                                          kw_store_chunk_fn fn, void *ctx);
/* Reads chunk index of document id into buf (cap >= rec_size), *len set. KW_ERR_NOT_FOUND when the
 * content (or that chunk) is not there; a short or missing tail reads as fewer bytes (the caller's
 * authentication fails). Any transaction (SQLite reads the file). */
enum kw_err kw_store_document_chunk_get(struct kw_tx *tx, const char *id, int64_t index, size_t rec_size,
                                        uint8_t *buf, size_t cap, size_t *len);
/* Crypto-shreds document id: sealed_dek NULL, deleted_at set, the content removed (SQLite: the file
 * unlinked and the directory fsynced; PostgreSQL: its chunks deleted). KW_ERR_NOT_FOUND when there is no
 * live document id. SQLite removes the file inside the transaction: a rollback afterwards leaves a row
 * whose content is gone (reads fail; deleting again completes it). */
enum kw_err kw_store_document_shred(struct kw_tx *tx, const char *id, int64_t deleted_at);
/* Removes content written for a document whose row never committed (an ingest that failed after
 * content_stage or content_put): SQLite unlinks the staging file, and the file too if its row is absent;
 * PostgreSQL has nothing to do. */
enum kw_err kw_store_document_content_drop(struct kw_store *st, const char *id);
/* Replaces the sealed data key of live document id (keyward rekey: the same key re-wrapped under a new
 * master key; store/sqlite_rekey.c, store/postgres_rekey.c). KW_ERR_NOT_FOUND when there is no live
 * document id (a shredded one never gets a key back). Write transactions only. */
enum kw_err kw_store_document_dek_set(struct kw_tx *tx, const char *id, const uint8_t *sealed, size_t len);
/* After the transaction that linked staged content committed: SQLite fsyncs the directory (the link is
 * durable) and removes the staging name. PostgreSQL: nothing. */
enum kw_err kw_store_document_content_done(struct kw_store *st, const char *id);
/* At start, before serving (SQLite: one process per data directory, so no ingest is in flight): a
 * staging file a crash left is linked into place when its document's row committed and is live, else
 * removed with any file of that id; a document file no live row names (its service was deleted and the
 * process stopped before removing it) is removed. *settled counts both (may be NULL). PostgreSQL:
 * nothing (a service's deletion cascades to its chunk rows). */
enum kw_err kw_store_document_content_recover(struct kw_store *st, int *settled);
/* ---- webhooks (store/sqlite_webhooks.c, store/postgres_webhooks.c; domain/webhooks.h) ----
 * Endpoints: insert assigns w->seq (KW_ERR_EXISTS on a duplicate id); list: of service_id, ascending
 * seq; update writes url, events, description, enabled, disabled_reason, both sealed secrets,
 * prev_secret_until and updated_at (KW_ERR_NOT_FOUND if none); delete removes the webhook with its
 * deliveries and their attempts; count: *total webhooks of the service and *enabled of them (either
 * may be NULL). A service's deletion deletes its webhooks too. */
enum kw_err kw_store_webhook_insert(struct kw_tx *tx, struct kw_webhook *w);
enum kw_err kw_store_webhook_get(struct kw_tx *tx, const char *id, struct kw_webhook *out);
enum kw_err kw_store_webhook_list(struct kw_tx *tx, const char *service_id, int64_t after_seq,
                                  struct kw_webhook *items, size_t cap, size_t *n);
enum kw_err kw_store_webhook_update(struct kw_tx *tx, const struct kw_webhook *w);
enum kw_err kw_store_webhook_delete(struct kw_tx *tx, const char *id);
enum kw_err kw_store_webhook_count(struct kw_tx *tx, const char *service_id, int64_t *total, int64_t *enabled);
/* Deliveries (the outbox): insert assigns d->seq; list: of webhook_id, newest first (before_seq = 0
 * starts at the newest); retry: state pending, next_attempt_at = now_ms, the lease cleared, updated_at
 * = now_ms (attempts and the log stay); KW_ERR_NOT_FOUND if none. */
enum kw_err kw_store_webhook_delivery_insert(struct kw_tx *tx, struct kw_webhook_delivery *d);
enum kw_err kw_store_webhook_delivery_get(struct kw_tx *tx, const char *id, struct kw_webhook_delivery *out);
enum kw_err kw_store_webhook_delivery_list(struct kw_tx *tx, const char *webhook_id, int64_t before_seq,
                                           struct kw_webhook_delivery *items, size_t cap, size_t *n);
enum kw_err kw_store_webhook_delivery_retry(struct kw_tx *tx, const char *id, int64_t now_ms);
/* Attempts: insert (KW_ERR_EXISTS on a duplicate (delivery_id, n)); list: of delivery_id, ascending n,
 * the first cap. */
enum kw_err kw_store_webhook_attempt_insert(struct kw_tx *tx, const struct kw_webhook_attempt *a);
enum kw_err kw_store_webhook_attempt_list(struct kw_tx *tx, const char *delivery_id,
                                          struct kw_webhook_attempt *items, size_t cap, size_t *n);

#endif
