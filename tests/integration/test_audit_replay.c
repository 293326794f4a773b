/* `childfirst audit replay`, `export` and `verify` over a log the real broker
 * wrote: a scripted set of cases (a full conference with a rejected proposal,
 * RG and CG, reconsideration and closure; an inquorate meeting; a transfer
 * to Scotland; a breached deadline and undelivered messages; a new directory
 * mid-log), then, with the broker stopped, the key property of DESIGN.md
 * section 8: every case the log replays to equals the broker's own `case`
 * record, field by field. Then retention (envelopes deleted), the export's
 * byte-for-byte determinism and its checks, and a broker that signs a message
 * the rules refuse. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "childfirst/checkpoint.h"
#include "childfirst/file.h"
#include "childfirst/merkle.h"
#include "childfirst/store.h"
#include "childfirst/wire.h"
#include "scenario.h"

#define DAY_MS 86400000ull
#define CALENDARS CF_SOURCE_DIR "/deploy/calendars"

static char out[1 << 22], err[1 << 16];

struct fx {
    struct scn t;
    char key[CF_B64_KEY_LEN + 1];
    int copies;
    size_t full, inquorate, moved, late; /* the cases */
    uint64_t referral_leaf, determination_leaf;
};

/* ---- Running the auditor ---- */

/* `childfirst audit ARGS...` (NULL-terminated); stdout in out, stderr in err. */
static int audit(const char *first, ...)
{
    const char *argv[24] = {CF_BIN_DIR "/childfirst", "audit", first};
    size_t n = 3;
    va_list ap;
    va_start(ap, first);
    for (const char *a; n < 23 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    int status = net_run_split(argv, out, sizeof out, err, sizeof err);
    if (strstr(err, "Sanitizer") || strstr(err, "runtime error:"))
        fail_msg("childfirst reported a sanitizer error:\n%s", err);
    return status;
}

static json_t *replay_json(struct fx *f, const char *dir)
{
    int status =
        audit("replay", dir, "--json", "--calendars", CALENDARS, "--broker-key", f->key, NULL);
    if (status != 0)
        fail_msg("audit replay exited %d:\n%s", status, err);
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    if (!doc)
        fail_msg("audit replay --json is not JSON: %s", e.text);
    return doc;
}

/* A copy of the broker's state folder, as a hot backup would be. */
static void copy_state(struct fx *f, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s/copy-%d", f->t.n.dir, ++f->copies);
    net_copy_dir(f->t.n.state_dir, dir);
}

/* ---- The broker's own case table ---- */

static size_t broker_cases(const char *dir, struct cf_case **cases)
{
    struct cf_store s;
    struct cf_error e = {0};
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    if (cf_store_open(&s, dir, 0, true, &e) != 0)
        fail_msg("%s", e.text);
    assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, s.cases, &cur), 0);
    size_t n = 0;
    *cases = NULL;
    size_t ids = 0;
    for (MDB_cursor_op op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
        /* A case is kept under its opening leaf; its id key points there. */
        if (k.mv_size != 8) {
            assert_int_equal(v.mv_size, 8);
            ids++;
            continue;
        }
        *cases = realloc(*cases, (n + 1) * sizeof **cases);
        assert_non_null(*cases);
        if (cf_wire_case_decode(v.mv_data, v.mv_size, &(*cases)[n], &e) != 0)
            fail_msg("the broker's record of case %.*s does not decode: %s", (int)k.mv_size,
                     (const char *)k.mv_data, e.text);
        n++;
    }
    assert_int_equal(ids, n);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    cf_store_close(&s);
    return n;
}

#define SAME(field)                                                                                \
    do {                                                                                           \
        if ((want)->field != (got)->field)                                                         \
            fail_msg("case %s: %s is %llu in the broker's table but %llu replayed",                \
                     (want)->case_id, #field, (unsigned long long)(want)->field,                   \
                     (unsigned long long)(got)->field);                                            \
    } while (0)
