/* records.c - identity records: encryption, the life cycle, archiving; see records.h. */
#include "domain/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "crypto/crypto.h"
#include "domain/commit_internal.h"
#include "domain/secrets.h"

static const char *const statuses[] = {"incomplete", "waiting", "inreview", "approved", "rejected", "blocked"};
static const char *const picture_names[] = {"selfie", "document_front", "document_back", "proof_of_address"};
static const char *const media_types[] = {"image/jpeg", "image/png", "image/webp", "application/pdf"};

static int in_list(const char *s, const char *const *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

int kw_records_status_valid(const char *s)
{
    return in_list(s, statuses, sizeof(statuses) / sizeof(statuses[0]));
}

int kw_records_picture_name_valid(const char *s)
{
    return in_list(s, picture_names, KW_RECORD_PICTURES);
}

int kw_records_media_type_valid(const char *s)
{
    return in_list(s, media_types, sizeof(media_types) / sizeof(media_types[0]));
}

int kw_records_ref_valid(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= KW_REF_ID_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '@' || c == '-'))
            return 0;
    }
    return 1;
}

int kw_records_move_allowed(const char *from, const char *to)
{
    static const char *const moves[][2] = {
        {"incomplete", "waiting"}, {"waiting", "inreview"}, {"inreview", "approved"}, {"inreview", "rejected"},
        {"inreview", "blocked"},   {"rejected", "waiting"}, {"approved", "inreview"},
    };
    size_t i;

    for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
        if (strcmp(from, moves[i][0]) == 0 && strcmp(to, moves[i][1]) == 0)
            return 1;
    return 0;
}

void kw_record_view_free(struct kw_record_view *v)
{
    size_t i;

    if (v == NULL)
        return;
    kw_record_free(&v->rec);
    if (v->attributes != NULL) {
        kw_crypto_wipe(v->attributes, v->attributes_len);
        free(v->attributes);
    }
    for (i = 0; i < KW_RECORD_PICTURES; i++) {
        if (v->picture_data[i] != NULL) { /* before the picture's metadata (its size) is cleared */
            kw_crypto_wipe(v->picture_data[i], (size_t)v->pictures[i].size);
            free(v->picture_data[i]);
        }
        kw_record_picture_free(&v->pictures[i]);
    }
    free(v->history);
    memset(v, 0, sizeof(*v));
}

/* ---- encryption ---- */

static void aad_of(char *aad, size_t cap, const char *record_id, const char *part)
{
    snprintf(aad, cap, "%s:%s", record_id, part);
}

/* A fresh data key into dek, sealed into r->sealed_dek. */
static enum kw_err dek_new(struct kw_app *app, struct kw_record *r, uint8_t dek[KW_AES_KEY_LEN])
{
    enum kw_err err = kw_crypto_random(dek, KW_AES_KEY_LEN);

    if (err == KW_OK)
        err = kw_secrets_seal(app->secrets, dek, KW_AES_KEY_LEN, r->sealed_dek, sizeof(r->sealed_dek),
                              &r->sealed_dek_len);
    return err;
}

static enum kw_err dek_open(struct kw_app *app, const struct kw_record *r, uint8_t dek[KW_AES_KEY_LEN])
{
    size_t n = 0;
    enum kw_err err;

    if (r->sealed_dek_len == 0)
        return KW_ERR_NOT_FOUND;
    err = kw_secrets_open(app->secrets, r->sealed_dek, r->sealed_dek_len, dek, KW_AES_KEY_LEN, &n);
    if (err == KW_OK && n != KW_AES_KEY_LEN)
        err = KW_ERR_MALFORMED;
    return err;
}

/* IV | ciphertext | tag of plain under dek, malloc'd into *out. */
static enum kw_err enc(const uint8_t dek[KW_AES_KEY_LEN], const char *aad, const void *plain, size_t len,
                       uint8_t **out, size_t *out_len)
{
    uint8_t *b = malloc(KW_GCM_IV_LEN + len + KW_GCM_TAG_LEN);
    enum kw_err err;

    if (b == NULL)
        return KW_ERR_NOMEM;
    err = kw_crypto_random(b, KW_GCM_IV_LEN);
    if (err == KW_OK)
        err = kw_crypto_aes_gcm_seal(dek, b, aad, strlen(aad), plain, len, b + KW_GCM_IV_LEN,
                                     b + KW_GCM_IV_LEN + len);
    if (err != KW_OK) {
        free(b);
        return err;
    }
    *out = b;
    *out_len = KW_GCM_IV_LEN + len + KW_GCM_TAG_LEN;
    return KW_OK;
}

