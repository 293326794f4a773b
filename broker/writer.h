/* The broker's one write transaction. It stays open across batches: each
 * batch is made durable by a record in the redo log (childfirst/redo.h), and
 * the transaction is committed to LMDB every commit_ms, when the redo log is
 * full, and at stop; with commit_ms 0, after every batch, as DESIGN.md
 * section 6 has it. Everything on the loop thread reads through it too
 * (cf_writer_txn, never ended by the reader), so it sees every batch answered
 * so far; other threads' read transactions see the last LMDB commit. */
#ifndef CF_BROKER_WRITER_H
#define CF_BROKER_WRITER_H

#include "broker.h"

/* Takes the redo log of the store just opened (and recovered). */
CF_WUR int cf_writer_open(struct broker *b, struct cf_error *err);
/* Commits what the redo log holds, then lets it go. */
void cf_writer_close(struct broker *b);

/* The write transaction, begun (and rebuilt from the redo log) if need be. */
CF_WUR int cf_writer_txn(struct broker *b, MDB_txn **txn);
/* Makes the batch just applied in the transaction durable: a redo record, or
 * an LMDB commit when one is due or the redo log is full. On an error the
 * batch is undone (the transaction is rebuilt from the redo log). */
CF_WUR int cf_writer_durable(struct broker *b);
/* Undoes the batch being applied after an error: drops the transaction. */
void cf_writer_abandon(struct broker *b);
/* Commits to LMDB if it is due; returns the milliseconds until the next one
 * is, or -1 when there is nothing to commit. */
long cf_writer_flush(struct broker *b);

#endif
