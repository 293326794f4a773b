/* Cases: the state machine of DESIGN.md section 5, and the derived record the
 * broker keeps per case (section 8).
 *
 * The broker checks each message against its case here and applies it here;
 * the auditor's replay runs the same functions over the log, and each agent
 * runs cf_case_apply over the headers it sees, to know who holds which part
 * (owner, members, ...) when it routes a message of its own. A case changes
 * only through these functions, and only from what leaves hold, so replaying
 * the log reaches the same record. Roles and nations mean nothing here: every
 * such rule is asked of the policy module.
 */
#ifndef CHILDFIRST_CASE_H
#define CHILDFIRST_CASE_H

#include <stdbool.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/policy.h"

struct cf_calendar;
struct cf_directory;

enum cf_case_state {
    CF_CASE_NONE = 0,
    CF_CASE_REFERRED,
    CF_CASE_ACKNOWLEDGED,
    CF_CASE_STRATEGY_HELD,
    CF_CASE_CONVENED,
    CF_CASE_PROPOSED,
    CF_CASE_DETERMINED,
    CF_CASE_RECONSIDERATION,
    CF_CASE_CLOSED,
    CF_CASE_STATE_COUNT
};

#define CF_MAX_GUARDIANS 8

/* An open statutory deadline and the notices already issued for it. */
struct cf_case_deadline {
    enum cf_deadline kind;
    uint64_t due;  /* ms: the deadline is breached from this instant */
    uint64_t near; /* ms: deadline_near is due from this instant */
    bool near_sent, breach_sent;
};

struct cf_case {
    char case_id[CF_CASE_ID_LEN + 1];
    enum cf_case_state state;
    char la_code[CF_LA_CODE_LEN + 1];
    char jurisdiction[CF_JURISDICTION_MAX + 1];
    cf_id referrer, owner;
    size_t n_guardians;
    cf_id guardians[CF_MAX_GUARDIANS];
    char lead_staff_ref[CF_STAFF_REF_MAX + 1];
    char chair_staff_ref[CF_STAFF_REF_MAX + 1];
    size_t n_members;
    struct cf_member members[CF_MAX_MEMBERS];
    /* The proposal awaiting votes, while the state is proposed. */
    uint64_t proposal_leaf;
    uint8_t proposal_id[CF_MESSAGE_ID_LEN];
    enum cf_decision proposal_decision;
    enum cf_case_state before_proposal; /* where a rejected proposal returns to */
    size_t n_voters;                    /* voting members who attended */
    cf_id voters[CF_MAX_MEMBERS];
    size_t n_votes;
    struct cf_vote_record votes[CF_MAX_MEMBERS];
    /* Leaf times (broker ms) of the case's events; 0 when it has not happened. */
    uint64_t first_at[CF_TYPE_COUNT], last_at[CF_TYPE_COUNT];
    uint64_t inquorate_at, transfer_at, rg_at, cg_at;
    size_t n_deadlines;
    struct cf_case_deadline deadlines[CF_DEADLINE_COUNT];
    uint64_t opened_leaf, updated_leaf;
    enum cf_urgency urgency;
    bool immediate_risk;
};

/* What the case needs from outside: the directory in force (with its policy)
 * and each jurisdiction's calendar, by its index in the policy. With
 * `calendars` NULL no deadlines are computed (the agents keep none). */
struct cf_case_rules {
    const struct cf_directory *dir;
    const struct cf_calendar *const *calendars;
};

/* What applying a message asks the broker to do beyond the record. */
struct cf_case_effects {
    bool convened;          /* a convened notice */
    bool transferred;       /* a transfer_in notice to the receiving LA */
    bool hold;              /* a proposal: only members receive it now, the rest on release */
    bool quorum_met;        /* seal the determination */
    bool proposal_rejected; /* a reject vote ended the proposal */
};

/* "referred", "acknowledged", ...; NULL when out of range. */
const char *cf_case_state_name(enum cf_case_state state);

/* Who holds which part, as the policy's case: selectors see it. The result
 * borrows from c (and from h's members for a conference_convened, whose
 * recipients are the members it names); h may be NULL. */
void cf_case_parties(const struct cf_case *c, const struct cf_header *h, struct cf_parties *out);

/* The route context of a message of this case: its type, LA code, sender and
 * parties (which it borrows; `parties` must outlive it). c is NULL for a
 * referral. */
void cf_case_route_ctx(const struct cf_case *c, const struct cf_header *h,
                       struct cf_parties *parties, struct cf_route_ctx *ctx);

/* DESIGN.md section 4, check 8: whether the case allows h. c is the stored
 * case, NULL if none exists. In order: a referral needs a new case id and
 * any other type an existing one; the type must belong to the case's
 * jurisdiction and fit its state; the sender must hold the part the policy's
 * `from` names; then the type's own rules (a conference's members and chair,
 * a proposal's attendees and quorum, a vote's proposal and voter).
 * Returns 0, or CF_ECASEEXISTS, CF_ESTATE (naming the state), CF_ETYPE,
 * CF_ENOTPARTY, CF_EFIELD, CF_ECHAIR, CF_EINQUORATE, ... with a sentence.
 * A vote's signature is not checked here: that needs the proposal's leaf. */
CF_WUR int cf_case_check(const struct cf_case *c, const struct cf_header *h, uint64_t now,
                         const struct cf_case_rules *r, struct cf_error *err);

/* Applies an accepted message at `leaf` and broker time `time`. For a
 * referral, c is set up from nothing. Deadlines are computed again when
 * r->calendars is set. Fills *fx. Fails only for a referral whose owner the
 * policy cannot pick (CF_ENOROUTE), or a calendar error (CF_ERANGE). */
CF_WUR int cf_case_apply(struct cf_case *c, const struct cf_header *h, uint64_t leaf, uint64_t time,
                         const struct cf_case_rules *r, struct cf_case_effects *fx,
                         struct cf_error *err);

/* The broker sealed the proposal's determination at `leaf`. */
CF_WUR int cf_case_apply_determination(struct cf_case *c, uint64_t leaf, uint64_t time,
                                       const struct cf_case_rules *r, struct cf_error *err);

/* The broker ruled a proposal inquorate at `time`: the reconvene deadline starts. */
CF_WUR int cf_case_apply_inquorate(struct cf_case *c, uint64_t leaf, uint64_t time,
                                   const struct cf_case_rules *r, struct cf_error *err);

/* A deadline notice for `kind` was issued (breach: deadline_breached, else
 * deadline_near). */
void cf_case_deadline_fired(struct cf_case *c, enum cf_deadline kind, bool breach, uint64_t leaf);

/* The open deadline due soonest, or NULL. Borrowed from c. */
const struct cf_case_deadline *cf_case_next_deadline(const struct cf_case *c);

#endif
