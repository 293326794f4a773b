/* One whole case per nation through real agents and the childfirst CLI:
 * referral, acknowledgement, the strategy discussion (IRD in Scotland), the
 * conference, a contribution, the proposal, every vote, and the sealed
 * determination in every party's spool inbox: the content for the final
 * readers, the NRM return alone for the Home Office liaison. */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "childfirst/directory.h"
#include "childfirst/file.h"
#include "harness.h"

#define WAIT_MS 20000

/* A nation's cast: the referring police force, the LA (its children's
 * services and duty team), health, the guardian and the Home Office liaison. */
struct nation {
    const char *jurisdiction, *la_code, *strategy_type;
    const char *police, *csc, *duty, *health, *guardian, *liaison;
    const char *escrow; /* the jurisdiction's escrow auditor, or NULL (the shipped policy) */
};

static const struct nation england = {
    "england-wales", "E09000033", "strategy_record", "police-a",       "la-csc",
    "la-duty",       "health-x",  "guardian-x",      "home-office-ew", NULL};
static const struct nation scotland = {"scotland",       "S12000036", "ird_record", "police-s",
                                       "la-s-csc",       "la-s-duty", "health-s",   "guardian-s",
                                       "home-office-sc", NULL};
static const struct nation northern_ireland = {
    "northern-ireland",  "N09000003", "strategy_record", "psni",           "hsct-belfast-csc",
    "hsct-belfast-duty", "health-ni", "guardian-igs",    "home-office-ni", NULL};

/* England with an escrow auditor named in the policy (issue 7). */
static const struct nation england_escrow = {
    "england-wales", "E09000033", "strategy_record", "police-a",       "la-csc",
    "la-duty",       "health-x",  "guardian-x",      "home-office-ew", "auditor-x"};

static const char *const FOR_ALL[] = {"police", "csc", "duty", "health", "guardian", "liaison"};

static const char *member(const struct nation *w, size_t i)
{
    const char *const ids[] = {w->police, w->csc, w->duty, w->health, w->guardian, w->liaison};
    return ids[i];
}

/* Names `id` as england-wales's escrow (the shipped policy's first
 * `escrow =`), and signs the directory again. */
static void name_escrow(struct net *n, const char *id)
{
    char cmd[1024], agencies[600], policy[600];
    snprintf(policy, sizeof policy, "%s/policy.ini", n->dir);
    snprintf(agencies, sizeof agencies, "%s/agencies.ini", n->dir);
    snprintf(cmd, sizeof cmd, "sed -i '0,/^escrow =$/s//escrow = %s/' '%s'", id, policy);
    assert_int_equal(system(cmd), 0);
    assert_true(net_file_contains(policy, "escrow = auditor-x"));
    struct cf_error err = {0};
    if (cf_directory_sign(agencies, policy, n->authority, 1, &err) != 0)
        fail_msg("directory sign: %s", err.text);
}

static int setup(void **state)
{
    const struct nation *w = *state;
    struct net *n = calloc(1, sizeof *n);
    net_create(n, NULL);
    if (strcmp(w->jurisdiction, "england-wales") != 0) { /* the default cast is England's */
        net_add_agency(n, w->police, "first_responder police", w->la_code, w->jurisdiction);
        net_add_agency(n, w->csc, "children_services", w->la_code, w->jurisdiction);
        net_add_agency(n, w->duty, "duty_team", w->la_code, w->jurisdiction);
        net_add_agency(n, w->health, "health", w->la_code, w->jurisdiction);
        net_add_agency(n, w->guardian, "guardian", w->la_code, w->jurisdiction);
    }
    net_add_agency(n, w->liaison, "home_office", "", w->jurisdiction);
    net_sign_directory(n, 1);
    if (w->escrow)
        name_escrow(n, w->escrow);
    net_broker_start(n);
    for (size_t i = 0; i < sizeof FOR_ALL / sizeof FOR_ALL[0]; i++) {
        net_agent_setup(n, member(w, i), NULL);
        net_agent_start(n, member(w, i), NULL);
    }
    if (w->escrow) {
        net_agent_setup(n, w->escrow, NULL);
        net_agent_start(n, w->escrow, NULL);
    }
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    for (size_t i = 0; i < n->n; i++)
        if (n->agents[i].pid > 0)
            net_agent_stop(n, n->agencies[i].id);
    net_broker_stop(n);
    net_destroy(n);
    free(n);
    return 0;
}

