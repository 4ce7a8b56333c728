/* services.h - tenants: create, read, update, delete. Writes commit (with their audit event)
 * before they return. */
#ifndef KW_DOMAIN_SERVICES_H
#define KW_DOMAIN_SERVICES_H

#include <stddef.h>
#include <stdint.h>

#include "domain/app.h"
#include "core/records.h"

/* NULL = default (create) or unchanged (update). Validated by the caller for length; the prefix
 * rule is checked here (KW_ERR_INVALID). */
struct kw_service_params {
    const char *name;
    const char *description;
    const char *key_prefix;
};

/* 1 if s (UTF-8) holds no control character: no C0 (U+0000..U+001F, so no newline or tab), no DEL,
 * no C1 (U+0080..U+009F). The rule for every name and description people read in a table or a
 * terminal (services and keys): an ANSI escape or a newline there could forge what is displayed. */
int kw_services_text_valid(const char *s);

enum kw_err kw_services_create(struct kw_app *app, const struct kw_actor *actor,
                               const struct kw_service_params *p, struct kw_service *out);
enum kw_err kw_services_get(struct kw_app *app, const char *id, struct kw_service *out);
enum kw_err kw_services_list(struct kw_app *app, int64_t after_seq, struct kw_service *items, size_t cap,
                             size_t *n);
enum kw_err kw_services_update(struct kw_app *app, const struct kw_actor *actor, const char *id,
                               const struct kw_service_params *p, struct kw_service *out);
/* KW_ERR_CONFLICT when the service has live keys and force is 0. With force, its keys leave the
 * verify cache before this returns. */
/* The services username is a member of (ascending seq). */
enum kw_err kw_services_list_for(struct kw_app *app, const char *username, int64_t after_seq,
                                 struct kw_service *items, size_t cap, size_t *n);
enum kw_err kw_services_delete(struct kw_app *app, const struct kw_actor *actor, const char *id, int force);

#endif
