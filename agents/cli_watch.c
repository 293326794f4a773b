/* childfirst watch: the line a duty manager keeps open all day. One watch
 * request on the agent's control socket, then a frame for each message,
 * notice or determination the agent keeps, printed as it arrives: a line for
 * a person (urgency first, immediate ones marked) or a JSON line for a
 * script. Only header facts travel this way; `childfirst show` opens a
 * message. SIGINT and SIGTERM are taken only inside ppoll, so a signal is
 * never lost between a check and a wait, and never cuts a line in half. */
#define _GNU_SOURCE /* ppoll, timegm */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "childfirst/calendar.h"
#include "cli.h"
#include "ctl.h"

static const char watch_help[] =
    "usage: childfirst watch [--json] [--from SEQ] [-c FILE]\n"
    "\n"
    "Shows what this agency receives as it arrives, one line each, until\n"
    "Ctrl-C: messages, notices and determinations, with the time (UK), the\n"
    "urgency, what it is, the case, the sender and any deadline and its due\n"
    "time. '!!' marks immediate urgency or an immediate risk to the child\n"
    "(RISK). Only header facts are shown: 'childfirst show MESSAGE_ID' opens\n"
    "one. If the agent's feed moved on before this watch read some events, a\n"
    "line says how many; 'childfirst inbox' lists everything received.\n"
    "\n"
    "  --json          each event as one JSON line (with its \"seq\")\n"
    "  --from SEQ      start at the feed's event SEQ instead of now\n"
    "  -c FILE         agent.ini, to find the agent's control socket; else\n"
    "                  $CHILDFIRST_CONFIG, else /etc/childfirst/agent.ini\n"
    "\n"
    "Exit status: 0 stopped by Ctrl-C (SIGINT) or SIGTERM; 1 the agent cannot\n"
    "be reached, refused, stopped or went away; 2 usage error.\n";

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static const char *str(const json_t *obj, const char *key, const char *otherwise)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : otherwise;
}

static void put(const char *s)
{
    cli_put_clean(stdout, s, strlen(s));
}

/* An ISO-8601 UTC time as the agent writes it ("2026-11-20T09:30:00.250Z")
 * in UK civil time, "2026-11-20 09:30:00 GMT"; anything else as it is. */
static void uk_time(const char *iso, char *out, size_t cap)
{
    struct tm tm = {0};
    unsigned ms = 0;
    char z = 0;
    if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3u%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z) != 8 ||
        z != 'Z') {
        snprintf(out, cap, "%s", iso);
        return;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t secs = timegm(&tm);
    if (secs < 0) {
        snprintf(out, cap, "%s", iso);
        return;
    }
    uint32_t offset = cf_calendar_utc_offset_ms((uint64_t)secs * 1000u + ms);
    time_t local = secs + (time_t)(offset / 1000u);
    struct tm lt;
    gmtime_r(&local, &lt);
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d %s", lt.tm_year + 1900, lt.tm_mon + 1,
             lt.tm_mday, lt.tm_hour, lt.tm_min, lt.tm_sec, offset ? "BST" : "GMT");
}

/* Bold red on a terminal that wants colour; nothing is left set after a line. */
static bool colour;

/* One event for a person:
 *   TIME  URGENCY  WHAT  CASE  from SENDER[ (referred by X)][; details]
 * e.g. "2026-11-20 09:30:00 GMT  !! IMMEDIATE RISK  new_referral  cf-...  from broker". */
