/* accounts.c - users, sessions, memberships; see accounts.h. */
#include "domain/accounts.h"

#include <stdio.h>
#include <string.h>

#include "core/base62.h"
#include "core/timeutil.h"
#include "crypto/crypto.h"
#include "domain/commit_internal.h"
#include "domain/keyfmt.h"
#include "domain/throttle.h"

int kw_accounts_username_valid(const char *name)
{
    size_t n = strnlen(name, KW_USERNAME_MAX), i;

    if (n < 3 || n > KW_USERNAME_MAX - 1)
        return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '.' || c == '_' || c == '-'));
        if (!ok)
            return 0;
    }
    return 1;
}

int kw_accounts_user_role_valid(const char *role)
{
    return strcmp(role, "sysadmin") == 0 || strcmp(role, "user") == 0;
}

int kw_accounts_member_role_valid(const char *role)
{
    return strcmp(role, "admin") == 0 || strcmp(role, "operator") == 0 || strcmp(role, "viewer") == 0;
}

/* Begin; body; audited commit. Shared shape of every write here. */
#define KW_TX(app, body, a, action, ttype, tid, svc)                                                   \
    do {                                                                                               \
        err = kw_store_begin((app)->store);                                                            \
        if (err != KW_OK)                                                                              \
            return err;                                                                                \
        body;                                                                                          \
        if (err != KW_OK) {                                                                            \
            kw_store_rollback((app)->store);                                                           \
            return err;                                                                                \
        }                                                                                              \
        err = kw_domain_commit(app, a, action, ttype, tid, svc, NULL);                                 \
    } while (0)

enum kw_err kw_accounts_user_create(struct kw_app *app, const struct kw_actor *a, const char *username,
                                    const char *password, const char *role, struct kw_user *out)
{
    struct kw_user u;
    enum kw_err err;

    memset(&u, 0, sizeof(u));
    snprintf(u.username, sizeof(u.username), "%s", username);
    snprintf(u.role, sizeof(u.role), "%s", role ? role : "user");
    u.created_at = kw_time_now_ms();
    err = kw_crypto_password_hash(password, strlen(password), (uint32_t)app->cfg->argon2_memory_kib,
                                  (uint32_t)app->cfg->argon2_iterations, u.password_hash);
    if (err != KW_OK)
        return err;
    KW_TX(app, err = kw_store_user_insert(app->store, &u), a, "user.create", "user", u.username, NULL);
    if (err == KW_OK)
        *out = u;
    return err;
}

enum kw_err kw_accounts_user_update(struct kw_app *app, const struct kw_actor *a, const char *username,
                                    const char *password, const char *role, const int *disabled, struct kw_user *out)
{
    struct kw_user u;
    char hash[KW_PASSWORD_HASH_MAX] = "";
    enum kw_err err;

    if (password != NULL) {
        err = kw_crypto_password_hash(password, strlen(password), (uint32_t)app->cfg->argon2_memory_kib,
                                      (uint32_t)app->cfg->argon2_iterations, hash);
        if (err != KW_OK)
            return err;
    }
    KW_TX(app, {
        err = kw_store_user_get(app->store, username, &u);
        if (err == KW_OK) {
            if (hash[0] != '\0')
                memcpy(u.password_hash, hash, sizeof(u.password_hash));
            if (role != NULL)
                snprintf(u.role, sizeof(u.role), "%s", role);
            if (disabled != NULL)
                u.disabled = *disabled ? 1 : 0;
            err = kw_store_user_update(app->store, &u);
        }
        /* A new password or a disabled account ends every session. */
        if (err == KW_OK && (hash[0] != '\0' || u.disabled))
            err = kw_store_session_delete_user(app->store, username);
    }, a, "user.update", "user", username, NULL);
    if (err == KW_OK)
        *out = u;
    return err;
}

enum kw_err kw_accounts_user_delete(struct kw_app *app, const struct kw_actor *a, const char *username)
{
    enum kw_err err;

    KW_TX(app, err = kw_store_user_delete(app->store, username), a, "user.delete", "user", username, NULL);
    return err;
}

