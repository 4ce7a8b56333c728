/* metrics.c - Prometheus text exposition of per-worker counters; see metrics.h. */
#include "http/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_bounds[KW_METRICS_BUCKETS - 1] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                             0.01,   0.025,   0.05,   0.1,   0.25,   0.5, 1.0};

#define INC(x) atomic_store_explicit(&(x), atomic_load_explicit(&(x), memory_order_relaxed) + 1, memory_order_relaxed)
#define ADD(x, v)                                                                                      \
    atomic_store_explicit(&(x), atomic_load_explicit(&(x), memory_order_relaxed) + (v), memory_order_relaxed)
#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

void kw_metrics_record(struct kw_metrics *m, const char *route, int status, int verify_code, uint64_t ns)
{
    size_t n = atomic_load_explicit(&m->nroutes, memory_order_relaxed), i;
    double secs = (double)ns / 1e9;

    for (i = 0; i < n; i++) {
        if (m->routes[i].route == route && m->routes[i].status == status)
            break;
    }
    if (i == n && n < KW_METRICS_ROUTE_SLOTS) {
        m->routes[n].route = route;
        m->routes[n].status = status;
        atomic_store_explicit(&m->nroutes, n + 1, memory_order_release);
    }
    if (i < KW_METRICS_ROUTE_SLOTS)
        INC(m->routes[i].count);
    if (verify_code >= 0 && verify_code < KW_VERIFY_CODE_COUNT)
        INC(m->verifications[verify_code]);
    for (i = 0; i < KW_METRICS_BUCKETS - 1 && secs > bucket_bounds[i]; i++)
        ;
    INC(m->buckets[i]);
    ADD(m->duration_ns_sum, ns);
    INC(m->duration_count);
}

void kw_metrics_accept_backoff(struct kw_metrics *m)
{
    INC(m->accept_backoffs);
}

struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (o->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        w = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (w < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)w < o->cap - o->len) {
            o->len += (size_t)w;
            return;
        }
        char *nb = realloc(o->buf, o->cap * 2 + (size_t)w);
        if (nb == NULL) {
            o->failed = 1;
            return;
        }
        o->buf = nb;
        o->cap = o->cap * 2 + (size_t)w;
    }
}

static void render_routes(struct out *o, struct kw_metrics *const *w, size_t n)
{
    size_t i, j, k, l;

    emit(o, "# HELP keyward_http_requests_total HTTP requests by route template and status.\n"
            "# TYPE keyward_http_requests_total counter\n");
    for (i = 0; i < n; i++) {
        size_t nr = atomic_load_explicit(&w[i]->nroutes, memory_order_acquire);
        for (j = 0; j < nr; j++) {
            const struct kw_metrics_route *r = &w[i]->routes[j];
            uint64_t total = 0;
            int seen = 0;
            /* Sum this (route, status) over all workers, once: skip if an earlier slot had it. */
            for (k = 0; k <= i && !seen; k++) {
                size_t lim = k == i ? j : atomic_load_explicit(&w[k]->nroutes, memory_order_acquire);
                for (l = 0; l < lim; l++)
                    seen |= w[k]->routes[l].route == r->route && w[k]->routes[l].status == r->status;
            }
            if (seen)
                continue;
            for (k = i; k < n; k++) {
                size_t lim = atomic_load_explicit(&w[k]->nroutes, memory_order_acquire);
                for (l = 0; l < lim; l++) {
                    if (w[k]->routes[l].route == r->route && w[k]->routes[l].status == r->status)
                        total += GET(w[k]->routes[l].count);
                }
            }
            emit(o, "keyward_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", r->route, r->status,
                 (unsigned long long)total);
        }
    }
}

static void render_rest(struct out *o, struct kw_metrics *const *w, size_t n, size_t keys_cached)
{
    uint64_t cum = 0, sum_ns = 0, count = 0, v;
    size_t i, b;
    int c;

    emit(o, "# HELP keyward_verifications_total Key verifications by outcome.\n"
            "# TYPE keyward_verifications_total counter\n");
    for (c = 0; c < KW_VERIFY_CODE_COUNT; c++) {
        for (v = 0, i = 0; i < n; i++)
            v += GET(w[i]->verifications[c]);
        emit(o, "keyward_verifications_total{outcome=\"%s\"} %llu\n", kw_verify_code_str(c),
             (unsigned long long)v);
    }
    emit(o, "# HELP keyward_http_request_duration_seconds Time from request to response.\n"
            "# TYPE keyward_http_request_duration_seconds histogram\n");
    for (b = 0; b < KW_METRICS_BUCKETS; b++) {
        for (i = 0; i < n; i++)
            cum += GET(w[i]->buckets[b]);
        if (b < KW_METRICS_BUCKETS - 1)
            emit(o, "keyward_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bucket_bounds[b],
                 (unsigned long long)cum);
        else
            emit(o, "keyward_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    for (i = 0; i < n; i++) {
        sum_ns += GET(w[i]->duration_ns_sum);
        count += GET(w[i]->duration_count);
    }
    emit(o, "keyward_http_request_duration_seconds_sum %.9f\n", (double)sum_ns / 1e9);
    emit(o, "keyward_http_request_duration_seconds_count %llu\n", (unsigned long long)count);
    for (v = 0, i = 0; i < n; i++)
        v += GET(w[i]->accept_backoffs);
    emit(o, "# HELP keyward_accept_backoff_total Times accepting paused because descriptors ran out.\n"
            "# TYPE keyward_accept_backoff_total counter\nkeyward_accept_backoff_total %llu\n",
         (unsigned long long)v);
    emit(o, "# HELP keyward_keys_cached Keys in the in-memory verify table.\n"
            "# TYPE keyward_keys_cached gauge\nkeyward_keys_cached %zu\n",
         keys_cached);
}

char *kw_metrics_render(struct kw_metrics *const *workers, size_t n, size_t keys_cached, size_t *len)
{
    struct out o = {malloc(4096), 0, 4096, 0};

    if (o.buf == NULL)
        return NULL;
    render_routes(&o, workers, n);
    render_rest(&o, workers, n, keys_cached);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}

char *kw_metrics_append_writer(char *buf, size_t *len, const struct kw_writer_stats *ws)
{
    struct out o = {buf, *len, *len + 1, 0};

    emit(&o, "# HELP keyward_writer_dropped_total Write-behind data dropped (queue or table full), by kind.\n"
             "# TYPE keyward_writer_dropped_total counter\n"
             "keyward_writer_dropped_total{kind=\"audit\"} %llu\n"
             "keyward_writer_dropped_total{kind=\"usage\"} %llu\n"
             "keyward_writer_dropped_total{kind=\"denials\"} %llu\n",
         (unsigned long long)ws->dropped_audit, (unsigned long long)ws->dropped_usage,
         (unsigned long long)ws->dropped_denials);
    emit(&o, "# HELP keyward_writer_flush_failures_total Write-behind flushes that failed (each retried).\n"
             "# TYPE keyward_writer_flush_failures_total counter\nkeyward_writer_flush_failures_total %llu\n"
             "# HELP keyward_writer_queue_depth Audit events waiting to be written.\n"
             "# TYPE keyward_writer_queue_depth gauge\nkeyward_writer_queue_depth %llu\n",
         (unsigned long long)ws->flush_failures, (unsigned long long)ws->queue_depth);
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}
