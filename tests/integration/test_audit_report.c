/* `childfirst audit report` against a scripted scenario with known dates over
 * Christmas and New Year 2026, when England and Wales lose 25 and 28 December
 * and 1 January to bank holidays and Scotland 4 January too. The shared test
 * clock is set to each step's instant, so every figure below is worked out
 * by hand from the calendars in deploy/calendars/ and compared exactly.
 *
 *   B  E09000033  referred Wed 23 Dec 15:00; acknowledged Tue 29 Dec 10:05
 *                 (its acknowledgement was due by the end of Thu 24 Dec:
 *                 breached); the guardian was offline for that
 *                 acknowledgement: undelivered
 *   A  E09000033  referred Thu 24 Dec 10:00; acknowledged Tue 29 Dec; strategy
 *                 Wed 30 Dec; convened Mon 4 Jan; RG and CG Wed 6 Jan; closed
 *   C  S12000036  referred Thu 24 Dec 11:00; acknowledged Tue 29 Dec; its IRD
 *                 was due by the end of Tue 29 Dec (breached) and held Thu 31
 *                 Dec; convened Tue 5 Jan; RG Thu 7 Jan
 *   D  E09000033  referred Thu 7 Jan 12:00, never acknowledged (due by the
 *                 end of Fri 8 Jan: breached)
 *
 * Working days after the referral's day, up to and including the event's:
 *   A: acknowledgement 1 (29), conference 4 (29 30 31 4), determination 6
 *   B: acknowledgement 2 (24 29)
 *   C: acknowledgement 1 (29), conference 4 (29 30 31 5), determination 6
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "childfirst/file.h"
#include "scenario.h"

#define CALENDARS CF_SOURCE_DIR "/deploy/calendars"

static char out[1 << 20], err[1 << 16];

struct fx {
    struct scn t;
    char key[CF_B64_KEY_LEN + 1];
    size_t a, b, c, d;
    uint64_t b_ack; /* the acknowledgement the guardian did not receive in time */
    char auditor_ini[700];
};

static const char *const online[] = {
    "police-a", "la-csc",    "la-duty",  "guardian-x", "health-x",   "home-office-ew", "auditor-x",
    "la-s-csc", "la-s-duty", "police-s", "health-s",   "guardian-s", "home-office-sc"};

static void at(struct fx *f, int y, unsigned mo, unsigned d, unsigned h, unsigned mi)
{
    scn_clock_to(&f->t, scn_utc(y, mo, d, h, mi));
}

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f; /* so a failure below still reaches the teardown, which stops the broker */
    struct scn *t = &f->t;
    scn_create(t, true, scn_utc(2026, 12, 21, 9, 0));
    cf_keys_b64_encode(t->n.broker->sign_pk, f->key);
    for (size_t i = 0; i < sizeof online / sizeof online[0]; i++)
        scn_online(t, online[i]);
    net_agent_setup(&t->n, "auditor-x", NULL); /* its agent.ini: the escrow's -c */
    snprintf(f->auditor_ini, sizeof f->auditor_ini, "%s", net_agent_of(&t->n, "auditor-x")->ini);

    at(f, 2026, 12, 23, 15, 0);
    f->b = scn_refer(t, "police-a", "E09000033", CF_URGENCY_IMMEDIATE, NULL);
    at(f, 2026, 12, 24, 10, 0);
    f->a = scn_refer(t, "police-a", "E09000033", CF_URGENCY_IMMEDIATE, NULL);
    at(f, 2026, 12, 24, 11, 0);
    f->c = scn_refer(t, "police-s", "S12000036", CF_URGENCY_IMMEDIATE, NULL);

    at(f, 2026, 12, 29, 10, 0);
    scn_ack(t, f->a, "sw-a");
    scn_expect_notice(t, "la-duty", "deadline_breached", f->b);
    scn_offline(t, "guardian-x");
    at(f, 2026, 12, 29, 10, 5);
    f->b_ack = scn_ack(t, f->b, "sw-b");
    at(f, 2026, 12, 29, 10, 30); /* past the 15 minutes of an immediate case */
    scn_expect_notice(t, "la-csc", "undelivered", f->b); /* to the sender */
    scn_online(t, "guardian-x");
    scn_await(t, "guardian-x", f->b_ack);
    at(f, 2026, 12, 29, 11, 0);
    scn_ack(t, f->c, "sw-c");

    at(f, 2026, 12, 30, 10, 0);
    scn_strategy(t, f->a);
    scn_expect_notice(t, "la-s-duty", "deadline_breached", f->c);
    at(f, 2026, 12, 31, 10, 0);
    scn_strategy(t, f->c);

    at(f, 2027, 1, 4, 10, 0);
    scn_convene(t, f->a, "chair-a");
    at(f, 2027, 1, 5, 10, 0);
    scn_convene(t, f->c, "chair-c");
    at(f, 2027, 1, 6, 10, 0);
    scn_propose(t, f->a, CF_DECISION_RG);
    scn_all_approve(t, f->a);
    at(f, 2027, 1, 6, 11, 0);
    scn_propose(t, f->a, CF_DECISION_CG);
    scn_all_approve(t, f->a);
    at(f, 2027, 1, 7, 10, 0);
    scn_propose(t, f->c, CF_DECISION_RG);
    scn_all_approve(t, f->c);
    at(f, 2027, 1, 7, 12, 0);
    f->d = scn_refer(t, "police-a", "E09000033", CF_URGENCY_ROUTINE, NULL);

    at(f, 2027, 1, 11, 10, 0);
    scn_close(t, f->a);
    scn_expect_notice(t, "la-duty", "deadline_breached", f->d);
    scn_settle(t);
    net_broker_stop(&t->n);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    if (f && f->t.n.dir[0])
        scn_destroy(&f->t);
    free(f);
    return 0;
}

