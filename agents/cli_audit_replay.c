/* childfirst audit replay: every case's state and timeline rebuilt from the
 * log alone, by the same case machine the broker runs (common/src/replay.c),
 * after the log has verified in the same read snapshot. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "childfirst/replay.h"
#include "agent_text.h"
#include "cli.h"
#include "cli_audit.h"

static const char help[] =
    "usage: childfirst audit replay DIR [--case ID] [--json] [--decrypt -c FILE]\n"
    "         [--calendars DIR | --broker-config broker.ini] [--authority-key B64]\n"
    "         (--broker-key BASE64 | --broker-key-file FILE)\n"
    "\n"
    "Verifies the log folder DIR as 'audit verify' does, then rebuilds every\n"
    "case from its leaves alone, with the case machine the broker runs: the\n"
    "directory in force at each index (its config leaves), each nation's\n"
    "calendar, and leaf times only. Prints each case's state, owner,\n"
    "jurisdiction, LA, open deadlines and timeline (index, time, event,\n"
    "type or kind, sender, recipients, decision); a leaf whose envelope\n"
    "retention removed is marked redacted. Each accepted message is also held\n"
    "against the rules in force (signature, role, case, recipients): one they\n"
    "refuse is a FINDING on stderr.\n"
    "\n"
    "  --case ID              only this case\n"
    "  --json                 one JSON document; each case's \"record\" is the\n"
    "                         CaseRecord (base64) the broker's case table holds\n"
    "  --calendars DIR        the bank-holiday calendars (default: broker.ini's\n"
    "                         calendars from --broker-config, else\n"
    "                         " CLI_AUDIT_CALENDARS ")\n"
    "  --authority-key B64    also check each config leaf's authority signature\n"
    "  --decrypt -c FILE      as the escrow auditor of FILE (its agent.ini and\n"
    "                         key): each message sealed to it, decrypted; the\n"
    "                         others say why not. Children's details: keep the\n"
    "                         output where the auditor keeps its own inbox\n"
    "\n"
    "Exit status: 0 replayed, no findings; 1 the log does not verify or replay,\n"
    "the case is unknown, or there are findings; 2 bad usage.\n";

static const char prog[] = "childfirst audit replay";

/* With --decrypt: the log and the escrow auditor's keys. */
struct reader {
    const struct cli_audit_log *log;
    const struct cf_keys *keys;
};

static const char *const read_names[] = {[CLI_AUDIT_OPENED] = "opened",
                                         [CLI_AUDIT_NOT_RECIPIENT] = "not sealed to this auditor",
                                         [CLI_AUDIT_REDACTED] = "redacted",
                                         [CLI_AUDIT_UNREADABLE] = "unreadable"};

/* An accepted message's content as the auditor reads it, or NULL (no
 * --decrypt, or not an accepted message). *why says what became of it. */
static json_t *content_of(const struct reader *rd, const struct cf_replay_entry *e,
                          enum cli_audit_read *why)
{
    json_t *doc = NULL;
    if (!rd->keys || e->event != CF_EVENT_ACCEPTED)
        return NULL;
    *why = cli_audit_read_leaf(rd->log, rd->keys, e->index, &doc);
    return doc;
}

/* ---- Text ---- */

static void ids_text(const cf_id *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? " " : "", ids[i]);
}

/* "referral", a notice's kind, or "" */
static const char *what_of(const struct cf_replay_entry *e)
{
    if (e->kind[0])
        return e->kind;
    return e->type ? cf_header_type_name(e->type) : "";
}

static void entry_text(const struct reader *rd, const struct cf_replay_entry *e)
{
    char t[AGENT_TEXT_TIME_MAX];
    agent_text_time(e->time, t);
    printf("    %6" PRIu64 "  %s  %-13s  %-24s  %s", e->index, t, cf_record_event_name(e->event),
           what_of(e), e->sender);
    if (e->n_recipients) {
        printf(" -> ");
        ids_text(e->recipients, e->n_recipients);
    }
    if (e->decision)
        printf("  decision %s", cf_header_decision_name(e->decision));
    if (e->type == CF_TYPE_VOTE && e->event == CF_EVENT_ACCEPTED)
        printf(" %s", e->approve ? "approve" : "reject");
    if (e->deadline[0]) {
        agent_text_time(e->due, t);
        printf("  %s due %s", e->deadline, t);
    }
    if (e->n_outstanding) {
        printf("  outstanding ");
        ids_text(e->outstanding, e->n_outstanding);
    }
    if (e->code[0])
        printf("  code %s", e->code);
    if (e->has_about && e->event != CF_EVENT_NOTICE)
        printf("  (leaf %" PRIu64 ")", e->about);
    else if (e->has_about)
        printf("  (about leaf %" PRIu64 ")", e->about);
    if (e->redacted)
        printf("  [redacted]");
    printf("\n");
    enum cli_audit_read why;
    json_t *doc = content_of(rd, e, &why);
    if (doc) {
        char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        printf("            content: %s\n", text ? text : "(out of memory)");
        free(text);
    } else if (rd->keys && e->event == CF_EVENT_ACCEPTED) {
        printf("            content: %s\n", read_names[why]);
    }
    json_decref(doc);
}

