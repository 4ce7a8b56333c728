/* documents.c - documents: ingest (encrypt in chunks, store, audit), reads, the chunked reader behind
 * GET .../content, and crypto-shred deletion (documents.h). */
#include "domain/documents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/pages.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/commit_internal.h"
#include "domain/secrets.h"

int kw_documents_id_valid(const char *s)
{
    return s != NULL && kw_id_valid(s, "doc");
}

/* "<id>:<index>" or "<id>:<index>:final" into aad; its length. */
static size_t chunk_aad(const char *id, int64_t index, int final, char aad[96])
{
    int n = snprintf(aad, 96, "%s:%lld%s", id, (long long)index, final ? ":final" : "");
    return n > 0 && n < 96 ? (size_t)n : 0;
}

static int64_t chunk_count(size_t len)
{
    return len == 0 ? 1 : (int64_t)((len + KW_DOC_CHUNK_SIZE - 1) / KW_DOC_CHUNK_SIZE);
}

/* ---- ingest ---- */

struct ingest {
    struct kw_app *app;
    const struct kw_doc_ingest *in;
    struct kw_document doc;   /* the row to insert (sealed_dek filled) */
    uint8_t dek[KW_AES_KEY_LEN];
    struct kw_document found; /* an earlier ingest under the same idempotency key */
    int have_found;
    int staged; /* the content was written before the transaction (kw_store_document_content_stage) */
    struct kw_sha256 *sum; /* non-NULL: the plaintext is hashed chunk by chunk as seal_chunk goes */
    int64_t hashed;        /* chunks hashed into sum so far */
};

/* The chunk's plaintext into g->sum, in order; at the final chunk, the digest into doc.sha256. */
static enum kw_err hash_chunk(struct ingest *g, int64_t index, const uint8_t *p, size_t n, int final)
{
    uint8_t sum[KW_SHA256_LEN];
    enum kw_err err;

    if (index != g->hashed)
        return KW_ERR_INTERNAL; /* the producer is called once per chunk, in order, while staging */
    err = kw_crypto_sha256_update(g->sum, p, n);
    g->hashed++;
    if (err != KW_OK || !final)
        return err;
    err = kw_crypto_sha256_final(g->sum, sum);
    kw_crypto_sha256_free(g->sum);
    g->sum = NULL;
    if (err == KW_OK)
        kw_crypto_hex(sum, sizeof(sum), g->doc.sha256);
    return err;
}

/* kw_store_chunk_fn: chunk index of the plaintext sealed as IV | ciphertext | tag. */
static enum kw_err seal_chunk(void *ctx, int64_t index, uint8_t *buf, size_t cap, size_t *len)
{
    struct ingest *g = ctx;
    size_t off = (size_t)index * KW_DOC_CHUNK_SIZE, n;
    int final = index + 1 == g->doc.nchunks;
    char aad[96];
    size_t alen = chunk_aad(g->doc.id, index, final, aad);
    enum kw_err err;

    if (alen == 0 || off > g->in->len)
        return KW_ERR_INTERNAL;
    n = g->in->len - off < KW_DOC_CHUNK_SIZE ? g->in->len - off : KW_DOC_CHUNK_SIZE;
    if (cap < n + KW_DOC_CHUNK_OVERHEAD)
        return KW_ERR_INTERNAL;
    /* hashed here, just before it is encrypted, the chunk is read from memory once for both */
    err = g->sum != NULL ? hash_chunk(g, index, g->in->data + off, n, final) : KW_OK;
    if (err == KW_OK)
        err = kw_crypto_random(buf, KW_GCM_IV_LEN);
    if (err == KW_OK)
        err = kw_crypto_aes_gcm_seal(g->dek, buf, aad, alen, g->in->data + off, n, buf + KW_GCM_IV_LEN,
                                     buf + KW_GCM_IV_LEN + n);
    if (err == KW_OK)
        *len = n + KW_DOC_CHUNK_OVERHEAD;
    if (g->in->release_data) /* read for the last time (a retried transaction re-reads from the file) */
        kw_pages_release(g->in->data + off, g->in->data + off + n);
    return err;
}

