/* The hook queue's pure part: the backoff between retries (1 s doubling to
 * 10 minutes, never overflowing however many failures), and the CHILDFIRST_*
 * environment of a run for each kind of delivery: every notice kind, a case
 * message, a determination and the agent's own notice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_hook_plan.h"

#define CASE_ID "cf-abcdefghijklmnopqrstuvwxyq"
#define MESSAGE_ID "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"

static void test_backoff(void **state)
{
    (void)state;
    static const struct {
        uint32_t failures;
        uint64_t ms;
    } rows[] = {
        {0, 0},         {1, 1000},
        {2, 2000},      {3, 4000},
        {4, 8000},      {8, 128000},
        {10, 512000},   {11, 600000},
        {12, 600000},   {20, 600000},
        {64, 600000},   {65, 600000},
        {1000, 600000}, {UINT32_MAX, 600000},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t got = agent_hook_plan_backoff_ms(rows[i].failures);
        if (got != rows[i].ms)
            fail_msg("after %u failures: %llu ms, not %llu", rows[i].failures,
                     (unsigned long long)got, (unsigned long long)rows[i].ms);
    }
    /* Never shorter than the one before. */
    for (uint32_t f = 1; f < 100; f++)
        assert_true(agent_hook_plan_backoff_ms(f) >= agent_hook_plan_backoff_ms(f - 1));
}

/* The value of NAME in `env`, or fails. */
static const char *var(const struct agent_hook_env *env, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < AGENT_HOOK_VARS; i++)
        if (strncmp(env->vars[i], name, n) == 0 && env->vars[i][n] == '=')
            return env->vars[i] + n + 1;
    fail_msg("%s is not set", name);
    return NULL;
}

static json_t *notice(const char *kind)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "leaf_index", (json_int_t)42,
                     "type", "notice", "kind", kind, "sender", "broker", "message_id", MESSAGE_ID,
                     "case_id", CASE_ID, "created_at", "2026-11-20T09:30:00.250Z", "urgency",
                     "immediate", "immediate_risk", 1);
}

static void test_every_notice_kind(void **state)
{
    (void)state;
    static const char *const kinds[] = {
        "new_referral",           "undelivered", "non_delivery", "deadline_near",
        "deadline_breached",      "inquorate",   "convened",     "determination",
        "determination_rejected", "transfer_in"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        json_t *doc = notice(kinds[i]);
        bool deadline = strncmp(kinds[i], "deadline_", 9) == 0;
        if (deadline) {
            json_object_set_new(doc, "deadline", json_string("acknowledgement"));
            json_object_set_new(doc, "due", json_string("2026-11-23T23:59:59.999Z"));
        }
        struct agent_hook_env env;
        memset(&env, 'x', sizeof env); /* nothing stale survives */
        agent_hook_plan_env(doc, 42, 0, &env);
        assert_string_equal(var(&env, "CHILDFIRST_TYPE"), kinds[i]);
        assert_string_equal(var(&env, "CHILDFIRST_CASE"), CASE_ID);
        assert_string_equal(var(&env, "CHILDFIRST_URGENCY"), "immediate");
        assert_string_equal(var(&env, "CHILDFIRST_IMMEDIATE_RISK"), "yes");
        assert_string_equal(var(&env, "CHILDFIRST_DEADLINE"), deadline ? "acknowledgement" : "");
        assert_string_equal(var(&env, "CHILDFIRST_DUE"),
                            deadline ? "2026-11-23T23:59:59.999Z" : "");
        assert_string_equal(var(&env, "CHILDFIRST_LEAF"), "42");
        assert_string_equal(var(&env, "CHILDFIRST_MESSAGE_ID"), MESSAGE_ID);
        json_decref(doc);
    }
}

