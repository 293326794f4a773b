/* Policy: the rules of each nation as data read from policy.ini, and the only
 * place in ChildFirst where role and jurisdiction names mean anything.
 *
 * policy.ini travels inside the signed directory bundle, so the broker and
 * every agent compute the same recipient sets with this same code.
 */
#ifndef CHILDFIRST_POLICY_H
#define CHILDFIRST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/error.h"
#include "childfirst/header.h"
#include "childfirst/notice.h"

struct cf_directory;

/* Roles are fixed by the design (DESIGN.md section 3). An agency's roles are a
 * bit set: bit (1u << role). */
enum cf_role {
    CF_ROLE_FIRST_RESPONDER,
    CF_ROLE_CHILDREN_SERVICES,
    CF_ROLE_POLICE,
    CF_ROLE_HEALTH,
    CF_ROLE_EDUCATION,
    CF_ROLE_GUARDIAN,
    CF_ROLE_HOME_OFFICE,
    CF_ROLE_DUTY_TEAM,
    CF_ROLE_AUDITOR,
    CF_ROLE_COUNT
};

/* A role's index for its name, or CF_EVALUE. */
int cf_policy_role_parse(const char *name);
/* A role's name, or NULL when out of range. Static. */
const char *cf_policy_role_name(int role);

/* Parses a space-separated list of role names into a bit set. CF_EVALUE, with
 * err naming `key`, for an unknown or repeated role, or an empty list unless
 * `empty_ok`. */
CF_WUR int cf_policy_roles_parse(const char *key, const char *value, bool empty_ok, uint32_t *out,
                                 struct cf_error *err);

enum cf_unit {
    CF_UNIT_NONE = 0,
    CF_UNIT_MINUTES,
    CF_UNIT_HOURS,
    CF_UNIT_CALENDAR_DAYS,
    CF_UNIT_WORKING_DAYS
};

/* "<n> <unit> [from <event>]"; set == false when the policy gives no figure. */
struct cf_duration {
    bool set;
    unsigned n;
    enum cf_unit unit;
    enum cf_type from;   /* CF_TYPE_NONE when anchored on an event below */
    bool from_inquorate; /* anchored on the broker's inquorate ruling */
};

enum cf_deadline {
    CF_DEADLINE_ACKNOWLEDGEMENT,
    CF_DEADLINE_STRATEGY,
    CF_DEADLINE_CONFERENCE,
    CF_DEADLINE_RG_DETERMINATION,
    CF_DEADLINE_RECONVENE,
    CF_DEADLINE_COUNT
};

/* The deadline's key in policy.ini after "deadline." ("acknowledgement"...). */
const char *cf_policy_deadline_name(enum cf_deadline d);

struct cf_jurisdiction {
    char name[CF_JURISDICTION_MAX + 1]; /* the section name, an id */
    char la_prefixes[8];                /* first letters of its LA codes, e.g. "EW" */
    char calendar[CF_JURISDICTION_MAX + 1];
    cf_id escrow;                                        /* auditor escrow agency id, or "" */
    uint32_t voting_roles, required_roles, must_include; /* role bit sets */
    unsigned quorum;                                     /* 0 means every voting role */
    bool chair_not_lead;
    unsigned cg_min_days_after_rg;
    struct cf_duration deadlines[CF_DEADLINE_COUNT];
};

enum cf_selector_kind {
    CF_SEL_AREA_ROLE = 1,     /* "area:ROLE": agencies with ROLE that serve the LA code */
    CF_SEL_JURISDICTION_ROLE, /* "jurisdiction:ROLE": agencies with ROLE in the LA's jurisdiction */
    CF_SEL_ESCROW,            /* "escrow": the jurisdiction's escrow agency, if it has one */
    CF_SEL_REFERRER,          /* "case:referrer": who sent the case's referral */
    CF_SEL_OWNER,             /* "case:owner": the LA children's services that owns the case */
    CF_SEL_GUARDIANS,         /* "case:guardians": the guardians the referral went to */
    CF_SEL_MEMBERS,           /* "case:members": the conference's members */
    CF_SEL_VOTERS,            /* "case:voters": voting members who attended the open proposal */
    CF_SEL_SENDER,            /* "sender": the sender of the message a notice is about */
};

struct cf_selector {
    enum cf_selector_kind kind;
    int role;      /* for the ROLE selectors */
    bool optional; /* written with a trailing '?': an area or jurisdiction selector may
                      reach nobody (not every LA has a guardian service) */
};

