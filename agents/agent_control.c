/* childfirst-agent's control socket, the local door for `childfirst refer`,
 * `inbox`, `show`, `status` and `watch`. It checks who is calling (the agent's
 * own uid or root), reads requests without ever blocking the agent's loop, and
 * dispatches from one table of commands. A refer is parked against its message
 * id until the core reports the broker's answer or the caller's wait runs out.
 * A watch stays open and is fed from the live feed at the watcher's pace: the
 * agent holds at most WATCH_LOW_WATER bytes for it, never the feed's backlog,
 * so a slow watcher costs nothing but the events it misses. */
#define _GNU_SOURCE /* struct ucred (SO_PEERCRED), accept4 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "agent.h"
#include "agent_link.h"
#include "childfirst/clock.h"
#include "childfirst/header.h"
#include "childfirst/log.h"
#include "ctl.h"

#define CONTROL_CLIENTS 32     /* connections served at once; more are refused */
#define CONTROL_BACKLOG 16     /* also the most accepted per wake-up */
#define CONTROL_READ_MS 10000  /* a request must arrive within this */
#define CONTROL_WRITE_MS 30000 /* an answer must be taken within this */
#define CONTROL_PAUSE_MS 1000  /* accept() rests this long when descriptors run out */
#define CONTROL_WAIT_DEFAULT_S 30
#define CONTROL_WAIT_MAX_S 600
#define WATCH_MAX 8                       /* watchers at once: the rest of the slots stay free */
#define WATCH_LOW_WATER (64u * 1024u)     /* frames are added while less than this waits */
#define WATCH_PENDING_MAX (1024u * 1024u) /* a watcher holding more than this is dropped */
#define WATCH_BATCH 32                    /* events read from the feed at a time */

static const char queued_note[] = "not yet answered by the broker; it stays in the outbox and is "
                                  "resent until answered";

/* READ: the request is arriving; WAIT: parked until the core answers; WRITE:
 * the one answer is going out; WATCH: a watch, open until either side ends it. */
enum client_state { CLIENT_FREE = 0, CLIENT_READ, CLIENT_WAIT, CLIENT_WRITE, CLIENT_WATCH };

struct client {
    enum client_state state;
    int fd;
    unsigned uid;
    uint64_t deadline; /* READ, WRITE: give up; WAIT: answer "queued" */
    struct ctl_reader in;
    uint8_t *out; /* WRITE: the framed answer; WATCH: frames waiting; sent from out_off on */
    size_t out_len, out_off;
    uint8_t message_id[CF_MESSAGE_ID_LEN]; /* WAIT: the referral's message */
    char case_id[CF_CASE_ID_LEN + 1];
    bool wants_status;   /* WAIT: a status request, waiting for the broker's figures */
    bool wants_case;     /* WAIT: a case request, waiting for the broker's CaseInfo */
    uint64_t watch_next; /* WATCH: the next event's sequence number */
    uint64_t watch_sent; /* WATCH: events sent, for the log */
};

/* The control socket's state. Its clients in CLIENT_WAIT are the requests
 * agent.h calls pending: each waits on its message id until a deadline. */
struct agent_control {
    char path[CTL_PATH_MAX + 1];
    dev_t dev; /* the socket file we made, so close removes only that */
    ino_t ino;
    uint64_t paused_until; /* accept() rests until then; 0: listening */
    struct client clients[CONTROL_CLIENTS];
};

/* ---- Answers ---- */

/* A JSON string for a sentence; cf_error text can be cut inside a UTF-8
 * sequence, and then the code's own sentence stands in. */
static json_t *sentence(const char *text, int code)
{
    json_t *s = json_string(text);
    return s ? s : json_string(cf_strerror(code));
}

/* {"ok":false,["status":status,]"code":"CF_E...","reason":"..."} */
static json_t *refusal(const char *status, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *refusal(const char *status, int code, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *ans = json_object();
    if (!ans)
        return NULL;
    json_object_set_new(ans, "ok", json_false());
    if (status)
        json_object_set_new(ans, "status", json_string(status));
    json_object_set_new(ans, "code", json_string(cf_error_name(code)));
    json_object_set_new(ans, "reason", sentence(text, code));
    return ans;
}

/* {"ok":ok} followed by the fields of `fields` (borrowed), "ok" kept first. */
static json_t *answer_with(bool ok, const json_t *fields)
{
    json_t *ans = json_object();
    if (!ans)
        return NULL;
    json_object_set_new(ans, "ok", json_boolean(ok));
    if (json_is_object(fields))
        json_object_update(ans, (json_t *)fields);
    json_object_set_new(ans, "ok", json_boolean(ok));
    return ans;
}

static void client_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    ctl_reader_fini(&c->in);
    free(c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* Sends what the socket takes now; closes the connection once all is sent or
 * the caller has gone. */
static void client_flush(struct client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n =
            send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            cf_log_debug("CONTROL-GONE", "fd=%d while answering", c->fd);
            break;
        }
        c->out_off += (size_t)n;
    }
    client_close(c);
}

