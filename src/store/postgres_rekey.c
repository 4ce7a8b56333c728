/* postgres_rekey.c - the PostgreSQL statements of keyward rekey (domain/rekey.c) that no owner's file
 * has: a document's data key re-wrapped in place (store.h: kw_store_document_dek_set). Under READ
 * COMMITTED a shred that commits first makes the UPDATE match nothing (its WHERE is re-checked on the
 * newest row version), so a shredded document never gets a key back. */
#include <string.h>

#include "store/postgres_internal.h"

enum kw_err kw_pg_document_dek_set(struct kw_tx *tx, const char *id, const uint8_t *sealed, size_t len)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    if (len == 0 || len > KW_DOC_DEK_SEALED_MAX)
        return KW_ERR_INVALID;
    kw_pg_blob(&p, sealed, len);
    kw_pg_text(&p, id);
    err = kw_pg_run(tx,
                    "UPDATE documents SET sealed_dek = $1::bytea WHERE id = $2::text AND deleted_at = 0 "
                    "AND sealed_dek IS NOT NULL",
                    &p, "document_dek_set", &changed);
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return err;
}
