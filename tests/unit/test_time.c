/* test_time.c - clocks and RFC 3339: format, parse, offsets, fractions, calendar rules, rejects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/timeutil.h"

static int64_t parse_ok(const char *s)
{
    int64_t ms = -42;

    assert_int_equal(kw_time_parse(s, &ms), KW_OK);
    return ms;
}

static void test_format(void **state)
{
    char buf[KW_TIME_RFC3339_LEN];

    kw_time_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    kw_time_format(1795412985123LL, buf);
    assert_string_equal(buf, "2026-11-23T05:49:45.123Z");
    kw_time_format(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    kw_time_format(951782400000LL, buf); /* leap day 2000 */
    assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
    assert_int_equal(strlen(buf), KW_TIME_RFC3339_LEN - 1);
}

static void test_round_trip(void **state)
{
    char buf[KW_TIME_RFC3339_LEN];
    uint64_t x = 88172645463325252ull;
    int i;

    for (i = 0; i < 20000; i++) {
        int64_t ms, back;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ms = (int64_t)(x % 253402300800000ull); /* 1970 .. 9999-12-31 */
        kw_time_format(ms, buf);
        assert_int_equal(kw_time_parse(buf, &back), KW_OK);
        assert_true(back == ms);
    }
}

static void test_parse_forms(void **state)
{
    const int64_t t = 1795412985000LL; /* 2026-11-23T05:49:45Z */

    assert_true(parse_ok("2026-11-23T05:49:45Z") == t);
    assert_true(parse_ok("2026-11-23t05:49:45z") == t);
    assert_true(parse_ok("2026-11-23T05:49:45.123Z") == t + 123);
    assert_true(parse_ok("2026-11-23T05:49:45.5Z") == t + 500);
    assert_true(parse_ok("2026-11-23T05:49:45.05Z") == t + 50);
    assert_true(parse_ok("2026-11-23T05:49:45.123999999Z") == t + 123); /* truncated, not rounded */
    assert_true(parse_ok("2026-11-23T07:49:45+02:00") == t);
    assert_true(parse_ok("2026-11-23T07:49:45.250+02:00") == t + 250);
    assert_true(parse_ok("2026-11-23T00:19:45-05:30") == t);
    assert_true(parse_ok("2026-11-23T05:49:45+00:00") == t);
    assert_true(parse_ok("2026-11-23T05:49:45-00:00") == t);
    assert_true(parse_ok("1970-01-01T00:00:00Z") == 0);
    assert_true(parse_ok("2024-02-29T00:00:00Z") == 1709164800000LL);
    assert_true(parse_ok("2000-02-29T00:00:00Z") == 951782400000LL);
}

static void test_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "2026-11-23",
        "2026-11-23T05:49:45",
        "2026-11-23 05:49:45Z",
        "2026-11-23T05:49Z",
        "2026-11-23T05:49:45Zjunk",
        " 2026-11-23T05:49:45Z",
        "2026-11-23T05:49:45Z ",
        "2026-1-23T05:49:45Z",
        "2026/11/23T05:49:45Z",
        "2026-11-23T05:49:45.Z",
        "2026-11-23T05:49:45,5Z",
        "2026-11-23T05:49:45+0200",
        "2026-11-23T05:49:45+02",
        "2026-11-23T05:49:45+24:00",
        "2026-11-23T05:49:45+02:60",
        "2026-11-23T05:49:45 +02:00",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-00T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2100-02-29T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T05:60:00Z",
        "2026-11-23T05:49:61Z",
        "+2026-11-23T05:49:45Z",
        "2026-11-23T05:49:45UTC",
        "2026-11-23T05:49:4Z",
        "2026-11-23X05:49:45Z",
        "-026-11-23T05:49:45Z",
        "2026-11-23T05:49:45\0Z",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = -42;
        if (kw_time_parse(bad[i], &ms) != KW_ERR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(ms == -42); /* untouched on failure */
    }
}

static void test_clocks(void **state)
{
    uint64_t a = kw_time_mono_ns(), b = kw_time_mono_ns();
    int64_t now = kw_time_now_ms();

    assert_true(b >= a);
    assert_true(now > 1700000000000LL); /* after 2023 */
    assert_true(now < 4102444800000LL); /* before 2100 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),  cmocka_unit_test(test_round_trip), cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_rejects), cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