/* Frames `ans` (taking ownership) and starts sending it. An answer too big for
 * a frame becomes a refusal saying so; one that cannot be made at all closes
 * the connection, which the caller reads as "no answer". */
static void client_answer(struct client *c, json_t *ans)
{
    struct cf_error err = {0};
    int rc = ans ? ctl_encode(ans, CTL_MAX_FRAME, &c->out, &c->out_len, &err) : CF_ENOMEM;
    json_decref(ans);
    if (rc == CF_ETOOBIG) {
        json_t *small = refusal(NULL, CF_ETOOBIG,
                                "the answer is larger than the %u-byte frame "
                                "limit; ask for less (inbox --case)",
                                CTL_MAX_FRAME);
        rc = small ? ctl_encode(small, CTL_MAX_FRAME, &c->out, &c->out_len, &err) : CF_ENOMEM;
        json_decref(small);
    }
    if (rc != 0) {
        cf_log_error("CONTROL-ANSWER-FAILED", "code=%s", cf_error_name(rc));
        client_close(c);
        return;
    }
    ctl_reader_fini(&c->in);
    c->state = CLIENT_WRITE;
    c->out_off = 0;
    c->deadline = cf_clock_monotonic_ms() + CONTROL_WRITE_MS;
    client_flush(c);
}

/* For a connection that is refused at the door: one try, then it is closed. */
static void answer_once(int fd, json_t *ans)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ans && ctl_encode(ans, CTL_MAX_FRAME, &buf, &len, NULL) == 0) {
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)n;
    }
    free(buf);
    json_decref(ans);
}

/* ---- refer: parked until the broker answers ---- */

static json_t *queued_answer(const struct client *c)
{
    char hex[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, c->message_id, CF_MESSAGE_ID_LEN);
    return json_pack("{s:b, s:s, s:s, s:s, s:s}", "ok", 1, "status", "queued", "message_id", hex,
                     "case_id", c->case_id, "note", queued_note);
}

/* The answer for a referral the broker has answered, or NULL (with *outcome)
 * while it has not. */
static json_t *refer_outcome(struct agent *a, const struct client *c, enum agent_outcome *outcome)
{
    char hex[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, c->message_id, CF_MESSAGE_ID_LEN);
    json_t *detail = NULL, *ans = NULL;
    *outcome = agent_outcome(a, c->message_id, &detail);
    if (*outcome == AGENT_ACCEPTED || *outcome == AGENT_REJECTED) {
        bool ok = *outcome == AGENT_ACCEPTED;
        /* The core's detail is the receipt; these only stand in for what it lacks. */
        json_t *base = json_pack("{s:s, s:s}", "message_id", hex, "case_id", c->case_id);
        if (base && json_is_object(detail))
            json_object_update(base, detail);
        if (base && !json_object_get(base, "status"))
            json_object_set_new(base, "status", json_string(ok ? "accepted" : "rejected"));
        ans = base ? answer_with(ok, base) : NULL;
        json_decref(base);
        cf_log_info("CONTROL-ANSWERED", "message_id=%s status=%s", hex,
                    ok ? "accepted" : "rejected");
    }
    json_decref(detail);
    return ans;
}

static json_t *cmd_refer(struct agent *a, struct client *c, const json_t *req)
{
    const json_t *text = json_object_get(req, "text");
    const json_t *wait = json_object_get(req, "wait_s");
    json_int_t wait_s = CONTROL_WAIT_DEFAULT_S;
    if (!json_is_string(text))
        return refusal("invalid", CF_EFIELD,
                       "a refer request needs \"text\": the referral JSON as a string");
    if (wait && !json_is_null(wait)) {
        if (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
            json_integer_value(wait) > CONTROL_WAIT_MAX_S)
            return refusal(NULL, CF_EFIELD, "wait_s must be a whole number of seconds from 0 to %d",
                           CONTROL_WAIT_MAX_S);
        wait_s = json_integer_value(wait);
    }
    size_t len = json_string_length(text);
    if (len > CF_MAX_JSON)
        return refusal("invalid", CF_ETOOBIG, "the referral is %zu bytes; the limit is %u", len,
                       CF_MAX_JSON);

    struct cf_error err = {0};
    int rc = agent_refer(a, json_string_value(text), len, NULL, c->message_id, c->case_id, &err);
    if (rc != 0) {
        /* err.text may quote the referral's values: it goes to the caller, not the log. */
        cf_log_info("CONTROL-REFER-INVALID", "uid=%u code=%s", c->uid, cf_error_name(rc));
        return refusal("invalid", rc, "%s", err.text[0] ? err.text : cf_strerror(rc));
    }
    char hex[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, c->message_id, CF_MESSAGE_ID_LEN);
    cf_log_info("CONTROL-REFER", "uid=%u message_id=%s case_id=%s wait_s=%lld", c->uid, hex,
                c->case_id, (long long)wait_s);

    enum agent_outcome outcome;
    json_t *ans = refer_outcome(a, c, &outcome);
    if (ans)
        return ans;
    if (wait_s == 0)
        return queued_answer(c);
    c->state = CLIENT_WAIT;
    c->deadline = cf_clock_monotonic_ms() + (uint64_t)wait_s * 1000u;
    return NULL;
}

