/* The referral spine end to end: real broker, real agents, the real childfirst
 * command, the spool folders and hooks, on 127.0.0.1. The child in these tests
 * is the fictional one of deploy/examples/referral.json; the last test proves
 * her details reach nobody but the recipients. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "harness.h"

#define EXAMPLE CF_SOURCE_DIR "/deploy/examples/referral.json"
#define CHILD_NAME "Amanuel"
#define NARRATIVE_PART "a man he calls 'the uncle'"
#define WAIT_MS 20000

static char out[1 << 16], err[1 << 16];

static const char *const cast[] = {"police-a", "la-csc", "la-duty", "guardian-x"};

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

static void start_all(struct net *n)
{
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_start(n, cast[i], NULL);
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!doc)
        fail_msg("%s: %s", path, e.text);
    return doc;
}

/* `childfirst refer` from police-a; returns the receipt (caller decrefs). */
static json_t *refer(struct net *n, const char *file, int want_status)
{
    const char *args[] = {"refer", file, NULL};
    int status = net_cli(n, "police-a", args, out, sizeof out, err, sizeof err);
    if (status != want_status)
        fail_msg("childfirst refer exited %d, not %d:\n%s\n%s", status, want_status, out, err);
    if (want_status != 0)
        return NULL;
    json_error_t e;
    json_t *receipt = json_loads(out, 0, &e);
    if (!receipt)
        fail_msg("the receipt is not JSON (%s):\n%s", e.text, out);
    return receipt;
}

/* The file an agent wrote for `case_id`, of `type`, within WAIT_MS. */
static json_t *await_inbox(struct net *n, const char *id, const char *case_id, const char *type)
{
    char pattern[1024], path[1024];
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-%s.json", net_agent_of(n, id)->spool, case_id,
             type);
    if (!net_wait_glob(pattern, WAIT_MS, path, sizeof path))
        fail_msg("%s received no %s for %s within %d ms", id, type, case_id, WAIT_MS);
    return load_json(path);
}

/* The referral as sent: the example without a case id (the agent makes one). */
static void assert_same_referral(const json_t *payload)
{
    json_t *want = load_json(EXAMPLE);
    json_object_del(want, "case_id");
    if (!json_equal(want, payload)) {
        char *got = json_dumps(payload, JSON_SORT_KEYS | JSON_INDENT(1));
        fail_msg("the decrypted referral differs from the input:\n%s", got);
    }
    json_decref(want);
}

/* How many times `needle` occurs in the file at `path` (0 if unreadable). */
static size_t count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char buf[1 << 22];
    size_t len = fread(buf, 1, sizeof buf - 1, f), n = 0;
    fclose(f);
    buf[len] = 0;
    for (const char *p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Waits until `needle` occurs at least `times` times in the file. */
static bool wait_in_file(const char *path, const char *needle, size_t times, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (count_in_file(path, needle) >= times)
            return true;
        usleep(20 * 1000);
    }
    return false;
}

/* The number after `key` on the last line of the file that holds `event`; -1 if none. */
static long long last_logged(const char *path, const char *event, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    long long value = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        const char *at = strstr(line, event), *k = at ? strstr(at, key) : NULL;
        if (k)
            value = atoll(k + strlen(key));
    }
    fclose(f);
    return value;
}

/* The tree size a receipt's checkpoint signs (the note's second line). */
static long long receipt_size(const json_t *receipt)
{
    const char *note = json_string_value(json_object_get(receipt, "checkpoint"));
    const char *nl = note ? strchr(note, '\n') : NULL;
    return nl ? atoll(nl + 1) : -1;
}

/* `childfirst refer FILE --wait S` from police-a: the exit status, the answer in `out`. */
static int refer_wait(struct net *n, const char *file, const char *wait_s)
{
    const char *args[] = {"refer", file, "--wait", wait_s, NULL};
    return net_cli(n, "police-a", args, out, sizeof out, err, sizeof err);
}

static void test_police_to_la_end_to_end(void **state)
{
    struct net *n = *state;
    start_all(n);
    json_t *receipt = refer(n, EXAMPLE, 0);
    assert_string_equal(json_string_value(json_object_get(receipt, "status")), "accepted");
    assert_true(json_integer_value(json_object_get(receipt, "leaf_index")) > 0);
    assert_non_null(
        strstr(json_string_value(json_object_get(receipt, "checkpoint")), "test.childfirst/log\n"));
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    const char *message_id = json_string_value(json_object_get(receipt, "message_id"));

    json_t *got = await_inbox(n, "la-csc", case_id, "referral");
    assert_string_equal(json_string_value(json_object_get(got, "sender")), "police-a");
    assert_string_equal(json_string_value(json_object_get(got, "message_id")), message_id);
    assert_same_referral(json_object_get(got, "payload"));

    /* The same, decrypted on demand through the CLI. */
    const char *show[] = {"show", message_id, "--json", NULL};
    assert_int_equal(net_cli(n, "la-csc", show, out, sizeof out, err, sizeof err), 0);
    json_t *shown = json_loads(out, 0, NULL);
    assert_non_null(shown);
    assert_same_referral(json_object_get(shown, "payload"));
    const char *inbox[] = {"inbox", "--json", NULL};
    assert_int_equal(net_cli(n, "la-csc", inbox, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, message_id));
    const char *status[] = {"status", "--json", NULL};
    assert_int_equal(net_cli(n, "police-a", status, out, sizeof out, err, sizeof err), 0);
    json_t *st = json_loads(out, 0, NULL);
    assert_true(json_is_true(json_object_get(st, "connected")));
    assert_int_equal(json_integer_value(json_object_get(st, "outbox_depth")), 0);
    json_decref(st);
    json_decref(shown);
    json_decref(got);
    json_decref(receipt);
}

