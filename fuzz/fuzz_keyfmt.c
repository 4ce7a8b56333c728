/* libFuzzer driver: the credential format gate must never read out of bounds or crash, and whatever
 * it accepts must be a string kw_keyfmt_generate could have produced (shape + checksum). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/keyfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1); /* exact-size copy so ASan sees any over-read */

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    if (kw_keyfmt_check(s, size) == KW_OK) {
        const char *u = memchr(s, '_', size);
        if (u == NULL || size - (size_t)(s + size - u) > KW_KEYFMT_PREFIX_MAX)
            abort();
    }
    free(s);
    return 0;
}