/* The CSRF token is derived from the session id (never stored): hex of SHA-256("kw-csrf" || id),
 * first 48 characters. Whoever reads the database learns neither. */
static enum kw_err csrf_of(const char *session_id, size_t len, char out[64])
{
    static const char tag[] = "kw-csrf";
    uint8_t h[KW_SHA256_LEN];
    char hex[2 * KW_SHA256_LEN + 1];
    enum kw_err err = kw_crypto_sha256_2(tag, sizeof(tag) - 1, session_id, len, h);

    if (err != KW_OK)
        return err;
    kw_crypto_hex(h, sizeof(h), hex);
    memcpy(out, hex, 48);
    out[48] = '\0';
    return KW_OK;
}

static enum kw_err new_session(struct kw_app *app, const struct kw_user *u, int64_t now,
                               char session_id[KW_SESSION_ID_MAX], struct kw_session *s)
{
    enum kw_err err;

    /* A fresh CSPRNG string in the credential format (256 bits); only its hash is kept. */
    err = kw_keyfmt_generate("kws", session_id);
    if (err == KW_OK)
        err = kw_crypto_sha256(session_id, strlen(session_id), s->id_hash);
    if (err != KW_OK)
        return err;
    snprintf(s->username, sizeof(s->username), "%s", u->username);
    s->csrf[0] = '\0';
    s->created_at = s->last_seen = now;
    s->expires_at = now + (int64_t)app->cfg->session_max_s * 1000;
    err = kw_store_session_insert(app->store, s);
    return err == KW_OK ? csrf_of(session_id, strlen(session_id), s->csrf) : err;
}

static enum kw_err login_checked(struct kw_app *app, const char *username, const char *password, int64_t now,
                                 char session_id[KW_SESSION_ID_MAX], struct kw_session *s, struct kw_user *u)
{
    enum kw_err err = kw_store_user_get(app->store, username, u);

    if (err != KW_OK && err != KW_ERR_NOT_FOUND)
        return err;
    if (err != KW_OK) {
        /* Unknown users cost a hash with the same parameters, so timing does not tell which exist. */
        char dummy[KW_PASSWORD_HASH_MAX];
        kw_crypto_password_hash("not-a-password", 14, (uint32_t)app->cfg->argon2_memory_kib,
                                (uint32_t)app->cfg->argon2_iterations, dummy);
        return KW_ERR_NOT_FOUND;
    }
    if (!kw_crypto_password_verify(u->password_hash, password, strlen(password)) ||
        err != KW_OK || u->disabled)
        return KW_ERR_NOT_FOUND;
    err = kw_store_begin(app->store);
    if (err != KW_OK)
        return err;
    u->last_login_at = now;
    err = kw_store_user_update(app->store, u);
    if (err == KW_OK)
        err = new_session(app, u, now, session_id, s);
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        return err;
    }
    return KW_OK; /* the caller commits with the audit event */
}

enum kw_err kw_accounts_login(struct kw_app *app, const char *username, const char *password, const char *ip,
                              const char *request_id, char session_id[KW_SESSION_ID_MAX], struct kw_session *out,
                              struct kw_user *user, int64_t *retry_after_s)
{
    struct kw_actor a = {"user", username, ip, request_id};
    char ipkey[80], ukey[80];
    struct kw_throttle_key keys[2] = {{ukey, KW_THROTTLE_ACCOUNT_LIMIT, 1}, {ipkey, KW_THROTTLE_IP_LIMIT, 0}};
    int64_t now = kw_time_now_ms();
    enum kw_err err;

