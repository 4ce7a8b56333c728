/* http_client.c - the admin CLI's plumbing: command dispatch and option helpers, one libcurl
 * request helper speaking JSON to the server, problem+json error lines, and output (pretty JSON,
 * aligned tables, label/value listings). See http_client_internal.h. */
#include "cli/http_client_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CELL_CAP 1024 /* bytes of one rendered table cell or value */
#define MAX_COLS 16
#define MAX_PAGES 100000 /* --all stops after this many pages, whatever the server says */

struct resp_buf {
    char *data;
    size_t len;
    size_t cap;
    int too_big;
};

/* ---- dispatch and options ---------------------------------------------------------------- */

static int is_help(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0 || strcmp(s, "help") == 0;
}

static const struct kw_cli_command *find_command(const struct kw_cli_command *cmds, size_t n,
                                                 const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cmds[i].name, name) == 0)
            return &cmds[i];
    return NULL;
}

int kw_cli_dispatch(const char *group, const char *group_usage, const struct kw_cli_command *cmds,
                    size_t ncmds, int argc, char **argv)
{
    struct kw_cli_ctx ctx = {.group = group};
    const struct kw_cli_command *cmd;
    int i = 1, rc;

    while (i < argc && strcmp(argv[i], "--json") == 0) {
        ctx.json = 1;
        i++;
    }
    if (i >= argc) {
        fputs(group_usage, stderr);
        return KW_CLI_USAGE;
    }
    if (is_help(argv[i])) {
        fputs(group_usage, stdout);
        return KW_CLI_OK;
    }
    cmd = find_command(cmds, ncmds, argv[i]);
    if (!cmd) {
        fprintf(stderr, "keyward %s: unknown command '%s' (try 'keyward %s --help')\n", group, argv[i],
                group);
        return KW_CLI_USAGE;
    }
    ctx.cmd = cmd->name;
    ctx.usage = cmd->usage;
    optind = 0; /* GNU: full re-initialisation of getopt */
    opterr = 0;
    rc = cmd->run(&ctx, argc - i, argv + i);
    kw_cli_http_cleanup(&ctx.http);
    if (rc == KW_CLI_HELP)
        rc = KW_CLI_OK;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "error: cannot write to standard output: %s\n", strerror(errno));
        if (rc == KW_CLI_OK)
            rc = KW_CLI_REFUSED;
    }
    return rc;
}

int kw_cli_usage_error(const struct kw_cli_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "keyward %s %s: ", ctx->group, ctx->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try 'keyward %s %s --help')\n", ctx->group, ctx->cmd);
    return KW_CLI_USAGE;
}

int kw_cli_common_option(struct kw_cli_ctx *ctx, int c, int argc, char **argv)
{
    const char *arg = (optind >= 1 && optind - 1 < argc) ? argv[optind - 1] : "";
    int is_long = strncmp(arg, "--", 2) == 0;

    switch (c) {
    case 'j':
        ctx->json = 1;
        return KW_CLI_OK;
    case 'h':
        fputs(ctx->usage, stdout);
        return KW_CLI_HELP;
    case ':':
        if (is_long)
            return kw_cli_usage_error(ctx, "option '%s' needs a value", arg);
        return kw_cli_usage_error(ctx, "option '-%c' needs a value", optopt);
    default:
        if (is_long || optopt == 0)
            return kw_cli_usage_error(ctx, "unknown option '%s'", arg);
        return kw_cli_usage_error(ctx, "unknown option '-%c'", optopt);
    }
}

int kw_cli_parse_int(const struct kw_cli_ctx *ctx, const char *opt, const char *s, long long min,
                     long long max, long long *out)
{
    char *end = NULL;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (s[0] == '\0' || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) || *end != '\0' || errno != 0 ||
        v < min || v > max)
        return kw_cli_usage_error(ctx, "%s must be a whole number from %lld to %lld, not '%s'", opt, min, max,
                                  s);
    *out = v;
    return KW_CLI_OK;
}

int kw_cli_positional(const struct kw_cli_ctx *ctx, int argc, char **argv, int want, const char **out)
{
    int have = argc - optind;

    if (have > want)
        return kw_cli_usage_error(ctx, "unexpected argument '%s'", argv[optind + want]);
    if (have < want)
        return kw_cli_usage_error(ctx, "missing ID");
    if (want == 1 && out) {
        if (argv[optind][0] == '\0')
            return kw_cli_usage_error(ctx, "ID must not be empty");
        if (strlen(argv[optind]) > KW_CLI_MAX_ID)
            return kw_cli_usage_error(ctx, "ID is longer than %d bytes", KW_CLI_MAX_ID);
        *out = argv[optind];
    }
    return KW_CLI_OK;
}