/* Drops a file into the police spool the way DESIGN.md asks: write, then rename. */
static void spool_drop(struct net *n, const char *name, const char *text)
{
    char tmp[1024], final[1024];
    struct net_agent *g = net_agent_of(n, "police-a");
    snprintf(tmp, sizeof tmp, "%s/outbox/.%s.tmp", g->spool, name);
    snprintf(final, sizeof final, "%s/outbox/%s", g->spool, name);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, final), 0);
}

/* Writes an executable shell script. */
static void write_script(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0755);
}

static char *read_all(const char *path)
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

static void test_through_the_spool(void **state)
{
    struct net *n = *state;
    start_all(n); /* the agents make their spool folders at start */
    spool_drop(n, "ref-1.json", read_all(EXAMPLE));
    char pattern[1024], path[1024];
    snprintf(pattern, sizeof pattern, "%s/sent/ref-1.json.receipt.json",
             net_agent_of(n, "police-a")->spool);
    assert_true(net_wait_glob(pattern, WAIT_MS, path, sizeof path));
    json_t *receipt = load_json(path);
    assert_string_equal(json_string_value(json_object_get(receipt, "status")), "accepted");
    snprintf(pattern, sizeof pattern, "%s/sent/ref-1.json", net_agent_of(n, "police-a")->spool);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0)); /* moved just after its sidecar */
    snprintf(pattern, sizeof pattern, "%s/outbox/ref-1.json", net_agent_of(n, "police-a")->spool);
    assert_int_equal(net_count_glob(pattern), 0);
    json_t *got = await_inbox(n, "la-csc", json_string_value(json_object_get(receipt, "case_id")),
                              "referral");
    assert_same_referral(json_object_get(got, "payload"));
    json_decref(got);
    json_decref(receipt);
}

static void test_rejection_lands_in_spool_rejected(void **state)
{
    struct net *n = *state;
    start_all(n);
    /* A referral without its narrative: refused before it is sealed. */
    json_t *doc = load_json(EXAMPLE);
    json_object_del(doc, "narrative");
    char *text = json_dumps(doc, 0);
    spool_drop(n, "no-narrative.json", text);
    char pattern[1024], path[1024];
    snprintf(pattern, sizeof pattern, "%s/rejected/no-narrative.json.error.json",
             net_agent_of(n, "police-a")->spool);
    assert_true(net_wait_glob(pattern, WAIT_MS, path, sizeof path));
    json_t *e = load_json(path);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "CF_EFIELD");
    assert_string_equal(json_string_value(json_object_get(e, "reason")), "narrative: is required");
    snprintf(pattern, sizeof pattern, "%s/rejected/no-narrative.json",
             net_agent_of(n, "police-a")->spool);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0)); /* moved just after its sidecar */
    /* The CLI says the same and exits non-zero. */
    char file[1024];
    snprintf(file, sizeof file, "%s/bad.json", n->dir);
    FILE *f = fopen(file, "w");
    fputs(text, f);
    fclose(f);
    refer(n, file, 1);
    assert_non_null(strstr(err, "narrative: is required"));
    free(text);
    json_decref(e);
    json_decref(doc);
}

/* The broker's refusals reach the spool too: a referral naming a case id that
 * already exists passes the agent's checks and is rejected by the broker. */
static void test_broker_rejection_lands_in_spool_rejected(void **state)
{
    struct net *n = *state;
    start_all(n);
    json_t *first = refer(n, EXAMPLE, 0);
    json_t *doc = load_json(EXAMPLE);
    json_object_set(doc, "case_id", json_object_get(first, "case_id"));
    char *text = json_dumps(doc, 0);
    spool_drop(n, "same-case.json", text);
    char pattern[1024], path[1024];
    const char *spool = net_agent_of(n, "police-a")->spool;
    snprintf(pattern, sizeof pattern, "%s/rejected/same-case.json.error.json", spool);
    assert_true(net_wait_glob(pattern, WAIT_MS, path, sizeof path));
    json_t *e = load_json(path);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "rejected");
    assert_string_equal(json_string_value(json_object_get(e, "code")), "CF_ECASEEXISTS");
    const char *reason = json_string_value(json_object_get(e, "reason"));
    assert_non_null(reason);
    assert_true(strlen(reason) > 0);
    assert_int_equal(strlen(json_string_value(json_object_get(e, "message_id"))), 32);
    snprintf(pattern, sizeof pattern, "%s/rejected/same-case.json", spool);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0)); /* moved just after its sidecar */
    snprintf(pattern, sizeof pattern, "%s/outbox/same-case.json", spool);
    assert_int_equal(net_count_glob(pattern), 0);
    json_decref(e);
    free(text);
    json_decref(doc);
    json_decref(first);
}

/* A spool file that cannot go yet waits quietly: one SPOOL-WAITING, not one a
 * scan; one that cannot be read (a folder, a FIFO) is reported once and does
 * not stall the agent; one the policy routes nowhere is refused at once. */