static void print_event(const json_t *e)
{
    char text[96];
    uk_time(str(e, "received_at", "-"), text, sizeof text);
    printf("%s  ", text);

    const char *urgency = str(e, "urgency", "-");
    bool immediate = strcmp(urgency, "immediate") == 0;
    bool risk = json_is_true(json_object_get(e, "immediate_risk"));
    snprintf(text, sizeof text, "%s%s%s", immediate || risk ? "!! " : "   ",
             immediate ? "IMMEDIATE" : urgency, risk ? " RISK" : "");
    if (colour && (immediate || risk))
        fputs("\033[1;31m", stdout);
    size_t w = cli_put_clean(stdout, text, strlen(text));
    if (colour && (immediate || risk))
        fputs("\033[0m", stdout);
    printf("%*s", w < 17 ? (int)(19 - w) : 2, "");

    const char *type = str(e, "type", "-");
    const char *what = strcmp(type, "notice") == 0 ? str(e, "kind", "notice") : type;
    w = cli_put_clean(stdout, what, strlen(what));
    printf("%*s", w < 22 ? (int)(24 - w) : 2, "");
    put(str(e, "case_id", "(no case)"));
    printf("  from ");
    put(str(e, "sender", "-"));
    const char *referrer = str(e, "referring_agency", NULL);
    if (referrer && strcmp(referrer, str(e, "sender", "")) != 0) {
        printf(" (referred by ");
        put(referrer);
        printf(")");
    }

    const char *deadline = str(e, "deadline", NULL), *due = str(e, "due", NULL);
    if (deadline) {
        printf("; deadline ");
        put(deadline);
    }
    if (due) {
        uk_time(due, text, sizeof text);
        printf("%s due %s", deadline ? "," : "; deadline", text);
    }
    const json_t *outstanding = json_object_get(e, "outstanding");
    if (json_array_size(outstanding) > 0) {
        printf("; not acknowledged by ");
        size_t i;
        const json_t *id;
        json_array_foreach(outstanding, i, id)
        {
            printf("%s", i ? ", " : "");
            put(json_is_string(id) ? json_string_value(id) : "?");
        }
    }
    const char *code = str(e, "code", NULL), *decision = str(e, "decision", NULL),
               *state = str(e, "state", NULL);
    if (code) {
        printf("; code ");
        put(code);
    }
    if (decision) {
        printf("; decision ");
        put(decision);
    }
    if (state) {
        printf("; case ");
        put(state);
    }
    printf("\n");
}

/* Prints one frame after the first. Returns -1 to go on, or the exit code. */
static int print_frame(const json_t *frame, bool as_json)
{
    if (!json_is_true(json_object_get(frame, "ok"))) {
        fprintf(stderr, "childfirst watch: %s: %s\n", str(frame, "code", "CF_EINVAL"),
                str(frame, "reason", "the agent ended the watch"));
        return CLI_FAIL;
    }
    const json_t *event = json_object_get(frame, "event");
    const json_t *missed = json_object_get(frame, "missed");
    const char *end = str(frame, "end", NULL);
    if (json_is_object(event)) {
        if (as_json) {
            json_dumpf(event, stdout, JSON_COMPACT | JSON_SORT_KEYS);
            fputc('\n', stdout);
        } else {
            print_event(event);
        }
    } else if (json_is_integer(missed)) {
        long long n = (long long)json_integer_value(missed);
        if (as_json)
            printf("{\"missed\":%lld,\"next\":%lld,\"note\":\"run childfirst inbox to see "
                   "everything received\"}\n",
                   n, (long long)json_integer_value(json_object_get(frame, "next")));
        else
            printf("-- %lld event%s missed: the agent's live feed moved on before this watch "
                   "read %s; run 'childfirst inbox' to see everything received\n",
                   n, n == 1 ? " was" : "s were", n == 1 ? "it" : "them");
    } else if (end) {
        fflush(stdout);
        fprintf(stderr, "childfirst watch: ");
        cli_put_clean(stderr, end, strlen(end));
        fprintf(stderr, "; run 'childfirst watch' again once it is back\n");
        return CLI_FAIL;
    }
    /* Anything else is from a newer agent: skipped. */
    fflush(stdout);
    return -1;
}

