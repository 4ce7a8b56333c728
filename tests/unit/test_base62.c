/* test_base62.c - the 0-9A-Za-z alphabet: membership, fixed-width encoding, decoding and overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/base62.h"

static void test_alphabet(void **state)
{
    int c, n = 0;

    assert_int_equal(strlen(kw_base62_alphabet), 62);
    assert_string_equal(kw_base62_alphabet, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    for (c = -128; c < 128; c++) {
        int in = strchr(kw_base62_alphabet, c) != NULL && c != 0;
        assert_int_equal(kw_base62_is((char)c) != 0, in);
        n += in;
    }
    assert_int_equal(n, 62);
    assert_false(kw_base62_is('_'));
    assert_false(kw_base62_is('\0'));
}

static void test_encode(void **state)
{
    char buf[16];

    memset(buf, '#', sizeof(buf));
    assert_int_equal(kw_base62_encode_u64(0, buf, 6), 0);
    assert_memory_equal(buf, "000000#", 7); /* exactly width digits, no NUL */
    assert_int_equal(kw_base62_encode_u64(61, buf, 1), 0);
    assert_int_equal(buf[0], 'z');
    assert_int_equal(kw_base62_encode_u64(62, buf, 2), 0);
    assert_memory_equal(buf, "10", 2);
    assert_int_equal(kw_base62_encode_u64(62, buf, 1), -1); /* does not fit */
    assert_int_equal(kw_base62_encode_u64(0, buf, 0), 0);
    assert_int_equal(kw_base62_encode_u64(1, buf, 0), -1);
    assert_int_equal(kw_base62_encode_u64(UINT32_MAX, buf, 6), 0);
    assert_memory_equal(buf, "4gfFC3", 6);
    assert_int_equal(kw_base62_encode_u64(UINT64_MAX, buf, 11), 0);
    assert_memory_equal(buf, "LygHa16AHYF", 11);
    assert_int_equal(kw_base62_encode_u64(UINT64_MAX, buf, 10), -1);
}

static void test_decode(void **state)
{
    uint64_t v = 7;

    assert_int_equal(kw_base62_decode_u64("", 0, &v), 0);
    assert_true(v == 0);
    assert_int_equal(kw_base62_decode_u64("4gfFC3", 6, &v), 0);
    assert_true(v == UINT32_MAX);
    assert_int_equal(kw_base62_decode_u64("LygHa16AHYF", 11, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(kw_base62_decode_u64("LygHa16AHYG", 11, &v), -1); /* UINT64_MAX + 1 */
    assert_int_equal(kw_base62_decode_u64("zzzzzzzzzzzz", 12, &v), -1);
    assert_int_equal(kw_base62_decode_u64("ab_d", 4, &v), -1);
    assert_int_equal(kw_base62_decode_u64("ab\0d", 4, &v), -1);
    assert_int_equal(kw_base62_decode_u64("12xyz", 2, &v), 0); /* reads only len bytes */
    assert_true(v == 64);
}

static void test_round_trip_and_order(void **state)
{
    char a[12], b[12];
    uint64_t x = 0x9e3779b97f4a7c15ull, v, prev = 0;
    int i;

    for (i = 0; i < 10000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        assert_int_equal(kw_base62_encode_u64(x, a, 11), 0);
        assert_int_equal(kw_base62_decode_u64(a, 11, &v), 0);
        assert_true(v == x);
        /* The alphabet is in ASCII order, so fixed-width encodings sort like the numbers. */
        assert_int_equal(kw_base62_encode_u64(prev, b, 11), 0);
        assert_int_equal(memcmp(b, a, 11) < 0, prev < x);
        prev = x;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alphabet),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_round_trip_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