int kw_cli_set_string(const struct kw_cli_ctx *ctx, json_t *obj, const char *key, const char *val)
{
    json_t *s = json_string(val);

    if (!s)
        return kw_cli_usage_error(ctx, "the value for %s is not valid UTF-8", key);
    if (json_object_set_new(obj, key, s) != 0) {
        fprintf(stderr, "error: out of memory\n");
        return KW_CLI_REFUSED;
    }
    return KW_CLI_OK;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. -1 when out is too small. */
static int url_escape(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (n + (plain ? 1 : 3) >= cap)
            return -1;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return 0;
}

int kw_cli_path(const struct kw_cli_ctx *ctx, char *out, size_t cap, const char *before, const char *id,
                const char *after)
{
    char esc[3 * KW_CLI_MAX_ID + 1];
    int n;

    if (url_escape(id, esc, sizeof(esc)) != 0)
        return kw_cli_usage_error(ctx, "ID is too long");
    n = snprintf(out, cap, "%s%s%s", before, esc, after);
    if (n < 0 || (size_t)n >= cap)
        return kw_cli_usage_error(ctx, "ID is too long");
    return KW_CLI_OK;
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

int kw_cli_http_init(struct kw_cli_http *h)
{
    const char *token = getenv("KEYWARD_TOKEN");
    const char *addr = getenv("KEYWARD_ADDR");
    static const char prefix[] = "Authorization: Bearer ";
    size_t n;

    if (!token || token[0] == '\0') {
        fprintf(stderr, "error: KEYWARD_TOKEN is not set: export the root token in the environment "
                        "(it is never taken from the command line)\n");
        return KW_CLI_USAGE;
    }
    if (strpbrk(token, "\r\n")) {
        fprintf(stderr, "error: KEYWARD_TOKEN contains a line break\n");
        return KW_CLI_USAGE;
    }
    if (!addr || addr[0] == '\0')
        addr = KW_CLI_DEFAULT_ADDR;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "error: cannot initialise libcurl\n");
        return KW_CLI_REFUSED;
    }
    h->global_init = 1;
    h->base = strdup(addr);
    n = sizeof(prefix) + strlen(token);
    h->auth = malloc(n);
    h->curl = curl_easy_init();
    if (!h->base || !h->auth || !h->curl) {
        fprintf(stderr, "error: out of memory\n");
        return KW_CLI_REFUSED;
    }
    snprintf(h->auth, n, "%s%s", prefix, token);
    n = strlen(h->base);
    while (n > 0 && h->base[n - 1] == '/')
        h->base[--n] = '\0';
    return KW_CLI_OK;
}

void kw_cli_http_cleanup(struct kw_cli_http *h)
{
    if (h->auth) {
        explicit_bzero(h->auth, strlen(h->auth));
        free(h->auth);
    }
    free(h->base);
    if (h->curl)
        curl_easy_cleanup(h->curl);
    if (h->global_init)
        curl_global_cleanup();
    memset(h, 0, sizeof(*h));
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct resp_buf *b = userdata;
    size_t n = size * nmemb;

    if (n > KW_CLI_MAX_RESPONSE - b->len) {
        b->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->data, cap);
        if (!p)
            return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static struct curl_slist *request_headers(const struct kw_cli_http *h, int has_body)
{
    struct curl_slist *l = NULL, *t;
    const char *want[] = {h->auth, "Accept: application/json, application/problem+json",
                          "Expect:", has_body ? "Content-Type: application/json" : NULL};

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!want[i])
            continue;
        t = curl_slist_append(l, want[i]);
        if (!t) {
            curl_slist_free_all(l);
            return NULL;
        }
        l = t;
    }
    return l;
}

static void set_request_options(CURL *c, const char *method, const char *url, const char *payload,
                                struct curl_slist *hdrs, struct resp_buf *b, char *errbuf)
{
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, KW_CLI_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, KW_CLI_TIMEOUT_S);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt(c, CURLOPT_USERAGENT, "keyward-cli");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    if (payload || strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload ? payload : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, payload ? (long)strlen(payload) : 0L);
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

