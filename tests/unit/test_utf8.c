/* test_utf8.c - kw_utf8_valid / kw_utf8_sanitize: what the audit list uses so that an event whose
 * stored strings are not UTF-8 is still rendered (jansson refuses invalid UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "core/utf8.h"
#include "domain/audit.h"

#define R "\xEF\xBF\xBD" /* U+FFFD */

static void check(const char *in, size_t len, const char *want)
{
    char out[64];
    size_t n = kw_utf8_sanitize(in, len, out, sizeof(out));

    assert_int_equal(n, strlen(want));
    assert_string_equal(out, want);
    assert_true(kw_utf8_valid(out, n));
}

static void test_valid_passes_through(void **state)
{
    (void)state;
    check("key_abc", 7, "key_abc");
    check("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91", 14, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x91");
    assert_true(kw_utf8_valid("\xF4\x8F\xBF\xBF", 4)); /* U+10FFFF */
    assert_true(kw_utf8_valid("", 0));
}

static void test_invalid_is_replaced(void **state)
{
    (void)state;
    /* The repro: GET /api/v1/keys/key_\xff\xfe. */
    assert_false(kw_utf8_valid("key_\xFF\xFE", 6));
    check("key_\xFF\xFE", 6, "key_" R R);
    check("\x80x", 2, R "x");              /* lone continuation */
    check("\xC0\xAF", 2, R R);             /* overlong '/' */
    check("\xE0\x80\xAF", 3, R R R);       /* overlong 3-byte */
    check("\xED\xA0\x80", 3, R R R);       /* surrogate U+D800 */
    check("\xF4\x90\x80\x80", 4, R R R R); /* above U+10FFFF */
    check("\xE2\x82", 2, R);               /* truncated: one maximal subpart */
    check("\xE2\x82x", 3, R "x");
    check("\xF0\x9F\x94", 3, R);
    check("a\xF5z", 3, "a" R "z");
    assert_false(kw_utf8_valid("\xC3", 1));
}

static void test_truncates_at_boundary(void **state)
{
    char out[6];
    (void)state;
    /* "ab" + euro (3 bytes) fits exactly in 6 with the NUL; one more byte would split the next one. */
    assert_int_equal(kw_utf8_sanitize("ab\xE2\x82\xAC\xE2\x82\xAC", 8, out, sizeof(out)), 5);
    assert_string_equal(out, "ab\xE2\x82\xAC");
    assert_int_equal(kw_utf8_sanitize("abcd\xFF", 5, out, sizeof(out)), 4); /* U+FFFD would not fit */
    assert_string_equal(out, "abcd");
    assert_int_equal(kw_utf8_sanitize("abc", 3, out, 1), 0);
    assert_string_equal(out, "");
    assert_int_equal(kw_utf8_sanitize("ab\0cd", 5, out, sizeof(out)), 2); /* stops at NUL */
}

/* What the renderer relies on: any byte string, sanitized, is accepted by json_pack. */
static void test_json_accepts_every_sanitized_string(void **state)
{
    unsigned char in[8];
    char out[3 * sizeof(in) + 1];
    unsigned long i;
    (void)state;

    assert_null(json_pack("{s:s}", "id", "key_\xFF\xFE")); /* the bug this helper exists for */
    for (i = 0; i < 200000; i++) {
        unsigned long x = i * 2654435761u + 12345;
        size_t j, n = (i % sizeof(in)) + 1;
        for (j = 0; j < n; j++, x = x * 6364136223846793005ull + 1442695040888963407ull)
            in[j] = (unsigned char)((x >> 33) | 1); /* never NUL */
        size_t w = kw_utf8_sanitize((const char *)in, n, out, sizeof(out));
        assert_true(kw_utf8_valid(out, w));
        if (kw_utf8_valid((const char *)in, n))
            assert_memory_equal(out, in, n);
        json_t *o = json_pack("{s:s}", "id", out);
        assert_non_null(o);
        json_decref(o);
    }
}

/* The audit list's repro: an event whose target is key_\xff\xfe renders (it used to drop out). */
static void test_audit_event_printable(void **state)
{
    struct kw_audit_event e, p;
    json_t *o;
    (void)state;

    kw_audit_event_init(&e, "key", "key_abc", "key.read", "key", "key_\xff\xfe", NULL, "denied");
    snprintf(e.ip, sizeof(e.ip), "127.0.0.1");
    memset(e.request_id, '\x80', sizeof(e.request_id) - 1); /* full field of invalid bytes */
    e.request_id[sizeof(e.request_id) - 1] = '\0';
    e.seq = 7;
    e.hash[0] = 0xAB;
    assert_null(json_pack("{s:s}", "target", e.target_id));
    kw_audit_event_printable(&e, &p);
    assert_string_equal(p.target_id, "key_" R R);
    assert_string_equal(p.actor_id, "key_abc");
    assert_string_equal(p.ip, "127.0.0.1");
    assert_true(kw_utf8_valid(p.request_id, strlen(p.request_id)));
    assert_int_equal(strlen(p.request_id), 63); /* 21 x U+FFFD, cut at a character boundary */
    assert_int_equal(p.seq, 7);
    assert_int_equal(p.hash[0], 0xAB);
    assert_memory_equal(e.target_id, "key_\xff\xfe", 7); /* the stored bytes are untouched */
    o = json_pack("{s:s, s:s, s:s}", "target", p.target_id, "requestId", p.request_id, "detail", p.detail);
    assert_non_null(o);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_passes_through),
        cmocka_unit_test(test_invalid_is_replaced),
        cmocka_unit_test(test_truncates_at_boundary),
        cmocka_unit_test(test_json_accepts_every_sanitized_string),
        cmocka_unit_test(test_audit_event_printable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
