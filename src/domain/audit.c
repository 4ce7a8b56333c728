/* audit.c - the hash chain; see audit.h.
 *
 * canonical(event), the bytes hashed after prev_hash, is every field in this fixed order:
 *   seq (8-byte big-endian), id, time (8-byte big-endian), actor_type, actor_id, action, target_type,
 *   target_id, service_id, outcome, ip, request_id, detail
 * each text field as a 4-byte big-endian length then its bytes (no NUL). Length prefixes make the
 * encoding injective: no two different events serialise alike. hash = SHA-256(prev_hash || canonical).
 * Text is read up to its NUL or the end of its fixed-size field, the same bytes the store writes. */
#include "domain/audit.h"

#include "domain/commit_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"
#include "core/utf8.h"
#include "crypto/crypto.h"

/* Upper bound of canonical(): two integers plus every text field at full size with its prefix. */
#define TEXT_FIELDS 11
#define CANON_MAX                                                                                            \
    (2 * 8 + TEXT_FIELDS * 4 + sizeof(((struct kw_audit_event *)0)->id) +                                    \
     sizeof(((struct kw_audit_event *)0)->actor_type) + sizeof(((struct kw_audit_event *)0)->actor_id) +     \
     sizeof(((struct kw_audit_event *)0)->action) + sizeof(((struct kw_audit_event *)0)->target_type) +      \
     sizeof(((struct kw_audit_event *)0)->target_id) + sizeof(((struct kw_audit_event *)0)->service_id) +    \
     sizeof(((struct kw_audit_event *)0)->outcome) + sizeof(((struct kw_audit_event *)0)->ip) +              \
     sizeof(((struct kw_audit_event *)0)->request_id) + sizeof(((struct kw_audit_event *)0)->detail))

struct canon {
    uint8_t buf[CANON_MAX];
    size_t len;
};

static void put_u32(struct canon *c, uint32_t v)
{
    c->buf[c->len++] = (uint8_t)(v >> 24);
    c->buf[c->len++] = (uint8_t)(v >> 16);
    c->buf[c->len++] = (uint8_t)(v >> 8);
    c->buf[c->len++] = (uint8_t)v;
}

static void put_i64(struct canon *c, int64_t v)
{
    put_u32(c, (uint32_t)((uint64_t)v >> 32));
    put_u32(c, (uint32_t)(uint64_t)v);
}

/* A text field of cap bytes: never reads past the field, so CANON_MAX always holds. */
static void put_text(struct canon *c, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);

    put_u32(c, (uint32_t)n);
    memcpy(c->buf + c->len, s, n);
    c->len += n;
}

#define PUT_FIELD(c, e, f) put_text(c, (e)->f, sizeof((e)->f))

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void kw_audit_event_init(struct kw_audit_event *ev, const char *actor_type, const char *actor_id,
                         const char *action, const char *target_type, const char *target_id,
                         const char *service_id, const char *outcome)
{
    memset(ev, 0, sizeof(*ev));
    ev->time = kw_time_now_ms();
    /* Time-ordered (ids.h): the audit table's UNIQUE index on id then grows at its right edge; with
     * random ids each write-behind row went to a random page of an index the size of the log. */
    if (kw_id_new_sorted("evt", ev->time, ev->id) != KW_OK)
        ev->id[0] = '\0';
    copy(ev->actor_type, sizeof(ev->actor_type), actor_type);
    copy(ev->actor_id, sizeof(ev->actor_id), actor_id);
    copy(ev->action, sizeof(ev->action), action);
    copy(ev->target_type, sizeof(ev->target_type), target_type);
    copy(ev->target_id, sizeof(ev->target_id), target_id);
    copy(ev->service_id, sizeof(ev->service_id), service_id);
    copy(ev->outcome, sizeof(ev->outcome), outcome);
}

#define PRINTABLE(o, e, f) kw_utf8_sanitize((e)->f, strnlen((e)->f, sizeof((e)->f)), (o)->f, sizeof((o)->f))

void kw_audit_event_printable(const struct kw_audit_event *e, struct kw_audit_event *out)
{
    *out = *e;
    PRINTABLE(out, e, id);
    PRINTABLE(out, e, actor_type);
    PRINTABLE(out, e, actor_id);
    PRINTABLE(out, e, action);
    PRINTABLE(out, e, target_type);
    PRINTABLE(out, e, target_id);
    PRINTABLE(out, e, service_id);
    PRINTABLE(out, e, outcome);
    PRINTABLE(out, e, ip);
    PRINTABLE(out, e, request_id);
    PRINTABLE(out, e, detail);
}

enum kw_err kw_audit_hash(const struct kw_audit_event *e, uint8_t out[KW_HASH_LEN])
{
    struct canon c;

    c.len = 0;
    put_i64(&c, e->seq);
    PUT_FIELD(&c, e, id);
    put_i64(&c, e->time);
    PUT_FIELD(&c, e, actor_type);
    PUT_FIELD(&c, e, actor_id);
    PUT_FIELD(&c, e, action);
    PUT_FIELD(&c, e, target_type);
    PUT_FIELD(&c, e, target_id);
    PUT_FIELD(&c, e, service_id);
    PUT_FIELD(&c, e, outcome);
    PUT_FIELD(&c, e, ip);
    PUT_FIELD(&c, e, request_id);
    PUT_FIELD(&c, e, detail);
    return kw_crypto_sha256_2(e->prev_hash, KW_HASH_LEN, c.buf, c.len, out);
}

enum kw_err kw_audit_chain(struct kw_tx *tx, struct kw_audit_event *events, size_t n)
{
    uint8_t prev[KW_HASH_LEN];
    int64_t seq = 0;
    size_t i;
    enum kw_err err = kw_store_audit_head(tx, &seq, prev);

    if (err != KW_OK)
        goto out;
    for (i = 0; i < n; i++) {
        events[i].seq = ++seq;
        memcpy(events[i].prev_hash, prev, KW_HASH_LEN);
        err = kw_audit_hash(&events[i], events[i].hash);
        if (err != KW_OK)
            goto out;
        err = kw_store_audit_append(tx, &events[i]);
        if (err != KW_OK)
            goto out;
        memcpy(prev, events[i].hash, KW_HASH_LEN);
    }
out:
    return err;
}

struct walk {
    int64_t checked, broken, last_seq;
    uint8_t prev[KW_HASH_LEN];
};

/* An event is intact when it directly follows the previous one (seq + 1), names its hash as
 * prev_hash, and its own hash recomputes. */
static int check_one(void *ctx, const struct kw_audit_event *e)
{
    struct walk *w = ctx;
    uint8_t h[KW_HASH_LEN];

    w->checked++;
    if (e->seq != w->last_seq + 1 || !kw_crypto_equal(e->prev_hash, w->prev, KW_HASH_LEN) ||
        kw_audit_hash(e, h) != KW_OK || !kw_crypto_equal(h, e->hash, KW_HASH_LEN)) {
        w->broken = e->seq != 0 ? e->seq : -1; /* never 0: 0 means intact */
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
    KW_DOMAIN_READ(st, err, tx, kw_store_audit_each(tx, check_one, &w));
    if (err == KW_ERR_INTERNAL && w.broken != 0)
        err = KW_OK; /* the walk stopped at the break on purpose */
    *checked = w.checked;
    *broken_seq = w.broken;
    return err;
}
