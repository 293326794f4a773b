/* Replay: every case rebuilt from the log alone, as the broker derived it
 * (DESIGN.md section 8, "The log is the database").
 *
 * Leaves are fed in index order. Each changes its case through the same
 * functions of case.c the broker applied, with the directory in force at its
 * index (the last config leaf before it), the calendars of that directory's
 * jurisdictions, and the leaf's own time, never the wall clock:
 *
 *   accepted              cf_case_apply (a referral opens the case)
 *   determination         cf_case_apply_determination, for the case of the
 *                         proposal leaf it names (determination_of)
 *   notice inquorate      cf_case_apply_inquorate
 *   notice deadline_near, deadline_breached
 *                         cf_case_deadline_fired, for the deadline it names
 *
 * Every leaf about a case also goes into that case's timeline: its messages,
 * the broker's notices and determinations about it, and the recipients'
 * signed answers (delivered, nacked) to any of those. Rejected leaves hold
 * only a hash and a code, so they belong to no case.
 *
 * With `check` set the replay also asks the rules, as they stood, whether the
 * broker should have accepted each message: the sender's signature (from the
 * record's digests, so even after retention), its role (check 7), the case
 * (check 8, and a vote's signature over the open proposal) and its recipients
 * (check 9). What fails is a finding, not an error: the replay goes on as the
 * broker did, and the caller reports the findings.
 *
 * The broker's future --rebuild and a standby can drive the same code; the
 * auditor's `childfirst audit replay` and `report` read its results.
 */
#ifndef CHILDFIRST_REPLAY_H
#define CHILDFIRST_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "childfirst/calendar.h"
#include "childfirst/case.h"
#include "childfirst/directory.h"
#include "childfirst/error.h"
#include "childfirst/notice.h"
#include "childfirst/record.h"
#include "childfirst/store.h"

/* One leaf in a case's timeline. Pointers are owned by the replay and valid
 * until cf_replay_destroy. */
struct cf_replay_entry {
    uint64_t index, time;
    enum cf_event event;
    enum cf_type type;                 /* accepted: the header's; determination: its own */
    char kind[CF_NOTICE_KIND_MAX + 1]; /* notice: its kind; "" otherwise */
    cf_id sender;                      /* accepted: the header's; delivered, nacked: who
                                          answered; notice, determination: "broker" */
    size_t n_recipients;
    cf_id *recipients;         /* accepted, notice; a determination's while its bytes remain */
    enum cf_decision decision; /* a proposal's, a vote's, a determination's */
    bool approve;              /* vote */
    bool has_about;
    uint64_t about; /* delivered, nacked: the leaf answered; determination: the proposal's;
                       notice: the leaf it is about */
    char code[48];  /* nacked; an undelivered notice after a nack */
    char deadline[CF_NOTICE_KIND_MAX + 1]; /* deadline notices: which */
    uint64_t due;                          /* and when it was due */
    size_t n_outstanding;
    cf_id *outstanding;               /* undelivered, non_delivery: who had not acknowledged */
    bool redacted;                    /* its envelope (or determination) was removed by retention */
    enum cf_case_state state;         /* the case's state after this leaf */
    char la_code[CF_LA_CODE_LEN + 1]; /* and its LA and jurisdiction then */
    char jurisdiction[CF_JURISDICTION_MAX + 1];
};

struct cf_replay_case {
    char case_id[CF_CASE_ID_LEN + 1];
    /* The case as the broker's `case` table should hold it: CaseRecord bytes
     * (cf_wire_case_encode), read with cf_replay_case_load. */
    uint8_t *record;
    size_t record_len;
    uint64_t referral_time;
    char referral_la[CF_LA_CODE_LEN + 1]; /* the LA and jurisdiction it was referred to */
    char referral_jurisdiction[CF_JURISDICTION_MAX + 1];
    size_t n_entries;
    struct cf_replay_entry *entries; /* in index order; empty without `timelines` */
    size_t cap_entries;
    bool has_proposal; /* the open proposal's digests, for checking votes */
    struct cf_envelope_digests proposal;
};

