/* people_read.h - what the API reads about people: users, memberships, the services a person sees.
 * (Writes, login and sessions are domain/accounts.h's.) Lists follow store.h's keyset contract:
 * after_seq 0 starts at the beginning, ascending seq, the caller owns items (cap entries), *n is the
 * count written; ask for limit + 1 to learn whether there is a next page. */
#ifndef KW_DOMAIN_PEOPLE_READ_H
#define KW_DOMAIN_PEOPLE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "domain/app.h"
#include "core/records.h"

/* KW_ERR_NOT_FOUND when there is no such user. out never carries more than the stored row. */
enum kw_err kw_people_user_get(struct kw_app *app, const char *username, struct kw_user *out);
enum kw_err kw_people_user_list(struct kw_app *app, int64_t after_seq, struct kw_user *items, size_t cap,
                                size_t *n);

/* Members of service_id; KW_ERR_NOT_FOUND when there is no such service. */
enum kw_err kw_people_member_list(struct kw_app *app, const char *service_id, int64_t after_seq,
                                  struct kw_member *items, size_t cap, size_t *n);
/* username's memberships (one per service), oldest first. */
enum kw_err kw_people_memberships(struct kw_app *app, const char *username, struct kw_member *items,
                                  size_t cap, size_t *n);

#endif
