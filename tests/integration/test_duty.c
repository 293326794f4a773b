/* Duty teams never miss a thing: `childfirst watch` streaming from a real
 * agent as things arrive, ending cleanly on SIGINT and SIGTERM and with a
 * sentence when the agent goes; an agent that never waits for a watcher; and
 * a duty team that was offline while its notices were issued, which gets them
 * all on its return, runs on_notice once for each, and e-mails its inbox
 * through deploy/hooks/mail-duty-inbox, captured by a fake sendmail, with the
 * case id and none of the child's details. The child is the fictional one of
 * deploy/examples/referral.json. */
#define _GNU_SOURCE /* timegm */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "ctl.h"
#include "harness.h"

#define EXAMPLE CF_SOURCE_DIR "/deploy/examples/referral.json"
#define MAIL_HOOK CF_SOURCE_DIR "/deploy/hooks/mail-duty-inbox"
#define WAIT_MS 20000

extern char **environ;

static char out[1 << 16], err[1 << 16];

static const char *const cast[] = {"police-a", "la-csc", "la-duty", "guardian-x"};

/* What must never reach a duty team's watch, hooks or mail: the example
 * child's names and alias, the referrer, and pieces of the narrative. */
static const char *const child_details[] = {
    "Amanuel",
    "Testchild",
    "Emmanuel T",
    "PC Jordan Example",
    "a man he calls 'the uncle'",
    "Victoria Coach Station",
    "Tigrinya telephone interpreter",
    "owes money for the journey",
    "340 pounds in cash",
};

static int setup(void **state)
{
    struct net *n = calloc(1, sizeof *n);
    net_create(n, NULL);
    net_broker_start(n);
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_setup(n, cast[i], NULL);
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

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *read_all(const char *path)
{
    static char buf[1 << 20];
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (!f)
        return buf;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    return buf;
}

static size_t count_in_file(const char *path, const char *needle)
{
    size_t n = 0;
    for (const char *p = read_all(path); (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Waits until `needle` occurs at least `times` times in the file. */
static bool wait_in_file(const char *path, const char *needle, size_t times, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (count_in_file(path, needle) >= times)
            return true;
        sleep_ms(20);
    }
    return false;
}

static void expect_in_file(const char *path, const char *needle, size_t times)
{
    if (!wait_in_file(path, needle, times, WAIT_MS))
        fail_msg("%s does not hold \"%s\" %zu times within %d ms; it has:\n%s", path, needle, times,
                 WAIT_MS, read_all(path));
}

static void assert_no_child_details(const char *path)
{
    const char *text = read_all(path);
    for (size_t i = 0; i < sizeof child_details / sizeof child_details[0]; i++)
        if (strstr(text, child_details[i]))
            fail_msg("%s holds \"%s\"", path, child_details[i]);
}

/* Starts `childfirst watch ARGS... -c <id's agent.ini>` with stdout and
 * stderr in files of the network's folder. */
static pid_t watch_start(struct net *n, const char *id, const char *const *args,
                         const char *out_path, const char *err_path)
{
    const char *argv[16] = {CF_BIN_DIR "/childfirst", "watch"};
    size_t k = 2;
    for (size_t i = 0; args && args[i] && k < 12; i++)
        argv[k++] = args[i];
    argv[k++] = "-c";
    argv[k++] = net_agent_of(n, id)->ini;
    argv[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot start childfirst watch: %s", strerror(rc));
    return pid;
}

/* The exit status of `pid` (128 + signal if killed), or fails after timeout_ms. */
static int wait_exit(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("process %d did not exit within %d ms", (int)pid, timeout_ms);
    return -1;
}

static void paths(struct net *n, const char *name, char *o, char *e, size_t cap)
{
    snprintf(o, cap, "%s/%s.out", n->dir, name);
    snprintf(e, cap, "%s/%s.err", n->dir, name);
}

/* `childfirst refer` from police-a: the new case id in `case_id`. */
static void refer(struct net *n, char case_id[64])
{
    const char *args[] = {"refer", EXAMPLE, NULL};
    int status = net_cli(n, "police-a", args, out, sizeof out, err, sizeof err);
    if (status != 0)
        fail_msg("childfirst refer exited %d:\n%s\n%s", status, out, err);
    json_t *receipt = json_loads(out, 0, NULL);
    assert_non_null(receipt);
    snprintf(case_id, 64, "%s", json_string_value(json_object_get(receipt, "case_id")));
    json_decref(receipt);
}

/* Milliseconds of an ISO-8601 UTC time as the agent writes it. */
static uint64_t iso_ms(const char *iso)
{
    struct tm tm = {0};
    unsigned ms = 0;
    if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d.%3uZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        fail_msg("not an agent time: %s", iso ? iso : "(null)");
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (uint64_t)timegm(&tm) * 1000u + ms;
}

/* The acknowledgement deadline of the case as the broker has it, asked
 * through la-csc: its due time as the agent writes it, in `due`. */
static uint64_t acknowledgement_due(struct net *n, const char *case_id, char due[64])
{
    const char *args[] = {"case", case_id, "--json", NULL};
    assert_int_equal(net_cli(n, "la-csc", args, out, sizeof out, err, sizeof err), 0);
    json_t *view = json_loads(out, 0, NULL);
    assert_non_null(view);
    const json_t *d;
    size_t i;
    due[0] = 0;
    json_array_foreach(json_object_get(json_object_get(view, "broker"), "deadlines"), i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "name")), "acknowledgement") == 0)
            snprintf(due, 64, "%s", json_string_value(json_object_get(d, "due")));
    }
    json_decref(view);
    if (!due[0])
        fail_msg("case %s has no acknowledgement deadline:\n%s", case_id, out);
    return iso_ms(due);
}

