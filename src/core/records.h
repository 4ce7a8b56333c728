/* records.h - the rows keyward keeps. Plain structs with fixed-size text fields (NUL-terminated,
 * sized for the API's caps), so they copy by value and need no free. Times are ms since the epoch,
 * 0 = not set. `seq` is a store-assigned increasing integer used for keyset pagination. */
#ifndef KW_CORE_RECORDS_H
#define KW_CORE_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/ids.h"

#define KW_NAME_MAX 101        /* 100 bytes + NUL */
#define KW_DESC_MAX 501        /* 500 bytes + NUL */
#define KW_KEY_DESC_MAX 201    /* 200 bytes + NUL */
#define KW_PREFIX_MAX 17       /* 16 + NUL */
#define KW_START_MAX 24
#define KW_IP_MAX 46           /* INET6_ADDRSTRLEN */
#define KW_ACTOR_MAX 64
#define KW_HASH_LEN 32
#define KW_SEALED_MAX 192      /* an access key's secret sealed under the master key (domain/secrets.h) */
#define KW_KIND_MAX 16
#define KW_SOURCE_MAX 33       /* a service user's source system: 32 + NUL */

struct kw_service {
    int64_t seq;
    char id[KW_ID_MAX];
    char name[KW_NAME_MAX];
    char description[KW_DESC_MAX];
    char key_prefix[KW_PREFIX_MAX];
    int64_t created_at;
    int64_t updated_at;
};

/* A JWT signing key (domain/signing.h): Ed25519, the private key sealed under the master key. */
#define KW_KID_MAX 48            /* RFC 7638 thumbprint, base64url: 43 + NUL */
#define KW_SIGNING_SEALED_MAX 160 /* sealed 32-byte private key: 32 + 97 */
struct kw_signing_key {
    char kid[KW_KID_MAX];
    char alg[16];                 /* EdDSA */
    uint8_t public_key[32];
    uint8_t sealed[KW_SIGNING_SEALED_MAX];
    size_t sealed_len;
    int64_t created_at;
    int64_t retire_after;         /* 0 while active; else published and accepted until then */
    char status[16];              /* active | retired */
    int64_t version;
};

/* A response-encryption key (domain/enckeys.h, seed 001): RSA-3072, the public key as PEM, the private
 * key (PKCS#8 DER) sealed under the master key. */
#define KW_ENC_PEM_MAX 1024
#define KW_ENC_SEALED_MAX 2560 /* sealed DER of about 1.8 kB */
struct kw_enc_key {
    char kid[KW_KID_MAX];
    char public_pem[KW_ENC_PEM_MAX];
    uint8_t sealed[KW_ENC_SEALED_MAX];
    size_t sealed_len;
    int64_t created_at;
    int64_t retire_after; /* 0 while active; else published and opening clients' keys until then */
    char status[16];      /* active | retired */
    int64_t version;
};

/* Scopes: seed 000's three choices. */
enum kw_scope {
    KW_SCOPE_METADATA = 0,            /* status and ids only */
    KW_SCOPE_ATTRIBUTES = 1,          /* + text attributes */
    KW_SCOPE_ATTRIBUTES_PICTURES = 2, /* + pictures */
};

/* Permission bits. Any scope implies candidates:read; the rest are granted explicitly. */
#define KW_PERM_CANDIDATES_READ (1u << 0)
#define KW_PERM_CANDIDATES_ARCHIVE (1u << 1)
#define KW_PERM_DOCUMENTS_WRITE (1u << 2)
#define KW_PERM_DOCUMENTS_READ (1u << 3)
#define KW_PERM_KEYS_VERIFY (1u << 4)
#define KW_PERM_ALL 0x1fu

