/* audit.h - the hash-chained audit log.
 *
 * Each event's hash = SHA-256(prev_hash || canonical(event)), where canonical() is a fixed,
 * length-prefixed serialisation of every field, seq included (see audit.c). The first event's prev_hash is 32 zero bytes. Changing,
 * removing or reordering any stored event breaks the chain at that point, which
 * kw_audit_verify reports.
 *
 * Appending happens inside a store transaction: kw_audit_chain reads the head in that transaction,
 * so the chain stays linear whichever thread appends (admin writes synchronously, the write-behind
 * thread in batches). */
#ifndef KW_DOMAIN_AUDIT_H
#define KW_DOMAIN_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/records.h"
#include "store/store.h"

/* Fills ev: zeroes it, sets a new evt_ id and time = now, copies the given strings (NULL -> "",
 * truncated to the field size). outcome is "success", "denied" or "failure". */
void kw_audit_event_init(struct kw_audit_event *ev, const char *actor_type, const char *actor_id,
                         const char *action, const char *target_type, const char *target_id,
                         const char *service_id, const char *outcome);

/* For rendering only: copies e into out with every text field made valid UTF-8 (ill-formed bytes become
 * U+FFFD, cut at a character boundary to the field's size), so a JSON encoder never refuses a stored
 * event (jansson's json_pack returns NULL on invalid UTF-8, which dropped the event from the list).
 * seq, time and hashes are copied unchanged: verify and chain always use the stored bytes. out != e. */
void kw_audit_event_printable(const struct kw_audit_event *e, struct kw_audit_event *out);

/* Computes the hash of ev given ev->prev_hash and ev->seq (used by chain and verify). */
enum kw_err kw_audit_hash(const struct kw_audit_event *ev, uint8_t out[KW_HASH_LEN]);

/* Must be called inside a write transaction: assigns seq, prev_hash and hash to
 * each of events[0..n) in order after the current head, and appends them. */
enum kw_err kw_audit_chain(struct kw_tx *tx, struct kw_audit_event *events, size_t n);

/* Walks the whole log. *checked = events read. *broken_seq = seq of the first event whose
 * prev_hash or hash does not match (or whose seq is not previous + 1), 0 if the chain is intact
 * (-1 if the first broken event is a forged row with seq 0). */
enum kw_err kw_audit_verify(struct kw_store *st, int64_t *checked, int64_t *broken_seq);

#endif
