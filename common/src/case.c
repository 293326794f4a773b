/* The case state machine. One table says in which states each message type
 * may arrive and where it leads; the rest is each type's own facts. Every
 * rule that depends on roles or nations is a question to policy.c, so this
 * file reads the same for every nation. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "childfirst/calendar.h"
#include "childfirst/case.h"
#include "childfirst/directory.h"

static const char *const names[CF_CASE_STATE_COUNT] = {
    [CF_CASE_REFERRED] = "referred",
    [CF_CASE_ACKNOWLEDGED] = "acknowledged",
    [CF_CASE_STRATEGY_HELD] = "strategy_held",
    [CF_CASE_CONVENED] = "convened",
    [CF_CASE_PROPOSED] = "proposed",
    [CF_CASE_DETERMINED] = "determined",
    [CF_CASE_RECONSIDERATION] = "reconsideration",
    [CF_CASE_CLOSED] = "closed",
};

const char *cf_case_state_name(enum cf_case_state state)
{
    return (unsigned)state < CF_CASE_STATE_COUNT ? names[state] : NULL;
}

#define S(state) (1u << (state))
#define ANY_OPEN                                                                                   \
    (S(CF_CASE_REFERRED) | S(CF_CASE_ACKNOWLEDGED) | S(CF_CASE_STRATEGY_HELD) |                    \
     S(CF_CASE_CONVENED) | S(CF_CASE_PROPOSED) | S(CF_CASE_DETERMINED) |                           \
     S(CF_CASE_RECONSIDERATION))

/* DESIGN.md section 5's table: the states a type may arrive in, and the state
 * after it (NONE: unchanged). A proposal may follow a determination, since a
 * CG decision may be made after the RG one; a conference may be convened
 * again after an inquorate meeting, a determination or a reconsideration. */
static const struct {
    uint32_t allowed;
    enum cf_case_state next;
} moves[CF_TYPE_COUNT] = {
    [CF_TYPE_ACKNOWLEDGEMENT] = {S(CF_CASE_REFERRED), CF_CASE_ACKNOWLEDGED},
    [CF_TYPE_STRATEGY_RECORD] = {S(CF_CASE_ACKNOWLEDGED) | S(CF_CASE_STRATEGY_HELD),
                                 CF_CASE_STRATEGY_HELD},
    [CF_TYPE_IRD_RECORD] = {S(CF_CASE_ACKNOWLEDGED) | S(CF_CASE_STRATEGY_HELD),
                            CF_CASE_STRATEGY_HELD},
    [CF_TYPE_CONFERENCE_CONVENED] = {S(CF_CASE_STRATEGY_HELD) | S(CF_CASE_CONVENED) |
                                         S(CF_CASE_DETERMINED) | S(CF_CASE_RECONSIDERATION),
                                     CF_CASE_CONVENED},
    [CF_TYPE_CONTRIBUTION] = {S(CF_CASE_CONVENED) | S(CF_CASE_PROPOSED) | S(CF_CASE_DETERMINED) |
                                  S(CF_CASE_RECONSIDERATION),
                              CF_CASE_NONE},
    [CF_TYPE_DETERMINATION_PROPOSED] = {S(CF_CASE_CONVENED) | S(CF_CASE_DETERMINED) |
                                            S(CF_CASE_RECONSIDERATION),
                                        CF_CASE_PROPOSED},
    [CF_TYPE_VOTE] = {S(CF_CASE_PROPOSED), CF_CASE_NONE},
    [CF_TYPE_DETERMINATION] = {S(CF_CASE_PROPOSED), CF_CASE_DETERMINED},
    [CF_TYPE_RECONSIDERATION_REQUEST] = {S(CF_CASE_DETERMINED), CF_CASE_RECONSIDERATION},
    [CF_TYPE_TRANSFER] = {ANY_OPEN & ~S(CF_CASE_PROPOSED), CF_CASE_NONE},
    [CF_TYPE_CLOSURE] = {ANY_OPEN, CF_CASE_CLOSED},
};

/* Which events meet each deadline: it stays open until one of them happens
 * at or after the moment it counts from. */
