/* Policy: reads policy.ini into struct cf_policy and computes routes from it.
 * The reader is a table of keys per kind of section, so a new nation rule, a new
 * [message.TYPE] route or a new selector is a row of data rather than new code. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childfirst/directory.h"
#include "childfirst/ini.h"
#include "childfirst/policy.h"

/* The only place in ChildFirst where role names are spelled (DESIGN.md section 3). */
static const char *const role_names[CF_ROLE_COUNT] = {
    [CF_ROLE_FIRST_RESPONDER] = "first_responder",
    [CF_ROLE_CHILDREN_SERVICES] = "children_services",
    [CF_ROLE_POLICE] = "police",
    [CF_ROLE_HEALTH] = "health",
    [CF_ROLE_EDUCATION] = "education",
    [CF_ROLE_GUARDIAN] = "guardian",
    [CF_ROLE_HOME_OFFICE] = "home_office",
    [CF_ROLE_DUTY_TEAM] = "duty_team",
    [CF_ROLE_AUDITOR] = "auditor",
};

/* Each deadline's name, spelled once: it gives both cf_policy_deadline_name and
 * the "deadline.NAME" key of a jurisdiction. */
#define DEADLINES(X)                                                                               \
    X(CF_DEADLINE_ACKNOWLEDGEMENT, "acknowledgement")                                              \
    X(CF_DEADLINE_STRATEGY, "strategy")                                                            \
    X(CF_DEADLINE_CONFERENCE, "conference")                                                        \
    X(CF_DEADLINE_RG_DETERMINATION, "rg_determination")                                            \
    X(CF_DEADLINE_RECONVENE, "reconvene")

static const char *const deadline_names[CF_DEADLINE_COUNT] = {
#define DEADLINE_NAME(d, name) [d] = name,
    DEADLINES(DEADLINE_NAME)
#undef DEADLINE_NAME
};

static const char *const unit_names[] = {
    [CF_UNIT_MINUTES] = "minutes",
    [CF_UNIT_HOURS] = "hours",
    [CF_UNIT_CALENDAR_DAYS] = "calendar_days",
    [CF_UNIT_WORKING_DAYS] = "working_days",
};

/* The anchor a deadline may count from besides a message type. */
static const char inquorate_event[] = "inquorate";

int cf_policy_role_parse(const char *name)
{
    for (int i = 0; i < CF_ROLE_COUNT; i++)
        if (strcmp(role_names[i], name) == 0)
            return i;
    return CF_EVALUE;
}

const char *cf_policy_role_name(int role)
{
    return role >= 0 && role < CF_ROLE_COUNT ? role_names[role] : NULL;
}

const char *cf_policy_deadline_name(enum cf_deadline d)
{
    return (unsigned)d < CF_DEADLINE_COUNT ? deadline_names[d] : NULL;
}

/* ---- Reading values ---------------------------------------------------- */

/* Longest word a list value may hold: every valid word is far shorter, and the
 * reader refuses lines longer than this anyway. */
#define WORD_MAX 200

/* Copies the next space-separated word at *p into `word` and advances *p.
 * Returns false at the end of the value. */
static bool next_word(const char **p, char word[WORD_MAX + 1])
{
    const char *s = *p + strspn(*p, " \t");
    size_t len = strcspn(s, " \t");
    if (len == 0)
        return false;
    if (len > WORD_MAX)
        len = WORD_MAX;
    memcpy(word, s, len);
    word[len] = 0;
    *p = s + strcspn(s, " \t");
    return true;
}

#define ROLE_LIST_MAX 160

/* "first_responder, children_services, ..." for messages that must say what
 * would have been accepted. */
static const char *role_list(char list[ROLE_LIST_MAX])
{
    size_t n = 0;
    list[0] = 0;
    for (int i = 0; i < CF_ROLE_COUNT && n < ROLE_LIST_MAX; i++)
        n += (size_t)snprintf(list + n, ROLE_LIST_MAX - n, "%s%s", i ? ", " : "", role_names[i]);
    return list;
}

