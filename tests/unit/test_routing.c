/* Routing tests: what each selector of policy.ini picks, the '?' that lets a
 * selector reach nobody, `from` and who may send, the liaison's exclusion,
 * the one owner and the one NRM reader, the checks on a conference's members,
 * quorum and votes, and the load-time rules a policy must keep, each with its
 * exact code and the file:line a person would fix. A small policy with
 * numbered lines and a small directory keep every expectation checkable by
 * eye. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "childfirst/directory.h"
#include "childfirst/policy.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(role) (1u << (role))

/* The policy under test. The tables below edit one spot and name its line. */
static const char base_policy[] =
    "[policy]\n"                                                                     /* 1 */
    "max_clock_skew_seconds = 300\n"                                                 /* 2 */
    "max_message_age_hours = 336\n"                                                  /* 3 */
    "undelivered.immediate = 15 minutes\n"                                           /* 4 */
    "undelivered.urgent = 4 hours\n"                                                 /* 5 */
    "undelivered.routine = 1 working_days\n"                                         /* 6 */
    "non_delivery_report = 5 calendar_days\n"                                        /* 7 */
    "liaison_roles = home_office\n"                                                  /* 8 */
    "[message.referral]\n"                                                           /* 9 */
    "senders = first_responder\n"                                                    /* 10 */
    "recipients = area:children_services area:duty_team area:guardian? escrow\n"     /* 11 */
    "owner = area:children_services\n"                                               /* 12 */
    "guardians = area:guardian?\n"                                                   /* 13 */
    "[message.strategy_record]\n"                                                    /* 14 */
    "senders = children_services\n"                                                  /* 15 */
    "from = case:owner\n"                                                            /* 16 */
    "recipients = area:police area:health case:referrer case:guardians\n"            /* 17 */
    "jurisdictions = england-wales\n"                                                /* 18 */
    "[message.conference_convened]\n"                                                /* 19 */
    "senders = children_services\n"                                                  /* 20 */
    "from = case:owner\n"                                                            /* 21 */
    "recipients = case:members\n"                                                    /* 22 */
    "liaison = yes\n"                                                                /* 23 */
    "[message.contribution]\n"                                                       /* 24 */
    "senders = children_services police health guardian\n"                           /* 25 */
    "from = case:members\n"                                                          /* 26 */
    "recipients = case:members\n"                                                    /* 27 */
    "[message.determination_proposed]\n"                                             /* 28 */
    "senders = children_services\n"                                                  /* 29 */
    "from = case:owner\n"                                                            /* 30 */
    "recipients = case:members case:referrer case:guardians area:duty_team escrow\n" /* 31 */
    "nrm_return = jurisdiction:home_office\n"                                        /* 32 */
    "[message.vote]\n"                                                               /* 33 */
    "senders = children_services police health\n"                                    /* 34 */
    "from = case:voters\n"                                                           /* 35 */
    "recipients = case:owner\n"                                                      /* 36 */
    "[message.reconsideration_request]\n"                                            /* 37 */
    "senders = first_responder guardian\n"                                           /* 38 */
    "from = case:referrer case:guardians\n"                                          /* 39 */
    "recipients = case:owner\n"                                                      /* 40 */
    "[message.closure]\n"                                                            /* 41 */
    "senders = children_services\n"                                                  /* 42 */
    "recipients = case:members case:referrer case:guardians\n"                       /* 43 */
    "[notice.undelivered]\n"                                                         /* 44 */
    "recipients = area:duty_team sender\n"                                           /* 45 */
    "[england-wales]\n"                                                              /* 46 */
    "la_prefixes = E W\n"                                                            /* 47 */
    "calendar = england-wales\n"                                                     /* 48 */
    "escrow = escrow-audit\n"                                                        /* 49 */
    "voting_roles = children_services police health\n"                               /* 50 */
    "required_roles = guardian\n"                                                    /* 51 */
    "quorum = all\n"                                                                 /* 52 */
    "must_include = children_services\n"                                             /* 53 */
    "chair_not_lead = yes\n"                                                         /* 54 */
    "cg_min_days_after_rg = 0\n"                                                     /* 55 */
    "[scotland]\n"                                                                   /* 56 */
    "la_prefixes = S\n"                                                              /* 57 */
    "calendar = scotland\n"                                                          /* 58 */
    "voting_roles = children_services police health\n"                               /* 59 */
    "quorum = 2\n"                                                                   /* 60 */
    "must_include = children_services\n"                                             /* 61 */
    "chair_not_lead = yes\n"                                                         /* 62 */
    "cg_min_days_after_rg = 0\n";                                                    /* 63 */

/* The closure route's recipients: the selector table puts its selectors here. */
#define CLOSURE_RECIPIENTS "recipients = case:members case:referrer case:guardians\n"
#define CLOSURE_LINE 43

/* The text with the first `find` replaced by `replace`. Caller frees. */
static char *edit(const char *text, const char *find, const char *replace)
{
    const char *at = strstr(text, find);
    if (!at)
        fail_msg("the policy text has no '%s'", find);
    size_t head = (size_t)(at - text), rlen = strlen(replace);
    const char *tail = at + strlen(find);
    char *out = malloc(head + rlen + strlen(tail) + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, replace, rlen);
    strcpy(out + head + rlen, tail);
    return out;
}

static struct cf_policy *parse_ok(const char *text)
{
    struct cf_policy *p = NULL;
    struct cf_error err = {0};
    int rc = cf_policy_parse("policy.ini", text, strlen(text), &p, &err);
    if (rc != 0)
        fail_msg("policy did not parse: %s (%s)", err.text, cf_error_name(rc));
    return p;
}

/* ---- The directory ----------------------------------------------------------- */

#define FR BIT(CF_ROLE_FIRST_RESPONDER)
#define CSC BIT(CF_ROLE_CHILDREN_SERVICES)
#define POLICE BIT(CF_ROLE_POLICE)
#define HEALTH BIT(CF_ROLE_HEALTH)
#define EDUCATION BIT(CF_ROLE_EDUCATION)
#define GUARDIAN BIT(CF_ROLE_GUARDIAN)
#define HOME_OFFICE BIT(CF_ROLE_HOME_OFFICE)
#define DUTY BIT(CF_ROLE_DUTY_TEAM)
#define AUDITOR BIT(CF_ROLE_AUDITOR)