/* The plaintext of ct (malloc'd, one NUL byte after it) into *plain. */
static enum kw_err dec(const uint8_t dek[KW_AES_KEY_LEN], const char *aad, const uint8_t *ct, size_t ct_len,
                       uint8_t **plain, size_t *len)
{
    size_t n;
    uint8_t *b;
    enum kw_err err;

    if (ct_len < KW_GCM_IV_LEN + KW_GCM_TAG_LEN)
        return KW_ERR_MALFORMED;
    n = ct_len - KW_GCM_IV_LEN - KW_GCM_TAG_LEN;
    b = malloc(n + 1);
    if (b == NULL)
        return KW_ERR_NOMEM;
    err = kw_crypto_aes_gcm_open(dek, ct, aad, strlen(aad), ct + KW_GCM_IV_LEN, n, ct + KW_GCM_IV_LEN + n, b);
    if (err != KW_OK) {
        kw_crypto_wipe(b, n);
        free(b);
        return err;
    }
    b[n] = '\0';
    *plain = b;
    *len = n;
    return KW_OK;
}

/* ---- reading ---- */

/* Fills v from the record row already in v->rec: picture list, and what load asks for. */
static enum kw_err load_view(struct kw_app *app, struct kw_tx *tx, unsigned load, struct kw_record_view *v)
{
    uint8_t dek[KW_AES_KEY_LEN];
    char aad[KW_ID_MAX + 48];
    int have_dek = 0;
    size_t i, len;
    enum kw_err err;

    err = kw_store_record_picture_list(tx, v->rec.id, (load & KW_RECORD_LOAD_PICTURES) && !v->rec.is_archived,
                                       v->pictures, KW_RECORD_PICTURES, &v->npictures);
    if (err == KW_OK && (load & KW_RECORD_LOAD_HISTORY)) {
        v->history = calloc(KW_RECORD_HISTORY_SHOWN, sizeof(*v->history));
        err = v->history == NULL ? KW_ERR_NOMEM
                                 : kw_store_record_history_list(tx, v->rec.id, v->history, KW_RECORD_HISTORY_SHOWN,
                                                                &v->nhistory);
    }
    if (err != KW_OK || v->rec.is_archived || !(load & (KW_RECORD_LOAD_ATTRIBUTES | KW_RECORD_LOAD_PICTURES)))
        return err;
    err = dek_open(app, &v->rec, dek);
    if (err == KW_ERR_NOT_FOUND)
        return KW_OK; /* no data key: nothing to open */
    if (err != KW_OK)
        return err;
    have_dek = 1;
    if ((load & KW_RECORD_LOAD_ATTRIBUTES) && v->rec.attributes_ct != NULL) {
        aad_of(aad, sizeof(aad), v->rec.id, "attributes");
        err = dec(dek, aad, v->rec.attributes_ct, v->rec.attributes_ct_len, (uint8_t **)&v->attributes, &len);
        if (err == KW_OK)
            v->attributes_len = len;
    }
    for (i = 0; err == KW_OK && (load & KW_RECORD_LOAD_PICTURES) && i < v->npictures; i++) {
        struct kw_record_picture *p = &v->pictures[i];
        if (p->ct == NULL)
            continue;
        snprintf(aad, sizeof(aad), "%s:picture:%s", v->rec.id, p->name);
        err = dec(dek, aad, p->ct, p->ct_len, &v->picture_data[i], &len);
        if (err == KW_OK)
            p->size = (int64_t)len;
        free(p->ct);
        p->ct = NULL;
        p->ct_len = 0;
    }
    if (have_dek)
        kw_crypto_wipe(dek, sizeof(dek));
    return err;
}

static enum kw_err get_in(struct kw_app *app, struct kw_tx *tx, const char *service_id, const char *ref_id,
                          unsigned load, struct kw_record_view *out)
{
    enum kw_err err;

    memset(out, 0, sizeof(*out));
    err = kw_store_record_get(tx, service_id, ref_id, &out->rec);
    if (err == KW_OK)
        err = load_view(app, tx, load, out);
    if (err != KW_OK)
        kw_record_view_free(out);
    return err;
}

