/* The agent's web door: the duty team's dashboard (pages rendered here, and a
 * live feed by server-sent events) and a JSON API for agency systems, served
 * by libmicrohttpd inside the agent's one thread. MHD runs in external epoll
 * mode: its one descriptor joins the agent's poll and MHD_run never blocks, so
 * LMDB and the core stay single-threaded. A request that must wait for the
 * broker (a referral's answer, a case's CaseInfo) is suspended and resumed by
 * the core's callbacks; a live feed is suspended whenever it has nothing to
 * send, because a content reader that returns 0 busy-waits (DESIGN.md 12). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "agent_html.h"
#include "agent_http.h"
#include "agent_link.h"
#include "agent_text.h"
#include "childfirst/buf.h"
#include "childfirst/clock.h"
#include "childfirst/file.h"
#include "childfirst/header.h"
#include "childfirst/limits.h"
#include "childfirst/log.h"

#define HTTP_CONNECTIONS 64      /* at once; more wait in the listen backlog */
#define HTTP_STREAMS 16          /* live feeds at once */
#define HTTP_SESSIONS 32         /* people logged in at once; the oldest makes room */
#define HTTP_SESSION_S 43200     /* a login lasts 12 hours (a duty shift) */
#define HTTP_IDLE_S 30           /* an idle connection is closed */
#define HTTP_HEARTBEAT_MS 15000  /* a live feed says something this often */
#define HTTP_CASE_WAIT_MS 2000   /* how long a page waits for the broker's CaseInfo */
#define HTTP_CASE_FRESH_MS 30000 /* a CaseInfo this young is not asked for again */
#define HTTP_CASE_CACHE 512
#define HTTP_ASK_MAX 64 /* CaseRequests one dashboard sends at most */
#define HTTP_REFER_WAIT_S 30
#define HTTP_WAIT_MAX_S 600
#define HTTP_FORM_MAX 2048 /* the login form's body */
#define HTTP_FEED 50       /* inbox entries on a freshly loaded dashboard */
#define HTTP_DOCS 100      /* decrypted documents on one case page */
#define HTTP_STREAM_BATCH 32
#define COOKIE "cf_session"
#define DIGEST 32

static const char csp[] = "default-src 'self'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

enum route_id {
    PAGE_DASHBOARD,
    PAGE_LOGIN,
    DO_LOGIN,
    DO_LOGOUT,
    PAGE_CASE,
    EVENTS,
    STATIC_JS,
    STATIC_CSS,
    FAVICON,
    API_REFERRALS,
    API_INBOX,
    API_CASE
};

enum auth { AUTH_NONE, AUTH_SESSION, AUTH_BEARER };

static const struct route {
    const char *method; /* GET also answers HEAD */
    const char *path;
    bool with_id; /* the path, then a case id */
    enum auth auth;
    enum route_id id;
    size_t body_max; /* 0: no body */
} routes[] = {
    {"GET", "/", false, AUTH_SESSION, PAGE_DASHBOARD, 0},
    {"GET", "/login", false, AUTH_NONE, PAGE_LOGIN, 0},
    {"POST", "/login", false, AUTH_NONE, DO_LOGIN, HTTP_FORM_MAX},
    {"POST", "/logout", false, AUTH_SESSION, DO_LOGOUT, HTTP_FORM_MAX},
    {"GET", "/cases/", true, AUTH_SESSION, PAGE_CASE, 0},
    {"GET", "/events", false, AUTH_SESSION, EVENTS, 0},
    {"GET", "/static/app.js", false, AUTH_NONE, STATIC_JS, 0},
    {"GET", "/static/app.css", false, AUTH_NONE, STATIC_CSS, 0},
    {"GET", "/favicon.ico", false, AUTH_NONE, FAVICON, 0},
    {"POST", "/api/referrals", false, AUTH_BEARER, API_REFERRALS, CF_MAX_JSON},
    {"GET", "/api/inbox", false, AUTH_BEARER, API_INBOX, 0},
    {"GET", "/api/cases/", true, AUTH_BEARER, API_CASE, 0},
};

enum wait { WAIT_NONE, WAIT_ANSWER, WAIT_CASES };

/* One request, from its headers until MHD reports it complete. */
struct req {
    struct agent_http *h;
    struct MHD_Connection *conn;
    const struct route *route;
    struct req *prev, *next; /* every live request */
    char case_id[CF_CASE_ID_LEN + 1];
    struct cf_buf body;
    bool too_big, answered;
    /* Parked until the core's news or the deadline (monotonic ms). */
    enum wait wait;
    bool suspended, timed_out;
    uint64_t asked_at, deadline;
    uint8_t message_id[CF_MESSAGE_ID_LEN]; /* WAIT_ANSWER */
    json_t *waiting_for;                   /* WAIT_CASES: the case ids asked about */
    /* A live feed: the next event to send, and bytes formatted but not yet taken. */
    bool stream;
    uint64_t seq, last_write;
    char *out;
    size_t out_len, out_off;
};

/* The broker's last word on a case, so a page need not ask every time. */
struct case_entry {
    char case_id[CF_CASE_ID_LEN + 1];
    bool shown; /* false: the broker showed nothing (not a party, or no case) */
    struct cf_case_info info;
    uint64_t answered, asked; /* monotonic ms; 0: never */
};

struct agent_http {
    struct agent *a;
    struct MHD_Daemon *d;
    int fd;
    bool has_dashboard, has_api, closing;
    uint8_t dashboard_digest[DIGEST], api_digest[DIGEST];
    struct {
        bool used;
        uint8_t id[32];
        uint64_t expires; /* monotonic ms */
    } sessions[HTTP_SESSIONS];
    struct req *reqs;
    size_t n_streams;
    uint64_t epoch; /* names this run's event numbers: a restarted agent counts from 0 */
    char endpoint_path[AGENT_PATH_MAX + 32];
    struct case_entry cache[HTTP_CASE_CACHE];
};

static uint64_t mono(void)
{
    return cf_clock_monotonic_ms();
}

/* ---- Tokens and sessions ---- */

