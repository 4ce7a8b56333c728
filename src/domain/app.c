/* app.c - assembling the application context; see app.h. */
#include "domain/app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "domain/commit_internal.h"
#include "domain/enckeys.h"
#include "domain/jobs.h"
#include "domain/webhook_sender.h"
#include "domain/jwt.h"
#include "domain/root.h"
#include "domain/secrets.h"
#include "domain/signing.h"
#include "domain/sync.h"
#include "domain/throttle.h"
#include "domain/writer.h"

static int load_key(void *ctx, const struct kw_key *key)
{
    return kw_keycache_put(ctx, key) == KW_OK ? 0 : 1;
}

/* Every key, and the version they are current at, from one snapshot. */
static enum kw_err load_cache(struct kw_tx *tx, struct kw_keycache *kc, int64_t *version)
{
    enum kw_err err = kw_store_version_current(tx, version);

    return err == KW_OK ? kw_store_key_each(tx, load_key, kc) : err;
}

/* The path this binary was started from, so the commands the banner prints paste as they are
 * (after `make run` that is ./build/keyward, not a `keyward` on PATH). */
static void self_path(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);

    if (n <= 0 || (size_t)n >= cap - 1 || memchr(out, ' ', (size_t)n) != NULL)
        n = (ssize_t)snprintf(out, cap, "keyward");
    out[n] = '\0';
}

static void announce_root(const char *token, const struct kw_config *cfg)
{
    char self[512];

    self_path(self, sizeof(self));
    /* Shown once, on stdout, never through the log. */
    printf("\n  keyward: first start. Your root token (shown only this once; store it now):\n\n"
           "    %s\n\n"
           "  Next:  export KEYWARD_TOKEN=%s\n"
           "         curl -H \"Authorization: Bearer $KEYWARD_TOKEN\" http://%s/api/v1/services\n"
           "         then follow README.md (create a service, then a key).\n"
           "  Console: create your login with  %s users create --username you --data-dir %s\n"
           "           then open http://%s/console/\n"
           "  Lost it? Stop keyward and run: %s root-token rotate --data-dir %s\n\n",
           token, token, cfg->listen, self, cfg->data_dir, cfg->listen, self, cfg->data_dir);
    fflush(stdout);
}

/* The once-per-deployment jobs (expired sessions, throttle windows, auto-archive), leased through the
 * store; polled every KW_JOBS_ARCHIVE_MS so auto-archive meets its time. */
static enum kw_err start_jobs(struct kw_app *app)
{
    struct kw_job_def defs[KW_JOBS_MAX];
    size_t n = kw_jobs_builtin(app, defs);
    enum kw_err err = kw_jobs_new(app->store, NULL, KW_JOBS_LEASE_MS, defs, n, &app->jobs);

    return err == KW_OK ? kw_jobs_start(app->jobs, KW_JOBS_ARCHIVE_MS) : err;
}

