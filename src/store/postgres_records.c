/* postgres_records.c - identity records, their pictures and history for the PostgreSQL backend (the
 * statements of sqlite_records.c). Rows read in a write transaction are locked FOR UPDATE, so two nodes
 * archiving one record serialise on its row and the second sees it archived. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres_internal.h"

#define REC_COLS                                                                                          \
    "seq, id, service_id, ref_id, identity_id, status, is_archived, inreview_date, waiting_date, "       \
    "approved_date, will_archive_at, created_at, updated_at, created_by, version, sealed_dek, "           \
    "attributes_ct, certificates"

static void bind_null(struct kw_pg_params *p)
{
    if (p->n >= KW_PG_MAXP)
        return;
    p->v[p->n] = NULL;
    p->len[p->n] = 0;
    p->fmt[p->n] = 1;
    p->n++;
}

static void bind_bytes(struct kw_pg_params *p, const uint8_t *b, size_t len)
{
    if (b != NULL && len > 0)
        kw_pg_blob(p, b, len);
    else
        bind_null(p);
}

/* A malloc'd copy of a bytea column (NULL and 0 when NULL or empty); -1 when out of memory. */
static int dup_bytes(const PGresult *res, int row, int col, uint8_t **out, size_t *len)
{
    unsigned char *raw;
    size_t n = 0;

    *out = NULL;
    *len = 0;
    if (PQgetisnull(res, row, col))
        return 0;
    raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &n);
    if (raw == NULL)
        return -1;
    if (n > 0) {
        *out = malloc(n);
        if (*out == NULL) {
            PQfreemem(raw);
            return -1;
        }
        memcpy(*out, raw, n);
        *len = n;
    }
    PQfreemem(raw);
    return 0;
}

static int rec_row(const PGresult *res, int i, struct kw_record *r)
{
    memset(r, 0, sizeof(*r));
    r->seq = kw_pg_get_int(res, i, 0);
    kw_pg_get_text(res, i, 1, r->id, sizeof(r->id));
    kw_pg_get_text(res, i, 2, r->service_id, sizeof(r->service_id));
    kw_pg_get_text(res, i, 3, r->ref_id, sizeof(r->ref_id));
    kw_pg_get_text(res, i, 4, r->identity_id, sizeof(r->identity_id));
    kw_pg_get_text(res, i, 5, r->status, sizeof(r->status));
    r->is_archived = (int)kw_pg_get_int(res, i, 6);
    r->inreview_date = kw_pg_get_int(res, i, 7);
    r->waiting_date = kw_pg_get_int(res, i, 8);
    r->approved_date = kw_pg_get_int(res, i, 9);
    r->will_archive_at = kw_pg_get_int(res, i, 10);
    r->created_at = kw_pg_get_int(res, i, 11);
    r->updated_at = kw_pg_get_int(res, i, 12);
    kw_pg_get_text(res, i, 13, r->created_by, sizeof(r->created_by));
    r->version = kw_pg_get_int(res, i, 14);
    r->sealed_dek_len = kw_pg_get_bytes(res, i, 15, r->sealed_dek, sizeof(r->sealed_dek));
    if (dup_bytes(res, i, 16, &r->attributes_ct, &r->attributes_ct_len) != 0)
        return -1;
    r->certificates = strdup(PQgetisnull(res, i, 17) ? "[]" : PQgetvalue(res, i, 17));
    return r->certificates == NULL ? -1 : 0;
}

static void bind_rec_data(struct kw_pg_params *p, const struct kw_record *r)
{
    bind_bytes(p, r->sealed_dek, r->sealed_dek_len);
    bind_bytes(p, r->attributes_ct, r->attributes_ct_len);
    kw_pg_text(p, r->certificates != NULL ? r->certificates : "[]");
}

enum kw_err kw_pg_record_insert(struct kw_tx *tx, struct kw_record *r)
{
    struct kw_pg_params p = {0};

    KW_PG_FIELD(&p, r->id);
    KW_PG_FIELD(&p, r->service_id);
    KW_PG_FIELD(&p, r->ref_id);
    KW_PG_FIELD(&p, r->identity_id);
    KW_PG_FIELD(&p, r->status);
    kw_pg_int(&p, r->is_archived);
    kw_pg_int(&p, r->inreview_date);
    kw_pg_int(&p, r->waiting_date);
    kw_pg_int(&p, r->approved_date);
    kw_pg_int(&p, r->will_archive_at);
    kw_pg_int(&p, r->created_at);
    kw_pg_int(&p, r->updated_at);
    KW_PG_FIELD(&p, r->created_by);
    kw_pg_int(&p, r->version);
    bind_rec_data(&p, r);
    return kw_pg_insert_seq(tx,
                            "INSERT INTO records(id, service_id, ref_id, identity_id, status, is_archived, "
                            "inreview_date, waiting_date, approved_date, will_archive_at, created_at, updated_at, "
                            "created_by, version, sealed_dek, attributes_ct, certificates) VALUES ($1::text, "
                            "$2::text, $3::text, $4::text, $5::text, $6::bigint, $7::bigint, $8::bigint, "
                            "$9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::text, $14::bigint, "
                            "$15::bytea, $16::bytea, $17::text) RETURNING seq",
                            &p, "record_insert", &r->seq);
}

