/* nonces.c - single-use values; see nonces.h. */
#include "domain/nonces.h"

#include "domain/commit_internal.h"
#include "store/store.h"

enum kw_err kw_nonce_use(struct kw_app *app, const char *scope, const char *value, int64_t now_ms)
{
    enum kw_err err = KW_ERR_RETRY;
    int i;

    for (i = 0; i < KW_DOMAIN_WRITE_TRIES && err == KW_ERR_RETRY; i++) {
        struct kw_tx *tx = NULL;
        err = kw_store_begin(app->store, KW_TX_WRITE, &tx);
        if (err != KW_OK)
            continue;
        err = kw_store_nonce_insert(tx, scope, value, now_ms);
        if (err == KW_OK)
            err = kw_store_commit(tx);
        else
            kw_store_rollback(tx);
    }
    return err;
}
