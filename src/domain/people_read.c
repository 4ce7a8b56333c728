/* people_read.c - people reads; see people_read.h. */
#include "domain/people_read.h"

#include <string.h>

#include "crypto/crypto.h"

enum kw_err kw_people_user_get(struct kw_app *app, const char *username, struct kw_user *out)
{
    return kw_store_user_get(app->store, username, out);
}

enum kw_err kw_people_user_list(struct kw_app *app, int64_t after_seq, struct kw_user *items, size_t cap,
                                size_t *n)
{
    *n = 0;
    return kw_store_user_list(app->store, after_seq, items, cap, n);
}

enum kw_err kw_people_password_check(struct kw_app *app, const char *username, const char *password)
{
    struct kw_user u;
    enum kw_err err = kw_store_user_get(app->store, username, &u);
    int ok;

    if (err != KW_OK)
        return err;
    ok = kw_crypto_password_verify(u.password_hash, password, strlen(password));
    memset(&u, 0, sizeof(u));
    return ok ? KW_OK : KW_ERR_NOT_FOUND;
}

enum kw_err kw_people_member_list(struct kw_app *app, const char *service_id, int64_t after_seq,
                                  struct kw_member *items, size_t cap, size_t *n)
{
    struct kw_service s;
    enum kw_err err;

    *n = 0;
    err = kw_store_service_get(app->store, service_id, &s);
    if (err == KW_OK)
        err = kw_store_member_list(app->store, service_id, NULL, after_seq, items, cap, n);
    return err;
}

enum kw_err kw_people_memberships(struct kw_app *app, const char *username, struct kw_member *items,
                                  size_t cap, size_t *n)
{
    *n = 0;
    return kw_store_member_list(app->store, NULL, username, 0, items, cap, n);
}

enum kw_err kw_people_service_list(struct kw_app *app, const char *username, int64_t after_seq,
                                   struct kw_service *items, size_t cap, size_t *n)
{
    *n = 0;
    return kw_store_service_list_for(app->store, username, after_seq, items, cap, n);
}
