/* childfirst keygen: makes an agency's, the broker's or the authority's secret
 * key file and prints the public part to paste into agencies.ini or a config. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "childfirst/keys.h"
#include "cli.h"

static const char help[] =
    "usage: childfirst keygen ID|broker|authority --out FILE\n"
    "\n"
    "Writes a new secret key file (mode 0600; never overwrites) and prints the\n"
    "public part:\n"
    "  ID          an agency: its [ID] section for agencies.ini (sign_key,\n"
    "              box_key, curve_key), three independently generated pairs\n"
    "  broker      the broker: sign_key and curve_key, for agent.ini's\n"
    "              broker_sign_key and broker_curve_key\n"
    "  authority   the directory authority: authority_key; keep the file offline\n";

int cli_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'o')
            out = optarg;
        else if (c == 'h')
            return fputs(help, stdout), CLI_OK;
        else
            return fputs(help, stderr), CLI_USAGE;
    }
    if (optind != argc - 1 || !out)
        return fputs(help, stderr), CLI_USAGE;
    const char *who = argv[optind];
    enum cf_key_kind kind = strcmp(who, "broker") == 0      ? CF_KEYS_BROKER
                            : strcmp(who, "authority") == 0 ? CF_KEYS_AUTHORITY
                                                            : CF_KEYS_AGENCY;
    struct cf_keys *keys = NULL;
    struct cf_error err = {0};
    char text[512];
    if (cf_keys_generate(kind, who, &keys, &err) != 0 || cf_keys_save(keys, out, &err) != 0) {
        fprintf(stderr, "childfirst keygen: %s\n", err.text);
        cf_keys_destroy(&keys);
        return CLI_FAIL;
    }
    int rc = cf_keys_public_text(keys, text, sizeof text);
    cf_keys_destroy(&keys);
    if (rc != 0)
        return fprintf(stderr, "childfirst keygen: %s\n", cf_strerror(rc)), CLI_FAIL;
    fputs(text, stdout);
    return CLI_OK;
}
