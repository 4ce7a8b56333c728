/* test_api_csv.c - the exports' CSV cell encoder (api/csv.c): RFC 4180 quoting and the formula-injection
 * prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/csv.h"

/* Encodes s (len bytes) and checks the result is want, within KW_CSV_CELL_MAX. */
static void check_len(const char *s, size_t len, const char *want)
{
    char out[256];
    size_t n;

    memset(out, 'X', sizeof(out));
    n = kw_csv_cell(out, s, len);
    assert_true(n <= KW_CSV_CELL_MAX(len));
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
    assert_int_equal(out[n], 'X'); /* nothing written past the cell */
}

static void check(const char *s, const char *want)
{
    check_len(s, strlen(s), want);
}

static void test_plain(void **state)
{
    (void)state;
    check("", "");
    check("abc", "abc");
    check("svc_123", "svc_123");
    check("2026-01-31T12:00:00.000Z", "2026-01-31T12:00:00.000Z");
    check("a b", "a b");
    check("caf\xc3\xa9", "caf\xc3\xa9");
    check("a'b", "a'b");
    check("1-2", "1-2"); /* a starter only counts at the start */
}

static void test_quoting(void **state)
{
    (void)state;
    check("a,b", "\"a,b\"");
    check("say \"hi\"", "\"say \"\"hi\"\"\"");
    check("\"", "\"\"\"\"");
    check("line1\nline2", "\"line1\nline2\"");
    check("a\r\nb", "\"a\r\nb\"");
    check("{\"alg\":\"EdDSA\",\"retired\":0}", "\"{\"\"alg\"\":\"\"EdDSA\"\",\"\"retired\"\":0}\"");
}

static void test_formula(void **state)
{
    (void)state;
    check("=1+1", "'=1+1");
    check("+1", "'+1");
    check("-12", "'-12");
    check("@SUM(A1)", "'@SUM(A1)");
    check("\tx", "'\tx");
    check("\rx", "\"'\rx\""); /* CR also forces quotes; the prefix goes inside them */
    check("=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    check("=a,b", "\"'=a,b\"");
    check(" =1", " =1"); /* not at the start */
    check("'=1", "'=1"); /* already quoted text: a leading quote is not a starter */
}

static void test_worst_case_and_nul(void **state)
{
    char in[40], want[128];
    size_t i, o = 0;

    (void)state;
    /* every byte a quote, after a formula starter: the bound is reached, not passed */
    in[0] = '=';
    for (i = 1; i < sizeof(in); i++)
        in[i] = '"';
    want[o++] = '"';
    want[o++] = '\'';
    want[o++] = '=';
    for (i = 1; i < sizeof(in); i++) {
        want[o++] = '"';
        want[o++] = '"';
    }
    want[o++] = '"';
    want[o] = '\0';
    check_len(in, sizeof(in), want);
    assert_int_equal(o, KW_CSV_CELL_MAX(sizeof(in)) - 1);
    o = kw_csv_cell(want, "a\0b", 3); /* length-bounded: an embedded NUL is data */
    assert_int_equal(o, 3);
    assert_memory_equal(want, "a\0b", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_formula),
        cmocka_unit_test(test_worst_case_and_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
