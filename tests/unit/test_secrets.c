/* test_secrets.c - the master key and sealed blobs: round trip, tamper, wrong master key, the file
 * (created 0600 at first start, refused when wider, reloaded when it changes), KEYWARD_MASTER_KEY,
 * re-wrapping under a new key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "crypto/crypto.h"
#include "domain/secrets.h"

static const uint8_t secret[40] = "0123456789abcdefghijABCDEFGHIJ0123456789";

static void tmpdir(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/kw-secrets-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void test_round_trip(void **state)
{
    uint8_t keys[64], blob[192], blob2[192], plain[64];
    struct kw_secrets *s = NULL;
    size_t n, m;

    memset(keys, 7, 32);
    memset(keys + 32, 9, 32);
    assert_int_equal(kw_secrets_from_keys(keys, 1, &s), KW_OK);
    assert_int_equal(kw_secrets_seal(s, secret, sizeof(secret), blob, sizeof(blob), &n), KW_OK);
    assert_int_equal(n, KW_SECRETS_SEALED_LEN(40));
    assert_true(n <= 192);
    assert_null(memmem(blob, n, secret, 8)); /* not in the clear */
    assert_int_equal(kw_secrets_open(s, blob, n, plain, sizeof(plain), &m), KW_OK);
    assert_int_equal(m, 40);
    assert_memory_equal(plain, secret, 40);
    /* A fresh data key and IVs each time. */
    assert_int_equal(kw_secrets_seal(s, secret, sizeof(secret), blob2, sizeof(blob2), &m), KW_OK);
    assert_memory_not_equal(blob, blob2, n);
    /* Empty plaintext and a cap too small. */
    assert_int_equal(kw_secrets_seal(s, secret, 0, blob2, sizeof(blob2), &m), KW_OK);
    assert_int_equal(kw_secrets_open(s, blob2, m, plain, sizeof(plain), &m), KW_OK);
    assert_int_equal(m, 0);
    assert_int_equal(kw_secrets_seal(s, secret, 40, blob2, 136, &m), KW_ERR_TOO_LARGE);
    assert_int_equal(kw_secrets_open(s, blob, n, plain, 39, &m), KW_ERR_TOO_LARGE);
    kw_secrets_free(s);
    kw_secrets_free(NULL);
}

static void test_tamper(void **state)
{
    uint8_t key[32], blob[192], plain[64];
    struct kw_secrets *s = NULL;
    size_t n, m, i;

    memset(key, 3, 32);
    assert_int_equal(kw_secrets_from_keys(key, 1, &s), KW_OK);
    assert_int_equal(kw_secrets_seal(s, secret, sizeof(secret), blob, sizeof(blob), &n), KW_OK);
    for (i = 0; i < n; i++) { /* every byte matters */
        blob[i] ^= 0x20;
        assert_int_not_equal(kw_secrets_open(s, blob, n, plain, sizeof(plain), &m), KW_OK);
        assert_int_equal(m, 0);
        blob[i] ^= 0x20;
    }
    assert_int_equal(kw_secrets_open(s, blob, n - 1, plain, sizeof(plain), &m), KW_ERR_MALFORMED);
    assert_int_equal(kw_secrets_open(s, blob, 10, plain, sizeof(plain), &m), KW_ERR_MALFORMED);
    assert_int_equal(kw_secrets_open(s, blob, n, plain, sizeof(plain), &m), KW_OK);
    kw_secrets_free(s);
}

static void test_wrong_master(void **state)
{
    uint8_t k1[32], k2[32], blob[192], plain[64], id[KW_SECRETS_ID_LEN], id2[KW_SECRETS_ID_LEN];
    struct kw_secrets *a = NULL, *b = NULL;
    size_t n, m;

    memset(k1, 1, 32);
    memset(k2, 2, 32);
    assert_int_equal(kw_secrets_from_keys(k1, 1, &a), KW_OK);
    assert_int_equal(kw_secrets_from_keys(k2, 1, &b), KW_OK);
    assert_int_equal(kw_secrets_seal(a, secret, sizeof(secret), blob, sizeof(blob), &n), KW_OK);
    assert_int_equal(kw_secrets_open(b, blob, n, plain, sizeof(plain), &m), KW_ERR_NOT_FOUND);
    /* A blob claiming b's id but wrapped by a's key fails authentication. */
    kw_secrets_current_id(b, id);
    memcpy(blob + 1, id, KW_SECRETS_ID_LEN);
    assert_int_equal(kw_secrets_open(b, blob, n, plain, sizeof(plain), &m), KW_ERR_MALFORMED);
    assert_int_equal(kw_secrets_blob_id(blob, n, id2), KW_OK);
    assert_memory_equal(id, id2, KW_SECRETS_ID_LEN);
    kw_secrets_free(a);
    kw_secrets_free(b);
}