#define RELEASE_STEP (1u << 20)

enum kw_err kw_documents_sha256(const uint8_t *data, size_t len, int release, uint8_t out[32])
{
    struct kw_sha256 *h = NULL;
    enum kw_err err;
    size_t off, n;

    if (!release || len <= RELEASE_STEP)
        return kw_crypto_sha256(data != NULL ? (const void *)data : "", len, out);
    err = kw_crypto_sha256_new(&h);
    for (off = 0; err == KW_OK && off < len; off += n) {
        n = len - off < RELEASE_STEP ? len - off : RELEASE_STEP;
        err = kw_crypto_sha256_update(h, data + off, n);
        kw_pages_release(data + off, data + off + n);
    }
    if (err == KW_OK)
        err = kw_crypto_sha256_final(h, out);
    kw_crypto_sha256_free(h);
    return err;
}

/* The plaintext's digest in one pass of its own, when the store did not stage (and so did not call
 * seal_chunk) before the transaction whose row carries it. */
static enum kw_err hash_whole(struct ingest *g)
{
    uint8_t sum[KW_SHA256_LEN];
    enum kw_err err = kw_documents_sha256(g->in->data, g->in->len, g->in->release_data, sum);

    kw_crypto_sha256_free(g->sum);
    g->sum = NULL;
    if (err == KW_OK)
        kw_crypto_hex(sum, sizeof(sum), g->doc.sha256);
    return err;
}

static enum kw_err ingest_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct ingest *g = ctx;
    enum kw_err err;

    g->have_found = 0;
    if (g->doc.idempotency_key[0] != '\0') {
        err = kw_store_document_get_idem(tx, g->doc.service_id, g->doc.idempotency_key, &g->found);
        if (err == KW_OK) {
            g->have_found = 1;
            return KW_ERR_EXISTS; /* nothing is written; the caller answers from found */
        }
        if (err != KW_ERR_NOT_FOUND)
            return err;
    }
    err = kw_store_document_insert(tx, &g->doc);
    if (err == KW_ERR_EXISTS && g->doc.idempotency_key[0] != '\0')
        return KW_ERR_RETRY; /* another node's ingest with this key won the race: rerun and find it */
    if (err != KW_OK)
        return err;
    err = kw_store_document_content_put(tx, g->doc.id, g->doc.nchunks, KW_DOC_REC_SIZE,
                                        g->staged ? NULL : seal_chunk, g);
    if (err != KW_OK)
        return err;
    snprintf(w->target_id, sizeof(w->target_id), "%s", g->doc.id);
    snprintf(w->detail, sizeof(w->detail), "{\"size\":%lld,\"mediaType\":\"%s\"}", (long long)g->doc.size,
             g->doc.media_type);
    return KW_OK;
}

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;

    if (n >= cap)
        return -1;
    memcpy(dst, src != NULL ? src : "", n);
    dst[n] = '\0';
    return 0;
}

/* An earlier ingest under the same key: the same request (replay) or a different one (conflict). */
static enum kw_err answer_found(const struct ingest *g, struct kw_document *out, int *replayed,
                                const char **conflict)
{
    if (!kw_crypto_equal(g->found.idempotency_hash, g->doc.idempotency_hash, KW_HASH_LEN)) {
        *conflict = "IDEMPOTENCY_KEY_REUSED";
        return KW_ERR_CONFLICT;
    }
    if (g->found.deleted_at != 0)
        return KW_ERR_NOT_FOUND; /* the document it made has since been deleted */
    *out = g->found;
    *replayed = 1;
    return KW_OK;
}