#define SAME_TEXT(field)                                                                           \
    do {                                                                                           \
        if (strcmp((want)->field, (got)->field) != 0)                                              \
            fail_msg("case %s: %s is '%s' in the broker's table but '%s' replayed",                \
                     (want)->case_id, #field, (want)->field, (got)->field);                        \
    } while (0)

/* Every field of the broker's record against the replayed one, by name. */
static void assert_case_equal(const struct cf_case *want, const struct cf_case *got)
{
    SAME_TEXT(case_id);
    SAME(state);
    SAME_TEXT(la_code);
    SAME_TEXT(jurisdiction);
    SAME_TEXT(referrer);
    SAME_TEXT(owner);
    SAME(n_guardians);
    for (size_t i = 0; i < want->n_guardians; i++)
        SAME_TEXT(guardians[i]);
    SAME_TEXT(lead_staff_ref);
    SAME_TEXT(chair_staff_ref);
    SAME(n_members);
    for (size_t i = 0; i < want->n_members; i++) {
        SAME_TEXT(members[i].agency);
        SAME(members[i].standing);
    }
    SAME(proposal_leaf);
    SAME(proposal_decision);
    if (memcmp(want->proposal_id, got->proposal_id, sizeof want->proposal_id) != 0)
        fail_msg("case %s: proposal_id differs", want->case_id);
    SAME(before_proposal);
    SAME(n_voters);
    for (size_t i = 0; i < want->n_voters; i++)
        SAME_TEXT(voters[i]);
    SAME(n_votes);
    for (size_t i = 0; i < want->n_votes; i++) {
        SAME_TEXT(votes[i].voter);
        SAME(votes[i].approve);
        SAME(votes[i].leaf);
        if (memcmp(want->votes[i].signature, got->votes[i].signature, 64) != 0)
            fail_msg("case %s: votes[%zu].signature differs", want->case_id, i);
    }
    for (int t = 0; t < CF_TYPE_COUNT; t++) {
        SAME(first_at[t]);
        SAME(last_at[t]);
    }
    SAME(inquorate_at);
    SAME(transfer_at);
    SAME(rg_at);
    SAME(cg_at);
    SAME(n_deadlines);
    for (size_t i = 0; i < want->n_deadlines; i++) {
        SAME(deadlines[i].kind);
        SAME(deadlines[i].due);
        SAME(deadlines[i].near);
        SAME(deadlines[i].near_sent);
        SAME(deadlines[i].breach_sent);
    }
    SAME(opened_leaf);
    SAME(updated_leaf);
    SAME(urgency);
    SAME(immediate_risk);
}

/* The replay of `dir` holds exactly the broker's cases, each equal to its
 * record, and its "record" bytes are the broker's bytes. */
static void assert_replay_equals_broker(struct fx *f, const char *dir, size_t expect_cases)
{
    json_t *doc = replay_json(f, dir);
    struct cf_case *want;
    size_t n = broker_cases(dir, &want);
    assert_int_equal(n, expect_cases);
    json_t *cases = json_object_get(doc, "cases");
    assert_int_equal(json_array_size(cases), n);
    assert_int_equal(json_array_size(json_object_get(doc, "findings")), 0);
    struct cf_case *got = malloc(sizeof *got);
    assert_non_null(got);
    for (size_t i = 0; i < n; i++) {
        json_t *match = NULL, *c;
        size_t k;
        json_array_foreach(cases, k, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "case_id")), want[i].case_id) == 0)
                match = c;
        }
        if (!match)
            fail_msg("the broker has case %s; the replay does not", want[i].case_id);
        const char *b64 = json_string_value(json_object_get(match, "record"));
        uint8_t bytes[1 << 15];
        size_t len;
        assert_int_equal(sodium_base642bin(bytes, sizeof bytes, b64, strlen(b64), NULL, &len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        struct cf_error e = {0};
        if (cf_wire_case_decode(bytes, len, got, &e) != 0)
            fail_msg("the replayed record of %s does not decode: %s", want[i].case_id, e.text);
        assert_case_equal(&want[i], got);
        /* And the bytes themselves: what --rebuild would write. */
        uint8_t *again;
        size_t again_len;
        assert_int_equal(cf_wire_case_encode(&want[i], &again, &again_len), 0);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, bytes, len);
        free(again);
    }
    free(got);
    free(want);
    json_decref(doc);
}

/* ---- The scenario, once for every test ---- */

static const char *const online[] = {"police-a", "la-csc",         "la-duty",    "guardian-x",
                                     "health-x", "home-office-ew", "la-s-csc",   "la-s-duty",
                                     "police-s", "health-s",       "guardian-s", "home-office-sc"};

