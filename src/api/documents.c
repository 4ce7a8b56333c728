/* documents.c (api/) - the document routes: the shared renderer (api/documents.h), and GET
 * /api/v1/documents, GET /api/v1/documents/{documentId}, GET .../content and DELETE (docs/documents.md). */
#include "api/documents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/ids.h"
#include "core/timeutil.h"
#include "domain/commit_internal.h"
#include "domain/documents.h"

json_t *kw_api_render_document(const struct kw_document *d)
{
    json_t *meta = json_loads(d->metadata, JSON_REJECT_DUPLICATES, NULL);

    if (meta == NULL || !json_is_object(meta)) {
        json_decref(meta);
        meta = json_object();
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:s, s:o, s:s, s:o}", "id", d->id, "serviceId",
                     d->service_id, "serviceUserId",
                     d->service_user_id[0] != '\0' ? json_string(d->service_user_id) : json_null(), "credentialId",
                     d->credential_id, "filename", d->filename, "mediaType", d->media_type, "size",
                     (json_int_t)d->size, "sha256", d->sha256, "metadata", meta, "approverDepartment",
                     d->approver_department, "createdAt", kw_api_time_json(d->created_at));
}

/* ---- who may: integrators by permission on their own service, people by role on the document's ---- */

enum doc_need { NEED_READ, NEED_DOWNLOAD, NEED_DELETE };

static int is_integrator(const struct kw_api_ctx *c)
{
    return c->principal.kind == KW_PRINCIPAL_KEY || c->principal.kind == KW_PRINCIPAL_SERVICE_USER;
}

/* 1 if the caller may do need on service_id; otherwise answers (403, or 404 for a non-member so that
 * the existence of a service or document is not revealed) and returns 0. */
static int may(struct kw_api_ctx *c, struct kw_api_res *res, const char *service_id, enum doc_need need)
{
    char role[16];

    if (is_integrator(c)) {
        uint32_t perm = need == NEED_DELETE ? KW_PERM_DOCUMENTS_WRITE : KW_PERM_DOCUMENTS_READ;
        if (strcmp(c->principal.service_id, service_id) != 0) {
            kw_api_fail(c, res, 404, "DOCUMENT_NOT_FOUND", "No such document.", NULL);
            return 0;
        }
        if (!kw_auth_allows(&c->principal, service_id, perm)) {
            kw_api_fail(c, res, 403, "FORBIDDEN",
                        need == NEED_DELETE ? "This credential lacks the documents:write permission."
                                            : "This credential lacks the documents:read permission.",
                        NULL);
            return 0;
        }
        return 1;
    }
    if (kw_auth_service_role(c->app, &c->principal, service_id, role) != KW_OK) {
        kw_api_fail_err(c, res, KW_ERR_STORE, "document", NULL, NULL);
        return 0;
    }
    if (role[0] == '\0') {
        kw_api_fail(c, res, 404, "DOCUMENT_NOT_FOUND", "No such document (or you are not a member of its service).",
                    NULL);
        return 0;
    }
    if (need != NEED_READ && strcmp(role, "viewer") == 0) {
        kw_api_fail(c, res, 403, "FORBIDDEN",
                    need == NEED_DELETE ? "Only the service's operators and admins delete documents."
                                        : "Only the service's operators and admins download documents.",
                    NULL);
        return 0;
    }
    return 1;
}

static void audit_read(struct kw_api_ctx *c, const char *action, const char *id, const char *service_id)
{
    kw_domain_audit_async(c->app, &c->actor, action, id != NULL ? "document" : NULL, id, service_id, "success",
                          NULL);
    c->audited = 1;
}

/* The live document of the path (param 0) the caller may see with need; 0 after answering. */
static int load(struct kw_api_ctx *c, struct kw_api_res *res, enum doc_need need, struct kw_document *d)
{
    enum kw_err err = kw_documents_get(c->app, c->params[0], d);

    if (err == KW_ERR_NOT_FOUND) {
        kw_api_fail(c, res, 404, "DOCUMENT_NOT_FOUND", "No such document.", NULL);
        return 0;
    }
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "document", NULL, NULL);
        return 0;
    }
    return may(c, res, d->service_id, need);
}

/* ---- GET /api/v1/documents ---- */

static json_t *render_item(const void *item, int64_t now_ms)
{
    return kw_api_render_document(item);
}

/* A text filter of the query (at most 255 bytes); 0 after answering 400. */
static int text_filter(struct kw_api_ctx *c, struct kw_api_res *res, const char *name, char out[KW_DOC_FIELD_MAX])
{
    char detail[128];
    int r = kw_api_query(c->req, name, out, KW_DOC_FIELD_MAX);

    if (r >= 0)
        return 1;
    snprintf(detail, sizeof(detail), "Query parameter \"%s\" must be at most 255 bytes, percent-encoded.", name);
    kw_api_fail(c, res, 400, "INVALID_QUERY", detail, name);
    return 0;
}

static int time_filter(struct kw_api_ctx *c, struct kw_api_res *res, const char *name, int64_t *out)
{
    char v[64], detail[128];
    int r = kw_api_query(c->req, name, v, sizeof(v));

    *out = 0;
    if (r == 0)
        return 1;
    if (r > 0 && kw_time_parse(v, out) == KW_OK && *out > 0)
        return 1;
    snprintf(detail, sizeof(detail), "Query parameter \"%s\" must be an RFC 3339 date-time.", name);
    kw_api_fail(c, res, 400, "INVALID_QUERY", detail, name);
    return 0;
}