/* One round trip. KW_CLI_OK when any HTTP answer came back (*status set, body in b). */
static int perform(struct kw_cli_http *h, const char *method, const char *path, const char *payload,
                   struct resp_buf *b, long *status)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = request_headers(h, payload != NULL);
    size_t n = strlen(h->base) + strlen(path) + 1;
    char *url = malloc(n);
    CURLcode cc;
    int rc = KW_CLI_REFUSED;

    if (!hdrs || !url) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    snprintf(url, n, "%s%s", h->base, path);
    set_request_options(h->curl, method, url, payload, hdrs, b, errbuf);
    cc = curl_easy_perform(h->curl);
    if (cc != CURLE_OK && b->too_big) {
        fprintf(stderr, "error: the answer from keyward at %s is larger than %u bytes\n", h->base,
                KW_CLI_MAX_RESPONSE);
        goto out;
    }
    if (cc != CURLE_OK) {
        fprintf(stderr, "cannot reach keyward at %s: %s\n", h->base,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = KW_CLI_UNREACHABLE;
        goto out;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
    rc = KW_CLI_OK;
out:
    curl_slist_free_all(hdrs);
    free(url);
    return rc;
}

/* ---- text from the server ------------------------------------------------------------------- */

/* The escape for one character starting at p (k bytes) that must not reach a terminal as is: C0
 * controls and DEL as \n \r \t or \xHH, C1 controls (U+0080..U+009F) as \u00HH, and '\' as "\\" so an
 * escape is never ambiguous. NULL for a character that prints as itself. */
static const char *escape_of(const unsigned char *p, size_t k, char esc[8])
{
    static const char hex[] = "0123456789abcdef";
    unsigned c = *p;

    if (c == '\\')
        return "\\\\";
    if (c == '\n' || c == '\r' || c == '\t')
        return c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
    if (c < 0x20 || c == 0x7f) {
        memcpy(esc, "\\x", 2);
    } else if (c == 0xc2 && k == 2 && p[1] >= 0x80 && p[1] <= 0x9f) {
        memcpy(esc, "\\u00", 4);
        c = p[1];
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        esc[6] = '\0';
        return esc;
    } else {
        return NULL;
    }
    esc[2] = hex[c >> 4];
    esc[3] = hex[c & 15];
    esc[4] = '\0';
    return esc;
}

/* Copies s into out (cap > 0 bytes) with control characters escaped (escape_of), so a value stored
 * through the API, or before the API refused them, cannot drive the terminal. Cuts at a character. */
static void clean_text(const char *s, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;

    while (*p) {
        size_t len = (*p >= 0xf0) ? 4 : (*p >= 0xe0) ? 3 : (*p >= 0xc0) ? 2 : 1;
        const char *esc;
        char buf[8];
        size_t k, m;

        for (k = 1; k < len && p[k]; k++)
            ;
        esc = escape_of(p, k, buf);
        m = esc ? strlen(esc) : k;
        if (n + m >= cap)
            break;
        memcpy(out + n, esc ? esc : (const char *)p, m);
        n += m;
        p += k;
    }
    out[n] = '\0';
}

/* Characters (code points) in a UTF-8 string: what a terminal column count roughly is. */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

/* Cuts s to at most max characters, the last three of them "..." when something was cut. */
static void truncate_text(char *s, size_t max)
{
    size_t w = 0, i;

    if (max < 4 || text_width(s) <= max)
        return;
    for (i = 0; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && w++ == max - 3)
            break;
    }
    memcpy(s + i, "...", 4);
}

static void print_problem(const struct kw_cli_ctx *ctx, long status, const json_t *p)
{
    const char *detail = json_string_value(json_object_get(p, "detail"));
    const char *code = json_string_value(json_object_get(p, "code"));
    char d[CELL_CAP], c[128];

    if (code && ctx->hint_code && ctx->hint && strcmp(code, ctx->hint_code) == 0)
        detail = ctx->hint;
    if (!detail || !detail[0])
        detail = json_string_value(json_object_get(p, "title"));
    if (!detail || !detail[0]) {
        fprintf(stderr, "error: keyward answered HTTP %ld\n", status);
        return;
    }
    clean_text(detail, d, sizeof(d));
    if (code) {
        clean_text(code, c, sizeof(c));
        fprintf(stderr, "error: %s (%s)\n", d, c);
    } else {
        fprintf(stderr, "error: %s (HTTP %ld)\n", d, status);
    }
}

