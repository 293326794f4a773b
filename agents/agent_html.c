/* The dashboard's HTML: pages rendered from JSON models, with every value
 * escaped by one function, times shown in Europe/London, and no resource from
 * outside the agent. The script and style sheet live here too, as constants,
 * so the binary serves everything the page needs (agent_html.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_html.h"
#include "childfirst/calendar.h"
#include "childfirst/header.h"

#define DEPTH_MAX 8 /* nesting shown of a decrypted document */

/* ---- Building blocks ---- */

static void put(struct cf_buf *b, const char *s)
{
    cf_buf_put(b, s, strlen(s));
}

/* Markup from trusted text: the format and numbers only, never a value. */
static void putf(struct cf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct cf_buf *b, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n > 0)
        cf_buf_put(b, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

void agent_html_escape(struct cf_buf *b, const char *s)
{
    if (!s)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *ent = *s == '&'    ? "&amp;"
                          : *s == '<'  ? "&lt;"
                          : *s == '>'  ? "&gt;"
                          : *s == '"'  ? "&quot;"
                          : *s == '\'' ? "&#39;"
                                       : NULL;
        if (!ent)
            continue;
        cf_buf_put(b, run, (size_t)(s - run));
        put(b, ent);
        run = s + 1;
    }
    cf_buf_put(b, run, (size_t)(s - run));
}

