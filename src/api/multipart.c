/* multipart.c - multipart/form-data (RFC 7578, RFC 2046 5.1): see multipart.h. One pass over the
 * headers of each part, memmem for each delimiter; nothing of the part data is copied or touched
 * beyond the search for the next delimiter. */
#include "api/multipart.h"

#include <string.h>
#include <strings.h>

enum param_result { PARAM_END = 0, PARAM_OK = 1, PARAM_BAD = -1, PARAM_BIG = -2 };

static int is_tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* RFC 2046 bchars: DIGIT / ALPHA / "'()+_,-./:=?" and space (not last). */
static int is_bchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch != 0 && strchr("'()+_,-./:=? ", ch) != NULL);
}

static void skip_ows(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

/* A token or quoted-string (RFC 9110 5.6.4; obs-text allowed, as browsers send UTF-8 filenames raw)
 * into out (cap bytes incl. the NUL). */
static enum param_result param_value(const char **p, const char *end, char *out, size_t cap, size_t *vlen)
{
    size_t n = 0;

    if (*p < end && **p == '"') {
        (*p)++;
        for (;;) {
            unsigned char ch;
            if (*p >= end)
                return PARAM_BAD;
            ch = (unsigned char)**p;
            if (ch == '"')
                break;
            if (ch == '\\') {
                if (++*p >= end)
                    return PARAM_BAD;
                ch = (unsigned char)**p;
            }
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return PARAM_BAD;
            if (n + 1 >= cap)
                return PARAM_BIG;
            out[n++] = (char)ch;
            (*p)++;
        }
        (*p)++;
    } else {
        while (*p < end && is_tchar((unsigned char)**p)) {
            if (n + 1 >= cap)
                return PARAM_BIG;
            out[n++] = *(*p)++;
        }
        if (n == 0)
            return PARAM_BAD;
    }
    out[n] = '\0';
    *vlen = n;
    return PARAM_OK;
}

/* The next "; name=value" of a header value: PARAM_END at the end, PARAM_OK with name (a pointer into the
 * value) and the unquoted value. */
static enum param_result next_param(const char **p, const char *end, const char **name, size_t *nlen,
                                    char *val, size_t cap, size_t *vlen)
{
    skip_ows(p, end);
    if (*p == end)
        return PARAM_END;
    if (**p != ';')
        return PARAM_BAD;
    (*p)++;
    skip_ows(p, end);
    *name = *p;
    while (*p < end && is_tchar((unsigned char)**p))
        (*p)++;
    *nlen = (size_t)(*p - *name);
    if (*nlen == 0 || *p == end || **p != '=')
        return PARAM_BAD;
    (*p)++;
    return param_value(p, end, val, cap, vlen);
}

static int name_is(const char *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

/* The media type's token/token, case-insensitive, then OWS and parameters or the end. */
static int type_is(const char **p, const char *end, const char *want)
{
    size_t wl = strlen(want);

    if ((size_t)(end - *p) < wl || strncasecmp(*p, want, wl) != 0)
        return 0;
    *p += wl;
    return *p == end || **p == ';' || **p == ' ' || **p == '\t';
}

static enum kw_multipart_result boundary_of(const char *ct, size_t ctlen, char *out, size_t *blen)
{
    const char *p = ct, *end = ct + ctlen, *name;
    char val[KW_MULTIPART_BOUNDARY_MAX + 2];
    size_t nlen, vlen, i;
    int found = 0;
    enum param_result r;

    if (ct == NULL)
        return KW_MULTIPART_NOT_MULTIPART;
    skip_ows(&p, end);
    if (!type_is(&p, end, "multipart/form-data"))
        return KW_MULTIPART_NOT_MULTIPART;
    while ((r = next_param(&p, end, &name, &nlen, val, sizeof(val), &vlen)) == PARAM_OK) {
        if (!name_is(name, nlen, "boundary"))
            continue;
        if (found)
            return KW_MULTIPART_BAD_BOUNDARY; /* two boundaries: which one? */
        found = 1;
        if (vlen == 0 || vlen > KW_MULTIPART_BOUNDARY_MAX || val[vlen - 1] == ' ')
            return KW_MULTIPART_BAD_BOUNDARY;
        for (i = 0; i < vlen; i++)
            if (!is_bchar((unsigned char)val[i]))
                return KW_MULTIPART_BAD_BOUNDARY;
        memcpy(out, val, vlen + 1);
        *blen = vlen;
    }
    if (r != PARAM_END || !found)
        return KW_MULTIPART_BAD_BOUNDARY;
    return KW_MULTIPART_OK;
}

/* Content-Disposition: form-data; name="..."[; filename="..."] (other parameters ignored; a repeated
 * name or filename is refused; filename* is ignored, RFC 7578 4.2 says senders must not use it). */
static enum kw_multipart_result disposition(const char *v, size_t vlen, struct kw_multipart_part *part,
                                            int *seen)
{
    const char *p = v, *end = v + vlen, *name;
    char val[KW_MULTIPART_FILENAME_MAX + 2];
    size_t nlen, len;
    int have_name = 0;
    enum param_result r;

    if (*seen)
        return KW_MULTIPART_MALFORMED;
    *seen = 1;
    if (!type_is(&p, end, "form-data"))
        return KW_MULTIPART_MALFORMED;
    while ((r = next_param(&p, end, &name, &nlen, val, sizeof(val), &len)) == PARAM_OK) {
        if (name_is(name, nlen, "name")) {
            if (have_name || len == 0)
                return KW_MULTIPART_MALFORMED;
            if (len > KW_MULTIPART_NAME_MAX)
                return KW_MULTIPART_TOO_LARGE;
            memcpy(part->name, val, len + 1);
            have_name = 1;
        } else if (name_is(name, nlen, "filename")) {
            if (part->has_filename)
                return KW_MULTIPART_MALFORMED;
            if (len > KW_MULTIPART_FILENAME_MAX)
                return KW_MULTIPART_TOO_LARGE;
            memcpy(part->filename, val, len + 1);
            part->has_filename = 1;
        }
    }
    if (r == PARAM_BIG)
        return KW_MULTIPART_TOO_LARGE;
    if (r != PARAM_END || !have_name)
        return KW_MULTIPART_MALFORMED;
    return KW_MULTIPART_OK;
}

static enum kw_multipart_result header_line(const char *line, size_t len, struct kw_multipart_part *part,
                                            int *seen_cd, int *seen_ct)
{
    const char *colon = memchr(line, ':', len), *v, *end = line + len;
    size_t i, nlen;

    if (colon == NULL || colon == line)
        return KW_MULTIPART_MALFORMED;
    nlen = (size_t)(colon - line);
    for (i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)line[i]))
            return KW_MULTIPART_MALFORMED;
    for (i = nlen + 1; i < len; i++) /* field-value: no controls but HTAB (CR/LF were split off) */
        if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
            return KW_MULTIPART_MALFORMED;
    v = colon + 1;
    skip_ows(&v, end);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (name_is(line, nlen, "content-disposition"))
        return disposition(v, (size_t)(end - v), part, seen_cd);
    if (name_is(line, nlen, "content-type")) {
        if (*seen_ct)
            return KW_MULTIPART_MALFORMED;
        *seen_ct = 1;
        if ((size_t)(end - v) > KW_MULTIPART_TYPE_MAX)
            return KW_MULTIPART_TOO_LARGE;
        memcpy(part->content_type, v, (size_t)(end - v));
        part->content_type[end - v] = '\0';
    }
    return KW_MULTIPART_OK; /* other headers (Content-Transfer-Encoding, ...) are ignored */
}

