/* records.c - identity records over HTTP: the operator API (/api/v1/services/{serviceId}/candidates...,
 * service members by role) and the integrator API (/api/v1/candidates..., an integrator credential on
 * its own service, fields by scope). See docs/openapi.yaml. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/keys.h"
#include "domain/records.h"

#define PICTURES_PAGE_MAX 10 /* records per page with pictures */

static const char *const create_fields[] = {"refId", "identityId", "attributes", "certificates", NULL};
static const char *const update_fields[] = {"identityId", "attributes", "certificates", NULL};
static const char *const status_fields[] = {"status", "comment", NULL};
static const char *const archive_fields[] = {"refIds", NULL};
static const char *const no_fields[] = {NULL};

/* ---- rendering ---- */

static json_t *str_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

/* The JSON value of text the record holds (an object or array it stored), or fallback. */
static json_t *stored_json(const char *text, size_t len, json_t *fallback)
{
    json_t *v = text != NULL ? json_loadb(text, len, 0, NULL) : NULL;

    if (v == NULL)
        return fallback;
    json_decref(fallback);
    return v;
}

static json_t *base_json(const struct kw_record *r)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:b, s:o, s:o, s:o}", "refId", r->ref_id, "recordId", r->id,
                     "blockPassID", str_or_null(r->identity_id), "identityId", str_or_null(r->identity_id),
                     "status", r->status, "isArchived", r->is_archived, "inreviewDate",
                     kw_api_time_json(r->inreview_date), "waitingDate", kw_api_time_json(r->waiting_date),
                     "approvedDate", kw_api_time_json(r->approved_date));
}

/* The operator's view: attributes only when with_attributes (operator, admin) and not archived. */
static json_t *operator_json(const struct kw_record_view *v, int with_attributes)
{
    const struct kw_record *r = &v->rec;
    json_t *o = base_json(r), *pics = json_array(), *hist = json_array();
    size_t i;

    if (o == NULL || pics == NULL || hist == NULL) {
        json_decref(o);
        json_decref(pics);
        json_decref(hist);
        return NULL;
    }
    json_object_set_new(o, "willArchiveAtDate", kw_api_time_json(r->will_archive_at));
    json_object_set_new(o, "createdAt", kw_api_time_json(r->created_at));
    json_object_set_new(o, "updatedAt", kw_api_time_json(r->updated_at));
    if (with_attributes && !r->is_archived)
        json_object_set_new(o, "attributes", stored_json(v->attributes, v->attributes_len, json_object()));
    for (i = 0; i < v->npictures; i++)
        json_array_append_new(pics, json_pack("{s:s, s:s, s:I}", "name", v->pictures[i].name, "mediaType",
                                              v->pictures[i].media_type, "size", (json_int_t)v->pictures[i].size));
    json_object_set_new(o, "pictures", pics);
    json_object_set_new(o, "certificates",
                        stored_json(r->certificates, r->certificates ? strlen(r->certificates) : 0, json_array()));
    for (i = 0; i < v->nhistory; i++) {
        const struct kw_record_history *h = &v->history[i];
        json_array_append_new(hist, json_pack("{s:o, s:{s:s, s:s}, s:o, s:s, s:o}", "at", kw_api_time_json(h->at),
                                              "actor", "type", h->actor_type, "id", h->actor_id, "from",
                                              str_or_null(h->from_status), "to", h->to_status, "comment",
                                              str_or_null(h->comment)));
    }
    json_object_set_new(o, "history", hist);
    return o;
}

