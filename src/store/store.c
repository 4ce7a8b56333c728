/* store.c - picks a backend and dispatches; see store.h. */
#include "store/store.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "store/store_internal.h"

static int is_pg(const char *spec)
{
    return strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0;
}

enum kw_err kw_store_open_opts(const char *spec, const char *data_dir, const struct kw_store_options *opt,
                               struct kw_store **out)
{
    char quoted[80];

    *out = NULL;
    if (spec != NULL && strcmp(spec, "sqlite") == 0) {
        if (data_dir != NULL)
            return kw_store_sqlite_open(data_dir, out);
        kw_log_error("store failure", "op=open err=\"no data directory\"");
        return KW_ERR_INVALID;
    }
    if (spec != NULL && is_pg(spec))
        return kw_store_pg_open(spec, opt, out);
    /* Only the scheme: a connection URL may carry a password. kw_log_quote wraps in '"'. */
    kw_log_quote(quoted, sizeof(quoted), spec != NULL ? spec : "");
    kw_log_error("unknown store", "scheme=\"%.*s\" supported=sqlite,postgresql", (int)strcspn(quoted + 1, ":/@\"\\"),
                 quoted + 1);
    return KW_ERR_INVALID;
}

enum kw_err kw_store_open(const char *spec, const char *data_dir, struct kw_store **out)
{
    return kw_store_open_opts(spec, data_dir, NULL, out);
}

/* Appends n bytes of src to out (cap bytes), keeping it NUL-terminated. */
static void put(char *out, size_t cap, size_t *len, const char *src, size_t n)
{
    if (*len + 1 >= cap)
        return;
    if (n > cap - 1 - *len)
        n = cap - 1 - *len;
    memcpy(out + *len, src, n);
    *len += n;
    out[*len] = '\0';
}

void kw_store_describe(const char *spec, char *out, size_t cap)
{
    const char *p = spec, *auth, *end, *at = NULL, *colon, *q;
    size_t len = 0;

    if (cap == 0)
        return;
    out[0] = '\0';
    auth = strstr(spec, "://");
    if (auth == NULL) {
        put(out, cap, &len, spec, strlen(spec));
        return;
    }
    auth += 3;
    end = auth + strcspn(auth, "/?");
    for (q = auth; q < end; q++) /* the last '@' ends the user info */
        if (*q == '@')
            at = q;
    colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon != NULL) {
        put(out, cap, &len, p, (size_t)(colon + 1 - p));
        put(out, cap, &len, "***", 3);
        p = at;
    }
    while ((q = strstr(p, "password=")) != NULL) { /* a query parameter */
        if (q == spec || (q[-1] != '?' && q[-1] != '&')) {
            put(out, cap, &len, p, (size_t)(q + 9 - p));
            p = q + 9;
            continue;
        }
        put(out, cap, &len, p, (size_t)(q + 9 - p));
        put(out, cap, &len, "***", 3);
        p = q + 9 + strcspn(q + 9, "&");
    }
    put(out, cap, &len, p, strlen(p));
}

void kw_store_free(struct kw_store *st)
{
    if (st != NULL)
        st->ops->free(st);
}

enum kw_err kw_store_open_relaxed(struct kw_store *st, struct kw_store **out)
{
    *out = NULL;
    return st->ops->open_relaxed(st, out);
}

#define KW_DISPATCH(name, params, args)                                                                      \
    enum kw_err kw_store_##name params                                                                       \
    {                                                                                                        \
        return st->ops->name args;                                                                           \
    }
/* Calls inside a transaction go to the backend that opened it. */
#define KW_TXD(name, params, args)                                                                           \
    enum kw_err kw_store_##name params                                                                       \
    {                                                                                                        \
        return tx->st->ops->name args;                                                                       \
    }

KW_DISPATCH(migrate, (struct kw_store * st, int *applied, int *version), (st, applied, version))
KW_DISPATCH(schema_version, (struct kw_store * st, int *version), (st, version))
KW_TXD(meta_get, (struct kw_tx * tx, const char *name, char *out, size_t cap), (tx, name, out, cap))
KW_TXD(meta_set, (struct kw_tx * tx, const char *name, const char *value), (tx, name, value))
KW_TXD(service_insert, (struct kw_tx * tx, struct kw_service *svc), (tx, svc))
KW_TXD(service_get, (struct kw_tx * tx, const char *id, struct kw_service *out), (tx, id, out))
KW_TXD(service_list,
            (struct kw_tx * tx, int64_t after, struct kw_service *items, size_t cap, size_t *n),
            (tx, after, items, cap, n))
