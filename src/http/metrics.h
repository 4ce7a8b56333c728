/* metrics.h - per-worker counters, summed when /metrics is scraped. Each worker writes only its own
 * struct (single writer, relaxed atomics: no locked instructions on the hot path). */
#ifndef KW_HTTP_METRICS_H
#define KW_HTTP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/keycache.h"
#include "domain/writer.h"

#define KW_METRICS_ROUTE_SLOTS 128
#define KW_METRICS_BUCKETS 14

struct kw_metrics_route {
    const char *route; /* static string from the route table */
    int status;
    _Atomic uint64_t count;
};

struct kw_metrics {
    struct kw_metrics_route routes[KW_METRICS_ROUTE_SLOTS];
    atomic_size_t nroutes;
    _Atomic uint64_t verifications[KW_VERIFY_CODE_COUNT];
    _Atomic uint64_t buckets[KW_METRICS_BUCKETS]; /* cumulative counts per le bound, last = +Inf */
    _Atomic uint64_t duration_ns_sum;
    _Atomic uint64_t duration_count;
    _Atomic uint64_t accept_backoffs; /* accept pauses at the descriptor limit */
};

/* Records one request on the calling worker's metrics. verify_code < 0 = not a verification. */
void kw_metrics_record(struct kw_metrics *m, const char *route, int status, int verify_code, uint64_t ns);

/* Counts one accept pause (EMFILE/ENFILE) on the calling worker. */
void kw_metrics_accept_backoff(struct kw_metrics *m);

/* Renders Prometheus text for all workers into a malloc'd string (*len set). NULL on ENOMEM. */
char *kw_metrics_render(struct kw_metrics *const *workers, size_t n, size_t keys_cached, size_t *len);

/* Appends the write-behind counters (dropped per kind, flush failures, queue depth) to a body from
 * kw_metrics_render; returns the grown buffer (*len updated), or NULL on ENOMEM (buf is then freed). */
char *kw_metrics_append_writer(char *buf, size_t *len, const struct kw_writer_stats *ws);

#endif