enum kw_err kw_documents_ingest(struct kw_app *app, const struct kw_principal *p,
                                const struct kw_doc_ingest *in, struct kw_document *out,
                                int *replayed, const char **conflict)
{
    struct kw_actor actor = {0};
    struct kw_write w;
    struct ingest *g;
    enum kw_err err;
    size_t sealed_len = 0;

    *replayed = 0;
    *conflict = NULL;
    if (p == NULL || in == NULL || (in->data == NULL && in->len > 0) ||
        (in->request_hash == NULL && in->idempotency_key != NULL && in->idempotency_key[0] != '\0') ||
        p->service_id[0] == '\0' ||
        (p->kind != KW_PRINCIPAL_SERVICE_USER && p->kind != KW_PRINCIPAL_KEY))
        return KW_ERR_INVALID;
    g = calloc(1, sizeof(*g));
    if (g == NULL)
        return KW_ERR_NOMEM;
    g->app = app;
    g->in = in;
    snprintf(g->doc.service_id, sizeof(g->doc.service_id), "%s", p->service_id);
    if (p->kind == KW_PRINCIPAL_SERVICE_USER) {
        snprintf(g->doc.service_user_id, sizeof(g->doc.service_user_id), "%.*s",
                 (int)sizeof(g->doc.service_user_id) - 1, p->id);
        snprintf(g->doc.credential_id, sizeof(g->doc.credential_id), "%s", p->credential_id);
    } else {
        snprintf(g->doc.credential_id, sizeof(g->doc.credential_id), "%s", p->id); /* an API key */
    }
    if (copy_field(g->doc.filename, sizeof(g->doc.filename), in->filename) != 0 ||
        copy_field(g->doc.media_type, sizeof(g->doc.media_type), in->media_type) != 0 ||
        copy_field(g->doc.metadata, sizeof(g->doc.metadata), in->metadata_json != NULL ? in->metadata_json : "{}") !=
            0 ||
        copy_field(g->doc.source_tag, sizeof(g->doc.source_tag), in->source_tag) != 0 ||
        copy_field(g->doc.external_id, sizeof(g->doc.external_id), in->external_id) != 0 ||
        copy_field(g->doc.document_category, sizeof(g->doc.document_category), in->document_category) != 0 ||
        copy_field(g->doc.department, sizeof(g->doc.department), in->department) != 0 ||
        copy_field(g->doc.approver_department, sizeof(g->doc.approver_department), in->approver_department) != 0 ||
        copy_field(g->doc.idempotency_key, sizeof(g->doc.idempotency_key), in->idempotency_key) != 0) {
        free(g);
        return KW_ERR_TOO_LARGE;
    }
    if (in->request_hash != NULL) /* else no key: nothing will compare it, zeros are stored */
        memcpy(g->doc.idempotency_hash, in->request_hash, KW_HASH_LEN);

    /* The common replay answers from one read, without a write. */
    if (g->doc.idempotency_key[0] != '\0') {
        KW_DOMAIN_READ(app->store, err, tx,
                       kw_store_document_get_idem(tx, g->doc.service_id, g->doc.idempotency_key, &g->found));
        if (err == KW_OK) {
            g->have_found = 1;
            err = answer_found(g, out, replayed, conflict);
            free(g);
            return err;
        }
        if (err != KW_ERR_NOT_FOUND) {
            free(g);
            return err;
        }
    }

    err = kw_id_new("doc", g->doc.id);
    if (err == KW_OK && in->data_sha256 != NULL)
        kw_crypto_hex(in->data_sha256, KW_SHA256_LEN, g->doc.sha256); /* the api hashed the file already */
    else if (err == KW_OK)
        err = kw_crypto_sha256_new(&g->sum); /* fed by seal_chunk while staging */
    if (err == KW_OK)
        err = kw_crypto_random(g->dek, sizeof(g->dek));
    if (err == KW_OK)
        err = kw_secrets_seal(app->secrets, g->dek, sizeof(g->dek), g->doc.sealed_dek, sizeof(g->doc.sealed_dek),
                              &sealed_len);
    if (err != KW_OK) {
        kw_crypto_wipe(g->dek, sizeof(g->dek));
        kw_crypto_sha256_free(g->sum);
        free(g);
        return err;
    }
    g->doc.sealed_dek_len = sealed_len;
    g->doc.size = (int64_t)in->len;
    g->doc.chunk_size = KW_DOC_CHUNK_SIZE;
    g->doc.nchunks = chunk_count(in->len);
    g->doc.created_at = kw_time_now_ms();

    actor.type = p->type != NULL ? p->type : "service_user";
    actor.id = p->id;
    if (p->credential_id[0] != '\0') {
        actor.credential_id = p->credential_id;
        actor.credential_type = p->credential_type;
    }
    kw_write_init(&w, &actor, "document.ingest", "document", NULL, g->doc.service_id);
    /* The heavy part (encrypting, writing, fsyncing) before the write transaction where the store can
     * (SQLite: off its single writer); the transaction then only inserts the row and links the file. */
    err = kw_store_document_content_stage(app->store, g->doc.id, g->doc.nchunks, KW_DOC_REC_SIZE, seal_chunk, g,
                                          &g->staged);
    if (err == KW_OK && g->sum != NULL) /* nothing staged (PostgreSQL): the row needs the digest first */
        err = g->staged ? KW_ERR_INTERNAL : hash_whole(g);
    if (err == KW_OK)
        err = kw_domain_write(app, &w, ingest_body, g);
    kw_crypto_wipe(g->dek, sizeof(g->dek));
    kw_crypto_sha256_free(g->sum); /* NULL unless staging failed midway */
    if (err == KW_OK && g->staged)
        kw_store_document_content_done(app->store, g->doc.id); /* best effort: recover settles a leftover */
    if (err == KW_ERR_EXISTS && g->have_found) {
        /* a replay found in the transaction (another ingest with this key won): drop what we staged */
        kw_store_document_content_drop(app->store, g->doc.id);
        err = answer_found(g, out, replayed, conflict);
    } else if (err == KW_OK) {
        *out = g->doc;
    } else {
        kw_store_document_content_drop(app->store, g->doc.id); /* a file written before a failed commit */
        if (err == KW_ERR_CONFLICT)
            *conflict = w.conflict;
    }
    free(g);
    return err;
}