KW_TXD(service_update, (struct kw_tx * tx, const struct kw_service *svc), (tx, svc))
KW_TXD(service_delete, (struct kw_tx * tx, const char *id, int64_t version), (tx, id, version))
KW_TXD(service_live_keys, (struct kw_tx * tx, const char *id, int64_t now_ms, int64_t *count),
            (tx, id, now_ms, count))
KW_TXD(key_insert, (struct kw_tx * tx, struct kw_key *key), (tx, key))
KW_TXD(key_get, (struct kw_tx * tx, const char *id, struct kw_key *out), (tx, id, out))
KW_TXD(key_list,
            (struct kw_tx * tx, const char *service_id, int64_t after, struct kw_key *items, size_t cap,
             size_t *n),
            (tx, service_id, after, items, cap, n))
KW_TXD(key_update, (struct kw_tx * tx, const struct kw_key *key), (tx, key))
KW_TXD(key_delete, (struct kw_tx * tx, const char *id, int64_t version), (tx, id, version))
KW_TXD(key_each, (struct kw_tx * tx, kw_store_key_cb cb, void *ctx), (tx, cb, ctx))
KW_TXD(version_current, (struct kw_tx * tx, int64_t *version), (tx, version))
KW_TXD(key_changes, (struct kw_tx * tx, int64_t since, kw_store_change_cb cb, void *ctx), (tx, since, cb, ctx))

enum kw_err kw_store_wait_change(struct kw_store *st, int timeout_ms)
{
    return st->ops->wait_change != NULL ? st->ops->wait_change(st, timeout_ms) : KW_ERR_INVALID;
}
KW_TXD(key_list_kind,
       (struct kw_tx * tx, const char *service_id, const char *service_user_id, const char *kind,
        int64_t after, struct kw_key *items, size_t cap, size_t *n),
       (tx, service_id, service_user_id, kind, after, items, cap, n))
KW_TXD(key_get_hash, (struct kw_tx * tx, const uint8_t hash[KW_HASH_LEN], struct kw_key *out), (tx, hash, out))
KW_TXD(key_set_owner_enabled,
       (struct kw_tx * tx, const char *service_user_id, int enabled, int64_t version, int64_t now_ms,
        int64_t *changed),
       (tx, service_user_id, enabled, version, now_ms, changed))
KW_TXD(key_delete_owner, (struct kw_tx * tx, const char *service_user_id, int64_t version),
       (tx, service_user_id, version))
KW_TXD(service_user_insert, (struct kw_tx * tx, struct kw_service_user *su), (tx, su))
KW_TXD(service_user_get, (struct kw_tx * tx, const char *id, struct kw_service_user *out), (tx, id, out))
KW_TXD(service_user_list,
       (struct kw_tx * tx, const char *service_id, int64_t after, struct kw_service_user *items, size_t cap,
        size_t *n),
       (tx, service_id, after, items, cap, n))
KW_TXD(service_user_update, (struct kw_tx * tx, const struct kw_service_user *su), (tx, su))
KW_TXD(service_user_delete, (struct kw_tx * tx, const char *id), (tx, id))
KW_TXD(key_touch, (struct kw_tx * tx, const char *id, int64_t at, const char *ip), (tx, id, at, ip))
KW_TXD(usage_add,
            (struct kw_tx * tx, const char *key_id, const char *service_id, int64_t minute_ms,
             int64_t valid, int64_t denied),
            (tx, key_id, service_id, minute_ms, valid, denied))
KW_TXD(audit_head, (struct kw_tx * tx, int64_t *seq, uint8_t hash[KW_HASH_LEN]), (tx, seq, hash))
KW_TXD(audit_append, (struct kw_tx * tx, const struct kw_audit_event *ev), (tx, ev))
KW_TXD(audit_list,
            (struct kw_tx * tx, const struct kw_audit_filter *f, struct kw_audit_event *items, size_t cap,
             size_t *n),
            (tx, f, items, cap, n))
KW_TXD(audit_each, (struct kw_tx * tx, kw_store_audit_cb cb, void *ctx), (tx, cb, ctx))

