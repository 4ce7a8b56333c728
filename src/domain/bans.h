/* bans.h - ban rows: keys rows of kind "ban" whose hash is the SHA-256 of what they ban, as a string:
 * "jti:<jti>" (a revoked JWT), "su:<serviceUserId>" (JWTs of a disabled or deleted service user),
 * "cred:<credentialId>" (JWTs minted by a since disabled or deleted access key, or before a client
 * secret reset). A ban's expires_at is when the banned thing cannot be valid anyway; it travels to
 * every node's key cache like any credential row (kw_keycache_banned answers from memory). The id is
 * derived from the hash ("ban_" + 32 hex digits), so putting the same ban twice updates one row.
 * These run inside the caller's write transaction (kw_domain_write) with the caller's version; after
 * the commit the caller applies the row to the cache (kw_keycache_put / kw_keycache_remove). */
#ifndef KW_DOMAIN_BANS_H
#define KW_DOMAIN_BANS_H

#include <stdint.h>

#include "core/err.h"
#include "core/records.h"
#include "store/store.h"

/* The longest an access token lives (config access-token-ttl caps at 3600 s): a ban on a service user
 * or a credential lasts this long, so it outlives every JWT issued before it, whatever the TTL. */
#define KW_BAN_TTL_MS (3600LL * 1000)

/* Writes (or extends: the later expires_at wins) the ban on what, of service_id, at version; *out (may
 * be NULL) = the row as written. */
enum kw_err kw_ban_put(struct kw_tx *tx, const char *service_id, const char *what, int64_t expires_at,
                       int64_t version, const char *actor_id, struct kw_key *out);
/* Deletes the ban on what (a tombstone at version); *lifted = 1 when there was one, with *out (may be
 * NULL) its row (hash for kw_keycache_remove). */
enum kw_err kw_ban_lift(struct kw_tx *tx, const char *what, int64_t version, struct kw_key *out, int *lifted);

#endif