/* The integrator's view by scope (archived: metadata only). */
static json_t *integrator_json(const struct kw_record_view *v, int scope)
{
    const struct kw_record *r = &v->rec;
    json_t *o = base_json(r), *pics;
    size_t i;

    if (o == NULL)
        return NULL;
    if (r->will_archive_at != 0)
        json_object_set_new(o, "willArchiveAtDate", kw_api_time_json(r->will_archive_at));
    if (r->is_archived || scope < KW_SCOPE_ATTRIBUTES)
        return o;
    json_object_set_new(o, "attributes", stored_json(v->attributes, v->attributes_len, json_object()));
    if (scope < KW_SCOPE_ATTRIBUTES_PICTURES)
        return o;
    pics = json_object();
    for (i = 0; pics != NULL && i < v->npictures; i++) {
        size_t n = (size_t)v->pictures[i].size, cap = KW_BASE64_LEN(n);
        char *b64 = v->picture_data[i] != NULL ? malloc(cap) : NULL;
        if (b64 == NULL)
            continue;
        kw_crypto_base64_encode(v->picture_data[i], n, b64, cap);
        json_object_set_new(pics, v->pictures[i].name,
                            json_pack("{s:s, s:s}", "mediaType", v->pictures[i].media_type, "data", b64));
        free(b64);
    }
    json_object_set_new(o, "pictures", pics);
    return o;
}

/* ---- the integrator's answers, attributes spliced in ----
 * A record's attributes are compact JSON text that keyward itself wrote (read_data: a JSON object dumped
 * by jansson) and that AES-GCM authenticated on the way out, so an `attributes`-scope answer copies that
 * text into the body as it is rather than parsing it into a tree and dumping it again (that round trip
 * was about half of a page of 100 in `make bench`). The bytes are the ones the tree would give: the
 * same key order (attributes is the last member at that scope) and the same compact form. Other scopes
 * (and a record whose text does not look like an object) take the tree. */

struct text {
    char *p;
    size_t len, cap;
    int failed;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        char *p;
        while (cap < t->len + n + 1)
            cap *= 2;
        p = realloc(t->p, cap);
        if (p == NULL) {
            t->failed = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* Appends o's compact text (o is released); 0 when it could not be dumped. */
static int text_add_json(struct text *t, json_t *o)
{
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (s == NULL) {
        t->failed = 1;
        return 0;
    }
    text_add(t, s, strlen(s));
    free(s);
    return 1;
}

/* 1 when jansson's compact dump of s is s itself between quotes: printable ASCII but '"' and '\\'
 * (jansson escapes only those two and control characters; '/' only with JSON_ESCAPE_SLASH). */
static int plain(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"' || *s == '\\')
            return 0;
    }
    return 1;
}

/* "name": after a comma, unless it is the object's first member. */
static void text_name(struct text *t, const char *name)
{
    if (t->len == 0 || t->p[t->len - 1] != '{')
        text_add(t, ",", 1);
    text_add(t, "\"", 1);
    text_add(t, name, strlen(name));
    text_add(t, "\":", 2);
}

/* A plain string member; null for "" when null_if_empty (str_or_null). */
static void text_str(struct text *t, const char *name, const char *v, int null_if_empty)
{
    text_name(t, name);
    if (null_if_empty && v[0] == '\0') {
        text_add(t, "null", 4);
        return;
    }
    text_add(t, "\"", 1);
    text_add(t, v, strlen(v));
    text_add(t, "\"", 1);
}

static void text_time(struct text *t, const char *name, int64_t ms)
{
    char buf[KW_TIME_RFC3339_LEN];

    if (ms != 0)
        kw_time_format(ms, buf);
    text_str(t, name, ms != 0 ? buf : "", 1);
}

/* base_json(r) (and willArchiveAtDate when scheduled, as integrator_json adds it) as jansson's compact
 * dump would give it, without the closing brace, written directly: building the tree and dumping it
 * was ~9 % of keyward's CPU on single extracts. 0 (nothing written) when a string is not plain, and
 * the caller takes the tree. */
static int integrator_base_text(struct text *t, const struct kw_record *r)
{
    if (!plain(r->ref_id) || !plain(r->id) || !plain(r->identity_id) || !plain(r->status))
        return 0;
    text_add(t, "{", 1);
    text_str(t, "refId", r->ref_id, 0);
    text_str(t, "recordId", r->id, 0);
    text_str(t, "blockPassID", r->identity_id, 1);
    text_str(t, "identityId", r->identity_id, 1);
    text_str(t, "status", r->status, 0);
    text_name(t, "isArchived");
    text_add(t, r->is_archived ? "true" : "false", r->is_archived ? 4 : 5);
    text_time(t, "inreviewDate", r->inreview_date);
    text_time(t, "waitingDate", r->waiting_date);
    text_time(t, "approvedDate", r->approved_date);
    if (r->will_archive_at != 0)
        text_time(t, "willArchiveAtDate", r->will_archive_at);
    return 1;
}

/* Appends the integrator's view of v at scope, as integrator_json would render it. */
static void integrator_text(struct text *t, const struct kw_record_view *v, int scope)
{
    const struct kw_record *r = &v->rec;
    static const char member[] = ",\"attributes\":";
    size_t start = t->len;
    json_t *o;

    if (scope != KW_SCOPE_ATTRIBUTES || r->is_archived || v->attributes == NULL || v->attributes_len < 2 ||
        v->attributes[0] != '{' || v->attributes[v->attributes_len - 1] != '}') {
        text_add_json(t, integrator_json(v, scope));
        return;
    }
    if (!integrator_base_text(t, r)) {
        o = base_json(r);
        if (o != NULL && r->will_archive_at != 0)
            json_object_set_new(o, "willArchiveAtDate", kw_api_time_json(r->will_archive_at));
        if (!text_add_json(t, o) || t->len == start || t->p[t->len - 1] != '}')
            return;
        t->len--; /* the object's closing brace: the attributes member goes before it */
    }
    text_add(t, member, sizeof(member) - 1);
    text_add(t, v->attributes, v->attributes_len);
    text_add(t, "}", 1);
}

/* Answers 200 with t's text (taken), or 500 when building it failed. */
static void reply_text(struct kw_api_ctx *c, struct kw_api_res *res, struct text *t)
{
    if (t->failed || t->p == NULL) {
        free(t->p);
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "candidate", NULL, NULL);
        return;
    }
    kw_api_res_cleanup(res);
    res->status = 200;
    res->body = t->p;
    res->body_len = t->len;
    res->content_type = "application/json";
}

