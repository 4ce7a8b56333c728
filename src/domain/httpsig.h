/* httpsig.h - RFC 9421 HTTP Message Signatures, verification of hmac-sha256 signatures made with an
 * access key (keyid = accessKeyId; the key is the secret access key's bytes).
 *
 * Three steps, so the caller can look the key up between them:
 *   kw_httpsig_parse   Signature-Input + Signature (RFC 8941 dictionaries, core/sfv.h) -> the first
 *                      signature of Signature-Input that Signature carries: its covered components,
 *                      parameters and signature bytes;
 *   kw_httpsig_check   keyward's policy: alg absent or "hmac-sha256", a keyid, created within
 *                      KW_HTTPSIG_SKEW_S of now and expires (if any) not past, and coverage of
 *                      @method, @authority, @path, plus content-digest when the request has a body;
 *   kw_httpsig_verify  builds the signature base (RFC 9421 2.5) from the request, checks it against
 *                      the HMAC in constant time, and when content-digest is covered checks the
 *                      Content-Digest field (RFC 9530: sha-256 and/or sha-512) against the body.
 * Every refusal is its own code (kw_httpsig_code_str gives the stable string for a problem reply).
 *
 * Derived components: @method, @authority, @scheme, @target-uri, @request-target, @path, @query.
 * Fields: lower-case names, every line of the field trimmed and joined with ", ". Component
 * parameters (sf, key, bs, req, tr, name) are not supported, and neither are @query-param and @status. */
#ifndef KW_DOMAIN_HTTPSIG_H
#define KW_DOMAIN_HTTPSIG_H

#include <stddef.h>
#include <stdint.h>

#define KW_HTTPSIG_SKEW_S 300          /* created may be this far from now, either way */
#define KW_HTTPSIG_COMPONENTS_MAX 16   /* covered components of one signature */
#define KW_HTTPSIG_PARAMS_MAX 2048     /* the serialized @signature-params value */
#define KW_HTTPSIG_FIELD_MAX 4096      /* Signature-Input or Signature, bytes */
#define KW_HTTPSIG_BASE_MAX 16384      /* the signature base */
#define KW_HTTPSIG_KEYID_MAX 128
#define KW_HTTPSIG_SIG_MAX 64          /* signature bytes kept (HMAC-SHA256 has 32) */
#define KW_HTTPSIG_NAME_MAX 64         /* a covered component's name */

enum kw_httpsig_code {
    KW_HTTPSIG_OK = 0,
    KW_HTTPSIG_MALFORMED,         /* not a Signature-Input / Signature pair this parser reads */
    KW_HTTPSIG_UNSUPPORTED,       /* an algorithm, component or component parameter not supported */
    KW_HTTPSIG_COVERAGE,          /* a required component is not covered */
    KW_HTTPSIG_COMPONENT_MISSING, /* a covered field is not in the request */
    KW_HTTPSIG_STALE,             /* created missing, or more than KW_HTTPSIG_SKEW_S from now */
    KW_HTTPSIG_EXPIRED,           /* expires is past */
    KW_HTTPSIG_DIGEST_MALFORMED,  /* Content-Digest unreadable, or with no sha-256 / sha-512 */
    KW_HTTPSIG_DIGEST_MISMATCH,   /* Content-Digest does not match the body */
    KW_HTTPSIG_MISMATCH,          /* the HMAC does not match */
    KW_HTTPSIG_INTERNAL,          /* crypto or memory failure (not the client's fault) */
};

#define KW_HTTPSIG_B64_MAX 1024 /* longest base64 text kw_httpsig_b64_decode takes */

/* "SIGNATURE_MALFORMED", ...; never NULL. */
const char *kw_httpsig_code_str(enum kw_httpsig_code c);

/* One request field line; name in lower case (as h2o hands them over). */
struct kw_httpsig_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

/* The request as received. Pointers are borrowed. */
struct kw_httpsig_request {
    const char *method;
    size_t method_len;
    const char *scheme; /* "http" or "https" (NUL-terminated) */
    const char *authority; /* Host / :authority */
    size_t authority_len;
    const char *path; /* as sent, without the query */
    size_t path_len;
    const char *query; /* after '?', or NULL when the target has none */
    size_t query_len;
    const struct kw_httpsig_field *fields;
    size_t nfields;
    const char *body; /* body_len 0: no body */
    size_t body_len;
};

struct kw_httpsig_component {
    char name[KW_HTTPSIG_NAME_MAX];
};

struct kw_httpsig {
    char label[KW_HTTPSIG_NAME_MAX];
    size_t ncomponents;
    struct kw_httpsig_component components[KW_HTTPSIG_COMPONENTS_MAX];
    char keyid[KW_HTTPSIG_KEYID_MAX]; /* "" when absent */
    char alg[32];                     /* "" when absent */
    int has_created, has_expires;
    int64_t created, expires; /* unix seconds */
    char params[KW_HTTPSIG_PARAMS_MAX]; /* the @signature-params value, serialized (RFC 9421 2.3) */
    size_t params_len;
    uint8_t sig[KW_HTTPSIG_SIG_MAX];
    size_t sig_len;
    char sig_b64[KW_HTTPSIG_SIG_MAX * 2]; /* the signature as sent (base64), for the replay check */
};

/* Finds the field name (lower case) in r: every line's value trimmed of SP/HTAB, joined with ", ",
 * into out (cap bytes, NUL-terminated). 1 found, 0 absent, -1 too long. */
int kw_httpsig_field(const struct kw_httpsig_request *r, const char *name, char *out, size_t cap,
                     size_t *len);

enum kw_httpsig_code kw_httpsig_parse(const char *input, size_t input_len, const char *signature,
                                      size_t signature_len, struct kw_httpsig *out);
enum kw_httpsig_code kw_httpsig_check(const struct kw_httpsig *s, const struct kw_httpsig_request *r,
                                      int64_t now_s);
/* Writes the signature base into out (cap bytes, NUL-terminated), *len its length. */
enum kw_httpsig_code kw_httpsig_base(const struct kw_httpsig *s, const struct kw_httpsig_request *r, char *out,
                                     size_t cap, size_t *len);
enum kw_httpsig_code kw_httpsig_verify(const struct kw_httpsig *s, const struct kw_httpsig_request *r,
                                       const uint8_t *key, size_t key_len);
/* Standard base64 (RFC 4648 section 4) of at most KW_HTTPSIG_B64_MAX characters, padding optional (as
 * RFC 8941 byte sequences and seed 004's signature allow) but right when present: 0, or -1. */
int kw_httpsig_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);
/* RFC 9530: KW_HTTPSIG_OK when the Content-Digest value (a dictionary) has sha-256 and/or sha-512 and
 * every one of them matches body. Other algorithms are ignored. */
enum kw_httpsig_code kw_httpsig_content_digest(const char *value, size_t len, const char *body,
                                               size_t body_len);

#endif
