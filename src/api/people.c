/* people.c - /api/v1/session and /api/v1/users handlers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "domain/accounts.h"
#include "domain/people_read.h"

static json_t *user_json(const struct kw_user *u)
{
    return json_pack("{s:s, s:s, s:b, s:o, s:o}", "username", u->username, "role", u->role, "disabled",
                     u->disabled, "createdAt", kw_api_time_json(u->created_at), "lastLoginAt",
                     kw_api_time_json(u->last_login_at));
}

/* {"username","role","memberships":[{"serviceId","role"}]} */
static json_t *whoami_json(struct kw_app *app, const struct kw_user *u)
{
    struct kw_member m[KW_API_LIST_MAX];
    json_t *arr = json_array();
    size_t n = 0, i;

    if (kw_people_memberships(app, u->username, m, KW_API_LIST_MAX, &n) == KW_OK) {
        for (i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:s}", "serviceId", m[i].service_id, "role", m[i].role));
    }
    return json_pack("{s:s, s:s, s:o}", "username", u->username, "role", u->role, "memberships", arr);
}

static const char *const login_fields[] = {"username", "password", NULL};

void kw_api_session_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *username = NULL, *password = NULL;
    char sid[KW_SESSION_ID_MAX];
    struct kw_session s;
    struct kw_user u;
    int64_t retry = 0;
    json_t *b = kw_api_body(c, res, login_fields, 0);
    enum kw_err err;

    if (b == NULL)
        return;
    if (kw_api_str(c, res, b, "username", 1, KW_USERNAME_MAX - 1, &username) <= 0 ||
        kw_api_str(c, res, b, "password", 1, KW_PASSWORD_MAX, &password) <= 0) {
        if (res->status == 0)
            kw_api_fail(c, res, 400, "INVALID_FIELD", "Both username and password are required.",
                        username ? "password" : "username");
        goto out;
    }
    err = kw_accounts_login(c->app, username, password, c->req->ip, c->req->request_id, sid, &s, &u, &retry);
    if (err == KW_ERR_NOT_FOUND) {
        kw_api_fail(c, res, 401, "INVALID_CREDENTIALS", "The username or password is wrong.", NULL);
        goto out;
    }
    if (err == KW_ERR_CONFLICT) {
        char detail[128];
        snprintf(detail, sizeof(detail), "Too many failed logins. Try again in %lld seconds.", (long long)retry);
        kw_api_header(res, "Retry-After", "%lld", (long long)retry);
        kw_api_fail(c, res, 429, "LOGIN_LOCKED", detail, NULL);
        goto out;
    }
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "user", NULL, NULL);
        goto out;
    }
    kw_api_header(res, "Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d", KW_SESSION_COOKIE, sid,
                  c->app->cfg->session_max_s);
    kw_api_header(res, "Cache-Control", "no-store");
    memset(sid, 0, sizeof(sid));
    kw_api_json(res, 200, json_pack("{s:s, s:o}", "csrfToken", s.csrf, "user", whoami_json(c->app, &u)));
out:
    json_decref(b);
}

void kw_api_session_get(struct kw_api_ctx *c, struct kw_api_res *res)
{
    struct kw_user u;

    if (c->principal.kind != KW_PRINCIPAL_USER) {
        kw_api_fail(c, res, 401, "UNAUTHENTICATED", "No console session: log in first.", NULL);
        return;
    }
    if (kw_people_user_get(c->app, c->principal.id, &u) != KW_OK) {
        kw_api_fail(c, res, 401, "UNAUTHENTICATED", "No console session: log in first.", NULL);
        return;
    }
    kw_api_header(res, "Cache-Control", "no-store");
    kw_api_json(res, 200, json_pack("{s:s, s:o}", "csrfToken", c->principal.csrf, "user", whoami_json(c->app, &u)));
}

void kw_api_session_delete(struct kw_api_ctx *c, struct kw_api_res *res)
{
    if (c->principal.kind == KW_PRINCIPAL_USER)
        kw_accounts_logout(c->app, &c->actor, c->principal.session_hash);
    kw_api_header(res, "Set-Cookie", "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", KW_SESSION_COOKIE);
    kw_api_json(res, 204, NULL);
}

static const char *const user_create_fields[] = {"username", "password", "role", NULL};
static const char *const user_update_fields[] = {"password", "currentPassword", "role", "disabled", NULL};

static int read_password(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, const char *name, const char **out)
{
    int r = kw_api_str(c, res, b, name, KW_PASSWORD_MIN, KW_PASSWORD_MAX, out);
    return r;
}

static int read_role(struct kw_api_ctx *c, struct kw_api_res *res, json_t *b, const char **role)
{
    int r = kw_api_str(c, res, b, "role", 1, 15, role);

    if (r > 0 && !kw_accounts_user_role_valid(*role)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"role\" must be sysadmin or user.", "role");
        return -1;
    }
    return r;
}

