/* config.c - every setting in one table; see config.h for the precedence rules. */
#include "core/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum setting_type { T_STR, T_INT, T_INT64, T_BOOL }; /* T_BOOL: true|false (or 1|0), stored as int */

struct setting {
    const char *name; /* flag --name, env KEYWARD_NAME (upper, '-' -> '_'), file key */
    enum setting_type type;
    size_t offset;
    size_t size; /* strings: buffer size */
    long long min, max;
    const char *def;
    int secret; /* env or file only; never printed */
    int (*check)(const char *value, int from_argv); /* extra validation for strings, 0 = ok */
    const char *rule;                /* said when check fails */
    const char *help;
};

/* HOST:PORT where HOST is an IPv4 address, "localhost" or a bracketed IPv6 address, PORT 1..65535. */
static int check_listen(const char *v, int from_argv)
{
    const char *colon = strrchr(v, ':');
    char host[INET6_ADDRSTRLEN + 2], *end;
    unsigned char addr[sizeof(struct in6_addr)];
    size_t hlen;
    long port;

    if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof(host))
        return -1;
    hlen = (size_t)(colon - v);
    memcpy(host, v, hlen);
    host[hlen] = '\0';
    if (host[0] == '[') {
        if (hlen < 3 || host[hlen - 1] != ']')
            return -1;
        host[hlen - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, addr) != 1)
            return -1;
    } else if (strcmp(host, "localhost") != 0 && inet_pton(AF_INET, host, addr) != 1) {
        return -1;
    }
    if (colon[1] < '0' || colon[1] > '9')
        return -1;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    return (errno != 0 || *end != '\0' || port < 1 || port > 65535) ? -1 : 0;
}

static int check_level(const char *v, int from_argv)
{
    return strcmp(v, "debug") && strcmp(v, "info") && strcmp(v, "warn") && strcmp(v, "error") ? -1 : 0;
}

static int check_root(const char *v, int from_argv)
{
    size_t n = strlen(v);
    return n != 0 && (n < 32 || n > 255) ? -1 : 0;
}

static int check_cidrs(const char *v, int from_argv)
{
    struct kw_netaddr_set set;
    return kw_netaddr_set_parse(v, &set) == KW_OK ? 0 : -1;
}

static int check_nonempty(const char *v, int from_argv)
{
    return v[0] == '\0' ? -1 : 0;
}

/* "" or an absolute http(s) URL with no query or fragment (RFC 8414 section 2). */
static int check_issuer(const char *v, int from_argv)
{
    if (v[0] == '\0')
        return 0;
    if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
        return -1;
    return strpbrk(v, "?# \t") != NULL || strlen(v) < 9 ? -1 : 0;
}

/* 1 if a connection URI carries a password: user:PASSWORD@ before the host list, or a password=
 * parameter. */
static int uri_has_password(const char *v)
{
    const char *auth = strstr(v, "://"), *end, *at = NULL, *q;

    if (auth == NULL)
        return 0;
    auth += 3;
    end = auth + strcspn(auth, "/?");
    for (q = auth; q < end; q++)
        if (*q == '@')
            at = q;
    if (at != NULL && memchr(auth, ':', (size_t)(at - auth)) != NULL)
        return 1;
    for (q = strstr(v, "password="); q != NULL; q = strstr(q + 1, "password="))
        if (q[-1] == '?' || q[-1] == '&')
            return 1;
    return 0;
}

/* "sqlite" or a postgresql:// (postgres://) URI; from the command line, a URI without a password
 * (argv is visible in ps: libpq reads it from PGPASSWORD, PGPASSFILE or ~/.pgpass). */
static int check_store(const char *v, int from_argv)
{
    if (strcmp(v, "sqlite") != 0 && strncmp(v, "postgresql://", 13) != 0 && strncmp(v, "postgres://", 11) != 0)
        return -1;
    return from_argv && uri_has_password(v) ? -1 : 0;
}