static int group_setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    *state = f; /* so a failure below still reaches the teardown, which stops the broker */
    struct scn *t = &f->t;
    scn_create(t, false, 0);
    cf_keys_b64_encode(t->n.broker->sign_pk, f->key);
    for (size_t i = 0; i < sizeof online / sizeof online[0]; i++)
        scn_online(t, online[i]);

    /* A whole conference: a proposal a voter rejects, another every voter
     * approves (RG), then CG, a reconsideration heard at a new conference,
     * and closure. */
    f->full = scn_refer(t, "police-a", "E09000033", CF_URGENCY_IMMEDIATE, &f->referral_leaf);
    scn_ack(t, f->full, "sw-0001");
    scn_strategy(t, f->full);
    scn_convene(t, f->full, "chair-0042");
    scn_contribute(t, f->full, "health-x");
    scn_propose(t, f->full, CF_DECISION_RG);
    scn_vote(t, f->full, "la-csc", true, NULL);
    scn_vote(t, f->full, "police-a", false, NULL);
    scn_expect_notice(t, "la-duty", "determination_rejected", f->full);
    scn_propose(t, f->full, CF_DECISION_RG);
    f->determination_leaf = scn_all_approve(t, f->full);
    scn_propose(t, f->full, CF_DECISION_CG);
    scn_all_approve(t, f->full);

    /* An inquorate meeting: noticed, the reconvene deadline opens. */
    f->inquorate = scn_refer(t, "police-a", "E09000033", CF_URGENCY_URGENT, NULL);
    scn_ack(t, f->inquorate, "sw-0002");
    scn_strategy(t, f->inquorate);
    scn_convene(t, f->inquorate, "chair-0042");
    scn_propose_inquorate(t, f->inquorate);
    scn_expect_notice(t, "la-duty", "inquorate", f->inquorate);

    /* A new directory mid-log: a config leaf, and the rules from it on. */
    net_add_agency(&t->n, "police-b", "first_responder police", "E09000033", NULL);
    scn_restart(t, 2);
    for (size_t i = 0; i < sizeof online / sizeof online[0]; i++)
        scn_online(t, online[i]);

    /* The reconsideration and closure of the first, under the new directory. */
    struct cf_header h;
    scn_header(t, f->full, CF_TYPE_RECONSIDERATION_REQUEST, "police-a", &h);
    scn_route(t, f->full, &h);
    scn_accepted(t, f->full, &h);
    scn_convene(t, f->full, "chair-0043");
    scn_close(t, f->full);

    /* A transfer to Scotland, where the new owner convenes. */
    f->moved = scn_refer(t, "police-b", "E09000033", CF_URGENCY_ROUTINE, NULL);
    scn_ack(t, f->moved, "sw-0003");
    scn_strategy(t, f->moved);
    scn_transfer(t, f->moved, "S12000036");
    scn_convene(t, f->moved, "chair-0100");

    /* A referral nobody acknowledges in time, with the guardian offline:
     * deadline_near and deadline_breached, undelivered after 15 minutes and
     * a non-delivery report after 5 days; then the acknowledgement, late. */
    scn_offline(t, "guardian-x");
    f->late = scn_refer(t, "police-a", "E09000033", CF_URGENCY_IMMEDIATE, NULL);
    scn_clock_to(t, net_now() + 20 * 60000);
    scn_expect_notice(t, "police-a", "undelivered", f->late);
    scn_clock_to(t, net_now() + 6 * DAY_MS);
    scn_expect_notice(t, "la-duty", "deadline_breached", f->late);
    scn_expect_notice(t, "police-a", "non_delivery", f->late);
    scn_ack(t, f->late, "sw-0004");
    scn_online(t, "guardian-x");

    net_broker_stop(&t->n);
    *state = f;
    return 0;
}

static int group_teardown(void **state)
{
    struct fx *f = *state;
    if (f && f->t.n.dir[0])
        scn_destroy(&f->t);
    free(f);
    return 0;
}

/* ---- Tests ---- */

/* The key property: the log alone gives every case the broker holds. */
static void test_replay_equals_the_broker(void **state)
{
    struct fx *f = *state;
    assert_replay_equals_broker(f, f->t.n.state_dir, 4);
}

