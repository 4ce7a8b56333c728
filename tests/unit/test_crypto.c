/* test_crypto.c - SHA-256 vectors (one-shot, two-part, many threads), CSPRNG, constant-time equality,
 * hex, Argon2id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "crypto/crypto.h"

static const char *hex_of_sha256(const char *s, char hex[2 * KW_SHA256_LEN + 1])
{
    uint8_t h[KW_SHA256_LEN];

    assert_int_equal(kw_crypto_sha256(s, strlen(s), h), KW_OK);
    kw_crypto_hex(h, sizeof(h), hex);
    return hex;
}

static void test_sha256_vectors(void **state)
{
    char hex[2 * KW_SHA256_LEN + 1];

    /* FIPS 180-2 examples and the empty string. */
    assert_string_equal(hex_of_sha256("abc", hex),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(hex_of_sha256("", hex),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(hex_of_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex),
                        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_2(void **state)
{
    uint8_t one[KW_SHA256_LEN], two[KW_SHA256_LEN];

    assert_int_equal(kw_crypto_sha256("abc", 3, one), KW_OK);
    assert_int_equal(kw_crypto_sha256_2("a", 1, "bc", 2, two), KW_OK);
    assert_memory_equal(one, two, sizeof(one));
    assert_int_equal(kw_crypto_sha256_2("", 0, "abc", 3, two), KW_OK);
    assert_memory_equal(one, two, sizeof(one));
    assert_int_equal(kw_crypto_sha256_2("abc", 3, NULL, 0, two), KW_OK);
    assert_memory_equal(one, two, sizeof(one));
    assert_int_equal(kw_crypto_sha256_2("ab", 2, "bc", 2, two), KW_OK);
    assert_memory_not_equal(one, two, sizeof(one));
}

/* The piecewise SHA-256 equals the one-shot one, whatever the pieces (empty ones too). */
static void test_sha256_pieces(void **state)
{
    static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    uint8_t one[KW_SHA256_LEN], two[KW_SHA256_LEN];
    struct kw_sha256 *s = NULL;
    size_t i;

    assert_int_equal(kw_crypto_sha256(msg, sizeof(msg) - 1, one), KW_OK);
    assert_int_equal(kw_crypto_sha256_new(&s), KW_OK);
    for (i = 0; i < sizeof(msg) - 1; i += 7)
        assert_int_equal(
            kw_crypto_sha256_update(s, msg + i, sizeof(msg) - 1 - i < 7 ? sizeof(msg) - 1 - i : 7), KW_OK);
    assert_int_equal(kw_crypto_sha256_update(s, "", 0), KW_OK);
    assert_int_equal(kw_crypto_sha256_final(s, two), KW_OK);
    kw_crypto_sha256_free(s);
    assert_memory_equal(one, two, sizeof(one));

    assert_int_equal(kw_crypto_sha256("", 0, one), KW_OK);
    assert_int_equal(kw_crypto_sha256_new(&s), KW_OK);
    assert_int_equal(kw_crypto_sha256_final(s, two), KW_OK);
    kw_crypto_sha256_free(s);
    assert_memory_equal(one, two, sizeof(one));
    kw_crypto_sha256_free(NULL);
}

static void *hash_many(void *arg)
{
    uint8_t h[KW_SHA256_LEN];
    int i, *bad = arg;

    for (i = 0; i < 20000; i++) {
        char msg[16];
        int n = (i & 1) ? 3 : 2;
        memcpy(msg, "abc", 3);
        if (kw_crypto_sha256(msg, (size_t)n, h) != KW_OK || h[0] != (n == 3 ? 0xba : 0xfb))
            (*bad)++;
    }
    return NULL;
}

static void test_sha256_threads(void **state)
{
    pthread_t t[4];
    int bad[4] = {0}, i;

    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hash_many, &bad[i]), 0);
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(bad[i], 0);
    }
}

static void test_random(void **state)
{
    uint8_t a[32], b[32], zero[32] = {0};

    assert_int_equal(kw_crypto_random(a, sizeof(a)), KW_OK);
    assert_int_equal(kw_crypto_random(b, sizeof(b)), KW_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_int_equal(kw_crypto_random(a, 0), KW_OK);
}

static void test_equal(void **state)
{
    uint8_t a[48], b[48];
    size_t i;

    assert_int_equal(kw_crypto_random(a, sizeof(a)), KW_OK);
    memcpy(b, a, sizeof(a));
    assert_true(kw_crypto_equal(a, b, sizeof(a)));
    assert_true(kw_crypto_equal(a, b, 0));
    for (i = 0; i < sizeof(a); i++) {
        b[i] ^= 0x80;
        assert_false(kw_crypto_equal(a, b, sizeof(a)));
        b[i] ^= 0x80;
    }
}

static void test_hex(void **state)
{
    uint8_t in[4] = {0x00, 0x9f, 0xa0, 0xff}, back[4];
    char hex[9];

    kw_crypto_hex(in, sizeof(in), hex);
    assert_string_equal(hex, "009fa0ff");
    assert_int_equal(kw_crypto_unhex(hex, back, sizeof(back)), 0);
    assert_memory_equal(in, back, sizeof(in));
    assert_int_equal(kw_crypto_unhex("009FA0FF", back, sizeof(back)), 0);
    assert_memory_equal(in, back, sizeof(in));
    kw_crypto_hex(in, 0, hex);
    assert_string_equal(hex, "");
    assert_int_equal(kw_crypto_unhex("zz", back, 1), -1);
    assert_int_equal(kw_crypto_unhex("0g", back, 1), -1);
    assert_int_equal(kw_crypto_unhex("a", back, 1), -1);    /* too short: stops at the NUL */
    assert_int_equal(kw_crypto_unhex("00aa", back, 4), -1); /* too short */
}

static void test_password(void **state)
{
    char enc[KW_PASSWORD_HASH_MAX], enc2[KW_PASSWORD_HASH_MAX];

    assert_int_equal(kw_crypto_password_hash("hunter2hunter2", 14, 1024, 1, enc), KW_OK);
    assert_memory_equal(enc, "$argon2id$v=19$m=1024,t=1,p=1$", 30);
    assert_true(kw_crypto_password_verify(enc, "hunter2hunter2", 14));
    assert_false(kw_crypto_password_verify(enc, "hunter2hunter3", 14));
    assert_false(kw_crypto_password_verify(enc, "hunter2hunter2", 13));
    assert_false(kw_crypto_password_verify("$argon2id$garbage", "x", 1));
    assert_int_equal(kw_crypto_password_hash("hunter2hunter2", 14, 1024, 1, enc2), KW_OK);
    assert_string_not_equal(enc, enc2); /* random salt */
}

static int setup(void **state)
{
    return kw_crypto_init() == KW_OK && kw_crypto_init() == KW_OK ? 0 : -1; /* init is idempotent */
}

static int teardown(void **state)
{
    kw_crypto_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_2),
        cmocka_unit_test(test_sha256_pieces),
        cmocka_unit_test(test_sha256_threads),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_password),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