/* The line of the watch's output that holds both needles, or fails. */
static const char *line_with(const char *text, const char *a, const char *b, char *line, size_t cap)
{
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        snprintf(line, cap, "%.*s", (int)len, p);
        if (strstr(line, a) && strstr(line, b))
            return line;
        p += len + (nl != NULL);
    }
    fail_msg("no line with \"%s\" and \"%s\" in:\n%s", a, b, text);
    return NULL;
}

/* ---- watch ---- */

static void test_watch_streams_live_and_stops_on_signals(void **state)
{
    struct net *n = *state;
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_start(n, cast[i], NULL);
    char wo[700], we[700], jo[700], je[700], line[4096], case_id[64], due[64];
    paths(n, "watch", wo, we, sizeof wo);
    paths(n, "watch-json", jo, je, sizeof jo);
    pid_t human = watch_start(n, "la-duty", NULL, wo, we);
    const char *json_args[] = {"--json", NULL};
    pid_t script = watch_start(n, "la-duty", json_args, jo, je);
    expect_in_file(we, "watching agency la-duty", 1);
    expect_in_file(je, "watching agency la-duty", 1);

    /* A referral: the referral itself and the new_referral notice, as they
     * arrive; nothing asks the inbox. */
    refer(n, case_id);
    expect_in_file(wo, case_id, 2);
    const char *text = read_all(wo);
    line_with(text, "new_referral", case_id, line, sizeof line);
    assert_non_null(strstr(line, "!! IMMEDIATE RISK"));
    assert_non_null(strstr(line, "from broker (referred by police-a)"));
    assert_non_null(strstr(line, "; case referred"));
    assert_true(strstr(line, " GMT  ") || strstr(line, " BST  ")); /* UK time */
    line_with(text, "  referral  ", case_id, line, sizeof line);
    assert_non_null(strstr(line, "!! IMMEDIATE RISK"));
    assert_non_null(strstr(line, "from police-a"));

    /* The acknowledgement deadline passes: near, then breached, with the
     * deadline's name and when it fell due. */
    uint64_t due_ms = acknowledgement_due(n, case_id, due);
    net_clock_advance(n, (int64_t)(due_ms - net_now()) + 60000);
    expect_in_file(wo, "deadline_breached", 1);
    text = read_all(wo);
    line_with(text, "deadline_near", case_id, line, sizeof line);
    assert_non_null(strstr(line, "; deadline acknowledgement, due "));
    line_with(text, "deadline_breached", case_id, line, sizeof line);
    assert_non_null(strstr(line, "; deadline acknowledgement, due "));
    assert_non_null(strstr(line, "!! IMMEDIATE RISK"));
    assert_no_child_details(wo);

    /* The script's view: one JSON object a line, each with its sequence. */
    expect_in_file(jo, "deadline_breached", 1);
    const char *lines = read_all(jo);
    size_t events = 0;
    bool saw_breach = false;
    for (const char *p = lines; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl); /* every line is whole */
        json_t *e = json_loadb(p, (size_t)(nl - p), JSON_REJECT_DUPLICATES, NULL);
        if (!e)
            fail_msg("not a JSON line: %.*s", (int)(nl - p), p);
        assert_true(json_is_integer(json_object_get(e, "seq")));
        assert_int_equal(json_integer_value(json_object_get(e, "seq")), (json_int_t)events);
        assert_null(json_object_get(e, "payload"));
        const char *kind = json_string_value(json_object_get(e, "kind"));
        if (kind && strcmp(kind, "deadline_breached") == 0) {
            saw_breach = true;
            assert_string_equal(json_string_value(json_object_get(e, "deadline")),
                                "acknowledgement");
            assert_string_equal(json_string_value(json_object_get(e, "due")), due);
            assert_string_equal(json_string_value(json_object_get(e, "case_id")), case_id);
            assert_string_equal(json_string_value(json_object_get(e, "urgency")), "immediate");
            assert_true(json_is_true(json_object_get(e, "immediate_risk")));
        }
        json_decref(e);
        events++;
        p = nl + 1;
    }
    assert_true(saw_breach);
    assert_true(events >= 4); /* referral, new_referral, deadline_near, deadline_breached */
    assert_no_child_details(jo);

    /* Ctrl-C and SIGTERM: a clean exit, said on stderr. */
    kill(human, SIGINT);
    assert_int_equal(wait_exit(human, WAIT_MS), 0);
    assert_non_null(strstr(read_all(we), "childfirst watch: stopped (Ctrl-C)"));
    kill(script, SIGTERM);
    assert_int_equal(wait_exit(script, WAIT_MS), 0);
    assert_non_null(strstr(read_all(je), "childfirst watch: stopped (SIGTERM)"));
    /* The agent saw both go. */
    expect_in_file(net_agent_of(n, "la-duty")->log, "CONTROL-WATCH-END", 2);
}

