/* sqlite_documents.c - documents for the SQLite backend (store.h: documents). The rows live in the
 * database; the content lives beside it in <data-dir>/documents/<id>: the chunks back to back, each
 * IV | ciphertext | tag. An ingest stages the content before its write transaction (content_stage:
 * "<id>.tmp" written, fsynced, its directory fsynced), so the encryption, the write and the fsync run
 * in parallel off SQLite's single writer; inside the transaction content_put(fn NULL) only links the
 * staging file to "<id>"; after the commit content_done fsyncs the directory and unlinks "<id>.tmp"
 * (content_drop after a failure unlinks both, the final name only if the row is absent). Crash cases,
 * settled by content_recover at start from the staging files alone: before the commit, "<id>.tmp" (and
 * maybe "<id>") without a row -> both removed; after it, with the link lost or not -> "<id>" ensured and
 * "<id>.tmp" removed. A file without a row is never readable (its data key was never stored) and no
 * read finds it (reads go through the row). content_put with a producer (fn) still writes, fsyncs and
 * renames the file inside the transaction (the contract test's path). Statements are prepared per call
 * under the connection's lock (not a hot path). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/log.h"
#include "store/sqlite_internal.h"

#define SQ(s) ((struct kw_sqlite *)(s))
#define TEXT(st, i, v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC)

#define DOC_COLS                                                                                          \
    "seq, id, service_id, service_user_id, credential_id, filename, media_type, size, sha256, "          \
    "source_tag, external_id, document_category, department, approver_department, metadata, "            \
    "sealed_dek, chunk_size, nchunks, idempotency_key, idempotency_hash, created_at, deleted_at"

static sqlite3_stmt *prep(struct kw_sqlite *s, const char *sql, const char *op)
{
    sqlite3_stmt *q = NULL;
    int rc;

    pthread_mutex_lock(&s->mu);
    rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) {
        kw_sq_fail(s, op, rc);
        sqlite3_finalize(q);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    return q;
}

static void fin(struct kw_sqlite *s, sqlite3_stmt *q)
{
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->mu);
}

static void doc_row(sqlite3_stmt *q, void *item)
{
    struct kw_document *d = item;
    int n;

    memset(d, 0, sizeof(*d));
    d->seq = sqlite3_column_int64(q, 0);
    kw_sq_text(q, 1, d->id, sizeof(d->id));
    kw_sq_text(q, 2, d->service_id, sizeof(d->service_id));
    kw_sq_text(q, 3, d->service_user_id, sizeof(d->service_user_id));
    kw_sq_text(q, 4, d->credential_id, sizeof(d->credential_id));
    kw_sq_text(q, 5, d->filename, sizeof(d->filename));
    kw_sq_text(q, 6, d->media_type, sizeof(d->media_type));
    d->size = sqlite3_column_int64(q, 7);
    kw_sq_text(q, 8, d->sha256, sizeof(d->sha256));
    kw_sq_text(q, 9, d->source_tag, sizeof(d->source_tag));
    kw_sq_text(q, 10, d->external_id, sizeof(d->external_id));
    kw_sq_text(q, 11, d->document_category, sizeof(d->document_category));
    kw_sq_text(q, 12, d->department, sizeof(d->department));
    kw_sq_text(q, 13, d->approver_department, sizeof(d->approver_department));
    kw_sq_text(q, 14, d->metadata, sizeof(d->metadata));
    n = sqlite3_column_bytes(q, 15);
    if (n > 0 && (size_t)n <= sizeof(d->sealed_dek)) {
        memcpy(d->sealed_dek, sqlite3_column_blob(q, 15), (size_t)n);
        d->sealed_dek_len = (size_t)n;
    }
    d->chunk_size = sqlite3_column_int64(q, 16);
    d->nchunks = sqlite3_column_int64(q, 17);
    kw_sq_text(q, 18, d->idempotency_key, sizeof(d->idempotency_key));
    if (sqlite3_column_bytes(q, 19) == KW_HASH_LEN)
        memcpy(d->idempotency_hash, sqlite3_column_blob(q, 19), KW_HASH_LEN);
    d->created_at = sqlite3_column_int64(q, 20);
    d->deleted_at = sqlite3_column_int64(q, 21);
}

enum kw_err kw_sq_document_insert(struct kw_tx *tx, struct kw_document *d)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s,
                           "INSERT INTO documents(id, service_id, service_user_id, credential_id, filename, "
                           "media_type, size, sha256, source_tag, external_id, document_category, department, "
                           "approver_department, metadata, sealed_dek, chunk_size, nchunks, idempotency_key, "
                           "idempotency_hash, created_at, deleted_at) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           "document_insert");
    enum kw_err err;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    KW_SQ_FIELD(q, 1, d->id);
    KW_SQ_FIELD(q, 2, d->service_id);
    KW_SQ_FIELD(q, 3, d->service_user_id);
    KW_SQ_FIELD(q, 4, d->credential_id);
    KW_SQ_FIELD(q, 5, d->filename);
    KW_SQ_FIELD(q, 6, d->media_type);
    sqlite3_bind_int64(q, 7, d->size);
    KW_SQ_FIELD(q, 8, d->sha256);
    KW_SQ_FIELD(q, 9, d->source_tag);
    KW_SQ_FIELD(q, 10, d->external_id);
    KW_SQ_FIELD(q, 11, d->document_category);
    KW_SQ_FIELD(q, 12, d->department);
    KW_SQ_FIELD(q, 13, d->approver_department);
    KW_SQ_FIELD(q, 14, d->metadata);
    if (d->sealed_dek_len > 0)
        sqlite3_bind_blob(q, 15, d->sealed_dek, (int)d->sealed_dek_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 15);
    sqlite3_bind_int64(q, 16, d->chunk_size);
    sqlite3_bind_int64(q, 17, d->nchunks);
    KW_SQ_FIELD(q, 18, d->idempotency_key);
    sqlite3_bind_blob(q, 19, d->idempotency_hash, KW_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 20, d->created_at);
    sqlite3_bind_int64(q, 21, d->deleted_at);
    rc = sqlite3_step(q);
    err = rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, "document_insert", rc);
    if (err == KW_OK)
        d->seq = sqlite3_last_insert_rowid(s->db);
    fin(s, q);
    return err;
}

static enum kw_err get_one(struct kw_tx *tx, const char *sql, const char *a, const char *b,
                           struct kw_document *out, const char *op)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s, sql, op);
    enum kw_err err = KW_OK;
    int rc;

    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, a);
    if (b != NULL)
        TEXT(q, 2, b);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        doc_row(q, out);
    else
        err = rc == SQLITE_DONE ? KW_ERR_NOT_FOUND : kw_sq_fail(s, op, rc);
    fin(s, q);
    return err;
}

enum kw_err kw_sq_document_get(struct kw_tx *tx, const char *id, struct kw_document *out)
{
    return get_one(tx, "SELECT " DOC_COLS " FROM documents WHERE id = ?", id, NULL, out, "document_get");
}

enum kw_err kw_sq_document_get_idem(struct kw_tx *tx, const char *service_id, const char *key,
                                    struct kw_document *out)
{
    if (key == NULL || key[0] == '\0')
        return KW_ERR_NOT_FOUND;
    return get_one(tx, "SELECT " DOC_COLS " FROM documents WHERE service_id = ? AND idempotency_key = ?",
                   service_id, key, out, "document_get_idem");
}

static const char *opt(const char *s)
{
    return s != NULL ? s : "";
}

enum kw_err kw_sq_document_list(struct kw_tx *tx, const struct kw_document_filter *f, struct kw_document *items,
                                size_t cap, size_t *n)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s,
                           "SELECT " DOC_COLS " FROM documents WHERE service_id = ?1 AND deleted_at = 0 "
                           "AND seq > ?2 AND (?3 = '' OR source_tag = ?3) AND (?4 = '' OR external_id = ?4) "
                           "AND (?5 = '' OR document_category = ?5) AND (?6 = '' OR department = ?6) "
                           "AND (?7 = '' OR service_user_id = ?7) AND created_at >= ?8 "
                           "AND (?9 = 0 OR created_at < ?9) ORDER BY seq LIMIT ?10",
                           "document_list");
    enum kw_err err;

    *n = 0;
    if (q == NULL)
        return KW_ERR_STORE;
    TEXT(q, 1, f->service_id);
    sqlite3_bind_int64(q, 2, f->after_seq);
    TEXT(q, 3, opt(f->source_tag));
    TEXT(q, 4, opt(f->external_id));
    TEXT(q, 5, opt(f->document_category));
    TEXT(q, 6, opt(f->department));
    TEXT(q, 7, opt(f->service_user_id));
    sqlite3_bind_int64(q, 8, f->since);
    sqlite3_bind_int64(q, 9, f->until);
    sqlite3_bind_int64(q, 10, (sqlite3_int64)cap);
    err = kw_sq_collect(s, q, doc_row, items, sizeof(*items), cap, n, "document_list");
    fin(s, q);
    return err;
}

/* <data-dir>/documents (the directory of the database file + "/documents") into out. */
static int docs_dir(const struct kw_sqlite *s, char *out, size_t cap)
{
    const char *slash = strrchr(s->path, '/');
    int dlen = slash != NULL ? (int)(slash - s->path) : 1;
    int n;

    n = snprintf(out, cap, "%.*s/documents", dlen, slash != NULL ? s->path : ".");
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The content file of id (suffix "" or ".tmp"); -1 for an id that is not a document id. */
static int doc_path(const struct kw_sqlite *s, const char *id, const char *suffix, char *out, size_t cap)
{
    char dir[1100];
    int n;

    if (!kw_id_valid(id, "doc") || docs_dir(s, dir, sizeof(dir)) != 0)
        return -1;
    n = snprintf(out, cap, "%s/%s%s", dir, id, suffix);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static enum kw_err io_fail(const char *op, const char *path)
{
    kw_log_error("document file failure", "op=%s path=\"%s\" err=\"%s\"", op, path, strerror(errno));
    return KW_ERR_IO;
}

static enum kw_err sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return io_fail("open_dir", dir);
    rc = fsync(fd);
    close(fd);
    return rc == 0 ? KW_OK : io_fail("fsync_dir", dir);
}

static enum kw_err write_all(int fd, const uint8_t *p, size_t len, const char *path)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return io_fail("write", path);
        }
        p += w;
        len -= (size_t)w;
    }
    return KW_OK;
}