#define S(field) offsetof(struct kw_config, field), sizeof(((struct kw_config *)0)->field)
static const struct setting settings[] = {
    {"listen", T_STR, S(listen), 0, 0, "127.0.0.1:8080", 0, check_listen,
     "must be HOST:PORT (IPv4, localhost or [IPv6]) with PORT in 1..65535",
     "address to listen on (IPv4:PORT, localhost:PORT, [IPv6]:PORT)"},
    {"data-dir", T_STR, S(data_dir), 0, 0, "./var", 0, check_nonempty, "must not be empty",
     "directory for the SQLite database"},
    {"store", T_STR, S(store), 0, 0, "sqlite", 0, check_store,
     "must be sqlite or a postgresql:// URI, with no password on the command line (visible in ps): "
     "use ~/.pgpass, PGPASSFILE or PGPASSWORD (or KEYWARD_STORE)",
     "storage: sqlite (in data-dir) or postgresql://USER@HOST:PORT/DB (libpq URI; password from .pgpass/PGPASSFILE/PGPASSWORD)"},
    {"store-pool", T_INT, S(store_pool), 1, 64, "4", 0, NULL, NULL,
     "PostgreSQL connections per node (admin requests wait for a free one)"},
    {"store-statement-timeout-ms", T_INT, S(store_statement_timeout_ms), 100, 600000, "5000", 0, NULL, NULL,
     "PostgreSQL statement_timeout (ms); also the longest wait for a pooled connection"},
    {"store-max-staleness-s", T_INT, S(store_max_staleness_s), 1, 86400, "30", 0, NULL, NULL,
     "shared store: seconds a node may go without reading other nodes' changes before /readyz answers 503 "
     "(it keeps verifying from its cache meanwhile)"},
    {"threads", T_INT, S(threads), 0, 64, "0", 0, NULL, NULL, "event-loop threads; 0 = one per core"},
    {"workers", T_INT, S(workers), 1, 256, "4", 0, NULL, NULL,
     "threads that run requests which may wait on the store, off the event loops"},
    {"max-body-bytes", T_INT64, S(max_body_bytes), 1024, 16777216, "65536", 0, NULL, NULL,
     "largest request body accepted (413 above)"},
    {"picture-max-bytes", T_INT64, S(picture_max_bytes), 1024, 67108864, "5242880", 0, NULL, NULL,
     "largest candidate picture accepted (PUT .../pictures/{name}; 413 above)"},
    {"max-document-bytes", T_INT64, S(max_document_bytes), 1024, 1073741824, "52428800", 0, NULL, NULL,
     "largest request body POST /api/v1/ingest accepts (the whole multipart body; 413 DOCUMENT_TOO_LARGE above)"},
    {"max-header-bytes", T_INT64, S(max_header_bytes), 1024, 65536, "8192", 0, NULL, NULL,
     "largest total size of request headers (431 above)"},
    {"idle-timeout", T_INT, S(idle_timeout_s), 1, 3600, "10", 0, NULL, NULL,
     "seconds before an idle connection is closed"},
    {"shutdown-timeout", T_INT, S(shutdown_timeout_s), 0, 300, "5", 0, NULL, NULL,
     "seconds a stop waits for open requests before closing connections"},
    {"log-level", T_STR, S(log_level), 0, 0, "info", 0, check_level, "must be debug, info, warn or error",
     "minimum level logged: debug, info, warn or error"},
    {"flush-interval-ms", T_INT, S(flush_interval_ms), 10, 1000, "500", 0, NULL, NULL,
     "write-behind period for last-used, usage and audit (ms)"},
    {"argon2-memory-kib", T_INT, S(argon2_memory_kib), 1024, 4194304, "19456", 0, NULL, NULL,
     "Argon2id memory cost for passwords (KiB)"},
    {"argon2-iterations", T_INT, S(argon2_iterations), 1, 20, "2", 0, NULL, NULL, "Argon2id time cost"},
    {"session-idle", T_INT, S(session_idle_s), 60, 86400, "1800", 0, NULL, NULL,
     "seconds of inactivity before a console session ends"},
    {"session-max", T_INT, S(session_max_s), 300, 604800, "43200", 0, NULL, NULL,
     "seconds after login when a console session ends regardless"},
    {"root-token", T_STR, S(root_token), 0, 0, "", 1, check_root, "must be 32 to 255 characters",
     "root token used at first start, 32..255 chars (secret: environment or file only)"},
    {"trusted-proxies", T_STR, S(trusted_proxies), 0, 0, "", 0, check_cidrs,
     "must be comma-separated CIDRs (IPv4 or IPv6, host bits zero), at most 32",
     "proxies (comma-separated CIDRs) whose X-Forwarded-For names the client; empty = ignore X-Forwarded-For"},
    {"master-key-file", T_STR, S(master_key_file), 0, 0, "", 0, NULL, NULL,
     "file holding the master key (32 raw bytes, mode 0600, created at first start); empty = DATA_DIR/master.key; "
     "KEYWARD_MASTER_KEY (base64) wins. Every node needs the same key"},
    {"issuer", T_STR, S(issuer), 0, 0, "", 0, check_issuer, "must be an http:// or https:// URL without a query or fragment",
     "OAuth issuer (JWT iss, RFC 8414); empty = http://LISTEN"},
    {"access-token-ttl", T_INT, S(access_token_ttl_s), 60, 3600, "300", 0, NULL, NULL,
     "seconds an issued JWT access token is valid"},
    {"webhook-allow-private", T_BOOL, S(webhook_allow_private), 0, 1, "false", 0, NULL, NULL,
     "let webhooks reach loopback, private, link-local and metadata addresses (tests, private networks); "
     "false refuses them at delivery (the address actually connected) and literal IPs at create"},
};
#undef S
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static void say(char *err, size_t cap, const char *where, const struct setting *s, const char *rule)
{
    if (where[0] != '\0')
        snprintf(err, cap, "%s: %s %s", where, s->name, rule);
    else
        snprintf(err, cap, "%s %s", s->name, rule);
}

