/* access_keys.h - access keys (seed 004): an accessKeyId ("KWAK" + 16 base32, public) and a
 * secretAccessKey (40 base62, shown once), owned by a service user. HMAC needs the secret, so it is
 * sealed under the master key (domain/secrets.h) in the row's `sealed` column; the row is a keys row of
 * kind "access_key" whose id is the accessKeyId and whose hash is SHA-256("ak:" + accessKeyId), so the
 * key cache finds it by id (kw_keycache_access_key) with its sealed secret, on every node. At most
 * KW_ACCESS_KEYS_MAX active (enabled) keys per service user, so one can be rotated. Disabling or deleting
 * one bans "cred:<accessKeyId>" (domain/bans.h), so the access tokens it minted stop too. */
#ifndef KW_DOMAIN_ACCESS_KEYS_H
#define KW_DOMAIN_ACCESS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"
#include "domain/app.h"

#define KW_ACCESS_KEYS_MAX 2
#define KW_ACCESS_KEY_ID_LEN 20     /* "KWAK" + 16 */
#define KW_ACCESS_KEY_SECRET_LEN 40 /* base62 */

/* 1 if s is "KWAK" + 16 characters of A-Z2-7. */
int kw_access_keys_id_valid(const char *s);
/* "disabled" (the key or its owner) or "active". */
const char *kw_access_keys_status(const struct kw_key *k);
/* KW_ERR_NOT_FOUND when the service or the service user (of that service) is missing; KW_ERR_CONFLICT
 * with *conflict = "ACCESS_KEY_LIMIT" or "SERVICE_USER_DISABLED". secret receives the secret access
 * key (KW_ACCESS_KEY_SECRET_LEN + NUL), the only time it leaves the server. */
enum kw_err kw_access_keys_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                                  const char *service_user_id, struct kw_key *out,
                                  char secret[KW_ACCESS_KEY_SECRET_LEN + 1], const char **conflict);
/* The service's access keys, ascending seq (KW_ERR_NOT_FOUND without the service). */
enum kw_err kw_access_keys_list(struct kw_app *app, const char *service_id, int64_t after_seq, struct kw_key *items,
                                size_t cap, size_t *n);
/* Enable or disable; enabling a third active key is KW_ERR_CONFLICT "ACCESS_KEY_LIMIT". */
enum kw_err kw_access_keys_set_enabled(struct kw_app *app, const struct kw_actor *actor, const char *id,
                                       int enabled, struct kw_key *out, const char **conflict);
enum kw_err kw_access_keys_delete(struct kw_app *app, const struct kw_actor *actor, const char *id);

#endif
