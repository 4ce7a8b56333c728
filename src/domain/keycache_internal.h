/* keycache_internal.h - test hooks of the key cache; nothing in the product calls these. */
#ifndef KW_DOMAIN_KEYCACHE_INTERNAL_H
#define KW_DOMAIN_KEYCACHE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct kw_keycache;

/* The clock that dates tombstones, in ms (default: monotonic). NULL restores the default. */
typedef int64_t (*kw_keycache_clock_fn)(void);
void kw_keycache_set_clock(struct kw_keycache *kc, kw_keycache_clock_fn clock);
/* Tombstones held now. */
size_t kw_keycache_tombstones(struct kw_keycache *kc);

#endif
