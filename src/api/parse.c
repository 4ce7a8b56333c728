/* parse.c - reading requests: JSON bodies with strict field checks, query strings, paging. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/base62.h"
#include "core/timeutil.h"

static int is_json_type(const char *ct, size_t len)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;

    if (ct == NULL || len < n || strncasecmp(ct, want, n) != 0)
        return 0;
    return len == n || ct[n] == ';' || ct[n] == ' ';
}

#define ECHO_MAX 64 /* bytes of a client's field name echoed back, then "…" */

/* Copies at most ECHO_MAX bytes of s (valid UTF-8, as jansson hands it) into out, cut on a character
 * boundary, with every C0, DEL and C1 control character written as '?', and "…" when cut. */
static void safe_echo(const char *s, char out[ECHO_MAX + 4])
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;

    while (*p != '\0') {
        size_t n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2, i;
        if (o + n > ECHO_MAX)
            break;
        for (i = 1; i < n && p[i] != '\0'; i++)
            ;
        if (i < n) /* a truncated sequence cannot come from jansson; stop rather than read past it */
            break;
        if (*p < 0x20 || *p == 0x7f || (*p == 0xc2 && p[1] < 0xa0)) {
            out[o++] = '?';
        } else {
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
    }
    if (*p != '\0') {
        memcpy(out + o, "\xe2\x80\xa6", 3);
        o += 3;
    }
    out[o] = '\0';
}