static void digest(const char *text, size_t len, uint8_t out[DIGEST])
{
    crypto_generichash(out, DIGEST, (const unsigned char *)text, len, NULL, 0);
}

/* Constant time whatever the lengths: digests of equal size are compared. */
static bool token_matches(const char *given, size_t len, const uint8_t want[DIGEST])
{
    uint8_t got[DIGEST];
    digest(given, len, got);
    bool same = sodium_memcmp(got, want, DIGEST) == 0;
    sodium_memzero(got, sizeof got);
    return same;
}

/* The slot of the caller's live session, or -1. Every slot is compared. */
static int session_of(struct agent_http *h, struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
    uint8_t id[32];
    size_t n = 0;
    int slot = -1;
    if (!v || strlen(v) != 64 || sodium_hex2bin(id, sizeof id, v, 64, NULL, &n, NULL) != 0 ||
        n != sizeof id)
        return -1;
    uint64_t now = mono();
    for (int i = 0; i < HTTP_SESSIONS; i++) {
        bool same = sodium_memcmp(id, h->sessions[i].id, sizeof id) == 0;
        if (same && h->sessions[i].used && now < h->sessions[i].expires)
            slot = i;
    }
    sodium_memzero(id, sizeof id);
    return slot;
}

/* A new session; its cookie value (64 hex characters) into `hex`. */
static void session_new(struct agent_http *h, char hex[65])
{
    int slot = 0;
    for (int i = 0; i < HTTP_SESSIONS; i++) {
        if (!h->sessions[i].used) {
            slot = i;
            break;
        }
        if (h->sessions[i].expires < h->sessions[slot].expires)
            slot = i;
    }
    h->sessions[slot].used = true;
    randombytes_buf(h->sessions[slot].id, sizeof h->sessions[slot].id);
    h->sessions[slot].expires = mono() + HTTP_SESSION_S * 1000ull;
    sodium_bin2hex(hex, 65, h->sessions[slot].id, sizeof h->sessions[slot].id);
}

static bool bearer_ok(struct agent_http *h, struct MHD_Connection *conn)
{
    const char *v =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h->has_api || !v || strncasecmp(v, "Bearer ", 7) != 0)
        return false;
    v += 7;
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ')
        n--;
    return token_matches(v, n, h->api_digest);
}

/* ---- Requests ---- */

static struct req *req_new(struct agent_http *h, struct MHD_Connection *conn)
{
    struct req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->h = h;
    r->conn = conn;
    cf_buf_init(&r->body, CF_MAX_JSON);
    r->next = h->reqs;
    if (h->reqs)
        h->reqs->prev = r;
    h->reqs = r;
    return r;
}

static void req_free(struct req *r)
{
    struct agent_http *h = r->h;
    if (r->prev)
        r->prev->next = r->next;
    else
        h->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (r->stream)
        h->n_streams--;
    if (r->body.data) /* a referral's body holds a child's details */
        sodium_memzero(r->body.data, r->body.cap);
    cf_buf_fini(&r->body);
    json_decref(r->waiting_for);
    free(r->out);
    free(r);
}

/* While the server closes, nothing is suspended (MHD may not stop with a
 * suspended connection): MHD calls the handler again at once instead, and
 * the request is answered with what is at hand. */
static enum MHD_Result park(struct req *r, enum wait w, uint64_t wait_ms)
{
    r->wait = w;
    r->deadline = mono() + wait_ms;
    if (r->h->closing) {
        r->timed_out = true;
        return MHD_YES;
    }
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    return MHD_YES;
}

static void wake(struct req *r)
{
    if (!r->suspended)
        return;
    r->suspended = false;
    MHD_resume_connection(r->conn);
}

/* ---- Responses ---- */

/* Queues `body` (taking ownership; NULL for none) with the headers every
 * answer carries, and `extra` name/value pairs (NULL-terminated). */
static enum MHD_Result respond(struct req *r, unsigned status, const char *type, char *body,
                               size_t len, const char *const *extra)
{
    struct MHD_Response *resp =
        body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    if (type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (size_t i = 0; extra && extra[i]; i += 2)
        MHD_add_response_header(resp, extra[i], extra[i + 1]);
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    cf_log_debug("HTTP-ANSWER", "path=%s status=%u", r->route ? r->route->path : "?", status);
    return rc;
}

static enum MHD_Result respond_html(struct req *r, unsigned status, char *page, size_t len,
                                    const char *const *extra)
{
    if (!page)
        return respond(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
                       strdup("the page cannot be made; the agent's log says why\n"), 51, NULL);
    return respond(r, status, "text/html; charset=utf-8", page, len, extra);
}

/* Takes ownership of `doc`. */
static enum MHD_Result respond_json(struct req *r, unsigned status, json_t *doc,
                                    const char *const *extra)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return respond(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                       strdup("{\"code\":\"CF_ENOMEM\",\"reason\":\"out of memory\"}"), 46, NULL);
    size_t n = strlen(text);
    char *body = realloc(text, n + 2);
    if (!body) {
        free(text);
        return MHD_NO;
    }
    memcpy(body + n, "\n", 2);
    return respond(r, status, "application/json", body, n + 1, extra);
}