/* ---- who may do what ---- */

/* The caller's role on the service ("admin" for root and sysadmins); 0 after answering. */
static int role_of(struct kw_api_ctx *c, struct kw_api_res *res, char role[16])
{
    if (kw_auth_service_role(c->app, &c->principal, c->params[0], role) != KW_OK) {
        kw_api_fail_err(c, res, KW_ERR_STORE, "service", NULL, NULL);
        return 0;
    }
    return 1;
}

static int can_read_data(const char *role)
{
    return strcmp(role, "admin") == 0 || strcmp(role, "operator") == 0;
}

/* 1 if the caller is an operator or admin of the service; else answers 403. */
static int require_operator(struct kw_api_ctx *c, struct kw_api_res *res, char role[16])
{
    if (!role_of(c, res, role))
        return 0;
    if (!can_read_data(role)) {
        kw_api_fail(c, res, 403, "FORBIDDEN", "Viewers read candidates' metadata only; operators and admins "
                                              "create, change and move candidates.", NULL);
        return 0;
    }
    return 1;
}

/* ---- reading the body ---- */

/* attributes (an object) and certificates (an array) as compact JSON text, from the body re-read with
 * integers kept as integers; 1 ok, 0 after answering. The strings live in *keep (json_decref it). */
static int read_data(struct kw_api_ctx *c, struct kw_api_res *res, struct kw_record_params *p, json_t **keep)
{
    json_t *o = json_loadb(c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES, NULL), *a, *texts;
    char *s;

    *keep = NULL;
    if (o == NULL) {
        kw_api_fail(c, res, 400, "BAD_JSON", "The body is not a JSON object.", NULL);
        return 0;
    }
    texts = json_array();
    *keep = texts;
    a = json_object_get(o, "attributes");
    if (a != NULL) {
        if (!json_is_object(a)) {
            json_decref(o);
            kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"attributes\" must be a JSON object.", "attributes");
            return 0;
        }
        s = json_dumps(a, JSON_COMPACT);
        if (s == NULL || strlen(s) > KW_RECORD_ATTRIBUTES_MAX) {
            free(s);
            json_decref(o);
            kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"attributes\" is at most 65536 bytes of JSON.",
                        "attributes");
            return 0;
        }
        json_array_append_new(texts, json_string_nocheck(s));
        kw_crypto_wipe(s, strlen(s));
        free(s);
        p->set_attributes = 1;
        p->attributes = json_string_value(json_array_get(texts, json_array_size(texts) - 1));
        p->attributes_len = strlen(p->attributes);
    }
    a = json_object_get(o, "certificates");
    if (a != NULL) {
        s = json_is_array(a) ? json_dumps(a, JSON_COMPACT) : NULL;
        if (s == NULL || strlen(s) > KW_RECORD_CERTIFICATES_MAX) {
            free(s);
            json_decref(o);
            kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"certificates\" must be a JSON array (at most 16384 "
                                                      "bytes).", "certificates");
            return 0;
        }
        json_array_append_new(texts, json_string_nocheck(s));
        free(s);
        p->set_certificates = 1;
        p->certificates = json_string_value(json_array_get(texts, json_array_size(texts) - 1));
    }
    json_decref(o);
    return 1;
}

