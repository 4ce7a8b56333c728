/* services.c - `keyward services create|list|show|update|delete`: a client of the running server's
 * /api/v1/services endpoints (docs/api.md). */
#include "cli/client.h"

#include <stdio.h>
#include <string.h>

#include "cli/http_client_internal.h"

#define PATH_CAP 512

static const char group_usage[] =
    "usage: keyward services <command> [options]\n"
    "\n"
    "Manage services (tenants) on a running keyward server.\n"
    "\n"
    "commands:\n"
    "  create --name N [--description D] [--key-prefix P]    create a service\n"
    "  list [--limit N] [--all]                             list services, oldest first\n"
    "  show ID                                              show one service\n"
    "  update ID [--name N] [--description D] [--key-prefix P]\n"
    "                                                       change a service\n"
    "  delete ID [--force]                                  delete a service (--force: and its keys)\n"
    "\n"
    "options of every command:\n"
    "  --json    print the server's JSON answer instead of a table\n"
    "  --help    help for one command: keyward services <command> --help\n"
    "\n"
    "environment:\n"
    "  KEYWARD_ADDR    server URL (default " KW_CLI_DEFAULT_ADDR ")\n"
    "  KEYWARD_TOKEN   root token (required; never taken from the command line)\n"
    "\n"
    "exit status: 0 ok, 1 the server refused, 2 usage error, 3 server unreachable\n";

static const char create_usage[] =
    "usage: keyward services create --name N [--description D] [--key-prefix P] [--json]\n"
    "\n"
    "  --name N           1..100 bytes (required)\n"
    "  --description D    up to 500 bytes\n"
    "  --key-prefix P     prefix of this service's API keys, [a-z][a-z0-9]{0,15} (default kw)\n"
    "  --json             print the created service as JSON\n";

static const char list_usage[] = "usage: keyward services list [--limit N] [--all] [--json]\n"
                                 "\n"
                                 "  --limit N    services per page, 1..200 (default 50)\n"
                                 "  --all        fetch every page (--json then prints one merged list)\n"
                                 "  --json       print the server's JSON list\n";

static const char show_usage[] = "usage: keyward services show ID [--json]\n";

static const char update_usage[] =
    "usage: keyward services update ID [--name N] [--description D] [--key-prefix P] [--json]\n"
    "\n"
    "Changes only the fields given. A new key prefix applies to keys created afterwards.\n";

static const char delete_usage[] =
    "usage: keyward services delete ID [--force] [--json]\n"
    "\n"
    "  --force    also delete the service's keys (they stop verifying at once); without it a\n"
    "             service that still has live keys is not deleted\n";

static const struct kw_cli_column service_columns[] = {
    {"ID", "id", 0, 0},
    {"NAME", "name", 40, 0},
    {"PREFIX", "keyPrefix", 0, 0},
    {"CREATED", "createdAt", 0, KW_CLI_COL_TIME},
};

struct svc_opts {
    const char *id;
    const char *name;
    const char *description;
    const char *prefix;
    long long limit;
    int all;
    int force;
};

/* Parses argv with the command's option table; want_id: the command takes one ID argument. */
static int parse(struct kw_cli_ctx *ctx, int argc, char **argv, const struct option *opts, int want_id,
                 struct svc_opts *o)
{
    int c, rc = KW_CLI_OK;

    o->limit = 50;
    while (rc == KW_CLI_OK && (c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o->name = optarg;
            break;
        case 'd':
            o->description = optarg;
            break;
        case 'p':
            o->prefix = optarg;
            break;
        case 'a':
            o->all = 1;
            break;
        case 'f':
            o->force = 1;
            break;
        case 'l':
            rc = kw_cli_parse_int(ctx, "--limit", optarg, 1, 200, &o->limit);
            break;
        default:
            rc = kw_cli_common_option(ctx, c, argc, argv);
            break;
        }
    }
    if (rc == KW_CLI_OK)
        rc = kw_cli_positional(ctx, argc, argv, want_id, &o->id);
    return rc;
}

/* {"name", "description", "keyPrefix"} from the options that were given. */
static int build_body(struct kw_cli_ctx *ctx, const struct svc_opts *o, json_t **out)
{
    json_t *body = json_object();
    int rc = KW_CLI_REFUSED;

    *out = NULL;
    if (!body) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    if ((o->name && (rc = kw_cli_set_string(ctx, body, "name", o->name)) != KW_CLI_OK) ||
        (o->description && (rc = kw_cli_set_string(ctx, body, "description", o->description)) != KW_CLI_OK) ||
        (o->prefix && (rc = kw_cli_set_string(ctx, body, "keyPrefix", o->prefix)) != KW_CLI_OK))
        goto out;
    *out = body;
    body = NULL;
    rc = KW_CLI_OK;
out:
    json_decref(body);
    return rc;
}

