/* rekey.h - re-wrapping every sealed blob (access keys' secret access keys in keys.sealed, signing keys'
 * private keys, response-encryption keys' private keys, identity records' and documents' data keys,
 * webhooks' current and previous secrets) under a new master key, in small audited transactions, while servers keep serving.
 * Only the wrapped data key of each blob changes (kw_secrets_rewrap); each re-wrapped credential row
 * takes a new version, so every node's cache receives the new blob (documents and webhooks are read from
 * the store when used, so their rows keep their versions and updated_at). Servers open blobs under any master key they
 * hold (they keep the keys they have read and re-read their master key file when they meet an
 * unknown key id), so old and new blobs both work during and after the run. docs/operations.md has
 * the procedure. */
#ifndef KW_DOMAIN_REKEY_H
#define KW_DOMAIN_REKEY_H

#include <stdint.h>

#include "core/err.h"

struct kw_app;
struct kw_actor;
struct kw_secrets;

#define KW_REKEY_BATCH 50 /* rows per transaction */

struct kw_rekey_stats {
    int64_t access_keys; /* re-wrapped */
    int64_t signing_keys;
    int64_t encryption_keys; /* response-encryption keys' private keys */
    int64_t records;         /* identity records' data keys */
    int64_t documents;       /* documents' data keys */
    int64_t webhook_secrets; /* webhooks' current and previous secrets (each one counts) */
    int64_t already; /* under the new key already */
    int64_t failed;  /* could not be opened with any key of app->secrets (logged by id) */
};

/* Re-wraps every blob not yet under to's current key: from app->secrets (which must hold the keys the
 * blobs are under) to `to`. Adds to *stats. Audited as "secrets.rekey" per transaction. */
enum kw_err kw_rekey_run(struct kw_app *app, struct kw_secrets *to, const struct kw_actor *actor,
                         struct kw_rekey_stats *stats);

#endif