KW_TXD(usage_list,
            (struct kw_tx * tx, const char *service_id, int64_t from_ms, struct kw_usage_point *items,
             size_t cap, size_t *n),
            (tx, service_id, from_ms, items, cap, n))
KW_TXD(user_insert, (struct kw_tx * tx, struct kw_user *u), (tx, u))
KW_TXD(user_get, (struct kw_tx * tx, const char *username, struct kw_user *out), (tx, username, out))
KW_TXD(user_list, (struct kw_tx * tx, int64_t after, struct kw_user *items, size_t cap, size_t *n),
            (tx, after, items, cap, n))
KW_TXD(user_update, (struct kw_tx * tx, const struct kw_user *u), (tx, u))
KW_TXD(user_delete, (struct kw_tx * tx, const char *username), (tx, username))
KW_TXD(session_insert, (struct kw_tx * tx, const struct kw_session *s), (tx, s))
KW_TXD(session_get, (struct kw_tx * tx, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out),
            (tx, id_hash, out))
KW_TXD(session_touch, (struct kw_tx * tx, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen),
            (tx, id_hash, last_seen))
KW_TXD(session_delete, (struct kw_tx * tx, const uint8_t id_hash[KW_HASH_LEN]), (tx, id_hash))
KW_TXD(session_delete_user, (struct kw_tx * tx, const char *username, const uint8_t *keep),
       (tx, username, keep))
KW_TXD(version_next, (struct kw_tx * tx, int64_t *version), (tx, version))
KW_TXD(user_login, (struct kw_tx * tx, const struct kw_user *u, int64_t at), (tx, u, at))
KW_TXD(user_count_admins, (struct kw_tx * tx, int64_t *count), (tx, count))
KW_TXD(key_tombstone_get, (struct kw_tx * tx, const char *id, struct kw_key *out), (tx, id, out))
KW_TXD(member_insert, (struct kw_tx * tx, struct kw_member *m), (tx, m))
KW_TXD(member_get,
            (struct kw_tx * tx, const char *service_id, const char *username, struct kw_member *out),
            (tx, service_id, username, out))
KW_TXD(member_list,
            (struct kw_tx * tx, const char *service_id, const char *username, int64_t after,
             struct kw_member *items, size_t cap, size_t *n),
            (tx, service_id, username, after, items, cap, n))
KW_TXD(member_update, (struct kw_tx * tx, const struct kw_member *m), (tx, m))
KW_TXD(member_delete, (struct kw_tx * tx, const char *service_id, const char *username),
            (tx, service_id, username))
KW_TXD(service_list_for,
            (struct kw_tx * tx, const char *username, int64_t after, struct kw_service *items, size_t cap,
             size_t *n),
            (tx, username, after, items, cap, n))

enum kw_err kw_store_begin(struct kw_store *st, enum kw_tx_mode mode, struct kw_tx **out)
{
    *out = NULL;
    return st->ops->begin(st, mode, out);
}

enum kw_err kw_store_commit(struct kw_tx *tx)
{
    return tx->st->ops->commit(tx);
}

void kw_store_rollback(struct kw_tx *tx)
{
    if (tx != NULL)
        tx->st->ops->rollback(tx);
}

int kw_store_tx_writes(const struct kw_tx *tx)
{
    return tx->mode == KW_TX_WRITE;
}

/* ---- moving a deployment ---- */

