/* The dashboard and the agency-system API over real HTTP: a real broker and
 * agents on 127.0.0.1, each agent serving libmicrohttpd on a port the kernel
 * picks (STATE_DIR/dashboard.endpoint), and a small HTTP/1.1 client written
 * here on plain sockets (libcurl is no dependency). The child is the fictional
 * one of deploy/examples/referral.json. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"

#define EXAMPLE CF_SOURCE_DIR "/deploy/examples/referral.json"
#define CHILD_NAME "Amanuel"
#define WAIT_MS 20000
#define PEOPLE "people-token-0123456789abcdef"
#define SYSTEMS "system-token-0123456789abcdef"
#define WEB_INI                                                                                    \
    "dashboard_listen = 127.0.0.1:0\ndashboard_token = " PEOPLE "\napi_token = " SYSTEMS "\n"

static char out[1 << 16], err[1 << 16];

static const char *const cast[] = {"police-a", "la-csc", "la-duty"};

/* ---- A minimal HTTP/1.1 client ---- */

struct resp {
    int status;
    char head[16384]; /* the status line and headers, NUL-terminated */
    char *body;       /* de-chunked, NUL-terminated; free() */
    size_t body_len;
};

static void resp_fini(struct resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0)
        fail_msg("cannot connect to 127.0.0.1:%d: %s", port, strerror(errno));
    return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail_msg("send: %s", strerror(errno));
        buf += n;
        len -= (size_t)n;
    }
}

/* Reads what arrives within `ms` (until EOF); returns bytes added to *buf. */
static size_t read_some(int fd, char **buf, size_t *len, size_t *cap, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
        return 0;
    if (*len + 65536 + 1 > *cap) {
        *cap = (*len + 65536 + 1) * 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    ssize_t n = recv(fd, *buf + *len, *cap - *len - 1, 0);
    if (n <= 0)
        return 0;
    *len += (size_t)n;
    (*buf)[*len] = 0;
    return (size_t)n;
}

/* The value of header `name` in a response head, copied into `val`. */
static bool header(const char *head, const char *name, char *val, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n, *end = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            size_t len = end ? (size_t)(end - v) : strlen(v);
            if (len >= cap)
                len = cap - 1;
            memcpy(val, v, len);
            val[len] = 0;
            return true;
        }
    }
    return false;
}

/* Decodes chunked transfer coding in place; false while incomplete. */
static bool dechunk(const char *in, size_t len, char **plain, size_t *plain_len)
{
    size_t o = 0, i = 0;
    char *dst = malloc(len + 1);
    assert_non_null(dst);
    for (;;) {
        const char *crlf = NULL;
        for (size_t k = i; k + 1 < len && !crlf; k++)
            if (in[k] == '\r' && in[k + 1] == '\n')
                crlf = in + k;
        if (!crlf)
            break;
        size_t size = strtoul(in + i, NULL, 16);
        size_t start = (size_t)(crlf - in) + 2;
        if (size == 0) {
            dst[o] = 0;
            *plain = dst;
            *plain_len = o;
            return true;
        }
        if (start + size + 2 > len)
            break;
        memcpy(dst + o, in + start, size);
        o += size;
        i = start + size + 2;
    }
    dst[o] = 0;
    *plain = dst;
    *plain_len = o;
    return false;
}

/* One request, read to the end: `extra` is more header lines ("Name: v\r\n"). */
static void http(int port, const char *method, const char *path, const char *extra,
                 const char *body, size_t body_len, struct resp *r)
{
    memset(r, 0, sizeof *r);
    int fd = connect_to(port);
    char req[4096];
    int n =
        snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s",
                 method, path, port, extra ? extra : "");
    if (body)
        n += snprintf(req + n, sizeof req - (size_t)n, "Content-Length: %zu\r\n", body_len);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    send_all(fd, req, (size_t)n);
    if (body)
        send_all(fd, body, body_len);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    while (read_some(fd, &buf, &len, &cap, WAIT_MS) > 0)
        ;
    close(fd);
    if (!buf)
        fail_msg("%s %s: no answer", method, path);
    char *end = strstr(buf, "\r\n\r\n");
    if (!end || sscanf(buf, "HTTP/1.1 %d", &r->status) != 1)
        fail_msg("%s %s: not an HTTP answer:\n%.300s", method, path, buf);
    size_t head_len = (size_t)(end - buf) + 2;
    if (head_len >= sizeof r->head)
        fail_msg("headers too long");
    memcpy(r->head, buf, head_len);
    char te[64] = "";
    const char *rest = end + 4;
    size_t rest_len = len - (size_t)(rest - buf);
    if (header(r->head, "Transfer-Encoding", te, sizeof te) && strcasecmp(te, "chunked") == 0) {
        dechunk(rest, rest_len, &r->body, &r->body_len);
    } else {
        r->body = malloc(rest_len + 1);
        memcpy(r->body, rest, rest_len);
        r->body[rest_len] = 0;
        r->body_len = rest_len;
    }
    free(buf);
}

