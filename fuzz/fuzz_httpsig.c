/* libFuzzer driver: RFC 9421 Signature-Input / Signature parsing (and the RFC 8941 parser under it),
 * the signature base and the Content-Digest check must never read out of bounds or crash, whatever
 * the headers say. Input: Signature-Input, a newline, Signature (the whole input is also tried as a
 * Content-Digest value). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "domain/httpsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    static const struct kw_httpsig_field fields[] = {{"content-digest", 14, "sha-256=:AAAA:", 14},
                                                     {"date", 4, "today", 5}};
    struct kw_httpsig_request r = {"POST", 4, "http", "example.com", 11, "/p", 2, "q=1", 3, fields, 2, "{}", 2};
    struct kw_httpsig s;
    char *in = malloc(size + 1); /* exact-size copy so ASan sees any over-read */
    const char *nl;
    size_t ilen;

    if (in == NULL)
        return 0;
    if (!init) {
        kw_crypto_init();
        init = 1;
    }
    memcpy(in, data, size);
    nl = memchr(in, '\n', size);
    ilen = nl != NULL ? (size_t)(nl - in) : size;
    if (kw_httpsig_parse(in, ilen, nl != NULL ? nl + 1 : in, nl != NULL ? size - ilen - 1 : 0, &s) ==
        KW_HTTPSIG_OK) {
        if (strlen(s.params) != s.params_len || s.sig_len > KW_HTTPSIG_SIG_MAX)
            abort();
        kw_httpsig_check(&s, &r, 1700000000);
        kw_httpsig_verify(&s, &r, (const uint8_t *)"key", 3);
    }
    kw_httpsig_content_digest(in, size, "{}", 2);
    free(in);
    return 0;
}
