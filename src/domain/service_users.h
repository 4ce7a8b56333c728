/* service_users.h - service users (seed 002): one machine identity per source system of a service, with
 * its credentials: minted bearer tokens (kwt_..., rows of keys with kind "token"), access keys
 * (domain/access_keys.h) and an OAuth client secret (kwcs_..., its SHA-256 on the service user's row).
 *
 * Disabling a service user sets owner_enabled = 0 on all its tokens and access keys with a new version
 * and bans "su:<id>" (KW_BAN_TTL_MS) in the same transaction, so every credential of it, JWTs included,
 * stops on the next request on every node; re-enabling lifts the ban and sets owner_enabled = 1.
 * Deleting one deletes its tokens and access keys (tombstones) and bans "su:<id>". Narrowing its
 * permissions narrows its tokens' in the same transaction (an access key carries the user's). */
#ifndef KW_DOMAIN_SERVICE_USERS_H
#define KW_DOMAIN_SERVICE_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"
#include "domain/app.h"
#include "domain/keyfmt.h"

#define KW_CLIENT_SECRET_PREFIX "kwcs"
#define KW_TOKEN_PREFIX "kwt"
#define KW_TOKEN_LABEL_MAX 100

/* Fields with set_ 0 are left as they are (update) or defaulted (create: perms candidates:read). */
struct kw_su_params {
    int set_name;
    const char *name;
    const char *source_system; /* create only */
    int set_perms;
    uint32_t perms;
    int set_enabled;
    int enabled;
};

/* 1 if s matches ^[a-z][a-z0-9_]{1,31}$. */
int kw_service_users_source_valid(const char *s);

/* KW_ERR_CONFLICT "SOURCE_SYSTEM_TAKEN" when the service has a service user for that source system;
 * KW_ERR_NOT_FOUND without the service. secret receives the client secret (shown once). */
enum kw_err kw_service_users_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                                    const struct kw_su_params *p, struct kw_service_user *out,
                                    char secret[KW_KEYFMT_MAX], const char **conflict);
enum kw_err kw_service_users_get(struct kw_app *app, const char *id, struct kw_service_user *out);
/* KW_ERR_NOT_FOUND without the service. */
enum kw_err kw_service_users_list(struct kw_app *app, const char *service_id, int64_t after_seq,
                                  struct kw_service_user *items, size_t cap, size_t *n);
enum kw_err kw_service_users_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                                    const struct kw_su_params *p, struct kw_service_user *out);
enum kw_err kw_service_users_delete(struct kw_app *app, const struct kw_actor *actor, const char *id);
/* A new client secret; the old one stops at once (JWTs it obtained live until their exp). */
enum kw_err kw_service_users_reset_secret(struct kw_app *app, const struct kw_actor *actor, const char *id,
                                          struct kw_service_user *out, char secret[KW_KEYFMT_MAX]);
/* OAuth client authentication (reads the store: call it off the event loop). KW_OK when client_id is
 * a service user that is enabled and secret's SHA-256 matches (constant time); KW_ERR_UNAUTHORIZED
 * otherwise (unknown, disabled, wrong or malformed secret); KW_ERR_RETRY / KW_ERR_STORE when the store
 * did not answer. */
enum kw_err kw_service_users_authenticate_client(struct kw_app *app, const char *client_id, const char *secret,
                                                 size_t secret_len, struct kw_service_user *out);

/* ---- tokens (domain/tokens.c) ---- */

struct kw_token_params {
    const char *label;  /* 1-100 bytes */
    int64_t expires_at; /* 0 = never */
    int set_perms;      /* 0: the user's permissions */
    uint32_t perms;
};

/* "revoked" > "expired" > "disabled" (the token or its owner) > "active". */
const char *kw_tokens_status(const struct kw_key *token, int64_t now_ms);
/* KW_ERR_CONFLICT with *conflict = "PERMISSION_NOT_HELD" (p->perms wider than the user's) or
 * "SERVICE_USER_DISABLED". secret receives the token (shown once). */
enum kw_err kw_tokens_mint(struct kw_app *app, const struct kw_actor *actor, const char *service_user_id,
                           const struct kw_token_params *p, struct kw_key *out, char secret[KW_KEYFMT_MAX],
                           const char **conflict);
/* The service user's tokens (KW_ERR_NOT_FOUND without the user). */
enum kw_err kw_tokens_list(struct kw_app *app, const char *service_user_id, int64_t after_seq, struct kw_key *items,
                           size_t cap, size_t *n);
/* A token row (kind token), else KW_ERR_NOT_FOUND. */
enum kw_err kw_tokens_get(struct kw_app *app, const char *token_id, struct kw_key *out);
/* Idempotent. */
enum kw_err kw_tokens_revoke(struct kw_app *app, const struct kw_actor *actor, const char *token_id,
                             struct kw_key *out);

#endif