/* The wait a refer or send request asks for: 0 and a default, or a refusal. */
static json_t *wait_of(const json_t *req, json_int_t *wait_s)
{
    const json_t *wait = json_object_get(req, "wait_s");
    *wait_s = CONTROL_WAIT_DEFAULT_S;
    if (!wait || json_is_null(wait))
        return NULL;
    if (!json_is_integer(wait) || json_integer_value(wait) < 0 ||
        json_integer_value(wait) > CONTROL_WAIT_MAX_S)
        return refusal(NULL, CF_EFIELD, "wait_s must be a whole number of seconds from 0 to %d",
                       CONTROL_WAIT_MAX_S);
    *wait_s = json_integer_value(wait);
    return NULL;
}

/* A request's case_id, checked; NULL with *bad set to a refusal otherwise. */
static const char *case_id_of(const json_t *req, json_t **bad)
{
    const json_t *id = json_object_get(req, "case_id");
    *bad = NULL;
    if (!json_is_string(id) ||
        !cf_header_case_id_valid(json_string_value(id), json_string_length(id))) {
        *bad = refusal("invalid", CF_EFIELD, "case_id must be a case id (cf- and 26 characters)");
        return NULL;
    }
    return json_string_value(id);
}

/* send: a case message, parked like a refer until the broker answers it. */
static json_t *cmd_send(struct agent *a, struct client *c, const json_t *req)
{
    const json_t *text = json_object_get(req, "text");
    const char *type_name = json_string_value(json_object_get(req, "type"));
    json_t *bad;
    json_int_t wait_s;
    const char *case_id = case_id_of(req, &bad);
    if (!case_id)
        return bad;
    if ((bad = wait_of(req, &wait_s)) != NULL)
        return bad;
    enum cf_type type = type_name ? cf_header_type_parse(type_name) : CF_TYPE_NONE;
    if (type == CF_TYPE_NONE)
        return refusal("invalid", CF_ETYPE, "type must name a message type, such as vote");
    if (!json_is_string(text))
        return refusal("invalid", CF_EFIELD,
                       "a send request needs \"text\": the message JSON as a string");
    size_t len = json_string_length(text);
    if (len > CF_MAX_JSON)
        return refusal("invalid", CF_ETOOBIG, "the message is %zu bytes; the limit is %u", len,
                       CF_MAX_JSON);
    struct cf_error err = {0};
    int rc = agent_send(a, type, case_id, json_string_value(text), len, c->message_id, &err);
    if (rc != 0) {
        /* err.text may quote the document's values: it goes to the caller, not the log. */
        cf_log_info("CONTROL-SEND-INVALID", "uid=%u type=%s code=%s", c->uid, type_name,
                    cf_error_name(rc));
        return refusal("invalid", rc, "%s", err.text[0] ? err.text : cf_strerror(rc));
    }
    snprintf(c->case_id, sizeof c->case_id, "%s", case_id);
    char hex[2 * CF_MESSAGE_ID_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, c->message_id, CF_MESSAGE_ID_LEN);
    cf_log_info("CONTROL-SEND", "uid=%u type=%s message_id=%s case_id=%s wait_s=%lld", c->uid,
                type_name, hex, case_id, (long long)wait_s);
    enum agent_outcome outcome;
    json_t *ans = refer_outcome(a, c, &outcome);
    if (ans)
        return ans;
    if (wait_s == 0)
        return queued_answer(c);
    c->state = CLIENT_WAIT;
    c->deadline = cf_clock_monotonic_ms() + (uint64_t)wait_s * 1000u;
    return NULL;
}

/* ---- case: this agency's timeline, with the broker's state and deadlines ---- */

#define CASE_WAIT_MS 2000

static json_t *case_answer(struct agent *a, const char *case_id, const struct cf_case_info *info,
                           const char *why_not)
{
    json_t *view = agent_case_view(a, case_id, info);
    if (!view)
        return refusal(NULL, CF_ESTORE, "the case cannot be read; the agent's log says why");
    if (!info)
        json_object_set_new(view, "broker_note", json_string(why_not));
    json_t *ans = answer_with(true, view);
    json_decref(view);
    return ans;
}

