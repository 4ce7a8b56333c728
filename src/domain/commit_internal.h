/* commit_internal.h - shared by domain write paths: finish a transaction with its audit event. */
#ifndef KW_DOMAIN_COMMIT_INTERNAL_H
#define KW_DOMAIN_COMMIT_INTERNAL_H

#include "domain/app.h"

/* Inside a transaction opened with kw_store_begin: appends one audit event (outcome success) for
 * this write and commits. On any failure rolls back and returns the error. detail is a JSON
 * object as text, or NULL. */
enum kw_err kw_domain_commit(struct kw_app *app, const struct kw_actor *a, const char *action,
                             const char *target_type, const char *target_id, const char *service_id,
                             const char *detail);

/* Queues an audit event (write-behind) for something that did not change state: a denied or
 * failed request, a read. */
void kw_domain_audit_async(struct kw_app *app, const struct kw_actor *a, const char *action,
                           const char *target_type, const char *target_id, const char *service_id,
                           const char *outcome, const char *detail);

#endif