static void test_messages_and_determinations(void **state)
{
    (void)state;
    /* A referral: its type, and the payload never reaches the environment. */
    json_t *doc =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s, s:s}}", "leaf_index", (json_int_t)7,
                  "type", "referral", "message_id", MESSAGE_ID, "case_id", CASE_ID, "sender",
                  "police-a", "urgency", "urgent", "immediate_risk", 0, "payload", "narrative",
                  "the child's story", "deadline", "not a header field");
    struct agent_hook_env env;
    agent_hook_plan_env(doc, 7, 0, &env);
    assert_string_equal(var(&env, "CHILDFIRST_TYPE"), "referral");
    assert_string_equal(var(&env, "CHILDFIRST_URGENCY"), "urgent");
    assert_string_equal(var(&env, "CHILDFIRST_IMMEDIATE_RISK"), "no");
    assert_string_equal(var(&env, "CHILDFIRST_DEADLINE"), "");
    assert_string_equal(var(&env, "CHILDFIRST_DUE"), "");
    for (int i = 0; i < AGENT_HOOK_VARS; i++)
        assert_null(strstr(env.vars[i], "story"));
    json_decref(doc);

    /* A sealed determination goes to on_message with its own type. */
    doc = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:b}", "leaf_index", (json_int_t)90, "type",
                    "determination", "message_id", MESSAGE_ID, "case_id", CASE_ID, "sender",
                    "broker", "urgency", "immediate", "immediate_risk", 1);
    agent_hook_plan_env(doc, 90, 0, &env);
    assert_string_equal(var(&env, "CHILDFIRST_TYPE"), "determination");
    assert_string_equal(var(&env, "CHILDFIRST_CASE"), CASE_ID);
    assert_string_equal(var(&env, "CHILDFIRST_URGENCY"), "immediate");
    assert_string_equal(var(&env, "CHILDFIRST_LEAF"), "90");
    json_decref(doc);
}

static void test_local_notice_and_odd_values(void **state)
{
    (void)state;
    /* The agent's own notice: no case, no leaf, no urgency. */
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "type", "notice", "kind", "key_changed",
                            "sender", "agent", "message_id", MESSAGE_ID);
    struct agent_hook_env env;
    agent_hook_plan_env(doc, UINT64_C(1) << 63, 1, &env);
    assert_string_equal(var(&env, "CHILDFIRST_TYPE"), "key_changed");
    assert_string_equal(var(&env, "CHILDFIRST_CASE"), "");
    assert_string_equal(var(&env, "CHILDFIRST_URGENCY"), "");
    assert_string_equal(var(&env, "CHILDFIRST_IMMEDIATE_RISK"), "");
    assert_string_equal(var(&env, "CHILDFIRST_LEAF"), "");
    json_decref(doc);

    /* A value that is no id, enum or time is left out, not passed on. */
    doc = notice("new_referral");
    json_object_set_new(doc, "case_id", json_string("cf-x\nEVIL=1"));
    json_object_set_new(doc, "urgency", json_string("immediate; rm -rf /"));
    json_object_set_new(doc, "deadline", json_string(""));
    json_object_set_new(doc, "due", json_integer(5));
    agent_hook_plan_env(doc, 42, 0, &env);
    assert_string_equal(var(&env, "CHILDFIRST_CASE"), "");
    assert_string_equal(var(&env, "CHILDFIRST_URGENCY"), "");
    assert_string_equal(var(&env, "CHILDFIRST_DEADLINE"), "");
    assert_string_equal(var(&env, "CHILDFIRST_DUE"), "");
    json_decref(doc);
}

/* The agent drops exactly the names it sets from what it passes on. */
static void test_owned_names(void **state)
{
    (void)state;
    assert_true(agent_hook_plan_owns("CHILDFIRST_TYPE=stale"));
    assert_true(agent_hook_plan_owns("CHILDFIRST_DUE="));
    assert_true(agent_hook_plan_owns("CHILDFIRST_MESSAGE_ID=x"));
    assert_false(agent_hook_plan_owns("CHILDFIRST_MAIL_TO=duty@example.org"));
    assert_false(agent_hook_plan_owns("CHILDFIRST_CONFIG=/etc/childfirst/agent.ini"));
    assert_false(agent_hook_plan_owns("CHILDFIRST_TYPES=x"));
    assert_false(agent_hook_plan_owns("PATH=/usr/bin"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_every_notice_kind),
        cmocka_unit_test(test_messages_and_determinations),
        cmocka_unit_test(test_local_notice_and_odd_values),
        cmocka_unit_test(test_owned_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
