/* test_api_problem.c - the verify paths' problem writer (kw_api_problem_plain) answers byte for byte
 * what kw_api_problem (jansson) answers, and falls back to it for strings that need escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/internal.h"

static void same(int status, const char *code, const char *detail, const char *rid)
{
    struct kw_api_res a, b;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    kw_api_problem(&a, status, code, detail, NULL, rid);
    kw_api_problem_plain(&b, status, code, detail, rid);
    assert_non_null(a.body);
    assert_non_null(b.body);
    assert_string_equal(b.body, a.body);
    assert_int_equal(b.body_len, a.body_len);
    assert_int_equal(b.status, a.status);
    assert_string_equal(b.content_type, a.content_type);
    kw_api_res_cleanup(&a);
    kw_api_res_cleanup(&b);
}

static void test_plain_equals_jansson(void **state)
{
    same(401, "UNAUTHENTICATED", "The credential was not accepted (NOT_FOUND).", "b7Xc-0-2b");
    same(401, "UNAUTHENTICATED", "The credential was not accepted (MISSING).", NULL);
    same(403, "FORBIDDEN", "The key lacks the permission this route needs.", "client.id_1");
    same(404, "NOT_FOUND", "", "x");
}

static void test_escapes_fall_back(void **state)
{
    same(400, "INVALID_FIELD", "a \"quoted\" \\ detail", "r");
    same(400, "INVALID_FIELD", "tab\there", "r");
    same(400, "INVALID_FIELD", "caf\xc3\xa9", "r");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_equals_jansson),
        cmocka_unit_test(test_escapes_fall_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
