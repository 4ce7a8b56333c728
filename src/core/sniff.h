/* sniff.h - a document's media type from its first bytes (magic numbers), never from what the client
 * declared. The types keyward accepts for ingest: PDF, PNG, JPEG, TIFF, HEIC/HEIF, WebP and GIF. */
#ifndef KW_CORE_SNIFF_H
#define KW_CORE_SNIFF_H

#include <stddef.h>
#include <stdint.h>

/* The media type of data[0..len) ("application/pdf", "image/png", "image/jpeg", "image/tiff",
 * "image/heic", "image/heif", "image/webp", "image/gif"), a static string; NULL when the bytes match
 * none of them (the caller answers 415). Reads at most the first 64 bytes. */
const char *kw_sniff_media_type(const uint8_t *data, size_t len);

#endif
