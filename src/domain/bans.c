/* bans.c - ban rows in the keys table; see bans.h. */
#include "domain/bans.h"

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"

static enum kw_err ban_id(const char *what, uint8_t hash[KW_HASH_LEN], char id[KW_ID_MAX])
{
    char hex[2 * 16 + 1];
    enum kw_err err = kw_crypto_sha256(what, strlen(what), hash);

    if (err != KW_OK)
        return err;
    kw_crypto_hex(hash, 16, hex);
    snprintf(id, KW_ID_MAX, "ban_%s", hex);
    return KW_OK;
}

enum kw_err kw_ban_put(struct kw_tx *tx, const char *service_id, const char *what, int64_t expires_at,
                       int64_t version, const char *actor_id, struct kw_key *out)
{
    struct kw_key k;
    uint8_t hash[KW_HASH_LEN];
    char id[KW_ID_MAX];
    enum kw_err err = ban_id(what, hash, id);

    if (err != KW_OK)
        return err;
    err = kw_store_key_get(tx, id, &k);
    if (err == KW_OK) {
        if (k.expires_at < expires_at)
            k.expires_at = expires_at;
        k.version = version;
        k.updated_at = kw_time_now_ms();
        err = kw_store_key_update(tx, &k);
    } else if (err == KW_ERR_NOT_FOUND) {
        memset(&k, 0, sizeof(k));
        memcpy(k.id, id, sizeof(k.id));
        snprintf(k.service_id, sizeof(k.service_id), "%s", service_id);
        memcpy(k.hash, hash, KW_HASH_LEN);
        snprintf(k.description, sizeof(k.description), "%s", what); /* ids, never a secret */
        snprintf(k.kind, sizeof(k.kind), "ban");
        snprintf(k.created_by, sizeof(k.created_by), "%s", actor_id ? actor_id : "system");
        k.enabled = 1;
        k.owner_enabled = 1;
        k.archive_after_extract_s = -1;
        k.created_at = k.updated_at = kw_time_now_ms();
        k.expires_at = expires_at;
        k.version = version;
        err = kw_store_key_insert(tx, &k);
    }
    if (err == KW_OK && out != NULL)
        *out = k;
    return err;
}

enum kw_err kw_ban_lift(struct kw_tx *tx, const char *what, int64_t version, struct kw_key *out, int *lifted)
{
    struct kw_key k;
    uint8_t hash[KW_HASH_LEN];
    char id[KW_ID_MAX];
    enum kw_err err = ban_id(what, hash, id);

    *lifted = 0;
    if (err != KW_OK)
        return err;
    err = kw_store_key_get(tx, id, &k);
    if (err == KW_ERR_NOT_FOUND)
        return KW_OK;
    if (err == KW_OK)
        err = kw_store_key_delete(tx, id, version);
    if (err == KW_OK) {
        *lifted = 1;
        k.version = version;
        if (out != NULL)
            *out = k;
    }
    return err;
}