/* `childfirst audit report STATE ARGS... --calendars ... --broker-key ...`. */
static int report(struct fx *f, ...)
{
    const char *argv[32] = {CF_BIN_DIR "/childfirst", "audit", "report", f->t.n.state_dir};
    size_t n = 4;
    va_list ap;
    va_start(ap, f);
    for (const char *a; n < 26 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n++] = "--calendars";
    argv[n++] = CALENDARS;
    argv[n++] = "--broker-key";
    argv[n++] = f->key;
    argv[n] = NULL;
    int status = net_run_split(argv, out, sizeof out, err, sizeof err);
    if (strstr(err, "Sanitizer") || strstr(err, "runtime error:"))
        fail_msg("childfirst reported a sanitizer error:\n%s", err);
    return status;
}

static json_t *report_json(struct fx *f, const char *from, const char *to, bool decrypt)
{
    int status = decrypt ? report(f, "--format", "json", "--decrypt", "-c", f->auditor_ini, NULL)
                 : from  ? report(f, "--format", "json", "--from", from, "--to", to, NULL)
                         : report(f, "--format", "json", NULL);
    if (status != 0)
        fail_msg("audit report exited %d:\n%s", status, err);
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    if (!doc)
        fail_msg("the report is not JSON: %s", e.text);
    return doc;
}

static json_t *group(json_t *doc, const char *list, const char *key, const char *name)
{
    json_t *g;
    size_t i;
    json_array_foreach(json_object_get(doc, list), i, g)
    {
        if (strcmp(json_string_value(json_object_get(g, key)), name) == 0)
            return g;
    }
    fail_msg("no %s %s in the report", key, name);
    return NULL;
}

/* One group's figures: referrals, rg, cg, then per milestone the count, the
 * median times two (-1 when there are none) and the 90th percentile. */
struct figures {
    long long referrals, rg, cg;
    long long n[3], median2[3], p90[3];
};

