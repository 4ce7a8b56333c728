/* secrets.c - the master key and the sealed-blob envelope; see secrets.h. */
#include "domain/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "crypto/crypto.h"

#define VERSION 1
#define HDR_LEN (1 + KW_SECRETS_ID_LEN)
#define WRAP_LEN (KW_GCM_IV_LEN + KW_SECRETS_KEY_LEN + KW_GCM_TAG_LEN)
#define FILE_MAX_KEYS 4

struct mkey {
    uint8_t key[KW_SECRETS_KEY_LEN];
    uint8_t id[KW_SECRETS_ID_LEN];
};

struct kw_secrets {
    pthread_mutex_t mu;
    struct mkey keys[KW_SECRETS_MAX_KEYS]; /* keys[0] seals */
    size_t n;
    char path[1024];  /* "" when the keys did not come from a file */
    struct stat seen; /* the file as last read, to notice a change */
};

static enum kw_err key_id(const uint8_t key[KW_SECRETS_KEY_LEN], uint8_t id[KW_SECRETS_ID_LEN])
{
    static const char label[] = "keyward master key id";
    uint8_t mac[KW_HMAC_SHA256_LEN];
    enum kw_err err = kw_crypto_hmac_sha256(key, KW_SECRETS_KEY_LEN, label, sizeof(label) - 1, mac);

    memcpy(id, mac, KW_SECRETS_ID_LEN);
    return err;
}

/* Replaces the set with keys (first seals), keeping earlier keys after them so blobs sealed under a key
 * the file no longer names still open in this process. */
static enum kw_err set_keys(struct kw_secrets *s, const uint8_t *keys, size_t nkeys)
{
    struct mkey next[KW_SECRETS_MAX_KEYS];
    size_t n = 0, i, j;

    for (i = 0; i < nkeys && n < KW_SECRETS_MAX_KEYS; i++) {
        memcpy(next[n].key, keys + i * KW_SECRETS_KEY_LEN, KW_SECRETS_KEY_LEN);
        if (key_id(next[n].key, next[n].id) != KW_OK)
            return KW_ERR_CRYPTO;
        n++;
    }
    for (i = 0; i < s->n && n < KW_SECRETS_MAX_KEYS; i++) {
        for (j = 0; j < n && memcmp(next[j].id, s->keys[i].id, KW_SECRETS_ID_LEN) != 0; j++)
            ;
        if (j == n)
            next[n++] = s->keys[i];
    }
    memcpy(s->keys, next, sizeof(next));
    s->n = n;
    explicit_bzero(next, sizeof(next));
    return KW_OK;
}

static enum kw_err create_file(const char *path)
{
    uint8_t key[KW_SECRETS_KEY_LEN];
    char tmp[1100];
    enum kw_err err = KW_ERR_IO;
    int fd;

    if (kw_crypto_random(key, sizeof(key)) != KW_OK)
        return KW_ERR_CRYPTO;
    snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    if (write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) && fsync(fd) == 0)
        err = KW_OK;
    close(fd);
    /* link, not rename: when two processes start at once, the first file stays and both read it. */
    if (err == KW_OK && link(tmp, path) != 0 && errno != EEXIST)
        err = KW_ERR_IO;
    unlink(tmp);
    if (err == KW_OK)
        kw_log_info("master key created", "path=%s", path);
out:
    explicit_bzero(key, sizeof(key));
    return err;
}

/* Reads and checks the file; st receives its stat. */
static enum kw_err read_file(const char *path, int create, uint8_t *keys, size_t *nkeys, struct stat *st)
{
    uint8_t buf[FILE_MAX_KEYS * KW_SECRETS_KEY_LEN + 1];
    ssize_t got = 0, r;
    enum kw_err err = KW_ERR_INVALID;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    *nkeys = 0;
    if (fd < 0 && errno == ENOENT && create) {
        if ((err = create_file(path)) != KW_OK) {
            kw_log_error("cannot create the master key file", "path=%s errno=%d", path, errno);
            return err;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0) {
        kw_log_error("cannot read the master key file", "path=%s errno=%d", path, errno);
        return KW_ERR_IO;
    }
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        kw_log_error("the master key file is not a regular file", "path=%s", path);
        goto out;
    }
    if ((st->st_mode & 077) != 0) {
        kw_log_error("the master key file is readable by others: chmod 600 it", "path=%s mode=%o", path,
                     (unsigned)(st->st_mode & 0777));
        goto out;
    }
    while ((size_t)got < sizeof(buf) && (r = read(fd, buf + got, sizeof(buf) - (size_t)got)) > 0)
        got += r;
    if (got <= 0 || got % KW_SECRETS_KEY_LEN != 0 || (size_t)got > FILE_MAX_KEYS * KW_SECRETS_KEY_LEN) {
        kw_log_error("the master key file must hold 32 raw bytes (or up to 4 keys of 32 bytes)",
                     "path=%s bytes=%zd", path, got);
        goto out;
    }
    memcpy(keys, buf, (size_t)got);
    *nkeys = (size_t)got / KW_SECRETS_KEY_LEN;
    err = KW_OK;
out:
    explicit_bzero(buf, sizeof(buf));
    close(fd);
    return err;
}