static json_t *cmd_case(struct agent *a, struct client *c, const json_t *req)
{
    json_t *bad;
    const char *case_id = case_id_of(req, &bad);
    if (!case_id)
        return bad;
    snprintf(c->case_id, sizeof c->case_id, "%s", case_id);
    struct cf_frame q = {.kind = CF_FRAME_CASE_REQUEST};
    memcpy(q.case_id, c->case_id, sizeof q.case_id);
    if (!a->connected || !agent_link_send(a, &q))
        return case_answer(a, case_id, NULL,
                           "the broker is not connected: its state and "
                           "deadlines are not shown");
    c->state = CLIENT_WAIT;
    c->wants_case = true;
    c->deadline = cf_clock_monotonic_ms() + CASE_WAIT_MS;
    return NULL;
}

/* ---- inbox, show, status ---- */

static json_t *cmd_inbox(struct agent *a, struct client *c, const json_t *req)
{
    (void)c;
    const json_t *id = json_object_get(req, "case_id");
    const char *case_id = NULL;
    if (id && !json_is_null(id)) {
        if (!json_is_string(id) ||
            !cf_header_case_id_valid(json_string_value(id), json_string_length(id)))
            return refusal(NULL, CF_EFIELD, "case_id must be a case id (cf- and 26 characters)");
        case_id = json_string_value(id);
    }
    json_t *list = agent_inbox(a, case_id);
    if (!json_is_array(list)) {
        json_decref(list);
        return refusal(NULL, CF_ESTORE, "the inbox cannot be read; the agent's log says why");
    }
    return json_pack("{s:b, s:o}", "ok", 1, "messages", list);
}

static json_t *cmd_show(struct agent *a, struct client *c, const json_t *req)
{
    (void)c;
    const json_t *id = json_object_get(req, "message_id");
    const char *hex = json_string_value(id);
    uint8_t bin[CF_MESSAGE_ID_LEN];
    size_t n = 0;
    const char *end = NULL;
    if (!hex || json_string_length(id) != 2 * CF_MESSAGE_ID_LEN ||
        sodium_hex2bin(bin, sizeof bin, hex, 2 * CF_MESSAGE_ID_LEN, NULL, &n, &end) != 0 ||
        n != CF_MESSAGE_ID_LEN || end != hex + 2 * CF_MESSAGE_ID_LEN)
        return refusal(NULL, CF_EFIELD, "message_id must be 32 hexadecimal characters");
    struct cf_error err = {0};
    json_t *msg = agent_show(a, bin, &err);
    if (!msg) {
        int code = err.code ? err.code : CF_ENOTFOUND;
        return refusal(NULL, code, "%s",
                       err.text[0] ? err.text : "no such message in this agency's inbox");
    }
    return json_pack("{s:b, s:o}", "ok", 1, "message", msg);
}

static json_t *status_answer(struct agent *a)
{
    json_t *st = agent_status(a);
    if (!st)
        return refusal(NULL, CF_ENOMEM, "the status cannot be made; the agent's log says why");
    json_t *ans = answer_with(true, st);
    json_decref(st);
    return ans;
}

/* The broker's figures are asked for and awaited (briefly), so the answer is
 * fresh rather than one call late. */
static json_t *cmd_status(struct agent *a, struct client *c, const json_t *req)
{
    (void)req;
    agent_link_ask_status(a);
    if (!a->connected || !a->status_asked)
        return status_answer(a);
    c->state = CLIENT_WAIT;
    c->wants_status = true;
    c->deadline = cf_clock_monotonic_ms() + STATUS_WAIT_MS;
    return NULL;
}

/* ---- watch: one request, then a frame for each event until either side stops ---- */

static size_t watch_pending(const struct client *c)
{
    return c->out_len - c->out_off;
}

/* Adds `frame` (taking ownership) to what waits for the watcher. False when
 * it cannot: out of memory, or the watcher already holds WATCH_PENDING_MAX
 * bytes, which the caller answers by dropping it. */
static bool watch_append(struct client *c, json_t *frame)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = frame ? ctl_encode(frame, CTL_MAX_FRAME, &buf, &len, NULL) : CF_ENOMEM;
    json_decref(frame);
    if (rc != 0)
        return false;
    if (watch_pending(c) + len > WATCH_PENDING_MAX) {
        free(buf);
        return false;
    }
    if (c->out_off > 0) { /* keep only what is still to be sent */
        memmove(c->out, c->out + c->out_off, watch_pending(c));
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    uint8_t *grown = realloc(c->out, c->out_len + len);
    if (!grown) {
        free(buf);
        return false;
    }
    memcpy(grown + c->out_len, buf, len);
    c->out = grown;
    c->out_len += len;
    free(buf);
    return true;
}

