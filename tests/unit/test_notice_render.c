/* The JSON an agent writes for each broker notice kind: its spool file, its
 * hook's stdin. Each notice goes through the wire encoding first, as it does
 * on arrival. The renderer reads header-level fields only, so the tests pin
 * down that every key is one of agent_notice_keys and every string is an id,
 * an enum or a time: there is no field through which free text, and so a
 * child's details, could reach a duty team. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent_notice.h"
#include "childfirst/wire.h"

#define CASE_ID "cf-abcdefghijklmnopqrstuvwxyq"
#define ISSUED 1795167000250ull /* 2026-11-20T09:30:00.250Z */
#define DUE 1795478399999ull    /* 2026-11-23T23:59:59.999Z */
#define ISSUED_TEXT "2026-11-20T09:30:00.250Z"
#define DUE_TEXT "2026-11-23T23:59:59.999Z"

/* One notice as the broker issues it (broker/notices.c, timers.c, cases.c). */
struct row {
    const char *kind;
    enum cf_urgency urgency;
    bool immediate_risk;
    const char *referrer, *deadline, *state, *code;
    bool due, about;
    const char *outstanding[3];
};

static const struct row rows[] = {
    {"new_referral",
     CF_URGENCY_IMMEDIATE,
     true,
     "police-a",
     NULL,
     "referred",
     NULL,
     false,
     true,
     {NULL}},
    {"undelivered",
     CF_URGENCY_IMMEDIATE,
     true,
     "police-a",
     NULL,
     "referred",
     NULL,
     false,
     true,
     {"guardian-x", "la-csc", NULL}},
    {"undelivered",
     CF_URGENCY_URGENT,
     false,
     "police-a",
     NULL,
     "referred",
     "CF_EDECRYPT",
     false,
     true,
     {"la-csc", NULL}},
    {"non_delivery",
     CF_URGENCY_ROUTINE,
     false,
     "police-a",
     NULL,
     "acknowledged",
     NULL,
     false,
     true,
     {"guardian-x", NULL}},
    {"deadline_near",
     CF_URGENCY_IMMEDIATE,
     true,
     "police-a",
     "acknowledgement",
     "referred",
     NULL,
     true,
     false,
     {NULL}},
    {"deadline_breached",
     CF_URGENCY_IMMEDIATE,
     true,
     "police-a",
     "acknowledgement",
     "referred",
     NULL,
     true,
     false,
     {NULL}},
    {"deadline_breached",
     CF_URGENCY_ROUTINE,
     false,
     "police-a",
     "conference",
     "strategy_held",
     NULL,
     true,
     false,
     {NULL}},
    {"inquorate",
     CF_URGENCY_URGENT,
     false,
     "police-a",
     NULL,
     "convened",
     NULL,
     false,
     false,
     {NULL}},
    {"convened", CF_URGENCY_URGENT, false, "police-a", NULL, "convened", NULL, false, true, {NULL}},
    {"determination",
     CF_URGENCY_IMMEDIATE,
     true,
     "police-a",
     NULL,
     "determined",
     NULL,
     false,
     true,
     {NULL}},
    {"determination_rejected",
     CF_URGENCY_IMMEDIATE,
     true,
     "police-a",
     NULL,
     "convened",
     NULL,
     false,
     true,
     {NULL}},
    {"transfer_in",
     CF_URGENCY_URGENT,
     false,
     "police-a",
     NULL,
     "acknowledged",
     NULL,
     false,
     true,
     {NULL}},
    /* A notice with nothing optional: only the fixed keys appear. */
    {"convened", CF_URGENCY_NONE, false, NULL, NULL, NULL, NULL, false, false, {NULL}},
};

/* The notice of `r`, encoded and decoded as the agent receives it. */
static void notice_of(const struct row *r, struct cf_notice *out)
{
    struct cf_notice n;
    memset(&n, 0, sizeof n);
    n.version = CF_PROTOCOL_VERSION;
    for (size_t i = 0; i < sizeof n.notice_id; i++)
        n.notice_id[i] = (uint8_t)(0xa0 + i);
    snprintf(n.kind, sizeof n.kind, "%s", r->kind);
    snprintf(n.case_id, sizeof n.case_id, "%s", CASE_ID);
    n.n_recipients = 1;
    snprintf(n.recipients[0], sizeof n.recipients[0], "la-duty");
    n.created_at = ISSUED;
    n.urgency = r->urgency;
    n.has_immediate_risk = r->urgency != CF_URGENCY_NONE;
    n.immediate_risk = r->immediate_risk;
    if (r->referrer)
        snprintf(n.referring_agency, sizeof n.referring_agency, "%s", r->referrer);
    n.has_about_leaf = r->about;
    n.about_leaf = 41;
    if (r->deadline)
        snprintf(n.deadline, sizeof n.deadline, "%s", r->deadline);
    n.has_due = r->due;
    n.due = DUE;
    if (r->state)
        snprintf(n.state, sizeof n.state, "%s", r->state);
    if (r->code)
        snprintf(n.code, sizeof n.code, "%s", r->code);
    for (size_t i = 0; r->outstanding[i]; i++)
        snprintf(n.outstanding[n.n_outstanding++], sizeof n.outstanding[0], "%s",
                 r->outstanding[i]);
    uint8_t *bytes = NULL;
    size_t len = 0;
    struct cf_error err = {0};
    assert_int_equal(cf_wire_notice_encode(&n, &bytes, &len), 0);
    if (cf_wire_notice_decode(bytes, len, out, &err) != 0)
        fail_msg("%s: %s", r->kind, err.text);
    free(bytes);
}

