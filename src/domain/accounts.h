/* accounts.h - people: users with Argon2id passwords, console sessions, service memberships, and
 * the login throttle. Every write commits with its audit event before it returns. */
#ifndef KW_DOMAIN_ACCOUNTS_H
#define KW_DOMAIN_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "domain/app.h"
#include "domain/keyfmt.h"
#include "core/records.h"

#define KW_SESSION_COOKIE "kw_session"
#define KW_SESSION_ID_MAX KW_KEYFMT_MAX /* "kws_" + 49: a credential-format string, 256 bits */
#define KW_PASSWORD_MIN 12
#define KW_PASSWORD_MAX 256

/* 1 if name matches ^[a-z0-9][a-z0-9._-]{2,62}$. */
int kw_accounts_username_valid(const char *name);
/* 1 for "sysadmin"/"user" (users) or "admin"/"operator"/"viewer" (members). */
int kw_accounts_user_role_valid(const char *role);
int kw_accounts_member_role_valid(const char *role);

enum kw_err kw_accounts_user_create(struct kw_app *app, const struct kw_actor *a, const char *username,
                                    const char *password, const char *role, struct kw_user *out);

/* A change to a user. NULL fields are left as they are. */
struct kw_user_change {
    const char *password;         /* new password */
    int prove_current;            /* 1: current_password must match the stored one (a person changing
                                   * their own password) */
    const char *current_password;
    const char *role;             /* "sysadmin" | "user" */
    const int *disabled;
    const uint8_t *keep_session;  /* hash of the session that made a password change: it survives */
};

/* Disabling ends every session of the user; a new password ends all but ch->keep_session.
 * KW_ERR_CONFLICT with *conflict (may be NULL) = "LAST_SYSADMIN" when the change would leave no
 * enabled System Administrator, "INVALID_CREDENTIALS" when the current password was not proven. */
enum kw_err kw_accounts_user_update(struct kw_app *app, const struct kw_actor *a, const char *username,
                                    const struct kw_user_change *ch, struct kw_user *out, const char **conflict);
/* KW_ERR_CONFLICT, *conflict = "LAST_SYSADMIN", for the last enabled System Administrator. */
enum kw_err kw_accounts_user_delete(struct kw_app *app, const struct kw_actor *a, const char *username,
                                    const char **conflict);

/* Login. On success writes a new session id (the cookie value) and its CSRF token; KW_ERR_NOT_FOUND
 * for a wrong username or password (indistinguishable), KW_ERR_CONFLICT when throttled
 * (*retry_after_s set). Every attempt is audited. */
enum kw_err kw_accounts_login(struct kw_app *app, const char *username, const char *password, const char *ip,
                              const char *request_id, char session_id[KW_SESSION_ID_MAX], struct kw_session *out,
                              struct kw_user *user, int64_t *retry_after_s);
/* Resolves a cookie value to a live session and its (enabled) user; NOT_FOUND otherwise. */
enum kw_err kw_accounts_session(struct kw_app *app, const char *session_id, size_t len, int64_t now_ms,
                                struct kw_session *out, struct kw_user *user);
void kw_accounts_logout(struct kw_app *app, const struct kw_actor *a, const uint8_t id_hash[KW_HASH_LEN]);

enum kw_err kw_accounts_member_add(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                   const char *username, const char *role, struct kw_member *out);
enum kw_err kw_accounts_member_update(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                      const char *username, const char *role, struct kw_member *out);
enum kw_err kw_accounts_member_remove(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                      const char *username);

#endif
