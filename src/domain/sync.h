/* sync.h - keeps this node's verify cache current with changes other nodes make to the shared store.
 *
 * One thread waits for the store's change notifications (PostgreSQL LISTEN), and also wakes every
 * interval to bound the damage of a lost one; each time it reads every change to keys since the last
 * version it applied (kw_store_key_changes) and applies them to the cache by version, so a change
 * seen twice, late or out of order changes nothing (keycache.h). A node that reconnects or missed a
 * notification catches up the same way: "everything changed since version V", never a full reload.
 *
 * Started only for a shared store (kw_store_shared); with the embedded SQLite store every change is
 * made in this process and already reached the cache. */
#ifndef KW_DOMAIN_SYNC_H
#define KW_DOMAIN_SYNC_H

#include <stdint.h>

#include "core/err.h"

struct kw_app;
struct kw_sync;

/* since: the version the cache was loaded at. interval_ms: the longest wait between two reads. */
enum kw_err kw_sync_start(struct kw_app *app, int64_t since, int interval_ms, struct kw_sync **out);
void kw_sync_free(struct kw_sync *s); /* stops the thread; NULL is a no-op */

/* The highest version applied, and when the store last answered (ms since the epoch; 0 = never). */
int64_t kw_sync_version(struct kw_sync *s);
int64_t kw_sync_last_ok_ms(struct kw_sync *s);

/* Reads and applies what changed since the last call, now, on the calling thread (tests, and the
 * thread itself). */
enum kw_err kw_sync_once(struct kw_sync *s);

#endif
