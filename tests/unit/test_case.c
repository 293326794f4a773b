/* Case tests: the state machine of DESIGN.md section 5, run over headers built
 * by hand as the agents build them, checked and applied as the broker does
 * (check 8, then apply), against the shipped deploy/policy.ini and bank-holiday
 * calendars and a directory of agencies in the three nations.
 *
 * The happy path of each nation; every refusal cf_case_check makes, each with
 * its exact code and the state or field its sentence must name; rejected
 * proposals; transfers between nations; and deadlines, whose due instants are
 * worked out here by hand from the calendars a person would read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "childfirst/calendar.h"
#include "childfirst/case.h"
#include "childfirst/directory.h"
#include "childfirst/file.h"
#include "childfirst/policy.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define BIT(role) (1u << (role))
#define S(state) (1u << (state))
#define MS_PER_MINUTE UINT64_C(60000)
#define MS_PER_HOUR UINT64_C(3600000)
#define MS_PER_DAY UINT64_C(86400000)

/* A UTC instant. */
static uint64_t utc(int y, unsigned mo, unsigned d, unsigned h, unsigned mi)
{
    return (uint64_t)cf_calendar_days_from_civil(y, mo, d) * MS_PER_DAY + h * MS_PER_HOUR +
           mi * MS_PER_MINUTE;
}

/* ---- The directory: three nations, each with a full set of agencies ------ */

#define FR BIT(CF_ROLE_FIRST_RESPONDER)
#define CSC BIT(CF_ROLE_CHILDREN_SERVICES)
#define POLICE BIT(CF_ROLE_POLICE)
#define HEALTH BIT(CF_ROLE_HEALTH)
#define EDUCATION BIT(CF_ROLE_EDUCATION)
#define GUARDIAN BIT(CF_ROLE_GUARDIAN)
#define HOME_OFFICE BIT(CF_ROLE_HOME_OFFICE)
#define DUTY BIT(CF_ROLE_DUTY_TEAM)

static const struct {
    const char *id;
    uint32_t roles;
    const char *jurisdiction;
    const char *area; /* NULL: serves no area (a liaison office) */
} agency_rows[] = {
    /* England and Wales: Hammersmith and Fulham. */
    {"police-met", FR | POLICE, "england-wales", "E09000033"},
    {"la-e09000033-csc", CSC, "england-wales", "E09000033"},
    {"la-e09000033-duty", DUTY, "england-wales", "E09000033"},
    {"health-nhs-nwl", HEALTH, "england-wales", "E09000033"},
    {"guardian-ictg", GUARDIAN, "england-wales", "E09000033"},
    {"home-office-ew", HOME_OFFICE, "england-wales", NULL},
    {"school-e09000033", EDUCATION, "england-wales", "E09000033"},
    /* A second health agency from outside the area (Camden), invited to a
     * conference: a voting member who need not attend. */
    {"health-gosh", HEALTH, "england-wales", "E09000007"},
    /* Scotland: City of Edinburgh. */
    {"la-s12000036-csc", CSC, "scotland", "S12000036"},
    {"la-s12000036-duty", DUTY, "scotland", "S12000036"},
    {"police-scotland", FR | POLICE, "scotland", "S12000036"},
    {"health-lothian", HEALTH, "scotland", "S12000036"},
    {"guardian-scotland", GUARDIAN, "scotland", "S12000036"},
    {"home-office-sc", HOME_OFFICE, "scotland", NULL},
    /* Northern Ireland: Belfast, whose social care is an HSC Trust's. */
    {"trust-n09000003-csc", CSC, "northern-ireland", "N09000003"},
    {"trust-n09000003-duty", DUTY, "northern-ireland", "N09000003"},
    {"psni", FR | POLICE, "northern-ireland", "N09000003"},
    {"health-bhsct", HEALTH, "northern-ireland", "N09000003"},
    {"guardian-igs", GUARDIAN, "northern-ireland", "N09000003"},
    {"home-office-ni", HOME_OFFICE, "northern-ireland", NULL},
};

/* One nation's cast, and what its process calls the strategy discussion. */
struct nation {
    const char *name, *la;
    const char *csc, *duty, *police, *health, *guardian, *home_office;
    const char *other_la, *other_jurisdiction; /* a receiving LA elsewhere, for transfers */
    enum cf_type strategy, not_strategy;
};

static const struct nation england_wales = {
    .name = "england-wales",
    .la = "E09000033",
    .csc = "la-e09000033-csc",
    .duty = "la-e09000033-duty",
    .police = "police-met",
    .health = "health-nhs-nwl",
    .guardian = "guardian-ictg",
    .home_office = "home-office-ew",
    .other_la = "S12000036",
    .other_jurisdiction = "scotland",
    .strategy = CF_TYPE_STRATEGY_RECORD,
    .not_strategy = CF_TYPE_IRD_RECORD,
};
static const struct nation scotland = {
    .name = "scotland",
    .la = "S12000036",
    .csc = "la-s12000036-csc",
    .duty = "la-s12000036-duty",
    .police = "police-scotland",
    .health = "health-lothian",
    .guardian = "guardian-scotland",
    .home_office = "home-office-sc",
    .other_la = "E09000033",
    .other_jurisdiction = "england-wales",
    .strategy = CF_TYPE_IRD_RECORD,
    .not_strategy = CF_TYPE_STRATEGY_RECORD,
};
static const struct nation northern_ireland = {
    .name = "northern-ireland",
    .la = "N09000003",
    .csc = "trust-n09000003-csc",
    .duty = "trust-n09000003-duty",
    .police = "psni",
    .health = "health-bhsct",
    .guardian = "guardian-igs",
    .home_office = "home-office-ni",
    .other_la = "E09000033",
    .other_jurisdiction = "england-wales",
    .strategy = CF_TYPE_STRATEGY_RECORD,
    .not_strategy = CF_TYPE_IRD_RECORD,
};

#define CASE_ID "cf-abcdefghijklmnopqrstuvwxya"
static const char LEAD[] = "SW-0042";
static const char CHAIR[] = "CHAIR-0007";

static struct {
    struct cf_policy *policy;
    struct cf_directory dir;
    struct cf_calendar *calendars[CF_MAX_JURISDICTIONS];
    const struct cf_calendar *ccalendars[CF_MAX_JURISDICTIONS];
    struct cf_case_rules broker; /* with calendars: deadlines are kept */
    struct cf_case_rules agent;  /* without: the agents' mode */
} W;

static int id_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cf_agency *)a)->id, ((const struct cf_agency *)b)->id);
}

static struct cf_policy *load_policy(const char *text, size_t len)
{
    struct cf_policy *p = NULL;
    struct cf_error err = {0};
    int rc = cf_policy_parse("policy.ini", text, len, &p, &err);
    if (rc != 0)
        fail_msg("policy: %s (%s)", err.text, cf_error_name(rc));
    return p;
}

static int group_setup(void **state)
{
    (void)state;
    assert_true(cf_header_case_id_valid(CASE_ID, strlen(CASE_ID)));
    uint8_t *buf = NULL;
    size_t len = 0;
    struct cf_error err = {0};
    if (cf_file_read(CF_SOURCE_DIR "/deploy/policy.ini", CF_MAX_INI_FILE, &buf, &len, &err) != 0)
        fail_msg("%s", err.text);
    W.policy = load_policy((const char *)buf, len);
    free(buf);

    W.dir.policy = W.policy;
    W.dir.n_agencies = COUNT(agency_rows);
    W.dir.agencies = calloc(COUNT(agency_rows), sizeof *W.dir.agencies);
    assert_non_null(W.dir.agencies);
    for (size_t i = 0; i < COUNT(agency_rows); i++) {
        struct cf_agency *a = &W.dir.agencies[i];
        snprintf(a->id, sizeof a->id, "%s", agency_rows[i].id);
        a->roles = agency_rows[i].roles;
        snprintf(a->jurisdiction, sizeof a->jurisdiction, "%s", agency_rows[i].jurisdiction);
        if (agency_rows[i].area)
            snprintf(a->areas[a->n_areas++], sizeof a->areas[0], "%s", agency_rows[i].area);
    }
    /* The directory keeps its agencies sorted by id. */
    qsort(W.dir.agencies, W.dir.n_agencies, sizeof *W.dir.agencies, id_cmp);

    for (size_t i = 0; i < W.policy->n_jurisdictions; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/deploy/calendars/%s.ini", CF_SOURCE_DIR,
                 W.policy->jurisdictions[i].calendar);
        int rc = cf_calendar_load(path, &W.calendars[i], &err);
        if (rc != 0)
            fail_msg("%s: %s (%s)", path, err.text, cf_error_name(rc));
        W.ccalendars[i] = W.calendars[i];
    }
    W.broker = (struct cf_case_rules){&W.dir, W.ccalendars};
    W.agent = (struct cf_case_rules){&W.dir, NULL};
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < CF_MAX_JURISDICTIONS; i++)
        cf_calendar_destroy(&W.calendars[i]);
    free(W.dir.agencies);
    cf_policy_destroy(&W.policy);
    return 0;
}

/* ---- Headers, as an agent builds them ------------------------------------ */

static uint32_t messages_made;
static uint64_t leaves;

static struct cf_header *new_header(void)
{
    struct cf_header *h = calloc(1, sizeof *h);
    assert_non_null(h);
    return h;
}

static struct cf_case *new_case(void)
{
    struct cf_case *c = calloc(1, sizeof *c);
    assert_non_null(c);
    return c;
}

static void msg(struct cf_header *h, enum cf_type type, const char *sender, const struct nation *n)
{
    memset(h, 0, sizeof *h);
    h->version = CF_PROTOCOL_VERSION;
    uint32_t id = ++messages_made;
    memcpy(h->message_id, &id, sizeof id);
    h->message_id[15] = 0xcf;
    snprintf(h->case_id, sizeof h->case_id, "%s", CASE_ID);
    h->type = type;
    snprintf(h->sender, sizeof h->sender, "%s", sender);
    snprintf(h->jurisdiction, sizeof h->jurisdiction, "%s", n->name);
    snprintf(h->la_code, sizeof h->la_code, "%s", n->la);
    h->urgency = CF_URGENCY_URGENT;
}

static void add_member(struct cf_header *h, const char *id, enum cf_standing standing)
{
    assert_true(h->n_members < CF_MAX_MEMBERS);
    struct cf_member *m = &h->members[h->n_members++];
    snprintf(m->agency, sizeof m->agency, "%s", id);
    m->standing = standing;
}

static struct cf_member *member_in(struct cf_header *h, const char *id)
{
    for (size_t i = 0; i < h->n_members; i++)
        if (strcmp(h->members[i].agency, id) == 0)
            return &h->members[i];
    fail_msg("%s is not among the header's members", id);
    return NULL;
}

