/* documents_ingest.c - POST /api/v1/ingest (seed 002): an integrator credential with documents:write
 * uploads one document as multipart/form-data, parts "file" (the bytes, with a filename) and "metadata"
 * (a JSON object of source_tag, external_id, document_category, department), with the header
 * X-Approver-Department and optionally Idempotency-Key. The media type is sniffed from the bytes
 * (core/sniff.h); storage and encryption are domain/documents.h's. The file's bytes are never copied
 * here: they point into the request body, which http/ hands over without a copy (http/offloop.c).
 *
 * Idempotency: the key names one ingest of the service; the request it came with is identified by a
 * SHA-256 over the parts' content (filename, metadata as sent, approver department, the file's own
 * SHA-256), not over the raw body, because curl and browsers pick a new multipart boundary for every
 * attempt: a retried upload of the same file with the same key is a replay (201, the first answer's
 * body, Idempotent-Replayed: true), the same key with anything else different is 409
 * IDEMPOTENCY_KEY_REUSED. */
#include <stdio.h>
#include <string.h>

#include "api/documents.h"
#include "api/internal.h"
#include "api/multipart.h"
#include "core/pages.h"
#include "core/sniff.h"
#include "core/utf8.h"
#include "crypto/crypto.h"
#include "domain/documents.h"

#define APPROVER_MAX 128 /* X-Approver-Department bytes */
#define IDEM_KEY_MAX 255 /* Idempotency-Key bytes */
#define META_FIELD_MAX (KW_DOC_FIELD_MAX - 1)
#define META_MAX (KW_DOC_METADATA_MAX - 1)

static const char *const meta_fields[] = {"source_tag", "external_id", "document_category", "department",
                                          NULL};

struct ingest {
    struct kw_doc_ingest in;
    char approver[APPROVER_MAX + 1];
    char idem[IDEM_KEY_MAX + 1];
    char meta[META_MAX + 1];
    const char *fields[4]; /* meta_fields' values, inside the parsed metadata object */
    const struct kw_multipart_part *file;
};

/* Visible ASCII and inner spaces (h2o trims the ends), 1..max bytes. */
static int header_text_ok(const char *v, size_t len, size_t max, int allow_space)
{
    size_t i;

    if (len == 0 || len > max)
        return 0;
    for (i = 0; i < len; i++)
        if (v[i] < (allow_space ? 0x20 : 0x21) || v[i] > 0x7e)
            return 0;
    return 1;
}

/* X-Approver-Department (required) and Idempotency-Key (optional), copied into g. */
static int read_headers(struct kw_api_ctx *c, struct kw_api_res *res, struct ingest *g)
{
    const struct kw_api_req *q = c->req;

    if (q->approver_department_count > 1 || q->idempotency_key_count > 1) {
        const char *h = q->approver_department_count > 1 ? "X-Approver-Department" : "Idempotency-Key";
        kw_api_fail(c, res, 400, "INVALID_HEADER",
                    q->approver_department_count > 1 ? "Send X-Approver-Department once."
                                                     : "Send Idempotency-Key once.",
                    h);
        return 0;
    }
    if (q->approver_department == NULL || q->approver_department_len == 0) {
        kw_api_fail(c, res, 400, "MISSING_HEADER",
                    "Send the X-Approver-Department header: the department that approved this upload.",
                    "X-Approver-Department");
        return 0;
    }
    if (!header_text_ok(q->approver_department, q->approver_department_len, APPROVER_MAX, 1)) {
        kw_api_fail(c, res, 400, "INVALID_HEADER",
                    "X-Approver-Department must be 1 to 128 printable ASCII characters.",
                    "X-Approver-Department");
        return 0;
    }
    memcpy(g->approver, q->approver_department, q->approver_department_len);
    g->approver[q->approver_department_len] = '\0';
    if (q->idempotency_key != NULL) {
        if (!header_text_ok(q->idempotency_key, q->idempotency_key_len, IDEM_KEY_MAX, 1)) {
            kw_api_fail(c, res, 400, "INVALID_HEADER",
                        "Idempotency-Key must be 1 to 255 printable ASCII characters.", "Idempotency-Key");
            return 0;
        }
        memcpy(g->idem, q->idempotency_key, q->idempotency_key_len);
        g->idem[q->idempotency_key_len] = '\0';
    }
    return 1;
}

