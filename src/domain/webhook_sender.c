/* webhook_sender.c - the webhook delivery thread on libcurl's multi interface; see webhook_sender.h.
 * The only file that includes curl/curl.h outside the CLI. */
#include "domain/webhook_sender.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/netaddr.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/app.h"
#include "domain/commit_internal.h"
#include "domain/webhook_retry.h"
#include "domain/webhooks.h"
#include "store/store.h"

#define SIG_B64_MAX 48 /* base64 of 32 bytes (44) + NUL */
#define HDR_MAX 160

/* One attempt in flight. */
struct transfer {
    int used;
    CURL *e;
    struct curl_slist *hdrs;
    struct kw_webhook_sender *s;
    struct kw_delivery_lease lease;
    int64_t started_ms;
    uint64_t t0_ns;
    const char *refused; /* the range the SSRF guard refused a connection to, or NULL */
    struct kw_delivery_attempt a; /* its outcome, once done; recorded with the others of the batch */
    enum kw_err rec;              /* what recording it gave */
};

struct kw_webhook_sender {
    struct kw_app *app;
    char node[KW_JOB_NODE_MAX];
    struct kw_webhook_schedule schedule;
    int allow_private;
    CURLM *multi;
    pthread_t thread;
    int started, failing;
    atomic_int stop, woken;
    size_t inflight;
    int more_due;  /* the last lease filled every free slot: more rows may be due right now */
    int64_t attempts, connects; /* made, and connections opened for them (logged at stop) */
    struct transfer t[KW_SENDER_INFLIGHT];
    struct transfer *batch[KW_SENDER_INFLIGHT]; /* the thread's: finished attempts not recorded yet */
    size_t nbatch;
    struct kw_delivery_lease got[KW_SENDER_INFLIGHT]; /* the thread's: what one lease call returned */
    struct kw_webhook hook;                           /* the thread's: sealed secrets as webhooks.h reads them */
};

/* One write transaction around one store call, retried while the database asks. */
#define SENDER_TX(st, err, tx, expr)                                                                         \
    do {                                                                                                     \
        int tries_ = 0;                                                                                      \
        do {                                                                                                 \
            struct kw_tx *tx = NULL;                                                                         \
            (err) = kw_store_begin((st), KW_TX_WRITE, &tx);                                                  \
            if ((err) == KW_OK && ((err) = (expr)) == KW_OK)                                                 \
                (err) = kw_store_commit(tx);                                                                 \
            else                                                                                             \
                kw_store_rollback(tx);                                                                       \
        } while ((err) == KW_ERR_RETRY && ++tries_ < 3);                                                     \
    } while (0)

static const struct kw_actor sender_actor = {"system", "webhook-sender", NULL, NULL, NULL, NULL};