/* The pilot panel of DOMAIN.md: the LA, police and health vote; the guardian
 * must attend; the Home Office may attend, advisory. In England a school
 * attends too, advisory. */
static void panel(struct cf_header *h, const struct nation *n)
{
    add_member(h, n->csc, CF_STANDING_VOTING);
    add_member(h, n->police, CF_STANDING_VOTING);
    add_member(h, n->health, CF_STANDING_VOTING);
    add_member(h, n->guardian, CF_STANDING_REQUIRED);
    add_member(h, n->home_office, CF_STANDING_ADVISORY);
    if (n == &england_wales)
        add_member(h, "school-e09000033", CF_STANDING_ADVISORY);
    snprintf(h->chair_staff_ref, sizeof h->chair_staff_ref, "%s", CHAIR);
}

static void add_attendee(struct cf_header *h, const char *id)
{
    assert_true(h->n_attendees < CF_MAX_MEMBERS);
    snprintf(h->attendees[h->n_attendees++], sizeof h->attendees[0], "%s", id);
}

static void drop_attendee(struct cf_header *h, const char *id)
{
    for (size_t i = 0; i < h->n_attendees; i++)
        if (strcmp(h->attendees[i], id) == 0) {
            memmove(h->attendees[i], h->attendees[i + 1],
                    (h->n_attendees - i - 1) * sizeof h->attendees[0]);
            h->n_attendees--;
            return;
        }
    fail_msg("%s is not among the attendees", id);
}

static void vote(struct cf_header *h, const struct cf_case *c, const char *voter, bool approve,
                 const struct nation *n)
{
    msg(h, CF_TYPE_VOTE, voter, n);
    h->decision = c->proposal_decision;
    h->has_vote = true;
    memcpy(h->vote.proposal_id, c->proposal_id, sizeof h->vote.proposal_id);
    h->vote.approve = approve;
    memset(h->vote.signature, voter[0], sizeof h->vote.signature);
}

/* A header of `type` that case c (NULL: none yet) should accept from the
 * party that normally sends it, if the state allows it. */
static void valid(struct cf_header *h, enum cf_type type, const struct cf_case *c,
                  const struct nation *n)
{
    switch (type) {
    case CF_TYPE_REFERRAL:
    case CF_TYPE_RECONSIDERATION_REQUEST:
        msg(h, type, n->police, n); /* the referrer */
        break;
    case CF_TYPE_ACKNOWLEDGEMENT:
        msg(h, type, n->csc, n);
        snprintf(h->lead_staff_ref, sizeof h->lead_staff_ref, "%s", LEAD);
        break;
    case CF_TYPE_CONFERENCE_CONVENED:
        msg(h, type, n->csc, n);
        panel(h, n);
        break;
    case CF_TYPE_CONTRIBUTION:
        msg(h, type, n->health, n);
        break;
    case CF_TYPE_DETERMINATION_PROPOSED:
        msg(h, type, n->csc, n);
        h->decision = c && c->rg_at ? CF_DECISION_CG : CF_DECISION_RG;
        for (size_t i = 0; c && i < c->n_members; i++)
            add_attendee(h, c->members[i].agency);
        break;
    case CF_TYPE_VOTE:
        assert_non_null(c);
        vote(h, c, n->police, true, n);
        break;
    case CF_TYPE_TRANSFER:
        msg(h, type, n->csc, n);
        snprintf(h->la_code, sizeof h->la_code, "%s", n->other_la);
        snprintf(h->jurisdiction, sizeof h->jurisdiction, "%s", n->other_jurisdiction);
        break;
    default: /* strategy_record, ird_record, closure, determination */
        msg(h, type, n->csc, n);
        break;
    }
}

/* ---- Checking and applying ----------------------------------------------- */

enum { FX_CONVENED = 1, FX_TRANSFERRED = 2, FX_HOLD = 4, FX_QUORUM = 8, FX_REJECTED = 16 };

static void expect_fx(const struct cf_case_effects *fx, unsigned want)
{
    if (fx->convened != !!(want & FX_CONVENED) || fx->transferred != !!(want & FX_TRANSFERRED) ||
        fx->hold != !!(want & FX_HOLD) || fx->quorum_met != !!(want & FX_QUORUM) ||
        fx->proposal_rejected != !!(want & FX_REJECTED))
        fail_msg("effects convened=%d transferred=%d hold=%d quorum_met=%d proposal_rejected=%d; "
                 "wanted %d %d %d %d %d",
                 fx->convened, fx->transferred, fx->hold, fx->quorum_met, fx->proposal_rejected,
                 !!(want & FX_CONVENED), !!(want & FX_TRANSFERRED), !!(want & FX_HOLD),
                 !!(want & FX_QUORUM), !!(want & FX_REJECTED));
}

/* Check 8 then apply, as the broker does for an accepted message; the test
 * fails with the broker's sentence if the case refuses it. */
static void accept(struct cf_case *c, bool exists, const struct cf_header *h, uint64_t t,
                   const struct cf_case_rules *r, struct cf_case_effects *fx)
{
    struct cf_error err = {0};
    int rc = cf_case_check(exists ? c : NULL, h, t, r, &err);
    if (rc != 0)
        fail_msg("%s from %s refused in state %s: %s: %s", cf_header_type_name(h->type), h->sender,
                 exists ? cf_case_state_name(c->state) : "(none)", cf_error_name(rc), err.text);
    rc = cf_case_apply(c, h, ++leaves, t, r, fx, &err);
    if (rc != 0)
        fail_msg("%s did not apply: %s: %s", cf_header_type_name(h->type), cf_error_name(rc),
                 err.text);
}

static void determine(struct cf_case *c, uint64_t t, const struct cf_case_rules *r)
{
    struct cf_error err = {0};
    int rc = cf_case_apply_determination(c, ++leaves, t, r, &err);
    if (rc != 0)
        fail_msg("determination did not apply: %s: %s", cf_error_name(rc), err.text);
}

/* rc is `code`, and for a refusal the sentence holds each of the phrases in
 * `needles`, separated by '|' (NULL: none). */
