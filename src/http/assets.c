/* assets.c - lookup in the embedded console table; see assets.h. */
#include "http/assets.h"

#include <string.h>

const struct kw_asset *kw_asset_find(const char *path, size_t len)
{
    static const char index_path[] = "/console/index.html";
    int i;

    if (len == 9 && memcmp(path, "/console/", 9) == 0) {
        path = index_path;
        len = sizeof(index_path) - 1;
    }
    for (i = 0; i < kw_assets_count; i++) {
        if (strlen(kw_assets[i].path) == len && memcmp(kw_assets[i].path, path, len) == 0)
            return &kw_assets[i];
    }
    return NULL;
}
