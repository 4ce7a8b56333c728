/* sqlite_rekey.c - the SQLite statements of keyward rekey (domain/rekey.c) that no owner's file has:
 * a document's data key re-wrapped in place (store.h: kw_store_document_dek_set). */
#include <string.h>

#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))

enum kw_err kw_sq_document_dek_set(struct kw_tx *tx, const char *id, const uint8_t *sealed, size_t len)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = NULL;
    enum kw_err err;
    int rc, changed;

    if (len == 0 || len > KW_DOC_DEK_SEALED_MAX)
        return KW_ERR_INVALID;
    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(s->db,
                            "UPDATE documents SET sealed_dek = ? WHERE id = ? AND deleted_at = 0 "
                            "AND sealed_dek IS NOT NULL",
                            -1, &q, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(q, 1, sealed, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
    }
    err = rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, "document_dek_set", rc);
    changed = sqlite3_changes(s->db);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return err;
}