int kw_cli_call(struct kw_cli_ctx *ctx, const char *method, const char *path, const json_t *body,
                json_t **out_body)
{
    struct resp_buf b = {0};
    json_t *parsed = NULL;
    char *payload = NULL;
    long status = 0;
    int rc;

    *out_body = NULL;
    if (!ctx->http.curl && (rc = kw_cli_http_init(&ctx->http)) != KW_CLI_OK)
        goto out;
    rc = KW_CLI_REFUSED;
    if (body && !(payload = json_dumps(body, JSON_COMPACT))) {
        fprintf(stderr, "error: out of memory\n");
        goto out;
    }
    if ((rc = perform(&ctx->http, method, path, payload, &b, &status)) != KW_CLI_OK)
        goto out;
    if (b.len > 0)
        parsed = json_loadb(b.data, b.len, 0, NULL);
    rc = KW_CLI_REFUSED;
    if (status < 200 || status > 299) {
        print_problem(ctx, status, parsed);
        goto out;
    }
    if (b.len > 0 && !parsed) {
        fprintf(stderr, "error: keyward answered HTTP %ld with a body that is not JSON\n", status);
        goto out;
    }
    *out_body = parsed;
    parsed = NULL;
    rc = KW_CLI_OK;
out:
    json_decref(parsed);
    free(payload);
    free(b.data);
    return rc;
}

/* ---- output -------------------------------------------------------------------------------- */

/* jansson escapes C0 controls but writes DEL and C1 controls (U+0080..U+009F) raw; inside JSON
 * text they can only be in strings, where \u00HH means the same character. */
void kw_cli_print_json(const json_t *v)
{
    static const char hex[] = "0123456789abcdef";
    char *text = json_dumps(v, JSON_INDENT(2));
    const unsigned char *p;

    if (!text) {
        fprintf(stderr, "error: out of memory\n");
        return;
    }
    for (p = (const unsigned char *)text; *p; p++) {
        if (*p == 0x7f) {
            fputs("\\u007f", stdout);
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            printf("\\u00%c%c", hex[p[1] >> 4], hex[p[1] & 15]);
            p++;
        } else {
            fputc(*p, stdout);
        }
    }
    fputc('\n', stdout);
    free(text);
}