/* ---- the SSRF guard: every socket curl opens for a transfer goes through here ---- */

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct transfer *t = clientp;
    struct kw_netaddr a;
    const char *why;

    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    if (!t->s->allow_private) {
        if (kw_netaddr_from_sockaddr(&addr->addr, addr->addrlen, &a) != KW_OK)
            why = "unsupported";
        else
            why = kw_netaddr_forbidden(&a);
        if (why != NULL) {
            t->refused = why;
            return CURL_SOCKET_BAD;
        }
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* ---- one attempt ---- */

/* "v1,<base64 HMAC-SHA256(key, id.ts.body)>" into out. */
static enum kw_err sign_one(const uint8_t key[KW_WEBHOOK_SECRET_LEN], const struct kw_delivery_lease *l,
                            const char *ts, char *out, size_t cap)
{
    uint8_t mac[KW_HMAC_SHA256_LEN];
    char *content, b64[SIG_B64_MAX];
    size_t idlen = strlen(l->id), tslen = strlen(ts), len = idlen + 1 + tslen + 1 + l->payload_len;
    enum kw_err err;

    if ((content = malloc(len)) == NULL)
        return KW_ERR_NOMEM;
    memcpy(content, l->id, idlen);
    content[idlen] = '.';
    memcpy(content + idlen + 1, ts, tslen);
    content[idlen + 1 + tslen] = '.';
    memcpy(content + idlen + tslen + 2, l->payload, l->payload_len);
    err = kw_crypto_hmac_sha256(key, KW_WEBHOOK_SECRET_LEN, content, len, mac);
    free(content);
    if (err == KW_OK && kw_crypto_base64_encode(mac, sizeof(mac), b64, sizeof(b64)) == 0)
        err = KW_ERR_INTERNAL;
    if (err == KW_OK)
        snprintf(out, cap, "v1,%s", b64);
    kw_crypto_wipe(mac, sizeof(mac));
    return err;
}

/* The webhook-signature header value: the current secret's signature, and the previous one's while
 * the rotation overlap lasts. */
static enum kw_err signature(struct kw_webhook_sender *s, const struct kw_delivery_lease *l, int64_t now_ms,
                             const char *ts, char *out, size_t cap)
{
    struct kw_webhook *w = &s->hook;
    uint8_t cur[KW_WEBHOOK_SECRET_LEN], prev[KW_WEBHOOK_SECRET_LEN];
    char one[SIG_B64_MAX + 4], two[SIG_B64_MAX + 4];
    int has_prev = 0;
    enum kw_err err;

    memset(w, 0, sizeof(*w));
    if (l->secret_len == 0 || l->secret_len > sizeof(w->secret_sealed) || l->prev_len > sizeof(w->prev_secret_sealed))
        return KW_ERR_MALFORMED;
    memcpy(w->secret_sealed, l->secret_sealed, l->secret_len);
    w->secret_sealed_len = l->secret_len;
    memcpy(w->prev_secret_sealed, l->prev_sealed, l->prev_len);
    w->prev_secret_sealed_len = l->prev_len;
    w->prev_secret_until = l->prev_until;
    err = kw_webhooks_signing_secrets(s->app, w, now_ms, cur, prev, &has_prev);
    if (err != KW_OK)
        return err;
    err = sign_one(cur, l, ts, one, sizeof(one));
    if (err == KW_OK && has_prev)
        err = sign_one(prev, l, ts, two, sizeof(two));
    if (err == KW_OK && has_prev)
        snprintf(out, cap, "%s %s", one, two);
    else if (err == KW_OK)
        snprintf(out, cap, "%s", one);
    kw_crypto_wipe(cur, sizeof(cur));
    kw_crypto_wipe(prev, sizeof(prev));
    return err;
}

static void transfer_reset(struct transfer *t)
{
    if (t->e != NULL) {
        curl_multi_remove_handle(t->s->multi, t->e);
        curl_easy_cleanup(t->e);
    }
    curl_slist_free_all(t->hdrs);
    t->e = NULL;
    t->hdrs = NULL;
    t->used = 0;
    t->refused = NULL;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
    char line[HDR_MAX + KW_ID_MAX];
    struct curl_slist *n;

    snprintf(line, sizeof(line), "%s: %s", name, value);
    if ((n = curl_slist_append(*list, line)) == NULL)
        return -1;
    *list = n;
    return 0;
}

/* Sets up t's easy handle for its lease. Returns "" on success, else the attempt's error. */
static const char *transfer_prepare(struct kw_webhook_sender *s, struct transfer *t)
{
    char ts[24], sig[HDR_MAX];
    struct kw_delivery_lease *l = &t->lease;
    CURL *e;

    if (l->payload_len >= sizeof(l->payload))
        return "payload_too_large";
    snprintf(ts, sizeof(ts), "%lld", (long long)(t->started_ms / 1000));
    if (signature(s, l, t->started_ms, ts, sig, sizeof(sig)) != KW_OK)
        return "secret_unreadable";
    if ((t->e = e = curl_easy_init()) == NULL)
        return "internal";
    if (add_header(&t->hdrs, "content-type", "application/json") != 0 ||
        add_header(&t->hdrs, "webhook-id", l->id) != 0 || add_header(&t->hdrs, "webhook-timestamp", ts) != 0 ||
        add_header(&t->hdrs, "webhook-signature", sig) != 0 || add_header(&t->hdrs, "expect", "") != 0)
        return "internal";
    kw_crypto_wipe(sig, sizeof(sig)); /* not a secret, but no reason to keep it */
    curl_easy_setopt(e, CURLOPT_URL, l->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never the environment's proxy: the guard must see the peer */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)KW_SENDER_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)KW_SENDER_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_USERAGENT, KW_SENDER_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, l->payload);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)l->payload_len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        return "internal";
    return "";
}

/* The attempt's error name for a curl result (refused: what the SSRF guard said, if anything). */
static const char *error_name(CURLcode rc, const char *refused)
{
    switch (rc) {
    case CURLE_OK:
        return "";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "dns";
    case CURLE_COULDNT_CONNECT:
        return refused != NULL ? "refused_address" : "connect";
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
        return "url";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return "tls";
    default:
        return refused != NULL ? "refused_address" : "network";
    }
}

/* A 410: the attempt is recorded and the webhook disabled in one audited write. */
struct gone_ctx {
    const struct kw_delivery_lease *lease;
    const struct kw_delivery_attempt *a;
};

static enum kw_err gone_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct gone_ctx *g = ctx;
    enum kw_err err = kw_store_delivery_record(tx, g->lease, g->a);

    if (err == KW_ERR_CONFLICT)
        w->conflict = "LEASE_LOST";
    if (err == KW_OK)
        err = kw_store_webhook_gone(tx, g->lease->webhook_id, g->a->at + g->a->duration_ms, NULL);
    snprintf(w->detail, sizeof(w->detail), "{\"reason\":\"gone\",\"status\":410,\"deliveryId\":\"%s\"}",
             g->lease->id);
    return err;
}

/* Works out t's outcome (or that of a failure that never reached curl: pre_error) into t->a and queues
 * t on the batch; a 410 is recorded here, in its own audited write. */
static void transfer_done(struct kw_webhook_sender *s, struct transfer *t, CURLcode rc, const char *pre_error)
{
    struct kw_delivery_lease *l = &t->lease;
    struct kw_delivery_attempt *a = &t->a;
    struct curl_header *h = NULL;
    int64_t retry_after = 0, now = kw_time_now_ms();
    long status = 0, connects = 0;
    uint32_t rnd = 0;

    memset(a, 0, sizeof(*a));
    a->at = t->started_ms;
    a->duration_ms = (int64_t)((kw_time_mono_ns() - t->t0_ns) / 1000000u);
    if (pre_error != NULL) {
        a->error = pre_error;
    } else {
        curl_easy_getinfo(t->e, CURLINFO_RESPONSE_CODE, &status);
        if (curl_easy_getinfo(t->e, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
            s->connects += connects;
        a->error = error_name(rc, t->refused);
        if (rc == CURLE_OK && curl_easy_header(t->e, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
            kw_webhook_retry_after(h->value, now, &retry_after);
    }
    s->attempts++;
    a->status = rc == CURLE_OK ? (int)status : 0;
    kw_crypto_random(&rnd, sizeof(rnd));
    if (a->error[0] == '\0' && a->status >= 200 && a->status <= 299)
        a->state = "delivered";
    else if (a->status != 410 &&
             kw_webhook_next_attempt(&s->schedule, l->attempts + 1, now, rnd, retry_after, &a->next_attempt_at) ==
                 KW_OK)
        a->state = "pending";
    else
        a->state = "failed";
    t->rec = KW_ERR_INTERNAL; /* until recorded */
    if (a->status == 410) {
        struct kw_write w;
        struct gone_ctx g = {l, a};
        kw_write_init(&w, &sender_actor, "webhook.disable", "webhook", l->webhook_id, l->service_id);
        t->rec = kw_domain_write(s->app, &w, gone_body, &g);
    }
    s->batch[s->nbatch++] = t;
}

/* The batch's attempts but the 410s (recorded already), in the caller's transaction. Each is recorded
 * only if its lease is still this node's: a lost lease (KW_ERR_CONFLICT) writes nothing for that one
 * and the others go on; any other error fails the whole transaction. */
static enum kw_err record_batch(struct kw_tx *tx, struct kw_webhook_sender *s)
{
    size_t i;

    for (i = 0; i < s->nbatch; i++) {
        struct transfer *t = s->batch[i];
        if (t->a.status == 410)
            continue;
        t->rec = kw_store_delivery_record(tx, &t->lease, &t->a);
        if (t->rec != KW_OK && t->rec != KW_ERR_CONFLICT)
            return t->rec;
    }
    return KW_OK;
}

/* Records the batch in one write transaction (one commit for all of it), logs each attempt and frees
 * their slots. */
static void flush_batch(struct kw_webhook_sender *s)
{
    enum kw_err err = KW_OK;
    size_t i, others = 0;

    for (i = 0; i < s->nbatch; i++)
        others += s->batch[i]->a.status != 410;
    if (others > 0)
        SENDER_TX(s->app->store, err, tx, record_batch(tx, s));
    for (i = 0; i < s->nbatch; i++) {
        struct transfer *t = s->batch[i];
        struct kw_delivery_lease *l = &t->lease;
        struct kw_delivery_attempt *a = &t->a;
        enum kw_err rec = a->status == 410 || err == KW_OK ? t->rec : err;
        if (rec == KW_ERR_CONFLICT)
            kw_log_warn("webhook lease lost", "delivery=%s webhook=%s node=%s n=%lld", l->id, l->webhook_id,
                        s->node, (long long)(l->attempts + 1));
        else if (rec != KW_OK)
            kw_log_warn("webhook attempt not recorded", "delivery=%s webhook=%s err=%s", l->id, l->webhook_id,
                        kw_err_str(rec));
        kw_log_info("webhook attempt", "delivery=%s webhook=%s event=%s n=%lld status=%d error=%s state=%s "
                    "duration_ms=%lld%s%s", l->id, l->webhook_id, l->event_type, (long long)(l->attempts + 1),
                    a->status, a->error[0] ? a->error : "none", a->state, (long long)a->duration_ms,
                    t->refused ? " refused=" : "", t->refused ? t->refused : "");
        if (t->e != NULL)
            s->inflight--; /* it was started (a pre_error never reached curl) */
        transfer_reset(t);
    }
    s->nbatch = 0;
}

/* ---- the loop ---- */

static struct transfer *free_slot(struct kw_webhook_sender *s)
{
    size_t i;

    for (i = 0; i < KW_SENDER_INFLIGHT; i++)
        if (!s->t[i].used)
            return &s->t[i];
    return NULL;
}

/* Leases what is due into the free slots and starts it; more_due says whether it filled them all. */
static void lease_and_start(struct kw_webhook_sender *s)
{
    struct kw_delivery_lease *got = s->got;
    size_t cap = KW_SENDER_INFLIGHT - s->inflight, n = 0, i;
    int64_t now = kw_time_now_ms();
    enum kw_err err;

    if (cap == 0) {
        s->more_due = 1; /* asked (woken) while full: look again once slots free up */
        return;
    }
    SENDER_TX(s->app->store, err, tx, kw_store_delivery_lease(tx, s->node, now, KW_SENDER_LEASE_MS, got, cap, &n));
    if (err != KW_OK && !s->failing)
        kw_log_warn("webhook sender cannot reach the store", "node=%s err=%s", s->node, kw_err_str(err));
    else if (err == KW_OK && s->failing)
        kw_log_info("webhook sender reaches the store again", "node=%s", s->node);
    s->failing = err != KW_OK;
    s->more_due = err == KW_OK && n == cap;
    for (i = 0; err == KW_OK && i < n; i++) {
        struct transfer *t = free_slot(s);
        const char *pre;
        t->used = 1;
        t->s = s;
        t->lease = got[i];
        t->started_ms = kw_time_now_ms();
        t->t0_ns = kw_time_mono_ns();
        s->inflight++;
        pre = transfer_prepare(s, t);
        if (pre[0] != '\0') {
            if (t->e != NULL) {
                curl_multi_remove_handle(s->multi, t->e);
                curl_easy_cleanup(t->e);
                t->e = NULL;
            }
            s->inflight--;
            transfer_done(s, t, CURLE_OK, pre);
        }
    }
    if (s->nbatch > 0)
        flush_batch(s);
}

/* Every attempt curl finished since the last call, recorded as one batch. */
static void collect_done(struct kw_webhook_sender *s)
{
    struct CURLMsg *m;
    int left = 0;

    while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
        struct transfer *t = NULL;
        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        if (t == NULL)
            continue;
        transfer_done(s, t, m->data.result, NULL);
    }
    if (s->nbatch > 0)
        flush_batch(s);
}

/* Whether to lease again now rather than at the next poll: more rows were due at the last lease and
 * enough slots are free to make a batch worth one commit (or nothing is in flight at all). */
static int lease_now(const struct kw_webhook_sender *s)
{
    return s->more_due && (KW_SENDER_INFLIGHT - s->inflight >= KW_SENDER_LEASE_BATCH || s->inflight == 0);
}

/* At the end: attempts still in flight are dropped unrecorded, and every lease of this node given back. */
static void release_all(struct kw_webhook_sender *s)
{
    int64_t released = 0;
    enum kw_err err;
    size_t i;

    for (i = 0; i < KW_SENDER_INFLIGHT; i++)
        if (s->t[i].used)
            transfer_reset(&s->t[i]);
    s->inflight = 0;
    SENDER_TX(s->app->store, err, tx, kw_store_delivery_release(tx, s->node, NULL, &released));
    if (err != KW_OK)
        kw_log_warn("webhook leases not released", "node=%s err=%s lease_ms=%d", s->node, kw_err_str(err),
                    KW_SENDER_LEASE_MS);
    else
        kw_log_info("webhook sender stopped", "node=%s released=%lld attempts=%lld connections=%lld", s->node,
                    (long long)released, (long long)s->attempts, (long long)s->connects);
}

static void *sender_main(void *arg)
{
    struct kw_webhook_sender *s = arg;
    int64_t next_poll = 0, stop_by = 0;
    int running = 0;

    for (;;) {
        int64_t now = kw_time_now_ms(), wait;
        int stopping = atomic_load(&s->stop);
        if (stopping && stop_by == 0)
            stop_by = now + KW_SENDER_STOP_MS;
        if (stopping && (s->inflight == 0 || now >= stop_by))
            break;
        if (!stopping && (atomic_exchange(&s->woken, 0) || now >= next_poll || lease_now(s))) {
            lease_and_start(s);
            next_poll = now + KW_SENDER_POLL_MS;
        }
        curl_multi_perform(s->multi, &running);
        collect_done(s);
        if (stopping)
            wait = 50;
        else if (lease_now(s))
            wait = 0;
        else
            wait = next_poll - kw_time_now_ms();
        if (wait > 0)
            curl_multi_poll(s->multi, NULL, 0, (int)(wait < KW_SENDER_POLL_MS ? wait : KW_SENDER_POLL_MS), NULL);
    }
    release_all(s);
    return NULL;
}

void kw_webhook_sender_wake(struct kw_webhook_sender *s)
{
    if (s == NULL)
        return;
    atomic_store(&s->woken, 1);
    curl_multi_wakeup(s->multi);
}

static void wake_cb(void *ctx)
{
    kw_webhook_sender_wake(ctx);
}

enum kw_err kw_webhook_sender_start(struct kw_app *app, const char *node, struct kw_webhook_sender **out)
{
    struct kw_webhook_sender *s;

    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return KW_ERR_INTERNAL;
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        curl_global_cleanup();
        return KW_ERR_NOMEM;
    }
    s->app = app;
    snprintf(s->node, sizeof(s->node), "%s", node);
    s->allow_private = app->cfg->webhook_allow_private;
    kw_webhook_schedule_load(&s->schedule);
    atomic_init(&s->stop, 0);
    atomic_init(&s->woken, 0);
    if ((s->multi = curl_multi_init()) == NULL || pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        if (s->multi != NULL)
            curl_multi_cleanup(s->multi);
        free(s);
        curl_global_cleanup();
        return KW_ERR_INTERNAL;
    }
    s->started = 1;
    app->webhooks_wake_ctx = s;
    app->webhooks_wake = wake_cb;
    if (getenv(KW_WEBHOOK_SCHEDULE_ENV) != NULL)
        kw_log_warn("webhook retry schedule from the environment (tests only)", "var=%s attempts=%zu",
                    KW_WEBHOOK_SCHEDULE_ENV, s->schedule.n);
    kw_log_info("webhook sender started", "node=%s allow_private=%d poll_ms=%d", s->node, s->allow_private,
                KW_SENDER_POLL_MS);
    *out = s;
    return KW_OK;
}

void kw_webhook_sender_free(struct kw_webhook_sender *s)
{
    if (s == NULL)
        return;
    s->app->webhooks_wake = NULL;
    s->app->webhooks_wake_ctx = NULL;
    atomic_store(&s->stop, 1);
    curl_multi_wakeup(s->multi);
    if (s->started)
        pthread_join(s->thread, NULL);
    curl_multi_cleanup(s->multi);
    free(s);
    curl_global_cleanup();
}