#define WRITEBACK_EVERY (1u << 20) /* bytes written between two starts of their writeback */

/* Starts the writeback of [from, to) of fd without waiting for it, so the disk writes while the next
 * chunks are encrypted and the final fsync has only the tail (and the metadata) left to wait for. A
 * hint: the fsync that follows is what makes the file durable, so a failure here changes nothing. */
static void start_writeback(int fd, off_t from, off_t to)
{
    if (to > from)
        (void)sync_file_range(fd, from, to - from, SYNC_FILE_RANGE_WRITE);
}

/* Writes the chunks fn produces into a new tmp (0600) and fsyncs it; tmp is unlinked on failure. */
static enum kw_err write_tmp(const char *dir, const char *tmp, int64_t nchunks, size_t rec_size,
                             kw_store_chunk_fn fn, void *ctx)
{
    enum kw_err err = KW_OK;
    off_t written = 0, flushed = 0;
    uint8_t *buf;
    int64_t i;
    int fd;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return io_fail("mkdir", dir);
    buf = malloc(rec_size);
    if (buf == NULL)
        return KW_ERR_NOMEM;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(buf);
        return io_fail("open", tmp);
    }
    for (i = 0; i < nchunks && err == KW_OK; i++) {
        size_t len = 0;
        err = fn(ctx, i, buf, rec_size, &len);
        if (err == KW_OK && (len > rec_size || (i + 1 < nchunks && len != rec_size)))
            err = KW_ERR_INVALID; /* every chunk but the last is exactly rec_size: chunk_get seeks by it */
        if (err == KW_OK)
            err = write_all(fd, buf, len, tmp);
        written += (off_t)len;
        if (err == KW_OK && written - flushed >= (off_t)WRITEBACK_EVERY) {
            start_writeback(fd, flushed, written);
            flushed = written;
        }
    }
    free(buf);
    if (err == KW_OK && fsync(fd) != 0)
        err = io_fail("fsync", tmp);
    if (close(fd) != 0 && err == KW_OK)
        err = io_fail("close", tmp);
    if (err != KW_OK)
        unlink(tmp);
    return err;
}

