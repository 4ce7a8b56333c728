/* test_accounts.c - username and role rules, password hashing. The login throttle: test_throttle.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "domain/accounts.h"

static void test_names_and_roles(void **state)
{
    assert_true(kw_accounts_username_valid("admin"));
    assert_true(kw_accounts_username_valid("a.b-c_d"));
    assert_true(kw_accounts_username_valid("007"));
    assert_false(kw_accounts_username_valid("ab"));
    assert_false(kw_accounts_username_valid(".abc"));
    assert_false(kw_accounts_username_valid("Admin"));
    assert_false(kw_accounts_username_valid("a b c"));
    assert_true(kw_accounts_username_valid("a23456789012345678901234567890123456789012345678901234567890123"));  /* 63 */
    assert_false(kw_accounts_username_valid("a234567890123456789012345678901234567890123456789012345678901234")); /* 64 */
    assert_true(kw_accounts_user_role_valid("sysadmin"));
    assert_false(kw_accounts_user_role_valid("admin"));
    assert_true(kw_accounts_member_role_valid("viewer"));
    assert_false(kw_accounts_member_role_valid("sysadmin"));
}

static void test_password_hash(void **state)
{
    char h[KW_PASSWORD_HASH_MAX], h2[KW_PASSWORD_HASH_MAX];

    assert_int_equal(kw_crypto_init(), KW_OK);
    assert_int_equal(kw_crypto_password_hash("correct horse", 13, 1024, 1, h), KW_OK);
    assert_int_equal(strncmp(h, "$argon2id$", 10), 0);
    assert_true(kw_crypto_password_verify(h, "correct horse", 13));
    assert_false(kw_crypto_password_verify(h, "correct horsf", 13));
    assert_int_equal(kw_crypto_password_hash("correct horse", 13, 1024, 1, h2), KW_OK);
    assert_string_not_equal(h, h2); /* salted */
    assert_null(strstr(h, "correct"));
    kw_crypto_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_roles),
        cmocka_unit_test(test_password_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
