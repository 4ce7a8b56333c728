/* respond.c - building responses: JSON bodies, RFC 9457 problems, headers, kw_err -> HTTP. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/log.h"

void kw_api_res_cleanup(struct kw_api_res *res)
{
    if (res->stream.next != NULL && res->stream.free != NULL)
        res->stream.free(res->stream.ctx);
    memset(&res->stream, 0, sizeof(res->stream));
    free(res->body);
    res->body = NULL;
    res->body_len = 0;
}

void kw_api_header(struct kw_api_res *res, const char *name, const char *fmt, ...)
{
    va_list ap;

    if (res->nheaders >= KW_API_MAX_RES_HEADERS)
        return;
    res->headers[res->nheaders].name = name;
    va_start(ap, fmt);
    vsnprintf(res->headers[res->nheaders].value, KW_API_HEADER_VALUE_MAX, fmt, ap);
    va_end(ap);
    res->nheaders++;
}

void kw_api_header_str(struct kw_api_res *res, const char *name, const char *value)
{
    size_t n = strnlen(value, KW_API_HEADER_VALUE_MAX - 1);

    if (res->nheaders >= KW_API_MAX_RES_HEADERS)
        return;
    res->headers[res->nheaders].name = name;
    memcpy(res->headers[res->nheaders].value, value, n);
    res->headers[res->nheaders].value[n] = '\0';
    res->nheaders++;
}

void kw_api_json(struct kw_api_res *res, int status, json_t *body)
{
    kw_api_res_cleanup(res);
    res->status = status;
    res->content_type = NULL;
    if (body == NULL)
        return;
    res->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (res->body == NULL) {
        res->status = 500;
        return;
    }
    res->body_len = strlen(res->body);
    res->content_type = "application/json";
}

const char *kw_api_status_title(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

void kw_api_problem(struct kw_api_res *res, int status, const char *code, const char *detail, const char *field,
                    const char *request_id)
{
    char type[96];
    json_t *p;

    snprintf(type, sizeof(type), "urn:keyward:problem:%s", code);
    p = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", kw_api_status_title(status), "status", status,
                  "detail", detail, "code", code);
    if (p != NULL && request_id != NULL)
        json_object_set_new(p, "requestId", json_string(request_id));
    if (p != NULL && field != NULL)
        json_object_set_new(p, "field", json_string(field));
    kw_api_json(res, status, p);
    res->status = status;
    if (res->body != NULL)
        res->content_type = "application/problem+json";
}

void kw_api_fail(struct kw_api_ctx *c, struct kw_api_res *res, int status, const char *code, const char *detail,
                 const char *field)
{
    kw_api_problem(res, status, code, detail, field, c->req->request_id);
}

/* 1 if s can stand in a JSON string as it is (printable ASCII, no quote or backslash). */
static int json_plain(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
            return 0;
    return 1;
}

static size_t put(char *out, size_t at, const char *s)
{
    size_t n = strlen(s);

    memcpy(out + at, s, n);
    return at + n;
}

void kw_api_problem_plain(struct kw_api_res *res, int status, const char *code, const char *detail,
                          const char *request_id)
{
    const char *title = kw_api_status_title(status);
    char num[4] = {(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10), (char)('0' + status % 10), 0};
    size_t cap = 128 + 2 * strlen(code) + strlen(title) + strlen(detail) + (request_id ? strlen(request_id) : 0), at = 0;
    char *b;

    if (status < 100 || status > 599 || !json_plain(code) || !json_plain(detail) || !json_plain(title) ||
        (request_id != NULL && !json_plain(request_id)) || (b = malloc(cap)) == NULL) {
        kw_api_problem(res, status, code, detail, NULL, request_id);
        return;
    }
    kw_api_res_cleanup(res);
    at = put(b, at, "{\"type\":\"urn:keyward:problem:");
    at = put(b, put(b, put(b, put(b, at, code), "\",\"title\":\""), title), "\",\"status\":");
    at = put(b, put(b, put(b, at, num), ",\"detail\":\""), detail);
    at = put(b, put(b, put(b, at, "\",\"code\":\""), code), "\"");
    if (request_id != NULL)
        at = put(b, put(b, put(b, at, ",\"requestId\":\""), request_id), "\"");
    at = put(b, at, "}");
    b[at] = '\0';
    res->body = b;
    res->body_len = at;
    res->status = status;
    res->content_type = "application/problem+json";
}