static void esc(struct cf_buf *b, const char *s)
{
    agent_html_escape(b, s);
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static bool flag(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

static char *finish(struct cf_buf *b, size_t *len)
{
    cf_buf_put(b, "", 1);
    if (cf_buf_status(b) != 0) {
        cf_buf_fini(b);
        return NULL;
    }
    *len = b->len - 1;
    return (char *)b->data;
}

/* ---- Times ---- */

bool agent_html_parse_time(const char *iso, uint64_t *ms)
{
    int y, mo, d, h, mi, s, frac, used = 0;
    if (!iso ||
        sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &s, &frac, &used) !=
            7 ||
        used != 24 || iso[used] || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || s > 60 || frac < 0)
        return false;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    time_t t = timegm(&tm);
    if (t < 0)
        return false;
    *ms = (uint64_t)t * 1000u + (uint64_t)frac;
    return true;
}

/* "Wed, 18 Nov 2026, 05:40 GMT": what a duty team in the UK reads (and what
 * app.js writes with en-GB). A deadline at local midnight is the end of the
 * day before: "end of Mon, 07 Dec 2026". */
static void local_time(uint64_t ms, bool deadline, char out[64])
{
    uint32_t off = cf_calendar_utc_offset_ms(ms);
    time_t t = (time_t)((ms + off) / 1000);
    struct tm tm;
    bool midnight = deadline && (ms + off) % 86400000u == 0;
    if (midnight)
        t -= 1;
    if (!gmtime_r(&t, &tm) ||
        !strftime(out, 64, midnight ? "end of %a, %d %b %Y" : "%a, %d %b %Y, %H:%M", &tm)) {
        snprintf(out, 64, "?");
        return;
    }
    if (!midnight)
        strcat(out, off ? " BST" : " GMT");
}

/* "in 2 h 05 min" or "3 days 4 h overdue". */
static void relative(uint64_t due, uint64_t now, char out[64])
{
    bool late = due <= now;
    uint64_t m = (late ? now - due : due - now) / 60000u;
    uint64_t days = m / 1440u, hours = m / 60u % 24u, mins = m % 60u;
    char span[48];
    if (days)
        snprintf(span, sizeof span, "%llu day%s %llu h", (unsigned long long)days,
                 days == 1 ? "" : "s", (unsigned long long)hours);
    else if (hours)
        snprintf(span, sizeof span, "%llu h %02llu min", (unsigned long long)hours,
                 (unsigned long long)mins);
    else
        snprintf(span, sizeof span, "%llu min", (unsigned long long)mins);
    snprintf(out, 64, late ? "%s overdue" : "in %s", span);
}

/* <time datetime="ISO">local</time>, or the text as it came if it is not a time. */
static void put_when(struct cf_buf *b, const char *iso, bool deadline)
{
    uint64_t ms;
    char local[64];
    if (!agent_html_parse_time(iso, &ms)) {
        esc(b, iso ? iso : "");
        return;
    }
    local_time(ms, deadline, local);
    put(b, "<time datetime=\"");
    esc(b, iso);
    put(b, "\">");
    esc(b, local);
    put(b, "</time>");
}

static void put_time(struct cf_buf *b, const char *iso)
{
    put_when(b, iso, false);
}

static void put_due(struct cf_buf *b, const char *iso)
{
    put_when(b, iso, true);
}

/* ---- Words ---- */

static const char *const labels[][2] = {
    {"new_referral", "New referral"},
    {"undelivered", "Undelivered"},
    {"non_delivery", "Not delivered"},
    {"deadline_near", "Deadline near"},
    {"deadline_breached", "Deadline breached"},
    {"inquorate", "Inquorate"},
    {"convened", "Conference convened"},
    {"determination", "Determination"},
    {"determination_rejected", "Determination rejected"},
    {"transfer_in", "Transfer in"},
    {"key_changed", "Agency key changed"},
    {"rg_determination", "Reasonable grounds decision"},
    {"strategy", "Strategy discussion"},
    {"reconvene", "Reconvened conference"},
    {"ird_record", "IRD record"},
    {"nrm_return", "NRM return"},
};

/* A notice kind, message type or field name as words: "Deadline breached",
 * "Conference convened", "Given name". Escape the result. */
static const char *label_into(const char *name, char out[64])
{
    for (size_t i = 0; name && i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(labels[i][0], name) == 0)
            return labels[i][1];
    if (!name || strlen(name) >= 64)
        return name ? name : "";
    size_t i = 0;
    for (; name[i]; i++)
        out[i] = name[i] == '_' ? ' ' : name[i];
    out[i] = 0;
    if (out[0] >= 'a' && out[0] <= 'z')
        out[0] = (char)(out[0] - 'a' + 'A');
    return out;
}

static void put_label(struct cf_buf *b, const char *name)
{
    char words[64];
    esc(b, label_into(name, words));
}

static bool alarming(const char *kind)
{
    return kind && (strcmp(kind, "undelivered") == 0 || strcmp(kind, "non_delivery") == 0 ||
                    strcmp(kind, "deadline_breached") == 0 || strcmp(kind, "inquorate") == 0);
}

/* A link to the case page, for an id of the cf-... form only. */
static void put_case_link(struct cf_buf *b, const char *case_id)
{
    if (!case_id || !cf_header_case_id_valid(case_id, strlen(case_id))) {
        esc(b, case_id ? case_id : "");
        return;
    }
    put(b, "<a href=\"/cases/");
    esc(b, case_id);
    put(b, "\">");
    esc(b, case_id);
    put(b, "</a>");
}

/* ---- Page frame ---- */

static void page_head(struct cf_buf *b, const char *title, const char *page,
                      const char *events_from)
{
    put(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<title>");
    esc(b, title);
    put(b, "</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\n<body data-page=\"");
    esc(b, page);
    put(b, "\"");
    if (events_from) {
        put(b, " data-events-from=\"");
        esc(b, events_from);
        put(b, "\"");
    }
    put(b, ">\n");
}

static void top_bar(struct cf_buf *b, const char *agency, bool logout)
{
    put(b, "<header class=\"top\"><h1><a href=\"/\">ChildFirst</a> <span class=\"agency\">");
    esc(b, agency);
    put(b, "</span></h1>");
    if (logout)
        put(b, "<form method=\"post\" action=\"/logout\"><button type=\"submit\">Log out</button>"
               "</form>");
    put(b, "</header>\n");
}

static void page_end(struct cf_buf *b, bool script)
{
    if (script)
        put(b, "<script src=\"/static/app.js\"></script>");
    put(b, "\n</body></html>\n");
}

/* ---- Login ---- */

char *agent_html_login(const char *agency, bool refused, size_t *len)
{
    struct cf_buf b;
    cf_buf_init(&b, AGENT_HTML_MAX);
    page_head(&b, "ChildFirst: log in", "login", NULL);
    top_bar(&b, agency, false);
    put(&b, "<main class=\"login\"><h2>Log in to the dashboard</h2>");
    if (refused)
        put(&b, "<p class=\"refused\" id=\"refused\" role=\"alert\">That token is not right, so "
                "the dashboard stays closed. Use the dashboard_token from this agent's "
                "agent.ini, or ask whoever runs the agent.</p>");
    put(&b, "<form method=\"post\" action=\"/login\" autocomplete=\"off\">"
            "<label for=\"token\">Dashboard token</label> "
            "<input type=\"password\" id=\"token\" name=\"token\" required autofocus> "
            "<button type=\"submit\" id=\"login\">Log in</button></form>"
            "<p class=\"hint\">The token is kept in agent.ini as dashboard_token. It is sent "
            "once, with this form; the browser then holds a session cookie that ends after "
            "12 hours or when the agent restarts.</p></main>");
    page_end(&b, false);
    return finish(&b, len);
}

char *agent_html_message(const char *title, const char *text, size_t *len)
{
    struct cf_buf b;
    cf_buf_init(&b, AGENT_HTML_MAX);
    page_head(&b, title, "message", NULL);
    put(&b, "<main><h2>");
    esc(&b, title);
    put(&b, "</h2><p>");
    esc(&b, text);
    put(&b, "</p><p><a href=\"/\">Back to the dashboard</a></p></main>");
    page_end(&b, false);
    return finish(&b, len);
}

/* ---- Dashboard ---- */

/* The next deadline's due time in ms, or UINT64_MAX when there is none. */
static uint64_t next_due(const json_t *c)
{
    uint64_t ms;
    return agent_html_parse_time(str(json_object_get(c, "next"), "due"), &ms) ? ms : UINT64_MAX;
}

static int soonest_first(const void *x, const void *y)
{
    const json_t *a = *(const json_t *const *)x, *b = *(const json_t *const *)y;
    uint64_t da = next_due(a), db = next_due(b);
    if (da != db)
        return da < db ? -1 : 1;
    json_int_t ua = json_integer_value(json_object_get(a, "updated_leaf")),
               ub = json_integer_value(json_object_get(b, "updated_leaf"));
    if (ua != ub)
        return ua > ub ? -1 : 1;
    const char *ia = str(a, "case_id"), *ib = str(b, "case_id");
    return strcmp(ia ? ia : "", ib ? ib : "");
}

static void put_case_row(struct cf_buf *b, const json_t *c, uint64_t now)
{
    const json_t *next = json_object_get(c, "next");
    uint64_t due = next_due(c);
    bool breached = flag(c, "breached") || (due != UINT64_MAX && due <= now);
    bool undelivered = flag(c, "undelivered");
    const char *urgency = str(c, "urgency");
    bool immediate = urgency && strcmp(urgency, "immediate") == 0;
    put(b, "<tr class=\"case");
    if (breached)
        put(b, " breached");
    if (undelivered)
        put(b, " undelivered");
    if (immediate)
        put(b, " immediate");
    put(b, "\" data-case=\"");
    esc(b, str(c, "case_id"));
    put(b, "\"><td>");
    put_case_link(b, str(c, "case_id"));
    put(b, "</td><td>");
    esc(b, str(c, "state") ? str(c, "state") : "unknown");
    put(b, "</td><td>");
    if (immediate)
        put(b, "<span class=\"badge risk\">immediate</span>");
    else
        esc(b, urgency && urgency[0] ? urgency : "-");
    if (flag(c, "immediate_risk"))
        put(b, " <span class=\"badge risk\">immediate risk</span>");
    put(b, "</td><td>");
    if (next) {
        put_label(b, str(next, "name"));
        put(b, "</td><td>");
        put_due(b, str(next, "due"));
        if (due != UINT64_MAX) {
            char rel[64];
            relative(due, now, rel);
            put(b, " <span class=\"rel\">");
            esc(b, rel);
            put(b, "</span>");
        }
    } else {
        put(b, "-</td><td>-");
    }
    put(b, "</td><td class=\"alerts\">");
    if (breached)
        put(b, "<span class=\"badge alert\">deadline breached</span> ");
    if (undelivered)
        put(b, "<span class=\"badge warn\">undelivered</span>");
    put(b, "</td></tr>\n");
}

/* One live-feed line; app.js builds the same from each server-sent event. */
static void put_feed_item(struct cf_buf *b, const json_t *e)
{
    const char *kind = str(e, "kind"), *type = str(e, "type"), *urgency = str(e, "urgency");
    const char *what = kind ? kind : type;
    bool immediate = (urgency && strcmp(urgency, "immediate") == 0) || flag(e, "immediate_risk");
    put(b, "<li class=\"item");
    if (alarming(what))
        put(b, " alert");
    else if (what && strcmp(what, "deadline_near") == 0)
        put(b, " warn");
    if (immediate)
        put(b, " immediate");
    put(b, "\"><span class=\"when\">");
    put_time(b, str(e, "received_at"));
    put(b, "</span> <span class=\"what\">");
    put_label(b, what);
    put(b, "</span> ");
    if (str(e, "case_id") && str(e, "case_id")[0])
        put_case_link(b, str(e, "case_id"));
    put(b, " <span class=\"from\">from ");
    esc(b, str(e, "sender"));
    put(b, "</span>");
    if (immediate)
        put(b, " <span class=\"badge risk\">immediate</span>");
    if (str(e, "deadline")) {
        put(b, " <span class=\"detail\">");
        put_label(b, str(e, "deadline"));
        if (str(e, "due")) {
            put(b, " due ");
            put_due(b, str(e, "due"));
        }
        put(b, "</span>");
    }
    put(b, "</li>\n");
}

char *agent_html_dashboard(const json_t *model, size_t *len)
{
    struct cf_buf b;
    cf_buf_init(&b, AGENT_HTML_MAX);
    const char *agency = str(model, "agency");
    uint64_t now = (uint64_t)json_integer_value(json_object_get(model, "now"));
    char title[128];
    snprintf(title, sizeof title, "ChildFirst: %s", agency ? agency : "");
    page_head(&b, title, "dashboard", str(model, "events_from"));
    top_bar(&b, agency, true);
    bool connected = flag(model, "connected");
    put(&b, "<p class=\"status\"><span id=\"link\" class=\"");
    put(&b, connected ? "ok\">Broker connected" : "bad\">Broker not connected");
    put(&b, "</span> <span id=\"live\" class=\"pending\">Live feed: connecting</span></p>\n<main>"
            "<section class=\"cases\"><h2>Open cases</h2>");
    if (str(model, "broker_note")) {
        put(&b, "<p class=\"note\">");
        esc(&b, str(model, "broker_note"));
        put(&b, "</p>");
    }
    const json_t *cases = json_object_get(model, "cases");
    size_t n = json_array_size(cases), i;
    const json_t **sorted = calloc(n ? n : 1, sizeof *sorted);
    if (!sorted) {
        cf_buf_fini(&b);
        return NULL;
    }
    for (i = 0; i < n; i++)
        sorted[i] = json_array_get(cases, i);
    qsort(sorted, n, sizeof *sorted, soonest_first);
    put(&b, "<table id=\"cases\"><thead><tr><th>Case</th><th>State</th><th>Urgency</th>"
            "<th>Next deadline</th><th>Due</th><th>Alerts</th></tr></thead><tbody>\n");
    for (i = 0; i < n; i++)
        put_case_row(&b, sorted[i], now);
    free(sorted);
    put(&b, "</tbody></table>");
    if (n == 0)
        put(&b, "<p class=\"empty\" id=\"no-cases\">No open cases.</p>");
    put(&b, "</section>\n<section class=\"feed\"><h2>Live feed</h2><p class=\"hint\">Notices and "
            "messages appear here as they arrive, newest first.</p><ol id=\"feed\">\n");
    const json_t *e;
    json_array_foreach(json_object_get(model, "feed"), i, e) put_feed_item(&b, e);
    put(&b, "</ol></section></main>");
    page_end(&b, true);
    return finish(&b, len);
}

/* ---- Case page ---- */

/* A decrypted document as nested lists; every key and value escaped. */
static void put_value(struct cf_buf *b, const json_t *v, int depth)
{
    if (depth > DEPTH_MAX) {
        put(b, "...");
        return;
    }
    if (json_is_object(v)) {
        const char *key;
        const json_t *x;
        put(b, "<dl>");
        json_object_foreach((json_t *)v, key, x)
        {
            put(b, "<dt>");
            put_label(b, key);
            put(b, "</dt><dd>");
            put_value(b, x, depth + 1);
            put(b, "</dd>");
        }
        put(b, "</dl>");
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        if (json_array_size(v) == 0)
            put(b, "none");
        else
            put(b, "<ul>");
        json_array_foreach(v, i, x)
        {
            put(b, "<li>");
            put_value(b, x, depth + 1);
            put(b, "</li>");
        }
        if (json_array_size(v) > 0)
            put(b, "</ul>");
    } else if (json_is_string(v)) {
        put(b, "<span class=\"text\">");
        esc(b, json_string_value(v));
        put(b, "</span>");
    } else if (json_is_true(v)) {
        put(b, "yes");
    } else if (json_is_false(v)) {
        put(b, "no");
    } else if (json_is_integer(v)) {
        putf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        putf(b, "%g", json_real_value(v));
    } else {
        put(b, "-");
    }
}

static void put_facts(struct cf_buf *b, const json_t *view)
{
    const json_t *src = json_object_get(view, "broker");
    if (!src)
        src = json_object_get(view, "local");
    static const char *const keys[][2] = {{"state", "State"},
                                          {"owner", "Owner"},
                                          {"la_code", "Local authority"},
                                          {"jurisdiction", "Jurisdiction"}};
    put(b, "<dl class=\"facts\">");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        put(b, "<dt>");
        put(b, keys[i][1]);
        put(b, "</dt><dd id=\"fact-");
        put(b, keys[i][0]);
        put(b, "\">");
        const char *v = str(src, keys[i][0]);
        esc(b, v && v[0] ? v : "-");
        put(b, "</dd>");
    }
    put(b, "</dl>");
    if (!json_object_get(view, "broker")) {
        const char *why = str(view, "broker_note");
        put(b, "<p class=\"note\">The broker's state and deadlines are not shown: ");
        esc(b, why ? why : "the broker did not answer");
        put(b, ". What is shown is this agency's own view.</p>");
    }
}

static void put_deadlines(struct cf_buf *b, const json_t *view, uint64_t now)
{
    const json_t *list = json_object_get(json_object_get(view, "broker"), "deadlines");
    put(b, "<h3>Deadlines</h3>");
    if (json_array_size(list) == 0) {
        put(b, "<p class=\"empty\">No open deadline is known.</p>");
        return;
    }
    put(b, "<table id=\"deadlines\"><thead><tr><th>Deadline</th><th>Due</th><th></th></tr>"
           "</thead><tbody>");
    size_t i;
    const json_t *d;
    json_array_foreach(list, i, d)
    {
        uint64_t due = 0;
        bool known = agent_html_parse_time(str(d, "due"), &due);
        put(b, known && due <= now ? "<tr class=\"breached\"><td>" : "<tr><td>");
        put_label(b, str(d, "name"));
        put(b, "</td><td>");
        put_due(b, str(d, "due"));
        put(b, "</td><td>");
        if (known) {
            char rel[64];
            relative(due, now, rel);
            esc(b, rel);
        }
        put(b, "</td></tr>");
    }
    put(b, "</tbody></table>");
}

static void put_names(struct cf_buf *b, const json_t *list)
{
    size_t i;
    const json_t *x;
    json_array_foreach(list, i, x)
    {
        if (i)
            put(b, ", ");
        esc(b, json_string_value(x));
    }
}

static void put_timeline(struct cf_buf *b, const json_t *view)
{
    put(b, "<h3>Timeline</h3><table id=\"timeline\"><thead><tr><th>When</th><th>Leaf</th>"
           "<th></th><th>What</th><th>From</th><th>Status</th></tr></thead><tbody>\n");
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(view, "timeline"), i, e)
    {
        const char *kind = str(e, "kind");
        put(b, alarming(kind) ? "<tr class=\"alert\"><td>" : "<tr><td>");
        put_time(b, str(e, "at"));
        put(b, "</td><td>");
        if (json_is_integer(json_object_get(e, "leaf_index")))
            putf(b, "%lld", (long long)json_integer_value(json_object_get(e, "leaf_index")));
        put(b, "</td><td>");
        esc(b, str(e, "direction"));
        put(b, "</td><td>");
        put_label(b, kind ? kind : str(e, "type"));
        put(b, "</td><td>");
        esc(b, str(e, "sender"));
        put(b, "</td><td>");
        esc(b, str(e, "status"));
        if (json_array_size(json_object_get(e, "delivered_to"))) {
            put(b, " <span class=\"detail\">delivered to ");
            put_names(b, json_object_get(e, "delivered_to"));
            put(b, "</span>");
        }
        if (json_array_size(json_object_get(e, "nacked_by"))) {
            put(b, " <span class=\"badge alert\">refused by ");
            put_names(b, json_object_get(e, "nacked_by"));
            put(b, "</span>");
        }
        put(b, "</td></tr>\n");
    }
    put(b, "</tbody></table>");
}