enum kw_err kw_records_get(struct kw_app *app, const char *service_id, const char *ref_id, unsigned load,
                           struct kw_record_view *out)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, get_in(app, tx, service_id, ref_id, load, out));
    return err;
}

static enum kw_err list_in(struct kw_app *app, struct kw_tx *tx, const struct kw_record_filter *f, unsigned load,
                           struct kw_record_view *items, size_t cap, size_t *n)
{
    struct kw_record *rows = calloc(cap ? cap : 1, sizeof(*rows));
    enum kw_err err;
    size_t i, got = 0;

    *n = 0;
    if (rows == NULL)
        return KW_ERR_NOMEM;
    err = kw_store_record_list(tx, f, rows, cap, &got);
    for (i = 0; i < got; i++) {
        memset(&items[i], 0, sizeof(items[i]));
        items[i].rec = rows[i];
        if (err == KW_OK)
            err = load_view(app, tx, load, &items[i]);
    }
    free(rows);
    if (err != KW_OK) {
        for (i = 0; i < got; i++)
            kw_record_view_free(&items[i]);
        return err;
    }
    *n = got;
    return KW_OK;
}

enum kw_err kw_records_list(struct kw_app *app, const struct kw_record_filter *f, unsigned load,
                            struct kw_record_view *items, size_t cap, size_t *n)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, list_in(app, tx, f, load, items, cap, n));
    return err;
}

/* Reads the record and its pictures' ciphertext, and opens only picture name. */
static enum kw_err picture_in(struct kw_app *app, struct kw_tx *tx, const char *service_id, const char *ref_id,
                              const char *name, struct kw_record_view *out, size_t *index)
{
    uint8_t dek[KW_AES_KEY_LEN];
    char aad[KW_ID_MAX + 48];
    struct kw_record_picture *p = NULL;
    size_t i, len = 0;
    enum kw_err err;

    memset(out, 0, sizeof(*out));
    err = kw_store_record_get(tx, service_id, ref_id, &out->rec);
    if (err == KW_OK && out->rec.is_archived)
        err = KW_ERR_NOT_FOUND; /* archiving destroyed the bytes */
    if (err == KW_OK)
        err = kw_store_record_picture_list(tx, out->rec.id, 1, out->pictures, KW_RECORD_PICTURES, &out->npictures);
    for (i = 0; err == KW_OK && i < out->npictures; i++)
        if (strcmp(out->pictures[i].name, name) == 0 && out->pictures[i].ct != NULL) {
            p = &out->pictures[i];
            *index = i;
        }
    if (err == KW_OK && p == NULL)
        err = KW_ERR_NOT_FOUND;
    if (err == KW_OK)
        err = dek_open(app, &out->rec, dek);
    if (err == KW_OK) {
        snprintf(aad, sizeof(aad), "%s:picture:%s", out->rec.id, p->name);
        err = dec(dek, aad, p->ct, p->ct_len, &out->picture_data[*index], &len);
        kw_crypto_wipe(dek, sizeof(dek));
        if (err == KW_OK)
            p->size = (int64_t)len;
    }
    for (i = 0; i < out->npictures; i++) { /* the view keeps no ciphertext */
        free(out->pictures[i].ct);
        out->pictures[i].ct = NULL;
        out->pictures[i].ct_len = 0;
    }
    if (err != KW_OK)
        kw_record_view_free(out);
    return err;
}

enum kw_err kw_records_picture_get(struct kw_app *app, const char *service_id, const char *ref_id,
                                   const char *name, struct kw_record_view *out, size_t *index)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, picture_in(app, tx, service_id, ref_id, name, out, index));
    return err;
}

/* ---- writing ---- */

static enum kw_err history_add(struct kw_tx *tx, const struct kw_actor *a, const char *record_id, int64_t at,
                               const char *from, const char *to, const char *comment)
{
    struct kw_record_history h;

    memset(&h, 0, sizeof(h));
    h.at = at;
    snprintf(h.actor_type, sizeof(h.actor_type), "%s", a->type);
    snprintf(h.actor_id, sizeof(h.actor_id), "%s", a->id);
    snprintf(h.from_status, sizeof(h.from_status), "%s", from);
    snprintf(h.to_status, sizeof(h.to_status), "%s", to);
    snprintf(h.comment, sizeof(h.comment), "%s", comment != NULL ? comment : "");
    return kw_store_record_history_append(tx, record_id, &h);
}