/* What the replay shows of a case: state, owner, deadlines and timeline. */
static void test_replay_shows_each_case(void **state)
{
    struct fx *f = *state;
    const char *full = f->t.cases[f->full].c.case_id;
    int status = audit("replay", f->t.n.state_dir, "--case", full, "--calendars", CALENDARS,
                       "--broker-key", f->key, NULL);
    if (status != 0)
        fail_msg("exit %d\n%s", status, err);
    char want[128];
    snprintf(want, sizeof want, "case %s\n  state: closed\n  owner: la-csc\n", full);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "  jurisdiction: england-wales\n  la: E09000033\n"));
    assert_non_null(strstr(out, "  deadlines: none open\n"));
    assert_non_null(strstr(out, "determination_rejected"));
    assert_non_null(strstr(out, "decision cg"));
    assert_non_null(strstr(out, " reject"));
    assert_null(strstr(out, f->t.cases[f->late].c.case_id)); /* only the case asked for */

    /* The transferred case: Scotland, its new owner and Scotland's deadline. */
    json_t *doc = replay_json(f, f->t.n.state_dir);
    json_t *c;
    size_t i;
    bool seen_moved = false, seen_late = false;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        const char *id = json_string_value(json_object_get(c, "case_id"));
        if (strcmp(id, f->t.cases[f->moved].c.case_id) == 0) {
            seen_moved = true;
            assert_string_equal(json_string_value(json_object_get(c, "jurisdiction")), "scotland");
            assert_string_equal(json_string_value(json_object_get(c, "owner")), "la-s-csc");
            assert_string_equal(json_string_value(json_object_get(c, "state")), "convened");
        }
        if (strcmp(id, f->t.cases[f->late].c.case_id) == 0) {
            seen_late = true;
            /* Its timeline holds the broker's notices about it, each once. */
            size_t kinds[4] = {0}, k;
            json_t *e;
            json_array_foreach(json_object_get(c, "timeline"), k, e)
            {
                const char *kind = json_string_value(json_object_get(e, "kind")),
                           *event = json_string_value(json_object_get(e, "event"));
                if (strcmp(event, "notice") != 0)
                    continue; /* a delivered entry names the kind of what it answers */
                kinds[0] += kind && strcmp(kind, "deadline_near") == 0;
                kinds[1] += kind && strcmp(kind, "deadline_breached") == 0;
                kinds[2] += kind && strcmp(kind, "undelivered") == 0;
                kinds[3] += kind && strcmp(kind, "non_delivery") == 0;
            }
            assert_int_equal(kinds[0], 1);
            assert_int_equal(kinds[1], 1);
            assert_true(kinds[2] >= 1);
            assert_true(kinds[3] >= 1);
        }
    }
    assert_true(seen_moved && seen_late);
    json_decref(doc);

    assert_int_equal(audit("replay", f->t.n.state_dir, "--case", "cf-aaaaaaaaaaaaaaaaaaaaaaaaaa",
                           "--calendars", CALENDARS, "--broker-key", f->key, NULL),
                     1);
    assert_non_null(strstr(err, "no case"));
}

/* The envelopes a (possibly running) broker's log holds. */
static size_t envelopes_in(const char *dir)
{
    struct cf_store s;
    struct cf_error e = {0};
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(cf_store_open(&s, dir, 0, true, &e), 0);
    assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, s.envelope, &st), 0);
    mdb_txn_abort(txn);
    cf_store_close(&s);
    return st.ms_entries;
}

/* A copy of the log after real retention: the broker itself runs on the copy
 * with retention_days = 1, two days on, until every envelope is purged in its
 * logged batches. Returns how many it purged. */
