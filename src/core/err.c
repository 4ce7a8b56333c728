/* err.c - names of enum kw_err for logs. */
#include "core/err.h"

static const char *const names[] = {
    [KW_OK] = "ok",
    [KW_ERR_NOMEM] = "nomem",
    [KW_ERR_INVALID] = "invalid",
    [KW_ERR_NOT_FOUND] = "not_found",
    [KW_ERR_CONFLICT] = "conflict",
    [KW_ERR_EXISTS] = "exists",
    [KW_ERR_TOO_LARGE] = "too_large",
    [KW_ERR_MALFORMED] = "malformed",
    [KW_ERR_RETRY] = "retry",
    [KW_ERR_STORE] = "store",
    [KW_ERR_CRYPTO] = "crypto",
    [KW_ERR_IO] = "io",
    [KW_ERR_INTERNAL] = "internal",
    [KW_ERR_UNAUTHORIZED] = "unauthorized",
};

const char *kw_err_str(enum kw_err err)
{
    if ((unsigned)err >= sizeof(names) / sizeof(names[0]))
        return "unknown";
    return names[err];
}