const struct kw_store_table_def kw_store_tables[KW_TABLE_COUNT] = {
    [KW_TABLE_META] = {"meta", "name, value", "tt", "name", NULL, 0},
    [KW_TABLE_COUNTERS] = {"counters", "name, value", "ti", "name",
                           "ON CONFLICT(name) DO UPDATE SET value = excluded.value", 0},
    [KW_TABLE_SERVICES] = {"services", "seq, id, name, description, key_prefix, created_at, updated_at", "ittttii",
                           "seq", NULL, 1},
    [KW_TABLE_SERVICE_USERS] = {"service_users",
                                "seq, id, service_id, name, source_system, perms, enabled, client_secret_hash, "
                                "client_secret_set_at, created_at, created_by, updated_at, version",
                                "ittttiibiitii", "seq", NULL, 1},
    [KW_TABLE_KEYS] = {"keys",
                       "seq, id, service_id, hash, start, description, scope, perms, enabled, created_at, "
                       "created_by, updated_at, expires_at, revoked_at, archive_after_extract_s, last_used_at, "
                       "last_used_ip, rolled_from, version, rolled_to, kind, service_user_id, owner_enabled, "
                       "sealed, require_encryption",
                       "ittbttiiiitiiiiittitttibi", "seq", NULL, 1},
    [KW_TABLE_KEY_TOMBSTONES] = {"key_tombstones",
                                 "id, service_id, hash, start, description, created_at, version, deleted_at, "
                                 "kind, service_user_id",
                                 "ttbttiiitt", "id", NULL, 0},
    [KW_TABLE_USAGE] = {"usage", "key_id, service_id, minute, valid, denied", "ttiii", "key_id, minute", NULL, 0},
    [KW_TABLE_USERS] = {"users", "seq, username, password_hash, role, disabled, created_at, last_login_at",
                        "itttiii", "seq", NULL, 1},
    [KW_TABLE_SESSIONS] = {"sessions", "id_hash, username, csrf, created_at, last_seen, expires_at", "bttiii",
                           "id_hash", NULL, 0},
    [KW_TABLE_MEMBERS] = {"members", "seq, service_id, username, role, created_at", "ittti", "seq", NULL, 1},
    [KW_TABLE_AUDIT] = {"audit",
                        "seq, id, time, actor_type, actor_id, action, target_type, target_id, service_id, "
                        "outcome, ip, request_id, detail, prev_hash, hash",
                        "itittttttttttbb", "seq", NULL, 0},
    [KW_TABLE_SIGNING_KEYS] = {"signing_keys",
                               "kid, alg, public_key, private_sealed, created_at, retire_after, status, version",
                               "ttbbiiti", "kid", NULL, 0},
    [KW_TABLE_ENCRYPTION_KEYS] = {"encryption_keys",
                                  "kid, public_pem, private_sealed, created_at, retire_after, status, version",
                                  "ttbiiti", "kid", NULL, 0},
    [KW_TABLE_RECORDS] = {"records",
                          "seq, id, service_id, ref_id, identity_id, status, is_archived, inreview_date, "
                          "waiting_date, approved_date, will_archive_at, created_at, updated_at, created_by, "
                          "version, sealed_dek, attributes_ct, certificates",
                          "itttttiiiiiiitibbt", "seq", NULL, 1},
    [KW_TABLE_RECORD_PICTURES] = {"record_pictures", "record_id, name, media_type, size, ct, updated_at", "tttibi",
                                  "record_id, name", NULL, 0},
    [KW_TABLE_RECORD_HISTORY] = {"record_history",
                                 "record_id, seq, at, actor_type, actor_id, from_status, to_status, comment",
                                 "tiittttt", "record_id, seq", NULL, 0},
    [KW_TABLE_DOCUMENTS] = {"documents",
                            "seq, id, service_id, service_user_id, credential_id, filename, media_type, size, "
                            "sha256, source_tag, external_id, document_category, department, approver_department, "
                            "metadata, sealed_dek, chunk_size, nchunks, idempotency_key, idempotency_hash, "
                            "created_at, deleted_at",
                            "ittttttitttttttbiitbii", "seq", NULL, 1},
    [KW_TABLE_WEBHOOKS] = {"webhooks",
                           "seq, id, service_id, url, events, description, enabled, disabled_reason, "
                           "secret_sealed, prev_secret_sealed, prev_secret_until, created_by, created_at, updated_at",
                           "itttttitbbitii", "seq", NULL, 1},
    [KW_TABLE_WEBHOOK_DELIVERIES] = {"webhook_deliveries",
                                     "seq, id, webhook_id, service_id, event_type, payload, created_at, state, "
                                     "attempts, next_attempt_at, lease_owner, lease_until, last_status, last_error, "
                                     "updated_at",
                                     "itttttitiitiiti", "seq", NULL, 1},
    [KW_TABLE_WEBHOOK_ATTEMPTS] = {"webhook_attempts", "delivery_id, n, at, status, error, duration_ms, node",
                                   "tiiitit", "delivery_id, n", NULL, 0},
};

const char *kw_store_table_name(enum kw_store_table t)
{
    return (unsigned)t < KW_TABLE_COUNT ? kw_store_tables[t].name : "?";
}