static int read_identity(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, struct kw_record_params *p)
{
    json_t *v = json_object_get(b, "identityId");

    if (v == NULL)
        return 1;
    if (json_is_null(v)) {
        p->set_identity = 1;
        p->identity_id = "";
        return 1;
    }
    if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) >= KW_IDENTITY_MAX ||
        !kw_records_ref_valid(json_string_value(v))) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"identityId\" must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ - (or null).",
                    "identityId");
        return 0;
    }
    p->set_identity = 1;
    p->identity_id = json_string_value(v);
    return 1;
}

static void fail_record(struct kw_api_ctx *c, struct kw_api_res *res, enum kw_err err, const char *why)
{
    kw_api_fail_err(c, res, err, "candidate", why, kw_api_conflict_detail(why));
}

/* ---- the operator API ---- */

void kw_api_candidates_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_record_params p;
    struct kw_record_view v;
    const char *why = NULL;
    char role[16];
    json_t *b, *keep = NULL;
    enum kw_err err;
    int r;

    if (!require_operator(c, res, role))
        return;
    b = kw_api_body(c, res, create_fields, 0);
    if (b == NULL)
        return;
    memset(&p, 0, sizeof(p));
    if ((r = kw_api_str(c, res, b, "refId", 1, KW_REF_ID_MAX - 1, &p.ref_id)) < 0)
        goto out;
    if (r == 0 || !kw_records_ref_valid(p.ref_id)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"refId\" is required: 1 to 128 characters of A-Z a-z 0-9 . _ : @ -.", "refId");
        goto out;
    }
    if (strcmp(p.ref_id, "export") == 0) { /* GET .../candidates/export is the export route */
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "refId \"export\" is reserved (GET /api/v1/services/{serviceId}/candidates/export is the "
                    "export); choose another.",
                    "refId");
        goto out;
    }
    if (!read_identity(c, res, b, &p) || !read_data(c, res, &p, &keep))
        goto out;
    err = kw_records_create(c->app, &c->actor, c->params[0], &p, &v, &why);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "service", why, kw_api_conflict_detail(why));
        goto out;
    }
    /* the view has no plaintext: show what was sent */
    if (p.set_attributes) {
        v.attributes = strdup(p.attributes);
        v.attributes_len = v.attributes ? strlen(v.attributes) : 0;
    }
    kw_api_header(res, "Location", "/api/v1/services/%s/candidates/%s", c->params[0], v.rec.ref_id);
    kw_api_json(res, 201, operator_json(&v, 1));
    kw_record_view_free(&v);
out:
    json_decref(b);
    json_decref(keep);
}

/* ?status= and ?updatedSince= (RFC 3339); 1 ok, 0 after answering. */
int kw_api_candidates_filter(struct kw_api_ctx *c, struct kw_api_res *res, char status[KW_STATUS_MAX],
                             int64_t *updated_since)
{
    char v[64];
    int r;

    status[0] = '\0';
    *updated_since = 0;
    r = kw_api_query(c->req, "status", v, sizeof(v));
    if (r != 0) {
        if (r < 0 || !kw_records_status_valid(v)) {
            kw_api_fail(c, res, 400, "INVALID_QUERY",
                        "status must be one of incomplete, waiting, inreview, approved, rejected, blocked.", "status");
            return 0;
        }
        memcpy(status, v, strlen(v) + 1); /* a valid status fits */
    }
    r = kw_api_query(c->req, "updatedSince", v, sizeof(v));
    if (r != 0 && (r < 0 || kw_time_parse(v, updated_since) != KW_OK)) {
        kw_api_fail(c, res, 400, "INVALID_QUERY", "updatedSince must be an RFC 3339 time.", "updatedSince");
        return 0;
    }
    return 1;
}

