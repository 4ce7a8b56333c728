/* root.c - the root credential; see root.h. */
#include "domain/root.h"

#include <string.h>

#include "core/log.h"
#include "crypto/crypto.h"
#include "domain/audit.h"

#define META_NAME "root_token_sha256"

static enum kw_err store_hash(struct kw_store *st, const char *token)
{
    uint8_t h[KW_SHA256_LEN];
    char hex[2 * KW_SHA256_LEN + 1];
    enum kw_err err = kw_crypto_sha256(token, strlen(token), h);

    if (err != KW_OK)
        return err;
    kw_crypto_hex(h, sizeof(h), hex);
    return kw_store_meta_set(st, META_NAME, hex);
}

enum kw_err kw_root_ensure(struct kw_store *st, const char *configured, char generated[KW_KEYFMT_MAX],
                           int *created)
{
    char hex[2 * KW_SHA256_LEN + 1];
    enum kw_err err;
    size_t n = configured ? strlen(configured) : 0;

    *created = 0;
    generated[0] = '\0';
    err = kw_store_meta_get(st, META_NAME, hex, sizeof(hex));
    if (err == KW_OK) {
        return KW_OK;
    }
    if (err != KW_ERR_NOT_FOUND)
        return err;
    if (n > 0 && (n < KW_ROOT_MIN_LEN || n > 255))
        return KW_ERR_INVALID;
    if (n == 0) {
        err = kw_keyfmt_generate(KW_ROOT_PREFIX, generated);
        if (err != KW_OK)
            return err;
    }
    err = store_hash(st, n > 0 ? configured : generated);
    if (err == KW_OK)
        *created = 1;
    return err;
}

int kw_root_check(struct kw_store *st, const char *token, size_t len)
{
    char hex[2 * KW_SHA256_LEN + 1];
    uint8_t want[KW_SHA256_LEN], got[KW_SHA256_LEN];

    if (len < KW_ROOT_MIN_LEN || len > 255)
        return 0;
    if (kw_store_meta_get(st, META_NAME, hex, sizeof(hex)) != KW_OK)
        return 0;
    if (kw_crypto_unhex(hex, want, sizeof(want)) != 0)
        return 0;
    if (kw_crypto_sha256(token, len, got) != KW_OK)
        return 0;
    return kw_crypto_equal(want, got, sizeof(want));
}

enum kw_err kw_root_rotate(struct kw_store *st, const char *actor, char out[KW_KEYFMT_MAX])
{
    struct kw_audit_event ev;
    enum kw_err err;

    err = kw_keyfmt_generate(KW_ROOT_PREFIX, out);
    if (err != KW_OK)
        return err;
    err = kw_store_begin(st);
    if (err != KW_OK)
        goto out;
    err = store_hash(st, out);
    if (err == KW_OK) {
        kw_audit_event_init(&ev, "system", actor, "root_token.rotate", "root_token", "root", NULL, "success");
        err = kw_audit_chain(st, &ev, 1);
    }
    if (err != KW_OK) {
        kw_store_rollback(st);
        goto out;
    }
    err = kw_store_commit(st);
out:
    if (err != KW_OK) {
        memset(out, 0, KW_KEYFMT_MAX);
        kw_log_error("root token rotation failed", "err=%s", kw_err_str(err));
    }
    return err;
}
