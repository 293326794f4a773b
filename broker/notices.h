/* The broker's own notices (DESIGN.md section 6): each is a signed leaf in the
 * log and a mailbox entry per recipient, written in the batch's transaction,
 * so a duty team that is offline when one is issued gets it on reconnect. */
#ifndef CF_NOTICES_H
#define CF_NOTICES_H

#include <stdint.h>

#include <lmdb.h>

#include "broker.h"

/* Issues notice `n` (whose metadata the caller has filled: case id, urgency,
 * deadline, ...) as leaf *size, to the recipients the policy's [notice.KIND]
 * route picks for `ctx`. Fills the id, kind, recipients and time. A notice
 * routed to nobody (or whose route fails, logged as NOTICE-UNROUTED) is
 * still a leaf, with no recipients: the ruling it records changes the case,
 * and a routing failure must never stop the message it is about. */
CF_WUR int cf_notices_issue(struct broker *b, MDB_txn *txn, uint64_t *size,
                            enum cf_notice_kind kind, struct cf_notice *n,
                            const struct cf_route_ctx *ctx, uint64_t now);

/* A notice about case `c` (which may be NULL before it exists) and the
 * message `about` (header, leaf), with the header metadata a notice may
 * carry. */
void cf_notices_about(struct cf_notice *n, const struct cf_case *c, const struct cf_header *about,
                      uint64_t about_leaf);

#endif