enum kw_err kw_sq_document_content_stage(struct kw_store *st, const char *id, int64_t nchunks, size_t rec_size,
                                         kw_store_chunk_fn fn, void *ctx, int *staged)
{
    struct kw_sqlite *s = SQ(st);
    char dir[1100], tmp[1200];
    enum kw_err err;

    *staged = 0;
    if (nchunks < 1 || rec_size == 0 || fn == NULL || docs_dir(s, dir, sizeof(dir)) != 0 ||
        doc_path(s, id, ".tmp", tmp, sizeof(tmp)) != 0)
        return KW_ERR_INVALID;
    err = write_tmp(dir, tmp, nchunks, rec_size, fn, ctx);
    if (err == KW_OK)
        err = sync_dir(dir); /* the staging name survives a crash: content_recover finds it */
    if (err != KW_OK) {
        unlink(tmp);
        return err;
    }
    *staged = 1;
    return KW_OK;
}

enum kw_err kw_sq_document_content_put(struct kw_tx *tx, const char *id, int64_t nchunks, size_t rec_size,
                                       kw_store_chunk_fn fn, void *ctx)
{
    struct kw_sqlite *s = SQ(tx->st);
    char dir[1100], tmp[1200], final[1200];
    enum kw_err err;

    if (nchunks < 1 || rec_size == 0 || docs_dir(s, dir, sizeof(dir)) != 0 ||
        doc_path(s, id, ".tmp", tmp, sizeof(tmp)) != 0 || doc_path(s, id, "", final, sizeof(final)) != 0)
        return KW_ERR_INVALID;
    if (fn == NULL) { /* staged: one link, no fsync (the staging name is durable; content_done follows) */
        if (link(tmp, final) == 0 || errno == EEXIST)
            return access(final, F_OK) == 0 ? KW_OK : io_fail("link", final);
        return errno == ENOENT ? KW_ERR_NOT_FOUND : io_fail("link", final);
    }
    err = write_tmp(dir, tmp, nchunks, rec_size, fn, ctx);
    if (err == KW_OK && rename(tmp, final) != 0)
        err = io_fail("rename", final);
    if (err == KW_OK)
        err = sync_dir(dir);
    if (err != KW_OK)
        unlink(tmp);
    return err;
}

