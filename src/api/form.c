/* form.c - x-www-form-urlencoded parsing and RFC 6749 error replies; see form.h. */
#include "api/form.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/internal.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int kw_form_decode(const char *in, size_t len, int plus, char *out, size_t cap, size_t *out_len)
{
    size_t i, o = 0;

    if (cap == 0)
        return -1;
    for (i = 0; i < len; i++) {
        char ch = in[i];
        if (ch == '%') {
            int hi, lo;
            if (i + 2 >= len) /* needs in[i + 1] and in[i + 2] */
                return -1;
            hi = hexval(in[i + 1]);
            lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (char)(hi << 4 | lo);
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        if (ch == '\0' || o + 1 >= cap)
            return -1;
        out[o++] = ch;
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

enum kw_form_result kw_form_parse(const char *body, size_t len, struct kw_form *f)
{
    const char *p = body, *end = body + len;
    size_t at = 0, i;

    memset(f, 0, sizeof(*f));
    if (len > KW_FORM_BODY_MAX)
        return KW_FORM_TOO_LARGE;
    f->buf = malloc(len + 2 * KW_FORM_PARAMS_MAX + 2);
    if (f->buf == NULL)
        return KW_FORM_TOO_LARGE;
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp != NULL ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p)), *nend = eq != NULL ? eq : stop;
        struct kw_form_param *prm;
        size_t nlen = 0, vlen = 0;
        if (stop == p) {
            p = stop + 1;
            continue;
        }
        if (f->n >= KW_FORM_PARAMS_MAX)
            return KW_FORM_TOO_LARGE;
        prm = &f->p[f->n];
        if (kw_form_decode(p, (size_t)(nend - p), 1, f->buf + at, (size_t)(nend - p) + 1, &nlen) != 0)
            return KW_FORM_MALFORMED;
        prm->name = f->buf + at;
        at += nlen + 1;
        if (eq != NULL) {
            if (kw_form_decode(eq + 1, (size_t)(stop - eq - 1), 1, f->buf + at, (size_t)(stop - eq), &vlen) != 0)
                return KW_FORM_MALFORMED;
        } else {
            f->buf[at] = '\0';
        }
        prm->value = f->buf + at;
        prm->value_len = vlen;
        at += vlen + 1;
        for (i = 0; i < f->n; i++)
            if (strcmp(f->p[i].name, prm->name) == 0) {
                f->dup = prm->name;
                return KW_FORM_DUPLICATE;
            }
        f->n++;
        p = amp != NULL ? amp + 1 : NULL;
    }
    return KW_FORM_OK;
}

void kw_form_cleanup(struct kw_form *f)
{
    free(f->buf);
    memset(f, 0, sizeof(*f));
}

const char *kw_form_get(const struct kw_form *f, const char *name, size_t *len)
{
    size_t i;

    for (i = 0; i < f->n; i++)
        if (strcmp(f->p[i].name, name) == 0) {
            if (len != NULL)
                *len = f->p[i].value_len;
            return f->p[i].value;
        }
    return NULL;
}

int kw_form_content_type(const struct kw_api_req *req)
{
    static const char want[] = "application/x-www-form-urlencoded";
    size_t n = sizeof(want) - 1, len = req->content_type_len;
    const char *ct = req->content_type;

    if (ct == NULL || len < n || strncasecmp(ct, want, n) != 0)
        return 0;
    ct += n;
    len -= n;
    while (len > 0 && (*ct == ' ' || *ct == '\t'))
        ct++, len--;
    return len == 0 || *ct == ';';
}

void kw_api_oauth_error(struct kw_api_res *res, int status, const char *error, const char *description)
{
    json_t *o = json_pack("{s:s, s:s}", "error", error, "error_description", description);

    kw_api_json(res, status, o);
    kw_api_header_str(res, "Cache-Control", "no-store");
    kw_api_header_str(res, "Pragma", "no-cache");
    if (status == 401 && strcmp(error, "invalid_client") == 0)
        kw_api_header_str(res, "WWW-Authenticate", "Basic realm=\"keyward\", charset=\"UTF-8\"");
}