/* Encrypts the attributes of p into r (a data key made when r has none). */
static enum kw_err put_attributes(struct kw_app *app, struct kw_record *r, const struct kw_record_params *p)
{
    uint8_t dek[KW_AES_KEY_LEN];
    char aad[KW_ID_MAX + 16];
    enum kw_err err;

    err = r->sealed_dek_len == 0 ? dek_new(app, r, dek) : dek_open(app, r, dek);
    if (err != KW_OK)
        return err;
    aad_of(aad, sizeof(aad), r->id, "attributes");
    free(r->attributes_ct);
    r->attributes_ct = NULL;
    r->attributes_ct_len = 0;
    err = enc(dek, aad, p->attributes, p->attributes_len, &r->attributes_ct, &r->attributes_ct_len);
    kw_crypto_wipe(dek, sizeof(dek));
    return err;
}

static enum kw_err set_certificates(struct kw_record *r, const char *certs)
{
    char *c = strdup(certs != NULL ? certs : "[]");

    if (c == NULL)
        return KW_ERR_NOMEM;
    free(r->certificates);
    r->certificates = c;
    return KW_OK;
}

struct create_ctx {
    struct kw_app *app;
    const struct kw_actor *actor;
    const char *service_id;
    const struct kw_record_params *p;
    int64_t now;
    char id[KW_ID_MAX];
    struct kw_record_view *out;
};

static enum kw_err create_body(struct kw_tx *tx, void *vctx, struct kw_write *w)
{
    struct create_ctx *c = vctx;
    struct kw_service svc;
    struct kw_record *r = &c->out->rec;
    enum kw_err err;

    kw_record_view_free(c->out);
    err = kw_store_service_get(tx, c->service_id, &svc);
    if (err != KW_OK)
        return err;
    snprintf(r->id, sizeof(r->id), "%s", c->id);
    snprintf(r->service_id, sizeof(r->service_id), "%s", c->service_id);
    snprintf(r->ref_id, sizeof(r->ref_id), "%s", c->p->ref_id);
    snprintf(r->identity_id, sizeof(r->identity_id), "%s", c->p->set_identity ? c->p->identity_id : "");
    snprintf(r->status, sizeof(r->status), "incomplete");
    snprintf(r->created_by, sizeof(r->created_by), "%s", c->actor->id);
    r->created_at = r->updated_at = c->now;
    r->version = 1;
    err = set_certificates(r, c->p->set_certificates ? c->p->certificates : "[]");
    if (err == KW_OK && c->p->set_attributes)
        err = put_attributes(c->app, r, c->p);
    if (err == KW_OK)
        err = kw_store_record_insert(tx, r);
    if (err == KW_ERR_EXISTS) {
        w->conflict = "REF_ID_TAKEN";
        return KW_ERR_CONFLICT;
    }
    if (err == KW_OK)
        err = history_add(tx, c->actor, r->id, c->now, "", "incomplete", NULL);
    if (err == KW_OK)
        err = load_view(c->app, tx, KW_RECORD_LOAD_HISTORY, c->out);
    snprintf(w->target_id, sizeof(w->target_id), "%s", r->id);
    snprintf(w->detail, sizeof(w->detail), "{\"refId\":\"%s\"}", r->ref_id);
    return err;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum kw_err kw_records_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                              const struct kw_record_params *p, struct kw_record_view *out, const char **conflict)
{
    struct create_ctx c = {app, actor, service_id, p, now_ms(), "", out};
    struct kw_write w;
    enum kw_err err;

    memset(out, 0, sizeof(*out));
    *conflict = NULL;
    err = kw_id_new("rec", c.id);
    if (err != KW_OK)
        return err;
    kw_write_init(&w, actor, "candidate.create", "candidate", c.id, service_id);
    err = kw_domain_write(app, &w, create_body, &c);
    if (err != KW_OK)
        kw_record_view_free(out);
    *conflict = w.conflict;
    return err;
}

/* The shape of every write to one existing record. */
struct one_ctx {
    struct kw_app *app;
    const struct kw_actor *actor;
    const char *service_id, *ref_id;
    int64_t now;
    const struct kw_record_params *p;                 /* update */
    const char *name, *media_type;                    /* picture */
    const uint8_t *data;
    size_t len;
    const char *to, *comment;                         /* move */
    char from[KW_STATUS_MAX];
    struct kw_record_view *out;                       /* may be NULL */
    enum kw_err (*apply)(struct kw_tx *tx, struct one_ctx *c, struct kw_record *r, struct kw_write *w);
};

