/* test_crypto_rsa.c - RSA-3072 key pairs (PKCS#8 DER round trip, PEM, JWK n/e) and RSA-OAEP-256
 * (round trip; a changed, short or other key's ciphertext cannot open). Interoperability with
 * WebCrypto's RSA-OAEP SHA-256 is tested end to end in tests/e2e/encryption.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "crypto/crypto.h"

static void test_keygen_export(void **state)
{
    struct kw_rsa *k = NULL, *back = NULL;
    uint8_t der[KW_RSA_DER_MAX], der2[KW_RSA_DER_MAX];
    char pem[KW_RSA_PEM_MAX], pem2[KW_RSA_PEM_MAX], n[KW_RSA_N_B64_MAX], e[KW_RSA_E_B64_MAX];
    size_t len = 0, len2 = 0;

    assert_int_equal(kw_crypto_rsa_keygen(KW_RSA_BITS, &k), KW_OK);
    assert_int_equal(kw_crypto_rsa_public_jwk(k, n, e), KW_OK);
    assert_string_equal(e, "AQAB");
    assert_int_equal(strlen(n), 512); /* 384 bytes of modulus */
    assert_int_equal(kw_crypto_rsa_public_pem(k, pem, sizeof(pem)), KW_OK);
    assert_true(strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
    assert_non_null(strstr(pem, "-----END PUBLIC KEY-----"));
    assert_int_equal(kw_crypto_rsa_private_der(k, der, sizeof(der), &len), KW_OK);
    assert_true(len > 1500 && len < KW_RSA_DER_MAX);
    assert_int_equal(kw_crypto_rsa_private_der(k, der2, 100, &len2), KW_ERR_TOO_LARGE);
    assert_int_equal(kw_crypto_rsa_from_der(der, len, &back), KW_OK);
    assert_int_equal(kw_crypto_rsa_public_pem(back, pem2, sizeof(pem2)), KW_OK);
    assert_string_equal(pem, pem2);
    assert_int_equal(kw_crypto_rsa_private_der(back, der2, sizeof(der2), &len2), KW_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(der, der2, len);
    assert_int_equal(kw_crypto_rsa_public_pem(k, pem2, 64), KW_ERR_TOO_LARGE);
    kw_crypto_rsa_free(back);
    assert_int_equal(kw_crypto_rsa_from_der(der, len - 1, &back), KW_ERR_MALFORMED);
    assert_null(back);
    assert_int_equal(kw_crypto_rsa_from_der((const uint8_t *)"garbage", 7, &back), KW_ERR_MALFORMED);
    assert_int_equal(kw_crypto_rsa_keygen(1024, &back), KW_ERR_INVALID);
    kw_crypto_rsa_free(k);
    kw_crypto_rsa_free(NULL);
}

static void test_oaep(void **state)
{
    struct kw_rsa *k = NULL, *other = NULL;
    uint8_t aes[32], ct[512], pt[512];
    size_t clen = 0, plen = 0;

    assert_int_equal(kw_crypto_random(aes, sizeof(aes)), KW_OK);
    assert_int_equal(kw_crypto_rsa_keygen(2048, &k), KW_OK);
    assert_int_equal(kw_crypto_rsa_keygen(2048, &other), KW_OK);
    assert_int_equal(kw_crypto_rsa_oaep256_encrypt(k, aes, sizeof(aes), ct, sizeof(ct), &clen), KW_OK);
    assert_int_equal(clen, 256);
    assert_int_equal(kw_crypto_rsa_oaep256_decrypt(k, ct, clen, pt, sizeof(pt), &plen), KW_OK);
    assert_int_equal(plen, 32);
    assert_memory_equal(pt, aes, 32);
    assert_int_equal(kw_crypto_rsa_oaep256_decrypt(other, ct, clen, pt, sizeof(pt), &plen), KW_ERR_MALFORMED);
    assert_int_equal(kw_crypto_rsa_oaep256_decrypt(k, ct, clen - 1, pt, sizeof(pt), &plen), KW_ERR_MALFORMED);
    ct[100] ^= 0x40;
    assert_int_equal(kw_crypto_rsa_oaep256_decrypt(k, ct, clen, pt, sizeof(pt), &plen), KW_ERR_MALFORMED);
    assert_int_equal(plen, 0);
    kw_crypto_rsa_free(k);
    kw_crypto_rsa_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_export),
        cmocka_unit_test(test_oaep),
    };

    kw_crypto_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