/* Sends what the socket takes now. False when the watcher has gone. */
static bool watch_flush(struct client *c)
{
    while (watch_pending(c) > 0) {
        ssize_t n = send(c->fd, c->out + c->out_off, watch_pending(c), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false;
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    return true;
}

static void watch_end(struct client *c, const char *why)
{
    cf_log_info("CONTROL-WATCH-END", "uid=%u events=%llu reason=%s", c->uid,
                (unsigned long long)c->watch_sent, why);
    client_close(c);
}

/* Moves events from the feed into the watcher's frames while little waits,
 * then sends. A watcher that fell more than the feed's ring behind is told
 * how many it missed. Never blocks: what the socket does not take now stays
 * until it is writable, and the feed is read no further meanwhile. */
static void watch_feed(struct agent *a, struct client *c)
{
    while (watch_pending(c) < WATCH_LOW_WATER && c->watch_next != agent_events_next(a)) {
        uint64_t next = c->watch_next, missed = 0;
        json_t *events = agent_events_since(a, c->watch_next, WATCH_BATCH, &next, &missed);
        bool ok = events != NULL;
        if (ok && missed > 0) {
            cf_log_warn("CONTROL-WATCH-MISSED", "uid=%u missed=%llu", c->uid,
                        (unsigned long long)missed);
            ok = watch_append(c, json_pack("{s:b, s:I, s:I}", "ok", 1, "missed", (json_int_t)missed,
                                           "next", (json_int_t)next));
        }
        size_t i;
        json_t *e;
        json_array_foreach(events, i, e)
        {
            if (ok && (ok = watch_append(c, json_pack("{s:b, s:O}", "ok", 1, "event", e))))
                c->watch_sent++;
        }
        json_decref(events);
        if (!ok) {
            cf_log_warn("CONTROL-WATCH-DROPPED", "uid=%u pending_bytes=%zu limit=%u", c->uid,
                        watch_pending(c), WATCH_PENDING_MAX);
            client_close(c);
            return;
        }
        if (next == c->watch_next)
            break; /* nothing more to read, whatever the numbers say */
        c->watch_next = next;
    }
    if (!watch_flush(c))
        watch_end(c, "gone");
}

static json_t *cmd_watch(struct agent *a, struct client *c, const json_t *req)
{
    const json_t *from = json_object_get(req, "from");
    uint64_t next = agent_events_next(a), start = next;
    if (from && !json_is_null(from)) {
        if (!json_is_integer(from) || json_integer_value(from) < 0)
            return refusal(NULL, CF_EFIELD,
                           "from must be an event's sequence number (0 or more) or null");
        /* A number past the feed (one from before the agent restarted) starts now. */
        if ((uint64_t)json_integer_value(from) < next)
            start = (uint64_t)json_integer_value(from);
    }
    size_t watchers = 0;
    for (size_t i = 0; i < CONTROL_CLIENTS; i++)
        watchers += a->pending->clients[i].state == CLIENT_WATCH;
    if (watchers >= WATCH_MAX)
        return refusal(NULL, CF_ETOOBIG, "%d watchers are connected already; stop one first",
                       WATCH_MAX);
    ctl_reader_fini(&c->in);
    c->state = CLIENT_WATCH;
    c->deadline = UINT64_MAX;
    c->watch_next = start;
    cf_log_info("CONTROL-WATCH", "uid=%u from=%llu next=%llu", c->uid, (unsigned long long)start,
                (unsigned long long)next);
    if (!watch_append(c, json_pack("{s:b, s:b, s:s, s:I}", "ok", 1, "watching", 1, "agency",
                                   a->cfg.id, "next", (json_int_t)start))) {
        client_close(c);
        return NULL;
    }
    watch_feed(a, c);
    return NULL;
}

/* The watcher's socket is readable (it closed, or broke the one-request
 * rule) or writable (it took some of what waits). */
static void watch_ready(struct agent *a, struct client *c)
{
    uint8_t junk[256];
    ssize_t n = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        watch_end(c, "closed");
        return;
    }
    if (n > 0) {
        cf_log_warn("CONTROL-BAD-REQUEST", "uid=%u code=%s detail=bytes-after-watch", c->uid,
                    cf_error_name(CF_EINVAL));
        watch_end(c, "bytes-after-request");
        return;
    }
    watch_feed(a, c);
}

/* Each command, and the keys its request may carry besides "cmd". A handler
 * returns the answer, or NULL when the request waits (CLIENT_WAIT) or
 * watches (CLIENT_WATCH), or its connection was closed. */
static const struct command {
    const char *name;
    json_t *(*run)(struct agent *a, struct client *c, const json_t *req);
    const char *keys[5];
} commands[] = {
    {"refer", cmd_refer, {"text", "wait_s", NULL}},
    {"inbox", cmd_inbox, {"case_id", NULL}},
    {"show", cmd_show, {"message_id", NULL}},
    {"status", cmd_status, {NULL}},
    {"send", cmd_send, {"type", "case_id", "text", "wait_s"}},
    {"case", cmd_case, {"case_id", NULL}},
    {"watch", cmd_watch, {"from", NULL}},
};

static json_t *dispatch(struct agent *a, struct client *c, const json_t *req)
{
    const char *name = json_string_value(json_object_get(req, "cmd"));
    if (!name)
        return refusal(
            NULL, CF_EFIELD,
            "the request has no \"cmd\"; expected refer, send, inbox, show, case, status or "
            "watch");
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            cmd = &commands[i];
    if (!cmd)
        return refusal(NULL, CF_EINVAL,
                       "unknown command '%.40s'; expected refer, send, inbox, show, case, status "
                       "or watch",
                       name);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)req, key, value)
    {
        bool known = strcmp(key, "cmd") == 0;
        for (size_t i = 0; !known && cmd->keys[i]; i++)
            known = strcmp(key, cmd->keys[i]) == 0;
        if (!known)
            return refusal(NULL, CF_EFIELD, "unknown key '%.40s' in a %s request", key, cmd->name);
    }
    cf_log_debug("CONTROL-REQUEST", "uid=%u cmd=%s", c->uid, cmd->name);
    return cmd->run(a, c, req);
}

