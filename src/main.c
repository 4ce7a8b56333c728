/* main.c - command dispatch only: keyward serve | migrate | root-token | audit | store | services | keys. */
#include <stdio.h>
#include <termios.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "core/config.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "domain/accounts.h"
#include "domain/app.h"
#include "domain/audit.h"
#include "domain/copy.h"
#include "domain/rekey.h"
#include "domain/root.h"
#include "domain/secrets.h"
#include "domain/signing.h"
#include "domain/enckeys.h"
#include "http/server.h"
#include "store/store.h"

#define KW_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out,
            "keyward %s - issue, verify and govern machine credentials\n\n"
            "usage: keyward <command> [options]\n\n"
            "server and data directory:\n"
            "  serve               run the server (keyward serve --help lists every setting)\n"
            "  migrate             apply pending schema migrations and exit\n"
            "  root-token rotate   replace the root token and print the new one once\n"
            "  audit verify        check the audit log's hash chain\n"
            "  store copy          move a deployment to another store (SQLite <-> PostgreSQL)\n"
            "  signing-key rotate  add a new JWT signing key; the old one stays published until its tokens expire\n"
            "  encryption-key rotate  add a new response-encryption key; the old one works for --grace (24h)\n"
            "  rekey               re-wrap every sealed secret under a new master key (while serving)\n"
            "  users create        create a person (first sysadmin); password asked twice\n\n"
            "admin API clients (KEYWARD_ADDR, KEYWARD_TOKEN):\n"
            "  services ...        create, list, show, update, delete services\n"
            "  keys ...            create, list, show, update, revoke, roll, delete API keys\n\n"
            "  version             print the version\n"
            "  help                this text; keyward <command> --help: one command's usage\n",
            KW_VERSION);
}

/* Settings every offline command reads, as `serve` does; shown in their --help. */
#define OFFLINE_SETTINGS                                                                                     \
    "settings, as for serve (keyward serve --help): defaults < --config FILE < KEYWARD_* < flags\n"          \
    "  --data-dir DIR    data directory (default ./var; KEYWARD_DATA_DIR)\n"                                 \
    "  --store S         storage backend (default sqlite; KEYWARD_STORE)\n"                                  \
    "  --config FILE     config file to read first (KEYWARD_CONFIG)\n"                                       \
    "Logs only warnings and errors, on stderr; the answer goes to stdout.\n"

static const char migrate_usage[] =
    "usage: keyward migrate [--data-dir DIR] [settings]\n"
    "\n"
    "Applies pending schema migrations to the store, prints the schema version and exits.\n"
    "`keyward serve` does the same at every start.\n\n" OFFLINE_SETTINGS;

static const char root_token_usage[] =
    "usage: keyward root-token rotate [--data-dir DIR] [settings]\n"
    "\n"
    "Replaces the root token and prints the new one once, on stdout; the old one stops\n"
    "working.\n\n" OFFLINE_SETTINGS;

static const char audit_usage[] = "usage: keyward audit verify [--data-dir DIR] [settings]\n"
                                  "\n"
                                  "Checks the audit log's hash chain. Exit 0 when intact, 1 when broken or "
                                  "unreadable.\n\n" OFFLINE_SETTINGS;

static const char users_usage[] =
    "usage: keyward users create --username NAME [--role sysadmin|user] [--data-dir DIR] [settings]\n"
    "\n"
    "Creates a person on the data directory: the first System Administrator (there is no\n"
    "default password). The password (12 to 256 characters) is read from the terminal, twice\n"
    "and without echo, or as one line from stdin when that is not a terminal; never from argv.\n"
    "Other user commands go through the API: see README.md.\n"
    "\n"
    "  --username NAME   3 to 63 of a-z 0-9 . _ - (required)\n"
    "  --role ROLE       sysadmin (default) or user\n\n" OFFLINE_SETTINGS;