/* The header block at body[*pos..]: lines up to the blank one. *pos ends after the blank line. */
static enum kw_multipart_result part_headers(const uint8_t *body, size_t len, size_t *pos,
                                             struct kw_multipart_part *part)
{
    size_t start = *pos, lines = 0;
    int seen_cd = 0, seen_ct = 0;
    enum kw_multipart_result r;

    for (;;) {
        size_t avail = len - *pos, used = *pos - start, lim;
        const uint8_t *eol;
        if (used >= KW_MULTIPART_HEADER_BYTES)
            return KW_MULTIPART_TOO_LARGE;
        lim = avail < KW_MULTIPART_HEADER_BYTES - used ? avail : KW_MULTIPART_HEADER_BYTES - used;
        eol = memchr(body + *pos, '\n', lim);
        if (eol == NULL)
            return lim == avail ? KW_MULTIPART_MALFORMED : KW_MULTIPART_TOO_LARGE;
        if (eol == body + *pos || eol[-1] != '\r')
            return KW_MULTIPART_MALFORMED; /* a bare LF */
        if (eol - 1 == body + *pos) {      /* the blank line */
            *pos += 2;
            break;
        }
        if (++lines > KW_MULTIPART_HEADERS_MAX)
            return KW_MULTIPART_TOO_MANY;
        if (body[*pos] == ' ' || body[*pos] == '\t')
            return KW_MULTIPART_MALFORMED; /* obsolete line folding */
        r = header_line((const char *)body + *pos, (size_t)(eol - 1 - (body + *pos)), part, &seen_cd,
                        &seen_ct);
        if (r != KW_MULTIPART_OK)
            return r;
        *pos = (size_t)(eol + 1 - body);
    }
    return seen_cd ? KW_MULTIPART_OK : KW_MULTIPART_MALFORMED;
}

/* After a boundary at body[*pos..]: 1 for the close delimiter ("--"), 0 for another part (transport
 * padding then CRLF, *pos past it), -1 for anything else. */
