/* sfv.c - RFC 8941 structured field values, the parsing algorithms of section 4.2 restricted to
 * Dictionaries (see sfv.h). Every loop advances through the input or fails, and every table has a
 * cap, so any input ends in at most len steps. */
#include "core/sfv.h"

#include <stdio.h>
#include <string.h>

struct cursor {
    const char *s;
    size_t len, pos;
    struct kw_sf_dict *d;
};

static int peek(const struct cursor *c)
{
    return c->pos < c->len ? (unsigned char)c->s[c->pos] : -1;
}

static int lcalpha(int ch)
{
    return ch >= 'a' && ch <= 'z';
}

static int alpha(int ch)
{
    return lcalpha(ch) || (ch >= 'A' && ch <= 'Z');
}

static int digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* RFC 9110 tchar, plus ':' and '/' (RFC 8941 sf-token). */
static int token_char(int ch)
{
    return ch > 0 && (alpha(ch) || digit(ch) || strchr("!#$%&'*+-.^_`|~:/", ch) != NULL);
}

static int b64_char(int ch)
{
    return ch > 0 && (alpha(ch) || digit(ch) || ch == '+' || ch == '/' || ch == '=');
}

static void skip_sp(struct cursor *c)
{
    while (peek(c) == ' ')
        c->pos++;
}

static void skip_ows(struct cursor *c)
{
    while (peek(c) == ' ' || peek(c) == '\t')
        c->pos++;
}

static int parse_key(struct cursor *c, const char **key, size_t *klen)
{
    size_t start = c->pos;
    int ch = peek(c);

    if (!lcalpha(ch) && ch != '*')
        return -1;
    while ((ch = peek(c)) >= 0 && (lcalpha(ch) || digit(ch) || ch == '_' || ch == '-' || ch == '.' || ch == '*'))
        c->pos++;
    *key = c->s + start;
    *klen = c->pos - start;
    return 0;
}

static int parse_number(struct cursor *c, struct kw_sf_bare *v)
{
    size_t start = c->pos, ndigits = 0, dot = 0, frac = 0;
    int neg = 0, ch;
    int64_t n = 0;

    if (peek(c) == '-') {
        neg = 1;
        c->pos++;
    }
    if (!digit(peek(c)))
        return -1;
    while ((ch = peek(c)) >= 0 && (digit(ch) || (ch == '.' && !dot))) {
        if (ch == '.') {
            if (ndigits > 12)
                return -1;
            dot = 1;
        } else if (dot) {
            frac++;
        } else {
            n = n * 10 + (ch - '0');
        }
        ndigits += ch != '.';
        c->pos++;
        if ((!dot && ndigits > 15) || frac > 3)
            return -1;
    }
    if (dot && frac == 0)
        return -1;
    v->type = dot ? KW_SF_DECIMAL : KW_SF_INTEGER;
    v->i = neg ? -n : n;
    v->p = c->s + start;
    v->len = c->pos - start;
    return 0;
}

static int parse_string(struct cursor *c, struct kw_sf_bare *v)
{
    size_t start;
    int ch;

    c->pos++; /* the opening quote */
    start = c->pos;
    while ((ch = peek(c)) >= 0) {
        if (ch == '\\') {
            c->pos++;
            ch = peek(c);
            if (ch != '"' && ch != '\\')
                return -1;
        } else if (ch == '"') {
            v->type = KW_SF_STRING;
            v->p = c->s + start;
            v->len = c->pos - start;
            c->pos++;
            return 0;
        } else if (ch < 0x20 || ch > 0x7e) {
            return -1;
        }
        c->pos++;
    }
    return -1; /* no closing quote */
}

static int parse_bare(struct cursor *c, struct kw_sf_bare *v)
{
    int ch = peek(c);
    size_t start;

    memset(v, 0, sizeof(*v));
    if (ch == '-' || digit(ch))
        return parse_number(c, v);
    if (ch == '"')
        return parse_string(c, v);
    if (ch == '?') {
        c->pos++;
        ch = peek(c);
        if (ch != '0' && ch != '1')
            return -1;
        c->pos++;
        v->type = KW_SF_BOOLEAN;
        v->i = ch == '1';
        return 0;
    }
    if (ch == ':') {
        start = ++c->pos;
        while (b64_char(peek(c)))
            c->pos++;
        if (peek(c) != ':')
            return -1;
        v->type = KW_SF_BYTES;
        v->p = c->s + start;
        v->len = c->pos - start;
        c->pos++;
        return 0;
    }
    if (alpha(ch) || ch == '*') {
        start = c->pos;
        while (token_char(peek(c)))
            c->pos++;
        v->type = KW_SF_TOKEN;
        v->p = c->s + start;
        v->len = c->pos - start;
        return 0;
    }
    return -1;
}

static int parse_params(struct cursor *c, uint16_t *first, uint16_t *n)
{
    struct kw_sf_dict *d = c->d;

    *first = (uint16_t)d->nparams;
    *n = 0;
    while (peek(c) == ';') {
        struct kw_sf_param *p;
        size_t i;
        c->pos++;
        skip_sp(c);
        if (d->nparams >= KW_SF_PARAMS_MAX)
            return -1;
        p = &d->params[d->nparams];
        if (parse_key(c, &p->key, &p->key_len) != 0)
            return -1;
        for (i = *first; i < d->nparams; i++)
            if (d->params[i].key_len == p->key_len && memcmp(d->params[i].key, p->key, p->key_len) == 0)
                return -1; /* repeated parameter */
        memset(&p->v, 0, sizeof(p->v));
        p->v.type = KW_SF_BOOLEAN;
        p->v.i = 1;
        if (peek(c) == '=') {
            c->pos++;
            if (parse_bare(c, &p->v) != 0)
                return -1;
        }
        d->nparams++;
        (*n)++;
    }
    return 0;
}