static int popcount(uint32_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* The number of the file's last line, for errors about something the file
 * lacks: they name the line where the reader stopped looking. */
static unsigned last_line(const char *buf, size_t len)
{
    unsigned n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    if (len > 0 && buf[len - 1] != '\n')
        n++;
    return n ? n : 1;
}

/* ---- The key tables ---------------------------------------------------- */

struct parser;
struct key_def;

/* Parses `value` into the field the key's row points at. */
typedef int (*value_fn)(struct parser *ps, const struct key_def *k, void *field, const char *value,
                        struct cf_error *err);

enum {
    KEY_REQUIRED = 1, /* the section is incomplete without it */
    KEY_FROM = 2,     /* a duration that must say what it counts from */
    KEY_EMPTY_OK = 4, /* an empty list is a valid value */
};

struct key_def {
    const char *name;
    value_fn parse;
    size_t offset; /* of the field within the section's struct */
    unsigned long long min, max;
    unsigned flags;
};

#define MAX_SECTION_KEYS 24

/* Where a section and each of its keys appeared; 0 means not seen. Checks that
 * span several keys run after the whole file is read and name these lines. */
struct section_lines {
    unsigned header;
    unsigned key[MAX_SECTION_KEYS];
};

struct parser {
    const char *name;
    const char *buf;
    size_t len;
    struct cf_policy *p;
    const struct key_def *keys; /* the current section's table; NULL outside a section */
    size_t n_keys;
    char *base; /* the struct the current section's keys fill */
    struct section_lines *lines;
    struct section_lines policy_lines;
    struct section_lines route_lines[CF_TYPE_COUNT];
    struct section_lines notice_lines[CF_NOTICE_KIND_COUNT];
    struct section_lines jurisdiction_lines[CF_MAX_JURISDICTIONS];
    char route_jurisdictions[CF_TYPE_COUNT][WORD_MAX + 1]; /* resolved in finish() */
};

static int parse_uint(struct parser *ps, const struct key_def *k, void *field, const char *value,
                      struct cf_error *err)
{
    (void)ps;
    unsigned long long v;
    int rc = cf_ini_uint(k->name, value, k->max, &v, err);
    if (rc != 0)
        return rc;
    if (v < k->min)
        return cf_error_set(err, CF_EVALUE, "%s: %llu is below the minimum of %llu", k->name, v,
                            k->min);
    *(unsigned *)field = (unsigned)v;
    return 0;
}

static int parse_bool(struct parser *ps, const struct key_def *k, void *field, const char *value,
                      struct cf_error *err)
{
    (void)ps;
    int v;
    int rc = cf_ini_bool(k->name, value, &v, err);
    if (rc == 0)
        *(bool *)field = v != 0;
    return rc;
}

/* "<n> <unit> [from <event>]". Undelivered alerts count from the broker's
 * accept time, so their keys refuse a "from"; deadlines need one, because a
 * figure without its anchor cannot be checked against the source it cites. */
static int parse_duration(struct parser *ps, const struct key_def *k, void *field,
                          const char *value, struct cf_error *err)
{
    (void)ps;
    struct cf_duration d = {.set = true, .from = CF_TYPE_NONE};
    const char *p = value;
    char word[WORD_MAX + 1];
    const char *shape = (k->flags & KEY_FROM) ? "<n> <unit> from <event>" : "<n> <unit>";
    if (!next_word(&p, word))
        return cf_error_set(err, CF_EVALUE, "%s: empty; write '%s'", k->name, shape);
    unsigned long long n;
    int rc = cf_ini_uint(k->name, word, k->max, &n, err);
    if (rc != 0)
        return rc;
    if (n == 0)
        return cf_error_set(err, CF_EVALUE, "%s: a duration of 0 is breached at once", k->name);
    d.n = (unsigned)n;
    if (!next_word(&p, word))
        return cf_error_set(err, CF_EVALUE, "%s: '%s' lacks a unit; write '%s'", k->name, value,
                            shape);
    for (size_t u = 1; u < sizeof unit_names / sizeof unit_names[0]; u++)
        if (strcmp(word, unit_names[u]) == 0)
            d.unit = (enum cf_unit)u;
    if (d.unit == CF_UNIT_NONE)
        return cf_error_set(err, CF_EVALUE,
                            "%s: '%s' is not a unit; use minutes, hours, calendar_days or "
                            "working_days",
                            k->name, word);
    bool has_from = next_word(&p, word);
    if (has_from && strcmp(word, "from") != 0)
        return cf_error_set(err, CF_EVALUE, "%s: unexpected '%s'; write '%s'", k->name, word,
                            shape);
    if (has_from && !(k->flags & KEY_FROM))
        return cf_error_set(err, CF_EVALUE,
                            "%s counts from the broker's accept time; drop the 'from' part",
                            k->name);
    if (!has_from && (k->flags & KEY_FROM))
        return cf_error_set(err, CF_EVALUE, "%s: say what it counts from; write '%s'", k->name,
                            shape);
    if (has_from) {
        if (!next_word(&p, word))
            return cf_error_set(err, CF_EVALUE, "%s: 'from' needs an event", k->name);
        if (strcmp(word, inquorate_event) == 0)
            d.from_inquorate = true;
        else if ((d.from = cf_header_type_parse(word)) == CF_TYPE_NONE)
            return cf_error_set(err, CF_EVALUE, "%s: '%s' is neither a message type nor '%s'",
                                k->name, word, inquorate_event);
    }
    if (next_word(&p, word))
        return cf_error_set(err, CF_EVALUE, "%s: unexpected '%s' at the end; write '%s'", k->name,
                            word, shape);
    *(struct cf_duration *)field = d;
    return 0;
}

int cf_policy_roles_parse(const char *key, const char *value, bool empty_ok, uint32_t *out,
                          struct cf_error *err)
{
    uint32_t set = 0;
    const char *p = value;
    char word[WORD_MAX + 1];
    while (next_word(&p, word)) {
        int role = cf_policy_role_parse(word);
        char roles[ROLE_LIST_MAX];
        if (role < 0)
            return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a role; the roles are %s", key,
                                word, role_list(roles));
        if (set & (1u << role))
            return cf_error_set(err, CF_EVALUE, "%s names %s twice", key, word);
        set |= 1u << role;
    }
    if (set == 0 && !empty_ok)
        return cf_error_set(err, CF_EVALUE, "%s: name at least one role", key);
    *out = set;
    return 0;
}

static int parse_roles(struct parser *ps, const struct key_def *k, void *field, const char *value,
                       struct cf_error *err)
{
    (void)ps;
    return cf_policy_roles_parse(k->name, value, k->flags & KEY_EMPTY_OK, field, err);
}

/* What may stand in a selector list. A selector that takes a role is written
 * PREFIX + ROLE; one that does not is its prefix alone. Either may end in '?'
 * when it is allowed to reach nobody; only the role selectors can, since the
 * case selectors are empty whenever the case has nobody in that part. */
static const struct {
    const char *prefix;
    enum cf_selector_kind kind;
    bool takes_role;
} selector_defs[] = {
    {"area:", CF_SEL_AREA_ROLE, true},       {"jurisdiction:", CF_SEL_JURISDICTION_ROLE, true},
    {"escrow", CF_SEL_ESCROW, false},        {"case:referrer", CF_SEL_REFERRER, false},
    {"case:owner", CF_SEL_OWNER, false},     {"case:guardians", CF_SEL_GUARDIANS, false},
    {"case:members", CF_SEL_MEMBERS, false}, {"case:voters", CF_SEL_VOTERS, false},
    {"sender", CF_SEL_SENDER, false},
};

#define SELECTOR_LIST                                                                              \
    "area:ROLE, jurisdiction:ROLE, escrow, case:referrer, case:owner, case:guardians, "            \
    "case:members, case:voters or sender"

static int parse_selector(const char *key, const char *word, struct cf_selector *out,
                          struct cf_error *err)
{
    char base[WORD_MAX + 1];
    size_t len = strlen(word);
    bool optional = len > 1 && word[len - 1] == '?';
    memcpy(base, word, len + 1);
    if (optional)
        base[len - 1] = 0;
    for (size_t i = 0; i < sizeof selector_defs / sizeof selector_defs[0]; i++) {
        const char *prefix = selector_defs[i].prefix;
        size_t plen = strlen(prefix);
        int role = -1;
        if (!selector_defs[i].takes_role) {
            if (strcmp(base, prefix) != 0)
                continue;
        } else {
            if (strncmp(base, prefix, plen) != 0)
                continue;
            char roles[ROLE_LIST_MAX];
            if ((role = cf_policy_role_parse(base + plen)) < 0)
                return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a role; the roles are %s", key,
                                    base + plen, role_list(roles));
        }
        if (optional && !selector_defs[i].takes_role)
            return cf_error_set(err, CF_EVALUE,
                                "%s: '%s' cannot be optional; only area: and jurisdiction: "
                                "selectors may reach nobody",
                                key, word);
        *out =
            (struct cf_selector){.kind = selector_defs[i].kind, .role = role, .optional = optional};
        return 0;
    }
    return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a selector; use " SELECTOR_LIST, key,
                        word);
}

static int parse_selectors(struct parser *ps, const struct key_def *k, void *field,
                           const char *value, struct cf_error *err)
{
    (void)ps;
    struct cf_selection *sel = field;
    const char *p = value;
    char word[WORD_MAX + 1];
    size_t n = 0;
    while (next_word(&p, word)) {
        if (n == CF_MAX_SELECTORS)
            return cf_error_set(err, CF_ETOOBIG, "%s: more than %d selectors", k->name,
                                CF_MAX_SELECTORS);
        struct cf_selector one;
        int rc = parse_selector(k->name, word, &one, err);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < n; i++)
            if (sel->s[i].kind == one.kind && sel->s[i].role == one.role)
                return cf_error_set(err, CF_EVALUE, "%s names %s twice", k->name, word);
        sel->s[n++] = one;
    }
    if (n == 0)
        return cf_error_set(err, CF_EVALUE, "%s: name at least one selector", k->name);
    sel->n = n;
    return 0;
}

/* A route's jurisdictions are named before some of them may be declared, so
 * the words are kept and resolved once the whole file is read. */
static int parse_route_jurisdictions(struct parser *ps, const struct key_def *k, void *field,
                                     const char *value, struct cf_error *err);

