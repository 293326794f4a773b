/* childfirst refer, inbox, show and status: the commands that talk to the local
 * agent. Each finds the control socket through agent.ini (-c, then
 * $CHILDFIRST_CONFIG, then /etc/childfirst/agent.ini), sends one request
 * (ctl.h) and renders the one answer for a person, or as JSON for a script.
 * Text that came from another agency is printed with control characters
 * replaced, so a message cannot drive the reader's terminal. */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent_text.h"
#include "childfirst/file.h"
#include "childfirst/header.h"
#include "childfirst/limits.h"
#include "cli.h"
#include "ctl.h"

#define CLI_QUEUED 3 /* refer: kept in the outbox, not yet answered by the broker */
#define DEFAULT_CONFIG "/etc/childfirst/agent.ini"
#define CALL_TIMEOUT_MS 30000
#define WAIT_DEFAULT_S 30
#define WAIT_MAX_S 600
#define RENDER_MAX_INDENT 64 /* show: deeper structure is left to --json */

#define CONFIG_HELP                                                                                \
    "  -c FILE         agent.ini, to find the agent's control socket; else\n"                      \
    "                  $CHILDFIRST_CONFIG, else " DEFAULT_CONFIG "\n"

/* ---- Talking to the agent ---- */

int cli_agent_connect(const char *who, const char *config, int *fd, char *path, size_t cap)
{
    static struct agent_config cfg; /* large; one call per process */
    struct cf_error err = {0};
    const char *from_env = getenv("CHILDFIRST_CONFIG"), *hint = "";
    int rc;
    if (!config && from_env && *from_env)
        config = from_env, hint = " (named by CHILDFIRST_CONFIG)";
    else if (!config)
        config = DEFAULT_CONFIG, hint = " (give -c FILE or set CHILDFIRST_CONFIG)";
    *fd = -1;
    if ((rc = agent_config_load(config, &cfg, &err)) != 0) {
        fprintf(stderr, "childfirst %s: %s%s\n", who, err.text, rc == CF_EIO ? hint : "");
        return CLI_FAIL;
    }
    if (ctl_path(cfg.control, path, cap, &err) != 0) {
        fprintf(stderr, "childfirst %s: %s: %s\n", who, config, err.text);
        return CLI_FAIL;
    }
    if (ctl_connect(path, fd, &err) != 0) {
        fprintf(stderr, "childfirst %s: %s\n", who, err.text);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* Sends `req` (borrowed) to the agent named by the config and waits at most
 * `timeout_ms` for the answer. Prints what went wrong itself; on CLI_OK the
 * caller owns *ans, an object with a boolean "ok". */
static int agent_call(const char *who, const char *config, const json_t *req, int timeout_ms,
                      json_t **ans)
{
    struct cf_error err = {0};
    char path[CTL_PATH_MAX + 1];
    int fd = -1, rc;
    *ans = NULL;
    if (cli_agent_connect(who, config, &fd, path, sizeof path) != CLI_OK)
        return CLI_FAIL;
    rc = ctl_send(fd, req, 10000, &err);
    if (rc == 0)
        rc = ctl_recv(fd, ans, CTL_MAX_FRAME, timeout_ms, &err);
    else if (rc == CF_EIO && ctl_recv(fd, ans, CTL_MAX_FRAME, 1000, NULL) == 0)
        rc = 0; /* refused at the door (uid, too many callers): the answer says why */
    close(fd);
    if (rc == CF_ETIMEOUT) {
        fprintf(stderr, "childfirst %s: the agent did not answer within %d s\n", who,
                timeout_ms / 1000);
        return CLI_FAIL;
    }
    if (rc != 0) {
        fprintf(stderr, "childfirst %s: control socket %s: no answer: %s\n", who, path, err.text);
        return CLI_FAIL;
    }
    if (!json_is_boolean(json_object_get(*ans, "ok"))) {
        fprintf(stderr, "childfirst %s: the agent's answer has no \"ok\"\n", who);
        json_decref(*ans);
        *ans = NULL;
        return CLI_FAIL;
    }
    return CLI_OK;
}

static bool answer_ok(const json_t *ans)
{
    return json_is_true(json_object_get(ans, "ok"));
}

static const char *field(const json_t *obj, const char *key, const char *otherwise)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : otherwise;
}

/* "childfirst WHO: [STATUS: ]CODE: reason" on stderr. */
static int print_refusal(const char *who, const json_t *ans)
{
    const char *status = field(ans, "status", NULL);
    fprintf(stderr, "childfirst %s: %s%s%s: %s\n", who, status ? status : "", status ? ": " : "",
            field(ans, "code", "CF_EINVAL"), field(ans, "reason", "no reason given"));
    return CLI_FAIL;
}

/* Pretty JSON on stdout, without the control protocol's "ok". */
static void print_json(json_t *doc)
{
    if (json_is_object(doc))
        json_object_del(doc, "ok");
    json_dumpf(doc, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

/* ---- Rendering for people ---- */

size_t cli_put_clean(FILE *f, const char *s, size_t n)
{
    size_t width = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    for (; p < end; p++) {
        unsigned char ch = *p;
        if (ch == '\r')
            continue;
        if (ch == 0xC2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9F) {
            p++;
            ch = '?';
        } else if (ch == '\t') {
            ch = ' ';
        } else if (ch < 0x20 || ch == 0x7F) {
            ch = '?';
        }
        fputc(ch, f);
        width += (ch & 0xC0) != 0x80;
    }
    return width;
}

static size_t put_str(const char *s)
{
    return cli_put_clean(stdout, s, strlen(s));
}

/* A time the agent gives as text (already ISO-8601) or as milliseconds. */
static void time_text(const json_t *v, char *out, size_t cap)
{
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v) && json_integer_value(v) > 0) {
        char t[AGENT_TEXT_TIME_MAX];
        agent_text_time((uint64_t)json_integer_value(v), t);
        snprintf(out, cap, "%s", t);
    } else
        snprintf(out, cap, "-");
}

/* A scalar as a person reads it. */
static void scalar_text(const json_t *v, char *out, size_t cap)
{
    if (json_is_string(v))
        snprintf(out, cap, "%s", *json_string_value(v) ? json_string_value(v) : "(none)");
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "yes" : "no");
    else
        snprintf(out, cap, "(none)");
}