static const char store_usage[] =
    "usage: keyward store copy --from SOURCE --to TARGET\n"
    "\n"
    "Copies a whole deployment, every row of every table as it is (ids, versions, hashes, times,\n"
    "the audit chain), from SOURCE to TARGET. Each is sqlite:DATA_DIR or a postgresql:// URI with no\n"
    "password on the command line (visible in ps): use ~/.pgpass, PGPASSFILE or PGPASSWORD.\n"
    "TARGET is migrated first and must be empty (nothing is written to one that is not); it is\n"
    "written in one transaction. SOURCE is read in one snapshot: a source that is serving meanwhile\n"
    "gives a consistent copy of one moment, without later writes, so stop writes first. Prints the\n"
    "rows copied per table and verifies TARGET's audit chain. Exit 0 when copied and intact, 1 when\n"
    "refused or failed, 2 on a usage error.\n";

static const char signing_key_usage[] =
    "usage: keyward signing-key rotate [--data-dir DIR] [--store S] [settings]\n"
    "\n"
    "Adds a new Ed25519 signing key for JWT access tokens and retires the active one, which stays\n"
    "published (JWKS) and accepted until the tokens it signed have expired (access-token-ttl, plus a\n"
    "margin). Works while the servers run: each picks the new key up within a second and signs with it\n"
    "once every node has had time to load it. Needs the deployment's master key (master-key-file or\n"
    "KEYWARD_MASTER_KEY). Prints the new key id (kid).\n\n" OFFLINE_SETTINGS;

static const char encryption_key_usage[] =
    "usage: keyward encryption-key rotate [--grace DURATION] [--data-dir DIR] [--store S] [settings]\n"
    "\n"
    "Adds a new RSA-3072 response-encryption key (GET /api/v1/encryption-key) and retires the active one,\n"
    "which stays published and keeps opening clients' X-Keyward-Encryption-Key for the grace period\n"
    "(DURATION: a number of seconds, or with a unit s, m, h or d; default 24h). Works while the servers\n"
    "run: each picks the new key up within a second. Needs the deployment's master key. Prints the new\n"
    "key id (kid).\n\n" OFFLINE_SETTINGS;

static const char rekey_usage[] =
    "usage: keyward rekey [--new-master-key-file F] [--data-dir DIR] [--store S] [settings]\n"
    "\n"
    "Re-wraps every sealed secret (access keys' secret access keys, signing and encryption keys' private\n"
    "keys, identity records' and documents' data keys, webhook secrets) under a new master key, in small\n"
    "transactions, while the servers keep serving. The new key: the file F\n"
    "(32 raw bytes, mode 0600; created with a random key when missing) or KEYWARD_NEW_MASTER_KEY (base64).\n"
    "With a master key file (master-key-file, default DATA_DIR/master.key) the file first holds the new\n"
    "and the old key (servers re-read it, seal with the new one and open both), then only the new one.\n"
    "With KEYWARD_MASTER_KEY, every node must hold NEW,OLD first (see docs/operations.md). Without a new\n"
    "key, re-wraps under the first key of the current master key file or KEYWARD_MASTER_KEY.\n"
    "Exit 0 when every secret is under the new key.\n\n" OFFLINE_SETTINGS;

/* 1 when argv holds --help or -h: the command prints its usage to stdout and exits 0. */
static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* Prints usage to stdout (help asked: exit 0) or stderr (usage error: exit 2); returns the exit code. */
static int print_usage(const char *text, int help)
{
    fputs(text, help ? stdout : stderr);
    return help ? 0 : 2;
}

/* Loads config from flags (argv after the command) and KEYWARD_* variables; logs at min_level or
 * above (offline commands pass KW_LOG_WARN, so no info line mixes with their answer). 0 ok, 2 usage. */
