/* store.h - the one storage interface. Domain code calls only these functions; a backend
 * (store/sqlite.c today, store/postgres.c later) fills struct kw_store_ops in store_internal.h.
 *
 * Threading: every function is safe to call from any thread. A transaction (kw_store_begin ..
 * kw_store_commit/rollback) belongs to the calling thread; other threads' calls wait for it.
 * Calls between begin and commit run inside it. Durability: kw_store_commit returns only once the
 * transaction is durable (SQLite: WAL with synchronous=FULL), so an acknowledged write survives
 * kill -9.
 *
 * Errors: KW_ERR_NOT_FOUND for a missing row, KW_ERR_EXISTS for a unique violation, KW_ERR_STORE
 * for anything the database reports (the backend logs the database's message; callers do not
 * put it in a response). Out-parameters are untouched on failure unless noted.
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
#include "store/records.h"

struct kw_store;

/* Opens the store named by spec: "sqlite" -> <data_dir>/keyward.db (created if missing, directory
 * too). Does not migrate. *out is NULL on failure. */
enum kw_err kw_store_open(const char *spec, const char *data_dir, struct kw_store **out);
void kw_store_free(struct kw_store *st); /* NULL is a no-op */

/* A second handle on the same database for write-behind data (last use, usage, integrator audit
 * events): its commits reach the OS at once but are made durable against power loss at the next
 * checkpoint instead of at every commit (SQLite WAL: synchronous=NORMAL). A process crash loses
 * nothing it committed. Transactions on both handles are serialised by the database. */
enum kw_err kw_store_open_relaxed(struct kw_store *st, struct kw_store **out);

/* Applies pending numbered migrations (store/migrations/NNNN_*.sql), each in its own transaction.
 * *applied (may be NULL) = how many ran. *version (may be NULL) = schema version afterwards. */
enum kw_err kw_store_migrate(struct kw_store *st, int *applied, int *version);
/* Current schema version (0 = empty database). */
enum kw_err kw_store_schema_version(struct kw_store *st, int *version);

enum kw_err kw_store_begin(struct kw_store *st);
enum kw_err kw_store_commit(struct kw_store *st);
void kw_store_rollback(struct kw_store *st);

/* Small named values (root token hash, ...). get: KW_ERR_NOT_FOUND if unset; KW_ERR_TOO_LARGE if
 * the value does not fit in cap bytes with its NUL. */
enum kw_err kw_store_meta_get(struct kw_store *st, const char *name, char *out, size_t cap);
enum kw_err kw_store_meta_set(struct kw_store *st, const char *name, const char *value);

/* Services. insert assigns svc->seq. update writes name, description, key_prefix, updated_at. */
enum kw_err kw_store_service_insert(struct kw_store *st, struct kw_service *svc);
enum kw_err kw_store_service_get(struct kw_store *st, const char *id, struct kw_service *out);
enum kw_err kw_store_service_list(struct kw_store *st, int64_t after_seq, struct kw_service *items,
                                  size_t cap, size_t *n);
enum kw_err kw_store_service_update(struct kw_store *st, const struct kw_service *svc);
/* Deletes the service and every key, and usage row, that belongs to it. */
enum kw_err kw_store_service_delete(struct kw_store *st, const char *id);
/* Keys of the service that are not revoked and not expired at now_ms. */
enum kw_err kw_store_service_live_keys(struct kw_store *st, const char *id, int64_t now_ms, int64_t *count);

/* API keys. insert assigns key->seq; KW_ERR_EXISTS if the hash is already present. update writes
 * every mutable column (description, scope, perms, enabled, updated_at, expires_at, revoked_at,
 * archive_after_extract_s). */
enum kw_err kw_store_key_insert(struct kw_store *st, struct kw_key *key);
enum kw_err kw_store_key_get(struct kw_store *st, const char *id, struct kw_key *out);
enum kw_err kw_store_key_list(struct kw_store *st, const char *service_id, int64_t after_seq,
                              struct kw_key *items, size_t cap, size_t *n);
enum kw_err kw_store_key_update(struct kw_store *st, const struct kw_key *key);
enum kw_err kw_store_key_delete(struct kw_store *st, const char *id);
/* Calls cb once per key (all services), in seq order, for loading the verify cache. A non-zero
 * return from cb stops the walk and is returned as KW_ERR_INTERNAL. */