static void assert_figures(json_t *g, const char *name, const struct figures *want)
{
    static const char *const milestones[3] = {"acknowledgement", "conference", "determination"};
    long long got = json_integer_value(json_object_get(g, "referrals"));
    if (got != want->referrals)
        fail_msg("%s: %lld referrals, expected %lld", name, got, want->referrals);
    json_t *d = json_object_get(g, "determinations");
    assert_int_equal(json_integer_value(json_object_get(d, "rg")), want->rg);
    assert_int_equal(json_integer_value(json_object_get(d, "cg")), want->cg);
    for (int m = 0; m < 3; m++) {
        json_t *w = json_object_get(json_object_get(g, "working_days"), milestones[m]);
        long long n = json_integer_value(json_object_get(w, "cases"));
        if (n != want->n[m])
            fail_msg("%s: %s over %lld cases, expected %lld", name, milestones[m], n, want->n[m]);
        if (n == 0) {
            assert_true(json_is_null(json_object_get(w, "median")));
            continue;
        }
        double median = json_real_value(json_object_get(w, "median"));
        long long p90 = json_integer_value(json_object_get(w, "p90"));
        if ((long long)(median * 2) != want->median2[m] || p90 != want->p90[m])
            fail_msg("%s: %s median %.1f p90 %lld, expected %.1f and %lld", name, milestones[m],
                     median, p90, want->median2[m] / 2.0, want->p90[m]);
    }
}

static void assert_breach(json_t *doc, size_t i, const char *case_id, const char *deadline,
                          const char *due)
{
    json_t *b = json_array_get(json_object_get(doc, "breaches"), i);
    if (!b)
        fail_msg("no breach %zu", i);
    assert_string_equal(json_string_value(json_object_get(b, "case_id")), case_id);
    assert_string_equal(json_string_value(json_object_get(b, "deadline")), deadline);
    assert_string_equal(json_string_value(json_object_get(b, "due")), due);
    assert_string_equal(json_string_value(json_object_get(b, "source")), "notice");
}

static const char *id_of(struct fx *f, size_t k)
{
    return f->t.cases[k].c.case_id;
}

static void test_whole_log(void **state)
{
    struct fx *f = *state;
    json_t *doc = report_json(f, NULL, NULL, false);
    assert_int_equal(json_integer_value(json_object_get(doc, "cases")), 4);
    /* England: A, B and D referred; A's RG and CG; acknowledgements of A (1)
     * and B (2): median 1.5, 90th percentile 2. */
    const struct figures england = {3, 1, 1, {2, 1, 1}, {3, 8, 12}, {2, 4, 6}};
    assert_figures(group(doc, "local_authorities", "la", "E09000033"), "E09000033", &england);
    assert_figures(group(doc, "nations", "nation", "england-wales"), "england-wales", &england);
    /* Scotland: C by its own calendar, where 4 January is a holiday too. */
    const struct figures scotland = {1, 1, 0, {1, 1, 1}, {2, 8, 12}, {1, 4, 6}};
    assert_figures(group(doc, "local_authorities", "la", "S12000036"), "S12000036", &scotland);
    assert_figures(group(doc, "nations", "nation", "scotland"), "scotland", &scotland);
    assert_int_equal(json_array_size(json_object_get(doc, "local_authorities")), 2);

    /* Every breach, soonest due first, each from the broker's notice. */
    assert_int_equal(json_array_size(json_object_get(doc, "breaches")), 3);
    assert_breach(doc, 0, id_of(f, f->b), "acknowledgement", "2026-12-25T00:00:00.000Z");
    assert_breach(doc, 1, id_of(f, f->c), "strategy", "2026-12-30T00:00:00.000Z");
    assert_breach(doc, 2, id_of(f, f->d), "acknowledgement", "2027-01-09T00:00:00.000Z");

    /* The one undelivered incident: B's acknowledgement, to the guardian. */
    json_t *u = json_object_get(doc, "undelivered");
    assert_int_equal(json_array_size(u), 1);
    json_t *i0 = json_array_get(u, 0);
    assert_string_equal(json_string_value(json_object_get(i0, "case_id")), id_of(f, f->b));
    assert_string_equal(json_string_value(json_object_get(i0, "kind")), "undelivered");
    assert_int_equal(json_integer_value(json_object_get(i0, "about")), f->b_ack);
    assert_int_equal(json_array_size(json_object_get(i0, "outstanding")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(i0, "outstanding"), 0)),
                        "guardian-x");
    assert_null(json_object_get(doc, "decrypted")); /* no outcomes without the escrow's key */
    json_decref(doc);
}

