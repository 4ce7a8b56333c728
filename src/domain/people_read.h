/* people_read.h - what the API reads about people: users, memberships, the services a person sees.
 * (Writes, login and sessions are domain/accounts.h's.) Lists follow store.h's keyset contract:
 * after_seq 0 starts at the beginning, ascending seq, the caller owns items (cap entries), *n is the
 * count written; ask for limit + 1 to learn whether there is a next page. */
#ifndef KW_DOMAIN_PEOPLE_READ_H
#define KW_DOMAIN_PEOPLE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "domain/app.h"
#include "store/records.h"

/* KW_ERR_NOT_FOUND when there is no such user. out never carries more than the stored row. */
enum kw_err kw_people_user_get(struct kw_app *app, const char *username, struct kw_user *out);
enum kw_err kw_people_user_list(struct kw_app *app, int64_t after_seq, struct kw_user *items, size_t cap,
                                size_t *n);
/* KW_OK when password is username's current password; KW_ERR_NOT_FOUND otherwise (no such user or a
 * wrong password: indistinguishable). Costs one Argon2id verification. */
enum kw_err kw_people_password_check(struct kw_app *app, const char *username, const char *password);

/* Members of service_id; KW_ERR_NOT_FOUND when there is no such service. */
enum kw_err kw_people_member_list(struct kw_app *app, const char *service_id, int64_t after_seq,
                                  struct kw_member *items, size_t cap, size_t *n);
/* username's memberships (one per service), oldest first. */
enum kw_err kw_people_memberships(struct kw_app *app, const char *username, struct kw_member *items,
                                  size_t cap, size_t *n);
/* Services username is a member of, ascending seq. */
enum kw_err kw_people_service_list(struct kw_app *app, const char *username, int64_t after_seq,
                                   struct kw_service *items, size_t cap, size_t *n);

#endif
