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

enum cf_unit { CF_UNIT_NONE = 0, CF_UNIT_MINUTES, CF_UNIT_HOURS, CF_UNIT_CALENDAR_DAYS, CF_UNIT_WORKING_DAYS };

/* "<n> <unit> [from <event>]"; set == false when the policy gives no figure. */
struct cf_duration {
    bool set;
    unsigned n;
    enum cf_unit unit;
    enum cf_type from;  /* CF_TYPE_NONE when anchored on an event below */
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
    cf_id escrow;                       /* auditor escrow agency id, or "" */
    uint32_t voting_roles, required_roles, must_include; /* role bit sets */
    unsigned quorum;                    /* 0 means every voting role */
    bool chair_not_lead;
    unsigned cg_min_days_after_rg;
    struct cf_duration deadlines[CF_DEADLINE_COUNT];
};

enum cf_selector_kind {
    CF_SEL_AREA_ROLE = 1, /* "area:ROLE": agencies with ROLE that serve the LA code */
    CF_SEL_ESCROW,        /* "escrow": the jurisdiction's escrow agency, if it has one */
};

struct cf_selector {
    enum cf_selector_kind kind;
    int role; /* for CF_SEL_AREA_ROLE */
};

#define CF_MAX_SELECTORS 16

struct cf_route {
    bool set;         /* a [message.TYPE] section exists */
    uint32_t senders; /* role bit set that may send the type */
    size_t n_selectors;
    struct cf_selector selectors[CF_MAX_SELECTORS];
};

/* Read-only once parsed. */
struct cf_policy {
    unsigned max_clock_skew_seconds;
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

/* What a route is computed from. Later message types add case facts here. */
struct cf_route_ctx {
    enum cf_type type;
    const char *la_code;
};

/* The exact recipient list the policy routes for `ctx`: agency ids sorted
 * ascending, without repeats. CF_ENOROUTE (err names the selector) if the type
 * has no route or an area:ROLE selector matches nobody; CF_EJURISDICTION for
 * an LA code no jurisdiction claims; CF_EUNKNOWNAGENCY if the escrow agency is
 * not in the directory; CF_ETOOBIG above CF_MAX_RECIPIENTS. */
CF_WUR int cf_policy_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                                const struct cf_route_ctx *ctx, cf_id out[CF_MAX_RECIPIENTS],
                                size_t *n, struct cf_error *err);

/* The recipients of a broker notice of `kind` about a case in `la_code`, by
 * the [notice.KIND] route: sorted, without repeats. *n is 0 when the policy
 * routes that kind nowhere; errors as for cf_policy_recipients. */
CF_WUR int cf_policy_notice_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                                       enum cf_notice_kind kind, const char *la_code,
                                       cf_id out[CF_MAX_RECIPIENTS], size_t *n,
                                       struct cf_error *err);

#endif