/* One decrypted message: its child (for a referral) first, then the rest. */
static void put_doc(struct cf_buf *b, const json_t *doc)
{
    const json_t *payload = json_object_get(doc, "payload");
    if (!payload)
        payload = json_object_get(doc, "nrm_return");
    put(b, "<section class=\"doc\"><h4>");
    put_label(b, str(doc, "type"));
    put(b, " from ");
    esc(b, str(doc, "sender"));
    put(b, ", ");
    put_time(b, str(doc, "accepted_at") ? str(doc, "accepted_at") : str(doc, "created_at"));
    put(b, "</h4>");
    const json_t *child = json_object_get(payload, "child");
    if (json_is_object(child)) {
        put(b, "<div class=\"child\" id=\"child\"><h5>Child</h5>");
        put_value(b, child, 0);
        put(b, "</div>");
    }
    put(b, "<details><summary>The whole document</summary>");
    put_value(b, payload, 0);
    put(b, "</details></section>\n");
}

char *agent_html_case(const json_t *model, size_t *len)
{
    struct cf_buf b;
    cf_buf_init(&b, AGENT_HTML_MAX);
    const json_t *view = json_object_get(model, "view");
    const char *case_id = str(view, "case_id");
    uint64_t now = (uint64_t)json_integer_value(json_object_get(model, "now"));
    char title[128];
    snprintf(title, sizeof title, "ChildFirst: %s", case_id ? case_id : "case");
    page_head(&b, title, "case", NULL);
    top_bar(&b, str(model, "agency"), true);
    put(&b, "<main><p><a href=\"/\">Back to the dashboard</a></p><h2 id=\"case-id\">Case ");
    esc(&b, case_id);
    put(&b, "</h2>");
    put_facts(&b, view);
    put_deadlines(&b, view, now);
    put_timeline(&b, view);
    put(&b, "<h3>What this agency can read</h3>");
    const json_t *docs = json_object_get(model, "docs");
    if (json_array_size(docs) == 0)
        put(&b, "<p class=\"empty\">This agency holds no message of this case that it can "
                "decrypt: child details are shown only to the agencies they were sealed "
                "for.</p>");
    size_t i;
    const json_t *doc;
    json_array_foreach(docs, i, doc) put_doc(&b, doc);
    put(&b, "</main>");
    page_end(&b, false);
    return finish(&b, len);
}

