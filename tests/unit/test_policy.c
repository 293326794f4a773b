/* Policy tests: the shipped deploy/policy.ini parses to the figures DESIGN.md
 * section 5 gives; a table of broken policies each fails with its exact code at
 * its exact line; and routing picks exactly the agencies the policy names. */
#include <libgen.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "childfirst/directory.h"
#include "childfirst/file.h"
#include "childfirst/policy.h"

#define BIT(role) (1u << (role))

/* A small valid policy; the bad cases below edit one spot and name its line. */
static const char base_policy[] =
    "[policy]\n"                                                                /* 1 */
    "max_clock_skew_seconds = 300\n"                                            /* 2 */
    "max_message_age_hours = 336\n"                                             /* 3 */
    "undelivered.immediate = 15 minutes\n"                                      /* 4 */
    "undelivered.urgent = 4 hours\n"                                            /* 5 */
    "undelivered.routine = 1 working_days\n"                                    /* 6 */
    "non_delivery_report = 5 calendar_days\n"                                   /* 7 */
    "[message.referral]\n"                                                      /* 8 */
    "senders = first_responder\n"                                               /* 9 */
    "recipients = area:children_services area:duty_team area:guardian escrow\n" /* 10 */
    "[england-wales]        ; a comment after a section\n"                      /* 11 */
    "la_prefixes = E W\n"                                                       /* 12 */
    "calendar = england-wales\n"                                                /* 13 */
    "escrow = escrow-audit  ; copies every referral\n"                          /* 14 */
    "voting_roles = children_services police health\n"                          /* 15 */
    "required_roles = guardian\n"                                               /* 16 */
    "quorum = all\n"                                                            /* 17 */
    "must_include = children_services\n"                                        /* 18 */
    "chair_not_lead = yes\n"                                                    /* 19 */
    "cg_min_days_after_rg = 0\n"                                                /* 20 */
    "deadline.acknowledgement = 1 working_days from referral\n"                 /* 21 */
    "deadline.conference = 15 working_days from strategy_record\n"              /* 22 */
    "deadline.reconvene = 10 working_days from inquorate\n"                     /* 23 */
    "[scotland]\n"                                                              /* 24 */
    "la_prefixes = S\n"                                                         /* 25 */
    "calendar = scotland\n"                                                     /* 26 */
    "voting_roles = children_services police health\n"                          /* 27 */
    "quorum = 2\n"                                                              /* 28 */
    "chair_not_lead = yes\n"                                                    /* 29 */
    "cg_min_days_after_rg = 0\n"                                                /* 30 */
    "deadline.strategy = 1 working_days from referral\n";                       /* 31 */

/* The text with the first `find` replaced by `replace`; with replace == NULL,
 * cut at `find`. Caller frees. */