/* Resuming from a sequence number replays what the feed still holds. */
static void test_watch_from_a_sequence(void **state)
{
    struct net *n = *state;
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_start(n, cast[i], NULL);
    char case_id[64], wo[700], we[700];
    refer(n, case_id);
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-notice.json",
             net_agent_of(n, "la-duty")->spool, case_id);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0));
    paths(n, "from", wo, we, sizeof wo);
    const char *args[] = {"--json", "--from", "0", NULL};
    pid_t w = watch_start(n, "la-duty", args, wo, we);
    expect_in_file(wo, "new_referral", 1);
    expect_in_file(wo, "\"seq\":0", 1);
    kill(w, SIGINT);
    assert_int_equal(wait_exit(w, WAIT_MS), 0);
    /* A bad --from is a usage error. */
    const char *bad[] = {"watch", "--from", "-1", NULL};
    assert_int_equal(net_cli(n, "la-duty", bad, out, sizeof out, err, sizeof err), 2);
}

static void test_watch_ends_when_the_agent_goes(void **state)
{
    struct net *n = *state;
    char wo[700], we[700];
    net_agent_start(n, "la-duty", NULL);
    /* Stopped: the agent says so before it closes. */
    paths(n, "stopped", wo, we, sizeof wo);
    pid_t w = watch_start(n, "la-duty", NULL, wo, we);
    expect_in_file(we, "watching agency la-duty", 1);
    net_agent_stop(n, "la-duty");
    assert_int_equal(wait_exit(w, WAIT_MS), 1);
    assert_non_null(strstr(read_all(we), "the agent is stopping; run 'childfirst watch' again"));
    /* Killed: the socket closes under the watch. */
    net_agent_start(n, "la-duty", NULL);
    paths(n, "killed", wo, we, sizeof wo);
    w = watch_start(n, "la-duty", NULL, wo, we);
    expect_in_file(we, "watching agency la-duty", 1);
    net_agent_kill(n, "la-duty");
    assert_int_equal(wait_exit(w, WAIT_MS), 1);
    assert_non_null(strstr(read_all(we), "the agent went away"));
    /* No agent at all: a sentence, not a hang. */
    w = watch_start(n, "la-duty", NULL, wo, we);
    assert_int_equal(wait_exit(w, WAIT_MS), 1);
    assert_non_null(strstr(read_all(we), "is childfirst-agent running?"));
}

