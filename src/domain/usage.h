/* usage.h - reading a service's verification counters (written behind by the writer thread). */
#ifndef KW_DOMAIN_USAGE_H
#define KW_DOMAIN_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "domain/app.h"
#include "core/records.h"

/* The usage of service_id's keys since from_ms, summed per key per hour, ordered by hour then key,
 * each point naming its key's start and description (kept when the key has been deleted). The
 * caller owns items (cap entries); *n = how many were written. KW_ERR_NOT_FOUND when there is no
 * such service. */
enum kw_err kw_usage_list(struct kw_app *app, const char *service_id, int64_t from_ms,
                          struct kw_usage_point *items, size_t cap, size_t *n);

#endif
