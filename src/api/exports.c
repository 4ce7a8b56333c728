/* exports.c - GET /api/v1/audit/export and GET /api/v1/services/{serviceId}/candidates/export: the
 * audit trail and a service's candidates (metadata only) as CSV (RFC 4180, api/csv.h) or JSON Lines,
 * streamed (struct kw_api_stream, api/api.h).
 *
 * The handler checks the query and the caller, reads the first page (so a store failure is still a
 * problem response, before any header went out) and hands the rest to http/: each next() call copies
 * rendered rows into http/'s chunk buffer and reads the following page (one read transaction, keyset
 * by seq: the audit trail newest first as its list, candidates in seq order) only when the rows held
 * are used up. Memory per export: one page of rows and one rendered row, whatever the row count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/csv.h"
#include "api/internal.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/audit.h"
#include "domain/audit_query.h"
#include "domain/records.h"

#define AUDIT_PAGE 256      /* events per read */
#define CANDIDATES_PAGE 200 /* records per read (kw_records_list takes at most 201) */

enum export_kind { EXPORT_AUDIT, EXPORT_CANDIDATES };

struct export {
    struct kw_app *app;
    enum export_kind kind;
    int csv;       /* else JSON Lines */
    int started;   /* the CSV header row is rendered */
    int last_page; /* the page held is the last one */
    size_t n, i;   /* rows in the page held, and the next to render */
    /* the audit trail: q.f.before_seq is the cursor */
    struct kw_api_audit_query q;
    struct kw_audit_event *events;
    /* candidates: rf.after_seq is the cursor */
    char service_id[KW_ID_MAX], status[KW_STATUS_MAX];
    struct kw_record_filter rf;
    struct kw_record_view *recs;
    /* the row being copied out */
    char *row;
    size_t row_len, row_off, row_cap;
};

/* ---- rows ---- */

static int row_reserve(struct export *x, size_t more)
{
    char *p;
    size_t cap = x->row_cap ? x->row_cap : 1024;

    if (x->row_len + more <= x->row_cap)
        return 1;
    while (cap < x->row_len + more)
        cap *= 2;
    p = realloc(x->row, cap);
    if (p == NULL)
        return 0;
    x->row = p;
    x->row_cap = cap;
    return 1;
}

/* Appends one CSV cell (a comma before all but the first of a row). */
static int put_cell(struct export *x, int first, const char *s)
{
    size_t len = strlen(s);

    if (!row_reserve(x, KW_CSV_CELL_MAX(len) + 1))
        return 0;
    if (!first)
        x->row[x->row_len++] = ',';
    x->row_len += kw_csv_cell(x->row + x->row_len, s, len);
    return 1;
}

static int put_raw(struct export *x, const char *s, size_t len)
{
    if (!row_reserve(x, len))
        return 0;
    memcpy(x->row + x->row_len, s, len);
    x->row_len += len;
    return 1;
}

/* A CSV row of n cells, CRLF-terminated. */
static int put_csv_row(struct export *x, const char *const *cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!put_cell(x, i == 0, cells[i]))
            return 0;
    return put_raw(x, "\r\n", 2);
}

/* A JSON Lines row: o compact, one line (JSON escapes every control character), LF. Steals o. */
static int put_json_row(struct export *x, json_t *o)
{
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    int ok = s != NULL && put_raw(x, s, strlen(s)) && put_raw(x, "\n", 1);

    free(s);
    json_decref(o);
    return ok;
}

static void time_text(int64_t ms, char out[KW_TIME_RFC3339_LEN])
{
    if (ms == 0)
        out[0] = '\0';
    else
        kw_time_format(ms, out);
}

static const char *const audit_header[] = {"id", "seq", "time", "actorType", "actorId", "action", "targetType",
                                           "targetId", "serviceId", "outcome", "ip", "requestId", "detail", "hash",
                                           "prevHash"};
#define NAUDIT (sizeof(audit_header) / sizeof(audit_header[0]))

static int audit_row(struct export *x, const struct kw_audit_event *stored)
{
    char seq[24], time[KW_TIME_RFC3339_LEN], hash[2 * KW_HASH_LEN + 1], prev[2 * KW_HASH_LEN + 1];
    struct kw_audit_event e;

    if (!x->csv)
        return put_json_row(x, kw_api_audit_event_json(stored));
    kw_audit_event_printable(stored, &e);
    snprintf(seq, sizeof(seq), "%lld", (long long)e.seq);
    time_text(e.time, time);
    kw_crypto_hex(e.hash, KW_HASH_LEN, hash);
    kw_crypto_hex(e.prev_hash, KW_HASH_LEN, prev);
    const char *cells[NAUDIT] = {e.id,        seq,          time,         e.actor_type, e.actor_id,
                                 e.action,    e.target_type, e.target_id, e.service_id, e.outcome,
                                 e.ip,        e.request_id, e.detail,     hash,         prev};
    return put_csv_row(x, cells, NAUDIT);
}

