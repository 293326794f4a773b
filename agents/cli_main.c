/* childfirst: the command line for people and scripts. It dispatches to one
 * file per command family; the offline families (keygen, directory, audit)
 * need no agent. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "childfirst/log.h"
#include "cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"keygen", cli_keygen, "keygen ID|broker|authority --out FILE   make a secret key file"},
    {"directory", cli_directory,
     "directory sign --key AUTHORITY.key --serial N agencies.ini policy.ini"},
    {"refer", cli_refer,
     "refer FILE.json [-c agent.ini]           submit a referral, print its receipt"},
    {"send", cli_send, "send TYPE --case ID FILE.json [-c ...]  send a case message"},
    {"case", cli_case, "case ID [--json] [-c agent.ini]          timeline, state, deadlines"},
    {"inbox", cli_inbox,
     "inbox [--case ID] [--json] [-c agent.ini]  list what this agency received"},
    {"show", cli_show, "show MESSAGE_ID [--json] [-c agent.ini]   one received message, decrypted"},
    {"receipt", cli_receipt,
     "receipt RECEIPT.json -c agent.ini  prove a receipt in the newest checkpoint"},
    {"status", cli_status, "status [-c agent.ini]                    connection, outbox, log"},
    {"watch", cli_watch,
     "watch [--json] [-c agent.ini]            what arrives, live, until Ctrl-C"},
    {"audit", cli_audit, "audit verify DIR --broker-key BASE64|--broker-key-file FILE"},
};

static void usage(FILE *to)
{
    fprintf(to, "usage: childfirst COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(to, "  %s\n", commands[i].summary);
    fprintf(to, "\n'childfirst COMMAND --help' shows a command's options. See README.md.\n");
}

int main(int argc, char **argv)
{
    cf_log_init("childfirst", CF_LOG_WARN);
    if (sodium_init() < 0) {
        fprintf(stderr, "childfirst: libsodium failed to initialise\n");
        return CLI_FAIL;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "childfirst: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
