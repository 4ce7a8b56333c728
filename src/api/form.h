/* form.h - application/x-www-form-urlencoded bodies (the WHATWG URL standard's parser, as RFC 6749
 * appendix B uses it) for the /oauth endpoints, and RFC 6749 section 5.2 error replies.
 *
 * Parsing: '&'-separated name[=value] pairs, '+' as a space and %XX percent-decoding in both names and
 * values, empty pairs skipped. Stricter than WHATWG (which keeps a stray '%' as it is): a '%' not
 * followed by two hex digits, or one that decodes to NUL, makes the body malformed. A repeated name
 * is refused (RFC 6749 3.2: parameters MUST NOT be included more than once). */
#ifndef KW_API_FORM_H
#define KW_API_FORM_H

#include <stddef.h>

#include "api/api.h"

#define KW_FORM_PARAMS_MAX 16  /* parameters in one body */
#define KW_FORM_BODY_MAX 16384 /* bytes of body parsed */

enum kw_form_result {
    KW_FORM_OK = 0,
    KW_FORM_MALFORMED, /* bad percent-encoding, NUL */
    KW_FORM_DUPLICATE, /* a name came twice */
    KW_FORM_TOO_LARGE, /* more than KW_FORM_PARAMS_MAX parameters or KW_FORM_BODY_MAX bytes */
};

struct kw_form_param {
    const char *name;  /* NUL-terminated, in buf */
    const char *value; /* NUL-terminated, in buf */
    size_t value_len;
};

struct kw_form {
    size_t n;
    struct kw_form_param p[KW_FORM_PARAMS_MAX];
    char *buf; /* owned: the decoded names and values */
    const char *dup; /* KW_FORM_DUPLICATE: the repeated name (in buf) */
};

/* Parses len bytes of body into f (free it with kw_form_cleanup whatever the result). */
enum kw_form_result kw_form_parse(const char *body, size_t len, struct kw_form *f);
void kw_form_cleanup(struct kw_form *f);
/* The value of name, or NULL; *len (may be NULL) its length. */
const char *kw_form_get(const struct kw_form *f, const char *name, size_t *len);
/* Percent-decodes in (with '+' as a space when plus) into out (cap bytes, NUL-terminated): 0, or -1 on
 * a malformed escape, a NUL, or no room. *out_len the decoded length. */
int kw_form_decode(const char *in, size_t len, int plus, char *out, size_t cap, size_t *out_len);
/* 1 when the request's Content-Type is application/x-www-form-urlencoded (parameters allowed). */
int kw_form_content_type(const struct kw_api_req *req);

/* RFC 6749 5.2: {"error", "error_description"} as application/json with Cache-Control: no-store and
 * Pragma: no-cache; invalid_client at 401 also carries WWW-Authenticate: Basic realm="keyward". */
void kw_api_oauth_error(struct kw_api_res *res, int status, const char *error, const char *description);

#endif