static int after_boundary(const uint8_t *body, size_t len, size_t *pos)
{
    size_t p = *pos;

    if (len - p >= 2 && body[p] == '-' && body[p + 1] == '-')
        return 1;
    while (p < len && (body[p] == ' ' || body[p] == '\t'))
        p++;
    if (len - p < 2 || body[p] != '\r' || body[p + 1] != '\n')
        return -1;
    *pos = p + 2;
    return 0;
}

#define SCAN_WINDOW (1u << 20)

/* The first delim[0..dlen) in body[pos..len), or NULL. With done, searched a window at a time, and
 * done(ctx, from, to) is told of each stretch that holds no delimiter start once it is passed. */
static const uint8_t *find_delim(const uint8_t *body, size_t pos, size_t len, const char *delim, size_t dlen,
                                 kw_multipart_scanned_fn done, void *ctx)
{
    const uint8_t *hit;

    if (done == NULL)
        return memmem(body + pos, len - pos, delim, dlen);
    while (len - pos > SCAN_WINDOW + dlen) {
        hit = memmem(body + pos, SCAN_WINDOW + dlen - 1, delim, dlen); /* overlap: a delimiter across */
        if (hit != NULL)
            return hit;
        done(ctx, body + pos, body + pos + SCAN_WINDOW);
        pos += SCAN_WINDOW;
    }
    return memmem(body + pos, len - pos, delim, dlen);
}

enum kw_multipart_result kw_multipart_parse(const char *content_type, size_t ctlen, const uint8_t *body,
                                            size_t len, struct kw_multipart *out)
{
    return kw_multipart_parse_scan(content_type, ctlen, body, len, out, NULL, NULL);
}

enum kw_multipart_result kw_multipart_parse_scan(const char *content_type, size_t ctlen, const uint8_t *body,
                                                 size_t len, struct kw_multipart *out, kw_multipart_scanned_fn done,
                                                 void *ctx)
{
    char delim[4 + KW_MULTIPART_BOUNDARY_MAX + 1] = "\r\n--";
    size_t blen = 0, dlen, pos;
    enum kw_multipart_result r;

    memset(out, 0, sizeof(*out));
    r = boundary_of(content_type, ctlen, delim + 4, &blen);
    if (r != KW_MULTIPART_OK)
        return r;
    dlen = 4 + blen;
    if (body == NULL || len < dlen - 2 || memcmp(body, delim + 2, dlen - 2) != 0)
        return KW_MULTIPART_MALFORMED; /* no preamble: the body opens with the first dash-boundary */
    pos = dlen - 2;
    for (;;) {
        struct kw_multipart_part *part;
        const uint8_t *next;
        int a = after_boundary(body, len, &pos);
        if (a < 0)
            return KW_MULTIPART_MALFORMED;
        if (a == 1)
            return KW_MULTIPART_OK; /* the epilogue is ignored */
        if (out->n == KW_MULTIPART_PARTS_MAX)
            return KW_MULTIPART_TOO_MANY;
        part = &out->parts[out->n];
        r = part_headers(body, len, &pos, part);
        if (r != KW_MULTIPART_OK)
            return r;
        /* RFC 2046's body-part is headers [CRLF data]: with no data the blank line's CRLF is the
         * delimiter's */
        if (len - (pos - 2) >= dlen && memcmp(body + pos - 2, delim, dlen) == 0)
            next = body + pos - 2;
        else
            next = find_delim(body, pos, len, delim, dlen, done, ctx);
        if (next == NULL)
            return KW_MULTIPART_MALFORMED; /* truncated: no delimiter closes this part */
        part->data = body + pos;
        part->len = next > body + pos ? (size_t)(next - (body + pos)) : 0;
        out->n++;
        pos = (size_t)(next - body) + dlen;
    }
}

const struct kw_multipart_part *kw_multipart_get(const struct kw_multipart *m, const char *name, int *count)
{
    const struct kw_multipart_part *found = NULL;
    int c = 0;
    size_t i;

    for (i = 0; i < m->n; i++) {
        if (strcmp(m->parts[i].name, name) != 0)
            continue;
        if (found == NULL)
            found = &m->parts[i];
        c++;
    }
    if (count != NULL)
        *count = c;
    return found;
}

const char *kw_multipart_reason(enum kw_multipart_result r)
{
    switch (r) {
    case KW_MULTIPART_OK:
        return "ok";
    case KW_MULTIPART_NOT_MULTIPART:
        return "the Content-Type must be multipart/form-data";
    case KW_MULTIPART_BAD_BOUNDARY:
        return "the Content-Type needs one boundary parameter of 1 to 70 characters (RFC 2046)";
    case KW_MULTIPART_TOO_MANY:
        return "more than 4 parts, or more than 8 header lines in a part";
    case KW_MULTIPART_TOO_LARGE:
        return "a part's headers exceed 2048 bytes, or its name (64), filename (255) or Content-Type (127)";
    case KW_MULTIPART_MALFORMED:
    default:
        return "the multipart framing is invalid (boundaries, part headers or Content-Disposition)";
    }
}
