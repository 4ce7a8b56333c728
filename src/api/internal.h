/* internal.h - helpers shared by the api/ handlers. */
#ifndef KW_API_INTERNAL_H
#define KW_API_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "core/err.h"
#include "domain/auth.h"
#include "core/records.h"

#define KW_API_LIST_DEFAULT 50
#define KW_API_LIST_MAX 200
#define KW_API_PARAM_MAX 136 /* a refId: 128 bytes */
#define KW_API_PARAMS 3

/* What a handler gets: the request, the caller, and up to three path parameters. */
struct kw_api_ctx {
    struct kw_app *app;
    const struct kw_api_req *req;
    struct kw_principal principal;
    char params[KW_API_PARAMS][KW_API_PARAM_MAX]; /* path parameters, "" if absent */
    struct kw_actor actor;
    const char *action; /* audit action for a failed write, set by the route */
    int audited;        /* the handler wrote its own audit event (the router adds none) */
    /* Encrypted response (api/jwe.c): the client's AES key and the kid that opened it. */
    int encrypt;
    uint8_t enc_aes[32];
    char enc_kid[KW_KID_MAX];
};

typedef void (*kw_api_handler_fn)(struct kw_api_ctx *c, struct kw_api_res *res);

/* Responses. kw_api_json takes ownership of body (may be NULL for no content). */
void kw_api_json(struct kw_api_res *res, int status, json_t *body);
void kw_api_fail(struct kw_api_ctx *c, struct kw_api_res *res, int status, const char *code, const char *detail,
                 const char *field);
/* Maps a domain error to a problem (the one table from kw_err to HTTP). `what` names the object
 * for NOT_FOUND ("key"), conflict_code the stable code for KW_ERR_CONFLICT. */
void kw_api_fail_err(struct kw_api_ctx *c, struct kw_api_res *res, enum kw_err err, const char *what,
                     const char *conflict_code, const char *conflict_detail);
/* The same problem as kw_api_problem (no field), written without building a JSON tree when every string
 * is plain ASCII: the verify paths answer denials at the rate they answer successes. */
void kw_api_problem_plain(struct kw_api_res *res, int status, const char *code, const char *detail,
                          const char *request_id);