static json_t *body_json(const struct resp *r)
{
    json_error_t e;
    json_t *doc = json_loads(r->body, 0, &e);
    if (!doc)
        fail_msg("not JSON (%s): %s", e.text, r->body);
    return doc;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Every answer carries these, whatever its status. */
static void assert_safe_headers(const struct resp *r)
{
    char v[512];
    assert_true(header(r->head, "Cache-Control", v, sizeof v));
    assert_string_equal(v, "no-store");
    assert_true(header(r->head, "Content-Security-Policy", v, sizeof v));
    assert_non_null(strstr(v, "default-src 'self'"));
    assert_true(header(r->head, "X-Content-Type-Options", v, sizeof v));
}

/* ---- The network ---- */

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof *n);
    net_create(n, NULL);
    net_broker_start(n);
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_setup(n, cast[i], WEB_INI);
    *state = n;
    return 0;
}

static int teardown(void **state)
{
    struct net *n = *state;
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_stop(n, cast[i]);
    net_broker_stop(n);
    net_destroy(n);
    free(n);
    return 0;
}

/* Waits until the agent has Welcomed and holds the signed directory. */
static void wait_connected(struct net *n, const char *id)
{
    const char *args[] = {"status", "--json", NULL};
    for (int i = 0; i < WAIT_MS / 20; i++) {
        if (net_cli(n, id, args, out, sizeof out, err, sizeof err) == 0) {
            json_t *st = json_loads(out, 0, NULL);
            bool ready = json_is_true(json_object_get(st, "connected")) &&
                         json_integer_value(json_object_get(st, "directory_serial")) > 0;
            json_decref(st);
            if (ready)
                return;
        }
        usleep(20 * 1000);
    }
    fail_msg("%s did not connect to the broker within %d ms", id, WAIT_MS);
}

/* Starts the agent and returns its dashboard's port, from the endpoint file,
 * once the agent is connected. */
static int start_web(struct net *n, const char *id)
{
    char pattern[1024], path[1024];
    snprintf(pattern, sizeof pattern, "%s/dashboard.endpoint", net_agent_of(n, id)->state);
    unlink(pattern);
    net_agent_start(n, id, NULL);
    if (!net_wait_glob(pattern, WAIT_MS, path, sizeof path))
        fail_msg("%s published no dashboard.endpoint", id);
    FILE *f = fopen(path, "r");
    char url[128] = "";
    assert_non_null(f);
    assert_non_null(fgets(url, sizeof url, f));
    fclose(f);
    int port = 0;
    if (sscanf(url, "http://127.0.0.1:%d", &port) != 1 || port <= 0)
        fail_msg("%s: dashboard.endpoint holds '%s'", id, url);
    wait_connected(n, id);
    return port;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    static char buf[1 << 18];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    return buf;
}

static const char bearer[] = "Authorization: Bearer " SYSTEMS "\r\n";
static const char json_content[] = "Content-Type: application/json\r\n";

/* POST /api/referrals with the system token; the answer in *r. */
static void api_refer(int port, const char *text, const char *query, struct resp *r)
{
    char extra[256], path[128];
    snprintf(extra, sizeof extra, "%s%s", bearer, json_content);
    snprintf(path, sizeof path, "/api/referrals%s", query ? query : "");
    http(port, "POST", path, extra, text, strlen(text), r);
}

