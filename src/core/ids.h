/* ids.h - public object ids: "<prefix>_" + 16 base62 characters from the CSPRNG (95 bits).
 * e.g. svc_3kTMd9Qx0bL7aZ2c, key_..., evt_... Ids are not secrets. */
#ifndef KW_CORE_IDS_H
#define KW_CORE_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_ID_RANDOM_LEN 16
#define KW_ID_MAX 40 /* buffer size that holds any id with its NUL */

/* Writes prefix + "_" + 16 random base62 chars + NUL into out. prefix is at most 8 chars. */
enum kw_err kw_id_new(const char *prefix, char out[KW_ID_MAX]);
/* The same shape, time-ordered: the 16 characters are now_ms as 8 base62 digits (zero-padded, good
 * until the year 8888) then 8 random ones (47 bits), so ids made later sort after (by strcmp) ids
 * made in an earlier millisecond. For rows appended in time order under a UNIQUE index on the id
 * (audit events): each insert lands at the index's right edge instead of a random page. */
enum kw_err kw_id_new_sorted(const char *prefix, int64_t now_ms, char out[KW_ID_MAX]);
/* 1 if s looks like an id with that prefix (prefix "_" then 16 base62), else 0. */
int kw_id_valid(const char *s, const char *prefix);

#endif