/* kw_api_header with a plain value (no formatting: the verify hot path's headers). */
void kw_api_header_str(struct kw_api_res *res, const char *name, const char *value);
/* The problem detail for a domain conflict code ("KEY_REVOKED", ...), or NULL. */
const char *kw_api_conflict_detail(const char *code);
void kw_api_header(struct kw_api_res *res, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Body: requires application/json and a JSON object; checks every member name is in allowed
 * (NULL-terminated). On failure answers the problem and returns NULL. An absent body yields an
 * empty object when allow_empty. */
json_t *kw_api_body(struct kw_api_ctx *c, struct kw_api_res *res, const char *const *allowed, int allow_empty);

/* Detail of INVALID_FIELD for text with a control character (kw_services_text_valid). */
#define KW_API_NO_CONTROLS(field)                                                                            \
    "Field \"" field "\" must not contain control characters (no newline, tab or escape sequence)."

/* Field readers: each returns 0 if absent (and leaves *out), 1 if read, -1 after answering the
 * problem (wrong type / bounds). Strings are byte-length capped; nullable ones accept JSON null. */
int kw_api_str(struct kw_api_ctx *c, struct kw_api_res *res, json_t *o, const char *name, size_t min, size_t max,
               const char **out);
int kw_api_int(struct kw_api_ctx *c, struct kw_api_res *res, json_t *o, const char *name, int64_t min,
               int64_t max, int nullable, int64_t *out, int *is_null);
int kw_api_bool(struct kw_api_ctx *c, struct kw_api_res *res, json_t *o, const char *name, int *out);
int kw_api_time(struct kw_api_ctx *c, struct kw_api_res *res, json_t *o, const char *name, int64_t *out_ms);

/* Reads the request's credentials into c (borrowed pointers). -1 when they are ambiguous: two
 * Authorization or two X-API-Key headers, or an Authorization header beside an X-API-Key that does not
 * carry the same bearer token. Bearer is "Bearer" 1*SP token (RFC 6750), scheme case-insensitive. */
int kw_api_credentials(const struct kw_api_req *req, struct kw_credentials *c);
/* The problem detail of a refusal the door names (kw_principal.denial: "SIGNATURE_STALE", ...). Never NULL. */
const char *kw_api_denial_detail(const char *code);
/* 400 AMBIGUOUS_CREDENTIALS. */
void kw_api_fail_ambiguous(struct kw_api_ctx *c, struct kw_api_res *res);

/* The value of cookie name in the request's Cookie header (borrowed; *len set), or NULL. */
const char *kw_api_cookie(const struct kw_api_req *req, const char *name, size_t *len);

/* Query: copies the percent-decoded value of name into out; 0 absent, 1 found, -1 malformed. */
int kw_api_query(const struct kw_api_req *req, const char *name, char *out, size_t cap);
/* ?limit= and ?cursor=: 1 ok, 0 after answering INVALID_QUERY. */
int kw_api_page(struct kw_api_ctx *c, struct kw_api_res *res, size_t *limit, int64_t *after);
/* Cursor text for a seq ("c" + base62), and the list envelope. */
json_t *kw_api_list(json_t *items, int has_more, int64_t last_seq);
/* Answers 200 with one page: items[0..n) of item_size bytes, each a record struct that begins with
 * its int64_t seq; n == limit + 1 means there is a next page (the extra item is not rendered). */
typedef json_t *(*kw_api_render_fn)(const void *item, int64_t now_ms);
void kw_api_page_reply(struct kw_api_res *res, const void *items, size_t item_size, size_t n, size_t limit,
                       kw_api_render_fn render, int64_t now_ms);

/* JSON renderers shared by handlers. */
json_t *kw_api_time_json(int64_t ms); /* null when 0 */
json_t *kw_api_service_json(const struct kw_service *s);
json_t *kw_api_key_json(const struct kw_key *k, int64_t now_ms);
json_t *kw_api_perms_json(uint32_t perms);
const char *kw_api_scope_name(int scope);
int kw_api_scope_parse(const char *s); /* -1 if unknown */
int kw_api_perm_parse(const char *s, uint32_t *bit);

/* Encrypted responses (api/jwe.c). begin: on an integrator route, opens X-Keyward-Encryption-Key when
 * one came (c->encrypt = 1); 0 after answering 400 ENCRYPTION_KEY_INVALID. finish: replaces the body
 * with its compact JWE when c->encrypt, wiping the plaintext. require: 0 after answering 400
 * ENCRYPTION_REQUIRED when the credential has requireEncryption and the request is not encrypted. */
int kw_api_jwe_begin(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_jwe_finish(struct kw_api_ctx *c, struct kw_api_res *res);
int kw_api_require_encryption(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_encryption_key(struct kw_api_ctx *c, struct kw_api_res *res);

/* Handlers. */
void kw_api_services_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_services_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_services_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_services_update(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_services_delete(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_keys_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_keys_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_keys_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_keys_update(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_keys_revoke(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_keys_roll(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_keys_delete(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_verify(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_auth_check(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_audit_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_session_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_session_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_session_delete(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_users_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_users_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_users_update(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_users_delete(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_documents_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_documents_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_documents_content(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_documents_delete(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_members_add(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_members_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_members_update(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_members_remove(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_usage(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_oauth_token(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_oauth_introspect(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_oauth_revoke(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_access_tokens(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_healthz(struct kw_api_ctx *c, struct kw_api_res *res);
/* Machine credentials (api/service_users.c, api/access_keys.c). */
int kw_api_read_perms(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, int *set, uint32_t *perms);
json_t *kw_api_service_user_json(const struct kw_service_user *u);
json_t *kw_api_token_json(const struct kw_key *k, int64_t now_ms);
void kw_api_service_users_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_service_users_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_service_users_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_service_users_update(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_service_users_delete(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_service_users_reset_secret(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_tokens_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_tokens_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_tokens_revoke(struct kw_api_ctx *c, struct kw_api_res *res);
json_t *kw_api_access_key_json(const struct kw_key *k);
void kw_api_access_keys_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_access_keys_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_access_keys_update(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_access_keys_delete(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_readyz(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_jwks(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_oauth_metadata(struct kw_api_ctx *c, struct kw_api_res *res);
/* Identity records (api/records.c): the operator API and the integrator API. */
void kw_api_candidates_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_candidates_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_candidates_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_candidates_update(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_candidates_picture(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_candidates_status(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_candidates_picture_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_candidates_archive(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_extract_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_extract_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_extract_archive(struct kw_api_ctx *c, struct kw_api_res *res);
/* documents_ingest.c */
void kw_api_documents_ingest(struct kw_api_ctx *c, struct kw_api_res *res);

/* Webhooks (api/webhooks.c). */
json_t *kw_api_webhook_json(const struct kw_webhook *w);
void kw_api_webhooks_create(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_webhooks_list(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_webhooks_get(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_webhooks_update(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_webhooks_delete(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_webhooks_rotate(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_webhooks_deliveries(struct kw_api_ctx *c, struct kw_api_res *res);
void kw_api_webhooks_retry(struct kw_api_ctx *c, struct kw_api_res *res);

#endif
