/* app.h - the application context every layer above the store is handed explicitly: config,
 * store, verify cache and write-behind queue. No other mutable globals. */
#ifndef KW_DOMAIN_APP_H
#define KW_DOMAIN_APP_H

#include <stdatomic.h>

#include "core/config.h"
#include "core/err.h"
#include "domain/keycache.h"
#include "domain/root.h"
#include "store/store.h"

struct kw_writer;
struct kw_sync;
struct kw_jobs;
struct kw_webhook_sender;
struct kw_secrets;
struct kw_signing;
struct kw_enckeys;
struct kw_jwt_cache;

#define KW_SYNC_INTERVAL_MS 500 /* a shared store's changes are read at least this often */
struct kw_throttle;

struct kw_app {
    const struct kw_config *cfg;  /* borrowed */
    struct kw_store *store;       /* owned */
    struct kw_store *wb_store;    /* owned: relaxed-durability handle for the write-behind thread */
    struct kw_keycache *keys;     /* owned */
    struct kw_writer *writer;     /* owned */
    struct kw_throttle *throttle; /* owned: failed-login counters */
    struct kw_sync *sync;         /* owned: follows other nodes' changes (shared stores only), or NULL */
    struct kw_jobs *jobs;         /* owned: runner of the once-per-deployment jobs (domain/jobs.h) */
    struct kw_webhook_sender *sender; /* owned: the webhook delivery thread (domain/webhook_sender.h) */
    struct kw_root root;          /* the root token's hash, in memory (root.h) */
    struct kw_secrets *secrets;   /* owned: the master key (secrets.h) */
    struct kw_signing *signing;   /* owned: JWT signing keys (signing.h) */
    struct kw_enckeys *enckeys;   /* owned: response-encryption keys (enckeys.h) */
    struct kw_jwt_cache *jwt_cache; /* owned: verified access tokens (jwt.h) */
    char issuer[300];             /* JWT iss / RFC 8414 issuer: cfg->issuer or http://<listen> */
    atomic_int ready;             /* 1 once the cache is loaded and the writer runs */
    /* Set by the webhook sender before traffic starts (or NULL): called, on the writing thread, after a
     * write that enqueued webhook deliveries committed (domain/webhooks.h), so it sends them now. */
    void (*webhooks_wake)(void *ctx);
    void *webhooks_wake_ctx;
    /* Tests only (NULL otherwise): called after each domain write commits and before its caller
     * applies it to the cache, so a test can hold a write right in that window. */
    void (*after_commit)(void *ctx, const char *action);
    void *after_commit_ctx;
};

/* Opens and migrates the store, makes sure a root token exists (printing a generated one once on
 * stdout), loads every key into the cache and starts the write-behind thread. */
enum kw_err kw_app_open(struct kw_app *app, const struct kw_config *cfg);
/* The same for a one-shot command (keyward users create): no jobs runner and no webhook sender, so a
 * command run beside a serving node neither archives candidates nor delivers webhooks on its own. */
enum kw_err kw_app_open_admin(struct kw_app *app, const struct kw_config *cfg);
/* Stops the writer after a last flush, frees everything. Safe on a partly opened app. */
void kw_app_close(struct kw_app *app);

/* KW_OK when this node should take traffic (/readyz). Otherwise KW_ERR_RETRY, with why in reason
 * (cap bytes, no secret): not open yet, or, on a shared store, no change read from it for longer than
 * store-max-staleness-s. A stale node keeps verifying from its cache; only a load balancer acts on this. */
enum kw_err kw_app_check_ready(struct kw_app *app, int64_t now_ms, char *reason, size_t cap);

/* Who is acting, for audit and createdBy. Strings are borrowed for the call. */
struct kw_actor {
    const char *type;       /* root | key | anonymous | system */
    const char *id;         /* "root", a key id, ... */
    const char *ip;         /* may be NULL */
    const char *request_id; /* may be NULL */
    /* a service user's credential (auth.h: credential_id/_type), or NULL: audit detail
     * {"credentialId", "credentialType"} */
    const char *credential_id;
    const char *credential_type;
};

#endif