/* Logs in with the dashboard token; returns the "Cookie: ..." header line. */
static void login(int port, char *cookie_line, size_t cap)
{
    struct resp r;
    static const char form[] = "token=" PEOPLE;
    http(port, "POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", form,
         strlen(form), &r);
    assert_int_equal(r.status, 303);
    char v[512], loc[256];
    assert_true(header(r.head, "Location", loc, sizeof loc));
    assert_string_equal(loc, "/");
    assert_true(header(r.head, "Set-Cookie", v, sizeof v));
    assert_non_null(strstr(v, "HttpOnly"));
    assert_non_null(strstr(v, "SameSite=Strict"));
    assert_null(strstr(v, PEOPLE)); /* a session id, never the token itself */
    assert_int_equal(strncmp(v, "cf_session=", 11), 0);
    char *semi = strchr(v, ';');
    *semi = 0;
    snprintf(cookie_line, cap, "Cookie: %.200s\r\n", v);
    resp_fini(&r);
}

/* ---- The API ---- */

static void test_api_needs_the_bearer_token(void **state)
{
    struct net *n = *state;
    int port = start_web(n, "la-csc");
    struct resp r;
    const char *const asks[][2] = {{"GET", "/api/inbox"},
                                   {"GET", "/api/cases/cf-aaaaaaaaaaaaaaaaaaaaaaaaaa"},
                                   {"POST", "/api/referrals"}};
    const char *const wrong[] = {NULL, "Authorization: Bearer not-the-token-0123456789\r\n",
                                 "Authorization: Bearer " PEOPLE "\r\n", /* a person's token */
                                 "Authorization: Basic " SYSTEMS "\r\n"};
    for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++)
        for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
            http(port, asks[i][0], asks[i][1], wrong[k], NULL, 0, &r);
            assert_int_equal(r.status, 401);
            assert_safe_headers(&r);
            char v[256];
            assert_true(header(r.head, "WWW-Authenticate", v, sizeof v));
            json_t *e = body_json(&r);
            assert_string_equal(jstr(e, "code"), "CF_EINVAL");
            assert_non_null(strstr(jstr(e, "reason"), "Authorization: Bearer"));
            json_decref(e);
            resp_fini(&r);
        }
    http(port, "GET", "/api/inbox", bearer, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_safe_headers(&r);
    json_t *doc = body_json(&r);
    assert_true(json_is_array(json_object_get(doc, "messages")));
    json_decref(doc);
    resp_fini(&r);
    /* Unknown endpoints and methods say so in JSON. */
    http(port, "GET", "/api/nothing", bearer, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    doc = body_json(&r);
    assert_string_equal(jstr(doc, "code"), "CF_ENOTFOUND");
    json_decref(doc);
    resp_fini(&r);
    http(port, "DELETE", "/api/inbox", bearer, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    resp_fini(&r);
    /* No token is ever logged. */
    net_agent_stop(n, "la-csc");
    const char *log = read_file(net_agent_of(n, "la-csc")->log);
    assert_null(strstr(log, SYSTEMS));
    assert_null(strstr(log, PEOPLE));
    assert_non_null(strstr(log, "API-UNAUTHORISED"));
}

static void test_api_referral_to_receipt_inbox_and_case(void **state)
{
    struct net *n = *state;
    int police = start_web(n, "police-a");
    int la = start_web(n, "la-csc");
    struct resp r;
    api_refer(police, read_file(EXAMPLE), NULL, &r);
    assert_int_equal(r.status, 201);
    assert_safe_headers(&r);
    json_t *receipt = body_json(&r);
    assert_string_equal(jstr(receipt, "status"), "accepted");
    assert_true(json_integer_value(json_object_get(receipt, "leaf_index")) > 0);
    assert_non_null(strstr(jstr(receipt, "checkpoint"), "test.childfirst/log\n"));
    assert_int_equal(strlen(jstr(receipt, "message_id")), 32);
    const char *case_id = jstr(receipt, "case_id");
    char loc[128], want[128];
    assert_true(header(r.head, "Location", loc, sizeof loc));
    snprintf(want, sizeof want, "/api/cases/%s", case_id);
    assert_string_equal(loc, want);
    resp_fini(&r);

    /* The LA's agent receives it: its inbox through the API. */
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-referral.json",
             net_agent_of(n, "la-csc")->spool, case_id);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0));
    char path[256];
    snprintf(path, sizeof path, "/api/inbox?case_id=%s", case_id);
    http(la, "GET", path, bearer, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *inbox = body_json(&r);
    json_t *first = json_array_get(json_object_get(inbox, "messages"), 0);
    assert_string_equal(jstr(first, "type"), "referral");
    assert_string_equal(jstr(first, "message_id"), jstr(receipt, "message_id"));
    assert_null(strstr(r.body, CHILD_NAME)); /* the inbox lists, it does not open */
    json_decref(inbox);
    resp_fini(&r);
    http(la, "GET", "/api/inbox?case_id=nonsense", bearer, NULL, 0, &r);
    assert_int_equal(r.status, 400);
    resp_fini(&r);

    /* Both ends see the case, with the broker's state and deadlines. */
    snprintf(path, sizeof path, "/api/cases/%s", case_id);
    const int ports[] = {police, la};
    for (size_t i = 0; i < 2; i++) {
        http(ports[i], "GET", path, bearer, NULL, 0, &r);
        assert_int_equal(r.status, 200);
        json_t *view = body_json(&r);
        assert_string_equal(jstr(view, "case_id"), case_id);
        assert_string_equal(jstr(json_object_get(view, "broker"), "state"), "referred");
        assert_string_equal(jstr(json_object_get(view, "broker"), "owner"), "la-csc");
        assert_non_null(json_object_get(json_object_get(view, "broker"), "next_deadline"));
        json_t *item = json_array_get(json_object_get(view, "timeline"), 0);
        assert_string_equal(jstr(item, "type"), "referral");
        assert_string_equal(jstr(item, "direction"), i == 0 ? "sent" : "received");
        json_decref(view);
        resp_fini(&r);
    }
    http(la, "GET", "/api/cases/cf-aaaaaaaaaaaaaaaaaaaaaaaaaa", bearer, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    json_t *e = body_json(&r);
    assert_string_equal(jstr(e, "code"), "CF_ENOTFOUND");
    json_decref(e);
    resp_fini(&r);
    http(la, "GET", "/api/cases/not-a-case", bearer, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_fini(&r);
    json_decref(receipt);
}

static void test_api_referral_refusals(void **state)
{
    struct net *n = *state;
    int port = start_web(n, "police-a");
    struct resp r;
    json_error_t je;
    json_t *doc = json_load_file(EXAMPLE, 0, &je);
    /* The same validation as childfirst refer, with code and reason. */
    json_object_del(doc, "narrative");
    char *text = json_dumps(doc, 0);
    api_refer(port, text, NULL, &r);
    assert_int_equal(r.status, 422);
    json_t *e = body_json(&r);
    assert_string_equal(jstr(e, "status"), "invalid");
    assert_string_equal(jstr(e, "code"), "CF_EFIELD");
    assert_string_equal(jstr(e, "reason"), "narrative: is required");
    json_decref(e);
    resp_fini(&r);
    free(text);
    api_refer(port, "{\"la_code\": ", NULL, &r);
    assert_int_equal(r.status, 400);
    e = body_json(&r);
    assert_string_equal(jstr(e, "code"), "CF_EJSON");
    json_decref(e);
    resp_fini(&r);
    /* Over CF_MAX_JSON: refused from the Content-Length, before the body. */
    size_t big = 256 * 1024 + 1;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = 0;
    huge[0] = '{';
    api_refer(port, huge, NULL, &r);
    assert_int_equal(r.status, 413);
    e = body_json(&r);
    assert_string_equal(jstr(e, "code"), "CF_ETOOBIG");
    json_decref(e);
    resp_fini(&r);
    free(huge);
    /* Not JSON by its type. */
    http(port, "POST", "/api/referrals", bearer, "{}", 2, &r);
    assert_int_equal(r.status, 415);
    resp_fini(&r);
    api_refer(port, "{}", "?wait_s=forever", &r);
    assert_int_equal(r.status, 400);
    resp_fini(&r);
    /* The broker's own refusal: a case id that exists already. */
    json_t *full = json_load_file(EXAMPLE, 0, &je);
    api_refer(port, read_file(EXAMPLE), NULL, &r);
    assert_int_equal(r.status, 201);
    json_t *receipt = body_json(&r);
    resp_fini(&r);
    json_object_set(full, "case_id", json_object_get(receipt, "case_id"));
    text = json_dumps(full, 0);
    api_refer(port, text, NULL, &r);
    assert_int_equal(r.status, 422);
    e = body_json(&r);
    assert_string_equal(jstr(e, "status"), "rejected");
    assert_string_equal(jstr(e, "code"), "CF_ECASEEXISTS");
    json_decref(e);
    resp_fini(&r);
    free(text);
    json_decref(receipt);
    json_decref(full);
    json_decref(doc);
}

/* With the broker away, a referral is kept in the outbox and answered 202. */
static void test_api_referral_queued_while_broker_down(void **state)
{
    struct net *n = *state;
    int port = start_web(n, "police-a");
    struct resp r;
    api_refer(port, read_file(EXAMPLE), NULL, &r);
    assert_int_equal(r.status, 201);
    resp_fini(&r);
    net_broker_stop(n);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    api_refer(port, read_file(EXAMPLE), "?wait_s=1", &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(r.status, 202);
    json_t *q = body_json(&r);
    assert_string_equal(jstr(q, "status"), "queued");
    assert_int_equal(strlen(jstr(q, "message_id")), 32);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 900); /* it waited for the broker as long as it was asked to */
    json_decref(q);
    resp_fini(&r);
    /* Meanwhile the rest of the server answers: nothing blocked the loop. */
    http(port, "GET", "/api/inbox", bearer, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
}

/* Stopping the agent answers what waits: a parked referral gets 202 (it is
 * safe in the outbox) and a live feed ends; the agent still exits cleanly. */
static void test_stop_answers_parked_requests(void **state)
{
    struct net *n = *state;
    int port = start_web(n, "police-a");
    char cookie[256];
    login(port, cookie, sizeof cookie);
    net_broker_stop(n);
    int feed = connect_to(port);
    char req[1024];
    int len =
        snprintf(req, sizeof req, "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", cookie);
    send_all(feed, req, (size_t)len);
    const char *text = read_file(EXAMPLE);
    int post = connect_to(port);
    len = snprintf(req, sizeof req,
                   "POST /api/referrals?wait_s=600 HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s"
                   "Content-Length: %zu\r\n\r\n",
                   bearer, json_content, strlen(text));
    send_all(post, req, (size_t)len);
    send_all(post, text, strlen(text));
    /* Parked: the agent logs the referral, then waits for the broker. */
    const char *log = net_agent_of(n, "police-a")->log;
    bool logged = false;
    for (int i = 0; i < WAIT_MS / 20 && !logged; i++) {
        logged = strstr(read_file(log), "API-REFERRAL message_id=") != NULL;
        if (!logged)
            usleep(20 * 1000);
    }
    assert_true(logged);
    net_agent_stop(n, "police-a"); /* asserts a clean exit */
    char *buf = NULL;
    size_t used = 0, cap = 0;
    while (read_some(post, &buf, &used, &cap, WAIT_MS) > 0)
        ;
    assert_non_null(buf);
    assert_non_null(strstr(buf, "HTTP/1.1 202"));
    assert_non_null(strstr(buf, "\"status\":\"queued\""));
    free(buf);
    buf = NULL;
    used = cap = 0;
    while (read_some(feed, &buf, &used, &cap, WAIT_MS) > 0)
        ;
    assert_non_null(buf);
    assert_non_null(strstr(buf, "retry:")); /* it was a stream, and it ended */
    free(buf);
    close(post);
    close(feed);
}

/* ---- The dashboard ---- */

static void test_dashboard_login_pages_and_logout(void **state)
{
    struct net *n = *state;
    int duty = start_web(n, "la-duty");
    int police = start_web(n, "police-a");
    struct resp r;
    /* Without a session: to the login form. */
    http(duty, "GET", "/", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 303);
    assert_safe_headers(&r);
    char v[512];
    assert_true(header(r.head, "Location", v, sizeof v));
    assert_string_equal(v, "/login");
    resp_fini(&r);
    http(duty, "GET", "/login", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_safe_headers(&r);
    assert_non_null(strstr(r.body, "<form method=\"post\" action=\"/login\""));
    assert_null(strstr(r.body, "http://")); /* no resource from anywhere else */
    assert_null(strstr(r.body, "https://"));
    resp_fini(&r);
    /* A wrong token: 403, a clear page, no cookie. */
    static const char bad[] = "token=not-the-right-token-at-all";
    http(duty, "POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", bad,
         strlen(bad), &r);
    assert_int_equal(r.status, 403);
    assert_false(header(r.head, "Set-Cookie", v, sizeof v));
    assert_non_null(strstr(r.body, "That token is not right"));
    resp_fini(&r);
    static const char sys[] = "token=" SYSTEMS; /* the systems' token is no person's */
    http(duty, "POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", sys,
         strlen(sys), &r);
    assert_int_equal(r.status, 403);
    resp_fini(&r);
    http(duty, "GET", "/",
         "Cookie: cf_session=00000000000000000000000000000000000000000000"
         "00000000000000000000\r\n",
         NULL, 0, &r);
    assert_int_equal(r.status, 303);
    resp_fini(&r);

    char cookie[256], police_cookie[256];
    login(duty, cookie, sizeof cookie);
    login(police, police_cookie, sizeof police_cookie);
    const char *args[] = {"refer", EXAMPLE, NULL};
    assert_int_equal(net_cli(n, "police-a", args, out, sizeof out, err, sizeof err), 0);
    json_t *receipt = json_loads(out, 0, NULL);
    const char *case_id = jstr(receipt, "case_id");
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-notice.json",
             net_agent_of(n, "la-duty")->spool, case_id);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0));
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-referral.json",
             net_agent_of(n, "la-duty")->spool, case_id);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0));

    /* The dashboard: the open case with its next deadline, the feed, no child. */
    http(duty, "GET", "/", cookie, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_safe_headers(&r);
    assert_true(header(r.head, "Content-Type", v, sizeof v));
    assert_non_null(strstr(v, "text/html"));
    char link[128];
    snprintf(link, sizeof link, "<a href=\"/cases/%s\">", case_id);
    assert_non_null(strstr(r.body, link));
    assert_non_null(strstr(r.body, "Acknowledgement")); /* the broker's next deadline */
    assert_non_null(strstr(r.body, "New referral"));
    assert_non_null(strstr(r.body, "<script src=\"/static/app.js\"></script>"));
    assert_null(strstr(r.body, CHILD_NAME));
    assert_null(strstr(r.body, "<script>")); /* no inline script: the CSP would stop it */
    resp_fini(&r);

    /* The case page: the timeline and, for an agency that can decrypt, the child. */
    char path[128];
    snprintf(path, sizeof path, "/cases/%s", case_id);
    http(duty, "GET", path, cookie, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_safe_headers(&r);
    assert_non_null(strstr(r.body, "id=\"timeline\""));
    assert_non_null(strstr(r.body, "id=\"child\""));
    assert_non_null(strstr(r.body, CHILD_NAME));
    /* Escaped: the example's apostrophes ('the uncle') never reach the page raw. */
    assert_null(strstr(r.body, "'the uncle'"));
    assert_non_null(strstr(r.body, "&#39;the uncle&#39;"));
    resp_fini(&r);
    /* The police sent it and hold no key to it: no child on their case page. */
    http(police, "GET", path, police_cookie, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "id=\"timeline\""));
    assert_null(strstr(r.body, CHILD_NAME));
    resp_fini(&r);
    http(duty, "GET", "/cases/cf-aaaaaaaaaaaaaaaaaaaaaaaaaa", cookie, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_fini(&r);
    http(duty, "GET", "/static/app.js", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "innerHTML"));
    resp_fini(&r);

    /* A session cookie does not open the API, nor the token the pages. */
    snprintf(path, sizeof path, "/api/cases/%s", case_id);
    http(duty, "GET", path, cookie, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);
    http(duty, "GET", "/", bearer, NULL, 0, &r);
    assert_int_equal(r.status, 303);
    resp_fini(&r);

    /* Logging out ends the session. */
    http(duty, "POST", "/logout", cookie, "", 0, &r);
    assert_int_equal(r.status, 303);
    assert_true(header(r.head, "Set-Cookie", v, sizeof v));
    assert_non_null(strstr(v, "Max-Age=0"));
    resp_fini(&r);
    http(duty, "GET", "/", cookie, NULL, 0, &r);
    assert_int_equal(r.status, 303);
    resp_fini(&r);
    json_decref(receipt);
}

