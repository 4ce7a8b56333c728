/* test_keyfmt.c - key format, checksum gate, base62 and ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/base62.h"
#include "core/ids.h"
#include "crypto/crypto.h"
#include "domain/keyfmt.h"

static void test_base62(void **state)
{
    char buf[12];
    uint64_t v;

    assert_int_equal(kw_base62_encode_u64(0, buf, 6), 0);
    assert_memory_equal(buf, "000000", 6);
    assert_int_equal(kw_base62_encode_u64(61, buf, 1), 0);
    assert_int_equal(buf[0], 'z');
    assert_int_equal(kw_base62_encode_u64(62, buf, 1), -1); /* does not fit */
    assert_int_equal(kw_base62_encode_u64(UINT32_MAX, buf, 6), 0);
    assert_int_equal(kw_base62_decode_u64(buf, 6, &v), 0);
    assert_true(v == UINT32_MAX);
    assert_int_equal(kw_base62_decode_u64("zzzzzzzzzzzz", 12, &v), -1); /* overflow */
    assert_int_equal(kw_base62_decode_u64("ab_d", 4, &v), -1);
    assert_true(kw_base62_is('Q'));
    assert_false(kw_base62_is('-'));
}

static void test_generate_and_check(void **state)
{
    char k[KW_KEYFMT_MAX], start[32];
    size_t len;

    assert_int_equal(kw_keyfmt_generate("kw", k), KW_OK);
    len = strlen(k);
    assert_int_equal(len, 2 + 1 + 43 + 6);
    assert_int_equal(kw_keyfmt_check(k, len), KW_OK);
    kw_keyfmt_start(k, start, sizeof(start));
    assert_int_equal(strlen(start), 7);
    assert_memory_equal(start, k, 7);

    assert_int_equal(kw_keyfmt_generate("abcdefghijklmnop", k), KW_OK); /* 16-char prefix */
    assert_int_equal(kw_keyfmt_check(k, strlen(k)), KW_OK);
    assert_int_equal(kw_keyfmt_generate("Bad", k), KW_ERR_INVALID);
    assert_int_equal(kw_keyfmt_generate("1ab", k), KW_ERR_INVALID);
    assert_int_equal(kw_keyfmt_generate("abcdefghijklmnopq", k), KW_ERR_INVALID);
}

static void test_every_flip_is_caught(void **state)
{
    char k[KW_KEYFMT_MAX], m[KW_KEYFMT_MAX];
    size_t len, i;

    assert_int_equal(kw_keyfmt_generate("kwt", k), KW_OK);
    len = strlen(k);
    /* The CRC covers the random part; a changed prefix still parses and is simply not found. */
    memcpy(m, k, sizeof(m));
    m[0] = 'a';
    assert_int_equal(kw_keyfmt_check(m, len), KW_OK);
    for (i = 4; i < len; i++) {
        memcpy(m, k, sizeof(m));
        m[i] = m[i] == 'a' ? 'b' : 'a';
        if (m[i] == k[i])
            continue;
        assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
    }
    /* Truncated, extended, no separator, embedded NUL, empty. */
    assert_int_equal(kw_keyfmt_check(k, len - 1), KW_ERR_MALFORMED);
    memcpy(m, k, len);
    m[len] = 'x';
    assert_int_equal(kw_keyfmt_check(m, len + 1), KW_ERR_MALFORMED);
    memcpy(m, k, sizeof(m));
    m[3] = 'x';
    assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
    memcpy(m, k, sizeof(m));
    m[10] = '\0';
    assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check("", 0), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check("kw_", 3), KW_ERR_MALFORMED);
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_distinct_and_uniform(void **state)
{
    enum { N = 10000 };
    static char keys[N][KW_KEYFMT_MAX];
    unsigned counts[62] = {0};
    unsigned min = UINT32_MAX, max = 0;
    int i, j;

    for (i = 0; i < N; i++) {
        assert_int_equal(kw_keyfmt_generate("kw", keys[i]), KW_OK);
        assert_int_equal(kw_keyfmt_check(keys[i], strlen(keys[i])), KW_OK);
        for (j = 3; j < 3 + KW_KEYFMT_RANDOM_LEN; j++)
            counts[strchr(kw_base62_alphabet, keys[i][j]) - kw_base62_alphabet]++;
    }
    qsort(keys, N, KW_KEYFMT_MAX, cmp);
    for (i = 1; i < N; i++)
        assert_int_not_equal(strcmp(keys[i - 1], keys[i]), 0);
    for (i = 0; i < 62; i++) {
        min = counts[i] < min ? counts[i] : min;
        max = counts[i] > max ? counts[i] : max;
    }
    /* 430,000 draws over 62 symbols: ~6,935 each; a biased generator would be far outside 10%. */
    assert_true(min > 6935 * 9 / 10);
    assert_true(max < 6935 * 11 / 10);
}

static void test_ids(void **state)
{
    char a[KW_ID_MAX], b[KW_ID_MAX];

    assert_int_equal(kw_id_new("svc", a), KW_OK);
    assert_int_equal(kw_id_new("svc", b), KW_OK);
    assert_int_equal(strlen(a), 4 + KW_ID_RANDOM_LEN);
    assert_true(kw_id_valid(a, "svc"));
    assert_false(kw_id_valid(a, "key"));
    assert_string_not_equal(a, b);
    a[6] = '-';
    assert_false(kw_id_valid(a, "svc"));
}

static void test_crypto(void **state)
{
    uint8_t h[KW_SHA256_LEN], back[KW_SHA256_LEN];
    char hex[2 * KW_SHA256_LEN + 1];

    assert_int_equal(kw_crypto_sha256("abc", 3, h), KW_OK);
    kw_crypto_hex(h, sizeof(h), hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(kw_crypto_unhex(hex, back, sizeof(back)), 0);
    assert_true(kw_crypto_equal(h, back, sizeof(h)));
    back[31] ^= 1;
    assert_false(kw_crypto_equal(h, back, sizeof(h)));
    assert_int_equal(kw_crypto_unhex("zz", back, 1), -1);
    assert_int_equal(kw_crypto_sha256_2("a", 1, "bc", 2, back), KW_OK);
    assert_memory_equal(h, back, sizeof(h));
}

static int setup(void **state)
{
    return kw_crypto_init() == KW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    kw_crypto_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base62),           cmocka_unit_test(test_generate_and_check),
        cmocka_unit_test(test_every_flip_is_caught), cmocka_unit_test(test_distinct_and_uniform),
        cmocka_unit_test(test_ids),              cmocka_unit_test(test_crypto),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