/* Stores value into cfg for s; KW_ERR_INVALID with a message naming the setting and its bounds. */
static enum kw_err set_value(struct kw_config *cfg, const struct setting *s, const char *value, const char *where,
                             int from_argv, char *err, size_t errcap)
{
    char *dst = (char *)cfg + s->offset, *end, rule[96];
    long long v;

    if (s->type == T_STR) {
        if (strlen(value) >= s->size) {
            snprintf(rule, sizeof(rule), "must be shorter than %zu bytes", s->size);
            say(err, errcap, where, s, rule);
            return KW_ERR_INVALID;
        }
        if (s->check != NULL && s->check(value, from_argv) != 0) {
            say(err, errcap, where, s, s->rule);
            return KW_ERR_INVALID;
        }
        memcpy(dst, value, strlen(value) + 1);
        return KW_OK;
    }
    if (s->type == T_BOOL) {
        int bv = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
        if (!bv && strcmp(value, "false") != 0 && strcmp(value, "0") != 0) {
            say(err, errcap, where, s, "must be true or false");
            return KW_ERR_INVALID;
        }
        memcpy(dst, &bv, sizeof(bv));
        return KW_OK;
    }
    errno = 0;
    v = strtoll(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < s->min || v > s->max) {
        snprintf(rule, sizeof(rule), "must be an integer in %lld..%lld", s->min, s->max);
        say(err, errcap, where, s, rule);
        return KW_ERR_INVALID;
    }
    if (s->type == T_INT) {
        int iv = (int)v;
        memcpy(dst, &iv, sizeof(iv));
    } else {
        int64_t lv = (int64_t)v;
        memcpy(dst, &lv, sizeof(lv));
    }
    return KW_OK;
}

static const struct setting *find(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++) {
        if (strlen(settings[i].name) == len && strncmp(settings[i].name, name, len) == 0)
            return &settings[i];
    }
    return NULL;
}

void kw_config_defaults(struct kw_config *cfg)
{
    char err[256]; /* defaults always pass; the buffer is only for the signature */
    size_t i;

    memset(cfg, 0, sizeof(*cfg));
    for (i = 0; i < NSETTINGS; i++)
        set_value(cfg, &settings[i], settings[i].def, "", 0, err, sizeof(err));
}

static char *trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static enum kw_err load_file(struct kw_config *cfg, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    char line[1024], where[600];
    enum kw_err rc = KW_OK;
    int lineno = 0;

    if (f == NULL) {
        snprintf(err, errcap, "cannot read config file %s: %s", path, strerror(errno));
        return KW_ERR_INVALID;
    }
    while (rc == KW_OK && fgets(line, sizeof(line), f) != NULL) {
        char *l, *eq;
        const struct setting *s;
        lineno++;
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errcap, "%s: line longer than %zu bytes", where, sizeof(line) - 2);
            rc = KW_ERR_INVALID;
            break;
        }
        l = trim(line);
        if (*l == '\0' || *l == '#')
            continue;
        eq = strchr(l, '=');
        if (eq == NULL) {
            snprintf(err, errcap, "%s: expected \"name = value\"", where);
            rc = KW_ERR_INVALID;
            break;
        }
        *eq = '\0';
        s = find(trim(l), strlen(trim(l)));
        if (s == NULL) {
            snprintf(err, errcap, "%s: unknown setting \"%.64s\"", where, trim(l));
            rc = KW_ERR_INVALID;
            break;
        }
        rc = set_value(cfg, s, trim(eq + 1), where, 0, err, errcap);
    }
    fclose(f);
    return rc;
}