enum kw_err kw_sq_document_chunk_get(struct kw_tx *tx, const char *id, int64_t index, size_t rec_size,
                                     uint8_t *buf, size_t cap, size_t *len)
{
    struct kw_sqlite *s = SQ(tx->st);
    char path[1200];
    size_t got = 0;
    off_t off;
    int fd;

    *len = 0;
    if (index < 0 || rec_size == 0 || cap < rec_size || doc_path(s, id, "", path, sizeof(path)) != 0)
        return KW_ERR_INVALID;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? KW_ERR_NOT_FOUND : io_fail("open", path);
    off = (off_t)index * (off_t)rec_size;
    while (got < rec_size) {
        ssize_t r = pread(fd, buf + got, rec_size - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return io_fail("read", path);
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got == 0)
        return KW_ERR_NOT_FOUND;
    *len = got;
    return KW_OK;
}

enum kw_err kw_sq_document_shred(struct kw_tx *tx, const char *id, int64_t deleted_at)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = prep(s,
                           "UPDATE documents SET sealed_dek = NULL, deleted_at = ? WHERE id = ? AND deleted_at = 0",
                           "document_shred");
    char dir[1100], path[1200];
    enum kw_err err;
    int rc, changed;

    if (q == NULL)
        return KW_ERR_STORE;
    sqlite3_bind_int64(q, 1, deleted_at);
    TEXT(q, 2, id);
    rc = sqlite3_step(q);
    err = rc == SQLITE_DONE ? KW_OK : kw_sq_fail(s, "document_shred", rc);
    changed = sqlite3_changes(s->db);
    fin(s, q);
    if (err != KW_OK)
        return err;
    if (changed == 0)
        return KW_ERR_NOT_FOUND;
    if (docs_dir(s, dir, sizeof(dir)) != 0 || doc_path(s, id, "", path, sizeof(path)) != 0)
        return KW_ERR_INVALID;
    if (unlink(path) != 0 && errno != ENOENT)
        return io_fail("unlink", path);
    return sync_dir(dir);
}