int kw_store_row_sql(enum kw_store_table t, int put, int dollar, char *out, size_t cap)
{
    const struct kw_store_table_def *d = &kw_store_tables[t];
    size_t len = 0, i, n = strlen(d->types);
    char ph[32];
    int w;

    if (!put) {
        w = snprintf(out, cap, "SELECT %s FROM %s ORDER BY %s", d->cols, d->name, d->order);
        return w >= 0 && (size_t)w < cap ? 0 : -1;
    }
    w = snprintf(out, cap, "INSERT INTO %s(%s) VALUES (", d->name, d->cols);
    if (w < 0 || (size_t)w >= cap)
        return -1;
    len = (size_t)w;
    for (i = 0; i < n; i++) {
        if (dollar)
            snprintf(ph, sizeof(ph), "%s$%zu", i ? "," : "", i + 1);
        else
            snprintf(ph, sizeof(ph), "%s?", i ? "," : "");
        w = snprintf(out + len, cap - len, "%s", ph);
        if (w < 0 || (size_t)w >= cap - len)
            return -1;
        len += (size_t)w;
    }
    w = snprintf(out + len, cap - len, ")%s%s", d->upsert ? " " : "", d->upsert ? d->upsert : "");
    return w >= 0 && (size_t)w < cap - len ? 0 : -1;
}

enum kw_err kw_store_row_each(struct kw_tx *tx, enum kw_store_table t, kw_store_row_cb cb, void *ctx)
{
    if ((unsigned)t >= KW_TABLE_COUNT)
        return KW_ERR_INVALID;
    return tx->st->ops->row_each(tx, t, cb, ctx);
}

enum kw_err kw_store_row_put(struct kw_tx *tx, const struct kw_store_row *row)
{
    if ((unsigned)row->table >= KW_TABLE_COUNT || row->n != (int)strlen(kw_store_tables[row->table].types))
        return KW_ERR_INVALID;
    return tx->st->ops->row_put(tx, row);
}
/* ---- shared state ---- */

int kw_store_shared(struct kw_store *st)
{
    return st->ops->shared;
}

#define KW_TXW(name, params, args)                                                                           \
    enum kw_err kw_store_##name params                                                                       \
    {                                                                                                        \
        if (tx->mode != KW_TX_WRITE)                                                                         \
            return KW_ERR_INVALID;                                                                           \
        return tx->st->ops->name args;                                                                       \
    }
KW_TXW(throttle_reserve,
       (struct kw_tx * tx, const char *key, int limit, int64_t now_ms, int64_t window_ms, int *reserved,
        struct kw_throttle_row *row),
       (tx, key, limit, now_ms, window_ms, reserved, row))
KW_TXW(throttle_settle,
       (struct kw_tx * tx, const char *key, enum kw_store_settle how, int64_t now_ms, int64_t window_ms),
       (tx, key, how, now_ms, window_ms))
KW_TXW(throttle_purge, (struct kw_tx * tx, int64_t before_ms, int64_t *deleted), (tx, before_ms, deleted))
KW_TXW(session_purge, (struct kw_tx * tx, int64_t now_ms, int64_t idle_before_ms, int64_t *deleted),
       (tx, now_ms, idle_before_ms, deleted))
KW_TXW(job_ensure, (struct kw_tx * tx, const char *name, int64_t next_run_at), (tx, name, next_run_at))
KW_TXW(job_lease,
       (struct kw_tx * tx, const char *name, const char *node, int64_t now_ms, int64_t lease_ms,
        struct kw_job *out),
       (tx, name, node, now_ms, lease_ms, out))
KW_TXW(job_finish,
       (struct kw_tx * tx, const struct kw_job *lease, int64_t now_ms, int64_t next_run_at,
        const char *error),
       (tx, lease, now_ms, next_run_at, error))
KW_TXD(job_get, (struct kw_tx * tx, const char *name, struct kw_job *out), (tx, name, out))
KW_TXW(nonce_purge, (struct kw_tx * tx, int64_t before_ms, int64_t *deleted), (tx, before_ms, deleted))

enum kw_err kw_store_nonce_insert(struct kw_tx *tx, const char *scope, const char *value, int64_t created_at)
{
    if (tx->mode != KW_TX_WRITE)
        return KW_ERR_INVALID;
    if (strlen(scope) >= KW_NONCE_SCOPE_MAX || strlen(value) >= KW_NONCE_VALUE_MAX)
        return KW_ERR_TOO_LARGE;
    return tx->st->ops->nonce_insert(tx, scope, value, created_at);
}