static void indent_to(int n)
{
    printf("%*s", n, "");
}

/* A value's text after "key: ", continuation lines indented under it. */
static void put_text(const char *text, int indent)
{
    const char *line = text;
    for (const char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        cli_put_clean(stdout, line, (size_t)(nl - line));
        fputc('\n', stdout);
        indent_to(indent + 2);
    }
    put_str(line);
    fputc('\n', stdout);
}

static bool all_scalars(const json_t *array)
{
    size_t i;
    const json_t *v;
    json_array_foreach(array, i, v)
    {
        if (json_is_object(v) || json_is_array(v))
            return false;
    }
    return true;
}

/* An array of scalars as "a, b, c", cut at `cap`; "(none)" when empty. */
static void join_scalars(const json_t *array, char *out, size_t cap)
{
    size_t i, used = 0;
    const json_t *item;
    char one[1024];
    snprintf(out, cap, "(none)");
    json_array_foreach(array, i, item)
    {
        scalar_text(item, one, sizeof one);
        int n = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", one);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
}

/* Walks any JSON: objects as "key: value" lines, arrays of scalars joined,
 * arrays of objects as "-" items, nesting shown by indentation. */
static void render(const char *key, const json_t *v, int indent)
{
    static char text[4096]; /* used at the leaves only: deep nesting costs no stack */
    indent_to(indent);
    if (key) {
        put_str(key);
        fputc(':', stdout);
    }
    if ((json_is_object(v) || json_is_array(v)) && indent > RENDER_MAX_INDENT) {
        printf(" (nested too deeply to show; use --json)\n");
    } else if (json_is_object(v) && json_object_size(v) > 0) {
        fputc('\n', stdout);
        const char *k;
        const json_t *child;
        json_object_foreach((json_t *)v, k, child)
        {
            render(k, child, indent + 2);
        }
    } else if (json_is_array(v) && json_array_size(v) > 0 && !all_scalars(v)) {
        fputc('\n', stdout);
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item)
        {
            indent_to(indent + 2);
            printf("-\n");
            if (json_is_object(item)) {
                const char *k;
                const json_t *child;
                json_object_foreach((json_t *)item, k, child)
                {
                    render(k, child, indent + 4);
                }
            } else {
                render(NULL, item, indent + 4);
            }
        }
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        fputc(' ', stdout);
        join_scalars(v, text, sizeof text);
        put_str(text);
        fputc('\n', stdout);
    } else {
        if (key)
            fputc(' ', stdout);
        if (json_is_string(v) && *json_string_value(v))
            put_text(json_string_value(v), indent);
        else {
            scalar_text(json_is_object(v) || json_is_array(v) ? NULL : v, text, sizeof text);
            put_str(text);
            fputc('\n', stdout);
        }
    }
}

