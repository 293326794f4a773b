/* The `childfirst audit` family: one file per subcommand beside cli_audit.c,
 * which dispatches, holds `verify` and what the others share. The work itself
 * is in common/; these files read options and print. */
#ifndef CF_CLI_AUDIT_H
#define CF_CLI_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>

#include "childfirst/keys.h"
#include "childfirst/logverify.h"
#include "childfirst/replay.h"
#include "childfirst/store.h"

/* Where the calendars are when neither --calendars nor --broker-config says:
 * broker.ini's default, where deploy/calendars/ is installed. */
#define CLI_AUDIT_CALENDARS "/usr/share/childfirst/calendars"

int cli_audit_verify(int argc, char **argv);
int cli_audit_replay(int argc, char **argv);
int cli_audit_export(int argc, char **argv);
int cli_audit_prove(int argc, char **argv);
int cli_audit_report(int argc, char **argv);

/* The broker's public key from --broker-key BASE64 or --broker-key-file FILE
 * (a bare key on a line, or a `sign_key =` / `broker_sign_key =` line):
 * exactly one of them. CLI_OK, or CLI_USAGE with a sentence on stderr. */
int cli_audit_broker_key(const char *prog, const char *key, const char *key_file,
                         uint8_t pk[CF_SIGN_PK]);

/* An optional --authority-key BASE64 into pk; *set says whether it was given. */
int cli_audit_authority_key(const char *prog, const char *key, uint8_t pk[CF_SIGN_PK], bool *set);

/* The calendars folder: --calendars DIR, else the `calendars` key of
 * --broker-config FILE's [broker], else CLI_AUDIT_CALENDARS. CLI_OK, or
 * CLI_USAGE for both given or an unreadable broker.ini. */
int cli_audit_calendars(const char *prog, const char *dir, const char *broker_ini, char *out,
                        size_t cap);

/* An open log, checked and replayed in one read snapshot. */
struct cli_audit_log {
    struct cf_store store;
    MDB_txn *txn;
    struct cf_logverify verify;
    struct cf_replay *replay;
};

/* Opens DIR read-only, verifies it against pk (as `audit verify` does) and
 * replays every leaf with `o` in the same pass. On failure prints why on
 * stderr and returns CLI_FAIL; close with cli_audit_log_close either way. */
int cli_audit_log_open(const char *prog, const char *dir, const uint8_t pk[CF_SIGN_PK],
                       const struct cf_replay_options *o, struct cli_audit_log *log);
void cli_audit_log_close(struct cli_audit_log *log);

/* The keys of the escrow auditor whose agent.ini is `ini` (--decrypt -c).
 * CLI_OK, or CLI_USAGE with a sentence on stderr. Destroy with
 * cf_keys_destroy. */
int cli_audit_auditor_keys(const char *prog, const char *ini, struct cf_keys **keys);

/* What an auditor's key makes of the message at an accepted leaf. */
enum cli_audit_read {
    CLI_AUDIT_OPENED,        /* *doc holds the document its sender wrote */
    CLI_AUDIT_NOT_RECIPIENT, /* not sealed to this auditor */
    CLI_AUDIT_REDACTED,      /* retention removed the envelope */
    CLI_AUDIT_UNREADABLE     /* the envelope or payload does not decode */
};

/* Opens the envelope stored at `leaf` with `keys`. On CLI_AUDIT_OPENED the
 * caller owns *doc (json_decref); otherwise *doc is NULL. */
enum cli_audit_read cli_audit_read_leaf(const struct cli_audit_log *log, const struct cf_keys *keys,
                                        uint64_t leaf, json_t **doc);

/* Prints each replay finding on stderr; returns how many there are. */
size_t cli_audit_findings(const char *prog, const struct cf_replay *r);

#endif
