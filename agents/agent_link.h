/* The agent's connection to the broker, and the split-view guard: every
 * checkpoint the broker shows must extend the last one this agency kept. */
#ifndef CF_AGENT_LINK_H
#define CF_AGENT_LINK_H

#include "agent.h"

/* The DEALER (CURVE client of the broker's pinned key) and its monitor. */
int agent_link_open(struct agent *a, struct cf_error *err);
void agent_link_close(struct agent *a);

/* Frames waiting on the DEALER; connection events on the monitor. */
void agent_link_ready(struct agent *a);
void agent_link_events(struct agent *a);

/* Periodic work: resend unanswered messages every resend_s. */
void agent_link_tick(struct agent *a, uint64_t now);

/* Sends without blocking; false if the frame could not be queued. */
bool agent_link_send(struct agent *a, const struct cf_frame *f);

/* Accepts a checkpoint note shown by the broker: it must be signed by the
 * pinned broker key, and be the kept checkpoint or extend it by the given
 * consistency proof. Stores it in `txn` and fills *out with it; the kept
 * checkpoint in memory changes only through agent_checkpoint_commit, once that
 * transaction has committed, so memory never runs ahead of the disk. CF_ESTALE
 * when the proof starts from another size (the caller resynchronises with a
 * Hello); CF_EPROOF, CF_ESIG, CF_ECORRUPT for a broker showing a different
 * history: the caller raises the split-view alarm. */
int agent_checkpoint_advance(struct agent *a, MDB_txn *txn, const char *note, size_t len,
                             uint64_t from, const uint8_t (*proof)[CF_MERKLE_HASH], size_t n,
                             struct cf_checkpoint *out, struct cf_error *err);

/* Commits `txn` (which LMDB then frees, committed or not) and, only if the
 * commit succeeded, makes `cp` with its note the kept checkpoint in memory:
 * the batch's, when `txn` is nested in an open batch. Returns 0 or the
 * commit's CF_E* code. */
int agent_checkpoint_commit(struct agent *a, MDB_txn *txn, const struct cf_checkpoint *cp,
                            const char *note, size_t len);

/* Begins a write transaction: nested in the open batch's, if there is one
 * (so its work commits with the batch), else on its own. */
int agent_write_begin(struct agent *a, MDB_txn **txn);

/* The broker showed a history that does not extend the kept one: logs
 * SPLIT-VIEW and takes nothing more from this connection (not even a
 * Welcome) until a new one is made. */
void agent_link_distrust(struct agent *a, const char *detail);

/* A frame's consistency proof did not start at the kept size (CF_ESTALE): logs
 * `event`, says Hello again from the kept checkpoint and ignores every frame
 * until the Welcome, after which the broker offers again whatever was not
 * acknowledged and the outbox is resent. Does nothing when not connected. */
void agent_link_resync(struct agent *a, const char *event, const char *detail);

/* Handles a refused checkpoint or proof: CF_ESTALE resynchronises (logging
 * `resync_event`), a different history (CF_ECORRUPT, CF_EPROOF, CF_ESIG,
 * CF_EDECODE, CF_ERANGE) raises the split-view alarm. False for any other
 * code, which the caller reports. */
bool agent_link_refused(struct agent *a, int rc, const char *resync_event, const char *detail);

/* Keeps the checkpoint a Deliver or Accepted carries, in its own commit, for
 * a frame that stores nothing else (a repeat, a nack, one not verified): the
 * broker counts it as shown, so the next frame's proof starts from it.
 * Handles a refusal as agent_link_refused does; returns 0 or the code. */
int agent_link_take_checkpoint(struct agent *a, const struct cf_frame *f, const char *resync_event);

/* Asks the broker for fresh Status figures, unless a request is out already
 * (for less than STATUS_WAIT_MS) or the broker is not connected. */
#define STATUS_WAIT_MS 1000
void agent_link_ask_status(struct agent *a);

/* The inbox and outbox sides (agent_inbox.c, agent_outbox.c). */
/* A Deliver is checked and kept in the open batch (opening one), and answered
 * when agent_batch_flush commits it. A full batch is flushed at once. */
void agent_inbox_deliver(struct agent *a, const uint8_t *frame, size_t len,
                         const struct cf_frame *f);
/* Opens the batch, if none is open: a delivery report joins it too. 0 or a
 * CF_E* code. */
int agent_batch_open(struct agent *a);
/* Queues a signed answer (an ack, or a nack's code in `answer`) naming `leaf`,
 * sent once the batch has committed, with the log line `event` `detail`
 * (none when `event` is NULL) and, for a Deliver, its spool document `doc`
 * (owned). A full batch is flushed. CF_ENOMEM: not queued, not answered. */
int agent_batch_answer(struct agent *a, uint64_t leaf, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                       const uint8_t hash[CF_HASH_LEN], const char *answer, json_t *doc,
                       bool repeat, const char *event, const char *detail);
/* Queues what a receipt for our message `message_id` settles, once the batch
 * has committed: its spool file is moved with its receipt, and waiting
 * control clients and the dashboard are answered; `event` `detail` is logged
 * then. CF_ENOMEM: not queued. */
int agent_batch_settled(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN],
                        const char *event, const char *detail);
/* Commits the open batch, if any, writes its spool files, then sends its
 * answers; after a failed commit nothing is answered and the broker offers
 * the frames again. Called before any frame but a Deliver, a delivery report
 * or an Accepted is handled, when the DEALER is drained, and before a resync or the
 * split-view alarm. */
void agent_batch_flush(struct agent *a);
void agent_outbox_answer(struct agent *a, const uint8_t *frame, size_t len,
                         const struct cf_frame *f);
void agent_outbox_resend(struct agent *a);
/* A delivery report: a recipient's answer to a message this agency sent.
 * Its signature is checked against the recipient's key, it is kept in the
 * batch, and acknowledged once that commits, so the broker offers it again
 * after a crash. */
void agent_outbox_report(struct agent *a, const struct cf_frame *f);

/* Renders a stored Deliver frame as the JSON of the spool inbox; decrypts a
 * message with the agency's key. NULL with err when it cannot be opened. */
json_t *agent_inbox_render(struct agent *a, const uint8_t *frame, size_t len, struct cf_error *err);

/* Loads the kept checkpoint and directory from the store at start. */
int agent_link_restore(struct agent *a, struct cf_error *err);

#endif