static void test_a_period(void **state)
{
    struct fx *f = *state;
    /* 24 December to 6 January: A and C referred in it (B the day before, D
     * after); A's determinations on the 6th; C's on the 7th falls outside, so
     * C counts no determination. B's and C's deadlines fell due in it, D's
     * after it. */
    json_t *doc = report_json(f, "2026-12-24", "2027-01-06", false);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "period"), "from")),
                        "2026-12-24");
    assert_int_equal(json_integer_value(json_object_get(doc, "cases")), 2);
    const struct figures england = {1, 1, 1, {1, 1, 1}, {2, 8, 12}, {1, 4, 6}};
    assert_figures(group(doc, "local_authorities", "la", "E09000033"), "E09000033", &england);
    const struct figures scotland = {1, 0, 0, {1, 1, 0}, {2, 8, 0}, {1, 4, 0}};
    assert_figures(group(doc, "local_authorities", "la", "S12000036"), "S12000036", &scotland);
    assert_int_equal(json_array_size(json_object_get(doc, "breaches")), 2);
    assert_breach(doc, 0, id_of(f, f->b), "acknowledgement", "2026-12-25T00:00:00.000Z");
    assert_breach(doc, 1, id_of(f, f->c), "strategy", "2026-12-30T00:00:00.000Z");
    assert_int_equal(json_array_size(json_object_get(doc, "undelivered")), 1);
    json_decref(doc);
    /* A period with nothing in it. */
    doc = report_json(f, "2027-02-01", "2027-02-28", false);
    assert_int_equal(json_array_size(json_object_get(doc, "local_authorities")), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "breaches")), 0);
    json_decref(doc);
}

/* Outcomes only for the escrow auditor, and only where its key opens them:
 * England names it; Scotland has no escrow, so C's outcome stays unknown. */
static void test_escrow_decrypts_outcomes(void **state)
{
    struct fx *f = *state;
    json_t *doc = report_json(f, NULL, NULL, true);
    json_t *dec = json_object_get(doc, "decrypted");
    assert_int_equal(json_integer_value(json_object_get(dec, "opened")), 2);
    assert_int_equal(json_integer_value(json_object_get(dec, "not_recipient")), 1);
    assert_int_equal(json_integer_value(json_object_get(dec, "redacted")), 0);
    json_t *e = json_object_get(group(doc, "local_authorities", "la", "E09000033"), "outcomes");
    /* scenario.c seals an RG proposal as positive and a CG one as negative. */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "rg"), "positive")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "rg"), "negative")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "cg"), "negative")), 1);
    json_t *s = json_object_get(group(doc, "local_authorities", "la", "S12000036"), "outcomes");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "rg"), "unknown")), 1);
    json_decref(doc);
    /* The Home Office liaison's key opens no proposal: it reads only the NRM
     * return the determination carries. */
    char ini[700];
    snprintf(ini, sizeof ini, "%s/home-office-ew/agent.ini", f->t.n.dir);
    net_agent_setup(&f->t.n, "home-office-ew", NULL);
    assert_int_equal(report(f, "--format", "json", "--decrypt", "-c", ini, NULL), 0);
    doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "decrypted"), "not_recipient")), 3);
    json_decref(doc);
}

/* `audit replay --decrypt`: the escrow auditor reads the proposals sealed to
 * it, in England; Scotland's says it was not sealed to it; the liaison's
 * key reads no proposal; and without --decrypt nothing is opened. */
