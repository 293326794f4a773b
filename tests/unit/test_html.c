/* The dashboard's pages (agents/agent_html.c): every value escaped, cases in
 * deadline order with breaches and undelivered items marked, child details on
 * the case page only, and nothing loaded from outside the agent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent_html.h"

#define NOW_ISO "2026-11-18T12:00:00.000Z"
#define CASE_A "cf-aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CASE_B "cf-bbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CASE_C "cf-cccccccccccccccccccccccccc"
#define EVIL "<img src=x onerror=alert(1)>\"'&"

static uint64_t now_ms(void)
{
    uint64_t ms;
    assert_true(agent_html_parse_time(NOW_ISO, &ms));
    return ms;
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    if (!doc)
        fail_msg("bad test JSON: %s", e.text);
    return doc;
}

static void test_escape(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"", ""},
        {"plain text", "plain text"},
        {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
        {"a & b", "a &amp; b"},
        {"\"quoted\" and 'single'", "&quot;quoted&quot; and &#39;single&#39;"},
        {"&amp;", "&amp;amp;"},
        {"caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93"}, /* UTF-8 passes unchanged */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cf_buf b;
        cf_buf_init(&b, 0);
        agent_html_escape(&b, cases[i][0]);
        cf_buf_put(&b, "", 1);
        assert_string_equal((const char *)b.data, cases[i][1]);
        cf_buf_fini(&b);
    }
    struct cf_buf b;
    cf_buf_init(&b, 0);
    agent_html_escape(&b, NULL);
    assert_int_equal(b.len, 0);
    cf_buf_fini(&b);
}