#define FIELD_SIZE(type, member) sizeof(((type *)0)->member)

/* Each capital letter gives one jurisdiction, so an LA code's first letter is
 * never ambiguous (DESIGN.md section 3). */
static int parse_prefixes(struct parser *ps, const struct key_def *k, void *field,
                          const char *value, struct cf_error *err)
{
    const struct cf_jurisdiction *self = (const struct cf_jurisdiction *)ps->base;
    char *out = field;
    const size_t cap = FIELD_SIZE(struct cf_jurisdiction, la_prefixes) - 1;
    size_t n = 0;
    const char *p = value;
    char word[WORD_MAX + 1];
    while (next_word(&p, word)) {
        if (strlen(word) != 1 || word[0] < 'A' || word[0] > 'Z')
            return cf_error_set(err, CF_EVALUE, "%s: '%s' is not one capital letter", k->name,
                                word);
        if (memchr(out, word[0], n))
            return cf_error_set(err, CF_EVALUE, "%s names %s twice", k->name, word);
        if (n == cap)
            return cf_error_set(err, CF_ETOOBIG, "%s: more than %zu letters", k->name, cap);
        for (size_t j = 0; j < ps->p->n_jurisdictions; j++) {
            const struct cf_jurisdiction *other = &ps->p->jurisdictions[j];
            if (other != self && strchr(other->la_prefixes, word[0]))
                return cf_error_set(err, CF_EVALUE,
                                    "%s: %s already belongs to [%s]; a letter may give only one "
                                    "jurisdiction",
                                    k->name, word, other->name);
        }
        out[n++] = word[0];
        out[n] = 0;
    }
    if (n == 0)
        return cf_error_set(err, CF_EVALUE, "%s: name at least one letter", k->name);
    return 0;
}

/* A name that must be an id (a calendar file's name), or empty when the row
 * allows it (escrow). */
static int parse_id(struct parser *ps, const struct key_def *k, void *field, const char *value,
                    struct cf_error *err)
{
    (void)ps;
    size_t len = strlen(value);
    if (len == 0 && (k->flags & KEY_EMPTY_OK)) {
        *(char *)field = 0;
        return 0;
    }
    if (len > k->max || !cf_header_id_valid(value, len))
        return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a name of 3 to %llu of a-z, 0-9 and -",
                            k->name, value, k->max);
    memcpy(field, value, len + 1);
    return 0;
}

static int parse_route_jurisdictions(struct parser *ps, const struct key_def *k, void *field,
                                     const char *value, struct cf_error *err)
{
    (void)field;
    size_t t = (size_t)((const struct cf_route *)(const void *)ps->base - ps->p->routes);
    if (strlen(value) >= sizeof ps->route_jurisdictions[t])
        return cf_error_set(err, CF_ETOOBIG, "%s: too long", k->name);
    const char *p = value;
    char word[WORD_MAX + 1];
    if (!next_word(&p, word))
        return cf_error_set(err, CF_EVALUE, "%s: name at least one jurisdiction", k->name);
    strcpy(ps->route_jurisdictions[t], value);
    return 0;
}

/* "all" is stored as 0; a number is checked against voting_roles once the
 * whole section has been read, since the keys may come in any order. */
static int parse_quorum(struct parser *ps, const struct key_def *k, void *field, const char *value,
                        struct cf_error *err)
{
    if (strcmp(value, "all") == 0) {
        *(unsigned *)field = 0;
        return 0;
    }
    int rc = parse_uint(ps, k, field, value, err);
    if (rc != 0)
        return cf_error_set(err, rc, "%s: '%s' is neither 'all' nor a number from 1 to %llu",
                            k->name, value, k->max);
    return 0;
}

/* A duration of at most this many units: about two months in minutes, and
 * far beyond any statutory figure in days. */
#define DURATION_MAX 100000

#define POLICY_FIELD(member) offsetof(struct cf_policy, member)
#define UNDELIVERED(u) (POLICY_FIELD(undelivered) + (u) * sizeof(struct cf_duration))

static const struct key_def policy_keys[] = {
    /* Beyond an hour of skew the clocks are broken, not drifting. */
    {"max_clock_skew_seconds", parse_uint, POLICY_FIELD(max_clock_skew_seconds), 0, 3600,
     KEY_REQUIRED},
    /* At most ten years: stale means an outbox replayed from an old backup. */
    {"max_message_age_hours", parse_uint, POLICY_FIELD(max_message_age_hours), 1, 87600,
     KEY_REQUIRED},
    {"undelivered.immediate", parse_duration, UNDELIVERED(CF_URGENCY_IMMEDIATE), 0, DURATION_MAX,
     KEY_REQUIRED},
    {"undelivered.urgent", parse_duration, UNDELIVERED(CF_URGENCY_URGENT), 0, DURATION_MAX,
     KEY_REQUIRED},
    {"undelivered.routine", parse_duration, UNDELIVERED(CF_URGENCY_ROUTINE), 0, DURATION_MAX,
     KEY_REQUIRED},
    {"non_delivery_report", parse_duration, POLICY_FIELD(non_delivery_report), 0, DURATION_MAX,
     KEY_REQUIRED},
    /* Roles that may stream the log (AuditFollow): the auditors. */
    {"audit_roles", parse_roles, POLICY_FIELD(audit_roles), 0, 0, KEY_EMPTY_OK},
    /* Roles that are told outcomes but never take part in a decision. */
    {"liaison_roles", parse_roles, POLICY_FIELD(liaison_roles), 0, 0, KEY_EMPTY_OK},
    /* Optional; DEFAULT_NEAR_PERCENT when absent. */
    {"deadline_near_percent", parse_uint, POLICY_FIELD(deadline_near_percent), 1, 99, 0},
};

/* deadline_near fires once three quarters of a deadline's time has gone. */
#define DEFAULT_NEAR_PERCENT 75

#define ROUTE_FIELD(member) offsetof(struct cf_route, member)

static const struct key_def route_keys[] = {
    {"senders", parse_roles, ROUTE_FIELD(senders), 0, 0, KEY_REQUIRED},
    {"recipients", parse_selectors, ROUTE_FIELD(recipients), 0, 0, KEY_REQUIRED},
    {"from", parse_selectors, ROUTE_FIELD(from), 0, 0, 0},
    {"owner", parse_selectors, ROUTE_FIELD(owner), 0, 0, 0},
    {"guardians", parse_selectors, ROUTE_FIELD(guardians), 0, 0, 0},
    {"nrm_return", parse_selectors, ROUTE_FIELD(nrm_return), 0, 0, 0},
    {"liaison", parse_bool, ROUTE_FIELD(liaison), 0, 0, 0},
    {"jurisdictions", parse_route_jurisdictions, ROUTE_FIELD(jurisdictions), 0, 0, 0},
};

/* The broker sends notices itself: a notice route names recipients only. */
static const struct key_def notice_keys[] = {
    {"recipients", parse_selectors, ROUTE_FIELD(recipients), 0, 0, KEY_REQUIRED},
};

#define JUR_FIELD(member) offsetof(struct cf_jurisdiction, member)
#define DEADLINE(d) (JUR_FIELD(deadlines) + (d) * sizeof(struct cf_duration))