static void test_replay_decrypts_for_the_escrow_only(void **state)
{
    struct fx *f = *state;
    char liaison[700];
    snprintf(liaison, sizeof liaison, "%s/home-office-ew/agent.ini", f->t.n.dir);
    net_agent_setup(&f->t.n, "home-office-ew", NULL);
    const char *inis[] = {f->auditor_ini, liaison, NULL};
    for (int k = 0; k < 3; k++) {
        const char *argv[] = {CF_BIN_DIR "/childfirst",
                              "audit",
                              "replay",
                              f->t.n.state_dir,
                              "--json",
                              "--calendars",
                              CALENDARS,
                              "--broker-key",
                              f->key,
                              inis[k] ? "--decrypt" : NULL,
                              "-c",
                              inis[k],
                              NULL};
        if (net_run_split(argv, out, sizeof out, err, sizeof err) != 0)
            fail_msg("audit replay exited non-zero:\n%s", err);
        json_t *doc = json_loads(out, 0, NULL);
        assert_non_null(doc);
        size_t i, j, opened = 0, unsealed = 0, proposals = 0;
        json_t *c, *e;
        json_array_foreach(json_object_get(doc, "cases"), i, c)
        {
            bool scotland =
                strcmp(json_string_value(json_object_get(c, "jurisdiction")), "scotland") == 0;
            json_array_foreach(json_object_get(c, "timeline"), j, e)
            {
                const char *type = json_string_value(json_object_get(e, "type"));
                if (!type || strcmp(type, "determination_proposed") != 0 ||
                    strcmp(json_string_value(json_object_get(e, "event")), "accepted") != 0)
                    continue;
                proposals++;
                json_t *content = json_object_get(e, "content");
                const char *unread = json_string_value(json_object_get(e, "content_unread"));
                if (k == 2) { /* no --decrypt */
                    assert_null(content);
                    assert_null(unread);
                } else if (k == 0 && !scotland) {
                    assert_non_null(content);
                    const char *decision = json_string_value(json_object_get(e, "decision"));
                    assert_string_equal(json_string_value(json_object_get(content, "outcome")),
                                        strcmp(decision, "rg") == 0 ? "positive" : "negative");
                    opened++;
                } else {
                    assert_null(content);
                    assert_string_equal(unread, "not sealed to this auditor");
                    unsealed++;
                }
            }
        }
        assert_int_equal(proposals, 3);
        assert_int_equal(opened, k == 0 ? 2 : 0);
        assert_int_equal(unsealed, k == 0 ? 1 : k == 1 ? 3 : 0);
        json_decref(doc);
    }
    const char *bad[] = {CF_BIN_DIR "/childfirst", "audit", "replay", f->t.n.state_dir, "--decrypt",
                         "--broker-key",           f->key,  NULL};
    assert_int_equal(net_run_split(bad, out, sizeof out, err, sizeof err), 2);
    assert_non_null(strstr(err, "--decrypt needs -c"));
}

static void test_table_and_csv(void **state)
{
    struct fx *f = *state;
    assert_int_equal(report(f, NULL), 0);
    assert_non_null(strstr(out, "period: the start to the end"));
    assert_non_null(strstr(out, "E09000033  england-wales             3    1    1  "
                                "1.5 / 2 (n=2)      4 / 4 (n=1)        6 / 6 (n=1)"));
    assert_non_null(strstr(out, "outcomes: not in the log's headers"));
    assert_non_null(strstr(out, "deadline breaches: 3\n"));
    assert_non_null(strstr(out, "undelivered incidents: 1\n"));

    assert_int_equal(report(f, "--format", "csv", NULL), 0);
    assert_int_equal(strncmp(out, "record,nation,la,case_id,name,value,detail\n", 43), 0);
    assert_non_null(strstr(out, "\nla,england-wales,E09000033,,referrals,3,\n"));
    assert_non_null(
        strstr(out, "\nla,england-wales,E09000033,,acknowledgement_median_working_days,1.5,\n"));
    assert_non_null(
        strstr(out, "\nla,england-wales,E09000033,,acknowledgement_p90_working_days,2,\n"));
    assert_non_null(strstr(out, "\nnation,scotland,,,conference_median_working_days,4,\n"));
    char want[200];
    snprintf(want, sizeof want, "\nbreach,scotland,S12000036,%s,strategy,2026-12-30T00:00:00.000Z,",
             id_of(f, f->c));
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof want, "\nundelivered,england-wales,E09000033,%s,", id_of(f, f->b));
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, ": guardian-x\n"));
}