static bool deadline_met(const struct cf_case *c, enum cf_deadline d, uint64_t since)
{
    switch (d) {
    case CF_DEADLINE_ACKNOWLEDGEMENT:
        return c->last_at[CF_TYPE_ACKNOWLEDGEMENT] >= since;
    case CF_DEADLINE_STRATEGY:
        return c->last_at[CF_TYPE_STRATEGY_RECORD] >= since ||
               c->last_at[CF_TYPE_IRD_RECORD] >= since;
    case CF_DEADLINE_CONFERENCE:
    case CF_DEADLINE_RECONVENE:
        return c->last_at[CF_TYPE_CONFERENCE_CONVENED] >= since;
    case CF_DEADLINE_RG_DETERMINATION:
        return c->rg_at >= since;
    case CF_DEADLINE_COUNT:
        break;
    }
    return true;
}

/* When the event a deadline counts from first happened. The strategy
 * discussion is one event under two names, strategy_record in England, Wales
 * and Northern Ireland and ird_record in Scotland (deadline_met already treats
 * them so), so a case transferred between nations keeps the discussion it has
 * held: Scotland's conference deadline counts from an English strategy record
 * too, and from no earlier than the transfer. */
static uint64_t first_event(const struct cf_case *c, enum cf_type t)
{
    if (t == CF_TYPE_STRATEGY_RECORD || t == CF_TYPE_IRD_RECORD) {
        uint64_t a = c->first_at[CF_TYPE_STRATEGY_RECORD], b = c->first_at[CF_TYPE_IRD_RECORD];
        return a && (!b || a < b) ? a : b;
    }
    return c->first_at[t];
}

static const struct cf_jurisdiction *jurisdiction_of(const struct cf_case *c,
                                                     const struct cf_case_rules *r)
{
    return cf_policy_jurisdiction(r->dir->policy, c->jurisdiction);
}

/* Works out the open deadlines again from the case's event times. A deadline
 * whose due moment is unchanged keeps the notices already issued for it.
 * After a transfer every open deadline counts from the transfer at the
 * earliest: the receiving nation's rules apply from then on. */
static int recompute_deadlines(struct cf_case *c, const struct cf_case_rules *r,
                               struct cf_error *err)
{
    if (!r->calendars)
        return 0;
    const struct cf_policy *p = r->dir->policy;
    const struct cf_jurisdiction *j = jurisdiction_of(c, r);
    struct cf_case_deadline next[CF_DEADLINE_COUNT];
    size_t n = 0;
    for (int d = 0; j && c->state != CF_CASE_CLOSED && d < CF_DEADLINE_COUNT; d++) {
        const struct cf_duration *dur = &j->deadlines[d];
        if (!dur->set)
            continue;
        uint64_t anchor = dur->from_inquorate ? c->inquorate_at : first_event(c, dur->from);
        if (anchor == 0 || deadline_met(c, (enum cf_deadline)d, anchor))
            continue;
        uint64_t start = anchor > c->transfer_at ? anchor : c->transfer_at, due;
        const struct cf_calendar *cal = r->calendars[j - p->jurisdictions];
        int rc = cf_calendar_deadline(cal, start, dur, &due);
        if (rc != 0)
            return cf_error_set(err, rc, "case %s: the %s deadline cannot be computed from %s",
                                c->case_id, cf_policy_deadline_name((enum cf_deadline)d),
                                j->calendar);
        struct cf_case_deadline nd = {.kind = (enum cf_deadline)d, .due = due};
        nd.near = start + (due - start) / 100 * p->deadline_near_percent +
                  (due - start) % 100 * p->deadline_near_percent / 100;
        for (size_t i = 0; i < c->n_deadlines; i++)
            if (c->deadlines[i].kind == nd.kind && c->deadlines[i].due == nd.due) {
                nd.near_sent = c->deadlines[i].near_sent;
                nd.breach_sent = c->deadlines[i].breach_sent;
            }
        next[n++] = nd;
    }
    memcpy(c->deadlines, next, n * sizeof next[0]);
    c->n_deadlines = n;
    return 0;
}

void cf_case_parties(const struct cf_case *c, const struct cf_header *h, struct cf_parties *out)
{
    memset(out, 0, sizeof *out);
    if (c) {
        out->referrer = c->referrer;
        out->owner = c->owner;
        out->n_guardians = c->n_guardians;
        out->guardians = c->guardians;
        out->n_members = c->n_members;
        out->members = c->members;
        out->n_voters = c->n_voters;
        out->voters = c->voters;
    }
    if (h && h->type == CF_TYPE_CONFERENCE_CONVENED) {
        out->n_members = h->n_members;
        out->members = h->members;
    }
}