/* ---- Driving the CLI ---- */

static char out[1 << 17], err_text[1 << 14];

/* Runs `childfirst ARGS` as `id`; requires exit 0; returns stdout as JSON. */
static json_t *cli_json(struct net *n, const char *id, const char *const *args)
{
    int rc = net_cli(n, id, args, out, sizeof out, err_text, sizeof err_text);
    if (rc != 0)
        fail_msg("childfirst %s as %s exited %d: %s", args[0], id, rc, err_text);
    json_error_t je;
    json_t *doc = json_loads(out, 0, &je);
    if (!doc)
        fail_msg("childfirst %s as %s printed no JSON: %s", args[0], id, out);
    return doc;
}

static void write_doc(struct net *n, const char *name, const char *text, char *path, size_t cap)
{
    struct cf_error err = {0};
    snprintf(path, cap, "%s/%s", n->dir, name);
    if (cf_file_write_atomic(path, text, strlen(text), 0644, &err) != 0)
        fail_msg("%s", err.text);
}

/* `childfirst send TYPE --case ID FILE` as `id`: the receipt must say accepted. */
static void send_doc(struct net *n, const char *id, const char *type, const char *case_id,
                     const char *text)
{
    char path[600];
    write_doc(n, "message.json", text, path, sizeof path);
    const char *args[] = {"send", type, "--case", case_id, path, NULL};
    json_t *r = cli_json(n, id, args);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "accepted");
    json_decref(r);
}

/* Waits until `id` has received a `type` in the case; its message id. */
static void wait_for(struct net *n, const char *id, const char *case_id, const char *type,
                     char message_id[2 * 16 + 1])
{
    const char *args[] = {"inbox", "--case", case_id, "--json", NULL};
    for (int waited = 0; waited < WAIT_MS; waited += 100) {
        json_t *r = cli_json(n, id, args);
        size_t i;
        json_t *m;
        json_array_foreach(r, i, m)
        {
            if (strcmp(json_string_value(json_object_get(m, "type")), type) == 0) {
                if (message_id)
                    snprintf(message_id, 33, "%s",
                             json_string_value(json_object_get(m, "message_id")));
                json_decref(r);
                return;
            }
        }
        json_decref(r);
        usleep(100000);
    }
    fail_msg("%s did not receive a %s in case %s within %d ms", id, type, case_id, WAIT_MS);
}

/* The decrypted spool file of `id`'s determination in the case. */
static json_t *determination_file(struct net *n, const char *id, const char *case_id)
{
    char pattern[900], match[900];
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-determination.json",
             net_agent_of(n, id)->spool, case_id);
    if (!net_wait_glob(pattern, WAIT_MS, match, sizeof match))
        fail_msg("%s has no determination file (%s)", id, pattern);
    json_error_t je;
    json_t *doc = json_load_file(match, 0, &je);
    if (!doc)
        fail_msg("%s: %s", match, je.text);
    return doc;
}

/* ---- The case ---- */

