/* api.h - keyward's HTTP API, independent of the HTTP server library.
 *
 * http/ turns each h2o request into a struct kw_api_req (borrowed pointers into h2o's buffers),
 * calls kw_api_handle, and writes struct kw_api_res back. api/ does routing, authentication
 * (through domain/auth.h), authorisation, JSON parsing and rendering; it never includes h2o. */
#ifndef KW_API_API_H
#define KW_API_API_H

#include <stddef.h>
#include <stdint.h>

#include "domain/app.h"
#include "domain/httpsig.h"

#define KW_API_MAX_RES_HEADERS 8
#define KW_API_HEADER_VALUE_MAX 256

struct kw_api_req {
    const char *method;
    size_t method_len;
    const char *path; /* without the query */
    size_t path_len;
    const char *query; /* after '?', or NULL */
    size_t query_len;
    const char *body; /* NULL when there is none */
    size_t body_len;
    int body_file_mapped; /* 1: body lies in a MAP_SHARED file mapping (an ingest's, http/bodypages.c):
                             pages already read may be given back with kw_pages_release */
    const char *content_type; /* NULL when absent */
    size_t content_type_len;
    const char *authorization; /* raw Authorization header (the first), or NULL */
    size_t authorization_len;
    const char *api_key; /* X-API-Key (the first), or NULL */
    size_t api_key_len;
    unsigned authorization_count; /* how many Authorization headers came (more than 1 is refused) */
    unsigned api_key_count;       /* how many X-API-Key headers came */
    const char *cookie; /* raw Cookie header, or NULL */
    size_t cookie_len;
    const char *csrf; /* X-CSRF-Token, or NULL */
    size_t csrf_len;
    const char *encryption_key; /* X-Keyward-Encryption-Key (the first), or NULL (domain/enckeys.h) */
    size_t encryption_key_len;
    unsigned encryption_key_count;
    /* POST /api/v1/ingest's headers (api/documents_ingest.c): the first of each, NULL when absent; the
     * counts say how many lines came (a repeated one is refused as ambiguous). */
    const char *approver_department; /* X-Approver-Department */
    size_t approver_department_len;
    const char *idempotency_key; /* Idempotency-Key */
    size_t idempotency_key_len;
    unsigned approver_department_count, idempotency_key_count;
    const char *authority; /* Host (HTTP/1.1) or :authority, or NULL */
    size_t authority_len;
    const char *scheme;    /* "http" or "https" (static) */
    /* Every request header, only when the request carries Signature or Signature-Input (RFC 9421 needs
     * any field the signature covers); NULL / 0 otherwise. Names in lower case. */
    const struct kw_httpsig_field *fields;
    size_t nfields;
    const char *ip;         /* peer address as text */
    const char *request_id; /* already chosen by http/ */
    int64_t now_ms;
};

struct kw_api_header {
    const char *name; /* static string */
    char value[KW_API_HEADER_VALUE_MAX];
};

/* A body produced in pieces (exports, a document's content): api/ sets stream.next instead of body.
 * http/ calls next() on a pool thread, one call at a time, until *done; each call writes at most cap
 * bytes into buf and sets *len (0 is allowed only with *done). A non-KW_OK return after the headers
 * went out aborts the response (the connection is closed, so the client sees a truncated body, never
 * a complete-looking one). stream.free(ctx) is called exactly once, after the last next() or when the
 * client went away. content_length >= 0 is sent as Content-Length, -1 means chunked.
 * (http/stream.c: next() runs on a pool thread and may read the store; free() runs on the event loop
 * or in kw_api_res_cleanup and must not wait on anything. A HEAD request never calls next(). A
 * response whose stream is still set when kw_api_res_cleanup runs -- replaced by a problem, or never
 * sent -- has it freed there.) */
struct kw_api_stream {
    enum kw_err (*next)(void *ctx, char *buf, size_t cap, size_t *len, int *done);
    void (*free)(void *ctx);
    void *ctx;
    int64_t content_length;
};

struct kw_api_res {
    int status;
    const char *content_type; /* static string; NULL = no body */
    char *body;               /* malloc'd; freed by kw_api_res_cleanup */
    size_t body_len;
    struct kw_api_stream stream; /* stream.next != NULL: streamed body (body unused) */
    struct kw_api_header headers[KW_API_MAX_RES_HEADERS];
    size_t nheaders;
    const char *route;  /* route template for metrics ("/api/v1/keys/{keyId}"), never NULL after handle */
    int verify_code;    /* enum kw_verify_code of a verification, or -1 */
    char audit_service_id[KW_ID_MAX]; /* a verification: the verified key's service, for its audit event */
};

/* Reason phrase / problem title of an HTTP status ("Not Found"). Never NULL. */
const char *kw_api_status_title(int status);

void kw_api_handle(struct kw_app *app, const struct kw_api_req *req, struct kw_api_res *res);
void kw_api_res_cleanup(struct kw_api_res *res);

/* Problem responses http/ needs before routing (limits), with the same shape as api's own. */
void kw_api_problem(struct kw_api_res *res, int status, const char *code, const char *detail,
                    const char *field, const char *request_id);

#endif