static void test_spool_files_that_cannot_go(void **state)
{
    struct net *n = *state;
    struct net_agent *g = net_agent_of(n, "police-a");
    net_broker_stop(n);
    net_agent_start(n, "police-a", NULL); /* new: no signed directory yet */
    spool_drop(n, "early.json", read_all(EXAMPLE));
    char path[1024];
    snprintf(path, sizeof path, "%s/outbox/folder.json", g->spool);
    assert_int_equal(mkdir(path, 0750), 0);
    snprintf(path, sizeof path, "%s/outbox/fifo.json", g->spool);
    assert_int_equal(mkfifo(path, 0640), 0);
    assert_true(wait_in_file(g->log, "SPOOL-WAITING file=early.json", 1, WAIT_MS));
    assert_true(wait_in_file(g->log, "SPOOL-UNREADABLE file=folder.json", 1, WAIT_MS));
    assert_true(wait_in_file(g->log, "SPOOL-UNREADABLE file=fifo.json", 1, WAIT_MS));
    usleep(600 * 1000); /* a dozen scans at spool_scan_ms = 50 */
    assert_int_equal(count_in_file(g->log, "SPOOL-WAITING file=early.json"), 1);
    assert_int_equal(count_in_file(g->log, "SPOOL-UNREADABLE file=folder.json"), 1);
    assert_int_equal(count_in_file(g->log, "SPOOL-UNREADABLE file=fifo.json"), 1);
    const char *status[] = {"status", "--json", NULL}; /* the FIFO stalled nothing */
    assert_int_equal(net_cli(n, "police-a", status, out, sizeof out, err, sizeof err), 0);
    /* With the broker back, the waiting file goes, and one routed nowhere is refused. */
    net_broker_start(n);
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/sent/early.json.receipt.json", g->spool);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0));
    json_t *doc = load_json(EXAMPLE);
    json_object_set_new(doc, "la_code", json_string("S12000036")); /* Scotland: nobody here */
    char *text = json_dumps(doc, 0);
    spool_drop(n, "nowhere.json", text);
    snprintf(pattern, sizeof pattern, "%s/rejected/nowhere.json.error.json", g->spool);
    assert_true(net_wait_glob(pattern, WAIT_MS, path, sizeof path));
    json_t *e = load_json(path);
    assert_string_equal(json_string_value(json_object_get(e, "code")), "CF_ENOROUTE");
    assert_true(strlen(json_string_value(json_object_get(e, "reason"))) > 0);
    assert_int_equal(count_in_file(g->log, "SPOOL-WAITING file=nowhere.json"), 0);
    json_decref(e);
    free(text);
    json_decref(doc);
}

static size_t inbox_files(struct net *n, const char *id, const char *case_id)
{
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-referral.json", net_agent_of(n, id)->spool,
             case_id);
    return net_count_glob(pattern);
}

static void test_recipient_offline_then_started(void **state)
{
    struct net *n = *state;
    net_agent_start(n, "police-a", NULL);
    json_t *receipt = refer(n, EXAMPLE, 0);
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    assert_int_equal(inbox_files(n, "la-csc", case_id), 0);
    net_agent_start(n, "la-csc", NULL);
    json_t *got = await_inbox(n, "la-csc", case_id, "referral");
    assert_same_referral(json_object_get(got, "payload"));
    json_decref(got);
    json_decref(receipt);
}

static void test_broker_killed_recipient_offline(void **state)
{
    struct net *n = *state;
    net_agent_start(n, "police-a", NULL);
    json_t *receipt = refer(n, EXAMPLE, 0);
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    net_broker_kill(n);
    net_broker_start(n); /* same port: the agents reconnect by themselves */
    net_agent_start(n, "la-csc", NULL);
    json_t *got = await_inbox(n, "la-csc", case_id, "referral");
    json_decref(got);
    /* Exactly once, also after the agent restarts and says Hello again. */
    net_agent_stop(n, "la-csc");
    net_agent_start(n, "la-csc", NULL);
    const char *inbox[] = {"inbox", "--json", "--case", case_id, NULL};
    usleep(500 * 1000);
    assert_int_equal(net_cli(n, "la-csc", inbox, out, sizeof out, err, sizeof err), 0);
    json_t *list = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(inbox_files(n, "la-csc", case_id), 1);
    json_decref(list);
    json_decref(receipt);
}

static void test_agent_killed_between_commit_and_ack(void **state)
{
    struct net *n = *state;
    net_agent_start(n, "police-a", NULL);
    net_agent_start(n, "la-csc", "after-inbox-commit");
    json_t *receipt = refer(n, EXAMPLE, 0);
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    /* The fault point stops the agent after keeping the message, before its ack. */
    assert_int_equal(net_agent_wait_exit(n, "la-csc", WAIT_MS), 99);
    assert_int_equal(inbox_files(n, "la-csc", case_id), 1);
    char delivered[128];
    snprintf(delivered, sizeof delivered, "MESSAGE-DELIVERED about=%lld recipient=la-csc leaf=",
             (long long)json_integer_value(json_object_get(receipt, "leaf_index")));
    assert_false(net_file_contains(n->broker_log, delivered));
    net_agent_start(n, "la-csc", NULL);
    /* Redelivered on Hello, acknowledged this time, and kept once. */
    assert_true(wait_in_file(n->broker_log, delivered, 1, WAIT_MS));
    assert_true(net_file_contains(net_agent_of(n, "la-csc")->log, "DELIVERY-REPEATED"));
    const char *inbox[] = {"inbox", "--json", "--case", case_id, NULL};
    assert_int_equal(net_cli(n, "la-csc", inbox, out, sizeof out, err, sizeof err), 0);
    json_t *list = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(inbox_files(n, "la-csc", case_id), 1);
    json_decref(list);
    json_decref(receipt);
}

/* A burst waiting for an offline agency arrives as one drain and is kept in
 * one batch: one commit, one pair of spool syncs, then the acks. Killed after
 * that commit, nothing of the batch was acknowledged; after the restart each
 * message is acknowledged and kept exactly once. */
