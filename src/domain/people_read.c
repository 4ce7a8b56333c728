/* people_read.c - people reads; see people_read.h. Each read is one snapshot. */
#include "domain/people_read.h"

#include "domain/commit_internal.h"

enum kw_err kw_people_user_get(struct kw_app *app, const char *username, struct kw_user *out)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, kw_store_user_get(tx, username, out));
    return err;
}

enum kw_err kw_people_user_list(struct kw_app *app, int64_t after_seq, struct kw_user *items, size_t cap,
                                size_t *n)
{
    enum kw_err err;

    *n = 0;
    KW_DOMAIN_READ(app->store, err, tx, kw_store_user_list(tx, after_seq, items, cap, n));
    return err;
}

static enum kw_err member_list_in(struct kw_tx *tx, const char *service_id, int64_t after_seq,
                                  struct kw_member *items, size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err = kw_store_service_get(tx, service_id, &s);

    return err == KW_OK ? kw_store_member_list(tx, service_id, NULL, after_seq, items, cap, n) : err;
}

enum kw_err kw_people_member_list(struct kw_app *app, const char *service_id, int64_t after_seq,
                                  struct kw_member *items, size_t cap, size_t *n)
{
    enum kw_err err;

    *n = 0;
    KW_DOMAIN_READ(app->store, err, tx, member_list_in(tx, service_id, after_seq, items, cap, n));
    return err;
}

enum kw_err kw_people_memberships(struct kw_app *app, const char *username, struct kw_member *items,
                                  size_t cap, size_t *n)
{
    enum kw_err err;

    *n = 0;
    KW_DOMAIN_READ(app->store, err, tx, kw_store_member_list(tx, NULL, username, 0, items, cap, n));
    return err;
}