static void case_text(const struct reader *rd, const struct cf_replay_case *rc,
                      const struct cf_case *c)
{
    char t[AGENT_TEXT_TIME_MAX];
    printf("case %s\n", c->case_id);
    printf("  state: %s\n", cf_case_state_name(c->state));
    printf("  owner: %s\n", c->owner[0] ? c->owner : "(none)");
    printf("  jurisdiction: %s\n", c->jurisdiction);
    printf("  la: %s\n", c->la_code);
    printf("  referrer: %s\n", c->referrer);
    if (c->n_members) {
        printf("  members:");
        for (size_t i = 0; i < c->n_members; i++)
            printf(" %s (%s)", c->members[i].agency,
                   c->members[i].standing == CF_STANDING_VOTING     ? "voting"
                   : c->members[i].standing == CF_STANDING_REQUIRED ? "required"
                                                                    : "advisory");
        printf("\n");
    }
    if (c->n_deadlines == 0)
        printf("  deadlines: none open\n");
    else
        printf("  deadlines:\n");
    for (size_t i = 0; i < c->n_deadlines; i++) {
        const struct cf_case_deadline *d = &c->deadlines[i];
        agent_text_time(d->due, t);
        printf("    %-16s due %s%s%s\n", cf_policy_deadline_name(d->kind), t,
               d->near_sent ? ", near notice sent" : "",
               d->breach_sent ? ", breach notice sent" : "");
    }
    printf("  timeline:\n");
    for (size_t i = 0; i < rc->n_entries; i++)
        entry_text(rd, &rc->entries[i]);
}

/* ---- JSON ---- */

static json_t *ids_json(const cf_id *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(ids[i]));
    return a;
}

static json_t *base64_json(const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    if (!b64)
        return NULL;
    sodium_bin2base64(b64, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *s = json_string(b64);
    free(b64);
    return s;
}

static void set(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v);
}

static json_t *entry_json(const struct reader *rd, const struct cf_replay_entry *e)
{
    json_t *o = json_object();
    set(o, "index", json_integer((json_int_t)e->index));
    set(o, "time", agent_text_time_json(e->time));
    set(o, "event", json_string(cf_record_event_name(e->event)));
    if (e->kind[0])
        set(o, "kind", json_string(e->kind));
    else if (e->type)
        set(o, "type", json_string(cf_header_type_name(e->type)));
    set(o, "sender", json_string(e->sender));
    set(o, "recipients", ids_json(e->recipients, e->n_recipients));
    if (e->decision)
        set(o, "decision", json_string(cf_header_decision_name(e->decision)));
    if (e->type == CF_TYPE_VOTE && e->event == CF_EVENT_ACCEPTED)
        set(o, "approve", json_boolean(e->approve));
    if (e->has_about)
        set(o, "about", json_integer((json_int_t)e->about));
    if (e->code[0])
        set(o, "code", json_string(e->code));
    if (e->deadline[0]) {
        set(o, "deadline", json_string(e->deadline));
        set(o, "due", agent_text_time_json(e->due));
    }
    if (e->n_outstanding)
        set(o, "outstanding", ids_json(e->outstanding, e->n_outstanding));
    set(o, "redacted", json_boolean(e->redacted));
    if (e->state)
        set(o, "state", json_string(cf_case_state_name(e->state)));
    enum cli_audit_read why;
    json_t *doc = content_of(rd, e, &why);
    if (doc)
        set(o, "content", doc);
    else if (rd->keys && e->event == CF_EVENT_ACCEPTED)
        set(o, "content_unread", json_string(read_names[why]));
    return o;
}

