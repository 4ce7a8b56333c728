/* root.h - the root credential: one token (kwroot_...) that administers everything until human
 * logins exist, and for automation after. Only its SHA-256 is stored (meta "root_token_sha256"). */
#ifndef KW_DOMAIN_ROOT_H
#define KW_DOMAIN_ROOT_H

#include <stddef.h>

#include "core/err.h"
#include "domain/keyfmt.h"
#include "store/store.h"

#define KW_ROOT_PREFIX "kwroot"
#define KW_ROOT_MIN_LEN 32

/* First start: if no root token exists, stores the hash of `configured` (when non-empty; must be
 * KW_ROOT_MIN_LEN..255 chars, else KW_ERR_INVALID) or of a newly generated token, which is then
 * written to `generated` (caller prints it once). *created = 1 if a token was set now. */
enum kw_err kw_root_ensure(struct kw_store *st, const char *configured, char generated[KW_KEYFMT_MAX],
                           int *created);
/* 1 if token is the root token (constant-time compare of hashes), else 0. Reads the store, so a
 * rotation by another process is seen on the next request. */
int kw_root_check(struct kw_store *st, const char *token, size_t len);
/* Replaces the root token with a new generated one (audited as root_token.rotate by actor). */
enum kw_err kw_root_rotate(struct kw_store *st, const char *actor, char out[KW_KEYFMT_MAX]);

#endif
