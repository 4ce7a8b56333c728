/* libFuzzer driver: kw_multipart_parse (api/multipart.c) over arbitrary Content-Type and body bytes;
 * the first byte splits the input between the two. Every part it returns must lie inside the body. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kw_multipart m;
    size_t ctlen, i;
    char *ct;
    uint8_t *body;

    if (size < 1)
        return 0;
    ctlen = data[0] % 96;
    if (ctlen > size - 1)
        ctlen = size - 1;
    ct = malloc(ctlen + 1);
    body = malloc(size - 1 - ctlen + 1); /* exact copies so ASan sees any read past either */
    if (ct == NULL || body == NULL)
        goto out;
    memcpy(ct, data + 1, ctlen);
    memcpy(body, data + 1 + ctlen, size - 1 - ctlen);
    if (kw_multipart_parse(ct, ctlen, body, size - 1 - ctlen, &m) == KW_MULTIPART_OK) {
        for (i = 0; i < m.n; i++)
            if (m.parts[i].data < body || m.parts[i].data + m.parts[i].len > body + (size - 1 - ctlen) ||
                strlen(m.parts[i].name) == 0)
                abort();
    }
out:
    free(ct);
    free(body);
    return 0;
}