#define BURST 8
static void test_batch_killed_between_commit_and_ack(void **state)
{
    struct net *n = *state;
    net_agent_start(n, "police-a", NULL);
    json_t *receipts[BURST];
    for (int i = 0; i < BURST; i++)
        receipts[i] = refer(n, EXAMPLE, 0);             /* queued for la-csc, which is offline */
    net_agent_spawn(n, "la-csc", "after-inbox-commit"); /* it stops within milliseconds */
    assert_int_equal(net_agent_wait_exit(n, "la-csc", WAIT_MS), 99);
    const char *log = net_agent_of(n, "la-csc")->log;
    size_t kept = 0;
    for (int i = 0; i < BURST; i++)
        kept +=
            inbox_files(n, "la-csc", json_string_value(json_object_get(receipts[i], "case_id")));
    printf("# the first batch kept %zu of %d before the kill\n", kept, BURST);
    /* The broker sends the queued burst right after its Welcome, so the
     * first drain holds more than one: one commit kept them together. */
    assert_true(kept >= 2);
    assert_int_equal(count_in_file(log, "DELIVERY-KEPT"), 0); /* logged only once answered */
    assert_false(net_file_contains(n->broker_log, "recipient=la-csc leaf="));
    net_agent_start(n, "la-csc", NULL);
    for (int i = 0; i < BURST; i++) {
        char delivered[128];
        snprintf(delivered, sizeof delivered, "MESSAGE-DELIVERED about=%lld recipient=la-csc leaf=",
                 (long long)json_integer_value(json_object_get(receipts[i], "leaf_index")));
        assert_true(wait_in_file(n->broker_log, delivered, 1, WAIT_MS));
        assert_int_equal(count_in_file(n->broker_log, delivered), 1);
        const char *case_id = json_string_value(json_object_get(receipts[i], "case_id"));
        assert_int_equal(inbox_files(n, "la-csc", case_id), 1);
        json_decref(receipts[i]);
    }
    /* Those the batch kept come again as repeats; the rest are new. */
    assert_int_equal(count_in_file(log, "DELIVERY-REPEATED"), kept);
    assert_int_equal(count_in_file(log, "DELIVERY-KEPT"), BURST - kept);
}

static void test_hook_fails_twice_then_succeeds(void **state)
{
    struct net *n = *state;
    char hook[1024], count[1024], done[1024], extra[1200], script[4096];
    snprintf(hook, sizeof hook, "%s/hook.sh", n->dir);
    snprintf(count, sizeof count, "%s/hook.count", n->dir);
    snprintf(done, sizeof done, "%s/hook.done", n->dir);
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "echo x >> '%s'\n"
             "[ $(wc -l < '%s') -ge 3 ] || exit 1\n"
             "{ echo \"type=$CHILDFIRST_TYPE case=$CHILDFIRST_CASE urgency=$CHILDFIRST_URGENCY\";"
             " cat; } >> '%s'\n",
             count, count, done);
    FILE *f = fopen(hook, "w");
    fputs(script, f);
    fclose(f);
    chmod(hook, 0755);
    snprintf(extra, sizeof extra, "on_message = %s\n", hook);
    net_agent_setup(n, "la-csc", extra);
    start_all(n);
    json_t *receipt = refer(n, EXAMPLE, 0);
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    /* Acknowledged at once, while the hook is still failing. */
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-referral.json",
             net_agent_of(n, "la-csc")->spool, case_id);
    assert_true(net_wait_glob(pattern, WAIT_MS, NULL, 0));
    for (int i = 0; i < 250 && !net_file_contains(n->broker_log, "recipient=la-csc leaf="); i++)
        usleep(20 * 1000);
    assert_true(net_file_contains(n->broker_log, "recipient=la-csc leaf="));
    assert_int_equal(access(done, F_OK), -1);
    /* Retried with backoff (1 s, then 2 s) until it succeeds, once. */
    assert_true(net_wait_glob(done, WAIT_MS, NULL, 0));
    usleep(300 * 1000);
    char *ran = read_all(count);
    assert_int_equal(strlen(ran), 6); /* three lines of "x\n" */
    char *got = read_all(done);
    char want[256];
    snprintf(want, sizeof want, "type=referral case=%s urgency=immediate\n", case_id);
    assert_memory_equal(got, want, strlen(want));
    assert_non_null(strstr(got, "\"payload\""));
    assert_non_null(strstr(got, CHILD_NAME)); /* the hook gets the decrypted message */
    json_decref(receipt);
}

/* The hook's JSON comes from the agent's own copy: an agency system that has
 * already taken the spool file does not stop it. Here the first run takes the
 * file away and fails; the retry still gets the whole message on stdin. */
static void test_hook_runs_without_its_spool_file(void **state)
{
    struct net *n = *state;
    struct net_agent *g = net_agent_of(n, "la-csc");
    char hook[1024], marker[1024], done[1024], extra[1200], script[4096], pattern[1024];
    snprintf(hook, sizeof hook, "%s/take.sh", n->dir);
    snprintf(marker, sizeof marker, "%s/take.first", n->dir);
    snprintf(done, sizeof done, "%s/take.done", n->dir);
    snprintf(script, sizeof script,
             "#!/bin/sh\n"
             "if [ ! -e '%s' ]; then\n"
             "  touch '%s'\n"
             "  rm \"%s/inbox/$CHILDFIRST_CASE/$CHILDFIRST_LEAF-referral.json\" || exit 2\n"
             "  exit 1\n"
             "fi\n"
             "cat > '%s'\n",
             marker, marker, g->spool, done);
    write_script(hook, script);
    snprintf(extra, sizeof extra, "on_message = %s\n", hook);
    net_agent_setup(n, "la-csc", extra);
    start_all(n);
    json_t *receipt = refer(n, EXAMPLE, 0);
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    assert_true(net_wait_glob(done, WAIT_MS, NULL, 0));
    assert_true(wait_in_file(g->log, "HOOK-DONE", 1, WAIT_MS));
    snprintf(pattern, sizeof pattern, "%s/inbox/%s/*-referral.json", g->spool, case_id);
    assert_int_equal(net_count_glob(pattern), 0); /* it really ran without the file */
    json_t *got = load_json(done);
    assert_string_equal(json_string_value(json_object_get(got, "case_id")), case_id);
    assert_same_referral(json_object_get(got, "payload"));
    /* Its input file was private and is gone. */
    snprintf(pattern, sizeof pattern, "%s/.hook-stdin-*", g->state);
    assert_int_equal(net_count_glob(pattern), 0);
    json_decref(got);
    json_decref(receipt);
}