static int load_config(struct kw_config *cfg, int argc, char **argv, enum kw_log_level min_level)
{
    char err[256];
    const char *file = NULL;
    int i, level;

    kw_config_defaults(cfg);
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file == NULL)
        file = getenv("KEYWARD_CONFIG");
    if (kw_config_load(cfg, file, argc, argv, err, sizeof(err)) != KW_OK) {
        fprintf(stderr, "keyward: %s\n", err);
        return 2;
    }
    level = kw_log_level_parse(cfg->log_level);
    if (level < 0)
        level = KW_LOG_INFO;
    kw_log_set_level(level < (int)min_level ? min_level : (enum kw_log_level)level);
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    static struct kw_config cfg;
    struct kw_app app;
    enum kw_err err;
    int rc;

    if (wants_help(argc, argv)) {
        kw_config_help(stdout);
        return 0;
    }
    if ((rc = load_config(&cfg, argc, argv, KW_LOG_DEBUG)) != 0)
        return rc;
    kw_http_signals_block(); /* before kw_app_open starts the writer: no thread may take SIGTERM */
    err = kw_app_open(&app, &cfg);
    memset(cfg.root_token, 0, sizeof(cfg.root_token));
    if (err != KW_OK) {
        if (err == KW_ERR_INVALID)
            fprintf(stderr, "keyward: KEYWARD_ROOT_TOKEN must be 32 to 255 characters long\n");
        kw_app_close(&app);
        return 1;
    }
    err = kw_http_serve(&app, &cfg);
    kw_app_close(&app);
    kw_log_info("stopped", "clean=%d", err == KW_OK);
    return err == KW_OK ? 0 : 1;
}

/* Opens the store named by the config for an offline command. */
static struct kw_store *open_store(struct kw_config *cfg, int argc, char **argv, int *rc)
{
    struct kw_store *st = NULL;

    *rc = load_config(cfg, argc, argv, KW_LOG_WARN);
    if (*rc != 0)
        return NULL;
    if (kw_store_open(cfg->store, cfg->data_dir, &st) != KW_OK || kw_store_migrate(st, NULL, NULL) != KW_OK) {
        fprintf(stderr, "keyward: cannot open the store in %s\n", cfg->data_dir);
        kw_store_free(st);
        *rc = 1;
        return NULL;
    }
    return st;
}

static int cmd_migrate(int argc, char **argv)
{
    static struct kw_config cfg;
    struct kw_store *st = NULL;
    int rc, applied = 0, version = 0;

    if (wants_help(argc, argv))
        return print_usage(migrate_usage, 1);
    if ((rc = load_config(&cfg, argc, argv, KW_LOG_WARN)) != 0)
        return rc;
    if (kw_store_open(cfg.store, cfg.data_dir, &st) != KW_OK ||
        kw_store_migrate(st, &applied, &version) != KW_OK) {
        fprintf(stderr, "keyward: migration failed (see log)\n");
        kw_store_free(st);
        return 1;
    }
    printf("schema version %d (%d migration%s applied)\n", version, applied, applied == 1 ? "" : "s");
    kw_store_free(st);
    return 0;
}

static int cmd_root_token(int argc, char **argv)
{
    static struct kw_config cfg;
    char token[KW_KEYFMT_MAX];
    struct kw_store *st;
    int rc;

    if (wants_help(argc, argv) || argc < 1 || strcmp(argv[0], "rotate") != 0)
        return print_usage(root_token_usage, wants_help(argc, argv));
    st = open_store(&cfg, argc - 1, argv + 1, &rc);
    if (st == NULL)
        return rc;
    rc = kw_root_rotate(st, "cli", token) == KW_OK ? 0 : 1;
    if (rc == 0)
        printf("New root token (shown only this once; the old one no longer works):\n\n    %s\n\n", token);
    memset(token, 0, sizeof(token));
    kw_store_free(st);
    return rc;
}

/* An application context holding just the store and the master key, for offline commands that make
 * audited domain writes. */
static int open_offline_app(struct kw_app *app, struct kw_config *cfg, int argc, char **argv)
{
    int rc;

    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    app->store = open_store(cfg, argc, argv, &rc);
    if (app->store == NULL)
        return rc;
    if (kw_secrets_open_master_at(&app->secrets, cfg->data_dir, cfg->master_key_file,
                                  getenv("KEYWARD_MASTER_KEY")) != KW_OK) {
        fprintf(stderr, "keyward: cannot read the master key (see the log line above)\n");
        kw_store_free(app->store);
        return 1;
    }
    return 0;
}

