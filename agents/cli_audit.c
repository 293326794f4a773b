/* childfirst audit: the dispatcher, what its subcommands share (the broker
 * key, the calendars, a verified and replayed log), and `audit verify`, which
 * checks a log offline against the broker's public key alone. The checking
 * itself is common/src/logverify.c and export.c. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/envelope.h"
#include "childfirst/export.h"
#include "childfirst/file.h"
#include "childfirst/ini.h"
#include "childfirst/keys.h"
#include "childfirst/logverify.h"
#include "childfirst/message.h"
#include "childfirst/replay.h"
#include "childfirst/store.h"
#include "agent.h"
#include "agent_text.h"
#include "cli.h"
#include "cli_audit.h"

#define KEY_FILE_MAX (64u * 1024u) /* a key file or an agent.ini: far below this */

static const char family_help[] =
    "usage: childfirst audit COMMAND ...\n"
    "\n"
    "Offline checks of a broker's log folder (its state folder, a hot backup or\n"
    "a replica), against the broker's public key given here, never the store's:\n"
    "  verify DIR | --jsonl FILE  rebuild the tree, check every checkpoint\n"
    "  replay DIR [--case ID]     every case's state and timeline, from the log\n"
    "  export DIR                 the log as JSON Lines, verifiable without LMDB\n"
    "  prove RECEIPT.json         check a receipt's record, checkpoint and proofs\n"
    "  report DIR                 referrals, determinations, working days,\n"
    "                             deadline breaches, undelivered messages\n"
    "And online, as an auditor agency:\n"
    "  follow -c auditor.ini      keep an own replica of the log, alarm on forks\n"
    "\n"
    "'childfirst audit COMMAND --help' shows a command's options.\n";

static const char verify_help[] =
    "usage: childfirst audit verify DIR | --jsonl FILE\n"
    "                               (--broker-key BASE64 | --broker-key-file FILE)\n"
    "\n"
    "Checks a broker's log folder in one read snapshot (safe while the broker\n"
    "runs): records run 0..N-1 without gaps, decode canonically and never go back\n"
    "in time; the Merkle tree rebuilt from the records matches every stored node;\n"
    "each accepted record matches its stored envelope, and one that retention\n"
    "removed is counted as redacted, if a purged leaf says so; every checkpoint\n"
    "is signed by the broker key, matches the rebuilt root and shares one origin\n"
    "(or changes it just after an origin leaf, for a restore); a consistency proof\n"
    "from each checkpoint to the next verifies (RFC 9162); and the newest\n"
    "checkpoint covers every record. --jsonl checks an `audit export` file the\n"
    "same way, and that each line is exactly what its record's bytes give.\n"
    "\n"
    "The broker's public signing key comes from here, never from the store:\n"
    "  --broker-key BASE64     the sign_key that 'childfirst keygen broker' printed\n"
    "  --broker-key-file FILE  a file holding it alone on a line or as a\n"
    "                          'name = BASE64' line (sign_key, broker_sign_key)\n"
    "\n"
    "Exit status: 0 verified; 1 a check failed (stderr names the first index or\n"
    "checkpoint) or the log cannot be read; 2 bad usage or an unusable key.\n";

/* ---- The broker key ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* Reads the key from `path`: a bare base64 line or a "name = BASE64" line whose
 * value decodes. Should several lines hold keys, only lines named sign_key or
 * broker_sign_key count, so keygen's output and an agent.ini both work. */
