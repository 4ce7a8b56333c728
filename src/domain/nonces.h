/* nonces.h - single-use values across a deployment (store.h: nonces): a value seen once is refused
 * the second time on any node while it is kept (KW_JOBS_NONCE_KEEP_MS, then nonces.purge deletes it). */
#ifndef KW_DOMAIN_NONCES_H
#define KW_DOMAIN_NONCES_H

#include <stdint.h>

#include "core/err.h"
#include "domain/app.h"

/* Records (scope, value) at now_ms in its own write transaction (no audit event: the caller's request
 * is audited), rerun on KW_ERR_RETRY. KW_OK the first time, KW_ERR_CONFLICT for a replay, KW_ERR_RETRY /
 * KW_ERR_STORE when the store could not say (the caller must refuse: fail closed). */
enum kw_err kw_nonce_use(struct kw_app *app, const char *scope, const char *value, int64_t now_ms);

#endif
