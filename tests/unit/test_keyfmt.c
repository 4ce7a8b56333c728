/* test_keyfmt.c - credential strings: generation, the CRC gate, every malformation, uniformity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/base62.h"
#include "crypto/crypto.h"
#include "domain/keyfmt.h"

#define BODY (KW_KEYFMT_RANDOM_LEN + KW_KEYFMT_CRC_LEN)

/* Builds prefix_<random43><crc6> by hand with zlib, independently of kw_keyfmt_generate. */
static size_t build(char *out, const char *prefix, const char *random43)
{
    size_t n = strlen(prefix);

    memcpy(out, prefix, n);
    out[n] = '_';
    memcpy(out + n + 1, random43, KW_KEYFMT_RANDOM_LEN);
    assert_int_equal(kw_base62_encode_u64(crc32(0L, (const Bytef *)random43, KW_KEYFMT_RANDOM_LEN),
                                          out + n + 1 + KW_KEYFMT_RANDOM_LEN, KW_KEYFMT_CRC_LEN),
                     0);
    out[n + 1 + BODY] = '\0';
    return n + 1 + BODY;
}

static const char R43[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg";

static void test_prefix_rule(void **state)
{
    assert_true(kw_keyfmt_prefix_valid("kw"));
    assert_true(kw_keyfmt_prefix_valid("k"));
    assert_true(kw_keyfmt_prefix_valid("kwt"));
    assert_true(kw_keyfmt_prefix_valid("a0b1"));
    assert_true(kw_keyfmt_prefix_valid("abcdefghijklmnop")); /* 16 */
    assert_false(kw_keyfmt_prefix_valid(""));
    assert_false(kw_keyfmt_prefix_valid("abcdefghijklmnopq")); /* 17 */
    assert_false(kw_keyfmt_prefix_valid("1ab"));
    assert_false(kw_keyfmt_prefix_valid("Kw"));
    assert_false(kw_keyfmt_prefix_valid("k_w"));
    assert_false(kw_keyfmt_prefix_valid("k-w"));
}

static void test_generate_and_check(void **state)
{
    char k[KW_KEYFMT_MAX], start[32];
    uint64_t crc;
    size_t len;

    assert_int_equal(kw_keyfmt_generate("kw", k), KW_OK);
    len = strlen(k);
    assert_int_equal(len, 2 + 1 + 43 + 6);
    assert_memory_equal(k, "kw_", 3);
    assert_int_equal(kw_keyfmt_check(k, len), KW_OK);
    /* The last 6 characters are CRC32 (zlib) of the 43 random ones, base62. */
    assert_int_equal(kw_base62_decode_u64(k + 3 + KW_KEYFMT_RANDOM_LEN, KW_KEYFMT_CRC_LEN, &crc), 0);
    assert_true(crc == crc32(0L, (const Bytef *)k + 3, KW_KEYFMT_RANDOM_LEN));
    kw_keyfmt_start(k, start, sizeof(start));
    assert_int_equal(strlen(start), 7);
    assert_memory_equal(start, k, 7);
    kw_keyfmt_start(k, start, 5); /* truncated to the buffer */
    assert_int_equal(strlen(start), 4);
    assert_memory_equal(start, k, 4);

    assert_int_equal(kw_keyfmt_generate("abcdefghijklmnop", k), KW_OK);
    assert_int_equal(strlen(k), KW_KEYFMT_MAX - 1);
    assert_int_equal(kw_keyfmt_check(k, strlen(k)), KW_OK);
    kw_keyfmt_start(k, start, sizeof(start));
    assert_int_equal(strlen(start), 16 + 1 + 4);
    assert_int_equal(kw_keyfmt_generate("Bad", k), KW_ERR_INVALID);
    assert_int_equal(kw_keyfmt_generate("1ab", k), KW_ERR_INVALID);
    assert_int_equal(kw_keyfmt_generate("", k), KW_ERR_INVALID);
    assert_int_equal(kw_keyfmt_generate("abcdefghijklmnopq", k), KW_ERR_INVALID);
}

static void test_hand_built(void **state)
{
    char k[KW_KEYFMT_MAX + 8];
    size_t len = build(k, "kw", R43);

    assert_int_equal(kw_keyfmt_check(k, len), KW_OK);
    k[len - 1] = k[len - 1] == '0' ? '1' : '0'; /* wrong CRC digit */
    assert_int_equal(kw_keyfmt_check(k, len), KW_ERR_MALFORMED);
    /* Bad prefixes with a valid body. */
    assert_int_equal(kw_keyfmt_check(k, build(k, "KW", R43)), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check(k, build(k, "9kw", R43)), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check(k, build(k, "abcdefghijklmnopq", R43)), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check(k, build(k, "k-w", R43)), KW_ERR_MALFORMED);
    /* Split on the last '_': "k_w" is then the prefix, which is invalid. */
    assert_int_equal(kw_keyfmt_check(k, build(k, "k_w", R43)), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check(k, build(k, "a", R43)), KW_OK);
    /* No prefix at all. */
    len = build(k, "", R43);
    assert_int_equal(kw_keyfmt_check(k, len), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check(k + 1, len - 1), KW_ERR_MALFORMED);
}

static void test_every_flip_is_caught(void **state)
{
    char k[KW_KEYFMT_MAX], m[KW_KEYFMT_MAX + 1];
    size_t len, i;

    assert_int_equal(kw_keyfmt_generate("kwt", k), KW_OK);
    len = strlen(k);
    /* The CRC covers the random part; a changed prefix still parses and is simply not found. */
    memcpy(m, k, sizeof(k));
    m[0] = 'a';
    assert_int_equal(kw_keyfmt_check(m, len), KW_OK);
    for (i = 4; i < len; i++) {
        memcpy(m, k, sizeof(k));
        m[i] = m[i] == 'a' ? 'b' : 'a';
        assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
        m[i] = '_';
        assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
        m[i] = '\0'; /* embedded NUL */
        assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
        m[i] = (char)0xc3;
        assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
    }
    /* Truncated, extended, no separator, NUL in the prefix, empty. */
    assert_int_equal(kw_keyfmt_check(k, len - 1), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check(k + 1, len - 1), KW_OK); /* "wt" is a valid prefix too */
    assert_int_equal(kw_keyfmt_check(k + 3, len - 3), KW_ERR_MALFORMED);
    memcpy(m, k, len);
    m[len] = 'x';
    assert_int_equal(kw_keyfmt_check(m, len + 1), KW_ERR_MALFORMED);
    memcpy(m, k, sizeof(k));
    m[3] = 'x';
    assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
    memcpy(m, k, sizeof(k));
    m[1] = '\0';
    assert_int_equal(kw_keyfmt_check(m, len), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check("", 0), KW_ERR_MALFORMED);
    assert_int_equal(kw_keyfmt_check("kw_", 3), KW_ERR_MALFORMED);
}

static void test_reads_only_len(void **state)
{
    char k[KW_KEYFMT_MAX];
    size_t len, cut;
    char *exact;

    assert_int_equal(kw_keyfmt_generate("kw", k), KW_OK);
    len = strlen(k);
    /* Exact-size heap copies without a NUL: ASan reports any read past len. */
    for (cut = 0; cut <= len; cut++) {
        exact = malloc(cut ? cut : 1);
        assert_non_null(exact);
        memcpy(exact, k, cut);
        assert_int_equal(kw_keyfmt_check(exact, cut), cut == len ? KW_OK : KW_ERR_MALFORMED);
        free(exact);
    }
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_distinct_and_uniform(void **state)
{
    enum { N = 10000 };
    static char keys[N][KW_KEYFMT_MAX];
    unsigned counts[62] = {0}, expect = N * KW_KEYFMT_RANDOM_LEN / 62;
    double chi2 = 0;
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
        chi2 += ((double)counts[i] - expect) * ((double)counts[i] - expect) / expect;
        /* 430,000 draws over 62 symbols: ~6,935 each; a biased generator is far outside 10%. */
        assert_true(counts[i] > expect * 9 / 10 && counts[i] < expect * 11 / 10);
    }
    /* 61 degrees of freedom: P(chi2 > 130) is about 1e-7; byte % 62 would score in the thousands. */
    assert_true(chi2 < 130.0);
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
        cmocka_unit_test(test_prefix_rule),    cmocka_unit_test(test_generate_and_check),
        cmocka_unit_test(test_hand_built),     cmocka_unit_test(test_every_flip_is_caught),
        cmocka_unit_test(test_reads_only_len), cmocka_unit_test(test_distinct_and_uniform),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