static int cmd_signing_key(int argc, char **argv)
{
    static struct kw_config cfg;
    static const struct kw_actor cli = {"system", "cli", NULL, NULL, NULL, NULL};
    char kid[KW_KID_MAX];
    struct kw_app app;
    int rc;

    if (wants_help(argc, argv) || argc < 1 || strcmp(argv[0], "rotate") != 0)
        return print_usage(signing_key_usage, wants_help(argc, argv));
    if ((rc = open_offline_app(&app, &cfg, argc - 1, argv + 1)) != 0)
        return rc;
    rc = kw_signing_rotate(&app, &cli, (int64_t)cfg.access_token_ttl_s * 1000, kid) == KW_OK ? 0 : 1;
    if (rc == 0)
        printf("new signing key %s (EdDSA); the previous one stays published until its tokens expire\n", kid);
    else
        fprintf(stderr, "keyward: cannot rotate the signing key\n");
    kw_secrets_free(app.secrets);
    kw_store_free(app.store);
    return rc;
}

/* "90", "90s", "30m", "24h", "7d" -> ms; -1 if not one of those (at most 365 days). */
static int64_t parse_duration_ms(const char *s)
{
    char *end = NULL;
    long long v;
    int64_t unit = 1000;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    v = strtoll(s, &end, 10);
    if (*end == 'm')
        unit = 60000;
    else if (*end == 'h')
        unit = 3600000;
    else if (*end == 'd')
        unit = 86400000;
    else if (*end != 's' && *end != '\0')
        return -1;
    if ((*end != '\0' && end[1] != '\0') || v < 0 || v > 365LL * 86400000 / unit)
        return -1;
    return (int64_t)v * unit;
}

static const char *take_flag(int *argc, char **argv, const char *flag);

static int cmd_encryption_key(int argc, char **argv)
{
    static struct kw_config cfg;
    static const struct kw_actor cli = {"system", "cli", NULL, NULL, NULL, NULL};
    char kid[KW_KID_MAX];
    const char *grace;
    int64_t grace_ms = KW_ENCKEYS_GRACE_DEFAULT_MS;
    struct kw_app app;
    int rc;

    if (wants_help(argc, argv) || argc < 1 || strcmp(argv[0], "rotate") != 0)
        return print_usage(encryption_key_usage, wants_help(argc, argv));
    argc--;
    argv++;
    if ((grace = take_flag(&argc, argv, "--grace")) != NULL && (grace_ms = parse_duration_ms(grace)) < 0) {
        fprintf(stderr, "keyward: --grace must be a duration such as 3600, 90s, 30m, 24h or 7d\n");
        return 2;
    }
    if ((rc = open_offline_app(&app, &cfg, argc, argv)) != 0)
        return rc;
    rc = kw_enckeys_rotate(&app, &cli, grace_ms, kid) == KW_OK ? 0 : 1;
    if (rc == 0)
        printf("new encryption key %s (RSA-OAEP-256); the previous one works for %lld s more\n", kid,
               (long long)(grace_ms / 1000));
    else
        fprintf(stderr, "keyward: cannot rotate the encryption key\n");
    kw_secrets_free(app.secrets);
    kw_store_free(app.store);
    return rc;
}

/* Removes --new-master-key-file F from argv (returns F, or NULL); *argc shrinks. */
static const char *take_flag(int *argc, char **argv, const char *flag)
{
    size_t n = strlen(flag);
    const char *v = NULL;
    int i, j = 0;

    for (i = 0; i < *argc; i++) {
        if (strcmp(argv[i], flag) == 0 && i + 1 < *argc)
            v = argv[++i];
        else if (strncmp(argv[i], flag, n) == 0 && argv[i][n] == '=')
            v = argv[i] + n + 1;
        else
            argv[j++] = argv[i];
    }
    *argc = j;
    return v;
}