static enum kw_err one_body(struct kw_tx *tx, void *vctx, struct kw_write *w)
{
    struct one_ctx *c = vctx;
    struct kw_record r;
    enum kw_err err;

    if (c->out != NULL)
        kw_record_view_free(c->out);
    err = kw_store_record_get(tx, c->service_id, c->ref_id, &r);
    if (err != KW_OK)
        return err;
    snprintf(w->target_id, sizeof(w->target_id), "%s", r.id);
    if (r.is_archived) {
        kw_record_free(&r);
        w->conflict = "RECORD_ARCHIVED";
        return KW_ERR_CONFLICT;
    }
    err = c->apply(tx, c, &r, w);
    if (err == KW_OK) {
        r.updated_at = c->now;
        r.version++;
        err = kw_store_record_update(tx, &r);
    }
    if (err == KW_OK && c->out != NULL) {
        c->out->rec = r;
        return load_view(c->app, tx, KW_RECORD_LOAD_HISTORY, c->out);
    }
    kw_record_free(&r);
    return err;
}

static enum kw_err run_one(struct one_ctx *c, const char *action, const char **conflict)
{
    struct kw_write w;
    enum kw_err err;

    if (c->out != NULL)
        memset(c->out, 0, sizeof(*c->out));
    c->now = now_ms();
    kw_write_init(&w, c->actor, action, "candidate", NULL, c->service_id);
    snprintf(w.detail, sizeof(w.detail), "{\"refId\":\"%s\"}", c->ref_id);
    err = kw_domain_write(c->app, &w, one_body, c);
    if (err != KW_OK && c->out != NULL)
        kw_record_view_free(c->out);
    if (conflict != NULL)
        *conflict = w.conflict;
    return err;
}

static enum kw_err apply_update(struct kw_tx *tx, struct one_ctx *c, struct kw_record *r, struct kw_write *w)
{
    enum kw_err err = KW_OK;

    (void)tx;
    (void)w;
    if (c->p->set_identity)
        snprintf(r->identity_id, sizeof(r->identity_id), "%s", c->p->identity_id);
    if (c->p->set_certificates)
        err = set_certificates(r, c->p->certificates);
    if (err == KW_OK && c->p->set_attributes)
        err = put_attributes(c->app, r, c->p);
    return err;
}

enum kw_err kw_records_update(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                              const char *ref_id, const struct kw_record_params *p, struct kw_record_view *out,
                              const char **conflict)
{
    struct one_ctx c = {.app = app, .actor = actor, .service_id = service_id, .ref_id = ref_id, .p = p,
                        .out = out, .apply = apply_update};

    return run_one(&c, "candidate.update", conflict);
}

static enum kw_err apply_picture(struct kw_tx *tx, struct one_ctx *c, struct kw_record *r, struct kw_write *w)
{
    struct kw_record_picture pic;
    uint8_t dek[KW_AES_KEY_LEN];
    char aad[KW_ID_MAX + 48];
    enum kw_err err;

    snprintf(w->detail, sizeof(w->detail), "{\"refId\":\"%s\",\"picture\":\"%s\"}", c->ref_id, c->name);
    err = r->sealed_dek_len == 0 ? dek_new(c->app, r, dek) : dek_open(c->app, r, dek);
    if (err != KW_OK)
        return err;
    memset(&pic, 0, sizeof(pic));
    snprintf(pic.name, sizeof(pic.name), "%s", c->name);
    snprintf(pic.media_type, sizeof(pic.media_type), "%s", c->media_type);
    pic.size = (int64_t)c->len;
    pic.updated_at = c->now;
    snprintf(aad, sizeof(aad), "%s:picture:%s", r->id, c->name);
    err = enc(dek, aad, c->data, c->len, &pic.ct, &pic.ct_len);
    kw_crypto_wipe(dek, sizeof(dek));
    if (err == KW_OK)
        err = kw_store_record_picture_put(tx, r->id, &pic);
    kw_record_picture_free(&pic);
    return err;
}

enum kw_err kw_records_set_picture(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                                   const char *ref_id, const char *name, const char *media_type,
                                   const uint8_t *data, size_t len, const char **conflict)
{
    struct one_ctx c = {.app = app, .actor = actor, .service_id = service_id, .ref_id = ref_id, .name = name,
                        .media_type = media_type, .data = data, .len = len, .apply = apply_picture};

    return run_one(&c, "candidate.update", conflict);
}