/* ---- childfirst refer ---- */

static const char refer_help[] =
    "usage: childfirst refer FILE.json [--wait SECONDS] [-c FILE]\n"
    "\n"
    "Hands a referral (the JSON of DESIGN.md section 9) to the local agent, which\n"
    "checks it, seals it for the recipients the policy names and sends it to the\n"
    "broker, then waits for the broker's answer.\n"
    "\n"
    "  --wait SECONDS  how long to wait for the broker: 0 to 600 (default 30)\n" CONFIG_HELP "\n"
    "On stdout, the receipt: message_id, case_id, leaf_index, checkpoint, status.\n"
    "Exit status:\n"
    "  0  accepted by the broker and logged; the receipt is on stdout\n"
    "  1  rejected by the broker or refused by the agent (the reason is on stderr)\n"
    "  2  usage error\n"
    "  3  queued: the broker has not answered in time; the agent keeps the\n"
    "     referral in its outbox and resends it until the broker answers\n";

/* The options the agent commands share (-c, --help) and those each allows
 * (--json, --case, --wait), parsed once here. */
struct args {
    const char *config, *case_id, *wait;
    bool json;
    const char *operand; /* the one operand, for commands that take one */
};

/* Returns -1 to go on, or the exit code (help printed, or a usage error). */
static int parse_args(int argc, char **argv, const char *help, const char *allowed, bool operand,
                      struct args *a)
{
    static const struct option opts[] = {
        {"wait", required_argument, NULL, 'w'}, {"case", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},       {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},       {0}};
    memset(a, 0, sizeof *a);
    int c, index = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, &index)) != -1) {
        if (index >= 0 && index < 3 && !strstr(allowed, opts[index].name))
            return fputs(help, stderr), CLI_USAGE;
        index = -1;
        if (c == 'w')
            a->wait = optarg;
        else if (c == 'k')
            a->case_id = optarg;
        else if (c == 'j')
            a->json = true;
        else if (c == 'c')
            a->config = optarg;
        else if (c == 'h')
            return fputs(help, stdout), CLI_OK;
        else
            return fputs(help, stderr), CLI_USAGE;
    }
    if (optind != argc - (operand ? 1 : 0))
        return fputs(help, stderr), CLI_USAGE;
    a->operand = operand ? argv[optind] : NULL;
    return -1;
}

static int parse_wait(const char *s, long *out)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 3 || atol(s) > WAIT_MAX_S)
        return -1;
    *out = atol(s);
    return 0;
}

/* refer and send: reads FILE.json, hands it to the agent as `cmd` (with the
 * type and case of a send), and prints the receipt. */