static int key_from_file(const char *prog, const char *path, uint8_t pk[CF_SIGN_PK])
{
    uint8_t *buf = NULL;
    size_t len;
    struct cf_error err = {0};
    if (cf_file_read(path, KEY_FILE_MAX, &buf, &len, &err) != 0) {
        fprintf(stderr, "%s: --broker-key-file: %s\n", prog, err.text);
        return CLI_USAGE;
    }
    uint8_t any[CF_SIGN_PK], named[CF_SIGN_PK];
    unsigned n_any = 0, n_named = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *text = trim(line), *eq;
        uint8_t key[CF_SIGN_PK];
        bool is_named = false;
        if (*text == 0 || *text == '#' || *text == ';' || *text == '[')
            continue;
        if (cf_keys_b64_decode(text, key) != 0) {
            if (!(eq = strchr(text, '=')) || eq == text)
                continue;
            *eq = 0;
            const char *name = trim(text);
            if (cf_keys_b64_decode(trim(eq + 1), key) != 0)
                continue;
            is_named = strcmp(name, "sign_key") == 0 || strcmp(name, "broker_sign_key") == 0;
        } else {
            is_named = true; /* a bare key says what it is by standing alone */
        }
        if (n_any == 0 || memcmp(any, key, sizeof key) != 0)
            n_any++;
        memcpy(any, key, sizeof key);
        if (is_named && (n_named == 0 || memcmp(named, key, sizeof key) != 0))
            n_named++;
        if (is_named)
            memcpy(named, key, sizeof key);
    }
    free(buf);
    if (n_any == 1 || n_named == 1) {
        memcpy(pk, n_any == 1 ? any : named, CF_SIGN_PK);
        return CLI_OK;
    }
    fprintf(stderr,
            n_any == 0 ? "%s: %s holds no base64 key (a bare line or 'sign_key = BASE64')\n"
                       : "%s: %s holds several base64 keys; name the broker's 'sign_key'\n",
            prog, path);
    return CLI_USAGE;
}

int cli_audit_broker_key(const char *prog, const char *key, const char *key_file,
                         uint8_t pk[CF_SIGN_PK])
{
    if (!key == !key_file) {
        fprintf(stderr, "%s: give the broker's key once: --broker-key or --broker-key-file\n",
                prog);
        return CLI_USAGE;
    }
    if (key && cf_keys_b64_decode(key, pk) != 0) {
        fprintf(stderr, "%s: --broker-key is not a base64 Ed25519 public key (44 characters)\n",
                prog);
        return CLI_USAGE;
    }
    return key_file ? key_from_file(prog, key_file, pk) : CLI_OK;
}

