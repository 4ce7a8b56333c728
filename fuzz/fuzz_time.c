/* libFuzzer driver: RFC 3339 parsing; accepted times must format and parse back to themselves. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), buf[KW_TIME_RFC3339_LEN];
    int64_t ms, again;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (kw_time_parse(s, &ms) == KW_OK && ms >= 0 && ms < 253402300800000LL) {
        kw_time_format(ms, buf);
        if (kw_time_parse(buf, &again) != KW_OK || again != ms)
            abort();
    }
    free(s);
    return 0;
}