static size_t retained_copy(struct fx *f, char *dir, size_t cap)
{
    struct net *n = &f->t.n;
    copy_state(f, dir, cap);
    size_t before = envelopes_in(dir);
    assert_true(before > 0);
    struct net saved;
    memcpy(&saved, n, sizeof saved);
    char cmd[4096];
    snprintf(n->broker_ini, sizeof n->broker_ini, "%s.ini", dir);
    snprintf(n->broker_log, sizeof n->broker_log, "%s.log", dir);
    snprintf(n->state_dir, sizeof n->state_dir, "%s", dir);
    snprintf(n->endpoint_file, sizeof n->endpoint_file, "%s/broker.endpoint", dir);
    n->endpoint[0] = 0;
    snprintf(cmd, sizeof cmd,
             "sed -e 's|^state_dir = .*|state_dir = %s|' -e 's|^endpoint = .*|endpoint = "
             "tcp://127.0.0.1:*|' '%s' > '%s' && echo 'retention_days = 1' >> '%s'",
             dir, saved.broker_ini, n->broker_ini, n->broker_ini);
    assert_int_equal(system(cmd), 0);
    net_clock_advance(n, 2 * DAY_MS);
    net_broker_start(n);
    for (int waited = 0; envelopes_in(dir) > 0; waited += 50) {
        if (waited > 30000)
            fail_msg("retention left %zu envelopes within 30 s", envelopes_in(dir));
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    net_broker_stop(n);
    assert_true(net_file_contains(n->broker_log, "ENVELOPES-PURGED"));
    memcpy(n, &saved, sizeof saved);
    return before;
}

/* Retention removes envelopes: verify passes and counts them redacted, each
 * accounted for by a purged leaf, and replay still reaches the broker's
 * cases, marking those leaves redacted. */
static void test_retention_redacts_but_everything_verifies(void **state)
{
    struct fx *f = *state;
    char dir[700], want[96];
    size_t purged = retained_copy(f, dir, sizeof dir);
    assert_int_equal(net_audit_verify(&f->t.n, dir, out, sizeof out, err, sizeof err), 0);
    snprintf(want, sizeof want, "redacted: %zu envelopes removed by retention\n", purged);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "verified\n"));
    assert_replay_equals_broker(f, dir, 4);
    json_t *doc = replay_json(f, dir);
    assert_int_equal(json_integer_value(json_object_get(doc, "redacted")), (json_int_t)purged);
    json_t *c, *e;
    size_t i, k, redacted = 0;
    json_array_foreach(json_object_get(doc, "cases"), i, c)
    {
        json_array_foreach(json_object_get(c, "timeline"), k, e)
        {
            uint64_t index = (uint64_t)json_integer_value(json_object_get(e, "index"));
            bool r = json_is_true(json_object_get(e, "redacted"));
            if (index == f->referral_leaf || index == f->determination_leaf)
                assert_true(r);
            redacted += r;
        }
    }
    assert_true(redacted >= 2);
    json_decref(doc);
    /* The text shows it too. */
    assert_int_equal(audit("replay", dir, "--calendars", CALENDARS, "--broker-key", f->key, NULL),
                     0);
    assert_non_null(strstr(out, "[redacted]"));
}

static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *buf;
    struct cf_error e = {0};
    if (cf_file_read(path, 1u << 30, &buf, len, &e) != 0)
        fail_msg("%s", e.text);
    return buf;
}

static void write_all(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* `audit export DIR` into path. */
static void export_to(const char *dir, const char *path)
{
    if (audit("export", dir, NULL) != 0)
        fail_msg("audit export: %s", err);
    write_all(path, out, strlen(out));
}

static int verify_jsonl(struct fx *f, const char *path)
{
    return audit("verify", "--jsonl", path, "--broker-key", f->key, NULL);
}

/* The start of line `line` (1-based) of text. */
static char *line_at(char *text, size_t line)
{
    for (size_t i = 1; i < line && text; i++) {
        text = strchr(text, '\n');
        text = text ? text + 1 : NULL;
    }
    if (!text)
        fail_msg("no line %zu", line);
    return text;
}

/* Flips the low bit of the byte `offset` bytes after `needle` in line
 * `line` of the export, writes it to `path`, and expects verify --jsonl to
 * fail naming `where`. */
static void flipped(struct fx *f, const uint8_t *export, size_t len, size_t line,
                    const char *needle, size_t offset, const char *path, const char *where)
{
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, export, len);
    copy[len] = 0;
    char *start = line_at(copy, line), *end = strchr(start, '\n');
    char *at = memmem(start, (size_t)(end - start), needle, strlen(needle));
    if (!at)
        fail_msg("line %zu has no %s", line, needle);
    at[strlen(needle) + offset] ^= 0x01;
    write_all(path, copy, len);
    free(copy);
    int status = verify_jsonl(f, path);
    if (status != 1 || !strstr(err, where))
        fail_msg("expected exit 1 naming '%s'; got %d:\n%s", where, status, err);
}

/* Two exports of one log are the same bytes; the export verifies without
 * LMDB; a flipped byte is named by its index. */
