/* webhook_retry.c - the retry schedule, its jitter and Retry-After; see webhook_retry.h. */
#include "domain/webhook_retry.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR_MS (3600LL * 1000)

void kw_webhook_schedule_default(struct kw_webhook_schedule *s)
{
    static const int64_t std[] = {0,          5 * 1000,    5 * 60 * 1000, 30 * 60 * 1000, 2 * HOUR_MS,
                                  5 * HOUR_MS, 10 * HOUR_MS, 14 * HOUR_MS,  20 * HOUR_MS,   24 * HOUR_MS};

    memset(s, 0, sizeof(*s));
    memcpy(s->delay_ms, std, sizeof(std));
    s->n = sizeof(std) / sizeof(std[0]);
}

enum kw_err kw_webhook_schedule_parse(const char *list, struct kw_webhook_schedule *s)
{
    struct kw_webhook_schedule t;
    const char *p = list;

    memset(&t, 0, sizeof(t));
    if (list == NULL || *list == '\0')
        return KW_ERR_INVALID;
    for (;;) {
        int64_t v = 0;
        const char *start = p;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p++ - '0');
            if (v > 24 * HOUR_MS)
                return KW_ERR_INVALID;
        }
        if (p == start || t.n == KW_WEBHOOK_SCHEDULE_MAX)
            return KW_ERR_INVALID;
        t.delay_ms[t.n++] = v;
        if (*p == '\0')
            break;
        if (*p++ != ',')
            return KW_ERR_INVALID;
    }
    t.delay_ms[0] = 0;
    *s = t;
    return KW_OK;
}

void kw_webhook_schedule_load(struct kw_webhook_schedule *s)
{
    const char *env = getenv(KW_WEBHOOK_SCHEDULE_ENV);

    kw_webhook_schedule_default(s);
    if (env != NULL && *env != '\0')
        kw_webhook_schedule_parse(env, s); /* an invalid value keeps the default */
}

enum kw_err kw_webhook_next_attempt(const struct kw_webhook_schedule *s, int64_t made, int64_t now_ms,
                                    uint32_t rnd, int64_t retry_after_ms, int64_t *next_ms)
{
    int64_t delay, at;

    if (made < 1 || (size_t)made >= s->n)
        return KW_ERR_NOT_FOUND;
    delay = s->delay_ms[made];
    delay = delay * (800 + (int64_t)(rnd % 401)) / 1000; /* [0.8, 1.2] in steps of 0.1% */
    at = now_ms + delay;
    if (retry_after_ms > at) {
        int64_t cap = now_ms + KW_WEBHOOK_RETRY_AFTER_MAX_MS;
        at = retry_after_ms < cap ? retry_after_ms : cap;
    }
    *next_ms = at;
    return KW_OK;
}

/* Two digits at p into *v. */
static int two(const char *p, int *v)
{
    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return 0;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return 1;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 bytes) into ms since the epoch. */
static enum kw_err imf_fixdate(const char *v, int64_t *ms)
{
    static const char days[] = "SunMonTueWedThuFriSat", months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct tm tm;
    const char *m;
    int d, y1, y2, hh, mm, ss;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (strlen(v) != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' ||
        v[19] != ':' || v[22] != ':' || strcmp(v + 25, " GMT") != 0)
        return KW_ERR_INVALID;
    for (m = days; *m != '\0' && strncmp(m, v, 3) != 0; m += 3)
        ;
    if (*m == '\0')
        return KW_ERR_INVALID;
    for (m = months; *m != '\0' && strncmp(m, v + 8, 3) != 0; m += 3)
        ;
    if (*m == '\0' || !two(v + 5, &d) || !two(v + 12, &y1) || !two(v + 14, &y2) || !two(v + 17, &hh) ||
        !two(v + 20, &mm) || !two(v + 23, &ss) || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
        return KW_ERR_INVALID;
    tm.tm_mday = d;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_year = y1 * 100 + y2 - 1900;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return KW_ERR_INVALID;
    *ms = (int64_t)t * 1000;
    return KW_OK;
}

enum kw_err kw_webhook_retry_after(const char *value, int64_t now_ms, int64_t *at_ms)
{
    const char *p = value;
    int64_t secs = 0, at;

    if (value == NULL || *value == '\0')
        return KW_ERR_INVALID;
    if (*p >= '0' && *p <= '9') {
        while (*p >= '0' && *p <= '9') {
            secs = secs * 10 + (*p++ - '0');
            if (secs > 10LL * 365 * 24 * 3600)
                return KW_ERR_INVALID;
        }
        if (*p != '\0')
            return KW_ERR_INVALID;
        *at_ms = now_ms + secs * 1000;
        return KW_OK;
    }
    if (imf_fixdate(value, &at) != KW_OK)
        return KW_ERR_INVALID;
    *at_ms = at > now_ms ? at : now_ms;
    return KW_OK;
}