/* In id order, as the directory keeps them. */
static const struct {
    const char *id;
    uint32_t roles;
    const char *jurisdiction;
    const char *areas[2];
} agency_rows[] = {
    {"escrow-audit", AUDITOR, "england-wales", {NULL}},
    {"guardian-a", GUARDIAN, "england-wales", {"E09000033"}},
    {"guardian-b", GUARDIAN, "england-wales", {"E09000033"}},
    {"health-nwl", HEALTH, "england-wales", {"E09000033"}},
    {"home-office-ew", HOME_OFFICE, "england-wales", {NULL}},
    /* Birmingham, with two agencies claiming its children's services. */
    {"la-e08000025-csc", CSC, "england-wales", {"E08000025"}},
    {"la-e08000025-csc2", CSC, "england-wales", {"E08000025"}},
    {"la-e09000001-csc", CSC, "england-wales", {"E09000001"}},
    {"la-e09000033-csc", CSC, "england-wales", {"E09000033"}},
    {"la-e09000033-duty", DUTY, "england-wales", {"E09000033", "E09000001"}},
    {"la-s12000036-csc", CSC, "scotland", {"S12000036"}},
    {"la-s12000036-duty", DUTY, "scotland", {"S12000036"}},
    {"police-met", FR | POLICE, "england-wales", {"E09000033", "E09000001"}},
    {"police-scotland", FR | POLICE, "scotland", {"S12000036"}},
    {"police-wmp", FR | POLICE, "england-wales", {"E08000025"}},
    {"school-e09000033", EDUCATION, "england-wales", {"E09000033"}},
};

static struct {
    struct cf_policy *policy;
    struct cf_directory dir;
} W;

static void fake_directory(struct cf_directory *dir, struct cf_policy *p)
{
    memset(dir, 0, sizeof *dir);
    dir->policy = p;
    dir->agencies = calloc(COUNT(agency_rows), sizeof *dir->agencies);
    assert_non_null(dir->agencies);
    for (size_t i = 0; i < COUNT(agency_rows); i++) {
        struct cf_agency *a = &dir->agencies[i];
        snprintf(a->id, sizeof a->id, "%s", agency_rows[i].id);
        a->roles = agency_rows[i].roles;
        snprintf(a->jurisdiction, sizeof a->jurisdiction, "%s", agency_rows[i].jurisdiction);
        for (size_t k = 0; k < 2 && agency_rows[i].areas[k]; k++)
            snprintf(a->areas[a->n_areas++], sizeof a->areas[0], "%s", agency_rows[i].areas[k]);
        if (i > 0)
            assert_true(strcmp(dir->agencies[i - 1].id, a->id) < 0);
    }
    dir->n_agencies = COUNT(agency_rows);
}

static int group_setup(void **state)
{
    (void)state;
    W.policy = parse_ok(base_policy);
    fake_directory(&W.dir, W.policy);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    free(W.dir.agencies);
    cf_policy_destroy(&W.policy);
    return 0;
}

static struct cf_agency *agency(const char *id)
{
    struct cf_agency *a = (struct cf_agency *)cf_directory_find(&W.dir, id);
    if (!a)
        fail_msg("%s is not in the test directory", id);
    return a;
}

/* An English case in E09000033: referred by West Midlands Police from outside
 * the area, with two guardians and a conference. */
static const cf_id case_guardians[] = {"guardian-a", "guardian-b"};
static const struct cf_member case_members[] = {
    {"la-e09000033-csc", CF_STANDING_VOTING}, {"police-met", CF_STANDING_VOTING},
    {"health-nwl", CF_STANDING_VOTING},       {"guardian-a", CF_STANDING_REQUIRED},
    {"home-office-ew", CF_STANDING_ADVISORY}, {"school-e09000033", CF_STANDING_ADVISORY},
    {"police-wmp", CF_STANDING_ADVISORY},
};
static const cf_id case_voters[] = {"la-e09000033-csc", "police-met"};
static const struct cf_parties parties = {
    .referrer = "police-wmp",
    .owner = "la-e09000033-csc",
    .n_guardians = COUNT(case_guardians),
    .guardians = case_guardians,
    .n_members = COUNT(case_members),
    .members = case_members,
    .n_voters = COUNT(case_voters),
    .voters = case_voters,
};

/* "a b c" for messages and comparisons. */
static void joined(char *out, size_t cap, const cf_id *ids, size_t n)
{
    out[0] = 0;
    for (size_t i = 0; i < n && strlen(out) + sizeof(cf_id) + 1 < cap; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, ids[i]);
    }
}

/* rc is `code`; for a failure the sentence holds each '|'-separated phrase of
 * `needles`, for success (when `got` is given) the ids are exactly `needles`,
 * space-separated and in that order. */
static void expect(const char *what, int rc, const struct cf_error *err, int code,
                   const char *needles, const cf_id *got, size_t n)
{
    if (rc != code)
        fail_msg("%s: wanted %s, got %s: %s", what, cf_error_name(code), cf_error_name(rc),
                 rc ? err->text : "");
    if (code == 0) {
        if (got) {
            char list[2048];
            joined(list, sizeof list, got, n);
            if (strcmp(list, needles ? needles : "") != 0)
                fail_msg("%s: picked [%s], wanted [%s]", what, list, needles);
        }
        return;
    }
    if (err->code != code)
        fail_msg("%s: err.code is %s", what, cf_error_name(err->code));
    for (const char *p = needles; p && *p;) {
        size_t len = strcspn(p, "|");
        char phrase[256];
        snprintf(phrase, sizeof phrase, "%.*s", (int)len, p);
        if (!strstr(err->text, phrase))
            fail_msg("%s: the sentence lacks '%s': %s", what, phrase, err->text);
        p += len + (p[len] == '|');
    }
}

/* ---- Each selector -------------------------------------------------------------- */

struct selector_case {
    const char *selectors; /* the closure route's recipients */
    bool liaison;          /* the route says liaison = yes */
    const char *la;
    bool with_case;     /* the case's parties are known */
    const char *sender; /* for `sender` */
    int code;
    const char *expect; /* the ids picked, in order; or the phrases of the sentence */
};