static char *edit(const char *text, const char *find, const char *replace)
{
    const char *at = strstr(text, find);
    assert_non_null(at);
    size_t head = (size_t)(at - text);
    const char *tail = replace ? at + strlen(find) : "";
    size_t rlen = replace ? strlen(replace) : 0;
    char *out = malloc(head + rlen + strlen(tail) + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, replace ? replace : "", rlen);
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

static void test_base_policy_parses(void **state)
{
    (void)state;
    struct cf_policy *p = parse_ok(base_policy);
    assert_int_equal(p->max_clock_skew_seconds, 300);
    assert_int_equal(p->max_message_age_hours, 336);
    assert_true(p->undelivered[CF_URGENCY_IMMEDIATE].set);
    assert_int_equal(p->undelivered[CF_URGENCY_IMMEDIATE].n, 15);
    assert_int_equal(p->undelivered[CF_URGENCY_IMMEDIATE].unit, CF_UNIT_MINUTES);
    assert_false(p->undelivered[CF_URGENCY_NONE].set);
    assert_int_equal(p->non_delivery_report.unit, CF_UNIT_CALENDAR_DAYS);

    const struct cf_route *r = &p->routes[CF_TYPE_REFERRAL];
    assert_true(r->set);
    assert_int_equal(r->senders, BIT(CF_ROLE_FIRST_RESPONDER));
    assert_int_equal(r->recipients.n, 4);
    assert_int_equal(r->recipients.s[0].kind, CF_SEL_AREA_ROLE);
    assert_int_equal(r->recipients.s[0].role, CF_ROLE_CHILDREN_SERVICES);
    assert_int_equal(r->recipients.s[3].kind, CF_SEL_ESCROW);
    assert_false(p->routes[CF_TYPE_ACKNOWLEDGEMENT].set);

    assert_int_equal(p->n_jurisdictions, 2);
    const struct cf_jurisdiction *ew = cf_policy_jurisdiction(p, "england-wales");
    assert_non_null(ew);
    assert_string_equal(ew->la_prefixes, "EW");
    assert_string_equal(ew->escrow, "escrow-audit");
    assert_int_equal(ew->quorum, 0);
    assert_int_equal(ew->must_include, BIT(CF_ROLE_CHILDREN_SERVICES));
    assert_int_equal(ew->required_roles, BIT(CF_ROLE_GUARDIAN));
    assert_true(ew->chair_not_lead);
    const struct cf_duration *reconvene = &ew->deadlines[CF_DEADLINE_RECONVENE];
    assert_true(reconvene->set && reconvene->from_inquorate);
    assert_int_equal(reconvene->from, CF_TYPE_NONE);
    assert_int_equal(ew->deadlines[CF_DEADLINE_CONFERENCE].from, CF_TYPE_STRATEGY_RECORD);
    assert_false(ew->deadlines[CF_DEADLINE_STRATEGY].set);
    const struct cf_jurisdiction *scot = cf_policy_jurisdiction(p, "scotland");
    assert_non_null(scot);
    assert_int_equal(scot->quorum, 2);
    assert_string_equal(scot->escrow, "");
    assert_null(cf_policy_jurisdiction(p, "wales"));
    cf_policy_destroy(&p);
    assert_null(p);
    cf_policy_destroy(&p); /* NULL is accepted */
}

/* deploy/policy.ini, found from this file: tests/unit/x.c -> the repository root. */
static char *deploy_policy_path(void)
{
    char here[4096];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *root = dirname(dirname(dirname(here)));
    char *path = malloc(strlen(root) + 32);
    assert_non_null(path);
    sprintf(path, "%s/deploy/policy.ini", root);
    return path;
}

static void expect_duration(const struct cf_duration *d, unsigned n, enum cf_unit unit,
                            enum cf_type from, bool from_inquorate)
{
    assert_true(d->set);
    assert_int_equal(d->n, n);
    assert_int_equal(d->unit, unit);
    assert_int_equal(d->from, from);
    assert_int_equal(d->from_inquorate, from_inquorate);
}

static void test_deploy_policy(void **state)
{
    (void)state;
    char *path = deploy_policy_path();
    uint8_t *buf = NULL;
    size_t len = 0;
    struct cf_error err = {0};
    if (cf_file_read(path, 1 << 20, &buf, &len, &err) != 0)
        fail_msg("%s", err.text);
    struct cf_policy *p = NULL;
    if (cf_policy_parse(path, (const char *)buf, len, &p, &err) != 0)
        fail_msg("%s", err.text);

    assert_int_equal(p->max_clock_skew_seconds, 300);
    assert_int_equal(p->max_message_age_hours, 336);
    expect_duration(&p->undelivered[CF_URGENCY_IMMEDIATE], 15, CF_UNIT_MINUTES, 0, false);
    expect_duration(&p->undelivered[CF_URGENCY_URGENT], 4, CF_UNIT_HOURS, 0, false);
    expect_duration(&p->undelivered[CF_URGENCY_ROUTINE], 1, CF_UNIT_WORKING_DAYS, 0, false);
    expect_duration(&p->non_delivery_report, 5, CF_UNIT_CALENDAR_DAYS, 0, false);
    assert_true(cf_policy_may_send(p, BIT(CF_ROLE_FIRST_RESPONDER), CF_TYPE_REFERRAL));

    assert_int_equal(p->n_jurisdictions, 3);
    const struct cf_jurisdiction *ew = cf_policy_jurisdiction(p, "england-wales");
    const struct cf_jurisdiction *scot = cf_policy_jurisdiction(p, "scotland");
    const struct cf_jurisdiction *ni = cf_policy_jurisdiction(p, "northern-ireland");
    assert_non_null(ew);
    assert_non_null(scot);
    assert_non_null(ni);
    const uint32_t voting =
        BIT(CF_ROLE_CHILDREN_SERVICES) | BIT(CF_ROLE_POLICE) | BIT(CF_ROLE_HEALTH);
    const struct cf_jurisdiction *all[] = {ew, scot, ni};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(all[i]->calendar, all[i]->name);
        assert_string_equal(all[i]->escrow, "");
        assert_int_equal(all[i]->voting_roles, voting);
        assert_int_equal(all[i]->required_roles, BIT(CF_ROLE_GUARDIAN));
        assert_int_equal(all[i]->quorum, 0);
        assert_int_equal(all[i]->must_include, BIT(CF_ROLE_CHILDREN_SERVICES));
        assert_true(all[i]->chair_not_lead);
        assert_int_equal(all[i]->cg_min_days_after_rg, 0);
        expect_duration(&all[i]->deadlines[CF_DEADLINE_RECONVENE], 10, CF_UNIT_WORKING_DAYS,
                        CF_TYPE_NONE, true);
    }
    assert_string_equal(ew->la_prefixes, "EW");
    assert_string_equal(scot->la_prefixes, "S");
    assert_string_equal(ni->la_prefixes, "N");

    expect_duration(&ew->deadlines[CF_DEADLINE_ACKNOWLEDGEMENT], 1, CF_UNIT_WORKING_DAYS,
                    CF_TYPE_REFERRAL, false);
    assert_false(ew->deadlines[CF_DEADLINE_STRATEGY].set);
    expect_duration(&ew->deadlines[CF_DEADLINE_CONFERENCE], 15, CF_UNIT_WORKING_DAYS,
                    CF_TYPE_STRATEGY_RECORD, false);
    expect_duration(&ew->deadlines[CF_DEADLINE_RG_DETERMINATION], 45, CF_UNIT_CALENDAR_DAYS,
                    CF_TYPE_REFERRAL, false);

    assert_false(scot->deadlines[CF_DEADLINE_ACKNOWLEDGEMENT].set);
    expect_duration(&scot->deadlines[CF_DEADLINE_STRATEGY], 1, CF_UNIT_WORKING_DAYS,
                    CF_TYPE_REFERRAL, false);
    expect_duration(&scot->deadlines[CF_DEADLINE_CONFERENCE], 28, CF_UNIT_CALENDAR_DAYS,
                    CF_TYPE_IRD_RECORD, false);
    assert_false(scot->deadlines[CF_DEADLINE_RG_DETERMINATION].set);

    assert_false(ni->deadlines[CF_DEADLINE_ACKNOWLEDGEMENT].set);
    assert_false(ni->deadlines[CF_DEADLINE_STRATEGY].set);
    assert_false(ni->deadlines[CF_DEADLINE_CONFERENCE].set);
    expect_duration(&ni->deadlines[CF_DEADLINE_RG_DETERMINATION], 45, CF_UNIT_CALENDAR_DAYS,
                    CF_TYPE_REFERRAL, false);

    const struct cf_jurisdiction *j = NULL;
    assert_int_equal(cf_policy_jurisdiction_of(p, "W06000015", &j), 0);
    assert_ptr_equal(j, ew);
    assert_int_equal(cf_policy_jurisdiction_of(p, "S12000036", &j), 0);
    assert_ptr_equal(j, scot);
    assert_int_equal(cf_policy_jurisdiction_of(p, "N09000003", &j), 0);
    assert_ptr_equal(j, ni);
    assert_int_equal(cf_policy_jurisdiction_of(p, "K12345678", &j), CF_EJURISDICTION);
    assert_int_equal(cf_policy_jurisdiction_of(p, "E0900003", &j), CF_EJURISDICTION);

    cf_policy_destroy(&p);
    free(buf);
    free(path);
}

