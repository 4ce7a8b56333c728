/* store.c - picks a backend and dispatches; see store.h. */
#include "store/store.h"

#include <string.h>

#include "core/log.h"
#include "store/store_internal.h"

enum kw_err kw_store_open(const char *spec, const char *data_dir, struct kw_store **out)
{
    char quoted[80];

    *out = NULL;
    if (spec != NULL && strcmp(spec, "sqlite") == 0) {
        if (data_dir != NULL)
            return kw_store_sqlite_open(data_dir, out);
        kw_log_error("store failure", "op=open err=\"no data directory\"");
        return KW_ERR_INVALID;
    }
    /* Only the scheme: a connection URL may carry a password. kw_log_quote wraps in '"'. */
    kw_log_quote(quoted, sizeof(quoted), spec != NULL ? spec : "");
    kw_log_error("unknown store", "scheme=\"%.*s\" supported=sqlite", (int)strcspn(quoted + 1, ":/@\"\\"),
                 quoted + 1);
    return KW_ERR_INVALID;
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

KW_DISPATCH(migrate, (struct kw_store * st, int *applied, int *version), (st, applied, version))
KW_DISPATCH(schema_version, (struct kw_store * st, int *version), (st, version))
KW_DISPATCH(begin, (struct kw_store * st), (st))
KW_DISPATCH(commit, (struct kw_store * st), (st))
KW_DISPATCH(meta_get, (struct kw_store * st, const char *name, char *out, size_t cap), (st, name, out, cap))
KW_DISPATCH(meta_set, (struct kw_store * st, const char *name, const char *value), (st, name, value))
KW_DISPATCH(service_insert, (struct kw_store * st, struct kw_service *svc), (st, svc))
KW_DISPATCH(service_get, (struct kw_store * st, const char *id, struct kw_service *out), (st, id, out))
KW_DISPATCH(service_list,
            (struct kw_store * st, int64_t after, struct kw_service *items, size_t cap, size_t *n),
            (st, after, items, cap, n))
KW_DISPATCH(service_update, (struct kw_store * st, const struct kw_service *svc), (st, svc))
KW_DISPATCH(service_delete, (struct kw_store * st, const char *id), (st, id))
KW_DISPATCH(service_live_keys, (struct kw_store * st, const char *id, int64_t now_ms, int64_t *count),
            (st, id, now_ms, count))
KW_DISPATCH(key_insert, (struct kw_store * st, struct kw_key *key), (st, key))
KW_DISPATCH(key_get, (struct kw_store * st, const char *id, struct kw_key *out), (st, id, out))
KW_DISPATCH(key_list,
            (struct kw_store * st, const char *service_id, int64_t after, struct kw_key *items, size_t cap,
             size_t *n),
            (st, service_id, after, items, cap, n))
KW_DISPATCH(key_update, (struct kw_store * st, const struct kw_key *key), (st, key))
KW_DISPATCH(key_delete, (struct kw_store * st, const char *id), (st, id))
KW_DISPATCH(key_each, (struct kw_store * st, kw_store_key_cb cb, void *ctx), (st, cb, ctx))
KW_DISPATCH(key_touch, (struct kw_store * st, const char *id, int64_t at, const char *ip), (st, id, at, ip))
KW_DISPATCH(usage_add,
            (struct kw_store * st, const char *key_id, const char *service_id, int64_t minute_ms,
             int64_t valid, int64_t denied),
            (st, key_id, service_id, minute_ms, valid, denied))
KW_DISPATCH(audit_head, (struct kw_store * st, int64_t *seq, uint8_t hash[KW_HASH_LEN]), (st, seq, hash))
KW_DISPATCH(audit_append, (struct kw_store * st, const struct kw_audit_event *ev), (st, ev))
KW_DISPATCH(audit_list,
            (struct kw_store * st, const struct kw_audit_filter *f, struct kw_audit_event *items, size_t cap,
             size_t *n),
            (st, f, items, cap, n))
KW_DISPATCH(audit_each, (struct kw_store * st, kw_store_audit_cb cb, void *ctx), (st, cb, ctx))

KW_DISPATCH(usage_list,
            (struct kw_store * st, const char *service_id, int64_t from_ms, struct kw_usage_point *items,
             size_t cap, size_t *n),
            (st, service_id, from_ms, items, cap, n))
KW_DISPATCH(user_insert, (struct kw_store * st, struct kw_user *u), (st, u))
KW_DISPATCH(user_get, (struct kw_store * st, const char *username, struct kw_user *out), (st, username, out))
KW_DISPATCH(user_list, (struct kw_store * st, int64_t after, struct kw_user *items, size_t cap, size_t *n),
            (st, after, items, cap, n))
KW_DISPATCH(user_update, (struct kw_store * st, const struct kw_user *u), (st, u))
KW_DISPATCH(user_delete, (struct kw_store * st, const char *username), (st, username))
KW_DISPATCH(session_insert, (struct kw_store * st, const struct kw_session *s), (st, s))
KW_DISPATCH(session_get, (struct kw_store * st, const uint8_t id_hash[KW_HASH_LEN], struct kw_session *out),
            (st, id_hash, out))
KW_DISPATCH(session_touch, (struct kw_store * st, const uint8_t id_hash[KW_HASH_LEN], int64_t last_seen),
            (st, id_hash, last_seen))
KW_DISPATCH(session_delete, (struct kw_store * st, const uint8_t id_hash[KW_HASH_LEN]), (st, id_hash))
KW_DISPATCH(session_delete_user, (struct kw_store * st, const char *username), (st, username))
KW_DISPATCH(member_insert, (struct kw_store * st, struct kw_member *m), (st, m))
KW_DISPATCH(member_get,
            (struct kw_store * st, const char *service_id, const char *username, struct kw_member *out),
            (st, service_id, username, out))
KW_DISPATCH(member_list,
            (struct kw_store * st, const char *service_id, const char *username, int64_t after,
             struct kw_member *items, size_t cap, size_t *n),
            (st, service_id, username, after, items, cap, n))
KW_DISPATCH(member_update, (struct kw_store * st, const struct kw_member *m), (st, m))
KW_DISPATCH(member_delete, (struct kw_store * st, const char *service_id, const char *username),
            (st, service_id, username))
KW_DISPATCH(service_list_for,
            (struct kw_store * st, const char *username, int64_t after, struct kw_service *items, size_t cap,
             size_t *n),
            (st, username, after, items, cap, n))

void kw_store_rollback(struct kw_store *st)
{
    st->ops->rollback(st);
}
