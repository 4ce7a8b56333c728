/* httpsig.c - RFC 9421 verification of hmac-sha256 signatures; see httpsig.h. */
#include "domain/httpsig.h"

#include <stdlib.h>
#include <string.h>

#include "core/sfv.h"
#include "crypto/crypto.h"
#include "crypto/digest.h"

const char *kw_httpsig_code_str(enum kw_httpsig_code c)
{
    switch (c) {
    case KW_HTTPSIG_OK:
        return "OK";
    case KW_HTTPSIG_MALFORMED:
        return "SIGNATURE_MALFORMED";
    case KW_HTTPSIG_UNSUPPORTED:
        return "SIGNATURE_UNSUPPORTED";
    case KW_HTTPSIG_COVERAGE:
        return "SIGNATURE_COVERAGE";
    case KW_HTTPSIG_COMPONENT_MISSING:
        return "SIGNATURE_COMPONENT_MISSING";
    case KW_HTTPSIG_STALE:
        return "SIGNATURE_STALE";
    case KW_HTTPSIG_EXPIRED:
        return "SIGNATURE_EXPIRED";
    case KW_HTTPSIG_DIGEST_MALFORMED:
        return "CONTENT_DIGEST_MALFORMED";
    case KW_HTTPSIG_DIGEST_MISMATCH:
        return "CONTENT_DIGEST_MISMATCH";
    case KW_HTTPSIG_MISMATCH:
        return "SIGNATURE_MISMATCH";
    case KW_HTTPSIG_INTERNAL:
        return "INTERNAL";
    }
    return "SIGNATURE_MALFORMED";
}

int kw_httpsig_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    char buf[KW_HTTPSIG_B64_MAX + 4];
    size_t pad = (4 - len % 4) % 4;

    *out_len = 0;
    if (len > KW_HTTPSIG_B64_MAX)
        return -1;
    if (pad == 0 || memchr(in, '=', len) != NULL)
        return kw_crypto_base64_decode(in, len, out, cap, out_len) == KW_OK ? 0 : -1;
    memcpy(buf, in, len);
    memset(buf + len, '=', pad);
    return kw_crypto_base64_decode(buf, len + pad, out, cap, out_len) == KW_OK ? 0 : -1;
}

static const char *const derived[] = {"@method", "@authority", "@scheme", "@target-uri",
                                      "@request-target", "@path", "@query"};

/* A field name: RFC 9110 token characters, lower case only (RFC 9421 2.1 lower-cases them). */
static int field_name_ok(const char *n)
{
    if (*n == '\0')
        return 0;
    for (; *n != '\0'; n++) {
        unsigned char ch = (unsigned char)*n;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL))
            return 0;
    }
    return 1;
}

/* The covered components of member m into out; MALFORMED / UNSUPPORTED as their names deserve. */
static enum kw_httpsig_code read_components(const struct kw_sf_dict *d, const struct kw_sf_member *m,
                                            struct kw_httpsig *out)
{
    size_t i, j;

    if (m->nitems > KW_HTTPSIG_COMPONENTS_MAX)
        return KW_HTTPSIG_MALFORMED;
    for (i = 0; i < m->nitems; i++) {
        const struct kw_sf_item *it = &d->items[m->item0 + i];
        char *name = out->components[i].name;
        int known = 0;
        if (it->v.type != KW_SF_STRING || kw_sf_string(&it->v, name, KW_HTTPSIG_NAME_MAX) != 0)
            return KW_HTTPSIG_MALFORMED;
        if (it->nparams > 0)
            return KW_HTTPSIG_UNSUPPORTED; /* sf, key, bs, req, tr, name */
        for (j = 0; j < i; j++)
            if (strcmp(out->components[j].name, name) == 0)
                return KW_HTTPSIG_MALFORMED; /* covered twice */
        if (name[0] == '@') {
            if (strcmp(name, "@signature-params") == 0)
                return KW_HTTPSIG_MALFORMED;
            for (j = 0; j < sizeof(derived) / sizeof(derived[0]); j++)
                known |= strcmp(name, derived[j]) == 0;
            if (!known)
                return KW_HTTPSIG_UNSUPPORTED;
        } else if (!field_name_ok(name)) {
            return KW_HTTPSIG_MALFORMED;
        }
    }
    out->ncomponents = m->nitems;
    return KW_HTTPSIG_OK;
}

/* The signature parameters (RFC 9421 2.3) of member m; unknown ones are kept in the serialization. */
static enum kw_httpsig_code read_params(const struct kw_sf_dict *d, const struct kw_sf_member *m,
                                        struct kw_httpsig *out)
{
    uint16_t i;

