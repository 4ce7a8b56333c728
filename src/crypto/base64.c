/* base64.c - base64 and base64url (RFC 4648) on OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock, with the
 * strictness OpenSSL lacks (it skips whitespace and accepts misplaced padding): see crypto.h. */
#include "crypto/crypto.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static size_t encode(const void *in, size_t len, char *out, size_t cap, int url)
{
    size_t n, i;

    if (len > 0x3fffffff || cap < KW_BASE64_LEN(len))
        return 0;
    n = (size_t)EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    if (!url)
        return n;
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return n;
}

size_t kw_crypto_base64_encode(const void *in, size_t len, char *out, size_t cap)
{
    return encode(in, len, out, cap, 0);
}

size_t kw_crypto_base64url_encode(const void *in, size_t len, char *out, size_t cap)
{
    return encode(in, len, out, cap, 1);
}

static int is_alpha(char c, int url)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
        return 1;
    return url ? (c == '-' || c == '_') : (c == '+' || c == '/');
}

/* Checks the alphabet and padding, copies into a padded standard-alphabet buffer and decodes it. */
static enum kw_err decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len, int url)
{
    size_t body = len, pad, padded, n, i;
    char stackbuf[512], *buf = stackbuf;
    uint8_t *tmp;
    enum kw_err err = KW_ERR_MALFORMED;
    int got;

    *out_len = 0;
    if (!url) {
        if (len % 4 != 0)
            return KW_ERR_MALFORMED;
        while (body > 0 && len - body < 2 && in[body - 1] == '=')
            body--;
    }
    if (body % 4 == 1 || len > 0x3ffffff0)
        return KW_ERR_MALFORMED;
    for (i = 0; i < body; i++)
        if (!is_alpha(in[i], url))
            return KW_ERR_MALFORMED;
    pad = (4 - body % 4) % 4;
    if (!url && pad != len - body)
        return KW_ERR_MALFORMED;
    n = body / 4 * 3 + (body % 4 == 0 ? 0 : body % 4 - 1);
    if (n > cap)
        return KW_ERR_TOO_LARGE;
    padded = body + pad;
    if (padded + 3 > sizeof(stackbuf) && (buf = malloc(padded + 3)) == NULL)
        return KW_ERR_NOMEM;
    tmp = malloc(padded / 4 * 3 + 3);
    if (tmp == NULL) {
        err = KW_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < body; i++)
        buf[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    memset(buf + body, '=', pad);
    got = padded > 0 ? EVP_DecodeBlock(tmp, (unsigned char *)buf, (int)padded) : 0;
    if (got < 0 || (size_t)got < n)
        goto out;
    /* Non-canonical trailing bits (e.g. "QR==" for "A") would decode: refuse them so one value has
     * one encoding. */
    if (pad > 0) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        int v = (int)(strchr(alphabet, buf[body - 1]) - alphabet);
        if ((pad == 1 && (v & 3) != 0) || (pad == 2 && (v & 15) != 0))
            goto out;
    }
    memcpy(out, tmp, n);
    *out_len = n;
    err = KW_OK;
out:
    free(tmp);
    if (buf != stackbuf)
        free(buf);
    return err;
}

enum kw_err kw_crypto_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    return decode(in, len, out, cap, out_len, 0);
}

enum kw_err kw_crypto_base64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    return decode(in, len, out, cap, out_len, 1);
}