static int parse_item(struct cursor *c, struct kw_sf_item *it)
{
    if (parse_bare(c, &it->v) != 0)
        return -1;
    return parse_params(c, &it->param0, &it->nparams);
}

static int parse_inner_list(struct cursor *c, struct kw_sf_member *m)
{
    struct kw_sf_dict *d = c->d;
    int ch;

    c->pos++; /* '(' */
    m->inner = 1;
    m->item0 = (uint16_t)d->nitems;
    m->nitems = 0;
    for (;;) {
        skip_sp(c);
        if (peek(c) == ')') {
            c->pos++;
            return parse_params(c, &m->item.param0, &m->item.nparams);
        }
        if (d->nitems >= KW_SF_ITEMS_MAX)
            return -1;
        if (parse_item(c, &d->items[d->nitems]) != 0)
            return -1;
        d->nitems++;
        m->nitems++;
        ch = peek(c);
        if (ch != ' ' && ch != ')')
            return -1;
    }
}

int kw_sf_parse_dict(const char *s, size_t len, struct kw_sf_dict *out)
{
    struct cursor c = {s, len, 0, out};

    memset(out, 0, sizeof(*out));
    if (len > KW_SF_INPUT_MAX)
        return -1;
    skip_sp(&c);
    while (c.pos < c.len) {
        struct kw_sf_member *m;
        size_t i;
        if (out->n >= KW_SF_MEMBERS_MAX)
            return -1;
        m = &out->m[out->n];
        memset(m, 0, sizeof(*m));
        if (parse_key(&c, &m->key, &m->key_len) != 0)
            return -1;
        for (i = 0; i < out->n; i++)
            if (out->m[i].key_len == m->key_len && memcmp(out->m[i].key, m->key, m->key_len) == 0)
                return -1; /* repeated member */
        if (peek(&c) == '=') {
            c.pos++;
            if (peek(&c) == '(' ? parse_inner_list(&c, m) != 0 : parse_item(&c, &m->item) != 0)
                return -1;
        } else {
            m->item.v.type = KW_SF_BOOLEAN;
            m->item.v.i = 1;
            if (parse_params(&c, &m->item.param0, &m->item.nparams) != 0)
                return -1;
        }
        out->n++;
        skip_ows(&c);
        if (c.pos >= c.len)
            return 0;
        if (peek(&c) != ',')
            return -1;
        c.pos++;
        skip_ows(&c);
        if (c.pos >= c.len)
            return -1; /* trailing comma */
    }
    return out->n > 0 ? 0 : -1; /* an empty field is not a value this parser is asked for */
}

const struct kw_sf_member *kw_sf_dict_get(const struct kw_sf_dict *d, const char *key)
{
    size_t i, n = strlen(key);

    for (i = 0; i < d->n; i++)
        if (d->m[i].key_len == n && memcmp(d->m[i].key, key, n) == 0)
            return &d->m[i];
    return NULL;
}

static int put(char *out, size_t cap, size_t *at, const char *p, size_t len)
{
    if (len >= cap - *at) /* keep room for a NUL */
        return -1;
    memcpy(out + *at, p, len);
    *at += len;
    out[*at] = '\0';
    return 0;
}

int kw_sf_serialize_bare(const struct kw_sf_bare *v, char *out, size_t cap, size_t *at)
{
    char num[24];
    int n;

    switch (v->type) {
    case KW_SF_INTEGER:
        n = snprintf(num, sizeof(num), "%lld", (long long)v->i);
        return put(out, cap, at, num, (size_t)n);
    case KW_SF_BOOLEAN:
        return put(out, cap, at, v->i ? "?1" : "?0", 2);
    case KW_SF_STRING:
        return put(out, cap, at, "\"", 1) || put(out, cap, at, v->p, v->len) || put(out, cap, at, "\"", 1)
                   ? -1
                   : 0;
    case KW_SF_BYTES:
        return put(out, cap, at, ":", 1) || put(out, cap, at, v->p, v->len) || put(out, cap, at, ":", 1) ? -1
                                                                                                          : 0;
    case KW_SF_TOKEN:
    case KW_SF_DECIMAL:
        return put(out, cap, at, v->p, v->len);
    }
    return -1;
}

int kw_sf_serialize_params(const struct kw_sf_dict *d, uint16_t first, uint16_t n, char *out, size_t cap,
                           size_t *at)
{
    uint16_t i;

    for (i = first; i < first + n; i++) {
        const struct kw_sf_param *p = &d->params[i];
        if (put(out, cap, at, ";", 1) != 0 || put(out, cap, at, p->key, p->key_len) != 0)
            return -1;
        if (p->v.type == KW_SF_BOOLEAN && p->v.i == 1)
            continue; /* a true boolean parameter is its key alone */
        if (put(out, cap, at, "=", 1) != 0 || kw_sf_serialize_bare(&p->v, out, cap, at) != 0)
            return -1;
    }
    return 0;
}

int kw_sf_string(const struct kw_sf_bare *v, char *out, size_t cap)
{
    size_t i, o = 0;

    if (v->type != KW_SF_STRING)
        return -1;
    for (i = 0; i < v->len; i++) {
        if (v->p[i] == '\\')
            i++;
        if (o + 1 >= cap)
            return -1;
        out[o++] = v->p[i];
    }
    if (cap == 0)
        return -1;
    out[o] = '\0';
    return 0;
}
