/* keys.c - `keyward keys create|list|show|update|revoke|roll|delete`: a client of the running
 * server's API key endpoints (docs/api.md). A created or rolled key's secret goes to stdout once,
 * with a warning that it cannot be shown again; never to stderr. */
#include "cli/client.h"

#include <stdio.h>
#include <string.h>

#include "cli/http_client_internal.h"

#define PATH_CAP 512
#define MAX_PERMS 32           /* --permission given more often is a usage error (server takes 8) */
#define ARCHIVE_MAX 31536000LL /* one year, as the server */
#define GRACE_MAX 2592000LL    /* thirty days, as the server */

static const char group_usage[] =
    "usage: keyward keys <command> [options]\n"
    "\n"
    "Manage API keys on a running keyward server.\n"
    "\n"
    "commands:\n"
    "  create --service ID --scope S [--description D] [--permission P]...\n"
    "         [--archive-after SECONDS] [--expires-at RFC3339]\n"
    "                             create a key; its secret is printed once\n"
    "  list --service ID [--limit N] [--all]\n"
    "                             list a service's keys, oldest first\n"
    "  show ID                    show one key\n"
    "  update ID [--description D] [--scope S] [--permission P]... [--archive-after S|none]\n"
    "         [--enable|--disable] [--expires-at T|none]\n"
    "                             change a key\n"
    "  revoke ID                  revoke a key, permanently\n"
    "  roll ID [--grace SECONDS]  replace a key with a new secret; the old one expires after the grace\n"
    "  delete ID                  delete a key\n"
    "\n"
    "scopes: metadata, attributes, attributes_pictures\n"
    "permissions: candidates:archive, documents:write, documents:read, keys:verify\n"
    "\n"
    "options of every command:\n"
    "  --json    print the server's JSON answer instead of a table\n"
    "  --help    help for one command: keyward keys <command> --help\n"
    "\n"
    "environment:\n"
    "  KEYWARD_ADDR    server URL (default " KW_CLI_DEFAULT_ADDR ")\n"
    "  KEYWARD_TOKEN   root token (required; never taken from the command line)\n"
    "\n"
    "exit status: 0 ok, 1 the server refused, 2 usage error, 3 server unreachable\n";

static const char create_usage[] =
    "usage: keyward keys create --service ID --scope S [options]\n"
    "\n"
    "  --service ID              the service the key belongs to (required)\n"
    "  --scope S                 metadata | attributes | attributes_pictures (required)\n"
    "  --description D           up to 200 bytes\n"
    "  --permission P            grant P; repeat for more (candidates:archive, documents:write,\n"
    "                            documents:read, keys:verify)\n"
    "  --archive-after SECONDS   archive a record this long after the key extracts it (0..31536000)\n"
    "  --expires-at T            RFC 3339 time after which the key stops working\n"
    "  --json                    print the server's JSON answer (it contains the secret)\n"
    "\n"
    "The secret is printed once, to standard output. keyward keeps only its hash.\n";

static const char list_usage[] = "usage: keyward keys list --service ID [--limit N] [--all] [--json]\n"
                                 "\n"
                                 "  --service ID   the service whose keys to list (required)\n"
                                 "  --limit N      keys per page, 1..200 (default 50)\n"
                                 "  --all          fetch every page (--json then prints one merged list)\n";

static const char show_usage[] = "usage: keyward keys show ID [--json]\n";

static const char update_usage[] =
    "usage: keyward keys update ID [options]\n"
    "\n"
    "Changes only what is given; effective on the key's next request.\n"
    "  --description D            new description\n"
    "  --scope S                  metadata | attributes | attributes_pictures\n"
    "  --permission P             replace the permissions with the ones given (repeat)\n"
    "  --archive-after S|none     auto-archive delay in seconds, or none\n"
    "  --enable | --disable       turn the key on or off\n"
    "  --expires-at T|none        RFC 3339 expiry, or none\n"
    "  --json                     print the server's JSON answer\n";

static const char revoke_usage[] = "usage: keyward keys revoke ID [--json]\n"
                                   "\n"
                                   "Revocation is permanent: the key stops working on its next request.\n";

static const char roll_usage[] =
    "usage: keyward keys roll ID [--grace SECONDS] [--json]\n"
    "\n"
    "Creates a new key with the old one's settings and prints its secret once.\n"
    "  --grace SECONDS   the old key keeps working this long (0..2592000, default 0: stops now)\n";

