/* Scripted case scenarios against the real broker, for the auditor's tests:
 * test clients play every agency (test_conference.c's way), each message's
 * deliveries are awaited and acknowledged leaf by leaf, so which messages go
 * undelivered is the script's choice and never a race, and the shared test
 * clock is set to chosen instants, so leaf times and working days are known. */
#ifndef CF_SCENARIO_H
#define CF_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/case.h"
#include "childfirst/directory.h"
#include "childfirst/notice.h"
#include "harness.h"

#define SCN_MAX_CASES 8
#define SCN_MAX_LEAVES 8192
#define SCN_MAX_SEEN 512

struct scn_case {
    struct cf_case c;  /* as a careful agent tracks it (no deadlines) */
    uint8_t *proposal; /* the open proposal's envelope */
    size_t proposal_len;
};

/* A notice an agency was delivered and acknowledged. */
struct scn_seen {
    uint64_t leaf;
    char kind[CF_NOTICE_KIND_MAX + 1];
    char case_id[CF_CASE_ID_LEN + 1];
    bool claimed; /* by scn_expect_notice */
};

struct scn {
    struct net n;
    struct cf_directory *dir;
    bool escrow; /* england-wales names auditor-x as its escrow */
    void *sock[NET_MAX_AGENCIES];
    uint8_t acked[NET_MAX_AGENCIES][SCN_MAX_LEAVES / 8];
    size_t n_seen[NET_MAX_AGENCIES];
    struct scn_seen seen[NET_MAX_AGENCIES][SCN_MAX_SEEN];
    size_t n_cases;
    struct scn_case cases[SCN_MAX_CASES];
    uint64_t acks; /* deliveries acknowledged since the broker started */
    void *status_sock;
};

/* The network of harness.h's cast, plus a Home Office liaison per nation
 * (home-office-ew, home-office-sc) and a Scottish LA S12000036 (la-s-csc,
 * la-s-duty, police-s, health-s, guardian-s); with `escrow`, England and
 * Wales name auditor-x as the escrow auditor. Signs serial 1, sets the
 * shared clock to `start` (ms; 0 leaves it at the real time) and starts the
 * broker. Heap-allocate: it is large. */
void scn_create(struct scn *t, bool escrow, uint64_t start);
/* Stops the broker and frees everything; the network folder goes too. */
void scn_destroy(struct scn *t);

/* Signs the directory as `serial` (with the escrow edit) and reloads t->dir. */
void scn_sign(struct scn *t, uint64_t serial);
/* Stops the broker, optionally signs a new directory (serial > 0), starts it
 * again; every connection is forgotten (the broker forgot them). */
void scn_restart(struct scn *t, uint64_t serial);

/* Milliseconds since the epoch of a UTC date and time. */
uint64_t scn_utc(int year, unsigned month, unsigned day, unsigned hour, unsigned minute);
/* Waits until the broker has logged every acknowledgement sent (its Status
 * counts them), so no timer can fire for a message already answered. */
void scn_settle(struct scn *t);
/* Settles, then sets the network's shared clock to `ms` (forward only). */
void scn_clock_to(struct scn *t, uint64_t ms);

/* Connects the agency and says Hello: from now on its deliveries are awaited
 * and acknowledged. */
void scn_online(struct scn *t, const char *id);
/* Drops its connection: what it is sent now waits in its mailbox. */
void scn_offline(struct scn *t, const char *id);

/* Acknowledges the agency's deliveries until leaf `leaf` has come. */
void scn_await(struct scn *t, const char *id, uint64_t leaf);
/* The next notice of `kind` about case k the agency is delivered (one seen
 * while awaiting other leaves counts, once), acknowledged: its leaf. */
uint64_t scn_expect_notice(struct scn *t, const char *id, const char *kind, size_t k);

/* A referral of a new case from `sender` to `la_code`; returns its slot. */
size_t scn_refer(struct scn *t, const char *sender, const char *la_code, enum cf_urgency urgency,
                 uint64_t *leaf);
/* A header of case k's message of `type` from `sender`, routed as the policy
 * routes it now (after `fill`, the caller sets type-specific fields first
 * and then calls scn_route). */
void scn_header(struct scn *t, size_t k, enum cf_type type, const char *sender,
                struct cf_header *h);
void scn_route(struct scn *t, size_t k, struct cf_header *h);
/* Seals and submits h for case k; on Accepted applies it to the tracked case
 * and awaits its deliveries at every online recipient (the members only for
 * a proposal; a sealed determination's too). Returns 0 or the Rejected code;
 * *leaf (may be NULL) gets the leaf, *determined the determination's leaf or 0. */
int scn_send(struct scn *t, size_t k, const struct cf_header *h, uint64_t *leaf,
             uint64_t *determined, char *reason, size_t cap);
/* scn_send, failing the test unless Accepted. */
uint64_t scn_accepted(struct scn *t, size_t k, const struct cf_header *h);

/* The steps of a case, each required to be Accepted; each returns its leaf. */
uint64_t scn_ack(struct scn *t, size_t k, const char *lead);
uint64_t scn_strategy(struct scn *t, size_t k);
uint64_t scn_convene(struct scn *t, size_t k, const char *chair);
uint64_t scn_contribute(struct scn *t, size_t k, const char *sender);
uint64_t scn_propose(struct scn *t, size_t k, enum cf_decision d);
/* A vote on the open proposal; *determined gets the sealed determination's
 * leaf when this vote meets the quorum (may be NULL). */
uint64_t scn_vote(struct scn *t, size_t k, const char *voter, bool approve, uint64_t *determined);
/* Every voting member approves; returns the determination's leaf. */
uint64_t scn_all_approve(struct scn *t, size_t k);
uint64_t scn_transfer(struct scn *t, size_t k, const char *la_code);
uint64_t scn_close(struct scn *t, size_t k);
/* A proposal whose attendees are only the owner and the police: refused as
 * inquorate (which the broker notices and which starts the reconvene deadline). */
void scn_propose_inquorate(struct scn *t, size_t k);

#endif