static void print_service(const struct kw_cli_ctx *ctx, const json_t *svc)
{
    if (ctx->json)
        kw_cli_print_json(svc);
    else
        kw_cli_print_object(svc, NULL);
}

static int svc_create(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"description", required_argument, NULL, 'd'},
        {"key-prefix", required_argument, NULL, 'p'},
        KW_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct svc_opts o = {0};
    json_t *body = NULL, *resp = NULL;
    int rc;

    if ((rc = parse(ctx, argc, argv, opts, 0, &o)) != KW_CLI_OK)
        goto out;
    if (!o.name) {
        rc = kw_cli_usage_error(ctx, "--name is required");
        goto out;
    }
    if ((rc = build_body(ctx, &o, &body)) != KW_CLI_OK ||
        (rc = kw_cli_call(ctx, "POST", "/api/v1/services", body, &resp)) != KW_CLI_OK)
        goto out;
    print_service(ctx, resp);
out:
    json_decref(body);
    json_decref(resp);
    return rc;
}

static int svc_list(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"limit", required_argument, NULL, 'l'},
        {"all", no_argument, NULL, 'a'},
        KW_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct svc_opts o = {0};
    json_t *list = NULL;
    char path[PATH_CAP];
    int rc;

    if ((rc = parse(ctx, argc, argv, opts, 0, &o)) != KW_CLI_OK)
        goto out;
    snprintf(path, sizeof(path), "/api/v1/services?limit=%lld", o.limit);
    if ((rc = kw_cli_list(ctx, path, o.all, &list)) != KW_CLI_OK)
        goto out;
    if (ctx->json) {
        kw_cli_print_json(list);
        goto out;
    }
    kw_cli_print_table(service_columns, sizeof(service_columns) / sizeof(service_columns[0]),
                       json_object_get(list, "items"));
    if (json_string_value(json_object_get(list, "nextCursor")))
        fprintf(stderr, "(more services: use --all)\n");
out:
    json_decref(list);
    return rc;
}

/* show / update / delete: one ID, then one request on /api/v1/services/{id}. */
static int svc_one(struct kw_cli_ctx *ctx, int argc, char **argv, const char *method,
                   const struct option *opts)
{
    struct svc_opts o = {0};
    json_t *body = NULL, *resp = NULL;
    char path[PATH_CAP];
    int rc;

    if ((rc = parse(ctx, argc, argv, opts, 1, &o)) != KW_CLI_OK ||
        (rc = kw_cli_path(ctx, path, sizeof(path), "/api/v1/services/", o.id,
                          o.force ? "?force=true" : "")) != KW_CLI_OK)
        goto out;
    if (strcmp(method, "PATCH") == 0) {
        if (!o.name && !o.description && !o.prefix) {
            rc = kw_cli_usage_error(ctx, "nothing to update: give --name, --description or --key-prefix");
            goto out;
        }
        if ((rc = build_body(ctx, &o, &body)) != KW_CLI_OK)
            goto out;
    }
    if ((rc = kw_cli_call(ctx, method, path, body, &resp)) != KW_CLI_OK)
        goto out;
    if (resp)
        print_service(ctx, resp);
    else if (!ctx->json)
        printf("deleted service %s\n", o.id);
out:
    json_decref(body);
    json_decref(resp);
    return rc;
}

static int svc_show(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {KW_CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};

    return svc_one(ctx, argc, argv, "GET", opts);
}

static int svc_update(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"description", required_argument, NULL, 'd'},
        {"key-prefix", required_argument, NULL, 'p'},
        KW_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };

    return svc_one(ctx, argc, argv, "PATCH", opts);
}

static int svc_delete(struct kw_cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'},
        KW_CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };

    ctx->hint_code = "SERVICE_HAS_LIVE_KEYS";
    ctx->hint = "the service still has live keys: revoke them first, or run again with --force to delete "
                "the service and its keys (they stop verifying at once)";
    return svc_one(ctx, argc, argv, "DELETE", opts);
}

static const struct kw_cli_command commands[] = {
    {"create", create_usage, svc_create}, {"list", list_usage, svc_list},
    {"show", show_usage, svc_show},       {"update", update_usage, svc_update},
    {"delete", delete_usage, svc_delete},
};

int kw_cli_services(int argc, char **argv)
{
    return kw_cli_dispatch("services", group_usage, commands, sizeof(commands) / sizeof(commands[0]), argc,
                           argv);
}