static enum MHD_Result json_error(struct req *r, unsigned status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result json_error(struct req *r, unsigned status, int code, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *reason = json_string(text); /* NULL if cut inside a UTF-8 sequence */
    json_t *doc = json_pack("{s:s, s:o}", "code", cf_error_name(code), "reason",
                            reason ? reason : json_string(cf_strerror(code)));
    static const char *const www[] = {"WWW-Authenticate", "Bearer realm=\"childfirst\"", NULL};
    return respond_json(r, status, doc, status == MHD_HTTP_UNAUTHORIZED ? www : NULL);
}

static enum MHD_Result redirect(struct req *r, const char *to, const char *cookie)
{
    const char *extra[] = {MHD_HTTP_HEADER_LOCATION, to, cookie ? MHD_HTTP_HEADER_SET_COOKIE : NULL,
                           cookie, NULL};
    return respond(r, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", strdup("see other\n"), 10,
                   extra);
}

static enum MHD_Result page_message(struct req *r, unsigned status, const char *title,
                                    const char *text)
{
    size_t len = 0;
    char *page = agent_html_message(title, text, &len);
    return respond_html(r, status, page, len, NULL);
}

/* ---- The broker's view of cases ---- */

static struct case_entry *cache_entry(struct agent_http *h, const char *case_id, bool add)
{
    struct case_entry *oldest = &h->cache[0];
    for (size_t i = 0; i < HTTP_CASE_CACHE; i++) {
        struct case_entry *e = &h->cache[i];
        if (strcmp(e->case_id, case_id) == 0)
            return e;
        uint64_t t = e->answered > e->asked ? e->answered : e->asked;
        uint64_t o = oldest->answered > oldest->asked ? oldest->answered : oldest->asked;
        if (!e->case_id[0] || (oldest->case_id[0] && t < o))
            oldest = e;
    }
    if (!add)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->case_id, sizeof oldest->case_id, "%s", case_id);
    return oldest;
}

/* Asks the broker about the case unless a fresh answer is at hand. True when
 * an answer is on its way (asked now or a moment ago). */
static bool ask_case(struct agent_http *h, const char *case_id)
{
    struct agent *a = h->a;
    if (!a->connected)
        return false;
    struct case_entry *e = cache_entry(h, case_id, true);
    uint64_t now = mono();
    if (e->answered && now - e->answered < HTTP_CASE_FRESH_MS)
        return false;
    if (e->asked > e->answered && now - e->asked < HTTP_CASE_WAIT_MS)
        return true;
    struct cf_frame q = {.kind = CF_FRAME_CASE_REQUEST};
    memcpy(q.case_id, e->case_id, sizeof q.case_id);
    if (!agent_link_send(a, &q))
        return false;
    e->asked = now;
    return true;
}

/* Whether every case the request asked about has been answered since. */
static bool cases_answered(struct agent_http *h, const struct req *r)
{
    size_t i;
    json_t *id;
    json_array_foreach(r->waiting_for, i, id)
    {
        struct case_entry *e = cache_entry(h, json_string_value(id), false);
        if (!e || e->answered < r->asked_at)
            return false;
    }
    return true;
}

/* Sends CaseRequests for the `ids` without a fresh answer (at most
 * HTTP_ASK_MAX a time) and parks the request until they are answered. False
 * when nothing needed asking (all fresh, or no broker): answer at once. */
static bool park_for_cases(struct req *r, json_t *ids)
{
    json_t *asked = json_array();
    size_t i;
    json_t *id;
    r->asked_at = mono();
    json_array_foreach(ids, i, id)
    {
        if (json_array_size(asked) >= HTTP_ASK_MAX)
            break;
        if (ask_case(r->h, json_string_value(id)))
            json_array_append(asked, id);
    }
    if (!asked || json_array_size(asked) == 0) {
        json_decref(asked);
        return false;
    }
    r->waiting_for = asked;
    park(r, WAIT_CASES, HTTP_CASE_WAIT_MS);
    return true;
}

static const struct cf_case_info *known_info(struct agent_http *h, const char *case_id)
{
    struct case_entry *e = cache_entry(h, case_id, false);
    return e && e->answered && e->shown ? &e->info : NULL;
}

/* ---- The dashboard ---- */

static json_t *find_case(json_t *cases, const char *case_id)
{
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "case_id"));
        if (id && strcmp(id, case_id) == 0)
            return c;
    }
    return NULL;
}

/* The cases the agency knows: its case table, and any case it has only heard
 * of through notices (a duty team may get the notice without the message). */
static json_t *known_cases(struct agent *a, const json_t *inbox)
{
    json_t *cases = agent_cases_list(a);
    size_t i;
    const json_t *e;
    json_array_foreach(inbox, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "case_id"));
        if (!cases || !id || !cf_header_case_id_valid(id, strlen(id)))
            continue;
        json_t *c = find_case(cases, id);
        if (!c) {
            c = json_pack("{s:s, s:s, s:O, s:b, s:O}", "case_id", id, "state", "unknown", "urgency",
                          json_object_get(e, "urgency"), "immediate_risk", 0, "updated_leaf",
                          json_object_get(e, "leaf_index"));
            json_array_append_new(cases, c);
        }
        const char *kind = json_string_value(json_object_get(e, "kind"));
        if (c && kind && (strcmp(kind, "undelivered") == 0 || strcmp(kind, "non_delivery") == 0))
            json_object_set_new(c, "undelivered", json_true());
        if (c && kind && strcmp(kind, "deadline_breached") == 0)
            json_object_set_new(c, "breach_notice", json_true());
    }
    return cases;
}

/* The open cases, each with the broker's next deadline where it is known. */
static json_t *open_cases(struct agent_http *h, json_t *cases, uint64_t now, bool *all_known)
{
    json_t *open = json_array();
    size_t i;
    json_t *c;
    *all_known = true;
    json_array_foreach(cases, i, c)
    {
        const char *id = json_string_value(json_object_get(c, "case_id"));
        const char *state = json_string_value(json_object_get(c, "state"));
        const struct case_entry *entry = id ? cache_entry(h, id, false) : NULL;
        const struct cf_case_info *info =
            entry && entry->answered && entry->shown ? &entry->info : NULL;
        if (info)
            state = info->state;
        if (!open || (state && strcmp(state, "closed") == 0))
            continue;
        json_t *row = json_deep_copy(c);
        if (!row)
            continue;
        json_object_set_new(row, "state", json_string(state ? state : "unknown"));
        bool breached = false;
        if (info) {
            if (info->n_deadlines > 0)
                json_object_set_new(row, "next",
                                    json_pack("{s:s, s:o}", "name", info->deadlines[0].name, "due",
                                              agent_text_time_json(info->deadlines[0].due)));
            for (size_t k = 0; k < info->n_deadlines; k++)
                breached = breached || info->deadlines[k].due <= now;
        } else {
            /* Not asked, or not answered in time; "shows nothing" is an answer. */
            *all_known = *all_known && entry && entry->answered;
            breached = json_is_true(json_object_get(c, "breach_notice"));
        }
        json_object_set_new(row, "breached", json_boolean(breached));
        json_array_append_new(open, row);
    }
    return open;
}

