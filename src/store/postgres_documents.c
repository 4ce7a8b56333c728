/* postgres_documents.c - documents for the PostgreSQL backend (the statements of sqlite_documents.c).
 * The content is document_chunks rows (document_id, idx, data = IV | ciphertext | tag) written in the
 * ingest's transaction, so every node sharing the database serves every document and a rolled-back
 * ingest leaves nothing. Deleting shreds in one transaction: sealed_dek NULL and the chunks deleted (the
 * dead tuples go at the next (auto)vacuum; no query or pg_dump sees them). Rows read in a write
 * transaction are locked FOR UPDATE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"

#define DOC_COLS                                                                                          \
    "seq, id, service_id, service_user_id, credential_id, filename, media_type, size, sha256, "          \
    "source_tag, external_id, document_category, department, approver_department, metadata, "            \
    "sealed_dek, chunk_size, nchunks, idempotency_key, idempotency_hash, created_at, deleted_at"

static void doc_row(const PGresult *res, int i, void *item)
{
    struct kw_document *d = item;
    uint8_t hash[KW_HASH_LEN];

    memset(d, 0, sizeof(*d));
    d->seq = kw_pg_get_int(res, i, 0);
    kw_pg_get_text(res, i, 1, d->id, sizeof(d->id));
    kw_pg_get_text(res, i, 2, d->service_id, sizeof(d->service_id));
    kw_pg_get_text(res, i, 3, d->service_user_id, sizeof(d->service_user_id));
    kw_pg_get_text(res, i, 4, d->credential_id, sizeof(d->credential_id));
    kw_pg_get_text(res, i, 5, d->filename, sizeof(d->filename));
    kw_pg_get_text(res, i, 6, d->media_type, sizeof(d->media_type));
    d->size = kw_pg_get_int(res, i, 7);
    kw_pg_get_text(res, i, 8, d->sha256, sizeof(d->sha256));
    kw_pg_get_text(res, i, 9, d->source_tag, sizeof(d->source_tag));
    kw_pg_get_text(res, i, 10, d->external_id, sizeof(d->external_id));
    kw_pg_get_text(res, i, 11, d->document_category, sizeof(d->document_category));
    kw_pg_get_text(res, i, 12, d->department, sizeof(d->department));
    kw_pg_get_text(res, i, 13, d->approver_department, sizeof(d->approver_department));
    kw_pg_get_text(res, i, 14, d->metadata, sizeof(d->metadata));
    d->sealed_dek_len = kw_pg_get_bytes(res, i, 15, d->sealed_dek, sizeof(d->sealed_dek));
    d->chunk_size = kw_pg_get_int(res, i, 16);
    d->nchunks = kw_pg_get_int(res, i, 17);
    kw_pg_get_text(res, i, 18, d->idempotency_key, sizeof(d->idempotency_key));
    if (kw_pg_get_bytes(res, i, 19, hash, sizeof(hash)) == KW_HASH_LEN)
        memcpy(d->idempotency_hash, hash, KW_HASH_LEN);
    d->created_at = kw_pg_get_int(res, i, 20);
    d->deleted_at = kw_pg_get_int(res, i, 21);
}

enum kw_err kw_pg_document_insert(struct kw_tx *tx, struct kw_document *d)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, d->id);
    KW_PG_FIELD(&p, d->service_id);
    KW_PG_FIELD(&p, d->service_user_id);
    KW_PG_FIELD(&p, d->credential_id);
    KW_PG_FIELD(&p, d->filename);
    KW_PG_FIELD(&p, d->media_type);
    kw_pg_int(&p, d->size);
    KW_PG_FIELD(&p, d->sha256);
    KW_PG_FIELD(&p, d->source_tag);
    KW_PG_FIELD(&p, d->external_id);
    KW_PG_FIELD(&p, d->document_category);
    KW_PG_FIELD(&p, d->department);
    KW_PG_FIELD(&p, d->approver_department);
    KW_PG_FIELD(&p, d->metadata);
    kw_pg_blob(&p, d->sealed_dek, d->sealed_dek_len);
    kw_pg_int(&p, d->chunk_size);
    kw_pg_int(&p, d->nchunks);
    KW_PG_FIELD(&p, d->idempotency_key);
    kw_pg_blob(&p, d->idempotency_hash, KW_HASH_LEN);
    kw_pg_int(&p, d->created_at);
    kw_pg_int(&p, d->deleted_at);
    return kw_pg_insert_seq(tx,
                            "INSERT INTO documents(id, service_id, service_user_id, credential_id, filename, "
                            "media_type, size, sha256, source_tag, external_id, document_category, department, "
                            "approver_department, metadata, sealed_dek, chunk_size, nchunks, idempotency_key, "
                            "idempotency_hash, created_at, deleted_at) VALUES ($1::text, $2::text, $3::text, "
                            "$4::text, $5::text, $6::text, $7::bigint, $8::text, $9::text, $10::text, $11::text, "
                            "$12::text, $13::text, $14::text, NULLIF($15::bytea, ''::bytea), $16::bigint, "
                            "$17::bigint, $18::text, $19::bytea, $20::bigint, $21::bigint) RETURNING seq",
                            &p, "document_insert", &d->seq);
}

static enum kw_err get_one(struct kw_tx *tx, const char *where, struct kw_pg_params *p, struct kw_document *out,
                           const char *op)
{
    char sql[768];
    enum kw_err err;
    PGresult *res;

    snprintf(sql, sizeof(sql), "SELECT " DOC_COLS " FROM documents WHERE %s%s", where, kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, p, op, &err);
    return res == NULL ? err : kw_pg_one(res, doc_row, out);
}

enum kw_err kw_pg_document_get(struct kw_tx *tx, const char *id, struct kw_document *out)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, id);
    return get_one(tx, "id = $1::text", &p, out, "document_get");
}

enum kw_err kw_pg_document_get_idem(struct kw_tx *tx, const char *service_id, const char *key,
                                    struct kw_document *out)
{
    struct kw_pg_params p = {0};

    if (key == NULL || key[0] == '\0')
        return KW_ERR_NOT_FOUND;
    kw_pg_text(&p, service_id);
    kw_pg_text(&p, key);
    return get_one(tx, "service_id = $1::text AND idempotency_key = $2::text", &p, out, "document_get_idem");
}

static const char *opt(const char *s)
{
    return s != NULL ? s : "";
}

enum kw_err kw_pg_document_list(struct kw_tx *tx, const struct kw_document_filter *f, struct kw_document *items,
                                size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;

    *n = 0;
    kw_pg_text(&p, f->service_id);
    kw_pg_int(&p, f->after_seq);
    kw_pg_text(&p, opt(f->source_tag));
    kw_pg_text(&p, opt(f->external_id));
    kw_pg_text(&p, opt(f->document_category));
    kw_pg_text(&p, opt(f->department));
    kw_pg_text(&p, opt(f->service_user_id));
    kw_pg_int(&p, f->since);
    kw_pg_int(&p, f->until);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx,
                     "SELECT " DOC_COLS " FROM documents WHERE service_id = $1::text AND deleted_at = 0 "
                     "AND seq > $2::bigint AND ($3::text = '' OR source_tag = $3::text) "
                     "AND ($4::text = '' OR external_id = $4::text) "
                     "AND ($5::text = '' OR document_category = $5::text) "
                     "AND ($6::text = '' OR department = $6::text) "
                     "AND ($7::text = '' OR service_user_id = $7::text) AND created_at >= $8::bigint "
                     "AND ($9::bigint = 0 OR created_at < $9::bigint) ORDER BY seq LIMIT $10::bigint",
                     &p, "document_list", &err);
    if (res == NULL)
        return err;
    kw_pg_collect(res, doc_row, items, sizeof(*items), cap, n);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_document_content_put(struct kw_tx *tx, const char *id, int64_t nchunks, size_t rec_size,
                                       kw_store_chunk_fn fn, void *ctx)
{
    enum kw_err err = KW_OK;
    uint8_t *buf;
    int64_t i;

    if (nchunks < 1 || rec_size == 0)
        return KW_ERR_INVALID;
    if (fn == NULL)
        return KW_ERR_NOT_FOUND; /* nothing is ever staged here (content_stage writes nothing) */
    buf = malloc(rec_size);
    if (buf == NULL)
        return KW_ERR_NOMEM;
    for (i = 0; i < nchunks && err == KW_OK; i++) {
        struct kw_pg_params p = {0};
        size_t len = 0;

        err = fn(ctx, i, buf, rec_size, &len);
        if (err == KW_OK && len > rec_size)
            err = KW_ERR_INVALID;
        if (err != KW_OK)
            break;
        kw_pg_text(&p, id);
        kw_pg_int(&p, i);
        kw_pg_blob(&p, buf, len);
        err = kw_pg_run(tx,
                        "INSERT INTO document_chunks(document_id, idx, data) VALUES ($1::text, $2::bigint, "
                        "$3::bytea)",
                        &p, "document_chunk_put", NULL);
    }
    free(buf);
    return err;
}

