/* keycache.h - the verify hot path: every key's hash in memory, looked up without disk I/O.
 *
 * The table is sharded (256 shards, each its own rwlock), so there is no global lock: readers of
 * different shards never touch the same lock, and a write (put/remove) blocks one shard for a few
 * instructions.
 *
 * Ordering. Every credential row carries a version (struct kw_key.version), a deployment-wide change
 * number assigned in the same transaction as the change. Writers call put/remove after their commit,
 * in no particular order; the cache applies a change only when its version is newer than the one it
 * holds for that hash, so a writer paused between its commit and its put can never undo a later
 * revoke, disable or delete. The same rule makes cross-node propagation safe (a node applies
 * "key K is now at version V" from any source, in any order, any number of times).
 *
 * Tombstones. A remove leaves a tombstone (hash + version) so that a late put of an older version
 * cannot bring the key back. Tombstones expire KW_KEYCACHE_TOMBSTONE_TTL_MS after the remove and are
 * freed by later writes to the same shard. This is safe because a stale put comes from a writer that
 * committed before the delete and is still finishing that one request (microseconds to seconds, far
 * below ten minutes); cross-node propagation applies the same rule, and a node that has been away
 * longer than the TTL catches up from the store ("changed since V", which does not return deleted
 * rows) instead of replaying old puts. Memory: one entry per key removed in the last ten minutes
 * (a forced delete of a service with N keys holds N tombstones for ten minutes), never more.
 *
 * Verification records last use and usage counts in the entry with atomics and pushes the entry on
 * a lock-free dirty list; the write-behind thread drains it (kw_keycache_drain) and persists. */
#ifndef KW_DOMAIN_KEYCACHE_H
#define KW_DOMAIN_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"

#define KW_KEYCACHE_TOMBSTONE_TTL_MS (10 * 60 * 1000)

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
    /* hashed = 1 when the string had the credential shape and hash holds its SHA-256 (whatever the
     * code), so a caller that checks the same string against something else (the root token) does
     * not hash it twice. */
    int hashed;
    uint8_t hash[KW_HASH_LEN];
    /* when found: "api_key" | "token" | "access_key"; the owning service user of a token or access key
     * (else "") */
    char kind[KW_KIND_MAX];
    char service_user_id[KW_ID_MAX];
    int require_encryption; /* the key's requireEncryption */
    int archives_after_extract; /* the key's archiveAfterExtractSeconds is set (the delay: kw_keys_get) */
};

struct kw_keycache;

enum kw_err kw_keycache_new(struct kw_keycache **out);
void kw_keycache_free(struct kw_keycache *kc); /* NULL is a no-op */

/* Applies key (scope, perms, enabled, expiry, revoked, ids) only if key->version is newer than the
 * version the cache holds for this hash (live entry or tombstone); an older or equal version is
 * ignored (returns KW_OK). A hash the cache has never seen (or whose tombstone expired) is inserted
 * whatever its version. Counters pending a drain survive a put. KW_ERR_NOMEM only when a new entry
 * cannot be allocated. */
enum kw_err kw_keycache_put(struct kw_keycache *kc, const struct kw_key *key);
/* Deletes: the entry for hash (if any, and if older than version) becomes a tombstone carrying
 * version, and a tombstone is made even when the hash is not cached (the delete may overtake the
 * put of the key's creation). Counters pending a drain are still drained. */
void kw_keycache_remove(struct kw_keycache *kc, const uint8_t hash[KW_HASH_LEN], int64_t version);
/* Live entries (tombstones are not counted). */
size_t kw_keycache_count(struct kw_keycache *kc);

/* The hot path. Checks the shape (MALFORMED without hashing), hashes, looks up, and decides the code
 * at now_ms. Entries are only ever made from generated credentials, so a hit proves the checksum;
 * the CRC is computed on a miss, to tell MALFORMED from NOT_FOUND (the codes are the same as checking
 * it first). only_service: NULL accepts a key of any service; otherwise a key of another service is
 * NOT_FOUND, with no ids in out and nothing recorded. When the key is accepted by that filter,
 * records now_ms and ip (may be NULL) as last use and counts the outcome (VALID as valid, other codes
 * as denied). Thread-safe, no allocation, no lock but the shard's read lock. */
void kw_keycache_verify(struct kw_keycache *kc, const char *secret, size_t len, int64_t now_ms, const char *ip,
                        const char *only_service, struct kw_verify_result *out);

/* Machine credentials (keys rows of kind token, access_key, ban, client_secret; records.h). kw_keycache_verify
 * answers api keys and tokens only (an access key or ban entry is NOT_FOUND there); a token (or access
 * key) whose owner is disabled (owner_enabled = 0) is DISABLED. */

/* 1 if a live, unexpired ban row for SHA-256(what) is cached: what = "jti:<jti>", "su:<serviceUserId>",
 * "cred:<credentialId>". Records nothing. Thread-safe, read lock only. */
int kw_keycache_banned(struct kw_keycache *kc, const char *what, int64_t now_ms);
/* Looks up the access key access_key_id[0..len) ("KWAK" + 16 base32; anything else MALFORMED, unknown
 * NOT_FOUND) by SHA-256("ak:" + id): VALID, DISABLED (the key or its owner), with ids, kind and owner
 * in out; records last use like kw_keycache_verify. When found, its sealed secret is copied into sealed
 * (KW_SEALED_MAX bytes) with *sealed_len (0 when none); both may be NULL. */
void kw_keycache_access_key(struct kw_keycache *kc, const char *access_key_id, size_t len, int64_t now_ms,
                            const char *ip, struct kw_verify_result *out, uint8_t *sealed, size_t *sealed_len);
/* Looks up an OAuth client secret by hash (SHA-256 of the secret; keys row of kind client_secret whose
 * service_user_id is the client): VALID, DISABLED (the owner is disabled) or NOT_FOUND, with the
 * owner's service, perms and id in out. Records nothing. Thread-safe, read lock only. */
void kw_keycache_client_secret(struct kw_keycache *kc, const uint8_t hash[KW_HASH_LEN], int64_t now_ms,
                               struct kw_verify_result *out);

/* Takes every entry touched since the last drain, resets its counters, and calls cb with what it
 * took. Called by one thread at a time (the write-behind thread); concurrent verifications are
 * never lost: each one is counted in exactly one drain. */
typedef void (*kw_keycache_touch_cb)(void *ctx, const char *key_id, const char *service_id,
                                     int64_t last_used_at, const char *ip, uint64_t valid, uint64_t denied);
void kw_keycache_drain(struct kw_keycache *kc, kw_keycache_touch_cb cb, void *ctx);

#endif
