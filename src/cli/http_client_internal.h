/* http_client_internal.h - private helpers shared by the admin CLI commands (services.c, keys.c):
 * one libcurl request helper that speaks JSON to a running server, the problem+json error line,
 * and the output helpers (pretty JSON, aligned tables, label: value listings).
 *
 * Functions here return process exit codes (enum kw_cli_exit), because that is what the CLI's
 * callers want: every failure has already been printed to stderr when a non-zero code comes back.
 * The root token lives only in struct kw_cli_http and is wiped by kw_cli_http_cleanup(). */
#ifndef KW_CLI_HTTP_CLIENT_INTERNAL_H
#define KW_CLI_HTTP_CLIENT_INTERNAL_H

#include <getopt.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

enum kw_cli_exit {
    KW_CLI_OK = 0,          /* done */
    KW_CLI_REFUSED = 1,     /* the server answered with an error (or nonsense) */
    KW_CLI_USAGE = 2,       /* bad command line, or KEYWARD_TOKEN missing */
    KW_CLI_UNREACHABLE = 3, /* no HTTP answer: connection refused, timeout, DNS, TLS ... */
    KW_CLI_HELP = 100,      /* --help was printed: stop parsing, exit 0 (kw_cli_dispatch maps it) */
};

#define KW_CLI_DEFAULT_ADDR "http://127.0.0.1:8080"
#define KW_CLI_TIMEOUT_S 10L
#define KW_CLI_MAX_RESPONSE (8u * 1024u * 1024u) /* bytes of response body we accept */
#define KW_CLI_MAX_ID 128                        /* bytes of an id taken from argv */

struct kw_cli_http {
    CURL *curl;
    char *base; /* KEYWARD_ADDR without trailing '/'; owned */
    char *auth; /* "Authorization: Bearer <token>"; owned, wiped on cleanup */
    int global_init;
};

/* One invocation of one command. group is "services" / "keys", cmd the command word. */
struct kw_cli_ctx {
    const char *group;
    const char *cmd;
    const char *usage; /* the command's --help text */
    int json;          /* --json: print the server's body verbatim (pretty) */
    /* When the server's problem has code hint_code, the error line says hint instead of the API's
     * detail (which names query parameters and fields, not this command's options). May be NULL. */
    const char *hint_code;
    const char *hint;
    struct kw_cli_http http;
};

struct kw_cli_command {
    const char *name;
    const char *usage; /* full --help text of this command */
    int (*run)(struct kw_cli_ctx *ctx, int argc, char **argv);
};

/* Runs "keyward <group> <command> ...": argv[0] is the group word. Handles --help, a --json given
 * before the command word, and unknown commands; then calls cmd->run with argv[0] = command word. */
int kw_cli_dispatch(const char *group, const char *group_usage, const struct kw_cli_command *cmds,
                    size_t ncmds, int argc, char **argv);

/* Every command's option table ends with these, then {NULL, 0, NULL, 0}; its optstring is ":h". */
// clang-format off
#define KW_CLI_COMMON_OPTIONS {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}
// clang-format on

/* Prints "keyward <group> <cmd>: <reason>" and a --help hint to stderr; returns KW_CLI_USAGE. */
int kw_cli_usage_error(const struct kw_cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Handles getopt_long's answer c when the command did not: 'j' (--json) -> KW_CLI_OK, 'h' -> prints
 * the usage, KW_CLI_HELP; ':' / '?' (missing value, unknown option) -> usage error. */
int kw_cli_common_option(struct kw_cli_ctx *ctx, int c, int argc, char **argv);
/* Parses a decimal integer option value in [min, max]; usage error naming opt otherwise. */
int kw_cli_parse_int(const struct kw_cli_ctx *ctx, const char *opt, const char *s, long long min,
                     long long max, long long *out);
/* After getopt: takes exactly want (0 or 1) positional arguments from argv[optind..] into *out
 * (an id); usage error otherwise. */
int kw_cli_positional(const struct kw_cli_ctx *ctx, int argc, char **argv, int want, const char **out);
/* json_object_set_new(obj, key, json_string(val)), with a usage error when val is not UTF-8. */
int kw_cli_set_string(const struct kw_cli_ctx *ctx, json_t *obj, const char *key, const char *val);
/* out = before + url-escaped id + after (e.g. "/api/v1/keys/", id, "/revoke"); usage error when
 * it does not fit. */
int kw_cli_path(const struct kw_cli_ctx *ctx, char *out, size_t cap, const char *before, const char *id,
                const char *after);

/* Reads KEYWARD_ADDR and KEYWARD_TOKEN and prepares libcurl. KW_CLI_USAGE when the token is missing. */
int kw_cli_http_init(struct kw_cli_http *h);
void kw_cli_http_cleanup(struct kw_cli_http *h);
/* Sends method path (path starts with '/', query included) with an optional JSON body (not owned).
 * On 2xx: KW_CLI_OK and *out_body = parsed body, or NULL when the body is empty (204); caller frees.
 * Otherwise *out_body = NULL and: KW_CLI_UNREACHABLE ("cannot reach keyward at ..."), or
 * KW_CLI_REFUSED after printing "error: <detail> (<code>)". */
int kw_cli_call(struct kw_cli_ctx *ctx, const char *method, const char *path, const json_t *body,
                json_t **out_body);

/* Output, all to stdout. Text from the server is sanitised: control characters are printed as
 * escapes (\x1b, \u009b, \n; a backslash as \\), so a stored value cannot drive the terminal;
 * --json output is JSON with DEL and C1 controls as \u escapes too. */
void kw_cli_print_json(const json_t *v);
/* One "label  value" line per member of obj, skipping the member named skip (may be NULL). */
void kw_cli_print_object(const json_t *obj, const char *skip);

#define KW_CLI_COL_TIME 1u /* render "2026-11-23T05:49:45.123Z" as "2026-11-23 05:49:45" */

struct kw_cli_column {
    const char *header;
    const char *field; /* member of each item */
    size_t max_width;  /* characters; 0 = no cap */
    unsigned flags;
};

/* Aligned table of the objects in items (a JSON array); missing/null cells show "-". */
void kw_cli_print_table(const struct kw_cli_column *cols, size_t ncols, const json_t *items);
/* GETs a list path (which already has its '?') page by page; with all set, follows nextCursor.
 * *out = {"items":[...], "nextCursor":...}; with all set nextCursor is null. */
int kw_cli_list(struct kw_cli_ctx *ctx, const char *path, int all, json_t **out);

#endif