/* Lists a page for the operator (scope < 0) or an integrator credential (its scope). */
static void list_page(struct kw_api_ctx *c, struct kw_api_res *res, const char *service_id, int scope,
                      int with_attributes)
{
    struct kw_record_filter f;
    struct kw_record_view *items;
    char status[KW_STATUS_MAX];
    size_t limit, n = 0, i;
    int64_t last;
    unsigned load = 0;
    json_t *arr;
    enum kw_err err;

    if (!kw_api_page(c, res, &limit, &f.after_seq) || !kw_api_candidates_filter(c, res, status, &f.updated_since))
        return;
    f.service_id = service_id;
    f.status = status;
    if (scope >= KW_SCOPE_ATTRIBUTES || (scope < 0 && with_attributes))
        load |= KW_RECORD_LOAD_ATTRIBUTES;
    if (scope >= KW_SCOPE_ATTRIBUTES_PICTURES) {
        load |= KW_RECORD_LOAD_PICTURES;
        if (limit > PICTURES_PAGE_MAX)
            limit = PICTURES_PAGE_MAX;
    }
    if (scope < 0)
        load |= KW_RECORD_LOAD_HISTORY;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "candidate", NULL, NULL);
        return;
    }
    err = kw_records_list(c->app, &f, load, items, limit + 1, &n);
    if (err != KW_OK) {
        free(items);
        kw_api_fail_err(c, res, err, "candidate", NULL, NULL);
        return;
    }
    arr = scope < 0 ? json_array() : NULL;
    for (i = 0; arr != NULL && i < n && i < limit; i++)
        json_array_append_new(arr, operator_json(&items[i], with_attributes));
    if (scope >= KW_SCOPE_ATTRIBUTES && c->principal.kind == KW_PRINCIPAL_KEY) {
        char (*ids)[KW_ID_MAX] = calloc(limit + 1, KW_ID_MAX);
        size_t k = 0;
        struct kw_key key;
        for (i = 0; ids != NULL && i < n && i < limit; i++)
            if (!items[i].rec.is_archived && items[i].rec.will_archive_at == 0)
                memcpy(ids[k++], items[i].rec.id, KW_ID_MAX);
        if (ids != NULL && k > 0 && c->principal.archives_after_extract &&
            kw_keys_get(c->app, c->principal.id, &key) == KW_OK &&
            key.archive_after_extract_s >= 0)
            kw_records_schedule_archive(c->app, (const char(*)[KW_ID_MAX])ids, k, key.archive_after_extract_s,
                                        c->req->now_ms);
        free(ids);
    }
    last = n > 0 ? items[n > limit ? limit - 1 : n - 1].rec.seq : 0;
    if (scope < 0) {
        kw_api_json(res, 200, kw_api_list(arr, n > limit, last));
    } else { /* {"items":[...],"nextCursor":...} as kw_api_list renders it, the items as integrator_text */
        struct text t = {0};
        char *tail = NULL;
        json_t *shell = kw_api_list(json_array(), n > limit, last);
        char *s = shell != NULL ? json_dumps(shell, JSON_COMPACT) : NULL;
        json_decref(shell);
        tail = s != NULL ? strstr(s, "[]") : NULL;
        if (tail == NULL) {
            t.failed = 1;
        } else {
            text_add(&t, s, (size_t)(tail - s) + 1);
            for (i = 0; i < n && i < limit; i++) {
                if (i > 0)
                    text_add(&t, ",", 1);
                integrator_text(&t, &items[i], scope);
            }
            text_add(&t, tail + 1, strlen(tail + 1));
        }
        free(s);
        reply_text(c, res, &t);
    }
    for (i = 0; i < n; i++)
        kw_record_view_free(&items[i]);
    free(items);
}