/* The new master key from F or KEYWARD_NEW_MASTER_KEY into key; 0 none given, 1 read, -1 error. */
static int new_master_key(const char *file, uint8_t key[KW_SECRETS_KEY_LEN])
{
    const char *b64 = getenv("KEYWARD_NEW_MASTER_KEY");
    uint8_t keys[4 * KW_SECRETS_KEY_LEN];
    size_t n = 0;

    if (file != NULL) {
        if (kw_secrets_read_file(file, 1, keys, &n) != KW_OK || n != 1) {
            fprintf(stderr, "keyward: %s must hold one key of 32 raw bytes, mode 0600\n", file);
            return -1;
        }
        memcpy(key, keys, KW_SECRETS_KEY_LEN);
        explicit_bzero(keys, sizeof(keys));
        return 1;
    }
    if (b64 == NULL || b64[0] == '\0')
        return 0;
    if (kw_crypto_base64_decode(b64, strlen(b64), key, KW_SECRETS_KEY_LEN, &n) != KW_OK || n != 32) {
        fprintf(stderr, "keyward: KEYWARD_NEW_MASTER_KEY must be base64 of 32 bytes\n");
        return -1;
    }
    return 1;
}

/* Master key file mode: writes NEW followed by the file's keys (without NEW), at most 4. */
static int file_add_key(const char *path, const uint8_t *key)
{
    uint8_t keys[5 * KW_SECRETS_KEY_LEN];
    size_t n = 0, i, m = 1;
    int rc = 0;

    if (kw_secrets_read_file(path, 0, keys + KW_SECRETS_KEY_LEN, &n) != KW_OK)
        return -1;
    memcpy(keys, key, KW_SECRETS_KEY_LEN);
    for (i = 1; i <= n && m < 4; i++)
        if (memcmp(keys + i * KW_SECRETS_KEY_LEN, key, KW_SECRETS_KEY_LEN) != 0)
            memmove(keys + m++ * KW_SECRETS_KEY_LEN, keys + i * KW_SECRETS_KEY_LEN, KW_SECRETS_KEY_LEN);
    if (kw_secrets_write_file(path, keys, m) != KW_OK)
        rc = -1;
    explicit_bzero(keys, sizeof(keys));
    return rc;
}

static int cmd_rekey(int argc, char **argv)
{
    static struct kw_config cfg;
    static const struct kw_actor cli = {"system", "cli", NULL, NULL, NULL, NULL};
    struct kw_rekey_stats st = {0};
    uint8_t key[KW_SECRETS_KEY_LEN], want[KW_SECRETS_ID_LEN];
    struct kw_secrets *to = NULL, *probe = NULL;
    const char *file;
    struct kw_app app;
    int rc, have_new, pass;

    if (wants_help(argc, argv))
        return print_usage(rekey_usage, 1);
    file = take_flag(&argc, argv, "--new-master-key-file");
    if ((have_new = new_master_key(file, key)) < 0)
        return 1;
    if ((rc = open_offline_app(&app, &cfg, argc, argv)) != 0)
        return rc;
    const char *path = kw_secrets_path(app.secrets);
    rc = 1;
    if (have_new && path[0] == '\0') { /* KEYWARD_MASTER_KEY: the nodes must already hold the new key */
        kw_secrets_from_keys(key, 1, &probe);
        kw_secrets_current_id(probe, want);
        uint8_t blob[KW_SECRETS_SEALED_LEN(1)], back[1];
        size_t n = 0, m = 0;
        if (kw_secrets_seal(probe, (const uint8_t *)"x", 1, blob, sizeof(blob), &n) != KW_OK ||
            kw_secrets_open(app.secrets, blob, n, back, sizeof(back), &m) != KW_OK) {
            fprintf(stderr, "keyward: KEYWARD_MASTER_KEY must hold the new key first (NEW,OLD on every node)\n");
            goto out;
        }
    } else if (have_new && file_add_key(path, key) != 0) {
        fprintf(stderr, "keyward: cannot write %s\n", path);
        goto out;
    }
    if (have_new ? kw_secrets_from_keys(key, 1, &to) != KW_OK : 0)
        goto out;
    /* A second pass after a pause catches a secret a server sealed under the old key just before it
     * re-read the file. */
    for (pass = 0; pass < 2; pass++) {
        if (pass > 0)
            sleep(2);
        if (kw_rekey_run(&app, to != NULL ? to : app.secrets, &cli, &st) != KW_OK) {
            fprintf(stderr, "keyward: re-wrapping failed (see the log); run it again\n");
            goto out;
        }
    }
    if (st.failed == 0 && have_new && path[0] != '\0' && kw_secrets_write_file(path, key, 1) != KW_OK) {
        fprintf(stderr, "keyward: cannot write %s\n", path);
        goto out;
    }
    printf("re-wrapped %lld access key(s), %lld signing key(s), %lld encryption key(s), %lld record data "
           "key(s), %lld document data key(s) and %lld webhook secret(s); %lld already under the new key; "
           "%lld failed\n",
           (long long)st.access_keys, (long long)st.signing_keys, (long long)st.encryption_keys,
           (long long)st.records, (long long)st.documents, (long long)st.webhook_secrets, (long long)st.already,
           (long long)st.failed);
    rc = st.failed == 0 ? 0 : 1;
out:
    explicit_bzero(key, sizeof(key));
    kw_secrets_free(to);
    kw_secrets_free(probe);
    kw_secrets_free(app.secrets);
    kw_store_free(app.store);
    return rc;
}

