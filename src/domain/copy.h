/* copy.h - moving a deployment from one store to another (keyward store copy): every row of every
 * table, as it is, so ids, seqs, versions, password and credential hashes, times and the audit chain
 * (its seqs and hashes) are the same bytes on the target. */
#ifndef KW_DOMAIN_COPY_H
#define KW_DOMAIN_COPY_H

#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct kw_copy_result {
    int64_t rows[KW_TABLE_COUNT]; /* rows copied, per table */
    int64_t contents;             /* live documents whose content (sealed chunks) was copied */
    int src_version;              /* schema versions (KW_ERR_INVALID when they differ) */
    int dst_version;
    int nonempty;          /* KW_ERR_CONFLICT: the target table that has rows (an enum kw_store_table) */
    int committed;         /* 1 once the target's transaction committed */
    int64_t audit_checked; /* kw_audit_verify on the target after the commit */
    int64_t audit_broken;  /* 0 = intact */
};

/* Migrates dst, then copies src into it: src is read in one read transaction (one snapshot: a
 * source that is serving meanwhile gives a consistent copy of one moment, without the writes made
 * after it), dst is written in one write transaction and its rows are counted again before the
 * commit. Nothing is written (beyond dst's migrations) when dst holds any row or has handed out a
 * version: KW_ERR_CONFLICT with res->nonempty; nor when src's schema version is not dst's:
 * KW_ERR_INVALID. After the commit, dst's audit chain is verified into res (KW_OK even when broken:
 * res->audit_broken says). Does not append an audit event: the chain is copied, not continued. */
enum kw_err kw_copy_run(struct kw_store *src, struct kw_store *dst, struct kw_copy_result *res);

#endif
