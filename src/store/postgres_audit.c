/* postgres_audit.c - the append-only audit table for the PostgreSQL backend.
 *
 * One chain with several writers (several nodes, and each node's write-behind handle): an append reads
 * the head inside its write transaction, so the head must stay the head until that transaction ends.
 * audit_head in a write transaction first takes pg_advisory_xact_lock(KW_PG_AUDIT_LOCK), held until
 * commit or rollback; the next writer waits for it and then (READ COMMITTED: a new snapshot per
 * statement) reads the head the first one committed. We chose the advisory lock over a one-row
 * audit_head table read FOR UPDATE because it writes nothing: a head row would be rewritten by every
 * append (one more dead tuple per event, vacuum work on the hottest row) only to act as a lock, and
 * the chain's head already is the newest audit row. The lock is per database, so two deployments in
 * one cluster do not contend. */
#include <stdio.h>
#include <string.h>

#include "store/postgres_internal.h"

#define KW_PG_AUDIT_LOCK "7016996765293437282"
#define EV_COLS                                                                                              \
    "seq, id, time, actor_type, actor_id, action, target_type, target_id, service_id, outcome, ip, "         \
    "request_id, detail, prev_hash, hash"

static void ev_row(const PGresult *res, int r, void *item)
{
    struct kw_audit_event *e = item;

    memset(e, 0, sizeof(*e));
    e->seq = kw_pg_get_int(res, r, 0);
    kw_pg_get_text(res, r, 1, e->id, sizeof(e->id));
    e->time = kw_pg_get_int(res, r, 2);
    kw_pg_get_text(res, r, 3, e->actor_type, sizeof(e->actor_type));
    kw_pg_get_text(res, r, 4, e->actor_id, sizeof(e->actor_id));
    kw_pg_get_text(res, r, 5, e->action, sizeof(e->action));
    kw_pg_get_text(res, r, 6, e->target_type, sizeof(e->target_type));
    kw_pg_get_text(res, r, 7, e->target_id, sizeof(e->target_id));
    kw_pg_get_text(res, r, 8, e->service_id, sizeof(e->service_id));
    kw_pg_get_text(res, r, 9, e->outcome, sizeof(e->outcome));
    kw_pg_get_text(res, r, 10, e->ip, sizeof(e->ip));
    kw_pg_get_text(res, r, 11, e->request_id, sizeof(e->request_id));
    kw_pg_get_text(res, r, 12, e->detail, sizeof(e->detail));
    kw_pg_get_blob(res, r, 13, e->prev_hash, KW_HASH_LEN);
    kw_pg_get_blob(res, r, 14, e->hash, KW_HASH_LEN);
}

enum kw_err kw_pg_audit_head(struct kw_tx *tx, int64_t *seq, uint8_t hash[KW_HASH_LEN])
{
    enum kw_err err = KW_OK;
    PGresult *res;