struct kw_key {
    int64_t seq;
    int64_t version;                 /* change number of the last write to this row (store.h: Versions) */
    char id[KW_ID_MAX];
    char service_id[KW_ID_MAX];
    uint8_t hash[KW_HASH_LEN];       /* SHA-256 of the whole credential string */
    char start[KW_START_MAX];        /* display prefix, e.g. "kw_3kTM" */
    char description[KW_KEY_DESC_MAX];
    int scope;                       /* enum kw_scope */
    uint32_t perms;                  /* KW_PERM_* bits as granted (candidates:read implied) */
    int enabled;                     /* 0 = disabled */
    int64_t created_at;
    char created_by[KW_ACTOR_MAX];   /* actor id: "root", a username, a key id */
    int64_t updated_at;
    int64_t expires_at;              /* 0 = never */
    int64_t revoked_at;              /* 0 = not revoked */
    int64_t archive_after_extract_s; /* -1 = do not auto-archive */
    int64_t last_used_at;            /* 0 = never */
    char last_used_ip[KW_IP_MAX];
    char rolled_from[KW_ID_MAX];     /* id of the key this one replaced, or "" */
    char rolled_to[KW_ID_MAX];       /* id of the one successor a roll made, or "" */
    /* Machine credentials share this table (migration 0005). kind: "api_key" | "token" | "access_key" |
     * "ban". hash: SHA-256 of the credential string for api_key/token; SHA-256("ak:" + accessKeyId) for
     * an access key (id = the accessKeyId); SHA-256 of the banned thing ("jti:..", "su:..", "cred:..")
     * for a ban, whose expires_at is when the banned thing cannot be valid anyway. */
    char kind[KW_KIND_MAX];
    char service_user_id[KW_ID_MAX]; /* owner of a token or access key, else "" */
    int owner_enabled;               /* 0 while the owning service user is disabled */
    uint8_t sealed[KW_SEALED_MAX];   /* access keys: the secret access key sealed (kw_secrets_seal) */
    size_t sealed_len;               /* 0 = none */
    int require_encryption;          /* 1: record extracts only as encrypted responses (migration 0009) */
};

/* A machine identity of one source system (seed 002); an OAuth client (client_id = id). */
struct kw_service_user {
    int64_t seq;
    int64_t version;                      /* change number of the last write to this row */
    char id[KW_ID_MAX];                   /* su_... */
    char service_id[KW_ID_MAX];
    char name[KW_NAME_MAX];
    char source_system[KW_SOURCE_MAX];    /* ^[a-z][a-z0-9_]{1,31}$, unique per service */
    uint32_t perms;                       /* KW_PERM_* (candidates:read implied) */
    int enabled;
    uint8_t client_secret_hash[KW_HASH_LEN]; /* SHA-256 of the client secret */
    int64_t client_secret_set_at;
    int64_t created_at;
    char created_by[KW_ACTOR_MAX];
    int64_t updated_at;
};

struct kw_audit_event {
    int64_t seq;                 /* chain position, assigned in order of append (1, 2, ...) */
    char id[KW_ID_MAX];          /* evt_... */
    int64_t time;
    char actor_type[16];         /* root | key | user | system | anonymous */
    char actor_id[KW_ACTOR_MAX];
    char action[48];             /* e.g. key.create, service.delete, auth.denied */
    char target_type[16];        /* service | key | root_token | ... or "" */
    char target_id[KW_ACTOR_MAX];
    char service_id[KW_ID_MAX];  /* "" when not service-specific */
    char outcome[16];            /* success | denied | failure */
    char ip[KW_IP_MAX];
    char request_id[65];         /* up to 64 characters, as the API echoes them */
    char detail[512];            /* a JSON object as text, or "" */
    uint8_t prev_hash[KW_HASH_LEN];
    uint8_t hash[KW_HASH_LEN];
};

#define KW_USERNAME_MAX 64 /* 63 + NUL */
#define KW_PWHASH_MAX 192

struct kw_user {
    int64_t seq;
    char username[KW_USERNAME_MAX];
    char password_hash[KW_PWHASH_MAX]; /* Argon2id encoded string */
    char role[16];                     /* sysadmin | user */
    int disabled;
    int64_t created_at;
    int64_t last_login_at;
};

struct kw_session {
    uint8_t id_hash[KW_HASH_LEN]; /* SHA-256 of the cookie value */
    char username[KW_USERNAME_MAX];
    char csrf[64];                /* derived from the session id, never stored (stored as "") */
    int64_t created_at;
    int64_t last_seen;
    int64_t expires_at; /* absolute expiry */
};

struct kw_member {
    int64_t seq;
    char service_id[KW_ID_MAX];
    char username[KW_USERNAME_MAX];
    char role[16]; /* admin | operator | viewer */
    int64_t created_at;
};

struct kw_usage_point {
    char key_id[KW_ID_MAX];
    int64_t minute; /* bucket start, ms */
    int64_t valid;
    int64_t denied;
    char start[KW_START_MAX];          /* the key's, or the deleted key's; "" when unknown */
    char description[KW_KEY_DESC_MAX];
};