/* Decodes the case's record into *out. 0, or the codes of cf_wire_case_decode. */
CF_WUR int cf_replay_case_load(const struct cf_replay_case *rc, struct cf_case *out);

/* What the log holds that the rules refuse, or that replay cannot place. */
struct cf_replay_finding {
    uint64_t index;
    int code;
    char case_id[CF_CASE_ID_LEN + 1]; /* "" when none */
    char text[400];
};

struct cf_replay_options {
    /* The folder of <calendar>.ini files for each jurisdiction's `calendar`;
     * NULL computes no deadlines (an agent's view). */
    const char *calendars;
    /* The directory authority's key to check each config leaf's bundle
     * against; NULL trusts the bundle as the log holds it (the broker's
     * signed checkpoints cover it). */
    const uint8_t *authority_pk;
    bool timelines; /* keep each case's timeline */
    bool check;     /* re-run checks 4, 7, 8 and 9 on every accepted leaf */
};

struct cf_replay;

/* A replay that has seen no leaf. `o` is copied, and the calendars path with
 * it. Caller owns *out; free with cf_replay_destroy. 0 or CF_ENOMEM. */
CF_WUR int cf_replay_new(const struct cf_replay_options *o, struct cf_replay **out,
                         struct cf_error *err);

/* Frees; accepts NULL and clears the pointer. */
void cf_replay_destroy(struct cf_replay **r);

/* Feeds the next leaf: its encoded record (leaf number cf_replay_size), and
 * for an accepted or determination leaf its stored envelope or Determination
 * (NULL, 0 when retention removed it: the entry is marked redacted, and the
 * case moves all the same, since the record holds what the case needs).
 * @return 0; CF_ERANGE for a leaf out of order; CF_EDECODE for a record that
 *         does not decode; CF_ECONFIG for a config leaf whose bundle does not
 *         load or a calendar that does not; CF_ECORRUPT for a leaf the broker
 *         could not have written (a message before any config leaf); the
 *         codes of case.c (CF_ENOROUTE, CF_ERANGE, ...); CF_ENOMEM. err says
 *         which index. The replay stops being usable after a failure. */
CF_WUR int cf_replay_leaf(struct cf_replay *r, const uint8_t *record, size_t len,
                          const uint8_t *envelope, size_t envelope_len, struct cf_error *err);

/* Feeds every leaf of the store in the read transaction `txn`, in order.
 * Nothing here checks the tree: run cf_logverify_store (whose per-leaf hook
 * may call cf_replay_leaf instead) to trust what is replayed. */
CF_WUR int cf_replay_store(struct cf_replay *r, const struct cf_store *s, MDB_txn *txn,
                           struct cf_error *err);

/* Leaves fed so far, and the time of the last (0 before any). */
uint64_t cf_replay_size(const struct cf_replay *r);
uint64_t cf_replay_last_time(const struct cf_replay *r);

/* Cases in the order their referrals were logged; borrowed until destroy. */
size_t cf_replay_count(const struct cf_replay *r);
const struct cf_replay_case *cf_replay_case_at(const struct cf_replay *r, size_t i);
/* The case with this id, or NULL. */
const struct cf_replay_case *cf_replay_find(const struct cf_replay *r, const char *case_id);

/* Findings in index order; borrowed until destroy. */
size_t cf_replay_findings(const struct cf_replay *r);
const struct cf_replay_finding *cf_replay_finding_at(const struct cf_replay *r, size_t i);

/* The directory in force after the last leaf fed (NULL before any config
 * leaf), and the calendar it gives a jurisdiction (NULL when none is loaded).
 * Borrowed until the next cf_replay_leaf or destroy. */
const struct cf_directory *cf_replay_directory(const struct cf_replay *r);
const struct cf_calendar *cf_replay_calendar(const struct cf_replay *r, const char *jurisdiction);

/* Leaves whose envelope was missing. */
uint64_t cf_replay_redacted(const struct cf_replay *r);

#endif