static void whole_case(struct net *n, const struct nation *w)
{
    char text[8192], path[600], proposal[33];
    snprintf(text, sizeof text,
             "{\"la_code\": \"%s\", \"urgency\": \"urgent\", \"immediate_risk\": false,"
             " \"child\": {\"given_name\": \"Amanuel\", \"family_name\": \"Testchild\","
             " \"estimated_age\": 15, \"sex\": \"male\", \"nationality\": \"ER\"},"
             " \"exploitation\": [\"criminal\"], \"narrative\": \"FICTIONAL: found alone at"
             " a coach station, owes a debt for the journey.\", \"first_concern_date\":"
             " \"2026-11-18\", \"referrer\": {\"name\": \"PC Example\", \"phone\": \"0207 946"
             " 0000\"}}",
             w->la_code);
    write_doc(n, "referral.json", text, path, sizeof path);
    const char *refer[] = {"refer", path, NULL};
    json_t *receipt = cli_json(n, w->police, refer);
    char case_id[64];
    snprintf(case_id, sizeof case_id, "%s", json_string_value(json_object_get(receipt, "case_id")));
    json_decref(receipt);

    wait_for(n, w->csc, case_id, "referral", NULL);
    if (w->escrow)
        wait_for(n, w->escrow, case_id, "referral", NULL);
    send_doc(n, w->csc, "acknowledgement", case_id,
             "{\"lead_staff_ref\": \"SW-0001\", \"next_steps\": \"Strategy discussion today.\"}");
    wait_for(n, w->police, case_id, "acknowledgement", NULL);
    send_doc(n, w->csc, w->strategy_type, case_id,
             "{\"held_at\": \"2026-11-18T14:00\", \"summary\": \"FICTIONAL: agreed to convene.\"}");
    wait_for(n, w->health, case_id, w->strategy_type, NULL);
    snprintf(text, sizeof text,
             "{\"members\": [{\"agency\": \"%s\", \"standing\": \"voting\"},"
             " {\"agency\": \"%s\", \"standing\": \"voting\"},"
             " {\"agency\": \"%s\", \"standing\": \"voting\"},"
             " {\"agency\": \"%s\", \"standing\": \"required\"},"
             " {\"agency\": \"%s\", \"standing\": \"advisory\"}],"
             " \"chair_staff_ref\": \"CHAIR-0042\", \"meeting_at\": \"2026-12-09T10:00\"}",
             w->csc, w->police, w->health, w->guardian, w->liaison);
    send_doc(n, w->csc, "conference_convened", case_id, text);
    wait_for(n, w->health, case_id, "conference_convened", NULL);
    wait_for(n, w->liaison, case_id, "conference_convened", NULL); /* it may attend */
    send_doc(n, w->health, "contribution", case_id,
             "{\"report\": \"FICTIONAL: injuries consistent with his account.\"}");
    wait_for(n, w->guardian, case_id, "contribution", NULL);
    snprintf(text, sizeof text,
             "{\"decision\": \"rg\", \"attendees\": [\"%s\", \"%s\", \"%s\", \"%s\"],"
             " \"outcome\": \"positive\", \"exploitation\": [\"criminal\"],"
             " \"reasons\": \"FICTIONAL: reasonable grounds to suspect criminal exploitation.\","
             " \"child_views\": \"He wants to stay with his foster family.\","
             " \"child_participated\": true,"
             " \"nrm_return\": {\"age_band\": \"14-15\", \"sex\": \"male\", \"nationality\":"
             " \"ER\"}}",
             w->csc, w->police, w->health, w->guardian);
    send_doc(n, w->csc, "determination_proposed", case_id, text);
    const char *voters[] = {w->csc, w->police, w->health};
    for (size_t i = 0; i < 3; i++) {
        wait_for(n, voters[i], case_id, "determination_proposed", proposal);
        snprintf(text, sizeof text, "{\"proposal_id\": \"%s\", \"approve\": true}", proposal);
        send_doc(n, voters[i], "vote", case_id, text);
    }

    /* Every party gets the sealed determination. */
    const char *readers[] = {w->csc, w->police, w->health, w->guardian, w->duty, w->escrow};
    for (size_t i = 0; i < 5 + (w->escrow != NULL); i++) {
        json_t *d = determination_file(n, readers[i], case_id);
        assert_string_equal(json_string_value(json_object_get(d, "decision")), "rg");
        assert_int_equal(json_array_size(json_object_get(d, "votes")), 3);
        json_t *payload = json_object_get(d, "payload");
        assert_string_equal(json_string_value(json_object_get(payload, "child_views")),
                            "He wants to stay with his foster family.");
        assert_true(json_is_true(json_object_get(payload, "child_participated")));
        json_decref(d);
    }
    json_t *d = determination_file(n, w->liaison, case_id);
    assert_null(json_object_get(d, "payload"));
    json_t *nrm = json_object_get(d, "nrm_return");
    assert_string_equal(json_string_value(json_object_get(nrm, "decision")), "rg");
    assert_string_equal(json_string_value(json_object_get(nrm, "nation")), w->jurisdiction);
    assert_string_equal(json_string_value(json_object_get(nrm, "age_band")), "14-15");
    char *all = json_dumps(d, 0);
    assert_null(strstr(all, "Amanuel"));
    assert_null(strstr(all, "foster"));
    free(all);
    json_decref(d);

    /* The case view: the broker's state, and this agency's timeline. */
    const char *view[] = {"case", case_id, "--json", NULL};
    json_t *v = cli_json(n, w->duty, view);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "broker"), "state")),
                        "determined");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "broker"), "owner")),
                        w->csc);
    assert_true(json_array_size(json_object_get(v, "timeline")) >= 3);
    json_decref(v);
    v = cli_json(n, w->csc, view);
    size_t i, sent = 0;
    json_t *e;
    json_array_foreach(json_object_get(v, "timeline"), i, e)
    {
        sent += strcmp(json_string_value(json_object_get(e, "direction")), "sent") == 0;
    }
    assert_int_equal(sent, 5); /* ack, strategy, convened, proposal, its vote */
    json_decref(v);
}