void kw_api_documents_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    char svc[KW_API_PARAM_MAX] = "", tag[KW_DOC_FIELD_MAX] = "", ext[KW_DOC_FIELD_MAX] = "",
         cat[KW_DOC_FIELD_MAX] = "", dep[KW_DOC_FIELD_MAX] = "", su[KW_DOC_FIELD_MAX] = "";
    struct kw_document_filter f = {0};
    struct kw_document *items;
    size_t limit, n = 0;
    enum kw_err err;
    int r;

    r = kw_api_query(c->req, "serviceId", svc, sizeof(svc));
    if (r < 0 || (r > 0 && !kw_id_valid(svc, "svc"))) {
        kw_api_fail(c, res, 400, "INVALID_QUERY", "Query parameter \"serviceId\" must be a service id.",
                    "serviceId");
        return;
    }
    if (is_integrator(c)) {
        if (svc[0] != '\0' && strcmp(svc, c->principal.service_id) != 0) {
            kw_api_fail(c, res, 403, "FORBIDDEN", "An integrator credential lists its own service's documents.",
                        "serviceId");
            return;
        }
        snprintf(svc, sizeof(svc), "%s", c->principal.service_id);
    } else if (svc[0] == '\0') {
        kw_api_fail(c, res, 400, "INVALID_QUERY", "People list a service's documents: pass ?serviceId=.",
                    "serviceId");
        return;
    }
    if (!text_filter(c, res, "source_tag", tag) || !text_filter(c, res, "external_id", ext) ||
        !text_filter(c, res, "document_category", cat) || !text_filter(c, res, "department", dep) ||
        !text_filter(c, res, "serviceUserId", su) || !time_filter(c, res, "since", &f.since) ||
        !time_filter(c, res, "until", &f.until) || !kw_api_page(c, res, &limit, &f.after_seq))
        return;
    if (!may(c, res, svc, NEED_READ))
        return;
    f.service_id = svc;
    f.source_tag = tag;
    f.external_id = ext;
    f.document_category = cat;
    f.department = dep;
    f.service_user_id = su;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "document", NULL, NULL);
        return;
    }
    err = kw_documents_list(c->app, &f, items, limit + 1, &n);
    if (err != KW_OK) {
        free(items);
        kw_api_fail_err(c, res, err, "document", NULL, NULL);
        return;
    }
    kw_api_page_reply(res, items, sizeof(*items), n, limit, render_item, c->req->now_ms);
    free(items);
    audit_read(c, "document.list", NULL, svc);
}

/* ---- GET /api/v1/documents/{documentId} ---- */

void kw_api_documents_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_document d;

    if (!load(c, res, NEED_READ, &d))
        return;
    kw_api_json(res, 200, kw_api_render_document(&d));
    audit_read(c, "document.read", d.id, d.service_id);
}

/* ---- GET /api/v1/documents/{documentId}/content ---- */

/* The sniffed types keyward stores (core/sniff.h), as static strings for res->content_type. */
static const char *static_type(const char *t)
{
    static const char *const known[] = {"application/pdf", "image/png",  "image/jpeg", "image/tiff",
                                        "image/heic",      "image/heif", "image/webp", "image/gif"};
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(t, known[i]) == 0)
            return known[i];
    return "application/octet-stream";
}

/* The filename for Content-Disposition: printable ASCII but quote, backslash, slash and controls
 * (each replaced by '_'), at most 150 bytes; the document id when nothing is left. */
static void safe_filename(const struct kw_document *d, char *out, size_t cap)
{
    size_t i, n = 0;

    for (i = 0; d->filename[i] != '\0' && n + 1 < cap && n < 150; i++) {
        unsigned char ch = (unsigned char)d->filename[i];
        out[n++] = (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\' || ch == '/' || ch == ';') ? '_' : (char)ch;
    }
    out[n] = '\0';
    if (n == 0 || strspn(out, "._ ") == n)
        snprintf(out, cap, "%s", d->id);
}

static enum kw_err content_next(void *ctx, char *buf, size_t cap, size_t *len, int *done)
{
    return kw_doc_reader_next(ctx, buf, cap, len, done);
}

static void content_free(void *ctx)
{
    kw_doc_reader_free(ctx);
}

void kw_api_documents_content(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_doc_reader *r = NULL;
    struct kw_document d;
    char name[160];
    enum kw_err err;

    if (!load(c, res, NEED_DOWNLOAD, &d))
        return;
    err = kw_documents_open(c->app, d.id, &d, &r);
    if (err == KW_ERR_NOT_FOUND) {
        kw_api_fail(c, res, 404, "DOCUMENT_NOT_FOUND", "No such document.", NULL);
        return;
    }
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err == KW_ERR_MALFORMED ? KW_ERR_INTERNAL : err, "document", NULL, NULL);
        return;
    }
    safe_filename(&d, name, sizeof(name));
    res->status = 200;
    res->content_type = static_type(d.media_type);
    res->stream.next = content_next;
    res->stream.free = content_free;
    res->stream.ctx = r;
    res->stream.content_length = d.size;
    kw_api_header(res, "Content-Disposition", "attachment; filename=\"%s\"", name);
    kw_api_header_str(res, "X-Content-Type-Options", "nosniff");
    kw_api_header_str(res, "Cache-Control", "no-store");
    audit_read(c, "document.content.read", d.id, d.service_id);
}

/* ---- DELETE /api/v1/documents/{documentId} ---- */

void kw_api_documents_delete(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_document d;
    enum kw_err err;

    if (!load(c, res, NEED_DELETE, &d))
        return;
    err = kw_documents_delete(c->app, &c->actor, d.id);
    if (err == KW_ERR_NOT_FOUND) {
        kw_api_fail(c, res, 404, "DOCUMENT_NOT_FOUND", "No such document.", NULL);
        return;
    }
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "document", NULL, NULL);
        return;
    }
    kw_api_json(res, 204, NULL);
}