static int submit_document(const char *who, const char *cmd, const char *file, const char *type,
                           const char *case_id, const char *config, long wait_s)
{
    struct cf_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *req = NULL, *ans = NULL, *text = NULL;
    int rc = CLI_FAIL;
    if (cf_file_read(file, CF_MAX_JSON, &buf, &len, &err) != 0) {
        fprintf(stderr, "childfirst %s: %s\n", who, err.text);
        goto out;
    }
    const uint8_t *nul = memchr(buf, 0, len);
    if (nul) {
        fprintf(stderr, "childfirst %s: %s: byte %zu is a NUL; the JSON may not hold one\n", who,
                file, (size_t)(nul - buf));
        goto out;
    }
    if (!(text = json_stringn((const char *)buf, len))) {
        fprintf(stderr, "childfirst %s: %s: not UTF-8 text\n", who, file);
        goto out;
    }
    req = json_pack("{s:s, s:O, s:I}", "cmd", cmd, "text", text, "wait_s", (json_int_t)wait_s);
    if (req && type)
        json_object_set_new(req, "type", json_string(type));
    if (req && case_id)
        json_object_set_new(req, "case_id", json_string(case_id));
    if (!req) {
        fprintf(stderr, "childfirst %s: out of memory\n", who);
        goto out;
    }
    if ((rc = agent_call(who, config, req, (int)wait_s * 1000 + 15000, &ans)) != CLI_OK)
        goto out;
    const char *status = field(ans, "status", "");
    if (!answer_ok(ans)) {
        rc = print_refusal(who, ans);
    } else if (strcmp(status, "accepted") == 0) {
        print_json(ans);
        rc = CLI_OK;
    } else if (strcmp(status, "queued") == 0) {
        print_json(ans);
        fprintf(stderr,
                "childfirst %s: the broker has not answered yet; the message is safe "
                "in the agent's outbox and will be sent when the broker is reachable\n",
                who);
        rc = CLI_QUEUED;
    } else {
        fprintf(stderr, "childfirst %s: the agent answered with an unknown status '%s'\n", who,
                status);
        rc = CLI_FAIL;
    }
out:
    json_decref(ans);
    json_decref(req);
    json_decref(text);
    free(buf);
    return rc;
}

int cli_refer(int argc, char **argv)
{
    struct args a;
    int done = parse_args(argc, argv, refer_help, "wait", true, &a);
    if (done >= 0)
        return done;
    long wait_s = WAIT_DEFAULT_S;
    if (a.wait && parse_wait(a.wait, &wait_s) != 0) {
        fprintf(stderr, "childfirst refer: --wait takes seconds from 0 to %d\n", WAIT_MAX_S);
        return CLI_USAGE;
    }
    return submit_document("refer", "refer", a.operand, NULL, NULL, a.config, wait_s);
}

/* ---- childfirst send ---- */

static const char send_help[] =
    "usage: childfirst send TYPE --case ID FILE.json [--wait SECONDS] [-c FILE]\n"
    "\n"
    "Sends a case message: acknowledgement, strategy_record, ird_record,\n"
    "conference_convened, contribution, determination_proposed, vote,\n"
    "reconsideration_request, transfer or closure (README, Case message JSON).\n"
    "The agent routes it to whom the signed policy names for this case, seals\n"
    "and signs it; a vote is signed only after the proposal's decrypted\n"
    "decision was checked against its signed header.\n"
    "\n"
    "  --case ID       the case (cf-...)\n"
    "  --wait SECONDS  how long to wait for the broker: 0 to 600 (default 30)\n" CONFIG_HELP "\n"
    "Exit status as for refer: 0 accepted (receipt on stdout), 1 refused (the\n"
    "reason on stderr), 2 usage, 3 queued in the outbox.\n";

