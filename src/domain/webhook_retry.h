/* webhook_retry.h - when a failed webhook delivery is tried again: the Standard Webhooks schedule with
 * jitter, and the receiver's Retry-After. Pure functions (no clock, no randomness of their own), so the
 * sender (webhook_sender.c) and the unit test share them.
 *
 * Schedule: attempt 1 is made at once; after attempt n fails, attempt n + 1 follows delay[n] later
 * (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h), each delay scaled by a uniform factor in
 * [0.8, 1.2] (+-20% jitter, so receivers coming back after an outage are not hit by every sender at
 * once). After the last attempt fails the delivery is failed. A Retry-After (delay-seconds or an
 * IMF-fixdate, RFC 9110 10.2.3) later than the scheduled time wins, capped at 24 h from now; it never
 * adds an attempt.
 *
 * Tests only: KEYWARD_TEST_WEBHOOK_SCHEDULE_MS="0,200,400" replaces the delays (ms, comma-separated,
 * the first is attempt 1's and is ignored) so an e2e test does not wait minutes; never set it in
 * production. */
#ifndef KW_DOMAIN_WEBHOOK_RETRY_H
#define KW_DOMAIN_WEBHOOK_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_WEBHOOK_SCHEDULE_MAX 16                          /* attempts a schedule may name */
#define KW_WEBHOOK_RETRY_AFTER_MAX_MS (24LL * 3600 * 1000)  /* a Retry-After is honoured up to this */
#define KW_WEBHOOK_SCHEDULE_ENV "KEYWARD_TEST_WEBHOOK_SCHEDULE_MS"

struct kw_webhook_schedule {
    int64_t delay_ms[KW_WEBHOOK_SCHEDULE_MAX]; /* delay_ms[n]: wait before attempt n + 1 (delay_ms[0] = 0) */
    size_t n;                                  /* attempts in all */
};

/* The Standard Webhooks schedule: 10 attempts. */
void kw_webhook_schedule_default(struct kw_webhook_schedule *s);
/* "0,200,400": 1..KW_WEBHOOK_SCHEDULE_MAX non-negative integers (ms, at most 24 h each).
 * KW_ERR_INVALID otherwise (s untouched). */
enum kw_err kw_webhook_schedule_parse(const char *list, struct kw_webhook_schedule *s);
/* The default, or KW_WEBHOOK_SCHEDULE_ENV when it is set and valid (tests). */
void kw_webhook_schedule_load(struct kw_webhook_schedule *s);

/* After made (>= 1) attempts, the last of which failed at now_ms: *next_ms = when attempt made + 1 is
 * due (rnd: 32 uniform random bits for the jitter; retry_after_ms: the receiver's Retry-After as an
 * absolute time, 0 = none). KW_ERR_NOT_FOUND when the schedule has no attempt left (the delivery fails). */
enum kw_err kw_webhook_next_attempt(const struct kw_webhook_schedule *s, int64_t made, int64_t now_ms,
                                    uint32_t rnd, int64_t retry_after_ms, int64_t *next_ms);

/* A Retry-After header value (delay-seconds, or IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT"; the
 * obsolete date forms are not taken) as an absolute time in ms, given now_ms. KW_ERR_INVALID for
 * anything else (the caller ignores it). A date in the past answers now_ms. */
enum kw_err kw_webhook_retry_after(const char *value, int64_t now_ms, int64_t *at_ms);

#endif