static const char *const candidate_header[] = {"refId",        "recordId",    "identityId",   "status",
                                               "isArchived",   "inreviewDate", "waitingDate", "approvedDate",
                                               "willArchiveAtDate", "createdAt", "updatedAt"};
#define NCAND (sizeof(candidate_header) / sizeof(candidate_header[0]))

static int candidate_row(struct export *x, const struct kw_record *r)
{
    char d[6][KW_TIME_RFC3339_LEN];
    json_t *o;

    if (x->csv) {
        time_text(r->inreview_date, d[0]);
        time_text(r->waiting_date, d[1]);
        time_text(r->approved_date, d[2]);
        time_text(r->will_archive_at, d[3]);
        time_text(r->created_at, d[4]);
        time_text(r->updated_at, d[5]);
        const char *cells[NCAND] = {r->ref_id, r->id, r->identity_id, r->status, r->is_archived ? "true" : "false",
                                    d[0],      d[1],  d[2],           d[3],      d[4],
                                    d[5]};
        return put_csv_row(x, cells, NCAND);
    }
    o = json_pack("{s:s, s:s, s:o, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "refId", r->ref_id, "recordId", r->id,
                  "identityId", r->identity_id[0] ? json_string(r->identity_id) : json_null(), "status", r->status,
                  "isArchived", r->is_archived, "inreviewDate", kw_api_time_json(r->inreview_date), "waitingDate",
                  kw_api_time_json(r->waiting_date), "approvedDate", kw_api_time_json(r->approved_date),
                  "willArchiveAtDate", kw_api_time_json(r->will_archive_at), "createdAt",
                  kw_api_time_json(r->created_at), "updatedAt", kw_api_time_json(r->updated_at));
    return put_json_row(x, o);
}

/* ---- pages ---- */

static void drop_page(struct export *x)
{
    if (x->kind == EXPORT_CANDIDATES)
        for (size_t i = 0; i < x->n; i++)
            kw_record_view_free(&x->recs[i]);
    x->n = x->i = 0;
}

/* Reads the page after the one held (one read transaction). */
static enum kw_err read_page(struct export *x)
{
    enum kw_err err;
    size_t n = 0;

    drop_page(x);
    if (x->kind == EXPORT_AUDIT) {
        err = kw_audit_query_list(x->app, &x->q.f, x->events, AUDIT_PAGE, &n);
        if (err == KW_OK && n > 0)
            x->q.f.before_seq = x->events[n - 1].seq;
        x->last_page = n < AUDIT_PAGE;
    } else {
        err = kw_records_list(x->app, &x->rf, 0, x->recs, CANDIDATES_PAGE, &n);
        if (err == KW_OK && n > 0)
            x->rf.after_seq = x->recs[n - 1].rec.seq;
        x->last_page = n < CANDIDATES_PAGE;
    }
    if (err != KW_OK)
        n = 0;
    x->n = n;
    return err;
}

/* The next row into x->row; *eof when there is none left. */
static enum kw_err render_next(struct export *x, int *eof)
{
    enum kw_err err;

    *eof = 0;
    x->row_len = x->row_off = 0;
    if (!x->started) {
        x->started = 1;
        if (!x->csv)
            return render_next(x, eof);
        if (x->kind == EXPORT_AUDIT)
            return put_csv_row(x, audit_header, NAUDIT) ? KW_OK : KW_ERR_NOMEM;
        return put_csv_row(x, candidate_header, NCAND) ? KW_OK : KW_ERR_NOMEM;
    }
    if (x->i == x->n) {
        if (x->last_page) {
            *eof = 1;
            return KW_OK;
        }
        if ((err = read_page(x)) != KW_OK)
            return err;
        if (x->n == 0) {
            *eof = 1;
            return KW_OK;
        }
    }
    if (x->kind == EXPORT_AUDIT)
        return audit_row(x, &x->events[x->i++]) ? KW_OK : KW_ERR_NOMEM;
    return candidate_row(x, &x->recs[x->i++].rec) ? KW_OK : KW_ERR_NOMEM;
}