    for (i = m->item.param0; i < m->item.param0 + m->item.nparams; i++) {
        const struct kw_sf_param *p = &d->params[i];
        const struct kw_sf_bare *v = &p->v;
#define IS(k) (p->key_len == sizeof(k) - 1 && memcmp(p->key, k, p->key_len) == 0)
        if (IS("created") || IS("expires")) {
            if (v->type != KW_SF_INTEGER || v->i < 0)
                return KW_HTTPSIG_MALFORMED;
            if (IS("created")) {
                out->has_created = 1;
                out->created = v->i;
            } else {
                out->has_expires = 1;
                out->expires = v->i;
            }
        } else if (IS("keyid")) {
            if (kw_sf_string(v, out->keyid, sizeof(out->keyid)) != 0 || out->keyid[0] == '\0')
                return KW_HTTPSIG_MALFORMED;
        } else if (IS("alg")) {
            if (kw_sf_string(v, out->alg, sizeof(out->alg)) != 0)
                return v->type == KW_SF_STRING ? KW_HTTPSIG_UNSUPPORTED : KW_HTTPSIG_MALFORMED;
        } else if (IS("nonce") || IS("tag")) {
            if (v->type != KW_SF_STRING)
                return KW_HTTPSIG_MALFORMED;
        }
#undef IS
    }
    return KW_HTTPSIG_OK;
}

/* "(" components ")" ;params: the @signature-params value as RFC 9421 2.3 serializes it. */
static enum kw_httpsig_code serialize_params(const struct kw_sf_dict *d, const struct kw_sf_member *m,
                                             struct kw_httpsig *out)
{
    size_t at = 0, cap = sizeof(out->params);
    uint16_t i;

    out->params[at++] = '(';
    for (i = 0; i < m->nitems; i++) {
        if (i > 0) {
            if (at + 1 >= cap)
                return KW_HTTPSIG_MALFORMED;
            out->params[at++] = ' ';
        }
        if (kw_sf_serialize_bare(&d->items[m->item0 + i].v, out->params, cap, &at) != 0)
            return KW_HTTPSIG_MALFORMED;
    }
    if (at + 1 >= cap)
        return KW_HTTPSIG_MALFORMED;
    out->params[at++] = ')';
    out->params[at] = '\0';
    if (kw_sf_serialize_params(d, m->item.param0, m->item.nparams, out->params, cap, &at) != 0)
        return KW_HTTPSIG_MALFORMED;
    out->params_len = at;
    return KW_HTTPSIG_OK;
}

/* The signature's bytes from the Signature member of the same label. */
static enum kw_httpsig_code read_signature(const struct kw_sf_member *s, struct kw_httpsig *out)
{
    if (s->inner || s->item.v.type != KW_SF_BYTES || s->item.v.len >= sizeof(out->sig_b64))
        return KW_HTTPSIG_MALFORMED;
    if (kw_httpsig_b64_decode(s->item.v.p, s->item.v.len, out->sig, sizeof(out->sig), &out->sig_len) != 0)
        return KW_HTTPSIG_MALFORMED;
    memcpy(out->sig_b64, s->item.v.p, s->item.v.len);
    out->sig_b64[s->item.v.len] = '\0';
    return KW_HTTPSIG_OK;
}

enum kw_httpsig_code kw_httpsig_parse(const char *input, size_t input_len, const char *signature,
                                      size_t signature_len, struct kw_httpsig *out)
{
    struct kw_sf_dict *in = NULL, *sig = NULL;
    const struct kw_sf_member *m = NULL, *s = NULL;
    enum kw_httpsig_code code = KW_HTTPSIG_MALFORMED;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (input == NULL || signature == NULL || input_len > KW_HTTPSIG_FIELD_MAX ||
        signature_len > KW_HTTPSIG_FIELD_MAX)
        return KW_HTTPSIG_MALFORMED;
    in = malloc(sizeof(*in));
    sig = malloc(sizeof(*sig));
    if (in == NULL || sig == NULL) {
        code = KW_HTTPSIG_INTERNAL;
        goto out;
    }
    if (kw_sf_parse_dict(input, input_len, in) != 0 || kw_sf_parse_dict(signature, signature_len, sig) != 0)
        goto out;
    for (i = 0; i < in->n && s == NULL; i++) {
        char label[KW_HTTPSIG_NAME_MAX];
        m = &in->m[i];
        if (!m->inner || m->key_len >= sizeof(label))
            goto out;
        memcpy(label, m->key, m->key_len);
        label[m->key_len] = '\0';
        if ((s = kw_sf_dict_get(sig, label)) != NULL)
            memcpy(out->label, label, m->key_len + 1);
    }
    if (s == NULL)
        goto out; /* no signature that Signature-Input describes */
    if ((code = read_signature(s, out)) != KW_HTTPSIG_OK || (code = read_components(in, m, out)) != KW_HTTPSIG_OK ||
        (code = read_params(in, m, out)) != KW_HTTPSIG_OK)
        goto out;
    code = serialize_params(in, m, out);
out:
    free(in);
    free(sig);
    return code;
}