int cli_send(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return fputs(send_help, stdout), CLI_OK;
    if (argc < 2 || argv[1][0] == '-')
        return fputs(send_help, stderr), CLI_USAGE;
    const char *type = argv[1];
    struct args a;
    int done = parse_args(argc - 1, argv + 1, send_help, "wait case", true, &a);
    if (done >= 0)
        return done;
    long wait_s = WAIT_DEFAULT_S;
    if (a.wait && parse_wait(a.wait, &wait_s) != 0) {
        fprintf(stderr, "childfirst send: --wait takes seconds from 0 to %d\n", WAIT_MAX_S);
        return CLI_USAGE;
    }
    if (!a.case_id) {
        fprintf(stderr, "childfirst send: --case ID is required\n");
        return CLI_USAGE;
    }
    return submit_document("send", "send", a.operand, type, a.case_id, a.config, wait_s);
}

/* ---- childfirst inbox ---- */

static const char inbox_help[] =
    "usage: childfirst inbox [--case ID] [--json] [-c FILE]\n"
    "\n"
    "Lists what this agency has received, oldest first: messages and notices,\n"
    "each with its log leaf, the time the broker logged it, case, type, sender,\n"
    "urgency and message id ('childfirst show MESSAGE_ID' opens one).\n"
    "\n"
    "  --case ID       only this case (cf-...)\n"
    "  --json          the list as JSON, for scripts\n" CONFIG_HELP;

enum { COL_LEAF, COL_RECEIVED, COL_CASE, COL_TYPE, COL_SENDER, COL_URGENCY, COL_ID, COLS };

static void inbox_cell(const json_t *m, int col, char *out, size_t cap)
{
    static const char *const keys[COLS] = {"leaf_index", "received_at", "case_id",   "type",
                                           "sender",     "urgency",     "message_id"};
    const json_t *v = json_object_get(m, keys[col]);
    if (col == COL_RECEIVED)
        time_text(v, out, cap);
    else if (col == COL_TYPE && json_is_string(json_object_get(m, "kind")))
        snprintf(out, cap, "%s:%s", field(m, "type", "-"), field(m, "kind", "-"));
    else if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
        snprintf(out, cap, "-");
    else
        scalar_text(v, out, cap);
}

/* Characters as cli_put_clean counts them. */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80 && *s != '\r';
    return n;
}

static void print_inbox(const json_t *list, const char *case_id)
{
    static const char *const heads[COLS] = {"LEAF",   "RECEIVED", "CASE",      "TYPE",
                                            "SENDER", "URGENCY",  "MESSAGE ID"};
    char text[256];
    size_t width[COLS], i;
    const json_t *m;
    if (json_array_size(list) == 0) {
        if (case_id)
            printf("no messages for case %s\n", case_id);
        else
            printf("no messages\n");
        return;
    }
    for (int col = 0; col < COLS; col++)
        width[col] = strlen(heads[col]);
    json_array_foreach(list, i, m)
    {
        for (int col = 0; col < COLS; col++) {
            inbox_cell(m, col, text, sizeof text);
            size_t w = text_width(text);
            width[col] = w > width[col] ? w : width[col];
        }
    }
    for (int col = 0; col < COLS; col++)
        printf("%-*s%s", col < COLS - 1 ? (int)width[col] : 0, heads[col],
               col < COLS - 1 ? "  " : "\n");
    json_array_foreach(list, i, m)
    {
        for (int col = 0; col < COLS; col++) {
            inbox_cell(m, col, text, sizeof text);
            size_t w = put_str(text);
            if (col < COLS - 1)
                printf("%*s", (int)(width[col] - w + 2), "");
            else
                fputc('\n', stdout);
        }
    }
}