struct bad_case {
    const char *what;
    const char *find, *replace; /* replace == NULL cuts the text at find */
    int code;
    unsigned line;
};

static char long_line[260];

static const struct bad_case bad_cases[] = {
    {"unknown key", "max_clock_skew_seconds", "max_clock_skew", CF_EUNKNOWNKEY, 2},
    {"number below the minimum", "max_message_age_hours = 336", "max_message_age_hours = 0",
     CF_EVALUE, 3},
    {"not a unit", "15 minutes", "15 mins", CF_EVALUE, 4},
    {"undelivered counts from acceptance", "4 hours", "4 hours from referral", CF_EVALUE, 5},
    {"unknown message type", "[message.referral]", "[message.referal]", CF_ETYPE, 8},
    {"unknown sender role", "senders = first_responder", "senders = first_responders", CF_EVALUE,
     9},
    {"unknown selector", "guardian escrow", "guardian everyone", CF_EVALUE, 10},
    {"selector with an unknown role", "area:duty_team", "area:duty", CF_EVALUE, 10},
    {"repeated selector", "area:guardian", "area:children_services", CF_EVALUE, 10},
    {"repeated section", "[scotland]", "[england-wales]", CF_EDUPKEY, 24},
    {"jurisdiction name not an id", "[scotland]", "[Scotland]", CF_EID, 24},
    {"escrow not an id", "escrow = escrow-audit", "escrow = Escrow!", CF_EVALUE, 14},
    {"repeated key", "quorum = all\n", "quorum = all\nquorum = all\n", CF_EDUPKEY, 18},
    {"required role that also votes", "required_roles = guardian",
     "required_roles = guardian police", CF_EVALUE, 16},
    {"must_include outside voting_roles", "must_include = children_services",
     "must_include = education", CF_EVALUE, 18},
    {"not yes or no", "chair_not_lead = yes", "chair_not_lead = maybe", CF_EVALUE, 19},
    {"zero duration", "1 working_days from referral", "0 working_days from referral", CF_EVALUE,
     21},
    {"deadline without an anchor", "15 working_days from strategy_record", "15 working_days",
     CF_EVALUE, 22},
    {"deadline from an unknown event", "from inquorate", "from meeting", CF_EVALUE, 23},
    {"letter of another jurisdiction", "la_prefixes = S", "la_prefixes = S W", CF_EVALUE, 25},
    {"over-long line", "calendar = scotland", long_line, CF_ELINE, 26},
    {"quorum above the voting roles", "quorum = 2", "quorum = 4", CF_EVALUE, 28},
    {"quorum of zero", "quorum = 2", "quorum = 0", CF_EVALUE, 28},
    {"unknown deadline", "deadline.strategy", "deadline.ird", CF_EUNKNOWNKEY, 31},
    {"key outside any section", "[policy]", "quorum = all\n[policy]", CF_EUNKNOWNKEY, 1},
    {"required [policy] key missing", "non_delivery_report = 5 calendar_days\n", "", CF_EVALUE, 1},
    {"required jurisdiction key missing", "calendar = scotland\n", "", CF_EVALUE, 24},
    {"no referral route", "[message.referral]", "[message.acknowledgement]", CF_EVALUE, 31},
    {"no jurisdiction", "[england-wales]", NULL, CF_EVALUE, 10},
    {"no [policy]",
     "[policy]\nmax_clock_skew_seconds = 300\nmax_message_age_hours = 336\n"
     "undelivered.immediate = 15 minutes\nundelivered.urgent = 4 hours\n"
     "undelivered.routine = 1 working_days\nnon_delivery_report = 5 calendar_days\n",
     "", CF_EVALUE, 24},
    {"indented key", "quorum = 2", "  quorum = 2", CF_ESYNTAX, 28},
};