static const struct selector_case selector_cases[] = {
    /* area:ROLE: agencies with the role that serve the LA code. */
    {"area:police", false, "E09000033", true, NULL, 0, "police-met"},
    {"area:police", false, "E09000001", true, NULL, 0, "police-met"},
    {"area:police", false, "E08000025", true, NULL, 0, "police-wmp"},
    {"area:children_services", false, "E08000025", true, NULL, 0,
     "la-e08000025-csc la-e08000025-csc2"},
    {"area:guardian", false, "S12000036", true, NULL, CF_ENOROUTE,
     "no agency with the role guardian serves S12000036|area:guardian|[message.closure]"},
    {"area:children_services", false, "W06000015", true, NULL, CF_ENOROUTE, "W06000015"},
    /* jurisdiction:ROLE: agencies with the role in the LA's jurisdiction. */
    {"jurisdiction:police", false, "E09000033", true, NULL, 0, "police-met police-wmp"},
    {"jurisdiction:police", false, "W06000015", true, NULL, 0, "police-met police-wmp"},
    {"jurisdiction:police", false, "S12000036", true, NULL, 0, "police-scotland"},
    {"jurisdiction:education", false, "S12000036", true, NULL, CF_ENOROUTE,
     "no agency with the role education is in scotland|jurisdiction:education"},
    /* '?': a role selector may reach nobody; the rest of the list stands. */
    {"area:guardian? case:owner", false, "S12000036", true, NULL, 0, "la-e09000033-csc"},
    {"jurisdiction:education? case:owner", false, "S12000036", true, NULL, 0, "la-e09000033-csc"},
    {"area:guardian?", false, "S12000036", true, NULL, CF_ENOROUTE,
     "[message.closure] routes this closure in S12000036 to nobody"},
    {"area:guardian?", false, "E09000033", true, NULL, 0, "guardian-a guardian-b"},
    /* escrow: the jurisdiction's escrow, if it names one. */
    {"escrow", false, "E09000033", true, NULL, 0, "escrow-audit"},
    {"escrow case:owner", false, "S12000036", true, NULL, 0, "la-e09000033-csc"},
    {"escrow", false, "S12000036", true, NULL, CF_ENOROUTE, "to nobody"},
    /* case: selectors: the parts of the case. */
    {"case:referrer", false, "E09000033", true, NULL, 0, "police-wmp"},
    {"case:owner", false, "E09000033", true, NULL, 0, "la-e09000033-csc"},
    {"case:guardians", false, "E09000033", true, NULL, 0, "guardian-a guardian-b"},
    {"case:members", false, "E09000033", true, NULL, 0,
     "guardian-a health-nwl la-e09000033-csc police-met police-wmp school-e09000033"},
    {"case:voters", false, "E09000033", true, NULL, 0, "la-e09000033-csc police-met"},
    {"case:owner", false, "E09000033", false, NULL, CF_ENOROUTE, "to nobody"},
    {"case:members case:voters", false, "E09000033", false, NULL, CF_ENOROUTE, "to nobody"},
    /* sender: the sender of what the message or notice is about. */
    {"sender", false, "E09000033", true, "la-e09000033-duty", 0, "la-e09000033-duty"},
    {"sender", false, "E09000033", true, "no-such-agency", CF_ENOROUTE, "to nobody"},
    {"sender", false, "E09000033", true, NULL, CF_ENOROUTE, "to nobody"},
    /* A union, sorted, each agency once. */
    {"case:referrer case:owner area:police area:children_services jurisdiction:police", false,
     "E09000033", true, NULL, 0, "la-e09000033-csc police-met police-wmp"},
    /* The liaison: left out unless the route says liaison = yes. */
    {"case:members", true, "E09000033", true, NULL, 0,
     "guardian-a health-nwl home-office-ew la-e09000033-csc police-met police-wmp "
     "school-e09000033"},
    {"jurisdiction:home_office", false, "E09000033", true, NULL, CF_ENOROUTE, "to nobody"},
    {"jurisdiction:home_office", true, "E09000033", true, NULL, 0, "home-office-ew"},
    {"sender", false, "E09000033", true, "home-office-ew", CF_ENOROUTE, "to nobody"},
    /* An LA code no jurisdiction claims. */
    {"area:children_services", false, "K12345678", true, NULL, CF_EJURISDICTION,
     "'K12345678' is not an LA code"},
    {"case:owner", false, "S1200003", true, NULL, CF_EJURISDICTION, "S1200003"},
};

static void test_selectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(selector_cases); i++) {
        const struct selector_case *sc = &selector_cases[i];
        char line[512];
        snprintf(line, sizeof line, "recipients = %s\n%s", sc->selectors,
                 sc->liaison ? "liaison = yes\n" : "");
        char *text = edit(base_policy, CLOSURE_RECIPIENTS, line);
        struct cf_policy *p = parse_ok(text);
        W.dir.policy = p;
        struct cf_route_ctx ctx = {.type = CF_TYPE_CLOSURE,
                                   .la_code = sc->la,
                                   .sender = sc->sender,
                                   .parties = sc->with_case ? &parties : NULL};
        cf_id out[CF_MAX_RECIPIENTS];
        size_t n = 99;
        struct cf_error err = {0};
        int rc = cf_policy_recipients(p, &W.dir, &ctx, out, &n, &err);
        char what[640];
        snprintf(what, sizeof what, "recipients = %s%s in %s%s", sc->selectors,
                 sc->liaison ? " (liaison = yes)" : "", sc->la,
                 sc->with_case ? "" : " before the case exists");
        expect(what, rc, &err, sc->code, sc->expect, out, n);
        if (rc != 0)
            assert_int_equal(n, 0);
        W.dir.policy = W.policy;
        cf_policy_destroy(&p);
        free(text);
    }
}

/* The escrow a jurisdiction names must be in the directory. */
static void test_escrow_not_in_directory(void **state)
{
    (void)state;
    char *text = edit(base_policy, "escrow = escrow-audit", "escrow = escrow-gone");
    struct cf_policy *p = parse_ok(text);
    struct cf_route_ctx ctx = {.type = CF_TYPE_REFERRAL, .la_code = "E09000033"};
    cf_id out[CF_MAX_RECIPIENTS];
    size_t n = 0;
    struct cf_error err = {0};
    expect("an escrow missing from the directory",
           cf_policy_recipients(p, &W.dir, &ctx, out, &n, &err), &err, CF_EUNKNOWNAGENCY,
           "the escrow escrow-gone of [england-wales] is not in the directory", NULL, 0);
    cf_policy_destroy(&p);
    free(text);
}

/* ---- Selectors that do not parse ------------------------------------------------ */

