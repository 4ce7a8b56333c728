/* multipart.h - multipart/form-data request bodies (RFC 7578 over RFC 2046's framing), strict and
 * bounded, for POST /api/v1/ingest.
 *
 * The boundary comes from the Content-Type's boundary parameter (1..70 characters of RFC 2046's bchars,
 * token or quoted-string). The body must start with the first dash-boundary (no preamble) and end with
 * the close delimiter (anything after it, the epilogue, is ignored). Each part has at most
 * KW_MULTIPART_HEADERS_MAX header lines in at most KW_MULTIPART_HEADER_BYTES bytes (no folding, RFC
 * 7578 4.8), a Content-Disposition of type form-data with a name, optionally a filename and a
 * Content-Type. A delimiter found where it is not followed by "--" or CRLF is an error (RFC 2046 5.1.1:
 * the boundary must not occur inside a part). Part data is not copied: it points into the body. */
#ifndef KW_API_MULTIPART_H
#define KW_API_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define KW_MULTIPART_PARTS_MAX 4       /* parts in one body */
#define KW_MULTIPART_HEADERS_MAX 8     /* header lines of one part */
#define KW_MULTIPART_HEADER_BYTES 2048 /* bytes of one part's header block, up to its blank line */
#define KW_MULTIPART_BOUNDARY_MAX 70   /* RFC 2046 */
#define KW_MULTIPART_NAME_MAX 64       /* a part's name */
#define KW_MULTIPART_FILENAME_MAX 255  /* a part's filename (bytes, after unquoting) */
#define KW_MULTIPART_TYPE_MAX 127      /* a part's Content-Type value */

enum kw_multipart_result {
    KW_MULTIPART_OK = 0,
    KW_MULTIPART_NOT_MULTIPART, /* the Content-Type is not multipart/form-data */
    KW_MULTIPART_BAD_BOUNDARY,  /* no boundary parameter, or not 1..70 bchars */
    KW_MULTIPART_MALFORMED,     /* framing, a header line, Content-Disposition */
    KW_MULTIPART_TOO_MANY,      /* more than KW_MULTIPART_PARTS_MAX parts or _HEADERS_MAX header lines */
    KW_MULTIPART_TOO_LARGE,     /* a header block, name, filename or Content-Type over its cap */
};

struct kw_multipart_part {
    char name[KW_MULTIPART_NAME_MAX + 1];         /* Content-Disposition name, unquoted */
    char filename[KW_MULTIPART_FILENAME_MAX + 1]; /* its filename, unquoted; "" when none */
    int has_filename;                             /* 1 when a filename parameter came (even "") */
    char content_type[KW_MULTIPART_TYPE_MAX + 1]; /* the part's Content-Type as sent; "" when none */
    const uint8_t *data;                          /* the part's bytes, inside the body (borrowed) */
    size_t len;
};

struct kw_multipart {
    size_t n;
    struct kw_multipart_part parts[KW_MULTIPART_PARTS_MAX];
};

/* Parses body[0..len) framed by the boundary of content_type[0..ctlen). On KW_MULTIPART_OK, out->parts
 * [0..n) are the parts in order; their data points into body, which must outlive them. */
enum kw_multipart_result kw_multipart_parse(const char *content_type, size_t ctlen, const uint8_t *body,
                                            size_t len, struct kw_multipart *out);

/* The same, telling done(ctx, from, to) of each stretch of part data the search for a delimiter has
 * passed (a MiB at a time), so a caller can give those pages back (core/pages.h) while a large body is
 * scanned. done may be NULL. */
typedef void (*kw_multipart_scanned_fn)(void *ctx, const uint8_t *from, const uint8_t *to);
enum kw_multipart_result kw_multipart_parse_scan(const char *content_type, size_t ctlen, const uint8_t *body,
                                                 size_t len, struct kw_multipart *out, kw_multipart_scanned_fn done,
                                                 void *ctx);

/* The part named name, or NULL; *count (may be NULL) how many parts carry that name. */
const struct kw_multipart_part *kw_multipart_get(const struct kw_multipart *m, const char *name, int *count);

/* A short English reason for a result ("more than 4 parts"), static. */
const char *kw_multipart_reason(enum kw_multipart_result r);

#endif