void cf_case_route_ctx(const struct cf_case *c, const struct cf_header *h,
                       struct cf_parties *parties, struct cf_route_ctx *ctx)
{
    cf_case_parties(c, h, parties);
    *ctx = (struct cf_route_ctx){
        .type = h->type, .la_code = h->la_code, .sender = h->sender, .parties = c ? parties : NULL};
}

/* "referred or acknowledged" for a message about where a type may arrive. */
static void states_text(uint32_t allowed, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = 0;
    for (int s = 1; s < CF_CASE_STATE_COUNT && used < cap; s++)
        if (allowed & S(s))
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "", names[s]);
}

static const struct cf_member *find_member(const struct cf_case *c, const char *id)
{
    for (size_t i = 0; i < c->n_members; i++)
        if (strcmp(c->members[i].agency, id) == 0)
            return &c->members[i];
    return NULL;
}

static int check_convened(const struct cf_case *c, const struct cf_header *h,
                          const struct cf_jurisdiction *j, const struct cf_case_rules *r,
                          struct cf_error *err)
{
    if (h->n_members == 0)
        return cf_error_set(err, CF_EFIELD, "members: a conference needs its members");
    if (!h->chair_staff_ref[0])
        return cf_error_set(err, CF_EFIELD, "chair_staff_ref: a conference needs its chair");
    bool owner = false;
    for (size_t i = 0; i < h->n_members; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(h->members[i].agency, h->members[k].agency) == 0)
                return cf_error_set(err, CF_EFIELD, "members: %s is listed twice",
                                    h->members[i].agency);
        int rc = cf_policy_member_check(r->dir->policy, j, r->dir, &h->members[i], err);
        if (rc != 0)
            return rc;
        owner |= strcmp(h->members[i].agency, c->owner) == 0;
    }
    if (!owner)
        return cf_error_set(err, CF_EFIELD, "members: the case's owner %s must be a member",
                            c->owner);
    if (j->chair_not_lead && c->lead_staff_ref[0] &&
        strcmp(h->chair_staff_ref, c->lead_staff_ref) == 0)
        return cf_error_set(err, CF_ECHAIR,
                            "chair_staff_ref %s is the case's lead social worker, and %s requires "
                            "a chair who is not the lead; name another chair",
                            h->chair_staff_ref, j->name);
    return 0;
}

static int check_proposal(const struct cf_case *c, const struct cf_header *h,
                          const struct cf_jurisdiction *j, uint64_t now,
                          const struct cf_case_rules *r, struct cf_error *err)
{
    if (h->decision == CF_DECISION_NONE)
        return cf_error_set(err, CF_EFIELD, "decision: a proposal is for rg or cg");
    if (h->n_attendees == 0)
        return cf_error_set(err, CF_EFIELD, "attendees: name who attended the meeting");
    for (size_t i = 0; i < h->n_attendees; i++) {
        for (size_t k = 0; k < i; k++)
            if (strcmp(h->attendees[i], h->attendees[k]) == 0)
                return cf_error_set(err, CF_EFIELD, "attendees: %s is listed twice",
                                    h->attendees[i]);
        if (!find_member(c, h->attendees[i]))
            return cf_error_set(err, CF_EFIELD,
                                "attendees: %s is not a member of the conference convened for "
                                "case %s",
                                h->attendees[i], c->case_id);
    }
    /* A reconsideration stays open until the next determination is sealed,
     * through any conference convened again to hear it (after an inquorate
     * attempt the owner must reconvene, which leaves the state convened). */
    bool reconsidering =
        c->state == CF_CASE_RECONSIDERATION ||
        c->last_at[CF_TYPE_RECONSIDERATION_REQUEST] >= c->last_at[CF_TYPE_DETERMINATION];
    if (h->decision == CF_DECISION_RG && c->rg_at && !reconsidering)
        return cf_error_set(err, CF_ESTATE,
                            "case %s already has its RG determination; propose cg, or ask for "
                            "reconsideration first",
                            c->case_id);
    if (h->decision == CF_DECISION_CG) {
        if (c->cg_at && !reconsidering)
            return cf_error_set(err, CF_ESTATE,
                                "case %s already has its CG determination; only a "
                                "reconsideration request reopens it",
                                c->case_id);
        if (!c->rg_at)
            return cf_error_set(err, CF_ESTATE,
                                "case %s has no RG determination yet; a CG decision follows one",
                                c->case_id);
        uint64_t min_ms = (uint64_t)j->cg_min_days_after_rg * 86400000u;
        if (now < c->rg_at + min_ms)
            return cf_error_set(err, CF_ESTATE,
                                "%s allows a CG decision %u days after the RG one at the "
                                "earliest",
                                j->name, j->cg_min_days_after_rg);
    }
    return cf_policy_quorate(j, r->dir, c->members, c->n_members, h->attendees, h->n_attendees,
                             err);
}

