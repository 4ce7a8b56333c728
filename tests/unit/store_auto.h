/* store_auto.h - for store tests: AUTO(st, call) runs one store call in its own write transaction
 * (committed when the call returns KW_OK, rolled back otherwise), or inside the transaction the test
 * opened with tbegin() on this thread. Uses a GNU statement expression (GCC and Clang). */
#ifndef KW_TESTS_STORE_AUTO_H
#define KW_TESTS_STORE_AUTO_H

#include "store/store.h"

static _Thread_local struct kw_tx *open_tx;

static inline enum kw_err tbegin(struct kw_store *st)
{
    return kw_store_begin(st, KW_TX_WRITE, &open_tx);
}

static inline enum kw_err tcommit(void)
{
    enum kw_err e = kw_store_commit(open_tx);
    open_tx = NULL;
    return e;
}

static inline void trollback(void)
{
    kw_store_rollback(open_tx);
    open_tx = NULL;
}

#define AUTO(st, call)                                                                                 \
    __extension__({                                                                                    \
        struct kw_tx *tx_ = open_tx;                                                                   \
        int own_ = tx_ == NULL;                                                                        \
        enum kw_err e_ = own_ ? kw_store_begin((st), KW_TX_WRITE, &tx_) : KW_OK;                       \
        if (e_ == KW_OK) {                                                                             \
            e_ = (call);                                                                               \
            if (own_ && e_ == KW_OK)                                                                   \
                e_ = kw_store_commit(tx_);                                                             \
            else if (own_)                                                                             \
                kw_store_rollback(tx_);                                                                \
        }                                                                                              \
        e_;                                                                                            \
    })

#endif