#define CF_MAX_SELECTORS 16

/* A list of selectors: the union of the agencies each picks. */
struct cf_selection {
    size_t n;
    struct cf_selector s[CF_MAX_SELECTORS];
};

struct cf_route {
    bool set;                       /* the section exists */
    uint32_t senders;               /* role bit set that may send the type */
    struct cf_selection recipients; /* whom the message must go to */
    struct cf_selection from;       /* n == 0: any agency with a sender role; else the sender
                                       must be one these pick (the owner, a member, ...) */
    struct cf_selection owner;      /* referral, transfer: picks the case's (new) owner */
    struct cf_selection guardians;  /* referral: picks the case's guardians */
    struct cf_selection nrm_return; /* determination_proposed: the return's one reader */
    bool liaison;                   /* agencies holding a liaison role may receive it */
    uint32_t jurisdictions;         /* bit set of policy jurisdiction indices; 0: every one */
};

/* Who holds which part in a case, for the case: selectors. Borrowed. */
struct cf_parties {
    const char *referrer, *owner; /* NULL or "" when not known */
    size_t n_guardians;
    const cf_id *guardians;
    size_t n_members;
    const struct cf_member *members;
    size_t n_voters;
    const cf_id *voters;
};

/* Read-only once parsed. */
struct cf_policy {
    unsigned max_clock_skew_seconds;
    uint32_t liaison_roles;         /* informed, never deciding (DOMAIN.md: the Home Office) */
    uint32_t audit_roles;           /* may stream the whole log (AuditFollow) */
    unsigned deadline_near_percent; /* deadline_near fires once this share of the time is gone */
    unsigned max_message_age_hours;
    struct cf_duration undelivered[4]; /* indexed by enum cf_urgency */
    struct cf_duration non_delivery_report;
    struct cf_route routes[CF_TYPE_COUNT];
    struct cf_route notices[CF_NOTICE_KIND_COUNT]; /* [notice.KIND]: recipients only */
    size_t n_jurisdictions;
    struct cf_jurisdiction jurisdictions[CF_MAX_JURISDICTIONS];
};

/* Parses policy.ini held in `buf`; `name` is used in messages. Every error names
 * the line. Caller owns *out; free with cf_policy_destroy. */
CF_WUR int cf_policy_parse(const char *name, const char *buf, size_t len, struct cf_policy **out,
                           struct cf_error *err);

/* Frees; accepts NULL and clears the pointer. */
void cf_policy_destroy(struct cf_policy **policy);

/* The jurisdiction with this name, or NULL. Borrowed from the policy. */
const struct cf_jurisdiction *cf_policy_jurisdiction(const struct cf_policy *p, const char *name);

/* The jurisdiction of an LA code, by its first letter; CF_EJURISDICTION if none. */
CF_WUR int cf_policy_jurisdiction_of(const struct cf_policy *p, const char *la_code,
                                     const struct cf_jurisdiction **out);

/* Whether an agency holding `roles` may send `type`. */
bool cf_policy_may_send(const struct cf_policy *p, uint32_t roles, enum cf_type type);

/* What a route is computed from. */
struct cf_route_ctx {
    enum cf_type type;
    const char *la_code;              /* the message's; a transfer's names the receiving LA */
    const char *sender;               /* for `from` and the notice selector `sender` */
    const struct cf_parties *parties; /* NULL before the case exists */
};

/* The exact recipient list the policy routes for `ctx`: agency ids sorted
 * ascending, without repeats, and without liaison-role holders unless the
 * route allows them. A sender the route picks is a recipient too: its own
 * copy comes back through the log, with the proof that the others saw it. CF_ENOROUTE (err names
 * the selector) if the type has no route, a selector without '?' reaches nobody, or the list ends
 * up empty; CF_EJURISDICTION for an LA code no jurisdiction claims; CF_EUNKNOWNAGENCY if the escrow
 * agency is not in the directory; CF_ETOOBIG above CF_MAX_RECIPIENTS. */
CF_WUR int cf_policy_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                                const struct cf_route_ctx *ctx, cf_id out[CF_MAX_RECIPIENTS],
                                size_t *n, struct cf_error *err);

/* Check 9: `got` (a header's recipients) equals cf_policy_recipients exactly.
 * CF_ERECIPIENTS otherwise, with a sentence that names what is wrong, and
 * says so when an extra recipient holds a liaison role. */
