/* store_internal.h - the backend function table behind store.h. A backend allocates a struct that
 * begins with struct kw_store and fills ops; store.c dispatches every public call through it. A
 * backend's transaction begins with struct kw_tx; row operations get it back. */
#ifndef KW_STORE_STORE_INTERNAL_H
#define KW_STORE_STORE_INTERNAL_H

#include "store/store.h"

struct kw_tx {
    struct kw_store *st; /* the backend that opened it */
    enum kw_tx_mode mode;
};

struct kw_store_ops {
    void (*free)(struct kw_store *st);
    enum kw_err (*open_relaxed)(struct kw_store *st, struct kw_store **out);
    enum kw_err (*migrate)(struct kw_store *st, int *applied, int *version);
    enum kw_err (*schema_version)(struct kw_store *st, int *version);
    enum kw_err (*begin)(struct kw_store *st, enum kw_tx_mode mode, struct kw_tx **out);
    enum kw_err (*commit)(struct kw_tx *tx);
    void (*rollback)(struct kw_tx *tx);
    enum kw_err (*version_next)(struct kw_tx *tx, int64_t *version);
    enum kw_err (*meta_get)(struct kw_tx *tx, const char *name, char *out, size_t cap);
    enum kw_err (*meta_set)(struct kw_tx *tx, const char *name, const char *value);
    enum kw_err (*service_insert)(struct kw_tx *tx, struct kw_service *svc);
    enum kw_err (*service_get)(struct kw_tx *tx, const char *id, struct kw_service *out);
    enum kw_err (*service_list)(struct kw_tx *tx, int64_t after, struct kw_service *items, size_t cap, size_t *n);
    enum kw_err (*service_update)(struct kw_tx *tx, const struct kw_service *svc);
    enum kw_err (*service_delete)(struct kw_tx *tx, const char *id, int64_t version);
    enum kw_err (*service_live_keys)(struct kw_tx *tx, const char *id, int64_t now_ms, int64_t *count);
    enum kw_err (*key_insert)(struct kw_tx *tx, struct kw_key *key);
    enum kw_err (*key_get)(struct kw_tx *tx, const char *id, struct kw_key *out);
    enum kw_err (*key_list)(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_key *items,
                            size_t cap, size_t *n);
    enum kw_err (*key_update)(struct kw_tx *tx, const struct kw_key *key);
    enum kw_err (*key_delete)(struct kw_tx *tx, const char *id, int64_t version);
    enum kw_err (*key_tombstone_get)(struct kw_tx *tx, const char *id, struct kw_key *out);
    enum kw_err (*key_each)(struct kw_tx *tx, kw_store_key_cb cb, void *ctx);
    enum kw_err (*version_current)(struct kw_tx *tx, int64_t *version);
    enum kw_err (*key_changes)(struct kw_tx *tx, int64_t since, kw_store_change_cb cb, void *ctx);
    enum kw_err (*wait_change)(struct kw_store *st, int timeout_ms); /* NULL: no notifications */
    enum kw_err (*key_list_kind)(struct kw_tx *tx, const char *service_id, const char *service_user_id,
                                 const char *kind, int64_t after, struct kw_key *items, size_t cap, size_t *n);
    enum kw_err (*key_get_hash)(struct kw_tx *tx, const uint8_t hash[KW_HASH_LEN], struct kw_key *out);
    enum kw_err (*key_set_owner_enabled)(struct kw_tx *tx, const char *service_user_id, int enabled,
                                         int64_t version, int64_t now_ms, int64_t *changed);
    enum kw_err (*key_delete_owner)(struct kw_tx *tx, const char *service_user_id, int64_t version);
    enum kw_err (*service_user_insert)(struct kw_tx *tx, struct kw_service_user *su);
    enum kw_err (*service_user_get)(struct kw_tx *tx, const char *id, struct kw_service_user *out);
    enum kw_err (*service_user_list)(struct kw_tx *tx, const char *service_id, int64_t after,
                                     struct kw_service_user *items, size_t cap, size_t *n);
    enum kw_err (*service_user_update)(struct kw_tx *tx, const struct kw_service_user *su);
    enum kw_err (*service_user_delete)(struct kw_tx *tx, const char *id);
    enum kw_err (*key_touch)(struct kw_tx *tx, const char *id, int64_t at, const char *ip);
    enum kw_err (*usage_add)(struct kw_tx *tx, const char *key_id, const char *service_id, int64_t minute_ms,
                             int64_t valid, int64_t denied);
    enum kw_err (*usage_list)(struct kw_tx *tx, const char *service_id, int64_t from_ms,
                              struct kw_usage_point *items, size_t cap, size_t *n);
    enum kw_err (*user_insert)(struct kw_tx *tx, struct kw_user *u);
    enum kw_err (*user_get)(struct kw_tx *tx, const char *username, struct kw_user *out);
    enum kw_err (*user_list)(struct kw_tx *tx, int64_t after, struct kw_user *items, size_t cap, size_t *n);
    enum kw_err (*user_update)(struct kw_tx *tx, const struct kw_user *u);
    enum kw_err (*user_delete)(struct kw_tx *tx, const char *username);
    enum kw_err (*user_login)(struct kw_tx *tx, const struct kw_user *u, int64_t at);
    enum kw_err (*user_count_admins)(struct kw_tx *tx, int64_t *count);
    enum kw_err (*session_insert)(struct kw_tx *tx, const struct kw_session *s);
    enum kw_err (*session_get)(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out);
    enum kw_err (*session_touch)(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen);
    enum kw_err (*session_delete)(struct kw_tx *tx, const uint8_t id_hash[KW_HASH_LEN]);
    enum kw_err (*session_delete_user)(struct kw_tx *tx, const char *username, const uint8_t *keep);
    enum kw_err (*member_insert)(struct kw_tx *tx, struct kw_member *m);
    enum kw_err (*member_get)(struct kw_tx *tx, const char *service_id, const char *username,
                              struct kw_member *out);
    enum kw_err (*member_list)(struct kw_tx *tx, const char *service_id, const char *username, int64_t after,
                               struct kw_member *items, size_t cap, size_t *n);
    enum kw_err (*member_update)(struct kw_tx *tx, const struct kw_member *m);
    enum kw_err (*member_delete)(struct kw_tx *tx, const char *service_id, const char *username);
    enum kw_err (*service_list_for)(struct kw_tx *tx, const char *username, int64_t after,
                                    struct kw_service *items, size_t cap, size_t *n);
    enum kw_err (*audit_head)(struct kw_tx *tx, int64_t *seq, uint8_t hash[KW_HASH_LEN]);
    enum kw_err (*audit_append)(struct kw_tx *tx, const struct kw_audit_event *ev);
    enum kw_err (*audit_list)(struct kw_tx *tx, const struct kw_audit_filter *f, struct kw_audit_event *items,
                              size_t cap, size_t *n);
    enum kw_err (*audit_each)(struct kw_tx *tx, kw_store_audit_cb cb, void *ctx);
    enum kw_err (*row_each)(struct kw_tx *tx, enum kw_store_table t, kw_store_row_cb cb, void *ctx);
    enum kw_err (*row_put)(struct kw_tx *tx, const struct kw_store_row *row);
    /* signing keys: sqlite_signing.c, postgres_signing.c */
    enum kw_err (*signing_key_insert)(struct kw_tx *tx, const struct kw_signing_key *k);
    enum kw_err (*signing_key_list)(struct kw_tx *tx, struct kw_signing_key *items, size_t cap, size_t *n);
    enum kw_err (*signing_key_update)(struct kw_tx *tx, const struct kw_signing_key *k);
    enum kw_err (*signing_key_delete)(struct kw_tx *tx, const char *kid);
    enum kw_err (*signing_key_stamp)(struct kw_tx *tx, int64_t *max_version, int64_t *count);
    /* response-encryption keys: sqlite_enckeys.c, postgres_enckeys.c */
    enum kw_err (*enc_key_insert)(struct kw_tx *tx, const struct kw_enc_key *k);
    enum kw_err (*enc_key_list)(struct kw_tx *tx, struct kw_enc_key *items, size_t cap, size_t *n);
    enum kw_err (*enc_key_update)(struct kw_tx *tx, const struct kw_enc_key *k);
    enum kw_err (*enc_key_delete)(struct kw_tx *tx, const char *kid);
    enum kw_err (*enc_key_stamp)(struct kw_tx *tx, int64_t *max_version, int64_t *count);
    /* shared state (throttle, jobs): sqlite_shared.c, postgres_shared.c */
    int shared; /* 1: other nodes may use the same database */
    enum kw_err (*throttle_reserve)(struct kw_tx *tx, const char *key, int limit, int64_t now_ms,
                                    int64_t window_ms, int *reserved, struct kw_throttle_row *row);
    enum kw_err (*throttle_settle)(struct kw_tx *tx, const char *key, enum kw_store_settle how,
                                   int64_t now_ms, int64_t window_ms);
    enum kw_err (*throttle_purge)(struct kw_tx *tx, int64_t before_ms, int64_t *deleted);
    enum kw_err (*session_purge)(struct kw_tx *tx, int64_t now_ms, int64_t idle_before_ms, int64_t *deleted);
    enum kw_err (*job_ensure)(struct kw_tx *tx, const char *name, int64_t next_run_at);
    enum kw_err (*job_lease)(struct kw_tx *tx, const char *name, const char *node, int64_t now_ms,
                             int64_t lease_ms, struct kw_job *out);
    enum kw_err (*job_finish)(struct kw_tx *tx, const struct kw_job *lease, int64_t now_ms,
                              int64_t next_run_at, const char *error);
    enum kw_err (*job_get)(struct kw_tx *tx, const char *name, struct kw_job *out);
    /* single-use values: sqlite_nonces.c, postgres_nonces.c */
    enum kw_err (*nonce_insert)(struct kw_tx *tx, const char *scope, const char *value, int64_t created_at);
    enum kw_err (*nonce_purge)(struct kw_tx *tx, int64_t before_ms, int64_t *deleted);
    /* identity records: sqlite_records.c, postgres_records.c */
    enum kw_err (*record_insert)(struct kw_tx *tx, struct kw_record *r);
    enum kw_err (*record_get)(struct kw_tx *tx, const char *service_id, const char *ref_id, struct kw_record *out);
    enum kw_err (*record_get_id)(struct kw_tx *tx, const char *id, struct kw_record *out);
    enum kw_err (*record_list)(struct kw_tx *tx, const struct kw_record_filter *f, struct kw_record *items,
                               size_t cap, size_t *n);
    enum kw_err (*record_update)(struct kw_tx *tx, const struct kw_record *r);
    enum kw_err (*record_due)(struct kw_tx *tx, int64_t now_ms, char (*ids)[KW_ID_MAX], size_t cap, size_t *n);
    enum kw_err (*record_picture_put)(struct kw_tx *tx, const char *record_id, const struct kw_record_picture *p);
    enum kw_err (*record_picture_list)(struct kw_tx *tx, const char *record_id, int with_data,
                                       struct kw_record_picture *items, size_t cap, size_t *n);
    enum kw_err (*record_picture_wipe)(struct kw_tx *tx, const char *record_id);
    enum kw_err (*record_history_append)(struct kw_tx *tx, const char *record_id, struct kw_record_history *h);
    enum kw_err (*record_history_list)(struct kw_tx *tx, const char *record_id, struct kw_record_history *items,
                                       size_t cap, size_t *n);
    /* webhook delivery leases: sqlite_deliver.c, postgres_deliver.c */
    enum kw_err (*delivery_lease)(struct kw_tx *tx, const char *node, int64_t now_ms, int64_t lease_ms,
                                  struct kw_delivery_lease *items, size_t cap, size_t *n);
    enum kw_err (*delivery_record)(struct kw_tx *tx, const struct kw_delivery_lease *lease,
                                   const struct kw_delivery_attempt *a);
    enum kw_err (*delivery_release)(struct kw_tx *tx, const char *node, const char *id, int64_t *released);
    enum kw_err (*webhook_gone)(struct kw_tx *tx, const char *webhook_id, int64_t now_ms, int64_t *failed);
    enum kw_err (*scrub)(struct kw_store *st); /* NULL: nothing to do */
    /* documents: sqlite_documents.c, postgres_documents.c */
    enum kw_err (*document_insert)(struct kw_tx *tx, struct kw_document *d);
    enum kw_err (*document_get)(struct kw_tx *tx, const char *id, struct kw_document *out);
    enum kw_err (*document_get_idem)(struct kw_tx *tx, const char *service_id, const char *key,
                                     struct kw_document *out);
    enum kw_err (*document_list)(struct kw_tx *tx, const struct kw_document_filter *f, struct kw_document *items,
                                 size_t cap, size_t *n);
    enum kw_err (*document_content_put)(struct kw_tx *tx, const char *id, int64_t nchunks, size_t rec_size,
                                        kw_store_chunk_fn fn, void *ctx);
    enum kw_err (*document_chunk_get)(struct kw_tx *tx, const char *id, int64_t index, size_t rec_size,
                                      uint8_t *buf, size_t cap, size_t *len);
    enum kw_err (*document_shred)(struct kw_tx *tx, const char *id, int64_t deleted_at);
    enum kw_err (*document_content_drop)(struct kw_store *st, const char *id);
    enum kw_err (*document_dek_set)(struct kw_tx *tx, const char *id, const uint8_t *sealed, size_t len);
    enum kw_err (*document_content_stage)(struct kw_store *st, const char *id, int64_t nchunks, size_t rec_size,
                                          kw_store_chunk_fn fn, void *ctx, int *staged);
    enum kw_err (*document_content_done)(struct kw_store *st, const char *id);
    enum kw_err (*document_content_recover)(struct kw_store *st, int *settled);
    /* webhooks: sqlite_webhooks.c, postgres_webhooks.c */
    enum kw_err (*webhook_insert)(struct kw_tx *tx, struct kw_webhook *w);
    enum kw_err (*webhook_get)(struct kw_tx *tx, const char *id, struct kw_webhook *out);
    enum kw_err (*webhook_list)(struct kw_tx *tx, const char *service_id, int64_t after, struct kw_webhook *items,
                                size_t cap, size_t *n);
    enum kw_err (*webhook_update)(struct kw_tx *tx, const struct kw_webhook *w);
    enum kw_err (*webhook_delete)(struct kw_tx *tx, const char *id);
    enum kw_err (*webhook_count)(struct kw_tx *tx, const char *service_id, int64_t *total, int64_t *enabled);
    enum kw_err (*webhook_delivery_insert)(struct kw_tx *tx, struct kw_webhook_delivery *d);
    enum kw_err (*webhook_delivery_get)(struct kw_tx *tx, const char *id, struct kw_webhook_delivery *out);
    enum kw_err (*webhook_delivery_list)(struct kw_tx *tx, const char *webhook_id, int64_t before,
                                         struct kw_webhook_delivery *items, size_t cap, size_t *n);
    enum kw_err (*webhook_delivery_retry)(struct kw_tx *tx, const char *id, int64_t now_ms);
    enum kw_err (*webhook_attempt_insert)(struct kw_tx *tx, const struct kw_webhook_attempt *a);
    enum kw_err (*webhook_attempt_list)(struct kw_tx *tx, const char *delivery_id, struct kw_webhook_attempt *items,
                                        size_t cap, size_t *n);
};

struct kw_store {
    const struct kw_store_ops *ops;
};

/* The tables kw_store_row_each/put move, the same columns on both backends (store.c). */
struct kw_store_table_def {
    const char *name;
    const char *cols;   /* the column list, in row order */
    const char *types;  /* one letter per column: i integer, t text, b blob */
    const char *order;  /* the primary key, for ORDER BY */
    const char *upsert; /* NULL, or the ON CONFLICT clause of a row a migration creates */
    int identity;       /* seq is generated by the database (PostgreSQL: its sequence follows a put) */
};
extern const struct kw_store_table_def kw_store_tables[KW_TABLE_COUNT];
/* Writes the walk ("SELECT cols FROM t ORDER BY pk") or the put ("INSERT INTO t(cols) VALUES (...)"
 * with ? or, when dollar, $1.. placeholders) into out. 0 on success, -1 if it does not fit. */
int kw_store_row_sql(enum kw_store_table t, int put, int dollar, char *out, size_t cap);

/* Backends. */
enum kw_err kw_store_sqlite_open(const char *data_dir, struct kw_store **out);
enum kw_err kw_store_pg_open(const char *uri, const struct kw_store_options *opt, struct kw_store **out);

#endif
