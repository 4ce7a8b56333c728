/* bodypages.c - keeps large request bodies out of the resident set; see internal.h.
 *
 * h2o 2.2.5 reads a whole request body into the connection's input buffer (h2o_buffer_t), and past
 * h2o_socket_buffer_mmap_settings.threshold (server.c) that buffer is a MAP_SHARED mapping of an
 * unlinked temporary file: the h2o_buffer_t header sits at the start of the mapping, the data follows
 * (lib/common/memory.c, h2o_buffer_reserve). Pages written through a shared file mapping stay mapped, so
 * four 50 MiB uploads would add about 200 MiB to VmRSS (RssFile) although none of it is heap. This loop
 * walks its HTTP/1 connections (every KW_BODYPAGES_EVERY_MS to find such a buffer, then after every turn
 * while one exists) and, for each input buffer that is such a mapping, madvise(MADV_DONTNEED)s
 * (core/pages.h) the whole pages already written: for a shared file mapping that only
 * drops the page-table entries; the bytes stay in the file (the page cache), and the next access (h2o's
 * read path, or the pool thread reading a borrowed ingest body, offloop.c) faults them back in unchanged.
 * Both run on this loop's thread except the pool's reads, which madvise cannot corrupt: a read of a page
 * being dropped just faults it in again. Never done to anything but a file mapping: on anonymous memory
 * MADV_DONTNEED would zero the pages. */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "core/pages.h"
#include "core/timeutil.h"
#include "http/internal.h"

#define KW_BODYPAGES_EVERY_MS 5

struct walk {
    uintptr_t page;
    int mapped; /* input buffers found mapped from a file */
};

int kw_http_body_file_mapped(h2o_req_t *req, const char *body, size_t len)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    h2o_buffer_t *b = sock != NULL ? sock->input : NULL;

    return b != NULL && b->bytes != NULL && b->_fd >= 0 && body != NULL && body >= b->bytes &&
           len <= b->size && body - b->bytes <= (ptrdiff_t)(b->size - len);
}

static int drop_written(h2o_req_t *req, void *ctx)
{
    struct walk *wk = ctx;
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
    h2o_buffer_t *b;

    /* bytes == NULL: the shared prototype (whose _fd is 0, not -1); _fd -1: malloc'd memory */
    if (sock == NULL || (b = sock->input) == NULL || b->bytes == NULL || b->_fd < 0)
        return 0;
    wk->mapped++;
    kw_pages_release((const char *)b + wk->page, b->bytes + b->size); /* the header's page stays */
    return 0;
}

int kw_http_bodypages_tick(struct kw_worker *w)
{
    uint64_t now = kw_time_mono_ns();
    struct walk wk = {0, 0};

    /* While a mapped buffer exists, after every turn of the loop (each turn reads at most what the
     * kernel holds for each socket); else a walk every KW_BODYPAGES_EVERY_MS finds new ones. */
    if (!w->bodypages_mapped && now < w->bodypages_next_ns)
        return 0;
    wk.page = (uintptr_t)sysconf(_SC_PAGESIZE);
    w->bodypages_next_ns = now + (uint64_t)KW_BODYPAGES_EVERY_MS * 1000000u;
    w->srv->globalconf.http1.callbacks.foreach_request(&w->ctx, drop_written, &wk);
    w->bodypages_mapped = wk.mapped > 0;
    return w->bodypages_mapped;
}
