/* test_multipart.c - kw_multipart_parse on bodies curl 7.88 produced (seed 002's curl captured off the
 * wire, and one with a UTF-8 filename curl percent-encoded a quote in), then the refusals: framing,
 * caps, Content-Disposition, boundaries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/multipart.h"

/* curl -X POST URL -H 'Authorization: Bearer x' -H 'X-Approver-Department: retail' -F 'file=@./document.pdf'
 *   -F 'metadata={"source_tag":"vkyc",...}' -- document.pdf holds a CRLF and a line that looks like a
 * boundary but is not this one. */
static const char seed_ct[] = "multipart/form-data; boundary=------------------------144d42dc52df98cf";
static const char seed_body[] = "--------------------------144d42dc52df98cf\r\n"
                                "Content-Disposition: form-data; name=\"file\"; filename=\"document.pdf\"\r\n"
                                "Content-Type: application/pdf\r\n"
                                "\r\n"
                                "%PDF-1.4\n"
                                "hello\r\n"
                                "--not-a-boundary\n"
                                "%%EOF\n"
                                "\r\n"
                                "--------------------------144d42dc52df98cf\r\n"
                                "Content-Disposition: form-data; name=\"metadata\"\r\n"
                                "\r\n"
                                "{\"source_tag\":\"vkyc\",\"external_id\":\"session-123\",\"document_"
                                "category\":\"kyc_vkyc\",\"department\":"
                                "\"retail\"}\r\n"
                                "--------------------------144d42dc52df98cf--\r\n";
static const char seed_file[] = "%PDF-1.4\nhello\r\n--not-a-boundary\n%%EOF\n";
static const char seed_meta[] = "{\"source_tag\":\"vkyc\",\"external_id\":\"session-123\",\"document_"
                                "category\":\"kyc_vkyc\",\"department\":"
                                "\"retail\"}";

/* curl -F 'file=@"./pho té.png";type=image/png;filename="a\"b té.png"' -F 'metadata={}' */
static const char other_ct[] = "multipart/form-data; boundary=------------------------b630ff6b6c8a8197";
static const char other_body[] =
    "--------------------------b630ff6b6c8a8197\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"a%22b t\xc3\xa9.png\"\r\n"
    "Content-Type: image/png\r\n"
    "\r\n"
    "\x89PNG\r\n"
    "\x1a\n"
    "IHDR\r\n"
    "--------------------------b630ff6b6c8a8197\r\n"
    "Content-Disposition: form-data; name=\"metadata\"\r\n"
    "\r\n"
    "{}\r\n"
    "--------------------------b630ff6b6c8a8197--\r\n";

static enum kw_multipart_result parse(const char *ct, const char *body, size_t len, struct kw_multipart *m)
{
    return kw_multipart_parse(ct, strlen(ct), (const uint8_t *)body, len, m);
}

#define PARSE_LIT(ct, lit, m) parse(ct, lit, sizeof(lit) - 1, m)

static void test_seed_curl(void **state)
{
    struct kw_multipart m;
    const struct kw_multipart_part *f, *md;
    int count;

    (void)state;
    assert_int_equal(PARSE_LIT(seed_ct, seed_body, &m), KW_MULTIPART_OK);
    assert_int_equal(m.n, 2);
    f = kw_multipart_get(&m, "file", &count);
    assert_non_null(f);
    assert_int_equal(count, 1);
    assert_string_equal(f->filename, "document.pdf");
    assert_true(f->has_filename);
    assert_string_equal(f->content_type, "application/pdf");
    assert_int_equal(f->len, sizeof(seed_file) - 1);
    assert_memory_equal(f->data, seed_file, f->len);
    /* the data points into the body: no copy */
    assert_true((const char *)f->data > seed_body && (const char *)f->data < seed_body + sizeof(seed_body));
    md = kw_multipart_get(&m, "metadata", NULL);
    assert_non_null(md);
    assert_false(md->has_filename);
    assert_string_equal(md->content_type, "");
    assert_int_equal(md->len, sizeof(seed_meta) - 1);
    assert_memory_equal(md->data, seed_meta, md->len);
    assert_null(kw_multipart_get(&m, "nope", &count));
    assert_int_equal(count, 0);
}

