/* throttle.h - failed-login counters per account and per IP, in memory (a restart forgets them).
 *
 * An attempt is reserved before the password is checked (kw_throttle_acquire) and counts against
 * the limit while it is in flight, so N parallel attempts cannot all pass a check made before any
 * of them failed: at most `limit` attempts per key and window are in flight or failed. The outcome
 * is reported with kw_throttle_release. A key is locked once failed + in-flight reaches its limit,
 * for the rest of its window (a window starts with the first attempt on a key at rest).
 *
 * Placement uses SipHash under a random per-process key, so usernames cannot be chosen to collide.
 * At most max_entries keys are tracked. A new key takes a free entry, else evicts the least
 * recently used entry that is not locked; a locked entry is never evicted before its window ends.
 * If every entry is locked (an attacker must lock max_entries keys within one window: 5 failed
 * Argon2 checks each for accounts, 20 for IPs), an unseen key is refused (fail closed, wait
 * KW_THROTTLE_FULL_WAIT_S) rather than let in uncounted; known keys keep working. Thread-safe.
 *
 * Shared (kw_throttle_share, for a store other nodes use too): the counters live in the store
 * (kw_store_throttle_reserve/settle), so the limit holds across every node: acquire reserves on every
 * key in one write transaction (all or none; at most `limit` attempts per key and window are in
 * flight or failed, whichever node made them) and release settles them. The in-memory table then only
 * remembers keys this node saw locked by `limit` failures (such a lock lasts until its window ends,
 * since nothing can reserve meanwhile), and refuses them without a store round trip. The store's
 * expired windows are deleted by the throttle.purge job (domain/jobs.h). */
#ifndef KW_DOMAIN_THROTTLE_H
#define KW_DOMAIN_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_THROTTLE_WINDOW_MS (15 * 60 * 1000)
#define KW_THROTTLE_ACCOUNT_LIMIT 5
#define KW_THROTTLE_IP_LIMIT 20
#define KW_THROTTLE_MAX_ENTRIES 65536 /* default cap on tracked keys: about 3 MiB */
#define KW_THROTTLE_LIMIT_MAX 1000    /* largest limit a key may have */
#define KW_THROTTLE_KEYS_MAX 4        /* keys one acquire may reserve together */
#define KW_THROTTLE_FULL_WAIT_S 60    /* wait told to an unseen key when every entry is locked */

struct kw_throttle;

/* One counter an attempt is charged to. forgive: a successful attempt clears the key's failures
 * (the account's counter; an IP's counter only gets its reservation back). */
struct kw_throttle_key {
    const char *key; /* e.g. "user:alice", "ip:192.0.2.1"; any length, hashed */
    int limit;       /* 1..KW_THROTTLE_LIMIT_MAX */
    int forgive;
};

enum kw_throttle_outcome {
    KW_THROTTLE_SUCCESS, /* reservation returned; forgive keys cleared */
    KW_THROTTLE_FAILURE, /* reservation becomes a failure for the window */
    KW_THROTTLE_ABORTED, /* neither (e.g. the store failed before the password was judged) */
};

/* A table of KW_THROTTLE_MAX_ENTRIES, or of max_entries (>= 1); NULL if out of memory or the CSPRNG fails. */
struct kw_throttle *kw_throttle_new(void);
struct kw_throttle *kw_throttle_new_capped(size_t max_entries);
void kw_throttle_free(struct kw_throttle *t); /* NULL is a no-op */

struct kw_store;
/* Keeps the counters in st from now on (st is borrowed and must outlive t). Call before any acquire. */
void kw_throttle_share(struct kw_throttle *t, struct kw_store *st);

/* Reserves one attempt on each of keys[0..n), all or none, atomically. KW_OK when reserved;
 * KW_ERR_CONFLICT when any key is locked (or the table is full of locked entries), with *wait_s
 * the seconds until it may try again (>= 1); KW_ERR_INVALID for a bad n or limit; KW_ERR_CRYPTO.
 * Shared: also the store's errors (KW_ERR_RETRY once retries ran out, KW_ERR_STORE), nothing reserved. */
enum kw_err kw_throttle_acquire(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                                int64_t now_ms, int64_t *wait_s);
/* Settles the reservations of one successful kw_throttle_acquire with the same keys (shared: a store
 * failure is logged; the reservation then stays counted until its window ends). */
void kw_throttle_release(struct kw_throttle *t, const struct kw_throttle_key *keys, size_t n,
                         enum kw_throttle_outcome outcome, int64_t now_ms);

/* Number of keys tracked now (for tests and metrics). */
size_t kw_throttle_size(struct kw_throttle *t);

#endif