static int cmd_audit(int argc, char **argv)
{
    static struct kw_config cfg;
    struct kw_store *st;
    int64_t checked = 0, broken = 0;
    int rc;

    if (wants_help(argc, argv) || argc < 1 || strcmp(argv[0], "verify") != 0)
        return print_usage(audit_usage, wants_help(argc, argv));
    st = open_store(&cfg, argc - 1, argv + 1, &rc);
    if (st == NULL)
        return rc;
    if (kw_audit_verify(st, &checked, &broken) != KW_OK) {
        fprintf(stderr, "keyward: cannot read the audit log\n");
        rc = 1;
    } else if (broken != 0) {
        printf("audit chain BROKEN at seq %lld (%lld events read)\n", (long long)broken, (long long)checked);
        rc = 1;
    } else {
        printf("audit chain intact: %lld events\n", (long long)checked);
        rc = 0;
    }
    kw_store_free(st);
    return rc;
}

/* A store copy end: "sqlite:DIR", or a postgresql:// URI that passes the rule --store has (no password
 * from argv). *dir = DIR or NULL. 0, or 2 after printing why not. */
static int check_copy_end(const char *flag, const char *spec, const char **dir)
{
    static struct kw_config check;
    char err[512], *av[2] = {"--store", (char *)spec};

    *dir = strncmp(spec, "sqlite:", 7) == 0 ? spec + 7 : NULL;
    if (*dir != NULL && (*dir)[0] != '\0')
        return 0;
    kw_config_defaults(&check);
    if (*dir == NULL && strcmp(spec, "sqlite") != 0 && kw_config_load(&check, NULL, 2, av, err, sizeof(err)) != KW_OK) {
        fprintf(stderr, "keyward store copy: %s: %s\n", flag, strstr(err, "must") ? strstr(err, "must") : err);
        return 2;
    }
    if (*dir == NULL && strcmp(spec, "sqlite") != 0)
        return 0;
    fprintf(stderr, "keyward store copy: %s must be sqlite:DATA_DIR or a postgresql:// URI\n", flag);
    return 2;
}

/* Opens a checked copy end; a source SQLite directory must already hold keyward.db (opening would
 * create an empty one). NULL after printing why. */
static struct kw_store *open_copy_end(const char *flag, const char *spec, const char *dir, int source)
{
    struct kw_store *st = NULL;
    char path[1100];