/* A raw watcher on the agent's control socket. */
static int raw_watch(struct net *n, const char *id)
{
    char sock[700];
    snprintf(sock, sizeof sock, "%s/%s/agent.sock", n->dir, id);
    int fd = -1;
    struct cf_error e = {0};
    assert_int_equal(ctl_connect(sock, &fd, &e), 0);
    json_t *req = json_pack("{s:s, s:n}", "cmd", "watch", "from");
    assert_int_equal(ctl_send(fd, req, 5000, &e), 0);
    json_decref(req);
    json_t *first = NULL;
    assert_int_equal(ctl_recv(fd, &first, CTL_MAX_FRAME, WAIT_MS, &e), 0);
    assert_true(json_is_true(json_object_get(first, "watching")));
    json_decref(first);
    return fd;
}

/* Watchers that never read cost the agent nothing it waits for: referrals,
 * deliveries and other commands go on; a ninth watcher is refused. */
static void test_agent_never_waits_for_a_watcher(void **state)
{
    struct net *n = *state;
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_start(n, cast[i], NULL);
    int stuck[8];
    for (int i = 0; i < 8; i++)
        stuck[i] = raw_watch(n, "la-duty");
    const char *args[] = {"watch", NULL};
    assert_int_equal(net_cli(n, "la-duty", args, out, sizeof out, err, sizeof err), 1);
    assert_non_null(strstr(err, "CF_ETOOBIG"));
    char case_id[64];
    for (int i = 0; i < 3; i++)
        refer(n, case_id);
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-notice.json",
             net_agent_of(n, "la-duty")->spool, case_id);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0));
    const char *inbox[] = {"inbox", "--json", NULL};
    assert_int_equal(net_cli(n, "la-duty", inbox, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, case_id));
    /* What the stuck ones were sent is there when they do read: nothing lost,
     * nothing but header facts. */
    json_t *frame = NULL;
    struct cf_error e = {0};
    assert_int_equal(ctl_recv(stuck[0], &frame, CTL_MAX_FRAME, WAIT_MS, &e), 0);
    assert_non_null(json_object_get(frame, "event"));
    assert_null(json_object_get(json_object_get(frame, "event"), "payload"));
    json_decref(frame);
    for (int i = 0; i < 8; i++)
        close(stuck[i]);
    expect_in_file(net_agent_of(n, "la-duty")->log, "CONTROL-WATCH-END", 8);
}

/* The command line's side of what a real agent rarely shows: a watch that
 * fell behind the feed, told by an agent played by this test. */