static void test_export_is_deterministic_and_verifies(void **state)
{
    struct fx *f = *state;
    char a[700], b[700], bad[700], dir[700];
    snprintf(a, sizeof a, "%s/a.jsonl", f->t.n.dir);
    snprintf(b, sizeof b, "%s/b.jsonl", f->t.n.dir);
    snprintf(bad, sizeof bad, "%s/bad.jsonl", f->t.n.dir);
    export_to(f->t.n.state_dir, a);
    export_to(f->t.n.state_dir, b);
    size_t la, lb;
    uint8_t *ea = slurp(a, &la), *eb = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ea, eb, la);
    free(eb);

    /* The export says what verify says of the store. */
    assert_int_equal(net_audit_verify(&f->t.n, f->t.n.state_dir, out, sizeof out, err, sizeof err),
                     0);
    char *store_says = strdup(out);
    if (verify_jsonl(f, a) != 0)
        fail_msg("verify --jsonl: %s", err);
    assert_string_equal(out, store_says);
    free(store_says);

    /* Every line is one object; the first names the format; headers and
     * notices are decoded. */
    assert_int_equal(memcmp(ea, "{\"checkpoints\":", 15), 0);
    assert_non_null(strstr((const char *)ea, "\"format\":\"childfirst-audit-export/1\""));
    assert_non_null(strstr((const char *)ea, "\"header_fields\":{"));
    assert_non_null(strstr((const char *)ea, "\"type\":\"determination_proposed\""));
    assert_non_null(strstr((const char *)ea, "\"kind\":\"deadline_breached\""));
    assert_non_null(strstr((const char *)ea, "\"event\":\"determination\""));
    assert_non_null(strstr((const char *)ea, "\"entry\":\"checkpoint\""));

    /* Line 2 + n is leaf n. A flip in the record's bytes, in a decoded
     * field, in the leaf hash, in the index, and in a checkpoint's note. */
    size_t line = (size_t)f->referral_leaf + 2;
    char where[64];
    snprintf(where, sizeof where, "FAILED at index %llu: ", (unsigned long long)f->referral_leaf);
    flipped(f, ea, la, line, "\"record\":\"", 20, bad, where);
    flipped(f, ea, la, line, "\"sender\":\"", 2, bad, where);
    flipped(f, ea, la, line, "\"leaf_hash\":\"", 5, bad, where);
    flipped(f, ea, la, line, "\"index\":", 0, bad, where);
    /* The last line is the newest checkpoint. */
    size_t lines = 0;
    for (size_t i = 0; i < la; i++)
        lines += ea[i] == '\n';
    flipped(f, ea, la, lines, "\"note\":\"", 3, bad, "FAILED at checkpoint of size ");
    /* Cut short: a line missing at the end. */
    char *copy = malloc(la);
    assert_non_null(copy);
    memcpy(copy, ea, la);
    char *last = line_at(copy, lines);
    write_all(bad, copy, (size_t)(last - copy));
    free(copy);
    assert_int_equal(verify_jsonl(f, bad), 1);
    assert_non_null(strstr(err, "cut short"));

    /* Retention shows in the export, which still verifies. */
    size_t purged = retained_copy(f, dir, sizeof dir);
    export_to(dir, b);
    assert_int_equal(verify_jsonl(f, b), 0);
    char want[96];
    snprintf(want, sizeof want, "redacted: %zu envelopes removed by retention\n", purged);
    assert_non_null(strstr(out, want));
    eb = slurp(b, &lb);
    assert_non_null(
        strstr(line_at((char *)eb, (size_t)f->referral_leaf + 2), "\"envelope\":\"redacted\""));
    free(eb);
    free(ea);
}

/* A broker that signs a message the rules refuse: the tree and checkpoints
 * verify (the broker signed them), but replay names the leaf. */
