/* commit_internal.h - the one shape of a domain write, shared by keys, services, accounts and root:
 * begin a write transaction, run the body, append the body's audit event, commit; rerun the whole
 * thing (a bounded number of times) when the store says KW_ERR_RETRY. What the change means for the
 * verify cache is applied by the caller after kw_domain_write returns KW_OK, with the version the
 * body took, so a caller that is slow to get there can never undo a newer change. */
#ifndef KW_DOMAIN_COMMIT_INTERNAL_H
#define KW_DOMAIN_COMMIT_INTERNAL_H

#include "domain/app.h"
#include "store/store.h"

#define KW_DOMAIN_WRITE_TRIES 4

/* The audit event of one write. The caller sets actor and action; the body may fill or change the
 * rest (ids it only learns inside the transaction, a detail). */
struct kw_write {
    const struct kw_actor *actor;
    const char *action;      /* "key.update", ... */
    const char *target_type; /* "key", "service", "user", ... or NULL */
    char target_id[KW_ACTOR_MAX];
    char service_id[KW_ID_MAX];
    char detail[512];        /* a JSON object as text, or "" */
    const char *conflict;    /* body: the stable code when it returns KW_ERR_CONFLICT (or NULL) */
    /* Webhooks (domain/webhooks.h): the body may set webhook_data (malloc'd JSON, owned by the write,
     * freed before each rerun and at the end) when the target alone does not say enough: an object is
     * one event's "data", an array of objects one event each (a bulk archive: one per refId archived).
     * webhooks_enqueued: deliveries the write added (kw_webhooks_enqueue); the sender is woken after
     * the commit when it is not 0. */
    char *webhook_data;
    int webhooks_enqueued;
};

/* Runs inside the write transaction. Must be rerunnable: it may be called again from the start
 * after a KW_ERR_RETRY, so it recomputes its outputs from ctx's inputs every time. */
typedef enum kw_err (*kw_write_body_fn)(struct kw_tx *tx, void *ctx, struct kw_write *w);

/* begin -> body -> audit event -> commit, with retries. On failure nothing was written; w->conflict
 * says why a KW_ERR_CONFLICT happened. */
enum kw_err kw_domain_write(struct kw_app *app, struct kw_write *w, kw_write_body_fn body, void *ctx);

/* Sets up w for actor and action, target and service (either may be NULL). */
void kw_write_init(struct kw_write *w, const struct kw_actor *actor, const char *action, const char *target_type,
                   const char *target_id, const char *service_id);

/* A read in one snapshot: (err) = (expr) with tx open for reading, then closed. */
#define KW_DOMAIN_READ(store, err, tx, expr)                                                           \
    do {                                                                                               \
        struct kw_tx *tx = NULL;                                                                       \
        (err) = kw_store_begin((store), KW_TX_READ, &tx);                                              \
        if ((err) == KW_OK) {                                                                          \
            (err) = (expr);                                                                            \
            kw_store_rollback(tx);                                                                     \
        }                                                                                              \
    } while (0)

/* Queues an audit event (write-behind) for something that did not change state: a denied or
 * failed request, a read. */
void kw_domain_audit_async(struct kw_app *app, const struct kw_actor *a, const char *action,
                           const char *target_type, const char *target_id, const char *service_id,
                           const char *outcome, const char *detail);

#endif
