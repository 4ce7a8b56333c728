/* records.h - identity records (candidates, seeds 000/001): a service's people under review, their
 * attributes (a JSON object) and pictures, encrypted at rest, their status life cycle, and archiving.
 *
 * Encryption: each record has its own 32-byte data key, sealed under the master key (kw_secrets_seal)
 * in records.sealed_dek. The attributes JSON and each picture are AES-256-GCM under it: IV (12) |
 * ciphertext | tag (16), the AAD naming the record id and the part ("rec_..:attributes",
 * "rec_..:picture:selfie"), so a ciphertext cannot be moved to another record or part. Plaintext
 * buffers are wiped (kw_crypto_wipe) before they are freed.
 *
 * Life cycle: incomplete -> waiting -> inreview -> approved | rejected | blocked; rejected -> waiting
 * (resubmit); approved -> inreview (re-review); blocked is final. Each move sets the matching date
 * (waiting_date, inreview_date, approved_date) and appends a history entry.
 *
 * Archiving deletes the data key, the attributes and the pictures' ciphertext in one transaction (the
 * names, media types and sizes, the certificates, the dates and the history stay) and appends a
 * history entry (to "archived"). Auto-archive: an extract of attributes by a credential whose
 * archiveAfterExtractSeconds is >= 0 sets will_archive_at = now + delay unless already set; the
 * "records.archive" job archives due records, each in its own write transaction that re-reads (and on
 * PostgreSQL locks) the row, so a record is archived once however many nodes run the job. */
#ifndef KW_DOMAIN_RECORDS_H
#define KW_DOMAIN_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"
#include "domain/app.h"
#include "store/store.h"

#define KW_RECORD_PICTURES 4
#define KW_RECORD_HISTORY_SHOWN 100 /* history entries a view loads (the oldest first) */
#define KW_RECORD_ATTRIBUTES_MAX 65536
#define KW_RECORD_CERTIFICATES_MAX 16384
#define KW_RECORD_ARCHIVE_BATCH 1000 /* refIds one bulk archive takes */
#define KW_PICTURE_MAX_DEFAULT (5 * 1024 * 1024)

/* What a view loads besides the record's metadata and picture list. */
#define KW_RECORD_LOAD_ATTRIBUTES 1u
#define KW_RECORD_LOAD_PICTURES 2u /* the pictures' plaintext */
#define KW_RECORD_LOAD_HISTORY 4u

struct kw_record_view {
    struct kw_record rec;      /* rec.attributes_ct is released once the attributes are open */
    char *attributes;          /* owned plaintext JSON object text (wiped on free), or NULL */
    size_t attributes_len;
    struct kw_record_picture pictures[KW_RECORD_PICTURES]; /* metadata; ct NULL */
    size_t npictures;
    uint8_t *picture_data[KW_RECORD_PICTURES]; /* owned plaintext (LOAD_PICTURES), or NULL */
    struct kw_record_history *history;         /* owned (LOAD_HISTORY), nhistory entries */
    size_t nhistory;
};
/* Wipes and frees everything a view owns; NULL is a no-op. */
void kw_record_view_free(struct kw_record_view *v);

struct kw_record_params {
    const char *ref_id;        /* create only */
    int set_identity;
    const char *identity_id;   /* "" clears */
    int set_attributes;
    const char *attributes;    /* a JSON object's text */
    size_t attributes_len;
    int set_certificates;
    const char *certificates;  /* a JSON array's text */
};

/* 1 if s is a status; 1 if from -> to is a move the life cycle allows. */
int kw_records_status_valid(const char *s);
int kw_records_move_allowed(const char *from, const char *to);
/* 1 for selfie | document_front | document_back | proof_of_address. */
int kw_records_picture_name_valid(const char *s);
/* 1 for image/jpeg | image/png | image/webp | application/pdf. */
int kw_records_media_type_valid(const char *s);
/* 1 if s is a refId: 1..128 bytes of [A-Za-z0-9._:@-]. */
int kw_records_ref_valid(const char *s);

/* KW_ERR_NOT_FOUND without the service; KW_ERR_CONFLICT "REF_ID_TAKEN". out has metadata and history. */
enum kw_err kw_records_create(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                              const struct kw_record_params *p, struct kw_record_view *out, const char **conflict);
enum kw_err kw_records_get(struct kw_app *app, const char *service_id, const char *ref_id, unsigned load,
                           struct kw_record_view *out);
/* A page of views (each to free) in seq order; cap <= 201. */
enum kw_err kw_records_list(struct kw_app *app, const struct kw_record_filter *f, unsigned load,
                            struct kw_record_view *items, size_t cap, size_t *n);
/* KW_ERR_CONFLICT "RECORD_ARCHIVED" when archived. */
enum kw_err kw_records_update(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                              const char *ref_id, const struct kw_record_params *p, struct kw_record_view *out,
                              const char **conflict);
/* Replaces picture name. KW_ERR_CONFLICT "RECORD_ARCHIVED". */
enum kw_err kw_records_set_picture(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                                   const char *ref_id, const char *name, const char *media_type,
                                   const uint8_t *data, size_t len, const char **conflict);
/* KW_ERR_CONFLICT "INVALID_STATUS_TRANSITION" (from_out = the current status) or "RECORD_ARCHIVED". */
enum kw_err kw_records_move(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                            const char *ref_id, const char *to, const char *comment, struct kw_record_view *out,
                            const char **conflict, char from_out[KW_STATUS_MAX]);

/* One picture's plaintext for the operator: out has the record's metadata and picture list, and
 * out->picture_data[*index] the bytes of picture name (out->pictures[*index] its media type and size).
 * KW_ERR_NOT_FOUND when the record, or that picture, does not exist or the record is archived. */
enum kw_err kw_records_picture_get(struct kw_app *app, const char *service_id, const char *ref_id,
                                   const char *name, struct kw_record_view *out, size_t *index);

enum kw_record_archive_result { KW_ARCHIVED = 0, KW_ALREADY_ARCHIVED = 1, KW_ARCHIVE_NOT_FOUND = 2 };
/* Archives ref_ids[0..n) of the service in one transaction (one audit event candidate.archive);
 * results[i] says what happened to each. */
enum kw_err kw_records_archive(struct kw_app *app, const struct kw_actor *actor, const char *service_id,
                               const char *const *ref_ids, size_t n, int *results);
/* After an extract of attributes: sets will_archive_at = now_ms + delay_s * 1000 on each record of
 * ids (record ids) that is not archived and has none yet. One write transaction, no audit event (the
 * extract's own event is written behind). */
enum kw_err kw_records_schedule_archive(struct kw_app *app, const char (*ids)[KW_ID_MAX], size_t n,
                                        int64_t delay_s, int64_t now_ms);
/* The job: archives every record due at now_ms (actor system/auto-archive, one audit event each).
 * *archived (may be NULL) = how many this call archived. */
enum kw_err kw_records_archive_due(struct kw_app *app, int64_t now_ms, size_t *archived);

#endif