enum kw_err kw_pg_document_chunk_get(struct kw_tx *tx, const char *id, int64_t index, size_t rec_size,
                                     uint8_t *buf, size_t cap, size_t *len)
{
    struct kw_pg_params p = {0};
    unsigned char *raw;
    enum kw_err err;
    PGresult *res;
    size_t n = 0;

    *len = 0;
    if (index < 0 || cap < rec_size)
        return KW_ERR_INVALID;
    kw_pg_text(&p, id);
    kw_pg_int(&p, index);
    res = kw_pg_exec(tx, "SELECT data FROM document_chunks WHERE document_id = $1::text AND idx = $2::bigint", &p,
                     "document_chunk_get", &err);
    if (res == NULL)
        return err;
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return KW_ERR_NOT_FOUND;
    }
    raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &n);
    PQclear(res);
    if (raw == NULL)
        return KW_ERR_NOMEM;
    if (n > cap)
        n = cap; /* longer than a chunk can be: the caller's authentication fails */
    memcpy(buf, raw, n);
    PQfreemem(raw);
    *len = n;
    return KW_OK;
}

enum kw_err kw_pg_document_shred(struct kw_tx *tx, const char *id, int64_t deleted_at)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    kw_pg_int(&p, deleted_at);
    kw_pg_text(&p, id);
    err = kw_pg_run(tx,
                    "UPDATE documents SET sealed_dek = NULL, deleted_at = $1::bigint WHERE id = $2::text "
                    "AND deleted_at = 0",
                    &p, "document_shred", &changed);
    if (err != KW_OK)
        return err;
    if (changed == 0)
        return KW_ERR_NOT_FOUND;
    memset(&p, 0, sizeof(p));
    kw_pg_text(&p, id);
    return kw_pg_run(tx, "DELETE FROM document_chunks WHERE document_id = $1::text", &p, "document_shred_chunks",
                     NULL);
}