/* ---- reads ---- */

enum kw_err kw_documents_get(struct kw_app *app, const char *id, struct kw_document *out)
{
    enum kw_err err;

    if (!kw_documents_id_valid(id))
        return KW_ERR_NOT_FOUND;
    KW_DOMAIN_READ(app->store, err, tx, kw_store_document_get(tx, id, out));
    if (err == KW_OK && out->deleted_at != 0)
        err = KW_ERR_NOT_FOUND;
    return err;
}

enum kw_err kw_documents_list(struct kw_app *app, const struct kw_document_filter *f, struct kw_document *items,
                              size_t cap, size_t *n)
{
    enum kw_err err;

    *n = 0;
    if (f == NULL || f->service_id == NULL || cap > KW_DOC_LIST_MAX)
        return KW_ERR_INVALID;
    KW_DOMAIN_READ(app->store, err, tx, kw_store_document_list(tx, f, items, cap, n));
    return err;
}

/* ---- delete ---- */

struct shred {
    const char *id;
    int64_t now;
};

static enum kw_err shred_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct shred *s = ctx;
    struct kw_document d;
    enum kw_err err = kw_store_document_get(tx, s->id, &d);

    if (err != KW_OK)
        return err;
    if (d.deleted_at != 0)
        return KW_ERR_NOT_FOUND;
    snprintf(w->service_id, sizeof(w->service_id), "%s", d.service_id);
    return kw_store_document_shred(tx, s->id, s->now);
}

enum kw_err kw_documents_delete(struct kw_app *app, const struct kw_actor *actor, const char *id)
{
    struct shred s = {id, kw_time_now_ms()};
    struct kw_write w;

    if (!kw_documents_id_valid(id))
        return KW_ERR_NOT_FOUND;
    kw_write_init(&w, actor, "document.delete", "document", id, NULL);
    return kw_domain_write(app, &w, shred_body, &s);
}

/* ---- the content reader ---- */

struct kw_doc_reader {
    struct kw_app *app;
    char id[KW_ID_MAX];
    uint8_t dek[KW_AES_KEY_LEN];
    int64_t size, nchunks, next_index, emitted;
    uint8_t *ct;    /* KW_DOC_REC_SIZE */
    uint8_t *plain; /* KW_DOC_CHUNK_SIZE */
    size_t avail, pos;
};