typedef int (*kw_store_key_cb)(void *ctx, const struct kw_key *key);
enum kw_err kw_store_key_each(struct kw_store *st, kw_store_key_cb cb, void *ctx);
/* Records last use (write-behind). Missing ids are ignored. */
enum kw_err kw_store_key_touch(struct kw_store *st, const char *id, int64_t last_used_at, const char *ip);

/* Usage: adds to the per-key counters of the minute that starts at minute_ms. */
enum kw_err kw_store_usage_add(struct kw_store *st, const char *key_id, const char *service_id,
                               int64_t minute_ms, int64_t valid, int64_t denied);

/* Usage of a service's keys since from_ms, summed per key per hour (minute = the hour's start),
 * ordered by hour then key, each with its key's start and description (a deleted key's too). */
enum kw_err kw_store_usage_list(struct kw_store *st, const char *service_id, int64_t from_ms,
                                struct kw_usage_point *items, size_t cap, size_t *n);

/* Users. insert: KW_ERR_EXISTS on a duplicate username. update writes password_hash, role,
 * disabled, last_login_at. delete also removes the user's sessions and memberships. */
enum kw_err kw_store_user_insert(struct kw_store *st, struct kw_user *u);
enum kw_err kw_store_user_get(struct kw_store *st, const char *username, struct kw_user *out);
enum kw_err kw_store_user_list(struct kw_store *st, int64_t after_seq, struct kw_user *items, size_t cap,
                               size_t *n);
enum kw_err kw_store_user_update(struct kw_store *st, const struct kw_user *u);
enum kw_err kw_store_user_delete(struct kw_store *st, const char *username);

/* Sessions, keyed by the SHA-256 of the cookie value. */
enum kw_err kw_store_session_insert(struct kw_store *st, const struct kw_session *s);
enum kw_err kw_store_session_get(struct kw_store *st, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out);
enum kw_err kw_store_session_touch(struct kw_store *st, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen);
enum kw_err kw_store_session_delete(struct kw_store *st, const uint8_t id_hash[KW_HASH_LEN]);
/* Ends every session of a user. */
enum kw_err kw_store_session_delete_user(struct kw_store *st, const char *username);

/* Memberships. insert: KW_ERR_EXISTS if already a member. */
enum kw_err kw_store_member_insert(struct kw_store *st, struct kw_member *m);
enum kw_err kw_store_member_get(struct kw_store *st, const char *service_id, const char *username,
                                struct kw_member *out);
/* service_id non-NULL: that service's members; else username's memberships. Ascending seq. */
enum kw_err kw_store_member_list(struct kw_store *st, const char *service_id, const char *username,
                                 int64_t after_seq, struct kw_member *items, size_t cap, size_t *n);
enum kw_err kw_store_member_update(struct kw_store *st, const struct kw_member *m);
enum kw_err kw_store_member_delete(struct kw_store *st, const char *service_id, const char *username);
/* Services username is a member of (ascending seq). */
enum kw_err kw_store_service_list_for(struct kw_store *st, const char *username, int64_t after_seq,
                                      struct kw_service *items, size_t cap, size_t *n);

/* Audit log, append-only. head: the last event's seq and hash (seq 0 and 32 zero bytes when empty).
 * append writes ev as given (seq and hashes computed by domain/audit.c). */
enum kw_err kw_store_audit_head(struct kw_store *st, int64_t *seq, uint8_t hash[KW_HASH_LEN]);
enum kw_err kw_store_audit_append(struct kw_store *st, const struct kw_audit_event *ev);

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
enum kw_err kw_store_audit_list(struct kw_store *st, const struct kw_audit_filter *f,
                                struct kw_audit_event *items, size_t cap, size_t *n);
/* Every event in ascending seq, for chain verification. Same cb contract as kw_store_key_each. */
typedef int (*kw_store_audit_cb)(void *ctx, const struct kw_audit_event *ev);
enum kw_err kw_store_audit_each(struct kw_store *st, kw_store_audit_cb cb, void *ctx);

#endif
