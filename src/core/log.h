/* log.h - key=value log lines on stderr.
 *
 * A line looks like: ts=2026-11-23T05:49:45.123Z level=info msg="listening" addr=127.0.0.1:8080
 * Callers pass the key=value tail themselves; values with spaces must be quoted by the caller
 * (kw_log_quote helps). Secrets never go to a log: keys appear by id only. Thread-safe:
 * each line is written with a single write(2). */
#ifndef KW_CORE_LOG_H
#define KW_CORE_LOG_H

#include <stddef.h>

enum kw_log_level { KW_LOG_DEBUG = 0, KW_LOG_INFO, KW_LOG_WARN, KW_LOG_ERROR };

/* Sets the minimum level written (default KW_LOG_INFO). Call before threads start. */
void kw_log_set_level(enum kw_log_level level);
/* Parses "debug|info|warn|error"; returns -1 if unknown. */
int kw_log_level_parse(const char *s);

void kw_log(enum kw_log_level level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define kw_log_debug(msg, ...) kw_log(KW_LOG_DEBUG, msg, __VA_ARGS__)
#define kw_log_info(msg, ...) kw_log(KW_LOG_INFO, msg, __VA_ARGS__)
#define kw_log_warn(msg, ...) kw_log(KW_LOG_WARN, msg, __VA_ARGS__)
#define kw_log_error(msg, ...) kw_log(KW_LOG_ERROR, msg, __VA_ARGS__)

/* Writes s into out (cap bytes) as a log-safe value: printable ASCII only, '"' and '\\' escaped,
 * wrapped in quotes, truncated to fit. Always NUL-terminates when cap > 0. */
void kw_log_quote(char *out, size_t cap, const char *s);

#endif