static int covers(const struct kw_httpsig *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->ncomponents; i++)
        if (strcmp(s->components[i].name, name) == 0)
            return 1;
    return 0;
}

enum kw_httpsig_code kw_httpsig_check(const struct kw_httpsig *s, const struct kw_httpsig_request *r,
                                      int64_t now_s)
{
    if (s->alg[0] != '\0' && strcmp(s->alg, "hmac-sha256") != 0)
        return KW_HTTPSIG_UNSUPPORTED;
    if (s->keyid[0] == '\0')
        return KW_HTTPSIG_MALFORMED;
    if (!s->has_created || s->created > now_s + KW_HTTPSIG_SKEW_S || s->created < now_s - KW_HTTPSIG_SKEW_S)
        return KW_HTTPSIG_STALE;
    if (s->has_expires && now_s > s->expires)
        return KW_HTTPSIG_EXPIRED;
    if (!covers(s, "@method") || !covers(s, "@authority") || !covers(s, "@path"))
        return KW_HTTPSIG_COVERAGE;
    if (r->body_len > 0 && !covers(s, "content-digest"))
        return KW_HTTPSIG_COVERAGE;
    return KW_HTTPSIG_OK;
}

int kw_httpsig_field(const struct kw_httpsig_request *r, const char *name, char *out, size_t cap, size_t *len)
{
    size_t i, n = strlen(name), at = 0;
    int found = 0;

    if (cap == 0)
        return -1;
    out[0] = '\0';
    for (i = 0; i < r->nfields; i++) {
        const struct kw_httpsig_field *f = &r->fields[i];
        const char *v = f->value, *e = f->value + f->value_len;
        if (f->name_len != n || memcmp(f->name, name, n) != 0)
            continue;
        while (v < e && (*v == ' ' || *v == '\t'))
            v++;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((found ? 2 : 0) + (size_t)(e - v) >= cap - at)
            return -1;
        if (found) {
            memcpy(out + at, ", ", 2);
            at += 2;
        }
        memcpy(out + at, v, (size_t)(e - v));
        at += (size_t)(e - v);
        found = 1;
    }
    out[at] = '\0';
    *len = at;
    return found;
}

struct base {
    char *out;
    size_t cap, at;
};

static int add(struct base *b, const char *p, size_t len)
{
    if (len >= b->cap - b->at)
        return -1;
    memcpy(b->out + b->at, p, len);
    b->at += len;
    b->out[b->at] = '\0';
    return 0;
}

#define ADDS(b, s) add(b, s, strlen(s))

/* @authority (RFC 9421 2.2.3): lower case, without the scheme's default port. */
static int add_authority(struct base *b, const struct kw_httpsig_request *r)
{
    size_t i, n = r->authority_len;
    const char *dflt = strcmp(r->scheme, "https") == 0 ? ":443" : ":80";

    if (n > strlen(dflt) && memcmp(r->authority + n - strlen(dflt), dflt, strlen(dflt)) == 0)
        n -= strlen(dflt);
    if (n >= b->cap - b->at)
        return -1;
    for (i = 0; i < n; i++) {
        char ch = r->authority[i];
        b->out[b->at++] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
    }
    b->out[b->at] = '\0';
    return 0;
}

static int add_path(struct base *b, const struct kw_httpsig_request *r)
{
    return r->path_len > 0 ? add(b, r->path, r->path_len) : add(b, "/", 1);
}

static int add_query(struct base *b, const struct kw_httpsig_request *r, int always)
{
    if (r->query == NULL)
        return always ? add(b, "?", 1) : 0;
    return add(b, "?", 1) || add(b, r->query, r->query_len) ? -1 : 0;
}

/* The value of one component; COMPONENT_MISSING for an absent field. */
static enum kw_httpsig_code add_value(struct base *b, const struct kw_httpsig_request *r, const char *name)
{
    size_t len = 0;
    int rc;

    if (strcmp(name, "@method") == 0)
        rc = add(b, r->method, r->method_len);
    else if (strcmp(name, "@authority") == 0)
        rc = add_authority(b, r);
    else if (strcmp(name, "@scheme") == 0)
        rc = ADDS(b, r->scheme);
    else if (strcmp(name, "@target-uri") == 0)
        rc = ADDS(b, r->scheme) || ADDS(b, "://") || add_authority(b, r) || add_path(b, r) || add_query(b, r, 0);
    else if (strcmp(name, "@request-target") == 0)
        rc = add_path(b, r) || add_query(b, r, 0);
    else if (strcmp(name, "@path") == 0)
        rc = add_path(b, r);
    else if (strcmp(name, "@query") == 0)
        rc = add_query(b, r, 1);
    else if (name[0] == '@')
        return KW_HTTPSIG_UNSUPPORTED;
    else {
        rc = kw_httpsig_field(r, name, b->out + b->at, b->cap - b->at, &len);
        if (rc == 0)
            return KW_HTTPSIG_COMPONENT_MISSING;
        if (rc > 0)
            b->at += len;
        rc = rc < 0 ? -1 : 0;
    }
    return rc != 0 ? KW_HTTPSIG_MALFORMED : KW_HTTPSIG_OK;
}