/* A policy that routes deadline_breached to nobody: no agency is told, but
 * the broker still logs the ruling as a notice leaf with no recipients, so
 * the log alone holds the breach and the report finds it from that notice. */
static int alone_setup(void **state)
{
    *state = calloc(1, sizeof(struct scn));
    return *state ? 0 : -1;
}

static int alone_teardown(void **state)
{
    struct scn *t = *state;
    if (t->n.dir[0])
        scn_destroy(t);
    free(t);
    return 0;
}

static void test_a_breach_noticed_to_nobody_is_logged(void **state)
{
    struct scn *t = *state;
    scn_create(t, false, scn_utc(2026, 12, 21, 9, 0));
    net_broker_stop(&t->n);
    char policy[700], agencies[700];
    snprintf(policy, sizeof policy, "%s/policy.ini", t->n.dir);
    snprintf(agencies, sizeof agencies, "%s/agencies.ini", t->n.dir);
    uint8_t *text;
    size_t len;
    struct cf_error e = {0};
    assert_int_equal(cf_file_read(policy, CF_MAX_INI_FILE, &text, &len, &e), 0);
    char *from = strstr((char *)text, "[notice.deadline_breached]");
    char *to = strstr((char *)text, "[notice.inquorate]");
    assert_true(from && to && from < to);
    memmove(from, to, strlen(to) + 1);
    assert_int_equal(cf_file_write_atomic(policy, text, strlen((char *)text), 0644, &e), 0);
    free(text);
    assert_int_equal(cf_directory_sign(agencies, policy, t->n.authority, 2, &e), 0);
    net_broker_start(&t->n);
    const char *const cast[] = {"police-a", "la-csc", "la-duty", "guardian-x"};
    for (size_t i = 0; i < 4; i++)
        scn_online(t, cast[i]);
    /* Referred Wed 23 Dec 15:00; due by the end of Thu 24 Dec; a later
     * referral on Tue 29 Dec puts a leaf after the due time. */
    scn_clock_to(t, scn_utc(2026, 12, 23, 15, 0));
    size_t k = scn_refer(t, "police-a", "E09000033", CF_URGENCY_ROUTINE, NULL);
    scn_clock_to(t, scn_utc(2026, 12, 29, 10, 0));
    scn_refer(t, "police-a", "E09000033", CF_URGENCY_ROUTINE, NULL);
    scn_settle(t);
    net_broker_stop(&t->n);
    char key[CF_B64_KEY_LEN + 1];
    cf_keys_b64_encode(t->n.broker->sign_pk, key);
    const char *argv[] = {CF_BIN_DIR "/childfirst",
                          "audit",
                          "report",
                          t->n.state_dir,
                          "--format",
                          "json",
                          "--calendars",
                          CALENDARS,
                          "--broker-key",
                          key,
                          NULL};
    if (net_run_split(argv, out, sizeof out, err, sizeof err) != 0)
        fail_msg("audit report: %s", err);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    json_t *b = json_object_get(doc, "breaches");
    assert_int_equal(json_array_size(b), 1);
    json_t *b0 = json_array_get(b, 0);
    assert_string_equal(json_string_value(json_object_get(b0, "case_id")), t->cases[k].c.case_id);
    assert_string_equal(json_string_value(json_object_get(b0, "deadline")), "acknowledgement");
    assert_string_equal(json_string_value(json_object_get(b0, "due")), "2026-12-25T00:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(b0, "source")), "notice");
    assert_string_equal(json_string_value(json_object_get(b0, "la")), "E09000033");
    json_decref(doc);
    net_broker_start(&t->n); /* the teardown stops it */
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_log),
        cmocka_unit_test(test_a_period),
        cmocka_unit_test(test_escrow_decrypts_outcomes),
        cmocka_unit_test(test_replay_decrypts_for_the_escrow_only),
        cmocka_unit_test(test_table_and_csv),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
    const struct CMUnitTest alone[] = {
        cmocka_unit_test_setup_teardown(test_a_breach_noticed_to_nobody_is_logged, alone_setup,
                                        alone_teardown),
    };
    return failed + cmocka_run_group_tests(alone, NULL, NULL);
}
