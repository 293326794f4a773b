/* The dashboard in a real browser. This sets up a real network with the
 * harness (broker, police, the LA and its duty team, the guardian offline),
 * gives the duty team's dashboard something to show (a case acknowledged, one
 * whose deadline has passed, messages the guardian never took), and then runs
 * tests/browser/dashboard_test.py: Debian's Chromium, headless, driven by
 * Debian's python3-selenium. The script logs in, watches a new immediate
 * referral arrive in the live feed without a reload, opens the case page and
 * checks that a wrong token is refused. Screenshots go to CF_BROWSER_OUT in
 * the build folder. Without Chromium this fails: CI must run it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"

#define EXAMPLE CF_SOURCE_DIR "/deploy/examples/referral.json"
#define ACK CF_SOURCE_DIR "/deploy/examples/acknowledgement.json"
#define SCRIPT CF_SOURCE_DIR "/tests/browser/dashboard_test.py"
#define PYTHON "/usr/bin/python3" /* Debian's, which has python3-selenium */
#define TOKEN "duty-team-token-0123456789abcdef"
#define WAIT_MS 20000
#define DAY_MS (24ll * 3600 * 1000)

static char out[1 << 20], err[1 << 16];

static const char *const cast[] = {"police-a", "la-csc", "la-duty"};

static json_t *run_json(struct net *n, const char *id, const char *const *args)
{
    int status = net_cli(n, id, args, out, sizeof out, err, sizeof err);
    if (status != 0)
        fail_msg("childfirst %s (%s) exited %d:\n%s\n%s", args[0], id, status, out, err);
    json_t *doc = json_loads(out, 0, NULL);
    if (!doc)
        fail_msg("childfirst %s printed no JSON:\n%s", args[0], out);
    return doc;
}

/* A referral from police-a, the example with another urgency; its case id. */
static char *refer(struct net *n, const char *urgency, bool immediate_risk)
{
    json_t *doc = json_load_file(EXAMPLE, 0, NULL);
    assert_non_null(doc);
    json_object_set_new(doc, "urgency", json_string(urgency));
    json_object_set_new(doc, "immediate_risk", json_boolean(immediate_risk));
    char path[700];
    snprintf(path, sizeof path, "%s/referral-%s.json", n->dir, urgency);
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    const char *args[] = {"refer", path, NULL};
    json_t *receipt = run_json(n, "police-a", args);
    char *case_id = strdup(json_string_value(json_object_get(receipt, "case_id")));
    json_decref(receipt);
    return case_id;
}

/* Waits until `id`'s inbox holds a notice of `kind` for the case. */
static void await_notice(struct net *n, const char *id, const char *case_id, const char *kind)
{
    const char *args[] = {"inbox", "--json", "--case", case_id, NULL};
    for (int i = 0; i < WAIT_MS / 50; i++) {
        json_t *list = run_json(n, id, args);
        size_t k;
        json_t *e;
        bool found = false;
        json_array_foreach(list, k, e)
        {
            const char *got = json_string_value(json_object_get(e, "kind"));
            found = found || (got && strcmp(got, kind) == 0);
        }
        json_decref(list);
        if (found)
            return;
        usleep(50 * 1000);
    }
    fail_msg("%s received no %s notice for %s within %d ms", id, kind, case_id, WAIT_MS);
}

static void await_connected(struct net *n, const char *id)
{
    const char *args[] = {"status", "--json", NULL};
    for (int i = 0; i < WAIT_MS / 50; i++) {
        json_t *st = run_json(n, id, args);
        bool ready = json_is_true(json_object_get(st, "connected")) &&
                     json_integer_value(json_object_get(st, "directory_serial")) > 0;
        json_decref(st);
        if (ready)
            return;
        usleep(50 * 1000);
    }
    fail_msg("%s did not connect within %d ms", id, WAIT_MS);
}

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof *n);
    net_create(n, NULL);
    *state = n;
    return 0;
}

/* Also after a failure: cmocka runs it, so nothing is left running. */
static int teardown(void **state)
{
    struct net *n = *state;
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_stop(n, cast[i]);
    if (n->broker_pid > 0)
        net_broker_stop(n);
    net_destroy(n);
    free(n);
    return 0;
}

static void test_dashboard_in_chromium(void **state)
{
    struct net *n = *state;
    static const char *const needed[] = {"/usr/bin/chromium", "/usr/bin/chromedriver", PYTHON};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (access(needed[i], X_OK) != 0)
            fail_msg("%s is missing: the browser test needs Debian's chromium, chromium-driver "
                     "and python3-selenium (sh deploy/install-deps.sh installs them)",
                     needed[i]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    net_broker_start(n);
    net_agent_setup(n, "police-a", NULL);
    net_agent_setup(n, "la-csc", NULL);
    net_agent_setup(n, "la-duty", "dashboard_listen = 127.0.0.1:0\ndashboard_token = " TOKEN "\n");
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_start(n, cast[i], NULL);
    char pattern[1024], endpoint[1024];
    snprintf(pattern, sizeof pattern, "%s/dashboard.endpoint", net_agent_of(n, "la-duty")->state);
    assert_true(net_wait_glob(pattern, WAIT_MS, endpoint, sizeof endpoint));
    char url[128] = "";
    FILE *f = fopen(endpoint, "r");
    assert_non_null(f);
    assert_non_null(fgets(url, sizeof url, f));
    fclose(f);
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        await_connected(n, cast[i]);

    /* Something to show: an urgent case the LA has acknowledged, and a routine
     * one whose acknowledgement deadline passes while nobody acts. The
     * guardian is offline throughout, so both go undelivered to it. */
    char *acked = refer(n, "urgent", false);
    char *late = refer(n, "routine", false);
    await_notice(n, "la-duty", late, "new_referral");
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-referral.json",
             net_agent_of(n, "la-csc")->spool, acked);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0));
    const char *ack[] = {"send", "acknowledgement", "--case", acked, ACK, NULL};
    json_decref(run_json(n, "la-csc", ack));
    net_clock_advance(n, 4 * DAY_MS);
    await_notice(n, "la-duty", late, "deadline_breached");
    await_notice(n, "la-duty", acked, "undelivered");

    char shots[600], referral[700];
    snprintf(shots, sizeof shots, "%s", CF_BROWSER_OUT);
    mkdir(shots, 0755);
    snprintf(referral, sizeof referral, "%s/referral-immediate.json", n->dir);
    json_t *doc = json_load_file(EXAMPLE, 0, NULL);
    assert_int_equal(json_dump_file(doc, referral, 0), 0);
    json_decref(doc);
    const char *argv[] = {PYTHON,
                          SCRIPT,
                          "--url",
                          url,
                          "--token",
                          TOKEN,
                          "--childfirst",
                          CF_BIN_DIR "/childfirst",
                          "--referrer-config",
                          net_agent_of(n, "police-a")->ini,
                          "--referral",
                          referral,
                          "--breached-case",
                          late,
                          "--acknowledged-case",
                          acked,
                          "--screenshots",
                          shots,
                          NULL};
    int status = net_run(argv, out, sizeof out);
    fputs(out, stderr);
    if (status != 0)
        fail_msg("the browser test failed (exit %d); its screenshots are in %s", status, shots);

    free(acked);
    free(late);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "the browser test took %.1f s in all\n",
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dashboard_in_chromium, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
