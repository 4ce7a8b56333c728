/* records.c - releasing the owned buffers of struct kw_record and struct kw_record_picture (records.h).
 * They hold ciphertext only (plaintext lives in domain/records.c, which wipes it through crypto/), but
 * are zeroed before free all the same. */
#include "core/records.h"

#include <stdlib.h>
#include <string.h>

static void zfree(void *p, size_t n)
{
    if (p == NULL)
        return;
    explicit_bzero(p, n);
    free(p);
}

void kw_record_free(struct kw_record *r)
{
    if (r == NULL)
        return;
    zfree(r->attributes_ct, r->attributes_ct_len);
    if (r->certificates != NULL)
        zfree(r->certificates, strlen(r->certificates));
    explicit_bzero(r, sizeof(*r));
}

void kw_record_picture_free(struct kw_record_picture *p)
{
    if (p == NULL)
        return;
    zfree(p->ct, p->ct_len);
    explicit_bzero(p, sizeof(*p));
}