enum kw_httpsig_code kw_httpsig_base(const struct kw_httpsig *s, const struct kw_httpsig_request *r, char *out,
                                     size_t cap, size_t *len)
{
    struct base b = {out, cap, 0};
    enum kw_httpsig_code code;
    size_t i;

    if (cap == 0)
        return KW_HTTPSIG_MALFORMED;
    out[0] = '\0';
    for (i = 0; i < s->ncomponents; i++) {
        const char *name = s->components[i].name;
        if (ADDS(&b, "\"") || ADDS(&b, name) || ADDS(&b, "\": "))
            return KW_HTTPSIG_MALFORMED;
        if ((code = add_value(&b, r, name)) != KW_HTTPSIG_OK)
            return code;
        if (ADDS(&b, "\n"))
            return KW_HTTPSIG_MALFORMED;
    }
    if (ADDS(&b, "\"@signature-params\": ") || add(&b, s->params, s->params_len))
        return KW_HTTPSIG_MALFORMED;
    *len = b.at;
    return KW_HTTPSIG_OK;
}

enum kw_httpsig_code kw_httpsig_content_digest(const char *value, size_t len, const char *body, size_t body_len)
{
    static const char *const algs[] = {"sha-256", "sha-512"};
    struct kw_sf_dict *d = malloc(sizeof(*d));
    enum kw_httpsig_code code = KW_HTTPSIG_DIGEST_MALFORMED;
    int checked = 0;
    size_t i;

    if (d == NULL)
        return KW_HTTPSIG_INTERNAL;
    if (kw_sf_parse_dict(value, len, d) != 0)
        goto out;
    for (i = 0; i < 2; i++) {
        const struct kw_sf_member *m = kw_sf_dict_get(d, algs[i]);
        uint8_t want[KW_SHA512_LEN], got[KW_SHA512_LEN + 3];
        size_t want_len = i == 0 ? KW_SHA256_LEN : KW_SHA512_LEN, got_len = 0;
        if (m == NULL)
            continue;
        if (m->inner || m->item.v.type != KW_SF_BYTES ||
            kw_httpsig_b64_decode(m->item.v.p, m->item.v.len, got, sizeof(got), &got_len) != 0)
            goto out;
        if ((i == 0 ? kw_crypto_sha256(body, body_len, want) : kw_crypto_sha512(body, body_len, want)) != KW_OK) {
            code = KW_HTTPSIG_INTERNAL;
            goto out;
        }
        if (got_len != want_len || !kw_crypto_equal(got, want, want_len)) {
            code = KW_HTTPSIG_DIGEST_MISMATCH;
            goto out;
        }
        checked++;
    }
    code = checked > 0 ? KW_HTTPSIG_OK : KW_HTTPSIG_DIGEST_MALFORMED;
out:
    free(d);
    return code;
}

enum kw_httpsig_code kw_httpsig_verify(const struct kw_httpsig *s, const struct kw_httpsig_request *r,
                                       const uint8_t *key, size_t key_len)
{
    char *base = malloc(KW_HTTPSIG_BASE_MAX);
    uint8_t mac[KW_HMAC_SHA256_LEN];
    enum kw_httpsig_code code;
    size_t len = 0;

    if (base == NULL)
        return KW_HTTPSIG_INTERNAL;
    if ((code = kw_httpsig_base(s, r, base, KW_HTTPSIG_BASE_MAX, &len)) != KW_HTTPSIG_OK)
        goto out;
    if (kw_crypto_hmac_sha256(key, key_len, base, len, mac) != KW_OK) {
        code = KW_HTTPSIG_INTERNAL;
        goto out;
    }
    if (s->sig_len != sizeof(mac) || !kw_crypto_equal(s->sig, mac, sizeof(mac))) {
        code = KW_HTTPSIG_MISMATCH;
        goto out;
    }
    if (covers(s, "content-digest")) {
        /* the field was in the base, so it is there; reuse the buffer for its value */
        if (kw_httpsig_field(r, "content-digest", base, KW_HTTPSIG_BASE_MAX, &len) != 1) {
            code = KW_HTTPSIG_COMPONENT_MISSING;
            goto out;
        }
        code = kw_httpsig_content_digest(base, len, r->body, r->body_len);
    }
out:
    free(base);
    return code;
}
