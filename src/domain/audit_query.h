/* audit_query.h - reading the audit trail for the API (appending is domain/audit.h's). */
#ifndef KW_DOMAIN_AUDIT_QUERY_H
#define KW_DOMAIN_AUDIT_QUERY_H

#include <stddef.h>

#include "domain/app.h"
#include "core/records.h"

/* Events matching f (struct kw_audit_filter: exact fields; an action ending in '*' is a prefix),
 * newest first, into items (cap entries, owned by the caller); *n = how many. */
enum kw_err kw_audit_query_list(struct kw_app *app, const struct kw_audit_filter *f,
                                struct kw_audit_event *items, size_t cap, size_t *n);

#endif
