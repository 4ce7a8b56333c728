/* sniff.c - magic-byte media types (see sniff.h). The signatures follow the formats' own specs:
 * PDF 1.7 (ISO 32000) "%PDF-", PNG (RFC 2083) 8-byte signature, JPEG/JFIF SOI FF D8 FF, TIFF 6.0
 * "II*\0" / "MM\0*", ISO BMFF (ISO/IEC 14496-12) "ftyp" box with a HEIF brand (ISO/IEC 23008-12),
 * RIFF....WEBP, GIF87a / GIF89a. */
#include "core/sniff.h"

#include <string.h>

static int starts(const uint8_t *d, size_t len, const char *magic, size_t mlen)
{
    return len >= mlen && memcmp(d, magic, mlen) == 0;
}

/* An ISO BMFF file starts with a box: 4-byte big-endian size, "ftyp", major brand, minor version,
 * compatible brands. The major brand or any compatible brand inside the box decides. */
static const char *heif_brand(const uint8_t *d, size_t len)
{
    static const struct {
        const char brand[5], *type;
    } brands[] = {
        {"heic", "image/heic"}, {"heix", "image/heic"}, {"hevc", "image/heic"},
        {"heim", "image/heic"}, {"heis", "image/heic"}, {"hevm", "image/heic"},
        {"hevs", "image/heic"}, {"mif1", "image/heif"}, {"msf1", "image/heif"},
    };
    uint32_t box;
    size_t end, off, i;
    const char *found = NULL;

    if (len < 16 || memcmp(d + 4, "ftyp", 4) != 0)
        return NULL;
    box = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    if (box < 16 || box % 4 != 0)
        return NULL;
    end = box < len ? box : len;
    if (end > 64)
        end = 64;
    for (off = 8; off + 4 <= end; off += 4) {
        if (off == 12)
            continue; /* minor version, not a brand */
        for (i = 0; i < sizeof(brands) / sizeof(brands[0]); i++) {
            if (memcmp(d + off, brands[i].brand, 4) != 0)
                continue;
            /* a HEVC-coded brand anywhere makes it HEIC; otherwise the first HEIF structural brand */
            if (strcmp(brands[i].type, "image/heic") == 0)
                return brands[i].type;
            if (found == NULL)
                found = brands[i].type;
        }
    }
    return found;
}

const char *kw_sniff_media_type(const uint8_t *data, size_t len)
{
    if (data == NULL)
        return NULL;
    if (starts(data, len, "%PDF-", 5))
        return "application/pdf";
    if (starts(data, len, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (starts(data, len, "\xff\xd8\xff", 3))
        return "image/jpeg";
    if (starts(data, len, "II*\0", 4) || starts(data, len, "MM\0*", 4))
        return "image/tiff";
    if (starts(data, len, "GIF87a", 6) || starts(data, len, "GIF89a", 6))
        return "image/gif";
    if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return "image/webp";
    return heif_brand(data, len);
}
