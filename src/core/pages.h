/* pages.h - giving back the resident pages of memory already read, where the bytes stay in a file. */
#ifndef KW_CORE_PAGES_H
#define KW_CORE_PAGES_H

/* madvise(MADV_DONTNEED) on the whole pages strictly inside [from, to): they leave the process's
 * resident set, and the next access faults them back in from the file. ONLY for memory that is a
 * MAP_SHARED file mapping (a request body h2o moved to a temporary file, http/bodypages.c): on
 * anonymous or private memory the pages would come back as zeros. Best effort: failures are ignored. */
void kw_pages_release(const void *from, const void *to);

#endif