static const char *standing_name(enum cf_standing s)
{
    return s == CF_STANDING_VOTING     ? "voting"
           : s == CF_STANDING_REQUIRED ? "required"
           : s == CF_STANDING_ADVISORY ? "advisory"
                                       : "";
}

static json_t *case_json(const struct reader *rd, const struct cf_replay_case *rc,
                         const struct cf_case *c)
{
    json_t *o = json_object();
    set(o, "case_id", json_string(c->case_id));
    set(o, "state", json_string(cf_case_state_name(c->state)));
    set(o, "jurisdiction", json_string(c->jurisdiction));
    set(o, "la_code", json_string(c->la_code));
    set(o, "owner", json_string(c->owner));
    set(o, "referrer", json_string(c->referrer));
    set(o, "guardians", ids_json(c->guardians, c->n_guardians));
    set(o, "lead_staff_ref", json_string(c->lead_staff_ref));
    set(o, "chair_staff_ref", json_string(c->chair_staff_ref));
    json_t *members = json_array();
    for (size_t i = 0; members && i < c->n_members; i++)
        json_array_append_new(members,
                              json_pack("{s:s, s:s}", "agency", c->members[i].agency, "standing",
                                        standing_name(c->members[i].standing)));
    set(o, "members", members);
    if (c->proposal_decision) {
        set(o, "proposal_leaf", json_integer((json_int_t)c->proposal_leaf));
        set(o, "proposal_decision", json_string(cf_header_decision_name(c->proposal_decision)));
        set(o, "voters", ids_json(c->voters, c->n_voters));
    }
    json_t *votes = json_array();
    for (size_t i = 0; votes && i < c->n_votes; i++)
        json_array_append_new(votes,
                              json_pack("{s:s, s:b, s:I}", "voter", c->votes[i].voter, "approve",
                                        c->votes[i].approve, "leaf", (json_int_t)c->votes[i].leaf));
    set(o, "votes", votes);
    json_t *deadlines = json_array();
    for (size_t i = 0; deadlines && i < c->n_deadlines; i++) {
        const struct cf_case_deadline *d = &c->deadlines[i];
        json_array_append_new(deadlines, json_pack("{s:s, s:o, s:o, s:b, s:b}", "deadline",
                                                   cf_policy_deadline_name(d->kind), "due",
                                                   agent_text_time_json(d->due), "near",
                                                   agent_text_time_json(d->near), "near_sent",
                                                   d->near_sent, "breach_sent", d->breach_sent));
    }
    set(o, "deadlines", deadlines);
    json_t *events = json_object();
    for (int t = 1; events && t < CF_TYPE_COUNT; t++)
        if (c->first_at[t])
            set(events, cf_header_type_name((enum cf_type)t),
                json_pack("{s:o, s:o}", "first", agent_text_time_json(c->first_at[t]), "last",
                          agent_text_time_json(c->last_at[t])));
    set(o, "events", events);
    set(o, "opened_leaf", json_integer((json_int_t)c->opened_leaf));
    set(o, "updated_leaf", json_integer((json_int_t)c->updated_leaf));
    set(o, "record", base64_json(rc->record, rc->record_len));
    json_t *timeline = json_array();
    for (size_t i = 0; timeline && i < rc->n_entries; i++)
        json_array_append_new(timeline, entry_json(rd, &rc->entries[i]));
    set(o, "timeline", timeline);
    return o;
}

static json_t *findings_json(const struct cf_replay *r)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < cf_replay_findings(r); i++) {
        const struct cf_replay_finding *f = cf_replay_finding_at(r, i);
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s}", "index", (json_int_t)f->index,
                                           "code", cf_error_name(f->code), "case_id", f->case_id,
                                           "text", f->text));
    }
    return a;
}

/* ---- The command ---- */

