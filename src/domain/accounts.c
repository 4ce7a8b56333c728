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
#include "store/store.h"

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

/* ---- users ---- */

struct user_ctx {
    const char *username;
    const struct kw_user_change *ch;
    const char *new_hash;      /* Argon2id of the new password, or "" */
    const char *verified_hash; /* the hash the current password was checked against, or NULL */
    struct kw_user user;
};

static enum kw_err create_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    return kw_store_user_insert(tx, &((struct user_ctx *)ctx)->user);
}

enum kw_err kw_accounts_user_create(struct kw_app *app, const struct kw_actor *a, const char *username,
                                    const char *password, const char *role, struct kw_user *out)
{
    struct user_ctx c;
    struct kw_write w;
    enum kw_err err;

    memset(&c, 0, sizeof(c));
    snprintf(c.user.username, sizeof(c.user.username), "%s", username);
    snprintf(c.user.role, sizeof(c.user.role), "%s", role ? role : "user");
    c.user.created_at = kw_time_now_ms();
    err = kw_crypto_password_hash(password, strlen(password), (uint32_t)app->cfg->argon2_memory_kib,
                                  (uint32_t)app->cfg->argon2_iterations, c.user.password_hash);
    if (err != KW_OK)
        return err;
    kw_write_init(&w, a, "user.create", "user", username, NULL);
    err = kw_domain_write(app, &w, create_body, &c);
    if (err == KW_OK)
        *out = c.user;
    return err;
}

static int is_live_admin(const struct kw_user *u)
{
    return strcmp(u->role, "sysadmin") == 0 && !u->disabled;
}

/* Refuses a change that would leave no enabled System Administrator (before: u as stored). */
static enum kw_err keep_an_admin(struct kw_tx *tx, const struct kw_user *before, const struct kw_user *after,
                                 struct kw_write *w)
{
    int64_t admins = 0;
    enum kw_err err;

    if (!is_live_admin(before) || (after != NULL && is_live_admin(after)))
        return KW_OK;
    err = kw_store_user_count_admins(tx, &admins);
    if (err == KW_OK && admins <= 1) {
        w->conflict = "LAST_SYSADMIN";
        err = KW_ERR_CONFLICT;
    }
    return err;
}

static enum kw_err update_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct user_ctx *c = ctx;
    const struct kw_user_change *ch = c->ch;
    struct kw_user before;
    enum kw_err err = kw_store_user_get(tx, c->username, &before);

    if (err != KW_OK)
        return err;
    /* The current password was proven against this hash: if it changed since, the proof is void. */
    if (c->verified_hash != NULL && strcmp(before.password_hash, c->verified_hash) != 0) {
        w->conflict = "INVALID_CREDENTIALS";
        return KW_ERR_CONFLICT;
    }
    c->user = before;
    if (c->new_hash[0] != '\0')
        snprintf(c->user.password_hash, sizeof(c->user.password_hash), "%s", c->new_hash);
    if (ch->role != NULL)
        snprintf(c->user.role, sizeof(c->user.role), "%s", ch->role);
    if (ch->disabled != NULL)
        c->user.disabled = *ch->disabled ? 1 : 0;
    err = keep_an_admin(tx, &before, &c->user, w);
    if (err == KW_OK)
        err = kw_store_user_update(tx, &c->user);
    /* A new password ends every other session; disabling ends every one. */
    if (err == KW_OK && (c->user.disabled || c->new_hash[0] != '\0'))
        err = kw_store_session_delete_user(tx, c->username, c->user.disabled ? NULL : ch->keep_session);
    return err;
}

/* Checks ch->current_password against the stored hash, outside any transaction (Argon2 is slow);
 * *verified = the hash it matched. */
static enum kw_err prove_current(struct kw_app *app, const char *username, const char *current,
                                 char verified[KW_PWHASH_MAX], const char **conflict)
{
    struct kw_user u;
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, kw_store_user_get(tx, username, &u));
    if (err != KW_OK)
        return err;
    if (current == NULL || !kw_crypto_password_verify(u.password_hash, current, strlen(current))) {
        *conflict = "INVALID_CREDENTIALS";
        return KW_ERR_CONFLICT;
    }
    memcpy(verified, u.password_hash, KW_PWHASH_MAX);
    return KW_OK;
}

enum kw_err kw_accounts_user_update(struct kw_app *app, const struct kw_actor *a, const char *username,
                                    const struct kw_user_change *ch, struct kw_user *out, const char **conflict)
{
    char hash[KW_PASSWORD_HASH_MAX] = "", verified[KW_PWHASH_MAX] = "";
    struct user_ctx c = {username, ch, hash, NULL, {0}};
    struct kw_write w;
    const char *why = NULL;
    enum kw_err err = KW_OK;

    if (ch->prove_current) {
        err = prove_current(app, username, ch->current_password, verified, &why);
        c.verified_hash = verified;
    }
    if (err == KW_OK && ch->password != NULL)
        err = kw_crypto_password_hash(ch->password, strlen(ch->password), (uint32_t)app->cfg->argon2_memory_kib,
                                      (uint32_t)app->cfg->argon2_iterations, hash);
    if (err == KW_OK) {
        kw_write_init(&w, a, "user.update", "user", username, NULL);
        err = kw_domain_write(app, &w, update_body, &c);
        why = w.conflict;
    }
    if (conflict != NULL)
        *conflict = why;
    if (err == KW_OK)
        *out = c.user;
    return err;
}

