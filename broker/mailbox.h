/* Mailboxes: one LMDB entry per (recipient, leaf) still to be acknowledged.
 * They live on disk, not in memory, so a million messages queued for an
 * offline agency cost the broker no RAM. */
#ifndef CF_MAILBOX_H
#define CF_MAILBOX_H

#include <stdint.h>

#include <lmdb.h>

#include "childfirst/error.h"
#include "childfirst/store.h"

CF_WUR int cf_mailbox_put(const struct cf_store *s, MDB_txn *txn, const char *recipient,
                          uint64_t index);

/* Removes the entry; CF_ENOTFOUND if it was not there (a repeated ack). */
CF_WUR int cf_mailbox_take(const struct cf_store *s, MDB_txn *txn, const char *recipient,
                           uint64_t index);

/* 1 if the recipient's mailbox holds `index`, 0 if not, or an error. */
CF_WUR int cf_mailbox_has(const struct cf_store *s, MDB_txn *txn, const char *recipient,
                          uint64_t index);

/* Calls fn(ctx, index) for the recipient's entries from `from` upwards, in
 * order, until fn returns non-zero (which is returned) or they run out (0). */
CF_WUR int cf_mailbox_scan(const struct cf_store *s, MDB_txn *txn, const char *recipient,
                           uint64_t from, int (*fn)(void *ctx, uint64_t index), void *ctx);

#endif