void kw_api_candidates_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    char role[16];

    if (!role_of(c, res, role))
        return;
    list_page(c, res, c->params[0], -1, can_read_data(role));
}

void kw_api_candidates_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_record_view v;
    char role[16];
    enum kw_err err;
    int data;

    if (!role_of(c, res, role))
        return;
    data = can_read_data(role);
    err = kw_records_get(c->app, c->params[0], c->params[1],
                         KW_RECORD_LOAD_HISTORY | (data ? KW_RECORD_LOAD_ATTRIBUTES : 0), &v);
    if (err != KW_OK) {
        fail_record(c, res, err, NULL);
        return;
    }
    kw_api_json(res, 200, operator_json(&v, data));
    kw_record_view_free(&v);
}

void kw_api_candidates_update(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_record_params p;
    struct kw_record_view v, full;
    const char *why = NULL;
    char role[16];
    json_t *b, *keep = NULL;
    enum kw_err err;

    if (!require_operator(c, res, role))
        return;
    b = kw_api_body(c, res, update_fields, 0);
    if (b == NULL)
        return;
    memset(&p, 0, sizeof(p));
    if (!read_identity(c, res, b, &p) || !read_data(c, res, &p, &keep))
        goto out;
    err = kw_records_update(c->app, &c->actor, c->params[0], c->params[1], &p, &v, &why);
    if (err != KW_OK) {
        fail_record(c, res, err, why);
        goto out;
    }
    kw_record_view_free(&v);
    err = kw_records_get(c->app, c->params[0], c->params[1], KW_RECORD_LOAD_HISTORY | KW_RECORD_LOAD_ATTRIBUTES,
                         &full);
    if (err != KW_OK) {
        fail_record(c, res, err, NULL);
        goto out;
    }
    kw_api_json(res, 200, operator_json(&full, 1));
    kw_record_view_free(&full);
out:
    json_decref(b);
    json_decref(keep);
}

void kw_api_candidates_picture(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *ct = c->req->content_type, *why = NULL;
    size_t ctlen = c->req->content_type_len;
    char media[KW_MEDIA_TYPE_MAX + 1], role[16];
    enum kw_err err;

    if (!require_operator(c, res, role))
        return;
    if (!kw_records_picture_name_valid(c->params[2])) {
        kw_api_fail(c, res, 400, "INVALID_PICTURE_NAME",
                    "A picture is one of selfie, document_front, document_back, proof_of_address.", NULL);
        return;
    }
    while (ct != NULL && ctlen > 0 && (ct[ctlen - 1] == ' ')) /* media type without parameters */
        ctlen--;
    if (ct != NULL && memchr(ct, ';', ctlen) != NULL)
        ctlen = (size_t)((const char *)memchr(ct, ';', ctlen) - ct);
    if (ct == NULL || ctlen == 0 || ctlen >= sizeof(media)) {
        media[0] = '\0';
    } else {
        memcpy(media, ct, ctlen);
        media[ctlen] = '\0';
    }
    if (!kw_records_media_type_valid(media)) {
        kw_api_fail(c, res, 415, "UNSUPPORTED_MEDIA_TYPE",
                    "Send the picture's bytes with Content-Type image/jpeg, image/png, image/webp or application/pdf.",
                    NULL);
        return;
    }
    if (c->req->body == NULL || c->req->body_len == 0) {
        kw_api_fail(c, res, 400, "EMPTY_PICTURE", "The request body (the picture's bytes) is empty.", NULL);
        return;
    }
    err = kw_records_set_picture(c->app, &c->actor, c->params[0], c->params[1], c->params[2], media,
                                 (const uint8_t *)c->req->body, c->req->body_len, &why);
    if (err != KW_OK) {
        fail_record(c, res, err, why);
        return;
    }
    kw_api_json(res, 204, NULL);
}