static const struct key_def jurisdiction_keys[] = {
    {"la_prefixes", parse_prefixes, JUR_FIELD(la_prefixes), 0, 0, KEY_REQUIRED},
    {"calendar", parse_id, JUR_FIELD(calendar), 0, CF_JURISDICTION_MAX, KEY_REQUIRED},
    {"escrow", parse_id, JUR_FIELD(escrow), 0, CF_ID_MAX, KEY_EMPTY_OK},
    {"voting_roles", parse_roles, JUR_FIELD(voting_roles), 0, 0, KEY_REQUIRED},
    {"required_roles", parse_roles, JUR_FIELD(required_roles), 0, 0, KEY_EMPTY_OK},
    {"must_include", parse_roles, JUR_FIELD(must_include), 0, 0, KEY_EMPTY_OK},
    {"quorum", parse_quorum, JUR_FIELD(quorum), 1, CF_ROLE_COUNT, KEY_REQUIRED},
    {"chair_not_lead", parse_bool, JUR_FIELD(chair_not_lead), 0, 0, KEY_REQUIRED},
    /* A year: the SCA's own rule is 30 days (DOMAIN.md). */
    {"cg_min_days_after_rg", parse_uint, JUR_FIELD(cg_min_days_after_rg), 0, 366, KEY_REQUIRED},
/* A deadline that is absent means the nation sets no figure. */
#define DEADLINE_KEY(d, name)                                                                      \
    {"deadline." name, parse_duration, DEADLINE(d), 0, DURATION_MAX, KEY_FROM},
    DEADLINES(DEADLINE_KEY)
#undef DEADLINE_KEY
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

_Static_assert(COUNT(policy_keys) <= MAX_SECTION_KEYS, "raise MAX_SECTION_KEYS");
_Static_assert(COUNT(route_keys) <= MAX_SECTION_KEYS, "raise MAX_SECTION_KEYS");
_Static_assert(COUNT(notice_keys) <= MAX_SECTION_KEYS, "raise MAX_SECTION_KEYS");
_Static_assert(COUNT(jurisdiction_keys) <= MAX_SECTION_KEYS, "raise MAX_SECTION_KEYS");

/* ---- The reader -------------------------------------------------------- */

static const char message_prefix[] = "message.";
static const char notice_prefix[] = "notice.";

static void enter(struct parser *ps, const struct key_def *keys, size_t n_keys, void *base,
                  struct section_lines *lines, unsigned line)
{
    ps->keys = keys;
    ps->n_keys = n_keys;
    ps->base = base;
    ps->lines = lines;
    lines->header = line;
}

static int dup_section(const char *section, unsigned first, struct cf_error *err)
{
    return cf_error_set(err, CF_EDUPKEY, "[%s] is repeated; it was first opened on line %u",
                        section, first);
}

/* Any section that is not [policy] or [message.TYPE] is a jurisdiction. */
static int on_section(struct parser *ps, const char *section, unsigned line, struct cf_error *err)
{
    struct cf_policy *p = ps->p;
    ps->keys = NULL;
    if (strcmp(section, "policy") == 0) {
        if (ps->policy_lines.header)
            return dup_section(section, ps->policy_lines.header, err);
        enter(ps, policy_keys, COUNT(policy_keys), p, &ps->policy_lines, line);
        return 0;
    }
    if (strncmp(section, message_prefix, strlen(message_prefix)) == 0) {
        const char *type_name = section + strlen(message_prefix);
        enum cf_type t = cf_header_type_parse(type_name);
        if (t == CF_TYPE_NONE)
            return cf_error_set(err, CF_ETYPE, "[%s]: '%s' is not a message type", section,
                                type_name);
        if (ps->route_lines[t].header)
            return dup_section(section, ps->route_lines[t].header, err);
        p->routes[t].set = true;
        enter(ps, route_keys, COUNT(route_keys), &p->routes[t], &ps->route_lines[t], line);
        return 0;
    }
    if (strncmp(section, notice_prefix, strlen(notice_prefix)) == 0) {
        const char *kind_name = section + strlen(notice_prefix);
        enum cf_notice_kind kind = cf_notice_kind_parse(kind_name);
        if (kind == CF_NOTICE_NONE)
            return cf_error_set(err, CF_EVALUE, "[%s]: '%s' is not a notice the broker issues",
                                section, kind_name);
        if (ps->notice_lines[kind].header)
            return dup_section(section, ps->notice_lines[kind].header, err);
        p->notices[kind].set = true;
        enter(ps, notice_keys, COUNT(notice_keys), &p->notices[kind], &ps->notice_lines[kind],
              line);
        return 0;
    }
    size_t len = strlen(section);
    if (len > CF_JURISDICTION_MAX || !cf_header_id_valid(section, len))
        return cf_error_set(err, CF_EID,
                            "[%s] is not [policy], [message.TYPE], [notice.KIND] or a "
                            "jurisdiction; a "
                            "jurisdiction's name is 3 to %d of a-z, 0-9 and -",
                            section, CF_JURISDICTION_MAX);
    for (size_t i = 0; i < p->n_jurisdictions; i++)
        if (strcmp(p->jurisdictions[i].name, section) == 0)
            return dup_section(section, ps->jurisdiction_lines[i].header, err);
    if (p->n_jurisdictions == CF_MAX_JURISDICTIONS)
        return cf_error_set(err, CF_ETOOBIG, "[%s]: more than %d jurisdictions", section,
                            CF_MAX_JURISDICTIONS);
    size_t i = p->n_jurisdictions++;
    struct cf_jurisdiction *j = &p->jurisdictions[i];
    memcpy(j->name, section, len + 1);
    enter(ps, jurisdiction_keys, COUNT(jurisdiction_keys), j, &ps->jurisdiction_lines[i], line);
    return 0;
}

static int on_key(void *user, const char *section, const char *key, const char *value,
                  unsigned line, struct cf_error *err)
{
    struct parser *ps = user;
    if (!key)
        return on_section(ps, section, line, err);
    if (!ps->keys)
        return cf_error_set(err, CF_EUNKNOWNKEY,
                            "'%s' is outside any section; put it under [policy], "
                            "[message.TYPE] or a jurisdiction",
                            key);
    for (size_t i = 0; i < ps->n_keys; i++) {
        const struct key_def *k = &ps->keys[i];
        if (strcmp(k->name, key) != 0)
            continue;
        if (ps->lines->key[i])
            return cf_error_set(err, CF_EDUPKEY,
                                "'%s' is repeated in [%s]; it was first set on "
                                "line %u",
                                key, section, ps->lines->key[i]);
        ps->lines->key[i] = line;
        return k->parse(ps, k, ps->base + k->offset, value, err);
    }
    return cf_error_set(err, CF_EUNKNOWNKEY, "[%s] has no key '%s'", section, key);
}

/* ---- Checks over a whole section or file ------------------------------- */

static unsigned line_of(const struct section_lines *lines, const struct key_def *keys, size_t n,
                        const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, key) == 0)
            return lines->key[i];
    return 0;
}