static void test_hook_is_time_limited(void **state)
{
    struct net *n = *state;
    char hook[1024], count[1024], done[1024], extra[1200], script[8192];
    snprintf(hook, sizeof hook, "%s/slow.sh", n->dir);
    snprintf(count, sizeof count, "%s/slow.count", n->dir);
    snprintf(done, sizeof done, "%s/slow.done", n->dir);
    /* The first run hangs; the agent must kill it and try again. The second
     * writes its input aside and renames it, so the test never reads a file
     * the shell has created but not yet filled. */
    snprintf(script, sizeof script,
             "#!/bin/sh\necho x >> '%s'\n[ $(wc -l < '%s') -ge 2 ] || exec sleep 600\n"
             "cat > '%s.tmp' && mv '%s.tmp' '%s'\n",
             count, count, done, done, done);
    FILE *f = fopen(hook, "w");
    fputs(script, f);
    fclose(f);
    chmod(hook, 0755);
    snprintf(extra, sizeof extra, "on_notice = %s\nhook_timeout_s = 1\n", hook);
    net_agent_setup(n, "la-duty", extra);
    start_all(n);
    json_t *receipt = refer(n, EXAMPLE, 0);
    assert_true(net_wait_glob(done, WAIT_MS, NULL, 0));
    assert_true(net_file_contains(net_agent_of(n, "la-duty")->log, "HOOK-TIMEOUT"));
    assert_string_equal(read_all(count), "x\nx\n");
    assert_non_null(strstr(read_all(done), "new_referral"));
    json_decref(receipt);
}

static void test_duty_team_notice_has_no_child_details(void **state)
{
    struct net *n = *state;
    start_all(n);
    json_t *receipt = refer(n, EXAMPLE, 0);
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    json_t *notice = await_inbox(n, "la-duty", case_id, "notice");
    assert_string_equal(json_string_value(json_object_get(notice, "type")), "notice");
    assert_string_equal(json_string_value(json_object_get(notice, "kind")), "new_referral");
    assert_string_equal(json_string_value(json_object_get(notice, "sender")), "broker");
    assert_string_equal(json_string_value(json_object_get(notice, "case_id")), case_id);
    assert_string_equal(json_string_value(json_object_get(notice, "urgency")), "immediate");
    assert_true(json_is_true(json_object_get(notice, "immediate_risk")));
    assert_string_equal(json_string_value(json_object_get(notice, "referring_agency")), "police-a");
    char *text = json_dumps(notice, 0);
    assert_null(strstr(text, CHILD_NAME));
    assert_null(strstr(text, "narrative"));
    assert_null(strstr(text, "E09000033"));
    free(text);
    json_decref(notice);
    json_decref(receipt);
}

/* What must never appear in cleartext outside the recipients' own spool: the
 * child's names and alias, the referrer, and pieces of the narrative. */
static const char *const child_details[] = {
    CHILD_NAME,
    "Testchild",
    "Emmanuel T",
    "PC Jordan Example",
    NARRATIVE_PART,
    "Victoria Coach Station",
    "Tigrinya telephone interpreter",
    "owes money for the journey",
    "340 pounds in cash",
};

/* Checks every file under `dir`, recursively, except the folders named
 * `skip` (each an absolute path); returns how many files were read. */
static size_t scan_for_child_details(const char *dir, const char *const *skip, size_t n_skip)
{
    size_t files = 0;
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot read %s", dir);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        bool skipped = false;
        for (size_t i = 0; i < n_skip; i++)
            skipped = skipped || strcmp(path, skip[i]) == 0;
        struct stat st;
        if (skipped || lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            files += scan_for_child_details(path, skip, n_skip);
        } else if (S_ISREG(st.st_mode)) {
            files++;
            for (size_t i = 0; i < sizeof child_details / sizeof child_details[0]; i++)
                if (net_file_contains(path, child_details[i]))
                    fail_msg("%s holds \"%s\" in cleartext", path, child_details[i]);
        }
    }
    closedir(d);
    return files;
}

static void test_no_child_details_outside_recipients(void **state)
{
    struct net *n = *state;
    start_all(n);
    json_t *receipt = refer(n, EXAMPLE, 0);
    json_t *got = await_inbox(n, "la-csc", json_string_value(json_object_get(receipt, "case_id")),
                              "referral");
    char *text = json_dumps(got, 0);
    assert_non_null(strstr(text, "Testchild")); /* the needles are real */
    free(text);
    json_decref(got);
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_stop(n, cast[i]);
    net_broker_stop(n);
    /* Everything the network wrote: the broker's state folder and log, every
     * agent's state folder (its store, hooks.log) and log; only the agents'
     * own spool folders hold decrypted messages (and police-a's, its input). */
    const char *skip[sizeof cast / sizeof cast[0]];
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        skip[i] = net_agent_of(n, cast[i])->spool;
    size_t files = scan_for_child_details(n->dir, skip, sizeof skip / sizeof skip[0]);
    assert_true(files >= 2 + 2 * (sizeof cast / sizeof cast[0])); /* stores and logs at least */
    assert_int_equal(access(n->broker_log, R_OK), 0);
    char path[1024];
    snprintf(path, sizeof path, "%s/data.mdb", n->state_dir);
    assert_int_equal(access(path, R_OK), 0);
    json_decref(receipt);
}