enum kw_err kw_secrets_read_file(const char *path, int create, uint8_t *keys, size_t *nkeys)
{
    struct stat st;

    return read_file(path, create, keys, nkeys, &st);
}

enum kw_err kw_secrets_write_file(const char *path, const uint8_t *keys, size_t nkeys)
{
    char tmp[1100];
    size_t len = nkeys * KW_SECRETS_KEY_LEN;
    enum kw_err err = KW_ERR_IO;
    int fd;

    if (nkeys == 0 || nkeys > FILE_MAX_KEYS)
        return KW_ERR_INVALID;
    snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid());
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return KW_ERR_IO;
    if (write(fd, keys, len) == (ssize_t)len && fsync(fd) == 0)
        err = KW_OK;
    close(fd);
    if (err == KW_OK && rename(tmp, path) != 0)
        err = KW_ERR_IO;
    if (err != KW_OK)
        unlink(tmp);
    return err;
}

static enum kw_err parse_env(const char *v, uint8_t *keys, size_t *nkeys)
{
    size_t n = 0;

    while (*v != '\0') {
        size_t len = strcspn(v, ","), got = 0;
        if (n == FILE_MAX_KEYS ||
            kw_crypto_base64_decode(v, len, keys + n * KW_SECRETS_KEY_LEN, KW_SECRETS_KEY_LEN, &got) !=
                KW_OK ||
            got != KW_SECRETS_KEY_LEN)
            return KW_ERR_INVALID;
        n++;
        v += len + (v[len] == ',');
    }
    *nkeys = n;
    return n > 0 ? KW_OK : KW_ERR_INVALID;
}

static enum kw_err secrets_new(struct kw_secrets **out)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return KW_ERR_NOMEM;
    pthread_mutex_init(&(*out)->mu, NULL);
    return KW_OK;
}

enum kw_err kw_secrets_from_keys(const uint8_t *keys, size_t nkeys, struct kw_secrets **out)
{
    enum kw_err err = nkeys > 0 ? secrets_new(out) : KW_ERR_INVALID;

    if (err == KW_OK && (err = set_keys(*out, keys, nkeys)) != KW_OK) {
        kw_secrets_free(*out);
        *out = NULL;
    }
    return err;
}

static enum kw_err mkdir_0700(const char *dir)
{
    char buf[1024];
    size_t len = strnlen(dir, sizeof(buf)), i;

    if (len == 0 || len >= sizeof(buf))
        return KW_ERR_INVALID;
    memcpy(buf, dir, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return KW_ERR_IO;
        buf[i] = i < len ? '/' : '\0';
    }
    return KW_OK;
}

enum kw_err kw_secrets_open_master_at(struct kw_secrets **out, const char *data_dir, const char *key_file,
                                      const char *key_b64)
{
    uint8_t keys[FILE_MAX_KEYS * KW_SECRETS_KEY_LEN];
    struct kw_secrets *s = NULL;
    size_t nkeys = 0;
    enum kw_err err;

    *out = NULL;
    if ((err = secrets_new(&s)) != KW_OK)
        return err;
    if (key_b64 != NULL && key_b64[0] != '\0') {
        err = parse_env(key_b64, keys, &nkeys);
        if (err != KW_OK)
            kw_log_error("KEYWARD_MASTER_KEY rejected",
                         "reason=\"must be base64 of 32 bytes (NEW,OLD while re-keying)\"");
    } else {
        if (key_file != NULL && key_file[0] != '\0')
            snprintf(s->path, sizeof(s->path), "%s", key_file);
        else if ((err = mkdir_0700(data_dir)) == KW_OK)
            snprintf(s->path, sizeof(s->path), "%s/master.key", data_dir);
        if (err == KW_OK)
            err = read_file(s->path, 1, keys, &nkeys, &s->seen);
    }
    if (err == KW_OK)
        err = set_keys(s, keys, nkeys);
    explicit_bzero(keys, sizeof(keys));
    if (err != KW_OK) {
        kw_secrets_free(s);
        return err;
    }
    *out = s;
    return KW_OK;
}