static const struct {
    const char *find, *replace;
    int code;
    unsigned line;
    const char *needles;
} selector_errors[] = {
    {CLOSURE_RECIPIENTS, "recipients = case:owner?\n", CF_EVALUE, CLOSURE_LINE,
     "'case:owner?' cannot be optional"},
    {CLOSURE_RECIPIENTS, "recipients = case:members?\n", CF_EVALUE, CLOSURE_LINE,
     "cannot be optional"},
    {CLOSURE_RECIPIENTS, "recipients = escrow?\n", CF_EVALUE, CLOSURE_LINE, "cannot be optional"},
    {CLOSURE_RECIPIENTS, "recipients = sender?\n", CF_EVALUE, CLOSURE_LINE, "cannot be optional"},
    {CLOSURE_RECIPIENTS, "recipients = case:everyone\n", CF_EVALUE, CLOSURE_LINE,
     "'case:everyone' is not a selector|area:ROLE"},
    {CLOSURE_RECIPIENTS, "recipients = everyone\n", CF_EVALUE, CLOSURE_LINE, "is not a selector"},
    {CLOSURE_RECIPIENTS, "recipients = ?\n", CF_EVALUE, CLOSURE_LINE, "'?' is not a selector"},
    {CLOSURE_RECIPIENTS, "recipients = area:nobody\n", CF_EVALUE, CLOSURE_LINE,
     "'nobody' is not a role|the roles are first_responder"},
    {CLOSURE_RECIPIENTS, "recipients = jurisdiction:\n", CF_EVALUE, CLOSURE_LINE,
     "'' is not a role"},
    {CLOSURE_RECIPIENTS, "recipients = case:owner case:owner\n", CF_EVALUE, CLOSURE_LINE,
     "names case:owner twice"},
    {CLOSURE_RECIPIENTS, "recipients = area:police case:owner area:police?\n", CF_EVALUE,
     CLOSURE_LINE, "names area:police? twice"},
    {CLOSURE_RECIPIENTS, "recipients =\n", CF_EVALUE, CLOSURE_LINE, "name at least one selector"},
    {"from = case:referrer case:guardians", "from = case:referrer? case:guardians", CF_EVALUE, 39,
     "from: 'case:referrer?' cannot be optional"},
    {"owner = area:children_services", "owner = area:children_service", CF_EVALUE, 12,
     "owner: 'children_service' is not a role"},
    {"guardians = area:guardian?", "guardians = area:guardian? area:guardian", CF_EVALUE, 13,
     "guardians names area:guardian twice"},
    {"nrm_return = jurisdiction:home_office", "nrm_return = home_office", CF_EVALUE, 32,
     "nrm_return: 'home_office' is not a selector"},
};

static void test_selector_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(selector_errors); i++) {
        char *text = edit(base_policy, selector_errors[i].find, selector_errors[i].replace);
        struct cf_policy *p = NULL;
        struct cf_error err = {0};
        int rc = cf_policy_parse("policy.ini", text, strlen(text), &p, &err);
        char needles[512];
        snprintf(needles, sizeof needles, "policy.ini:%u: |%s", selector_errors[i].line,
                 selector_errors[i].needles);
        expect(selector_errors[i].replace, rc, &err, selector_errors[i].code, needles, NULL, 0);
        assert_null(p);
        free(text);
    }
}

/* ---- Who may send: `from` ------------------------------------------------------- */

static void test_sender_allowed(void **state)
{
    (void)state;
    static const struct {
        enum cf_type type;
        const char *sender;
        bool with_case;
        int code;
        const char *needles;
    } rows[] = {
        /* from = case:referrer case:guardians */
        {CF_TYPE_RECONSIDERATION_REQUEST, "police-wmp", true, 0, NULL},
        {CF_TYPE_RECONSIDERATION_REQUEST, "guardian-b", true, 0, NULL},
        {CF_TYPE_RECONSIDERATION_REQUEST, "health-nwl", true, CF_ENOTPARTY,
         "a reconsideration_request may come only from case:referrer or case:guardians "
         "(guardian-a guardian-b police-wmp); health-nwl is not one"},
        {CF_TYPE_RECONSIDERATION_REQUEST, NULL, true, CF_ENOTPARTY, "the sender is not one"},
        {CF_TYPE_RECONSIDERATION_REQUEST, "police-wmp", false, CF_ENOTPARTY,
         "(nobody yet); police-wmp is not one"},
        /* from = case:owner */
        {CF_TYPE_STRATEGY_RECORD, "la-e09000033-csc", true, 0, NULL},
        {CF_TYPE_STRATEGY_RECORD, "la-e09000001-csc", true, CF_ENOTPARTY,
         "only from case:owner (la-e09000033-csc); la-e09000001-csc is not one"},
        /* from = case:members: every member, the liaison too (check 7 keeps it
         * from sending what its role may not) */
        {CF_TYPE_CONTRIBUTION, "school-e09000033", true, 0, NULL},
        {CF_TYPE_CONTRIBUTION, "home-office-ew", true, 0, NULL},
        {CF_TYPE_CONTRIBUTION, "guardian-b", true, CF_ENOTPARTY,
         "case:members (guardian-a health-nwl home-office-ew la-e09000033-csc police-met "
         "police-wmp school-e09000033); guardian-b is not one"},
        /* from = case:voters */
        {CF_TYPE_VOTE, "police-met", true, 0, NULL},
        {CF_TYPE_VOTE, "health-nwl", true, CF_ENOTPARTY,
         "case:voters (la-e09000033-csc police-met); health-nwl is not one"},
        /* no from: any agency the route's senders allow */
        {CF_TYPE_REFERRAL, "police-wmp", false, 0, NULL},
        {CF_TYPE_REFERRAL, "no-such-agency", true, 0, NULL},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct cf_route_ctx ctx = {.type = rows[i].type,
                                   .la_code = "E09000033",
                                   .sender = rows[i].sender,
                                   .parties = rows[i].with_case ? &parties : NULL};
        struct cf_error err = {0};
        char what[160];
        snprintf(what, sizeof what, "a %s from %s", cf_header_type_name(rows[i].type),
                 rows[i].sender ? rows[i].sender : "(nobody)");
        expect(what, cf_policy_sender_allowed(W.policy, &W.dir, &ctx, &err), &err, rows[i].code,
               rows[i].needles, NULL, 0);
    }
}

/* ---- Check 9: the recipients a header names ------------------------------------- */