/* ---- Connections ---- */

static void client_read(struct agent *a, struct client *c)
{
    struct cf_error err = {0};
    json_t *req = NULL;
    int rc = ctl_reader_read(&c->in, c->fd, &req, &err);
    if (rc == 0 && !req)
        return; /* more to come */
    if (rc == CF_EIO) {
        cf_log_debug("CONTROL-GONE", "uid=%u before its request was complete", c->uid);
        client_close(c);
        return;
    }
    if (rc != 0) {
        cf_log_warn("CONTROL-BAD-REQUEST", "uid=%u code=%s", c->uid, cf_error_name(rc));
        client_answer(c, refusal(NULL, rc, "%s", err.text));
        return;
    }
    json_t *ans = dispatch(a, c, req);
    json_decref(req);
    if (c->state == CLIENT_READ)
        client_answer(c, ans);
    else
        json_decref(ans); /* parked, watching, or closed: the answer comes later or never */
}

/* A connection that has sent its request must only wait. End-of-file means
 * the caller has gone (a waiting referral stays in the outbox regardless).
 * Bytes after the request break the one-request rule: a waiting refer is
 * answered "queued" at once, so the caller still learns its message id, and
 * whatever else arrives while an answer goes out is discarded. */
static void client_extra(struct agent *a, struct client *c)
{
    uint8_t junk[4096];
    ssize_t n = recv(c->fd, junk, sizeof junk, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->state == CLIENT_WAIT && !c->wants_status && !c->wants_case) {
            char hex[2 * CF_MESSAGE_ID_LEN + 1];
            sodium_bin2hex(hex, sizeof hex, c->message_id, CF_MESSAGE_ID_LEN);
            cf_log_info("CONTROL-GONE", "uid=%u message_id=%s stays queued", c->uid, hex);
        }
        client_close(c);
        return;
    }
    if (c->state == CLIENT_WAIT) {
        cf_log_warn("CONTROL-BAD-REQUEST", "uid=%u code=%s detail=bytes-after-request", c->uid,
                    cf_error_name(CF_EINVAL));
        client_answer(c, c->wants_status ? status_answer(a)
                         : c->wants_case ? case_answer(a, c->case_id, NULL,
                                                       "the request broke "
                                                       "the one-request rule")
                                         : queued_answer(c));
    }
}

static void control_accept(struct agent *a)
{
    struct agent_control *p = a->pending;
    for (int i = 0; i < CONTROL_BACKLOG; i++) {
        int fd = accept4(a->control_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The listener stays readable: rest rather than spin. */
                cf_log_warn("CONTROL-PAUSED", "reason=\"%s\" ms=%d", strerror(errno),
                            CONTROL_PAUSE_MS);
                p->paused_until = cf_clock_monotonic_ms() + CONTROL_PAUSE_MS;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
                cf_log_warn("CONTROL-ACCEPT-FAILED", "reason=\"%s\"", strerror(errno));
            }
            return;
        }
        struct ucred cred;
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
            cf_log_warn("CONTROL-DENIED", "uid=unknown reason=\"%s\"", strerror(errno));
            close(fd);
            continue;
        }
        if (cred.uid != 0 && cred.uid != getuid()) {
            cf_log_warn("CONTROL-DENIED", "uid=%u", (unsigned)cred.uid);
            answer_once(
                fd, refusal(NULL, CF_EINVAL, "uid %u may not use this agent", (unsigned)cred.uid));
            close(fd);
            continue;
        }
        struct client *c = NULL;
        for (size_t k = 0; !c && k < CONTROL_CLIENTS; k++)
            if (p->clients[k].state == CLIENT_FREE)
                c = &p->clients[k];
        if (!c) {
            cf_log_warn("CONTROL-BUSY", "uid=%u clients=%d", (unsigned)cred.uid, CONTROL_CLIENTS);
            answer_once(fd, refusal(NULL, CF_ETOOBIG,
                                    "the agent is serving %d control connections already; try "
                                    "again in a moment",
                                    CONTROL_CLIENTS));
            close(fd);
            continue;
        }
        c->state = CLIENT_READ;
        c->fd = fd;
        c->uid = (unsigned)cred.uid;
        c->deadline = cf_clock_monotonic_ms() + CONTROL_READ_MS;
        ctl_reader_init(&c->in, CTL_MAX_FRAME);
    }
}

