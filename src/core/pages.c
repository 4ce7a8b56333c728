/* pages.c - see pages.h. */
#include "core/pages.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

void kw_pages_release(const void *from, const void *to)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), start, end;

    start = ((uintptr_t)from + page - 1) & ~(page - 1);
    end = (uintptr_t)to & ~(page - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_DONTNEED);
}