static void test_recipients_match(void **state)
{
    (void)state;
    static const struct {
        enum cf_type type;
        const char *names; /* the header's recipients */
        int code;
        const char *needles;
    } rows[] = {
        {CF_TYPE_CONTRIBUTION,
         "guardian-a health-nwl la-e09000033-csc police-met police-wmp school-e09000033", 0, NULL},
        /* The liaison named where it may not be: the special sentence. */
        {CF_TYPE_CONTRIBUTION,
         "guardian-a health-nwl home-office-ew la-e09000033-csc police-met police-wmp "
         "school-e09000033",
         CF_ERECIPIENTS,
         "home-office-ew holds the role home_office, a liaison role, which may not receive a "
         "contribution|conference_convened, notices and its nrm_return only"},
        {CF_TYPE_VOTE, "home-office-ew", CF_ERECIPIENTS,
         "home-office-ew holds the role home_office, a liaison role, which may not receive a "
         "vote"},
        /* Otherwise the general sentence: the exact list, in order. */
        {CF_TYPE_CONTRIBUTION,
         "health-nwl guardian-a la-e09000033-csc police-met police-wmp school-e09000033",
         CF_ERECIPIENTS,
         "a contribution in E09000033 must go to exactly [guardian-a health-nwl "
         "la-e09000033-csc police-met police-wmp school-e09000033], in that order; it names "
         "[health-nwl guardian-a"},
        {CF_TYPE_CONTRIBUTION, "guardian-a health-nwl la-e09000033-csc police-met police-wmp",
         CF_ERECIPIENTS, "must go to exactly [|it names [guardian-a"},
        {CF_TYPE_VOTE, "la-e09000033-csc la-e09000033-csc", CF_ERECIPIENTS,
         "must go to exactly [la-e09000033-csc]"},
        {CF_TYPE_VOTE, "", CF_ERECIPIENTS, "must go to exactly [la-e09000033-csc]|it names []"},
        /* The conference goes to the liaison too; leaving it out is wrong. */
        {CF_TYPE_CONFERENCE_CONVENED,
         "guardian-a health-nwl home-office-ew la-e09000033-csc police-met police-wmp "
         "school-e09000033",
         0, NULL},
        {CF_TYPE_CONFERENCE_CONVENED,
         "guardian-a health-nwl la-e09000033-csc police-met police-wmp school-e09000033",
         CF_ERECIPIENTS, "a conference_convened in E09000033 must go to exactly"},
        /* A route that reaches nobody fails as cf_policy_recipients does. */
        {CF_TYPE_ACKNOWLEDGEMENT, "police-wmp", CF_ENOROUTE, "[message.acknowledgement]"},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        cf_id got[CF_MAX_RECIPIENTS];
        size_t n = 0;
        for (const char *p = rows[i].names; *p;) {
            size_t len = strcspn(p, " ");
            snprintf(got[n++], sizeof got[0], "%.*s", (int)len, p);
            p += len + (p[len] == ' ');
        }
        struct cf_route_ctx ctx = {
            .type = rows[i].type, .la_code = "E09000033", .parties = &parties};
        struct cf_error err = {0};
        char what[600];
        snprintf(what, sizeof what, "a %s to [%s]", cf_header_type_name(rows[i].type),
                 rows[i].names);
        expect(what, cf_policy_recipients_match(W.policy, &W.dir, &ctx, got, n, &err), &err,
               rows[i].code, rows[i].needles, NULL, 0);
    }
}

static void test_notice_recipients(void **state)
{
    (void)state;
    cf_id out[CF_MAX_RECIPIENTS];
    size_t n = 99;
    struct cf_error err = {0};
    struct cf_route_ctx ctx = {
        .type = CF_TYPE_REFERRAL, .la_code = "E09000033", .sender = "police-met"};
    int rc =
        cf_policy_notice_recipients(W.policy, &W.dir, CF_NOTICE_UNDELIVERED, &ctx, out, &n, &err);
    expect("undelivered", rc, &err, 0, "la-e09000033-duty police-met", out, n);
    /* Notices may go to the liaison. */
    ctx.sender = "home-office-ew";
    rc = cf_policy_notice_recipients(W.policy, &W.dir, CF_NOTICE_UNDELIVERED, &ctx, out, &n, &err);
    expect("undelivered, to the liaison", rc, &err, 0, "home-office-ew la-e09000033-duty", out, n);
    /* A kind the policy routes nowhere has no recipients, and no error. */
    n = 99;
    rc = cf_policy_notice_recipients(W.policy, &W.dir, CF_NOTICE_NEW_REFERRAL, &ctx, out, &n, &err);
    expect("new_referral", rc, &err, 0, "", out, n);
    assert_int_equal(n, 0);
    n = 99;
    assert_int_equal(
        cf_policy_notice_recipients(W.policy, &W.dir, CF_NOTICE_NONE, &ctx, out, &n, &err), 0);
    assert_int_equal(n, 0);
    ctx.la_code = "S12000036";
    rc = cf_policy_notice_recipients(W.policy, &W.dir, CF_NOTICE_UNDELIVERED, &ctx, out, &n, &err);
    expect("undelivered in Scotland", rc, &err, 0, "home-office-ew la-s12000036-duty", out, n);
}

/* ---- The one owner, the guardians, the one NRM reader --------------------------- */

static void test_owner(void **state)
{
    (void)state;
    static const struct {
        enum cf_type type;
        const char *la;
        int code;
        const char *expect;
    } rows[] = {
        {CF_TYPE_REFERRAL, "E09000033", 0, "la-e09000033-csc"},
        {CF_TYPE_REFERRAL, "E09000001", 0, "la-e09000001-csc"},
        {CF_TYPE_REFERRAL, "S12000036", 0, "la-s12000036-csc"},
        {CF_TYPE_REFERRAL, "E08000025", CF_ENOROUTE,
         "[message.referral] owner picks more than one agency in E08000025 to be the case's "
         "owner"},
        {CF_TYPE_REFERRAL, "W06000015", CF_ENOROUTE,
         "no agency with the role children_services serves W06000015"},
        {CF_TYPE_VOTE, "E09000033", CF_ENOROUTE, "[message.vote] owner picks nobody"},
        {CF_TYPE_TRANSFER, "E09000033", CF_ENOROUTE, "[message.transfer] owner"},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        struct cf_route_ctx ctx = {.type = rows[i].type, .la_code = rows[i].la};
        cf_id owner = "";
        struct cf_error err = {0};
        char what[96];
        snprintf(what, sizeof what, "the owner of a %s in %s", cf_header_type_name(rows[i].type),
                 rows[i].la);
        int rc = cf_policy_owner(W.policy, &W.dir, &ctx, owner, &err);
        expect(what, rc, &err, rows[i].code, rows[i].expect, rc == 0 ? &owner : NULL, 1);
    }

    /* With '?' on the selector, an LA nobody serves gives the "picks nobody" sentence. */
    char *text =
        edit(base_policy, "owner = area:children_services", "owner = area:children_services?");
    struct cf_policy *p = parse_ok(text);
    struct cf_route_ctx ctx = {.type = CF_TYPE_REFERRAL, .la_code = "W06000015"};
    cf_id owner;
    struct cf_error err = {0};
    expect("an optional owner selector", cf_policy_owner(p, &W.dir, &ctx, owner, &err), &err,
           CF_ENOROUTE, "[message.referral] owner picks nobody in W06000015 to be the case's owner",
           NULL, 0);
    cf_policy_destroy(&p);
    free(text);
}

