/* secrets.h - the master key and sealed secrets: values keyward must read back (access keys' secret
 * access keys, signing keys' private keys) are sealed with AES-256-GCM under a fresh data key per
 * object, and the data key is wrapped (AES-256-GCM) by the master key, which never enters the store.
 *
 * The master key comes from KEYWARD_MASTER_KEY (base64 of 32 bytes; a comma-separated list "NEW,OLD"
 * while re-keying) or from a file (config master-key-file, default DATA_DIR/master.key): 32 raw bytes,
 * or several keys concatenated (32*n bytes, n <= 4, the first seals, all open). A missing file is
 * created at first start with 32 random bytes and mode 0600; a file whose mode is wider than 0600 is
 * refused. Every node of a deployment needs the same master key (same file or same variable).
 *
 * Sealed blob (version 1): 0x01 | master key id (8) | data-key IV (12) | wrapped data key (32) | tag (16)
 * | IV (12) | ciphertext (len) | tag (16). Both AEAD operations authenticate the 9-byte header. The
 * master key id is the first 8 bytes of HMAC-SHA256(master key, "keyward master key id"), so `keyward
 * rekey` can tell which blobs still need re-wrapping, and a server that meets an unknown id re-reads its
 * master key file (a key added there while it runs is picked up without a restart).
 *
 * Thread-safe: the key set sits behind a mutex; sealing and opening are rare (not on the verify path). */
#ifndef KW_DOMAIN_SECRETS_H
#define KW_DOMAIN_SECRETS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define KW_SECRETS_KEY_LEN 32
#define KW_SECRETS_ID_LEN 8
#define KW_SECRETS_OVERHEAD (1 + KW_SECRETS_ID_LEN + 12 + 32 + 16 + 12 + 16) /* 97 bytes */
#define KW_SECRETS_SEALED_LEN(n) ((n) + KW_SECRETS_OVERHEAD)
#define KW_SECRETS_MAX_KEYS 8 /* keys held in memory: the file's, plus ones it named before a reload */

struct kw_secrets;

/* The contract's form: KEYWARD_MASTER_KEY if set, else DATA_DIR/master.key (created if missing). */
enum kw_err kw_secrets_open_master(struct kw_secrets **out, const char *data_dir);

/* key_b64 (the value of KEYWARD_MASTER_KEY, or NULL/"" for none) wins; else key_file, or
 * DATA_DIR/master.key when key_file is NULL or "". The file (and data_dir, 0700) is created when
 * missing. KW_ERR_INVALID (with a log line naming the reason, never the key) for a malformed key, a
 * file of the wrong size or a file mode wider than 0600; KW_ERR_IO when the file cannot be read. */
enum kw_err kw_secrets_open_master_at(struct kw_secrets **out, const char *data_dir, const char *key_file,
                                      const char *key_b64);

/* A key set from raw 32-byte keys (first seals); no file behind it (tests, `keyward rekey`). */
enum kw_err kw_secrets_from_keys(const uint8_t *keys, size_t nkeys, struct kw_secrets **out);

void kw_secrets_free(struct kw_secrets *s);

/* The path of the file the keys came from ("" when from the environment or memory). */
const char *kw_secrets_path(const struct kw_secrets *s);

/* Seals len bytes into out (cap >= KW_SECRETS_SEALED_LEN(len)) under the current master key (the file
 * is re-read first if it changed since it was read). KW_ERR_TOO_LARGE when cap is too small. */
enum kw_err kw_secrets_seal(struct kw_secrets *s, const uint8_t *plain, size_t len, uint8_t *out, size_t cap,
                            size_t *out_len);

/* Opens a sealed blob into plain (cap >= len - KW_SECRETS_OVERHEAD). KW_ERR_MALFORMED when the blob is
 * not a sealed blob or was changed; KW_ERR_NOT_FOUND when no known master key has its id (after
 * re-reading the file once). The caller wipes plain after use. */
enum kw_err kw_secrets_open(struct kw_secrets *s, const uint8_t *sealed, size_t len, uint8_t *plain,
                            size_t cap, size_t *plain_len);

/* The id of the master key that seals now, and the id a blob was sealed under (KW_ERR_MALFORMED if the
 * blob is not one). */
void kw_secrets_current_id(struct kw_secrets *s, uint8_t id[KW_SECRETS_ID_LEN]);
enum kw_err kw_secrets_blob_id(const uint8_t *sealed, size_t len, uint8_t id[KW_SECRETS_ID_LEN]);

/* Re-wraps a blob's data key from whichever key of `from` sealed it to `to`'s current key; the payload
 * is kept as it is. out has the same length as the blob (cap >= len). */
enum kw_err kw_secrets_rewrap(struct kw_secrets *from, struct kw_secrets *to, const uint8_t *sealed,
                              size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Reads a master key file (32*n raw bytes) into keys (cap 4 keys); checks the mode (0600 or
 * narrower). For `keyward rekey --new-master-key-file`; creates the file with a fresh key when missing
 * and create is 1. */
enum kw_err kw_secrets_read_file(const char *path, int create, uint8_t *keys, size_t *nkeys);
/* Writes keys (nkeys * 32 bytes) to path atomically (a 0600 temporary file renamed over it). */
enum kw_err kw_secrets_write_file(const char *path, const uint8_t *keys, size_t nkeys);

#endif