static void test_other_curl(void **state)
{
    struct kw_multipart m;
    const struct kw_multipart_part *f;

    (void)state;
    assert_int_equal(PARSE_LIT(other_ct, other_body, &m), KW_MULTIPART_OK);
    assert_int_equal(m.n, 2);
    f = kw_multipart_get(&m, "file", NULL);
    assert_string_equal(f->filename, "a%22b t\xc3\xa9.png");
    assert_string_equal(f->content_type, "image/png");
    assert_int_equal(f->len, 12);
    assert_memory_equal(f->data, "\x89PNG\r\n\x1a\nIHDR", 12);
    assert_int_equal(kw_multipart_get(&m, "metadata", NULL)->len, 2);
}

/* Quoted boundary, quoted-pair in a filename, empty parts (with and without the CRLF before the
 * delimiter: RFC 2046's body-part is headers [CRLF data]), padding after a boundary, an epilogue. */
static void test_variants(void **state)
{
    static const char body[] = "--a'b c\r\n"
                               "content-disposition: FORM-DATA ; name=x;filename=\"q\\\"\\\\.txt\"\r\n"
                               "X-Other: whatever\r\n"
                               "\r\n"
                               "\r\n"
                               "--a'b c \t\r\n"
                               "Content-Disposition: form-data; name=\"y\"\r\n"
                               "\r\n"
                               "--a'b c--\r\nepilogue, ignored\r\n";
    struct kw_multipart m;

    (void)state;
    assert_int_equal(PARSE_LIT("Multipart/Form-Data;charset=utf-8; boundary=\"a'b c\"", body, &m),
                     KW_MULTIPART_OK);
    assert_int_equal(m.n, 2);
    assert_string_equal(m.parts[0].name, "x");
    assert_string_equal(m.parts[0].filename, "q\"\\.txt");
    assert_int_equal(m.parts[0].len, 0);
    assert_string_equal(m.parts[1].name, "y");
    assert_int_equal(m.parts[1].len, 0);
    /* no parts at all */
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary=b", "--b--", &m), KW_MULTIPART_OK);
    assert_int_equal(m.n, 0);
}

static void test_content_type(void **state)
{
    static const char body[] = "--b--\r\n";
    struct kw_multipart m;

    (void)state;
    assert_int_equal(PARSE_LIT("application/json", body, &m), KW_MULTIPART_NOT_MULTIPART);
    assert_int_equal(PARSE_LIT("multipart/mixed; boundary=b", body, &m), KW_MULTIPART_NOT_MULTIPART);
    assert_int_equal(PARSE_LIT("multipart/form-datax; boundary=b", body, &m), KW_MULTIPART_NOT_MULTIPART);
    assert_int_equal(kw_multipart_parse(NULL, 0, (const uint8_t *)body, 7, &m), KW_MULTIPART_NOT_MULTIPART);
    assert_int_equal(PARSE_LIT("multipart/form-data", body, &m), KW_MULTIPART_BAD_BOUNDARY);
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary=", body, &m), KW_MULTIPART_BAD_BOUNDARY);
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary=\"\"", body, &m), KW_MULTIPART_BAD_BOUNDARY);
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary=b; boundary=b", body, &m),
                     KW_MULTIPART_BAD_BOUNDARY);
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary=\"b \"", body, &m), KW_MULTIPART_BAD_BOUNDARY);
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary=\"b<\"", body, &m), KW_MULTIPART_BAD_BOUNDARY);
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary=b;", body, &m), KW_MULTIPART_BAD_BOUNDARY);
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary=\"b", body, &m), KW_MULTIPART_BAD_BOUNDARY);
    /* 70 characters pass, 71 do not */
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary="
                               "0123456789012345678901234567890123456789012345678901234567890123456789",
                               "--0123456789012345678901234567890123456789012345678901234567890123456789--",
                               &m),
                     KW_MULTIPART_OK);
    assert_int_equal(PARSE_LIT("multipart/form-data; boundary="
                               "01234567890123456789012345678901234567890123456789012345678901234567890",
                               body, &m),
                     KW_MULTIPART_BAD_BOUNDARY);
}