/* stream.next: rows until buf is full or none are left. */
static enum kw_err export_next(void *ctx, char *buf, size_t cap, size_t *len, int *done)
{
    struct export *x = ctx;
    enum kw_err err;
    int eof;

    *len = 0;
    *done = 0;
    for (;;) {
        size_t k = x->row_len - x->row_off;
        if (k > cap - *len)
            k = cap - *len;
        if (k > 0)
            memcpy(buf + *len, x->row + x->row_off, k);
        x->row_off += k;
        *len += k;
        if (x->row_off < x->row_len)
            return KW_OK; /* buf is full; the rest of this row goes into the next chunk */
        if ((err = render_next(x, &eof)) != KW_OK)
            return err;
        if (eof) {
            *done = 1;
            return KW_OK;
        }
    }
}

static void export_free(void *ctx)
{
    struct export *x = ctx;

    if (x == NULL)
        return;
    drop_page(x);
    free(x->events);
    free(x->recs);
    free(x->row);
    free(x);
}

/* ---- the handlers ---- */

/* ?format=csv|jsonl (csv when absent); 1 ok, 0 after answering 400. */
static int read_format(struct kw_api_ctx *c, struct kw_api_res *res, int *csv)
{
    char v[16];
    int r = kw_api_query(c->req, "format", v, sizeof(v));

    *csv = 1;
    if (r == 0 || (r > 0 && strcmp(v, "csv") == 0))
        return 1;
    if (r > 0 && strcmp(v, "jsonl") == 0) {
        *csv = 0;
        return 1;
    }
    kw_api_fail(c, res, 400, "INVALID_QUERY", "format must be one of csv, jsonl.", "format");
    return 0;
}

/* Reads the first page and answers 200 with the stream, or a problem. Takes x. */
static void start(struct kw_api_ctx *c, struct kw_api_res *res, struct export *x, const char *filename)
{
    const char *what = x->kind == EXPORT_AUDIT ? "event" : "candidate";
    enum kw_err err = read_page(x);

    if (err != KW_OK) {
        export_free(x);
        kw_api_fail_err(c, res, err, what, NULL, NULL);
        return;
    }
    kw_api_res_cleanup(res);
    res->status = 200;
    res->content_type = x->csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
    res->stream.next = export_next;
    res->stream.free = export_free;
    res->stream.ctx = x;
    res->stream.content_length = -1;
    kw_api_header(res, "Content-Disposition", "attachment; filename=\"%s.%s\"", filename, x->csv ? "csv" : "jsonl");
    kw_api_header_str(res, "Cache-Control", "no-store");
    kw_api_header_str(res, "X-Content-Type-Options", "nosniff");
}

void kw_api_audit_export(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct export *x;
    int csv;

    if (!read_format(c, res, &csv))
        return;
    x = calloc(1, sizeof(*x));
    if (x == NULL || (x->events = calloc(AUDIT_PAGE, sizeof(*x->events))) == NULL) {
        free(x);
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "event", NULL, NULL);
        return;
    }
    if (!kw_api_audit_filter(c, res, &x->q)) {
        export_free(x);
        return;
    }
    x->app = c->app;
    x->kind = EXPORT_AUDIT;
    x->csv = csv;
    start(c, res, x, "audit");
}

void kw_api_candidates_export(struct kw_api_ctx *c, struct kw_api_res *res)
{
    char filename[KW_ID_MAX + 16];
    struct export *x;
    int csv;

    if (!read_format(c, res, &csv))
        return;
    x = calloc(1, sizeof(*x));
    if (x == NULL || (x->recs = calloc(CANDIDATES_PAGE, sizeof(*x->recs))) == NULL) {
        free(x);
        kw_api_fail_err(c, res, KW_ERR_NOMEM, "candidate", NULL, NULL);
        return;
    }
    if (!kw_api_candidates_filter(c, res, x->status, &x->rf.updated_since)) {
        export_free(x);
        return;
    }
    x->app = c->app;
    x->kind = EXPORT_CANDIDATES;
    x->csv = csv;
    memcpy(x->service_id, c->params[0], strnlen(c->params[0], KW_ID_MAX - 1)); /* a valid svc_ id fits */
    x->rf.service_id = x->service_id;
    x->rf.status = x->status;
    snprintf(filename, sizeof(filename), "candidates-%s", x->service_id);
    start(c, res, x, filename);
}