/* The parts: exactly one "file" and one "metadata", nothing else. */
static int read_parts(struct kw_api_ctx *c, struct kw_api_res *res, const struct kw_multipart *m,
                      struct ingest *g, const struct kw_multipart_part **meta)
{
    static const char *const names[] = {"file", "metadata"};
    char detail[160];
    size_t i;
    int n;

    for (i = 0; i < m->n; i++) {
        if (strcmp(m->parts[i].name, "file") != 0 && strcmp(m->parts[i].name, "metadata") != 0) {
            if (!kw_utf8_valid(m->parts[i].name, strlen(m->parts[i].name)) ||
                strcspn(m->parts[i].name, "\"\\") != strlen(m->parts[i].name)) {
                kw_api_fail(c, res, 400, "UNKNOWN_PART",
                            "Only the parts \"file\" and \"metadata\" are accepted.", NULL);
                return 0;
            }
            snprintf(detail, sizeof(detail),
                     "Unknown part \"%s\": only \"file\" and \"metadata\" are accepted.", m->parts[i].name);
            kw_api_fail(c, res, 400, "UNKNOWN_PART", detail, m->parts[i].name);
            return 0;
        }
    }
    for (i = 0; i < 2; i++) {
        kw_multipart_get(m, names[i], &n);
        if (n == 1)
            continue;
        snprintf(detail, sizeof(detail),
                 n == 0 ? "The multipart body has no \"%s\" part."
                        : "The multipart body has more than one \"%s\" part.",
                 names[i]);
        kw_api_fail(c, res, 400, n == 0 ? "MISSING_PART" : "DUPLICATE_PART", detail, names[i]);
        return 0;
    }
    g->file = kw_multipart_get(m, "file", NULL);
    *meta = kw_multipart_get(m, "metadata", NULL);
    if (!kw_utf8_valid(g->file->filename, strlen(g->file->filename)) ||
        strpbrk(g->file->filename,
                "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13"
                "\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f") != NULL) {
        kw_api_fail(c, res, 400, "INVALID_FILENAME",
                    "The file part's filename must be UTF-8 without control characters (at most 255 bytes).",
                    "filename");
        return 0;
    }
    return 1;
}

/* A problem about the metadata part or one of its fields (field NULL: the part itself), naming it as
 * "metadata" or "metadata.<field>". */
static int meta_fail(struct kw_api_ctx *c, struct kw_api_res *res, const char *code, const char *fmt,
                     const char *field)
{
    char detail[200], name[80];

    snprintf(detail, sizeof(detail), fmt, field != NULL ? field : "metadata");
    snprintf(name, sizeof(name), field != NULL ? "metadata.%s" : "metadata", field);
    kw_api_fail(c, res, 400, code, detail, name);
    return 0;
}

/* The metadata part: a JSON object whose members are exactly the four fields, each a string of 1..255
 * bytes without control characters. *obj is the parsed object (the caller drops it). */
static int read_metadata(struct kw_api_ctx *c, struct kw_api_res *res, const struct kw_multipart_part *part,
                         struct ingest *g, json_t **obj)
{
    json_error_t jerr;
    const char *k;
    json_t *v;
    size_t i;

