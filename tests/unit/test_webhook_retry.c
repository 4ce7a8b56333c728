/* test_webhook_retry.c - the webhook retry schedule (Standard Webhooks, +-20% jitter), the test-only
 * schedule override and Retry-After parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "domain/webhook_retry.h"

#define NOW 1700000000000LL
#define HOUR (3600LL * 1000)

static void test_default_schedule(void **state)
{
    static const int64_t want[] = {0, 5000, 300000, 1800000, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR,
                                   20 * HOUR, 24 * HOUR};
    struct kw_webhook_schedule s;
    int64_t next = 0;
    size_t i;

    kw_webhook_schedule_default(&s);
    assert_int_equal(s.n, 10);
    for (i = 0; i < 10; i++)
        assert_int_equal(s.delay_ms[i], want[i]);
    /* rnd % 401 == 200 is the middle: no jitter */
    assert_int_equal(kw_webhook_next_attempt(&s, 1, NOW, 200, 0, &next), KW_OK);
    assert_int_equal(next, NOW + 5000);
    assert_int_equal(kw_webhook_next_attempt(&s, 9, NOW, 200, 0, &next), KW_OK);
    assert_int_equal(next, NOW + 24 * HOUR);
    /* after the tenth attempt: no more */
    assert_int_equal(kw_webhook_next_attempt(&s, 10, NOW, 200, 0, &next), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_webhook_next_attempt(&s, 0, NOW, 200, 0, &next), KW_ERR_NOT_FOUND);
}

static void test_jitter_bounds(void **state)
{
    struct kw_webhook_schedule s;
    int64_t next = 0, lo = INT64_MAX, hi = 0;
    uint32_t r;

    kw_webhook_schedule_default(&s);
    assert_int_equal(kw_webhook_next_attempt(&s, 2, NOW, 0, 0, &next), KW_OK);
    assert_int_equal(next, NOW + 240000); /* 5 min * 0.8 */
    assert_int_equal(kw_webhook_next_attempt(&s, 2, NOW, 400, 0, &next), KW_OK);
    assert_int_equal(next, NOW + 360000); /* 5 min * 1.2 */
    for (r = 0; r < 100000; r += 7) {
        kw_webhook_next_attempt(&s, 2, NOW, r * 2654435761u, 0, &next);
        lo = next < lo ? next : lo;
        hi = next > hi ? next : hi;
    }
    assert_true(lo >= NOW + 240000 && hi <= NOW + 360000);
    assert_true(hi - lo > 100000); /* it does spread */
}

static void test_retry_after_wins_when_later(void **state)
{
    struct kw_webhook_schedule s;
    int64_t next = 0;

    kw_webhook_schedule_default(&s);
    /* later than the 5 s step: taken */
    assert_int_equal(kw_webhook_next_attempt(&s, 1, NOW, 200, NOW + 60000, &next), KW_OK);
    assert_int_equal(next, NOW + 60000);
    /* earlier than the schedule: the schedule */
    assert_int_equal(kw_webhook_next_attempt(&s, 3, NOW, 200, NOW + 60000, &next), KW_OK);
    assert_int_equal(next, NOW + 30 * 60000);
    /* capped at 24 h */
    assert_int_equal(kw_webhook_next_attempt(&s, 1, NOW, 200, NOW + 30 * 24 * HOUR, &next), KW_OK);
    assert_int_equal(next, NOW + 24 * HOUR);
    /* never an extra attempt */
    assert_int_equal(kw_webhook_next_attempt(&s, 10, NOW, 200, NOW + 1000, &next), KW_ERR_NOT_FOUND);
}

static void test_schedule_parse(void **state)
{
    struct kw_webhook_schedule s;
    int64_t next = 0;

    assert_int_equal(kw_webhook_schedule_parse("0,200,400", &s), KW_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.delay_ms[1], 200);
    assert_int_equal(kw_webhook_next_attempt(&s, 2, NOW, 200, 0, &next), KW_OK);
    assert_int_equal(next, NOW + 400);
    assert_int_equal(kw_webhook_next_attempt(&s, 3, NOW, 200, 0, &next), KW_ERR_NOT_FOUND);
    assert_int_equal(kw_webhook_schedule_parse("5,7", &s), KW_OK);
    assert_int_equal(s.delay_ms[0], 0); /* attempt 1 is always at once */
    assert_int_equal(kw_webhook_schedule_parse("0", &s), KW_OK);
    assert_int_equal(s.n, 1);
    kw_webhook_schedule_default(&s);
    assert_int_equal(kw_webhook_schedule_parse("", &s), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_schedule_parse("0,", &s), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_schedule_parse("0,-1", &s), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_schedule_parse("0, 1", &s), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_schedule_parse("0,99999999999", &s), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_schedule_parse("0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", &s), KW_ERR_INVALID);
    assert_int_equal(s.n, 10); /* untouched by the failures */

    setenv(KW_WEBHOOK_SCHEDULE_ENV, "0,100", 1);
    kw_webhook_schedule_load(&s);
    assert_int_equal(s.n, 2);
    setenv(KW_WEBHOOK_SCHEDULE_ENV, "junk", 1);
    kw_webhook_schedule_load(&s);
    assert_int_equal(s.n, 10);
    unsetenv(KW_WEBHOOK_SCHEDULE_ENV);
}

static void test_retry_after_values(void **state)
{
    int64_t at = 0;

    assert_int_equal(kw_webhook_retry_after("120", NOW, &at), KW_OK);
    assert_int_equal(at, NOW + 120000);
    assert_int_equal(kw_webhook_retry_after("0", NOW, &at), KW_OK);
    assert_int_equal(at, NOW);
    assert_int_equal(kw_webhook_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 0, &at), KW_OK);
    assert_int_equal(at, 784111777000LL);
    assert_int_equal(kw_webhook_retry_after("Tue, 14 Nov 2023 22:13:20 GMT", NOW - 5000, &at), KW_OK);
    assert_int_equal(at, NOW); /* 1700000000 s */
    /* a date in the past: now */
    assert_int_equal(kw_webhook_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW, &at), KW_OK);
    assert_int_equal(at, NOW);
    assert_int_equal(kw_webhook_retry_after("", NOW, &at), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_retry_after("-5", NOW, &at), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_retry_after("12s", NOW, &at), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_retry_after("99999999999999999999", NOW, &at), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", NOW, &at), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", NOW, &at), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", NOW, &at), KW_ERR_INVALID);
    assert_int_equal(kw_webhook_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", NOW, &at), KW_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_schedule),
        cmocka_unit_test(test_jitter_bounds),
        cmocka_unit_test(test_retry_after_wins_when_later),
        cmocka_unit_test(test_schedule_parse),
        cmocka_unit_test(test_retry_after_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
