/* throttle.h - failed-login counters per account and per IP, in memory (a restart forgets them).
 * A key is locked for the rest of the window once it reaches its limit. Thread-safe. */
#ifndef KW_DOMAIN_THROTTLE_H
#define KW_DOMAIN_THROTTLE_H

#include <stdint.h>

#define KW_THROTTLE_WINDOW_MS (15 * 60 * 1000)
#define KW_THROTTLE_ACCOUNT_LIMIT 5
#define KW_THROTTLE_IP_LIMIT 20

struct kw_throttle;

struct kw_throttle *kw_throttle_new(void);
void kw_throttle_free(struct kw_throttle *t);
/* Seconds until key may try again (0 = now). */
int64_t kw_throttle_wait(struct kw_throttle *t, const char *key, int limit, int64_t now_ms);
void kw_throttle_fail(struct kw_throttle *t, const char *key, int64_t now_ms);
void kw_throttle_clear(struct kw_throttle *t, const char *key);

#endif