/* The frames on `fd` until a signal, the agent's end or its going away. */
static int stream(int fd, bool as_json, const sigset_t *waiting_mask)
{
    struct ctl_reader r;
    struct cf_error err = {0};
    int rc = -1;
    ctl_reader_init(&r, CTL_MAX_FRAME);
    while (rc < 0 && !stop_signal) {
        json_t *frame = NULL;
        int got = ctl_reader_read(&r, fd, &frame, &err);
        if (got == 0 && !frame) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (ppoll(&p, 1, NULL, waiting_mask) < 0 && errno != EINTR) {
                fprintf(stderr, "childfirst watch: poll: %s\n", strerror(errno));
                rc = CLI_FAIL;
            }
            continue;
        }
        ctl_reader_fini(&r);
        ctl_reader_init(&r, CTL_MAX_FRAME);
        if (got != 0) {
            fflush(stdout);
            if (got == CF_EIO)
                fprintf(stderr, "childfirst watch: the agent went away (the control socket "
                                "closed); is childfirst-agent still running?\n");
            else
                fprintf(stderr, "childfirst watch: the agent sent a bad frame: %s\n", err.text);
            rc = CLI_FAIL;
            continue;
        }
        rc = print_frame(frame, as_json);
        json_decref(frame);
    }
    ctl_reader_fini(&r);
    if (rc < 0) {
        fflush(stdout);
        fprintf(stderr, "%schildfirst watch: stopped (%s)\n", isatty(2) ? "\n" : "",
                stop_signal == SIGTERM ? "SIGTERM" : "Ctrl-C");
        rc = CLI_OK;
    }
    return rc;
}

static int parse_from(const char *s, long long *out)
{
    if (!*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
        return -1;
    *out = atoll(s);
    return 0;
}

int cli_watch(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *config = NULL;
    bool as_json = false;
    long long from = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'j')
            as_json = true;
        else if (c == 'f' && parse_from(optarg, &from) == 0)
            continue;
        else if (c == 'c')
            config = optarg;
        else if (c == 'h')
            return fputs(watch_help, stdout), CLI_OK;
        else
            return fputs(watch_help, stderr), CLI_USAGE;
    }
    if (optind != argc)
        return fputs(watch_help, stderr), CLI_USAGE;
    const char *term = getenv("TERM");
    colour = !as_json && isatty(1) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;

    /* SIGINT and SIGTERM wait, blocked, until ppoll lets them in. */
    sigset_t stops, waiting_mask;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    sigprocmask(SIG_BLOCK, &stops, &waiting_mask);
    sigdelset(&waiting_mask, SIGINT);
    sigdelset(&waiting_mask, SIGTERM);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char path[CTL_PATH_MAX + 1];
    int fd = -1;
    if (cli_agent_connect("watch", config, &fd, path, sizeof path) != CLI_OK)
        return CLI_FAIL;
    struct cf_error err = {0};
    json_t *req = json_pack("{s:s}", "cmd", "watch"), *first = NULL;
    if (req)
        json_object_set_new(req, "from", from >= 0 ? json_integer(from) : json_null());
    int rc = req ? ctl_send(fd, req, 10000, &err) : CF_ENOMEM;
    json_decref(req);
    if (rc == 0 || rc == CF_EIO) /* EIO: refused at the door, and the answer says why */
        rc = ctl_recv(fd, &first, CTL_MAX_FRAME, 10000, &err);
    if (rc != 0) {
        fprintf(stderr, "childfirst watch: control socket %s: no answer: %s\n", path,
                err.text[0] ? err.text : "the agent closed the connection");
        close(fd);
        return CLI_FAIL;
    }
    if (!json_is_true(json_object_get(first, "ok")) ||
        !json_is_true(json_object_get(first, "watching"))) {
        fprintf(stderr, "childfirst watch: %s: %s\n", str(first, "code", "CF_EINVAL"),
                str(first, "reason", "the agent did not start the watch"));
        json_decref(first);
        close(fd);
        return CLI_FAIL;
    }
    fprintf(stderr, "childfirst watch: watching agency ");
    cli_put_clean(stderr, str(first, "agency", "?"), strlen(str(first, "agency", "?")));
    fprintf(stderr, " from event %lld; Ctrl-C to stop\n",
            (long long)json_integer_value(json_object_get(first, "next")));
    json_decref(first);
    rc = stream(fd, as_json, &waiting_mask);
    close(fd);
    return rc;
}
