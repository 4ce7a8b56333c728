/* service_users_internal.h - what service_users.c, tokens.c and access_keys.c share: the credential rows a
 * write touched, applied to the key cache after its commit. */
#ifndef KW_DOMAIN_SERVICE_USERS_INTERNAL_H
#define KW_DOMAIN_SERVICE_USERS_INTERNAL_H

#include <stddef.h>

#include "core/records.h"
#include "domain/app.h"
#include "store/store.h"

/* Rows to put (live) or remove (deleted, at their version) once the write committed. */
struct kw_cred_batch {
    struct kw_key *items;
    unsigned char *deleted; /* per item */
    size_t n, cap;
};

/* Appends; KW_ERR_NOMEM when it cannot grow. */
enum kw_err kw_cred_batch_add(struct kw_cred_batch *b, const struct kw_key *k, int deleted);
/* Adds every token and access key of service_user_id as it is now in tx. */
enum kw_err kw_cred_batch_owner(struct kw_cred_batch *b, struct kw_tx *tx, const char *service_id,
                                const char *service_user_id, int deleted, int64_t version);
/* Applies every row to app->keys, then empties the batch (keeps its memory). */
void kw_cred_batch_apply(struct kw_cred_batch *b, struct kw_app *app);
void kw_cred_batch_reset(struct kw_cred_batch *b);
void kw_cred_batch_free(struct kw_cred_batch *b);

#endif
