/* writer.h - the write-behind thread: every flush interval it takes what the hot path left (key
 * last-use and usage counts from kw_keycache_drain, queued audit events, and the refusals of every
 * closed minute aggregated by domain/denials.h) and writes them in one store transaction (group
 * commit).
 *
 * A flush that fails (disk full, SQLITE_BUSY, ...) keeps its batch: the events stay queued in order
 * ahead of newer ones, last-use and usage counts stay pending (merged per key and minute), and the
 * next interval tries again. Memory is bounded: at most KW_WRITER_QUEUE_MAX audit events wait
 * (checked on every append, a failed batch included) and at most KW_WRITER_TOUCH_MAX (key, minute)
 * usage entries; what does not fit is dropped and counted per kind (kw_writer_stats, /metrics), and
 * logged when it happens, at most once per KW_WRITER_LOG_EVERY_MS with the count since the last line.
 * kw_writer_free flushes once more (collecting every open minute of refusals) before it returns, so
 * a clean shutdown loses nothing that the store accepts.
 *
 * The queue is a list of fixed-size chunks: an append copies one event under the mutex (O(1), no
 * reallocation; a new chunk is allocated outside the mutex), a flush takes whole chunks. */
#ifndef KW_DOMAIN_WRITER_H
#define KW_DOMAIN_WRITER_H

#include <stdint.h>

#include "core/err.h"
#include "core/records.h"
#include "store/store.h"
#include "domain/denials.h"
#include "domain/keycache.h"

struct kw_writer;

#define KW_WRITER_QUEUE_MAX                                                                                  \
    100000                        /* audit events waiting (failed batch included); beyond: dropped, counted */
#define KW_WRITER_TOUCH_MAX 65536 /* (key, minute) usage entries waiting; beyond: counts dropped, counted */
#define KW_WRITER_LOG_EVERY_MS 10000 /* at most one "flush failing" / "dropped" log line per this */

struct kw_writer_stats {
    uint64_t dropped_audit;   /* audit events refused: queue full (or out of memory) */
    uint64_t dropped_usage;   /* verifications whose usage count could not be kept */
    uint64_t dropped_denials; /* refusals that found no aggregation bucket (not expected; see denials.h) */
    uint64_t flush_failures;  /* flushes whose transaction failed (each is retried) */
    uint64_t queue_depth;     /* audit events waiting now */
};

/* flush_interval_ms <= 0 means 200. */
enum kw_err kw_writer_start(struct kw_store *st, struct kw_keycache *kc, int flush_interval_ms,
                            struct kw_writer **out);
void kw_writer_free(struct kw_writer *w); /* NULL is a no-op */

/* Queues a copy of ev (thread-safe, does not block on the store). */
void kw_writer_audit(struct kw_writer *w, const struct kw_audit_event *ev);
/* Counts a refused request into its per-minute bucket (thread-safe, no allocation, no I/O). */
void kw_writer_deny(struct kw_writer *w, const struct kw_denial *d);
/* Flushes now and waits for it (used by tests of freshness). Returns the flush's result; the
 * refusals of the open minute are not collected by it (they are when the minute closes). */
enum kw_err kw_writer_flush(struct kw_writer *w);
void kw_writer_stats(struct kw_writer *w, struct kw_writer_stats *out);
/* Audit events dropped because the queue was full (= stats.dropped_audit). */
unsigned long kw_writer_dropped(struct kw_writer *w);

#endif