static int print(const struct reader *rd, const char *only, bool json)
{
    const struct cf_replay *r = rd->log->replay;
    struct cf_case *c = malloc(sizeof *c);
    json_t *cases = json ? json_array() : NULL;
    if (!c || (json && !cases)) {
        free(c);
        fprintf(stderr, "%s: out of memory\n", prog);
        return CLI_FAIL;
    }
    size_t shown = 0;
    for (size_t i = 0; i < cf_replay_count(r); i++) {
        const struct cf_replay_case *rc = cf_replay_case_at(r, i);
        if (only && strcmp(rc->case_id, only) != 0)
            continue;
        if (cf_replay_case_load(rc, c) != 0) {
            fprintf(stderr, "%s: case %s: its replayed record does not decode\n", prog,
                    rc->case_id);
            continue;
        }
        if (json)
            json_array_append_new(cases, case_json(rd, rc, c));
        else
            case_text(rd, rc, c), printf("\n");
        shown++;
    }
    free(c);
    int rc = CLI_OK;
    if (json) {
        json_t *doc =
            json_pack("{s:I, s:I, s:I, s:o, s:o}", "records", (json_int_t)cf_replay_size(r),
                      "redacted", (json_int_t)cf_replay_redacted(r), "cases_total",
                      (json_int_t)cf_replay_count(r), "cases", cases, "findings", findings_json(r));
        if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
            rc = CLI_FAIL;
        printf("\n");
        json_decref(doc);
    } else {
        printf("records: %" PRIu64 ", cases: %zu, redacted: %" PRIu64 ", findings: %zu\n",
               cf_replay_size(r), cf_replay_count(r), cf_replay_redacted(r), cf_replay_findings(r));
    }
    if (only && shown == 0) {
        fprintf(stderr, "%s: no case %s in this log\n", prog, only);
        rc = CLI_FAIL;
    }
    return rc;
}

int cli_audit_replay(int argc, char **argv)
{
    static const struct option opts[] = {{"broker-key", required_argument, NULL, 'k'},
                                         {"broker-key-file", required_argument, NULL, 'f'},
                                         {"case", required_argument, NULL, 'i'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"calendars", required_argument, NULL, 'C'},
                                         {"broker-config", required_argument, NULL, 'b'},
                                         {"authority-key", required_argument, NULL, 'a'},
                                         {"decrypt", no_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *key = NULL, *key_file = NULL, *only = NULL, *calendars = NULL, *broker_ini = NULL,
               *authority = NULL, *ini = NULL;
    bool json = false, decrypt = false;
    int c, repeated = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:f:i:jC:b:a:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            repeated += key != NULL, key = optarg;
            break;
        case 'f':
            repeated += key_file != NULL, key_file = optarg;
            break;
        case 'i':
            repeated += only != NULL, only = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'C':
            repeated += calendars != NULL, calendars = optarg;
            break;
        case 'b':
            repeated += broker_ini != NULL, broker_ini = optarg;
            break;
        case 'a':
            repeated += authority != NULL, authority = optarg;
            break;
        case 'd':
            decrypt = true;
            break;
        case 'c':
            repeated += ini != NULL, ini = optarg;
            break;
        case 'h':
            return fputs(help, stdout), CLI_OK;
        default:
            return fputs(help, stderr), CLI_USAGE;
        }
    }
    if (optind != argc - 1)
        return fputs(help, stderr), CLI_USAGE;
    if (repeated) {
        fprintf(stderr, "%s: give each option once\n", prog);
        return CLI_USAGE;
    }
    if (decrypt != (ini != NULL)) {
        fprintf(stderr, "%s: --decrypt needs -c auditor.ini, and -c is only for --decrypt\n", prog);
        return CLI_USAGE;
    }
    uint8_t pk[CF_SIGN_PK], apk[CF_SIGN_PK];
    char cal_dir[4096];
    bool has_authority;
    int rc = cli_audit_broker_key(prog, key, key_file, pk);
    if (rc == CLI_OK)
        rc = cli_audit_authority_key(prog, authority, apk, &has_authority);
    if (rc == CLI_OK)
        rc = cli_audit_calendars(prog, calendars, broker_ini, cal_dir, sizeof cal_dir);
    struct cf_keys *keys = NULL;
    if (rc == CLI_OK && decrypt)
        rc = cli_audit_auditor_keys(prog, ini, &keys);
    if (rc != CLI_OK)
        return rc;
    struct cf_replay_options o = {.calendars = cal_dir,
                                  .authority_pk = has_authority ? apk : NULL,
                                  .timelines = true,
                                  .check = true};
    struct cli_audit_log *log = malloc(sizeof *log);
    if (!log) {
        fprintf(stderr, "%s: out of memory\n", prog);
        cf_keys_destroy(&keys);
        return CLI_FAIL;
    }
    rc = cli_audit_log_open(prog, argv[optind], pk, &o, log);
    if (rc == CLI_OK) {
        struct reader rd = {log, keys};
        rc = print(&rd, only, json);
        if (cli_audit_findings(prog, log->replay) > 0)
            rc = CLI_FAIL;
    }
    cli_audit_log_close(log);
    free(log);
    cf_keys_destroy(&keys);
    return rc;
}
