/* assets.h - the console's files, embedded at build time by cmake/embed_console.cmake. */
#ifndef KW_HTTP_ASSETS_H
#define KW_HTTP_ASSETS_H

#include <stddef.h>

struct kw_asset {
    const char *path; /* "/console/index.html" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct kw_asset kw_assets[]; /* ends with an all-zero entry */
extern const int kw_assets_count;

/* The asset for a request path ("/console/" means index.html), or NULL. */
const struct kw_asset *kw_asset_find(const char *path, size_t len);

#endif