static json_t *case_ids(const json_t *cases)
{
    json_t *ids = json_array();
    size_t i;
    const json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *state = json_string_value(json_object_get(c, "state"));
        if (!state || strcmp(state, "closed") != 0)
            json_array_append(ids, json_object_get(c, "case_id"));
    }
    return ids;
}

static enum MHD_Result page_dashboard(struct req *r)
{
    struct agent_http *h = r->h;
    struct agent *a = h->a;
    json_t *inbox = agent_inbox(a, NULL);
    json_t *cases = inbox ? known_cases(a, inbox) : NULL;
    if (!cases) {
        json_decref(inbox);
        return page_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "The store cannot be read",
                            "The agent cannot read its store just now; its log says why.");
    }
    if (r->wait == WAIT_NONE) {
        json_t *ids = case_ids(cases);
        bool parked = ids && park_for_cases(r, ids);
        json_decref(ids);
        if (parked) {
            json_decref(inbox), json_decref(cases);
            return MHD_YES;
        }
    }
    uint64_t now = cf_clock_now();
    bool all_known;
    json_t *open = open_cases(h, cases, now, &all_known);
    json_t *feed = json_array();
    for (size_t i = json_array_size(inbox); feed && i > 0 && json_array_size(feed) < HTTP_FEED; i--)
        json_array_append(feed, json_array_get(inbox, i - 1));
    char from[48];
    snprintf(from, sizeof from, "%" PRIu64 "-%" PRIu64, h->epoch, agent_events_next(a));
    json_t *model = json_pack("{s:s, s:b, s:I, s:s, s:o, s:o}", "agency", a->cfg.id, "connected",
                              a->connected, "now", (json_int_t)now, "events_from", from, "cases",
                              open ? open : json_array(), "feed", feed ? feed : json_array());
    if (model && !all_known)
        json_object_set_new(model, "broker_note",
                            json_string(a->connected
                                            ? "The broker did not give the deadlines of every "
                                              "case in time; reload to try again."
                                            : "The broker is not connected: deadlines are not "
                                              "shown, and breaches only as their notices came."));
    size_t len = 0;
    char *page = model ? agent_html_dashboard(model, &len) : NULL;
    json_decref(model), json_decref(inbox), json_decref(cases);
    return respond_html(r, MHD_HTTP_OK, page, len, NULL);
}

/* ---- A case ---- */

/* agent_case_view with the broker's part, or its note on why there is none. */
static json_t *case_view(struct agent_http *h, const char *case_id)
{
    struct case_entry *e = cache_entry(h, case_id, false);
    const struct cf_case_info *info = known_info(h, case_id);
    json_t *view = agent_case_view(h->a, case_id, info);
    if (view && !info)
        json_object_set_new(
            view, "broker_note",
            json_string(!h->a->connected ? "the broker is not connected"
                        : e && e->answered
                            ? "the broker shows this case only to the agencies that take part in it"
                            : "the broker did not answer in time"));
    return view;
}

/* Whether the agency knows anything of the case at all. */
static bool case_known(const json_t *view)
{
    return json_array_size(json_object_get(view, "timeline")) > 0 ||
           json_object_get(view, "local") || json_object_get(view, "broker");
}

static enum MHD_Result page_case(struct req *r)
{
    struct agent_http *h = r->h;
    if (r->wait == WAIT_NONE) {
        json_t *ids = json_pack("[s]", r->case_id);
        bool parked = ids && park_for_cases(r, ids);
        json_decref(ids);
        if (parked)
            return MHD_YES;
    }
    json_t *view = case_view(h, r->case_id);
    if (!view)
        return page_message(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "The store cannot be read",
                            "The agent cannot read its store just now; its log says why.");
    if (!case_known(view)) {
        json_decref(view);
        return page_message(r, MHD_HTTP_NOT_FOUND, "No such case",
                            "This agency knows nothing of that case.");
    }
    /* The child's details: only what this agency received and can decrypt. */
    json_t *docs = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(view, "timeline"), i, e)
    {
        const char *dir = json_string_value(json_object_get(e, "direction"));
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *hex = json_string_value(json_object_get(e, "message_id"));
        uint8_t id[CF_MESSAGE_ID_LEN];
        size_t n = 0;
        if (!docs || json_array_size(docs) >= HTTP_DOCS || !dir || strcmp(dir, "received") != 0 ||
            !type || strcmp(type, "notice") == 0 || !hex || strlen(hex) != 2 * CF_MESSAGE_ID_LEN ||
            sodium_hex2bin(id, sizeof id, hex, strlen(hex), NULL, &n, NULL) != 0 || n != sizeof id)
            continue;
        struct cf_error err = {0};
        json_t *doc = agent_show(h->a, id, &err);
        if (doc)
            json_array_append_new(docs, doc);
        else
            cf_log_warn("DASHBOARD-SHOW-FAILED", "case=%s message_id=%s code=%s", r->case_id, hex,
                        cf_error_name(err.code));
    }
    json_t *model =
        json_pack("{s:s, s:I, s:o, s:o}", "agency", h->a->cfg.id, "now", (json_int_t)cf_clock_now(),
                  "view", view, "docs", docs ? docs : json_array());
    size_t len = 0;
    char *page = model ? agent_html_case(model, &len) : NULL;
    json_decref(model);
    return respond_html(r, MHD_HTTP_OK, page, len, NULL);
}

/* ---- Login ---- */

/* The form field `name` of an application/x-www-form-urlencoded body, decoded
 * into `out` (cap bytes); false if absent or too long. */