static void test_bad_policies(void **state)
{
    (void)state;
    snprintf(long_line, sizeof long_line, "calendar = %0240d", 0);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        char *text = edit(base_policy, c->find, c->replace);
        struct cf_policy *p = NULL;
        struct cf_error err = {0};
        int rc = cf_policy_parse("policy.ini", text, strlen(text), &p, &err);
        char where[32];
        snprintf(where, sizeof where, "policy.ini:%u: ", c->line);
        if (rc != c->code || !strstr(err.text, where))
            fail_msg("%s: wanted %s at %s, got %s: %s", c->what, cf_error_name(c->code), where,
                     cf_error_name(rc), err.text);
        assert_null(p);
        free(text);
    }
}

/* Agencies in id order, as the directory keeps them. */
struct fake_agency {
    const char *id;
    uint32_t roles;
    const char *areas[3];
};

static const struct fake_agency fake_agencies[] = {
    {"escrow-audit", BIT(CF_ROLE_AUDITOR), {NULL}},
    {"guardian-ictg", BIT(CF_ROLE_GUARDIAN), {"E09000033", NULL}},
    {"la-e09000001-csc", BIT(CF_ROLE_CHILDREN_SERVICES), {"E09000001", NULL}},
    {"la-e09000033-csc", BIT(CF_ROLE_CHILDREN_SERVICES), {"E09000033", NULL}},
    {"la-e09000033-duty", BIT(CF_ROLE_DUTY_TEAM), {"E09000001", "E09000033", NULL}},
    {"police-met", BIT(CF_ROLE_FIRST_RESPONDER) | BIT(CF_ROLE_POLICE), {"E09000001", "E09000033"}},
};

