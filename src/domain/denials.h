/* denials.h - refused requests, aggregated: one audit event per (source IP, reason, actor, action)
 * per wall-clock minute instead of one per request, so a flood of 401s or 403s costs a bounded
 * number of rows.
 *
 * A bucket counts the refusals of its key in one minute and keeps the first one's path and request id
 * as a sample. At most `max_buckets` distinct buckets are live at a time (about one minute's worth,
 * since the writer collects every closed minute at its next flush); a refusal that would need one more
 * is counted in its minute's overflow bucket for that (action, reason) instead, so the counts always
 * add up. kw_denials_collect turns closed buckets into audit events:
 *   action = the refused action ("auth.denied", "key.create", ...), outcome "denied",
 *   actor, ip = the bucket's (overflow: actor "anonymous"/"*", ip ""),
 *   time = when it is recorded (after the minute closed, so times follow seq), request_id = the sample's,
 *   detail = {"count":N,"code":"<reason>","sample":{"path":"...","requestId":"...","time":"<RFC 3339>"}}
 *            (+ "overflow":true on an overflow bucket; path sanitised to UTF-8, at most 128 bytes).
 *
 * Thread-safe: record is called by the event loops (sharded mutexes, no allocation, no I/O);
 * collect by the writer thread. */
#ifndef KW_DOMAIN_DENIALS_H
#define KW_DOMAIN_DENIALS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"

#define KW_DENIALS_MAX_BUCKETS 4096 /* distinct live buckets (the per-minute bound) */
#define KW_DENIALS_WINDOW_MS 60000

struct kw_denials;

/* What was refused. Strings are borrowed for the call; NULL is "". path need not be NUL-terminated
 * nor valid UTF-8. */
struct kw_denial {
    const char *ip;
    const char *reason;     /* stable code: UNAUTHENTICATED, NOT_FOUND, MALFORMED, REVOKED, FORBIDDEN, ... */
    const char *action;     /* audit action */
    const char *actor_type; /* "anonymous", "key", "user", ... */
    const char *actor_id;
    const char *path;
    size_t path_len;
    const char *request_id;
    int64_t now_ms;
};

/* max_buckets 0 = KW_DENIALS_MAX_BUCKETS. */
enum kw_err kw_denials_new(size_t max_buckets, struct kw_denials **out);
void kw_denials_free(struct kw_denials *d); /* NULL is a no-op */

/* Counts one refusal. Returns 1 if it was counted, 0 in the one case it could not be (no slot left
 * even for an overflow bucket: only if minutes pile up uncollected); the caller counts that. */
int kw_denials_record(struct kw_denials *d, const struct kw_denial *in);

/* Calls cb with one audit event per bucket whose minute has closed at now_ms (every bucket when all
 * is set, for shutdown) and forgets those buckets. Returns the number of events emitted. */
typedef void (*kw_denials_emit_fn)(void *ctx, const struct kw_audit_event *ev);
size_t kw_denials_collect(struct kw_denials *d, int64_t now_ms, int all, kw_denials_emit_fn cb, void *ctx);

#endif
