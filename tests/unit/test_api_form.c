/* test_api_form.c - x-www-form-urlencoded parsing (api/form.h): percent-decoding, '+' as a space,
 * empty pairs, refusals of malformed escapes, NULs and repeated parameters (RFC 6749 3.2), the caps,
 * the Content-Type check and the RFC 6749 5.2 error reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/form.h"

#define S(x) x, sizeof(x) - 1

static void test_parse(void **state)
{
    struct kw_form f;
    size_t n = 0;

    assert_int_equal(kw_form_parse(S("grant_type=client_credentials&scope=a+b%20c&&client_id=su_%41b&flag"), &f),
                     KW_FORM_OK);
    assert_int_equal(f.n, 4);
    assert_string_equal(kw_form_get(&f, "grant_type", NULL), "client_credentials");
    assert_string_equal(kw_form_get(&f, "scope", &n), "a b c");
    assert_int_equal(n, 5);
    assert_string_equal(kw_form_get(&f, "client_id", NULL), "su_Ab");
    assert_string_equal(kw_form_get(&f, "flag", &n), "");
    assert_int_equal(n, 0);
    assert_null(kw_form_get(&f, "missing", NULL));
    kw_form_cleanup(&f);
    /* names are decoded too; '=' inside a value stays */
    assert_int_equal(kw_form_parse(S("a%5Fb=x=y&"), &f), KW_FORM_OK);
    assert_string_equal(kw_form_get(&f, "a_b", NULL), "x=y");
    kw_form_cleanup(&f);
    assert_int_equal(kw_form_parse(S(""), &f), KW_FORM_OK);
    assert_int_equal(f.n, 0);
    kw_form_cleanup(&f);
}

static void test_refusals(void **state)
{
    static const char *const malformed[] = {"a=%", "a=%4", "a=%zz", "a=%00", "%=1", "a=b&c=%g1"};
    char many[512] = "";
    struct kw_form f;
    size_t i;

    for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        assert_int_equal(kw_form_parse(malformed[i], strlen(malformed[i]), &f), KW_FORM_MALFORMED);
        kw_form_cleanup(&f);
    }
    assert_int_equal(kw_form_parse(S("scope=a&scope=b"), &f), KW_FORM_DUPLICATE);
    assert_string_equal(f.dup, "scope");
    kw_form_cleanup(&f);
    assert_int_equal(kw_form_parse(S("scope=a&sc%6Fpe=a"), &f), KW_FORM_DUPLICATE); /* after decoding */
    kw_form_cleanup(&f);
    for (i = 0; i <= KW_FORM_PARAMS_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "p%zu=1&", i);
    assert_int_equal(kw_form_parse(many, strlen(many), &f), KW_FORM_TOO_LARGE);
    kw_form_cleanup(&f);
    assert_int_equal(kw_form_parse(many, KW_FORM_BODY_MAX + 1, &f), KW_FORM_TOO_LARGE);
    kw_form_cleanup(&f);
}

static void test_decode_and_type(void **state)
{
    char out[8];
    size_t n;
    struct kw_api_req req;

    assert_int_equal(kw_form_decode(S("a%3Ab+"), 0, out, sizeof(out), &n), 0);
    assert_string_equal(out, "a:b+"); /* '+' kept when not a form */
    assert_int_equal(kw_form_decode(S("12345678"), 1, out, sizeof(out), &n), -1); /* no room for the NUL */
    memset(&req, 0, sizeof(req));
    assert_false(kw_form_content_type(&req));
    req.content_type = "application/x-www-form-urlencoded";
    req.content_type_len = strlen(req.content_type);
    assert_true(kw_form_content_type(&req));
    req.content_type = "Application/X-WWW-Form-Urlencoded ; charset=UTF-8";
    req.content_type_len = strlen(req.content_type);
    assert_true(kw_form_content_type(&req));
    req.content_type = "application/x-www-form-urlencodedx";
    req.content_type_len = strlen(req.content_type);
    assert_false(kw_form_content_type(&req));
    req.content_type = "application/json";
    req.content_type_len = strlen(req.content_type);
    assert_false(kw_form_content_type(&req));
}

static void test_oauth_error(void **state)
{
    struct kw_api_res res;
    size_t i;
    int www = 0, store = 0;

    memset(&res, 0, sizeof(res));
    kw_api_oauth_error(&res, 401, "invalid_client", "Client authentication failed.");
    assert_int_equal(res.status, 401);
    assert_string_equal(res.content_type, "application/json");
    assert_string_equal(res.body, "{\"error\":\"invalid_client\",\"error_description\":\"Client authentication failed.\"}");
    for (i = 0; i < res.nheaders; i++) {
        www |= strcmp(res.headers[i].name, "WWW-Authenticate") == 0 && strncmp(res.headers[i].value, "Basic ", 6) == 0;
        store |= strcmp(res.headers[i].name, "Cache-Control") == 0 && strcmp(res.headers[i].value, "no-store") == 0;
    }
    assert_true(www && store);
    kw_api_res_cleanup(&res);
    memset(&res, 0, sizeof(res));
    kw_api_oauth_error(&res, 400, "invalid_scope", "x");
    for (i = 0; i < res.nheaders; i++)
        assert_string_not_equal(res.headers[i].name, "WWW-Authenticate");
    kw_api_res_cleanup(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_decode_and_type),
        cmocka_unit_test(test_oauth_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