/* An identity record (a candidate, seed 000/001; domain/records.h), one per (service, ref_id). The
 * attributes are AES-256-GCM under the record's data key (attributes_ct: IV | ciphertext | tag), the
 * data key sealed under the master key (sealed_dek); both NULL (len 0) once archived. attributes_ct and
 * certificates are owned (malloc'd) by the struct: release with kw_record_free. */
#define KW_REF_ID_MAX 129       /* 128 + NUL */
#define KW_IDENTITY_MAX 129     /* 128 + NUL */
#define KW_STATUS_MAX 16
#define KW_RECORD_DEK_SEALED_MAX 160 /* a sealed 32-byte data key: 32 + 97 */
#define KW_RECORD_COMMENT_MAX 501    /* 500 + NUL */
#define KW_PICTURE_NAME_MAX 24
#define KW_MEDIA_TYPE_MAX 32
struct kw_record {
    int64_t seq;
    int64_t version;                 /* 1 at insert, +1 each write (optimistic concurrency) */
    char id[KW_ID_MAX];              /* rec_... */
    char service_id[KW_ID_MAX];
    char ref_id[KW_REF_ID_MAX];
    char identity_id[KW_IDENTITY_MAX]; /* "" when not set */
    char status[KW_STATUS_MAX];      /* incomplete | waiting | inreview | approved | rejected | blocked */
    int is_archived;
    int64_t inreview_date, waiting_date, approved_date; /* 0 = never */
    int64_t will_archive_at;         /* 0 = not scheduled */
    int64_t created_at;
    int64_t updated_at;
    char created_by[KW_ACTOR_MAX];
    uint8_t sealed_dek[KW_RECORD_DEK_SEALED_MAX];
    size_t sealed_dek_len;           /* 0 = none (archived) */
    uint8_t *attributes_ct;          /* owned; NULL = none */
    size_t attributes_ct_len;
    char *certificates;              /* owned JSON array text; NULL reads as "[]" */
};
/* Frees the owned buffers (zeroed first) and clears r; NULL is a no-op. */
void kw_record_free(struct kw_record *r);

/* A picture of a record: ct (owned) is IV | ciphertext | tag under the record's data key; NULL once
 * archived (the name, media type and size stay). */
struct kw_record_picture {
    char name[KW_PICTURE_NAME_MAX];  /* selfie | document_front | document_back | proof_of_address */
    char media_type[KW_MEDIA_TYPE_MAX];
    int64_t size;                    /* plaintext bytes */
    int64_t updated_at;
    uint8_t *ct;                     /* owned; NULL when not loaded or archived */
    size_t ct_len;
};
void kw_record_picture_free(struct kw_record_picture *p);

/* One status move (or archive) of a record, in order (seq 1, 2, ...). */
struct kw_record_history {
    int64_t seq;
    int64_t at;
    char actor_type[16];
    char actor_id[KW_ACTOR_MAX];
    char from_status[KW_STATUS_MAX];
    char to_status[KW_STATUS_MAX];   /* a status, or "archived" */
    char comment[KW_RECORD_COMMENT_MAX];
};

/* A stored document (domain/documents.h, issue 10): metadata of one file a service ingested. The content
 * is AES-256-GCM in chunks under the document's data key, sealed under the master key in sealed_dek
 * (sealed_dek_len 0 once deleted: crypto-shredded); the chunks live where the store keeps them (SQLite:
 * a file under <data-dir>/documents/, PostgreSQL: document_chunks rows). Plain struct, no free. */
#define KW_DOC_FIELD_MAX 256       /* filename, source_tag, ...: 255 bytes + NUL */
#define KW_DOC_METADATA_MAX 4096   /* the metadata part as sent: 4095 bytes + NUL */
#define KW_DOC_IDEM_MAX 256        /* Idempotency-Key: 255 + NUL */
#define KW_DOC_DEK_SEALED_MAX 160  /* a sealed 32-byte data key: 32 + 97 */
struct kw_document {
    int64_t seq;
    char id[KW_ID_MAX];                      /* doc_... */
    char service_id[KW_ID_MAX];
    char service_user_id[KW_ID_MAX];
    char credential_id[KW_ACTOR_MAX];
    char filename[KW_DOC_FIELD_MAX];         /* "" when none was sent */
    char media_type[KW_MEDIA_TYPE_MAX];      /* sniffed */
    int64_t size;                            /* plaintext bytes */
    char sha256[2 * KW_HASH_LEN + 1];        /* hex of the plaintext's SHA-256 */
    char source_tag[KW_DOC_FIELD_MAX];
    char external_id[KW_DOC_FIELD_MAX];
    char document_category[KW_DOC_FIELD_MAX];
    char department[KW_DOC_FIELD_MAX];
    char approver_department[KW_DOC_FIELD_MAX];
    char metadata[KW_DOC_METADATA_MAX];      /* JSON object text as sent */
    uint8_t sealed_dek[KW_DOC_DEK_SEALED_MAX];
    size_t sealed_dek_len;                   /* 0 = deleted */
    int64_t chunk_size;                      /* plaintext bytes per chunk (the last may be shorter) */
    int64_t nchunks;                         /* >= 1 (an empty file is one empty, final chunk) */
    char idempotency_key[KW_DOC_IDEM_MAX];   /* "" when none */
    uint8_t idempotency_hash[KW_HASH_LEN];   /* SHA-256 of the ingest request's body */
    int64_t created_at;
    int64_t deleted_at;                      /* 0 while live */
};

