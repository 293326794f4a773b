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

/* What may stand in a route's recipients list. A selector that takes a role
 * is written PREFIX + ROLE; one that does not is its prefix alone. */
static const struct {
    const char *prefix;
    enum cf_selector_kind kind;
    bool takes_role;
} selector_defs[] = {
    {"area:", CF_SEL_AREA_ROLE, true},
    {"escrow", CF_SEL_ESCROW, false},
};

static int parse_selector(const char *key, const char *word, struct cf_selector *out,
                          struct cf_error *err)
{
    for (size_t i = 0; i < sizeof selector_defs / sizeof selector_defs[0]; i++) {
        const char *prefix = selector_defs[i].prefix;
        size_t plen = strlen(prefix);
        if (!selector_defs[i].takes_role) {
            if (strcmp(word, prefix) != 0)
                continue;
            *out = (struct cf_selector){.kind = selector_defs[i].kind, .role = -1};
            return 0;
        }
        if (strncmp(word, prefix, plen) != 0)
            continue;
        int role = cf_policy_role_parse(word + plen);
        char roles[ROLE_LIST_MAX];
        if (role < 0)
            return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a role; the roles are %s", key,
                                word + plen, role_list(roles));
        *out = (struct cf_selector){.kind = selector_defs[i].kind, .role = role};
        return 0;
    }
    return cf_error_set(err, CF_EVALUE, "%s: '%s' is not a selector; use area:ROLE or escrow", key,
                        word);
}

static int parse_selectors(struct parser *ps, const struct key_def *k, void *field,
                           const char *value, struct cf_error *err)
{
    (void)ps;
    struct cf_route *r = field;
    const char *p = value;
    char word[WORD_MAX + 1];
    size_t n = 0;
    while (next_word(&p, word)) {
        if (n == CF_MAX_SELECTORS)
            return cf_error_set(err, CF_ETOOBIG, "%s: more than %d selectors", k->name,
                                CF_MAX_SELECTORS);
        struct cf_selector sel;
        int rc = parse_selector(k->name, word, &sel, err);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < n; i++)
            if (r->selectors[i].kind == sel.kind && r->selectors[i].role == sel.role)
                return cf_error_set(err, CF_EVALUE, "%s names %s twice", k->name, word);
        r->selectors[n++] = sel;
    }
    if (n == 0)
        return cf_error_set(err, CF_EVALUE, "%s: name at least one selector", k->name);
    r->n_selectors = n;
    return 0;
}

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
};

static const struct key_def route_keys[] = {
    {"senders", parse_roles, offsetof(struct cf_route, senders), 0, 0, KEY_REQUIRED},
    {"recipients", parse_selectors, 0, 0, 0, KEY_REQUIRED},
};

/* The broker sends notices itself: a notice route names recipients only. */
static const struct key_def notice_keys[] = {
    {"recipients", parse_selectors, 0, 0, 0, KEY_REQUIRED},
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
    int voters = popcount(j->voting_roles);
    if (j->quorum > (unsigned)voters)
        return cf_error_set(
            err, CF_EVALUE, "%s:%u: [%s] quorum %u is more than the %d voting roles", ps->name,
            line_of(lines, jurisdiction_keys, n, "quorum"), j->name, j->quorum, voters);
    return 0;
}

static int finish(const struct parser *ps, struct cf_error *err)
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
        rc = check_required(ps, section, notice_keys, COUNT(notice_keys), &ps->notice_lines[k],
                            err);
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

/* The agencies a route's selectors pick for an LA code, sorted by id. `what`
 * names the route's section in messages. */
static int route_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                            const struct cf_route *r, const char *what, const char *la_code,
                            cf_id out[CF_MAX_RECIPIENTS], size_t *n, struct cf_error *err)
{
    *n = 0;
    const struct cf_jurisdiction *j;
    if (cf_policy_jurisdiction_of(p, la_code, &j) != 0)
        return cf_error_set(err, CF_EJURISDICTION,
                            "'%s' is not an LA code of any jurisdiction in the policy",
                            la_code ? la_code : "");
    if (dir->n_agencies > CF_MAX_AGENCIES)
        return cf_error_set(err, CF_ETOOBIG, "the directory holds more than %d agencies",
                            CF_MAX_AGENCIES);
    /* One mark per agency: an agency picked by two selectors is listed once. */
    uint64_t chosen[(CF_MAX_AGENCIES + 63) / 64] = {0};
    for (size_t s = 0; s < r->n_selectors; s++) {
        const struct cf_selector *sel = &r->selectors[s];
        if (sel->kind == CF_SEL_AREA_ROLE) {
            bool found = false;
            for (size_t i = 0; i < dir->n_agencies; i++) {
                const struct cf_agency *a = &dir->agencies[i];
                if ((a->roles & (1u << sel->role)) && cf_directory_serves(a, la_code)) {
                    chosen[i / 64] |= 1ull << (i % 64);
                    found = true;
                }
            }
            if (!found)
                return cf_error_set(err, CF_ENOROUTE,
                                    "no agency with the role %s serves %s, so the selector "
                                    "area:%s of [%s] reaches nobody",
                                    role_names[sel->role], la_code, role_names[sel->role], what);
        } else if (sel->kind == CF_SEL_ESCROW && j->escrow[0]) {
            const struct cf_agency *a = cf_directory_find(dir, j->escrow);
            if (!a)
                return cf_error_set(err, CF_EUNKNOWNAGENCY,
                                    "the escrow %s of [%s] is not in the directory", j->escrow,
                                    j->name);
            size_t i = (size_t)(a - dir->agencies);
            chosen[i / 64] |= 1ull << (i % 64);
        }
    }
    /* The directory keeps its agencies sorted by id, so walking the marks in
     * index order gives the ascending order the header must carry. */
    size_t count = 0;
    for (size_t i = 0; i < dir->n_agencies; i++) {
        if (!(chosen[i / 64] & (1ull << (i % 64))))
            continue;
        if (count == CF_MAX_RECIPIENTS)
            return cf_error_set(err, CF_ETOOBIG, "[%s] in %s routes to more than %d recipients",
                                what, la_code, CF_MAX_RECIPIENTS);
        memcpy(out[count++], dir->agencies[i].id, sizeof(cf_id));
    }
    *n = count;
    return 0;
}

int cf_policy_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                         const struct cf_route_ctx *ctx, cf_id out[CF_MAX_RECIPIENTS], size_t *n,
                         struct cf_error *err)
{
    *n = 0;
    const char *type_name = cf_header_type_name(ctx->type);
    char what[64];
    snprintf(what, sizeof what, "%s%s", message_prefix, type_name ? type_name : "?");
    const struct cf_route *r = route_of(p, ctx->type);
    if (!r)
        return cf_error_set(err, CF_ENOROUTE, "the policy has no [%s] route", what);
    return route_recipients(p, dir, r, what, ctx->la_code, out, n, err);
}

int cf_policy_notice_recipients(const struct cf_policy *p, const struct cf_directory *dir,
                                enum cf_notice_kind kind, const char *la_code,
                                cf_id out[CF_MAX_RECIPIENTS], size_t *n, struct cf_error *err)
{
    *n = 0;
    const char *name = cf_notice_kind_name(kind);
    if (!name || kind == CF_NOTICE_NONE || !p->notices[kind].set)
        return 0;
    char what[64];
    snprintf(what, sizeof what, "%s%s", notice_prefix, name);
    return route_recipients(p, dir, &p->notices[kind], what, la_code, out, n, err);
}
