/* auth.h - the one door: turns the credentials a request carries into a principal (who, which
 * service, which permissions). Each kind of credential is one authenticator in a table in auth.c;
 * later kinds (people's sessions, service-user tokens, JWT access tokens, RFC 9421 signatures) are
 * added there without touching handlers, which only ever look at struct kw_principal. */
#ifndef KW_DOMAIN_AUTH_H
#define KW_DOMAIN_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "domain/app.h"
#include "domain/httpsig.h"
#include "domain/keycache.h"

enum kw_principal_kind {
    KW_PRINCIPAL_NONE = 0, /* no credential, or not valid */
    KW_PRINCIPAL_ROOT,     /* the root token: every permission on every service */
    KW_PRINCIPAL_KEY,      /* an API key: its own service, its permissions */
    KW_PRINCIPAL_USER,     /* a person, by console session: role sysadmin or per-service memberships */
    KW_PRINCIPAL_SERVICE_USER, /* a service user, by one of its credentials: its service, the credential's
                                * permissions AND the user's; kw_auth_allows treats it like KEY */
};

struct kw_principal {
    enum kw_principal_kind kind;
    const char *type;              /* "root" | "key" | "user" | "service_user" | "anonymous" (for audit) */
    char id[KW_ACTOR_MAX];         /* "root", a key id, a username, a service user id */
    char service_id[KW_ID_MAX];    /* "" for root */
    uint32_t perms;
    int scope;
    int64_t expires_at;
    enum kw_verify_code code;      /* the verify outcome when a key was presented */
    int presented;                 /* 1 if any credential was sent */
    int sysadmin;                  /* USER: global role sysadmin */
    int via_session;               /* authenticated by the session cookie: unsafe methods need CSRF */
    int store_unavailable;         /* NONE because the store could not confirm the credential (503) */
    char csrf[64];                 /* USER: the session's CSRF token */
    uint8_t session_hash[32];      /* USER: SHA-256 of the session id */
    /* SERVICE_USER: the credential presented: a token id, an access key id or a JWT's jti, and its type
     * "token" | "access_key" | "jwt" | "signature" (audit detail {"credentialId", "credentialType"}). */
    char credential_id[KW_ACTOR_MAX];
    char credential_type[16];
    /* NONE: the stable code of why a presented credential was refused when the verify code does not
     * say it ("SIGNATURE_STALE", "ACCESS_KEY_DISABLED", ...; static), or NULL. */
    const char *denial;
    int require_encryption; /* KEY / SERVICE_USER by token: record extracts only as encrypted responses */
    int archives_after_extract; /* KEY: its archiveAfterExtractSeconds is set (records.h: auto-archive) */
};

/* What a request carries. Pointers are borrowed; lengths exclude any NUL. */
struct kw_credentials {
    const char *bearer; /* value after "Bearer " in Authorization, or NULL */
    size_t bearer_len;
    const char *api_key; /* X-API-Key, or NULL */
    size_t api_key_len;
    const char *session; /* kw_session cookie value, or NULL */
    size_t session_len;
    const char *ip;
    /* An RFC 9421 signed request (Signature / Signature-Input present): the whole request, so the
     * signature base can be rebuilt (domain/auth_signature.c). signed_request 0: none. */
    int signed_request;
    const char *signature, *signature_input; /* every line joined (NULL when absent) */
    size_t signature_len, signature_input_len;
    struct kw_httpsig_request request;
    char sig_buf[KW_HTTPSIG_FIELD_MAX + 1], input_buf[KW_HTTPSIG_FIELD_MAX + 1];
};

/* Always fills out; kind NONE when nothing valid was presented. */
void kw_auth_authenticate(struct kw_app *app, const struct kw_credentials *c, int64_t now_ms,
                          struct kw_principal *out);

/* The verify endpoints' door (GET /auth/check, POST /keys/verify): the credentials a service presents
 * (API keys, kwt_ tokens, JWT access tokens, RFC 9421 signed requests), never the root token nor a
 * session (out is NONE for those). In memory except a signed request (its replay check writes the
 * store: such requests never run on an event loop). */
void kw_auth_service_credential(struct kw_app *app, const struct kw_credentials *c, int64_t now_ms,
                                struct kw_principal *out);

/* A JWT refusal reason of kw_jwt_verify (jwt.h) -> the verify code and, when that code does not say it,
 * the stable code (TOKEN_TYPE_INVALID, SIGNING_KEY_UNKNOWN, TOKEN_SIGNATURE_INVALID, ISSUER_MISMATCH,
 * AUDIENCE_MISMATCH; static) in *denial, else NULL. */
void kw_auth_jwt_refusal(const char *reason, enum kw_verify_code *code, const char **denial);

/* 1 for root and sysadmin users: everything, everywhere. */
int kw_auth_is_admin(const struct kw_principal *p);
/* The role ("admin", "operator", "viewer") of a USER principal on service_id into role, or "" when
 * not a member; root and sysadmin get "admin". */
enum kw_err kw_auth_service_role(struct kw_app *app, const struct kw_principal *p, const char *service_id,
                                 char role[16]);

/* 1 if p may act on service_id with perm (root may do anything). */
int kw_auth_allows(const struct kw_principal *p, const char *service_id, uint32_t perm);

#endif