static void test_guardians(void **state)
{
    (void)state;
    cf_id out[CF_MAX_RECIPIENTS];
    size_t n = 99;
    struct cf_error err = {0};
    struct cf_route_ctx ctx = {.type = CF_TYPE_REFERRAL, .la_code = "E09000033"};
    int rc = cf_policy_guardians(W.policy, &W.dir, &ctx, out, &n, &err);
    expect("guardians in E09000033", rc, &err, 0, "guardian-a guardian-b", out, n);
    ctx.la_code = "S12000036";
    n = 99;
    rc = cf_policy_guardians(W.policy, &W.dir, &ctx, out, &n, &err);
    expect("guardians in S12000036", rc, &err, 0, "", out, n);
    assert_int_equal(n, 0);
}

static void test_nrm_reader(void **state)
{
    (void)state;
    struct cf_route_ctx ctx = {
        .type = CF_TYPE_DETERMINATION_PROPOSED, .la_code = "E09000033", .parties = &parties};
    cf_id reader = "";
    struct cf_error err = {0};
    /* The liaison is the return's reader, though never a recipient of the proposal. */
    expect("the reader in E09000033", cf_policy_nrm_reader(W.policy, &W.dir, &ctx, reader, &err),
           &err, 0, "home-office-ew", &reader, 1);
    ctx.la_code = "S12000036";
    expect("the reader in Scotland, which has no liaison",
           cf_policy_nrm_reader(W.policy, &W.dir, &ctx, reader, &err), &err, CF_ENOROUTE,
           "no agency with the role home_office is in scotland|jurisdiction:home_office", NULL, 0);
    ctx.la_code = "E09000033";
    ctx.type = CF_TYPE_VOTE;
    expect("the reader of a vote", cf_policy_nrm_reader(W.policy, &W.dir, &ctx, reader, &err), &err,
           CF_ENOROUTE, "[message.vote] nrm_return picks nobody in E09000033", NULL, 0);
    /* Two liaison offices in one nation: the return must have one reader. */
    ctx.type = CF_TYPE_DETERMINATION_PROPOSED;
    agency("escrow-audit")->roles |= HOME_OFFICE;
    int rc = cf_policy_nrm_reader(W.policy, &W.dir, &ctx, reader, &err);
    agency("escrow-audit")->roles = AUDITOR;
    expect("two readers", rc, &err, CF_ENOROUTE,
           "[message.determination_proposed] nrm_return picks more than one agency in E09000033",
           NULL, 0);
}

static void test_type_allowed(void **state)
{
    (void)state;
    const struct cf_jurisdiction *ew = cf_policy_jurisdiction(W.policy, "england-wales");
    const struct cf_jurisdiction *scot = cf_policy_jurisdiction(W.policy, "scotland");
    struct cf_error err = {0};
    expect("a strategy record in England",
           cf_policy_type_allowed(W.policy, CF_TYPE_STRATEGY_RECORD, ew, &err), &err, 0, NULL, NULL,
           0);
    expect("a strategy record in Scotland",
           cf_policy_type_allowed(W.policy, CF_TYPE_STRATEGY_RECORD, scot, &err), &err, CF_ETYPE,
           "a strategy_record belongs to england-wales, not to scotland", NULL, 0);
    expect("a contribution in Scotland",
           cf_policy_type_allowed(W.policy, CF_TYPE_CONTRIBUTION, scot, &err), &err, 0, NULL, NULL,
           0);
    expect("a transfer, which this policy has no route for",
           cf_policy_type_allowed(W.policy, CF_TYPE_TRANSFER, ew, &err), &err, CF_ENOROUTE,
           "[message.transfer]", NULL, 0);
    expect("no type", cf_policy_type_allowed(W.policy, CF_TYPE_NONE, ew, &err), &err, CF_ENOROUTE,
           "the policy has no", NULL, 0);
    assert_true(cf_policy_is_liaison(W.policy, HOME_OFFICE | POLICE));
    assert_false(cf_policy_is_liaison(W.policy, POLICE | GUARDIAN));
}

/* ---- The conference: members, quorum, votes ------------------------------------- */

static void test_member_check(void **state)
{
    (void)state;
    static const struct {
        const char *jurisdiction, *agency;
        enum cf_standing standing;
        int code;
        const char *needles;
    } rows[] = {
        {"england-wales", "la-e09000033-csc", CF_STANDING_VOTING, 0, NULL},
        {"england-wales", "police-met", CF_STANDING_VOTING, 0, NULL},
        {"england-wales", "police-met", CF_STANDING_REQUIRED, 0, NULL},
        {"england-wales", "guardian-a", CF_STANDING_REQUIRED, 0, NULL},
        {"england-wales", "guardian-a", CF_STANDING_ADVISORY, 0, NULL},
        {"england-wales", "school-e09000033", CF_STANDING_ADVISORY, 0, NULL},
        {"england-wales", "home-office-ew", CF_STANDING_ADVISORY, 0, NULL},
        {"scotland", "police-scotland", CF_STANDING_VOTING, 0, NULL},
        {"england-wales", "guardian-a", CF_STANDING_VOTING, CF_EFIELD,
         "members: guardian-a cannot be a voting member; in england-wales only agencies with a "
         "voting role (children_services first) vote"},
        {"england-wales", "school-e09000033", CF_STANDING_VOTING, CF_EFIELD,
         "school-e09000033 cannot be a voting member"},
        {"england-wales", "home-office-ew", CF_STANDING_VOTING, CF_EFIELD,
         "home-office-ew cannot be a voting member"},
        {"england-wales", "home-office-ew", CF_STANDING_REQUIRED, CF_EFIELD,
         "members: home-office-ew holds the liaison role home_office, so it may attend only as "
         "advisory"},
        {"england-wales", "no-such-agency", CF_STANDING_ADVISORY, CF_EUNKNOWNAGENCY,
         "members: no-such-agency is not in the directory"},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        const struct cf_jurisdiction *j = cf_policy_jurisdiction(W.policy, rows[i].jurisdiction);
        struct cf_member m = {.standing = rows[i].standing};
        snprintf(m.agency, sizeof m.agency, "%s", rows[i].agency);
        struct cf_error err = {0};
        char what[128];
        snprintf(what, sizeof what, "%s as member standing %d in %s", rows[i].agency,
                 rows[i].standing, rows[i].jurisdiction);
        expect(what, cf_policy_member_check(W.policy, j, &W.dir, &m, &err), &err, rows[i].code,
               rows[i].needles, NULL, 0);
    }
    /* An agency holding a voting role and a liaison role still may not vote. */
    const struct cf_jurisdiction *ew = cf_policy_jurisdiction(W.policy, "england-wales");
    struct cf_member m = {"home-office-ew", CF_STANDING_VOTING};
    struct cf_error err = {0};
    agency("home-office-ew")->roles |= POLICE;
    int rc = cf_policy_member_check(W.policy, ew, &W.dir, &m, &err);
    agency("home-office-ew")->roles = HOME_OFFICE;
    expect("a liaison that also polices, voting", rc, &err, CF_EFIELD,
           "home-office-ew holds the liaison role home_office", NULL, 0);
}

