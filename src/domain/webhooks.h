/* webhooks.h - a service's webhook endpoints (Standard Webhooks), their secrets and the outbox.
 *
 * A webhook's secret is 32 random bytes, shown once as "whsec_" + base64 (at create and at
 * rotate-secret) and kept sealed under the master key (domain/secrets.h). A rotation keeps the previous
 * secret signing for KW_WEBHOOK_PREV_SECRET_MS (prev_secret_until); kw_webhooks_signing_secrets gives
 * the sender (domain/webhook_sender.c) the bytes to sign with.
 *
 * The outbox: kw_domain_write (domain/commit.c) calls kw_webhooks_enqueue after the write's body, in its
 * transaction, so a change and the deliveries that announce it commit together or not at all. The
 * audit action names the event (key.create -> key.created, ...); every enabled webhook of the write's
 * service subscribed to it gets one webhook_deliveries row (state pending, due now) whose payload is
 * {"type","timestamp","data":{"serviceId", the target's ids, for a status change "from"/"to"}} --
 * never a secret or an attribute. After the commit, app->webhooks_wake (set by the sender) is called
 * so this node's sender does not wait for its next poll. */
#ifndef KW_DOMAIN_WEBHOOKS_H
#define KW_DOMAIN_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"
#include "domain/app.h"

struct kw_tx;
struct kw_write;

#define KW_WEBHOOKS_PER_SERVICE 20                       /* more: KW_ERR_CONFLICT "WEBHOOK_LIMIT" */
#define KW_WEBHOOK_PREV_SECRET_MS (24LL * 3600 * 1000)   /* the old secret signs this long after a rotation */
#define KW_WEBHOOK_SECRET_TEXT_MAX 64                    /* "whsec_" + 44 base64 + NUL */
#define KW_WEBHOOK_LOG_MAX 16                            /* attempts shown per delivery */

/* The event types, one bit each (KW_WEBHOOK_EVENT_NAMES order). */
#define KW_WEBHOOK_EVENT_COUNT 9
extern const char *const kw_webhook_event_names[KW_WEBHOOK_EVENT_COUNT];
/* The bit of an event type name, 0 when unknown. */
uint32_t kw_webhooks_event_bit(const char *name);
/* The bits of a stored events JSON array (unknown names ignored). */
uint32_t kw_webhooks_events_mask(const char *events_json);
/* The event type an audit action announces ("key.create" -> "key.created"), or NULL. */
const char *kw_webhooks_event_for_action(const char *action);

/* URL rules: http or https, absolute, a host, at most 2048 bytes, no userinfo, no control characters or
 * spaces -> NULL when fine, else "WEBHOOK_URL_INVALID"; a literal IP host that kw_netaddr_forbidden
 * refuses -> "WEBHOOK_URL_FORBIDDEN" unless allow_private. (Names are checked at delivery, on the
 * address actually connected.) */
const char *kw_webhooks_url_check(const char *url, int allow_private);

/* What create and update set (borrowed strings; validated by api/). */
struct kw_webhook_params {
    const char *url;
    int set_url;
    uint32_t events; /* KW_WEBHOOK event bits, at least one */
    int set_events;
    const char *description;
    int set_description;
    int enabled;
    int set_enabled;
};

/* Creates a webhook of service_id; secret gets "whsec_..." (wipe it after answering). KW_ERR_NOT_FOUND
 * without the service; KW_ERR_CONFLICT with *conflict "WEBHOOK_LIMIT" at KW_WEBHOOKS_PER_SERVICE. */
enum kw_err kw_webhooks_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                               const struct kw_webhook_params *p, struct kw_webhook *out,
                               char secret[KW_WEBHOOK_SECRET_TEXT_MAX], const char **conflict);
enum kw_err kw_webhooks_get(struct kw_app *app, const char *id, struct kw_webhook *out);
/* A service's webhooks, ascending seq (KW_ERR_NOT_FOUND without the service). */
enum kw_err kw_webhooks_list(struct kw_app *app, const char *service_id, int64_t after_seq, struct kw_webhook *items,
                             size_t cap, size_t *n);
/* Sets what p says; enabling clears disabled_reason, disabling sets it to "operator". */
enum kw_err kw_webhooks_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                               const struct kw_webhook_params *p, struct kw_webhook *out);
/* Deletes the webhook with its deliveries and their attempts. */
enum kw_err kw_webhooks_delete(struct kw_app *app, const struct kw_actor *actor, const char *id);
/* A new secret (into secret, as at create); the current one becomes the previous, signing until now +
 * KW_WEBHOOK_PREV_SECRET_MS. */
enum kw_err kw_webhooks_rotate(struct kw_app *app, const struct kw_actor *actor, const char *id,
                               struct kw_webhook *out, char secret[KW_WEBHOOK_SECRET_TEXT_MAX]);

/* The secret bytes a delivery of w is signed with at now_ms: cur always, prev (and *has_prev = 1) while
 * the previous secret is within prev_secret_until. The caller wipes both after use. KW_ERR_MALFORMED /
 * KW_ERR_NOT_FOUND when a sealed secret cannot be opened (kw_secrets_open). */
enum kw_err kw_webhooks_signing_secrets(struct kw_app *app, const struct kw_webhook *w, int64_t now_ms,
                                        uint8_t cur[KW_WEBHOOK_SECRET_LEN], uint8_t prev[KW_WEBHOOK_SECRET_LEN],
                                        int *has_prev);

/* One delivery with its first KW_WEBHOOK_LOG_MAX attempts. */
struct kw_webhook_delivery_view {
    struct kw_webhook_delivery d; /* first: the list cursor reads d.seq */
    struct kw_webhook_attempt log[KW_WEBHOOK_LOG_MAX];
    size_t nlog;
};
/* A webhook's deliveries, newest first (before_seq = 0: from the newest). KW_ERR_NOT_FOUND without the
 * webhook. */
enum kw_err kw_webhooks_deliveries(struct kw_app *app, const char *webhook_id, int64_t before_seq,
                                   struct kw_webhook_delivery_view *items, size_t cap, size_t *n);
/* Makes a delivery of webhook_id pending and due now (audited webhook.retry) and wakes the sender.
 * KW_ERR_NOT_FOUND when the delivery is not the webhook's. */
enum kw_err kw_webhooks_retry(struct kw_app *app, const struct kw_actor *actor, const char *webhook_id,
                              const char *delivery_id, struct kw_webhook_delivery *out);

/* The outbox step of kw_domain_write (see above): inserts the deliveries w's change announces, in tx.
 * Costs one indexed COUNT when the write's service has no enabled webhook; nothing when the action
 * announces no event. Sets w->webhooks_enqueued. */
enum kw_err kw_webhooks_enqueue(struct kw_tx *tx, struct kw_app *app, struct kw_write *w);

#endif
