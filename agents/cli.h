/* The childfirst command line: one file per command family, dispatched from
 * cli_main.c. Each family's entry point gets the arguments after its name. */
#ifndef CHILDFIRST_CLI_H
#define CHILDFIRST_CLI_H

#include <stddef.h>
#include <stdio.h>

/* Exit codes shared by every command. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cli_keygen(int argc, char **argv);
int cli_directory(int argc, char **argv);
int cli_audit(int argc, char **argv);
/* `childfirst audit follow` (cli_follow.c). */
int cli_audit_follow(int argc, char **argv);
/* `childfirst receipt` (cli_receipt.c): a receipt proven in the newest checkpoint. */
int cli_receipt(int argc, char **argv);

/* Commands that talk to the local agent (cli_agent.c). */
int cli_refer(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_case(int argc, char **argv);
int cli_inbox(int argc, char **argv);
int cli_show(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_watch(int argc, char **argv); /* cli_watch.c */

/* Shared by the agent commands (cli_agent.c). */

/* Finds the agent's control socket through agent.ini (`config`, else
 * $CHILDFIRST_CONFIG, else /etc/childfirst/agent.ini) and connects: *fd is a
 * non-blocking socket the caller closes, its path in `path` (`cap` bytes).
 * CLI_OK, or CLI_FAIL with a sentence on stderr naming `who`. */
int cli_agent_connect(const char *who, const char *config, int *fd, char *path, size_t cap);

/* Writes `n` bytes of s with control characters (C0, DEL, and C1 in UTF-8)
 * shown as '?', a tab as a space and a carriage return dropped, so text from
 * another agency cannot drive the reader's terminal. Returns the characters
 * written (a UTF-8 sequence counts once), for padding columns. */
size_t cli_put_clean(FILE *f, const char *s, size_t n);

#endif