/* ---- Static files ---- */

/* The live feed. Every value from the server reaches the page through
 * textContent or a checked attribute, never innerHTML. */
const char agent_html_app_js[] =
    "'use strict';\n"
    "(function () {\n"
    "  var body = document.body;\n"
    "  if (!body || body.getAttribute('data-page') !== 'dashboard') return;\n"
    "  var CASE = /^cf-[a-z2-7]{26}$/;\n"
    "  var LABELS = {new_referral: 'New referral', undelivered: 'Undelivered',\n"
    "    non_delivery: 'Not delivered', deadline_near: 'Deadline near',\n"
    "    deadline_breached: 'Deadline breached', inquorate: 'Inquorate',\n"
    "    convened: 'Conference convened', determination: 'Determination',\n"
    "    determination_rejected: 'Determination rejected', transfer_in: 'Transfer in',\n"
    "    key_changed: 'Agency key changed', rg_determination: 'Reasonable grounds decision',\n"
    "    strategy: 'Strategy discussion', reconvene: 'Reconvened conference',\n"
    "    ird_record: 'IRD record'};\n"
    "  var ALARMS = {undelivered: 1, non_delivery: 1, deadline_breached: 1, inquorate: 1};\n"
    "  var feed = document.getElementById('feed');\n"
    "  var live = document.getElementById('live');\n"
    "  var cases = document.querySelector('#cases tbody');\n"
    "  function el(tag, cls, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (cls) e.className = cls;\n"
    "    if (text !== undefined) e.textContent = String(text);\n"
    "    return e;\n"
    "  }\n"
    "  function when(iso) {\n"
    "    var t = el('time', null, iso);\n"
    "    var d = new Date(iso);\n"
    "    if (typeof iso === 'string' && !isNaN(d.getTime())) {\n"
    "      t.setAttribute('datetime', iso);\n"
    "      t.textContent = d.toLocaleString('en-GB', {timeZone: 'Europe/London',\n"
    "        weekday: 'short', day: '2-digit', month: 'short', year: 'numeric',\n"
    "        hour: '2-digit', minute: '2-digit', timeZoneName: 'short'});\n"
    "    }\n"
    "    return t;\n"
    "  }\n"
    "  function words(name) {\n"
    "    if (Object.prototype.hasOwnProperty.call(LABELS, name)) return LABELS[name];\n"
    "    var w = String(name).replace(/_/g, ' ');\n"
    "    return w.charAt(0).toUpperCase() + w.slice(1);\n"
    "  }\n"
    "  function caseLink(id) {\n"
    "    if (typeof id !== 'string' || !CASE.test(id)) return el('span', null, id || '');\n"
    "    var a = el('a', null, id);\n"
    "    a.setAttribute('href', '/cases/' + id);\n"
    "    return a;\n"
    "  }\n"
    "  function item(ev) {\n"
    "    var what = typeof ev.kind === 'string' ? ev.kind : String(ev.type || '');\n"
    "    var immediate = ev.urgency === 'immediate' || ev.immediate_risk === true;\n"
    "    var li = el('li', 'item fresh' + (ALARMS[what] === 1 ? ' alert' :\n"
    "      what === 'deadline_near' ? ' warn' : '') + (immediate ? ' immediate' : ''));\n"
    "    var w = el('span', 'when');\n"
    "    w.appendChild(when(ev.received_at));\n"
    "    li.appendChild(w);\n"
    "    li.appendChild(document.createTextNode(' '));\n"
    "    li.appendChild(el('span', 'what', words(what)));\n"
    "    li.appendChild(document.createTextNode(' '));\n"
    "    if (ev.case_id) li.appendChild(caseLink(ev.case_id));\n"
    "    li.appendChild(el('span', 'from', ' from ' + String(ev.sender || '')));\n"
    "    if (immediate) {\n"
    "      li.appendChild(document.createTextNode(' '));\n"
    "      li.appendChild(el('span', 'badge risk', 'immediate'));\n"
    "    }\n"
    "    if (typeof ev.deadline === 'string') {\n"
    "      var d = el('span', 'detail', ' ' + words(ev.deadline) + (ev.due ? ' due ' : ''));\n"
    "      if (ev.due) d.appendChild(when(ev.due));\n"
    "      li.appendChild(d);\n"
    "    }\n"
    "    return li;\n"
    "  }\n"
    "  function noteCase(ev) {\n"
    "    if (!cases || typeof ev.case_id !== 'string' || !CASE.test(ev.case_id)) return;\n"
    "    var rows = cases.querySelectorAll('tr[data-case]');\n"
    "    for (var i = 0; i < rows.length; i++)\n"
    "      if (rows[i].getAttribute('data-case') === ev.case_id) return;\n"
    "    var tr = el('tr', 'case fresh' + (ev.urgency === 'immediate' ? ' immediate' : ''));\n"
    "    tr.setAttribute('data-case', ev.case_id);\n"
    "    var td = el('td');\n"
    "    td.appendChild(caseLink(ev.case_id));\n"
    "    tr.appendChild(td);\n"
    "    tr.appendChild(el('td', null, ev.type === 'referral' ? 'referred' : 'new'));\n"
    "    var u = el('td');\n"
    "    if (ev.urgency === 'immediate') u.appendChild(el('span', 'badge risk', 'immediate'));\n"
    "    else u.textContent = ev.urgency || '-';\n"
    "    tr.appendChild(u);\n"
    "    tr.appendChild(el('td', null, '-'));\n"
    "    tr.appendChild(el('td', 'rel', 'new: reload for its deadlines'));\n"
    "    tr.appendChild(el('td', 'alerts'));\n"
    "    cases.insertBefore(tr, cases.firstChild);\n"
    "    var none = document.getElementById('no-cases');\n"
    "    if (none) none.parentNode.removeChild(none);\n"
    "  }\n"
    "  function status(text, cls) {\n"
    "    live.textContent = 'Live feed: ' + text;\n"
    "    live.className = cls;\n"
    "  }\n"
    "  var from = body.getAttribute('data-events-from') || '';\n"
    "  var source = new EventSource('/events?from=' + encodeURIComponent(from));\n"
    "  source.onopen = function () { status('live', 'ok'); };\n"
    "  source.onerror = function () {\n"
    "    if (source.readyState === EventSource.CLOSED)\n"
    "      status('stopped; reload the page (you may need to log in again)', 'bad');\n"
    "    else status('reconnecting', 'pending');\n"
    "  };\n"
    "  source.addEventListener('item', function (m) {\n"
    "    var ev;\n"
    "    try { ev = JSON.parse(m.data); } catch (e) { return; }\n"
    "    if (!ev || typeof ev !== 'object') return;\n"
    "    feed.insertBefore(item(ev), feed.firstChild);\n"
    "    while (feed.children.length > 200) feed.removeChild(feed.lastChild);\n"
    "    noteCase(ev);\n"
    "  });\n"
    "  source.addEventListener('missed', function () {\n"
    "    status('some events came too fast to show; reload the page for all of them', 'bad');\n"
    "  });\n"
    "})();\n";