static int check_vote(const struct cf_case *c, const struct cf_header *h, struct cf_error *err)
{
    if (!h->has_vote)
        return cf_error_set(err, CF_EFIELD, "vote: a vote carries its vote fields");
    if (memcmp(h->vote.proposal_id, c->proposal_id, CF_MESSAGE_ID_LEN) != 0)
        return cf_error_set(err, CF_ESTATE,
                            "the vote is on another proposal than the one case %s awaits votes on",
                            c->case_id);
    if (h->decision != c->proposal_decision)
        return cf_error_set(err, CF_EFIELD, "decision: the proposal is for %s, the vote says %s",
                            cf_header_decision_name(c->proposal_decision),
                            h->decision ? cf_header_decision_name(h->decision) : "nothing");
    for (size_t i = 0; i < c->n_votes; i++)
        if (strcmp(c->votes[i].voter, h->sender) == 0)
            return cf_error_set(err, CF_ESTATE, "%s has already voted on this proposal", h->sender);
    return 0;
}

int cf_case_check(const struct cf_case *c, const struct cf_header *h, uint64_t now,
                  const struct cf_case_rules *r, struct cf_error *err)
{
    const struct cf_policy *p = r->dir->policy;
    if (h->type == CF_TYPE_REFERRAL) {
        if (c)
            return cf_error_set(err, CF_ECASEEXISTS,
                                "case %s already exists; a new referral needs a new case id "
                                "(leave case_id out and the agent makes one)",
                                h->case_id);
        return 0;
    }
    if (!c)
        return cf_error_set(err, CF_ESTATE, "case %s does not exist", h->case_id);
    const struct cf_jurisdiction *j = jurisdiction_of(c, r);
    if (!j)
        return cf_error_set(err, CF_EJURISDICTION,
                            "case %s is in %s, which the policy in force no longer has", c->case_id,
                            c->jurisdiction);
    int rc = cf_policy_type_allowed(p, h->type, j, err);
    if (rc != 0)
        return rc;
    if ((unsigned)h->type >= CF_TYPE_COUNT || !(moves[h->type].allowed & S(c->state))) {
        char allowed[160];
        states_text((unsigned)h->type < CF_TYPE_COUNT ? moves[h->type].allowed : 0, allowed,
                    sizeof allowed);
        return cf_error_set(err, CF_ESTATE, "case %s is %s; a %s is allowed only when it is %s",
                            c->case_id, names[c->state], cf_header_type_name(h->type),
                            allowed[0] ? allowed : "(never: the broker makes it)");
    }
    if (h->type == CF_TYPE_TRANSFER) {
        if (strcmp(h->la_code, c->la_code) == 0)
            return cf_error_set(err, CF_EFIELD, "la_code: case %s is already with %s", c->case_id,
                                c->la_code);
    } else if (strcmp(h->la_code, c->la_code) != 0) {
        return cf_error_set(err, CF_EFIELD, "la_code: case %s is with %s, not %s", c->case_id,
                            c->la_code, h->la_code);
    }
    struct cf_parties parties;
    struct cf_route_ctx ctx;
    cf_case_route_ctx(c, h, &parties, &ctx);
    if ((rc = cf_policy_sender_allowed(p, r->dir, &ctx, err)) != 0) {
        /* err->text already holds the policy's sentence: prefix it in place
         * rather than format it into itself. */
        char prefix[sizeof "case " + CF_CASE_ID_LEN];
        snprintf(prefix, sizeof prefix, "case %s", c->case_id);
        cf_error_prefix(err, prefix);
        return rc;
    }
    switch (h->type) {
    case CF_TYPE_ACKNOWLEDGEMENT:
        if (!h->lead_staff_ref[0])
            return cf_error_set(err, CF_EFIELD,
                                "lead_staff_ref: an acknowledgement names the case's lead social "
                                "worker");
        return 0;
    case CF_TYPE_CONFERENCE_CONVENED:
        return check_convened(c, h, j, r, err);
    case CF_TYPE_DETERMINATION_PROPOSED:
        return check_proposal(c, h, j, now, r, err);
    case CF_TYPE_VOTE:
        return check_vote(c, h, err);
    default:
        return 0;
    }
}