/* Reads an event stream until `needle` arrives (true) or `ms` pass. */
static bool stream_until(int fd, char **buf, size_t *len, size_t *cap, const char *needle, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *plain;
        size_t plain_len;
        char *body = *buf ? strstr(*buf, "\r\n\r\n") : NULL;
        if (body) {
            dechunk(body + 4, *len - (size_t)(body + 4 - *buf), &plain, &plain_len);
            bool found = strstr(plain, needle) != NULL;
            free(plain);
            if (found)
                return true;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        long waited = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (waited >= ms)
            return false;
        read_some(fd, buf, len, cap, (int)(ms - waited));
    }
}

/* The agent's CPU time so far, in clock ticks (utime + stime). */
static long cpu_ticks(pid_t pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    const char *p = strrchr(line, ')');
    long utime = 0, stime = 0;
    /* fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime */
    assert_int_equal(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime), 2);
    return utime + stime;
}

static void test_live_feed_by_server_sent_events(void **state)
{
    struct net *n = *state;
    net_agent_start(n, "police-a", NULL);
    int duty = start_web(n, "la-duty");
    char cookie[256];
    login(duty, cookie, sizeof cookie);
    /* Without a session the stream is refused. */
    struct resp r;
    http(duty, "GET", "/events", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);

    int fd = connect_to(duty);
    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                       "%s\r\n",
                       cookie);
    send_all(fd, req, (size_t)len);
    char *buf = NULL;
    size_t used = 0, cap = 0;
    assert_true(stream_until(fd, &buf, &used, &cap, "retry:", WAIT_MS));
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "text/event-stream"));
    assert_non_null(strstr(buf, "no-store"));

    /* An idle stream costs nothing: the connection is suspended, not polled. */
    long before = cpu_ticks(net_agent_of(n, "la-duty")->pid);
    assert_false(stream_until(fd, &buf, &used, &cap, "event: item", 1000));
    long idle = cpu_ticks(net_agent_of(n, "la-duty")->pid) - before;
    long hz = sysconf(_SC_CLK_TCK);
    if (idle * 1000 / hz > 300)
        fail_msg("the agent used %ld ms of CPU in 1 s with an idle live feed", idle * 1000 / hz);

    /* A new immediate referral reaches the open stream without asking. */
    const char *args[] = {"refer", EXAMPLE, NULL};
    assert_int_equal(net_cli(n, "police-a", args, out, sizeof out, err, sizeof err), 0);
    json_t *receipt = json_loads(out, 0, NULL);
    const char *case_id = jstr(receipt, "case_id");
    assert_true(stream_until(fd, &buf, &used, &cap, "\"kind\":\"new_referral\"", WAIT_MS));
    char want[128];
    snprintf(want, sizeof want, "\"case_id\":\"%s\"", case_id);
    assert_true(stream_until(fd, &buf, &used, &cap, want, WAIT_MS));
    assert_true(stream_until(fd, &buf, &used, &cap, "\"type\":\"referral\"", WAIT_MS));
    char *body = strstr(buf, "\r\n\r\n"), *plain;
    size_t plain_len;
    dechunk(body + 4, used - (size_t)(body + 4 - buf), &plain, &plain_len);
    assert_non_null(strstr(plain, "event: item\ndata: {"));
    assert_null(strstr(plain, CHILD_NAME)); /* header facts only */
    /* The last id, for a reconnect with Last-Event-ID. */
    char last_id[64] = "";
    for (const char *p = strstr(plain, "id: "); p; p = strstr(p + 1, "\nid: "))
        sscanf(p[0] == '\n' ? p + 5 : p + 4, "%63s", last_id);
    assert_true(last_id[0]);
    free(plain);
    close(fd);
    free(buf);

    /* Reconnecting after the last id sends nothing old again; one from before
     * the agent's restart (another epoch) gets this run's events from the start. */
    fd = connect_to(duty);
    len = snprintf(req, sizeof req,
                   "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: %s\r\n%s\r\n",
                   last_id, cookie);
    send_all(fd, req, (size_t)len);
    buf = NULL;
    used = cap = 0;
    assert_true(stream_until(fd, &buf, &used, &cap, "retry:", WAIT_MS));
    assert_false(stream_until(fd, &buf, &used, &cap, "event: item", 300));
    close(fd);
    free(buf);
    fd = connect_to(duty);
    len =
        snprintf(req, sizeof req,
                 "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Event-ID: 1-5\r\n%s\r\n", cookie);
    send_all(fd, req, (size_t)len);
    buf = NULL;
    used = cap = 0;
    assert_true(stream_until(fd, &buf, &used, &cap, want, WAIT_MS));
    close(fd);
    free(buf);
    json_decref(receipt);
}