/* ---- The agent.h interface ---- */

/* A socket file already at `path`: a live agent's (refuse), a stale one
 * (remove), or something else (refuse: it is not ours to delete). */
static int remove_stale(const char *path, struct cf_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT
                   ? 0
                   : cf_error_set(err, CF_EIO, "control socket %s: %s", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return cf_error_set(
            err, CF_EIO, "control socket %s: something that is not a socket is in the way", path);
    int fd = -1;
    if (ctl_connect(path, &fd, NULL) == 0) {
        close(fd);
        return cf_error_set(err, CF_EIO,
                            "control socket %s: another childfirst-agent is listening there", path);
    }
    if (unlink(path) != 0 && errno != ENOENT)
        return cf_error_set(err, CF_EIO, "control socket %s: cannot remove the stale socket: %s",
                            path, strerror(errno));
    cf_log_info("CONTROL-STALE-REMOVED", "path=%s", path);
    return 0;
}

int agent_control_open(struct agent *a, struct cf_error *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct agent_control *p = calloc(1, sizeof *p);
    int fd = -1, rc = 0;
    bool bound = false;
    a->control_fd = -1;
    if (!p)
        return cf_error_set(err, CF_ENOMEM, "out of memory for the control socket");
    for (size_t i = 0; i < CONTROL_CLIENTS; i++)
        p->clients[i].fd = -1;
    if ((rc = ctl_path(a->cfg.control, p->path, sizeof p->path, err)) != 0)
        goto out;
    memcpy(sun.sun_path, p->path, strlen(p->path) + 1);
    if ((rc = remove_stale(p->path, err)) != 0)
        goto out;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = cf_error_set(err, CF_EIO, "control socket: %s", strerror(errno));
        goto out;
    }
    /* Born 0600: no moment when another user could connect before the chmod. */
    mode_t old = umask(0177);
    int b = bind(fd, (struct sockaddr *)&sun, sizeof sun);
    int e = errno;
    umask(old);
    if (b != 0) {
        rc = cf_error_set(err, CF_EIO, "control socket %s: cannot bind: %s", p->path, strerror(e));
        goto out;
    }
    bound = true;
    struct stat st;
    if (chmod(p->path, 0600) != 0 || lstat(p->path, &st) != 0) {
        rc = cf_error_set(err, CF_EIO, "control socket %s: %s", p->path, strerror(errno));
        goto out;
    }
    p->dev = st.st_dev;
    p->ino = st.st_ino;
    if (listen(fd, CONTROL_BACKLOG) != 0) {
        rc = cf_error_set(err, CF_EIO, "control socket %s: cannot listen: %s", p->path,
                          strerror(errno));
        goto out;
    }
    cf_log_info("CONTROL-OPEN", "path=%s", p->path);
    a->control_fd = fd;
    a->pending = p;
    fd = -1;
    p = NULL;
out:
    if (fd >= 0)
        close(fd);
    if (bound && p)
        unlink(p->path);
    free(p);
    return rc;
}

void agent_control_close(struct agent *a)
{
    struct agent_control *p = a->pending;
    if (!p)
        return;
    /* Callers still waiting learn that their referral is safe in the outbox. */
    for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
        struct client *c = &p->clients[i];
        if (c->state == CLIENT_WAIT)
            answer_once(c->fd, c->wants_status ? status_answer(a) : queued_answer(c));
        else if (c->state == CLIENT_WRITE)
            client_flush(c);
        else if (c->state == CLIENT_WATCH) {
            /* One try: what the watcher has not taken yet, then the end. */
            if (watch_append(c, json_pack("{s:b, s:s}", "ok", 1, "end", "the agent is stopping")))
                (void)watch_flush(c);
            watch_end(c, "agent-stopping");
        }
        if (c->state != CLIENT_FREE)
            client_close(c);
    }
    if (a->control_fd >= 0)
        close(a->control_fd);
    struct stat st;
    if (lstat(p->path, &st) == 0 && st.st_dev == p->dev && st.st_ino == p->ino)
        unlink(p->path);
    cf_log_info("CONTROL-CLOSED", "path=%s", p->path);
    free(p);
    a->pending = NULL;
    a->control_fd = -1;
}