static enum kw_err apply_move(struct kw_tx *tx, struct one_ctx *c, struct kw_record *r, struct kw_write *w)
{
    snprintf(c->from, sizeof(c->from), "%s", r->status);
    snprintf(w->detail, sizeof(w->detail), "{\"refId\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"}", c->ref_id,
             r->status, c->to);
    if (!kw_records_move_allowed(r->status, c->to)) {
        w->conflict = "INVALID_STATUS_TRANSITION";
        return KW_ERR_CONFLICT;
    }
    snprintf(r->status, sizeof(r->status), "%s", c->to);
    if (strcmp(c->to, "waiting") == 0)
        r->waiting_date = c->now;
    else if (strcmp(c->to, "inreview") == 0)
        r->inreview_date = c->now;
    else if (strcmp(c->to, "approved") == 0)
        r->approved_date = c->now;
    return history_add(tx, c->actor, r->id, c->now, c->from, c->to, c->comment);
}

enum kw_err kw_records_move(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                            const char *ref_id, const char *to, const char *comment, struct kw_record_view *out,
                            const char **conflict, char from_out[KW_STATUS_MAX])
{
    struct one_ctx c = {.app = app, .actor = actor, .service_id = service_id, .ref_id = ref_id, .to = to,
                        .comment = comment, .out = out, .apply = apply_move};
    enum kw_err err = run_one(&c, "candidate.status", conflict);

    if (from_out != NULL)
        snprintf(from_out, KW_STATUS_MAX, "%s", c.from);
    return err;
}

/* ---- archiving ---- */

/* Archives r (already read in tx's write transaction) and writes it. */
static enum kw_err archive_row(struct kw_tx *tx, const struct kw_actor *a, struct kw_record *r, int64_t now,
                               const char *comment)
{
    enum kw_err err;

    kw_crypto_wipe(r->sealed_dek, sizeof(r->sealed_dek));
    r->sealed_dek_len = 0;
    if (r->attributes_ct != NULL) {
        kw_crypto_wipe(r->attributes_ct, r->attributes_ct_len);
        free(r->attributes_ct);
    }
    r->attributes_ct = NULL;
    r->attributes_ct_len = 0;
    r->is_archived = 1;
    r->updated_at = now;
    r->version++;
    err = kw_store_record_update(tx, r);
    if (err == KW_OK)
        err = kw_store_record_picture_wipe(tx, r->id);
    if (err == KW_OK)
        err = history_add(tx, a, r->id, now, r->status, "archived", comment);
    return err;
}

struct archive_ctx {
    const struct kw_actor *actor;
    const char *service_id;
    const char *const *ref_ids;
    size_t n;
    int *results;
    int64_t now;
};

static enum kw_err archive_body(struct kw_tx *tx, void *vctx, struct kw_write *w)
{
    struct archive_ctx *c = vctx;
    size_t i, archived = 0, len = 0, cap = 2 + c->n * (KW_REF_ID_MAX + KW_ID_MAX + 32);
    enum kw_err err = KW_OK;

    /* webhooks (domain/webhooks.h): one candidate.archived event per refId archived */
    w->webhook_data = malloc(cap);
    if (w->webhook_data == NULL)
        return KW_ERR_NOMEM;
    w->webhook_data[len++] = '[';
    for (i = 0; err == KW_OK && i < c->n; i++) {
        struct kw_record r;
        err = kw_store_record_get(tx, c->service_id, c->ref_ids[i], &r);
        if (err == KW_ERR_NOT_FOUND) {
            c->results[i] = KW_ARCHIVE_NOT_FOUND;
            err = KW_OK;
            continue;
        }
        if (err != KW_OK)
            break;
        if (r.is_archived) {
            c->results[i] = KW_ALREADY_ARCHIVED;
        } else {
            err = archive_row(tx, c->actor, &r, c->now, NULL);
            c->results[i] = KW_ARCHIVED;
            len += (size_t)snprintf(w->webhook_data + len, cap - len, "%s{\"refId\":\"%s\",\"recordId\":\"%s\"}",
                                    archived > 0 ? "," : "", r.ref_id, r.id);
            archived++;
        }
        kw_record_free(&r);
    }
    snprintf(w->webhook_data + len, cap - len, "]");
    snprintf(w->detail, sizeof(w->detail), "{\"requested\":%zu,\"archived\":%zu}", c->n, archived);
    return err;
}