static enum kw_err get_one(struct kw_tx *tx, const char *where, struct kw_pg_params *p, struct kw_record *out,
                           const char *op)
{
    char sql[512];
    enum kw_err err;
    PGresult *res;

    snprintf(sql, sizeof(sql), "SELECT " REC_COLS " FROM records WHERE %s%s", where, kw_pg_lock(tx));
    res = kw_pg_exec(tx, sql, p, op, &err);
    if (res == NULL)
        return err;
    if (PQntuples(res) == 0) {
        err = KW_ERR_NOT_FOUND;
    } else if (rec_row(res, 0, out) != 0) {
        kw_record_free(out);
        err = KW_ERR_NOMEM;
    }
    PQclear(res);
    return err;
}

enum kw_err kw_pg_record_get(struct kw_tx *tx, const char *service_id, const char *ref_id, struct kw_record *out)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, service_id);
    kw_pg_text(&p, ref_id);
    return get_one(tx, "service_id = $1::text AND ref_id = $2::text", &p, out, "record_get");
}

enum kw_err kw_pg_record_get_id(struct kw_tx *tx, const char *id, struct kw_record *out)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, id);
    return get_one(tx, "id = $1::text", &p, out, "record_get_id");
}

enum kw_err kw_pg_record_list(struct kw_tx *tx, const struct kw_record_filter *f, struct kw_record *items,
                              size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err = KW_OK;
    PGresult *res;
    size_t i, rows;

    *n = 0;
    kw_pg_text(&p, f->service_id);
    kw_pg_int(&p, f->after_seq);
    kw_pg_text(&p, f->status != NULL ? f->status : "");
    kw_pg_int(&p, f->updated_since);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx,
                     "SELECT " REC_COLS " FROM records WHERE service_id = $1::text AND seq > $2::bigint "
                     "AND ($3::text = '' OR status = $3::text) AND updated_at >= $4::bigint "
                     "ORDER BY seq LIMIT $5::bigint",
                     &p, "record_list", &err);
    if (res == NULL)
        return err;
    rows = (size_t)PQntuples(res);
    for (i = 0; i < rows && i < cap; i++) {
        if (rec_row(res, (int)i, &items[i]) != 0) {
            kw_record_free(&items[i]);
            err = KW_ERR_NOMEM;
            break;
        }
        (*n)++;
    }
    PQclear(res);
    if (err != KW_OK) {
        for (i = 0; i < *n; i++)
            kw_record_free(&items[i]);
        *n = 0;
    }
    return err;
}

enum kw_err kw_pg_record_update(struct kw_tx *tx, const struct kw_record *r)
{
    struct kw_pg_params p = {0};
    int64_t changed = 0;
    enum kw_err err;

    KW_PG_FIELD(&p, r->identity_id);
    KW_PG_FIELD(&p, r->status);
    kw_pg_int(&p, r->is_archived);
    kw_pg_int(&p, r->inreview_date);
    kw_pg_int(&p, r->waiting_date);
    kw_pg_int(&p, r->approved_date);
    kw_pg_int(&p, r->will_archive_at);
    kw_pg_int(&p, r->updated_at);
    kw_pg_int(&p, r->version);
    bind_rec_data(&p, r);
    KW_PG_FIELD(&p, r->id);
    err = kw_pg_run(tx,
                    "UPDATE records SET identity_id = $1::text, status = $2::text, is_archived = $3::bigint, "
                    "inreview_date = $4::bigint, waiting_date = $5::bigint, approved_date = $6::bigint, "
                    "will_archive_at = $7::bigint, updated_at = $8::bigint, version = $9::bigint, "
                    "sealed_dek = $10::bytea, attributes_ct = $11::bytea, certificates = $12::text "
                    "WHERE id = $13::text",
                    &p, "record_update", &changed);
    if (err == KW_OK && changed == 0)
        err = KW_ERR_NOT_FOUND;
    return err;
}

enum kw_err kw_pg_record_due(struct kw_tx *tx, int64_t now_ms, char (*ids)[KW_ID_MAX], size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;
    size_t i, rows;

    *n = 0;
    kw_pg_int(&p, now_ms);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx,
                     "SELECT id FROM records WHERE will_archive_at > 0 AND is_archived = 0 AND "
                     "will_archive_at <= $1::bigint ORDER BY will_archive_at, seq LIMIT $2::bigint",
                     &p, "record_due", &err);
    if (res == NULL)
        return err;
    rows = (size_t)PQntuples(res);
    for (i = 0; i < rows && i < cap; i++)
        kw_pg_get_text(res, (int)i, 0, ids[(*n)++], KW_ID_MAX);
    PQclear(res);
    return KW_OK;
}