static void test_queued_while_broker_down_then_sent(void **state)
{
    struct net *n = *state;
    start_all(n);
    net_broker_stop(n);
    /* The agent commits it to its outbox and says so; nothing is lost. */
    const char *args[] = {"refer", EXAMPLE, "--wait", "1", NULL};
    assert_int_equal(net_cli(n, "police-a", args, out, sizeof out, err, sizeof err), 3);
    json_t *queued = json_loads(out, 0, NULL);
    assert_non_null(queued);
    assert_string_equal(json_string_value(json_object_get(queued, "status")), "queued");
    const char *case_id = json_string_value(json_object_get(queued, "case_id"));
    net_agent_stop(n, "police-a"); /* and it survives the agent's restart */
    net_agent_start(n, "police-a", NULL);
    net_broker_start(n);
    json_t *got = await_inbox(n, "la-csc", case_id, "referral");
    assert_same_referral(json_object_get(got, "payload"));
    const char *status[] = {"status", "--json", NULL};
    json_t *st = NULL;
    for (int i = 0; i < 100; i++) { /* the receipt reaches police-a just after delivery starts */
        assert_int_equal(net_cli(n, "police-a", status, out, sizeof out, err, sizeof err), 0);
        json_decref(st);
        st = json_loads(out, 0, NULL);
        if (json_integer_value(json_object_get(st, "outbox_depth")) == 0)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(json_integer_value(json_object_get(st, "outbox_depth")), 0);
    json_decref(st);
    json_decref(got);
    json_decref(queued);
}

static void test_directory_key_change_and_lower_serial(void **state)
{
    struct net *n = *state;
    char hook[1024], ran[1024], extra[1200], script[2048];
    snprintf(hook, sizeof hook, "%s/notice-hook.sh", n->dir);
    snprintf(ran, sizeof ran, "%s/notice-hook.out", n->dir);
    snprintf(script, sizeof script,
             "#!/bin/sh\n{ echo \"type=$CHILDFIRST_TYPE leaf=$CHILDFIRST_LEAF\"; cat; echo; } "
             ">> '%s'\n",
             ran);
    write_script(hook, script);
    snprintf(extra, sizeof extra, "on_notice = %s\n", hook);
    net_agent_setup(n, "la-csc", extra);
    for (size_t i = 0; i < sizeof cast / sizeof cast[0]; i++)
        if (strcmp(cast[i], "la-csc") != 0)
            net_agent_start(n, cast[i], NULL);
    net_agent_start(n, "la-csc", "after-notice-commit");
    json_t *receipt = refer(n, EXAMPLE, 0);
    const char *case_id = json_string_value(json_object_get(receipt, "case_id"));
    const char *message_id = json_string_value(json_object_get(receipt, "message_id"));
    json_decref(await_inbox(n, "la-csc", case_id, "referral"));
    char pattern[1024], path[1024];
    snprintf(pattern, sizeof pattern, "%s/inbox/_agent/*-notice.json",
             net_agent_of(n, "la-csc")->spool);
    assert_int_equal(net_count_glob(pattern), 0);
    /* The authority publishes new keys for the police force as serial 2. */
    net_agent_stop(n, "police-a");
    net_rekey(n, "police-a");
    net_sign_directory(n, 2);
    net_broker_stop(n);
    net_broker_start(n);
    /* The notice is kept with the directory, before its spool file is written:
     * la-csc stopped between the two loses nothing. */
    assert_int_equal(net_agent_wait_exit(n, "la-csc", WAIT_MS), 99);
    assert_int_equal(net_count_glob(pattern), 0);
    net_agent_start(n, "la-csc", NULL);
    assert_true(net_wait_glob(pattern, WAIT_MS, path, sizeof path));
    json_t *notice = load_json(path);
    assert_string_equal(json_string_value(json_object_get(notice, "type")), "notice");
    assert_string_equal(json_string_value(json_object_get(notice, "sender")), "agent");
    assert_string_equal(json_string_value(json_object_get(notice, "kind")), "key_changed");
    assert_string_equal(json_string_value(json_object_get(notice, "agency")), "police-a");
    assert_int_equal(json_integer_value(json_object_get(notice, "new_serial")), 2);
    assert_true(net_file_contains(net_agent_of(n, "la-csc")->log, "AGENCY-KEY-CHANGED"));
    /* on_notice runs for it, with its JSON... */
    assert_true(wait_in_file(ran, "type=key_changed leaf=\n", 1, WAIT_MS));
    assert_true(wait_in_file(ran, "\"police-a\"", 1, WAIT_MS));
    /* ...and `childfirst inbox` lists it, `childfirst show` opens it. */
    const char *inbox[] = {"inbox", "--json", NULL};
    assert_int_equal(net_cli(n, "la-csc", inbox, out, sizeof out, err, sizeof err), 0);
    json_t *list = json_loads(out, 0, NULL), *listed = NULL, *m;
    size_t i;
    json_array_foreach(list, i, m)
    {
        const char *kind = json_string_value(json_object_get(m, "kind"));
        if (kind && strcmp(kind, "key_changed") == 0)
            listed = m;
    }
    assert_non_null(listed);
    assert_string_equal(json_string_value(json_object_get(listed, "type")), "notice");
    assert_string_equal(json_string_value(json_object_get(listed, "message_id")),
                        json_string_value(json_object_get(notice, "message_id")));
    const char *show_notice[] = {"show", json_string_value(json_object_get(listed, "message_id")),
                                 "--json", NULL};
    assert_int_equal(net_cli(n, "la-csc", show_notice, out, sizeof out, err, sizeof err), 0);
    json_t *opened = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(opened, "agency")), "police-a");
    json_decref(opened);
    json_decref(list);
    assert_int_equal(net_count_glob(pattern), 1); /* raised once, not again on restart */
    json_decref(notice);
    /* What police-a sent before the rotation stays readable. */
    const char *show[] = {"show", message_id, "--json", NULL};
    assert_int_equal(net_cli(n, "la-csc", show, out, sizeof out, err, sizeof err), 0);
    json_t *shown = json_loads(out, 0, NULL);
    assert_same_referral(json_object_get(shown, "payload"));
    json_decref(shown);
    /* The police agent with its new key is admitted and sends again. */
    net_agent_start(n, "police-a", NULL);
    json_decref(receipt);
    receipt = refer(n, EXAMPLE, 0);
    json_decref(receipt);
    /* A directory with a lower serial than the log's is refused by the broker. */
    net_broker_stop(n);
    net_sign_directory(n, 1);
    assert_int_equal(net_broker_try_start(n), 1);
    assert_true(net_file_contains(n->broker_log, "is lower than 2"));
    net_sign_directory(n, 2);
    net_broker_start(n);
}