int cli_inbox(int argc, char **argv)
{
    struct args a;
    int done = parse_args(argc, argv, inbox_help, "case json", false, &a);
    if (done >= 0)
        return done;
    const char *config = a.config, *case_id = a.case_id;
    bool as_json = a.json;
    if (case_id && !cf_header_case_id_valid(case_id, strlen(case_id))) {
        fprintf(stderr, "childfirst inbox: --case: not a case id (cf- and 26 characters)\n");
        return CLI_USAGE;
    }
    json_t *req = json_pack("{s:s}", "cmd", "inbox"), *ans = NULL;
    if (req && case_id)
        json_object_set_new(req, "case_id", json_string(case_id));
    int rc = req ? agent_call("inbox", config, req, CALL_TIMEOUT_MS, &ans) : CLI_FAIL;
    if (rc == CLI_OK && !answer_ok(ans)) {
        rc = print_refusal("inbox", ans);
    } else if (rc == CLI_OK) {
        json_t *list = json_object_get(ans, "messages");
        if (!json_is_array(list)) {
            fprintf(stderr, "childfirst inbox: the agent's answer has no \"messages\" list\n");
            rc = CLI_FAIL;
        } else if (as_json) {
            print_json(list);
        } else {
            print_inbox(list, case_id);
        }
    }
    json_decref(ans);
    json_decref(req);
    return rc;
}

/* ---- childfirst show ---- */

static const char show_help[] =
    "usage: childfirst show MESSAGE_ID [--json] [-c FILE]\n"
    "\n"
    "Opens one received message or notice (MESSAGE_ID: 32 hex characters, from\n"
    "'childfirst inbox'): the header first (type, case, sender, urgency,\n"
    "immediate risk, received), then the decrypted content.\n"
    "\n"
    "  --json          the whole document as JSON, as in spool/inbox/\n" CONFIG_HELP;

/* "label:" padded to a column, then the value: the header block of `show`. */
static void head_line(const char *label, const char *text)
{
    char lab[64];
    snprintf(lab, sizeof lab, "%s:", label);
    printf("%-16s ", lab);
    put_str(text);
    fputc('\n', stdout);
}

static void print_message(const json_t *msg)
{
    /* The header a person reads first, in this order; the rest follows. */
    static const struct {
        const char *label, *key, *alt;
    } head[] = {
        {"type", "type", NULL},
        {"kind", "kind", NULL},
        {"case", "case_id", NULL},
        {"sender", "sender", NULL},
        {"urgency", "urgency", NULL},
        {"immediate risk", "immediate_risk", NULL},
        {"received", "received_at", "accepted_at"},
        {"message id", "message_id", NULL},
        {"leaf", "leaf_index", NULL},
    };
    const size_t n_head = sizeof head / sizeof head[0];
    const json_t *payload = json_object_get(msg, "payload");
    char text[4096];
    for (size_t i = 0; i < n_head; i++) {
        const json_t *v = json_object_get(msg, head[i].key);
        if (!v && head[i].alt)
            v = json_object_get(msg, head[i].alt);
        if (!v && strcmp(head[i].key, "immediate_risk") == 0)
            v = json_object_get(payload, head[i].key);
        if (!v)
            continue;
        if (strcmp(head[i].label, "received") == 0)
            time_text(v, text, sizeof text);
        else
            scalar_text(v, text, sizeof text);
        head_line(head[i].label, text);
    }
    /* The rest of the header (recipients, times, area), in the agent's order. */
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)msg, key, v)
    {
        bool shown = strcmp(key, "payload") == 0;
        for (size_t i = 0; !shown && i < n_head; i++)
            shown =
                strcmp(key, head[i].key) == 0 || (head[i].alt && strcmp(key, head[i].alt) == 0 &&
                                                  !json_object_get(msg, head[i].key));
        if (shown)
            continue;
        if (json_is_object(v) || (json_is_array(v) && !all_scalars(v))) {
            render(key, v, 0);
            continue;
        }
        if (json_is_array(v))
            join_scalars(v, text, sizeof text);
        else
            scalar_text(v, text, sizeof text);
        head_line(key, text);
    }
    if (payload) {
        printf("\n");
        render("content", payload, 0);
    }
}

static bool message_id_valid(const char *s)
{
    if (strlen(s) != 2 * CF_MESSAGE_ID_LEN)
        return false;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s))
            return false;
    return true;
}

