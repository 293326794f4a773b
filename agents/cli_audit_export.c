/* childfirst audit export: the log as JSON Lines on stdout (export.h has the
 * format), from one read snapshot, so the same log gives the same bytes. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "childfirst/export.h"
#include "childfirst/store.h"
#include "cli.h"
#include "cli_audit.h"

static const char help[] =
    "usage: childfirst audit export DIR > log.jsonl\n"
    "\n"
    "Writes the broker's log folder DIR (a state folder, a hot backup or a\n"
    "replica) as JSON Lines, from one read snapshot: a line naming the format\n"
    "and the counts, one line per leaf in index order (every record field, the\n"
    "header or notice decoded, the record's exact bytes in base64, its leaf\n"
    "hash, and whether its envelope is present or redacted), then one line per\n"
    "signed checkpoint. Keys are sorted and the JSON is compact, so the same\n"
    "log always gives the same bytes. Nothing is decrypted: the broker holds\n"
    "no child's details. Check an export with\n"
    "  childfirst audit verify --jsonl FILE --broker-key BASE64\n"
    "\n"
    "Exit status: 0 written; 1 the log cannot be read or a record does not\n"
    "decode (audit verify names the damage); 2 bad usage.\n";

int cli_audit_export(int argc, char **argv)
{
    static const char prog[] = "childfirst audit export";
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h')
            return fputs(help, stdout), CLI_OK;
        return fputs(help, stderr), CLI_USAGE;
    }
    if (optind != argc - 1)
        return fputs(help, stderr), CLI_USAGE;
    const char *dir = argv[optind];
    struct cf_store store;
    struct cf_error err = {0};
    if (cf_store_open(&store, dir, 0, true, &err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.text);
        return CLI_FAIL;
    }
    MDB_txn *txn;
    int mrc = mdb_txn_begin(store.env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0) {
        fprintf(stderr, "%s: %s: cannot read the log: %s\n", prog, dir, mdb_strerror(mrc));
        cf_store_close(&store);
        return CLI_FAIL;
    }
    int rc = cf_export_store(&store, txn, stdout, &err);
    mdb_txn_abort(txn);
    cf_store_close(&store);
    if (rc == 0 && fflush(stdout) != 0)
        rc = cf_error_set(&err, CF_EIO, "cannot write the export");
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.text);
        return CLI_FAIL;
    }
    return CLI_OK;
}
