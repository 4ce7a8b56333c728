/* documents.h - stored documents (issue 10, seed 002): files a service's integrators ingest, kept
 * encrypted, searchable by their metadata, downloadable by those allowed, and deleted by crypto-shredding.
 *
 * Encryption: each document has its own 32-byte data key, sealed under the master key (kw_secrets_seal)
 * in documents.sealed_dek. The content is cut into chunks of KW_DOC_CHUNK_SIZE plaintext bytes (the last
 * may be shorter; an empty file is one empty chunk), each sealed with AES-256-GCM under the data key as
 * IV (12, random) | ciphertext | tag (16), with AAD "<doc id>:<index>" for every chunk but the last and
 * "<doc id>:<index>:final" for the last: a chunk cannot be moved to another document or position, and a
 * truncated content (a missing final chunk) fails to authenticate. Where the chunks live is the store's
 * (store.h: documents). Plaintext buffers are wiped before they are freed.
 *
 * Deletion sets sealed_dek to NULL and removes the chunks in one write transaction; the metadata row
 * stays (deleted_at), but reads answer KW_ERR_NOT_FOUND for it. */
#ifndef KW_DOMAIN_DOCUMENTS_H
#define KW_DOMAIN_DOCUMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"
#include "domain/app.h"
#include "domain/auth.h"
#include "store/store.h"

#define KW_DOC_CHUNK_SIZE (256 * 1024)                /* plaintext bytes per chunk */
#define KW_DOC_CHUNK_OVERHEAD 28                      /* IV (12) + tag (16) */
#define KW_DOC_REC_SIZE (KW_DOC_CHUNK_SIZE + KW_DOC_CHUNK_OVERHEAD) /* one stored chunk, at most */
#define KW_DOC_LIST_MAX 201                            /* items one list call may ask for */

struct kw_doc_ingest {            /* all borrowed */
    const char *filename;          /* from the file part's Content-Disposition; may be "" */
    const char *media_type;        /* sniffed by h-ingest (core/sniff.h), never the client's */
    const char *metadata_json;     /* the metadata part as sent (already validated by api/) */
    const char *source_tag, *external_id, *document_category, *department; /* from metadata */
    const char *approver_department; /* X-Approver-Department */
    const char *idempotency_key;   /* "" when none */
    const uint8_t *request_hash;   /* 32 bytes: the request's identity (idempotency); may be NULL
                                      when idempotency_key is "" (zeros are stored: nothing compares) */
    const uint8_t *data;           /* the file's bytes (points into the request body, no copy) */
    size_t len;
    const uint8_t *data_sha256;    /* NULL, or 32 bytes: the caller's SHA-256 of data (not hashed again);
                                      NULL: hashed here, on SQLite chunk by chunk as it is encrypted */
    int release_data;              /* 1: data lies in a MAP_SHARED file mapping (core/pages.h): its
                                      pages are given back as they are read */
};
/* Encrypts and stores one document for p's service, audited as document.ingest under the service
 * user and credential. *replayed = 1 when the idempotency key matched an earlier ingest with the
 * same request hash (out = that document). KW_ERR_CONFLICT + *conflict "IDEMPOTENCY_KEY_REUSED" when
 * the key came with a different body.
 * Also: KW_ERR_INVALID when p has no service (root, a person) or a text field is NULL-less garbage;
 * KW_ERR_TOO_LARGE when a text field does not fit struct kw_document (filename and the metadata fields
 * 255 bytes, metadata_json 4095, idempotency_key 255, media_type 31). The audit event's detail carries
 * {"credentialId","credentialType"} and its target is the document (type "document", id doc_...). */
enum kw_err kw_documents_ingest(struct kw_app *app, const struct kw_principal *p,
                                const struct kw_doc_ingest *in, struct kw_document *out,
                                int *replayed, const char **conflict);

/* The SHA-256 of data[0..len) into out; with release, data lies in a shared file mapping and its pages
 * are given back (core/pages.h) a MiB at a time as they are hashed, so hashing a large upload does not
 * make it resident. */
enum kw_err kw_documents_sha256(const uint8_t *data, size_t len, int release, uint8_t out[32]);

/* A live document by id (KW_ERR_NOT_FOUND when missing or deleted). */
enum kw_err kw_documents_get(struct kw_app *app, const char *id, struct kw_document *out);
/* A page of live documents matching f (f->service_id required), ascending seq; cap <= KW_DOC_LIST_MAX. */
enum kw_err kw_documents_list(struct kw_app *app, const struct kw_document_filter *f, struct kw_document *items,
                              size_t cap, size_t *n);
/* Crypto-shreds a live document (audited as document.delete by actor on the document's service).
 * KW_ERR_NOT_FOUND when missing or already deleted. */
enum kw_err kw_documents_delete(struct kw_app *app, const struct kw_actor *actor, const char *id);

/* The content, decrypted chunk by chunk. open checks the document is live and opens its data key;
 * next (callable from any thread, one call at a time; each call that needs a chunk reads it in its own
 * read transaction) writes up to cap bytes into buf, *done = 1 after the final chunk's last byte. A
 * chunk that fails to authenticate, a missing chunk, or content shorter or longer than the row says ->
 * KW_ERR_MALFORMED (nothing of that chunk was handed out). free wipes the key and buffers (NULL: no-op). */
struct kw_doc_reader;
enum kw_err kw_documents_open(struct kw_app *app, const char *id, struct kw_document *out,
                              struct kw_doc_reader **reader);
enum kw_err kw_doc_reader_next(struct kw_doc_reader *r, char *buf, size_t cap, size_t *len, int *done);
void kw_doc_reader_free(struct kw_doc_reader *r);

/* 1 if s could be a document id (doc_ + 16 base62). */
int kw_documents_id_valid(const char *s);

#endif
