/* keycache.h - the verify hot path: every key's hash in memory, looked up without disk I/O.
 *
 * The table is sharded (256 shards, each its own rwlock), so there is no global lock: readers of
 * different shards never touch the same lock, and a write (put/remove) blocks one shard for a few
 * instructions. Every admin write calls put/remove after its transaction commits, so a revoke or
 * disable is effective on the very next request.
 *
 * Verification records last use and usage counts in the entry with atomics and pushes the entry on
 * a lock-free dirty list; the write-behind thread drains it (kw_keycache_drain) and persists. */
#ifndef KW_DOMAIN_KEYCACHE_H
#define KW_DOMAIN_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"

enum kw_verify_code {
    KW_VERIFY_VALID = 0,
    KW_VERIFY_NOT_FOUND,
    KW_VERIFY_MALFORMED,
    KW_VERIFY_DISABLED,
    KW_VERIFY_REVOKED,
    KW_VERIFY_EXPIRED,
    KW_VERIFY_CODE_COUNT
};

/* "VALID", "NOT_FOUND", ... */
const char *kw_verify_code_str(enum kw_verify_code code);

struct kw_verify_result {
    enum kw_verify_code code;
    /* set when the key was found (every code but NOT_FOUND and MALFORMED): */
    char key_id[KW_ID_MAX];
    char service_id[KW_ID_MAX];
    int scope;
    uint32_t perms; /* effective: includes KW_PERM_CANDIDATES_READ */
    int64_t expires_at;
};

struct kw_keycache;

enum kw_err kw_keycache_new(struct kw_keycache **out);
void kw_keycache_free(struct kw_keycache *kc); /* NULL is a no-op */

/* Inserts the key, or replaces the entry with the same hash (scope, perms, enabled, expiry, revoked
 * are taken from key; counters pending a drain are kept). */
enum kw_err kw_keycache_put(struct kw_keycache *kc, const struct kw_key *key);
/* Removes the entry with this hash, if any. */
void kw_keycache_remove(struct kw_keycache *kc, const uint8_t hash[KW_HASH_LEN], int64_t version);
size_t kw_keycache_count(struct kw_keycache *kc);

/* The hot path. Checks format and checksum (MALFORMED without a lookup), hashes, looks up, and
 * decides the code at now_ms. When the key is found, records now_ms and ip (may be NULL) as last use
 * and counts the outcome (VALID as valid, other codes as denied). Thread-safe, no allocation. */
void kw_keycache_verify(struct kw_keycache *kc, const char *secret, size_t len, int64_t now_ms,
                        const char *ip, struct kw_verify_result *out);

/* Takes every entry touched since the last drain, resets its counters, and calls cb with what it
 * took. Called by one thread at a time (the write-behind thread). */
typedef void (*kw_keycache_touch_cb)(void *ctx, const char *key_id, const char *service_id,
                                     int64_t last_used_at, const char *ip, uint64_t valid, uint64_t denied);
void kw_keycache_drain(struct kw_keycache *kc, kw_keycache_touch_cb cb, void *ctx);

#endif