static bool form_field(const char *body, size_t len, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
            size_t o = 0;
            for (const char *q = p + nlen + 1; q < stop; q++) {
                char c = *q;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && stop - q >= 3) {
                    char hex[3] = {q[1], q[2], 0};
                    char *bad;
                    c = (char)strtol(hex, &bad, 16);
                    if (*bad)
                        return false;
                    q += 2;
                }
                if (o + 1 >= cap || c == 0)
                    return false;
                out[o++] = c;
            }
            out[o] = 0;
            return true;
        }
        p = stop + 1;
    }
    return false;
}

static enum MHD_Result page_login(struct req *r, bool refused)
{
    if (!r->h->has_dashboard)
        return page_message(r, MHD_HTTP_FORBIDDEN, "The dashboard is off",
                            "This agent's agent.ini sets no dashboard_token, so nobody can log "
                            "in. The agency-system API may still be on.");
    size_t len = 0;
    char *page = agent_html_login(r->h->a->cfg.id, refused, &len);
    return respond_html(r, refused ? MHD_HTTP_FORBIDDEN : MHD_HTTP_OK, page, len, NULL);
}

static enum MHD_Result do_login(struct req *r)
{
    struct agent_http *h = r->h;
    char token[AGENT_TOKEN_MAX + 2];
    bool ok = false;
    if (h->has_dashboard && !r->too_big &&
        form_field((const char *)r->body.data, r->body.len, "token", token, sizeof token)) {
        ok = token_matches(token, strlen(token), h->dashboard_digest);
        sodium_memzero(token, sizeof token);
    }
    if (!ok) {
        cf_log_warn("DASHBOARD-LOGIN-REFUSED", "reason=%s",
                    h->has_dashboard ? "wrong-token" : "no-dashboard-token");
        return page_login(r, true);
    }
    char hex[65], cookie[160];
    session_new(h, hex);
    snprintf(cookie, sizeof cookie, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d",
             hex, HTTP_SESSION_S);
    sodium_memzero(hex, sizeof hex);
    int live = 0;
    for (int i = 0; i < HTTP_SESSIONS; i++)
        live += h->sessions[i].used;
    cf_log_info("DASHBOARD-LOGIN", "sessions=%d", live);
    enum MHD_Result rc = redirect(r, "/", cookie);
    sodium_memzero(cookie, sizeof cookie);
    return rc;
}