size_t agent_control_fds(struct agent *a, int *fds, short *events, size_t cap)
{
    struct agent_control *p = a->pending;
    size_t n = 0;
    if (!p)
        return 0;
    if (!p->paused_until && n < cap) {
        events[n] = POLLIN;
        fds[n++] = a->control_fd;
    }
    for (size_t i = 0; i < CONTROL_CLIENTS && n < cap; i++)
        if (p->clients[i].state != CLIENT_FREE) {
            /* An answer larger than the socket buffer drains as the reader takes it. */
            const struct client *c = &p->clients[i];
            bool writing =
                c->state == CLIENT_WRITE || (c->state == CLIENT_WATCH && watch_pending(c));
            events[n] = writing ? POLLIN | POLLOUT : POLLIN;
            fds[n++] = p->clients[i].fd;
        }
    return n;
}

void agent_control_ready(struct agent *a, int fd)
{
    struct agent_control *p = a->pending;
    if (!p || fd < 0)
        return;
    if (fd == a->control_fd) {
        if (!p->paused_until)
            control_accept(a);
        return;
    }
    for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
        struct client *c = &p->clients[i];
        if (c->state == CLIENT_FREE || c->fd != fd)
            continue;
        if (c->state == CLIENT_READ)
            client_read(a, c);
        else if (c->state == CLIENT_WATCH)
            watch_ready(a, c);
        else
            client_extra(a, c);
        if (c->state == CLIENT_WRITE)
            client_flush(c);
        return;
    }
}

void agent_control_answered(struct agent *a, const uint8_t message_id[CF_MESSAGE_ID_LEN])
{
    struct agent_control *p = a->pending;
    if (!p)
        return;
    for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
        struct client *c = &p->clients[i];
        if (c->state != CLIENT_WAIT || c->wants_status || c->wants_case ||
            memcmp(c->message_id, message_id, CF_MESSAGE_ID_LEN) != 0)
            continue;
        enum agent_outcome outcome;
        json_t *ans = refer_outcome(a, c, &outcome);
        if (!ans && outcome == AGENT_UNKNOWN)
            ans = refusal(NULL, CF_ENOTFOUND, "the agent has no record of this message");
        if (ans || outcome != AGENT_QUEUED)
            client_answer(c, ans);
    }
}

void agent_control_status(struct agent *a)
{
    struct agent_control *p = a->pending;
    for (size_t i = 0; p && i < CONTROL_CLIENTS; i++)
        if (p->clients[i].state == CLIENT_WAIT && p->clients[i].wants_status)
            client_answer(&p->clients[i], status_answer(a));
}

void agent_control_case_info(struct agent *a, const char *case_id, const struct cf_case_info *info,
                             const char *why_not)
{
    struct agent_control *p = a->pending;
    for (size_t i = 0; p && i < CONTROL_CLIENTS; i++) {
        struct client *c = &p->clients[i];
        if (c->state == CLIENT_WAIT && c->wants_case && strcmp(c->case_id, case_id) == 0)
            client_answer(c, case_answer(a, case_id, info, why_not));
    }
}

void agent_control_tick(struct agent *a, uint64_t now_ms)
{
    (void)now_ms;
    now_ms = cf_clock_monotonic_ms(); /* waits must not jump with the (test) wall clock */
    struct agent_control *p = a->pending;
    if (!p)
        return;
    if (p->paused_until && now_ms >= p->paused_until)
        p->paused_until = 0;
    for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
        struct client *c = &p->clients[i];
        if (c->state == CLIENT_WRITE)
            client_flush(
                c); /* POLLOUT wakes writers too (agent_control_fds): this is a spare try */
        if (c->state == CLIENT_WATCH) {
            watch_feed(a, c); /* what the loop kept since the last turn */
            continue;
        }
        if (c->state == CLIENT_FREE || now_ms < c->deadline)
            continue;
        if (c->state == CLIENT_READ) {
            cf_log_warn("CONTROL-TIMEOUT", "uid=%u waiting=request", c->uid);
            client_answer(c, refusal(NULL, CF_ETIMEOUT, "no complete request within %d s",
                                     CONTROL_READ_MS / 1000));
        } else if (c->state == CLIENT_WAIT && c->wants_status) {
            client_answer(c, status_answer(a)); /* the broker is slow: the last figures */
        } else if (c->state == CLIENT_WAIT && c->wants_case) {
            client_answer(c, case_answer(a, c->case_id, NULL,
                                         "the broker did not answer in time: its state and "
                                         "deadlines are not shown"));
        } else if (c->state == CLIENT_WAIT) {
            enum agent_outcome outcome;
            json_t *ans = refer_outcome(a, c, &outcome);
            if (!ans) {
                char hex[2 * CF_MESSAGE_ID_LEN + 1];
                sodium_bin2hex(hex, sizeof hex, c->message_id, CF_MESSAGE_ID_LEN);
                cf_log_info("CONTROL-QUEUED", "message_id=%s", hex);
                ans = queued_answer(c);
            }
            client_answer(c, ans);
        } else {
            cf_log_warn("CONTROL-TIMEOUT", "uid=%u waiting=reader", c->uid);
            client_close(c);
        }
    }
}