enum kw_err kw_documents_open(struct kw_app *app, const char *id, struct kw_document *out,
                              struct kw_doc_reader **reader)
{
    struct kw_doc_reader *r;
    size_t klen = 0;
    enum kw_err err;

    *reader = NULL;
    err = kw_documents_get(app, id, out);
    if (err != KW_OK)
        return err;
    if (out->sealed_dek_len == 0 || out->nchunks < 1 || out->chunk_size != KW_DOC_CHUNK_SIZE)
        return KW_ERR_NOT_FOUND;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return KW_ERR_NOMEM;
    r->ct = malloc(KW_DOC_REC_SIZE);
    r->plain = malloc(KW_DOC_CHUNK_SIZE);
    if (r->ct == NULL || r->plain == NULL) {
        kw_doc_reader_free(r);
        return KW_ERR_NOMEM;
    }
    err = kw_secrets_open(app->secrets, out->sealed_dek, out->sealed_dek_len, r->dek, sizeof(r->dek), &klen);
    if (err == KW_OK && klen != sizeof(r->dek))
        err = KW_ERR_MALFORMED;
    if (err != KW_OK) {
        kw_doc_reader_free(r);
        return err;
    }
    r->app = app;
    snprintf(r->id, sizeof(r->id), "%s", out->id);
    r->size = out->size;
    r->nchunks = out->nchunks;
    *reader = r;
    return KW_OK;
}

/* Reads, authenticates and decrypts chunk r->next_index into r->plain. */
static enum kw_err load_chunk(struct kw_doc_reader *r)
{
    int64_t i = r->next_index;
    int final = i + 1 == r->nchunks;
    char aad[96];
    size_t alen = chunk_aad(r->id, i, final, aad), len = 0, n;
    enum kw_err err;

    KW_DOMAIN_READ(r->app->store, err, tx,
                   kw_store_document_chunk_get(tx, r->id, i, KW_DOC_REC_SIZE, r->ct, KW_DOC_REC_SIZE, &len));
    if (err != KW_OK)
        return err == KW_ERR_NOT_FOUND ? KW_ERR_MALFORMED : err;
    if (len < KW_DOC_CHUNK_OVERHEAD || alen == 0)
        return KW_ERR_MALFORMED;
    n = len - KW_DOC_CHUNK_OVERHEAD;
    if ((!final && n != KW_DOC_CHUNK_SIZE) || r->emitted + (int64_t)n > r->size ||
        (final && r->emitted + (int64_t)n != r->size))
        return KW_ERR_MALFORMED;
    err = kw_crypto_aes_gcm_open(r->dek, r->ct, aad, alen, r->ct + KW_GCM_IV_LEN, n, r->ct + KW_GCM_IV_LEN + n,
                                 r->plain);
    if (err != KW_OK) {
        kw_crypto_wipe(r->plain, KW_DOC_CHUNK_SIZE);
        return KW_ERR_MALFORMED;
    }
    r->next_index++;
    r->avail = n;
    r->pos = 0;
    return KW_OK;
}

enum kw_err kw_doc_reader_next(struct kw_doc_reader *r, char *buf, size_t cap, size_t *len, int *done)
{
    size_t n;
    enum kw_err err;

    *len = 0;
    *done = 0;
    if (r->avail == 0) {
        if (r->next_index >= r->nchunks) {
            *done = 1;
            return KW_OK;
        }
        err = load_chunk(r);
        if (err != KW_OK)
            return err;
    }
    n = r->avail < cap ? r->avail : cap;
    memcpy(buf, r->plain + r->pos, n);
    r->pos += n;
    r->avail -= n;
    r->emitted += (int64_t)n;
    *len = n;
    if (r->avail == 0 && r->next_index >= r->nchunks)
        *done = 1;
    return KW_OK;
}

void kw_doc_reader_free(struct kw_doc_reader *r)
{
    if (r == NULL)
        return;
    kw_crypto_wipe(r->dek, sizeof(r->dek));
    if (r->plain != NULL)
        kw_crypto_wipe(r->plain, KW_DOC_CHUNK_SIZE);
    free(r->plain);
    free(r->ct);
    free(r);
}
