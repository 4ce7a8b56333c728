/* test_sniff.c - kw_sniff_media_type: each accepted signature, near misses, short inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/sniff.h"

#define SNIFF(lit) kw_sniff_media_type((const uint8_t *)(lit), sizeof(lit) - 1)

static void check(const char *want, const char *got)
{
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
}

static void test_accepted(void **state)
{
    (void)state;
    check("application/pdf", SNIFF("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"));
    check("image/png", SNIFF("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
    check("image/jpeg", SNIFF("\xff\xd8\xff\xe0\0\x10JFIF\0"));
    check("image/jpeg", SNIFF("\xff\xd8\xff\xe1\0\x10"
                              "Exif\0\0"));
    check("image/tiff", SNIFF("II*\0\x08\0\0\0"));
    check("image/tiff", SNIFF("MM\0*\0\0\0\x08"));
    check("image/gif", SNIFF("GIF89a\x01\0\x01\0"));
    check("image/gif", SNIFF("GIF87a\x01\0\x01\0"));
    check("image/webp", SNIFF("RIFF\x24\0\0\0WEBPVP8 "));
    /* an iPhone photo: ftyp heic, compatible mif1 heic */
    check("image/heic", SNIFF("\0\0\0\x18"
                              "ftypheic\0\0\0\0mif1heic"));
    check("image/heic", SNIFF("\0\0\0\x18"
                              "ftypmif1\0\0\0\0mif1heic"));
    check("image/heic", SNIFF("\0\0\0\x14"
                              "ftypheix\0\0\0\0mif1"));
    check("image/heic", SNIFF("\0\0\0\x14"
                              "ftyphevc\0\0\0\0msf1"));
    check("image/heif", SNIFF("\0\0\0\x14"
                              "ftypmif1\0\0\0\0mif1"));
    check("image/heif", SNIFF("\0\0\0\x10"
                              "ftypmsf1\0\0\0\0"));
}

static void test_refused(void **state)
{
    (void)state;
    check(NULL, SNIFF(""));
    check(NULL, SNIFF("%PDF")); /* truncated magic */
    check(NULL, SNIFF("hello, world"));
    check(NULL, SNIFF("<html><body>%PDF-1.7")); /* not at the start */
    check(NULL, SNIFF("\x89PNG\r\n\x1a"));
    check(NULL, SNIFF("\xff\xd8"));
    check(NULL, SNIFF("II*\x01"));
    check(NULL, SNIFF("GIF90a"));
    check(NULL, SNIFF("RIFF\x24\0\0\0WAVEfmt ")); /* a WAV file */
    check(NULL, SNIFF("\0\0\0\x18"
                      "ftypmp42\0\0\0\0isommp42")); /* an MP4 video */
    check(NULL, SNIFF("\0\0\0\x0c"
                      "ftypheic")); /* box too small to hold a brand we read */
    check(NULL, SNIFF("\0\0\0\x15"
                      "ftypheic\0\0\0\0mif1x")); /* size not a multiple of 4 */
    check(NULL, SNIFF("PK\x03\x04"));            /* zip / docx */
    /* the minor version field is not a brand */
    check(NULL, SNIFF("\0\0\0\x10"
                      "ftypisomheic"));
    assert_null(kw_sniff_media_type(NULL, 10));
}

/* The brand list is bounded by the box and by 64 bytes: a brand past either does not count. */
static void test_bounds(void **state)
{
    uint8_t buf[128];

    (void)state;
    memset(buf, 'x', sizeof(buf));
    memcpy(buf,
           "\0\0\0\x80"
           "ftypisom\0\0\0\0",
           16);
    memcpy(buf + 64, "heic", 4);
    assert_null(kw_sniff_media_type(buf, sizeof(buf)));
    memcpy(buf + 60, "heic", 4);
    check("image/heic", kw_sniff_media_type(buf, sizeof(buf)));
    memcpy(buf, "\0\0\0\x14", 4); /* the box ends at 20: the brand at 60 is outside it */
    assert_null(kw_sniff_media_type(buf, sizeof(buf)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
