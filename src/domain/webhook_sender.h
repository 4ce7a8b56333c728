/* webhook_sender.h - the webhook delivery thread: one per node, on libcurl's multi interface.
 *
 * Every KW_SENDER_POLL_MS (and at once when app->webhooks_wake says this node enqueued something) it
 * leases due deliveries from the store (kw_store_delivery_lease: FOR UPDATE SKIP LOCKED on PostgreSQL,
 * lease_owner = node, lease_until = now + KW_SENDER_LEASE_MS), at most KW_SENDER_INFLIGHT at a time,
 * and POSTs each one's payload, signed as Standard Webhooks says. While a lease filled every free slot
 * (more rows are due), it leases again as soon as KW_SENDER_LEASE_BATCH slots are free (or none is in
 * flight) instead of waiting for the next poll, so the multi handle stays busy. The attempts curl
 * finished together are recorded in one write transaction (each still only if its lease is this
 * node's), and connections are reused across attempts through the multi handle's connection cache
 * (a reused connection went through the SSRF guard when it was opened). Headers:
 *   webhook-id: the delivery id (msg_..., the same on every retry)
 *   webhook-timestamp: unix seconds of this attempt
 *   webhook-signature: v1,<base64 HMAC-SHA256(secret, "id.timestamp.body")>, and a second, space
 *                      separated, made with the previous secret while a rotation's overlap lasts
 * Success is a 2xx; redirects are not followed; KW_SENDER_TIMEOUT_MS bounds an attempt; only http and
 * https. Unless --webhook-allow-private, the address curl actually connects to (after DNS, on every
 * new connection: CURLOPT_OPENSOCKETFUNCTION) must be public (core/netaddr.h kw_netaddr_forbidden), or
 * the attempt fails with error refused_address and no packet goes to it. No proxy is used (the
 * environment's http_proxy is ignored: the guard must see the real peer).
 *
 * Each attempt is recorded (webhook_attempts, the delivery's state) only while the lease is still this
 * node's; a failure is tried again on the schedule of webhook_retry.h (Retry-After honoured); a 410
 * disables the webhook (disabled_reason "gone") and fails its pending deliveries, audited as
 * webhook.disable by the system. Stopping (SIGTERM) takes no new lease, lets attempts in flight finish
 * for at most KW_SENDER_STOP_MS, drops the rest unrecorded and gives every lease of this node back, so a
 * restart (or another node) sends them at once. A node killed outright holds its leases until they run
 * out (KW_SENDER_LEASE_MS); nothing is lost, the delivery is only late. */
#ifndef KW_DOMAIN_WEBHOOK_SENDER_H
#define KW_DOMAIN_WEBHOOK_SENDER_H

#include "core/err.h"

#define KW_SENDER_POLL_MS 200
#define KW_SENDER_LEASE_MS (60 * 1000)
#define KW_SENDER_TIMEOUT_MS (15 * 1000)
#define KW_SENDER_STOP_MS 3000
#define KW_SENDER_INFLIGHT 64    /* attempts in flight at most (connections: curl's multi cache reuses them) */
#define KW_SENDER_LEASE_BATCH 16 /* lease again before the next poll once this many slots are free */
#define KW_SENDER_USER_AGENT "keyward-webhooks/1"

struct kw_app;
struct kw_webhook_sender;

/* Starts the thread for app (borrowed; its store, secrets and config) as node (copied: the jobs
 * runner's name, "<host>:<pid>"), and sets app->webhooks_wake. */
enum kw_err kw_webhook_sender_start(struct kw_app *app, const char *node, struct kw_webhook_sender **out);
/* Makes the thread poll now (any thread; cheap). NULL is a no-op. */
void kw_webhook_sender_wake(struct kw_webhook_sender *s);
/* Stops as described above, clears app->webhooks_wake and frees; NULL is a no-op. */
void kw_webhook_sender_free(struct kw_webhook_sender *s);

#endif