static void expect_refusal(const char *what, int rc, const struct cf_error *err, int code,
                           const char *needles)
{
    if (rc != code)
        fail_msg("%s: wanted %s, got %s: %s", what, cf_error_name(code), cf_error_name(rc),
                 err->text);
    if (code != 0 && err->code != code)
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

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The policy routes h to exactly `want` (NULL-terminated, any order), and a
 * header naming that list passes check 9. */
static void expect_route(const struct cf_case *c, const struct cf_header *h,
                         const char *const *want)
{
    const char *sorted[CF_MAX_RECIPIENTS];
    size_t n_want = 0;
    for (; want[n_want]; n_want++)
        sorted[n_want] = want[n_want];
    qsort(sorted, n_want, sizeof sorted[0], str_cmp);
    struct cf_parties parties;
    struct cf_route_ctx ctx;
    cf_case_route_ctx(c, h, &parties, &ctx);
    cf_id got[CF_MAX_RECIPIENTS];
    size_t n = 0;
    struct cf_error err = {0};
    int rc = cf_policy_recipients(W.policy, &W.dir, &ctx, got, &n, &err);
    if (rc != 0)
        fail_msg("%s: no route: %s: %s", cf_header_type_name(h->type), cf_error_name(rc), err.text);
    bool same = n == n_want;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(got[i], sorted[i]) == 0;
    if (!same) {
        char g[1024] = "", w[1024] = "";
        for (size_t i = 0; i < n && strlen(g) + sizeof(cf_id) < sizeof g; i++)
            strcat(strcat(g, " "), got[i]);
        for (size_t i = 0; i < n_want && strlen(w) + sizeof(cf_id) < sizeof w; i++)
            strcat(strcat(w, " "), sorted[i]);
        fail_msg("a %s goes to [%s ], wanted [%s ]", cf_header_type_name(h->type), g, w);
    }
    rc = cf_policy_recipients_match(W.policy, &W.dir, &ctx, got, n, &err);
    if (rc != 0)
        fail_msg("%s: %s", cf_error_name(rc), err.text);
}

static const struct cf_case_deadline *deadline_of(const struct cf_case *c, enum cf_deadline kind)
{
    const struct cf_case_deadline *found = NULL;
    for (size_t i = 0; i < c->n_deadlines; i++)
        if (c->deadlines[i].kind == kind) {
            assert_null(found); /* one entry per kind */
            found = &c->deadlines[i];
        }
    return found;
}

static void expect_deadline(const struct cf_case *c, enum cf_deadline kind, uint64_t due,
                            uint64_t near)
{
    const struct cf_case_deadline *d = deadline_of(c, kind);
    if (!d)
        fail_msg("no %s deadline is open", cf_policy_deadline_name(kind));
    if (d->due != due || d->near != near)
        fail_msg("%s: due %llu near %llu; wanted due %llu near %llu (%+lld min, %+lld min)",
                 cf_policy_deadline_name(kind), (unsigned long long)d->due,
                 (unsigned long long)d->near, (unsigned long long)due, (unsigned long long)near,
                 ((long long)d->due - (long long)due) / 60000,
                 ((long long)d->near - (long long)near) / 60000);
}

static void expect_flags(const struct cf_case *c, enum cf_deadline kind, bool near_sent,
                         bool breach_sent)
{
    const struct cf_case_deadline *d = deadline_of(c, kind);
    assert_non_null(d);
    assert_int_equal(d->near_sent, near_sent);
    assert_int_equal(d->breach_sent, breach_sent);
}

/* The standard conference of nation n from a referral at t until the case is
 * in `upto` (CLOSED: closed once determined). Steps are an hour apart; returns
 * the time of the last. */
static uint64_t build(struct cf_case *c, const struct nation *n, enum cf_case_state upto,
                      uint64_t t, const struct cf_case_rules *r)
{
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const enum cf_type steps[] = {CF_TYPE_REFERRAL, CF_TYPE_ACKNOWLEDGEMENT, n->strategy,
                                  CF_TYPE_CONFERENCE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED};
    for (size_t i = 0; i < COUNT(steps) && !(i > 0 && c->state == upto); i++) {
        valid(h, steps[i], c, n);
        accept(c, i > 0, h, t += MS_PER_HOUR, r, &fx);
    }
    if (c->state != upto) {
        const char *voters[] = {n->police, n->health, n->csc};
        for (size_t i = 0; i < COUNT(voters); i++) {
            vote(h, c, voters[i], true, n);
            accept(c, true, h, t += MS_PER_HOUR, r, &fx);
        }
        assert_true(fx.quorum_met);
        determine(c, t, r);
    }
    if (upto == CF_CASE_RECONSIDERATION || upto == CF_CASE_CLOSED) {
        valid(h, upto == CF_CASE_CLOSED ? CF_TYPE_CLOSURE : CF_TYPE_RECONSIDERATION_REQUEST, c, n);
        accept(c, true, h, t += MS_PER_HOUR, r, &fx);
    }
    assert_int_equal(c->state, upto);
    free(h);
    return t;
}

static void test_state_names(void **state)
{
    (void)state;
    static const char *const want[] = {NULL,       "referred", "acknowledged", "strategy_held",
                                       "convened", "proposed", "determined",   "reconsideration",
                                       "closed"};
    for (int s = 0; s < CF_CASE_STATE_COUNT; s++) {
        if (want[s])
            assert_string_equal(cf_case_state_name((enum cf_case_state)s), want[s]);
        else
            assert_null(cf_case_state_name((enum cf_case_state)s));
    }
    assert_null(cf_case_state_name(CF_CASE_STATE_COUNT));
}

/* ---- The happy path ------------------------------------------------------ */

static void happy_path(const struct nation *n)
{
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const char *school = n == &england_wales ? "school-e09000033" : NULL;
    uint64_t t = utc(2027, 2, 1, 9, 0); /* a Monday */

    /* A first responder refers: the area's children's services own the case. */
    valid(h, CF_TYPE_REFERRAL, NULL, n);
    expect_route(NULL, h, (const char *[]){n->csc, n->duty, n->guardian, NULL});
    accept(c, false, h, t, &W.broker, &fx);
    expect_fx(&fx, 0);
    assert_int_equal(c->state, CF_CASE_REFERRED);
    assert_string_equal(c->case_id, CASE_ID);
    assert_string_equal(c->la_code, n->la);
    assert_string_equal(c->jurisdiction, n->name);
    assert_string_equal(c->referrer, n->police);
    assert_string_equal(c->owner, n->csc);
    assert_int_equal(c->n_guardians, 1);
    assert_string_equal(c->guardians[0], n->guardian);
    assert_int_equal(c->n_members, 0);
    assert_int_equal(c->urgency, CF_URGENCY_URGENT);
    assert_int_equal(c->first_at[CF_TYPE_REFERRAL], t);

    valid(h, CF_TYPE_ACKNOWLEDGEMENT, c, n);
    expect_route(c, h, (const char *[]){n->police, n->guardian, NULL});
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, 0);
    assert_int_equal(c->state, CF_CASE_ACKNOWLEDGED);
    assert_string_equal(c->lead_staff_ref, LEAD);

    valid(h, n->strategy, c, n);
    expect_route(c, h, (const char *[]){n->police, n->health, n->guardian, NULL});
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, 0);
    assert_int_equal(c->state, CF_CASE_STRATEGY_HELD);

    /* The conference: its notice goes to the Home Office too, the one
     * message a liaison receives besides notices and its NRM return. */
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, n);
    assert_string_not_equal(h->chair_staff_ref, c->lead_staff_ref);
    expect_route(
        c, h,
        (const char *[]){n->csc, n->police, n->health, n->guardian, n->home_office, school, NULL});
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, FX_CONVENED);
    assert_int_equal(c->state, CF_CASE_CONVENED);
    assert_int_equal(c->n_members, school ? 6 : 5);
    for (size_t i = 0; i < c->n_members; i++) {
        assert_string_equal(c->members[i].agency, h->members[i].agency);
        assert_int_equal(c->members[i].standing, h->members[i].standing);
    }
    assert_string_equal(c->chair_staff_ref, CHAIR);
    assert_string_equal(c->owner, n->csc);

    /* A contribution reaches the members but never the liaison. */
    valid(h, CF_TYPE_CONTRIBUTION, c, n);
    expect_route(c, h, (const char *[]){n->csc, n->police, n->health, n->guardian, school, NULL});
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, 0);
    assert_int_equal(c->state, CF_CASE_CONVENED);

    /* The RG proposal: everyone attended; the NRM return is the liaison's. */
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    assert_int_equal(h->decision, CF_DECISION_RG);
    expect_route(
        c, h, (const char *[]){n->csc, n->police, n->health, n->guardian, n->duty, school, NULL});
    {
        struct cf_parties parties;
        struct cf_route_ctx ctx;
        cf_case_route_ctx(c, h, &parties, &ctx);
        cf_id reader;
        struct cf_error err = {0};
        assert_int_equal(cf_policy_nrm_reader(W.policy, &W.dir, &ctx, reader, &err), 0);
        assert_string_equal(reader, n->home_office);
    }
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, FX_HOLD);
    assert_int_equal(c->state, CF_CASE_PROPOSED);
    assert_int_equal(c->before_proposal, CF_CASE_CONVENED);
    assert_memory_equal(c->proposal_id, h->message_id, CF_MESSAGE_ID_LEN);
    assert_int_equal(c->proposal_leaf, leaves);
    assert_int_equal(c->proposal_decision, CF_DECISION_RG);
    assert_int_equal(c->n_voters, 3); /* the voting members who attended, in attendance order */
    assert_string_equal(c->voters[0], n->csc);
    assert_string_equal(c->voters[1], n->police);
    assert_string_equal(c->voters[2], n->health);
    assert_int_equal(c->n_votes, 0);

    /* Each voter approves; the quorum is met exactly at the last. */
    const char *order[] = {n->police, n->health, n->csc};
    for (size_t i = 0; i < COUNT(order); i++) {
        vote(h, c, order[i], true, n);
        expect_route(c, h, (const char *[]){n->csc, NULL});
        accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
        expect_fx(&fx, i + 1 == COUNT(order) ? FX_QUORUM : 0);
        assert_int_equal(c->state, CF_CASE_PROPOSED);
        assert_int_equal(c->n_votes, i + 1);
        assert_string_equal(c->votes[i].voter, order[i]);
        assert_true(c->votes[i].approve);
        assert_int_equal(c->votes[i].leaf, leaves);
    }
    uint64_t rg_at = t;
    determine(c, rg_at, &W.broker);
    assert_int_equal(c->state, CF_CASE_DETERMINED);
    assert_int_equal(c->rg_at, rg_at);
    assert_int_equal(c->cg_at, 0);
    assert_int_equal(c->proposal_decision, CF_DECISION_NONE);
    assert_int_equal(c->proposal_leaf, 0);
    assert_int_equal(c->n_voters, 0);
    assert_int_equal(c->n_votes, 0);
    assert_int_equal(c->n_members, school ? 6 : 5);
    assert_int_equal(c->last_at[CF_TYPE_DETERMINATION], rg_at);

    /* The CG decision may follow at once (cg_min_days_after_rg = 0). */
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    assert_int_equal(h->decision, CF_DECISION_CG);
    accept(c, true, h, t, &W.broker, &fx);
    expect_fx(&fx, FX_HOLD);
    assert_int_equal(c->state, CF_CASE_PROPOSED);
    assert_int_equal(c->before_proposal, CF_CASE_DETERMINED);
    assert_int_equal(c->proposal_decision, CF_DECISION_CG);
    for (size_t i = 0; i < COUNT(order); i++) {
        vote(h, c, order[i], true, n);
        assert_int_equal(h->decision, CF_DECISION_CG);
        accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
        expect_fx(&fx, i + 1 == COUNT(order) ? FX_QUORUM : 0);
    }
    determine(c, t, &W.broker);
    assert_int_equal(c->state, CF_CASE_DETERMINED);
    assert_int_equal(c->rg_at, rg_at);
    assert_int_equal(c->cg_at, t);
    /* A second CG needs a reconsideration request first. */
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    h->decision = CF_DECISION_CG;
    struct cf_error err = {0};
    expect_refusal("a second CG", cf_case_check(c, h, t, &W.broker, &err), &err, CF_ESTATE,
                   "already has its CG determination");

    /* The owner closes it: the members, the referrer and the guardian hear. */
    valid(h, CF_TYPE_CLOSURE, c, n);
    expect_route(c, h, (const char *[]){n->csc, n->police, n->health, n->guardian, school, NULL});
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, 0);
    assert_int_equal(c->state, CF_CASE_CLOSED);
    assert_int_equal(c->n_deadlines, 0);
    assert_null(cf_case_next_deadline(c));
    free(h);
    free(c);
}

static void test_happy_path_england_wales(void **state)
{
    (void)state;
    happy_path(&england_wales);
}

static void test_happy_path_scotland(void **state)
{
    (void)state;
    happy_path(&scotland);
}

static void test_happy_path_northern_ireland(void **state)
{
    (void)state;
    happy_path(&northern_ireland);
}

/* ---- Which type may arrive in which state -------------------------------- */

#define OPEN                                                                                       \
    (S(CF_CASE_REFERRED) | S(CF_CASE_ACKNOWLEDGED) | S(CF_CASE_STRATEGY_HELD) |                    \
     S(CF_CASE_CONVENED) | S(CF_CASE_PROPOSED) | S(CF_CASE_DETERMINED) |                           \
     S(CF_CASE_RECONSIDERATION))

/* Written from DESIGN.md section 5's table (and case.c's comment on what may
 * repeat), not copied from case.c's own table. */
static const uint32_t allowed_in[CF_TYPE_COUNT] = {
    [CF_TYPE_ACKNOWLEDGEMENT] = S(CF_CASE_REFERRED),
    [CF_TYPE_STRATEGY_RECORD] = S(CF_CASE_ACKNOWLEDGED) | S(CF_CASE_STRATEGY_HELD),
    [CF_TYPE_IRD_RECORD] = S(CF_CASE_ACKNOWLEDGED) | S(CF_CASE_STRATEGY_HELD),
    [CF_TYPE_CONFERENCE_CONVENED] = S(CF_CASE_STRATEGY_HELD) | S(CF_CASE_CONVENED) |
                                    S(CF_CASE_DETERMINED) | S(CF_CASE_RECONSIDERATION),
    [CF_TYPE_CONTRIBUTION] = S(CF_CASE_CONVENED) | S(CF_CASE_PROPOSED) | S(CF_CASE_DETERMINED) |
                             S(CF_CASE_RECONSIDERATION),
    [CF_TYPE_DETERMINATION_PROPOSED] =
        S(CF_CASE_CONVENED) | S(CF_CASE_DETERMINED) | S(CF_CASE_RECONSIDERATION),
    [CF_TYPE_VOTE] = S(CF_CASE_PROPOSED),
    [CF_TYPE_RECONSIDERATION_REQUEST] = S(CF_CASE_DETERMINED),
    [CF_TYPE_TRANSFER] = OPEN & ~S(CF_CASE_PROPOSED),
    [CF_TYPE_CLOSURE] = OPEN,
};

/* Every type in every state: allowed ones pass, the rest are CF_ESTATE and
 * say which state the case is in. */
