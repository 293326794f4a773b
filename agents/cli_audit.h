/* The `childfirst audit` family: one file per subcommand beside cli_audit.c,
 * which dispatches, holds `verify` and what the others share. The work itself
 * is in common/; these files read options and print. */
#ifndef CF_CLI_AUDIT_H
#define CF_CLI_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "childfirst/keys.h"

int cli_audit_verify(int argc, char **argv);
int cli_audit_export(int argc, char **argv);

/* The broker's public key from --broker-key BASE64 or --broker-key-file FILE
 * (a bare key on a line, or a `sign_key =` / `broker_sign_key =` line):
 * exactly one of them. CLI_OK, or CLI_USAGE with a sentence on stderr. */
int cli_audit_broker_key(const char *prog, const char *key, const char *key_file,
                         uint8_t pk[CF_SIGN_PK]);

#endif
