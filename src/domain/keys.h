/* keys.h - the API key lifecycle: create, read, update, revoke, roll, delete. Every write commits
 * with its audit event and a new version, then updates the verify cache with that version, so it is
 * effective on the next request and a slower, older write can never overwrite it in the cache. */
#ifndef KW_DOMAIN_KEYS_H
#define KW_DOMAIN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "domain/app.h"
#include "domain/keyfmt.h"
#include "core/records.h"

#define KW_ARCHIVE_MAX_S 31536000LL /* one year */
#define KW_ROLL_GRACE_MAX_S 2592000LL /* thirty days */

/* Fields with their set_ flag 0 are left as they are (update) or defaulted (create). */
struct kw_key_params {
    int set_description;
    const char *description;
    int set_scope;
    int scope;
    int set_perms;
    uint32_t perms;
    int set_archive;
    int64_t archive_after_extract_s; /* -1 = off */
    int set_enabled;
    int enabled;
    int set_expires;
    int64_t expires_at; /* 0 = never */
    int set_require_encryption;
    int require_encryption; /* record extracts only as encrypted responses (domain/enckeys.h) */
};

/* Status as the API shows it, at now_ms: "revoked" > "expired" > "disabled" > "active". */
const char *kw_keys_status(const struct kw_key *key, int64_t now_ms);

/* secret receives the credential string, the only time it exists outside the caller's request. */
enum kw_err kw_keys_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                           const struct kw_key_params *p, struct kw_key *out, char secret[KW_KEYFMT_MAX]);
enum kw_err kw_keys_get(struct kw_app *app, const char *id, struct kw_key *out);
enum kw_err kw_keys_list(struct kw_app *app, const char *service_id, int64_t after_seq, struct kw_key *items,
                         size_t cap, size_t *n);
/* KW_ERR_CONFLICT with *conflict (may be NULL) = "KEY_REVOKED" if the key is revoked, "KEY_ROLLED" when
 * p changes the expiry of a key that was rolled (its expiry is the roll's grace and stays so). */
enum kw_err kw_keys_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                           const struct kw_key_params *p, struct kw_key *out, const char **conflict);
/* Idempotent. */
enum kw_err kw_keys_revoke(struct kw_app *app, const struct kw_actor *actor, const char *id, struct kw_key *out);
/* New key with the old one's settings; the old one expires after grace_s (0 = now). A key has at
 * most one successor: KW_ERR_CONFLICT with *conflict (may be NULL) = "KEY_ALREADY_ROLLED" when it was
 * rolled before, "KEY_REVOKED" or "KEY_EXPIRED" when it is no longer live. */
enum kw_err kw_keys_roll(struct kw_app *app, const struct kw_actor *actor, const char *id, int64_t grace_s,
                         struct kw_key *out, char secret[KW_KEYFMT_MAX], const char **conflict);
enum kw_err kw_keys_delete(struct kw_app *app, const struct kw_actor *actor, const char *id);

#endif
