/* err.h - the one error enum every fallible function returns.
 * api/ maps each value to an HTTP status and a stable problem code in one table (api/problem.c). */
#ifndef KW_CORE_ERR_H
#define KW_CORE_ERR_H

enum kw_err {
    KW_OK = 0,
    KW_ERR_NOMEM,      /* allocation failed */
    KW_ERR_INVALID,    /* input failed validation (caller names the field) */
    KW_ERR_NOT_FOUND,  /* no such object */
    KW_ERR_CONFLICT,   /* state forbids the change (e.g. revoked key, service with live keys) */
    KW_ERR_EXISTS,     /* unique constraint: object already exists */
    KW_ERR_TOO_LARGE,  /* a size cap was exceeded */
    KW_ERR_MALFORMED,  /* a credential or token failed its format/checksum check */
    KW_ERR_RETRY,      /* the database may accept the same transaction if run again (busy, serialization
                        * failure, deadlock, lost connection); the domain reruns it a bounded number of times */
    KW_ERR_STORE,      /* the database failed (logged at the caller) */
    KW_ERR_CRYPTO,     /* OpenSSL/libargon2 failed (logged at the caller) */
    KW_ERR_IO,         /* a file or socket operation failed */
    KW_ERR_INTERNAL,   /* a bug or an impossible state */
    KW_ERR_UNAUTHORIZED, /* a credential (an OAuth client's secret, ...) was not accepted */
};

/* Short stable name of an error, for logs ("not_found"). Never NULL. */
const char *kw_err_str(enum kw_err err);

#endif