void kw_api_candidates_status(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_record_view v;
    const char *to = NULL, *comment = NULL, *why = NULL;
    char role[16], from[KW_STATUS_MAX], detail[160];
    json_t *b;
    enum kw_err err;
    int r;

    if (!require_operator(c, res, role))
        return;
    b = kw_api_body(c, res, status_fields, 0);
    if (b == NULL)
        return;
    if ((r = kw_api_str(c, res, b, "status", 1, KW_STATUS_MAX - 1, &to)) < 0)
        goto out;
    if (r == 0 || !kw_records_status_valid(to)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"status\" is required: waiting, inreview, approved, rejected or blocked.", "status");
        goto out;
    }
    if (kw_api_str(c, res, b, "comment", 0, KW_RECORD_COMMENT_MAX - 1, &comment) < 0)
        goto out;
    err = kw_records_move(c->app, &c->actor, c->params[0], c->params[1], to, comment, &v, &why, from);
    if (err == KW_ERR_CONFLICT && why != NULL && strcmp(why, "INVALID_STATUS_TRANSITION") == 0) {
        snprintf(detail, sizeof(detail), "A candidate cannot move from %s to %s.", from, to);
        kw_api_fail(c, res, 409, why, detail, "status");
        goto out;
    }
    if (err != KW_OK) {
        fail_record(c, res, err, why);
        goto out;
    }
    kw_record_view_free(&v);
    err = kw_records_get(c->app, c->params[0], c->params[1], KW_RECORD_LOAD_HISTORY | KW_RECORD_LOAD_ATTRIBUTES, &v);
    if (err != KW_OK) {
        fail_record(c, res, err, NULL);
        goto out;
    }
    kw_api_json(res, 200, operator_json(&v, 1));
    kw_record_view_free(&v);
out:
    json_decref(b);
}

/* The static Content-Type string of a media type a picture may have. */
static const char *media_static(const char *m)
{
    static const char *const types[] = {"image/jpeg", "image/png", "image/webp", "application/pdf"};
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(m, types[i]) == 0)
            return types[i];
    return "application/octet-stream";
}

/* GET .../candidates/{refId}/pictures/{name}: the picture's bytes, for operators and admins. */
void kw_api_candidates_picture_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_record_view v;
    size_t i = 0, n;
    char role[16];
    enum kw_err err;

    if (!role_of(c, res, role))
        return;
    if (!can_read_data(role)) {
        kw_api_fail(c, res, 403, "FORBIDDEN", "Viewers read candidates' metadata only; operators and admins see "
                                              "their attributes and pictures.", NULL);
        return;
    }
    if (!kw_records_picture_name_valid(c->params[2])) {
        kw_api_fail(c, res, 400, "INVALID_PICTURE_NAME",
                    "A picture is one of selfie, document_front, document_back, proof_of_address.", NULL);
        return;
    }
    err = kw_records_picture_get(c->app, c->params[0], c->params[1], c->params[2], &v, &i);
    if (err == KW_ERR_NOT_FOUND) {
        kw_api_fail(c, res, 404, "NOT_FOUND", "No such candidate, no such picture, or the candidate is archived "
                                              "(archiving deletes its pictures).", NULL);
        return;
    }
    if (err != KW_OK) {
        fail_record(c, res, err, NULL);
        return;
    }
    n = (size_t)v.pictures[i].size;
    kw_api_res_cleanup(res);
    res->body = malloc(n > 0 ? n : 1);
    if (res->body == NULL) {
        kw_record_view_free(&v);
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "candidate", NULL, NULL);
        return;
    }
    memcpy(res->body, v.picture_data[i], n);
    res->body_len = n;
    res->status = 200;
    res->content_type = media_static(v.pictures[i].media_type);
    kw_api_header(res, "Cache-Control", "no-store");
    kw_api_header(res, "X-Content-Type-Options", "nosniff");
    kw_record_view_free(&v);
}

/* POST .../candidates/{refId}/archive: archives one record as a person (operator, admin) -> the record;
 * an already archived one answers 200 unchanged. */
void kw_api_candidates_archive(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_record_view v;
    const char *ref = c->params[1];
    int result = KW_ARCHIVE_NOT_FOUND;
    char role[16];
    json_t *b;
    enum kw_err err;

    if (!require_operator(c, res, role))
        return;
    b = kw_api_body(c, res, no_fields, 1); /* no body, or an empty object */
    if (b == NULL)
        return;
    json_decref(b);
    err = kw_records_archive(c->app, &c->actor, c->params[0], &ref, 1, &result);
    if (err == KW_OK && result == KW_ARCHIVE_NOT_FOUND)
        err = KW_ERR_NOT_FOUND;
    if (err == KW_OK)
        err = kw_records_get(c->app, c->params[0], ref, KW_RECORD_LOAD_HISTORY, &v);
    if (err != KW_OK) {
        fail_record(c, res, err, NULL);
        return;
    }
    kw_api_json(res, 200, operator_json(&v, 1));
    kw_record_view_free(&v);
}