static void test_england_and_wales(void **state)
{
    whole_case(*state, &england);
}

static void test_scotland(void **state)
{
    whole_case(*state, &scotland);
}

static void test_northern_ireland(void **state)
{
    whole_case(*state, &northern_ireland);
}

/* With an escrow named, the case reaches the escrow auditor too (above),
 * and the broker rejects a referral that leaves it out. */
static void test_escrow_is_a_recipient(void **state)
{
    struct net *n = *state;
    whole_case(n, &england_escrow);
    struct cf_header h;
    struct cf_frame a;
    uint8_t *env;
    size_t len;
    void *s = net_connect(n, net_agency(n, "police-a")->keys);
    net_referral(n, "police-a", &h, &env, &len); /* guardian, LA, duty team: no escrow */
    net_submit(s, env, len, &a);
    assert_int_equal(a.kind, CF_FRAME_REJECTED);
    assert_string_equal(a.code, "CF_ERECIPIENTS");
    assert_non_null(strstr(a.reason, "auditor-x"));
    cf_wire_frame_fini(&a);
    free(env);
    net_close(n, s);
}

/* A vote refuses to go on a proposal this agency never received, with the
 * reason; nothing is queued. */
static void test_vote_needs_the_proposal(void **state)
{
    struct net *n = *state;
    char path[600], text[512];
    snprintf(text, sizeof text,
             "{\"la_code\": \"E09000033\", \"urgency\": \"routine\", \"immediate_risk\": false,"
             " \"child\": {\"estimated_age\": 12}, \"exploitation\": [\"unknown\"],"
             " \"narrative\": \"FICTIONAL\", \"first_concern_date\": \"2026-11-18\","
             " \"referrer\": {\"name\": \"PC Example\", \"email\": \"pc@example.org\"}}");
    write_doc(n, "referral.json", text, path, sizeof path);
    const char *refer[] = {"refer", path, NULL};
    json_t *receipt = cli_json(n, "police-a", refer);
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    write_doc(n, "vote.json",
              "{\"proposal_id\": \"00112233445566778899aabbccddeeff\","
              " \"approve\": true}",
              path, sizeof path);
    const char *vote[] = {"send", "vote", "--case", case_id, path, NULL};
    int rc = net_cli(n, "police-a", vote, out, sizeof out, err_text, sizeof err_text);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err_text, "proposal_id"));
    /* A case this agency has never seen. */
    const char *unknown[] = {"send", "vote", "--case", "cf-aaaaaaaaaaaaaaaaaaaaaaaaaa", path, NULL};
    rc = net_cli(n, "police-a", unknown, out, sizeof out, err_text, sizeof err_text);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(err_text, "has seen no message"));
    json_decref(receipt);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_england_and_wales, setup, teardown,
                                                 (void *)&england),
        cmocka_unit_test_prestate_setup_teardown(test_scotland, setup, teardown, (void *)&scotland),
        cmocka_unit_test_prestate_setup_teardown(test_northern_ireland, setup, teardown,
                                                 (void *)&northern_ireland),
        cmocka_unit_test_prestate_setup_teardown(test_escrow_is_a_recipient, setup, teardown,
                                                 (void *)&england_escrow),
        cmocka_unit_test_prestate_setup_teardown(test_vote_needs_the_proposal, setup, teardown,
                                                 (void *)&england),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