static void ids_copy(cf_id *dst, size_t *n, size_t cap, const cf_id *src, size_t count)
{
    *n = count < cap ? count : cap;
    memcpy(dst, src, *n * sizeof(cf_id));
}

static void end_proposal(struct cf_case *c, enum cf_case_state to)
{
    c->state = to;
    c->proposal_leaf = 0;
    memset(c->proposal_id, 0, sizeof c->proposal_id);
    c->proposal_decision = CF_DECISION_NONE;
    c->n_voters = c->n_votes = 0;
}

/* A referral sets the case up from nothing: who referred, who owns it and
 * which guardians it went to, as the policy picks them for the LA. */
static int open_case(struct cf_case *c, const struct cf_header *h, uint64_t leaf,
                     const struct cf_case_rules *r, struct cf_error *err)
{
    memset(c, 0, sizeof *c);
    memcpy(c->case_id, h->case_id, sizeof c->case_id);
    memcpy(c->la_code, h->la_code, sizeof c->la_code);
    memcpy(c->jurisdiction, h->jurisdiction, sizeof c->jurisdiction);
    memcpy(c->referrer, h->sender, sizeof c->referrer);
    c->opened_leaf = leaf;
    c->urgency = h->urgency;
    c->immediate_risk = h->immediate_risk;
    struct cf_route_ctx ctx = {.type = h->type, .la_code = h->la_code, .sender = h->sender};
    int rc = cf_policy_owner(r->dir->policy, r->dir, &ctx, c->owner, err);
    if (rc != 0)
        return rc;
    cf_id found[CF_MAX_RECIPIENTS];
    size_t n;
    if ((rc = cf_policy_guardians(r->dir->policy, r->dir, &ctx, found, &n, err)) != 0)
        return rc;
    ids_copy(c->guardians, &c->n_guardians, CF_MAX_GUARDIANS, found, n);
    return 0;
}