static void test_rewrap(void **state)
{
    uint8_t k[64], blob[192], blob2[192], plain[64], id[KW_SECRETS_ID_LEN], cur[KW_SECRETS_ID_LEN];
    struct kw_secrets *old = NULL, *next = NULL, *both = NULL;
    size_t n, m;

    memset(k, 1, 32);
    memset(k + 32, 2, 32);
    assert_int_equal(kw_secrets_from_keys(k, 1, &old), KW_OK);
    assert_int_equal(kw_secrets_from_keys(k + 32, 1, &next), KW_OK);
    assert_int_equal(kw_secrets_seal(old, secret, sizeof(secret), blob, sizeof(blob), &n), KW_OK);
    assert_int_equal(kw_secrets_rewrap(old, next, blob, n, blob2, sizeof(blob2), &m), KW_OK);
    assert_int_equal(m, n);
    assert_int_equal(kw_secrets_blob_id(blob2, m, id), KW_OK);
    kw_secrets_current_id(next, cur);
    assert_memory_equal(id, cur, KW_SECRETS_ID_LEN);
    assert_int_equal(kw_secrets_open(next, blob2, m, plain, sizeof(plain), &m), KW_OK);
    assert_memory_equal(plain, secret, 40);
    assert_int_equal(kw_secrets_open(old, blob2, n, plain, sizeof(plain), &m), KW_ERR_NOT_FOUND);
    /* A set of two keys (new first) opens both and seals with the first. */
    memcpy(k, k + 32, 32);
    memset(k + 32, 1, 32);
    assert_int_equal(kw_secrets_from_keys(k, 2, &both), KW_OK);
    assert_int_equal(kw_secrets_open(both, blob, n, plain, sizeof(plain), &m), KW_OK);
    assert_int_equal(kw_secrets_open(both, blob2, n, plain, sizeof(plain), &m), KW_OK);
    kw_secrets_current_id(both, id);
    assert_memory_equal(id, cur, KW_SECRETS_ID_LEN);
    /* In place. */
    assert_int_equal(kw_secrets_rewrap(old, next, blob, n, blob, sizeof(blob), &m), KW_OK);
    assert_int_equal(kw_secrets_open(next, blob, n, plain, sizeof(plain), &m), KW_OK);
    kw_secrets_free(old);
    kw_secrets_free(next);
    kw_secrets_free(both);
}

static void test_file(void **state)
{
    char dir[64], path[200], sub[100];
    uint8_t blob[192], plain[64], raw[40], two[64];
    struct kw_secrets *s = NULL, *s2 = NULL;
    struct stat st;
    size_t n, m;
    FILE *f;

    tmpdir(dir, sizeof(dir));
    snprintf(sub, sizeof(sub), "%s/data", dir);
    snprintf(path, sizeof(path), "%s/master.key", sub);
    assert_int_equal(kw_secrets_open_master(&s, sub), KW_OK); /* creates data dir and file */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_string_equal(kw_secrets_path(s), path);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(kw_secrets_seal(s, secret, sizeof(secret), blob, sizeof(blob), &n), KW_OK);
    /* A second start reads the same key. */
    assert_int_equal(kw_secrets_open_master(&s2, sub), KW_OK);
    assert_int_equal(kw_secrets_open(s2, blob, n, plain, sizeof(plain), &m), KW_OK);
    kw_secrets_free(s2);
    /* Wider than 0600: refused. */
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(kw_secrets_open_master(&s2, sub), KW_ERR_INVALID);
    assert_null(s2);
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(kw_secrets_open_master(&s2, sub), KW_OK);
    kw_secrets_free(s2);
    assert_int_equal(chmod(path, 0600), 0);
    /* Wrong size: refused. */
    f = fopen(path, "rb");
    assert_int_equal(fread(raw, 1, 32, f), 32);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(raw, 1, 33, f);
    fclose(f);
    assert_int_equal(kw_secrets_open_master(&s2, sub), KW_ERR_INVALID);
    /* The running set picks up a new key written in front of the old one, and keeps opening old blobs. */
    assert_int_equal(kw_crypto_random(two, 32), KW_OK);
    memcpy(two + 32, raw, 32);
    assert_int_equal(kw_secrets_write_file(path, two, 2), KW_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(kw_secrets_seal(s, secret, sizeof(secret), blob + 0, sizeof(blob), &n), KW_OK);
    assert_int_equal(kw_secrets_open_master_at(&s2, sub, NULL, NULL), KW_OK);
    assert_int_equal(kw_secrets_open(s2, blob, n, plain, sizeof(plain), &m), KW_OK); /* sealed with new */
    kw_secrets_free(s2);
    assert_int_equal(kw_secrets_write_file(path, two, 1), KW_OK); /* only the new key now */
    assert_int_equal(kw_secrets_open_master_at(&s2, sub, path, NULL), KW_OK);
    assert_int_equal(kw_secrets_open(s2, blob, n, plain, sizeof(plain), &m), KW_OK);
    kw_secrets_free(s2);
    kw_secrets_free(s);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

static void test_env(void **state)
{
    uint8_t blob[192], plain[64], k[32];
    char b64[64], list[140];
    struct kw_secrets *s = NULL, *s2 = NULL;
    size_t n, m;

    memset(k, 5, 32);
    kw_crypto_base64_encode(k, 32, b64, sizeof(b64));
    assert_int_equal(kw_secrets_open_master_at(&s, "/nonexistent/never-created", NULL, b64), KW_OK);
    assert_string_equal(kw_secrets_path(s), "");
    assert_int_equal(access("/nonexistent/never-created", F_OK), -1);
    assert_int_equal(kw_secrets_seal(s, secret, sizeof(secret), blob, sizeof(blob), &n), KW_OK);
    snprintf(list, sizeof(list), "%s,%s", "BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGBgY=", b64);
    assert_int_equal(kw_secrets_open_master_at(&s2, "/nonexistent", NULL, list), KW_OK);
    assert_int_equal(kw_secrets_open(s2, blob, n, plain, sizeof(plain), &m), KW_OK);
    kw_secrets_free(s2);
    assert_int_equal(kw_secrets_open_master_at(&s2, "/nonexistent", NULL, "c2hvcnQ="), KW_ERR_INVALID);
    assert_int_equal(kw_secrets_open_master_at(&s2, "/nonexistent", NULL, "not base64!"), KW_ERR_INVALID);
    kw_secrets_free(s);
}

static int setup(void **state)
{
    kw_log_set_level(KW_LOG_ERROR + 1);
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
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_tamper), cmocka_unit_test(test_wrong_master),
        cmocka_unit_test(test_rewrap),     cmocka_unit_test(test_file),   cmocka_unit_test(test_env),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