static enum MHD_Result do_logout(struct req *r)
{
    int slot = session_of(r->h, r->conn);
    if (slot >= 0)
        memset(&r->h->sessions[slot], 0, sizeof r->h->sessions[slot]);
    return redirect(r, "/login", COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}

/* ---- The live feed ---- */

/* Formats what the stream has next into r->out: events from r->seq on, a
 * count of those the ring lost, or a heartbeat when one is due. */
static void stream_fill(struct req *r)
{
    struct agent *a = r->h->a;
    uint64_t next = 0, missed = 0;
    json_t *list = agent_events_since(a, r->seq, HTTP_STREAM_BATCH, &next, &missed);
    struct cf_buf b;
    cf_buf_init(&b, 0);
    char line[96];
    if (missed) {
        int n = snprintf(line, sizeof line, "event: missed\ndata: {\"missed\":%" PRIu64 "}\n\n",
                         missed);
        cf_buf_put(&b, line, (size_t)n);
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        char *data = json_dumps(e, JSON_COMPACT);
        json_int_t seq = json_integer_value(json_object_get(e, "seq"));
        int n = snprintf(line, sizeof line,
                         "id: %" PRIu64 "-%lld\nevent: item\ndata: ", r->h->epoch, (long long)seq);
        if (data) {
            cf_buf_put(&b, line, (size_t)n);
            cf_buf_put(&b, data, strlen(data));
            cf_buf_put(&b, "\n\n", 2);
        }
        free(data);
    }
    json_decref(list);
    if (list)
        r->seq = next;
    if (b.len == 0 && mono() - r->last_write >= HTTP_HEARTBEAT_MS)
        cf_buf_put(&b, ": keepalive\n\n", 13);
    free(r->out);
    r->out = NULL;
    r->out_len = r->out_off = 0;
    if (cf_buf_status(&b) == 0 && b.len) {
        r->out = (char *)b.data;
        r->out_len = b.len;
    } else {
        cf_buf_fini(&b);
    }
}

/* MHD asks for the next bytes. With nothing to send the connection is
 * suspended (returning 0 alone would spin) until agent_http_run sees news. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct req *r = cls;
    if (r->h->closing)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (r->out_off == r->out_len)
        stream_fill(r);
    if (r->out_off < r->out_len) {
        size_t n = r->out_len - r->out_off < max ? r->out_len - r->out_off : max;
        memcpy(buf, r->out + r->out_off, n);
        r->out_off += n;
        r->last_write = mono();
        return (ssize_t)n;
    }
    r->suspended = true;
    MHD_suspend_connection(r->conn);
    return 0;
}

/* "EPOCH-SEQ" as the page or Last-Event-ID gives it; false if malformed. */
static bool parse_event_id(const char *text, uint64_t *epoch, uint64_t *seq)
{
    char *end;
    if (!text || text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    unsigned long long e = strtoull(text, &end, 10);
    if (errno || *end != '-' || end[1] < '0' || end[1] > '9')
        return false;
    unsigned long long s = strtoull(end + 1, &end, 10);
    if (errno || *end)
        return false;
    *epoch = e;
    *seq = s;
    return true;
}

/* Where a new stream starts: after the last event the browser saw
 * (Last-Event-ID, on a reconnect), at the page's mark (?from=), or now. An
 * id from before a restart starts from the first event of this run. */
static uint64_t stream_start(struct agent_http *h, struct MHD_Connection *conn)
{
    uint64_t next = agent_events_next(h->a), epoch, seq;
    const char *last = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID");
    const char *from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
    if (parse_event_id(last, &epoch, &seq))
        return epoch != h->epoch ? 0 : seq < next ? seq + 1 : next;
    if (parse_event_id(from, &epoch, &seq))
        return epoch != h->epoch ? 0 : seq < next ? seq : next;
    return next;
}

static enum MHD_Result start_stream(struct req *r)
{
    struct agent_http *h = r->h;
    if (h->n_streams >= HTTP_STREAMS)
        return page_message(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Too many live feeds",
                            "This agent serves a limited number of live feeds at once; close "
                            "another dashboard tab.");
    static const char hello[] = "retry: 3000\n: live feed of ChildFirst\n\n";
    r->out = strdup(hello);
    if (!r->out)
        return MHD_NO;
    r->out_len = sizeof hello - 1;
    r->seq = stream_start(h, r->conn);
    r->last_write = mono();
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, r, NULL);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    r->stream = true;
    h->n_streams++;
    cf_log_debug("DASHBOARD-STREAM", "from=%" PRIu64 " streams=%zu", r->seq, h->n_streams);
    return rc;
}

/* ---- The API ---- */

static unsigned refusal_status(int rc, bool has_dir)
{
    if (rc == CF_EJSON)
        return MHD_HTTP_BAD_REQUEST;
    if (rc == CF_ETOOBIG)
        return MHD_HTTP_CONTENT_TOO_LARGE;
    if ((rc == CF_EUNKNOWNAGENCY && !has_dir) || rc == CF_ENOSPACE || rc == CF_ESTORE ||
        rc == CF_EMAPFULL || rc == CF_ENOMEM)
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    return MHD_HTTP_UNPROCESSABLE_CONTENT;
}

/* Whether the broker has answered the request's referral. */
static bool refer_settled(struct req *r)
{
    json_t *detail = NULL;
    enum agent_outcome o = agent_outcome(r->h->a, r->message_id, &detail);
    json_decref(detail);
    return o == AGENT_ACCEPTED || o == AGENT_REJECTED;
}

/* The answer to a referral: the receipt (201), the broker's rejection (422),
 * or "queued" (202) while the broker has not answered. */
static enum MHD_Result refer_answer(struct req *r)
{
    json_t *detail = NULL;
    enum agent_outcome o = agent_outcome(r->h->a, r->message_id, &detail);
    bool settled = o == AGENT_ACCEPTED || o == AGENT_REJECTED;
    char hex[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, r->message_id, CF_MESSAGE_ID_LEN);
    json_t *doc = json_pack("{s:s, s:s}", "message_id", hex, "case_id", r->case_id);
    if (doc && settled && json_is_object(detail))
        json_object_update(doc, detail);
    json_decref(detail);
    const char *status = o == AGENT_ACCEPTED   ? "accepted"
                         : o == AGENT_REJECTED ? "rejected"
                                               : "queued";
    if (doc && !json_object_get(doc, "status"))
        json_object_set_new(doc, "status", json_string(status));
    if (doc && !settled)
        json_object_set_new(doc, "note",
                            json_string("not yet answered by the broker; it stays in the outbox "
                                        "and is resent until answered"));
    cf_log_info("API-REFERRAL-ANSWERED", "message_id=%s status=%s", hex, status);
    char location[64];
    snprintf(location, sizeof location, "/api/cases/%s", r->case_id);
    const char *extra[] = {MHD_HTTP_HEADER_LOCATION, location, NULL};
    return respond_json(r,
                        o == AGENT_ACCEPTED   ? MHD_HTTP_CREATED
                        : o == AGENT_REJECTED ? MHD_HTTP_UNPROCESSABLE_CONTENT
                                              : MHD_HTTP_ACCEPTED,
                        doc, o == AGENT_ACCEPTED ? extra : NULL);
}

static enum MHD_Result api_referral(struct req *r)
{
    struct agent *a = r->h->a;
    if (r->wait == WAIT_ANSWER)
        return refer_answer(r);
    if (r->too_big)
        return json_error(r, MHD_HTTP_CONTENT_TOO_LARGE, CF_ETOOBIG,
                          "the referral must be at most %u bytes", CF_MAX_JSON);
    const char *type = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (!type || strncasecmp(type, "application/json", 16) != 0 ||
        (type[16] && type[16] != ';' && type[16] != ' '))
        return json_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, CF_EJSON,
                          "send the referral as Content-Type: application/json");
    long long wait_s = HTTP_REFER_WAIT_S;
    const char *w = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "wait_s");
    if (w) {
        char *end;
        wait_s = strtoll(w, &end, 10);
        if (!w[0] || *end || wait_s < 0 || wait_s > HTTP_WAIT_MAX_S)
            return json_error(r, MHD_HTTP_BAD_REQUEST, CF_EFIELD,
                              "wait_s must be a whole number of seconds from 0 to %d",
                              HTTP_WAIT_MAX_S);
    }
    struct cf_error err = {0};
    int rc = agent_refer(a, r->body.len ? (const char *)r->body.data : "", r->body.len, NULL,
                         r->message_id, r->case_id, &err);
    if (rc != 0) {
        /* err.text may quote the referral: it goes back to the caller, not to the log. */
        cf_log_info("API-REFERRAL-INVALID", "code=%s", cf_error_name(rc));
        json_t *reason = json_string(err.text[0] ? err.text : cf_strerror(rc));
        unsigned status = refusal_status(rc, a->dir != NULL);
        static const char *const later[] = {"Retry-After", "10", NULL};
        return respond_json(r, status,
                            json_pack("{s:s, s:s, s:o}", "status", "invalid", "code",
                                      cf_error_name(rc), "reason",
                                      reason ? reason : json_string(cf_strerror(rc))),
                            status == MHD_HTTP_SERVICE_UNAVAILABLE ? later : NULL);
    }
    char hex[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, r->message_id, CF_MESSAGE_ID_LEN);
    cf_log_info("API-REFERRAL", "message_id=%s case_id=%s wait_s=%lld", hex, r->case_id, wait_s);
    if (wait_s == 0 || refer_settled(r))
        return refer_answer(r);
    return park(r, WAIT_ANSWER, (uint64_t)wait_s * 1000u);
}

static enum MHD_Result api_inbox(struct req *r)
{
    const char *id = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "case_id");
    if (id && !cf_header_case_id_valid(id, strlen(id)))
        return json_error(r, MHD_HTTP_BAD_REQUEST, CF_EFIELD,
                          "case_id must be a case id (cf- and 26 characters)");
    json_t *list = agent_inbox(r->h->a, id);
    if (!list)
        return json_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, CF_ESTORE,
                          "the inbox cannot be read; the agent's log says why");
    return respond_json(r, MHD_HTTP_OK, json_pack("{s:o}", "messages", list), NULL);
}