static enum kw_err delete_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct kw_user before;
    enum kw_err err = kw_store_user_get(tx, ctx, &before);

    if (err == KW_OK)
        err = keep_an_admin(tx, &before, NULL, w);
    return err == KW_OK ? kw_store_user_delete(tx, ctx) : err;
}

enum kw_err kw_accounts_user_delete(struct kw_app *app, const struct kw_actor *a, const char *username,
                                    const char **conflict)
{
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, a, "user.delete", "user", username, NULL);
    err = kw_domain_write(app, &w, delete_body, (void *)username);
    if (conflict != NULL)
        *conflict = w.conflict;
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

struct login_ctx {
    struct kw_app *app;
    const struct kw_user *user; /* as verified, outside the transaction */
    int64_t now;
    char *session_id;
    struct kw_session *session;
};

static enum kw_err new_session(struct kw_app *app, const struct kw_user *u, int64_t now,
                               char session_id[KW_SESSION_ID_MAX], struct kw_session *s, struct kw_tx *tx)
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
    err = kw_store_session_insert(tx, s);
    return err == KW_OK ? csrf_of(session_id, strlen(session_id), s->csrf) : err;
}

/* The login writes only what it owns (last login) and only while the row is still the one whose
 * password it verified and still enabled; an admin's change in between makes it fail. */
static enum kw_err login_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct login_ctx *c = ctx;
    enum kw_err err = kw_store_user_login(tx, c->user, c->now);

    if (err == KW_ERR_CONFLICT)
        return KW_ERR_NOT_FOUND;
    return err == KW_OK ? new_session(c->app, c->user, c->now, c->session_id, c->session, tx) : err;
}

/* Verifies the password against the row as read, outside any transaction (Argon2 takes ~30 ms). */
static enum kw_err verify_password(struct kw_app *app, const char *username, const char *password, struct kw_user *u)
{
    enum kw_err err;

    KW_DOMAIN_READ(app->store, err, tx, kw_store_user_get(tx, username, u));
    if (err != KW_OK && err != KW_ERR_NOT_FOUND)
        return err;
    if (err != KW_OK) {
        /* Unknown users cost a hash with the same parameters, so timing does not tell which exist. */
        char dummy[KW_PASSWORD_HASH_MAX];
        kw_crypto_password_hash("not-a-password", 14, (uint32_t)app->cfg->argon2_memory_kib,
                                (uint32_t)app->cfg->argon2_iterations, dummy);
        return KW_ERR_NOT_FOUND;
    }
    if (!kw_crypto_password_verify(u->password_hash, password, strlen(password)) || u->disabled)
        return KW_ERR_NOT_FOUND;
    return KW_OK;
}

static enum kw_err login_checked(struct kw_app *app, const struct kw_actor *a, const char *username,
                                 const char *password, int64_t now, char session_id[KW_SESSION_ID_MAX],
                                 struct kw_session *s, struct kw_user *u)
{
    struct login_ctx c = {app, u, now, session_id, s};
    struct kw_write w;
    enum kw_err err = verify_password(app, username, password, u);

    if (err != KW_OK)
        return err;
    kw_write_init(&w, a, "session.create", "user", username, NULL);
    err = kw_domain_write(app, &w, login_body, &c);
    if (err == KW_OK)
        u->last_login_at = now;
    return err;
}

enum kw_err kw_accounts_login(struct kw_app *app, const char *username, const char *password, const char *ip,
                              const char *request_id, char session_id[KW_SESSION_ID_MAX], struct kw_session *out,
                              struct kw_user *user, int64_t *retry_after_s)
{
    struct kw_actor a = {"user", username, ip, request_id, NULL, NULL};
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
    err = login_checked(app, &a, username, password, now, session_id, out, user);
    if (err == KW_ERR_NOT_FOUND) {
        kw_throttle_release(app->throttle, keys, 2, KW_THROTTLE_FAILURE, kw_time_now_ms());
        kw_domain_audit_async(app, &a, "session.create", "user", username, NULL, "denied", NULL);
        return err;
    }
    kw_throttle_release(app->throttle, keys, 2, err == KW_OK ? KW_THROTTLE_SUCCESS : KW_THROTTLE_ABORTED,
                        kw_time_now_ms());
    return err;
}