    snprintf(path, sizeof(path), "%s/keyward.db", dir != NULL ? dir : "");
    if (dir != NULL && source && access(path, F_OK) != 0)
        fprintf(stderr, "keyward store copy: %s: no keyward database in %s\n", flag, dir);
    else if (kw_store_open(dir != NULL ? "sqlite" : spec, dir, &st) != KW_OK)
        fprintf(stderr, "keyward store copy: %s: cannot open the store (see log)\n", flag);
    return st;
}

static void print_copy(const struct kw_copy_result *res)
{
    int t;

    for (t = 0; t < KW_TABLE_COUNT; t++)
        printf("%-16s %lld\n", kw_store_table_name((enum kw_store_table)t), (long long)res->rows[t]);
    printf("document content %lld\n", (long long)res->contents);
    if (res->audit_broken != 0)
        printf("audit chain BROKEN at seq %lld (%lld events read)\n", (long long)res->audit_broken,
               (long long)res->audit_checked);
    else
        printf("audit chain intact: %lld events\n", (long long)res->audit_checked);
}

/* keyward store copy --from SOURCE --to TARGET (domain/copy.h). */
static int cmd_store(int argc, char **argv)
{
    static struct kw_config cfg;
    const char *from = NULL, *to = NULL, *from_dir = NULL, *to_dir = NULL;
    struct kw_store *src = NULL, *dst = NULL;
    struct kw_copy_result res;
    enum kw_err err;
    int i, rc = 2;

    if (wants_help(argc, argv) || argc < 1 || strcmp(argv[0], "copy") != 0)
        return print_usage(store_usage, wants_help(argc, argv));
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            from = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            to = argv[++i];
        else
            return print_usage(store_usage, 0);
    }
    if (from == NULL || to == NULL || load_config(&cfg, 0, NULL, KW_LOG_WARN) != 0)
        return print_usage(store_usage, 0);
    if ((rc = check_copy_end("--from", from, &from_dir)) != 0 || (rc = check_copy_end("--to", to, &to_dir)) != 0)
        return rc;
    rc = 1;
    if ((src = open_copy_end("--from", from, from_dir, 1)) == NULL ||
        (dst = open_copy_end("--to", to, to_dir, 0)) == NULL)
        goto out;
    err = kw_copy_run(src, dst, &res);
    rc = err == KW_OK && res.audit_broken == 0 ? 0 : 1;
    if (err == KW_ERR_CONFLICT)
        fprintf(stderr, "keyward store copy: the target is not empty (table %s has rows); nothing was written\n",
                kw_store_table_name((enum kw_store_table)res.nonempty));
    else if (err == KW_ERR_INVALID)
        fprintf(stderr, "keyward store copy: the source's schema version is %d, the target's %d: run keyward "
                        "migrate on the source first; nothing was written\n", res.src_version, res.dst_version);
    else if (err != KW_OK)
        fprintf(stderr, "keyward store copy: failed (%s, see log)%s\n", kw_err_str(err),
                res.committed ? " after the copy committed" : "; nothing was written");
    else
        print_copy(&res);
out:
    kw_store_free(dst);
    kw_store_free(src);
    return rc;
}

/* Reads one line into out (cap bytes) without its line end; on a terminal, prompts on stderr and
 * turns echo off while reading. Returns the length. */
static size_t read_line(const char *prompt, int tty, char *out, size_t cap)
{
    struct termios old, quiet;
    size_t n;

    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    if (fgets(out, (int)cap, stdin) == NULL)
        out[0] = '\0';
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    return n;
}

/* The new password: on a terminal asked twice without echo, else one line from stdin (scripts, tests).
 * 0 ok; 2 after printing why not (length, or the two entries differ). */
static int read_password(char *out, size_t cap)
{
    char again[KW_PASSWORD_MAX + 2];
    int tty = isatty(STDIN_FILENO), rc = 0;
    size_t n = read_line("Password (12 to 256 characters): ", tty, out, cap);

    if (n < KW_PASSWORD_MIN || n > KW_PASSWORD_MAX) {
        fprintf(stderr, "keyward: the password must be 12 to 256 characters\n");
        rc = 2;
    } else if (tty) {
        read_line("Again, to confirm: ", tty, again, sizeof(again));
        if (strcmp(out, again) != 0) {
            fprintf(stderr, "keyward: the two passwords do not match; nothing was created\n");
            rc = 2;
        }
    }
    explicit_bzero(again, sizeof(again));
    return rc;
}