static void test_quorate(void **state)
{
    (void)state;
    static const struct {
        const char *jurisdiction;
        const char *attendees;
        int code;
        const char *needles;
    } rows[] = {
        {"england-wales",
         "la-e09000033-csc police-met health-nwl guardian-a home-office-ew school-e09000033 "
         "police-wmp",
         0, NULL},
        {"england-wales", "guardian-a health-nwl police-met la-e09000033-csc", 0, NULL},
        {"england-wales", "police-met health-nwl guardian-a", CF_EINQUORATE,
         "no voting member with the role children_services attended, and england-wales requires "
         "every voting role"},
        {"england-wales", "la-e09000033-csc health-nwl guardian-a", CF_EINQUORATE,
         "no voting member with the role police attended"},
        /* The police present only as an advisory member. */
        {"england-wales", "la-e09000033-csc police-wmp health-nwl guardian-a", CF_EINQUORATE,
         "no voting member with the role police attended"},
        {"england-wales", "la-e09000033-csc police-met guardian-a", CF_EINQUORATE,
         "no voting member with the role health attended"},
        {"england-wales", "la-e09000033-csc police-met health-nwl", CF_EINQUORATE,
         "no attendee holds the role guardian, which england-wales requires at the meeting"},
        /* A guardian who is not a member does not count; nor does a stranger. */
        {"england-wales", "la-e09000033-csc police-met health-nwl guardian-b no-such-agency",
         CF_EINQUORATE, "role guardian"},
        /* A missing vote is named before a missing required role. */
        {"england-wales", "la-e09000033-csc health-nwl", CF_EINQUORATE, "role police"},
        {"england-wales", "", CF_EINQUORATE, "role children_services"},
        /* Scotland requires no role beyond its voters. */
        {"scotland", "la-e09000033-csc police-met health-nwl", 0, NULL},
        {"scotland", "la-e09000033-csc police-met", CF_EINQUORATE,
         "role health attended, and scotland requires"},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        const struct cf_jurisdiction *j = cf_policy_jurisdiction(W.policy, rows[i].jurisdiction);
        cf_id attendees[CF_MAX_MEMBERS];
        size_t n = 0;
        for (const char *p = rows[i].attendees; *p;) {
            size_t len = strcspn(p, " ");
            snprintf(attendees[n++], sizeof attendees[0], "%.*s", (int)len, p);
            p += len + (p[len] == ' ');
        }
        struct cf_error err = {0};
        char what[256];
        snprintf(what, sizeof what, "[%s] attending in %s", rows[i].attendees,
                 rows[i].jurisdiction);
        expect(what,
               cf_policy_quorate(j, &W.dir, case_members, COUNT(case_members), attendees, n, &err),
               &err, rows[i].code, rows[i].needles, NULL, 0);
    }
}

static void test_quorum_met(void **state)
{
    (void)state;
    /* The votes as written: "+id" approves, "-id" rejects. */
    static const struct {
        const char *jurisdiction;
        const char *voters, *votes;
        bool met;
    } rows[] = {
        /* quorum = all, must_include = children_services */
        {"england-wales", "la-e09000033-csc police-met health-nwl",
         "+police-met +health-nwl +la-e09000033-csc", true},
        {"england-wales", "la-e09000033-csc police-met health-nwl", "+police-met +health-nwl",
         false},
        {"england-wales", "la-e09000033-csc police-met health-nwl", "", false},
        {"england-wales", "la-e09000033-csc police-met health-nwl",
         "+police-met -health-nwl +la-e09000033-csc", false},
        /* An approval by an agency that is not a voter does not count. */
        {"england-wales", "la-e09000033-csc police-met health-nwl",
         "+police-met +la-e09000033-csc +school-e09000033", false},
        /* Nor does a reject by one: only a voter's reject ends the proposal. */
        {"england-wales", "la-e09000033-csc police-met health-nwl",
         "+police-met +health-nwl +la-e09000033-csc -school-e09000033", true},
        {"england-wales", "", "+la-e09000033-csc", false},
        /* quorum = 2, must_include = children_services */
        {"scotland", "la-e09000033-csc police-met health-nwl", "+la-e09000033-csc +police-met",
         true},
        {"scotland", "la-e09000033-csc police-met health-nwl", "+police-met +health-nwl", false},
        {"scotland", "la-e09000033-csc police-met health-nwl", "+la-e09000033-csc", false},
        {"scotland", "la-e09000033-csc police-met health-nwl",
         "+la-e09000033-csc +police-met -health-nwl", false},
        /* A children's services approval from outside the voters does not
         * satisfy must_include. */
        {"scotland", "la-e09000033-csc police-met health-nwl", "+police-met +la-e09000001-csc",
         false},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        const struct cf_jurisdiction *j = cf_policy_jurisdiction(W.policy, rows[i].jurisdiction);
        cf_id voters[CF_MAX_MEMBERS];
        struct cf_vote_record votes[CF_MAX_MEMBERS];
        size_t n_voters = 0, n_votes = 0;
        for (const char *p = rows[i].voters; *p;) {
            size_t len = strcspn(p, " ");
            snprintf(voters[n_voters++], sizeof voters[0], "%.*s", (int)len, p);
            p += len + (p[len] == ' ');
        }
        for (const char *p = rows[i].votes; *p;) {
            size_t len = strcspn(p, " ");
            struct cf_vote_record *v = &votes[n_votes++];
            memset(v, 0, sizeof *v);
            v->approve = p[0] == '+';
            snprintf(v->voter, sizeof v->voter, "%.*s", (int)len - 1, p + 1);
            p += len + (p[len] == ' ');
        }
        bool met = cf_policy_quorum_met(j, &W.dir, voters, n_voters, votes, n_votes);
        if (met != rows[i].met)
            fail_msg("%s, voters [%s], votes [%s]: quorum_met %d, wanted %d", rows[i].jurisdiction,
                     rows[i].voters, rows[i].votes, met, rows[i].met);
    }
}