static void array_text(const json_t *arr, char *out, size_t cap)
{
    size_t n = 0, i;
    const json_t *e;

    out[0] = '\0';
    json_array_foreach(arr, i, e)
    {
        const char *s = json_is_string(e) ? json_string_value(e) : "?";
        int w = snprintf(out + n, cap - n, "%s%s", i ? "," : "", s);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
}

/* Renders one JSON value for people: null and "" -> "-", times cut to seconds when asked. */
static void cell_text(const json_t *v, unsigned flags, char *out, size_t cap)
{
    char raw[CELL_CAP];
    const char *s;

    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) {
        snprintf(raw, sizeof(raw), "-");
    } else if (json_is_string(v)) {
        s = json_string_value(v);
        snprintf(raw, sizeof(raw), "%s", s);
        /* "2026-11-23T05:49:45.123Z" -> "2026-11-23T05:49:45Z" */
        if ((flags & KW_CLI_COL_TIME) && strlen(raw) == 24 && raw[10] == 'T' && raw[19] == '.')
            memcpy(raw + 19, "Z", 2);
    } else if (json_is_integer(v)) {
        snprintf(raw, sizeof(raw), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (json_is_real(v)) {
        snprintf(raw, sizeof(raw), "%g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        snprintf(raw, sizeof(raw), "%s", json_is_true(v) ? "true" : "false");
    } else if (json_is_array(v)) {
        array_text(v, raw, sizeof(raw));
        if (!raw[0])
            snprintf(raw, sizeof(raw), "-");
    } else {
        snprintf(raw, sizeof(raw), "{...}");
    }
    clean_text(raw, out, cap);
}

void kw_cli_print_object(const json_t *obj, const char *skip)
{
    const char *k;
    const json_t *v;
    size_t w = 0;
    char val[CELL_CAP], key[128];

    json_object_foreach((json_t *)obj, k, v)
    {
        if (!(skip && strcmp(k, skip) == 0) && text_width(k) > w)
            w = text_width(k);
    }
    json_object_foreach((json_t *)obj, k, v)
    {
        if (skip && strcmp(k, skip) == 0)
            continue;
        clean_text(k, key, sizeof(key));
        cell_text(v, 0, val, sizeof(val));
        printf("%s%*s  %s\n", key, (int)(w - text_width(key)), "", val);
    }
}

static void table_cell(const json_t *item, const struct kw_cli_column *col, char *out, size_t cap)
{
    cell_text(json_object_get(item, col->field), col->flags, out, cap);
    if (col->max_width)
        truncate_text(out, col->max_width);
}

static void print_cell(const char *text, size_t width, int last)
{
    fputs(text, stdout);
    if (last) {
        fputc('\n', stdout);
        return;
    }
    printf("%*s", (int)(width - text_width(text) + 2), "");
}

void kw_cli_print_table(const struct kw_cli_column *cols, size_t ncols, const json_t *items)
{
    size_t width[MAX_COLS], i, c;
    const json_t *item;
    char cell[CELL_CAP];

    if (ncols > MAX_COLS)
        ncols = MAX_COLS;
    for (c = 0; c < ncols; c++)
        width[c] = text_width(cols[c].header);
    json_array_foreach(items, i, item)
    {
        for (c = 0; c < ncols; c++) {
            table_cell(item, &cols[c], cell, sizeof(cell));
            if (text_width(cell) > width[c])
                width[c] = text_width(cell);
        }
    }
    for (c = 0; c < ncols; c++)
        print_cell(cols[c].header, width[c], c + 1 == ncols);
    json_array_foreach(items, i, item)
    {
        for (c = 0; c < ncols; c++) {
            table_cell(item, &cols[c], cell, sizeof(cell));
            print_cell(cell, width[c], c + 1 == ncols);
        }
    }
}

/* ---- lists ----------------------------------------------------------------------------------- */

/* path + "&cursor=<escaped cursor>" (or path alone when cursor is NULL) into out. */
static int page_path(const char *path, const char *cursor, char *out, size_t cap)
{
    char esc[1024];
    int n;

    if (cursor && url_escape(cursor, esc, sizeof(esc)) != 0) {
        fprintf(stderr, "error: the server's nextCursor is too long\n");
        return KW_CLI_REFUSED;
    }
    n = snprintf(out, cap, "%s%s%s", path, cursor ? "&cursor=" : "", cursor ? esc : "");
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "error: the server's nextCursor is too long\n");
        return KW_CLI_REFUSED;
    }
    return KW_CLI_OK;
}

/* Appends page's items to acc's; leaves acc's nextCursor pointing at page's. */
static int merge_page(json_t *acc, const json_t *page)
{
    json_t *next = json_object_get(page, "nextCursor");

    if (json_array_extend(json_object_get(acc, "items"), json_object_get(page, "items")) != 0 ||
        json_object_set(acc, "nextCursor", next ? next : json_null()) != 0) {
        fprintf(stderr, "error: out of memory\n");
        return KW_CLI_REFUSED;
    }
    return KW_CLI_OK;
}

/* Takes page into *acc (first page) or appends its items; then the next cursor to fetch, if any,
 * into cursor ("" when done). A cursor the server already gave is an error, not a loop. */
static int take_page(json_t **acc, json_t *page, int all, char *cursor, size_t cap)
{
    const char *next;
    int rc;

    if (!json_is_array(json_object_get(page, "items"))) {
        fprintf(stderr, "error: keyward answered a list without \"items\"\n");
        return KW_CLI_REFUSED;
    }
    if (!*acc)
        *acc = json_incref(page);
    else if ((rc = merge_page(*acc, page)) != KW_CLI_OK)
        return rc;
    next = json_string_value(json_object_get(*acc, "nextCursor"));
    if (!all || !next || !next[0]) {
        cursor[0] = '\0';
        return KW_CLI_OK;
    }
    if (strcmp(next, cursor) == 0 || strlen(next) >= cap) {
        fprintf(stderr, "error: keyward answered a bad nextCursor; stopping\n");
        return KW_CLI_REFUSED;
    }
    memcpy(cursor, next, strlen(next) + 1);
    return KW_CLI_OK;
}

int kw_cli_list(struct kw_cli_ctx *ctx, const char *path, int all, json_t **out)
{
    json_t *acc = NULL, *page = NULL;
    char url[2048], cursor[1024] = "";
    int rc, pages = 0;

    *out = NULL;
    do {
        if ((rc = page_path(path, cursor[0] ? cursor : NULL, url, sizeof(url))) != KW_CLI_OK ||
            (rc = kw_cli_call(ctx, "GET", url, NULL, &page)) != KW_CLI_OK ||
            (rc = take_page(&acc, page, all, cursor, sizeof(cursor))) != KW_CLI_OK)
            goto out;
        json_decref(page);
        page = NULL;
        if (++pages >= MAX_PAGES && cursor[0]) {
            fprintf(stderr, "error: more than %d pages; stopping\n", MAX_PAGES);
            rc = KW_CLI_REFUSED;
            goto out;
        }
    } while (cursor[0]);
    if (all && json_object_set_new(acc, "nextCursor", json_null()) != 0) {
        rc = KW_CLI_REFUSED;
        goto out;
    }
    *out = acc;
    acc = NULL;
out:
    json_decref(acc);
    json_decref(page);
    return rc;
}