/* 1 when document id has a row (deleted or not), 0 when not, -1 on a store error. */
static int row_exists(struct kw_store *st, const char *id, struct kw_document *d)
{
    struct kw_tx *tx = NULL;
    enum kw_err err = kw_store_begin(st, KW_TX_READ, &tx);

    if (err != KW_OK)
        return -1;
    err = kw_sq_document_get(tx, id, d);
    kw_store_rollback(tx);
    return err == KW_OK ? 1 : err == KW_ERR_NOT_FOUND ? 0 : -1;
}

enum kw_err kw_sq_document_content_drop(struct kw_store *st, const char *id)
{
    struct kw_sqlite *s = SQ(st);
    struct kw_document d;
    char path[1200], tmp[1200];
    int have;

    if (doc_path(s, id, "", path, sizeof(path)) != 0 || doc_path(s, id, ".tmp", tmp, sizeof(tmp)) != 0)
        return KW_ERR_INVALID;
    if (unlink(tmp) != 0 && errno != ENOENT)
        return io_fail("unlink", tmp);
    have = row_exists(st, id, &d);
    if (have < 0)
        return KW_ERR_STORE;
    if (have)
        return KW_OK; /* the row committed after all: its content stays */
    if (unlink(path) != 0 && errno != ENOENT)
        return io_fail("unlink", path);
    return KW_OK;
}

enum kw_err kw_sq_document_content_done(struct kw_store *st, const char *id)
{
    struct kw_sqlite *s = SQ(st);
    char dir[1100], tmp[1200];
    enum kw_err err;

    if (docs_dir(s, dir, sizeof(dir)) != 0 || doc_path(s, id, ".tmp", tmp, sizeof(tmp)) != 0)
        return KW_ERR_INVALID;
    err = sync_dir(dir); /* the link made in the transaction is durable before the staging name goes */
    if (err == KW_OK && unlink(tmp) != 0 && errno != ENOENT)
        err = io_fail("unlink", tmp);
    return err;
}

/* The ids of the live documents, sorted (strcmp), from one query: *ids malloc'd, *n of them. */
static enum kw_err live_ids(struct kw_tx *tx, char (**ids)[KW_ID_MAX], size_t *n)
{
    struct kw_sqlite *s = SQ(tx->st);
    sqlite3_stmt *q = kw_sq_once(s, "SELECT id FROM documents WHERE deleted_at = 0 ORDER BY id");
    size_t cap = 0;
    enum kw_err err = q != NULL ? KW_OK : KW_ERR_STORE;
    int rc = SQLITE_DONE;

    *ids = NULL;
    *n = 0;
    while (err == KW_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            void *nv = realloc(*ids, (cap = cap ? cap * 2 : 256) * sizeof(**ids));
            if (nv == NULL) {
                err = KW_ERR_NOMEM;
                break;
            }
            *ids = nv;
        }
        kw_sq_text(q, 0, (*ids)[(*n)++], KW_ID_MAX);
    }
    if (err == KW_OK && rc != SQLITE_DONE)
        err = kw_sq_fail(s, "document_live_ids", rc);
    if (q != NULL)
        kw_sq_once_end(s, q);
    return err;
}