#define CT "multipart/form-data; boundary=b"
#define CD "Content-Disposition: form-data; name=\"f\"\r\n"

static void test_malformed(void **state)
{
    struct kw_multipart m;

    (void)state;
    assert_int_equal(PARSE_LIT(CT, "", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "preamble\r\n--b--", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--bx\r\n" CD "\r\nv\r\n--b--", &m), KW_MULTIPART_MALFORMED);
    /* truncated: no closing delimiter */
    assert_int_equal(PARSE_LIT(CT, "--b\r\n" CD "\r\nvalue", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\n" CD "\r\nvalue\r\n--b", &m), KW_MULTIPART_MALFORMED);
    /* the boundary inside a part, not followed by CRLF or -- */
    assert_int_equal(PARSE_LIT(CT, "--b\r\n" CD "\r\nv\r\n--bogus\r\n--b--", &m), KW_MULTIPART_MALFORMED);
    /* headers: none, bare LF, no colon, folding, controls, missing/duplicate disposition or name */
    assert_int_equal(PARSE_LIT(CT, "--b\r\n\r\nv\r\n--b--", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\n" CD "\r\nv\r\n--b--", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\nContent-Disposition: form-data; name=f\n\r\nv\r\n--b--", &m),
                     KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\n" CD "nocolon\r\n\r\nv\r\n--b--", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\n" CD " folded\r\n\r\nv\r\n--b--", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(
        PARSE_LIT(CT, "--b\r\nContent-Disposition: form-data; name=\"f\x01\"\r\n\r\nv\r\n--b--", &m),
        KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--", &m),
                     KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\n" CD CD "\r\nv\r\n--b--", &m), KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\nContent-Disposition: attachment; name=f\r\n\r\nv\r\n--b--", &m),
                     KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--", &m),
                     KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n--b--", &m),
                     KW_MULTIPART_MALFORMED);
    assert_int_equal(
        PARSE_LIT(CT, "--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nv\r\n--b--", &m),
        KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT,
                               "--b\r\nContent-Disposition: form-data; name=a; filename=x; filename=y\r\n\r\n"
                               "v\r\n--b--",
                               &m),
                     KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--b--", &m),
                     KW_MULTIPART_MALFORMED);
    assert_int_equal(PARSE_LIT(CT, "--b\r\n" CD "Content-Type: a\r\nContent-Type: b\r\n\r\nv\r\n--b--", &m),
                     KW_MULTIPART_MALFORMED);
}

static void test_caps(void **state)
{
    char *body = malloc(8192), *p;
    struct kw_multipart m;
    int i;

    (void)state;
    /* five parts: one over the cap */
    p = body;
    for (i = 0; i < 5; i++)
        p += sprintf(p, "--b\r\nContent-Disposition: form-data; name=p%d\r\n\r\nv\r\n", i);
    p += sprintf(p, "--b--");
    assert_int_equal(parse(CT, body, (size_t)(p - body), &m), KW_MULTIPART_TOO_MANY);
    /* nine header lines */
    p = body + sprintf(body, "--b\r\n" CD);
    for (i = 0; i < 8; i++)
        p += sprintf(p, "X-H%d: v\r\n", i);
    p += sprintf(p, "\r\nv\r\n--b--");
    assert_int_equal(parse(CT, body, (size_t)(p - body), &m), KW_MULTIPART_TOO_MANY);
    /* a header block over 2048 bytes */
    p = body + sprintf(body, "--b\r\n" CD "X-Long: ");
    memset(p, 'a', 2100);
    p += 2100;
    p += sprintf(p, "\r\n\r\nv\r\n--b--");
    assert_int_equal(parse(CT, body, (size_t)(p - body), &m), KW_MULTIPART_TOO_LARGE);
    /* a filename of 256 bytes (255 pass) */
    p = body + sprintf(body, "--b\r\nContent-Disposition: form-data; name=f; filename=\"");
    memset(p, 'n', 255);
    p += 255;
    p += sprintf(p, "\"\r\n\r\nv\r\n--b--");
    assert_int_equal(parse(CT, body, (size_t)(p - body), &m), KW_MULTIPART_OK);
    assert_int_equal(strlen(m.parts[0].filename), 255);
    p = body + sprintf(body, "--b\r\nContent-Disposition: form-data; name=f; filename=\"");
    memset(p, 'n', 256);
    p += 256;
    p += sprintf(p, "\"\r\n\r\nv\r\n--b--");
    assert_int_equal(parse(CT, body, (size_t)(p - body), &m), KW_MULTIPART_TOO_LARGE);
    /* a name of 65 bytes */
    p = body + sprintf(body, "--b\r\nContent-Disposition: form-data; name=");
    memset(p, 'n', 65);
    p += 65;
    p += sprintf(p, "\r\n\r\nv\r\n--b--");
    assert_int_equal(parse(CT, body, (size_t)(p - body), &m), KW_MULTIPART_TOO_LARGE);
    /* a part Content-Type of 128 bytes */
    p = body + sprintf(body, "--b\r\n" CD "Content-Type: ");
    memset(p, 't', 128);
    p += 128;
    p += sprintf(p, "\r\n\r\nv\r\n--b--");
    assert_int_equal(parse(CT, body, (size_t)(p - body), &m), KW_MULTIPART_TOO_LARGE);
    free(body);
    assert_non_null(strstr(kw_multipart_reason(KW_MULTIPART_TOO_MANY), "4 parts"));
}

/* kw_multipart_parse_scan: the same parts as kw_multipart_parse for file parts whose closing delimiter
 * sits at, across and around the 1 MiB search windows (and a look-alike that stops one byte short), and
 * what it reports scanned is contiguous part data that ends before the delimiter. */
struct scanned {
    const uint8_t *data, *next;
    size_t calls;
    int bad;
};

static void on_scanned(void *ctx, const uint8_t *from, const uint8_t *to)
{
    struct scanned *sc = ctx;

    if (from != sc->next || to <= from)
        sc->bad = 1;
    sc->next = to;
    sc->calls++;
}

static void test_scan_windows(void **state)
{
    static const char ct[] = "multipart/form-data; boundary=XyZ";
    static const char delim[] = "\r\n--XyZ";
    const size_t W = 1u << 20, dl = sizeof(delim) - 1;
    const size_t lens[] = {0, 1, W - dl, W - dl + 1, W - 1, W, W + 1, W + dl - 1, W + dl, 2 * W - 3, 2 * W + 7, 3 * W};
    const char head[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n";
    const char tail[] = "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{}\r\n--XyZ--\r\n";
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1, n = hl + lens[i] + tl, j;
        uint8_t *body = malloc(n);
        struct kw_multipart a, b;
        struct scanned sc;

        assert_non_null(body);
        memcpy(body, head, hl);
        for (j = 0; j < lens[i]; j++)
            body[hl + j] = (uint8_t)('a' + j % 26);
        if (lens[i] >= dl) /* a look-alike without its last byte just before the end */
            memcpy(body + hl + lens[i] - dl + 1, delim, dl - 1);
        memcpy(body + hl + lens[i], tail, tl);
        memset(&sc, 0, sizeof(sc));
        sc.data = sc.next = body + hl;
        assert_int_equal(kw_multipart_parse(ct, sizeof(ct) - 1, body, n, &a), KW_MULTIPART_OK);
        assert_int_equal(kw_multipart_parse_scan(ct, sizeof(ct) - 1, body, n, &b, on_scanned, &sc), KW_MULTIPART_OK);
        assert_int_equal(a.n, 2);
        assert_int_equal(b.n, 2);
        assert_int_equal(b.parts[0].len, lens[i]);
        assert_ptr_equal(b.parts[0].data, a.parts[0].data);
        assert_int_equal(b.parts[1].len, a.parts[1].len);
        assert_false(sc.bad);
        assert_true(sc.next <= body + hl + lens[i]); /* never past the part's data */
        if (lens[i] >= 2 * W) /* a long part is given back as it is scanned, not only at the end */
            assert_true(sc.calls >= 1);
        free(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_curl), cmocka_unit_test(test_other_curl),
        cmocka_unit_test(test_variants),  cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_caps), cmocka_unit_test(test_scan_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