static enum kw_err app_open(struct kw_app *app, const struct kw_config *cfg, int serving)
{
    char generated[KW_KEYFMT_MAX], described[sizeof(cfg->store)];
    int applied = 0, version = 0, created = 0;
    int64_t loaded_at = 0;
    enum kw_err err;

    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    if (cfg->issuer[0] != '\0')
        snprintf(app->issuer, sizeof(app->issuer), "%s", cfg->issuer);
    else
        snprintf(app->issuer, sizeof(app->issuer), "http://%s", cfg->listen);
    /* Before the store: the master key never goes into it, and a node without it must not serve. */
    err = kw_secrets_open_master_at(&app->secrets, cfg->data_dir, cfg->master_key_file,
                                    getenv("KEYWARD_MASTER_KEY"));
    if (err != KW_OK)
        goto out;
    err = kw_store_open_opts(cfg->store, cfg->data_dir,
                             &(struct kw_store_options){cfg->store_pool, cfg->store_statement_timeout_ms},
                             &app->store);
    if (err != KW_OK)
        goto out;
    err = kw_store_migrate(app->store, &applied, &version);
    if (err != KW_OK)
        goto out;
    if (applied > 0)
        kw_log_info("migrated", "applied=%d version=%d", applied, version);
    if (kw_store_document_content_recover(app->store, NULL) != KW_OK) /* a crash's staging files */
        kw_log_warn("document staging files not settled", "%s", "will retry at the next start");
    err = kw_root_ensure(app->store, cfg->root_token, generated, &created);
    if (err == KW_ERR_INVALID)
        kw_log_error("KEYWARD_ROOT_TOKEN rejected", "reason=\"must be 32 to 255 characters\"");
    if (err != KW_OK)
        goto out;
    if (created && generated[0] != '\0')
        announce_root(generated, cfg);
    memset(generated, 0, sizeof(generated));
    err = kw_root_load(&app->root, app->store);
    if (err != KW_OK)
        goto out;
    err = kw_signing_open(app, KW_SIGNING_POLL_MS, &app->signing);
    if (err == KW_OK)
        err = kw_enckeys_open(app, KW_ENCKEYS_POLL_MS, &app->enckeys);
    if (err == KW_OK)
        err = kw_jwt_cache_new(0, &app->jwt_cache);
    if (err != KW_OK)
        goto out;
    app->throttle = kw_throttle_new();
    if (app->throttle != NULL && kw_store_shared(app->store)) /* a lockout on one node holds on all */
        kw_throttle_share(app->throttle, app->store);
    err = app->throttle ? kw_keycache_new(&app->keys) : KW_ERR_NOMEM;
    if (err == KW_OK)
        KW_DOMAIN_READ(app->store, err, tx, load_cache(tx, app->keys, &loaded_at));
    if (err != KW_OK)
        goto out;
    /* A shared store (other nodes write to it too): follow their changes from the loaded version. */
    if (kw_store_shared(app->store))
        err = kw_sync_start(app, loaded_at, KW_SYNC_INTERVAL_MS, &app->sync);
    if (err != KW_OK)
        goto out;
    err = kw_store_open_relaxed(app->store, &app->wb_store);
    if (err == KW_OK)
        err = kw_writer_start(app->wb_store, app->keys, cfg->flush_interval_ms, &app->writer);
    if (err != KW_OK)
        goto out;
    if (serving) {
        err = start_jobs(app);
        if (err == KW_OK) /* the same node name as the jobs runner's leases */
            err = kw_webhook_sender_start(app, kw_jobs_node(app->jobs), &app->sender);
    }
    if (err != KW_OK)
        goto out;
    kw_store_describe(cfg->store, described, sizeof(described)); /* never a URI's password */
    kw_log_info("store ready", "store=%s data_dir=%s keys=%zu", described, cfg->data_dir,
                kw_keycache_count(app->keys));
    atomic_store(&app->ready, 1);
out:
    if (err != KW_OK)
        kw_log_error("cannot open keyward", "err=%s", kw_err_str(err));
    return err;
}

enum kw_err kw_app_open(struct kw_app *app, const struct kw_config *cfg)
{
    return app_open(app, cfg, 1);
}

enum kw_err kw_app_open_admin(struct kw_app *app, const struct kw_config *cfg)
{
    return app_open(app, cfg, 0);
}

enum kw_err kw_app_check_ready(struct kw_app *app, int64_t now_ms, char *reason, size_t cap)
{
    int64_t last, limit_ms = (int64_t)app->cfg->store_max_staleness_s * 1000;

    if (!atomic_load(&app->ready)) {
        snprintf(reason, cap, "The store or the key cache is not ready yet.");
        return KW_ERR_RETRY;
    }
    if (app->sync == NULL) /* embedded store: every change is made in this process */
        return KW_OK;
    last = kw_sync_last_ok_ms(app->sync);
    if (now_ms - last <= limit_ms)
        return KW_OK;
    snprintf(reason, cap,
             "No change read from the store for %lld s (store-max-staleness-s is %d); verifying from the "
             "key cache only.",
             (long long)((now_ms - last) / 1000), app->cfg->store_max_staleness_s);
    return KW_ERR_RETRY;
}

void kw_app_close(struct kw_app *app)
{
    atomic_store(&app->ready, 0);
    kw_webhook_sender_free(app->sender); /* in-flight attempts end, leases go back */
    app->sender = NULL;
    kw_jobs_free(app->jobs);
    app->jobs = NULL;
    kw_signing_free(app->signing);
    app->signing = NULL;
    kw_enckeys_free(app->enckeys);
    app->enckeys = NULL;
    kw_jwt_cache_free(app->jwt_cache);
    app->jwt_cache = NULL;
    kw_sync_free(app->sync);
    app->sync = NULL;
    kw_writer_free(app->writer);
    app->writer = NULL;
    kw_keycache_free(app->keys);
    app->keys = NULL;
    kw_store_free(app->wb_store);
    app->wb_store = NULL;
    kw_store_free(app->store);
    app->store = NULL;
    kw_throttle_free(app->throttle);
    app->throttle = NULL;
    kw_root_cleanup(&app->root);
    kw_secrets_free(app->secrets);
    app->secrets = NULL;
}