static const char delete_usage[] = "usage: keyward keys delete ID [--json]\n";

static const struct kw_cli_column key_columns[] = {
    {"ID", "id", 0, 0},
    {"DESCRIPTION", "description", 30, 0},
    {"START", "start", 0, 0},
    {"SCOPE", "scope", 0, 0},
    {"STATUS", "status", 0, 0},
    {"CREATED", "createdAt", 0, KW_CLI_COL_TIME},
    {"LAST USED", "lastUsedAt", 0, KW_CLI_COL_TIME},
};

struct key_opts {
    const char *id;
    const char *service;
    const char *description;
    const char *scope;
    const char *archive; /* seconds or "none" */
    const char *expires; /* RFC 3339 or "none" */
    const char *perms[MAX_PERMS];
    size_t nperms;
    int enabled; /* -1 not given */
    long long limit;
    long long grace;
    int has_grace;
    int all;
};

static int take_option(struct kw_cli_ctx *ctx, int c, struct key_opts *o)
{
    switch (c) {
    case 's':
        o->service = optarg;
        break;
    case 'd':
        o->description = optarg;
        break;
    case 'S':
        o->scope = optarg;
        break;
    case 'A':
        o->archive = optarg;
        break;
    case 'x':
        o->expires = optarg;
        break;
    case 'a':
        o->all = 1;
        break;
    case 'e':
    case 'D':
        if (o->enabled != -1 && o->enabled != (c == 'e'))
            return kw_cli_usage_error(ctx, "--enable and --disable exclude each other");
        o->enabled = c == 'e';
        break;
    case 'p':
        if (o->nperms == MAX_PERMS)
            return kw_cli_usage_error(ctx, "more than %d --permission options", MAX_PERMS);
        o->perms[o->nperms++] = optarg;
        break;
    case 'l':
        return kw_cli_parse_int(ctx, "--limit", optarg, 1, 200, &o->limit);
    case 'g':
        o->has_grace = 1;
        return kw_cli_parse_int(ctx, "--grace", optarg, 0, GRACE_MAX, &o->grace);
    }
    return KW_CLI_OK;
}

/* Parses argv with the command's option table; want_id: the command takes one ID argument. */
static int parse(struct kw_cli_ctx *ctx, int argc, char **argv, const struct option *opts, int want_id,
                 struct key_opts *o)
{
    int c, rc = KW_CLI_OK;

    o->enabled = -1;
    o->limit = 50;
    while (rc == KW_CLI_OK && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'j' || c == 'h' || c == ':' || c == '?')
            rc = kw_cli_common_option(ctx, c, argc, argv);
        else
            rc = take_option(ctx, c, o);
    }
    if (rc == KW_CLI_OK)
        rc = kw_cli_positional(ctx, argc, argv, want_id, &o->id);
    if (rc == KW_CLI_OK && o->scope && strcmp(o->scope, "metadata") != 0 &&
        strcmp(o->scope, "attributes") != 0 && strcmp(o->scope, "attributes_pictures") != 0)
        rc = kw_cli_usage_error(ctx, "--scope must be metadata, attributes or attributes_pictures, not '%s'",
                                o->scope);
    return rc;
}

static int nomem(void)
{
    fprintf(stderr, "error: out of memory\n");
    return KW_CLI_REFUSED;
}

/* "archiveAfterExtractSeconds": integer, or null for "none". */
static int set_archive(struct kw_cli_ctx *ctx, json_t *body, const char *v)
{
    long long s = 0;
    int rc = KW_CLI_OK;

    if (strcmp(v, "none") != 0 &&
        (rc = kw_cli_parse_int(ctx, "--archive-after", v, 0, ARCHIVE_MAX, &s)) != KW_CLI_OK)
        return rc;
    if (json_object_set_new(body, "archiveAfterExtractSeconds",
                            strcmp(v, "none") == 0 ? json_null() : json_integer(s)) != 0)
        return nomem();
    return KW_CLI_OK;
}

/* "expiresAt": the RFC 3339 text as given (the server checks it), or null for "none". */
static int set_expires(struct kw_cli_ctx *ctx, json_t *body, const char *v)
{
    if (strcmp(v, "none") != 0)
        return kw_cli_set_string(ctx, body, "expiresAt", v);
    return json_object_set_new(body, "expiresAt", json_null()) ? nomem() : KW_CLI_OK;
}

