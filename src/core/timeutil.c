/* timeutil.c - clocks and RFC 3339; see timeutil.h. */
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t kw_time_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t kw_time_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void kw_time_format(int64_t ms, char out[KW_TIME_RFC3339_LEN])
{
    time_t secs = (time_t)(ms / 1000);
    int millis = (int)(ms % 1000);
    struct tm tm;

    if (millis < 0) {
        millis += 1000;
        secs--;
    }
    if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        memcpy(out, "1970-01-01T00:00:00.000Z", KW_TIME_RFC3339_LEN);
        return;
    }
    char tmp[64]; /* roomier than needed, so the compiler can prove no truncation */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    memcpy(out, tmp, KW_TIME_RFC3339_LEN - 1);
    out[KW_TIME_RFC3339_LEN - 1] = '\0';
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        v = v * 10 + (ch - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int expect(const char **p, char a, char b)
{
    if (**p != a && **p != b)
        return -1;
    (*p)++;
    return 0;
}

/* Fractional seconds (any number of digits, first three kept) and the zone; 0 or -1. */
static int parse_tail(const char *p, int *millis, long *offset_s)
{
    int hh, mm, sign, i;

    *millis = 0;
    *offset_s = 0;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        for (i = 0; *p >= '0' && *p <= '9'; p++, i++) {
            if (i < 3)
                *millis = *millis * 10 + (*p - '0');
        }
        for (; i < 3; i++)
            *millis *= 10;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0' ? 0 : -1;
    if (*p != '+' && *p != '-')
        return -1;
    sign = *p++ == '-' ? -1 : 1;
    if (digits(&p, 2, &hh) || expect(&p, ':', ':') || digits(&p, 2, &mm) || *p != '\0' || hh > 23 || mm > 59)
        return -1;
    *offset_s = sign * (hh * 3600L + mm * 60L);
    return 0;
}

enum kw_err kw_time_parse(const char *s, int64_t *out_ms)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    struct tm tm;
    int y, mo, d, h, mi, sec, millis;
    long off;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (digits(&p, 4, &y) || expect(&p, '-', '-') || digits(&p, 2, &mo) || expect(&p, '-', '-') ||
        digits(&p, 2, &d) || expect(&p, 'T', 't') || digits(&p, 2, &h) || expect(&p, ':', ':') ||
        digits(&p, 2, &mi) || expect(&p, ':', ':') || digits(&p, 2, &sec) || parse_tail(p, &millis, &off))
        return KW_ERR_INVALID;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return KW_ERR_INVALID;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return KW_ERR_INVALID;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    *out_ms = ((int64_t)t - off) * 1000 + millis;
    return KW_OK;
}