int cli_show(int argc, char **argv)
{
    struct args a;
    int done = parse_args(argc, argv, show_help, "json", true, &a);
    if (done >= 0)
        return done;
    const char *config = a.config, *id = a.operand;
    bool as_json = a.json;
    if (!message_id_valid(id)) {
        fprintf(stderr, "childfirst show: MESSAGE_ID is 32 hex characters "
                        "(see 'childfirst inbox')\n");
        return CLI_USAGE;
    }
    json_t *req = json_pack("{s:s, s:s}", "cmd", "show", "message_id", id), *ans = NULL;
    int rc = req ? agent_call("show", config, req, CALL_TIMEOUT_MS, &ans) : CLI_FAIL;
    if (rc == CLI_OK && !answer_ok(ans)) {
        rc = print_refusal("show", ans);
    } else if (rc == CLI_OK) {
        json_t *msg = json_object_get(ans, "message");
        if (!json_is_object(msg)) {
            fprintf(stderr, "childfirst show: the agent's answer has no \"message\"\n");
            rc = CLI_FAIL;
        } else if (as_json) {
            print_json(msg);
        } else {
            print_message(msg);
        }
    }
    json_decref(ans);
    json_decref(req);
    return rc;
}

/* ---- childfirst status ---- */

static const char status_help[] =
    "usage: childfirst status [--json] [-c FILE]\n"
    "\n"
    "The local agent at a glance: its agency, whether it is connected to the\n"
    "broker (and since when), the broker, how many messages wait in its outbox,\n"
    "the broker's frames per commit, the last checkpoint it verified and the\n"
    "serial of its signed directory.\n"
    "\n"
    "  --json          the same as JSON, for scripts and monitoring\n" CONFIG_HELP;

static void print_status(const json_t *st)
{
    char text[256];
    const json_t *since = json_object_get(st, "connected_since");
    const json_t *cp = json_object_get(st, "checkpoint");
    const json_t *serial = json_object_get(st, "directory_serial");
    const json_t *fpc = json_object_get(st, "frames_per_commit");

    printf("agency:             ");
    put_str(field(st, "agency", "-"));
    if (json_is_true(json_object_get(st, "connected"))) {
        time_text(since, text, sizeof text);
        printf("\nconnected:          yes, since %s\n", text);
    } else {
        printf("\nconnected:          no\n");
    }
    printf("broker:             ");
    put_str(field(st, "broker", "-"));
    scalar_text(json_object_get(st, "outbox_depth"), text, sizeof text);
    printf("\noutbox depth:       %s\n", text);
    if (json_is_number(fpc))
        printf("frames per commit:  %.2f\n", json_number_value(fpc));
    else
        printf("frames per commit:  -\n");
    if (json_integer_value(json_object_get(cp, "size")) > 0) {
        printf("last checkpoint:    ");
        put_str(field(cp, "origin", "-"));
        printf(", size %lld\n", (long long)json_integer_value(json_object_get(cp, "size")));
    } else {
        printf("last checkpoint:    none yet\n");
    }
    if (json_integer_value(serial) > 0)
        printf("directory serial:   %lld\n", (long long)json_integer_value(serial));
    else
        printf("directory serial:   none yet\n");
}

int cli_status(int argc, char **argv)
{
    struct args a;
    int done = parse_args(argc, argv, status_help, "json", false, &a);
    if (done >= 0)
        return done;
    const char *config = a.config;
    bool as_json = a.json;
    json_t *req = json_pack("{s:s}", "cmd", "status"), *ans = NULL;
    int rc = req ? agent_call("status", config, req, CALL_TIMEOUT_MS, &ans) : CLI_FAIL;
    if (rc == CLI_OK && !answer_ok(ans))
        rc = print_refusal("status", ans);
    else if (rc == CLI_OK && as_json)
        print_json(ans);
    else if (rc == CLI_OK)
        print_status(ans);
    json_decref(ans);
    json_decref(req);
    return rc;
}

/* ---- childfirst case ---- */

