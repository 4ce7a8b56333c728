/* test_ids.c - public object ids: shape, validation, uniqueness and an unbiased alphabet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/base62.h"
#include "core/ids.h"

static void test_shape(void **state)
{
    char a[KW_ID_MAX], b[KW_ID_MAX];
    size_t i;

    assert_int_equal(kw_id_new("svc", a), KW_OK);
    assert_int_equal(kw_id_new("svc", b), KW_OK);
    assert_int_equal(strlen(a), 4 + KW_ID_RANDOM_LEN);
    assert_memory_equal(a, "svc_", 4);
    for (i = 4; a[i] != '\0'; i++)
        assert_true(kw_base62_is(a[i]));
    assert_string_not_equal(a, b);
    assert_int_equal(kw_id_new("abcdefgh", a), KW_OK); /* longest prefix */
    assert_int_equal(strlen(a), 9 + KW_ID_RANDOM_LEN);
    assert_true(kw_id_valid(a, "abcdefgh"));
}

static void test_valid(void **state)
{
    char a[KW_ID_MAX], m[KW_ID_MAX + 1];

    assert_int_equal(kw_id_new("key", a), KW_OK);
    assert_true(kw_id_valid(a, "key"));
    assert_false(kw_id_valid(a, "svc"));
    assert_false(kw_id_valid(a, "ke"));
    assert_false(kw_id_valid(a, "keyx"));
    assert_false(kw_id_valid("", "key"));
    assert_false(kw_id_valid("key_", "key"));
    memcpy(m, a, sizeof(a));
    m[6] = '-';
    assert_false(kw_id_valid(m, "key"));
    memcpy(m, a, sizeof(a));
    m[3] = 'x'; /* no separator */
    assert_false(kw_id_valid(m, "key"));
    memcpy(m, a, sizeof(a));
    m[strlen(a) - 1] = '\0'; /* one short */
    assert_false(kw_id_valid(m, "key"));
    memcpy(m, a, sizeof(a));
    m[strlen(a)] = 'Q'; /* one long */
    m[strlen(a) + 1] = '\0';
    assert_false(kw_id_valid(m, "key"));
}

static int cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_distinct_and_uniform(void **state)
{
    enum { N = 20000 };
    static char ids[N][KW_ID_MAX];
    unsigned counts[62] = {0}, expect = N * KW_ID_RANDOM_LEN / 62;
    double chi2 = 0;
    int i, j;

    for (i = 0; i < N; i++) {
        assert_int_equal(kw_id_new("evt", ids[i]), KW_OK);
        for (j = 4; j < 4 + KW_ID_RANDOM_LEN; j++)
            counts[strchr(kw_base62_alphabet, ids[i][j]) - kw_base62_alphabet]++;
    }
    qsort(ids, N, KW_ID_MAX, cmp);
    for (i = 1; i < N; i++)
        assert_int_not_equal(strcmp(ids[i - 1], ids[i]), 0);
    for (i = 0; i < 62; i++)
        chi2 += ((double)counts[i] - expect) * ((double)counts[i] - expect) / expect;
    /* 61 degrees of freedom: P(chi2 > 130) is about 1e-7. A modulo-biased generator scores thousands. */
    assert_true(chi2 < 130.0);
}

/* Time-ordered ids: the shape of kw_id_new, an id of a later millisecond sorts after, random tails. */
static void test_sorted(void **state)
{
    char a[KW_ID_MAX], b[KW_ID_MAX], c[KW_ID_MAX];

    (void)state;
    assert_int_equal(kw_id_new_sorted("evt", 1764672000000, a), KW_OK);
    assert_int_equal(kw_id_new_sorted("evt", 1764672000001, b), KW_OK);
    assert_int_equal(kw_id_new_sorted("evt", 1764672000001, c), KW_OK);
    assert_true(kw_id_valid(a, "evt") && kw_id_valid(b, "evt") && kw_id_valid(c, "evt"));
    assert_true(strcmp(a, b) < 0 && strcmp(a, c) < 0);
    assert_memory_equal(b, c, 4 + 8);        /* same millisecond, same time digits */
    assert_int_not_equal(strcmp(b, c), 0); /* but distinct */
    assert_int_equal(kw_id_new_sorted("evt", 0, a), KW_OK);
    assert_memory_equal(a, "evt_00000000", 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_distinct_and_uniform),
        cmocka_unit_test(test_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
