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
    return 0;
}

void kw_api_fail_ambiguous(struct kw_api_ctx *c, struct kw_api_res *res)
{
    kw_api_fail(c, res, 400, "AMBIGUOUS_CREDENTIALS",
                "Send one credential: a single Authorization: Bearer header or a single X-API-Key header "
                "(both only when they carry the same key).",
                NULL);
}