static int set_permissions(struct kw_cli_ctx *ctx, json_t *body, const struct key_opts *o)
{
    json_t *arr = json_array();
    int rc = KW_CLI_OK;

    for (size_t i = 0; arr && rc == KW_CLI_OK && i < o->nperms; i++) {
        json_t *s = json_string(o->perms[i]);
        if (!s)
            rc = kw_cli_usage_error(ctx, "--permission '%s' is not valid UTF-8", o->perms[i]);
        else if (json_array_append_new(arr, s) != 0)
            rc = nomem();
    }
    if (rc == KW_CLI_OK && (!arr || json_object_set(body, "permissions", arr) != 0))
        rc = nomem();
    json_decref(arr);
    return rc;
}

/* The create/update body from the options that were given. */
static int build_body(struct kw_cli_ctx *ctx, const struct key_opts *o, json_t **out)
{
    json_t *body = json_object();
    int rc = KW_CLI_OK;

    *out = NULL;
    if (!body) {
        rc = nomem();
        goto out;
    }
    if ((o->description && (rc = kw_cli_set_string(ctx, body, "description", o->description)) != KW_CLI_OK) ||
        (o->scope && (rc = kw_cli_set_string(ctx, body, "scope", o->scope)) != KW_CLI_OK) ||
        (o->nperms && (rc = set_permissions(ctx, body, o)) != KW_CLI_OK) ||
        (o->archive && (rc = set_archive(ctx, body, o->archive)) != KW_CLI_OK) ||
        (o->expires && (rc = set_expires(ctx, body, o->expires)) != KW_CLI_OK))
        goto out;
    if (o->enabled != -1 && json_object_set_new(body, "enabled", json_boolean(o->enabled)) != 0) {
        rc = nomem();
        goto out;
    }
    *out = body;
    body = NULL;
out:
    json_decref(body);
    return rc;
}

/* Prints a new key's secret once, with the warning; rolled_from/grace only for roll. */
static int print_secret(const json_t *key, const char *rolled_from, long long grace)
{
    const char *secret = json_string_value(json_object_get(key, "key"));
    const char *id = json_string_value(json_object_get(key, "id"));
    const char *start = json_string_value(json_object_get(key, "start"));

    if (!secret || !id) {
        fprintf(stderr, "error: keyward's answer has no key secret\n");
        return KW_CLI_REFUSED;
    }
    printf("API key %s created (start %s).\n\n", id, start ? start : "-");
    printf("    %s\n\n", secret);
    printf("Copy this secret now: it is shown only once. keyward keeps only its hash and cannot show it "
           "again.\n");
    if (rolled_from && grace > 0)
        printf("The old key %s keeps working for %lld more seconds.\n", rolled_from, grace);
    else if (rolled_from)
        printf("The old key %s has stopped working.\n", rolled_from);
    return KW_CLI_OK;
}

static int key_create(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"service", required_argument, NULL, 's'},
        {"scope", required_argument, NULL, 'S'},
        {"description", required_argument, NULL, 'd'},
        {"permission", required_argument, NULL, 'p'},
        {"archive-after", required_argument, NULL, 'A'},
        {"expires-at", required_argument, NULL, 'x'},
        KW_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct key_opts o = {0};
    json_t *body = NULL, *resp = NULL;
    char path[PATH_CAP];
    int rc;

    if ((rc = parse(ctx, argc, argv, opts, 0, &o)) != KW_CLI_OK)
        goto out;
    if (!o.service || !o.scope) {
        rc = kw_cli_usage_error(ctx, "%s is required", o.service ? "--scope" : "--service");
        goto out;
    }
    if ((rc = kw_cli_path(ctx, path, sizeof(path), "/api/v1/services/", o.service, "/keys")) != KW_CLI_OK ||
        (rc = build_body(ctx, &o, &body)) != KW_CLI_OK ||
        (rc = kw_cli_call(ctx, "POST", path, body, &resp)) != KW_CLI_OK)
        goto out;
    if (ctx->json)
        kw_cli_print_json(resp);
    else
        rc = print_secret(resp, NULL, 0);
out:
    json_decref(body);
    json_decref(resp);
    return rc;
}