static int check_required(const struct parser *ps, const char *section, const struct key_def *keys,
                          size_t n, const struct section_lines *lines, struct cf_error *err)
{
    for (size_t i = 0; i < n; i++)
        if ((keys[i].flags & KEY_REQUIRED) && !lines->key[i])
            return cf_error_set(err, CF_EVALUE, "%s:%u: [%s] has no %s", ps->name, lines->header,
                                section, keys[i].name);
    return 0;
}

/* The first role in `set`, for naming it in a message. */
static const char *first_role(uint32_t set)
{
    for (int i = 0; i < CF_ROLE_COUNT; i++)
        if (set & (1u << i))
            return role_names[i];
    return "";
}

/* The quorum rules of DESIGN.md section 5, as far as they can be judged from
 * the policy alone. */
static int check_jurisdiction(const struct parser *ps, size_t i, struct cf_error *err)
{
    const struct cf_jurisdiction *j = &ps->p->jurisdictions[i];
    const struct section_lines *lines = &ps->jurisdiction_lines[i];
    const size_t n = COUNT(jurisdiction_keys);
    int rc = check_required(ps, j->name, jurisdiction_keys, n, lines, err);
    if (rc != 0)
        return rc;
    uint32_t both = j->required_roles & j->voting_roles;
    if (both)
        return cf_error_set(err, CF_EVALUE,
                            "%s:%u: [%s] required_roles and voting_roles both name %s; a required "
                            "role must attend but cannot vote",
                            ps->name, line_of(lines, jurisdiction_keys, n, "required_roles"),
                            j->name, first_role(both));
    uint32_t outside = j->must_include & ~j->voting_roles;
    if (outside)
        return cf_error_set(err, CF_EVALUE,
                            "%s:%u: [%s] must_include names %s, which is not among voting_roles",
                            ps->name, line_of(lines, jurisdiction_keys, n, "must_include"), j->name,
                            first_role(outside));
    /* Name the key that holds the liaison role, as the checks above do. */
    uint32_t liaison_votes = j->voting_roles & ps->p->liaison_roles;
    uint32_t liaison = liaison_votes ? liaison_votes : j->required_roles & ps->p->liaison_roles;
    if (liaison) {
        const char *key = liaison_votes ? "voting_roles" : "required_roles";
        return cf_error_set(err, CF_EVALUE,
                            "%s:%u: [%s] %s names %s, but it is a liaison role: the liaison is "
                            "informed and does not decide",
                            ps->name, line_of(lines, jurisdiction_keys, n, key), j->name, key,
                            first_role(liaison));
    }
    int voters = popcount(j->voting_roles);
    if (j->quorum > (unsigned)voters)
        return cf_error_set(
            err, CF_EVALUE, "%s:%u: [%s] quorum %u is more than the %d voting roles", ps->name,
            line_of(lines, jurisdiction_keys, n, "quorum"), j->name, j->quorum, voters);
    return 0;
}

/* The types in which a decision is made; a liaison role may send none of them. */
static bool decides(enum cf_type t)
{
    return t == CF_TYPE_DETERMINATION_PROPOSED || t == CF_TYPE_VOTE || t == CF_TYPE_DETERMINATION;
}

/* A route's rules that span its keys and the jurisdictions. */
static int check_route(struct parser *ps, enum cf_type t, struct cf_error *err)
{
    struct cf_policy *p = ps->p;
    struct cf_route *r = &p->routes[t];
    const struct section_lines *lines = &ps->route_lines[t];
    const size_t n = COUNT(route_keys);
    const char *type = cf_header_type_name(t);
    uint32_t liaison_senders = r->senders & p->liaison_roles;
    if (decides(t) && liaison_senders)
        return cf_error_set(err, CF_EVALUE,
                            "%s:%u: [%s%s] senders names %s, a liaison role: the liaison is told "
                            "the outcome and never takes part in the decision",
                            ps->name, line_of(lines, route_keys, n, "senders"), message_prefix,
                            type, first_role(liaison_senders));
    bool proposal = t == CF_TYPE_DETERMINATION_PROPOSED;
    if (proposal != (r->nrm_return.n > 0))
        return cf_error_set(err, CF_EVALUE,
                            proposal ? "%s:%u: [%s%s] has no nrm_return: its NRM return needs "
                                       "its one reader"
                                     : "%s:%u: [%s%s] has an nrm_return, which only a "
                                       "determination_proposed carries",
                            ps->name,
                            proposal ? lines->header : line_of(lines, route_keys, n, "nrm_return"),
                            message_prefix, type);
    const char *list = ps->route_jurisdictions[t];
    char word[WORD_MAX + 1];
    while (next_word(&list, word)) {
        const struct cf_jurisdiction *j = cf_policy_jurisdiction(p, word);
        unsigned line = line_of(lines, route_keys, n, "jurisdictions");
        if (!j)
            return cf_error_set(err, CF_EVALUE,
                                "%s:%u: [%s%s] jurisdictions: '%s' is not a "
                                "jurisdiction section of this file",
                                ps->name, line, message_prefix, type, word);
        uint32_t bit = 1u << (j - p->jurisdictions);
        if (r->jurisdictions & bit)
            return cf_error_set(err, CF_EVALUE, "%s:%u: [%s%s] jurisdictions names %s twice",
                                ps->name, line, message_prefix, type, word);
        r->jurisdictions |= bit;
    }
    return 0;
}

static int finish(struct parser *ps, struct cf_error *err)
{
    const struct cf_policy *p = ps->p;
    unsigned end = last_line(ps->buf, ps->len);
    if (!ps->policy_lines.header)
        return cf_error_set(err, CF_EVALUE, "%s:%u: the file ends without a [policy] section",
                            ps->name, end);
    int rc = check_required(ps, "policy", policy_keys, COUNT(policy_keys), &ps->policy_lines, err);
    for (int t = 1; rc == 0 && t < CF_TYPE_COUNT; t++) {
        if (!p->routes[t].set)
            continue;
        char section[64];
        snprintf(section, sizeof section, "%s%s", message_prefix, cf_header_type_name(t));
        rc = check_required(ps, section, route_keys, COUNT(route_keys), &ps->route_lines[t], err);
    }
    for (int k = 1; rc == 0 && k < CF_NOTICE_KIND_COUNT; k++) {
        if (!p->notices[k].set)
            continue;
        char section[64];
        snprintf(section, sizeof section, "%s%s", notice_prefix, cf_notice_kind_name(k));
        rc =
            check_required(ps, section, notice_keys, COUNT(notice_keys), &ps->notice_lines[k], err);
    }
    if (rc != 0)
        return rc;
    /* Without a referral route no case can ever start. */
    if (!p->routes[CF_TYPE_REFERRAL].set)
        return cf_error_set(err, CF_EVALUE, "%s:%u: the file ends without a [%sreferral] section",
                            ps->name, end, message_prefix);
    if (p->n_jurisdictions == 0)
        return cf_error_set(err, CF_EVALUE,
                            "%s:%u: the file ends without a jurisdiction section such as "
                            "[england-wales]",
                            ps->name, end);
    for (size_t i = 0; i < p->n_jurisdictions; i++) {
        rc = check_jurisdiction(ps, i, err);
        if (rc != 0)
            return rc;
    }
    for (int t = 1; t < CF_TYPE_COUNT; t++)
        if (p->routes[t].set && (rc = check_route(ps, (enum cf_type)t, err)) != 0)
            return rc;
    return 0;
}