/* keyward users create --username NAME [--role sysadmin|user] [--data-dir DIR]: the first-run path
 * (no default password exists). The password comes from the terminal or stdin, never from argv. */
static int cmd_users(int argc, char **argv)
{
    static struct kw_config cfg;
    char password[KW_PASSWORD_MAX + 2], *rest[16];
    const char *username = NULL, *role = "sysadmin";
    struct kw_app app;
    struct kw_user u;
    struct kw_actor actor = {"system", "cli", NULL, NULL, NULL, NULL};
    int i, nrest = 0, rc;

    if (wants_help(argc, argv) || argc < 1 || strcmp(argv[0], "create") != 0)
        return print_usage(users_usage, wants_help(argc, argv));
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--username") == 0 && i + 1 < argc)
            username = argv[++i];
        else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
            role = argv[++i];
        else if (nrest < 16)
            rest[nrest++] = argv[i];
    }
    if (username == NULL || !kw_accounts_username_valid(username) || !kw_accounts_user_role_valid(role)) {
        fprintf(stderr, "keyward users create: --username must be 3-63 of a-z 0-9 . _ - and --role sysadmin "
                        "or user (try 'keyward users create --help')\n");
        return 2;
    }
    if ((rc = load_config(&cfg, nrest, rest, KW_LOG_WARN)) != 0 ||
        (rc = read_password(password, sizeof(password))) != 0)
        goto out;
    rc = 1;
    if (kw_app_open_admin(&app, &cfg) == KW_OK) {
        enum kw_err err = kw_accounts_user_create(&app, &actor, username, password, role, &u);
        if (err == KW_ERR_EXISTS)
            fprintf(stderr, "keyward: user %s exists\n", username);
        else if (err == KW_OK)
            printf("created %s user %s; log in at http://%s/console/\n", u.role, u.username, cfg.listen);
        rc = err == KW_OK ? 0 : 1;
    }
    kw_app_close(&app);
out:
    explicit_bzero(password, sizeof(password));
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    int rc;

    if (kw_crypto_init() != KW_OK) {
        fprintf(stderr, "keyward: OpenSSL initialisation failed\n");
        return 1;
    }
    if (strcmp(cmd, "serve") == 0)
        rc = cmd_serve(argc - 2, argv + 2);
    else if (strcmp(cmd, "migrate") == 0)
        rc = cmd_migrate(argc - 2, argv + 2);
    else if (strcmp(cmd, "root-token") == 0)
        rc = cmd_root_token(argc - 2, argv + 2);
    else if (strcmp(cmd, "audit") == 0)
        rc = cmd_audit(argc - 2, argv + 2);
    else if (strcmp(cmd, "store") == 0)
        rc = cmd_store(argc - 2, argv + 2);
    else if (strcmp(cmd, "users") == 0)
        rc = cmd_users(argc - 2, argv + 2);
    else if (strcmp(cmd, "signing-key") == 0)
        rc = cmd_signing_key(argc - 2, argv + 2);
    else if (strcmp(cmd, "encryption-key") == 0)
        rc = cmd_encryption_key(argc - 2, argv + 2);
    else if (strcmp(cmd, "rekey") == 0)
        rc = cmd_rekey(argc - 2, argv + 2);
    else if (strcmp(cmd, "services") == 0)
        rc = kw_cli_services(argc - 1, argv + 1);
    else if (strcmp(cmd, "keys") == 0)
        rc = kw_cli_keys(argc - 1, argv + 1);
    else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0)
        rc = (printf("keyward %s\n", KW_VERSION), 0);
    else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        rc = (usage(stdout), 0);
    else {
        usage(stderr);
        rc = 2;
    }
    kw_crypto_cleanup();
    return rc;
}