static void test_parse_time(void **state)
{
    (void)state;
    uint64_t ms;
    assert_true(agent_html_parse_time("1970-01-01T00:00:00.000Z", &ms));
    assert_int_equal(ms, 0);
    assert_true(agent_html_parse_time("2026-11-18T05:40:00.123Z", &ms));
    assert_int_equal(ms, 1794980400123ull);
    static const char *const bad[] = {NULL,
                                      "",
                                      "2026-11-18",
                                      "2026-11-18T05:40:00Z",
                                      "2026-13-18T05:40:00.000Z",
                                      "2026-11-18T05:40:00.000Zx",
                                      "12 ms"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(agent_html_parse_time(bad[i], &ms));
}

/* Three cases: B due first and already breached, A due later, C with no
 * deadline; C has an undelivered message; every text field is hostile. */
static json_t *dashboard_model(void)
{
    json_t *m =
        load("{\"agency\": \"la-duty\", \"connected\": true,"
             " \"events_from\": \"17-4\", \"cases\": ["
             " {\"case_id\": \"" CASE_A "\", \"state\": \"referred\", \"urgency\": "
             "\"urgent\", \"updated_leaf\": 9, \"next\": {\"name\": \"acknowledgement\", "
             "\"due\": \"2026-11-19T23:59:59.999Z\"}, \"breached\": false},"
             " {\"case_id\": \"" CASE_C "\", \"state\": \"acknowledged\", \"urgency\": "
             "\"routine\", \"updated_leaf\": 3, \"breached\": false, \"undelivered\": true},"
             " {\"case_id\": \"" CASE_B "\", \"state\": \"referred\", \"urgency\": "
             "\"immediate\", \"immediate_risk\": true, \"updated_leaf\": 5, \"next\": "
             "{\"name\": \"acknowledgement\", \"due\": \"2026-11-18T09:00:00.000Z\"}}],"
             " \"feed\": ["
             " {\"type\": \"notice\", \"kind\": \"deadline_breached\", \"case_id\": \"" CASE_B
             "\", \"sender\": \"broker\", \"received_at\": \"2026-11-18T09:00:00.000Z\", "
             "\"deadline\": \"acknowledgement\", \"due\": \"2026-11-18T09:00:00.000Z\"},"
             " {\"type\": \"notice\", \"kind\": \"new_referral\", \"case_id\": \"" CASE_B
             "\", \"sender\": \"broker\", \"urgency\": \"immediate\", \"received_at\": "
             "\"2026-11-18T05:41:00.000Z\"}]}");
    json_object_set_new(m, "now", json_integer((json_int_t)now_ms()));
    json_t *evil = json_object();
    json_object_set_new(evil, "case_id", json_string("javascript:alert(1)"));
    json_object_set_new(evil, "state", json_string(EVIL));
    json_object_set_new(evil, "urgency", json_string(EVIL));
    json_object_set_new(evil, "updated_leaf", json_integer(1));
    json_array_append_new(json_object_get(m, "cases"), evil);
    json_t *item = json_object();
    json_object_set_new(item, "type", json_string(EVIL));
    json_object_set_new(item, "sender", json_string(EVIL));
    json_object_set_new(item, "case_id", json_string(EVIL));
    json_array_append_new(json_object_get(m, "feed"), item);
    return m;
}

static void test_dashboard(void **state)
{
    (void)state;
    json_t *m = dashboard_model();
    size_t len = 0;
    char *page = agent_html_dashboard(m, &len);
    assert_non_null(page);
    assert_int_equal(strlen(page), len);
    /* Soonest first: B (due this morning), A (tomorrow), then C (none). */
    char *b = strstr(page, "data-case=\"" CASE_B "\""),
         *a = strstr(page, "data-case=\"" CASE_A "\""),
         *c = strstr(page, "data-case=\"" CASE_C "\"");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(b < a && a < c);
    /* B is overdue: marked as breached though the model did not say so. */
    assert_non_null(strstr(page, "<tr class=\"case breached immediate\" data-case=\"" CASE_B));
    assert_non_null(strstr(page, "<tr class=\"case undelivered\" data-case=\"" CASE_C));
    assert_non_null(strstr(page, "<tr class=\"case\" data-case=\"" CASE_A));
    assert_non_null(strstr(page, "3 h 00 min overdue"));
    assert_non_null(strstr(page, "immediate risk"));
    /* Times in UK civil time: 09:00 UTC in November is 09:00 GMT. */
    assert_non_null(strstr(page, "Wed, 18 Nov 2026, 09:00 GMT"));
    /* The feed, with alarms marked. */
    assert_non_null(strstr(page, "<li class=\"item alert\">"));
    assert_non_null(strstr(page, "Deadline breached"));
    assert_non_null(strstr(page, "<li class=\"item immediate\">"));
    assert_non_null(strstr(page, "New referral"));
    /* Hostile text is escaped everywhere; a non-case id never becomes a link. */
    assert_null(strstr(page, "<img"));
    assert_non_null(strstr(page, "&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
    assert_null(strstr(page, "href=\"javascript"));
    assert_non_null(strstr(page, "href=\"/cases/" CASE_A "\""));
    /* Only the agent's own files, and the live feed's mark. */
    assert_non_null(strstr(page, "<link rel=\"stylesheet\" href=\"/static/app.css\">"));
    assert_non_null(strstr(page, "<script src=\"/static/app.js\"></script>"));
    assert_non_null(strstr(page, "data-events-from=\"17-4\""));
    assert_null(strstr(page, "http:"));
    assert_null(strstr(page, "https:"));
    assert_null(strstr(page, "<script>"));
    assert_null(strstr(page, "style="));
    free(page);
    json_decref(m);
}

static void test_dashboard_empty_and_broker_note(void **state)
{
    (void)state;
    json_t *m = load("{\"agency\": \"la-duty\", \"connected\": false, \"now\": 0, "
                     "\"events_from\": \"1-0\", \"cases\": [], \"feed\": [], "
                     "\"broker_note\": \"The broker is not connected\"}");
    size_t len;
    char *page = agent_html_dashboard(m, &len);
    assert_non_null(strstr(page, "id=\"no-cases\""));
    assert_non_null(strstr(page, "Broker not connected"));
    assert_non_null(strstr(page, "The broker is not connected"));
    free(page);
    json_decref(m);
}

static void test_case_page(void **state)
{
    (void)state;
    json_t *m = load(
        "{\"agency\": \"la-duty\", \"view\": {\"case_id\": \"" CASE_A "\", \"timeline\": ["
        " {\"at\": \"2026-11-18T05:40:00.000Z\", \"leaf_index\": 4, \"direction\": \"received\","
        " \"type\": \"referral\", \"sender\": \"police-a\", \"message_id\": \"ab\"},"
        " {\"at\": \"2026-11-18T06:00:00.000Z\", \"leaf_index\": 6, \"direction\": \"received\","
        " \"type\": \"notice\", \"kind\": \"undelivered\", \"sender\": \"broker\", "
        "\"message_id\": \"cd\"}],"
        " \"broker\": {\"state\": \"referred\", \"owner\": \"la-csc\", \"jurisdiction\": "
        "\"england-wales\", \"la_code\": \"E09000033\", \"deadlines\": [{\"name\": "
        "\"acknowledgement\", \"due\": \"2026-11-18T09:00:00.000Z\"}, {\"name\": "
        "\"rg_determination\", \"due\": \"2027-01-02T00:00:00.000Z\"}]}},"
        " \"docs\": [{\"type\": \"referral\", \"sender\": \"police-a\", \"accepted_at\": "
        "\"2026-11-18T05:40:00.000Z\", \"payload\": {\"child\": {\"given_name\": \"<b>Ama</b>\", "
        "\"languages\": [\"ti\"], \"age_disputed\": true, \"estimated_age\": 15}, "
        "\"narrative\": \"line one\\nline 'two'\"}}]}");
    json_object_set_new(m, "now", json_integer((json_int_t)now_ms()));
    size_t len;
    char *page = agent_html_case(m, &len);
    assert_non_null(page);
    assert_non_null(strstr(page, "Case " CASE_A));
    assert_non_null(strstr(page, "<dd id=\"fact-owner\">la-csc</dd>"));
    assert_non_null(strstr(page, "id=\"timeline\""));
    assert_non_null(strstr(page, "<tr class=\"alert\">")); /* the undelivered notice */
    assert_non_null(strstr(page, "<tr class=\"breached\"><td>Acknowledgement"));
    assert_non_null(strstr(page, "<tr><td>Reasonable grounds decision"));
    assert_non_null(strstr(page, "end of Fri, 01 Jan 2027")); /* a deadline at midnight */
    assert_non_null(strstr(page, "id=\"child\""));
    assert_non_null(strstr(page, "&lt;b&gt;Ama&lt;/b&gt;"));
    assert_null(strstr(page, "<b>Ama"));
    assert_non_null(strstr(page, "line &#39;two&#39;"));
    assert_non_null(strstr(page, "<dt>Age disputed</dt><dd>yes</dd>"));
    assert_non_null(strstr(page, "<dt>Estimated age</dt><dd>15</dd>"));
    free(page);
    /* Nothing decrypted (the sender, or no key): no child, and a sentence why. */
    json_object_set_new(m, "docs", json_array());
    json_object_del(json_object_get(m, "view"), "broker");
    json_object_set_new(json_object_get(m, "view"), "broker_note",
                        json_string("the broker is not connected"));
    page = agent_html_case(m, &len);
    assert_null(strstr(page, "id=\"child\""));
    assert_non_null(strstr(page, "holds no message of this case that it can decrypt"));
    assert_non_null(strstr(page, "the broker is not connected"));
    free(page);
    json_decref(m);
}

static void test_login_and_static_files(void **state)
{
    (void)state;
    size_t len;
    char *page = agent_html_login("la-<duty>", false, &len);
    assert_non_null(strstr(page, "la-&lt;duty&gt;"));
    assert_non_null(strstr(page, "<form method=\"post\" action=\"/login\""));
    assert_non_null(strstr(page, "type=\"password\""));
    assert_null(strstr(page, "That token is not right"));
    free(page);
    page = agent_html_login("la-duty", true, &len);
    assert_non_null(strstr(page, "That token is not right"));
    free(page);
    page = agent_html_message("Not <found>", "There is no such page here.", &len);
    assert_non_null(strstr(page, "Not &lt;found&gt;"));
    free(page);
    /* The script writes text, never markup, and fetches only this origin. */
    assert_null(strstr(agent_html_app_js, "innerHTML"));
    assert_null(strstr(agent_html_app_js, "outerHTML"));
    assert_null(strstr(agent_html_app_js, "insertAdjacentHTML"));
    assert_null(strstr(agent_html_app_js, "eval("));
    assert_null(strstr(agent_html_app_js, "http"));
    assert_non_null(strstr(agent_html_app_js, "new EventSource('/events"));
    assert_null(strstr(agent_html_app_css, "url("));
    assert_null(strstr(agent_html_app_css, "@import"));
    assert_null(strstr(agent_html_app_css, "@font-face"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),    cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_dashboard), cmocka_unit_test(test_dashboard_empty_and_broker_note),
        cmocka_unit_test(test_case_page), cmocka_unit_test(test_login_and_static_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