    if (tx->mode == KW_TX_WRITE)
        err = kw_pg_run(tx, "SELECT pg_advisory_xact_lock(" KW_PG_AUDIT_LOCK ")", NULL, "audit_lock", NULL);
    if (err != KW_OK)
        return err;
    res = kw_pg_exec(tx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", NULL, "audit_head", &err);
    if (res == NULL)
        return err;
    if (PQntuples(res) == 1) {
        *seq = kw_pg_get_int(res, 0, 0);
        kw_pg_get_blob(res, 0, 1, hash, KW_HASH_LEN);
    } else {
        *seq = 0;
        memset(hash, 0, KW_HASH_LEN);
    }
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_audit_append(struct kw_tx *tx, const struct kw_audit_event *e)
{
    struct kw_pg_params p = {0};

    kw_pg_int(&p, e->seq);
    KW_PG_FIELD(&p, e->id);
    kw_pg_int(&p, e->time);
    KW_PG_FIELD(&p, e->actor_type);
    KW_PG_FIELD(&p, e->actor_id);
    KW_PG_FIELD(&p, e->action);
    KW_PG_FIELD(&p, e->target_type);
    KW_PG_FIELD(&p, e->target_id);
    KW_PG_FIELD(&p, e->service_id);
    KW_PG_FIELD(&p, e->outcome);
    KW_PG_FIELD(&p, e->ip);
    KW_PG_FIELD(&p, e->request_id);
    KW_PG_FIELD(&p, e->detail);
    kw_pg_blob(&p, e->prev_hash, KW_HASH_LEN);
    kw_pg_blob(&p, e->hash, KW_HASH_LEN);
    return kw_pg_run_sp(
        tx, "INSERT INTO audit(" EV_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)", &p,
        "audit_append", NULL);
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

/* Adds " AND <frag> $n" with the next parameter number; only these constant fragments become SQL. */
static int where(char *sql, size_t cap, size_t *len, const char *frag, struct kw_pg_params *p)
{
    char num[16];

    snprintf(num, sizeof(num), "$%d", p->n);
    return append(sql, cap, len, " AND ") && append(sql, cap, len, frag) && append(sql, cap, len, num);
}

/* Length of the action prefix when action asks for one ("key.*" means "key."), else -1: without a
 * trailing '*' the filter is exact (as in sqlite_audit.c). */
static long action_prefix(const char *action)
{
    size_t n = strlen(action);

    return n > 0 && action[n - 1] == '*' ? (long)(n - 1) : -1;
}

/* Builds the statement and its parameters for f (same filters as sqlite_audit.c). 0 on overflow. */
static int build(const struct kw_audit_filter *f, size_t cap, char *sql, size_t sqlcap,
                 struct kw_pg_params *p)
{
    size_t len = 0;
    int ok = append(sql, sqlcap, &len, "SELECT " EV_COLS " FROM audit WHERE true");
    long pre;

#define W(cond, frag, bind)                                                                                  \
    if (ok && (cond)) {                                                                                      \
        bind;                                                                                                \
        ok = where(sql, sqlcap, &len, frag, p);                                                              \
    }
    W(f->before_seq != 0, "seq < ", kw_pg_int(p, f->before_seq))
    W(f->actor_id != NULL, "actor_id = ", kw_pg_text(p, f->actor_id))
    pre = f->action != NULL ? action_prefix(f->action) : -1;
    W(f->action != NULL && pre < 0, "action = ", kw_pg_text(p, f->action))
    W(f->action != NULL && pre >= 0, "starts_with(action, ", kw_pg_field(p, f->action, (size_t)pre))
    ok = ok && (f->action == NULL || pre < 0 || append(sql, sqlcap, &len, "::text)"));
    W(f->target_id != NULL, "target_id = ", kw_pg_text(p, f->target_id))
    W(f->service_id != NULL, "service_id = ", kw_pg_text(p, f->service_id))
    W(f->since != 0, "time >= ", kw_pg_int(p, f->since))
    W(f->until != 0, "time < ", kw_pg_int(p, f->until))
#undef W
    kw_pg_int(p, (int64_t)cap);
    ok = ok && append(sql, sqlcap, &len, " ORDER BY seq DESC LIMIT ");
    snprintf(sql + len, sqlcap - len, "$%d", p->n);
    return ok;
}

enum kw_err kw_pg_audit_list(struct kw_tx *tx, const struct kw_audit_filter *f, struct kw_audit_event *items,
                             size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    char sql[1024];
    enum kw_err err;
    PGresult *res;

    if (!build(f, cap, sql, sizeof(sql), &p))
        return KW_ERR_INTERNAL; /* cannot happen with these fragments */
    res = kw_pg_exec(tx, sql, &p, "audit_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, ev_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

struct ev_walk {
    kw_store_audit_cb cb;
    void *ctx;
};

static int ev_each_row(void *ctx, const PGresult *res)
{
    struct ev_walk *w = ctx;
    struct kw_audit_event e;

    ev_row(res, 0, &e);
    return w->cb(w->ctx, &e);
}

enum kw_err kw_pg_audit_each(struct kw_tx *tx, kw_store_audit_cb cb, void *ctx)
{
    struct ev_walk w = {cb, ctx};

    return kw_pg_each(tx, "SELECT " EV_COLS " FROM audit ORDER BY seq", NULL, ev_each_row, &w, "audit_each");
}