    snprintf(ipkey, sizeof(ipkey), "ip:%s", ip ? ip : "");
    snprintf(ukey, sizeof(ukey), "user:%s", username);
    /* Reserved before the password is checked, so parallel attempts cannot outrun the count. */
    err = kw_throttle_acquire(app->throttle, keys, 2, now, retry_after_s);
    if (err == KW_ERR_CONFLICT) {
        kw_domain_audit_async(app, &a, "session.create", "user", username, NULL, "denied", "{\"reason\":\"locked\"}");
        return KW_ERR_CONFLICT;
    }
    if (err != KW_OK)
        return err;
    memset(out, 0, sizeof(*out));
    err = login_checked(app, username, password, now, session_id, out, user);
    if (err == KW_ERR_NOT_FOUND) {
        kw_throttle_release(app->throttle, keys, 2, KW_THROTTLE_FAILURE, kw_time_now_ms());
        kw_domain_audit_async(app, &a, "session.create", "user", username, NULL, "denied", NULL);
        return err;
    }
    if (err == KW_OK)
        err = kw_domain_commit(app, &a, "session.create", "user", username, NULL, NULL);
    kw_throttle_release(app->throttle, keys, 2, err == KW_OK ? KW_THROTTLE_SUCCESS : KW_THROTTLE_ABORTED,
                        kw_time_now_ms());
    return err;
}

enum kw_err kw_accounts_session(struct kw_app *app, const char *session_id, size_t len, int64_t now_ms,
                                struct kw_session *out, struct kw_user *user)
{
    uint8_t h[KW_HASH_LEN];
    enum kw_err err;

    if (kw_keyfmt_check(session_id, len) != KW_OK || kw_crypto_sha256(session_id, len, h) != KW_OK)
        return KW_ERR_NOT_FOUND;
    err = kw_store_session_get(app->store, h, out);
    if (err != KW_OK)
        return err;
    if (now_ms >= out->expires_at || now_ms - out->last_seen >= (int64_t)app->cfg->session_idle_s * 1000) {
        kw_store_session_delete(app->store, h);
        return KW_ERR_NOT_FOUND;
    }
    err = kw_store_user_get(app->store, out->username, user);
    if (err != KW_OK || user->disabled || csrf_of(session_id, len, out->csrf) != KW_OK)
        return KW_ERR_NOT_FOUND;
    /* Idle tracking needs no more than minute resolution: spare the disk a write per request. */
    if (now_ms - out->last_seen > 60000)
        kw_store_session_touch(app->store, h, now_ms);
    return KW_OK;
}

void kw_accounts_logout(struct kw_app *app, const struct kw_actor *a, const uint8_t id_hash[KW_HASH_LEN])
{
    enum kw_err err;

    if (kw_store_begin(app->store) != KW_OK)
        return;
    err = kw_store_session_delete(app->store, id_hash);
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        return;
    }
    kw_domain_commit(app, a, "session.delete", "user", a->id, NULL, NULL);
}

enum kw_err kw_accounts_member_add(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                   const char *username, const char *role, struct kw_member *out)
{
    struct kw_member m;
    struct kw_user u;
    enum kw_err err;

    memset(&m, 0, sizeof(m));
    snprintf(m.service_id, sizeof(m.service_id), "%s", service_id);
    snprintf(m.username, sizeof(m.username), "%s", username);
    snprintf(m.role, sizeof(m.role), "%s", role);
    m.created_at = kw_time_now_ms();
    KW_TX(app, {
        err = kw_store_user_get(app->store, username, &u);
        if (err == KW_OK)
            err = kw_store_member_insert(app->store, &m);
    }, a, "member.add", "user", username, service_id);
    if (err == KW_OK)
        *out = m;
    return err;
}

enum kw_err kw_accounts_member_update(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                      const char *username, const char *role, struct kw_member *out)
{
    struct kw_member m;
    enum kw_err err;

    KW_TX(app, {
        err = kw_store_member_get(app->store, service_id, username, &m);
        if (err == KW_OK) {
            snprintf(m.role, sizeof(m.role), "%s", role);
            err = kw_store_member_update(app->store, &m);
        }
    }, a, "member.update", "user", username, service_id);
    if (err == KW_OK)
        *out = m;
    return err;
}

enum kw_err kw_accounts_member_remove(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                      const char *username)
{
    enum kw_err err;

    KW_TX(app, err = kw_store_member_delete(app->store, service_id, username), a, "member.remove", "user", username,
          service_id);
    return err;
}
