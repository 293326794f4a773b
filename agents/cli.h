/* The childfirst command line: one file per command family, dispatched from
 * cli_main.c. Each family's entry point gets the arguments after its name. */
#ifndef CHILDFIRST_CLI_H
#define CHILDFIRST_CLI_H

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

#endif