static const char *str(const json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key));
}

/* An id, an enum, a CF_E* name or an ISO-8601 time: nothing else. */
static bool header_text(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:.", *s))
            return false;
    return true;
}

static void assert_only_header_fields(const json_t *doc, const char *kind)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)doc, key, v)
    {
        bool known = false;
        for (size_t i = 0; agent_notice_keys[i]; i++)
            known = known || strcmp(key, agent_notice_keys[i]) == 0;
        if (!known)
            fail_msg("%s: key '%s' is not a notice key", kind, key);
        if (json_is_string(v) && !header_text(json_string_value(v)))
            fail_msg("%s: %s is \"%s\", not an id, enum or time", kind, key, json_string_value(v));
        if (json_is_array(v)) {
            size_t i;
            const json_t *item;
            json_array_foreach(v, i, item)
            {
                if (!json_is_string(item) || !header_text(json_string_value(item)))
                    fail_msg("%s: %s[%zu] is not an id", kind, key, i);
            }
        }
        if (json_is_object(v))
            fail_msg("%s: %s is an object; a notice has no nested documents", kind, key);
    }
}

static void test_every_kind(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        const struct row *r = &rows[k];
        struct cf_notice n;
        notice_of(r, &n);
        json_t *doc = agent_notice_render(&n, 42);
        assert_non_null(doc);
        assert_only_header_fields(doc, r->kind);
        /* The fixed part. */
        assert_int_equal(json_integer_value(json_object_get(doc, "leaf_index")), 42);
        assert_string_equal(str(doc, "type"), "notice");
        assert_string_equal(str(doc, "kind"), r->kind);
        assert_string_equal(str(doc, "sender"), "broker");
        assert_string_equal(str(doc, "case_id"), CASE_ID);
        assert_string_equal(str(doc, "message_id"), "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
        assert_string_equal(str(doc, "created_at"), ISSUED_TEXT);
        /* What this kind carries, and nothing it does not. */
        if (r->urgency) {
            assert_string_equal(str(doc, "urgency"), cf_header_urgency_name(r->urgency));
            assert_true(json_is_boolean(json_object_get(doc, "immediate_risk")));
            assert_int_equal(json_is_true(json_object_get(doc, "immediate_risk")),
                             r->immediate_risk);
        } else {
            assert_null(json_object_get(doc, "urgency"));
            assert_null(json_object_get(doc, "immediate_risk"));
        }
        if (r->deadline) {
            assert_string_equal(str(doc, "deadline"), r->deadline);
            assert_string_equal(str(doc, "due"), DUE_TEXT);
        } else {
            assert_null(json_object_get(doc, "deadline"));
            assert_null(json_object_get(doc, "due"));
        }
        if (r->about)
            assert_int_equal(json_integer_value(json_object_get(doc, "about_leaf")), 41);
        else
            assert_null(json_object_get(doc, "about_leaf"));
        if (r->referrer)
            assert_string_equal(str(doc, "referring_agency"), r->referrer);
        else
            assert_null(json_object_get(doc, "referring_agency"));
        if (r->state)
            assert_string_equal(str(doc, "state"), r->state);
        else
            assert_null(json_object_get(doc, "state"));
        if (r->code)
            assert_string_equal(str(doc, "code"), r->code);
        else
            assert_null(json_object_get(doc, "code"));
        const json_t *out = json_object_get(doc, "outstanding");
        size_t want = 0;
        while (r->outstanding[want])
            want++;
        if (want == 0) {
            assert_null(out);
        } else {
            assert_int_equal(json_array_size(out), want);
            for (size_t i = 0; i < want; i++)
                assert_string_equal(json_string_value(json_array_get(out, i)), r->outstanding[i]);
        }
        json_decref(doc);
    }
}

/* Every kind the broker can issue has a row above, so a new kind cannot slip
 * past these tests unrendered. */
static void test_rows_cover_every_kind(void **state)
{
    (void)state;
    for (int kind = 1; kind < CF_NOTICE_KIND_COUNT; kind++) {
        const char *name = cf_notice_kind_name((enum cf_notice_kind)kind);
        bool found = false;
        for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
            found = found || strcmp(rows[k].kind, name) == 0;
        if (!found)
            fail_msg("no rendering test for notice kind %s", name);
    }
}

/* The notice's recipients and version are routing facts for the broker, not
 * something a duty team's systems need: they are not rendered. */
static void test_routing_fields_stay_out(void **state)
{
    (void)state;
    struct cf_notice n;
    notice_of(&rows[0], &n);
    json_t *doc = agent_notice_render(&n, 7);
    assert_null(json_object_get(doc, "recipients"));
    assert_null(json_object_get(doc, "version"));
    assert_null(json_object_get(doc, "payload"));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),
        cmocka_unit_test(test_rows_cover_every_kind),
        cmocka_unit_test(test_routing_fields_stay_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