/* `childfirst status` right after a referral shows the broker's figures as
 * they are now, not as of the call before, and the checkpoint of the receipt. */
static void test_status_is_fresh_after_a_referral(void **state)
{
    struct net *n = *state;
    start_all(n);
    json_t *receipt = refer(n, EXAMPLE, 0);
    const char *note = json_string_value(json_object_get(receipt, "checkpoint"));
    char root[128] = "";
    const char *line3 = strchr(strchr(note, '\n') + 1, '\n') + 1;
    snprintf(root, sizeof root, "%.*s", (int)(strchr(line3, '\n') - line3), line3);
    const char *status[] = {"status", "--json", NULL};
    assert_int_equal(net_cli(n, "police-a", status, out, sizeof out, err, sizeof err), 0);
    json_t *st = json_loads(out, 0, NULL);
    assert_non_null(st);
    assert_true(json_real_value(json_object_get(st, "frames_per_commit")) > 0);
    assert_true(json_integer_value(json_object_get(st, "broker_tree_size")) >=
                receipt_size(receipt));
    json_t *cp = json_object_get(st, "checkpoint");
    assert_string_equal(json_string_value(json_object_get(cp, "origin")), "test.childfirst/log");
    assert_int_equal(json_integer_value(json_object_get(cp, "size")), receipt_size(receipt));
    assert_string_equal(json_string_value(json_object_get(cp, "root")), root);
    assert_true(json_is_true(json_object_get(st, "connected")));
    assert_int_equal(json_integer_value(json_object_get(st, "directory_serial")), 1);
    /* The text form shows the same. */
    const char *text[] = {"status", NULL};
    assert_int_equal(net_cli(n, "police-a", text, out, sizeof out, err, sizeof err), 0);
    assert_null(strstr(out, "frames per commit:  0.00"));
    assert_non_null(strstr(out, "last checkpoint:    test.childfirst/log, size"));
    json_decref(st);
    json_decref(receipt);
}

/* A receipt for a message already answered (a resend crossed the first
 * answer) still carries the checkpoint the broker now counts as shown: unless
 * the agent keeps it, the next receipt's proof does not start at its kept size
 * and that referral stalls in the outbox. */
static void test_repeated_receipt_keeps_checkpoint(void **state)
{
    struct net *n = *state;
    for (size_t i = 1; i < sizeof cast / sizeof cast[0]; i++)
        net_agent_start(n, cast[i], NULL);
    net_agent_start(n, "police-a", "resend-answered");
    const char *log = net_agent_of(n, "police-a")->log;
    json_t *first = refer(n, EXAMPLE, 0);
    long long first_size = receipt_size(first);
    assert_true(first_size > 0);
    /* The log grows as the recipients acknowledge... */
    char line[256];
    snprintf(line, sizeof line, "MESSAGE-DELIVERED about=%lld recipient=la-csc",
             (long long)json_integer_value(json_object_get(first, "leaf_index")));
    assert_true(wait_in_file(n->broker_log, line, 1, WAIT_MS));
    /* ...and a resend of the answered referral brings a receipt showing the larger tree. */
    long long repeated = -1;
    for (int i = 0; i < WAIT_MS / 20 && repeated <= first_size; i++) {
        repeated = last_logged(log, "RECEIPT-REPEATED", " size=");
        usleep(20 * 1000);
    }
    if (repeated <= first_size)
        fail_msg("no repeated receipt showing more than %lld leaves was kept", first_size);
    /* The next referral gets its receipt at once, with no resynchronising. */
    assert_int_equal(refer_wait(n, EXAMPLE, "5"), 0);
    json_t *second = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(second, "status")), "accepted");
    assert_true(receipt_size(second) > repeated);
    assert_int_equal(count_in_file(log, "RESYNC"), 0);
    assert_int_equal(count_in_file(log, "SPLIT-VIEW"), 0);
    json_decref(second);
    json_decref(first);
}

/* When a receipt's consistency proof does not start at the kept size (here
 * another connection said Hello as police-a, so the broker showed it, not the
 * agent, the checkpoints), the agent says Hello again and the referral still
 * gets its receipt. */