static struct cf_agency *fake_agency(struct cf_agency *a, const char *id, uint32_t roles,
                                     const char *const *areas, size_t n_areas)
{
    memset(a, 0, sizeof *a);
    strcpy(a->id, id);
    strcpy(a->jurisdiction, "england-wales");
    a->roles = roles;
    for (size_t i = 0; i < n_areas && areas[i]; i++)
        strcpy(a->areas[a->n_areas++], areas[i]);
    return a;
}

static void fake_directory(struct cf_directory *dir, struct cf_policy *p)
{
    const size_t n = sizeof fake_agencies / sizeof fake_agencies[0];
    memset(dir, 0, sizeof *dir);
    dir->policy = p;
    dir->agencies = calloc(n, sizeof *dir->agencies);
    assert_non_null(dir->agencies);
    for (size_t i = 0; i < n; i++)
        fake_agency(&dir->agencies[i], fake_agencies[i].id, fake_agencies[i].roles,
                    fake_agencies[i].areas, 3);
    dir->n_agencies = n;
}

static void test_recipients(void **state)
{
    (void)state;
    struct cf_policy *p = parse_ok(base_policy);
    struct cf_directory dir;
    fake_directory(&dir, p);
    cf_id out[CF_MAX_RECIPIENTS];
    size_t n = 99;
    struct cf_error err = {0};
    struct cf_route_ctx ctx = {.type = CF_TYPE_REFERRAL, .la_code = "E09000033"};
    int rc = cf_policy_recipients(p, &dir, &ctx, out, &n, &err);
    if (rc != 0)
        fail_msg("%s", err.text);
    static const char *const want[] = {"escrow-audit", "guardian-ictg", "la-e09000033-csc",
                                       "la-e09000033-duty"};
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(out[i], want[i]);

    /* An agency picked by two selectors is listed once. */
    dir.agencies[4].roles |= BIT(CF_ROLE_CHILDREN_SERVICES);
    assert_int_equal(cf_policy_recipients(p, &dir, &ctx, out, &n, &err), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(out[i], want[i]);

    /* Nobody holding the guardian role serves E09000001. */
    ctx.la_code = "E09000001";
    assert_int_equal(cf_policy_recipients(p, &dir, &ctx, out, &n, &err), CF_ENOROUTE);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.text, "guardian"));
    assert_non_null(strstr(err.text, "E09000001"));

    /* Scotland has agencies in no area: children_services is the first to fail. */
    ctx.la_code = "S12000036";
    assert_int_equal(cf_policy_recipients(p, &dir, &ctx, out, &n, &err), CF_ENOROUTE);
    assert_non_null(strstr(err.text, "children_services"));

    ctx.la_code = "K12345678";
    assert_int_equal(cf_policy_recipients(p, &dir, &ctx, out, &n, &err), CF_EJURISDICTION);
    assert_non_null(strstr(err.text, "K12345678"));

    ctx.la_code = "E09000033";
    ctx.type = CF_TYPE_ACKNOWLEDGEMENT;
    assert_int_equal(cf_policy_recipients(p, &dir, &ctx, out, &n, &err), CF_ENOROUTE);
    assert_non_null(strstr(err.text, "message.acknowledgement"));

    free(dir.agencies);
    cf_policy_destroy(&p);
}

