/* auth_internal.h - authenticators of the door (auth.c) that live in their own files. */
#ifndef KW_DOMAIN_AUTH_INTERNAL_H
#define KW_DOMAIN_AUTH_INTERNAL_H

#include "domain/auth.h"

/* An RFC 9421 signed request (c->signed_request): 1 and out a SERVICE_USER principal (credential_type
 * "signature", credential_id the access key id) when the signature verifies, its created is fresh, and
 * it was not seen before; else 0 with out->denial (and out->code) saying why. Reads the store (the
 * replay check), so such requests never run on an event loop (http/offloop.c). */
int kw_auth_signature(struct kw_app *app, const struct kw_credentials *c, int64_t now_ms,
                      struct kw_principal *out);

#endif