/* ---- signing keys ---- */

KW_TXW(signing_key_insert, (struct kw_tx * tx, const struct kw_signing_key *k), (tx, k))
KW_TXD(signing_key_list, (struct kw_tx * tx, struct kw_signing_key *items, size_t cap, size_t *n),
       (tx, items, cap, n))
KW_TXW(signing_key_update, (struct kw_tx * tx, const struct kw_signing_key *k), (tx, k))
KW_TXW(signing_key_delete, (struct kw_tx * tx, const char *kid), (tx, kid))
KW_TXD(signing_key_stamp, (struct kw_tx * tx, int64_t *max_version, int64_t *count), (tx, max_version, count))

/* ---- identity records ---- */

KW_TXW(record_insert, (struct kw_tx * tx, struct kw_record *r), (tx, r))
KW_TXD(record_get, (struct kw_tx * tx, const char *service_id, const char *ref_id, struct kw_record *out),
       (tx, service_id, ref_id, out))
KW_TXD(record_get_id, (struct kw_tx * tx, const char *id, struct kw_record *out), (tx, id, out))
KW_TXD(record_list,
       (struct kw_tx * tx, const struct kw_record_filter *f, struct kw_record *items, size_t cap, size_t *n),
       (tx, f, items, cap, n))
KW_TXW(record_update, (struct kw_tx * tx, const struct kw_record *r), (tx, r))
KW_TXD(record_due, (struct kw_tx * tx, int64_t now_ms, char (*ids)[KW_ID_MAX], size_t cap, size_t *n),
       (tx, now_ms, ids, cap, n))
KW_TXW(record_picture_put, (struct kw_tx * tx, const char *record_id, const struct kw_record_picture *p),
       (tx, record_id, p))
KW_TXD(record_picture_list,
       (struct kw_tx * tx, const char *record_id, int with_data, struct kw_record_picture *items, size_t cap,
        size_t *n),
       (tx, record_id, with_data, items, cap, n))
KW_TXW(record_picture_wipe, (struct kw_tx * tx, const char *record_id), (tx, record_id))
KW_TXW(record_history_append, (struct kw_tx * tx, const char *record_id, struct kw_record_history *h),
       (tx, record_id, h))
KW_TXD(record_history_list,
       (struct kw_tx * tx, const char *record_id, struct kw_record_history *items, size_t cap, size_t *n),
       (tx, record_id, items, cap, n))
KW_TXW(delivery_lease,
       (struct kw_tx * tx, const char *node, int64_t now_ms, int64_t lease_ms, struct kw_delivery_lease *items,
        size_t cap, size_t *n),
       (tx, node, now_ms, lease_ms, items, cap, n))
KW_TXW(delivery_record, (struct kw_tx * tx, const struct kw_delivery_lease *lease, const struct kw_delivery_attempt *a),
       (tx, lease, a))
KW_TXW(delivery_release, (struct kw_tx * tx, const char *node, const char *id, int64_t *released),
       (tx, node, id, released))
KW_TXW(webhook_gone, (struct kw_tx * tx, const char *webhook_id, int64_t now_ms, int64_t *failed),
       (tx, webhook_id, now_ms, failed))

enum kw_err kw_store_scrub(struct kw_store *st)
{
    return st->ops->scrub != NULL ? st->ops->scrub(st) : KW_OK;
}

/* ---- documents ---- */

KW_TXW(document_insert, (struct kw_tx * tx, struct kw_document *d), (tx, d))
KW_TXD(document_get, (struct kw_tx * tx, const char *id, struct kw_document *out), (tx, id, out))
KW_TXD(document_get_idem, (struct kw_tx * tx, const char *service_id, const char *key, struct kw_document *out),
       (tx, service_id, key, out))
KW_TXD(document_list,
       (struct kw_tx * tx, const struct kw_document_filter *f, struct kw_document *items, size_t cap, size_t *n),
       (tx, f, items, cap, n))
KW_TXW(document_content_put,
       (struct kw_tx * tx, const char *id, int64_t nchunks, size_t rec_size, kw_store_chunk_fn fn, void *ctx),
       (tx, id, nchunks, rec_size, fn, ctx))