static enum kw_err load_env(struct kw_config *cfg, char *err, size_t errcap)
{
    char var[64], where[80];
    size_t i, j;

    for (i = 0; i < NSETTINGS; i++) {
        const char *v;
        j = (size_t)snprintf(var, sizeof(var), "KEYWARD_");
        for (const char *p = settings[i].name; *p && j + 1 < sizeof(var); p++)
            var[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        var[j] = '\0';
        v = getenv(var);
        if (v == NULL)
            continue;
        snprintf(where, sizeof(where), "%s", var);
        if (set_value(cfg, &settings[i], v, where, 0, err, errcap) != KW_OK)
            return KW_ERR_INVALID;
    }
    return KW_OK;
}

static enum kw_err load_flags(struct kw_config *cfg, int argc, char **argv, char *err, size_t errcap)
{
    int i;

    for (i = 0; i < argc; i++) {
        const char *a = argv[i], *eq, *value;
        const struct setting *s;
        size_t nlen;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errcap, "unexpected argument \"%.64s\" (settings are --name value)", a);
            return KW_ERR_INVALID;
        }
        a += 2;
        eq = strchr(a, '=');
        nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen == 6 && strncmp(a, "config", 6) == 0) { /* read by the caller */
            i += eq ? 0 : 1;
            continue;
        }
        s = find(a, nlen);
        if (s == NULL) {
            snprintf(err, errcap, "unknown flag --%.*s (keyward serve --help lists them)", (int)(nlen > 64 ? 64 : nlen), a);
            return KW_ERR_INVALID;
        }
        if (s->secret) {
            snprintf(err, errcap, "--%s is a secret and is not taken on the command line (visible in ps): "
                                  "set KEYWARD_ROOT_TOKEN instead", s->name);
            return KW_ERR_INVALID;
        }
        if (eq == NULL && i + 1 >= argc) {
            snprintf(err, errcap, "--%s needs a value", s->name);
            return KW_ERR_INVALID;
        }
        value = eq ? eq + 1 : argv[++i];
        if (set_value(cfg, s, value, "", 1, err, errcap) != KW_OK)
            return KW_ERR_INVALID;
    }
    return KW_OK;
}

enum kw_err kw_config_load(struct kw_config *cfg, const char *file, int argc, char **argv, char *err,
                           size_t errcap)
{
    enum kw_err rc = KW_OK;

    err[0] = '\0';
    if (file != NULL)
        rc = load_file(cfg, file, err, errcap);
    if (rc == KW_OK)
        rc = load_env(cfg, err, errcap);
    if (rc == KW_OK)
        rc = load_flags(cfg, argc, argv, err, errcap);
    if (rc == KW_OK) /* validated by check_cidrs when set, so this cannot fail */
        rc = kw_netaddr_set_parse(cfg->trusted_proxies, &cfg->trusted_proxy_set);
    return rc;
}

void kw_config_help(FILE *out)
{
    size_t i;

    fprintf(out, "usage: keyward serve [--name value]...\n\n"
                 "Precedence: defaults < --config FILE (name = value) < KEYWARD_* environment < flags.\n\n");
    fprintf(out, "  %-20s %-28s %-14s %s\n", "FLAG", "ENVIRONMENT", "DEFAULT", "MEANING");
    for (i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        char flag[40], env[48], bounds[48] = "";
        size_t j;
        snprintf(flag, sizeof(flag), "--%s", s->name);
        j = (size_t)snprintf(env, sizeof(env), "KEYWARD_");
        for (const char *p = s->name; *p && j + 1 < sizeof(env); p++)
            env[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
        env[j] = '\0';
        if (s->type == T_INT || s->type == T_INT64)
            snprintf(bounds, sizeof(bounds), " [%lld..%lld]", s->min, s->max);
        fprintf(out, "  %-20s %-28s %-14s %s%s\n", s->secret ? "(env/file only)" : flag, env,
                s->secret ? "(secret)" : (s->def[0] ? s->def : "\"\""), s->help, bounds);
    }
    fprintf(out, "  %-20s %-28s %-14s %s\n", "--config", "KEYWARD_CONFIG", "", "config file to read first");
}
