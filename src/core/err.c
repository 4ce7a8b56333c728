/* err.c - names of enum kw_err for logs. */
#include "core/err.h"

static const char *const names[] = {
    "ok", "nomem", "invalid", "not_found", "conflict", "exists", "too_large", "malformed", "store", "crypto", "io",
    "internal",
};

const char *kw_err_str(enum kw_err err)
{
    if ((unsigned)err >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[err];
}