static void state_matrix(const struct nation *n)
{
    static const enum cf_case_state states[] = {
        CF_CASE_REFERRED, CF_CASE_ACKNOWLEDGED, CF_CASE_STRATEGY_HELD,   CF_CASE_CONVENED,
        CF_CASE_PROPOSED, CF_CASE_DETERMINED,   CF_CASE_RECONSIDERATION, CF_CASE_CLOSED};
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    for (size_t i = 0; i < COUNT(states); i++) {
        memset(c, 0, sizeof *c);
        uint64_t now = build(c, n, states[i], utc(2027, 2, 1, 9, 0), &W.broker) + MS_PER_HOUR;
        const char *sname = cf_case_state_name(states[i]);
        for (int type = CF_TYPE_REFERRAL; type < CF_TYPE_COUNT; type++) {
            valid(h, (enum cf_type)type, c, n);
            struct cf_error err = {0};
            int rc = cf_case_check(c, h, now, &W.broker, &err);
            char what[128];
            snprintf(what, sizeof what, "%s: a %s when %s", n->name,
                     cf_header_type_name((enum cf_type)type), sname);
            if (type == CF_TYPE_REFERRAL) {
                expect_refusal(what, rc, &err, CF_ECASEEXISTS, CASE_ID "|already exists");
            } else if (type == CF_TYPE_DETERMINATION) {
                /* Only the broker makes one: the policy has no route for it. */
                expect_refusal(what, rc, &err, CF_ENOROUTE, "[message.determination]");
            } else if (type == (int)n->not_strategy) {
                char needles[128];
                snprintf(needles, sizeof needles, "a %s belongs to|not to %s",
                         cf_header_type_name((enum cf_type)type), n->name);
                expect_refusal(what, rc, &err, CF_ETYPE, needles);
            } else if (allowed_in[type] & S(states[i])) {
                expect_refusal(what, rc, &err, 0, NULL);
            } else {
                char needles[128];
                snprintf(needles, sizeof needles, CASE_ID " is %s;|a %s is allowed only when",
                         sname, cf_header_type_name((enum cf_type)type));
                expect_refusal(what, rc, &err, CF_ESTATE, needles);
            }
        }
    }
    free(h);
    free(c);
}

static void test_state_matrix_england_wales(void **state)
{
    (void)state;
    state_matrix(&england_wales);
}

static void test_state_matrix_scotland(void **state)
{
    (void)state;
    state_matrix(&scotland);
}

static void test_state_matrix_northern_ireland(void **state)
{
    (void)state;
    state_matrix(&northern_ireland);
}

/* ---- Every refusal, with its code and what its sentence names ------------ */

static void t_no_lead(struct cf_header *h)
{
    h->lead_staff_ref[0] = 0;
}

static void t_no_members(struct cf_header *h)
{
    h->n_members = 0;
}

static void t_no_chair(struct cf_header *h)
{
    h->chair_staff_ref[0] = 0;
}

static void t_member_twice(struct cf_header *h)
{
    add_member(h, "health-nhs-nwl", CF_STANDING_ADVISORY);
}

static void t_no_owner(struct cf_header *h)
{
    assert_string_equal(h->members[0].agency, "la-e09000033-csc");
    memmove(&h->members[0], &h->members[1], (h->n_members - 1) * sizeof h->members[0]);
    h->n_members--;
}

static void t_guardian_votes(struct cf_header *h)
{
    member_in(h, "guardian-ictg")->standing = CF_STANDING_VOTING;
}

static void t_school_votes(struct cf_header *h)
{
    member_in(h, "school-e09000033")->standing = CF_STANDING_VOTING;
}

static void t_home_office_votes(struct cf_header *h)
{
    member_in(h, "home-office-ew")->standing = CF_STANDING_VOTING;
}

static void t_home_office_required(struct cf_header *h)
{
    member_in(h, "home-office-ew")->standing = CF_STANDING_REQUIRED;
}

static void t_unknown_member(struct cf_header *h)
{
    add_member(h, "no-such-agency", CF_STANDING_ADVISORY);
}

static void t_chair_is_lead(struct cf_header *h)
{
    snprintf(h->chair_staff_ref, sizeof h->chair_staff_ref, "%s", LEAD);
}

static void t_no_decision(struct cf_header *h)
{
    h->decision = CF_DECISION_NONE;
}

static void t_no_attendees(struct cf_header *h)
{
    h->n_attendees = 0;
}

static void t_stranger_attends(struct cf_header *h)
{
    add_attendee(h, "guardian-scotland");
}

static void t_attends_twice(struct cf_header *h)
{
    add_attendee(h, "police-met");
}

static void t_owner_absent(struct cf_header *h)
{
    drop_attendee(h, "la-e09000033-csc");
}

static void t_police_absent(struct cf_header *h)
{
    drop_attendee(h, "police-met");
}

static void t_health_absent(struct cf_header *h)
{
    drop_attendee(h, "health-nhs-nwl");
}

static void t_guardian_absent(struct cf_header *h)
{
    drop_attendee(h, "guardian-ictg");
}

static void t_liaison_and_school_absent(struct cf_header *h)
{
    drop_attendee(h, "home-office-ew");
    drop_attendee(h, "school-e09000033");
}

static void t_rg(struct cf_header *h)
{
    h->decision = CF_DECISION_RG;
}

static void t_cg(struct cf_header *h)
{
    h->decision = CF_DECISION_CG;
}

static void t_other_proposal(struct cf_header *h)
{
    h->vote.proposal_id[0] ^= 0xff;
}

static void t_no_vote_fields(struct cf_header *h)
{
    h->has_vote = false;
}

static void t_reject(struct cf_header *h)
{
    h->vote.approve = false;
}

static void t_other_la(struct cf_header *h)
{
    snprintf(h->la_code, sizeof h->la_code, "E09000001");
}

static void t_same_la(struct cf_header *h)
{
    snprintf(h->la_code, sizeof h->la_code, "E09000033");
    snprintf(h->jurisdiction, sizeof h->jurisdiction, "england-wales");
}

struct refusal {
    const char *what;
    const struct nation *n;
    enum cf_case_state at; /* CF_CASE_NONE: no case exists */
    enum cf_type type;
    const char *sender; /* NULL: the usual sender of the type */
    void (*tweak)(struct cf_header *h);
    int code;
    const char *needles; /* phrases the sentence must hold, separated by '|' */
};

#define EW &england_wales

