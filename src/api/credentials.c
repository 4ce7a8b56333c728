/* credentials.c - the one reader of the credentials a request carries (Authorization: Bearer, X-API-Key,
 * the session cookie), used by the router, POST /keys/verify and GET /auth/check alike. */
#include <string.h>
#include <strings.h>

#include "api/internal.h"
#include "domain/accounts.h"

/* RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive (RFC 9110
 * section 11.1). Sets *tok and *len to the token (possibly empty) and returns 1, or 0 for another scheme. */
static int bearer(const char *v, size_t n, const char **tok, size_t *len)
{
    size_t i = 6;

    if (n < 7 || strncasecmp(v, "Bearer", 6) != 0 || v[6] != ' ')
        return 0;
    while (i < n && v[i] == ' ')
        i++;
    *tok = v + i;
    *len = n - i;
    return 1;
}

/* An RFC 9421 signed request: the signature is the credential, so a bearer or API key beside it is
 * ambiguous. Signature and Signature-Input may each come as several lines (RFC 9421: one dictionary),
 * joined into buffers owned by c. */
static int signed_request(const struct kw_api_req *req, struct kw_credentials *c)
{
    struct kw_httpsig_request *r = &c->request;
    size_t n = 0;

    if (c->bearer != NULL || c->api_key != NULL)
        return -1;
    c->signed_request = 1;
    r->method = req->method;
    r->method_len = req->method_len;
    r->scheme = req->scheme != NULL ? req->scheme : "http";
    r->authority = req->authority != NULL ? req->authority : "";
    r->authority_len = req->authority != NULL ? req->authority_len : 0;
    r->path = req->path;
    r->path_len = req->path_len;
    r->query = req->query;
    r->query_len = req->query_len;
    r->fields = req->fields;
    r->nfields = req->nfields;
    r->body = req->body;
    r->body_len = req->body != NULL ? req->body_len : 0;
    /* too long a field is left NULL: the parser then answers SIGNATURE_MALFORMED */
    if (kw_httpsig_field(r, "signature", c->sig_buf, sizeof(c->sig_buf), &n) == 1) {
        c->signature = c->sig_buf;
        c->signature_len = n;
    }
    if (kw_httpsig_field(r, "signature-input", c->input_buf, sizeof(c->input_buf), &n) == 1) {
        c->signature_input = c->input_buf;
        c->signature_input_len = n;
    }
    return 0;
}

int kw_api_credentials(const struct kw_api_req *req, struct kw_credentials *c)
{
    unsigned nauth = req->authorization_count, nkey = req->api_key_count;
    const char *tok = NULL;
    size_t len = 0;

    memset(c, 0, sizeof(*c));
    c->ip = req->ip;
    if (nauth == 0 && req->authorization != NULL)
        nauth = 1;
    if (nkey == 0 && req->api_key != NULL)
        nkey = 1;
    if (nauth > 1 || nkey > 1)
        return -1;
    if (req->authorization != NULL) {
        /* Any other scheme is a credential this server does not take: with an X-API-Key beside it,
         * which of the two was meant cannot be known. */
        if (!bearer(req->authorization, req->authorization_len, &tok, &len))
            return req->api_key != NULL ? -1 : 0;
        if (req->api_key != NULL && (req->api_key_len != len || memcmp(req->api_key, tok, len) != 0))
            return -1;
        c->bearer = tok;
        c->bearer_len = len;
    } else if (req->api_key != NULL) {
        c->api_key = req->api_key;
        c->api_key_len = req->api_key_len;
    }
    c->session = kw_api_cookie(req, KW_SESSION_COOKIE, &c->session_len);
    return req->fields != NULL ? signed_request(req, c) : 0;
}

const char *kw_api_denial_detail(const char *code)
{
    static const struct {
        const char *code, *detail;
    } details[] = {
        {"SIGNATURE_MALFORMED", "Signature and Signature-Input must be RFC 9421 fields: Signature-Input "
                                "sig=(\"@method\" ...);created=...;keyid=\"...\", Signature sig=:base64:."},
        {"SIGNATURE_UNSUPPORTED", "Only hmac-sha256 signatures over @method, @authority, @scheme, @target-uri, "
                                  "@request-target, @path, @query and header fields (without parameters)."},
        {"SIGNATURE_COVERAGE", "The signature must cover @method, @authority and @path, and content-digest when "
                               "the request has a body."},
        {"SIGNATURE_COMPONENT_MISSING", "The signature covers a header field the request does not carry."},
        {"SIGNATURE_STALE", "The signature's created parameter is missing or more than 300 seconds from now."},
        {"SIGNATURE_EXPIRED", "The signature's expires parameter is past."},
        {"CONTENT_DIGEST_MALFORMED", "Content-Digest must carry sha-256 or sha-512 as RFC 9530 describes."},
        {"CONTENT_DIGEST_MISMATCH", "Content-Digest does not match the request body."},
        {"SIGNATURE_MISMATCH", "The signature does not match the request (HMAC-SHA256 with the secret access "
                               "key over the RFC 9421 signature base)."},
        {"SIGNATURE_REPLAYED", "This signature was already used: sign every request anew."},
        {"ACCESS_KEY_NOT_FOUND", "No such access key (keyid must be an accessKeyId this server issued)."},
        {"ACCESS_KEY_DISABLED", "The access key, or its service user, is disabled."},
        {"ACCESS_KEY_UNREADABLE", "The access key's secret cannot be read with this server's master key."},
    };
    size_t i;

    for (i = 0; i < sizeof(details) / sizeof(details[0]); i++)
        if (strcmp(details[i].code, code) == 0)
            return details[i].detail;
    return "The credential is not valid.";
}

void kw_api_fail_ambiguous(struct kw_api_ctx *c, struct kw_api_res *res)
{
    kw_api_fail(c, res, 400, "AMBIGUOUS_CREDENTIALS",
                "Send one credential: a single Authorization: Bearer header or a single X-API-Key header "
                "(both only when they carry the same key).",
                NULL);
}