/* Escrow is optional: without one the selector adds nobody. */
static void test_recipients_without_escrow(void **state)
{
    (void)state;
    char *text = edit(base_policy, "escrow = escrow-audit", "escrow =");
    struct cf_policy *p = parse_ok(text);
    struct cf_directory dir;
    fake_directory(&dir, p);
    cf_id out[CF_MAX_RECIPIENTS];
    size_t n = 0;
    struct cf_error err = {0};
    struct cf_route_ctx ctx = {.type = CF_TYPE_REFERRAL, .la_code = "E09000033"};
    assert_int_equal(cf_policy_recipients(p, &dir, &ctx, out, &n, &err), 0);
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "guardian-ictg");
    free(dir.agencies);
    cf_policy_destroy(&p);
    free(text);
}

static void test_too_many_recipients(void **state)
{
    (void)state;
    struct cf_policy *p = parse_ok(base_policy);
    const size_t n_csc = CF_MAX_RECIPIENTS;
    struct cf_directory dir = {.policy = p};
    dir.agencies = calloc(n_csc + 3, sizeof *dir.agencies);
    assert_non_null(dir.agencies);
    const char *area[] = {"E09000033"};
    /* Ids sorted: csc-000.. before escrow-audit before guardian before la-. */
    for (size_t i = 0; i < n_csc; i++) {
        char id[16];
        snprintf(id, sizeof id, "csc-%03zu", i);
        fake_agency(&dir.agencies[i], id, BIT(CF_ROLE_CHILDREN_SERVICES), area, 1);
    }
    fake_agency(&dir.agencies[n_csc], "escrow-audit", BIT(CF_ROLE_AUDITOR), area, 0);
    fake_agency(&dir.agencies[n_csc + 1], "guardian-ictg", BIT(CF_ROLE_GUARDIAN), area, 1);
    fake_agency(&dir.agencies[n_csc + 2], "la-duty", BIT(CF_ROLE_DUTY_TEAM), area, 1);
    dir.n_agencies = n_csc + 3;
    cf_id out[CF_MAX_RECIPIENTS];
    size_t n = 0;
    struct cf_error err = {0};
    struct cf_route_ctx ctx = {.type = CF_TYPE_REFERRAL, .la_code = "E09000033"};
    assert_int_equal(cf_policy_recipients(p, &dir, &ctx, out, &n, &err), CF_ETOOBIG);
    assert_int_equal(n, 0);
    free(dir.agencies);
    cf_policy_destroy(&p);
}

static void test_may_send(void **state)
{
    (void)state;
    struct cf_policy *p = parse_ok(base_policy);
    assert_true(cf_policy_may_send(p, BIT(CF_ROLE_FIRST_RESPONDER) | BIT(CF_ROLE_POLICE),
                                   CF_TYPE_REFERRAL));
    assert_false(cf_policy_may_send(p, BIT(CF_ROLE_CHILDREN_SERVICES), CF_TYPE_REFERRAL));
    assert_false(cf_policy_may_send(p, 0, CF_TYPE_REFERRAL));
    assert_false(cf_policy_may_send(p, BIT(CF_ROLE_FIRST_RESPONDER), CF_TYPE_ACKNOWLEDGEMENT));
    assert_false(cf_policy_may_send(p, BIT(CF_ROLE_FIRST_RESPONDER), CF_TYPE_NONE));
    assert_false(cf_policy_may_send(p, BIT(CF_ROLE_FIRST_RESPONDER), CF_TYPE_COUNT));
    cf_policy_destroy(&p);
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < CF_ROLE_COUNT; i++)
        assert_int_equal(cf_policy_role_parse(cf_policy_role_name(i)), i);
    assert_int_equal(cf_policy_role_parse("guardian"), CF_ROLE_GUARDIAN);
    assert_int_equal(cf_policy_role_parse("Guardian"), CF_EVALUE);
    assert_null(cf_policy_role_name(CF_ROLE_COUNT));
    assert_null(cf_policy_role_name(-1));
    assert_string_equal(cf_policy_deadline_name(CF_DEADLINE_RG_DETERMINATION), "rg_determination");
    assert_null(cf_policy_deadline_name(CF_DEADLINE_COUNT));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_policy_parses),
        cmocka_unit_test(test_deploy_policy),
        cmocka_unit_test(test_bad_policies),
        cmocka_unit_test(test_recipients),
        cmocka_unit_test(test_recipients_without_escrow),
        cmocka_unit_test(test_too_many_recipients),
        cmocka_unit_test(test_may_send),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