static const struct refusal refusals[] = {
    /* Which case. */
    {"a referral naming an existing case", EW, CF_CASE_REFERRED, CF_TYPE_REFERRAL, NULL, NULL,
     CF_ECASEEXISTS, CASE_ID "|already exists"},
    {"an acknowledgement of a case that does not exist", EW, CF_CASE_NONE, CF_TYPE_ACKNOWLEDGEMENT,
     NULL, NULL, CF_ESTATE, CASE_ID "|does not exist"},
    {"a contribution to a case that does not exist", EW, CF_CASE_NONE, CF_TYPE_CONTRIBUTION, NULL,
     NULL, CF_ESTATE, CASE_ID "|does not exist"},
    {"a closure of a case that does not exist", EW, CF_CASE_NONE, CF_TYPE_CLOSURE, NULL, NULL,
     CF_ESTATE, CASE_ID "|does not exist"},

    /* The state. */
    {"an acknowledgement twice", EW, CF_CASE_ACKNOWLEDGED, CF_TYPE_ACKNOWLEDGEMENT, NULL, NULL,
     CF_ESTATE, "is acknowledged;|acknowledgement|only when it is referred"},
    {"a strategy record before the acknowledgement", EW, CF_CASE_REFERRED, CF_TYPE_STRATEGY_RECORD,
     NULL, NULL, CF_ESTATE, "is referred;|strategy_record"},
    {"a conference before the strategy discussion", EW, CF_CASE_ACKNOWLEDGED,
     CF_TYPE_CONFERENCE_CONVENED, NULL, NULL, CF_ESTATE, "is acknowledged;|strategy_held"},
    {"a proposal before any conference", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_DETERMINATION_PROPOSED,
     NULL, NULL, CF_ESTATE, "is strategy_held;|convened"},
    {"a second proposal while one awaits votes", EW, CF_CASE_PROPOSED,
     CF_TYPE_DETERMINATION_PROPOSED, NULL, t_cg, CF_ESTATE, "is proposed;"},
    {"a vote before any proposal", EW, CF_CASE_CONVENED, CF_TYPE_VOTE, NULL, NULL, CF_ESTATE,
     "is convened;|a vote is allowed only when it is proposed"},
    {"a vote once determined", EW, CF_CASE_DETERMINED, CF_TYPE_VOTE, NULL, NULL, CF_ESTATE,
     "is determined;"},
    {"a reconsideration before any determination", EW, CF_CASE_CONVENED,
     CF_TYPE_RECONSIDERATION_REQUEST, NULL, NULL, CF_ESTATE,
     "is convened;|reconsideration_request|only when it is determined"},
    {"a reconsideration during reconsideration", EW, CF_CASE_RECONSIDERATION,
     CF_TYPE_RECONSIDERATION_REQUEST, NULL, NULL, CF_ESTATE, "is reconsideration;"},
    {"a transfer while a proposal awaits votes", EW, CF_CASE_PROPOSED, CF_TYPE_TRANSFER, NULL, NULL,
     CF_ESTATE, "is proposed;|transfer"},
    {"a closure once closed", EW, CF_CASE_CLOSED, CF_TYPE_CLOSURE, NULL, NULL, CF_ESTATE,
     "is closed;|closure"},

    /* The nation's own process. */
    {"a strategy_record in Scotland", &scotland, CF_CASE_ACKNOWLEDGED, CF_TYPE_STRATEGY_RECORD,
     NULL, NULL, CF_ETYPE, "strategy_record belongs to|not to scotland"},
    {"an ird_record in England", EW, CF_CASE_ACKNOWLEDGED, CF_TYPE_IRD_RECORD, NULL, NULL, CF_ETYPE,
     "ird_record belongs to scotland|not to england-wales"},
    {"an ird_record in Northern Ireland", &northern_ireland, CF_CASE_ACKNOWLEDGED,
     CF_TYPE_IRD_RECORD, NULL, NULL, CF_ETYPE, "not to northern-ireland"},

    /* The sender's part in the case: the sentence says who may send it. */
    {"an acknowledgement from another LA", EW, CF_CASE_REFERRED, CF_TYPE_ACKNOWLEDGEMENT,
     "la-s12000036-csc", NULL, CF_ENOTPARTY,
     "case:owner (la-e09000033-csc)|la-s12000036-csc is not one|" CASE_ID},
    {"a strategy record from the police", EW, CF_CASE_ACKNOWLEDGED, CF_TYPE_STRATEGY_RECORD,
     "police-met", NULL, CF_ENOTPARTY, "case:owner (la-e09000033-csc)|police-met is not one"},
    {"a conference convened by another LA", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED,
     "la-s12000036-csc", NULL, CF_ENOTPARTY,
     "case:owner (la-e09000033-csc)|la-s12000036-csc is not one"},
    {"a proposal from another LA", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED,
     "la-s12000036-csc", NULL, CF_ENOTPARTY,
     "case:owner (la-e09000033-csc)|la-s12000036-csc is not one"},
    {"a closure from another LA", EW, CF_CASE_CONVENED, CF_TYPE_CLOSURE, "la-s12000036-csc", NULL,
     CF_ENOTPARTY, "case:owner (la-e09000033-csc)|la-s12000036-csc is not one"},
    {"a transfer from another LA", EW, CF_CASE_ACKNOWLEDGED, CF_TYPE_TRANSFER, "la-s12000036-csc",
     NULL, CF_ENOTPARTY, "case:owner (la-e09000033-csc)|la-s12000036-csc is not one"},
    {"a contribution from a non-member", EW, CF_CASE_CONVENED, CF_TYPE_CONTRIBUTION,
     "guardian-scotland", NULL, CF_ENOTPARTY, "case:members (|guardian-scotland is not one"},
    {"a contribution from a health agency not invited", EW, CF_CASE_CONVENED, CF_TYPE_CONTRIBUTION,
     "health-gosh", NULL, CF_ENOTPARTY, "case:members|health-gosh is not one"},
    {"a vote from an advisory member", EW, CF_CASE_PROPOSED, CF_TYPE_VOTE, "school-e09000033", NULL,
     CF_ENOTPARTY,
     "case:voters (health-nhs-nwl la-e09000033-csc police-met)|school-e09000033 is not one"},
    {"a vote from the required guardian", EW, CF_CASE_PROPOSED, CF_TYPE_VOTE, "guardian-ictg", NULL,
     CF_ENOTPARTY, "case:voters|guardian-ictg is not one"},
    {"a reconsideration from a conference member", EW, CF_CASE_DETERMINED,
     CF_TYPE_RECONSIDERATION_REQUEST, "health-nhs-nwl", NULL, CF_ENOTPARTY,
     "case:referrer or case:guardians (guardian-ictg police-met)|health-nhs-nwl is not one"},
    {"a reconsideration from the owner", EW, CF_CASE_DETERMINED, CF_TYPE_RECONSIDERATION_REQUEST,
     "la-e09000033-csc", NULL, CF_ENOTPARTY, "la-e09000033-csc is not one"},

    /* The acknowledgement's own fields. */
    {"an acknowledgement without its lead", EW, CF_CASE_REFERRED, CF_TYPE_ACKNOWLEDGEMENT, NULL,
     t_no_lead, CF_EFIELD, "lead_staff_ref"},

    /* The conference's members and chair. */
    {"a conference without members", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_no_members, CF_EFIELD, "members:"},
    {"a conference without a chair", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_no_chair, CF_EFIELD, "chair_staff_ref"},
    {"a member listed twice", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_member_twice, CF_EFIELD, "members:|health-nhs-nwl is listed twice"},
    {"a conference without the owner", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_no_owner, CF_EFIELD, "members:|owner la-e09000033-csc"},
    {"a voting guardian", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_guardian_votes, CF_EFIELD, "members:|guardian-ictg cannot be a voting member"},
    {"a voting school", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_school_votes, CF_EFIELD, "school-e09000033 cannot be a voting member|england-wales"},
    {"a voting Home Office", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_home_office_votes, CF_EFIELD, "members:|home-office-ew"},
    {"a required Home Office", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_home_office_required, CF_EFIELD, "home-office-ew holds the liaison role|advisory"},
    {"a member not in the directory", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED, NULL,
     t_unknown_member, CF_EUNKNOWNAGENCY, "no-such-agency"},
    {"the lead social worker in the chair", EW, CF_CASE_STRATEGY_HELD, CF_TYPE_CONFERENCE_CONVENED,
     NULL, t_chair_is_lead, CF_ECHAIR, "chair_staff_ref SW-0042|england-wales"},

    /* The proposal's attendees and quorum. */
    {"a proposal without a decision", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL,
     t_no_decision, CF_EFIELD, "decision:"},
    {"a proposal without attendees", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL,
     t_no_attendees, CF_EFIELD, "attendees:"},
    {"an attendee who is not a member", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL,
     t_stranger_attends, CF_EFIELD, "attendees:|guardian-scotland is not a member"},
    {"an attendee listed twice", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL,
     t_attends_twice, CF_EFIELD, "attendees:|police-met is listed twice"},
    {"the LA absent", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL, t_owner_absent,
     CF_EINQUORATE, "no voting member with the role children_services|england-wales"},
    {"the police absent", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL,
     t_police_absent, CF_EINQUORATE, "no voting member with the role police"},
    {"health absent", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL, t_health_absent,
     CF_EINQUORATE, "no voting member with the role health"},
    {"the required guardian absent", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL,
     t_guardian_absent, CF_EINQUORATE, "no attendee holds the role guardian|requires"},
    {"the advisory members absent", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL,
     t_liaison_and_school_absent, 0, NULL},
    {"a second RG without reconsideration", EW, CF_CASE_DETERMINED, CF_TYPE_DETERMINATION_PROPOSED,
     NULL, t_rg, CF_ESTATE, "already has its RG determination"},
    {"a CG before any RG", EW, CF_CASE_CONVENED, CF_TYPE_DETERMINATION_PROPOSED, NULL, t_cg,
     CF_ESTATE, "no RG determination yet"},
    {"an RG again under reconsideration", EW, CF_CASE_RECONSIDERATION,
     CF_TYPE_DETERMINATION_PROPOSED, NULL, t_rg, 0, NULL},
    {"a CG under reconsideration", EW, CF_CASE_RECONSIDERATION, CF_TYPE_DETERMINATION_PROPOSED,
     NULL, t_cg, 0, NULL},

    /* The vote. */
    {"a vote on another proposal", EW, CF_CASE_PROPOSED, CF_TYPE_VOTE, NULL, t_other_proposal,
     CF_ESTATE, "another proposal"},
    {"a vote for another decision", EW, CF_CASE_PROPOSED, CF_TYPE_VOTE, NULL, t_cg, CF_EFIELD,
     "decision:|the proposal is for rg, the vote says cg"},
    {"a vote for no decision", EW, CF_CASE_PROPOSED, CF_TYPE_VOTE, NULL, t_no_decision, CF_EFIELD,
     "decision:|says nothing"},
    {"a vote without its vote fields", EW, CF_CASE_PROPOSED, CF_TYPE_VOTE, NULL, t_no_vote_fields,
     CF_EFIELD, "vote:"},
    {"a reject vote", EW, CF_CASE_PROPOSED, CF_TYPE_VOTE, NULL, t_reject, 0, NULL},

    /* The LA. */
    {"a contribution naming another LA", EW, CF_CASE_CONVENED, CF_TYPE_CONTRIBUTION, NULL,
     t_other_la, CF_EFIELD, "la_code:|is with E09000033, not E09000001"},
    {"an acknowledgement naming another LA", EW, CF_CASE_REFERRED, CF_TYPE_ACKNOWLEDGEMENT, NULL,
     t_other_la, CF_EFIELD, "la_code:"},
    {"a transfer to the LA that has the case", EW, CF_CASE_ACKNOWLEDGED, CF_TYPE_TRANSFER, NULL,
     t_same_la, CF_EFIELD, "la_code:|already with E09000033"},

    /* What is allowed, for contrast. */
    {"a contribution from an advisory member", EW, CF_CASE_CONVENED, CF_TYPE_CONTRIBUTION,
     "school-e09000033", NULL, 0, NULL},
    {"a reconsideration from the guardian", EW, CF_CASE_DETERMINED, CF_TYPE_RECONSIDERATION_REQUEST,
     "guardian-ictg", NULL, 0, NULL},
};

static void test_refusals(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    for (size_t i = 0; i < COUNT(refusals); i++) {
        const struct refusal *f = &refusals[i];
        memset(c, 0, sizeof *c);
        uint64_t now = utc(2027, 2, 1, 9, 0);
        if (f->at != CF_CASE_NONE)
            now = build(c, f->n, f->at, now, &W.broker) + MS_PER_HOUR;
        valid(h, f->type, f->at != CF_CASE_NONE ? c : NULL, f->n);
        if (f->sender)
            snprintf(h->sender, sizeof h->sender, "%s", f->sender);
        if (f->tweak)
            f->tweak(h);
        struct cf_error err = {0};
        int rc = cf_case_check(f->at != CF_CASE_NONE ? c : NULL, h, now, &W.broker, &err);
        expect_refusal(f->what, rc, &err, f->code, f->needles);
    }
    free(h);
    free(c);
}

/* A voter votes once, whichever way. */
static void test_vote_twice(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const struct nation *n = &england_wales;
    uint64_t t = build(c, n, CF_CASE_PROPOSED, utc(2027, 2, 1, 9, 0), &W.broker);
    vote(h, c, n->police, true, n);
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    for (int approve = 1; approve >= 0; approve--) {
        vote(h, c, n->police, approve, n);
        struct cf_error err = {0};
        expect_refusal("a second vote", cf_case_check(c, h, t, &W.broker, &err), &err, CF_ESTATE,
                       "police-met has already voted");
    }
    assert_int_equal(c->n_votes, 1);
    free(h);
    free(c);
}

/* A voting member who did not attend the meeting has no vote on its proposal;
 * those who did make the quorum without it. */
static void test_vote_from_absent_voter(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const struct nation *n = &england_wales;
    uint64_t t = build(c, n, CF_CASE_STRATEGY_HELD, utc(2027, 2, 1, 9, 0), &W.broker);
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, n);
    add_member(h, "health-gosh", CF_STANDING_VOTING);
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    drop_attendee(h, "health-gosh");
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    assert_int_equal(c->n_voters, 3);

    vote(h, c, "health-gosh", true, n);
    struct cf_error err = {0};
    expect_refusal("a vote from a voting member who did not attend",
                   cf_case_check(c, h, t, &W.broker, &err), &err, CF_ENOTPARTY,
                   "case:voters|health-gosh is not one");

    const char *order[] = {n->csc, n->health, n->police};
    for (size_t i = 0; i < COUNT(order); i++) {
        vote(h, c, order[i], true, n);
        accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
        expect_fx(&fx, i + 1 == COUNT(order) ? FX_QUORUM : 0);
    }
    free(h);
    free(c);
}

/* A voting role held only by an advisory member leaves the meeting
 * inquorate, however many attend. */
static void test_inquorate_advisory_only(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const struct nation *n = &england_wales;
    uint64_t t = build(c, n, CF_CASE_STRATEGY_HELD, utc(2027, 2, 1, 9, 0), &W.broker);
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, n);
    member_in(h, n->police)->standing = CF_STANDING_ADVISORY;
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    assert_int_equal(h->n_attendees, c->n_members);
    struct cf_error err = {0};
    expect_refusal("police present only as advisory",
                   cf_case_check(c, h, t + MS_PER_HOUR, &W.broker, &err), &err, CF_EINQUORATE,
                   "no voting member with the role police|reconvene");
    free(h);
    free(c);
}

