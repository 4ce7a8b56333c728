/* sfv.h - a strict parser for RFC 8941 structured field values: the Dictionary, Inner List, Item and
 * Parameters subset that HTTP Message Signatures (RFC 9421: Signature-Input, Signature) and RFC 9530
 * (Content-Digest) use. No allocation: the result is a bounded table of spans into the input, so the
 * input must outlive it. Stricter than RFC 8941 in two ways, both refusals: a repeated dictionary key
 * or parameter key (the RFC keeps the last one; a signature header that says two things is refused),
 * and more members, items or parameters than the caps below. */
#ifndef KW_CORE_SFV_H
#define KW_CORE_SFV_H

#include <stddef.h>
#include <stdint.h>

#define KW_SF_INPUT_MAX 8192 /* longest field value parsed, bytes */
#define KW_SF_MEMBERS_MAX 16 /* dictionary members */
#define KW_SF_ITEMS_MAX 64   /* items in all inner lists together */
#define KW_SF_PARAMS_MAX 64  /* parameters in the whole value */

enum kw_sf_type {
    KW_SF_INTEGER, /* i */
    KW_SF_DECIMAL, /* p/len: the text as sent */
    KW_SF_STRING,  /* p/len: the characters between the quotes, escapes (\" \\) still in */
    KW_SF_TOKEN,   /* p/len */
    KW_SF_BYTES,   /* p/len: the base64 text between the colons */
    KW_SF_BOOLEAN, /* i: 0 or 1 */
};

struct kw_sf_bare {
    enum kw_sf_type type;
    int64_t i;
    const char *p;
    size_t len;
};

struct kw_sf_param {
    const char *key;
    size_t key_len;
    struct kw_sf_bare v; /* a parameter without "=" is BOOLEAN 1 */
};

struct kw_sf_item {
    struct kw_sf_bare v;
    uint16_t param0, nparams; /* params[param0 .. param0 + nparams) */
};

struct kw_sf_member {
    const char *key;
    size_t key_len;
    int inner;            /* 1: an inner list (items[item0 ..] with the list's parameters); 0: item */
    struct kw_sf_item item; /* the item, or (inner) only param0/nparams: the inner list's parameters */
    uint16_t item0, nitems;
};

struct kw_sf_dict {
    size_t n, nitems, nparams;
    struct kw_sf_member m[KW_SF_MEMBERS_MAX];
    struct kw_sf_item items[KW_SF_ITEMS_MAX];
    struct kw_sf_param params[KW_SF_PARAMS_MAX];
};

/* Parses s (len bytes, no NUL needed) as a Dictionary. 0, or -1 when it is not one (or exceeds a cap). */
int kw_sf_parse_dict(const char *s, size_t len, struct kw_sf_dict *out);
/* The member named key, or NULL. */
const struct kw_sf_member *kw_sf_dict_get(const struct kw_sf_dict *d, const char *key);
/* Serializes bare item v (RFC 8941 4.1) into out at *at (cap bytes in all): 0, or -1 if it does not fit.
 * Strings, tokens, bytes and decimals are written as they were sent (which is canonical for what this
 * parser accepts, padding of bytes aside). */
int kw_sf_serialize_bare(const struct kw_sf_bare *v, char *out, size_t cap, size_t *at);
/* Serializes params[first .. first + n) as ";key[=value]" each. */
int kw_sf_serialize_params(const struct kw_sf_dict *d, uint16_t first, uint16_t n, char *out, size_t cap,
                           size_t *at);
/* Copies string v (KW_SF_STRING) into out without its escapes, NUL-terminated: 0, or -1 if it does not
 * fit in cap bytes. */
int kw_sf_string(const struct kw_sf_bare *v, char *out, size_t cap);

#endif