CF_WUR int cf_policy_recipients_match(const struct cf_policy *p, const struct cf_directory *dir,
                                      const struct cf_route_ctx *ctx, const cf_id *got, size_t n,
                                      struct cf_error *err);

/* The recipients of a broker notice of `kind`, by its [notice.KIND] route
 * (liaison holders may receive notices). *n is 0 when the policy routes that
 * kind nowhere; otherwise errors as for cf_policy_recipients. */
CF_WUR int cf_policy_notice_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                                       enum cf_notice_kind kind, const struct cf_route_ctx *ctx,
                                       cf_id out[CF_MAX_RECIPIENTS], size_t *n,
                                       struct cf_error *err);

/* Check 8's "sender owns or belongs to the case": 0 if the route has no
 * `from`, or its selectors pick `ctx->sender`; CF_ENOTPARTY with a sentence
 * naming who may send it otherwise. */
CF_WUR int cf_policy_sender_allowed(const struct cf_policy *p, const struct cf_directory *dir,
                                    const struct cf_route_ctx *ctx, struct cf_error *err);

/* Whether the route's `from` lets only the case's owner send `type`: then a
 * message of it names the owner, to an agency that has not seen the rest. */
bool cf_policy_sent_by_owner(const struct cf_policy *p, enum cf_type type);

/* Whether `type` is a message of jurisdiction `j` (a strategy_record is not
 * Scotland's: it holds an ird_record). CF_ETYPE with a sentence otherwise. */
CF_WUR int cf_policy_type_allowed(const struct cf_policy *p, enum cf_type type,
                                  const struct cf_jurisdiction *j, struct cf_error *err);

/* The one agency the route's `owner` picks for ctx (a referral's new case, a
 * transfer's receiving LA). CF_ENOROUTE if it picks none or several. */
CF_WUR int cf_policy_owner(const struct cf_policy *p, const struct cf_directory *dir,
                           const struct cf_route_ctx *ctx, cf_id out, struct cf_error *err);

/* The agencies the route's `guardians` picks (may be none). */
CF_WUR int cf_policy_guardians(const struct cf_policy *p, const struct cf_directory *dir,
                               const struct cf_route_ctx *ctx, cf_id out[CF_MAX_RECIPIENTS],
                               size_t *n, struct cf_error *err);

/* The one reader of a determination proposal's NRM return. CF_ENOROUTE if
 * the route names none, or its selectors pick none or several. */
CF_WUR int cf_policy_nrm_reader(const struct cf_policy *p, const struct cf_directory *dir,
                                const struct cf_route_ctx *ctx, cf_id out, struct cf_error *err);

/* Whether an agency holding `roles` may stream the whole log. */
bool cf_policy_may_audit(const struct cf_policy *p, uint32_t roles);

/* Whether any of `roles` is a liaison role. */
bool cf_policy_is_liaison(const struct cf_policy *p, uint32_t roles);

/* A conference member's standing fits its agency: a voting member holds one
 * of the jurisdiction's voting roles, and a liaison holder is only advisory.
 * CF_EUNKNOWNAGENCY or CF_EFIELD, naming the member, otherwise. */
CF_WUR int cf_policy_member_check(const struct cf_policy *p, const struct cf_jurisdiction *j,
                                  const struct cf_directory *dir, const struct cf_member *m,
                                  struct cf_error *err);

/* Whether the attendees make a quorate meeting (DESIGN.md section 5): every
 * voting role is held by an attendee who is a voting member, and every
 * required role by an attendee. CF_EINQUORATE naming the first missing role. */
CF_WUR int cf_policy_quorate(const struct cf_jurisdiction *j, const struct cf_directory *dir,
                             const struct cf_member *members, size_t n_members,
                             const cf_id *attendees, size_t n_attendees, struct cf_error *err);

/* Whether the approvals among `votes` meet the jurisdiction's quorum: with
 * quorum = all every voter approved; with a number, at least that many did.
 * Either way the approvers must hold every must_include role, and no voter
 * rejected. Votes by agencies not among `voters` count neither way. */
bool cf_policy_quorum_met(const struct cf_jurisdiction *j, const struct cf_directory *dir,
                          const cf_id *voters, size_t n_voters, const struct cf_vote_record *votes,
                          size_t n_votes);

#endif