enum kw_err kw_secrets_open_master(struct kw_secrets **out, const char *data_dir)
{
    return kw_secrets_open_master_at(out, data_dir, NULL, getenv("KEYWARD_MASTER_KEY"));
}

void kw_secrets_free(struct kw_secrets *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->mu);
    explicit_bzero(s, sizeof(*s));
    free(s);
}

const char *kw_secrets_path(const struct kw_secrets *s)
{
    return s->path;
}

/* Under s->mu: re-reads the file when it changed since it was read (a failed read keeps the old set). */
static void refresh(struct kw_secrets *s)
{
    uint8_t keys[FILE_MAX_KEYS * KW_SECRETS_KEY_LEN];
    struct stat st;
    size_t nkeys;

    if (s->path[0] == '\0' || stat(s->path, &st) != 0)
        return;
    if (st.st_ino == s->seen.st_ino && st.st_dev == s->seen.st_dev && st.st_size == s->seen.st_size &&
        st.st_mtim.tv_sec == s->seen.st_mtim.tv_sec && st.st_mtim.tv_nsec == s->seen.st_mtim.tv_nsec)
        return;
    if (read_file(s->path, 0, keys, &nkeys, &st) == KW_OK && set_keys(s, keys, nkeys) == KW_OK) {
        s->seen = st;
        kw_log_info("master key file reloaded", "path=%s keys=%zu", s->path, nkeys);
    }
    explicit_bzero(keys, sizeof(keys));
}

/* Copies the current key (find == NULL) or the key with id find into k; reloads the file once when
 * the id is unknown. 0 if found. */