static int id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* At start: removes "<id>" files that no live row names (their rows went with a deleted service, and the
 * process stopped before it removed the files). No key opens them (the sealed data keys went with the
 * rows); this only gives the disk back. One query for the live ids, then one look-up per file; *n counts
 * the files removed. */
static enum kw_err sweep_orphans(struct kw_store *st, const char *dir, int *n)
{
    struct kw_sqlite *s = SQ(st);
    struct kw_tx *tx = NULL;
    char (*ids)[KW_ID_MAX] = NULL, path[1200];
    size_t nids = 0;
    enum kw_err err;
    struct dirent *e;
    DIR *dh = opendir(dir);

    if (dh == NULL)
        return errno == ENOENT ? KW_OK : io_fail("opendir", dir);
    err = kw_store_begin(st, KW_TX_READ, &tx);
    if (err == KW_OK)
        err = live_ids(tx, &ids, &nids);
    kw_store_rollback(tx);
    while (err == KW_OK && (e = readdir(dh)) != NULL) {
        if (doc_path(s, e->d_name, "", path, sizeof(path)) != 0)
            continue; /* not a document id (a staging name, or not ours): left alone */
        if (nids > 0 && bsearch(e->d_name, ids, nids, sizeof(*ids), id_cmp) != NULL)
            continue;
        if (unlink(path) != 0 && errno != ENOENT) {
            err = io_fail("unlink", path);
            break;
        }
        (*n)++;
        kw_log_info("orphaned document file removed", "id=%s", e->d_name);
    }
    free(ids);
    closedir(dh);
    return err;
}

enum kw_err kw_sq_document_content_recover(struct kw_store *st, int *settled)
{
    struct kw_sqlite *s = SQ(st);
    char dir[1100], id[KW_ID_MAX], path[1200], tmp[1200];
    enum kw_err err = KW_OK;
    struct dirent *e;
    DIR *dh;
    int n = 0;

    if (docs_dir(s, dir, sizeof(dir)) != 0)
        return KW_ERR_INVALID;
    dh = opendir(dir);
    if (dh == NULL)
        return errno == ENOENT ? KW_OK : io_fail("opendir", dir);
    while (err == KW_OK && (e = readdir(dh)) != NULL) {
        size_t len = strlen(e->d_name);
        struct kw_document d;
        int have;

        if (len <= 4 || len - 4 >= sizeof(id) || strcmp(e->d_name + len - 4, ".tmp") != 0)
            continue;
        memcpy(id, e->d_name, len - 4);
        id[len - 4] = '\0';
        if (doc_path(s, id, "", path, sizeof(path)) != 0 || doc_path(s, id, ".tmp", tmp, sizeof(tmp)) != 0)
            continue; /* not a document's staging file: not ours to touch */
        have = row_exists(st, id, &d);
        if (have < 0) {
            err = KW_ERR_STORE;
            break;
        }
        if (have && d.deleted_at == 0) {
            if (link(tmp, path) != 0 && errno != EEXIST)
                err = io_fail("link", path);
            if (err == KW_OK)
                err = sync_dir(dir);
        } else if (!have && unlink(path) != 0 && errno != ENOENT) {
            err = io_fail("unlink", path);
        }
        if (err == KW_OK && unlink(tmp) != 0 && errno != ENOENT)
            err = io_fail("unlink", tmp);
        if (err == KW_OK) {
            n++;
            kw_log_info("document staging file settled", "id=%s committed=%d", id, have && d.deleted_at == 0);
        }
    }
    closedir(dh);
    if (err == KW_OK)
        err = sweep_orphans(st, dir, &n);
    if (err == KW_OK && n > 0)
        err = sync_dir(dir);
    if (settled != NULL)
        *settled = n;
    return err;
}