/* ---- Configuration ---- */

static void test_config_refuses_unsafe_dashboards(void **state)
{
    struct net *n = *state;
    static const struct {
        const char *ini, *says;
    } cases[] = {
        {"dashboard_listen = 0.0.0.0:8750\ndashboard_token = " PEOPLE "\n",
         "is not a loopback address"},
        {"dashboard_listen = 127.0.0.1:8750\n", "neither dashboard_token nor api_token"},
        {"dashboard_listen = 127.0.0.1:8750\ndashboard_token = short\n", "at least 16 characters"},
        {"dashboard_listen = 127.0.0.1:8750\napi_token = has spaces in it 0123456789\n",
         "may hold only"},
        {"dashboard_listen = 127.0.0.1:8750\ndashboard_token = " PEOPLE "\napi_token = " PEOPLE
         "\n",
         "must differ"},
        {"dashboard_listen = localhost:8750\ndashboard_token = " PEOPLE "\n", "no host names"},
        {"dashboard_listen = 127.0.0.1:99999\ndashboard_token = " PEOPLE "\n",
         "dashboard_listen must be"},
        {"dashboard_allow_remote = 2\n", "dashboard_allow_remote"},
    };
    char ini[700];
    snprintf(ini, sizeof ini, "%s", net_agent_of(n, "la-duty")->ini);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        net_agent_setup(n, "la-duty", cases[i].ini);
        const char *argv[] = {CF_BIN_DIR "/childfirst-agent", "-c", ini, "--check-config", NULL};
        int status = net_run(argv, out, sizeof out);
        if (status == 0 || !strstr(out, cases[i].says))
            fail_msg("case %zu: exit %d, wanted a refusal saying '%s':\n%s", i, status,
                     cases[i].says, out);
        assert_null(strstr(out, PEOPLE));
    }
    /* Allowed beyond loopback only when said so; [::1] is loopback too. */
    const char *ok[] = {"dashboard_listen = 0.0.0.0:8750\ndashboard_allow_remote = 1\n"
                        "api_token = " SYSTEMS "\n",
                        "dashboard_listen = [::1]:0\napi_token = " SYSTEMS "\n",
                        "dashboard_listen = 8750\napi_token = " SYSTEMS "\n"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        net_agent_setup(n, "la-duty", ok[i]);
        const char *argv[] = {CF_BIN_DIR "/childfirst-agent", "-c", ini, "--check-config", NULL};
        if (net_run(argv, out, sizeof out) != 0)
            fail_msg("case %zu refused:\n%s", i, out);
    }
}

/* Off by default: no port, no endpoint file. */
static void test_off_by_default(void **state)
{
    struct net *n = *state;
    net_agent_setup(n, "la-duty", NULL);
    net_agent_start(n, "la-duty", NULL);
    const char *args[] = {"status", "--json", NULL};
    assert_int_equal(net_cli(n, "la-duty", args, out, sizeof out, err, sizeof err), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/dashboard.endpoint", net_agent_of(n, "la-duty")->state);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_null(strstr(read_file(net_agent_of(n, "la-duty")->log), "DASHBOARD-LISTENING"));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_needs_the_bearer_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_referral_to_receipt_inbox_and_case, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_referral_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_referral_queued_while_broker_down, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stop_answers_parked_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dashboard_login_pages_and_logout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_feed_by_server_sent_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_refuses_unsafe_dashboards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off_by_default, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