static enum MHD_Result api_case(struct req *r)
{
    if (r->wait == WAIT_NONE) {
        json_t *ids = json_pack("[s]", r->case_id);
        bool parked = ids && park_for_cases(r, ids);
        json_decref(ids);
        if (parked)
            return MHD_YES;
    }
    json_t *view = case_view(r->h, r->case_id);
    if (!view)
        return json_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, CF_ESTORE,
                          "the case cannot be read; the agent's log says why");
    if (!case_known(view)) {
        json_decref(view);
        return json_error(r, MHD_HTTP_NOT_FOUND, CF_ENOTFOUND,
                          "this agency knows nothing of case %s", r->case_id);
    }
    return respond_json(r, MHD_HTTP_OK, view, NULL);
}

/* ---- Dispatch ---- */

static bool is_api(const char *url)
{
    return strncmp(url, "/api/", 5) == 0 || strcmp(url, "/api") == 0;
}

static enum MHD_Result not_found(struct req *r, const char *url)
{
    if (is_api(url))
        return json_error(r, MHD_HTTP_NOT_FOUND, CF_ENOTFOUND,
                          "no such endpoint; the API has POST /api/referrals, GET /api/inbox "
                          "and GET /api/cases/ID");
    return page_message(r, MHD_HTTP_NOT_FOUND, "Not found", "There is no such page here.");
}

/* The route for the method and path; *known says whether the path exists at
 * all (for 405 rather than 404). */
static const struct route *route_of(const char *method, const char *url, char *case_id, bool *known,
                                    const char **allow)
{
    bool head = strcmp(method, "HEAD") == 0;
    *known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        size_t n = strlen(rt->path);
        if (rt->with_id ? strncmp(url, rt->path, n) != 0 ||
                              !cf_header_case_id_valid(url + n, strlen(url + n))
                        : strcmp(url, rt->path) != 0)
            continue;
        *known = true;
        *allow = rt->method;
        if (strcmp(method, rt->method) != 0 && !(head && strcmp(rt->method, "GET") == 0))
            continue;
        if (rt->with_id)
            snprintf(case_id, CF_CASE_ID_LEN + 1, "%s", url + n);
        return rt;
    }
    return NULL;
}

static enum MHD_Result serve(struct req *r)
{
    switch (r->route->id) {
    case PAGE_DASHBOARD:
        return page_dashboard(r);
    case PAGE_LOGIN:
        if (session_of(r->h, r->conn) >= 0)
            return redirect(r, "/", NULL);
        return page_login(r, false);
    case DO_LOGIN:
        return do_login(r);
    case DO_LOGOUT:
        return do_logout(r);
    case PAGE_CASE:
        return page_case(r);
    case EVENTS:
        return start_stream(r);
    case STATIC_JS:
        return respond(r, MHD_HTTP_OK, "text/javascript; charset=utf-8", strdup(agent_html_app_js),
                       strlen(agent_html_app_js), NULL);
    case STATIC_CSS:
        return respond(r, MHD_HTTP_OK, "text/css; charset=utf-8", strdup(agent_html_app_css),
                       strlen(agent_html_app_css), NULL);
    case FAVICON:
        return respond(r, MHD_HTTP_NO_CONTENT, NULL, NULL, 0, NULL);
    case API_REFERRALS:
        return api_referral(r);
    case API_INBOX:
        return api_inbox(r);
    case API_CASE:
        return api_case(r);
    }
    return MHD_NO;
}

/* The first call, with the headers only: route, authenticate, and refuse
 * early what must be refused (before any body is read). */