static int get_key(struct kw_secrets *s, const uint8_t *find, struct mkey *k)
{
    int pass, found = 0;
    size_t i;

    pthread_mutex_lock(&s->mu);
    for (pass = 0; pass < 2 && !found; pass++) {
        if (find == NULL || pass == 1)
            refresh(s);
        for (i = 0; i < s->n && !found; i++) {
            if (find == NULL || memcmp(s->keys[i].id, find, KW_SECRETS_ID_LEN) == 0) {
                *k = s->keys[i];
                found = 1;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return found ? 0 : -1;
}

void kw_secrets_current_id(struct kw_secrets *s, uint8_t id[KW_SECRETS_ID_LEN])
{
    pthread_mutex_lock(&s->mu);
    memcpy(id, s->keys[0].id, KW_SECRETS_ID_LEN);
    pthread_mutex_unlock(&s->mu);
}

enum kw_err kw_secrets_blob_id(const uint8_t *sealed, size_t len, uint8_t id[KW_SECRETS_ID_LEN])
{
    if (len < KW_SECRETS_OVERHEAD || sealed[0] != VERSION)
        return KW_ERR_MALFORMED;
    memcpy(id, sealed + 1, KW_SECRETS_ID_LEN);
    return KW_OK;
}

/* Writes header and wrapped data key (HDR_LEN + WRAP_LEN bytes) under master key k. */
static enum kw_err wrap_dek(const struct mkey *k, const uint8_t dek[KW_SECRETS_KEY_LEN], uint8_t *out)
{
    uint8_t *iv = out + HDR_LEN, *ct = iv + KW_GCM_IV_LEN, *tag = ct + KW_SECRETS_KEY_LEN;

    out[0] = VERSION;
    memcpy(out + 1, k->id, KW_SECRETS_ID_LEN);
    if (kw_crypto_random(iv, KW_GCM_IV_LEN) != KW_OK)
        return KW_ERR_CRYPTO;
    return kw_crypto_aes_gcm_seal(k->key, iv, out, HDR_LEN, dek, KW_SECRETS_KEY_LEN, ct, tag);
}

/* Unwraps a blob's data key with whichever key of s has its id. */
static enum kw_err unwrap_dek(struct kw_secrets *s, const uint8_t *sealed, size_t len,
                              uint8_t dek[KW_SECRETS_KEY_LEN])
{
    const uint8_t *iv = sealed + HDR_LEN, *ct = iv + KW_GCM_IV_LEN, *tag = ct + KW_SECRETS_KEY_LEN;
    struct mkey k;
    enum kw_err err;

    if (len < KW_SECRETS_OVERHEAD || sealed[0] != VERSION)
        return KW_ERR_MALFORMED;
    if (get_key(s, sealed + 1, &k) != 0)
        return KW_ERR_NOT_FOUND;
    err = kw_crypto_aes_gcm_open(k.key, iv, sealed, HDR_LEN, ct, KW_SECRETS_KEY_LEN, tag, dek);
    explicit_bzero(&k, sizeof(k));
    return err;
}

enum kw_err kw_secrets_seal(struct kw_secrets *s, const uint8_t *plain, size_t len, uint8_t *out, size_t cap,
                            size_t *out_len)
{
    uint8_t dek[KW_SECRETS_KEY_LEN], *iv = out + HDR_LEN + WRAP_LEN, *ct = iv + KW_GCM_IV_LEN;
    static const uint8_t aad[1] = {VERSION};
    struct mkey k;
    enum kw_err err;

    *out_len = 0;
    if (len > SIZE_MAX - KW_SECRETS_OVERHEAD || cap < KW_SECRETS_SEALED_LEN(len))
        return KW_ERR_TOO_LARGE;
    if (get_key(s, NULL, &k) != 0)
        return KW_ERR_INTERNAL;
    err = kw_crypto_random(dek, sizeof(dek));
    if (err == KW_OK)
        err = wrap_dek(&k, dek, out);
    if (err == KW_OK)
        err = kw_crypto_random(iv, KW_GCM_IV_LEN);
    /* The payload is bound to the envelope version only, so re-wrapping the data key keeps it valid. */
    if (err == KW_OK)
        err = kw_crypto_aes_gcm_seal(dek, iv, aad, sizeof(aad), plain, len, ct, ct + len);
    explicit_bzero(dek, sizeof(dek));
    explicit_bzero(&k, sizeof(k));
    if (err == KW_OK)
        *out_len = KW_SECRETS_SEALED_LEN(len);
    return err;
}

enum kw_err kw_secrets_open(struct kw_secrets *s, const uint8_t *sealed, size_t len, uint8_t *plain,
                            size_t cap, size_t *plain_len)
{
    static const uint8_t aad[1] = {VERSION};
    const uint8_t *iv = sealed + HDR_LEN + WRAP_LEN, *ct = iv + KW_GCM_IV_LEN;
    uint8_t dek[KW_SECRETS_KEY_LEN];
    size_t n;
    enum kw_err err;

    *plain_len = 0;
    if (len < KW_SECRETS_OVERHEAD)
        return KW_ERR_MALFORMED;
    n = len - KW_SECRETS_OVERHEAD;
    if (cap < n)
        return KW_ERR_TOO_LARGE;
    err = unwrap_dek(s, sealed, len, dek);
    if (err == KW_OK)
        err = kw_crypto_aes_gcm_open(dek, iv, aad, sizeof(aad), ct, n, ct + n, plain);
    explicit_bzero(dek, sizeof(dek));
    if (err == KW_OK)
        *plain_len = n;
    else
        explicit_bzero(plain, n);
    return err;
}

enum kw_err kw_secrets_rewrap(struct kw_secrets *from, struct kw_secrets *to, const uint8_t *sealed,
                              size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    uint8_t dek[KW_SECRETS_KEY_LEN];
    struct mkey k;
    enum kw_err err;

    *out_len = 0;
    if (cap < len)
        return KW_ERR_TOO_LARGE;
    err = unwrap_dek(from, sealed, len, dek);
    if (err == KW_OK && get_key(to, NULL, &k) != 0)
        err = KW_ERR_INTERNAL;
    if (err == KW_OK)
        err = wrap_dek(&k, dek, out);
    explicit_bzero(dek, sizeof(dek));
    explicit_bzero(&k, sizeof(k));
    if (err != KW_OK)
        return err;
    memmove(out + HDR_LEN + WRAP_LEN, sealed + HDR_LEN + WRAP_LEN, len - HDR_LEN - WRAP_LEN);
    *out_len = len;
    return KW_OK;
}