enum kw_err kw_pg_record_picture_put(struct kw_tx *tx, const char *record_id, const struct kw_record_picture *pic)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, record_id);
    KW_PG_FIELD(&p, pic->name);
    KW_PG_FIELD(&p, pic->media_type);
    kw_pg_int(&p, pic->size);
    bind_bytes(&p, pic->ct, pic->ct_len);
    kw_pg_int(&p, pic->updated_at);
    return kw_pg_run(tx,
                     "INSERT INTO record_pictures(record_id, name, media_type, size, ct, updated_at) VALUES "
                     "($1::text, $2::text, $3::text, $4::bigint, $5::bytea, $6::bigint) ON CONFLICT (record_id, name) "
                     "DO UPDATE SET media_type = excluded.media_type, size = excluded.size, ct = excluded.ct, "
                     "updated_at = excluded.updated_at",
                     &p, "record_picture_put", NULL);
}

enum kw_err kw_pg_record_picture_list(struct kw_tx *tx, const char *record_id, int with_data,
                                      struct kw_record_picture *items, size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err = KW_OK;
    PGresult *res;
    size_t i, rows;

    *n = 0;
    kw_pg_text(&p, record_id);
    res = kw_pg_exec(tx,
                     with_data ? "SELECT name, media_type, size, updated_at, ct FROM record_pictures "
                                 "WHERE record_id = $1::text ORDER BY name"
                               : "SELECT name, media_type, size, updated_at, NULL::bytea FROM record_pictures "
                                 "WHERE record_id = $1::text ORDER BY name",
                     &p, "record_picture_list", &err);
    if (res == NULL)
        return err;
    rows = (size_t)PQntuples(res);
    for (i = 0; i < rows && i < cap; i++) {
        struct kw_record_picture *pic = &items[i];
        memset(pic, 0, sizeof(*pic));
        kw_pg_get_text(res, (int)i, 0, pic->name, sizeof(pic->name));
        kw_pg_get_text(res, (int)i, 1, pic->media_type, sizeof(pic->media_type));
        pic->size = kw_pg_get_int(res, (int)i, 2);
        pic->updated_at = kw_pg_get_int(res, (int)i, 3);
        (*n)++;
        if (dup_bytes(res, (int)i, 4, &pic->ct, &pic->ct_len) != 0) {
            err = KW_ERR_NOMEM;
            break;
        }
    }
    PQclear(res);
    if (err != KW_OK) {
        for (i = 0; i < *n; i++)
            kw_record_picture_free(&items[i]);
        *n = 0;
    }
    return err;
}

enum kw_err kw_pg_record_picture_wipe(struct kw_tx *tx, const char *record_id)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, record_id);
    return kw_pg_run(tx, "UPDATE record_pictures SET ct = NULL WHERE record_id = $1::text", &p,
                     "record_picture_wipe", NULL);
}

enum kw_err kw_pg_record_history_append(struct kw_tx *tx, const char *record_id, struct kw_record_history *h)
{
    struct kw_pg_params p = {0};

    kw_pg_text(&p, record_id);
    kw_pg_int(&p, h->at);
    KW_PG_FIELD(&p, h->actor_type);
    KW_PG_FIELD(&p, h->actor_id);
    KW_PG_FIELD(&p, h->from_status);
    KW_PG_FIELD(&p, h->to_status);
    KW_PG_FIELD(&p, h->comment);
    return kw_pg_insert_seq(tx,
                            "INSERT INTO record_history(record_id, seq, at, actor_type, actor_id, from_status, "
                            "to_status, comment) SELECT $1::text, COALESCE(MAX(seq), 0) + 1, $2::bigint, $3::text, "
                            "$4::text, $5::text, $6::text, $7::text FROM record_history WHERE record_id = $1::text "
                            "RETURNING seq",
                            &p, "record_history_append", &h->seq);
}

enum kw_err kw_pg_record_history_list(struct kw_tx *tx, const char *record_id, struct kw_record_history *items,
                                      size_t cap, size_t *n)
{
    struct kw_pg_params p = {0};
    enum kw_err err;
    PGresult *res;
    size_t i, rows;

    *n = 0;
    kw_pg_text(&p, record_id);
    kw_pg_int(&p, (int64_t)cap);
    res = kw_pg_exec(tx,
                     "SELECT seq, at, actor_type, actor_id, from_status, to_status, comment FROM record_history "
                     "WHERE record_id = $1::text ORDER BY seq LIMIT $2::bigint",
                     &p, "record_history_list", &err);
    if (res == NULL)
        return err;
    rows = (size_t)PQntuples(res);
    for (i = 0; i < rows && i < cap; i++) {
        struct kw_record_history *h = &items[(*n)++];
        memset(h, 0, sizeof(*h));
        h->seq = kw_pg_get_int(res, (int)i, 0);
        h->at = kw_pg_get_int(res, (int)i, 1);
        kw_pg_get_text(res, (int)i, 2, h->actor_type, sizeof(h->actor_type));
        kw_pg_get_text(res, (int)i, 3, h->actor_id, sizeof(h->actor_id));
        kw_pg_get_text(res, (int)i, 4, h->from_status, sizeof(h->from_status));
        kw_pg_get_text(res, (int)i, 5, h->to_status, sizeof(h->to_status));
        kw_pg_get_text(res, (int)i, 6, h->comment, sizeof(h->comment));
    }
    PQclear(res);
    return KW_OK;
}
