/* Timers (the `timer` table of DESIGN.md section 8): each case's statutory
 * deadlines, and each message's undelivered and non-delivery alerts.
 *
 *   key: due ms (u64 BE) || 'c' || opening leaf (u64 BE) || deadline || phase
 *          (1 near, 2 breach) -> the case id
 *        due ms (u64 BE) || 'u' || leaf (u64 BE)         || phase (1 alert, 2 report)
 *
 * A case is named by the leaf that opened it, not by its id, so that a day's
 * deadlines, all due at the same midnight, are kept in the order they were
 * set (timers.c). Keys of the earlier layout, due || 'd' || case_id ||
 * deadline || phase, still fire and are still removed.
 *
 * Keys sort by due time, so the loop finds what is due with one cursor.
 * Like every derived table they follow from the leaves and the policy: a
 * deadline's moment from its case's event times, a message's from its leaf
 * time and urgency. They live in LMDB, so they survive restarts, and one
 * that fell due while the broker was down fires as soon as it is back.
 */
#ifndef CF_TIMERS_H
#define CF_TIMERS_H

#include <stdint.h>

#include <lmdb.h>

#include "broker.h"

/* Replaces the timers of `old`'s open deadlines (NULL: none) by those of c's,
 * one per notice still to be issued. */
CF_WUR int cf_timers_case(struct broker *b, MDB_txn *txn, const struct cf_case *old,
                          const struct cf_case *c);

/* Sets the undelivered alert and non-delivery report timers of the message
 * (or sealed determination) at `leaf`, counted from `now` by the policy's
 * figures for its urgency, in its jurisdiction's calendar. */
CF_WUR int cf_timers_message(struct broker *b, MDB_txn *txn, const char *jurisdiction,
                             enum cf_urgency urgency, uint64_t leaf, uint64_t now);

/* Issues the notices of every timer due by `now`, at most `max` of them, as
 * leaves of the batch in `txn`; counts them into *fired. */
CF_WUR int cf_timers_fire(struct broker *b, MDB_txn *txn, uint64_t *size, uint64_t now, size_t max,
                          size_t *fired);

/* The earliest moment a timer is due, or UINT64_MAX when none is set. */
uint64_t cf_timers_next(struct broker *b);

#endif