int cf_policy_parse(const char *name, const char *buf, size_t len, struct cf_policy **out,
                    struct cf_error *err)
{
    struct parser *ps = calloc(1, sizeof *ps);
    struct cf_policy *p = calloc(1, sizeof *p);
    int rc;
    if (!ps || !p) {
        rc = cf_error_set(err, CF_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    ps->name = name;
    ps->buf = buf;
    ps->len = len;
    ps->p = p;
    p->deadline_near_percent = DEFAULT_NEAR_PERCENT;
    rc = cf_ini_parse(name, buf, len, on_key, ps, err);
    if (rc == 0)
        rc = finish(ps, err);
    if (rc == 0) {
        *out = p;
        p = NULL;
    }
out:
    free(ps);
    free(p);
    return rc;
}

void cf_policy_destroy(struct cf_policy **policy)
{
    if (policy) {
        free(*policy);
        *policy = NULL;
    }
}

/* ---- Questions answered from a parsed policy --------------------------- */

const struct cf_jurisdiction *cf_policy_jurisdiction(const struct cf_policy *p, const char *name)
{
    for (size_t i = 0; i < p->n_jurisdictions; i++)
        if (strcmp(p->jurisdictions[i].name, name) == 0)
            return &p->jurisdictions[i];
    return NULL;
}

int cf_policy_jurisdiction_of(const struct cf_policy *p, const char *la_code,
                              const struct cf_jurisdiction **out)
{
    if (!la_code || !cf_header_la_code_valid(la_code, strnlen(la_code, CF_LA_CODE_LEN + 1)))
        return CF_EJURISDICTION;
    for (size_t i = 0; i < p->n_jurisdictions; i++)
        if (strchr(p->jurisdictions[i].la_prefixes, la_code[0])) {
            *out = &p->jurisdictions[i];
            return 0;
        }
    return CF_EJURISDICTION;
}

static const struct cf_route *route_of(const struct cf_policy *p, enum cf_type type)
{
    if (type <= CF_TYPE_NONE || type >= CF_TYPE_COUNT || !p->routes[type].set)
        return NULL;
    return &p->routes[type];
}

bool cf_policy_may_send(const struct cf_policy *p, uint32_t roles, enum cf_type type)
{
    const struct cf_route *r = route_of(p, type);
    return r && (roles & r->senders) != 0;
}

/* A set of directory agencies, one bit per index. The directory keeps its
 * agencies sorted by id, so walking the bits in order gives the ascending
 * order a header must carry, and an agency picked twice is listed once. */
struct pick {
    uint64_t bits[(CF_MAX_AGENCIES + 63) / 64];
};

static void pick_index(struct pick *pk, size_t i)
{
    pk->bits[i / 64] |= 1ull << (i % 64);
}

static bool picked(const struct pick *pk, size_t i)
{
    return (pk->bits[i / 64] >> (i % 64)) & 1u;
}

/* Case facts name agencies by id; one no longer in the directory receives
 * nothing, so it is left out. */
static void pick_id(const struct cf_directory *dir, struct pick *pk, const char *id)
{
    const struct cf_agency *a = id && id[0] ? cf_directory_find(dir, id) : NULL;
    if (a)
        pick_index(pk, (size_t)(a - dir->agencies));
}

/* "area:police", "case:owner", ... for messages. */
static const char *selector_text(const struct cf_selector *sel, char out[48])
{
    for (size_t i = 0; i < sizeof selector_defs / sizeof selector_defs[0]; i++)
        if (selector_defs[i].kind == sel->kind) {
            snprintf(out, 48, "%s%s%s", selector_defs[i].prefix,
                     selector_defs[i].takes_role ? role_names[sel->role] : "",
                     sel->optional ? "?" : "");
            return out;
        }
    return "?";
}

/* Adds what the selectors of `sel` pick for ctx to *pk. `what` names the
 * section and key in messages. */
static int select_into(const struct cf_policy *p, const struct cf_directory *dir,
                       const struct cf_selection *sel, const struct cf_route_ctx *ctx,
                       const char *what, struct pick *pk, struct cf_error *err)
{
    const struct cf_jurisdiction *j;
    const char *la = ctx->la_code ? ctx->la_code : "";
    if (cf_policy_jurisdiction_of(p, la, &j) != 0)
        return cf_error_set(err, CF_EJURISDICTION,
                            "'%s' is not an LA code of any jurisdiction in the policy", la);
    if (dir->n_agencies > CF_MAX_AGENCIES)
        return cf_error_set(err, CF_ETOOBIG, "the directory holds more than %d agencies",
                            CF_MAX_AGENCIES);
    static const struct cf_parties nobody;
    const struct cf_parties *c = ctx->parties ? ctx->parties : &nobody;
    for (size_t s = 0; s < sel->n; s++) {
        const struct cf_selector *one = &sel->s[s];
        bool found = false;
        switch (one->kind) {
        case CF_SEL_AREA_ROLE:
        case CF_SEL_JURISDICTION_ROLE:
            for (size_t i = 0; i < dir->n_agencies; i++) {
                const struct cf_agency *a = &dir->agencies[i];
                bool in = one->kind == CF_SEL_AREA_ROLE ? cf_directory_serves(a, la)
                                                        : strcmp(a->jurisdiction, j->name) == 0;
                if ((a->roles & (1u << one->role)) && in) {
                    pick_index(pk, i);
                    found = true;
                }
            }
            if (!found && !one->optional) {
                char text[48];
                return cf_error_set(
                    err, CF_ENOROUTE,
                    "no agency with the role %s %s %s, so the selector %s of [%s] "
                    "reaches nobody",
                    role_names[one->role], one->kind == CF_SEL_AREA_ROLE ? "serves" : "is in",
                    one->kind == CF_SEL_AREA_ROLE ? la : j->name, selector_text(one, text), what);
            }
            break;
        case CF_SEL_ESCROW:
            if (j->escrow[0]) {
                const struct cf_agency *a = cf_directory_find(dir, j->escrow);
                if (!a)
                    return cf_error_set(err, CF_EUNKNOWNAGENCY,
                                        "the escrow %s of [%s] is not in the directory", j->escrow,
                                        j->name);
                pick_index(pk, (size_t)(a - dir->agencies));
            }
            break;
        case CF_SEL_REFERRER:
            pick_id(dir, pk, c->referrer);
            break;
        case CF_SEL_OWNER:
            pick_id(dir, pk, c->owner);
            break;
        case CF_SEL_GUARDIANS:
            for (size_t i = 0; i < c->n_guardians; i++)
                pick_id(dir, pk, c->guardians[i]);
            break;
        case CF_SEL_MEMBERS:
            for (size_t i = 0; i < c->n_members; i++)
                pick_id(dir, pk, c->members[i].agency);
            break;
        case CF_SEL_VOTERS:
            for (size_t i = 0; i < c->n_voters; i++)
                pick_id(dir, pk, c->voters[i]);
            break;
        case CF_SEL_SENDER:
            pick_id(dir, pk, ctx->sender);
            break;
        }
    }
    return 0;
}

/* The picked agencies as a sorted id list. */
static int pick_list(const struct cf_directory *dir, const struct pick *pk, const char *what,
                     cf_id out[CF_MAX_RECIPIENTS], size_t *n, struct cf_error *err)
{
    size_t count = 0;
    for (size_t i = 0; i < dir->n_agencies; i++) {
        if (!picked(pk, i))
            continue;
        if (count == CF_MAX_RECIPIENTS)
            return cf_error_set(err, CF_ETOOBIG, "[%s] picks more than %d agencies", what,
                                CF_MAX_RECIPIENTS);
        memcpy(out[count++], dir->agencies[i].id, sizeof(cf_id));
    }
    *n = count;
    return 0;
}

static void route_name(char what[64], const char *prefix, const char *name, const char *key)
{
    snprintf(what, 64, "%s%s%s%s", prefix, name ? name : "?", key ? "] " : "", key ? key : "");
}

/* The route's recipients for ctx as a pick, before it is listed. */
static int recipients_pick(const struct cf_policy *p, const struct cf_directory *dir,
                           const struct cf_route_ctx *ctx, struct pick *pk, struct cf_error *err)
{
    const struct cf_route *r = route_of(p, ctx->type);
    char what[64];
    route_name(what, message_prefix, cf_header_type_name(ctx->type), NULL);
    if (!r)
        return cf_error_set(err, CF_ENOROUTE, "the policy has no [%s] route", what);
    memset(pk, 0, sizeof *pk);
    int rc = select_into(p, dir, &r->recipients, ctx, what, pk, err);
    if (rc != 0)
        return rc;
    bool any = false;
    for (size_t i = 0; i < dir->n_agencies; i++) {
        if (!r->liaison && picked(pk, i) && (dir->agencies[i].roles & p->liaison_roles))
            pk->bits[i / 64] &= ~(1ull << (i % 64));
        any |= picked(pk, i);
    }
    if (!any)
        return cf_error_set(err, CF_ENOROUTE, "[%s] routes this %s in %s to nobody", what,
                            cf_header_type_name(ctx->type), ctx->la_code ? ctx->la_code : "");
    return 0;
}

int cf_policy_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                         const struct cf_route_ctx *ctx, cf_id out[CF_MAX_RECIPIENTS], size_t *n,
                         struct cf_error *err)
{
    *n = 0;
    struct pick *pk = malloc(sizeof *pk);
    if (!pk)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    char what[64];
    route_name(what, message_prefix, cf_header_type_name(ctx->type), NULL);
    int rc = recipients_pick(p, dir, ctx, pk, err);
    if (rc == 0)
        rc = pick_list(dir, pk, what, out, n, err);
    free(pk);
    return rc;
}

static void list_ids(char *out, size_t cap, const cf_id *ids, size_t n)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(out + used, cap - used, "%s%s", i ? " " : "", ids[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

int cf_policy_recipients_match(const struct cf_policy *p, const struct cf_directory *dir,
                               const struct cf_route_ctx *ctx, const cf_id *got, size_t n,
                               struct cf_error *err)
{
    cf_id *want = malloc(CF_MAX_RECIPIENTS * sizeof *want);
    if (!want)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    size_t n_want;
    int rc = cf_policy_recipients(p, dir, ctx, want, &n_want, err);
    bool same = rc == 0 && n_want == n;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(want[i], got[i]) == 0;
    const char *type = cf_header_type_name(ctx->type);
    if (rc == 0 && !same) {
        const struct cf_route *r = route_of(p, ctx->type);
        for (size_t i = 0; i < n && !r->liaison; i++) {
            const struct cf_agency *a = cf_directory_find(dir, got[i]);
            if (a && (a->roles & p->liaison_roles)) {
                rc = cf_error_set(err, CF_ERECIPIENTS,
                                  "%s holds the role %s, a liaison role, which may not receive a "
                                  "%s: the liaison gets conference_convened, notices and its "
                                  "nrm_return only",
                                  got[i], first_role(a->roles & p->liaison_roles), type);
                goto out;
            }
        }
        char wanted[1024], named[1024];
        list_ids(wanted, sizeof wanted, want, n_want);
        list_ids(named, sizeof named, got, n);
        rc = cf_error_set(err, CF_ERECIPIENTS,
                          "a %s in %s must go to exactly [%s], in that order; it names [%s]", type,
                          ctx->la_code, wanted, named);
    }
out:
    free(want);
    return rc;
}

int cf_policy_notice_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                                enum cf_notice_kind kind, const struct cf_route_ctx *ctx,
                                cf_id out[CF_MAX_RECIPIENTS], size_t *n, struct cf_error *err)
{
    *n = 0;
    const char *name = cf_notice_kind_name(kind);
    if (!name || kind == CF_NOTICE_NONE || !p->notices[kind].set)
        return 0;
    char what[64];
    route_name(what, notice_prefix, name, NULL);
    struct pick *pk = calloc(1, sizeof *pk);
    if (!pk)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    int rc = select_into(p, dir, &p->notices[kind].recipients, ctx, what, pk, err);
    if (rc == 0)
        rc = pick_list(dir, pk, what, out, n, err);
    free(pk);
    return rc;
}

/* Picks with one of the route's selections and returns the list. */
static int route_select(const struct cf_policy *p, const struct cf_directory *dir,
                        const struct cf_route_ctx *ctx, size_t offset, const char *key,
                        cf_id out[CF_MAX_RECIPIENTS], size_t *n, struct cf_error *err)
{
    *n = 0;
    const struct cf_route *r = route_of(p, ctx->type);
    char what[64];
    route_name(what, message_prefix, cf_header_type_name(ctx->type), key);
    if (!r)
        return cf_error_set(err, CF_ENOROUTE, "the policy has no [%s route", what);
    const struct cf_selection *sel = (const void *)((const char *)r + offset);
    struct pick *pk = calloc(1, sizeof *pk);
    if (!pk)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    int rc = select_into(p, dir, sel, ctx, what, pk, err);
    if (rc == 0)
        rc = pick_list(dir, pk, what, out, n, err);
    free(pk);
    return rc;
}

/* The one agency a selection must pick. */
static int route_select_one(const struct cf_policy *p, const struct cf_directory *dir,
                            const struct cf_route_ctx *ctx, size_t offset, const char *key,
                            const char *role_of_it, cf_id out, struct cf_error *err)
{
    cf_id *ids = malloc(CF_MAX_RECIPIENTS * sizeof *ids);
    if (!ids)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    size_t n;
    int rc = route_select(p, dir, ctx, offset, key, ids, &n, err);
    if (rc == 0 && n != 1) {
        char what[64];
        route_name(what, message_prefix, cf_header_type_name(ctx->type), key);
        rc = cf_error_set(err, CF_ENOROUTE,
                          n == 0 ? "[%s picks nobody in %s to be %s"
                                 : "[%s picks more than one agency in %s to be %s; the policy "
                                   "must make it one",
                          what, ctx->la_code ? ctx->la_code : "", role_of_it);
    }
    if (rc == 0)
        memcpy(out, ids[0], sizeof(cf_id));
    free(ids);
    return rc;
}

int cf_policy_sender_allowed(const struct cf_policy *p, const struct cf_directory *dir,
                             const struct cf_route_ctx *ctx, struct cf_error *err)
{
    const struct cf_route *r = route_of(p, ctx->type);
    if (!r || r->from.n == 0)
        return 0;
    cf_id *ids = malloc(CF_MAX_RECIPIENTS * sizeof *ids);
    if (!ids)
        return cf_error_set(err, CF_ENOMEM, "out of memory");
    size_t n;
    int rc = route_select(p, dir, ctx, ROUTE_FIELD(from), "from", ids, &n, err);
    bool in = false;
    for (size_t i = 0; rc == 0 && i < n && !in; i++)
        in = ctx->sender && strcmp(ids[i], ctx->sender) == 0;
    if (rc == 0 && !in) {
        char selectors[256] = "", text[48], who[1024];
        size_t used = 0;
        for (size_t i = 0; i < r->from.n && used < sizeof selectors; i++)
            used += (size_t)snprintf(selectors + used, sizeof selectors - used, "%s%s",
                                     i ? " or " : "", selector_text(&r->from.s[i], text));
        list_ids(who, sizeof who, ids, n);
        rc = cf_error_set(err, CF_ENOTPARTY, "a %s may come only from %s (%s); %s is not one",
                          cf_header_type_name(ctx->type), selectors, n ? who : "nobody yet",
                          ctx->sender ? ctx->sender : "the sender");
    }
    free(ids);
    return rc;
}

bool cf_policy_sent_by_owner(const struct cf_policy *p, enum cf_type type)
{
    const struct cf_route *r = route_of(p, type);
    return r && r->from.n == 1 && r->from.s[0].kind == CF_SEL_OWNER;
}

int cf_policy_type_allowed(const struct cf_policy *p, enum cf_type type,
                           const struct cf_jurisdiction *j, struct cf_error *err)
{
    const struct cf_route *r = route_of(p, type);
    if (!r)
        return cf_error_set(err, CF_ENOROUTE, "the policy has no [%s%s] route", message_prefix,
                            cf_header_type_name(type) ? cf_header_type_name(type) : "?");
    uint32_t bit = 1u << (j - p->jurisdictions);
    if (r->jurisdictions == 0 || (r->jurisdictions & bit))
        return 0;
    char names[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < p->n_jurisdictions && used < sizeof names; i++)
        if (r->jurisdictions & (1u << i))
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                                     p->jurisdictions[i].name);
    return cf_error_set(err, CF_ETYPE, "a %s belongs to %s, not to %s", cf_header_type_name(type),
                        names, j->name);
}

int cf_policy_owner(const struct cf_policy *p, const struct cf_directory *dir,
                    const struct cf_route_ctx *ctx, cf_id out, struct cf_error *err)
{
    return route_select_one(p, dir, ctx, ROUTE_FIELD(owner), "owner", "the case's owner", out, err);
}

int cf_policy_guardians(const struct cf_policy *p, const struct cf_directory *dir,
                        const struct cf_route_ctx *ctx, cf_id out[CF_MAX_RECIPIENTS], size_t *n,
                        struct cf_error *err)
{
    return route_select(p, dir, ctx, ROUTE_FIELD(guardians), "guardians", out, n, err);
}

int cf_policy_nrm_reader(const struct cf_policy *p, const struct cf_directory *dir,
                         const struct cf_route_ctx *ctx, cf_id out, struct cf_error *err)
{
    return route_select_one(p, dir, ctx, ROUTE_FIELD(nrm_return), "nrm_return",
                            "the NRM return's reader", out, err);
}

bool cf_policy_may_audit(const struct cf_policy *p, uint32_t roles)
{
    return (roles & p->audit_roles) != 0;
}

bool cf_policy_is_liaison(const struct cf_policy *p, uint32_t roles)
{
    return (roles & p->liaison_roles) != 0;
}

int cf_policy_member_check(const struct cf_policy *p, const struct cf_jurisdiction *j,
                           const struct cf_directory *dir, const struct cf_member *m,
                           struct cf_error *err)
{
    const struct cf_agency *a = cf_directory_find(dir, m->agency);
    if (!a)
        return cf_error_set(err, CF_EUNKNOWNAGENCY, "members: %s is not in the directory",
                            m->agency);
    if (m->standing == CF_STANDING_VOTING && !(a->roles & j->voting_roles))
        return cf_error_set(err, CF_EFIELD,
                            "members: %s cannot be a voting member; in %s only agencies with a "
                            "voting role (%s first) vote",
                            m->agency, j->name, first_role(j->voting_roles));
    if (m->standing != CF_STANDING_ADVISORY && (a->roles & p->liaison_roles))
        return cf_error_set(err, CF_EFIELD,
                            "members: %s holds the liaison role %s, so it may attend only as "
                            "advisory",
                            m->agency, first_role(a->roles & p->liaison_roles));
    return 0;
}

/* The member entry of `id`, or NULL. */
static const struct cf_member *member_of(const struct cf_member *members, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(members[i].agency, id) == 0)
            return &members[i];
    return NULL;
}

