/* The broker's side of the audit log: appending leaves inside the batch's
 * write transaction, signing the checkpoint that covers them, proofs, and the
 * check at start that the newest leaves and root match the newest checkpoint. */
#ifndef CF_AUDIT_H
#define CF_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "broker.h"

/* Appends `rec` as leaf *size (setting rec->index) and advances *size. */
CF_WUR int cf_audit_append(struct broker *b, MDB_txn *txn, uint64_t *size, struct cf_record *rec);

/* Signs the checkpoint for `size` and stores it in the same transaction.
 * Caller owns *note; free with free(). */
CF_WUR int cf_audit_checkpoint(struct broker *b, MDB_txn *txn, uint64_t size, char **note,
                               size_t *len);

/* The inclusion proof of leaf `index` in the tree of `size`, into f->proof. */
/* Whether leaf `index`, about to be served with the inclusion proof in `f`
 * (for the newest checkpoint), is what the log holds: the record must hash
 * into the root that checkpoint signs, and an accepted envelope or a sealed
 * determination beside it must be the one its record names. A damaged page
 * fails here instead of reaching an agency. */
bool cf_audit_serves_intact(struct broker *b, const struct cf_record *rec, uint64_t index,
                            const uint8_t *record, size_t record_len, const struct cf_frame *f);

CF_WUR int cf_audit_inclusion(struct broker *b, MDB_txn *txn, uint64_t index, uint64_t size,
                              struct cf_frame *f);

/* The consistency proof from `from` to `size`, into f->proof (empty if from is
 * 0 or not smaller than size). */
CF_WUR int cf_audit_consistency(struct broker *b, MDB_txn *txn, uint64_t from, uint64_t size,
                                struct cf_frame *f);

/* The answer to an AuditFollow from `from`, for a follower that holds the
 * checkpoint of `held` (0: none): up to CF_MAX_AUDIT_RECORDS records, and
 * when they end at a checkpointed size, that checkpoint with the proof that
 * it extends `held`. Borrows from `txn`: send before it ends. */
CF_WUR int cf_audit_records(struct broker *b, MDB_txn *txn, uint64_t from, uint64_t held,
                            struct cf_frame *f);

/* Whether `agency` may see leaf `index` (ProofRequest): an auditor any
 * leaf; anyone the directory and origin leaves; others only leaves that
 * concern them: a message they sent or were sent, their own acks and
 * rejections, the reports and determinations about those messages, and
 * notices addressed to them. */
bool cf_audit_may_see(struct broker *b, MDB_txn *txn, const char *agency, uint64_t index);

/* Opens the log for the broker: checks the stored origin and broker key, then
 * the newest leaves and root against the newest checkpoint, and appends a
 * config leaf if the directory differs from the last one logged. Refuses to
 * start (CF_ECORRUPT, CF_ECONFIG) with a sentence in err. */
CF_WUR int cf_audit_start(struct broker *b, struct cf_error *err);

#endif