static void test_watch_reports_missed_events(void **state)
{
    struct net *n = *state;
    net_agent_setup(n, "la-duty", NULL);
    char sock[700], wo[700], we[700];
    snprintf(sock, sizeof sock, "%s/la-duty/agent.sock", n->dir);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    assert_true(strlen(sock) < sizeof sun.sun_path);
    memcpy(sun.sun_path, sock, strlen(sock) + 1);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
    assert_int_equal(listen(lfd, 1), 0);
    paths(n, "missed", wo, we, sizeof wo);
    pid_t w = watch_start(n, "la-duty", NULL, wo, we);
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    json_t *req = NULL;
    struct cf_error e = {0};
    assert_int_equal(ctl_recv(fd, &req, CTL_MAX_FRAME, WAIT_MS, &e), 0);
    assert_string_equal(json_string_value(json_object_get(req, "cmd")), "watch");
    assert_true(json_is_null(json_object_get(req, "from")));
    json_decref(req);
    json_t *frames[] = {
        json_pack("{s:b, s:b, s:s, s:i}", "ok", 1, "watching", 1, "agency", "la-duty", "next", 0),
        json_pack("{s:b, s:i, s:i}", "ok", 1, "missed", 300, "next", 300),
        json_pack("{s:b, s:{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}}", "ok", 1, "event",
                  "seq", 300, "received_at", "2026-07-01T08:00:00.000Z", "type", "notice", "kind",
                  "deadline_near", "case_id", "cf-abcdefghijklmnopqrstuvwxyq", "sender", "broker",
                  "urgency", "urgent", "immediate_risk", 0, "deadline", "conference", "due",
                  "2026-07-02T22:59:59.999Z"),
        json_pack("{s:b, s:{s:i, s:s, s:s, s:s, s:s, s:s}}", "ok", 1, "event", "seq", 301,
                  "received_at", "2026-07-01T08:01:00.000Z", "type", "referral", "case_id",
                  "cf-abcdefghijklmnopqrstuvwxyq", "sender", "police-a\033[2J", "urgency",
                  "routine"),
    };
    for (size_t i = 0; i < sizeof frames / sizeof frames[0]; i++) {
        assert_int_equal(ctl_send(fd, frames[i], 5000, &e), 0);
        json_decref(frames[i]);
    }
    expect_in_file(wo, "police-a", 1);
    close(fd); /* the agent goes away */
    assert_int_equal(wait_exit(w, WAIT_MS), 1);
    close(lfd);
    unlink(sock);
    const char *text = read_all(wo);
    char line[4096];
    line_with(text, "300 events were missed", "run 'childfirst inbox'", line, sizeof line);
    /* British Summer Time in July; the deadline and its due time. */
    line_with(text, "2026-07-01 09:00:00 BST", "deadline_near", line, sizeof line);
    assert_non_null(strstr(line, "   urgent"));
    assert_null(strstr(line, "!!"));
    assert_non_null(strstr(line, "; deadline conference, due 2026-07-02 23:59:59 BST"));
    /* Control characters from the feed never reach the terminal. */
    line_with(text, "  referral  ", "routine", line, sizeof line);
    assert_null(strchr(line, '\033'));
    assert_non_null(strstr(line, "from police-a?[2J"));
    assert_non_null(strstr(read_all(we), "the agent went away"));
}

/* ---- An offline duty team, its hooks and its mail ---- */

/* net_agent_start passes this process's environment on, so the agent, and
 * through it its hooks, get PATH with `dir` first. */
static void start_with_path_first(struct net *n, const char *id, const char *dir)
{
    const char *old = getenv("PATH");
    char *saved = strdup(old ? old : "/usr/bin:/bin"), path[4096];
    assert_non_null(saved);
    snprintf(path, sizeof path, "%s:%s", dir, saved);
    setenv("PATH", path, 1);
    net_agent_start(n, id, NULL);
    setenv("PATH", saved, 1);
    free(saved);
}