enum kw_err kw_records_archive(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                               const char *const *ref_ids, size_t n, int *results)
{
    struct archive_ctx c = {actor, service_id, ref_ids, n, results, now_ms()};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, actor, "candidate.archive", "service", service_id, service_id);
    err = kw_domain_write(app, &w, archive_body, &c);
    if (err == KW_OK)
        kw_store_scrub(app->store); /* best effort: a failure is logged, the next archive catches up */
    return err;
}

struct schedule_ctx {
    const char (*ids)[KW_ID_MAX];
    size_t n;
    int64_t at;
};

static enum kw_err schedule_in(struct kw_tx *tx, struct schedule_ctx *c)
{
    enum kw_err err = KW_OK;
    size_t i;

    for (i = 0; err == KW_OK && i < c->n; i++) {
        struct kw_record r;
        err = kw_store_record_get_id(tx, c->ids[i], &r);
        if (err == KW_ERR_NOT_FOUND) {
            err = KW_OK;
            continue;
        }
        if (err != KW_OK)
            break;
        if (!r.is_archived && r.will_archive_at == 0) {
            r.will_archive_at = c->at;
            r.version++;
            err = kw_store_record_update(tx, &r);
        }
        kw_record_free(&r);
    }
    return err;
}

enum kw_err kw_records_schedule_archive(struct kw_app *app, const char (*ids)[KW_ID_MAX], size_t n,
                                        int64_t delay_s, int64_t now)
{
    struct schedule_ctx c = {ids, n, now + delay_s * 1000};
    enum kw_err err = KW_ERR_RETRY;
    int tries;

    if (n == 0)
        return KW_OK;
    for (tries = 0; tries < KW_DOMAIN_WRITE_TRIES && err == KW_ERR_RETRY; tries++) {
        struct kw_tx *tx = NULL;
        err = kw_store_begin(app->store, KW_TX_WRITE, &tx);
        if (err != KW_OK)
            continue;
        err = schedule_in(tx, &c);
        if (err == KW_OK)
            err = kw_store_commit(tx);
        else
            kw_store_rollback(tx);
    }
    return err;
}

struct due_ctx {
    const char *id;
    int64_t now;
    const struct kw_actor *actor;
};

static enum kw_err due_body(struct kw_tx *tx, void *vctx, struct kw_write *w)
{
    struct due_ctx *c = vctx;
    struct kw_record r;
    enum kw_err err = kw_store_record_get_id(tx, c->id, &r);

    if (err != KW_OK)
        return err;
    snprintf(w->service_id, sizeof(w->service_id), "%s", r.service_id);
    snprintf(w->detail, sizeof(w->detail), "{\"refId\":\"%s\",\"willArchiveAt\":%lld}", r.ref_id,
             (long long)r.will_archive_at);
    if (r.is_archived || r.will_archive_at == 0 || r.will_archive_at > c->now) {
        kw_record_free(&r); /* another node archived it meanwhile */
        w->conflict = "ALREADY_ARCHIVED";
        return KW_ERR_CONFLICT;
    }
    err = archive_row(tx, c->actor, &r, c->now, "auto-archive");
    kw_record_free(&r);
    return err;
}

enum kw_err kw_records_archive_due(struct kw_app *app, int64_t now, size_t *archived)
{
    static const struct kw_actor sys = {"system", "auto-archive", NULL, NULL, NULL, NULL};
    char ids[64][KW_ID_MAX];
    enum kw_err err;
    size_t i, n = 0, done = 0;

    if (archived != NULL)
        *archived = 0;
    do {
        KW_DOMAIN_READ(app->store, err, tx, kw_store_record_due(tx, now, ids, 64, &n));
        if (err != KW_OK)
            return err;
        for (i = 0; i < n; i++) {
            struct due_ctx c = {ids[i], now, &sys};
            struct kw_write w;
            kw_write_init(&w, &sys, "candidate.archive", "candidate", ids[i], NULL);
            err = kw_domain_write(app, &w, due_body, &c);
            if (err == KW_OK)
                done++;
            else if (err != KW_ERR_CONFLICT && err != KW_ERR_NOT_FOUND)
                break;
            err = KW_OK;
        }
    } while (err == KW_OK && n == 64);
    if (done > 0)
        kw_store_scrub(app->store); /* best effort, as in kw_records_archive */
    if (archived != NULL)
        *archived = done;
    return err;
}