/* ---- What a policy may not say -------------------------------------------------- */

static const struct {
    const char *what;
    const char *find, *replace;
    int code;
    unsigned line;
    const char *needles;
} load_errors[] = {
    {"a liaison role among the voting roles",
     "voting_roles = children_services police health\nrequired_roles",
     "voting_roles = children_services police health home_office\nrequired_roles", CF_EVALUE, 50,
     "[england-wales]|home_office|liaison role"},
    {"a liaison role among the required roles", "required_roles = guardian",
     "required_roles = guardian home_office", CF_EVALUE, 51,
     "[england-wales]|home_office|liaison role"},
    {"a liaison role among Scotland's voting roles",
     "voting_roles = children_services police health\nquorum = 2",
     "voting_roles = home_office children_services police health\nquorum = 2", CF_EVALUE, 59,
     "[scotland]|home_office"},
    {"a liaison role sending a proposal",
     "senders = children_services\nfrom = case:owner\nrecipients = case:members case:referrer",
     "senders = children_services home_office\nfrom = case:owner\nrecipients = case:members "
     "case:referrer",
     CF_EVALUE, 29, "[message.determination_proposed] senders names home_office, a liaison role"},
    {"a liaison role voting", "senders = children_services police health\n",
     "senders = children_services police health home_office\n", CF_EVALUE, 34,
     "[message.vote] senders names home_office"},
    {"a liaison role sending the determination", "[notice.undelivered]",
     "[message.determination]\nsenders = home_office\nrecipients = case:members\n"
     "[notice.undelivered]",
     CF_EVALUE, 45, "[message.determination] senders names home_office"},
    {"an nrm_return on a vote", "recipients = case:owner\n[message.reconsideration_request]",
     "recipients = case:owner\nnrm_return = jurisdiction:home_office\n"
     "[message.reconsideration_request]",
     CF_EVALUE, 37, "[message.vote] has an nrm_return, which only a determination_proposed"},
    {"a proposal without an nrm_return", "nrm_return = jurisdiction:home_office\n", "", CF_EVALUE,
     28, "[message.determination_proposed] has no nrm_return"},
    {"an unknown jurisdiction", "jurisdictions = england-wales",
     "jurisdictions = england-wales wales", CF_EVALUE, 18,
     "[message.strategy_record] jurisdictions: 'wales' is not a jurisdiction section"},
    {"a repeated jurisdiction", "jurisdictions = england-wales",
     "jurisdictions = england-wales england-wales", CF_EVALUE, 18,
     "jurisdictions names england-wales twice"},
    {"no jurisdiction", "jurisdictions = england-wales", "jurisdictions =", CF_EVALUE, 18,
     "name at least one jurisdiction"},
    {"an unknown liaison role", "liaison_roles = home_office", "liaison_roles = home-office",
     CF_EVALUE, 8, "'home-office' is not a role"},
    {"liaison neither yes nor no", "liaison = yes", "liaison = sometimes", CF_EVALUE, 23,
     "liaison"},
    {"a route without recipients", "recipients = case:owner\n[message.closure]",
     "[message.closure]", CF_EVALUE, 37, "[message.reconsideration_request] has no recipients"},
};

static void test_load_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < COUNT(load_errors); i++) {
        char *text = edit(base_policy, load_errors[i].find, load_errors[i].replace);
        struct cf_policy *p = NULL;
        struct cf_error err = {0};
        int rc = cf_policy_parse("policy.ini", text, strlen(text), &p, &err);
        char needles[512];
        snprintf(needles, sizeof needles, "policy.ini:%u: |%s", load_errors[i].line,
                 load_errors[i].needles);
        expect(load_errors[i].what, rc, &err, load_errors[i].code, needles, NULL, 0);
        assert_null(p);
        free(text);
    }
    /* Named before it is declared is fine: the names resolve at the end. */
    char *text = edit(base_policy, "jurisdictions = england-wales",
                      "jurisdictions = scotland england-wales");
    struct cf_policy *p = parse_ok(text);
    assert_int_equal(p->routes[CF_TYPE_STRATEGY_RECORD].jurisdictions, 3u);
    cf_policy_destroy(&p);
    free(text);
    /* Without liaison roles, nothing is excluded. */
    text = edit(base_policy, "liaison_roles = home_office", "liaison_roles =");
    p = parse_ok(text);
    assert_int_equal(p->liaison_roles, 0);
    struct cf_route_ctx ctx = {
        .type = CF_TYPE_CONTRIBUTION, .la_code = "E09000033", .parties = &parties};
    cf_id out[CF_MAX_RECIPIENTS];
    size_t n = 0;
    struct cf_error err = {0};
    W.dir.policy = p;
    int rc = cf_policy_recipients(p, &W.dir, &ctx, out, &n, &err);
    expect("a contribution without liaison roles", rc, &err, 0,
           "guardian-a health-nwl home-office-ew la-e09000033-csc police-met police-wmp "
           "school-e09000033",
           out, n);
    W.dir.policy = W.policy;
    cf_policy_destroy(&p);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_escrow_not_in_directory),
        cmocka_unit_test(test_selector_errors),
        cmocka_unit_test(test_sender_allowed),
        cmocka_unit_test(test_recipients_match),
        cmocka_unit_test(test_notice_recipients),
        cmocka_unit_test(test_owner),
        cmocka_unit_test(test_guardians),
        cmocka_unit_test(test_nrm_reader),
        cmocka_unit_test(test_type_allowed),
        cmocka_unit_test(test_member_check),
        cmocka_unit_test(test_quorate),
        cmocka_unit_test(test_quorum_met),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
