/* test_crypto_sig.c - HMAC-SHA256 (RFC 4231), AES-256-GCM (GCM spec test cases 13/14, tamper), Ed25519
 * (RFC 8037 Appendix A.4), base64 and base64url (RFC 4648 section 10, strictness). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "crypto/crypto.h"

static void unhex(const char *hex, uint8_t *out)
{
    assert_int_equal(kw_crypto_unhex(hex, out, strlen(hex) / 2), 0);
}

static void test_hmac(void **state)
{
    uint8_t mac[KW_HMAC_SHA256_LEN], want[32];

    unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", want);
    assert_int_equal(kw_crypto_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac), KW_OK);
    assert_memory_equal(mac, want, 32);
    assert_int_equal(kw_crypto_hmac_sha256("", 0, "", 0, mac), KW_OK);
    unhex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", want);
    assert_memory_equal(mac, want, 32);
}

static void test_gcm(void **state)
{
    uint8_t key[32] = {0}, iv[12] = {0}, plain[16] = {0}, ct[16], tag[16], want[16], back[16];

    assert_int_equal(kw_crypto_aes_gcm_seal(key, iv, NULL, 0, NULL, 0, ct, tag), KW_OK);
    unhex("530f8afbc74536b9a963b4f1c4cb738b", want);
    assert_memory_equal(tag, want, 16);
    assert_int_equal(kw_crypto_aes_gcm_seal(key, iv, NULL, 0, plain, 16, ct, tag), KW_OK);
    unhex("cea7403d4d606b6e074ec5d3baf39d18", want);
    assert_memory_equal(ct, want, 16);
    unhex("d0d1c8a799996bf0265b98b5d48ab919", want);
    assert_memory_equal(tag, want, 16);
    assert_int_equal(kw_crypto_aes_gcm_open(key, iv, NULL, 0, ct, 16, tag, back), KW_OK);
    assert_memory_equal(back, plain, 16);
    ct[3] ^= 1;
    assert_int_equal(kw_crypto_aes_gcm_open(key, iv, NULL, 0, ct, 16, tag, back), KW_ERR_MALFORMED);
    ct[3] ^= 1;
    assert_int_equal(kw_crypto_aes_gcm_open(key, iv, "x", 1, ct, 16, tag, back), KW_ERR_MALFORMED);
    key[0] = 1;
    assert_int_equal(kw_crypto_aes_gcm_open(key, iv, NULL, 0, ct, 16, tag, back), KW_ERR_MALFORMED);
}

static void test_ed25519_rfc8037(void **state)
{
    static const char input[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    uint8_t d[32], x[32], pub[32], sig[64], want[64];
    struct kw_ed25519 *priv = NULL, *vk = NULL;
    size_t n;
    char enc[100];

    assert_int_equal(kw_crypto_base64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A", 43, d, 32, &n),
                     KW_OK);
    assert_int_equal(n, 32);
    assert_int_equal(kw_crypto_base64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", 43, x, 32, &n),
                     KW_OK);
    assert_int_equal(
        kw_crypto_base64url_decode("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5Bh"
                                   "VsPt9g7sVvpAr_MuM0KAg",
                                   86, want, 64, &n),
        KW_OK);
    assert_int_equal(n, 64);
    assert_int_equal(kw_crypto_ed25519_private(d, pub, &priv), KW_OK);
    assert_memory_equal(pub, x, 32);
    assert_int_equal(kw_crypto_ed25519_sign(priv, input, strlen(input), sig), KW_OK);
    assert_memory_equal(sig, want, 64);
    assert_int_equal(kw_crypto_base64url_encode(sig, 64, enc, sizeof(enc)), 86);
    assert_string_equal(
        enc, "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
    assert_int_equal(kw_crypto_ed25519_public(x, &vk), KW_OK);
    assert_true(kw_crypto_ed25519_verify(vk, input, strlen(input), sig, 64));
    assert_true(kw_crypto_ed25519_verify(priv, input, strlen(input), sig, 64));
    assert_false(kw_crypto_ed25519_verify(vk, input, strlen(input) - 1, sig, 64));
    assert_false(kw_crypto_ed25519_verify(vk, input, strlen(input), sig, 63));
    sig[10] ^= 0x40;
    assert_false(kw_crypto_ed25519_verify(vk, input, strlen(input), sig, 64));
    kw_crypto_ed25519_free(priv);
    kw_crypto_ed25519_free(vk);
    kw_crypto_ed25519_free(NULL);
}

static void test_ed25519_keygen(void **state)
{
    uint8_t d[32], pub[32], pub2[32], sig[64];
    struct kw_ed25519 *k = NULL, *v = NULL;

    assert_int_equal(kw_crypto_ed25519_keygen(d, pub), KW_OK);
    assert_int_equal(kw_crypto_ed25519_private(d, pub2, &k), KW_OK);
    assert_memory_equal(pub, pub2, 32);
    assert_int_equal(kw_crypto_ed25519_sign(k, "m", 1, sig), KW_OK);
    assert_int_equal(kw_crypto_ed25519_public(pub, &v), KW_OK);
    assert_true(kw_crypto_ed25519_verify(v, "m", 1, sig, 64));
    kw_crypto_ed25519_free(k);
    kw_crypto_ed25519_free(v);
}

static void b64_is(const char *plain, const char *std, const char *url)
{
    char out[64];
    uint8_t back[64];
    size_t n;

    assert_int_equal(kw_crypto_base64_encode(plain, strlen(plain), out, sizeof(out)), strlen(std));
    assert_string_equal(out, std);
    assert_int_equal(kw_crypto_base64url_encode(plain, strlen(plain), out, sizeof(out)), strlen(url));
    assert_string_equal(out, url);
    assert_int_equal(kw_crypto_base64_decode(std, strlen(std), back, sizeof(back), &n), KW_OK);
    assert_int_equal(n, strlen(plain));
    assert_memory_equal(back, plain, n);
    assert_int_equal(kw_crypto_base64url_decode(url, strlen(url), back, sizeof(back), &n), KW_OK);
    assert_int_equal(n, strlen(plain));
    assert_memory_equal(back, plain, n);
}

static void test_base64(void **state)
{
    static const char *bad_std[] = {"Zg",    "Zg=",  "Z===", "Zm9v\n",  " Zm9v",
                                    "Zm9=v", "Zh==", "Zm-v", "Zm9vYg=a"};
    static const char *bad_url[] = {"Zg==", "Z", "Zm+v", "Zm9v ", "Zh"};
    uint8_t out[16], big[2];
    size_t i, n;
    char small[4];

    b64_is("", "", "");
    b64_is("f", "Zg==", "Zg");
    b64_is("fo", "Zm8=", "Zm8");
    b64_is("foo", "Zm9v", "Zm9v");
    b64_is("foob", "Zm9vYg==", "Zm9vYg");
    b64_is("fooba", "Zm9vYmE=", "Zm9vYmE");
    b64_is("foobar", "Zm9vYmFy", "Zm9vYmFy");
    b64_is("\xfb\xff", "+/8=", "-_8");
    for (i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
        assert_int_equal(kw_crypto_base64_decode(bad_std[i], strlen(bad_std[i]), out, sizeof(out), &n),
                         KW_ERR_MALFORMED);
    for (i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
        assert_int_equal(kw_crypto_base64url_decode(bad_url[i], strlen(bad_url[i]), out, sizeof(out), &n),
                         KW_ERR_MALFORMED);
    assert_int_equal(kw_crypto_base64_decode("Zm9v", 4, big, sizeof(big), &n), KW_ERR_TOO_LARGE);
    assert_int_equal(kw_crypto_base64_encode("foo", 3, small, sizeof(small)), 0);
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
        cmocka_unit_test(test_hmac),
        cmocka_unit_test(test_gcm),
        cmocka_unit_test(test_ed25519_rfc8037),
        cmocka_unit_test(test_ed25519_keygen),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