static enum MHD_Result start(struct req *r, const char *url, const char *method)
{
    struct agent_http *h = r->h;
    bool known;
    const char *allow = NULL;
    r->route = route_of(method, url, r->case_id, &known, &allow);
    if (!r->route && known) {
        const char *extra[] = {MHD_HTTP_HEADER_ALLOW, allow, NULL};
        return is_api(url) ? respond_json(r, MHD_HTTP_METHOD_NOT_ALLOWED,
                                          json_pack("{s:s, s:s}", "code", "CF_EINVAL", "reason",
                                                    "that method is not allowed here"),
                                          extra)
                           : respond(r, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                                     strdup("method not allowed\n"), 19, extra);
    }
    if (!r->route)
        return not_found(r, url);
    if (r->route->auth == AUTH_BEARER && !bearer_ok(h, r->conn)) {
        cf_log_warn("API-UNAUTHORISED", "path=%s", r->route->path);
        return json_error(r, MHD_HTTP_UNAUTHORIZED, CF_EINVAL,
                          h->has_api ? "send the agency-system token (api_token in agent.ini) "
                                       "as Authorization: Bearer TOKEN"
                                     : "the API is off: agent.ini sets no api_token");
    }
    if (r->route->auth == AUTH_SESSION && session_of(h, r->conn) < 0) {
        if (r->route->id == EVENTS)
            return respond(r, MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8",
                           strdup("log in first\n"), 13, NULL);
        return redirect(r, "/login", NULL);
    }
    const char *length = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (length && strtoull(length, NULL, 10) > r->route->body_max) {
        if (r->route->id == API_REFERRALS)
            return json_error(r, MHD_HTTP_CONTENT_TOO_LARGE, CF_ETOOBIG,
                              "the referral must be at most %u bytes", CF_MAX_JSON);
        return respond(r, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain; charset=utf-8",
                       strdup("too large\n"), 10, NULL);
    }
    if (r->route->body_max == 0)
        return serve(r); /* a GET: nothing more will come */
    return MHD_YES;      /* the body follows */
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    (void)version;
    struct agent_http *h = cls;
    struct req *r = *req_cls;
    if (!r) {
        if (!(r = req_new(h, conn)))
            return MHD_NO;
        *req_cls = r;
        return start(r, url, method);
    }
    if (*upload_size) {
        if (!r->answered && !r->too_big) {
            if (r->body.len + *upload_size > r->route->body_max)
                r->too_big = true;
            else
                cf_buf_put(&r->body, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    if (cf_buf_status(&r->body) != 0)
        r->too_big = true;
    return serve(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn;
    struct req *r = *req_cls;
    if (!r)
        return;
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        cf_log_debug("HTTP-ENDED", "path=%s why=%d", r->route ? r->route->path : "?", (int)why);
    req_free(r);
    *req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[256];
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\r\n\"")] = 0;
    cf_log_debug("HTTP-LIBRARY", "text=\"%s\"", text);
}

/* ---- The agent_http.h interface ---- */

int agent_http_open(struct agent *a, struct cf_error *err)
{
    struct agent_config *c = &a->cfg;
    a->http = NULL;
    if (!c->dashboard_listen[0])
        return 0;
    struct sockaddr_storage ss;
    socklen_t sslen;
    bool loopback;
    if (agent_config_listen(c->dashboard_listen, &ss, &sslen, &loopback) != 0)
        return cf_error_set(err, CF_ECONFIG, "dashboard_listen %s is not an address",
                            c->dashboard_listen);
    struct agent_http *h = calloc(1, sizeof *h);
    if (!h)
        return cf_error_set(err, CF_ENOMEM, "out of memory for the dashboard");
    h->a = a;
    h->fd = -1;
    h->epoch = agent_now();
    h->has_dashboard = c->dashboard_token[0] != 0;
    h->has_api = c->api_token[0] != 0;
    digest(c->dashboard_token, strlen(c->dashboard_token), h->dashboard_digest);
    digest(c->api_token, strlen(c->api_token), h->api_digest);
    sodium_memzero(c->dashboard_token, sizeof c->dashboard_token);
    sodium_memzero(c->api_token, sizeof c->api_token);
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)HTTP_IDLE_S, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)32, MHD_OPTION_END);
    const union MHD_DaemonInfo *fd_info =
        h->d ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    const union MHD_DaemonInfo *port_info =
        h->d ? MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!fd_info || !port_info) {
        if (h->d)
            MHD_stop_daemon(h->d);
        free(h);
        return cf_error_set(err, CF_EIO, "the dashboard cannot listen on %s (is the port in use?)",
                            c->dashboard_listen);
    }
    h->fd = fd_info->epoll_fd;
    char host[INET6_ADDRSTRLEN], url[128];
    if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
    snprintf(url, sizeof url, ss.ss_family == AF_INET6 ? "http://[%s]:%u" : "http://%s:%u", host,
             (unsigned)port_info->port);
    snprintf(h->endpoint_path, sizeof h->endpoint_path, "%s/dashboard.endpoint", c->state_dir);
    struct cf_error werr = {0};
    if (cf_file_write_atomic(h->endpoint_path, url, strlen(url), 0644, &werr) != 0) {
        MHD_stop_daemon(h->d);
        free(h);
        return cf_error_set(err, CF_EIO, "%s", werr.text);
    }
    a->http = h;
    cf_log_info("DASHBOARD-LISTENING", "url=%s dashboard=%s api=%s", url,
                h->has_dashboard ? "on" : "off", h->has_api ? "on" : "off");
    if (!loopback)
        cf_log_warn("DASHBOARD-REMOTE",
                    "url=%s detail=\"plain HTTP beyond loopback; keep it "
                    "behind a TLS proxy\"",
                    url);
    return 0;
}

void agent_http_close(struct agent *a)
{
    struct agent_http *h = a->http;
    if (!h)
        return;
    /* MHD must not be stopped with suspended connections: wake them all; a
     * parked referral answers "queued", a stream ends. */
    h->closing = true;
    size_t streams = h->n_streams;
    for (struct req *r = h->reqs; r; r = r->next) {
        r->timed_out = true;
        wake(r);
    }
    MHD_run(h->d);
    MHD_stop_daemon(h->d);
    unlink(h->endpoint_path);
    sodium_memzero(h, sizeof *h);
    free(h);
    a->http = NULL;
    cf_log_info("DASHBOARD-CLOSED", "streams=%zu", streams);
}

int agent_http_fd(const struct agent *a)
{
    return a->http ? a->http->fd : -1;
}

long agent_http_wait(struct agent *a, long wait_ms)
{
    struct agent_http *h = a->http;
    MHD_UNSIGNED_LONG_LONG t;
    if (h && MHD_get_timeout(h->d, &t) == MHD_YES && t < (MHD_UNSIGNED_LONG_LONG)wait_ms)
        return (long)t;
    return wait_ms;
}

void agent_http_run(struct agent *a)
{
    struct agent_http *h = a->http;
    if (!h)
        return;
    uint64_t now = mono(), next = agent_events_next(a);
    for (struct req *r = h->reqs; r; r = r->next) {
        if (!r->suspended)
            continue;
        if (r->stream && (r->seq != next || now - r->last_write >= HTTP_HEARTBEAT_MS))
            wake(r);
        else if (!r->stream && now >= r->deadline) {
            r->timed_out = true;
            wake(r);
        }
    }
    MHD_run(h->d);
}

void agent_http_answered(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN])
{
    struct agent_http *h = a->http;
    for (struct req *r = h ? h->reqs : NULL; r; r = r->next)
        if (r->suspended && r->wait == WAIT_ANSWER &&
            memcmp(r->message_id, message_id, CF_MESSAGE_ID_LEN) == 0)
            wake(r);
}

void agent_http_case_info(struct agent *a, const char *case_id, const struct cf_case_info *info)
{
    struct agent_http *h = a->http;
    if (!h || !cf_header_case_id_valid(case_id, strlen(case_id)))
        return;
    struct case_entry *e = cache_entry(h, case_id, true);
    e->shown = info != NULL;
    if (info)
        e->info = *info;
    e->answered = mono();
    for (struct req *r = h->reqs; r; r = r->next)
        if (r->suspended && r->wait == WAIT_CASES && cases_answered(h, r))
            wake(r);
}