    if (part->len > META_MAX)
        return meta_fail(c, res, "INVALID_METADATA", "The %s part is at most 4095 bytes of JSON.", NULL);
    memcpy(g->meta, part->data, part->len);
    g->meta[part->len] = '\0';
    *obj = json_loadb(g->meta, part->len, JSON_REJECT_DUPLICATES, &jerr);
    if (*obj == NULL || !json_is_object(*obj))
        return meta_fail(c, res, "BAD_METADATA_JSON",
                         "The %s part must be a JSON object (source_tag, external_id, document_category, "
                         "department).",
                         NULL);
    json_object_foreach(*obj, k, v)
    {
        for (i = 0; meta_fields[i] != NULL && strcmp(meta_fields[i], k) != 0; i++)
            ;
        if (meta_fields[i] != NULL)
            continue;
        if (strlen(k) > 64 || strcspn(k, "\"\\") != strlen(k) || !kw_utf8_valid(k, strlen(k)))
            return meta_fail(c, res, "UNKNOWN_FIELD", "The %s part has an unknown field.", NULL);
        return meta_fail(
            c, res, "UNKNOWN_FIELD",
            "Unknown metadata field \"%s\": the fields are source_tag, external_id, document_category "
            "and department.",
            k);
    }
    for (i = 0; meta_fields[i] != NULL; i++) {
        const char *s;
        size_t len;
        v = json_object_get(*obj, meta_fields[i]);
        if (v == NULL)
            return meta_fail(c, res, "MISSING_FIELD", "The metadata field \"%s\" is required.",
                             meta_fields[i]);
        if (!json_is_string(v))
            return meta_fail(c, res, "INVALID_FIELD", "The metadata field \"%s\" must be a string.",
                             meta_fields[i]);
        s = json_string_value(v);
        len = json_string_length(v);
        if (len == 0 || len > META_FIELD_MAX || strlen(s) != len)
            return meta_fail(c, res, "INVALID_FIELD", "The metadata field \"%s\" must be 1 to 255 bytes.",
                             meta_fields[i]);
        for (size_t j = 0; j < len; j++)
            if ((unsigned char)s[j] < 0x20 || s[j] == 0x7f)
                return meta_fail(c, res, "INVALID_FIELD",
                                 "The metadata field \"%s\" must not contain control characters.",
                                 meta_fields[i]);
        g->fields[i] = s;
    }
    return 1;
}

/* The request's identity for Idempotency-Key: SHA-256 of "keyward-ingest-v1", filename, metadata and
 * approver department (NUL-separated) and the file's SHA-256 (fh, which the domain then stores as the
 * document's digest instead of hashing the file again). Only computed when a key came: without one the
 * domain hashes the file while it encrypts it, in the same pass. */
static enum kw_err request_hash(const struct ingest *g, uint8_t fh[KW_HASH_LEN], uint8_t out[KW_HASH_LEN])
{
    static const char tag[] = "keyward-ingest-v1";
    char pre[sizeof(tag) + KW_MULTIPART_FILENAME_MAX + META_MAX + APPROVER_MAX + 4];
    size_t n = 0, l;
    enum kw_err err = kw_documents_sha256(g->file->data, g->file->len, g->in.release_data, fh);

    if (err != KW_OK)
        return err;
    memcpy(pre, tag, sizeof(tag));
    n = sizeof(tag);
    l = strlen(g->file->filename) + 1;
    memcpy(pre + n, g->file->filename, l);
    n += l;
    l = strlen(g->meta) + 1;
    memcpy(pre + n, g->meta, l);
    n += l;
    l = strlen(g->approver) + 1;
    memcpy(pre + n, g->approver, l);
    n += l;
    return kw_crypto_sha256_2(pre, n, fh, KW_HASH_LEN, out);
}