/* ---- the integrator API ---- */

void kw_api_extract_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    if (!kw_api_require_encryption(c, res))
        return;
    list_page(c, res, c->principal.service_id, c->principal.scope, 0);
}

void kw_api_extract_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_record_view v;
    struct kw_key key;
    int scope = c->principal.scope;
    unsigned load = 0;
    enum kw_err err;

    if (!kw_api_require_encryption(c, res))
        return;
    if (scope >= KW_SCOPE_ATTRIBUTES)
        load |= KW_RECORD_LOAD_ATTRIBUTES;
    if (scope >= KW_SCOPE_ATTRIBUTES_PICTURES)
        load |= KW_RECORD_LOAD_PICTURES;
    err = kw_records_get(c->app, c->principal.service_id, c->params[0], load, &v);
    if (err != KW_OK) {
        fail_record(c, res, err, NULL);
        return;
    }
    if (scope >= KW_SCOPE_ATTRIBUTES && !v.rec.is_archived && v.rec.will_archive_at == 0 &&
        c->principal.kind == KW_PRINCIPAL_KEY && c->principal.archives_after_extract &&
        kw_keys_get(c->app, c->principal.id, &key) == KW_OK &&
        key.archive_after_extract_s >= 0 &&
        kw_records_schedule_archive(c->app, (const char(*)[KW_ID_MAX]) & v.rec.id, 1, key.archive_after_extract_s,
                                    c->req->now_ms) == KW_OK)
        v.rec.will_archive_at = c->req->now_ms + key.archive_after_extract_s * 1000;
    {
        struct text t = {0};
        integrator_text(&t, &v, scope);
        reply_text(c, res, &t);
    }
    kw_record_view_free(&v);
}

void kw_api_extract_archive(struct kw_api_ctx *c, struct kw_api_res *res)
{
    static const char *const names[] = {"archived", "already_archived", "not_found"};
    const char **refs = NULL;
    int *results = NULL;
    json_t *b, *a, *v, *out;
    size_t i, n;
    enum kw_err err;

    if (!kw_auth_allows(&c->principal, c->principal.service_id, KW_PERM_CANDIDATES_ARCHIVE)) {
        kw_api_fail(c, res, 403, "FORBIDDEN", "This credential lacks the candidates:archive permission.", NULL);
        return;
    }
    b = kw_api_body(c, res, archive_fields, 0);
    if (b == NULL)
        return;
    a = json_object_get(b, "refIds");
    n = json_is_array(a) ? json_array_size(a) : 0;
    if (n < 1 || n > KW_RECORD_ARCHIVE_BATCH) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"refIds\" must be an array of 1 to 1000 refIds (the limit of one archive request).",
                    "refIds");
        goto out;
    }
    refs = calloc(n, sizeof(*refs));
    results = calloc(n, sizeof(*results));
    if (refs == NULL || results == NULL) {
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "candidate", NULL, NULL);
        goto out;
    }
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !kw_records_ref_valid(json_string_value(v))) {
            kw_api_fail(c, res, 400, "INVALID_FIELD",
                        "Each refId is 1 to 128 characters of A-Z a-z 0-9 . _ : @ -.", "refIds");
            goto out;
        }
        refs[i] = json_string_value(v);
    }
    err = kw_records_archive(c->app, &c->actor, c->principal.service_id, refs, n, results);
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "candidate", NULL, NULL);
        goto out;
    }
    out = json_array();
    for (i = 0; out != NULL && i < n; i++)
        json_array_append_new(out, json_pack("{s:s, s:s}", "refId", refs[i], "result", names[results[i]]));
    kw_api_json(res, 200, json_pack("{s:o}", "results", out));
out:
    free(refs);
    free(results);
    json_decref(b);
}