/* The value of NAME in one captured mail's environment block, or "". */
static void mail_var(const char *mail, const char *name, char *value, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s=", name);
    const char *at = strstr(mail, key);
    value[0] = 0;
    if (at) {
        at += strlen(key);
        snprintf(value, cap, "%.*s", (int)strcspn(at, "\n"), at);
    }
}

/* The captured mail (environment and message) whose notice is `kind`. */
static const char *mail_of(const char *log, const char *kind, char *mail, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\nCHILDFIRST_TYPE=%s\n", kind);
    for (const char *p = strstr(log, "=== run"); p; p = strstr(p + 1, "=== run")) {
        const char *end = strstr(p + 1, "=== run");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        snprintf(mail, cap, "%.*s", (int)len, p);
        if (strstr(mail, key))
            return mail;
    }
    fail_msg("no mail for %s in:\n%s", kind, log);
    return NULL;
}

static void test_offline_duty_team_gets_every_notice_once_and_mails_it(void **state)
{
    struct net *n = *state;
    char bin[700], sendmail[800], log[800], script[2048], extra[1200];
    snprintf(bin, sizeof bin, "%s/fake-bin", n->dir);
    mkdir(bin, 0700);
    snprintf(sendmail, sizeof sendmail, "%s/sendmail", bin);
    snprintf(log, sizeof log, "%s/mail.log", n->dir);
    /* The fake sendmail keeps its arguments, the hook's environment and the mail. */
    snprintf(script, sizeof script,
             "#!/bin/sh\n{ echo \"=== run sendmail $*\"; env | grep '^CHILDFIRST_' | sort;"
             " echo '--- mail'; cat; } >> '%s'\n",
             log);
    FILE *f = fopen(sendmail, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    chmod(sendmail, 0755);
    snprintf(extra, sizeof extra, "on_notice = %s duty@la-duty.example\n", MAIL_HOOK);
    net_agent_setup(n, "la-duty", extra);

    /* The duty team is offline while the referral comes in and its
     * acknowledgement deadline passes. */
    net_agent_start(n, "police-a", NULL);
    net_agent_start(n, "la-csc", NULL);
    net_agent_start(n, "guardian-x", NULL);
    char case_id[64], due[64];
    refer(n, case_id);
    uint64_t due_ms = acknowledgement_due(n, case_id, due);
    net_clock_advance(n, (int64_t)(due_ms - net_now()) + 60000);
    char issued[128];
    snprintf(issued, sizeof issued, "DEADLINE-BREACHED case=%s", case_id);
    expect_in_file(n->broker_log, issued, 1);
    assert_int_equal(access(log, F_OK), -1); /* nothing ran while it was away */

    /* It comes back and gets them all. */
    start_with_path_first(n, "la-duty", bin);
    struct net_agent *duty = net_agent_of(n, "la-duty");
    expect_in_file(log, "CHILDFIRST_TYPE=new_referral", 1);
    expect_in_file(log, "CHILDFIRST_TYPE=deadline_breached", 1);
    const char *inbox[] = {"inbox", "--case", case_id, "--json", NULL};
    assert_int_equal(net_cli(n, "la-duty", inbox, out, sizeof out, err, sizeof err), 0);
    json_t *list = json_loads(out, 0, NULL);
    assert_non_null(list);
    size_t notices = 0, i;
    const json_t *m;
    bool got_new = false, got_breach = false;
    json_array_foreach(list, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "type")), "notice") != 0)
            continue;
        notices++;
        const char *kind = json_string_value(json_object_get(m, "kind"));
        got_new = got_new || strcmp(kind, "new_referral") == 0;
        got_breach = got_breach || strcmp(kind, "deadline_breached") == 0;
    }
    json_decref(list);
    assert_true(got_new && got_breach);
    /* Every notice's hook ran, each once: one mail per notice, one success each. */
    expect_in_file(duty->log, "HOOK-DONE", notices);
    expect_in_file(log, "=== run sendmail -t -oi", notices);
    assert_int_equal(count_in_file(log, "=== run"), notices);
    assert_int_equal(count_in_file(log, "CHILDFIRST_TYPE=new_referral\n"), 1);
    assert_int_equal(count_in_file(log, "CHILDFIRST_TYPE=deadline_breached\n"), 1);
    /* ... and not again after a restart: the queue is empty, nothing is redelivered. */
    size_t started = count_in_file(duty->log, "HOOK-STARTED");
    net_agent_stop(n, "la-duty");
    start_with_path_first(n, "la-duty", bin);
    const char *status[] = {"status", "--json", NULL};
    for (int waited = 0;; waited += 20) {
        assert_int_equal(net_cli(n, "la-duty", status, out, sizeof out, err, sizeof err), 0);
        if (strstr(out, "\"connected\": true"))
            break;
        if (waited > WAIT_MS)
            fail_msg("la-duty did not reconnect:\n%s", out);
        sleep_ms(20);
    }
    assert_int_equal(count_in_file(duty->log, "HOOK-STARTED"), started);
    assert_int_equal(count_in_file(log, "=== run"), notices);

    /* The breach: its hook's environment names the deadline and when it fell due. */
    char mail[1 << 14], value[256];
    mail_of(read_all(log), "deadline_breached", mail, sizeof mail);
    mail_var(mail, "CHILDFIRST_CASE", value, sizeof value);
    assert_string_equal(value, case_id);
    mail_var(mail, "CHILDFIRST_DEADLINE", value, sizeof value);
    assert_string_equal(value, "acknowledgement");
    mail_var(mail, "CHILDFIRST_DUE", value, sizeof value);
    assert_string_equal(value, due);
    mail_var(mail, "CHILDFIRST_URGENCY", value, sizeof value);
    assert_string_equal(value, "immediate");
    mail_var(mail, "CHILDFIRST_IMMEDIATE_RISK", value, sizeof value);
    assert_string_equal(value, "yes");
    mail_var(mail, "CHILDFIRST_MESSAGE_ID", value, sizeof value);
    assert_int_equal(strlen(value), 32);
    /* Its mail: to the duty inbox, urgency, kind and case in the subject, the
     * deadline in the body, and where to look. */
    char want[512];
    assert_non_null(strstr(mail, "\nTo: duty@la-duty.example\n"));
    snprintf(want, sizeof want,
             "\nSubject: [ChildFirst] IMMEDIATE (immediate risk): deadline_breached, case %s\n",
             case_id);
    assert_non_null(strstr(mail, want));
    snprintf(want, sizeof want, "Deadline:    acknowledgement, due %s", due);
    assert_non_null(strstr(mail, want));
    snprintf(want, sizeof want, "childfirst case %s", case_id);
    assert_non_null(strstr(mail, want));
    /* The new referral's mail too. */
    mail_of(read_all(log), "new_referral", mail, sizeof mail);
    snprintf(want, sizeof want,
             "\nSubject: [ChildFirst] IMMEDIATE (immediate risk): new_referral, case %s\n",
             case_id);
    assert_non_null(strstr(mail, want));
    assert_non_null(strstr(mail, "Referred by: police-a"));
    /* No child details in anything a duty inbox got, nor in the hook log. */
    assert_no_child_details(log);
    char hooks_log[800];
    snprintf(hooks_log, sizeof hooks_log, "%s/hooks.log", duty->state);
    expect_in_file(hooks_log, "mail-duty-inbox: sent deadline_breached", 1);
    assert_no_child_details(hooks_log);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watch_streams_live_and_stops_on_signals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_watch_from_a_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_ends_when_the_agent_goes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_never_waits_for_a_watcher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_reports_missed_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offline_duty_team_gets_every_notice_once_and_mails_it,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