const char agent_html_app_css[] =
    "body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f6f4}\n"
    "a{color:#0b4f8a}\n"
    ".top{display:flex;align-items:center;justify-content:space-between;background:#1d3557;"
    "color:#fff;padding:.5rem 1rem}\n"
    ".top h1{font-size:1.3rem;margin:0}.top h1 a{color:#fff;text-decoration:none}\n"
    ".agency{font-weight:normal;opacity:.85;margin-left:.5rem}\n"
    ".status{margin:.5rem 1rem}.status span{margin-right:1rem;padding:.1rem .4rem;"
    "border-radius:.2rem}\n"
    ".ok{background:#d8f0dc}.bad{background:#f8d7da}.pending{background:#eee}\n"
    "main{padding:0 1rem 2rem}\n"
    "h2{font-size:1.15rem;margin:1rem 0 .5rem}\n"
    "table{border-collapse:collapse;width:100%;background:#fff}\n"
    "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}\n"
    "th{background:#e9ecef}\n"
    "tr.breached td{background:#f8d7da}\n"
    "tr.undelivered td{background:#fff3cd}\n"
    "tr.breached.undelivered td{background:#f5c2c7}\n"
    "tr.alert td{background:#f8d7da}\n"
    "tr.immediate td:first-child{box-shadow:inset .35rem 0 #b02a37}\n"
    "#cases td:first-child,#feed a{white-space:nowrap}\n"
    ".badge{display:inline-block;font-size:.8rem;font-weight:bold;padding:0 .35rem;"
    "border-radius:.2rem;color:#fff}\n"
    ".badge.alert,.badge.risk{background:#b02a37}.badge.warn{background:#a06000}\n"
    ".rel{color:#555;font-size:.9rem}\n"
    "#feed{list-style:none;padding:0;margin:0}\n"
    "#feed li{background:#fff;border-left:.35rem solid #adb5bd;margin:.25rem 0;"
    "padding:.35rem .6rem}\n"
    "#feed li.alert{border-left-color:#b02a37;background:#fbe9eb}\n"
    "#feed li.warn{border-left-color:#a06000;background:#fff8e6}\n"
    "#feed li.immediate .what{color:#b02a37;font-weight:bold}\n"
    "#feed li.fresh{outline:2px solid #1d3557}\n"
    ".what{font-weight:bold}.from,.detail,.when{color:#444}\n"
    ".note{background:#fff3cd;padding:.4rem .6rem}\n"
    ".empty,.hint{color:#555}\n"
    ".facts{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}\n"
    ".facts dt{font-weight:bold}.facts dd{margin:0}\n"
    ".doc{background:#fff;border:1px solid #ccc;margin:.5rem 0;padding:.5rem 1rem}\n"
    ".doc dl{margin:.2rem 0 .2rem 1rem}.doc dt{font-weight:bold}.doc dd{margin-left:1rem}\n"
    ".child{border-left:.35rem solid #0b4f8a;padding-left:.6rem}\n"
    ".text{white-space:pre-wrap}\n"
    ".login form{margin:1rem 0}.login input{font-size:1rem;padding:.3rem;width:20rem}\n"
    ".refused{background:#f8d7da;padding:.5rem .8rem;font-weight:bold}\n"
    "button{font-size:1rem;padding:.25rem .8rem}\n";
