/* writer.h - the write-behind thread: every flush interval it takes what the hot path left (key
 * last-use, usage counts from kw_keycache_drain) and the queued audit events, and writes them in one
 * store transaction (group commit). kw_writer_free flushes once more before it returns, so a clean
 * shutdown loses nothing. */
#ifndef KW_DOMAIN_WRITER_H
#define KW_DOMAIN_WRITER_H

#include "core/err.h"
#include "core/records.h"
#include "store/store.h"
#include "domain/keycache.h"

struct kw_writer;

#define KW_WRITER_QUEUE_MAX 100000 /* audit events waiting; beyond it new ones are dropped and counted */

enum kw_err kw_writer_start(struct kw_store *st, struct kw_keycache *kc, int flush_interval_ms,
                            struct kw_writer **out);
void kw_writer_free(struct kw_writer *w); /* NULL is a no-op */

/* Queues a copy of ev (thread-safe, does not block on the store). */
void kw_writer_audit(struct kw_writer *w, const struct kw_audit_event *ev);
/* Flushes now and waits for it (used by tests of freshness and at shutdown). */
void kw_writer_flush(struct kw_writer *w);
/* Events dropped because the queue was full. */
unsigned long kw_writer_dropped(struct kw_writer *w);

#endif