/* cg_min_days_after_rg counts from the RG determination: edit England's
 * figure in the shipped policy to 3 days (a digit for a digit, so every line
 * keeps its number) and try the CG on either side of it. */
static void test_cg_min_days_after_rg(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct cf_error err = {0};
    assert_int_equal(
        cf_file_read(CF_SOURCE_DIR "/deploy/policy.ini", CF_MAX_INI_FILE, &buf, &len, &err), 0);
    char *at = strstr((char *)buf, "cg_min_days_after_rg = 0\n"); /* england-wales comes first */
    assert_non_null(at);
    at[23] = '3';
    struct cf_policy *p = load_policy((const char *)buf, len);
    free(buf);
    assert_int_equal(cf_policy_jurisdiction(p, "england-wales")->cg_min_days_after_rg, 3);
    assert_int_equal(cf_policy_jurisdiction(p, "scotland")->cg_min_days_after_rg, 0);
    struct cf_policy *shipped = W.dir.policy;
    W.dir.policy = p;

    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    build(c, &england_wales, CF_CASE_DETERMINED, utc(2027, 2, 1, 9, 0), &W.broker);
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, &england_wales);
    assert_int_equal(h->decision, CF_DECISION_CG);
    uint64_t earliest = c->rg_at + 3 * MS_PER_DAY;
    expect_refusal("a CG a moment too soon", cf_case_check(c, h, earliest - 1, &W.broker, &err),
                   &err, CF_ESTATE, "england-wales allows a CG decision 3 days after the RG one");
    expect_refusal("a CG on time", cf_case_check(c, h, earliest, &W.broker, &err), &err, 0, NULL);

    W.dir.policy = shipped;
    cf_policy_destroy(&p);
    free(h);
    free(c);
}

/* ---- A reject vote ends the proposal ------------------------------------- */

static void reject_from(enum cf_case_state before, enum cf_decision decision)
{
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const struct nation *n = &england_wales;
    uint64_t t = build(c, n, before, utc(2027, 2, 1, 9, 0), &W.broker);
    uint64_t rg_at = c->rg_at;
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    h->decision = decision;
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    uint8_t proposal[CF_MESSAGE_ID_LEN];
    memcpy(proposal, c->proposal_id, sizeof proposal);
    assert_int_equal(c->before_proposal, before);

    vote(h, c, n->police, true, n);
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, 0);
    vote(h, c, n->health, false, n);
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, FX_REJECTED);
    assert_int_equal(c->state, before);
    static const uint8_t zero[CF_MESSAGE_ID_LEN];
    assert_memory_equal(c->proposal_id, zero, CF_MESSAGE_ID_LEN);
    assert_int_equal(c->proposal_leaf, 0);
    assert_int_equal(c->proposal_decision, CF_DECISION_NONE);
    assert_int_equal(c->n_voters, 0);
    assert_int_equal(c->n_votes, 0);
    assert_int_equal(c->rg_at, rg_at);
    assert_int_equal(c->cg_at, 0);

    /* The remaining voter is too late: no proposal awaits votes. */
    vote(h, c, n->csc, true, n);
    memcpy(h->vote.proposal_id, proposal, sizeof proposal);
    struct cf_error err = {0};
    char is_state[48];
    snprintf(is_state, sizeof is_state, "is %s;", cf_case_state_name(before));
    expect_refusal("a vote on a rejected proposal", cf_case_check(c, h, t, &W.broker, &err), &err,
                   CF_ESTATE, is_state);

    /* The chair may propose again. */
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    h->decision = decision;
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    expect_fx(&fx, FX_HOLD);
    assert_int_equal(c->state, CF_CASE_PROPOSED);
    assert_int_equal(c->before_proposal, before);
    free(h);
    free(c);
}

static void test_reject_vote(void **state)
{
    (void)state;
    reject_from(CF_CASE_CONVENED, CF_DECISION_RG);
    reject_from(CF_CASE_DETERMINED, CF_DECISION_CG);
    reject_from(CF_CASE_RECONSIDERATION, CF_DECISION_RG);
}

/* A reconsideration may need the conference again: an RG proposal made at the
 * meeting convened after it is still the reconsideration's, even after an
 * inquorate first attempt; once the new RG determination is sealed, another
 * needs another reconsideration. */
static void test_reconsideration_reconvened(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    struct cf_error err = {0};
    const struct nation *n = &england_wales;
    uint64_t t = build(c, n, CF_CASE_RECONSIDERATION, utc(2027, 2, 1, 9, 0), &W.broker);
    uint64_t first_rg = c->rg_at;

    /* The first attempt is inquorate: the broker rules it so, and the owner
     * must reconvene. */
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    assert_int_equal(h->decision, CF_DECISION_CG);
    h->decision = CF_DECISION_RG;
    drop_attendee(h, n->guardian);
    expect_refusal("an inquorate reconsideration", cf_case_check(c, h, t, &W.broker, &err), &err,
                   CF_EINQUORATE, "guardian");
    assert_int_equal(cf_case_apply_inquorate(c, ++leaves, t += MS_PER_HOUR, &W.broker, &err), 0);
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, n);
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    assert_int_equal(c->state, CF_CASE_CONVENED);

    /* The reconvened meeting decides RG again. */
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    h->decision = CF_DECISION_RG;
    expect_refusal("an RG at the meeting convened for the reconsideration",
                   cf_case_check(c, h, t, &W.broker, &err), &err, 0, NULL);
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    const char *order[] = {n->csc, n->police, n->health};
    for (size_t i = 0; i < COUNT(order); i++) {
        vote(h, c, order[i], true, n);
        accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    }
    assert_true(fx.quorum_met);
    determine(c, t, &W.broker);
    assert_int_equal(c->state, CF_CASE_DETERMINED);
    assert_true(c->rg_at > first_rg);

    /* That reconsideration is answered: a further RG needs a new one, also
     * at a later meeting. */
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    h->decision = CF_DECISION_RG;
    expect_refusal("an RG after the reconsideration's RG",
                   cf_case_check(c, h, t + MS_PER_HOUR, &W.broker, &err), &err, CF_ESTATE,
                   "already has its RG determination");
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, n);
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    h->decision = CF_DECISION_RG;
    expect_refusal("an RG at a later meeting without a reconsideration",
                   cf_case_check(c, h, t + MS_PER_HOUR, &W.broker, &err), &err, CF_ESTATE,
                   "already has its RG determination");
    free(h);
    free(c);
}

/* ---- Transfers between nations ------------------------------------------- */

static void transfer(struct cf_case *c, struct cf_header *h, uint64_t t, const struct nation *from)
{
    struct cf_case_effects fx;
    valid(h, CF_TYPE_TRANSFER, c, from);
    expect_route(c, h, (const char *[]){"la-s12000036-csc", "la-s12000036-duty", NULL});
    accept(c, true, h, t, &W.broker, &fx);
    expect_fx(&fx, FX_TRANSFERRED);
    assert_string_equal(c->owner, "la-s12000036-csc");
    assert_string_equal(c->la_code, "S12000036");
    assert_string_equal(c->jurisdiction, "scotland");
    assert_string_equal(c->lead_staff_ref, "");
    assert_int_equal(c->transfer_at, t);
    assert_string_equal(c->referrer, from->police);
}

/* A case whose strategy discussion was held in England moves to Edinburgh:
 * Scotland's conference rule (28 calendar days) replaces England's (15
 * working days from the strategy record), counted from the transfer, and
 * England's RG deadline goes, since Scotland sets none. */
static void test_transfer_strategy_held_to_scotland(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const struct nation *n = &england_wales;
    uint64_t t_ref = utc(2027, 3, 1, 9, 0); /* Monday 1 March, GMT */
    valid(h, CF_TYPE_REFERRAL, NULL, n);
    accept(c, false, h, t_ref, &W.broker, &fx);
    valid(h, CF_TYPE_ACKNOWLEDGEMENT, c, n);
    accept(c, true, h, utc(2027, 3, 1, 13, 0), &W.broker, &fx);
    uint64_t t_strategy = utc(2027, 3, 2, 10, 0);
    valid(h, CF_TYPE_STRATEGY_RECORD, c, n);
    accept(c, true, h, t_strategy, &W.broker, &fx);

    /* England: 15 working days after Tue 2 March is Tue 23 March (no holiday
     * between), due at its end; RG 45 days after 1 March is Thu 15 April,
     * due at its end, 00:00 BST on the 16th. */
    uint64_t conf_due = utc(2027, 3, 24, 0, 0);
    uint64_t rg_due = utc(2027, 4, 15, 23, 0);
    assert_int_equal(c->n_deadlines, 2);
    expect_deadline(c, CF_DEADLINE_CONFERENCE, conf_due, utc(2027, 3, 18, 14, 30));
    expect_deadline(c, CF_DEADLINE_RG_DETERMINATION, rg_due, t_ref + (rg_due - t_ref) / 4 * 3);
    cf_case_deadline_fired(c, CF_DEADLINE_CONFERENCE, false, ++leaves);
    expect_flags(c, CF_DEADLINE_CONFERENCE, true, false);

    uint64_t t_transfer = utc(2027, 3, 10, 14, 0); /* Wednesday 10 March */
    transfer(c, h, t_transfer, n);
    assert_int_equal(c->state, CF_CASE_STRATEGY_HELD);
    /* Scotland: 28 calendar days after Wed 10 March is Wed 7 April, due at
     * 00:00 BST on the 8th; 75% of the 28 days 9 hours falls 21 days 6 hours
     * 45 minutes after the transfer. The deadline is a new one: its near
     * notice has not been sent. Scotland's IRD deadline was met by the
     * strategy record, and it sets no RG deadline. */
    uint64_t scot_due = utc(2027, 4, 7, 23, 0);
    assert_int_equal(c->n_deadlines, 1);
    expect_deadline(c, CF_DEADLINE_CONFERENCE, scot_due, utc(2027, 3, 31, 20, 45));
    expect_flags(c, CF_DEADLINE_CONFERENCE, false, false);
    assert_null(deadline_of(c, CF_DEADLINE_RG_DETERMINATION));
    {
        const struct cf_jurisdiction *j = cf_policy_jurisdiction(W.policy, "scotland");
        uint64_t due = 0;
        assert_int_equal(cf_calendar_deadline(W.calendars[j - W.policy->jurisdictions], t_transfer,
                                              &j->deadlines[CF_DEADLINE_CONFERENCE], &due),
                         0);
        assert_int_equal(due, scot_due);
    }

    /* Scotland's rules and parties from now on. */
    struct cf_error err = {0};
    valid(h, CF_TYPE_CLOSURE, c, n);
    snprintf(h->la_code, sizeof h->la_code, "S12000036");
    expect_refusal("a closure from the old owner",
                   cf_case_check(c, h, t_transfer + MS_PER_HOUR, &W.broker, &err), &err,
                   CF_ENOTPARTY, "case:owner (la-s12000036-csc)|la-e09000033-csc is not one");
    valid(h, CF_TYPE_CLOSURE, c, &scotland);
    snprintf(h->la_code, sizeof h->la_code, "E09000033");
    expect_refusal("a message naming the old LA",
                   cf_case_check(c, h, t_transfer + MS_PER_HOUR, &W.broker, &err), &err, CF_EFIELD,
                   "la_code:|is with S12000036, not E09000033");
    valid(h, CF_TYPE_STRATEGY_RECORD, c, &scotland);
    expect_refusal("a strategy record in Scotland",
                   cf_case_check(c, h, t_transfer + MS_PER_HOUR, &W.broker, &err), &err, CF_ETYPE,
                   "not to scotland");

    /* The new owner convenes a Scottish panel: the conference deadline is met. */
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, &scotland);
    accept(c, true, h, utc(2027, 4, 1, 10, 0), &W.broker, &fx);
    expect_fx(&fx, FX_CONVENED);
    assert_int_equal(c->n_deadlines, 0);
    assert_null(cf_case_next_deadline(c));
    free(h);
    free(c);
}

