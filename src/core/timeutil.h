/* timeutil.h - wall-clock milliseconds and RFC 3339 text. All times in keyward are int64 ms since
 * the Unix epoch, UTC; 0 means "not set" wherever a time is optional. */
#ifndef KW_CORE_TIMEUTIL_H
#define KW_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_TIME_RFC3339_LEN 25 /* "2026-11-23T05:49:45.123Z" + NUL */

int64_t kw_time_now_ms(void);
/* Monotonic clock in nanoseconds, for latency measurement. */
uint64_t kw_time_mono_ns(void);
/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= KW_TIME_RFC3339_LEN bytes). */
void kw_time_format(int64_t ms, char out[KW_TIME_RFC3339_LEN]);
/* Parses an RFC 3339 timestamp ("2026-11-23T05:49:45Z", fractional seconds and +hh:mm offsets
 * allowed) into ms. KW_ERR_INVALID on anything else; *out_ms untouched on failure. */
enum kw_err kw_time_parse(const char *s, int64_t *out_ms);

#endif
