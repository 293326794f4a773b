/* The broker's side of cases: the `case` table, what an accepted message does
 * to its case (notices, timers, the held proposal), the sealed determination
 * when a quorum approves, and the answer to a party's CaseRequest. The rules
 * themselves are common/src/case.c's, shared with replay and the agents. */
#ifndef CF_CASES_H
#define CF_CASES_H

#include <stdbool.h>
#include <stdint.h>

#include <lmdb.h>

#include "broker.h"

/* Loads each jurisdiction's calendar from cfg.calendars (refuses to start
 * without one). */
CF_WUR int cf_cases_open(struct broker *b, struct cf_error *err);
void cf_cases_close(struct broker *b);

/* What the case functions of common/ need from this broker. */
struct cf_case_rules cf_cases_rules(const struct broker *b);

/* 0, CF_ENOTFOUND, or CF_ECORRUPT for a record that does not decode. */
CF_WUR int cf_cases_load(const struct broker *b, MDB_txn *txn, const char *case_id,
                         struct cf_case *c);

/* Stores c, and moves its deadline timers from old's (NULL for a new case). */
CF_WUR int cf_cases_store(struct broker *b, MDB_txn *txn, const struct cf_case *old,
                          const struct cf_case *c);

/* After the leaf of an accepted message: applies it to its case, sets its
 * timers, issues its notices, and seals the determination when this vote
 * meets the quorum. *members_only tells the caller to queue a proposal for
 * the conference's members alone: its other readers get it on release. */
CF_WUR int cf_cases_accepted(struct broker *b, MDB_txn *txn, uint64_t *size,
                             const struct cf_header *h, uint64_t leaf, uint64_t now,
                             bool *members_only);

/* Whether `agency` is a conference member of case c. */
bool cf_cases_member(const struct cf_case *c, const char *agency);

/* A proposal ruled inquorate: the inquorate notice and the reconvene deadline. */
CF_WUR int cf_cases_inquorate(struct broker *b, MDB_txn *txn, uint64_t *size,
                              const struct cf_header *h, uint64_t now);

/* The answer to `actor`'s CaseRequest: a CaseInfo of the case if it is a
 * party to it or serves its LA; otherwise one with an empty state, whether
 * or not the case exists. */
void cf_cases_info(struct broker *b, const char *actor, const char *case_id, struct cf_frame *out);

#endif