static const char case_help[] =
    "usage: childfirst case ID [--json] [-c FILE]\n"
    "\n"
    "Shows this agency's timeline of a case: every message it sent and every\n"
    "message and notice it received, with the broker's times, and the case's\n"
    "state, owner and deadlines as the broker has them (asked of it now; shown\n"
    "only to agencies that take part in the case or serve its LA).\n"
    "\n"
    "  --json          the view as JSON, for scripts\n" CONFIG_HELP;

static void print_case(const json_t *v)
{
    char text[256];
    printf("case %s\n", field(v, "case_id", "-"));
    const json_t *broker = json_object_get(v, "broker"), *local = json_object_get(v, "local");
    if (json_is_object(broker)) {
        printf("state:         %s\n", field(broker, "state", "-"));
        printf("owner:         %s\n", field(broker, "owner", "-"));
        printf("jurisdiction:  %s (%s)\n", field(broker, "jurisdiction", "-"),
               field(broker, "la_code", "-"));
        const json_t *next = json_object_get(broker, "next_deadline");
        if (json_is_object(next))
            printf("next deadline: %s, due %s\n", field(next, "name", "-"),
                   field(next, "due", "-"));
        else
            printf("next deadline: none open\n");
        size_t i;
        const json_t *d;
        json_array_foreach(json_object_get(broker, "deadlines"), i, d)
        {
            if (i > 0)
                printf("               then %s, due %s\n", field(d, "name", "-"),
                       field(d, "due", "-"));
        }
    } else {
        printf("state:         %s (as this agency last saw it; %s)\n",
               json_is_object(local) ? field(local, "state", "-") : "unknown",
               field(v, "broker_note", "the broker's view is not available"));
    }
    const json_t *timeline = json_object_get(v, "timeline");
    printf("\n%-24s %-6s %-9s %-32s %-20s %s\n", "AT", "LEAF", "DIRECTION", "TYPE", "SENDER",
           "MESSAGE ID");
    size_t i;
    const json_t *e;
    json_array_foreach(timeline, i, e)
    {
        time_text(json_object_get(e, "at"), text, sizeof text);
        printf("%-24s ", text);
        const json_t *leaf = json_object_get(e, "leaf_index");
        if (json_is_integer(leaf))
            printf("%-6lld ", (long long)json_integer_value(leaf));
        else
            printf("%-6s ", field(e, "status", "-"));
        printf("%-9s ", field(e, "direction", "-"));
        if (json_is_string(json_object_get(e, "kind")))
            snprintf(text, sizeof text, "%s:%s", field(e, "type", "-"), field(e, "kind", "-"));
        else
            snprintf(text, sizeof text, "%s", field(e, "type", "-"));
        size_t w = put_str(text);
        printf("%*s", w < 32 ? (int)(33 - w) : 1, "");
        w = put_str(field(e, "sender", "-"));
        printf("%*s", w < 20 ? (int)(21 - w) : 1, "");
        printf("%s\n", field(e, "message_id", "-"));
    }
    if (json_array_size(timeline) == 0)
        printf("(nothing sent or received in this case)\n");
}

int cli_case(int argc, char **argv)
{
    struct args a;
    int done = parse_args(argc, argv, case_help, "json", true, &a);
    if (done >= 0)
        return done;
    if (!cf_header_case_id_valid(a.operand, strlen(a.operand))) {
        fprintf(stderr, "childfirst case: '%s' is not a case id (cf- and 26 characters)\n",
                a.operand);
        return CLI_USAGE;
    }
    json_t *req = json_pack("{s:s, s:s}", "cmd", "case", "case_id", a.operand), *ans = NULL;
    int rc = req ? agent_call("case", a.config, req, CALL_TIMEOUT_MS, &ans) : CLI_FAIL;
    if (rc == CLI_OK && !answer_ok(ans))
        rc = print_refusal("case", ans);
    else if (rc == CLI_OK && a.json)
        print_json(ans);
    else if (rc == CLI_OK)
        print_case(ans);
    json_decref(req);
    json_decref(ans);
    return rc;
}
