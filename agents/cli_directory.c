/* childfirst directory sign: the authority's offline step that binds
 * agencies.ini and policy.ini under a serial. Both files are parsed first, so a
 * broken directory is never signed. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "childfirst/directory.h"
#include "childfirst/ini.h"
#include "childfirst/keys.h"
#include "cli.h"

static const char help[] =
    "usage: childfirst directory sign --key AUTHORITY.key --serial N\n"
    "                                 agencies.ini policy.ini\n"
    "\n"
    "Checks both files, then writes agencies.ini.sig: the serial and the\n"
    "authority's signature over the serial and the BLAKE2b-256 of each file.\n"
    "Each new version needs a serial at least as high as the last one: agents\n"
    "refuse to go back.\n";

int cli_directory(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"serial", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *key = NULL, *serial_text = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:s:h", opts, NULL)) != -1) {
        if (c == 'k')
            key = optarg;
        else if (c == 's')
            serial_text = optarg;
        else if (c == 'h')
            return fputs(help, stdout), CLI_OK;
        else
            return fputs(help, stderr), CLI_USAGE;
    }
    if (optind != argc - 3 || strcmp(argv[optind], "sign") != 0 || !key || !serial_text)
        return fputs(help, stderr), CLI_USAGE;
    struct cf_error err = {0};
    unsigned long long serial;
    if (cf_ini_uint("--serial", serial_text, (1ull << 63), &serial, &err) != 0 || serial == 0) {
        fprintf(stderr, "childfirst directory sign: --serial must be a number from 1 to 2^63\n");
        return CLI_USAGE;
    }
    struct cf_keys *authority = NULL;
    int rc = cf_keys_load(key, &authority, &err);
    if (rc == 0 && authority->kind != CF_KEYS_AUTHORITY)
        rc = cf_error_set(&err, CF_EKEYFILE, "%s: not an authority key (made by keygen authority)",
                          key);
    if (rc == 0)
        rc = cf_directory_sign(argv[optind + 1], argv[optind + 2], authority, serial, &err);
    cf_keys_destroy(&authority);
    if (rc != 0) {
        fprintf(stderr, "childfirst directory sign: %s\n", err.text);
        return CLI_FAIL;
    }
    printf("signed %s and %s as serial %llu: %s.sig\n", argv[optind + 1], argv[optind + 2], serial,
           argv[optind + 1]);
    return CLI_OK;
}
