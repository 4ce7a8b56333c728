/* root.h - the root credential: one token (kwroot_...) that administers everything until human
 * logins exist, and for automation after. Only its SHA-256 is stored (meta "root_token_sha256"). */
#ifndef KW_DOMAIN_ROOT_H
#define KW_DOMAIN_ROOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "crypto/crypto.h"
#include "domain/keyfmt.h"
#include "store/store.h"

#define KW_ROOT_PREFIX "kwroot"
#define KW_ROOT_MIN_LEN 32

/* First start: if no root token exists, stores the hash of `configured` (when non-empty; must be
 * KW_ROOT_MIN_LEN..255 chars, else KW_ERR_INVALID) or of a newly generated token, which is then
 * written to `generated` (caller prints it once). *created = 1 if a token was set now. */
enum kw_err kw_root_ensure(struct kw_store *st, const char *configured, char generated[KW_KEYFMT_MAX],
                           int *created);
/* The root token's hash, held in memory so that the auth path never reads the store for a
 * credential that is not the root token (struct kw_app.root; fields private to root.c).
 *
 * `keyward root-token rotate` is a separate process that writes the store (docs/operations.md: it
 * works while the server runs, and the old token stops on the next request; tests/e2e/root_token).
 * So loading at start is enough for everything but that case, which costs the store only two reads:
 *  - a credential whose hash equals the one in memory (the real root token: admin traffic, never a
 *    flood of guesses) re-reads the stored hash before it is accepted, and refreshes the memory;
 *  - a well-formed "kwroot_" credential that does not match reloads it at most once per
 *    KW_ROOT_RELOAD_MS for the whole process (the new token after a rotation), however many arrive.
 * Anything else (unknown keys, garbage, a flood of either) is one constant-time compare in memory. */
#define KW_ROOT_RELOAD_MS 1000
struct kw_root {
    atomic_uint seq;          /* seqlock over words: odd while they are replaced */
    _Atomic uint64_t words[4]; /* the SHA-256, all zero when none is stored */
    _Atomic int64_t next_reload_ms;
    pthread_mutex_t mu; /* serialises writers of words */
    int ready;
};

/* Initialises r and loads the stored hash (at start, after kw_root_ensure). */
enum kw_err kw_root_load(struct kw_root *r, struct kw_store *st);
void kw_root_cleanup(struct kw_root *r); /* safe on a zeroed or loaded r */
/* 1 if token[0..len) is the root token, else 0; -1 if it may be but the store, which confirms every
 * match (a rotation by another process), did not answer: the caller answers 503, not 401. hash: its SHA-256 when the caller already has it
 * (kw_verify_result.hash), else NULL (hashed here, only when the length can be a root token). */
int kw_root_check(struct kw_root *r, struct kw_store *st, const char *token, size_t len,
                  const uint8_t hash[KW_SHA256_LEN], int64_t now_ms);
/* Replaces the root token with a new generated one (audited as root_token.rotate by actor). */
enum kw_err kw_root_rotate(struct kw_store *st, const char *actor, char out[KW_KEYFMT_MAX]);

#endif