/* A case transferred before its acknowledgement: England's acknowledgement
 * and RG deadlines go, and Scotland's IRD deadline (the next working day)
 * counts from the transfer on Scotland's calendar, where Easter Monday is a
 * working day. */
static void test_transfer_referred_to_scotland(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const struct nation *n = &england_wales;
    uint64_t t_ref = utc(2027, 3, 25, 9, 0); /* Thursday before Good Friday */
    valid(h, CF_TYPE_REFERRAL, NULL, n);
    accept(c, false, h, t_ref, &W.broker, &fx);
    /* England: Good Friday and Easter Monday are holidays, so the working day
     * after Thu 25 March is Tue 30 March, ending 00:00 BST on the 31st. */
    assert_int_equal(c->n_deadlines, 2);
    uint64_t ack_due = utc(2027, 3, 30, 23, 0);
    expect_deadline(c, CF_DEADLINE_ACKNOWLEDGEMENT, ack_due, t_ref + (ack_due - t_ref) / 4 * 3);
    expect_deadline(c, CF_DEADLINE_RG_DETERMINATION, utc(2027, 5, 9, 23, 0),
                    t_ref + (utc(2027, 5, 9, 23, 0) - t_ref) / 4 * 3);

    uint64_t t_transfer = utc(2027, 3, 25, 15, 0);
    transfer(c, h, t_transfer, n);
    assert_int_equal(c->state, CF_CASE_REFERRED);
    assert_int_equal(c->n_deadlines, 1);
    /* 78 of the 104 hours to 23:00 UTC on Mon 29 March. */
    expect_deadline(c, CF_DEADLINE_STRATEGY, utc(2027, 3, 29, 23, 0), utc(2027, 3, 28, 21, 0));

    /* The new owner acknowledges, names its own lead, and holds the IRD. */
    struct cf_error err = {0};
    valid(h, CF_TYPE_ACKNOWLEDGEMENT, c, n);
    snprintf(h->la_code, sizeof h->la_code, "S12000036");
    expect_refusal("an acknowledgement from the old owner",
                   cf_case_check(c, h, t_transfer, &W.broker, &err), &err, CF_ENOTPARTY,
                   "la-e09000033-csc is not one");
    valid(h, CF_TYPE_ACKNOWLEDGEMENT, c, &scotland);
    accept(c, true, h, utc(2027, 3, 26, 10, 0), &W.broker, &fx);
    assert_string_equal(c->lead_staff_ref, LEAD);
    valid(h, CF_TYPE_IRD_RECORD, c, &scotland);
    accept(c, true, h, utc(2027, 3, 29, 10, 0), &W.broker, &fx);
    assert_int_equal(c->state, CF_CASE_STRATEGY_HELD);
    assert_null(deadline_of(c, CF_DEADLINE_STRATEGY));
    /* 28 calendar days from the IRD (Mon 29 March): Mon 26 April, BST. */
    expect_deadline(c, CF_DEADLINE_CONFERENCE, utc(2027, 4, 26, 23, 0),
                    utc(2027, 3, 29, 10, 0) +
                        (utc(2027, 4, 26, 23, 0) - utc(2027, 3, 29, 10, 0)) / 4 * 3);
    free(h);
    free(c);
}

/* ---- Deadlines ----------------------------------------------------------- */

/* Each nation's deadlines right after a referral at 15:00 UTC on Thursday 31
 * December 2026, on its own calendar. */
static void test_referral_deadlines_by_nation(void **state)
{
    (void)state;
    const uint64_t t = utc(2026, 12, 31, 15, 0);
    static const struct {
        const struct nation *n;
        enum cf_deadline kind;
        int y;
        unsigned mo, d;
    } want[] = {
        /* Fri 1 Jan is a holiday: the next working day is Mon 4 Jan. */
        {&england_wales, CF_DEADLINE_ACKNOWLEDGEMENT, 2027, 1, 5},
        /* 31 Dec + 45 days = Sun 14 Feb. */
        {&england_wales, CF_DEADLINE_RG_DETERMINATION, 2027, 2, 15},
        /* Scotland also keeps 2 January, moved to Mon 4 Jan: Tue 5 Jan. */
        {&scotland, CF_DEADLINE_STRATEGY, 2027, 1, 6},
        {&northern_ireland, CF_DEADLINE_RG_DETERMINATION, 2027, 2, 15},
    };
    static const size_t n_per_nation[] = {2, 1, 1};
    const struct nation *nations[] = {&england_wales, &scotland, &northern_ireland};
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    for (size_t i = 0; i < COUNT(nations); i++) {
        memset(c, 0, sizeof *c);
        valid(h, CF_TYPE_REFERRAL, NULL, nations[i]);
        accept(c, false, h, t, &W.broker, &fx);
        assert_int_equal(c->n_deadlines, n_per_nation[i]);
        for (size_t k = 0; k < COUNT(want); k++) {
            if (want[k].n != nations[i])
                continue;
            uint64_t due = utc(want[k].y, want[k].mo, want[k].d, 0, 0);
            expect_deadline(c, want[k].kind, due, t + (due - t) / 4 * 3);
        }
    }
    free(h);
    free(c);
}

/* One English case from referral to RG determination: each deadline opens,
 * warns, is met and goes, and the notices already issued stay recorded
 * while a deadline's due moment stays the same. */
static void test_deadlines_england_wales(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    const struct nation *n = &england_wales;
    const struct cf_jurisdiction *ew = cf_policy_jurisdiction(W.policy, "england-wales");
    const struct cf_calendar *cal = W.calendars[ew - W.policy->jurisdictions];

    /* Thursday 24 December 2026, 15:00 UTC. */
    uint64_t t_ref = utc(2026, 12, 24, 15, 0);
    valid(h, CF_TYPE_REFERRAL, NULL, n);
    accept(c, false, h, t_ref, &W.broker, &fx);
    /* Acknowledgement, 1 working day: Fri 25 is Christmas Day and Mon 28 the
     * substitute for Boxing Day (a Saturday), so it is due at the end of Tue
     * 29 December. 75% of the 5 days 9 hours: 4 days 45 minutes. */
    uint64_t ack_due = utc(2026, 12, 30, 0, 0);
    /* RG, 45 calendar days: Thu 24 Dec + 45 = Sun 7 Feb 2027, due at its end.
     * 75% of the 45 days 9 hours: 34 days 45 minutes. */
    uint64_t rg_due = utc(2027, 2, 8, 0, 0);
    assert_int_equal(c->n_deadlines, 2);
    expect_deadline(c, CF_DEADLINE_ACKNOWLEDGEMENT, ack_due, utc(2026, 12, 28, 15, 45));
    expect_deadline(c, CF_DEADLINE_RG_DETERMINATION, rg_due, utc(2027, 1, 27, 15, 45));
    expect_flags(c, CF_DEADLINE_ACKNOWLEDGEMENT, false, false);
    assert_int_equal(cf_case_next_deadline(c)->kind, CF_DEADLINE_ACKNOWLEDGEMENT);
    uint64_t due = 0;
    assert_int_equal(
        cf_calendar_deadline(cal, t_ref, &ew->deadlines[CF_DEADLINE_ACKNOWLEDGEMENT], &due), 0);
    assert_int_equal(due, ack_due);
    assert_int_equal(
        cf_calendar_deadline(cal, t_ref, &ew->deadlines[CF_DEADLINE_RG_DETERMINATION], &due), 0);
    assert_int_equal(due, rg_due);

    /* The broker warns on Monday afternoon; the other deadline is untouched. */
    cf_case_deadline_fired(c, CF_DEADLINE_ACKNOWLEDGEMENT, false, ++leaves);
    assert_int_equal(c->updated_leaf, leaves);
    expect_flags(c, CF_DEADLINE_ACKNOWLEDGEMENT, true, false);
    expect_flags(c, CF_DEADLINE_RG_DETERMINATION, false, false);

    /* The acknowledgement on Tuesday meets its deadline. */
    valid(h, CF_TYPE_ACKNOWLEDGEMENT, c, n);
    accept(c, true, h, utc(2026, 12, 29, 9, 0), &W.broker, &fx);
    assert_int_equal(c->n_deadlines, 1);
    assert_null(deadline_of(c, CF_DEADLINE_ACKNOWLEDGEMENT));
    expect_deadline(c, CF_DEADLINE_RG_DETERMINATION, rg_due, utc(2027, 1, 27, 15, 45));

    /* Strategy discussion Mon 4 Jan 10:00: the conference is due within 15
     * working days, Tue 5 .. Mon 25 January, so at 00:00 on the 26th; 75% of
     * the 21 days 14 hours is 16 days 4 hours 30 minutes. */
    uint64_t t_strategy = utc(2027, 1, 4, 10, 0);
    valid(h, CF_TYPE_STRATEGY_RECORD, c, n);
    accept(c, true, h, t_strategy, &W.broker, &fx);
    uint64_t conf_due = utc(2027, 1, 26, 0, 0);
    assert_int_equal(c->n_deadlines, 2);
    expect_deadline(c, CF_DEADLINE_CONFERENCE, conf_due, utc(2027, 1, 20, 14, 30));
    assert_int_equal(cf_case_next_deadline(c)->kind, CF_DEADLINE_CONFERENCE);

    /* Both warnings, then the conference's breach (which implies its warning). */
    cf_case_deadline_fired(c, CF_DEADLINE_CONFERENCE, true, ++leaves);
    cf_case_deadline_fired(c, CF_DEADLINE_RG_DETERMINATION, false, ++leaves);
    expect_flags(c, CF_DEADLINE_CONFERENCE, true, true);
    expect_flags(c, CF_DEADLINE_RG_DETERMINATION, true, false);
    /* A notice for a deadline the case does not have changes nothing. */
    cf_case_deadline_fired(c, CF_DEADLINE_RECONVENE, true, ++leaves);
    assert_int_equal(c->n_deadlines, 2);

    /* The conference meets (late); the RG deadline is worked out again with
     * the same due moment and keeps its warning. */
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, n);
    accept(c, true, h, utc(2027, 1, 28, 10, 0), &W.broker, &fx);
    assert_int_equal(c->n_deadlines, 1);
    expect_flags(c, CF_DEADLINE_RG_DETERMINATION, true, false);

    /* Mon 1 Feb 10:00 the broker rules a proposal inquorate: the reconvene
     * deadline, 10 working days (Tue 2 .. Mon 15 February), is due at 00:00 on
     * the 16th; 75% of the 14 days 14 hours is 10 days 22 hours 30 minutes. */
    uint64_t t_inquorate = utc(2027, 2, 1, 10, 0);
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    drop_attendee(h, n->health);
    struct cf_error err = {0};
    assert_int_equal(cf_case_check(c, h, t_inquorate, &W.broker, &err), CF_EINQUORATE);
    assert_int_equal(cf_case_apply_inquorate(c, ++leaves, t_inquorate, &W.broker, &err), 0);
    assert_int_equal(c->state, CF_CASE_CONVENED);
    assert_int_equal(c->inquorate_at, t_inquorate);
    assert_int_equal(c->n_deadlines, 2);
    expect_deadline(c, CF_DEADLINE_RECONVENE, utc(2027, 2, 16, 0, 0), utc(2027, 2, 12, 8, 30));
    expect_flags(c, CF_DEADLINE_RECONVENE, false, false);
    expect_flags(c, CF_DEADLINE_RG_DETERMINATION, true, false);
    assert_int_equal(cf_case_next_deadline(c)->kind, CF_DEADLINE_RG_DETERMINATION);

    cf_case_deadline_fired(c, CF_DEADLINE_RG_DETERMINATION, true, ++leaves);
    expect_flags(c, CF_DEADLINE_RG_DETERMINATION, true, true);

    /* Reconvened on Tue 9 Feb: the reconvene deadline is met. */
    uint64_t t = utc(2027, 2, 9, 10, 0);
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, n);
    accept(c, true, h, t, &W.broker, &fx);
    assert_int_equal(c->n_deadlines, 1);
    expect_flags(c, CF_DEADLINE_RG_DETERMINATION, true, true);
    assert_int_equal(cf_case_next_deadline(c)->kind, CF_DEADLINE_RG_DETERMINATION);

    /* The RG determination, late, ends the last deadline. */
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    const char *order[] = {n->csc, n->police, n->health};
    for (size_t i = 0; i < COUNT(order); i++) {
        vote(h, c, order[i], true, n);
        accept(c, true, h, t += MS_PER_HOUR, &W.broker, &fx);
    }
    assert_true(fx.quorum_met);
    assert_int_equal(c->n_deadlines, 1); /* still open until the determination is sealed */
    determine(c, t, &W.broker);
    assert_int_equal(c->n_deadlines, 0);
    assert_null(cf_case_next_deadline(c));
    free(h);
    free(c);
}