void kw_api_users_create(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *username = NULL, *password = NULL, *role = "user";
    struct kw_user u;
    json_t *b = kw_api_body(c, res, user_create_fields, 0);
    enum kw_err err;
    int r;

    if (b == NULL)
        return;
    if ((r = kw_api_str(c, res, b, "username", 3, KW_USERNAME_MAX - 1, &username)) < 0)
        goto out;
    if (r == 0 || !kw_accounts_username_valid(username)) {
        kw_api_fail(c, res, 400, "INVALID_FIELD",
                    "Field \"username\" must be 3 to 63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit.",
                    "username");
        goto out;
    }
    if ((r = read_password(c, res, b, "password", &password)) <= 0) {
        if (r == 0)
            kw_api_fail(c, res, 400, "INVALID_FIELD", "Field \"password\" is required (12 to 256 bytes).", "password");
        goto out;
    }
    if (read_role(c, res, b, &role) < 0)
        goto out;
    err = kw_accounts_user_create(c->app, &c->actor, username, password, role, &u);
    if (err == KW_ERR_EXISTS) {
        kw_api_fail(c, res, 409, "USER_EXISTS", "A user with that username exists.", "username");
        goto out;
    }
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "user", NULL, NULL);
        goto out;
    }
    kw_api_header(res, "Location", "/api/v1/users/%s", u.username);
    kw_api_json(res, 201, user_json(&u));
out:
    json_decref(b);
}

static json_t *render_user(const void *item, int64_t now_ms)
{
    return user_json(item);
}

void kw_api_users_list(struct kw_api_ctx *c, struct kw_api_res *res)
{
    size_t limit, n = 0;
    int64_t after;
    struct kw_user *items;

    if (!kw_api_page(c, res, &limit, &after))
        return;
    items = calloc(limit + 1, sizeof(*items));
    if (items == NULL || kw_people_user_list(c->app, after, items, limit + 1, &n) != KW_OK) {
        kw_api_fail_err(c, res, KW_ERR_STORE, "user", NULL, NULL);
        free(items);
        return;
    }
    kw_api_page_reply(res, items, sizeof(*items), n, limit, render_user, 0);
    free(items);
}

/* A sysadmin may change anything of anyone; a person may change their own password, proving the old one. */
void kw_api_users_update(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *password = NULL, *current = NULL, *role = NULL;
    int disabled = 0, has_disabled = 0, admin = kw_auth_is_admin(&c->principal);
    struct kw_user_change ch;
    const char *why = NULL;
    struct kw_user u;
    json_t *b = kw_api_body(c, res, user_update_fields, 0);
    enum kw_err err;

    if (b == NULL)
        return;
    memset(&ch, 0, sizeof(ch));
    if (read_password(c, res, b, "password", &password) < 0 || read_role(c, res, b, &role) < 0 ||
        (has_disabled = kw_api_bool(c, res, b, "disabled", &disabled)) < 0 ||
        kw_api_str(c, res, b, "currentPassword", 1, KW_PASSWORD_MAX, &current) < 0)
        goto out;
    if (!admin && (strcmp(c->principal.id, c->params[0]) != 0 || role != NULL || has_disabled)) {
        kw_api_fail(c, res, 403, "FORBIDDEN", "You may only change your own password.", NULL);
        goto out;
    }
    /* A person changing their own password proves the current one, whatever their role; the
     * session that made the change stays, the others end. */
    ch.password = password;
    ch.role = role;
    ch.disabled = has_disabled ? &disabled : NULL;
    if (c->principal.kind == KW_PRINCIPAL_USER && password != NULL && strcmp(c->principal.id, c->params[0]) == 0) {
        ch.prove_current = 1;
        ch.current_password = current;
        ch.keep_session = c->principal.session_hash;
    }
    err = kw_accounts_user_update(c->app, &c->actor, c->params[0], &ch, &u, &why);
    if (err == KW_ERR_CONFLICT && why != NULL && strcmp(why, "INVALID_CREDENTIALS") == 0) {
        kw_api_fail(c, res, 403, "INVALID_CREDENTIALS", "The current password is wrong.", "currentPassword");
        goto out;
    }
    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "user", why, kw_api_conflict_detail(why));
        goto out;
    }
    kw_api_json(res, 200, user_json(&u));
out:
    json_decref(b);
}

void kw_api_users_delete(struct kw_api_ctx *c, struct kw_api_res *res)
{
    const char *why = NULL;
    enum kw_err err = kw_accounts_user_delete(c->app, &c->actor, c->params[0], &why);

    if (err != KW_OK) {
        kw_api_fail_err(c, res, err, "user", why, kw_api_conflict_detail(why));
        return;
    }
    kw_api_json(res, 204, NULL);
}
