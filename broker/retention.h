/* Retention (DESIGN.md section 7): envelopes older than retention_days are
 * deleted, a few per commit so traffic never waits on it, and each batch
 * deleted is itself a `purged` leaf naming the leaves it emptied. Records,
 * tree nodes and checkpoints stay, so every proof still verifies. */
#ifndef CF_RETENTION_H
#define CF_RETENTION_H

#include <stdint.h>

#include <lmdb.h>

#include "broker.h"

/* Deletes up to CF_MAX_PURGED envelopes (or sealed determinations) logged
 * before now - retention_days, oldest first, and appends their purged leaf.
 * Sets *purged to how many went. */
CF_WUR int cf_retention_purge(struct broker *b, MDB_txn *txn, uint64_t *size, uint64_t now,
                              size_t *purged);

/* Whether anything is old enough to purge at `now` (a cheap look at the
 * oldest envelope), so the loop can run a batch for it when idle. */
bool cf_retention_due(struct broker *b, uint64_t now);

#endif