static void store(struct kw_api_ctx *c, struct kw_api_res *res, struct ingest *g, const char *media_type)
{
    struct kw_document doc;
    uint8_t hash[KW_HASH_LEN], file_hash[KW_HASH_LEN];
    const char *conflict = NULL;
    int replayed = 0;
    enum kw_err err = g->idem[0] != '\0' ? request_hash(g, file_hash, hash) : KW_OK;
    json_t *body;

    g->in.filename = g->file->filename;
    g->in.media_type = media_type;
    g->in.metadata_json = g->meta;
    g->in.source_tag = g->fields[0];
    g->in.external_id = g->fields[1];
    g->in.document_category = g->fields[2];
    g->in.department = g->fields[3];
    g->in.approver_department = g->approver;
    g->in.idempotency_key = g->idem;
    g->in.request_hash = g->idem[0] != '\0' ? hash : NULL;
    g->in.data_sha256 = g->idem[0] != '\0' ? file_hash : NULL; /* else the domain hashes as it encrypts */
    g->in.data = g->file->data;
    g->in.len = g->file->len;
    if (err == KW_OK)
        err = kw_documents_ingest(c->app, &c->principal, &g->in, &doc, &replayed, &conflict);
    if (err == KW_ERR_CONFLICT) {
        kw_api_fail_err(c, res, err, "document", conflict, kw_api_conflict_detail(conflict));
        return;
    }
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "document", NULL, NULL);
        return;
    }
    body = kw_api_render_document(&doc);
    if (body == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "document", NULL, NULL);
        return;
    }
    kw_api_json(res, 201, body);
    kw_api_header(res, "Location", "/api/v1/documents/%s", doc.id);
    if (replayed)
        kw_api_header_str(res, "Idempotent-Replayed", "true");
}

/* kw_multipart_scanned_fn for a body in a shared file mapping (kw_api_req.body_file_mapped). */
static void release_scanned(void *ctx, const uint8_t *from, const uint8_t *to)
{
    (void)ctx;
    kw_pages_release(from, to);
}

void kw_api_documents_ingest(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct ingest g;
    struct kw_multipart m;
    const struct kw_multipart_part *meta = NULL;
    const char *media_type;
    enum kw_multipart_result mr;
    json_t *obj = NULL;

    memset(&g, 0, sizeof(g));
    if (!kw_auth_allows(&c->principal, c->principal.service_id, KW_PERM_DOCUMENTS_WRITE)) {
        kw_api_fail(c, res, 403, "FORBIDDEN", "This credential lacks the documents:write permission.", NULL);
        return;
    }
    if (!read_headers(c, res, &g))
        return;
    mr = kw_multipart_parse_scan(c->req->content_type, c->req->content_type_len, (const uint8_t *)c->req->body,
                                 c->req->body_len, &m, c->req->body_file_mapped ? release_scanned : NULL, NULL);
    if (mr == KW_MULTIPART_NOT_MULTIPART) {
        kw_api_fail(c, res, 415, "UNSUPPORTED_MEDIA_TYPE",
                    "Send the upload as Content-Type: multipart/form-data (curl -F).", NULL);
        return;
    }
    if (mr != KW_MULTIPART_OK) {
        kw_api_fail(c, res, 400, "INVALID_MULTIPART", kw_multipart_reason(mr), NULL);
        return;
    }
    /* a file-mapped body stays out of the resident set: given back as the parser scanned it, and again as
     * the file part is hashed and sealed, chunk by chunk (kw_doc_ingest.release_data) */
    g.in.release_data = c->req->body_file_mapped;
    if (!read_parts(c, res, &m, &g, &meta) || !read_metadata(c, res, meta, &g, &obj))
        goto out;
    media_type = kw_sniff_media_type(g.file->data, g.file->len);
    if (media_type == NULL) {
        kw_api_fail(c, res, 415, "UNSUPPORTED_MEDIA_TYPE",
                    g.file->len == 0 ? "The file is empty."
                                     : "The file is not a PDF, PNG, JPEG, TIFF, HEIC/HEIF, WebP or GIF "
                                       "(judged by its bytes, not its "
                                       "name or declared type).",
                    "file");
        goto out;
    }
    store(c, res, &g, media_type);
out:
    json_decref(obj);
}
