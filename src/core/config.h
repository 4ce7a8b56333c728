/* config.h - every setting in one table, as Redis config.c does.
 *
 * Precedence: defaults < config file (--config or KEYWARD_CONFIG; lines "name = value", '#' comments)
 *             < environment (KEYWARD_<NAME upper-cased, '-' -> '_'>) < command-line flags (--name value
 *             or --name=value). A setting marked secret is refused on the command line (argv is visible
 *             in ps) and never printed by kw_config_help/kw_config_dump; --store is refused on the
 *             command line when its URI carries a password. */
#ifndef KW_CORE_CONFIG_H
#define KW_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "core/netaddr.h"

struct kw_config {
    char listen[128];        /* HOST:PORT; default 127.0.0.1:8080 */
    char data_dir[512];      /* default ./var */
    char store[512];         /* "sqlite" (under data_dir) or a postgresql:// URI (no password from argv) */
    int store_pool;          /* PostgreSQL connections per node; default 4 */
    int store_statement_timeout_ms; /* PostgreSQL statement_timeout; default 5000 */
    int store_max_staleness_s; /* shared store: /readyz fails after this long without reading changes; 30 */
    int threads;             /* event loops; 0 = one per core */
    int workers;             /* threads running requests that may wait on the store; default 4 */
    int64_t max_body_bytes;  /* JSON body cap; default 65536 */
    int64_t picture_max_bytes; /* a candidate's picture (PUT .../pictures/{name}); default 5 MiB */
    int64_t max_document_bytes; /* a whole POST /api/v1/ingest body; default 50 MiB */
    int64_t max_header_bytes;/* total request header cap; default 8192 */
    int idle_timeout_s;      /* idle connection timeout; default 10 */
    int shutdown_timeout_s;  /* SIGTERM drain deadline for open requests; default 5 */
    char log_level[16];      /* debug|info|warn|error */
    int flush_interval_ms;   /* write-behind flush period; default 200 */
    int argon2_memory_kib;   /* Argon2id memory cost; default 19456 (OWASP) */
    int argon2_iterations;   /* Argon2id time cost; default 2 */
    int session_idle_s;      /* session idle expiry; default 1800 */
    int session_max_s;       /* session absolute expiry; default 43200 */
    char root_token[256];    /* secret: used only at first start (KEYWARD_ROOT_TOKEN) */
    char trusted_proxies[1024]; /* comma-separated CIDRs whose X-Forwarded-For is believed; default "" */
    struct kw_netaddr_set trusted_proxy_set; /* trusted_proxies parsed, set by kw_config_load */
    char master_key_file[512]; /* master key file; "" = DATA_DIR/master.key (KEYWARD_MASTER_KEY wins) */
    char issuer[256];          /* JWT iss and RFC 8414 issuer; "" = http://<listen> */
    int access_token_ttl_s;    /* lifetime of issued JWT access tokens, 60..3600; default 300 */
    int webhook_allow_private; /* 1: webhooks may reach private/loopback/metadata addresses; default 0 */
};

/* Fills cfg with defaults. */
void kw_config_defaults(struct kw_config *cfg);

/* Applies file (if path non-NULL), then environment, then argv flags (argv[0..argc) are only the
 * flags, not the command). On failure writes a one-line reason into err (errcap bytes) naming the
 * setting and its bounds, and returns KW_ERR_INVALID. Unknown flags are errors. "--help" is not
 * handled here: callers check for it first. */
enum kw_err kw_config_load(struct kw_config *cfg, const char *file, int argc, char **argv, char *err,
                           size_t errcap);

/* Prints every setting: flag, env var, type, bounds, default, help. Secrets show no value. */
void kw_config_help(FILE *out);

#endif