int cf_policy_quorate(const struct cf_jurisdiction *j, const struct cf_directory *dir,
                      const struct cf_member *members, size_t n_members, const cf_id *attendees,
                      size_t n_attendees, struct cf_error *err)
{
    uint32_t voting = 0, present = 0;
    for (size_t i = 0; i < n_attendees; i++) {
        const struct cf_agency *a = cf_directory_find(dir, attendees[i]);
        const struct cf_member *m = member_of(members, n_members, attendees[i]);
        if (!a || !m)
            continue;
        present |= a->roles;
        if (m->standing == CF_STANDING_VOTING)
            voting |= a->roles;
    }
    uint32_t missing_vote = j->voting_roles & ~voting, missing = j->required_roles & ~present;
    if (missing_vote)
        return cf_error_set(err, CF_EINQUORATE,
                            "no voting member with the role %s attended, and %s requires every "
                            "voting role; reconvene with one present",
                            first_role(missing_vote), j->name);
    if (missing)
        return cf_error_set(err, CF_EINQUORATE,
                            "no attendee holds the role %s, which %s requires at the meeting; "
                            "reconvene with one present",
                            first_role(missing), j->name);
    return 0;
}

bool cf_policy_quorum_met(const struct cf_jurisdiction *j, const struct cf_directory *dir,
                          const cf_id *voters, size_t n_voters, const struct cf_vote_record *votes,
                          size_t n_votes)
{
    size_t approvals = 0;
    uint32_t roles = 0;
    for (size_t i = 0; i < n_votes; i++) {
        bool voter = false;
        for (size_t k = 0; k < n_voters && !voter; k++)
            voter = strcmp(voters[k], votes[i].voter) == 0;
        if (!voter)
            continue; /* not a vote on this proposal, either way */
        if (!votes[i].approve)
            return false;
        const struct cf_agency *a = cf_directory_find(dir, votes[i].voter);
        if (!a)
            continue;
        approvals++;
        roles |= a->roles;
    }
    size_t needed = j->quorum == 0 ? n_voters : j->quorum;
    return n_voters > 0 && approvals >= needed && (roles & j->must_include) == j->must_include;
}