static void test_stale_receipt_resynchronises(void **state)
{
    struct net *n = *state;
    start_all(n);
    const char *log = net_agent_of(n, "police-a")->log;
    json_decref(refer(n, EXAMPLE, 0));
    size_t welcomes = count_in_file(log, "BROKER-WELCOME");
    void *other = net_connect(n, net_agency(n, "police-a")->keys);
    struct cf_frame w;
    net_hello(other, 0, &w);
    cf_wire_frame_fini(&w);
    assert_int_equal(refer_wait(n, EXAMPLE, "10"), 0);
    json_t *receipt = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(receipt, "status")), "accepted");
    assert_true(count_in_file(log, "RECEIPT-RESYNC") >= 1);
    assert_true(count_in_file(log, "BROKER-WELCOME") > welcomes);
    assert_int_equal(count_in_file(log, "SPLIT-VIEW"), 0);
    json_decref(receipt);
}

/* A repeat is acknowledged only if it is the message kept at that leaf: the
 * leaf index alone proves nothing. Here la-csc's store holds another message
 * at the leaf the broker offers again. */
static void test_repeat_of_another_message_is_split_view(void **state)
{
    struct net *n = *state;
    start_all(n);
    const char *log = net_agent_of(n, "la-csc")->log;
    json_t *first = refer(n, EXAMPLE, 0);
    long long leaf1 = json_integer_value(json_object_get(first, "leaf_index"));
    char line[256];
    snprintf(line, sizeof line, "MESSAGE-DELIVERED about=%lld recipient=la-csc", leaf1);
    assert_true(wait_in_file(n->broker_log, line, 1, WAIT_MS));
    net_agent_stop(n, "la-csc");
    net_agent_start(n, "la-csc", "after-inbox-commit");
    json_t *second = refer(n, EXAMPLE, 0);
    long long leaf2 = json_integer_value(json_object_get(second, "leaf_index"));
    assert_int_equal(net_agent_wait_exit(n, "la-csc", WAIT_MS), 99);
    net_agent_inbox_copy(n, "la-csc", (uint64_t)leaf1, (uint64_t)leaf2);
    net_agent_start(n, "la-csc", NULL);
    /* The broker offers leaf2 again; the agent finds another message kept there. */
    char detail[128];
    snprintf(detail, sizeof detail, "leaf %lld was kept as message", leaf2);
    assert_true(wait_in_file(log, detail, 1, WAIT_MS));
    assert_true(count_in_file(log, "SPLIT-VIEW") >= 1);
    assert_int_equal(count_in_file(log, "DELIVERY-REPEATED"), 0);
    snprintf(line, sizeof line, "MESSAGE-DELIVERED about=%lld recipient=la-csc", leaf2);
    assert_int_equal(count_in_file(n->broker_log, line), 0);
    /* And nothing further is taken from that connection. */
    const char *status[] = {"status", "--json", NULL};
    assert_int_equal(net_cli(n, "la-csc", status, out, sizeof out, err, sizeof err), 0);
    json_t *st = json_loads(out, 0, NULL);
    assert_true(json_is_false(json_object_get(st, "connected")));
    json_decref(st);
    json_decref(second);
    json_decref(first);
}

/* "Agents refuse a lower serial than the one they have seen", even when the
 * bundle they kept no longer verifies at start-up: the floor is the stored
 * serial. Here a broker started on a fresh state folder serves serial 1 to an
 * agent that saw serial 2. */
static void test_agent_refuses_an_older_directory(void **state)
{
    struct net *n = *state;
    struct net_agent *g = net_agent_of(n, "la-csc");
    net_broker_stop(n);
    net_sign_directory(n, 2);
    net_broker_start(n);
    net_agent_start(n, "la-csc", NULL);
    assert_true(wait_in_file(g->log, "DIRECTORY-LOADED serial=2", 1, WAIT_MS));
    net_agent_stop(n, "la-csc");
    /* The kept bundle is damaged: at the next start it fails its signature. */
    char path[1024], old[1024];
    static const char entry[] = "name = Test agency la-csc";
    snprintf(path, sizeof path, "%s/data.mdb", g->state);
    assert_true(net_file_damage(path, entry, strlen(entry), 7) > 0);
    /* A broker on a fresh state folder, with the older directory. */
    net_broker_stop(n);
    snprintf(old, sizeof old, "%s.serial-2", n->state_dir);
    assert_int_equal(rename(n->state_dir, old), 0);
    net_sign_directory(n, 1);
    net_broker_start(n);
    net_agent_start(n, "la-csc", NULL);
    assert_true(wait_in_file(g->log, "DIRECTORY-KEPT-INVALID serial_floor=2", 1, WAIT_MS));
    assert_true(wait_in_file(g->log, "DIRECTORY-REFUSED code=CF_ESERIAL", 1, WAIT_MS));
    assert_true(count_in_file(g->log, "is lower than 2") >= 1);
    assert_int_equal(count_in_file(g->log, "DIRECTORY-LOADED serial=1"), 0);
    const char *status[] = {"status", "--json", NULL};
    assert_int_equal(net_cli(n, "la-csc", status, out, sizeof out, err, sizeof err), 0);
    json_t *st = json_loads(out, 0, NULL);
    assert_int_not_equal(json_integer_value(json_object_get(st, "directory_serial")), 1);
    json_decref(st);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_police_to_la_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_through_the_spool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejection_lands_in_spool_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_rejection_lands_in_spool_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spool_files_that_cannot_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recipient_offline_then_started, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_killed_recipient_offline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_killed_between_commit_and_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_killed_between_commit_and_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_fails_twice_then_succeeds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_runs_without_its_spool_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_is_time_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duty_team_notice_has_no_child_details, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_child_details_outside_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_while_broker_down_then_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_key_change_and_lower_serial, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_status_is_fresh_after_a_referral, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_receipt_keeps_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_receipt_resynchronises, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_of_another_message_is_split_view, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_agent_refuses_an_older_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
