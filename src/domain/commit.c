/* commit.c - audited commit for domain writes; see commit_internal.h. */
#include "domain/commit_internal.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "domain/audit.h"
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
    if (detail != NULL)
        snprintf(ev->detail, sizeof(ev->detail), "%s", detail);
}

enum kw_err kw_domain_commit(struct kw_app *app, const struct kw_actor *a, const char *action,
                             const char *target_type, const char *target_id, const char *service_id,
                             const char *detail)
{
    struct kw_audit_event ev;
    enum kw_err err;

    fill_event(&ev, a, action, target_type, target_id, service_id, "success", detail);
    err = kw_audit_chain(app->store, &ev, 1);
    if (err != KW_OK) {
        kw_store_rollback(app->store);
        goto out;
    }
    err = kw_store_commit(app->store);
out:
    if (err != KW_OK)
        kw_log_error("write failed", "action=%s target=%s err=%s", action, target_id ? target_id : "",
                     kw_err_str(err));
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