int cli_audit_authority_key(const char *prog, const char *key, uint8_t pk[CF_SIGN_PK], bool *set)
{
    *set = key != NULL;
    if (key && cf_keys_b64_decode(key, pk) != 0) {
        fprintf(stderr, "%s: --authority-key is not a base64 Ed25519 public key\n", prog);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* ---- The calendars ---- */

struct calendars_key {
    char *out;
    size_t cap;
    bool found;
};

/* Takes `calendars` from [broker] and passes over every other key: the
 * broker checks its own file, this only needs the one path. */
static int calendars_key(void *user, const char *section, const char *key, const char *value,
                         unsigned line, struct cf_error *err)
{
    (void)line, (void)err;
    struct calendars_key *k = user;
    if (key && strcmp(section, "broker") == 0 && strcmp(key, "calendars") == 0) {
        snprintf(k->out, k->cap, "%s", value);
        k->found = true;
    }
    return 0;
}

int cli_audit_calendars(const char *prog, const char *dir, const char *broker_ini, char *out,
                        size_t cap)
{
    if (dir && broker_ini) {
        fprintf(stderr, "%s: give --calendars or --broker-config, not both\n", prog);
        return CLI_USAGE;
    }
    snprintf(out, cap, "%s", dir ? dir : CLI_AUDIT_CALENDARS);
    if (!broker_ini)
        return CLI_OK;
    struct calendars_key k = {out, cap, false};
    struct cf_error err = {0};
    if (cf_ini_parse_file(broker_ini, calendars_key, &k, &err) != 0) {
        fprintf(stderr, "%s: --broker-config: %s\n", prog, err.text);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* ---- A verified, replayed log ---- */

struct replay_hook {
    struct cf_replay *replay;
    struct cf_error err;
    bool failed;
};

/* Each leaf goes to the replay once logverify has checked it and its envelope. */
static int replay_leaf(void *ctx, struct cf_logverify *v, const struct cf_record *r,
                       const uint8_t *bytes, size_t len, const MDB_val *envelope)
{
    struct replay_hook *h = ctx;
    int rc = cf_replay_leaf(h->replay, bytes, len, envelope ? envelope->mv_data : NULL,
                            envelope ? envelope->mv_size : 0, &h->err);
    if (rc != 0) {
        h->failed = true;
        return cf_logverify_fail(v, rc, CF_LOGVERIFY_AT_INDEX, r->index, "%s", h->err.text);
    }
    return 0;
}

int cli_audit_log_open(const char *prog, const char *dir, const uint8_t pk[CF_SIGN_PK],
                       const struct cf_replay_options *o, struct cli_audit_log *log)
{
    memset(log, 0, sizeof *log);
    cf_logverify_init(&log->verify, pk);
    struct cf_error err = {0};
    if (cf_store_open(&log->store, dir, 0, true, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.text);
        return CLI_FAIL;
    }
    int mrc = mdb_txn_begin(log->store.env, NULL, MDB_RDONLY, &log->txn);
    if (mrc != 0) {
        log->txn = NULL;
        fprintf(stderr, "%s: %s: cannot read the log: %s\n", prog, dir, mdb_strerror(mrc));
        return CLI_FAIL;
    }
    if (cf_replay_new(o, &log->replay, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.text);
        return CLI_FAIL;
    }
    struct replay_hook hook = {.replay = log->replay};
    if (cf_logverify_store(&log->verify, &log->store, log->txn, replay_leaf, &hook) != 0) {
        if (hook.failed)
            fprintf(stderr, "%s: cannot replay the log: %s\n", prog, hook.err.text);
        else
            fprintf(stderr, "%s: the log does not verify: FAILED at %s\n", prog,
                    log->verify.failure);
        return CLI_FAIL;
    }
    return CLI_OK;
}

void cli_audit_log_close(struct cli_audit_log *log)
{
    cf_replay_destroy(&log->replay);
    if (log->txn)
        mdb_txn_abort(log->txn);
    log->txn = NULL;
    cf_logverify_fini(&log->verify);
    cf_store_close(&log->store);
}

int cli_audit_auditor_keys(const char *prog, const char *ini, struct cf_keys **keys)
{
    struct agent_config *cfg = malloc(sizeof *cfg);
    struct cf_error err = {0};
    int rc = cfg ? agent_config_load(ini, cfg, &err) : CF_ENOMEM;
    if (rc == 0)
        rc = cf_keys_load(cfg->key_file, keys, &err);
    free(cfg);
    if (rc != 0) {
        fprintf(stderr, "%s: -c %s: %s\n", prog, ini, err.text[0] ? err.text : cf_strerror(rc));
        return CLI_USAGE;
    }
    return CLI_OK;
}

enum cli_audit_read cli_audit_read_leaf(const struct cli_audit_log *log, const struct cf_keys *keys,
                                        uint64_t leaf, json_t **doc)
{
    MDB_val v;
    *doc = NULL;
    int rc = cf_store_envelope(&log->store, log->txn, leaf, &v);
    if (rc != 0)
        return rc == CF_ENOTFOUND ? CLI_AUDIT_REDACTED : CLI_AUDIT_UNREADABLE;
    struct cf_envelope env;
    struct cf_header h;
    uint8_t *payload = NULL;
    size_t len = 0;
    enum cli_audit_read out = CLI_AUDIT_UNREADABLE;
    memset(&env, 0, sizeof env);
    if (cf_envelope_decode(v.mv_data, v.mv_size, &env, &h, NULL) == 0) {
        rc = cf_envelope_open(&env, keys, &payload, &len);
        if (rc == CF_ENOTRECIPIENT)
            out = CLI_AUDIT_NOT_RECIPIENT;
        else if (rc == 0 && cf_message_document(&h, payload, len, doc, NULL) == 0)
            out = CLI_AUDIT_OPENED;
    }
    if (payload)
        sodium_memzero(payload, len);
    free(payload);
    cf_envelope_fini(&env);
    return out;
}

size_t cli_audit_findings(const char *prog, const struct cf_replay *r)
{
    size_t n = cf_replay_findings(r);
    for (size_t i = 0; i < n; i++) {
        const struct cf_replay_finding *f = cf_replay_finding_at(r, i);
        fprintf(stderr, "%s: FINDING at index %" PRIu64 "%s%s: %s (%s)\n", prog, f->index,
                f->case_id[0] ? ", case " : "", f->case_id, f->text, cf_error_name(f->code));
    }
    return n;
}

/* ---- audit verify ---- */

static void print_counts(const struct cf_logverify *v)
{
    printf("records: %" PRIu64 "\n", v->records);
    if (v->checkpoints > 0)
        printf("checkpoints: %" PRIu64 " (origin %s, newest size %" PRIu64 ")\n", v->checkpoints,
               v->origin, v->newest);
    else
        printf("checkpoints: 0\n");
    printf("consistency: %" PRIu64 " proofs, each checkpoint to the next\n", v->consistency);
    printf("redacted: %" PRIu64 " envelopes removed by retention\n", v->redacted);
    if (v->n_links > 0)
        printf("restores: %zu (each an origin leaf linking the new origin to the old)\n",
               v->n_links);
}

static int report(const char *prog, struct cf_logverify *v, int rc)
{
    print_counts(v);
    if (rc == 0) {
        char t[AGENT_TEXT_TIME_MAX];
        if (v->records > 0) {
            agent_text_time(v->first_time, t);
            printf("first: %s\n", t);
            agent_text_time(v->last_time, t);
            printf("last: %s\n", t);
        }
        printf("verified\n");
        return CLI_OK;
    }
    fflush(stdout);
    fprintf(stderr, "%s: FAILED at %s\n", prog, v->failure);
    return CLI_FAIL;
}

/* Everything is read in one read transaction: a consistent snapshot even
 * while the broker keeps writing. */
static int verify_store(const char *prog, const char *dir, const uint8_t pk[CF_SIGN_PK])
{
    struct cf_store store;
    struct cf_error err = {0};
    if (cf_store_open(&store, dir, 0, true, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.text);
        return CLI_FAIL;
    }
    MDB_txn *txn = NULL;
    int mrc = mdb_txn_begin(store.env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0) {
        fprintf(stderr, "%s: %s: cannot read the log: %s\n", prog, dir, mdb_strerror(mrc));
        cf_store_close(&store);
        return CLI_FAIL;
    }
    struct cf_logverify *v = malloc(sizeof *v);
    if (!v) {
        fprintf(stderr, "%s: out of memory\n", prog);
        mdb_txn_abort(txn);
        cf_store_close(&store);
        return CLI_FAIL;
    }
    cf_logverify_init(v, pk);
    int rc = report(prog, v, cf_logverify_store(v, &store, txn, NULL, NULL));
    cf_logverify_fini(v);
    free(v);
    mdb_txn_abort(txn);
    cf_store_close(&store);
    return rc;
}

static int verify_jsonl(const char *prog, const char *path, const uint8_t pk[CF_SIGN_PK])
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return CLI_FAIL;
    }
    struct cf_logverify *v = malloc(sizeof *v);
    int rc = CLI_FAIL;
    if (v) {
        cf_logverify_init(v, pk);
        rc = report(prog, v, cf_export_verify(f, v));
        cf_logverify_fini(v);
        free(v);
    } else {
        fprintf(stderr, "%s: out of memory\n", prog);
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

int cli_audit_verify(int argc, char **argv)
{
    static const char prog[] = "childfirst audit verify";
    static const struct option opts[] = {{"broker-key", required_argument, NULL, 'k'},
                                         {"broker-key-file", required_argument, NULL, 'f'},
                                         {"jsonl", required_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *key = NULL, *key_file = NULL, *jsonl = NULL;
    int c, repeated = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:f:j:h", opts, NULL)) != -1) {
        if (c == 'k')
            repeated += key != NULL, key = optarg;
        else if (c == 'f')
            repeated += key_file != NULL, key_file = optarg;
        else if (c == 'j')
            repeated += jsonl != NULL, jsonl = optarg;
        else if (c == 'h')
            return fputs(verify_help, stdout), CLI_OK;
        else
            return fputs(verify_help, stderr), CLI_USAGE;
    }
    if (optind != argc - (jsonl ? 0 : 1))
        return fputs(verify_help, stderr), CLI_USAGE;
    if (repeated) {
        fprintf(stderr, "%s: give each option once\n", prog);
        return CLI_USAGE;
    }
    uint8_t pk[CF_SIGN_PK];
    int rc = cli_audit_broker_key(prog, key, key_file, pk);
    if (rc != CLI_OK)
        return rc;
    return jsonl ? verify_jsonl(prog, jsonl, pk) : verify_store(prog, argv[optind], pk);
}

/* ---- The family ---- */

int cli_audit(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"verify", cli_audit_verify}, {"replay", cli_audit_replay}, {"export", cli_audit_export},
        {"prove", cli_audit_prove},   {"report", cli_audit_report}, {"follow", cli_audit_follow},
    };
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return fputs(family_help, stdout), CLI_OK;
    for (size_t i = 0; argc >= 2 && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    if (argc >= 2)
        fprintf(stderr, "childfirst audit: unknown command '%s'\n", argv[1]);
    fputs(family_help, stderr);
    return CLI_USAGE;
}