/* A webhook endpoint of a service (domain/webhooks.h, Standard Webhooks). events is the JSON array of
 * event types as stored; the secrets are the 32 raw secret bytes sealed under the master key
 * (kw_secrets_seal); the previous one still signs until prev_secret_until (ms; 0 = none). */
#define KW_WEBHOOK_URL_MAX 2049    /* 2048 + NUL */
#define KW_WEBHOOK_EVENTS_MAX 512  /* the JSON array of every event type fits */
#define KW_WEBHOOK_SECRET_LEN 32
#define KW_WEBHOOK_SEALED_MAX 160  /* a sealed 32-byte secret: 32 + 97 */
struct kw_webhook {
    int64_t seq;
    char id[KW_ID_MAX];            /* wh_... */
    char service_id[KW_ID_MAX];
    char url[KW_WEBHOOK_URL_MAX];
    char events[KW_WEBHOOK_EVENTS_MAX];
    char description[KW_DESC_MAX];
    int enabled;
    char disabled_reason[16];      /* "" | "gone" (410) | "operator" */
    uint8_t secret_sealed[KW_WEBHOOK_SEALED_MAX];
    size_t secret_sealed_len;
    uint8_t prev_secret_sealed[KW_WEBHOOK_SEALED_MAX];
    size_t prev_secret_sealed_len; /* 0 = none */
    int64_t prev_secret_until;
    char created_by[KW_ACTOR_MAX];
    int64_t created_at;
    int64_t updated_at;
};

/* One attempt to deliver (webhook_attempts). */
#define KW_WEBHOOK_ERROR_MAX 128
struct kw_webhook_attempt {
    char delivery_id[KW_ID_MAX];
    int64_t n;                     /* 1, 2, ... */
    int64_t at;
    int64_t status;                /* HTTP status, 0 when none came */
    char error[KW_WEBHOOK_ERROR_MAX]; /* "" | "timeout" | "connect" | "refused_address" | ... */
    int64_t duration_ms;
    char node[KW_ACTOR_MAX];
};

/* One event to deliver to one webhook (the outbox row, webhook_deliveries). payload is the exact body
 * that is signed and sent. */
#define KW_WEBHOOK_EVENT_MAX 32
#define KW_WEBHOOK_PAYLOAD_MAX 2048
struct kw_webhook_delivery {
    int64_t seq;
    char id[KW_ID_MAX];            /* msg_...: the webhook-id header */
    char webhook_id[KW_ID_MAX];
    char service_id[KW_ID_MAX];
    char event_type[KW_WEBHOOK_EVENT_MAX];
    char payload[KW_WEBHOOK_PAYLOAD_MAX];
    int64_t created_at;
    char state[16];                /* pending | delivered | failed */
    int64_t attempts;
    int64_t next_attempt_at;       /* due when <= now and state pending */
    char lease_owner[KW_ACTOR_MAX];
    int64_t lease_until;
    int64_t last_status;
    char last_error[KW_WEBHOOK_ERROR_MAX];
    int64_t updated_at;
};

/* List rendering (api/ kw_api_page_reply) reads the keyset cursor from the first member. */
#include <stddef.h>
_Static_assert(offsetof(struct kw_service, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_key, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_audit_event, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_user, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_member, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_service_user, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_record, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_document, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_webhook, seq) == 0, "seq first");
_Static_assert(offsetof(struct kw_webhook_delivery, seq) == 0, "seq first");

#endif