static void test_replay_finds_what_the_rules_refuse(void **state)
{
    struct fx *f = *state;
    struct scn *t = &f->t;
    char dir[700];
    copy_state(f, dir, sizeof dir);
    /* A vote on the inquorate case, which has no proposal open. */
    size_t k = f->inquorate;
    struct cf_header h;
    scn_header(t, k, CF_TYPE_VOTE, "health-x", &h);
    h.decision = CF_DECISION_RG;
    h.has_vote = true;
    h.vote.approve = true;
    h.n_recipients = 1;
    snprintf(h.recipients[0], sizeof(cf_id), "la-csc");
    static const char payload[] = "a forged vote";
    uint8_t *env;
    size_t env_len;
    net_seal(&t->n, &h, (const uint8_t *)payload, sizeof payload, &env, &env_len);
    struct cf_envelope e;
    struct cf_header eh;
    assert_int_equal(cf_envelope_decode(env, env_len, &e, &eh, NULL), 0);

    struct cf_store s;
    struct cf_error er = {0};
    MDB_txn *txn;
    assert_int_equal(cf_store_open(&s, dir, 0, false, &er), 0);
    assert_int_equal(mdb_txn_begin(s.env, NULL, 0, &txn), 0);
    uint64_t size;
    assert_int_equal(cf_store_size(&s, txn, &size), 0);
    struct cf_record rec = {.index = size, .time = net_now()};
    cf_record_of_envelope(&rec, &e);
    snprintf(rec.actor, sizeof rec.actor, "health-x");
    uint8_t *bytes, key[8];
    size_t len;
    assert_int_equal(cf_wire_record_encode(&rec, &bytes, &len), 0);
    assert_int_equal(cf_store_append(&s, txn, size, bytes, len), 0);
    cf_store_put_u64(key, size);
    assert_int_equal(cf_store_put(&s, txn, s.envelope, key, 8, env, env_len), 0);
    struct cf_merkle_store ms;
    struct cf_store_tree tree;
    uint8_t root[CF_MERKLE_HASH];
    cf_store_tree_init(&ms, &tree, &s, txn);
    assert_int_equal(cf_merkle_root(&ms, size + 1, root), 0);
    char *note;
    size_t note_len;
    assert_int_equal(
        cf_checkpoint_sign("test.childfirst/log", size + 1, root, t->n.broker, &note, &note_len),
        0);
    cf_store_put_u64(key, size + 1);
    assert_int_equal(cf_store_put(&s, txn, s.checkpoint, key, 8, note, note_len), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    cf_store_close(&s);
    free(note), free(bytes), free(env);
    cf_envelope_fini(&e);

    assert_int_equal(net_audit_verify(&t->n, dir, out, sizeof out, err, sizeof err), 0);
    int status = audit("replay", dir, "--calendars", CALENDARS, "--broker-key", f->key, NULL);
    char want[160];
    snprintf(want, sizeof want, "FINDING at index %llu, case %s: ", (unsigned long long)size,
             h.case_id);
    if (status != 1 || !strstr(err, want) || !strstr(err, "CF_ESTATE"))
        fail_msg("expected exit 1 and '%s ... CF_ESTATE'; got %d:\n%s", want, status, err);
}

/* A log that does not verify is not replayed: the damage is named. */
static void test_replay_refuses_a_damaged_log(void **state)
{
    struct fx *f = *state;
    char dir[700], data[800];
    copy_state(f, dir, sizeof dir);
    uint8_t *rec;
    size_t len;
    net_log_record(&f->t.n, f->referral_leaf, &rec, &len); /* the same bytes as the copy's */
    snprintf(data, sizeof data, "%s/data.mdb", dir);
    assert_true(net_file_damage(data, rec, len, len / 2) > 0);
    free(rec);
    int status = audit("replay", dir, "--calendars", CALENDARS, "--broker-key", f->key, NULL);
    char want[64];
    snprintf(want, sizeof want, "FAILED at index %llu: ", (unsigned long long)f->referral_leaf);
    if (status != 1 || !strstr(err, "does not verify") || !strstr(err, want))
        fail_msg("expected exit 1 and '%s'; got %d:\n%s", want, status, err);
    /* Without the calendars of the nations in force, no deadline can be known. */
    assert_int_equal(audit("replay", f->t.n.state_dir, "--calendars", "/nonexistent",
                           "--broker-key", f->key, NULL),
                     1);
    assert_non_null(strstr(err, "calendar"));
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_equals_the_broker),
        cmocka_unit_test(test_replay_shows_each_case),
        cmocka_unit_test(test_retention_redacts_but_everything_verifies),
        cmocka_unit_test(test_export_is_deterministic_and_verifies),
        cmocka_unit_test(test_replay_finds_what_the_rules_refuse),
        cmocka_unit_test(test_replay_refuses_a_damaged_log),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
