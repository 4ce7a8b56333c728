/* audit.c - the hash chain; see audit.h. */
#include "domain/audit.h"

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "crypto/crypto.h"

#define CANON_MAX 2048

static void put_str(uint8_t *buf, size_t *off, const char *s)
{
    size_t n = strnlen(s, 1024);
    uint32_t be = (uint32_t)n;

    buf[(*off)++] = (uint8_t)(be >> 24);
    buf[(*off)++] = (uint8_t)(be >> 16);
    buf[(*off)++] = (uint8_t)(be >> 8);
    buf[(*off)++] = (uint8_t)be;
    memcpy(buf + *off, s, n);
    *off += n;
}

static void put_i64(uint8_t *buf, size_t *off, int64_t v)
{
    int i;
    for (i = 7; i >= 0; i--)
        buf[(*off)++] = (uint8_t)((uint64_t)v >> (i * 8));
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void kw_audit_event_init(struct kw_audit_event *ev, const char *actor_type, const char *actor_id,
                         const char *action, const char *target_type, const char *target_id,
                         const char *service_id, const char *outcome)
{
    memset(ev, 0, sizeof(*ev));
    if (kw_id_new("evt", ev->id) != KW_OK)
        ev->id[0] = '\0';
    ev->time = kw_time_now_ms();
    copy(ev->actor_type, sizeof(ev->actor_type), actor_type);
    copy(ev->actor_id, sizeof(ev->actor_id), actor_id);
    copy(ev->action, sizeof(ev->action), action);
    copy(ev->target_type, sizeof(ev->target_type), target_type);
    copy(ev->target_id, sizeof(ev->target_id), target_id);
    copy(ev->service_id, sizeof(ev->service_id), service_id);
    copy(ev->outcome, sizeof(ev->outcome), outcome);
}

/* Every field in a fixed order, each string length-prefixed: no two events serialise alike. */
enum kw_err kw_audit_hash(const struct kw_audit_event *e, uint8_t out[KW_HASH_LEN])
{
    uint8_t buf[CANON_MAX];
    size_t off = 0;

    put_i64(buf, &off, e->seq);
    put_str(buf, &off, e->id);
    put_i64(buf, &off, e->time);
    put_str(buf, &off, e->actor_type);
    put_str(buf, &off, e->actor_id);
    put_str(buf, &off, e->action);
    put_str(buf, &off, e->target_type);
    put_str(buf, &off, e->target_id);
    put_str(buf, &off, e->service_id);
    put_str(buf, &off, e->outcome);
    put_str(buf, &off, e->ip);
    put_str(buf, &off, e->request_id);
    put_str(buf, &off, e->detail);
    return kw_crypto_sha256_2(e->prev_hash, KW_HASH_LEN, buf, off, out);
}

enum kw_err kw_audit_chain(struct kw_store *st, struct kw_audit_event *events, size_t n)
{
    uint8_t prev[KW_HASH_LEN];
    int64_t seq;
    size_t i;
    enum kw_err err = kw_store_audit_head(st, &seq, prev);

    for (i = 0; err == KW_OK && i < n; i++) {
        events[i].seq = ++seq;
        memcpy(events[i].prev_hash, prev, KW_HASH_LEN);
        err = kw_audit_hash(&events[i], events[i].hash);
        if (err == KW_OK)
            err = kw_store_audit_append(st, &events[i]);
        memcpy(prev, events[i].hash, KW_HASH_LEN);
    }
    return err;
}

struct walk {
    int64_t checked, broken, last_seq;
    uint8_t prev[KW_HASH_LEN];
};

static int check_one(void *ctx, const struct kw_audit_event *e)
{
    struct walk *w = ctx;
    uint8_t h[KW_HASH_LEN];

    w->checked++;
    if (e->seq != w->last_seq + 1 || !kw_crypto_equal(e->prev_hash, w->prev, KW_HASH_LEN) ||
        kw_audit_hash(e, h) != KW_OK || !kw_crypto_equal(h, e->hash, KW_HASH_LEN)) {
        w->broken = e->seq;
        return 1;
    }
    w->last_seq = e->seq;
    memcpy(w->prev, e->hash, KW_HASH_LEN);
    return 0;
}

enum kw_err kw_audit_verify(struct kw_store *st, int64_t *checked, int64_t *broken_seq)
{
    struct walk w;
    enum kw_err err;

    memset(&w, 0, sizeof(w));
    err = kw_store_audit_each(st, check_one, &w);
    if (err == KW_ERR_INTERNAL && w.broken != 0)
        err = KW_OK; /* the walk stopped at the break on purpose */
    *checked = w.checked;
    *broken_seq = w.broken;
    return err;
}