static int key_list(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"service", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'},
        {"all", no_argument, NULL, 'a'},
        KW_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct key_opts o = {0};
    json_t *list = NULL;
    char path[PATH_CAP], query[32];
    int rc;

    if ((rc = parse(ctx, argc, argv, opts, 0, &o)) != KW_CLI_OK)
        goto out;
    if (!o.service) {
        rc = kw_cli_usage_error(ctx, "--service is required");
        goto out;
    }
    snprintf(query, sizeof(query), "/keys?limit=%lld", o.limit);
    if ((rc = kw_cli_path(ctx, path, sizeof(path), "/api/v1/services/", o.service, query)) != KW_CLI_OK ||
        (rc = kw_cli_list(ctx, path, o.all, &list)) != KW_CLI_OK)
        goto out;
    if (ctx->json) {
        kw_cli_print_json(list);
        goto out;
    }
    kw_cli_print_table(key_columns, sizeof(key_columns) / sizeof(key_columns[0]),
                       json_object_get(list, "items"));
    if (json_string_value(json_object_get(list, "nextCursor")))
        fprintf(stderr, "(more keys: use --all)\n");
out:
    json_decref(list);
    return rc;
}

/* show / update / revoke / roll / delete: one ID, one request on /api/v1/keys/{id}<suffix>. */
static int key_one(struct kw_cli_ctx *ctx, int argc, char **argv, const char *method, const char *suffix,
                   const struct option *opts)
{
    struct key_opts o = {0};
    json_t *body = NULL, *resp = NULL;
    char path[PATH_CAP];
    int rc, roll = strcmp(suffix, "/roll") == 0;

    if ((rc = parse(ctx, argc, argv, opts, 1, &o)) != KW_CLI_OK ||
        (rc = kw_cli_path(ctx, path, sizeof(path), "/api/v1/keys/", o.id, suffix)) != KW_CLI_OK)
        goto out;
    if (strcmp(method, "PATCH") == 0) {
        if (!o.description && !o.scope && !o.nperms && !o.archive && !o.expires && o.enabled == -1) {
            rc = kw_cli_usage_error(ctx, "nothing to update");
            goto out;
        }
        rc = build_body(ctx, &o, &body);
    } else if (strcmp(method, "POST") == 0) {
        body = roll && o.has_grace ? json_pack("{s:I}", "expireOldAfterSeconds", (json_int_t)o.grace)
                                   : json_object();
        rc = body ? KW_CLI_OK : nomem();
    }
    if (rc != KW_CLI_OK || (rc = kw_cli_call(ctx, method, path, body, &resp)) != KW_CLI_OK)
        goto out;
    if (ctx->json && resp)
        kw_cli_print_json(resp);
    else if (roll && resp)
        rc = print_secret(resp, o.id, o.grace);
    else if (resp)
        kw_cli_print_object(resp, "key");
    else if (!ctx->json)
        printf("deleted key %s\n", o.id);
out:
    json_decref(body);
    json_decref(resp);
    return rc;
}

static int key_show(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {KW_CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};

    return key_one(ctx, argc, argv, "GET", "", opts);
}

static int key_update(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"description", required_argument, NULL, 'd'},
        {"scope", required_argument, NULL, 'S'},
        {"permission", required_argument, NULL, 'p'},
        {"archive-after", required_argument, NULL, 'A'},
        {"expires-at", required_argument, NULL, 'x'},
        {"enable", no_argument, NULL, 'e'},
        {"disable", no_argument, NULL, 'D'},
        KW_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };

    return key_one(ctx, argc, argv, "PATCH", "", opts);
}

static int key_revoke(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {KW_CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};

    return key_one(ctx, argc, argv, "POST", "/revoke", opts);
}

static int key_roll(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"grace", required_argument, NULL, 'g'},
        KW_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };

    return key_one(ctx, argc, argv, "POST", "/roll", opts);
}

static int key_delete(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {KW_CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};

    return key_one(ctx, argc, argv, "DELETE", "", opts);
}

static const struct kw_cli_command commands[] = {
    {"create", create_usage, key_create}, {"list", list_usage, key_list},
    {"show", show_usage, key_show},       {"update", update_usage, key_update},
    {"revoke", revoke_usage, key_revoke}, {"roll", roll_usage, key_roll},
    {"delete", delete_usage, key_delete},
};

int kw_cli_keys(int argc, char **argv)
{
    return kw_cli_dispatch("keys", group_usage, commands, sizeof(commands) / sizeof(commands[0]), argc, argv);
}