/* A bookkeeping write with no audit event (session expiry, idle tracking): one statement. */
static void quiet_write(struct kw_app *app, const uint8_t h[KW_HASH_LEN], int64_t touch_ms)
{
    struct kw_tx *tx = NULL;
    enum kw_err err;

    if (kw_store_begin(app->store, KW_TX_WRITE, &tx) != KW_OK)
        return;
    err = touch_ms != 0 ? kw_store_session_touch(tx, h, touch_ms) : kw_store_session_delete(tx, h);
    if (err == KW_OK)
        kw_store_commit(tx);
    else
        kw_store_rollback(tx);
}

static enum kw_err session_read(struct kw_tx *tx, const uint8_t h[KW_HASH_LEN], struct kw_session *out,
                                struct kw_user *user)
{
    enum kw_err err = kw_store_session_get(tx, h, out);

    return err == KW_OK ? kw_store_user_get(tx, out->username, user) : err;
}

enum kw_err kw_accounts_session(struct kw_app *app, const char *session_id, size_t len, int64_t now_ms,
                                struct kw_session *out, struct kw_user *user)
{
    uint8_t h[KW_HASH_LEN];
    enum kw_err err;

    if (kw_keyfmt_check(session_id, len) != KW_OK || kw_crypto_sha256(session_id, len, h) != KW_OK)
        return KW_ERR_NOT_FOUND;
    KW_DOMAIN_READ(app->store, err, tx, session_read(tx, h, out, user));
    if (err != KW_OK)
        return err;
    if (now_ms >= out->expires_at || now_ms - out->last_seen >= (int64_t)app->cfg->session_idle_s * 1000) {
        quiet_write(app, h, 0);
        return KW_ERR_NOT_FOUND;
    }
    if (user->disabled || csrf_of(session_id, len, out->csrf) != KW_OK)
        return KW_ERR_NOT_FOUND;
    /* Idle tracking needs no more than minute resolution: spare the disk a write per request. */
    if (now_ms - out->last_seen > 60000)
        quiet_write(app, h, now_ms);
    return KW_OK;
}

static enum kw_err logout_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    return kw_store_session_delete(tx, ctx);
}

void kw_accounts_logout(struct kw_app *app, const struct kw_actor *a, const uint8_t id_hash[KW_HASH_LEN])
{
    struct kw_write w;

    kw_write_init(&w, a, "session.delete", "user", a->id, NULL);
    kw_domain_write(app, &w, logout_body, (void *)id_hash);
}

/* ---- memberships ---- */

struct member_ctx {
    const char *service_id, *username, *role;
    struct kw_member m;
};

static enum kw_err member_add_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct member_ctx *c = ctx;
    struct kw_user u;
    enum kw_err err = kw_store_user_get(tx, c->username, &u);

    return err == KW_OK ? kw_store_member_insert(tx, &c->m) : err;
}

enum kw_err kw_accounts_member_add(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                   const char *username, const char *role, struct kw_member *out)
{
    struct member_ctx c = {service_id, username, role, {0}};
    struct kw_write w;
    enum kw_err err;

    snprintf(c.m.service_id, sizeof(c.m.service_id), "%s", service_id);
    snprintf(c.m.username, sizeof(c.m.username), "%s", username);
    snprintf(c.m.role, sizeof(c.m.role), "%s", role);
    c.m.created_at = kw_time_now_ms();
    kw_write_init(&w, a, "member.add", "user", username, service_id);
    err = kw_domain_write(app, &w, member_add_body, &c);
    if (err == KW_OK)
        *out = c.m;
    return err;
}

static enum kw_err member_update_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct member_ctx *c = ctx;
    enum kw_err err = kw_store_member_get(tx, c->service_id, c->username, &c->m);

    if (err != KW_OK)
        return err;
    snprintf(c->m.role, sizeof(c->m.role), "%s", c->role);
    return kw_store_member_update(tx, &c->m);
}

enum kw_err kw_accounts_member_update(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                      const char *username, const char *role, struct kw_member *out)
{
    struct member_ctx c = {service_id, username, role, {0}};
    struct kw_write w;
    enum kw_err err;

    kw_write_init(&w, a, "member.update", "user", username, service_id);
    err = kw_domain_write(app, &w, member_update_body, &c);
    if (err == KW_OK)
        *out = c.m;
    return err;
}

static enum kw_err member_remove_body(struct kw_tx *tx, void *ctx, struct kw_write *w)
{
    struct member_ctx *c = ctx;

    return kw_store_member_delete(tx, c->service_id, c->username);
}

enum kw_err kw_accounts_member_remove(struct kw_app *app, const struct kw_actor *a, const char *service_id,
                                      const char *username)
{
    struct member_ctx c = {service_id, username, NULL, {0}};
    struct kw_write w;

    kw_write_init(&w, a, "member.remove", "user", username, service_id);
    return kw_domain_write(app, &w, member_remove_body, &c);
}
