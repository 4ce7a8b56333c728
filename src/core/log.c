/* log.c - key=value lines on stderr, one write(2) each; see log.h. */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/timeutil.h"

#define KW_LOG_LINE_MAX 2048

static atomic_int min_level = KW_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void kw_log_set_level(enum kw_log_level level)
{
    atomic_store(&min_level, (int)level);
}

int kw_log_level_parse(const char *s)
{
    int i;

    for (i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0)
            return i;
    }
    return -1;
}

void kw_log(enum kw_log_level level, const char *msg, const char *fmt, ...)
{
    char line[KW_LOG_LINE_MAX], ts[KW_TIME_RFC3339_LEN], qmsg[256];
    va_list ap;
    int n, w;

    if ((int)level < atomic_load(&min_level) || (unsigned)level > KW_LOG_ERROR)
        return;
    kw_time_format(kw_time_now_ms(), ts);
    kw_log_quote(qmsg, sizeof(qmsg), msg);
    n = snprintf(line, sizeof(line), "ts=%s level=%s msg=%s", ts, level_names[level], qmsg);
    if (n < 0)
        return;
    if (fmt != NULL && fmt[0] != '\0' && (size_t)n < sizeof(line) - 2) {
        line[n++] = ' ';
        va_start(ap, fmt);
        w = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (w > 0)
            n += w;
    }
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere left to report it */
    }
}

void kw_log_quote(char *out, size_t cap, const char *s)
{
    size_t o = 0;

    if (cap == 0)
        return;
    if (cap < 3) {
        out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (; s != NULL && *s != '\0' && o + 3 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else {
            out[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}