static const struct {
    const char *code, *detail;
} conflicts[] = {
    {"KEY_REVOKED", "The key is revoked; revocation is permanent. Create a new key."},
    {"KEY_ROLLED", "The key was rolled: its expiry is the roll's grace period and cannot be changed."},
    {"KEY_ALREADY_ROLLED", "The key was rolled already; a key has one successor. Roll the new key instead."},
    {"KEY_EXPIRED", "The key has expired and cannot be rolled. Create a new key."},
    {"SERVICE_HAS_LIVE_KEYS", "The service still has live keys: revoke them, or delete with ?force=true."},
    {"LAST_SYSADMIN", "This is the last enabled System Administrator: make another one first."},
    {"INVALID_CREDENTIALS", "The current password is wrong."},
    {"SOURCE_SYSTEM_TAKEN", "The service already has a service user for this source system."},
    {"PERMISSION_NOT_HELD", "A credential cannot have a permission its service user does not hold."},
    {"SERVICE_USER_DISABLED", "The service user is disabled: enable it first."},
    {"REF_ID_TAKEN", "The service already has a candidate with this refId."},
    {"RECORD_ARCHIVED", "The candidate is archived: its data is gone and it cannot change."},
    {"WEBHOOK_LIMIT", "A service has at most 20 webhooks: delete one first."},
    {"ACCESS_KEY_LIMIT", "A service user has at most 2 active access keys: disable or delete one first."},
    {"IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used for a different upload (another file, filename, "
                               "metadata or approver department); use a new key for a new document."},
};

const char *kw_api_conflict_detail(const char *code)
{
    size_t i;

    for (i = 0; code != NULL && i < sizeof(conflicts) / sizeof(conflicts[0]); i++) {
        if (strcmp(conflicts[i].code, code) == 0)
            return conflicts[i].detail;
    }
    return NULL;
}

/* The one table from kw_err to HTTP. */
void kw_api_fail_err(struct kw_api_ctx *c, struct kw_api_res *res, enum kw_err err, const char *what,
                     const char *conflict_code, const char *conflict_detail)
{
    char detail[128];

    switch (err) {
    case KW_ERR_NOT_FOUND:
        snprintf(detail, sizeof(detail), "No such %s.", what);
        kw_api_fail(c, res, 404, "NOT_FOUND", detail, NULL);
        return;
    case KW_ERR_CONFLICT:
        kw_api_fail(c, res, 409, conflict_code ? conflict_code : "CONFLICT",
                    conflict_detail ? conflict_detail : "The object's state does not allow this.", NULL);
        return;
    case KW_ERR_INVALID:
        kw_api_fail(c, res, 400, "INVALID_FIELD", "A field is not valid.", NULL);
        return;
    case KW_ERR_TOO_LARGE:
        kw_api_fail(c, res, 413, "BODY_TOO_LARGE", "Too large.", NULL);
        return;
    case KW_ERR_UNAUTHORIZED:
        kw_api_fail(c, res, 401, "UNAUTHENTICATED", "The credential was not accepted.", NULL);
        return;
    case KW_ERR_RETRY:
        kw_api_header(res, "Retry-After", "1");
        kw_api_fail(c, res, 503, "STORE_UNAVAILABLE", "The store is busy; try again in a second.", NULL);
        return;
    default:
        kw_log_error("request failed", "request_id=%s err=%s", c->req->request_id, kw_err_str(err));
        kw_api_fail(c, res, 500, "INTERNAL", "Internal error; the log has details under this request id.", NULL);
        return;
    }
}