/* A closure ends every open deadline, whatever the state. */
static void test_closure_ends_deadlines(void **state)
{
    (void)state;
    static const enum cf_case_state states[] = {CF_CASE_REFERRED, CF_CASE_ACKNOWLEDGED,
                                                CF_CASE_STRATEGY_HELD};
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    for (size_t i = 0; i < COUNT(states); i++) {
        memset(c, 0, sizeof *c);
        uint64_t t = build(c, &england_wales, states[i], utc(2027, 2, 1, 9, 0), &W.broker);
        assert_true(c->n_deadlines > 0);
        valid(h, CF_TYPE_CLOSURE, c, &england_wales);
        accept(c, true, h, t + MS_PER_HOUR, &W.broker, &fx);
        assert_int_equal(c->state, CF_CASE_CLOSED);
        assert_int_equal(c->n_deadlines, 0);
        assert_null(cf_case_next_deadline(c));
        /* An inquorate ruling cannot reopen one either. */
        struct cf_error err = {0};
        assert_int_equal(cf_case_apply_inquorate(c, ++leaves, t + 2 * MS_PER_HOUR, &W.broker, &err),
                         0);
        assert_int_equal(c->n_deadlines, 0);
    }
    free(h);
    free(c);
}

/* ---- The agents' mode: no calendars -------------------------------------- */

static void test_agent_mode_keeps_no_deadlines(void **state)
{
    (void)state;
    const struct nation *nations[] = {&england_wales, &scotland, &northern_ireland};
    struct cf_case *c = new_case();
    for (size_t i = 0; i < COUNT(nations); i++) {
        memset(c, 0, sizeof *c);
        build(c, nations[i], CF_CASE_DETERMINED, utc(2027, 2, 1, 9, 0), &W.agent);
        assert_int_equal(c->n_deadlines, 0);
        assert_null(cf_case_next_deadline(c));
        assert_string_equal(c->owner, nations[i]->csc);
        assert_true(c->rg_at > 0);
    }
    free(c);
}

/* An agent sees only the headers it received, in whatever order: applying
 * them never crashes and never invents a proposal or a quorum. */
static void test_agent_mode_odd_sequences(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    struct cf_error err = {0};
    const struct nation *n = &england_wales;
    uint64_t t = utc(2027, 2, 1, 9, 0);

    /* A vote on a case it never saw the start of. */
    vote(h, c, n->police, true, n);
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    expect_fx(&fx, 0);
    assert_int_equal(c->n_votes, 0);
    assert_int_equal(c->state, CF_CASE_NONE);
    /* ... and each other type, on that empty record. */
    for (int type = CF_TYPE_ACKNOWLEDGEMENT; type < CF_TYPE_COUNT; type++) {
        valid(h, (enum cf_type)type, c, n);
        assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    }
    assert_int_equal(cf_case_apply_determination(c, ++leaves, t, &W.agent, &err), 0);
    assert_int_equal(cf_case_apply_inquorate(c, ++leaves, t, &W.agent, &err), 0);
    cf_case_deadline_fired(c, CF_DEADLINE_CONFERENCE, true, ++leaves);
    assert_null(cf_case_next_deadline(c));

    /* Out of order on a case it did see referred: a vote before any proposal
     * is ignored; a proposal before any conference has no voters, so votes
     * never meet the quorum. */
    memset(c, 0, sizeof *c);
    valid(h, CF_TYPE_REFERRAL, NULL, n);
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    vote(h, c, n->police, true, n);
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    assert_int_equal(c->n_votes, 0);
    assert_int_equal(c->state, CF_CASE_REFERRED);
    valid(h, CF_TYPE_DETERMINATION_PROPOSED, c, n);
    add_attendee(h, n->police);
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    assert_int_equal(c->state, CF_CASE_PROPOSED);
    assert_int_equal(c->n_voters, 0);
    for (int i = 0; i < 3; i++) {
        vote(h, c, n->police, true, n);
        assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
        assert_false(fx.quorum_met);
    }
    /* A vote with no vote fields records nothing. */
    vote(h, c, n->health, true, n);
    h->has_vote = false;
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    assert_int_equal(c->n_votes, 3);
    /* More votes than a conference has members: the record stops at its size. */
    for (int i = 0; i < CF_MAX_MEMBERS + 4; i++) {
        vote(h, c, n->police, true, n);
        assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    }
    assert_int_equal(c->n_votes, CF_MAX_MEMBERS);
    /* A closure, then a late conference and contribution. */
    valid(h, CF_TYPE_CLOSURE, c, n);
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    assert_int_equal(c->state, CF_CASE_CLOSED);
    assert_int_equal(c->n_votes, 0);
    valid(h, CF_TYPE_CONFERENCE_CONVENED, c, n);
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    expect_fx(&fx, FX_CONVENED);
    valid(h, CF_TYPE_CONTRIBUTION, c, n);
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    /* A transfer to an LA that nobody serves leaves the case without an owner. */
    valid(h, CF_TYPE_TRANSFER, c, n);
    snprintf(h->la_code, sizeof h->la_code, "W06000015");
    snprintf(h->jurisdiction, sizeof h->jurisdiction, "england-wales");
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), 0);
    expect_fx(&fx, FX_TRANSFERRED);
    assert_string_equal(c->owner, "");
    /* A type out of range is refused, not indexed. */
    valid(h, CF_TYPE_CONTRIBUTION, c, n);
    h->type = CF_TYPE_COUNT;
    assert_int_equal(cf_case_apply(c, h, ++leaves, t, &W.agent, &fx, &err), CF_ETYPE);
    assert_int_equal(cf_case_check(c, h, t, &W.agent, &err), CF_ENOROUTE);
    h->type = CF_TYPE_NONE;
    assert_int_equal(cf_case_check(c, h, t, &W.agent, &err), CF_ENOROUTE);
    free(h);
    free(c);
}

/* A referral for an LA whose children's services the policy cannot pick
 * opens no case. */
static void test_referral_without_owner(void **state)
{
    (void)state;
    struct cf_case *c = new_case();
    struct cf_header *h = new_header();
    struct cf_case_effects fx;
    struct cf_error err = {0};
    valid(h, CF_TYPE_REFERRAL, NULL, &england_wales);
    snprintf(h->la_code, sizeof h->la_code, "E09000001");
    assert_int_equal(cf_case_check(NULL, h, 0, &W.broker, &err), 0);
    assert_int_equal(cf_case_apply(c, h, ++leaves, utc(2027, 2, 1, 9, 0), &W.broker, &fx, &err),
                     CF_ENOROUTE);
    assert_non_null(strstr(err.text, "E09000001"));
    free(h);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_happy_path_england_wales),
        cmocka_unit_test(test_happy_path_scotland),
        cmocka_unit_test(test_happy_path_northern_ireland),
        cmocka_unit_test(test_state_matrix_england_wales),
        cmocka_unit_test(test_state_matrix_scotland),
        cmocka_unit_test(test_state_matrix_northern_ireland),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_vote_twice),
        cmocka_unit_test(test_vote_from_absent_voter),
        cmocka_unit_test(test_inquorate_advisory_only),
        cmocka_unit_test(test_cg_min_days_after_rg),
        cmocka_unit_test(test_reject_vote),
        cmocka_unit_test(test_reconsideration_reconvened),
        cmocka_unit_test(test_transfer_strategy_held_to_scotland),
        cmocka_unit_test(test_transfer_referred_to_scotland),
        cmocka_unit_test(test_referral_deadlines_by_nation),
        cmocka_unit_test(test_deadlines_england_wales),
        cmocka_unit_test(test_closure_ends_deadlines),
        cmocka_unit_test(test_agent_mode_keeps_no_deadlines),
        cmocka_unit_test(test_agent_mode_odd_sequences),
        cmocka_unit_test(test_referral_without_owner),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