int cf_case_apply(struct cf_case *c, const struct cf_header *h, uint64_t leaf, uint64_t time,
                  const struct cf_case_rules *r, struct cf_case_effects *fx, struct cf_error *err)
{
    memset(fx, 0, sizeof *fx);
    int rc;
    if (h->type == CF_TYPE_REFERRAL && (rc = open_case(c, h, leaf, r, err)) != 0)
        return rc;
    if ((unsigned)h->type >= CF_TYPE_COUNT)
        return cf_error_set(err, CF_ETYPE, "unknown message type");
    enum cf_case_state next = h->type == CF_TYPE_REFERRAL ? CF_CASE_REFERRED : moves[h->type].next;
    /* An agency that joins a case late (health at the strategy discussion)
     * learns its owner from the first message only the owner may send. */
    if (!c->owner[0] && h->type != CF_TYPE_TRANSFER &&
        cf_policy_sent_by_owner(r->dir->policy, h->type))
        memcpy(c->owner, h->sender, sizeof c->owner);
    switch (h->type) {
    case CF_TYPE_ACKNOWLEDGEMENT:
        memcpy(c->lead_staff_ref, h->lead_staff_ref, sizeof c->lead_staff_ref);
        break;
    case CF_TYPE_CONFERENCE_CONVENED:
        c->n_members = h->n_members < CF_MAX_MEMBERS ? h->n_members : CF_MAX_MEMBERS;
        memcpy(c->members, h->members, c->n_members * sizeof c->members[0]);
        memcpy(c->chair_staff_ref, h->chair_staff_ref, sizeof c->chair_staff_ref);
        end_proposal(c, c->state);
        fx->convened = true;
        break;
    case CF_TYPE_DETERMINATION_PROPOSED:
        c->before_proposal = c->state;
        c->proposal_leaf = leaf;
        memcpy(c->proposal_id, h->message_id, sizeof c->proposal_id);
        c->proposal_decision = h->decision;
        c->n_voters = c->n_votes = 0;
        for (size_t i = 0; i < h->n_attendees && c->n_voters < CF_MAX_MEMBERS; i++) {
            const struct cf_member *m = find_member(c, h->attendees[i]);
            if (m && m->standing == CF_STANDING_VOTING)
                memcpy(c->voters[c->n_voters++], m->agency, sizeof(cf_id));
        }
        fx->hold = true;
        break;
    case CF_TYPE_VOTE:
        if (c->state != CF_CASE_PROPOSED || !h->has_vote || c->n_votes == CF_MAX_MEMBERS)
            break; /* an agent replaying what it saw may lack the proposal */
        struct cf_vote_record *v = &c->votes[c->n_votes++];
        memcpy(v->voter, h->sender, sizeof v->voter);
        v->approve = h->vote.approve;
        memcpy(v->signature, h->vote.signature, sizeof v->signature);
        v->leaf = leaf;
        if (!v->approve) {
            end_proposal(c, c->before_proposal);
            fx->proposal_rejected = true;
        } else {
            const struct cf_jurisdiction *j = jurisdiction_of(c, r);
            fx->quorum_met =
                j && cf_policy_quorum_met(j, r->dir, c->voters, c->n_voters, c->votes, c->n_votes);
        }
        break;
    case CF_TYPE_TRANSFER: {
        memcpy(c->la_code, h->la_code, sizeof c->la_code);
        memcpy(c->jurisdiction, h->jurisdiction, sizeof c->jurisdiction);
        struct cf_route_ctx ctx = {.type = h->type, .la_code = h->la_code, .sender = h->sender};
        if (cf_policy_owner(r->dir->policy, r->dir, &ctx, c->owner, err) != 0)
            c->owner[0] = 0;      /* checked at 9: the route reaches its children's services */
        c->lead_staff_ref[0] = 0; /* the receiving LA names its own lead */
        c->transfer_at = time;
        fx->transferred = true;
        break;
    }
    case CF_TYPE_CLOSURE:
        end_proposal(c, c->state);
        break;
    default:
        break;
    }
    if (next != CF_CASE_NONE)
        c->state = next;
    if (!c->first_at[h->type])
        c->first_at[h->type] = time;
    c->last_at[h->type] = time;
    c->updated_leaf = leaf;
    return recompute_deadlines(c, r, err);
}

int cf_case_apply_determination(struct cf_case *c, uint64_t leaf, uint64_t time,
                                const struct cf_case_rules *r, struct cf_error *err)
{
    if (c->proposal_decision == CF_DECISION_RG)
        c->rg_at = time;
    else if (c->proposal_decision == CF_DECISION_CG)
        c->cg_at = time;
    end_proposal(c, CF_CASE_DETERMINED);
    if (!c->first_at[CF_TYPE_DETERMINATION])
        c->first_at[CF_TYPE_DETERMINATION] = time;
    c->last_at[CF_TYPE_DETERMINATION] = time;
    c->updated_leaf = leaf;
    return recompute_deadlines(c, r, err);
}

int cf_case_apply_inquorate(struct cf_case *c, uint64_t leaf, uint64_t time,
                            const struct cf_case_rules *r, struct cf_error *err)
{
    c->inquorate_at = time;
    c->updated_leaf = leaf;
    return recompute_deadlines(c, r, err);
}

void cf_case_deadline_fired(struct cf_case *c, enum cf_deadline kind, bool breach, uint64_t leaf)
{
    for (size_t i = 0; i < c->n_deadlines; i++)
        if (c->deadlines[i].kind == kind) {
            if (breach)
                c->deadlines[i].breach_sent = c->deadlines[i].near_sent = true;
            else
                c->deadlines[i].near_sent = true;
        }
    c->updated_leaf = leaf;
}

const struct cf_case_deadline *cf_case_next_deadline(const struct cf_case *c)
{
    const struct cf_case_deadline *best = NULL;
    for (size_t i = 0; i < c->n_deadlines; i++)
        if (!best || c->deadlines[i].due < best->due)
            best = &c->deadlines[i];
    return best;
}
