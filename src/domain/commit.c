/* commit.c - the audited, retried domain write; see commit_internal.h. */
#include "domain/commit_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "domain/audit.h"
#include "domain/webhooks.h"
#include "domain/writer.h"

static void fill_event(struct kw_audit_event *ev, const struct kw_actor *a, const char *action,
                       const char *target_type, const char *target_id, const char *service_id,
                       const char *outcome, const char *detail)
{
    kw_audit_event_init(ev, a->type, a->id, action, target_type, target_id, service_id, outcome);
    if (a->ip != NULL)
        snprintf(ev->ip, sizeof(ev->ip), "%s", a->ip);
    if (a->request_id != NULL)
        snprintf(ev->request_id, sizeof(ev->request_id), "%s", a->request_id);
    if (a->credential_id != NULL && a->credential_type != NULL && strpbrk(a->credential_id, "\"\\") == NULL) {
        /* {"credentialId":..,"credentialType":..} merged before the detail's own members */
        int more = detail != NULL && detail[0] == '{' && detail[1] != '}' && detail[1] != '\0';
        snprintf(ev->detail, sizeof(ev->detail), "{\"credentialId\":\"%s\",\"credentialType\":\"%s\"%s%s",
                 a->credential_id, a->credential_type, more ? "," : "}", more ? detail + 1 : "");
        return;
    }
    if (detail != NULL)
        snprintf(ev->detail, sizeof(ev->detail), "%s", detail);
}

void kw_write_init(struct kw_write *w, const struct kw_actor *actor, const char *action, const char *target_type,
                   const char *target_id, const char *service_id)
{
    memset(w, 0, sizeof(*w));
    w->actor = actor;
    w->action = action;
    w->target_type = target_type;
    snprintf(w->target_id, sizeof(w->target_id), "%s", target_id ? target_id : "");
    snprintf(w->service_id, sizeof(w->service_id), "%s", service_id ? service_id : "");
}

/* One attempt: everything in one transaction, committed only when every step succeeded. */
static enum kw_err attempt(struct kw_app *app, struct kw_write *w, kw_write_body_fn body, void *ctx)
{
    struct kw_audit_event ev;
    struct kw_tx *tx = NULL;
    enum kw_err err;

    err = kw_store_begin(app->store, KW_TX_WRITE, &tx);
    if (err != KW_OK)
        return err;
    w->conflict = NULL;
    free(w->webhook_data);
    w->webhook_data = NULL;
    w->webhooks_enqueued = 0;
    err = body(tx, ctx, w);
    if (err == KW_OK)
        err = kw_webhooks_enqueue(tx, app, w); /* the outbox: in the change's transaction */
    if (err == KW_OK) {
        fill_event(&ev, w->actor, w->action, w->target_type, w->target_id, w->service_id, "success",
                   w->detail[0] ? w->detail : NULL);
        err = kw_audit_chain(tx, &ev, 1);
    }
    if (err != KW_OK) {
        kw_store_rollback(tx);
        return err;
    }
    return kw_store_commit(tx);
}

enum kw_err kw_domain_write(struct kw_app *app, struct kw_write *w, kw_write_body_fn body, void *ctx)
{
    enum kw_err err = KW_ERR_RETRY;
    int i;

    for (i = 0; i < KW_DOMAIN_WRITE_TRIES && err == KW_ERR_RETRY; i++) {
        if (i > 0) {
            struct timespec ts = {0, 5000000L * i}; /* 5, 10, 15 ms: let the other writer finish */
            nanosleep(&ts, NULL);
        }
        err = attempt(app, w, body, ctx);
    }
    free(w->webhook_data);
    w->webhook_data = NULL;
    if (err == KW_OK && w->webhooks_enqueued > 0 && app->webhooks_wake != NULL)
        app->webhooks_wake(app->webhooks_wake_ctx);
    if (err == KW_OK && app->after_commit != NULL)
        app->after_commit(app->after_commit_ctx, w->action);
    if (err != KW_OK && err != KW_ERR_NOT_FOUND && err != KW_ERR_CONFLICT && err != KW_ERR_EXISTS &&
        err != KW_ERR_INVALID)
        kw_log_error("write failed", "action=%s target=%s err=%s tries=%d", w->action, w->target_id,
                     kw_err_str(err), i);
    return err;
}

void kw_domain_audit_async(struct kw_app *app, const struct kw_actor *a, const char *action,
                           const char *target_type, const char *target_id, const char *service_id,
                           const char *outcome, const char *detail)
{
    struct kw_audit_event ev;

    fill_event(&ev, a, action, target_type, target_id, service_id, outcome, detail);
    kw_writer_audit(app->writer, &ev);
}