KW_TXD(document_chunk_get,
       (struct kw_tx * tx, const char *id, int64_t index, size_t rec_size, uint8_t *buf, size_t cap, size_t *len),
       (tx, id, index, rec_size, buf, cap, len))
KW_TXW(document_shred, (struct kw_tx * tx, const char *id, int64_t deleted_at), (tx, id, deleted_at))

enum kw_err kw_store_document_content_drop(struct kw_store *st, const char *id)
{
    return st->ops->document_content_drop != NULL ? st->ops->document_content_drop(st, id) : KW_OK;
}

KW_TXW(document_dek_set, (struct kw_tx * tx, const char *id, const uint8_t *sealed, size_t len),
       (tx, id, sealed, len))
/* Backends without staging (PostgreSQL) leave these NULL: nothing staged, nothing to settle. */
enum kw_err kw_store_document_content_stage(struct kw_store *st, const char *id, int64_t nchunks,
                                            size_t rec_size, kw_store_chunk_fn fn, void *ctx, int *staged)
{
    *staged = 0;
    return st->ops->document_content_stage != NULL
               ? st->ops->document_content_stage(st, id, nchunks, rec_size, fn, ctx, staged)
               : KW_OK;
}

enum kw_err kw_store_document_content_done(struct kw_store *st, const char *id)
{
    return st->ops->document_content_done != NULL ? st->ops->document_content_done(st, id) : KW_OK;
}

enum kw_err kw_store_document_content_recover(struct kw_store *st, int *settled)
{
    if (settled != NULL)
        *settled = 0;
    return st->ops->document_content_recover != NULL ? st->ops->document_content_recover(st, settled) : KW_OK;
}

/* ---- response-encryption keys ---- */

KW_TXW(enc_key_insert, (struct kw_tx * tx, const struct kw_enc_key *k), (tx, k))
KW_TXD(enc_key_list, (struct kw_tx * tx, struct kw_enc_key *items, size_t cap, size_t *n), (tx, items, cap, n))
KW_TXW(enc_key_update, (struct kw_tx * tx, const struct kw_enc_key *k), (tx, k))
KW_TXW(enc_key_delete, (struct kw_tx * tx, const char *kid), (tx, kid))
KW_TXD(enc_key_stamp, (struct kw_tx * tx, int64_t *max_version, int64_t *count), (tx, max_version, count))

/* ---- webhooks ---- */

KW_TXW(webhook_insert, (struct kw_tx * tx, struct kw_webhook *w), (tx, w))
KW_TXD(webhook_get, (struct kw_tx * tx, const char *id, struct kw_webhook *out), (tx, id, out))
KW_TXD(webhook_list,
       (struct kw_tx * tx, const char *service_id, int64_t after_seq, struct kw_webhook *items, size_t cap,
        size_t *n),
       (tx, service_id, after_seq, items, cap, n))
KW_TXW(webhook_update, (struct kw_tx * tx, const struct kw_webhook *w), (tx, w))
KW_TXW(webhook_delete, (struct kw_tx * tx, const char *id), (tx, id))
KW_TXD(webhook_count, (struct kw_tx * tx, const char *service_id, int64_t *total, int64_t *enabled),
       (tx, service_id, total, enabled))
KW_TXW(webhook_delivery_insert, (struct kw_tx * tx, struct kw_webhook_delivery *d), (tx, d))
KW_TXD(webhook_delivery_get, (struct kw_tx * tx, const char *id, struct kw_webhook_delivery *out), (tx, id, out))
KW_TXD(webhook_delivery_list,
       (struct kw_tx * tx, const char *webhook_id, int64_t before_seq, struct kw_webhook_delivery *items,
        size_t cap, size_t *n),
       (tx, webhook_id, before_seq, items, cap, n))
KW_TXW(webhook_delivery_retry, (struct kw_tx * tx, const char *id, int64_t now_ms), (tx, id, now_ms))
KW_TXW(webhook_attempt_insert, (struct kw_tx * tx, const struct kw_webhook_attempt *a), (tx, a))
KW_TXD(webhook_attempt_list,
       (struct kw_tx * tx, const char *delivery_id, struct kw_webhook_attempt *items, size_t cap, size_t *n),
       (tx, delivery_id, items, cap, n))