json_t *kw_api_body(struct kw_api_ctx *c, struct kw_api_res *res, const char *const *allowed, int allow_empty)
{
    const struct kw_api_req *req = c->req;
    json_error_t jerr;
    json_t *o;
    const char *name;
    json_t *v;
    char detail[160], echo[ECHO_MAX + 4];

    if (req->body == NULL || req->body_len == 0) {
        if (allow_empty)
            return json_object();
        kw_api_fail(c, res, 400, "BAD_JSON", "A JSON object body is required.", NULL);
        return NULL;
    }
    if (!is_json_type(req->content_type, req->content_type_len)) {
        kw_api_fail(c, res, 415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as Content-Type: application/json.",
                    NULL);
        return NULL;
    }
    /* Numbers decode as doubles, so an integer too big for jansson's int64 (99999999999999999999) is a
     * number kw_api_int refuses naming its field rather than a parse error; every integer field's
     * bounds are far below 2^53, where doubles are exact. */
    o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    if (o == NULL || !json_is_object(o)) {
        snprintf(detail, sizeof(detail), "The body is not a JSON object%s%.100s.", o ? "" : ": ",
                 o ? "" : jerr.text);
        json_decref(o);
        kw_api_fail(c, res, 400, "BAD_JSON", detail, NULL);
        return NULL;
    }
    json_object_foreach(o, name, v)
    {
        size_t i;
        for (i = 0; allowed[i] != NULL && strcmp(allowed[i], name) != 0; i++)
            ;
        if (allowed[i] == NULL) {
            safe_echo(name, echo);
            snprintf(detail, sizeof(detail), "Unknown field \"%s\".", echo);
            kw_api_fail(c, res, 400, "UNKNOWN_FIELD", detail, echo);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static int bad_field(struct kw_api_ctx *c, struct kw_api_res *res, const char *name, const char *rule)
{
    char detail[200];

    snprintf(detail, sizeof(detail), "Field \"%s\" %s.", name, rule);
    kw_api_fail(c, res, 400, "INVALID_FIELD", detail, name);
    return -1;
}

int kw_api_str(struct kw_api_ctx *c, struct kw_api_res *res, json_t *o, const char *name, size_t min, size_t max,
               const char **out)
{
    json_t *v = json_object_get(o, name);
    char rule[96];
    size_t len;

    if (v == NULL)
        return 0;
    snprintf(rule, sizeof(rule), "must be a string of %zu to %zu bytes", min, max);
    if (!json_is_string(v))
        return bad_field(c, res, name, rule);
    len = json_string_length(v);
    if (len < min || len > max || memchr(json_string_value(v), '\0', len) != NULL)
        return bad_field(c, res, name, rule);
    *out = json_string_value(v);
    return 1;
}

int kw_api_int(struct kw_api_ctx *c, struct kw_api_res *res, json_t *o, const char *name, int64_t min,
               int64_t max, int nullable, int64_t *out, int *is_null)
{
    json_t *v = json_object_get(o, name);
    char rule[96];

    if (v == NULL)
        return 0;
    if (is_null != NULL)
        *is_null = 0;
    if (nullable && json_is_null(v)) {
        *is_null = 1;
        return 1;
    }
    snprintf(rule, sizeof(rule), "must be an integer in %lld..%lld%s", (long long)min, (long long)max,
             nullable ? " or null" : "");
    if (!json_is_number(v))
        return bad_field(c, res, name, rule);
    /* An integer is a number without a fractional part (JSON Schema 2020-12): 60 and 60.0 alike. */
    double d = json_number_value(v);
    if (!(d >= (double)min && d <= (double)max && d > -9.2e18 && d < 9.2e18) || (double)(int64_t)d != d)
        return bad_field(c, res, name, rule);
    *out = (int64_t)d;
    return 1;
}

int kw_api_bool(struct kw_api_ctx *c, struct kw_api_res *res, json_t *o, const char *name, int *out)
{
    json_t *v = json_object_get(o, name);

    if (v == NULL)
        return 0;
    if (!json_is_boolean(v))
        return bad_field(c, res, name, "must be true or false");
    *out = json_is_true(v);
    return 1;
}

int kw_api_time(struct kw_api_ctx *c, struct kw_api_res *res, json_t *o, const char *name, int64_t *out_ms)
{
    json_t *v = json_object_get(o, name);

    if (v == NULL)
        return 0;
    if (json_is_null(v)) {
        *out_ms = 0;
        return 1;
    }
    if (!json_is_string(v) || json_string_length(v) > 64 || kw_time_parse(json_string_value(v), out_ms) != KW_OK)
        return bad_field(c, res, name, "must be an RFC 3339 time such as 2030-01-31T12:00:00Z, or null");
    return 1;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decodes s[0..len) into out; -1 on a bad escape, an embedded NUL, or overflow. */
static int decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch == 0 || o + 1 >= cap)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

int kw_api_query(const struct kw_api_req *req, const char *name, char *out, size_t cap)
{
    const char *p = req->query, *end = req->query + req->query_len;
    size_t nlen = strlen(name);

    if (p == NULL)
        return 0;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq != NULL && (size_t)(eq - p) == nlen && memcmp(p, name, nlen) == 0)
            return decode(eq + 1, (size_t)(stop - eq - 1), out, cap) == 0 ? 1 : -1;
        p = stop + 1;
    }
    return 0;
}

int kw_api_page(struct kw_api_ctx *c, struct kw_api_res *res, size_t *limit, int64_t *after)
{
    char v[64];
    char *end;
    uint64_t seq;
    int r;

    *limit = KW_API_LIST_DEFAULT;
    *after = 0;
    r = kw_api_query(c->req, "limit", v, sizeof(v));
    if (r != 0) {
        errno = 0;
        long n = r > 0 ? strtol(v, &end, 10) : 0;
        if (r < 0 || errno != 0 || end == v || *end != '\0' || n < 1 || n > KW_API_LIST_MAX) {
            kw_api_fail(c, res, 400, "INVALID_QUERY", "limit must be an integer in 1..200.", "limit");
            return 0;
        }
        *limit = (size_t)n;
    }
    r = kw_api_query(c->req, "cursor", v, sizeof(v));
    if (r != 0) {
        size_t n = r > 0 ? strlen(v) : 0;
        if (r < 0 || n < 2 || n > 12 || v[0] != 'c' || kw_base62_decode_u64(v + 1, n - 1, &seq) != 0 ||
            seq > INT64_MAX) {
            kw_api_fail(c, res, 400, "INVALID_QUERY", "cursor is not one this server issued.", "cursor");
            return 0;
        }
        *after = (int64_t)seq;
    }
    return 1;
}

json_t *kw_api_list(json_t *items, int has_more, int64_t last_seq)
{
    char cursor[16];

    if (!has_more)
        return json_pack("{s:o, s:n}", "items", items, "nextCursor");
    cursor[0] = 'c';
    kw_base62_encode_u64((uint64_t)last_seq, cursor + 1, 11);
    cursor[12] = '\0';
    return json_pack("{s:o, s:s}", "items", items, "nextCursor", cursor);
}

const char *kw_api_cookie(const struct kw_api_req *req, const char *name, size_t *len)
{
    const char *p = req->cookie, *end = req->cookie + req->cookie_len;
    size_t nlen = strlen(name);

    if (p == NULL)
        return NULL;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        while (p < stop && *p == ' ')
            p++;
        if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            *len = (size_t)(stop - p - (ptrdiff_t)nlen - 1);
            return p + nlen + 1;
        }
        p = stop + 1;
    }
    return NULL;
}

void kw_api_page_reply(struct kw_api_res *res, const void *items, size_t item_size, size_t n, size_t limit,
                       kw_api_render_fn render, int64_t now_ms)
{
    json_t *arr = json_array();
    size_t shown = n > limit ? limit : n, i;
    int64_t last = 0;

    for (i = 0; i < shown; i++)
        json_array_append_new(arr, render((const char *)items + i * item_size, now_ms));
    if (shown > 0)
        memcpy(&last, (const char *)items + (shown - 1) * item_size, sizeof(last));
    kw_api_json(res, 200, kw_api_list(arr, n > limit, last));
}
